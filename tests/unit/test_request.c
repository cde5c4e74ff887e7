/*
 * fcgi/web/request.c, over a FastCGI request in memory (fake_fcgi.h): req_init's reading of
 * the parameters, req_cookie, the body reader (type, size, encoding) with the exact answer to
 * every refusal, the error answers for the API and for pages (with and without a program's
 * error-page hook), json_error's envelope and its sanitising of the field name, and the
 * headers req_send writes. Tables of inputs and expected outputs, in the manner of kcgi.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>

#include "web.h"
#include "fake_fcgi.h"

/* The error envelope of SPEC 4.3, and the plain page shown without a hook. */
#define ERR(code, msg) "{\"error\":{\"code\":\"" code "\",\"message\":\"" msg "\"}}\n"
#define ERR_F(code, msg, field) \
	"{\"error\":{\"code\":\"" code "\",\"message\":\"" msg "\",\"field\":\"" field "\"}}\n"
#define PAGE(msg) "<!doctype html><meta charset=\"utf-8\"><p>" msg "</p>\n"

#define COOKIE_A "abcdefghijABCDEFGHIJ-_"	/* 22 characters of base64url */
#define COOKIE_B "0123456789012345678901"

static void
req_make(struct req *r, struct fake_req *f, const char *const *env, const char *body,
    size_t len, size_t chunk)
{
	fake_init(f, env, body, len, chunk);
	req_init(r, &f->fr);
}

struct init_case {
	const char *env[8];
	const char *method, *path, *query, *ctype, *remote;
	int is_api, is_head, https;
	const char *cookie;
};

static const struct init_case init_cases[] = {
	{{"REQUEST_METHOD=POST", "DOCUMENT_URI=/api/v1/cases", "HTTPS=on", "QUERY_STRING=a=1",
	     "CONTENT_TYPE=application/json", "REMOTE_ADDR=10.0.0.7", NULL},
	    "POST", "/api/v1/cases", "a=1", "application/json", "10.0.0.7", 1, 0, 1, ""},
	{{"REQUEST_METHOD=HEAD", "DOCUMENT_URI=/guides", NULL},
	    "HEAD", "/guides", "", "", "", 0, 1, 0, ""},
	{{NULL}, "", "", "", "", "", 0, 0, 0, ""},
	{{"DOCUMENT_URI=/api", NULL}, "", "/api", "", "", "", 0, 0, 0, ""},
	{{"DOCUMENT_URI=/api/", NULL}, "", "/api/", "", "", "", 1, 0, 0, ""},
	{{"DOCUMENT_URI=/apix/v1", NULL}, "", "/apix/v1", "", "", "", 0, 0, 0, ""},
	{{"DOCUMENT_URI=/API/v1/cases", NULL}, "", "/API/v1/cases", "", "", "", 0, 0, 0, ""},
	{{"DOCUMENT_URI=/guides/api/", NULL}, "", "/guides/api/", "", "", "", 0, 0, 0, ""},
	{{"REQUEST_METHOD=head", NULL}, "head", "", "", "", "", 0, 0, 0, ""},
	{{"HTTPS=ON", NULL}, "", "", "", "", "", 0, 0, 0, ""},
	{{"HTTPS=", NULL}, "", "", "", "", "", 0, 0, 0, ""},
	{{"HTTPS=off", NULL}, "", "", "", "", "", 0, 0, 0, ""},
	{{"HTTP_COOKIE=a=b; hall_csrf=" COOKIE_A, NULL}, "", "", "", "", "", 0, 0, 0, COOKIE_A},
	{{"HTTP_COOKIE=hall_csrf=short", NULL}, "", "", "", "", "", 0, 0, 0, ""},
};

