"""Appointments at the hall (SPEC 4.5), end to end through nginx, without the county.

A schedule is seeded straight into the hall store's tables (sql/hall/008: what
store_schedule_apply writes; the downlink brings it in production), then:

- the free slots: working days only (as lib/core/calendar.c decides, asked through the
  harness's Calendar), from tomorrow to days_ahead, with the places left;
- the refusals: 422 naming the field (an unknown item, a malformed, past, too distant or
  non-working date, an unknown start, a missing name, a bad phone) writing nothing;
- 200 concurrent bookings at a slot of capacity 5: exactly 5 are 201, 195 are 409
  slot_full, the store holds 5 and the outbox 5 `appointment` records for the county alone;
- a cancellation with the code frees a place; a wrong code is the same 404 as an unknown
  number; a cancelled appointment cannot be cancelled again (409);
- the lookup shows the county's refusal with its reason (set as the downlink would);
- the pages without JavaScript: no <script>, each under 30 KB, item -> day -> slot -> form
  (its CSRF token) -> the receipt with 预约号, 预约人姓名, 预约时间, 办理地点, 预约内容 and the
  guide's materials; the lookup page and its cancel form;
- an optional e-mail address (API and form): checked (422 naming `email`), stored, and in
  the `appointment` record only when given;
- a new query code (SPEC 5.6, "the same for appointments"): without a county, 503 no_county
  writing nothing (the old code still works), the link on the lookup page and its form;
  with the node's own county (AppointmentResendCountyTest): 202 with the phone's last four
  digits and never the code, the old code 404s at once and the new one opens it, the
  county sends it by SMS to the appointment's phone and holds its MAC; the 10-minute limit
  (429), a landline (409), an unknown number and a case's number (404);
- a real browser (Chromium through playwright-core, as test_window.py) with JavaScript off
  at 360 px books a slot: item, day, slot, the form, the receipt with 预约号 and the item,
  and no page scrolls sideways.

Python 3 standard library only.
"""

import concurrent.futures
import datetime
import json
import os
import re
import shutil
import subprocess
import time
import unittest
import urllib.parse

from county import County, hall_scalar, wait_until
from harness import (CALENDAR_DIR, ROOT, TZ, Form, Node, NodeTestCase, Unchanged, finish_node,
                     load_calendar, parse_forms)
from test_resend import caseno
from test_staff import playwright_modules

HALL = "430121001000"
DAYS_AHEAD = 14
SCHEDULE = {
    "hall_code": HALL, "version": 1,
    "items": [
        {"id": "sfz-sl", "name": "居民身份证申领", "guide_id": "g-shenfenzheng",
         "place": "一楼 2 号窗口",
         "slots": [{"weekday": w, "start": s, "end": e, "capacity": 3}
                   for w in range(1, 6) for s, e in (("09:00", "09:30"), ("14:00", "14:30"))]},
        # one slot a day, every day of the week (weekends count on make-up workdays only)
        {"id": "conc", "name": "并发测试事项", "guide_id": None, "place": "二楼 5 号窗口",
         "slots": [{"weekday": w, "start": "10:00", "end": "10:30", "capacity": 5}
                   for w in range(1, 8)]},
    ],
    "closed": [],
}
TABLES = ("appointments", "outbox", "appt_events")


def person(i):
    return {"name": "预约人%d" % i, "phone": "1380013%04d" % i}


def seed_schedule(node):
    """SCHEDULE straight into the hall store's tables, as store_schedule_apply writes it."""
    con = node.db()
    try:
        with con:
            con.execute("INSERT INTO appt_schedule (one, version, body, applied_at) "
                        "VALUES (1, 1, ?, 0)", (json.dumps(SCHEDULE, ensure_ascii=False),))
            for pos, it in enumerate(SCHEDULE["items"]):
                con.execute("INSERT INTO appt_items (id, name, guide_id, place, position) "
                            "VALUES (?, ?, ?, ?, ?)",
                            (it["id"], it["name"], it["guide_id"], it["place"], pos))
                for s in it["slots"]:
                    con.execute("INSERT INTO appt_slots (item, weekday, start, end, "
                                "capacity) VALUES (?, ?, ?, ?, ?)",
                                (it["id"], s["weekday"], s["start"], s["end"], s["capacity"]))
    finally:
        con.close()


def free_slot(node, item="sfz-sl"):
    """A slot with a place left, from the API."""
    r = node.get("/api/v1/appointments/slots?item=" + item)
    return next(s for s in r.json()["slots"] if s["left"] > 0)


