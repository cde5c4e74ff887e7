/*
 * hall-read: the pages, the progress lookup, guides and health, from a store opened
 * read-only. It never writes the hall store, so a flood of lookups cannot slow intake; the
 * lookup limits and lockouts live in the shared limits file.
 */
#include <stdio.h>
#include <string.h>

#include "site.h"

static void
show_form(struct req *r, void (*page)(struct buf *, const struct form_state *))
{
	char token[CSRF_TOKEN_LEN], key[CSRF_COOKIE_LEN + 1];
	struct form_state st = {0};
	struct buf b;

	form_token(r, token);
	csrf_new_cookie(key);	/* a fresh random value: one submission of this form */
	st.csrf_token = token;
	st.form_key = key;
	buf_init(&b, PAGE_MAX);
	page(&b, &st);
	send_page(r, 200, &b);
	buf_free(&b);
}

static void
h_home(struct req *r)
{
	struct buf b;

	buf_init(&b, PAGE_MAX);
	page_home(&b, &site.cfg);
	send_page(r, 200, &b);
	buf_free(&b);
}

static void
h_consult(struct req *r)
{
	show_form(r, page_consult);
}

static void
h_complaint(struct req *r)
{
	show_form(r, page_complaint);
}

static const struct field_spec lookup_fields[] = {
	{"case_no", 1, check_text, 40, NULL, "办件编号"},
	{"code", 1, check_code, 6, NULL, "查询码"},
};
static const char *const lookup_extra[] = {"csrf", NULL};

/* The progress form: POST, so the query code stays out of URLs, logs and history. */
static void
h_progress(struct req *r)
{
	struct form_state st = {0};
	struct case_view v;
	int retry;

	if (strcmp(r->method, "POST") != 0) {
		send_progress(r, 200, &st, NULL);
		return;
	}
	if (req_parse_body(r) == -1)
		return;
	st.in = &r->in;
	if (!csrf_check(field_value(&r->in, "csrf"), r->cookie, time(NULL))) {
		st.err_message = "页面已过期，请重新提交。（如多次出现，请允许浏览器保存 Cookie。）";
		send_progress(r, 403, &st, NULL);
		return;
	}
	if (!limits_take(site.limits, LIMIT_LOOKUP, r->remote, site.cfg.lookups_per_min, &retry)) {
		send_too_many(r, retry, "查询过于频繁，请稍后再试。");
		return;
	}
	if (fields_check(&r->in, lookup_fields, 2, lookup_extra, &st.err_field,
		&st.err_message) == -1) {
		send_progress(r, 422, &st, NULL);
		return;
	}
	switch (case_open(r, field_value(&r->in, "case_no"), field_value(&r->in, "code"), &v)) {
	case OPEN_OK:
		send_progress(r, 200, &st, &v);
		case_view_free(&v);
		return;
	case OPEN_BAD_NUMBER:
		st.err_field = "case_no";
		st.err_message = "办件编号有误，请对照回执核对（共 23 位）。";
		send_progress(r, 404, &st, NULL);
		return;
	case OPEN_NOT_FOUND:
		st.err_field = "code";
		st.err_message = "没有找到这个办件，或查询码不对。";
		send_progress(r, 404, &st, NULL);
		return;
	case OPEN_ANSWERED:
		return;
	}
}

/* The form that asks for a new query code; hall-write takes its POST (resend.c). */
static void
h_resend_form(struct req *r)
{
	char token[CSRF_TOKEN_LEN];
	struct form_state st = {0};
	struct buf b;

	form_token(r, token);
	st.csrf_token = token;
	buf_init(&b, PAGE_MAX);
	page_resend(&b, &st);
	send_page(r, 200, &b);
	buf_free(&b);
}

/* q for guide searches: at most 50 characters of one line. */
static const char *
guide_query(struct req *r)
{
	static const struct field_spec spec[] = {{"q", 0, check_text, 50, NULL, "搜索词"}};
	const char *field, *message, *q;

	if (req_parse_query(r) == -1)
		return NULL;
	if (fields_check(&r->in, spec, 1, NULL, &field, &message) == -1) {
		req_error(r, 422, "invalid_field", message, field);
		return NULL;
	}
	q = field_value(&r->in, "q");
	return q == NULL ? "" : q;
}

static void
h_guides(struct req *r)
{
	const char *q;
	struct buf b;

	if ((q = guide_query(r)) == NULL)
		return;
	buf_init(&b, PAGE_MAX);
	page_guides(&b, site_store, q);
	send_page(r, 200, &b);
	buf_free(&b);
}

