/*
 * Appointments (SPEC 4.5), hall-read's side: the free slots (JSON), one appointment for a
 * citizen with its query code (JSON, and the lookup page), and the choosing pages of
 * /appointments (item, day, slot, then the form hall-write takes: appt_write.c). Also what
 * both programs share: opening an appointment with its code (the lockout of lib/core/limits
 * counts wrong codes per appointment number, as per case number), its status words and its
 * JSON.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "site.h"

const char *
appt_status_text(const char *status)
{
	static const char *const words[][2] = {
		{"booked", "已预约"}, {"confirmed", "已确认"}, {"refused", "未同意"},
		{"cancelled", "已取消"}, {"attended", "已办理"}, {"no_show", "未到"},
	};
	size_t i;

	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strcmp(words[i][0], status) == 0)
			return words[i][1];
	return status;
}

enum open_rc
appt_open(struct req *r, const char *no_in, const char *code, struct appt_view *v)
{
	char no[CASENO_LEN + 1];
	enum store_rc rc;
	int retry_after;

	if (no_in == NULL || caseno_normalize(no, no_in) == -1 || !caseno_valid(no))
		return OPEN_BAD_NUMBER;
	if (limits_locked(site.limits, no, &retry_after)) {
		send_too_many(r, retry_after, "这个预约的查询码错误次数过多，已暂停查询，请稍后再试。");
		return OPEN_ANSWERED;
	}
	if ((rc = store_appt_get(site_store, no, v)) == STORE_ERR) {
		send_unavailable(r);
		return OPEN_ANSWERED;
	}
	if (rc != STORE_OK || code == NULL || !store_appt_code_ok(site_store, v, code)) {
		if (rc == STORE_OK)
			appt_view_free(v);
		limits_wrong_code(site.limits, no, site.cfg.wrong_code_max, site.cfg.lockout_min);
		return OPEN_NOT_FOUND;
	}
	return OPEN_OK;
}

char *
appt_materials(const char *guide_id)
{
	struct guide g;
	char *m;

	if (guide_id == NULL || *guide_id == '\0' ||
	    store_guide_get(site_store, guide_id, &g) != STORE_OK)
		return NULL;
	m = g.materials;
	g.materials = NULL;
	guide_free(&g);
	return m;
}

static int
appt_json(struct buf *b, const struct appt_view *v)
{
	char phone[32];

	phone_mask(phone, v->phone);
	buf_adds(b, "{\"appointment_no\":");
	buf_json_str(b, v->appointment_no);
	buf_json_member(b, "item", v->item);
	buf_json_member(b, "item_name", v->item_name);
	buf_json_member(b, "date", v->date);
	buf_json_member(b, "start", v->start);
	buf_json_member(b, "end", v->end);
	buf_json_member(b, "place", v->place);
	buf_json_member(b, "status", v->status);
	buf_json_member(b, "status_text", appt_status_text(v->status));
	if (strcmp(v->status, "refused") == 0)
		buf_json_member(b, "reason", v->reason != NULL ? v->reason : "");
	buf_json_member(b, "phone_masked", phone);
	buf_json_time(b, "created_at", v->created_at);
	buf_adds(b, "}\n");
	return b->failed ? -1 : 0;
}

/* ---- the free slots ---------------------------------------------------------------- */

/* The item's schedule and its slots_in at now; -1 when it has answered (404, 422, 503). */
static int
appt_item_open(struct req *r, const char *item, struct appt_sched *a, struct slots_in *in)
{
	const struct calendar *cal;

	switch (store_appt_sched(site_store, item, a)) {
	case STORE_OK:
		break;
	case STORE_NOT_FOUND:
		req_error(r, r->is_api ? 422 : 404, "invalid_field", "没有这个预约事项。", "item");
		return -1;
	default:
		send_unavailable(r);
		return -1;
	}
	if ((cal = store_calendar(site_store)) == NULL) {
		appt_sched_free(a);
		send_unavailable(r);
		return -1;
	}
	appt_sched_slots_in(a, cal, time(NULL), site.cfg.appt_days_ahead, in);
	return 0;
}

