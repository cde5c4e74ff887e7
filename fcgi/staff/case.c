/*
 * The case page (the full record, contact data, timeline, rating and 差评 follow-up) and
 * the actions on a case. Each action is one row in case_events (status, note, actor = the
 * signed-in user): the county's triggers move the case's status and queue the event for
 * the hall's downlink, so the citizen sees it after the next sync.
 *
 * An action is checked against the case's status and against the last event the page
 * showed (its seq, in a hidden field), in one transaction that locks the case row: two
 * people answering the same case at once, or one pressing the button twice, make one
 * answer and a clear message, never two.
 *
 * Transfer (转办, 省内通办): the event names a hall or a county in case_events.transfer_to;
 * the triggers of sql/county/006 check it, write the note the citizen reads ("转办至：..."),
 * record the move in case_transfers and make the target the case's handler. Only the
 * handling county acts on a case; a county that handled it before may still open it, read
 * only. The citizen's hall (cases.hall_code) keeps receiving every event.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "staff.h"

struct action {
	const char *name, *status, *title, *button;
	int note;		/* 0: optional, 1: required */
	const char *note_label;
	const char *const *from;	/* the statuses it may follow */
	const char *done;	/* what the page says after it */
};

static const char *const from_open[] = {"received", "delivered", "accepted", "transferred",
    NULL};
static const char *const from_new[] = {"received", "delivered", "transferred", NULL};
static const char *const from_unfinished[] = {"received", "delivered", "accepted",
    "transferred", "answered", NULL};

static const struct action actions[] = {
	{"accept", "accepted", "受理", "受理", 0, "受理说明（可不填）", from_new,
	    "已受理。"},
	{"answer", "answered", "答复", "提交答复", 1, "答复内容", from_unfinished,
	    "答复已保存，下次同步后送达大厅，群众可在进度查询中看到。"},
	{"transfer", "transferred", "转办（省内通办）", "转办", 0, "转办说明（可不填）",
	    from_open, "已转办，办件已移交对方办理。"},
	{"reject", "rejected", "不予受理", "不予受理", 1, "不予受理的理由", from_open,
	    "已作不予受理处理，理由将送达大厅。"},
	{"resolve", "resolved", "办结", "办结", 0, "办结说明（可不填）", from_unfinished,
	    "已办结。"},
};
#define NACTIONS (sizeof(actions) / sizeof(actions[0]))

static const struct action *
action_find(const char *name)
{
	size_t i;

	for (i = 0; i < NACTIONS; i++)
		if (strcmp(actions[i].name, name) == 0)
			return &actions[i];
	return NULL;
}

static int
status_in(const char *status, const char *const *list)
{
	for (; *list != NULL; list++)
		if (strcmp(status, *list) == 0)
			return 1;
	return 0;
}

/* The case number of the URL, or NULL when it cannot be one (404). */
static const char *
url_case_no(const struct staff_req *s)
{
	const char *no = s->r.arg;

	if (strlen(no) != CASENO_LEN || strspn(no, CASENO_ALPHABET) != CASENO_LEN ||
	    !caseno_valid(no))
		return NULL;
	return no;
}

static void
not_found(struct staff_req *s)
{
	/* another county's case and a case that does not exist look the same */
	spage_message(s, 404, "没有找到", "没有找到这个办件，或它不属于您所在的县（市、区）。");
}

/* A county in words: its name when the counties table has one, else its code. */
static void
county_words(struct buf *b, const char *code, const char *name)
{
	if (name != NULL && *name != '\0') {
		SH(b, name);
		return;
	}
	buf_adds(b, "县（市、区）");
	SH(b, code);
}

/* A transfer target as posted: a hall's 12 digits or a county's 6. */
static int
target_code_ok(const char *t)
{
	size_t n = strlen(t);

	return (n == 6 || n == 12) && strspn(t, "0123456789") == n;
}

/* ---- the page -------------------------------------------------------------------- */

enum {
	C_NO, C_HALL, C_HALL_NAME, C_KIND, C_CATEGORY, C_CHANNEL, C_SUBJECT, C_BODY, C_NAME,
	C_PHONE, C_EMAIL, C_ITEM, C_TARGET, C_SUBMITTED, C_DUE, C_PROVISIONAL, C_STATUS,
	C_OVERDUE, C_WARNING, C_RECEIVED, C_LAST_SEQ, C_HANDLER_COUNTY, C_HANDLER_HALL,
	C_HANDLER_HALL_NAME, C_HANDLER_COUNTY_NAME, C_MINE
};

static void
rec_item(struct buf *b, const char *term, const char *value)
{
	if (value == NULL || *value == '\0')
		return;
	buf_adds(b, "<dt>");
	SH(b, term);
	buf_adds(b, "</dt><dd>");
	SH(b, value);
	buf_adds(b, "</dd>");
}

