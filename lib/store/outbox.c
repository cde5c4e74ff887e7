/*
 * The outbox as hall-agent sees it: batches after each destination's mark, and the one
 * transaction that moves the mark once the destination has committed. Delivered records
 * stay as the hall's archive until retention.c strips their payload (every destination
 * holds them, the case is closed) and later deletes them with their case; quarantined ones
 * stay until a person resolves them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "store_int.h"

void
outbox_batch_clear(struct outbox_batch *b)
{
	size_t i;

	if (b == NULL)
		return;
	for (i = 0; i < b->n; i++) {
		free(b->v[i].payload);
		free(b->v[i].reason);
	}
	if (b->n > 0)
		memset(b->v, 0, b->n * sizeof(*b->v));
	b->n = b->bytes = 0;
	b->last_seq = 0;
}

void
outbox_batch_free(struct outbox_batch *b)
{
	if (b == NULL)
		return;
	outbox_batch_clear(b);
	free(b->v);
	memset(b, 0, sizeof(*b));
}

void
outbox_rec_refuse(struct outbox_rec *r, int result, const char *reason)
{
	r->result = result;
	free(r->reason);
	r->reason = strndup(reason != NULL ? reason : "", 255);
}

const char *
outbox_rec_reason(const struct outbox_rec *r)
{
	return r->reason != NULL ? r->reason : "";
}

int
outbox_next(struct store *s, const char *dest, size_t max_records, size_t max_bytes,
    struct outbox_batch *b)
{
	return outbox_next_each(s, dest, max_records, max_bytes, b, NULL, NULL);
}

int
outbox_next_each(struct store *s, const char *dest, size_t max_records, size_t max_bytes,
    struct outbox_batch *b, outbox_each_fn each, void *arg)
{
	int rc;

	memset(b, 0, sizeof(*b));
	if ((rc = outbox_next_into(s, dest, max_records, max_bytes, b, each, arg)) == -1)
		outbox_batch_free(b);
	return rc;
}

/* The batch from the rows of st (seq, id, type, case_no, payload), bound but for ?2. */
static int outbox_read(struct store *, sqlite3_stmt *, size_t max_records, size_t max_bytes,
    struct outbox_batch *, outbox_each_fn, void *);

int
outbox_next_into(struct store *s, const char *dest, size_t max_records, size_t max_bytes,
    struct outbox_batch *b, outbox_each_fn each, void *arg)
{
	sqlite3_stmt *st;

	outbox_batch_clear(b);
	/*
	 * The records put back (requeue) first: they are older than any after the mark. A
	 * record without its payload was held by every destination configured when it was
	 * stripped (retention.c); one configured since can never be sent it, so it is not due.
	 * A record for one destination alone (only_for: a new query code, the county's) is
	 * never due to another: for it, the record counts as acknowledged.
	 */
	if ((st = store_stmt(s, "SELECT o.seq, o.id, o.type, o.case_no, o.payload FROM outbox o "
				"WHERE o.seq IN (SELECT seq FROM requeue WHERE dest = ?1) "
				"AND o.payload IS NOT NULL AND " OUTBOX_FOR("o", "?1") " "
				"UNION ALL "
				"SELECT o.seq, o.id, o.type, o.case_no, o.payload FROM outbox o "
				"WHERE o.seq > (SELECT acked_seq FROM sync_dest WHERE dest = ?1) "
				"AND o.payload IS NOT NULL AND " OUTBOX_FOR("o", "?1") " "
				"ORDER BY 1 LIMIT ?2")) == NULL)
		return -1;
	store_bind_text(st, 1, dest);
	return outbox_read(s, st, max_records, max_bytes, b, each, arg);
}