static void
test_init(void **state)
{
	struct fake_req f;
	struct req r;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(init_cases) / sizeof(init_cases[0]); i++) {
		const struct init_case *c = &init_cases[i];

		req_make(&r, &f, c->env, "", 0, 1);
		if (strcmp(r.method, c->method) != 0 || strcmp(r.path, c->path) != 0 ||
		    strcmp(r.query, c->query) != 0 || strcmp(r.ctype, c->ctype) != 0 ||
		    strcmp(r.remote, c->remote) != 0)
			fail_msg("case %zu: \"%s\" \"%s\" \"%s\" \"%s\" \"%s\"", i, r.method,
			    r.path, r.query, r.ctype, r.remote);
		if (r.is_api != c->is_api || r.is_head != c->is_head || r.https != c->https)
			fail_msg("case %zu: is_api %d is_head %d https %d", i, r.is_api, r.is_head,
			    r.https);
		assert_string_equal(r.cookie, c->cookie);
		assert_int_equal(r.cookie_is_new, 0);
		assert_int_equal(r.max_body, REQ_MAX_BODY);
		assert_null(r.body);
		assert_int_equal(r.in.n, 0);
		assert_ptr_equal(r.fr, &f.fr);
		req_free(&r);
		fake_free(&f);
	}
}

struct cookie_case {
	const char *hdr;	/* NULL: no header at all */
	int want;
	const char *value;
};

static const struct cookie_case cookie_cases[] = {
	{NULL, 0, NULL},
	{"", 0, NULL},
	{"hall_csrf=" COOKIE_A, 1, COOKIE_A},
	{"a=1; hall_csrf=" COOKIE_A "; b=2", 1, COOKIE_A},
	{"a=1;hall_csrf=" COOKIE_A, 1, COOKIE_A},
	{";; hall_csrf=" COOKIE_A, 1, COOKIE_A},
	{"hall_csrf=" COOKIE_A " ; b=2", 1, COOKIE_A},
	{"hall_csrf=abcdefghijABCDEFGHIJ-", 0, NULL},		/* 21 */
	{"hall_csrf=" COOKIE_A "x", 0, NULL},			/* 23 */
	{"hall_csrf=", 0, NULL},
	{"hall_csrf=abcdefghijABCDEFGHIJ+/", 0, NULL},		/* base64, not base64url */
	{"hall_csrf=abcdefghijABCDEFGHIJK=", 0, NULL},
	{"hall_csrf=\"abcdefghijABCDEFGHIJ\"", 0, NULL},
	{"hall_csrf=abcdefghij%41BCDEFGHI_", 0, NULL},
	{"hall_csrf=abcdefghij\xe4\xb8\xad" "BCDEFGHI_", 0, NULL},
	{"hall_csrf_old=" COOKIE_A, 0, NULL},		/* our name a prefix of another's */
	{"hall_csrf_old=" COOKIE_B "; hall_csrf=" COOKIE_A, 1, COOKIE_A},
	{"xhall_csrf=" COOKIE_A, 0, NULL},
	{"hall=" COOKIE_A, 0, NULL},
	{"hall_csrf =" COOKIE_A, 0, NULL},
	{"HALL_CSRF=" COOKIE_A, 0, NULL},
	{"a=hall_csrf=" COOKIE_A, 0, NULL},			/* inside another's value */
	{"a=x hall_csrf=" COOKIE_A, 0, NULL},
	/* the first pair of the name decides, as the header's comment says */
	{"hall_csrf=" COOKIE_A "; hall_csrf=" COOKIE_B, 1, COOKIE_A},
	{"hall_csrf=short; hall_csrf=" COOKIE_A, 0, NULL},
};

static void
test_cookie(void **state)
{
	char out[CSRF_COOKIE_LEN + 1];
	struct req r;
	size_t i;
	int got;

	(void)state;
	for (i = 0; i < sizeof(cookie_cases) / sizeof(cookie_cases[0]); i++) {
		const struct cookie_case *c = &cookie_cases[i];

		memset(&r, 0, sizeof(r));
		r.cookie_hdr = c->hdr;
		memset(out, '#', sizeof(out));
		got = req_cookie(&r, CSRF_COOKIE, CSRF_COOKIE_LEN, out);
		if (got != c->want)
			fail_msg("case %zu \"%s\": %d", i, c->hdr != NULL ? c->hdr : "(null)", got);
		if (got)
			assert_string_equal(out, c->value);
		else	/* a refused value is not copied, not even in part */
			assert_int_equal(out[0], '#');
	}
	/* another name and length: the same rules */
	r.cookie_hdr = "hall_csrf=" COOKIE_A "; sid=abcd";
	assert_int_equal(req_cookie(&r, "sid", 4, out), 1);
	assert_string_equal(out, "abcd");
	assert_int_equal(req_cookie(&r, "sid", 5, out), 0);
	assert_int_equal(req_cookie(&r, "si", 4, out), 0);
}

