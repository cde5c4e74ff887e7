/*
 * Route tables: each program declares its URL space as a table whose rows begin with a
 * struct route, and finds a request's row here. Answering a path that has no route, or a
 * method the path does not take, is the same for every program.
 */
#include <stdio.h>
#include <string.h>

#include "web.h"

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

/* 1 when method is one of the space-separated words of list. */
static int
method_in(const char *list, const char *method)
{
	size_t n = strlen(method);
	const char *p = list;

	if (n == 0)	/* strstr finds "" everywhere: the loop below would never end */
		return 0;
	while ((p = strstr(p, method)) != NULL) {
		if ((p == list || p[-1] == ' ') && (p[n] == '\0' || p[n] == ' '))
			return 1;
		p += n;
	}
	return 0;
}

/* Adds a row's methods to the Allow list ("GET, HEAD, POST"), each once. */
static void
allow_add(char *allow, size_t size, const char *methods)
{
	char word[16];
	const char *p = methods;

	while (*p != '\0') {
		size_t n = strcspn(p, " ");

		if (n > 0 && n < sizeof(word)) {
			memcpy(word, p, n);
			word[n] = '\0';
			for (int head = 0; head <= (strcmp(word, "GET") == 0); head++) {
				const char *m = head ? "HEAD" : word;
				size_t len = strlen(allow);

				if (!method_in(allow, m))
					snprintf(allow + len, size - len, "%s%s", len > 0 ? " " : "", m);
			}
		}
		p += n;
		while (*p == ' ')
			p++;
	}
}

int
route_find(const void *table, size_t n, size_t stride, struct req *r)
{
	const char *method = r->is_head ? "GET" : r->method;
	size_t i, len = strlen(r->path);

	/* a trailing slash is the same page ("/guides/" is "/guides") */
	if (len > 1 && r->path[len - 1] == '/' && len - 1 < sizeof(r->pathbuf)) {
		memcpy(r->pathbuf, r->path, len - 1);
		r->pathbuf[len - 1] = '\0';
		r->path = r->pathbuf;
	}
	r->allow[0] = '\0';
	r->arg = r->argbuf;
	for (i = 0; i < n; i++) {
		const struct route *rt = (const void *)((const char *)table + i * stride);

		if (!route_match(rt->pattern, r->path, r))
			continue;
		if (method_in(rt->methods, method))
			return (int)i;
		allow_add(r->allow, sizeof(r->allow), rt->methods);
	}
	return r->allow[0] != '\0' ? ROUTE_NO_METHOD : ROUTE_NOT_FOUND;
}

void
route_refuse(struct req *r, int rc)
{
	char hdr[2 * sizeof(r->allow) + 16];
	struct buf b;

	if (rc == ROUTE_NOT_FOUND) {
		req_error(r, 404, "not_found", "没有找到您要的页面或记录。", NULL);
		return;
	}
	/* "GET HEAD POST" is sent as "Allow: GET, HEAD, POST" */
	buf_init(&b, sizeof(hdr));
	buf_adds(&b, "Allow: ");
	for (const char *p = r->allow; *p != '\0'; p++)
		buf_adds(&b, *p == ' ' ? ", " : (char[]){*p, '\0'});
	buf_adds(&b, "\r\n");
	snprintf(hdr, sizeof(hdr), "%s", b.failed ? "" : b.data);
	buf_free(&b);
	req_error_h(r, 405, "method_not_allowed", "不支持此请求方法。", NULL, hdr);
}
