/*
 * The hall's URL space, one table for both programs. nginx sends POSTs (but the lookup
 * form's) to hall-write and everything else to hall-read; each program gives a handler for
 * its own routes, and the table still lets it answer 405 with the right Allow for the rest.
 */
#include <stdio.h>
#include <string.h>

#include "web.h"

static const struct route {
	const char *method;
	const char *pattern;	/* '*' matches one non-empty path segment */
} routes[R__MAX] = {
	[R_HOME] = {"GET", "/"},
	[R_CONSULT] = {"GET POST", "/consult"},
	[R_COMPLAINT] = {"GET POST", "/complaint"},
	[R_PROGRESS] = {"GET POST", "/progress"},
	[R_RATE_FORM] = {"POST", "/progress/rating"},
	[R_GUIDES] = {"GET", "/guides"},
	[R_GUIDE] = {"GET", "/guides/*"},
	[R_API_HEALTH] = {"GET", "/api/v1/health"},
	[R_API_HALL] = {"GET", "/api/v1/hall"},
	[R_API_CONSULT] = {"POST", "/api/v1/consultations"},
	[R_API_COMPLAIN] = {"POST", "/api/v1/complaints"},
	[R_API_CASE] = {"GET", "/api/v1/cases/*"},
	[R_API_RATE] = {"POST", "/api/v1/cases/*/rating"},
	[R_API_GUIDES] = {"GET", "/api/v1/guides"},
	[R_API_GUIDE] = {"GET", "/api/v1/guides/*"},
};

int
route_match(const char *pattern, const char *path, struct req *r)
{
	while (*pattern != '\0') {
		if (*pattern == '*') {
			size_t n = strcspn(path, "/");

			if (n == 0 || n >= sizeof(r->argbuf))
				return 0;
			memcpy(r->argbuf, path, n);
			r->argbuf[n] = '\0';
			path += n;
			pattern++;
			continue;
		}
		if (*pattern++ != *path++)
			return 0;
	}
	return *path == '\0';
}

static int
method_in(const char *list, const char *method)
{
	size_t n = strlen(method);
	const char *p = list;

	while ((p = strstr(p, method)) != NULL) {
		if ((p == list || p[-1] == ' ') && (p[n] == '\0' || p[n] == ' '))
			return 1;
		p += n;
	}
	return 0;
}

void
route_dispatch(struct req *r, const handler_fn handlers[R__MAX])
{
	const char *method = r->is_head ? "GET" : r->method;
	char allow[64];
	size_t i;

	/* a trailing slash is the same page ("/guides/" is "/guides") */
	if (strlen(r->path) > 1 && r->path[strlen(r->path) - 1] == '/') {
		size_t n = strlen(r->path) - 1;

		if (n < sizeof(r->argbuf)) {
			static _Thread_local char trimmed[sizeof(r->argbuf)];

			memcpy(trimmed, r->path, n);
			trimmed[n] = '\0';
			r->path = trimmed;
		}
	}
	for (i = 0; i < R__MAX; i++) {
		if (!route_match(routes[i].pattern, r->path, r))
			continue;
		r->arg = r->argbuf;
		if (method_in(routes[i].method, method) && handlers[i] != NULL) {
			handlers[i](r);
			return;
		}
		if (method_in(routes[i].method, method)) {
			/* ours by the table, but this program has no handler: nginx misrouted it */
			req_error(r, 500, "misrouted", "服务配置有误，请联系大厅。", NULL);
			return;
		}
		snprintf(allow, sizeof(allow), "Allow: %s%s\r\n", routes[i].method,
		    strstr(routes[i].method, "GET") ? " HEAD" : "");
		for (char *p = allow + 7; *p != '\0'; p++)
			if (*p == ' ' && p[1] != '\0' && p[1] != '\r')
				*p = ',';
		if (r->is_api) {
			struct buf b;

			buf_init(&b, 1024);
			buf_adds(&b, "{\"error\":{\"code\":\"method_not_allowed\","
				     "\"message\":\"不支持此请求方法。\"}}\n");
			req_send(r, 405, "application/json; charset=utf-8", &b, allow);
			buf_free(&b);
		} else {
			struct buf b;

			buf_init(&b, PAGE_MAX);
			page_message(&b, "不支持此请求方法", "此页面不支持这种请求方式。");
			req_send(r, 405, "text/html; charset=utf-8", &b, allow);
			buf_free(&b);
		}
		return;
	}
	req_error(r, 404, "not_found", "没有找到您要的页面或记录。", NULL);
}

void
route_serve(FCGX_Request *fr, const handler_fn handlers[R__MAX],
    int (*takes)(const struct req *))
{
	struct req r;

	req_init(&r, fr);
	if (!takes(&r))
		req_error(&r, 405, "method_not_allowed", "不支持此请求方法。", NULL);
	else
		route_dispatch(&r, handlers);
	req_free(&r);
}
