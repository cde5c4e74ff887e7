"""End-to-end test harness for the hall node (SPEC sections 2-4).

A Node is a complete hall (nginx, hall-read, hall-write, SQLite store) started with
`conf/demo start` in a temporary VAR on a loopback port from 18080 up (E2E_PORT_BASE); tests talk to it over
HTTP only. The store file is opened directly only to simulate the county's answer (the
downlink's job) and to count rows after a refused request.

Environment: B (build folder, `build` or `build/san`; default `build`).
Python 3 standard library only.
"""

import atexit
import configparser
import datetime
import http.client
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import ssl
import subprocess
import tempfile
import time
import unittest
import urllib.parse
from html.parser import HTMLParser

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEMO = os.path.join(ROOT, "conf", "demo")
CALENDAR_DIR = os.path.join(ROOT, "conf", "calendar")
BUILD = os.environ.get("B", "build")
TZ = datetime.timezone(datetime.timedelta(hours=8))

# Limits off: for modules that are not about limits (every refused submission still takes
# a token, so a module of error tests would otherwise run into 429).
NO_LIMITS = """
[limits]
submissions_per_min = 0
lookups_per_min = 0
wrong_code_max = 0
lockout_min = 15
"""

# A valid consultation and complaint, for tests to copy and change.
CONSULT = {
    "category": "policy",
    "subject": "城乡居民养老保险缴费档次咨询",
    "body": "请问今年城乡居民养老保险有哪些缴费档次？\n可以在街道窗口缴费吗？",
    "name": "张三",
    "phone": "13812345678",
}
COMPLAINT = {
    "type": "complaint",
    "subject": "窗口工作人员态度问题",
    "body": "上周三上午在社保窗口办理业务时，工作人员态度生硬。",
    "phone": "13912345678",
}

_used_ports = set()
_live_nodes = []