static void
timeline_item(struct buf *b, time_t at, const char *what, const char *who)
{
	char when[32];

	spage_time(when, at);
	buf_adds(b, "<li><time>");
	SH(b, when);
	buf_adds(b, "</time> <b>");
	SH(b, what);
	buf_adds(b, "</b> <span class=\"muted\">");
	SH(b, who);
	buf_adds(b, "</span></li>");
}

/* The case's life: its submission at the hall and arrival here, then every event. */
static void
timeline(struct buf *b, const struct dbrows *c, const struct dbrows *ev)
{
	size_t i;

	buf_adds(b, "<h2>办理过程</h2><ol class=\"timeline\">");
	timeline_item(b, (time_t)db_int(c, 0, C_SUBMITTED), "群众提交", "大厅");
	timeline_item(b, (time_t)db_int(c, 0, C_RECEIVED), "送达县级", "同步");
	for (i = 0; i < ev->nrows; i++) {
		char when[32];

		spage_time(when, (time_t)db_int(ev, i, 4));
		buf_adds(b, "<li><time>");
		SH(b, when);
		buf_adds(b, "</time> <b>");
		SH(b, status_text(db_str(ev, i, 1)));
		buf_adds(b, "</b> <span class=\"muted\">");
		SH(b, strcmp(db_str(ev, i, 5), "hall") == 0 ? "大厅" : db_str(ev, i, 3));
		buf_adds(b, "</span>");
		if (db_val(ev, i, 2) != NULL && *db_str(ev, i, 2) != '\0') {
			buf_adds(b, "<div class=\"text\">");
			SH(b, db_str(ev, i, 2));
			buf_adds(b, "</div>");
		}
		buf_adds(b, "</li>");
	}
	buf_adds(b, "</ol>");
}

static void
rating_section(struct buf *b, const struct staff_req *s, const char *case_no, int mine,
    const struct dbrows *rt, const struct dbrows *fu, const char *err)
{
	char when[32];

	buf_adds(b, "<h2>群众评价</h2>");
	if (rt->nrows == 0) {
		buf_adds(b, "<p class=\"muted\">尚未评价。</p>");
		return;
	}
	spage_time(when, (time_t)db_int(rt, 0, 2));
	buf_printf(b, "<p><b id=\"rating-level\">%lld</b> 级 · ", db_int(rt, 0, 0));
	SH(b, level_text((int)db_int(rt, 0, 0)));
	buf_adds(b, " <span class=\"muted\">");
	SH(b, when);
	buf_adds(b, "</span></p>");
	if (*db_str(rt, 0, 1) != '\0') {
		buf_adds(b, "<div class=\"text\">");
		SH(b, db_str(rt, 0, 1));
		buf_adds(b, "</div>");
	}
	if (fu->nrows == 0)
		return;
	/* 差评: the follow-up and, once done, its rectification */
	spage_time(when, (time_t)db_int(fu, 0, 1));
	buf_adds(b, "<h2>差评回访</h2><p>整改期限 ");
	SH(b, when);
	if (db_val(fu, 0, 4) != NULL) {
		spage_time(when, (time_t)db_int(fu, 0, 4));
		buf_adds(b, " · <span class=\"tag closed\">已整改</span> ");
		SH(b, db_str(fu, 0, 3));
		buf_adds(b, " ");
		SH(b, when);
		buf_adds(b, "</p><div class=\"text\">");
		SH(b, db_str(fu, 0, 2));
		buf_adds(b, "</div>");
		return;
	}
	buf_adds(b, db_int(fu, 0, 5) == 1 ? " <span class=\"tag overdue\">已超期</span></p>" :
					    " <span class=\"tag warning\">待整改</span></p>");
	if (!mine) {
		buf_adds(b, "<p class=\"muted\">整改情况由承办的县（市、区）登记。</p>");
		return;
	}
	if (!auth_role_at_least(&s->u, "supervisor")) {
		buf_adds(b, "<p class=\"muted\">整改情况由督查员登记。</p>");
		return;
	}
	buf_adds(b, "<form class=\"wide\" method=\"post\" action=\"/followups/");
	SH(b, case_no);
	buf_adds(b, "\" accept-charset=\"utf-8\">");
	spage_csrf_field(b, s);
	buf_adds(b, "<label for=\"f-rectification\">整改情况</label>");
	if (err != NULL) {
		buf_adds(b, "<p class=\"error\">");
		SH(b, err);
		buf_adds(b, "</p>");
	}
	buf_printf(b, "<textarea id=\"f-rectification\" name=\"rectification\" rows=\"4\" "
		      "maxlength=\"%d\" required>", STAFF_NOTE_MAX);
	SH(b, spage_in(s, "rectification"));
	buf_adds(b, "</textarea><button type=\"submit\">登记整改</button></form>");
}

