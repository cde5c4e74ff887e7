"""SPEC 5.1, 5.2, 5.4 and 6: hall-agent against a real county MariaDB, end to end.

Every test has a node of its own (`conf/demo start` with COUNTY=1: nginx, the hall programs
and a MariaDB server under its VAR); the tests run hall-agent themselves (`run`, `once`,
`status`) so that they can kill it, and talk to the county with the `mariadb` client.
"""

import hashlib
import json
import os
import random
import re
import signal
import subprocess
import threading
import time
import unittest
import zlib

from county import (Agent, County, hall_acked, hall_backlog, hall_rows, hall_scalar,
                    sql_str, submit_many, wait_until)
from harness import BUILD, NO_LIMITS, ROOT, Node

SANITIZER = re.compile(r"ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:")
OTHER_HALL = "430121002000"


def agent_log_problems(node):
    """Sanitizer reports in the agent logs of the node (kill -9 leaves none of its own)."""
    problems = []
    for name in ("test-agent.log", "hall-agent.log"):
        try:
            with open(os.path.join(node.var, "log", name), "rb") as f:
                text = f.read().decode("utf-8", "replace")
        except OSError:
            continue
        problems += ["%s: %s" % (name, line.strip()) for line in text.splitlines()
                     if SANITIZER.search(line)]
    return problems


def tap_comment(text):
    print("# " + text, flush=True)


class SyncTestCase(unittest.TestCase):
    """Helpers: a node with its own county, agents and county sessions that are always
    stopped, and the exactly-once check."""

    def node_up(self, name, extra="", agent=False):
        node = Node("sync-" + name, county=True, agent=agent)
        self.addCleanup(self._finish, node)
        node.start(NO_LIMITS + extra)
        return node, County(node)

    def _finish(self, node):
        problems = []
        try:
            node.stop()
            problems = node.new_log_problems() + agent_log_problems(node)
        finally:
            node.cleanup()
        if problems:
            raise AssertionError("sanitizer or crash reports:\n" + "\n".join(problems[:20]))

    def agent(self, node, env=None):
        a = Agent(node, env)
        self.addCleanup(a.cleanup)
        return a

    def session(self, county, account):
        s = county.session(account)
        self.addCleanup(s.close)
        return s

    def wait_drained(self, node, timeout, what="the county backlog to drain"):
        wait_until(lambda: hall_backlog(node) == 0, timeout, 0.02, what)

    # ---- exactly once --------------------------------------------------------------------
    def assertExactlyOnce(self, node, county, receipts):
        """The county holds every receipt's case exactly once, and the hall shows them all
        delivered with nothing left to send."""
        ids = [r["id"] for r in receipts]
        self.assertEqual(len(set(ids)), len(ids), "the hall issued an id twice")
        hall_ids = {row[0] for row in hall_rows(node, "SELECT id FROM cases")}
        self.assertEqual(hall_ids, set(ids), "the hall store does not hold exactly the receipts")
        n = len(ids)
        # the county: cases, the ledger, no duplicates, no conflicts
        self.assertEqual(county.count("cases"), n, "county cases")
        self.assertEqual(int(county.scalar("SELECT count(DISTINCT id) FROM cases")), n)
        self.assertEqual(county.count("records"), n, "county records ledger")
        county_ids = {r[0] for r in county.rows("SELECT id FROM cases")}
        self.assertEqual(county_ids - hall_ids, set(), "the county holds cases the hall never issued")
        self.assertEqual(hall_ids - county_ids, set(), "cases missing at the county")
        ledger_ids = {r[0] for r in county.rows("SELECT id FROM records")}
        self.assertEqual(ledger_ids, hall_ids, "the county ledger differs from the hall's ids")
        self.assertEqual(county.count("conflicts"), 0, "conflicts at the county")
        self.assertEqual(
            county.rows("SELECT DISTINCT hall_code FROM cases"), [(county.hall_code,)])
        # the hall: everything delivered, nothing quarantined, backlog 0 everywhere
        statuses = dict(hall_rows(node, "SELECT status, count(*) FROM cases GROUP BY status"))
        self.assertEqual(statuses, {"delivered": n}, "hall case statuses")
        self.assertEqual(hall_scalar(node, "SELECT count(*) FROM case_events "
                                           "WHERE status = 'delivered'"), n,
                         "the hall's 'delivered' events")
        self.assertEqual(hall_scalar(node, "SELECT count(*) FROM outbox"), n, "hall outbox rows")
        self.assertEqual(hall_scalar(node, "SELECT count(*) FROM quarantine"), 0)
        status = Agent(node).dest_status("county")
        self.assertRegex(status, r"(?m)^\s*backlog\s+0 record", status)
        self.assertNotIn("QUARANTINED", status)
        self.assertEqual(node.health()["sync"]["backlog"], 0)
        store_id = hall_scalar(node, "SELECT value FROM meta WHERE key = 'store_id'")
        self.assertEqual(county.rows("SELECT store_id, last_seq FROM hall_streams"),
                         [(store_id, str(hall_scalar(node, "SELECT max(seq) FROM outbox")))],
                         "the county's high-water mark")


# ---- 1. round trip ---------------------------------------------------------------------------