int
outbox_next_after(struct store *s, const char *dest, int64_t after, size_t max_records,
    size_t max_bytes, struct outbox_batch *b, outbox_each_fn each, void *arg)
{
	sqlite3_stmt *st;

	outbox_batch_clear(b);
	/*
	 * Nothing while records put back wait (they go first, and outbox_next_into takes
	 * them); never a record at or below the mark, even when the batch before was of
	 * records put back, whose last seq is below it.
	 */
	if ((st = store_stmt(s, "SELECT o.seq, o.id, o.type, o.case_no, o.payload FROM outbox o "
				"WHERE o.seq > MAX(?3, (SELECT acked_seq FROM sync_dest "
				"WHERE dest = ?1)) "
				"AND NOT EXISTS (SELECT 1 FROM requeue WHERE dest = ?1) "
				"AND o.payload IS NOT NULL AND " OUTBOX_FOR("o", "?1") " "
				"ORDER BY 1 LIMIT ?2")) == NULL)
		return -1;
	store_bind_text(st, 1, dest);
	sqlite3_bind_int64(st, 3, after);
	return outbox_read(s, st, max_records, max_bytes, b, each, arg);
}

static int
outbox_read(struct store *s, sqlite3_stmt *st, size_t max_records, size_t max_bytes,
    struct outbox_batch *b, outbox_each_fn each, void *arg)
{
	enum { OB_SEQ, OB_ID, OB_TYPE, OB_CASE_NO, OB_PAYLOAD };
	int step, rc = -1;

	if (b->cap < max_records) {
		struct outbox_rec *v;

		/* calloc: entries are zero until used, and pages never used are never touched */
		if ((v = calloc(max_records, sizeof(*b->v))) == NULL)
			return -1;
		free(b->v);
		b->v = v;
		b->cap = max_records;
	}
	sqlite3_bind_int64(st, 2, (sqlite3_int64)max_records);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		struct outbox_rec *r = &b->v[b->n];
		size_t len = (size_t)sqlite3_column_bytes(st, OB_PAYLOAD);

		/* a batch never passes max_bytes, but always carries at least one record */
		if (b->n > 0 && b->bytes + len > max_bytes)
			break;
		r->seq = sqlite3_column_int64(st, OB_SEQ);
		store_col_copy(r->id, sizeof(r->id), st, OB_ID);
		store_col_copy(r->type, sizeof(r->type), st, OB_TYPE);
		store_col_copy(r->case_no, sizeof(r->case_no), st, OB_CASE_NO);
		r->len = len;
		if (each != NULL) {
			/* the text is SQLite's, valid until the next step: the sink uses it now */
			if (each(arg, r, (const char *)sqlite3_column_text(st, OB_PAYLOAD), len) == -1)
				goto done;
		} else {
			if ((r->payload = malloc(len + 1)) == NULL)
				goto done;
			memcpy(r->payload, sqlite3_column_text(st, OB_PAYLOAD), len);
			r->payload[len] = '\0';
		}
		b->bytes += len;
		b->last_seq = r->seq;
		b->n++;
	}
	if (step != SQLITE_ROW && step != SQLITE_DONE) {
		log_warnx("%s: %s", __func__, store_errmsg(s));
		goto done;
	}
	rc = 0;
done:
	/* a statement left on a row would hold its read snapshot until the next batch */
	if (st != NULL)
		sqlite3_reset(st);
	if (rc == -1)
		outbox_batch_clear(b);
	return rc;
}

/* A record the destination refused, kept with its reason until a person resolves it. */
static int
outbox_quarantine(struct store *s, const char *dest, const struct outbox_rec *r, time_t now)
{
	sqlite3_stmt *st;

	if ((st = store_stmt(s, "INSERT INTO quarantine (id, dest, seq, result, reason, at) "
				"VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (id, dest) DO UPDATE "
				"SET result = excluded.result, reason = excluded.reason, "
				"at = excluded.at")) == NULL)
		return -1;
	store_bind_text(st, 1, r->id);
	store_bind_text(st, 2, dest);
	sqlite3_bind_int64(st, 3, r->seq);
	store_bind_text(st, 4, r->result == REC_CONFLICT ? "conflict" : "rejected");
	store_bind_text(st, 5, outbox_rec_reason(r));
	sqlite3_bind_int64(st, 6, now);
	return store_done(s, st);
}

