"""Issue 14: appointments at the county (SPEC 4.5, 5.6, 7; sql/county/016).

A schedule published in the staff console reaches the hall's account as my_schedules, with a
version that only grows; appointment and appt_event records written by the hall's account
through hall_upload (exactly as the contract between the hall and the county has them) land
in the county's tables, with their `booked` notices (none when the citizen opted out) and
their refusals record by record; a refusal in the console goes down as my_appt_events and
tells the citizen why; appointment_reminders() makes one reminder per channel however often
it runs; a schedule change that drops a booked slot lists the booking among the conflicts.

One node with its county and staff console (`conf/demo start`), against real MariaDB, nginx
and the programs; the hall's side is played by the hall's database account.
"""

import datetime
import json
import os
import re
import unittest

from county import Agent, County, hall_scalar, sql_str
from harness import BUILD, NO_LIMITS, ROOT, Node
import test_staff
from test_staff import Client, caseno

STAFF_CONSOLE = os.path.join(ROOT, BUILD, "staff-console")
OTHER_HALL = "430121002000"
TZ = datetime.timezone(datetime.timedelta(hours=8))


class ApptCountyTest(unittest.TestCase):
    node = None
    seq = 7000

    @classmethod
    def setUpClass(cls):
        cls.node = Node("appt-county", county=True, agent=False, staff=True)
        cls.addClassCleanup(cls._finish)
        cls.node.start(NO_LIMITS)
        cls.county = County(cls.node)
        cls.agent = Agent(cls.node)
        cls.addClassCleanup(cls.agent.cleanup)
        cls.staff_ini = os.path.join(cls.node.var, "staff", "staff.ini")
        cls._log_offset = 0
        cls.hall = cls.county.hall_code
        cls.county.add_hall(OTHER_HALL, "长沙县另一街道政务服务中心")
        cls.super_pw = cls.add_staff(cls, "appt_super", "430121", "supervisor")
        cls.staff_pw = cls.add_staff(cls, "appt_staff", "430121", "staff")

    # the node's end, its log checks and add-user are test_staff's
    _finish = classmethod(test_staff.StaffTest._finish.__func__)
    tearDown = test_staff.StaffTest.tearDown
    add_staff = test_staff.StaffTest.add_staff

    # ---- helpers ---------------------------------------------------------------------
    def client(self, user, password):
        c = Client(self.node.staff_port)
        r = c.login(user, password)
        self.assertEqual(r.status, 303, r.text[:500])
        return c

    def next_no(self):
        type(self).seq += 1
        return self.seq, caseno(self.hall, self.seq)

    def workdays(self, n):
        """The first n working days after today (the county's calendar_is_workday)."""
        days, d = [], datetime.datetime.now(TZ).date()
        while len(days) < n:
            d += datetime.timedelta(days=1)
            if self.county.scalar("SELECT calendar_is_workday('%s')" % d) == "1":
                days.append(d)
        return days

    def upload(self, records, account="hall"):
        """CALL hall_upload as the hall's account: the result rows (n, id, result, reason)."""
        batch = json.dumps([json.dumps(r, ensure_ascii=False) for r in records],
                           ensure_ascii=False)
        return self.county.rows("CALL hall_upload('%s', 1, 'test', 0, %s)"
                                % ("b" * 32, sql_str(batch)), account=account)

    def appointment(self, day, start="09:00", end="09:30", **changes):
        """An appointment record as the contract has it, and its number."""
        seq, no = self.next_no()
        r = {"id": "%s-A%d" % (self.hall, seq), "type": "appointment", "hall_code": self.hall,
             "case_no": no, "at": datetime.datetime.now(TZ).isoformat(timespec="seconds"),
             "item": "sfz-sl", "item_name": "居民身份证申领", "date": str(day), "start": start,
             "end": end, "place": "一楼 2 号窗口", "name": "张预约", "phone": "13912345678",
             "email": "zhang.yuyue@example.cn", "note": None, "channel": "online",
             "query_mac": "c" * 64}
        r.update(changes)
        return r

    def appt_event(self, no, status):
        seq, _ = self.next_no()
        return {"id": "%s-E%d" % (self.hall, seq), "type": "appt_event", "hall_code": self.hall,
                "case_no": no, "at": datetime.datetime.now(TZ).isoformat(timespec="seconds"),
                "status": status}

    def notices(self, no, event=None):
        where = " AND event = %s" % sql_str(event) if event else ""
        return self.county.rows("SELECT event, channel, to_addr, note FROM notifications "
                                "WHERE case_no = %s%s ORDER BY event, channel"
                                % (sql_str(no), where))

    def publish(self, c, items, slots, closed="", expect=303):
        r = c.submit("/schedules/%s" % self.hall, "/schedules/%s" % self.hall,
                     {"items": items, "slots": slots, "closed": closed})
        self.assertEqual(r.status, expect, r.text[:800])
        return r

    def my_schedules(self):
        return [(int(seq), int(v), json.loads(body)) for seq, v, body in
                self.county.rows("SELECT seq, version, body FROM my_schedules ORDER BY seq",
                                 account="hall")]

    # ---- schedules -------------------------------------------------------------------
    def test_schedule_published_in_the_console_reaches_the_hall(self):
        c = self.client("appt_super", self.super_pw)
        self.publish(c, "sfz-sl | 居民身份证申领 | - | 一楼 2 号窗口\n"
                        "hj-qy | 户籍迁移 | hj | 二楼 5 号窗口\n",
                     "sfz-sl | 1 | 09:00-09:30 | 5\nsfz-sl | 2 | 09:00-09:30 | 5\n"
                     "hj-qy | 3 | 14:00-14:30 | 2\n", "2026-12-31\n")
        rows = self.my_schedules()
        self.assertTrue(rows, "the hall sees no schedule")
        _, v1, doc = rows[-1]
        self.assertEqual(doc["hall_code"], self.hall)
        self.assertEqual(doc["version"], v1)
        self.assertEqual([i["id"] for i in doc["items"]], ["sfz-sl", "hj-qy"])
        self.assertIsNone(doc["items"][0]["guide_id"])
        self.assertEqual(doc["items"][1]["guide_id"], "hj")
        self.assertEqual(doc["items"][0]["place"], "一楼 2 号窗口")
        self.assertEqual(doc["items"][0]["slots"],
                         [{"weekday": 1, "start": "09:00", "end": "09:30", "capacity": 5},
                          {"weekday": 2, "start": "09:00", "end": "09:30", "capacity": 5}])
        self.assertEqual(doc["closed"], ["2026-12-31"])
        # microseconds of the clock: a version made now is near now
        self.assertLess(abs(v1 / 1e6 - datetime.datetime.now().timestamp()), 3600)

        self.publish(c, "sfz-sl | 居民身份证申领 | - | 一楼 2 号窗口\n",
                     "sfz-sl | 1 | 09:00-09:30 | 3\n")
        rows = self.my_schedules()
        v2 = rows[-1][1]
        self.assertGreater(v2, v1)
        self.assertEqual(rows[-1][2]["items"][0]["slots"][0]["capacity"], 3)
        self.assertEqual(rows[-1][2]["closed"], [])
        # every downlink row carries the current document; none is an orphan to the hall
        self.assertEqual({v for _, v, _ in rows}, {v2})
        self.assertEqual(self.county.rows("SELECT seq FROM my_orphans", account="hall"), [])
        # another hall's account sees none of it
        self.assertEqual(self.county.rows("SELECT seq FROM my_schedules", account=OTHER_HALL),
                         [])

        # a wrong line is refused with its number, and nothing changes
        r = self.publish(c, "sfz-sl | 居民身份证申领 | - | 一楼\n",
                         "sfz-sl | 1 | 09:00-09:30 | 3\nsfz-sl | 8 | 09:00-09:30 | 3\n",
                         expect=422)
        self.assertIn("第 2 行", r.text)
        r = self.publish(c, "sfz-sl | 居民身份证申领 | - | 一楼\n",
                         "nope | 1 | 09:00-09:30 | 3\n", expect=422)
        self.assertIn("事项编号不在上面的事项中", r.text)
        self.assertEqual(self.my_schedules()[-1][1], v2)
        # a member of staff reads it but does not publish
        s = self.client("appt_staff", self.staff_pw)
        self.assertEqual(s.get("/schedules/%s" % self.hall).status, 200)
        r = s.post("/schedules/%s" % self.hall,
                   dict(s.form("/appointments", "/logout"), items="", slots=""))
        self.assertEqual(r.status, 403)
        self.assertEqual(self.my_schedules()[-1][1], v2)
        # another county's hall is not ours to see
        self.assertEqual(c.get("/schedules/431100001000").status, 404)

    def test_a_lost_grant_on_a_view_is_shown_not_left_out(self):
        """The hall accounts' grant on my_schedules lost at the county (an operator's
        mistake): the agent says so, and once the grant is back the schedule comes down.
        The appointments' downlink was left out without a word, as if the county were
        older than the schema the agent asks of it."""
        c = self.client("appt_super", self.super_pw)
        self.assertEqual(self.agent.once(), 0, self.agent.log_tail())
        self.county.sql("REVOKE SELECT ON my_schedules FROM hall_agent")
        try:
            self.publish(c, "sfz-sl | 居民身份证申领 | - | 一楼 2 号窗口\n",
                         "sfz-sl | 4 | 10:00-10:30 | 4\n")
            self.assertNotEqual(self.agent.once(), 0, self.agent.log_tail())
            self.assertIn("my_schedules", self.agent.dest_status())
        finally:
            self.county.sql("GRANT SELECT ON my_schedules TO hall_agent")
        version = self.my_schedules()[-1][1]
        self.assertEqual(self.agent.once(), 0, self.agent.log_tail())
        self.assertEqual(hall_scalar(self.node, "SELECT version FROM appt_schedule"), version)

    # ---- records from the hall -------------------------------------------------------
    def test_appointment_records_land_with_their_notices(self):
        d1, d2 = self.workdays(2)
        a = self.appointment(d2)
        quiet = self.appointment(d2, start="10:00", end="10:30", notify=False)
        res = self.upload([a, quiet])
        self.assertEqual(res, [])
        row = self.county.rows("SELECT hall_code, item, item_name, DATE_FORMAT(date, '%%Y-%%m-%%d'), "
                               "start, `end`, place, name, phone, channel, notify, status, "
                               "query_mac FROM appointments WHERE appointment_no = %s"
                               % sql_str(a["case_no"]))
        self.assertEqual(row, [(self.hall, "sfz-sl", "居民身份证申领", str(d2), "09:00", "09:30",
                                "一楼 2 号窗口", "张预约", "13912345678", "online", "1",
                                "booked", "c" * 64)])
        self.assertEqual(self.county.scalar("SELECT notify FROM appointments WHERE "
                                            "appointment_no = %s" % sql_str(quiet["case_no"])),
                         "0")
        self.assertEqual(self.county.count("records", "id = %s AND type = 'appointment'"
                                           % sql_str(a["id"])), 1)
        self.assertEqual(self.notices(a["case_no"]),
                         [("booked", "email", "zhang.yuyue@example.cn", None),
                          ("booked", "sms", "13912345678", None)])
        self.assertEqual(self.notices(quiet["case_no"]), [])

        # sent again: a duplicate, no second notice
        self.assertEqual([r[2] for r in self.upload([a])], ["duplicate"])
        self.assertEqual(len(self.notices(a["case_no"])), 2)

        # the hall's news: attended, then the no-show of the other in one batch
        ev = [self.appt_event(a["case_no"], "cancelled"), self.appt_event(a["case_no"], "attended"),
              self.appt_event(quiet["case_no"], "no_show")]
        self.assertEqual(self.upload(ev), [])
        self.assertEqual(self.county.scalar("SELECT status FROM appointments WHERE "
                                            "appointment_no = %s" % sql_str(a["case_no"])),
                         "attended")
        self.assertEqual(self.county.scalar("SELECT status FROM appointments WHERE "
                                            "appointment_no = %s" % sql_str(quiet["case_no"])),
                         "no_show")
        self.assertEqual(self.county.count("records", "type = 'appt_event' AND id IN (%s)"
                                           % ",".join(sql_str(e["id"]) for e in ev)), 3)

        # refused record by record, the others go on
        seq, other_no = self.next_no()
        bad = [
            dict(self.appointment(d1), case_no=caseno(OTHER_HALL, seq)),      # another hall's
            self.appointment(d1, date="2026-02-30"),                           # no such day
            self.appointment(d1, phone=""),                                    # no phone
            dict(self.appointment(d1), case_no=a["case_no"]),                  # number held
            self.appt_event(a["case_no"], "confirmed"),                        # the county's word
            self.appt_event(caseno(self.hall, 99999), "cancelled"),            # unknown
            dict(self.appointment(d1), type="appointmentx"),                   # no such type
        ]
        good = self.appointment(d1)
        res = self.upload(bad + [good])
        self.assertEqual([int(r[0]) for r in res], list(range(1, len(bad) + 1)), res)
        self.assertTrue(all(r[2] == "rejected" for r in res), res)
        self.assertIn("does not carry this hall's code", res[0][3])
        self.assertIn("needs item, date", res[1][3])
        self.assertIn("needs item, date", res[2][3])
        self.assertIn("held under another id", res[3][3])
        self.assertIn("cancelled, attended or no_show", res[4][3])
        self.assertIn("unknown appointment", res[5][3])
        self.assertEqual(res[6][3], "malformed record")
        self.assertEqual(self.county.count("appointments", "appointment_no = %s"
                                           % sql_str(good["case_no"])), 1)
        # a hall's account cannot read the table itself
        ok, _, _ = self.county.try_sql("SELECT * FROM appointments", account="hall")
        self.assertFalse(ok)

    # ---- the console: a day's bookings, confirm, refuse ------------------------------
    def test_query_macs_of_either_length(self):
        """A hall sends a code's MAC in 32 hex characters (128 bits, sql/county/030), a hall
        on the older agent in 64: the county files both, for cases, codes and appointments,
        and takes no other length for one."""
        now = datetime.datetime.now(TZ).isoformat(timespec="seconds")

        def case(mac):
            seq, no = self.next_no()
            return {"id": "%s-C%d" % (self.hall, seq), "type": "case", "hall_code": self.hall,
                    "case_no": no, "at": now, "kind": "consultation", "category": "policy",
                    "channel": "online", "subject": "校验码长度", "body": "内容",
                    "name": "张三", "phone": "13800138000", "email": None, "item": None,
                    "target": None, "submitted_at": now, "due_at": now,
                    "due_provisional": False, "query_mac": mac}

        def code(no, mac):
            seq, _ = self.next_no()
            return {"id": "%s-Q%d" % (self.hall, seq), "type": "code", "hall_code": self.hall,
                    "case_no": no, "code": "135790", "query_mac": mac, "at": now}

        new, old, odd = case("a" * 32), case("b" * 64), case("f" * 40)
        huge = case("a" * 300)    # no MAC, and no error either: the batch goes through
        self.assertEqual(self.upload([new, old, odd, huge]), [])

        def mac_of(no):
            rows = self.county.rows("SELECT query_mac FROM case_query_macs WHERE case_no = %s"
                                    % sql_str(no))
            return rows[0][0] if rows else None

        self.assertEqual(mac_of(new["case_no"]), "a" * 32)
        self.assertEqual(mac_of(old["case_no"]), "b" * 64)
        self.assertIsNone(mac_of(odd["case_no"]))
        self.assertIsNone(mac_of(huge["case_no"]))
        bad, worse = code(old["case_no"], "e" * 40), code(old["case_no"], "e" * 300)
        res = self.upload([code(new["case_no"], "d" * 32), code(old["case_no"], "c" * 64), bad,
                           worse])
        self.assertEqual([(r[1], r[2]) for r in res],
                         [(bad["id"], "rejected"), (worse["id"], "rejected")], res)
        self.assertEqual(mac_of(new["case_no"]), "d" * 32)
        self.assertEqual(mac_of(old["case_no"]), "c" * 64)
        d = self.workdays(2)[1]
        a32 = self.appointment(d, start="14:00", end="14:30", query_mac="9" * 32)
        a40 = self.appointment(d, start="14:30", end="15:00", query_mac="9" * 40)
        self.assertEqual(self.upload([a32, a40]), [])
        for a, mac in ((a32, "9" * 32), (a40, None)):
            self.assertEqual(self.county.rows("SELECT query_mac FROM appointments WHERE "
                                              "appointment_no = %s" % sql_str(a["case_no"])),
                             [(mac,)])

    def test_refusal_in_the_console_goes_down_and_tells_why(self):
        d1, d2 = self.workdays(2)
        a, b = self.appointment(d2, start="11:00", end="11:30"), self.appointment(d2)
        self.assertEqual(self.upload([a, b]), [])
        c = self.client("appt_staff", self.staff_pw)
        page = "/appointments?hall=%s&date=%s" % (self.hall, d2)
        before = self.county.count("audit_log", "account = 'appt_staff' AND action = 'appointments'")
        r = c.get(page)
        self.assertEqual(r.status, 200)
        self.assertIn('data-no="%s"' % a["case_no"], r.text)
        self.assertIn("13912345678", r.text)
        self.assertIn("张预约", r.text)
        # a view of names and phones is kept, as a case page's
        self.assertEqual(self.county.count("audit_log", "account = 'appt_staff' AND "
                                           "action = 'appointments' AND detail = %s"
                                           % sql_str("%s %s" % (self.hall, d2))), before + 1)

        # a refusal says why
        url = "/appointments/%s" % a["case_no"]
        r = c.submit(page, url, {"reason": ""}, form_id="refuse")
        self.assertEqual(r.status, 422, r.text[:500])
        self.assertEqual(self.county.scalar("SELECT status FROM appointments WHERE "
                                            "appointment_no = %s" % sql_str(a["case_no"])),
                         "booked")
        reason = "当日窗口设备检修，请改约其他时间。"
        r = c.submit(page, url, {"reason": reason}, form_id="refuse")
        self.assertEqual(r.status, 303, r.text[:500])
        self.assertIn("done=refuse", r.getheader("Location"))
        ev = self.county.rows("SELECT appointment_no, status, reason, at FROM my_appt_events "
                              "WHERE appointment_no = %s" % sql_str(a["case_no"]),
                              account="hall")
        self.assertEqual(len(ev), 1, ev)
        self.assertEqual(ev[0][1:3], ("refused", reason))
        self.assertRegex(ev[0][3], r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")
        self.assertEqual(self.county.scalar("SELECT actor FROM appointment_events WHERE "
                                            "appointment_no = %s" % sql_str(a["case_no"])),
                         "appt_staff")
        self.assertEqual(self.notices(a["case_no"], "refused"),
                         [("refused", "email", "zhang.yuyue@example.cn", reason),
                          ("refused", "sms", "13912345678", reason)])
        self.assertEqual(self.county.count("audit_log", "action = 'appt-refuse' AND case_no = %s"
                                           % sql_str(a["case_no"])), 1)
        # refused is final: no confirm, no second refusal
        r = c.post(url, dict(c.form("/appointments", "/logout"), action="confirm",
                             hall=self.hall, date=str(d2)))
        self.assertEqual(r.status, 409, r.text[:300])

        # the other is confirmed; the hall sees that too
        r = c.submit(page, "/appointments/%s" % b["case_no"], {}, form_id="confirm")
        self.assertEqual(r.status, 303, r.text[:500])
        self.assertEqual(self.county.rows("SELECT status, reason FROM my_appt_events WHERE "
                                          "appointment_no = %s" % sql_str(b["case_no"]),
                                          account="hall"), [("confirmed", None)])
        self.assertEqual(self.notices(b["case_no"], "confirmed"), [])
        # the hall acknowledges: gone from its view
        seqs = [s for (s,) in self.county.rows("SELECT seq FROM my_appt_events", account="hall")]
        self.county.sql("CALL hall_ack(%s)" % sql_str(json.dumps([int(s) for s in seqs])),
                        account="hall")
        self.assertEqual(self.county.rows("SELECT seq FROM my_appt_events", account="hall"), [])
        # the dashboard counts the refusal
        r = self.client("appt_super", self.super_pw).get("/dashboard")
        self.assertEqual(r.status, 200)
        m = re.search(r'<tr data-hall="%s">.*?data-refused="(\d+)"' % self.hall, r.text[
            r.text.index('id="appointment-figures"'):])
        self.assertIsNotNone(m)
        self.assertGreaterEqual(int(m.group(1)), 1)

    # ---- reminders -------------------------------------------------------------------
    def test_reminders_once_per_channel_the_working_day_before(self):
        d1, d2 = self.workdays(2)
        soon, later = self.appointment(d1), self.appointment(d2)
        cancelled = self.appointment(d1, start="15:00", end="15:30")
        self.assertEqual(self.upload([soon, later, cancelled]), [])
        self.assertEqual(self.upload([self.appt_event(cancelled["case_no"], "cancelled")]), [])
        # the reminder time of the county (default 08:00): any time of the test's day
        self.county.sql("UPDATE county_settings SET value = '00:00' "
                        "WHERE name = 'appointment_reminder_from'")
        try:
            self.county.sql("CALL appointment_reminders()")
            self.county.sql("CALL appointment_reminders()")
        finally:
            self.county.sql("UPDATE county_settings SET value = '08:00' "
                            "WHERE name = 'appointment_reminder_from'")
        self.assertEqual(self.notices(soon["case_no"], "reminder"),
                         [("reminder", "email", "zhang.yuyue@example.cn", None),
                          ("reminder", "sms", "13912345678", None)])
        self.assertEqual(self.notices(later["case_no"], "reminder"), [])
        self.assertEqual(self.notices(cancelled["case_no"], "reminder"), [])
        self.assertEqual(self.county.count("notifications", "ref = %s"
                                           % sql_str("remind:" + soon["case_no"])), 2)

    # ---- conflicts -------------------------------------------------------------------
    def test_a_schedule_change_lists_the_bookings_it_drops(self):
        d1, d2 = self.workdays(2)
        wd = d2.isoweekday()
        c = self.client("appt_super", self.super_pw)
        self.publish(c, "sfz-sl | 居民身份证申领 | - | 一楼 2 号窗口\n",
                     "sfz-sl | %d | 16:00-16:30 | 5\nsfz-sl | %d | 16:30-17:00 | 5\n" % (wd, wd))
        keep, drop = (self.appointment(d2, start="16:30", end="17:00"),
                      self.appointment(d2, start="16:00", end="16:30"))
        self.assertEqual(self.upload([keep, drop]), [])
        r = c.get("/appointment-conflicts")
        self.assertEqual(r.status, 200)
        self.assertNotIn(drop["case_no"], r.text)
        # the 16:00 slot goes: its booking is listed, not dropped
        self.publish(c, "sfz-sl | 居民身份证申领 | - | 一楼 2 号窗口\n",
                     "sfz-sl | %d | 16:30-17:00 | 5\n" % wd)
        r = c.get("/appointment-conflicts")
        self.assertEqual(r.status, 200)
        self.assertIn('data-no="%s"' % drop["case_no"], r.text)
        self.assertNotIn('data-no="%s"' % keep["case_no"], r.text)
        self.assertIn('data-why="slot"', r.text)
        self.assertEqual(self.county.scalar("SELECT status FROM appointments WHERE "
                                            "appointment_no = %s" % sql_str(drop["case_no"])),
                         "booked")
        # the day closed: both are listed
        self.publish(c, "sfz-sl | 居民身份证申领 | - | 一楼 2 号窗口\n",
                     "sfz-sl | %d | 16:30-17:00 | 5\n" % wd, "%s\n" % d2)
        r = c.get("/appointment-conflicts")
        self.assertIn('data-no="%s"' % keep["case_no"], r.text)
        self.assertIn('data-why="closed"', r.text)
        # the console's account reads the view; the hall's does not
        self.assertGreaterEqual(int(self.county.scalar(
            "SELECT COUNT(*) FROM appointment_conflicts", account="console")), 2)
        ok, _, _ = self.county.try_sql("SELECT * FROM appointment_conflicts", account="hall")
        self.assertFalse(ok)


if __name__ == "__main__":
    unittest.main()
