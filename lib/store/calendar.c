/*
 * The working-day calendar as the hall's store holds it (the rules themselves are
 * lib/core/calendar.c): the years and days the county published, loaded into memory once
 * and again only when meta calendar_version says a new table came in. An import replaces
 * whole years and gives the open cases whose deadline was provisional a new one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "store_int.h"

static int
store_calendar_load(struct store *s, struct calendar *cal)
{
	sqlite3_stmt *st;
	int step, y, m, d;

	if ((st = store_stmt(s, "SELECT year FROM calendar_years")) == NULL)
		goto fail;
	while ((step = sqlite3_step(st)) == SQLITE_ROW)
		if (calendar_add_year(cal, sqlite3_column_int(st, 0)) == -1)
			goto fail;
	sqlite3_reset(st);
	if ((st = store_stmt(s, "SELECT day, kind FROM calendar_days")) == NULL)
		goto fail;
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		const char *day = (const char *)sqlite3_column_text(st, 0);
		const char *kind = (const char *)sqlite3_column_text(st, 1);

		if (day == NULL || kind == NULL || sscanf(day, "%d-%d-%d", &y, &m, &d) != 3 ||
		    calendar_set_day(cal, y, m, d,
			strcmp(kind, "holiday") == 0 ? CAL_HOLIDAY : CAL_WORKDAY) == -1)
			goto fail;
	}
	if (step != SQLITE_DONE)
		goto fail;
	sqlite3_reset(st);
	return 0;
fail:
	log_warnx("%s: %s", __func__, store_errmsg(s));
	if (st != NULL)
		sqlite3_reset(st);
	return -1;
}

const struct calendar *
store_calendar(struct store *s)
{
	struct calendar *cal;
	char text[32];
	long version = 0;

	switch (store_meta(s, "calendar_version", text, sizeof(text))) {
	case -1:
		return NULL;
	case 1:
		version = strtol(text, NULL, 10);
		break;
	default:
		break;
	}
	if (s->cal != NULL && version == s->cal_version)
		return s->cal;
	if ((cal = calendar_new()) == NULL)
		return NULL;
	if (store_calendar_load(s, cal) == -1) {
		calendar_free(cal);
		return NULL;
	}
	calendar_free(s->cal);
	s->cal = cal;
	s->cal_version = version;
	return cal;
}

struct import_ctx {
	struct store *s;
	int failed;
};

static void
import_year(int year, void *arg)
{
	struct import_ctx *x = arg;
	sqlite3_stmt *clear, *put;
	char from[16], to[16];

	snprintf(from, sizeof(from), "%04d-01-01", year);
	snprintf(to, sizeof(to), "%04d-12-31", year);
	if ((clear = store_stmt(x->s, "DELETE FROM calendar_days WHERE day BETWEEN ?1 AND ?2")) ==
	    NULL) {
		x->failed = 1;
		return;
	}
	store_bind_text(clear, 1, from);
	store_bind_text(clear, 2, to);
	if (store_done(x->s, clear) == -1 ||
	    (put = store_stmt(x->s, "INSERT INTO calendar_years (year, updated_at) "
				    "VALUES (?1, ?2) ON CONFLICT (year) "
				    "DO UPDATE SET updated_at = excluded.updated_at")) == NULL) {
		x->failed = 1;
		return;
	}
	sqlite3_bind_int(put, 1, year);
	sqlite3_bind_int64(put, 2, (sqlite3_int64)time(NULL));
	if (store_done(x->s, put) == -1)
		x->failed = 1;
}

static void
import_day(int y, int m, int d, enum cal_kind kind, void *arg)
{
	struct import_ctx *x = arg;
	sqlite3_stmt *st;
	char day[16];

	snprintf(day, sizeof(day), "%04d-%02d-%02d", y, m, d);
	if ((st = store_stmt(x->s, "INSERT INTO calendar_days (day, kind) VALUES (?1, ?2) "
				   "ON CONFLICT (day) DO UPDATE SET kind = excluded.kind")) ==
	    NULL) {
		x->failed = 1;
		return;
	}
	store_bind_text(st, 1, day);
	store_bind_text(st, 2, kind == CAL_HOLIDAY ? "holiday" : "workday");
	if (store_done(x->s, st) == -1)
		x->failed = 1;
}

int
store_calendar_import(struct store *s, const struct calendar *in, const struct hall_config *cfg)
{
	int n;

	if (store_begin_write(s) == -1)
		return -1;
	if ((n = store_calendar_import_locked(s, in, cfg)) == -1 || store_commit(s) == -1) {
		store_rollback(s);
		s->cal_version = -1;	/* the cached calendar may be the rolled-back one */
		return -1;
	}
	return n;
}

/* Open cases whose deadline was provisional get it again from cal; the number, or -1. */
static int
store_calendar_redue(struct store *s, const struct calendar *cal,
    const struct hall_config *cfg)
{
	sqlite3_stmt *open, *upd;
	int n = 0, step;

	if ((open = store_stmt(s, "SELECT case_no, kind, submitted_at FROM cases "
				  "WHERE due_provisional = 1 "
				  "AND status NOT IN ('answered','resolved','rejected')")) == NULL)
		return -1;
	while ((step = sqlite3_step(open)) == SQLITE_ROW) {
		int prov;
		time_t due = calendar_due(cal, sqlite3_column_int64(open, 2),
		    case_days(cfg, (const char *)sqlite3_column_text(open, 1)), &prov);

		if (due == (time_t)-1 ||
		    (upd = store_stmt(s, "UPDATE cases SET due_at = ?2, due_provisional = ?3 "
					 "WHERE case_no = ?1")) == NULL)
			goto fail;
		sqlite3_bind_value(upd, 1, sqlite3_column_value(open, 0));
		sqlite3_bind_int64(upd, 2, due);
		sqlite3_bind_int(upd, 3, prov);
		if (store_done(s, upd) == -1)
			goto fail;
		n++;
	}
	if (step != SQLITE_DONE)
		goto fail;
	sqlite3_reset(open);
	return n;
fail:
	sqlite3_reset(open);
	return -1;
}

int
store_calendar_import_locked(struct store *s, const struct calendar *in,
    const struct hall_config *cfg)
{
	struct import_ctx x = {s, 0};
	const struct calendar *cal;
	char text[32];
	long version = 0;
	int n;

	/* a year's table replaces whatever the store held for that year */
	calendar_foreach(in, import_year, NULL, &x);
	calendar_foreach(in, NULL, import_day, &x);
	if (x.failed)
		goto fail;
	if (store_meta(s, "calendar_version", text, sizeof(text)) == 1)
		version = strtol(text, NULL, 10);
	snprintf(text, sizeof(text), "%ld", version + 1);
	if (store_meta_set(s, "calendar_version", text) == -1 || (cal = store_calendar(s)) == NULL)
		goto fail;
	if ((n = store_calendar_redue(s, cal, cfg)) == -1)
		goto fail;
	return n;
fail:
	log_warnx("%s: %s", __func__, store_errmsg(s));
	s->cal_version = -1;
	return -1;
}
