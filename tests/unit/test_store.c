/*
 * lib/store/: the hall store on a temporary SQLite file, with the real migrations
 * (sql/hall) and the shipped calendars (conf/calendar). Runs from the repository root.
 *
 * Where a test needs what only the county does (answer a case, acknowledge the outbox,
 * publish guides) it writes the row with a separate raw sqlite3 connection on the same file.
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
#include <pthread.h>
#include <unistd.h>
#include <cmocka.h>

#include <jansson.h>
#include <sqlite3.h>

#include "store.h"
#include "unit.h"

#define HALL "430102001001"
#define OTHER_HALL "430102001002"
#define SCHEMA "sql/hall"

struct fixture {
	char dir[64];
	char path[128];
	struct store *s;
	struct hall_config cfg;
	struct calendar *cal; /* what the store was given: 2025 and 2026 */
};

/* ---- helpers -------------------------------------------------------------------- */

static void
remove_db(const char *path)
{
	char p[160];

	snprintf(p, sizeof(p), "%s-wal", path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-journal", path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-writer.lock", path);
	unlink(p);
	unlink(path);
}

static struct store *
open_new(const char *path)
{
	struct store *s = store_open(path, 0);

	assert_non_null(s);
	assert_int_equal(store_migrate(s, SCHEMA), 0);
	assert_int_equal(store_bind_hall(s, HALL), 0);
	return s;
}

static int
setup_years(void **state, int with_2026)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_store.XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/hall.db", f->dir);
	snprintf(f->cfg.code, sizeof(f->cfg.code), "%s", HALL);
	f->cfg.consultation_days = 3;
	f->cfg.complaint_days = 5;
	f->cfg.unresolved_days = 2;
	f->s = open_new(f->path);
	f->cal = calendar_new();
	assert_non_null(f->cal);
	unit_calendar_load(f->cal, "conf/calendar/2025.txt");
	if (with_2026)
		unit_calendar_load(f->cal, "conf/calendar/2026.txt");
	assert_int_equal(store_calendar_import(f->s, f->cal, &f->cfg), 0);
	*state = f;
	return 0;
}

static int
setup(void **state)
{
	return setup_years(state, 1);
}

static int
setup_2025_only(void **state)
{
	return setup_years(state, 0);
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	store_close(f->s);
	calendar_free(f->cal);
	remove_db(f->path);
	if (rmdir(f->dir) == -1)
		fail_msg("%s left behind", f->dir);
	free(f);
	return 0;
}

static sqlite3 *
raw_open(const char *path)
{
	sqlite3 *db;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	return db;
}

/* One statement with an optional text parameter ?1; returns the first column's text. */
static char *
raw(sqlite3 *db, const char *sql, const char *arg)
{
	sqlite3_stmt *st;
	char *out = NULL;
	int rc;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	if (arg != NULL)
		sqlite3_bind_text(st, 1, arg, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && sqlite3_column_text(st, 0) != NULL)
		out = strdup((const char *)sqlite3_column_text(st, 0));
	else if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return out;
}

static void
raw_exec(const char *path, const char *sql, const char *arg)
{
	sqlite3 *db = raw_open(path);

	free(raw(db, sql, arg));
	sqlite3_close(db);
}

static long long
raw_int(const char *path, const char *sql, const char *arg)
{
	sqlite3 *db = raw_open(path);
	char *t = raw(db, sql, arg);
	long long v;

	assert_non_null(t);
	v = strtoll(t, NULL, 10);
	free(t);
	sqlite3_close(db);
	return v;
}

/* Simulates the county's answer arriving by the downlink. */
static void
set_status(struct fixture *f, const char *case_no, const char *status)
{
	char sql[160];

	snprintf(sql, sizeof(sql), "UPDATE cases SET status = '%s' WHERE case_no = ?1", status);
	raw_exec(f->path, sql, case_no);
}

static struct case_new
consultation(void)
{
	struct case_new c;

	memset(&c, 0, sizeof(c));
	c.kind = "consultation";
	c.category = "policy";
	c.subject = "住房公积金提取";
	c.body = "请问离职后多久可以提取住房公积金？\n需要哪些材料？";
	c.name = "张三";
	c.phone = "13800138000";
	return c;
}

static uint64_t
caseno_seq(const char *caseno)
{
	uint64_t v = 0;
	int i;

	for (i = 12; i < 22; i++) {
		const char *p = strchr(CASENO_ALPHABET, caseno[i]);

		assert_non_null(p);
		v = v * 31 + (uint64_t)(p - CASENO_ALPHABET);
	}
	return v;
}

/* The sequence in a record id "<hall>-<T><seq>". */
static uint64_t
id_seq(const char *id, char type)
{
	char prefix[20];

	snprintf(prefix, sizeof(prefix), "%s-%c", HALL, type);
	if (strncmp(id, prefix, strlen(prefix)) != 0)
		fail_msg("id %s does not start with %s", id, prefix);
	assert_int_equal(strspn(id + strlen(prefix), "0123456789"), strlen(id + strlen(prefix)));
	return strtoull(id + strlen(prefix), NULL, 10);
}

