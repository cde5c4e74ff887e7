"""Restarts, crashes and a lost store: data survives (SPEC 4.2 receipts are durable), case
numbers never repeat (SPEC 2), and a broken store gives 503 (SPEC 4.3). A node per test."""

import os
import signal
import time
import unittest

from harness import (COMPLAINT, CONSULT, NO_LIMITS, Form, Node, NodeTestCase, finish_node,
                     proc_children, proc_state, reap, wait_gone)


class RestartTest(NodeTestCase):
    NODE_NAME = "restart"

    @classmethod
    def setUpClass(cls):
        pass    # a node per test: they stop, kill and break it

    def setUp(self):
        self.node = Node(self.NODE_NAME)
        self.addCleanup(finish_node, self.node)
        self.node.start(NO_LIMITS)

    def assertDown(self):
        """Nothing answers on the node's port any more."""
        try:
            r = self.node.get("/api/v1/health", timeout=3)
        except OSError:
            return
        self.fail("the stopped node still answers: %r" % r)

    # ---- stop and start ---------------------------------------------------------------
    def test_stop_start_keeps_data(self):
        a = self.node.submit(subject="重启前提交的咨询")
        b = self.node.submit(COMPLAINT, path="/api/v1/complaints", subject="重启前提交的投诉")
        backlog = self.node.health()["sync"]["backlog"]
        self.assertEqual(backlog, 2)
        self.node.stop()
        self.assertDown()
        self.node.start()
        for rc, subject in ((a, "重启前提交的咨询"), (b, "重启前提交的投诉")):
            r = self.node.lookup(rc["case_no"], rc["query_code"])
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json()["subject"], subject)
            self.assertEqual(r.json()["submitted_at"], rc["submitted_at"])
            self.assertEqual(r.json()["due_at"], rc["due_at"])
        self.assertEqual(self.node.health()["sync"]["backlog"], backlog)
        c = self.node.submit()
        self.assertNotIn(c["case_no"], (a["case_no"], b["case_no"]))
        self.assertNotIn(c["id"], (a["id"], b["id"]))
        self.assertEqual(self.node.health()["sync"]["backlog"], backlog + 1)

    # ---- kill -9 right after the receipt -----------------------------------------------
    def test_kill9_after_receipt_keeps_case(self):
        master = self.node.pid("hall-write")
        self.assertIsNotNone(master)
        workers = proc_children(master)
        self.assertTrue(workers, "hall-write has no workers")
        rc = self.node.submit(subject="收到回执后立即断电")
        # at once, master first so that it cannot start new workers
        try:
            if os.getpgid(master) == master:
                os.killpg(master, signal.SIGKILL)
            else:
                os.kill(master, signal.SIGKILL)
        except ProcessLookupError:
            pass
        for pid in workers + proc_children(master):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.assertTrue(wait_gone([master] + workers), "hall-write did not die")
        # nginx still runs but nobody takes submissions now
        r = self.node.json_post("/api/v1/consultations", CONSULT)
        self.assertNotIn(r.status, (200, 201), r)
        self.node.start()    # starts hall-write again; nginx and hall-read are still up
        self.assertNotEqual(self.node.pid("hall-write"), master)
        r = self.node.lookup(rc["case_no"], rc["query_code"])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["subject"], "收到回执后立即断电")
        self.assertEqual(self.node.counts(("cases",))["cases"], 1)
        self.assertEqual(self.node.health()["sync"]["backlog"], 1)
        again = self.node.submit()
        self.assertNotEqual(again["case_no"], rc["case_no"])
        self.node.skip_log_problems()

    # ---- the store deleted and made again ----------------------------------------------
    def test_store_recreated_numbers_never_repeat(self):
        old = [self.node.submit(subject="旧库 %d" % i) for i in range(3)]
        old.append(self.node.submit(COMPLAINT, path="/api/v1/complaints"))
        self.node.stop()
        for suffix in ("", "-wal", "-shm", "-journal"):
            try:
                os.unlink(self.node.db_path + suffix)
            except FileNotFoundError:
                pass
        self.node.start()
        self.assertEqual(self.node.counts(("cases",))["cases"], 0, "the store was not new")
        self.assertEqual(self.node.health()["sync"]["backlog"], 0)
        new = [self.node.submit(subject="新库 %d" % i) for i in range(3)]
        new.append(self.node.submit(COMPLAINT, path="/api/v1/complaints"))
        nos = [r["case_no"] for r in old + new]
        ids = [r["id"] for r in old + new]
        self.assertEqual(len(set(nos)), len(nos), "a case number was issued twice: %s" % nos)
        self.assertEqual(len(set(ids)), len(ids), "an id was issued twice: %s" % ids)
        self.assertLess(max(r["case_no"] for r in old), min(r["case_no"] for r in new),
                        "new case numbers do not sort after the old ones")
        # the old cases are gone with their store; the new ones open
        self.assertEqual(self.node.lookup(old[0]["case_no"], old[0]["query_code"]).status, 404)
        self.assertEqual(self.node.lookup(new[0]["case_no"], new[0]["query_code"]).status, 200)

    # ---- the store broken under running programs ---------------------------------------
    def test_store_unavailable_503(self):
        rc = self.node.submit()
        self.assertEqual(self.node.lookup(rc["case_no"], rc["query_code"]).status, 200)
        # unreadable garbage in place of the store (root ignores chmod, so no chmod 000)
        for suffix in ("", "-wal", "-shm"):
            path = self.node.db_path + suffix
            if os.path.exists(path):
                size = os.path.getsize(path)
                with open(path, "r+b") as f:
                    f.write(os.urandom(size))
                    f.flush()
                    os.fsync(f.fileno())
        masters = [self.node.pid("hall-read"), self.node.pid("hall-write")]
        for round_ in range(2):
            t0 = time.monotonic()
            r = self.node.lookup(rc["case_no"], rc["query_code"])
            self.assertLess(time.monotonic() - t0, 10, "the lookup hung")
            self.assertJsonError(r, 503)
            t0 = time.monotonic()
            r = self.node.json_post("/api/v1/consultations", dict(CONSULT, subject="坏库 %d" % round_))
            self.assertLess(time.monotonic() - t0, 10, "the submission hung")
            self.assertJsonError(r, 503)
            t0 = time.monotonic()
            r = self.node.json_post("/api/v1/complaints", COMPLAINT)
            self.assertLess(time.monotonic() - t0, 10)
            self.assertJsonError(r, 503)
        # the progress page says so too, as a page
        form = Form(self.node, "/progress")
        r = form.post({"case_no": rc["case_no"], "code": rc["query_code"]})
        self.assertEqual(r.status, 503, r)
        self.assertTrue(r.headers.get("Content-Type", "").startswith("text/html"))
        for pid in masters:
            self.assertNotIn(proc_state(pid), (None, "Z", "X"), "a hall program died")
        reap(masters)


if __name__ == "__main__":
    unittest.main()
