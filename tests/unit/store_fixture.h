/*
 * The hall store's test fixture, shared by test_store.c and test_store_write.c: a store on a
 * temporary SQLite file with the real migrations (sql/hall) and the shipped calendars
 * (conf/calendar), and the helpers that look under it with a raw sqlite3 connection.
 * Include after <cmocka.h>, "store.h" and "unit.h".
 */
#ifndef STORE_FIXTURE_H
#define STORE_FIXTURE_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <sqlite3.h>

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

static inline void
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

static inline struct store *
open_new(const char *path)
{
	struct store *s = store_open(path, 0);

	assert_non_null(s);
	assert_int_equal(store_migrate(s, SCHEMA), 0);
	assert_int_equal(store_bind_hall(s, HALL), 0);
	return s;
}

static inline int
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

static inline int
setup(void **state)
{
	return setup_years(state, 1);
}

static inline int
setup_2025_only(void **state)
{
	return setup_years(state, 0);
}

static inline int
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

static inline sqlite3 *
raw_open(const char *path)
{
	sqlite3 *db;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	return db;
}

/* One statement with an optional text parameter ?1; returns the first column's text. */
static inline char *
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

static inline void
raw_exec(const char *path, const char *sql, const char *arg)
{
	sqlite3 *db = raw_open(path);

	free(raw(db, sql, arg));
	sqlite3_close(db);
}

static inline long long
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
static inline void
set_status(struct fixture *f, const char *case_no, const char *status)
{
	char sql[160];

	snprintf(sql, sizeof(sql), "UPDATE cases SET status = '%s' WHERE case_no = ?1", status);
	raw_exec(f->path, sql, case_no);
}

static inline struct case_new
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

static inline uint64_t
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
static inline uint64_t
id_seq(const char *id, char type)
{
	char prefix[20];

	snprintf(prefix, sizeof(prefix), "%s-%c", HALL, type);
	if (strncmp(id, prefix, strlen(prefix)) != 0)
		fail_msg("id %s does not start with %s", id, prefix);
	assert_int_equal(strspn(id + strlen(prefix), "0123456789"), strlen(id + strlen(prefix)));
	return strtoull(id + strlen(prefix), NULL, 10);
}

static inline json_t *
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

static inline const char *
jstr(json_t *j, const char *key)
{
	json_t *v = json_object_get(j, key);

	if (!json_is_string(v))
		fail_msg("payload member %s is not a string", key);
	return json_string_value(v);
}

#endif
