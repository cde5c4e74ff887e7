"""SPEC 5.1, 5.3, 5.5: hall-agent's province uplink against the reference receiver.

Every test has a node of its own (`conf/demo start` with PROVINCE=1 and no county: nginx,
the hall programs, province-receiver behind its own nginx) and, between the agent and the
receiver, a fault proxy (faultproxy.py) whose mode the test switches. The tests run
hall-agent themselves (`run`, `status`) so that they can kill it, and read the receiver's
SQLite store ($VAR/province/province.db) to prove exactly-once delivery:

  - every id of the hall's outbox is held once by the receiver, with the same bytes
    (sha256 of the held payload = sha256 of the outbox payload) and no other ids;
  - `hall-agent status` shows a province backlog of 0, and so does GET /api/v1/health
    (the province is the only destination);
  - POST /v1/reconcile with every hall id answers exactly what the store holds.
"""

import gzip
import hashlib
import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import time
import unittest

from county import LogFile, hall_rows, submit_many, wait_until
from faultproxy import FaultProxy
from harness import BUILD, ROOT, Node, proc_children, reap, wait_gone

AGENT_BIN = os.path.join(ROOT, BUILD, "hall-agent")
SANITIZER = re.compile(r"ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:")

LIMITS_OFF = "\n[limits]\nsubmissions_per_min = 0\nlookups_per_min = 0\n"
UPLINK_INI = ("\n[province]\nurl = %s\nlow_speed_s = 3\nlow_speed_bps = 10\ntimeout_s = 20\n"
              "connect_timeout_s = 3\n[agent]\npoll_ms = 300\nbackoff_max_s = 2\n")
LOW_SPEED_S = 3
BACKOFF_MAX_S = 2

SEED = int(os.environ.get("PROVINCE_SEED", str(int(time.time()) % 100000)))

SUBJECTS = ["城乡居民养老保险缴费档次咨询", "新生儿落户需要哪些材料", "农村危房改造补助申请条件",
            "营业执照变更办理流程", "医保异地就医备案怎么办理", "残疾人两项补贴申请",
            "不动产登记需要多长时间", "高龄津贴发放时间咨询", "低保申请审核进度",
            "社保卡补办与激活", "宅基地审批流程", "退役军人优待证办理"]
SENTENCES = ["请问需要带哪些材料？", "我上周已经去过一次窗口。", "工作人员说要等系统恢复。",
             "能否在网上直接办理？", "家里老人行动不便，可以代办吗？", "需要本人到场签字吗？",
             "办理时限是多少个工作日？", "是否收取费用，收费依据是什么？",
             "结果是邮寄还是自取？", "村里的代办员电话打不通。", "请尽快答复，谢谢。",
             "之前提交的材料是否还有效？", "户口在外地能不能办理？", "有没有办事指南可以参考？"]
NAMES = ["张三", "李四", "王五", "赵六", "刘洋", "陈静", "杨帆", "黄磊", "周敏", "吴刚"]
TARGETS = ["社保窗口", "不动产登记窗口", "民政办", "综合受理窗口"]


def tap(text):
    print("# " + text, flush=True)


def sha(b):
    if isinstance(b, str):
        b = b.encode("utf-8")
    return hashlib.sha256(b).hexdigest()


# ---- the hall side -----------------------------------------------------------------------

def submit(node, n, rng, label="省"):
    """n submissions over HTTP (consultations, every fifth a complaint) with varied content,
    on a kept-alive connection; the receipts in order."""
    def make(i):
        body = "".join(rng.sample(SENTENCES, rng.randint(2, 6))) + \
            "（%s%d，编号%06d）" % (label, i, rng.randrange(10 ** 6))
        phone = "1" + rng.choice("3456789") + "%09d" % rng.randrange(10 ** 9)
        if i % 5 == 4:
            return "/api/v1/complaints", {
                "type": rng.choice(["complaint", "unresolved"]),
                "subject": rng.choice(SUBJECTS) + "问题反映", "body": body,
                "phone": phone, "name": rng.choice(NAMES), "target": rng.choice(TARGETS)}
        return "/api/v1/consultations", {
            "category": rng.choice(["policy", "procedure", "public_info"]),
            "subject": rng.choice(SUBJECTS), "body": body,
            "name": rng.choice(NAMES), "phone": phone}

    return submit_many(node, n, make=make)


