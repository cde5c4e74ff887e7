/*
 * Issue 13 at the hall store (SPEC 5.6): the citizen's notify choice and a new query code.
 * notify: stored, and in the case record only when off (every other record keeps its
 * bytes). A new code (lib/store/code.c): replaces the old one and its MAC at once, also for
 * a case a restore brought back with a MAC only; its `code` record is written in the same
 * transaction, for the county alone (the province never reads it, nor counts it as its
 * backlog, nor does it keep a closed case from minimization); its payload is stripped once
 * the county holds it; the limits (10 minutes, 3 a rolling day) hold and a refusal writes
 * nothing. Runs from the repository root on a temporary store.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <sodium.h>
#include <jansson.h>
#include <sqlite3.h>

#include "store.h"
#include "web.h"
#include "unit.h"
#include "store_fixture.h"

static void
create(struct fixture *f, const char *phone, struct receipt *r)
{
	struct case_new c = consultation();

	c.phone = phone;
	assert_int_equal(store_case_create(f->s, &f->cfg, &c, r), STORE_OK);
}

static enum store_rc
resend(struct fixture *f, const char *case_no, struct code_resend *cr)
{
	memset(cr, 0, sizeof(*cr));
	snprintf(cr->case_no, sizeof(cr->case_no), "%s", case_no);
	return store_code_resend(f->s, cr);
}

/* 1 when code opens the case, as a lookup checks it. */
static int
opens(struct fixture *f, const char *case_no, const char *code)
{
	struct case_view v;
	int ok;

	assert_int_equal(store_case_get(f->s, case_no, &v), STORE_OK);
	ok = store_case_code_ok(f->s, &v, code);
	case_view_free(&v);
	return ok;
}

/* The first column of sql's first row as text the caller frees; NULL for NULL. */
static char *
field_text(struct fixture *f, const char *sql, const char *arg)
{
	sqlite3 *db = raw_open(f->path);
	char *v = raw(db, sql, arg);

	sqlite3_close(db);
	return v;
}

static long long
count(struct fixture *f, const char *sql, const char *arg)
{
	return raw_int(f->path, sql, arg);
}

/* The destination takes everything due to it. */
static void
deliver(struct fixture *f, const char *dest)
{
	struct outbox_batch b;
	size_t i;

	assert_int_equal(outbox_dest_ensure(f->s, dest), 0);
	assert_int_equal(outbox_next(f->s, dest, 100, 1 << 20, &b), 0);
	for (i = 0; i < b.n; i++)
		b.v[i].result = REC_ACCEPTED;
	if (b.n > 0)
		assert_int_equal(outbox_ack(f->s, dest, &b, 100), 0);
	outbox_batch_free(&b);
}

/* ---- notify ------------------------------------------------------------------------ */

static void
test_notify_record_bytes(void **state)
{
	struct case_new c = consultation();
	struct buf on, off;
	const char *mac = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	const char *cut;

	(void)state;
	buf_init(&on, 1 << 16);
	buf_init(&off, 1 << 16);
	assert_int_equal(record_case_json(&on, HALL "-C1", HALL, "CASE", &c, 1790000000,
			     1790300000, 0, mac), 0);
	c.notify_off = 1;
	assert_int_equal(record_case_json(&off, HALL "-C1", HALL, "CASE", &c, 1790000000,
			     1790300000, 0, mac), 0);
	/* on (the default): no notify member at all */
	assert_null(strstr(on.data, "notify"));
	/* off: the same bytes with ,"notify":false where the MAC starts */
	cut = strstr(on.data, ",\"query_mac\"");
	assert_non_null(cut);
	assert_int_equal(off.len, on.len + strlen(",\"notify\":false"));
	assert_memory_equal(off.data, on.data, (size_t)(cut - on.data));
	assert_memory_equal(off.data + (cut - on.data), ",\"notify\":false", 15);
	assert_string_equal(off.data + (cut - on.data) + 15, cut);
	buf_free(&on);
	buf_free(&off);
}

static void
test_notify_stored(void **state)
{
	struct fixture *f = *state;
	struct case_new c = consultation();
	struct receipt on, off;
	json_t *j;

	assert_int_equal(store_case_create(f->s, &f->cfg, &c, &on), STORE_OK);
	c.notify_off = 1;
	assert_int_equal(store_case_create(f->s, &f->cfg, &c, &off), STORE_OK);
	assert_int_equal(count(f, "SELECT notify FROM cases WHERE case_no = ?1", on.case_no), 1);
	assert_int_equal(count(f, "SELECT notify FROM cases WHERE case_no = ?1", off.case_no), 0);
	j = outbox_json(f, on.id);
	assert_null(json_object_get(j, "notify"));
	json_decref(j);
	j = outbox_json(f, off.id);
	assert_true(json_is_false(json_object_get(j, "notify")));
	json_decref(j);
}

