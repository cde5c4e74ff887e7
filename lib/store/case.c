/*
 * Cases as the citizen site makes and reads them. case_apply writes a new case and its
 * outbox record inside the group's transaction (write_group.c), or finds the case a
 * retried submission already made; store_case_get reads a case, its rating and its events
 * in one read transaction, the path of every progress lookup.
 *
 * A case's 'received' is its row's submitted_at, not a row of case_events: a row written
 * for it put a table and two indexes more into every group's commit, about a sixth of the
 * submissions a hall takes per second. Stores from before keep theirs, and a store
 * restored from the county gets one (restore.c): the timeline shows one 'received' either
 * way (case_events_sql).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <sqlite3.h>

#include "store_int.h"

int
case_days(const struct hall_config *cfg, const char *kind)
{
	if (strcmp(kind, "complaint") == 0)
		return cfg->complaint_days;
	if (strcmp(kind, "unresolved") == 0)
		return cfg->unresolved_days;
	return cfg->consultation_days;
}

/*
 * The key of the query codes' MACs: meta query_key (hex), made from libsodium's random
 * bytes when a program first binds a writable store to its hall (store_query_key_make),
 * else by the first case the store writes (inside its write transaction); read once per
 * connection. A backup holds it, so a restored store checks the MACs of the cases made
 * after the backup, which the county sends back: even a backup made before the store's
 * first case. 0, or -1 (a read-only store without one).
 */
static int
query_key(struct store *s)
{
	char hex[65];
	size_t n = 0;
	int rc;

	if (s->query_key_loaded)
		return 0;
	if ((rc = store_meta(s, "query_key", hex, sizeof(hex))) == -1)
		return -1;
	if (rc == 1) {
		if (sodium_hex2bin(s->query_key, sizeof(s->query_key), hex, strlen(hex), NULL, &n,
			NULL) != 0 || n != sizeof(s->query_key)) {
			log_warnx("%s: meta query_key is damaged", __func__);
			return -1;
		}
	} else {
		if (s->readonly || sqlite3_get_autocommit(s->db))
			return -1;	/* made only inside a write */
		randombytes_buf(s->query_key, sizeof(s->query_key));
		sodium_bin2hex(hex, sizeof(hex), s->query_key, sizeof(s->query_key));
		if (store_meta_set(s, "query_key", hex) == -1)
			return -1;
	}
	s->query_key_loaded = 1;
	return 0;
}

int
store_query_key_make(struct store *s)
{
	char hex[65];
	int rc;

	if (s->readonly || (rc = store_meta(s, "query_key", hex, sizeof(hex))) == 1)
		return 0;
	if (rc == -1 || store_begin_write(s) == -1)
		return -1;
	if (query_key(s) == -1 || store_commit(s) == -1) {
		store_rollback(s);
		return -1;
	}
	return 0;
}

/* The whole HMAC-SHA-256 of "number\ncode" in hex (64 characters). */
static int
query_mac_full(struct store *s, const char *number, const char *code, char out[65])
{
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	crypto_auth_hmacsha256_state st;

	if (query_key(s) == -1)
		return -1;
	crypto_auth_hmacsha256_init(&st, s->query_key, sizeof(s->query_key));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)number, strlen(number));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)"\n", 1);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)code, strlen(code));
	crypto_auth_hmacsha256_final(&st, mac);
	sodium_bin2hex(out, 65, mac, sizeof(mac));
	return 0;
}

int
store_query_mac(struct store *s, const char *number, const char *code, char out[65])
{
	if (query_mac_full(s, number, code, out) == -1)
		return -1;
	out[QUERY_MAC_HEX] = '\0';
	return 0;
}

int
store_query_mac_ok(struct store *s, const char *number, const char *mac, const char *code)
{
	char full[65];
	size_t n = strlen(mac);

	if (strlen(code) != 6 || (n != QUERY_MAC_HEX && n != 64) ||
	    query_mac_full(s, number, code, full) == -1)
		return 0;
	return sodium_memcmp(mac, full, n) == 0;
}

int
store_case_code_ok(struct store *s, const struct case_view *v, const char *code)
{
	if (strlen(code) != 6)
		return 0;
	if (v->query_code[0] != '\0')
		return sodium_memcmp(v->query_code, code, 6) == 0;
	return store_query_mac_ok(s, v->case_no, v->query_mac, code);
}

