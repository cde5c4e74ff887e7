"""SPEC 2 and 11 for appointments: their personal data at the hall and the county, and their
place in a restore.

Retention (a hall with its county MariaDB, [retention] days = 0, hall-agent run by the test):
- an ended appointment (cancelled, or its day past) is never minimized before the county
  holds its records; once it does, `hall-admin purge` leaves what the lookup shows with the
  phone masked, the outbox only id and hash, and name, full phone, e-mail and note leave
  every table and the raw bytes of hall.db and hall.db-wal; a booking to come stays whole;
- an appointment whose day is past the period leaves the hall entirely;
- `county-admin purge 0` deletes the county's appointments whose day is past, with their
  decisions and notices, never one whose decision the hall has not yet taken, never one
  to come.

Restore: a hall restored from a backup older than some bookings gets them back from the
county (their receipts' codes open them, the county's decision follows), their slot counts
them (a full slot stays full), and no appointment number is issued again.

Python 3 standard library only.
"""

import os
import subprocess
import unittest

from county import COUNTY_ADMIN, Agent, County, hall_scalar, sql_str
from harness import BUILD, NO_LIMITS, ROOT, Node, finish_node

HALL_ADMIN = os.path.join(ROOT, BUILD, "hall-admin")
RETENTION = NO_LIMITS + "\n[retention]\ndays = %d\n"
CASENO_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTVWXY"


def seq_of(no):
    n = 0
    for c in no[12:22]:
        n = n * 31 + CASENO_ALPHABET.index(c)
    return n


def person(i):
    """A citizen no other test data contains."""
    return {"name": "诸葛预约%s" % "甲乙丙丁戊"[i],
            "phone": "1370%03d%04d" % (os.getpid() % 1000, 5100 + i),
            "email": "appt-pipl-%d-%d@example.cn" % (os.getpid(), i)}


