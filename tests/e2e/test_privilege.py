"""Issue 11 (Trust), least privilege tightened (SPEC 6, sql/county/011): the reader cannot
forge an actor or move a case; case_events takes only the statuses of SPEC 2, whoever
writes; calendars are the province's (its database role, and its staff in the console, not
a county's admin); one hall cannot write a record carrying another hall's code.

One node with its county and staff console (`conf/demo start`), against real MariaDB,
nginx and the programs; the tests run hall-agent themselves.
"""

import json
import os
import re
import shutil
import subprocess
import tempfile
import unittest

from county import Agent, County, hall_rows, sql_str
from harness import BUILD, NO_LIMITS, ROOT, Node
import test_staff
from test_staff import Client, caseno

STAFF_CONSOLE = os.path.join(ROOT, BUILD, "staff-console")
OTHER_HALL = "430121002000"
# refused for want of a grant: table (1142), column (1143), routine (1370)
DENIED = re.compile(r"ERROR 114[23] |ERROR 1370 |denied")
BAD_STATUS = re.compile(r"ERROR 4025 .*case_events.status is one of")
SPEC2_STATUSES = ("received", "delivered", "accepted", "transferred", "answered", "resolved",
                  "rejected")


class PrivilegeTest(unittest.TestCase):
    node = None

    @classmethod
    def setUpClass(cls):
        cls.node = Node("privilege", county=True, agent=False, staff=True)
        cls.addClassCleanup(cls._finish)
        cls.node.start(NO_LIMITS)
        cls.county = County(cls.node)
        cls.agent = Agent(cls.node)
        cls.addClassCleanup(cls.agent.cleanup)
        cls.env = cls.node.run_env()
        cls.staff_ini = os.path.join(cls.node.var, "staff", "staff.ini")
        cls.county.add_hall(OTHER_HALL, "长沙县另一街道政务服务中心")

    # the node's end and its log checks are test_staff's
    _finish = classmethod(test_staff.StaffTest._finish.__func__)

    # ---- helpers ---------------------------------------------------------------------
    def refused(self, account, sql, pattern=DENIED):
        ok, out, err = self.county.try_sql(sql, account)
        self.assertFalse(ok, "%s was allowed: %s -> %r" % (account, sql, out))
        self.assertRegex(err, pattern, "%s: %s failed otherwise: %s" % (account, sql, err))
        return err

    def sync(self):
        self.assertEqual(self.agent.once(), 0, self.agent.log_tail())

    def hall_case(self):
        """A consultation submitted at the hall and synced to the county: its receipt."""
        receipt = self.node.submit()
        self.sync()
        self.assertEqual(self.county.scalar("SELECT status FROM cases WHERE case_no = %s"
                                            % sql_str(receipt["case_no"])), "delivered")
        return receipt

    def events(self, case_no):
        return self.county.rows("SELECT status, note, actor FROM case_events WHERE case_no = %s "
                                "ORDER BY seq" % sql_str(case_no))

    def client(self, user, password):
        c = Client(self.node.staff_port)
        r = c.login(user, password)
        self.assertEqual(r.status, 303, r.text[:500])
        return c

    def add_staff(self, user, county, role, password="correct-horse-battery"):
        """staff-console add-user: (exit status, output)."""
        d = tempfile.mkdtemp(prefix="staff-pw-")
        try:
            pw = os.path.join(d, "pw")
            with open(pw, "w") as f:
                f.write(password + "\n")
            p = subprocess.run([STAFF_CONSOLE, "-c", self.staff_ini, "add-user", user, county,
                                role, pw], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               timeout=60)
        finally:
            shutil.rmtree(d)
        return p.returncode, p.stdout.decode("utf-8", "replace")

    def upload(self, records, account="hall"):
        """CALL hall_upload with these records (dicts) as the hall's account: its result
        rows (n, id, result, reason)."""
        batch = json.dumps([json.dumps(r, ensure_ascii=False) for r in records],
                           ensure_ascii=False)
        return self.county.rows("CALL hall_upload('%s', 1, 'test', 0, %s)"
                                % ("a" * 32, sql_str(batch)), account=account)

    def case_record(self, rid, case_no, hall_code=None):
        return {"id": rid, "type": "case", "case_no": case_no,
                "hall_code": hall_code or self.county.hall_code, "kind": "consultation",
                "category": "policy", "subject": "权限测试", "body": "权限测试",
                "phone": "13700000000", "submitted_at": "2026-01-05T10:00:00+08:00",
                "due_at": "2026-01-08T23:59:59+08:00", "due_provisional": False,
                "at": "2026-01-05T10:00:00+08:00"}

    # ---- the reader: no actor of its own choosing --------------------------------------
    def test_reader_cannot_forge_an_actor(self):
        rc = self.hall_case()
        no = rc["case_no"]
        before = self.county.count("case_events")
        err = self.refused("reader", "INSERT INTO case_events (case_no, status, note, actor) "
                                     "VALUES (%s, 'answered', '冒名答复', '县长')" % sql_str(no))
        self.assertIn("actor", err)
        self.refused("reader", "INSERT INTO case_events SET case_no = %s, status = 'answered', "
                               "note = 'x', origin = 'hall'" % sql_str(no))
        self.refused("reader", "INSERT INTO case_events (case_no, status, note, id) VALUES "
                               "(%s, 'answered', 'x', %s)" % (sql_str(no), sql_str(no + "-X")))
        self.assertEqual(self.county.count("case_events"), before, "a refused insert wrote")
        # what it may insert carries its own account as the actor
        seq = self.county.answer(no, "answered", "读者账户的答复")
        self.assertEqual(self.county.rows("SELECT actor, origin FROM case_events WHERE seq = %d"
                                          % seq), [("county_demo", "county")])
        # the staff console's account names its staff member (the console's own accounts)
        self.county.sql("INSERT INTO case_events (case_no, status, note, actor) VALUES "
                        "(%s, 'resolved', '办结', 'zhang_san')" % sql_str(no), "console")
        self.county.sql("INSERT INTO case_events (case_no, status, note) VALUES "
                        "(%s, 'resolved', '未署名')" % sql_str(no), "console")
        self.assertEqual(self.events(no)[-3:], [("answered", "读者账户的答复", "county_demo"),
                                                ("resolved", "办结", "zhang_san"),
                                                ("resolved", "未署名", "staff_web")])
        # the hall shows the answer, and who gave it is the account's name
        self.sync()
        self.assertIn(("answered", "读者账户的答复", "county_demo"),
                      hall_rows(self.node, "SELECT status, note, actor FROM case_events "
                                           "WHERE case_no = ?", (no,)))

    # ---- the reader: no case moves ------------------------------------------------------
    def test_reader_cannot_move_a_case(self):
        rc = self.hall_case()
        no = rc["case_no"]
        q = sql_str(no)
        row = "SELECT hall_code, status, handler_county, handler_hall FROM cases WHERE case_no = %s"
        before = self.county.rows(row % q)
        events = self.county.count("case_events")
        for sql in ("UPDATE cases SET hall_code = %s WHERE case_no = %s" % (sql_str(OTHER_HALL), q),
                    "UPDATE cases SET status = 'resolved' WHERE case_no = %s" % q,
                    "UPDATE cases SET handler_county = '430122', handler_hall = NULL "
                    "WHERE case_no = %s" % q,
                    "DELETE FROM cases WHERE case_no = %s" % q,
                    "UPDATE case_events SET status = 'resolved' WHERE case_no = %s" % q,
                    "INSERT INTO case_transfers (case_no, event_seq, from_county, to_county, "
                    "actor) VALUES (%s, 999999, '430121', '430122', 'x')" % q,
                    # a transfer names its target: a column the reader has no grant on
                    "INSERT INTO case_events (case_no, status, note, transfer_to) VALUES "
                    "(%s, 'transferred', '转走', %s)" % (q, sql_str(OTHER_HALL))):
            for account in ("reader", "hall"):
                self.refused(account, sql)
        # nor can it claim a transfer the county did not make: 'transferred' without a target
        self.refused("reader", "INSERT INTO case_events (case_no, status, note) VALUES "
                               "(%s, 'transferred', '已转办')" % q,
                     re.compile(r"ERROR 4025 .*transfer names where the case goes"))
        self.assertEqual(self.county.rows(row % q), before, "the case moved")
        self.assertEqual(self.county.count("case_events"), events)
        self.assertEqual(self.county.count("case_transfers", "case_no = %s" % q), 0)
        # a transfer is the console's: its account names the target and the case moves
        self.county.sql("INSERT INTO case_events (case_no, status, note, actor, transfer_to) "
                        "VALUES (%s, 'transferred', '', 'li_si', %s)"
                        % (q, sql_str(OTHER_HALL)), "console")
        self.assertEqual(self.county.rows(row % q),
                         [(self.county.hall_code, "transferred", OTHER_HALL[:6], OTHER_HALL)])
        self.assertEqual(self.county.rows("SELECT to_hall, actor FROM case_transfers "
                                          "WHERE case_no = %s" % q), [(OTHER_HALL, "li_si")])

    # ---- statuses: SPEC 2's and no other --------------------------------------------------
    def test_status_outside_spec_2_is_refused_for_every_writer(self):
        rc = self.hall_case()
        no = rc["case_no"]
        q = sql_str(no)
        events = self.county.count("case_events")
        for account in ("reader", "console", "root"):
            for status in ("closed", "", "Answered", "answered ", "已答复"):
                self.refused(account, "INSERT INTO case_events (case_no, status, note) VALUES "
                                      "(%s, %s, 'x')" % (q, sql_str(status)), BAD_STATUS)
            self.refused(account, "INSERT INTO case_events (case_no, status, note) VALUES "
                                  "(%s, NULL, 'x')" % q, re.compile(r"ERROR (4025|1048) "))
        self.assertEqual(self.county.count("case_events"), events)
        self.assertEqual(self.county.scalar("SELECT status FROM cases WHERE case_no = %s" % q),
                         "delivered")
        # every status of SPEC 2 goes in ('transferred' as a county event names its target)
        for status in SPEC2_STATUSES:
            target = sql_str(OTHER_HALL if status == "transferred" else None)
            if status == "transferred":
                self.county.sql("INSERT INTO case_events (case_no, status, note, actor, "
                                "transfer_to) VALUES (%s, %s, 'x', 't', %s)"
                                % (q, sql_str(status), target), "console")
            else:
                self.county.answer(no, status, "状态 " + status)
        self.assertEqual([e[0] for e in self.events(no)][-len(SPEC2_STATUSES):],
                         list(SPEC2_STATUSES))
        # nor by changing a row (the county's admin alone may)
        self.refused("root", "UPDATE case_events SET status = 'closed' WHERE case_no = %s" % q,
                     BAD_STATUS)
        self.assertEqual(self.county.count("case_events", "case_no = %s AND status = 'closed'"
                                           % q), 0)
        # a hall's event with another status: that record refused, by name, the rest stored
        ev_bad = {"id": self.county.hall_code + "-E900001", "type": "event", "case_no": no,
                  "hall_code": self.county.hall_code, "status": "closed", "note": "x",
                  "at": "2026-01-05T10:00:00+08:00"}
        ev_ok = dict(ev_bad, id=self.county.hall_code + "-E900002", status="received")
        out = self.upload([ev_bad, ev_ok])
        self.assertEqual(len(out), 1, out)
        self.assertEqual(out[0][:3], ("1", ev_bad["id"], "rejected"))
        self.assertIn("status", out[0][3])
        self.assertEqual(self.county.count("case_events", "id = %s" % sql_str(ev_bad["id"])), 0)
        self.assertEqual(self.county.count("case_events", "id = %s" % sql_str(ev_ok["id"])), 1)

    # ---- calendars: the province's --------------------------------------------------------
    def test_county_accounts_cannot_write_calendars(self):
        self.addCleanup(self.county.sql, "DELETE FROM calendars WHERE year = 2041; "
                                         "DELETE FROM calendar_days WHERE day >= '2041-01-01'")
        for account in ("reader", "console", "hall"):
            for sql in ("INSERT INTO calendars (year, body) VALUES (2041, 'year 2041\n')",
                        "UPDATE calendars SET body = 'year 2026\n' WHERE year = 2026",
                        "INSERT INTO calendar_days (day, workday) VALUES ('2041-01-01', 1)",
                        "UPDATE calendar_days SET workday = 1 WHERE day = '2026-10-01'"):
                self.refused(account, sql)
        self.assertEqual(self.county.scalar("SELECT workday FROM calendar_days "
                                            "WHERE day = '2026-10-01'"), "0")
        # the province's account writes them, and nothing of a county's
        self.county.sql("INSERT INTO calendars (year, body) VALUES (2041, 'year 2041\n'); "
                        "INSERT INTO calendar_days (day, workday) VALUES ('2041-01-01', 0)",
                        "province")
        self.assertEqual(self.county.count("calendars", "year = 2041"), 1)
        for sql in ("SELECT count(*) FROM cases", "INSERT INTO case_events (case_no, status, "
                    "note) VALUES ('X', 'answered', 'x')", "INSERT INTO guides (id, name, "
                    "materials, time_limit, fees, delivery, consult, address, hours) VALUES "
                    "('g', 'n', 'm', 't', 'f', 'd', 'c', 'a', 'h')",
                    "UPDATE staff_accounts SET role = 'admin'"):
            self.refused("province", sql)

    def test_only_the_province_publishes_calendars_in_the_console(self):
        body = "year 2033\n2033-01-03 holiday 元旦（测试）\n"
        self.addCleanup(self.county.sql, "DELETE FROM calendars WHERE year = 2033; "
                                         "DELETE FROM calendar_days WHERE day >= '2033-01-01' "
                                         "AND day < '2034-01-01'")
        # the county's admin (the demo account) reads, and may not publish
        admin = self.client(self.env["STAFF_USER"], self.env["STAFF_PASSWORD"])
        page = admin.get("/calendars/2033").text
        self.assertIn("readonly", page)
        self.assertNotIn("保存并发布", page)
        hidden = admin.form("/calendars/2033", "/calendars/2033")
        r = admin.post("/calendars/2033", dict(hidden, body=body))
        self.assertEqual(r.status, 403, r.text[:300])
        self.assertIn("省级", r.text)
        self.assertEqual(self.county.count("calendars", "year = 2033"), 0)
        # nor may it make itself, or anyone, a province account
        r = admin.submit("/accounts", "/accounts", {"username": "fake_prov", "role": "province",
                                                    "password": "correct-horse-battery"})
        self.assertEqual(r.status, 422, r.text[:300])
        self.assertEqual(self.county.count("staff_accounts", "username = 'fake_prov'"), 0)
        # a province account is made by the operator, with the province's code only
        rc, out = self.add_staff("prov_bad", "430121", "province")
        self.assertNotEqual(rc, 0, out)
        self.assertIn("430000", out)
        # the province's staff publish: the text and its days, with the province's account
        prov = self.client(self.env["PROVINCE_STAFF_USER"], self.env["PROVINCE_STAFF_PASSWORD"])
        self.assertIn("保存并发布", prov.get("/calendars/2033").text)
        r = prov.submit("/calendars/2033", "/calendars/2033", {"body": body})
        self.assertEqual(r.status, 303, r.text[:300])
        self.assertEqual(self.county.scalar("SELECT body FROM calendars WHERE year = 2033"),
                         body)
        self.assertEqual(self.county.count("calendar_days", "day >= '2033-01-01' AND "
                                                            "day < '2034-01-01'"), 365)
        self.assertEqual(self.county.scalar("SELECT workday FROM calendar_days "
                                            "WHERE day = '2033-01-03'"), "0")
        # and nothing of a county's: its accounts, settings, guides, cases
        self.assertEqual(prov.get("/accounts").status, 403)
        hidden = prov.form("/calendars", "/logout")
        r = prov.post("/settings/followup", dict(hidden, days="9"))
        self.assertEqual(r.status, 403)
        r = prov.post("/guides/new", dict(hidden, name="省级指南"))
        self.assertEqual(r.status, 403)
        no = self.hall_case()["case_no"]
        self.assertEqual(prov.get("/cases/" + no).status, 404)
        r = prov.post("/cases/" + no, dict(hidden, action="resolve", note="省级办结"))
        self.assertEqual(r.status, 404, r.text[:300])
        self.assertEqual(self.county.scalar("SELECT status FROM cases WHERE case_no = %s"
                                            % sql_str(no)), "delivered")

    # ---- one hall, its own code -------------------------------------------------------
    def test_hall_cannot_write_a_record_with_another_halls_code(self):
        mine = self.county.hall_code
        good = self.case_record(mine + "-C800001", caseno(mine, 800001))
        other_no = self.case_record(mine + "-C800002", caseno(OTHER_HALL, 800002))
        other_id = self.case_record(OTHER_HALL + "-C800003", caseno(mine, 800003))
        out = self.upload([good, other_no, other_id])
        got = {r[1]: r for r in out}
        self.assertEqual(set(got), {other_no["id"], other_id["id"]}, out)
        self.assertEqual(got[other_no["id"]][:3], ("2", other_no["id"], "rejected"))
        self.assertIn("case number does not carry this hall's code " + mine,
                      got[other_no["id"]][3])
        self.assertEqual(got[other_id["id"]][:3], ("3", other_id["id"], "rejected"))
        self.assertIn("record id does not carry this hall's code " + mine, got[other_id["id"]][3])
        self.assertEqual(self.county.count("cases", "id = %s" % sql_str(good["id"])), 1)
        for r in (other_no, other_id):
            for table in ("cases", "records"):
                self.assertEqual(self.county.count(table, "id = %s" % sql_str(r["id"])), 0,
                                 "%s holds %s" % (table, r["id"]))
            self.assertEqual(self.county.count("cases", "case_no = %s" % sql_str(r["case_no"])),
                             0)
        # an event or rating that names another hall's case: refused by the same rule
        other_case = caseno(OTHER_HALL, 800004)
        out = self.upload([self.case_record(OTHER_HALL + "-C800004", other_case, OTHER_HALL)],
                          account=OTHER_HALL)
        self.assertEqual(out, [])
        ev = {"id": mine + "-E800005", "type": "event", "case_no": other_case,
              "hall_code": mine, "status": "received", "at": "2026-01-05T10:00:00+08:00"}
        rt = {"id": mine + "-R800006", "type": "rating", "case_no": other_case,
              "hall_code": mine, "level": 1, "at": "2026-01-05T10:00:00+08:00"}
        out = self.upload([ev, rt])
        self.assertEqual([r[2] for r in out], ["rejected", "rejected"], out)
        self.assertTrue(all("case number does not carry" in r[3] for r in out), out)
        self.assertEqual(self.county.count("ratings", "case_no = %s" % sql_str(other_case)), 0)

    def test_agent_quarantines_the_record_with_another_halls_code_alone(self):
        """Through the agent: two records whose case number, or id, carries another hall's
        code are set aside with the county's reason, each on its own; the rest go on."""
        ok1, bad_no, bad_id, ok2 = [self.node.submit(subject="代码 %d" % i) for i in range(4)]
        con = self.node.db()
        with con:
            con.execute("UPDATE outbox SET payload = json_set(payload, '$.case_no', ?) "
                        "WHERE id = ?", (caseno(OTHER_HALL, 900001), bad_no["id"]))
            con.execute("UPDATE outbox SET payload = json_set(payload, '$.id', ?) WHERE id = ?",
                        (OTHER_HALL + "-C900002", bad_id["id"]))
        con.close()
        self.sync()
        later = self.node.submit(subject="代码之后")
        self.sync()
        ids = {r[0] for r in self.county.rows("SELECT id FROM cases WHERE hall_code = %s"
                                              % sql_str(self.county.hall_code))}
        for r in (ok1, ok2, later):
            self.assertIn(r["id"], ids)
        self.assertNotIn(bad_no["id"], ids)
        self.assertEqual(self.county.count("cases", "id = %s" % sql_str(OTHER_HALL + "-C900002")),
                         0)
        q = {r[0]: r[1:] for r in hall_rows(self.node, "SELECT id, dest, result, reason "
                                                       "FROM quarantine WHERE dest = 'county'")}
        self.assertEqual(set(q) & {ok1["id"], ok2["id"], later["id"]}, set())
        self.assertEqual(q[bad_no["id"]][:2], ("county", "rejected"))
        self.assertIn("case number does not carry", q[bad_no["id"]][2])
        self.assertEqual(q[bad_id["id"]][:2], ("county", "rejected"))
        self.assertIn("record id does not carry", q[bad_id["id"]][2])
        self.assertIn("QUARANTINED", self.agent.dest_status())
        self.assertRegex(self.agent.dest_status(), r"(?m)^\s*backlog\s+0 record")


if __name__ == "__main__":
    unittest.main()
