"""SPEC 7: the county staff console, end to end.

One node for the module (`conf/demo start` with COUNTY=1 and STAFF=1: the hall, the county
MariaDB, staff-console behind its own nginx); the tests run hall-agent `once` themselves to
sync. They talk to the console over HTTP only, as a browser does (cookies, forms with their
hidden fields), and to the county with the `mariadb` client only to set up known data or
check what a request wrote.

Counties: 430121 is the demo hall's (real submissions through the hall); 430122 is a
neighbour whose cases must stay invisible; 430188 and 430199 hold data the tests write
directly, so that inbox filters and dashboard figures can be checked against exact numbers.
"""

import datetime
import hashlib
import http.client
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.parse

from county import Agent, County, sql_str
from harness import BUILD, NO_LIMITS, ROOT, Node, load_calendar, parse_forms

STAFF_CONSOLE = os.path.join(ROOT, BUILD, "staff-console")
CALENDAR_2026 = os.path.join(ROOT, "conf", "calendar", "2026.txt")
# every refused sign-in (unknown name, wrong password, locked account) says only this
REFUSED = "用户名或密码错误，或账户已被锁定。"
ALPHA = "0123456789ABCDEFGHJKLMNPQRTVWXY"
SANITIZER = re.compile(r"ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|"
                       r"ended \(signal \d+")


def caseno(hall_code, seq):
    """A valid case number (lib/core/caseno.c): hall code, 10 base-31 symbols, check symbol."""
    body = hall_code
    digits = []
    for _ in range(10):
        digits.append(ALPHA[seq % 31])
        seq //= 31
    body += "".join(reversed(digits))
    total, w = 0, 3    # the weight of position 21 is 3^(22-21)
    for i in range(21, -1, -1):
        total = (total + ALPHA.index(body[i]) * w) % 31
        w = w * 3 % 31
    return body + ALPHA[(31 - total) % 31]


class Client:
    """A browser of the staff console: a cookie jar, GET and form POSTs, no redirects
    followed (tests look at each answer). source: the loopback address it connects from
    (nginx passes it as REMOTE_ADDR), so that tests of the per-address sign-in limit each
    have an address of their own."""

    def __init__(self, port, source=None):
        self.port = port
        self.source = source
        self.cookies = {}

    def request(self, method, path, body=None, headers=None):
        h = {"Connection": "close"}
        if self.cookies:
            h["Cookie"] = "; ".join("%s=%s" % kv for kv in self.cookies.items())
        h.update(headers or {})
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30,
                                          source_address=(self.source, 0) if self.source
                                          else None)
        try:
            conn.request(method, path, body=body, headers=h)
            r = conn.getresponse()
            data = r.read()
        finally:
            conn.close()
        for v in r.headers.get_all("Set-Cookie") or []:
            m = re.match(r"\s*([^=;]+)=([^;]*)", v)
            if m:
                if re.search(r";\s*Max-Age=0", v, re.I):
                    self.cookies.pop(m.group(1), None)
                else:
                    self.cookies[m.group(1)] = m.group(2)
        r.body = data
        r.text = data.decode("utf-8", "replace")
        return r

    def get(self, path):
        return self.request("GET", path)

    def post(self, path, fields):
        body = urllib.parse.urlencode(fields).encode("utf-8")
        return self.request("POST", path, body,
                            {"Content-Type": "application/x-www-form-urlencoded"})

    def form(self, page_path, action):
        """The hidden fields of the form posting to action on page_path."""
        r = self.get(page_path)
        if r.status != 200:
            raise AssertionError("GET %s: %d %s" % (page_path, r.status, r.text[:300]))
        for f in parse_forms(r.text):
            if f["action"] == action:
                return dict(f["hidden"])
        raise AssertionError("no form to %s on %s" % (action, page_path))

    def submit(self, page_path, action, fields, form_id=None):
        """Posts fields with the hidden ones of the form to action (the one whose hidden
        action field is form_id, when several post to the same URL)."""
        r = self.get(page_path)
        if r.status != 200:
            raise AssertionError("GET %s: %d %s" % (page_path, r.status, r.text[:300]))
        for f in parse_forms(r.text):
            if f["action"] == action and (form_id is None or
                                          f["hidden"].get("action") == form_id):
                data = dict(f["hidden"])
                data.update(fields)
                return self.post(action, data)
        raise AssertionError("no form %s to %s on %s" % (form_id, action, page_path))

    def login(self, user, password):
        hidden = self.form("/login", "/login")
        data = dict(hidden, username=user, password=password)
        return self.post("/login", data)


