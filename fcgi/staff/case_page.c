/*
 * The case page: the full record, the contact data, the timeline, the rating and its 差评
 * follow-up, and a form for each action the case's status allows (case_action.c takes
 * them). A county that transferred the case on sees it read only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "staff.h"

const char *
case_url_no(const struct staff_req *s)
{
	const char *no = s->r.arg;

	if (strlen(no) != CASENO_LEN || strspn(no, CASENO_ALPHABET) != CASENO_LEN ||
	    !caseno_valid(no))
		return NULL;
	return no;
}

void
case_not_found(struct staff_req *s)
{
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

/*
 * What the page reads, each statement beside its columns. The case, if the county sees it
 * (four parameters: the county, the case number, the county twice), with C_MINE 1 when
 * the county handles it.
 */
#define CASE_SQL \
	"SELECT c.case_no, c.hall_code, COALESCE(h.name, ''), c.kind, c.category, " \
	"c.channel, c.subject, c.body, c.name, c.phone, c.email, c.item, c.target, " \
	"UNIX_TIMESTAMP(c.submitted_at), UNIX_TIMESTAMP(c.due_at), c.due_provisional, " \
	"c.status, " OVERDUE_SQL ", " WARNING_SQL ", UNIX_TIMESTAMP(c.received_at), " \
	"(SELECT COALESCE(MAX(e.seq), 0) FROM case_events e WHERE e.case_no = c.case_no), " \
	"c.handler_county, COALESCE(c.handler_hall, ''), COALESCE(hh.name, ''), " \
	"COALESCE(k.name, ''), c.handler_county = ?, c.registrar " \
	"FROM cases c LEFT JOIN halls h ON h.hall_code = c.hall_code " \
	"LEFT JOIN halls hh ON hh.hall_code = c.handler_hall " \
	"LEFT JOIN counties k ON k.county_code = c.handler_county " \
	"WHERE c.case_no = ? AND " SEEN_SQL
enum {
	C_NO, C_HALL, C_HALL_NAME, C_KIND, C_CATEGORY, C_CHANNEL, C_SUBJECT, C_BODY, C_NAME,
	C_PHONE, C_EMAIL, C_ITEM, C_TARGET, C_SUBMITTED, C_DUE, C_PROVISIONAL, C_STATUS,
	C_OVERDUE, C_WARNING, C_RECEIVED, C_LAST_SEQ, C_HANDLER_COUNTY, C_HANDLER_HALL,
	C_HANDLER_HALL_NAME, C_HANDLER_COUNTY_NAME, C_MINE, C_REGISTRAR, C__N
};
/* Its events, in order (one parameter: the case number). */
#define EVENTS_SQL "SELECT seq, status, note, actor, UNIX_TIMESTAMP(at), origin FROM case_events " \
	"WHERE case_no = ? ORDER BY at, seq"
enum { EV_SEQ, EV_STATUS, EV_NOTE, EV_ACTOR, EV_AT, EV_ORIGIN, EV__N };
/* Its rating. */
#define RATING_SQL "SELECT level, comment, UNIX_TIMESTAMP(at) FROM ratings WHERE case_no = ?"
enum { RT_LEVEL, RT_COMMENT, RT_AT, RT__N };
/* Its 差评 follow-up. */
#define FOLLOWUP_SQL "SELECT UNIX_TIMESTAMP(opened_at), UNIX_TIMESTAMP(due_at), rectification, " \
	"closed_by, UNIX_TIMESTAMP(closed_at), closed_at IS NULL AND due_at < NOW() " \
	"FROM rating_followups WHERE case_no = ?"
