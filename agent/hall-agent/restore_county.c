/*
 * After a restore (hall-admin restore, lib/store/restore.c): what the backup lacks, asked
 * of the county once, before the downlink's first pull. CALL hall_restored(SINCE) queues
 * again in the downlink the county's events of this hall's open cases and of those changed
 * since the backup, and answers the highest record number the county holds of the hall;
 * my_cases gives back the open cases and those submitted since the same moment, closed
 * or not (county 035; my_open_cases, the open ones, before), with the MAC of each query
 * code, and
 * my_restored_appointments the hall's appointments from today on (sql/county/017). The
 * cases and appointments the store lacks go in (an appointment it holds live that the
 * county has ended takes the county's status), the numbering (cases' and appointments'
 * alike) is raised past the county's, and the restore is done, all in one transaction of
 * the hall store; the next downlink pull applies the events and the decisions on the
 * appointments. A failure anywhere (a view the account cannot read too) leaves meta
 * restore_pending, and the next pass asks again (queuing the events twice is harmless: the
 * downlink applies an event once).
 * The county's error text is cleaned (text_clean) before it reaches an error or a log; a
 * case's text must be valid UTF-8 (it is the hall's own, sent back).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"

static void
county_err(struct county_sink *k, MYSQL_STMT *st, const char *what, char *err, size_t errlen)
{
	char why[MYSQL_ERRMSG_SIZE];

	snprintf(err, errlen, "%s: %s", what,
	    text_cleans(why, sizeof(why), st != NULL ? mysql_stmt_error(st) : mysql_error(k->db)));
}

/* CALL hall_restored(since): the county's highest number of this hall in *seq. */
static int
restore_call(struct county_sink *k, time_t since, unsigned long long *seq, char *err,
    size_t errlen)
{
	MYSQL_STMT *st;
	MYSQL_BIND p, r;
	long long arg = (long long)since;
	unsigned long long v = 0;
	my_bool isnull = 0;
	int rc = -1, f;

	*seq = 0;
	if ((st = mysql_stmt_init(k->db)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	memset(&p, 0, sizeof(p));
	memset(&r, 0, sizeof(r));
	p.buffer_type = MYSQL_TYPE_LONGLONG;
	p.buffer = &arg;
	r.buffer_type = MYSQL_TYPE_LONGLONG;
	r.buffer = &v;
	r.is_unsigned = 1;
	r.is_null = &isnull;
	if (mysql_stmt_prepare(st, "CALL hall_restored(?)", (unsigned long)-1) != 0 ||
	    mysql_stmt_bind_param(st, &p) != 0 || mysql_stmt_execute(st) != 0)
		goto fail;
	do {
		if (mysql_stmt_field_count(st) != 1)
			continue;
		if (mysql_stmt_bind_result(st, &r) != 0)
			goto fail;
		while ((f = mysql_stmt_fetch(st)) == 0)
			if (!isnull)
				*seq = v;
		if (f != MYSQL_NO_DATA)
			goto fail;
	} while (mysql_stmt_next_result(st) == 0);
	if (mysql_stmt_errno(st) != 0 || mysql_commit(k->db) != 0)
		goto fail;
	rc = 0;
	goto done;
fail:
	county_err(k, st, "hall_restored", err, errlen);
done:
	mysql_stmt_close(st);
	return rc;
}

enum {
	OC_CASE_NO, OC_ID, OC_RECEIVED_ID, OC_KIND, OC_CATEGORY, OC_SUBJECT, OC_BODY, OC_PHONE,
	OC_ITEM, OC_TARGET, OC_STATUS, OC_SUBMITTED_AT, OC_DUE_AT, OC_DUE_PROVISIONAL,
	OC_DELIVERED_AT, OC_QUERY_MAC, OC__MAX
};
#define CASE_COLUMNS "SELECT case_no, id, received_id, kind, category, subject, body, " \
    "phone, item, target, status, submitted_at, due_at, due_provisional, delivered_at, " \
    "query_mac "
/* a county before 035: the open cases only */
static const char open_cases_sql[] = CASE_COLUMNS "FROM my_open_cases";
/* the open ones, and those submitted since the restore's moment, closed since or not */
static const char cases_sql[] = CASE_COLUMNS "FROM my_cases "
    "WHERE status NOT IN ('resolved', 'rejected') OR submitted_unix >= ?";
#define CASES_MAX 1000000	/* far above any hall's cases: every row is kept */

/* 1 when every column is valid UTF-8 without NULs: the hall's own text, as it sent it
 * (line breaks in a body kept), and nothing else goes into the store. */
static int
row_valid(MYSQL_ROW row, const unsigned long *len, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++)
		if (row[i] != NULL && !utf8_valid(row[i], len[i]))
			return 0;
	return 1;
}

/* The cases the county sent back (rows read as text, county_select), into the store. */
static int
restore_cases(const struct dbrows *r, struct store *s, long *added)
{
	unsigned long len[OC__MAX];
	size_t i, j;
	int rc;

	*added = 0;
	for (i = 0; r->ncols == OC__MAX && i < r->nrows; i++) {
		MYSQL_ROW row = &r->cell[i * r->ncols];
		struct restored_case c = {
			.case_no = row[OC_CASE_NO], .id = row[OC_ID],
			.received_id = row[OC_RECEIVED_ID], .kind = row[OC_KIND],
			.category = row[OC_CATEGORY], .subject = row[OC_SUBJECT],
			.body = row[OC_BODY], .phone = row[OC_PHONE], .item = row[OC_ITEM],
			.target = row[OC_TARGET], .status = row[OC_STATUS],
			.query_mac = row[OC_QUERY_MAC],
			.submitted_at = downlink_county_time(row[OC_SUBMITTED_AT], 0),
			.due_at = downlink_county_time(row[OC_DUE_AT], 0),
			.delivered_at = downlink_county_time(row[OC_DELIVERED_AT], 0),
			.due_provisional = row[OC_DUE_PROVISIONAL] != NULL &&
			    atoi(row[OC_DUE_PROVISIONAL]) != 0,
		};

		for (j = 0; j < OC__MAX; j++)
			len[j] = row[j] != NULL ? strlen(row[j]) : 0;
		if (!row_valid(row, len, OC__MAX)) {
			log_warnx("restore: a case the county sent back is not valid text: skipped");
			continue;
		}
		if ((rc = store_restore_case(s, &c)) == -1)
			return -1;
		*added += rc;
	}
	return 0;
}

enum {
	RA_NO, RA_ID, RA_ITEM, RA_ITEM_NAME, RA_DATE, RA_START, RA_END, RA_PLACE, RA_NAME,
	RA_PHONE, RA_NOTE, RA_CHANNEL, RA_REGISTRAR, RA_NOTIFY, RA_STATUS, RA_REASON,
	RA_QUERY_MAC, RA_BOOKED_AT, RA__MAX
};
static const char restored_appts_sql[] =
    "SELECT appointment_no, id, item, item_name, date, start, `end`, place, name, phone, "
    "note, channel, registrar, notify, status, reason, query_mac, booked_at "
    "FROM my_restored_appointments";

/*
 * The appointments the county holds from today on (the view is the county's since 017,
 * older than the schema the agent asks for: one the account cannot read is a grant lost at
 * the county, an error, not a restore done without them). 0, or -1 with err.
 */
static int
appts_query(struct county_sink *k, MYSQL_RES **res, char *err, size_t errlen)
{
	*res = NULL;
	if (mysql_query(k->db, restored_appts_sql) != 0 ||
	    (*res = mysql_store_result(k->db)) == NULL) {
		county_err(k, NULL, "my_restored_appointments", err, errlen);
		return -1;
	}
	return 0;
}

static int
restore_appts(MYSQL_RES *res, struct store *s, long *added)
{
	MYSQL_ROW row;
	int rc;

	*added = 0;
	if (res == NULL)
		return 0;
	while ((row = mysql_fetch_row(res)) != NULL) {
		struct restored_appt a = {
			.appointment_no = row[RA_NO], .id = row[RA_ID], .item = row[RA_ITEM],
			.item_name = row[RA_ITEM_NAME], .date = row[RA_DATE],
			.start = row[RA_START], .end = row[RA_END], .place = row[RA_PLACE],
			.name = row[RA_NAME], .phone = row[RA_PHONE], .note = row[RA_NOTE],
			.channel = row[RA_CHANNEL], .registrar = row[RA_REGISTRAR],
			.notify = row[RA_NOTIFY] == NULL || atoi(row[RA_NOTIFY]) != 0,
			.status = row[RA_STATUS], .reason = row[RA_REASON],
			.query_mac = row[RA_QUERY_MAC],
			.booked_at = downlink_county_time(row[RA_BOOKED_AT], 0),
		};

		if (!row_valid(row, mysql_fetch_lengths(res), RA__MAX)) {
			log_warnx("restore: an appointment the county sent back is not valid text: "
				  "skipped");
			continue;
		}
		if ((rc = store_restore_appt(s, &a)) == -1)
			return -1;
		*added += rc;
	}
	return 0;
}

int
restore_county_pull(struct county_sink *k, struct store *s, char *err, size_t errlen)
{
	unsigned long long county_seq;
	MYSQL_RES *appts = NULL;
	struct dbrows cases;
	time_t since;
	struct dbparam p[1];
	long added = 0, appts_added = 0;
	unsigned int code;
	int rc, all = k->schema >= 35;

	if ((rc = store_restore_pending(s, &since)) != 1) {
		if (rc == -1)
			snprintf(err, errlen, "the hall store cannot be read");
		return rc;
	}
	if (restore_call(k, since, &county_seq, err, errlen) == -1)
		goto lost;
	p[0] = DBI(since);
	if (county_select(k->db, all ? cases_sql : open_cases_sql, p, all ? 1 : 0, &cases,
		CASES_MAX, &code) == -1) {
		/* county_stmt_run logged the server's words; the status gets their number */
		snprintf(err, errlen, "%s: the county's error %u (its text in the log)",
		    all ? "my_cases" : "my_open_cases", code);
		goto lost;
	}
	if (appts_query(k, &appts, err, errlen) == -1) {
		dbrows_free(&cases);
		goto lost;
	}
	mysql_rollback(k->db);	/* the read's transaction ends; the rows are here */
	if (downlink_begin(s) == -1) {
		snprintf(err, errlen, "the hall store is busy or failing");
		dbrows_free(&cases);
		mysql_free_result(appts);
		return -1;
	}
	if (restore_cases(&cases, s, &added) == -1 ||
	    restore_appts(appts, s, &appts_added) == -1 ||
	    store_restore_done(s, county_seq) == -1 || downlink_commit(s) == -1) {
		downlink_rollback(s);
		snprintf(err, errlen, "the hall store cannot take the cases and appointments the "
				      "county sent back");
		dbrows_free(&cases);
		mysql_free_result(appts);
		return -1;
	}
	dbrows_free(&cases);
	mysql_free_result(appts);
	log_info("restore: the county sent back %ld case(s) and %ld appointment(s) the "
		 "backup lacked; numbers go on past %llu; its events since the backup follow in "
		 "the downlink", added, appts_added, county_seq);
	return 1;
lost:
	sink_county_disconnect(k);
	return -1;
}
