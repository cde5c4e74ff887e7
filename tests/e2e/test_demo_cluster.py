"""`make run CLUSTER=1`: the demo with its county database as a 3-node Galera cluster on
loopback (conf/demo, conf/galera-my.cnf.in; SPEC 12).

`conf/demo run` with CLUSTER=1, as `make run CLUSTER=1` calls it, in a VAR and on ports of
its own (COUNTY_PORT for three SQL ports in a row, GALERA_PORT for nine):
- the three nodes are Synced in one cluster, and no single county server was made;
- hall-agent, the staff console and county-notifier are given the node list, which
  run.env says as COUNTY_NODES;
- a case submitted at the hall reaches the county on every node, and the staff console
  shows it;
- `conf/demo stop` (without CLUSTER, as `make stop` runs it) leaves no mariadbd of the VAR, and node 1, stopped last, is the one
  Galera marks safe to bootstrap from; a second start bootstraps from it, the others
  rejoin, and the case is still on all three.

Skipped, saying why, where galera-4, rsync or MariaDB's server is not installed.
"""

import configparser
import os
import subprocess
import time
import unittest

import harness
import test_staff
from county import wait_until
from galera import missing
from harness import DEMO, NO_LIMITS, ROOT, Node, kill9_tree, pick_port, proc_state, reap

NODES = 3


def free_run(n):
    """The first of n ports in a row, from E2E_PORT_BASE + 10000 up, that nobody listens on
    and this process has not handed out."""
    low = harness.PORT_BASE + 10000
    for base in range(low, low + 320 - n):
        run = range(base, base + n)
        if all(p not in harness._used_ports and harness._port_free(p) for p in run):
            harness._used_ports.update(run)
            return base
    raise RuntimeError("no %d free ports in a row from %d" % (n, low))


class ClusterNode(Node):
    """A Node whose `conf/demo` runs with CLUSTER=1 on ports of its own."""

    def __init__(self):
        super().__init__("democluster", county=True, agent=True, staff=True, notify=True)
        self.county_port = free_run(NODES)
        self.galera_port = free_run(3 * NODES)
        self.extra_ini = NO_LIMITS

    def _env(self):
        env = super()._env()
        # DEMO_SCHEDULE as `make run` has it: its appointments published on the cluster
        env.update(CLUSTER="1", COUNTY_PORT=str(self.county_port),
                   GALERA_PORT=str(self.galera_port), DEMO_SCHEDULE="1")
        return env

    def node_dir(self, i):
        return os.path.join(self.var, "galera", "n%d" % (i + 1))

    def node_pid(self, i):
        try:
            with open(os.path.join(self.node_dir(i), "mysqld.pid")) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def sql(self, i, query):
        """Rows (lists of strings) of query as root on node i, through its socket."""
        cnf = os.path.join(self.var, "county", "secrets", "root.cnf")
        p = subprocess.run(["mariadb", "--defaults-extra-file=" + cnf,
                            "--socket=" + os.path.join(self.node_dir(i), "mysqld.sock"),
                            "-N", "-B", "county", "-e", query],
                           capture_output=True, text=True, timeout=30)
        if p.returncode != 0:
            raise AssertionError("node %d: %s: %s" % (i + 1, query, p.stderr))
        return [line.split("\t") for line in p.stdout.splitlines()]

    def mariadbd_pids(self):
        """Every live mariadbd whose command line names this VAR."""
        out = []
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            try:
                with open("/proc/%s/cmdline" % name, "rb") as f:
                    argv = f.read().decode("utf-8", "replace").split("\0")
            except OSError:
                continue
            if (argv and os.path.basename(argv[0]) == "mariadbd" and
                    any(self.var in a for a in argv) and
                    proc_state(int(name)) not in (None, "Z", "X")):
                out.append(int(name))
        return out


class DemoClusterTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        why = missing()
        if why:
            raise unittest.SkipTest(why)
        cls.node = ClusterNode()
        cls.node.port = pick_port()
        cls.log = open(os.path.join(cls.node.var, "demo-run.out"), "ab")
        # `run`, as `make run CLUSTER=1` calls it: it stays in the foreground
        cls.proc = subprocess.Popen([DEMO, "run"], env=cls.node._env(), cwd=ROOT,
                                    stdin=subprocess.DEVNULL, stdout=cls.log,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        try:
            wait_until(cls._ready, 300, 0.5, "conf/demo run with CLUSTER=1 to start")
            cls.node.started = True
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def _ready(cls):
        if cls.proc.poll() is not None:
            raise AssertionError("conf/demo run exited (%s):\n%s\n%s" % (
                cls.proc.returncode, cls.output(), cls.node.logs_tail()))
        return (os.path.exists(os.path.join(cls.node.var, "run.env")) and
                "staff console:" in cls.output())

    @classmethod
    def output(cls):
        with open(os.path.join(cls.node.var, "demo-run.out"), "rb") as f:
            return f.read().decode("utf-8", "replace")

    @classmethod
    def tearDownClass(cls):
        pids = [cls.node.node_pid(i) for i in range(NODES)]
        try:
            cls.node.stop()
            if cls.proc.poll() is None:
                cls.proc.terminate()
            cls.proc.wait(60)
        finally:
            # whatever a failed stop left of the cluster goes too
            left = cls.node.mariadbd_pids()
            for pid in left:
                kill9_tree(pid)
            reap(pids + left)
            cls.log.close()
            cls.node.cleanup()

    def hosts(self):
        return ",".join("127.0.0.1:%d" % (self.node.county_port + i) for i in range(NODES))

    def wait_synced(self):
        def synced():
            for i in range(NODES):
                rows = dict(self.node.sql(i, "SHOW STATUS LIKE 'wsrep_%'"))
                if rows.get("wsrep_local_state") != "4" or \
                        rows.get("wsrep_cluster_size") != str(NODES):
                    return False
            return True
        wait_until(synced, 60, 0.3, "the demo's cluster to be Synced with %d nodes" % NODES)

    def on_every_node(self, case_no):
        return [self.node.sql(i, "SELECT count(*) FROM cases WHERE case_no = '%s'"
                              % case_no)[0][0] for i in range(NODES)]

    def test_the_demo_runs_on_the_cluster(self):
        n = self.node
        self.wait_synced()
        self.assertFalse(os.path.exists(os.path.join(n.var, "county", "data")),
                         "CLUSTER=1 made a single county server too")
        self.assertIsNone(n.pid("county"))

        # every county program of the demo has the node list
        self.assertEqual(n.run_env().get("COUNTY_NODES"), self.hosts())
        for ini in ("hall.ini", "staff/staff.ini", "notifier/notifier.ini"):
            cp = configparser.ConfigParser(strict=False, interpolation=None)
            cp.read(os.path.join(n.var, ini), encoding="utf-8")
            self.assertEqual(cp["county"]["host"], self.hosts(), ini)

        # a case at the hall reaches the county, on every node; the console shows it
        case_no = n.submit(subject="集群演示 案件")["case_no"]
        wait_until(lambda: self.on_every_node(case_no) == ["1"] * NODES, 60, 0.3,
                   "the case to reach every node")
        env = n.run_env()
        staff = test_staff.Client(n.staff_port)
        r = staff.login(env["STAFF_USER"], env["STAFF_PASSWORD"])
        self.assertEqual(r.status, 303, r.text[:300])
        r = staff.get("/cases/" + case_no)
        self.assertEqual(r.status, 200, r.text[:300])
        self.assertIn("集群演示 案件", r.text)
        # county-notifier polls the cluster: its account is connected to a node
        wait_until(lambda: any(self.node.sql(i, "SELECT count(*) FROM "
                                             "information_schema.processlist WHERE user = "
                                             "'notifier_web'")[0][0] != "0"
                               for i in range(NODES)), 30, 0.5,
                   "county-notifier to connect to the cluster")

        # stop as `make stop` calls it, without CLUSTER: nothing of the cluster is left, and
        # node 1 left last
        pids = [n.node_pid(i) for i in range(NODES)]
        self.assertNotIn(None, pids)
        env = n._env()
        del env["CLUSTER"]
        p = subprocess.run([DEMO, "stop"], env=env, cwd=ROOT, capture_output=True, text=True,
                           timeout=300)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.proc.wait(60)
        reap(pids)
        self.assertEqual(n.mariadbd_pids(), [], "mariadbd left running after stop")
        with open(os.path.join(n.node_dir(0), "data", "grastate.dat")) as f:
            self.assertRegex(f.read(), r"(?m)^safe_to_bootstrap: *1")

        # a second start bootstraps from node 1; the others rejoin; the case is kept
        t0 = time.monotonic()
        p = subprocess.run([DEMO, "start"], env=n._env(), cwd=ROOT, capture_output=True,
                           timeout=300)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.wait_synced()
        self.assertEqual(self.on_every_node(case_no), ["1"] * NODES)
        self.assertLess(time.monotonic() - t0, 240)
        pids = [n.node_pid(i) for i in range(NODES)]
        n.stop()
        reap(pids)
        self.assertEqual(n.mariadbd_pids(), [], "mariadbd left running after the second stop")


if __name__ == "__main__":
    unittest.main()
