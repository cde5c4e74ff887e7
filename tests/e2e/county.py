"""Helpers for the sync tests (SPEC 5, 6): the county MariaDB of a Node started with
county=True, reached with the `mariadb` command-line client (there is no MySQL driver in the
standard library), and hall-agent processes the tests run and kill themselves.

    county = County(node)
    county.rows("SELECT ...")                  as root, over the socket: list of tuples
    county.rows("SELECT ...", account="hall")  as the hall's own account, over TCP
    county.try_sql("...", account="reader")    (ok, stdout, stderr): for refusals
    s = county.session("reader")               a client kept open (out-of-order commits)
    county.kill9() / county.restart()          the server itself
    agent = Agent(node); agent.start(); agent.kill9(); agent.once(); agent.status()

Python 3 standard library only.
"""

import atexit
import http.client
import json
import os
import re
import select
import signal
import subprocess
import time

from harness import BUILD, CONSULT, ROOT, proc_state, reap, wait_gone

AGENT = os.path.join(ROOT, BUILD, "hall-agent")
COUNTY_ADMIN = os.path.join(ROOT, BUILD, "county-admin")


_live_agents = []


def _kill_agents():
    for a in list(_live_agents):
        try:
            a.cleanup()
        except Exception:  # noqa: BLE001 - best effort at exit
            pass


atexit.register(_kill_agents)    # runs before the harness stops the nodes (LIFO)


