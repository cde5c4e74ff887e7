"""Issue 11 (Trust) at the reference province receiver, with hall-agent in front of it.

  - One token per hall: the receiver maps a bearer token to one hall_code
    (`province-receiver add-hall CODE TOKEN_FILE`); a batch holding another hall's record is
    refused whole (403, nothing stored), and the agent takes that as a link error: it sets
    nothing aside, keeps the backlog and shows the error. Each hall's own token works, and
    /v1/reconcile tells a hall only of its own records.
  - [receiver] max_line: a line over it is refused on its own, by its id; its neighbours
    arrive; a long line whose id cannot be read refuses the whole request (413).
  - The breaker: a receiver that refuses every record on its merits (a max_line smaller than
    any record) gets at most SET_ASIDE_RUN_MAX records set aside; the agent then stops,
    reports, and keeps the rest in its backlog; once the receiver is fixed the backlog
    drains and `hall-admin requeue province --all` brings the set-aside ones, exactly once.
  - Retention (SPEC 11): [receiver] retention_days, and the daily job the running receiver
    runs: cases whose last record arrived before the period go, the others stay.

The other answers that must set nothing aside are proven in test_province.py: 401 (test_01),
500 (test_04), a portal page and a 200 without the per-id results (test_05); each ends with
assertExactlyOnce, which requires an empty quarantine.
"""

import gzip
import http.client
import json
import os
import re
import signal
import subprocess
import time

from county import hall_rows, submit_many, wait_until
from harness import BUILD, ROOT, proc_children, wait_gone
from test_province import ProvinceTestCase, province_acked, province_backlog, rx_count, rx_q, \
    rx_token, sha, tap

RX_BIN = os.path.join(ROOT, BUILD, "province-receiver")
ADMIN_BIN = os.path.join(ROOT, BUILD, "hall-admin")
OTHER_HALL = "430121002000"
SET_ASIDE_RUN_MAX = 3          # agent/hall-agent/agent.h


