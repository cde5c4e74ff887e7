/*
 * lib/core/slots.c: the dated slots of a weekly schedule on the hall's working days (SPEC
 * 3 and 4.5), against the shipped 2026 calendar: make-up workdays take their own weekday's
 * slots when the schedule names any, else Monday's; holidays and closed days have none;
 * a year without a table is Monday to Friday; a schedule is read against the calendar held
 * at the time of the request, so one that arrived before a calendar change follows the new
 * calendar. Runs from the repository root.
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

/* Monday to Friday at 09:00, Wednesday also at 14:00. */
static const struct slot_def weekdays[] = {
	{1, "09:00", "09:30", 5}, {2, "09:00", "09:30", 5}, {3, "09:00", "09:30", 5},
	{3, "14:00", "14:30", 2}, {4, "09:00", "09:30", 5}, {5, "09:00", "09:30", 5},
};
/* The same, and a Saturday slot of its own at 10:00 (for make-up Saturdays). */
static const struct slot_def with_saturday[] = {
	{1, "09:00", "09:30", 5}, {2, "09:00", "09:30", 5}, {3, "09:00", "09:30", 5},
	{4, "09:00", "09:30", 5}, {5, "09:00", "09:30", 5}, {6, "10:00", "10:30", 3},
};

static struct ymd
ymd(int y, int m, int d)
{
	struct ymd v = {y, m, d};

	return v;
}

static void
in_make(struct slots_in *in, const struct calendar *cal, const struct slot_def *defs,
    size_t n, struct ymd today, int days_ahead)
{
	memset(in, 0, sizeof(*in));
	in->cal = cal;
	in->defs = defs;
	in->ndefs = n;
	in->today = today;
	in->days_ahead = days_ahead;
}

/* The walk written out: "2026-02-14 09:00," per slot. */
static int
collect(const struct ymd *d, const struct slot_def *s, void *arg)
{
	char date[11], line[32];

	slots_format_date(date, d);
	snprintf(line, sizeof(line), "%s %s,", date, s->start);
	strcat(arg, line);
	return 0;
}

static char out[8192];

static const char *
walk(const struct slots_in *in, const struct ymd *from)
{
	out[0] = '\0';
	assert_int_equal(slots_generate(in, from, collect, out), 0);
	return out;
}

static struct calendar *
cal_2026(void)
{
	struct calendar *cal = calendar_new();

	assert_non_null(cal);
	unit_calendar_load(cal, "conf/calendar/2025.txt");
	unit_calendar_load(cal, "conf/calendar/2026.txt");
	return cal;
}

/* 2026-02-14 (Saturday) and 2026-02-28 are make-up workdays; Feb 15-23 the Spring Festival. */
static void
test_makeup_saturday_takes_mondays(void **state)
{
	struct calendar *cal = cal_2026();
	struct slots_in in;

	(void)state;
	in_make(&in, cal, weekdays, 6, ymd(2026, 2, 10), 18);
	assert_string_equal(walk(&in, NULL),
	    "2026-02-11 09:00,2026-02-11 14:00,2026-02-12 09:00,2026-02-13 09:00,"
	    "2026-02-14 09:00,"		/* Saturday, make-up: Monday's slots */
	    "2026-02-24 09:00,2026-02-25 09:00,2026-02-25 14:00,2026-02-26 09:00,"
	    "2026-02-27 09:00,2026-02-28 09:00,");
	assert_int_equal(slots_day_weekday(&in, &(struct ymd){2026, 2, 14}), 1);
	assert_int_equal(slots_day_weekday(&in, &(struct ymd){2026, 2, 16}), 0);
	assert_int_equal(slots_date_check(&in, &(struct ymd){2026, 2, 16}), SLOTS_NOT_WORKDAY);
	assert_int_equal(slots_date_check(&in, &(struct ymd){2026, 2, 14}), SLOTS_DATE_OK);
	calendar_free(cal);
}