/* Where the case is handled, in words: a hall's name, or the county. */
static void
handler_words(struct buf *b, const struct dbrows *c)
{
	if (*db_str(c, 0, C_HANDLER_HALL) != '\0') {
		SH(b, *db_str(c, 0, C_HANDLER_HALL_NAME) != '\0' ? db_str(c, 0, C_HANDLER_HALL_NAME) :
								      db_str(c, 0, C_HANDLER_HALL));
		buf_adds(b, "（");
		SH(b, *db_str(c, 0, C_HANDLER_COUNTY_NAME) != '\0' ?
			  db_str(c, 0, C_HANDLER_COUNTY_NAME) : db_str(c, 0, C_HANDLER_COUNTY));
		buf_adds(b, "）");
		return;
	}
	county_words(b, db_str(c, 0, C_HANDLER_COUNTY), db_str(c, 0, C_HANDLER_COUNTY_NAME));
	buf_adds(b, "（县级，不指定大厅）");
}

static void
target_option(struct buf *b, const char *value, const char *selected)
{
	buf_adds(b, "<option value=\"");
	SH(b, value);
	buf_adds(b, strcmp(value, selected) == 0 ? "\" selected>" : "\">");
}

/*
 * The transfer form's list: every hall and every county with a hall, by county, but the
 * place that handles the case now. The server checks the choice again. At most
 * TRANSFER_LIST halls, so that the page stays under PAGE_MAX (about 100 bytes a hall).
 */
#define TRANSFER_LIST 1000

static void
transfer_targets(struct buf *b, const struct dbrows *c, const char *selected)
{
	const char *hcounty = db_str(c, 0, C_HANDLER_COUNTY), *hhall = db_str(c, 0, C_HANDLER_HALL);
	const char *group = NULL;
	struct dbrows t;
	size_t i;
	int open = 0;

	buf_adds(b, "<label for=\"f-target-transfer\">转往的大厅或县（市、区）</label>");
	if (db_select("SELECT h.county_code, COALESCE(k.name, ''), h.hall_code, h.name "
		      "FROM halls h LEFT JOIN counties k ON k.county_code = h.county_code "
		      "ORDER BY h.county_code, h.hall_code",
		NULL, 0, &t, TRANSFER_LIST) == -1) {
		buf_adds(b, "<p class=\"error\">暂时无法读取大厅列表，请稍后再试。</p>");
		return;
	}
	buf_adds(b, "<select id=\"f-target-transfer\" name=\"target\" required>"
		    "<option value=\"\">请选择</option>");
	for (i = 0; i < t.nrows; i++) {
		const char *county = db_str(&t, i, 0), *hall = db_str(&t, i, 2);
		int first = group == NULL || strcmp(group, county) != 0;
		int county_ok = first && strcmp(county, hcounty) != 0;
		int hall_ok = strcmp(hall, hhall) != 0;

		if (first) {
			if (open)
				buf_adds(b, "</optgroup>");
			open = 0;
			group = county;
		}
		/* a group opens with its first option, so the handler's own county with one
		 * hall leaves no empty group */
		if (!open && (county_ok || hall_ok)) {
			buf_adds(b, "<optgroup label=\"");
			county_words(b, county, db_str(&t, i, 1));
			buf_adds(b, "\">");
			open = 1;
		}
		if (county_ok) {
			target_option(b, county, selected);
			county_words(b, county, db_str(&t, i, 1));
			buf_adds(b, " 县级（不指定大厅）</option>");
		}
		if (hall_ok) {
			target_option(b, hall, selected);
			SH(b, db_str(&t, i, 3));
			buf_adds(b, "</option>");
		}
	}
	if (open)
		buf_adds(b, "</optgroup>");
	buf_adds(b, "</select>");
	dbrows_free(&t);
}

