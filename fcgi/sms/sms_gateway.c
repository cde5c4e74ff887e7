/*
 * sms-gateway: the reference SMS gateway of SPEC 5.6, for tests and for the county's
 * integrators: what a notifier must talk to, kept honest. A FastCGI program behind nginx.
 *
 *   POST /v1/sms    Authorization: Bearer <token>, Content-Type: application/json (UTF-8),
 *                   {"id","to","text"} (sms_body.c). Answers 200 {"id","status":"accepted"}
 *                   once the message is durable, 200 {"id","status":"duplicate"} when the
 *                   id is held with the same to and text, 409 conflict when with others.
 *   GET  /v1/sms    same token; ?to=PHONE (optional), ?since=SEQ, ?limit=N (at most 10000):
 *                   {"messages":[{"seq","id","to","text","at"}...],"more":bool}, in the
 *                   order received
 *   GET  /v1/health {"status":"ok","messages":N}, no token
 *
 * It sends nothing anywhere: a message "sent" is a row in its store, which tests read back.
 * Errors are the JSON of SPEC 4.3 ({"error":{"code","message","field"}}).
 *
 * Command: run. [gateway] socket, socket_group (nginx's group, given the socket), store,
 * token_file, workers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <ini.h>
#include <sodium.h>
#include <sqlite3.h>

#include "sms.h"
#include "web.h"

#define TOKEN_MIN 16	/* bytes: the demo's are 24 */
#define TOKEN_MAX 256

static struct {
	char *socket, *socket_group, *store_path, *token_file;
	int workers;
	unsigned char token_sha256[crypto_hash_sha256_BYTES];
	sqlite3 *db;	/* the worker's connection */
} gw;

/* ---- the token ----------------------------------------------------------------------- */

static int
token_chars_valid(const char *t, size_t n)
{
	/* b64token of RFC 6750 2.1 */
	return strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/=") ==
	    n;
}

/* Reads [gateway] token_file and keeps only its SHA-256; exits with the reason on failure. */
static void
token_load(const char *config)
{
	char *token;
	size_t n;

	if (gw.token_file == NULL)
		fatalx("%s: [gateway] token_file is required", config);
	if ((token = secret_read(gw.token_file)) == NULL)
		fatalx("%s: cannot read the token (see above)", gw.token_file);
	n = strlen(token);
	if (n < TOKEN_MIN || n > TOKEN_MAX || !token_chars_valid(token, n)) {
		sodium_memzero(token, n);
		free(token);
		fatalx("%s: a token is %d to %d characters of a bearer token (RFC 6750 2.1) on the "
		    "first line", gw.token_file, TOKEN_MIN, TOKEN_MAX);
	}
	crypto_hash_sha256(gw.token_sha256, (const unsigned char *)token, n);
	sodium_memzero(token, n);
	free(token);
}

/*
 * 1 when the Authorization header carries the token. The hashes are compared, in constant
 * time: how long a refusal takes says nothing of how much of a guess was right.
 */
static int
token_ok(const char *authorization)
{
	unsigned char h[crypto_hash_sha256_BYTES];
	const char *t;
	size_t n;
	int ok;

	if (authorization == NULL || strncasecmp(authorization, "Bearer ", 7) != 0)
		return 0;
	t = authorization + 7;
	n = strlen(t);
	if (n < TOKEN_MIN || n > TOKEN_MAX)
		return 0;
	crypto_hash_sha256(h, (const unsigned char *)t, n);
	ok = sodium_memcmp(h, gw.token_sha256, sizeof(h)) == 0;
	sodium_memzero(h, sizeof(h));
	return ok;
}

/* 1, or 0 having answered 401. */
static int
authorized(struct req *r)
{
	if (token_ok(FCGX_GetParam("HTTP_AUTHORIZATION", r->fr->envp)))
		return 1;
	req_error_h(r, 401, "unauthorized", "需要有效的 Bearer 令牌。", NULL,
	    "WWW-Authenticate: Bearer realm=\"sms-gateway\"\r\n");
	return 0;
}

/* ---- POST /v1/sms -------------------------------------------------------------------- */

static void
refuse(struct req *r, const struct sms_refusal *why)
{
	req_error(r, why->status, why->code, why->message, why->field);
}

