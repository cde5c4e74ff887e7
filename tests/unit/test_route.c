/*
 * fcgi/web/route.c: route_match as a table of patterns and paths; route_find over a small
 * route table whose rows carry a column of their own (so the stride counts); route_refuse's
 * exact answers (404, and 405 with its Allow header) written to a FastCGI stream over memory
 * (fake_fcgi.h), for the API, for a page without an error-page hook and for one with a hook.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "web.h"
#include "fake_fcgi.h"

struct match_case {
	const char *pattern, *path;
	int want;
	const char *arg;	/* the '*' segment when it matched */
};

static const struct match_case match_cases[] = {
	{"/", "/", 1, NULL},
	{"/", "", 0, NULL},
	{"", "", 1, NULL},
	{"/guides", "/guides", 1, NULL},
	{"/guides", "/guide", 0, NULL},
	{"/guides", "/guidesx", 0, NULL},
	{"/guides", "/guides/x", 0, NULL},	/* trailing parts */
	{"/guides", "/Guides", 0, NULL},
	{"/guides/*", "/guides/abc", 1, "abc"},
	{"/guides/*", "/guides/%E4%B8%AD", 1, "%E4%B8%AD"},
	{"/guides/*", "/guides/中文", 1, "中文"},
	{"/guides/*", "/guides/", 0, NULL},	/* an empty segment is no segment */
	{"/guides/*", "/guides", 0, NULL},
	{"/guides/*", "/guides/a/b", 0, NULL},
	{"/guides/*", "/guides/a/", 0, NULL},
	{"/api/v1/cases/*/rating", "/api/v1/cases/430102/rating", 1, "430102"},
	{"/api/v1/cases/*/rating", "/api/v1/cases//rating", 0, NULL},
	{"/api/v1/cases/*/rating", "/api/v1/cases/430102", 0, NULL},
	{"/api/v1/cases/*/rating", "/api/v1/cases/430102/ratings", 0, NULL},
	{"/api/v1/cases/*/rating", "/api/v1/cases/430102/ratin", 0, NULL},
};

static void
test_match(void **state)
{
	struct req r;
	size_t i;
	int got;

	(void)state;
	for (i = 0; i < sizeof(match_cases) / sizeof(match_cases[0]); i++) {
		const struct match_case *c = &match_cases[i];

		memset(&r, 0, sizeof(r));
		got = route_match(c->pattern, c->path, &r);
		if (got != c->want)
			fail_msg("case %zu: \"%s\" on \"%s\": %d", i, c->pattern, c->path, got);
		if (c->arg != NULL && strcmp(r.argbuf, c->arg) != 0)
			fail_msg("case %zu: arg \"%s\", want \"%s\"", i, r.argbuf, c->arg);
	}
}

/* A segment must fit r->argbuf with its NUL: 127 bytes match, 128 do not. */
static void
test_match_long(void **state)
{
	char path[512], want[256];
	struct req r;
	size_t n;

	(void)state;
	for (n = sizeof(r.argbuf) - 3; n <= sizeof(r.argbuf) + 2; n++) {
		memset(want, 'x', n);
		want[n] = '\0';
		snprintf(path, sizeof(path), "/guides/%s", want);
		memset(&r, 0, sizeof(r));
		assert_int_equal(route_match("/guides/*", path, &r), n < sizeof(r.argbuf));
		if (n < sizeof(r.argbuf))
			assert_string_equal(r.argbuf, want);
		snprintf(path, sizeof(path), "/c/%s/rating", want);
		assert_int_equal(route_match("/c/*/rating", path, &r), n < sizeof(r.argbuf));
	}
}

/* A program's route table: a struct route, then columns of its own. */
struct row {
	struct route rt;
	const char *name;
	int flags;
};

static const struct row rows[] = {
	{{"GET", "/"}, "home", 0},
	{{"GET", "/guides"}, "guides", 0},
	{{"GET", "/guides/*"}, "guide", 0},
	{{"GET POST", "/consult"}, "consult", 0},
	{{"POST", "/api/v1/cases"}, "case_new", 0},
	{{"GET", "/api/v1/cases/*"}, "case_get", 0},
	{{"PUT", "/api/v1/cases/*"}, "case_put", 0},
	{{"HEAD", "/status"}, "status", 0},
	{{"POST GET", "/both"}, "both", 0},
};

