/*
 * The hall store: SQLite in WAL mode. Writers commit with synchronous=FULL, so a record is
 * on disk, power loss included, before its receipt leaves the hall. Every statement is
 * prepared once per connection with bound parameters and kept.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <sodium.h>
#include <sqlite3.h>

#include "store.h"

enum stmt_id {
	ST_BEGIN_READ,
	ST_BEGIN_WRITE,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_SAVEPOINT,
	ST_RELEASE,
	ST_ROLLBACK_TO,
	ST_META_GET,
	ST_META_SET,
	ST_CASE_INSERT,
	ST_CASE_BY_KEY,
	ST_EVENT_INSERT,
	ST_OUTBOX_INSERT,
	ST_CASE_GET,
	ST_EVENTS_GET,
	ST_CASE_STATUS,
	ST_RATING_INSERT,
	ST_BACKLOG,
	ST_LAST_UPLINK,
	ST_GUIDES_SEARCH,
	ST_GUIDE_GET,
	ST__MAX
};

static const char *const stmt_sql[ST__MAX] = {
	[ST_BEGIN_READ] = "BEGIN",
	[ST_BEGIN_WRITE] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_SAVEPOINT] = "SAVEPOINT one_write",
	[ST_RELEASE] = "RELEASE one_write",
	[ST_ROLLBACK_TO] = "ROLLBACK TO one_write",
	[ST_META_GET] = "SELECT value FROM meta WHERE key = ?1",
	[ST_META_SET] = "INSERT INTO meta (key, value) VALUES (?1, ?2) "
			"ON CONFLICT (key) DO UPDATE SET value = excluded.value",
	[ST_CASE_INSERT] = "INSERT INTO cases (id, case_no, query_code, kind, category, subject, "
			   "body, name, phone, email, item, target, submitted_at, due_at, "
			   "due_provisional, updated_at, dedup_key) "
			   "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, "
			   "?15, ?13, ?16)",
	[ST_CASE_BY_KEY] = "SELECT id, case_no, query_code, submitted_at, due_at, due_provisional "
			   "FROM cases WHERE dedup_key = ?1",
	[ST_EVENT_INSERT] = "INSERT INTO case_events (id, case_no, status, note, actor, at) "
			    "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[ST_OUTBOX_INSERT] = "INSERT INTO outbox (id, type, case_no, at, payload) "
			     "VALUES (?1, ?2, ?3, ?4, ?5)",
	/* a lookup's whole case in one statement: its rating, and when the hall last heard
	 * from the county (store_synced_at), come along */
	[ST_CASE_GET] = "SELECT case_no, query_code, kind, category, subject, body, phone, status, "
			"reply_text, submitted_at, due_at, reply_at, due_provisional, "
			"r.level, r.at, max((SELECT coalesce(max(last_success_at), 0) FROM sync_dest), "
			"coalesce((SELECT CAST(value AS INTEGER) FROM meta "
			"WHERE key = 'last_downlink_at'), 0)) "
			"FROM cases c LEFT JOIN ratings r USING (case_no) WHERE c.case_no = ?1",
	[ST_EVENTS_GET] = "SELECT status, note, at FROM case_events WHERE case_no = ?1 "
			  "ORDER BY at, rowid LIMIT 100",
	[ST_CASE_STATUS] = "SELECT status, (SELECT count(*) FROM ratings r "
			   "WHERE r.case_no = c.case_no) FROM cases c WHERE case_no = ?1",
	[ST_RATING_INSERT] = "INSERT INTO ratings (id, case_no, level, comment, at) "
			     "VALUES (?1, ?2, ?3, ?4, ?5)",
	/* ?1 and ?2 name the configured destinations; both NULL: every one the store has */
	[ST_BACKLOG] = "SELECT count(*) FROM outbox WHERE seq > "
		       "(SELECT coalesce(min(acked_seq), 0) FROM sync_dest "
		       " WHERE (?1 IS NULL AND ?2 IS NULL) OR dest IN (?1, ?2))",
	[ST_LAST_UPLINK] = "SELECT coalesce(max(last_success_at), 0) FROM sync_dest",
	[ST_GUIDES_SEARCH] = "SELECT id, name, department, materials, time_limit, fees, "
			     "fee_basis, delivery, consult, address, hours, updated_at FROM guides "
			     "WHERE ?1 = '' OR instr(name, ?1) > 0 OR instr(department, ?1) > 0 "
			     "ORDER BY name LIMIT 200",
	[ST_GUIDE_GET] = "SELECT id, name, department, materials, time_limit, fees, fee_basis, "
			 "delivery, consult, address, hours, updated_at FROM guides WHERE id = ?1",
};

struct store {
	sqlite3 *db;
	int readonly;
	sqlite3_stmt *st[ST__MAX];
	struct calendar *cal;
	long cal_version;	/* meta calendar_version of cal; -1: not loaded */
	char hall_code[13];
	int writer_fd;		/* flock'd around write transactions; -1 when read-only */
	/* inside store_write_group: the last seq issued (0: not read yet), written to meta
	 * once, before the group's COMMIT, instead of once per record */
	int in_group;
	uint64_t group_seq;
};