#define API "/api/v1/cases"
#define FORM "application/x-www-form-urlencoded"
#define JSON "application/json"
#define MSG_415_JSON "请以 application/json（UTF-8）提交。"
#define MSG_415_FORM "请以 application/x-www-form-urlencoded 提交表单。"
#define MSG_UTF8 "请求内容不是有效的 UTF-8 文本。"
#define MSG_SHORT "请求内容不完整。"
#define MSG_NOT_JSON "请求内容不是有效的 JSON 对象。"
#define ERR_415 ERR("unsupported_media_type", MSG_415_JSON)
#define REFUSED(status, answer) status, answer, {{NULL, NULL, 0}}

struct body_case {
	const char *uri;
	const char *ctype;	/* NULL: no CONTENT_TYPE */
	const char *clen;	/* CONTENT_LENGTH; NULL: the body's length; "-": none */
	const char *body;
	size_t len;		/* 0: strlen(body) */
	size_t max_body;	/* 0: REQ_MAX_BODY */
	const char *status;	/* NULL: accepted */
	const char *answer;	/* the refusal's body */
	struct {
		const char *name, *value;
		int is_int;
	} want[3];		/* what an accepted body holds */
};

static const struct body_case body_cases[] = {
	{API, JSON, NULL, "{\"subject\":\"社保\",\"level\":5,\"x\":null}", 0, 0, NULL, NULL,
	    {{"subject", "社保", 0}, {"level", "5", 1}}},
	{API, "application/json; charset=utf-8", NULL, "{\"a\":\"1\"}", 0, 0, NULL, NULL,
	    {{"a", "1", 0}}},
	{API, "APPLICATION/JSON ;  Charset=\"UTF-8\"", NULL, "{\"a\":\"1\"}", 0, 0, NULL, NULL,
	    {{"a", "1", 0}}},
	{API, JSON, NULL, "{\"a\":\"1\"}", 0, 9, NULL, NULL, {{"a", "1", 0}}},
	{"/consult", FORM, NULL, "subject=%E7%A4%BE%E4%BF%9D&name=a+b&c=", 0, 0, NULL, NULL,
	    {{"subject", "社保", 0}, {"name", "a b", 0}, {"c", "", 0}}},
	{"/consult", FORM "; charset=UTF-8", NULL, "a=1", 0, 0, NULL, NULL, {{"a", "1", 0}}},
	/* type */
	{API, "application/json; charset=gbk", NULL, "{}", 0, 0,
	    REFUSED("Status: 415 Unsupported Media Type", ERR_415)},
	{API, "application/jsonx", NULL, "{}", 0, 0,
	    REFUSED("Status: 415 Unsupported Media Type", ERR_415)},
	{API, "text/plain", NULL, "{}", 0, 0,
	    REFUSED("Status: 415 Unsupported Media Type", ERR_415)},
	{API, NULL, NULL, "{}", 0, 0,
	    REFUSED("Status: 415 Unsupported Media Type", ERR_415)},
	{API, FORM, NULL, "a=1", 0, 0,
	    REFUSED("Status: 415 Unsupported Media Type", ERR_415)},
	{"/consult", JSON, NULL, "{}", 0, 0,
	    REFUSED("Status: 415 Unsupported Media Type", PAGE(MSG_415_FORM))},
	{"/consult", "multipart/form-data; boundary=x", NULL, "", 0, 0,
	    REFUSED("Status: 415 Unsupported Media Type", PAGE(MSG_415_FORM))},
	/* size */
	{API, JSON, "16385", "{}", 0, 0, REFUSED("Status: 413 Payload Too Large",
	    ERR("too_large", "提交的内容过长（不得超过 16 KiB）。"))},
	{API, JSON, "2049", "{}", 0, 2048, REFUSED("Status: 413 Payload Too Large",
	    ERR("too_large", "提交的内容过长（不得超过 2 KiB）。"))},
	{API, JSON, "-1", "{}", 0, 0, REFUSED("Status: 413 Payload Too Large",
	    ERR("too_large", "提交的内容过长（不得超过 16 KiB）。"))},
	{API, JSON, "10", "{\"a\":\"1\"}", 0, 0, REFUSED("Status: 400 Bad Request",
	    ERR("malformed_body", MSG_SHORT))},
	{"/consult", FORM, "100", "a=1", 0, 0, REFUSED("Status: 400 Bad Request", PAGE(MSG_SHORT))},
	{API, JSON, "9x", "{\"a\":\"1\"}", 0, 0, REFUSED("Status: 400 Bad Request",
	    ERR("malformed_body", "请求长度无效。"))},
	{API, JSON, "", "{\"a\":\"1\"}", 0, 0, REFUSED("Status: 400 Bad Request",
	    ERR("malformed_body", MSG_NOT_JSON))},
	{API, JSON, "-", "{\"a\":\"1\"}", 0, 0, REFUSED("Status: 400 Bad Request",
	    ERR("malformed_body", MSG_NOT_JSON))},
	{API, JSON, "5", "{\"a\":\"1\"}", 0, 0, REFUSED("Status: 400 Bad Request",
	    ERR("malformed_body", MSG_NOT_JSON))},
	/* encoding and shape */
	{API, JSON, NULL, "{\"a\":\"\xff\"}", 0, 0, REFUSED("Status: 400 Bad Request",
	    ERR("invalid_utf8", MSG_UTF8))},
	{API, JSON, NULL, "{\"a\":\"\xed\xa0\x80\"}", 0, 0, REFUSED("Status: 400 Bad Request",
	    ERR("invalid_utf8", MSG_UTF8))},
	{"/consult", FORM, NULL, "a=%FF", 0, 0, REFUSED("Status: 400 Bad Request", PAGE(MSG_UTF8))},
	{"/consult", FORM, NULL, "a=%G1", 0, 0, REFUSED("Status: 400 Bad Request",
	    PAGE("请求中的百分号编码无效。"))},
	{API, JSON, NULL, "{\"a\":\"\0\"}", 9, 0, REFUSED("Status: 400 Bad Request",
	    ERR("nul_byte", "请求内容含有空字符（NUL）。"))},
	{API, JSON, NULL, "{\"a\":\"\\u0000\"}", 0, 0, REFUSED("Status: 400 Bad Request",
	    ERR("nul_byte", "请求内容含有空字符（NUL）。"))},
	{API, JSON, NULL, "{\"a\":\"x\",\"a\":\"y\"}", 0, 0, REFUSED("Status: 400 Bad Request",
	    ERR("duplicate_field", "同一字段出现了两次。"))},
	{"/consult", FORM, NULL, "a=1&a=2", 0, 0, REFUSED("Status: 400 Bad Request",
	    PAGE("同一字段出现了两次。"))},
	{API, JSON, NULL, "[1]", 0, 0, REFUSED("Status: 400 Bad Request",
	    ERR("malformed_body", MSG_NOT_JSON))},
	{"/consult", FORM, NULL, "=1", 0, 0,
	    REFUSED("Status: 400 Bad Request", PAGE("表单内容格式有误。"))},
	{API, JSON, NULL, "{\"a\":[1]}", 0, 0, REFUSED("Status: 422 Unprocessable Content",
	    ERR_F("invalid_type", "字段类型不正确。", "a"))},
	{API, JSON, NULL, "{\"ok\":\"1\",\"n\":1.5}", 0, 0,
	    REFUSED("Status: 422 Unprocessable Content",
	    ERR_F("invalid_type", "字段类型不正确。", "n"))},
	{API, JSON, NULL, "{\"a\\\"<b>\":true}", 0, 0, REFUSED("Status: 422 Unprocessable Content",
	    ERR_F("invalid_type", "字段类型不正确。", "a\\\"\\u003cb\\u003e"))},
	{API, JSON, NULL, "{\"名称\":{}}", 0, 0, REFUSED("Status: 422 Unprocessable Content",
	    ERR_F("invalid_type", "字段类型不正确。", "名称"))},
};