/* The API's boolean: only where the program names it; elsewhere a wrong type, as before. */
static void
test_json_bools(void **state)
{
	static const char *const bools[] = {"notify", NULL};
	const char *t = "{\"notify\":false,\"subject\":\"x\"}";
	struct kvlist in;

	(void)state;
	assert_int_equal(kv_parse_json_bools(t, strlen(t), bools, &in), PARSE_OK);
	assert_string_equal(kv_get(&in, "notify")->value, "false");
	assert_true(kv_get(&in, "notify")->is_bool);
	assert_false(kv_get(&in, "subject")->is_bool);
	kv_free(&in);
	assert_int_equal(kv_parse_json(t, strlen(t), &in), PARSE_BAD_TYPE);
	assert_string_equal(in.bad_name, "notify");
	kv_free(&in);
	t = "{\"subject\":true}";
	assert_int_equal(kv_parse_json_bools(t, strlen(t), bools, &in), PARSE_BAD_TYPE);
	kv_free(&in);
	t = "{\"notify\":\"false\"}";
	assert_int_equal(kv_parse_json_bools(t, strlen(t), bools, &in), PARSE_OK);
	assert_false(kv_get(&in, "notify")->is_bool);
	kv_free(&in);
}

/* ---- a new code --------------------------------------------------------------------- */

static void
test_new_code_replaces_old(void **state)
{
	struct fixture *f = *state;
	struct code_resend cr;
	struct receipt r;
	char mac[65], *have;
	json_t *j;

	create(f, "13800138000", &r);
	assert_true(opens(f, r.case_no, r.query_code));
	assert_int_equal(resend(f, r.case_no, &cr), STORE_OK);
	assert_int_equal(cr.refused, CODE_ISSUED);
	assert_string_equal(cr.sent_to, "*******8000");
	assert_int_equal(strlen(cr.code), 6);
	assert_string_not_equal(cr.code, r.query_code);
	/* the old code stops working at once; the new one opens the case */
	assert_false(opens(f, r.case_no, r.query_code));
	assert_true(opens(f, r.case_no, cr.code));
	/* the MAC the county will hold is the new code's */
	assert_int_equal(store_query_mac(f->s, r.case_no, cr.code, mac), 0);
	have = field_text(f, "SELECT query_mac FROM cases WHERE case_no = ?1", r.case_no);
	assert_string_equal(have, mac);
	free(have);
	/* a retried submission can no longer answer with a receipt that shows it */
	assert_int_equal(count(f, "SELECT dedup_key IS NULL FROM cases WHERE case_no = ?1",
			     r.case_no), 1);
	/* its record: for the county alone, as COMMON's contract says */
	assert_int_equal(count(f, "SELECT count(*) FROM outbox WHERE type = 'code' "
				  "AND only_for = 'county' AND case_no = ?1", r.case_no), 1);
	assert_int_equal(id_seq(cr.id, 'Q') > 0, 1);
	j = outbox_json(f, cr.id);
	assert_string_equal(jstr(j, "type"), "code");
	assert_string_equal(jstr(j, "id"), cr.id);
	assert_string_equal(jstr(j, "hall_code"), HALL);
	assert_string_equal(jstr(j, "case_no"), r.case_no);
	assert_string_equal(jstr(j, "code"), cr.code);
	assert_string_equal(jstr(j, "query_mac"), mac);
	assert_int_equal(strlen(jstr(j, "at")), 25);
	assert_non_null(strstr(jstr(j, "at"), "+08:00"));
	assert_int_equal(json_object_size(j), 7);
	json_decref(j);
	assert_int_equal(count(f, "SELECT count(*) FROM code_resends WHERE case_no = ?1",
			     r.case_no), 1);
}

