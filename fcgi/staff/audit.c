/*
 * The audit log (SPEC 7, issue 11): who signed in or was refused, who saw a case's full
 * contact data, who did what, when and from which address; and the page on which a
 * county's admins read it.
 *
 * Rows go to the table audit_log of sql/county/013, on which the console's database role
 * has INSERT and SELECT only, and whose triggers refuse every UPDATE and DELETE and set
 * each row's time from the database's clock. A row is written in the transaction of what
 * it records: an action whose row cannot be written is rolled back, and a case page whose
 * view cannot be recorded is not shown (audit_unavailable). The address is REMOTE_ADDR,
 * the peer nginx saw (conf/nginx/staff.site passes it); the county is the account's,
 * so each admin reads its own county's rows.
 *
 * Actions, as stored (the page says them in words, from audit_words):
 *   signin signin-refused signout     sign-in and sign-out (auth.c)
 *   view                              a case page with the contact data (case_page.c)
 *   accept answer transfer reject resolve    the case actions (case_action.c)
 *   followup followup-days            a 差评 rectification, the deadline (followup.c)
 *   guide calendar                    publishing (publish.c)
 *   account-create unlock disable enable account-cli    accounts (accounts.c, auth.c)
 *   refused                           a form refused for its token or the account's role
 *                                     (main.c)
 *   appointments appt-confirm appt-refuse schedule    a page of appointments with names
 *                                     and phones (the hall and day, or "conflicts"), the
 *                                     decisions, a schedule published (appointments.c,
 *                                     schedules.c)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "staff.h"

#define AUDIT_PAGE_SIZE 50

int
audit_insert(const char *county, const char *account, const char *address, const char *action,
    const char *case_no, const char *detail)
{
	struct dbparam p[6];

	p[0] = DBS(county);
	p[1] = DBS(account != NULL ? account : "");
	p[2] = DBS(address != NULL ? address : "");
	p[3] = DBS(action);
	p[4] = DBS(case_no);
	p[5] = DBS(detail != NULL ? detail : "");
	/* lengths are cut here, not refused: a long detail must not lose the row */
	if (db_exec("INSERT INTO audit_log (county_code, account, address, action, case_no, "
		    "detail) VALUES (?, LEFT(?, 32), LEFT(?, 64), ?, ?, LEFT(?, 200))",
		p, 6, NULL) != 1) {
		log_warnx("audit: cannot record %s by %s%s%s", action,
		    account != NULL ? account : "", case_no != NULL ? " on " : "",
		    case_no != NULL ? case_no : "");
		return -1;
	}
	return 0;
}

int
audit_record(const struct staff_req *s, const char *action, const char *case_no,
    const char *detail)
{
	return audit_insert(s->u.county, s->u.username, s->r.remote, action, case_no, detail);
}

int
audit_signin(const struct staff_req *s, const char *account, const char *county,
    const char *action, const char *detail)
{
	return audit_insert(county, account, s->r.remote, action, NULL, detail);
}

long long
audit_exec(const struct staff_req *s, const char *action, const char *case_no,
    const char *detail, const char *sql, const struct dbparam *p, size_t n)
{
	long long changed;
	unsigned tries = 0;

again:
	if (db_begin() == -1)
		return -1;
	if ((changed = db_exec(sql, p, n, NULL)) == -1 ||
	    (changed > 0 && audit_record(s, action, case_no, detail) == -1) || db_commit() == -1) {
		db_rollback();
		if (db_conflict_again(&tries))
			goto again;
		return -1;
	}
	return changed;
}

/*
 * A refusal is recorded as well as the database allows and is not itself refused: the
 * request does nothing either way. A path of a case names it.
 */
void
audit_refused(const struct staff_req *s, const char *why)
{
	char detail[200], *d;
	const char *no = NULL;
	size_t n;

	if (!s->signed_in)
		return;
	if ((strncmp(s->r.path, "/cases/", 7) == 0 || strncmp(s->r.path, "/followups/", 11) == 0) &&
	    *s->r.arg != '\0')
		no = case_url_no(s);
	snprintf(detail, sizeof(detail), "%s: %s %.150s", why, s->r.method, s->r.path);
	/* the path as the client sent it: printable ASCII only, so the row is valid text */
	for (d = detail, n = strlen(detail); n > 0; d++, n--)
		if (*d < 0x20 || *d > 0x7e)
			*d = '?';
	audit_record(s, "refused", no, detail);
}

void
audit_unavailable(struct staff_req *s)
{
	spage_message(s, 503, "暂时无法显示",
	    "审计日志暂时无法写入。为保护群众的个人信息，记录之前不显示办件的联系方式，"
	    "也不执行操作。请稍后再试；如持续出现，请联系系统管理员。");
}

/* ---- the page ----------------------------------------------------------------------- */

