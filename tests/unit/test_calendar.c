/*
 * lib/core/calendar.c: working days, deadlines, warnings and the calendar text format.
 * Runs from the repository root so that it loads the shipped tables in conf/calendar.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "core.h"
#include "unit.h"

/*
 * A +08:00 wall-clock time as a Unix time.  timegm() is glibc's and independent of
 * calendar.c, so the two arithmetic paths check each other.
 */
static time_t
at(int y, int mo, int d, int h, int mi, int s)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = s;
	return timegm(&tm) - HALL_TZ_OFFSET;
}

/* 23:59:59+08:00 of a civil day: what every deadline looks like. */
static time_t
eod(int y, int mo, int d)
{
	return at(y, mo, d, 23, 59, 59);
}

static int
setup_real(void **state)
{
	struct calendar *cal;

	if ((cal = calendar_new()) == NULL)
		return -1;
	unit_calendar_load(cal, "conf/calendar/2025.txt");
	unit_calendar_load(cal, "conf/calendar/2026.txt");
	*state = cal;
	return 0;
}

static int
setup_empty(void **state)
{
	*state = calendar_new();
	return *state == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	calendar_free(*state);
	return 0;
}

struct due_case {
	time_t submitted;
	int ndays;
	time_t due;
	int provisional;
};

static void
check_due(const struct calendar *cal, const struct due_case *c, size_t n)
{
	size_t i;
	time_t due;
	int prov;

	for (i = 0; i < n; i++) {
		prov = -1;
		due = calendar_due(cal, c[i].submitted, c[i].ndays, &prov);
		if (due != c[i].due || prov != c[i].provisional)
			fail_msg("case %zu: submitted %lld, %d days: due %lld prov %d, "
			         "want %lld prov %d",
			         i, (long long)c[i].submitted, c[i].ndays, (long long)due, prov,
			         (long long)c[i].due, c[i].provisional);
	}
}

#define CHECK_DUE(cal, cases) check_due((cal), (cases), sizeof(cases) / sizeof((cases)[0]))

/* SPEC section 3: Friday 2026-09-18, 3 days; Sep 20 (Sunday) is a make-up workday. */
static void
test_spec_sep18(void **state)
{
	const struct due_case c[] = {
	    {at(2026, 9, 18, 0, 0, 0), 3, eod(2026, 9, 22), 0},
	    {at(2026, 9, 18, 10, 0, 0), 3, eod(2026, 9, 22), 0},
	    {at(2026, 9, 18, 23, 30, 0), 3, eod(2026, 9, 22), 0},
	    {at(2026, 9, 18, 23, 59, 59), 3, eod(2026, 9, 22), 0},
	};

	CHECK_DUE(*state, c);
}

/* SPEC section 3: Oct 1-7 off, Oct 8 and 9, then Saturday Oct 10 is a make-up workday. */
static void
test_spec_sep30(void **state)
{
	const struct due_case c[] = {
	    {at(2026, 9, 30, 10, 0, 0), 3, eod(2026, 10, 10), 0},
	    {at(2026, 9, 30, 23, 59, 59), 3, eod(2026, 10, 10), 0},
	};

	CHECK_DUE(*state, c);
}

/* The civil day is Shanghai's, not UTC's nor the process's. */
static void
test_day_boundary(void **state)
{
	const struct due_case c[] = {
	    /* Thursday's last second: Fri 18, Sun 20 (make-up), Mon 21. */
	    {at(2026, 9, 17, 23, 59, 59), 3, eod(2026, 9, 21), 0},
	    {at(2026, 9, 18, 0, 0, 0), 3, eod(2026, 9, 22), 0},
	    /* Still 2026-09-17 in UTC. */
	    {at(2026, 9, 18, 0, 30, 0), 3, eod(2026, 9, 22), 0},
	    {at(2026, 9, 18, 7, 59, 59), 3, eod(2026, 9, 22), 0},
	};
	time_t t = at(2026, 9, 18, 0, 30, 0);
	struct tm utc;

	assert_non_null(gmtime_r(&t, &utc));
	assert_int_equal(utc.tm_mday, 17);
	CHECK_DUE(*state, c);
	assert_int_equal(eod(2026, 9, 22), 1790092799); /* 2026-09-22T15:59:59Z */
}