static void
action_forms(struct buf *b, const struct staff_req *s, const char *case_no, const struct dbrows *c,
    const char *err_action, const char *err)
{
	const char *status = db_str(c, 0, C_STATUS);
	size_t i;
	int any = 0;

	buf_adds(b, "<h2>办理</h2>");
	if (db_int(c, 0, C_MINE) != 1) {
		/* a county that transferred the case on may read it, not act on it */
		buf_adds(b, "<p class=\"notice\" id=\"read-only\">此办件已转办至");
		handler_words(b, c);
		buf_adds(b, "，由其办理。本县（市、区）只能查看，不能再办理。</p>");
		return;
	}
	buf_adds(b, "<div class=\"actions\">");
	for (i = 0; i < NACTIONS; i++) {
		const struct action *a = &actions[i];
		int mine = err_action != NULL && strcmp(err_action, a->name) == 0;

		if (!status_in(status, a->from))
			continue;
		any = 1;
		buf_adds(b, "<form class=\"wide\" method=\"post\" action=\"/cases/");
		SH(b, case_no);
		buf_adds(b, "\" accept-charset=\"utf-8\" id=\"act-");
		SH(b, a->name);
		buf_adds(b, "\"><h3>");
		SH(b, a->title);
		buf_adds(b, "</h3>");
		spage_csrf_field(b, s);
		buf_adds(b, "<input type=\"hidden\" name=\"action\" value=\"");
		SH(b, a->name);
		buf_adds(b, "\"><input type=\"hidden\" name=\"seq\" value=\"");
		SH(b, db_str(c, 0, C_LAST_SEQ));
		buf_adds(b, "\">");
		if (mine && err != NULL) {
			buf_adds(b, "<p class=\"error\" role=\"alert\">");
			SH(b, err);
			buf_adds(b, "</p>");
		}
		if (strcmp(a->name, "transfer") == 0)
			transfer_targets(b, c, mine ? spage_in(s, "target") : "");
		buf_adds(b, "<label for=\"f-note-");
		SH(b, a->name);
		buf_adds(b, "\">");
		SH(b, a->note_label);
		buf_adds(b, "</label><textarea id=\"f-note-");
		SH(b, a->name);
		buf_printf(b, "\" name=\"note\" rows=\"%d\" maxlength=\"%d\"%s>",
		    a->note ? 5 : 2, STAFF_NOTE_MAX, a->note ? " required" : "");
		SH(b, mine ? spage_in(s, "note") : "");
		buf_printf(b, "</textarea><button type=\"submit\"%s>",
		    strcmp(a->name, "reject") == 0 ? " class=\"danger\"" : "");
		SH(b, a->button);
		buf_adds(b, "</button></form>");
	}
	buf_adds(b, "</div>");
	if (!any)
		buf_adds(b, "<p class=\"muted\">此办件已办结，无需再办理。</p>");
}

/*
 * The page for case_no (checked to be the county's), with a message: a notice after an
 * action (done) or an error beside the form it belongs to.
 */
