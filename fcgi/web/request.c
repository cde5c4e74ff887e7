/*
 * A FastCGI request as the handlers see it, and the responses they send. Every parameter
 * kept past FCGX_Finish_r is copied (we keep none). Input is checked here, once: body size,
 * content type, encoding; handlers get a kvlist of valid UTF-8 text.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "web.h"

static req_page_fn error_page;

void
req_set_error_page(req_page_fn fn)
{
	error_page = fn;
}

static const char *
param(FCGX_Request *fr, const char *name)
{
	const char *v = FCGX_GetParam(name, fr->envp);

	return v == NULL ? "" : v;
}

int
req_cookie(const struct req *r, const char *name, size_t len, char *out)
{
	return cookie_get(r->cookie_hdr, name, len, out);
}

void
req_init(struct req *r, FCGX_Request *fr)
{
	memset(r, 0, sizeof(*r));
	r->fr = fr;
	r->method = param(fr, "REQUEST_METHOD");
	r->path = param(fr, "DOCUMENT_URI");
	r->query = param(fr, "QUERY_STRING");
	r->ctype = param(fr, "CONTENT_TYPE");
	r->remote = param(fr, "REMOTE_ADDR");
	r->cookie_hdr = param(fr, "HTTP_COOKIE");
	r->https = strcmp(param(fr, "HTTPS"), "on") == 0;
	r->is_head = strcmp(r->method, "HEAD") == 0;
	r->is_api = strncmp(r->path, "/api/", 5) == 0;
	r->max_body = REQ_MAX_BODY;
	if (!req_cookie(r, CSRF_COOKIE, CSRF_COOKIE_LEN, r->cookie))
		r->cookie[0] = '\0';
}

void
req_free(struct req *r)
{
	free(r->body);
	kv_free(&r->in);
	r->body = NULL;
}

const char *
http_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 303: return "See Other";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Content";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	default: return "Status";
	}
}

/* The decimal digits of v, in buf (at least 21 bytes); returns buf. */
static char *
uint_text(char buf[24], unsigned long long v)
{
	char *p = buf + 23;

	*p = '\0';
	do
		*--p = (char)('0' + v % 10);
	while ((v /= 10) > 0);
	return memmove(buf, p, (size_t)(buf + 24 - p));
}

void
req_send(struct req *r, int status, const char *ctype, const struct buf *body,
    const char *extra)
{
	FCGX_Stream *out = r->fr->out;
	size_t len = body != NULL && !body->failed ? body->len : 0;
	struct buf h;

	char num[24];

	/* headers by appends, not printf: every answer has them, and vsnprintf is slow */
	buf_init(&h, 4096);
	buf_adds(&h, "Status: ");
	buf_adds(&h, uint_text(num, (unsigned long long)status));
	buf_addc(&h, ' ');
	buf_adds(&h, http_reason(status));
	buf_adds(&h, "\r\nContent-Type: ");
	buf_adds(&h, ctype);
	buf_adds(&h, "\r\nContent-Length: ");
	buf_adds(&h, uint_text(num, len));
	buf_adds(&h, "\r\nCache-Control: no-store\r\n"
		     "X-Content-Type-Options: nosniff\r\n"
		     "Referrer-Policy: no-referrer\r\n");
	if (strncmp(ctype, "text/html", 9) == 0)
		buf_adds(&h, "Content-Security-Policy: default-src 'none'; style-src 'self'; "
			     "img-src 'self'; form-action 'self'; frame-ancestors 'none'\r\n");
	if (r->cookie_is_new)
		buf_printf(&h, "Set-Cookie: %s=%s; Path=/; HttpOnly; SameSite=Strict%s\r\n",
		    CSRF_COOKIE, r->cookie, r->https ? "; Secure" : "");
	if (extra != NULL)
		buf_adds(&h, extra);
	buf_adds(&h, "\r\n");
	if (!h.failed)
		FCGX_PutStr(h.data, (int)h.len, out);
	buf_free(&h);
	if (len > 0 && !r->is_head)
		FCGX_PutStr(body->data, (int)len, out);
}

void
req_json(struct req *r, int status, const struct buf *body)
{
	if (body->failed) {
		req_error(r, 503, "unavailable", "服务暂时不可用，请稍后再试。", NULL);
		return;
	}
	req_send(r, status, "application/json; charset=utf-8", body, NULL);
}

void
req_page(struct req *r, int status, struct buf *page, const char *extra)
{
	if (page->failed) {
		/* a page over its cap or out of memory: say so plainly rather than truncate */
		buf_free(page);
		buf_init(page, 4096);
		buf_adds(page, "<!doctype html><meta charset=\"utf-8\"><p>页面暂时无法显示，请稍后再试。</p>");
		status = 503;
	}
	req_send(r, status, "text/html; charset=utf-8", page, extra);
}

int
json_error(struct buf *b, const char *code, const char *message, const char *field)
{
	buf_adds(b, "{\"error\":{\"code\":");
	buf_json_str(b, code);
	buf_adds(b, ",\"message\":");
	buf_json_str(b, message);
	if (field != NULL) {
		buf_adds(b, ",\"field\":");
		/* a field name from the client may be anything: keep it printable and short */
		buf_json_str(b, utf8_valid(field, strlen(field)) && strlen(field) <= KV_MAX_NAME ?
			field : "?");
	}
	return buf_adds(b, "}}\n");
}

