/*
 * province-receiver: the reference receiver of the province platform's interface (SPEC 5.3),
 * for tests and for province integrators. A FastCGI program behind nginx.
 *
 *   POST /v1/records    Content-Type: application/x-ndjson, Content-Encoding: gzip (or none),
 *                       Authorization: Bearer <the hall's token>; one JSON record per line
 *                       with id, type, hall_code, case_no, at. Answers 200 {"results":[{"id",
 *                       "result":"accepted"|"duplicate"|"rejected","reason"?}...]} once
 *                       every accepted record is durable.
 *   POST /v1/reconcile  {"ids":[...]} -> {"held":{"<id>":"<sha256 of the record as held>"}},
 *                       for the ids of the token's hall that it holds
 *   GET  /v1/health     {"status":"ok","records":N}
 *
 * Records are deduplicated by id: the same id with the same bytes is a duplicate (success);
 * with other bytes it is rejected as a conflict, and the attempt is kept in `conflicts`.
 *
 * Each hall has its own token (halls.c): an unknown token is a 401, and a batch holding any
 * record of another hall than the token's is refused whole with a 403, storing nothing: that
 * is a credentials or configuration problem, not a fault of the records, so the sender must
 * keep them (SPEC 5.1). A line over max_line is refused on its own, by its id (ingest.c).
 *
 * Commands: run, add-hall CODE TOKEN_FILE, remove-hall CODE, purge (retention.c).
 * [receiver] socket, socket_group (nginx's group, given the socket: the unit's www-data),
 * store, workers, max_line, retention_days.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <ini.h>
#include <jansson.h>
#include <sodium.h>
#include <sqlite3.h>

#include "province.h"
#include "web.h"

#define MAX_IDS 20000

static struct {
	char *socket, *socket_group, *store_path;	/* socket_group: nginx's, given the socket */
	int workers, retention_days;
	size_t max_line;
	sqlite3 *db;
} rx;

static const char schema[] =
    "PRAGMA journal_mode = WAL;"
    "CREATE TABLE IF NOT EXISTS records ("
    " id TEXT PRIMARY KEY, sha256 TEXT NOT NULL, type TEXT NOT NULL, hall_code TEXT NOT NULL,"
    " case_no TEXT NOT NULL, at TEXT NOT NULL, payload TEXT NOT NULL,"
    " received_at INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS records_case ON records (hall_code, case_no);"
    "CREATE TABLE IF NOT EXISTS conflicts ("
    " seq INTEGER PRIMARY KEY, id TEXT NOT NULL, held_sha256 TEXT NOT NULL,"
    " sent_sha256 TEXT NOT NULL, payload TEXT NOT NULL, at INTEGER NOT NULL);"
    /* one token per hall, as sha256 (halls.c) */
    "CREATE TABLE IF NOT EXISTS halls ("
    " hall_code TEXT PRIMARY KEY, token_sha256 TEXT NOT NULL UNIQUE,"
    " added_at INTEGER NOT NULL);"
    /* the daily jobs' last runs (retention.c) */
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value);";

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

/* The token's hall (hall_code, 13 bytes), or 0 having answered the request. */
static int
authorized(FCGX_Request *fr, char hall_code[13])
{
	switch (halls_by_bearer(rx.db, param(fr, "HTTP_AUTHORIZATION"), hall_code)) {
	case 1:
		return 1;
	case 0:
		fail(fr, 401, "unauthorized", "a hall's Bearer token is required");
		return 0;
	default:
		fail(fr, 503, "store_unavailable", "the receiver cannot read its store now");
		return 0;
	}
}

/* Reads the body (at most INGEST_MAX_WIRE) and inflates it (ingest.c); 0, or -1 having
 * answered the request. */