static void
case_render(struct staff_req *s, int http_status, const char *case_no, const char *done,
    const char *err_action, const char *err)
{
	struct dbparam p[4];
	struct dbrows c, ev, rt, fu;
	char sub[32], due[32], rec[32], phone_line[128];
	struct buf b;

	p[0] = DBS(s->u.county);
	p[1] = DBS(case_no);
	p[2] = DBS(s->u.county);
	p[3] = DBS(s->u.county);
	memset(&ev, 0, sizeof(ev));
	memset(&rt, 0, sizeof(rt));
	memset(&fu, 0, sizeof(fu));
	if (db_select("SELECT c.case_no, c.hall_code, COALESCE(h.name, ''), c.kind, c.category, "
		      "c.channel, c.subject, c.body, c.name, c.phone, c.email, c.item, c.target, "
		      "UNIX_TIMESTAMP(c.submitted_at), UNIX_TIMESTAMP(c.due_at), c.due_provisional, "
		      "c.status, " OVERDUE_SQL ", " WARNING_SQL ", UNIX_TIMESTAMP(c.received_at), "
		      "(SELECT COALESCE(MAX(e.seq), 0) FROM case_events e WHERE e.case_no = c.case_no), "
		      "c.handler_county, COALESCE(c.handler_hall, ''), COALESCE(hh.name, ''), "
		      "COALESCE(k.name, ''), c.handler_county = ? "
		      "FROM cases c LEFT JOIN halls h ON h.hall_code = c.hall_code "
		      "LEFT JOIN halls hh ON hh.hall_code = c.handler_hall "
		      "LEFT JOIN counties k ON k.county_code = c.handler_county "
		      "WHERE c.case_no = ? AND " SEEN_SQL,
		p, 4, &c, 1) == -1) {
		spage_unavailable(s);
		return;
	}
	if (c.nrows == 0) {
		dbrows_free(&c);
		not_found(s);
		return;
	}
	p[0] = DBS(case_no);
	if (db_select("SELECT seq, status, note, actor, UNIX_TIMESTAMP(at), origin FROM case_events "
		      "WHERE case_no = ? ORDER BY at, seq",
		p, 1, &ev, 500) == -1 ||
	    db_select("SELECT level, comment, UNIX_TIMESTAMP(at) FROM ratings WHERE case_no = ?", p,
		1, &rt, 1) == -1 ||
	    db_select("SELECT UNIX_TIMESTAMP(opened_at), UNIX_TIMESTAMP(due_at), rectification, "
		      "closed_by, UNIX_TIMESTAMP(closed_at), closed_at IS NULL AND due_at < NOW() "
		      "FROM rating_followups WHERE case_no = ?",
		p, 1, &fu, 1) == -1) {
		dbrows_free(&c);
		dbrows_free(&ev);
		dbrows_free(&rt);
		spage_unavailable(s);
		return;
	}
	buf_init(&b, PAGE_MAX);
	spage_begin(&b, s, db_str(&c, 0, C_SUBJECT));
	buf_adds(&b, "<p class=\"muted\"><a href=\"/\">← 办件列表</a></p><h1>");
	SH(&b, db_str(&c, 0, C_SUBJECT));
	buf_adds(&b, "</h1>");
	if (done != NULL) {
		buf_adds(&b, "<p class=\"notice\" role=\"status\">");
		SH(&b, done);
		buf_adds(&b, "</p>");
	}
	if (err != NULL && err_action == NULL) {
		buf_adds(&b, "<p class=\"error\" role=\"alert\">");
		SH(&b, err);
		buf_adds(&b, "</p>");
	}
	spage_time(sub, (time_t)db_int(&c, 0, C_SUBMITTED));
	spage_time(due, (time_t)db_int(&c, 0, C_DUE));
	spage_time(rec, (time_t)db_int(&c, 0, C_RECEIVED));
	buf_adds(&b, "<dl class=\"rec\"><dt>办件编号</dt><dd id=\"case-no\">");
	spage_caseno(&b, case_no);
	buf_adds(&b, "</dd><dt>当前状态</dt><dd><b id=\"status\">");
	SH(&b, status_text(db_str(&c, 0, C_STATUS)));
	buf_adds(&b, "</b>");
	spage_due_tag(&b, db_int(&c, 0, C_OVERDUE) == 1, db_int(&c, 0, C_WARNING) == 1);
	buf_adds(&b, "</dd>");
	rec_item(&b, "类型", kind_text(db_str(&c, 0, C_KIND)));
	if (db_val(&c, 0, C_CATEGORY) != NULL)
		rec_item(&b, "咨询类别", category_text(db_str(&c, 0, C_CATEGORY)));
	rec_item(&b, "收件大厅", *db_str(&c, 0, C_HALL_NAME) ? db_str(&c, 0, C_HALL_NAME) : "");
	rec_item(&b, "大厅编码", db_str(&c, 0, C_HALL));
	buf_adds(&b, "<dt>承办</dt><dd id=\"handler\">");
	handler_words(&b, &c);
	buf_adds(&b, "</dd>");
	rec_item(&b, "提交时间", sub);
	buf_adds(&b, "<dt>答复期限</dt><dd>");
	SH(&b, due);
	if (db_int(&c, 0, C_PROVISIONAL) == 1)
		buf_adds(&b, "（暂按周一至周五计算）");
	buf_adds(&b, "</dd>");
	rec_item(&b, "送达县级", rec);
	rec_item(&b, "涉及事项", db_val(&c, 0, C_ITEM));
	rec_item(&b, "涉及窗口、部门或人员", db_val(&c, 0, C_TARGET));
	buf_adds(&b, "</dl><h2>联系人</h2><dl class=\"rec\">");
	rec_item(&b, "姓名", *db_str(&c, 0, C_NAME) ? db_str(&c, 0, C_NAME) : "（未留姓名）");
	snprintf(phone_line, sizeof(phone_line), "%s", db_str(&c, 0, C_PHONE));
	buf_adds(&b, "<dt>联系电话</dt><dd><a id=\"phone\" href=\"tel:");
	SH(&b, phone_line);
	buf_adds(&b, "\">");
	SH(&b, phone_line);
	buf_adds(&b, "</a></dd>");
	rec_item(&b, "电子邮箱", db_val(&c, 0, C_EMAIL));
	buf_adds(&b, "</dl><h2>内容</h2><div class=\"text\" id=\"body\">");
	SH(&b, db_str(&c, 0, C_BODY));
	buf_adds(&b, "</div>");
	timeline(&b, &c, &ev);
	action_forms(&b, s, case_no, &c, err_action,
	    err_action != NULL && strcmp(err_action, "followup") != 0 ? err : NULL);
	rating_section(&b, s, case_no, db_int(&c, 0, C_MINE) == 1, &rt, &fu,
	    err_action != NULL && strcmp(err_action, "followup") == 0 ? err : NULL);
	spage_end(&b);
	dbrows_free(&c);
	dbrows_free(&ev);
	dbrows_free(&rt);
	dbrows_free(&fu);
	spage_send(s, http_status, &b, NULL);
	buf_free(&b);
}