static const struct {
	const char *action, *words;
} audit_words_table[] = {
	{"signin", "登录"}, {"signin-refused", "登录被拒"}, {"signout", "退出"},
	{"view", "查看办件（含联系方式）"}, {"accept", "受理"}, {"answer", "答复"},
	{"transfer", "转办"}, {"reject", "不予受理"}, {"resolve", "办结"},
	{"followup", "登记整改"}, {"followup-days", "设置整改期限"}, {"guide", "保存办事指南"},
	{"calendar", "发布工作日历"}, {"account-create", "新增账户"}, {"unlock", "解锁账户"},
	{"disable", "停用账户"}, {"enable", "启用账户"}, {"account-cli", "命令行设置账户"},
	{"refused", "操作被拒"}, {"appointments", "查看预约（含联系方式）"},
	{"appt-confirm", "确认预约"}, {"appt-refuse", "不同意预约"},
	{"schedule", "发布预约时段"},
};

/* An action in words; an action this build does not know is shown as stored. */
static const char *
audit_words(const char *action)
{
	size_t i;

	for (i = 0; i < sizeof(audit_words_table) / sizeof(audit_words_table[0]); i++)
		if (strcmp(audit_words_table[i].action, action) == 0)
			return audit_words_table[i].words;
	return action;
}

/* A date of the filter form: YYYY-MM-DD, a day that exists. */
static int
date_ok(const char *d)
{
	struct tm tm;
	time_t t;

	if (strlen(d) != 10 || strspn(d, "0123456789-") != 10 || d[4] != '-' || d[7] != '-')
		return 0;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = atoi(d) - 1900;
	tm.tm_mon = atoi(d + 5) - 1;
	tm.tm_mday = atoi(d + 8);
	tm.tm_hour = 12;
	if (tm.tm_year < 100 || tm.tm_year > 8099 || tm.tm_mon < 0 || tm.tm_mon > 11)
		return 0;
	/* timegm moves a 31st of a 30-day month on: a day that moved does not exist */
	t = timegm(&tm);
	return t != (time_t)-1 && tm.tm_mday == atoi(d + 8);
}

static int
account_ok(const char *a)
{
	size_t n = strlen(a);

	return n >= 1 && n <= 32 &&
	    strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") == n;
}

struct audit_filter {
	const char *account, *from, *to;	/* "" when not given */
	long page;
	const char *err;			/* what was ignored, for the page */
};

/* Reads the filters of the query string; a bad one is ignored, and the page says so. */
static int
audit_filter(struct staff_req *s, struct audit_filter *f)
{
	const char *v;

	memset(f, 0, sizeof(*f));
	if (strlen(s->r.query) > 1024 ||
	    kv_parse_form(s->r.query, strlen(s->r.query), &s->r.in) != PARSE_OK) {
		spage_message(s, 400, "无法处理", "查询条件有误。");
		return -1;
	}
	f->account = spage_in(s, "account");
	if (*f->account != '\0' && !account_ok(f->account)) {
		f->account = "";
		f->err = "账户名有误，已忽略。";
	}
	f->from = spage_in(s, "from");
	if (*f->from != '\0' && !date_ok(f->from)) {
		f->from = "";
		f->err = "日期应为 2026-01-31 的形式，有误的日期已忽略。";
	}
	f->to = spage_in(s, "to");
	if (*f->to != '\0' && !date_ok(f->to)) {
		f->to = "";
		f->err = "日期应为 2026-01-31 的形式，有误的日期已忽略。";
	}
	v = spage_in(s, "page");
	f->page = strtol(v, NULL, 10);
	if (f->page < 1 || f->page > 100000)
		f->page = 1;
	return 0;
}

/*
 * A page of the county's rows, newest first: one more than a page is asked for, so that
 * the page knows whether there is a next. Each statement is one index range
 * (audit_log_county_at, audit_log_account_at).
 */
#define AUDIT_COLS "SELECT UNIX_TIMESTAMP(at), account, address, action, case_no, detail " \
	"FROM audit_log WHERE county_code = ? "
#define AUDIT_RANGE "AND at >= DATE(?) AND at < DATE(?) + INTERVAL 1 DAY " \
	"ORDER BY at DESC, id DESC LIMIT ? OFFSET ?"
enum { AU_AT, AU_ACCOUNT, AU_ADDRESS, AU_ACTION, AU_CASE_NO, AU_DETAIL, AU__N };

static int
audit_rows(const struct staff_req *s, const struct audit_filter *f, struct dbrows *rows)
{
	struct dbparam p[6];
	size_t n = 0;

	p[n++] = DBS(s->u.county);
	if (*f->account != '\0')
		p[n++] = DBS(f->account);
	p[n++] = DBS(*f->from != '\0' ? f->from : "1000-01-01");
	p[n++] = DBS(*f->to != '\0' ? f->to : "9999-12-30");
	p[n++] = DBI(AUDIT_PAGE_SIZE + 1);
	p[n++] = DBI((f->page - 1) * AUDIT_PAGE_SIZE);
	return db_select(*f->account != '\0' ? AUDIT_COLS "AND account = ? " AUDIT_RANGE :
					     AUDIT_COLS AUDIT_RANGE,
	    p, n, rows, AUDIT_PAGE_SIZE + 1);
}

