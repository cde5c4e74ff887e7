/*
 * Personal data at the hall (SPEC 11): minimization and retention.
 *
 * A case is held once every configured destination has acknowledged every record of it:
 * each record at or below the destination's mark, not set aside (quarantine) and not put
 * back (requeue) for it. Only the destinations the configuration names count: one that was
 * dropped from the INI must not keep citizens' data at the hall forever, and one added
 * later receives what the hall still has whole (outbox_next skips stripped records).
 *
 * Minimization: a closed case that is held loses its name, e-mail, full phone (the masked
 * one stays, as the progress page shows it) and its retry key, and its records that every
 * destination took keep only their id and the SHA-256 of their payload. A `code` record (a
 * new query code, for the county alone) keeps only its id and hash as soon as the county
 * holds it, whatever the state of its case.
 *
 * Retention: a minimized case that is still closed and held, unchanged for [retention]
 * days, is deleted with its events, rating and outbox records, once a day (meta
 * retention_at says when the job last ran, so a restart neither repeats nor skips it).
 *
 * Appointments (sql/hall/009) follow the same two steps, for the county alone (their
 * records go nowhere else): one that has ended (cancelled, refused, attended, no_show, or
 * its day is past) and whose records the county holds loses its name (''), e-mail, note,
 * full phone and retry key, and its records keep id and hash; one booked or confirmed for
 * today or later is kept whole, whatever the county holds. Past [retention] days after its
 * day, a minimized one is deleted with its events, records and resends. With no [county]
 * configured nothing of an appointment is ever known to be held: nothing is removed.
 *
 * The connection runs with secure_delete on (store.c), so what is removed is zeroed in the
 * pages; the WAL still holds old page images until a checkpoint, so every change here
 * ends with a TRUNCATE checkpoint.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <sqlite3.h>

#include "store_int.h"

/* Cases handled per transaction: the writers wait for no more than one batch. */
#define RETENTION_BATCH 500

/*
 * The record o is not yet held by some configured destination (?1 county, ?2 province,
 * NULL when not configured) it is for (a new query code is the county's alone: the
 * province holds it by never taking it). A destination without a mark has taken nothing.
 */
#define UNHELD(o)                                                                         \
	"EXISTS (SELECT 1 FROM (SELECT ?1 AS dest UNION ALL SELECT ?2) w "                \
	"LEFT JOIN sync_dest d ON d.dest = w.dest WHERE w.dest IS NOT NULL AND "          \
	OUTBOX_FOR(o, "w.dest") " AND ("                                                  \
	"d.dest IS NULL OR " o ".seq > d.acked_seq "                                      \
	"OR EXISTS (SELECT 1 FROM quarantine q WHERE q.id = " o ".id AND q.dest = w.dest) " \
	"OR EXISTS (SELECT 1 FROM requeue r WHERE r.dest = w.dest AND r.seq = " o ".seq)))"

/*
 * The statuses after which nothing more happens to a case (SPEC 2). Not answered: the
 * citizen may still rate an answered case and the county may still resolve it, and the
 * county tells the citizen by SMS when it does, from the phone it holds.
 */
#define CLOSED "('resolved','rejected')"

/*
 * An appointment (alias a) after which the citizen needs nothing more than the lookup: the
 * statuses nothing follows, or its day (?3, YYYY-MM-DD, today at the hall) is past. A
 * past booked one may still be marked at the window: the mark needs no personal data.
 */
#define APPT_ENDED "(a.status IN ('cancelled','refused','attended','no_show') OR a.date < ?3)"

/* sha256(text): lower-case hex of the text's bytes, as the county's SHA2(p, 256). */
static void
sql_sha256(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	unsigned char h[crypto_hash_sha256_BYTES];
	char hex[2 * crypto_hash_sha256_BYTES + 1];
	const unsigned char *t;

	(void)argc;
	if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
		sqlite3_result_null(ctx);
		return;
	}
	t = sqlite3_value_text(argv[0]);
	crypto_hash_sha256(h, t, (unsigned long long)sqlite3_value_bytes(argv[0]));
	sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
	sqlite3_result_text(ctx, hex, -1, SQLITE_TRANSIENT);
}