static void
test_makeup_saturday_takes_its_own(void **state)
{
	struct calendar *cal = cal_2026();
	struct slots_in in;

	(void)state;
	in_make(&in, cal, with_saturday, 6, ymd(2026, 2, 12), 3);
	assert_string_equal(walk(&in, NULL), "2026-02-13 09:00,2026-02-14 10:00,");
	/* an ordinary Saturday has none, whatever the schedule says */
	in_make(&in, cal, with_saturday, 6, ymd(2026, 3, 5), 3);
	assert_string_equal(walk(&in, NULL), "2026-03-06 09:00,");
	calendar_free(cal);
}

/* Sunday 2026-09-20 and Saturday 2026-10-10 are make-up workdays. */
static void
test_makeup_sunday_and_october(void **state)
{
	struct calendar *cal = cal_2026();
	struct slots_in in;

	(void)state;
	in_make(&in, cal, weekdays, 6, ymd(2026, 9, 18), 3);
	/* Sep 19 Saturday: off; Sep 20 Sunday: make-up, Monday's slot; Sep 21 Monday */
	assert_string_equal(walk(&in, NULL), "2026-09-20 09:00,2026-09-21 09:00,");
	assert_int_equal(slots_weekday(&(struct ymd){2026, 9, 20}), 7);
	assert_int_equal(slots_day_weekday(&in, &(struct ymd){2026, 10, 10}), 1);
	calendar_free(cal);
}

/* The National Day week, Oct 1-7: no slots; Oct 10 (Saturday) is a make-up workday. */
static void
test_national_day_week(void **state)
{
	struct calendar *cal = cal_2026();
	struct slots_in in;

	(void)state;
	in_make(&in, cal, weekdays, 6, ymd(2026, 9, 28), 14);
	assert_string_equal(walk(&in, NULL),
	    "2026-09-29 09:00,2026-09-30 09:00,2026-09-30 14:00,"
	    "2026-10-08 09:00,2026-10-09 09:00,2026-10-10 09:00,2026-10-12 09:00,");
	/* from a later day: the walk starts there */
	assert_string_equal(walk(&in, &(struct ymd){2026, 10, 9}),
	    "2026-10-09 09:00,2026-10-10 09:00,2026-10-12 09:00,");
	/* from before tomorrow: tomorrow */
	assert_string_equal(walk(&in, &(struct ymd){2026, 1, 1}),
	    "2026-09-29 09:00,2026-09-30 09:00,2026-09-30 14:00,"
	    "2026-10-08 09:00,2026-10-09 09:00,2026-10-10 09:00,2026-10-12 09:00,");
	assert_null(slots_find(&in, &(struct ymd){2026, 10, 1}, "09:00"));
	calendar_free(cal);
}

/* 2027 has no table: Monday to Friday, so Friday 2027-10-01 has slots. */
static void
test_year_without_table(void **state)
{
	struct calendar *cal = cal_2026();
	struct slots_in in;

	(void)state;
	assert_false(calendar_has_year(cal, 2027));
	in_make(&in, cal, with_saturday, 6, ymd(2027, 9, 29), 5);
	assert_string_equal(walk(&in, NULL),
	    "2027-09-30 09:00,2027-10-01 09:00,2027-10-04 09:00,");
	calendar_free(cal);
}

/* A schedule held since before the 2026 table came: read against the calendar of now. */
static void
test_schedule_after_calendar_change(void **state)
{
	struct calendar *cal = calendar_new();
	struct slots_in in;

	(void)state;
	assert_non_null(cal);
	unit_calendar_load(cal, "conf/calendar/2025.txt");
	in_make(&in, cal, weekdays, 6, ymd(2026, 9, 29), 4);
	assert_string_equal(walk(&in, NULL),
	    "2026-09-30 09:00,2026-09-30 14:00,2026-10-01 09:00,2026-10-02 09:00,");
	unit_calendar_load(cal, "conf/calendar/2026.txt");
	assert_string_equal(walk(&in, NULL), "2026-09-30 09:00,2026-09-30 14:00,");
	calendar_free(cal);
}

