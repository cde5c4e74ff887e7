/*
 * The staff console's one connection per worker to the county database, and the two ways
 * it is used: db_select (all rows as text) and db_exec. Every statement is prepared with
 * bound parameters. A connection that was lost is closed and made again on the next call;
 * a read outside a transaction is retried once on the new connection, a write never is
 * (it may have committed before the answer was lost). Nor is any statement of a
 * transaction whose connection was lost: the server (a Galera node killed, say) took the
 * transaction and its locks with it, and a new connection to another node would run the
 * rest autocommitted, statement by statement, the case no longer locked; so the caller
 * rolls back and answers 503, and the staff member's resubmission (the same seq) runs the
 * action whole on a node that answers. A transaction that lost a conflict (1213: a
 * deadlock, or a Galera certification conflict) was rolled back whole by the server, so
 * its caller runs it again from the start (db_conflict_again).
 */
#include <errno.h>
#include <errmsg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "county.h"
#include "staff.h"

static MYSQL *db;		/* this worker's connection; NULL while there is none */
static char *db_password;	/* read once, on the first connection */
static int db_in_tx;
static unsigned int db_last_err;	/* the server's error of the last call that failed */

/* ER_LOCK_DEADLOCK: InnoDB's deadlock, and how Galera reports a certification conflict */
#define ER_LOCK_DEADLOCK_NO 1213u
/* a transaction that lost a conflict, run again at most this many times */
#define DB_CONFLICT_RETRIES 4u

static int
db_lost(unsigned int err)
{
	return county_conn_lost(err);
}

/*
 * db_in_tx stays as it is: a transaction whose connection is gone is still its caller's
 * until db_rollback (or db_commit, which fails) ends it, so that db_select and db_run do
 * not reconnect under it (see the comment at the top).
 */
void
db_close(void)
{
	if (db != NULL)
		mysql_close(db);
	db = NULL;
}

void
db_conn_opts(struct county_conn_opts *o, const char *user, const char *password)
{
	memset(o, 0, sizeof(*o));
	o->host = staff_conf.host;
	o->socket = staff_conf.db_socket;
	o->port = (unsigned)staff_conf.port;
	o->user = user;
	o->password = password;
	o->database = staff_conf.database;
	o->tls = staff_conf.tls;
	o->tls_ca = staff_conf.tls_ca;
	o->connect_timeout = (unsigned)staff_conf.connect_timeout;
	o->read_timeout = (unsigned)staff_conf.read_timeout;
	o->write_timeout = (unsigned)staff_conf.write_timeout;
}

int
db_ready(void)
{
	struct county_conn_opts o;
	char err[512];

	if (db != NULL)
		return 0;
	if (db_password == NULL && (db_password = secret_read(staff_conf.password_file)) == NULL)
		return -1;
	db_conn_opts(&o, staff_conf.user, db_password);
	if ((db = county_connect(&o, err, sizeof(err))) == NULL) {
		log_warnx("%s: cannot connect to the county database: %s", __func__, err);
		return -1;
	}
	/* county_connect leaves autocommit off for the agent's batches; a page's reads must
	 * each see the latest commits, so only the actions open transactions */
	if (mysql_autocommit(db, 1) != 0) {
		log_warnx("%s: %s", __func__, mysql_error(db));
		db_close();
		return -1;
	}
	return 0;
}

/* The connection itself, for a library that writes within db_begin/db_commit. */
MYSQL *
db_handle(void)
{
	return db;
}

/* Prepares and executes; the statement, or NULL with *err set to the error number. */
static MYSQL_STMT *
db_run(const char *sql, const struct dbparam *p, size_t n, unsigned int *err)
{
	/* the connection of an open transaction was lost: no new one until it is rolled back */
	if (db == NULL && db_in_tx) {
		*err = CR_SERVER_LOST;
		return NULL;
	}
	if (db_ready() == -1) {
		*err = CR_CONNECTION_ERROR;
		return NULL;
	}
	return county_stmt_run(db, sql, p, n, err);
}

/* After a failed statement: drops a lost connection; 1 when the caller may retry. */
static int
db_failed(unsigned int err)
{
	db_last_err = err;
	if (!db_lost(err))
		return 0;
	db_close();
	return 1;
}

/* the error of the last db_select that failed (a statement's time limit, say) */
static unsigned int db_select_err;

unsigned int
db_select_error(void)
{
	return db_select_err;
}

int
db_select(const char *sql, const struct dbparam *p, size_t n, struct dbrows *out,
    size_t max_rows)
{
	MYSQL_STMT *st;
	unsigned int err = 0;
	int attempt, rc;

	memset(out, 0, sizeof(*out));
	db_select_err = 0;
	for (attempt = 0; attempt < 2; attempt++) {
		if ((st = db_run(sql, p, n, &err)) != NULL)
			break;
		if (!db_failed(err) || db_in_tx) {
			db_select_err = db_last_err = err;
			return -1;
		}
	}
	if (st == NULL) {
		db_select_err = db_last_err = err;
		return -1;
	}
	rc = county_fetch_all(st, out, max_rows);
	err = rc == -1 ? mysql_stmt_errno(st) : 0;
	mysql_stmt_close(st);
	if (rc == -1) {
		db_select_err = err;
		db_failed(err);
	}
	return rc;
}

long long
db_exec(const char *sql, const struct dbparam *p, size_t n, unsigned long long *insert_id)
{
	MYSQL_STMT *st;
	unsigned int err;
	long long changed;

	if ((st = db_run(sql, p, n, &err)) == NULL) {
		db_failed(err);
		return -1;
	}
	changed = (long long)mysql_stmt_affected_rows(st);
	if (insert_id != NULL)
		*insert_id = mysql_stmt_insert_id(st);
	mysql_stmt_close(st);
	return changed;
}

int
db_begin(void)
{
	db_last_err = 0;
	if (db_ready() == -1) {
		db_last_err = CR_CONNECTION_ERROR;
		return -1;
	}
	if (mysql_query(db, "START TRANSACTION") != 0) {
		log_warnx("%s: %s", __func__, mysql_error(db));
		db_failed(mysql_errno(db));
		return -1;
	}
	db_in_tx = 1;
	return 0;
}

int
db_commit(void)
{
	db_in_tx = 0;
	if (db == NULL)
		return -1;
	if (mysql_commit(db) != 0) {
		log_warnx("%s: %s", __func__, mysql_error(db));
		db_failed(mysql_errno(db));
		return -1;
	}
	return 0;
}

void
db_rollback(void)
{
	db_in_tx = 0;
	if (db != NULL && mysql_rollback(db) != 0)
		db_failed(mysql_errno(db));
}

int
db_conflict_again(unsigned *tries)
{
	if (db_last_err != ER_LOCK_DEADLOCK_NO || *tries >= DB_CONFLICT_RETRIES)
		return 0;
	++*tries;
	log_info("a transaction lost a conflict (a Galera certification conflict or a "
		 "deadlock): run again (%u)", *tries);
	db_last_err = 0;
	return 1;
}

void
db_idle(void)
{
	if (db_in_tx) {
		log_warnx("%s: a transaction was left open; rolled back", __func__);
		db_rollback();
	}
}
