/*
 * The inbox: the cases the account's county handles (cases.handler_county: where the case
 * was taken, or where a transfer moved it), filtered by kind, status, channel, hall,
 * warning and overdue, searched in the case number, subject and body, most urgent first (overdue, then
 * open by deadline, then the closed ones), a page at a time; and the same list as CSV.
 * With out=1 it lists instead the cases the county transferred on to another county, which
 * it may still open, read only.
 *
 * One fixed statement serves every combination of filters: an unused filter is bound as
 * '' or 0 and its condition is then true, so no SQL is ever put together from input. The
 * two lists (handled, transferred out) are two fixed statements, so that each keeps its
 * index: cases by handler_county, or the county's rows in case_transfers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "staff.h"

#define INBOX_JOINS \
	" FROM cases c LEFT JOIN halls h ON h.hall_code = c.hall_code" \
	" LEFT JOIN halls hh ON hh.hall_code = c.handler_hall" \
	" LEFT JOIN counties k ON k.county_code = c.handler_county"
/* the cases the county handles (one parameter: the county) */
#define INBOX_MINE INBOX_JOINS " WHERE c.handler_county = ?" INBOX_FILTERS
/* the cases it transferred to another county (two: the county, twice) */
#define INBOX_OUT INBOX_JOINS \
	" WHERE c.case_no IN (SELECT t.case_no FROM case_transfers t WHERE t.from_county = ?)" \
	" AND c.handler_county <> ?" INBOX_FILTERS
#define INBOX_FILTERS \
	" AND (? = '' OR c.kind = ?)" \
	" AND (? = '' OR c.channel = ?)" \
	" AND (? = '' OR (? = 'open' AND c.status NOT IN " CLOSED ") OR c.status = ?)" \
	" AND (? = '' OR c.hall_code = ? OR c.handler_hall = ?)" \
	" AND (? = 0 OR " WARNING_SQL ")" \
	" AND (? = 0 OR " OVERDUE_SQL ")" \
	" AND (? = '' OR c.case_no LIKE ? OR c.subject LIKE ? OR c.body LIKE ?)"
#define INBOX_COLS \
	"SELECT c.case_no, c.hall_code, COALESCE(h.name, ''), c.kind, c.subject, c.status, " \
	"UNIX_TIMESTAMP(c.submitted_at), UNIX_TIMESTAMP(c.due_at), c.due_provisional, " \
	OVERDUE_SQL ", " WARNING_SQL ", c.handler_county, COALESCE(c.handler_hall, ''), " \
	"COALESCE(hh.name, ''), COALESCE(k.name, ''), c.handler_county <> LEFT(c.hall_code, 6), " \
	"c.channel"
enum {
	I_NO, I_HALL, I_HALL_NAME, I_KIND, I_SUBJECT, I_STATUS, I_SUBMITTED, I_DUE,
	I_PROVISIONAL, I_OVERDUE, I_WARNING, I_HANDLER_COUNTY, I_HANDLER_HALL,
	I_HANDLER_HALL_NAME, I_HANDLER_COUNTY_NAME, I_TRANSFERRED_IN, I_CHANNEL, I__N
};
#define INBOX_ORDER \
	" ORDER BY " OVERDUE_SQL " DESC, c.status IN " CLOSED " ASC, c.due_at ASC, c.case_no ASC"
#define INBOX_COUNT \
	"SELECT count(*), COALESCE(SUM(" OVERDUE_SQL "), 0), COALESCE(SUM(" WARNING_SQL "), 0)"
enum { N_TOTAL, N_OVERDUE, N_WARNING, N__N };

/* By inbox_filter.out: the count, and a page of rows (the filters, LIMIT, OFFSET). */
static const char *const inbox_count_sql[2] = {INBOX_COUNT INBOX_MINE, INBOX_COUNT INBOX_OUT};
static const char *const inbox_rows_sql[2] = {
	INBOX_COLS INBOX_MINE INBOX_ORDER " LIMIT ? OFFSET ?",
	INBOX_COLS INBOX_OUT INBOX_ORDER " LIMIT ? OFFSET ?",
};

