/*
 * Appointments at the window (SPEC 4.4, 4.5; issue 14): hall staff, signed in (window.c's
 * sessions and form tokens), see the hall's appointments of a day, mark one of today or
 * earlier attended (已办理) or no_show (未到), and book for a citizen who phoned or walked
 * in. The booking is the citizens' own write (STORE_WRITE_APPT in the group commit: the
 * slot's capacity holds whoever books) with the channel (window 现场, phone 电话) and the
 * account as registrar; its receipt is printed like a case's (window_appt_pages.c). A mark
 * is STORE_WRITE_APPT_MARK: the status, an appt_events row and an appt_event record for
 * the county, in one transaction, once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "site.h"

static const char *const appt_channels[] = {"window", "phone", NULL};
static const char *const marks[] = {"attended", "no_show", NULL};

static const struct field_spec book_fields[] = {
	{"item", 1, check_text, 64, NULL, "预约事项"},
	{"date", 1, check_text, 10, NULL, "日期"},
	{"start", 1, check_text, 5, NULL, "时段"},
	{"channel", 1, check_choice, 0, appt_channels, "预约渠道"},
	{"name", 1, check_text, 50, NULL, "预约人姓名"},
	{"phone", 1, check_phone, 0, NULL, "联系电话"},
	{"note", 0, check_multiline, 200, NULL, "备注"},
};
static const char *const book_extra[] = {"csrf", "key", NULL};

static void
wview(const struct wreq *w, struct window_view *v)
{
	v->name = w->name;
	v->csrf = w->csrf;
}

/* ---- the appointments of a day --------------------------------------------------------- */

void
window_appts(struct req *r)
{
	struct window_view v;
	const char *date, *message = NULL;
	struct ymd today, day;
	struct wreq w;
	struct buf b;
	int status = 200;

	if (wreq_start(&w, r) == -1 || req_parse_query(r) == -1)
		return;
	wview(&w, &v);
	today = day = slots_today(w.now);
	date = field_value(&r->in, "date");
	if (date != NULL && slots_parse_date(date, &day) == -1) {
		day = today;
		status = 422;
		message = "日期格式应为 YYYY-MM-DD；下面是今天的预约。";
	}
	buf_init(&b, PAGE_MAX);
	wapage_day(&b, &v, site_store, &day, &today, message);
	wsend(&w, status, &b, NULL);
}

/* ---- marking one ------------------------------------------------------------------------- */

void
window_appt_mark(struct req *r)
{
	static const struct field_spec spec[] = {
		{"appointment_no", 1, check_text, 40, NULL, "预约号"},
		{"status", 1, check_choice, 0, marks, "办理情况"},
	};
	static const char *const extra[] = {"csrf", NULL};
	const char *field, *message;
	struct appt_mark m = {0};
	struct store_write sw = {0};
	struct appt_view a;
	struct wreq w;
	char loc[64], date[11];
	int start;

	if ((start = wreq_start(&w, r)) == -1)
		return;
	if (start == 1) {
		wmessage(&w, 403, "未标记", "页面已过期或来源不明，请刷新预约列表后重试。");
		return;
	}
	if (fields_check(&r->in, spec, 2, extra, &field, &message) == -1) {
		wmessage(&w, 422, "未标记", message);
		return;
	}
	if (caseno_normalize(m.appointment_no, field_value(&r->in, "appointment_no")) == -1 ||
	    !caseno_valid(m.appointment_no)) {
		wmessage(&w, 404, "没有找到", "没有这个预约。");
		return;
	}
	switch (store_appt_get(site_store, m.appointment_no, &a)) {
	case STORE_OK:
		snprintf(date, sizeof(date), "%s", a.date);
		appt_view_free(&a);
		break;
	case STORE_NOT_FOUND:
		wmessage(&w, 404, "没有找到", "没有这个预约。");
		return;
	default:
		send_unavailable(r);
		return;
	}
	m.status = field_value(&r->in, "status");
	sw.kind = STORE_WRITE_APPT_MARK;
	sw.mark = &m;
	site_commit(&sw);
	switch (sw.rc) {
	case STORE_OK:
		log_info("appointment %s marked %s by %s", m.appointment_no, m.status, w.name);
		snprintf(loc, sizeof(loc), "/window/appointments?date=%s", date);
		wredirect(&w, loc);
		return;
	case STORE_NOT_YET:
		wmessage(&w, 409, "不能标记", "这个预约已标记过、已取消或未获同意，或还没到预约日期，"
		    "不能再标记。");
		return;
	case STORE_NOT_FOUND:
		wmessage(&w, 404, "没有找到", "没有这个预约。");
		return;
	default:
		send_unavailable(r);
		return;
	}
}

/* ---- booking ------------------------------------------------------------------------------ */

/* The item's schedule and its slots_in at now; -1 when the store failed (answered 503). */
static int
item_open(struct wreq *w, const char *item, struct appt_sched *a, struct slots_in *in,
    enum store_rc *rc)
{
	const struct calendar *cal;

