/*
 * The county downlink: what the county holds for this hall (case events and replies,
 * guides, calendars, the appointment schedule and the answers to appointments) is read from the hall's views, applied to the hall store in one
 * durable transaction, and only then acknowledged, by the exact rows applied. The county
 * keeps a row until it is acknowledged, so rows that commit out of AUTO_INCREMENT order
 * are never skipped, and a lost acknowledgement only means the row is applied again
 * (idempotently). The county's error messages are its text: cleaned (text_clean) before
 * they reach an error or a log line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"

/* "2026-11-22 07:10:26" in Asia/Shanghai to Unix time; `unknown` for NULL or another form.
 * The downlink and the cases a restored hall takes back (restore_county.c) read the
 * county's DATETIMEs with it. */
time_t
downlink_county_time(const char *s, time_t unknown)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (s == NULL || sscanf(s, "%d-%d-%d %d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
		&tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
		return unknown;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return timegm(&tm) - HALL_TZ_OFFSET;
}

/* The result of the statement just run (or the error, cleaned, into err). */
static MYSQL_RES *
query_result(MYSQL *db, const char *sql, char *err, size_t errlen)
{
	MYSQL_RES *res;

	if (mysql_errno(db) != 0 || (res = mysql_store_result(db)) == NULL) {
		char why[MYSQL_ERRMSG_SIZE];

		snprintf(err, errlen, "%s: %s", sql, text_cleans(why, sizeof(why), mysql_error(db)));
		return NULL;
	}
	return res;
}

/*
 * The downlink's queries in one round trip (a multi-statement: on a weak link each round
 * trip is another chance of a lost packet and a retransmission timeout, a quarter to half
 * a second each on the bench's link, and six of them followed every drain), their results
 * into res, and a ROLLBACK after them that ends the read's transaction (autocommit is off)
 * in the same round trip. The last `optional` ones read the appointments' views: when the
 * account cannot read the first of them (ER_TABLEACCESS_DENIED_ERROR, or
 * ER_NO_SUCH_TABLE), the server stops there, those results stay NULL and the ROLLBACK did
 * not run: 1 then, with the server's words in err, so that the caller applies the rest
 * (a citizen's answer never waits on an appointment view) and still reports the failure.
 * Every view is the county's since the schema the agent asks for (county_greet): one it
 * cannot read is a grant lost at the county, never an older county to pass over in
 * silence. 0 when everything ran, or -1 with err.
 */
static int
query_all(MYSQL *db, const char *const sql[], int n, int optional, MYSQL_RES *res[],
    char *err, size_t errlen)
{
	struct buf all;
	int i, rc;

	buf_init(&all, 1 << 16);
	for (i = 0; i < n; i++)
		buf_printf(&all, "%s;", sql[i]);
	buf_adds(&all, "ROLLBACK");
	if (all.failed) {
		buf_free(&all);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	rc = mysql_real_query(db, all.data, (unsigned long)all.len);
	buf_free(&all);
	for (i = 0; i < n; i++) {
		if (i > 0 && rc == 0 && (rc = mysql_next_result(db)) == -1) {
			snprintf(err, errlen, "%s: no result", sql[i]);
			return -1;
		}
		if (rc != 0 && i >= n - optional &&
		    (mysql_errno(db) == 1146 /* ER_NO_SUCH_TABLE */ ||
			mysql_errno(db) == 1142 /* ER_TABLEACCESS_DENIED_ERROR */)) {
			char why[MYSQL_ERRMSG_SIZE];

			snprintf(err, errlen, "%s (a grant lost at the county?): the appointments' "
			    "schedules and decisions do not come down", text_cleans(why,
			    sizeof(why), mysql_error(db)));
			return 1;
		}
		if ((res[i] = query_result(db, sql[i], err, errlen)) == NULL)
			return -1;
	}
	if ((rc = mysql_next_result(db)) != 0) {
		char why[MYSQL_ERRMSG_SIZE];

		snprintf(err, errlen, "ROLLBACK: %s", rc == -1 ? "no result" :
		    text_cleans(why, sizeof(why), mysql_error(db)));
		return -1;
	}
	return 0;
}

/* Appends a downlink seq to the acknowledgement (a JSON array). */
static void
ack_add(struct buf *ack, const char *seq)
{
	buf_addc(ack, ack->len == 0 ? '[' : ',');
	buf_adds(ack, seq);
}

static int
apply_events(MYSQL_RES *res, struct store *s, struct buf *ack, int *n, char *err, size_t errlen)
{
	MYSQL_ROW row;

	while ((row = mysql_fetch_row(res)) != NULL) {
		if (row[0] == NULL || row[1] == NULL || row[2] == NULL || row[3] == NULL)
			continue;
		if (downlink_event(s, strtoll(row[1], NULL, 10), row[2], row[3], row[4], row[5],
			downlink_county_time(row[6], time(NULL))) == -1) {
			snprintf(err, errlen, "the hall store cannot take a case event");
			return -1;
		}
		ack_add(ack, row[0]);
		(*n)++;
	}
	return 0;
}

static int
apply_guides(MYSQL_RES *res, struct store *s, struct buf *ack, int *n, char *err, size_t errlen)
{
	MYSQL_ROW row;

	while ((row = mysql_fetch_row(res)) != NULL) {
		struct guide g = {
			.id = row[1], .name = row[2], .department = row[3], .materials = row[4],
			.time_limit = row[5], .fees = row[6], .fee_basis = row[7],
			.delivery = row[8], .consult = row[9], .address = row[10],
			.hours = row[11], .updated_at = downlink_county_time(row[12], time(NULL)),
		};

		if (row[0] == NULL || row[1] == NULL || row[2] == NULL)
			continue;
		if (downlink_guide(s, &g) == -1) {
			snprintf(err, errlen, "the hall store cannot take a guide");
			return -1;
		}
		ack_add(ack, row[0]);
		(*n)++;
	}
	return 0;
}

static int
apply_calendars(MYSQL_RES *res, struct store *s, const struct hall_config *cfg, struct buf *ack,
    int *n, char *err, size_t errlen)
{
	MYSQL_ROW row;

	while ((row = mysql_fetch_row(res)) != NULL) {
		char year[16];

		if (row[0] == NULL || row[2] == NULL)
			continue;
		text_cleans(year, sizeof(year), row[1]);	/* a number, if the county is sane */
		if (downlink_calendar(s, cfg, row[2]) == -1) {
			snprintf(err, errlen, "the hall store cannot take the %s calendar", year);
			return -1;
		}
		log_info("calendar %s received from the county", year);
		ack_add(ack, row[0]);
		(*n)++;
	}
	return 0;
}

/* The schedule documents (my_schedules: seq, version, body), each applied when newer. */
static int
apply_schedules(MYSQL_RES *res, struct store *s, struct buf *ack, int *n, char *err,
    size_t errlen)
{
	MYSQL_ROW row;

	if (res == NULL)
		return 0;
	while ((row = mysql_fetch_row(res)) != NULL) {
		if (row[0] == NULL || row[1] == NULL || row[2] == NULL)
			continue;
		/* -2, a document the hall refuses, is logged and acknowledged: a newer one fixes it */
		if (store_schedule_apply(s, strtoll(row[1], NULL, 10), row[2]) == -1) {
			snprintf(err, errlen, "the hall store cannot take the appointment schedule");
			return -1;
		}
		ack_add(ack, row[0]);
		(*n)++;
	}
	return 0;
}

/* The county's answers to appointments (my_appt_events: seq, appointment_no, status,
 * reason, at), each applied once (keyed by the downlink seq). */
static int
apply_appt_events(MYSQL_RES *res, struct store *s, struct buf *ack, int *n, char *err,
    size_t errlen)
{
	MYSQL_ROW row;

	if (res == NULL)
		return 0;
	while ((row = mysql_fetch_row(res)) != NULL) {
		if (row[0] == NULL || row[1] == NULL || row[2] == NULL)
			continue;
		if (store_appt_county_event(s, strtoll(row[0], NULL, 10), row[1], row[2], row[3],
			downlink_county_time(row[4], time(NULL))) == -1) {
			snprintf(err, errlen, "the hall store cannot take an appointment event");
			return -1;
		}
		ack_add(ack, row[0]);
		(*n)++;
	}
	return 0;
}

static void
collect_orphans(MYSQL_RES *res, struct buf *ack)
{
	MYSQL_ROW row;

	while ((row = mysql_fetch_row(res)) != NULL)
		if (row[0] != NULL)
			ack_add(ack, row[0]);
}

/* CALL hall_ack(the rows applied) and its COMMIT, in one round trip. */
static int
acknowledge(struct county_sink *k, struct buf *ack, char *err, size_t errlen)
{
	struct buf q;
	int failed;

	buf_addc(ack, ']');
	buf_init(&q, 2 * ack->len + 64);
	buf_adds(&q, "CALL hall_ack(");
	county_sql_string(&q, k->db, ack->data, ack->len);
	buf_adds(&q, ");COMMIT");
	if (ack->failed || q.failed) {
		buf_free(&q);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	failed = county_multi(k->db, q.data, q.len, -1, NULL);
	buf_free(&q);
	if (failed != -1) {
		char why[MYSQL_ERRMSG_SIZE];

		snprintf(err, errlen, "hall_ack: %s",
		    text_cleans(why, sizeof(why), mysql_error(k->db)));
		return -1;
	}
	return 0;
}

/* The downlink's queries, in the order they are read and applied. */
enum { Q_EVENTS, Q_GUIDES, Q_CALENDARS, Q_ORPHANS, Q_SCHEDULES, Q_APPT_EVENTS, NQ };

int
downlink_county_pull(struct county_sink *k, struct store *s, int *more, char *err,
    size_t errlen)
{
	/* each query's LIMIT: a result that reaches it may have left rows behind */
	static const unsigned long long limit[NQ] = {500, 100, 20, 500, 20, 500};
	static const char *const sql[NQ] = {
	    "SELECT seq, event_seq, case_no, status, note, actor, at FROM my_events "
	    "ORDER BY seq LIMIT 500",
	    "SELECT seq, id, name, department, materials, time_limit, fees, fee_basis, delivery, "
	    "consult, address, hours, updated_at FROM my_guides ORDER BY seq LIMIT 100",
	    "SELECT seq, year, body FROM my_calendars ORDER BY seq LIMIT 20",
	    "SELECT seq FROM my_orphans LIMIT 500",
	    /* appointments (county 016) */
	    "SELECT seq, version, body FROM my_schedules ORDER BY seq LIMIT 20",
	    "SELECT seq, appointment_no, status, reason, at FROM my_appt_events "
	    "ORDER BY seq LIMIT 500",
	};
	MYSQL_RES *res[NQ] = {NULL};
	unsigned long long rows = 0;
	struct buf ack;
	char denied[512] = "";
	int n = 0, rc = -1, i, stopped;

	/*
	 * Everything is read from the county first, into memory (bounded by the LIMITs):
	 * the hall store is locked for writing only while it applies rows already here, never
	 * while a slow or silent link keeps the county's answer waiting; citizens' submissions
	 * go on meanwhile.
	 */
	*more = 0;
	if ((stopped = query_all(k->db, sql, NQ, NQ - Q_SCHEDULES, res, denied,
		sizeof(denied))) == -1) {
		snprintf(err, errlen, "%s", denied);
		goto lost;
	}
	/* a view the account cannot read stopped the statements before their ROLLBACK: end
	 * the read transaction here, so the next pass sees new commits */
	if (stopped)
		mysql_rollback(k->db);
	for (i = 0; i < NQ; i++)
		if (res[i] != NULL) {
			rows += mysql_num_rows(res[i]);
			if (mysql_num_rows(res[i]) >= limit[i])
				*more = 1;
		}
	if (rows == 0) {
		rc = 0;
		goto done;
	}
	buf_init(&ack, 1 << 20);
	if (downlink_begin(s) == -1) {
		snprintf(err, errlen, "the hall store is busy or failing");
		buf_free(&ack);
		goto done;
	}
	if (apply_events(res[0], s, &ack, &n, err, errlen) == -1 ||
	    apply_guides(res[1], s, &ack, &n, err, errlen) == -1 ||
	    apply_calendars(res[2], s, k->cfg, &ack, &n, err, errlen) == -1 ||
	    apply_schedules(res[Q_SCHEDULES], s, &ack, &n, err, errlen) == -1 ||
	    apply_appt_events(res[Q_APPT_EVENTS], s, &ack, &n, err, errlen) == -1) {
		downlink_rollback(s);
		buf_free(&ack);
		goto done;
	}
	collect_orphans(res[3], &ack);
	/* durable at the hall first; a crash before the acknowledgement only repeats rows */
	if (downlink_commit(s) == -1) {
		snprintf(err, errlen, "the hall store cannot commit the downlink");
		buf_free(&ack);
		goto done;
	}
	if (ack.len > 0 && acknowledge(k, &ack, err, errlen) == -1) {
		buf_free(&ack);
		goto lost;
	}
	buf_free(&ack);
	rc = n > 0 ? n : 0;
	/* orphans alone are acknowledged without counting as applied rows */
	goto done;
lost:
	for (i = 0; i < NQ; i++)
		mysql_free_result(res[i]), res[i] = NULL;
	sink_county_disconnect(k);
	return -1;
done:
	for (i = 0; i < NQ; i++)
		mysql_free_result(res[i]);
	/* what came down is applied; the view not read is a failure all the same */
	if (stopped && rc >= 0) {
		snprintf(err, errlen, "%s", denied);
		rc = -1;
	}
	return rc;
}