int
retention_register(sqlite3 *db)
{
	return sqlite3_create_function_v2(db, "sha256", 1,
		   SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, NULL, sql_sha256, NULL,
		   NULL, NULL) == SQLITE_OK ? 0 : -1;
}

/* Binds the configured destinations to ?1 and ?2; 0 when there is none. */
static int
bind_dests(sqlite3_stmt *st, const struct hall_config *cfg)
{
	if (cfg->county_user != NULL)
		store_bind_text(st, 1, "county");
	if (cfg->province_url != NULL)
		store_bind_text(st, 2, "province");
	return cfg->county_user != NULL || cfg->province_url != NULL;
}

/* Up to RETENTION_BATCH case numbers (and phones) that sql selects; the count, or -1. */
struct found {
	char case_no[RETENTION_BATCH][32];
	char phone[RETENTION_BATCH][32];
	size_t n;
};

static int
find_rows(struct store *s, const char *sql, const struct hall_config *cfg, time_t cutoff,
    const char *day, struct found *f)
{
	sqlite3_stmt *st = store_stmt(s, sql);
	int step;

	f->n = 0;
	if (st == NULL)
		return -1;
	bind_dests(st, cfg);
	if (day != NULL)
		store_bind_text(st, 3, day);
	else
		sqlite3_bind_int64(st, 3, cutoff);
	sqlite3_bind_int(st, 4, RETENTION_BATCH);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		store_col_copy(f->case_no[f->n], sizeof(f->case_no[0]), st, 0);
		store_col_copy(f->phone[f->n], sizeof(f->phone[0]), st, 1);
		f->n++;
	}
	sqlite3_reset(st);
	return step == SQLITE_DONE ? (int)f->n : -1;
}

static int
find_cases(struct store *s, const char *sql, const struct hall_config *cfg, time_t cutoff,
    struct found *f)
{
	return find_rows(s, sql, cfg, cutoff, NULL, f);
}

/* The day of t at the hall (Asia/Shanghai), YYYY-MM-DD. */
static void
hall_day(char day[11], time_t t)
{
	struct ymd d = slots_today(t);

	slots_format_date(day, &d);
}

/* Runs a strip statement (its destinations bound): the records stripped, or -1. */
static long
strip(struct store *s, const struct hall_config *cfg, sqlite3_stmt *st)
{
	if (st == NULL)
		return -1;
	bind_dests(st, cfg);
	if (store_done(s, st) == -1)
		return -1;
	return sqlite3_changes(s->db);
}

/* The records of minimized cases that every configured destination holds: id and hash. */
static long
strip_held(struct store *s, const struct hall_config *cfg)
{
	return strip(s, cfg, store_stmt(s,
	    "UPDATE outbox AS o SET hash = sha256(o.payload), payload = NULL "
	    "WHERE o.payload IS NOT NULL AND (EXISTS (SELECT 1 FROM cases c "
	    "WHERE c.case_no = o.case_no AND c.minimized_at IS NOT NULL) OR EXISTS (SELECT 1 "
	    "FROM appointments a WHERE a.appointment_no = o.case_no AND a.minimized_at IS NOT "
	    "NULL)) AND NOT " UNHELD("o")));
}

/*
 * The code records every destination they are for holds: id and hash, whatever the case's
 * state. A new query code is the one secret a record carries, and the case row holds it
 * anyway; the partial index outbox_code_whole makes this a look at a few rows per tick.
 */
static long
strip_codes(struct store *s, const struct hall_config *cfg)
{
	return strip(s, cfg, store_stmt(s,
	    "UPDATE outbox AS o SET hash = sha256(o.payload), payload = NULL "
	    "WHERE o.type = 'code' AND o.payload IS NOT NULL AND NOT " UNHELD("o")));
}

/* strip_codes, after a look without the write lock: most ticks find nothing to do. */
static int
minimize_codes(struct store *s, const struct hall_config *cfg, struct retention_report *rep)
{
	sqlite3_stmt *st = store_stmt(s, "SELECT EXISTS (SELECT 1 FROM outbox o "
					 "WHERE o.type = 'code' AND o.payload IS NOT NULL AND NOT "
					 UNHELD("o") ")");
	long long any = 0;
	long n;

	if (st == NULL)
		return -1;
	bind_dests(st, cfg);
	if (store_scalar(st, &any) == -1)
		return -1;
	if (!any)
		return 0;
	if (store_begin_write(s) == -1)
		return -1;
	if ((n = strip_codes(s, cfg)) == -1 || store_commit(s) == -1) {
		store_rollback(s);
		return -1;
	}
	rep->stripped += n;
	return 0;
}

