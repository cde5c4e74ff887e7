/*
 * The outbox as hall-agent sees it: batches after each destination's mark, and the one
 * transaction that moves the mark once the destination has committed. A record leaves the
 * outbox never: delivered records stay as the hall's archive, quarantined ones stay until a
 * person resolves them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "store.h"

static int
prep(sqlite3 *db, sqlite3_stmt **st, const char *sql)
{
	if (sqlite3_prepare_v2(db, sql, -1, st, NULL) != SQLITE_OK) {
		log_warnx("outbox: %s: %s", sql, sqlite3_errmsg(db));
		return -1;
	}
	return 0;
}

void
outbox_batch_free(struct outbox_batch *b)
{
	size_t i;

	if (b == NULL)
		return;
	for (i = 0; i < b->n; i++) {
		free(b->v[i].payload);
		free(b->v[i].reason);
	}
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
	sqlite3 *db = store_sqlite(s);
	sqlite3_stmt *st = NULL;
	int step, rc = -1;

	memset(b, 0, sizeof(*b));
	if ((b->v = calloc(max_records, sizeof(*b->v))) == NULL)
		return -1;
	if (prep(db, &st,
		"SELECT o.seq, o.id, o.type, o.case_no, o.payload FROM outbox o "
		"WHERE o.seq > (SELECT acked_seq FROM sync_dest WHERE dest = ?1) "
		"ORDER BY o.seq LIMIT ?2") == -1)
		goto done;
	sqlite3_bind_text(st, 1, dest, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)max_records);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		struct outbox_rec *r = &b->v[b->n];
		size_t len = (size_t)sqlite3_column_bytes(st, 4);

		/* a batch never passes max_bytes, but always carries at least one record */
		if (b->n > 0 && b->bytes + len > max_bytes)
			break;
		r->seq = sqlite3_column_int64(st, 0);
		snprintf(r->id, sizeof(r->id), "%s", sqlite3_column_text(st, 1));
		snprintf(r->type, sizeof(r->type), "%s", sqlite3_column_text(st, 2));
		snprintf(r->case_no, sizeof(r->case_no), "%s", sqlite3_column_text(st, 3));
		if ((r->payload = malloc(len + 1)) == NULL)
			goto done;
		memcpy(r->payload, sqlite3_column_text(st, 4), len);
		r->payload[len] = '\0';
		r->len = len;
		b->bytes += len;
		b->last_seq = r->seq;
		b->n++;
	}
	if (step != SQLITE_ROW && step != SQLITE_DONE) {
		log_warnx("%s: %s", __func__, sqlite3_errmsg(db));
		goto done;
	}
	rc = 0;
done:
	sqlite3_finalize(st);
	if (rc == -1)
		outbox_batch_free(b);
	return rc;
}

