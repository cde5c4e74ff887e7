"""SPEC 4.5 and 5.6 end to end: the reminder the working day before, through the real
county-notifier. A citizen books at the hall through the API (phone and e-mail) for the next
working day; hall-agent brings the booking to the county; county-notifier, which queues the
reminders itself on each pass (appointment_reminders(), agent/county-notifier/queue.c) once
the county's `appointment_reminder_from` has come, sends them. The citizen gets the booked
notice and exactly one reminder per channel, read where the citizen would see them: the
reference SMS gateway's list per number and the Maildir ($MAIL_DIR). Also when the notifier
is killed (-9) with the reminder SMS in flight and started again; and none at all when the
citizen cancels while the reminder waits (the gateway down): the notifier withdraws it.

One node (the demo's hall, county, staff console, SMS gateway, SMTP server); the demo's
county-notifier makes way for one the tests run (test_notify.Notifier), so that they can kill
it and point it at a fault-injecting proxy in front of the gateway.
"""

import datetime
import os
import signal
import subprocess
import time
import unittest

from county import County, sql_str, wait_until
from faultproxy import FaultProxy
from harness import BUILD, NO_LIMITS, ROOT, Node
import test_notify
from test_notify import Notifier, SIGNATURE

AGENT = os.path.join(ROOT, BUILD, "hall-agent")
TZ = datetime.timezone(datetime.timedelta(hours=8))
PLACE, ITEM = "一楼 2 号窗口", "居民身份证申领"


# why a reminder was given up, as the staff console's dashboard shows it (county-notifier's
# queue.c)
WITHDRAWN = "withdrawn: the appointment is cancelled, no longer booked"
PASSED = "withdrawn: the appointment's time has passed"


