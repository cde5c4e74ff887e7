/*
 * hall-write: a new query code for an appointment whose receipt was lost (SPEC 5.6: "and
 * the same for appointments"), from the form at /appointments/resend and from POST
 * /api/v1/appointments/{appointment_no}/resend-code.
 *
 * The rules are the case's (resend.c): the store (lib/store/code.c, with its appointment
 * flag) replaces the code and its MAC at once and writes a `code` record for the county
 * alone, which sends the code by SMS to the appointment's phone; one code in 10 minutes
 * and 3 in 24 hours per number; the same 404 for an unknown number as a lookup gives; 409
 * for a landline; 503 when the hall has no county to send it. The answer never holds the
 * code, only the last four digits of the phone on file.
 */
#include <stdio.h>
#include <string.h>

#include "site.h"

static const struct field_spec aresend_fields[] = {
	{"appointment_no", 1, check_text, 40, NULL, "预约号"},
};
static const char *const aresend_form_extra[] = {"csrf", NULL};

/* A refusal: the API's envelope, or the form again with the message. */
static void
aresend_fail(struct req *r, int status, const char *code, const char *field,
    const char *message, int retry_after)
{
	char token[CSRF_TOKEN_LEN], hdr[64] = "";
	struct form_state st = {0};
	struct buf b;

	if (retry_after > 0)
		snprintf(hdr, sizeof(hdr), "Retry-After: %d\r\n", retry_after);
	if (r->is_api) {
		req_error_h(r, status, code, message, field, hdr[0] ? hdr : NULL);
		return;
	}
	form_token(r, token);
	st.in = &r->in;
	st.err_field = field;
	st.err_message = message;
	st.csrf_token = token;
	buf_init(&b, PAGE_MAX);
	apage_resend(&b, &st);
	req_page(r, status, &b, hdr[0] ? hdr : NULL);
	buf_free(&b);
}

/* The address's budget, then the body (the API: none or an empty object). 0: go on. */
static int
aresend_start(struct req *r)
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
		aresend_fail(r, 403, "csrf", NULL,
		    "页面已过期，请再提交一次。（如多次出现，请允许浏览器保存 Cookie。）", 0);
		return -1;
	}
	if (fields_check(&r->in, aresend_fields, r->is_api ? 0 : 1,
		r->is_api ? NULL : aresend_form_extra, &field, &message) == -1) {
		aresend_fail(r, 422, "invalid_field", field, message, 0);
		return -1;
	}
	return 0;
}

/* What the store refused, told as a citizen can act on it. */
static void
aresend_refused(struct req *r, const struct code_resend *cr)
{
	char msg[512], phone[96];

	if (site.cfg.phone != NULL)
		snprintf(phone, sizeof(phone), "或拨打大厅电话 %s", site.cfg.phone);
	else
		snprintf(phone, sizeof(phone), "或致电大厅");
	switch (cr->refused) {
	case CODE_NO_MOBILE:
		snprintf(msg, sizeof(msg), "这个预约登记的联系电话不是手机号码，无法用短信补发查询码。"
					   "请携带有效身份证件到大厅窗口，%s。", phone);
		aresend_fail(r, 409, "no_mobile", NULL, msg, 0);
		return;
	case CODE_CLOSED:
		snprintf(msg, sizeof(msg), "这个预约已结束超过 %d 天，不再补发查询码。%s。",
		    CODE_CLOSED_DAYS, phone);
		aresend_fail(r, 409, "closed", NULL, msg, 0);
		return;
	case CODE_TOO_SOON:
		snprintf(msg, sizeof(msg), "查询码 10 分钟内只能补发一次，请在 %d 分钟后再试。"
					   "短信可能稍有延迟，请先留意手机。",
		    (cr->retry_after + 59) / 60);
		aresend_fail(r, 429, "resend_too_soon", NULL, msg, cr->retry_after);
		return;
	case CODE_DAY_LIMIT:
		snprintf(msg, sizeof(msg), "这个预约 24 小时内已补发 3 次查询码，请稍后再试，%s。",
		    phone);
		aresend_fail(r, 429, "resend_limit", NULL, msg, cr->retry_after);
		return;
	case CODE_ISSUED:
		break;
	}
	send_unavailable(r);
}

static void
aresend_done(struct req *r, const struct code_resend *cr)
{
	struct buf b;

	log_info("appointment %s: a new query code is queued for the county (%s)", cr->case_no,
	    cr->id);
	if (r->is_api) {
		buf_init(&b, 1024);
		buf_adds(&b, "{\"appointment_no\":");
		buf_json_str(&b, cr->case_no);
		buf_json_member(&b, "status", "queued");
		buf_json_member(&b, "sent_to", cr->sent_to);
		buf_adds(&b, "}\n");
		req_send(r, 202, "application/json; charset=utf-8", &b, NULL);
	} else {
		buf_init(&b, PAGE_MAX);
		apage_resent(&b, cr->case_no, cr->sent_to);
		send_page(r, 200, &b);
	}
	buf_free(&b);
}

void
appt_resend(struct req *r)
{
	struct code_resend cr;
	struct store_write w = {0};
	const char *in, *nf_field;
	int retry;

	if (aresend_start(r) == -1)
		return;
	memset(&cr, 0, sizeof(cr));
	cr.appointment = 1;
	nf_field = r->is_api ? NULL : "appointment_no";
	in = r->is_api ? r->arg : field_value(&r->in, "appointment_no");
	if (in == NULL || caseno_normalize(cr.case_no, in) == -1 || !caseno_valid(cr.case_no)) {
		aresend_fail(r, 404, "not_found", nf_field,
		    "预约号有误（校验位不符），请对照回执核对。", 0);
		return;
	}
	/* the county sends the code: a hall linked to none would only kill the old one */
	if (site.cfg.county_user == NULL) {
		aresend_fail(r, 503, "no_county", NULL,
		    "本大厅暂不能补发查询码，请到窗口或拨打大厅电话办理。", 0);
		return;
	}
	if (limits_locked(site.limits, cr.case_no, &retry)) {
		aresend_fail(r, 429, "too_many_requests", NULL,
		    "这个预约的查询码错误次数过多，已暂停查询和补发，请稍后再试。", retry);
		return;
	}
	w.kind = STORE_WRITE_CODE;
	w.resend = &cr;
	write_commit(&w);
	switch (w.rc) {
	case STORE_OK:
		aresend_done(r, &cr);
		break;
	case STORE_NOT_FOUND:
		aresend_fail(r, 404, "not_found", nf_field, "没有找到这个预约，请核对预约号。", 0);
		break;
	case STORE_CONFLICT:
		aresend_refused(r, &cr);
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