def hall_outbox(node):
    """[(seq, id, payload)] in order."""
    return hall_rows(node, "SELECT seq, id, payload FROM outbox ORDER BY seq")


def province_acked(node):
    rows = hall_rows(node, "SELECT acked_seq FROM sync_dest WHERE dest = 'province'")
    return rows[0][0] if rows else 0


def province_backlog(node):
    return hall_rows(node, "SELECT count(*) FROM outbox WHERE seq > ?",
                  (province_acked(node),))[0][0]


# ---- the receiver side ------------------------------------------------------------------

def rx_path(node):
    return os.path.join(node.var, "province", "province.db")


def rx_q(node, sql, args=()):
    con = sqlite3.connect(rx_path(node), timeout=10)
    try:
        con.execute("PRAGMA busy_timeout = 10000")
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def rx_count(node):
    return rx_q(node, "SELECT count(*) FROM records")[0][0]


def rx_token(node):
    with open(os.path.join(node.var, "province", "token")) as f:
        return f.readline().strip()


def rx_post(node, path, body, token=None, timeout=20):
    """POST straight to the receiver's nginx (not through the proxy)."""
    h = {"Content-Type": "application/json", "Connection": "close"}
    if token is not None:
        h["Authorization"] = "Bearer " + token
    conn = node.province_connection(timeout)
    try:
        conn.request("POST", path, body=json.dumps(body).encode(), headers=h)
        r = conn.getresponse()
        return r.status, r.getheader("Content-Type", ""), r.read()
    finally:
        conn.close()


# ---- hall-agent, run by the tests --------------------------------------------------------