/* Every refusal of the API is the envelope, and valid JSON. */
static void
assert_envelope(const char *s)
{
	json_error_t jerr;
	json_t *j, *e;

	if ((j = json_loads(s, 0, &jerr)) == NULL)
		fail_msg("not JSON (%s): %s", jerr.text, s);
	assert_non_null(e = json_object_get(j, "error"));
	assert_true(json_is_string(json_object_get(e, "code")));
	assert_true(json_is_string(json_object_get(e, "message")));
	assert_int_equal(json_object_size(j), 1);
	json_decref(j);
}

static void
body_run(const struct body_case *c, size_t i, size_t chunk)
{
	char uri[128], ctype[128], clen[64];
	const char *env[5] = {"REQUEST_METHOD=POST", uri, NULL, NULL, NULL};
	size_t len = c->len > 0 ? c->len : strlen(c->body), k = 2, j;
	struct fake_req f;
	struct req r;
	int rc;

	snprintf(uri, sizeof(uri), "DOCUMENT_URI=%s", c->uri);
	if (c->ctype != NULL) {
		snprintf(ctype, sizeof(ctype), "CONTENT_TYPE=%s", c->ctype);
		env[k++] = ctype;
	}
	if (c->clen == NULL || strcmp(c->clen, "-") != 0) {
		if (c->clen == NULL)
			snprintf(clen, sizeof(clen), "CONTENT_LENGTH=%zu", len);
		else
			snprintf(clen, sizeof(clen), "CONTENT_LENGTH=%s", c->clen);
		env[k++] = clen;
	}
	req_set_error_page(NULL);
	req_make(&r, &f, env, c->body, len, chunk);
	if (c->max_body > 0)
		r.max_body = c->max_body;
	rc = req_parse_body(&r);
	if (c->status == NULL) {
		if (rc != 0)
			fail_msg("case %zu (chunk %zu): refused: %s", i, chunk, fake_sent(&f));
		assert_string_equal(fake_sent(&f), "");
		assert_int_equal(r.body_len, len);
		assert_memory_equal(r.body, c->body, len);
		assert_int_equal(r.body[len], '\0');
		for (j = 0; j < 3 && c->want[j].name != NULL; j++) {
			const struct kv *v = kv_get(&r.in, c->want[j].name);

			if (v == NULL)
				fail_msg("case %zu: no field %s", i, c->want[j].name);
			assert_string_equal(v->value, c->want[j].value);
			assert_int_equal(v->is_int, c->want[j].is_int);
		}
		assert_int_equal(r.in.n, j);
	} else {
		if (rc != -1)
			fail_msg("case %zu (chunk %zu): accepted", i, chunk);
		assert_response(&f, c->status,
		    r.is_api ? "Content-Type: application/json; charset=utf-8" :
			       "Content-Type: text/html; charset=utf-8",
		    c->answer, 0);
		if (r.is_api)
			assert_envelope(c->answer);
	}
	req_free(&r);
	fake_free(&f);
}

