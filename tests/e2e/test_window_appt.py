"""Appointments at the window (SPEC 4.4, 4.5; issue 14), end to end through nginx.

A node without the county; its schedule seeded into the hall store's tables as
test_appointments.py does; a window account made with `hall-admin staff add`; a browser
(test_staff.Client: cookies, forms) that signs in as test_window.py's does. Then:

- a booking for a citizen who phoned, item -> day -> slot -> form without script: the
  appointment has channel phone and the account as registrar, and so do the record's bytes
  (for the county alone); the receipt prints 预约号, the name, time, place, item, the
  guide's materials and the query code, on A5 or ?paper=80; another account cannot print it;
- a full slot at the window is the 409 page, writing nothing;
- 已办理: the status, one appt_events row and one appt_event record (<hall>-E<seq>, county
  only); marking twice, a cancelled or a future one is refused (409) writing nothing;
- the list shows the day's appointments only, phones masked, the marks only up to today;
- the pages need a session, and every POST its form token.

Python 3 standard library only.
"""

import datetime
import json
import os
import re
import subprocess
import urllib.parse

from harness import BUILD, ROOT, TZ, NodeTestCase, parse_forms
from test_staff import Client

HALL = "430121001000"
HALL_ADMIN = os.path.join(ROOT, BUILD, "hall-admin")
SCHEDULE = {
    "hall_code": HALL, "version": 1,
    "items": [
        {"id": "sfz-sl", "name": "居民身份证申领", "guide_id": "g-shenfenzheng",
         "place": "一楼 2 号窗口",
         "slots": [{"weekday": w, "start": s, "end": e, "capacity": 3}
                   for w in range(1, 8) for s, e in (("09:00", "09:30"), ("14:00", "14:30"))]},
        # one place a day: full after one booking
        {"id": "one", "name": "单人事项", "guide_id": None, "place": "二楼 5 号窗口",
         "slots": [{"weekday": w, "start": "10:00", "end": "10:30", "capacity": 1}
                   for w in range(1, 8)]},
    ],
    "closed": [],
}
COUNTED = ("appointments", "appt_events", "outbox")


class WindowClient(Client):
    def login(self, user, password):
        hidden = self.form("/window/login", "/window/login")
        return self.post("/window/login", dict(hidden, username=user, password=password))


def plain(html):
    """The page's text with the grouping spaces of numbers gone."""
    return re.sub(r"\s+", "", html)


