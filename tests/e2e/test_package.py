"""Issue 12: the Debian packages, as a county installs them.

`make deb` builds hall-node and hall-county (lintian: no errors); both are installed with
apt into a fresh Debian 12 root (debootstrap minbase, nothing else), with Debian's own
mariadb-server and nginx; a county is set up and a hall initialized from the installed
files alone (the INI files the packages put in /etc/hall, the units' users, the shipped
nginx site); one consultation goes in through nginx and reaches the county's database.
An upgrade keeps the operator's edits and migrates the store.

The root's servers run in a network namespace of their own (loopback only), so its nginx on
port 80 and MariaDB on 3306 meet nothing of this machine's. The programs are started the way
their units start them: the unit files' User, Group, SupplementaryGroups, UMask,
RuntimeDirectory and ExecStartPre/ExecStart lines, read from the installed units (there is
no systemd inside a chroot; tests/e2e/test_units.py checks the units under systemd-analyze).

Needs root (debootstrap, chroot, network namespaces) and Debian's mirror. The minbase root
is made once and kept in HALL_TEST_CACHE (default /var/cache/hall-tests); each run copies it.
"""

import glob
import os
import re
import shlex
import shutil
import subprocess
import tempfile
import time
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CACHE = os.environ.get("HALL_TEST_CACHE", "/var/cache/hall-tests")
NETNS = "hallpkg%d" % os.getpid()
HALL_CODE = "430121001000"


def sh(cmd, timeout=1200, check=True, **kw):
    p = subprocess.run(cmd, shell=isinstance(cmd, str), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=timeout, **kw)
    if check and p.returncode != 0:
        raise AssertionError("%s: exit %d\n%s" % (cmd, p.returncode, p.stdout[-4000:]))
    return p


def mirror():
    for path in glob.glob("/etc/apt/sources.list.d/*.sources"):
        for line in open(path):
            if line.startswith("URIs:"):
                return line.split()[1]
    if os.path.exists("/etc/apt/sources.list"):
        for line in open("/etc/apt/sources.list"):
            f = line.split()
            if f and f[0] == "deb":
                return f[2] if f[1].startswith("[") else f[1]
    return "http://deb.debian.org/debian"


def unit_service(path):
    """The [Service] lines of a unit file that say how its program starts."""
    keys = {}
    section = None
    for line in open(path):
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line
            continue
        if section == "[Service]" and "=" in line:
            k, v = line.split("=", 1)
            keys.setdefault(k, []).append(v)
    return keys