struct find_case {
	const char *method, *uri;
	int want;		/* a row, or ROUTE_NOT_FOUND or ROUTE_NO_METHOD */
	const char *arg;	/* the '*' segment for a row with one */
	const char *allow;	/* r->allow for ROUTE_NO_METHOD */
	const char *path;	/* r->path after: NULL when uri */
};

static const struct find_case find_cases[] = {
	{"GET", "/", 0, NULL, NULL, NULL},
	{"HEAD", "/", 0, NULL, NULL, NULL},
	{"GET", "/guides", 1, NULL, NULL, NULL},
	{"GET", "/guides/", 1, NULL, NULL, "/guides"},	/* a trailing slash is the same page */
	{"HEAD", "/guides/", 1, NULL, NULL, "/guides"},
	{"GET", "/guides/abc", 2, "abc", NULL, NULL},
	{"GET", "/guides/abc/", 2, "abc", NULL, "/guides/abc"},
	{"GET", "/guides//", ROUTE_NOT_FOUND, NULL, "", "/guides/"},	/* only one is dropped */
	{"GET", "/consult", 3, NULL, NULL, NULL},
	{"POST", "/consult", 3, NULL, NULL, NULL},
	{"HEAD", "/consult", 3, NULL, NULL, NULL},
	{"DELETE", "/consult", ROUTE_NO_METHOD, NULL, "GET HEAD POST", NULL},
	{"GE", "/consult", ROUTE_NO_METHOD, NULL, "GET HEAD POST", NULL},	/* whole words */
	{"get", "/consult", ROUTE_NO_METHOD, NULL, "GET HEAD POST", NULL},
	{"POST", "/api/v1/cases", 4, NULL, NULL, NULL},
	{"GET", "/api/v1/cases", ROUTE_NO_METHOD, NULL, "POST", NULL},
	{"HEAD", "/api/v1/cases", ROUTE_NO_METHOD, NULL, "POST", NULL},
	{"GET", "/api/v1/cases/C1", 5, "C1", NULL, NULL},
	{"PUT", "/api/v1/cases/C1", 6, "C1", NULL, NULL},
	{"POST", "/api/v1/cases/C1", ROUTE_NO_METHOD, NULL, "GET HEAD PUT", NULL},
	/* HEAD is asked as GET: a row that names only HEAD does not take it */
	{"HEAD", "/status", ROUTE_NO_METHOD, NULL, "HEAD", NULL},
	{"POST", "/both", 8, NULL, NULL, NULL},
	{"PATCH", "/both", ROUTE_NO_METHOD, NULL, "POST GET HEAD", NULL},
	{"GET", "/nowhere", ROUTE_NOT_FOUND, NULL, "", NULL},
	{"GET", "/guides/a/b", ROUTE_NOT_FOUND, NULL, "", NULL},
	{"GET", "", ROUTE_NOT_FOUND, NULL, "", NULL},
	{"", "/", ROUTE_NO_METHOD, NULL, "GET HEAD", NULL},
};

static void
req_fake(struct req *r, struct fake_req *f, const char *method, const char *uri)
{
	char m[64], u[256];
	const char *env[] = {m, u, NULL};

	snprintf(m, sizeof(m), "REQUEST_METHOD=%s", method);
	snprintf(u, sizeof(u), "DOCUMENT_URI=%s", uri);
	fake_init(f, env, "", 0, 1);
	req_init(r, &f->fr);
}

