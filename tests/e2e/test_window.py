"""SPEC 4.4: the hall's window, end to end.

One node for the module (`conf/demo start` with COUNTY=1 and STAFF=1: the hall, the county
MariaDB, the staff console); the tests run hall-agent `once` themselves to sync. They talk to
the window over HTTP as a browser does (cookies, forms with their hidden fields), make
accounts with `hall-admin staff`, and open the hall store only to age a session or read
what a request wrote. The browser test signs in with Chromium (playwright-core, as
test_staff.py's), registers a case and prints the receipt to PDF on A5 and an 80 mm roll.
"""

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest
import urllib.parse

from county import Agent, County, sql_str
from harness import BUILD, NO_LIMITS, ROOT, Node, parse_forms
from test_staff import Client, playwright_modules

HALL_ADMIN = os.path.join(ROOT, BUILD, "hall-admin")
REFUSED = "用户名或密码错误，或账户已被锁定。"
SANITIZER = re.compile(r"ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|"
                       r"ended \(signal \d+")
# the seed-4 "办不成事" registration form, as a walk-in at the window would give it
WALK_IN = {
    "channel": "window", "kind": "unresolved", "category": "",
    "name": "李四", "phone": "13712345678", "email": "",
    "subject": "不动产登记窗口说材料不齐，跑了三次没办成",
    "body": "第三次来办理不动产登记，窗口仍说缺材料，但每次说的不一样。",
    "target": "不动产登记窗口", "item": "", "notify": "1",
}


class WindowClient(Client):
    """A browser of the window: Client's cookie jar, its forms and sign-in."""

    def login(self, user, password):
        hidden = self.form("/window/login", "/window/login")
        return self.post("/window/login", dict(hidden, username=user, password=password))

    def register(self, fields):
        return self.submit("/window/new", "/window/new", fields)


def form_text(html):
    """A page without its form tokens, to compare two answers."""
    return re.sub(r'name="(csrf|key)" value="[^"]*"', "", html)


