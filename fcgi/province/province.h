/*
 * province-receiver, the reference province platform (SPEC 5.3): its internal interfaces.
 * Prototypes are grouped under the file that defines them. Nothing here knows FastCGI, so
 * the parsers can be driven by tests and fuzzers (tests/fuzz/fuzz_ndjson.c) directly.
 */
#ifndef PROVINCE_H
#define PROVINCE_H

#include <stddef.h>

#include <jansson.h>
#include <sqlite3.h>

#include "core.h"

/* ---- fcgi/province/ingest.c --------------------------------------------------------- */
#define INGEST_MAX_WIRE (16u << 20)	/* a request's body as sent (gzip) */
#define INGEST_MAX_PLAIN (64u << 20)	/* once inflated: a cap against decompression bombs */
#define INGEST_MAX_LINES 20000		/* records per request */
#define INGEST_MAX_LINE_DEFAULT 65536u	/* [receiver] max_line unless the INI says otherwise */
#define INGEST_MAX_LINE_MIN 64u
#define INGEST_MAX_LINE_MAX (16u << 20)
#define INGEST_ID_MAX 64		/* bytes of an id */

/* Why a whole request is refused (every record of it is answered by one HTTP error). */
enum ingest_err {
	INGEST_OK,
	INGEST_NOMEM,
	INGEST_ENCODING,	/* a Content-Encoding other than gzip or identity */
	INGEST_BAD_GZIP,	/* not valid gzip, or cut short */
	INGEST_TOO_LARGE,	/* over INGEST_MAX_WIRE sent or INGEST_MAX_PLAIN inflated */
	INGEST_TOO_MANY,	/* over INGEST_MAX_LINES records */
	INGEST_LONG_LINE,	/* a line over max_line whose id cannot be read */
};
int ingest_http_status(enum ingest_err);
const char *ingest_code(enum ingest_err);	/* the JSON error's "code" */
const char *ingest_strerror(enum ingest_err);

/*
 * Inflates a body as its Content-Encoding says ("", "identity" or "gzip", RFC 9110 8.4;
 * gzip is RFC 1952) into out, which this initialises with the INGEST_MAX_PLAIN cap. The
 * caller frees out whatever the result; out->data is never NULL on INGEST_OK.
 */
enum ingest_err ingest_inflate(const char *encoding, const void *wire, size_t len,
    struct buf *out);

/* One line of the NDJSON body (https://github.com/ndjson/ndjson-spec), checked. */
struct ingest_rec {
	const char *line;	/* into the body, not NUL-terminated; len bytes, no newline */
	size_t len;
	size_t lineno;		/* 1-based, counting blank lines */
	json_t *o;		/* owned (ingest_rec_free); NULL: not parsed (over max_line, bad) */
	char id[INGEST_ID_MAX + 1];	/* "" when the line has no readable id */
	/* into o, or NULL when absent or not a string of the right size */
	const char *type, *hall_code, *case_no, *at;
	const char *why;	/* NULL: a record to store; else why it is refused on its merits */
	char why_buf[128];	/* where why points when it carries figures */
};
struct ingest_lines {
	const char *p, *end;
	size_t max_line, lineno, records;
};
void ingest_lines_init(struct ingest_lines *, const char *body, size_t len, size_t max_line);
/*
 * The next non-blank line as a checked record: 1 (rec filled; free it with ingest_rec_free),
 * 0 at the end, -1 when the whole request must be refused (*err set, and for
 * INGEST_LONG_LINE rec->lineno and rec->len say which line).
 */
int ingest_next(struct ingest_lines *, struct ingest_rec *, enum ingest_err *err);
void ingest_rec_free(struct ingest_rec *);
/*
 * The value of the top-level "id" member of a JSON object, read without building the object
 * (for lines too long to parse): 0 with out set when it is a plain string of 1 to
 * INGEST_ID_MAX printable ASCII bytes without escapes, -1 otherwise.
 */
int ingest_line_id(const char *line, size_t n, char out[INGEST_ID_MAX + 1]);

/* ---- fcgi/province/halls.c ---------------------------------------------------------- */
/*
 * One token per hall: the store keeps sha256(token) beside the hall_code it belongs to, so
 * the store never holds a token that could be replayed, and a request's bearer token names
 * exactly one hall.
 */
#define HALLS_TOKEN_MIN 16	/* bytes: the demo's are 24 */
/* Registers (or replaces) hall_code's token read from token_file: 0, or -1 having said why
 * on stderr. */
int halls_add(sqlite3 *, const char *hall_code, const char *token_file);
/* Forgets a hall's token: 1 done, 0 no such hall, -1 the store failed. */
int halls_remove(sqlite3 *, const char *hall_code);
/* The hall whose token is the bearer of an Authorization header value ("Bearer <token>",
 * RFC 6750 2.1): 1 with hall_code (13 bytes) set, 0 unknown or malformed, -1 the store
 * failed. */
int halls_by_bearer(sqlite3 *, const char *authorization, char hall_code[13]);
/* 1 when s is a hall code: 12 ASCII digits. */
int halls_code_valid(const char *s);

/* ---- fcgi/province/retention.c ------------------------------------------------------ */
#define RETENTION_DAYS_DEFAULT 10950	/* 30 years (SPEC 11: the archive rules) */
#define RETENTION_EVERY_S 86400		/* the job runs daily */
/*
 * Deletes every case whose last record arrived more than days ago (all its records), and
 * conflicts older than that; the numbers deleted go to *records and *cases. 0 or -1.
 */
int retention_purge(sqlite3 *, int days, long long *records, long long *cases);
/*
 * Runs retention_purge when the last run (kept in the store) is a day old or more, so that
 * with several workers it still runs once a day: 1 ran, 0 not due, -1 failed.
 */
int retention_due(sqlite3 *, int days);
/* Starts the thread that calls retention_due at start and hourly, on a connection of its
 * own to store_path; it never stops (the worker's exit ends it). 0 or -1. */
int retention_start(const char *store_path, int days);

#endif