struct slots_json {
	struct buf *b;
	const char *item;
	int n;
};

static int
slot_json(const struct ymd *d, const struct slot_def *def, void *arg)
{
	struct slots_json *x = arg;
	char date[11];
	long left = appt_left(site_store, x->item, d, def);

	if (left == 0)
		return 0;
	slots_format_date(date, d);
	buf_printf(x->b, "%s{\"date\":\"%s\",\"start\":\"%s\",\"end\":\"%s\",\"left\":%ld}",
	    x->n++ > 0 ? "," : "", date, def->start, def->end, left);
	return 0;
}

static const struct field_spec slots_fields[] = {
	{"item", 1, check_text, 64, NULL, "预约事项"},
	{"from", 0, check_text, 10, NULL, "起始日期"},
};

void
appt_slots_api(struct req *r)
{
	const char *field, *message, *from;
	struct slots_json x = {0};
	struct appt_sched a;
	struct slots_in in;
	struct ymd d;
	struct buf b;

	if (req_parse_query(r) == -1)
		return;
	if (fields_check(&r->in, slots_fields, 2, NULL, &field, &message) == -1) {
		req_error(r, 422, "invalid_field", message, field);
		return;
	}
	from = field_value(&r->in, "from");
	if (from != NULL && slots_parse_date(from, &d) == -1) {
		req_error(r, 422, "invalid_field", "日期格式应为 YYYY-MM-DD。", "from");
		return;
	}
	if (appt_item_open(r, field_value(&r->in, "item"), &a, &in) == -1)
		return;
	buf_init(&b, PAGE_MAX);
	x.b = &b;
	x.item = a.item.id;
	buf_adds(&b, "{\"slots\":[");
	slots_generate(&in, from != NULL ? &d : NULL, slot_json, &x);
	buf_adds(&b, "]}\n");
	req_json(r, 200, &b);
	buf_free(&b);
	appt_sched_free(&a);
}

/* ---- one appointment --------------------------------------------------------------- */

void
appt_get_api(struct req *r)
{
	const char *code;
	struct appt_view v;
	struct buf b;

	if ((code = api_lookup_code(r)) == NULL)
		return;
	switch (appt_open(r, r->arg, code, &v)) {
	case OPEN_OK:
		buf_init(&b, 16384);
		appt_json(&b, &v);
		req_json(r, 200, &b);
		buf_free(&b);
		appt_view_free(&v);
		return;
	case OPEN_BAD_NUMBER:
	case OPEN_NOT_FOUND:
		req_error(r, 404, "not_found", "没有找到这个预约，或查询码不对。", NULL);
		return;
	case OPEN_ANSWERED:
		return;
	}
}

/* The lookup page: its form (GET), the appointment with its cancel form (POST). */
void
appt_lookup_page(struct req *r)
{
	static const struct field_spec spec[] = {
		{"appointment_no", 1, check_text, 40, NULL, "预约号"},
		{"code", 1, check_code, 6, NULL, "查询码"},
	};
	static const char *const extra[] = {"csrf", NULL};
	char token[CSRF_TOKEN_LEN], *materials = NULL;
	struct form_state st = {0};
	struct appt_view v, *shown = NULL;
	int status = 200, retry;
	struct buf b;

	if (strcmp(r->method, "POST") == 0) {
		if (req_parse_body(r) == -1)
			return;
		st.in = &r->in;
		if (!csrf_check(field_value(&r->in, "csrf"), r->cookie, time(NULL))) {
			status = 403;
			st.err_message = "页面已过期，请重新提交。（如多次出现，请允许浏览器保存 Cookie。）";
		} else if (!limits_take(site.limits, LIMIT_LOOKUP, r->remote,
			       site.cfg.lookups_per_min, &retry)) {
			send_too_many(r, retry, "查询过于频繁，请稍后再试。");
			return;
		} else if (fields_check(&r->in, spec, 2, extra, &st.err_field, &st.err_message) ==
		    -1)
			status = 422;
		else
			switch (appt_open(r, field_value(&r->in, "appointment_no"),
			    field_value(&r->in, "code"), &v)) {
			case OPEN_OK:
				shown = &v;
				materials = appt_materials(v.guide_id);
				break;
			case OPEN_BAD_NUMBER:
				status = 404;
				st.err_field = "appointment_no";
				st.err_message = "预约号有误，请对照回执核对（共 23 位）。";
				break;
			case OPEN_NOT_FOUND:
				status = 404;
				st.err_field = "code";
				st.err_message = "没有找到这个预约，或查询码不对。";
				break;
			case OPEN_ANSWERED:
				return;
			}
	}
	form_token(r, token);
	st.csrf_token = token;
	buf_init(&b, PAGE_MAX);
	apage_lookup(&b, &st, shown, materials);
	send_page(r, status, &b);
	buf_free(&b);
	free(materials);
	if (shown != NULL)
		appt_view_free(&v);
}