/* The earliest plausible clock: a box whose RTC reset to 1970 or 2000 must not issue ids. */
#define STORE_CLOCK_FLOOR_US (1767225600ULL * 1000000) /* 2026-01-01 */

const char *
store_errmsg(struct store *s)
{
	return s->db ? sqlite3_errmsg(s->db) : "no database";
}

static sqlite3_stmt *
store_stmt(struct store *s, enum stmt_id id)
{
	if (s->st[id] == NULL &&
	    sqlite3_prepare_v3(s->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &s->st[id],
		NULL) != SQLITE_OK) {
		log_warnx("%s: prepare %d: %s", __func__, (int)id, sqlite3_errmsg(s->db));
		return NULL;
	}
	sqlite3_reset(s->st[id]);
	sqlite3_clear_bindings(s->st[id]);
	return s->st[id];
}

/* Steps a prepared, bound statement that returns no rows. */
static int
store_done(struct store *s, sqlite3_stmt *st)
{
	int rc;

	if (st == NULL)
		return -1;
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		log_warnx("%s: %s: %s", __func__, sqlite3_sql(st), sqlite3_errmsg(s->db));
		return -1;
	}
	return 0;
}

/* Runs a statement without parameters. */
static int
store_run(struct store *s, enum stmt_id id)
{
	return store_done(s, store_stmt(s, id));
}

static void
store_rollback(struct store *s)
{
	if (!sqlite3_get_autocommit(s->db))
		store_run(s, ST_ROLLBACK);
}

/*
 * Citizens' writes queue on a file lock before BEGIN IMMEDIATE: the kernel wakes the next
 * worker the moment the lock is free, where SQLite's busy handler would sleep 1, 2, 5 ms
 * and more while the other commit needs a fraction of one.
 */
static int
store_write_begin(struct store *s)
{
	if (s->writer_fd != -1)
		while (flock(s->writer_fd, LOCK_EX) == -1 && errno == EINTR)
			;
	if (store_run(s, ST_BEGIN_WRITE) == -1) {
		if (s->writer_fd != -1)
			flock(s->writer_fd, LOCK_UN);
		return -1;
	}
	return 0;
}

static void
store_write_end(struct store *s)
{
	store_rollback(s);	/* nothing to undo after a COMMIT */
	if (s->writer_fd != -1)
		flock(s->writer_fd, LOCK_UN);
}

