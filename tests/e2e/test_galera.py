"""SPEC 12: the county database as a 3-node Galera cluster (tests/e2e/galera.py).

- Every county migration runs through node 1 of a fresh cluster; the schema then keeps
  Galera's rules: a primary key on every table, InnoDB only, no LOCK TABLES or GET_LOCK in
  a routine, and the routines, triggers and accounts reach every node.
- hall-agent, given the nodes as a list, syncs a 5,000-record backlog; the node it is
  connected to (found in each node's processlist) is killed with -9 in the middle; the
  agent fails over to another node and every record of the hall's outbox is in the
  county's ledger (`records`) exactly once; the killed node rejoins (IST) and holds them
  all too.

Skipped, saying why, where galera-4, rsync or MariaDB's server is not installed.
"""

import os
import signal
import sys
import time
import unittest

from county import Agent, County, hall_rows, hall_scalar, wait_until
from galera import Cluster, missing
from harness import NO_LIMITS, ROOT, Node

sys.path.insert(0, os.path.join(ROOT, "tests", "bench"))
import bulkfill  # noqa: E402

BACKLOG = 5000


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
        cls.node = Node("galera", county=True, agent=False)
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
        self.assertEqual(c.count("cases"), c.count("records", "type = 'case'"))


if __name__ == "__main__":
    unittest.main()
