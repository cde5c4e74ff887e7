/*
 * Appointments (SPEC 4.5), hall-write's side: a booking (the form of /appointments and
 * POST /api/v1/appointments) and a cancellation with the query code (the lookup page's
 * form and POST /api/v1/appointments/{no}/cancel). Each goes through the process's group
 * commit (hall_write.c, lib/store/appointment.c): the answer is sent once it is durable.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "site.h"

static const struct field_spec book_fields[] = {
	{"item", 1, check_text, 64, NULL, "预约事项"},
	{"date", 1, check_text, 10, NULL, "日期"},
	{"start", 1, check_text, 5, NULL, "时段"},
	{"name", 1, check_text, 50, NULL, "预约人姓名"},
	{"phone", 1, check_phone, 0, NULL, "联系电话"},
	{"email", 0, check_email, 0, NULL, "电子邮箱"},	/* SPEC 5.6: for the e-mail notices */
	{"note", 0, check_multiline, 200, NULL, "备注"},
};
static const char *const book_form_extra[] = {"csrf", "key", "notify", "notify_shown", NULL};
static const char *const book_api_extra[] = {"notify", NULL};
static const char *const book_api_bools[] = {"notify", NULL};

/* The form again with the message beside its field; the choices from the schedule. */
static void
book_again(struct req *r, int status, const char *field, const char *message)
{
	const char *date = field_value(&r->in, "date"), *start = field_value(&r->in, "start");
	struct form_state st = {.in = &r->in, .err_field = field, .err_message = message};
	struct slot_def def = {0};
	struct appt_sched a;
	struct buf b;
	size_t i;

	if (field_value(&r->in, "item") == NULL ||
	    store_appt_sched(site_store, field_value(&r->in, "item"), &a) != STORE_OK) {
		buf_init(&b, PAGE_MAX);
		apage_items(&b, site_store, message);
		send_page(r, status, &b);
		buf_free(&b);
		return;
	}
	snprintf(def.start, sizeof(def.start), "%s", start != NULL ? start : "");
	for (i = 0; i < a.ndefs; i++)
		if (strcmp(a.defs[i].start, def.start) == 0)
			snprintf(def.end, sizeof(def.end), "%s", a.defs[i].end);
	appt_show_form(r, status, &st, &a, date != NULL ? date : "", &def);
	appt_sched_free(&a);
}

static void
book_fail(struct req *r, int status, const char *code, const char *field, const char *message)
{
	if (r->is_api)
		req_error(r, status, code, message, field);
	else
		book_again(r, status, field, message);
}

static const char *
refusal_message(enum appt_refusal why, char *buf, size_t len)
{
	switch (why) {
	case APPT_BAD_ITEM: return "没有这个预约事项。";
	case APPT_BAD_DATE: return "日期格式应为 YYYY-MM-DD。";
	case APPT_PAST: return "只能预约明天及以后的日期。";
	case APPT_FAR:
		snprintf(buf, len, "只能预约明天起 %d 天内的日期。", site.cfg.appt_days_ahead);
		return buf;
	case APPT_NOT_WORKDAY: return "这一天不是工作日，或大厅不受理预约。";
	case APPT_BAD_START: return "这一天没有这个时段。";
	case APPT_FULL: return "该时段已约满，请选择其他时段。";
	case APPT_OK: break;
	}
	return "预约未成功。";
}

/* The citizen's notify (SPEC 5.6): -1 when it has answered (422). */
static int
book_notify(struct req *r, int *off)
{
	const struct kv *kv = kv_get(&r->in, "notify");

	if (r->is_api) {
		if (kv != NULL && !kv->is_bool) {
			req_error(r, 422, "invalid_field", "notify 应为 true 或 false。", "notify");
			return -1;
		}
		*off = kv != NULL && strcmp(kv->value, "false") == 0;
	} else
		*off = kv_get(&r->in, "notify_shown") != NULL && kv == NULL;
	return 0;
}