class StaffTest(unittest.TestCase):
    node = None

    @classmethod
    def setUpClass(cls):
        cls.node = Node("staff", county=True, agent=False, staff=True)
        cls.addClassCleanup(cls._finish)
        cls.node.start(NO_LIMITS)
        cls.county = County(cls.node)
        cls.agent = Agent(cls.node)
        cls.addClassCleanup(cls.agent.cleanup)
        cls.env = env = cls.node.run_env()
        cls.user, cls.password = env["STAFF_USER"], env["STAFF_PASSWORD"]
        cls._log_offset = 0
        cls.staff_ini = os.path.join(cls.node.var, "staff", "staff.ini")

    @classmethod
    def _finish(cls):
        """Stops the node, then fails on what the programs logged on their way out
        (LeakSanitizer reports when the workers exit)."""
        node = cls.node
        try:
            node.stop()
            problems = node.new_log_problems()
            path = os.path.join(node.var, "log", "staff-console.log")
            if os.path.exists(path):
                with open(path, "rb") as f:
                    text = f.read().decode("utf-8", "replace")
                problems += ["staff-console: " + line for line in text.splitlines()
                             if SANITIZER.search(line)]
        finally:
            node.cleanup()
        if problems:
            raise AssertionError("problems logged:\n" + "\n".join(problems[:20]))

    def tearDown(self):
        path = os.path.join(self.node.var, "log", "staff-console.log")
        try:
            with open(path, "rb") as f:
                f.seek(type(self)._log_offset)
                text = f.read().decode("utf-8", "replace")
                type(self)._log_offset = f.tell()
        except OSError:
            return
        bad = [line for line in text.splitlines() if SANITIZER.search(line)]
        if bad:
            self.fail("staff-console logged problems:\n" + "\n".join(bad[:20]))

    # ---- helpers ---------------------------------------------------------------------
    def client(self, source=None):
        return Client(self.node.staff_port, source)

    def signed_in(self, user=None, password=None, source=None):
        c = self.client(source)
        r = c.login(user or self.user, password or self.password)
        self.assertEqual(r.status, 303, r.text[:500])
        self.assertEqual(r.getheader("Location"), "/")
        return c

    def add_staff(self, user, county, role, password="correct-horse-battery"):
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
        if p.returncode != 0:
            raise AssertionError("add-user: %s" % p.stdout.decode("utf-8", "replace"))
        return password

    def sync(self):
        self.assertEqual(self.agent.once(), 0, self.agent.log_tail())

    def hall_case(self, **changes):
        """A consultation submitted at the hall and synced to the county: its receipt."""
        receipt = self.node.submit(**changes)
        self.sync()
        self.assertEqual(self.county.count("cases", "case_no = %s" % sql_str(receipt["case_no"])), 1)
        return receipt

    def events(self, case_no):
        return self.county.rows("SELECT status, note, actor FROM case_events WHERE case_no = %s "
                                "AND origin = 'county' ORDER BY seq" % sql_str(case_no))

    def act(self, c, case_no, action, **fields):
        return c.submit("/cases/" + case_no, "/cases/" + case_no, fields, form_id=action)

    def insert_case(self, case_no, hall_code, kind="consultation", subject="测试办件",
                    body="测试内容", due_sql="NOW() + INTERVAL 3 DAY", phone="13800000000",
                    status=None):
        self.county.sql(
            "INSERT INTO cases (case_no, id, hall_code, kind, subject, body, name, phone, "
            "submitted_at, due_at) VALUES (%s, %s, %s, %s, %s, %s, '测试人', %s, "
            "NOW() - INTERVAL 5 DAY, %s)"
            % (sql_str(case_no), sql_str(hall_code + "-T" + case_no[-8:]), sql_str(hall_code),
               sql_str(kind), sql_str(subject), sql_str(body), sql_str(phone), due_sql))
        if status is not None:
            self.county.sql("INSERT INTO case_events (case_no, status, note, actor) VALUES "
                            "(%s, %s, '测试', 'tester')" % (sql_str(case_no), sql_str(status)))

    def working_days_after(self, day, n):
        """'YYYY-MM-DD 23:59:59' of the n-th working day after day ('YYYY-MM-DD'), by the
        county's calendars table as the C parser reads it (build/calendar-due over the
        bodies, apart from the database's own function and its calendar_days)."""
        d = tempfile.mkdtemp(prefix="staff-cal-")
        try:
            for year, body in self.county.rows("SELECT year, body FROM calendars"):
                with open(os.path.join(d, "%s.txt" % year), "wb") as f:
                    f.write(body.encode("utf-8"))
            due, _ = load_calendar(d).due(datetime.date.fromisoformat(str(day)), n)
        finally:
            shutil.rmtree(d)
        return due.isoformat() + " 23:59:59"

    def console_sql(self, sql):
        """(ok, stdout, stderr) of sql run as the console's own database account."""
        path = os.path.join(self.node.var, "county", "client-console.cnf")
        with open(os.path.join(self.node.var, "county", "secrets", "console.pw")) as f:
            pw = f.readline().strip()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write("[client]\nuser=staff_web\npassword=%s\nhost=127.0.0.1\nport=%d\n"
                    "protocol=TCP\n" % (pw, self.node.county_port))
        p = subprocess.run(["mariadb", "--defaults-extra-file=" + path,
                            "--default-character-set=utf8mb4", "-N", "-B", "county"],
                           input=sql.encode("utf-8"), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=30)
        return (p.returncode == 0, p.stdout.decode("utf-8", "replace"),
                p.stderr.decode("utf-8", "replace"))

    def insert_hall(self, code, name, contact_sql="NULL", backlog="NULL", version="NULL"):
        self.county.sql(
            "INSERT IGNORE INTO halls (hall_code, name, county_code, db_user, last_contact_at, "
            "backlog, agent_version) VALUES (%s, %s, %s, %s, %s, %s, %s)"
            % (sql_str(code), sql_str(name), sql_str(code[:6]), sql_str("t_" + code),
               contact_sql, backlog, version))

    # ---- 1. accounts and sign-in -----------------------------------------------------
    def test_pages_need_a_session(self):
        c = self.client()
        for path in ("/", "/cases/" + caseno("430121001000", 1), "/dashboard", "/followups",
                     "/guides", "/calendars", "/inbox.csv"):
            r = c.get(path)
            self.assertEqual(r.status, 303, path)
            self.assertEqual(r.getheader("Location"), "/login", path)
        r = c.get("/login")
        self.assertEqual(r.status, 200)
        self.assertIn('lang="zh-CN"', r.text)
        self.assertIn("工作人员登录", r.text)

    def test_login_success_sets_a_safe_cookie_stored_hashed(self):
        c = self.client()
        r = c.login(self.user, self.password)
        self.assertEqual(r.status, 303, r.text[:300])
        cookie = [v for v in r.headers.get_all("Set-Cookie") if v.startswith("staff_session=")]
        self.assertEqual(len(cookie), 1, r.headers)
        self.assertRegex(cookie[0], r"; HttpOnly")
        self.assertRegex(cookie[0], r"; SameSite=Strict")
        self.assertRegex(cookie[0], r"Path=/")
        self.assertNotIn("Secure", cookie[0])    # plain HTTP on loopback
        token = c.cookies["staff_session"]
        self.assertGreaterEqual(len(token), 43)
        digest = hashlib.sha256(token.encode()).hexdigest()
        self.assertEqual(self.county.count("staff_sessions", "token_hash = %s" % sql_str(digest)), 1)
        self.assertEqual(self.county.count("staff_sessions", "token_hash = %s" % sql_str(token)), 0)
        # the stored password is an Argon2id hash, never the password
        h = self.county.scalar("SELECT pw_hash FROM staff_accounts WHERE username = %s"
                               % sql_str(self.user))
        self.assertTrue(h.startswith("$argon2id$"), h)
        r = c.get("/")
        self.assertEqual(r.status, 200)
        self.assertIn(self.user, r.text)
        self.assertIn("办件", r.text)

    def test_wrong_password_and_unknown_user_look_the_same(self):
        c = self.client()
        r1 = c.login(self.user, "not-the-password")
        r2 = c.login("nobody_here", "not-the-password")
        self.assertEqual(r1.status, 403)
        self.assertEqual(r2.status, 403)
        self.assertIn("用户名或密码错误", r1.text)
        self.assertIn("用户名或密码错误", r2.text)
        self.assertNotIn("staff_session", c.cookies)
        self.assertEqual(c.get("/").status, 303)
        # a success resets the count
        self.signed_in()
        self.assertEqual(self.county.scalar("SELECT failed_logins FROM staff_accounts "
                                            "WHERE username = %s" % sql_str(self.user)), "0")

    def test_lockout_after_five_failures(self):
        pw = self.add_staff("lock_me", "430121", "staff")
        c = self.client("127.0.0.21")
        for i in range(5):
            r = c.login("lock_me", "wrong-%d" % i)
            # the same answer every time: nothing says how many tries are left
            self.assertEqual(r.status, 403, r.text[:300])
            self.assertIn(REFUSED, r.text)
            self.assertNotIn("再错", r.text)
            self.assertIsNone(r.getheader("Retry-After"))
            # locked by the fifth, not before
            self.assertEqual(self.county.scalar(
                "SELECT COALESCE(locked_until > NOW(), 0) FROM staff_accounts "
                "WHERE username = 'lock_me'"), "1" if i == 4 else "0")
        # the right password is refused while locked, with the same answer
        r = c.login("lock_me", pw)
        self.assertEqual(r.status, 403)
        self.assertIn(REFUSED, r.text)
        self.assertNotIn("staff_session", c.cookies)
        # 15 minutes later (moved back in the database) it opens again
        self.county.sql("UPDATE staff_accounts SET locked_until = NOW() - INTERVAL 1 SECOND "
                        "WHERE username = 'lock_me'")
        r = c.login("lock_me", pw)
        self.assertEqual(r.status, 303, r.text[:300])
        self.assertEqual(c.get("/").status, 200)

    def test_login_limit_per_address(self):
        # 20 refused sign-ins from one address, each under another name: the 21st attempt
        # is answered 429 before any password is checked, even a right one
        c = self.client("127.0.0.31")
        for i in range(20):
            r = c.login("guess_%02d" % i, "not-a-password")
            self.assertEqual(r.status, 403, "attempt %d: %s" % (i + 1, r.text[:300]))
        self.assertEqual(self.county.count("staff_login_failures", "remote = '127.0.0.31'"), 20)
        r = c.login(self.user, self.password)
        self.assertEqual(r.status, 429, r.text[:300])
        self.assertIn("登录失败次数过多", r.text)
        self.assertIn('lang="zh-CN"', r.text)
        retry = int(r.getheader("Retry-After"))
        self.assertGreater(retry, 500)
        self.assertLessEqual(retry, 601)
        self.assertNotIn("staff_session", c.cookies)
        r = c.login("guess_99", "not-a-password")
        self.assertEqual(r.status, 429)
        # nothing more is counted while it is stopped
        self.assertEqual(self.county.count("staff_login_failures", "remote = '127.0.0.31'"), 20)
        # another address is not stopped
        self.signed_in(source="127.0.0.32")
        # ten minutes later (moved back in the database) the address may try again
        self.county.sql("UPDATE staff_login_failures SET at = at - INTERVAL 10 MINUTE "
                        "WHERE remote = '127.0.0.31'")
        r = c.login(self.user, self.password)
        self.assertEqual(r.status, 303, r.text[:300])

    def test_refusals_look_the_same(self):
        """An unknown name, a wrong password and a locked account (with its right password)
        get the same status, the same page and about the same time."""
        real = self.add_staff("same_real", "430121", "staff")
        locked = self.add_staff("same_locked", "430121", "staff")
        locker = self.client("127.0.0.42")
        for i in range(5):
            self.assertEqual(locker.login("same_locked", "wrong-%d" % i).status, 403)
        self.assertEqual(self.county.scalar("SELECT locked_until > NOW() FROM staff_accounts "
                                            "WHERE username = 'same_locked'"), "1")
        tries = {"unknown": ("same_nobody", real), "wrong": ("same_real", "wrong-password"),
                 "locked": ("same_locked", locked)}
        c = self.client("127.0.0.41")
        pages, took = {}, {k: [] for k in tries}
        for _ in range(4):
            for kind, (user, pw) in tries.items():
                hidden = c.form("/login", "/login")
                t0 = time.monotonic()
                r = c.post("/login", dict(hidden, username=user, password=pw))
                took[kind].append(time.monotonic() - t0)
                self.assertEqual(r.status, 403, "%s: %s" % (kind, r.text[:300]))
                self.assertIsNone(r.getheader("Retry-After"), kind)
                self.assertNotIn("staff_session", c.cookies)
                # the page but for the name typed in and the fresh form token
                page = re.sub(r'name="csrf" value="[^"]*"', "", r.text)
                pages[kind] = page.replace('value="%s"' % user, 'value=""')
        self.assertIn(REFUSED, pages["wrong"])
        self.assertEqual(pages["unknown"], pages["wrong"])
        self.assertEqual(pages["locked"], pages["wrong"])
        # each costs one Argon2id verification: no answer comes back much sooner or later
        # (the best of four, against the same for a wrong password)
        base = min(took["wrong"])
        for kind in ("unknown", "locked"):
            self.assertGreater(min(took[kind]), base * 0.5, "%s: %r" % (kind, took))
            self.assertLess(min(took[kind]), base * 2.0, "%s: %r" % (kind, took))
        # the wrong passwords counted for the account, not past its lockout
        self.assertEqual(self.county.scalar("SELECT failed_logins FROM staff_accounts "
                                            "WHERE username = 'same_real'"), "4")
        self.assertEqual(self.county.count("staff_login_failures", "remote = '127.0.0.41'"), 12)

    def test_login_needs_its_csrf_token(self):
        c = self.client()
        c.get("/login")
        r = c.post("/login", {"username": self.user, "password": self.password})
        self.assertEqual(r.status, 403)
        r = c.post("/login", {"username": self.user, "password": self.password,
                              "csrf": "1.AAAAAAAAAAAAAAAAAAAAAA"})
        self.assertEqual(r.status, 403)
        self.assertNotIn("staff_session", c.cookies)

    def test_logout_ends_the_session(self):
        c = self.signed_in()
        token = c.cookies["staff_session"]
        hidden = c.form("/", "/logout")
        r = c.post("/logout", hidden)
        self.assertEqual(r.status, 303)
        self.assertEqual(r.getheader("Location"), "/login")
        self.assertNotIn("staff_session", c.cookies)
        digest = hashlib.sha256(token.encode()).hexdigest()
        self.assertEqual(self.county.count("staff_sessions", "token_hash = %s" % sql_str(digest)), 0)
        # the old token is worth nothing now
        c.cookies["staff_session"] = token
        self.assertEqual(c.get("/").status, 303)

    def test_expired_session_is_refused(self):
        c = self.signed_in()
        digest = hashlib.sha256(c.cookies["staff_session"].encode()).hexdigest()
        self.county.sql("UPDATE staff_sessions SET expires_at = NOW() - INTERVAL 1 SECOND "
                        "WHERE token_hash = %s" % sql_str(digest))
        self.assertEqual(c.get("/").status, 303)
        c2 = self.signed_in()
        digest = hashlib.sha256(c2.cookies["staff_session"].encode()).hexdigest()
        self.county.sql("UPDATE staff_sessions SET last_seen_at = NOW() - INTERVAL 2 HOUR "
                        "WHERE token_hash = %s" % sql_str(digest))
        self.assertEqual(c2.get("/").status, 303, "an idle session must end")

    def test_admin_manages_the_countys_accounts(self):
        admin = self.signed_in()
        fields = {"username": "new_clerk", "display_name": "王五", "role": "staff",
                  "password": "short"}
        r = admin.submit("/accounts", "/accounts", fields)
        self.assertEqual(r.status, 422)
        r = admin.submit("/accounts", "/accounts", dict(fields, password="long-enough-pw"))
        self.assertEqual(r.status, 303, r.text[:300])
        r = admin.submit("/accounts", "/accounts", dict(fields, password="long-enough-pw"))
        self.assertEqual(r.status, 409)
        self.assertEqual(self.county.rows("SELECT county_code, role, display_name FROM "
                                          "staff_accounts WHERE username = 'new_clerk'"),
                         [("430121", "staff", "王五")])
        clerk = self.signed_in("new_clerk", "long-enough-pw")
        self.assertEqual(clerk.get("/accounts").status, 403)
        self.assertNotIn('href="/accounts"', clerk.get("/").text)
        # locked by wrong passwords, unlocked by the admin
        other = self.client("127.0.0.22")
        for i in range(5):
            other.login("new_clerk", "wrong-%d" % i)
        self.assertEqual(other.login("new_clerk", "long-enough-pw").status, 403)
        page = admin.get("/accounts").text
        self.assertRegex(page, r'data-user="new_clerk">.*?已锁定')
        r = admin.submit("/accounts", "/accounts/new_clerk", {}, form_id="unlock")
        self.assertEqual(r.status, 303, r.text[:300])
        self.assertEqual(other.login("new_clerk", "long-enough-pw").status, 303)
        # disabled: its sessions end at once and it cannot sign in
        r = admin.submit("/accounts", "/accounts/new_clerk", {}, form_id="disable")
        self.assertEqual(r.status, 303, r.text[:300])
        self.assertEqual(clerk.get("/").status, 303)
        self.assertEqual(other.get("/").status, 303)
        self.assertEqual(self.client().login("new_clerk", "long-enough-pw").status, 403)
        r = admin.submit("/accounts", "/accounts/new_clerk", {}, form_id="enable")
        self.assertEqual(r.status, 303)
        self.assertEqual(self.client().login("new_clerk", "long-enough-pw").status, 303)
        # another county's admin cannot touch it; nobody disables themselves
        pw = self.add_staff("admin122", "430122", "admin")
        a122 = self.signed_in("admin122", pw)
        self.assertNotIn("new_clerk", a122.get("/accounts").text)
        hidden = a122.form("/accounts", "/logout")
        r = a122.post("/accounts/new_clerk", dict(hidden, action="disable"))
        self.assertEqual(r.status, 404)
        r = a122.post("/accounts/admin122", dict(hidden, action="disable"))
        self.assertEqual(r.status, 409)
        self.assertEqual(self.county.scalar("SELECT disabled FROM staff_accounts "
                                            "WHERE username = 'new_clerk'"), "0")

    # ---- CSRF --------------------------------------------------------------------------
    def test_actions_refuse_missing_or_foreign_csrf(self):
        receipt = self.hall_case(subject="CSRF 测试")
        no = receipt["case_no"]
        a, b = self.signed_in(), self.signed_in()
        hidden_b = b.form("/cases/" + no, "/cases/" + no)
        r = a.post("/cases/" + no, {"action": "answer", "note": "无令牌"})
        self.assertEqual(r.status, 403)
        # a token of another session (same account) is refused too
        r = a.post("/cases/" + no, dict(hidden_b, action="answer", note="他人令牌"))
        self.assertEqual(r.status, 403)
        r = a.post("/cases/" + no, dict(hidden_b, csrf="garbage", note="坏令牌"))
        self.assertEqual(r.status, 403)
        self.assertEqual(self.events(no), [])
        # logout without a token does nothing
        r = a.post("/logout", {})
        self.assertEqual(r.status, 403)
        self.assertEqual(a.get("/").status, 200)

    # ---- 2. county scoping and the inbox ---------------------------------------------
    def test_another_countys_case_is_refused(self):
        other = caseno("430122001000", 424242)
        self.insert_hall("430122001000", "邻县某大厅")
        self.insert_case(other, "430122001000", subject="邻县的办件 NEIGHBOUR")
        c = self.signed_in()
        r = c.get("/cases/" + other)
        self.assertEqual(r.status, 404)
        self.assertNotIn("NEIGHBOUR", r.text)
        # an action with a good token of this session, on the other county's case
        own = self.hall_case(subject="本县办件")["case_no"]
        hidden = c.form("/cases/" + own, "/cases/" + own)
        r = c.post("/cases/" + other, dict(hidden, action="answer", note="越权答复", seq=""))
        self.assertEqual(r.status, 404)
        self.assertEqual(self.events(other), [])
        for q in ("NEIGHBOUR", other, "邻县"):
            r = c.get("/?q=" + urllib.parse.quote(q))
            self.assertEqual(r.status, 200)
            self.assertNotIn("/cases/" + other, r.text)
            self.assertNotIn("邻县的办件", r.text)
            self.assertIn('<b id="total">0</b>', r.text)
        r = c.get("/?hall=430122001000")
        self.assertIn('<b id="total">0</b>', r.text)
        r = c.get("/inbox.csv")
        self.assertNotIn("NEIGHBOUR", r.text)
        # and the neighbour's staff see it, but not ours
        pw = self.add_staff("neighbour", "430122", "staff")
        n = self.signed_in("neighbour", pw)
        self.assertEqual(n.get("/cases/" + other).status, 200)
        self.assertEqual(n.get("/cases/" + own).status, 404)

    def test_inbox_filters_search_order_and_pages(self):
        hall_a, hall_b = "430188001000", "430188002000"
        self.insert_hall(hall_a, "甲大厅")
        self.insert_hall(hall_b, "乙大厅")
        late = caseno(hall_a, 1001)
        today = caseno(hall_a, 1002)
        later = caseno(hall_a, 1003)
        done = caseno(hall_b, 1004)
        comp = caseno(hall_b, 1005)
        self.insert_case(later, hall_a, subject="以后到期", due_sql="NOW() + INTERVAL 5 DAY")
        self.insert_case(late, hall_a, subject="已经超期", due_sql="NOW() - INTERVAL 1 DAY")
        # due tonight: a warning (unless the test runs in the day's last seconds)
        self.insert_case(today, hall_a, subject="今天到期",
                         due_sql="TIMESTAMP(CURDATE(), '23:59:59')")
        self.insert_case(done, hall_b, subject="已经答复", due_sql="NOW() - INTERVAL 2 DAY",
                         status="answered")
        self.insert_case(comp, hall_b, kind="complaint", subject="窗口投诉 100%_特殊",
                         body="正文里有关键词：排队太久", due_sql="NOW() + INTERVAL 2 DAY")
        pw = self.add_staff("inbox188", "430188", "staff")
        c = self.signed_in("inbox188", pw)

        def listed(query=""):
            r = c.get("/" + query)
            self.assertEqual(r.status, 200, r.text[:300])
            return re.findall(r'<a href="/cases/([0-9A-Z]+)">', r.text), r.text

        nos, text = listed()
        # overdue first, then open by deadline, the closed last
        self.assertEqual(nos, [late, today, comp, later, done])
        self.assertIn('<b id="total">5</b>', text)
        self.assertIn('<b id="overdue">1</b>', text)
        self.assertIn('<b id="warning">1</b>', text)
        self.assertEqual(listed("?overdue=1")[0], [late])
        self.assertEqual(listed("?warning=1")[0], [today])
        self.assertEqual(listed("?kind=complaint")[0], [comp])
        self.assertEqual(listed("?status=answered")[0], [done])
        self.assertEqual(listed("?status=open")[0], [late, today, comp, later])
        self.assertEqual(listed("?hall=" + hall_b)[0], [comp, done])
        self.assertEqual(listed("?q=" + urllib.parse.quote("排队"))[0], [comp])
        self.assertEqual(listed("?q=" + urllib.parse.quote("100%_"))[0], [comp])
        self.assertEqual(listed("?q=" + urllib.parse.quote("%"))[0], [comp],
                         "a % in the search is a character, not a wildcard")
        self.assertEqual(listed("?q=" + late[-8:])[0], [late])
        self.assertEqual(listed("?q=" + late.lower())[0], [late])
        grouped = " ".join(late[i:i + 4] for i in range(0, len(late), 4))
        self.assertEqual(listed("?q=" + urllib.parse.quote(grouped))[0], [late],
                         "a number copied from the page, in groups of four")
        self.assertEqual(listed("?kind=complaint&overdue=1")[0], [])
        # garbage filters are ignored, not trusted
        self.assertEqual(len(listed("?kind=%27%20OR%201%3D1&status=x&hall=abc&page=-3")[0]), 5)
        # the CSV has the same rows, the header and a BOM
        r = c.get("/inbox.csv?status=open")
        self.assertEqual(r.status, 200)
        self.assertTrue(r.getheader("Content-Type").startswith("text/csv"))
        self.assertIn("attachment", r.getheader("Content-Disposition"))
        self.assertTrue(r.body.startswith(b"\xef\xbb\xbf"))
        lines = r.text.lstrip("\ufeff").strip().split("\r\n")
        self.assertEqual(len(lines), 5)
        self.assertIn(late, lines[1])

        # pages of 30
        for i in range(31):
            self.insert_case(caseno(hall_a, 2000 + i), hall_a, subject="批量 %d" % i,
                             due_sql="NOW() + INTERVAL 10 DAY")
        nos, text = listed("?hall=" + hall_a)
        self.assertEqual(len(nos), 30)
        self.assertIn("第 1 / 2 页", text)
        self.assertIn('rel="next"', text)
        # the next page by the link the page gives (keyset: the last row's key)
        nxt = re.search(r'<a href="/(\?[^"]*)" rel="next">', text).group(1).replace("&amp;", "&")
        self.assertIn("after=", nxt)
        nos2, text = listed(nxt)
        self.assertEqual(len(nos2), 4)
        self.assertFalse(set(nos) & set(nos2))
        self.assertIn("第 2 / 2 页", text)
        prev = re.search(r'<a href="/(\?[^"]*)" rel="prev">', text).group(1).replace("&amp;", "&")
        self.assertEqual(listed(prev)[0], nos)

    # ---- 2b. the inbox at scale (issue 15): keyset pages, search, filters, streamed CSV ---
    def scale_county(self, county, n, subject_sql="CONCAT('批量办件 ', s.seq)", body_sql="'内容'",
                     hall_suffix="001000"):
        """n cases of a county of their own, made in one statement (migration 019's trigger
        gives each its search tokens); their hall code."""
        hall = county + hall_suffix
        self.insert_hall(hall, "规模测试大厅")
        self.county.sql(
            "INSERT INTO cases (case_no, id, hall_code, kind, subject, body, name, phone, "
            "submitted_at, due_at, status) SELECT CONCAT(%s, LPAD(s.seq, 11, '0')), "
            "CONCAT(%s, '-S', s.seq), %s, IF(s.seq %% 3 = 0, 'complaint', 'consultation'), "
            "%s, %s, '测试人', '13800000000', NOW() - INTERVAL 5 DAY, "
            "NOW() + INTERVAL (CAST(s.seq %% 7 AS SIGNED) - 2) DAY, ELT(1 + s.seq %% 4, 'delivered', "
            "'accepted', 'answered', 'resolved') FROM seq_1_to_%d s"
            % (sql_str(hall), sql_str(hall), sql_str(hall), subject_sql, body_sql, n),
            timeout=300)
        return hall

    def csv_nos(self, c, query):
        r = c.get("/inbox.csv" + query)
        self.assertEqual(r.status, 200, r.text[:300])
        lines = r.text.lstrip("\ufeff").strip().split("\r\n")[1:]
        return [line.split(",", 1)[0].strip('"') for line in lines if line]

    def walk(self, c, query, between=None):
        """Every case number of a list, page by page through the "next" links."""
        path, seen, pages = "/" + query, [], 0
        while True:
            r = c.get(path)
            self.assertEqual(r.status, 200, r.text[:300])
            seen += re.findall(r'<a href="/cases/([0-9A-Z]+)">', r.text)
            pages += 1
            m = re.search(r'<a href="(/\?[^"]*)" rel="next">', r.text)
            if not m:
                return seen, pages
            path = m.group(1).replace("&amp;", "&")
            self.assertIn("after=", path)
            if between:
                between(pages)

    def test_inbox_keyset_pages_while_cases_arrive(self):
        county = "430176"
        hall = self.scale_county(county, 100)
        pw = self.add_staff("scale176", county, "staff")
        c = self.signed_in("scale176", pw)
        before = set(self.csv_nos(c, ""))
        self.assertEqual(len(before), 100)
        arrived = []

        def arrive(page):
            # a case more urgent than every listed one, and one less urgent, on every page
            for due in ("NOW() - INTERVAL 30 DAY", "NOW() + INTERVAL 30 DAY"):
                no = "%s9%010d" % (hall, len(arrived))
                self.insert_case(no, hall, subject="新来的", due_sql=due)
                arrived.append(no)

        seen, pages = self.walk(c, "", arrive)
        self.assertGreaterEqual(pages, 4)
        self.assertEqual(len(seen), len(set(seen)), "a case listed twice across pages")
        self.assertEqual(before - set(seen), set(), "a case skipped across pages")
        # a new one less urgent than the page being read comes in its place
        self.assertIn(arrived[1], seen)
        # the order is the inbox's: overdue, open by deadline, closed; numbers break ties
        rows = dict(self.county.rows(
            "SELECT case_no, CONCAT(closed, DATE_FORMAT(due_at, '%%Y%%m%%d%%H%%i%%s'), case_no) "
            "FROM cases WHERE handler_county = %s" % sql_str(county)))
        keys = [rows[n] for n in seen]
        self.assertEqual(keys, sorted(keys))
        # a key from a link that was tampered with is no key: the first page
        r = c.get("/?after=9.x.%27&page=7")
        self.assertEqual(r.status, 200)
        self.assertRegex(r.text, "第 1 (/ \\d+ )?页")

    def test_inbox_search_finds_what_like_found(self):
        county = "430178"
        texts = ["县城路灯ABC-12坏了", "养老保险缴费档次", "100%_特殊 路灯", "abc-123 查询",
                 "险情", "灯", "宅基地审批进度", "Ａ全角", "路 灯 分开"]
        hall = self.scale_county(
            county, 90, subject_sql="ELT(1 + s.seq %% 9, %s)" % ",".join(sql_str(t) for t in texts),
            body_sql="IF(s.seq % 10 = 0, '正文提到养老金和路灯', '正文')")
        pw = self.add_staff("scale178", county, "staff")
        c = self.signed_in("scale178", pw)
        for q in ("路灯", "ABC-12", "abc-1", "灯", "险", "a", "%", "100%_", "12坏", "养老",
                  "保险缴费", "不存在的词", "路 灯", "审批进度", "c-123 查"):
            like = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            want = {r[0] for r in self.county.rows(
                "SELECT case_no FROM cases WHERE handler_county = %s AND (case_no LIKE %s OR "
                "subject LIKE %s OR body LIKE %s)" % (sql_str(county), sql_str(like),
                                                       sql_str(like), sql_str(like)))}
            got = self.csv_nos(c, "?q=" + urllib.parse.quote(q))
            self.assertEqual(set(got), want, "search %r" % q)
            self.assertEqual(len(got), len(set(got)))
            if len(want) <= 30:
                page, _ = self.walk(c, "?q=" + urllib.parse.quote(q))
                self.assertEqual(set(page), want, "search %r, the page" % q)
        # a case number, whole or a part of it
        no = hall + "00000000042"
        self.assertEqual(self.csv_nos(c, "?q=" + no[-9:]), [no])
        self.assertEqual(self.csv_nos(c, "?q=" + no.lower()), [no])

    def test_migration_026_writes_every_cases_tokens_again(self):
        """A county upgraded from 019's tokens (the hex of UTF-8) to 026's (the hex of
        UTF-32): until the migration rewrites them the FULLTEXT index cannot find those
        cases (the console's search falls back on it past its first rows); after it, it
        finds them, and every case holds case_grams' tokens."""
        hall = self.scale_county("430177", 30, subject_sql="CONCAT('旧版索引路灯', s.seq)")

        def found():
            return int(self.county.scalar(
                "SELECT COUNT(*) FROM case_search WHERE MATCH (grams) AGAINST "
                "(search_query('索引路灯') IN BOOLEAN MODE)"))
        self.assertEqual(found(), 30)

        def old_grams(text):  # sql/county/019's search_grams, in Python
            t = text.lower()
            g = ["x" + t[i:i + 2].encode("utf-8").hex().upper() for i in range(len(t) - 1)]
            return " ".join(g + ["x" + t[-1:].encode("utf-8").hex().upper()] if t else [])
        rows = self.county.rows("SELECT case_no, subject, body FROM cases WHERE hall_code = %s"
                                % sql_str(hall))
        self.county.sql("REPLACE INTO case_search (case_no, grams) VALUES " + ",".join(
            "(%s, %s)" % (sql_str(no), sql_str(" ".join(old_grams(x) for x in (no, subj, body))))
            for no, subj, body in rows))
        self.assertEqual(found(), 0, "the old tokens answered the new queries")
        self.county.sql("DELETE FROM schema_migrations WHERE version = 26")
        p = subprocess.run([os.path.join(ROOT, BUILD, "county-admin"), "-c",
                            os.path.join(self.node.var, "county", "county.ini"), "migrate"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
        self.assertEqual(p.returncode, 0, p.stdout.decode("utf-8", "replace"))
        self.assertEqual(found(), 30)
        self.assertEqual(self.county.scalar(
            "SELECT COUNT(*) FROM cases c LEFT JOIN case_search s ON s.case_no = c.case_no "
            "WHERE NOT s.grams <=> case_grams(c.case_no, c.subject, c.body)"), "0")

    def test_inbox_filters_combined_and_csv_streams_every_row(self):
        county = "430179"
        hall = self.scale_county(county, 10500,
                                 subject_sql="IF(s.seq % 5 = 0, '路灯不亮', '其他事项')")
        pw = self.add_staff("scale179", county, "staff")
        c = self.signed_in("scale179", pw)
        nos = self.csv_nos(c, "")
        self.assertEqual(len(nos), 10500, "the CSV has every row, past any cap")
        self.assertEqual(len(set(nos)), 10500)
        r = c.get("/")
        self.assertIn('<b id="total">1000+</b>', r.text)
        self.assertIn("第 1 页", r.text)
        for query, where in (
                ("?kind=complaint&status=resolved",
                 "kind = 'complaint' AND status = 'resolved'"),
                ("?kind=consultation&status=open&q=" + urllib.parse.quote("路灯"),
                 "kind = 'consultation' AND status NOT IN ('answered', 'resolved', 'rejected') "
                 "AND subject LIKE '%路灯%'"),
                ("?status=accepted&overdue=1&hall=" + hall,
                 "status = 'accepted' AND due_at < NOW()"),
                ("?status=answered&overdue=1", "FALSE")):
            want = {r[0] for r in self.county.rows(
                "SELECT case_no FROM cases WHERE handler_county = %s AND %s"
                % (sql_str(county), where))}
            self.assertEqual(set(self.csv_nos(c, query)), want, query)
            r = c.get("/" + query)
            total = re.search(r'<b id="total">([^<]*)</b>', r.text).group(1)
            # exact, or "n+" when the rows the count read (bounded) were not all: a lower
            # bound, never more than there are
            if total.endswith("+"):
                self.assertLessEqual(int(total[:-1]), min(len(want), 1000), query)
            else:
                self.assertEqual(total, str(len(want)), query)

        # A sparse filter: no page reads more than a few thousand rows (fcgi/staff/inbox.c,
        # INBOX_SCAN_CAP); it shows what it found and a link on from where it stopped, and
        # the links, followed, list every match once, in order.
        def last(n):
            return [r[0] for r in self.county.rows(
                "SELECT case_no FROM cases WHERE handler_county = %s ORDER BY closed DESC, "
                "due_at DESC, case_no DESC LIMIT %d" % (sql_str(county), n))]
        rare = last(3)
        self.county.sql("UPDATE cases SET channel = 'letter' WHERE case_no IN (%s)"
                        % ",".join(sql_str(x) for x in rare))
        query = "?hall=%s&channel=letter" % hall
        r = c.get("/" + query)
        self.assertEqual(r.status, 200)
        self.assertIn('id="stopped"', r.text)
        self.assertRegex(r.text, '<b id="total">[0-9]+\\+</b>', "a lower bound, not a count")
        seen, pages = self.walk(c, query)
        self.assertEqual(sorted(seen), sorted(rare))
        self.assertEqual(seen, rare[::-1], "the inbox's order")
        self.assertGreaterEqual(pages, 2)
        # a rare word whose every token is common: FULLTEXT is not asked (it would read two
        # long lists); the pages walk, say so, and link on until they have found it all;
        # the CSV has it all at once
        first = [r[0] for r in self.county.rows(
            "SELECT case_no FROM cases WHERE handler_county = %s ORDER BY closed, due_at, "
            "case_no LIMIT 2000" % sql_str(county))]
        for half, text in ((first[0::2], "甲乙"), (first[1::2], "乙丙")):
            self.county.sql("UPDATE cases SET body = %s WHERE case_no IN (%s)"
                            % (sql_str(text), ",".join(sql_str(x) for x in half)), timeout=300)
        self.county.sql("UPDATE cases SET body = '甲乙丙' WHERE case_no IN (%s)"
                        % ",".join(sql_str(x) for x in rare))
        query = "?q=" + urllib.parse.quote("甲乙丙")
        r = c.get("/" + query)
        self.assertIn('id="stopped"', r.text)
        self.assertIn("很常见", r.text)
        seen, pages = self.walk(c, query)
        self.assertEqual(seen, rare[::-1])
        self.assertGreaterEqual(pages, 3)
        self.assertEqual(self.csv_nos(c, query), rare[::-1])
        # a rare word, at the list's end: FULLTEXT finds it, exactly
        self.county.sql("UPDATE cases SET body = '罕见的词：鸭嘴兽' WHERE case_no IN (%s)"
                        % ",".join(sql_str(x) for x in rare))
        r = c.get("/?q=" + urllib.parse.quote("鸭嘴兽"))
        self.assertIn('<b id="total">3</b>', r.text)
        self.assertEqual(re.findall(r'<a href="/cases/([0-9A-Z]+)">', r.text), rare[::-1])
        self.assertNotIn('id="many"', r.text)
        # a word in more cases than FULLTEXT's candidates are read, all past the walk's
        # reach: what was found, with the note; the CSV has every one
        many = last(4100)
        self.county.sql("UPDATE cases SET body = '较多的词：穿山甲' WHERE case_no IN (%s)"
                        % ",".join(sql_str(x) for x in many), timeout=300)
        r = c.get("/?q=" + urllib.parse.quote("穿山甲"))
        self.assertIn('id="many"', r.text)
        self.assertRegex(r.text, '<b id="total">[0-9]+\\+</b>')
        shown = re.findall(r'<a href="/cases/([0-9A-Z]+)">', r.text)
        self.assertEqual(len(shown), 30)
        self.assertTrue(set(shown) <= set(many))
        self.assertEqual(set(self.csv_nos(c, "?q=" + urllib.parse.quote("穿山甲"))), set(many))

    # ---- 3. the case page and the actions ----------------------------------------------
    def test_case_page_full_record_escaped(self):
        receipt = self.hall_case(subject="<script>alert(1)</script> 标题",
                                 body="内容 <b>粗</b> & \"引号\"", name="李四",
                                 phone="13912345678", email="lisi@example.cn")
        no = receipt["case_no"]
        c = self.signed_in()
        r = c.get("/cases/" + no)
        self.assertEqual(r.status, 200)
        t = r.text
        self.assertIn("13912345678", t)      # the full phone number, not masked
        self.assertIn("李四", t)
        self.assertIn("lisi@example.cn", t)
        self.assertNotIn("<script>alert(1)", t)
        self.assertIn("&lt;script&gt;alert(1)&lt;/script&gt; 标题", t)
        self.assertIn("内容 &lt;b&gt;粗&lt;/b&gt; &amp; &quot;引号&quot;", t)
        self.assertIn("已送达县级", t)
        for action in ("accept", "answer", "transfer", "reject", "resolve"):
            self.assertIn('value="%s"' % action, t)
        # a wrong check character (one the number does not end with: 1 in 31 ends with X)
        self.assertEqual(c.get("/cases/" + no[:-1] + ("X" if no[-1] != "X" else "Y")).status, 404)
        self.assertEqual(c.get("/cases/nonsense").status, 404)

    def lookup(self, receipt):
        r = self.node.lookup(receipt["case_no"], receipt["query_code"])
        self.assertEqual(r.status, 200, r)
        return r.json()

    def test_answer_reaches_the_hall(self):
        receipt = self.hall_case(subject="养老保险缴费档次")
        no = receipt["case_no"]
        c = self.signed_in()
        # an answer needs its text: refused, nothing written
        r = self.act(c, no, "answer", note="  ")
        self.assertEqual(r.status, 422)
        self.assertIn("请填写答复内容", r.text)
        self.assertEqual(self.events(no), [])
        r = self.act(c, no, "answer", note="每年 200 元至 3000 元共 14 档。")
        self.assertEqual(r.status, 303, r.text[:500])
        self.assertEqual(r.getheader("Location"), "/cases/%s?done=answer" % no)
        self.assertEqual(self.events(no), [("answered", "每年 200 元至 3000 元共 14 档。", self.user)])
        self.assertEqual(self.county.scalar("SELECT status FROM cases WHERE case_no = %s"
                                            % sql_str(no)), "answered")
        page = c.get(r.getheader("Location"))
        self.assertIn("答复已保存", page.text)
        self.assertIn("已答复", page.text)
        self.sync()
        doc = self.lookup(receipt)
        self.assertEqual(doc["status"], "answered")
        self.assertEqual(doc["reply"]["text"], "每年 200 元至 3000 元共 14 档。")

    def test_an_action_that_loses_a_deadlock_runs_again(self):
        """Galera reports a certification conflict as a deadlock (1213), which rolls the
        whole transaction back; so does InnoDB's deadlock detector, which this makes for
        real on one server: a session holds the end of audit_log (a next-key lock past its
        last row), the console's accept locks the case and then waits to write its audit
        row, and the session asks for the case: a cycle. The session has written more, so
        the console's transaction is the one rolled back. It must run again, once the
        session lets go, and do the action once: no 503, one event, one audit row."""
        receipt = self.hall_case(subject="死锁重试")
        no = receipt["case_no"]
        c = self.signed_in()
        page = c.get("/cases/" + no)  # the form, and its view audited, before the locks
        self.assertEqual(page.status, 200)
        data = None
        for f in parse_forms(page.text):
            if f["action"] == "/cases/" + no and f["hidden"].get("action") == "accept":
                data = dict(f["hidden"], note="")
        self.assertIsNotNone(data, "no accept form")
        t = self.holder_of_audit_end()
        # the cycle: the console is rolled back, this session gets the case
        r, log = self.deadlocked(t, lambda: c.post("/cases/" + no, data),
                                 "SELECT case_no FROM cases WHERE case_no = %s FOR UPDATE"
                                 % sql_str(no), "to accept")
        self.assertEqual(r.status, 303, r.text[:300])
        self.assertIn("lost a conflict", log)
        self.assertEqual(self.events(no), [("accepted", None, self.user)])
        self.assertEqual(self.county.scalar(
            "SELECT COUNT(*) FROM audit_log WHERE case_no = %s AND action = 'accept'"
            % sql_str(no)), "1")

    # ---- a deadlock lost: the helpers of the test above, the sign-in, a schedule -------
    def deadlocks(self):
        return int(self.county.rows("SHOW GLOBAL STATUS LIKE 'Innodb_deadlocks'")[0][1])

    def console_waits(self, th, what):
        """Until a transaction waits for a lock (the console's: the test session holds its
        locks and waits for none); False when the console answered first."""
        deadline = time.monotonic() + 20
        while int(self.county.scalar("SELECT COUNT(*) FROM information_schema.INNODB_TRX "
                                     "WHERE trx_state = 'LOCK WAIT'")) == 0:
            if not th.is_alive():
                return False
            self.assertLess(time.monotonic(), deadline, "the console never waited " + what)
            time.sleep(0.05)
        return True

    def holder_of_audit_end(self):
        """A session that holds the end of audit_log (a next-key lock past its last row)
        and has written 300 rows, so that InnoDB rolls back the console's transaction
        rather than this one when the two close a cycle."""
        t = self.county.session()
        self.addCleanup(t.close)
        t.run("BEGIN; INSERT INTO audit_log (county_code, account, address, action) "
              "SELECT '430121', 'deadlock-test', 'local', 'test' FROM seq_1_to_300; "
              "SELECT COUNT(*) FROM audit_log WHERE id >= (SELECT MAX(id) FROM audit_log) "
              "FOR UPDATE")
        return t

    def console_log_size(self):
        return os.path.getsize(os.path.join(self.node.var, "log", "staff-console.log"))

    def console_log_since(self, offset):
        with open(os.path.join(self.node.var, "log", "staff-console.log"), "rb") as f:
            f.seek(offset)
            return f.read().decode("utf-8", "replace")

    def deadlocked(self, t, post, cycle_sql, what):
        """Runs post on a thread while t holds the end of audit_log: once the console's
        transaction waits there (holding its own rows), t asks with cycle_sql for a row
        the console holds, which closes the cycle; InnoDB rolls the console back. Its
        second run then waits for t's rows; t lets go. Returns the console's answer and what
        it logged meanwhile."""
        answer = {}
        deadlocks, log = self.deadlocks(), self.console_log_size()

        def run():
            answer["r"] = post()
        th = threading.Thread(target=run)
        th.start()

        def release():  # on a failure: t lets go first, so that the console can answer
            t.close()
            th.join(30)
        self.addCleanup(release)
        self.assertTrue(self.console_waits(th, "at the audit row " + what),
                        "the console answered without waiting: %s"
                        % (answer["r"].status if "r" in answer else "-"))
        t.run(cycle_sql)
        self.assertEqual(self.deadlocks(), deadlocks + 1, "no deadlock was made")
        # the console's second run waits for the row t now holds (or it gave up)
        self.console_waits(th, "again after the deadlock")
        t.run("ROLLBACK")
        th.join(30)
        self.assertFalse(th.is_alive(), "the console never answered")
        return answer["r"], self.console_log_since(log)

    def test_a_sign_in_that_loses_a_deadlock_runs_again(self):
        """The sign-in's transaction locks the account's row (failed_logins,
        last_login_at), inserts the session, then waits for its audit row at the end of
        audit_log, which the test session holds; the session then asks for the account's
        row. The console is the victim and signs in again from the start: 303, a cookie
        that works, one session row and one signin audit row."""
        user = "deadlock_signin"
        pw = self.add_staff(user, "430121", "staff")
        account = self.county.scalar("SELECT id FROM staff_accounts WHERE username = %s"
                                     % sql_str(user))
        c = self.client()
        data = dict(c.form("/login", "/login"), username=user, password=pw)
        t = self.holder_of_audit_end()
        r, log = self.deadlocked(t, lambda: c.post("/login", data),
                                 "SELECT id FROM staff_accounts WHERE id = %s FOR UPDATE" % account,
                                 "to sign in")
        self.assertEqual(r.status, 303, r.text[:300])
        self.assertEqual(r.getheader("Location"), "/")
        self.assertIn("lost a conflict", log)
        self.assertEqual(self.county.count("staff_sessions", "account_id = %s" % account), 1)
        digest = hashlib.sha256(c.cookies["staff_session"].encode()).hexdigest()
        self.assertEqual(self.county.count("staff_sessions", "token_hash = %s AND account_id = %s"
                                           % (sql_str(digest), account)), 1)
        self.assertEqual(self.county.count("audit_log", "account = %s AND action = 'signin'"
                                           % sql_str(user)), 1)
        page = c.get("/")
        self.assertEqual(page.status, 200)
        self.assertIn(user, page.text)

    def test_a_schedule_publication_that_loses_a_deadlock_runs_again(self):
        """The publication's transaction replaces the hall's items, slots and closed days,
        and schedule_publish locks and writes the hall's appointment_schedules row (and a
        downlink row by its trigger); then its audit row waits at the end of audit_log,
        which the test session holds, and the session asks for the schedule's row. The
        console is the victim and publishes again from the start: 303, one new version
        with the new items, one more downlink row and one more audit row."""
        hall = "430121009000"
        self.insert_hall(hall, "死锁测试便民服务中心")
        c = self.signed_in()
        path = "/schedules/" + hall
        r = c.submit(path, path, {"items": "old | 旧事项 | - | 一楼\n",
                                  "slots": "old | 1 | 09:00-09:30 | 5\n", "closed": ""})
        self.assertEqual(r.status, 303, r.text[:500])
        v1 = int(self.county.scalar("SELECT version FROM appointment_schedules "
                                    "WHERE hall_code = %s" % sql_str(hall)))

        def downlinks():
            return self.county.count("downlink", "hall_code = %s AND kind = 'schedule'"
                                     % sql_str(hall))

        def audits():
            return self.county.count("audit_log", "action = 'schedule' AND detail = %s"
                                     % sql_str(hall))
        sent, audited = downlinks(), audits()
        self.assertEqual((sent, audited), (1, 1))
        data = dict(c.form(path, path),
                    items="sfz-sl | 居民身份证申领 | - | 一楼 2 号窗口\n"
                          "hj-qy | 户籍迁移 | - | 二楼 5 号窗口\n",
                    slots="sfz-sl | 1 | 09:00-09:30 | 5\nhj-qy | 3 | 14:00-14:30 | 2\n",
                    closed="2026-12-31\n")
        t = self.holder_of_audit_end()
        r, log = self.deadlocked(t, lambda: c.post(path, data),
                                 "SELECT version FROM appointment_schedules "
                                 "WHERE hall_code = %s FOR UPDATE" % sql_str(hall), "to publish")
        self.assertEqual(r.status, 303, r.text[:300])
        self.assertEqual(r.getheader("Location"), path + "?done=1")
        self.assertIn("lost a conflict", log)
        rows = self.county.rows("SELECT version, body FROM appointment_schedules "
                                "WHERE hall_code = %s" % sql_str(hall))
        self.assertEqual(len(rows), 1)
        v2, doc = int(rows[0][0]), json.loads(rows[0][1])
        self.assertGreater(v2, v1)
        self.assertEqual(doc["version"], v2)
        self.assertEqual([i["id"] for i in doc["items"]], ["sfz-sl", "hj-qy"])
        self.assertEqual(doc["closed"], ["2026-12-31"])
        self.assertEqual(self.county.rows("SELECT item_id FROM appointment_items "
                                          "WHERE hall_code = %s ORDER BY item_id"
                                          % sql_str(hall)), [("hj-qy",), ("sfz-sl",)])
        self.assertEqual(self.county.count("appointment_slots", "hall_code = %s"
                                           % sql_str(hall)), 2)
        self.assertEqual((downlinks(), audits()), (sent + 1, audited + 1))

    def test_accept_transfer_resolve_reach_the_hall(self):
        receipt = self.hall_case(subject="受理转办办结")
        no = receipt["case_no"]
        self.insert_hall("430121003000", "长沙县泉塘街道政务服务中心")
        c = self.signed_in()
        self.assertEqual(self.act(c, no, "accept", note="").status, 303)
        self.sync()
        self.assertEqual(self.lookup(receipt)["status"], "accepted")
        # a transfer names where it goes, from the list
        r = self.act(c, no, "transfer", target="", note="说明")
        self.assertEqual(r.status, 422)
        r = self.act(c, no, "transfer", target="长沙县人社局（430121）", note="说明")
        self.assertEqual(r.status, 422)
        self.assertEqual(self.events(no), [("accepted", None, self.user)])
        # another hall of the same county: the county still handles it
        r = self.act(c, no, "transfer", target="430121003000", note="属人社业务")
        self.assertEqual(r.status, 303, r.text[:300])
        self.assertEqual(self.county.rows("SELECT handler_county, handler_hall FROM cases "
                                          "WHERE case_no = %s" % sql_str(no)),
                         [("430121", "430121003000")])
        self.sync()
        doc = self.lookup(receipt)
        self.assertEqual(doc["status"], "transferred")
        self.assertIn("转办至：长沙县泉塘街道政务服务中心。属人社业务",
                      [e["note"] for e in doc["events"]])
        r = self.act(c, no, "resolve", note="已办结，群众满意。")
        self.assertEqual(r.status, 303, r.text[:300])
        self.sync()
        doc = self.lookup(receipt)
        self.assertEqual(doc["status"], "resolved")
        self.assertEqual(doc["reply"]["text"], "已办结，群众满意。")
        self.assertEqual([e[0] for e in self.events(no)], ["accepted", "transferred", "resolved"])
        # a resolved case takes no more actions
        page = c.get("/cases/" + no).text
        self.assertNotIn('name="action"', page)
        self.assertIn("已办结", page)

    def test_transfer_to_another_countys_hall_moves_the_case(self):
        """省内通办: the county that took the case hands it to a hall of another county;
        that county answers, the first can only read, the citizen sees it all at the hall
        where the receipt was given."""
        there = "430124001000"
        self.insert_hall(there, "宁乡市玉潭街道便民服务中心")
        receipt = self.hall_case(subject="属地办理的咨询 MOVED")
        no = receipt["case_no"]
        c = self.signed_in()
        self.assertEqual(self.act(c, no, "accept", note="").status, 303)
        # the list offers the other county's hall and the county itself, not this hall
        page = c.get("/cases/" + no).text
        select = re.search(r'<select id="f-target-transfer".*?</select>', page, re.S).group(0)
        self.assertIn('value="%s"' % there, select)
        self.assertIn('value="430124"', select)
        self.assertNotIn('value="%s"' % self.county.hall_code, select)
        self.assertNotIn('value="430121"', select)
        stale = c.form("/cases/" + no, "/cases/" + no)      # a page kept open before the move
        r = self.act(c, no, "transfer", target=there, note="户籍在宁乡，请属地办理")
        self.assertEqual(r.status, 303, r.text[:500])
        note = "转办至：宁乡市玉潭街道便民服务中心。户籍在宁乡，请属地办理"
        self.assertEqual(self.events(no)[-1], ("transferred", note, self.user))
        self.assertEqual(self.county.rows("SELECT handler_county, handler_hall, hall_code FROM "
                                          "cases WHERE case_no = %s" % sql_str(no)),
                         [("430124", there, self.county.hall_code)])
        self.assertEqual(self.county.rows(
            "SELECT from_county, from_hall, to_county, to_hall, actor FROM case_transfers "
            "WHERE case_no = %s" % sql_str(no)),
            [("430121", self.county.hall_code, "430124", there, self.user)])
        # the county reader sees the move too
        self.assertEqual(self.county.rows("SELECT to_hall FROM case_transfers WHERE case_no = %s"
                                          % sql_str(no), account="reader"), [(there,)])

        # the first county: read only, out of its inbox, its actions refused
        page = c.get(r.getheader("Location"))
        self.assertEqual(page.status, 200)
        self.assertIn("只能查看", page.text)
        self.assertIn("宁乡市玉潭街道便民服务中心", page.text)
        self.assertNotIn('name="action"', page.text)
        r = c.post("/cases/" + no, dict(stale, action="answer", note="越权答复", seq=""))
        self.assertEqual(r.status, 403, r.text[:300])
        self.assertIn("不能再办理", r.text)
        self.assertNotIn("/cases/" + no, c.get("/?q=MOVED").text)
        self.assertNotIn(no, c.get("/inbox.csv").text)
        self.assertIn("/cases/" + no, c.get("/?out=1&q=MOVED").text)
        # a third county still cannot see it at all
        npw = self.add_staff("third_county", "430122", "staff")
        self.assertEqual(self.signed_in("third_county", npw).get("/cases/" + no).status, 404)

        # the second county: in its inbox, and it answers
        pw = self.add_staff("ningxiang", "430124", "staff")
        n = self.signed_in("ningxiang", pw)
        inbox = n.get("/?q=MOVED").text
        self.assertIn("/cases/" + no, inbox)
        self.assertIn("外县转入", inbox)
        self.assertIn(no, n.get("/inbox.csv").text)
        r = self.act(n, no, "answer", note="已按宁乡市政策答复：可在玉潭街道窗口办理。")
        self.assertEqual(r.status, 303, r.text[:500])
        self.assertEqual(self.events(no)[-1][::2], ("answered", "ningxiang"))
        dash = n.get("/dashboard.csv").text.lstrip("\ufeff").split("\r\n")
        row = next(line for line in dash if line.startswith('"%s"' % there))
        self.assertEqual(row.split(",")[2], '"1"', "the case counts where it is handled")
        # the citizen, at the hall of the receipt, sees where it went and the answer
        self.sync()
        doc = self.lookup(receipt)
        self.assertEqual(doc["status"], "answered")
        self.assertEqual(doc["reply"]["text"], "已按宁乡市政策答复：可在玉潭街道窗口办理。")
        self.assertIn(note, [e["note"] for e in doc["events"]])
        # the console's database account moved nothing itself: the trigger did
        ok, _, err = self.console_sql("UPDATE cases SET handler_county = '430121' "
                                      "WHERE case_no = %s" % sql_str(no))
        self.assertFalse(ok)
        self.assertRegex(err, r"denied")

    def test_transfer_targets_checked_and_county_as_a_whole(self):
        self.insert_hall("430124001000", "宁乡市玉潭街道便民服务中心")
        self.county.sql("INSERT IGNORE INTO counties (county_code, name) VALUES ('430124', '宁乡市')")
        receipt = self.hall_case(subject="转办目标检查")
        no = receipt["case_no"]
        c = self.signed_in()
        for target, why in (("长沙县人社局", "free text"), ("999999999999", "unknown hall"),
                            ("999999", "unknown county"), ("43012", "short"),
                            (self.county.hall_code, "the hall that handles it"),
                            ("430121", "the county that handles it")):
            r = self.act(c, no, "transfer", target=target, note="")
            self.assertEqual(r.status, 422, "%s: %s" % (why, r.text[:300]))
            self.assertRegex(r.text, r'class="error" role="alert">[^<]*(列表|所选)', why)
        self.assertEqual(self.events(no), [])
        # the county as a whole (no hall named): its name from the counties table
        r = self.act(c, no, "transfer", target="430124", note="")
        self.assertEqual(r.status, 303, r.text[:300])
        self.assertEqual(self.events(no), [("transferred", "转办至：宁乡市", self.user)])
        self.assertEqual(self.county.rows("SELECT handler_county, handler_hall FROM cases "
                                          "WHERE case_no = %s" % sql_str(no)),
                         [("430124", None)])
        pw = self.add_staff("ningxiang2", "430124", "admin")
        n = self.signed_in("ningxiang2", pw)
        page = n.get("/cases/" + no).text
        self.assertIn("宁乡市（县级，不指定大厅）", page)
        # counted in the county's own row of the dashboard
        self.assertIn('data-hall="430124"', n.get("/dashboard").text)
        # and back to the hall that took it: the first county acts again, the second reads
        r = self.act(n, no, "transfer", target=self.county.hall_code, note="经核实属长沙县")
        self.assertEqual(r.status, 303, r.text[:300])
        self.assertIn("只能查看", n.get("/cases/" + no).text)
        r = self.act(c, no, "answer", note="长沙县答复。")
        self.assertEqual(r.status, 303, r.text[:300])
        self.assertEqual(self.county.count("case_transfers", "case_no = %s" % sql_str(no)), 2)
        self.sync()
        notes = [e["note"] for e in self.lookup(receipt)["events"]]
        self.assertIn("转办至：宁乡市", notes)
        self.assertIn("转办至：长沙县星沙街道政务服务中心。经核实属长沙县", notes)

    def test_reject_needs_a_reason_and_reaches_the_hall(self):
        receipt = self.hall_case(subject="不予受理")
        no = receipt["case_no"]
        c = self.signed_in()
        r = self.act(c, no, "reject", note="")
        self.assertEqual(r.status, 422)
        self.assertIn("请填写不予受理的理由", r.text)
        self.assertEqual(self.events(no), [])
        r = self.act(c, no, "reject", note="不属于本级受理范围，请向市场监管部门反映。")
        self.assertEqual(r.status, 303)
        self.sync()
        doc = self.lookup(receipt)
        self.assertEqual(doc["status"], "rejected")
        self.assertEqual(doc["reply"]["text"], "不属于本级受理范围，请向市场监管部门反映。")
        # a forged answer on the rejected case is refused by its status
        hidden = c.form("/cases/" + no, "/logout")
        r = c.post("/cases/" + no, dict(hidden, action="answer", note="迟到的答复"))
        self.assertEqual(r.status, 409)
        self.assertEqual(len(self.events(no)), 1)

    def test_double_submit_makes_one_answer(self):
        receipt = self.hall_case(subject="重复提交")
        no = receipt["case_no"]
        a, b = self.signed_in(), self.signed_in()
        page = a.get("/cases/" + no)
        form = next(f for f in parse_forms(page.text) if f["hidden"].get("action") == "answer")
        data = dict(form["hidden"], note="第一次答复")
        self.assertEqual(a.post("/cases/" + no, data).status, 303)
        r = a.post("/cases/" + no, data)     # the same form again
        self.assertEqual(r.status, 409)
        self.assertIn("刚有新的办理记录", r.text)
        # another person with the page open before the answer: refused, not a second answer
        form_b = b.form("/cases/" + no, "/logout")
        r = b.post("/cases/" + no, dict(form_b, action="answer", note="第二个人", seq="1"))
        self.assertEqual(r.status, 409)
        self.assertEqual(self.events(no), [("answered", "第一次答复", self.user)])

    def test_unknown_fields_and_actions_are_refused(self):
        no = self.hall_case(subject="字段检查")["case_no"]
        c = self.signed_in()
        r = self.act(c, no, "answer", note="好的", extra="x")
        self.assertEqual(r.status, 422)
        hidden = c.form("/cases/" + no, "/logout")
        r = c.post("/cases/" + no, dict(hidden, action="delete", note="x"))
        self.assertEqual(r.status, 422)
        r = self.act(c, no, "answer", note="长" * 2001)
        self.assertEqual(r.status, 422)
        self.assertEqual(self.events(no), [])

    # ---- 4. 差评 follow-up ----------------------------------------------------------------
    def test_bad_rating_opens_a_followup_a_supervisor_closes(self):
        receipt = self.hall_case(subject="差评回访")
        no = receipt["case_no"]
        c = self.signed_in()
        # the county's admin sets its deadline: 2 days (the database's default is 5)
        self.assertIn('id="followup-days">5<', c.get("/followups").text)
        r = c.submit("/followups", "/settings/followup", {"days": "0"})
        self.assertEqual(r.status, 422)
        r = c.submit("/followups", "/settings/followup", {"days": "2"})
        self.assertEqual(r.status, 303, r.text[:300])
        self.assertIn('id="followup-days">2<', c.get("/followups").text)
        self.assertEqual(self.act(c, no, "answer", note="答复如下。").status, 303)
        self.sync()
        r = self.node.json_post("/api/v1/cases/%s/rating" % no,
                                {"code": receipt["query_code"], "level": 1,
                                 "comment": "答非所问"})
        self.assertEqual(r.status, 201, r)
        self.sync()
        # 2 working days from the day the rating arrived, by the county's calendars
        opened, due, level = self.county.rows(
            "SELECT DATE(opened_at), due_at, level FROM rating_followups WHERE case_no = %s"
            % sql_str(no))[0]
        self.assertEqual(level, "1")
        self.assertEqual(due, self.working_days_after(opened, 2))
        dash = c.get("/dashboard").text
        self.assertIn('id="followups-open">1<', dash)
        page = c.get("/cases/" + no).text
        self.assertIn("答非所问", page)
        self.assertIn("待整改", page)
        self.assertIn(no, c.get("/followups").text)
        # a staff member may not record the rectification
        pw = self.add_staff("plain_staff", "430121", "staff")
        s = self.signed_in("plain_staff", pw)
        hidden = s.form("/cases/" + no, "/logout")
        r = s.post("/followups/" + no, dict(hidden, rectification="自行整改"))
        self.assertEqual(r.status, 403)
        pw = self.add_staff("super1", "430121", "supervisor")
        sup = self.signed_in("super1", pw)
        r = sup.submit("/cases/" + no, "/followups/" + no, {"rectification": ""})
        self.assertEqual(r.status, 422)
        r = sup.submit("/cases/" + no, "/followups/" + no,
                       {"rectification": "已约谈经办人，重新答复并电话回访。"})
        self.assertEqual(r.status, 303, r.text[:300])
        self.assertEqual(self.county.rows("SELECT closed_by, rectification FROM rating_followups "
                                          "WHERE case_no = %s" % sql_str(no)),
                         [("super1", "已约谈经办人，重新答复并电话回访。")])
        page = sup.get("/cases/" + no).text
        self.assertIn("已整改", page)
        dash = c.get("/dashboard").text
        self.assertIn('id="followups-open">0<', dash)
        self.assertIn('id="followups-closed">1<', dash)
        # only an admin sets the deadline
        hidden = sup.form("/followups", "/logout")
        r = sup.post("/settings/followup", dict(hidden, days="9"))
        self.assertEqual(r.status, 403)
        # a rating of 3 opens none
        r2 = self.hall_case(subject="好评")
        self.assertEqual(self.act(c, r2["case_no"], "answer", note="好").status, 303)
        self.sync()
        self.assertEqual(self.node.json_post("/api/v1/cases/%s/rating" % r2["case_no"],
                                             {"code": r2["query_code"], "level": 3}).status, 201)
        self.sync()
        self.assertEqual(self.county.count("rating_followups",
                                           "case_no = %s" % sql_str(r2["case_no"])), 0)

    def test_followup_deadline_counts_working_days(self):
        """N working days on the county's published calendar: weekends and holidays are
        skipped, 调休 workdays count; a year without a calendar is Monday to Friday."""
        hall = "430177001000"
        self.insert_hall(hall, "测试镇便民服务中心")
        pw = self.add_staff("admin177", "430177", "admin")
        c = self.signed_in("admin177", pw)
        r = c.submit("/followups", "/settings/followup", {"days": "3"})
        self.assertEqual(r.status, 303, r.text[:300])
        # the province publishes calendars (sql/county/011)
        p = self.signed_in(self.env["PROVINCE_STAFF_USER"], self.env["PROVINCE_STAFF_PASSWORD"])
        with open(CALENDAR_2026, encoding="utf-8") as f:
            r = p.submit("/calendars/2026", "/calendars/2026", {"body": f.read()})
        self.assertEqual(r.status, 303, r.text[:300])
        cases = [
            # Fri 18 Sep: Sat off, Sun 20 a make-up workday, Mon, Tue
            ("2026-09-18 10:00:00", "2026-09-22 23:59:59"),
            # Wed 30 Sep: 1-7 Oct holidays, Thu 8, Fri 9, Sat 10 a make-up workday
            ("2026-09-30 10:00:00", "2026-10-10 23:59:59"),
            # Fri 20 Nov: the weekend skipped
            ("2026-11-20 16:00:00", "2026-11-25 23:59:59"),
            # 2029 has no calendar: Monday to Friday (Fri 5 Jan 2029)
            ("2029-01-05 10:00:00", "2029-01-10 23:59:59"),
        ]
        self.assertEqual(self.county.count("calendars", "year = 2029"), 0)
        for i, (rated, due) in enumerate(cases):
            no = caseno(hall, 7000 + i)
            self.insert_case(no, hall, status="answered")
            # the rating arrives at that moment (the trigger reads the session's clock)
            self.county.sql("SET @@timestamp = UNIX_TIMESTAMP(%s); INSERT INTO ratings "
                            "(id, case_no, hall_code, level, at) VALUES (%s, %s, %s, 2, NOW())"
                            % (sql_str(rated), sql_str("wd-r%d" % i), sql_str(no),
                               sql_str(hall)))
            self.assertEqual(self.county.rows("SELECT opened_at, due_at FROM rating_followups "
                                              "WHERE case_no = %s" % sql_str(no)),
                             [(rated, due)], rated)
            self.assertEqual(self.working_days_after(rated[:10], 3), due)
        page = c.get("/followups").text
        self.assertIn('id="followup-days">3<', page)
        self.assertIn("个工作日", page)
        self.assertIn("2026-10-10 23:59", page)

    # ---- publishing ------------------------------------------------------------------------
    def test_guide_published_reaches_the_hall(self):
        pw = self.add_staff("editor", "430121", "supervisor")
        c = self.signed_in("editor", pw)
        fields = {"id": "g-test-hunyin", "name": "婚姻登记（测试）", "department": "县民政局",
                  "materials": "居民身份证\n户口簿", "time_limit": "即办件", "fees": "不收费",
                  "fee_basis": "", "delivery": "当场领取", "consult": "0731-84000001",
                  "address": "县政务服务中心二楼", "hours": "工作日 9:00-17:00"}
        r = c.submit("/guides/new", "/guides/new", dict(fields, name=""))
        self.assertEqual(r.status, 422)
        r = c.submit("/guides/new", "/guides/new", dict(fields, id="Bad Id"))
        self.assertEqual(r.status, 422)
        r = c.submit("/guides/new", "/guides/new", fields)
        self.assertEqual(r.status, 303, r.text[:500])
        self.assertEqual(r.getheader("Location"), "/guides/g-test-hunyin?done=1")
        r = c.submit("/guides/new", "/guides/new", fields)
        self.assertEqual(r.status, 409, "the same id twice")
        self.sync()
        g = self.node.get("/api/v1/guides/g-test-hunyin")
        self.assertEqual(g.status, 200, g)
        self.assertEqual(g.json()["name"], "婚姻登记（测试）")
        # an edit reaches it too
        r = c.submit("/guides/g-test-hunyin", "/guides/g-test-hunyin",
                     {k: v for k, v in dict(fields, fees="免费").items() if k != "id"})
        self.assertEqual(r.status, 303, r.text[:500])
        self.sync()
        self.assertEqual(self.node.get("/api/v1/guides/g-test-hunyin").json()["fees"], "免费")
        # plain staff may read but not edit
        spw = self.add_staff("reader_staff", "430121", "staff")
        s = self.signed_in("reader_staff", spw)
        self.assertIn("readonly", s.get("/guides/g-test-hunyin").text)
        hidden = s.form("/guides", "/logout")
        r = s.post("/guides/g-test-hunyin", dict(hidden, **{k: v for k, v in fields.items()
                                                             if k != "id"}))
        self.assertEqual(r.status, 403)
        # another county cannot see or edit this county's guide
        npw = self.add_staff("other_editor", "430122", "supervisor")
        o = self.signed_in("other_editor", npw)
        self.assertEqual(o.get("/guides/g-test-hunyin").status, 404)

    def test_calendar_published_reaches_the_hall(self):
        # the province's account publishes (a county admin may not: test_privilege.py)
        c = self.signed_in(self.env["PROVINCE_STAFF_USER"], self.env["PROVINCE_STAFF_PASSWORD"])
        r = c.submit("/calendars/2031", "/calendars/2031",
                     {"body": "year 2031\n2031-13-01 holiday 坏日期\n"})
        self.assertEqual(r.status, 422)
        r = c.submit("/calendars/2031", "/calendars/2031",
                     {"body": "year 2031\n2032-01-01 holiday 别的年份\n"})
        self.assertEqual(r.status, 422)
        r = c.submit("/calendars/2031", "/calendars/2031",
                     {"body": "year 2031\n2031-01-01 holiday 元旦\n2031-01-04 workday 调休\n"})
        self.assertEqual(r.status, 303, r.text[:500])
        self.sync()
        con = self.node.db()
        try:
            years = [row[0] for row in con.execute("SELECT * FROM calendar_years")]
        finally:
            con.close()
        self.assertIn(2031, years)
        pw = self.add_staff("not_admin", "430121", "supervisor")
        s = self.signed_in("not_admin", pw)
        hidden = s.form("/calendars", "/logout")
        r = s.post("/calendars/2032", dict(hidden, body="year 2032\n"))
        self.assertEqual(r.status, 403)

    # ---- dashboard ---------------------------------------------------------------------------
    def test_dashboard_figures_on_known_data(self):
        a, b = "430199001000", "430199002000"
        self.insert_hall(a, "甲镇便民服务中心", contact_sql="NOW()", backlog="3",
                         version="'0.3.0'")
        self.insert_hall(b, "乙乡便民服务中心")
        nos = [caseno(a, 3000 + i) for i in range(5)] + [caseno(b, 3005)]
        ontime, late_closed, overdue_a, warning_a, later_a, overdue_b = nos
        self.insert_case(ontime, a, due_sql="NOW() - INTERVAL 2 DAY")
        self.insert_case(late_closed, a, due_sql="NOW() - INTERVAL 3 DAY")
        self.insert_case(overdue_a, a, due_sql="NOW() - INTERVAL 1 HOUR")
        self.insert_case(warning_a, a, due_sql="TIMESTAMP(CURDATE(), '23:59:59')")
        self.insert_case(later_a, a, due_sql="NOW() + INTERVAL 4 DAY")
        self.insert_case(overdue_b, b, due_sql="NOW() - INTERVAL 1 DAY")
        self.county.sql(
            "INSERT INTO case_events (case_no, status, note, actor, at) VALUES "
            "(%s, 'answered', '按期', 't', NOW() - INTERVAL 3 DAY), "
            "(%s, 'answered', '超期', 't', NOW() - INTERVAL 1 DAY)"
            % (sql_str(ontime), sql_str(late_closed)))
        for i, (no, hall, level) in enumerate([(ontime, a, 5), (late_closed, a, 4),
                                               (overdue_a, a, 3), (warning_a, a, 1),
                                               (overdue_b, b, 2)]):
            self.county.sql("INSERT INTO ratings (id, case_no, hall_code, level, at) VALUES "
                            "(%s, %s, %s, %d, NOW())" % (sql_str("dash-r%d" % i), sql_str(no),
                                                         sql_str(hall), level))
        # one follow-up past its deadline
        self.county.sql("UPDATE rating_followups SET due_at = NOW() - INTERVAL 1 DAY "
                        "WHERE case_no = %s" % sql_str(overdue_b))
        pw = self.add_staff("dash199", "430199", "staff")
        c = self.signed_in("dash199", pw)
        r = c.get("/dashboard")
        self.assertEqual(r.status, 200)
        t = r.text

        def ident(name):
            m = re.search(r'id="%s">([^<]*)<' % name, t)
            self.assertIsNotNone(m, name)
            return m.group(1)

        # on time: 1 of (2 closed + 2 open past their deadline)
        self.assertEqual(ident("on-time-rate"), "25.0%")
        # satisfied: levels 3-5, 3 of 5 ratings; the page says how it is counted
        self.assertEqual(ident("satisfaction-rate"), "60.0%")
        self.assertIn("3 至 5 级", t)
        self.assertEqual(ident("overdue-total"), "2")
        self.assertEqual(ident("warning-total"), "1")
        self.assertEqual(ident("followups-open"), "2")
        self.assertEqual(ident("followups-late"), "1")
        for chart in ("chart-on-time", "chart-satisfaction", "chart-due", "chart-sync"):
            self.assertRegex(t, r'<svg id="%s"[^>]*role="img"' % chart)
        self.assertNotIn("<script", t)
        row_a = re.search(r'<tr data-hall="%s">(.*?)</tr>' % a, t).group(1)
        cells = re.findall(r'<td class="num[^"]*">([^<]*)</td>', row_a)
        # open, warning, overdue, on-time, satisfaction, follow-ups open
        self.assertEqual(cells[:6], ["3", "1", "1", "33.3%", "75.0%", "1"])
        self.assertIn("0.3.0", row_a)
        self.assertRegex(row_a, r"秒前|分钟前")
        row_b = re.search(r'<tr data-hall="%s">(.*?)</tr>' % b, t).group(1)
        self.assertIn("从未联系", row_b)
        # the CSV: one row a hall and the county's total
        r = c.get("/dashboard.csv")
        self.assertEqual(r.status, 200)
        rows = [line.split(",") for line in r.text.lstrip("\ufeff").strip().split("\r\n")]
        self.assertEqual(len(rows), 4)
        total = [v.strip('"') for v in rows[-1]]
        self.assertEqual(total[1], "全县合计")
        self.assertEqual(total[8], "25.0%")
        self.assertEqual(total[11], "60.0%")

    # ---- the county database goes away and comes back ------------------------------------
    def test_zz_county_down_then_back(self):
        # named to run last in the class: the other tests need the county up
        c = self.signed_in()
        self.county.kill9()
        try:
            r = c.get("/")
            self.assertEqual(r.status, 503)
            self.assertIn("县级数据库暂时无法访问", r.text)
            self.assertEqual(c.get("/staff.css").status, 200)
        finally:
            self.county.start()
        # each worker reconnects on its next request; the session survived in the database
        for _ in range(4):
            r = c.get("/")
            self.assertEqual(r.status, 200, r.text[:300])

    # ---- a real browser ------------------------------------------------------------------
    def test_browser_answers_a_case_and_draws_the_dashboard(self):
        node_js = shutil.which("node")
        chromium = "/usr/bin/chromium"
        if node_js is None or not os.access(chromium, os.X_OK):
            self.skipTest("node or /usr/bin/chromium is not installed")
        modules = playwright_modules()
        if modules is None:
            self.skipTest("playwright-core could not be installed from npm")
        receipt = self.hall_case(subject="浏览器办理的咨询")
        work = tempfile.mkdtemp(prefix="staff-browser-")
        try:
            script = os.path.join(work, "browser.js")
            with open(script, "w") as f:
                f.write(BROWSER_JS)
            env = dict(os.environ, NODE_PATH=modules)
            p = subprocess.run([node_js, script, "http://127.0.0.1:%d" % self.node.staff_port,
                                self.user, self.password, receipt["case_no"], work],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                               timeout=180)
            self.assertEqual(p.returncode, 0, p.stderr.decode("utf-8", "replace")[-3000:])
            out = json.loads(p.stdout.decode("utf-8").strip().splitlines()[-1])
            self.assertEqual(out["status"], "已答复")
            self.assertTrue(out["notice"].startswith("答复已保存"), out)
            self.assertGreater(out["chart_width"], 100)
            self.assertLessEqual(out["phone_overflow"], 0, "the inbox is wider than a phone")
            for name in ("dashboard", "inbox-phone"):
                with open(os.path.join(work, name + ".png"), "rb") as f:
                    data = f.read()
                width, height = png_size(data)
                self.assertGreater(width, 300, name)
                self.assertGreater(height, 500, name)
                # a blank page compresses to a few KiB; text and charts do not
                self.assertGreater(len(data), 20000, "%s looks blank" % name)
                # the pixels, counted by the browser from the screenshot file itself
                stats = out["pixels"][name]
                self.assertEqual((stats["width"], stats["height"]), (width, height))
                self.assertGreater(stats["colours"], 20, "%s looks blank: %r" % (name, stats))
                self.assertGreater(stats["ink"], 0.02, "%s looks blank: %r" % (name, stats))
        finally:
            shutil.rmtree(work, ignore_errors=True)
        self.assertEqual(self.events(receipt["case_no"]),
                         [("answered", "浏览器测试的答复", self.user)])
        self.sync()
        self.assertEqual(self.lookup(receipt)["reply"]["text"], "浏览器测试的答复")


BROWSER_JS = r"""
const { chromium } = require('playwright-core');

// Distinct colours and the share of pixels that are not the most common one (the
// background), read back from the PNG in a page of its own.
async function count(browser, png) {
  const p = await browser.newPage();
  try {
    return await p.evaluate(async (b64) => {
      const img = new Image();
      img.src = 'data:image/png;base64,' + b64;
      await img.decode();
      const c = document.createElement('canvas');
      c.width = img.width;
      c.height = img.height;
      const g = c.getContext('2d');
      g.drawImage(img, 0, 0);
      const d = g.getImageData(0, 0, c.width, c.height).data;
      const seen = new Map();
      for (let i = 0; i < d.length; i += 4) {
        const k = (d[i] << 16) | (d[i + 1] << 8) | d[i + 2];
        seen.set(k, (seen.get(k) || 0) + 1);
      }
      let most = 0;
      for (const v of seen.values()) most = Math.max(most, v);
      const total = d.length / 4;
      return { width: c.width, height: c.height, colours: seen.size, ink: (total - most) / total };
    }, png.toString('base64'));
  } finally {
    await p.close();
  }
}

(async () => {
  const [url, user, password, caseNo, dir] = process.argv.slice(2);
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
           '--disable-background-networking', '--no-first-run', '--disable-extensions'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 },
                                         javaScriptEnabled: false });
    page.setDefaultTimeout(20000);
    await page.goto(url + '/login');
    await page.fill('#f-username', user);
    await page.fill('#f-password', password);
    await Promise.all([page.waitForURL(url + '/'), page.click('form[action="/login"] button')]);
    await page.goto(url + '/cases/' + caseNo);
    await page.fill('#f-note-answer', '浏览器测试的答复');
    await Promise.all([page.waitForURL(/done=answer/), page.click('#act-answer button')]);
    const status = await page.textContent('#status');
    const notice = await page.textContent('.notice');
    await page.goto(url + '/dashboard');
    const box = await page.locator('#chart-on-time').boundingBox();
    const pixels = {};
    pixels.dashboard = await count(browser,
      await page.screenshot({ path: dir + '/dashboard.png', fullPage: true }));
    await page.setViewportSize({ width: 360, height: 740 });
    await page.goto(url + '/');
    const overflow = await page.evaluate(
      () => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    pixels['inbox-phone'] = await count(browser,
      await page.screenshot({ path: dir + '/inbox-phone.png' }));
    console.log(JSON.stringify({ status, notice, chart_width: box ? box.width : 0,
                                 phone_overflow: overflow, pixels }));
  } finally {
    await browser.close();
  }
})().catch((e) => { console.error(e); process.exit(1); });
"""

PLAYWRIGHT_VERSION = "1.65.1"


def playwright_modules():
    """A node_modules folder with playwright-core, installed from npm into var/npm once;
    None when that cannot be done (no npm, no network)."""
    prefix = os.path.join(ROOT, "var", "npm")
    modules = os.path.join(prefix, "node_modules")
    if os.path.isdir(os.path.join(modules, "playwright-core")):
        return modules
    npm = shutil.which("npm")
    if npm is None:
        return None
    os.makedirs(prefix, exist_ok=True)
    try:
        p = subprocess.run([npm, "install", "--no-save", "--no-audit", "--no-fund",
                            "--prefix", prefix, "playwright-core@" + PLAYWRIGHT_VERSION],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if p.returncode != 0 or not os.path.isdir(os.path.join(modules, "playwright-core")):
        return None
    return modules


def png_size(data):
    """(width, height) from a PNG's header."""
    import struct
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise AssertionError("not a PNG")
    return struct.unpack(">II", data[16:24])


if __name__ == "__main__":
    unittest.main()
