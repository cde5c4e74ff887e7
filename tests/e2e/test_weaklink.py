"""SPEC 5.5 (weak links) and 5.1 (exactly once), over real TCP on bad links.

The hall runs in a network namespace of its own (netbed.NetBed: a veth pair, `tc tbf` rate,
nftables loss and cuts), the county MariaDB in the machine's namespace, and hall-agent inside
the hall's namespace; build/netfault adds round-trip time. Every test ends with the
exactly-once check: every outbox id of the hall once in the county's `records`, the county's
cases as many as the hall's, the hall's backlog 0.

  1. FlappingLinkTest   up 20 s / down 40 s, three cycles, while a growing backlog drains
  2. TwoGLinkTest       256 kbit/s, 5 % loss, 800 ms round trip: drain time and records/s
  3. SilentCutTest      the link stops carrying packets mid-batch: noticed within the agent's
                        own timeouts (read/write 10 s), not the kernel's; then all arrives
  4. ThunderingHerdTest 50 agents against one county that restarts after an outage: their
                        reconnections spread out (full jitter), histogram as TAP comments

Needs root (namespaces, tc, nftables); every class skips with netbed.why_skipped()'s reason
otherwise. Ports are picked free at run time, namespaces are unique per process, and every
process, namespace and node is removed in the cleanups, also after a failure.
"""

import atexit
import http.client
import json
import os
import random
import re
import selectors
import shutil
import signal
import socket
import sqlite3
import subprocess
import threading
import time
import unittest

import netbed
from county import (AGENT, Agent, County, LogFile, kill_wait, SqlError, hall_acked, hall_backlog,
                    submit_many, wait_until)
from harness import BUILD, CONSULT, NO_LIMITS, ROOT, Node, wait_gone
from test_sync import SANITIZER, SyncTestCase

NETFAULT = os.path.join(ROOT, BUILD, "netfault")
WHY = netbed.why_skipped()
SKIP_REASON = WHY or ""


# Everything the tests start is also stopped at exit (a signal, an interrupted run): the
# cleanups are idempotent, and these run before the harness's (atexit is LIFO).
_at_exit = []


def _cleanup_at_exit():
    for fn in reversed(_at_exit):
        try:
            fn()
        except Exception:  # noqa: BLE001 - best effort at exit
            pass


atexit.register(_cleanup_at_exit)


def tap(text):
    for line in str(text).splitlines() or [""]:
        print("# " + line, flush=True)


# ---- ports --------------------------------------------------------------------------------

_taken = set()


def free_port(lo=20000, hi=29999):
    """A TCP port nobody listens on (any address), not handed out before by this process."""
    for _ in range(500):
        port = random.randint(lo, hi)
        if port in _taken:
            continue
        ok = True
        for addr in ("0.0.0.0", "127.0.0.1"):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                s.bind((addr, port))
            except OSError:
                ok = False
            finally:
                s.close()
        if ok:
            _taken.add(port)
            return port
    raise RuntimeError("no free port in %d..%d" % (lo, hi))


# ---- the hall node, its county listening on the bed's address too ----------------------------

class BedNode(Node):
    """A Node (hall + county MariaDB, no agent of its own) whose county also listens on the
    test bed's address (COUNTY_BIND), on a port checked free at run time."""

    def __init__(self, name, bind_addr=None):
        super().__init__(name, county=True, agent=False)
        self.bind_addr = bind_addr
        self.county_port = free_port()

    def _env(self):
        env = super()._env()
        env.setdefault("STAFF", "0")      # no staff console: not what these tests are about
        if self.bind_addr:
            env["COUNTY_BIND"] = "127.0.0.1,%s" % self.bind_addr
        return env


def consult(i, label):
    """The i-th consultation, each with a text of its own (so compression is honest)."""
    body = dict(CONSULT)
    body["subject"] = "%s %d：%s" % (label, i, CONSULT["subject"][i % 7:])
    body["body"] = "第 %d 号咨询。%s 我家住在第 %d 组，编号 %x。" % (
        i, CONSULT["body"], i % 37, (i * 2654435761 + 40503 * len(label)) % 2 ** 32)
    body["phone"] = "13%09d" % ((i * 7919 + 17) % 10 ** 9)
    return body


def submit_varied(node, n, label, start=0):
    """n consultations over HTTP on one kept-alive connection; the receipts in order. The
    hall's nginx is in the machine's namespace: this works whatever the bed's link does."""
    return submit_many(node, n, make=lambda i: ("/api/v1/consultations",
                                                  consult(start + i, label)))


