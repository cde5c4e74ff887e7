"""Issue 10: one source of truth for the working-day calendar (SPEC 3).

The C parser (lib/core/calendar.c) decides every day. The county stores its decisions in
calendar_days whenever a calendar is published (the staff console) or imported
(`county-admin import-calendars`, which conf/demo runs on the shipped conf/calendar/*.txt),
and the SQL that counts 差评 follow-up deadlines (calendar_is_workday, working_days_add,
sql/county/) only looks them up. These tests compare the two, C through build/calendar-due:
every day of 2025 and 2026 (the shipped tables) and of 2029 (no table: Monday to Friday),
for every time limit from 1 to 30 working days, with each mismatch named by its day and n.
"""

import datetime
import os
import shutil
import subprocess
import tempfile
import time
import unittest

from county import COUNTY_ADMIN, County, sql_str
from harness import NO_LIMITS, Node, load_calendar

YEARS = (2025, 2026, 2029)    # 2029: a year without a table
TABLES = (2025, 2026)
MAX_N = 30


def year_days(year):
    d = datetime.date(year, 1, 1)
    while d.year == year:
        yield d
        d += datetime.timedelta(days=1)


class CalendarDaysTest(unittest.TestCase):
    node = None

    @classmethod
    def setUpClass(cls):
        cls.node = Node("caldays", county=True, agent=False)
        cls.addClassCleanup(cls.node.cleanup)
        cls.node.start(NO_LIMITS)
        cls.county = County(cls.node)
        cls.cal = load_calendar()

    def sql_answers(self, year):
        """{day: (working day, [working_days_add(noon of day, n) for n = 1..MAX_N])} as the
        county's SQL has them: one statement for the whole year."""
        rows = self.county.rows(
            "WITH RECURSIVE days (d) AS ("
            "  SELECT DATE('%d-01-01') UNION ALL "
            "  SELECT d + INTERVAL 1 DAY FROM days WHERE d < DATE('%d-12-31')), "
            " ns (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM ns WHERE n < %d) "
            "SELECT d, calendar_is_workday(d), GROUP_CONCAT(working_days_add("
            "  TIMESTAMP(d, '12:00:00'), n) ORDER BY n SEPARATOR ',') "
            "FROM days CROSS JOIN ns GROUP BY d ORDER BY d" % (year, year, MAX_N), timeout=300)
        return {datetime.date.fromisoformat(d): (w == "1", dues.split(","))
                for d, w, dues in rows}

    def mismatches(self, year):
        """(comparisons made, mismatches described) for every day of year."""
        sql = self.sql_answers(year)
        n_cmp, bad = 0, []
        for d in year_days(year):
            work, dues = self.cal.day(d, MAX_N)
            if d not in sql:
                bad.append("%s: no answer from SQL" % d)
                continue
            sql_work, sql_dues = sql[d]
            n_cmp += 1
            if sql_work != work:
                bad.append("%s: calendar_is_workday %s, C %s" % (d, sql_work, work))
            for n in range(1, MAX_N + 1):
                want = dues[n - 1][0].isoformat() + " 23:59:59"
                got = sql_dues[n - 1] if n <= len(sql_dues) else None
                n_cmp += 1
                if got != want:
                    bad.append("%s n=%d: working_days_add %s, C %s" % (d, n, got, want))
        return n_cmp, bad

    def stored_days(self, year):
        return {datetime.date.fromisoformat(d): w == "1" for d, w in self.county.rows(
            "SELECT day, workday FROM calendar_days WHERE day BETWEEN '%d-01-01' AND "
            "'%d-12-31'" % (year, year))}

    def c_days(self, cal, year):
        return {d: cal.is_workday(d) for d in year_days(year)}

    def test_days_stored_as_c_decides(self):
        """The import wrote every day of each shipped year, as C decides it, and nothing
        for a year without a table."""
        for year in TABLES:
            self.assertEqual(self.stored_days(year), self.c_days(self.cal, year), year)
        self.assertEqual(self.stored_days(2029), {})

    def test_migrate_writes_the_days_of_calendars_published_before(self):
        """A county upgraded from before calendar_days: `county-admin migrate` writes the
        days of every calendar that has none, and says which text it cannot read."""
        text = ("year 2031\n2031-01-01 holiday 元旦\n2031-01-02 holiday 元旦\n"
                "2031-01-04 workday 调休上班（周六）\n")
        self.addCleanup(self.county.sql, "DELETE FROM calendars WHERE year IN (2031, 2032); "
                        "DELETE FROM calendar_days WHERE day >= '2031-01-01'")
        self.county.sql("DELETE FROM calendar_days WHERE day BETWEEN '2025-01-01' AND "
                        "'2025-12-31'; INSERT INTO calendars (year, body) VALUES "
                        "(2031, %s), (2032, 'year 2032\\n2032-02-30 holiday')" % sql_str(text))
        self.assertEqual(self.stored_days(2025), {})
        p = subprocess.run([COUNTY_ADMIN, "-c", os.path.join(self.node.var, "county",
                                                             "county.ini"), "migrate"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
        out = p.stdout.decode("utf-8", "replace")
        self.assertEqual(p.returncode, 0, out)
        self.assertIn("calendar 2025: days written", out)
        self.assertIn("calendar 2031: days written", out)
        self.assertIn("calendar of 2032 is refused", out)
        self.assertEqual(self.stored_days(2025), self.c_days(self.cal, 2025))
        d = tempfile.mkdtemp(prefix="caldays-")
        try:
            with open(os.path.join(d, "2031.txt"), "w", encoding="utf-8") as f:
                f.write(text)
            self.assertEqual(self.stored_days(2031), self.c_days(load_calendar(d), 2031))
        finally:
            shutil.rmtree(d)
        self.assertEqual(self.stored_days(2032), {})
        # Thu 2 Jan 2031 a holiday, Sat 4 Jan a make-up workday; 2032 Monday to Friday
        self.assertEqual(self.county.rows(
            "SELECT calendar_is_workday('2031-01-02'), calendar_is_workday('2031-01-04'), "
            "calendar_is_workday('2032-01-01')"), [("0", "1", "1")])
        # a second run has nothing left to write
        p = subprocess.run([COUNTY_ADMIN, "-c", os.path.join(self.node.var, "county",
                                                             "county.ini"), "migrate"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
        self.assertNotIn("days written", p.stdout.decode("utf-8", "replace"))

    def test_sql_counts_working_days_as_c_does(self):
        """calendar_is_workday and working_days_add against C, every day, n = 1..30."""
        self.assertEqual([int(y) for (y,) in self.county.rows(
            "SELECT year FROM calendars WHERE year IN (%s) ORDER BY year"
            % ",".join(map(str, YEARS)))], list(TABLES))
        t0 = time.monotonic()
        total, bad = 0, []
        for year in YEARS:
            n, b = self.mismatches(year)
            total += n
            bad += b
        took = time.monotonic() - t0
        # 3 years of days, each its working day and 30 deadlines: 33,945 comparisons
        self.assertEqual(total, sum(len(list(year_days(y))) for y in YEARS) * (1 + MAX_N))
        print("# %d comparisons of C and SQL in %.1f s, %d mismatches" % (total, took,
              len(bad)))
        self.assertEqual(bad, [], "%d mismatches between C and SQL:\n%s"
                         % (len(bad), "\n".join(bad[:60])))


if __name__ == "__main__":
    unittest.main()