/* A process TZ far from Shanghai changes nothing. */
static void
test_process_tz_ignored(void **state)
{
	const struct due_case c[] = {
	    {at(2026, 9, 18, 0, 30, 0), 3, eod(2026, 9, 22), 0},
	    {at(2026, 9, 30, 10, 0, 0), 3, eod(2026, 10, 10), 0},
	};
	char *old = getenv("TZ") != NULL ? strdup(getenv("TZ")) : NULL;

	setenv("TZ", "America/Los_Angeles", 1);
	tzset();
	CHECK_DUE(*state, c);
	assert_true(calendar_warning(eod(2026, 9, 22), at(2026, 9, 22, 0, 30, 0)));
	if (old != NULL)
		setenv("TZ", old, 1);
	else
		unsetenv("TZ");
	tzset();
	free(old);
}

static void
test_spring_festival(void **state)
{
	const struct due_case c[] = {
	    /* 2026: Sat Feb 14 works, Feb 15-23 off, Sat Feb 28 works. */
	    {at(2026, 2, 13, 9, 0, 0), 3, eod(2026, 2, 25), 0},
	    {at(2026, 2, 13, 9, 0, 0), 5, eod(2026, 2, 27), 0},
	    {at(2026, 2, 13, 9, 0, 0), 6, eod(2026, 2, 28), 0},
	    {at(2026, 2, 14, 9, 0, 0), 1, eod(2026, 2, 24), 0},
	    {at(2026, 2, 20, 9, 0, 0), 3, eod(2026, 2, 26), 0},
	    {at(2026, 2, 23, 9, 0, 0), 2, eod(2026, 2, 25), 0},
	    /* 2025: Sun Jan 26 works, Jan 28-Feb 4 off, Sat Feb 8 works. */
	    {at(2025, 1, 24, 9, 0, 0), 3, eod(2025, 2, 5), 0},
	    {at(2025, 1, 27, 9, 0, 0), 1, eod(2025, 2, 5), 0},
	    {at(2025, 2, 5, 9, 0, 0), 3, eod(2025, 2, 8), 0},
	};
	struct calendar *cal = *state;

	CHECK_DUE(cal, c);
	assert_int_equal(calendar_is_workday(cal, 2026, 2, 14), 1);
	assert_int_equal(calendar_is_workday(cal, 2026, 2, 16), 0);
	assert_int_equal(calendar_is_workday(cal, 2026, 2, 23), 0);
	assert_int_equal(calendar_is_workday(cal, 2026, 2, 24), 1);
}

/* 2027 has no table: Monday to Friday, and provisional. */
static void
test_year_without_table(void **state)
{
	const struct due_case c[] = {
	    /* Friday 2027-01-01 is really a holiday, but nothing says so yet. */
	    {at(2026, 12, 31, 9, 0, 0) + 86400, 3, eod(2027, 1, 6), 1},
	    {at(2027, 9, 17, 9, 0, 0), 3, eod(2027, 9, 22), 1},
	    {at(2027, 10, 1, 9, 0, 0), 5, eod(2027, 10, 8), 1},
	};
	struct calendar *cal = *state;

	assert_false(calendar_has_year(cal, 2027));
	CHECK_DUE(cal, c);
	assert_int_equal(calendar_is_workday(cal, 2027, 1, 1), 1);
	assert_int_equal(calendar_is_workday(cal, 2027, 1, 2), 0);
}

static void
test_across_years(void **state)
{
	const struct due_case c[] = {
	    /* Dec 31, then 2027: Fri Jan 1 counts as a plain Friday. */
	    {at(2026, 12, 30, 9, 0, 0), 3, eod(2027, 1, 4), 1},
	    /* Stops on Dec 30: nothing of 2027 was looked at. */
	    {at(2026, 12, 28, 9, 0, 0), 2, eod(2026, 12, 30), 0},
	    {at(2026, 12, 30, 9, 0, 0), 1, eod(2026, 12, 31), 0},
	    /* 2025 into 2026, both published: Jan 1-3 off, Sun Jan 4 works. */
	    {at(2025, 12, 30, 9, 0, 0), 3, eod(2026, 1, 5), 0},
	    /* 2024 has no table: provisional though the due day is in 2025. */
	    {at(2024, 12, 30, 9, 0, 0), 2, eod(2025, 1, 2), 1},
	};

	CHECK_DUE(*state, c);
}