/* The receipt of the case a submission with this key made already: 1 found, 0 none, -1. */
static int
case_replay(struct store *s, const char *dedup_key, struct receipt *r)
{
	sqlite3_stmt *st;
	int step;

	if ((st = store_stmt(s, "SELECT id, case_no, query_code, submitted_at, due_at, "
				"due_provisional FROM cases WHERE dedup_key = ?1")) == NULL)
		return -1;
	store_bind_text(st, 1, dedup_key);
	if ((step = sqlite3_step(st)) == SQLITE_ROW) {
		snprintf(r->id, sizeof(r->id), "%s", sqlite3_column_text(st, 0));
		snprintf(r->case_no, sizeof(r->case_no), "%s", sqlite3_column_text(st, 1));
		snprintf(r->query_code, sizeof(r->query_code), "%s", sqlite3_column_text(st, 2));
		r->submitted_at = sqlite3_column_int64(st, 3);
		r->due_at = sqlite3_column_int64(st, 4);
		r->due_provisional = sqlite3_column_int(st, 5);
		r->replayed = 1;
	}
	sqlite3_reset(st);
	if (step == SQLITE_ROW)
		return 1;
	return step == SQLITE_DONE ? 0 : -1;
}

enum store_rc
case_apply(struct store *s, const struct store_write *w)
{
	const struct case_new *c = w->c;
	struct receipt *r = w->receipt;
	const struct calendar *cal;
	sqlite3_stmt *st;
	struct buf payload;
	char mac[65];
	uint64_t seq;
	enum store_rc rc = STORE_ERR;

	memset(r, 0, sizeof(*r));
	if (c->dedup_key != NULL) {
		switch (case_replay(s, c->dedup_key, r)) {
		case 1:
			return STORE_OK;
		case 0:
			break;
		default:
			return STORE_ERR;
		}
	}
	if ((rc = write_next_seq(s, &seq)) != STORE_OK)
		return rc;
	if ((cal = store_calendar(s)) == NULL)
		return STORE_ERR;
	if (caseno_make(r->case_no, s->hall_code, seq) == -1 ||
	    record_id_make(r->id, sizeof(r->id), s->hall_code, 'C', seq) == -1)
		return STORE_ERR;
	snprintf(r->query_code, sizeof(r->query_code), "%06" PRIu32,
	    randombytes_uniform(1000000));
	r->submitted_at = write_seq_time(seq);
	r->due_at = calendar_due(cal, r->submitted_at, case_days(w->cfg, c->kind),
	    &r->due_provisional);
	if (r->due_at == (time_t)-1 || store_query_mac(s, r->case_no, r->query_code, mac) == -1)
		return STORE_ERR;
	buf_init(&payload, 64 * 1024);
	rc = STORE_ERR;
	if (record_case_json(&payload, r->id, s->hall_code, r->case_no, c, r->submitted_at,
		r->due_at, r->due_provisional, mac) == -1)
		goto done;
	if ((st = store_stmt(s, "INSERT INTO cases (id, case_no, query_code, kind, category, "
				"subject, body, name, phone, email, item, target, submitted_at, "
				"due_at, due_provisional, updated_at, dedup_key, channel, registrar, "
				"notify) "
				"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, "
				"?14, ?15, ?13, ?16, coalesce(?17, 'online'), ?18, ?19)")) == NULL)
		goto done;
	store_bind_text(st, 1, r->id);
	store_bind_text(st, 2, r->case_no);
	store_bind_text(st, 3, r->query_code);
	store_bind_text(st, 4, c->kind);
	store_bind_text(st, 5, c->category);
	store_bind_text(st, 6, c->subject);
	store_bind_text(st, 7, c->body);
	store_bind_text(st, 8, c->name);
	store_bind_text(st, 9, c->phone);
	store_bind_text(st, 10, c->email);
	store_bind_text(st, 11, c->item);
	store_bind_text(st, 12, c->target);
	sqlite3_bind_int64(st, 13, r->submitted_at);
	sqlite3_bind_int64(st, 14, r->due_at);
	sqlite3_bind_int(st, 15, r->due_provisional);
	store_bind_text(st, 16, c->dedup_key);
	store_bind_text(st, 17, c->channel);
	store_bind_text(st, 18, c->registrar);
	sqlite3_bind_int(st, 19, !c->notify_off);
	if (store_done(s, st) == 0 &&
	    write_outbox_add(s, r->id, "case", r->case_no, r->submitted_at, &payload) == 0)
		rc = STORE_OK;
done:
	buf_free(&payload);
	return rc;
}

enum store_rc
store_case_create(struct store *s, const struct hall_config *cfg, const struct case_new *c,
    struct receipt *r)
{
	struct store_write w = {.kind = STORE_WRITE_CASE, .cfg = cfg, .c = c, .receipt = r};

	store_write_group(s, &w, 1);
	return w.rc;
}

void
case_view_free(struct case_view *v)
{
	size_t i;

	if (v == NULL)
		return;
	free(v->kind);
	free(v->category);
	free(v->subject);
	free(v->body);
	free(v->phone);
	free(v->status);
	free(v->reply_text);
	for (i = 0; i < v->nevents; i++) {
		free(v->events[i].status);
		free(v->events[i].note);
	}
	free(v->events);
	memset(v, 0, sizeof(*v));
}