/* What the citizen sees of a case the county has taken: its 'delivered' event and status. */
static int
outbox_delivered(struct store *s, const struct outbox_rec *r, time_t now)
{
	sqlite3_stmt *st;

	if ((st = store_stmt(s, "INSERT OR IGNORE INTO case_events "
				"(id, case_no, status, note, actor, at) "
				"VALUES (?1 || '-D', ?2, 'delivered', NULL, 'county', ?3)")) ==
	    NULL)
		return -1;
	store_bind_text(st, 1, r->id);
	store_bind_text(st, 2, r->case_no);
	sqlite3_bind_int64(st, 3, now);
	if (store_done(s, st) == -1 ||
	    (st = store_stmt(s, "UPDATE cases SET status = 'delivered', updated_at = ?2 "
				"WHERE case_no = ?1 AND status = 'received'")) == NULL)
		return -1;
	store_bind_text(st, 1, r->case_no);
	sqlite3_bind_int64(st, 2, now);
	return store_done(s, st);
}

int
outbox_ack(struct store *s, const char *dest, const struct outbox_batch *b, size_t wire_bytes)
{
	sqlite3_stmt *mark;
	time_t now = time(NULL);
	long delivered = 0;
	size_t i;
	int county = strcmp(dest, "county") == 0;

	if (store_begin_write(s) == -1)
		goto fail;
	for (i = 0; i < b->n; i++) {
		const struct outbox_rec *r = &b->v[i];

		if (r->result == REC_CONFLICT || r->result == REC_REJECTED) {
			if (outbox_quarantine(s, dest, r, now) == -1)
				goto fail;
			continue;
		}
		if (r->result != REC_ACCEPTED && r->result != REC_DUPLICATE)
			goto fail;	/* the sink left a record without an answer */
		delivered++;
		if (county && strcmp(r->type, "case") == 0 && outbox_delivered(s, r, now) == -1)
			goto fail;
	}
	if ((mark = store_stmt(s, "UPDATE sync_dest SET acked_seq = max(acked_seq, ?2), "
				  "last_success_at = ?3, last_error = NULL, "
				  "bytes_sent = bytes_sent + ?4, records_sent = records_sent + ?5 "
				  "WHERE dest = ?1")) == NULL)
		goto fail;
	store_bind_text(mark, 1, dest);
	sqlite3_bind_int64(mark, 2, b->last_seq);
	sqlite3_bind_int64(mark, 3, now);
	sqlite3_bind_int64(mark, 4, (sqlite3_int64)wire_bytes);
	sqlite3_bind_int64(mark, 5, delivered);
	if (store_done(s, mark) == -1)
		goto fail;
	/*
	 * The records put back that this batch carried leave the queue, and only those: one
	 * put back (hall-admin requeue) after the batch was read was never sent, though its
	 * seq is below the batch's last.
	 */
	for (i = 0; i < b->n; i++) {
		if ((mark = store_stmt(s, "DELETE FROM requeue WHERE dest = ?1 AND seq = ?2")) ==
		    NULL)
			goto fail;
		store_bind_text(mark, 1, dest);
		sqlite3_bind_int64(mark, 2, b->v[i].seq);
		if (store_done(s, mark) == -1)
			goto fail;
	}
	if (store_commit(s) == -1)
		goto fail;
	return 0;
fail:
	log_warnx("%s: %s", __func__, store_errmsg(s));
	store_rollback(s);
	return -1;
}

int
outbox_error(struct store *s, const char *dest, const char *msg)
{
	sqlite3_stmt *st;

	if ((st = store_stmt(s, "UPDATE sync_dest SET last_error = ?2, last_error_at = ?3 "
				"WHERE dest = ?1")) == NULL)
		return -1;
	store_bind_text(st, 1, dest);
	store_bind_text(st, 2, msg);
	sqlite3_bind_int64(st, 3, time(NULL));
	return store_done(s, st);
}

