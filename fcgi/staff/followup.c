/*
 * 差评 follow-ups: a rating of 1 or 2 opens one (the trigger ratings_followup of
 * sql/county/006 counts its deadline in working days, on the days the calendars' C parser
 * decided: calendar_days, sql/county/008). The county's
 * list, the rectification a supervisor records, and the deadline an admin sets.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "staff.h"

/* The county's follow-up deadline in working days: its own setting, else the database's,
 * else 5. The trigger ratings_followup (sql/county/006) counts them on calendar_days. */
static long long
followup_days(const struct staff_req *s)
{
	enum { DAYS, DAYS__N };
	struct dbparam p[1] = {DBS(s->u.county)};
	struct dbrows r;
	long long days = 5;

	if (db_select("SELECT COALESCE((SELECT CAST(value AS UNSIGNED) FROM county_settings "
		      "WHERE name = CONCAT('followup_days:', ?)), (SELECT CAST(value AS UNSIGNED) "
		      "FROM county_settings WHERE name = 'followup_days'), 5)",
		p, 1, &r, 1) == 0) {
		days = db_int(&r, 0, DAYS);
		dbrows_free(&r);
	}
	return days;
}

void
followups_page(struct staff_req *s)
{
	enum {
		F_CASE_NO, F_HALL, F_LEVEL, F_COMMENT, F_OPENED, F_DUE, F_CLOSED_BY, F_CLOSED_AT,
		F_LATE, F_RECTIFICATION, F__N
	};
	static const struct scol cols[] = {
		{"办件编号", NULL}, {"大厅", NULL}, {"评价", NULL}, {"整改期限", NULL},
		{"状态", NULL},
	};
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
	spage_table(&b, NULL, cols, NCOLS(cols));
	for (i = 0; i < f.nrows; i++) {
		char due[32];

		spage_time(due, (time_t)db_int(&f, i, F_DUE));
		buf_adds(&b, "<tr><td>");
		spage_link(&b, "/cases/", db_str(&f, i, F_CASE_NO), NULL);
		buf_adds(&b, "</td>");
		spage_td(&b, NULL, db_str(&f, i, F_HALL));
		buf_printf(&b, "<td>%lld 级 ", db_int(&f, i, F_LEVEL));
		SH(&b, level_text((int)db_int(&f, i, F_LEVEL)));
		if (*db_str(&f, i, F_COMMENT) != '\0') {
			buf_adds(&b, "<div class=\"muted\">");
			SH(&b, db_str(&f, i, F_COMMENT));
			buf_adds(&b, "</div>");
		}
		buf_adds(&b, "</td>");
		spage_td(&b, NULL, due);
		buf_adds(&b, "<td>");
		if (db_val(&f, i, F_CLOSED_AT) != NULL) {
			buf_adds(&b, "<span class=\"tag closed\">已整改</span> <span class=\"muted\">");
			SH(&b, db_str(&f, i, F_CLOSED_BY));
			buf_adds(&b, "</span>");
		} else if (db_int(&f, i, F_LATE) == 1)
			buf_adds(&b, "<span class=\"tag overdue\">已超期</span>");
		else
			buf_adds(&b, "<span class=\"tag warning\">待整改</span>");
		buf_adds(&b, "</td></tr>");
	}
	spage_table_end(&b, NCOLS(cols), f.nrows, "没有差评回访。");
	dbrows_free(&f);
	spage_finish(s, 200, &b, NULL);
}

static const struct field_spec followup_fields[] = {
	{"rectification", 1, check_multiline, STAFF_NOTE_MAX, NULL, "整改情况"},
};

void
followup_close(struct staff_req *s)
{
	static const char *const extra[] = {"csrf", NULL};
	const char *no = case_url_no(s), *field, *msg;
	struct dbparam p[4];
	char redirect[96];
	long long n;

	if (no == NULL) {
		case_not_found(s);
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
	n = audit_exec(s, "followup", no, NULL,
	    "UPDATE rating_followups f JOIN cases c ON c.case_no = f.case_no "
	    "SET f.rectification = ?, f.closed_by = ?, f.closed_at = NOW() "
	    "WHERE f.case_no = ? AND c.handler_county = ? AND f.closed_at IS NULL",
	    p, 4);
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
	if (audit_exec(s, "followup-days", NULL, value, "INSERT INTO county_settings (name, value) "
		    "VALUES (?, ?) ON DUPLICATE KEY UPDATE value = VALUES(value)",
		p, 2) == -1) {
		spage_unavailable(s);
		return;
	}
	log_info("follow-up deadline of %s set to %ld working days by %s", s->u.county, days,
	    s->u.username);
	spage_redirect(s, "/followups");
}
