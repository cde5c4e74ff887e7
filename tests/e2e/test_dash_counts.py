"""Issue 15, the dashboard's figures at a county's size (sql/county/025): the notices and the
follow-ups (with their stat_county/stat_hall) are counted from index ranges, the
appointments per day and hall (appt_day_stats: folded totals plus one delta row a change)
stay equal to a count of their rows after inserts, state changes, transfers, deletes, the
purge and folds; running the migration again recomputes them; the dashboard shows them; and
no write waits on another's counter row (HotRowTest). A real county MariaDB and staff
console."""

import os
import re
import subprocess
import time
import unittest

from county import County, SqlError, sql_str
from harness import BUILD, NO_LIMITS, ROOT, Node
from test_fleet import parse_prometheus
from test_staff import Client


class DashCountsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.node = Node("dashcounts", county=True, agent=False, staff=True)
        cls.node.start(NO_LIMITS)
        cls.county = County(cls.node)
        cls.hall = cls.county.hall_code
        cls.cty = cls.hall[:6]
        cls.hall_b = cls.cty + "902000"
        cls.county.sql("INSERT IGNORE INTO halls (hall_code, name, county_code, db_user) "
                       "VALUES (%s, '乙大厅', %s, 'b_dash')" % (sql_str(cls.hall_b),
                                                              sql_str(cls.cty)))
        env = cls.node.run_env()
        cls.user, cls.password = env["STAFF_USER"], env["STAFF_PASSWORD"]
        cls.seq = 0

    @classmethod
    def tearDownClass(cls):
        cls.node.stop()
        cls.node.cleanup()

    # ---- helpers ---------------------------------------------------------------------
    def case(self, hall=None, phone="13800000000", status="accepted"):
        type(self).seq += 1
        no = "DC%s%05d" % (self.cty, self.seq)
        self.county.sql(
            "INSERT INTO cases (case_no, id, hall_code, kind, subject, body, phone, channel, "
            "submitted_at, due_at, status) VALUES (%s, %s, %s, 'consultation', '咨询', '内容', %s, "
            "'online', NOW(), NOW() + INTERVAL 3 DAY, %s)"
            % (sql_str(no), sql_str("dc-" + no), sql_str(hall or self.hall), sql_str(phone),
               sql_str(status)))
        return no

    def q(self, sql):
        return self.county.rows(sql)

    def notice(self, state):
        v = self.q("SELECT COUNT(*) FROM notifications WHERE hall_code LIKE %s AND channel = 'sms' "
                   "AND state = %s" % (sql_str(self.cty + "%"), sql_str(state)))
        return int(v[0][0])

    def closed(self, hall):
        v = self.q("SELECT COUNT(*) FROM rating_followups WHERE stat_county = %s AND stat_hall = %s "
                   "AND closed_at IS NOT NULL" % (sql_str(self.cty), sql_str(hall)))
        return int(v[0][0])

    def closed_in_period(self, hall=None):
        """The 差评 follow-ups closed in the dashboard's default period (the 12 months up to
        this one), of the county or of one hall."""
        return int(self.q("SELECT COUNT(*) FROM rating_followups WHERE stat_county = %s AND "
                          "closed_at >= DATE_FORMAT(NOW() - INTERVAL 11 MONTH, '%%Y-%%m-01')%s"
                          % (sql_str(self.cty), "" if hall is None else
                             " AND stat_hall = %s" % sql_str(hall)))[0][0])

    def assert_counters_true(self):
        """The appointments per day equal a count of their rows (days summing to 0 left
        out); each follow-up counts under its case's county and hall."""
        self.assertEqual(self.q("SHOW TABLES LIKE 'notice_counts'"), [])
        self.assertEqual(self.q("SHOW TABLES LIKE 'followup_counts'"), [])
        self.assertEqual(
            self.q("SELECT f.case_no FROM rating_followups f JOIN cases c "
                   "ON c.case_no = f.case_no WHERE NOT (f.stat_county <=> c.handler_county AND "
                   "f.stat_hall <=> COALESCE(c.handler_hall, c.handler_county))"), [])
        self.assertEqual(
            self.q("SELECT county_code, date, hall_code, SUM(total), SUM(booked), SUM(confirmed), "
                   "SUM(refused), SUM(cancelled), SUM(attended), SUM(no_show) FROM appt_day_stats "
                   "GROUP BY 1, 2, 3 HAVING SUM(total) <> 0 ORDER BY 1, 2, 3"),
            self.q("SELECT LEFT(hall_code, 6), date, hall_code, COUNT(*), SUM(status = 'booked'), "
                   "SUM(status = 'confirmed'), SUM(status = 'refused'), SUM(status = 'cancelled'), "
                   "SUM(status = 'attended'), SUM(status = 'no_show') FROM appointments "
                   "GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"))
        self.assertEqual(self.q("SELECT COUNT(*) FROM appt_day_folded WHERE total < 0 OR "
                                "booked < 0 OR refused < 0 OR no_show < 0"), [("0",)])

    def fold(self, limit=10000):
        return int(self.q("CALL appt_day_fold(%d)" % limit)[-1][0])

    def dashboard(self):
        c = Client(self.node.staff_port)
        self.assertEqual(c.login(self.user, self.password).status, 303)
        r = c.get("/dashboard")
        self.assertEqual(r.status, 200)
        return r.text

    # ---- notices ---------------------------------------------------------------------
    def test_notice_counts_follow_inserts_states_and_deletes(self):
        pending, sent, failed = self.notice("pending"), self.notice("sent"), self.notice("failed")
        a, b = self.case(), self.case()
        self.case(phone="0731-1234567")     # a landline: no SMS, nothing counted
        self.assertEqual(self.notice("pending"), pending + 2)
        self.county.sql("UPDATE notifications SET state = 'sent', sent_at = NOW(6) "
                        "WHERE case_no = %s" % sql_str(a))
        self.county.sql("UPDATE notifications SET state = 'failed' WHERE case_no = %s"
                        % sql_str(b))
        self.assertEqual((self.notice("pending"), self.notice("sent"), self.notice("failed")),
                         (pending, sent + 1, failed + 1))
        # a retry of the same state changes nothing
        self.county.sql("UPDATE notifications SET attempts = attempts + 1 WHERE case_no = %s"
                        % sql_str(b))
        self.assertEqual(self.notice("failed"), failed + 1)
        page = self.dashboard()
        self.assertRegex(page, r'data-channel="sms">.*?data-pending="%d"' % self.notice("pending"))
        self.assertRegex(page, r'data-channel="sms">.*?data-failed="%d"' % self.notice("failed"))
        sent_day = int(self.q("SELECT COUNT(*) FROM notifications WHERE hall_code LIKE %s AND "
                              "channel = 'sms' AND state = 'sent' AND sent_at >= NOW() - "
                              "INTERVAL 1 DAY" % sql_str(self.cty + "%"))[0][0])
        self.assertGreaterEqual(sent_day, 1)
        self.assertRegex(page, r'data-channel="sms">.*?data-sent="%d"' % sent_day)
        # /metrics takes the same counters
        m = parse_prometheus(Client(self.node.staff_port).get("/metrics").text)
        labels = frozenset(dict(county=self.cty, channel="sms").items())
        self.assertEqual(m[("county_notifications_failed", labels)], self.notice("failed"))
        self.assertEqual(m.get(("county_notifications_pending", labels), 0),
                         self.notice("pending"))
        self.county.sql("DELETE FROM notifications WHERE case_no IN (%s, %s)"
                        % (sql_str(a), sql_str(b)))
        self.assertEqual((self.notice("sent"), self.notice("failed")), (sent, failed))
        self.assert_counters_true()

    def test_notice_counts_stop_at_the_cap(self):
        # a long outage: 10,001 e-mails given up; the page and /metrics read 10,000 of them
        self.county.sql("INSERT INTO notifications (id, case_no, hall_code, event, channel, "
                        "to_addr, ref, state) SELECT UUID(), 'CAP', %s, 'accepted', 'email', "
                        "'a@example.org', CONCAT('cap:', seq), 'failed' FROM seq_1_to_10001"
                        % sql_str(self.hall_b))
        try:
            page = self.dashboard()
            self.assertRegex(page, r'data-channel="email">.*?data-failed="10000">10000\+<')
            m = parse_prometheus(Client(self.node.staff_port).get("/metrics").text)
            labels = frozenset(dict(county=self.cty, channel="email").items())
            self.assertEqual(m[("county_notifications_failed", labels)], 10000)
        finally:
            self.county.sql("DELETE FROM notifications WHERE case_no = 'CAP'")

    def test_dashboard_channels_from_the_summaries(self):
        self.case()
        page = self.dashboard()
        sect = page[page.index('id="channels"'):]
        for ch in ("online", "window", "phone", "letter", "email"):
            want = self.q("SELECT COUNT(*) FROM cases WHERE handler_county = %s AND channel = %s"
                          % (sql_str(self.cty), sql_str(ch)))[0][0]
            self.assertRegex(sect, r'<tr data-channel="%s"><td>[^<]*</td><td class="num">%s<'
                             % (ch, want))
        self.assertNotRegex(sect, r'data-channel="online"><td>[^<]*</td><td class="num">0<')

    # ---- follow-ups ------------------------------------------------------------------
    def rate(self, no, hall, level=1):
        self.county.sql("INSERT INTO ratings (id, case_no, hall_code, level, at) VALUES "
                        "(%s, %s, %s, %d, NOW())" % (sql_str("r-" + no), sql_str(no),
                                                     sql_str(hall), level))

    def test_followups_count_where_their_case_is_handled(self):
        no = self.case()
        handler = self.q("SELECT handler_county, COALESCE(handler_hall, handler_county) "
                         "FROM cases WHERE case_no = %s" % sql_str(no))[0]
        self.rate(no, self.hall)
        self.assertEqual(self.q("SELECT stat_county, stat_hall FROM rating_followups "
                                "WHERE case_no = %s" % sql_str(no)), [handler])
        before_a, before_b = self.closed(handler[1]), self.closed(self.hall_b)
        # open: not among the closed
        self.assertEqual(self.closed(handler[1]), before_a)
        self.county.sql("UPDATE rating_followups SET closed_at = NOW(), closed_by = 'x', "
                        "rectification = '已整改' WHERE case_no = %s" % sql_str(no))
        self.assertEqual(self.closed(handler[1]), before_a + 1)
        # a transfer to hall B moves it
        self.county.sql("UPDATE cases SET handler_hall = %s WHERE case_no = %s"
                        % (sql_str(self.hall_b), sql_str(no)))
        self.assertEqual((self.closed(handler[1]), self.closed(self.hall_b)),
                         (before_a, before_b + 1))
        self.assert_counters_true()
        self.assertIn('id="followups-closed">%d<' % self.closed_in_period(), self.dashboard())
        # deleted (as county_purge does): gone from the count
        self.county.sql("DELETE FROM rating_followups WHERE case_no = %s" % sql_str(no))
        self.assertEqual(self.closed(self.hall_b), before_b)
        self.assert_counters_true()

    def test_rating_before_its_case_then_the_case_arrives(self):
        DashCountsTest.seq += 1
        no = "DC%s%05d" % (self.cty, self.seq)
        self.rate(no, self.hall_b, level=2)
        self.assertEqual(self.q("SELECT stat_county, stat_hall FROM rating_followups "
                                "WHERE case_no = %s" % sql_str(no)), [(self.cty, self.hall_b)])
        DashCountsTest.seq -= 1
        self.assertEqual(self.case(hall=self.hall), no)
        self.assert_counters_true()

    def test_dashboard_followups_per_hall(self):
        no = self.case(hall=self.hall_b)
        self.rate(no, self.hall_b)
        self.county.sql("UPDATE rating_followups SET due_at = NOW() - INTERVAL 1 DAY "
                        "WHERE case_no = %s" % sql_str(no))
        want_open = int(self.q("SELECT COUNT(*) FROM rating_followups WHERE stat_county = %s "
                               "AND closed_at IS NULL" % sql_str(self.cty))[0][0])
        want_late = int(self.q("SELECT COUNT(*) FROM rating_followups WHERE stat_county = %s "
                               "AND closed_at IS NULL AND due_at < NOW()" % sql_str(self.cty))[0][0])
        page = self.dashboard()
        self.assertIn('id="followups-open">%d<' % want_open, page)
        self.assertIn('id="followups-late">%d<' % want_late, page)
        self.assertGreaterEqual(want_late, 1)
        # closed: those of the period only (the default: the 12 months up to now), a range
        # of the index however many were closed in the years before
        old, new = self.case(hall=self.hall_b), self.case(hall=self.hall_b)
        self.rate(old, self.hall_b)
        self.rate(new, self.hall_b)
        self.county.sql("UPDATE rating_followups SET closed_at = NOW() - INTERVAL 2 YEAR, "
                        "closed_by = 'x' WHERE case_no = %s; UPDATE rating_followups SET "
                        "closed_at = NOW(), closed_by = 'x' WHERE case_no = %s"
                        % (sql_str(old), sql_str(new)))
        want_closed = self.closed_in_period()
        self.assertGreaterEqual(want_closed, 1)
        self.assertEqual(self.closed(self.hall_b) - self.closed_in_period(self.hall_b), 1)
        self.assertIn('id="followups-closed">%d<' % want_closed, self.dashboard())

    # ---- appointments ----------------------------------------------------------------
    def appt(self, no, hall, date, status="booked", booked="NOW()"):
        self.county.sql(
            "INSERT INTO appointments (appointment_no, id, hall_code, item, date, start, `end`, "
            "phone, status, booked_at, status_at) VALUES (%s, %s, %s, 'x', %s, '09:00', "
            "'09:30', '13800000000', %s, %s, %s)" % (sql_str(no), sql_str("a-" + no),
                                                     sql_str(hall), date, sql_str(status),
                                                     booked, booked))

    def test_appointment_counts_and_problem_halls(self):
        for i, st in enumerate(("booked", "confirmed", "no_show", "refused", "refused")):
            self.appt("DCA%d" % i, self.hall_b, "CURDATE() - INTERVAL 1 DAY", st)
        self.appt("DCA9", self.hall, "CURDATE() + INTERVAL 2 DAY")
        self.assert_counters_true()
        self.county.sql("UPDATE appointments SET status = 'attended' WHERE appointment_no = 'DCA0'")
        self.county.sql("UPDATE appointments SET date = CURDATE() + INTERVAL 3 DAY "
                        "WHERE appointment_no = 'DCA9'")
        self.assert_counters_true()
        page = self.dashboard()
        sect = page[page.index('id="appointment-figures"'):]
        sect = sect[:sect.index("</table>")]
        # the county's totals, then the problem halls only, most no-shows and refusals
        # first: B (3), not the hall with none
        self.assertRegex(sect, r'data-total="1">.*?data-booked="6".*?data-no-show="1".*?'
                         r'data-refused="2"')
        self.assertRegex(sect, r'<tr data-hall="%s">.*?data-no-show="1".*?data-refused="2"'
                         % self.hall_b)
        self.assertNotIn('data-hall="%s"' % self.hall, sect)
        self.county.sql("DELETE FROM appointments WHERE appointment_no = 'DCA1'")
        self.assert_counters_true()

    def test_purge_takes_appointments_out_of_the_counts(self):
        self.appt("DCP1", self.hall, "CURDATE() - INTERVAL 3 DAY", "attended",
                  "NOW() - INTERVAL 5 DAY")
        self.assert_counters_true()
        p = subprocess.run([os.path.join(ROOT, BUILD, "county-admin"), "-c",
                            os.path.join(self.node.var, "county", "county.ini"), "purge", "1"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
        out = p.stdout.decode("utf-8", "replace")
        self.assertEqual(p.returncode, 0, out)
        self.assertIn("appointment change(s) folded into the day totals", out)
        self.assertEqual(self.q("SELECT COUNT(*) FROM appointments WHERE appointment_no = 'DCP1'"),
                         [("0",)])
        # the purge folded every change: the totals are the folded rows alone
        self.assertEqual(self.q("SELECT COUNT(*) FROM appt_day_deltas"), [("0",)])
        self.assert_counters_true()

    def test_folds_keep_the_counts(self):
        for i, st in enumerate(("booked", "confirmed", "attended", "no_show")):
            self.appt("DCF%d" % i, self.hall, "CURDATE() - INTERVAL 2 DAY", st)
        self.county.sql("UPDATE appointments SET status = 'refused' WHERE appointment_no = 'DCF0'")
        self.assert_counters_true()
        deltas = int(self.q("SELECT COUNT(*) FROM appt_day_deltas")[0][0])
        self.assertGreaterEqual(deltas, 6)
        self.assertEqual(self.fold(2), 2)          # a part: the rest stays in the deltas
        self.assertEqual(self.q("SELECT COUNT(*) FROM appt_day_deltas"), [(str(deltas - 2),)])
        self.assert_counters_true()
        self.county.sql("DELETE FROM appointments WHERE appointment_no = 'DCF1'")
        self.assertEqual(self.fold(), deltas - 1)
        self.assertEqual(self.fold(), 0)
        self.assert_counters_true()

    # ---- dashboard_rebuild (sql/county/028) ------------------------------------------
    def summaries(self):
        """What the dashboard reads, non-zero groups only: the cases per county, hall and
        month; the ratings per county and month (a rating stays under the hall that handled
        its case when it was given, which a rebuild cannot know after a transfer); the
        appointments per county, day and hall."""
        return (
            self.q("SELECT county_code, hall_key, month, SUM(submitted), SUM(closed), "
                   "SUM(on_time), SUM(ch_online), SUM(ch_window), SUM(ch_phone), "
                   "SUM(ch_letter), SUM(ch_email) FROM hall_month_stats GROUP BY 1, 2, 3 "
                   "HAVING SUM(submitted) <> 0 OR SUM(closed) <> 0 ORDER BY 1, 2, 3"),
            self.q("SELECT county_code, month, SUM(ratings), SUM(satisfied) FROM "
                   "hall_month_stats GROUP BY 1, 2 HAVING SUM(ratings) <> 0 ORDER BY 1, 2"),
            self.q("SELECT county_code, date, hall_code, SUM(total), SUM(booked), "
                   "SUM(confirmed), SUM(refused), SUM(cancelled), SUM(attended), SUM(no_show) "
                   "FROM appt_day_stats GROUP BY 1, 2, 3 HAVING SUM(total) <> 0 "
                   "ORDER BY 1, 2, 3"))

    def test_rebuild_equals_what_the_triggers_kept(self):
        # traffic of every kind the summaries count: cases by channel, closed in time and
        # late, a case deleted, ratings (one before its case), appointments changed
        late = self.case(status="accepted")
        on_time = self.case(hall=self.hall_b, status="accepted")
        self.county.sql(
            "UPDATE cases SET channel = 'window' WHERE case_no = %s;"
            "UPDATE cases SET due_at = NOW() - INTERVAL 1 DAY WHERE case_no = %s;"
            "INSERT INTO case_events (case_no, status, note, actor, at, origin) VALUES "
            "(%s, 'answered', '答复', 'dc', NOW(), 'county'), "
            "(%s, 'answered', '答复', 'dc', NOW(), 'county');"
            "UPDATE cases SET status = 'answered' WHERE case_no IN (%s, %s);"
            % (sql_str(on_time), sql_str(late), sql_str(late), sql_str(on_time),
               sql_str(late), sql_str(on_time)))
        gone = self.case()
        self.county.sql("DELETE FROM cases WHERE case_no = %s" % sql_str(gone))
        for i, (no, level) in enumerate(((late, 1), (on_time, 4), ("DCRB-LATER", 2))):
            self.county.sql("INSERT INTO ratings (id, case_no, hall_code, level, at) VALUES "
                            "(%s, %s, %s, %d, NOW())" % (sql_str("dcrb-%d" % i), sql_str(no),
                                                        sql_str(self.hall), level))
        for i, st in enumerate(("booked", "confirmed", "no_show")):
            self.appt("DCRB%d" % i, self.hall_b, "CURDATE() + INTERVAL %d DAY" % i, st)
        self.county.sql("UPDATE appointments SET status = 'cancelled' WHERE appointment_no = "
                        "'DCRB0'")
        self.fold(1)                          # some folded, some still deltas
        kept = self.summaries()
        self.assertTrue(all(kept), kept)
        self.q("CALL dashboard_rebuild()")
        self.assertEqual(self.summaries(), kept)
        self.assertEqual(self.q("SELECT (SELECT COUNT(*) FROM hall_month_deltas) + "
                                "(SELECT COUNT(*) FROM appt_day_deltas)"), [("0",)])
        self.assert_counters_true()
        # a summary gone wrong is put right; twice is the same as once
        self.county.sql("UPDATE hall_month_folded SET submitted = submitted + 5 LIMIT 1; "
                        "UPDATE appt_day_folded SET total = total + 1 LIMIT 1")
        self.assertNotEqual(self.summaries(), kept)
        for _ in range(2):
            p = subprocess.run([os.path.join(ROOT, BUILD, "county-admin"), "-c",
                                os.path.join(self.node.var, "county", "county.ini"),
                                "rebuild-stats"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
            self.assertEqual(p.returncode, 0, p.stdout.decode("utf-8", "replace"))
            self.assertIn("summaries made again", p.stdout.decode("utf-8"))
        self.assertEqual(self.summaries(), kept)

    # ---- the migration again ---------------------------------------------------------
    def test_migration_again_recomputes_the_counters(self):
        self.case()
        self.appt("DCM1", self.hall, "CURDATE()")
        self.fold()
        self.appt("DCM2", self.hall, "CURDATE()")
        self.county.sql("UPDATE appt_day_folded SET total = total + 2, booked = booked + 1; "
                        "UPDATE rating_followups SET stat_hall = 'x'")
        self.county.sql("DELETE FROM schema_migrations WHERE version = 25")
        p = subprocess.run([os.path.join(ROOT, BUILD, "county-admin"), "-c",
                            os.path.join(self.node.var, "county", "county.ini"), "migrate"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
        self.assertEqual(p.returncode, 0, p.stdout.decode("utf-8", "replace"))
        self.assertEqual(self.county.count("schema_migrations", "version = 25"), 1)
        self.assert_counters_true()


class HotRowTest(DashCountsTest):
    """No counter row that two writers update: a transaction left open that queues a notice,
    books an appointment or closes a follow-up for hall X does not hold up another
    connection doing the same for hall X (in-place counters per hall made the second wait
    on the first's row until lock_wait_timeout: 1205)."""

    def while_open(self, first, second):
        """Runs `first` in a transaction left open, then `second` in another session with a
        3 s lock wait: it must finish, at once and without an error."""
        a = self.county.session()
        b = self.county.session()
        try:
            a.run("BEGIN; " + first)
            b.run("SET SESSION innodb_lock_wait_timeout = 3")
            t0 = time.monotonic()
            try:
                b.run("BEGIN; " + second + "; COMMIT", timeout=20)
            except SqlError as e:
                self.fail("the second write failed while the first was open: %s" % e)
            took = time.monotonic() - t0
            self.assertLess(took, 2.5, "the second write waited on the first")
            a.run("COMMIT")
        finally:
            a.close()
            b.close()

    def notification(self, tag):
        no = self.case()
        return ("INSERT INTO notifications (id, case_no, hall_code, event, channel, to_addr, ref) "
                "VALUES (UUID(), %s, %s, 'accepted', 'sms', '13800000000', %s)"
                % (sql_str(no), sql_str(self.hall), sql_str("hot:" + tag)))

    def test_notices_of_one_hall_do_not_wait(self):
        self.while_open(self.notification("a"), self.notification("b"))
        self.assertEqual(self.q("SELECT COUNT(*) FROM notifications WHERE ref LIKE 'hot:%'"),
                         [("2",)])

    def appointment(self, no, start):
        return ("INSERT INTO appointments (appointment_no, id, hall_code, item, date, start, "
                "`end`, phone, status, booked_at, status_at) VALUES (%s, %s, %s, 'x', "
                "CURDATE() + INTERVAL 1 DAY, %s, '17:00', '13800000000', 'booked', NOW(), NOW())"
                % (sql_str(no), sql_str("a-" + no), sql_str(self.hall), sql_str(start)))

    def test_appointments_of_one_hall_and_day_do_not_wait(self):
        self.while_open(self.appointment("HOT1", "09:00"), self.appointment("HOT2", "15:00"))
        self.assertEqual(self.q("SELECT COUNT(*) FROM appointments WHERE appointment_no "
                                "IN ('HOT1', 'HOT2')"), [("2",)])
        self.assert_counters_true()

    def test_followups_of_one_hall_closed_together_do_not_wait(self):
        nos = [self.case(), self.case()]
        for no in nos:
            self.rate(no, self.hall)
        close = ("UPDATE rating_followups SET closed_at = NOW(), closed_by = 'x', "
                 "rectification = '已整改' WHERE case_no = %s")
        self.while_open(close % sql_str(nos[0]), close % sql_str(nos[1]))
        self.assertEqual(self.q("SELECT COUNT(*) FROM rating_followups WHERE case_no IN (%s, %s) "
                                "AND closed_at IS NOT NULL" % (sql_str(nos[0]), sql_str(nos[1]))),
                         [("2",)])


# HotRowTest takes DashCountsTest's helpers and county, not its tests (a test that is not
# callable is not collected)
for _name in [n for n in vars(DashCountsTest) if n.startswith("test_")]:
    setattr(HotRowTest, _name, None)


if __name__ == "__main__":
    unittest.main()
