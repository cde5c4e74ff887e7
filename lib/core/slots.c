/*
 * Appointment slots (SPEC 4.5): which dated slots a schedule's weekly slots give, on the
 * hall's working days (SPEC 3, lib/core/calendar.c), from tomorrow to days_ahead. Pure:
 * the store (lib/store/appointment.c) and the pages hand in the calendar, the slots of one
 * item, the closed days and today, and get dates back; nothing here reads a clock.
 *
 * The one rule the calendar alone does not give: a make-up workday (调休上班, a Saturday
 * or Sunday the calendar makes a working day) takes the slots of its own weekday when the
 * item's schedule names any, else Monday's. A holiday on a weekday has none.
 */
#include <stdio.h>
#include <string.h>

#include "core.h"

/* Days since 1970-01-01 of a civil date (the date at noon UTC keeps clear of any edge). */
static long long
day_number(const struct ymd *d)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = d->y - 1900;
	tm.tm_mon = d->m - 1;
	tm.tm_mday = d->d;
	tm.tm_hour = 12;
	return (long long)(timegm(&tm) / 86400);
}

static struct ymd
day_civil(long long z)
{
	time_t t = (time_t)(z * 86400 + 12 * 3600);
	struct tm tm;
	struct ymd d;

	gmtime_r(&t, &tm);
	d.y = tm.tm_year + 1900;
	d.m = tm.tm_mon + 1;
	d.d = tm.tm_mday;
	return d;
}

int
slots_parse_date(const char *s, struct ymd *out)
{
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int i, leap;

	if (s == NULL || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return -1;
	for (i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return -1;
	out->y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
	out->m = (s[5] - '0') * 10 + (s[6] - '0');
	out->d = (s[8] - '0') * 10 + (s[9] - '0');
	if (out->y < 2000 || out->y > 2099 || out->m < 1 || out->m > 12 || out->d < 1 ||
	    out->d > mdays[out->m - 1])
		return -1;
	leap = (out->y % 4 == 0 && out->y % 100 != 0) || out->y % 400 == 0;
	return out->m == 2 && out->d == 29 && !leap ? -1 : 0;
}

void
slots_format_date(char out[11], const struct ymd *d)
{
	snprintf(out, 11, "%04u-%02u-%02u", (unsigned)d->y % 10000, (unsigned)d->m % 100,
	    (unsigned)d->d % 100);
}

int
slots_parse_time(const char *s)
{
	int h, m;

	if (s == NULL || strlen(s) != 5 || s[2] != ':' || s[0] < '0' || s[0] > '2' ||
	    s[1] < '0' || s[1] > '9' || s[3] < '0' || s[3] > '5' || s[4] < '0' || s[4] > '9')
		return -1;
	h = (s[0] - '0') * 10 + (s[1] - '0');
	m = (s[3] - '0') * 10 + (s[4] - '0');
	return h > 23 ? -1 : h * 60 + m;
}

struct ymd
slots_today(time_t now)
{
	return day_civil(((long long)now + HALL_TZ_OFFSET) / 86400);
}

int
slots_days_between(const struct ymd *a, const struct ymd *b)
{
	return (int)(day_number(b) - day_number(a));
}

struct ymd
slots_add_days(const struct ymd *d, int n)
{
	return day_civil(day_number(d) + n);
}

int
slots_weekday(const struct ymd *d)
{
	/* 1970-01-01 was a Thursday (4) */
	long long w = (day_number(d) + 3) % 7;

	return (int)(w < 0 ? w + 7 : w) + 1;
}

static int
day_closed(const struct slots_in *in, const struct ymd *d)
{
	char text[11];
	size_t i;

	slots_format_date(text, d);
	for (i = 0; i < in->nclosed; i++)
		if (strcmp(in->closed[i], text) == 0)
			return 1;
	return 0;
}

int
slots_day_weekday(const struct slots_in *in, const struct ymd *d)
{
	int w = slots_weekday(d);
	size_t i;

	if (!calendar_is_workday(in->cal, d->y, d->m, d->d) || day_closed(in, d))
		return 0;
	if (w <= 5)
		return w;
	for (i = 0; i < in->ndefs; i++)
		if (in->defs[i].weekday == w)
			return w;
	return 1;	/* a make-up workday whose weekday the schedule does not name */
}

enum slots_date
slots_date_check(const struct slots_in *in, const struct ymd *d)
{
	int ahead = slots_days_between(&in->today, d);

	if (ahead < 1)
		return SLOTS_PAST;
	if (ahead > in->days_ahead)
		return SLOTS_FAR;
	return slots_day_weekday(in, d) == 0 ? SLOTS_NOT_WORKDAY : SLOTS_DATE_OK;
}

const struct slot_def *
slots_find(const struct slots_in *in, const struct ymd *d, const char *start)
{
	int w;
	size_t i;

	if (slots_date_check(in, d) != SLOTS_DATE_OK || (w = slots_day_weekday(in, d)) == 0)
		return NULL;
	for (i = 0; i < in->ndefs; i++)
		if (in->defs[i].weekday == w && strcmp(in->defs[i].start, start) == 0)
			return &in->defs[i];
	return NULL;
}

int
slots_generate(const struct slots_in *in, const struct ymd *from,
    int (*fn)(const struct ymd *, const struct slot_def *, void *), void *arg)
{
	struct ymd d;
	int i, first = 1, w, rc;
	size_t k;

	if (from != NULL && slots_days_between(&in->today, from) > first)
		first = slots_days_between(&in->today, from);
	for (i = first; i <= in->days_ahead; i++) {
		d = slots_add_days(&in->today, i);
		if ((w = slots_day_weekday(in, &d)) == 0)
			continue;
		/* the schedule's order within a day is by start time (sorted by the store) */
		for (k = 0; k < in->ndefs; k++)
			if (in->defs[k].weekday == w && (rc = fn(&d, &in->defs[k], arg)) != 0)
				return rc;
	}
	return 0;
}