def file_bytes(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return b""


def run(argv):
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
    return p.returncode, p.stdout.decode("utf-8", "replace")


def publish(county, capacity):
    """Every weekday, 09:00-09:30, capacity places of one item."""
    hall = county.hall_code
    county.sql(
        "INSERT INTO appointment_items (hall_code, item_id, name, place) VALUES "
        "(%s, 'sfz-sl', '居民身份证申领', '一楼 2 号窗口');" % sql_str(hall) +
        "".join("INSERT INTO appointment_slots (hall_code, item_id, weekday, start, `end`, "
                "capacity) VALUES (%s, 'sfz-sl', %d, '09:00', '09:30', %d);"
                % (sql_str(hall), d, capacity) for d in range(1, 8)) +
        "CALL schedule_publish(%s); COMMIT;" % sql_str(hall))


class Base(unittest.TestCase):
    def slots(self):
        r = self.node.get("/api/v1/appointments/slots?item=sfz-sl")
        self.assertEqual(r.status, 200, r)
        return r.json()["slots"]

    def book(self, slot, p):
        r = self.node.json_post("/api/v1/appointments", {
            "item": "sfz-sl", "date": slot["date"], "start": slot["start"],
            "name": p["name"], "phone": p["phone"], "email": p["email"],
            "note": "备注%s" % p["name"]})
        return r

    def lookup(self, a):
        return self.node.get("/api/v1/appointments/%s?code=%s"
                             % (a["appointment_no"], a["query_code"]))

    def hall_admin(self, *args):
        return run([HALL_ADMIN, "-c", self.node.ini_path] + list(args))

    def county_admin(self, *args):
        return run([COUNTY_ADMIN, "-c", os.path.join(self.node.var, "county", "county.ini")] +
                   list(args))

    def text_of_store(self):
        con = self.node.db()
        try:
            parts = []
            for (t,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
                for row in con.execute('SELECT * FROM "%s"' % t):
                    parts.append(" ".join("" if v is None else str(v) for v in row))
            return "\n".join(parts)
        finally:
            con.close()

    def present(self, p):
        text = self.text_of_store()
        raw = file_bytes(self.node.db_path) + file_bytes(self.node.db_path + "-wal")
        return {k: (p[k] in text, p[k].encode("utf-8") in raw) for k in ("name", "phone", "email")}


class ApptRetentionTest(Base):
    @classmethod
    def setUpClass(cls):
        cls.node = Node("apptpipl", county=True, agent=False)
        cls.node.start(RETENTION % 0)
        cls.county = County(cls.node)
        cls.agent = Agent(cls.node)
        publish(cls.county, 9)

    @classmethod
    def tearDownClass(cls):
        finish_node(cls.node)

    def test_hall_and_county(self):
        node, county, agent = self.node, self.county, self.agent
        self.assertEqual(agent.once(), 0, agent.log_tail())
        slot = self.slots()[0]
        people = [person(i) for i in range(3)]
        appts = []
        for p in people:
            r = self.book(slot, p)
            self.assertEqual(r.status, 201, r)
            appts.append(r.json())
        nos = [a["appointment_no"] for a in appts]
        # 0 cancelled, 1 booked and to come, 2 booked, its day past (as if time had passed)
        r = node.json_post("/api/v1/appointments/%s/cancel" % nos[0],
                           {"code": appts[0]["query_code"]})
        self.assertEqual(r.status, 200, r)
        con = node.db()
        try:
            con.execute("UPDATE appointments SET date = date('now', '-3 days') "
                        "WHERE appointment_no = ?", (nos[2],))
            con.commit()
        finally:
            con.close()

        # the county holds none of them yet: nothing is removed
        rc, out = self.hall_admin("purge")
        self.assertEqual(rc, 0, out)
        self.assertIn("0 ended appointment(s) minimized", out)
        self.assertIn("0 appointment(s) more than 0 day(s) past deleted", out)
        for p in people:
            self.assertEqual(self.present(p), {k: (True, True) for k in p}, p)

        # the county takes them (the agent's own pass may minimize 0 and 2 already); the
        # purge deletes 2, 1 stays whole
        self.assertEqual(agent.once(), 0, agent.log_tail())
        self.assertEqual(county.count("appointments", "appointment_no IN (%s)"
                                      % ",".join(sql_str(n) for n in nos)), 3)
        self.assertEqual(agent.backlog(), 0)
        rc, out = self.hall_admin("purge")
        self.assertEqual(rc, 0, out)
        self.assertIn("1 appointment(s) more than 0 day(s) past deleted", out)
        gone = {k: (False, False) for k in ("name", "phone", "email")}
        self.assertEqual(self.present(people[0]), gone, "the cancelled one")
        self.assertEqual(self.present(people[2]), gone, "the past one")
        self.assertEqual(self.present(people[1]), {k: (True, True) for k in people[1]},
                         "a booking to come")
        # the cancelled one: what the lookup shows, the phone masked, records id and hash
        r = self.lookup(appts[0])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["status"], "cancelled")
        self.assertEqual(r.json()["phone_masked"], people[0]["phone"][:3] + "****" +
                         people[0]["phone"][-4:])
        self.assertEqual(hall_scalar(node, "SELECT count(*) FROM outbox WHERE case_no = ? "
                                           "AND payload IS NOT NULL", (nos[0],)), 0)
        self.assertEqual(hall_scalar(node, "SELECT count(*) FROM outbox WHERE case_no = ? "
                                           "AND length(hash) = 64", (nos[0],)), 2)
        # the past one: no trace
        self.assertEqual(self.lookup(appts[2]).status, 404)
        for t, col in (("appointments", "appointment_no"), ("appt_events", "appointment_no"),
                       ("outbox", "case_no")):
            self.assertEqual(hall_scalar(node, "SELECT count(*) FROM %s WHERE %s = ?"
                                         % (t, col), (nos[2],)), 0, t)
        # the page no longer names the citizen
        r = self.lookup(appts[1])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["status"], "booked")

        # ---- the county: nothing of a day to come, nothing the hall has not yet taken
        where = "appointment_no IN (%s)" % ",".join(sql_str(n) for n in nos)
        rc, out = self.county_admin("purge", "0")
        self.assertEqual(rc, 0, out)
        self.assertIn("county: 0 appointment(s) past 0 day(s) deleted", out)
        self.assertEqual(county.count("appointments", where), 3)
        county.sql("INSERT INTO appointment_events (appointment_no, status, reason, actor) "
                   "VALUES (%s, 'refused', '窗口检修', 'test'); COMMIT;" % sql_str(nos[1]))
        county.sql("UPDATE appointments SET date = CURDATE() - INTERVAL 2 DAY, "
                   "status_at = NOW() - INTERVAL 1 DAY, booked_at = NOW() - INTERVAL 3 DAY "
                   "WHERE %s; UPDATE appointment_events SET at = NOW() - INTERVAL 1 DAY "
                   "WHERE %s; COMMIT;" % (where, where))
        self.assertGreater(county.count("notifications", "case_no IN (%s)"
                                        % ",".join(sql_str(n) for n in nos)), 0)
        rc, out = self.county_admin("purge", "0")
        self.assertEqual(rc, 0, out)
        # 1's refusal is still on its way to the hall: 1 waits
        self.assertIn("county: 2 appointment(s) past 0 day(s) deleted", out)
        self.assertEqual(county.count("appointments", where), 1)
        self.assertEqual(self.agent.once(), 0, agent.log_tail())
        self.assertEqual(self.lookup(appts[1]).json()["status"], "refused")
        rc, out = self.county_admin("purge", "0")
        self.assertEqual(rc, 0, out)
        self.assertIn("county: 1 appointment(s) past 0 day(s) deleted", out)
        self.assertEqual(county.count("appointments", where), 0)
        self.assertEqual(county.count("appointment_events", where), 0)
        self.assertEqual(county.count("notifications", "case_no IN (%s)"
                                      % ",".join(sql_str(n) for n in nos)), 0)
        # the ledger keeps its hashes: a record sent again is a duplicate, not a new booking
        self.assertGreater(county.count("records", "case_no IN (%s)"
                                        % ",".join(sql_str(n) for n in nos)), 0)