static json_t *
outbox_json(struct fixture *f, const char *id)
{
	sqlite3 *db = raw_open(f->path);
	char *payload = raw(db, "SELECT payload FROM outbox WHERE id = ?1", id);
	json_error_t err;
	json_t *j;

	sqlite3_close(db);
	if (payload == NULL)
		fail_msg("no outbox row for %s", id);
	if ((j = json_loads(payload, JSON_REJECT_DUPLICATES, &err)) == NULL)
		fail_msg("outbox payload of %s is not JSON: %s: %s", id, err.text, payload);
	free(payload);
	assert_true(json_is_object(j));
	return j;
}

static const char *
jstr(json_t *j, const char *key)
{
	json_t *v = json_object_get(j, key);

	if (!json_is_string(v))
		fail_msg("payload member %s is not a string", key);
	return json_string_value(v);
}

/* ---- schema and binding ------------------------------------------------------------ */

static void
test_migrate_and_bind(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(raw_int(f->path, "PRAGMA user_version", NULL), 2);
	/* a second run applies nothing and fails nothing */
	assert_int_equal(store_migrate(f->s, SCHEMA), 0);
	assert_int_equal(raw_int(f->path, "PRAGMA user_version", NULL), 2);
	assert_int_equal(store_count(f->s, "cases"), 0);
	assert_int_equal(store_count(f->s, "outbox"), 0);
	assert_int_equal(store_count(f->s, "sync_dest"), 1); /* county; the province comes with its sink */
	assert_int_equal(store_count(f->s, "no_such_table"), -1);
	assert_int_equal(store_migrate(f->s, "/nonexistent/schema"), -1);

	assert_int_equal(store_bind_hall(f->s, HALL), 0);
	assert_int_equal(store_bind_hall(f->s, OTHER_HALL), -1);
	/* and still after a reopen */
	store_close(f->s);
	assert_non_null(f->s = store_open(f->path, 0));
	assert_int_equal(store_bind_hall(f->s, OTHER_HALL), -1);
	assert_int_equal(store_bind_hall(f->s, HALL), 0);
}

static void
test_open_fails(void **state)
{
	struct fixture *f = *state;
	char p[160];

	assert_null(store_open("/nonexistent/dir/hall.db", 0));
	snprintf(p, sizeof(p), "%s/absent.db", f->dir);
	assert_null(store_open(p, 1)); /* read-only never creates */
	assert_int_equal(access(p, F_OK), -1);
}

/* ---- cases ------------------------------------------------------------------------ */

static void
test_case_create(void **state)
{
	struct fixture *f = *state;
	struct case_new c = consultation();
	struct receipt r;
	time_t t0, t1, due;
	int prov = -1;
	size_t i;

	t0 = time(NULL);
	assert_int_equal(store_case_create(f->s, &f->cfg, &c, &r), STORE_OK);
	t1 = time(NULL);

	assert_int_equal(r.replayed, 0);
	assert_int_equal(strlen(r.case_no), CASENO_LEN);
	assert_memory_equal(r.case_no, HALL, 12);
	assert_int_equal(caseno_valid(r.case_no), 1);
	assert_int_equal(strlen(r.query_code), 6);
	assert_int_equal(strspn(r.query_code, "0123456789"), 6);
	/* the case number and the id carry the same sequence */
	assert_true(caseno_seq(r.case_no) == id_seq(r.id, 'C'));
	assert_true(r.submitted_at >= t0 && r.submitted_at <= t1);

	/* exactly one case, one event, one outbox row */
	assert_int_equal(store_count(f->s, "cases"), 1);
	assert_int_equal(store_count(f->s, "outbox"), 1);
	assert_int_equal(store_count(f->s, "case_events"), 1);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM outbox WHERE id = ?1", r.id), 1);

	/* due: 3 working days by the calendar, 23:59:59+08:00 */
	due = calendar_due(f->cal, r.submitted_at, 3, &prov);
	assert_int_equal(r.due_at, due);
	assert_int_equal(r.due_provisional, prov);
	assert_int_equal(r.due_provisional, 0);
	assert_int_equal((r.due_at + HALL_TZ_OFFSET) % 86400, 86399);
	assert_true(r.due_at > r.submitted_at + 86400);

	/* query codes are 6 digits every time */
	for (i = 0; i < 30; i++) {
		struct receipt r2;

		assert_int_equal(store_case_create(f->s, &f->cfg, &c, &r2), STORE_OK);
		assert_int_equal(strlen(r2.query_code), 6);
		assert_int_equal(strspn(r2.query_code, "0123456789"), 6);
		assert_string_not_equal(r2.case_no, r.case_no);
	}
	assert_int_equal(store_count(f->s, "cases"), 31);
	assert_int_equal(store_count(f->s, "outbox"), 31);
}