int
outbox_success(struct store *s, const char *dest)
{
	sqlite3_stmt *st;

	if ((st = store_stmt(s, "UPDATE sync_dest SET last_error = NULL, last_success_at = ?2 "
				"WHERE dest = ?1")) == NULL)
		return -1;
	store_bind_text(st, 1, dest);
	sqlite3_bind_int64(st, 2, time(NULL));
	return store_done(s, st);
}

int
outbox_status(struct store *s, const char *dest, struct outbox_status *o)
{
	enum {
		OS_ACKED_SEQ, OS_LAST_SUCCESS_AT, OS_LAST_ERROR, OS_LAST_ERROR_AT, OS_BYTES_SENT,
		OS_RECORDS_SENT, OS_BACKLOG, OS_OLDEST_UNSENT, OS_QUARANTINED, OS_MAX_SEQ
	};
	sqlite3_stmt *st;
	int rc = -1;

	memset(o, 0, sizeof(*o));
	snprintf(o->dest, sizeof(o->dest), "%s", dest);
	if (store_begin_read(s) == -1)
		return -1;
	if ((st = store_stmt(s, "SELECT d.acked_seq, d.last_success_at, d.last_error, "
				"d.last_error_at, d.bytes_sent, d.records_sent, "
				"(SELECT count(*) FROM outbox o WHERE o.seq > d.acked_seq "
				" AND o.payload IS NOT NULL AND " OUTBOX_FOR("o", "d.dest") ") + "
				"(SELECT count(*) FROM requeue r WHERE r.dest = d.dest), "
				"(SELECT min(at) FROM outbox o WHERE o.seq > d.acked_seq "
				" AND o.payload IS NOT NULL AND " OUTBOX_FOR("o", "d.dest") "), "
				"(SELECT count(*) FROM quarantine q WHERE q.dest = d.dest), "
				"(SELECT coalesce(max(seq), 0) FROM outbox) "
				"FROM sync_dest d WHERE d.dest = ?1")) == NULL)
		goto done;
	store_bind_text(st, 1, dest);
	if (sqlite3_step(st) != SQLITE_ROW)
		goto done;
	o->acked_seq = sqlite3_column_int64(st, OS_ACKED_SEQ);
	o->last_success_at = sqlite3_column_int64(st, OS_LAST_SUCCESS_AT);
	store_col_copy(o->last_error, sizeof(o->last_error), st, OS_LAST_ERROR);
	o->last_error_at = sqlite3_column_int64(st, OS_LAST_ERROR_AT);
	o->bytes_sent = sqlite3_column_int64(st, OS_BYTES_SENT);
	o->records_sent = sqlite3_column_int64(st, OS_RECORDS_SENT);
	o->backlog = (long)sqlite3_column_int64(st, OS_BACKLOG);
	o->oldest_unsent = sqlite3_column_int64(st, OS_OLDEST_UNSENT);
	o->quarantined = (long)sqlite3_column_int64(st, OS_QUARANTINED);
	o->max_seq = sqlite3_column_int64(st, OS_MAX_SEQ);
	rc = 0;
done:
	if (st != NULL)
		sqlite3_reset(st);
	store_commit(s);
	return rc;
}

long
outbox_quarantine_count(struct store *s, const char *dest)
{
	sqlite3_stmt *st;
	long long n = -1;

	if ((st = store_stmt(s, "SELECT count(*) FROM quarantine WHERE dest = ?1")) == NULL)
		return -1;
	store_bind_text(st, 1, dest);
	if (store_scalar(st, &n) == -1)
		return -1;
	return (long)n;
}