void
case_page(struct staff_req *s)
{
	const char *no = url_case_no(s), *done = NULL;
	const struct action *a;

	if (no == NULL) {
		not_found(s);
		return;
	}
	/* after an action's redirect: ?done=answer says what was done */
	if (kv_parse_form(s->r.query, strlen(s->r.query), &s->r.in) == PARSE_OK) {
		const char *d = spage_in(s, "done");

		if ((a = action_find(d)) != NULL)
			done = a->done;
		else if (strcmp(d, "followup") == 0)
			done = "整改情况已登记。";
		kv_free(&s->r.in);
	}
	case_render(s, 200, no, done, NULL, NULL);
}

static const struct field_spec action_fields[] = {
	{"action", 1, check_text, 16, NULL, "操作"},
	{"note", 0, check_multiline, STAFF_NOTE_MAX, NULL, "说明"},
	{"target", 0, check_text, 100, NULL, "转往"},
	{"seq", 0, check_text, 20, NULL, "版本"},
};

/*
 * Checks a transfer's target inside the action's transaction, against the locked case's
 * handler (county hc, hall hh): NULL when it may go there, else what to tell the staff.
 * The triggers check it again; these words are for people.
 */
static const char *
transfer_refusal(const char *target, const char *hc, const char *hh, int *failed)
{
	struct dbparam p[1] = {DBS(target)};
	struct dbrows r;
	size_t n;

	*failed = 0;
	if (db_select(strlen(target) == 12 ? "SELECT 1 FROM halls WHERE hall_code = ?" :
					     "SELECT 1 FROM halls WHERE county_code = ? LIMIT 1",
		p, 1, &r, 1) == -1) {
		*failed = 1;
		return NULL;
	}
	n = r.nrows;
	dbrows_free(&r);
	if (n == 0)
		return "没有这个大厅或县（市、区），请从列表中选择转往的地方。";
	if (strcmp(target, hc) == 0 || strcmp(target, hh) == 0)
		return "办件现在就由所选的地方办理，请选择其他大厅或县（市、区）。";
	return NULL;
}

void
case_action(struct staff_req *s)
{
	static const char *const extra[] = {"csrf", NULL};
	const char *no = url_case_no(s), *field, *msg, *note, *target, *seq;
	const struct action *a;
	struct dbparam p[5];
	struct dbrows c;
	char redirect[96];
	int is_transfer, failed = 0;

	if (no == NULL) {
		not_found(s);
		return;
	}
	if ((a = action_find(spage_in(s, "action"))) == NULL) {
		case_render(s, 422, no, NULL, NULL, "不认识的操作。");
		return;
	}
	if (fields_check(&s->r.in, action_fields, 4, extra, &field, &msg) == -1) {
		case_render(s, 422, no, NULL, a->name, msg);
		return;
	}
	note = field_value(&s->r.in, "note");
	target = field_value(&s->r.in, "target");
	seq = field_value(&s->r.in, "seq");
	is_transfer = strcmp(a->name, "transfer") == 0;
	if (a->note && note == NULL) {
		case_render(s, 422, no, NULL, a->name,
		    strcmp(a->name, "reject") == 0 ? "请填写不予受理的理由。" : "请填写答复内容。");
		return;
	}
	if (is_transfer && target == NULL) {
		case_render(s, 422, no, NULL, a->name, "请选择转往的大厅或县（市、区）。");
		return;
	}
	if (is_transfer && !target_code_ok(target)) {
		case_render(s, 422, no, NULL, a->name,
		    "没有这个大厅或县（市、区），请从列表中选择转往的地方。");
		return;
	}
	p[0] = DBS(s->u.county);
	p[1] = DBS(no);
	p[2] = DBS(s->u.county);
	p[3] = DBS(s->u.county);
	if (db_begin() == -1 ||
	    db_select("SELECT c.status, (SELECT COALESCE(MAX(e.seq), 0) FROM case_events e "
		      "WHERE e.case_no = c.case_no), c.handler_county = ?, c.handler_county, "
		      "COALESCE(c.handler_hall, '') FROM cases c "
		      "WHERE c.case_no = ? AND " SEEN_SQL " FOR UPDATE",
		p, 4, &c, 1) == -1) {
		db_rollback();
		spage_unavailable(s);
		return;
	}
	if (c.nrows == 0) {
		db_rollback();
		not_found(s);
		return;
	}
	if (db_int(&c, 0, 2) != 1) {
		db_rollback();
		dbrows_free(&c);
		case_render(s, 403, no, NULL, NULL,
		    "此办件已转办至其他县（市、区）办理，本县不能再办理。");
		return;
	}
	if (seq != NULL && strcmp(seq, db_str(&c, 0, 1)) != 0) {
		db_rollback();
		dbrows_free(&c);
		case_render(s, 409, no, NULL, NULL,
		    "这个办件刚有新的办理记录（可能是他人或重复提交），请先查看下面的办理过程再操作。");
		return;
	}
	if (!status_in(db_str(&c, 0, 0), a->from)) {
		char m[256];

		snprintf(m, sizeof(m), "办件当前状态为“%s”，不能%s。", status_text(db_str(&c, 0, 0)),
		    a->title);
		db_rollback();
		dbrows_free(&c);
		case_render(s, 409, no, NULL, NULL, m);
		return;
	}
	if (is_transfer &&
	    (msg = transfer_refusal(target, db_str(&c, 0, 3), db_str(&c, 0, 4), &failed)) != NULL) {
		db_rollback();
		dbrows_free(&c);
		case_render(s, 422, no, NULL, a->name, msg);
		return;
	}
	dbrows_free(&c);
	if (is_transfer && failed) {
		db_rollback();
		spage_unavailable(s);
		return;
	}
	/* a transfer's note gets its "转办至：..." from the trigger, from the halls table */
	p[0] = DBS(no);
	p[1] = DBS(a->status);
	p[2] = DBS(note);
	p[3] = DBS(s->u.username);
	p[4] = DBS(is_transfer ? target : NULL);
	if (db_exec("INSERT INTO case_events (case_no, status, note, actor, transfer_to) "
		    "VALUES (?, ?, ?, ?, ?)",
		p, 5, NULL) != 1 ||
	    db_commit() == -1) {
		db_rollback();
		spage_unavailable(s);
		return;
	}
	if (is_transfer)
		log_info("case %s transferred to %s by %s", no, target, s->u.username);
	else
		log_info("case %s %s by %s", no, a->status, s->u.username);
	snprintf(redirect, sizeof(redirect), "/cases/%s?done=%s", no, a->name);
	spage_redirect(s, redirect);
}

