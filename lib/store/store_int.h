/*
 * Inside the hall store: what its files share and nothing outside lib/store may use. The
 * connection (struct store) and the one way every file runs SQL: store_stmt hands out the
 * connection's prepared statement for a string constant, prepared on first use and kept
 * until store_close, reset and with its bindings cleared. Prototypes are grouped under the
 * file that defines them.
 */
#ifndef HALL_STORE_INT_H
#define HALL_STORE_INT_H

#include <sqlite3.h>

#include "store.h"

/* Statement slots per connection: some three times the store's statements (about 45),
 * so that a lookup seldom probes a second slot. */
#define STORE_STMTS 128

struct store {
	sqlite3 *db;
	int readonly;
	struct {
		const char *sql;	/* the key: a string constant's address */
		sqlite3_stmt *st;
	} stmt[STORE_STMTS];
	struct calendar *cal;
	long cal_version;	/* meta calendar_version of cal; -1: not loaded */
	char hall_code[13];
	int writer_fd;		/* flock'd around write transactions; -1 when read-only */
	/* inside store_write_group: the last seq issued (0: not read yet), written to meta
	 * once, before the group's COMMIT, instead of once per record */
	int in_group;
	uint64_t group_seq;
	/* retention.c removed data but could not truncate the WAL yet: try at the next tick */
	int wal_dirty;
	/* case.c: the key of the query codes' MACs (meta query_key), once read */
	unsigned char query_key[32];
	int query_key_loaded;
};

/*
 * SQL: the outbox record o goes to the destination named by dest (a parameter or a
 * column): every record but one for another destination alone (outbox.only_for, 007).
 * Every query of what a destination is due, has taken or still has to take says it so.
 */
#define OUTBOX_FOR(o, dest) "(" o ".only_for IS NULL OR " o ".only_for = " dest ")"

/* ---- lib/store/store.c -------------------------------------------------------------- */
/*
 * The statement for sql, reset and without bindings; NULL (logged) when it cannot be
 * prepared. sql must be a string constant: the statement is found again by its address.
 * SQL built at run time (a table name, a PRAGMA's number) is never given here.
 */
sqlite3_stmt *store_stmt(struct store *, const char *sql);
/* Steps a statement that returns no rows, and resets it; 0, or -1 logged (st NULL: -1). */
int store_done(struct store *, sqlite3_stmt *st);
/* store_done of a statement without parameters. */
int store_run(struct store *, const char *sql);
/* Steps st for one row and reads its first column; resets st. 0, or -1 without a row. */
int store_scalar(sqlite3_stmt *st, long long *out);
/* The transaction statements: BEGIN (a read), BEGIN IMMEDIATE, COMMIT. */
int store_begin_read(struct store *);
int store_begin_write(struct store *);
int store_commit(struct store *);
/* Rolls back the open transaction, if any. */
void store_rollback(struct store *);
/* Text that lives until the statement is stepped (SQLITE_STATIC); NULL binds NULL. */
static inline void
store_bind_text(sqlite3_stmt *st, int i, const char *v)
{
	sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
}
/* A text column copied into dst, cut to size; NULL gives "". */
void store_col_copy(char *dst, size_t size, sqlite3_stmt *st, int i);
/* A text column as a string the caller frees; NULL for NULL or when out of memory. */
char *store_col_dup(sqlite3_stmt *st, int i);
/* meta[key] = value; store_meta (store.h) reads it. */
int store_meta_set(struct store *, const char *key, const char *value);

/* ---- lib/store/case.c --------------------------------------------------------------- */
/* The working days cfg allows a case of this kind. */
int case_days(const struct hall_config *cfg, const char *kind);
/* One case, its first event and its outbox record, inside the group's transaction. */
enum store_rc case_apply(struct store *, const struct store_write *);

/* ---- lib/store/rating.c ------------------------------------------------------------- */
/* A rating and its outbox record, inside the group's transaction. */
enum store_rc rating_apply(struct store *, const struct store_write *);

/* ---- lib/store/code.c --------------------------------------------------------------- */
/* A new query code and its outbox record, inside the group's transaction. */
enum store_rc code_apply(struct store *, const struct store_write *);

/* ---- lib/store/appointment.c -------------------------------------------------------- */
/* A booking, or a cancellation, and its outbox record, inside the group's transaction. */
enum store_rc appt_apply(struct store *, const struct store_write *);
enum store_rc appt_cancel_apply(struct store *, const struct store_write *);
enum store_rc appt_mark_apply(struct store *, const struct store_write *);

/* ---- lib/store/write_group.c -------------------------------------------------------- */
/* The next record sequence (see the file); inside a write transaction. */
enum store_rc write_next_seq(struct store *, uint64_t *seq);
/* The time a record numbered seq was made: its number's time, or now for a number
 * continued ahead of the clock. */
time_t write_seq_time(uint64_t seq);
/* The outbox record of a write, inside its transaction. */
int write_outbox_add(struct store *, const char *id, const char *type, const char *case_no,
    time_t at, const struct buf *payload);
/* The same for one destination alone (outbox.only_for): a `code` record, the county's. */
int write_outbox_add_for(struct store *, const char *id, const char *type,
    const char *case_no, time_t at, const struct buf *payload, const char *only_for);

/* ---- lib/store/clock.c -------------------------------------------------------------- */
/* STORE_CLOCK (logged) when now is more than a day past the time the hall can vouch for. */
enum store_rc clock_check(struct store *, uint64_t now_us);
/* The last seq `hall-admin clock --continue` allows numbers to go on from (0: none). */
int clock_continue_until(struct store *, uint64_t *until);
/* ---- lib/store/backup.c ------------------------------------------------------------- */
/* Removes path and the journal files SQLite may have left beside it. */
void backup_unlink(const char *path);
/* fsync of the file, or (folder) of the folder holding it; -1 logged. */
int backup_fsync(const char *path, int folder);
/* PRAGMA quick_check (full: integrity_check) says "ok": 0; else -1 logged. */
int backup_check(sqlite3 *db, const char *path, int full);

/* ---- lib/store/retention.c ---------------------------------------------------------- */
/* The SQL function sha256(text) on a connection (a stripped record's hash). */
int retention_register(sqlite3 *db);

#endif