class InstallTest(unittest.TestCase):
    """make install honours PREFIX and DESTDIR, and keeps an INI file that is there."""

    def test_a_build_without_the_libraries_names_their_debian_packages(self):
        # pkg-config that finds nothing, as on a machine where `make deps` has not run
        out = tempfile.mkdtemp(prefix="hall-build-")
        self.addCleanup(shutil.rmtree, out, True)
        env = dict(os.environ, PKG_CONFIG_LIBDIR="/nonexistent", PKG_CONFIG_PATH="")
        p = sh(["make", "--no-print-directory", "-C", ROOT, "B=" + out, "all"], check=False,
               env=env)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("missing libraries", p.stdout)
        for deb in ("libsqlite3-dev", "libjansson-dev", "libmariadb-dev", "libcurl4-openssl-dev"):
            self.assertIn(deb, p.stdout)
        self.assertNotIn("undefined reference", p.stdout)
        self.assertFalse(os.path.exists(os.path.join(out, "config.mk")))

    def test_make_install_moves_every_path_to_the_prefix_and_keeps_edited_ini(self):
        dest = tempfile.mkdtemp(prefix="hall-install-")
        self.addCleanup(shutil.rmtree, dest, True)
        args = ["make", "--no-print-directory", "-C", ROOT, "install", "PREFIX=/opt/hall",
                "DESTDIR=" + dest]
        sh(args)
        top = os.path.join(dest, "opt/hall")
        for prog in ("hall-read", "hall-write", "hall-agent", "hall-admin", "staff-console",
                     "county-admin", "province-receiver", "sms-gateway", "county-notifier"):
            self.assertTrue(os.access(os.path.join(top, "sbin", prog), os.X_OK), prog)
        unit = open(os.path.join(top, "lib/systemd/system/hall-write.service")).read()
        self.assertIn("ExecStart=/opt/hall/sbin/hall-write -c /opt/hall/etc/hall/hall.ini", unit)
        self.assertNotIn("/usr/sbin", unit)
        ini_path = os.path.join(top, "etc/hall/hall.ini")
        ini = open(ini_path).read()
        self.assertIn("schema_dir = /opt/hall/share/hall/sql/hall", ini)
        self.assertIn("\nsocket_group = www-data", ini)
        site = open(os.path.join(top, "etc/nginx/sites-available/hall")).read()
        self.assertIn("alias /opt/hall/share/hall/public/;", site)
        self.assertIn("include /opt/hall/share/hall/nginx/server-limits.conf;", site)
        staff = open(os.path.join(top, "etc/nginx/sites-available/hall-staff")).read()
        self.assertIn("$staff_retry_after", staff)
        self.assertNotIn("hall_retry_after", staff)
        limits = open(os.path.join(top, "etc/nginx/conf.d/hall-node.conf")).read()
        self.assertIn("limit_conn_zone $hall_client zone=hall_addr", limits)
        for page in ("man8/hall-admin.8", "man5/hall.ini.5", "man5/county.ini.5",
                     "man8/county-notifier.8"):
            self.assertTrue(os.path.exists(os.path.join(top, "share/man", page)), page)
        # an operator's edit survives the next install
        with open(ini_path, "a") as f:
            f.write("; edited by the operator\n")
        out = sh(args).stdout
        self.assertIn("kept", out)
        self.assertIn("; edited by the operator", open(ini_path).read())


@unittest.skipUnless(os.geteuid() == 0, "needs root: debootstrap, chroot and a network "
                     "namespace for the packages' install test")
@unittest.skipUnless(shutil.which("debootstrap") and shutil.which("dpkg-buildpackage"),
                     "needs debootstrap and dpkg-dev (make deps installs them)")
