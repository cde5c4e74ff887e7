"""SPEC 4.3 limits: submissions and lookups per client address and minute, the wrong-code
lockout, and 0 meaning no limit. One node per setting."""

import unittest

from harness import CONSULT, Form, NodeTestCase, Unchanged


def limits_ini(submissions, lookups, wrong_max, lockout_min=15):
    return ("\n[limits]\nsubmissions_per_min = %d\nlookups_per_min = %d\n"
            "wrong_code_max = %d\nlockout_min = %d\n" % (submissions, lookups, wrong_max,
                                                          lockout_min))


def wrong_code(code):
    return "%06d" % ((int(code) + 1) % 1000000)


class SubmissionLimitTest(NodeTestCase):
    NODE_NAME = "limit-submit"
    EXTRA_INI = limits_ini(5, 0, 0)

    def test_sixth_submission_in_a_minute_429(self):
        for i in range(5):
            r = self.node.json_post("/api/v1/consultations", dict(CONSULT, subject="限额 %d" % i))
            self.assertEqual(r.status, 201, "submission %d: %r" % (i + 1, r))
        with Unchanged(self, self.node):
            r = self.node.json_post("/api/v1/consultations", dict(CONSULT, subject="限额 6"))
            self.assertJsonError(r, 429)
            self.assertRetryAfter(r, 1, 60)
            # complaints share the budget, and so do the forms
            r = self.node.json_post("/api/v1/complaints", {
                "type": "complaint", "subject": "s", "body": "b", "phone": "13812345678"})
            self.assertJsonError(r, 429)
            self.assertRetryAfter(r, 1, 60)
            form = Form(self.node, "/consult")
            r = form.post(dict(CONSULT))
            self.assertEqual(r.status, 429, r)
            self.assertRetryAfter(r, 1, 60)
            # the client address is the connection's, not a header the client sets
            r = self.node.json_post("/api/v1/consultations", dict(CONSULT, subject="伪造地址"),
                                    headers={"X-Forwarded-For": "10.1.2.3",
                                             "X-Real-IP": "10.1.2.3", "Forwarded": "for=10.1.2.3"})
            self.assertJsonError(r, 429)
        # reading is not limited by the submission budget
        self.assertEqual(self.node.get("/api/v1/health").status, 200)


class LookupLimitTest(NodeTestCase):
    NODE_NAME = "limit-lookup"
    EXTRA_INI = limits_ini(0, 8, 0)

    def test_ninth_lookup_in_a_minute_429(self):
        rc = self.node.submit()
        for i in range(8):
            r = self.node.lookup(rc["case_no"], rc["query_code"])
            self.assertEqual(r.status, 200, "lookup %d: %r" % (i + 1, r))
        r = self.node.lookup(rc["case_no"], rc["query_code"])
        self.assertJsonError(r, 429)
        self.assertRetryAfter(r, 1, 60)
        # the progress form is a lookup too
        form = Form(self.node, "/progress")
        r = form.post({"case_no": rc["case_no"], "code": rc["query_code"]})
        self.assertEqual(r.status, 429, r)
        self.assertRetryAfter(r, 1, 60)
        # submissions have their own budget
        self.node.submit()


class LockoutTest(NodeTestCase):
    NODE_NAME = "limit-lockout"
    EXTRA_INI = limits_ini(0, 0, 5, 15)

    def test_five_wrong_codes_lock_the_case(self):
        a = self.node.submit(subject="被锁定的办件")
        b = self.node.submit(subject="另一个办件")
        for i in range(5):
            r = self.node.lookup(a["case_no"], wrong_code(a["query_code"]))
            self.assertJsonError(r, 404)
        r = self.node.lookup(a["case_no"], a["query_code"])
        self.assertJsonError(r, 429)
        self.assertRetryAfter(r, 15 * 60 - 60, 15 * 60)
        # the lock is on the case, whichever way it is asked for
        r = self.node.lookup(a["case_no"].lower(), a["query_code"])
        self.assertJsonError(r, 429)
        form = Form(self.node, "/progress")
        r = form.post({"case_no": a["case_no"], "code": a["query_code"]})
        self.assertEqual(r.status, 429, r)
        self.assertRetryAfter(r, 15 * 60 - 60, 15 * 60)
        # another case is looked up as usual
        r = self.node.lookup(b["case_no"], b["query_code"])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["subject"], "另一个办件")

    def test_four_wrong_codes_do_not_lock(self):
        a = self.node.submit()
        for i in range(4):
            self.assertJsonError(self.node.lookup(a["case_no"], wrong_code(a["query_code"])), 404)
        self.assertEqual(self.node.lookup(a["case_no"], a["query_code"]).status, 200)

    def test_locked_case_cannot_be_rated(self):
        a = self.node.submit()
        self.node.answer(a["case_no"])
        for i in range(5):
            self.node.lookup(a["case_no"], wrong_code(a["query_code"]))
        with Unchanged(self, self.node):
            r = self.node.json_post("/api/v1/cases/%s/rating" % a["case_no"],
                                    {"code": a["query_code"], "level": 5})
            self.assertJsonError(r, 429)
            self.assertRetryAfter(r, 15 * 60 - 60, 15 * 60)


class NoLimitsTest(NodeTestCase):
    NODE_NAME = "limit-none"
    EXTRA_INI = limits_ini(0, 0, 0)

    def test_zero_means_unlimited(self):
        receipts = []
        for i in range(40):
            r = self.node.json_post("/api/v1/consultations", dict(CONSULT, subject="无限额 %d" % i))
            self.assertEqual(r.status, 201, "submission %d: %r" % (i + 1, r))
            receipts.append(r.json())
        rc = receipts[0]
        for i in range(40):
            r = self.node.lookup(rc["case_no"], rc["query_code"])
            self.assertEqual(r.status, 200, "lookup %d: %r" % (i + 1, r))
        for i in range(10):
            self.assertJsonError(self.node.lookup(rc["case_no"], wrong_code(rc["query_code"])),
                                 404)
        self.assertEqual(self.node.lookup(rc["case_no"], rc["query_code"]).status, 200)


if __name__ == "__main__":
    unittest.main()