	if ((*rc = store_appt_sched(site_store, item, a)) == STORE_ERR) {
		send_unavailable(w->r);
		return -1;
	}
	if (*rc != STORE_OK)
		return 0;
	if ((cal = store_calendar(site_store)) == NULL) {
		appt_sched_free(a);
		send_unavailable(w->r);
		return -1;
	}
	appt_sched_slots_in(a, cal, w->now, site.cfg.appt_days_ahead, in);
	return 0;
}

static void
items_page(struct wreq *w, int status, const char *message)
{
	struct window_view v;
	struct buf b;

	wview(w, &v);
	buf_init(&b, PAGE_MAX);
	wapage_items(&b, &v, site_store, message);
	wsend(w, status, &b, NULL);
}

/*
 * The booking form of item, date and start (GET: empty, with a fresh retry key; POST: the
 * staff's input and the error beside its field). An unknown item or slot: the items again.
 */
static void
form_page(struct wreq *w, int status, const char *field, const char *message)
{
	const char *item = field_value(&w->r->in, "item"), *date = field_value(&w->r->in, "date");
	const char *start = field_value(&w->r->in, "start");
	struct form_state st = {.err_field = field, .err_message = message};
	const struct slot_def *def = NULL;
	char key[CSRF_COOKIE_LEN + 1];
	struct appt_choice c;
	struct window_view v;
	struct appt_sched a;
	struct slots_in in;
	enum store_rc rc;
	struct ymd d;
	struct buf b;

	if (item == NULL || date == NULL || start == NULL) {
		items_page(w, status == 200 ? 422 : status, message);
		return;
	}
	if (item_open(w, item, &a, &in, &rc) == -1)
		return;
	if (rc != STORE_OK) {
		items_page(w, status == 200 ? 404 : status, message != NULL ? message :
		    "没有这个预约事项。");
		return;
	}
	if (slots_parse_date(date, &d) == 0)
		def = slots_find(&in, &d, start);
	if (def == NULL && status == 200) {
		appt_sched_free(&a);
		items_page(w, 404, "这一天没有这个时段，请重新选择。");
		return;
	}
	if (strcmp(w->r->method, "POST") == 0)
		st.in = &w->r->in;
	else {
		csrf_new_cookie(key);	/* a fresh value: one booking of this form */
		st.form_key = key;
	}
	c = (struct appt_choice){.item = a.item.id, .item_name = a.item.name, .date = date,
	    .start = start, .end = def != NULL ? def->end : "", .place = a.item.place};
	wview(w, &v);
	buf_init(&b, PAGE_MAX);
	wapage_form(&b, &v, &st, &c);
	appt_sched_free(&a);
	wsend(w, status, &b, NULL);
}

/* GET /window/appointments/new: the items, an item's days, a day's slots, a slot's form. */
static void
choose_page(struct wreq *w)
{
	const char *item = field_value(&w->r->in, "item"), *date = field_value(&w->r->in, "date");
	struct window_view v;
	struct appt_sched a;
	struct slots_in in;
	enum store_rc rc;
	struct ymd d;
	struct buf b;

	if (item == NULL) {
		items_page(w, 200, NULL);
		return;
	}
	if (field_value(&w->r->in, "start") != NULL && date != NULL) {
		form_page(w, 200, NULL, NULL);
		return;
	}
	if (item_open(w, item, &a, &in, &rc) == -1)
		return;
	if (rc != STORE_OK) {
		items_page(w, 404, "没有这个预约事项。");
		return;
	}
	wview(w, &v);
	buf_init(&b, PAGE_MAX);
	if (date == NULL)
		wapage_days(&b, &v, &a, &in, site_store);
	else if (slots_parse_date(date, &d) == -1 || slots_date_check(&in, &d) != SLOTS_DATE_OK) {
		buf_free(&b);
		appt_sched_free(&a);
		items_page(w, 422, "这一天不能预约，请重新选择。");
		return;
	} else
		wapage_slots(&b, &v, &a, &in, &d, site_store);
	appt_sched_free(&a);
	wsend(w, 200, &b, NULL);
}

static const char *
refusal_message(enum appt_refusal why)
{
	switch (why) {
	case APPT_BAD_ITEM: return "没有这个预约事项。";
	case APPT_BAD_DATE: return "日期格式应为 YYYY-MM-DD。";
	case APPT_PAST: return "只能预约明天及以后的日期。";
	case APPT_FAR: return "超出可预约的天数，请重新选择日期。";
	case APPT_NOT_WORKDAY: return "这一天不是工作日，或大厅不受理预约。";
	case APPT_BAD_START: return "这一天没有这个时段。";
	case APPT_FULL: return "该时段已约满，请选择其他时段。";
	case APPT_OK: break;
	}
	return "预约未成功。";
}

/*
 * The retry key: the same form sent twice (a double click, a reload) gets the first
 * booking. Hashed with the content and the account, so another booking is another.
 */