static void
test_parse_body(void **state)
{
	static const size_t chunks[] = {1, 3, 16, 1 << 20};
	size_t i, j;

	(void)state;
	for (i = 0; i < sizeof(body_cases) / sizeof(body_cases[0]); i++)
		for (j = 0; j < sizeof(chunks) / sizeof(chunks[0]); j++)
			body_run(&body_cases[i], i, chunks[j]);
}

/* Bodies at the limits: a program that allows more, and a field over its cap. */
static void
test_parse_body_large(void **state)
{
	static char body[KV_MAX_VALUE + 64], clen[64];
	const char *env[] = {"REQUEST_METHOD=POST", "DOCUMENT_URI=" API,
	    "CONTENT_TYPE=" JSON, clen, NULL};
	struct fake_req f;
	struct req r;
	size_t n;

	(void)state;
	for (n = KV_MAX_VALUE; n <= KV_MAX_VALUE + 1; n++) {
		snprintf(body, sizeof(body), "{\"body\":\"%0*d\"}", (int)n, 0);
		snprintf(clen, sizeof(clen), "CONTENT_LENGTH=%zu", strlen(body));
		req_make(&r, &f, env, body, strlen(body), 4096);
		r.max_body = sizeof(body);
		if (n == KV_MAX_VALUE) {
			assert_int_equal(req_parse_body(&r), 0);
			assert_int_equal(strlen(kv_get(&r.in, "body")->value), n);
			assert_string_equal(fake_sent(&f), "");
		} else {
			assert_int_equal(req_parse_body(&r), -1);
			assert_response(&f, "Status: 422 Unprocessable Content", NULL,
			    ERR_F("too_long", "字段内容过长。", "body"), 0);
		}
		req_free(&r);
		fake_free(&f);
	}
	/* the same body under the default limit is too large before it is read */
	req_make(&r, &f, env, body, strlen(body), 4096);
	assert_int_equal(req_parse_body(&r), -1);
	assert_response(&f, "Status: 413 Payload Too Large", NULL,
	    ERR("too_large", "提交的内容过长（不得超过 16 KiB）。"), 0);
	assert_int_equal(f.body_off, 0);
	req_free(&r);
	fake_free(&f);
}

