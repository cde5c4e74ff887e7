"""SPEC 5.6 at the hall, end to end: the citizen's `notify` and a new query code by SMS.

One hall with its own county MariaDB (sql/county 015: notifications, cases.notify, the
`code` record in hall_upload) and reference province receiver, the demo's hall-agent daemon
syncing both. No notifier runs, so the county's notices stay pending with their secret,
which is how the tests read a new code the way the citizen's SMS would carry it.

- notify=false (API, and the form's unticked box) reaches the county as cases.notify = 0 and
  the county queues no notice for it; the default queues them; a non-boolean is 422;
- POST /api/v1/cases/{no}/resend-code: 202 with the phone's last four digits, never the code; the
  old code 404s at once, the new one (the county's pending SMS carries it) opens the case;
  the county holds the new code's MAC and one `code` SMS notice; the province never
  receives a code record (its store, its reconcile, the hall's quarantine) and the hall's
  backlogs do not count them for it;
- limits: a second code within 10 minutes and a fourth in a day are 429 with Retry-After
  (earlier codes simulated in the hall's code_resends table), the per-address submissions
  limit holds, a case locked after wrong codes gets none and stays locked; an unknown case
  is 404; a landline and a case closed long ago are 409;
- the form: the link on the progress page, the page, its CSRF token, the answer.

Python 3 standard library only.
"""

import json
import os
import re
import sqlite3
import time
import unittest

from county import County, hall_rows, hall_scalar, wait_until
from harness import CONSULT, Form, Node, finish_node, parse_forms

ALPHA = "0123456789ABCDEFGHJKLMNPQRTVWXY"
LIMITS = ("\n[limits]\nsubmissions_per_min = 0\nlookups_per_min = 0\nwrong_code_max = 5\n"
          "lockout_min = 15\n")


def caseno(hall_code, seq):
    """A valid case number (lib/core/caseno.c): hall code, 10 base-31 symbols, check symbol."""
    body = hall_code
    digits = []
    for _ in range(10):
        digits.append(ALPHA[seq % 31])
        seq //= 31
    body += "".join(reversed(digits))
    total, w = 0, 3
    for i in range(21, -1, -1):
        total = (total + ALPHA.index(body[i]) * w) % 31
        w = w * 3 % 31
    return body + ALPHA[(31 - total) % 31]


def phone(i):
    """A mobile number of this run."""
    return "1390%03d%04d" % (os.getpid() % 1000, 5000 + i)