struct store *
store_open(const char *path, int readonly)
{
	struct store *s;
	int flags = readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->readonly = readonly;
	s->cal_version = -1;
	s->writer_fd = -1;
	if (sqlite3_open_v2(path, &s->db, flags | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		log_warnx("%s: %s: %s", __func__, path, store_errmsg(s));
		goto fail;
	}
	sqlite3_busy_timeout(s->db, 5000);
	sqlite3_extended_result_codes(s->db, 1);
	if (!readonly) {
		char lock[4096];

		snprintf(lock, sizeof(lock), "%s-writer.lock", path);
		if ((s->writer_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1)
			log_warn("%s", lock);	/* only slower without it */
	}
	if (sqlite3_exec(s->db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL) != SQLITE_OK)
		goto fail_exec;
	if (!readonly &&
	    sqlite3_exec(s->db,
		"PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL",
		NULL, NULL, NULL) != SQLITE_OK)
		goto fail_exec;
	return s;
fail_exec:
	log_warnx("%s: %s: %s", __func__, path, store_errmsg(s));
fail:
	store_close(s);
	return NULL;
}

void
store_close(struct store *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < ST__MAX; i++)
		sqlite3_finalize(s->st[i]);
	calendar_free(s->cal);
	sqlite3_close(s->db);
	if (s->writer_fd != -1)
		close(s->writer_fd);
	free(s);
}

int
store_cache_limit(struct store *s, int kib)
{
	char sql[64];

	snprintf(sql, sizeof(sql), "PRAGMA cache_size = -%d", kib);
	return sqlite3_exec(s->db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

struct sqlite3 *
store_sqlite(struct store *s)
{
	return s->db;
}

/* ---- meta ------------------------------------------------------------------------ */

/* Copies meta[key] into out; 1 when present, 0 when absent, -1 on error. */
static int
store_meta_get(struct store *s, const char *key, char *out, size_t outlen)
{
	sqlite3_stmt *st = store_stmt(s, ST_META_GET);
	int rc;

	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		snprintf(out, outlen, "%s", (const char *)sqlite3_column_text(st, 0));
		sqlite3_reset(st);
		return 1;
	}
	sqlite3_reset(st);
	if (rc == SQLITE_DONE)
		return 0;
	log_warnx("%s: %s", __func__, store_errmsg(s));
	return -1;
}

int
store_meta(struct store *s, const char *key, char *out, size_t outlen)
{
	return store_meta_get(s, key, out, outlen);
}

static int
store_meta_set(struct store *s, const char *key, const char *value)
{
	sqlite3_stmt *st = store_stmt(s, ST_META_SET);

	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
	return store_done(s, st);
}

/* ---- schema ---------------------------------------------------------------------- */

static int
migration_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *
slurp(const char *path, size_t max)
{
	FILE *f;
	struct buf b;
	char chunk[8192];
	size_t n;

	if ((f = fopen(path, "r")) == NULL) {
		log_warn("%s", path);
		return NULL;
	}
	buf_init(&b, max);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (buf_add(&b, chunk, n) == -1)
			break;
	if (ferror(f) || b.failed) {
		log_warnx("%s: cannot read (or larger than %zu bytes)", path, max);
		fclose(f);
		buf_free(&b);
		return NULL;
	}
	fclose(f);
	return buf_take(&b, NULL);
}

int
store_exec_file(struct store *s, const char *path)
{
	char *sql, *err = NULL;
	int rc = 0;

	if ((sql = slurp(path, 4 << 20)) == NULL)
		return -1;
	if (sqlite3_exec(s->db, sql, NULL, NULL, &err) != SQLITE_OK) {
		log_warnx("%s: %s", path, err ? err : store_errmsg(s));
		sqlite3_free(err);
		rc = -1;
	}
	free(sql);
	return rc;
}

int
store_migrate(struct store *s, const char *dir)
{
	DIR *d;
	struct dirent *de;
	char *names[256], path[4096], pragma[64];
	size_t n = 0, i;
	sqlite3_stmt *st = NULL;
	int version = 0, rc = -1;

	if ((d = opendir(dir)) == NULL) {
		log_warn("%s", dir);
		return -1;
	}
	while ((de = readdir(d)) != NULL && n < sizeof(names) / sizeof(names[0])) {
		size_t len = strlen(de->d_name);

		if (len > 8 && strspn(de->d_name, "0123456789") == 3 && de->d_name[3] == '_' &&
		    strcmp(de->d_name + len - 4, ".sql") == 0)
			if ((names[n] = strdup(de->d_name)) != NULL)
				n++;
	}
	closedir(d);
	qsort(names, n, sizeof(names[0]), migration_cmp);
	for (i = 0; i < n; i++) {
		int num = atoi(names[i]);

		/* the version is read inside the write transaction: two programs starting at
		 * once must not both apply the same file */
		if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK ||
		    sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK ||
		    sqlite3_step(st) != SQLITE_ROW) {
			log_warnx("%s: %s", __func__, store_errmsg(s));
			sqlite3_finalize(st);
			sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
			goto done;
		}
		version = sqlite3_column_int(st, 0);
		sqlite3_finalize(st);
		st = NULL;
		if (num <= version) {
			sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
			continue;
		}
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", num);
		if (store_exec_file(s, path) == -1 ||
		    sqlite3_exec(s->db, pragma, NULL, NULL, NULL) != SQLITE_OK ||
		    sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
			sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
			log_warnx("%s: %s not applied", __func__, names[i]);
			goto done;
		}
		log_info("store: applied %s", names[i]);
	}
	rc = 0;
done:
	for (i = 0; i < n; i++)
		free(names[i]);
	return rc;
}

int
store_bind_hall(struct store *s, const char *hall_code)
{
	char have[32];
	int rc;

	if ((rc = store_meta_get(s, "hall_code", have, sizeof(have))) == -1)
		return -1;
	if (rc == 1 && strcmp(have, hall_code) != 0) {
		log_warnx("store belongs to hall %s, not %s", have, hall_code);
		return -1;
	}
	if (rc == 0 && !s->readonly && store_meta_set(s, "hall_code", hall_code) == -1)
		return -1;
	snprintf(s->hall_code, sizeof(s->hall_code), "%s", hall_code);
	return 0;
}

long
store_count(struct store *s, const char *table)
{
	char sql[128];
	sqlite3_stmt *st;
	long n = -1;

	/* table names come from our own code, never from input */
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM \"%s\"", table);
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

/* ---- identifiers ----------------------------------------------------------------- */

/*
 * The next record sequence: microseconds since CASENO_EPOCH_US, above the last one issued
 * and never ahead of the clock. Because it follows the clock, a store deleted and recreated
 * (or restored from a backup) starts above everything the old one issued, with nothing to
 * coordinate. Called inside a write transaction, which serializes the hall's writers.
 */
static enum store_rc
store_next_seq(struct store *s, uint64_t *seq)
{
	char text[32];
	uint64_t last = 0, now;
	int rc;

	if (s->in_group && s->group_seq > 0)
		last = s->group_seq;
	else {
		if ((rc = store_meta_get(s, "last_seq", text, sizeof(text))) == -1)
			return STORE_ERR;
		if (rc == 1)
			last = strtoull(text, NULL, 10);
	}
	now = time_now_us();
	if (now < STORE_CLOCK_FLOOR_US) {
		log_warnx("%s: the clock says %" PRIu64 " s: set the time before taking cases",
		    __func__, now / 1000000);
		return STORE_CLOCK;
	}
	if (now - CASENO_EPOCH_US <= last) {
		/* several records in one microsecond, or the clock stepped back */
		if (last - (now - CASENO_EPOCH_US) > 60 * 1000000ULL) {
			log_warnx("%s: the clock is more than a minute behind the store's last "
				  "record; refusing to issue numbers until it is right", __func__);
			return STORE_CLOCK;
		}
		do
			now = time_now_us();
		while (now - CASENO_EPOCH_US <= last);
	}
	*seq = now - CASENO_EPOCH_US;
	if (s->in_group) {
		s->group_seq = *seq;
		return STORE_OK;
	}
	snprintf(text, sizeof(text), "%" PRIu64, *seq);
	return store_meta_set(s, "last_seq", text) == 0 ? STORE_OK : STORE_ERR;
}

static int
store_outbox_add(struct store *s, const char *id, const char *type, const char *case_no,
    time_t at, const struct buf *payload)
{
	sqlite3_stmt *st = store_stmt(s, ST_OUTBOX_INSERT);

	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, type, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, case_no, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, at);
	sqlite3_bind_text(st, 5, payload->data, (int)payload->len, SQLITE_STATIC);
	return store_done(s, st);
}

