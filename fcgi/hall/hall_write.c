/*
 * hall-write: consultations, complaints and ratings, from the forms and the JSON API, and
 * the hall's window (window.c).
 * A receipt is sent only after the record and its outbox entry are committed with
 * synchronous=FULL: once a citizen holds a receipt, the record survives a power cut.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "site.h"

static const char *const categories[] = {"policy", "procedure", "public_info", NULL};
static const char *const complaint_types[] = {"complaint", "unresolved", NULL};

/* The fields both kinds of case have (SPEC 4.2), with their caps. */
#define F_SUBJECT {"subject", 1, check_text, 100, NULL, "标题"}
#define F_BODY(label) {"body", 1, check_multiline, 2000, NULL, label}
#define F_NAME(required) {"name", required, check_text, 50, NULL, "姓名"}
#define F_PHONE {"phone", 1, check_phone, 0, NULL, "联系电话"}

static const struct field_spec consult_fields[] = {
	{"category", 1, check_choice, 0, categories, "咨询类别"},
	F_SUBJECT,
	F_BODY("咨询内容"),
	F_NAME(1),
	F_PHONE,
	{"email", 0, check_email, 0, NULL, "电子邮箱"},
	{"item", 0, check_text, 100, NULL, "涉及事项"},
};

static const struct field_spec complaint_fields[] = {
	{"type", 1, check_choice, 0, complaint_types, "类型"},
	F_SUBJECT,
	F_BODY("具体情况"),
	F_PHONE,
	F_NAME(0),
	{"target", 0, check_text, 100, NULL, "涉及窗口、部门或工作人员"},
	{"email", 0, check_email, 0, NULL, "电子邮箱"},	/* SPEC 4.2: for the notices */
};

static const struct field_spec rating_fields[] = {
	{"code", 1, check_code, 0, NULL, "查询码"},
	{"level", 1, check_level, 0, NULL, "满意程度"},
	{"comment", 0, check_multiline, 500, NULL, "意见"},
	{"case_no", 0, check_text, 40, NULL, "办件编号"},	/* forms only */
};

/*
 * notify (SPEC 5.6): the API's optional boolean, default true; the forms' checkbox, sent
 * only when ticked, beside the hidden notify_shown that says the form had the box (a form
 * from before it, without either, keeps notices on).
 */
static const char *const form_extra[] = {"csrf", "key", NULL};
static const char *const case_form_extra[] = {"csrf", "key", "notify", "notify_shown", NULL};
static const char *const case_api_extra[] = {"notify", NULL};
static const char *const case_api_bools[] = {"notify", NULL};

/* The threads of this process share each commit (lib/store/commit_group.c). */
static struct commit_group *group;
static pthread_mutex_t group_mu = PTHREAD_MUTEX_INITIALIZER;

void
write_commit(struct store_write *w)
{
	commit_group_write(group, w);
}

/*
 * Each thread opens the store for its reads; the first also opens the connection the
 * group commits on.
 */
static int
write_thread_init(void)
{
	struct store *s;
	int rc = 0;

	if (site_open_store() == -1)
		return -1;
	pthread_mutex_lock(&group_mu);
	if (group == NULL) {
		if ((s = store_open(site.cfg.store_path, 0)) == NULL ||
		    store_bind_hall(s, site.cfg.code) == -1 ||
		    (group = commit_group_new(s)) == NULL) {
			store_close(s);
			rc = -1;
		}
	}
	pthread_mutex_unlock(&group_mu);
	return rc;
}

/*
 * What every submission does first: takes its share of the address's limit and reads its
 * body. -1: it has answered (429, 400, 413, 415); 1: a form whose token is stale or missing
 * (the caller shows its form again); 0: go on.
 */
static int
submission_start(struct req *r)
{
	int retry;

	if (!limits_take(site.limits, LIMIT_SUBMIT, r->remote, site.cfg.submissions_per_min,
		&retry)) {
		send_too_many(r, retry, "提交过于频繁，请稍后再试。");
		return -1;
	}
	if (req_parse_body(r) == -1)
		return -1;
	if (!r->is_api && !csrf_check(field_value(&r->in, "csrf"), r->cookie, time(NULL)))
		return 1;
	return 0;
}

#define NFIELDS(a) (sizeof(a) / sizeof((a)[0]))

/* What differs between the two kinds of submission. */
struct intake {
	const struct field_spec *fields;
	size_t nfields;
	void (*page)(struct buf *, const struct form_state *);
};

static const struct intake consult_intake = {consult_fields, NFIELDS(consult_fields),
    page_consult};
static const struct intake complaint_intake = {complaint_fields, NFIELDS(complaint_fields),
    page_complaint};

/* The form again, with the citizen's input and the message beside its field. */
static void
intake_again(struct req *r, int status, const struct intake *in, const char *field,
    const char *message)
{
	form_again(r, status, in->page, field, message, NULL);
}

/*
 * The retry key: a resubmitted form (the same hidden key) or an API call repeated with the
 * same Idempotency-Key gets the first receipt back instead of a second case. The key is
 * hashed with the content, so a key guessed or reused by someone else opens nothing.
 */