/* The filter form: the county's accounts, and the dates. */
static void
audit_form(struct buf *b, const struct staff_req *s, const struct audit_filter *f)
{
	struct dbparam p[1] = {DBS(s->u.county)};
	struct dbrows a;
	size_t i;

	buf_adds(b, "<form class=\"filters\" method=\"get\" action=\"/audit\">"
		    "<label>账户<select name=\"account\"><option value=\"\">全部</option>");
	if (db_select("SELECT username FROM staff_accounts WHERE county_code = ? "
		      "ORDER BY username LIMIT 1000",
		p, 1, &a, 1000) == 0) {
		for (i = 0; i < a.nrows; i++) {
			const char *name = db_str(&a, i, 0);

			buf_adds(b, "<option value=\"");
			SH(b, name);
			buf_adds(b, strcmp(name, f->account) == 0 ? "\" selected>" : "\">");
			SH(b, name);
			buf_adds(b, "</option>");
		}
		dbrows_free(&a);
	}
	buf_adds(b, "</select></label><label>从<input type=\"date\" name=\"from\" value=\"");
	SH(b, f->from);
	buf_adds(b, "\"></label><label>到<input type=\"date\" name=\"to\" value=\"");
	SH(b, f->to);
	buf_adds(b, "\"></label><button type=\"submit\">查询</button></form>");
}

/* A pager link: the filters are validated to [A-Za-z0-9_.-], so they go as they are. */
static void
audit_href(struct buf *b, const struct audit_filter *f, long page)
{
	buf_adds(b, "<a href=\"/audit?account=");
	SH(b, f->account);
	buf_adds(b, "&amp;from=");
	SH(b, f->from);
	buf_adds(b, "&amp;to=");
	SH(b, f->to);
	buf_printf(b, "&amp;page=%ld\"", page);
}

void
audit_page(struct staff_req *s)
{
	static const struct scol cols[] = {
		{"时间", NULL}, {"账户", NULL}, {"地址", NULL}, {"操作", NULL}, {"办件", NULL},
		{"说明", NULL},
	};
	struct audit_filter f;
	struct dbrows rows;
	struct buf b;
	size_t i, shown;

	if (audit_filter(s, &f) == -1)
		return;
	if (audit_rows(s, &f, &rows) == -1) {
		spage_unavailable(s);
		return;
	}
	shown = rows.nrows > AUDIT_PAGE_SIZE ? AUDIT_PAGE_SIZE : rows.nrows;
	spage_begin(&b, s, "审计日志");
	buf_adds(&b, "<h1>审计日志</h1><p class=\"muted\">本县（市、区）账户的登录、退出、查看办件联系方式"
		     "和各项操作，按时间从新到旧。记录由系统写入，任何账户都不能修改或删除。</p>");
	spage_notices(&b, NULL, f.err);
	audit_form(&b, s, &f);
	spage_table(&b, "id=\"audit\"", cols, NCOLS(cols));
	for (i = 0; i < shown; i++) {
		char when[32];

		spage_time(when, (time_t)db_int(&rows, i, AU_AT));
		buf_adds(&b, "<tr data-action=\"");
		SH(&b, db_str(&rows, i, AU_ACTION));
		buf_adds(&b, "\">");
		spage_td(&b, NULL, when);
		spage_td(&b, NULL, db_str(&rows, i, AU_ACCOUNT));
		spage_td(&b, NULL, db_str(&rows, i, AU_ADDRESS));
		spage_td(&b, NULL, audit_words(db_str(&rows, i, AU_ACTION)));
		buf_adds(&b, "<td>");
		if (db_val(&rows, i, AU_CASE_NO) != NULL)
			spage_link(&b, "/cases/", db_str(&rows, i, AU_CASE_NO), NULL);
		buf_adds(&b, "</td>");
		spage_td(&b, NULL, db_str(&rows, i, AU_DETAIL));
		buf_adds(&b, "</tr>");
	}
	spage_table_end(&b, NCOLS(cols), shown, "没有符合条件的记录。");
	if (f.page > 1 || rows.nrows > AUDIT_PAGE_SIZE) {
		buf_adds(&b, "<p class=\"pager\">");
		if (f.page > 1) {
			audit_href(&b, &f, f.page - 1);
			buf_adds(&b, " rel=\"prev\">上一页</a>");
		}
		buf_printf(&b, "<span>第 %ld 页</span>", f.page);
		if (rows.nrows > AUDIT_PAGE_SIZE) {
			audit_href(&b, &f, f.page + 1);
			buf_adds(&b, " rel=\"next\">下一页</a>");
		}
		buf_adds(&b, "</p>");
	}
	dbrows_free(&rows);
	spage_finish(s, 200, &b, NULL);
}
