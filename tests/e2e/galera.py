"""The county database as a 3-node MariaDB Galera cluster on loopback (SPEC 12), for the
tests: each node a mariadbd of its own under $VAR/galera/nI, with its own ports for SQL,
group communication (gcomm), IST and SST (rsync), the demo's TLS certificate (its
my.cnf from conf/galera-my.cnf.in, which `conf/demo` fills in for CLUSTER=1 too), and the
accounts and schema the single county of a Node(county=True) has, loaded once through
node 1 by county-admin (so every migration runs under Galera's rules).

    cluster = Cluster(node)              node: a Node(county=True), its county stopped
    cluster.up()                         bootstrap, join, wait Synced, migrate, accounts
    cluster.hosts()                      "127.0.0.1:P1, 127.0.0.1:P2, 127.0.0.1:P3"
    cluster.county(i).rows("SELECT …")   County helpers on node i (0-based)
    cluster.kill9(i); cluster.start(i)   a node dies; it rejoins by IST (or SST)
    cluster.wait_synced()                every running node Synced, cluster_size = running

Python 3 standard library only.
"""

import atexit
import os
import re
import shutil
import signal
import subprocess
import time

from county import COUNTY_ADMIN, County, wait_until
from harness import ROOT, pick_port, proc_state, wait_gone

PROVIDER = "/usr/lib/galera/libgalera_smm.so"
# one node's settings, shared with conf/demo (CLUSTER=1)
MY_CNF_IN = os.path.join(ROOT, "conf", "galera-my.cnf.in")

_live = []


def _kill_clusters():
    for c in list(_live):
        try:
            c.cleanup()
        except Exception:  # noqa: BLE001 - best effort at exit
            pass


atexit.register(_kill_clusters)


def missing():
    """Why a cluster cannot run here (None when it can)."""
    if not os.path.exists(PROVIDER):
        return "galera-4 is not installed (%s missing)" % PROVIDER
    for prog in ("mariadbd", "mariadb-install-db", "rsync", "wsrep_sst_rsync"):
        if shutil.which(prog) is None:
            return "%s is not installed" % prog
    return None


class NodeCounty(County):
    """County helpers (rows, sql, session…) aimed at one node of the cluster."""

    def __init__(self, cluster, i):
        node = cluster.node
        self.node = node
        self.var = node.var
        self.port = cluster.sql_port[i]
        self.socket = cluster.socket(i)
        self.hall_code = node.ini()["hall"]["code"]
        self._cnf = {}
        self._dir = cluster.dir(i)
        self._cluster = cluster
        self._i = i

    def cnf(self, name):
        path = os.path.join(self._dir, "client-%s.cnf" % name)
        if not os.path.exists(path):
            user, pw, via = self.account(name)
            lines = ["[client]", "user=%s" % user, "password=%s" % pw]
            if via == "socket":
                lines.append("socket=%s" % self.socket)
            else:
                lines += ["host=127.0.0.1", "port=%d" % self.port, "protocol=TCP",
                          "ssl-ca=%s" % self.node.ca_path, "ssl-verify-server-cert"]
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write("\n".join(lines) + "\n")
        return path

    @property
    def pid(self):
        return self._cluster.pid(self._i)

    def kill9(self):
        self._cluster.kill9(self._i)

    def start(self, timeout=120):
        self._cluster.start(self._i, timeout=timeout)


