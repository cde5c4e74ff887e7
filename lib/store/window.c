/*
 * The hall's window in the store (sql/hall/006_window.sql): hall staff accounts, which
 * hall-admin makes, and the sign-ins and sessions hall-write keeps (fcgi/hall/window.c),
 * all in the hall store so that the window works with the county link down. Session tokens
 * arrive here already hashed (fcgi/web/signin.c); passwords only as Argon2id hashes.
 * Writes queue on the store's writer lock like the citizens' (write_group.c), then take
 * SQLite's write lock.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>

#include <sqlite3.h>

#include "store_int.h"

/* A write transaction of its own, behind the hall's other writers. */
static int
window_begin(struct store *s)
{
	if (s->writer_fd != -1)
		while (flock(s->writer_fd, LOCK_EX) == -1 && errno == EINTR)
			;
	if (store_begin_write(s) == -1) {
		if (s->writer_fd != -1)
			flock(s->writer_fd, LOCK_UN);
		return -1;
	}
	return 0;
}

/* Commits (rc STORE_OK) or rolls back, and lets the next writer in; returns rc, or
 * STORE_ERR when the commit failed. */
static enum store_rc
window_end(struct store *s, enum store_rc rc)
{
	if (rc == STORE_OK && store_commit(s) == -1)
		rc = STORE_ERR;
	store_rollback(s);	/* nothing to undo after a COMMIT */
	if (s->writer_fd != -1)
		flock(s->writer_fd, LOCK_UN);
	if (rc == STORE_ERR)
		log_warnx("window: %s", store_errmsg(s));
	return rc;
}

/* The rows an UPDATE or DELETE changed, after store_done. */
static int
changed(struct store *s)
{
	return sqlite3_changes(s->db);
}

/* ---- accounts (hall-admin staff) ---------------------------------------------------- */

enum {
	WA_NAME, WA_HASH, WA_DISABLED, WA_FAILED, WA_LOCKED, WA_CREATED, WA_LAST_LOGIN
};
#define ACCOUNT_COLS \
	"SELECT name, pw_hash, disabled, failed_logins, coalesce(locked_until, 0), created_at, " \
	"coalesce(last_login_at, 0) FROM window_accounts "

static void
account_read(sqlite3_stmt *st, struct window_account *a)
{
	memset(a, 0, sizeof(*a));
	store_col_copy(a->name, sizeof(a->name), st, WA_NAME);
	store_col_copy(a->pw_hash, sizeof(a->pw_hash), st, WA_HASH);
	a->disabled = sqlite3_column_int(st, WA_DISABLED);
	a->failed_logins = sqlite3_column_int(st, WA_FAILED);
	a->locked_until = sqlite3_column_int64(st, WA_LOCKED);
	a->created_at = sqlite3_column_int64(st, WA_CREATED);
	a->last_login_at = sqlite3_column_int64(st, WA_LAST_LOGIN);
}

enum store_rc
store_window_account(struct store *s, const char *name, struct window_account *a)
{
	sqlite3_stmt *st;
	int step;

	if ((st = store_stmt(s, ACCOUNT_COLS "WHERE name = ?1")) == NULL)
		return STORE_ERR;
	store_bind_text(st, 1, name);
	if ((step = sqlite3_step(st)) == SQLITE_ROW)
		account_read(st, a);
	sqlite3_reset(st);
	if (step == SQLITE_ROW)
		return STORE_OK;
	if (step == SQLITE_DONE)
		return STORE_NOT_FOUND;
	log_warnx("%s: %s", __func__, store_errmsg(s));
	return STORE_ERR;
}

int
store_window_list(struct store *s, int (*fn)(const struct window_account *, void *), void *arg)
{
	struct window_account a;
	sqlite3_stmt *st;
	int step, rc = 0;

	if ((st = store_stmt(s, ACCOUNT_COLS "ORDER BY name")) == NULL)
		return -1;
	while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
		account_read(st, &a);
		rc = fn(&a, arg);
	}
	if (rc == 0 && step != SQLITE_DONE) {
		log_warnx("%s: %s", __func__, store_errmsg(s));
		rc = -1;
	}
	sqlite3_reset(st);
	return rc;
}