class RoundTripTest(SyncTestCase):
    def test_round_trip_case_up_reply_down_halls_row(self):
        # the demo's own agent daemon (syncs at once on a hall write, polls every 2 s)
        node, county = self.node_up("roundtrip", agent=True)
        self.assertIsNotNone(node.pid("hall-agent"), "conf/demo did not start hall-agent")
        cfg = node.ini()["hall"]
        t0 = time.monotonic()
        rc = node.submit(subject="往返测试：社保卡补办")
        row = wait_until(lambda: county.rows(
            "SELECT id, hall_code, kind, category, subject, phone, status, "
            "DATE_FORMAT(submitted_at, '%%Y-%%m-%%dT%%H:%%i:%%s'), "
            "DATE_FORMAT(due_at, '%%Y-%%m-%%dT%%H:%%i:%%s') FROM cases WHERE case_no = %s"
            % sql_str(rc["case_no"])), 5, 0.05, "the case at the county")
        up = time.monotonic() - t0
        self.assertEqual(row, [(rc["id"], cfg["code"], "consultation", "policy",
                                "往返测试：社保卡补办", "13812345678", "delivered",
                                rc["submitted_at"][:19], rc["due_at"][:19])])
        self.assertLess(up, 3.0, "a submission took %.1f s to reach the county" % up)
        tap_comment("round trip: case at the county %.2f s after the receipt" % up)

        # the hall learns that the county has it
        def delivered():
            doc = node.lookup(rc["case_no"], rc["query_code"]).json()
            return doc if doc["status"] == "delivered" else None
        doc = wait_until(delivered, 5, 0.1, "the hall's case to show 'delivered'")
        self.assertIn("delivered", [e["status"] for e in doc["events"]], doc["events"])

        # a county system answers by inserting a case_events row; the hall shows the reply
        note = "您好：社保卡补办可在街道便民服务窗口当场办理，请携带身份证。"
        t0 = time.monotonic()
        seq = county.answer(rc["case_no"], "answered", note)

        def answered():
            doc = node.lookup(rc["case_no"], rc["query_code"]).json()
            return doc if doc["status"] == "answered" else None
        doc = wait_until(answered, 10, 0.1, "the county's answer at the hall")
        down = time.monotonic() - t0
        tap_comment("round trip: reply at the hall %.2f s after the county's insert" % down)
        self.assertEqual(doc["status_text"], "已答复")
        self.assertIsNotNone(doc["reply"], doc)
        self.assertEqual(doc["reply"]["text"], note)
        self.assertIn(("answered", note), [(e["status"], e["note"]) for e in doc["events"]])
        self.assertEqual(hall_rows(node, "SELECT status, note FROM case_events WHERE id = ?",
                                   ("county-%d" % seq,)), [("answered", note)])
        # acknowledged: nothing left in the county's downlink for this hall
        wait_until(lambda: county.count("downlink", "kind = 'event'") == 0, 5, 0.1,
                   "the downlink row to be acknowledged")

        # the halls row: contact data, backlog, agent version
        (contact, backlog, version, last), = county.rows(
            "SELECT contact, backlog, agent_version, last_contact_at FROM halls "
            "WHERE hall_code = %s" % sql_str(cfg["code"]))
        self.assertIsNotNone(contact, "halls.contact is empty")
        contact = json.loads(contact)
        self.assertEqual(contact.get("name"), cfg["name"], contact)
        self.assertEqual(backlog, "0")
        self.assertTrue(version, "halls.agent_version is empty")
        self.assertIsNotNone(last, "halls.last_contact_at is empty")


class DownlinkPagesTest(SyncTestCase):
    def test_more_than_a_pull_comes_down_in_one_pass(self):
        """The downlink reads 500 events a query and pulls again only when a query came
        back full: 1,201 answers (three pulls) all reach the hall in one pass, and every
        one is acknowledged; the next pass finds nothing."""
        node, county = self.node_up("pages")
        agent = self.agent(node)
        receipts = submit_many(node, 1201, "多页答复")
        self.assertEqual(agent.once(), 0, agent.log_tail(20))
        county.sql("".join(
            "INSERT INTO case_events (case_no, status, note, actor) VALUES (%s, 'answered', "
            "'第 %d 条答复', 'test');" % (sql_str(r["case_no"]), i)
            for i, r in enumerate(receipts)))
        self.assertEqual(county.count("downlink", "kind = 'event'"), 1201)
        self.assertEqual(agent.once(), 0, agent.log_tail(20))
        self.assertEqual(hall_scalar(node, "SELECT count(*) FROM cases WHERE status = "
                                           "'answered'"), 1201)
        self.assertEqual(county.count("downlink", "kind = 'event'"), 0)
        applied = [int(n) for n in re.findall(r"downlink: (\d+) row\(s\) applied",
                                              agent.log())]
        self.assertEqual(sum(applied[-3:]), 1201, applied)
        self.assertEqual(applied[-3:], [500, 500, 201], applied)


# ---- 2. crash safety ---------------------------------------------------------------------------

class CrashSafetyTest(SyncTestCase):
    N = 5000
    KILLS = 20

    def test_kill9_agent_20_times_while_5000_records_sync(self):
        node, county = self.node_up("crash", "\n[agent]\nbatch_records = 50\npoll_ms = 200\n"
                                             "backoff_max_s = 1\n")
        agent = self.agent(node)
        seed = random.randrange(1 << 30)
        rng = random.Random(seed)
        tap_comment("crash safety: random seed %d" % seed)
        # a first part waits in the outbox; the rest arrives while the agent is being killed
        receipts = submit_many(node, 2000, "崩溃测试")
        more, errors = [], []

        def submitter():
            try:
                more.extend(submit_many(node, self.N - 2000, "崩溃测试续"))
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(e)
        th = threading.Thread(target=submitter)
        agent.start()
        th.start()
        mid = 0
        try:
            for _ in range(self.KILLS):
                time.sleep(rng.uniform(0.05, 0.5))
                if hall_backlog(node) > 0:
                    mid += 1
                agent.kill9()
                self.assertIsNotNone(agent.proc.returncode)
                agent.start()
        finally:
            th.join(120)
        self.assertFalse(th.is_alive(), "the submissions did not finish")
        self.assertEqual(errors, [])
        receipts += more
        self.assertEqual(len(receipts), self.N)
        tap_comment("crash safety: %d kill -9, %d of them with records waiting" %
                    (self.KILLS, mid))
        agent.wait_up()
        rc, _took = agent.term(15)
        self.assertEqual(rc, 0, "the agent did not stop on SIGTERM")
        agent.drain(120)
        self.assertExactlyOnce(node, county, receipts)


class SyncRateTest(SyncTestCase):
    N = 5000

    def test_drain_5000_record_backlog(self):
        node, county = self.node_up("rate")
        agent = self.agent(node)
        receipts = submit_many(node, self.N, "速率测试")
        self.assertEqual(hall_backlog(node), self.N)
        t0 = time.monotonic()
        agent.start()
        self.wait_drained(node, 120)
        took = time.monotonic() - t0
        tap_comment("sync rate: %d records/s (%d-record backlog in %.2f s, batch_records 500)"
                    % (self.N / took, self.N, took))
        rc, _ = agent.term(15)
        self.assertEqual(rc, 0)
        self.assertExactlyOnce(node, county, receipts)