/* ---- 差评 follow-ups ------------------------------------------------------------------ */

/* The county's follow-up deadline in working days: its own setting, else the database's,
 * else 5. The trigger ratings_followup (sql/county/006) counts them on the calendars. */
static long long
followup_days(const struct staff_req *s)
{
	struct dbparam p[1] = {DBS(s->u.county)};
	struct dbrows r;
	long long days = 5;

	if (db_select("SELECT COALESCE((SELECT CAST(value AS UNSIGNED) FROM county_settings "
		      "WHERE name = CONCAT('followup_days:', ?)), (SELECT CAST(value AS UNSIGNED) "
		      "FROM county_settings WHERE name = 'followup_days'), 5)",
		p, 1, &r, 1) == 0) {
		days = db_int(&r, 0, 0);
		dbrows_free(&r);
	}
	return days;
}

void
followups_page(struct staff_req *s)
{
	struct dbparam p[1];
	struct dbrows f;
	struct buf b;
	size_t i;
	long long days = followup_days(s);

	/* a 差评 is followed up by the county that handled the case */
	p[0] = DBS(s->u.county);
	if (db_select("SELECT f.case_no, COALESCE(h.name, f.hall_code), f.level, r.comment, "
		      "UNIX_TIMESTAMP(f.opened_at), UNIX_TIMESTAMP(f.due_at), f.closed_by, "
		      "UNIX_TIMESTAMP(f.closed_at), f.closed_at IS NULL AND f.due_at < NOW(), "
		      "f.rectification "
		      "FROM rating_followups f JOIN cases c ON c.case_no = f.case_no "
		      "LEFT JOIN ratings r ON r.case_no = f.case_no "
		      "LEFT JOIN halls h ON h.hall_code = f.hall_code WHERE c.handler_county = ? "
		      "ORDER BY f.closed_at IS NOT NULL, f.due_at, f.case_no LIMIT 300",
		p, 1, &f, 300) == -1) {
		spage_unavailable(s);
		return;
	}
	buf_init(&b, PAGE_MAX);
	spage_begin(&b, s, "差评回访");
	buf_printf(&b, "<h1>差评回访</h1><p class=\"muted\">群众评价为 1 级（非常不满意）或 2 级"
		       "（不满意）的办件自动列入回访，须在 <b id=\"followup-days\">%lld</b> 个工作日内"
		       "整改（从评价次日起算，按节假日安排跳过周末、节假日，调休上班日照常计算；"
		       "期限为第 %lld 个工作日的 23:59），由督查员登记整改情况。</p>",
	    days, days);
	if (auth_role_at_least(&s->u, "admin")) {
		buf_adds(&b, "<form class=\"filters\" method=\"post\" action=\"/settings/followup\">");
		spage_csrf_field(&b, s);
		buf_printf(&b, "<label>整改期限（工作日，之后的差评适用）<input name=\"days\" "
			       "inputmode=\"numeric\" maxlength=\"2\" required value=\"%lld\"></label>"
			       "<button type=\"submit\">保存</button></form>",
		    days);
	}
	buf_adds(&b, "<div class=\"scroll\"><table><thead><tr><th>办件编号</th><th>大厅</th>"
		     "<th>评价</th><th>整改期限</th><th>状态</th></tr></thead><tbody>");
	for (i = 0; i < f.nrows; i++) {
		char due[32];

		spage_time(due, (time_t)db_int(&f, i, 5));
		buf_adds(&b, "<tr><td><a href=\"/cases/");
		SH(&b, db_str(&f, i, 0));
		buf_adds(&b, "\">");
		spage_caseno(&b, db_str(&f, i, 0));
		buf_adds(&b, "</a></td><td>");
		SH(&b, db_str(&f, i, 1));
		buf_printf(&b, "</td><td>%lld 级 ", db_int(&f, i, 2));
		SH(&b, level_text((int)db_int(&f, i, 2)));
		if (*db_str(&f, i, 3) != '\0') {
			buf_adds(&b, "<div class=\"muted\">");
			SH(&b, db_str(&f, i, 3));
			buf_adds(&b, "</div>");
		}
		buf_adds(&b, "</td><td>");
		SH(&b, due);
		buf_adds(&b, "</td><td>");
		if (db_val(&f, i, 7) != NULL) {
			buf_adds(&b, "<span class=\"tag closed\">已整改</span> <span class=\"muted\">");
			SH(&b, db_str(&f, i, 6));
			buf_adds(&b, "</span>");
		} else if (db_int(&f, i, 8) == 1)
			buf_adds(&b, "<span class=\"tag overdue\">已超期</span>");
		else
			buf_adds(&b, "<span class=\"tag warning\">待整改</span>");
		buf_adds(&b, "</td></tr>");
	}
	if (f.nrows == 0)
		buf_adds(&b, "<tr><td colspan=\"5\">没有差评回访。</td></tr>");
	buf_adds(&b, "</tbody></table></div>");
	dbrows_free(&f);
	spage_end(&b);
	spage_send(s, 200, &b, NULL);
	buf_free(&b);
}