class ApptRestoreTest(Base):
    @classmethod
    def setUpClass(cls):
        cls.node = Node("apptrestore", county=True, agent=False)
        cls.node.start(NO_LIMITS)
        cls.county = County(cls.node)
        cls.agent = Agent(cls.node)
        cls.dir = os.path.join(cls.node.var, "backups")
        os.mkdir(cls.dir)
        publish(cls.county, 2)

    @classmethod
    def tearDownClass(cls):
        finish_node(cls.node)

    def test_restore_gets_appointments_back(self):
        node, county, agent = self.node, self.county, self.agent
        self.assertEqual(agent.once(), 0, agent.log_tail())
        slot = self.slots()[0]
        r = self.book(slot, person(0))
        self.assertEqual(r.status, 201, r)
        before = r.json()
        self.assertEqual(agent.once(), 0, agent.log_tail())
        dest = os.path.join(self.dir, "older.db")
        rc, out = self.hall_admin("backup", dest)
        self.assertEqual(rc, 0, out)
        # after the backup: a second booking fills the slot; the county confirms it
        r = self.book(slot, person(1))
        self.assertEqual(r.status, 201, r)
        after = r.json()
        self.assertEqual(self.book(slot, person(2)).status, 409)
        self.assertEqual(agent.once(), 0, agent.log_tail())
        county.sql("INSERT INTO appointment_events (appointment_no, status, actor) VALUES "
                   "(%s, 'confirmed', 'test'); COMMIT;" % sql_str(after["appointment_no"]))
        self.assertEqual(agent.once(), 0, agent.log_tail())
        self.assertEqual(self.lookup(after).json()["status"], "confirmed")
        last_issued = int(hall_scalar(node, "SELECT value FROM meta WHERE key = 'last_seq'"))

        node.stop()
        rc, out = self.hall_admin("restore", dest)
        self.assertEqual(rc, 0, out)
        node.start()
        # before the agent: the backup's booking only; the slot shows a place
        self.assertEqual(self.lookup(before).status, 200)
        self.assertEqual(self.lookup(after).status, 404)

        self.assertEqual(agent.once(), 0, agent.log_tail())
        self.assertIn("0 case(s) and 1 appointment(s)", agent.log())
        self.assertEqual(agent.once(), 0, agent.log_tail())    # the decision, by the downlink
        got = self.lookup(after)
        self.assertEqual(got.status, 200, got)
        self.assertEqual(got.json()["status"], "confirmed")
        self.assertEqual(got.json()["date"], slot["date"])
        wrong = "%06d" % ((int(after["query_code"]) + 1) % 1000000)
        self.assertEqual(node.get("/api/v1/appointments/%s?code=%s"
                                  % (after["appointment_no"], wrong)).status, 404)
        # its slot counts it: full, as before the restore
        self.assertNotIn((slot["date"], slot["start"]),
                         [(s["date"], s["start"]) for s in self.slots()])
        self.assertEqual(self.book(slot, person(2)).status, 409)
        # the restored one keeps no full phone nor e-mail
        phone = hall_scalar(node, "SELECT phone FROM appointments WHERE appointment_no = ?",
                            (after["appointment_no"],))
        self.assertIn("****", phone)
        self.assertIsNone(hall_scalar(node, "SELECT email FROM appointments "
                                            "WHERE appointment_no = ?",
                                      (after["appointment_no"],)))
        # new numbers: never one issued before
        r = self.book(self.slots()[0], person(3))
        self.assertEqual(r.status, 201, r)
        fresh = r.json()
        self.assertNotIn(fresh["appointment_no"], (before["appointment_no"],
                                                   after["appointment_no"]))
        self.assertGreater(seq_of(fresh["appointment_no"]), last_issued)
        self.assertEqual(agent.once(), 0, agent.log_tail())
        self.assertEqual(agent.backlog(), 0)
        hall = county.hall_code
        self.assertEqual(county.count("appointments", "hall_code = %s" % sql_str(hall)), 3)
        self.assertEqual(county.count("conflicts", "hall_code = %s" % sql_str(hall)), 0)

    def backup(self, name):
        dest = os.path.join(self.dir, name)
        rc, out = self.hall_admin("backup", dest)
        self.assertEqual(rc, 0, out)
        return dest

    def restore(self, dest):
        """The node stopped, dest restored and the node started again; the restore before
        this one's hall.db.before-restore moved away first."""
        before = self.node.db_path + ".before-restore"
        self.node.stop()
        if os.path.exists(before):
            os.unlink(before)
        try:
            rc, out = self.hall_admin("restore", dest)
            self.assertEqual(rc, 0, out)
        finally:
            self.node.start()

    def test_restore_keeps_a_cancellation_made_after_the_backup(self):
        """Booked before the backup, cancelled by the citizen after it: the backup holds it
        booked, its place taken. After the restore the county's cancellation must hold at
        the hall too, and the place be free again."""
        node, agent = self.node, self.agent
        self.assertEqual(agent.once(), 0, agent.log_tail())
        slot = next(s for s in self.slots() if s["left"] == 2)     # one left once booked
        r = self.book(slot, person(4))
        self.assertEqual(r.status, 201, r)
        p = r.json()
        self.assertEqual(agent.once(), 0, agent.log_tail())
        dest = self.backup("before-cancel.db")
        left = next(s["left"] for s in self.slots()
                    if (s["date"], s["start"]) == (slot["date"], slot["start"]))
        r = node.json_post("/api/v1/appointments/%s/cancel" % p["appointment_no"],
                           {"code": p["query_code"]})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(agent.once(), 0, agent.log_tail())
        self.assertEqual(self.county.scalar("SELECT status FROM appointments WHERE "
                                            "appointment_no = %s" % sql_str(p["appointment_no"])),
                         "cancelled")
        self.restore(dest)
        self.assertEqual(agent.once(), 0, agent.log_tail())
        self.assertEqual(agent.once(), 0, agent.log_tail())
        self.assertEqual(self.lookup(p).json()["status"], "cancelled")
        self.assertEqual(next(s["left"] for s in self.slots()
                              if (s["date"], s["start"]) == (slot["date"], slot["start"])),
                         left + 1)
        self.assertEqual(agent.backlog(), 0)
        self.assertEqual(self.county.count("conflicts", "hall_code = %s"
                                           % sql_str(self.county.hall_code)), 0)

    def test_restore_waits_for_a_grant_lost_at_the_county(self):
        """The hall accounts' grant on my_restored_appointments lost at the county: the
        restore is not done without the appointments (the agent says why and asks again),
        and once the grant is back the booking made after the backup returns."""
        agent, county = self.agent, self.county
        self.assertEqual(agent.once(), 0, agent.log_tail())
        slot = next(s for s in self.slots() if s["left"] == 2)
        dest = self.backup("before-grant.db")
        r = self.book(slot, person(3))
        self.assertEqual(r.status, 201, r)
        q = r.json()
        self.assertEqual(agent.once(), 0, agent.log_tail())
        county.sql("REVOKE SELECT ON my_restored_appointments FROM hall_agent")
        try:
            self.restore(dest)
            self.assertNotEqual(agent.once(), 0, agent.log_tail())
            self.assertIn("my_restored_appointments", agent.dest_status(), agent.log_tail())
            self.assertEqual(self.lookup(q).status, 404)
        finally:
            county.sql("GRANT SELECT ON my_restored_appointments TO hall_agent")
        self.assertEqual(agent.once(), 0, agent.log_tail())
        self.assertEqual(agent.once(), 0, agent.log_tail())
        got = self.lookup(q)
        self.assertEqual(got.status, 200, got)
        self.assertEqual(got.json()["status"], "booked")


if __name__ == "__main__":
    unittest.main()
