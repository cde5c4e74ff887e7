/*
 * Publishing a working-day calendar at the county: the one place where a calendar text
 * becomes the county's days. The text is parsed by the halls' own parser (calendar_parse,
 * lib/core/calendar.c) and every day of the year is written, as that parser decides it,
 * into calendar_days (sql/county/008), which the SQL that counts follow-up deadlines only
 * looks up. So the county and its halls count working days on one set of rules.
 */
#include <stdio.h>
#include <string.h>

#include "county.h"

struct year_check {
	int year, other;	/* other: a year the text declares or lists besides year */
};

/* One day's row as the bulk statement reads it (row-wise binding). */
struct day_row {
	MYSQL_TIME day;
	signed char workday;
};

static void
check_year(int y, void *arg)
{
	struct year_check *c = arg;

	if (y != c->year)
		c->other = y;
}

static void
check_day(int y, int m, int d, enum cal_kind k, void *arg)
{
	(void)m, (void)d, (void)k;
	check_year(y, arg);
}

/*
 * The text's calendar, when it is a calendar of year and of no other year: a calendars
 * row holds one year, and its days are that year's only. NULL with the reason in err.
 * The caller frees the calendar.
 */
static struct calendar *
parse_year(int year, const char *text, char *err, size_t errlen)
{
	struct year_check chk = {year, 0};
	struct calendar *cal;
	char why[256];

	if (text == NULL) {
		errf(err, errlen, "no text");
		return NULL;
	}
	if ((cal = calendar_new()) == NULL) {
		errf(err, errlen, "out of memory");
		return NULL;
	}
	if (calendar_parse(cal, text, strlen(text), why, sizeof(why)) == -1) {
		errf(err, errlen, "%s", why);
		goto fail;
	}
	if (!calendar_has_year(cal, year)) {
		errf(err, errlen, "no 'year %04d' line", year);
		goto fail;
	}
	calendar_foreach(cal, check_year, check_day, &chk);
	if (chk.other != 0) {
		errf(err, errlen, "the calendar of %04d lists %04d too", year, chk.other);
		goto fail;
	}
	return cal;
fail:
	calendar_free(cal);
	return NULL;
}

/*
 * Every day of year, one row each, in one bulk statement (Connector/C's array binding:
 * one round trip for the 365 or 366 rows). An upsert of every day replaces the year.
 * COUNTY_CAL_STORED or COUNTY_CAL_FAILED.
 */
static int
write_days(MYSQL *db, const struct calendar *cal, int year, char *err, size_t errlen)
{
	struct day_row rows[366];
	MYSQL_STMT *st;
	MYSQL_BIND p[2];
	unsigned int n = 0;
	size_t row_size = sizeof(rows[0]);
	int m, d, w, rc = COUNTY_CAL_FAILED;

	memset(rows, 0, sizeof(rows));
	for (m = 1; m <= 12; m++)
		for (d = 1; d <= 31; d++) {
			if ((w = calendar_is_workday(cal, year, m, d)) == -1)
				continue;	/* no such date */
			rows[n].day.year = (unsigned int)year;
			rows[n].day.month = (unsigned int)m;
			rows[n].day.day = (unsigned int)d;
			rows[n].day.time_type = MYSQL_TIMESTAMP_DATE;
			rows[n].workday = (signed char)w;
			n++;
		}
	memset(p, 0, sizeof(p));
	p[0].buffer_type = MYSQL_TYPE_DATE;
	p[0].buffer = &rows[0].day;
	p[1].buffer_type = MYSQL_TYPE_TINY;
	p[1].buffer = &rows[0].workday;
	if ((st = mysql_stmt_init(db)) == NULL) {
		errf(err, errlen, "out of memory");
		return COUNTY_CAL_FAILED;
	}
	if (mysql_stmt_prepare(st, "INSERT INTO calendar_days (day, workday) VALUES (?, ?) "
			       "ON DUPLICATE KEY UPDATE workday = VALUES(workday)",
		(unsigned long)-1) != 0 ||
	    mysql_stmt_attr_set(st, STMT_ATTR_ARRAY_SIZE, &n) != 0 ||
	    mysql_stmt_attr_set(st, STMT_ATTR_ROW_SIZE, &row_size) != 0 ||
	    mysql_stmt_bind_param(st, p) != 0 || mysql_stmt_execute(st) != 0) {
		errf(err, errlen, "calendar_days: %s", mysql_stmt_error(st));
		goto out;
	}
	rc = COUNTY_CAL_STORED;
out:
	mysql_stmt_close(st);
	return rc;
}

/* INSERT IGNORE (keep) or an upsert of the calendars row: 1 written, 0 kept, -1 error. */
static int
write_text(MYSQL *db, int year, const char *text, enum county_cal_mode mode, char *err,
    size_t errlen)
{
	MYSQL_STMT *st;
	MYSQL_BIND p[2];
	int rc = -1;

	memset(p, 0, sizeof(p));
	p[0].buffer_type = MYSQL_TYPE_LONG;
	p[0].buffer = &year;
	p[1].buffer_type = MYSQL_TYPE_STRING;
	p[1].buffer = (void *)text;
	p[1].buffer_length = strlen(text);
	if ((st = mysql_stmt_init(db)) == NULL) {
		errf(err, errlen, "out of memory");
		return -1;
	}
	if (mysql_stmt_prepare(st, mode == COUNTY_CAL_KEEP ?
		"INSERT IGNORE INTO calendars (year, body) VALUES (?, ?)" :
		"INSERT INTO calendars (year, body) VALUES (?, ?) "
		"ON DUPLICATE KEY UPDATE body = VALUES(body), updated_at = NOW()",
		(unsigned long)-1) != 0 ||
	    mysql_stmt_bind_param(st, p) != 0 || mysql_stmt_execute(st) != 0) {
		errf(err, errlen, "calendars: %s", mysql_stmt_error(st));
		goto out;
	}
	rc = mode == COUNTY_CAL_KEEP && mysql_stmt_affected_rows(st) == 0 ? 0 : 1;
out:
	mysql_stmt_close(st);
	return rc;
}

int
county_calendar_publish(MYSQL *db, int year, const char *text, enum county_cal_mode mode,
    char *err, size_t errlen)
{
	struct calendar *cal;
	int rc;

	errf(err, errlen, "%s", "");
	if ((cal = parse_year(year, text, err, errlen)) == NULL)
		return COUNTY_CAL_REFUSED;
	switch (write_text(db, year, text, mode, err, errlen)) {
	case 1:
		rc = write_days(db, cal, year, err, errlen);
		break;
	case 0:
		rc = COUNTY_CAL_KEPT;
		break;
	default:
		rc = COUNTY_CAL_FAILED;
	}
	calendar_free(cal);
	return rc;
}

int
county_calendar_days(MYSQL *db, int year, const char *text, char *err, size_t errlen)
{
	struct calendar *cal;
	int rc;

	errf(err, errlen, "%s", "");
	if ((cal = parse_year(year, text, err, errlen)) == NULL)
		return COUNTY_CAL_REFUSED;
	rc = write_days(db, cal, year, err, errlen);
	calendar_free(cal);
	return rc;
}