static void
test_case_kinds_due(void **state)
{
	static const struct {
		const char *kind, *category;
		int days;
	} k[] = {
	    {"consultation", "procedure", 3},
	    {"consultation", "public_info", 3},
	    {"complaint", NULL, 5},
	    {"unresolved", NULL, 2},
	};
	struct fixture *f = *state;
	struct case_new c = consultation();
	struct receipt r;
	size_t i;
	int prov;

	for (i = 0; i < sizeof(k) / sizeof(k[0]); i++) {
		c.kind = k[i].kind;
		c.category = k[i].category;
		c.target = k[i].category == NULL ? "3号窗口" : NULL;
		assert_int_equal(store_case_create(f->s, &f->cfg, &c, &r), STORE_OK);
		assert_int_equal(r.due_at, calendar_due(f->cal, r.submitted_at, k[i].days, &prov));
		assert_int_equal(r.due_provisional, prov);
	}
	/* the limits come from the configuration */
	f->cfg.complaint_days = 10;
	c.kind = "complaint";
	c.category = NULL;
	assert_int_equal(store_case_create(f->s, &f->cfg, &c, &r), STORE_OK);
	assert_int_equal(r.due_at, calendar_due(f->cal, r.submitted_at, 10, &prov));
}

/* A case the schema refuses is not half-written, and nothing else moves. */
static void
test_case_create_refused(void **state)
{
	struct fixture *f = *state;
	struct case_new c = consultation();
	struct receipt r;
	long cases, outbox, events;

	assert_int_equal(store_case_create(f->s, &f->cfg, &c, &r), STORE_OK);
	cases = store_count(f->s, "cases");
	outbox = store_count(f->s, "outbox");
	events = store_count(f->s, "case_events");
	c.kind = "petition";
	assert_int_equal(store_case_create(f->s, &f->cfg, &c, &r), STORE_ERR);
	c = consultation();
	c.category = "gossip";
	assert_int_equal(store_case_create(f->s, &f->cfg, &c, &r), STORE_ERR);
	assert_int_equal(store_count(f->s, "cases"), cases);
	assert_int_equal(store_count(f->s, "outbox"), outbox);
	assert_int_equal(store_count(f->s, "case_events"), events);
	/* and the store still works */
	c = consultation();
	assert_int_equal(store_case_create(f->s, &f->cfg, &c, &r), STORE_OK);
	assert_int_equal(store_count(f->s, "cases"), cases + 1);
}

static void
test_dedup_replays(void **state)
{
	struct fixture *f = *state;
	struct case_new c = consultation();
	struct receipt r1, r2, r3;

	c.dedup_key = "8d969eef6ecad3c29a3a629280e686cf0c3f5d5a86aff3ca12020c923adc6c92";
	assert_int_equal(store_case_create(f->s, &f->cfg, &c, &r1), STORE_OK);
	assert_int_equal(r1.replayed, 0);
	assert_int_equal(store_case_create(f->s, &f->cfg, &c, &r2), STORE_OK);
	assert_int_equal(r2.replayed, 1);
	assert_string_equal(r2.id, r1.id);
	assert_string_equal(r2.case_no, r1.case_no);
	assert_string_equal(r2.query_code, r1.query_code);
	assert_int_equal(r2.submitted_at, r1.submitted_at);
	assert_int_equal(r2.due_at, r1.due_at);
	assert_int_equal(r2.due_provisional, r1.due_provisional);
	assert_int_equal(store_count(f->s, "cases"), 1);
	assert_int_equal(store_count(f->s, "outbox"), 1);
	assert_int_equal(store_count(f->s, "case_events"), 1);

	/* another key is another case */
	c.dedup_key = "another";
	assert_int_equal(store_case_create(f->s, &f->cfg, &c, &r3), STORE_OK);
	assert_int_equal(r3.replayed, 0);
	assert_string_not_equal(r3.case_no, r1.case_no);
	assert_int_equal(store_count(f->s, "cases"), 2);
	assert_int_equal(store_count(f->s, "outbox"), 2);
}

static void
test_case_get(void **state)
{
	struct fixture *f = *state;
	struct case_new c = consultation();
	struct case_view v;
	struct receipt r;
	char other[CASENO_LEN + 1];

	assert_int_equal(store_case_create(f->s, &f->cfg, &c, &r), STORE_OK);
	assert_int_equal(store_case_get(f->s, r.case_no, &v), STORE_OK);
	assert_string_equal(v.case_no, r.case_no);
	assert_string_equal(v.query_code, r.query_code);
	assert_string_equal(v.kind, "consultation");
	assert_string_equal(v.category, "policy");
	assert_string_equal(v.subject, c.subject);
	assert_string_equal(v.body, c.body);
	assert_string_equal(v.phone, c.phone);
	assert_string_equal(v.status, "received");
	assert_null(v.reply_text);
	assert_int_equal(v.submitted_at, r.submitted_at);
	assert_int_equal(v.due_at, r.due_at);
	assert_int_equal(v.due_provisional, 0);
	assert_int_equal(v.nevents, 1);
	assert_string_equal(v.events[0].status, "received");
	assert_int_equal(v.events[0].at, r.submitted_at);
	assert_int_equal(v.rating_level, 0);
	case_view_free(&v);
	case_view_free(&v);
	case_view_free(NULL);

	/* a valid number that was never issued */
	assert_int_equal(caseno_make(other, HALL, 12345), 0);
	assert_int_equal(store_case_get(f->s, other, &v), STORE_NOT_FOUND);
	assert_null(v.kind);
	assert_int_equal(store_case_get(f->s, "", &v), STORE_NOT_FOUND);
	assert_int_equal(store_case_get(f->s, "' OR 1=1 --", &v), STORE_NOT_FOUND);
}