static int
dedup_key(const struct req *r, const struct appt_booking *k, char out[65])
{
	const char *key = field_value(&r->in, "key");
	const char *parts[] = {"window-appointment", k->registrar, k->channel, k->item, k->date,
	    k->start, k->name, k->phone, k->note, key};

	return retry_key_hash(key, parts, sizeof(parts) / sizeof(parts[0]), out) == 1;
}

static void
book(struct wreq *w)
{
	const char *field, *message;
	struct appt_booking k = {0};
	struct store_write sw = {0};
	char phone[64], key[65], loc[96];
	struct req *r = w->r;

	if (fields_check(&r->in, book_fields, sizeof(book_fields) / sizeof(book_fields[0]),
		book_extra, &field, &message) == -1) {
		form_page(w, 422, field, message);
		return;
	}
	snprintf(phone, sizeof(phone), "%s", field_value(&r->in, "phone"));
	phone_normalize(phone);
	k.cfg = &site.cfg;
	k.item = field_value(&r->in, "item");
	k.date = field_value(&r->in, "date");
	k.start = field_value(&r->in, "start");
	k.name = field_value(&r->in, "name");
	k.phone = phone;
	k.note = field_value(&r->in, "note");
	k.channel = field_value(&r->in, "channel");
	k.registrar = w->name;
	if (dedup_key(r, &k, key) == 1)
		k.dedup_key = key;
	sw.kind = STORE_WRITE_APPT;
	sw.booking = &k;
	site_commit(&sw);
	switch (sw.rc) {
	case STORE_OK:
		break;
	case STORE_CONFLICT:
		form_page(w, 409, NULL, refusal_message(APPT_FULL));
		return;
	case STORE_NOT_FOUND:
		form_page(w, 422, appt_refusal_field(k.refused), refusal_message(k.refused));
		return;
	case STORE_CLOCK:
		wmessage(w, 503, "暂时无法预约",
		    "大厅设备时间不正确，暂时无法预约，请联系管理员校准时间（hall-admin clock）。");
		return;
	default:
		send_unavailable(r);
		return;
	}
	if (!k.replayed)
		log_info("appointment %s (%s %s %s, %s) booked by %s", k.appointment_no, k.item,
		    k.date, k.start, k.channel, w->name);
	snprintf(loc, sizeof(loc), "/window/appointments/receipt/%s", k.appointment_no);
	wredirect(w, loc);
}

void
window_appt_new(struct req *r)
{
	struct wreq w;
	int start;

	if ((start = wreq_start(&w, r)) == -1)
		return;
	if (strcmp(r->method, "POST") != 0) {
		if (req_parse_query(r) == -1)
			return;
		choose_page(&w);
		return;
	}
	if (start == 1) {
		form_page(&w, 403, NULL, "页面已过期，请再提交一次。");
		return;
	}
	book(&w);
}

/* ---- the receipt --------------------------------------------------------------------------- */

/*
 * The receipt, to print (again): only for the account that booked it, within
 * WINDOW_REPRINT_MINUTES, as a case's (window.c); any other is not found, so the list does
 * not become a way to read query codes. ?paper=80 lays it out for an 80 mm roll.
 */
void
window_appt_receipt(struct req *r)
{
	char no[CASENO_LEN + 1], registrar[WINDOW_NAME_SIZE];
	const char *paper;
	struct window_view v;
	struct appt_view a;
	struct wreq w;
	struct buf b;
	time_t created = 0;
	char *materials;
	enum store_rc rc;

	if (wreq_start(&w, r) == -1 || req_parse_query(r) == -1)
		return;
	if (caseno_normalize(no, r->arg) == -1 || !caseno_valid(no)) {
		wmessage(&w, 404, "没有找到", "没有这个回执。");
		return;
	}
	if ((rc = store_appt_origin(site_store, no, registrar, &created)) == STORE_ERR) {
		send_unavailable(r);
		return;
	}
	if (rc != STORE_OK || strcmp(registrar, w.name) != 0 ||
	    w.now - created >= WINDOW_REPRINT_MINUTES * 60) {
		wmessage(&w, 404, "没有找到", "没有这个回执：回执只能由预约的登记人在预约后一小时内"
		    "重新打印。群众遗失查询码的，请在预约查询页申请重新发送。");
		return;
	}
	if ((rc = store_appt_get(site_store, no, &a)) != STORE_OK) {
		if (rc == STORE_NOT_FOUND)
			wmessage(&w, 404, "没有找到", "没有这个回执。");
		else
			send_unavailable(r);
		return;
	}
	paper = field_value(&r->in, "paper");
	materials = appt_materials(a.guide_id);
	wview(&w, &v);
	buf_init(&b, PAGE_MAX);
	wapage_receipt(&b, &v, &a, materials, paper != NULL && strcmp(paper, "80") == 0);
	free(materials);
	appt_view_free(&a);
	wsend(&w, 200, &b, NULL);
}
