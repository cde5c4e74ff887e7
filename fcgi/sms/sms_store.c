/*
 * The gateway's SQLite store: every message it accepted, keyed by its id, with the order
 * it arrived in (seq) for the listing. A message is on disk before its sender hears
 * "accepted" (the connection runs synchronous = FULL in WAL mode), and the id is checked
 * and written in one BEGIN IMMEDIATE transaction, so that senders racing with the same id
 * (several workers, several notifier processes) store it once and all hear accepted or
 * duplicate.
 */
#include <stdio.h>
#include <string.h>

#include "sms.h"

static const char schema[] =
    "PRAGMA journal_mode = WAL;"
    "CREATE TABLE IF NOT EXISTS messages ("
    " id TEXT PRIMARY KEY,"		/* the sender's idempotency key */
    " seq INTEGER NOT NULL UNIQUE,"	/* the order received: 1, 2, ... (never reused) */
    " to_addr TEXT NOT NULL, text TEXT NOT NULL,"
    " received_at INTEGER NOT NULL);"	/* Unix seconds */
    "CREATE INDEX IF NOT EXISTS messages_to ON messages (to_addr, seq);";

int
sms_store_schema(sqlite3 *db)
{
	if (sqlite3_exec(db, schema, NULL, NULL, NULL) != SQLITE_OK) {
		fprintf(stderr, "store: %s\n", sqlite3_errmsg(db));
		return -1;
	}
	return 0;
}

/* What the store holds for m's id: SMS_ACCEPTED (nothing), _DUPLICATE, _CONFLICT, or
 * _STORE_FAILED. */
static enum sms_put
held(sqlite3 *db, const struct sms_msg *m)
{
	sqlite3_stmt *st = NULL;
	enum sms_put r = SMS_STORE_FAILED;
	int step;

	if (sqlite3_prepare_v2(db, "SELECT to_addr, text FROM messages WHERE id = ?1", -1, &st,
		NULL) != SQLITE_OK)
		return r;
	sqlite3_bind_text(st, 1, m->id, -1, SQLITE_STATIC);
	step = sqlite3_step(st);
	if (step == SQLITE_DONE)
		r = SMS_ACCEPTED;
	else if (step == SQLITE_ROW)
		r = strcmp((const char *)sqlite3_column_text(st, 0), m->to) == 0 &&
		    strcmp((const char *)sqlite3_column_text(st, 1), m->text) == 0 ?
		    SMS_DUPLICATE : SMS_CONFLICT;
	sqlite3_finalize(st);
	return r;
}

static int
insert(sqlite3 *db, const struct sms_msg *m, time_t at)
{
	sqlite3_stmt *st = NULL;
	int rc = -1;

	/* the next seq, under the transaction's write lock */
	if (sqlite3_prepare_v2(db, "INSERT INTO messages (id, seq, to_addr, text, received_at) "
		"VALUES (?1, (SELECT coalesce(max(seq), 0) + 1 FROM messages), ?2, ?3, ?4)", -1, &st,
		NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, m->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, m->to, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, m->text, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)at);
	if (sqlite3_step(st) == SQLITE_DONE)
		rc = 0;
	sqlite3_finalize(st);
	return rc;
}

enum sms_put
sms_store_put(sqlite3 *db, const struct sms_msg *m, time_t at)
{
	enum sms_put r;

	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		goto fail;
	if ((r = held(db, m)) == SMS_STORE_FAILED)
		goto fail;
	if (r != SMS_ACCEPTED) {
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return r;
	}
	/* durable (synchronous = FULL) before anyone is told */
	if (insert(db, m, at) == -1 || sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		goto fail;
	return SMS_ACCEPTED;
fail:
	log_warnx("%s: store: %s", __func__, sqlite3_errmsg(db));
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return SMS_STORE_FAILED;
}

enum { L_SEQ, L_ID, L_TO, L_TEXT, L_AT };	/* the SELECT's columns, by name */

int
sms_store_list(sqlite3 *db, const char *to, long long since, int limit, struct buf *out)
{
	sqlite3_stmt *st = NULL;
	char at[TIMEFMT_LEN];
	int n = 0, step, rc = -1;

	/* one more than asked: whether there is more to page through */
	if (sqlite3_prepare_v2(db, "SELECT seq, id, to_addr, text, received_at FROM messages "
		"WHERE seq > ?1 AND (?2 IS NULL OR to_addr = ?2) ORDER BY seq LIMIT ?3", -1, &st,
		NULL) != SQLITE_OK)
		goto done;
	sqlite3_bind_int64(st, 1, since);
	if (to != NULL)
		sqlite3_bind_text(st, 2, to, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, limit + 1);
	buf_adds(out, "{\"messages\":[");
	while ((step = sqlite3_step(st)) == SQLITE_ROW && n < limit) {
		timefmt_rfc3339(at, (time_t)sqlite3_column_int64(st, L_AT));
		buf_printf(out, "%s{\"seq\":%lld,\"id\":", n++ ? "," : "",
		    (long long)sqlite3_column_int64(st, L_SEQ));
		buf_json_str(out, (const char *)sqlite3_column_text(st, L_ID));
		buf_json_member(out, "to", (const char *)sqlite3_column_text(st, L_TO));
		buf_json_member(out, "text", (const char *)sqlite3_column_text(st, L_TEXT));
		buf_json_member(out, "at", at);
		buf_addc(out, '}');
	}
	if (step != SQLITE_ROW && step != SQLITE_DONE)
		goto done;
	buf_printf(out, "],\"more\":%s}\n", step == SQLITE_ROW ? "true" : "false");
	rc = out->failed ? -1 : 0;
done:
	if (rc == -1)
		log_warnx("%s: store: %s", __func__, out->failed ? "answer over its cap" :
		    sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return rc;
}

long long
sms_store_count(sqlite3 *db)
{
	sqlite3_stmt *st = NULL;
	long long n = -1;

	if (sqlite3_prepare_v2(db, "SELECT count(*) FROM messages", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}
