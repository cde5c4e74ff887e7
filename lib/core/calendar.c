/*
 * The working-day calendar (SPEC section 3).
 *
 * Every date is a civil date in Asia/Shanghai, which has been UTC+08:00 without daylight
 * saving since 1991, so a fixed offset (HALL_TZ_OFFSET) is exact and the process's TZ and
 * localtime() are never consulted: a hall whose clock is set to UTC must compute the same
 * deadlines as one set to Beijing time.  Civil dates are turned into day numbers and back
 * with Howard Hinnant's integer algorithms ("chrono-Compatible Low-Level Date Algorithms",
 * https://howardhinnant.github.io/date_algorithms.html).
 *
 * Storage is one byte per day from 2000-01-01 to 2099-12-31 (about 36 KiB) plus one byte
 * per year: a lookup is an index, there is nothing to sort or grow, and the parser's
 * staging copy is the same structure.  The text format is in conf/calendar/README.md.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

#define CAL_FIRST_YEAR 2000
#define CAL_LAST_YEAR 2099
#define CAL_NYEARS (CAL_LAST_YEAR - CAL_FIRST_YEAR + 1)
#define CAL_DAY0 10957LL /* days_from_civil(2000, 1, 1) */
#define CAL_NDAYS 36525  /* 2000-01-01 .. 2099-12-31 */

#define CAL_MAX_TEXT (256 * 1024)   /* a year's table is about 2 KiB */
#define CAL_MAX_LINE 200            /* bytes, without the line end */
#define CAL_MAX_ENTRIES 1000        /* year and day lines in one text */
#define CAL_MAX_DUE 366             /* working days; time limits are a handful */
#define CAL_MAX_TIME 253402300799LL /* 9999-12-31T23:59:59Z */

struct calendar {
	unsigned char year[CAL_NYEARS]; /* 1: the county published a table */
	unsigned char day[CAL_NDAYS];   /* 0 or enum cal_kind, by day since 2000-01-01 */
};

static long long days_from_civil(long long, int, int);
static void civil_from_days(long long, int *, int *, int *);
static int weekday(long long);
static int valid_date(int, int, int);
static long long local_day(time_t);
static int kind_at(const struct calendar *, long long);
static int workday_at(const struct calendar *, long long);
static int text_ok(const char *, size_t);
static size_t token(const char *, size_t, size_t, size_t *);
static int digits(const char *, size_t, int *);
static int parse_line(struct calendar *, const char *, size_t, int *, char *, size_t);