static void
test_outbox_payload(void **state)
{
	struct fixture *f = *state;
	struct case_new c = consultation();
	struct receipt r;
	char ts[TIMEFMT_LEN];
	json_t *j;

	c.email = "zhangsan@example.com";
	c.item = "住房公积金提取";
	c.subject = "引号\"反斜杠\\和换行";
	assert_int_equal(store_case_create(f->s, &f->cfg, &c, &r), STORE_OK);
	j = outbox_json(f, r.id);
	assert_string_equal(jstr(j, "id"), r.id);
	assert_string_equal(jstr(j, "type"), "case");
	assert_string_equal(jstr(j, "hall_code"), HALL);
	assert_string_equal(jstr(j, "case_no"), r.case_no);
	timefmt_rfc3339(ts, r.submitted_at);
	assert_string_equal(jstr(j, "at"), ts);
	assert_string_equal(jstr(j, "kind"), "consultation");
	assert_string_equal(jstr(j, "category"), "policy");
	assert_string_equal(jstr(j, "subject"), c.subject);
	assert_string_equal(jstr(j, "body"), c.body);
	assert_string_equal(jstr(j, "phone"), c.phone);
	assert_string_equal(jstr(j, "email"), c.email);
	assert_true(json_is_null(json_object_get(j, "target")));
	timefmt_rfc3339(ts, r.due_at);
	assert_string_equal(jstr(j, "due_at"), ts);
	assert_true(json_is_false(json_object_get(j, "due_provisional")));
	json_decref(j);
	/* the row's own columns agree with the payload */
	assert_int_equal(raw_int(f->path,
	                         "SELECT count(*) FROM outbox WHERE id = ?1 AND "
	                         "type = 'case'",
	                         r.id),
	                 1);
	{
		sqlite3 *db = raw_open(f->path);
		char *cn = raw(db, "SELECT case_no FROM outbox WHERE id = ?1", r.id);

		assert_string_equal(cn, r.case_no);
		free(cn);
		sqlite3_close(db);
	}
}

/* ---- ratings ---------------------------------------------------------------------- */

static void
test_rating(void **state)
{
	struct fixture *f = *state;
	struct case_new c = consultation();
	struct case_view v;
	struct receipt r;
	char unknown[CASENO_LEN + 1], ts[TIMEFMT_LEN];
	time_t at = 0, t0;
	json_t *j;
	char *rid;
	sqlite3 *db;

	assert_int_equal(store_case_create(f->s, &f->cfg, &c, &r), STORE_OK);
	/* before the county answers */
	assert_int_equal(store_rating_create(f->s, r.case_no, 5, NULL, &at), STORE_NOT_YET);
	assert_int_equal(store_count(f->s, "ratings"), 0);
	assert_int_equal(store_count(f->s, "outbox"), 1);

	set_status(f, r.case_no, "answered");
	t0 = time(NULL);
	assert_int_equal(store_rating_create(f->s, r.case_no, 2, "没有解决问题", &at),
	                 STORE_OK);
	assert_true(at >= t0 && at <= time(NULL));
	assert_int_equal(store_count(f->s, "ratings"), 1);
	assert_int_equal(store_count(f->s, "outbox"), 2);

	/* once only */
	assert_int_equal(store_rating_create(f->s, r.case_no, 5, NULL, &at), STORE_CONFLICT);
	assert_int_equal(store_count(f->s, "ratings"), 1);
	assert_int_equal(store_count(f->s, "outbox"), 2);

	assert_int_equal(caseno_make(unknown, HALL, 777), 0);
	assert_int_equal(store_rating_create(f->s, unknown, 5, NULL, &at), STORE_NOT_FOUND);
	assert_int_equal(store_count(f->s, "outbox"), 2);

	/* the rating in the outbox */
	db = raw_open(f->path);
	rid = raw(db, "SELECT id FROM outbox WHERE type = 'rating' AND case_no = ?1", r.case_no);
	sqlite3_close(db);
	assert_non_null(rid);
	(void)id_seq(rid, 'R');
	j = outbox_json(f, rid);
	assert_string_equal(jstr(j, "id"), rid);
	assert_string_equal(jstr(j, "type"), "rating");
	assert_string_equal(jstr(j, "hall_code"), HALL);
	assert_string_equal(jstr(j, "case_no"), r.case_no);
	timefmt_rfc3339(ts, at);
	assert_string_equal(jstr(j, "at"), ts);
	assert_int_equal(json_integer_value(json_object_get(j, "level")), 2);
	assert_string_equal(jstr(j, "comment"), "没有解决问题");
	json_decref(j);
	free(rid);

	assert_int_equal(store_case_get(f->s, r.case_no, &v), STORE_OK);
	assert_int_equal(v.rating_level, 2);
	assert_int_equal(v.rating_at, at);
	case_view_free(&v);
}