static int
store_event_add(struct store *s, const char *case_no, const char *status, const char *note,
    const char *actor, time_t at)
{
	sqlite3_stmt *st;
	char id[48];
	uint64_t seq;

	if (store_next_seq(s, &seq) != STORE_OK ||
	    record_id_make(id, sizeof(id), s->hall_code, 'E', seq) == -1)
		return -1;
	if ((st = store_stmt(s, ST_EVENT_INSERT)) == NULL)
		return -1;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, case_no, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, status, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, note, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, actor, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, at);
	return store_done(s, st);
}

/* ---- cases ----------------------------------------------------------------------- */

static int
case_days(const struct hall_config *cfg, const char *kind)
{
	if (strcmp(kind, "complaint") == 0)
		return cfg->complaint_days;
	if (strcmp(kind, "unresolved") == 0)
		return cfg->unresolved_days;
	return cfg->consultation_days;
}

static void
bind_opt(sqlite3_stmt *st, int i, const char *v)
{
	if (v == NULL)
		sqlite3_bind_null(st, i);
	else
		sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
}

/* One case, its first event and its outbox entry, inside the caller's transaction. */
static enum store_rc
case_apply(struct store *s, const struct store_write *w)
{
	const struct case_new *c = w->c;
	struct receipt *r = w->receipt;
	const struct calendar *cal;
	sqlite3_stmt *st;
	struct buf payload;
	uint64_t seq;
	enum store_rc rc = STORE_ERR;

	memset(r, 0, sizeof(*r));
	if (c->dedup_key != NULL) {
		int step;

		if ((st = store_stmt(s, ST_CASE_BY_KEY)) == NULL)
			return STORE_ERR;
		sqlite3_bind_text(st, 1, c->dedup_key, -1, SQLITE_STATIC);
		if ((step = sqlite3_step(st)) == SQLITE_ROW) {
			snprintf(r->id, sizeof(r->id), "%s", sqlite3_column_text(st, 0));
			snprintf(r->case_no, sizeof(r->case_no), "%s", sqlite3_column_text(st, 1));
			snprintf(r->query_code, sizeof(r->query_code), "%s",
			    sqlite3_column_text(st, 2));
			r->submitted_at = sqlite3_column_int64(st, 3);
			r->due_at = sqlite3_column_int64(st, 4);
			r->due_provisional = sqlite3_column_int(st, 5);
			r->replayed = 1;
			sqlite3_reset(st);
			return STORE_OK;
		}
		sqlite3_reset(st);
		if (step != SQLITE_DONE)
			return STORE_ERR;
	}
	if ((rc = store_next_seq(s, &seq)) != STORE_OK)
		return rc;
	if ((cal = store_calendar(s)) == NULL)
		return STORE_ERR;
	if (caseno_make(r->case_no, s->hall_code, seq) == -1 ||
	    record_id_make(r->id, sizeof(r->id), s->hall_code, 'C', seq) == -1)
		return STORE_ERR;
	snprintf(r->query_code, sizeof(r->query_code), "%06" PRIu32,
	    randombytes_uniform(1000000));
	r->submitted_at = (time_t)((seq + CASENO_EPOCH_US) / 1000000);
	r->due_at = calendar_due(cal, r->submitted_at, case_days(w->cfg, c->kind),
	    &r->due_provisional);
	if (r->due_at == (time_t)-1)
		return STORE_ERR;
	buf_init(&payload, 64 * 1024);
	rc = STORE_ERR;
	if (record_case_json(&payload, r->id, s->hall_code, r->case_no, c, r->submitted_at,
		r->due_at, r->due_provisional) == -1)
		goto done;
	if ((st = store_stmt(s, ST_CASE_INSERT)) == NULL)
		goto done;
	sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, r->case_no, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, r->query_code, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, c->kind, -1, SQLITE_STATIC);
	bind_opt(st, 5, c->category);
	sqlite3_bind_text(st, 6, c->subject, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, c->body, -1, SQLITE_STATIC);
	bind_opt(st, 8, c->name);
	sqlite3_bind_text(st, 9, c->phone, -1, SQLITE_STATIC);
	bind_opt(st, 10, c->email);
	bind_opt(st, 11, c->item);
	bind_opt(st, 12, c->target);
	sqlite3_bind_int64(st, 13, r->submitted_at);
	sqlite3_bind_int64(st, 14, r->due_at);
	sqlite3_bind_int(st, 15, r->due_provisional);
	bind_opt(st, 16, c->dedup_key);
	if (store_done(s, st) == 0 &&
	    store_event_add(s, r->case_no, "received", NULL, "hall", r->submitted_at) == 0 &&
	    store_outbox_add(s, r->id, "case", r->case_no, r->submitted_at, &payload) == 0)
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