static void
test_2025_not_provisional(void **state)
{
	const struct due_case c[] = {
	    {at(2025, 3, 3, 9, 0, 0), 3, eod(2025, 3, 6), 0},
	    {at(2025, 4, 3, 9, 0, 0), 2, eod(2025, 4, 8), 0},
	    {at(2025, 4, 25, 9, 0, 0), 1, eod(2025, 4, 27), 0},
	    {at(2025, 4, 30, 9, 0, 0), 5, eod(2025, 5, 12), 0},
	    {at(2025, 5, 30, 9, 0, 0), 1, eod(2025, 6, 3), 0},
	    {at(2025, 9, 26, 9, 0, 0), 3, eod(2025, 9, 30), 0},
	    {at(2025, 9, 30, 9, 0, 0), 3, eod(2025, 10, 11), 0},
	};

	CHECK_DUE(*state, c);
}

/* Default limits: complaint 5 working days, unresolved report 2. */
static void
test_complaint_and_unresolved(void **state)
{
	const struct due_case c[] = {
	    {at(2026, 9, 30, 10, 0, 0), 5, eod(2026, 10, 13), 0},
	    {at(2026, 9, 18, 10, 0, 0), 5, eod(2026, 9, 24), 0},
	    {at(2026, 4, 30, 10, 0, 0), 5, eod(2026, 5, 11), 0},
	    {at(2026, 9, 18, 10, 0, 0), 2, eod(2026, 9, 21), 0},
	    {at(2026, 4, 30, 10, 0, 0), 2, eod(2026, 5, 7), 0},
	    {at(2026, 6, 18, 10, 0, 0), 2, eod(2026, 6, 23), 0},
	    {at(2026, 9, 24, 10, 0, 0), 2, eod(2026, 9, 29), 0},
	};

	CHECK_DUE(*state, c);
}

/* Zero or fewer days: the submission day itself, with nothing examined. */
static void
test_zero_days(void **state)
{
	const struct due_case c[] = {
	    {at(2026, 9, 18, 10, 0, 0), 0, eod(2026, 9, 18), 0},
	    {at(2026, 10, 1, 10, 0, 0), 0, eod(2026, 10, 1), 0},
	    {at(2027, 3, 6, 0, 0, 0), -1, eod(2027, 3, 6), 0},
	};

	CHECK_DUE(*state, c);
}

static void
test_due_refuses(void **state)
{
	struct calendar *cal = *state;
	int prov = 7;

	assert_int_equal(calendar_due(cal, at(2026, 1, 5, 0, 0, 0), 367, &prov), -1);
	assert_int_equal(prov, 0);
	assert_int_equal(calendar_due(cal, -1, 3, &prov), -1);
	assert_int_equal(calendar_due(NULL, at(2026, 1, 5, 0, 0, 0), 3, &prov), -1);
	assert_int_equal(calendar_due(cal, at(2026, 9, 18, 10, 0, 0), 3, NULL), eod(2026, 9, 22));
	/* The most a caller may ask for still ends. */
	assert_true(calendar_due(cal, at(2099, 12, 1, 0, 0, 0), 366, &prov) > 0);
	assert_int_equal(prov, 1);
}

/* A listed day applies even in a year without a table, which stays provisional. */
static void
test_listed_day_without_table(void **state)
{
	const struct due_case c[] = {
	    {at(2027, 12, 31, 9, 0, 0) - 365 * 86400, 1, eod(2027, 1, 4), 1},
	    {at(2027, 1, 8, 9, 0, 0), 1, eod(2027, 1, 9), 1},
	};
	struct calendar *cal = *state;

	assert_int_equal(calendar_set_day(cal, 2027, 1, 1, CAL_HOLIDAY), 0);
	assert_int_equal(calendar_set_day(cal, 2027, 1, 9, CAL_WORKDAY), 0);
	assert_false(calendar_has_year(cal, 2027));
	assert_int_equal(calendar_is_workday(cal, 2027, 1, 1), 0);
	assert_int_equal(calendar_is_workday(cal, 2027, 1, 9), 1);
	CHECK_DUE(cal, c);
}