def wait_until(pred, timeout, interval=0.1, what="condition"):
    """Calls pred until it returns something true (returned) or timeout seconds passed
    (AssertionError naming what was waited for and pred's last value)."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = pred()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.1f s waiting for %s (last: %r)"
                                 % (timeout, what, last))
        time.sleep(interval)


def sql_str(s):
    """A MariaDB string literal (for values the tests make up themselves)."""
    return "'" + str(s).replace("\\", "\\\\").replace("'", "\\'") + "'"


_ESC = {"\\": "\\", "n": "\n", "t": "\t", "0": "\0", "r": "\r"}


def unescape(v):
    """A value as `mariadb -B` prints it (backslash, newline, tab and NUL escaped) back."""
    return re.sub(r"\\(.)", lambda m: _ESC.get(m.group(1), "\\" + m.group(1)), v)


class SqlError(AssertionError):
    pass


class County:
    """The county MariaDB of a Node(county=True)."""

    def __init__(self, node):
        if not node.county:
            raise ValueError("the node has no county database")
        self.node = node
        self.var = node.var
        self.port = node.county_port
        self.socket = os.path.join(self.var, "run", "county.sock")
        self.hall_code = node.ini()["hall"]["code"]
        self._cnf = {}

    # ---- accounts --------------------------------------------------------------------
    def _secret(self, path):
        with open(path) as f:
            return f.readline().strip()

    def account(self, name):
        """(user, password, via) of root, hall, reader, console (the staff console's),
        province (the province's calendar account), or an extra hall's code."""
        c = os.path.join(self.var, "county", "secrets")
        if name == "root":
            return "root", self._secret(os.path.join(c, "root.pw")), "socket"
        if name == "hall":
            return ("hall_" + self.hall_code,
                    self._secret(os.path.join(self.var, "hall", "secrets", "county.pw")), "tcp")
        if name == "reader":
            return "county_demo", self._secret(os.path.join(c, "reader.pw")), "tcp"
        if name == "console":
            return "staff_web", self._secret(os.path.join(c, "console.pw")), "tcp"
        if name == "province":
            return ("province_calendar_web", self._secret(os.path.join(c, "province.pw")),
                    "tcp")
        if re.fullmatch(r"\d{12}", name):
            return ("hall_" + name, self._secret(os.path.join(c, "hall-%s.pw" % name)), "tcp")
        raise ValueError("unknown account %r" % name)

    def cnf(self, name):
        """A client option file for the account (passwords stay off the command line); over
        TCP with TLS, the server verified against the demo's CA (hall accounts REQUIRE SSL)."""
        if name in self._cnf and os.path.exists(self._cnf[name]):
            return self._cnf[name]
        user, pw, via = self.account(name)
        path = os.path.join(self.var, "county", "client-%s.cnf" % name)
        lines = ["[client]", "user=%s" % user, "password=%s" % pw]
        if via == "socket":
            lines.append("socket=%s" % self.socket)
        else:
            lines += ["host=127.0.0.1", "port=%d" % self.port, "protocol=TCP",
                      "ssl-ca=%s" % self.node.ca_path, "ssl-verify-server-cert"]
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write("\n".join(lines) + "\n")
        self._cnf[name] = path
        return path

    def argv(self, account="root", extra=()):
        return (["mariadb", "--defaults-extra-file=" + self.cnf(account)] + list(extra)
                + ["--default-character-set=utf8mb4", "-N", "-B", "county"])

    # ---- statements ------------------------------------------------------------------
    def try_sql(self, sql, account="root", timeout=30):
        """(ok, stdout, stderr) of the statements run by the mariadb client."""
        p = subprocess.run(self.argv(account), input=sql.encode("utf-8"),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
        return (p.returncode == 0, p.stdout.decode("utf-8", "replace"),
                p.stderr.decode("utf-8", "replace"))

    def sql(self, sql, account="root", timeout=30):
        ok, out, err = self.try_sql(sql, account, timeout)
        if not ok:
            raise SqlError("mariadb (%s): %s\n%s" % (account, err.strip(), sql[:500]))
        return out

    def rows(self, sql, account="root", timeout=30):
        """The result rows as tuples of str (NULL as None)."""
        out = self.sql(sql, account, timeout)
        rows = []
        lines = out.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        for line in lines:
            rows.append(tuple(None if v == "NULL" else unescape(v) for v in line.split("\t")))
        return rows

    def scalar(self, sql, account="root"):
        rows = self.rows(sql, account)
        if len(rows) != 1 or len(rows[0]) != 1:
            raise SqlError("expected one value from %s, got %r" % (sql, rows[:5]))
        return rows[0][0]

    def count(self, table, where="1", account="root"):
        return int(self.scalar("SELECT count(*) FROM %s WHERE %s" % (table, where), account))

    def answer(self, case_no, status="answered", note="县级答复"):
        """A county system answers a case (SPEC 6): inserts case_no, status and note into
        case_events as the reader (the actor is the account, sql/county/011); returns the
        new event's seq."""
        return int(self.scalar(
            "INSERT INTO case_events (case_no, status, note) VALUES (%s, %s, %s); "
            "SELECT LAST_INSERT_ID();" % (sql_str(case_no), sql_str(status), sql_str(note)),
            account="reader"))

    def session(self, account="root"):
        return Session(self, account)

    # ---- halls -----------------------------------------------------------------------
    def add_hall(self, code, name):
        """Another hall and its account (county-admin add-hall); its password is kept in
        $VAR/county/secrets/hall-CODE.pw."""
        pw = os.path.join(self.var, "county", "secrets", "hall-%s.pw" % code)
        if not os.path.exists(pw):
            fd = os.open(pw, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(os.urandom(12).hex() + "\n")
        p = subprocess.run([COUNTY_ADMIN, "-c", os.path.join(self.var, "county", "county.ini"),
                            "add-hall", code, name, pw], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=60)
        if p.returncode != 0:
            raise AssertionError("county-admin add-hall: %s" % p.stdout.decode("utf-8", "replace"))

    # ---- the server --------------------------------------------------------------------
    @property
    def pid(self):
        try:
            with open(os.path.join(self.var, "run", "county.pid")) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def alive(self):
        pid = self.pid
        return pid is not None and proc_state(pid) not in (None, "Z", "X")

    def ping(self):
        p = subprocess.run(["mariadb-admin", "--defaults-extra-file=" + self.cnf("root"), "ping"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=10)
        return p.returncode == 0

    def kill9(self):
        pid = self.pid
        if pid is None:
            return
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        if not wait_gone([pid], 20):
            raise AssertionError("mariadbd %d did not die" % pid)

    def stop(self):
        """A clean shutdown (SIGTERM), waited for."""
        pid = self.pid
        if pid is None or not self.alive():
            return
        os.kill(pid, signal.SIGTERM)
        if not wait_gone([pid], 60):
            os.kill(pid, signal.SIGKILL)
            wait_gone([pid], 10)

    def start(self, timeout=60):
        """Starts mariadbd with $VAR/county/my.cnf (as conf/demo does) and waits for it."""
        if self.alive():
            return
        log = open(os.path.join(self.var, "log", "county.log"), "ab")
        try:
            # files 0600 and folders 0700, as conf/demo starts it
            env = dict(os.environ, UMASK="0600", UMASK_DIR="0700")
            p = subprocess.Popen(["mariadbd", "--defaults-file=" +
                                  os.path.join(self.var, "county", "my.cnf")],
                                 stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                 start_new_session=True, env=env)
        finally:
            log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if p.poll() is not None:
                raise AssertionError("mariadbd exited with %s; see %s/log/county.log"
                                     % (p.returncode, self.var))
            if os.path.exists(self.socket) and self.ping():
                return
            time.sleep(0.1)
        raise AssertionError("mariadbd did not come up in %d s" % timeout)

    def restart(self):
        self.start()


class Session:
    """A mariadb client kept open on a pipe: statements are sent one line at a time and
    their output read back (a marker SELECT ends each step), so that a transaction can stay
    open while other sessions and the agent work."""

    MARK = "--end-of-step--"

    def __init__(self, county, account="root"):
        self.p = subprocess.Popen(county.argv(account, extra=("--unbuffered",)),
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, start_new_session=True)
        self._buf = b""

    def run(self, sql, timeout=30):
        """Runs sql (one or more statements, ';'-terminated) and returns its output lines."""
        self.p.stdin.write((sql.rstrip().rstrip(";") + ";\nSELECT '%s';\n" % self.MARK)
                           .encode("utf-8"))
        self.p.stdin.flush()
        deadline = time.monotonic() + timeout
        fd = self.p.stdout.fileno()
        while (self.MARK + "\n").encode() not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("the mariadb session did not answer in %d s" % timeout)
            r, _, _ = select.select([fd], [], [], left)
            if r:
                chunk = os.read(fd, 65536)
                if not chunk:
                    err = self.p.stderr.read().decode("utf-8", "replace")
                    raise SqlError("the mariadb session ended: %s" % err)
                self._buf += chunk
        out, _, self._buf = self._buf.partition((self.MARK + "\n").encode())
        return out.decode("utf-8").splitlines()

    def close(self):
        if self.p.poll() is None:
            try:
                self.p.stdin.close()
            except OSError:
                pass
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(10)
        for f in (self.p.stdout, self.p.stderr):
            try:
                f.close()
            except OSError:
                pass


def kill_wait(proc, timeout=10):
    """SIGKILL a process we started (None or gone: nothing) and wait a while for it."""
    if proc is not None and proc.poll() is None:
        proc.kill()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pass


class LogFile:
    """What a process wrote to self.log_path."""

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_tail(self, n=30):
        return "\n".join(self.log().splitlines()[-n:])


class Agent(LogFile):
    """hall-agent of a node, run by the test: `run` as a daemon it can kill, `once`, `status`."""

    def __init__(self, node, env=None):
        self.node = node
        self.env = dict(os.environ)
        self.env.update(env or {})
        self.proc = None
        self.log_path = os.path.join(node.var, "log", "test-agent.log")
        self.all_pids = []
        _live_agents.append(self)

    def argv(self, cmd):
        return [AGENT, "-c", self.node.ini_path, cmd]

    def start(self, env=None):
        if self.proc is not None and self.proc.poll() is None:
            raise AssertionError("the agent is already running")
        e = dict(self.env)
        e.update(env or {})
        self._expect = self.started() + 1
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.argv("run"), stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=log, env=e, start_new_session=True)
        self.all_pids.append(self.proc.pid)
        return self.proc

    def wait_up(self, timeout=15):
        """Waits until the daemon last started has logged its first line (its signal
        handlers are in place by then)."""
        wait_until(lambda: self.started() >= self._expect or not self.running(), timeout, 0.02,
                   "hall-agent to start")
        if not self.running():
            raise AssertionError("hall-agent exited at start (%s):\n%s"
                                 % (self.proc.returncode, self.log_tail()))

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def kill9(self):
        if self.proc is None:
            return
        try:
            self.proc.send_signal(signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(10)

    def term(self, timeout=10):
        """SIGTERM; (exit status, seconds it took), or (None, timeout) when it did not end."""
        t0 = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None, timeout
        return rc, time.monotonic() - t0

    def once(self, env=None, timeout=120):
        e = dict(self.env)
        e.update(env or {})
        with open(self.log_path, "ab") as log:
            p = subprocess.run(self.argv("once"), stdin=subprocess.DEVNULL, stdout=log,
                               stderr=log, env=e, timeout=timeout)
        return p.returncode

    def status(self):
        p = subprocess.run(self.argv("status"), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, env=self.env, timeout=30)
        return p.stdout.decode("utf-8", "replace")

    def dest_status(self, dest="county"):
        """The lines `hall-agent status` shows for one destination (its header and the
        indented lines under it)."""
        out, keep = [], False
        for line in self.status().splitlines():
            if line and not line[0].isspace():
                keep = line.split()[0] == dest
            if keep:
                out.append(line)
        if not out:
            raise AssertionError("no %s in hall-agent status:\n%s" % (dest, self.status()))
        return "\n".join(out)

    def backlog(self, dest="county"):
        """The backlog `hall-agent status` shows for dest."""
        text = self.dest_status(dest)
        m = re.search(r"^\s*backlog\s+(\d+) record", text, re.M)
        if not m:
            raise AssertionError("no backlog line in hall-agent status:\n" + text)
        return int(m.group(1))

    def started(self):
        """How many times the log says a daemon started (its first line)."""
        return len(re.findall(r"(?m)^hall-agent\[\d+\] info: hall-agent \S+ for hall .*county",
                              self.log()))

    def drain(self, timeout=120, env=None):
        """`once` until the backlog is 0."""
        deadline = time.monotonic() + timeout
        while True:
            rc = self.once(env=env, timeout=max(5, deadline - time.monotonic()))
            if rc == 0 and self.backlog() == 0:
                return
            if time.monotonic() > deadline:
                raise AssertionError("the backlog did not drain in %d s:\n%s\n%s"
                                     % (timeout, self.status(), self.log_tail()))
            time.sleep(0.2)

    def cleanup(self):
        kill_wait(self.proc)
        reap(self.all_pids)
        if self in _live_agents:
            _live_agents.remove(self)


# ---- the hall side ---------------------------------------------------------------------

def submit_many(node, n, label="同步", obj=None, make=None):
    """Submits n consultations over HTTP (limits must be off) on a kept-alive connection;
    returns the receipts in order. make(i), when given, says what the i-th submission is:
    (API path, JSON object)."""
    out = []
    conn = None
    base = dict(CONSULT if obj is None else obj)
    if make is None:
        def make(i):
            return "/api/v1/consultations", dict(base, subject="%s %d" % (label, i))
    try:
        while len(out) < n:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", node.port, timeout=20)
            path, data = make(len(out))
            body = json.dumps(data, ensure_ascii=False).encode("utf-8")
            try:
                conn.request("POST", path, body=body,
                             headers={"Content-Type": "application/json"})
                r = conn.getresponse()
                doc = r.read()
            except (http.client.HTTPException, OSError):
                conn.close()
                conn = None
                # a submission whose answer was lost could have been stored: the caller's
                # counts would be off, so say so instead of guessing
                raise
            if r.status != 201:
                raise AssertionError("submission %d: %d %r" % (len(out), r.status, doc[:300]))
            out.append(json.loads(doc.decode("utf-8")))
            if r.getheader("Connection", "").lower() == "close":
                conn.close()
                conn = None
    finally:
        if conn is not None:
            conn.close()
    return out


def hall_scalar(node, sql, args=()):
    con = node.db()
    try:
        return con.execute(sql, args).fetchone()[0]
    finally:
        con.close()


def hall_rows(node, sql, args=()):
    con = node.db()
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def hall_acked(node):
    """The county mark in the hall store (sync_dest.acked_seq)."""
    return hall_scalar(node, "SELECT acked_seq FROM sync_dest WHERE dest = 'county'")


def hall_backlog(node):
    return hall_scalar(node, "SELECT count(*) FROM outbox WHERE seq > "
                             "(SELECT acked_seq FROM sync_dest WHERE dest = 'county')")