static int
minimize_case(struct store *s, const char *case_no, const char *phone, time_t now)
{
	sqlite3_stmt *st = store_stmt(s, "UPDATE cases SET name = NULL, email = NULL, "
					 "phone = ?2, dedup_key = NULL, minimized_at = ?3 "
					 "WHERE case_no = ?1 AND minimized_at IS NULL");
	char masked[32];

	if (st == NULL)
		return -1;
	phone_mask(masked, phone);
	store_bind_text(st, 1, case_no);
	store_bind_text(st, 2, masked);
	sqlite3_bind_int64(st, 3, now);
	return store_done(s, st);
}

/* An ended appointment the county holds: what the lookup shows, the phone masked. */
static int
minimize_appt(struct store *s, const char *appointment_no, const char *phone, time_t now)
{
	sqlite3_stmt *st = store_stmt(s, "UPDATE appointments SET name = '', email = NULL, "
					 "note = NULL, phone = ?2, dedup_key = NULL, "
					 "minimized_at = ?3 WHERE appointment_no = ?1 "
					 "AND minimized_at IS NULL");
	char masked[32];

	if (st == NULL)
		return -1;
	phone_mask(masked, phone);
	store_bind_text(st, 1, appointment_no);
	store_bind_text(st, 2, masked);
	sqlite3_bind_int64(st, 3, now);
	return store_done(s, st);
}

/*
 * The ended appointments the county holds are minimized and their records stripped, in
 * batches, each batch one transaction; f is the caller's scratch. Only the county ever
 * holds an appointment: without it, nothing.
 */
static int
minimize_appts(struct store *s, const struct hall_config *cfg, time_t now, struct found *f,
    struct retention_report *rep)
{
	static const char candidates[] =
	    "SELECT a.appointment_no, a.phone FROM appointments a WHERE a.minimized_at IS NULL "
	    "AND " APPT_ENDED " AND NOT EXISTS (SELECT 1 FROM outbox o "
	    "WHERE o.case_no = a.appointment_no AND " UNHELD("o") ") LIMIT ?4";
	char today[11];
	long stripped;
	size_t i;
	int n;

	if (cfg->county_user == NULL)
		return 0;
	hall_day(today, now);
	do {
		/* a look without the write lock first: most ticks find nothing to do */
		if ((n = find_rows(s, candidates, cfg, 0, today, f)) <= 0)
			return n;
		if (store_begin_write(s) == -1 ||
		    (n = find_rows(s, candidates, cfg, 0, today, f)) == -1)
			return -1;
		for (i = 0; i < f->n; i++)
			if (minimize_appt(s, f->case_no[i], f->phone[i], now) == -1)
				return -1;
		if ((stripped = n > 0 ? strip_held(s, cfg) : 0) == -1 || store_commit(s) == -1)
			return -1;
		rep->appts_minimized += n;
		rep->stripped += stripped;
	} while (n == RETENTION_BATCH);
	return 0;
}

/*
 * The cases found are minimized and the records of minimized cases that every destination
 * holds are stripped. sweep: strip even when no case was found, for records of cases
 * minimized earlier (a rating given after the case closed): a walk of the whole outbox,
 * so the daily job does it, not every tick.
 */
static int
minimize(struct store *s, const struct hall_config *cfg, time_t now, int sweep,
    struct retention_report *rep)
{
	static const char candidates[] =
	    "SELECT c.case_no, c.phone FROM cases c WHERE c.minimized_at IS NULL "
	    "AND c.status IN " CLOSED " AND NOT EXISTS (SELECT 1 FROM outbox o "
	    "WHERE o.case_no = c.case_no AND " UNHELD("o") ") LIMIT ?4";
	struct found *f;
	long stripped;
	size_t i;
	int n;

