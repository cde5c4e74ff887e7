"""The clock guard (lib/store/clock.c, issue 11): hall-agent notes the county's clock at
each contact; a hall clock more than a day past the time the hall can vouch for gets no case
numbers (a clear 503, nothing written) instead of numbers that would wedge intake once the
clock is put right; `hall-admin clock` shows the state and has the two ways out, neither of
which ever reissues a number. A real county MariaDB, the agent run once by the test (so
that nothing else touches the reference while a test sets it)."""

import os
import subprocess
import time
import unittest

from county import Agent, County
from harness import BUILD, CONSULT, NO_LIMITS, ROOT, Node, finish_node

DAY = 24 * 3600
OTHER_BOOT = "00000000-0000-0000-0000-000000000000"
CASENO_EPOCH_US = 1735689600000000


class ClockTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.node = Node("clock", county=True, agent=False)
        cls.node.start(NO_LIMITS)
        cls.county = County(cls.node)
        cls.agent = Agent(cls.node)

    @classmethod
    def tearDownClass(cls):
        finish_node(cls.node)

    def meta(self, key):
        con = self.node.db()
        try:
            row = con.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
            return row[0] if row else None
        finally:
            con.close()

    def set_meta(self, key, value):
        con = self.node.db()
        try:
            with con:
                con.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                            (key, value))
        finally:
            con.close()

    def hall_admin(self, *args):
        p = subprocess.run([os.path.join(ROOT, BUILD, "hall-admin"), "-c", self.node.ini_path,
                            "clock"] + list(args), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=30)
        out = p.stdout.decode("utf-8", "replace")
        self.assertEqual(p.returncode, 0, out)
        return out

    def contact(self):
        """One agent pass: the county's clock is noted."""
        self.assertEqual(self.agent.once(), 0, self.node.logs_tail())
        ref = self.meta("clock_ref")
        self.assertIsNotNone(ref, "the agent did not note the county's clock")
        return ref

    def test_agent_notes_the_county_clock(self):
        ref = self.contact()
        county_now = int(self.county.scalar("SELECT UNIX_TIMESTAMP()"))
        noted = int(ref.split()[0])
        self.assertLessEqual(abs(county_now - noted), 120, ref)
        with open("/proc/sys/kernel/random/boot_id") as f:
            self.assertEqual(ref.split()[1], f.read().strip())
        self.assertIn("issuing numbers", self.hall_admin())

    def test_clock_far_ahead_refuses_until_trusted_or_county_reached(self):
        self.contact()
        # the reference as it would stand after a restart two days after the last contact
        self.set_meta("clock_ref", "%d %s 5" % (int(time.time()) - 2 * DAY, OTHER_BOOT))
        before = self.node.counts()
        r = self.node.json_post("/api/v1/consultations", dict(CONSULT, subject="时钟超前时提交"))
        self.assertEqual(r.status, 503, r)
        self.assertEqual(r.json()["error"]["code"], "clock_wrong", r)
        self.assertEqual(self.node.counts(), before, "a refused submission wrote something")
        self.assertIn("refusing numbers", self.hall_admin())
        self.assertIn("hall-admin clock --trust-now", self.node.logs_tail(200))
        self.node.skip_log_problems()

        out = self.hall_admin("--trust-now")
        self.assertIn("issuing numbers", out)
        self.node.submit(subject="核实时钟后提交")

        self.set_meta("clock_ref", "%d %s 5" % (int(time.time()) - 2 * DAY, OTHER_BOOT))
        self.node.submit(expect=503)
        self.contact()    # the county reached again vouches for the clock
        self.node.submit(subject="联系县级后提交")

    def test_wedged_sequence_continues_and_never_repeats(self):
        self.contact()
        first = self.node.submit(subject="时钟跳前之前")
        # numbers issued three days ahead (a clock that jumped and was put right)
        future = int(time.time() * 1e6) - CASENO_EPOCH_US + 3 * DAY * 1000000
        self.set_meta("last_seq", str(future))
        r = self.node.json_post("/api/v1/consultations", dict(CONSULT, subject="时钟被校回之后"))
        self.assertEqual(r.status, 503, r)
        self.assertIn("refusing numbers: the clock is behind", self.hall_admin())
        self.node.skip_log_problems()

        out = self.hall_admin("--continue")
        self.assertIn("continue until", out)
        self.assertIn("issuing numbers", out)
        receipts = [self.node.submit(subject="继续编号 %d" % i) for i in range(5)]
        numbers = [first["case_no"]] + [rc["case_no"] for rc in receipts]
        self.assertEqual(len(set(numbers)), len(numbers))
        for rc in receipts:
            # dated by the clock, not by the number ahead of it
            self.assertEqual(rc["submitted_at"][:10], time.strftime(
                "%Y-%m-%d", time.gmtime(time.time() + 8 * 3600)))
            self.assertGreater(int(rc["id"].split("-C")[1]), future)
        con = self.node.db()
        try:
            dup = con.execute("SELECT count(*) - count(DISTINCT case_no) FROM cases").fetchone()
        finally:
            con.close()
        self.assertEqual(dup[0], 0)


if __name__ == "__main__":
    unittest.main()