class AppointmentsTest(NodeTestCase):
    NODE_NAME = "appt"
    EXTRA_INI = ("[limits]\nsubmissions_per_min = 0\nlookups_per_min = 0\n"
                 "wrong_code_max = 0\nlockout_min = 15\n")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        seed_schedule(cls.node)
        cls.cal = load_calendar(CALENDAR_DIR)

    # ---- helpers ---------------------------------------------------------------------
    def today(self):
        return datetime.datetime.now(TZ).date()

    def slots(self, item, **q):
        q["item"] = item
        r = self.node.get("/api/v1/appointments/slots?" + urllib.parse.urlencode(q))
        self.assertEqual(r.status, 200, r)
        return r.json()["slots"]

    def book(self, item, date, start, i=0, **extra):
        body = dict(item=item, date=date, start=start, **person(i))
        body.update(extra)
        return self.node.json_post("/api/v1/appointments", body)

    def day_off(self):
        """A day in the window that is not a working day."""
        t = self.today()
        for n in range(1, DAYS_AHEAD + 1):
            d = t + datetime.timedelta(days=n)
            if not self.cal.is_workday(d):
                return d
        self.fail("no day off within %d days" % DAYS_AHEAD)

    # ---- the slots ---------------------------------------------------------------------
    def test_slots_working_days_only(self):
        t = self.today()
        got = self.slots("conc")
        want = []
        for n in range(1, DAYS_AHEAD + 1):
            d = t + datetime.timedelta(days=n)
            if self.cal.is_workday(d):
                want.append(d.isoformat())
        con = self.node.db()
        try:
            full = {r[0] for r in con.execute(
                "SELECT date FROM appointments WHERE item = 'conc' AND status IN "
                "('booked', 'confirmed') GROUP BY date HAVING count(*) >= 5")}
        finally:
            con.close()
        self.assertEqual([s["date"] for s in got], [d for d in want if d not in full])
        for s in got:
            self.assertEqual((s["start"], s["end"]), ("10:00", "10:30"))
        # from: a later day
        later = want[-1]
        self.assertTrue(all(s["date"] >= later for s in self.slots("conc", **{"from": later})))
        r = self.node.get("/api/v1/appointments/slots?item=nope")
        self.assertJsonError(r, 422, field="item")
        r = self.node.get("/api/v1/appointments/slots?item=conc&from=2026-13-01")
        self.assertJsonError(r, 422, field="from")

    # ---- refusals ------------------------------------------------------------------------
    def test_refusals_name_the_field(self):
        t = self.today()
        first = self.slots("sfz-sl")[0]
        far = (t + datetime.timedelta(days=DAYS_AHEAD + 1)).isoformat()
        cases = [
            (dict(item="nope", date=first["date"], start="09:00"), "item"),
            (dict(item="sfz-sl", date="2026-02-30", start="09:00"), "date"),
            (dict(item="sfz-sl", date=t.isoformat(), start="09:00"), "date"),
            (dict(item="sfz-sl", date=(t - datetime.timedelta(days=3)).isoformat(),
                  start="09:00"), "date"),
            (dict(item="sfz-sl", date=far, start="09:00"), "date"),
            (dict(item="sfz-sl", date=self.day_off().isoformat(), start="09:00"), "date"),
            (dict(item="sfz-sl", date=first["date"], start="11:00"), "start"),
        ]
        with Unchanged(self, self.node, TABLES):
            for body, field in cases:
                body.update(person(1))
                r = self.node.json_post("/api/v1/appointments", body)
                self.assertJsonError(r, 422, field=field)
            r = self.node.json_post("/api/v1/appointments",
                                    dict(item="sfz-sl", date=first["date"], start="09:00",
                                         phone="13800138000"))
            self.assertJsonError(r, 422, field="name")
            r = self.book("sfz-sl", first["date"], first["start"], phone="12345")
            self.assertJsonError(r, 422, field="phone")
            r = self.book("sfz-sl", first["date"], first["start"], notify="no")
            self.assertJsonError(r, 422, field="notify")

    # ---- capacity under concurrency ------------------------------------------------------
    def test_200_concurrent_bookings_capacity_5(self):
        slot = next(s for s in self.slots("conc") if s["left"] == 5)
        before = self.node.counts(("appointments",))["appointments"]

        def one(i):
            r = self.book("conc", slot["date"], "10:00", i)
            return r.status, r.body

        # bounded below nginx's 64 connections per address (conf/nginx/server-limits.conf)
        with concurrent.futures.ThreadPoolExecutor(max_workers=40) as pool:
            results = list(pool.map(one, range(200)))
        created = [json.loads(b) for s, b in results if s == 201]
        full = [json.loads(b) for s, b in results if s == 409]
        self.assertEqual(len(created), 5, [s for s, _ in results if s not in (201, 409)])
        self.assertEqual(len(full), 195)
        for e in full:
            self.assertEqual(e["error"]["code"], "slot_full")
        for c in created:
            self.assertEqual(set(c), {"id", "appointment_no", "query_code", "item", "date",
                                      "start", "end", "place", "status"})
            self.assertEqual((c["status"], c["end"], c["place"]),
                             ("booked", "10:30", "二楼 5 号窗口"))
            self.assertRegex(c["query_code"], r"^\d{6}$")
        self.assertEqual(len({c["appointment_no"] for c in created}), 5)
        con = self.node.db()
        try:
            n = con.execute("SELECT count(*) FROM appointments WHERE item = 'conc' AND "
                            "date = ? AND start = '10:00'", (slot["date"],)).fetchone()[0]
            recs = con.execute("SELECT type, only_for FROM outbox WHERE case_no IN (%s)" %
                               ",".join("?" * 5),
                               [c["appointment_no"] for c in created]).fetchall()
        finally:
            con.close()
        self.assertEqual(n, 5)
        self.assertEqual(self.node.counts(("appointments",))["appointments"], before + 5)
        self.assertEqual(sorted(recs), [("appointment", "county")] * 5)
        # the slot is gone from the free slots
        self.assertNotIn((slot["date"], "10:00"),
                         [(s["date"], s["start"]) for s in self.slots("conc")])

    # ---- cancel and lookup ---------------------------------------------------------------
    def test_a_booking_sent_again_is_one_booking(self):
        """A lost answer and a retry with the same Idempotency-Key (or the form's key) get
        the first receipt back; the same key with other content is another booking."""
        slot = next(s for s in self.slots("conc") if s["left"] == 5 and s["start"] == "10:00"
                    and s["date"] != self.slots("conc")[0]["date"])
        body = dict(item="conc", date=slot["date"], start="10:00", **person(400))
        h = {"Idempotency-Key": "retry-key-400-abcdef"}
        first = self.node.json_post("/api/v1/appointments", body, headers=h)
        self.assertEqual(first.status, 201, first)
        again = self.node.json_post("/api/v1/appointments", body, headers=h)
        self.assertEqual(again.status, 200, again)
        self.assertEqual(again.json(), first.json())
        left = next(s["left"] for s in self.slots("conc") if s["date"] == slot["date"] and
                    s["start"] == "10:00")
        self.assertEqual(left, 4)
        other = self.node.json_post("/api/v1/appointments", dict(body, **person(401)),
                                    headers=h)
        self.assertEqual(other.status, 201, other)
        self.assertNotEqual(other.json()["appointment_no"], first.json()["appointment_no"])
        self.assertJsonError(self.node.json_post("/api/v1/appointments", body,
                                                 headers={"Idempotency-Key": "short"}), 400)
        # two free places left for the other tests of this slot's day: give them back
        for a in (first.json(), other.json()):
            r = self.node.json_post("/api/v1/appointments/%s/cancel" % a["appointment_no"],
                                    {"code": a["query_code"]})
            self.assertEqual(r.status, 200, r)

    def test_cancel_frees_a_place_and_lookup(self):
        slot = next(s for s in self.slots("conc") if s["left"] == 5 and
                    s["date"] != self.slots("conc")[0]["date"])
        made = []
        for i in range(5):
            r = self.book("conc", slot["date"], "10:00", 300 + i)
            self.assertEqual(r.status, 201, r)
            made.append(r.json())
        self.assertJsonError(self.book("conc", slot["date"], "10:00", 310), 409,
                             code="slot_full")
        a = made[0]
        no, code = a["appointment_no"], a["query_code"]
        wrong = "%06d" % ((int(code) + 1) % 1000000)
        # the lookup: with the code; wrong code and unknown number the same 404
        r = self.node.get("/api/v1/appointments/%s?code=%s" % (no, code))
        self.assertEqual(r.status, 200, r)
        v = r.json()
        self.assertEqual((v["status"], v["status_text"], v["date"], v["start"]),
                         ("booked", "已预约", slot["date"], "10:00"))
        self.assertNotIn("reason", v)
        self.assertNotIn(person(300)["phone"], r.text)
        e1 = self.assertJsonError(self.node.get("/api/v1/appointments/%s?code=%s" %
                                                (no, wrong)), 404)
        unknown = no[:-1] + ("0" if no[-1] != "0" else "1")
        e2 = self.assertJsonError(self.node.get("/api/v1/appointments/%s?code=%s" %
                                                (unknown, code)), 404)
        self.assertEqual(e1, e2)
        self.assertJsonError(self.node.get("/api/v1/appointments/%s" % no), 422, field="code")
        # cancel: a wrong code is 404 and changes nothing
        with Unchanged(self, self.node, TABLES):
            self.assertJsonError(self.node.json_post(
                "/api/v1/appointments/%s/cancel" % no, {"code": wrong}), 404)
        r = self.node.json_post("/api/v1/appointments/%s/cancel" % no, {"code": code})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json(), {"appointment_no": no, "status": "cancelled"})
        self.assertJsonError(self.node.json_post(
            "/api/v1/appointments/%s/cancel" % no, {"code": code}), 409,
            code="not_cancellable")
        r = self.node.get("/api/v1/appointments/%s?code=%s" % (no, code))
        self.assertEqual(r.json()["status"], "cancelled")
        con = self.node.db()
        try:
            rec = con.execute("SELECT payload, only_for FROM outbox WHERE type = 'appt_event' "
                              "AND case_no = ?", (no,)).fetchone()
        finally:
            con.close()
        self.assertEqual(rec[1], "county")
        self.assertEqual(json.loads(rec[0])["status"], "cancelled")
        # the place is free again: one more booking, then full
        self.assertEqual(self.book("conc", slot["date"], "10:00", 320).status, 201)
        self.assertJsonError(self.book("conc", slot["date"], "10:00", 321), 409,
                             code="slot_full")
        # the county's refusal (as the downlink applies it) shows with its reason
        b = made[1]
        con = self.node.db()
        try:
            with con:
                con.execute("UPDATE appointments SET status = 'refused', reason = ? "
                            "WHERE appointment_no = ?", ("该时段窗口设备检修", b["appointment_no"]))
        finally:
            con.close()
        r = self.node.get("/api/v1/appointments/%s?code=%s" % (b["appointment_no"],
                                                               b["query_code"]))
        self.assertEqual((r.json()["status"], r.json()["reason"]),
                         ("refused", "该时段窗口设备检修"))

    # ---- pages -------------------------------------------------------------------------
    def assertPage(self, r):
        self.assertEqual(r.status, 200, r)
        self.assertLess(len(r.body), 30 * 1024)
        self.assertNotIn("<script", r.text.lower())
        self.assertIn('name="viewport"', r.text)

    def links(self, r, prefix):
        hrefs = [h.replace("&amp;", "&") for h in re.findall(r'href="([^"]+)"', r.text)]
        return [h for h in hrefs if h.startswith(prefix)]

    def test_pages_book_without_javascript(self):
        r = self.node.get("/appointments")
        self.assertPage(r)
        self.assertIn("居民身份证申领", r.text)
        items = self.links(r, "/appointments?item=sfz-sl")
        self.assertEqual(len(items), 1)
        r = self.node.get(items[0])
        self.assertPage(r)
        days = self.links(r, "/appointments?item=sfz-sl&date=")
        self.assertTrue(days)
        r = self.node.get(days[0])
        self.assertPage(r)
        slots = self.links(r, "/appointments?item=sfz-sl&date=")
        slots = [s for s in slots if "&start=" in s]
        self.assertTrue(slots)
        form = Form(self.node, slots[0], action="/appointments")
        self.assertPage(form.page)
        self.assertEqual({"item", "date", "start", "csrf"} - set(form.hidden), set())
        # without its token: the form again, nothing booked
        with Unchanged(self, self.node, TABLES):
            r = form.post({"name": "李四", "phone": "13900139000"}, with_hidden=False)
            self.assertNotEqual(r.status, 200)
            r = form.post({"name": "", "phone": "13900139000"})
            self.assertEqual(r.status, 422)
            self.assertIn('class="error"', r.text)
            self.assertIn("13900139000", r.text)   # the input kept
        r = form.post({"name": "李四", "phone": "13900139000", "note": "带孩子一起"})
        self.assertPage(r)
        for word in ("预约号", "预约人姓名", "预约时间", "办理地点", "预约内容", "李四",
                     "一楼 2 号窗口", "居民身份证申领", "请携带以下材料"):
            self.assertIn(word, r.text)
        con = self.node.db()
        try:
            materials = con.execute("SELECT materials FROM guides WHERE id = 'g-shenfenzheng'"
                                    ).fetchone()[0]
            no, code = con.execute("SELECT appointment_no, query_code FROM appointments "
                                   "WHERE name = '李四'").fetchone()
        finally:
            con.close()
        first = materials.splitlines()[0].strip()
        self.assertIn(first.replace("&", "&amp;").replace("<", "&lt;")[:20], r.text)
        self.assertIn(" ".join(no[i:i + 4] for i in range(0, len(no), 4)), r.text)
        # the lookup page, and its cancel form
        lk = Form(self.node, "/appointments/lookup")
        self.assertPage(lk.page)
        r = lk.post({"appointment_no": no, "code": "000000" if code != "000000" else "111111"})
        self.assertEqual(r.status, 404)
        r = lk.post({"appointment_no": no, "code": code})
        self.assertPage(r)
        self.assertIn("已预约", r.text)
        self.assertNotIn("13900139000", r.text)
        cancel = next(f for f in parse_forms(r.text) if f["action"] == "/appointments/cancel")
        r = self.node.form_post("/appointments/cancel", cancel["hidden"], cookie=lk.cookie)
        self.assertPage(r)
        self.assertIn("已取消", r.text)
        r = self.node.get("/api/v1/appointments/%s?code=%s" % (no, code))
        self.assertEqual(r.json()["status"], "cancelled")

    # ---- e-mail ------------------------------------------------------------------------
    def test_email(self):
        slot = free_slot(self.node)
        with Unchanged(self, self.node, TABLES):
            r = self.book("sfz-sl", slot["date"], slot["start"], 500, email="not-an-address")
            self.assertJsonError(r, 422, field="email")
        r = self.book("sfz-sl", slot["date"], slot["start"], 501, email="appt@example.cn")
        self.assertEqual(r.status, 201, r)
        with_email = r.json()
        slot = free_slot(self.node)
        r = self.book("sfz-sl", slot["date"], slot["start"], 502)
        self.assertEqual(r.status, 201, r)
        without = r.json()
        con = self.node.db()
        try:
            got = {no: (email, json.loads(payload)) for no, email, payload in con.execute(
                "SELECT a.appointment_no, a.email, o.payload FROM appointments a JOIN outbox o "
                "ON o.id = a.id WHERE a.appointment_no IN (?, ?)",
                (with_email["appointment_no"], without["appointment_no"]))}
        finally:
            con.close()
        email, rec = got[with_email["appointment_no"]]
        self.assertEqual((email, rec["email"]), ("appt@example.cn", "appt@example.cn"))
        email, rec = got[without["appointment_no"]]
        self.assertIsNone(email)
        self.assertNotIn("email", rec)
        # the form asks for it, and checks it beside the field
        slot = free_slot(self.node)
        form = Form(self.node, "/appointments?" + urllib.parse.urlencode(
            {"item": "sfz-sl", "date": slot["date"], "start": slot["start"]}),
            action="/appointments")
        self.assertIn('name="email"', form.page.text)
        with Unchanged(self, self.node, TABLES):
            r = form.post({"name": "王五", "phone": "13900139001", "email": "bad@"})
            self.assertEqual(r.status, 422)
            self.assertRegex(r.text, r'class="error"[^>]*>[^<]*邮')
        r = form.post({"name": "王五", "phone": "13900139001", "email": "wang@example.cn"})
        self.assertEqual(r.status, 200, r.text[:300])
        self.assertEqual(hall_scalar(self.node, "SELECT email FROM appointments WHERE "
                                                "phone = '13900139001'"), "wang@example.cn")

    # ---- a new query code, without a county ----------------------------------------------
    def test_resend_without_county(self):
        slot = free_slot(self.node)
        r = self.book("sfz-sl", slot["date"], slot["start"], 600)
        self.assertEqual(r.status, 201, r)
        a = r.json()
        no = a["appointment_no"]
        with Unchanged(self, self.node, TABLES + ("code_resends",)):
            r = self.node.request("POST", "/api/v1/appointments/%s/resend-code" % no)
            self.assertJsonError(r, 503, code="no_county")
            # a malformed number is the lookup's 404 all the same
            bad = no[:-1] + ("0" if no[-1] != "0" else "1")
            self.assertJsonError(self.node.request(
                "POST", "/api/v1/appointments/%s/resend-code" % bad), 404, code="not_found")
        r = self.node.get("/api/v1/appointments/%s?code=%s" % (no, a["query_code"]))
        self.assertEqual(r.status, 200, r)
        # the lookup page's link, the form, and its answer
        lk = self.node.get("/appointments/lookup")
        self.assertIn('<a href="/appointments/resend">忘记查询码？</a>', lk.text)
        form = Form(self.node, "/appointments/resend", action="/appointments/resend")
        self.assertPage(form.page)
        self.assertIn("csrf", form.hidden)
        with Unchanged(self, self.node, TABLES + ("code_resends",)):
            r = form.post({"appointment_no": no}, with_hidden=False)
            self.assertEqual(r.status, 403)
            r = form.post({"appointment_no": no})
            self.assertEqual(r.status, 503)
            self.assertIn("暂不能补发查询码", r.text)

    # ---- a real browser, JavaScript off, 360 px -------------------------------------------
    def test_browser_books_without_javascript_at_360px(self):
        node_js = shutil.which("node")
        if node_js is None or not os.access("/usr/bin/chromium", os.X_OK):
            self.skipTest("node or /usr/bin/chromium is not installed")
        modules = playwright_modules()
        if modules is None:
            self.skipTest("playwright-core could not be installed from npm")
        work = os.path.join(ROOT, "var", "test-appointments")
        shutil.rmtree(work, ignore_errors=True)
        os.makedirs(work, exist_ok=True)
        script = os.path.join(work, "book.js")
        with open(script, "w") as f:
            f.write(BROWSER_JS)
        p = subprocess.run([node_js, script, self.node.url, "sfz-sl", work],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env=dict(os.environ, NODE_PATH=modules), timeout=180)
        self.assertEqual(p.returncode, 0, p.stderr.decode("utf-8", "replace")[-3000:])
        out = json.loads(p.stdout.decode("utf-8").strip().splitlines()[-1])
        for page, width in out["widths"].items():
            self.assertLessEqual(width, 360, "%s scrolls sideways (%d px)" % (page, width))
        self.assertEqual(len(out["widths"]), 5, out)
        text = out["receipt"]
        self.assertIn("预约号", text)
        self.assertIn("居民身份证申领", text)
        self.assertIn("赵六", text)
        no = re.search(r"预约号\s*([0-9A-Z ]{23,})", text).group(1).replace(" ", "")
        self.assertEqual(hall_scalar(self.node, "SELECT name FROM appointments WHERE "
                                                "appointment_no = ?", (no,)), "赵六")


