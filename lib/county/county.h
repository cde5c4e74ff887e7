/*
 * The county database (MariaDB) as every county-side program reaches it: the agent, the
 * staff console and county-admin. Prototypes are grouped under the file that defines them.
 */
#ifndef HALL_COUNTY_H
#define HALL_COUNTY_H

#include <mysql.h>

#include "core.h"

/* ---- lib/county/county_conn.c ------------------------------------------------------- */
struct county_conn_opts {
	const char *host, *socket, *user, *password, *database, *tls_ca;
	unsigned int port;
	unsigned int connect_timeout, read_timeout, write_timeout;	/* seconds */
	int tls;		/* 1: TLS required and the server's certificate verified */
	int multi_statements;	/* county-admin's migrations, the agent's downlink */
	int nonblock;		/* MYSQL_OPT_NONBLOCK: the _start/_cont calls may be used too */
};
/*
 * Connects with every timeout set (Connector/C's defaults wait forever), protocol
 * compression on, MYSQL_OPT_RECONNECT off (a silent reconnect drops a transaction),
 * autocommit off, utf8mb4 and the +08:00 session time zone. NULL on failure, with the
 * reason in err.
 */
MYSQL *county_connect(const struct county_conn_opts *, char *err, size_t errlen);

/* ---- lib/county/county_multi.c ----------------------------------------------------- */
/* Appends len bytes of text to q as an SQL string literal, escaped for db. */
void county_sql_string(struct buf *q, MYSQL *db, const char *text, size_t len);
/*
 * Runs sql, statements separated by ';', and reads every statement's answer, in one round
 * trip. The result set of statement `keep` (from 0; -1: none) is left in *res for the
 * caller to free, NULL when it had none or did not run. -1 when every statement ran;
 * otherwise the index of the one that failed, where the server stopped (mysql_errno and
 * mysql_error say why).
 */
int county_multi(MYSQL *, const char *sql, size_t len, int keep, MYSQL_RES **res);

/* ---- lib/county/county_stmt.c ------------------------------------------------------ */
/* A statement parameter: text (NULL is SQL NULL) or an integer. */
struct dbparam {
	int is_int;
	const char *s;
	long long i;
};
#define DBS(x) ((struct dbparam){0, (x), 0})
#define DBI(x) ((struct dbparam){1, NULL, (long long)(x)})
/* A result: every value as text (numbers in decimal), NULL for SQL NULL. Owns its cells. */
struct dbrows {
	size_t nrows, ncols;
	char **cell;
};
/* 1 when the error means the connection is gone (close it, connect again). */
int county_conn_lost(unsigned int err);
/* Prepares and executes; the statement, or NULL with *err set (logged). */
MYSQL_STMT *county_stmt_run(MYSQL *, const char *sql, const struct dbparam *, size_t n,
    unsigned int *err);
/* Every row of an executed statement as text, at most max_rows kept; 0 or -1. */
int county_fetch_all(MYSQL_STMT *, struct dbrows *, size_t max_rows);
/* A SELECT's rows (out is empty on -1, *err the error number). */
int county_select(MYSQL *, const char *sql, const struct dbparam *, size_t n,
    struct dbrows *out, size_t max_rows, unsigned int *err);
/* A write: the rows it changed, or -1 with *err. *insert_id may be NULL. */
long long county_exec(MYSQL *, const char *sql, const struct dbparam *, size_t n,
    unsigned long long *insert_id, unsigned int *err);
/* The value at (row, col): NULL for SQL NULL or out of range. */
const char *db_val(const struct dbrows *, size_t row, size_t col);
/* "" for NULL. */
const char *db_str(const struct dbrows *, size_t row, size_t col);
long long db_int(const struct dbrows *, size_t row, size_t col);
void dbrows_free(struct dbrows *);

/* ---- lib/county/calendar_days.c ----------------------------------------------------- */
/*
 * A working-day calendar published at the county: the text in calendars(year, body) and
 * every day of the year, as calendar_parse decides it, in calendar_days (sql/county/008),
 * which the county's SQL only looks up. Both run in the caller's transaction: the caller
 * commits on COUNTY_CAL_STORED or KEPT and rolls back otherwise.
 */
enum county_cal_mode {
	COUNTY_CAL_REPLACE,	/* the console: the text replaces the year's */
	COUNTY_CAL_KEEP		/* the shipped tables: only for a year not yet published */
};
enum county_cal_result {
	COUNTY_CAL_REFUSED = -2,	/* not a calendar of that year alone; err says why */
	COUNTY_CAL_FAILED = -1,		/* the database's error, in err */
	COUNTY_CAL_KEPT = 0,		/* KEEP, and the year was published: left as it was */
	COUNTY_CAL_STORED = 1
};
/* Parses text (which must declare year and no other), then writes the row and the days. */
int county_calendar_publish(MYSQL *, int year, const char *text, enum county_cal_mode,
    char *err, size_t errlen);
/* The days only, of a text already in calendars (years published before calendar_days). */
int county_calendar_days(MYSQL *, int year, const char *text, char *err, size_t errlen);

#endif
