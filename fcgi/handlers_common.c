/* Responses and checks that both hall programs use. */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "web.h"

void
send_page(struct req *r, int status, struct buf *page)
{
	if (page->failed) {
		/* a page over PAGE_MAX or out of memory: say so plainly rather than truncate */
		buf_init(page, 4096);
		buf_adds(page, "<!doctype html><meta charset=\"utf-8\"><p>页面暂时无法显示，请稍后再试。</p>");
		status = 503;
	}
	req_send(r, status, "text/html; charset=utf-8", page, NULL);
}

void
send_too_many(struct req *r, int retry_after, const char *message)
{
	char hdr[64];
	struct buf b;

	snprintf(hdr, sizeof(hdr), "Retry-After: %d\r\n", retry_after);
	if (r->is_api) {
		buf_init(&b, 4096);
		buf_adds(&b, "{\"error\":{\"code\":\"too_many_requests\",\"message\":");
		buf_json_str(&b, message);
		buf_adds(&b, "}}\n");
		req_send(r, 429, "application/json; charset=utf-8", &b, hdr);
	} else {
		buf_init(&b, PAGE_MAX);
		page_message(&b, "请稍后再试", message);
		req_send(r, 429, "text/html; charset=utf-8", &b, hdr);
	}
	buf_free(&b);
}

void
send_unavailable(struct req *r)
{
	req_error(r, 503, "store_unavailable", "大厅系统暂时无法保存或读取数据，请稍后再试。",
	    NULL);
}

enum open_rc
case_open(const char *case_no_in, const char *code, struct case_view *v, int *retry_after)
{
	char case_no[CASENO_LEN + 1];
	enum store_rc rc;
	int good;

	*retry_after = 0;
	if (caseno_normalize(case_no, case_no_in) == -1 || !caseno_valid(case_no))
		return OPEN_BAD_NUMBER;
	if (limits_locked(web.limits, case_no, retry_after))
		return OPEN_LOCKED;
	rc = store_case_get(web_store, case_no, v);
	if (rc == STORE_ERR)
		return OPEN_ERROR;
	good = rc == STORE_OK && strlen(code) == 6 && sodium_memcmp(v->query_code, code, 6) == 0;
	if (!good) {
		if (rc == STORE_OK)
			case_view_free(v);
		limits_wrong_code(web.limits, case_no, web.cfg.wrong_code_max, web.cfg.lockout_min);
		return OPEN_NOT_FOUND;
	}
	return OPEN_OK;
}


void
form_token(struct req *r, char token[CSRF_TOKEN_LEN])
{
	req_csrf_cookie(r);
	if (csrf_token(token, r->cookie, time(NULL)) == -1)
		token[0] = '\0';
}

void
send_progress(struct req *r, int status, struct form_state *st, const struct case_view *v)
{
	char token[CSRF_TOKEN_LEN];
	struct buf b;

	form_token(r, token);
	st->csrf_token = token;
	buf_init(&b, PAGE_MAX);
	page_progress(&b, st, v, time(NULL));
	send_page(r, status, &b);
	buf_free(&b);
}