def try_submit(node, i, label, timeout=20):
    """One consultation on a connection of its own: (receipt or None, seconds, status)."""
    t0 = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", node.port, timeout=timeout)
    try:
        conn.request("POST", "/api/v1/consultations",
                     body=json.dumps(consult(i, label), ensure_ascii=False).encode("utf-8"),
                     headers={"Content-Type": "application/json", "Connection": "close"})
        r = conn.getresponse()
        doc = r.read()
    finally:
        conn.close()
    took = time.monotonic() - t0
    if r.status == 201:
        return json.loads(doc.decode("utf-8")), took, r.status
    return None, took, r.status


# ---- hall-agent inside the bed ----------------------------------------------------------------

class BedAgent(LogFile):
    """`hall-agent -c INI run` inside the bed's namespace, logging to test-agent.log (where
    the sync tests look for sanitizer reports)."""

    def __init__(self, bed, node):
        self.bed = bed
        self.node = node
        self.proc = None
        self.log_path = os.path.join(node.var, "log", "test-agent.log")

    def start(self):
        with open(self.log_path, "ab") as log:
            self.proc = self.bed.popen([AGENT, "-c", self.node.ini_path, "run"],
                                       stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                       start_new_session=True)
        _at_exit.append(self.cleanup)
        wait_until(lambda: "info: hall-agent " in self.log() or self.proc.poll() is not None,
                   15, 0.02, "hall-agent to start")
        if self.proc.poll() is not None:
            raise AssertionError("hall-agent exited at start (%s):\n%s"
                                 % (self.proc.returncode, self.log_tail()))

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def term(self, timeout=15):
        if not self.running():
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def cleanup(self):
        kill_wait(self.proc)