static void
test_find(void **state)
{
	struct fake_req f;
	struct req r;
	size_t i;
	int got;

	(void)state;
	for (i = 0; i < sizeof(find_cases) / sizeof(find_cases[0]); i++) {
		const struct find_case *c = &find_cases[i];

		req_fake(&r, &f, c->method, c->uri);
		got = route_find(rows, sizeof(rows) / sizeof(rows[0]), sizeof(rows[0]), &r);
		if (got != c->want)
			fail_msg("case %zu: %s %s: %d, want %d", i, c->method, c->uri, got,
			    c->want);
		if (c->arg != NULL && strcmp(r.arg, c->arg) != 0)
			fail_msg("case %zu: arg \"%s\", want \"%s\"", i, r.arg, c->arg);
		if (c->allow != NULL && strcmp(r.allow, c->allow) != 0)
			fail_msg("case %zu: allow \"%s\", want \"%s\"", i, r.allow, c->allow);
		if (strcmp(r.path, c->path != NULL ? c->path : c->uri) != 0)
			fail_msg("case %zu: path \"%s\"", i, r.path);
		assert_string_equal(fake_sent(&f), "");	/* finding answers nothing */
		req_free(&r);
		fake_free(&f);
	}
}

/* The Allow list names each method once and stays within r->allow, however many rows. */
static void
test_allow_bounded(void **state)
{
	static const struct route many[] = {
	    {"GET POST", "/x"}, {"POST GET", "/x"}, {"PUT DELETE", "/x"}, {"PATCH OPTIONS", "/x"},
	    {"PROPFIND PROPPATCH", "/x"}, {"MKCOL COPY MOVE", "/x"}, {"LOCK UNLOCK", "/x"},
	    {"SEARCH REPORT", "/x"}, {"CONNECT TRACE", "/x"}};
	struct fake_req f;
	struct req r;

	(void)state;
	req_fake(&r, &f, "BREW", "/x");
	assert_int_equal(route_find(many, sizeof(many) / sizeof(many[0]), sizeof(many[0]), &r),
	    ROUTE_NO_METHOD);
	assert_true(strlen(r.allow) < sizeof(r.allow));
	assert_memory_equal(r.allow, "GET HEAD POST PUT DELETE PATCH OPTIONS", 38);
	req_free(&r);
	fake_free(&f);
}

#define NOT_FOUND_MSG "没有找到您要的页面或记录。"
#define NO_METHOD_MSG "不支持此请求方法。"

struct refuse_case {
	const char *method, *uri;
	int hook;		/* with the page hook set */
	const char *status, *header, *body;
};

static const struct refuse_case refuse_cases[] = {
	{"GET", "/api/v1/nowhere", 0, "Status: 404 Not Found",
	    "Content-Type: application/json; charset=utf-8",
	    "{\"error\":{\"code\":\"not_found\",\"message\":\"" NOT_FOUND_MSG "\"}}\n"},
	{"GET", "/api/v1/nowhere", 1, "Status: 404 Not Found", NULL,
	    "{\"error\":{\"code\":\"not_found\",\"message\":\"" NOT_FOUND_MSG "\"}}\n"},
	{"GET", "/api/v1/cases", 0, "Status: 405 Method Not Allowed", "Allow: POST",
	    "{\"error\":{\"code\":\"method_not_allowed\",\"message\":\"" NO_METHOD_MSG "\"}}\n"},
	{"HEAD", "/api/v1/cases", 0, "Status: 405 Method Not Allowed", "Allow: POST",
	    "{\"error\":{\"code\":\"method_not_allowed\",\"message\":\"" NO_METHOD_MSG "\"}}\n"},
	{"POST", "/api/v1/cases/C1", 1, "Status: 405 Method Not Allowed",
	    "Allow: GET, HEAD, PUT",
	    "{\"error\":{\"code\":\"method_not_allowed\",\"message\":\"" NO_METHOD_MSG "\"}}\n"},
	{"GET", "/nowhere", 0, "Status: 404 Not Found", "Content-Type: text/html; charset=utf-8",
	    "<!doctype html><meta charset=\"utf-8\"><p>" NOT_FOUND_MSG "</p>\n"},
	{"DELETE", "/consult", 0, "Status: 405 Method Not Allowed", "Allow: GET, HEAD, POST",
	    "<!doctype html><meta charset=\"utf-8\"><p>" NO_METHOD_MSG "</p>\n"},
	{"GET", "/nowhere", 1, "Status: 404 Not Found", "Content-Type: text/html; charset=utf-8",
	    "<p>hook: " NOT_FOUND_MSG "</p>"},
	{"DELETE", "/consult/", 1, "Status: 405 Method Not Allowed", "Allow: GET, HEAD, POST",
	    "<p>hook: " NO_METHOD_MSG "</p>"},
	{"HEAD", "/status", 1, "Status: 405 Method Not Allowed", "Allow: HEAD",
	    "<p>hook: " NO_METHOD_MSG "</p>"},
};