class CompressedUploadTest(SyncTestCase):
    def sent_and_raw(self, node):
        sent = hall_scalar(node, "SELECT bytes_sent FROM sync_dest WHERE dest = 'county'")
        raw = hall_scalar(node, "SELECT sum(length(CAST(payload AS BLOB))) FROM outbox")
        return sent, raw

    def test_compressed_batches_and_the_plain_fallback(self):
        node, county = self.node_up("zipped")
        agent = self.agent(node)
        # a county with migration 007: one zlib stream per batch, the records intact
        first = submit_many(node, 300, "压缩上传")
        agent.once()
        self.assertExactlyOnce(node, county, first)
        sent, raw = self.sent_and_raw(node)
        tap_comment("compressed batches: %d bytes for %d bytes of records" % (sent, raw))
        self.assertLess(sent, raw / 4, "the batches did not go compressed")
        held = dict(county.rows("SELECT id, sha256 FROM records"))
        for rid, payload in hall_rows(node, "SELECT id, payload FROM outbox"):
            self.assertEqual(held[rid], hashlib.sha256(payload.encode()).hexdigest(), rid)

        # what does not unpack is refused as damage (1105: send again), not as bad records
        ok, _, err = county.try_sql("CALL hall_upload_z('%s', 1, 't', 0, 'not zlib', 1000)"
                                    % ("f" * 32), account="hall")
        self.assertFalse(ok)
        self.assertIn("1105", err)
        self.assertEqual(county.count("refusals"), 0)

        # a county without migration 007: plain JSON batches, nothing lost or doubled
        county.sql("DROP PROCEDURE hall_upload_z")
        second = submit_many(node, 300, "未压缩上传")
        self.assertEqual(agent.once(), 0, agent.log_tail(20))
        self.assertIn("batches go uncompressed", agent.log())
        self.assertExactlyOnce(node, county, first + second)
        sent2, raw2 = self.sent_and_raw(node)
        self.assertGreaterEqual(sent2 - sent, raw2 - raw, "plain batches carry every byte")


    def test_a_link_lost_before_the_prepare_keeps_batches_compressed(self):
        """The link lost between the greeting and the CALL's prepare (the client's error, not
        the county's answer) says nothing about hall_upload_z: once the agent is back, the
        batches still go compressed, not ten times the bytes until a restart."""
        node, county = self.node_up("zip-cut")
        agent = self.agent(node)
        receipts = submit_many(node, 300, "断线压缩")
        agent.start({"HALL_AGENT_FAULT_CUT_BEFORE_PREPARE": "1"})
        wait_until(lambda: county.count("records") == len(receipts), 60, 0.2,
                   "the records at the county")
        agent.term(15)
        self.assertRegex(agent.log(), r"county: prepare: ", "the cut did not happen")
        self.assertNotIn("batches go uncompressed", agent.log())
        self.assertExactlyOnce(node, county, receipts)
        sent, raw = self.sent_and_raw(node)
        tap_comment("after a cut before the prepare: %d bytes for %d bytes of records"
                    % (sent, raw))
        self.assertLess(sent, raw / 4, "the batches went uncompressed after the cut")


class OneBatchAtATimeTest(SyncTestCase):
    def test_a_batch_sent_again_while_its_first_copy_runs_comes_back_duplicate(self):
        """A hall sends a batch again when it lost the answer, and the first copy's CALL may
        still be running at the county (county 033). The second copy must wait for the
        first and answer every record as a duplicate: not fail (before 033 the two
        deadlocked here, 1213), and never refuse a record the county holds (at READ
        COMMITTED it could find the case number "held under another id" if the first
        committed between its checks)."""
        node, county = self.node_up("one-batch")
        receipts = submit_many(node, 3, "同批")
        rows = hall_rows(node, "SELECT seq, payload FROM outbox ORDER BY seq")
        store_id = hall_scalar(node, "SELECT value FROM meta WHERE key = 'store_id'")
        # as the agent sends it: a JSON array of the records' texts, each as it was stored
        raw = json.dumps([p for _, p in rows], ensure_ascii=False).encode("utf-8")
        call = ("SET autocommit = 0; CALL hall_upload_z('%s', %d, 'test', 0, X'%s', %d);"
                % (store_id, rows[-1][0], zlib.compress(raw).hex(), len(raw)))
        hall = node.ini()["hall"]["code"]
        waiting = ("SELECT count(*) FROM information_schema.innodb_trx "
                   "WHERE trx_state = 'LOCK WAIT'")

        # The interleaving that refused: the first copy past its ledger check and held up
        # before it writes (here by another writer's uncommitted row of its first case
        # number, which its case check must wait for); the second then starts, finds
        # nothing in the ledger yet, and reaches the case check after the first committed.
        first_case = json.loads(rows[0][1])["case_no"]
        holder = self.session(county, "root")
        holder.run("BEGIN; INSERT INTO cases (case_no, id, hall_code, kind, subject, body, "
                   "phone, submitted_at, due_at) VALUES ('%s', 'held-by-the-test', '%s', "
                   "'consultation', 's', 'b', '13800000000', NOW(), NOW())"
                   % (first_case, hall))
        out = {}

        def send(name):
            out[name] = county.try_sql(call, account="hall", timeout=60)
        threads = []
        for i, name in enumerate(("first", "again")):
            t = threading.Thread(target=send, args=(name,))
            t.start()
            threads.append(t)
            wait_until(lambda: int(county.rows(waiting)[0][0]) == i + 1, 20, 0.05,
                       "the %s copy to wait" % name)
        holder.run("ROLLBACK")
        for t in threads:
            t.join(60)
        for name in ("first", "again"):
            ok, stdout, err = out[name]
            self.assertTrue(ok, "the %s copy failed: %s" % (name, err))
        answers = sorted(out[n][1].count("duplicate") for n in ("first", "again"))
        self.assertEqual(answers, [0, len(receipts)], out)
        self.assertNotIn("rejected", out["first"][1] + out["again"][1])
        self.assertEqual(int(county.rows("SELECT count(*) FROM records")[0][0]), len(receipts))