static const char *const kinds[] = {"consultation", "complaint", "unresolved", NULL};
static const char *const channels[] = {"online", "window", "phone", "letter", "email", NULL};
static const char *const statuses[] = {"open", "received", "delivered", "accepted",
    "transferred", "answered", "resolved", "rejected", NULL};

struct inbox_filter {
	const char *kind, *status, *channel, *hall, *q;
	int warning, overdue, out;
	long page;
	char caseno[CASENO_LEN + 1];
	char like[2 * 400 + 3];	/* %q% with q's own % _ \ escaped */
	struct dbparam p[26];
	size_t np;
};

static const char *
one_of(const char *v, const char *const *list)
{
	for (; *list != NULL; list++)
		if (strcmp(v, *list) == 0)
			return *list;
	return "";
}

static const char *
status_word(const char *code)
{
	return strcmp(code, "open") == 0 ? "未办结（全部待办）" : status_text(code);
}

/* Reads the filters from the query string; bad values are ignored, not refused. */
static int
inbox_filter(struct staff_req *s, struct inbox_filter *f)
{
	const struct kv *kv;
	const char *q, *p;
	char *w;

	memset(f, 0, sizeof(*f));
	if (strlen(s->r.query) > 4096 ||
	    kv_parse_form(s->r.query, strlen(s->r.query), &s->r.in) != PARSE_OK) {
		spage_message(s, 400, "无法处理", "查询条件有误。");
		return -1;
	}
	f->kind = one_of(spage_in(s, "kind"), kinds);
	f->status = one_of(spage_in(s, "status"), statuses);
	f->channel = one_of(spage_in(s, "channel"), channels);
	f->hall = spage_in(s, "hall");
	if (strlen(f->hall) != 12 || strspn(f->hall, "0123456789") != 12)
		f->hall = "";
	f->warning = strcmp(spage_in(s, "warning"), "1") == 0;
	f->overdue = strcmp(spage_in(s, "overdue"), "1") == 0;
	f->out = strcmp(spage_in(s, "out"), "1") == 0;
	q = spage_in(s, "q");
	f->q = utf8_len(q) <= 100 && strspn(q, " ") < strlen(q) ? q : "";
	/* a case number copied from a page or a receipt, in groups: the number itself */
	if (caseno_normalize(f->caseno, f->q) == 0 && caseno_valid(f->caseno))
		f->q = f->caseno;
	f->page = (kv = kv_get(&s->r.in, "page")) != NULL ? strtol(kv->value, NULL, 10) : 1;
	if (f->page < 1 || f->page > 100000)
		f->page = 1;
	w = f->like;
	*w++ = '%';
	for (p = f->q; *p != '\0'; p++) {
		if (*p == '%' || *p == '_' || *p == '\\')
			*w++ = '\\';
		*w++ = *p;
	}
	*w++ = '%';
	*w = '\0';
	f->p[f->np++] = DBS(s->u.county);
	if (f->out)
		f->p[f->np++] = DBS(s->u.county);
	f->p[f->np++] = DBS(f->kind);
	f->p[f->np++] = DBS(f->kind);
	f->p[f->np++] = DBS(f->channel);
	f->p[f->np++] = DBS(f->channel);
	f->p[f->np++] = DBS(f->status);
	f->p[f->np++] = DBS(f->status);
	f->p[f->np++] = DBS(f->status);
	f->p[f->np++] = DBS(f->hall);
	f->p[f->np++] = DBS(f->hall);
	f->p[f->np++] = DBS(f->hall);
	f->p[f->np++] = DBI(f->warning);
	f->p[f->np++] = DBI(f->overdue);
	f->p[f->np++] = DBS(f->q);
	f->p[f->np++] = DBS(f->like);
	f->p[f->np++] = DBS(f->like);
	f->p[f->np++] = DBS(f->like);
	return 0;
}

/* The rows of the filter's list, limit of them from offset on. */
static int
inbox_rows(const struct inbox_filter *f, long long limit, long long offset, struct dbrows *rows)
{
	struct dbparam p[sizeof(f->p) / sizeof(f->p[0]) + 2];

	memcpy(p, f->p, f->np * sizeof(p[0]));
	p[f->np] = DBI(limit);
	p[f->np + 1] = DBI(offset);
	return db_select(inbox_rows_sql[f->out], p, f->np + 2, rows, (size_t)limit);
}