class NetFault:
    """build/netfault in the machine's namespace, with its control port."""

    def __init__(self, listen, target, delay_ms=0):
        self.ctl_port = free_port()
        self.listen = listen
        self.proc = subprocess.Popen(
            [NETFAULT, "-l", listen, "-t", target, "-c", "127.0.0.1:%d" % self.ctl_port,
             "-d", str(delay_ms)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, start_new_session=True)
        _at_exit.append(self.close)
        deadline = time.monotonic() + 10
        try:
            while True:
                if self.proc.poll() is not None:
                    raise AssertionError("netfault exited: %s" % self.proc.stderr.read()
                                         .decode(errors="replace"))
                try:
                    self.command("stats")
                    return
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
        except BaseException:
            self.close()
            raise

    def command(self, line):
        with socket.create_connection(("127.0.0.1", self.ctl_port), timeout=5) as s:
            s.sendall((line + "\n").encode())
            answer = s.recv(256).decode(errors="replace").strip()
        if not answer.startswith("ok"):
            raise AssertionError("netfault %r: %r" % (line, answer))
        return answer

    def stats(self):
        return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", self.command("stats"))}

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        self.proc.stderr.close()


class WeakLinkCase(SyncTestCase):
    """A bed, a node whose county listens on the bed's address, an agent in the bed; all of
    them removed in the cleanups (LIFO: agent, proxy, node, bed)."""

    def bed_up(self, rate_kbit=None, loss_pct=0):
        bed = netbed.NetBed(rate_kbit=rate_kbit, loss_pct=loss_pct)
        _at_exit.append(bed.close)
        self.addCleanup(bed.close)
        bed.open()
        return bed

    def bed_node(self, bed, name, extra, port=None):
        node = BedNode("weak-" + name, bed.county_addr)
        self.addCleanup(self._finish, node)
        node.start(NO_LIMITS + "\n[county]\nhost = %s\n" % bed.county_addr
                   + ("port = %d\n" % port if port else "") + extra)
        return node, County(node)

    def bed_agent(self, bed, node):
        a = BedAgent(bed, node)
        self.addCleanup(a.cleanup)
        a.start()
        return a

    def drain(self, node, agent, timeout, what):
        try:
            self.wait_drained(node, timeout, what)
        except AssertionError as e:
            raise AssertionError("%s\n%s\nagent log:\n%s" % (e, Agent(node).dest_status(),
                                                             agent.log_tail(25)))


WEAK_AGENT = """
[agent]
poll_ms = 500
backoff_max_s = 5
[county]
connect_timeout_s = 5
read_timeout_s = 10
write_timeout_s = 10
"""


# ---- 1. a flapping link ------------------------------------------------------------------------

@unittest.skipIf(WHY, SKIP_REASON)
class FlappingLinkTest(WeakLinkCase):
    # an outage longer than a read timeout and the longest backoff together (WEAK_AGENT)
    UP_S, DOWN_S, CYCLES = 20, 25, 3
    # 3,000 records take about one up period: the first cut is mid-drain. A case record
    # carries its query MAC since issue 12 (64 hex digits that do not compress, 32 since
    # county 030), which took the wire size from about 38 to about 75 bytes a record, and
    # back to about 55: 96 kbit/s, where 48 was.
    RATE_KBIT = 96
    INITIAL = 3000
    GROW_EVERY_S, GROW_BY = 2.0, 30

    def test_flapping_link_growing_backlog_exactly_once(self):
        bed = self.bed_up(rate_kbit=self.RATE_KBIT)
        node, county = self.bed_node(bed, "flap", WEAK_AGENT)
        receipts = submit_varied(node, self.INITIAL, "断续")
        agent = self.bed_agent(bed, node)
        t0 = time.monotonic()
        periods = []           # (cycle, "up"/"down", acked at start, acked at end, backlog)
        refused = []           # (seconds into the test, phase, status, seconds it took)
        slowest = 0.0
        n_sub = len(receipts)
        next_grow = t0 + self.GROW_EVERY_S
        for cycle in range(1, self.CYCLES + 1):
            for state, secs in (("up", self.UP_S), ("down", self.DOWN_S)):
                bed.link(state == "up")
                start_acked = hall_acked(node)
                start_backlog = hall_backlog(node)
                end = time.monotonic() + secs
                while time.monotonic() < end:
                    if time.monotonic() >= next_grow:
                        # the hall's nginx is in the machine's namespace: a citizen's
                        # submission never depends on the link
                        for _ in range(self.GROW_BY):
                            rc, took, st = try_submit(node, n_sub, "断续增")
                            n_sub += 1
                            slowest = max(slowest, took)
                            if rc is None:
                                refused.append((time.monotonic() - t0, "%s %d" % (state, cycle),
                                                st, took))
                            else:
                                receipts.append(rc)
                        next_grow += self.GROW_EVERY_S
                    self.assertTrue(agent.running(), "hall-agent died:\n" + agent.log_tail())
                    time.sleep(0.05)
                periods.append((cycle, state, start_acked, hall_acked(node), start_backlog))
        # the last up period: everything drains, with a deadline
        bed.link(True)
        t_up = time.monotonic()
        self.drain(node, agent, 120, "the final drain after the last outage")
        final = time.monotonic() - t_up
        self.assertTrue(agent.running(), "hall-agent died:\n" + agent.log_tail())
        self.assertEqual(agent.term(), 0, "hall-agent's exit status on SIGTERM")
        log = agent.log()
        for cycle, state, a0, a1, backlog in periods:
            tap("cycle %d %-4s: acked %5d -> %5d (+%d), backlog at start %d"
                % (cycle, state, a0, a1, a1 - a0, backlog))
        lost = len(re.findall(r"the unanswered batch", log))
        errors = len(re.findall(r"(?m)^hall-agent\[\d+\] warning: county:", log))
        tap("%d records (%d at the start, %d more during the test) at %d kbit/s; final drain "
            "%.1f s after the last outage; %d failed passes, %d batches without an answer"
            % (len(receipts), self.INITIAL, len(receipts) - self.INITIAL, self.RATE_KBIT,
               final, errors, lost))
        tap("submissions during the test: %d, slowest %.2f s, %d refused%s"
            % (n_sub - self.INITIAL, slowest, len(refused),
               "".join("\n  %.1f s (%s): %d after %.2f s" % r for r in refused[:10])))
        self.assertExactlyOnce(node, county, receipts)
        self.assertEqual(refused, [], "the hall refused citizens' submissions while its link "
                         "flapped (503 store_unavailable: the agent held the store's write lock "
                         "across county round trips)")
        # every up period after an outage brought records (the agent came back within it)
        for cycle, state, a0, a1, backlog in periods:
            if state == "up" and backlog > 0:
                self.assertGreater(a1, a0, "nothing was delivered in up period %d (20 s) with "
                                   "a backlog of %d" % (cycle, backlog))
        self.assertGreater(errors, 0, "the agent never noticed the outages")


# ---- 2. a 2G-like link ------------------------------------------------------------------------

@unittest.skipIf(WHY, SKIP_REASON)
class TwoGLinkTest(WeakLinkCase):
    N = 2000

    def test_2g_link_256kbit_5pct_loss_800ms_rtt(self):
        bed = self.bed_up(rate_kbit=256, loss_pct=5)
        proxy_port = free_port()
        node, county = self.bed_node(bed, "2g", "\n[agent]\npoll_ms = 500\n", port=proxy_port)
        proxy = NetFault("%s:%d" % (bed.county_addr, proxy_port),
                         "127.0.0.1:%d" % node.county_port, delay_ms=400)
        self.addCleanup(proxy.close)
        receipts = submit_varied(node, self.N, "二代网")
        con = node.db()
        try:
            raw = sum(len(p.encode()) for (p,) in
                      con.execute("SELECT payload FROM outbox").fetchall())
        finally:
            con.close()
        tx0 = bed.tx_bytes()
        t0 = time.monotonic()
        agent = self.bed_agent(bed, node)
        self.drain(node, agent, 180, "%d records over 256 kbit/s, 5 %% loss, 800 ms RTT" % self.N)
        took = time.monotonic() - t0
        wire = bed.tx_bytes() - tx0
        stats = proxy.stats()
        tap("2G link (256 kbit/s, 5 %% loss, 800 ms RTT): %d records in %.1f s = %.0f records/s; "
            "%d bytes sent by the hall (%.0f per record, %.1f %% of the raw JSON); "
            "%d connection(s) through netfault"
            % (self.N, took, self.N / took, wire, wire / self.N, 100.0 * wire / raw,
               stats.get("conns", 0)))
        self.assertGreaterEqual(stats.get("conns", 0), 1, "nothing went through netfault")
        # the agent idles on the slow link now (a downlink pull every poll): how long does a
        # citizen's submission take meanwhile?
        lat, refused = [], []
        for i in range(6):
            time.sleep(random.uniform(1.5, 2.5))
            rc, took, st = try_submit(node, self.N + i, "二代网后")
            lat.append(took)
            if rc is None:
                refused.append((st, took))
            else:
                receipts.append(rc)
        self.drain(node, agent, 60, "the last records")
        tap("submissions one by one while the agent idles on the 2G link took %s s "
            "(slowest %.2f s; %d refused)" % (" ".join("%.2f" % x for x in lat), max(lat),
                                               len(refused)))
        self.assertEqual(agent.term(), 0, "hall-agent's exit status on SIGTERM")
        self.assertExactlyOnce(node, county, receipts)
        self.assertEqual(refused, [], "citizens' submissions refused (status, seconds) while "
                         "the agent idled on the slow link")


# ---- 3. a link that silently stops mid-batch ---------------------------------------------------

@unittest.skipIf(WHY, SKIP_REASON)
class SilentCutTest(WeakLinkCase):
    RATE_KBIT = 32
    N = 3000
    NOTICE_S = 20          # read/write timeouts are 10 s: noticed well before the kernel would

    def test_silent_cut_mid_batch_noticed_by_agent_timeouts(self):
        bed = self.bed_up(rate_kbit=self.RATE_KBIT)
        node, county = self.bed_node(bed, "cut", WEAK_AGENT)
        receipts = submit_varied(node, self.N, "静默")
        agent = self.bed_agent(bed, node)
        wait_until(lambda: hall_acked(node) > 0, 60, 0.05, "the first batch")
        first = hall_acked(node)
        # wait until the next batch is on the wire, then cut: nothing passes, nothing is told
        time.sleep(0.5)
        tx = bed.tx_bytes()
        wait_until(lambda: bed.tx_bytes() - tx > 1500, 20, 0.05, "the next batch on the wire")
        log_before = len(agent.log().splitlines())
        acked_at_cut = hall_acked(node)
        bed.link(False)
        t_cut = time.monotonic()
        wall_cut = int(time.time())
        self.addCleanup(bed.link, True)
        self.assertLess(acked_at_cut, self.N, "the backlog drained before the cut")

        def noticed():
            new = agent.log().splitlines()[log_before:]
            return [ln for ln in new if re.match(r"hall-agent\[\d+\] warning: county:", ln)]

        try:
            warn = wait_until(noticed, self.NOTICE_S + 40, 0.1, "an error in the agent's log")
        except AssertionError:
            warn = None
        t_log = time.monotonic() - t_cut
        con = node.db()
        try:
            err_row = con.execute("SELECT last_error, last_error_at FROM sync_dest "
                                  "WHERE dest = 'county'").fetchone()
        finally:
            con.close()
        status = Agent(node).dest_status("county")
        tap("link cut at %d kbit/s with a batch on the wire (first batch: %d records, acked at "
            "the cut: %d); the agent noticed after %s: %s"
            % (self.RATE_KBIT, first, acked_at_cut,
               "%.1f s" % t_log if warn else "never (%.0f s)" % t_log, warn[0] if warn else "-"))
        self.assertIsNotNone(warn, "no error in the agent's log %.0f s after the link went "
                             "silent:\n%s" % (t_log, agent.log_tail()))
        self.assertLessEqual(t_log, self.NOTICE_S, "the agent noticed the silent link only "
                             "after %.1f s (read/write timeouts are 10 s)" % t_log)
        # the status shows it too
        self.assertIsNotNone(err_row[0], "no last error in the store")
        self.assertGreaterEqual(err_row[1], wall_cut)
        m = re.search(r"(?m)^\s*last error\s+(.*)$", status)
        self.assertTrue(m and m.group(1) != "none", status)
        self.assertRegex(status, r"(?m)^\s*backlog\s+[1-9]")
        # it keeps trying on its own while the link is down, and gets nowhere
        time.sleep(max(0.0, 25 - (time.monotonic() - t_cut)))
        self.assertTrue(agent.running(), agent.log_tail())
        self.assertEqual(hall_acked(node), acked_at_cut, "the mark moved while the link was cut")
        # back, and faster (the rest need not take the 32 kbit/s time again)
        bed.shape(256, 0)
        bed.link(True)
        t_up = time.monotonic()
        self.drain(node, agent, 120, "the drain after the link came back")
        tap("after the link came back: drained in %.1f s" % (time.monotonic() - t_up))
        self.assertEqual(agent.term(), 0)
        self.assertExactlyOnce(node, county, receipts)

    def test_idle_agent_silent_cut_hall_keeps_taking_submissions(self):
        # SPEC 5.1/5.5 and 4: the hall works offline. An idle agent pulls the downlink every
        # poll; when the link goes silent, that pull waits for its read timeout, and the hall
        # store must stay writable meanwhile (hall-write gives up after 5 s of SQLITE_BUSY)
        bed = self.bed_up(rate_kbit=256)
        node, county = self.bed_node(bed, "idlecut", WEAK_AGENT)
        receipts = submit_varied(node, 20, "空闲")
        agent = self.bed_agent(bed, node)
        self.drain(node, agent, 60, "the first records")
        time.sleep(1.5)
        bed.link(False)
        t_cut = time.monotonic()
        self.addCleanup(bed.link, True)
        time.sleep(1.0)          # the next idle pass (poll_ms 500) is on its way into the pull
        results = []
        for i in range(6):       # one submission every 2 s for 12 s: read_timeout_s is 10
            rc, took, st = try_submit(node, 100 + i, "断网后提交")
            results.append((time.monotonic() - t_cut, st, took))
            if rc is not None:
                receipts.append(rc)
            time.sleep(max(0.0, 2.0 - took))
        tap("submissions after the link went silent (s after the cut, status, seconds): "
            + ", ".join("%.1f %d %.2f" % r for r in results))
        warns = [ln for ln in agent.log().splitlines() if " warning: county:" in ln]
        tap("the agent's first error after the cut: %s" % (warns[0] if warns else "none"))
        bed.link(True)
        self.drain(node, agent, 60, "the drain after the link came back")
        self.assertEqual(agent.term(), 0)
        self.assertExactlyOnce(node, county, receipts)
        bad = [r for r in results if r[1] != 201 or r[2] > 2.0]
        self.assertEqual(bad, [], "with the link silent, citizens' submissions were refused or "
                         "took seconds: the agent holds the hall store's write lock (BEGIN "
                         "IMMEDIATE, agent/hall-agent/downlink_county.c downlink_county_pull) while it "
                         "waits for the county")


@unittest.skipIf(WHY, SKIP_REASON)
class CountyResetTest(WeakLinkCase):
    """The county's server dies while a batch is still leaving the hall on a slow link.
    The agent holds the batch ahead back until this one has left the socket
    (sink_county.c, exec_delivered); the server's reset must end that wait at once, as it
    ends a read, not after [county] write_timeout_s (60 s here): a reset leaves the
    socket's unsent count where it was, so watching that count alone slept the minute out."""
    RATE_KBIT = 32
    N = 3000
    NOTICE_S = 20

    def test_county_killed_mid_batch_noticed_by_the_reset(self):
        bed = self.bed_up(rate_kbit=self.RATE_KBIT)
        slow = WEAK_AGENT.replace("read_timeout_s = 10", "read_timeout_s = 60") \
                         .replace("write_timeout_s = 10", "write_timeout_s = 60")
        node, county = self.bed_node(bed, "reset", slow)
        receipts = submit_varied(node, self.N, "重置")
        agent = self.bed_agent(bed, node)
        wait_until(lambda: hall_acked(node) > 0, 60, 0.05, "the first batch")
        # the next batch (500 records, about 27 KB) most of the way out: the agent has
        # written all of it and its CALL, and waits for the rest to leave the socket
        tx = bed.tx_bytes()
        wait_until(lambda: bed.tx_bytes() - tx > 20000, 30, 0.05, "the next batch on the wire")
        log_before = len(agent.log().splitlines())
        acked = hall_acked(node)
        county.kill9()
        t_kill = time.monotonic()
        self.assertLess(acked, self.N, "the backlog drained before the kill")

        def noticed():
            new = agent.log().splitlines()[log_before:]
            return [ln for ln in new if re.match(r"hall-agent\[\d+\] warning: county:", ln)]

        try:
            warn = wait_until(noticed, 70, 0.1, "an error in the agent's log")
        except AssertionError:
            warn = None
        t_log = time.monotonic() - t_kill
        tap("county killed with a batch leaving at %d kbit/s (acked: %d of %d); the agent "
            "noticed after %s: %s" % (self.RATE_KBIT, acked, self.N,
                                      "%.1f s" % t_log if warn else "never (%.0f s)" % t_log,
                                      warn[0] if warn else "-"))
        self.assertIsNotNone(warn, "no error in the agent's log %.0f s after the county died:"
                             "\n%s" % (t_log, agent.log_tail()))
        self.assertLessEqual(t_log, self.NOTICE_S, "the agent noticed the reset only after "
                             "%.1f s (its timeouts are 60 s)" % t_log)
        self.assertEqual(hall_acked(node), acked, "the mark moved with the county dead")
        county.restart()
        bed.shape(256, 0)
        self.drain(node, agent, 180, "the drain after the county came back")
        self.assertEqual(agent.term(), 0)
        self.assertExactlyOnce(node, county, receipts)


# ---- 4. no thundering herd ---------------------------------------------------------------------

class Herd:
    """n hall-agent daemons (machine namespace), their stderr read through pipes and each
    line timestamped here."""

    def __init__(self):
        self.procs = []
        self.lines = []            # (monotonic time, agent index, line)
        self._sel = selectors.DefaultSelector()
        self._lock = threading.Lock()
        self._stop = False
        self._thread = None
        self._bufs = {}
        self._closed = False

    def start(self, inis):
        _at_exit.append(self.close)
        for i, ini in enumerate(inis):
            p = subprocess.Popen([AGENT, "-c", ini, "run"], stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                 start_new_session=True)
            self.procs.append(p)
            os.set_blocking(p.stderr.fileno(), False)
            self._bufs[p.stderr.fileno()] = b""
            with self._lock:
                self._sel.register(p.stderr, selectors.EVENT_READ, i)
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self):
        while not self._stop:
            with self._lock:
                if not self._sel.get_map():
                    return
                events = self._sel.select(0.1)
            now = time.monotonic()
            for key, _ in events:
                fd = key.fileobj.fileno()
                try:
                    data = os.read(fd, 65536)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:
                    with self._lock:
                        self._sel.unregister(key.fileobj)
                    continue
                buf = self._bufs[fd] + data
                *whole, self._bufs[fd] = buf.split(b"\n")
                with self._lock:
                    for ln in whole:
                        self.lines.append((now, key.data, ln.decode("utf-8", "replace")))

    def snapshot(self):
        with self._lock:
            return list(self.lines)

    def term_all(self, timeout):
        """SIGTERM to every agent; their exit statuses (None: still running)."""
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for p in self.procs:
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        time.sleep(0.3)          # their last lines through the pipes
        return [p.poll() for p in self.procs]

    def alive(self):
        return [i for i, p in enumerate(self.procs) if p.poll() is None]

    def close(self):
        if self._closed:
            return
        self._closed = True
        for p in self.procs:
            if p.poll() is None:
                try:
                    p.send_signal(signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for p in self.procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                pass
        self._stop = True
        if self._thread is not None:
            self._thread.join(5)
        for p in self.procs:
            try:
                p.stderr.close()
            except OSError:
                pass
        self._sel.close()


def store_sql(path, sql, args=()):
    con = sqlite3.connect(path, timeout=10)
    try:
        con.execute("PRAGMA busy_timeout = 10000")
        rows = con.execute(sql, args).fetchall()
        con.commit()
        return rows
    finally:
        con.close()


@unittest.skipIf(WHY, SKIP_REASON)
class ThunderingHerdTest(WeakLinkCase):
    HALLS = 50
    RECORDS = 40
    OUTAGE_S = 15
    BUCKET_S = 0.25

    def test_no_thundering_herd_after_county_outage(self):
        node = BedNode("weak-herd")
        self.addCleanup(self._finish, node)
        node.start(NO_LIMITS)
        county = County(node)
        submit_varied(node, self.RECORDS, "群")
        # 50 hall stores from this one: checkpointed, copied, each with a store_id of its own,
        # each in a folder of its own (the agent watches its store's folder)
        subprocess.run(["sqlite3", node.db_path, "PRAGMA wal_checkpoint(TRUNCATE)"], check=True,
                       stdout=subprocess.DEVNULL, timeout=30)
        with open(node.ini_path, encoding="utf-8") as f:
            ini_text = f.read()
        herd_dir = os.path.join(node.var, "herd")
        stores, inis = [], []
        for i in range(self.HALLS):
            d = os.path.join(herd_dir, "%02d" % i)
            os.makedirs(d)
            store = os.path.join(d, "hall.db")
            shutil.copyfile(node.db_path, store)
            store_sql(store, "UPDATE meta SET value = ? WHERE key = 'store_id'",
                      (os.urandom(16).hex(),))
            ini = os.path.join(d, "hall.ini")
            with open(ini, "w", encoding="utf-8") as f:
                f.write(ini_text + "\n[store]\npath = %s\n[agent]\nbackoff_max_s = 8\n"
                        "poll_ms = 1000\n" % store)
            stores.append(store)
            inis.append(ini)
        ids = sorted(r[0] for r in store_sql(stores[0], "SELECT id FROM outbox"))
        self.assertEqual(len(ids), self.RECORDS)

        herd = Herd()
        self.addCleanup(herd.close)
        herd.start(inis)

        def backlogs():
            return [store_sql(s, "SELECT count(*) FROM outbox WHERE seq > (SELECT acked_seq "
                                 "FROM sync_dest WHERE dest = 'county')")[0][0] for s in stores]

        wait_until(lambda: not any(backlogs()), 60, 0.5, "all 50 agents to deliver")
        time.sleep(2)
        self.assertEqual(len(herd.alive()), self.HALLS, "agents died:\n%s" % herd_tail(herd))

        # the outage: the county dies; the agents fail and back off
        county.kill9()
        t_down = time.monotonic()
        time.sleep(self.OUTAGE_S)
        failing = {i for (t, i, ln) in herd.snapshot() if t > t_down and "retrying in" in ln}
        self.assertEqual(len(failing), self.HALLS,
                         "agents that never noticed the outage: %s" %
                         sorted(set(range(self.HALLS)) - failing))

        # the county comes back; new connections are counted every 100 ms
        log = open(os.path.join(node.var, "log", "county.log"), "ab")
        try:
            mariadbd = subprocess.Popen(
                ["mariadbd", "--defaults-file=" + os.path.join(node.var, "county", "my.cnf")],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        finally:
            log.close()
        _at_exit.append(lambda: stop_process(mariadbd))
        self.addCleanup(stop_process, mariadbd)
        t_spawn = time.monotonic()
        session = None
        deadline = t_spawn + 60
        while session is None:
            s = county.session("root")
            try:
                first = connections(s)
                session = s
            except (SqlError, AssertionError, OSError):
                for f in (s.p.stdin,):
                    try:
                        f.close()
                    except OSError:
                        pass
                s.close()
                if mariadbd.poll() is not None:
                    raise AssertionError("mariadbd exited with %s" % mariadbd.returncode)
                if time.monotonic() > deadline:
                    raise AssertionError("the county did not come back in 60 s")
                time.sleep(0.05)
        self.addCleanup(session.close)
        t_up = time.monotonic()
        # the first sample: ours is one of them, the others came before it
        samples = [(t_up, first - 1)]
        prev = first
        end = t_up + 20
        while time.monotonic() < end:
            time.sleep(max(0.0, samples[-1][0] + 0.1 - time.monotonic()))
            now = time.monotonic()
            c = connections(session)
            samples.append((now, c - prev))
            prev = c
            total = sum(n for _, n in samples)
            if total >= self.HALLS and now - max(t for t, n in samples if n) > 2.0:
                break
        events = [(t - t_up, n) for t, n in samples if n > 0]
        total = sum(n for _, n in events)

        # the agents' own view: each one's first pass after the restart is the one after its
        # last "retrying in N ms" (a success is not logged when there is nothing to send)
        back = []
        last_retry = {}
        for t, i, ln in herd.snapshot():
            m = re.search(r"county: retrying in (\d+) ms", ln)
            if m and t > t_down:
                last_retry[i] = t + int(m.group(1)) / 1000.0
        back = sorted(v - t_up for v in last_retry.values())

        # every store reports the county reachable again
        wait_until(lambda: all(store_sql(s, "SELECT last_error IS NULL FROM sync_dest WHERE "
                                            "dest = 'county'")[0][0] for s in stores),
                   30, 0.5, "every agent's last error to clear after the restart")

        hist = {}
        for t, n in events:
            b = int(max(t, 0.0) / self.BUCKET_S)
            hist[b] = hist.get(b, 0) + n
        tap("county down %.0f s; back %.1f s after its start; %d new connection(s) from %d "
            "agents over %.1f s" % (self.OUTAGE_S, t_up - t_spawn, total, self.HALLS,
                                    events[-1][0] - events[0][0] if events else 0.0))
        tap("new connections at the county per %d ms after it came back "
            "(SHOW GLOBAL STATUS LIKE 'Connections', sampled every 100 ms):"
            % (self.BUCKET_S * 1000))
        for b in range(0, (max(hist) + 1) if hist else 0):
            n = hist.get(b, 0)
            tap("  %5.2f-%5.2f s %3d %s" % (b * self.BUCKET_S, (b + 1) * self.BUCKET_S, n,
                                            "#" * n))
        if back:
            tap("the agents' first retry after the restart (from their stderr): first %.2f s, "
                "median %.2f s, last %.2f s" % (back[0], back[len(back) // 2], back[-1]))

        self.assertGreaterEqual(total, self.HALLS * 0.9,
                                "fewer new connections than agents: %d" % total)
        span = events[-1][0] - events[0][0]
        self.assertGreater(span, 2.0, "all reconnections came within %.2f s" % span)
        worst = max(hist.values())
        self.assertLessEqual(worst, 0.4 * total,
                             "%d of %d reconnections in one %d-ms window"
                             % (worst, total, self.BUCKET_S * 1000))
        self.assertEqual(len(herd.alive()), self.HALLS, "agents died:\n%s" % herd_tail(herd))

        # exactly once: every store's records once at the county, each store's mark there
        self.assertEqual(backlogs(), [0] * self.HALLS)
        for s in stores:
            self.assertEqual(sorted(r[0] for r in store_sql(s, "SELECT id FROM outbox")), ids)
            self.assertEqual(store_sql(s, "SELECT count(*) FROM quarantine")[0][0], 0)
        self.assertEqual(sorted(r[0] for r in county.rows("SELECT id FROM records")), ids)
        self.assertEqual(county.count("cases"), len(ids))
        self.assertEqual(int(county.scalar("SELECT count(DISTINCT id) FROM cases")), len(ids))
        self.assertEqual(county.count("conflicts"), 0)
        marks = dict(county.rows("SELECT store_id, last_seq FROM hall_streams"))
        for s in stores:
            sid = store_sql(s, "SELECT value FROM meta WHERE key = 'store_id'")[0][0]
            top = store_sql(s, "SELECT max(seq) FROM outbox")[0][0]
            self.assertEqual(marks.get(sid), str(top), "the county's mark for store %s" % sid)
        # a clean stop for all 50, and nothing from a sanitizer (B=build/san)
        codes = herd.term_all(15)
        self.assertEqual([i for i, c in enumerate(codes) if c != 0], [],
                         "agents that did not stop cleanly on SIGTERM: %s" % codes)
        problems = [ln for _, _, ln in herd.snapshot() if SANITIZER.search(ln)]
        self.assertEqual(problems[:20], [], "sanitizer reports from the agents")
        herd.close()


def stop_process(p, timeout=60):
    """SIGTERM (a clean stop), then SIGKILL; waited for."""
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(10)


def connections(session):
    for line in session.run("SHOW GLOBAL STATUS LIKE 'Connections'", timeout=10):
        parts = line.split("\t")
        if len(parts) == 2 and parts[0] == "Connections":
            return int(parts[1])
    raise AssertionError("no Connections in SHOW GLOBAL STATUS")


def herd_tail(herd, n=20):
    return "\n".join("%d: %s" % (i, ln) for _, i, ln in herd.snapshot()[-n:])


if __name__ == "__main__":
    unittest.main()