/* Every session of the account ends (a new password, a disabled account). */
static int
sessions_end(struct store *s, const char *name)
{
	sqlite3_stmt *st = store_stmt(s, "DELETE FROM window_sessions WHERE name = ?1");

	if (st == NULL)
		return -1;
	store_bind_text(st, 1, name);
	return store_done(s, st);
}

enum store_rc
store_window_add(struct store *s, const char *name, const char *pw_hash, time_t now)
{
	sqlite3_stmt *st;
	enum store_rc rc = STORE_ERR;

	if (window_begin(s) == -1)
		return STORE_ERR;
	if ((st = store_stmt(s, "INSERT INTO window_accounts (name, pw_hash, created_at) "
				"VALUES (?1, ?2, ?3) ON CONFLICT (name) DO NOTHING")) != NULL) {
		store_bind_text(st, 1, name);
		store_bind_text(st, 2, pw_hash);
		sqlite3_bind_int64(st, 3, now);
		if (store_done(s, st) == 0)
			rc = changed(s) == 1 ? STORE_OK : STORE_CONFLICT;
	}
	return window_end(s, rc);
}

enum store_rc
store_window_passwd(struct store *s, const char *name, const char *pw_hash)
{
	sqlite3_stmt *st;
	enum store_rc rc = STORE_ERR;

	if (window_begin(s) == -1)
		return STORE_ERR;
	/* a new password also lifts a lockout, and ends the sessions the old one opened */
	if ((st = store_stmt(s, "UPDATE window_accounts SET pw_hash = ?2, failed_logins = 0, "
				"locked_until = NULL WHERE name = ?1")) != NULL) {
		store_bind_text(st, 1, name);
		store_bind_text(st, 2, pw_hash);
		if (store_done(s, st) == 0)
			rc = changed(s) == 1 ? STORE_OK : STORE_NOT_FOUND;
	}
	if (rc == STORE_OK && sessions_end(s, name) == -1)
		rc = STORE_ERR;
	return window_end(s, rc);
}

enum store_rc
store_window_disable(struct store *s, const char *name, int disabled)
{
	sqlite3_stmt *st;
	enum store_rc rc = STORE_ERR;

	if (window_begin(s) == -1)
		return STORE_ERR;
	if ((st = store_stmt(s, "UPDATE window_accounts SET disabled = ?2, failed_logins = 0, "
				"locked_until = NULL WHERE name = ?1")) != NULL) {
		store_bind_text(st, 1, name);
		sqlite3_bind_int(st, 2, disabled ? 1 : 0);
		if (store_done(s, st) == 0)
			rc = changed(s) == 1 ? STORE_OK : STORE_NOT_FOUND;
	}
	if (rc == STORE_OK && disabled && sessions_end(s, name) == -1)
		rc = STORE_ERR;
	return window_end(s, rc);
}

/* ---- sign-in and sessions (hall-write) ---------------------------------------------- */

enum store_rc
store_window_failed(struct store *s, const char *name, int max, int minutes, time_t now,
    int *locked_now)
{
	sqlite3_stmt *st;
	enum store_rc rc = STORE_ERR;
	long long fails = 0;

	*locked_now = 0;
	if (window_begin(s) == -1)
		return STORE_ERR;
	/* SQLite reads every column's old value on the right: the count before this one */
	if ((st = store_stmt(s, "UPDATE window_accounts SET "
				"locked_until = CASE WHEN failed_logins + 1 >= ?2 "
				"THEN ?4 + ?3 * 60 ELSE locked_until END, "
				"failed_logins = CASE WHEN failed_logins + 1 >= ?2 THEN 0 "
				"ELSE failed_logins + 1 END "
				"WHERE name = ?1 RETURNING failed_logins")) != NULL) {
		store_bind_text(st, 1, name);
		sqlite3_bind_int(st, 2, max);
		sqlite3_bind_int(st, 3, minutes);
		sqlite3_bind_int64(st, 4, now);
		switch (sqlite3_step(st)) {
		case SQLITE_ROW:
			fails = sqlite3_column_int64(st, 0);
			rc = sqlite3_step(st) == SQLITE_DONE ? STORE_OK : STORE_ERR;
			break;
		case SQLITE_DONE:
			rc = STORE_NOT_FOUND;
			break;
		default:
			break;
		}
		sqlite3_reset(st);
	}
	if (rc == STORE_OK && fails == 0)
		*locked_now = 1;
	return window_end(s, rc);
}