static void
col_copy(char *dst, size_t size, sqlite3_stmt *st, int i)
{
	const char *t = (const char *)sqlite3_column_text(st, i);
	size_t n = t != NULL ? strnlen(t, size - 1) : 0;

	memcpy(dst, t != NULL ? t : "", n);
	dst[n] = '\0';
}

static char *
col_dup(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	return t == NULL ? NULL : strdup((const char *)t);
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

enum store_rc
store_case_get(struct store *s, const char *case_no, struct case_view *v)
{
	sqlite3_stmt *st;
	enum store_rc rc = STORE_ERR;
	int step;

	memset(v, 0, sizeof(*v));
	if (store_run(s, ST_BEGIN_READ) == -1)
		return STORE_ERR;
	if ((st = store_stmt(s, ST_CASE_GET)) == NULL)
		goto done;
	sqlite3_bind_text(st, 1, case_no, -1, SQLITE_STATIC);
	if ((step = sqlite3_step(st)) != SQLITE_ROW) {
		rc = step == SQLITE_DONE ? STORE_NOT_FOUND : STORE_ERR;
		goto done;
	}
	/* (not snprintf: this is every lookup's path) */
	col_copy(v->case_no, sizeof(v->case_no), st, 0);
	col_copy(v->query_code, sizeof(v->query_code), st, 1);
	v->kind = col_dup(st, 2);
	v->category = col_dup(st, 3);
	v->subject = col_dup(st, 4);
	v->body = col_dup(st, 5);
	v->phone = col_dup(st, 6);
	v->status = col_dup(st, 7);
	v->reply_text = col_dup(st, 8);
	v->submitted_at = sqlite3_column_int64(st, 9);
	v->due_at = sqlite3_column_int64(st, 10);
	v->reply_at = sqlite3_column_int64(st, 11);
	v->due_provisional = sqlite3_column_int(st, 12);
	v->rating_level = sqlite3_column_int(st, 13);	/* NULL: 0, not rated */
	v->rating_at = sqlite3_column_int64(st, 14);
	v->synced_at = sqlite3_column_int64(st, 15);
	sqlite3_reset(st);
	if (v->kind == NULL || v->subject == NULL || v->body == NULL || v->phone == NULL ||
	    v->status == NULL)
		goto done;

	if ((st = store_stmt(s, ST_EVENTS_GET)) == NULL)
		goto done;
	sqlite3_bind_text(st, 1, case_no, -1, SQLITE_STATIC);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		struct case_event *e;

		if ((e = reallocarray(v->events, v->nevents + 1, sizeof(*e))) == NULL)
			goto done;
		v->events = e;
		e = &v->events[v->nevents++];
		e->status = col_dup(st, 0);
		e->note = col_dup(st, 1);
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
	store_run(s, ST_COMMIT);
	if (rc != STORE_OK)
		case_view_free(v);
	if (rc == STORE_ERR)
		log_warnx("%s: %s", __func__, store_errmsg(s));
	return rc;
}

/* A rating and its outbox entry, inside the caller's transaction. */
static enum store_rc
rating_apply(struct store *s, const struct store_write *w)
{
	sqlite3_stmt *st;
	struct buf payload;
	char id[48];
	const char *status;
	uint64_t seq;
	enum store_rc rc = STORE_ERR;
	int step, rated;

	if ((st = store_stmt(s, ST_CASE_STATUS)) == NULL)
		return STORE_ERR;
	sqlite3_bind_text(st, 1, w->case_no, -1, SQLITE_STATIC);
	if ((step = sqlite3_step(st)) != SQLITE_ROW) {
		sqlite3_reset(st);
		return step == SQLITE_DONE ? STORE_NOT_FOUND : STORE_ERR;
	}
	status = (const char *)sqlite3_column_text(st, 0);
	rated = sqlite3_column_int(st, 1);
	if (rated)
		rc = STORE_CONFLICT;
	else if (status == NULL || (strcmp(status, "answered") != 0 &&
	    strcmp(status, "resolved") != 0 && strcmp(status, "rejected") != 0))
		rc = STORE_NOT_YET;
	sqlite3_reset(st);
	if (rc != STORE_ERR)
		return rc;
	if ((rc = store_next_seq(s, &seq)) != STORE_OK)
		return rc;
	*w->at = (time_t)((seq + CASENO_EPOCH_US) / 1000000);
	buf_init(&payload, 16 * 1024);
	rc = STORE_ERR;
	if (record_id_make(id, sizeof(id), s->hall_code, 'R', seq) == -1 ||
	    record_rating_json(&payload, id, s->hall_code, w->case_no, w->level, w->comment,
		*w->at) == -1 ||
	    (st = store_stmt(s, ST_RATING_INSERT)) == NULL)
		goto done;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, w->case_no, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, w->level);
	bind_opt(st, 4, w->comment);
	sqlite3_bind_int64(st, 5, *w->at);
	if (store_done(s, st) == 0 &&
	    store_outbox_add(s, id, "rating", w->case_no, *w->at, &payload) == 0)
		rc = STORE_OK;
done:
	buf_free(&payload);
	return rc;
}