class WindowApptTest(NodeTestCase):
    NODE_NAME = "wappt"
    _source = 40

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        con = cls.node.db()
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
                                    (it["id"], s["weekday"], s["start"], s["end"],
                                     s["capacity"]))
        finally:
            con.close()
        cls.user, cls.password = "wappt_clerk", "window-pass-123"
        cls.other, cls.other_password = "wappt_other", "window-pass-456"
        for name, pw in ((cls.user, cls.password), (cls.other, cls.other_password)):
            p = subprocess.run([HALL_ADMIN, "-c", cls.node.ini_path, "staff", "add", name],
                               input=(pw + "\n").encode(), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=60)
            assert p.returncode == 0, p.stdout.decode("utf-8", "replace")

    # ---- helpers -------------------------------------------------------------------------
    def client(self):
        type(self)._source += 1
        return WindowClient(self.node.port, "127.0.0.%d" % type(self)._source)

    def signed_in(self, user=None, password=None):
        c = self.client()
        r = c.login(user or self.user, password or self.password)
        self.assertEqual(r.status, 303, r.text[:500])
        return c

    def rows(self, sql, args=()):
        con = self.node.db()
        try:
            return con.execute(sql, args).fetchall()
        finally:
            con.close()

    def execute(self, sql, args=()):
        con = self.node.db()
        try:
            with con:
                con.execute(sql, args)
        finally:
            con.close()

    def counts(self):
        return {t: self.rows("SELECT count(*) FROM %s" % t)[0][0] for t in COUNTED}

    def today(self):
        return datetime.datetime.now(TZ).date()

    def links(self, html, prefix):
        return [urllib.parse.unquote(h.replace("&amp;", "&"))
                for h in re.findall(r'href="(%s[^"]*)"' % re.escape(prefix), html)]

    def first_slot(self, c, item):
        """Walks item -> day -> slot as a browser without script; the slot's form URL."""
        r = c.get("/window/appointments/new")
        self.assertEqual(r.status, 200, r.text[:500])
        self.assertNotIn("<script", r.text)
        self.assertIn("/window/appointments/new?item=" + item, r.text)
        r = c.get("/window/appointments/new?item=" + item)
        self.assertEqual(r.status, 200, r.text[:500])
        days = self.links(r.text, "/window/appointments/new?item=%s&amp;date=" % item)
        self.assertTrue(days, r.text[:1500])
        r = c.get(days[0])
        self.assertEqual(r.status, 200, r.text[:500])
        slots = self.links(r.text, "/window/appointments/new?item=%s&amp;date=" % item)
        slots = [s for s in slots if "&start=" in s]
        self.assertTrue(slots, r.text[:1500])
        return slots[0]

    def book(self, c, item, channel="phone", name="王五", phone="13912345678", slot=None):
        """Books at the window; the answer to the form's POST."""
        url = slot or self.first_slot(c, item)
        r = c.get(url)
        self.assertEqual(r.status, 200, r.text[:800])
        form = next(f for f in parse_forms(r.text)
                    if f["action"] == "/window/appointments/new")
        fields = dict(form["hidden"], channel=channel, name=name, phone=phone,
                      note="来电预约")
        return c.post("/window/appointments/new", fields)

    def booked(self, c, item="sfz-sl", **kw):
        r = self.book(c, item, **kw)
        self.assertEqual(r.status, 303, r.text[:800])
        loc = r.getheader("Location")
        self.assertRegex(loc, r"^/window/appointments/receipt/[0-9A-Z]{23}$")
        return loc.rsplit("/", 1)[1], loc

    def list_form(self, c, date, no, status):
        r = c.get("/window/appointments?date=" + date)
        self.assertEqual(r.status, 200, r.text[:500])
        for f in parse_forms(r.text):
            h = dict(f["hidden"])
            if (f["action"] == "/window/appointments/mark" and h.get("appointment_no") == no
                    and h.get("status") == status):
                return h
        return None

    def to_today(self, no):
        """Moves an appointment to today, as if its day had come."""
        self.execute("UPDATE appointments SET date = ? WHERE appointment_no = ?",
                     (self.today().isoformat(), no))

    # ---- booking ---------------------------------------------------------------------------
    def test_book_by_phone_has_channel_and_registrar(self):
        c = self.signed_in()
        before = self.counts()
        no, loc = self.booked(c, channel="phone", name="王五")
        after = self.counts()
        self.assertEqual(after["appointments"], before["appointments"] + 1)
        self.assertEqual(after["outbox"], before["outbox"] + 1)
        (channel, registrar, name, phone, place, item_name, date, start, end, code,
         aid), = self.rows("SELECT channel, registrar, name, phone, place, item_name, date, "
                           "start, end, query_code, id FROM appointments "
                           "WHERE appointment_no = ?", (no,))
        self.assertEqual((channel, registrar, name, phone), ("phone", self.user, "王五",
                                                             "13912345678"))
        (payload, only_for, rtype), = self.rows(
            "SELECT payload, only_for, type FROM outbox WHERE id = ?", (aid,))
        self.assertEqual((rtype, only_for), ("appointment", "county"))
        rec = json.loads(payload)
        self.assertEqual((rec["channel"], rec["registrar"], rec["case_no"]),
                         ("phone", self.user, no))
        self.assertIn(b'"registrar":"%s"' % self.user.encode(), payload.encode())
        # the receipt: seed 4's list, what to bring, the code; A5, or the 80 mm roll
        r = c.get(loc)
        self.assertEqual(r.status, 200, r.text[:500])
        self.assertIn('class="paper-a5"', r.text)
        text = plain(r.text)
        for want in (no, "王五", place, item_name, start + "-" + end, code, "预约号", "查询码"):
            self.assertIn(plain(want), text)
        (materials,), = self.rows("SELECT materials FROM guides WHERE id = 'g-shenfenzheng'")
        first = next(l.strip() for l in materials.splitlines() if l.strip())
        self.assertIn(plain(first), text)
        self.assertIn('class="paper-80"', c.get(loc + "?paper=80").text)
        # only its registrar prints it again
        other = self.signed_in(self.other, self.other_password)
        r = other.get(loc)
        self.assertEqual(r.status, 404)
        self.assertNotIn(code, r.text)
        # a walk-in: channel window
        no2, _ = self.booked(c, channel="window", name="赵六", phone="13700001111")
        self.assertEqual(self.rows("SELECT channel, registrar FROM appointments WHERE "
                                   "appointment_no = ?", (no2,)),
                         [("window", self.user)])

    def test_full_slot_at_the_window_is_409(self):
        c = self.signed_in()
        slot = self.first_slot(c, "one")
        self.booked(c, item="one", slot=slot, name="甲")
        before = self.counts()
        r = self.book(c, "one", name="乙", slot=slot)
        self.assertEqual(r.status, 409, r.text[:500])
        self.assertIn("已约满", r.text)
        self.assertEqual(self.counts(), before)

    def test_form_refusals_write_nothing(self):
        c = self.signed_in()
        slot = self.first_slot(c, "sfz-sl")
        before = self.counts()
        r = self.book(c, "sfz-sl", channel="letter", slot=slot)
        self.assertEqual(r.status, 422, r.text[:500])
        r = self.book(c, "sfz-sl", phone="12", slot=slot)
        self.assertEqual(r.status, 422, r.text[:500])
        self.assertEqual(self.counts(), before)

    # ---- marking ---------------------------------------------------------------------------
    def test_mark_attended_once(self):
        c = self.signed_in()
        no, _ = self.booked(c, name="孙七")
        date = self.rows("SELECT date FROM appointments WHERE appointment_no = ?", (no,))[0][0]
        # a day still to come has no buttons, and the mark is refused
        self.assertIsNone(self.list_form(c, date, no, "attended"))
        before = self.counts()
        r = c.post("/window/appointments/mark", dict(csrf=self.csrf_of(c), appointment_no=no,
                                                    status="attended"))
        self.assertEqual(r.status, 409, r.text[:300])
        self.assertEqual(self.counts(), before)
        self.to_today(no)
        today = self.today().isoformat()
        form = self.list_form(c, today, no, "attended")
        self.assertIsNotNone(form, "today's booked appointment has its 已办理 button")
        self.assertIsNotNone(self.list_form(c, today, no, "no_show"))
        r = c.post("/window/appointments/mark", form)
        self.assertEqual(r.status, 303, r.text[:300])
        self.assertEqual(r.getheader("Location"), "/window/appointments?date=" + today)
        self.assertEqual(self.rows("SELECT status FROM appointments WHERE appointment_no = ?",
                                   (no,)), [("attended",)])
        events = self.rows("SELECT id, status FROM appt_events WHERE appointment_no = ?", (no,))
        self.assertEqual(len(events), 1, events)
        eid, status = events[0]
        self.assertRegex(eid, r"^%s-E\d+$" % HALL)
        self.assertEqual(status, "attended")
        recs = self.rows("SELECT id, payload, only_for FROM outbox WHERE case_no = ? AND "
                         "type = 'appt_event'", (no,))
        self.assertEqual(len(recs), 1, recs)
        self.assertEqual((recs[0][0], recs[0][2]), (eid, "county"))
        rec = json.loads(recs[0][1])
        self.assertEqual((rec["type"], rec["status"], rec["case_no"], rec["id"]),
                         ("appt_event", "attended", no, eid))
        # twice: refused, nothing written; the list has no button any more
        self.assertIsNone(self.list_form(c, today, no, "no_show"))
        before = self.counts()
        again = dict(form, status="no_show", csrf=self.csrf_of(c))
        r = c.post("/window/appointments/mark", again)
        self.assertEqual(r.status, 409, r.text[:300])
        self.assertEqual(self.counts(), before)
        self.assertEqual(self.rows("SELECT status FROM appointments WHERE appointment_no = ?",
                                   (no,)), [("attended",)])

    def test_no_show_and_cancelled_is_refused(self):
        c = self.signed_in()
        no, _ = self.booked(c, name="周八")
        self.to_today(no)
        form = self.list_form(c, self.today().isoformat(), no, "no_show")
        r = c.post("/window/appointments/mark", form)
        self.assertEqual(r.status, 303, r.text[:300])
        self.assertEqual(self.rows("SELECT status FROM appointments WHERE appointment_no = ?",
                                   (no,)), [("no_show",)])
        # a cancelled one
        no2, _ = self.booked(c, name="吴九")
        self.to_today(no2)
        self.execute("UPDATE appointments SET status = 'cancelled' WHERE appointment_no = ?",
                     (no2,))
        self.assertIsNone(self.list_form(c, self.today().isoformat(), no2, "attended"))
        before = self.counts()
        r = c.post("/window/appointments/mark", dict(csrf=self.csrf_of(c), appointment_no=no2,
                                                    status="attended"))
        self.assertEqual(r.status, 409, r.text[:300])
        self.assertEqual(self.counts(), before)
        # an unknown number, an unknown status
        r = c.post("/window/appointments/mark", dict(csrf=self.csrf_of(c),
                                                    appointment_no="4" * 23, status="attended"))
        self.assertIn(r.status, (404,), r.text[:300])
        r = c.post("/window/appointments/mark", dict(csrf=self.csrf_of(c), appointment_no=no2,
                                                    status="cancelled"))
        self.assertEqual(r.status, 422, r.text[:300])
        self.assertEqual(self.counts(), before)

    def csrf_of(self, c):
        """This session's form token, from the bar's sign-out form."""
        r = c.get("/window/appointments")
        f = next(f for f in parse_forms(r.text) if f["action"] == "/window/logout")
        return dict(f["hidden"])["csrf"]

    # ---- the list ---------------------------------------------------------------------------
    def test_list_shows_the_day_only(self):
        c = self.signed_in()
        a, _ = self.booked(c, name="郑十", phone="13811112222")
        b, _ = self.booked(c, name="冯十一", phone="13833334444")
        self.to_today(a)
        self.execute("UPDATE appointments SET date = ? WHERE appointment_no = ?",
                     ((self.today() - datetime.timedelta(days=1)).isoformat(), b))
        r = c.get("/window/appointments")
        self.assertEqual(r.status, 200)
        text = plain(r.text)
        self.assertIn(plain(a), text)
        self.assertNotIn(plain(b), text)
        self.assertIn("郑十", r.text)
        self.assertNotIn("13811112222", r.text, "phones are masked")
        r = c.get("/window/appointments?date=" +
                  (self.today() - datetime.timedelta(days=1)).isoformat())
        self.assertIn(plain(b), plain(r.text))
        self.assertNotIn(plain(a), plain(r.text))
        self.assertIn('rel="prev"', r.text)
        self.assertIn('rel="next"', r.text)
        r = c.get("/window/appointments?date=2026-13-40")
        self.assertEqual(r.status, 422)

    # ---- sessions and form tokens --------------------------------------------------------------
    def test_pages_need_a_session_and_csrf(self):
        anon = self.client()
        for path in ("/window/appointments", "/window/appointments/new",
                     "/window/appointments/new?item=sfz-sl",
                     "/window/appointments/receipt/" + "4" * 23):
            r = anon.get(path)
            self.assertEqual(r.status, 303, path)
            self.assertEqual(r.getheader("Location"), "/window/login", path)
        before = self.counts()
        r = anon.post("/window/appointments/mark", dict(appointment_no="4" * 23,
                                                        status="attended"))
        self.assertEqual(r.status, 303)
        c = self.signed_in()
        slot = self.first_slot(c, "sfz-sl")
        q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(slot).query))
        r = anon.post("/window/appointments/new", dict(q, channel="phone", name="钱", phone=
                                                       "13912340000"))
        self.assertEqual(r.status, 303)
        # signed in, but no or a stale token
        r = c.post("/window/appointments/new", dict(q, channel="phone", name="钱",
                                                    phone="13912340000"))
        self.assertEqual(r.status, 403, r.text[:300])
        r = c.post("/window/appointments/new", dict(q, channel="phone", name="钱",
                                                    phone="13912340000", csrf="x" * 20))
        self.assertEqual(r.status, 403, r.text[:300])
        no, _ = self.booked(c, name="李十二")
        self.to_today(no)
        before = self.counts()
        r = c.post("/window/appointments/mark", dict(appointment_no=no, status="attended"))
        self.assertEqual(r.status, 403, r.text[:300])
        # another session's token
        other = self.signed_in(self.other, self.other_password)
        r = c.post("/window/appointments/mark", dict(appointment_no=no, status="attended",
                                                    csrf=self.csrf_of(other)))
        self.assertEqual(r.status, 403, r.text[:300])
        self.assertEqual(self.counts(), before)
        self.assertEqual(self.rows("SELECT status FROM appointments WHERE appointment_no = ?",
                                   (no,)), [("booked",)])
