"""Issue 14, SPEC 4.5 and 5: appointments, cancellations and attendance go up to the county
exactly once, under the failures the cases are tested against (test_sync.py):

- hall-agent killed -9 about 20 times at random instants while a backlog of bookings,
  cancellations, attended and no-show marks and some cases drains (and more of each arrive);
- the county losing the hall's registration for a while (its halls row names another
  account): nothing is set aside, everything arrives once the registration is back;
- the county's MariaDB killed -9 mid-drain and started again.

Each node has its own county (`conf/demo start` with COUNTY=1). The schedule is published at
the county (schedule_publish, as the console does) and brought down by the agent; bookings
and cancellations go through the hall's API, the marks through the window's form (an
appointment's day made today in the hall store first, "as if its day had come", as
test_window_appt.py does: the window marks only today's or earlier ones). At the end the
hall's appointments (by appointment_no, with their status) and its appt_events (by record
id) are compared with the county's, and every record the hall holds with the county's
ledger, byte for byte (its SHA-256).

Python 3 standard library only.
"""

import datetime
import hashlib
import json
import os
import random
import subprocess
import threading
import time
import unittest

from county import (Agent, hall_acked, hall_backlog, hall_rows, hall_scalar, sql_str,
                    submit_many, wait_until)
from harness import BUILD, ROOT, TZ, parse_forms
from test_sync import COUNTY_FAULT_INI, SyncTestCase, tap_comment
from test_window_appt import WindowClient

HALL_ADMIN = os.path.join(ROOT, BUILD, "hall-admin")
CLERK, CLERK_PW = "sync_clerk", "window-sync-pass-1"
# two items, four slots on every day of the week (weekends count on make-up workdays only),
# room enough for every booking the tests make
ITEMS = (("sync-a", "同步测试甲", "一楼 1 号窗口"), ("sync-b", "同步测试乙", "一楼 2 号窗口"))
STARTS = (("09:00", "09:30"), ("10:00", "10:30"), ("14:00", "14:30"), ("15:00", "15:30"))
CAPACITY = 40