static void
h_send(struct req *r)
{
	struct sms_refusal why;
	struct sms_msg m;
	struct buf out;
	const char *status;

	if (!authorized(r))
		return;
	/* the content type, the body's size, its UTF-8 and its JSON: the web layer's, as at
	 * the hall (415, 413, 400, 422) */
	if (req_parse_body(r) == -1)
		return;
	if (sms_body_check(&r->in, &m, &why) == -1) {
		refuse(r, &why);
		return;
	}
	switch (sms_store_put(gw.db, &m, time(NULL))) {
	case SMS_ACCEPTED:
		status = "accepted";
		break;
	case SMS_DUPLICATE:
		status = "duplicate";
		break;
	case SMS_CONFLICT:
		log_warnx("id %s: held with another number or text; refused as a conflict", m.id);
		req_error(r, 409, "conflict", "该 id 已用于另一条短信（号码或内容不同）。", "id");
		return;
	default:
		req_error(r, 503, "store_unavailable", "网关暂时无法保存短信，请稍后再试。", NULL);
		return;
	}
	buf_init(&out, 512);
	buf_adds(&out, "{\"id\":");
	buf_json_str(&out, m.id);
	buf_json_member(&out, "status", status);
	buf_adds(&out, "}\n");
	req_json(r, 200, &out);
	buf_free(&out);
}

/* ---- GET /v1/sms --------------------------------------------------------------------- */

/* A whole number in [min, max], or -1. */
static long long
number(const char *v, long long min, long long max)
{
	char *end;
	long long n;

	if (v == NULL || *v < '0' || *v > '9')
		return -1;
	n = strtoll(v, &end, 10);
	return *end == '\0' && n >= min && n <= max ? n : -1;
}

static void
h_list(struct req *r)
{
	const struct kv *to, *since, *limit;
	long long after = 0, n = SMS_LIST_MAX;
	struct buf out;
	size_t i;

	if (!authorized(r) || req_parse_query(r) == -1)
		return;
	for (i = 0; i < r->in.n; i++)
		if (strcmp(r->in.v[i].name, "to") != 0 && strcmp(r->in.v[i].name, "since") != 0 &&
		    strcmp(r->in.v[i].name, "limit") != 0) {
			req_error(r, 400, "unknown_parameter", "只接受查询参数 to、since、limit。",
			    r->in.v[i].name);
			return;
		}
	to = kv_get(&r->in, "to");
	since = kv_get(&r->in, "since");
	limit = kv_get(&r->in, "limit");
	/* any number may be asked for; only mobile numbers are ever held */
	if (to != NULL && (to->value[0] == '\0' || strlen(to->value) > 32)) {
		req_error(r, 422, "invalid", "to 应为电话号码。", "to");
		return;
	}
	if (since != NULL && (after = number(since->value, 0, INT64_MAX)) == -1) {
		req_error(r, 422, "invalid", "since 应为非负整数（上一页最后一条的 seq）。", "since");
		return;
	}
	if (limit != NULL && (n = number(limit->value, 1, SMS_LIST_MAX)) == -1) {
		req_error(r, 422, "invalid", "limit 应为 1 至 10000 的整数。", "limit");
		return;
	}
	/* a row is under 1 KiB: ids and numbers are short, a text 70 characters */
	buf_init(&out, (size_t)n * 1024 + 4096);
	if (sms_store_list(gw.db, to != NULL ? to->value : NULL, after, (int)n, &out) == -1)
		req_error(r, 503, "store_unavailable", "网关暂时无法读取短信，请稍后再试。", NULL);
	else
		req_json(r, 200, &out);
	buf_free(&out);
}

/* ---- GET /v1/health ------------------------------------------------------------------ */

static void
h_health(struct req *r)
{
	long long n = sms_store_count(gw.db);
	struct buf b;

	if (n < 0) {
		req_error(r, 503, "store_unavailable", "网关暂时无法读取短信，请稍后再试。", NULL);
		return;
	}
	buf_init(&b, 256);
	buf_printf(&b, "{\"status\":\"ok\",\"messages\":%lld}\n", n);
	req_json(r, 200, &b);
	buf_free(&b);
}

/* ---- routes -------------------------------------------------------------------------- */

static const struct sms_route {
	struct route rt;
	void (*fn)(struct req *);
} routes[] = {
	{{"POST", "/v1/sms"}, h_send},
	{{"GET", "/v1/sms"}, h_list},
	{{"GET", "/v1/health"}, h_health},
};