class WindowTest(unittest.TestCase):
    node = None

    @classmethod
    def setUpClass(cls):
        cls.node = Node("window", county=True, agent=False, staff=True)
        cls.addClassCleanup(cls._finish)
        cls.node.start(NO_LIMITS)
        cls.county = County(cls.node)
        cls.agent = Agent(cls.node)
        cls.addClassCleanup(cls.agent.cleanup)
        env = cls.node.run_env()
        cls.user, cls.password = env["WINDOW_USER"], env["WINDOW_PASSWORD"]
        cls.staff_user, cls.staff_password = env["STAFF_USER"], env["STAFF_PASSWORD"]
        cls._source = 10

    @classmethod
    def _finish(cls):
        node = cls.node
        try:
            node.stop()
            problems = node.new_log_problems()
        finally:
            node.cleanup()
        if problems:
            raise AssertionError("problems logged:\n" + "\n".join(problems[:20]))

    def tearDown(self):
        problems = self.node.new_log_problems()
        if problems:
            self.fail("the hall programs logged problems:\n" + "\n".join(problems[:20]))

    # ---- helpers -----------------------------------------------------------------------
    def client(self, source=None):
        """A browser from a loopback address of its own (the per-address limit counts
        refused sign-ins by address)."""
        if source is None:
            type(self)._source += 1
            source = "127.0.0.%d" % type(self)._source
        return WindowClient(self.node.port, source)

    def signed_in(self, user=None, password=None):
        c = self.client()
        r = c.login(user or self.user, password or self.password)
        self.assertEqual(r.status, 303, r.text[:500])
        self.assertEqual(r.getheader("Location"), "/window")
        return c

    def admin(self, *args, password=None):
        """hall-admin staff ...; the password on standard input."""
        p = subprocess.run([HALL_ADMIN, "-c", self.node.ini_path, "staff"] + list(args),
                           input=(password + "\n").encode() if password is not None else b"",
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        return p.returncode, p.stdout.decode("utf-8", "replace") + p.stderr.decode("utf-8",
                                                                                     "replace")

    def add_account(self, name, password="window-pass-123"):
        rc, out = self.admin("add", name, password=password)
        self.assertEqual(rc, 0, out)
        return password

    def store_rows(self, sql, args=()):
        con = self.node.db()
        try:
            return con.execute(sql, args).fetchall()
        finally:
            con.close()

    def store_exec(self, sql, args=()):
        con = self.node.db()
        try:
            with con:
                con.execute(sql, args)
        finally:
            con.close()

    def receipt_of(self, c, r):
        """The case number and query code of the receipt a registration led to."""
        self.assertEqual(r.status, 303, r.text[:800])
        loc = r.getheader("Location")
        self.assertRegex(loc, r"^/window/receipt/[0-9A-Z]{23}$")
        page = c.get(loc)
        self.assertEqual(page.status, 200, page.text[:500])
        no = loc.rsplit("/", 1)[1]
        code = re.search(r"<dt>查询码</dt><dd class=\"big\">(\d{6})</dd>", page.text).group(1)
        return no, code, page

    def assertNothingWritten(self, before):
        self.assertEqual(self.node.counts(), before)

    # ---- sign-in -------------------------------------------------------------------------
    def test_pages_need_a_session(self):
        c = self.client()
        for path in ("/window", "/window/new", "/window/receipt/" + "4" * 23):
            r = c.get(path)
            self.assertEqual(r.status, 303, path)
            self.assertEqual(r.getheader("Location"), "/window/login", path)
        before = self.node.counts()
        r = c.post("/window/new", WALK_IN)
        self.assertEqual(r.status, 303)
        self.assertNothingWritten(before)
        # hall-read does not serve the window: nginx sends it all to hall-write
        self.assertEqual(c.get("/window/login").status, 200)

    def test_signin_cookie_is_safe_and_stored_hashed(self):
        c = self.client()
        r = c.login(self.user, self.password)
        self.assertEqual(r.status, 303, r.text[:300])
        cookie = next(v for v in r.headers.get_all("Set-Cookie") if v.startswith("hall_window="))
        self.assertIn("HttpOnly", cookie)
        self.assertIn("SameSite=Strict", cookie)
        self.assertIn("Path=/window", cookie)
        self.assertNotIn("Secure", cookie, "plain http here: Secure only over https")
        token = c.cookies["hall_window"]
        self.assertEqual(len(token), 43)
        hashes = [h for (h,) in self.store_rows("SELECT token_hash FROM window_sessions")]
        self.assertIn(hashlib.sha256(token.encode()).hexdigest(), hashes)
        self.assertNotIn(token, hashes)
        page = c.get("/window")
        self.assertEqual(page.status, 200)
        self.assertIn("登记人：" + self.user, page.text)
        self.assertEqual(page.getheader("Cache-Control"), "no-store")
        # (Secure over https: the unit test of signin_cookie, tests/unit/test_window.c)

    def test_wrong_password_and_unknown_user_look_the_same(self):
        a = self.client().login(self.user, "wrong-password-1")
        b = self.client().login("nobody_here", "wrong-password-1")
        self.assertEqual((a.status, b.status), (403, 403))
        self.assertIn(REFUSED, a.text)
        self.assertEqual(form_text(a.text).replace(self.user, ""),
                         form_text(b.text).replace("nobody_here", ""))
        self.assertNotIn("hall_window", a.headers.get("Set-Cookie") or "")
        # the unknown name costs a verification too: the times are alike
        t = []
        for user in (self.user, "nobody_there") * 2:
            t0 = time.monotonic()
            self.client().login(user, "wrong-password-2")
            t.append(time.monotonic() - t0)
        known, unknown = t[0] + t[2], t[1] + t[3]
        self.assertLess(abs(known - unknown), 0.5 * max(known, unknown) + 0.05, t)
        self.store_exec("UPDATE window_accounts SET failed_logins = 0 WHERE name = ?",
                        (self.user,))

    def test_lockout_after_five_failures(self):
        pw = self.add_account("lock_me")
        for i in range(4):
            self.assertEqual(self.client().login("lock_me", "wrong-%d-password" % i).status, 403)
        self.assertEqual(self.store_rows("SELECT failed_logins, locked_until FROM "
                                         "window_accounts WHERE name = 'lock_me'"), [(4, None)])
        r = self.client().login("lock_me", "wrong-5-password")
        self.assertEqual(r.status, 403)
        (until,), = self.store_rows("SELECT locked_until FROM window_accounts "
                                    "WHERE name = 'lock_me'")
        self.assertGreater(until, time.time() + 14 * 60)
        # the right password is refused too, with the same words
        r = self.client().login("lock_me", pw)
        self.assertEqual(r.status, 403)
        self.assertIn(REFUSED, r.text)
        rc, out = self.admin("list")
        self.assertRegex(out, r"(?m)^lock_me\s.*locked until")
        # a new password lifts it
        rc, out = self.admin("passwd", "lock_me", password="new-window-pass")
        self.assertEqual(rc, 0, out)
        self.assertEqual(self.client().login("lock_me", "new-window-pass").status, 303)
        self.assertEqual(self.client().login("lock_me", pw).status, 403)

    def test_disabled_account_is_refused_and_its_sessions_end(self):
        pw = self.add_account("leaver")
        c = self.signed_in("leaver", pw)
        self.assertEqual(c.get("/window").status, 200)
        rc, out = self.admin("disable", "leaver")
        self.assertEqual(rc, 0, out)
        r = c.get("/window")
        self.assertEqual(r.status, 303)
        self.assertNotIn("hall_window", c.cookies, "the stale cookie is removed")
        r = self.client().login("leaver", pw)
        self.assertEqual(r.status, 403)
        self.assertIn(REFUSED, r.text)
        rc, out = self.admin("list")
        self.assertRegex(out, r"(?m)^leaver\s.*disabled$")
        self.assertEqual(self.admin("enable", "leaver")[0], 0)
        self.signed_in("leaver", pw)

    def test_login_needs_its_csrf_token(self):
        c = self.client()
        c.get("/window/login")
        r = c.post("/window/login", {"username": self.user, "password": self.password})
        self.assertEqual(r.status, 403)
        self.assertIn("页面已过期", r.text)
        # a token made for another browser's cookie
        other = self.client().form("/window/login", "/window/login")
        r = c.post("/window/login", dict(other, username=self.user, password=self.password))
        self.assertEqual(r.status, 403)
        self.assertNotIn("hall_window", c.cookies)

    def test_forms_need_this_sessions_token(self):
        c, d = self.signed_in(), self.signed_in()
        before = self.node.counts()
        r = c.post("/window/new", WALK_IN)
        self.assertEqual(r.status, 403)
        self.assertIn("页面已过期", r.text)
        foreign = d.form("/window/new", "/window/new")
        r = c.post("/window/new", dict(WALK_IN, **foreign))
        self.assertEqual(r.status, 403)
        r = c.post("/window/logout", {})
        self.assertEqual(r.status, 403)
        self.assertNothingWritten(before)
        self.assertEqual(c.get("/window").status, 200, "still signed in")

    def test_signout_ends_the_session(self):
        c = self.signed_in()
        token = c.cookies["hall_window"]
        r = c.submit("/window", "/window/logout", {})
        self.assertEqual(r.status, 303)
        self.assertEqual(r.getheader("Location"), "/window/login")
        self.assertNotIn("hall_window", c.cookies)
        self.assertEqual(self.store_rows("SELECT count(*) FROM window_sessions WHERE "
                                         "token_hash = ?",
                                         (hashlib.sha256(token.encode()).hexdigest(),)), [(0,)])
        # the old cookie, replayed, opens nothing
        c.cookies["hall_window"] = token
        self.assertEqual(c.get("/window").status, 303)

    def test_expired_and_idle_sessions_are_refused(self):
        for column in ("expires_at", "last_seen_at"):
            c = self.signed_in()
            h = hashlib.sha256(c.cookies["hall_window"].encode()).hexdigest()
            self.assertEqual(c.get("/window").status, 200)
            # the absolute end, or an hour and a minute without a request
            self.store_exec("UPDATE window_sessions SET %s = ? WHERE token_hash = ?" % column,
                            (int(time.time()) - (1 if column == "expires_at" else 3660), h))
            r = c.get("/window")
            self.assertEqual(r.status, 303, column)
            self.assertEqual(r.getheader("Location"), "/window/login")

    def test_address_limit_stops_guessing(self):
        c = self.client("127.0.0.250")
        for i in range(20):
            r = c.login("guess%d" % i, "wrong-password")
            self.assertEqual(r.status, 403, i)
        r = c.login(self.user, self.password)
        self.assertEqual(r.status, 429)
        self.assertGreater(int(r.getheader("Retry-After")), 60)
        self.assertIn("次数过多", r.text)
        # another address is not stopped
        self.signed_in()

    # ---- registering ---------------------------------------------------------------------
    def test_walk_in_registered_receipt_and_citizen_lookup(self):
        c = self.signed_in()
        form = c.get("/window/new").text
        self.assertLess(len(form.encode()), 30 * 1024)
        for label in ("服务对象", "联系电话", "反映事项", "涉及窗口或部门", "登记人"):
            self.assertIn(label, form)
        self.assertIn('id="registrar">%s<' % self.user, form)
        self.assertRegex(form, r'name="notify" value="1" checked')
        for value, text in (("window", "现场"), ("phone", "电话"), ("letter", "信函"),
                            ("email", "电子邮件")):
            self.assertIn('<option value="%s">%s</option>' % (value, text), form)
        r = c.register(WALK_IN)
        no, code, page = self.receipt_of(c, r)
        self.assertLess(len(page.body), 30 * 1024)
        for text in ("受理回执", "“办不成事”反映", "现场", WALK_IN["subject"], "李四",
                     "登记人", self.user, "答复期限", "接下来", "0731"):
            self.assertIn(text, page.text)
        row = self.store_rows("SELECT kind, channel, registrar, name, phone, target, status, "
                              "query_code FROM cases WHERE case_no = ?", (no,))
        self.assertEqual(row, [("unresolved", "window", self.user, "李四", "13712345678",
                                "不动产登记窗口", "received", code)])
        (payload,), = self.store_rows("SELECT payload FROM outbox WHERE case_no = ? AND "
                                      "type = 'case'", (no,))
        rec = json.loads(payload)
        self.assertEqual((rec["channel"], rec["registrar"]), ("window", self.user))
        # the citizen opens it with the receipt's code, like an online case
        doc = self.node.lookup(no, code)
        self.assertEqual(doc.status, 200, doc)
        self.assertEqual(doc.json()["kind"], "unresolved")
        self.assertEqual(self.node.lookup(no, "000000" if code != "000000" else "111111").status,
                         404)
        # listed, with its channel and registrar; the number links to the receipt
        page = c.get("/window").text
        self.assertIn("/window/receipt/" + no, page)
        self.assertIn("现场", page)
        # the 80 mm layout is a class on the page, the same receipt
        roll = c.get("/window/receipt/%s?paper=80" % no)
        self.assertEqual(roll.status, 200)
        self.assertIn('class="paper-80"', roll.text)
        self.assertIn(code, roll.text)

    def test_the_same_form_twice_is_one_case(self):
        c = self.signed_in()
        r = c.get("/window/new")
        hidden = next(f for f in parse_forms(r.text) if f["action"] == "/window/new")["hidden"]
        fields = dict(WALK_IN, channel="phone", subject="重复提交的来电", **hidden)
        a = c.post("/window/new", fields)
        b = c.post("/window/new", fields)
        self.assertEqual((a.status, b.status), (303, 303))
        self.assertEqual(a.getheader("Location"), b.getheader("Location"))
        self.assertEqual(self.store_rows("SELECT count(*) FROM cases WHERE subject = ?",
                                         ("重复提交的来电",)), [(1,)])

    def test_form_errors_keep_the_input(self):
        c = self.signed_in()
        before = self.node.counts()
        cases = (
            (dict(WALK_IN, kind="consultation", category=""), "category"),
            (dict(WALK_IN, kind="consultation", category="policy", name=""), "name"),
            (dict(WALK_IN, phone="12345"), "phone"),
            (dict(WALK_IN, channel="online"), "channel"),
            (dict(WALK_IN, subject=""), "subject"),
            (dict(WALK_IN, body="x" * 2001), "body"),
            (dict(WALK_IN, notify="yes"), "notify"),
        )
        for fields, field in cases:
            r = c.register(fields)
            self.assertEqual(r.status, 422, field)
            self.assertIn('id="e-%s"' % field, r.text, field)
            self.assertIn(WALK_IN["target"], r.text, "the input is kept")
        # an unchecked notify is kept unchecked
        r = c.register(dict(WALK_IN, notify="", phone="1"))
        self.assertNotRegex(r.text, r'name="notify" value="1" checked')
        self.assertNothingWritten(before)

    def test_consultation_by_letter(self):
        c = self.signed_in()
        r = c.register(dict(WALK_IN, channel="letter", kind="consultation", category="policy",
                            subject="来信咨询养老保险", phone="0731-84012345", item="养老保险",
                            notify=""))
        no, code, page = self.receipt_of(c, r)
        self.assertIn("信函", page.text)
        self.assertIn("咨询 · 法规政策", page.text)
        self.assertEqual(self.store_rows("SELECT channel, category, item FROM cases WHERE "
                                         "case_no = ?", (no,)),
                         [("letter", "policy", "养老保险")])

    def test_receipt_only_for_its_registrar_soon_after(self):
        c = self.signed_in()
        no, _, _ = self.receipt_of(c, c.register(dict(WALK_IN, subject="只给登记人")))
        pw = self.add_account("colleague")
        other = self.signed_in("colleague", pw)
        r = other.get("/window/receipt/" + no)
        self.assertEqual(r.status, 404)
        self.assertNotIn(no[-6:], re.sub(r"<[^>]*>", "", r.text))
        self.assertNotIn("/window/receipt/" + no, other.get("/window").text)
        online = self.node.submit()
        self.assertEqual(c.get("/window/receipt/" + online["case_no"]).status, 404)
        self.assertNotIn(online["query_code"], c.get("/window").text)
        # an hour later the registrar cannot either
        self.store_exec("UPDATE cases SET submitted_at = submitted_at - 3601 WHERE case_no = ?",
                        (no,))
        self.assertEqual(c.get("/window/receipt/" + no).status, 404)

    def test_no_reprint_once_the_code_was_replaced(self):
        """A new query code (SPEC 5.6) goes by SMS alone: the registrar's reprint, which
        would show it, is gone."""
        c = self.signed_in()
        no, code, _ = self.receipt_of(c, c.register(dict(WALK_IN, subject="补发后不可重印")))
        self.assertEqual(c.get("/window/receipt/" + no).status, 200)
        self.store_exec("INSERT INTO code_resends (case_no, at) VALUES (?, strftime('%s'))",
                        (no,))
        r = c.get("/window/receipt/" + no)
        self.assertEqual(r.status, 404)
        self.assertNotIn(code, r.text)

    def test_online_records_keep_their_bytes(self):
        r = self.node.submit(subject="网上咨询的记录")
        (payload,), = self.store_rows("SELECT payload FROM outbox WHERE case_no = ? AND "
                                      "type = 'case'", (r["case_no"],))
        self.assertIn('"channel":"online","subject"', payload)
        self.assertNotIn("registrar", payload)
        self.assertEqual(self.store_rows("SELECT channel, registrar FROM cases WHERE "
                                         "case_no = ?", (r["case_no"],)), [("online", None)])

    # ---- hall-admin staff -------------------------------------------------------------------
    def test_hall_admin_staff_refusals(self):
        rc, out = self.admin("add", "shorty", password="short")
        self.assertEqual(rc, 1)
        self.assertIn("8 to 128", out)
        rc, out = self.admin("add", "bad name", password="long-enough-1")
        self.assertEqual(rc, 1)
        self.assertIn("A-Z", out)
        rc, out = self.admin("add", self.user, password="long-enough-1")
        self.assertEqual(rc, 1)
        self.assertIn("exists already", out)
        rc, out = self.admin("passwd", "no_such_one", password="long-enough-1")
        self.assertEqual(rc, 1)
        self.assertIn("no window account", out)
        self.assertEqual(self.admin("frobnicate", "x")[0], 2)
        d = tempfile.mkdtemp(prefix="window-pw-")
        try:
            with open(os.path.join(d, "pw"), "w") as f:
                f.write("from-a-file-123\n")
            rc, out = self.admin("add", "filed", "--password-file", os.path.join(d, "pw"))
            self.assertEqual(rc, 0, out)
        finally:
            shutil.rmtree(d)
        self.signed_in("filed", "from-a-file-123")
        self.assertEqual(self.store_rows("SELECT count(*) FROM window_accounts WHERE "
                                         "name = 'shorty'"), [(0,)])

    # ---- the county --------------------------------------------------------------------------
    def test_window_account_has_no_power_at_the_county(self):
        c = Client(self.node.staff_port)
        r = c.login(self.user, self.password)
        self.assertEqual(r.status, 403)
        self.assertIn(REFUSED, r.text)
        self.assertEqual(c.get("/").status, 303)

    def has_registrar_column(self):
        return self.county.count("information_schema.columns",
                                 "table_schema = 'county' AND table_name = 'cases' AND "
                                 "column_name = 'registrar'") == 1

    def test_zz_registered_with_the_county_down_reaches_it_once(self):
        # named to run last: the county is stopped for a while
        self.assertEqual(self.agent.once(), 0, self.agent.log_tail())
        self.county.stop()
        try:
            c = self.signed_in()
            made = []
            for channel in ("window", "phone", "email"):
                r = c.register(dict(WALK_IN, channel=channel, subject="断网时登记 " + channel))
                made.append((channel, self.receipt_of(c, r)[:2]))
            self.assertNotEqual(self.agent.once(), 0, "the county is down")
            self.assertIn("断网时登记 phone", c.get("/window").text)
        finally:
            self.county.start()
        for _ in range(2):    # a second pass sends nothing again
            self.assertEqual(self.agent.once(), 0, self.agent.log_tail())
        registrar = self.has_registrar_column()
        for channel, (no, code) in made:
            cols = "channel" + (", registrar" if registrar else "")
            rows = self.county.rows("SELECT %s FROM cases WHERE case_no = %s" % (cols, sql_str(no)))
            self.assertEqual(rows, [(channel, self.user) if registrar else (channel,)], no)
            self.assertEqual(self.county.count("records", "case_no = %s" % sql_str(no)), 1)
            self.assertEqual(self.node.lookup(no, code).json()["status"], "delivered")
        if not registrar:
            print("# the county has no cases.registrar yet (sql/county/015): only the "
                  "channel was checked there", flush=True)
        # the console shows the channel (and the registrar), and filters by channel
        s = Client(self.node.staff_port)
        self.assertEqual(s.login(self.staff_user, self.staff_password).status, 303)
        no = made[1][1][0]
        page = s.get("/cases/" + no)
        self.assertEqual(page.status, 200, page.text[:300])
        self.assertRegex(page.text, r'id="channel">电话<')
        if registrar:
            self.assertIn('id="registrar">%s（大厅窗口）<' % self.user, page.text)
        listed = s.get("/?channel=phone&q=" + urllib.parse.quote("断网时登记")).text
        self.assertIn("/cases/" + no, listed)
        self.assertNotIn("/cases/" + made[0][1][0], listed)
        self.assertIn("电子邮件", s.get("/inbox.csv?channel=email").text)

    # ---- a real browser --------------------------------------------------------------------
    def test_browser_registers_and_prints_the_receipt(self):
        node_js = shutil.which("node")
        if node_js is None or not os.access("/usr/bin/chromium", os.X_OK):
            self.skipTest("node or /usr/bin/chromium is not installed")
        if shutil.which("pdfinfo") is None or shutil.which("pdftoppm") is None:
            self.skipTest("poppler-utils (pdfinfo, pdftoppm) is not installed")
        modules = playwright_modules()
        if modules is None:
            self.skipTest("playwright-core could not be installed from npm")
        # kept after the node is gone, to be looked at: var/ of the tree, like var/npm
        work = os.path.join(ROOT, "var", "test-window")
        shutil.rmtree(work, ignore_errors=True)
        os.makedirs(work, exist_ok=True)
        script = os.path.join(work, "window.js")
        with open(script, "w") as f:
            f.write(BROWSER_JS)
        p = subprocess.run([node_js, script, self.node.url, self.user, self.password, work],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env=dict(os.environ, NODE_PATH=modules), timeout=180)
        self.assertEqual(p.returncode, 0, p.stderr.decode("utf-8", "replace")[-3000:])
        out = json.loads(p.stdout.decode("utf-8").strip().splitlines()[-1])
        no = out["case_no"].replace(" ", "")
        self.assertRegex(no, r"^[0-9A-Z]{23}$")
        self.assertLessEqual(out["phone_overflow"], 0, "the form is wider than a phone")
        for name, width_pt, pages in (("a5", 419.5, 1), ("roll80", 226.8, 1),
                                      ("css-a5", 419.5, 1), ("css-roll80", 226.8, 1)):
            pdf = os.path.join(work, name + ".pdf")
            info = subprocess.run(["pdfinfo", pdf], stdout=subprocess.PIPE,
                                  timeout=30).stdout.decode()
            self.assertEqual(int(re.search(r"Pages:\s+(\d+)", info).group(1)), pages,
                             "%s: %s" % (name, info))
            w = float(re.search(r"Page size:\s+([\d.]+) x", info).group(1))
            self.assertAlmostEqual(w, width_pt, delta=1.5, msg=name)
            text = subprocess.run(["pdftotext", "-layout", pdf, "-"], stdout=subprocess.PIPE,
                                  timeout=30).stdout.decode("utf-8", "replace")
            self.assertIn(no[:4], text, name)
            self.assertIn(no[-3:], text.replace(" ", ""), name)
            self.assertIn("受理回执", text.replace(" ", ""), name)
            self.assertNotIn("登记下一件", text, "%s: the page's links printed" % name)
            self.assertNotIn("退出", text, "%s: the bar printed" % name)
            png = os.path.join(work, name)
            subprocess.run(["pdftoppm", "-png", "-r", "110", "-singlefile", pdf, png],
                           check=True, timeout=60)
            print("# receipt %s: %s.png" % (name, png), flush=True)
        # nothing of the receipt is cut off on the roll: every line is within the page
        self.assertLessEqual(out["roll_overflow"], 0, out)
        self.assertEqual(self.store_rows("SELECT channel, registrar FROM cases WHERE "
                                         "case_no = ?", (no,)), [("phone", self.user)])


BROWSER_JS = r"""
const { chromium } = require('playwright-core');

(async () => {
  const [url, user, password, dir] = process.argv.slice(2);
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
           '--disable-background-networking', '--no-first-run', '--disable-extensions'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 },
                                         javaScriptEnabled: false });
    page.setDefaultTimeout(20000);
    await page.goto(url + '/window/login');
    await page.fill('#f-username', user);
    await page.fill('#f-password', password);
    await Promise.all([page.waitForURL(url + '/window'),
                       page.click('form[action="/window/login"] button')]);
    await page.goto(url + '/window/new');
    await page.selectOption('#f-channel', 'phone');
    await page.selectOption('#f-kind', 'complaint');
    await page.fill('#f-name', '王五');
    await page.fill('#f-phone', '13612345678');
    await page.fill('#f-subject', '来电反映：社保窗口午休时间不办理业务，群众白跑一趟');
    await page.fill('#f-body', '群众来电称中午十二点到窗口，工作人员说午休不办理。');
    await page.fill('#f-target', '社保窗口');
    await Promise.all([page.waitForURL(/\/window\/receipt\//),
                       page.click('form[action="/window/new"] button[type="submit"]')]);
    const caseNo = (await page.textContent('#slip-case-no')).trim();
    const receipt = page.url();
    await page.emulateMedia({ media: 'print' });
    await page.pdf({ path: dir + '/a5.pdf', format: 'A5', printBackground: true });
    await page.pdf({ path: dir + '/css-a5.pdf', preferCSSPageSize: true });
    await page.goto(receipt + '?paper=80');
    await page.pdf({ path: dir + '/roll80.pdf', width: '80mm', height: '200mm',
                     margin: { top: '4mm', bottom: '4mm', left: '3mm', right: '3mm' } });
    await page.pdf({ path: dir + '/css-roll80.pdf', preferCSSPageSize: true });
    // at the roll's printable width (80 mm less 3 mm each side, at 96 px an inch), nothing
    // sticks out sideways
    await page.setViewportSize({ width: Math.floor(74 / 25.4 * 96), height: 900 });
    const rollOverflow = await page.evaluate(() => {
      const slip = document.getElementById('slip');
      let worst = 0;
      for (const el of slip.querySelectorAll('*')) {
        worst = Math.max(worst, el.getBoundingClientRect().right - document.documentElement.clientWidth);
      }
      return worst;
    });
    await page.emulateMedia({ media: 'screen' });
    await page.setViewportSize({ width: 360, height: 740 });
    await page.goto(url + '/window/new');
    const overflow = await page.evaluate(
      () => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    console.log(JSON.stringify({ case_no: caseNo, phone_overflow: overflow,
                                 roll_overflow: rollOverflow }));
  } finally {
    await browser.close();
  }
})().catch((e) => { console.error(e); process.exit(1); });
"""


if __name__ == "__main__":
    unittest.main()
