"""SPEC 5.6: the county tells citizens by SMS and e-mail, each notice exactly once per event
and channel, across crashes of the notifier, the gateway and the database.

One node for the module: the hall, the county MariaDB, the staff console, the reference SMS
gateway (sms-gateway behind its nginx) and the demo's real SMTP server (aiosmtpd, delivering
into the Maildir $VAR/mail). The demo's county-notifier is replaced by one the tests run
(Notifier below), so that they can kill it, point it at a fault-injecting proxy in front of
the gateway, and shorten its timeouts and backoff. What the citizen got is read where the
citizen would see it: the gateway's list of messages per number, and the Maildir.

E-mail over SMTP has no idempotency key: when the notifier dies after the SMTP server took a
message and before the county marked it sent, the message goes again with the same
Message-ID, which mail programs show once. The tests hold e-mail to that: every event's
message arrives, one Message-ID per event, and raw repeats only as many as the kills.
"""

import email
import email.header
import email.policy
import glob
import json
import os
import random
import re
import signal
import socketserver
import threading
import subprocess
import time
import unittest
import urllib.request

from county import County, sql_str, wait_until
from faultproxy import FaultProxy
from harness import BUILD, CONSULT, NO_LIMITS, ROOT, Node

NOTIFIER = os.path.join(ROOT, BUILD, "county-notifier")
SIGNATURE = "【长沙县政务服务】"
STATUS_TEXT = {"delivered": "已送达县级", "accepted": "已受理", "transferred": "已转办",
               "answered": "已答复", "resolved": "已办结", "rejected": "不予受理"}