class ResendTest(unittest.TestCase):
    node = None
    seq = 0

    @classmethod
    def setUpClass(cls):
        cls.node = Node("resend", county=True, province=True)
        cls.addClassCleanup(finish_node, cls.node)
        cls.node.start(LIMITS)
        cls.county = County(cls.node)
        if cls.node.pid("hall-agent") is None:
            raise AssertionError("conf/demo did not start hall-agent")

    def tearDown(self):
        problems = self.node.new_log_problems()
        if problems:
            self.fail("the hall programs logged problems:\n" + "\n".join(problems[:20]))

    # ---- helpers --------------------------------------------------------------------
    def submit(self, **changes):
        ResendTest.seq += 1
        data = dict(CONSULT, phone=phone(ResendTest.seq),
                    subject="告知测试 %d" % ResendTest.seq)
        data.update(changes)
        return self.node.submit(data)

    def at_county(self, case_no):
        wait_until(lambda: self.county.count("cases", "case_no = '%s'" % case_no), 60, 0.2,
                   "case %s at the county" % case_no)

    def notices(self, case_no, event=None):
        """The county's notices of a case: [(event, channel, to_addr, secret, state)]."""
        where = "case_no = '%s'" % case_no
        if event is not None:
            where += " AND event = '%s'" % event
        return self.county.rows("SELECT event, channel, to_addr, secret, state FROM "
                                "notifications WHERE %s ORDER BY created_at, channel" % where)

    def hall_code_of(self, case_no):
        return hall_scalar(self.node, "SELECT query_code FROM cases WHERE case_no = ?",
                           (case_no,))

    def resend(self, case_no, body=None):
        if body is None:
            return self.node.request("POST", "/api/v1/cases/%s/resend-code" % case_no)
        return self.node.json_post("/api/v1/cases/%s/resend-code" % case_no, body)

    def assertError(self, resp, status, code=None, field=None):
        self.assertEqual(resp.status, status, resp)
        self.assertTrue(resp.headers.get("Content-Type", "").startswith("application/json"))
        err = resp.json()["error"]
        self.assertRegex(err["message"], r"[\u4e00-\u9fff]")
        if code is not None:
            self.assertEqual(err["code"], code, err)
        if field is not None:
            self.assertEqual(err.get("field"), field, err)
        return err

    def unchanged(self):
        return (self.node.counts(("cases", "outbox", "code_resends")),
                hall_rows(self.node, "SELECT case_no, query_code FROM cases ORDER BY case_no"))

    # ---- notify ------------------------------------------------------------------------
    def test_notify_reaches_the_county(self):
        off = self.submit(notify=False, email="notify-off-%d@example.cn" % os.getpid())
        on = self.submit(email="notify-on-%d@example.cn" % os.getpid())
        said = self.submit(notify=True)
        self.assertEqual(hall_scalar(self.node, "SELECT notify FROM cases WHERE case_no = ?",
                                     (off["case_no"],)), 0)
        payload = {rc["case_no"]: json.loads(hall_scalar(
            self.node, "SELECT payload FROM outbox WHERE id = ?", (rc["id"],)))
            for rc in (off, on, said)}
        self.assertIs(payload[off["case_no"]]["notify"], False)
        self.assertNotIn("notify", payload[on["case_no"]])
        self.assertNotIn("notify", payload[said["case_no"]])
        for rc in (off, on, said):
            self.at_county(rc["case_no"])
        self.assertEqual(self.county.scalar("SELECT notify FROM cases WHERE case_no = '%s'"
                                            % off["case_no"]), "0")
        self.assertEqual(self.county.scalar("SELECT notify FROM cases WHERE case_no = '%s'"
                                            % on["case_no"]), "1")
        # opted out: no notice at all; the default: the delivery told by SMS and e-mail
        self.assertEqual(self.notices(off["case_no"]), [])
        got = self.notices(on["case_no"])
        self.assertEqual(sorted((e, c) for e, c, *_ in got),
                         [("delivered", "email"), ("delivered", "sms")], got)
        self.assertEqual([len(self.notices(said["case_no"]))], [1])    # no e-mail given

    def test_notify_not_a_boolean(self):
        before = self.unchanged()
        for bad in ("false", 0, 1, "", [True], {"x": 1}):
            r = self.node.json_post("/api/v1/consultations", dict(CONSULT, notify=bad))
            self.assertError(r, 422, field="notify")
        r = self.node.json_post("/api/v1/complaints", {
            "type": "complaint", "subject": "态度", "body": "态度生硬", "phone": phone(0),
            "notify": "no"})
        self.assertError(r, 422, field="notify")
        # a boolean anywhere else is still a wrong type
        r = self.node.json_post("/api/v1/consultations", dict(CONSULT, subject=True))
        self.assertError(r, 422, field="subject")
        self.assertEqual(self.unchanged(), before)
        # and a complaint takes notify and an e-mail address too (SPEC 4.2)
        rc = self.node.submit({"type": "complaint", "subject": "态度", "body": "态度生硬",
                               "phone": phone(1), "notify": False,
                               "email": "complaint@example.cn"}, path="/api/v1/complaints")
        self.assertEqual(hall_rows(self.node, "SELECT notify, email FROM cases WHERE "
                                              "case_no = ?", (rc["case_no"],)),
                         [(0, "complaint@example.cn")])

    def test_notify_form(self):
        for path in ("/consult", "/complaint"):
            page = self.node.get(path).text
            self.assertIn("通过短信、电子邮件告知办理进度", page)
            self.assertRegex(page, r'<input type="checkbox" name="notify" value="1" checked>')
            self.assertIn('name="notify_shown"', page)
        fields = {k: v for k, v in CONSULT.items()}

        def post(extra, drop=()):
            f = Form(self.node, "/consult")
            data = dict(f.hidden)
            for k in drop:
                data.pop(k, None)
            data.update(fields, subject="表单告知 %s" % time.time_ns(), **extra)
            r = self.node.form_post("/consult", data, cookie=f.cookie)
            self.assertEqual(r.status, 200, r.text[:500])
            no = re.search(r'办件编号</dt><dd class="big">([0-9A-Z ]+)<', r.text).group(1)
            return hall_scalar(self.node, "SELECT notify FROM cases WHERE case_no = ?",
                               (no.replace(" ", ""),))

        self.assertEqual(post({"notify": "1"}), 1)          # ticked, as the page comes
        self.assertEqual(post({}), 0)                       # unticked: nothing sent
        self.assertEqual(post({}, drop=("notify_shown",)), 1)    # a form from before the box
        # a form shown again keeps the citizen's choice
        f = Form(self.node, "/consult")
        r = self.node.form_post("/consult", dict(f.hidden, **dict(fields, subject="")),
                                cookie=f.cookie)
        self.assertEqual(r.status, 422)
        self.assertRegex(r.text, r'<input type="checkbox" name="notify" value="1">')

    # ---- a new code --------------------------------------------------------------------
    def test_resend_code(self):
        rc = self.submit()
        no, old = rc["case_no"], rc["query_code"]
        self.at_county(no)
        r = self.resend(no)
        self.assertEqual(r.status, 202, r)
        doc = r.json()
        masked = "*******" + phone(ResendTest.seq)[-4:]     # the last four digits alone
        self.assertEqual(doc, {"case_no": no, "status": "queued", "sent_to": masked})
        new = self.hall_code_of(no)
        self.assertNotEqual(new, old)
        self.assertNotIn(new.encode(), r.body)
        # the old code stops working at once; the new one opens the case
        self.assertEqual(self.node.lookup(no, old).status, 404)
        self.assertEqual(self.node.lookup(no, new).status, 200)
        # the county: one SMS notice carrying it to the phone on file, and the new MAC
        got = wait_until(lambda: self.notices(no, "code"), 60, 0.2, "the code's notice")
        self.assertEqual(got, [("code", "sms", phone(ResendTest.seq), new, "pending")])
        mac = hall_scalar(self.node, "SELECT query_mac FROM cases WHERE case_no = ?", (no,))
        self.assertEqual(self.county.scalar("SELECT query_mac FROM case_query_macs WHERE "
                                            "case_no = '%s'" % no), mac)
        # the code the SMS carries (what the citizen reads) opens the case
        self.assertEqual(self.node.lookup(no, got[0][3]).status, 200)
        # a second within 10 minutes: refused, nothing written
        before = self.unchanged()
        r = self.resend(no, {})
        self.assertError(r, 429, code="resend_too_soon")
        ra = int(r.headers["Retry-After"])
        self.assertTrue(500 <= ra <= 600, ra)
        self.assertEqual(self.unchanged(), before)
        # ten minutes later (the hall's own record of it moved back): a second code
        con = self.node.db()
        with con:
            con.execute("UPDATE code_resends SET at = at - 601 WHERE case_no = ?", (no,))
        con.close()
        r = self.resend(no, {})
        self.assertEqual(r.status, 202, r)
        newer = self.hall_code_of(no)
        self.assertNotEqual(newer, new)
        self.assertEqual(self.node.lookup(no, new).status, 404)
        got = wait_until(lambda: len(self.notices(no, "code")) == 2 and self.notices(no, "code"),
                         60, 0.2, "the second code's notice")
        self.assertEqual(got[1][3], newer)
        self.province_never_got_a_code()

    def province_never_got_a_code(self):
        """Once the province has passed every code record: none reached it."""
        after = self.submit()
        top = hall_scalar(self.node, "SELECT seq FROM outbox WHERE id = ?", (after["id"],))
        wait_until(lambda: hall_scalar(self.node, "SELECT acked_seq FROM sync_dest WHERE "
                                                  "dest = 'province'") >= top,
                   60, 0.2, "the province to take the records after the codes")
        codes = hall_rows(self.node, "SELECT id, seq FROM outbox WHERE type = 'code'")
        self.assertTrue(codes)
        rx = os.path.join(self.node.var, "province", "province.db")
        con = sqlite3.connect(rx, timeout=10)
        try:
            held = {r[0] for r in con.execute("SELECT id FROM records")}
            types = {r[0] for r in con.execute("SELECT DISTINCT type FROM records")}
            conflicts = con.execute("SELECT count(*) FROM conflicts").fetchone()[0]
        finally:
            con.close()
        self.assertIn(after["id"], held)
        self.assertFalse(held & {i for i, _ in codes})
        self.assertNotIn("code", types)
        self.assertEqual(conflicts, 0)
        self.assertEqual(hall_scalar(self.node, "SELECT count(*) FROM quarantine"), 0)
        # the receiver's reconcile: it holds none of them
        conn = self.node.province_connection()
        try:
            token = open(os.path.join(self.node.var, "hall", "secrets",
                                      "province.token")).read().strip()
            conn.request("POST", "/v1/reconcile",
                         body=json.dumps({"ids": [i for i, _ in codes]}),
                         headers={"Content-Type": "application/json",
                                  "Authorization": "Bearer " + token})
            resp = conn.getresponse()
            answer = resp.read().decode("utf-8")
        finally:
            conn.close()
        self.assertEqual(resp.status, 200, answer)
        self.assertEqual(json.loads(answer), {"held": {}})
        # and no backlog counts them for the province
        wait_until(lambda: self.node.health()["sync"]["backlog"] == 0, 60, 0.2,
                   "the health backlog to be 0")
        # the code records the county holds keep only their id and hash (retention's tick)
        wait_until(lambda: hall_scalar(self.node, "SELECT count(*) FROM outbox WHERE type = "
                                                  "'code' AND payload IS NULL AND hash IS NOT "
                                                  "NULL") == len(codes), 60, 0.5,
                   "the code records' payloads to be stripped")

    def test_day_limit(self):
        rc = self.submit()
        no = rc["case_no"]
        now = int(time.time())
        con = self.node.db()
        with con:    # three codes earlier today, the last 20 minutes ago
            con.executemany("INSERT INTO code_resends (case_no, at) VALUES (?, ?)",
                            [(no, now - 7200), (no, now - 3600), (no, now - 1200)])
        con.close()
        before = self.unchanged()
        r = self.resend(no)
        self.assertError(r, 429, code="resend_limit")
        ra = int(r.headers["Retry-After"])
        self.assertTrue(86400 - 7200 - 60 <= ra <= 86400 - 7200, ra)
        self.assertEqual(self.unchanged(), before)
        self.assertEqual(self.node.lookup(no, rc["query_code"]).status, 200)
        # rolling 24 hours: once the first is a day old, one more
        con = self.node.db()
        with con:
            con.execute("UPDATE code_resends SET at = ? WHERE case_no = ? AND at = ?",
                        (now - 86401, no, now - 7200))
        con.close()
        self.assertEqual(self.resend(no).status, 202)

    def test_refusals(self):
        code = self.node.ini()["hall"]["code"]
        # an unknown case: 404, as a lookup's; a number with a wrong check character too
        before = self.unchanged()
        self.assertError(self.resend(caseno(code, 1)), 404, code="not_found")
        self.assertError(self.resend(caseno(code, 1)[:-1] + "0"), 404, code="not_found")
        self.assertError(self.resend("NOT-A-CASE"), 404, code="not_found")
        # a body that is not empty
        rc = self.submit()
        self.assertError(self.resend(rc["case_no"], {"code": "123456"}), 422, field="code")
        self.assertError(self.node.request("POST", "/api/v1/cases/%s/resend-code"
                                           % rc["case_no"], body="x",
                                           headers={"Content-Type": "text/plain"}), 415)
        # a landline: no SMS can carry it
        land = self.submit(phone="0731-84567890")
        err = self.assertError(self.resend(land["case_no"]), 409, code="no_mobile")
        self.assertIn("手机", err["message"])
        # closed long ago
        closed = self.submit()
        self.node.answer(closed["case_no"], status="resolved")
        con = self.node.db()
        with con:
            con.execute("UPDATE cases SET updated_at = updated_at - 31 * 86400 "
                        "WHERE case_no = ?", (closed["case_no"],))
        con.close()
        self.assertError(self.resend(closed["case_no"]), 409, code="closed")
        self.assertEqual(self.node.lookup(land["case_no"], land["query_code"]).status, 200)
        self.assertEqual(self.node.lookup(closed["case_no"], closed["query_code"]).status, 200)
        self.assertEqual(hall_scalar(self.node, "SELECT count(*) FROM code_resends WHERE "
                                                "case_no IN (?, ?)",
                                     (land["case_no"], closed["case_no"])), 0)
        del before

    def test_lockout_holds(self):
        rc = self.submit()
        no = rc["case_no"]
        wrong = "%06d" % ((int(rc["query_code"]) + 1) % 1000000)
        for _ in range(5):
            self.assertEqual(self.node.lookup(no, wrong).status, 404)
        self.assertEqual(self.node.lookup(no, rc["query_code"]).status, 429)
        r = self.resend(no)
        self.assertError(r, 429, code="too_many_requests")
        self.assertGreater(int(r.headers["Retry-After"]), 60)
        # no new code, and still locked: the route lifts nothing
        self.assertEqual(self.hall_code_of(no), rc["query_code"])
        self.assertEqual(self.node.lookup(no, rc["query_code"]).status, 429)

    def test_opted_out_still_gets_the_code(self):
        rc = self.submit(notify=False)
        self.at_county(rc["case_no"])
        self.assertEqual(self.resend(rc["case_no"]).status, 202)
        got = wait_until(lambda: self.notices(rc["case_no"]), 60, 0.2, "the code's notice")
        self.assertEqual([(e, c) for e, c, *_ in got], [("code", "sms")])
        self.assertEqual(got[0][3], self.hall_code_of(rc["case_no"]))

    # ---- the form --------------------------------------------------------------------
    def test_form(self):
        page = self.node.get("/progress").text
        self.assertRegex(page, r'<a href="/progress/resend">忘记查询码？</a>')
        rc = self.submit()
        no = rc["case_no"]
        f = Form(self.node, "/progress/resend")
        self.assertEqual(set(f.form["inputs"]), {"csrf", "case_no"})
        # without its token: refused, nothing written
        r = self.node.form_post("/progress/resend", {"case_no": no, "csrf": "x" * 80},
                                cookie=f.cookie)
        self.assertEqual(r.status, 403)
        self.assertEqual(self.hall_code_of(no), rc["query_code"])
        # the number as a citizen types it: lower case, in groups
        typed = " ".join(no[i:i + 4] for i in range(0, len(no), 4)).lower()
        r = f.post({"case_no": typed})
        self.assertEqual(r.status, 200, r.text[:800])
        self.assertIn("新的查询码已生成", r.text)
        self.assertIn("尾号为 " + phone(ResendTest.seq)[-4:], r.text)
        self.assertNotIn(phone(ResendTest.seq)[:3] + "****", r.text)
        new = self.hall_code_of(no)
        self.assertNotEqual(new, rc["query_code"])
        self.assertNotIn(new, r.text)
        self.assertEqual(self.node.lookup(no, new).status, 200)
        # again at once: the form again, with the message and Retry-After
        f = Form(self.node, "/progress/resend")
        r = f.post({"case_no": no})
        self.assertEqual(r.status, 429)
        self.assertIn("10 分钟", r.text)
        self.assertTrue(int(r.headers["Retry-After"]) > 0)
        self.assertTrue(any(x["action"] == "/progress/resend" for x in parse_forms(r.text)))
        # an unknown case: the form again, the message beside the number
        r = Form(self.node, "/progress/resend").post({"case_no": caseno(
            self.node.ini()["hall"]["code"], 2)})
        self.assertEqual(r.status, 404)
        self.assertIn('id="e-case_no"', r.text)
        # a landline
        land = self.submit(phone="0731-84567891")
        r = Form(self.node, "/progress/resend").post({"case_no": land["case_no"]})
        self.assertEqual(r.status, 409)
        self.assertIn("不是手机号码", r.text)


