"""Issue 15, fleet health (SPEC 7, 12): the agent's heartbeat (hall_health, county 020)
carries the county and province backlogs, the records set aside, the downlink lag and the
hall's clock offset; the dashboard lists silent halls first, filters by period and draws
trends from the monthly summaries; GET /metrics answers Prometheus text to loopback only;
a hall's calls and views touch only its own rows (county 032).
A real county MariaDB, a real agent (run once by the tests), the province receiver killed
to make a province backlog."""

import os
import re
import unittest

from county import Agent, County, sql_str, submit_many
from harness import NO_LIMITS, Node, kill9_tree
from test_staff import Client, caseno

SKEW_MS = 90000


def parse_prometheus(text):
    """{(name, frozenset(labels)): value}; raises ValueError on a line that is not the
    text format (0.0.4): comments, then `name{label="v",...} number`."""
    out = {}
    line_re = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (-?[0-9.eE+]+|NaN)$')
    label_re = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)')
    for line in text.splitlines():
        if line == "" or line.startswith("# HELP ") or line.startswith("# TYPE "):
            continue
        m = line_re.match(line)
        if not m:
            raise ValueError("not Prometheus text: %r" % line)
        labels, rest = {}, m.group(3) or ""
        while rest:
            lm = label_re.match(rest)
            if not lm:
                raise ValueError("bad labels: %r" % line)
            labels[lm.group(1)] = lm.group(2)
            rest = rest[lm.end():]
        out[(m.group(1), frozenset(labels.items()))] = float(m.group(4))
    return out


class FleetTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.node = Node("fleet", county=True, agent=False, staff=True, province=True)
        cls.node.start(NO_LIMITS)
        cls.county = County(cls.node)
        cls.agent = Agent(cls.node, env={"HALL_AGENT_FAULT_CLOCK_SKEW_MS": str(SKEW_MS)})
        env = cls.node.run_env()
        cls.user, cls.password = env["STAFF_USER"], env["STAFF_PASSWORD"]

    @classmethod
    def tearDownClass(cls):
        cls.agent.cleanup()
        cls.node.stop()
        cls.node.cleanup()

    def hall(self, cols):
        return self.county.rows("SELECT %s FROM halls WHERE hall_code = %s"
                                % (cols, sql_str(self.county.hall_code)))[0]

    def kill_province(self):
        pid = self.node.pid("province-receiver")
        self.assertIsNotNone(pid)
        self.assertTrue(kill9_tree(pid))

    def signed_in(self):
        c = Client(self.node.staff_port)
        self.assertEqual(c.login(self.user, self.password).status, 303)
        return c

    # ---- 1. the heartbeat ----------------------------------------------------------------
    def test_a_heartbeat_carries_backlogs_quarantine_lag_and_clock(self):
        county = self.county
        self.kill_province()
        county.sql("ALTER TABLE cases MODIFY subject VARCHAR(20) NOT NULL")
        try:
            submit_many(self.node, 2, "短")
            submit_many(self.node, 1, label="这个标题比县级数据库的列宽更长一些" * 2)
            self.agent.once()
        finally:
            county.sql("ALTER TABLE cases MODIFY subject VARCHAR(400) NOT NULL")
        backlog, quarantined, pbacklog, pquar, pending, lag, clock, version, health = \
            self.hall("backlog, quarantined, province_backlog, province_quarantined, "
                      "downlink_pending, downlink_lag_s, clock_offset_ms, agent_version, "
                      "health_at")
        self.assertIsNotNone(health, "no hall_health call arrived")
        self.assertEqual(int(backlog), 0)
        self.assertEqual(int(quarantined), 1)
        self.assertGreaterEqual(int(pbacklog), 3, "the province is down: all records wait")
        self.assertEqual(int(pquar), 0)
        self.assertEqual((int(pending), int(lag)), (0, 0), "the pass pulled everything")
        self.assertLess(abs(int(clock) - SKEW_MS), 3000, clock)
        self.assertTrue(version)
        # a downlink item still waiting 100 s when the hall reports: the lag the county sees
        county.sql("INSERT INTO downlink (hall_code, kind, ref, created_at) VALUES "
                   "(%s, 'zz', 'x', NOW() - INTERVAL 100 SECOND)" % sql_str(county.hall_code))
        try:
            county.sql("CALL hall_health(0, 0, NULL, NULL, NULL, 'x')", account="hall")
            pending, lag, pbacklog = self.hall("downlink_pending, downlink_lag_s, "
                                               "province_backlog")
            self.assertEqual(int(pending), 1)
            self.assertGreaterEqual(int(lag), 100)
            self.assertIsNone(pbacklog, "no province: NULL, not 0")
        finally:
            county.sql("DELETE FROM downlink WHERE kind = 'zz'")

    def test_b_old_county_without_hall_health_falls_back(self):
        county = self.county
        county.sql("UPDATE halls SET health_at = NULL, last_contact_at = NULL "
                   "WHERE hall_code = %s" % sql_str(county.hall_code))
        county.sql("REVOKE EXECUTE ON PROCEDURE hall_health FROM hall_agent")
        try:
            self.agent.once()    # the province is down: the exit code says so
            health, contact = self.hall("health_at, last_contact_at")
            self.assertIsNone(health)
            self.assertIsNotNone(contact, "hall_hello still reports the contact")
            self.assertIn("no hall_health", self.agent.log_tail())
        finally:
            county.sql("GRANT EXECUTE ON PROCEDURE hall_health TO hall_agent")

    def test_b_lost_appointment_grants_still_answer_and_say_so(self):
        """The downlink reads its six views in one multi-statement; when the hall's account
        cannot read the appointments' (grants lost at the county) the server stops at the
        first of them: the answers, read before it, still come down, and the agent says
        which view it could not read (it once passed over it in silence)."""
        county, node = self.county, self.node
        rc = submit_many(node, 1, label="旧县库")[0]
        self.agent.once()    # the province is down: the exit code says so
        county.sql("REVOKE SELECT ON my_schedules FROM hall_agent")
        county.sql("REVOKE SELECT ON my_appt_events FROM hall_agent")
        try:
            county.answer(rc["case_no"], "answered", "旧县库的答复")
            self.agent.once()
            doc = node.lookup(rc["case_no"], rc["query_code"]).json()
            self.assertEqual(doc["status"], "answered", self.agent.log_tail())
            self.assertIn("my_schedules", self.agent.log_tail())
            self.assertIn("my_schedules", self.agent.dest_status())
        finally:
            county.sql("GRANT SELECT ON my_schedules TO hall_agent")
            county.sql("GRANT SELECT ON my_appt_events TO hall_agent")

    # ---- 2. the dashboard ----------------------------------------------------------------
    def setup_county_177(self):
        halls = [("430177001000", "NOW() - INTERVAL 2 HOUR"), ("430177002000", "NULL"),
                 ("430177003000", "NOW()")]
        for code, contact in halls:
            self.county.sql(
                "INSERT IGNORE INTO halls (hall_code, name, county_code, db_user, "
                "last_contact_at, backlog, province_backlog, quarantined, downlink_pending, "
                "downlink_lag_s, clock_offset_ms, agent_version) VALUES (%s, %s, '430177', %s, "
                "%s, 7, 5, 2, 3, 40, -1500, '9.9.9')"
                % (sql_str(code), sql_str("大厅" + code[-4:]), sql_str("f_" + code), contact))
        for i, (month, hall) in enumerate([("2025-03-10", "430177003000"),
                                           ("2025-03-12", "430177003000"),
                                           ("2025-11-02", "430177001000")]):
            no = caseno(hall, 7000 + i)
            self.county.sql(
                "INSERT IGNORE INTO cases (case_no, id, hall_code, kind, subject, body, phone, "
                "channel, submitted_at, due_at) VALUES (%s, %s, %s, 'consultation', '测', '测', "
                "'13800000000', 'phone', %s, %s + INTERVAL 3 DAY)"
                % (sql_str(no), sql_str("f-" + no), sql_str(hall), sql_str(month),
                   sql_str(month)))
        return self.signed_in_177()

    def signed_in_177(self):
        import test_staff
        pw = os.path.join(self.node.var, "staff-177.pw")
        with open(pw, "w") as f:
            f.write("correct-horse-battery\n")
        import subprocess
        p = subprocess.run([test_staff.STAFF_CONSOLE, "-c",
                            os.path.join(self.node.var, "staff", "staff.ini"), "add-user",
                            "fleet177", "430177", "staff", pw], capture_output=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout)
        c = Client(self.node.staff_port)
        self.assertEqual(c.login("fleet177", "correct-horse-battery").status, 303)
        return c

    def test_c_dashboard_silent_first_and_period(self):
        c = self.setup_county_177()
        r = c.get("/dashboard")
        self.assertEqual(r.status, 200)
        t = r.text
        silent = re.findall(r'<tr data-silent="(\d+)"', t)
        self.assertEqual(silent, ["430177002000", "430177001000"], "never, then longest silent")
        self.assertIn('id="silent-count">2<', t)
        row = re.search(r'<tr data-silent="430177001000">(.*?)</tr>', t).group(1)
        for want in ("7", "5", "3 条 / 40 秒", "-1.5 秒", "9.9.9", "小时前"):
            self.assertIn(want, row)
        halls = re.findall(r'<tr data-hall="(\d+)"', t)
        self.assertEqual(halls[:2], silent, "the table of all halls: silent first")
        # the period filter, from the monthly summaries
        for query, total in (("period=month&at=2025-03", "2"), ("period=quarter&at=2025-02", "2"),
                             ("period=year&at=2025-06", "3"), ("period=month&at=2025-04", "0")):
            t = c.get("/dashboard?" + query).text
            self.assertIn('id="period-total">%s<' % total, t, query)
        t = c.get("/dashboard?period=year&at=2025-06").text
        self.assertIn('data-from="2025-01-01" data-to="2026-01-01"', t)
        self.assertRegex(t, r'data-month="2025-03" data-value="2"')
        self.assertRegex(t, r'data-month="2025-11" data-value="1"')
        self.assertLess(len(t.encode("utf-8")), 100 * 1024)
        # the summaries follow a transfer: the case counts where it is handled
        chan = re.search(r'data-channel="phone"><td>[^<]*</td><td class="num">(\d+)', t)
        self.assertEqual(chan.group(1), "3")

    # ---- 3. /metrics -------------------------------------------------------------------
    def test_d_metrics_are_prometheus_text_for_loopback_only(self):
        self.setup_county_177()
        c = Client(self.node.staff_port)
        r = c.get("/metrics")
        self.assertEqual(r.status, 200, r.text[:300])
        self.assertTrue(r.getheader("Content-Type").startswith("text/plain; version=0.0.4"))
        m = parse_prometheus(r.text)

        def v(name, **labels):
            return m[(name, frozenset(labels.items()))]

        h = dict(county="430177", hall="430177001000")
        self.assertEqual(v("hall_county_backlog_records", **h), 7)
        self.assertEqual(v("hall_province_backlog_records", **h), 5)
        self.assertEqual(v("hall_county_quarantined_records", **h), 2)
        self.assertEqual(v("hall_downlink_lag_seconds", **h), 40)
        self.assertEqual(v("hall_downlink_pending_items", **h), 3)
        self.assertEqual(v("hall_clock_offset_seconds", **h), -1.5)
        self.assertGreaterEqual(v("hall_last_contact_age_seconds", **h), 7200 - 5)
        self.assertEqual(v("hall_silent", **h), 1)
        self.assertEqual(v("hall_silent", county="430177", hall="430177003000"), 0)
        self.assertEqual(v("hall_silent", county="430177", hall="430177002000"), 1)
        self.assertEqual(v("hall_agent_info", version="9.9.9", **h), 1)
        self.assertNotIn(("hall_last_contact_age_seconds", frozenset(
            dict(county="430177", hall="430177002000").items())), m, "never: no sample")
        self.assertTrue(any(k[0] == "county_cases_open" for k in m))
        # the silent threshold is the county's setting
        self.county.sql("INSERT INTO county_settings (name, value) VALUES "
                        "('silent_after_minutes:430177', '600') "
                        "ON DUPLICATE KEY UPDATE value = '600'")
        try:
            m = parse_prometheus(c.get("/metrics").text)
            self.assertEqual(v("hall_silent", **h), 0)
        finally:
            self.county.sql("DELETE FROM county_settings "
                            "WHERE name = 'silent_after_minutes:430177'")
        # from another address (still this machine, but not 127.0.0.1): nginx refuses
        r = Client(self.node.staff_port, source="127.0.0.2").get("/metrics")
        self.assertEqual(r.status, 403)
        self.assertNotIn("hall_", r.text)
        # the parser can fail
        with self.assertRaises(ValueError):
            parse_prometheus("hall_x{county=\"1\" 3\n")

    # ---- 4. the summaries' changes fold without changing a figure ------------------------
    def test_e_summaries_fold_into_totals_and_no_row_is_hot(self):
        """County 024: the triggers insert a row per change (no two writers on one summary
        row); county-admin purge folds them into the totals; every figure stays."""
        self.setup_county_177()
        figures = ("SELECT county_code, hall_key, month, SUM(submitted), SUM(closed), "
                   "SUM(on_time), SUM(ratings), SUM(satisfied), SUM(ch_phone) "
                   "FROM hall_month_stats GROUP BY 1, 2, 3 ORDER BY 1, 2, 3")
        before = self.county.rows(figures)
        self.assertTrue(before)
        self.assertGreater(self.county.count("hall_month_deltas"), 0)
        # two open transactions on two cases of one hall both write their summaries
        a, b = [caseno("430177003000", 7100 + i) for i in range(2)]
        for no in (a, b):
            self.county.sql(
                "INSERT IGNORE INTO cases (case_no, id, hall_code, kind, subject, body, phone, "
                "channel, submitted_at, due_at) VALUES (%s, %s, '430177003000', "
                "'consultation', '测', '测', '13800000000', 'phone', NOW(), "
                "NOW() + INTERVAL 3 DAY)" % (sql_str(no), sql_str("f-" + no)))
        sa, sb = self.county.session(), self.county.session()
        try:
            sa.run("BEGIN")
            sa.run("UPDATE cases SET status = 'answered' WHERE case_no = %s" % sql_str(a))
            sb.run("SET SESSION innodb_lock_wait_timeout = 3")
            sb.run("BEGIN")
            sb.run("UPDATE cases SET status = 'answered' WHERE case_no = %s" % sql_str(b))
            sb.run("COMMIT")
            sa.run("COMMIT")
        finally:
            sa.close()
            sb.close()
        before = self.county.rows(figures)
        env_ini = os.path.join(self.node.var, "county", "county.ini")
        import subprocess
        from county import COUNTY_ADMIN
        p = subprocess.run([COUNTY_ADMIN, "-c", env_ini, "purge", "36500"],
                           capture_output=True, timeout=120, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout, r"county: [1-9]\d* summary change\(s\) folded")
        self.assertEqual(self.county.count("hall_month_deltas"), 0)
        self.assertEqual(self.county.rows(figures), before)
        # a second run folds nothing and changes nothing
        p = subprocess.run([COUNTY_ADMIN, "-c", env_ini, "purge", "36500"],
                           capture_output=True, timeout=120, text=True)
        self.assertIn("county: 0 summary change(s) folded", p.stdout)
        self.assertEqual(self.county.rows(figures), before)

    # ---- 5. one hall never waits on another ----------------------------------------------
    def test_f_a_hall_reads_and_locks_only_its_own_rows(self):
        """County 032: hall_self() is taken once a statement, so a hall's calls find its own
        halls row and its own downlink rows by index. Before, MariaDB called it for every
        row: hall_quarantined locked every hall's row (300 halls reconnecting queued behind
        one another until "Lock wait timeout exceeded"), and the views read every hall's
        downlink."""
        county = self.county
        other = "430121009000"
        county.add_hall(other, "长沙县第九街道政务服务中心")
        # the agent's calls of a pass, while another hall's work holds that hall's row
        held = county.session()
        try:
            held.run("BEGIN")
            held.run("SELECT quarantined FROM halls WHERE hall_code = %s FOR UPDATE"
                     % sql_str(other))
            ok, out, err = county.try_sql(
                "SET SESSION innodb_lock_wait_timeout = 2; CALL hall_quarantined(0); "
                "CALL hall_hello('{}', 0, 'x'); CALL hall_health(0, 0, NULL, NULL, NULL, 'x');",
                account="hall")
            self.assertTrue(ok, "the hall waited on another hall's row: " + err)
        finally:
            held.run("ROLLBACK")
            held.close()
        # the views a hall reads, with 5,000 downlink rows of another hall beside its own
        county.sql("INSERT INTO downlink (hall_code, kind, ref) SELECT %s, 'zz', seq "
                   "FROM seq_1_to_5000" % sql_str(other))
        try:
            reads = ("SELECT SUM(VARIABLE_VALUE) FROM information_schema.SESSION_STATUS "
                     "WHERE VARIABLE_NAME IN ('HANDLER_READ_NEXT', 'HANDLER_READ_RND_NEXT');")
            views = ("my_events", "my_guides", "my_calendars", "my_orphans", "my_schedules",
                     "my_appt_events", "my_streams")
            out = county.sql(reads + reads + "".join("SELECT count(*) FROM %s;" % v
                                                     for v in views) + reads,
                             account="hall").split()
            first, second, last = int(out[0]), int(out[1]), int(out[-1])
            rows = (last - second) - (second - first)    # less reading the status itself
            self.assertLess(rows, 1000, "the hall's views read %d rows" % rows)
        finally:
            county.sql("DELETE FROM downlink WHERE kind = 'zz'")


if __name__ == "__main__":
    unittest.main()