/* A declared year with nothing listed is plain Monday to Friday, and not provisional. */
static void
test_empty_table(void **state)
{
	const struct due_case c[] = {
	    {at(2030, 1, 4, 9, 0, 0), 3, eod(2030, 1, 9), 0},
	};
	const char *text = "year 2030\n";
	struct calendar *cal = *state;
	char err[128];

	assert_int_equal(calendar_parse(cal, text, strlen(text), err, sizeof(err)), 0);
	assert_true(calendar_has_year(cal, 2030));
	CHECK_DUE(cal, c);
}

static void
test_warning(void **state)
{
	const struct {
		time_t now;
		int want;
	} c[] = {
	    {at(2026, 9, 21, 23, 59, 59), 0}, /* the day before */
	    {at(2026, 9, 21, 12, 0, 0), 0},
	    {at(2026, 9, 22, 0, 0, 0), 1},    /* first second of the due day */
	    {at(2026, 9, 22, 8, 0, 0), 1},    /* 00:00 UTC */
	    {at(2026, 9, 22, 23, 59, 59), 1}, /* the due second itself */
	    {at(2026, 9, 23, 0, 0, 0), 0},    /* one second after: overdue */
	    {at(2026, 9, 23, 10, 0, 0), 0},
	};
	time_t due = calendar_due(*state, at(2026, 9, 18, 10, 0, 0), 3, NULL);
	size_t i;

	assert_int_equal(due, eod(2026, 9, 22));
	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		if (calendar_warning(due, c[i].now) != c[i].want)
			fail_msg("case %zu: want %d", i, c[i].want);
}

static void
test_is_workday(void **state)
{
	const struct {
		int y, m, d;
		int want;
	} c[] = {
	    {2026, 9, 18, 1},                                        /* Friday */
	    {2026, 9, 19, 0},                                        /* Saturday */
	    {2026, 9, 20, 1},                                        /* Sunday, make-up workday */
	    {2026, 9, 25, 0},                                        /* Friday, Mid-Autumn */
	    {2026, 10, 1, 0},  {2026, 10, 8, 1},  {2026, 10, 10, 1}, /* Saturday, make-up */
	    {2026, 10, 11, 0},                                       /* Sunday */
	    {2025, 1, 26, 1},                                        /* Sunday, make-up */
	    {2025, 10, 8, 0},                                        /* Wednesday, holiday */
	    {2028, 2, 29, 1},                                        /* Tuesday, leap day */
	    {1999, 12, 31, 1}, /* outside the table range: Monday to Friday */
	    {2100, 1, 1, 1},   {2026, 2, 29, -1}, {2100, 2, 29, -1}, {2026, 13, 1, -1},
	    {2026, 4, 31, -1}, {2026, 0, 10, -1}, {2026, 1, 0, -1},
	};
	size_t i;

	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		if (calendar_is_workday(*state, c[i].y, c[i].m, c[i].d) != c[i].want)
			fail_msg("%04d-%02d-%02d: want %d", c[i].y, c[i].m, c[i].d, c[i].want);
}

struct tally {
	int years;
	int holidays[2]; /* 2025, 2026 */
	int workdays[2];
	int weekday_workdays;
};

static void
tally_year(int year, void *arg)
{
	struct tally *t = arg;

	(void)year;
	t->years++;
}

static void
tally_day(int y, int m, int d, enum cal_kind kind, void *arg)
{
	struct tally *t = arg;
	time_t noon = at(y, m, d, 12, 0, 0);
	struct tm tm;

	assert_true(y == 2025 || y == 2026);
	if (kind == CAL_HOLIDAY)
		t->holidays[y - 2025]++;
	else
		t->workdays[y - 2025]++;
	noon += HALL_TZ_OFFSET;
	assert_non_null(gmtime_r(&noon, &tm));
	if (kind == CAL_WORKDAY && tm.tm_wday != 0 && tm.tm_wday != 6)
		t->weekday_workdays++;
}