static int
dedup_key(struct req *r, const char *kind, const struct case_new *c, char out[65])
{
	const char *key = retry_key_given(r);
	/* notify only when off: the keys of the other submissions stay as they were */
	const char *parts[] = {kind, c->category, c->subject, c->body, c->name, c->phone,
	    c->email, c->item, c->target, key, c->notify_off ? "notify=false" : NULL};

	/* every field counts: the same key with other content is another case */
	return retry_key_hash(key, parts, sizeof(parts) / sizeof(parts[0]) - !c->notify_off, out);
}

/*
 * The citizen's notify into c (SPEC 5.6); -1 when it has answered: an API value that is
 * not a JSON boolean is 422.
 */
static int
case_notify(struct req *r, struct case_new *c)
{
	const struct kv *kv = kv_get(&r->in, "notify");

	if (r->is_api) {
		if (kv != NULL && !kv->is_bool) {
			req_error(r, 422, "invalid_field", "notify 应为 true 或 false。", "notify");
			return -1;
		}
		c->notify_off = kv != NULL && strcmp(kv->value, "false") == 0;
	} else
		c->notify_off = kv_get(&r->in, "notify_shown") != NULL && kv == NULL;
	return 0;
}

static void
submit(struct req *r, const struct intake *in, const char *fixed_kind)
{
	char phone[64], key[65];
	const char *field, *message;
	struct case_new c = {0};
	struct store_write w = {0};
	struct receipt rc;
	struct buf b;
	int start;

	r->json_bools = case_api_bools;
	if ((start = submission_start(r)) == -1)
		return;
	if (start == 1) {
		intake_again(r, 403, in, NULL,
		    "页面已过期，请再提交一次。（如多次出现，请允许浏览器保存 Cookie。）");
		return;
	}
	if (fields_check(&r->in, in->fields, in->nfields,
		r->is_api ? case_api_extra : case_form_extra, &field, &message) == -1) {
		if (r->is_api)
			req_error(r, 422, "invalid_field", message, field);
		else
			intake_again(r, 422, in, field, message);
		return;
	}
	c.kind = fixed_kind != NULL ? fixed_kind : field_value(&r->in, "type");
	c.category = fixed_kind != NULL ? field_value(&r->in, "category") : NULL;
	c.subject = field_value(&r->in, "subject");
	c.body = field_value(&r->in, "body");
	c.name = field_value(&r->in, "name");
	snprintf(phone, sizeof(phone), "%s", field_value(&r->in, "phone"));
	phone_normalize(phone);
	c.phone = phone;
	c.email = field_value(&r->in, "email");
	c.item = field_value(&r->in, "item");
	c.target = field_value(&r->in, "target");
	if (case_notify(r, &c) == -1)
		return;
	switch (dedup_key(r, c.kind, &c, key)) {
	case 1:
		c.dedup_key = key;
		break;
	case -1:
		if (r->is_api)
			req_error(r, 400, "bad_idempotency_key",
			    "Idempotency-Key 须为 8 到 128 个字符。", NULL);
		else
			intake_again(r, 400, in, NULL, "页面已过期，请刷新后再提交。");
		return;
	default:
		break;
	}
	w.kind = STORE_WRITE_CASE;
	w.cfg = &site.cfg;
	w.c = &c;
	w.receipt = &rc;
	commit_group_write(group, &w);
	switch (w.rc) {
	case STORE_OK:
		break;
	case STORE_CLOCK:
		req_error(r, 503, "clock_wrong",
		    "大厅设备时间不正确，暂时无法受理，请联系工作人员校准时间。", NULL);
		return;
	default:
		send_unavailable(r);
		return;
	}
	if (!rc.replayed)
		log_info("case %s (%s) received", rc.case_no, c.kind);
	if (r->is_api) {
		char loc[96];

		buf_init(&b, 4096);
		render_receipt_json(&b, c.kind, &rc);
		snprintf(loc, sizeof(loc), "Location: /api/v1/cases/%s\r\n", rc.case_no);
		req_send(r, rc.replayed ? 200 : 201, "application/json; charset=utf-8", &b, loc);
	} else {
		buf_init(&b, PAGE_MAX);
		page_receipt(&b, c.kind, &rc);
		send_page(r, 200, &b);
	}
	buf_free(&b);
}

void
site_commit(struct store_write *w)
{
	commit_group_write(group, w);
}

static void
h_consult(struct req *r)
{
	submit(r, &consult_intake, "consultation");
}

static void
h_complaint(struct req *r)
{
	submit(r, &complaint_intake, NULL);
}

static void
rating_fail(struct req *r, int status, const struct case_view *v, const char *code,
    const char *field, const char *message)
{
	struct form_state st = {0};

	if (r->is_api) {
		req_error(r, status, code, message, field);
		return;
	}
	/* the progress page again: the case and its rating form, with the message */
	st.in = &r->in;
	st.err_field = field;
	st.err_message = message;
	send_progress(r, status, &st, v);
}

