/*
 * The hall store: SQLite in WAL mode. Writers commit with synchronous=FULL, so a record is
 * on disk, power loss included, before its receipt leaves the hall. This file holds the
 * connection (open, close, the page cache's cap), the statements every file of the store
 * runs through, and the meta table. Each statement is prepared once per connection with
 * bound parameters and kept: store_stmt finds it again by its SQL's address, so the
 * statements stand in the files that use them, and the outbox, the downlink and the
 * citizen's lookups share one cache and one set of helpers.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store_int.h"

const char *
store_errmsg(struct store *s)
{
	return s->db ? sqlite3_errmsg(s->db) : "no database";
}

/* The slot of sql: its own, or the empty one it goes in; STORE_STMTS when all are taken. */
static size_t
stmt_slot(struct store *s, const char *sql)
{
	/* Fibonacci hashing of the address: string constants sit close together */
	uint64_t h = (uint64_t)(uintptr_t)sql * 0x9E3779B97F4A7C15ULL;
	size_t i = (size_t)(h >> 32) % STORE_STMTS, n;

	for (n = 0; n < STORE_STMTS; n++, i = (i + 1) % STORE_STMTS)
		if (s->stmt[i].sql == sql || s->stmt[i].sql == NULL)
			return i;
	return STORE_STMTS;
}

sqlite3_stmt *
store_stmt(struct store *s, const char *sql)
{
	size_t i = stmt_slot(s, sql);

	if (i == STORE_STMTS) {
		log_warnx("%s: more than %d statements: raise STORE_STMTS", __func__, STORE_STMTS);
		return NULL;
	}
	if (s->stmt[i].sql == NULL) {
		if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s->stmt[i].st,
			NULL) != SQLITE_OK) {
			log_warnx("%s: prepare %s: %s", __func__, sql, sqlite3_errmsg(s->db));
			sqlite3_finalize(s->stmt[i].st);
			s->stmt[i].st = NULL;
			return NULL;
		}
		s->stmt[i].sql = sql;
		return s->stmt[i].st;
	}
	sqlite3_reset(s->stmt[i].st);
	sqlite3_clear_bindings(s->stmt[i].st);
	return s->stmt[i].st;
}

int
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

int
store_run(struct store *s, const char *sql)
{
	return store_done(s, store_stmt(s, sql));
}

int
store_scalar(sqlite3_stmt *st, long long *out)
{
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
store_begin_read(struct store *s)
{
	return store_run(s, "BEGIN");
}

int
store_begin_write(struct store *s)
{
	return store_run(s, "BEGIN IMMEDIATE");
}

int
store_commit(struct store *s)
{
	return store_run(s, "COMMIT");
}

void
store_rollback(struct store *s)
{
	if (!sqlite3_get_autocommit(s->db))
		store_run(s, "ROLLBACK");
}

void
store_col_copy(char *dst, size_t size, sqlite3_stmt *st, int i)
{
	const char *t = (const char *)sqlite3_column_text(st, i);
	size_t n = t != NULL ? strnlen(t, size - 1) : 0;

	memcpy(dst, t != NULL ? t : "", n);
	dst[n] = '\0';
}

char *
store_col_dup(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	return t == NULL ? NULL : strdup((const char *)t);
}

/* ---- the connection -------------------------------------------------------------- */

/*
 * SQLite creates a store 0644 less the umask, which under the units' UMask=0007 is 0640:
 * hall-agent, another user of group hall, could not write it. Made here first, 0660 less
 * the umask (0600 in the demo), the store has the mode the group needs, and SQLite gives
 * its -wal and -shm the store's own mode whoever creates them.
 *
 * Only a store that does not exist yet is touched (O_EXCL): closing a descriptor of a file
 * drops every POSIX lock this process holds on it, and another connection of this process
 * (hall-agent opens one per destination) would lose the locks that keep its WAL alive.
 */
static int
store_create_file(const char *path)
{
	int fd;

	if ((fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0660)) == -1) {
		if (errno == EEXIST)
			return 0;
		log_warn("%s: %s", __func__, path);
		return -1;
	}
	close(fd);
	return 0;
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
	s->wal_dirty = !readonly;	/* a previous run may have left old pages in the WAL */
	if (!readonly && store_create_file(path) == -1)
		goto fail;
	if (sqlite3_open_v2(path, &s->db, flags | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		log_warnx("%s: %s: %s", __func__, path, store_errmsg(s));
		goto fail;
	}
	sqlite3_busy_timeout(s->db, 5000);
	sqlite3_extended_result_codes(s->db, 1);
	if (!readonly) {
		char lock[4096];

		snprintf(lock, sizeof(lock), "%s-writer.lock", path);
		if ((s->writer_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0660)) == -1)
			log_warn("%s", lock);	/* only slower without it */
	}
	/* secure_delete: what retention.c removes is zeroed in the file, not left in free
	 * space for anyone who copies it (SPEC 11) */
	if (sqlite3_exec(s->db, "PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON", NULL, NULL,
		NULL) != SQLITE_OK || retention_register(s->db) == -1)
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
	for (i = 0; i < STORE_STMTS; i++)
		sqlite3_finalize(s->stmt[i].st);
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

	/* a PRAGMA's number cannot be bound: run once, never kept */
	snprintf(sql, sizeof(sql), "PRAGMA cache_size = -%d", kib);
	return sqlite3_exec(s->db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

struct sqlite3 *
store_sqlite(struct store *s)
{
	return s->db;
}

/* ---- meta ------------------------------------------------------------------------ */

int
store_meta(struct store *s, const char *key, char *out, size_t outlen)
{
	sqlite3_stmt *st = store_stmt(s, "SELECT value FROM meta WHERE key = ?1");
	int rc;

	if (st == NULL)
		return -1;
	store_bind_text(st, 1, key);
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
store_meta_set(struct store *s, const char *key, const char *value)
{
	sqlite3_stmt *st = store_stmt(s, "INSERT INTO meta (key, value) VALUES (?1, ?2) "
				       "ON CONFLICT (key) DO UPDATE SET value = excluded.value");

	if (st == NULL)
		return -1;
	store_bind_text(st, 1, key);
	store_bind_text(st, 2, value);
	return store_done(s, st);
}