/* The shipped tables have the published number of days, make-up days on weekends. */
static void
test_shipped_tables(void **state)
{
	struct tally t;

	memset(&t, 0, sizeof(t));
	calendar_foreach(*state, tally_year, tally_day, &t);
	assert_int_equal(t.years, 2);
	assert_true(calendar_has_year(*state, 2025));
	assert_true(calendar_has_year(*state, 2026));
	assert_int_equal(t.holidays[0], 1 + 8 + 3 + 5 + 3 + 8);
	assert_int_equal(t.workdays[0], 5);
	assert_int_equal(t.holidays[1], 3 + 9 + 3 + 5 + 3 + 3 + 7);
	assert_int_equal(t.workdays[1], 6);
	assert_int_equal(t.weekday_workdays, 0);
}

static void
trace_year(int year, void *arg)
{
	char *s = arg;

	snprintf(s + strlen(s), 256 - strlen(s), "Y%d ", year);
}

static void
trace_day(int y, int m, int d, enum cal_kind kind, void *arg)
{
	char *s = arg;

	snprintf(s + strlen(s), 256 - strlen(s), "%04d-%02d-%02d%c ", y, m, d,
	         kind == CAL_HOLIDAY ? 'h' : 'w');
}

/* Years in order, each followed by its days in order, like the file. */
static void
test_foreach_order(void **state)
{
	const char *text = "year 2031\n2031-12-31 workday\nyear 2030\n"
	                   "2030-02-01 holiday\n2030-01-01 holiday\n2031-01-01 holiday\n";
	struct calendar *cal = *state;
	char s[256] = "", err[128];

	assert_int_equal(calendar_parse(cal, text, strlen(text), err, sizeof(err)), 0);
	assert_int_equal(calendar_set_day(cal, 2029, 3, 1, CAL_WORKDAY), 0);
	calendar_foreach(cal, trace_year, trace_day, s);
	assert_string_equal(s, "2029-03-01w Y2030 2030-01-01h 2030-02-01h "
	                       "Y2031 2031-01-01h 2031-12-31w ");
	s[0] = '\0';
	calendar_foreach(cal, trace_year, NULL, s);
	assert_string_equal(s, "Y2030 Y2031 ");
}

static void
count_entry(int y, int m, int d, enum cal_kind kind, void *arg)
{
	(void)y, (void)m, (void)d, (void)kind;
	(*(int *)arg)++;
}

static void
count_year(int y, void *arg)
{
	(void)y;
	(*(int *)arg)++;
}

static int
entries(const struct calendar *cal)
{
	int n = 0;

	calendar_foreach(cal, count_year, count_entry, &n);
	return n;
}