/* A case a restore brought back holds the MAC only: a new code replaces it too. */
static void
test_new_code_of_restored_case(void **state)
{
	struct fixture *f = *state;
	struct code_resend cr;
	struct receipt r;
	char mac[65];
	sqlite3 *db;
	sqlite3_stmt *st;

	create(f, "13912345678", &r);
	assert_int_equal(store_query_mac(f->s, r.case_no, r.query_code, mac), 0);
	db = raw_open(f->path);
	assert_int_equal(sqlite3_prepare_v2(db, "UPDATE cases SET query_code = '', query_mac = ?2, "
						"phone = '139****5678', minimized_at = 1 "
						"WHERE case_no = ?1", -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_text(st, 1, r.case_no, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, mac, -1, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
	sqlite3_close(db);
	assert_true(opens(f, r.case_no, r.query_code));	/* by its MAC */
	/* the masked mobile still says "mobile": the county holds the number and sends */
	assert_int_equal(resend(f, r.case_no, &cr), STORE_OK);
	assert_string_equal(cr.sent_to, "*******5678");
	assert_false(opens(f, r.case_no, r.query_code));
	assert_true(opens(f, r.case_no, cr.code));
}

/* The code record and the new code commit together or not at all. */
static void
test_same_transaction(void **state)
{
	struct fixture *f = *state;
	struct code_resend cr;
	struct receipt r;

	create(f, "13800138000", &r);
	raw_exec(f->path, "CREATE TRIGGER no_code BEFORE INSERT ON outbox WHEN NEW.type = 'code' "
			  "BEGIN SELECT RAISE(ABORT, 'the outbox refuses'); END", NULL);
	assert_int_equal(resend(f, r.case_no, &cr), STORE_ERR);
	assert_true(opens(f, r.case_no, r.query_code));
	assert_int_equal(count(f, "SELECT count(*) FROM code_resends", NULL), 0);
	assert_int_equal(count(f, "SELECT count(*) FROM outbox WHERE type = 'code'", NULL), 0);
	raw_exec(f->path, "DROP TRIGGER no_code", NULL);
	assert_int_equal(resend(f, r.case_no, &cr), STORE_OK);
	assert_true(opens(f, r.case_no, cr.code));
}

/* Nothing of a refusal is written: the code, the limits and the outbox stay as they were. */
static void
assert_unchanged(struct fixture *f, const char *case_no, const char *code, long long records,
    long long resends)
{
	assert_true(opens(f, case_no, code));
	assert_int_equal(count(f, "SELECT count(*) FROM outbox WHERE case_no = ?1", case_no),
	    records);
	assert_int_equal(count(f, "SELECT count(*) FROM code_resends WHERE case_no = ?1", case_no),
	    resends);
}

static void
test_limits(void **state)
{
	struct fixture *f = *state;
	struct code_resend cr;
	struct receipt r;
	char code[7];
	time_t now;

	create(f, "13800138000", &r);
	assert_int_equal(resend(f, r.case_no, &cr), STORE_OK);
	memcpy(code, cr.code, sizeof(code));
	/* a second within 10 minutes */
	assert_int_equal(resend(f, r.case_no, &cr), STORE_CONFLICT);
	assert_int_equal(cr.refused, CODE_TOO_SOON);
	assert_in_range(cr.retry_after, 590, 600);
	assert_unchanged(f, r.case_no, code, 2, 1);
	/* 10 minutes later (the row moved back in time): a second, then a third */
	raw_exec(f->path, "UPDATE code_resends SET at = at - 601", NULL);
	assert_int_equal(resend(f, r.case_no, &cr), STORE_OK);
	raw_exec(f->path, "UPDATE code_resends SET at = at - 601", NULL);
	assert_int_equal(resend(f, r.case_no, &cr), STORE_OK);
	memcpy(code, cr.code, sizeof(code));
	raw_exec(f->path, "UPDATE code_resends SET at = at - 601", NULL);
	/* a fourth in the same 24 hours: until the first of them is a day old */
	now = time(NULL);
	assert_int_equal(resend(f, r.case_no, &cr), STORE_CONFLICT);
	assert_int_equal(cr.refused, CODE_DAY_LIMIT);
	assert_in_range(cr.retry_after, 86400 - 3 * 601 - 1 - (time(NULL) - now) - 5,
	    86400 - 3 * 601 + 1);
	assert_unchanged(f, r.case_no, code, 4, 3);
	/* rolling: once the oldest is past the day, one more; the old rows go */
	raw_exec(f->path, "UPDATE code_resends SET at = at - 86400 "
			  "WHERE at = (SELECT min(at) FROM code_resends)", NULL);
	assert_int_equal(resend(f, r.case_no, &cr), STORE_OK);
	assert_int_equal(count(f, "SELECT count(*) FROM code_resends WHERE case_no = ?1",
			     r.case_no), 3);
	/* the limits are per case: another case is not held back */
	create(f, "13800138001", &r);
	assert_int_equal(resend(f, r.case_no, &cr), STORE_OK);
}

static void
test_refusals(void **state)
{
	struct fixture *f = *state;
	struct code_resend cr;
	struct receipt r;
	char no[CASENO_LEN + 1];

	/* an unknown case, as a lookup's */
	create(f, "13800138000", &r);
	memcpy(no, r.case_no, sizeof(no));
	no[CASENO_LEN - 3] = no[CASENO_LEN - 3] == '2' ? '3' : '2';
	assert_int_equal(resend(f, no, &cr), STORE_NOT_FOUND);
	/* a landline: no SMS can carry a code */
	create(f, "0731-84567890", &r);
	assert_int_equal(resend(f, r.case_no, &cr), STORE_CONFLICT);
	assert_int_equal(cr.refused, CODE_NO_MOBILE);
	assert_unchanged(f, r.case_no, r.query_code, 1, 0);
	/* closed recently: a code (the citizen may want to read or rate); long ago: none */
	create(f, "13800138000", &r);
	set_status(f, r.case_no, "resolved");
	assert_int_equal(resend(f, r.case_no, &cr), STORE_OK);
	create(f, "13800138000", &r);
	set_status(f, r.case_no, "rejected");
	raw_exec(f->path, "UPDATE cases SET updated_at = updated_at - 31 * 86400 "
			  "WHERE case_no = ?1", r.case_no);
	assert_int_equal(resend(f, r.case_no, &cr), STORE_CONFLICT);
	assert_int_equal(cr.refused, CODE_CLOSED);
	assert_unchanged(f, r.case_no, r.query_code, 1, 0);
	assert_string_equal(code_refusal_text(CODE_NO_MOBILE), "no_mobile");
	assert_string_equal(code_refusal_text(CODE_CLOSED), "closed");
}

/* ---- the province never gets one ----------------------------------------------------- */

static void
test_province_skips_code(void **state)
{
	struct fixture *f = *state;
	struct outbox_status os;
	struct outbox_batch b;
	struct sync_health h;
	struct code_resend cr;
	struct receipt r, r2;
	size_t i;

	f->cfg.county_user = (char *)"hall_" HALL;
	f->cfg.province_url = (char *)"https://province.example/hall";
	assert_int_equal(outbox_dest_ensure(f->s, "province"), 0);
	create(f, "13800138000", &r);
	assert_int_equal(resend(f, r.case_no, &cr), STORE_OK);
	/* the province is due the case, not the code */
	assert_int_equal(outbox_next(f->s, "province", 100, 1 << 20, &b), 0);
	assert_int_equal(b.n, 1);
	assert_string_equal(b.v[0].type, "case");
	outbox_batch_free(&b);
	assert_int_equal(outbox_status(f->s, "province", &os), 0);
	assert_int_equal(os.backlog, 1);
	/* the county is due both */
	assert_int_equal(outbox_next(f->s, "county", 100, 1 << 20, &b), 0);
	assert_int_equal(b.n, 2);
	assert_string_equal(b.v[1].type, "code");
	outbox_batch_free(&b);
	deliver(f, "county");
	deliver(f, "province");
	/* the code row is past the province's mark, and yet nothing is its backlog */
	assert_int_equal(outbox_status(f->s, "province", &os), 0);
	assert_int_equal(os.backlog, 0);
	assert_int_equal(os.oldest_unsent, 0);
	assert_int_equal(store_health(f->s, &f->cfg, &h), 0);
	assert_int_equal(h.backlog, 0);
	/* a record after it goes to both, and the province's mark passes the code */
	create(f, "13800138001", &r2);
	assert_int_equal(store_health(f->s, &f->cfg, &h), 0);
	assert_int_equal(h.backlog, 1);
	assert_int_equal(outbox_next(f->s, "province", 100, 1 << 20, &b), 0);
	assert_int_equal(b.n, 1);
	for (i = 0; i < b.n; i++)
		assert_string_not_equal(b.v[i].type, "code");
	outbox_batch_free(&b);
	deliver(f, "province");
	assert_int_equal(count(f, "SELECT acked_seq > (SELECT seq FROM outbox WHERE type = 'code') "
				  "FROM sync_dest WHERE dest = 'province'", NULL), 1);
	/* and before the county took it, the code is the county's backlog alone */
	assert_int_equal(resend(f, r2.case_no, &cr), STORE_OK);
	assert_int_equal(outbox_status(f->s, "county", &os), 0);
	assert_int_equal(os.backlog, 2);	/* the second case and its code */
	assert_int_equal(outbox_status(f->s, "province", &os), 0);
	assert_int_equal(os.backlog, 0);
}

/* The schema will not take a code record for every destination. */
static void
test_code_is_the_countys(void **state)
{
	struct fixture *f = *state;
	sqlite3 *db = raw_open(f->path);

	assert_int_equal(sqlite3_exec(db, "INSERT INTO outbox (id, type, case_no, at, payload) "
					  "VALUES ('x', 'code', 'C', 1, '{}')", NULL, NULL, NULL),
	    SQLITE_CONSTRAINT);
	assert_int_equal(sqlite3_exec(db, "INSERT INTO outbox (id, type, case_no, at, payload, "
					  "only_for) VALUES ('x', 'code', 'C', 1, '{}', 'province')",
			     NULL, NULL, NULL), SQLITE_CONSTRAINT);
	sqlite3_close(db);
}

/* ---- retention ----------------------------------------------------------------------- */

static void
test_code_stripped_once_held(void **state)
{
	struct fixture *f = *state;
	struct retention_report rep;
	struct code_resend cr;
	struct receipt r;
	char *hash, *payload;
	char want[65];
	unsigned char h[crypto_hash_sha256_BYTES];

	f->cfg.county_user = (char *)"hall_" HALL;
	f->cfg.province_url = (char *)"https://province.example/hall";
	f->cfg.retention_days = 180;
	assert_int_equal(outbox_dest_ensure(f->s, "province"), 0);
	create(f, "13800138000", &r);
	assert_int_equal(resend(f, r.case_no, &cr), STORE_OK);
	payload = field_text(f, "SELECT payload FROM outbox WHERE id = ?1", cr.id);
	assert_non_null(payload);
	crypto_hash_sha256(h, (const unsigned char *)payload, strlen(payload));
	sodium_bin2hex(want, sizeof(want), h, sizeof(h));
	/* not yet held by the county: kept */
	memset(&rep, 0, sizeof(rep));
	assert_int_equal(store_minimize(f->s, &f->cfg, time(NULL), &rep), 0);
	assert_int_equal(rep.stripped, 0);
	deliver(f, "province");	/* the province takes the case; the code is not for it */
	assert_int_equal(store_minimize(f->s, &f->cfg, time(NULL), &rep), 0);
	assert_int_equal(rep.stripped, 0);
	/* held by the county: only id and hash, though the case is open and whole */
	deliver(f, "county");
	assert_int_equal(store_retention_tick(f->s, &f->cfg, time(NULL), &rep), 0);
	assert_int_equal(count(f, "SELECT payload IS NULL FROM outbox WHERE id = ?1", cr.id), 1);
	hash = field_text(f, "SELECT hash FROM outbox WHERE id = ?1", cr.id);
	assert_string_equal(hash, want);
	assert_int_equal(count(f, "SELECT count(*) FROM outbox WHERE case_no = ?1 "
				  "AND payload IS NOT NULL", r.case_no), 1);	/* the case's */
	assert_true(opens(f, r.case_no, cr.code));
	/* closed: minimized, the province's never taking the code notwithstanding */
	set_status(f, r.case_no, "resolved");
	assert_int_equal(store_minimize(f->s, &f->cfg, time(NULL), &rep), 0);
	assert_int_equal(count(f, "SELECT minimized_at IS NOT NULL FROM cases WHERE case_no = ?1",
			     r.case_no), 1);
	/* and the purge takes its limits rows with it */
	f->cfg.retention_days = 0;
	assert_int_equal(store_purge(f->s, &f->cfg, time(NULL) + 10, &rep), 0);
	assert_int_equal(count(f, "SELECT count(*) FROM cases WHERE case_no = ?1", r.case_no), 0);
	assert_int_equal(count(f, "SELECT count(*) FROM code_resends WHERE case_no = ?1",
			     r.case_no), 0);
	assert_int_equal(count(f, "SELECT count(*) FROM outbox WHERE case_no = ?1", r.case_no),
	    0);
	free(hash);
	free(payload);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_notify_record_bytes),
	    cmocka_unit_test_setup_teardown(test_notify_stored, setup, teardown),
	    cmocka_unit_test(test_json_bools),
	    cmocka_unit_test_setup_teardown(test_new_code_replaces_old, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_new_code_of_restored_case, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_same_transaction, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_province_skips_code, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_code_is_the_countys, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_code_stripped_once_held, setup, teardown),
	};

	if (sodium_init() < 0)
		return 1;
	log_init("test_resend");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
