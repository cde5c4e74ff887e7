"""SPEC 11: personal data at the hall and the county, end to end.

A hall with its own county MariaDB and reference province receiver (conf/demo with COUNTY=1,
PROVINCE=1, the demo's hall-agent daemon) and [retention] days = 0. Cases with distinctive
names, phones and e-mails are delivered to both, closed at the county (a county system
answers, then resolves or rejects) and the status comes down. Then:

- hall-agent minimizes them on its own: name, full phone and e-mail leave the case, the
  outbox keeps only id and hash (the same SHA-256 the county's ledger holds); the progress
  lookup still works;
- `hall-admin purge` deletes them; the name, phone and e-mail bytes are absent from every
  table and from the raw bytes of hall.db and hall.db-wal, where they were before;
- `county-admin purge 0` deletes them at the county;
- an open case and a case the province has not taken are never minimized nor purged;
- the county keeps a closed case until its hall has taken the last event;
- the county's records ledger holds no payload, also of rows it held before 012;
- at a county's size (sql/county/027) `county_purge` takes its candidates from the index
  cases_purge (status, closed_at), oldest first: a batch reads about its LIMIT of cases,
  not every closed case, whether there is much to purge or nothing; 027 gives closed_at to
  a closed case that lacks it.

Python 3 standard library only.
"""

import hashlib
import json
import os
import signal
import subprocess
import time
import unittest

from county import COUNTY_ADMIN, County, hall_rows, hall_scalar, sql_str, wait_until
from harness import BUILD, NO_LIMITS, ROOT, Form, Node, wait_gone

HALL_ADMIN = os.path.join(ROOT, BUILD, "hall-admin")
RETENTION = NO_LIMITS + "\n[retention]\ndays = %d\n"


def person(tag, i):
    """A citizen no other test data contains: name, phone, e-mail."""
    return {"name": "欧阳%s%s" % (tag, "甲乙丙丁戊"[i]),
            "phone": "1390%03d%04d" % (os.getpid() % 1000, 7000 + i),
            "email": "pipl-%d-%d@example.cn" % (os.getpid(), i)}