class Cluster:
    SIZE = 3

    def __init__(self, node):
        self.node = node
        self.base = os.path.join(node.var, "galera")
        self.sql_port = [pick_port() for _ in range(self.SIZE)]
        self.gcomm_port = [pick_port() for _ in range(self.SIZE)]
        self.ist_port = [pick_port() for _ in range(self.SIZE)]
        self.sst_port = [pick_port() for _ in range(self.SIZE)]
        self.procs = [None] * self.SIZE
        _live.append(self)

    # ---- places ------------------------------------------------------------------------
    def dir(self, i):
        return os.path.join(self.base, "n%d" % (i + 1))

    def socket(self, i):
        return os.path.join(self.dir(i), "mysqld.sock")

    def log_path(self, i):
        return os.path.join(self.dir(i), "error.log")

    def hosts(self):
        return ", ".join("127.0.0.1:%d" % p for p in self.sql_port)

    def county(self, i):
        return NodeCounty(self, i)

    def _root_pw(self):
        with open(os.path.join(self.node.var, "county", "secrets", "root.pw")) as f:
            return f.readline().strip()

    def my_cnf(self, i):
        """Node i's my.cnf: conf/galera-my.cnf.in, the template conf/demo's CLUSTER=1 fills
        in too, with this cluster's folders and ports."""
        values = {
            "DIR": self.dir(i),
            "VAR": self.node.var,
            "NAME": "n%d" % (i + 1),
            "CLUSTER": "hall_county_test",
            "PORT": str(self.sql_port[i]),
            "GCOMM": ",".join("127.0.0.1:%d" % p for p in self.gcomm_port),
            "GCOMM_PORT": str(self.gcomm_port[i]),
            "IST_PORT": str(self.ist_port[i]),
            "SST_PORT": str(self.sst_port[i]),
            "USER": "user = root" if os.getuid() == 0 else "",
        }
        with open(MY_CNF_IN) as f:
            text = re.sub(r"@([A-Z_]+)@", lambda m: values[m.group(1)], f.read())
        path = os.path.join(self.dir(i), "my.cnf")
        with open(path, "w") as f:
            f.write(text)
        return path

    # ---- life cycle --------------------------------------------------------------------
    def pid(self, i):
        try:
            with open(os.path.join(self.dir(i), "mysqld.pid")) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def alive(self, i):
        pid = self.pid(i)
        return pid is not None and proc_state(pid) not in (None, "Z", "X")

    def _admin(self, i, sql, root_pw=True, timeout=30):
        argv = ["mariadb", "--socket=" + self.socket(i), "-uroot", "-N", "-B"]
        env = dict(os.environ)
        if root_pw:
            env["MYSQL_PWD"] = self._root_pw()
        p = subprocess.run(argv, input=sql.encode(), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, env=env, timeout=timeout)
        return p.returncode == 0, p.stdout.decode("utf-8", "replace")

    def status(self, i, name):
        """A wsrep status variable of node i (None when it does not answer)."""
        ok, out = self._admin(i, "SHOW STATUS LIKE '%s'" % name, timeout=10)
        if not ok or not out.strip():
            return None
        return out.strip().split("\t")[1]

    def start(self, i, bootstrap=False, timeout=180, fresh=False):
        """Starts node i (bootstrap: a new cluster from its data) and waits until it is
        Synced (a joiner receives IST or an rsync SST first)."""
        if self.alive(i):
            return
        d = self.dir(i)
        for sub in ("", "data", "tmp"):
            os.makedirs(os.path.join(d, sub), mode=0o700, exist_ok=True)
        cnf = self.my_cnf(i)
        if os.getuid() == 0 and not fresh:
            self._sst_as_nobody(i)
        if fresh:
            subprocess.run(["mariadb-install-db", "--defaults-file=" + cnf,
                            "--auth-root-authentication-method=normal", "--skip-test-db"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True,
                           timeout=120)
        argv = ["mariadbd", "--defaults-file=" + cnf]
        if bootstrap:
            argv.append("--wsrep-new-cluster")
        env = dict(os.environ, UMASK="0600", UMASK_DIR="0700")
        with open(os.path.join(d, "stdout.log"), "ab") as log:
            self.procs[i] = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                             stderr=log, start_new_session=True, env=env)
        root_pw = not fresh

        def synced():
            if self.procs[i].poll() is not None:
                others = "\n".join("node %d:\n%s" % (k + 1, self.log_tail(k, 25, "SST|ERROR"))
                                   for k in range(self.SIZE) if k != i)
                raise AssertionError("galera node %d exited (%s):\n%s\n%s" % (
                    i + 1, self.procs[i].returncode, self.log_tail(i), others))
            ok, out = self._admin(i, "SHOW STATUS LIKE 'wsrep_local_state'", root_pw, 10)
            return ok and out.strip().endswith("\t4")
        wait_until(synced, timeout, 0.3, "galera node %d to be Synced" % (i + 1))

    def _sst_as_nobody(self, i):
        """Run as root, wsrep_sst_rsync's rsync daemon drops to `nobody` (rsync's default
        uid for a root daemon): the joiner's datadir must be reachable and writable by it.
        Only traversal (o+x) is opened on the folders above; mariadbd, as root, reads
        whatever nobody wrote."""
        import pwd
        nobody = pwd.getpwnam("nobody")
        for d in (self.node.var, self.base, self.dir(i)):
            os.chmod(d, os.stat(d).st_mode | 0o001)
        data = os.path.join(self.dir(i), "data")
        for root, dirs, files in os.walk(data):
            for x in [root] + [os.path.join(root, f) for f in dirs + files]:
                os.lchown(x, nobody.pw_uid, nobody.pw_gid)

    def log_tail(self, i, n=40, only=None):
        """The last n lines of node i's error log (only: those matching that regex)."""
        try:
            with open(self.log_path(i), "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
                if only:
                    lines = [x for x in lines if re.search(only, x)]
                return "\n".join(lines[-n:])
        except OSError:
            return ""

    def kill9(self, i):
        pid = self.pid(i)
        if pid is None:
            return
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        if not wait_gone([pid], 20):
            raise AssertionError("galera node %d did not die" % (i + 1))
        if self.procs[i] is not None:
            self.procs[i].wait(10)

    def stop(self, i):
        pid = self.pid(i)
        if pid is None or not self.alive(i):
            return
        os.kill(pid, signal.SIGTERM)
        if not wait_gone([pid], 60):
            os.kill(pid, signal.SIGKILL)
            wait_gone([pid], 10)

    def stop_all(self):
        # the last node to leave is the one safe to bootstrap from (grastate safe_to_bootstrap)
        for i in range(self.SIZE):
            self.stop(i)

    def wait_synced(self, timeout=180):
        """Every running node Synced and the cluster as large as the running nodes."""
        up = [i for i in range(self.SIZE) if self.alive(i)]

        def ok():
            return all(self.status(i, "wsrep_local_state") == "4" and
                       self.status(i, "wsrep_cluster_size") == str(len(up)) for i in up)
        wait_until(ok, timeout, 0.3, "the cluster to be Synced (%d nodes)" % len(up))

    def up(self):
        """Bootstraps node 1 (fresh data, root's password as the single county has it),
        joins nodes 2 and 3 by SST, then loads the schema and accounts through node 1."""
        self.start(0, bootstrap=True, fresh=True)
        ok, out = self._admin(0, "ALTER USER root@localhost IDENTIFIED BY '%s';"
                              % self._root_pw(), root_pw=False)
        if not ok:
            raise AssertionError("setting root's password on galera node 1 failed")
        for i in range(1, self.SIZE):
            self.start(i)
        self.wait_synced()
        self.load_schema()

    def county_ini(self, i=0):
        c = os.path.join(self.node.var, "county")
        path = os.path.join(self.dir(i), "county.ini")
        with open(path, "w") as f:
            f.write("[county]\nsocket = %s\ndatabase = county\nadmin_user = root\n"
                    "admin_password_file = %s/secrets/root.pw\nschema_dir = %s/sql/county\n"
                    % (self.socket(i), c, ROOT))
        return path

    def admin(self, *args, i=0):
        p = subprocess.run([COUNTY_ADMIN, "-c", self.county_ini(i)] + list(args),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
        if p.returncode != 0:
            raise AssertionError("county-admin %s on galera node %d: %s" % (
                args[0], i + 1, p.stdout.decode("utf-8", "replace")))
        return p.stdout.decode("utf-8", "replace")

    def load_schema(self):
        """What conf/demo's county_start and staff_start do, through node 1: every
        migration, the demo hall, the reader, the console, the province's account."""
        v = self.node.var
        sec = os.path.join(v, "county", "secrets")
        code = self.node.ini()["hall"]["code"]
        self.admin("migrate")
        self.admin("add-hall", code, "测试大厅", os.path.join(v, "hall", "secrets", "county.pw"))
        self.admin("add-reader", "county_demo", os.path.join(sec, "reader.pw"))
        for cmd, user, pw in (("add-console", "staff_web", "console.pw"),
                              ("add-provincial", "province_calendar_web", "province.pw"),
                              ("add-notifier", "notifier_web", "notifier.pw")):
            if os.path.exists(os.path.join(sec, pw)):
                self.admin(cmd, user, os.path.join(sec, pw))
        cal = sorted(os.path.join(ROOT, "conf", "calendar", f)
                     for f in os.listdir(os.path.join(ROOT, "conf", "calendar"))
                     if f.endswith(".txt"))
        self.admin("import-calendars", *cal)

    def connected_node(self, user):
        """The nodes where user has a connection (the processlist of each running node)."""
        out = []
        for i in range(self.SIZE):
            if not self.alive(i):
                continue
            ok, rows = self._admin(i, "SELECT count(*) FROM information_schema.processlist "
                                   "WHERE user = '%s'" % user, timeout=10)
            if ok and rows.strip() not in ("", "0"):
                out.append(i)
        return out

    def cleanup(self):
        if self in _live:
            _live.remove(self)
        for i in range(self.SIZE):
            pid = self.pid(i)
            if pid is not None and self.alive(i):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                wait_gone([pid], 20)