enum store_rc
store_window_signin(struct store *s, const struct window_signin *in)
{
	sqlite3_stmt *st;
	enum store_rc rc = STORE_ERR;

	if (window_begin(s) == -1)
		return STORE_ERR;
	if ((st = store_stmt(s, "UPDATE window_accounts SET failed_logins = 0, "
				"locked_until = NULL, last_login_at = ?2, "
				"pw_hash = coalesce(?3, pw_hash) WHERE name = ?1 AND NOT disabled "
				"AND coalesce(locked_until, 0) <= ?2")) == NULL)
		goto done;
	store_bind_text(st, 1, in->name);
	sqlite3_bind_int64(st, 2, in->now);
	store_bind_text(st, 3, in->rehash);
	if (store_done(s, st) == -1)
		goto done;
	if (changed(s) != 1) {
		/* disabled, or locked by guesses that ran beside this one, between the
		 * check of the account and now: the lock holds even for the right password */
		rc = STORE_NOT_FOUND;
		goto done;
	}
	/* the session the browser came with, if any, and every one long over, end */
	if ((st = store_stmt(s, "DELETE FROM window_sessions WHERE token_hash = ?1 "
				"OR expires_at <= ?2 OR last_seen_at <= ?2 - ?3")) == NULL)
		goto done;
	store_bind_text(st, 1, in->old_token_hash != NULL ? in->old_token_hash : "");
	sqlite3_bind_int64(st, 2, in->now);
	sqlite3_bind_int(st, 3, in->idle_seconds);
	if (store_done(s, st) == -1)
		goto done;
	if ((st = store_stmt(s, "INSERT INTO window_sessions (token_hash, name, expires_at, "
				"last_seen_at, remote) VALUES (?1, ?2, ?3, ?4, substr(?5, 1, 64))")) == NULL)
		goto done;
	store_bind_text(st, 1, in->token_hash);
	store_bind_text(st, 2, in->name);
	sqlite3_bind_int64(st, 3, in->expires_at);
	sqlite3_bind_int64(st, 4, in->now);
	store_bind_text(st, 5, in->remote);
	if (store_done(s, st) == 0)
		rc = STORE_OK;
done:
	return window_end(s, rc);
}

enum store_rc
store_window_session(struct store *s, const char *token_hash, time_t now, int idle_seconds,
    char name[WINDOW_NAME_SIZE])
{
	sqlite3_stmt *st;
	int step, stale = 0;

	if ((st = store_stmt(s, "SELECT w.name, w.last_seen_at < ?2 - 60 FROM window_sessions w "
				"JOIN window_accounts a ON a.name = w.name WHERE w.token_hash = ?1 "
				"AND w.expires_at > ?2 AND w.last_seen_at > ?2 - ?3 "
				"AND NOT a.disabled")) == NULL)
		return STORE_ERR;
	store_bind_text(st, 1, token_hash);
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_int(st, 3, idle_seconds);
	if ((step = sqlite3_step(st)) == SQLITE_ROW) {
		store_col_copy(name, WINDOW_NAME_SIZE, st, 0);
		stale = sqlite3_column_int(st, 1);
	}
	sqlite3_reset(st);
	if (step == SQLITE_DONE)
		return STORE_NOT_FOUND;
	if (step != SQLITE_ROW) {
		log_warnx("%s: %s", __func__, store_errmsg(s));
		return STORE_ERR;
	}
	/* the idle clock moves at most once a minute: one write a minute, not one a page */
	if (stale) {
		if (window_begin(s) == -1)
			return STORE_ERR;
		if ((st = store_stmt(s, "UPDATE window_sessions SET last_seen_at = ?2 "
					"WHERE token_hash = ?1")) == NULL)
			return window_end(s, STORE_ERR);
		store_bind_text(st, 1, token_hash);
		sqlite3_bind_int64(st, 2, now);
		if (window_end(s, store_done(s, st) == 0 ? STORE_OK : STORE_ERR) != STORE_OK)
			return STORE_ERR;
	}
	return STORE_OK;
}

