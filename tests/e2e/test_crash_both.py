"""SPEC 5.1 under crashes of everything at once (issue 11): while a 3,000-record backlog
drains to both receivers, hall-agent is killed with SIGKILL at 20 random instants, the
county's MariaDB once and the province receiver once (each restarted after a moment);
at the end the county and the province each hold every record exactly once, with the
hall's bytes, and nothing was set aside. A real county MariaDB, the reference province
receiver behind its nginx, the hall's nginx and programs; the agent is run by the test."""

import hashlib
import os
import random
import sqlite3
import threading
import time
import unittest

from county import Agent, County, hall_rows, submit_many, wait_until
from harness import NO_LIMITS, Node, finish_node, kill9_tree

N = 3000
FIRST = 1500
KILLS = 20
# submitted while the agent is down, right before the county and the province are killed,
# so that each of those kills lands with records on their way
BEFORE_KILL = 200
AGENT_INI = "\n[agent]\nbatch_records = 20\npoll_ms = 200\nbackoff_max_s = 1\n"


def tap(text):
    print("# " + text, flush=True)


def sha(b):
    return hashlib.sha256(b if isinstance(b, bytes) else b.encode("utf-8")).hexdigest()


class CrashBothTest(unittest.TestCase):
    def setUp(self):
        self.node = Node("crash-both", county=True, province=True, agent=False)
        self.addCleanup(finish_node, self.node)
        self.node.start(NO_LIMITS + AGENT_INI)
        self.county = County(self.node)
        self.agent = Agent(self.node)
        self.addCleanup(self.agent.cleanup)

    def province_rows(self, sql):
        con = sqlite3.connect(os.path.join(self.node.var, "province", "province.db"),
                              timeout=10)
        try:
            con.execute("PRAGMA busy_timeout = 10000")
            return con.execute(sql).fetchall()
        finally:
            con.close()

    def backlog(self, dest):
        acked = hall_rows(self.node, "SELECT coalesce(max(acked_seq), 0) FROM sync_dest "
                                     "WHERE dest = ?", (dest,))[0][0]
        return hall_rows(self.node, "SELECT count(*) FROM outbox WHERE seq > ?", (acked,))[0][0]

    def kill_province(self):
        """SIGKILL to the receiver and its workers; conf/demo start brings it back."""
        pid = self.node.pid("province-receiver")
        self.assertIsNotNone(pid, "no province-receiver pid file")
        self.assertTrue(kill9_tree(pid), "the province receiver did not die")

    def test_kill9_agent_county_and_province_while_3000_records_drain(self):
        node, county, agent = self.node, self.county, self.agent
        seed = random.randrange(1 << 30)
        rng = random.Random(seed)
        tap("crash both: random seed %d" % seed)
        receipts = submit_many(node, FIRST, "双向崩溃")
        more, errors = [], []

        def submitter():
            try:
                more.extend(submit_many(node, N - FIRST - 2 * BEFORE_KILL, "双向崩溃续"))
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(e)
        th = threading.Thread(target=submitter)
        agent.start()
        th.start()
        county_at, province_at = rng.sample(range(3, KILLS - 2), 2)
        mid = {"county": 0, "province": 0, "either": 0}
        try:
            for i in range(KILLS):
                time.sleep(rng.uniform(0.05, 0.5))
                waiting = [d for d in ("county", "province") if self.backlog(d) > 0]
                for dest in waiting:
                    mid[dest] += 1
                mid["either"] += 1 if waiting else 0
                agent.kill9()
                if i in (county_at, province_at):
                    receipts += submit_many(node, BEFORE_KILL, "崩溃前 %d" % i)
                if i == county_at:
                    tap("kill -9 of the county MariaDB (county backlog %d)"
                        % self.backlog("county"))
                    county.kill9()
                    agent.start()
                    time.sleep(rng.uniform(0.5, 2))
                    county.start()
                elif i == province_at:
                    tap("kill -9 of the province receiver (province backlog %d)"
                        % self.backlog("province"))
                    self.kill_province()
                    agent.start()
                    time.sleep(rng.uniform(0.5, 2))
                    node.start()    # conf/demo start: brings the receiver back
                    self.assertIsNotNone(node.pid("province-receiver"))
                else:
                    agent.start()
        finally:
            th.join(300)
        self.assertFalse(th.is_alive(), "the submissions did not finish")
        self.assertEqual(errors, [])
        receipts += more
        self.assertEqual(len(receipts), N)
        tap("crash both: %d kills of the agent, with records waiting for the county %d times "
            "and for the province %d times" % (KILLS, mid["county"], mid["province"]))
        self.assertGreaterEqual(mid["either"], KILLS // 4,
                                "the kills did not land while the backlog drained")
        node.skip_log_problems()    # the kills are on purpose
        agent.wait_up()
        wait_until(lambda: self.backlog("county") == 0 and self.backlog("province") == 0,
                   240, 0.2, "both backlogs to drain")
        rc, _ = agent.term(15)
        self.assertEqual(rc, 0, "the agent did not stop on SIGTERM")

        outbox = {rid: payload for rid, payload in
                  hall_rows(node, "SELECT id, payload FROM outbox")}
        ids = {r["id"] for r in receipts}
        self.assertEqual(len(ids), N, "the hall issued an id twice")
        self.assertEqual(set(outbox), ids, "the hall's outbox is not the receipts")
        self.assertEqual(hall_rows(node, "SELECT count(*) FROM quarantine")[0][0], 0,
                         "records were set aside")
        # the county: every case once, nothing else, no conflicts
        self.assertEqual(county.count("cases"), N)
        county_ids = [r[0] for r in county.rows("SELECT id FROM cases")]
        self.assertEqual(len(set(county_ids)), N, "the county holds a case twice")
        self.assertEqual(set(county_ids), ids, "the county's cases differ from the receipts")
        self.assertEqual(county.count("records"), N, "the county's ledger")
        self.assertEqual(county.count("conflicts"), 0, "conflicts at the county")
        # the province: every record once with the hall's bytes, nothing else
        held = self.province_rows("SELECT id, count(*), max(sha256) FROM records GROUP BY id")
        twice = [rid for rid, n, _ in held if n != 1]
        self.assertEqual(twice, [], "the province holds records twice")
        self.assertEqual({rid for rid, _, _ in held}, ids,
                         "the province's records differ from the receipts")
        bad = [rid for rid, _, h in held if h != sha(outbox[rid])]
        self.assertEqual(bad, [], "the province holds records with other bytes")


if __name__ == "__main__":
    unittest.main()
