"""Issue 11, trust (SPEC 5.2, 5.3, 6, 8, 11): every link is TLS, verified; clear text off the
machine is refused unless asked for; secrets and stores are their owner's alone.

One node (`conf/demo start` with its county MariaDB, the province receiver and the staff
console) whose county also listens on one of this machine's own addresses that is not
loopback, so that a "remote" county can be reached for real. The tests run hall-agent
themselves, each with an INI of its own (the node's, with a few lines appended: later keys
win), and a second CA made here stands for a wrong one.
"""

import http.client
import os
import re
import socket
import ssl
import stat
import subprocess
import unittest

from county import AGENT, County, hall_backlog, submit_many, wait_until
from harness import BUILD, NO_LIMITS, ROOT, Node

STAFF_CONSOLE = os.path.join(ROOT, BUILD, "staff-console")


def own_address():
    """An IPv4 address of this machine that is not loopback (None when it has none): the
    one it would use to reach the outside. A UDP connect sends nothing."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect(("192.0.2.1", 9))
        addr = s.getsockname()[0]
    except OSError:
        return None
    finally:
        s.close()
    return None if addr.startswith("127.") or addr == "0.0.0.0" else addr


OWN = own_address()


class TlsNode(Node):
    """A node whose county also listens on OWN (COUNTY_BIND): its server certificate must
    then name that address too."""

    def _env(self):
        env = super()._env()
        if OWN:
            env["COUNTY_BIND"] = "127.0.0.1,%s" % OWN
        return env


def make_other_ca(folder):
    """A CA of our own that signed nothing the node presents: the wrong CA."""
    key, pem = os.path.join(folder, "other-ca.key"), os.path.join(folder, "other-ca.pem")
    if not os.path.exists(pem):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                        "-subj", "/CN=not the county's CA", "-keyout", key, "-out", pem],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return pem


class TlsTest(unittest.TestCase):
    node = None

    @classmethod
    def setUpClass(cls):
        cls.node = TlsNode("tls", county=True, agent=False, province=True, staff=True)
        cls.addClassCleanup(cls.node.cleanup)
        cls.node.start(NO_LIMITS)
        cls.county = County(cls.node)
        cls.other_ca = make_other_ca(cls.node.var)
        cls.n_ini = 0

    # ---- helpers ------------------------------------------------------------------------
    def ini_with(self, extra):
        """A copy of the node's INI with extra appended; its path."""
        type(self).n_ini += 1
        path = os.path.join(self.node.var, "hall-test-%d.ini" % self.n_ini)
        with open(self.node.ini_path, encoding="utf-8") as f:
            text = f.read()
        with open(path, "w", encoding="utf-8") as f:
            f.write(text + "\n" + extra)
        return path

    def agent(self, ini, cmd, timeout=90):
        """hall-agent -c ini cmd: (exit status, what it printed)."""
        p = subprocess.run([AGENT, "-c", ini, cmd], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
        return p.returncode, p.stdout.decode("utf-8", "replace")

    def dest_lines(self, status, dest):
        out, keep = [], False
        for line in status.splitlines():
            if line and not line[0].isspace():
                keep = line.split()[0] == dest
            if keep:
                out.append(line)
        return "\n".join(out)

    def drain(self, ini, timeout=60):
        def once():
            rc, _ = self.agent(ini, "once")
            return rc == 0 and hall_backlog(self.node) == 0
        wait_until(once, timeout, 0.5, "the agent to deliver everything")

    # ---- the county: TLS required, verified ---------------------------------------------
    def test_hall_account_without_tls_is_refused(self):
        """SPEC 6: the hall's account is REQUIRE SSL: the county refuses it in clear text,
        whatever the client asks for; with TLS it gets in, over TLS."""
        c = self.county
        user, pw, _ = c.account("hall")
        plain = os.path.join(self.node.var, "county", "client-hall-plain.cnf")
        fd = os.open(plain, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write("[client]\nuser=%s\npassword=%s\nhost=127.0.0.1\nport=%d\nprotocol=TCP\n"
                    % (user, pw, c.port))
        argv = ["mariadb", "--defaults-extra-file=" + plain, "--skip-ssl", "-N", "-B", "county"]
        p = subprocess.run(argv, input=b"SELECT 1;", stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=30)
        self.assertNotEqual(p.returncode, 0, "the hall's account got in without TLS")
        self.assertIn("Access denied", p.stderr.decode("utf-8", "replace"))
        # the same account, over TLS verified against the demo's CA
        version = c.rows("SHOW STATUS LIKE 'Ssl_version'", account="hall")
        self.assertRegex(version[0][1], r"^TLSv1\.[23]$")
        # every hall account county-admin makes, not just the demo's
        c.add_hall("430121003000", "测试大厅")
        self.assertEqual(c.rows("SELECT user, ssl_type FROM mysql.user "
                                "WHERE user REGEXP '^hall_[0-9]{12}$' ORDER BY user"),
                         [("hall_430121001000", "ANY"), ("hall_430121003000", "ANY")])

    def test_agent_with_wrong_ca_is_a_link_error(self):
        """A county certificate that does not verify is a link error: nothing set aside,
        the records wait; with the right CA they go."""
        submit_many(self.node, 3, "证书")
        wrong = self.ini_with("[county]\ntls_ca = %s\n[province]\nurl =\n" % self.other_ca)
        rc, out = self.agent(wrong, "once")
        self.assertNotEqual(rc, 0, out)
        rc, status = self.agent(wrong, "status")
        county = self.dest_lines(status, "county")
        self.assertRegex(county, r"last error .*(?i:ssl|tls|certificate)", county)
        self.assertNotIn("QUARANTINED", status)
        self.assertGreater(hall_backlog(self.node), 0)
        # no CA at all: the system's CAs do not know the county's either
        no_ca = self.ini_with("[county]\ntls_ca =\n[province]\nurl =\n")
        self.assertNotEqual(self.agent(no_ca, "once")[0], 0)
        self.assertGreater(hall_backlog(self.node), 0)
        right = self.ini_with("[province]\nurl =\n")
        self.drain(right)
        self.assertNotIn("QUARANTINED", self.agent(right, "status")[1])

    @unittest.skipIf(OWN is None, "this machine has no address but loopback")
    def test_remote_county_with_tls_verifies_its_address(self):
        """The county at a non-loopback address: the certificate names it (COUNTY_BIND), so
        the agent verifies it and delivers."""
        submit_many(self.node, 2, "远程")
        ini = self.ini_with("[county]\nhost = %s\n[province]\nurl =\n" % OWN)
        self.drain(ini)

    def test_zz_certificate_for_another_name_is_refused(self):
        """The agent checks the name too: a certificate from the right CA for another host
        is a link error. (Named to run last: the county restarts twice.)"""
        tls = os.path.join(self.node.var, "tls")
        subprocess.run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-subj", "/CN=elsewhere",
                        "-keyout", os.path.join(tls, "other.key"),
                        "-out", os.path.join(tls, "other.csr")],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ext = os.path.join(tls, "other.ext")
        with open(ext, "w") as f:
            f.write("subjectAltName=DNS:elsewhere.example\n")
        subprocess.run(["openssl", "x509", "-req", "-in", os.path.join(tls, "other.csr"),
                        "-CA", os.path.join(tls, "ca.pem"), "-CAkey", os.path.join(tls, "ca.key"),
                        "-set_serial", "77", "-days", "2", "-extfile", ext,
                        "-out", os.path.join(tls, "other.pem")],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for name in ("server.pem", "server.key"):
            os.rename(os.path.join(tls, name), os.path.join(tls, name + ".good"))
        os.rename(os.path.join(tls, "other.pem"), os.path.join(tls, "server.pem"))
        os.rename(os.path.join(tls, "other.key"), os.path.join(tls, "server.key"))
        ini = self.ini_with("[province]\nurl =\n")
        try:
            self.county.stop()
            self.county.start()
            submit_many(self.node, 1, "主机名")
            rc, out = self.agent(ini, "once")
            self.assertNotEqual(rc, 0, out)
            status = self.agent(ini, "status")[1]
            self.assertRegex(self.dest_lines(status, "county"),
                             r"last error .*(?i:certificate|ssl|tls)")
            self.assertNotIn("QUARANTINED", status)
        finally:
            for name in ("server.pem", "server.key"):
                os.replace(os.path.join(tls, name + ".good"), os.path.join(tls, name))
            for name in ("other.csr", "other.ext"):
                os.unlink(os.path.join(tls, name))
            self.county.stop()
            self.county.start()
        self.drain(ini)

    # ---- clear text off the machine: refused unless asked for --------------------------
    def test_insecure_county_refused_at_start(self):
        host = OWN or "192.0.2.10"
        ini = self.ini_with("[county]\nhost = %s\ntls = 0\n" % host)
        for cmd in ("once", "run"):
            rc, out = self.agent(ini, cmd, timeout=30)
            self.assertNotEqual(rc, 0, out)
            self.assertIn("[county] tls = 0", out)
            self.assertIn("allow_insecure = 1", out)
        # loopback without TLS is not a link off the machine: not refused for that
        local = self.ini_with("[county]\nhost = 127.0.0.1\ntls = 0\n[province]\nurl =\n")
        rc, out = self.agent(local, "status")
        self.assertEqual(rc, 0, out)
        self.assertNotIn("WARNING", out)

    def test_insecure_province_refused_at_start(self):
        host = OWN or "192.0.2.10"
        ini = self.ini_with("[province]\nurl = http://%s:%d\n" % (host, self.node.province_port))
        rc, out = self.agent(ini, "once", timeout=30)
        self.assertNotEqual(rc, 0, out)
        self.assertIn("[province] url http://%s" % host, out)
        self.assertIn("allow_insecure = 1", out)

    def test_allow_insecure_starts_and_status_warns(self):
        host = OWN or "192.0.2.10"
        ini = self.ini_with("[county]\nhost = %s\ntls = 0\nallow_insecure = 1\n"
                            "connect_timeout_s = 2\n[province]\nurl = http://%s:%d\nallow_insecure = 1\n"
                            "connect_timeout_s = 2\n" % (host, host, self.node.province_port))
        log_path = os.path.join(self.node.var, "log", "test-insecure-agent.log")
        with os.fdopen(os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600),
                       "ab") as log:
            p = subprocess.Popen([AGENT, "-c", ini, "run"], stdin=subprocess.DEVNULL,
                                 stdout=log, stderr=log, start_new_session=True)
        try:
            def started():
                with open(log_path, encoding="utf-8", errors="replace") as f:
                    return "for hall" in f.read() or p.poll() is not None
            wait_until(started, 20, 0.05, "the agent to start")
            self.assertIsNone(p.poll(), "the agent did not start with allow_insecure = 1")
            rc, status = self.agent(ini, "status")
            # read (not 2); 1 once a link has failed with no success (hall-agent status)
            self.assertIn(rc, (0, 1), status)
            self.assertRegex(self.dest_lines(status, "county"),
                             r"WARNING .*NOT encrypted .*tls = 0")
            self.assertRegex(self.dest_lines(status, "province"),
                             r"WARNING .*NOT encrypted .*not https")
            # the county itself still refuses the hall's account in clear text
            if OWN is not None:
                def refused():
                    return re.search(r"last error .*Access denied",
                                     self.dest_lines(self.agent(ini, "status")[1], "county"))
                wait_until(refused, 30, 0.5, "the county to refuse the clear-text login")
        finally:
            p.terminate()
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)

    # ---- the province over https ---------------------------------------------------------
    def test_province_over_https_and_wrong_ca(self):
        self.assertTrue(self.node.ini()["province"]["url"].startswith("https://"))
        base = self.agent(self.ini_with("[county]\nuser =\n"), "status")[1]
        sent0 = int(re.search(r"sent\s+(\d+) record",
                              self.dest_lines(base, "province")).group(1))
        submit_many(self.node, 2, "省平台")
        wrong = self.ini_with("[county]\nuser =\n[province]\nca_file = %s\n" % self.other_ca)
        rc, out = self.agent(wrong, "once")
        self.assertNotEqual(rc, 0, out)
        status = self.agent(wrong, "status")[1]
        prov = self.dest_lines(status, "province")
        self.assertRegex(prov, r"last error .*(?i:ssl|certificate|peer)", prov)
        self.assertNotIn("QUARANTINED", status)
        self.assertRegex(prov, r"backlog\s+[1-9]")
        right = self.ini_with("[county]\nuser =\n")
        wait_until(lambda: self.agent(right, "once")[0] == 0, 60, 0.5, "the province to take it")
        prov = self.dest_lines(self.agent(right, "status")[1], "province")
        self.assertRegex(prov, r"backlog\s+0 record")
        self.assertGreater(int(re.search(r"sent\s+(\d+) record", prov).group(1)), sent0)
        # and a client that does not know the CA is refused by its own TLS check
        with self.assertRaises(ssl.SSLError):
            conn = http.client.HTTPSConnection("127.0.0.1", self.node.province_port, timeout=10)
            try:
                conn.request("GET", "/v1/health")
            finally:
                conn.close()

    # ---- the staff console ---------------------------------------------------------------
    def test_staff_console_refuses_insecure_county(self):
        host = OWN or "192.0.2.10"
        src = os.path.join(self.node.var, "staff", "staff.ini")
        with open(src, encoding="utf-8") as f:
            text = f.read()
        path = os.path.join(self.node.var, "staff", "staff-insecure.ini")
        with open(path, "w", encoding="utf-8") as f:
            f.write(text.replace("host = 127.0.0.1", "host = %s" % host)
                    .replace("tls = 1", "tls = 0"))
        p = subprocess.run([STAFF_CONSOLE, "-c", path, "run"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=30)
        out = p.stdout.decode("utf-8", "replace")
        self.assertNotEqual(p.returncode, 0, out)
        self.assertIn("[county] tls = 0", out)
        self.assertIn("allow_insecure = 1", out)
        # the console of the demo reaches the county over TLS: its pages work
        self.assertIn("tls = 1", text)
        self.assertIn("tls_ca = ", text)

    # ---- file modes and command lines ----------------------------------------------------
    def test_var_is_the_owners_alone(self):
        """Every file under VAR is 0600 (or stricter) and every folder 0700, from creation:
        secrets, stores and their -wal/-shm, the county's data, run.env, logs. Sockets are
        not files: the FastCGI ones are 0660 on purpose (nginx, in their group, is their
        one peer) and MariaDB makes its own 0777; they sit in run/, which is 0700."""
        submit_many(self.node, 1, "权限")
        must = ["run.env", "hall/hall.db", "hall/hall.db-wal", "hall/hall.db-shm",
                "hall/secrets/county.pw", "hall/secrets/province.token", "hall/secrets/csrf.key",
                "county/secrets/root.pw", "county/secrets/root.cnf", "county/secrets/reader.pw",
                "province/province.db", "province/token", "staff/demo.pw", "tls/ca.key",
                "tls/server.key", "county/data/ibdata1"]
        for rel in must:
            self.assertTrue(os.path.exists(os.path.join(self.node.var, rel)), rel)
        bad = []
        for top, dirs, files in os.walk(self.node.var):
            for d in dirs:
                mode = stat.S_IMODE(os.lstat(os.path.join(top, d)).st_mode)
                if mode & 0o077:
                    bad.append("%o %s/" % (mode, os.path.join(top, d)))
            for name in files:
                path = os.path.join(top, name)
                st = os.lstat(path)
                if stat.S_ISSOCK(st.st_mode):
                    self.assertEqual(os.path.dirname(path), os.path.join(self.node.var, "run"))
                    continue
                if name.startswith("other-ca") or name.startswith("hall-test-") \
                        or name.startswith("client-") or name == "staff-insecure.ini":
                    continue    # written by these tests
                if stat.S_IMODE(st.st_mode) & 0o077:
                    bad.append("%o %s" % (stat.S_IMODE(st.st_mode), path))
        self.assertEqual(bad, [], "readable by others than the owner")
        sock = os.path.join(self.node.var, "run", "hall-write.sock")
        self.assertEqual(stat.S_IMODE(os.stat(sock).st_mode), 0o660)
        self.assertEqual(stat.S_IMODE(os.stat(self.node.var).st_mode) & 0o077, 0)

    def test_no_password_on_a_command_line(self):
        secrets = []
        for rel in ("county/secrets/root.pw", "hall/secrets/county.pw",
                    "county/secrets/reader.pw", "county/secrets/console.pw", "province/token",
                    "staff/demo.pw"):
            with open(os.path.join(self.node.var, rel)) as f:
                secrets.append(f.readline().strip())
        self.assertTrue(all(len(s) >= 16 for s in secrets))
        # a restart runs every set-up step again (and the demo's MariaDB client calls)
        self.node.start()
        seen = []
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open("/proc/%s/cmdline" % pid, "rb") as f:
                    cmd = f.read().decode("utf-8", "replace")
            except OSError:
                continue
            if any(s in cmd for s in secrets):
                seen.append(cmd.replace("\0", " "))
        self.assertEqual(seen, [])
        with open(os.path.join(ROOT, "conf", "demo"), encoding="utf-8") as f:
            demo = f.read()
        self.assertNotRegex(demo, r"--password=|-p\"\$|-e \"ALTER USER")


if __name__ == "__main__":
    unittest.main()