struct error_case {
	const char *method, *uri;
	int hook;
	int status;
	const char *field, *extra;	/* may be NULL */
	const char *status_line, *header, *answer;
	int hook_calls;
};

#define MSG_RATE "提交过于频繁，请<稍后>再试。"
#define MSG_RATE_HTML "提交过于频繁，请&lt;稍后&gt;再试。"

static const struct error_case error_cases[] = {
	{"GET", "/consult", 0, 429, NULL, NULL, "Status: 429 Too Many Requests",
	    "Content-Security-Policy: default-src 'none'; style-src 'self'; img-src 'self'; "
	    "form-action 'self'; frame-ancestors 'none'",
	    PAGE(MSG_RATE_HTML), 0},
	{"GET", "/consult", 0, 429, "subject", "Retry-After: 30\r\n",
	    "Status: 429 Too Many Requests", "Retry-After: 30", PAGE(MSG_RATE_HTML), 0},
	{"HEAD", "/consult", 0, 429, NULL, "Retry-After: 30\r\n", "Status: 429 Too Many Requests",
	    "Retry-After: 30", PAGE(MSG_RATE_HTML), 0},
	{"GET", "/consult", 1, 429, NULL, NULL, "Status: 429 Too Many Requests",
	    "Content-Type: text/html; charset=utf-8", "<p>hook: " MSG_RATE_HTML "</p>", 1},
	{"POST", "/consult", 1, 429, "subject", "Retry-After: 30\r\n",
	    "Status: 429 Too Many Requests", "Retry-After: 30",
	    "<p>hook: " MSG_RATE_HTML "</p>", 1},
	{"POST", API, 1, 429, NULL, "Retry-After: 30\r\n", "Status: 429 Too Many Requests",
	    "Retry-After: 30", ERR("rate_limited", "提交过于频繁，请\\u003c稍后\\u003e再试。"), 0},
	{"POST", API, 0, 422, "phone", NULL, "Status: 422 Unprocessable Content",
	    "Content-Type: application/json; charset=utf-8",
	    ERR_F("rate_limited", "提交过于频繁，请\\u003c稍后\\u003e再试。", "phone"), 0},
	{"GET", API, 0, 418, NULL, NULL, "Status: 418 Status", NULL,
	    ERR("rate_limited", "提交过于频繁，请\\u003c稍后\\u003e再试。"), 0},
};

static void
test_error(void **state)
{
	struct fake_req f;
	struct req r;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(error_cases) / sizeof(error_cases[0]); i++) {
		const struct error_case *c = &error_cases[i];
		char m[64], u[128];
		const char *env[] = {m, u, NULL};

		snprintf(m, sizeof(m), "REQUEST_METHOD=%s", c->method);
		snprintf(u, sizeof(u), "DOCUMENT_URI=%s", c->uri);
		memset(&hooked, 0, sizeof(hooked));
		req_set_error_page(c->hook ? page_hook : NULL);
		req_make(&r, &f, env, "", 0, 1);
		req_error_h(&r, c->status, "rate_limited", MSG_RATE, c->field, c->extra);
		assert_response(&f, c->status_line, c->header, c->answer, r.is_head);
		assert_int_equal(hooked.calls, c->hook_calls);
		if (hooked.calls > 0) {
			assert_int_equal(hooked.status, c->status);
			assert_string_equal(hooked.message, MSG_RATE);
			assert_string_equal(hooked.extra, c->extra != NULL ? c->extra : "(null)");
		}
		req_free(&r);
		fake_free(&f);
	}
	req_set_error_page(NULL);
}