class Agent(LogFile):
    def __init__(self, node):
        self.node = node
        self.proc = None
        self.pids = []
        self.log_path = os.path.join(node.var, "log", "test-agent.log")

    def argv(self, cmd):
        return [AGENT_BIN, "-c", self.node.ini_path, cmd]

    def start(self):
        if self.running():
            raise AssertionError("the agent is already running")
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.argv("run"), stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=log, start_new_session=True)
        self.pids.append(self.proc.pid)
        return self

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def kill9(self):
        if self.running():
            self.proc.send_signal(signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait(10)

    def term(self, timeout=25):
        """SIGTERM and wait; the seconds it took (AssertionError when it did not end)."""
        if not self.running():
            return 0.0
        t0 = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
            raise AssertionError("hall-agent did not stop within %d s of SIGTERM" % timeout)
        return time.monotonic() - t0

    def status(self):
        p = subprocess.run(self.argv("status"), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=30)
        return p.stdout.decode("utf-8", "replace")

    def province(self):
        """The province block of `hall-agent status`: (block, backlog, last error)."""
        text = self.status()
        m = re.search(r"(?ms)^province\s+\(.*?(?=^\S|\Z)", text)
        if not m:
            raise AssertionError("no province block in hall-agent status:\n" + text)
        block = m.group(0)
        b = re.search(r"(?m)^\s+backlog\s+(\d+) record", block)
        e = re.search(r"(?m)^\s+last error\s+(.*)$", block)
        if not b or not e:
            raise AssertionError("the province block lacks backlog or last error:\n" + block)
        return block, int(b.group(1)), e.group(1).strip()

    def cleanup(self):
        problems = []
        try:
            self.term()
        except AssertionError as e:
            problems.append(str(e))
        reap(self.pids)
        problems += ["test-agent.log: " + line.strip() for line in self.log().splitlines()
                     if SANITIZER.search(line)]
        if problems:
            raise AssertionError("hall-agent:\n" + "\n".join(problems[:20]))


# ---- the tests ---------------------------------------------------------------------------

class ProvinceTestCase(unittest.TestCase):
    """A node with the province only, a fault proxy in front of its receiver, an agent."""

    maxDiff = 4000

    def up(self, name, extra="", via_proxy=True):
        self.rng = random.Random("%d-%s" % (SEED, name))
        node = Node("prov-" + name, county=False, province=True, agent=False)
        self.addCleanup(self._finish_node, node)
        self.node = node
        self.agent = Agent(node)
        self.addCleanup(self.agent.cleanup)
        self.proxy = FaultProxy(node.province_port, upstream_ca=node.ca_path).start()
        self.addCleanup(self.proxy.stop)
        url = self.proxy.url if via_proxy else node.province_url
        node.start(LIMITS_OFF + UPLINK_INI % url + extra)
        self.assertEqual(node.ini()["province"]["url"], url)
        return node

    def _finish_node(self, node):
        problems = []
        try:
            node.stop()
            problems = node.new_log_problems()
            path = node.log_path("province-receiver")
            if os.path.exists(path):
                with open(path, "rb") as f:
                    problems += ["province-receiver: " + line.strip() for line in
                                 f.read().decode("utf-8", "replace").splitlines()
                                 if SANITIZER.search(line) or re.search(r"ended \(signal", line)]
        finally:
            node.cleanup()
        if problems:
            raise AssertionError("sanitizer or crash reports:\n" + "\n".join(problems[:20]))

    def submit(self, n, label="省"):
        return submit(self.node, n, self.rng, label)

    def wait_drained(self, timeout, what="the province backlog to drain"):
        try:
            wait_until(lambda: province_backlog(self.node) == 0, timeout, 0.05, what)
        except AssertionError as e:
            raise AssertionError("%s\nproxy: %r\nstatus:\n%s\nagent log:\n%s" % (
                e, self.proxy.counts(), self.agent.status(), self.agent.log_tail()))

    def wait_error(self, pattern, timeout=15, what=None):
        """Waits until `hall-agent status` shows a province last error matching pattern."""
        def check():
            _, _, err = self.agent.province()
            return err if re.search(pattern, err, re.I) else None
        try:
            return wait_until(check, timeout, 0.1, what or "a last error matching %r" % pattern)
        except AssertionError as e:
            raise AssertionError("%s\nstatus:\n%s\nagent log:\n%s" % (
                e, self.agent.status(), self.agent.log_tail()))

    # ---- exactly once ----------------------------------------------------------------
    def assertExactlyOnce(self, conflicted=(), foreign=()):
        """Every hall outbox id held once by the receiver with the hall's bytes (but the
        conflicted ids, which the receiver holds with its own), nothing else held (but the
        foreign ids the test stored itself), the hall's province mark at the end, reconcile
        agreeing, and the health backlog 0."""
        node = self.node
        outbox = hall_outbox(node)
        self.assertTrue(outbox, "the hall outbox is empty")
        hall = {rid: payload for _, rid, payload in outbox}
        self.assertEqual(len(hall), len(outbox), "the hall outbox holds an id twice")
        per_id = dict(rx_q(node, "SELECT id, count(*) FROM records GROUP BY id"))
        twice = {k: v for k, v in per_id.items() if v != 1}
        self.assertEqual(twice, {}, "the receiver holds ids more than once")
        held = {rid: (h, p) for rid, h, p in rx_q(node, "SELECT id, sha256, payload FROM records")}
        self.assertEqual(set(held) - set(hall) - set(foreign), set(),
                         "the receiver holds ids the hall never issued")
        missing = set(hall) - set(held)
        self.assertEqual(missing, set(), "%d hall record(s) missing at the receiver" % len(missing))
        bad = []
        for rid, payload in hall.items():
            if rid in conflicted:
                continue
            h, p = held[rid]
            if h != sha(payload) or sha(p) != sha(payload):
                bad.append(rid)
        self.assertEqual(bad, [], "records held with other bytes than the hall's outbox")
        # the hall's mark: nothing left for the province
        _, backlog, err = self.agent.province()
        self.assertEqual(backlog, 0, "hall-agent status: province backlog\n" + self.agent.status())
        self.assertEqual(province_acked(node), outbox[-1][0], "the hall's province mark")
        self.assertEqual(hall_rows(node, "SELECT count(*) FROM outbox")[0][0], len(outbox))
        quarantined = {r[0] for r in hall_rows(node, "SELECT id FROM quarantine WHERE dest = 'province'")}
        self.assertEqual(quarantined, set(conflicted), "quarantined at the hall")
        self.assertReconcileAgrees()
        # last, so that it does not hide the checks above
        health = node.health()
        self.assertEqual(health["sync"]["backlog"], 0,
                         "GET /api/v1/health backlog with only the province configured "
                         "(province backlog %d; sync_dest rows %r)"
                         % (province_backlog(node),
                            hall_rows(node, "SELECT dest, acked_seq FROM sync_dest")))

    def assertReconcileAgrees(self):
        """POST /v1/reconcile with every hall id (and unknown ones) answers exactly the ids in
        the receiver's records with their sha256; without the right token 401."""
        node = self.node
        ids = [rid for _, rid, _ in hall_outbox(node)]
        unknown = ["430121001000-CNOSUCH%d" % i for i in range(3)] + ["", "x" * 70]
        status, ctype, body = rx_post(node, "/v1/reconcile", {"ids": ids + unknown},
                                      token=rx_token(node))
        self.assertEqual(status, 200, body[:300])
        self.assertTrue(ctype.startswith("application/json"), ctype)
        doc = json.loads(body)
        self.assertEqual(set(doc), {"held"}, doc if len(body) < 500 else body[:500])
        store = dict(rx_q(node, "SELECT id, sha256 FROM records"))
        want = {rid: store[rid] for rid in ids if rid in store}
        self.assertEqual(doc["held"], want, "/v1/reconcile disagrees with the receiver's store")
        for u in unknown:
            self.assertNotIn(u, doc["held"])
        for tok in (None, "wrong-" + rx_token(node)[6:]):
            status, _, body = rx_post(node, "/v1/reconcile", {"ids": ids[:5]}, token=tok)
            self.assertEqual(status, 401, "reconcile with token %r: %d %r" % (tok, status, body))

    # ---- proxy helpers ----------------------------------------------------------------
    def wait_requests(self, n, mode=None, path="/v1/records", since=0, timeout=20):
        try:
            return wait_until(lambda: self.proxy.count(mode, path, since=since) >= n, timeout,
                              0.05, "%d request(s) %s %s at the proxy" % (n, mode or "", path))
        except AssertionError as e:
            raise AssertionError("%s\nproxy: %r\nstatus:\n%s\nagent log:\n%s" % (
                e, self.proxy.seen(since=since), self.agent.status(), self.agent.log_tail()))


class ProvinceUplinkTest(ProvinceTestCase):

    # ---- 1. plain delivery, gzip NDJSON, the token ----------------------------------
    def test_01_plain_delivery_gzip_ndjson_and_token(self):
        node = self.up("plain", "[agent]\nbatch_records = 500\n")
        hall_code = node.ini()["hall"]["code"]
        token_file = os.path.join(node.var, "hall", "secrets", "province.token")
        # a wrong token: the receiver answers 401, the agent says so, nothing is delivered
        with open(token_file, "w") as f:
            f.write("not-the-province-token-0123456789\n")
        self.agent.start()
        self.submit(3, "令牌")
        self.wait_requests(2)
        err = self.wait_error(r"\b401\b", what="status to report the 401")
        ups = {r.upstream_status for r in self.proxy.seen("/v1/records")}
        self.assertEqual(ups, {401}, "the receiver's answers to a wrong token")
        self.assertEqual(rx_count(node), 0, "records arrived with a wrong token")
        _, backlog, _ = self.agent.province()
        self.assertEqual(backlog, 3)
        self.assertEqual(province_acked(node), 0)
        tap("wrong token: %s" % err)
        self.agent.term()

        # the right token (the agent reads it when it starts); batches of 500
        with open(os.path.join(node.var, "province", "token")) as src, \
                open(token_file, "w") as dst:
            dst.write(src.read())
        self.submit(997, "批量")
        mark = self.proxy.mark()
        t0 = time.monotonic()
        self.agent.start()
        self.wait_drained(60)
        took = time.monotonic() - t0

        outbox = hall_outbox(node)
        payloads = {rid: p for _, rid, p in outbox}
        reqs = self.proxy.seen("/v1/records", since=mark)
        self.assertTrue(reqs, "the proxy saw no /v1/records")
        token = rx_token(node)
        sent_ok, wire, nrec, per_req = set(), 0, 0, []
        for r in reqs:
            self.assertEqual(r.method, "POST")
            self.assertEqual(r.headers.get("content-encoding"), "gzip", r.headers)
            self.assertTrue(r.headers.get("content-type", "").startswith("application/x-ndjson"),
                            r.headers)
            self.assertEqual(r.headers.get("authorization"), "Bearer " + token)
            self.assertEqual(r.body[:2], b"\x1f\x8b", "not a gzip body")
            plain = gzip.decompress(r.body)
            lines = plain.split(b"\n")
            if lines and lines[-1] == b"":
                lines.pop()
            self.assertTrue(lines, "an empty batch")
            for line in lines:
                rec = json.loads(line)
                self.assertLessEqual({"id", "type", "hall_code", "case_no", "at"}, set(rec), rec)
                self.assertIn(rec["type"], ("case", "event", "rating"))
                self.assertEqual(rec["hall_code"], hall_code)
                self.assertRegex(rec["at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00$")
                self.assertEqual(line.decode("utf-8"), payloads[rec["id"]],
                                 "a line differs from the hall's outbox payload")
            if r.upstream_status == 200:
                sent_ok |= {json.loads(line)["id"] for line in lines}
                wire += len(r.body)
                nrec += len(lines)
                per_req.append(len(lines))
        self.assertEqual(sent_ok, set(payloads), "ids delivered in the batches")
        self.assertLessEqual(max(per_req), 500, per_req)
        self.assertGreaterEqual(len(per_req), 2, "1000 records in batches of 500: %r" % per_req)
        raw = sum(len(p.encode("utf-8")) for p in payloads.values()) / len(payloads)
        tap("province wire: %.1f bytes/record vs raw %.1f bytes/record (%.1f%%; %d records in "
            "batches of %s, drained in %.2f s)" % (wire / nrec, raw, 100.0 * wire / nrec / raw,
                                                   nrec, "+".join(map(str, per_req)), took))
        self.assertExactlyOnce()

    # ---- 2. kill -9 of the agent while 2,000 records drain ------------------------------
    def test_02_kill9_agent_ten_times_while_draining(self):
        node = self.up("kill9", "[agent]\nbatch_records = 50\n")
        self.submit(2000, "断电")
        # on loopback 40 batches take a few ms: answers come back 0.1 s after the receiver
        # stored the batch, so that the kills land while it drains (and inside that window)
        self.proxy.set_mode("pass", delay=0.1)
        self.agent.start()
        rng = random.Random(SEED)
        mid = 0
        for _ in range(10):
            time.sleep(rng.uniform(0.05, 0.5))
            before = province_backlog(node)
            self.agent.kill9()
            if before > 0:
                mid += 1
            self.agent.start()
        self.wait_drained(90)
        dup = sum(1 for r in self.proxy.seen("/v1/records") if r.upstream_status == 200
                  for x in json.loads(r.upstream_body)["results"] if x["result"] == "duplicate")
        tap("kill -9: %d of 10 kills landed while the backlog drained; %d /v1/records requests "
            "for 2000 records in batches of 50, %d record(s) sent again (duplicate)"
            % (mid, self.proxy.count(path="/v1/records"), dup))
        self.assertGreaterEqual(mid, 5, "the kills did not land while the backlog drained")
        self.assertExactlyOnce()

    # ---- 3. the receiver down, then up ---------------------------------------------------
    def test_03_receiver_down_then_up(self):
        node = self.up("down", via_proxy=False)
        self.agent.start()
        self.submit(5, "之前")
        self.wait_drained(20)
        # stop province-receiver and its nginx
        pids = []
        for prog in ("nginx-province", "province-receiver"):
            pid = node.pid(prog)
            self.assertIsNotNone(pid, "no %s pid file" % prog)
            pids += [pid] + proc_children(pid)
            os.kill(pid, signal.SIGTERM)
        self.assertTrue(wait_gone(pids, 15), "the receiver did not stop")
        for prog in ("nginx-province", "province-receiver"):
            try:
                os.unlink(os.path.join(node.var, "run", prog + ".pid"))
            except OSError:
                pass
        self.submit(40, "停机")
        err = self.wait_error(r"connect|refused", what="status to show the receiver is down")
        time.sleep(2)
        _, backlog, _ = self.agent.province()
        self.assertEqual(backlog, 40, "province backlog while the receiver is down")
        self.assertEqual(self.agent.running(), True, "the agent died while the receiver was down")
        tap("receiver down: %s" % err)
        node.start()                       # conf/demo start: brings the receiver back
        self.assertIsNotNone(node.pid("province-receiver"))
        self.wait_drained(30)
        self.assertExactlyOnce()

    # ---- 4. 500s, then 429 and 503 with Retry-After ----------------------------------
    def test_04_500_then_429_and_503_retry_after(self):
        node = self.up("retry")
        self.agent.start()
        self.proxy.set_mode("500", paths=("/v1/records",))
        self.submit(5, "五百")
        self.wait_requests(3, "500")
        self.wait_error(r"\b500\b", what="status to report the 500")
        self.assertEqual(rx_count(node), 0)
        self.assertEqual(province_backlog(node), 5)
        self.proxy.set_mode("pass")
        self.wait_drained(20)

        for code in ("429", "503"):
            self.agent.term()
            self.submit(5, code)
            mark = self.proxy.mark()
            self.proxy.set_mode(code, times=2, retry_after=3, paths=("/v1/records",))
            self.agent.start()
            self.wait_drained(30, "the backlog to drain after two %s" % code)
            reqs = self.proxy.seen("/v1/records", since=mark)
            self.assertEqual([r.mode for r in reqs[:3]], [code, code, "pass"], reqs)
            gaps = [b.t - a.t for a, b in zip(reqs, reqs[1:3])]
            tap("%s with Retry-After: 3: the agent came back after %s s"
                % (code, ", ".join("%.2f" % g for g in gaps)))
            for g in gaps:
                self.assertGreaterEqual(g, 2.9, "retried %.2f s after a %s with Retry-After: 3"
                                        % (g, code))
                self.assertLess(g, 3 + BACKOFF_MAX_S + 2.0, "waited %.2f s after a %s" % (g, code))
        self.assertExactlyOnce()

    # ---- 5. captive portal, redirect, a 200 without results ----------------------------
    def test_05_portal_redirect_and_json_without_results_are_failures(self):
        node = self.up("portal")
        self.agent.start()
        cases = (("portal", r"portal|text/html"), ("redirect", r"\b302\b"),
                 ("json", r"results"))
        for mode, pattern in cases:
            self.wait_drained(20)
            held = rx_count(node)
            acked = province_acked(node)
            self.proxy.set_mode(mode)
            mark = self.proxy.mark()
            self.submit(4, mode)
            self.wait_requests(2, mode, path=None, since=mark)
            err = self.wait_error(pattern, what="status to report the %s answer" % mode)
            tap("%s: %s" % (mode, err))
            self.assertEqual(province_acked(node), acked,
                             "the hall marked records delivered after a %s answer" % mode)
            _, backlog, _ = self.agent.province()
            self.assertEqual(backlog, 4, "province backlog after %s answers" % mode)
            self.assertEqual(rx_count(node), held)
            self.assertEqual(hall_rows(node, "SELECT count(*) FROM quarantine")[0][0], 0)
            self.proxy.set_mode("pass")
            self.wait_drained(20, "the backlog to drain after the %s answers" % mode)
            _, _, err = self.agent.province()
            self.assertEqual(err, "none", "the last error stays after a success")
        self.assertExactlyOnce()

    # ---- 6. a stalled answer, a dropped request ------------------------------------
    def test_06_stall_and_drop_noticed_by_low_speed_limit(self):
        node = self.up("stall")
        for mode in ("stall", "drop"):
            self.agent.term()
            self.submit(6, mode)
            mark = self.proxy.mark()
            self.proxy.set_mode(mode, times=1, paths=("/v1/records",))
            self.agent.start()
            self.wait_requests(1, mode, since=mark)
            self.wait_drained(LOW_SPEED_S + 5 + BACKOFF_MAX_S + 15,
                              "the backlog to drain after a %s" % mode)
            reqs = self.proxy.seen(since=mark)
            bad = reqs[0]
            self.assertEqual(bad.mode, mode, reqs)
            gave_up = wait_until(lambda: bad.closed_by_client, 5, 0.05,
                                 "the proxy to see the agent give up the %s" % mode) - bad.t
            nxt = reqs[1].t - bad.t
            tap("%s: the agent gave up after %.2f s, next request after %.2f s (%s)"
                % (mode, gave_up, nxt, ", ".join("%s %s" % (r.mode, r.path) for r in reqs)))
            # libcurl's speed is an average over its last 5 s: bytes that moved just before the
            # stall keep it above the limit that long, then low_speed_s must pass
            self.assertGreaterEqual(gave_up, LOW_SPEED_S - 0.5)
            self.assertLess(gave_up, LOW_SPEED_S + 5 + 3, "a %s noticed after %.1f s"
                            % (mode, gave_up))
            self.assertLess(nxt, gave_up + BACKOFF_MAX_S + 2)
            self.assertIn("/v1/reconcile", [r.path for r in reqs],
                          "a request that may have arrived, and no reconcile")
            self.assertEqual(province_backlog(node), 0)
        self.assertExactlyOnce()

    # ---- 7. resets: mid-body, and before answering --------------------------------
    def test_07_resets_reconciled(self):
        node = self.up("reset")
        for mode in ("reset_mid", "reset_before"):
            self.agent.term()
            receipts = self.submit(8, mode)
            mark = self.proxy.mark()
            self.proxy.set_mode(mode, times=1, paths=("/v1/records",))
            self.agent.start()
            self.wait_requests(1, mode, since=mark)
            self.wait_drained(20, "the backlog to drain after a %s" % mode)
            reqs = self.proxy.seen(since=mark)
            self.assertEqual(reqs[0].mode, mode, reqs)
            self.assertEqual(reqs[0].upstream_status, 200, "the receiver did not take the batch")
            rec = [r for r in reqs if r.path == "/v1/reconcile"]
            self.assertTrue(rec, "no POST /v1/reconcile after a %s: %r" % (mode, reqs))
            self.assertEqual(rec[0].method, "POST")
            asked = json.loads(rec[0].body)["ids"]
            self.assertEqual(set(asked), {r["id"] for r in receipts})
            tap("%s: %s" % (mode, ", ".join("%s %s -> %s" % (r.mode, r.path, r.upstream_status)
                                            for r in reqs)))
            held = dict(rx_q(node, "SELECT id, count(*) FROM records GROUP BY id"))
            for r in receipts:
                self.assertEqual(held.get(r["id"]), 1)
        self.assertExactlyOnce()

    # ---- 8. a conflict in the middle of a batch -----------------------------------
    def test_08_conflict_mid_batch_quarantined_others_arrive(self):
        node = self.up("conflict")
        receipts = self.submit(9, "冲突")
        victim = receipts[4]
        seq, payload = hall_rows(node, "SELECT seq, payload FROM outbox WHERE id = ?",
                              (victim["id"],))[0]
        other = json.loads(payload)
        other["subject"] = "另一个版本的内容"
        other_payload = json.dumps(other, ensure_ascii=False, separators=(",", ":"))
        self.assertNotEqual(sha(other_payload), sha(payload))
        con = sqlite3.connect(rx_path(node), timeout=10)
        with con:
            con.execute("INSERT INTO records (id, sha256, type, hall_code, case_no, at, payload, "
                        "received_at) VALUES (?, ?, ?, ?, ?, ?, ?, strftime('%s','now'))",
                        (victim["id"], sha(other_payload), other["type"], other["hall_code"],
                         other["case_no"], other["at"], other_payload))
        con.close()
        outbox_before = hall_rows(node, "SELECT count(*) FROM outbox")[0][0]
        self.agent.start()
        self.wait_drained(20)
        # the batch's answer said rejected for it, accepted for the others
        answers = [json.loads(r.upstream_body) for r in self.proxy.seen("/v1/records")
                   if r.upstream_status == 200]
        results = {x["id"]: x for a in answers for x in a["results"]}
        self.assertEqual(results[victim["id"]]["result"], "rejected", results[victim["id"]])
        self.assertRegex(results[victim["id"]].get("reason", ""), r"conflict")
        for r in receipts:
            if r is not victim:
                self.assertIn(results[r["id"]]["result"], ("accepted", "duplicate"))
        # quarantined at the hall, shown in the status, kept in the outbox
        q = hall_rows(node, "SELECT id, dest, seq, result, reason FROM quarantine")
        self.assertEqual(len(q), 1, q)
        self.assertEqual(q[0][:3], (victim["id"], "province", seq))
        self.assertIn(q[0][3], ("rejected", "conflict"))
        self.assertRegex(q[0][4] or "", r"conflict")
        block, _, _ = self.agent.province()
        self.assertRegex(block, r"QUARANTINED\s+1 record", block)
        self.assertEqual(hall_rows(node, "SELECT count(*) FROM outbox")[0][0], outbox_before)
        self.assertEqual(hall_rows(node, "SELECT payload FROM outbox WHERE id = ?",
                                (victim["id"],))[0][0], payload)
        self.assertRegex(self.agent.log(), r"(?m)^.*%s.*quarantined" % re.escape(victim["id"]))
        # the receiver keeps its version and the attempt
        self.assertEqual(rx_q(node, "SELECT sha256, payload FROM records WHERE id = ?",
                              (victim["id"],)), [(sha(other_payload), other_payload)])
        conf = rx_q(node, "SELECT id, held_sha256, sent_sha256, payload FROM conflicts")
        self.assertEqual(conf, [(victim["id"], sha(other_payload), sha(payload), payload)])
        # records before and after it arrived (checked with the rest)
        self.assertExactlyOnce(conflicted={victim["id"]})

    # ---- 9. the reconcile endpoint -----------------------------------------------
    def test_09_reconcile_agrees_with_the_store(self):
        node = self.up("reconcile")
        self.agent.start()
        self.submit(30, "对账")
        self.wait_drained(20)
        # the store also holds another hall's record, sent with that hall's own token
        # (test_province_trust: one token per hall): a hall's reconcile never names it
        token = rx_token(node)
        other_token = "other-hall-token-0123456789"
        with open(os.path.join(node.var, "province", "token-other"), "w") as f:
            f.write(other_token + "\n")
        subprocess.run([os.path.join(ROOT, BUILD, "province-receiver"), "-c",
                        os.path.join(node.var, "province", "receiver.ini"), "add-hall",
                        "430121002000", os.path.join(node.var, "province", "token-other")],
                       check=True, timeout=30)
        other = {"id": "430121002000-C1", "type": "case", "hall_code": "430121002000",
                 "case_no": "43012100200000000000001", "at": "2026-01-05T09:00:00+08:00"}
        line = json.dumps(other, separators=(",", ":")).encode()
        conn = node.province_connection(20)
        conn.request("POST", "/v1/records", body=gzip.compress(line + b"\n"),
                     headers={"Content-Type": "application/x-ndjson", "Content-Encoding": "gzip",
                              "Authorization": "Bearer " + other_token})
        r = conn.getresponse()
        doc = json.loads(r.read())
        conn.close()
        self.assertEqual((r.status, doc), (200, {"results": [{"id": other["id"],
                                                               "result": "accepted"}]}))
        self.assertExactlyOnce(foreign={other["id"]})    # includes reconcile with every hall id (+ unknown ids)
        ids = [rid for _, rid, _ in hall_outbox(node)]
        status, _, body = rx_post(node, "/v1/reconcile", {"ids": [other["id"]] + ids[:3]},
                                  token=token)
        self.assertEqual(status, 200)
        store = dict(rx_q(node, "SELECT id, sha256 FROM records"))
        self.assertEqual(json.loads(body)["held"], {k: store[k] for k in ids[:3]})
        status, _, body = rx_post(node, "/v1/reconcile", {"ids": [other["id"]] + ids[:3]},
                                  token=other_token)
        self.assertEqual((status, json.loads(body)["held"]),
                         (200, {other["id"]: store[other["id"]]}))
        self.assertEqual(store[other["id"]], sha(line))
        status, _, body = rx_post(node, "/v1/reconcile", {"ids": ids}, token=None)
        self.assertEqual(status, 401, body)
        status, _, body = rx_post(node, "/v1/reconcile", {"ids": []}, token=token)
        self.assertEqual((status, json.loads(body)), (200, {"held": {}}))


    # ---- 10. a front with a body limit ---------------------------------------------------
    def test_10_a_body_limit_in_front_gets_smaller_batches(self):
        """A proxy in front of the platform with a body limit (nginx's client_max_body_size)
        answers 413 to a batch over it: the agent sends smaller ones and the backlog drains,
        where before every batch went again at the same size, for ever."""
        node = self.up("cap")
        receipts = self.submit(300, "限长")
        self.proxy.set_mode("cap", max_body=3000, paths=("/v1/records",))
        self.agent.start()
        self.wait_drained(60)
        sizes = [len(r.body) for r in self.proxy.seen("/v1/records")]
        tap("413 above 3000 bytes: batches of %s bytes" % ", ".join(map(str, sizes)))
        self.assertTrue(any(n > 3000 for n in sizes), "no batch over the limit: proved nothing")
        self.assertIn("province: HTTP 413 for a batch of", self.agent.log())
        self.assertEqual(rx_count(node), len(receipts))
        self.assertExactlyOnce()

if __name__ == "__main__":
    unittest.main()
