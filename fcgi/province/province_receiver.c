/*
 * province-receiver: the reference receiver of the province platform's interface (SPEC 5.3),
 * for tests and for province integrators. A FastCGI program behind nginx.
 *
 *   POST /v1/records    Content-Type: application/x-ndjson, Content-Encoding: gzip (or none),
 *                       Authorization: Bearer <token>; one JSON record per line with id,
 *                       type, hall_code, case_no, at. Answers 200 {"results":[{"id",
 *                       "result":"accepted"|"duplicate"|"rejected","reason"?}...]} once
 *                       every accepted record is durable.
 *   POST /v1/reconcile  {"ids":[...]} -> {"held":{"<id>":"<sha256 of the record as held>"}}
 *   GET  /v1/health     {"status":"ok","records":N}
 *
 * Records are deduplicated by id: the same id with the same bytes is a duplicate (success);
 * with other bytes it is rejected as a conflict, and the attempt is kept in `conflicts`.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <ini.h>
#include <jansson.h>
#include <sodium.h>
#include <sqlite3.h>
#include <zlib.h>

#include "web.h"

#define MAX_WIRE (16u << 20)	/* compressed body */
#define MAX_PLAIN (64u << 20)	/* after gunzip: a cap against decompression bombs */
#define MAX_LINES 20000
#define MAX_IDS 20000

static struct {
	char *socket, *store_path, *token_file;
	int workers;
	char token[256];
	sqlite3 *db;
} rx;

static const char schema[] =
    "PRAGMA journal_mode = WAL;"
    "CREATE TABLE IF NOT EXISTS records ("
    " id TEXT PRIMARY KEY, sha256 TEXT NOT NULL, type TEXT NOT NULL, hall_code TEXT NOT NULL,"
    " case_no TEXT NOT NULL, at TEXT NOT NULL, payload TEXT NOT NULL,"
    " received_at INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS conflicts ("
    " seq INTEGER PRIMARY KEY, id TEXT NOT NULL, held_sha256 TEXT NOT NULL,"
    " sent_sha256 TEXT NOT NULL, payload TEXT NOT NULL, at INTEGER NOT NULL);";

/* ---- responses ------------------------------------------------------------------- */

static void
reply(FCGX_Request *fr, int status, const struct buf *b)
{
	char head[256];
	int n;

	n = snprintf(head, sizeof(head),
	    "Status: %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
	    "Cache-Control: no-store\r\n\r\n",
	    status, http_reason(status), b->failed ? 0 : b->len);
	FCGX_PutStr(head, n, fr->out);
	if (!b->failed && b->len > 0)
		FCGX_PutStr(b->data, (int)b->len, fr->out);
}

static void
fail(FCGX_Request *fr, int status, const char *code, const char *message)
{
	struct buf b;

	buf_init(&b, 4096);
	json_error(&b, code, message, NULL);
	reply(fr, status, &b);
	buf_free(&b);
}

/* ---- request bodies ---------------------------------------------------------------- */

static const char *
param(FCGX_Request *fr, const char *name)
{
	const char *v = FCGX_GetParam(name, fr->envp);

	return v == NULL ? "" : v;
}

static int
authorized(FCGX_Request *fr)
{
	const char *h = param(fr, "HTTP_AUTHORIZATION");
	size_t n = strlen(rx.token);

	if (n == 0 || strlen(h) != n + 7 || strncasecmp(h, "Bearer ", 7) != 0)
		return 0;
	return sodium_memcmp(h + 7, rx.token, n) == 0;
}