static void
test_rating_statuses(void **state)
{
	static const struct {
		const char *status;
		enum store_rc want;
	} c[] = {
	    {"received", STORE_NOT_YET}, {"delivered", STORE_NOT_YET},
	    {"accepted", STORE_NOT_YET}, {"transferred", STORE_NOT_YET},
	    {"answered", STORE_OK},      {"resolved", STORE_OK},
	    {"rejected", STORE_OK},
	};
	struct fixture *f = *state;
	struct case_new cn = consultation();
	struct receipt r;
	time_t at;
	size_t i;
	long ok = 0;

	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		assert_int_equal(store_case_create(f->s, &f->cfg, &cn, &r), STORE_OK);
		set_status(f, r.case_no, c[i].status);
		if (store_rating_create(f->s, r.case_no, 4, NULL, &at) != c[i].want)
			fail_msg("status %s: want %d", c[i].status, c[i].want);
		ok += c[i].want == STORE_OK;
		assert_int_equal(store_count(f->s, "ratings"), ok);
	}
}

/* ---- read-only -------------------------------------------------------------------- */

/* ---- group commit ----------------------------------------------------------------- */

/* One transaction for several writes: the ones that fail are undone alone. */
static void
test_write_group_isolates_failures(void **state)
{
	struct fixture *f = *state;
	struct case_new c1 = consultation(), c2 = consultation(), keyed = consultation();
	struct receipt first, r1, r2, r3;
	char unknown[CASENO_LEN + 1];
	time_t at1 = 0, at2 = 0;
	struct store_write w[5] = {0};

	keyed.dedup_key = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
	assert_int_equal(store_case_create(f->s, &f->cfg, &keyed, &first), STORE_OK);
	assert_int_equal(caseno_make(unknown, HALL, 777), 0);
	c2.subject = "第二个咨询";

	w[0] = (struct store_write){.kind = STORE_WRITE_CASE, .cfg = &f->cfg, .c = &c1,
	    .receipt = &r1};
	w[1] = (struct store_write){.kind = STORE_WRITE_RATING, .case_no = first.case_no,
	    .level = 5, .at = &at1};	/* not answered yet */
	w[2] = (struct store_write){.kind = STORE_WRITE_CASE, .cfg = &f->cfg, .c = &c2,
	    .receipt = &r2};
	w[3] = (struct store_write){.kind = STORE_WRITE_RATING, .case_no = unknown, .level = 4,
	    .at = &at2};
	w[4] = (struct store_write){.kind = STORE_WRITE_CASE, .cfg = &f->cfg, .c = &keyed,
	    .receipt = &r3};	/* the same key again: the first receipt */
	store_write_group(f->s, w, 5);

	assert_int_equal(w[0].rc, STORE_OK);
	assert_int_equal(w[1].rc, STORE_NOT_YET);
	assert_int_equal(w[2].rc, STORE_OK);
	assert_int_equal(w[3].rc, STORE_NOT_FOUND);
	assert_int_equal(w[4].rc, STORE_OK);
	assert_int_equal(r3.replayed, 1);
	assert_string_equal(r3.case_no, first.case_no);
	assert_string_not_equal(r1.case_no, r2.case_no);
	assert_true(caseno_seq(r1.case_no) < caseno_seq(r2.case_no));
	assert_int_equal(store_count(f->s, "cases"), 3);
	assert_int_equal(store_count(f->s, "ratings"), 0);
	assert_int_equal(store_count(f->s, "outbox"), 3);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM case_events WHERE case_no = ?1",
			     r2.case_no), 1);
}

struct writer {
	struct commit_group *g;
	struct fixture *f;
	struct receipt r[100];
	int failed;
};

static void *
writer_run(void *arg)
{
	struct writer *wr = arg;
	struct case_new c = consultation();
	size_t i;

	for (i = 0; i < 100; i++) {
		struct store_write w = {.kind = STORE_WRITE_CASE, .cfg = &wr->f->cfg, .c = &c,
		    .receipt = &wr->r[i]};

		commit_group_write(wr->g, &w);
		if (w.rc != STORE_OK)
			wr->failed++;
	}
	return NULL;
}

static int
cmp_caseno(const void *a, const void *b)
{
	return strcmp(((const struct receipt *)a)->case_no, ((const struct receipt *)b)->case_no);
}

/* Eight threads through one group: every case stored once, every number distinct. */
static void
test_commit_group_threads(void **state)
{
	struct fixture *f = *state;
	struct commit_group *g = commit_group_new(f->s);
	static struct writer wr[8];
	static struct receipt all[800];
	pthread_t t[8];
	unsigned long groups, writes;
	size_t i;

	assert_non_null(g);
	for (i = 0; i < 8; i++) {
		wr[i] = (struct writer){.g = g, .f = f};
		assert_int_equal(pthread_create(&t[i], NULL, writer_run, &wr[i]), 0);
	}
	for (i = 0; i < 8; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(wr[i].failed, 0);
		memcpy(&all[i * 100], wr[i].r, sizeof(wr[i].r));
	}
	commit_group_stats(g, &groups, &writes);
	assert_int_equal(writes, 800);
	assert_true(groups >= 1 && groups <= 800);
	print_message("800 writes in %lu commits\n", groups);
	qsort(all, 800, sizeof(all[0]), cmp_caseno);
	for (i = 1; i < 800; i++)
		assert_string_not_equal(all[i - 1].case_no, all[i].case_no);
	assert_int_equal(store_count(f->s, "cases"), 800);
	assert_int_equal(store_count(f->s, "outbox"), 800);
	commit_group_free(g);
}

