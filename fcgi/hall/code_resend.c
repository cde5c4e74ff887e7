/*
 * hall-write: a new query code for a citizen who lost the receipt (SPEC 5.6), for a case
 * (resend.c) or an appointment (appt_resend.c). The flow is one; a struct resend_kind says
 * what differs: the store's appointment flag, the form's field, the pages and the words.
 *
 * The answer never holds the code: the store writes it in a `code` record for the county,
 * which sends it by SMS to the phone on file (lib/store/code.c). What a caller learns is
 * what a lookup's 404 already tells (whether the number is known), the last four digits
 * of the phone on file, and, when no code can be sent, why (a landline, a record closed
 * long ago), so that the citizen knows to come to the window instead. The request counts
 * against the address's submissions; a number whose lookups are locked after wrong codes
 * gets no new code until the lock ends, and a new code does not lift the lock (it is
 * counted per number, lib/core/limits.c).
 */
#include <stdio.h>
#include <string.h>

#include "site.h"

static const char *const resend_form_extra[] = {"csrf", NULL};

/* A refusal: the API's envelope, or the kind's form again with the message. */
static void
resend_fail(struct req *r, const struct resend_kind *k, int status, const char *code,
    const char *field, const char *message, int retry_after)
{
	char hdr[64] = "";

	if (retry_after > 0)
		snprintf(hdr, sizeof(hdr), "Retry-After: %d\r\n", retry_after);
	if (r->is_api)
		req_error_h(r, status, code, message, field, hdr[0] ? hdr : NULL);
	else
		form_again(r, status, k->form_page, field, message, hdr[0] ? hdr : NULL);
}

/*
 * The address's budget, then the body: the API takes none, or an empty JSON object (the
 * number is in the path); the form its number and CSRF token. 0: go on; -1: answered.
 */
static int
resend_start(struct req *r, const struct resend_kind *k)
{
	const char *cl = FCGX_GetParam("CONTENT_LENGTH", r->fr->envp);
	const char *field, *message;
	int retry;

	if (!limits_take(site.limits, LIMIT_SUBMIT, r->remote, site.cfg.submissions_per_min,
		&retry)) {
		send_too_many(r, retry, "提交过于频繁，请稍后再试。");
		return -1;
	}
	if (r->is_api && (cl == NULL || *cl == '\0' || strcmp(cl, "0") == 0))
		return 0;
	if (req_parse_body(r) == -1)
		return -1;
	if (!r->is_api && !csrf_check(field_value(&r->in, "csrf"), r->cookie, time(NULL))) {
		resend_fail(r, k, 403, "csrf", NULL,
		    "页面已过期，请再提交一次。（如多次出现，请允许浏览器保存 Cookie。）", 0);
		return -1;
	}
	if (fields_check(&r->in, &k->field, r->is_api ? 0 : 1,
		r->is_api ? NULL : resend_form_extra, &field, &message) == -1) {
		resend_fail(r, k, 422, "invalid_field", field, message, 0);
		return -1;
	}
	return 0;
}

/* What the store refused, told as a citizen can act on it. */
static void
resend_refused(struct req *r, const struct resend_kind *k, const struct code_resend *cr)
{
	char msg[512], phone[96];

	/* where a refused citizen can turn */
	if (site.cfg.phone != NULL)
		snprintf(phone, sizeof(phone), "或拨打大厅电话 %s", site.cfg.phone);
	else
		snprintf(phone, sizeof(phone), "或致电大厅");
	switch (cr->refused) {
	case CODE_NO_MOBILE:
		snprintf(msg, sizeof(msg), k->no_mobile, phone);
		resend_fail(r, k, 409, "no_mobile", NULL, msg, 0);
		return;
	case CODE_CLOSED:
		snprintf(msg, sizeof(msg), k->closed, CODE_CLOSED_DAYS, phone);
		resend_fail(r, k, 409, "closed", NULL, msg, 0);
		return;
	case CODE_TOO_SOON:
		snprintf(msg, sizeof(msg), "查询码 10 分钟内只能补发一次，请在 %d 分钟后再试。"
					   "短信可能稍有延迟，请先留意手机。",
		    (cr->retry_after + 59) / 60);
		resend_fail(r, k, 429, "resend_too_soon", NULL, msg, cr->retry_after);
		return;
	case CODE_DAY_LIMIT:
		snprintf(msg, sizeof(msg), k->day_limit, phone);
		resend_fail(r, k, 429, "resend_limit", NULL, msg, cr->retry_after);
		return;
	case CODE_ISSUED:
		break;
	}
	send_unavailable(r);
}

static void
resend_done(struct req *r, const struct resend_kind *k, const struct code_resend *cr)
{
	struct buf b;

	log_info("%s %s: a new query code is queued for the county (%s)", k->log_noun,
	    cr->case_no, cr->id);
	if (r->is_api) {
		buf_init(&b, 1024);
		buf_printf(&b, "{\"%s\":", k->field.name);
		buf_json_str(&b, cr->case_no);
		buf_json_member(&b, "status", "queued");
		buf_json_member(&b, "sent_to", cr->sent_to);
		buf_adds(&b, "}\n");
		req_send(r, 202, "application/json; charset=utf-8", &b, NULL);
	} else {
		buf_init(&b, PAGE_MAX);
		k->done_page(&b, cr->case_no, cr->sent_to);
		send_page(r, 200, &b);
	}
	buf_free(&b);
}

void
code_resend(struct req *r, const struct resend_kind *k)
{
	struct code_resend cr;
	struct store_write w = {0};
	const char *in, *nf_field;
	int retry;

	if (resend_start(r, k) == -1)
		return;
	memset(&cr, 0, sizeof(cr));
	cr.appointment = k->appointment;
	nf_field = r->is_api ? NULL : k->field.name;
	in = r->is_api ? r->arg : field_value(&r->in, k->field.name);
	if (in == NULL || caseno_normalize(cr.case_no, in) == -1 || !caseno_valid(cr.case_no)) {
		resend_fail(r, k, 404, "not_found", nf_field, k->bad_number, 0);
		return;
	}
	/* the county sends the code: a hall linked to none would only kill the old one */
	if (site.cfg.county_user == NULL) {
		resend_fail(r, k, 503, "no_county", NULL,
		    "本大厅暂不能补发查询码，请到窗口或拨打大厅电话办理。", 0);
		return;
	}
	if (limits_locked(site.limits, cr.case_no, &retry)) {
		resend_fail(r, k, 429, "too_many_requests", NULL, k->locked, retry);
		return;
	}
	w.kind = STORE_WRITE_CODE;
	w.resend = &cr;
	write_commit(&w);
	switch (w.rc) {
	case STORE_OK:
		resend_done(r, k, &cr);
		break;
	case STORE_NOT_FOUND:
		resend_fail(r, k, 404, "not_found", nf_field, k->not_found, 0);
		break;
	case STORE_CONFLICT:
		resend_refused(r, k, &cr);
		break;
	case STORE_CLOCK:
		req_error(r, 503, "clock_wrong",
		    "大厅设备时间不正确，暂时无法受理，请联系工作人员校准时间。", NULL);
		break;
	default:
		send_unavailable(r);
		break;
	}
}