enum { FU_OPENED, FU_DUE, FU_RECTIFICATION, FU_CLOSED_BY, FU_CLOSED_AT, FU_LATE, FU__N };

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
	timeline_item(b, (time_t)db_int(c, 0, C_SUBMITTED),
	    db_val(c, 0, C_REGISTRAR) != NULL ? "窗口登记" : "群众提交",
	    db_val(c, 0, C_REGISTRAR) != NULL ? db_str(c, 0, C_REGISTRAR) : "大厅");
	timeline_item(b, (time_t)db_int(c, 0, C_RECEIVED), "送达县级", "同步");
	for (i = 0; i < ev->nrows; i++) {
		char when[32];

		spage_time(when, (time_t)db_int(ev, i, EV_AT));
		buf_adds(b, "<li><time>");
		SH(b, when);
		buf_adds(b, "</time> <b>");
		SH(b, status_text(db_str(ev, i, EV_STATUS)));
		buf_adds(b, "</b> <span class=\"muted\">");
		SH(b, strcmp(db_str(ev, i, EV_ORIGIN), "hall") == 0 ? "大厅" :
		    db_str(ev, i, EV_ACTOR));
		buf_adds(b, "</span>");
		if (*db_str(ev, i, EV_NOTE) != '\0') {
			buf_adds(b, "<div class=\"text\">");
			SH(b, db_str(ev, i, EV_NOTE));
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
	spage_time(when, (time_t)db_int(rt, 0, RT_AT));
	buf_printf(b, "<p><b id=\"rating-level\">%lld</b> 级 · ", db_int(rt, 0, RT_LEVEL));
	SH(b, level_text((int)db_int(rt, 0, RT_LEVEL)));
	buf_adds(b, " <span class=\"muted\">");
	SH(b, when);
	buf_adds(b, "</span></p>");
	if (*db_str(rt, 0, RT_COMMENT) != '\0') {
		buf_adds(b, "<div class=\"text\">");
		SH(b, db_str(rt, 0, RT_COMMENT));
		buf_adds(b, "</div>");
	}
	if (fu->nrows == 0)
		return;
	/* 差评: the follow-up and, once done, its rectification */
	spage_time(when, (time_t)db_int(fu, 0, FU_DUE));
	buf_adds(b, "<h2>差评回访</h2><p>整改期限 ");
	SH(b, when);
	if (db_val(fu, 0, FU_CLOSED_AT) != NULL) {
		spage_time(when, (time_t)db_int(fu, 0, FU_CLOSED_AT));
		buf_adds(b, " · <span class=\"tag closed\">已整改</span> ");
		SH(b, db_str(fu, 0, FU_CLOSED_BY));
		buf_adds(b, " ");
		SH(b, when);
		buf_adds(b, "</p><div class=\"text\">");
		SH(b, db_str(fu, 0, FU_RECTIFICATION));
		buf_adds(b, "</div>");
		return;
	}
	buf_adds(b, db_int(fu, 0, FU_LATE) == 1 ? " <span class=\"tag overdue\">已超期</span></p>" :
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
	enum { T_COUNTY, T_COUNTY_NAME, T_HALL, T_HALL_NAME, T__N };
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
		const char *county = db_str(&t, i, T_COUNTY), *hall = db_str(&t, i, T_HALL);
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
			county_words(b, county, db_str(&t, i, T_COUNTY_NAME));
			buf_adds(b, "\">");
			open = 1;
		}
		if (county_ok) {
			target_option(b, county, selected);
			county_words(b, county, db_str(&t, i, T_COUNTY_NAME));
			buf_adds(b, " 县级（不指定大厅）</option>");
		}
		if (hall_ok) {
			target_option(b, hall, selected);
			SH(b, db_str(&t, i, T_HALL_NAME));
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
	const struct case_act *a;
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
	for (a = case_acts; a->name != NULL; a++) {
		int mine = err_action != NULL && strcmp(err_action, a->name) == 0;

		if (!case_act_may(a, status))
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
		spage_notices(b, NULL, mine ? err : NULL);
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

void
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
	if (db_select(CASE_SQL, p, 4, &c, 1) == -1) {
		spage_unavailable(s);
		return;
	}
	if (c.nrows == 0) {
		dbrows_free(&c);
		case_not_found(s);
		return;
	}
	p[0] = DBS(case_no);
	if (db_select(EVENTS_SQL, p, 1, &ev, 500) == -1 ||
	    db_select(RATING_SQL, p, 1, &rt, 1) == -1 ||
	    db_select(FOLLOWUP_SQL, p, 1, &fu, 1) == -1) {
		dbrows_free(&c);
		dbrows_free(&ev);
		dbrows_free(&rt);
		spage_unavailable(s);
		return;
	}
	/* the contact data is shown only once its view is in the audit log (fail closed) */
	if (audit_record(s, "view", case_no, NULL) == -1) {
		dbrows_free(&c);
		dbrows_free(&ev);
		dbrows_free(&rt);
		dbrows_free(&fu);
		audit_unavailable(s);
		return;
	}
	spage_begin(&b, s, db_str(&c, 0, C_SUBJECT));
	buf_adds(&b, "<p class=\"muted\"><a href=\"/\">← 办件列表</a></p><h1>");
	SH(&b, db_str(&c, 0, C_SUBJECT));
	buf_adds(&b, "</h1>");
	spage_notices(&b, done, err_action == NULL ? err : NULL);
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
	/* seed 4's channels: a case registered at a hall's window names its registrar */
	buf_adds(&b, "<dt>受理渠道</dt><dd id=\"channel\">");
	SH(&b, channel_text(db_val(&c, 0, C_CHANNEL)));
	buf_adds(&b, "</dd>");
	if (db_val(&c, 0, C_REGISTRAR) != NULL) {
		buf_adds(&b, "<dt>登记人</dt><dd id=\"registrar\">");
		SH(&b, db_str(&c, 0, C_REGISTRAR));
		buf_adds(&b, "（大厅窗口）</dd>");
	}
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
	dbrows_free(&c);
	dbrows_free(&ev);
	dbrows_free(&rt);
	dbrows_free(&fu);
	spage_finish(s, http_status, &b, NULL);
}

void
case_page(struct staff_req *s)
{
	const char *no = case_url_no(s), *done = NULL;
	const struct case_act *a;

	if (no == NULL) {
		case_not_found(s);
		return;
	}
	/* after an action's redirect: ?done=answer says what was done */
	if (kv_parse_form(s->r.query, strlen(s->r.query), &s->r.in) == PARSE_OK) {
		const char *d = spage_in(s, "done");

		if ((a = case_act_find(d)) != NULL)
			done = a->done;
		else if (strcmp(d, "followup") == 0)
			done = "整改情况已登记。";
		kv_free(&s->r.in);
	}
	case_render(s, 200, no, done, NULL, NULL);
}