/* Who handles row i now: a hall's name, or the county's name or code. */
static void
handler_text(struct buf *b, const struct dbrows *r, size_t i)
{
	const char *hall = db_str(r, i, I_HANDLER_HALL), *name = db_str(r, i, I_HANDLER_HALL_NAME);

	if (*hall != '\0')
		SH(b, *name != '\0' ? name : hall);
	else if (*db_str(r, i, I_HANDLER_COUNTY_NAME) != '\0')
		SH(b, db_str(r, i, I_HANDLER_COUNTY_NAME));
	else {
		buf_adds(b, "县（市、区）");
		SH(b, db_str(r, i, I_HANDLER_COUNTY));
	}
}

/* Query-string text: everything but unreserved characters percent-encoded. */
static void
url_enc(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_' || c == '.' || c == '~') {
			buf_addc(b, (char)c);
		} else {
			buf_addc(b, '%');
			buf_addc(b, hex[c >> 4]);
			buf_addc(b, hex[c & 15]);
		}
	}
}

/* The filters as a query string, for the pager and the CSV link. */
static void
filter_query(struct buf *b, const struct inbox_filter *f)
{
	buf_adds(b, "kind=");
	url_enc(b, f->kind);
	buf_adds(b, "&status=");
	url_enc(b, f->status);
	buf_adds(b, "&channel=");
	url_enc(b, f->channel);
	buf_adds(b, "&hall=");
	url_enc(b, f->hall);
	buf_adds(b, "&q=");
	url_enc(b, f->q);
	if (f->warning)
		buf_adds(b, "&warning=1");
	if (f->overdue)
		buf_adds(b, "&overdue=1");
	if (f->out)
		buf_adds(b, "&out=1");
}

/* An href to path with the filters (and a page, when page > 0), escaped for the page. */
static void
filter_href(struct buf *b, const char *path, const struct inbox_filter *f, long page)
{
	struct buf q;

	buf_init(&q, 4096);
	buf_adds(&q, path);
	buf_addc(&q, '?');
	filter_query(&q, f);
	if (page > 0)
		buf_printf(&q, "&page=%ld", page);
	buf_adds(b, "<a href=\"");
	SH(b, q.failed ? path : q.data);
	buf_adds(b, "\"");
	buf_free(&q);
}

static void
select_box(struct buf *b, const char *name, const char *label, const char *const *codes,
    const char *cur, const char *(*text)(const char *))
{
	buf_adds(b, "<label>");
	SH(b, label);
	buf_adds(b, "<select name=\"");
	SH(b, name);
	buf_adds(b, "\"><option value=\"\">全部</option>");
	for (; *codes != NULL; codes++) {
		buf_adds(b, "<option value=\"");
		SH(b, *codes);
		buf_adds(b, strcmp(cur, *codes) == 0 ? "\" selected>" : "\">");
		SH(b, text(*codes));
		buf_adds(b, "</option>");
	}
	buf_adds(b, "</select></label>");
}