class ResendAddressLimitTest(unittest.TestCase):
    """The per-address submissions limit counts resend requests like the other POSTs."""

    def test_address_limit(self):
        # a county configured (nothing is sent: no agent): a hall without one gives no codes
        node = Node("resend-limit", county=True, agent=False)
        self.addCleanup(finish_node, node)
        node.start("\n[limits]\nsubmissions_per_min = 3\nlookups_per_min = 0\n")
        rc = node.submit()
        codes = 0
        for i in range(3):
            r = node.request("POST", "/api/v1/cases/%s/resend-code" % rc["case_no"])
            if r.status == 429 and r.json()["error"]["code"] == "too_many_requests":
                self.assertGreaterEqual(int(r.headers["Retry-After"]), 1)
                break
            codes += 1
        else:
            self.fail("the address's fourth POST in a minute was not refused")
        # the first was the case, the second a new code, the third the 10-minute limit
        self.assertEqual(codes, 2)
        self.assertEqual(hall_scalar(node, "SELECT count(*) FROM code_resends"), 1)


class ResendWithoutCountyTest(unittest.TestCase):
    """A hall linked to no county issues no code: nobody would send it, and the old one
    would die."""

    def test_no_county_no_new_code(self):
        node = Node("resend-nocounty", agent=False)
        self.addCleanup(finish_node, node)
        node.start()
        rc = node.submit()
        r = node.request("POST", "/api/v1/cases/%s/resend-code" % rc["case_no"])
        self.assertEqual(r.status, 503, r)
        self.assertEqual(r.json()["error"]["code"], "no_county")
        self.assertEqual(hall_scalar(node, "SELECT count(*) FROM code_resends"), 0)
        r = node.request("GET", "/api/v1/cases/%s?code=%s" % (rc["case_no"], rc["query_code"]))
        self.assertEqual(r.status, 200)


if __name__ == "__main__":
    unittest.main()
