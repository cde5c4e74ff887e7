"""Issue 11 (SPEC 7): the staff console's audit log, end to end.

One node for the module (the hall, the county MariaDB, staff-console behind its nginx), as
test_staff has it. Each test signs in from a loopback address of its own (nginx passes it
as REMOTE_ADDR) and with accounts of its own, so that it can find its rows among the
others'. The county is read with the `mariadb` client: as root to check what a request
wrote, and as the console's own account (County.account "console") to show what that
account may not do.
"""

import html
import os
import re
import unittest

import test_staff
from county import Agent, County, sql_str
from harness import NO_LIMITS, Node
from test_staff import Client, caseno

HALL = "430121"
TODAY_SQL = "SELECT CURDATE()"


def audit_table(text):
    """The rows of the /audit page: (action, [cell texts]) each."""
    m = re.search(r'<table id="audit">(.*?)</table>', text, re.S)
    if m is None:
        raise AssertionError("no audit table on the page: %s" % text[:500])
    rows = []
    for action, body in re.findall(r'<tr data-action="([^"]*)">(.*?)</tr>', m.group(1), re.S):
        cells = [html.unescape(re.sub(r"<[^>]+>", "", c)).strip()
                 for c in re.findall(r"<td[^>]*>(.*?)</td>", body, re.S)]
        rows.append((action, cells))
    return rows