struct json_error_case {
	const char *field;
	const char *want;
};

static const struct json_error_case json_error_cases[] = {
	{NULL, ERR("c", "m")},
	{"name", ERR_F("c", "m", "name")},
	{"", ERR_F("c", "m", "")},
	{"名称", ERR_F("c", "m", "名称")},
	{"a\"<b>&", ERR_F("c", "m", "a\\\"\\u003cb\\u003e\\u0026")},
	{"a\nb\x01", ERR_F("c", "m", "a\\nb\\u0001")},
	{"\xff", ERR_F("c", "m", "?")},			/* not UTF-8 */
	{"ab\xe4\xb8", ERR_F("c", "m", "?")},		/* cut inside a character */
	{"\xed\xa0\x80", ERR_F("c", "m", "?")},		/* a surrogate */
	{"\xc0\xaf", ERR_F("c", "m", "?")},		/* overlong */
	{"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	    ERR_F("c", "m", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")},
	{"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	    ERR_F("c", "m", "?")},			/* 65 bytes: over KV_MAX_NAME */
};

static void
test_json_error(void **state)
{
	size_t i;
	struct buf b;

	(void)state;
	assert_int_equal(strlen(json_error_cases[10].field), KV_MAX_NAME);
	for (i = 0; i < sizeof(json_error_cases) / sizeof(json_error_cases[0]); i++) {
		const struct json_error_case *c = &json_error_cases[i];

		buf_init(&b, 4096);
		assert_int_equal(json_error(&b, "c", "m", c->field), 0);
		if (strcmp(b.data, c->want) != 0)
			fail_msg("case %zu: %s, want %s", i, b.data, c->want);
		assert_envelope(b.data);
		buf_free(&b);
	}
	/* code and message are escaped too */
	buf_init(&b, 4096);
	assert_int_equal(json_error(&b, "x\"", "说明：\"<a>\"", NULL), 0);
	assert_string_equal(b.data, ERR("x\\\"", "说明：\\\"\\u003ca\\u003e\\\""));
	buf_free(&b);
	/* a buffer too small reports it */
	for (i = 0; i < strlen(ERR("c", "m")); i++) {
		buf_init(&b, i);
		assert_int_equal(json_error(&b, "c", "m", NULL), -1);
		assert_true(b.failed);
		assert_null(b.data);
	}
}

/* The headers every answer has, the cookie's, and the answers to a page that failed. */
static void
test_send(void **state)
{
	const char *env_http[] = {"REQUEST_METHOD=GET", "DOCUMENT_URI=/consult", NULL};
	const char *env_https[] = {"REQUEST_METHOD=GET", "DOCUMENT_URI=/consult", "HTTPS=on",
	    NULL};
	const char *env_api[] = {"REQUEST_METHOD=GET", "DOCUMENT_URI=" API, NULL};
	struct fake_req f;
	struct req r;
	struct buf b;

	(void)state;
	req_set_error_page(NULL);
	req_make(&r, &f, env_http, "", 0, 1);
	memcpy(r.cookie, COOKIE_A, sizeof(COOKIE_A));
	r.cookie_is_new = 1;
	buf_init(&b, 100);
	buf_adds(&b, "<p>好</p>");
	req_send(&r, 200, "text/html; charset=utf-8", &b, "Location: /x\r\n");
	assert_response(&f, "Status: 200 OK",
	    "Set-Cookie: hall_csrf=" COOKIE_A "; Path=/; HttpOnly; SameSite=Strict", "<p>好</p>",
	    0);
	assert_non_null(strstr(fake_sent(&f), "\r\nLocation: /x\r\n\r\n"));
	req_free(&r);
	fake_free(&f);

	req_make(&r, &f, env_https, "", 0, 1);
	req_csrf_cookie(&r);
	assert_int_equal(r.cookie_is_new, 1);
	assert_int_equal(strlen(r.cookie), CSRF_COOKIE_LEN);
	req_send(&r, 303, "text/html; charset=utf-8", NULL, NULL);
	{
		char want[128];

		snprintf(want, sizeof(want),
		    "Set-Cookie: hall_csrf=%s; Path=/; HttpOnly; SameSite=Strict; Secure",
		    r.cookie);
		assert_response(&f, "Status: 303 See Other", want, "", 0);
	}
	req_free(&r);
	fake_free(&f);

	/* a page over its cap is a short 503, not a truncated page */
	req_make(&r, &f, env_http, "", 0, 1);
	buf_free(&b);
	buf_init(&b, 4);
	buf_adds(&b, "<p>too long</p>");
	req_page(&r, 200, &b, NULL);
	assert_response(&f, "Status: 503 Service Unavailable", NULL,
	    "<!doctype html><meta charset=\"utf-8\"><p>页面暂时无法显示，请稍后再试。</p>", 0);
	buf_free(&b);
	req_free(&r);
	fake_free(&f);

	/* and an API answer that failed is the envelope's 503 */
	req_make(&r, &f, env_api, "", 0, 1);
	buf_init(&b, 4);
	buf_adds(&b, "{\"a\":1}");
	req_json(&r, 200, &b);
	assert_response(&f, "Status: 503 Service Unavailable", NULL,
	    ERR("unavailable", "服务暂时不可用，请稍后再试。"), 0);
	buf_free(&b);
	req_free(&r);
	fake_free(&f);
}