void
req_error_h(struct req *r, int status, const char *code, const char *message,
    const char *field, const char *extra)
{
	struct buf b;

	if (!r->is_api && error_page != NULL) {
		error_page(r, status, message, extra);
		return;
	}
	buf_init(&b, 4096);
	if (r->is_api) {
		json_error(&b, code, message, field);
		req_send(r, status, "application/json; charset=utf-8", &b, extra);
	} else {
		buf_adds(&b, "<!doctype html><meta charset=\"utf-8\"><p>");
		buf_html(&b, message);
		buf_adds(&b, "</p>\n");
		req_page(r, status, &b, extra);
	}
	buf_free(&b);
}

void
req_error(struct req *r, int status, const char *code, const char *message, const char *field)
{
	req_error_h(r, status, code, message, field, NULL);
}

int
req_read_body(struct req *r)
{
	const char *cl = FCGX_GetParam("CONTENT_LENGTH", r->fr->envp);
	char *end;
	unsigned long n = 0;
	int got;

	if (cl != NULL && *cl != '\0') {
		n = strtoul(cl, &end, 10);
		if (*end != '\0') {
			req_error(r, 400, "malformed_body", "请求长度无效。", NULL);
			return -1;
		}
	}
	if (n > r->max_body) {
		char msg[96];

		snprintf(msg, sizeof(msg), "提交的内容过长（不得超过 %zu KiB）。", r->max_body / 1024);
		req_error(r, 413, "too_large", msg, NULL);
		return -1;
	}
	if ((r->body = malloc(n + 1)) == NULL) {
		req_error(r, 503, "unavailable", "服务暂时不可用，请稍后再试。", NULL);
		return -1;
	}
	got = n > 0 ? FCGX_GetStr(r->body, (int)n, r->fr->in) : 0;
	if (got < 0 || (unsigned long)got != n) {
		req_error(r, 400, "malformed_body", "请求内容不完整。", NULL);
		return -1;
	}
	r->body[n] = '\0';
	r->body_len = n;
	return 0;
}

/* 1 when the Content-Type is `want` with, at most, a UTF-8 charset parameter. */
static int
ctype_is(const char *ctype, const char *want)
{
	size_t n = strlen(want);
	const char *p;

	if (strncasecmp(ctype, want, n) != 0)
		return 0;
	p = ctype + n;
	while (*p == ' ')
		p++;
	if (*p == '\0')
		return 1;
	if (*p++ != ';')
		return 0;
	while (*p == ' ')
		p++;
	return strcasecmp(p, "charset=utf-8") == 0 || strcasecmp(p, "charset=\"utf-8\"") == 0;
}

static void
req_parse_failed(struct req *r, enum parse_err e)
{
	switch (e) {
	case PARSE_OK:
		break;
	case PARSE_NOMEM:
		req_error(r, 503, "unavailable", "服务暂时不可用，请稍后再试。", NULL);
		break;
	case PARSE_BAD_ENCODING:
		req_error(r, 400, "bad_encoding", "请求中的百分号编码无效。", r->in.bad_name);
		break;
	case PARSE_INVALID_UTF8:
		req_error(r, 400, "invalid_utf8", "请求内容不是有效的 UTF-8 文本。", r->in.bad_name);
		break;
	case PARSE_NUL:
		req_error(r, 400, "nul_byte", "请求内容含有空字符（NUL）。", r->in.bad_name);
		break;
	case PARSE_DUPLICATE:
		req_error(r, 400, "duplicate_field", "同一字段出现了两次。", r->in.bad_name);
		break;
	case PARSE_TOO_MANY:
		req_error(r, 400, "too_many_fields", "请求字段过多。", NULL);
		break;
	case PARSE_TOO_LONG:
		req_error(r, 422, "too_long", "字段内容过长。", r->in.bad_name);
		break;
	case PARSE_BAD_TYPE:
		req_error(r, 422, "invalid_type", "字段类型不正确。", r->in.bad_name);
		break;
	case PARSE_MALFORMED:
		req_error(r, 400, "malformed_body",
		    r->is_api ? "请求内容不是有效的 JSON 对象。" : "表单内容格式有误。", NULL);
		break;
	}
}

int
req_parse_body(struct req *r)
{
	enum parse_err e;

	if (r->is_api && !ctype_is(r->ctype, "application/json")) {
		req_error(r, 415, "unsupported_media_type",
		    "请以 application/json（UTF-8）提交。", NULL);
		return -1;
	}
	if (!r->is_api && !ctype_is(r->ctype, "application/x-www-form-urlencoded")) {
		req_error(r, 415, "unsupported_media_type",
		    "请以 application/x-www-form-urlencoded 提交表单。", NULL);
		return -1;
	}
	if (req_read_body(r) == -1)
		return -1;
	e = r->is_api ? kv_parse_json_bools(r->body, r->body_len, r->json_bools, &r->in) :
	    kv_parse_form(r->body, r->body_len, &r->in);
	if (e != PARSE_OK) {
		req_parse_failed(r, e);
		return -1;
	}
	return 0;
}

int
req_parse_query(struct req *r)
{
	enum parse_err e;

	if (strlen(r->query) > 4096) {
		req_error(r, 400, "malformed_query", "查询参数过长。", NULL);
		return -1;
	}
	if ((e = kv_parse_form(r->query, strlen(r->query), &r->in)) != PARSE_OK) {
		req_parse_failed(r, e);
		return -1;
	}
	return 0;
}

void
req_csrf_cookie(struct req *r)
{
	if (r->cookie[0] != '\0')
		return;
	csrf_new_cookie(r->cookie);
	r->cookie_is_new = 1;
}
