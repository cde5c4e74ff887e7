"""Backup and restore of a hall store (issue 12, SPEC 8): `hall-admin backup DEST` copies the
live store while hall-write takes cases (SQLite's online backup API), and
`hall-admin restore BACKUP` puts an older copy back with the programs stopped, after which
hall-agent gets from the county the hall's open cases the backup lacks (their receipts'
query codes work again, checked against the MAC the county kept), the county's events since
the backup, and a numbering past every number the county has seen. Nothing is issued twice,
nothing doubles at the county. The failure paths: a missing folder, a full disk, a restore
while the programs run, a damaged backup. A real demo node with its county MariaDB; the
agent run once by the test."""

import os
import resource
import signal
import sqlite3
import subprocess
import threading
import time
import unittest

from county import Agent, County, hall_scalar
from harness import BUILD, CONSULT, NO_LIMITS, ROOT, Node, finish_node

HALL_ADMIN = os.path.join(ROOT, BUILD, "hall-admin")
CASENO_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTVWXY"


def case_seq(case_no):
    """The sequence inside a case number (12-digit hall code, 10 base-31 symbols, check)."""
    n = 0
    for c in case_no[12:22]:
        n = n * 31 + CASENO_ALPHABET.index(c)
    return n


def hall_admin(node, *args, preexec=None):
    p = subprocess.run([HALL_ADMIN, "-c", node.ini_path] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=120, preexec_fn=preexec)
    return p.returncode, p.stdout.decode("utf-8", "replace")


def submit(node, subject):
    """The receipt, with the subject it was given (for the lookups that follow)."""
    return dict(node.submit(subject=subject), subject=subject)


def sqlite_rows(path, sql, args=()):
    con = sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=10)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