static const struct field_spec followup_fields[] = {
	{"rectification", 1, check_multiline, STAFF_NOTE_MAX, NULL, "整改情况"},
};

void
followup_close(struct staff_req *s)
{
	static const char *const extra[] = {"csrf", NULL};
	const char *no = url_case_no(s), *field, *msg;
	struct dbparam p[4];
	char redirect[96];
	long long n;

	if (no == NULL) {
		not_found(s);
		return;
	}
	if (fields_check(&s->r.in, followup_fields, 1, extra, &field, &msg) == -1) {
		case_render(s, 422, no, NULL, "followup", msg);
		return;
	}
	p[0] = DBS(field_value(&s->r.in, "rectification"));
	p[1] = DBS(s->u.username);
	p[2] = DBS(no);
	p[3] = DBS(s->u.county);
	n = db_exec("UPDATE rating_followups f JOIN cases c ON c.case_no = f.case_no "
		    "SET f.rectification = ?, f.closed_by = ?, f.closed_at = NOW() "
		    "WHERE f.case_no = ? AND c.handler_county = ? AND f.closed_at IS NULL",
	    p, 4, NULL);
	if (n == -1) {
		spage_unavailable(s);
		return;
	}
	if (n == 0) {
		/* none open: not ours, not a 差评, or already recorded */
		case_render(s, 409, no, NULL, NULL, "这个办件没有待整改的差评回访。");
		return;
	}
	log_info("follow-up of %s closed by %s", no, s->u.username);
	snprintf(redirect, sizeof(redirect), "/cases/%s?done=followup", no);
	spage_redirect(s, redirect);
}

/* An admin sets the county's follow-up deadline; follow-ups already open keep theirs. */
void
followup_settings(struct staff_req *s)
{
	struct dbparam p[2];
	char name[32], value[8];
	const char *v;
	long days;
	char *end;

	v = spage_in(s, "days");
	days = strtol(v, &end, 10);
	if (*v == '\0' || *end != '\0' || days < 1 || days > 60) {
		spage_message(s, 422, "未保存", "整改期限须为 1 至 60 个工作日。");
		return;
	}
	snprintf(name, sizeof(name), "followup_days:%s", s->u.county);
	snprintf(value, sizeof(value), "%ld", days);
	p[0] = DBS(name);
	p[1] = DBS(value);
	if (db_exec("INSERT INTO county_settings (name, value) VALUES (?, ?) "
		    "ON DUPLICATE KEY UPDATE value = VALUES(value)",
		p, 2, NULL) == -1) {
		spage_unavailable(s);
		return;
	}
	log_info("follow-up deadline of %s set to %ld working days by %s", s->u.county, days,
	    s->u.username);
	spage_redirect(s, "/followups");
}