/* Days since 1970-01-01 of a proleptic Gregorian date (Hinnant, days_from_civil). */
static long long
days_from_civil(long long y, int m, int d)
{
	long long era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* The inverse (Hinnant, civil_from_days); any out pointer may be NULL. */
static void
civil_from_days(long long z, int *yp, int *mp, int *dp)
{
	long long era, doe, yoe, doy, mm, y;
	int m;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	y = yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mm = (5 * doy + 2) / 153;
	m = (int)(mm < 10 ? mm + 3 : mm - 9);
	if (yp != NULL)
		*yp = (int)(y + (m <= 2));
	if (mp != NULL)
		*mp = m;
	if (dp != NULL)
		*dp = (int)(doy - (153 * mm + 2) / 5 + 1);
}

/* 0 = Sunday .. 6 = Saturday; 1970-01-01 was a Thursday. */
static int
weekday(long long z)
{
	return (int)(z >= -4 ? (z + 4) % 7 : (z + 5) % 7 + 6);
}

static int
valid_date(int y, int m, int d)
{
	static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int leap, n;

	if (m < 1 || m > 12 || d < 1)
		return 0;
	leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	n = mdays[m - 1] + (m == 2 && leap);
	return d <= n;
}

/* The Asia/Shanghai civil day of t, as days since 1970-01-01; never overflows. */
static long long
local_day(time_t t)
{
	long long q, r;

	q = (long long)t / 86400;
	r = (long long)t % 86400;
	if (r < 0) {
		q--;
		r += 86400;
	}
	return q + (r + HALL_TZ_OFFSET) / 86400;
}

static int
kind_at(const struct calendar *cal, long long z)
{
	if (z < CAL_DAY0 || z >= CAL_DAY0 + CAL_NDAYS)
		return 0;
	return cal->day[z - CAL_DAY0];
}

static int
workday_at(const struct calendar *cal, long long z)
{
	int wd;

	switch (kind_at(cal, z)) {
	case CAL_HOLIDAY:
		return 0;
	case CAL_WORKDAY:
		return 1;
	default:
		wd = weekday(z);
		return wd != 0 && wd != 6;
	}
}

struct calendar *
calendar_new(void)
{
	return calloc(1, sizeof(struct calendar));
}

void
calendar_free(struct calendar *cal)
{
	free(cal);
}

int
calendar_add_year(struct calendar *cal, int year)
{
	if (cal == NULL || year < CAL_FIRST_YEAR || year > CAL_LAST_YEAR)
		return -1;
	cal->year[year - CAL_FIRST_YEAR] = 1;
	return 0;
}

/* A later call for the same day replaces the earlier one: a revised table wins. */
int
calendar_set_day(struct calendar *cal, int y, int m, int d, enum cal_kind kind)
{
	if (cal == NULL || y < CAL_FIRST_YEAR || y > CAL_LAST_YEAR || !valid_date(y, m, d))
		return -1;
	if (kind != CAL_HOLIDAY && kind != CAL_WORKDAY)
		return -1;
	cal->day[days_from_civil(y, m, d) - CAL_DAY0] = (unsigned char)kind;
	return 0;
}

int
calendar_has_year(const struct calendar *cal, int year)
{
	if (cal == NULL || year < CAL_FIRST_YEAR || year > CAL_LAST_YEAR)
		return 0;
	return cal->year[year - CAL_FIRST_YEAR];
}

/* 1 working day, 0 not, -1 for a date that does not exist. */
int
calendar_is_workday(const struct calendar *cal, int y, int m, int d)
{
	if (cal == NULL || !valid_date(y, m, d))
		return -1;
	return workday_at(cal, days_from_civil(y, m, d));
}

/*
 * Returns (time_t)-1 for a NULL calendar, more than CAL_MAX_DUE working days, or a
 * submission before 1970 or after 9999: none is a real case, and refusing them keeps
 * every sum below in range.
 */
time_t
calendar_due(const struct calendar *cal, time_t submitted, int ndays, int *provisional)
{
	long long z;
	int n = 0, prov = 0, y;

	if (provisional != NULL)
		*provisional = 0;
	if (cal == NULL || ndays > CAL_MAX_DUE || (long long)submitted < 0 ||
	    (long long)submitted > CAL_MAX_TIME)
		return (time_t)-1;
	z = local_day(submitted);
	while (n < ndays) {
		z++;
		civil_from_days(z, &y, NULL, NULL);
		if (!calendar_has_year(cal, y))
			prov = 1;
		if (workday_at(cal, z))
			n++;
	}
	if (provisional != NULL)
		*provisional = prov;
	return (time_t)((z + 1) * 86400 - 1 - HALL_TZ_OFFSET);
}

int
calendar_warning(time_t due, time_t now)
{
	return now <= due && local_day(now) == local_day(due);
}

/* Years in order, each followed by its listed days, so the output reads like the file. */
void
calendar_foreach(const struct calendar *cal, void (*year_fn)(int, void *),
                 void (*day_fn)(int, int, int, enum cal_kind, void *), void *arg)
{
	long long z, end;
	int y, m, d;

	if (cal == NULL)
		return;
	for (y = CAL_FIRST_YEAR; y <= CAL_LAST_YEAR; y++) {
		if (year_fn != NULL && cal->year[y - CAL_FIRST_YEAR])
			year_fn(y, arg);
		if (day_fn == NULL)
			continue;
		end = days_from_civil(y + 1, 1, 1);
		for (z = days_from_civil(y, 1, 1); z < end; z++) {
			if (cal->day[z - CAL_DAY0] == 0)
				continue;
			civil_from_days(z, NULL, &m, &d);
			day_fn(y, m, d, (enum cal_kind)cal->day[z - CAL_DAY0], arg);
		}
	}
}

/* 1 when s[0..len) is valid UTF-8 with no control characters but tab. */
static int
text_ok(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (((unsigned char)s[i] < 0x20 && s[i] != '\t') || s[i] == 0x7f)
			return 0;
	return utf8_valid(s, len);
}

/* Skips blanks from *pos; returns the length of the next token and leaves *pos at it. */
static size_t
token(const char *s, size_t len, size_t from, size_t *pos)
{
	size_t i = from, start;

	while (i < len && (s[i] == ' ' || s[i] == '\t'))
		i++;
	start = i;
	while (i < len && s[i] != ' ' && s[i] != '\t')
		i++;
	*pos = start;
	return i - start;
}

/* A fixed number of decimal digits, no sign: "2026", "09". */
static int
digits(const char *s, size_t n, int *out)
{
	size_t i;
	int v = 0;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

/*
 * One line, without its line end, into the staging calendar st.  A year line must come
 * before the year's day lines so that a text never lists days of a year it does not
 * declare; a date listed twice is refused because nothing says which line was meant.
 */
static int
parse_line(struct calendar *st, const char *s, size_t len, int *entries, char *msg, size_t msglen)
{
	size_t pos, n, rest;
	int y, m, d;
	enum cal_kind kind;

	if (!text_ok(s, len)) {
		errf(msg, msglen, "invalid UTF-8 or a control character");
		return -1;
	}
	n = token(s, len, 0, &pos);
	if (n == 0 || s[pos] == '#')
		return 0;
	if (++*entries > CAL_MAX_ENTRIES) {
		errf(msg, msglen, "more than %d entries", CAL_MAX_ENTRIES);
		return -1;
	}

	if (n == 4 && memcmp(s + pos, "year", 4) == 0) {
		n = token(s, len, pos + n, &pos);
		if (n != 4 || digits(s + pos, 4, &y) == -1) {
			errf(msg, msglen, "expected 'year YYYY'");
			return -1;
		}
		if (token(s, len, pos + n, &rest) != 0) {
			errf(msg, msglen, "text after 'year %04d'", y);
			return -1;
		}
		if (y < CAL_FIRST_YEAR || y > CAL_LAST_YEAR) {
			errf(msg, msglen, "year %04d outside %d..%d", y, CAL_FIRST_YEAR,
			       CAL_LAST_YEAR);
			return -1;
		}
		if (st->year[y - CAL_FIRST_YEAR]) {
			errf(msg, msglen, "year %04d declared twice", y);
			return -1;
		}
		st->year[y - CAL_FIRST_YEAR] = 1;
		return 0;
	}

	if (s[pos] < '0' || s[pos] > '9') {
		errf(msg, msglen, "expected 'year YYYY' or 'YYYY-MM-DD holiday|workday [name]'");
		return -1;
	}
	if (n != 10 || s[pos + 4] != '-' || s[pos + 7] != '-' || digits(s + pos, 4, &y) == -1 ||
	    digits(s + pos + 5, 2, &m) == -1 || digits(s + pos + 8, 2, &d) == -1) {
		errf(msg, msglen, "malformed date, expected YYYY-MM-DD");
		return -1;
	}
	if (y < CAL_FIRST_YEAR || y > CAL_LAST_YEAR || !valid_date(y, m, d)) {
		errf(msg, msglen, "no such date %04d-%02d-%02d (years %d..%d)", y, m, d,
		       CAL_FIRST_YEAR, CAL_LAST_YEAR);
		return -1;
	}
	if (!st->year[y - CAL_FIRST_YEAR]) {
		errf(msg, msglen, "%04d-%02d-%02d comes before a 'year %04d' line", y, m, d, y);
		return -1;
	}
	n = token(s, len, pos + n, &pos);
	if (n == 7 && memcmp(s + pos, "holiday", 7) == 0)
		kind = CAL_HOLIDAY;
	else if (n == 7 && memcmp(s + pos, "workday", 7) == 0)
		kind = CAL_WORKDAY;
	else {
		errf(msg, msglen, "expected 'holiday' or 'workday' after the date");
		return -1;
	}
	/* Whatever follows the kind is the day's name, for people only. */
	if (st->day[days_from_civil(y, m, d) - CAL_DAY0] != 0) {
		errf(msg, msglen, "%04d-%02d-%02d listed twice", y, m, d);
		return -1;
	}
	st->day[days_from_civil(y, m, d) - CAL_DAY0] = (unsigned char)kind;
	return 0;
}

/*
 * The whole text is checked into a staging calendar first and merged only when every line
 * is good, so a damaged file from the downlink leaves the hall's calendar as it was.  On
 * error, err names the line; the caller, which knows the file name, logs it.
 */
int
calendar_parse(struct calendar *cal, const char *text, size_t len, char *err, size_t errlen)
{
	struct calendar *st = NULL;
	const char *nl;
	char msg[128];
	size_t pos = 0, n, next, i;
	int lineno = 0, entries = 0;

	errf(err, errlen, "%s", "");
	if (cal == NULL || (text == NULL && len > 0)) {
		errf(err, errlen, "no calendar or no text");
		return -1;
	}
	if (len > CAL_MAX_TEXT) {
		errf(err, errlen, "calendar text longer than %d bytes", CAL_MAX_TEXT);
		return -1;
	}
	if ((st = calendar_new()) == NULL) {
		errf(err, errlen, "out of memory");
		return -1;
	}
	while (pos < len) {
		lineno++;
		nl = memchr(text + pos, '\n', len - pos);
		n = nl != NULL ? (size_t)(nl - (text + pos)) : len - pos;
		next = pos + n + (nl != NULL);
		if (n > 0 && text[pos + n - 1] == '\r')
			n--;
		if (n > CAL_MAX_LINE) {
			errf(err, errlen, "line %d: longer than %d bytes", lineno, CAL_MAX_LINE);
			goto fail;
		}
		if (parse_line(st, text + pos, n, &entries, msg, sizeof(msg)) == -1) {
			errf(err, errlen, "line %d: %s", lineno, msg);
			goto fail;
		}
		pos = next;
	}

	for (i = 0; i < CAL_NYEARS; i++)
		if (st->year[i])
			cal->year[i] = 1;
	for (i = 0; i < CAL_NDAYS; i++)
		if (st->day[i] != 0)
			cal->day[i] = st->day[i];
	calendar_free(st);
	return 0;

fail:
	calendar_free(st);
	return -1;
}