BROWSER_JS = r"""
const { chromium } = require('playwright-core');

(async () => {
  const [url, item, dir] = process.argv.slice(2);
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
           '--disable-background-networking', '--no-first-run', '--disable-extensions'],
  });
  const widths = {};
  const width = async (name) => {
    widths[name] = await page.evaluate(() => document.documentElement.scrollWidth);
  };
  let page;
  try {
    page = await browser.newPage({ viewport: { width: 360, height: 740 },
                                   javaScriptEnabled: false });
    page.setDefaultTimeout(20000);
    await page.goto(url + '/appointments');
    await width('items');
    await Promise.all([page.waitForURL(/item=/),
                       page.click('a[href="/appointments?item=' + item + '"]')]);
    await width('days');
    await Promise.all([page.waitForURL(/date=/),
                       page.click('ul.tiles a[href*="&date="]')]);
    await width('slots');
    await Promise.all([page.waitForURL(/start=/),
                       page.click('ul.tiles a[href*="&start="]')]);
    await width('form');
    await page.fill('#f-name', '赵六');
    await page.fill('#f-phone', '13712345678');
    await page.fill('#f-email', 'zhao@example.cn');
    await Promise.all([page.waitForNavigation(),
                       page.click('form[action="/appointments"] button[type="submit"]')]);
    await width('receipt');
    await page.screenshot({ path: dir + '/receipt.png', fullPage: true });
    const receipt = await page.innerText('body');
    console.log(JSON.stringify({ widths, receipt }));
  } finally {
    await browser.close();
  }
})().catch((e) => { console.error(e); process.exit(1); });
"""


