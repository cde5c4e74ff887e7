"""SPEC 5.6: the reference SMS gateway (sms-gateway behind its own nginx, as `make run`
starts it with SMS=1), over HTTP only, as the county notifier talks to it.

  - POST /v1/sms with the token: 200 accepted the first time, 200 duplicate for the same id
    with the same to and text, 409 conflict with other content, and nothing changed;
  - no token, a wrong one, another scheme: 401, nothing stored, nothing listed;
  - bodies it must refuse (not JSON, not UTF-8, 71 characters, a landline, a number for a
    string, another field, another content type, over the 16 KiB cap at the gateway and at
    nginx): the error of SPEC 4.3 with the field, and nothing stored;
  - GET /v1/sms?to= in the order received, `at` in RFC 3339 +08:00, paged with since/limit;
  - durability: the gateway killed with -9 right after a 200 and started again still lists
    the message;
  - 20 threads posting the same id at once: every answer 200 accepted or duplicate, exactly
    one accepted, exactly one stored.
"""

import datetime
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import unittest
import uuid

from harness import BUILD, ROOT, TZ, Node, finish_node, proc_children, reap, wait_gone

SIG = "【长沙县政务服务】"


def new_id():
    return str(uuid.uuid4())


class SmsGatewayTest(unittest.TestCase):
    node = None

    @classmethod
    def setUpClass(cls):
        cls.node = Node("sms", sms=True)
        cls.addClassCleanup(finish_node, cls.node)
        cls.node.start()
        cls.token = cls.node.run_env()["SMS_TOKEN"]
        cls.log_offset = 0

    def tearDown(self):
        # sanitizer reports and workers that died on their own, since the last test
        path = self.node.log_path("sms-gateway")
        with open(path, "rb") as f:
            f.seek(type(self).log_offset)
            text = f.read().decode("utf-8", "replace")
            type(self).log_offset = f.tell()
        bad = [l for l in text.splitlines()
               if "Sanitizer" in l or "runtime error:" in l or re.search(r"ended \(signal", l)]
        self.assertEqual(bad, [], "sms-gateway logged problems")

    # ---- HTTP ----------------------------------------------------------------------
    def request(self, method, path, body=None, headers=None, token=True):
        hdrs = {"Connection": "close"}
        if token is True:
            hdrs["Authorization"] = "Bearer " + self.token
        elif token is not None:
            hdrs["Authorization"] = token
        hdrs.update(headers or {})
        conn = http.client.HTTPConnection("127.0.0.1", self.node.sms_port, timeout=30)
        try:
            try:
                conn.request(method, path, body=body, headers=hdrs)
            except (BrokenPipeError, ConnectionResetError):
                pass    # refused before the whole body was sent: read the answer
            r = conn.getresponse()
            return r.status, r.headers, r.read()
        finally:
            conn.close()

    def send(self, msg, token=True, ctype="application/json"):
        body = msg if isinstance(msg, bytes) else json.dumps(msg, ensure_ascii=False).encode()
        return self.request("POST", "/v1/sms", body, {"Content-Type": ctype}, token)

    def send_ok(self, msg, status="accepted"):
        st, _, body = self.send(msg)
        self.assertEqual(st, 200, body)
        self.assertEqual(json.loads(body), {"id": msg["id"], "status": status})

    def listing(self, query="", token=True):
        st, _, body = self.request("GET", "/v1/sms" + query, token=token)
        self.assertEqual(st, 200, body)
        return json.loads(body)

    def held(self, **where):
        """Every message held (paging through), those matching where's fields."""
        out, since = [], 0
        while True:
            doc = self.listing("?since=%d" % since)
            out += doc["messages"]
            if not doc["more"]:
                break
            since = doc["messages"][-1]["seq"]
        return [m for m in out if all(m[k] == v for k, v in where.items())]

    def assertError(self, resp, status, field=None, code=None):
        st, headers, body = resp
        self.assertEqual(st, status, body)
        self.assertTrue(headers.get("Content-Type", "").startswith("application/json"))
        doc = json.loads(body)
        self.assertEqual(set(doc), {"error"}, doc)
        err = doc["error"]
        self.assertLessEqual({"code", "message"}, set(err))
        self.assertLessEqual(set(err), {"code", "message", "field"})
        self.assertRegex(err["message"], r"[\u4e00-\u9fff]")
        if field is not None:
            self.assertEqual(err.get("field"), field, err)
        if code is not None:
            self.assertEqual(err["code"], code, err)
        return err

    # ---- the demo ------------------------------------------------------------------
    def test_run_env_names_the_gateway(self):
        env = self.node.run_env()
        self.assertEqual(env["SMS_URL"], self.node.sms_url)
        self.assertRegex(env["SMS_TOKEN"], r"^[A-Za-z0-9_-]{24}$")
        st, _, body = self.request("GET", "/v1/health", token=None)
        self.assertEqual(st, 200, body)
        self.assertEqual(json.loads(body)["status"], "ok")

    # ---- accepted, duplicate, conflict ------------------------------------------------
    def test_accepted_then_duplicate_then_conflict(self):
        msg = {"id": new_id(), "to": "13812345678", "text": SIG + "您的咨询已答复，请凭查询码查看。"}
        self.send_ok(msg, "accepted")
        self.send_ok(msg, "duplicate")
        # the same content with its members in another order is the same message
        self.send_ok({"text": msg["text"], "id": msg["id"], "to": msg["to"]}, "duplicate")
        for other in ({"text": msg["text"] + "。"}, {"to": "13812345679"}):
            self.assertError(self.send(dict(msg, **other)), 409, "id", "conflict")
        held = self.held(id=msg["id"])
        self.assertEqual([(m["to"], m["text"]) for m in held], [(msg["to"], msg["text"])])

    # ---- the token ----------------------------------------------------------------------
    def test_token_refusals(self):
        msg = {"id": new_id(), "to": "13812345678", "text": SIG + "不该保存"}
        t = self.token
        wrong = [None, "", "Bearer", "Bearer ", "Bearer " + t[:-1],
                 "Bearer " + t[:-1] + ("A" if t[-1] != "A" else "B"), "Bearer " + t + "x",
                 "Basic " + t, "bearer" + t, "Bearer  " + t, "Token " + t]
        for auth in wrong:
            with self.subTest(auth=auth):
                resp = self.send(msg, token=auth)
                self.assertError(resp, 401, code="unauthorized")
                self.assertIn("Bearer", resp[1].get("WWW-Authenticate", ""))
                self.assertError(self.request("GET", "/v1/sms?to=13812345678", token=auth),
                                 401)
        # the scheme is case-insensitive (RFC 9110 11.1), the token is not
        self.assertEqual(self.send(msg, token="bearer " + t)[0], 200)
        self.assertEqual(len(self.held(id=msg["id"])), 1)
        self.assertError(self.send(dict(msg, id=new_id()), token="Bearer " + t.swapcase()),
                         401)

    # ---- bodies it refuses ---------------------------------------------------------------
    def test_bad_bodies_are_refused_and_nothing_is_stored(self):
        good = {"to": "13812345678", "text": SIG + "好"}
        cases = [
            # (body bytes or message, content type, status, field, code)
            (b'{"id":"x1","to":"13812345678","text":', None, 400, None, "malformed_body"),
            (b"[1,2,3]", None, 400, None, "malformed_body"),
            (b"", None, 400, None, "malformed_body"),
            ('{"id":"x2","to":"13812345678","text":"\xff\xfe"}'.encode("latin-1"), None, 400,
             None, "invalid_utf8"),
            (b'{"id":"x3","to":"13812345678","text":"a\\u0000b"}', None, 400, None, None),
            (b'{"id":"x4","id":"x4","to":"13812345678","text":"a"}', None, 400, None,
             "duplicate_field"),
            (dict(good, text=SIG + "字" * (71 - len(SIG))), None, 422, "text", "too_long"),
            (dict(good, to="073184123456"), None, 422, "to", "invalid"),
            (dict(good, to="0731-84123456"), None, 422, "to", "invalid"),
            (dict(good, to="+8613812345678"), None, 422, "to", "invalid"),
            (dict(good, to=13812345678), None, 422, "to", "invalid_type"),
            (dict(good, text=""), None, 422, "text", "required"),
            (dict(good, text="a\tb"), None, 422, "text", "invalid"),
            ({"to": good["to"], "text": good["text"]}, None, 422, "id", "required"),
            (dict(good, id="has space"), None, 422, "id", "invalid"),
            (dict(good, id="x" * 65), None, 422, "id", "invalid"),
            (dict(good, cc="13900000000"), None, 422, "cc", "unknown_field"),
            (dict(good, text={"a": 1}), None, 422, "text", "invalid_type"),
            (dict(good), "text/plain", 415, None, "unsupported_media_type"),
            (dict(good), "application/json; charset=gbk", 415, None, None),
            (dict(good), "application/x-www-form-urlencoded", 415, None, None),
        ]
        before = len(self.held())
        for body, ctype, status, field, code in cases:
            if isinstance(body, dict) and "id" not in body and field != "id":
                body = dict(body, id=new_id())
            with self.subTest(body=body, ctype=ctype):
                self.assertError(self.send(body, ctype=ctype or "application/json"), status,
                                 field, code)
        self.assertEqual(len(self.held()), before, "a refused body left a message")
        # the limits themselves are taken: 70 characters, a 64-byte id, a charset
        ok = dict(good, id="y" * 64, text=SIG + "字" * (70 - len(SIG)))
        st, _, body = self.send(ok, ctype="application/json; charset=UTF-8")
        self.assertEqual(st, 200, body)
        self.assertEqual(self.held(id=ok["id"])[0]["text"], ok["text"])

    def test_body_over_the_cap(self):
        before = len(self.held())
        pad = {"id": new_id(), "to": "13812345678", "text": "x", "pad": "a" * 17000}
        # at the gateway (its 16 KiB) and at nginx (64 KiB): the same JSON error
        self.assertError(self.send(pad), 413, code="too_large")
        self.assertError(self.send(dict(pad, pad="a" * 200000)), 413, code="too_large")
        self.assertEqual(len(self.held()), before)

    def test_methods_and_paths(self):
        st, headers, _ = self.request("DELETE", "/v1/sms")
        self.assertEqual(st, 405)
        self.assertEqual(headers.get("Allow"), "POST, GET, HEAD")
        self.assertError(self.request("GET", "/v1/nothing"), 404)
        self.assertEqual(self.request("GET", "/elsewhere")[0], 404)

    # ---- the listing -------------------------------------------------------------------
    def test_listing_by_number_in_the_order_received(self):
        a, b = "13700000001", "13700000002"
        sent = []
        t0 = datetime.datetime.now(TZ).replace(microsecond=0)
        for i in range(6):
            msg = {"id": new_id(), "to": a if i % 3 else b, "text": "%s第%d条" % (SIG, i)}
            self.send_ok(msg)
            sent.append(msg)
        t1 = datetime.datetime.now(TZ)
        for to in (a, b):
            doc = self.listing("?to=" + to)
            self.assertFalse(doc["more"])
            got = doc["messages"]
            self.assertEqual([(m["id"], m["to"], m["text"]) for m in got],
                             [(m["id"], m["to"], m["text"]) for m in sent if m["to"] == to])
            seqs = [m["seq"] for m in got]
            self.assertEqual(seqs, sorted(seqs))
            for m in got:
                self.assertRegex(m["at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00$")
                at = datetime.datetime.fromisoformat(m["at"])
                self.assertTrue(t0 <= at <= t1, (t0, at, t1))
        # a landline can hold nothing; an unknown number holds nothing
        self.assertEqual(self.listing("?to=073184123456")["messages"], [])
        self.assertEqual(self.listing("?to=13799999999")["messages"], [])

    def test_listing_pages(self):
        to = "13600000003"
        ids = [new_id() for _ in range(25)]
        for i in ids:
            self.send_ok({"id": i, "to": to, "text": SIG + i[:8]})
        got, since, pages = [], 0, 0
        while True:
            doc = self.listing("?to=%s&limit=7&since=%d" % (to, since))
            pages += 1
            self.assertLessEqual(len(doc["messages"]), 7)
            got += doc["messages"]
            if not doc["more"]:
                break
            since = doc["messages"][-1]["seq"]
        self.assertEqual(pages, 4)
        self.assertEqual([m["id"] for m in got], ids)
        # exactly a page's worth left: the last full page says there is no more
        doc = self.listing("?to=%s&limit=5&since=%d" % (to, got[-6]["seq"]))
        self.assertEqual(([m["id"] for m in doc["messages"]], doc["more"]), (ids[-5:], False))
        for q, field in (("?limit=0", "limit"), ("?limit=10001", "limit"),
                         ("?limit=x", "limit"), ("?since=-1", "since"), ("?to=", "to")):
            with self.subTest(q=q):
                self.assertError(self.request("GET", "/v1/sms" + q), 422, field)
        self.assertError(self.request("GET", "/v1/sms?phone=1"), 400, "phone")
        # without `to`: everyone's, at most 10000 an answer
        self.assertGreaterEqual(len(self.listing("?limit=10000")["messages"]), 25)

    # ---- durability ----------------------------------------------------------------------
    def kill_gateway(self):
        pid = self.node.pid("sms-gateway")
        self.assertIsNotNone(pid)
        pids = [pid] + proc_children(pid)
        self.assertGreaterEqual(len(pids), 3, "a master and its 2 workers")
        # the master and its workers: one process group (conf/demo starts it with setsid)
        os.killpg(pid, signal.SIGKILL)
        self.assertTrue(wait_gone(pids, 10))
        reap(pids)

    def test_kill_9_right_after_a_200_loses_nothing(self):
        for round_ in range(3):
            msg = {"id": new_id(), "to": "13500000004", "text": "%s第%d轮" % (SIG, round_)}
            self.send_ok(msg)
            self.kill_gateway()
            # nginx is still up: while the gateway is down a sender gets 502, not a 200
            st, _, _ = self.send(dict(msg, id=new_id()))
            self.assertNotEqual(st, 200)
            self.node.start()
            self.assertEqual(len(self.held(id=msg["id"])), 1, "round %d" % round_)
            self.send_ok(msg, "duplicate")
        type(self).log_offset = os.path.getsize(self.node.log_path("sms-gateway"))

    # ---- concurrency ---------------------------------------------------------------------
    def test_twenty_threads_one_id(self):
        for round_ in range(3):
            msg = {"id": new_id(), "to": "13400000005", "text": "%s同时第%d次" % (SIG, round_)}
            barrier = threading.Barrier(20)
            answers = [None] * 20

            def post(i):
                barrier.wait()
                st, _, body = self.send(msg)
                answers[i] = (st, json.loads(body))
            threads = [threading.Thread(target=post, args=(i,)) for i in range(20)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
            statuses = sorted(a[1].get("status") for a in answers)
            self.assertEqual({a[0] for a in answers}, {200}, answers)
            self.assertEqual({a[1]["id"] for a in answers}, {msg["id"]})
            self.assertEqual(statuses, ["accepted"] + ["duplicate"] * 19, answers)
            self.assertEqual(len(self.held(id=msg["id"])), 1)

    def test_twenty_threads_twenty_ids(self):
        msgs = [{"id": new_id(), "to": "13300000006", "text": SIG + str(i)} for i in range(20)]
        barrier = threading.Barrier(20)
        answers = {}

        def post(m):
            barrier.wait()
            st, _, body = self.send(m)
            answers[m["id"]] = (st, json.loads(body).get("status"))
        threads = [threading.Thread(target=post, args=(m,)) for m in msgs]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertEqual(set(answers.values()), {(200, "accepted")})
        got = self.listing("?to=13300000006")["messages"]
        self.assertEqual(sorted(m["id"] for m in got), sorted(m["id"] for m in msgs))
        self.assertEqual(len({m["seq"] for m in got}), 20)


class SmsGatewayStartTest(unittest.TestCase):
    """What the gateway refuses to start with: each said on stderr, exit 1, no socket."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="hall-sms-start-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.token = os.path.join(self.dir, "token")
        with open(self.token, "w") as f:
            f.write("A" * 24 + "\n")
        self.sock = os.path.join(self.dir, "s.sock")

    def start(self, ini_text):
        ini = os.path.join(self.dir, "sms.ini")
        with open(ini, "w") as f:
            f.write(ini_text)
        p = subprocess.run([os.path.join(ROOT, BUILD, "sms-gateway"), "-c", ini, "run"],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=10)
        return p.returncode, p.stderr

    def ini(self, **over):
        keys = {"socket": self.sock, "store": os.path.join(self.dir, "sms.db"),
                "token_file": self.token, "workers": "1"}
        keys.update(over)
        return "[gateway]\n" + "".join("%s = %s\n" % kv for kv in keys.items()
                                         if kv[1] is not None)

    def test_refusals(self):
        short = os.path.join(self.dir, "short")
        with open(short, "w") as f:
            f.write("tooshort\n")
        spaced = os.path.join(self.dir, "spaced")
        with open(spaced, "w") as f:
            f.write("a token with spaces in it\n")
        cases = [
            (self.ini() + "colour = blue\n", "unknown key"),
            ("[gateway]\nsocket = %s\n[other]\nx = 1\n" % self.sock, "unknown section"),
            (self.ini(workers="0"), "workers"),
            (self.ini(token_file=None), "token_file is required"),
            (self.ini(store=None), "store is required"),
            (self.ini(socket=None), "socket is required"),
            (self.ini(token_file=os.path.join(self.dir, "absent")), "absent"),
            (self.ini(token_file=short), "16 to 256"),
            (self.ini(token_file=spaced), "16 to 256"),
            (self.ini(store=os.path.join(self.dir, "no", "such", "sms.db")), "sms.db"),
        ]
        for text, said in cases:
            with self.subTest(said=said):
                rc, err = self.start(text)
                self.assertEqual(rc, 1, err)
                self.assertIn(said, err)
                self.assertFalse(os.path.exists(self.sock))


if __name__ == "__main__":
    unittest.main()