enum store_rc
store_rating_create(struct store *s, const char *case_no, int level, const char *comment,
    time_t *at)
{
	struct store_write w = {.kind = STORE_WRITE_RATING, .case_no = case_no, .level = level,
	    .comment = comment, .at = at};

	store_write_group(s, &w, 1);
	return w.rc;
}

/*
 * Group commit: the writes share one transaction, so one fsync of the WAL makes them all
 * durable. Each runs inside its own savepoint: a write that fails (a rating of a case not
 * yet answered, a constraint) is undone alone and the others still commit. When the commit
 * itself fails, or SQLite has rolled the whole transaction back, every write reports it.
 */
void
store_write_group(struct store *s, struct store_write *w, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		w[i].rc = STORE_ERR;
	if (store_write_begin(s) == -1)
		return;
	/*
	 * The group's seqs come from memory and the mark is written once below. A seq taken by
	 * a write that is then undone is simply never used: numbers only skip, never repeat.
	 */
	s->in_group = 1;
	s->group_seq = 0;
	for (i = 0; i < n; i++) {
		if (store_run(s, ST_SAVEPOINT) == -1)
			goto fail;
		w[i].rc = w[i].kind == STORE_WRITE_CASE ? case_apply(s, &w[i]) :
		    rating_apply(s, &w[i]);
		if (sqlite3_get_autocommit(s->db))
			goto fail;	/* SQLite gave the transaction up (I/O error, full disk) */
		if (w[i].rc != STORE_OK && store_run(s, ST_ROLLBACK_TO) == -1)
			goto fail;
		if (store_run(s, ST_RELEASE) == -1)
			goto fail;
	}
	s->in_group = 0;
	if (s->group_seq > 0) {
		char text[32];

		snprintf(text, sizeof(text), "%" PRIu64, s->group_seq);
		if (store_meta_set(s, "last_seq", text) == -1)
			goto fail;
	}
	if (store_run(s, ST_COMMIT) == -1)
		goto fail;
	store_write_end(s);
	return;
fail:
	s->in_group = 0;
	for (i = 0; i < n; i++)
		w[i].rc = STORE_ERR;
	store_write_end(s);
}

/* ---- health ---------------------------------------------------------------------- */

static int
store_scalar(struct store *s, enum stmt_id id, long long *out)
{
	sqlite3_stmt *st = store_stmt(s, id);
	int rc;

	if (st == NULL)
		return -1;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 0 : -1;
}

int
store_health(struct store *s, const struct hall_config *cfg, struct sync_health *h)
{
	long long backlog = 0, up;
	sqlite3_stmt *st;
	char text[32];
	int rc = -1;

	memset(h, 0, sizeof(*h));
	if (store_run(s, ST_BEGIN_READ) == -1)
		return -1;
	if ((st = store_stmt(s, ST_BACKLOG)) == NULL)
		goto done;
	if (cfg != NULL && cfg->county_user != NULL)
		sqlite3_bind_text(st, 1, "county", -1, SQLITE_STATIC);
	if (cfg != NULL && cfg->province_url != NULL)
		sqlite3_bind_text(st, 2, "province", -1, SQLITE_STATIC);
	if (cfg != NULL && cfg->county_user == NULL && cfg->province_url == NULL)
		sqlite3_bind_text(st, 1, "", -1, SQLITE_STATIC); /* nowhere to go: all of it */
	if (sqlite3_step(st) == SQLITE_ROW)
		backlog = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (store_scalar(s, ST_LAST_UPLINK, &up) == -1)
		goto done;
	h->backlog = (long)backlog;
	h->last_uplink_at = (time_t)up;
	switch (store_meta_get(s, "last_downlink_at", text, sizeof(text))) {
	case 1:
		h->last_downlink_at = (time_t)strtoll(text, NULL, 10);
		rc = 0;
		break;
	case 0:
		rc = 0;
		break;
	default:
		break;
	}
done:
	store_run(s, ST_COMMIT);
	return rc;
}