/* One guide: its page, or (under /api/) its JSON. */
static void
h_guide(struct req *r)
{
	struct guide g;
	struct buf b;

	switch (store_guide_get(site_store, r->arg, &g)) {
	case STORE_OK:
		break;
	case STORE_NOT_FOUND:
		req_error(r, 404, "not_found", "没有这个办事指南。", NULL);
		return;
	default:
		send_unavailable(r);
		return;
	}
	buf_init(&b, PAGE_MAX);
	if (r->is_api) {
		render_guide_json(&b, &g, 1);
		buf_addc(&b, '\n');
		req_json(r, 200, &b);
	} else {
		page_guide(&b, &g);
		send_page(r, 200, &b);
	}
	buf_free(&b);
	guide_free(&g);
}

/* ---- JSON API ------------------------------------------------------------------- */

static void
h_api_health(struct req *r)
{
	struct sync_health h;
	char up[TIMEFMT_LEN], down[TIMEFMT_LEN];
	struct buf b;

	if (store_health(site_store, &site.cfg, &h) == -1) {
		send_unavailable(r);
		return;
	}
	timefmt_rfc3339(up, h.last_uplink_at);
	timefmt_rfc3339(down, h.last_downlink_at);
	buf_init(&b, 1024);
	buf_printf(&b,
	    "{\"status\":\"ok\",\"hall_code\":\"%s\",\"sync\":{\"backlog\":%ld,"
	    "\"last_uplink_at\":%s%s%s,\"last_downlink_at\":%s%s%s}}\n",
	    site.cfg.code, h.backlog, h.last_uplink_at ? "\"" : "", h.last_uplink_at ? up : "null",
	    h.last_uplink_at ? "\"" : "", h.last_downlink_at ? "\"" : "",
	    h.last_downlink_at ? down : "null", h.last_downlink_at ? "\"" : "");
	req_json(r, 200, &b);
	buf_free(&b);
}

static void
h_api_hall(struct req *r)
{
	struct buf b;

	buf_init(&b, 4096);
	hall_contact_json(&b, &site.cfg);
	req_json(r, 200, &b);
	buf_free(&b);
}

static void
h_api_case(struct req *r)
{
	const char *code;
	struct case_view v;
	struct buf b;

	if ((code = api_lookup_code(r)) == NULL)
		return;
	switch (case_open(r, r->arg, code, &v)) {
	case OPEN_OK:
		buf_init(&b, PAGE_MAX);
		render_case_json(&b, &v, time(NULL));
		req_json(r, 200, &b);
		buf_free(&b);
		case_view_free(&v);
		return;
	case OPEN_BAD_NUMBER:
		req_error(r, 404, "not_found", "办件编号有误（校验位不符），请核对后重试。", NULL);
		return;
	case OPEN_NOT_FOUND:
		req_error(r, 404, "not_found", "没有找到这个办件，或查询码不对。", NULL);
		return;
	case OPEN_ANSWERED:
		return;
	}
}

struct guides_ctx {
	struct buf *b;
	int n;
};

static int
guide_json_row(const struct guide *g, void *arg)
{
	struct guides_ctx *x = arg;

	if (x->n++ > 0)
		buf_addc(x->b, ',');
	return render_guide_json(x->b, g, 0);
}

static void
h_api_guides(struct req *r)
{
	struct guides_ctx x;
	const char *q;
	struct buf b;

	if ((q = guide_query(r)) == NULL)
		return;
	buf_init(&b, PAGE_MAX);
	x.b = &b;
	x.n = 0;
	buf_adds(&b, "{\"guides\":[");
	if (store_guides_search(site_store, q, guide_json_row, &x) == -1) {
		buf_free(&b);
		send_unavailable(r);
		return;
	}
	buf_adds(&b, "]}\n");
	req_json(r, 200, &b);
	buf_free(&b);
}

int
main(int argc, char *argv[])
{
	static const struct site_program hall_read = {
		.name = "hall-read",
		.readonly = 1,
		.handlers = {
			[R_HOME] = h_home,
			[R_CONSULT] = h_consult,
			[R_COMPLAINT] = h_complaint,
			[R_PROGRESS] = h_progress,
			[R_RESEND_FORM] = h_resend_form,
			[R_GUIDES] = h_guides,
			[R_GUIDE] = h_guide,
			[R_API_HEALTH] = h_api_health,
			[R_API_HALL] = h_api_hall,
			[R_API_CASE] = h_api_case,
			[R_API_GUIDES] = h_api_guides,
			[R_API_GUIDE] = h_guide,
			[R_APPTS] = appt_page,
			[R_APPT_LOOKUP] = appt_lookup_page,
			[R_API_APPT_SLOTS] = appt_slots_api,
			[R_API_APPT] = appt_get_api,
			[R_APPT_RESEND_FORM] = appt_resend_form,
		},
	};

	return site_main(argc, argv, &hall_read);
}