int
outbox_ack(struct store *s, const char *dest, const struct outbox_batch *b, size_t wire_bytes)
{
	sqlite3 *db = store_sqlite(s);
	sqlite3_stmt *mark = NULL, *ev = NULL, *status = NULL, *quar = NULL;
	time_t now = time(NULL);
	long delivered = 0;
	size_t i;
	int county = strcmp(dest, "county") == 0;

	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		goto fail;
	if (prep(db, &mark,
		"UPDATE sync_dest SET acked_seq = max(acked_seq, ?2), last_success_at = ?3, "
		"last_error = NULL, bytes_sent = bytes_sent + ?4, records_sent = records_sent + ?5 "
		"WHERE dest = ?1") == -1 ||
	    prep(db, &ev,
		"INSERT OR IGNORE INTO case_events (id, case_no, status, note, actor, at) "
		"VALUES (?1 || '-D', ?2, 'delivered', NULL, 'county', ?3)") == -1 ||
	    prep(db, &status,
		"UPDATE cases SET status = 'delivered', updated_at = ?2 "
		"WHERE case_no = ?1 AND status = 'received'") == -1 ||
	    prep(db, &quar,
		"INSERT INTO quarantine (id, dest, seq, result, reason, at) "
		"VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (id, dest) DO UPDATE SET "
		"result = excluded.result, reason = excluded.reason, at = excluded.at") == -1)
		goto fail;
	for (i = 0; i < b->n; i++) {
		const struct outbox_rec *r = &b->v[i];

		if (r->result == REC_CONFLICT || r->result == REC_REJECTED) {
			sqlite3_reset(quar);
			sqlite3_bind_text(quar, 1, r->id, -1, SQLITE_STATIC);
			sqlite3_bind_text(quar, 2, dest, -1, SQLITE_STATIC);
			sqlite3_bind_int64(quar, 3, r->seq);
			sqlite3_bind_text(quar, 4, r->result == REC_CONFLICT ? "conflict" : "rejected",
			    -1, SQLITE_STATIC);
			sqlite3_bind_text(quar, 5, outbox_rec_reason(r), -1, SQLITE_STATIC);
			sqlite3_bind_int64(quar, 6, now);
			if (sqlite3_step(quar) != SQLITE_DONE)
				goto fail;
			continue;
		}
		if (r->result != REC_ACCEPTED && r->result != REC_DUPLICATE)
			goto fail;	/* the sink left a record without an answer */
		delivered++;
		if (!county || strcmp(r->type, "case") != 0)
			continue;
		/* what the citizen sees: the county has the case */
		sqlite3_reset(ev);
		sqlite3_bind_text(ev, 1, r->id, -1, SQLITE_STATIC);
		sqlite3_bind_text(ev, 2, r->case_no, -1, SQLITE_STATIC);
		sqlite3_bind_int64(ev, 3, now);
		sqlite3_reset(status);
		sqlite3_bind_text(status, 1, r->case_no, -1, SQLITE_STATIC);
		sqlite3_bind_int64(status, 2, now);
		if (sqlite3_step(ev) != SQLITE_DONE || sqlite3_step(status) != SQLITE_DONE)
			goto fail;
	}
	sqlite3_bind_text(mark, 1, dest, -1, SQLITE_STATIC);
	sqlite3_bind_int64(mark, 2, b->last_seq);
	sqlite3_bind_int64(mark, 3, now);
	sqlite3_bind_int64(mark, 4, (sqlite3_int64)wire_bytes);
	sqlite3_bind_int64(mark, 5, delivered);
	if (sqlite3_step(mark) != SQLITE_DONE ||
	    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		goto fail;
	sqlite3_finalize(mark);
	sqlite3_finalize(ev);
	sqlite3_finalize(status);
	sqlite3_finalize(quar);
	return 0;
fail:
	log_warnx("%s: %s", __func__, sqlite3_errmsg(db));
	if (!sqlite3_get_autocommit(db))
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_finalize(mark);
	sqlite3_finalize(ev);
	sqlite3_finalize(status);
	sqlite3_finalize(quar);
	return -1;
}

int
outbox_error(struct store *s, const char *dest, const char *msg)
{
	sqlite3 *db = store_sqlite(s);
	sqlite3_stmt *st = NULL;
	int rc = -1;

	if (prep(db, &st,
		"UPDATE sync_dest SET last_error = ?2, last_error_at = ?3 WHERE dest = ?1") == -1)
		return -1;
	sqlite3_bind_text(st, 1, dest, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, msg, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, time(NULL));
	if (sqlite3_step(st) == SQLITE_DONE)
		rc = 0;
	sqlite3_finalize(st);
	return rc;
}

int
outbox_success(struct store *s, const char *dest)
{
	sqlite3 *db = store_sqlite(s);
	sqlite3_stmt *st = NULL;
	int rc = -1;

	if (prep(db, &st,
		"UPDATE sync_dest SET last_error = NULL, last_success_at = ?2 WHERE dest = ?1") == -1)
		return -1;
	sqlite3_bind_text(st, 1, dest, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, time(NULL));
	if (sqlite3_step(st) == SQLITE_DONE)
		rc = 0;
	sqlite3_finalize(st);
	return rc;
}

int
outbox_status(struct store *s, const char *dest, struct outbox_status *o)
{
	sqlite3 *db = store_sqlite(s);
	sqlite3_stmt *st = NULL;
	int rc = -1;

	memset(o, 0, sizeof(*o));
	snprintf(o->dest, sizeof(o->dest), "%s", dest);
	if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
		return -1;
	if (prep(db, &st,
		"SELECT d.acked_seq, d.last_success_at, d.last_error, d.last_error_at, "
		"d.bytes_sent, d.records_sent, "
		"(SELECT count(*) FROM outbox o WHERE o.seq > d.acked_seq), "
		"(SELECT min(at) FROM outbox o WHERE o.seq > d.acked_seq), "
		"(SELECT count(*) FROM quarantine q WHERE q.dest = d.dest), "
		"(SELECT coalesce(max(seq), 0) FROM outbox) "
		"FROM sync_dest d WHERE d.dest = ?1") == -1)
		goto done;
	sqlite3_bind_text(st, 1, dest, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_ROW)
		goto done;
	o->acked_seq = sqlite3_column_int64(st, 0);
	o->last_success_at = sqlite3_column_int64(st, 1);
	if (sqlite3_column_text(st, 2) != NULL)
		snprintf(o->last_error, sizeof(o->last_error), "%s", sqlite3_column_text(st, 2));
	o->last_error_at = sqlite3_column_int64(st, 3);
	o->bytes_sent = sqlite3_column_int64(st, 4);
	o->records_sent = sqlite3_column_int64(st, 5);
	o->backlog = (long)sqlite3_column_int64(st, 6);
	o->oldest_unsent = sqlite3_column_int64(st, 7);
	o->quarantined = (long)sqlite3_column_int64(st, 8);
	o->max_seq = sqlite3_column_int64(st, 9);
	rc = 0;
done:
	sqlite3_finalize(st);
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	return rc;
}

long long
outbox_backlog_after(struct store *s, int64_t seq)
{
	sqlite3_stmt *st = NULL;
	long long n = 0;

	if (prep(store_sqlite(s), &st, "SELECT count(*) FROM outbox WHERE seq > ?1") == -1)
		return 0;
	sqlite3_bind_int64(st, 1, seq);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

int
outbox_dest_ensure(struct store *s, const char *dest)
{
	sqlite3_stmt *st = NULL;
	int rc = -1;

	if (prep(store_sqlite(s), &st, "INSERT OR IGNORE INTO sync_dest (dest) VALUES (?1)") == -1)
		return -1;
	sqlite3_bind_text(st, 1, dest, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_DONE)
		rc = 0;
	sqlite3_finalize(st);
	return rc;
}
