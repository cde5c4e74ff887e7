"""SPEC 4.2: every JSON endpoint and its success shape (and SPEC 2, 3 for the receipt)."""

import datetime
import json
import os
import re
import secrets
import subprocess
import threading
import unittest

from harness import (COMPLAINT, CONSULT, ROOT, TZ, Node, NodeTestCase, NO_LIMITS, Unchanged,
                     due_date, load_calendar, parse_time)

RECEIPT_KEYS = {"id", "case_no", "query_code", "kind", "status", "submitted_at", "due_at"}
# SPEC 3 asks deadlines computed without an official table to be marked provisional
RECEIPT_EXTRA_OK = {"due_provisional"}
CASE_KEYS = {"case_no", "kind", "subject", "body", "status", "status_text", "submitted_at",
             "due_at", "warning", "overdue", "phone_masked", "events", "reply", "rating",
             "synced_at"}
EVENT_KEYS = {"at", "status", "status_text", "note"}
CASE_NO = re.compile(r"^[0-9A-HJ-NP-Z]{23}$")    # digits and upper case, no O or I
DAYS = {"consultation": 3, "complaint": 5, "unresolved": 2}    # SPEC 3 defaults
CAL = load_calendar()


def guide_list(resp):
    """The guides of a list response: {"guides": [...]} or a bare list."""
    doc = resp.json()
    if isinstance(doc, dict):
        doc = doc.get("guides")
    if not isinstance(doc, list):
        raise AssertionError("not a list of guides: %r" % resp.body[:200])
    return doc