def record(hall, n, **fields):
    r = {"id": "%s-C%d" % (hall, n), "type": "case", "hall_code": hall,
         "case_no": "%s2026%07d" % (hall, n), "at": "2026-01-05T09:00:00+08:00"}
    r.update(fields)
    return json.dumps(r, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class ProvinceTrustTest(ProvinceTestCase):

    # ---- the receiver, run by the test with an INI of its own -------------------------
    def rx_dir(self):
        return os.path.join(self.node.var, "province")

    def rx_ini(self, **keys):
        """An INI like conf/demo's, plus keys; its path."""
        node = self.node
        path = os.path.join(self.rx_dir(), "receiver-test.ini")
        lines = ["[receiver]", "socket = %s" % os.path.join(node.var, "run", "province.sock"),
                 "store = %s" % os.path.join(self.rx_dir(), "province.db"), "workers = 2"]
        lines += ["%s = %s" % kv for kv in keys.items()]
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return path

    def rx_cmd(self, ini, *args):
        return subprocess.run([RX_BIN, "-c", ini] + list(args), stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=30)

    def rx_restart(self, **keys):
        """Stops the node's province-receiver and starts it again with keys in its INI (its
        nginx stays); the pid file is the demo's, so that `conf/demo stop` stops it."""
        node = self.node
        pid = node.pid("province-receiver")
        if pid is not None:
            pids = [pid] + proc_children(pid)
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            self.assertTrue(wait_gone(pids, 15), "province-receiver did not stop")
        ini = self.rx_ini(**keys)
        with open(node.log_path("province-receiver"), "ab") as log:
            p = subprocess.Popen([RX_BIN, "-c", ini, "run"], stdin=subprocess.DEVNULL,
                                 stdout=log, stderr=log, start_new_session=True)
        with open(os.path.join(node.var, "run", "province-receiver.pid"), "w") as f:
            f.write("%d\n" % p.pid)

        def up():
            if p.poll() is not None:
                raise AssertionError("province-receiver ended (%s):\n%s" % (
                    p.returncode, node.logs_tail(10)))
            try:
                return self.rx_get("/v1/health")[0] == 200
            except OSError:
                return False
        wait_until(up, 15, 0.05, "province-receiver to answer again")
        return ini

    def rx_get(self, path):
        conn = self.node.province_connection()
        try:
            conn.request("GET", path)
            r = conn.getresponse()
            return r.status, r.read()
        finally:
            conn.close()

    def rx_records(self, lines, token, gz=True):
        """POST /v1/records straight to the receiver: (status, JSON document)."""
        body = b"".join(line + b"\n" for line in lines)
        h = {"Content-Type": "application/x-ndjson", "Authorization": "Bearer " + token}
        if gz:
            body = gzip.compress(body)
            h["Content-Encoding"] = "gzip"
        conn = self.node.province_connection()
        try:
            conn.request("POST", "/v1/records", body=body, headers=h)
            r = conn.getresponse()
            data = r.read()
        finally:
            conn.close()
        return r.status, json.loads(data)

    def rx_reconcile(self, ids, token):
        conn = self.node.province_connection()
        try:
            conn.request("POST", "/v1/reconcile", body=json.dumps({"ids": ids}).encode(),
                         headers={"Content-Type": "application/json",
                                  "Authorization": "Bearer " + token})
            r = conn.getresponse()
            return r.status, json.loads(r.read())
        finally:
            conn.close()

    def token_file(self, name, token):
        path = os.path.join(self.rx_dir(), name)
        with open(path, "w") as f:
            f.write(token + "\n")
        os.chmod(path, 0o600)
        return path

    def agent_token(self, token):
        path = os.path.join(self.node.var, "hall", "secrets", "province.token")
        with open(path, "w") as f:
            f.write(token + "\n")

    def quarantined(self):
        return {r[0]: r[1:] for r in hall_rows(
            self.node, "SELECT id, result, reason FROM quarantine WHERE dest = 'province'")}

    def requeue(self, *args):
        return subprocess.run([ADMIN_BIN, "-c", self.node.ini_path, "requeue"] + list(args),
                              capture_output=True, text=True, timeout=30)

    # ---- 1. one token per hall ---------------------------------------------------------
    def test_01_one_halls_token_cannot_write_another_halls_records(self):
        node = self.up("tokens")
        hall = node.ini()["hall"]["code"]
        self.assertNotEqual(hall, OTHER_HALL)
        token_a = rx_token(node)
        token_b = "hall-b-" + os.urandom(12).hex()
        ini = self.rx_ini()
        r = self.rx_cmd(ini, "add-hall", OTHER_HALL, self.token_file("token-b", token_b))
        self.assertEqual(r.returncode, 0, r.stderr)

        # the registry refuses what would make tokens ambiguous or weak
        r = self.rx_cmd(ini, "add-hall", "430121003000", self.token_file("token-dup", token_b))
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("another hall's", r.stderr)
        r = self.rx_cmd(ini, "add-hall", "43012100300", self.token_file("token-c", "x" * 30))
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("12 digits", r.stderr)
        r = self.rx_cmd(ini, "add-hall", "430121003000", self.token_file("token-short", "short"))
        self.assertNotEqual(r.returncode, 0)
        self.assertRegex(r.stderr, r"16 to 256")
        self.assertEqual(rx_q(node, "SELECT hall_code FROM halls ORDER BY 1"),
                         [(hall,), (OTHER_HALL,)])
        # the store keeps hashes, never a token
        held = [h for (h,) in rx_q(node, "SELECT token_sha256 FROM halls")]
        self.assertEqual(sorted(held), sorted([sha(token_a), sha(token_b)]))

        # hall B's token in hall A's agent: every batch refused whole, nothing set aside
        self.agent_token(token_b)
        self.agent.start()
        receipts = self.submit(5, "错令牌")
        self.wait_requests(2)
        err = self.wait_error(r"\b403\b", what="status to report the 403")
        # with the receiver's own reason, so that an operator sees which token is wrong
        self.assertRegex(err, r"each hall sends with its own token", err)
        tap("hall B's token in hall A's agent: %s" % err)
        seen = self.proxy.seen("/v1/records")
        self.assertEqual({x.upstream_status for x in seen}, {403}, seen)
        doc = json.loads(seen[0].upstream_body)
        self.assertEqual(doc["error"]["code"], "wrong_hall", doc)
        self.assertIn("hall %s" % OTHER_HALL, doc["error"]["message"])
        self.assertIn(hall, doc["error"]["message"])
        time.sleep(1.5)        # more passes against the refusal
        self.assertEqual(rx_count(node), 0, "records stored from a batch refused as a whole")
        self.assertEqual(self.quarantined(), {}, "a credentials error set records aside")
        _, backlog, _ = self.agent.province()
        self.assertEqual(backlog, 5)
        self.assertEqual(province_acked(node), 0)
        self.assertRegex(self.node_log("province-receiver"), r"refused a batch: .*%s" % hall)
        self.agent.term()

        # straight to the receiver: A's records with B's token, and a batch mixing B's own
        # record with one of A's, are refused whole; B's own works; an unknown token is 401
        line_a = hall_rows(node, "SELECT payload FROM outbox WHERE id = ?",
                           (receipts[0]["id"],))[0][0].encode("utf-8")
        status, doc = self.rx_records([line_a], token_b)
        self.assertEqual((status, doc["error"]["code"]), (403, "wrong_hall"), doc)
        status, doc = self.rx_records([record(OTHER_HALL, 1), line_a], token_b)
        self.assertEqual(status, 403, doc)
        self.assertEqual(rx_count(node), 0)
        status, doc = self.rx_records([record(OTHER_HALL, 2)], token_b)
        self.assertEqual((status, doc), (200, {"results": [
            {"id": OTHER_HALL + "-C2", "result": "accepted"}]}))
        status, doc = self.rx_records([record(OTHER_HALL, 3)], "no-such-token-" + "0" * 20)
        self.assertEqual(status, 401, doc)
        # a malformed hall_code is the record's own fault: refused alone, by its id
        status, doc = self.rx_records([record("4301", 4)], token_b)
        self.assertEqual(status, 200, doc)
        self.assertEqual(doc["results"][0]["result"], "rejected")
        self.assertRegex(doc["results"][0]["reason"], r"hall_code")

        # hall A's own token: everything arrives; each hall sees only its records
        self.agent_token(token_a)
        self.agent.start()
        self.wait_drained(30)
        self.assertExactlyOnce(foreign={OTHER_HALL + "-C2"})
        status, doc = self.rx_reconcile([OTHER_HALL + "-C2", receipts[0]["id"]], token_a)
        self.assertEqual(list(doc["held"]), [receipts[0]["id"]], doc)
        status, doc = self.rx_reconcile([OTHER_HALL + "-C2", receipts[0]["id"]], token_b)
        self.assertEqual(list(doc["held"]), [OTHER_HALL + "-C2"], doc)

        # remove-hall: B's token no longer opens anything
        r = self.rx_cmd(ini, "remove-hall", OTHER_HALL)
        self.assertEqual(r.returncode, 0, r.stderr)
        status, _ = self.rx_records([record(OTHER_HALL, 5)], token_b)
        self.assertEqual(status, 401)
        self.assertNotEqual(self.rx_cmd(ini, "remove-hall", OTHER_HALL).returncode, 0)
        # the old single-token INI key is refused with what to do instead
        r = self.rx_cmd(self.rx_ini(token_file="/nonexistent"), "purge")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("add-hall", r.stderr)

    def node_log(self, prog):
        with open(self.node.log_path(prog), "rb") as f:
            return f.read().decode("utf-8", "replace")

    # ---- 2. max_line --------------------------------------------------------------------
    def test_02_a_line_over_max_line_is_refused_alone(self):
        node = self.up("maxline")
        self.rx_restart(max_line=3000)
        small = self.submit(2, "短")
        big = self.submit_big()
        after = self.submit(2, "短后")
        sizes = dict((rid, len(p.encode("utf-8"))) for _, rid, p in hall_rows(
            node, "SELECT seq, id, payload FROM outbox"))
        self.assertGreater(sizes[big["id"]], 3000)
        self.assertLess(max(sizes[r["id"]] for r in small + after), 3000)
        self.agent.start()
        self.wait_drained(30)
        q = self.quarantined()
        self.assertEqual(list(q), [big["id"]], q)
        self.assertEqual(q[big["id"]][0], "rejected")
        self.assertRegex(q[big["id"]][1], r"%d bytes, over this receiver's max_line of 3000"
                         % sizes[big["id"]])
        held = {r[0] for r in rx_q(node, "SELECT id FROM records")}
        self.assertEqual(held, {r["id"] for r in small + after}, "the neighbours")
        block, _, _ = self.agent.province()
        self.assertRegex(block, r"QUARANTINED\s+1 record", block)
        tap("over max_line: %s" % q[big["id"]][1])

        # a long line whose id cannot be read: the request is refused whole (413), and a
        # good record beside it is not kept either
        token = rx_token(node)
        hall = node.ini()["hall"]["code"]
        status, doc = self.rx_records([record(hall, 901), json.dumps(
            {"body": "长" * 1200, "id": {"not": "a string"}}).encode()], token)
        self.assertEqual((status, doc["error"]["code"]), (413, "line_too_long"), doc)
        self.assertRegex(doc["error"]["message"], r"line 2 is \d+ bytes, over max_line")
        self.assertEqual(rx_count(node), 4)
        # but a readable id anywhere at the top level names the record
        status, doc = self.rx_records([json.dumps(
            {"body": "长" * 1200, "meta": {"id": "nested"}, "id": "%s-C902" % hall},
            ensure_ascii=False).encode()], token)
        self.assertEqual(status, 200, doc)
        self.assertEqual([(x["id"], x["result"]) for x in doc["results"]],
                         [("%s-C902" % hall, "rejected")])

        # the receiver with its default max_line, the record put back: it arrives, once
        self.agent.term()
        self.rx_restart()
        r = self.requeue("province", big["id"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.agent.start()
        wait_until(lambda: rx_count(node) == 5 and not self.quarantined(), 30, 0.1,
                   "the record put back to arrive")
        self.assertExactlyOnce()

    def test_02_refusals_count_once_when_their_acknowledgement_failed(self):
        """Two records the receiver refuses, and the hall store busy when the agent records
        that (another writer holds it past the busy timeout): the batch goes again, and its
        two refusals must not be counted twice (2 + 2 would pass SET_ASIDE_RUN_MAX and trip
        the breaker, which then held them, and everything behind them, until a restart)."""
        node = self.up("ackfail")
        self.rx_restart(max_line=3000)
        bigs = [self.submit_big(), self.submit_big()]
        # the agent up and its province sink open (which writes to the store) first
        self.proxy.set_mode("500")
        self.agent.start()
        self.wait_error(r"HTTP 500")
        lock = node.db()
        lock.isolation_level = None
        lock.execute("BEGIN IMMEDIATE")     # the hall store's write lock, as a writer holds it
        try:
            self.proxy.set_mode("pass")
            try:
                wait_until(lambda: "province: the hall store cannot record the delivery"
                           in self.agent.log(), 30, 0.1,
                           "the agent to find the store busy when it records the refusals")
            except AssertionError as e:
                raise AssertionError("%s\nagent log:\n%s" % (e, self.agent.log_tail()))
        finally:
            lock.execute("ROLLBACK")
            lock.close()
        wait_until(lambda: len(self.quarantined()) == 2, 30, 0.1,
                   "both refused records set aside once the store is free")
        q = self.quarantined()
        self.assertEqual(set(q), {b["id"] for b in bigs}, q)
        after = self.submit(2, "之后")
        self.wait_drained(30)
        held = {r[0] for r in rx_q(node, "SELECT id FROM records")}
        self.assertEqual(held, {r["id"] for r in after})
        _, backlog, last = self.agent.province()
        self.assertEqual(backlog, 0)
        self.assertNotRegex(last or "", r"refuses record after record")
        self.assertNotIn("refuses record after record", self.agent.log())

    def submit_big(self):
        """One consultation whose record is over 3000 bytes (a 2000-character body)."""
        body = ("请问需要带哪些材料？" * 200)[:2000]
        return submit_many(self.node, 1, make=lambda i: ("/api/v1/consultations", {
            "category": "policy", "subject": "很长的咨询", "body": body, "name": "张三",
            "phone": "13800138000"}))[0]

    # ---- 3. the breaker -------------------------------------------------------------------
    def test_03_a_receiver_refusing_everything_trips_the_breaker(self):
        node = self.up("breaker")
        # every record is longer than the smallest max_line: each is refused on its merits
        self.rx_restart(max_line=64)
        self.agent.start()
        first = []
        for i in range(SET_ASIDE_RUN_MAX + 2):
            first += self.submit(1, "逐一%d" % i)
            time.sleep(0.8)
        err = self.wait_error(r"refuses record after record",
                              what="the agent to stop setting records aside")
        rest = self.submit(20, "其余")
        time.sleep(2.5)        # passes go on against the refusing receiver
        q = self.quarantined()
        tap("breaker: %d set aside, then: %s" % (len(q), err))
        self.assertLessEqual(len(q), SET_ASIDE_RUN_MAX, q)
        self.assertGreaterEqual(len(q), 1, "one record at a time, the first ones are set aside")
        self.assertEqual(set(q) - {r["id"] for r in first}, set(), "set aside out of order")
        for result, reason in q.values():
            self.assertEqual(result, "rejected")
            self.assertRegex(reason, r"max_line")
        total = len(first) + len(rest)
        _, backlog, last = self.agent.province()
        self.assertEqual(backlog, total - len(q), "the rest stays in the backlog")
        self.assertRegex(last, r"refuses record after record")
        self.assertEqual(rx_count(node), 0)
        self.assertEqual(self.quarantined(), q, "more set aside after the breaker tripped")

        # the fix: the backlog drains by itself; requeue brings the ones set aside
        self.rx_restart()
        self.wait_drained(30)
        self.assertEqual(rx_count(node), total - len(q))
        r = self.requeue("province", "--all")
        self.assertEqual(r.returncode, 0, r.stderr)
        wait_until(lambda: rx_count(node) == total and not self.quarantined(), 30, 0.1,
                   "the set-aside records to arrive after requeue")
        self.assertExactlyOnce()

    # ---- 4. retention ---------------------------------------------------------------------
    def test_04_retention_job_deletes_cases_past_the_period(self):
        node = self.up("retention", via_proxy=False)
        self.agent.start()
        receipts = self.submit(6, "保留")
        self.wait_drained(30)
        cases = {r[0]: r[1] for r in hall_rows(node, "SELECT id, case_no FROM outbox")}
        old = [cases[r["id"]] for r in receipts[:3]]
        moving = cases[receipts[3]["id"]]
        now = int(time.time())
        con_args = (now - 3 * 86400,)
        self.rx_exec("UPDATE records SET received_at = ? WHERE case_no IN (%s)"
                     % ",".join("?" * (len(old) + 1)), con_args + tuple(old) + (moving,))
        # the moving case got another record today: it stays whole
        hall = node.ini()["hall"]["code"]
        self.rx_exec("INSERT INTO records (id, sha256, type, hall_code, case_no, at, payload, "
                     "received_at) VALUES (?, 'x', 'event', ?, ?, 'now', '{}', ?)",
                     (hall + "-E1", hall, moving, now))
        self.rx_exec("INSERT INTO conflicts (id, held_sha256, sent_sha256, payload, at) "
                     "VALUES ('old', 'a', 'b', '{}', ?)", (now - 3 * 86400,))
        before = rx_count(node)

        # the job ran when the receiver started (30 years: nothing to do); a restart with
        # a day's period does not run it again within the day
        last = rx_q(node, "SELECT value FROM meta WHERE key = 'retention_last'")
        self.assertEqual(len(last), 1, "the daily job did not run at start")
        self.assertLessEqual(abs(int(last[0][0]) - now), 120)
        self.rx_restart(retention_days=1)
        time.sleep(1.5)
        self.assertEqual(rx_count(node), before, "the job ran twice within a day")

        # a day later (its last run set back a day), the running receiver deletes the old
        self.rx_exec("UPDATE meta SET value = ? WHERE key = 'retention_last'",
                     (now - 86400 - 60,))
        self.rx_restart(retention_days=1)
        wait_until(lambda: rx_count(node) == before - 3, 15, 0.1,
                   "the daily job to delete the 3 old cases")
        held = {r[0] for r in rx_q(node, "SELECT case_no FROM records")}
        self.assertEqual(held & set(old), set(), "an old case is still held")
        self.assertIn(moving, held)
        self.assertEqual(rx_q(node, "SELECT count(*) FROM records WHERE case_no = ?",
                              (moving,))[0][0], 2, "the moving case lost a record")
        self.assertEqual(rx_q(node, "SELECT count(*) FROM conflicts")[0][0], 0)
        self.assertRegex(self.node_log("province-receiver"),
                         r"retention: 3 record\(s\) of 3 case\(s\) quiet for over 1 days")
        self.assertGreater(int(rx_q(node, "SELECT value FROM meta WHERE key = "
                                          "'retention_last'")[0][0]), now - 60)

        # the purge command, by hand: the same job
        last_case = cases[receipts[5]["id"]]
        self.rx_exec("UPDATE records SET received_at = ? WHERE case_no = ?",
                     (now - 2 * 86400, last_case))
        r = self.rx_cmd(self.rx_ini(retention_days=1), "purge")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"^1 record\(s\) of 1 case\(s\)")
        self.assertEqual(rx_q(node, "SELECT count(*) FROM records WHERE case_no = ?",
                              (last_case,))[0][0], 0)
        # the default keeps 30 years
        r = self.rx_cmd(self.rx_ini(), "purge")
        self.assertRegex(r.stdout, r"^0 record\(s\) of 0 case\(s\) quiet for over 10950 days")
        # a period that is not a whole number of days from 1 is refused, naming the line
        for bad in ("0", "-3", "30y", ""):
            r = self.rx_cmd(self.rx_ini(retention_days=bad), "purge")
            self.assertNotEqual(r.returncode, 0, bad)
            self.assertRegex(r.stderr, r"receiver-test\.ini:5", bad)

    def rx_exec(self, sql, args=()):
        import sqlite3
        con = sqlite3.connect(os.path.join(self.rx_dir(), "province.db"), timeout=10)
        try:
            with con:
                con.execute(sql, args)
        finally:
            con.close()


if __name__ == "__main__":
    import unittest
    unittest.main()