time_t
store_synced_at(struct store *s)
{
	long long up = 0;
	char text[32];
	time_t down = 0;

	if (store_scalar(s, ST_LAST_UPLINK, &up) == -1)
		return 0;
	if (store_meta_get(s, "last_downlink_at", text, sizeof(text)) == 1)
		down = (time_t)strtoll(text, NULL, 10);
	return (time_t)up > down ? (time_t)up : down;
}

/* ---- guides ---------------------------------------------------------------------- */

static int
guide_fill(sqlite3_stmt *st, struct guide *g)
{
	char **f[] = {&g->id, &g->name, &g->department, &g->materials, &g->time_limit, &g->fees,
	    &g->fee_basis, &g->delivery, &g->consult, &g->address, &g->hours};
	size_t i;

	memset(g, 0, sizeof(*g));
	for (i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		if ((*f[i] = col_dup(st, (int)i)) == NULL && (*f[i] = strdup("")) == NULL)
			return -1;
	g->updated_at = sqlite3_column_int64(st, (int)i);
	return 0;
}

void
guide_free(struct guide *g)
{
	if (g == NULL)
		return;
	free(g->id);
	free(g->name);
	free(g->department);
	free(g->materials);
	free(g->time_limit);
	free(g->fees);
	free(g->fee_basis);
	free(g->delivery);
	free(g->consult);
	free(g->address);
	free(g->hours);
	memset(g, 0, sizeof(*g));
}

int
store_guides_search(struct store *s, const char *q, int (*fn)(const struct guide *, void *),
    void *arg)
{
	sqlite3_stmt *st = store_stmt(s, ST_GUIDES_SEARCH);
	struct guide g;
	int step, rc = 0;

	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, q, -1, SQLITE_STATIC);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		if (guide_fill(st, &g) == -1 || fn(&g, arg) == -1)
			rc = -1;
		guide_free(&g);
		if (rc == -1)
			break;
	}
	sqlite3_reset(st);
	if (rc == 0 && step != SQLITE_DONE) {
		log_warnx("%s: %s", __func__, store_errmsg(s));
		rc = -1;
	}
	return rc;
}

enum store_rc
store_guide_get(struct store *s, const char *id, struct guide *g)
{
	sqlite3_stmt *st = store_stmt(s, ST_GUIDE_GET);
	enum store_rc rc;
	int step;

	memset(g, 0, sizeof(*g));
	if (st == NULL)
		return STORE_ERR;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	step = sqlite3_step(st);
	if (step == SQLITE_ROW)
		rc = guide_fill(st, g) == 0 ? STORE_OK : STORE_ERR;
	else
		rc = step == SQLITE_DONE ? STORE_NOT_FOUND : STORE_ERR;
	sqlite3_reset(st);
	if (rc == STORE_ERR)
		guide_free(g);
	return rc;
}

/* ---- calendar -------------------------------------------------------------------- */

static int
store_calendar_load(struct store *s, struct calendar *cal)
{
	sqlite3_stmt *st = NULL;
	int step, y, m, d;

	if (sqlite3_prepare_v2(s->db, "SELECT year FROM calendar_years", -1, &st, NULL) != SQLITE_OK)
		goto fail;
	while ((step = sqlite3_step(st)) == SQLITE_ROW)
		if (calendar_add_year(cal, sqlite3_column_int(st, 0)) == -1)
			goto fail;
	sqlite3_finalize(st);
	if (sqlite3_prepare_v2(s->db, "SELECT day, kind FROM calendar_days", -1, &st, NULL) !=
	    SQLITE_OK)
		goto fail;
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		const char *day = (const char *)sqlite3_column_text(st, 0);
		const char *kind = (const char *)sqlite3_column_text(st, 1);

		if (day == NULL || kind == NULL || sscanf(day, "%d-%d-%d", &y, &m, &d) != 3 ||
		    calendar_set_day(cal, y, m, d,
			strcmp(kind, "holiday") == 0 ? CAL_HOLIDAY : CAL_WORKDAY) == -1)
			goto fail;
	}
	if (step != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(st);
	return 0;
fail:
	log_warnx("%s: %s", __func__, store_errmsg(s));
	sqlite3_finalize(st);
	return -1;
}

const struct calendar *
store_calendar(struct store *s)
{
	struct calendar *cal;
	char text[32];
	long version = 0;

	switch (store_meta_get(s, "calendar_version", text, sizeof(text))) {
	case -1:
		return NULL;
	case 1:
		version = strtol(text, NULL, 10);
		break;
	default:
		break;
	}
	if (s->cal != NULL && version == s->cal_version)
		return s->cal;
	if ((cal = calendar_new()) == NULL)
		return NULL;
	if (store_calendar_load(s, cal) == -1) {
		calendar_free(cal);
		return NULL;
	}
	calendar_free(s->cal);
	s->cal = cal;
	s->cal_version = version;
	return cal;
}

struct import_ctx {
	struct store *s;
	sqlite3_stmt *year, *day, *clear;
	int failed;
};