class ApiTest(NodeTestCase):
    NODE_NAME = "api"
    EXTRA_INI = NO_LIMITS

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # before anything was submitted
        cls.initial_health = cls.node.health()
        cls.hall_code = cls.node.ini()["hall"]["code"]

    # ---- helpers ----------------------------------------------------------------------
    def check_receipt(self, resp, kind):
        self.assertEqual(resp.status, 201, resp)
        self.assertTrue(resp.headers.get("Content-Type", "").startswith("application/json"))
        rc = resp.json()
        keys = set(rc)
        self.assertLessEqual(RECEIPT_KEYS, keys, "receipt lacks %s" % (RECEIPT_KEYS - keys))
        self.assertLessEqual(keys, RECEIPT_KEYS | RECEIPT_EXTRA_OK,
                             "receipt has fields SPEC 4.2 does not name: %s"
                             % (keys - RECEIPT_KEYS - RECEIPT_EXTRA_OK))
        self.assertIsInstance(rc["id"], str)
        self.assertTrue(rc["id"])
        self.assertEqual(len(rc["case_no"]), 23, rc["case_no"])
        self.assertRegex(rc["case_no"], CASE_NO)
        self.assertTrue(rc["case_no"].startswith(self.hall_code), rc["case_no"])
        self.assertRegex(rc["query_code"], r"^\d{6}$")
        self.assertEqual(rc["kind"], kind)
        self.assertEqual(rc["status"], "received")
        loc = resp.headers.get("Location")
        self.assertIsNotNone(loc, "no Location header")
        self.assertTrue(loc.endswith("/api/v1/cases/" + rc["case_no"]), loc)
        submitted = parse_time(rc["submitted_at"])
        now = datetime.datetime.now(TZ)
        self.assertLess(abs((now - submitted).total_seconds()), 120, rc["submitted_at"])
        due, provisional = due_date(CAL, submitted, DAYS[kind])
        self.assertEqual(rc["due_at"], due.isoformat(),
                         "%d working days after %s" % (DAYS[kind], rc["submitted_at"]))
        parse_time(rc["due_at"])
        if "due_provisional" in rc:
            self.assertIs(rc["due_provisional"], provisional)
        return rc

    def consult(self, **changes):
        data = dict(CONSULT)
        data.update(changes)
        return self.node.json_post("/api/v1/consultations", data)

    # ---- health and hall --------------------------------------------------------------
    def test_health_shape(self):
        h = self.initial_health
        self.assertEqual(set(h), {"status", "hall_code", "sync"}, h)
        self.assertEqual(h["status"], "ok")
        self.assertEqual(h["hall_code"], self.hall_code)
        self.assertRegex(h["hall_code"], r"^\d{12}$")
        self.assertLessEqual({"backlog", "last_uplink_at", "last_downlink_at"}, set(h["sync"]))
        self.assertIs(type(h["sync"]["backlog"]), int)
        self.assertEqual(h["sync"]["backlog"], 0, "a fresh node has nothing to sync")
        for k in ("last_uplink_at", "last_downlink_at"):
            v = h["sync"][k]
            if v is not None:
                parse_time(v)
        r = self.node.get("/api/v1/health")
        self.assertTrue(r.headers.get("Content-Type", "").startswith("application/json"))

    def test_health_backlog_counts_outbox(self):
        before = self.node.health()["sync"]["backlog"]
        self.assertEqual(before, self.node.counts(("outbox",))["outbox"])
        self.node.submit()
        after = self.node.health()["sync"]["backlog"]
        self.assertEqual(after, before + 1)
        self.assertEqual(after, self.node.counts(("outbox",))["outbox"])

    def test_hall(self):
        r = self.node.get("/api/v1/hall")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.headers.get("Content-Type", "").startswith("application/json"))
        doc = r.json()
        ini = self.node.ini()["hall"]
        for k in ("name", "address", "hours", "phone", "email", "letter_address"):
            self.assertEqual(doc.get(k), ini[k], k)
        if "hall_code" in doc:
            self.assertEqual(doc["hall_code"], ini["code"])

    # ---- submissions --------------------------------------------------------------------
    def test_consultation_policy(self):
        rc = self.check_receipt(self.consult(category="policy"), "consultation")
        self.assertEqual(self.node.lookup(rc["case_no"], rc["query_code"]).status, 200)

    def test_consultation_procedure(self):
        self.check_receipt(self.consult(category="procedure", item="城乡居民基本养老保险参保登记",
                                        email="zhangsan@example.cn"), "consultation")

    def test_consultation_public_info(self):
        self.check_receipt(self.consult(category="public_info"), "consultation")

    def test_complaint(self):
        r = self.node.json_post("/api/v1/complaints", dict(COMPLAINT, type="complaint",
                                                            name="李四", target="社保窗口 3 号"))
        self.check_receipt(r, "complaint")

    def test_unresolved(self):
        r = self.node.json_post("/api/v1/complaints", dict(COMPLAINT, type="unresolved",
                                                            subject="办理低保跑了三次没办成"))
        self.check_receipt(r, "unresolved")

    def test_receipts_unique(self):
        seen_no, seen_id = set(), set()
        for _ in range(5):
            rc = self.node.submit()
            self.assertNotIn(rc["case_no"], seen_no)
            self.assertNotIn(rc["id"], seen_id)
            seen_no.add(rc["case_no"])
            seen_id.add(rc["id"])

    # ---- lookup -------------------------------------------------------------------------
    def test_case_lookup_shape(self):
        phone = "13812349876"
        rc = self.node.submit(phone=phone)
        r = self.node.lookup(rc["case_no"], rc["query_code"])
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.headers.get("Content-Type", "").startswith("application/json"))
        self.assertNotIn(phone.encode(), r.body, "the full phone number is in the lookup")
        c = r.json()
        self.assertLessEqual(CASE_KEYS, set(c), "case lacks %s" % (CASE_KEYS - set(c)))
        self.assertEqual(c["case_no"], rc["case_no"])
        self.assertEqual(c["kind"], "consultation")
        self.assertEqual(c["subject"], CONSULT["subject"])
        self.assertEqual(c["body"], CONSULT["body"])
        self.assertEqual(c["status"], "received")
        self.assertEqual(c["status_text"], "已提交")
        self.assertEqual(c["submitted_at"], rc["submitted_at"])
        self.assertEqual(c["due_at"], rc["due_at"])
        self.assertIs(c["warning"], False)
        self.assertIs(c["overdue"], False)
        pm = c["phone_masked"]
        self.assertIsInstance(pm, str)
        self.assertNotEqual(pm, phone)
        self.assertIn("*", pm)
        self.assertLessEqual(len(re.findall(r"\d", pm)), 7, pm)
        self.assertIsNone(c["reply"])
        self.assertIsNone(c["rating"])
        if c["synced_at"] is not None:
            parse_time(c["synced_at"])
        self.assertIsInstance(c["events"], list)
        self.assertGreaterEqual(len(c["events"]), 1)
        for e in c["events"]:
            self.assertLessEqual(EVENT_KEYS, set(e), e)
            parse_time(e["at"])
        first = c["events"][0]
        self.assertEqual(first["status"], "received")
        self.assertEqual(first["status_text"], "已提交")
        for k in ("name", "phone", "email", "query_code"):
            self.assertNotIn(k, c, "the case shows %s" % k)

    def test_lookup_landline_masked(self):
        rc = self.node.submit(phone="0731-84001234")
        r = self.node.lookup(rc["case_no"], rc["query_code"])
        self.assertEqual(r.status, 200, r)
        self.assertNotIn(b"84001234", r.body)
        self.assertNotIn(b"0731-84001234", r.body)
        self.assertIn("*", r.json()["phone_masked"])

    def test_lookup_lower_case_and_spaced(self):
        rc = self.node.submit()
        no = rc["case_no"].lower()
        spaced = " ".join(no[i:i + 4] for i in range(0, len(no), 4))
        for variant in (no, spaced):
            r = self.node.lookup(variant, rc["query_code"])
            self.assertEqual(r.status, 200, "%r: %r" % (variant, r))
            self.assertEqual(r.json()["case_no"], rc["case_no"])

    def test_unknown_case_and_wrong_code_same_404(self):
        # a well-formed number this store never issued: one from another node's store
        other = Node("api-other")
        try:
            other.start(NO_LIMITS)
            foreign = other.submit()
        finally:
            other.cleanup()
        rc = self.node.submit()
        wrong = "%06d" % ((int(rc["query_code"]) + 1) % 1000000)
        r_wrong = self.node.lookup(rc["case_no"], wrong)
        r_unknown = self.node.lookup(foreign["case_no"], foreign["query_code"])
        self.assertJsonError(r_wrong, 404)
        self.assertJsonError(r_unknown, 404)
        self.assertEqual(r_wrong.body, r_unknown.body)
        # and the case itself still opens with its code
        self.assertEqual(self.node.lookup(rc["case_no"], rc["query_code"]).status, 200)

    def test_wrong_check_character_404(self):
        rc = self.node.submit()
        no = rc["case_no"]
        alphabet = "0123456789ABCDEFGHJKLMNPQRTVWXY"
        bad = no[:-1] + next(c for c in alphabet if c != no[-1])
        r = self.node.lookup(bad, rc["query_code"])
        self.assertJsonError(r, 404)
        # an adjacent swap (of two different characters) is caught too
        i = next(i for i in range(12, 22) if no[i] != no[i + 1])
        swapped = no[:i] + no[i + 1] + no[i] + no[i + 2:]
        self.assertJsonError(self.node.lookup(swapped, rc["query_code"]), 404)

    # ---- rating ---------------------------------------------------------------------------
    def rate(self, case_no, body):
        return self.node.json_post("/api/v1/cases/%s/rating" % case_no, body)

    def test_rating_before_answer_409(self):
        rc = self.node.submit()
        with Unchanged(self, self.node):
            r = self.rate(rc["case_no"], {"code": rc["query_code"], "level": 5})
            self.assertJsonError(r, 409)

    def test_rating_after_answer(self):
        rc = self.node.submit()
        self.node.answer(rc["case_no"], "已答复：请携带身份证到街道社保窗口办理。")
        c = self.node.lookup(rc["case_no"], rc["query_code"]).json()
        self.assertEqual(c["status"], "answered")
        self.assertEqual(c["status_text"], "已答复")
        self.assertEqual(c["reply"]["text"], "已答复：请携带身份证到街道社保窗口办理。")
        parse_time(c["reply"]["at"])
        self.assertIn("answered", [e["status"] for e in c["events"]])
        with Unchanged(self, self.node):
            for level in (1, 2):
                r = self.rate(rc["case_no"], {"code": rc["query_code"], "level": level})
                self.assertJsonError(r, 422, field="comment")
            for level in (6, 0):
                r = self.rate(rc["case_no"], {"code": rc["query_code"], "level": level})
                self.assertJsonError(r, 422, field="level")
            wrong = "%06d" % ((int(rc["query_code"]) + 1) % 1000000)
            self.assertJsonError(self.rate(rc["case_no"], {"code": wrong, "level": 5}), 404)
        before = self.node.counts(("ratings",))["ratings"]
        r = self.rate(rc["case_no"], {"code": rc["query_code"], "level": 4})
        self.assertEqual(r.status, 201, r)
        self.assertEqual(self.node.counts(("ratings",))["ratings"], before + 1)
        with Unchanged(self, self.node):
            r = self.rate(rc["case_no"], {"code": rc["query_code"], "level": 5})
            self.assertJsonError(r, 409)
        c = self.node.lookup(rc["case_no"], rc["query_code"]).json()
        self.assertEqual(c["rating"]["level"], 4)
        parse_time(c["rating"]["at"])

    def test_bad_rating_with_comment_accepted(self):
        rc = self.node.submit()
        self.node.answer(rc["case_no"])
        r = self.rate(rc["case_no"], {"code": rc["query_code"], "level": 1,
                                      "comment": "答复没有解决我的问题，仍然办不成。"})
        self.assertEqual(r.status, 201, r)
        self.assertEqual(self.node.lookup(rc["case_no"], rc["query_code"]).json()
                         ["rating"]["level"], 1)

    # ---- guides -----------------------------------------------------------------------
    def all_guides(self):
        r = self.node.get("/api/v1/guides")
        self.assertEqual(r.status, 200, r)
        return guide_list(r)

    def test_guides_list(self):
        guides = self.all_guides()
        self.assertGreater(len(guides), 1)
        for g in guides:
            self.assertIsInstance(g.get("id"), str)
            self.assertIsInstance(g.get("name"), str)
            self.assertTrue(g["name"])

    def test_guides_search(self):
        everything = self.all_guides()
        r = self.node.get("/api/v1/guides?q=" + "%E5%85%BB%E8%80%81")    # 养老
        self.assertEqual(r.status, 200, r)
        found = guide_list(r)
        self.assertTrue(found, "no guide for 养老")
        self.assertTrue(any("养老" in g["name"] for g in found), found)
        self.assertLess(len(found), len(everything), "the search did not filter")
        for g in found:
            self.assertIn("养老", g["name"] + (g.get("department") or ""), g)

    def test_guides_search_sql_metacharacters(self):
        n = len(self.all_guides())
        for q in ("%27%20OR%20%271%27%3D%271", "%25", "_", "%27%29%3B%20DROP%20TABLE%20guides%3B--",
                  "%22%20OR%20%22%22%3D%22"):
            r = self.node.get("/api/v1/guides?q=" + q)
            self.assertEqual(r.status, 200, "%s: %r" % (q, r))
            self.assertEqual(guide_list(r), [], q)
        self.assertEqual(len(self.all_guides()), n)

    def test_guide_by_id(self):
        g0 = next(g for g in self.all_guides() if "养老" in g["name"])
        r = self.node.get("/api/v1/guides/" + g0["id"])
        self.assertEqual(r.status, 200, r)
        g = r.json()
        self.assertEqual(g["id"], g0["id"])
        self.assertEqual(g["name"], g0["name"])
        # SPEC 4.2: item name, materials, time limit, fees and basis, delivery, where to ask,
        # office address and hours
        for k in ("name", "materials", "time_limit", "fees", "fee_basis", "delivery", "consult",
                  "address", "hours"):
            self.assertIn(k, g, "guide lacks %s" % k)
            self.assertTrue(g[k], "guide's %s is empty" % k)
        self.assertIsInstance(g["materials"], (list, str))

    def test_unknown_guide_404(self):
        self.assertJsonError(self.node.get("/api/v1/guides/no-such-guide"), 404)

    # ---- Idempotency-Key ----------------------------------------------------------------
    def test_idempotency_same_key_same_body(self):
        key = "e2e-" + secrets.token_hex(8)
        body = dict(CONSULT, subject="重复提交测试 " + key)
        before = self.node.counts()
        r1 = self.node.json_post("/api/v1/consultations", body, {"Idempotency-Key": key})
        rc1 = self.check_receipt(r1, "consultation")
        r2 = self.node.json_post("/api/v1/consultations", body, {"Idempotency-Key": key})
        self.assertEqual(r2.status, 200, r2)
        rc2 = r2.json()
        for k in ("id", "case_no", "query_code", "submitted_at", "due_at"):
            self.assertEqual(rc2[k], rc1[k], k)
        after = self.node.counts()
        self.assertEqual(after["cases"], before["cases"] + 1)
        self.assertEqual(after["outbox"], before["outbox"] + 1)

    def test_idempotency_same_key_other_body(self):
        key = "e2e-" + secrets.token_hex(8)
        r1 = self.node.json_post("/api/v1/consultations", dict(CONSULT, subject="第一件 " + key),
                                 {"Idempotency-Key": key})
        self.assertEqual(r1.status, 201, r1)
        r2 = self.node.json_post("/api/v1/consultations", dict(CONSULT, subject="第二件 " + key),
                                 {"Idempotency-Key": key})
        self.assertEqual(r2.status, 201, r2)
        self.assertNotEqual(r1.json()["case_no"], r2.json()["case_no"])
        self.assertEqual(self.node.lookup(r2.json()["case_no"], r2.json()["query_code"])
                         .json()["subject"], "第二件 " + key)

    def test_idempotency_same_key_other_fields(self):
        # the same key with a body that differs only in fields other than subject, body and
        # phone is a different request too: it must not silently get the first receipt
        key = "e2e-" + secrets.token_hex(8)
        first = dict(CONSULT, subject="键重用 " + key, category="policy", name="王五")
        r1 = self.node.json_post("/api/v1/consultations", first, {"Idempotency-Key": key})
        self.assertEqual(r1.status, 201, r1)
        second = dict(first, category="public_info", name="赵六", email="zl@example.cn")
        r2 = self.node.json_post("/api/v1/consultations", second, {"Idempotency-Key": key})
        self.assertNotEqual(r2.status, 200,
                            "a different body under a used Idempotency-Key was answered "
                            "with the first case's receipt; the second body was dropped")
        if r2.status == 201:
            self.assertNotEqual(r2.json()["case_no"], r1.json()["case_no"])

    def test_idempotency_short_key(self):
        # a short key is still a key: the retry must not become a second case
        key = "retry-" + secrets.token_hex(1)    # 8 characters would be "retry-ab"
        key = key[:7]
        body = dict(CONSULT, subject="短键重试 " + secrets.token_hex(4))
        before = self.node.counts(("cases",))["cases"]
        r1 = self.node.json_post("/api/v1/consultations", body, {"Idempotency-Key": key})
        r2 = self.node.json_post("/api/v1/consultations", body, {"Idempotency-Key": key})
        if r1.status == 201:
            self.assertIn(r2.status, (200, 201), r2)
            self.assertEqual(r2.json()["case_no"], r1.json()["case_no"],
                             "a retry with Idempotency-Key %r became a second case" % key)
            self.assertEqual(self.node.counts(("cases",))["cases"], before + 1)
        else:
            # refusing a key the node will not honour is fine too
            self.assertJsonError(r1, r1.status)
            self.assertIn(r1.status, (400, 422))

    # ---- concurrency --------------------------------------------------------------------
    def parallel(self, n, fn):
        results = [None] * n
        barrier = threading.Barrier(n)

        def run(i):
            barrier.wait()
            results[i] = fn(i)
        threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        return results

    def test_parallel_submissions_distinct(self):
        before = self.node.counts(("cases",))["cases"]
        rs = self.parallel(12, lambda i: self.consult(subject="并发提交 %d" % i))
        self.assertEqual([r.status for r in rs], [201] * 12)
        nos = {r.json()["case_no"] for r in rs}
        self.assertEqual(len(nos), 12)
        self.assertEqual(self.node.counts(("cases",))["cases"], before + 12)

    def test_write_threads_batch_read_threads_normal(self):
        """hall-write's threads, the workers' too, run SCHED_BATCH as its unit's
        CPUSchedulingPolicy=batch has them (conf/demo starts it under chrt); hall-read's keep
        the normal policy, so a lookup still goes first."""
        with open(os.path.join(ROOT, "conf", "systemd", "hall-write.service")) as f:
            self.assertIn("\nCPUSchedulingPolicy=batch\n", f.read())
        for prog, policy in (("hall-write", os.SCHED_BATCH), ("hall-read", os.SCHED_OTHER)):
            master = self.node.pid(prog)
            workers = subprocess.run(["pgrep", "-P", str(master)], capture_output=True,
                                     text=True).stdout.split()
            self.assertTrue(workers, prog)
            tids = [int(t) for pid in [master] + [int(w) for w in workers]
                    for t in os.listdir("/proc/%d/task" % pid)]
            self.assertGreater(len(tids), len(workers) + 1, "%s: no threads" % prog)
            self.assertEqual({os.sched_getscheduler(t) for t in tids}, {policy}, prog)

    def test_parallel_same_key_one_case(self):
        key = "e2e-par-" + secrets.token_hex(8)
        body = dict(CONSULT, subject="并发重试 " + key)
        before = self.node.counts(("cases",))["cases"]
        rs = self.parallel(6, lambda i: self.node.json_post("/api/v1/consultations", body,
                                                            {"Idempotency-Key": key}))
        self.assertEqual(sorted(r.status for r in rs), [200] * 5 + [201], rs)
        self.assertEqual(len({r.json()["case_no"] for r in rs}), 1)
        self.assertEqual(self.node.counts(("cases",))["cases"], before + 1)

    def test_parallel_ratings_one_accepted(self):
        rc = self.node.submit()
        self.node.answer(rc["case_no"])
        rs = self.parallel(6, lambda i: self.rate(rc["case_no"], {"code": rc["query_code"],
                                                                   "level": 5 - i % 3}))
        self.assertEqual(sorted(r.status for r in rs), [201] + [409] * 5, rs)
        con = self.node.db()
        try:
            n = con.execute("SELECT count(*) FROM ratings WHERE case_no = ?",
                            (rc["case_no"],)).fetchone()[0]
        finally:
            con.close()
        self.assertEqual(n, 1)

    # ---- rating and the case's status ---------------------------------------------------
    def test_rating_by_status(self):
        for status, want in (("delivered", 409), ("accepted", 409), ("transferred", 409),
                             ("resolved", 201), ("rejected", 201)):
            rc = self.node.submit()
            self.node.answer(rc["case_no"], "县级处理意见：%s" % status, status=status)
            c = self.node.lookup(rc["case_no"], rc["query_code"]).json()
            self.assertEqual(c["status"], status)
            r = self.rate(rc["case_no"], {"code": rc["query_code"], "level": 3})
            self.assertEqual(r.status, want, "rating a %s case: %r" % (status, r))


class DeadlinesConfigTest(NodeTestCase):
    """SPEC 3: the time limits are configurable ([deadlines] in the INI)."""
    NODE_NAME = "deadlines"
    EXTRA_INI = NO_LIMITS + "\n[deadlines]\nconsultation_days = 7\ncomplaint_days = 1\n" \
        "unresolved_days = 4\n"

    def check(self, rc, n):
        due, provisional = due_date(CAL, parse_time(rc["submitted_at"]), n)
        self.assertEqual(rc["due_at"], due.isoformat(), "%d working days" % n)

    def test_configured_days(self):
        self.check(self.node.submit(), 7)
        self.check(self.node.submit(COMPLAINT, path="/api/v1/complaints", type="complaint"), 1)
        self.check(self.node.submit(COMPLAINT, path="/api/v1/complaints", type="unresolved"), 4)


if __name__ == "__main__":
    unittest.main()