static void
handle(FCGX_Request *fr)
{
	struct req r;
	int i;

	req_init(&r, fr);
	r.is_api = 1;	/* every answer is JSON: the layer's test is the hall's /api/ */
	i = route_find(routes, sizeof(routes) / sizeof(routes[0]), sizeof(routes[0]), &r);
	if (i < 0)
		route_refuse(&r, i);
	else
		routes[i].fn(&r);
	req_free(&r);
}

/* ---- set-up -------------------------------------------------------------------------- */

static int
worker_init(void)
{
	if (sqlite3_open_v2(gw.store_path, &gw.db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
		log_warnx("%s: %s", gw.store_path, sqlite3_errmsg(gw.db));
		return -1;
	}
	sqlite3_busy_timeout(gw.db, 10000);
	/* a message is on disk before "accepted": nothing a sender was told is lost */
	if (sqlite3_exec(gw.db, "PRAGMA synchronous = FULL", NULL, NULL, NULL) != SQLITE_OK) {
		log_warnx("%s: %s", gw.store_path, sqlite3_errmsg(gw.db));
		return -1;
	}
	return 0;
}

static void
worker_fini(void)
{
	sqlite3_close(gw.db);
	gw.db = NULL;
}

static int
ini_key(void *user, const char *section, const char *key, const char *value)
{
	(void)user;
	if (strcmp(section, "gateway") != 0) {
		fprintf(stderr, "unknown section [%s]\n", section);
		return 0;
	}
	if (strcmp(key, "socket") == 0)
		return (gw.socket = strdup(value)) != NULL;
	if (strcmp(key, "socket_group") == 0)
		return (gw.socket_group = strdup(value)) != NULL;
	if (strcmp(key, "store") == 0)
		return (gw.store_path = strdup(value)) != NULL;
	if (strcmp(key, "token_file") == 0)
		return (gw.token_file = strdup(value)) != NULL;
	if (strcmp(key, "workers") == 0) {
		if ((gw.workers = (int)number(value, 1, 64)) == -1) {
			fprintf(stderr, "workers: a whole number from 1 to 64\n");
			return 0;
		}
		return 1;
	}
	fprintf(stderr, "unknown key [%s] %s\n", section, key);
	return 0;
}

static const char help[] =
    "usage: sms-gateway -c CONFIG run\n"
    "\n"
    "The reference SMS gateway (SPEC 5.6), a FastCGI program behind nginx: POST /v1/sms\n"
    "({\"id\",\"to\",\"text\"}, the id the idempotency key), GET /v1/sms?to=PHONE (what it\n"
    "received), GET /v1/health. It sends nothing: messages are kept in its store.\n"
    "\n"
    "  run              serve on [gateway] socket\n"
    "  --help, --version\n";

static void
usage(void)
{
	cli_usage(help, 2);
}

int
main(int argc, char *argv[])
{
	static const struct server_ops ops = {worker_init, handle, worker_fini};
	const char *config;
	sqlite3 *db;
	int rc;

	cli_standard(argc, argv, "sms-gateway", help);
	log_init("sms-gateway");
	umask(077);	/* the store and its folder: the owner's alone */
	config = config_cli(&argc, &argv, usage);
	if (strcmp(argv[0], "run") != 0 || argc != 1)
		usage();
	gw.workers = 2;
	if (sodium_init() < 0)
		fatalx("libsodium cannot start");
	if ((rc = ini_parse(config, ini_key, NULL)) > 0)
		fatalx("%s:%d: cannot use this line (see above)", config, rc);
	if (rc != 0)
		fatalx("%s: cannot read it", config);
	if (gw.store_path == NULL)
		fatalx("%s: [gateway] store is required", config);
	if (gw.socket == NULL)
		fatalx("%s: [gateway] socket is required", config);
	token_load(config);
	/* the schema once, before the workers */
	if (sqlite3_open(gw.store_path, &db) != SQLITE_OK || sms_store_schema(db) == -1)
		fatalx("%s: %s", gw.store_path, sqlite3_errmsg(db));
	sqlite3_close(db);
	if (FCGX_Init() != 0)
		fatalx("FCGX_Init failed");
	server_socket_group(gw.socket_group);
	return server_run(gw.socket, gw.workers, 1, &ops) == 0 ? 0 : 1;
}