static void
import_year(int year, void *arg)
{
	struct import_ctx *x = arg;
	char from[16], to[16];

	snprintf(from, sizeof(from), "%04d-01-01", year);
	snprintf(to, sizeof(to), "%04d-12-31", year);
	sqlite3_reset(x->clear);
	sqlite3_bind_text(x->clear, 1, from, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(x->clear, 2, to, -1, SQLITE_TRANSIENT);
	sqlite3_reset(x->year);
	sqlite3_bind_int(x->year, 1, year);
	sqlite3_bind_int64(x->year, 2, (sqlite3_int64)time(NULL));
	if (sqlite3_step(x->clear) != SQLITE_DONE || sqlite3_step(x->year) != SQLITE_DONE)
		x->failed = 1;
}

static void
import_day(int y, int m, int d, enum cal_kind kind, void *arg)
{
	struct import_ctx *x = arg;
	char day[16];

	snprintf(day, sizeof(day), "%04d-%02d-%02d", y, m, d);
	sqlite3_reset(x->day);
	sqlite3_bind_text(x->day, 1, day, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(x->day, 2, kind == CAL_HOLIDAY ? "holiday" : "workday", -1,
	    SQLITE_STATIC);
	if (sqlite3_step(x->day) != SQLITE_DONE)
		x->failed = 1;
}

int
store_calendar_import(struct store *s, const struct calendar *in, const struct hall_config *cfg)
{
	int n;

	if (store_run(s, ST_BEGIN_WRITE) == -1)
		return -1;
	if ((n = store_calendar_import_locked(s, in, cfg)) == -1 || store_run(s, ST_COMMIT) == -1) {
		store_rollback(s);
		s->cal_version = -1;	/* the cached calendar may be the rolled-back one */
		return -1;
	}
	return n;
}

int
store_calendar_import_locked(struct store *s, const struct calendar *in,
    const struct hall_config *cfg)
{
	struct import_ctx x = {s, NULL, NULL, NULL, 0};
	sqlite3_stmt *open = NULL, *upd = NULL;
	const struct calendar *cal;
	char text[32];
	long version = 0;
	int n = 0, step;

	if (sqlite3_prepare_v2(s->db,
		"INSERT INTO calendar_years (year, updated_at) VALUES (?1, ?2) "
		"ON CONFLICT (year) DO UPDATE SET updated_at = excluded.updated_at",
		-1, &x.year, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(s->db,
		"INSERT INTO calendar_days (day, kind) VALUES (?1, ?2) "
		"ON CONFLICT (day) DO UPDATE SET kind = excluded.kind",
		-1, &x.day, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(s->db, "DELETE FROM calendar_days WHERE day BETWEEN ?1 AND ?2", -1,
		&x.clear, NULL) != SQLITE_OK)
		goto fail;
	/* a year's table replaces whatever the store held for that year */
	calendar_foreach(in, import_year, NULL, &x);
	calendar_foreach(in, NULL, import_day, &x);
	if (x.failed)
		goto fail;
	if (store_meta_get(s, "calendar_version", text, sizeof(text)) == 1)
		version = strtol(text, NULL, 10);
	snprintf(text, sizeof(text), "%ld", version + 1);
	if (store_meta_set(s, "calendar_version", text) == -1 || (cal = store_calendar(s)) == NULL)
		goto fail;

	/* open cases whose deadline was provisional get it again from the new tables */
	if (sqlite3_prepare_v2(s->db,
		"SELECT case_no, kind, submitted_at FROM cases WHERE due_provisional = 1 "
		"AND status NOT IN ('answered','resolved','rejected')",
		-1, &open, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(s->db,
		"UPDATE cases SET due_at = ?2, due_provisional = ?3 WHERE case_no = ?1", -1, &upd,
		NULL) != SQLITE_OK)
		goto fail;
	while ((step = sqlite3_step(open)) == SQLITE_ROW) {
		int prov;
		time_t due = calendar_due(cal, sqlite3_column_int64(open, 2),
		    case_days(cfg, (const char *)sqlite3_column_text(open, 1)), &prov);

		if (due == (time_t)-1)
			goto fail;
		sqlite3_reset(upd);
		sqlite3_bind_value(upd, 1, sqlite3_column_value(open, 0));
		sqlite3_bind_int64(upd, 2, due);
		sqlite3_bind_int(upd, 3, prov);
		if (sqlite3_step(upd) != SQLITE_DONE)
			goto fail;
		n++;
	}
	if (step != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(open);
	sqlite3_finalize(upd);
	sqlite3_finalize(x.year);
	sqlite3_finalize(x.day);
	sqlite3_finalize(x.clear);
	return n;
fail:
	log_warnx("%s: %s", __func__, store_errmsg(s));
	sqlite3_finalize(open);
	sqlite3_finalize(upd);
	sqlite3_finalize(x.year);
	sqlite3_finalize(x.day);
	sqlite3_finalize(x.clear);
	s->cal_version = -1;
	return -1;
}