class Hall:
    """What the test did at the hall: bookings (their receipts), cancellations and marks,
    and the cases; the expected status of every appointment follows from them."""

    def __init__(self, node, rng):
        self.node = node
        self.rng = rng
        self.booked = []            # the API's receipts
        self.status = {}            # appointment_no -> the status the test gave it
        self.cases = []
        self._places = None
        self._client = None
        self._csrf = None
        self._n = 0
        # held by a step that picks open appointments and moves them, so that the county's
        # confirmations (confirm) never take one the hall is moving
        self.lock = threading.Lock()

    # ---- bookings ------------------------------------------------------------------------
    def places(self):
        """Every free (item, date, start), as many times as it has places."""
        if self._places is None:
            self._places = []
            for item, _, _ in ITEMS:
                r = self.node.get("/api/v1/appointments/slots?item=" + item)
                assert r.status == 200, r
                for s in r.json()["slots"]:
                    self._places += [(item, s["date"], s["start"])] * s["left"]
            self.rng.shuffle(self._places)
        return self._places

    def book(self, n):
        places = self.places()
        if len(places) < n:
            raise AssertionError("only %d places left for %d bookings" % (len(places), n))
        mine = [places.pop() for _ in range(n)]
        base = self._n
        self._n += n

        def make(i):
            item, date, start = mine[i]
            k = base + i
            return "/api/v1/appointments", {"item": item, "date": date, "start": start,
                                            "name": "同步预约%d" % k,
                                            "phone": "139%08d" % k}
        got = submit_many(self.node, n, make=make)
        for r in got:
            self.status[r["appointment_no"]] = "booked"
        self.booked += got
        return got

    def open_ones(self):
        return [r for r in self.booked if self.status[r["appointment_no"]] == "booked"]

    # ---- cancellations ---------------------------------------------------------------------
    def cancel(self, receipts):
        for r in receipts:
            no = r["appointment_no"]
            resp = self.node.json_post("/api/v1/appointments/%s/cancel" % no,
                                       {"code": r["query_code"]})
            if resp.status != 200:
                raise AssertionError("cancel %s: %d %r" % (no, resp.status, resp.body[:300]))
            self.status[no] = "cancelled"

    # ---- the window's marks ----------------------------------------------------------------
    def clerk(self):
        if self._client is None:
            p = subprocess.run([HALL_ADMIN, "-c", self.node.ini_path, "staff", "add", CLERK],
                               input=(CLERK_PW + "\n").encode(), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=60)
            assert p.returncode == 0, p.stdout.decode("utf-8", "replace")
            c = WindowClient(self.node.port, "127.0.0.%d" % (60 + self.rng.randrange(100)))
            r = c.login(CLERK, CLERK_PW)
            assert r.status == 303, r.text[:500]
            page = c.get("/window/appointments")
            form = next(f for f in parse_forms(page.text) if f["action"] == "/window/logout")
            self._client, self._csrf = c, dict(form["hidden"])["csrf"]
        return self._client

    def mark(self, receipts):
        """attended or no_show, at random, through the window's form; the day of each made
        today first (in the hall store: the window marks only today's or earlier)."""
        c = self.clerk()
        today = datetime.datetime.now(TZ).date().isoformat()
        con = self.node.db()
        try:
            with con:
                con.executemany("UPDATE appointments SET date = ? WHERE appointment_no = ?",
                                [(today, r["appointment_no"]) for r in receipts])
        finally:
            con.close()
        for r in receipts:
            no = r["appointment_no"]
            status = self.rng.choice(("attended", "no_show"))
            resp = c.post("/window/appointments/mark",
                          {"csrf": self._csrf, "appointment_no": no, "status": status})
            if resp.status != 303:
                raise AssertionError("mark %s %s: %d %s" % (no, status, resp.status,
                                                            resp.text[:300]))
            self.status[no] = status

    # ---- a mixed round -------------------------------------------------------------------
    def round(self, bookings, cancels, marks, cases, label):
        """New bookings, then cancellations and marks of open ones, and cases, shuffled in
        small steps so that the outbox interleaves the kinds."""
        steps = []
        steps += [("book", 10)] * (bookings // 10)
        steps += [("cancel", 5)] * (cancels // 5)
        steps += [("mark", 5)] * (marks // 5)
        steps += [("case", 10)] * (cases // 10)
        self.rng.shuffle(steps)
        if bookings >= 10:  # something open to cancel or mark from the start
            steps.remove(("book", 10))
            steps.insert(0, ("book", 10))
        for what, n in steps:
            if what == "book":
                self.book(n)
            elif what == "case":
                self.cases += submit_many(self.node, n, label)
            else:
                with self.lock:
                    pool = self.open_ones()
                    pick = self.rng.sample(pool, min(n, len(pool)))
                    (self.cancel if what == "cancel" else self.mark)(pick)

    def confirm(self, county, n):
        """The county confirms up to n of the open appointments it holds (as the console
        does, through appointment_events); they are the hall's 'confirmed' from then on, never
        moved by the test again. How many it confirmed."""
        with self.lock:
            held = {r[0] for r in county.rows(
                "SELECT appointment_no FROM appointments WHERE status = 'booked'")}
            pick = [no for no, st in self.status.items() if st == "booked" and no in held][:n]
            if pick:
                county.sql("".join(
                    "INSERT INTO appointment_events (appointment_no, status, actor) VALUES "
                    "(%s, 'confirmed', 'test');" % sql_str(no) for no in pick) + "COMMIT;")
            for no in pick:
                self.status[no] = "confirmed"
            return len(pick)

    def counts(self):
        out = {}
        for s in self.status.values():
            out[s] = out.get(s, 0) + 1
        return out


class ApptSyncTestCase(SyncTestCase):
    """A node with its county, the schedule published there and brought down to the hall."""

    def appt_node(self, name, extra=""):
        node, county = self.node_up(name, extra)
        hall = county.hall_code
        sql = []
        for pos, (item, iname, place) in enumerate(ITEMS):
            sql.append("INSERT INTO appointment_items (hall_code, item_id, name, place, "
                       "position) VALUES (%s, %s, %s, %s, %d);"
                       % (sql_str(hall), sql_str(item), sql_str(iname), sql_str(place), pos))
            for d in range(1, 8):
                for start, end in STARTS:
                    sql.append("INSERT INTO appointment_slots (hall_code, item_id, weekday, "
                               "start, `end`, capacity) VALUES (%s, %s, %d, %s, %s, %d);"
                               % (sql_str(hall), sql_str(item), d, sql_str(start),
                                  sql_str(end), CAPACITY))
        county.sql("".join(sql) + "CALL schedule_publish(%s); COMMIT;" % sql_str(hall))
        self.assertEqual(Agent(node).once(), 0)
        wait_until(lambda: hall_scalar(node, "SELECT count(*) FROM appt_slots") > 0, 10, 0.1,
                   "the schedule at the hall")
        seed = random.randrange(1 << 30)
        tap_comment("%s: random seed %d" % (name, seed))
        return node, county, Hall(node, random.Random(seed))

    # ---- exactly once ------------------------------------------------------------------------
    def assertApptExactlyOnce(self, node, county, hall):
        """Every appointment and appt_event the hall holds is at the county exactly once, with
        the hall's status; every record of the hall is in the county's ledger once, with the
        same bytes; nothing set aside on either side; the hall's outbox fully acknowledged."""
        # the hall holds what the test did
        hall_appts = {no: (aid, st) for no, aid, st in hall_rows(
            node, "SELECT appointment_no, id, status FROM appointments")}
        self.assertEqual({no: st for no, (_, st) in hall_appts.items()}, hall.status,
                         "the hall's appointments are not what the test booked and moved")
        hall_events = {eid: (no, st) for eid, no, st in hall_rows(
            node, "SELECT id, appointment_no, status FROM appt_events "
                  "WHERE id NOT LIKE 'county-%'")}
        moved = {no: st for no, st in hall.status.items()
                 if st not in ("booked", "confirmed")}
        self.assertEqual(sorted(no for no, _ in hall_events.values()), sorted(moved),
                         "not one appt_events row per cancellation or mark")
        self.assertEqual({no: st for no, st in hall_events.values()}, moved)
        # the county's confirmations came down once each, and are acknowledged
        confirmed = sorted(no for no, st in hall.status.items() if st == "confirmed")
        self.assertEqual(sorted(r[0] for r in hall_rows(
            node, "SELECT appointment_no FROM appt_events WHERE id LIKE 'county-appt-%'")),
            confirmed)
        self.assertEqual(county.count("downlink", "kind = 'appt'"), 0,
                         "the county's decisions left unacknowledged")
        self.assertEqual({r["id"] for r in hall.cases},
                         {r[0] for r in hall_rows(node, "SELECT id FROM cases")})

        # appointments at the county: once each, the hall's ids and statuses
        n = len(hall_appts)
        self.assertEqual(county.count("appointments"), n, "county appointments")
        self.assertEqual(int(county.scalar("SELECT count(DISTINCT appointment_no) "
                                           "FROM appointments")), n)
        at_county = {no: (aid, st) for no, aid, st in county.rows(
            "SELECT appointment_no, id, status FROM appointments")}
        self.assertEqual(set(at_county) - set(hall_appts), set(),
                         "appointments at the county the hall never booked")
        self.assertEqual(set(hall_appts) - set(at_county), set(),
                         "appointments missing at the county")
        wrong = {no: (hall_appts[no][1], at_county[no][1]) for no in hall_appts
                 if hall_appts[no] != at_county[no]}
        self.assertEqual(wrong, {}, "appointments whose id or status differs (hall, county)")
        self.assertEqual(county.rows("SELECT DISTINCT hall_code FROM appointments"),
                         [(county.hall_code,)])

        # the ledger: every record of the hall once, with its bytes; events by record id
        # (the hall's retention keeps only the hash of a record the county holds once its
        # appointment has ended: a mark makes it end at once)
        outbox = {rid: (rtype, hashlib.sha256(payload.encode()).hexdigest()
                        if payload is not None else sha)
                  for rid, rtype, payload, sha in hall_rows(
                      node, "SELECT id, type, payload, hash FROM outbox")}
        self.assertEqual(county.count("records"), len(outbox), "county records ledger")
        ledger = {rid: (rtype, sha) for rid, rtype, sha in county.rows(
            "SELECT id, type, sha256 FROM records")}
        self.assertEqual(set(ledger) - set(outbox), set(), "records the hall never wrote")
        self.assertEqual(set(outbox) - set(ledger), set(), "records missing at the county")
        self.assertEqual({k for k in outbox if outbox[k] != ledger[k]}, set(),
                         "records whose type or bytes differ at the county")
        county_events = {r[0] for r in county.rows(
            "SELECT id FROM records WHERE type = 'appt_event'")}
        self.assertEqual(county_events, set(hall_events), "appt_event records")
        self.assertEqual({r[0] for r in county.rows(
            "SELECT id FROM records WHERE type = 'appointment'")},
            {aid for aid, _ in hall_appts.values()}, "appointment records")
        # cases: once each, delivered at the hall
        self.assertEqual({r[0] for r in county.rows("SELECT id FROM cases")},
                         {r["id"] for r in hall.cases})
        self.assertEqual(county.count("cases"), len(hall.cases))
        if hall.cases:
            self.assertEqual(dict(hall_rows(node, "SELECT status, count(*) FROM cases "
                                                  "GROUP BY status")),
                             {"delivered": len(hall.cases)})

        # nothing set aside, anywhere
        self.assertEqual(county.count("conflicts"), 0, "conflicts at the county")
        self.assertEqual(county.count("refusals"), 0, "refusals at the county")
        self.assertEqual(hall_rows(node, "SELECT id, result, reason FROM quarantine"), [])
        # the outbox fully acknowledged
        self.assertEqual(hall_backlog(node), 0)
        self.assertEqual(hall_acked(node), hall_scalar(node, "SELECT max(seq) FROM outbox"))
        status = Agent(node).dest_status("county")
        self.assertRegex(status, r"(?m)^\s*backlog\s+0 record", status)
        self.assertNotIn("QUARANTINED", status)
        store_id = hall_scalar(node, "SELECT value FROM meta WHERE key = 'store_id'")
        self.assertEqual(county.rows("SELECT store_id, last_seq FROM hall_streams"),
                         [(store_id, str(hall_scalar(node, "SELECT max(seq) FROM outbox")))],
                         "the county's high-water mark")

    def figures(self, what, hall):
        c = hall.counts()
        tap_comment("%s: %d appointments (%s), %d cases" % (
            what, len(hall.status), ", ".join("%s %d" % kv for kv in sorted(c.items())),
            len(hall.cases)))


# ---- kill -9 of the agent --------------------------------------------------------------------

class ApptCrashTest(ApptSyncTestCase):
    KILLS = 20

    def test_kill9_agent_20_times_while_appointments_sync(self):
        node, county, hall = self.appt_node(
            "appt-crash", "\n[agent]\nbatch_records = 10\npoll_ms = 200\nbackoff_max_s = 1\n")
        agent = self.agent(node)
        t0 = time.monotonic()
        # a backlog waits: bookings, cancellations, marks and cases, interleaved
        hall.round(bookings=300, cancels=60, marks=60, cases=100, label="预约同步崩溃")
        waiting = hall_backlog(node)
        tap_comment("appt crash: a backlog of %d records made in %.1f s"
                    % (waiting, time.monotonic() - t0))
        errors, stop = [], threading.Event()

        def writer():
            # more of each arrives for as long as the agent is being killed
            try:
                # (bounded by the schedule's places: the slots never run out here)
                while not stop.is_set() and len(hall.places()) >= 100:
                    hall.round(bookings=20, cancels=5, marks=5, cases=10, label="预约同步崩溃续")
                    time.sleep(0.05)
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(e)
        th = threading.Thread(target=writer)
        kills = random.Random(hall.rng.random())    # the writer draws from hall.rng
        agent.start()
        th.start()
        mid = confirmed = 0
        try:
            for k in range(self.KILLS):
                time.sleep(kills.uniform(0.05, 0.4))
                if k % 4 == 1:      # decisions come down while the agent is being killed
                    confirmed += hall.confirm(county, 10)
                if hall_backlog(node) > 0:
                    mid += 1
                agent.kill9()
                self.assertIsNotNone(agent.proc.returncode)
                agent.start()
        finally:
            stop.set()
            th.join(120)
        self.assertFalse(th.is_alive(), "the hall's writes did not finish")
        self.assertEqual(errors, [])
        tap_comment("appt crash: %d kill -9, %d of them with records waiting; %d records "
                    "acknowledged at the last kill" % (self.KILLS, mid, hall_acked(node)))
        self.assertGreaterEqual(mid, self.KILLS // 2, "the backlog drained before most kills")
        agent.wait_up()
        rc, _ = agent.term(15)
        self.assertEqual(rc, 0, "the agent did not stop on SIGTERM")
        agent.drain(120)
        self.assertEqual(agent.once(), 0, agent.log_tail())   # the downlink too
        self.assertGreater(confirmed, 0, "the county confirmed nothing")
        self.figures("appt crash", hall)
        self.assertApptExactlyOnce(node, county, hall)


# ---- the county loses the hall's registration ---------------------------------------------------

class ApptRegistrationOutageTest(ApptSyncTestCase):
    def test_registration_outage_sets_no_appointment_aside(self):
        node, county, hall = self.appt_node(
            "appt-registration", "[agent]\npoll_ms = 200\nbackoff_max_s = 2\n")
        agent = self.agent(node)
        agent.start()
        agent.wait_up()
        hall.round(bookings=40, cancels=0, marks=0, cases=10, label="登记之前")
        self.wait_drained(node, 30)
        first = hall.booked[:]
        user = county.scalar("SELECT db_user FROM halls WHERE hall_code = %s"
                             % sql_str(county.hall_code))
        county.sql("UPDATE halls SET db_user = 'renamed_by_mistake' WHERE hall_code = %s"
                   % sql_str(county.hall_code))
        before = hall_scalar(node, "SELECT max(seq) FROM outbox")
        # waiting meanwhile: new bookings, and cancellations and marks of ones the county
        # already holds as well as of new ones
        hall.cancel(hall.rng.sample(first, 10))
        hall.mark(hall.rng.sample([r for r in first if hall.status[r["appointment_no"]]
                                   == "booked"], 10))
        new = hall.book(40)
        hall.cancel(new[:8])
        hall.mark(new[8:16])
        hall.cases += submit_many(node, 10, "登记中断")
        during = hall_scalar(node, "SELECT count(*) FROM outbox WHERE seq > ?", (before,))
        self.assertEqual(during, 10 + 10 + 40 + 8 + 8 + 10)
        wait_until(lambda: "not a registered hall" in agent.dest_status(), 30, 0.1,
                   "the agent to show the registration error")
        time.sleep(2)   # more passes against the missing registration
        self.assertEqual(hall_rows(node, "SELECT id, reason FROM quarantine"), [],
                         agent.log_tail())
        self.assertEqual(hall_backlog(node), during)
        status = agent.dest_status()
        self.assertRegex(status, r"(?m)^\s*backlog\s+%d record" % during, status)
        self.assertEqual(county.count("refusals"), 0)
        self.assertEqual(county.count("records", "type = 'appt_event'"), 0,
                         "an event arrived without the registration")
        tap_comment("registration outage: %d records waited, none set aside" % during)
        county.sql("UPDATE halls SET db_user = %s WHERE hall_code = %s"
                   % (sql_str(user), sql_str(county.hall_code)))
        self.wait_drained(node, 60, "the backlog to drain once the registration is back")
        self.assertEqual(agent.term()[0], 0)
        self.figures("registration outage", hall)
        self.assertApptExactlyOnce(node, county, hall)

        # the check can fail: a county that lost an event's status, or an event's record
        cancelled = next(no for no, st in hall.status.items() if st == "cancelled")
        county.sql("UPDATE appointments SET status = 'booked' WHERE appointment_no = %s; "
                   "COMMIT;" % sql_str(cancelled))
        with self.assertRaises(AssertionError):
            self.assertApptExactlyOnce(node, county, hall)
        county.sql("UPDATE appointments SET status = 'cancelled' WHERE appointment_no = %s; "
                   "DELETE FROM records WHERE type = 'appt_event' LIMIT 1; COMMIT;"
                   % sql_str(cancelled))
        with self.assertRaises(AssertionError):
            self.assertApptExactlyOnce(node, county, hall)


# ---- the county killed -9 mid-drain ------------------------------------------------------------

class ApptCountyKillTest(ApptSyncTestCase):
    def test_county_killed_mid_drain_of_appointments_and_restarted(self):
        node, county, hall = self.appt_node("appt-county-kill", COUNTY_FAULT_INI)
        agent = self.agent(node)
        hall.round(bookings=400, cancels=80, marks=80, cases=50, label="县库重启预约")
        total = hall_backlog(node)
        agent.start()
        # the first batch is in; the agent is busy with the next ones: kill -9 the server
        wait_until(lambda: hall_acked(node) > 0, 30, 0.002, "the first batch")
        county.kill9()
        at_kill_left = hall_backlog(node)
        tap_comment("appt county kill: county killed with %d of %d records still waiting"
                    % (at_kill_left, total))
        self.assertGreater(at_kill_left, 0, "the backlog drained before the kill")
        time.sleep(1.0)
        self.assertTrue(agent.running(), "the agent died with the county")
        self.assertGreater(hall_backlog(node), 0)
        county.start()
        self.wait_drained(node, 60)
        self.assertTrue(agent.running())
        rc, _ = agent.term(15)
        self.assertEqual(rc, 0)
        self.figures("appt county kill", hall)
        self.assertApptExactlyOnce(node, county, hall)


if __name__ == "__main__":
    unittest.main()