static void
filters_form(struct buf *b, const struct staff_req *s, const struct inbox_filter *f)
{
	enum { H_CODE, H_NAME, H__N };
	struct dbparam p[1] = {DBS(s->u.county)};
	struct dbrows halls;
	size_t i;

	buf_adds(b, "<form class=\"filters\" method=\"get\" action=\"/\">");
	select_box(b, "kind", "类型", kinds, f->kind, kind_text);
	select_box(b, "status", "状态", statuses, f->status, status_word);
	select_box(b, "channel", "渠道", channels, f->channel, channel_text);
	buf_adds(b, "<label>大厅<select name=\"hall\"><option value=\"\">全部</option>");
	if (db_select("SELECT hall_code, name FROM halls WHERE county_code = ? ORDER BY hall_code",
		p, 1, &halls, 500) == 0) {
		for (i = 0; i < halls.nrows; i++) {
			buf_adds(b, "<option value=\"");
			SH(b, db_str(&halls, i, H_CODE));
			buf_adds(b, strcmp(f->hall, db_str(&halls, i, H_CODE)) == 0 ?
			    "\" selected>" : "\">");
			SH(b, db_str(&halls, i, H_NAME));
			buf_adds(b, "</option>");
		}
		dbrows_free(&halls);
	}
	buf_adds(b, "</select></label><label>搜索<input name=\"q\" maxlength=\"100\" "
		    "placeholder=\"办件编号、标题或内容\" value=\"");
	SH(b, f->q);
	buf_printf(b, "\"></label><label class=\"check\"><input type=\"checkbox\" name=\"warning\" "
		      "value=\"1\"%s>预警</label><label class=\"check\"><input type=\"checkbox\" "
		      "name=\"overdue\" value=\"1\"%s>已超期</label><label class=\"check\">"
		      "<input type=\"checkbox\" name=\"out\" value=\"1\"%s>已转出外县（只读）</label>"
		      "<button type=\"submit\">筛选</button></form>",
	    f->warning ? " checked" : "", f->overdue ? " checked" : "", f->out ? " checked" : "");
}

void
inbox_page(struct staff_req *s)
{
	static const struct scol cols[] = {
		{"办件编号", NULL}, {"标题", NULL}, {"状态", NULL}, {"答复期限", NULL},
		{"类型", "hide-s"}, {"渠道", "hide-s"}, {"大厅", "hide-s"}, {"提交时间", "hide-s"},
	};
	struct inbox_filter f;
	struct dbrows rows, count;
	struct buf b;
	long long total, pages;
	size_t i;

	if (inbox_filter(s, &f) == -1)
		return;
	if (db_select(inbox_count_sql[f.out], f.p, f.np, &count, 1) == -1) {
		spage_unavailable(s);
		return;
	}
	total = db_int(&count, 0, N_TOTAL);
	pages = total > 0 ? (total + STAFF_PAGE_SIZE - 1) / STAFF_PAGE_SIZE : 1;
	if (f.page > pages)
		f.page = pages;
	if (inbox_rows(&f, STAFF_PAGE_SIZE, (f.page - 1) * STAFF_PAGE_SIZE, &rows) == -1) {
		dbrows_free(&count);
		spage_unavailable(s);
		return;
	}
	spage_begin(&b, s, "办件");
	buf_adds(&b, f.out ? "<h1>已转出外县的办件</h1><p class=\"notice\">这些办件已转办至其他县"
			     "（市、区），由对方办理；本县只能查看。</p>" : "<h1>办件</h1>");
	buf_printf(&b, "<p>共 <b id=\"total\">%lld</b> 件，其中已超期 "
		       "<b id=\"overdue\">%lld</b> 件、预警 <b id=\"warning\">%lld</b> 件。"
		       " ",
	    total, db_int(&count, 0, N_OVERDUE), db_int(&count, 0, N_WARNING));
	filter_href(&b, "/inbox.csv", &f, 0);
	buf_adds(&b, ">导出 CSV</a></p>");
	dbrows_free(&count);
	filters_form(&b, s, &f);
	spage_table(&b, "class=\"inbox\"", cols, NCOLS(cols));
	for (i = 0; i < rows.nrows; i++) {
		char due[32], sub[32];

		spage_time(due, (time_t)db_int(&rows, i, I_DUE));
		spage_time(sub, (time_t)db_int(&rows, i, I_SUBMITTED));
		buf_adds(&b, "<tr><td>");
		spage_link(&b, "/cases/", db_str(&rows, i, I_NO), NULL);
		buf_adds(&b, "</td>");
		spage_td(&b, NULL, db_str(&rows, i, I_SUBJECT));
		buf_adds(&b, "<td>");
		SH(&b, status_text(db_str(&rows, i, I_STATUS)));
		spage_due_tag(&b, db_int(&rows, i, I_OVERDUE) == 1,
		    db_int(&rows, i, I_WARNING) == 1);
		buf_adds(&b, "</td><td>");
		SH(&b, due);
		if (db_int(&rows, i, I_PROVISIONAL) == 1)
			buf_adds(&b, "（暂定）");
		buf_adds(&b, "</td>");
		spage_td(&b, "hide-s", kind_text(db_str(&rows, i, I_KIND)));
		spage_td(&b, "hide-s channel", channel_text(db_val(&rows, i, I_CHANNEL)));
		buf_adds(&b, "<td class=\"hide-s\">");
		SH(&b, *db_str(&rows, i, I_HALL_NAME) != '\0' ? db_str(&rows, i, I_HALL_NAME) :
		    db_str(&rows, i, I_HALL));
		if (f.out) {
			buf_adds(&b, "<div class=\"muted\">现由");
			handler_text(&b, &rows, i);
			buf_adds(&b, "办理</div>");
		} else if (db_int(&rows, i, I_TRANSFERRED_IN) == 1)
			buf_adds(&b, " <span class=\"tag closed\">外县转入</span>");
		buf_adds(&b, "</td>");
		spage_td(&b, "hide-s", sub);
		buf_adds(&b, "</tr>");
	}
	spage_table_end(&b, NCOLS(cols), rows.nrows, "没有符合条件的办件。");
	if (pages > 1) {
		buf_adds(&b, "<p class=\"pager\">");
		if (f.page > 1) {
			filter_href(&b, "/", &f, f.page - 1);
			buf_adds(&b, " rel=\"prev\">上一页</a>");
		}
		buf_printf(&b, "<span>第 %ld / %lld 页</span>", f.page, pages);
		if (f.page < pages) {
			filter_href(&b, "/", &f, f.page + 1);
			buf_adds(&b, " rel=\"next\">下一页</a>");
		}
		buf_adds(&b, "</p>");
	}
	dbrows_free(&rows);
	spage_finish(s, 200, &b, NULL);
}

