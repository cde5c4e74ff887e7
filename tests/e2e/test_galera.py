"""SPEC 12: the county database as a 3-node Galera cluster (tests/e2e/galera.py).

- Every county migration runs through node 1 of a fresh cluster; the schema then keeps
  Galera's rules: a primary key on every table, InnoDB only, no LOCK TABLES or GET_LOCK in
  a routine, and the routines, triggers and accounts reach every node.
- hall-agent, given the nodes as a list, syncs a 5,000-record backlog; the node it is
  connected to (found in each node's processlist) is killed with -9 in the middle; the
  agent fails over to another node and every record of the hall's outbox is in the
  county's ledger (`records`) exactly once; the killed node rejoins (IST) and holds them
  all too.
- The staff console (staff-console behind its nginx), given the nodes as a list, serves a
  signed-in member who accepts and answers cases; the node its connection is on is killed
  with -9 in the middle of that work; every action answered with an error is submitted
  again, the same form with the same hidden fields (CSRF token, the seq of the last event
  the page showed), as a person would; each action is then in case_events and audit_log
  exactly once, the console's connection is on a surviving node, and the killed node
  rejoins with the same rows.

Skipped, saying why, where galera-4, rsync or MariaDB's server is not installed.
"""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

from county import Agent, County, hall_rows, hall_scalar, sql_str, wait_until
from galera import Cluster, missing
from harness import NO_LIMITS, ROOT, Node, parse_forms, wait_gone
from test_staff import STAFF_CONSOLE, Client, caseno

sys.path.insert(0, os.path.join(ROOT, "tests", "bench"))
import bulkfill  # noqa: E402

BACKLOG = 5000
# the staff work: each case accepted, then answered (2 actions a case)
STAFF_CASES = 8
STAFF_USER = "galera_staff"
STAFF_CASE_ID = "-staff-"     # in the ids of the cases it writes into the county


def brief(statuses):
    """A long list of answers, shortened: how many, the first and last few."""
    if len(statuses) <= 8:
        return repr(statuses)
    return "%d answers: %r … %r" % (len(statuses), statuses[:3], statuses[-3:])


class ClusterAgent(Agent):
    """hall-agent with the node's INI plus [county] host = the cluster's nodes."""

    def __init__(self, node, ini):
        super().__init__(node)
        self.ini = ini

    def argv(self, cmd):
        return [self.argv0(), "-c", self.ini, cmd]

    @staticmethod
    def argv0():
        from county import AGENT
        return AGENT


class GaleraTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        why = missing()
        if why:
            raise unittest.SkipTest(why)
        # staff: conf/demo makes the console's database account (loaded into the cluster
        # by load_schema) and its nginx; the test runs its own staff-console on the nodes
        cls.node = Node("galera", county=True, agent=False, staff=True)
        try:
            cls.node.start(NO_LIMITS)
            County(cls.node).stop()      # the single county is not needed: its memory back
            cls.cluster = Cluster(cls.node)
            cls.cluster.up()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        if getattr(cls, "cluster", None) is not None:
            cls.cluster.cleanup()
        cls.node.stop()

    def cluster_ini(self):
        path = os.path.join(self.node.var, "hall-galera.ini")
        with open(self.node.ini_path) as f:
            text = f.read()
        # a later [county] section's keys replace the earlier ones (lib/core/config.c)
        with open(path, "w") as f:
            f.write(text + "\n[county]\nhost = %s\n" % self.cluster.hosts())
            # batches of 100: the 5,000 records take long enough to be cut in the middle
            f.write("[agent]\nbatch_records = 100\n")
        os.chmod(path, 0o600)
        return path

    # ---- the schema --------------------------------------------------------------------
    def setUp(self):
        # a test that failed half way may have left a node down: every test starts with 3
        for i in range(3):
            self.cluster.start(i)
        self.cluster.wait_synced()

    def test_schema_keeps_galera_rules(self):
        c = self.cluster.county(0)
        no_pk = c.rows(
            "SELECT t.table_name FROM information_schema.tables t WHERE t.table_schema = "
            "'county' AND t.table_type = 'BASE TABLE' AND NOT EXISTS (SELECT 1 FROM "
            "information_schema.table_constraints k WHERE k.table_schema = t.table_schema "
            "AND k.table_name = t.table_name AND k.constraint_type = 'PRIMARY KEY')")
        self.assertEqual(no_pk, [], "tables without a primary key")
        not_innodb = c.rows(
            "SELECT table_name, engine FROM information_schema.tables WHERE table_schema = "
            "'county' AND table_type = 'BASE TABLE' AND engine <> 'InnoDB'")
        self.assertEqual(not_innodb, [], "tables Galera does not replicate")
        locking = c.rows(
            "SELECT routine_name FROM information_schema.routines WHERE routine_schema = "
            "'county' AND (routine_definition LIKE '%LOCK TABLES%' OR "
            "routine_definition LIKE '%GET_LOCK%')")
        self.assertEqual(locking, [], "routines that lock outside Galera's certification")
        # what node 1 made is on node 3: tables, routines, triggers, the hall's account
        for what in ("information_schema.tables WHERE table_schema = 'county'",
                     "information_schema.routines WHERE routine_schema = 'county'",
                     "information_schema.triggers WHERE trigger_schema = 'county'",
                     "mysql.user WHERE user LIKE 'hall\\_%'"):
            counts = [self.cluster.county(i).scalar("SELECT count(*) FROM " + what)
                      for i in range(3)]
            self.assertEqual(len(set(counts)), 1, "%s differs across nodes: %r" % (what, counts))
            self.assertGreater(int(counts[0]), 0, what)
        # the hall's own account works on every node, over TLS
        for i in range(3):
            self.assertEqual(self.cluster.county(i).scalar(
                "SELECT count(*) FROM my_calendars", "hall"),
                self.cluster.county(0).scalar("SELECT count(*) FROM my_calendars", "hall"))

    # ---- the sync through a node's death -----------------------------------------------
    def test_kill_node_mid_sync(self):
        bulkfill.fill(self.node.db_path, BACKLOG)
        top = hall_scalar(self.node, "SELECT max(seq) FROM outbox")
        user = "hall_" + self.cluster.county(0).hall_code
        agent = ClusterAgent(self.node, self.cluster_ini())
        self.addCleanup(agent.cleanup)
        agent.start()
        agent.wait_up()

        def acked():
            return hall_scalar(self.node, "SELECT acked_seq FROM sync_dest WHERE dest = "
                                          "'county'")
        # the agent is stopped (SIGSTOP) as soon as a first batch is acknowledged, its
        # connection open, so that the node dies with the sync surely in its middle however
        # fast this machine drains (a kill timed by polling came after the end on a fast one)
        wait_until(lambda: acked() > 0, 60, 0.002, "a first batch acknowledged")
        os.kill(agent.proc.pid, signal.SIGSTOP)
        try:
            acked_at_kill = acked()
            where = wait_until(lambda: self.cluster.connected_node(user) or None, 30, 0.1,
                               "the agent's connection in a node's processlist")
            self.assertEqual(len(where), 1, where)
            victim = where[0]
            self.cluster.kill9(victim)
        finally:
            os.kill(agent.proc.pid, signal.SIGCONT)
        t0 = time.monotonic()
        wait_until(lambda: hall_scalar(self.node, "SELECT acked_seq FROM sync_dest WHERE "
                                                  "dest = 'county'") == top,
                   120, 0.2, "the backlog to drain after the kill")
        took = time.monotonic() - t0
        print("# killed node %d at %d of %d acknowledged; drained %.1f s later"
              % (victim + 1, acked_at_kill, top, took), flush=True)
        for line in agent.log().splitlines():
            if " warn" in line or "error" in line:
                print("# agent: " + line, flush=True)
        self.assertTrue(agent.running(), agent.log_tail())
        self.assertLess(acked_at_kill, top, "the kill came after the sync had ended")
        survivors = [i for i in range(3) if i != victim]
        now = self.cluster.connected_node(user)
        self.assertTrue(now and victim not in now, "the agent is not on a surviving node")
        self.assert_exactly_once(survivors[0])
        # the killed node comes back: it rejoins and holds the same ledger
        self.cluster.start(victim)
        self.cluster.wait_synced()
        self.assert_exactly_once(victim)
        rc, _ = agent.term()
        self.assertEqual(rc, 0, agent.log_tail())

    # ---- the staff console through a node's death ------------------------------------
    def staff_console_on_cluster(self):
        """Replaces the demo's staff-console (aimed at the single county, stopped) by one
        whose [county] host is the cluster's nodes, on the same socket behind the same
        nginx; adds a staff account of the hall's county. Returns the account's password."""
        s = os.path.join(self.node.var, "staff")
        ini = os.path.join(s, "staff-galera.ini")
        with open(os.path.join(s, "staff.ini")) as f:
            text = f.read()
        with open(ini, "w") as f:
            # later keys replace earlier ones; one worker, so that every request of the
            # staff member goes through the one connection the kill cuts
            f.write(text + "\n[console]\nworkers = 1\n[county]\nhost = %s\n"
                    % self.cluster.hosts())
        os.chmod(ini, 0o600)
        pid_path = os.path.join(self.node.var, "run", "staff-console.pid")
        old = self.node.pid("staff-console")
        if old is not None:
            try:
                os.kill(old, signal.SIGTERM)
            except ProcessLookupError:
                pass
            self.assertTrue(wait_gone([old], 20), "the demo's staff-console did not stop")
        d = tempfile.mkdtemp(prefix="galera-staff-")
        password = "correct-horse-galera"
        try:
            pw = os.path.join(d, "pw")
            with open(pw, "w") as f:
                f.write(password + "\n")
            p = subprocess.run([STAFF_CONSOLE, "-c", ini, "add-user", STAFF_USER,
                                self.cluster.county(0).hall_code[:6], "admin", pw],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        finally:
            shutil.rmtree(d)
        self.assertEqual(p.returncode, 0, p.stdout.decode("utf-8", "replace"))
        with open(self.node.log_path("staff-console"), "ab") as log:
            proc = subprocess.Popen([STAFF_CONSOLE, "-c", ini, "run"], stdin=subprocess.DEVNULL,
                                    stdout=log, stderr=log, start_new_session=True)
        with open(pid_path, "w") as f:
            f.write("%d\n" % proc.pid)

        def stop():
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(10)
        self.addCleanup(stop)
        self.staff_proc = proc

        def answers():
            try:
                return Client(self.node.staff_port).get("/login").status == 200
            except OSError:
                return False
        wait_until(answers, 30, 0.1, "the staff console on the cluster")
        return password

    def staff_cases(self):
        """STAFF_CASES new cases of the hall, written through node 1 as test_staff does."""
        c = self.cluster.county(0)
        code = c.hall_code
        base = int(time.time()) % 100000 * 100
        nos = [caseno(code, base + k) for k in range(STAFF_CASES)]
        for k, no in enumerate(nos):
            c.sql("INSERT INTO cases (case_no, id, hall_code, kind, subject, body, name, phone, "
                  "submitted_at, due_at) VALUES (%s, %s, %s, 'consultation', %s, '测试内容', "
                  "'测试人', '13800000000', NOW() - INTERVAL 1 DAY, NOW() + INTERVAL 3 DAY)"
                  % (sql_str(no), sql_str(code + STAFF_CASE_ID + no), sql_str(code),
                     sql_str("集群办件 %d" % k)))
        return nos

    def staff_act(self, client, no, action, note, deadline=120):
        """One action as a person does it: the case page's form for it, posted; an error
        (5xx, or no answer at all) is answered by posting the very same fields again (the
        CSRF token and the seq of the last event shown included), after a reload of the
        page when even that failed. Returns the answers' statuses, the last one 303 or, after
        a retry, the console's 409 (the first post did take effect: the seq moved on)."""
        path = "/cases/" + no
        end = time.monotonic() + deadline
        data = None
        statuses = []
        while data is None:
            try:
                r = client.get(path)
                if r.status == 200:
                    for f in parse_forms(r.text):
                        if f["action"] == path and f["hidden"].get("action") == action:
                            data = dict(f["hidden"], note=note)
                    self.assertIsNotNone(data, "no %s form on %s" % (action, path))
                    break
                statuses.append("GET %d" % r.status)
                self.assertGreaterEqual(r.status, 500, r.text[:300])
            except OSError as e:
                statuses.append("GET %s" % type(e).__name__)
            if time.monotonic() > end:
                self.fail("%s %s: the page never loaded: %s" % (action, no, brief(statuses)))
            time.sleep(0.5)
        while True:
            try:
                r = client.post(path, data)
                statuses.append(r.status)
                if r.status == 303:
                    # done, not sent to sign in again (a lost session would say so)
                    self.assertEqual(r.getheader("Location"), "%s?done=%s" % (path, action),
                                     statuses)
                    return statuses
                if r.status == 409 and len(statuses) > 1:
                    return statuses
                self.assertGreaterEqual(r.status, 500, "%s %s: %s %s"
                                        % (action, no, statuses, r.text[:300]))
            except OSError as e:
                statuses.append(type(e).__name__)
            if time.monotonic() > end:
                self.fail("%s %s kept failing: %s" % (action, no, brief(statuses)))
            time.sleep(0.5)

    def staff_rows(self, i, nos):
        c = self.cluster.county(i)
        inlist = ", ".join(sql_str(n) for n in nos)
        # sorted here: ids made on different nodes need not follow the order of the work
        events = c.rows("SELECT case_no, status, note, actor FROM case_events WHERE case_no IN "
                        "(%s) AND origin = 'county'" % inlist)
        audit = c.rows("SELECT case_no, action, account FROM audit_log WHERE case_no IN (%s) "
                       "AND action IN ('accept', 'answer')" % inlist)
        return sorted(map(list, events)), sorted(map(list, audit))

    def assert_staff_once(self, i, nos):
        events, audit = self.staff_rows(i, nos)
        want_events, want_audit = [], []
        for no in nos:
            want_events += [[no, "accepted", "受理 " + no[-4:], STAFF_USER],
                            [no, "answered", "答复 " + no[-4:], STAFF_USER]]
            want_audit += [[no, "accept", STAFF_USER], [no, "answer", STAFF_USER]]
        self.assertEqual(events, sorted(want_events),
                         "case_events on node %d: an action lost or doubled" % (i + 1))
        self.assertEqual(audit, sorted(want_audit),
                         "audit_log on node %d: an action lost or doubled" % (i + 1))
        self.assertEqual(self.cluster.county(i).scalar(
            "SELECT count(*) FROM cases WHERE status = 'answered' AND case_no IN (%s)"
            % ", ".join(sql_str(n) for n in nos)), str(len(nos)))

    def kill_inside_action(self, no):
        """Kills the node the console's connection is on while the console is inside an
        action's transaction on case no: a session on that node holds the case's row lock,
        so the action's SELECT … FOR UPDATE waits there, and the node is killed with -9 as
        soon as InnoDB shows the wait. Returns the node and the killing thread (its .error:
        what went wrong in it, or None)."""
        where = wait_until(lambda: self.cluster.connected_node("staff_web") or None, 30, 0.1,
                           "the console's connection in a node's processlist")
        self.assertEqual(len(where), 1, where)
        victim = where[0]
        node = self.cluster.county(victim)
        holder = node.session()
        self.addCleanup(holder.close)
        holder.run("BEGIN; SELECT case_no FROM cases WHERE case_no = %s FOR UPDATE"
                   % sql_str(no))

        def kill():
            try:
                wait_until(lambda: node.scalar("SELECT count(*) FROM information_schema."
                                               "innodb_trx WHERE trx_state = 'LOCK WAIT'")
                           != "0", 20, 0.05, "the console's action waiting for the case")
                self.cluster.kill9(victim)
            except BaseException as e:  # noqa: BLE001 - reported by the test's thread
                killer.error = e
        killer = threading.Thread(target=kill)
        killer.error = None
        killer.start()
        return victim, killer

    def test_kill_node_during_staff_work(self):
        password = self.staff_console_on_cluster()
        nos = self.staff_cases()
        client = Client(self.node.staff_port)
        r = client.login(STAFF_USER, password)
        self.assertEqual(r.status, 303, r.text[:300])
        work = [(no, act, "%s %s" % (word, no[-4:])) for no in nos
                for act, word in (("accept", "受理"), ("answer", "答复"))]
        half = len(work) // 2
        victim = None
        answers = []
        for k, (no, act, note) in enumerate(work):
            if k == half:
                victim, killer = self.kill_inside_action(no)
            answers.append(self.staff_act(client, no, act, note))
            if k == half:
                killer.join(60)
                self.assertFalse(killer.is_alive(), "the kill never came")
                self.assertIsNone(killer.error, killer.error)
        self.assertFalse(self.cluster.alive(victim), "the node was not killed")
        retried = [(k + 1, work[k][1], a) for k, a in enumerate(answers) if len(a) > 1]
        print("# killed node %d inside action %d of %d; retried: %s"
              % (victim + 1, half + 1, len(work), retried), flush=True)
        # the action the kill cut was answered with an error and done on a retry
        self.assertGreater(len(answers[half]), 1, "the kill did not cut action %d: %r"
                           % (half + 1, answers[half]))
        self.assertEqual(self.staff_proc.poll(), None, "staff-console ended")
        survivors = [i for i in range(3) if i != victim]
        # the console serves, from a surviving node
        self.assertEqual(client.get("/cases/" + nos[0]).status, 200)
        now = self.cluster.connected_node("staff_web")
        self.assertTrue(now and victim not in now,
                        "the console is not on a surviving node: %r" % now)
        for i in survivors:
            self.assert_staff_once(i, nos)
        # the killed node comes back: it rejoins and holds the same rows
        self.cluster.start(victim)
        self.cluster.wait_synced()
        self.assert_staff_once(victim, nos)
        self.assertEqual(self.staff_rows(victim, nos), self.staff_rows(survivors[0], nos))

    def assert_exactly_once(self, i):
        c = self.cluster.county(i)
        outbox = sorted(r[0] for r in hall_rows(
            self.node, "SELECT json_extract(payload, '$.id') FROM outbox"))
        held = c.rows("SELECT id, count(*) FROM records WHERE hall_code = '%s' GROUP BY id"
                      % c.hall_code)
        doubled = [r for r in held if r[1] != "1"]
        self.assertEqual(doubled, [], "records held twice on node %d" % (i + 1))
        self.assertEqual(sorted(r[0] for r in held), outbox,
                         "the county's ledger on node %d differs from the outbox" % (i + 1))
        # the cases the staff test wrote straight into the county have no records
        self.assertEqual(c.count("cases", "id NOT LIKE '%%%s%%'" % STAFF_CASE_ID),
                         c.count("records", "type = 'case'"))


if __name__ == "__main__":
    unittest.main()