/* Reads the body (at most MAX_WIRE) and gunzips it when it says so (at most MAX_PLAIN). */
static int
read_body(FCGX_Request *fr, struct buf *out)
{
	unsigned long len = strtoul(param(fr, "CONTENT_LENGTH"), NULL, 10);
	const char *enc = param(fr, "HTTP_CONTENT_ENCODING");
	char *wire;
	z_stream z;
	int zr;

	if (len > MAX_WIRE) {
		fail(fr, 413, "too_large", "body over 16 MiB");
		return -1;
	}
	if ((wire = malloc(len + 1)) == NULL ||
	    FCGX_GetStr(wire, (int)len, fr->in) != (int)len) {
		free(wire);
		fail(fr, 400, "short_body", "the body is shorter than Content-Length");
		return -1;
	}
	buf_init(out, MAX_PLAIN);
	if (*enc == '\0' || strcasecmp(enc, "identity") == 0) {
		buf_add(out, wire, len);
		free(wire);
		return out->failed ? -1 : 0;
	}
	if (strcasecmp(enc, "gzip") != 0) {
		free(wire);
		fail(fr, 415, "unsupported_encoding", "Content-Encoding must be gzip");
		return -1;
	}
	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, 15 + 16) != Z_OK) {
		free(wire);
		fail(fr, 500, "zlib", "cannot inflate");
		return -1;
	}
	z.next_in = (unsigned char *)wire;
	z.avail_in = (unsigned)len;
	do {
		unsigned char chunk[65536];

		z.next_out = chunk;
		z.avail_out = sizeof(chunk);
		zr = inflate(&z, Z_NO_FLUSH);
		if (zr != Z_OK && zr != Z_STREAM_END)
			break;
		if (buf_add(out, chunk, sizeof(chunk) - z.avail_out) == -1)
			break;
	} while (zr != Z_STREAM_END);
	inflateEnd(&z);
	free(wire);
	if (zr != Z_STREAM_END) {
		fail(fr, out->failed ? 413 : 400, out->failed ? "too_large" : "bad_gzip",
		    out->failed ? "more than 64 MiB once inflated" : "the body is not valid gzip");
		buf_free(out);
		return -1;
	}
	if (out->data == NULL)
		buf_add(out, "", 0);
	return 0;
}

/* ---- POST /v1/records ------------------------------------------------------------ */

static void
sha256_hex(char out[65], const char *p, size_t n)
{
	unsigned char h[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(h, (const unsigned char *)p, n);
	sodium_bin2hex(out, 65, h, sizeof(h));
}

static const char *
str_field(json_t *o, const char *name, size_t max)
{
	json_t *v = json_object_get(o, name);

	if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > max)
		return NULL;
	return json_string_value(v);
}

/* One line: its result is appended to out. -1 only when the store fails. */
static int
take_record(const char *line, size_t n, struct buf *out, int first)
{
	static const char *const types[] = {"case", "event", "rating"};
	const char *id, *type, *hall, *case_no, *at, *why = NULL, *result = "accepted";
	char sha[65], held[65] = "";
	sqlite3_stmt *st = NULL;
	json_error_t jerr;
	json_t *o;
	size_t i;
	int known = 0, rc = 0;

	o = json_loadb(line, n, JSON_REJECT_DUPLICATES, &jerr);
	if (o == NULL || !json_is_object(o) || (id = str_field(o, "id", 64)) == NULL) {
		/* without an id there is nothing to answer per record: say which line */
		buf_printf(out, "%s{\"id\":null,\"result\":\"rejected\",\"reason\":\"not a JSON "
				"record with an id\"}", first ? "" : ",");
		json_decref(o);
		return 0;
	}
	type = str_field(o, "type", 16);
	hall = str_field(o, "hall_code", 12);
	case_no = str_field(o, "case_no", 32);
	at = str_field(o, "at", 40);
	for (i = 0; type != NULL && i < 3; i++)
		known |= strcmp(type, types[i]) == 0;
	if (!known)
		why = "type must be case, event or rating";
	else if (hall == NULL || strlen(hall) != 12 || strspn(hall, "0123456789") != 12)
		why = "hall_code must be 12 digits";
	else if (case_no == NULL || at == NULL)
		why = "case_no and at are required";
	if (why != NULL) {
		result = "rejected";
		goto answer;
	}
	sha256_hex(sha, line, n);
	if (sqlite3_prepare_v2(rx.db, "SELECT sha256 FROM records WHERE id = ?1", -1, &st, NULL) !=
	    SQLITE_OK)
		goto store_fail;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		snprintf(held, sizeof(held), "%s", sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	st = NULL;
	if (held[0] != '\0' && strcmp(held, sha) == 0) {
		result = "duplicate";
		goto answer;
	}
	if (held[0] != '\0') {
		result = "rejected";
		why = "conflict: the platform holds this id with other content";
		if (sqlite3_prepare_v2(rx.db,
			"INSERT INTO conflicts (id, held_sha256, sent_sha256, payload, at) "
			"VALUES (?1, ?2, ?3, ?4, strftime('%s','now'))", -1, &st, NULL) != SQLITE_OK)
			goto store_fail;
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, held, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, sha, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, line, (int)n, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE)
			goto store_fail;
		goto answer;
	}
	if (sqlite3_prepare_v2(rx.db,
		"INSERT INTO records (id, sha256, type, hall_code, case_no, at, payload, received_at) "
		"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, strftime('%s','now'))", -1, &st, NULL) != SQLITE_OK)
		goto store_fail;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, sha, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, type, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, hall, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, case_no, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, at, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, line, (int)n, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		goto store_fail;
answer:
	buf_adds(out, first ? "{\"id\":" : ",{\"id\":");
	buf_json_str(out, id);
	buf_json_member(out, "result", result);
	if (why != NULL)
		buf_json_member(out, "reason", why);
	buf_addc(out, '}');
	goto done;
store_fail:
	log_warnx("store: %s", sqlite3_errmsg(rx.db));
	rc = -1;
done:
	sqlite3_finalize(st);
	json_decref(o);
	return rc;
}