/*
 * A lookup's whole case in one statement: its rating, and when the hall last heard from
 * the county (store_synced_at), come along.
 */
enum {
	CG_CASE_NO, CG_QUERY_CODE, CG_KIND, CG_CATEGORY, CG_SUBJECT, CG_BODY, CG_PHONE,
	CG_STATUS, CG_REPLY_TEXT, CG_SUBMITTED_AT, CG_DUE_AT, CG_REPLY_AT, CG_DUE_PROVISIONAL,
	CG_RATING_LEVEL, CG_RATING_AT, CG_SYNCED_AT, CG_QUERY_MAC
};
static const char case_get_sql[] =
    "SELECT case_no, query_code, kind, category, subject, body, phone, status, reply_text, "
    "submitted_at, due_at, reply_at, due_provisional, r.level, r.at, "
    "max((SELECT coalesce(max(last_success_at), 0) FROM sync_dest), "
    "coalesce((SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'last_downlink_at'), 0)), "
    "query_mac FROM cases c LEFT JOIN ratings r USING (case_no) WHERE c.case_no = ?1";

/*
 * Its timeline: 'received' at submitted_at first, unless the store holds a row for it (a
 * store from before, or restored), then its events by time, in the order they came.
 */
static const char case_events_sql[] =
    "SELECT 'received', NULL, submitted_at, 0, 0 FROM cases WHERE case_no = ?1 "
    "AND NOT EXISTS (SELECT 1 FROM case_events WHERE case_no = ?1 AND status = 'received') "
    "UNION ALL SELECT status, note, at, 1, rowid FROM case_events WHERE case_no = ?1 "
    "ORDER BY 3, 4, 5 LIMIT 100";

enum store_rc
store_case_get(struct store *s, const char *case_no, struct case_view *v)
{
	sqlite3_stmt *st;
	enum store_rc rc = STORE_ERR;
	int step;

	memset(v, 0, sizeof(*v));
	if (store_begin_read(s) == -1)
		return STORE_ERR;
	if ((st = store_stmt(s, case_get_sql)) == NULL)
		goto done;
	store_bind_text(st, 1, case_no);
	if ((step = sqlite3_step(st)) != SQLITE_ROW) {
		rc = step == SQLITE_DONE ? STORE_NOT_FOUND : STORE_ERR;
		goto done;
	}
	/* (not snprintf: this is every lookup's path) */
	store_col_copy(v->case_no, sizeof(v->case_no), st, CG_CASE_NO);
	store_col_copy(v->query_code, sizeof(v->query_code), st, CG_QUERY_CODE);
	store_col_copy(v->query_mac, sizeof(v->query_mac), st, CG_QUERY_MAC);
	v->kind = store_col_dup(st, CG_KIND);
	v->category = store_col_dup(st, CG_CATEGORY);
	v->subject = store_col_dup(st, CG_SUBJECT);
	v->body = store_col_dup(st, CG_BODY);
	v->phone = store_col_dup(st, CG_PHONE);
	v->status = store_col_dup(st, CG_STATUS);
	v->reply_text = store_col_dup(st, CG_REPLY_TEXT);
	v->submitted_at = sqlite3_column_int64(st, CG_SUBMITTED_AT);
	v->due_at = sqlite3_column_int64(st, CG_DUE_AT);
	v->reply_at = sqlite3_column_int64(st, CG_REPLY_AT);
	v->due_provisional = sqlite3_column_int(st, CG_DUE_PROVISIONAL);
	v->rating_level = sqlite3_column_int(st, CG_RATING_LEVEL);	/* NULL: 0, not rated */
	v->rating_at = sqlite3_column_int64(st, CG_RATING_AT);
	v->synced_at = sqlite3_column_int64(st, CG_SYNCED_AT);
	sqlite3_reset(st);
	if (v->kind == NULL || v->subject == NULL || v->body == NULL || v->phone == NULL ||
	    v->status == NULL)
		goto done;

	if ((st = store_stmt(s, case_events_sql)) == NULL)
		goto done;
	store_bind_text(st, 1, case_no);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		struct case_event *e;

		if ((e = reallocarray(v->events, v->nevents + 1, sizeof(*e))) == NULL)
			goto done;
		v->events = e;
		e = &v->events[v->nevents++];
		e->status = store_col_dup(st, 0);
		e->note = store_col_dup(st, 1);
		e->at = sqlite3_column_int64(st, 2);
		if (e->status == NULL)
			goto done;
	}
	sqlite3_reset(st);
	/* the events in the same read transaction: one snapshot, one lock, per lookup */
	if (step == SQLITE_DONE)
		rc = STORE_OK;
done:
	if (st != NULL)
		sqlite3_reset(st);
	store_commit(s);
	if (rc != STORE_OK)
		case_view_free(v);
	if (rc == STORE_ERR)
		log_warnx("%s: %s", __func__, store_errmsg(s));
	return rc;
}