class BackupTest(unittest.TestCase):
    """hall-admin backup against a running node (no county needed)."""

    @classmethod
    def setUpClass(cls):
        cls.node = Node("backup")
        cls.node.start(NO_LIMITS)
        cls.dest_dir = os.path.join(cls.node.var, "backups")
        os.mkdir(cls.dest_dir)

    @classmethod
    def tearDownClass(cls):
        finish_node(cls.node)

    def test_backup_while_writing(self):
        """A backup taken while hall-write takes cases from four threads: the copy passes
        integrity_check and holds every case acknowledged before the backup began; no
        submission failed meanwhile; 0600; no temporary file left."""
        # enough cases for a copy of many steps
        for i in range(150):
            self.node.submit(subject="备份前的咨询 %d" % i, body="内容" * 200)
        acked, failures, stop = [], [], threading.Event()
        lock = threading.Lock()

        def writer(k):
            i = 0
            while not stop.is_set():
                r = self.node.json_post("/api/v1/consultations",
                                        dict(CONSULT, subject="备份时的咨询 %d-%d" % (k, i)))
                i += 1
                with lock:
                    if r.status == 201:
                        acked.append((time.monotonic(), r.json()["case_no"]))
                    else:
                        failures.append(r.status)

        threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        try:
            time.sleep(1.0)
            with lock:
                before = [c for _, c in acked]
            dest = os.path.join(self.dest_dir, "live.db")
            t0 = time.monotonic()
            rc, out = hall_admin(self.node, "backup", dest)
            t1 = time.monotonic()
            time.sleep(0.5)
        finally:
            stop.set()
            for t in threads:
                t.join(30)
        self.assertEqual(rc, 0, out)
        self.assertEqual(failures, [], "submissions failed during the backup")
        during = [c for t, c in acked if t0 <= t <= t1]
        tap = "backup took %.2f s; %d case(s) acknowledged during it" % (t1 - t0, len(during))
        print("# " + tap, flush=True)
        self.assertGreater(len(before), 0)
        self.assertEqual(sqlite_rows(dest, "PRAGMA integrity_check"), [("ok",)])
        held = {r[0] for r in sqlite_rows(dest, "SELECT case_no FROM cases")}
        self.assertEqual([c for c in before if c not in held], [],
                         "cases acknowledged before the backup are missing from it")
        # every outbox record and event of a case held came along (one snapshot)
        self.assertEqual(sqlite_rows(dest, "SELECT count(*) FROM cases c WHERE NOT EXISTS "
                                           "(SELECT 1 FROM outbox o WHERE o.id = c.id)"), [(0,)])
        self.assertEqual(os.stat(dest).st_mode & 0o777, 0o600)
        self.assertFalse(os.path.exists(dest + ".tmp"))
        self.assertEqual(sorted(os.listdir(self.dest_dir)), ["live.db"])

    def test_backup_folder_missing(self):
        dest = os.path.join(self.node.var, "no-such-folder", "x.db")
        rc, out = hall_admin(self.node, "backup", dest)
        self.assertEqual(rc, 1, out)
        self.assertIn("does not exist", out)
        self.assertIn("no backup was made", out)
        self.assertFalse(os.path.exists(os.path.dirname(dest)))

    def test_backup_disk_full(self):
        """A file size limit stands in for a full disk: the write fails, the error says so,
        and neither DEST nor DEST.tmp is left."""
        for i in range(40):
            self.node.submit(subject="磁盘满 %d" % i, body="内容" * 300)
        dest = os.path.join(self.dest_dir, "full.db")

        def small_disk():
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))

        rc, out = hall_admin(self.node, "backup", dest, preexec=small_disk)
        self.assertEqual(rc, 1, out)
        self.assertRegex(out, r"cannot write .*full\.db\.tmp|disk holding .* is full")
        self.assertFalse(os.path.exists(dest))
        self.assertFalse([f for f in os.listdir(self.dest_dir) if f.startswith("full.db")])

    def test_backup_of_no_store(self):
        """A config whose store does not exist: refused, and no store is created."""
        ini = os.path.join(self.node.var, "nostore.ini")
        with open(self.node.ini_path) as f:
            text = f.read()
        missing = os.path.join(self.node.var, "nowhere.db")
        with open(ini, "w") as f:
            f.write(text.replace(self.node.db_path, missing))
        p = subprocess.run([HALL_ADMIN, "-c", ini, "backup",
                            os.path.join(self.dest_dir, "none.db")],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
        self.assertEqual(p.returncode, 1, p.stdout)
        self.assertFalse(os.path.exists(missing))
        self.assertFalse(os.path.exists(os.path.join(self.dest_dir, "none.db")))


class RestoreTest(unittest.TestCase):
    """hall-admin restore with the county: a node of its own, the agent run by the test."""

    @classmethod
    def setUpClass(cls):
        cls.node = Node("restore", county=True, agent=False)
        cls.node.start(NO_LIMITS)
        cls.county = County(cls.node)
        cls.agent = Agent(cls.node)
        cls.dir = os.path.join(cls.node.var, "backups")
        os.mkdir(cls.dir)

    @classmethod
    def tearDownClass(cls):
        finish_node(cls.node)

    def setUp(self):
        if self.node.pid("hall-write") is None:
            self.node.start()

    def backup(self, name):
        dest = os.path.join(self.dir, name)
        rc, out = hall_admin(self.node, "backup", dest)
        self.assertEqual(rc, 0, out)
        return dest

    def restore(self, dest):
        """The node stopped, dest restored and the node started again; an earlier test's
        hall.db.before-restore moved away first, and this one's after the test."""
        node = self.node
        before = node.db_path + ".before-restore"
        node.stop()
        if os.path.exists(before):
            os.unlink(before)
        self.addCleanup(lambda: os.path.exists(before) and os.unlink(before))
        try:
            rc, out = hall_admin(node, "restore", dest)
            self.assertEqual(rc, 0, out)
        finally:
            node.start()

    def assertStoreUnchanged(self, counts):
        self.assertEqual(self.node.counts(), counts)
        self.assertFalse(os.path.exists(self.node.db_path + ".before-restore"))

    def test_restore_refused_while_running(self):
        dest = self.backup("running.db")
        self.node.submit(subject="恢复被拒前")
        counts = self.node.counts()
        rc, out = hall_admin(self.node, "restore", dest)
        self.assertEqual(rc, 1, out)
        self.assertIn("stop them first", out)
        self.assertStoreUnchanged(counts)

    def test_restore_refuses_damaged_backup(self):
        dest = self.backup("damaged.db")
        size = os.path.getsize(dest)
        self.assertGreater(size, 8192)
        with open(dest, "r+b") as f:    # a page in the middle overwritten
            f.seek(size // 2 // 4096 * 4096)
            f.write(b"\xa5" * 4096)
        notdb = os.path.join(self.dir, "notdb.db")
        with open(notdb, "wb") as f:
            f.write(b"this is not a database\n" * 100)
        counts = self.node.counts()
        self.node.stop()
        try:
            for bad in (dest, notdb, os.path.join(self.dir, "absent.db")):
                rc, out = hall_admin(self.node, "restore", bad)
                self.assertEqual(rc, 1, out)
                self.assertIn("nothing was restored", out)
                self.assertStoreUnchanged(counts)
            self.assertFalse([f for f in os.listdir(os.path.dirname(self.node.db_path))
                              if "restore.tmp" in f])
        finally:
            self.node.start()

    def test_restore_then_county_sends_back(self):
        node, county, agent = self.node, self.county, self.agent
        hall = county.hall_code
        # before the backup: A delivered (one answered), D not yet delivered
        a = [submit(node, "备份前已送达 %d" % i) for i in range(3)]
        agent.drain()
        county.answer(a[0]["case_no"], note="备份前的答复")
        self.assertEqual(agent.once(), 0, agent.log_tail())
        d = [submit(node, "备份前未送达 %d" % i) for i in range(2)]
        dest = self.backup("older.db")
        # after the backup: C made and delivered, answers at the county
        c = [submit(node, "备份后提交 %d" % i) for i in range(3)]
        agent.drain()
        county.answer(c[0]["case_no"], note="备份后的答复")
        county.answer(a[1]["case_no"], note="备份后对旧办件的答复")
        self.assertEqual(agent.once(), 0, agent.log_tail())
        self.assertEqual(node.lookup(c[0]["case_no"], c[0]["query_code"]).json()["status"],
                         "answered")
        issued = a + d + c
        last_issued = max(case_seq(r["case_no"]) for r in issued)
        where = "hall_code = '%s'" % hall
        at_county = {t: county.count(t, where) for t in ("cases", "records")}
        events_county = int(county.scalar("SELECT count(*) FROM case_events e JOIN cases c "
                                          "USING (case_no) WHERE c.hall_code = '%s'" % hall))
        # the county kept each case's MAC (128 bits, sql/county/030), never the code
        self.assertEqual(county.count("case_query_macs", where), at_county["cases"])
        self.assertEqual(county.count("case_query_macs", "query_mac REGEXP '^[0-9a-f]{32}$'"),
                         county.count("case_query_macs"))

        streams = county.count("hall_streams", "hall_code = '%s'" % hall)
        node.stop()
        rc, out = hall_admin(node, "restore", dest)
        self.assertEqual(rc, 0, out)
        self.assertTrue(os.path.exists(node.db_path + ".before-restore"))
        self.assertEqual(os.stat(node.db_path).st_mode & 0o777,
                         os.stat(node.db_path + ".before-restore").st_mode & 0o777)
        node.start()

        # before the agent: the backup's cases only
        for r in a + d:
            self.assertEqual(node.lookup(r["case_no"], r["query_code"]).status, 200)
        for r in c:
            self.assertEqual(node.lookup(r["case_no"], r["query_code"]).status, 404)
        # the numbering already goes past everything the replaced store issued
        fresh = node.submit(subject="恢复后、代理运行前提交")
        self.assertGreater(case_seq(fresh["case_no"]), last_issued)

        self.assertEqual(agent.once(), 0, agent.log_tail())
        self.assertIn("the county sent back 3 case(s)", agent.log())
        self.assertEqual(agent.once(), 0, agent.log_tail())    # the events, by the downlink
        for r in c:
            got = node.lookup(r["case_no"], r["query_code"])
            self.assertEqual(got.status, 200, got)
            self.assertEqual(got.json()["subject"], r["subject"])
            self.assertEqual(got.json()["submitted_at"], r["submitted_at"])
            self.assertEqual(got.json()["due_at"], r["due_at"])
            wrong = "%06d" % ((int(r["query_code"]) + 1) % 1000000)
            self.assertEqual(node.lookup(r["case_no"], wrong).status, 404)
        self.assertEqual(node.lookup(c[0]["case_no"], c[0]["query_code"]).json()["status"],
                         "answered")
        self.assertEqual(node.lookup(a[1]["case_no"], a[1]["query_code"]).json()["status"],
                         "answered", "the county's answer given after the backup is lost")
        # the restored cases keep no name, e-mail or full phone
        phone = hall_scalar(node, "SELECT phone FROM cases WHERE case_no = ?", (c[1]["case_no"],))
        self.assertIn("****", phone)

        # new numbers: never issued before, past the county's highest
        new = [submit(node, "恢复后提交 %d" % i) for i in range(3)]
        everything = {r["case_no"] for r in issued + [fresh]}
        for r in new:
            self.assertNotIn(r["case_no"], everything)
            self.assertGreater(case_seq(r["case_no"]), last_issued)
        agent.drain()
        self.assertEqual(county.count("cases", where), at_county["cases"] + 4)
        self.assertEqual(county.count("records", where), at_county["records"] + 4)
        # the county's events (its answers) neither doubled nor lost
        self.assertEqual(int(county.scalar(
            "SELECT count(*) FROM case_events e JOIN cases c USING (case_no) "
            "WHERE c.hall_code = '%s'" % hall)), events_county)
        self.assertEqual(county.rows("SELECT case_no FROM cases WHERE %s GROUP BY case_no "
                                     "HAVING count(*) > 1" % where), [])
        # D went again from the restored outbox: duplicates, acknowledged, not set aside
        self.assertEqual(agent.backlog(), 0)
        self.assertEqual(hall_scalar(node, "SELECT count(*) FROM quarantine"), 0)
        self.assertEqual(county.count("conflicts", where), 0)
        # a new store_id: the county keeps a mark per store
        self.assertEqual(county.count("hall_streams", where), streams + 1)
        self.assertEqual(hall_scalar(node, "SELECT count(*) FROM meta WHERE key IN "
                                           "('restore_pending', 'seq_hold')"), 0)

    def test_restore_with_a_lagging_downlink_brings_back_what_the_lag_closed(self):
        """The hall's downlink was days behind when the backup was made: a case the county
        resolved in those days is open in the backup. After the restore the county's
        resolution must come back, though it is older than the backup's last number."""
        node, county, agent = self.node, self.county, self.agent
        x = submit(node, "下行滞后期间办结")
        agent.drain()
        # submitted four days ago, resolved at the county three days ago, and the agent not
        # run since: the hall never heard of the resolution before its backup
        con = sqlite3.connect(node.db_path, timeout=10)
        with con:
            con.execute("UPDATE cases SET submitted_at = submitted_at - 4 * 86400 "
                        "WHERE case_no = ?", (x["case_no"],))
            con.execute("UPDATE case_events SET at = at - 4 * 86400 WHERE case_no = ?",
                        (x["case_no"],))
        con.close()
        county.answer(x["case_no"], "resolved", "滞后期间的办结答复")
        county.sql("UPDATE case_events SET at = NOW() - INTERVAL 3 DAY WHERE case_no = '%s'"
                   % x["case_no"])
        dest = self.backup("lagging.db")
        self.assertEqual(agent.once(), 0, agent.log_tail())
        self.assertEqual(node.lookup(x["case_no"], x["query_code"]).json()["status"],
                         "resolved")
        self.restore(dest)
        self.assertEqual(agent.once(), 0, agent.log_tail())
        self.assertEqual(agent.once(), 0, agent.log_tail())   # the events, by the downlink
        got = node.lookup(x["case_no"], x["query_code"]).json()
        self.assertEqual(got["status"], "resolved", got)
        self.assertEqual((got["reply"] or {}).get("text"), "滞后期间的办结答复", got)

    def test_a_backup_before_the_first_case_then_a_case_closed_after_it(self):
        """The hall's first backup, made before its first case (the first of the class's
        tests, on a fresh store); then a case submitted and resolved at the county before
        the restore: in neither the backup nor the county's open cases. The citizen's
        receipt must open it again at the hall, resolved, with the county's reply: the
        backup holds the key of the code's MAC, and the county sends the case back."""
        node, county, agent = self.node, self.county, self.agent
        self.assertEqual(hall_scalar(node, "SELECT count(*) FROM cases"), 0,
                         "not the store's first case: run this test first")
        dest = self.backup("before-closed.db")
        self.assertEqual(len(sqlite_rows(dest, "SELECT value FROM meta "
                                               "WHERE key = 'query_key'")[0][0]), 64)
        x = submit(node, "备份后提交并办结")
        agent.drain()
        county.answer(x["case_no"], "resolved", "备份后办结的答复")
        self.assertEqual(agent.once(), 0, agent.log_tail())
        self.assertEqual(node.lookup(x["case_no"], x["query_code"]).json()["status"],
                         "resolved")
        self.restore(dest)
        self.assertEqual(node.lookup(x["case_no"], x["query_code"]).status, 404)
        self.assertEqual(agent.once(), 0, agent.log_tail())
        self.assertEqual(agent.once(), 0, agent.log_tail())   # the events, by the downlink
        got = node.lookup(x["case_no"], x["query_code"])
        self.assertEqual(got.status, 200, got)
        self.assertEqual(got.json()["status"], "resolved", got.json())
        self.assertEqual((got.json()["reply"] or {}).get("text"), "备份后办结的答复")
        self.assertEqual(got.json()["subject"], x["subject"])

    def test_restore_unreadable_store_holds_numbers(self):
        """The replaced store cannot be read: its last number is unknown, so the restored
        store issues none (503) until the agent has had the county's."""
        node, agent = self.node, self.agent
        node.submit(subject="损坏前")
        agent.drain()
        dest = self.backup("hold.db")
        after = node.submit(subject="备份后、损坏前")
        agent.drain()
        node.stop()
        for suffix in ("", "-wal", "-shm"):
            p = node.db_path + suffix
            if os.path.exists(p):
                with open(p, "r+b") as f:
                    f.write(b"\0" * 200)
        before = node.db_path + ".before-restore"
        for p in (before, before + "-wal", before + "-shm"):
            if os.path.exists(p):
                os.unlink(p)
        rc, out = hall_admin(node, "restore", dest)
        self.assertEqual(rc, 0, out)
        self.assertIn("numbers are held", out)
        node.start()
        r = node.json_post("/api/v1/consultations", dict(CONSULT, subject="号码暂停时"))
        self.assertEqual(r.status, 503, r)
        self.assertEqual(agent.once(), 0, agent.log_tail())
        got = node.submit(subject="县里答复后")
        self.assertGreater(case_seq(got["case_no"]), case_seq(after["case_no"]))
        self.assertEqual(node.lookup(after["case_no"], after["query_code"]).status, 200)


if __name__ == "__main__":
    unittest.main()
