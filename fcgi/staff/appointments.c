/*
 * Appointments at the county (SPEC 4.5, 7; sql/county/016): a hall's bookings of a day,
 * with the citizen's name and phone (each view of them is a row of the audit log, as a
 * case page is); confirm, refuse with a reason (the triggers of appointment_events move the
 * appointment, queue it down to the hall and the refusal's notices); the bookings a later
 * schedule or calendar no longer has a slot for (appointment_conflicts), for staff to call
 * the citizen; and the dashboard's figures per hall.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "staff.h"

#define APPT_ROWS 500		/* a hall's day, or the county's conflicts, at most */

static const struct {
	const char *status, *text, *class;
} appt_statuses[] = {
	{"booked", "已预约", "warning"}, {"confirmed", "已确认", "closed"},
	{"refused", "未同意", "overdue"}, {"cancelled", "已取消", "closed"},
	{"attended", "已办理", "closed"}, {"no_show", "未到", "overdue"},
};

static void
status_tag(struct buf *b, const char *status)
{
	size_t i;

	for (i = 0; i < NCOLS(appt_statuses); i++)
		if (strcmp(status, appt_statuses[i].status) == 0) {
			buf_printf(b, "<span class=\"tag %s\" data-status=\"%s\">%s</span>",
			    appt_statuses[i].class, appt_statuses[i].status, appt_statuses[i].text);
			return;
		}
	SH(b, status);
}