def _become_subreaper():
    """Makes this process adopt the node's daemons (nginx, the hall masters) when their
    launcher exits, so that it can reap them the moment they stop: `conf/demo stop` sees a
    zombie as alive, and an init that reaps slowly would make every stop take seconds."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(36, 1, 0, 0, 0) == 0    # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        return False


SUBREAPER = _become_subreaper()


def reap(pids):
    """Collects those of pids that are our (adopted) children and have ended."""
    for pid in pids:
        if not pid:
            continue
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        except OSError:
            pass


def proc_state(pid):
    """The /proc state letter of pid ('R', 'S', 'Z', ...), or None when it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def proc_children(pid):
    """Pids whose parent is pid."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                out.append(int(name))
        except (OSError, IndexError, ValueError):
            continue
    return out


def kill9_tree(pid, timeout=15.0):
    """SIGKILL to a process and its children; True once all are gone."""
    pids = [pid] + proc_children(pid)
    for p in pids:
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return wait_gone(pids, timeout)


def wait_gone(pids, timeout=10.0):
    """Waits until every pid has ended (reaping what we can); True when they all did."""
    deadline = time.monotonic() + timeout
    while True:
        reap(pids)
        alive = [p for p in pids if proc_state(p) not in (None, "Z", "X")]
        if not alive:
            reap(pids)
            # a zombie that is not ours is left to its parent: wait for it to vanish
            if all(proc_state(p) is None for p in pids) or SUBREAPER:
                return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)


def _port_free(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


# E2E_PORT_BASE moves the range, so that suites run side by side do not race for ports.
PORT_BASE = int(os.environ.get("E2E_PORT_BASE", "18080"))


def pick_port(offset=0):
    """The first port from PORT_BASE up that this process has not used and nobody listens
    on (nor on port + offset, when offset is given: the pair is taken together)."""
    for port in range(PORT_BASE, PORT_BASE + 320):
        if port in _used_ports or not _port_free(port):
            continue
        if offset and not _port_free(port + offset):
            continue
        _used_ports.add(port)
        return port
    raise RuntimeError("no free port in %d..%d" % (PORT_BASE, PORT_BASE + 319))


def _cleanup_all():
    for node in list(_live_nodes):
        try:
            node.cleanup()
        except Exception:  # noqa: BLE001 - best effort at exit
            pass


atexit.register(_cleanup_all)


def _on_signal(signum, frame):
    _cleanup_all()
    raise SystemExit(128 + signum)


for _sig in (signal.SIGTERM, signal.SIGHUP):
    try:
        signal.signal(_sig, _on_signal)
    except (ValueError, OSError):
        pass


class Response:
    """status, headers (case-insensitive .get), body bytes; .json() and .text helpers."""

    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def __iter__(self):  # so that `status, headers, body = node.request(...)` works
        return iter((self.status, self.headers, self.body))

    @property
    def text(self):
        return self.body.decode("utf-8")

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def header(self, name, default=None):
        return self.headers.get(name, default)

    def __repr__(self):
        return "<Response %d %s %r>" % (self.status, self.headers.get("Content-Type"),
                                          self.body[:300])


class Node:
    """A hall node of its own: `conf/demo start` in a fresh VAR on a free port."""

    def __init__(self, name="node", county=False, agent=True, province=False, staff=False,
                 sms=False, notify=False):
        self.var = tempfile.mkdtemp(prefix="hall-e2e-%s-" % name)
        self.port = None
        # county: also the node's own MariaDB (and, with agent, hall-agent), as `make run`
        self.county = county
        self.agent = agent
        self.county_port = pick_port(10000) + 10000 if county else None
        # province: also the reference province receiver behind its own nginx
        self.province = province
        self.province_port = pick_port() if province else None
        # staff (with county): also the county staff console behind its own nginx
        self.staff = staff and county
        self.staff_port = pick_port() if self.staff else None
        # sms: also the reference SMS gateway behind its own nginx (plain http, loopback)
        self.sms = sms
        self.sms_port = pick_port() if sms else None
        # notify (with county): the SMTP server delivering into $VAR/mail and county-notifier
        self.notify = notify and county
        self.smtp_port = pick_port() if self.notify else None
        self.notifier_extra_ini = None
        self.extra_ini = None
        self.started = False
        self._log_offsets = {}
        _live_nodes.append(self)

    # ---- life cycle ----------------------------------------------------------------
    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    @property
    def ca_path(self):
        """The demo's CA certificate (conf/demo makes it in $VAR/tls): the county MariaDB
        and the province receiver present certificates it signed."""
        return os.path.join(self.var, "tls", "ca.pem")

    def ssl_context(self):
        """A client TLS context that verifies the node's servers against its CA."""
        return ssl.create_default_context(cafile=self.ca_path)

    @property
    def province_url(self):
        return "https://127.0.0.1:%d" % self.province_port

    @property
    def sms_url(self):
        return "http://127.0.0.1:%d" % self.sms_port

    def run_env(self):
        """$VAR/run.env (what `make run` tells its user) as a dict."""
        env = {}
        with open(os.path.join(self.var, "run.env")) as f:
            for line in f:
                k, _, v = line.strip().partition("=")
                env[k] = v
        return env

    def province_connection(self, timeout=20):
        """A connection to the reference province receiver (https, verified)."""
        return http.client.HTTPSConnection("127.0.0.1", self.province_port, timeout=timeout,
                                           context=self.ssl_context())

    @property
    def db_path(self):
        return os.path.join(self.var, "hall", "hall.db")

    @property
    def ini_path(self):
        return os.path.join(self.var, "hall.ini")

    def _env(self):
        env = dict(os.environ)
        env["VAR"] = self.var
        env["HALL_PORT"] = str(self.port)
        env["B"] = BUILD
        env["COUNTY"] = "1" if self.county else "0"
        env["AGENT"] = "1" if self.agent else "0"
        env["PROVINCE"] = "1" if self.province else "0"
        env["STAFF"] = "1" if self.staff else "0"
        env["SMS"] = "1" if self.sms else "0"
        if self.sms:
            env["SMS_PORT"] = str(self.sms_port)
        env["NOTIFY"] = "1" if self.notify else "0"
        env["DEMO_SCHEDULE"] = "0"     # the tests publish their own appointment schedules
        if self.notify:
            env["SMTP_PORT"] = str(self.smtp_port)
        env.pop("NOTIFIER_INI_EXTRA", None)
        if self.notifier_extra_ini is not None:
            path = os.path.join(self.var, "notifier-extra.ini")
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(self.notifier_extra_ini)
            env["NOTIFIER_INI_EXTRA"] = path
        if self.staff:
            env["STAFF_PORT"] = str(self.staff_port)
        if self.province:
            env["PROVINCE_PORT"] = str(self.province_port)
        if self.county:
            env["COUNTY_PORT"] = str(self.county_port)
        env.pop("HALL_INI", None)
        if self.extra_ini is not None:
            path = os.path.join(self.var, "extra.ini")
            # 0600 like everything the node keeps in VAR (test_tls walks it)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(self.extra_ini)
            env["HALL_INI_EXTRA"] = path
        else:
            env.pop("HALL_INI_EXTRA", None)
        return env

    def start(self, extra_ini=None):
        """Starts (or restarts) the node; extra_ini is appended to the generated INI."""
        if extra_ini is not None:
            self.extra_ini = extra_ini
        last = None
        for _attempt in range(3):
            if self.port is None:
                self.port = pick_port()
            p = subprocess.run([DEMO, "start"], env=self._env(), cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
            if p.returncode == 0:
                self.started = True
                return self
            last = p.stdout.decode("utf-8", "replace")
            # another program took the port between our check and nginx's bind: move on
            self._demo("stop")
            if "port" in last and not self.started:
                self.port = None
                continue
            break
        raise RuntimeError("conf/demo start failed in %s:\n%s\n%s" %
                           (self.var, last, self.logs_tail()))

    def _demo(self, cmd):
        if self.port is None:
            self.port = 0
        pids = [self.pid(p) for p in ("nginx", "hall-write", "hall-read", "hall-agent", "county",
                                      "nginx-province", "province-receiver", "nginx-staff",
                                      "staff-console", "nginx-sms",
                                      "sms-gateway", "smtp", "county-notifier")]
        with tempfile.TemporaryFile() as out:
            p = subprocess.Popen([DEMO, cmd], env=self._env(), cwd=ROOT, stdout=out,
                                 stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            pids = [x for x in pids if x != p.pid]
            deadline = time.monotonic() + 60
            while p.poll() is None:
                reap(pids)    # so that the script does not wait for our zombies
                if time.monotonic() > deadline:
                    p.kill()
                time.sleep(0.02)
            reap(pids)
            out.seek(0)
            return subprocess.CompletedProcess(p.args, p.returncode, out.read(), None)

    def stop(self):
        """`conf/demo stop`: stops nginx, hall-write and hall-read of this VAR."""
        if os.path.isdir(self.var):
            self._demo("stop")

    def cleanup(self):
        """Stops the node and removes its VAR."""
        try:
            self.stop()
        finally:
            if os.path.isdir(self.var):
                shutil.rmtree(self.var, ignore_errors=True)
            if self in _live_nodes:
                _live_nodes.remove(self)

    def pid(self, prog):
        """The pid in $VAR/run/<prog>.pid, or None."""
        try:
            with open(os.path.join(self.var, "run", prog + ".pid")) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    # ---- logs ------------------------------------------------------------------------
    def log_path(self, prog):
        return os.path.join(self.var, "log", prog + ".log")

    def logs_tail(self, n=30):
        out = []
        logdir = os.path.join(self.var, "log")
        if os.path.isdir(logdir):
            for name in sorted(os.listdir(logdir)):
                with open(os.path.join(logdir, name), "rb") as f:
                    lines = f.read().decode("utf-8", "replace").splitlines()[-n:]
                out.append("== %s\n%s" % (name, "\n".join(lines)))
        return "\n".join(out)

    def new_log_problems(self):
        """Sanitizer reports and workers killed by a signal, logged since the last call."""
        problems = []
        for prog in ("hall-read", "hall-write"):
            path = self.log_path(prog)
            try:
                with open(path, "rb") as f:
                    f.seek(self._log_offsets.get(prog, 0))
                    data = f.read()
                    self._log_offsets[prog] = f.tell()
            except OSError:
                continue
            text = data.decode("utf-8", "replace")
            for line in text.splitlines():
                if ("ERROR: AddressSanitizer" in line or "ERROR: LeakSanitizer" in line
                        or "runtime error:" in line or re.search(r"ended \(signal \d+", line)):
                    problems.append("%s: %s" % (prog, line.strip()))
        return problems

    def skip_log_problems(self):
        """Forgets what the logs hold so far (after a test killed processes on purpose)."""
        self.new_log_problems()

    # ---- configuration ---------------------------------------------------------------
    def ini(self):
        """The node's generated INI as {section: {key: value}}; later keys win."""
        cp = configparser.ConfigParser(delimiters=("=",), comment_prefixes=(";", "#"),
                                       inline_comment_prefixes=None, strict=False,
                                       interpolation=None)
        with open(self.ini_path, encoding="utf-8") as f:
            cp.read_file(f)
        return {s: dict(cp.items(s)) for s in cp.sections()}

    # ---- HTTP --------------------------------------------------------------------------
    def request(self, method, path, body=None, headers=None, timeout=20):
        """One request on a new connection; returns Response (status, headers, body)."""
        if isinstance(body, str):
            body = body.encode("utf-8")
        hdrs = {"Connection": "close"}
        hdrs.update(headers or {})
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            try:
                conn.request(method, path, body=body, headers=hdrs)
            except (BrokenPipeError, ConnectionResetError):
                # the server answered (413) before taking the whole body: read its answer
                pass
            resp = conn.getresponse()
            data = resp.read()
            return Response(resp.status, resp.headers, data)
        finally:
            conn.close()

    def get(self, path, headers=None, **kw):
        return self.request("GET", path, headers=headers, **kw)

    def json_post(self, path, obj, headers=None, **kw):
        """POSTs obj as JSON (or str/bytes as they are) with Content-Type application/json."""
        if isinstance(obj, (dict, list)):
            body = json.dumps(obj, ensure_ascii=False).encode("utf-8")
        else:
            body = obj
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        return self.request("POST", path, body=body, headers=h, **kw)

    def form_post(self, path, fields, cookie=None, headers=None, **kw):
        """POSTs fields (dict or list of pairs, or a raw str) as form-urlencoded."""
        body = fields if isinstance(fields, (str, bytes)) else urllib.parse.urlencode(fields)
        h = {"Content-Type": "application/x-www-form-urlencoded"}
        if cookie:
            h["Cookie"] = "hall_csrf=" + cookie
        h.update(headers or {})
        return self.request("POST", path, body=body, headers=h, **kw)

    # ---- API shortcuts -----------------------------------------------------------------
    def health(self):
        r = self.get("/api/v1/health")
        if r.status != 200:
            raise AssertionError("health: %r" % r)
        return r.json()

    def submit(self, obj=None, path="/api/v1/consultations", expect=201, **changes):
        """Submits a consultation (or obj) and returns the receipt; asserts the status."""
        data = dict(CONSULT if obj is None else obj)
        data.update(changes)
        r = self.json_post(path, data)
        if r.status != expect:
            raise AssertionError("submit %s: expected %d, got %r" % (path, expect, r))
        return r.json()

    def lookup(self, case_no, code):
        return self.get("/api/v1/cases/%s?code=%s" % (urllib.parse.quote(case_no),
                                                       urllib.parse.quote(code)))

    # ---- the store (county simulation and row counts only) ---------------------------
    def db(self):
        con = sqlite3.connect(self.db_path, timeout=10)
        con.execute("PRAGMA busy_timeout = 10000")
        return con

    def counts(self, tables=("cases", "ratings", "outbox", "case_events")):
        con = self.db()
        try:
            return {t: con.execute('SELECT count(*) FROM "%s"' % t).fetchone()[0]
                    for t in tables}
        finally:
            con.close()

    def answer(self, case_no, text="您好，您咨询的问题答复如下：可以在街道窗口办理。",
               status="answered"):
        """Simulates the county's answer arriving by the downlink."""
        now = int(time.time())
        con = self.db()
        try:
            with con:
                con.execute("UPDATE cases SET status = ?, reply_text = ?, reply_at = ?, "
                            "updated_at = ? WHERE case_no = ?",
                            (status, text, now, now, case_no))
                con.execute("INSERT INTO case_events (id, case_no, status, note, actor, at) "
                            "VALUES (?, ?, ?, ?, 'county', ?)",
                            ("430121000000-E%d" % time.time_ns(), case_no, status, text, now))
        finally:
            con.close()


# ---- forms -------------------------------------------------------------------------------

class _FormParser(HTMLParser):
    """Collects every <form> with its action and <input>s (name -> value)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms = []
        self._cur = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self._cur = {"action": a.get("action"), "method": a.get("method"), "inputs": {},
                         "hidden": {}}
            self.forms.append(self._cur)
        elif tag == "input" and self._cur is not None and a.get("name"):
            self._cur["inputs"][a["name"]] = a.get("value") or ""
            if a.get("type") == "hidden":
                self._cur["hidden"][a["name"]] = a.get("value") or ""

    def handle_endtag(self, tag):
        if tag == "form":
            self._cur = None


def parse_forms(html):
    p = _FormParser()
    p.feed(html)
    return p.forms


def cookie_from(resp):
    """The hall_csrf value a response sets, or None."""
    for v in resp.headers.get_all("Set-Cookie") or []:
        m = re.match(r"\s*hall_csrf=([^;]*)", v)
        if m:
            return m.group(1)
    return None


class Form:
    """A form page as a browser holds it: the cookie, and the hidden csrf and key fields."""

    def __init__(self, node, path, cookie=None, action=None):
        self.node = node
        self.path = path
        headers = {"Cookie": "hall_csrf=" + cookie} if cookie else None
        self.page = node.get(path, headers=headers)
        if self.page.status != 200:
            raise AssertionError("GET %s: %r" % (path, self.page))
        self.cookie = cookie_from(self.page) or cookie
        if not self.cookie:
            raise AssertionError("GET %s set no hall_csrf cookie" % path)
        forms = parse_forms(self.page.text)
        want = action or path
        self.form = next((f for f in forms if f["action"] == want), None)
        if self.form is None:
            raise AssertionError("no form posting to %s on %s" % (want, path))
        self.hidden = dict(self.form["hidden"])
        self.csrf = self.hidden.get("csrf")
        self.key = self.hidden.get("key")
        if not self.csrf:
            raise AssertionError("no csrf field on %s" % path)

    @property
    def action(self):
        return self.form["action"]

    def post(self, fields, with_hidden=True, cookie=None, **kw):
        data = dict(self.hidden) if with_hidden else {}
        data.update(fields)
        return self.node.form_post(self.action, data,
                                   cookie=self.cookie if cookie is None else cookie, **kw)


# ---- the working-day calendar (SPEC 3), as lib/core/calendar.c decides it ---------------

CALENDAR_DUE = os.path.join(ROOT, BUILD, "calendar-due")


class Calendar:
    """The working-day calendar of the YYYY.txt files in a folder, as the C parser decides
    it (lib/core/calendar.c, asked through build/calendar-due, tests/tools/calendar_due.c),
    so that the tests keep no copy of the rules. Answers are asked for a year at a time and
    kept."""

    def __init__(self, directory):
        self.directory = directory
        self._days = {}    # date: (working day, [(due date, provisional) for n = 1, 2, ...])

    def _load(self, year, max_n):
        p = subprocess.run([CALENDAR_DUE, "-n", str(max_n), self.directory, str(year)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        if p.returncode != 0:
            raise AssertionError("calendar-due %s %s: %s" % (self.directory, year,
                                 p.stderr.decode("utf-8", "replace")))
        for line in p.stdout.decode("ascii").splitlines():
            day, work, *dues = line.split()
            self._days[datetime.date.fromisoformat(day)] = (
                work == "1", [(datetime.date.fromisoformat(x[:10]), x[11:] == "1")
                              for x in dues])

    def day(self, d, n=1):
        """(working day, [(due date, provisional) for 1 .. at least n working days])."""
        if d not in self._days or len(self._days[d][1]) < n:
            self._load(d.year, max(n, 30))
        return self._days[d]

    def is_workday(self, d):
        return self.day(d)[0]

    def due(self, d, n):
        """(the n-th working day after the civil day d, provisional)."""
        return self.day(d, n)[1][n - 1]


def load_calendar(directory=CALENDAR_DIR):
    return Calendar(directory)


def is_workday(cal, d):
    return cal.is_workday(d)


def due_date(cal, submitted, n):
    """(due datetime in +08:00, provisional) for n working days after `submitted`."""
    d, provisional = cal.due(submitted.astimezone(TZ).date(), n)
    return datetime.datetime(d.year, d.month, d.day, 23, 59, 59, tzinfo=TZ), provisional


RFC3339_CN = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+08:00$")


def parse_time(s):
    if not isinstance(s, str) or not RFC3339_CN.match(s):
        raise AssertionError("not RFC 3339 with +08:00: %r" % (s,))
    return datetime.datetime.fromisoformat(s)


def finish_node(node):
    """Stops the node, removes its VAR, and fails when its programs reported problems on the
    way out (LeakSanitizer runs when the workers exit)."""
    try:
        node.stop()
        problems = node.new_log_problems()
    finally:
        node.cleanup()
    if problems:
        raise AssertionError("the hall programs logged problems:\n" + "\n".join(problems[:20]))


# ---- test base class ----------------------------------------------------------------------

class NodeTestCase(unittest.TestCase):
    """A TestCase class with one node of its own (started in setUpClass, always removed).

    EXTRA_INI is appended to the node's INI. After every test the node's logs are checked
    for sanitizer reports and workers killed by a signal; any makes the test fail.
    """

    EXTRA_INI = NO_LIMITS
    NODE_NAME = "node"
    node = None

    @classmethod
    def setUpClass(cls):
        cls.node = Node(cls.NODE_NAME)
        cls.addClassCleanup(finish_node, cls.node)
        cls.node.start(cls.EXTRA_INI)

    def tearDown(self):
        node = getattr(self, "node", None)
        if node is not None:
            problems = node.new_log_problems()
            if problems:
                self.fail("the hall programs logged problems:\n" + "\n".join(problems[:20]))

    # ---- assertions shared by the modules -------------------------------------------
    def assertJsonError(self, resp, status, field=None, code=None):
        """resp is status with the error body of SPEC 4.3; returns the error object."""
        self.assertEqual(resp.status, status, resp)
        ctype = resp.headers.get("Content-Type", "")
        self.assertTrue(ctype.startswith("application/json"), "Content-Type %r" % ctype)
        doc = json.loads(resp.body.decode("utf-8"))
        self.assertEqual(set(doc), {"error"}, doc)
        err = doc["error"]
        self.assertIsInstance(err, dict)
        self.assertLessEqual({"code", "message"}, set(err), err)
        self.assertLessEqual(set(err), {"code", "message", "field"}, err)
        self.assertIsInstance(err["code"], str)
        self.assertTrue(err["code"], err)
        self.assertIsInstance(err["message"], str)
        self.assertRegex(err["message"], r"[\u4e00-\u9fff]", "message is not a zh-CN sentence")
        if field is not None:
            self.assertEqual(err.get("field"), field, err)
        if code is not None:
            self.assertEqual(err["code"], code, err)
        return err

    def assertRetryAfter(self, resp, low=1, high=None):
        ra = resp.headers.get("Retry-After")
        self.assertIsNotNone(ra, "no Retry-After header")
        self.assertRegex(ra.strip(), r"^\d+$", "Retry-After is not integer seconds")
        n = int(ra)
        self.assertGreaterEqual(n, low)
        if high is not None:
            self.assertLessEqual(n, high)
        return n


class Unchanged:
    """with Unchanged(test, node): asserts that the store's row counts did not move."""

    def __init__(self, test, node, tables=("cases", "ratings", "outbox", "case_events")):
        self.test, self.node, self.tables = test, node, tables

    def __enter__(self):
        self.before = self.node.counts(self.tables)
        return self

    def __exit__(self, et, ev, tb):
        if et is None:
            self.test.assertEqual(self.node.counts(self.tables), self.before,
                                  "a refused request wrote to the store")
        return False