class AuditTest(unittest.TestCase):
    node = None

    # the module shares test_staff's node set-up, helpers and log checks (not its tests)
    _finish = classmethod(test_staff.StaffTest._finish.__func__)
    tearDown = test_staff.StaffTest.tearDown
    add_staff = test_staff.StaffTest.add_staff
    insert_case = test_staff.StaffTest.insert_case
    insert_hall = test_staff.StaffTest.insert_hall
    events = test_staff.StaffTest.events
    act = test_staff.StaffTest.act

    @classmethod
    def setUpClass(cls):
        cls.node = Node("audit", county=True, agent=False, staff=True)
        cls.addClassCleanup(cls._finish)
        cls.node.start(NO_LIMITS)
        cls.county = County(cls.node)
        cls.agent = Agent(cls.node)
        cls.addClassCleanup(cls.agent.cleanup)
        env = cls.node.run_env()
        cls.user, cls.password = env["STAFF_USER"], env["STAFF_PASSWORD"]
        cls.province_user = env["PROVINCE_STAFF_USER"]
        cls.province_password = env["PROVINCE_STAFF_PASSWORD"]
        cls._log_offset = 0
        cls.staff_ini = os.path.join(cls.node.var, "staff", "staff.ini")
        cls.hall = cls.county.hall_code
        cls._seq = 7000

    # ---- helpers ---------------------------------------------------------------------
    def client(self, source=None):
        return Client(self.node.staff_port, source)

    def signed_in(self, user=None, password=None, source=None):
        c = self.client(source)
        r = c.login(user or self.user, password or self.password)
        self.assertEqual(r.status, 303, r.text[:500])
        return c

    def new_case(self, phone="13900000000"):
        type(self)._seq += 1
        no = caseno(self.hall, type(self)._seq)
        self.insert_case(no, self.hall, subject="审计测试", phone=phone)
        return no

    def audit(self, where, cols="account, address, action, case_no, detail"):
        return self.county.rows("SELECT %s FROM audit_log WHERE %s ORDER BY id" % (cols, where))

    def fail_audit_for(self, case_no, column="case_no"):
        """Until the cleanup, an audit row whose column is case_no cannot be written (a
        trigger of the test's own refuses it, as a full disk or a lost node would)."""
        self.county.sql(
            "DELIMITER //\n"
            "CREATE OR REPLACE TRIGGER audit_log_test_fail BEFORE INSERT ON audit_log "
            "FOR EACH ROW BEGIN IF NEW.%s = %s THEN SIGNAL SQLSTATE '45000' "
            "SET MESSAGE_TEXT = 'test: audit row refused'; END IF; END//\n"
            "DELIMITER ;\n" % (column, sql_str(case_no)))
        self.addCleanup(self.county.sql, "DROP TRIGGER IF EXISTS audit_log_test_fail")

    # ---- sign-in ---------------------------------------------------------------------
    def test_signins_are_recorded_with_the_address(self):
        pw = self.add_staff("au_sign", HALL, "staff")
        self.assertEqual(self.audit("account = '(cli)' AND detail = 'au_sign staff'",
                                    "address, action, county_code"),
                         [("local", "account-cli", HALL)])
        src = "127.0.0.61"
        c = self.client(src)
        self.assertEqual(c.login("au_sign", "wrong-password").status, 403)
        self.assertEqual(c.login("au_nobody", "au-typed-secret").status, 403)
        self.assertEqual(c.login("au_sign", pw).status, 303)
        self.assertEqual(c.get("/").status, 200)
        self.assertEqual(c.post("/logout", c.form("/", "/logout")).status, 303)
        self.assertEqual(
            self.audit("address = %s" % sql_str(src),
                       "account, address, action, detail, county_code, case_no"),
            [("au_sign", src, "signin-refused", "wrong password", HALL, None),
             ("", src, "signin-refused", "unknown name", None, None),
             ("au_sign", src, "signin", "", HALL, None),
             ("au_sign", src, "signout", "", HALL, None)])
        # the time is the database's, now
        self.assertEqual(self.county.scalar(
            "SELECT COUNT(*) FROM audit_log WHERE address = %s AND "
            "at BETWEEN NOW() - INTERVAL 2 MINUTE AND NOW() + INTERVAL 1 SECOND" % sql_str(src)),
            "4")
        # a name that is no account is not kept, nor anything typed with it
        self.assertEqual(self.county.count("audit_log", "account LIKE '%au_nobody%' OR "
                                           "detail LIKE '%au_nobody%' OR detail LIKE '%typed%'"),
                         0)

    def test_lockout_is_recorded(self):
        pw = self.add_staff("au_lock", HALL, "staff")
        src = "127.0.0.62"
        c = self.client(src)
        for i in range(5):
            self.assertEqual(c.login("au_lock", "wrong-%d" % i).status, 403)
        self.assertEqual(c.login("au_lock", pw).status, 403)
        details = [r[0] for r in self.audit("address = %s AND account = 'au_lock'" % sql_str(src),
                                            "detail")]
        self.assertEqual(details, ["wrong password"] * 4 + ["wrong password, now locked",
                                                            "locked"])

    # ---- case views ------------------------------------------------------------------
    def test_case_view_writes_one_row_naming_the_case(self):
        no = self.new_case(phone="13911112222")
        src = "127.0.0.63"
        c = self.signed_in(source=src)
        r = c.get("/cases/" + no)
        self.assertEqual(r.status, 200, r.text[:300])
        self.assertIn("13911112222", r.text)
        self.assertEqual(self.audit("case_no = %s" % sql_str(no)),
                         [(self.user, src, "view", no, "")])
        self.assertEqual(self.county.scalar("SELECT county_code FROM audit_log WHERE "
                                            "case_no = %s" % sql_str(no)), HALL)
        # no page, no row: a case of another county and one that does not exist
        other = caseno("430122001001", 7001)
        self.insert_case(other, "430122001001", phone="13933334444")
        missing = caseno(self.hall, 6999)
        for n in (other, missing):
            self.assertEqual(c.get("/cases/" + n).status, 404)
            self.assertEqual(self.county.count("audit_log", "case_no = %s" % sql_str(n)), 0)

    def test_case_view_fails_closed_without_its_row(self):
        no = self.new_case(phone="13955556666")
        c = self.signed_in(source="127.0.0.64")
        self.fail_audit_for(no)
        r = c.get("/cases/" + no)
        self.assertEqual(r.status, 503)
        self.assertIn("审计日志暂时无法写入", r.text)
        self.assertNotIn("13955556666", r.text)
        self.assertNotIn("测试人", r.text)
        self.assertEqual(self.county.count("audit_log", "case_no = %s" % sql_str(no)), 0)
        self.county.sql("DROP TRIGGER audit_log_test_fail")
        r = c.get("/cases/" + no)
        self.assertEqual(r.status, 200)
        self.assertIn("13955556666", r.text)

    # ---- actions ---------------------------------------------------------------------
    def test_case_actions_write_their_rows(self):
        src = "127.0.0.65"
        c = self.signed_in(source=src)
        a, b, t = self.new_case(), self.new_case(), self.new_case()
        target = HALL + "009001"
        self.insert_hall(target, "审计测试大厅")
        steps = [(a, "accept", {}, ""), (a, "answer", {"note": "答复内容"}, ""),
                 (a, "resolve", {}, ""), (b, "reject", {"note": "不属于受理范围"}, ""),
                 (t, "transfer", {"target": target}, target)]
        for no, action, fields, detail in steps:
            r = self.act(c, no, action, **fields)
            self.assertEqual(r.status, 303, "%s: %s" % (action, r.text[:300]))
            self.assertEqual(self.audit("case_no = %s AND action = %s"
                                        % (sql_str(no), sql_str(action))),
                             [(self.user, src, action, no, detail)], action)
        self.assertEqual([e[0] for e in self.events(a)], ["accepted", "answered", "resolved"])

    def test_an_action_and_its_row_commit_together(self):
        no = self.new_case()
        c = self.signed_in(source="127.0.0.66")
        hidden = c.form("/cases/" + no, "/cases/" + no)
        self.fail_audit_for(no)
        r = c.post("/cases/" + no, dict(hidden, action="answer", note="不应保存的答复"))
        self.assertEqual(r.status, 503, r.text[:300])
        self.assertEqual(self.events(no), [], "the answer must roll back with its row")
        self.assertEqual(self.county.count("audit_log", "case_no = %s AND action = 'answer'"
                                           % sql_str(no)), 0)
        self.county.sql("DROP TRIGGER audit_log_test_fail")
        r = self.act(c, no, "answer", note="保存的答复")
        self.assertEqual(r.status, 303)
        self.assertEqual(len(self.events(no)), 1)
        self.assertEqual(self.county.count("audit_log", "case_no = %s AND action = 'answer'"
                                           % sql_str(no)), 1)

    def test_single_statement_changes_roll_back_without_their_row(self):
        """The changes made by one statement (audit_exec): a 差评 rectification and a new
        account, each refused with its row."""
        c = self.signed_in(source="127.0.0.77")
        no = self.new_case()
        self.county.sql("INSERT INTO rating_followups (case_no, rating_id, hall_code, level, "
                        "due_at) VALUES (%s, 'au-rating-2', %s, 2, NOW() + INTERVAL 5 DAY)"
                        % (sql_str(no), sql_str(self.hall)))
        hidden = c.form("/cases/" + no, "/logout")
        self.fail_audit_for(no)
        r = c.post("/followups/" + no, dict(hidden, rectification="不应保存"))
        self.assertEqual(r.status, 503)
        self.assertEqual(self.county.rows("SELECT closed_at, rectification FROM "
                                          "rating_followups WHERE case_no = %s" % sql_str(no)),
                         [(None, None)])
        self.fail_audit_for("au_txn", column="detail")
        r = c.submit("/accounts", "/accounts", {"username": "au_txn", "display_name": "",
                                                "role": "staff", "password": "long-enough-pw"})
        self.assertEqual(r.status, 503)
        self.assertEqual(self.county.count("staff_accounts", "username = 'au_txn'"), 0)
        self.assertEqual(self.county.count("audit_log", "detail = 'au_txn'"), 0)
        self.county.sql("DROP TRIGGER audit_log_test_fail")
        r = c.submit("/accounts", "/accounts", {"username": "au_txn", "display_name": "",
                                                "role": "staff", "password": "long-enough-pw"})
        self.assertEqual(r.status, 303)
        self.assertEqual(self.county.count("audit_log", "detail = 'au_txn' AND "
                                           "action = 'account-create'"), 1)

    def test_refused_forms_leave_a_refusal_and_no_action(self):
        no = self.new_case()
        src = "127.0.0.67"
        c = self.signed_in(source=src)
        r = c.post("/cases/" + no, {"action": "answer", "note": "无令牌", "csrf": "garbage"})
        self.assertEqual(r.status, 403)
        self.assertEqual(self.events(no), [])
        self.assertEqual(self.audit("case_no = %s" % sql_str(no)),
                         [(self.user, src, "refused", no, "csrf: POST /cases/" + no)])
        # a form of a higher role: refused, and said so
        pw = self.add_staff("au_plain", HALL, "staff")
        s = self.signed_in("au_plain", pw, source=src)
        hidden = s.form("/calendars", "/logout")
        self.assertEqual(s.post("/calendars/2034", dict(hidden, body="year 2034\n")).status, 403)
        self.assertEqual(s.get("/audit").status, 403)
        self.assertEqual(self.audit("account = 'au_plain' AND action = 'refused'",
                                    "address, detail"),
                         [(src, "role: POST /calendars/2034"), (src, "role: GET /audit")])
        self.assertEqual(self.county.count("calendars", "year = 2034"), 0)

    def test_followup_publishing_and_accounts_write_their_rows(self):
        src = "127.0.0.68"
        c = self.signed_in(source=src)    # the demo account is an admin
        no = self.new_case()
        self.county.sql("INSERT INTO rating_followups (case_no, rating_id, hall_code, level, "
                        "due_at) VALUES (%s, 'au-rating', %s, 1, NOW() + INTERVAL 5 DAY)"
                        % (sql_str(no), sql_str(self.hall)))
        hidden = c.form("/cases/" + no, "/logout")
        r = c.post("/followups/" + no, dict(hidden, rectification="已约谈窗口人员"))
        self.assertEqual(r.status, 303, r.text[:300])
        r = c.submit("/followups", "/settings/followup", {"days": "4"})
        self.assertEqual(r.status, 303, r.text[:300])
        fields = {"id": "g-audit-test", "name": "审计测试指南", "department": "县民政局",
                  "materials": "居民身份证", "time_limit": "即办件", "fees": "不收费",
                  "fee_basis": "", "delivery": "当场领取", "consult": "0731-84000001",
                  "address": "县政务服务中心", "hours": "工作日 9:00-17:00"}
        self.assertEqual(c.submit("/guides/new", "/guides/new", fields).status, 303)
        # the same id again changes nothing and records nothing
        self.assertEqual(c.submit("/guides/new", "/guides/new", fields).status, 409)
        # calendars are the province's to publish (county 011)
        p = self.signed_in(self.province_user, self.province_password, source=src)
        r = p.submit("/calendars/2033", "/calendars/2033",
                     {"body": "year 2033\n2033-01-03 holiday 元旦\n"})
        self.assertEqual(r.status, 303, r.text[:300])
        r = c.submit("/accounts", "/accounts", {"username": "au_made", "display_name": "",
                                                "role": "staff", "password": "long-enough-pw"})
        self.assertEqual(r.status, 303, r.text[:300])
        for action in ("disable", "enable"):
            r = c.submit("/accounts", "/accounts/au_made", {}, form_id=action)
            self.assertEqual(r.status, 303, r.text[:300])
        self.assertEqual(
            self.audit("address = %s AND action NOT IN ('signin', 'view')" % sql_str(src)),
            [(self.user, src, "followup", no, ""),
             (self.user, src, "followup-days", None, "4"),
             (self.user, src, "guide", None, "g-audit-test"),
             (self.province_user, src, "calendar", None, "2033"),
             (self.user, src, "account-create", None, "au_made"),
             (self.user, src, "disable", None, "au_made"),
             (self.user, src, "enable", None, "au_made")])

    # ---- nobody edits it -------------------------------------------------------------
    def test_console_account_cannot_change_the_log(self):
        self.signed_in(source="127.0.0.69")
        where = "address = '127.0.0.69'"
        before = self.audit(where, "id, at, account, action")
        self.assertEqual(len(before), 1)
        # it may add and read, with the database's time whatever it says
        ok, out, err = self.county.try_sql(
            "INSERT INTO audit_log (county_code, account, address, action, at) "
            "VALUES ('430121', 'au_probe', '127.0.0.69', 'probe', '2001-01-01 00:00:00');"
            "SELECT COUNT(*) FROM audit_log WHERE address = '127.0.0.69';", account="console")
        self.assertTrue(ok, err)
        self.assertEqual(out.strip(), "2")
        self.assertEqual(self.county.scalar("SELECT YEAR(at) >= 2026 FROM audit_log "
                                            "WHERE account = 'au_probe'"), "1")
        for sql in ("UPDATE audit_log SET account = 'someone' WHERE %s" % where,
                    "DELETE FROM audit_log WHERE %s" % where,
                    "TRUNCATE TABLE audit_log",
                    "DROP TABLE audit_log",
                    "ALTER TABLE audit_log DROP COLUMN detail",
                    "RENAME TABLE audit_log TO audit_old",
                    "DROP TRIGGER audit_log_no_update",
                    "CREATE TRIGGER au_x BEFORE INSERT ON audit_log FOR EACH ROW SET NEW.detail = ''",
                    "CREATE TABLE audit_log2 AS SELECT * FROM audit_log",
                    "GRANT UPDATE ON audit_log TO CURRENT_USER"):
            ok, _, err = self.county.try_sql(sql, account="console")
            self.assertFalse(ok, "the console's account could: " + sql)
            self.assertRegex(err, r"denied|ERROR 1142|ERROR 1044|ERROR 1227", sql)
        # not even the county's admin account changes a row, or deletes a young one
        for sql in ("UPDATE audit_log SET account = 'someone' WHERE %s" % where,
                    "DELETE FROM audit_log WHERE %s" % where,
                    "SET @audit_log_purge = 1; DELETE FROM audit_log WHERE %s" % where):
            ok, _, err = self.county.try_sql(sql)
            self.assertFalse(ok, "root could: " + sql)
            self.assertIn("audit_log rows", err)
        self.assertEqual(self.audit(where + " AND action <> 'probe'", "id, at, account, action"),
                         before)

    # ---- the admins' page ------------------------------------------------------------
    def test_admin_page_filters_by_account_and_date(self):
        pw = self.add_staff("au_f1", HALL, "staff")
        self.signed_in("au_f1", pw, source="127.0.0.70")
        admin = self.signed_in(source="127.0.0.71")
        page = admin.get("/")
        self.assertIn('href="/audit"', page.text)
        r = admin.get("/audit?account=au_f1")
        self.assertEqual(r.status, 200, r.text[:300])
        rows = audit_table(r.text)
        self.assertEqual([(a, cells[1], cells[2]) for a, cells in rows],
                         [("signin", "au_f1", "127.0.0.70")])
        self.assertIn("登录", rows[0][1][3])
        # the whole county, newest first: the admin's own sign-in above au_f1's
        rows = audit_table(admin.get("/audit").text)
        accounts = [cells[1] for _, cells in rows]
        self.assertIn("au_f1", accounts)
        self.assertLess(accounts.index(self.user), accounts.index("au_f1"))
        # by date: today has them, a range ending yesterday or starting tomorrow has none
        today = self.county.scalar(TODAY_SQL)
        yesterday = self.county.scalar("SELECT CURDATE() - INTERVAL 1 DAY")
        tomorrow = self.county.scalar("SELECT CURDATE() + INTERVAL 1 DAY")
        q = "/audit?account=au_f1&from=%s&to=%s"
        self.assertEqual(len(audit_table(admin.get(q % (today, today)).text)), 1)
        self.assertEqual(len(audit_table(admin.get(q % ("2020-01-01", yesterday)).text)), 0)
        self.assertEqual(len(audit_table(admin.get(q % (tomorrow, "")).text)), 0)
        # a date that is not one is ignored, and the page says so
        r = admin.get(q % ("2026-02-30", ""))
        self.assertEqual(r.status, 200)
        self.assertIn("日期应为", r.text)
        self.assertEqual(len(audit_table(r.text)), 1)

    def test_admin_page_pages_newest_first(self):
        self.county.sql("INSERT INTO audit_log (county_code, account, address, action, detail) "
                        "SELECT '430121', 'au_many', '127.0.0.72', 'view', CONCAT('n', seq) "
                        "FROM seq_1_to_60")
        admin = self.signed_in(source="127.0.0.73")
        r = admin.get("/audit?account=au_many")
        rows = audit_table(r.text)
        self.assertEqual(len(rows), 50)
        self.assertEqual(rows[0][1][5], "n60")
        self.assertEqual(rows[49][1][5], "n11")
        self.assertIn('rel="next"', r.text)
        self.assertNotIn('rel="prev"', r.text)
        m = re.search(r'<a href="([^"]+)" rel="next"', r.text)
        r = admin.get(html.unescape(m.group(1)))
        rows = audit_table(r.text)
        self.assertEqual([cells[5] for _, cells in rows], ["n%d" % i for i in range(10, 0, -1)])
        self.assertIn('rel="prev"', r.text)
        self.assertNotIn('rel="next"', r.text)

    def test_admin_page_is_the_admins_and_their_countys(self):
        spw = self.add_staff("au_sup", HALL, "supervisor")
        sup = self.signed_in("au_sup", spw, source="127.0.0.74")
        self.assertEqual(sup.get("/audit").status, 403)
        self.assertNotIn('href="/audit"', sup.get("/").text)
        # an admin of another county sees none of this county's rows, even asked by name
        apw = self.add_staff("au_admin122", "430122", "admin")
        other = self.signed_in("au_admin122", apw, source="127.0.0.75")
        rows = audit_table(other.get("/audit").text)
        self.assertTrue(rows)
        self.assertEqual({cells[1] for _, cells in rows}, {"au_admin122", "(cli)"})
        self.assertEqual(audit_table(other.get("/audit?account=au_sup").text), [])
        self.assertEqual(audit_table(other.get("/audit?account=" + self.user).text), [])
        # and this county's admin does not see the other's
        admin = self.signed_in(source="127.0.0.76")
        self.assertEqual(audit_table(admin.get("/audit?account=au_admin122").text), [])
        self.assertEqual(self.signed_in("au_sup", spw).get("/audit").status, 403)


if __name__ == "__main__":
    unittest.main()