struct query_case {
	const char *query;
	const char *status;	/* NULL: accepted */
	const char *answer;
};

static const struct query_case query_cases[] = {
	{"", NULL, NULL},
	{"case_no=4301&code=1234", NULL, NULL},
	{"a=%ZZ", "Status: 400 Bad Request",
	    ERR_F("bad_encoding", "请求中的百分号编码无效。", "a")},
	{"a=%FF", "Status: 400 Bad Request", ERR_F("invalid_utf8", MSG_UTF8, "a")},
	{"a=1&a=2", "Status: 400 Bad Request",
	    ERR_F("duplicate_field", "同一字段出现了两次。", "a")},
};

static void
test_parse_query(void **state)
{
	static char q[4200];
	char qs[4300];
	const char *env[] = {"REQUEST_METHOD=GET", "DOCUMENT_URI=" API, qs, NULL};
	struct fake_req f;
	struct req r;
	size_t i;

	(void)state;
	req_set_error_page(NULL);
	for (i = 0; i < sizeof(query_cases) / sizeof(query_cases[0]); i++) {
		snprintf(qs, sizeof(qs), "QUERY_STRING=%s", query_cases[i].query);
		req_make(&r, &f, env, "", 0, 1);
		if (query_cases[i].status == NULL) {
			assert_int_equal(req_parse_query(&r), 0);
			assert_string_equal(fake_sent(&f), "");
		} else {
			assert_int_equal(req_parse_query(&r), -1);
			assert_response(&f, query_cases[i].status, NULL, query_cases[i].answer, 0);
		}
		req_free(&r);
		fake_free(&f);
	}
	/* 4096 bytes of query are parsed; one more is refused before parsing */
	for (i = 4096; i <= 4097; i++) {
		memset(q, 'a', i);
		q[0] = 'x', q[1] = '=';
		q[i] = '\0';
		snprintf(qs, sizeof(qs), "QUERY_STRING=%s", q);
		req_make(&r, &f, env, "", 0, 1);
		if (i == 4096) {
			assert_int_equal(req_parse_query(&r), 0);
			assert_int_equal(strlen(kv_get(&r.in, "x")->value), 4094);
		} else {
			assert_int_equal(req_parse_query(&r), -1);
			assert_response(&f, "Status: 400 Bad Request", NULL,
			    ERR("malformed_query", "查询参数过长。"), 0);
		}
		req_free(&r);
		fake_free(&f);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_init),
	    cmocka_unit_test(test_cookie),
	    cmocka_unit_test(test_parse_body),
	    cmocka_unit_test(test_parse_body_large),
	    cmocka_unit_test(test_error),
	    cmocka_unit_test(test_json_error),
	    cmocka_unit_test(test_send),
	    cmocka_unit_test(test_parse_query),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