enum store_rc
store_window_signout(struct store *s, const char *token_hash)
{
	sqlite3_stmt *st;
	enum store_rc rc = STORE_ERR;

	if (window_begin(s) == -1)
		return STORE_ERR;
	if ((st = store_stmt(s, "DELETE FROM window_sessions WHERE token_hash = ?1")) != NULL) {
		store_bind_text(st, 1, token_hash);
		if (store_done(s, st) == 0)
			rc = STORE_OK;
	}
	return window_end(s, rc);
}

/* ---- the window's pages ------------------------------------------------------------- */

enum {
	WC_CASE_NO, WC_KIND, WC_CATEGORY, WC_CHANNEL, WC_REGISTRAR, WC_SUBJECT, WC_NAME,
	WC_STATUS, WC_SUBMITTED, WC_DUE, WC_PROVISIONAL, WC_QUERY_CODE
};
#define CASE_COLS \
	"SELECT case_no, kind, category, channel, registrar, subject, name, status, " \
	"submitted_at, due_at, due_provisional, query_code FROM cases "

static void
case_read(sqlite3_stmt *st, struct window_case *c)
{
	memset(c, 0, sizeof(*c));
	c->case_no = (const char *)sqlite3_column_text(st, WC_CASE_NO);
	c->kind = (const char *)sqlite3_column_text(st, WC_KIND);
	c->category = (const char *)sqlite3_column_text(st, WC_CATEGORY);
	c->channel = (const char *)sqlite3_column_text(st, WC_CHANNEL);
	c->registrar = (const char *)sqlite3_column_text(st, WC_REGISTRAR);
	c->subject = (const char *)sqlite3_column_text(st, WC_SUBJECT);
	c->name = (const char *)sqlite3_column_text(st, WC_NAME);
	c->status = (const char *)sqlite3_column_text(st, WC_STATUS);
	c->submitted_at = sqlite3_column_int64(st, WC_SUBMITTED);
	c->due_at = sqlite3_column_int64(st, WC_DUE);
	c->due_provisional = sqlite3_column_int(st, WC_PROVISIONAL);
}

int
store_window_recent(struct store *s, int limit, int (*fn)(const struct window_case *, void *),
    void *arg)
{
	struct window_case c;
	sqlite3_stmt *st;
	int step, rc = 0;

	if (store_begin_read(s) == -1)
		return -1;
	if ((st = store_stmt(s, CASE_COLS "ORDER BY submitted_at DESC, case_no DESC "
				"LIMIT ?1")) == NULL) {
		store_commit(s);
		return -1;
	}
	sqlite3_bind_int(st, 1, limit);
	while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
		case_read(st, &c);
		rc = c.case_no == NULL || c.kind == NULL || c.subject == NULL ? -1 : fn(&c, arg);
	}
	if (rc == 0 && step != SQLITE_DONE) {
		log_warnx("%s: %s", __func__, store_errmsg(s));
		rc = -1;
	}
	sqlite3_reset(st);
	store_commit(s);
	return rc;
}

enum store_rc
store_window_receipt(struct store *s, const char *case_no,
    int (*fn)(const struct window_case *, const char *query_code, void *), void *arg)
{
	struct window_case c;
	sqlite3_stmt *st;
	enum store_rc rc = STORE_ERR;
	int step;

	/* a receipt whose code was replaced (SPEC 5.6) is gone: the new code goes by SMS only */
	if ((st = store_stmt(s, CASE_COLS "WHERE case_no = ?1 AND NOT EXISTS "
				"(SELECT 1 FROM code_resends r WHERE r.case_no = cases.case_no)")) == NULL)
		return STORE_ERR;
	store_bind_text(st, 1, case_no);
	if ((step = sqlite3_step(st)) == SQLITE_ROW) {
		case_read(st, &c);
		if (c.kind != NULL && c.subject != NULL)
			rc = fn(&c, (const char *)sqlite3_column_text(st, WC_QUERY_CODE), arg) == 0 ?
			    STORE_OK : STORE_ERR;
	} else if (step == SQLITE_DONE)
		rc = STORE_NOT_FOUND;
	sqlite3_reset(st);
	if (rc == STORE_ERR)
		log_warnx("%s: %s", __func__, store_errmsg(s));
	return rc;
}