	if (cfg->county_user == NULL && cfg->province_url == NULL)
		return 0;	/* nothing was ever sent: the hall holds the only copy */
	if (minimize_codes(s, cfg, rep) == -1) {
		log_warnx("%s: %s", __func__, store_errmsg(s));
		return -1;
	}
	if ((f = malloc(sizeof(*f))) == NULL)
		return -1;
	do {
		/* a look without the write lock first: most ticks find nothing to do */
		if (!sweep && (n = find_cases(s, candidates, cfg, now, f)) <= 0) {
			if (n == -1)
				goto fail;
			break;
		}
		if (store_begin_write(s) == -1 || (n = find_cases(s, candidates, cfg, now, f)) == -1)
			goto fail;
		for (i = 0; i < f->n; i++)
			if (minimize_case(s, f->case_no[i], f->phone[i], now) == -1)
				goto fail;
		stripped = n > 0 || sweep ? strip_held(s, cfg) : 0;
		if (stripped == -1 || store_commit(s) == -1)
			goto fail;
		sweep = 0;
		rep->minimized += n;
		rep->stripped += stripped;
	} while (n == RETENTION_BATCH);
	if (minimize_appts(s, cfg, now, f, rep) == -1)
		goto fail;
	free(f);
	return 0;
fail:
	log_warnx("%s: %s", __func__, store_errmsg(s));
	store_rollback(s);
	free(f);
	return -1;
}

int
store_minimize(struct store *s, const struct hall_config *cfg, time_t now,
    struct retention_report *rep)
{
	return minimize(s, cfg, now, 0, rep);
}

/* A case and everything the hall keeps of it, inside the caller's transaction. */
static int
purge_case(struct store *s, const char *case_no)
{
	static const char *const sql[] = {
	    "DELETE FROM ratings WHERE case_no = ?1",
	    "DELETE FROM case_events WHERE case_no = ?1",
	    /* set aside or put back only for a destination no longer configured */
	    "DELETE FROM quarantine WHERE id IN (SELECT id FROM outbox WHERE case_no = ?1)",
	    "DELETE FROM requeue WHERE seq IN (SELECT seq FROM outbox WHERE case_no = ?1)",
	    "DELETE FROM outbox WHERE case_no = ?1",
	    "DELETE FROM code_resends WHERE case_no = ?1",
	    "DELETE FROM cases WHERE case_no = ?1",
	};
	sqlite3_stmt *st;
	size_t i;

	for (i = 0; i < sizeof(sql) / sizeof(sql[0]); i++) {
		if ((st = store_stmt(s, sql[i])) == NULL)
			return -1;
		store_bind_text(st, 1, case_no);
		if (store_done(s, st) == -1)
			return -1;
	}
	return 0;
}

/* An appointment and everything the hall keeps of it, inside the caller's transaction. */
static int
purge_appt(struct store *s, const char *appointment_no)
{
	static const char *const sql[] = {
	    "DELETE FROM appt_events WHERE appointment_no = ?1",
	    "DELETE FROM quarantine WHERE id IN (SELECT id FROM outbox WHERE case_no = ?1)",
	    "DELETE FROM requeue WHERE seq IN (SELECT seq FROM outbox WHERE case_no = ?1)",
	    "DELETE FROM outbox WHERE case_no = ?1",
	    "DELETE FROM code_resends WHERE case_no = ?1",
	    "DELETE FROM appointments WHERE appointment_no = ?1",
	};
	sqlite3_stmt *st;
	size_t i;

	for (i = 0; i < sizeof(sql) / sizeof(sql[0]); i++) {
		if ((st = store_stmt(s, sql[i])) == NULL)
			return -1;
		store_bind_text(st, 1, appointment_no);
		if (store_done(s, st) == -1)
			return -1;
	}
	return 0;
}

/*
 * The minimized appointments whose day is more than [retention] days past, and whose
 * records the county still holds (a mark made after the minimization waits for its
 * acknowledgement), in batches; f is the caller's scratch.
 */