static void
book_done(struct req *r, const struct appt_booking *k)
{
	char *materials;
	struct buf b;

	if (!k->replayed)
		log_info("appointment %s booked (%s %s %s)", k->appointment_no, k->item, k->date,
		    k->start);
	if (r->is_api) {
		char loc[96];

		buf_init(&b, 4096);
		buf_adds(&b, "{\"id\":");
		buf_json_str(&b, k->id);
		buf_json_member(&b, "appointment_no", k->appointment_no);
		buf_json_member(&b, "query_code", k->query_code);
		buf_json_member(&b, "item", k->item);
		buf_json_member(&b, "date", k->date);
		buf_json_member(&b, "start", k->start);
		buf_json_member(&b, "end", k->end);
		buf_json_member(&b, "place", k->place);
		buf_adds(&b, ",\"status\":\"booked\"}\n");
		snprintf(loc, sizeof(loc), "Location: /api/v1/appointments/%s\r\n",
		    k->appointment_no);
		req_send(r, k->replayed ? 200 : 201, "application/json; charset=utf-8", &b, loc);
		buf_free(&b);
		return;
	}
	materials = appt_materials(k->guide_id);
	buf_init(&b, PAGE_MAX);
	apage_receipt(&b, k, materials);
	send_page(r, 200, &b);
	buf_free(&b);
	free(materials);
}

void
appt_book(struct req *r)
{
	const char *field, *message;
	struct appt_booking k = {0};
	struct store_write w = {0};
	char phone[64], msg[96], key[65];
	int retry;

	r->json_bools = book_api_bools;
	if (!limits_take(site.limits, LIMIT_SUBMIT, r->remote, site.cfg.submissions_per_min,
		&retry)) {
		send_too_many(r, retry, "提交过于频繁，请稍后再试。");
		return;
	}
	if (req_parse_body(r) == -1)
		return;
	if (!r->is_api && !csrf_check(field_value(&r->in, "csrf"), r->cookie, time(NULL))) {
		book_again(r, 403, NULL,
		    "页面已过期，请再提交一次。（如多次出现，请允许浏览器保存 Cookie。）");
		return;
	}
	if (fields_check(&r->in, book_fields, sizeof(book_fields) / sizeof(book_fields[0]),
		r->is_api ? book_api_extra : book_form_extra, &field, &message) == -1) {
		book_fail(r, 422, "invalid_field", field, message);
		return;
	}
	if (book_notify(r, &k.notify_off) == -1)
		return;
	snprintf(phone, sizeof(phone), "%s", field_value(&r->in, "phone"));
	phone_normalize(phone);
	k.cfg = &site.cfg;
	k.item = field_value(&r->in, "item");
	k.date = field_value(&r->in, "date");
	k.start = field_value(&r->in, "start");
	k.name = field_value(&r->in, "name");
	k.phone = phone;
	k.note = field_value(&r->in, "note");
	k.email = field_value(&r->in, "email");
	{
		const char *rkey = retry_key_given(r);
		const char *parts[] = {"appointment", k.item, k.date, k.start, k.name, k.phone,
		    k.note, k.email, k.notify_off ? "notify=false" : "notify", rkey};

		switch (retry_key_hash(rkey, parts, sizeof(parts) / sizeof(parts[0]), key)) {
		case 1:
			k.dedup_key = key;
			break;
		case -1:
			if (r->is_api)
				req_error(r, 400, "bad_idempotency_key",
				    "Idempotency-Key 须为 8 到 128 个字符。", NULL);
			else
				book_again(r, 400, NULL, "页面已过期，请刷新后再提交。");
			return;
		default:
			break;
		}
	}
	w.kind = STORE_WRITE_APPT;
	w.booking = &k;
	write_commit(&w);
	switch (w.rc) {
	case STORE_OK:
		book_done(r, &k);
		return;
	case STORE_CONFLICT:
		book_fail(r, 409, "slot_full", NULL, refusal_message(APPT_FULL, msg, sizeof(msg)));
		return;
	case STORE_NOT_FOUND:
		book_fail(r, 422, "invalid_field", appt_refusal_field(k.refused),
		    refusal_message(k.refused, msg, sizeof(msg)));
		return;
	case STORE_CLOCK:
		req_error(r, 503, "clock_wrong",
		    "大厅设备时间不正确，暂时无法受理，请联系工作人员校准时间。", NULL);
		return;
	default:
		send_unavailable(r);
		return;
	}
}