/* Comments, blanks, CRLF, tabs, names with spaces, no final newline. */
static void
test_parse_accepts(void **state)
{
	const char *text = "# a comment\n"
	                   "\n"
	                   "   \t\n"
	                   "  # an indented comment\r\n"
	                   "year 2028\r\n"
	                   "\tyear\t2029  \n"
	                   "2028-02-29 holiday leap day, with spaces\n"
	                   "2028-03-04\tworkday\t调休上班 (Saturday)\r\n"
	                   "2029-01-01 holiday\n"
	                   "2029-01-02    holiday   \n"
	                   "2029-12-31 workday 最后一天";
	struct calendar *cal = *state;
	char err[128] = "junk";

	assert_int_equal(calendar_parse(cal, text, strlen(text), err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_true(calendar_has_year(cal, 2028));
	assert_true(calendar_has_year(cal, 2029));
	assert_int_equal(calendar_is_workday(cal, 2028, 2, 29), 0);
	assert_int_equal(calendar_is_workday(cal, 2028, 3, 4), 1);
	assert_int_equal(calendar_is_workday(cal, 2029, 1, 2), 0);
	assert_int_equal(calendar_is_workday(cal, 2029, 12, 31), 1);
	assert_int_equal(entries(cal), 7);
	assert_int_equal(calendar_parse(cal, "", 0, err, sizeof(err)), 0);
	assert_int_equal(calendar_parse(cal, NULL, 0, NULL, 0), 0);
	assert_int_equal(entries(cal), 7);
}

static void
test_parse_errors(void **state)
{
	static const struct {
		const char *text;
		size_t len;       /* 0: strlen */
		const char *want; /* the whole of err must contain this */
	} c[] = {
	    {"year 2026\n2026-13-01 holiday\n", 0, "line 2: no such date"},
	    {"year 2026\n\n2026-02-30 holiday\n", 0, "line 3: no such date 2026-02-30"},
	    {"year 2026\n2026-02-29 holiday\n", 0, "line 2: no such date 2026-02-29"},
	    {"year 2026\n2026-00-10 holiday\n", 0, "line 2: no such date"},
	    {"year 2026\n2026-1-01 holiday\n", 0, "line 2: malformed date"},
	    {"year 2026\n2026/01/01 holiday\n", 0, "line 2: malformed date"},
	    {"year 2026\n2026-01-01x holiday\n", 0, "line 2: malformed date"},
	    {"year 2026\n2026-01-01 vacation\n", 0, "line 2: expected 'holiday' or 'workday'"},
	    {"year 2026\n2026-01-01 Holiday\n", 0, "line 2: expected 'holiday' or"},
	    {"year 2026\n2026-01-01 holiday元旦\n", 0, "line 2: expected 'holiday' or"},
	    {"year 2026\n2026-01-01\n", 0, "line 2: expected 'holiday' or 'workday'"},
	    {"# 2026\n2026-01-01 holiday\nyear 2026\n", 0,
	     "line 2: 2026-01-01 comes before a 'year 2026' line"},
	    {"year 2025\n2026-01-01 holiday\n", 0, "line 2: 2026-01-01 comes before"},
	    {"year 1999\n", 0, "line 1: year 1999 outside 2000..2099"},
	    {"year 2100\n", 0, "line 1: year 2100 outside"},
	    {"year 2026\n1999-12-31 holiday\n", 0, "line 2: no such date 1999-12-31"},
	    {"year 26\n", 0, "line 1: expected 'year YYYY'"},
	    {"year\n", 0, "line 1: expected 'year YYYY'"},
	    {"year 2026 2027\n", 0, "line 1: text after 'year 2026'"},
	    {"year 2026\nyear 2026\n", 0, "line 2: year 2026 declared twice"},
	    {"year 2026\nholiday 2026-01-01\n", 0, "line 2: expected 'year YYYY' or"},
	    {"year 2026\n2026-01-01 holiday\n2026-01-01 workday\n", 0,
	     "line 3: 2026-01-01 listed twice"},
	    {"year 2026\n2026-01-01 holiday\n2026-01-01 holiday\n", 0,
	     "line 3: 2026-01-01 listed twice"},
	    {"year 2026\n2026-01-01 holiday \xe5\x85\n", 0, "line 2: invalid UTF-8"},
	    {"year 2026\n2026-01-01 holiday \xc0\xaf\n", 0, "line 2: invalid UTF-8"},
	    {"year 2026\n2026-01-01 holiday \xed\xa0\x80\n", 0, "line 2: invalid UTF-8"},
	    {"year 2026\n2026-01-01 holiday a\x1b[0m\n", 0, "line 2: invalid UTF-8"},
	    {"year 2026\n2026-01-01 holi\0day\n", 30, "line 2: invalid UTF-8"},
	    {"year 2026\n2026-01-01\rholiday\n", 0, "line 2: invalid UTF-8"},
	};
	struct calendar *cal = *state;
	char err[128];
	size_t i, len;

	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		len = c[i].len != 0 ? c[i].len : strlen(c[i].text);
		err[0] = '\0';
		if (calendar_parse(cal, c[i].text, len, err, sizeof(err)) != -1)
			fail_msg("case %zu accepted", i);
		if (strstr(err, c[i].want) == NULL)
			fail_msg("case %zu: err \"%s\", want \"%s\"", i, err, c[i].want);
	}
	/* Nothing from a refused text was merged, not even its good lines. */
	assert_int_equal(entries(cal), 0);
	assert_false(calendar_has_year(cal, 2026));
}

static void
test_parse_overlong_line(void **state)
{
	char text[512], err[128];
	size_t n;

	/* 200 bytes is the limit, the line end not counted. */
	n = (size_t)snprintf(text, sizeof(text), "year 2026\n#%0199d\r\n", 0);
	assert_int_equal(calendar_parse(*state, text, n, err, sizeof(err)), 0);
	n = (size_t)snprintf(text, sizeof(text), "year 2026\n\n2026-01-01 holiday %0182d\n", 0);
	assert_int_equal(calendar_parse(*state, text, n, err, sizeof(err)), -1);
	assert_string_equal(err, "line 3: longer than 200 bytes");
	/* The same without a final newline. */
	assert_int_equal(calendar_parse(*state, text, n - 1, err, sizeof(err)), -1);
	assert_string_equal(err, "line 3: longer than 200 bytes");
}

/* Writes `count` entries: year lines for 2030.., then holidays from 2030-01-01 on. */
static size_t
many_entries(char *buf, size_t size, int count)
{
	size_t n = 0;
	time_t t = at(2030, 1, 1, 12, 0, 0) + HALL_TZ_OFFSET;
	struct tm tm;
	int i;

	for (i = 0; i < 5 && i < count; i++)
		n += (size_t)snprintf(buf + n, size - n, "year %d\n", 2030 + i);
	for (; i < count; i++, t += 86400) {
		assert_non_null(gmtime_r(&t, &tm));
		n += (size_t)snprintf(buf + n, size - n, "%04d-%02d-%02d holiday\n",
		                      tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
	}
	assert_true(n < size);
	return n;
}

static void
test_parse_caps(void **state)
{
	size_t size = 300 * 1024, n;
	char *buf, err[128];

	assert_non_null(buf = malloc(size));
	n = many_entries(buf, size, 1000);
	assert_int_equal(calendar_parse(*state, buf, n, err, sizeof(err)), 0);
	assert_int_equal(entries(*state), 1000);
	n = many_entries(buf, size, 1001);
	assert_int_equal(calendar_parse(*state, buf, n, err, sizeof(err)), -1);
	assert_string_equal(err, "line 1001: more than 1000 entries");

	memset(buf, '\n', size);
	assert_int_equal(calendar_parse(*state, buf, 256 * 1024, err, sizeof(err)), 0);
	assert_int_equal(calendar_parse(*state, buf, 256 * 1024 + 1, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "longer than"));
	/* A short err buffer is truncated, never overrun. */
	assert_int_equal(calendar_parse(*state, "bad", 3, err, 5), -1);
	assert_string_equal(err, "line");
	free(buf);
}

/* Within one file a date is listed once; across files the later file wins. */
static void
test_same_date_twice(void **state)
{
	const char *first = "year 2026\n2026-09-21 holiday\n";
	const char *revised = "year 2026\n2026-09-21 workday\n2026-09-22 holiday\n";
	const char *both = "year 2026\n2026-09-21 holiday\n2026-09-21 workday\n";
	struct calendar *cal = *state;
	char err[128];

	assert_int_equal(calendar_parse(cal, both, strlen(both), err, sizeof(err)), -1);
	assert_string_equal(err, "line 3: 2026-09-21 listed twice");
	assert_int_equal(calendar_parse(cal, first, strlen(first), err, sizeof(err)), 0);
	assert_int_equal(calendar_is_workday(cal, 2026, 9, 21), 0);
	assert_int_equal(calendar_parse(cal, revised, strlen(revised), err, sizeof(err)), 0);
	assert_int_equal(calendar_is_workday(cal, 2026, 9, 21), 1);
	assert_int_equal(calendar_is_workday(cal, 2026, 9, 22), 0);
	assert_int_equal(calendar_set_day(cal, 2026, 9, 21, CAL_HOLIDAY), 0);
	assert_int_equal(calendar_is_workday(cal, 2026, 9, 21), 0);
}

static void
test_setters_refuse(void **state)
{
	struct calendar *cal = *state;

	assert_int_equal(calendar_add_year(cal, 1999), -1);
	assert_int_equal(calendar_add_year(cal, 2100), -1);
	assert_int_equal(calendar_add_year(NULL, 2026), -1);
	assert_int_equal(calendar_add_year(cal, 2000), 0);
	assert_int_equal(calendar_add_year(cal, 2099), 0);
	assert_int_equal(calendar_set_day(cal, 2026, 2, 29, CAL_HOLIDAY), -1);
	assert_int_equal(calendar_set_day(cal, 2100, 1, 1, CAL_HOLIDAY), -1);
	assert_int_equal(calendar_set_day(cal, 2026, 1, 1, (enum cal_kind)3), -1);
	assert_int_equal(calendar_set_day(cal, 2099, 12, 31, CAL_WORKDAY), 0);
	assert_int_equal(calendar_set_day(cal, 2000, 1, 1, CAL_WORKDAY), 0);
	assert_int_equal(entries(cal), 4);
	assert_false(calendar_has_year(NULL, 2026));
	assert_int_equal(calendar_parse(NULL, "year 2026", 9, NULL, 0), -1);
	calendar_foreach(NULL, count_year, count_entry, NULL);
}

static void
test_free_null(void **state)
{
	(void)state;
	calendar_free(NULL);
}

/*
 * With no listed days, the civil-date arithmetic must agree with glibc's timegm and
 * gmtime_r from 1970 to 2100, on every weekday and at every hour of the day.
 */
static void
test_arithmetic_against_libc(void **state)
{
	struct calendar *cal = *state;
	long long t;
	time_t lt, want;
	struct tm tm;
	int wd;

	for (t = 0; t < 4102444800LL; t += 86400 * 3 + 3607) {
		lt = (time_t)t + HALL_TZ_OFFSET;
		assert_non_null(gmtime_r(&lt, &tm));
		want = eod(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
		assert_int_equal(calendar_due(cal, (time_t)t, 0, NULL), want);
		assert_true(calendar_warning(want, (time_t)t));
		wd = calendar_is_workday(cal, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
		assert_int_equal(wd, tm.tm_wday != 0 && tm.tm_wday != 6);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_spec_sep18, setup_real, teardown),
	    cmocka_unit_test_setup_teardown(test_spec_sep30, setup_real, teardown),
	    cmocka_unit_test_setup_teardown(test_day_boundary, setup_real, teardown),
	    cmocka_unit_test_setup_teardown(test_process_tz_ignored, setup_real, teardown),
	    cmocka_unit_test_setup_teardown(test_spring_festival, setup_real, teardown),
	    cmocka_unit_test_setup_teardown(test_year_without_table, setup_real, teardown),
	    cmocka_unit_test_setup_teardown(test_across_years, setup_real, teardown),
	    cmocka_unit_test_setup_teardown(test_2025_not_provisional, setup_real, teardown),
	    cmocka_unit_test_setup_teardown(test_complaint_and_unresolved, setup_real, teardown),
	    cmocka_unit_test_setup_teardown(test_zero_days, setup_real, teardown),
	    cmocka_unit_test_setup_teardown(test_due_refuses, setup_real, teardown),
	    cmocka_unit_test_setup_teardown(test_listed_day_without_table, setup_real, teardown),
	    cmocka_unit_test_setup_teardown(test_empty_table, setup_empty, teardown),
	    cmocka_unit_test_setup_teardown(test_warning, setup_real, teardown),
	    cmocka_unit_test_setup_teardown(test_is_workday, setup_real, teardown),
	    cmocka_unit_test_setup_teardown(test_shipped_tables, setup_real, teardown),
	    cmocka_unit_test_setup_teardown(test_foreach_order, setup_empty, teardown),
	    cmocka_unit_test_setup_teardown(test_parse_accepts, setup_empty, teardown),
	    cmocka_unit_test_setup_teardown(test_parse_errors, setup_empty, teardown),
	    cmocka_unit_test_setup_teardown(test_parse_overlong_line, setup_empty, teardown),
	    cmocka_unit_test_setup_teardown(test_parse_caps, setup_empty, teardown),
	    cmocka_unit_test_setup_teardown(test_same_date_twice, setup_empty, teardown),
	    cmocka_unit_test_setup_teardown(test_setters_refuse, setup_empty, teardown),
	    cmocka_unit_test(test_free_null),
	    cmocka_unit_test_setup_teardown(test_arithmetic_against_libc, setup_empty, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