static int
purge_appts(struct store *s, const struct hall_config *cfg, time_t now, struct found *f,
    struct retention_report *rep)
{
	static const char candidates[] =
	    "SELECT a.appointment_no, NULL FROM appointments a WHERE a.minimized_at IS NOT NULL "
	    "AND a.date < ?3 AND NOT EXISTS (SELECT 1 FROM outbox o "
	    "WHERE o.case_no = a.appointment_no AND " UNHELD("o") ") ORDER BY a.date LIMIT ?4";
	char cutoff[11];
	size_t i;
	int n;

	if (cfg->county_user == NULL)
		return 0;
	hall_day(cutoff, now - (time_t)cfg->retention_days * 86400);
	do {
		if (store_begin_write(s) == -1 ||
		    (n = find_rows(s, candidates, cfg, 0, cutoff, f)) == -1)
			return -1;
		for (i = 0; i < f->n; i++)
			if (purge_appt(s, f->case_no[i]) == -1)
				return -1;
		if (store_commit(s) == -1)
			return -1;
		rep->appts_purged += n;
	} while (n == RETENTION_BATCH);
	return 0;
}

int
store_purge(struct store *s, const struct hall_config *cfg, time_t now,
    struct retention_report *rep)
{
	static const char candidates[] =
	    "SELECT c.case_no, NULL FROM cases c WHERE c.minimized_at IS NOT NULL "
	    "AND c.status IN " CLOSED " AND c.updated_at <= ?3 AND NOT EXISTS (SELECT 1 FROM outbox o "
	    "WHERE o.case_no = c.case_no AND " UNHELD("o") ") ORDER BY c.updated_at LIMIT ?4";
	time_t cutoff = now - (time_t)cfg->retention_days * 86400;
	struct found *f;
	char stamp[32];
	size_t i;
	int n;

	if (cfg->county_user == NULL && cfg->province_url == NULL)
		return 0;	/* nothing can be known to be held anywhere */
	/* a case closed since the last pass is minimized before it can be purged */
	if (minimize(s, cfg, now, 1, rep) == -1)
		return -1;
	if ((f = malloc(sizeof(*f))) == NULL)
		return -1;
	do {
		if (store_begin_write(s) == -1 || (n = find_cases(s, candidates, cfg, cutoff, f)) == -1)
			goto fail;
		for (i = 0; i < f->n; i++)
			if (purge_case(s, f->case_no[i]) == -1)
				goto fail;
		snprintf(stamp, sizeof(stamp), "%lld", (long long)now);
		if (store_meta_set(s, "retention_at", stamp) == -1 || store_commit(s) == -1)
			goto fail;
		rep->purged += n;
	} while (n == RETENTION_BATCH);
	if (purge_appts(s, cfg, now, f, rep) == -1)
		goto fail;
	free(f);
	return 0;
fail:
	log_warnx("%s: %s", __func__, store_errmsg(s));
	store_rollback(s);
	free(f);
	return -1;
}

int
store_checkpoint(struct store *s)
{
	int rc = sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);

	s->wal_dirty = rc != SQLITE_OK;
	if (rc == SQLITE_OK)
		return 0;
	/* a reader held an old snapshot: the next tick truncates it */
	log_warnx("%s: the WAL could not be truncated yet: %s", __func__, store_errmsg(s));
	return -1;
}

int
store_retention_tick(struct store *s, const struct hall_config *cfg, time_t now,
    struct retention_report *rep)
{
	char text[32];
	long long last = 0;
	int rc;

	memset(rep, 0, sizeof(*rep));
	if ((rc = store_meta(s, "retention_at", text, sizeof(text))) == -1)
		return -1;
	if (rc == 1)
		last = strtoll(text, NULL, 10);
	/* once a day; a clock set back a day or more runs it again rather than never */
	rep->daily = rc == 0 || now - last >= 86400 || now < last - 86400;
	rc = rep->daily ? store_purge(s, cfg, now, rep) : store_minimize(s, cfg, now, rep);
	/* old page images stay in the WAL until it is truncated: until it is, every tick tries */
	if (rep->minimized > 0 || rep->stripped > 0 || rep->purged > 0 ||
	    rep->appts_minimized > 0 || rep->appts_purged > 0)
		s->wal_dirty = 1;
	if (rc == 0 && s->wal_dirty)
		rep->checkpointed = store_checkpoint(s) == 0;
	return rc;
}