def file_bytes(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return b""


def store_bytes(node):
    """The raw bytes of hall.db and hall.db-wal (what a copy of the files would give)."""
    return file_bytes(node.db_path) + file_bytes(node.db_path + "-wal")


def every_row_text(node):
    """Every value of every table of the hall store, as one text."""
    con = node.db()
    try:
        tables = [r[0] for r in con.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")]
        parts = []
        for t in tables:
            for row in con.execute('SELECT * FROM "%s"' % t):
                parts.append(" ".join("" if v is None else str(v) for v in row))
        return "\n".join(parts)
    finally:
        con.close()


class RetentionTest(unittest.TestCase):
    def node_up(self, name, days=0):
        node = Node("pipl-" + name, county=True, province=True)
        self.addCleanup(node.cleanup)
        node.start(RETENTION % days)
        self.assertIsNotNone(node.pid("hall-agent"), "conf/demo did not start hall-agent")
        # the agent's first daily job (at start: it never ran) is done, so with days = 0 the
        # next one is a day away and the tests decide when cases are purged
        wait_until(lambda: hall_scalar(node, "SELECT count(*) FROM meta "
                                             "WHERE key = 'retention_at'"), 30, 0.1,
                   "hall-agent's first retention job")
        return node, County(node)

    def submit_people(self, node, tag, n):
        out = []
        for i in range(n):
            p = person(tag, i)
            rc = node.submit(subject="个人信息保护测试%d" % i, name=p["name"], phone=p["phone"],
                             email=p["email"])
            out.append((rc, p))
        return out

    def wait_held(self, node, dests, timeout=30):
        """Both destinations have acknowledged every record in the outbox."""
        top = hall_scalar(node, "SELECT max(seq) FROM outbox")

        def held():
            marks = dict(hall_rows(node, "SELECT dest, acked_seq FROM sync_dest"))
            return all(marks.get(d, 0) >= top for d in dests)
        wait_until(held, timeout, 0.1, "%s to acknowledge every record" % " and ".join(dests))

    def wait_status(self, node, rc, status, timeout=30):
        def shows():
            doc = node.lookup(rc["case_no"], rc["query_code"]).json()
            return doc if doc["status"] == status else None
        return wait_until(shows, timeout, 0.1, "%s at the hall for %s" % (status, rc["case_no"]))

    def hall_admin(self, node, *args):
        p = subprocess.run([HALL_ADMIN, "-c", node.ini_path] + list(args),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        return p.returncode, p.stdout.decode("utf-8", "replace")

    def county_admin(self, node, *args):
        ini = os.path.join(node.var, "county", "county.ini")
        p = subprocess.run([COUNTY_ADMIN, "-c", ini] + list(args),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        return p.returncode, p.stdout.decode("utf-8", "replace")

    def assertPresent(self, node, p, where):
        text, raw = every_row_text(node), store_bytes(node)
        for k in ("name", "phone", "email"):
            self.assertIn(p[k], text, "%s: %s not in the tables" % (where, k))
            # (assertTrue, not assertIn: a failure must not print the whole file)
            self.assertTrue(p[k].encode("utf-8") in raw, "%s: %s not in the files" % (where, k))

    def assertGone(self, node, p, where):
        text, raw = every_row_text(node), store_bytes(node)
        for k in ("name", "phone", "email"):
            self.assertNotIn(p[k], text, "%s: the %s is still in a table" % (where, k))
            self.assertFalse(p[k].encode("utf-8") in raw,
                             "%s: the %s is still in hall.db or hall.db-wal" % (where, k))

    # ---- the whole life of a case ------------------------------------------------------------
    def test_delivered_closed_expired_cases_leave_no_trace(self):
        node, county = self.node_up("life")
        (a, pa), (b, pb), (c, pc) = self.submit_people(node, "青蓝", 3)
        self.wait_held(node, ("county", "province"))
        for rc, p in ((a, pa), (b, pb), (c, pc)):
            self.assertPresent(node, p, "before anything")
        # the county's ledger holds the hash of what was sent, and no second copy
        self.assertEqual(county.count("records"), 3)
        self.assertEqual(county.count("records", "payload IS NOT NULL"), 0,
                         "the county's records ledger holds payloads")
        sent_a = hall_scalar(node, "SELECT payload FROM outbox WHERE id = ?", (a["id"],))
        ledger_a = county.scalar("SELECT sha256 FROM records WHERE id = '%s'" % a["id"])
        self.assertEqual(ledger_a, hashlib.sha256(sent_a.encode("utf-8")).hexdigest())

        # closed at the county: a is answered then resolved, b rejected; c only answered
        county.answer(a["case_no"], "answered", "已答复：请到窗口办理。")
        county.answer(a["case_no"], "resolved", "已办结。")
        county.answer(b["case_no"], "rejected", "不属于受理范围。")
        county.answer(c["case_no"], "answered", "已答复，如有疑问请来电。")
        self.wait_status(node, a, "resolved")
        self.wait_status(node, b, "rejected")
        self.wait_status(node, c, "answered")

        # hall-agent minimizes a and b on its own (every 10 s)
        wait_until(lambda: hall_scalar(node, "SELECT count(*) FROM cases WHERE name IS NULL "
                                             "AND minimized_at IS NOT NULL") == 2,
                   40, 0.5, "hall-agent to minimize the two closed cases")
        for rc, p in ((a, pa), (b, pb)):
            row = hall_rows(node, "SELECT name, phone, email, dedup_key FROM cases "
                                  "WHERE case_no = ?", (rc["case_no"],))
            self.assertEqual(row, [(None, p["phone"][:3] + "****" + p["phone"][7:], None, None)])
            self.assertEqual(hall_rows(node, "SELECT payload FROM outbox WHERE case_no = ?",
                                       (rc["case_no"],)), [(None,)])
        self.assertEqual(hall_scalar(node, "SELECT hash FROM outbox WHERE id = ?", (a["id"],)),
                         ledger_a, "the outbox's hash differs from the county's")
        # the progress lookup still shows what it showed
        doc = node.lookup(a["case_no"], a["query_code"]).json()
        self.assertEqual(doc["status"], "resolved")
        self.assertEqual(doc["phone_masked"], pa["phone"][:3] + "****" + pa["phone"][7:])
        self.assertIn("已办结。", [e["note"] for e in doc["events"]])
        page = Form(node, "/progress").post({"case_no": a["case_no"], "code": a["query_code"]})
        self.assertEqual(page.status, 200, page)
        self.assertIn("已办结", page.text)
        self.assertIn(pa["phone"][:3] + "****" + pa["phone"][7:], page.text)
        # the WAL is truncated at the same tick, or (a reader in the way) a later one
        wait_until(lambda: all(p[k].encode("utf-8") not in store_bytes(node)
                               for p in (pa, pb) for k in ("name", "phone", "email")),
                   30, 0.5, "the minimized data to leave hall.db and hall.db-wal")
        for rc, p in ((a, pa), (b, pb)):
            self.assertGone(node, p, "after minimization")
        self.assertPresent(node, pc, "the open case after minimization")

        # the purge (days = 0): a and b leave the hall entirely; c stays whole
        code, out = self.hall_admin(node, "purge")
        self.assertEqual(code, 0, out)
        self.assertIn("2 closed case(s) unchanged for 0 day(s) deleted", out)
        self.assertIn("WAL truncated", out)
        for rc in (a, b):
            self.assertEqual(node.lookup(rc["case_no"], rc["query_code"]).status, 404)
            for table in ("cases", "case_events", "outbox", "ratings"):
                self.assertEqual(hall_scalar(node, 'SELECT count(*) FROM "%s" WHERE case_no = ?'
                                             % table, (rc["case_no"],)), 0, table)
        for rc, p in ((a, pa), (b, pb)):
            self.assertGone(node, p, "after the purge")
        self.assertPresent(node, pc, "the open case after the purge")
        self.assertEqual(node.lookup(c["case_no"], c["query_code"]).status, 200)

        # the county: the same two leave, the open one stays, the ledger keeps its hashes
        self.assertEqual(county.count("cases", "phone = '%s'" % pa["phone"]), 1)
        code, out = self.county_admin(node, "purge", "0")
        self.assertEqual(code, 0, out)
        self.assertIn("2 closed case(s) past 0 day(s) deleted", out)
        for rc, p in ((a, pa), (b, pb)):
            self.assertEqual(county.count("cases", "case_no = '%s'" % rc["case_no"]), 0)
            self.assertEqual(county.count("case_events", "case_no = '%s'" % rc["case_no"]), 0)
            self.assertEqual(county.count("cases", "name = '%s' OR phone = '%s' OR email = '%s'"
                                          % (p["name"], p["phone"], p["email"])), 0)
        self.assertEqual(county.count("cases", "case_no = '%s'" % c["case_no"]), 1)
        self.assertEqual(county.count("records"), 3, "the ledger keeps its hashes")
        # the default period (30 years) deletes nothing more
        code, out = self.county_admin(node, "purge")
        self.assertEqual(code, 0, out)
        self.assertIn("0 closed case(s) past 10950 day(s) deleted", out)

    # ---- failure paths ---------------------------------------------------------------------
    def test_case_the_province_lacks_is_kept_whole(self):
        node, county = self.node_up("undelivered")
        # the province goes away (its nginx, workers and all): what the hall writes now
        # reaches the county only
        pid = node.pid("nginx-province")
        self.assertIsNotNone(pid)
        os.kill(pid, signal.SIGTERM)
        self.assertTrue(wait_gone([pid]), "the province's nginx did not stop")
        (d, pd), = self.submit_people(node, "赤橙", 1)
        wait_until(lambda: county.count("cases", "case_no = '%s'" % d["case_no"]) == 1, 30, 0.1,
                   "the case at the county")
        county.answer(d["case_no"], "resolved", "已办结。")
        self.wait_status(node, d, "resolved")
        code, out = self.hall_admin(node, "purge")
        self.assertEqual(code, 0, out)
        self.assertIn("0 closed case(s) minimized", out)
        self.assertIn("0 closed case(s) unchanged for 0 day(s) deleted", out)
        self.assertPresent(node, pd, "a case the province has not taken")
        self.assertEqual(hall_scalar(node, "SELECT count(*) FROM outbox WHERE case_no = ? "
                                           "AND payload IS NOT NULL", (d["case_no"],)), 1,
                         "the payload the province still needs")
        # nor does the agent minimize it on its own
        time.sleep(12)
        self.assertIsNone(hall_scalar(node, "SELECT minimized_at FROM cases WHERE case_no = ?",
                                      (d["case_no"],)))

    def test_open_cases_are_kept_however_old(self):
        node, county = self.node_up("open")
        people = self.submit_people(node, "紫青", 2)
        self.wait_held(node, ("county", "province"))
        (e, pe), (f, pf) = people
        county.answer(e["case_no"], "accepted", "已受理。")
        self.wait_status(node, e, "accepted")
        # long ago, as far as the purge can tell
        con = node.db()
        with con:
            con.execute("UPDATE cases SET updated_at = updated_at - 400 * 86400")
        con.close()
        code, out = self.hall_admin(node, "purge", "0")
        self.assertEqual(code, 0, out)
        self.assertIn("0 closed case(s) minimized", out)
        for rc, p in people:
            self.assertPresent(node, p, "an open case")
            self.assertEqual(node.lookup(rc["case_no"], rc["query_code"]).status, 200)
        code, out = self.county_admin(node, "purge", "0")
        self.assertEqual(code, 0, out)
        self.assertIn("0 closed case(s)", out)
        self.assertEqual(county.count("cases"), 2)

    def test_county_keeps_a_case_until_its_hall_took_the_end(self):
        """The county never purges a closed case whose last event is still on its way to the
        hall: the citizen's hall would never learn how the case ended."""
        # (the hall keeps its cases: this is about the county)
        node, county = self.node_up("downlink", days=180)
        (h, ph), = self.submit_people(node, "白黑", 1)
        self.wait_held(node, ("county", "province"))
        pid = node.pid("hall-agent")
        os.kill(pid, signal.SIGTERM)
        self.assertTrue(wait_gone([pid], 20), "hall-agent did not stop")
        county.answer(h["case_no"], "resolved", "已办结。")
        self.assertEqual(county.count("downlink", "kind = 'event'"), 1)
        code, out = self.county_admin(node, "purge", "0")
        self.assertEqual(code, 0, out)
        self.assertIn("0 closed case(s) past 0 day(s) deleted", out)
        self.assertEqual(county.count("cases", "case_no = '%s'" % h["case_no"]), 1)
        # once the hall has it, the case goes
        p = subprocess.run([os.path.join(ROOT, BUILD, "hall-agent"), "-c", node.ini_path, "once"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
        self.assertEqual(p.returncode, 0, p.stdout)
        self.assertEqual(county.count("downlink", "kind = 'event'"), 0)
        r = node.lookup(h["case_no"], h["query_code"])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["status"], "resolved")
        code, out = self.county_admin(node, "purge", "0")
        self.assertEqual(code, 0, out)
        self.assertIn("1 closed case(s) past 0 day(s) deleted", out)
        self.assertEqual(county.count("cases", "case_no = '%s'" % h["case_no"]), 0)

    def test_county_012_converts_existing_records(self):
        """A county upgraded to 012 keeps hashes only, also of the rows it held before."""
        node, county = self.node_up("ledger")
        (g, pg), = self.submit_people(node, "金银", 1)
        wait_until(lambda: county.count("records") == 1, 30, 0.1, "the record at the county")
        # as before 012: no trigger, a payload in the ledger
        county.sql("DROP TRIGGER records_hash_only; "
                   "UPDATE records SET payload = '{\"name\":\"%s\"}'; "
                   "DELETE FROM schema_migrations WHERE version = 12" % pg["name"])
        self.assertEqual(county.count("records", "payload IS NOT NULL"), 1)
        code, out = self.county_admin(node, "migrate")
        self.assertEqual(code, 0, out)
        self.assertIn("applied 012_pipl.sql", out)
        self.assertEqual(county.count("records", "payload IS NOT NULL"), 0)
        self.assertEqual(county.count("records", "sha256 = '%s'" % hashlib.sha256(
            hall_scalar(node, "SELECT payload FROM outbox WHERE id = ?", (g["id"],))
            .encode("utf-8")).hexdigest()), 1, "the hash survives the conversion")
        # and what arrives after it keeps none either
        self.submit_people(node, "铜铁", 1)
        wait_until(lambda: county.count("records") == 2, 30, 0.1, "the second record")
        self.assertEqual(county.count("records", "payload IS NOT NULL"), 0)


# The candidate SELECT of 027's county_purge for one status, as EXPLAIN takes it (the
# procedure's variables written as values).
CANDIDATES = """SELECT c.case_no FROM cases c
WHERE c.status = %s AND c.closed_at <= NOW() - INTERVAL %d DAY
  AND (SELECT MAX(e.at) FROM case_events e WHERE e.case_no = c.case_no)
      <= NOW() - INTERVAL %d DAY
  AND NOT EXISTS (SELECT 1 FROM downlink d WHERE d.hall_code = c.hall_code
                  AND d.kind = 'event' AND d.ref IN
                  (SELECT x.seq FROM case_events x WHERE x.case_no = c.case_no))
ORDER BY c.closed_at LIMIT %d"""

# the rows the session's handlers read since its FLUSH STATUS (index lookups, ranges,
# scans), as one number
READS = ("SELECT SUM(VARIABLE_VALUE) FROM information_schema.SESSION_STATUS "
         "WHERE VARIABLE_NAME LIKE 'HANDLER_READ%'")


class CountyPurgeScaleTest(unittest.TestCase):
    """county_purge (sql/county/027) at a county's size: its batch reads about LIMIT cases."""

    @classmethod
    def setUpClass(cls):
        cls.node = Node("purge-scale", county=True, agent=False)
        cls.node.start(NO_LIMITS)
        cls.county = County(cls.node)
        cls.hall = cls.county.hall_code

    @classmethod
    def tearDownClass(cls):
        cls.node.cleanup()

    def load(self, prefix, n, status, days_ago, spread=1):
        """n cases PREFIX<i> of one status, closed days_ago (+ i % spread) days ago, each with
        two events (delivered, then the closing one) at their times, inserted in three
        statements. The events are written as a hall's (origin 'hall'), so that no trigger
        moves the status or queues a downlink row: the status and closed_at are set here."""
        no = "CONCAT(%s, LPAD(seq, 6, '0'))" % sql_str(prefix)
        closed = "NOW() - INTERVAL %d + seq %% %d DAY" % (days_ago, spread)
        self.county.sql(
            "INSERT INTO cases (case_no, id, hall_code, kind, subject, body, phone, "
            "submitted_at, due_at, status, notify, closed_at) "
            "SELECT %s, CONCAT('id-', %s), %s, 'consultation', '留存', '规模', '13900000000', "
            "%s - INTERVAL 5 DAY, %s, %s, 0, %s FROM seq_1_to_%d; "
            "INSERT INTO case_events (case_no, status, actor, at, origin) "
            "SELECT %s, 'delivered', 'hall', %s - INTERVAL 5 DAY, 'hall' FROM seq_1_to_%d; "
            "INSERT INTO case_events (case_no, status, actor, at, origin) "
            "SELECT %s, %s, 'county', %s, 'hall' FROM seq_1_to_%d; COMMIT"
            % (no, no, sql_str(self.hall), closed, closed, sql_str(status), closed, n,
               no, closed, n, no, sql_str(status), closed, n), timeout=120)
        # gone after the test, so that another's purge counts only its own
        self.addCleanup(self.county.sql, "DELETE FROM case_events WHERE case_no LIKE '%s%%'; "
                        "DELETE FROM cases WHERE case_no LIKE '%s%%'; COMMIT"
                        % (prefix, prefix), timeout=120)

    def test_a_county_at_019_holding_closed_cases_upgrades(self):
        """A county that stopped at 019 with closed cases takes every later migration
        (020's backfill once failed there with error 1442), and its closed cases then
        have closed_at, count in the dashboard's summaries and are found by the purge."""
        import shutil
        import tempfile
        tmp = tempfile.mkdtemp(prefix="county-019-")
        self.addCleanup(shutil.rmtree, tmp, True)
        old = os.path.join(tmp, "sql")
        os.mkdir(old)
        full = os.path.join(ROOT, "sql", "county")
        for f in sorted(os.listdir(full)):
            if f[:3].isdigit() and int(f[:3]) <= 19:
                os.symlink(os.path.join(full, f), os.path.join(old, f))
        with open(os.path.join(self.node.var, "county", "county.ini")) as f:
            text = f.read()
        ini = os.path.join(tmp, "county.ini")

        def migrate(schema_dir):
            with open(ini, "w") as f:
                f.write(text.replace("database = county\n", "database = county_up\n")
                        .replace("schema_dir = %s" % full, "schema_dir = %s" % schema_dir))
            p = subprocess.run([COUNTY_ADMIN, "-c", ini, "migrate"], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=600)
            return p.returncode, p.stdout.decode("utf-8", "replace")
        self.addCleanup(self.county.sql, "DROP DATABASE IF EXISTS county_up")
        code, out = migrate(old)
        self.assertEqual(code, 0, out)
        self.assertNotIn("020_", out)
        # a case answered by the county at 019, long ago
        self.county.sql(
            "USE county_up; INSERT INTO cases (case_no, id, hall_code, kind, subject, body, "
            "phone, submitted_at, due_at, status) VALUES ('UP000001', 'up-1', %s, "
            "'consultation', '升级', '升级前的案件', '13900000000', NOW() - INTERVAL 400 DAY, "
            "NOW() - INTERVAL 397 DAY, 'accepted'); "
            "INSERT INTO case_events (case_no, status, note, actor, at, origin) VALUES "
            "('UP000001', 'resolved', '已办结', 'county', NOW() - INTERVAL 398 DAY, 'county'); "
            "COMMIT" % sql_str(self.hall))
        self.assertEqual(self.county.rows("SELECT status FROM county_up.cases"),
                         [("resolved",)])
        code, out = migrate(full)
        self.assertEqual(code, 0, out)
        self.assertIn("020_fleet_health.sql", out)
        self.assertEqual(self.county.rows(
            "SELECT DATE(closed_at) = DATE(NOW() - INTERVAL 398 DAY) FROM county_up.cases"),
            [("1",)])
        self.assertEqual(self.county.rows(
            "SELECT SUM(submitted), SUM(closed), SUM(on_time) FROM county_up.hall_month_stats"),
            [("1", "1", "1")])
        # the hall has taken the case's event (a case still on its way waits)
        self.county.sql("DELETE FROM county_up.downlink; COMMIT")
        self.assertEqual(self.county.rows("USE county_up; CALL county_purge(365, 10); COMMIT"),
                         [("1", "1", "0")])

    def reads_of_purge(self, days, limit):
        """(cases deleted, rows read) of one CALL county_purge(days, limit) and its commit."""
        out = self.county.rows("FLUSH STATUS; CALL county_purge(%d, %d); COMMIT; %s"
                               % (days, limit, READS))
        return int(out[0][0]), int(out[-1][0])

    def test_a_batch_reads_about_its_limit(self):
        # 3,000 closed in the last 300 days; 400 answered long ago (never purged); 300
        # resolved and 200 rejected past a 365-day period
        self.load("PR", 1500, "resolved", 1, 300)
        self.load("PJ", 1500, "rejected", 1, 300)
        self.load("PA", 400, "answered", 500)
        self.load("PO", 300, "resolved", 400, 50)
        self.load("PX", 200, "rejected", 420, 50)
        total = self.county.count("cases")

        # the candidates are an ordered range of cases_purge: no sort, about LIMIT rows read
        plan = json.loads(self.county.rows("ANALYZE FORMAT=JSON " + CANDIDATES
                                           % (sql_str("resolved"), 365, 365, 100))[0][0])
        top = plan["query_block"]
        text = json.dumps(top)
        self.assertNotIn("filesort", text, "the candidates are sorted, not read in order")
        table = top.get("table") or top["nested_loop"][0]["table"]
        self.assertEqual(table["key"], "cases_purge", text[:2000])
        self.assertLessEqual(table["r_rows"], 110, text[:2000])

        # nothing past a period of 1,000 days: the batch reads next to nothing
        deleted, reads = self.reads_of_purge(1000, 1000)
        self.assertEqual(deleted, 0)
        self.assertLess(reads, 200, "an empty batch read %d rows of %d cases" % (reads, total))

        # 500 past 365 days: a batch of 100 takes the 100 oldest resolved and reads for
        # them only (each case's events and rows, looked up by key)
        before = self.county.rows("SELECT case_no FROM cases WHERE status = 'resolved' "
                                  "ORDER BY closed_at LIMIT 100")
        deleted, reads = self.reads_of_purge(365, 100)
        self.assertEqual(deleted, 100)
        self.assertEqual(self.county.count("cases", "case_no IN (%s)" % ", ".join(
            sql_str(r[0]) for r in before)), 0, "not the oldest went")
        self.assertLess(reads, 3000, "a batch of 100 read %d rows of %d cases" % (reads, total))
        # the rest in one more batch (resolved, then rejected), the answered and recent stay
        deleted, _ = self.reads_of_purge(365, 1000)
        self.assertEqual(deleted, 400)
        self.assertEqual(self.county.count("cases", "case_no LIKE 'PO%' OR case_no LIKE 'PX%'"),
                         0)
        self.assertEqual(self.county.count("case_events", "case_no LIKE 'PO%' OR "
                                                          "case_no LIKE 'PX%'"), 0)
        self.assertEqual(self.county.count("cases"), total - 500)
        self.assertEqual(self.reads_of_purge(365, 1000)[0], 0)

    def test_a_case_closed_long_ago_with_a_late_event_waits(self):
        """closed_at is when the case first closed: the period runs from its last event."""
        self.load("PL", 3, "resolved", 400)
        self.county.sql("INSERT INTO case_events (case_no, status, actor, at, origin) "
                        "VALUES ('PL000001', 'resolved', 'hall', NOW() - INTERVAL 10 DAY, "
                        "'hall'); COMMIT")
        self.assertEqual(self.reads_of_purge(380, 1000)[0], 2)
        self.assertEqual(self.county.count("cases", "case_no LIKE 'PL%'"), 1)
        self.assertEqual(self.county.count("cases", "case_no = 'PL000001'"), 1)

    def test_027_gives_closed_at_to_closed_cases_without_one(self):
        """A case closed before 020 may lack closed_at (020's backfill ran only while no
        case was closed); 027 sets it to the first closing county event, as 020 meant to,
        and the purge then finds the case."""
        self.load("PB", 5, "delivered", 400)
        # closed by county events, then closed_at taken away (as before 020)
        self.county.sql("INSERT INTO case_events (case_no, status, actor, at) "
                        "SELECT CONCAT('PB', LPAD(seq, 6, '0')), 'answered', 'county', "
                        "NOW() - INTERVAL 300 DAY FROM seq_1_to_5; "
                        "INSERT INTO case_events (case_no, status, actor, at) "
                        "SELECT CONCAT('PB', LPAD(seq, 6, '0')), 'resolved', 'county', "
                        "NOW() - INTERVAL 200 DAY FROM seq_1_to_5; "
                        "DELETE FROM downlink WHERE kind = 'event'; "
                        "UPDATE cases SET closed_at = NULL WHERE case_no LIKE 'PB%'; "
                        "DELETE FROM schema_migrations WHERE version = 27; COMMIT")
        self.assertEqual(self.county.count("cases", "case_no LIKE 'PB%' AND status = "
                                                    "'resolved' AND closed_at IS NULL"), 5)
        p = subprocess.run([COUNTY_ADMIN, "-c", os.path.join(self.node.var, "county",
                                                             "county.ini"), "migrate"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
        out = p.stdout.decode("utf-8", "replace")
        self.assertEqual(p.returncode, 0, out)
        self.assertIn("applied 027_purge_closed_at.sql", out)
        # the first closing county event's time: the answer 300 days ago, not the 400 of
        # the hall's events nor the 200 of the resolution
        self.assertEqual(self.county.count(
            "cases c", "c.case_no LIKE 'PB%' AND c.closed_at = (SELECT MIN(e.at) FROM "
                       "case_events e WHERE e.case_no = c.case_no AND e.origin = 'county') "
                       "AND DATEDIFF(NOW(), c.closed_at) = 300"), 5)
        self.assertEqual(self.reads_of_purge(100, 1000)[0], 5)
        self.assertEqual(self.county.count("cases", "case_no LIKE 'PB%'"), 0)


if __name__ == "__main__":
    unittest.main()