static void
test_readonly(void **state)
{
	struct fixture *f = *state;
	struct case_new c = consultation();
	struct case_view v;
	struct receipt r, r2;
	struct store *ro;
	time_t at;

	assert_int_equal(store_case_create(f->s, &f->cfg, &c, &r), STORE_OK);
	assert_non_null(ro = store_open(f->path, 1));
	assert_int_equal(store_bind_hall(ro, HALL), 0);
	assert_int_equal(store_bind_hall(ro, OTHER_HALL), -1);
	/* reads work */
	assert_int_equal(store_case_get(ro, r.case_no, &v), STORE_OK);
	assert_string_equal(v.case_no, r.case_no);
	case_view_free(&v);
	/* writes do not */
	assert_int_equal(store_case_create(ro, &f->cfg, &c, &r2), STORE_ERR);
	set_status(f, r.case_no, "answered");
	assert_int_equal(store_rating_create(ro, r.case_no, 5, NULL, &at), STORE_ERR);
	assert_int_equal(store_count(f->s, "cases"), 1);
	assert_int_equal(store_count(f->s, "outbox"), 1);
	assert_int_equal(store_count(f->s, "ratings"), 0);
	store_close(ro);
}

/* ---- the key property: numbers never repeat --------------------------------------- */

struct issued {
	char case_no[CASENO_LEN + 1];
	char id[48];
	uint64_t seq;
};

static void
issue(struct store *s, struct fixture *f, struct issued *out, size_t n)
{
	struct case_new c = consultation();
	struct receipt r;
	size_t i;

	for (i = 0; i < n; i++) {
		assert_int_equal(store_case_create(s, &f->cfg, &c, &r), STORE_OK);
		assert_int_equal(caseno_valid(r.case_no), 1);
		memcpy(out[i].case_no, r.case_no, sizeof(r.case_no));
		memcpy(out[i].id, r.id, sizeof(r.id));
		out[i].seq = id_seq(r.id, 'C');
		assert_true(caseno_seq(r.case_no) == out[i].seq);
	}
}

/*
 * A reinstalled box: the store is deleted (with its WAL and shared memory) and made again
 * from the migrations. Nothing it issues may collide with what the old store issued, and
 * the sequences carry on above the old ones.
 */
static void
test_numbers_never_repeat(void **state)
{
	enum { N = 40 };
	struct fixture *f = *state;
	struct issued *a = calloc(3 * N, sizeof(*a));
	uint64_t old_max = 0, mid_max = 0;
	size_t i, j;

	assert_non_null(a);
	issue(f->s, f, a, N);
	for (i = 0; i < N; i++)
		if (a[i].seq > old_max)
			old_max = a[i].seq;
	assert_int_equal(store_count(f->s, "cases"), N);

	store_close(f->s);
	remove_db(f->path);
	assert_int_equal(access(f->path, F_OK), -1);
	f->s = open_new(f->path);
	assert_int_equal(store_count(f->s, "cases"), 0);
	issue(f->s, f, a + N, N);
	for (i = N; i < 2 * N; i++) {
		if (a[i].seq <= old_max)
			fail_msg("new store issued seq %" PRIu64 " <= old %" PRIu64, a[i].seq,
			         old_max);
		if (a[i].seq > mid_max)
			mid_max = a[i].seq;
	}

	/* and once more, without the calendar import this time */
	store_close(f->s);
	remove_db(f->path);
	f->s = open_new(f->path);
	issue(f->s, f, a + 2 * N, N);
	for (i = 2 * N; i < 3 * N; i++)
		assert_true(a[i].seq > mid_max);

	for (i = 0; i < 3 * N; i++)
		for (j = i + 1; j < 3 * N; j++) {
			if (strcmp(a[i].case_no, a[j].case_no) == 0)
				fail_msg("case_no %s issued twice (%zu, %zu)", a[i].case_no, i, j);
			if (strcmp(a[i].id, a[j].id) == 0)
				fail_msg("id %s issued twice (%zu, %zu)", a[i].id, i, j);
		}
	/* within one store, in issue order */
	for (i = 1; i < 3 * N; i++)
		assert_true(a[i].seq > a[i - 1].seq);
	free(a);
}

/* ---- health ----------------------------------------------------------------------- */

