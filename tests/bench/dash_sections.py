"""Issue 15: the dashboard per section at a county's size. Loads 300 halls and CASES
synthetic cases (default 300000; with their SMS notices, ratings, 差评 follow-ups and
appointments) by INSERT ... SELECT from seq_1_to_N, then prints: each dashboard statement's
time with its values bound (the statements of this tree and, for comparison, the ones the
dashboard ran before sql/county/025), the page's median and max over REQS requests
(default 20) and its KB per section. Run from the tree:
E2E_PORT_BASE=29100 B=build python3 tests/bench/dash_sections.py
DASH_VAR=<a node's VAR> measures a county already up (DASH_REST=1: with load()'s last steps).
"""
import os, re, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
from county import County, sql_str
from harness import NO_LIMITS, Node
from test_staff import Client

N = int(os.environ.get("CASES", "300000"))
REQS = int(os.environ.get("REQS", "20"))
C = "'430121'"


def load_rest(county, n):
    """What load() does after the cases and ratings: the notices' states, the follow-ups
    closed, the appointments; then the folds."""
    county.sql("UPDATE notifications SET state = IF(case_no LIKE '%%77', 'failed', 'sent'), "
               "sent_at = IF(case_no LIKE '%%77', NULL, created_at) WHERE case_no LIKE 'B%%' AND "
               "CAST(SUBSTRING(case_no, 2) AS UNSIGNED) <= %d" % (n - 500), timeout=3600)
    county.sql("UPDATE rating_followups SET closed_at = LEAST(NOW(), opened_at + INTERVAL 3 DAY), closed_by = 'x' WHERE case_no LIKE 'B%' "
               "AND CAST(SUBSTRING(case_no, 2) AS UNSIGNED) % 10 <> 0", timeout=3600)
    county.sql("INSERT INTO appointments (appointment_no, id, hall_code, item, date, start, `end`, phone, status, booked_at) "
               "SELECT CONCAT('A', seq), CONCAT('a-', seq), CONCAT('430121', LPAD(1 + seq % 300, 3, '0'), '000'), 'x', "
               "CURDATE() - INTERVAL 30 DAY + INTERVAL (seq DIV 6000) DAY, '09:00', '09:30', '13800000000', "
               "ELT(1 + seq % 7, 'booked','confirmed','attended','attended','no_show','refused','cancelled'), NOW() "
               "FROM seq_1_to_240000", timeout=3600)
    # as the daily county-admin purge does: the summaries' changes folded into their totals
    for proc in ("hall_stats_fold", "appt_day_fold"):
        while int(county.rows("CALL %s(100000)" % proc, timeout=3600)[-1][0]) == 100000:
            pass


class _Db:
    """county_gen's trigger helpers over a County (its mariadb client)."""

    def __init__(self, county):
        self.county = county

    def run(self, sql, timeout=3600):
        return self.county.sql(sql, timeout=timeout)

    def rows(self, sql):
        return self.county.rows(sql, timeout=3600)