static void
test_closed_days_and_limits(void **state)
{
	static const char *const closed[] = {"2026-12-10", "2026-12-08"};
	struct calendar *cal = cal_2026();
	struct slots_in in;
	const struct slot_def *s;

	(void)state;
	in_make(&in, cal, weekdays, 6, ymd(2026, 12, 7), 4);
	in.closed = closed;
	in.nclosed = 2;
	assert_string_equal(walk(&in, NULL), "2026-12-09 09:00,2026-12-09 14:00,2026-12-11 09:00,");
	assert_int_equal(slots_date_check(&in, &(struct ymd){2026, 12, 10}), SLOTS_NOT_WORKDAY);
	assert_int_equal(slots_date_check(&in, &(struct ymd){2026, 12, 7}), SLOTS_PAST);
	assert_int_equal(slots_date_check(&in, &(struct ymd){2026, 12, 1}), SLOTS_PAST);
	assert_int_equal(slots_date_check(&in, &(struct ymd){2026, 12, 11}), SLOTS_DATE_OK);
	assert_int_equal(slots_date_check(&in, &(struct ymd){2026, 12, 14}), SLOTS_FAR);
	assert_int_equal(slots_date_check(&in, &(struct ymd){2026, 12, 12}), SLOTS_FAR);
	assert_non_null(s = slots_find(&in, &(struct ymd){2026, 12, 9}, "14:00"));
	assert_string_equal(s->end, "14:30");
	assert_int_equal(s->capacity, 2);
	assert_null(slots_find(&in, &(struct ymd){2026, 12, 11}, "14:00"));
	assert_null(slots_find(&in, &(struct ymd){2026, 12, 9}, "09:01"));
	calendar_free(cal);
}

static void
test_parsers(void **state)
{
	static const char *const bad_dates[] = {"2026-02-30", "2026-2-01", "2025-02-29",
	    "2026-13-01", "2026-00-10", "20260101", "2026-01-01 ", "１０２６-01-01", "", NULL};
	static const char *const bad_times[] = {"24:00", "9:00", "09:60", "0900", "09:00:00",
	    "", NULL};
	struct ymd d;
	char text[11];
	size_t i;

	(void)state;
	for (i = 0; bad_dates[i] != NULL; i++)
		if (slots_parse_date(bad_dates[i], &d) != -1)
			fail_msg("date %s was taken", bad_dates[i]);
	assert_int_equal(slots_parse_date(NULL, &d), -1);
	assert_int_equal(slots_parse_date("2028-02-29", &d), 0);
	slots_format_date(text, &d);
	assert_string_equal(text, "2028-02-29");
	for (i = 0; bad_times[i] != NULL; i++)
		if (slots_parse_time(bad_times[i]) != -1)
			fail_msg("time %s was taken", bad_times[i]);
	assert_int_equal(slots_parse_time("23:59"), 23 * 60 + 59);
	assert_int_equal(slots_parse_time("00:00"), 0);
	/* today in Asia/Shanghai: 2026-09-30T16:00:00Z is already Oct 1 there */
	d = slots_today(1790784000);
	slots_format_date(text, &d);
	assert_string_equal(text, "2026-10-01");
	d = slots_today(1790784000 - 1);
	slots_format_date(text, &d);
	assert_string_equal(text, "2026-09-30");
	d = slots_add_days(&(struct ymd){2026, 12, 30}, 3);
	slots_format_date(text, &d);
	assert_string_equal(text, "2027-01-02");
	assert_int_equal(slots_days_between(&(struct ymd){2026, 12, 30}, &d), 3);
	assert_int_equal(slots_weekday(&(struct ymd){2026, 2, 14}), 6);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_makeup_saturday_takes_mondays),
	    cmocka_unit_test(test_makeup_saturday_takes_its_own),
	    cmocka_unit_test(test_makeup_sunday_and_october),
	    cmocka_unit_test(test_national_day_week),
	    cmocka_unit_test(test_year_without_table),
	    cmocka_unit_test(test_schedule_after_calendar_change),
	    cmocka_unit_test(test_closed_days_and_limits),
	    cmocka_unit_test(test_parsers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