long
outbox_set_aside_run(struct store *s, const char *dest)
{
	sqlite3_stmt *st;
	long long n = 0;

	if ((st = store_stmt(s, "SELECT count(*) FROM quarantine q WHERE q.dest = ?1 AND q.seq > "
				"coalesce((SELECT o.seq FROM outbox o WHERE o.seq <= "
				"(SELECT acked_seq FROM sync_dest WHERE dest = ?1) AND NOT EXISTS "
				"(SELECT 1 FROM quarantine k WHERE k.dest = ?1 AND k.id = o.id) "
				"ORDER BY o.seq DESC LIMIT 1), 0)")) == NULL)
		return 0;
	store_bind_text(st, 1, dest);
	store_scalar(st, &n);
	return (long)n;
}

/* (the county's sink asks: every record after its mark is for the county) */
long long
outbox_backlog_after(struct store *s, int64_t seq)
{
	sqlite3_stmt *st;
	long long n = 0;

	if ((st = store_stmt(s, "SELECT count(*) FROM outbox WHERE seq > ?1 "
				"AND payload IS NOT NULL")) == NULL)
		return 0;
	sqlite3_bind_int64(st, 1, seq);
	store_scalar(st, &n);	/* no row: 0 */
	return n;
}

int
outbox_dest_ensure(struct store *s, const char *dest)
{
	sqlite3_stmt *st;

	if ((st = store_stmt(s, "INSERT OR IGNORE INTO sync_dest (dest) VALUES (?1)")) == NULL)
		return -1;
	store_bind_text(st, 1, dest);
	return store_done(s, st);
}

/* One of requeue's statements for dest and one id (NULL: every id); the rows it changed. */
static int
requeue_step(struct store *s, const char *sql, const char *dest, const char *id)
{
	sqlite3_stmt *st = store_stmt(s, sql);

	if (st == NULL)
		return -1;
	store_bind_text(st, 1, dest);
	store_bind_text(st, 2, id);
	if (store_done(s, st) == -1)
		return -1;
	return sqlite3_changes(store_sqlite(s));
}

long
outbox_requeue(struct store *s, const char *dest, const char *const *ids, size_t n)
{
	long moved = 0;
	size_t i;
	int rows;

	if (store_begin_write(s) == -1)
		return -1;
	for (i = 0; i < (ids == NULL ? 1 : n); i++) {
		const char *id = ids == NULL ? NULL : ids[i];

		rows = requeue_step(s, "INSERT OR IGNORE INTO requeue (dest, seq) "
				       "SELECT dest, seq FROM quarantine "
				       "WHERE dest = ?1 AND (?2 IS NULL OR id = ?2)", dest, id);
		if (rows == -1)
			goto fail;
		if (id != NULL && rows == 0) {
			log_warnx("%s: no record %s is set aside for %s", __func__, id, dest);
			goto fail;
		}
		moved += rows;
		if (requeue_step(s, "DELETE FROM quarantine WHERE dest = ?1 AND (?2 IS NULL OR id = ?2)",
			dest, id) == -1)
			goto fail;
	}
	if (store_commit(s) == -1)
		goto fail;
	return moved;
fail:
	store_rollback(s);
	return -1;
}

int
outbox_quarantined(struct store *s, const char *dest, int max,
    int (*fn)(const char *id, const char *result, const char *reason, void *), void *arg)
{
	sqlite3_stmt *st;
	int step, rc = 0;

	if ((st = store_stmt(s, "SELECT id, result, coalesce(reason, '') FROM quarantine "
				"WHERE dest = ?1 ORDER BY seq LIMIT ?2")) == NULL)
		return -1;
	store_bind_text(st, 1, dest);
	sqlite3_bind_int(st, 2, max);
	while ((step = sqlite3_step(st)) == SQLITE_ROW && rc == 0)
		rc = fn((const char *)sqlite3_column_text(st, 0),
		    (const char *)sqlite3_column_text(st, 1), (const char *)sqlite3_column_text(st, 2),
		    arg);
	sqlite3_reset(st);
	return rc == 0 && (step == SQLITE_DONE || step == SQLITE_ROW) ? 0 : -1;
}