/* 1 when s is "YYYY-MM-DD" (the database checks the day itself). */
int
appt_date_ok(const char *s)
{
	size_t i;

	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return 0;
	for (i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return 0;
	return 1;
}

/* 1 when s is a 12-digit hall code. */
int
appt_hall_ok(const char *s)
{
	return strlen(s) == 12 && strspn(s, "0123456789") == 12;
}

static void
today(char out[11], time_t now)
{
	time_t local = now + 8 * 3600;	/* Asia/Shanghai has no summer time */
	struct tm tm;

	gmtime_r(&local, &tm);
	strftime(out, 11, "%Y-%m-%d", &tm);
}

/* The query string into s->r.in; bad input is ignored, not refused (as the inbox). */
static void
read_query(struct staff_req *s)
{
	if (strlen(s->r.query) > 4096 ||
	    kv_parse_form(s->r.query, strlen(s->r.query), &s->r.in) != PARSE_OK)
		kv_free(&s->r.in);
}

/* The county's halls (code, name); -1 when the database failed. */
static int
county_halls(const struct staff_req *s, struct dbrows *h)
{
	struct dbparam p[1] = {DBS(s->u.county)};

	return db_select("SELECT hall_code, name FROM halls WHERE county_code = ? "
			 "ORDER BY hall_code", p, 1, h, 1000);
}

static int
hall_index(const struct dbrows *h, const char *code)
{
	size_t i;

	for (i = 0; i < h->nrows; i++)
		if (strcmp(db_str(h, i, 0), code) == 0)
			return (int)i;
	return -1;
}

/* The forms of one appointment: confirm (booked), refuse with a reason (booked, confirmed). */
static void
appt_forms(struct buf *b, const struct staff_req *s, const char *no, const char *status,
    const char *hall, const char *date)
{
	int booked = strcmp(status, "booked") == 0;

	if (!booked && strcmp(status, "confirmed") != 0)
		return;
	if (booked) {
		buf_adds(b, "<form method=\"post\" class=\"inline\" action=\"/appointments/");
		SH(b, no);
		buf_adds(b, "\">");
		spage_csrf_field(b, s);
		buf_printf(b, "<input type=\"hidden\" name=\"action\" value=\"confirm\">"
			      "<input type=\"hidden\" name=\"hall\" value=\"%s\">"
			      "<input type=\"hidden\" name=\"date\" value=\"%s\">"
			      "<button type=\"submit\">确认</button></form> ", hall, date);
	}
	buf_adds(b, "<form method=\"post\" class=\"inline\" action=\"/appointments/");
	SH(b, no);
	buf_adds(b, "\">");
	spage_csrf_field(b, s);
	buf_printf(b, "<input type=\"hidden\" name=\"action\" value=\"refuse\">"
		      "<input type=\"hidden\" name=\"hall\" value=\"%s\">"
		      "<input type=\"hidden\" name=\"date\" value=\"%s\">"
		      "<input name=\"reason\" required maxlength=\"%d\" placeholder=\"不同意的理由（必填）\">"
		      "<button type=\"submit\">不同意</button></form>", hall, date, STAFF_NOTE_MAX);
}

/* GET /appointments?hall=…&date=…: a hall's bookings of a day. */
void
appointments_page(struct staff_req *s)
{
	enum { A_NO, A_START, A_END, A_ITEM, A_NAME, A_PHONE, A_STATUS, A_REASON, A_CHANNEL,
	       A_NOTE, A__N };
	static const struct scol cols[] = {
		{"时间", NULL}, {"预约号", NULL}, {"事项", NULL}, {"预约人", NULL}, {"电话", NULL},
		{"状态", NULL}, {"处理", NULL},
	};
	struct dbrows h, a;
	struct dbparam p[2];
	struct buf b;
	char day[11], detail[64];
	const char *hall, *done;
	size_t i;
	int hi;

	read_query(s);
	today(day, s->now);
	if (appt_date_ok(spage_in(s, "date")))
		snprintf(day, sizeof(day), "%s", spage_in(s, "date"));
	if (county_halls(s, &h) == -1) {
		spage_unavailable(s);
		return;
	}
	hi = hall_index(&h, spage_in(s, "hall"));
	if (hi < 0 && h.nrows > 0)
		hi = 0;
	hall = hi >= 0 ? db_str(&h, (size_t)hi, 0) : "";
	p[0] = DBS(hall);
	p[1] = DBS(day);
	if (db_select("SELECT appointment_no, start, `end`, item_name, name, phone, status, reason, "
		      "channel, note FROM appointments WHERE hall_code = ? AND date = ? "
		      "ORDER BY start, appointment_no LIMIT 500", p, 2, &a, APPT_ROWS) == -1) {
		dbrows_free(&h);
		spage_unavailable(s);
		return;
	}
	/* names and phones on the page: a view of contact data, kept as a case page's is */
	snprintf(detail, sizeof(detail), "%s %s", hall, day);
	if (a.nrows > 0 && audit_record(s, "appointments", NULL, detail) == -1) {
		dbrows_free(&h);
		dbrows_free(&a);
		audit_unavailable(s);
		return;
	}
	spage_begin(&b, s, "预约");
	buf_adds(&b, "<h1>预约</h1><p class=\"muted\">各大厅的预约（群众在大厅网站或窗口预约，"
		     "同步到县级）。不同意的须写明理由，理由经大厅告知群众，并以短信、邮件通知。"
		     "<a href=\"/appointment-conflicts\">与新时段安排冲突的预约</a></p>");
	done = spage_in(s, "done");
	spage_notices(&b, strcmp(done, "confirm") == 0 ? "已确认预约。" :
	    strcmp(done, "refuse") == 0 ? "已不同意预约，理由将告知群众。" : NULL, NULL);
	buf_adds(&b, "<form class=\"filters\" method=\"get\" action=\"/appointments\">"
		     "<label>大厅<select name=\"hall\">");
	for (i = 0; i < h.nrows; i++) {
		buf_adds(&b, "<option value=\"");
		SH(&b, db_str(&h, i, 0));
		buf_adds(&b, (int)i == hi ? "\" selected>" : "\">");
		SH(&b, db_str(&h, i, 1));
		buf_adds(&b, "</option>");
	}
	buf_printf(&b, "</select></label><label>日期<input type=\"date\" name=\"date\" "
		       "value=\"%s\"></label><button type=\"submit\">查看</button></form>", day);
	if (hi >= 0) {
		buf_adds(&b, "<p><a href=\"/schedules/");
		SH(&b, hall);
		buf_adds(&b, "\">本大厅的预约事项与时段</a></p>");
	}
	spage_table(&b, "id=\"appointments\"", cols, NCOLS(cols));
	for (i = 0; i < a.nrows; i++) {
		buf_adds(&b, "<tr data-no=\"");
		SH(&b, db_str(&a, i, A_NO));
		buf_adds(&b, "\"><td>");
		SH(&b, db_str(&a, i, A_START));
		buf_adds(&b, "–");
		SH(&b, db_str(&a, i, A_END));
		buf_adds(&b, "</td><td>");
		spage_caseno(&b, db_str(&a, i, A_NO));
		buf_adds(&b, "</td><td>");
		SH(&b, db_str(&a, i, A_ITEM));
		if (*db_str(&a, i, A_NOTE) != '\0') {
			buf_adds(&b, "<div class=\"muted\">");
			SH(&b, db_str(&a, i, A_NOTE));
			buf_adds(&b, "</div>");
		}
		buf_adds(&b, "</td>");
		spage_td(&b, NULL, db_str(&a, i, A_NAME));
		spage_td(&b, NULL, db_str(&a, i, A_PHONE));
		buf_adds(&b, "<td>");
		status_tag(&b, db_str(&a, i, A_STATUS));
		if (*db_str(&a, i, A_REASON) != '\0') {
			buf_adds(&b, "<div class=\"muted\">理由：");
			SH(&b, db_str(&a, i, A_REASON));
			buf_adds(&b, "</div>");
		}
		buf_adds(&b, "</td><td>");
		appt_forms(&b, s, db_str(&a, i, A_NO), db_str(&a, i, A_STATUS), hall, day);
		buf_adds(&b, "</td></tr>");
	}
	spage_table_end(&b, NCOLS(cols), a.nrows, "这一天没有预约。");
	dbrows_free(&a);
	dbrows_free(&h);
	spage_finish(s, 200, &b, NULL);
}

/* POST /appointments/{no}: action confirm, or refuse with a reason. */
void
appointment_action(struct staff_req *s)
{
	const char *no = s->r.arg, *action = spage_in(s, "action"), *reason = spage_in(s, "reason");
	const char *hall = spage_in(s, "hall"), *date = spage_in(s, "date"), *status, *bad = NULL;
	struct field_spec spec = {"reason", 1, check_multiline, STAFF_NOTE_MAX, NULL, "理由"};
	struct dbparam p[4];
	struct dbrows open;
	char back[128];
	long long n;

	if (no == NULL || strlen(no) > 32 || strspn(no, "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ") !=
	    strlen(no)) {
		spage_message(s, 404, "未找到", "没有这个预约。");
		return;
	}
	if (strcmp(action, "confirm") == 0) {
		status = "confirmed";
		reason = NULL;
	} else if (strcmp(action, "refuse") == 0) {
		status = "refused";
		if (*reason == '\0' || (bad = check_multiline(reason, &spec)) != NULL) {
			spage_message(s, 422, "未提交", *reason == '\0' ?
			    "不同意预约须写明理由（将告知群众）。" : bad);
			return;
		}
	} else {
		spage_message(s, 422, "未提交", "未知的操作。");
		return;
	}
	/* the county's own halls only, and only what the decision may follow; read first, as
	 * the trigger that moves the appointment may not run under a statement that reads it
	 * (a decision racing this one is refused by appointment_events_guard) */
	p[0] = DBS(no);
	p[1] = DBS(s->u.county);
	p[2] = DBS(status);
	if (db_select("SELECT 1 FROM appointments a JOIN halls h ON h.hall_code = a.hall_code "
		      "WHERE a.appointment_no = ? AND h.county_code = ? "
		      "AND (a.status = 'booked' OR (a.status = 'confirmed' AND ? = 'refused'))",
		p, 3, &open, 1) == -1) {
		spage_unavailable(s);
		return;
	}
	n = (long long)open.nrows;
	dbrows_free(&open);
	if (n == 1) {
		p[0] = DBS(no);
		p[1] = DBS(status);
		p[2] = DBS(reason);
		p[3] = DBS(s->u.username);
		n = audit_exec(s, strcmp(action, "confirm") == 0 ? "appt-confirm" : "appt-refuse",
		    no, reason, "INSERT INTO appointment_events (appointment_no, status, reason, "
		    "actor) VALUES (?, ?, ?, ?)", p, 4);
	}
	if (n == -1) {
		spage_unavailable(s);
		return;
	}
	if (n == 0) {
		spage_message(s, 409, "未提交", "这个预约不存在、不属于本县，或已不能这样处理"
		    "（已确认、已取消、已办理或已不同意）。");
		return;
	}
	log_info("appointment %s %s by %s", no, status, s->u.username);
	snprintf(back, sizeof(back), "/appointments?hall=%s&date=%s&done=%s",
	    appt_hall_ok(hall) ? hall : "", appt_date_ok(date) ? date : "", action);
	spage_redirect(s, back);
}

/* GET /appointment-conflicts: the county's bookings the schedule no longer has. */
void
conflicts_page(struct staff_req *s)
{
	enum { C_HALL, C_HALL_NAME, C_NO, C_DATE, C_START, C_ITEM, C_NAME, C_PHONE, C_STATUS,
	       C_WHY, C__N };
	static const struct scol cols[] = {
		{"大厅", NULL}, {"日期", NULL}, {"时间", NULL}, {"预约号", NULL}, {"事项", NULL},
		{"预约人", NULL}, {"电话", NULL}, {"状态", NULL}, {"冲突", NULL},
	};
	struct dbparam p[1] = {DBS(s->u.county)};
	struct dbrows c;
	struct buf b;
	size_t i;

	if (db_select("SELECT c.hall_code, h.name, c.appointment_no, DATE_FORMAT(c.date, "
		      "'%Y-%m-%d'), c.start, c.item_name, c.name, c.phone, c.status, c.why "
		      "FROM appointment_conflicts c JOIN halls h ON h.hall_code = c.hall_code "
		      "WHERE h.county_code = ? ORDER BY c.date, c.start, c.appointment_no LIMIT 500",
		p, 1, &c, APPT_ROWS) == -1) {
		spage_unavailable(s);
		return;
	}
	if (c.nrows > 0 && audit_record(s, "appointments", NULL, "conflicts") == -1) {
		dbrows_free(&c);
		audit_unavailable(s);
		return;
	}
	spage_begin(&b, s, "预约冲突");
	buf_adds(&b, "<h1>与时段安排冲突的预约</h1><p class=\"muted\">大厅的预约时段或不接受预约的"
		     "日期改变后（或节假日安排调整后），已有的预约不会被自动取消：它们列在这里，"
		     "请联系群众，在当日页面确认照常办理或写明理由不同意。</p>");
	spage_table(&b, "id=\"conflicts\"", cols, NCOLS(cols));
	for (i = 0; i < c.nrows; i++) {
		const char *why = db_str(&c, i, C_WHY);

		buf_adds(&b, "<tr data-no=\"");
		SH(&b, db_str(&c, i, C_NO));
		buf_adds(&b, "\">");
		spage_td(&b, NULL, db_str(&c, i, C_HALL_NAME));
		buf_adds(&b, "<td><a href=\"/appointments?hall=");
		SH(&b, db_str(&c, i, C_HALL));
		buf_adds(&b, "&amp;date=");
		SH(&b, db_str(&c, i, C_DATE));
		buf_adds(&b, "\">");
		SH(&b, db_str(&c, i, C_DATE));
		buf_adds(&b, "</a></td>");
		spage_td(&b, NULL, db_str(&c, i, C_START));
		buf_adds(&b, "<td>");
		spage_caseno(&b, db_str(&c, i, C_NO));
		buf_adds(&b, "</td>");
		spage_td(&b, NULL, db_str(&c, i, C_ITEM));
		spage_td(&b, NULL, db_str(&c, i, C_NAME));
		spage_td(&b, NULL, db_str(&c, i, C_PHONE));
		buf_adds(&b, "<td>");
		status_tag(&b, db_str(&c, i, C_STATUS));
		buf_printf(&b, "</td><td data-why=\"%s\">%s</td></tr>",
		    strcmp(why, "closed") == 0 ? "closed" : strcmp(why, "holiday") == 0 ?
		    "holiday" : "slot",
		    strcmp(why, "closed") == 0 ? "当日不接受预约" : strcmp(why, "holiday") == 0 ?
		    "当日已非工作日" : "时段已取消");
	}
	spage_table_end(&b, NCOLS(cols), c.nrows, "没有冲突的预约。");
	dbrows_free(&c);
	spage_finish(s, 200, &b, NULL);
}

/*
 * The dashboard's appointments: the county's totals over the last 30 days and what is
 * booked ahead, and the problem halls only (most refusals and no-shows),
 * APPT_DASH_HALLS of them, both from appt_day_stats (sql/county/025: the folded totals and the changes not yet
 * folded, inserted by triggers), so
 * the section stays a few KB and a few ms at 300 halls. Every hall's own list is
 * /appointments?hall=.
 */
#define APPT_DASH_HALLS 10
#define APPT_STR_(x) #x
#define APPT_STR(x) APPT_STR_(x)
#define APPT_WINDOW "s.county_code = ? AND s.date >= CURDATE() - INTERVAL 30 DAY "
#define APPT_FIGURES "COALESCE(SUM(s.total), 0) AS booked, " \
	"COALESCE(SUM(IF(s.date >= CURDATE(), s.booked + s.confirmed, 0)), 0) AS ahead, " \
	"COALESCE(SUM(s.attended), 0) AS attended, COALESCE(SUM(s.no_show), 0) AS no_show, " \
	"COALESCE(SUM(s.refused), 0) AS refused"
enum { AP_CODE, AP_NAME, AP_BOOKED, AP_AHEAD, AP_ATTENDED, AP_NO_SHOW, AP_REFUSED, AP__N };

static void
appt_row(struct buf *b, const struct dbrows *r, size_t i, int total)
{
	if (total)
		buf_adds(b, "<tr data-total=\"1\"><td><b>全县合计</b></td>");
	else {
		buf_adds(b, "<tr data-hall=\"");
		SH(b, db_str(r, i, AP_CODE));
		buf_adds(b, "\"><td><a href=\"/appointments?hall=");
		SH(b, db_str(r, i, AP_CODE));
		buf_adds(b, "\">");
		SH(b, db_val(r, i, AP_NAME) != NULL ? db_str(r, i, AP_NAME) : db_str(r, i, AP_CODE));
		buf_adds(b, "</a></td>");
	}
	buf_printf(b, "<td class=\"num\" data-booked=\"%lld\">%lld</td>"
		      "<td class=\"num\" data-ahead=\"%lld\">%lld</td>"
		      "<td class=\"num\" data-attended=\"%lld\">%lld</td>"
		      "<td class=\"num%s\" data-no-show=\"%lld\">%lld</td>"
		      "<td class=\"num\" data-refused=\"%lld\">%lld</td>",
	    db_int(r, i, AP_BOOKED), db_int(r, i, AP_BOOKED),
	    db_int(r, i, AP_AHEAD), db_int(r, i, AP_AHEAD),
	    db_int(r, i, AP_ATTENDED), db_int(r, i, AP_ATTENDED),
	    db_int(r, i, AP_NO_SHOW) > 0 ? " warn" : "", db_int(r, i, AP_NO_SHOW),
	    db_int(r, i, AP_NO_SHOW),
	    db_int(r, i, AP_REFUSED), db_int(r, i, AP_REFUSED));
	buf_adds(b, "</tr>");
}

int
appointments_section(struct buf *b, struct staff_req *s)
{
	static const struct scol cols[] = {
		{"大厅", NULL}, {"预约", "num"}, {"待办理", "num"}, {"已办理", "num"},
		{"未到", "num"}, {"未同意", "num"},
	};
	struct dbparam pt[1] = {DBS(s->u.county)};
	struct dbparam ph[1] = {DBS(s->u.county)};
	struct dbrows t, r;
	size_t i;

	if (db_select("SELECT NULL, NULL, " APPT_FIGURES " "
		      "FROM appt_day_stats s WHERE " APPT_WINDOW, pt, 1, &t, 1) == -1)
		return -1;
	/* no conflicts here: appointment_conflicts is a view that checks every future
	 * booking against its hall's schedule, too dear for this page; it has its own */
	if (db_select("SELECT s.hall_code, h.name, " APPT_FIGURES " FROM appt_day_stats s "
		      "LEFT JOIN halls h ON h.hall_code = s.hall_code WHERE " APPT_WINDOW
		      "GROUP BY s.hall_code, h.name HAVING SUM(s.no_show) + SUM(s.refused) > 0 "
		      "ORDER BY SUM(s.no_show) + SUM(s.refused) DESC, s.hall_code "
		      "LIMIT " APPT_STR(APPT_DASH_HALLS), ph, 1, &r, APPT_DASH_HALLS) == -1) {
		dbrows_free(&t);
		return -1;
	}
	buf_printf(b, "<h2>预约</h2><p class=\"muted\">近 30 天及以后的预约（按预约日期）：预约总数、"
		      "尚待办理、已办理、未到、县级未同意；与新时段安排冲突的见<a href=\""
		      "/appointment-conflicts\">冲突列表</a>。全县合计，及未到与未同意最多的前 %d 个"
		      "大厅；各大厅的预约见<a href=\"/appointments\">预约</a>。</p>", APPT_DASH_HALLS);
	spage_table(b, "id=\"appointment-figures\"", cols, NCOLS(cols));
	appt_row(b, &t, 0, 1);
	for (i = 0; i < r.nrows; i++)
		appt_row(b, &r, i, 0);
	spage_table_end(b, NCOLS(cols), r.nrows + 1, NULL);
	dbrows_free(&t);
	dbrows_free(&r);
	return 0;
}
