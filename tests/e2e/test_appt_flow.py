"""SPEC 4.5 and 5.6 end to end: the county publishes a hall's schedule, the downlink brings it
to the hall, a citizen books there while the county is down, the booking reaches the county
once the link is back and is told by SMS, and the county's refusal reaches the citizen's
lookup and an SMS with the reason.

One node: the hall, the county MariaDB, the staff console, the SMS gateway, the SMTP server
and county-notifier (the demo's). The tests run hall-agent `once` themselves.
"""

import json
import os
import subprocess
import time
import unittest
import urllib.request

from county import County, sql_str, wait_until
from harness import BUILD, NO_LIMITS, ROOT, Node

AGENT = os.path.join(ROOT, BUILD, "hall-agent")


class AppointmentFlowTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.node = Node("apptflow", county=True, staff=True, sms=True, notify=True, agent=False)
        cls.node.extra_ini = NO_LIMITS
        cls.node.start()
        cls.county = County(cls.node)
        env = cls.node.run_env()
        cls.sms_url, cls.sms_token = env["SMS_URL"], env["SMS_TOKEN"]
        hall = cls.county.hall_code
        # a schedule as the console writes it: every weekday, 09:00-09:30, 2 places
        cls.county.sql(
            "INSERT INTO appointment_items (hall_code, item_id, name, place) VALUES "
            "(%s, 'sfz-sl', '居民身份证申领', '一楼 2 号窗口');" % sql_str(hall) +
            "".join("INSERT INTO appointment_slots (hall_code, item_id, weekday, start, `end`, "
                    "capacity) VALUES (%s, 'sfz-sl', %d, '09:00', '09:30', 2);"
                    % (sql_str(hall), d) for d in range(1, 8)) +
            "CALL schedule_publish(%s); COMMIT;" % sql_str(hall))

    @classmethod
    def tearDownClass(cls):
        cls.node.cleanup()

    def once(self):
        return subprocess.run([AGENT, "-c", self.node.ini_path, "once"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              timeout=90).returncode

    def sms(self, to):
        req = urllib.request.Request(self.sms_url + "/v1/sms?to=" + to,
                                     headers={"Authorization": "Bearer " + self.sms_token})
        with urllib.request.urlopen(req, timeout=20) as r:
            return [m["text"] for m in json.loads(r.read().decode("utf-8"))["messages"]]

    def slots(self):
        r = self.node.get("/api/v1/appointments/slots?item=sfz-sl")
        self.assertEqual(r.status, 200, r)
        return r.json()["slots"]

    def test_booked_offline_reaches_the_county_and_a_refusal_comes_back(self):
        self.assertEqual(self.once(), 0)
        slots = wait_until(self.slots, 10, 0.2, "the schedule at the hall")
        slot = slots[0]
        # the county is down: the hall books all the same
        self.county.stop()
        try:
            r = self.node.json_post("/api/v1/appointments", {
                "item": "sfz-sl", "date": slot["date"], "start": slot["start"],
                "name": "王五", "phone": "13912340001"})
            self.assertEqual(r.status, 201, r)
            a = r.json()
            self.assertNotEqual(self.once(), 0)
        finally:
            self.county.start()
        no = a["appointment_no"]
        wait_until(lambda: self.once() == 0 and self.county.count(
            "appointments", "appointment_no = %s" % sql_str(no)), 60, 0.5,
            "the booking at the county")
        self.assertEqual(self.county.rows(
            "SELECT item, DATE_FORMAT(date, '%%Y-%%m-%%d'), start, status FROM appointments "
            "WHERE appointment_no = %s" % sql_str(no)),
            [("sfz-sl", slot["date"], slot["start"], "booked")])
        # again: nothing doubled
        self.assertEqual(self.once(), 0)
        self.assertEqual(self.county.count("appointments", "appointment_no = %s" % sql_str(no)),
                         1)
        wait_until(lambda: any(no in t or no[-3:] in t for t in self.sms("13912340001")), 30,
                   0.3, "the booked SMS")
        # the county refuses, with a reason: the lookup and an SMS say so
        self.county.sql("INSERT INTO appointment_events (appointment_no, status, reason, actor) "
                        "VALUES (%s, 'refused', '当日窗口设备检修，请改约其他时间。', 'test'); "
                        "COMMIT;" % sql_str(no))
        self.assertEqual(self.once(), 0)
        r = self.node.get("/api/v1/appointments/%s?code=%s" % (no, a["query_code"]))
        self.assertEqual(r.status, 200, r)
        v = r.json()
        self.assertEqual(v["status"], "refused")
        self.assertEqual(v["reason"], "当日窗口设备检修，请改约其他时间。")
        wait_until(lambda: any("未获同意" in t for t in self.sms("13912340001")),
                   30, 0.3, "the refusal SMS")
        # the booked notice and the refusal, once each; a reminder may come between them
        # when the slot is the next working day and the county's reminder hour has passed
        texts = self.sms("13912340001")
        told = [t for t in texts if "提醒：" not in t]
        self.assertEqual(len(told), 2, texts)
        self.assertEqual(len([t for t in texts if "您已预约" in t]), 1, texts)
        self.assertEqual(len([t for t in texts if "未获同意" in t]), 1, texts)
        self.assertLessEqual(len(texts) - len(told), 1, texts)
        self.assertTrue(all(len(t) <= 70 for t in texts), texts)


if __name__ == "__main__":
    unittest.main()
