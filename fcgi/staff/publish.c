/*
 * Publishing: service guides (办事指南) and the working-day calendar. A saved guide or
 * calendar is a row in guides or calendars; the county's triggers queue it for every hall
 * it concerns, and the halls apply it at their next downlink.
 *
 * Who may (main.c's route table): supervisors and admins edit their county's guides;
 * the province's staff (role province) publish calendars, which reach every hall of the
 * database, and they do it with the province's own database account ([county]
 * province_user, role province_calendar, sql/county/011): the console's county account
 * only reads calendars, so no county, whatever its people or its console do, changes the
 * days every hall counts deadlines on. Everyone signed in may read both.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "staff.h"

/* ---- guides ------------------------------------------------------------------------- */

/* The guide's fields in the order of the SELECT and the form. */
static const struct field_spec guide_fields[] = {
	{"name", 1, check_text, 100, NULL, "事项名称"},
	{"department", 0, check_text, 100, NULL, "实施部门"},
	{"materials", 1, check_multiline, 2000, NULL, "申请材料（每行一项）"},
	{"time_limit", 1, check_text, 100, NULL, "办理时限"},
	{"fees", 1, check_text, 200, NULL, "收费标准"},
	{"fee_basis", 0, check_text, 200, NULL, "收费依据"},
	{"delivery", 1, check_text, 200, NULL, "结果送达"},
	{"consult", 1, check_text, 200, NULL, "咨询方式"},
	{"address", 1, check_text, 200, NULL, "办理地点"},
	{"hours", 1, check_text, 100, NULL, "办理时间"},
};
#define NGUIDE (sizeof(guide_fields) / sizeof(guide_fields[0]))
/* A guide's row: the fields, then its county (NULL: every hall's guide). */
#define GUIDE_COLS "name, department, materials, time_limit, fees, fee_basis, delivery, " \
	"consult, address, hours"
enum {
	G_NAME, G_DEPARTMENT, G_MATERIALS, G_TIME_LIMIT, G_FEES, G_FEE_BASIS, G_DELIVERY,
	G_CONSULT, G_ADDRESS, G_HOURS, G_COUNTY, G__N
};
/* the form reads a guide's fields by their index in guide_fields */
_Static_assert(G_COUNTY == NGUIDE, "guide_fields and GUIDE_COLS in the same order");