class AppointmentResendCountyTest(unittest.TestCase):
    """A new query code with the node's own county MariaDB and hall-agent (as test_resend):
    the county sends it by SMS to the appointment's phone. No notifier runs, so the notice
    stays pending with its secret, which is how the test reads the code the SMS carries."""

    @classmethod
    def setUpClass(cls):
        cls.node = Node("appt-resend", county=True)
        cls.addClassCleanup(finish_node, cls.node)
        cls.node.start("[limits]\nsubmissions_per_min = 0\nlookups_per_min = 0\n"
                       "wrong_code_max = 0\nlockout_min = 15\n")
        cls.county = County(cls.node)
        seed_schedule(cls.node)

    def tearDown(self):
        problems = self.node.new_log_problems()
        if problems:
            self.fail("the hall programs logged problems:\n" + "\n".join(problems[:20]))

    def book(self, phone, **extra):
        slot = free_slot(self.node)
        body = dict(item="sfz-sl", date=slot["date"], start=slot["start"], name="钱七",
                    phone=phone, **extra)
        r = self.node.json_post("/api/v1/appointments", body)
        self.assertEqual(r.status, 201, r)
        return r.json()

    def resend(self, no):
        return self.node.request("POST", "/api/v1/appointments/%s/resend-code" % no)

    def lookup(self, no, code):
        return self.node.get("/api/v1/appointments/%s?code=%s" % (no, code)).status

    def test_resend_code(self):
        phone = "1390%03d6789" % (os.getpid() % 1000)
        a = self.book(phone, email="qian@example.cn")
        no, old = a["appointment_no"], a["query_code"]
        wait_until(lambda: self.county.count("appointments", "appointment_no = '%s'" % no),
                   60, 0.2, "the appointment at the county")
        self.assertEqual(self.county.scalar("SELECT email FROM appointments WHERE "
                                            "appointment_no = '%s'" % no), "qian@example.cn")
        r = self.resend(no)
        self.assertEqual(r.status, 202, r)
        self.assertEqual(r.json(), {"appointment_no": no, "status": "queued",
                                    "sent_to": "*******" + phone[-4:]})
        new = hall_scalar(self.node, "SELECT query_code FROM appointments WHERE "
                                     "appointment_no = ?", (no,))
        self.assertNotEqual(new, old)
        self.assertNotIn(new.encode(), r.body)
        self.assertEqual(self.lookup(no, old), 404)
        self.assertEqual(self.lookup(no, new), 200)
        rec = hall_scalar(self.node, "SELECT only_for FROM outbox WHERE type = 'code' AND "
                                     "case_no = ?", (no,))
        self.assertEqual(rec, "county")
        got = wait_until(lambda: self.county.rows(
            "SELECT channel, to_addr, secret FROM notifications WHERE case_no = '%s' AND "
            "event = 'code'" % no), 60, 0.2, "the code's SMS notice")
        self.assertEqual([tuple(g) for g in got], [("sms", phone, new)])
        mac = hall_scalar(self.node, "SELECT query_mac FROM appointments WHERE "
                                     "appointment_no = ?", (no,))
        wait_until(lambda: self.county.scalar("SELECT query_mac FROM appointments WHERE "
                                              "appointment_no = '%s'" % no) == mac,
                   60, 0.2, "the new MAC at the county")
        # a second within 10 minutes: 429 with Retry-After, nothing changed
        r = self.resend(no)
        self.assertEqual(r.status, 429, r)
        self.assertEqual(r.json()["error"]["code"], "resend_too_soon")
        self.assertTrue(500 <= int(r.headers["Retry-After"]) <= 600)
        self.assertEqual(self.lookup(no, new), 200)

    def test_refusals(self):
        land = self.book("0731-84567892")
        r = self.resend(land["appointment_no"])
        self.assertEqual(r.status, 409, r)
        self.assertEqual(r.json()["error"]["code"], "no_mobile")
        self.assertEqual(self.lookup(land["appointment_no"], land["query_code"]), 200)
        # a well-formed number of no appointment, and a case's number: the same 404
        case = self.node.submit()
        for no in (case["case_no"], caseno(HALL, 31 ** 9)):
            r = self.resend(no)
            self.assertEqual(r.status, 404, r)
            self.assertEqual(r.json()["error"]["code"], "not_found")
        self.assertEqual(hall_scalar(self.node, "SELECT count(*) FROM code_resends"), 0)