static int
read_body(FCGX_Request *fr, struct buf *out)
{
	unsigned long len = strtoul(param(fr, "CONTENT_LENGTH"), NULL, 10);
	enum ingest_err e;
	char *wire;

	if (len > INGEST_MAX_WIRE) {
		fail(fr, 413, "too_large", "body over 16 MiB");
		return -1;
	}
	if ((wire = malloc(len + 1)) == NULL ||
	    FCGX_GetStr(wire, (int)len, fr->in) != (int)len) {
		free(wire);
		fail(fr, 400, "short_body", "the body is shorter than Content-Length");
		return -1;
	}
	e = ingest_inflate(param(fr, "HTTP_CONTENT_ENCODING"), wire, len, out);
	free(wire);
	if (e != INGEST_OK) {
		buf_free(out);
		fail(fr, ingest_http_status(e), ingest_code(e), ingest_strerror(e));
		return -1;
	}
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

/* Stores one checked record (or keeps its conflict): its result, and *why for a conflict;
 * NULL when the store fails. */
static const char *
store_record(const struct ingest_rec *r, const char **why)
{
	sqlite3_stmt *st = NULL;
	char sha[65], held[65] = "";
	const char *result = NULL;

	sha256_hex(sha, r->line, r->len);
	if (sqlite3_prepare_v2(rx.db, "SELECT sha256 FROM records WHERE id = ?1", -1, &st, NULL) !=
	    SQLITE_OK)
		goto done;
	sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		snprintf(held, sizeof(held), "%s", sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	st = NULL;
	if (held[0] != '\0' && strcmp(held, sha) == 0) {
		result = "duplicate";
		goto done;
	}
	if (held[0] != '\0') {
		if (sqlite3_prepare_v2(rx.db,
			"INSERT INTO conflicts (id, held_sha256, sent_sha256, payload, at) "
			"VALUES (?1, ?2, ?3, ?4, strftime('%s','now'))", -1, &st, NULL) != SQLITE_OK)
			goto done;
		sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, held, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, sha, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, r->line, (int)r->len, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE)
			goto done;
		*why = "conflict: the platform holds this id with other content";
		result = "rejected";
		goto done;
	}
	if (sqlite3_prepare_v2(rx.db,
		"INSERT INTO records (id, sha256, type, hall_code, case_no, at, payload, received_at) "
		"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, strftime('%s','now'))", -1, &st, NULL) != SQLITE_OK)
		goto done;
	sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, sha, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, r->type, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, r->hall_code, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, r->case_no, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, r->at, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, r->line, (int)r->len, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_DONE)
		result = "accepted";
done:
	if (result == NULL)
		log_warnx("store: %s", sqlite3_errmsg(rx.db));
	sqlite3_finalize(st);
	return result;
}

/* One record's answer, appended to out. */
static void
answer(struct buf *out, int first, const char *id, const char *result, const char *why)
{
	buf_adds(out, first ? "{\"id\":" : ",{\"id\":");
	if (*id == '\0')
		buf_adds(out, "null");	/* a line without a readable id: answered all the same */
	else
		buf_json_str(out, id);
	buf_json_member(out, "result", result);
	if (why != NULL)
		buf_json_member(out, "reason", why);
	buf_addc(out, '}');
}

/*
 * Every line of the body, in one transaction: 200 with the results appended to out, or the
 * HTTP status of an error with nothing stored, its JSON code in *code and what to tell the
 * sender in msg.
 */