/* ---- cancelling ------------------------------------------------------------------ */

static void
cancel_fail(struct req *r, int status, const char *code, const char *field,
    const char *message)
{
	char token[CSRF_TOKEN_LEN];
	struct form_state st = {.in = &r->in, .err_field = field, .err_message = message};
	struct buf b;

	if (r->is_api) {
		req_error(r, status, code, message, field);
		return;
	}
	form_token(r, token);
	st.csrf_token = token;
	buf_init(&b, PAGE_MAX);
	apage_lookup(&b, &st, NULL, NULL);
	send_page(r, status, &b);
	buf_free(&b);
}

void
appt_cancel(struct req *r)
{
	static const struct field_spec api_fields[] = {
		{"code", 1, check_code, 6, NULL, "查询码"},
	};
	static const struct field_spec form_fields[] = {
		{"code", 1, check_code, 6, NULL, "查询码"},
		{"appointment_no", 1, check_text, 40, NULL, "预约号"},
	};
	static const char *const form_extra[] = {"csrf", NULL};
	const char *field, *message, *no;
	struct appt_cancel c = {0};
	struct store_write w = {0};
	struct appt_view v;
	struct buf b;
	int retry;

	if (!limits_take(site.limits, LIMIT_SUBMIT, r->remote, site.cfg.submissions_per_min,
		&retry)) {
		send_too_many(r, retry, "提交过于频繁，请稍后再试。");
		return;
	}
	if (req_parse_body(r) == -1)
		return;
	if (!r->is_api && !csrf_check(field_value(&r->in, "csrf"), r->cookie, time(NULL))) {
		cancel_fail(r, 403, NULL, NULL, "页面已过期，请重新查询后再取消。");
		return;
	}
	if ((r->is_api ? fields_check(&r->in, api_fields, 1, NULL, &field, &message) :
		fields_check(&r->in, form_fields, 2, form_extra, &field, &message)) == -1) {
		cancel_fail(r, 422, "invalid_field", field, message);
		return;
	}
	no = r->is_api ? r->arg : field_value(&r->in, "appointment_no");
	switch (appt_open(r, no, field_value(&r->in, "code"), &v)) {
	case OPEN_OK:
		break;
	case OPEN_BAD_NUMBER:
	case OPEN_NOT_FOUND:
		cancel_fail(r, 404, "not_found", NULL, "没有找到这个预约，或查询码不对。");
		return;
	case OPEN_ANSWERED:
		return;
	}
	snprintf(c.appointment_no, sizeof(c.appointment_no), "%s", v.appointment_no);
	appt_view_free(&v);
	w.kind = STORE_WRITE_APPT_CANCEL;
	w.cancel = &c;
	write_commit(&w);
	switch (w.rc) {
	case STORE_OK:
		log_info("appointment %s cancelled", c.appointment_no);
		break;
	case STORE_NOT_YET:
		cancel_fail(r, 409, "not_cancellable", NULL,
		    "这个预约已取消、已办理或已过预约日期，不能再取消。");
		return;
	case STORE_NOT_FOUND:
		cancel_fail(r, 404, "not_found", NULL, "没有找到这个预约，或查询码不对。");
		return;
	default:
		send_unavailable(r);
		return;
	}
	if (r->is_api) {
		buf_init(&b, 1024);
		buf_adds(&b, "{\"appointment_no\":");
		buf_json_str(&b, c.appointment_no);
		buf_adds(&b, ",\"status\":\"cancelled\"}\n");
		req_json(r, 200, &b);
	} else {
		buf_init(&b, PAGE_MAX);
		apage_cancelled(&b, c.appointment_no);
		send_page(r, 200, &b);
	}
	buf_free(&b);
}