class CountySchemaTest(SyncTestCase):
    def test_a_county_older_than_the_hall_gets_nothing_until_migrated(self):
        """A hall upgraded before its county (the README says the county first): to a
        county older than the agent needs (one before 030 refused the code records of a
        hall that sends 128-bit MACs and kept none of its cases' MACs) nothing is sent,
        nothing is set aside, and the log and status say why; once `county-admin migrate`
        has run, everything arrives exactly once."""
        node, county = self.node_up("schema")
        agent = self.agent(node)
        receipts = submit_many(node, 30, "县库未升级")
        # a county that says it is at 029
        county.sql("DELETE FROM schema_migrations WHERE version >= 30")
        self.assertNotEqual(agent.once(), 0)
        self.assertIn("the county's database is older (schema 29) than this hall needs",
                      agent.log())
        # one before 031, which has no county_schema() at all
        county.sql("DROP FUNCTION county_schema")
        self.assertNotEqual(agent.once(), 0)
        self.assertIn("older (no county_schema()) than this hall needs", agent.log())
        self.assertIn("county-admin migrate", agent.dest_status())
        self.assertEqual(county.count("records"), 0)
        self.assertEqual(hall_scalar(node, "SELECT count(*) FROM quarantine"), 0)
        self.assertEqual(agent.backlog(), 30)
        # it heard from the hall all the same: the console shows the hall's version
        self.assertIsNotNone(county.scalar("SELECT agent_version FROM halls "
                                           "WHERE hall_code = '%s'" % county.hall_code))
        p = subprocess.run([os.path.join(ROOT, BUILD, "county-admin"), "-c",
                            os.path.join(node.var, "county", "county.ini"), "migrate"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
        self.assertEqual(p.returncode, 0, p.stdout)
        self.assertIn(b"applied 031_county_schema.sql", p.stdout)
        agent.drain(60)
        self.assertExactlyOnce(node, county, receipts)


class CalendarImportTest(SyncTestCase):
    def test_shipped_calendars_imported_and_published_ones_kept(self):
        node, county = self.node_up("calimport")
        # conf/demo ran `county-admin import-calendars conf/calendar/*.txt`
        self.assertEqual(county.rows("SELECT year FROM calendars ORDER BY year"),
                         [("2025",), ("2026",)])
        with open(os.path.join(ROOT, "conf", "calendar", "2026.txt"), encoding="utf-8") as f:
            shipped = f.read()
        self.assertEqual(county.scalar("SELECT body FROM calendars WHERE year = 2026").strip(),
                         shipped.strip())
        # a year the county has published itself is not overwritten by a later import
        county.sql("UPDATE calendars SET body = CONCAT(body, '\\n# 县里改过') WHERE year = 2026")
        ini = os.path.join(node.var, "county", "county.ini")
        admin = os.path.join(ROOT, BUILD, "county-admin")
        p = subprocess.run([admin, "-c", ini, "import-calendars",
                            os.path.join(ROOT, "conf", "calendar", "2026.txt")],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.assertEqual(p.returncode, 0, p.stdout)
        self.assertIn(b"already published, kept", p.stdout)
        self.assertIn("县里改过", county.scalar("SELECT body FROM calendars WHERE year = 2026"))
        # a file that is not a calendar is refused and changes nothing
        bad = os.path.join(node.var, "2027.txt")
        with open(bad, "w") as f:
            f.write("2027-13-01 holiday\n")
        p = subprocess.run([admin, "-c", ini, "import-calendars", bad],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.assertNotEqual(p.returncode, 0)
        self.assertEqual(county.count("calendars", "year = 2027"), 0)


# ---- 3. the county server's troubles -----------------------------------------------------------

COUNTY_FAULT_INI = """
[county]
connect_timeout_s = 3
read_timeout_s = 10
write_timeout_s = 10
[agent]
batch_records = 20
poll_ms = 200
backoff_max_s = 1
"""


class CountyFaultTest(SyncTestCase):
    def test_county_killed_mid_batch_and_restarted(self):
        node, county = self.node_up("county-kill", COUNTY_FAULT_INI)
        agent = self.agent(node)
        receipts = submit_many(node, 3000, "县库重启")
        agent.start()
        # the first batch is in; the agent is busy with the next ones: kill -9 the server
        wait_until(lambda: hall_acked(node) > 0, 30, 0.002, "the first batch")
        county.kill9()
        at_kill = hall_acked(node)
        tap_comment("county killed with %d of 3000 records acknowledged" % at_kill)
        self.assertLess(at_kill, 3000, "the backlog drained before the kill")
        time.sleep(1.0)
        self.assertTrue(agent.running(), "the agent died with the county")
        self.assertGreater(hall_backlog(node), 0)
        county.start()
        self.wait_drained(node, 60)
        self.assertTrue(agent.running())
        rc, _ = agent.term(15)
        self.assertEqual(rc, 0)
        self.assertExactlyOnce(node, county, receipts)

    def test_county_unreachable_for_a_while(self):
        node, county = self.node_up("county-down", COUNTY_FAULT_INI)
        agent = self.agent(node)
        agent.start()
        first = submit_many(node, 10, "断网前")
        self.wait_drained(node, 10)
        county.stop()
        self.assertFalse(county.alive())
        later = submit_many(node, 30, "断网中")
        # the agent goes on and says what is wrong
        status = wait_until(lambda: (lambda s: s if re.search(r"(?m)^\s*last error\s+(?!none)",
                                                              s) else None)(agent.dest_status()),
                            15, 0.2, "a last error in hall-agent status")
        self.assertRegex(status, r"(?m)^\s*backlog\s+30 record", status)
        self.assertRegex(status, r"(?m)^\s*oldest unsent\s+(?!-)", status)
        time.sleep(2)
        self.assertTrue(agent.running(), "the agent gave up while the county was away")
        self.assertEqual(node.health()["sync"]["backlog"], 30)
        tap_comment("while away: " + re.search(r"(?m)^\s*last error.*$", status).group(0).strip())
        county.start()
        self.wait_drained(node, 30, "the backlog to drain after the county came back")
        status = wait_until(lambda: (lambda s: s if re.search(r"(?m)^\s*last error\s+none", s)
                                     else None)(agent.dest_status()), 10, 0.2,
                            "the last error to clear")
        rc, _ = agent.term(15)
        self.assertEqual(rc, 0)
        self.assertExactlyOnce(node, county, first + later)

    def test_connection_cut_mid_commit(self):
        node, county = self.node_up("commit-lost", COUNTY_FAULT_INI)
        agent = self.agent(node, env={"HALL_AGENT_FAULT_COMMIT_LOST_EVERY": "3"})
        receipts = submit_many(node, 600, "提交中断")
        agent.start()
        self.wait_drained(node, 90)
        rc, _ = agent.term(15)
        self.assertEqual(rc, 0)
        lost = agent.log().count("injected")
        tap_comment("COMMIT lost (injected) %d time(s) during a 600-record drain" % lost)
        self.assertGreaterEqual(lost, 5, agent.log_tail())
        # a lost COMMIT was still committed at the county: the batch came back as duplicates
        self.assertExactlyOnce(node, county, receipts)


# ---- 4. a store recreated at the same hall ----------------------------------------------------

class StoreRecreatedTest(SyncTestCase):
    def test_store_deleted_and_recreated_keeps_syncing(self):
        node, county = self.node_up("recreate")
        agent = self.agent(node)
        old = submit_many(node, 20, "旧库")
        self.assertEqual(agent.once(), 0, agent.log_tail())
        old_store = hall_scalar(node, "SELECT value FROM meta WHERE key = 'store_id'")
        self.assertEqual(county.count("cases"), 20)
        node.stop()
        for suffix in ("", "-wal", "-shm", "-journal"):
            try:
                os.unlink(node.db_path + suffix)
            except FileNotFoundError:
                pass
        node.start()
        new_store = hall_scalar(node, "SELECT value FROM meta WHERE key = 'store_id'")
        self.assertNotEqual(new_store, old_store, "the new store has the old store_id")
        self.assertEqual(hall_scalar(node, "SELECT count(*) FROM outbox"), 0)
        new = submit_many(node, 25, "新库")
        self.assertEqual(agent.once(), 0, agent.log_tail())
        self.assertEqual(hall_backlog(node), 0)
        ids = [r["id"] for r in old + new]
        nos = [r["case_no"] for r in old + new]
        self.assertEqual(len(set(ids)), 45)
        self.assertEqual(len(set(nos)), 45)
        self.assertEqual(county.count("cases"), 45)
        self.assertEqual(county.count("records"), 45)
        self.assertEqual({r[0] for r in county.rows("SELECT id FROM cases")}, set(ids))
        self.assertEqual(county.count("conflicts"), 0, "conflicts after the store was recreated")
        self.assertEqual(hall_scalar(node, "SELECT count(*) FROM quarantine"), 0,
                         "records refused after the store was recreated")
        self.assertEqual(dict(hall_rows(node, "SELECT status, count(*) FROM cases "
                                              "GROUP BY status")), {"delivered": 25})
        streams = dict(county.rows("SELECT store_id, last_seq FROM hall_streams "
                                   "WHERE hall_code = %s" % sql_str(county.hall_code)))
        self.assertEqual(streams, {old_store: "20", new_store: "25"})
        self.assertNotIn("QUARANTINED", agent.dest_status())


# ---- 5. out-of-order commits at the county ----------------------------------------------------

class OutOfOrderTest(SyncTestCase):
    def test_late_commit_of_a_lower_seq_still_comes_down(self):
        # a short read timeout so that a pass stuck on a county lock fails in seconds
        node, county = self.node_up("ooo", "\n[county]\nread_timeout_s = 5\n")
        agent = self.agent(node)
        a_case, b_case = submit_many(node, 2, "乱序提交")
        self.assertEqual(agent.once(), 0, agent.log_tail())
        sa = self.session(county, "reader")
        sa.run("BEGIN")
        seq_a = int(sa.run("INSERT INTO case_events (case_no, status, note) VALUES "
                           "(%s, 'accepted', '甲：已受理（晚提交）')"
                           % sql_str(a_case["case_no"]) + "; SELECT LAST_INSERT_ID()")[-1])
        seq_b = county.answer(b_case["case_no"], "answered", "乙：答复（先提交）")
        self.assertLess(seq_a, seq_b, "the open transaction did not get the lower seq")

        def hall_event(seq):
            return hall_rows(node, "SELECT case_no, status, note FROM case_events WHERE id = ?",
                             ("county-%d" % seq,))
        # a pass while A's transaction is still open: B's event comes down at once
        t0 = time.monotonic()
        rc1 = agent.once(timeout=90)
        took1 = time.monotonic() - t0
        between_b, between_a = hall_event(seq_b), hall_event(seq_a)
        sa.run("COMMIT")
        t0 = time.monotonic()
        rc2 = agent.once(timeout=90)
        took2 = time.monotonic() - t0
        tap_comment("pass with a county transaction open: exit %d in %.1f s; after its commit: "
                    "exit %d in %.1f s" % (rc1, took1, rc2, took2))
        # the data: both events at the hall, the late one too
        self.assertEqual(between_b, [(b_case["case_no"], "answered", "乙：答复（先提交）")])
        self.assertEqual(between_a, [], "an uncommitted county event reached the hall")
        self.assertEqual(hall_event(seq_a), [(a_case["case_no"], "accepted", "甲：已受理（晚提交）")],
                         "the event committed late never reached the hall")
        self.assertEqual(hall_event(seq_b), [(b_case["case_no"], "answered", "乙：答复（先提交）")])
        doc = node.lookup(a_case["case_no"], a_case["query_code"]).json()
        self.assertEqual(doc["status"], "accepted")
        self.assertIn("甲：已受理（晚提交）", [e["note"] for e in doc["events"]])
        doc = node.lookup(b_case["case_no"], b_case["query_code"]).json()
        self.assertEqual(doc["status"], "answered")
        self.assertEqual(doc["reply"]["text"], "乙：答复（先提交）")
        self.assertEqual(rc2, 0, agent.log_tail())
        self.assertEqual(county.count("downlink", "kind = 'event'"), 0,
                         "downlink rows left unacknowledged")
        # the pass that ran while a county writer had a transaction open must not fail
        self.assertEqual(rc1, 0, "a sync pass failed while a county writer held a transaction "
                                 "open (%.1f s):\n%s" % (took1, agent.log_tail(5)))
        self.assertLess(took1, 4.0)


# ---- 6. least privilege ------------------------------------------------------------------------

DENIED = re.compile(r"denied|ERROR 1142|ERROR 1370|ERROR 1356")


class GrantsTest(SyncTestCase):
    def assertRefused(self, county, account, sql):
        ok, out, err = county.try_sql(sql, account)
        self.assertFalse(ok, "%s was allowed: %s -> %r" % (account, sql, out))
        self.assertRegex(err, DENIED, "%s: %s failed, but not for want of a grant" % (sql, err))

    def test_least_privilege_with_refusals(self):
        node, county = self.node_up("grants")
        agent = self.agent(node)
        mine, = submit_many(node, 1, "权限")
        self.assertEqual(agent.once(), 0, agent.log_tail())
        county.add_hall(OTHER_HALL, "长沙县另一街道政务服务中心")
        other_case = OTHER_HALL + "0000000000X"
        county.sql("INSERT INTO cases (case_no, id, hall_code, kind, subject, body, phone, "
                   "submitted_at, due_at) VALUES (%s, %s, %s, 'consultation', '他馆', '他馆', "
                   "'13700000000', NOW(), NOW())"
                   % (sql_str(other_case), sql_str(OTHER_HALL + "-C1"), sql_str(OTHER_HALL)))
        other_seq = county.answer(other_case, "answered", "他馆的答复")
        my_seq = county.answer(mine["case_no"], "accepted", "本馆")
        before = {t: county.count(t) for t in ("cases", "case_events", "records", "downlink")}

        # the hall's account: no table, only its routines and its views
        for table in ("cases", "case_events", "records", "ratings", "conflicts", "halls",
                      "downlink", "hall_streams"):
            self.assertRefused(county, "hall", "SELECT count(*) FROM %s" % table)
        self.assertRefused(county, "hall",
                           "INSERT INTO cases (case_no, id, hall_code, kind, subject, body, "
                           "phone, submitted_at, due_at) VALUES ('X1', 'X1', %s, "
                           "'consultation', 's', 'b', '13800000000', NOW(), NOW())"
                           % sql_str(county.hall_code))
        self.assertRefused(county, "hall",
                           "INSERT INTO case_events (case_no, status, note, actor) VALUES "
                           "(%s, 'resolved', 'x', 'hall')" % sql_str(mine["case_no"]))
        self.assertRefused(county, "hall", "DELETE FROM downlink")
        # its view shows its own downlink only; the other hall's account sees the other row
        mine_rows = county.rows("SELECT event_seq, case_no FROM my_events", account="hall")
        self.assertEqual(mine_rows, [(str(my_seq), mine["case_no"])])
        self.assertEqual(county.rows("SELECT event_seq, case_no FROM my_events",
                                     account=OTHER_HALL), [(str(other_seq), other_case)])
        # acknowledging the other hall's row deletes nothing
        other_dl = county.scalar("SELECT seq FROM downlink WHERE kind = 'event' "
                                 "AND hall_code = %s" % sql_str(OTHER_HALL))
        county.sql("CALL hall_ack('[%s]')" % other_dl, account="hall")
        self.assertEqual(county.count("downlink", "seq = %s" % other_dl), 1)

        # a record of the other hall, sent by this hall's account: rejected, nothing stored
        rid = OTHER_HALL + "-C77"
        p = json.dumps({"id": rid, "type": "case", "case_no": other_case + "Z",
                        "hall_code": OTHER_HALL,
                        "kind": "consultation", "category": "policy", "subject": "冒名",
                        "body": "冒名", "phone": "13700000000",
                        "submitted_at": "2026-01-05T10:00:00+08:00",
                        "due_at": "2026-01-08T23:59:59+08:00"}, ensure_ascii=False)
        # a batch is the records' texts, as the hall holds them (sql/county/003)
        batch = json.dumps([p], ensure_ascii=False)
        out = county.rows("CALL hall_upload('%s', 1, 'test', 0, %s)"
                          % ("f" * 32, sql_str(batch)), account="hall")
        self.assertEqual(len(out), 1, out)
        # (place in the batch, id, result, reason)
        self.assertEqual(out[0][:3], ("1", rid, "rejected"), out)
        self.assertTrue(out[0][3], "a rejection without a reason")
        for table, col in (("records", "id"), ("cases", "id"), ("case_events", "id"),
                           ("conflicts", "record_id")):
            self.assertEqual(county.count(table, "%s = %s" % (col, sql_str(rid))), 0,
                             "the rejected record is in %s" % table)
        self.assertEqual(county.count("cases", "case_no = %s" % sql_str(other_case + "Z")), 0)

        # the reader: reads everything, answers cases, changes no case
        for table in ("cases", "case_events", "ratings", "guides", "calendars", "halls",
                      "conflicts", "records"):
            ok, out, err = county.try_sql("SELECT count(*) FROM %s" % table, "reader")
            self.assertTrue(ok, "the reader cannot read %s: %s" % (table, err))
        unreadable = []
        for table, _kind in county.rows("SHOW FULL TABLES WHERE Table_type = 'BASE TABLE'"):
            if not county.try_sql("SELECT 1 FROM %s LIMIT 1" % table, "reader")[0]:
                unreadable.append(table)
        if unreadable:
            tap_comment("note: the reader account cannot read %s" % ", ".join(unreadable))
        self.assertRefused(county, "reader", "DELETE FROM cases WHERE case_no = %s"
                           % sql_str(mine["case_no"]))
        self.assertRefused(county, "reader", "UPDATE cases SET status = 'resolved' "
                           "WHERE case_no = %s" % sql_str(mine["case_no"]))
        self.assertRefused(county, "reader", "DELETE FROM case_events")
        self.assertRefused(county, "reader", "UPDATE case_events SET note = 'x'")
        self.assertRefused(county, "reader", "CALL hall_upload('%s', 1, 't', 0, '[]')" % ("e" * 32))
        after = {t: county.count(t) for t in ("cases", "case_events", "records", "downlink")}
        self.assertEqual(after, before, "a refused statement changed the county")
        self.assertEqual(county.scalar("SELECT status FROM cases WHERE case_no = %s"
                                       % sql_str(mine["case_no"])), "accepted")


# ---- 7. conflicts and quarantine ---------------------------------------------------------------

class QuarantineTest(SyncTestCase):
    def test_conflict_kept_refusal_quarantined_others_go_on(self):
        node, county = self.node_up("quarantine")
        agent = self.agent(node)
        c_conf, c_bad, c3, c4 = submit_many(node, 4, "隔离")
        # the county already holds c_conf's id with other content
        county.sql("INSERT INTO records (id, hall_code, type, case_no, sha256, payload) VALUES "
                   "(%s, %s, 'case', %s, %s, '{\"other\":\"version\"}')"
                   % (sql_str(c_conf["id"]), sql_str(county.hall_code),
                      sql_str(c_conf["case_no"]), sql_str("f" * 64)))
        # and c_bad's payload says it is another hall's record: the county refuses it
        con = node.db()
        with con:
            con.execute("UPDATE outbox SET payload = json_set(payload, '$.hall_code', ?) "
                        "WHERE id = ?", (OTHER_HALL, c_bad["id"]))
        con.close()
        payload_conf = hall_scalar(node, "SELECT payload FROM outbox WHERE id = ?", (c_conf["id"],))
        outbox_rows = hall_scalar(node, "SELECT count(*) FROM outbox")
        self.assertEqual(agent.once(), 0, agent.log_tail())
        c5, = submit_many(node, 1, "隔离之后")
        self.assertEqual(agent.once(), 0, agent.log_tail())

        # the others went on
        got = {r[0] for r in county.rows("SELECT id FROM cases")}
        self.assertEqual(got, {c3["id"], c4["id"], c5["id"]})
        # the conflict is kept at the county, with what the hall sent
        conf = county.rows("SELECT record_id, hall_code, held_sha256, sent_sha256, sent_payload "
                           "FROM conflicts")
        self.assertEqual(len(conf), 1, conf)
        self.assertEqual(conf[0][:4], (c_conf["id"], county.hall_code, "f" * 64,
                                       hashlib.sha256(payload_conf.encode()).hexdigest()))
        self.assertEqual(conf[0][4], payload_conf, "the county kept other bytes than the hall sent")
        # quarantined at the hall with the reasons, logged, shown in the status
        q = {r[0]: r[1:] for r in hall_rows(node, "SELECT id, dest, result, reason FROM quarantine")}
        self.assertEqual(set(q), {c_conf["id"], c_bad["id"]}, q)
        self.assertEqual(q[c_conf["id"]][:2], ("county", "conflict"))
        self.assertEqual(q[c_bad["id"]][:2], ("county", "rejected"))
        self.assertTrue(q[c_conf["id"]][2] and q[c_bad["id"]][2], "a quarantine without reason")
        log = agent.log()
        for rid in (c_conf["id"], c_bad["id"]):
            self.assertRegex(log, r"(?m)^.*%s.*quarantined" % re.escape(rid))
        status = agent.dest_status()
        self.assertRegex(status, r"QUARANTINED\s+2 record", status)
        # never dropped: every record is still in the outbox, and passes again change nothing
        for _ in range(2):
            self.assertEqual(agent.once(), 0, agent.log_tail())
        self.assertEqual(hall_scalar(node, "SELECT count(*) FROM outbox"), outbox_rows + 1)
        self.assertEqual(hall_scalar(node, "SELECT count(*) FROM outbox WHERE id IN (?, ?)",
                                     (c_conf["id"], c_bad["id"])), 2)
        self.assertEqual(hall_scalar(node, "SELECT count(*) FROM quarantine"), 2)
        self.assertEqual(county.count("conflicts"), 1)
        self.assertEqual(county.count("records", "id = %s" % sql_str(c_bad["id"])), 0)
        self.assertRegex(agent.dest_status(), r"QUARANTINED\s+2 record")
        statuses = dict(hall_rows(node, "SELECT id, status FROM cases"))
        self.assertEqual(statuses[c_conf["id"]], "received")
        self.assertEqual(statuses[c_bad["id"]], "received")
        self.assertEqual(statuses[c5["id"]], "delivered")


    def test_registration_outage_sets_nothing_aside(self):
        """Issue 11: the county briefly loses the hall's registration (its halls row points
        at another account): what the agent sends meanwhile is a link error, not a refusal.
        Nothing is quarantined, status shows the error, and every record arrives once the
        registration is back."""
        node, county = self.node_up("registration",
                                    extra="[agent]\npoll_ms = 200\nbackoff_max_s = 2\n")
        agent = self.agent(node)
        agent.start()
        agent.wait_up()
        first = submit_many(node, 5, "登记之前")
        self.wait_drained(node, 30)
        user = county.scalar("SELECT db_user FROM halls WHERE hall_code = %s"
                             % sql_str(county.hall_code))
        # the agent stays connected: only its next calls find the registration gone
        county.sql("UPDATE halls SET db_user = 'renamed_by_mistake' WHERE hall_code = %s"
                   % sql_str(county.hall_code))
        during = submit_many(node, 60, "登记中断")
        wait_until(lambda: "not a registered hall" in agent.dest_status(), 30, 0.1,
                   "the agent to show the registration error")
        time.sleep(2)	# more passes against the missing registration
        self.assertEqual(hall_scalar(node, "SELECT count(*) FROM quarantine"), 0,
                         agent.log_tail())
        self.assertEqual(hall_backlog(node), 60)
        status = agent.dest_status()
        self.assertRegex(status, r"(?m)^\s*backlog\s+60 record", status)
        self.assertEqual(county.count("refusals"), 0)
        county.sql("UPDATE halls SET db_user = %s WHERE hall_code = %s"
                   % (sql_str(user), sql_str(county.hall_code)))
        self.wait_drained(node, 60, "the backlog to drain once the registration is back")
        self.assertEqual(agent.term()[0], 0)
        self.assertExactlyOnce(node, county, first + during)

    def test_requeue_after_the_county_is_fixed(self):
        """A record the county really refuses (its subject longer than a column a bad
        migration narrowed) is set aside alone, listed in status with the reason; once the
        county is fixed, `hall-admin requeue` puts it back and it arrives, exactly once."""
        node, county = self.node_up("requeue")
        agent = self.agent(node)
        county.sql("ALTER TABLE cases MODIFY subject VARCHAR(20) NOT NULL")
        before = submit_many(node, 2, "短")
        long_one, = submit_many(node, 1, label="这个标题比县级数据库的列宽更长一些" * 2)
        after = submit_many(node, 2, "短后")
        self.assertEqual(agent.once(), 0, agent.log_tail())
        self.assertEqual([r[0] for r in hall_rows(node, "SELECT id FROM quarantine")],
                         [long_one["id"]])
        status = agent.dest_status()
        self.assertRegex(status, r"(?m)^\s+%s\s+rejected: .*too long" % re.escape(long_one["id"]),
                         status)
        # the county's dashboard sees it too
        quarantined = "SELECT quarantined FROM halls WHERE hall_code = %s" % sql_str(
            county.hall_code)
        self.assertEqual(int(county.scalar(quarantined)), 1)

        def admin(*args):
            return subprocess.run([os.path.join(BUILD, "hall-admin"), "-c", node.ini_path,
                                   "requeue"] + list(args), capture_output=True, text=True,
                                  timeout=30)
        bogus = admin("county", "430121001000-C1")
        self.assertNotEqual(bogus.returncode, 0, bogus.stdout)
        self.assertEqual(hall_scalar(node, "SELECT count(*) FROM quarantine"), 1)
        self.assertEqual(admin("nowhere", "--all").returncode, 2)
        county.sql("ALTER TABLE cases MODIFY subject VARCHAR(400) NOT NULL")
        done = admin("county", long_one["id"])
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertIn("1 record(s) put back", done.stdout)
        self.assertEqual(hall_scalar(node, "SELECT count(*) FROM quarantine"), 0)
        self.assertEqual(agent.backlog(), 1)
        self.assertEqual(agent.once(), 0, agent.log_tail())
        self.assertEqual(hall_scalar(node, "SELECT count(*) FROM requeue"), 0)
        self.assertEqual(int(county.scalar(quarantined)), 0)
        self.assertExactlyOnce(node, county, before + [long_one] + after)

    def test_a_batch_refused_while_the_next_is_on_its_way(self):
        """Two batches on the way (agent/hall-agent/sink_county.c): the county refuses a batch
        whole (a subject too long for its column) while the agent has already sent the next
        batch's records on its second connection. That one is never executed; the refusal is
        narrowed to its record, which alone is set aside; every other record reaches the
        county exactly once, none skipped."""
        node, county = self.node_up("ahead-refused", "\n[agent]\nbatch_records = 20\n")
        agent = self.agent(node)
        receipts = submit_many(node, 200, "前后")
        bad = receipts[45]
        con = node.db()
        with con:
            con.execute("UPDATE outbox SET payload = json_set(payload, '$.subject', ?) "
                        "WHERE id = ?", ("很长的标题" * 20, bad["id"]))
        con.close()
        county.sql("ALTER TABLE cases MODIFY subject VARCHAR(60) NOT NULL")
        self.addCleanup(county.sql, "ALTER TABLE cases MODIFY subject VARCHAR(400) NOT NULL")
        for _ in range(5):
            agent.once()
            if hall_backlog(node) == 0:
                break
        self.assertEqual(hall_backlog(node), 0, agent.log_tail())
        self.assertRegex(agent.log(), r"refused a batch of 20")
        got = [r[0] for r in county.rows("SELECT id FROM cases")]
        self.assertEqual(len(got), len(set(got)))
        self.assertEqual(set(got), {r["id"] for r in receipts} - {bad["id"]})
        self.assertEqual(county.count("records", "type = 'case'"), 199)
        self.assertEqual([r[0] for r in hall_rows(node, "SELECT id FROM quarantine")],
                         [bad["id"]])

    def test_a_county_allowing_one_connection_gets_the_batches_one_by_one(self):
        """Two batches on the way need a second connection. A hall account limited to one
        (MAX_USER_CONNECTIONS 1; a county at max_connections refuses the same way) has the
        second refused: the batches then go one by one on the first, every record exactly
        once, and the agent asks for the second connection once a pass, not before each
        batch (each refusal costs the weak link a round trip or more)."""
        node, county = self.node_up("one-conn", "\n[agent]\nbatch_records = 20\n")
        user = "hall_" + county.hall_code
        host = county.scalar("SELECT host FROM mysql.user WHERE user = %s" % sql_str(user))
        county.sql("ALTER USER %s@%s WITH MAX_USER_CONNECTIONS 1" % (sql_str(user),
                                                                    sql_str(host)))
        agent = self.agent(node)
        receipts = submit_many(node, 200, "单连接")
        self.assertEqual(agent.once(), 0, agent.log_tail())
        self.assertExactlyOnce(node, county, receipts)
        self.assertEqual(len(re.findall(r"no second connection", agent.log())), 1,
                         agent.log_tail())

    def test_county_refusing_record_after_record_stops_setting_aside(self):
        """A county that refuses every record (here a column too narrow for any subject, as
        a bad migration would leave it) gets a few records set aside, then a link error:
        the agent stops rather than quarantine a whole backlog one by one."""
        node, county = self.node_up("refuses-all")
        agent = self.agent(node)
        county.sql("ALTER TABLE cases MODIFY subject VARCHAR(1) NOT NULL")
        receipts = submit_many(node, 12, "全部拒收")
        for _ in range(8):
            agent.once()
        quarantined = hall_scalar(node, "SELECT count(*) FROM quarantine")
        self.assertLessEqual(quarantined, 3, agent.log_tail())
        self.assertGreaterEqual(hall_backlog(node), 12 - quarantined)
        self.assertRegex(agent.dest_status(), r"(?m)^\s*last error.*record after record",
                         agent.dest_status())
        county.sql("ALTER TABLE cases MODIFY subject VARCHAR(400) NOT NULL")
        self.assertEqual(agent.once(), 0, agent.log_tail())
        self.assertEqual(hall_backlog(node), 0)
        got = {r[0] for r in county.rows("SELECT id FROM cases")}
        held = {r[0] for r in hall_rows(node, "SELECT id FROM quarantine")}
        self.assertEqual(got | held, {r["id"] for r in receipts})
        self.assertEqual(got & held, set())


# ---- 8. SIGTERM, restart, polling --------------------------------------------------------------

class DaemonTest(SyncTestCase):
    def test_sigterm_stops_cleanly_and_restart_resumes(self):
        node, county = self.node_up("sigterm", "\n[agent]\nbatch_records = 20\npoll_ms = 500\n")
        agent = self.agent(node)
        receipts = submit_many(node, 3000, "优雅停止")
        agent.start()
        wait_until(lambda: hall_acked(node) > 0, 30, 0.002, "the first batch")
        rc, took = agent.term(10)
        self.assertEqual(rc, 0, "exit status on SIGTERM")
        self.assertLess(took, 5.0)
        self.assertRegex(agent.log(), r"(?m)^hall-agent\[\d+\] info: stopped")
        acked = hall_acked(node)
        at_county = county.count("cases")
        tap_comment("SIGTERM after %d of 3000 records (county holds %d), exit in %.2f s"
                    % (acked, at_county, took))
        self.assertLess(acked, 3000, "the backlog drained before SIGTERM")
        self.assertGreaterEqual(at_county, acked)
        self.assertLessEqual(at_county, acked + 20, "more than one batch beyond the mark")
        # restarted, it goes on from its mark
        agent.start()
        self.wait_drained(node, 60)
        rc, _ = agent.term(10)
        self.assertEqual(rc, 0)
        runs = re.findall(r"county: stopped; (\d+) record\(s\) delivered this run", agent.log())
        self.assertEqual(len(runs), 2, agent.log_tail())
        self.assertLessEqual(int(runs[1]), 3000 - acked + 20,
                             "the restarted agent sent again what was acknowledged")
        self.assertExactlyOnce(node, county, receipts)

    def test_sigterm_while_the_county_hangs(self):
        # the default timeouts ([county] read_timeout_s 30): a hung county must not make a
        # stop wait for them
        node, county = self.node_up("sigterm-hang", "\n[agent]\nbatch_records = 20\n")
        agent = self.agent(node)
        receipts = submit_many(node, 3000, "县库挂起")
        agent.start()
        agent.wait_up()
        wait_until(lambda: hall_acked(node) > 0, 30, 0.002, "the first batch")
        pid = county.pid
        os.kill(pid, signal.SIGSTOP)    # the county hangs mid-drain: no answer, no reset
        self.addCleanup(lambda: os.kill(pid, signal.SIGCONT) if county.alive() else None)
        time.sleep(1.0)
        acked = hall_acked(node)
        self.assertLess(acked, 3000, "the backlog drained before the county hung")
        rc, took = agent.term(60)
        os.kill(pid, signal.SIGCONT)
        tap_comment("SIGTERM with the county hung: exit %s after %.1f s" % (rc, took))
        self.assertEqual(rc, 0)
        self.assertRegex(agent.log(), r"(?m)^hall-agent\[\d+\] info: stopped")
        # nothing is lost either way
        agent.start()
        self.wait_drained(node, 60)
        agent.term(10)
        self.assertExactlyOnce(node, county, receipts)
        self.assertLess(took, 5.0, "SIGTERM waited %.1f s for the hung county" % took)

    def test_poll_interval_brings_reply_without_hall_writes(self):
        node, county = self.node_up("poll", "\n[agent]\npoll_ms = 500\n")
        agent = self.agent(node)
        rc, = submit_many(node, 1, "轮询")
        agent.start()
        self.wait_drained(node, 10)
        # idle from here on: nothing touches the hall's folder (even a reader closing the
        # store would wake the agent through inotify), so only the poll can bring the reply;
        # the hall has applied it durably once the county's downlink row is acknowledged
        time.sleep(1.5)
        worst = 0.0
        seqs = []
        for i in range(3):
            t0 = time.monotonic()
            seq = county.answer(rc["case_no"], "answered", "轮询答复 %d" % i)
            seqs.append(seq)
            wait_until(lambda: county.count("downlink", "kind = 'event' AND ref = '%d'" % seq)
                       == 0, 10, 0.02, "the county's reply acknowledged by the hall")
            worst = max(worst, time.monotonic() - t0)
            time.sleep(random.uniform(0.1, 0.6))
        for i, seq in enumerate(seqs):
            self.assertEqual(hall_rows(node, "SELECT status, note FROM case_events WHERE id = ?",
                                       ("county-%d" % seq,)), [("answered", "轮询答复 %d" % i)])
        tap_comment("poll_ms 500: a county reply reached the hall in at most %.2f s" % worst)
        self.assertLess(worst, 2.0)
        doc = node.lookup(rc["case_no"], rc["query_code"]).json()
        self.assertEqual(doc["status"], "answered")
        self.assertEqual(doc["reply"]["text"], "轮询答复 2")
        self.assertTrue(agent.running())
        rc_, took = agent.term(10)
        self.assertEqual(rc_, 0)
        self.assertLess(took, 5.0)


if __name__ == "__main__":
    unittest.main()