static int
guide_id_ok(const char *id)
{
	size_t n = strlen(id);

	return n >= 1 && n <= 64 && strcmp(id, "new") != 0 &&
	    strspn(id, "abcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

void
guides_page(struct staff_req *s)
{
	enum { GL_ID, GL_NAME, GL_DEPARTMENT, GL_COUNTY, GL_UPDATED, GL__N };
	static const struct scol cols[] = {
		{"事项", NULL}, {"实施部门", NULL}, {"范围", NULL}, {"更新时间", NULL},
	};
	struct dbparam p[1] = {DBS(s->u.county)};
	struct dbrows g;
	struct buf b;
	size_t i;
	int edit = auth_role_at_least(&s->u, "supervisor");

	if (db_select("SELECT id, name, department, county_code, UNIX_TIMESTAMP(updated_at) "
		      "FROM guides WHERE county_code = ? OR county_code IS NULL "
		      "ORDER BY county_code IS NULL, name LIMIT 1000",
		p, 1, &g, 1000) == -1) {
		spage_unavailable(s);
		return;
	}
	spage_begin(&b, s, "办事指南");
	buf_adds(&b, "<h1>办事指南</h1><p class=\"muted\">保存后，下次同步时送达本县各大厅。</p>");
	if (edit)
		buf_adds(&b, "<p><a class=\"button\" href=\"/guides/new\">新增办事指南</a></p>");
	spage_table(&b, NULL, cols, NCOLS(cols));
	for (i = 0; i < g.nrows; i++) {
		char when[32];

		spage_time(when, (time_t)db_int(&g, i, GL_UPDATED));
		buf_adds(&b, "<tr><td>");
		spage_link(&b, "/guides/", db_str(&g, i, GL_ID), db_str(&g, i, GL_NAME));
		buf_adds(&b, "</td>");
		spage_td(&b, NULL, db_str(&g, i, GL_DEPARTMENT));
		spage_td(&b, NULL, db_val(&g, i, GL_COUNTY) != NULL ? "本县" : "全部大厅");
		spage_td(&b, NULL, when);
		buf_adds(&b, "</tr>");
	}
	spage_table_end(&b, NCOLS(cols), g.nrows, "尚未发布办事指南。");
	dbrows_free(&g);
	spage_finish(s, 200, &b, NULL);
}

/* The guide form, filled from the row (g) or from the staff's input after an error. */
static void
guide_form(struct staff_req *s, int status, const char *id, const struct dbrows *g,
    int readonly, const char *err_field, const char *err, const char *done)
{
	struct buf b;
	size_t i;
	int is_new = id == NULL;

	spage_begin(&b, s, is_new ? "新增办事指南" : "办事指南");
	buf_adds(&b, "<p class=\"muted\"><a href=\"/guides\">← 办事指南</a></p><h1>");
	if (is_new)
		buf_adds(&b, "新增办事指南");
	else
		SH(&b, g != NULL ? db_str(g, 0, G_NAME) : spage_in(s, "name"));
	buf_adds(&b, "</h1>");
	spage_notices(&b, done, err);
	buf_adds(&b, "<form class=\"wide\" method=\"post\" action=\"/guides/");
	SH(&b, is_new ? "new" : id);
	buf_adds(&b, "\" accept-charset=\"utf-8\">");
	spage_csrf_field(&b, s);
	if (is_new) {
		buf_adds(&b, "<label for=\"f-id\">编号（小写字母、数字和 -，如 g-hunyin-dengji）"
			     "</label><input id=\"f-id\" name=\"id\" maxlength=\"64\" required "
			     "pattern=\"[a-z0-9-]+\" value=\"");
		SH(&b, spage_in(s, "id"));
		buf_adds(&b, "\">");
	}
	for (i = 0; i < NGUIDE; i++) {
		const struct field_spec *f = &guide_fields[i];
		const char *v = g != NULL ? db_str(g, 0, G_NAME + i) : spage_in(s, f->name);
		int multi = f->check == check_multiline;

		buf_adds(&b, "<label for=\"f-");
		SH(&b, f->name);
		buf_adds(&b, "\">");
		SH(&b, f->label);
		buf_adds(&b, "</label>");
		if (err_field != NULL && strcmp(err_field, f->name) == 0) {
			buf_adds(&b, "<p class=\"error\">");
			SH(&b, err);
			buf_adds(&b, "</p>");
		}
		buf_printf(&b, multi ? "<textarea rows=\"6\" id=\"f-" : "<input id=\"f-");
		SH(&b, f->name);
		buf_adds(&b, "\" name=\"");
		SH(&b, f->name);
		buf_printf(&b, "\" maxlength=\"%zu\"%s%s", f->max_chars, f->required ? " required" : "",
		    readonly ? " readonly" : "");
		if (multi) {
			buf_adds(&b, ">");
			SH(&b, v);
			buf_adds(&b, "</textarea>");
		} else {
			buf_adds(&b, " value=\"");
			SH(&b, v);
			buf_adds(&b, "\">");
		}
	}
	if (!readonly)
		buf_adds(&b, "<button type=\"submit\">保存并发布</button>");
	buf_adds(&b, "</form>");
	if (readonly)
		buf_adds(&b, "<p class=\"muted\">本页只读：办事指南由本县督查员或管理员维护。</p>");
	spage_finish(s, status, &b, NULL);
}


void
guide_page(struct staff_req *s)
{
	const char *id = s->r.arg, *done = NULL;
	struct dbparam p[1];
	struct dbrows g;
	int mine;

	if (strcmp(id, "new") == 0) {
		if (!auth_role_at_least(&s->u, "supervisor")) {
			spage_message(s, 403, "无权操作", "办事指南由本县督查员或管理员维护。");
			return;
		}
		guide_form(s, 200, NULL, NULL, 0, NULL, NULL, NULL);
		return;
	}
	if (!guide_id_ok(id)) {
		spage_message(s, 404, "没有找到", "没有找到这份办事指南。");
		return;
	}
	p[0] = DBS(id);
	if (db_select("SELECT " GUIDE_COLS ", county_code FROM guides WHERE id = ?", p, 1, &g, 1) ==
	    -1) {
		spage_unavailable(s);
		return;
	}
	if (g.nrows == 0 || (db_val(&g, 0, G_COUNTY) != NULL &&
				strcmp(db_str(&g, 0, G_COUNTY), s->u.county) != 0)) {
		dbrows_free(&g);
		spage_message(s, 404, "没有找到", "没有找到这份办事指南。");
		return;
	}
	mine = db_val(&g, 0, G_COUNTY) != NULL && auth_role_at_least(&s->u, "supervisor");
	if (strcmp(s->r.query, "done=1") == 0)
		done = "已保存，下次同步时送达本县各大厅。";
	guide_form(s, 200, id, &g, !mine, NULL, NULL, done);
	dbrows_free(&g);
}

void
guide_save(struct staff_req *s)
{
	static const char *const extra_new[] = {"csrf", "id", NULL};
	static const char *const extra[] = {"csrf", NULL};
	const char *id = s->r.arg, *field, *msg;
	struct dbparam p[NGUIDE + 2];
	char redirect[96];
	int is_new = strcmp(id, "new") == 0;
	size_t i;
	long long n;

	if (!is_new && !guide_id_ok(id)) {
		spage_message(s, 404, "没有找到", "没有找到这份办事指南。");
		return;
	}
	if (fields_check(&s->r.in, guide_fields, NGUIDE, is_new ? extra_new : extra, &field,
		&msg) == -1) {
		guide_form(s, 422, is_new ? NULL : id, NULL, 0, field, msg, NULL);
		return;
	}
	if (is_new) {
		id = spage_in(s, "id");
		if (!guide_id_ok(id)) {
			guide_form(s, 422, NULL, NULL, 0, "id", "编号只能由小写字母、数字和 - 组成（至多 64 个）。",
			    NULL);
			return;
		}
	}
	for (i = 0; i < NGUIDE; i++) {
		const char *v = field_value(&s->r.in, guide_fields[i].name);

		p[i] = DBS(v != NULL ? v : "");
	}
	p[NGUIDE] = DBS(id);
	p[NGUIDE + 1] = DBS(s->u.county);
	if (is_new)
		n = audit_exec(s, "guide", NULL, id,
		    "INSERT IGNORE INTO guides (" GUIDE_COLS ", id, county_code) "
		    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		    p, NGUIDE + 2);
	else
		n = audit_exec(s, "guide", NULL, id,
		    "UPDATE guides SET name = ?, department = ?, materials = ?, "
		    "time_limit = ?, fees = ?, fee_basis = ?, delivery = ?, consult = ?, "
		    "address = ?, hours = ?, updated_at = NOW() "
		    "WHERE id = ? AND county_code = ?",
		    p, NGUIDE + 2);
	if (n == -1) {
		spage_unavailable(s);
		return;
	}
	if (n == 0) {
		if (is_new)
			guide_form(s, 409, NULL, NULL, 0, "id", "这个编号已被使用，请换一个。", NULL);
		else
			spage_message(s, 404, "没有找到", "没有找到这份办事指南，或它不属于本县。");
		return;
	}
	log_info("guide %s saved by %s", id, s->u.username);
	snprintf(redirect, sizeof(redirect), "/guides/%s?done=1", id);
	spage_redirect(s, redirect);
}

/* ---- calendars ---------------------------------------------------------------------- */

static int
year_of(const char *arg)
{
	char *end;
	long y = strtol(arg, &end, 10);

	return strlen(arg) == 4 && *end == '\0' && y >= 2000 && y <= 2099 ? (int)y : 0;
}

void
calendars_page(struct staff_req *s)
{
	enum { CL_YEAR, CL_UPDATED, CL__N };
	static const struct scol cols[] = {{"年份", NULL}, {"更新时间", NULL}};
	struct dbrows c;
	struct buf b;
	size_t i;

	if (db_select("SELECT year, UNIX_TIMESTAMP(updated_at) FROM calendars ORDER BY year DESC",
		NULL, 0, &c, 200) == -1) {
		spage_unavailable(s);
		return;
	}
	spage_begin(&b, s, "节假日安排");
	buf_adds(&b, "<h1>节假日安排</h1><p class=\"muted\">工作日历决定各大厅办件的答复期限。"
		     "发布后下次同步时送达所有大厅，尚未办结且期限为暂定的办件将重新计算期限。"
		     "</p>");
	spage_table(&b, NULL, cols, NCOLS(cols));
	for (i = 0; i < c.nrows; i++) {
		char when[32], year[16];

		spage_time(when, (time_t)db_int(&c, i, CL_UPDATED));
		snprintf(year, sizeof(year), "%s 年", db_str(&c, i, CL_YEAR));
		buf_adds(&b, "<tr><td>");
		spage_link(&b, "/calendars/", db_str(&c, i, CL_YEAR), year);
		buf_adds(&b, "</td>");
		spage_td(&b, NULL, when);
		buf_adds(&b, "</tr>");
	}
	spage_table_end(&b, NCOLS(cols), c.nrows,
	    "县级尚未发布工作日历（各大厅使用随软件提供的日历）。");
	dbrows_free(&c);
	if (auth_role_at_least(&s->u, STAFF_ROLE_PROVINCE))
		buf_adds(&b, "<form method=\"get\" action=\"/calendars/new\" class=\"filters\">"
			     "<label>年份<input name=\"year\" inputmode=\"numeric\" maxlength=\"4\" "
			     "required></label><button type=\"submit\">编辑该年</button></form>");
	spage_finish(s, 200, &b, NULL);
}

static void
calendar_form(struct staff_req *s, int status, int year, const char *text, const char *err,
    const char *done)
{
	struct buf b;
	char title[32];
	int publisher = auth_role_at_least(&s->u, STAFF_ROLE_PROVINCE);

	snprintf(title, sizeof(title), "%d 年工作日历", year);
	spage_begin(&b, s, title);
	buf_adds(&b, "<p class=\"muted\"><a href=\"/calendars\">← 节假日安排</a></p><h1>");
	SH(&b, title);
	buf_adds(&b, "</h1>");
	spage_notices(&b, done, err);
	buf_printf(&b, "<p class=\"muted\">每行一项：<code>year %d</code> 声明本年日历；"
		       "<code>%d-10-01 holiday 国庆节</code> 为放假日；<code>%d-10-10 workday 调休"
		       "</code> 为调休上班日；以 # 开头的行为注释。</p>"
		       "<form class=\"wide\" method=\"post\" action=\"/calendars/%d\" "
		       "accept-charset=\"utf-8\">",
	    year, year, year, year);
	spage_csrf_field(&b, s);
	buf_printf(&b, "<textarea name=\"body\" rows=\"24\"%s>", publisher ? "" : " readonly");
	SH(&b, text);
	buf_adds(&b, "</textarea>");
	if (publisher)
		buf_adds(&b, "<button type=\"submit\">保存并发布</button>");
	else
		buf_adds(&b, "<p class=\"muted\">工作日历由省级统一发布，县级账户只能查看。</p>");
	buf_adds(&b, "</form>");
	spage_finish(s, status, &b, NULL);
}

void
calendar_page(struct staff_req *s)
{
	enum { CAL_BODY, CAL__N };
	struct dbparam p[1];
	struct dbrows c;
	char loc[32];
	int year;

	if (strcmp(s->r.arg, "new") == 0) {
		/* the year form of the list page */
		if (kv_parse_form(s->r.query, strlen(s->r.query), &s->r.in) != PARSE_OK ||
		    (year = year_of(spage_in(s, "year"))) == 0) {
			spage_message(s, 422, "年份有误", "请填写 2000 至 2099 之间的年份。");
			return;
		}
		snprintf(loc, sizeof(loc), "/calendars/%d", year);
		spage_redirect(s, loc);
		return;
	}
	if ((year = year_of(s->r.arg)) == 0) {
		spage_message(s, 404, "没有找到", "没有找到这一年的日历。");
		return;
	}
	p[0] = DBI(year);
	if (db_select("SELECT body FROM calendars WHERE year = ?", p, 1, &c, 1) == -1) {
		spage_unavailable(s);
		return;
	}
	if (c.nrows == 0) {
		char fresh[32];

		snprintf(fresh, sizeof(fresh), "year %d\n", year);
		calendar_form(s, 200, year, fresh, NULL, NULL);
	} else
		calendar_form(s, 200, year, db_str(&c, 0, CAL_BODY), NULL,
		    strcmp(s->r.query, "done=1") == 0 ? "已发布，下次同步时送达所有大厅。" : NULL);
	dbrows_free(&c);
}

struct cal_check {
	int year, other;
};

static void
cal_year(int y, void *arg)
{
	struct cal_check *c = arg;

	if (y != c->year)
		c->other = y;
}

static void
cal_day(int y, int m, int d, enum cal_kind k, void *arg)
{
	(void)m, (void)d, (void)k;
	cal_year(y, arg);
}

/*
 * A connection of the province's calendar account, as db.c makes the console's own (same
 * server, same limits), for one publication; NULL, logged, when there is none.
 */
static MYSQL *
province_connect(void)
{
	struct county_conn_opts o;
	char err[512], *pw;
	MYSQL *db;

	if (staff_conf.province_user == NULL) {
		log_warnx("%s: no [county] province_user: calendars cannot be published here",
		    __func__);
		return NULL;
	}
	if ((pw = secret_read(staff_conf.province_password_file)) == NULL)
		return NULL;
	db_conn_opts(&o, staff_conf.province_user, pw);
	if ((db = county_connect(&o, err, sizeof(err))) == NULL)
		log_warnx("%s: cannot connect as %s: %s", __func__, o.user, err);
	sodium_memzero(pw, strlen(pw));
	free(pw);
	return db;
}

/* Writes the text and its days as the province (county_connect leaves autocommit off). */
static int
province_publish(int year, const char *body)
{
	char err[256];
	MYSQL *db;
	int rc = -1;

	if ((db = province_connect()) == NULL)
		return -1;
	if (county_calendar_publish(db, year, body, COUNTY_CAL_REPLACE, err, sizeof(err)) !=
	    COUNTY_CAL_STORED)
		log_warnx("%s: calendar %d: %s", __func__, year, err);
	else if (mysql_commit(db) != 0)
		log_warnx("%s: calendar %d: %s", __func__, year, mysql_error(db));
	else
		rc = 0;
	if (rc == -1)
		mysql_rollback(db);
	mysql_close(db);
	return rc;
}

void
calendar_save(struct staff_req *s)
{
	struct cal_check chk;
	struct calendar *cal;
	const char *body;
	char err[256], msg[320], loc[48];
	int year;

	if ((year = year_of(s->r.arg)) == 0) {
		spage_message(s, 404, "没有找到", "没有找到这一年的日历。");
		return;
	}
	body = spage_in(s, "body");
	if ((cal = calendar_new()) == NULL) {
		spage_unavailable(s);
		return;
	}
	/* the halls would refuse a table that does not parse: refuse it here, with the line */
	memset(&chk, 0, sizeof(chk));
	chk.year = year;
	if (calendar_parse(cal, body, strlen(body), err, sizeof(err)) == -1) {
		snprintf(msg, sizeof(msg), "日历格式有误：%s", err);
	} else {
		calendar_foreach(cal, cal_year, cal_day, &chk);
		if (!calendar_has_year(cal, year))
			snprintf(msg, sizeof(msg), "请保留“year %d”一行，声明这是 %d 年的正式日历。", year,
			    year);
		else if (chk.other != 0)
			snprintf(msg, sizeof(msg), "本页只能填写 %d 年的日期（发现了 %d 年）。", year,
			    chk.other);
		else
			msg[0] = '\0';
	}
	calendar_free(cal);
	if (msg[0] != '\0') {
		calendar_form(s, 422, year, body, msg, NULL);
		return;
	}
	/* the text and the days the county's SQL counts on, together (lib/county) */
	/*
	 * The audit row first, in the console's own transaction: the calendar is written with
	 * the province's account on a connection of its own, so the two cannot share a commit,
	 * and a publication must never happen without its row (an attempt that then fails
	 * leaves a row that says who tried).
	 */
	if (db_begin() == -1 || audit_record(s, "calendar", NULL, s->r.arg) == -1 ||
	    db_commit() == -1) {
		db_rollback();
		spage_unavailable(s);
		return;
	}
	if (province_publish(year, body) == -1) {
		spage_unavailable(s);
		return;
	}
	log_info("calendar %d published by %s", year, s->u.username);
	snprintf(loc, sizeof(loc), "/calendars/%d?done=1", year);
	spage_redirect(s, loc);
}