static void
h_records(FCGX_Request *fr)
{
	struct buf body, out;
	const char *p, *end, *nl;
	int lines = 0;

	if (!authorized(fr)) {
		fail(fr, 401, "unauthorized", "a valid Bearer token is required");
		return;
	}
	if (strncasecmp(param(fr, "CONTENT_TYPE"), "application/x-ndjson", 20) != 0) {
		fail(fr, 415, "unsupported_media_type", "Content-Type must be application/x-ndjson");
		return;
	}
	if (read_body(fr, &body) == -1)
		return;
	buf_init(&out, 8u << 20);
	buf_adds(&out, "{\"results\":[");
	if (sqlite3_exec(rx.db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		goto store_fail;
	for (p = body.data, end = body.data + body.len; p < end; p = nl + 1) {
		size_t n;

		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		n = (size_t)(nl - p);
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (n == 0)
			continue;
		if (++lines > MAX_LINES) {
			sqlite3_exec(rx.db, "ROLLBACK", NULL, NULL, NULL);
			fail(fr, 413, "too_many_records", "at most 20000 records per request");
			goto done;
		}
		if (take_record(p, n, &out, lines == 1) == -1)
			goto store_fail;
	}
	/* durable (synchronous=FULL) before anyone is told */
	if (sqlite3_exec(rx.db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		goto store_fail;
	buf_adds(&out, "]}\n");
	reply(fr, 200, &out);
	goto done;
store_fail:
	sqlite3_exec(rx.db, "ROLLBACK", NULL, NULL, NULL);
	fail(fr, 503, "store_unavailable", "the receiver cannot store records now");
done:
	buf_free(&out);
	buf_free(&body);
}

/* ---- POST /v1/reconcile ---------------------------------------------------------- */

static void
h_reconcile(FCGX_Request *fr)
{
	struct buf body, out;
	json_error_t jerr;
	sqlite3_stmt *st = NULL;
	json_t *root = NULL, *ids, *v;
	size_t i;
	int first = 1;

	if (!authorized(fr)) {
		fail(fr, 401, "unauthorized", "a valid Bearer token is required");
		return;
	}
	if (read_body(fr, &body) == -1)
		return;
	root = json_loadb(body.data, body.len, 0, &jerr);
	buf_free(&body);
	ids = json_object_get(root, "ids");
	if (!json_is_array(ids) || json_array_size(ids) > MAX_IDS) {
		json_decref(root);
		fail(fr, 400, "bad_request", "expected {\"ids\":[...]} with at most 20000 ids");
		return;
	}
	buf_init(&out, 8u << 20);
	buf_adds(&out, "{\"held\":{");
	if (sqlite3_prepare_v2(rx.db, "SELECT sha256 FROM records WHERE id = ?1", -1, &st, NULL) !=
	    SQLITE_OK) {
		json_decref(root);
		buf_free(&out);
		fail(fr, 503, "store_unavailable", "the receiver cannot read its store now");
		return;
	}
	json_array_foreach(ids, i, v) {
		if (!json_is_string(v))
			continue;
		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, json_string_value(v), -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_ROW)
			continue;
		if (!first)
			buf_addc(&out, ',');
		first = 0;
		buf_json_str(&out, json_string_value(v));
		buf_addc(&out, ':');
		buf_json_str(&out, (const char *)sqlite3_column_text(st, 0));
	}
	sqlite3_finalize(st);
	json_decref(root);
	buf_adds(&out, "}}\n");
	reply(fr, 200, &out);
	buf_free(&out);
}

static void
h_health(FCGX_Request *fr)
{
	sqlite3_stmt *st = NULL;
	long long n = -1;
	struct buf b;

	if (sqlite3_prepare_v2(rx.db, "SELECT count(*) FROM records", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	buf_init(&b, 256);
	buf_printf(&b, "{\"status\":\"%s\",\"records\":%lld}\n", n < 0 ? "unavailable" : "ok", n);
	reply(fr, n < 0 ? 503 : 200, &b);
	buf_free(&b);
}

static void
handle(FCGX_Request *fr)
{
	const char *method = param(fr, "REQUEST_METHOD"), *path = param(fr, "DOCUMENT_URI");

	if (strcmp(path, "/v1/records") == 0 && strcmp(method, "POST") == 0)
		h_records(fr);
	else if (strcmp(path, "/v1/reconcile") == 0 && strcmp(method, "POST") == 0)
		h_reconcile(fr);
	else if (strcmp(path, "/v1/health") == 0 && strcmp(method, "GET") == 0)
		h_health(fr);
	else if (strcmp(path, "/v1/records") == 0 || strcmp(path, "/v1/reconcile") == 0 ||
	    strcmp(path, "/v1/health") == 0)
		fail(fr, 405, "method_not_allowed", "see the interface in SPEC 5.3");
	else
		fail(fr, 404, "not_found", "no such endpoint");
}

/* ---- set-up ---------------------------------------------------------------------- */

static int
worker_init(void)
{
	if (sqlite3_open_v2(rx.store_path, &rx.db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
		NULL) != SQLITE_OK) {
		log_warnx("%s: %s", rx.store_path, sqlite3_errmsg(rx.db));
		return -1;
	}
	sqlite3_busy_timeout(rx.db, 10000);
	if (sqlite3_exec(rx.db, "PRAGMA synchronous = FULL", NULL, NULL, NULL) != SQLITE_OK)
		return -1;
	return 0;
}

static int
ini_key(void *user, const char *section, const char *key, const char *value)
{
	(void)user;
	if (strcmp(section, "receiver") != 0)
		return 0;
	if (strcmp(key, "socket") == 0)
		return (rx.socket = strdup(value)) != NULL;
	if (strcmp(key, "store") == 0)
		return (rx.store_path = strdup(value)) != NULL;
	if (strcmp(key, "token_file") == 0)
		return (rx.token_file = strdup(value)) != NULL;
	if (strcmp(key, "workers") == 0)
		return (rx.workers = atoi(value)) > 0;
	fprintf(stderr, "unknown key [%s] %s\n", section, key);
	return 0;
}

static void
usage(void)
{
	fprintf(stderr, "usage: province-receiver -c CONFIG run\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	const char *config;
	sqlite3 *db;
	FILE *f;

	log_init("province-receiver");
	umask(077);	/* stores, secrets and their folders: the owner's alone */
	config = config_cli(&argc, &argv, usage);
	rx.workers = 2;
	if (sodium_init() < 0 || ini_parse(config, ini_key, NULL) != 0 || rx.socket == NULL ||
	    rx.store_path == NULL || rx.token_file == NULL)
		fatalx("%s: [receiver] socket, store and token_file are required", config);
	if ((f = fopen(rx.token_file, "r")) == NULL || fgets(rx.token, sizeof(rx.token), f) == NULL)
		fatalx("%s: cannot read the token", rx.token_file);
	fclose(f);
	rx.token[strcspn(rx.token, "\r\n")] = '\0';
	/* the schema once, before the workers */
	if (sqlite3_open(rx.store_path, &db) != SQLITE_OK ||
	    sqlite3_exec(db, schema, NULL, NULL, NULL) != SQLITE_OK)
		fatalx("%s: %s", rx.store_path, sqlite3_errmsg(db));
	sqlite3_close(db);
	if (FCGX_Init() != 0)
		fatalx("FCGX_Init failed");
	static const struct server_ops ops = {worker_init, handle, NULL};

	return server_run(rx.socket, rx.workers, 1, &ops) == 0 ? 0 : 1;
}