static void
h_rate(struct req *r)
{
	const char *field, *message, *case_no, *comment;
	struct case_view v;
	struct store_write w = {0};
	enum open_rc orc;
	time_t at;
	int start, level, have_case = 0;
	struct buf b;

	if ((start = submission_start(r)) == -1)
		return;
	if (start == 1) {
		rating_fail(r, 403, NULL, NULL, NULL, "页面已过期，请重新查询后再评价。");
		return;
	}
	/* the API names the case in the path; the form in a field */
	case_no = r->is_api ? r->arg : field_value(&r->in, "case_no");
	if (r->is_api && kv_get(&r->in, "case_no") != NULL) {
		req_error(r, 422, "invalid_field", "不认识的字段。", "case_no");
		return;
	}
	if (fields_check(&r->in, rating_fields, NFIELDS(rating_fields),
		r->is_api ? NULL : form_extra, &field, &message) == -1) {
		/* a form comes back with its case when the number and code open it */
		if (!r->is_api && case_no != NULL && field_value(&r->in, "code") != NULL &&
		    check_code(field_value(&r->in, "code"), NULL) == NULL &&
		    case_open(r, case_no, field_value(&r->in, "code"), &v) == OPEN_OK) {
			rating_fail(r, 422, &v, "invalid_field", field, message);
			case_view_free(&v);
			return;
		}
		rating_fail(r, 422, NULL, "invalid_field", field, message);
		return;
	}
	if (case_no == NULL) {
		rating_fail(r, 422, NULL, "invalid_field", "case_no", "请填写办件编号。");
		return;
	}
	orc = case_open(r, case_no, field_value(&r->in, "code"), &v);
	switch (orc) {
	case OPEN_OK:
		have_case = 1;
		break;
	case OPEN_BAD_NUMBER:
	case OPEN_NOT_FOUND:
		rating_fail(r, 404, NULL, "not_found", NULL, "没有找到这个办件，或查询码不对。");
		return;
	case OPEN_ANSWERED:
		return;
	}
	level = field_value(&r->in, "level")[0] - '0';
	comment = field_value(&r->in, "comment");
	if (level <= 2 && comment == NULL) {
		rating_fail(r, 422, &v, "invalid_field", "comment",
		    "选择“不满意”或“非常不满意”时，请写明原因，以便整改。");
		goto done;
	}
	w.kind = STORE_WRITE_RATING;
	w.case_no = v.case_no;
	w.level = level;
	w.comment = comment;
	w.at = &at;
	commit_group_write(group, &w);
	switch (w.rc) {
	case STORE_OK:
		log_info("rating %d for case %s", level, v.case_no);
		if (r->is_api) {
			char ts[TIMEFMT_LEN];

			timefmt_rfc3339(ts, at);
			buf_init(&b, 1024);
			buf_printf(&b, "{\"case_no\":\"%s\",\"level\":%d,\"at\":\"%s\"}\n", v.case_no,
			    level, ts);
			req_send(r, 201, "application/json; charset=utf-8", &b, NULL);
		} else {
			buf_init(&b, PAGE_MAX);
			page_rated(&b, v.case_no, level);
			send_page(r, 200, &b);
		}
		buf_free(&b);
		break;
	case STORE_CONFLICT:
		rating_fail(r, 409, &v, "already_rated", NULL, "这个办件已经评价过了，每个办件只能评价一次。");
		break;
	case STORE_NOT_YET:
		rating_fail(r, 409, &v, "not_answered", NULL, "办件答复后才能评价。");
		break;
	case STORE_NOT_FOUND:
		rating_fail(r, 404, NULL, "not_found", NULL, "没有找到这个办件，或查询码不对。");
		break;
	default:
		send_unavailable(r);
		break;
	}
done:
	if (have_case)
		case_view_free(&v);
}

int
main(int argc, char *argv[])
{
	static const struct site_program hall_write = {
		.name = "hall-write",
		.readonly = 0,
		.worker_init = write_thread_init,
		.start = window_start,
		.handlers = {
			[R_CONSULT] = h_consult,
			[R_COMPLAINT] = h_complaint,
			[R_RATE_FORM] = h_rate,
			[R_API_CONSULT] = h_consult,
			[R_API_COMPLAIN] = h_complaint,
			[R_API_RATE] = h_rate,
			[R_WINDOW] = window_home,
			[R_WINDOW_LOGIN] = window_login,
			[R_WINDOW_LOGOUT] = window_logout,
			[R_WINDOW_NEW] = window_new,
			[R_WINDOW_RECEIPT] = window_receipt,
			[R_RESEND_FORM] = h_resend,
			[R_API_RESEND] = h_resend,
			[R_APPTS] = appt_book,
			[R_APPT_CANCEL_FORM] = appt_cancel,
			[R_API_APPTS] = appt_book,
			[R_API_APPT_CANCEL] = appt_cancel,
			[R_APPT_RESEND_FORM] = appt_resend,
			[R_API_APPT_RESEND] = appt_resend,
			[R_WINDOW_APPTS] = window_appts,
			[R_WINDOW_APPT_NEW] = window_appt_new,
			[R_WINDOW_APPT_MARK] = window_appt_mark,
			[R_WINDOW_APPT_RECEIPT] = window_appt_receipt,
		},
	};

	return site_main(argc, argv, &hall_write);
}
