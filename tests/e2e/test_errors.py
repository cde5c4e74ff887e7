"""SPEC 4.3: every failure mode, its status and JSON error, and nothing written."""

import json
import unittest

from harness import COMPLAINT, CONSULT, Form, NodeTestCase, NO_LIMITS, Unchanged

CONSULT_PATH = "/api/v1/consultations"
COMPLAINT_PATH = "/api/v1/complaints"


def dumps(obj):
    return json.dumps(obj, ensure_ascii=False).encode("utf-8")


class ErrorsTest(NodeTestCase):
    NODE_NAME = "errors"
    EXTRA_INI = NO_LIMITS

    def refused(self, status, body, path=CONSULT_PATH, field=None, headers=None, raw=False):
        """POSTs body; asserts the status and error shape and that nothing was written."""
        with Unchanged(self, self.node):
            if raw:
                r = self.node.request("POST", path, body=body, headers=headers)
            else:
                r = self.node.json_post(path, body if isinstance(body, bytes) else dumps(body),
                                        headers=headers)
            return self.assertJsonError(r, status, field=field)

    # ---- 400: the body is not a JSON object of UTF-8 text ------------------------------
    def test_malformed_json_400(self):
        self.refused(400, b'{"category": "policy", "subject": ')
        self.refused(400, b'{category: policy}')
        self.refused(400, b'')

    def test_deeply_nested_json_400(self):
        self.refused(400, b"[" * 3000 + b"]" * 3000)
        # deep, but an object: its subject is not text
        self.refused(422, b'{"subject":' * 1000 + b'"x"' + b"}" * 1000, field="subject")
        self.assertEqual(self.node.get("/api/v1/health").status, 200)

    def test_json_array_400(self):
        self.refused(400, dumps([CONSULT]))
        self.refused(400, b'"just a string"')

    def test_invalid_utf8_400(self):
        body = dumps(CONSULT).replace("城乡".encode(), b"\xff\xfe")
        self.refused(400, body)
        # an overlong encoding of '/' and a lone surrogate
        self.refused(400, dumps(CONSULT).replace(b"policy", b"pol\xc0\xafcy"))
        self.refused(400, dumps(CONSULT).replace("张三".encode(), b"\xed\xa0\x80"))

    def test_nul_escape_400(self):
        body = dumps(CONSULT).replace("张三".encode(), b"\\u5f20\\u0000")
        self.refused(400, body)

    def test_raw_nul_byte_400(self):
        body = dumps(CONSULT).replace("张三".encode(), b"\xe5\xbc\xa0\x00")
        self.refused(400, body)

    def test_duplicated_key_400(self):
        body = dumps(CONSULT)[:-1] + b', "subject": "another subject"}'
        self.refused(400, body)

    # ---- 422: a field fails validation ------------------------------------------------
    def test_missing_required_field_422(self):
        for field in ("category", "subject", "body", "name", "phone"):
            data = dict(CONSULT)
            del data[field]
            self.refused(422, data, field=field)
        for field in ("type", "subject", "body", "phone"):
            data = dict(COMPLAINT)
            del data[field]
            self.refused(422, data, path=COMPLAINT_PATH, field=field)

    def test_null_required_field_422(self):
        self.refused(422, dict(CONSULT, subject=None), field="subject")

    def test_blank_required_field_422(self):
        self.refused(422, dict(CONSULT, subject="   "), field="subject")
        self.refused(422, dict(CONSULT, subject="\u3000\u3000"), field="subject")
        self.refused(422, dict(CONSULT, body=" \n\t "), field="body")
        self.refused(422, dict(CONSULT, name=""), field="name")
        self.refused(422, dict(COMPLAINT, body="  "), path=COMPLAINT_PATH, field="body")

    def test_subject_length(self):
        self.refused(422, dict(CONSULT, subject="问" * 101), field="subject")
        self.refused(422, dict(CONSULT, subject="a" * 101), field="subject")
        before = self.node.counts(("cases",))["cases"]
        rc = self.node.submit(subject="问" * 100)
        self.assertEqual(self.node.counts(("cases",))["cases"], before + 1)
        c = self.node.lookup(rc["case_no"], rc["query_code"]).json()
        self.assertEqual(c["subject"], "问" * 100)

    def test_body_length(self):
        self.refused(422, dict(CONSULT, body="字" * 2001), field="body")
        self.refused(422, dict(COMPLAINT, body="字" * 2001), path=COMPLAINT_PATH, field="body")
        self.node.submit(body="字" * 2000)

    def test_name_length(self):
        self.refused(422, dict(CONSULT, name="名" * 51), field="name")

    def test_unknown_field_422(self):
        self.refused(422, dict(CONSULT, colour="blue"), field="colour")
        self.refused(422, dict(COMPLAINT, category="policy"), path=COMPLAINT_PATH,
                     field="category")

    def test_wrong_type_422(self):
        self.refused(422, dict(CONSULT, subject=12345), field="subject")
        self.refused(422, dict(CONSULT, subject=True), field="subject")
        self.refused(422, dict(CONSULT, subject=["a", "b"]), field="subject")
        self.refused(422, dict(CONSULT, phone=13812345678), field="phone")
        self.refused(422, dict(CONSULT, body={"text": "x"}), field="body")

    def test_bad_phone_422(self):
        for phone in ("12345", "23812345678", "1381234567", "138123456789", "12812345678",
                      "phone", "0731-0123456", "138-1234-5678x"):
            self.refused(422, dict(CONSULT, phone=phone), field="phone")

    def test_good_phones_accepted(self):
        for phone in ("13812345678", "19912345678", "0731-84001234", "073184001234",
                      "010-12345678", "+86 138 1234 5678"):
            r = self.node.json_post(CONSULT_PATH, dict(CONSULT, phone=phone))
            self.assertEqual(r.status, 201, "%s: %r" % (phone, r))

    def test_bad_email_422(self):
        for email in ("not-an-email", "a@b", "a b@example.cn", "@example.cn", "a@@example.cn"):
            self.refused(422, dict(CONSULT, email=email), field="email")

    def test_bad_category_422(self):
        self.refused(422, dict(CONSULT, category="tax"), field="category")
        self.refused(422, dict(CONSULT, category="POLICY"), field="category")
        self.refused(422, dict(COMPLAINT, type="praise"), path=COMPLAINT_PATH, field="type")
        self.refused(422, dict(COMPLAINT, type="consultation"), path=COMPLAINT_PATH,
                     field="type")

    def test_control_characters_in_subject_422(self):
        self.refused(422, dict(CONSULT, subject="第一行\n第二行"), field="subject")
        self.refused(422, dict(CONSULT, subject="响铃\u0007"), field="subject")

    # ---- 415 --------------------------------------------------------------------------
    def test_wrong_content_type_415(self):
        body = dumps(CONSULT)
        self.refused(415, body, headers={"Content-Type": "text/plain"})
        self.refused(415, b"category=policy&subject=x&body=y&name=z&phone=13812345678",
                     headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.refused(415, body, headers={"Content-Type": "application/json; charset=latin1"})
        self.refused(415, body, headers={"Content-Type": "application/jsonx"})
        self.refused(415, body, raw=True, headers={})
        self.refused(415, dumps(COMPLAINT), path=COMPLAINT_PATH,
                     headers={"Content-Type": "text/plain; charset=utf-8"})

    def test_json_with_utf8_charset_accepted(self):
        r = self.node.json_post(CONSULT_PATH, CONSULT,
                                headers={"Content-Type": "application/json; charset=utf-8"})
        self.assertEqual(r.status, 201, r)

    # ---- 413 --------------------------------------------------------------------------
    def test_body_over_16k_413(self):
        body = dumps(dict(CONSULT, body="x" * (17 * 1024)))
        self.assertGreater(len(body), 16 * 1024)
        self.refused(413, body)

    def test_body_of_exactly_16k_accepted(self):
        # the longest valid fields, written as \u escapes, padded with JSON white space
        data = dict(CONSULT, subject="问" * 100, body="字" * 2000, name="名" * 50,
                    item="项" * 100, email="a" * 80 + "@example.cn")
        raw = json.dumps(data).encode("ascii")
        self.assertLess(len(raw), 16384)
        exact = raw[:-1] + b" " * (16384 - len(raw)) + b"}"
        self.assertEqual(len(exact), 16384)
        r = self.node.json_post(CONSULT_PATH, exact)
        self.assertEqual(r.status, 201, r)
        self.refused(413, raw[:-1] + b" " * (16385 - len(raw)) + b"}")

    def test_body_of_2mib_413(self):
        body = dumps(dict(CONSULT, body="x" * (2 * 1024 * 1024)))
        self.refused(413, body)
        # and the node still serves
        self.assertEqual(self.node.get("/api/v1/health").status, 200)

    # ---- 404 and 405 ------------------------------------------------------------------
    def test_unknown_paths_404(self):
        for path in ("/api/v1/nothing", "/api/v1/cases", "/api/v2/health",
                     "/api/v1/guides/x/y", "/api/v1/cases/X/rating/extra"):
            self.assertJsonError(self.node.get(path), 404)
        with Unchanged(self, self.node):
            self.assertJsonError(self.node.json_post("/api/v1/nothing", CONSULT), 404)
            self.assertJsonError(self.node.json_post("/api/v1/consultation", CONSULT), 404)
        r = self.node.get("/no-such-page")
        self.assertEqual(r.status, 404, r)

    def test_bad_encoding_in_path_is_a_json_error(self):
        # nginx refuses a NUL in the path itself; under /api/ the answer is still JSON
        r = self.node.get("/api/v1/cases/%00ABC?code=123456")
        self.assertJsonError(r, 400)

    def test_bad_query_string_400(self):
        self.assertJsonError(self.node.get("/api/v1/guides?q=%ZZ"), 400)
        self.assertJsonError(self.node.get("/api/v1/guides?q=%FF%FE"), 400)
        self.assertJsonError(self.node.get("/api/v1/guides?q=a&q=b"), 400)

    def check_405(self, method, path, allowed):
        with Unchanged(self, self.node):
            body = dumps(CONSULT) if method in ("POST", "PUT") else None
            h = {"Content-Type": "application/json"} if body else {}
            r = self.node.request(method, path, body=body, headers=h)
            self.assertJsonError(r, 405)
        allow = r.headers.get("Allow")
        self.assertIsNotNone(allow, "405 without Allow for %s %s" % (method, path))
        methods = {m.strip().upper() for m in allow.split(",") if m.strip()}
        self.assertIn(allowed, methods, allow)
        self.assertNotIn(method, methods, allow)

    def test_405_get_consultations(self):
        self.check_405("GET", CONSULT_PATH, "POST")

    def test_405_delete_health(self):
        self.check_405("DELETE", "/api/v1/health", "GET")

    def test_405_post_health(self):
        self.check_405("POST", "/api/v1/health", "GET")

    def test_405_put_case(self):
        self.check_405("PUT", "/api/v1/cases/X", "GET")

    # ---- injection: stored verbatim, shown escaped ------------------------------------
    def test_sql_and_script_payloads_stored_verbatim(self):
        subject = "'); DROP TABLE cases;-- <script>alert(1)</script>"
        body = ("<script>alert(1)</script>\n\" OR 1=1 --\n'; DELETE FROM outbox; --\n"
                "<img src=x onerror=alert(2)>&amp; \\ %s %n")
        before = self.node.counts()
        rc = self.node.submit(subject=subject, body=body, name="Robert'); DROP TABLE ratings;--")
        after = self.node.counts()
        self.assertEqual(after["cases"], before["cases"] + 1)
        self.assertEqual(after["outbox"], before["outbox"] + 1)
        r = self.node.lookup(rc["case_no"], rc["query_code"])
        self.assertEqual(r.status, 200, r)
        c = r.json()
        self.assertEqual(c["subject"].encode("utf-8"), subject.encode("utf-8"))
        self.assertEqual(c["body"].encode("utf-8"), body.encode("utf-8"))

        # the progress page shows them escaped, never as markup
        form = Form(self.node, "/progress")
        page = form.post({"case_no": rc["case_no"], "code": rc["query_code"]})
        self.assertEqual(page.status, 200, page)
        html = page.text
        self.assertNotIn("<script", html.lower())
        self.assertNotIn("<img src=x", html)
        self.assertIn("&lt;script&gt;alert(1)&lt;/script&gt;", html)
        self.assertIn("&lt;img src=x onerror=alert(2)&gt;", html)
        self.assertIn("&amp;amp;", html)


if __name__ == "__main__":
    unittest.main()