static void
test_refuse(void **state)
{
	struct fake_req f;
	struct req r;
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(refuse_cases) / sizeof(refuse_cases[0]); i++) {
		const struct refuse_case *c = &refuse_cases[i];

		memset(&hooked, 0, sizeof(hooked));
		req_set_error_page(c->hook ? page_hook : NULL);
		req_fake(&r, &f, c->method, c->uri);
		rc = route_find(rows, sizeof(rows) / sizeof(rows[0]), sizeof(rows[0]), &r);
		assert_true(rc < 0);
		route_refuse(&r, rc);
		assert_response(&f, c->status, c->header, c->body, r.is_head);
		/* the hook shows the pages, never the API's answers */
		assert_int_equal(hooked.calls, c->hook && !r.is_api);
		if (hooked.calls > 0) {
			assert_int_equal(hooked.status, rc == ROUTE_NOT_FOUND ? 404 : 405);
			assert_string_equal(hooked.message,
			    rc == ROUTE_NOT_FOUND ? NOT_FOUND_MSG : NO_METHOD_MSG);
			if (rc == ROUTE_NOT_FOUND)
				assert_string_equal(hooked.extra, "(null)");
			else {
				char want[128];

				snprintf(want, sizeof(want), "%s\r\n", c->header);
				assert_string_equal(hooked.extra, want);
			}
		}
		req_free(&r);
		fake_free(&f);
	}
	req_set_error_page(NULL);
}

/* One answer in full, every header in its order. */
static void
test_refuse_exact(void **state)
{
	static const char body[] =
	    "{\"error\":{\"code\":\"method_not_allowed\",\"message\":\"" NO_METHOD_MSG "\"}}\n";
	char want[1024];
	struct fake_req f;
	struct req r;

	(void)state;
	req_set_error_page(NULL);
	req_fake(&r, &f, "PATCH", "/both");
	route_refuse(&r, route_find(rows, sizeof(rows) / sizeof(rows[0]), sizeof(rows[0]), &r));
	snprintf(want, sizeof(want),
	    "Status: 405 Method Not Allowed\r\n"
	    "Content-Type: text/html; charset=utf-8\r\n"
	    "Content-Length: %zu\r\n"
	    "Cache-Control: no-store\r\n"
	    "X-Content-Type-Options: nosniff\r\n"
	    "Referrer-Policy: no-referrer\r\n"
	    "Content-Security-Policy: default-src 'none'; style-src 'self'; img-src 'self'; "
	    "form-action 'self'; frame-ancestors 'none'\r\n"
	    "Allow: POST, GET, HEAD\r\n"
	    "\r\n"
	    "<!doctype html><meta charset=\"utf-8\"><p>" NO_METHOD_MSG "</p>\n",
	    strlen("<!doctype html><meta charset=\"utf-8\"><p>" NO_METHOD_MSG "</p>\n"));
	assert_string_equal(fake_sent(&f), want);
	req_free(&r);
	fake_free(&f);

	req_fake(&r, &f, "GET", "/api/v1/cases");
	route_refuse(&r, route_find(rows, sizeof(rows) / sizeof(rows[0]), sizeof(rows[0]), &r));
	snprintf(want, sizeof(want),
	    "Status: 405 Method Not Allowed\r\n"
	    "Content-Type: application/json; charset=utf-8\r\n"
	    "Content-Length: %zu\r\n"
	    "Cache-Control: no-store\r\n"
	    "X-Content-Type-Options: nosniff\r\n"
	    "Referrer-Policy: no-referrer\r\n"
	    "Allow: POST\r\n"
	    "\r\n%s",
	    strlen(body), body);
	assert_string_equal(fake_sent(&f), want);
	req_free(&r);
	fake_free(&f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_match),
	    cmocka_unit_test(test_match_long),
	    cmocka_unit_test(test_find),
	    cmocka_unit_test(test_allow_bounded),
	    cmocka_unit_test(test_refuse),
	    cmocka_unit_test(test_refuse_exact),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