class Notifier:
    """county-notifier run by the tests, with the demo's INI and the tests' changes."""

    def __init__(self, node, sms_url):
        self.node = node
        self.ini = os.path.join(node.var, "notifier", "test-notifier.ini")
        self.log_path = os.path.join(node.var, "log", "test-notifier.log")
        self.proc = None
        self.kills = 0
        self.configure(sms_url)

    def configure(self, sms_url, extra=""):
        with open(os.path.join(self.node.var, "notifier", "notifier.ini"), encoding="utf-8") as f:
            base = f.read()
        token = os.path.join(self.node.var, "sms", "token")
        fd = os.open(self.ini, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            # later keys win: short timeouts (lease 7 s) and a quick backoff for the tests
            f.write(base + "\n[notifier]\npoll_ms = 100\nbackoff_base_s = 1\n"
                    "backoff_max_s = 2\n[sms]\nurl = %s\ntoken_file = %s\ntimeout_s = 2\n"
                    "[email]\ntimeout_s = 2\n%s" % (sms_url, token, extra))

    def start(self):
        assert self.proc is None or self.proc.poll() is not None
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen([NOTIFIER, "-c", self.ini, "run"],
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                         start_new_session=True)

    def kill9(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
            self.kills += 1

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(15)

    def log(self):
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()


class ScriptedSmtp:
    """An SMTP server on loopback that answers as a county's mail relay set up wrongly
    would: 553 to MAIL FROM while refuse_sender is set (a sender it does not take), 550
    5.7.1 to every RCPT while deny_relay is set (relaying denied), and 550 5.1.1 to RCPT
    for the addresses in bad (no such mailbox); otherwise it takes the message. It counts
    each refusal and keeps the recipients of what it took."""

    def __init__(self):
        self.refuse_sender = True
        self.deny_relay = False
        self.bad = set()
        self.refused = {"MAIL": 0, "RELAY": 0, "RCPT": 0}
        self.taken = []
        outer = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                def say(line):
                    self.wfile.write(line.encode() + b"\r\n")
                say("220 relay.county.example ESMTP")
                rcpt = None
                for raw in self.rfile:
                    cmd = raw.decode("ascii", "replace").strip()
                    verb = cmd.split(" ", 1)[0].split(":", 1)[0].upper()
                    if verb in ("EHLO", "HELO"):
                        say("250 relay.county.example")
                    elif verb == "MAIL":
                        if outer.refuse_sender:
                            outer.refused["MAIL"] += 1
                            say("553 5.7.1 Sender address rejected: not owned by user")
                        else:
                            say("250 2.1.0 Ok")
                    elif verb == "RCPT":
                        rcpt = cmd.split("<", 1)[1].rstrip(">")
                        if outer.deny_relay:
                            outer.refused["RELAY"] += 1
                            say("550 5.7.1 <%s>: Relay access denied" % rcpt)
                        elif rcpt in outer.bad:
                            outer.refused["RCPT"] += 1
                            say("550 5.1.1 <%s>: Recipient address rejected: User unknown"
                                % rcpt)
                        else:
                            say("250 2.1.5 Ok")
                    elif verb == "DATA":
                        say("354 End data with <CR><LF>.<CR><LF>")
                        for body in self.rfile:
                            if body in (b".\r\n", b".\n"):
                                break
                        outer.taken.append(rcpt)
                        say("250 2.0.0 Ok: queued")
                    elif verb == "QUIT":
                        say("221 2.0.0 Bye")
                        return
                    else:
                        say("250 Ok")

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]

    def start(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class NotifyTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.node = Node("notify", county=True, staff=True, sms=True, notify=True)
        cls.node.extra_ini = NO_LIMITS
        cls.node.start()
        cls.county = County(cls.node)
        env = cls.node.run_env()
        cls.sms_url, cls.sms_token = env["SMS_URL"], env["SMS_TOKEN"]
        cls.mail_dir = env["MAIL_DIR"]
        # the demo's notifier makes way for the tests' own
        with open(os.path.join(cls.node.var, "run", "county-notifier.pid")) as f:
            os.kill(int(f.read()), signal.SIGTERM)
        cls.notifier = Notifier(cls.node, cls.sms_url)
        cls.notifier.start()
        cls.phone_seq = 0

    @classmethod
    def tearDownClass(cls):
        cls.notifier.stop()
        cls.node.cleanup()

    # ---- what the citizen got -----------------------------------------------------------
    def sms(self, to=None):
        """The gateway's messages (to one number, or all), in the order received."""
        out, since = [], 0
        while True:
            q = "limit=10000&since=%d" % since + ("&to=" + to if to else "")
            req = urllib.request.Request(self.sms_url + "/v1/sms?" + q,
                                         headers={"Authorization": "Bearer " + self.sms_token})
            with urllib.request.urlopen(req, timeout=20) as r:
                page = json.loads(r.read().decode("utf-8"))["messages"]
            out += page
            if len(page) < 10000:
                return out
            since = page[-1]["seq"]

    def mails(self, to=None):
        """(Message-ID, To, Subject, body) of every message in the Maildir."""
        out = []
        def delivered(path):
            # Maildir's name: SECONDS.M<microseconds>P<pid>Q<n>..., the order of delivery
            sec, _, rest = os.path.basename(path).partition(".")
            return (int(sec), int(rest[1:rest.index("P")]), path)
        for path in sorted(glob.glob(os.path.join(self.mail_dir, "new", "*")) +
                           glob.glob(os.path.join(self.mail_dir, "cur", "*")), key=delivered):
            with open(path, "rb") as f:
                m = email.message_from_binary_file(f, policy=email.policy.default)
            if to is not None and m["To"] != to:
                continue
            out.append((m["Message-ID"], m["To"], str(m["Subject"]),
                        m.get_content()))
        return out

    # ---- making cases and events --------------------------------------------------------
    def phone(self):
        NotifyTest.phone_seq += 1
        return "139%08d" % (int(time.time()) % 1000 * 100000 + NotifyTest.phone_seq)

    def submit(self, **changes):
        body = dict(CONSULT)
        body.update(changes)
        r = self.node.request("POST", "/api/v1/consultations",
                              body=json.dumps(body, ensure_ascii=False).encode("utf-8"),
                              headers={"Content-Type": "application/json"})
        self.assertEqual(r.status, 201, r)
        return r.json()["case_no"]

    def sync(self, case_no):
        """Runs the agent once until the county holds the case."""
        agent = os.path.join(ROOT, BUILD, "hall-agent")

        def there():
            subprocess.run([agent, "-c", self.node.ini_path, "once"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=60)
            return self.county.count("cases", "case_no = %s" % sql_str(case_no))
        wait_until(there, 60, 0.5, "the case at the county")

    def county_case(self, case_no, phone, mail, kind="consultation"):
        """A case as hall_upload stores it, straight into the county (the burst tests)."""
        self.county.sql(
            "INSERT INTO cases (case_no, id, hall_code, kind, category, subject, body, name, phone,"
            " email, submitted_at, due_at) VALUES (%s, %s, %s, %s, 'policy', '测试', '测试', '张三',"
            " %s, %s, NOW(), NOW() + INTERVAL 3 DAY)"
            % (sql_str(case_no), sql_str(self.county.hall_code + "-T" + case_no[-10:]),
               sql_str(self.county.hall_code), sql_str(kind), sql_str(phone),
               "NULL" if mail is None else sql_str(mail)))

    def pending(self):
        return self.county.count("notifications", "state = 'pending'")

    def drained(self, timeout=120):
        wait_until(lambda: self.pending() == 0, timeout, 0.3, "every notice sent")

    # ---- the tests ----------------------------------------------------------------------
    def test_each_status_change_one_sms_and_one_email(self):
        phone, mail = self.phone(), "citizen-%d@example.cn" % NotifyTest.phone_seq
        no = self.submit(phone=phone, email=mail)
        self.sync(no)
        for status in ("accepted", "answered", "resolved"):
            self.county.answer(no, status, "县级说明：%s" % status)
        self.drained()
        events = ["delivered", "accepted", "answered", "resolved"]
        got = self.sms(phone)
        self.assertEqual(len(got), len(events), got)
        for m, ev in zip(got, events):
            self.assertTrue(m["text"].startswith(SIGNATURE), m)
            self.assertIn(no, m["text"])
            self.assertIn(STATUS_TEXT[ev], m["text"])
            self.assertLessEqual(len(m["text"]), 70)
        ids = [r[0] for r in self.county.rows(
            "SELECT id FROM notifications WHERE case_no = %s AND channel = 'sms' "
            "ORDER BY created_at" % sql_str(no))]
        self.assertEqual([m["id"] for m in got], ids)
        mails = self.mails(mail)
        self.assertEqual(len(mails), len(events), mails)
        self.assertEqual(len({m[0] for m in mails}), len(events))
        for (mid, to, subject, body), ev in zip(mails, events):
            self.assertIn(SIGNATURE, subject)
            self.assertIn(STATUS_TEXT[ev], subject)
            self.assertIn(no, body)
        self.assertIn("县级说明：answered", mails[2][3])
        # the notices are marked, and the notifier's account changed nothing else
        self.assertEqual(self.county.count("notifications", "case_no = %s AND state = 'sent'"
                                           % sql_str(no)), 8)

    def test_staff_answer_reaches_the_citizen_within_seconds(self):
        from test_staff import Client
        phone, mail = self.phone(), "staff-%d@example.cn" % NotifyTest.phone_seq
        no = self.submit(phone=phone, email=mail)
        self.sync(no)
        self.drained()
        env = self.node.run_env()
        c = Client(self.node.staff_port)
        r = c.login(env["STAFF_USER"], env["STAFF_PASSWORD"])
        self.assertIn(r.status, (302, 303), r)
        t0 = time.monotonic()
        r = c.submit("/cases/" + no, "/cases/" + no, {"note": "您咨询的事项可以网上办理。"},
                     form_id="answer")
        self.assertIn(r.status, (302, 303), r)
        wait_until(lambda: any("已答复" in m["text"] for m in self.sms(phone)), 20, 0.2,
                   "the SMS of the answer")
        wait_until(lambda: any("已答复" in m[2] for m in self.mails(mail)), 20, 0.2,
                   "the e-mail of the answer")
        print("\n# answer in the console -> SMS and e-mail: %.1f s" % (time.monotonic() - t0))
        self.assertTrue(any("您咨询的事项可以网上办理" in m[3] for m in self.mails(mail)))

    def test_transfer_and_rejection_in_the_console_tell_the_citizen(self):
        from test_staff import Client
        env = self.node.run_env()
        c = Client(self.node.staff_port)
        c.login(env["STAFF_USER"], env["STAFF_PASSWORD"])
        moved_phone, refused_mail = self.phone(), "refused-%d@example.cn" % NotifyTest.phone_seq
        moved = self.submit(phone=moved_phone)
        refused = self.submit(phone=self.phone(), email=refused_mail)
        self.sync(moved)
        self.sync(refused)
        self.county.sql("INSERT IGNORE INTO halls (hall_code, name, county_code, db_user) "
                        "VALUES ('430121003000', '长沙县泉塘街道政务服务中心', '430121', "
                        "'hall_430121003000')")
        r = c.submit("/cases/" + moved, "/cases/" + moved,
                     {"target": "430121003000", "note": "属人社业务"}, form_id="transfer")
        self.assertEqual(r.status, 303, r)
        r = c.submit("/cases/" + refused, "/cases/" + refused,
                     {"note": "不属于本县受理范围，请向市市场监督管理局反映。"}, form_id="reject")
        self.assertEqual(r.status, 303, r)
        self.drained()
        self.assertTrue(any("已转办" in m["text"] for m in self.sms(moved_phone)),
                        self.sms(moved_phone))
        mails = self.mails(refused_mail)
        self.assertEqual([("不予受理" in s) for _, _, s, _ in mails], [False, True], mails)
        self.assertIn("原因：\n不属于本县受理范围", mails[1][3].replace("\r\n", "\n"))

    def test_opted_out_gets_nothing_and_landline_gets_email_only(self):
        out_phone = self.phone()
        opted = self.submit(phone=out_phone, email="out@example.cn", notify=False)
        land = self.submit(phone="0731-84567890", email="land-%d@example.cn"
                           % NotifyTest.phone_seq)
        self.sync(opted)
        self.sync(land)
        for no in (opted, land):
            self.county.answer(no, "answered", "答复")
        self.drained()
        self.assertEqual(self.county.count("notifications", "case_no = %s" % sql_str(opted)), 0)
        self.assertEqual(self.sms(out_phone), [])
        self.assertEqual(self.mails("out@example.cn"), [])
        self.assertEqual(self.county.count(
            "notifications", "case_no = %s AND channel = 'sms'" % sql_str(land)), 0)
        self.assertEqual(len(self.mails("land-%d@example.cn" % NotifyTest.phone_seq)), 2)

    def test_resent_query_code_arrives_by_sms_and_is_not_kept(self):
        phone = self.phone()
        no = self.submit(phone=phone, email="code-%d@example.cn" % NotifyTest.phone_seq)
        self.sync(no)
        self.drained()
        r = self.node.request("POST", "/api/v1/cases/%s/resend-code" % no, body=b"{}",
                              headers={"Content-Type": "application/json"})
        self.assertEqual(r.status, 202, r)
        self.assertNotIn(b'"code"', r.body)
        agent = os.path.join(ROOT, BUILD, "hall-agent")
        wait_until(lambda: subprocess.run([agent, "-c", self.node.ini_path, "once"],
                                          stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL).returncode == 0 and
                   any("新查询码" in m["text"] for m in self.sms(phone)), 30, 0.3,
                   "the SMS with the new code")
        texts = [m["text"] for m in self.sms(phone) if "新查询码" in m["text"]]
        self.assertEqual(len(texts), 1, texts)
        self.assertLessEqual(len(texts[0]), 70)
        code = re.search(r"新查询码为(\d{6})", texts[0]).group(1)
        # the new code opens the case; the county forgot it once sent; no e-mail carried it
        r = self.node.request("GET", "/api/v1/cases/%s?code=%s" % (no, code))
        self.assertEqual(r.status, 200, r)
        wait_until(lambda: self.county.count(
            "notifications", "case_no = %s AND event = 'code' AND state = 'sent' AND "
            "secret IS NULL" % sql_str(no)) == 1, 10, 0.2, "the code forgotten")
        self.assertEqual(self.county.count(
            "notifications", "case_no = %s AND event = 'code' AND channel = 'email'"
            % sql_str(no)), 0)
        self.assertFalse(any(code in m[3] for m in self.mails()))

    def test_only_the_newest_of_waiting_codes_is_sent(self):
        """Two new codes asked for while the notifier is away: the county sends the newest
        only (the older is dead) and forgets the older one's code."""
        phone = self.phone()
        no = self.submit(phone=phone)
        self.sync(no)
        self.drained()
        self.notifier.stop()
        agent = os.path.join(ROOT, BUILD, "hall-agent")
        try:
            for _ in range(2):
                r = self.node.request("POST", "/api/v1/cases/%s/resend-code" % no, body=b"{}",
                                      headers={"Content-Type": "application/json"})
                self.assertEqual(r.status, 202, r)
                # the 10-minute limit, as if the time had passed
                con = self.node.db()
                with con:
                    con.execute("UPDATE code_resends SET at = at - 700 WHERE case_no = ?", (no,))
                con.close()
                subprocess.run([agent, "-c", self.node.ini_path, "once"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
            rows = self.county.rows("SELECT state, secret IS NULL, last_error FROM notifications "
                                    "WHERE case_no = %s AND event = 'code' ORDER BY ref"
                                    % sql_str(no))
            self.assertEqual(rows, [("failed", "1", "superseded by a newer code"),
                                    ("pending", "0", None)])
        finally:
            self.notifier.start()
        wait_until(lambda: any("新查询码" in m["text"] for m in self.sms(phone)), 30, 0.2,
                   "the SMS with the code")
        self.drained()
        texts = [m["text"] for m in self.sms(phone) if "新查询码" in m["text"]]
        self.assertEqual(len(texts), 1, texts)
        code = re.search(r"新查询码为(\d{6})", texts[0]).group(1)
        self.assertEqual(self.node.request("GET", "/api/v1/cases/%s?code=%s" % (no, code)).status,
                         200)

    def test_a_code_superseded_while_its_sms_hangs_stays_given_up(self):
        """A new code asked for while the SMS of the one before is in flight: the county
        gives the older notice up (superseded) and the failed send must not bring it back."""
        phone = self.phone()
        no = self.submit(phone=phone)
        self.sync(no)
        self.drained()
        agent = os.path.join(ROOT, BUILD, "hall-agent")

        def new_code():
            r = self.node.request("POST", "/api/v1/cases/%s/resend-code" % no, body=b"{}",
                                  headers={"Content-Type": "application/json"})
            self.assertEqual(r.status, 202, r)
            con = self.node.db()
            with con:    # the 10-minute limit, as if the time had passed
                con.execute("UPDATE code_resends SET at = at - 700 WHERE case_no = ?", (no,))
            con.close()
            subprocess.run([agent, "-c", self.node.ini_path, "once"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)

        proxy = FaultProxy(self.node.sms_port).start()
        try:
            self.notifier.stop()
            # the gateway takes the first SMS and does not answer for the send's 10 s
            self.notifier.configure(proxy.url, "[sms]\ntimeout_s = 10\n")
            proxy.set_mode("stall", times=1)
            self.notifier.start()
            new_code()
            wait_until(lambda: proxy.count("stall") >= 1, 30, 0.1, "the first code's SMS")
            new_code()
            wait_until(lambda: self.county.count(
                "notifications", "case_no = %s AND event = 'code' AND state = 'pending'"
                % sql_str(no)) == 0, 60, 0.2, "the codes' notices done")
            rows = self.county.rows("SELECT state, secret IS NULL, last_error FROM notifications "
                                    "WHERE case_no = %s AND event = 'code' ORDER BY ref"
                                    % sql_str(no))
            self.assertEqual(rows[0], ("failed", "1", "superseded by a newer code"), rows)
            self.assertEqual(rows[1][:2], ("sent", "1"), rows)
        finally:
            self.notifier.stop()
            self.notifier.configure(self.sms_url)
            self.notifier.start()
            proxy.stop()

    def test_gateway_500_timeout_and_lost_answer_send_once(self):
        proxy = FaultProxy(self.node.sms_port).start()
        try:
            self.notifier.stop()
            self.notifier.configure(proxy.url)
            self.notifier.start()
            phones = [self.phone() for _ in range(3)]
            cases = []
            for i, mode in enumerate(("500", "stall", "reset_before")):
                # each case's first SMS meets one fault, then the proxy passes
                proxy.set_mode(mode, times=1)
                no = "T%02d" % i + self.county.hall_code + "%09d" % (time.time_ns() % 10 ** 9)
                self.county_case(no, phones[i], None)
                cases.append(no)
                wait_until(lambda: proxy.count(mode) >= 1, 30, 0.1, "the %s fault" % mode)
            self.drained(60)
            for no, ph in zip(cases, phones):
                got = self.sms(ph)
                self.assertEqual(len(got), 1, (no, got))
                self.assertIn(no, got[0]["text"])
            # the lost answer: the gateway took it, and the repeat was a duplicate
            dups = [s for s in proxy.requests if s.path == "/v1/sms" and s.upstream_body and
                    b'"duplicate"' in s.upstream_body]
            self.assertGreaterEqual(len(dups), 1, [(s.mode, s.upstream_body) for s in
                                                   proxy.requests])
            self.assertIn("HTTP 500", self.notifier.log())
        finally:
            self.notifier.stop()
            self.notifier.configure(self.sms_url)
            self.notifier.start()
            proxy.stop()

    def test_a_hanging_gateway_holds_no_email_back(self):
        """The SMS gateway takes each message and then never answers (every SMS costs the
        notifier its 2 s timeout): the e-mails of the same cases still go at once, and each
        SMS once when the gateway answers again."""
        proxy = FaultProxy(self.node.sms_port).start()
        try:
            self.notifier.stop()
            self.notifier.configure(proxy.url)
            proxy.set_mode("stall")
            self.notifier.start()
            n = 12
            phones = [self.phone() for _ in range(n)]
            mails = ["hang-%d@example.cn" % NotifyTest.phone_seq + "-%d" % i for i in range(n)]
            cases = []
            for i in range(n):
                no = "H%02d" % i + self.county.hall_code + "%09d" % (time.time_ns() % 10 ** 9)
                self.county_case(no, phones[i], mails[i])
                cases.append(no)
            wait_until(lambda: all(self.mails(m) for m in mails), 90, 0.1, "every e-mail")
            # each e-mail behind the SMS of the cases before it would have waited for as many
            # SMS timeouts as there are cases: here only for the channel's first of a pass
            stalls = proxy.count("stall")
            self.assertGreaterEqual(stalls, 1)
            self.assertLess(stalls, n // 2, "the e-mails waited behind the hanging SMS")
            proxy.set_mode("pass")
            self.drained(120)
            for no, ph, m in zip(cases, phones, mails):
                self.assertEqual(len(self.sms(ph)), 1, no)
                self.assertEqual(len(self.mails(m)), 1, no)
        finally:
            self.notifier.stop()
            self.notifier.configure(self.sms_url)
            self.notifier.start()
            proxy.stop()

    def test_gateway_down_an_hour_then_everything_once_in_order(self):
        proxy = FaultProxy(self.node.sms_port).start()
        try:
            self.notifier.stop()
            self.notifier.configure(proxy.url)
            proxy.set_mode("500")
            self.notifier.start()
            phones, cases = [self.phone() for _ in range(5)], []
            for i, ph in enumerate(phones):
                no = "D%02d" % i + self.county.hall_code + "%09d" % (time.time_ns() % 10 ** 9)
                self.county_case(no, ph, None)
                cases.append(no)
            for status in ("accepted", "answered", "resolved"):
                for no in cases:
                    self.county.answer(no, status, "说明")
            wait_until(lambda: proxy.count("500") >= 10, 30, 0.2, "failed attempts")
            # an hour of outage: the notices are an hour old, and the dashboard says so
            self.county.sql("UPDATE notifications SET created_at = created_at - INTERVAL 1 HOUR,"
                            " last_error_at = last_error_at - INTERVAL 1 MINUTE "
                            "WHERE state = 'pending'")
            self.assertGreaterEqual(self.pending(), 20)
            page = self.dashboard()
            self.assertIn('data-channel="sms"', page)
            oldest = re.search(r'data-channel="sms">.*?data-oldest="(\d+)"', page)
            self.assertGreaterEqual(int(oldest.group(1)), 3600, page)
            row = re.search(r'<tr data-channel="sms">.*?</tr>', page).group(0)
            # the channel's newest error, with its age: this outage's 500, or the timeout an
            # earlier test left on a notice since sent, when no retry has come since the UPDATE
            self.assertRegex(row, r"秒前</span> http://127\.0\.0\.1:\d+/v1/sms"
                                  r"(: \S| answered HTTP 500)", row)
            proxy.set_mode("pass")
            self.drained(120)
            for no, ph in zip(cases, phones):
                got = [m["text"] for m in self.sms(ph)]
                order = [ev for t in got for ev, w in STATUS_TEXT.items() if w in t]
                self.assertEqual(order, ["delivered", "accepted", "answered", "resolved"], got)
            self.assertEqual(self.county.count(
                "notifications", "state = 'failed' AND case_no IN (%s)"
                % ", ".join(sql_str(no) for no in cases)), 0)
        finally:
            self.notifier.stop()
            self.notifier.configure(self.sms_url)
            self.notifier.start()
            proxy.stop()

    def dashboard(self):
        from test_staff import Client
        env = self.node.run_env()
        c = Client(self.node.staff_port)
        c.login(env["STAFF_USER"], env["STAFF_PASSWORD"])
        r = c.get("/dashboard")
        self.assertEqual(r.status, 200, r)
        return r.body.decode("utf-8")

    def test_a_sender_the_mail_server_refuses_is_tried_again_not_given_up(self):
        """A 553 to MAIL FROM, or a 550 5.7.1 (relaying denied) to RCPT, is the county's
        own set-up, not the citizen's address: the e-mail waits and goes once it is put
        right. A 550 5.1.1 to RCPT is the address: given up."""
        smtp = ScriptedSmtp().start()
        try:
            self.notifier.stop()
            self.notifier.configure(self.sms_url, "url = smtp://127.0.0.1:%d\nstarttls = 0\n"
                                   % smtp.port)
            self.notifier.start()
            good = "relay-%d@example.cn" % NotifyTest.phone_seq
            bad = "nobody-%d@example.cn" % NotifyTest.phone_seq
            smtp.bad.add(bad)
            cases = []
            for i, mail in enumerate((good, bad)):
                no = "M%02d" % i + self.county.hall_code + "%09d" % (time.time_ns() % 10 ** 9)
                self.county_case(no, self.phone(), mail)
                cases.append(no)
            wait_until(lambda: smtp.refused["MAIL"] >= 3, 30, 0.1, "e-mails refused at MAIL")
            self.assertEqual(self.county.count("notifications", "channel = 'email' AND state ="
                                               " 'failed' AND case_no IN (%s, %s)"
                                               % (sql_str(cases[0]), sql_str(cases[1]))), 0)
            self.assertIn("(SMTP 553 5.7.1 to MAIL)", self.notifier.log())
            smtp.deny_relay = True          # the sender put right, relaying not yet
            smtp.refuse_sender = False
            wait_until(lambda: smtp.refused["RELAY"] >= 3, 30, 0.1, "e-mails refused at RCPT")
            self.assertEqual(self.county.count("notifications", "channel = 'email' AND state ="
                                               " 'failed' AND case_no IN (%s, %s)"
                                               % (sql_str(cases[0]), sql_str(cases[1]))), 0)
            self.assertIn("(SMTP 550 5.7.1 to RCPT)", self.notifier.log())
            smtp.deny_relay = False         # the relay put right
            wait_until(lambda: good in smtp.taken, 30, 0.1, "the e-mail, once the relay works")
            wait_until(lambda: self.county.count(
                "notifications", "channel = 'email' AND case_no = %s AND state = 'failed'"
                % sql_str(cases[1])) == 1, 30, 0.1, "the unknown address given up")
            self.assertEqual(smtp.refused["RCPT"], 1)
            self.assertEqual(smtp.taken.count(good), 1)
            self.assertNotIn(bad, smtp.taken)
        finally:
            self.notifier.stop()
            self.notifier.configure(self.sms_url)
            self.notifier.start()
            smtp.stop()

    def test_county_database_killed_while_sending(self):
        """The database dies under the notifier (kill -9, mid-batch) and comes back: the
        notifier reconnects, marks what it had sent, and nothing goes twice or is lost."""
        ncases = 60
        phones = [self.phone() for _ in range(ncases)]
        cases = ["K%03d" % i + self.county.hall_code + "%08d" % (time.time_ns() % 10 ** 8)
                 for i in range(ncases)]
        for no, ph in zip(cases, phones):
            self.county_case(no, ph, None)
        self.county.sql("".join(
            "INSERT INTO case_events (case_no, status, note, actor) VALUES (%s, 'accepted', "
            "'说明', 'test');" % sql_str(no) for no in cases))
        wait_until(lambda: len([m for m in self.sms() if m["to"] in phones]) >= 10, 30, 0.05,
                   "the first SMS")
        self.county.kill9()
        time.sleep(2)
        self.county.start()
        self.drained(120)
        got = {}
        for m in self.sms():
            if m["to"] in phones:
                got.setdefault(m["to"], []).append(m["text"])
        for no, ph in zip(cases, phones):
            self.assertEqual(len(got.get(ph, [])), 2, (no, got.get(ph)))
        self.assertIn("county", self.notifier.log())
        self.assertTrue(self.notifier.proc.poll() is None, "the notifier died with the database")

    def test_kill9_during_a_burst_of_500_status_changes(self):
        rng = random.Random(13)
        ncases = 125            # delivered + 3 county events each: 500 status changes
        base = NotifyTest.phone_seq
        phones = [self.phone() for _ in range(ncases)]
        mails = ["burst-%d@example.cn" % (base + i) for i in range(ncases)]
        cases = ["B%03d" % i + self.county.hall_code + "%08d" % (time.time_ns() % 10 ** 8)
                 for i in range(ncases)]
        kills_before = self.notifier.kills
        t0 = time.monotonic()
        # the whole burst waits for the notifier, so that the kills all fall while it sends
        self.notifier.stop()
        for no, ph, ml in zip(cases, phones, mails):
            self.county_case(no, ph, ml)
        for status in ("accepted", "answered", "resolved"):
            self.county.sql("".join(
                "INSERT INTO case_events (case_no, status, note, actor) VALUES (%s, %s, '说明',"
                " 'test');" % (sql_str(no), sql_str(status)) for no in cases))
        self.notifier.start()
        # kill -9 at random instants while the notices go out, starting it again each time;
        # often, as a notifier that lives half a second sends them all in a few of its lives
        # (a fresh machine's first run made only 4 kills at 0.1-0.8 s)
        deadline = time.monotonic() + 40
        while self.pending() > 0 and time.monotonic() < deadline:
            time.sleep(rng.uniform(0.02, 0.25))
            self.notifier.kill9()
            self.notifier.start()
        kills = self.notifier.kills - kills_before
        self.assertGreaterEqual(kills, 10)
        self.drained(180)
        took = time.monotonic() - t0
        events = ["delivered", "accepted", "answered", "resolved"]
        all_sms = self.sms()
        by_to = {}
        for m in all_sms:
            by_to.setdefault(m["to"], []).append(m["text"])
        mail_by_to = {}
        for mid, to, subject, body in self.mails():
            mail_by_to.setdefault(to, []).append((mid, subject))
        repeats = 0
        for no, ph, ml in zip(cases, phones, mails):
            got = by_to.get(ph, [])
            self.assertEqual([ev for t in got for ev, w in STATUS_TEXT.items() if w in t],
                             events, (no, got))
            ms = mail_by_to.get(ml, [])
            ids = []
            for mid, subject in ms:
                if mid not in ids:
                    ids.append(mid)
            repeats += len(ms) - len(ids)
            self.assertEqual(len(ids), 4, (no, ms))
            firsts = [next(s for m2, s in ms if m2 == mid) for mid in ids]
            self.assertEqual([ev for s in firsts for ev, w in STATUS_TEXT.items() if w in s],
                             events, (no, ms))
        self.assertLessEqual(repeats, kills)
        print("\n# %d notices (SMS and e-mail for 500 status changes), %d kill -9: every SMS "
              "once, every e-mail's Message-ID once, %d raw e-mail repeat(s); %.1f s"
              % (2 * 4 * ncases, kills, repeats, took))


if __name__ == "__main__":
    unittest.main()