/* ---- the choosing pages ------------------------------------------------------------ */

static const struct field_spec choose_fields[] = {
	{"item", 0, check_text, 64, NULL, "预约事项"},
	{"date", 0, check_text, 10, NULL, "日期"},
	{"start", 0, check_text, 5, NULL, "时段"},
};

void
appt_show_form(struct req *r, int status, struct form_state *st, const struct appt_sched *a,
    const char *date, const struct slot_def *def)
{
	struct appt_choice c = {.item = a->item.id, .item_name = a->item.name, .date = date,
	    .start = def->start, .end = def->end, .place = a->item.place};
	char token[CSRF_TOKEN_LEN];
	struct buf b;

	form_token(r, token);
	st->csrf_token = token;
	buf_init(&b, PAGE_MAX);
	apage_form(&b, st, &c);
	send_page(r, status, &b);
	buf_free(&b);
}

/* GET /appointments: items; ?item: its days; &date: the day's slots; &start: the form. */
void
appt_page(struct req *r)
{
	const char *field = NULL, *message, *item, *date, *start;
	const struct slot_def *def;
	struct form_state st = {0};
	struct appt_sched a;
	struct slots_in in;
	struct ymd d;
	struct buf b;

	if (req_parse_query(r) == -1)
		return;
	buf_init(&b, PAGE_MAX);
	if (fields_check(&r->in, choose_fields, 3, NULL, &field, &message) == -1 ||
	    (item = field_value(&r->in, "item")) == NULL) {
		apage_items(&b, site_store, field != NULL && kv_get(&r->in, "item") != NULL ?
		    message : NULL);
		send_page(r, 200, &b);
		buf_free(&b);
		return;
	}
	if (appt_item_open(r, item, &a, &in) == -1) {
		buf_free(&b);
		return;
	}
	date = field_value(&r->in, "date");
	start = field_value(&r->in, "start");
	if (date == NULL || slots_parse_date(date, &d) == -1 ||
	    slots_date_check(&in, &d) != SLOTS_DATE_OK)
		apage_days(&b, &a, &in, site_store);
	else if (start == NULL || (def = slots_find(&in, &d, start)) == NULL)
		apage_slots(&b, &a, &in, &d, site_store);
	else {
		char key[CSRF_COOKIE_LEN + 1];

		buf_free(&b);
		csrf_new_cookie(key);
		st.form_key = key;
		appt_show_form(r, 200, &st, &a, date, def);
		appt_sched_free(&a);
		return;
	}
	send_page(r, 200, &b);
	buf_free(&b);
	appt_sched_free(&a);
}

/* GET /appointments/resend: the form asking for a new query code (appt_resend.c takes it). */
void
appt_resend_form(struct req *r)
{
	char token[CSRF_TOKEN_LEN];
	struct form_state st = {0};
	struct buf b;

	form_token(r, token);
	st.csrf_token = token;
	buf_init(&b, PAGE_MAX);
	apage_resend(&b, &st);
	send_page(r, 200, &b);
	buf_free(&b);
}