static int
take_batch(const struct buf *body, const char *hall, struct buf *out, char *msg, size_t msglen,
    const char **code)
{
	struct ingest_lines l;
	struct ingest_rec r;
	enum ingest_err e;
	int more, n = 0;

	if (sqlite3_exec(rx.db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		goto store_fail;
	ingest_lines_init(&l, body->data, body->len, rx.max_line);
	while ((more = ingest_next(&l, &r, &e)) == 1) {
		const char *why = r.why, *result = "rejected";

		/* another hall's record: the token is the wrong one, or stolen; not the record's
		 * fault, so nothing of the batch is taken and the sender keeps it all */
		if (halls_code_valid(r.hall_code) && strcmp(r.hall_code, hall) != 0) {
			snprintf(msg, msglen, "line %zu (id %s) is a record of hall %s, and this token "
			    "is hall %s's: each hall sends with its own token", r.lineno,
			    r.id[0] ? r.id : "?", r.hall_code, hall);
			*code = "wrong_hall";
			ingest_rec_free(&r);
			sqlite3_exec(rx.db, "ROLLBACK", NULL, NULL, NULL);
			return 403;
		}
		if (why == NULL && (result = store_record(&r, &why)) == NULL) {
			ingest_rec_free(&r);
			goto store_fail;
		}
		answer(out, n++ == 0, r.id, result, why);
		ingest_rec_free(&r);
	}
	if (more == -1) {
		sqlite3_exec(rx.db, "ROLLBACK", NULL, NULL, NULL);
		*code = ingest_code(e);
		if (e == INGEST_LONG_LINE)
			snprintf(msg, msglen, "line %zu is %zu bytes, over max_line (%zu), and its "
			    "id cannot be read: send \"id\" first", r.lineno, r.len, rx.max_line);
		else
			snprintf(msg, msglen, "%s", ingest_strerror(e));
		return ingest_http_status(e);
	}
	/* durable (synchronous=FULL) before anyone is told */
	if (sqlite3_exec(rx.db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		goto store_fail;
	return 200;
store_fail:
	sqlite3_exec(rx.db, "ROLLBACK", NULL, NULL, NULL);
	*code = "store_unavailable";
	snprintf(msg, msglen, "the receiver cannot store records now");
	return 503;
}

static void
h_records(FCGX_Request *fr)
{
	struct buf body, out;
	const char *code = NULL;
	char hall[13], msg[512];
	int status;

	if (!authorized(fr, hall))
		return;
	if (strncasecmp(param(fr, "CONTENT_TYPE"), "application/x-ndjson", 20) != 0) {
		fail(fr, 415, "unsupported_media_type", "Content-Type must be application/x-ndjson");
		return;
	}
	if (read_body(fr, &body) == -1)
		return;
	buf_init(&out, 8u << 20);
	buf_adds(&out, "{\"results\":[");
	status = take_batch(&body, hall, &out, msg, sizeof(msg), &code);
	if (status != 200) {
		if (status == 403)
			log_warnx("refused a batch: %s", msg);
		fail(fr, status, code, msg);
	} else {
		buf_adds(&out, "]}\n");
		reply(fr, 200, &out);
	}
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
	char hall[13];
	int first = 1;

	if (!authorized(fr, hall))
		return;
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
	/* a hall learns only of its own records */
	if (sqlite3_prepare_v2(rx.db, "SELECT sha256 FROM records WHERE id = ?1 AND hall_code = ?2",
		-1, &st, NULL) != SQLITE_OK) {
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
		sqlite3_bind_text(st, 2, hall, -1, SQLITE_STATIC);
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
	return retention_start(rx.store_path, rx.retention_days);
}

/* A whole number in [min, max], or -1. */
static long
number(const char *v, long min, long max)
{
	char *end;
	long n = strtol(v, &end, 10);

	return end != v && *end == '\0' && n >= min && n <= max ? n : -1;
}

static int
ini_key(void *user, const char *section, const char *key, const char *value)
{
	long n;

	(void)user;
	if (strcmp(section, "receiver") != 0) {
		fprintf(stderr, "unknown section [%s]\n", section);
		return 0;
	}
	if (strcmp(key, "socket") == 0)
		return (rx.socket = strdup(value)) != NULL;
	if (strcmp(key, "socket_group") == 0)
		return (rx.socket_group = strdup(value)) != NULL;
	if (strcmp(key, "store") == 0)
		return (rx.store_path = strdup(value)) != NULL;
	if (strcmp(key, "workers") == 0)
		return (rx.workers = atoi(value)) > 0;
	if (strcmp(key, "max_line") == 0) {
		if ((n = number(value, INGEST_MAX_LINE_MIN, INGEST_MAX_LINE_MAX)) == -1) {
			fprintf(stderr, "max_line: bytes from %u to %u\n", INGEST_MAX_LINE_MIN,
			    INGEST_MAX_LINE_MAX);
			return 0;
		}
		rx.max_line = (size_t)n;
		return 1;
	}
	if (strcmp(key, "retention_days") == 0) {
		if ((n = number(value, 1, 100000)) == -1) {
			fprintf(stderr, "retention_days: whole days from 1\n");
			return 0;
		}
		rx.retention_days = (int)n;
		return 1;
	}
	if (strcmp(key, "token_file") == 0) {
		fprintf(stderr, "token_file: the receiver now takes one token per hall; register "
		    "each with `province-receiver -c INI add-hall CODE TOKEN_FILE`\n");
		return 0;
	}
	fprintf(stderr, "unknown key [%s] %s\n", section, key);
	return 0;
}

static const char help[] =
    "usage: province-receiver -c CONFIG run\n"
    "       province-receiver -c CONFIG add-hall HALL_CODE TOKEN_FILE\n"
    "       province-receiver -c CONFIG remove-hall HALL_CODE\n"
    "       province-receiver -c CONFIG purge\n"
    "\n"
    "The reference province platform (SPEC 5.3), a FastCGI program behind nginx: POST\n"
    "/v1/records (gzip NDJSON, one token per hall), POST /v1/reconcile, GET /v1/health.\n"
    "\n"
    "  run              serve on [receiver] socket\n"
    "  add-hall         register a hall's token (read from the file; again: rotate it)\n"
    "  remove-hall      withdraw a hall's token\n"
    "  purge            delete cases past [receiver] retention_days now (also daily)\n"
    "  --help, --version\n";

static void
usage(void)
{
	cli_usage(help, 2);
}

/* The store with its schema, for the commands and before the workers start. */
static sqlite3 *
store_open(void)
{
	sqlite3 *db;

	if (sqlite3_open(rx.store_path, &db) != SQLITE_OK ||
	    sqlite3_exec(db, schema, NULL, NULL, NULL) != SQLITE_OK)
		fatalx("%s: %s", rx.store_path, sqlite3_errmsg(db));
	sqlite3_busy_timeout(db, 10000);
	return db;
}

static int
cmd_purge(sqlite3 *db)
{
	long long records, cases;

	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK ||
	    retention_purge(db, rx.retention_days, &records, &cases) == -1 ||
	    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		fprintf(stderr, "purge: %s\n", sqlite3_errmsg(db));
		return 1;
	}
	printf("%lld record(s) of %lld case(s) quiet for over %d days deleted\n", records, cases,
	    rx.retention_days);
	return 0;
}

int
main(int argc, char *argv[])
{
	const char *config, *cmd;
	sqlite3 *db;
	int rc;

	cli_standard(argc, argv, "province-receiver", help);
	log_init("province-receiver");
	umask(077);	/* stores, secrets and their folders: the owner's alone */
	config = config_cli(&argc, &argv, usage);
	cmd = argv[0];
	rx.workers = 2;
	rx.max_line = INGEST_MAX_LINE_DEFAULT;
	rx.retention_days = RETENTION_DAYS_DEFAULT;
	if (sodium_init() < 0)
		fatalx("libsodium cannot start");
	if ((rc = ini_parse(config, ini_key, NULL)) > 0)
		fatalx("%s:%d: cannot use this line (see above)", config, rc);
	if (rc != 0)
		fatalx("%s: cannot read it", config);
	if (rx.store_path == NULL)
		fatalx("%s: [receiver] store is required", config);
	if (strcmp(cmd, "add-hall") == 0 && argc == 3) {
		db = store_open();
		rc = halls_add(db, argv[1], argv[2]);
		sqlite3_close(db);
		return rc == 0 ? 0 : 1;
	}
	if (strcmp(cmd, "remove-hall") == 0 && argc == 2) {
		db = store_open();
		rc = halls_remove(db, argv[1]);
		sqlite3_close(db);
		if (rc == 0)
			fprintf(stderr, "%s: no such hall\n", argv[1]);
		return rc == 1 ? 0 : 1;
	}
	if (strcmp(cmd, "purge") == 0 && argc == 1) {
		db = store_open();
		rc = cmd_purge(db);
		sqlite3_close(db);
		return rc;
	}
	if (strcmp(cmd, "run") != 0 || argc != 1)
		usage();
	if (rx.socket == NULL)
		fatalx("%s: [receiver] socket is required", config);
	/* the schema once, before the workers */
	sqlite3_close(store_open());
	if (FCGX_Init() != 0)
		fatalx("FCGX_Init failed");
	static const struct server_ops ops = {worker_init, handle, NULL};

	server_socket_group(rx.socket_group);
	return server_run(rx.socket, rx.workers, 1, &ops) == 0 ? 0 : 1;
}