def load(county, n=N):
    """300 halls (every 37th silent), n cases over five years (1% open), one SMS notice a
    case, a rating every third case (差评 open follow-ups), 40 days of appointments (20 a
    hall a day).

    As a county moving from another system would load them: the insert triggers of cases
    and ratings set aside (a million cases through them took over half an hour, most of it
    the search tokens the dashboard never reads), the rows they would have made written
    directly (the notice, the follow-ups), then the dashboard's summaries made from the
    rows once (dashboard_rebuild, sql/county/028) and the triggers put back. The county
    has no search tokens for these cases."""
    from county_gen import drop_triggers, restore_triggers, save_triggers
    db = _Db(county)
    county.sql("INSERT IGNORE INTO halls (hall_code, name, county_code, db_user, last_contact_at, backlog, agent_version) "
               "SELECT CONCAT('430121', LPAD(seq, 3, '0'), '000'), CONCAT('大厅', seq), '430121', CONCAT('b_', seq), "
               "IF(seq % 37 = 0, NOW() - INTERVAL 3 HOUR, NOW()), seq % 50, '0.9.0' FROM seq_2_to_300", timeout=600)
    saved = save_triggers(db, ("cases", "ratings"), ("INSERT",))
    drop_triggers(db, saved)
    try:
        step = 100000
        for lo in range(1, n + 1, step):
            hi = min(n, lo + step - 1)
            hall = "CONCAT('430121', LPAD(1 + seq % 300, 3, '0'), '000')"
            county.sql(
                "INSERT INTO cases (case_no, id, hall_code, kind, subject, body, phone, channel, submitted_at, due_at, status, "
                "handler_county, handler_hall) "
                "SELECT CONCAT('B', seq), CONCAT('b-', seq), %s, 'consultation', "
                "CONCAT('咨询事项', seq), '内容', '13800000000', ELT(1 + seq %% 5, 'online','window','phone','letter','email'), "
                "NOW() - INTERVAL (seq %% 1800) DAY, NOW() - INTERVAL (seq %% 1800) DAY + INTERVAL 3 DAY, "
                "IF(seq %% 100 = 0, 'accepted', 'answered'), '430121', %s FROM seq_%d_to_%d;"
                # cases_notice (sql/county/015): the case reached the county
                "INSERT INTO notifications (id, case_no, hall_code, event, channel, to_addr, ref) "
                "SELECT UUID(), CONCAT('B', seq), %s, 'delivered', 'sms', '13800000000', CONCAT('case:B', seq) "
                "FROM seq_%d_to_%d;"
                "INSERT INTO ratings (id, case_no, hall_code, level, at) SELECT CONCAT('r', seq), CONCAT('B', seq), "
                "%s, 1 + seq %% 5, NOW() - INTERVAL (seq %% 1800) DAY FROM seq_%d_to_%d WHERE seq %% 3 = 0;"
                # ratings_followup (sql/county/006): a 差评 (level 1 or 2) opens a follow-up
                # when it is given, due a week later
                "INSERT INTO rating_followups (case_no, rating_id, hall_code, level, opened_at, due_at) "
                "SELECT CONCAT('B', seq), CONCAT('r', seq), %s, 1 + seq %% 5, NOW() - INTERVAL (seq %% 1800) DAY, "
                "NOW() - INTERVAL (seq %% 1800) DAY + INTERVAL 7 DAY "
                "FROM seq_%d_to_%d WHERE seq %% 3 = 0 AND 1 + seq %% 5 <= 2;"
                % (hall, hall, lo, hi, hall, lo, hi, hall, lo, hi, hall, lo, hi),
                timeout=3600)
    finally:
        restore_triggers(db, saved)
    county.sql("CALL dashboard_rebuild()", timeout=3600)
    # most notices sent long ago, some given up, the newest 500 still waiting
    load_rest(county, n)


# The statements as they are run, values bound: (name, sql). The page's own: BEFORE (the
# dashboard before sql/county/025) and AFTER (this tree's); both run on the same data.
PER = ("'2025-12-01'", "'2026-12-01'")
BEFORE = [
    ("halls", "SELECT hall_code, name, UNIX_TIMESTAMP(last_contact_at), backlog FROM halls WHERE county_code = %s ORDER BY hall_code" % C),
    ("stats", "SELECT hall_key, SUM(submitted), SUM(closed), SUM(on_time), SUM(ratings), SUM(satisfied) FROM hall_month_stats WHERE county_code = %s AND month >= %s AND month < %s GROUP BY hall_key" % (C, PER[0], PER[1])),
    ("open", "SELECT COALESCE(c.handler_hall, c.handler_county), count(*), SUM(c.due_at < NOW()), SUM(c.due_at >= NOW() AND DATE(c.due_at) = CURDATE()), SUM(c.due_at < NOW() AND c.submitted_at >= %s AND c.submitted_at < %s) FROM cases c WHERE c.handler_county = %s AND c.status IN ('received','delivered','accepted','transferred') GROUP BY 1" % (PER[0], PER[1], C)),
    ("followups", "SELECT COALESCE(c.handler_hall, c.handler_county), SUM(f.closed_at IS NULL), SUM(f.closed_at IS NULL AND f.due_at < NOW()), SUM(f.closed_at IS NOT NULL) FROM rating_followups f JOIN cases c ON c.case_no = f.case_no WHERE c.handler_county = %s GROUP BY 1" % C),
    ("notices(sms)", "SELECT SUM(n.state = 'pending'), TIMESTAMPDIFF(SECOND, MIN(IF(n.state = 'pending', n.created_at, NULL)), NOW(6)), SUM(n.state = 'sent' AND n.sent_at >= NOW() - INTERVAL 1 DAY), SUM(n.state = 'failed') FROM notifications n WHERE n.channel = 'sms' AND n.hall_code LIKE CONCAT(%s, '%%')" % C),
    ("notice_error(sms)", "SELECT n.last_error FROM notifications n WHERE n.channel = 'sms' AND n.last_error_at IS NOT NULL AND n.last_error IS NOT NULL AND n.hall_code LIKE CONCAT(%s, '%%') ORDER BY n.last_error_at DESC LIMIT 1" % C),
    ("appointments", "SELECT h.hall_code, h.name, COUNT(a.appointment_no), COALESCE(SUM(a.date >= CURDATE() AND a.status IN ('booked', 'confirmed')), 0), COALESCE(SUM(a.status = 'attended'), 0), COALESCE(SUM(a.status = 'no_show'), 0), COALESCE(SUM(a.status = 'refused'), 0), (SELECT COUNT(*) FROM appointment_conflicts c WHERE c.hall_code = h.hall_code) FROM halls h LEFT JOIN appointments a ON a.hall_code = h.hall_code AND a.date >= CURDATE() - INTERVAL 30 DAY WHERE h.county_code = %s GROUP BY h.hall_code, h.name ORDER BY h.hall_code" % C),
]


