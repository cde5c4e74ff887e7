"""SPEC 4.1: the citizens' pages and forms (form-urlencoded, with a CSRF token)."""

import html
import re
import unittest
import urllib.parse
from html.parser import HTMLParser

from harness import CONSULT, Form, NodeTestCase, NO_LIMITS, Unchanged

GROUPED = re.compile(r"\b([0-9A-Z]{4}(?: [0-9A-Z]{4}){4} [0-9A-Z]{3})\b")
PAGE_MAX = 30000    # "each page under 30 KB before compression"


class _Sequence(HTMLParser):
    """The page as a flat list of labels, error paragraphs and controls, in order."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.items = []    # (kind, attrs, text)
        self._in_error = None
        self._in_textarea = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "label":
            self.items.append(["label", a, ""])
        elif tag == "p" and "error" in (a.get("class") or "").split():
            self._in_error = ["error", a, ""]
            self.items.append(self._in_error)
        elif tag in ("input", "select", "textarea"):
            item = ["control", dict(a, tag=tag), ""]
            self.items.append(item)
            if tag == "textarea":
                self._in_textarea = item
        elif tag == "option" and "selected" in a:
            for it in reversed(self.items):
                if it[0] == "control" and it[1]["tag"] == "select":
                    it[1]["selected_value"] = a.get("value")
                    break

    def handle_endtag(self, tag):
        if tag == "p":
            self._in_error = None
        elif tag == "textarea":
            self._in_textarea = None

    def handle_data(self, data):
        if self._in_error is not None:
            self._in_error[2] += data
        if self._in_textarea is not None:
            self._in_textarea[2] += data


def page_items(text):
    p = _Sequence()
    p.feed(text)
    return p.items


class FormsTest(NodeTestCase):
    NODE_NAME = "forms"
    EXTRA_INI = NO_LIMITS

    # ---- helpers ----------------------------------------------------------------------
    def check_page(self, path):
        r = self.node.get(path)
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.headers.get("Content-Type", "").startswith("text/html"),
                        r.headers.get("Content-Type"))
        text = r.text
        self.assertRegex(text, r"<html[^>]*\blang=[\"']?zh-CN\b", "no lang zh-CN")
        self.assertRegex(text, r"<meta[^>]*name=[\"']?viewport[\"']?[^>]*width=device-width",
                         "no viewport meta")
        self.assertNotIn("<script", text.lower())
        self.assertLess(len(r.body), PAGE_MAX, "page is %d bytes" % len(r.body))
        return r

    def error_for(self, text, field):
        """The error message shown next to field: the error paragraph after its label."""
        items = page_items(text)
        control = next((i for i, it in enumerate(items)
                        if it[0] == "control" and it[1].get("name") == field), None)
        self.assertIsNotNone(control, "no control named %s" % field)
        cid = items[control][1].get("id")
        label = next((i for i, it in enumerate(items)
                      if it[0] == "label" and cid and it[1].get("for") == cid), None)
        if label is None and not cid:
            # radio buttons: the group's label is the last labelling one before them
            label = max((i for i, it in enumerate(items[:control])
                         if it[0] == "label" and it[1].get("for")), default=None)
        self.assertIsNotNone(label, "no label for %s" % field)
        self.assertLess(label, control)
        between = [it for it in items[label + 1:control] if it[0] != "label"]
        errors = [it for it in between if it[0] == "error"]
        self.assertTrue(errors, "no error paragraph between the label and the control of %s"
                        % field)
        self.assertEqual(items[label + 1][0], "error",
                         "the error is not right after the label of %s" % field)
        msg = errors[0][2].strip()
        self.assertRegex(msg, r"[\u4e00-\u9fff]")
        return msg

    def errors_anywhere(self, text):
        return [it for it in page_items(text) if it[0] == "error"]

    def control(self, text, name):
        return next(it for it in page_items(text) if it[0] == "control"
                    and it[1].get("name") == name)

    def receipt_numbers(self, text):
        m = GROUPED.search(text)
        self.assertIsNotNone(m, "no case number in groups of four on the receipt")
        grouped = m.group(1)
        case_no = grouped.replace(" ", "")
        self.assertEqual(len(case_no), 23)
        codes = re.findall(r"(?<![\d])(\d{6})(?![\d])", text.replace(grouped, ""))
        self.assertTrue(codes, "no query code on the receipt")
        # the query code is the one that opens the case
        for code in codes:
            if self.node.lookup(case_no, code).status == 200:
                return case_no, code
        self.fail("none of %s opens case %s" % (codes, case_no))

    # ---- pages ------------------------------------------------------------------------
    def test_page_home(self):
        self.check_page("/")

    def test_page_consult(self):
        self.check_page("/consult")

    def test_page_complaint(self):
        self.check_page("/complaint")

    def test_page_progress(self):
        self.check_page("/progress")

    def test_page_guides(self):
        r = self.check_page("/guides")
        self.assertIn("城乡居民基本养老保险参保登记", r.text)

    def test_page_guides_search(self):
        r = self.check_page("/guides?q=" + urllib.parse.quote("养老"))
        self.assertIn("养老", r.text)
        self.assertNotIn("居民身份证", r.text)

    def test_page_guide(self):
        guides = self.node.get("/api/v1/guides").json()
        guides = guides["guides"] if isinstance(guides, dict) else guides
        g = guides[0]
        r = self.check_page("/guides/" + g["id"])
        full = self.node.get("/api/v1/guides/" + g["id"]).json()
        self.assertIn(html.escape(full["name"], quote=False), r.text)
        self.assertIn(html.escape(full["hours"], quote=False), r.text)

    def test_unknown_guide_page_404(self):
        r = self.node.get("/guides/no-such-guide")
        self.assertEqual(r.status, 404, r)
        self.assertTrue(r.headers.get("Content-Type", "").startswith("text/html"))

    def test_home_contact_data(self):
        text = self.node.get("/").text
        hall = self.node.ini()["hall"]
        for k in ("name", "address", "hours", "phone", "email", "letter_address"):
            self.assertIn(html.escape(hall[k], quote=False), text, "home page lacks " + k)

    # ---- submitting -------------------------------------------------------------------
    def test_consult_form_receipt(self):
        form = Form(self.node, "/consult")
        self.assertTrue(form.key, "the consult form has no hidden key")
        before = self.node.counts(("cases",))["cases"]
        data = {"category": "procedure", "item": "", "subject": "表单咨询：医保缴费",
                "body": "请问医保在哪里缴费？", "name": "张三", "phone": "13812345678",
                "email": ""}
        r = form.post(data)
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.headers.get("Content-Type", "").startswith("text/html"))
        case_no, code = self.receipt_numbers(r.text)
        self.assertEqual(self.node.counts(("cases",))["cases"], before + 1)
        c = self.node.lookup(case_no, code).json()
        self.assertEqual(c["subject"], "表单咨询：医保缴费")
        self.assertEqual(c["kind"], "consultation")
        # the due date is on the receipt
        y, m, d = (int(x) for x in c["due_at"][:10].split("-"))
        self.assertTrue("%d年%d月%d日" % (y, m, d) in r.text or c["due_at"][:10] in r.text,
                        "no due date on the receipt")
        self.assertNotIn("<script", r.text.lower())

    def test_complaint_form_receipt(self):
        form = Form(self.node, "/complaint")
        r = form.post({"type": "unresolved", "subject": "表单反映：低保没办成",
                       "body": "跑了三次都没办成。", "phone": "0731-84001234",
                       "name": "", "target": "民政窗口"})
        self.assertEqual(r.status, 200, r)
        case_no, code = self.receipt_numbers(r.text)
        self.assertEqual(self.node.lookup(case_no, code).json()["kind"], "unresolved")

    def test_form_error_redisplay(self):
        form = Form(self.node, "/consult")
        data = {"category": "public_info", "item": "公共信息",
                "subject": "关于<低保>&“补贴”的 \"问题\"",
                "body": "第一行\n第二行 <b>粗体</b> & 其他", "name": "张 三",
                "phone": "12345", "email": "zs@example.cn"}
        with Unchanged(self, self.node):
            r = form.post(data)
        self.assertEqual(r.status, 422, r)
        self.assertTrue(r.headers.get("Content-Type", "").startswith("text/html"))
        self.error_for(r.text, "phone")
        self.assertEqual(len(self.errors_anywhere(r.text)), 1, "errors beside other fields")
        # the citizen's input is kept, escaped
        self.assertNotIn("<低保>", r.text)
        self.assertNotIn("<b>粗体</b>", r.text)
        for name in ("subject", "name", "email", "item", "phone"):
            self.assertEqual(self.control(r.text, name)[1].get("value"), data[name], name)
        body = self.control(r.text, "body")[2]
        self.assertEqual(body.lstrip("\n").replace("\r\n", "\n"), data["body"])
        self.assertEqual(self.control(r.text, "category")[1].get("selected_value"),
                         "public_info")
        self.assertNotIn("<script", r.text.lower())

        # corrected, the redisplayed form goes through
        again = [f for f in __import__("harness").parse_forms(r.text)
                 if f["action"] == "/consult"][0]
        self.assertTrue(again["hidden"].get("csrf"))
        fixed = dict(again["hidden"])
        fixed.update(data, phone="13812345678")
        r2 = self.node.form_post("/consult", fixed, cookie=form.cookie)
        self.assertEqual(r2.status, 200, r2)
        case_no, code = self.receipt_numbers(r2.text)
        self.assertEqual(self.node.lookup(case_no, code).json()["subject"], data["subject"])

    def test_form_error_blank_subject(self):
        form = Form(self.node, "/complaint")
        with Unchanged(self, self.node):
            r = form.post({"type": "complaint", "subject": "   ", "body": "内容",
                           "phone": "13812345678", "target": "窗口 5"})
        self.assertEqual(r.status, 422, r)
        self.error_for(r.text, "subject")
        self.assertEqual(self.control(r.text, "target")[1].get("value"), "窗口 5")

    def test_csrf_missing_403(self):
        form = Form(self.node, "/consult")
        data = dict(CONSULT)
        with Unchanged(self, self.node):
            r = form.post(dict(data, key=form.key), with_hidden=False)
            self.assertEqual(r.status, 403, r)
            r = form.post(dict(data, csrf=""))
            self.assertEqual(r.status, 403, r)

    def test_csrf_other_cookie_403(self):
        a = Form(self.node, "/consult")
        b = Form(self.node, "/consult")
        self.assertNotEqual(a.cookie, b.cookie)
        with Unchanged(self, self.node):
            r = a.post(dict(CONSULT), cookie=b.cookie)
            self.assertEqual(r.status, 403, r)
            # no cookie at all
            r = self.node.form_post("/consult", dict(CONSULT, csrf=a.csrf, key=a.key))
            self.assertEqual(r.status, 403, r)
            # a made-up token
            r = a.post(dict(CONSULT, csrf=a.csrf[:-2] + ("AA" if a.csrf[-2:] != "AA" else "BB")))
            self.assertEqual(r.status, 403, r)
            # the lookup and rating forms check it too
            r = self.node.form_post("/progress", {"case_no": "x", "code": "123456",
                                                  "csrf": a.csrf}, cookie=b.cookie)
            self.assertEqual(r.status, 403, r)
            r = self.node.form_post("/progress/rating", {"case_no": "x", "code": "123456",
                                                         "level": "5", "csrf": a.csrf},
                                    cookie=b.cookie)
            self.assertEqual(r.status, 403, r)

    def test_same_form_twice_one_case(self):
        form = Form(self.node, "/consult")
        data = dict(CONSULT, subject="表单重复提交测试")
        before = self.node.counts()
        r1 = form.post(data)
        r2 = form.post(data)
        self.assertEqual(r1.status, 200, r1)
        self.assertEqual(r2.status, 200, r2)
        n1 = self.receipt_numbers(r1.text)
        n2 = self.receipt_numbers(r2.text)
        self.assertEqual(n1, n2)
        after = self.node.counts()
        self.assertEqual(after["cases"], before["cases"] + 1)
        self.assertEqual(after["outbox"], before["outbox"] + 1)

    def test_same_form_key_changed_input_new_case(self):
        # back, change the category and the name, submit again: the change is not dropped
        form = Form(self.node, "/consult")
        data = dict(CONSULT, subject="表单改了再交", category="policy", name="王五")
        r1 = form.post(data)
        self.assertEqual(r1.status, 200, r1)
        r2 = form.post(dict(data, category="public_info", name="赵六"))
        self.assertEqual(r2.status, 200, r2)
        n1, n2 = self.receipt_numbers(r1.text), self.receipt_numbers(r2.text)
        self.assertNotEqual(n1, n2, "the changed form got the first receipt back")

    # ---- progress and rating -----------------------------------------------------------
    def test_progress_form_shows_case(self):
        rc = self.node.submit(subject="进度查询测试 & <标题>")
        form = Form(self.node, "/progress")
        spaced = " ".join(rc["case_no"][i:i + 4] for i in range(0, 23, 4)).lower()
        r = form.post({"case_no": spaced, "code": rc["query_code"]})
        self.assertEqual(r.status, 200, r)
        self.assertIn("进度查询测试 &amp; &lt;标题&gt;", r.text)
        grouped = " ".join(rc["case_no"][i:i + 4] for i in range(0, 23, 4))
        self.assertIn(grouped, r.text)
        self.assertIn("已提交", r.text)
        self.assertNotIn("13812345678", r.text)
        self.assertEqual(self.errors_anywhere(r.text), [])

    def test_progress_wrong_code_404(self):
        rc = self.node.submit()
        form = Form(self.node, "/progress")
        wrong = "%06d" % ((int(rc["query_code"]) + 1) % 1000000)
        r = form.post({"case_no": rc["case_no"], "code": wrong})
        self.assertEqual(r.status, 404, r)
        self.assertTrue(r.headers.get("Content-Type", "").startswith("text/html"))
        self.error_for(r.text, "code")
        self.assertNotIn(CONSULT["subject"], r.text)
        # the case number the citizen typed is kept
        self.assertEqual(self.control(r.text, "case_no")[1].get("value"), rc["case_no"])

    def test_rating_form(self):
        rc = self.node.submit()
        self.node.answer(rc["case_no"], "答复：可以在街道窗口缴费。")
        form = Form(self.node, "/progress")
        r = form.post({"case_no": rc["case_no"], "code": rc["query_code"]})
        self.assertEqual(r.status, 200, r)
        self.assertIn("答复：可以在街道窗口缴费。", r.text)
        self.assertIn("已答复", r.text)
        rating = [f for f in __import__("harness").parse_forms(r.text)
                  if f["action"] == "/progress/rating"]
        self.assertEqual(len(rating), 1, "no rating form on an answered case")
        fields = dict(rating[0]["hidden"])
        self.assertTrue(fields.get("csrf"))
        # 差评 without a reason: the form again, the message beside the comment
        with Unchanged(self, self.node):
            bad = self.node.form_post("/progress/rating", dict(fields, level="1", comment=""),
                                      cookie=form.cookie)
        self.assertEqual(bad.status, 422, bad)
        self.error_for(bad.text, "comment")
        before = self.node.counts(("ratings",))["ratings"]
        ok = self.node.form_post("/progress/rating", dict(fields, level="5", comment="很好"),
                                 cookie=form.cookie)
        self.assertEqual(ok.status, 200, ok)
        self.assertRegex(ok.text, "感谢|谢谢")
        self.assertEqual(self.node.counts(("ratings",))["ratings"], before + 1)
        c = self.node.lookup(rc["case_no"], rc["query_code"]).json()
        self.assertEqual(c["rating"]["level"], 5)
        # and the page no longer offers a rating form
        r = form.post({"case_no": rc["case_no"], "code": rc["query_code"]})
        self.assertFalse([f for f in __import__("harness").parse_forms(r.text)
                          if f["action"] == "/progress/rating"])

    def test_rating_form_without_level(self):
        # an old phone's browser ignores `required` and sends no level: the form comes back
        # with the message beside the level, not an empty page
        rc = self.node.submit()
        self.node.answer(rc["case_no"])
        form = Form(self.node, "/progress")
        r = form.post({"case_no": rc["case_no"], "code": rc["query_code"]})
        rating = [f for f in __import__("harness").parse_forms(r.text)
                  if f["action"] == "/progress/rating"][0]
        with Unchanged(self, self.node):
            bad = self.node.form_post("/progress/rating",
                                      dict(rating["hidden"], comment="很满意"),
                                      cookie=form.cookie)
        self.assertEqual(bad.status, 422, bad)
        again = [f for f in __import__("harness").parse_forms(bad.text)
                 if f["action"] == "/progress/rating"]
        self.assertEqual(len(again), 1, "the rating form is gone from the error page")
        self.error_for(bad.text, "level")
        self.assertEqual(self.control(bad.text, "comment")[2].strip(), "很满意")

    def test_form_error_always_shown(self):
        # whatever makes a form fail, the page that comes back says what went wrong
        form = Form(self.node, "/consult")
        with Unchanged(self, self.node):
            r = form.post(dict(CONSULT, nickname="小张"))
        self.assertEqual(r.status, 422, r)
        errors = [e for e in self.errors_anywhere(r.text) if e[2].strip()]
        self.assertTrue(errors, "a 422 page without any error message")

    def test_case_number_typos_caught(self):
        # SPEC 2: the check character catches any single typo or adjacent swap, so a
        # mistyped number is reported as a wrong number (beside the number), whatever code
        rc = self.node.submit()
        no = rc["case_no"]
        alphabet = "0123456789ABCDEFGHJKLMNPQRTVWXY"
        form = Form(self.node, "/progress")
        typos = set()
        for i in range(23):
            for c in alphabet:
                if c != no[i]:
                    typos.add(no[:i] + c + no[i + 1:])
        for i in range(22):
            if no[i] != no[i + 1]:
                typos.add(no[:i] + no[i + 1] + no[i] + no[i + 2:])
        missed = []
        for t in sorted(typos):
            r = form.post({"case_no": t, "code": rc["query_code"]})
            self.assertEqual(r.status, 404, "%s: %r" % (t, r))
            items = page_items(r.text)
            err = [it for it in items if it[0] == "error"]
            beside_no = False
            for k, it in enumerate(items):
                if it[0] == "error" and k > 0 and items[k - 1][0] == "label" and \
                        items[k - 1][1].get("for") == self.control(r.text, "case_no")[1].get("id"):
                    beside_no = True
            if not beside_no:
                missed.append(t)
            self.assertTrue(err)
        self.assertEqual(missed, [], "typos not caught by the check character")
        self.assertEqual(form.post({"case_no": no, "code": rc["query_code"]}).status, 200)

    # ---- refused bodies ---------------------------------------------------------------
    def test_multipart_415(self):
        form = Form(self.node, "/consult")
        boundary = "----e2eBoundary"
        parts = dict(CONSULT, csrf=form.csrf, key=form.key)
        body = "".join('--%s\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n'
                       % (boundary, k, v) for k, v in parts.items()) + "--%s--\r\n" % boundary
        with Unchanged(self, self.node):
            r = self.node.request("POST", "/consult", body=body, headers={
                "Content-Type": "multipart/form-data; boundary=" + boundary,
                "Cookie": "hall_csrf=" + form.cookie})
        self.assertEqual(r.status, 415, r)

    def test_bad_percent_encoding_400(self):
        form = Form(self.node, "/consult")
        good = urllib.parse.urlencode(dict(CONSULT, csrf=form.csrf, key=form.key))
        for bad in (good.replace("subject=", "subject=%ZZ", 1),
                    good.replace("subject=", "subject=%E5%8", 1),
                    good + "&body2=%"):
            with Unchanged(self, self.node):
                r = self.node.form_post("/consult", bad, cookie=form.cookie)
            self.assertEqual(r.status, 400, "%s: %r" % (bad[:80], r))

    def test_form_invalid_utf8_400(self):
        form = Form(self.node, "/consult")
        bad = urllib.parse.urlencode(dict(CONSULT, csrf=form.csrf, key=form.key)).replace(
            "subject=", "subject=%FF%FE", 1)
        with Unchanged(self, self.node):
            r = self.node.form_post("/consult", bad, cookie=form.cookie)
        self.assertEqual(r.status, 400, r)


if __name__ == "__main__":
    unittest.main()