static void
test_health(void **state)
{
	struct fixture *f = *state;
	struct case_new c = consultation();
	struct sync_health h;
	struct receipt r;
	char seq[32];
	int i;

	assert_int_equal(store_health(f->s, NULL, &h), 0);
	assert_int_equal(h.backlog, 0);
	assert_int_equal(h.last_uplink_at, 0);
	assert_int_equal(h.last_downlink_at, 0);
	assert_int_equal(store_synced_at(f->s), 0);
	for (i = 0; i < 3; i++)
		assert_int_equal(store_case_create(f->s, &f->cfg, &c, &r), STORE_OK);
	assert_int_equal(store_health(f->s, NULL, &h), 0);
	assert_int_equal(h.backlog, 3);
	assert_int_equal(h.backlog, store_count(f->s, "outbox"));

	/* the county acknowledged all three, the province only the first */
	snprintf(seq, sizeof(seq), "%lld", raw_int(f->path, "SELECT max(seq) FROM outbox", NULL));
	raw_exec(f->path,
	         "UPDATE sync_dest SET acked_seq = ?1, last_success_at = 1795000000 "
	         "WHERE dest = 'county'",
	         seq);
	/* the province destination exists once its sink is configured */
	raw_exec(f->path, "INSERT INTO sync_dest (dest) VALUES ('province')", NULL);
	raw_exec(f->path,
	         "UPDATE sync_dest SET acked_seq = (SELECT min(seq) FROM outbox) "
	         "WHERE dest = 'province'",
	         NULL);
	assert_int_equal(store_health(f->s, NULL, &h), 0);
	assert_int_equal(h.backlog, 2);
	assert_int_equal(h.last_uplink_at, 1795000000);
	assert_int_equal(store_synced_at(f->s), 1795000000);
	raw_exec(f->path, "UPDATE sync_dest SET acked_seq = ?1", seq);
	assert_int_equal(store_health(f->s, NULL, &h), 0);
	assert_int_equal(h.backlog, 0);
}

/* ---- calendar import -------------------------------------------------------------- */

/*
 * Set up with only 2025 imported while the clock is in 2026: new deadlines are provisional.
 * Importing 2026 recomputes the open ones, and counts them, but leaves answered cases alone.
 */
static void
test_calendar_recomputes(void **state)
{
	struct fixture *f = *state;
	struct case_new c = consultation();
	struct calendar *full;
	struct case_view v;
	struct receipt open1, open2, answered;
	time_t now = time(NULL) + HALL_TZ_OFFSET;
	struct tm tm;
	int prov, year;

	assert_non_null(gmtime_r(&now, &tm));
	year = tm.tm_year + 1900;
	assert_true(year >= 2026);
	assert_false(calendar_has_year(store_calendar(f->s), 2026));

	assert_int_equal(store_case_create(f->s, &f->cfg, &c, &open1), STORE_OK);
	c.kind = "complaint";
	c.category = NULL;
	assert_int_equal(store_case_create(f->s, &f->cfg, &c, &open2), STORE_OK);
	assert_int_equal(store_case_create(f->s, &f->cfg, &c, &answered), STORE_OK);
	assert_int_equal(open1.due_provisional, 1);
	assert_int_equal(open2.due_provisional, 1);
	assert_int_equal(answered.due_provisional, 1);
	set_status(f, answered.case_no, "answered");

	/* the county publishes 2026 (and the following year, should the clock be there) */
	full = calendar_new();
	assert_non_null(full);
	unit_calendar_load(full, "conf/calendar/2026.txt");
	if (year > 2026)
		assert_int_equal(calendar_add_year(full, year), 0);
	assert_int_equal(calendar_add_year(full, year + 1), 0);
	assert_int_equal(store_calendar_import(f->s, full, &f->cfg), 2);
	assert_true(calendar_has_year(store_calendar(f->s), 2026));
	assert_true(calendar_has_year(store_calendar(f->s), 2025));

	assert_int_equal(store_case_get(f->s, open1.case_no, &v), STORE_OK);
	assert_int_equal(v.due_provisional, 0);
	assert_int_equal(v.due_at, calendar_due(store_calendar(f->s), v.submitted_at, 3, &prov));
	assert_int_equal(prov, 0);
	case_view_free(&v);
	assert_int_equal(store_case_get(f->s, open2.case_no, &v), STORE_OK);
	assert_int_equal(v.due_provisional, 0);
	assert_int_equal(v.due_at, calendar_due(store_calendar(f->s), v.submitted_at, 5, &prov));
	case_view_free(&v);
	assert_int_equal(store_case_get(f->s, answered.case_no, &v), STORE_OK);
	assert_int_equal(v.due_provisional, 1);
	case_view_free(&v);

	/* nothing left to recompute; new cases are not provisional */
	assert_int_equal(store_calendar_import(f->s, full, &f->cfg), 0);
	c = consultation();
	assert_int_equal(store_case_create(f->s, &f->cfg, &c, &open1), STORE_OK);
	assert_int_equal(open1.due_provisional, 0);
	calendar_free(full);
}

/* An imported year's table replaces what the store held for that year. */
static void
test_calendar_replaces_year(void **state)
{
	struct fixture *f = *state;
	struct calendar *rev = calendar_new();
	const char *text = "year 2026\n2026-12-01 holiday 测试\n";
	char err[128];

	assert_non_null(rev);
	assert_int_equal(calendar_is_workday(store_calendar(f->s), 2026, 10, 1), 0);
	assert_int_equal(calendar_parse(rev, text, strlen(text), err, sizeof(err)), 0);
	assert_int_equal(store_calendar_import(f->s, rev, &f->cfg), 0);
	assert_int_equal(calendar_is_workday(store_calendar(f->s), 2026, 12, 1), 0);
	assert_int_equal(calendar_is_workday(store_calendar(f->s), 2026, 10, 1), 1);
	assert_int_equal(calendar_is_workday(store_calendar(f->s), 2025, 10, 1), 0);
	calendar_free(rev);
}