def after_statements():
    """This tree's statements, read from the sources' DASH_BENCH comments is too clever:
    they are listed in tests/bench/dash_after.sql, one a line, '-- name' before each."""
    path = os.path.join("tests", "bench", "dash_after.sql")
    if not os.path.exists(path):
        return []
    out, name = [], None
    for line in open(path, encoding="utf-8"):
        line = line.strip()
        if line.startswith("-- "):
            name = line[3:]
        elif line:
            out.append((name, line.replace("?county", C).replace("?from", PER[0]).replace("?to", PER[1])))
    return out


def timed(county, stmts, reps=3):
    script = []
    for name, q in stmts:
        for _ in range(reps):
            script.append("SET @t = NOW(6); %s; SELECT 'T', '%s', TIMESTAMPDIFF(MICROSECOND, @t, NOW(6));" % (q, name))
    out = county.sql("\n".join(script), timeout=3600)
    res = {}
    for line in out.split("\n"):
        f = line.split("\t")
        if len(f) == 3 and f[0] == "T":
            res.setdefault(f[1], []).append(int(f[2]) / 1000.0)
    for name, _ in stmts:
        xs = sorted(res.get(name, [0]))
        print("  sql %-22s median %7.1f ms  max %7.1f ms" % (name, xs[len(xs) // 2], xs[-1]))


def sections(html):
    """KB per section: the text from one <h2> to the next (the head: before the first)."""
    parts = re.split(r"(?=<h2>)", html)
    for p in parts:
        m = re.match(r"<h2>([^<]*)</h2>", p)
        print("  %-24s %6.1f KB" % (m.group(1) if m else "(head, cards)", len(p.encode()) / 1024))


def existing(var):
    """A county already up in VAR (DASH_VAR): measured as it is, left running."""
    import types
    env = dict(line.strip().split("=", 1) for line in open(os.path.join(var, "run.env"))
               if "=" in line)
    node = types.SimpleNamespace(county=True, var=var, county_port=int(env["COUNTY_DB_PORT"]),
                                 ca_path=env["COUNTY_DB_SSL_CA"],
                                 ini=lambda: {"hall": {"code": "430121001000"}},
                                 staff_port=int(env["STAFF_URL"].rsplit(":", 1)[1]),
                                 run_env=lambda: env, stop=lambda: None, cleanup=lambda: None)
    return node


def main():
    if os.environ.get("DASH_VAR"):
        node = existing(os.environ["DASH_VAR"])
    else:
        node = Node("dashsect", county=True, agent=False, staff=True)
        node.start(NO_LIMITS)
    try:
        county = County(node)
        env = node.run_env()
        t0 = time.time()
        if os.environ.get("DASH_VAR") and os.environ.get("DASH_REST"):
            n = int(county.scalar("SELECT COUNT(*) FROM cases"))
            load_rest(county, n)
        elif not os.environ.get("DASH_VAR"):
            load(county)
        print("load %.0f s: %s cases, %s notifications, %s follow-ups, %s appointments" % (
            time.time() - t0, county.scalar("SELECT COUNT(*) FROM cases"),
            county.scalar("SELECT COUNT(*) FROM notifications"),
            county.scalar("SELECT COUNT(*) FROM rating_followups"),
            county.scalar("SELECT COUNT(*) FROM appointments")))
        c = Client(node.staff_port)
        assert c.login(env["STAFF_USER"], env["STAFF_PASSWORD"]).status == 303
        c.get("/dashboard")
        for q in ("", "?period=month", "?period=year&page=3"):
            ts = []
            for _ in range(REQS):
                t = time.time()
                r = c.get("/dashboard" + q)
                ts.append((time.time() - t) * 1000)
                assert r.status == 200, r.status
            ts.sort()
            print("dashboard%s: median %.0f ms, max %.0f ms, %.1f KB" % (
                q, ts[len(ts) // 2], ts[-1], len(r.text.encode()) / 1024))
            if q == "":
                sections(r.text)
        print("statements before 025:")
        timed(county, BEFORE)
        after = after_statements()
        if after:
            print("statements now:")
            timed(county, after)
    finally:
        node.stop()
        node.cleanup()


if __name__ == "__main__":
    main()