void
inbox_csv(struct staff_req *s)
{
	struct inbox_filter f;
	struct dbrows rows;
	struct buf b;
	size_t i;

	if (inbox_filter(s, &f) == -1)
		return;
	if (inbox_rows(&f, 10000, 0, &rows) == -1) {
		spage_unavailable(s);
		return;
	}
	buf_init(&b, 8 * 1024 * 1024);
	/* a BOM, so that spreadsheet programs read the Chinese text as UTF-8 */
	buf_adds(&b, "\xef\xbb\xbf办件编号,大厅编码,大厅,类型,标题,状态,提交时间,答复期限,"
		     "期限暂定,已超期,预警,承办县（市、区）,承办大厅,受理渠道\r\n");
	for (i = 0; i < rows.nrows; i++) {
		char due[32], sub[32];

		spage_time(sub, (time_t)db_int(&rows, i, I_SUBMITTED));
		spage_time(due, (time_t)db_int(&rows, i, I_DUE));
		csv_cell(&b, db_str(&rows, i, I_NO), 0);
		csv_cell(&b, db_str(&rows, i, I_HALL), 0);
		csv_cell(&b, db_str(&rows, i, I_HALL_NAME), 0);
		csv_cell(&b, kind_text(db_str(&rows, i, I_KIND)), 0);
		csv_cell(&b, db_str(&rows, i, I_SUBJECT), 0);
		csv_cell(&b, status_text(db_str(&rows, i, I_STATUS)), 0);
		csv_cell(&b, sub, 0);
		csv_cell(&b, due, 0);
		csv_cell(&b, db_int(&rows, i, I_PROVISIONAL) == 1 ? "是" : "否", 0);
		csv_cell(&b, db_int(&rows, i, I_OVERDUE) == 1 ? "是" : "否", 0);
		csv_cell(&b, db_int(&rows, i, I_WARNING) == 1 ? "是" : "否", 0);
		csv_cell(&b, db_str(&rows, i, I_HANDLER_COUNTY), 0);
		csv_cell(&b, db_str(&rows, i, I_HANDLER_HALL), 0);
		csv_cell(&b, channel_text(db_val(&rows, i, I_CHANNEL)), 1);
	}
	dbrows_free(&rows);
	csv_send(s, &b, "inbox", "导出内容过多，请缩小筛选范围。");
	buf_free(&b);
}