/* ---- guides ----------------------------------------------------------------------- */

static void
add_guides(struct fixture *f)
{
	raw_exec(f->path,
	         "INSERT INTO guides (id, name, department, materials, time_limit, fees, "
	         "fee_basis, delivery, consult, address, hours, updated_at) VALUES "
	         "('g1', '户籍迁移', '公安派出所', '身份证\n户口簿', '5个工作日', '不收费', '', "
	         "'窗口领取', '0731-84567890', '便民服务中心1号窗口', '工作日 9:00-17:00', "
	         "1790000000),"
	         "('g2', '城乡居民医保参保登记', '医保站', '身份证', '即办', '不收费', '', "
	         "'当场办结', '0731-84567891', '便民服务中心2号窗口', '工作日 9:00-17:00', "
	         "1790000001),"
	         "('g3', '老年人优待证办理', '民政办', '身份证\n照片', '3个工作日', '不收费', "
	         "'湘民发〔2020〕1号', '邮寄', '0731-84567892', '便民服务中心3号窗口', "
	         "'工作日 9:00-17:00', 1790000002)",
	         NULL);
}

struct seen {
	int n;
	char ids[8][8];
	int stop_after;
};

static int
collect(const struct guide *g, void *arg)
{
	struct seen *s = arg;

	assert_non_null(g->name);
	assert_non_null(g->fee_basis);
	if (s->n < 8)
		snprintf(s->ids[s->n], sizeof(s->ids[0]), "%s", g->id);
	s->n++;
	return s->stop_after > 0 && s->n >= s->stop_after ? -1 : 0;
}

static int
search(struct fixture *f, const char *q, struct seen *s)
{
	memset(s, 0, sizeof(*s));
	return store_guides_search(f->s, q, collect, s);
}

static void
test_guides(void **state)
{
	static const char *const meta[] = {
	    "'",     "%",     "_",
	    "\"",    "%%",    "' OR '1'='1",
	    "%' --", "\\",    "'; DROP TABLE guides; --",
	    "*",     "[a-z]", "\"\"",
	};
	struct fixture *f = *state;
	struct guide g;
	struct seen s;
	size_t i;

	add_guides(f);
	assert_int_equal(search(f, "", &s), 0);
	assert_int_equal(s.n, 3);
	assert_int_equal(search(f, "户籍", &s), 0);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.ids[0], "g1");
	assert_int_equal(search(f, "医保站", &s), 0); /* by department */
	assert_int_equal(s.n, 1);
	assert_string_equal(s.ids[0], "g2");
	assert_int_equal(search(f, "办", &s), 0);
	assert_int_equal(s.n, 1); /* 老年人优待证办理 of 民政办: one guide */
	assert_int_equal(search(f, "民", &s), 0);
	assert_int_equal(s.n, 2); /* g2 by its name, g3 by its department */
	assert_int_equal(search(f, "驾驶证", &s), 0);
	assert_int_equal(s.n, 0);
	for (i = 0; i < sizeof(meta) / sizeof(meta[0]); i++) {
		if (search(f, meta[i], &s) != 0)
			fail_msg("search \"%s\" failed", meta[i]);
		if (s.n != 0)
			fail_msg("search \"%s\" found %d guides", meta[i], s.n);
	}
	assert_int_equal(store_count(f->s, "guides"), 3);
	/* the callback can stop the walk */
	memset(&s, 0, sizeof(s));
	s.stop_after = 1;
	assert_int_equal(store_guides_search(f->s, "", collect, &s), -1);
	assert_int_equal(s.n, 1);

	assert_int_equal(store_guide_get(f->s, "g3", &g), STORE_OK);
	assert_string_equal(g.id, "g3");
	assert_string_equal(g.name, "老年人优待证办理");
	assert_string_equal(g.department, "民政办");
	assert_string_equal(g.materials, "身份证\n照片");
	assert_string_equal(g.time_limit, "3个工作日");
	assert_string_equal(g.fees, "不收费");
	assert_string_equal(g.fee_basis, "湘民发〔2020〕1号");
	assert_string_equal(g.delivery, "邮寄");
	assert_string_equal(g.consult, "0731-84567892");
	assert_string_equal(g.address, "便民服务中心3号窗口");
	assert_string_equal(g.hours, "工作日 9:00-17:00");
	assert_int_equal(g.updated_at, 1790000002);
	guide_free(&g);
	guide_free(&g);
	guide_free(NULL);
	assert_int_equal(store_guide_get(f->s, "g9", &g), STORE_NOT_FOUND);
	assert_int_equal(store_guide_get(f->s, "' OR '1'='1", &g), STORE_NOT_FOUND);
	guide_free(&g);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_migrate_and_bind, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_open_fails, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_case_create, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_case_kinds_due, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_case_create_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dedup_replays, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_case_get, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_outbox_payload, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rating, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rating_statuses, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_write_group_isolates_failures, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_commit_group_threads, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_readonly, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_numbers_never_repeat, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_health, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_calendar_recomputes, setup_2025_only, teardown),
	    cmocka_unit_test_setup_teardown(test_calendar_replaces_year, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_guides, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