class ApptRemindTest(unittest.TestCase):
    seq = 0
    codes = {}  # appointment number -> the query code its receipt gave (to cancel with)

    @classmethod
    def setUpClass(cls):
        cls.node = Node("apptremind", county=True, staff=True, sms=True, notify=True,
                        agent=False)
        cls.node.extra_ini = NO_LIMITS
        cls.node.start()
        cls.addClassCleanup(cls.node.cleanup)
        cls.county = County(cls.node)
        env = cls.node.run_env()
        cls.sms_url, cls.sms_token = env["SMS_URL"], env["SMS_TOKEN"]
        cls.mail_dir = env["MAIL_DIR"]
        with open(os.path.join(cls.node.var, "run", "county-notifier.pid")) as f:
            os.kill(int(f.read()), signal.SIGTERM)
        cls.notifier = Notifier(cls.node, cls.sms_url)
        cls.addClassCleanup(cls.notifier.stop)
        cls.notifier.start()
        hall = cls.county.hall_code
        # every weekday 09:00-09:30, 5 places (as the console writes it)
        cls.county.sql(
            "INSERT INTO appointment_items (hall_code, item_id, name, place) VALUES "
            "(%s, 'sfz-sl', %s, %s);" % (sql_str(hall), sql_str(ITEM), sql_str(PLACE)) +
            "".join("INSERT INTO appointment_slots (hall_code, item_id, weekday, start, `end`, "
                    "capacity) VALUES (%s, 'sfz-sl', %d, '09:00', '09:30', 5);"
                    % (sql_str(hall), d) for d in range(1, 8)) +
            "CALL schedule_publish(%s); COMMIT;" % sql_str(hall))

    def setUp(self):
        # no reminder before the test asks for it: 24:00 is later than any time of day
        # (the county's default, 08:00, has passed for most of the day, and the next
        # working day's booking would be reminded as soon as it reaches the county)
        self.remind_at("24:00")

    def tearDown(self):
        # reminders wait for their hour again (the county's default)
        self.remind_at("08:00")

    def remind_at(self, hhmm):
        self.county.sql("UPDATE county_settings SET value = %s "
                        "WHERE name = 'appointment_reminder_from'; COMMIT;" % sql_str(hhmm))

    # what the citizen got: the gateway's list and the Maildir (test_notify's readers)
    sms = test_notify.NotifyTest.sms
    mails = test_notify.NotifyTest.mails

    def once(self):
        return subprocess.run([AGENT, "-c", self.node.ini_path, "once"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              timeout=90).returncode

    def next_workday(self):
        """The first working day after today by the county's calendar."""
        d = datetime.datetime.now(TZ).date()
        while True:
            d += datetime.timedelta(days=1)
            if self.county.scalar("SELECT calendar_is_workday('%s')" % d) == "1":
                return d

    def book(self):
        """Books the next working day's 09:00 at the hall; (number, phone, e-mail, day)."""
        type(self).seq += 1
        phone = "139%08d" % (int(time.time()) % 1000 * 100000 + self.seq)
        mail = "remind-%d-%d@example.cn" % (int(time.time()), self.seq)
        self.assertEqual(self.once(), 0)
        day = self.next_workday()

        def slot():
            r = self.node.get("/api/v1/appointments/slots?item=sfz-sl")
            return r.status == 200 and [s for s in r.json()["slots"]
                                        if s["date"] == str(day) and s["start"] == "09:00"]
        wait_until(slot, 20, 0.2, "the next working day's slot at the hall")
        r = self.node.json_post("/api/v1/appointments", {
            "item": "sfz-sl", "date": str(day), "start": "09:00", "name": "赵六",
            "phone": phone, "email": mail})
        self.assertEqual(r.status, 201, r)
        no = r.json()["appointment_no"]
        self.codes[no] = r.json()["query_code"]
        wait_until(lambda: self.once() == 0 and self.county.count(
            "appointments", "appointment_no = %s" % sql_str(no)), 60, 0.5,
            "the booking at the county")
        return no, phone, mail, day

    def remind_now(self):
        self.remind_at("00:00")

    def texts(self, phone, marker):
        return [m["text"] for m in self.sms(phone) if marker in m["text"]]

    def mail_of(self, mail, status):
        return [m for m in self.mails(mail) if m[2].endswith(status)]

    def pending(self, no):
        return self.county.count("notifications", "case_no = %s AND state = 'pending'"
                                 % sql_str(no))

    def check_reminded_once(self, no, phone, mail, day):
        """Waits for the reminders, lets the notifier pass many times, then checks all."""
        wait_until(lambda: self.texts(phone, "提醒：") and self.mail_of(mail, "办理提醒"),
                   60, 0.3, "the reminders")
        wait_until(lambda: self.pending(no) == 0, 60, 0.3, "every notice of %s sent" % no)
        time.sleep(2)  # some 20 passes of the notifier: none may remind again
        # the booked notice, once per channel
        booked = self.texts(phone, "您已预约")
        self.assertEqual(len(booked), 1, self.sms(phone))
        self.assertIn(no, booked[0])
        self.assertEqual(len(self.mail_of(mail, "已预约")), 1, self.mails(mail))
        # the reminder SMS: day, time, place and number
        sms = self.texts(phone, "提醒：")
        self.assertEqual(len(sms), 1, self.sms(phone))
        self.assertTrue(sms[0].startswith(SIGNATURE), sms)
        self.assertIn("提醒：%d月%d日09:00请到%s办理" % (day.month, day.day, PLACE), sms[0])
        self.assertIn("预约号" + no, sms[0])
        self.assertLessEqual(len(sms[0]), 70, sms)
        # the reminder e-mail: one message, with all seed 4 lists
        got = self.mail_of(mail, "办理提醒")
        self.assertEqual(len(got), 1, [m[:3] for m in self.mails(mail)])
        msgid, to, subject, body = got[0]
        self.assertEqual(to, mail)
        self.assertIn(no, subject)
        for want in ("将于 %s 09:00 办理" % day, "预约号：" + no, "预约人：赵六",
                     "预约时间：%s 09:00-09:30" % day, "办理地点：" + PLACE, "预约内容：" + ITEM):
            self.assertIn(want, body)
        # the county: one row per channel, sent
        self.assertEqual(self.county.rows(
            "SELECT channel, to_addr, state FROM notifications WHERE case_no = %s AND "
            "event = 'reminder' ORDER BY channel" % sql_str(no)),
            [("email", mail, "sent"), ("sms", phone, "sent")])

    # ---- the tests ---------------------------------------------------------------------
    def test_booked_at_the_hall_reminded_once_per_channel(self):
        no, phone, mail, day = self.book()
        # the booked notice comes at once; no reminder before its hour (setUp: 24:00)
        wait_until(lambda: self.texts(phone, "您已预约"), 60, 0.3, "the booked SMS")
        time.sleep(1.5)  # some 15 passes of the notifier
        self.assertEqual(self.texts(phone, "提醒："), [])
        self.assertEqual(self.county.count("notifications", "case_no = %s AND event = "
                                           "'reminder'" % sql_str(no)), 0)
        self.remind_now()
        self.check_reminded_once(no, phone, mail, day)
        # a restart of the notifier (kill -9) reminds no one again
        self.notifier.kill9()
        self.notifier.start()
        time.sleep(2)
        self.check_reminded_once(no, phone, mail, day)

    def test_notifier_killed_with_the_reminder_in_flight_reminds_once(self):
        no, phone, mail, day = self.book()
        wait_until(lambda: self.texts(phone, "您已预约") and self.mail_of(mail, "已预约"),
                   60, 0.3, "the booked notices")
        kills = self.notifier.kills
        proxy = FaultProxy(self.node.sms_port).start()
        try:
            self.notifier.stop()
            self.notifier.configure(proxy.url)
            self.notifier.start()
            # the gateway takes the reminder; its answer never comes back
            proxy.set_mode("stall", times=1)
            self.remind_now()
            wait_until(lambda: proxy.count("stall") >= 1, 60, 0.1, "the reminder in flight")
            self.notifier.kill9()
        finally:
            self.notifier.configure(self.sms_url)
            self.notifier.start()
            proxy.stop()
        # its claim runs out, it goes again: the gateway keeps one (idempotency key)
        self.check_reminded_once(no, phone, mail, day)
        self.assertEqual(self.notifier.kills, kills + 1)

    # ---- a reminder that waits while its appointment ends --------------------------------
    def reminders(self, no):
        return self.county.rows(
            "SELECT channel, state, attempts, last_error, secret FROM notifications "
            "WHERE case_no = %s AND event = 'reminder' ORDER BY channel" % sql_str(no))

    def hold_reminders(self, no, phone, mail):
        """The booked notices sent, then the gateway down (nothing listens on port 1) and
        the e-mail off: the notifier queues the reminders, which wait, the SMS tried."""
        wait_until(lambda: self.texts(phone, "您已预约") and self.mail_of(mail, "已预约"),
                   60, 0.3, "the booked notices")
        self.notifier.stop()
        self.notifier.configure("http://127.0.0.1:1", "[email]\nurl =\n")
        self.notifier.start()
        self.remind_now()

        def held():
            rows = self.reminders(no)
            return ([r[:2] for r in rows] == [("email", "pending"), ("sms", "pending")]
                    and int(rows[1][2]) >= 1)
        wait_until(held, 30, 0.2, "the reminders queued, the SMS tried and failed")

    def release_reminders(self):
        """The gateway and the e-mail back."""
        self.notifier.stop()
        self.notifier.configure(self.sms_url)
        self.notifier.start()

    def check_withdrawn(self, no, phone, mail, why):
        """No reminder reached the citizen; the county keeps both given up, with why."""
        wait_until(lambda: self.pending(no) == 0, 30, 0.2, "no notice of %s pending" % no)
        time.sleep(1)  # some 10 passes of the notifier, the gateway and the e-mail back
        self.assertEqual(self.texts(phone, "提醒："), [], "an SMS went, not " + why)
        self.assertEqual(self.mail_of(mail, "办理提醒"), [], "an e-mail went, not " + why)
        rows = self.reminders(no)
        self.assertEqual([(c, s, e, k) for c, s, _, e, k in rows],
                         [("email", "failed", why, None), ("sms", "failed", why, None)],
                         rows)

    def test_no_reminder_once_the_appointment_is_cancelled(self):
        """The reminder waits (the gateway down, the e-mail not yet sent) while the citizen
        cancels at the hall: when the gateway is back, no reminder goes."""
        no, phone, mail, _ = self.book()
        try:
            self.hold_reminders(no, phone, mail)
            r = self.node.json_post("/api/v1/appointments/%s/cancel" % no,
                                    {"code": self.codes[no]})
            self.assertEqual(r.status, 200, r)
            wait_until(lambda: self.once() == 0 and self.county.scalar(
                "SELECT status FROM appointments WHERE appointment_no = %s" % sql_str(no))
                == "cancelled", 60, 0.3, "the cancellation at the county")
        finally:
            self.release_reminders()
        self.check_withdrawn(no, phone, mail, WITHDRAWN)

    def test_no_reminder_once_the_appointment_day_has_passed(self):
        """The reminder waits past the appointment's day (time has no API: the county's
        row is moved back a day): when the gateway is back, no reminder goes."""
        no, phone, mail, _ = self.book()
        try:
            self.hold_reminders(no, phone, mail)
            self.county.sql("UPDATE appointments SET date = CURDATE() - INTERVAL 1 DAY "
                            "WHERE appointment_no = %s; COMMIT;" % sql_str(no))
        finally:
            self.release_reminders()
        self.check_withdrawn(no, phone, mail, PASSED)


if __name__ == "__main__":
    unittest.main()
