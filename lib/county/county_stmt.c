/*
 * Statements on a county connection, as every county program runs them: prepared, with
 * bound parameters (text or integers), and their rows read whole as text. No SQL is built
 * from strings, but for the agent's few multi-statements, whose values the connector
 * escapes (county_multi.c).
 */
#include <errmsg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "county.h"

int
county_conn_lost(unsigned int err)
{
	/* over TLS, a server that went away is CR_SSL_CONNECTION_ERROR ("unexpected eof") */
	return err == CR_SERVER_GONE_ERROR || err == CR_SERVER_LOST ||
	    err == CR_CONNECTION_ERROR || err == CR_CONN_HOST_ERROR ||
	    err == CR_SSL_CONNECTION_ERROR || err == 1927 ||
	    err == 4031;	/* ER_CONNECTION_KILLED, client killed for being idle */
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

MYSQL_STMT *
county_stmt_run(MYSQL *db, const char *sql, const struct dbparam *p, size_t n,
    unsigned int *err)
{
	/* 64: the staff inbox's statements take up to 40 (fcgi/staff/inbox.c) */
	MYSQL_BIND b[64];
	unsigned long lens[64];
	MYSQL_STMT *st;

	*err = 0;
	if (n > 64) {
		log_warnx("%s: too many parameters", __func__);
		return NULL;
	}
	if ((st = mysql_stmt_init(db)) == NULL) {
		*err = mysql_errno(db);
		return NULL;
	}
	if (mysql_stmt_prepare(st, sql, (unsigned long)strlen(sql)) != 0 ||
	    bind_params(st, p, n, b, lens) == -1 || mysql_stmt_execute(st) != 0) {
		*err = mysql_stmt_errno(st);
		log_warnx("county: %s: %.80s", mysql_stmt_error(st), sql);
		mysql_stmt_close(st);
		return NULL;
	}
	return st;
}

int
county_fetch_all(MYSQL_STMT *st, struct dbrows *out, size_t max_rows)
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
county_select(MYSQL *db, const char *sql, const struct dbparam *p, size_t n,
    struct dbrows *out, size_t max_rows, unsigned int *err)
{
	MYSQL_STMT *st;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((st = county_stmt_run(db, sql, p, n, err)) == NULL)
		return -1;
	rc = county_fetch_all(st, out, max_rows);
	*err = rc == -1 ? mysql_stmt_errno(st) : 0;
	mysql_stmt_close(st);
	return rc;
}

long long
county_exec(MYSQL *db, const char *sql, const struct dbparam *p, size_t n,
    unsigned long long *insert_id, unsigned int *err)
{
	MYSQL_STMT *st;
	long long changed;

	if ((st = county_stmt_run(db, sql, p, n, err)) == NULL)
		return -1;
	changed = (long long)mysql_stmt_affected_rows(st);
	if (insert_id != NULL)
		*insert_id = mysql_stmt_insert_id(st);
	mysql_stmt_close(st);
	return changed;
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
