/*
 * The staff console's one connection per worker to the county database, and the two ways
 * it is used: db_select (all rows as text) and db_exec. Every statement is prepared with
 * bound parameters. A connection that was lost is closed and made again on the next call;
 * a read outside a transaction is retried once on the new connection, a write never is
 * (it may have committed before the answer was lost).
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

static int
db_lost(unsigned int err)
{
	/* over TLS, a server that went away is CR_SSL_CONNECTION_ERROR ("unexpected eof") */
	return err == CR_SERVER_GONE_ERROR || err == CR_SERVER_LOST ||
	    err == CR_CONNECTION_ERROR || err == CR_CONN_HOST_ERROR ||
	    err == CR_SSL_CONNECTION_ERROR || err == 1927 ||
	    err == 4031;	/* ER_CONNECTION_KILLED, client killed for being idle */
}

void
db_close(void)
{
	if (db != NULL)
		mysql_close(db);
	db = NULL;
	db_in_tx = 0;
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

static int
bind_params(MYSQL_STMT *st, const struct dbparam *p, size_t n, MYSQL_BIND *b,
    unsigned long *lens)
{
	size_t i;

	memset(b, 0, n * sizeof(*b));
	for (i = 0; i < n; i++) {
		if (p[i].is_int) {
			b[i].buffer_type = MYSQL_TYPE_LONGLONG;
			b[i].buffer = (void *)&p[i].i;
		} else if (p[i].s == NULL) {
			b[i].buffer_type = MYSQL_TYPE_NULL;
		} else {
			lens[i] = strlen(p[i].s);
			b[i].buffer_type = MYSQL_TYPE_STRING;
			b[i].buffer = (void *)p[i].s;
			b[i].buffer_length = lens[i];
			b[i].length = &lens[i];
		}
	}
	return n > 0 ? (mysql_stmt_bind_param(st, b) == 0 ? 0 : -1) : 0;
}

/* Prepares and executes; the statement, or NULL with *err set to the error number. */
static MYSQL_STMT *
db_run(const char *sql, const struct dbparam *p, size_t n, unsigned int *err)
{
	MYSQL_BIND b[32];
	unsigned long lens[32];
	MYSQL_STMT *st;

	*err = 0;
	if (n > 32) {
		log_warnx("%s: too many parameters", __func__);
		return NULL;
	}
	if (db_ready() == -1) {
		*err = CR_CONNECTION_ERROR;
		return NULL;
	}
	if ((st = mysql_stmt_init(db)) == NULL) {
		*err = mysql_errno(db);
		return NULL;
	}
	if (mysql_stmt_prepare(st, sql, (unsigned long)strlen(sql)) != 0 ||
	    bind_params(st, p, n, b, lens) == -1 || mysql_stmt_execute(st) != 0) {
		*err = mysql_stmt_errno(st);
		log_warnx("db: %s: %.80s", mysql_stmt_error(st), sql);
		mysql_stmt_close(st);
		return NULL;
	}
	return st;
}

/* After a failed statement: drops a lost connection; 1 when the caller may retry. */
static int
db_failed(unsigned int err)
{
	if (!db_lost(err))
		return 0;
	db_close();
	return 1;
}

static int
db_fetch_all(MYSQL_STMT *st, struct dbrows *out, size_t max_rows)
{
	MYSQL_RES *meta;
	MYSQL_BIND *b = NULL;
	unsigned long *lens = NULL;
	my_bool *nulls = NULL, *errs = NULL;
	char **bufs = NULL;
	size_t ncols, cap = 0, i;
	int rc = -1, f;

	if ((meta = mysql_stmt_result_metadata(st)) == NULL) {
		log_warnx("%s: not a query", __func__);
		return -1;
	}
	ncols = mysql_num_fields(meta);
	mysql_free_result(meta);
	out->ncols = ncols;
	b = calloc(ncols, sizeof(*b));
	lens = calloc(ncols, sizeof(*lens));
	nulls = calloc(ncols, sizeof(*nulls));
	errs = calloc(ncols, sizeof(*errs));
	bufs = calloc(ncols, sizeof(*bufs));
	if (b == NULL || lens == NULL || nulls == NULL || errs == NULL || bufs == NULL)
		goto out;
	for (i = 0; i < ncols; i++) {
		if ((bufs[i] = malloc(256)) == NULL)
			goto out;
		b[i].buffer_type = MYSQL_TYPE_STRING;
		b[i].buffer = bufs[i];
		b[i].buffer_length = 256;
		b[i].length = &lens[i];
		b[i].is_null = &nulls[i];
		b[i].error = &errs[i];
	}
	if (mysql_stmt_bind_result(st, b) != 0 || mysql_stmt_store_result(st) != 0) {
		log_warnx("%s: %s", __func__, mysql_stmt_error(st));
		goto out;
	}
	while ((f = mysql_stmt_fetch(st)) == 0 || f == MYSQL_DATA_TRUNCATED) {
		char **row;

		if (out->nrows >= max_rows)
			continue;	/* read the rest off the connection */
		if (out->nrows == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			char **p = realloc(out->cell, ncap * ncols * sizeof(*p));

			if (p == NULL)
				goto out;
			out->cell = p;
			cap = ncap;
		}
		row = out->cell + out->nrows * ncols;
		memset(row, 0, ncols * sizeof(*row));
		out->nrows++;
		for (i = 0; i < ncols; i++) {
			if (nulls[i])
				continue;
			if ((row[i] = malloc(lens[i] + 1)) == NULL)
				goto out;
			if (lens[i] <= 256) {
				memcpy(row[i], bufs[i], lens[i]);
			} else {
				/* a long value: fetch it whole into its own cell */
				MYSQL_BIND one;
				unsigned long got = 0;

				memset(&one, 0, sizeof(one));
				one.buffer_type = MYSQL_TYPE_STRING;
				one.buffer = row[i];
				one.buffer_length = lens[i] + 1;
				one.length = &got;
				if (mysql_stmt_fetch_column(st, &one, (unsigned int)i, 0) != 0) {
					log_warnx("%s: %s", __func__, mysql_stmt_error(st));
					goto out;
				}
			}
			row[i][lens[i]] = '\0';
		}
	}
	if (f != MYSQL_NO_DATA) {
		log_warnx("%s: %s", __func__, mysql_stmt_error(st));
		goto out;
	}
	rc = 0;
out:
	if (bufs != NULL)
		for (i = 0; i < ncols; i++)
			free(bufs[i]);
	free(bufs);
	free(b);
	free(lens);
	free(nulls);
	free(errs);
	if (rc == -1)
		dbrows_free(out);
	return rc;
}

int
db_select(const char *sql, const struct dbparam *p, size_t n, struct dbrows *out,
    size_t max_rows)
{
	MYSQL_STMT *st;
	unsigned int err;
	int attempt, rc;

	memset(out, 0, sizeof(*out));
	for (attempt = 0; attempt < 2; attempt++) {
		if ((st = db_run(sql, p, n, &err)) != NULL)
			break;
		if (!db_failed(err) || db_in_tx)
			return -1;
	}
	if (st == NULL)
		return -1;
	rc = db_fetch_all(st, out, max_rows);
	err = rc == -1 ? mysql_stmt_errno(st) : 0;
	mysql_stmt_close(st);
	if (rc == -1)
		db_failed(err);
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
	if (db_ready() == -1)
		return -1;
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
	if (db == NULL)
		return -1;
	db_in_tx = 0;
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

void
db_idle(void)
{
	if (db_in_tx) {
		log_warnx("%s: a transaction was left open; rolled back", __func__);
		db_rollback();
	}
}

const char *
db_val(const struct dbrows *r, size_t row, size_t col)
{
	if (r == NULL || row >= r->nrows || col >= r->ncols)
		return NULL;
	return r->cell[row * r->ncols + col];
}

const char *
db_str(const struct dbrows *r, size_t row, size_t col)
{
	const char *v = db_val(r, row, col);

	return v == NULL ? "" : v;
}

long long
db_int(const struct dbrows *r, size_t row, size_t col)
{
	const char *v = db_val(r, row, col);

	return v == NULL ? 0 : strtoll(v, NULL, 10);
}

void
dbrows_free(struct dbrows *r)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; r->cell != NULL && i < r->nrows * r->ncols; i++)
		free(r->cell[i]);
	free(r->cell);
	memset(r, 0, sizeof(*r));
}