class PackageTest(unittest.TestCase):
    """The steps run in order; a step finds what the previous ones made in the class."""

    root = None
    debs = []

    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp(prefix="hall-pkg-")
        cls.root = os.path.join(cls.work, "root")
        cls.addClassCleanup(cls._teardown)

    @classmethod
    def _teardown(cls):
        if cls.root and os.path.isdir(cls.root):
            # the root's own daemons first, then its mounts; nothing is removed while a
            # mount is left (an rm through a bind mount of /dev would reach this machine's)
            subprocess.run("ip netns pids %s | xargs -r kill -9" % NETNS, shell=True)
            time.sleep(0.5)
            for m in ("dev/pts", "dev", "proc", "sys", "run"):
                subprocess.run(["umount", "-l", os.path.join(cls.root, m)],
                               stderr=subprocess.DEVNULL)
        subprocess.run(["ip", "netns", "del", NETNS], stderr=subprocess.DEVNULL)
        mounts = open("/proc/mounts").read()
        if cls.work not in mounts:
            shutil.rmtree(cls.work, True)

    def chroot(self, cmd, netns=True, timeout=600, check=True, env=""):
        """A shell command inside the root (in its network namespace unless netns=False)."""
        full = ["chroot", self.root, "/usr/bin/env", "-i",
                "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8", "HOME=/root"]
        full += shlex.split(env) + ["/bin/sh", "-ec", cmd]
        if netns:
            full = ["ip", "netns", "exec", NETNS] + full
        return sh(full, timeout=timeout, check=check)

    def need(self, attr):
        if not getattr(type(self), attr, None):
            self.skipTest("an earlier step failed")

    def test_1_make_deb_builds_both_packages_lintian_clean(self):
        p = sh(["make", "--no-print-directory", "-C", ROOT, "deb"], timeout=1800, check=False)
        self.assertEqual(p.returncode, 0, p.stdout[-6000:])
        debs = sorted(d for d in glob.glob(os.path.join(ROOT, "build", "deb", "*.deb"))
                      if "-dbgsym_" not in d)
        names = [os.path.basename(d).split("_")[0] for d in debs]
        self.assertEqual(names, ["hall-county", "hall-node"], debs)
        report = open(os.path.join(ROOT, "build", "deb", "lintian.txt")).read()
        errors = [l for l in report.splitlines() if l.startswith("E:")]
        self.assertEqual(errors, [], report)
        counts = {t: sum(1 for l in report.splitlines() if l.startswith(t + ":"))
                  for t in "EWI"}
        print("# lintian: %d errors, %d warnings, %d info" % (counts["E"], counts["W"],
                                                           counts["I"]))
        for d in debs:
            files = sh(["dpkg-deb", "-c", d]).stdout
            conffiles = sh("dpkg-deb --ctrl-tarfile %s | tar -xO ./conffiles" % shlex.quote(d),
                           check=False).stdout
            if "hall-node" in d:
                for f in ("./usr/sbin/hall-write", "./usr/share/man/man8/hall-admin.8.gz",
                          "./lib/systemd/system/hall-agent.service",
                          "./etc/nginx/sites-available/hall", "./usr/share/hall/sql/hall/"):
                    self.assertIn(f, files)
                self.assertIn("/etc/hall/hall.ini", conffiles)
            else:
                for f in ("./usr/sbin/staff-console", "./usr/share/man/man5/county.ini.5.gz",
                          "./lib/systemd/system/province-receiver.service",
                          "./lib/systemd/system/sms-gateway.service",
                          "./usr/share/man/man8/sms-gateway.8.gz",
                          "./usr/sbin/county-notifier",
                          "./lib/systemd/system/county-notifier.service",
                          "./usr/share/man/man8/county-notifier.8.gz",
                          "./usr/share/hall/sql/county/"):
                    self.assertIn(f, files)
                for f in ("/etc/hall/staff.ini", "/etc/hall/notifier.ini"):
                    self.assertIn(f, conffiles)
        type(self).debs = debs

    def test_2_both_packages_install_into_a_fresh_debian_root(self):
        self.need("debs")
        base = os.path.join(CACHE, "bookworm-minbase")
        if not os.path.exists(os.path.join(base, "usr/bin/apt-get")):
            os.makedirs(CACHE, exist_ok=True)
            shutil.rmtree(base, True)
            sh(["debootstrap", "--variant=minbase", "--include=ca-certificates", "bookworm",
                base + ".new", mirror()], timeout=1800)
            os.rename(base + ".new", base)
        sh(["cp", "-a", base, self.root])
        shutil.copy("/etc/resolv.conf", os.path.join(self.root, "etc/resolv.conf"))
        for src in glob.glob("/etc/apt/sources.list.d/*"):
            shutil.copy(src, os.path.join(self.root, "etc/apt/sources.list.d/"))
        with open(os.path.join(self.root, "etc/hosts"), "w") as f:
            f.write("127.0.0.1\tlocalhost\n::1\tlocalhost\n")
        # as in any chroot: packages do not start their services (we start them below)
        with open(os.path.join(self.root, "usr/sbin/policy-rc.d"), "w") as f:
            f.write("#!/bin/sh\nexit 101\n")
        os.chmod(os.path.join(self.root, "usr/sbin/policy-rc.d"), 0o755)
        sh(["mount", "-t", "proc", "proc", os.path.join(self.root, "proc")])
        sh(["mount", "--rbind", "/dev", os.path.join(self.root, "dev")])
        sh(["mount", "--make-rslave", os.path.join(self.root, "dev")])
        sh(["mount", "-t", "tmpfs", "tmpfs", os.path.join(self.root, "run")])
        os.makedirs(os.path.join(self.root, "tmp/debs"), exist_ok=True)
        for d in self.debs:
            shutil.copy(d, os.path.join(self.root, "tmp/debs"))
        self.chroot("apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install "
                    "-y -qq --no-install-recommends /tmp/debs/*.deb mariadb-server "
                    "mariadb-client openssl curl sqlite3", netns=False, timeout=1800)
        for user in ("hall-read", "hall-write", "hall-agent", "hall-staff", "hall-notify"):
            self.chroot("id %s" % user, netns=False)
        groups = self.chroot("id -nG hall-read; id -nG hall-agent", netns=False).stdout
        self.assertIn("hall", groups)
        st = os.stat(os.path.join(self.root, "var/lib/hall"))
        self.assertEqual(st.st_mode & 0o007, 0, "/var/lib/hall is open to others")
        # county-notifier's secrets: its user's alone (hall-county.tmpfiles)
        notifier = self.chroot("stat -c '%a %U' /var/lib/hall-county/notifier",
                               netns=False).stdout.split()
        self.assertEqual(notifier, ["700", "hall-notify"])
        type(self).installed = True

    def start_unit(self, name, wait_socket=None):
        """Starts a unit's program the way systemd would (the lines of unit_service)."""
        svc = unit_service(os.path.join(self.root, "lib/systemd/system", name))
        user, group = svc["User"][0], svc.get("Group", [svc["User"][0]])[0]
        supp = " ".join(svc.get("SupplementaryGroups", [])).split()
        umask = svc.get("UMask", ["0022"])[0]
        for d in " ".join(svc.get("RuntimeDirectory", [])).split():
            mode = svc.get("RuntimeDirectoryMode", ["0755"])[0]
            self.chroot("install -d -o %s -g %s -m %s /run/%s" % (user, group, mode, d))
        groups = ",".join([group] + supp)
        run_as = "setpriv --reuid=%s --regid=%s --groups=%s --inh-caps=-all " % (
            user, group, groups)
        for pre in svc.get("ExecStartPre", []):
            self.chroot("umask %s; exec %s %s" % (umask, run_as, pre.lstrip("-+!")))
        start = svc["ExecStart"][0]
        self.chroot("umask %s; %s %s >/var/log/%s.log 2>&1 </dev/null &" % (
            umask, run_as, start, name))
        if wait_socket:
            self.chroot("for i in $(seq 100); do [ -S %s ] && exit 0; sleep 0.1; done; "
                        "cat /var/log/%s.log; exit 1" % (wait_socket, name))

    def test_3_a_consultation_reaches_the_county_from_the_installed_files(self):
        self.need("installed")
        sh(["ip", "netns", "add", NETNS])
        sh(["ip", "netns", "exec", NETNS, "ip", "link", "set", "lo", "up"])
        # the county: Debian's MariaDB with TLS (the halls' accounts are REQUIRE SSL)
        self.chroot("""
            mkdir -p /etc/mysql/tls && cd /etc/mysql/tls
            openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=county-ca \
                -keyout ca.key -out ca.pem 2>/dev/null
            openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout server.key \
                -out server.csr 2>/dev/null
            printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > ext
            openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
                -days 30 -extfile ext -out server.pem 2>/dev/null
            chown mysql server.key
            printf '[mariadbd]\\nssl_cert=/etc/mysql/tls/server.pem\\nssl_key=/etc/mysql/tls/server.key\\nssl_ca=/etc/mysql/tls/ca.pem\\n' \
                > /etc/mysql/mariadb.conf.d/90-tls.cnf
            cp ca.pem /etc/hall/county-ca.pem
            /etc/init.d/mariadb start >/dev/null
        """)
        self.chroot("county-admin -c /etc/hall/county.ini migrate")
        self.chroot("""
            head -c 18 /dev/urandom | base64 | tr -d '/+=' > /tmp/county.pw
            install -o hall-agent -g hall -m 0600 /tmp/county.pw \
                /var/lib/hall/secrets/county.pw
            county-admin -c /etc/hall/county.ini add-hall %s 星沙街道政务服务中心 /tmp/county.pw
        """ % HALL_CODE)
        # the hall: one file edited (the county's address), checked, then the units
        self.chroot("sed -i 's/^host = .*/host = 127.0.0.1/' /etc/hall/hall.ini")
        check = self.chroot("hall-admin -c /etc/hall/hall.ini check", check=False)
        self.assertEqual(check.returncode, 0, check.stdout)
        self.start_unit("hall-write.service", "/run/hall/hall-write.sock")
        self.start_unit("hall-read.service", "/run/hall/hall-read.sock")
        self.chroot("ln -s ../sites-available/hall /etc/nginx/sites-enabled/hall && "
                    "rm -f /etc/nginx/sites-enabled/default && nginx -t 2>&1 && nginx")
        out = self.chroot("""
            for i in $(seq 50); do curl -sf http://127.0.0.1/api/v1/hall >/dev/null && break; sleep 0.2; done
            curl -sS -w '\\n%{http_code}\\n' -X POST http://127.0.0.1/api/v1/consultations \
                -H 'Content-Type: application/json' \
                -d '{"category":"policy","subject":"养老保险缴费档次","body":"今年有哪些档次？","name":"张三","phone":"13800138000"}'
        """).stdout
        self.assertIn("\n201", out, out)
        m = re.search(r'"case_no": *"([0-9A-Z]+)"', out)
        self.assertIsNotNone(m, out)
        case_no = m.group(1)
        self.assertTrue(case_no.startswith(HALL_CODE))
        # the agent, as its unit runs it, once
        svc = unit_service(os.path.join(self.root, "lib/systemd/system/hall-agent.service"))
        start = svc["ExecStart"][0].replace(" run", " once")
        self.chroot("umask 0007; setpriv --reuid=%s --regid=%s --groups=%s --inh-caps=-all %s"
                    % (svc["User"][0], svc["Group"][0], svc["Group"][0], start))
        got = self.chroot("mariadb -N county -e \"SELECT case_no FROM cases\"").stdout.split()
        self.assertEqual(got, [case_no])
        status = self.chroot("setpriv --reuid=hall-agent --regid=hall --groups=hall "
                             "hall-agent -c /etc/hall/hall.ini status", check=False)
        self.assertEqual(status.returncode, 0, status.stdout)
        # the staff console starts from its installed INI, behind its site
        self.chroot("""
            head -c 18 /dev/urandom | base64 | tr -d '/+=' > /tmp/console.pw
            county-admin -c /etc/hall/county.ini add-console staff_web /tmp/console.pw
            install -o hall-staff -m 0600 /tmp/console.pw /var/lib/hall-county/staff/console.pw
        """)
        self.start_unit("staff-console.service", "/run/hall-county/staff/staff-console.sock")
        self.chroot("ln -s ../sites-available/hall-staff /etc/nginx/sites-enabled/ && "
                    "nginx -t 2>&1 && nginx -s reload")
        page = self.chroot("sleep 1; curl -sS -o /dev/null -w '%{http_code}' "
                           "http://127.0.0.1:8081/login").stdout
        self.assertEqual(page.strip(), "200")
        type(self).working = True

    def test_4_an_upgrade_keeps_the_edited_config_and_migrates_the_store(self):
        self.need("working")
        self.chroot("dpkg -i --force-confold /tmp/debs/*.deb >/tmp/upgrade.log 2>&1 || "
                    "{ cat /tmp/upgrade.log; exit 1; }")
        ini = open(os.path.join(self.root, "etc/hall/hall.ini")).read()
        self.assertIn("host = 127.0.0.1", ini)
        log = open(os.path.join(self.root, "tmp/upgrade.log")).read()
        self.assertIn("county schema is up to date", log)
        n = self.chroot("sqlite3 -readonly /var/lib/hall/hall.db 'SELECT count(*) FROM cases'"
                        ).stdout.strip()
        self.assertEqual(n, "1")


if __name__ == "__main__":
    unittest.main()
