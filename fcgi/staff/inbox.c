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
 *
 * At a real county's size (SPEC 9: 1,000,000 cases; sql/county/019) the order is that of
 * (closed, due_at, case_no), an index's order for the list and for each filter; a page
 * is found by the last row's key on the page before (keyset: "after", or "before" going
 * back), never by an OFFSET that reads every row before it; the counts stop at
 * INBOX_COUNT_CAP rows; and the search asks case_search's FULLTEXT index for the cases
 * holding every two-character token of the query, then checks those few with LIKE, so
 * that it finds what LIKE alone found, and only that.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "staff.h"

/* the counts read at most this many rows plus one: beyond, the page says "1000+" */
#define INBOX_COUNT_CAP 1000
#define INBOX_COUNT_LIMIT "1001"
/* the CSV reads its rows this many at a time */
#define INBOX_CSV_CHUNK 1000
/* As OVERDUE_SQL and WARNING_SQL, in terms of the stored `closed` and ranges of due_at. */
#define INBOX_OVERDUE "(c.closed = 0 AND c.due_at < NOW())"
#define INBOX_WARNING \
	"(c.closed = 0 AND c.due_at >= NOW() AND c.due_at < CURDATE() + INTERVAL 1 DAY)"

#define INBOX_JOINS \
	" FROM cases c LEFT JOIN halls h ON h.hall_code = c.hall_code" \
	" LEFT JOIN halls hh ON hh.hall_code = c.handler_hall" \
	" LEFT JOIN counties k ON k.county_code = c.handler_county"
/* the cases the county handles (one parameter: the county) */
#define INBOX_MINE " FROM cases c WHERE c.handler_county = ?" INBOX_FILTERS
/* the cases it transferred to another county (two: the county, twice) */
#define INBOX_OUT " FROM cases c" \
	" WHERE c.case_no IN (SELECT t.case_no FROM case_transfers t WHERE t.from_county = ?)" \
	" AND c.handler_county <> ?" INBOX_FILTERS
/* a search: the cases holding every token of the query, from the FULLTEXT index first
 * (then their rows by key), so that a rare word costs its few cases, not a scan of all
 * (two parameters: the MATCH query, the county) */
#define INBOX_MINE_FT " FROM case_search s STRAIGHT_JOIN cases c ON c.case_no = s.case_no" \
	" WHERE MATCH (s.grams) AGAINST (? IN BOOLEAN MODE) AND c.handler_county = ?" \
	INBOX_FILTERS
/* a status is bound with the `closed` it implies, so that its index serves the order */
#define INBOX_FILTERS \
	" AND (? = '' OR c.kind = ?)" \
	" AND (? = '' OR c.channel = ?)" \
	" AND (? = '' OR (? = 'open' AND c.closed = 0) OR (c.status = ? AND c.closed = ?))" \
	" AND (? = '' OR c.hall_code = ? OR c.handler_hall = ?)" \
	" AND (? = 0 OR " INBOX_WARNING ")" \
	" AND (? = 0 OR " INBOX_OVERDUE ")" \
	" AND (? = '' OR (c.case_no IN (SELECT s.case_no FROM case_search s" \
	" WHERE MATCH (s.grams) AGAINST (? IN BOOLEAN MODE))" \
	" AND (c.case_no LIKE ? OR c.subject LIKE ? OR c.body LIKE ?)))"
/* the page after a row's key (closed, due_at, case_no), or before it; '' as the case
 * number: from the start */
#define INBOX_AFTER \
	" AND (? = '' OR c.closed > ? OR (c.closed = ? AND (c.due_at > ?" \
	" OR (c.due_at = ? AND c.case_no > ?))))"
#define INBOX_BEFORE \
	" AND (? = '' OR c.closed < ? OR (c.closed = ? AND (c.due_at < ?" \
	" OR (c.due_at = ? AND c.case_no < ?))))"
#define INBOX_ASC " ORDER BY c.closed ASC, c.due_at ASC, c.case_no ASC"
#define INBOX_DESC " ORDER BY c.closed DESC, c.due_at DESC, c.case_no DESC"
/* a page's rows are found first (the key's index alone), then joined to the names */
#define INBOX_COLS \
	"SELECT c.case_no, c.hall_code, COALESCE(h.name, ''), c.kind, c.subject, c.status, " \
	"UNIX_TIMESTAMP(c.submitted_at), UNIX_TIMESTAMP(c.due_at), c.due_provisional, " \
	INBOX_OVERDUE ", " INBOX_WARNING ", c.handler_county, COALESCE(c.handler_hall, ''), " \
	"COALESCE(hh.name, ''), COALESCE(k.name, ''), c.handler_county <> LEFT(c.hall_code, 6), " \
	"c.channel, c.closed, DATE_FORMAT(c.due_at, '%Y%m%d%H%i%s')" \
	INBOX_JOINS " JOIN (SELECT c.case_no"
#define INBOX_PAGE(list, key, order) \
	INBOX_COLS list key order " LIMIT ?) p ON p.case_no = c.case_no" order
enum {
	I_NO, I_HALL, I_HALL_NAME, I_KIND, I_SUBJECT, I_STATUS, I_SUBMITTED, I_DUE,
	I_PROVISIONAL, I_OVERDUE, I_WARNING, I_HANDLER_COUNTY, I_HANDLER_HALL,
	I_HANDLER_HALL_NAME, I_HANDLER_COUNTY_NAME, I_TRANSFERRED_IN, I_CHANNEL, I_CLOSED,
	I_DUEKEY, I__N
};
/* the first INBOX_COUNT_CAP + 1 rows in the list's order: every overdue case comes before
 * the others, and every warning right after them, so their sums are exact while they are
 * fewer than the rows read */
#define INBOX_COUNT_OF(list) \
	"SELECT count(*), COALESCE(SUM(o), 0), COALESCE(SUM(w), 0) FROM (SELECT " \
	INBOX_OVERDUE " AS o, " INBOX_WARNING " AS w" list \
	" ORDER BY c.closed, c.due_at, c.case_no LIMIT " INBOX_COUNT_LIMIT ") t"
enum { N_TOTAL, N_OVERDUE, N_WARNING, N__N };

/* By inbox_filter.list (LIST_*): the count, and a page of rows after or before a key. */
enum { LIST_MINE, LIST_OUT, LIST_MINE_FT };
static const char *const inbox_count_sql[3] = {INBOX_COUNT_OF(INBOX_MINE),
    INBOX_COUNT_OF(INBOX_OUT), INBOX_COUNT_OF(INBOX_MINE_FT)};
static const char *const inbox_after_sql[3] = {
	INBOX_PAGE(INBOX_MINE, INBOX_AFTER, INBOX_ASC),
	INBOX_PAGE(INBOX_OUT, INBOX_AFTER, INBOX_ASC),
	INBOX_PAGE(INBOX_MINE_FT, INBOX_AFTER, INBOX_ASC),
};
static const char *const inbox_before_sql[3] = {
	INBOX_PAGE(INBOX_MINE, INBOX_BEFORE, INBOX_DESC),
	INBOX_PAGE(INBOX_OUT, INBOX_BEFORE, INBOX_DESC),
	INBOX_PAGE(INBOX_MINE_FT, INBOX_BEFORE, INBOX_DESC),
};

static const char *const kinds[] = {"consultation", "complaint", "unresolved", NULL};
static const char *const channels[] = {"online", "window", "phone", "letter", "email", NULL};
static const char *const statuses[] = {"open", "received", "delivered", "accepted",
    "transferred", "answered", "resolved", "rejected", NULL};

/* A row's place in the order, as a page link carries it: "0.20261205235959.<case_no>". */
struct inbox_key {
	int set;
	long long closed;
	char due[20];		/* "YYYY-MM-DD HH:MM:SS" */
	char no[33];
};

struct inbox_filter {
	const char *kind, *status, *channel, *hall, *q;
	int warning, overdue, out, list;
	long long status_closed;	/* the `closed` that f->status implies */
	long page;		/* for display only: the links carry the keys */
	struct inbox_key after, before;
	char caseno[CASENO_LEN + 1];
	char like[2 * 400 + 3];	/* %q% with q's own % _ \ escaped */
	char *match;		/* search_query(q), for MATCH ... AGAINST; owned */
	struct dbparam p[28];	/* p[0]: the MATCH query, for LIST_MINE_FT only */
	size_t np;
};

/* The parameters of f's list (its statements' and the count's). */
#define FP(f) ((f)->p + ((f)->list == LIST_MINE_FT ? 0 : 1))
#define FNP(f) ((f)->np - ((f)->list == LIST_MINE_FT ? 0 : 1))

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

/* Reads a key of a page link; a malformed one is no key (the list from its start). */
static void
key_parse(struct inbox_key *k, const char *v)
{
	const char *d = v + 2, *no = v + 17;
	size_t n = strlen(no);

	memset(k, 0, sizeof(*k));
	if (strlen(v) < 18 || (v[0] != '0' && v[0] != '1') || v[1] != '.' ||
	    strspn(d, "0123456789") != 14 || d[14] != '.' || n > 32 ||
	    strspn(no, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ") != n)
		return;
	k->closed = v[0] - '0';
	snprintf(k->due, sizeof(k->due), "%.4s-%.2s-%.2s %.2s:%.2s:%.2s", d, d + 4, d + 6,
	    d + 8, d + 10, d + 12);
	memcpy(k->no, no, n + 1);
	k->set = 1;
}

/* The key of row i of a page, as key_parse reads it. */
static void
key_text(struct buf *b, const struct dbrows *r, size_t i)
{
	buf_printf(b, "%lld.%s.%s", db_int(r, i, I_CLOSED), db_str(r, i, I_DUEKEY),
	    db_str(r, i, I_NO));
}

static void
filter_free(struct inbox_filter *f)
{
	free(f->match);
	f->match = NULL;
}

/* The boolean-mode query of f->q's tokens (sql/county/019 search_query); -1: db failed. */
static int
search_match(struct inbox_filter *f)
{
	struct dbparam p[1] = {DBS(f->q)};
	struct dbrows r;

	if (*f->q == '\0')
		return (f->match = strdup("")) != NULL ? 0 : -1;
	if (db_select("SELECT search_query(?)", p, 1, &r, 1) == -1)
		return -1;
	f->match = strdup(r.nrows == 1 ? db_str(&r, 0, 0) : "");
	dbrows_free(&r);
	return f->match != NULL ? 0 : -1;
}

/*
 * Reads the filters from the query string; bad values are ignored, not refused. 0, or -1
 * when the page has been answered (a bad request, the county down).
 */
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
	f->status_closed = strcmp(f->status, "answered") == 0 ||
	    strcmp(f->status, "resolved") == 0 || strcmp(f->status, "rejected") == 0;
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
	key_parse(&f->after, spage_in(s, "after"));
	if (!f->after.set)
		key_parse(&f->before, spage_in(s, "before"));
	f->page = (kv = kv_get(&s->r.in, "page")) != NULL ? strtol(kv->value, NULL, 10) : 1;
	if (f->page < 1 || f->page > 1000000 || (!f->after.set && !f->before.set))
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
	if (search_match(f) == -1) {
		spage_unavailable(s);
		return -1;
	}
	f->list = f->out ? LIST_OUT : *f->q != '\0' ? LIST_MINE_FT : LIST_MINE;
	f->p[f->np++] = DBS(f->match);
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
	f->p[f->np++] = DBI(f->status_closed);
	f->p[f->np++] = DBS(f->hall);
	f->p[f->np++] = DBS(f->hall);
	f->p[f->np++] = DBS(f->hall);
	f->p[f->np++] = DBI(f->warning);
	f->p[f->np++] = DBI(f->overdue);
	f->p[f->np++] = DBS(f->q);
	f->p[f->np++] = DBS(f->match);
	f->p[f->np++] = DBS(f->like);
	f->p[f->np++] = DBS(f->like);
	f->p[f->np++] = DBS(f->like);
	return 0;
}

/* At most limit rows of the filter's list after key (or before it, when back is 1, in the
 * reverse order); an unset key: from the start (or the end). */
static int
inbox_rows(const struct inbox_filter *f, const struct inbox_key *key, int back,
    long long limit, struct dbrows *rows)
{
	struct dbparam p[sizeof(f->p) / sizeof(f->p[0]) + 7];
	size_t n = FNP(f);

	memcpy(p, FP(f), n * sizeof(p[0]));
	p[n++] = DBS(key->set ? key->no : "");
	p[n++] = DBI(key->closed);
	p[n++] = DBI(key->closed);
	p[n++] = DBS(key->due);
	p[n++] = DBS(key->due);
	p[n++] = DBS(key->no);
	p[n++] = DBI(limit);
	return db_select(back ? inbox_before_sql[f->list] : inbox_after_sql[f->list], p, n, rows,
	    (size_t)limit);
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

/*
 * An href to path with the filters, escaped for the page; with a key name ("after",
 * "before"): the key of row i of r, and the page number to show there.
 */
static void
filter_href(struct buf *b, const char *path, const struct inbox_filter *f, const char *key,
    const struct dbrows *r, size_t i, long page)
{
	struct buf q;

	buf_init(&q, 4096);
	buf_adds(&q, path);
	buf_addc(&q, '?');
	filter_query(&q, f);
	if (key != NULL) {
		buf_printf(&q, "&%s=", key);
		key_text(&q, r, i);
		buf_printf(&q, "&page=%ld", page);
	}
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

/* A count as the page shows it: the number, or "1000+" at the cap. */
static void
count_text(struct buf *b, long long n, int exact)
{
	if (exact && n <= INBOX_COUNT_CAP)
		buf_printf(b, "%lld", n);
	else
		buf_printf(b, "%d+", INBOX_COUNT_CAP);
}

/* Swaps rows i and j of r (their cells are pointers, row after row). */
static void
rows_swap(struct dbrows *r, size_t i, size_t j)
{
	size_t c;

	for (c = 0; c < r->ncols; c++) {
		char *t = r->cell[i * r->ncols + c];

		r->cell[i * r->ncols + c] = r->cell[j * r->ncols + c];
		r->cell[j * r->ncols + c] = t;
	}
}

/*
 * The page's rows: after f->after (the first page without one), or the page before
 * f->before, read backwards and turned round; *shown of them are the page's (one more was
 * read to know whether another page follows). *more_next, *more_prev: a page after, before.
 */
static int
inbox_page_rows(struct inbox_filter *f, struct dbrows *rows, size_t *shown, int *more_next,
    int *more_prev)
{
	size_t i, n;

	if (!f->before.set) {
		if (inbox_rows(f, &f->after, 0, STAFF_PAGE_SIZE + 1, rows) == -1)
			return -1;
		*more_next = rows->nrows > STAFF_PAGE_SIZE;
		*more_prev = f->after.set;
		*shown = *more_next ? STAFF_PAGE_SIZE : rows->nrows;
		return 0;
	}
	if (inbox_rows(f, &f->before, 1, STAFF_PAGE_SIZE + 1, rows) == -1)
		return -1;
	*more_next = 1;
	*more_prev = rows->nrows > STAFF_PAGE_SIZE;
	if (!*more_prev)
		f->page = 1;	/* the list's start, whatever the link said */
	n = *more_prev ? STAFF_PAGE_SIZE : rows->nrows;
	for (i = 0; i < n / 2; i++)
		rows_swap(rows, i, n - 1 - i);
	*shown = n;
	return 0;
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
	long long total, overdue, warning;
	int more_next = 0, more_prev = 0, exact;
	size_t i, shown = 0;

	if (inbox_filter(s, &f) == -1)
		return;
	if (db_select(inbox_count_sql[f.list], FP(&f), FNP(&f), &count, 1) == -1) {
		filter_free(&f);
		spage_unavailable(s);
		return;
	}
	if (inbox_page_rows(&f, &rows, &shown, &more_next, &more_prev) == -1) {
		dbrows_free(&count);
		filter_free(&f);
		spage_unavailable(s);
		return;
	}
	total = db_int(&count, 0, N_TOTAL);
	overdue = db_int(&count, 0, N_OVERDUE);
	warning = db_int(&count, 0, N_WARNING);
	exact = total <= INBOX_COUNT_CAP;
	dbrows_free(&count);
	spage_begin(&b, s, "办件");
	buf_adds(&b, f.out ? "<h1>已转出外县的办件</h1><p class=\"notice\">这些办件已转办至其他县"
			     "（市、区），由对方办理；本县只能查看。</p>" : "<h1>办件</h1>");
	buf_adds(&b, "<p>共 <b id=\"total\">");
	count_text(&b, total, exact);
	buf_adds(&b, "</b> 件，其中已超期 <b id=\"overdue\">");
	/* exact while fewer than the rows read: see INBOX_COUNT_OF */
	count_text(&b, overdue, exact || overdue < total);
	buf_adds(&b, "</b> 件、预警 <b id=\"warning\">");
	count_text(&b, warning, exact || overdue + warning < total);
	buf_adds(&b, "</b> 件。 ");
	filter_href(&b, "/inbox.csv", &f, NULL, NULL, 0, 0);
	buf_adds(&b, ">导出 CSV</a></p>");
	filters_form(&b, s, &f);
	spage_table(&b, "class=\"inbox\"", cols, NCOLS(cols));
	for (i = 0; i < shown; i++) {
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
	spage_table_end(&b, NCOLS(cols), shown, "没有符合条件的办件。");
	if (shown > 0 && (more_prev || more_next)) {
		buf_adds(&b, "<p class=\"pager\">");
		if (more_prev) {
			/* back to the first page: its plain link, as new cases may have come */
			if (f.page <= 2)
				filter_href(&b, "/", &f, NULL, NULL, 0, 0);
			else
				filter_href(&b, "/", &f, "before", &rows, 0, f.page - 1);
			buf_adds(&b, " rel=\"prev\">上一页</a>");
		}
		if (exact)
			buf_printf(&b, "<span>第 %ld / %lld 页</span>", f.page,
			    (total + STAFF_PAGE_SIZE - 1) / STAFF_PAGE_SIZE);
		else
			buf_printf(&b, "<span>第 %ld 页</span>", f.page);
		if (more_next) {
			filter_href(&b, "/", &f, "after", &rows, shown - 1, f.page + 1);
			buf_adds(&b, " rel=\"next\">下一页</a>");
		}
		buf_adds(&b, "</p>");
	}
	dbrows_free(&rows);
	filter_free(&f);
	spage_finish(s, 200, &b, NULL);
}

/* One CSV line per row of r. */
static void
csv_rows(struct buf *b, const struct dbrows *rows)
{
	size_t i;

	for (i = 0; i < rows->nrows; i++) {
		char due[32], sub[32];

		spage_time(sub, (time_t)db_int(rows, i, I_SUBMITTED));
		spage_time(due, (time_t)db_int(rows, i, I_DUE));
		csv_cell(b, db_str(rows, i, I_NO), 0);
		csv_cell(b, db_str(rows, i, I_HALL), 0);
		csv_cell(b, db_str(rows, i, I_HALL_NAME), 0);
		csv_cell(b, kind_text(db_str(rows, i, I_KIND)), 0);
		csv_cell(b, db_str(rows, i, I_SUBJECT), 0);
		csv_cell(b, status_text(db_str(rows, i, I_STATUS)), 0);
		csv_cell(b, sub, 0);
		csv_cell(b, due, 0);
		csv_cell(b, db_int(rows, i, I_PROVISIONAL) == 1 ? "是" : "否", 0);
		csv_cell(b, db_int(rows, i, I_OVERDUE) == 1 ? "是" : "否", 0);
		csv_cell(b, db_int(rows, i, I_WARNING) == 1 ? "是" : "否", 0);
		csv_cell(b, db_str(rows, i, I_HANDLER_COUNTY), 0);
		csv_cell(b, db_str(rows, i, I_HANDLER_HALL), 0);
		csv_cell(b, channel_text(db_val(rows, i, I_CHANNEL)), 1);
	}
}

/* The key of the last row of r, for the next chunk. */
static void
key_of_last(struct inbox_key *k, const struct dbrows *r)
{
	const char *d = db_str(r, r->nrows - 1, I_DUEKEY);

	k->set = 1;
	k->closed = db_int(r, r->nrows - 1, I_CLOSED);
	snprintf(k->due, sizeof(k->due), "%.4s-%.2s-%.2s %.2s:%.2s:%.2s", d, d + 4, d + 6,
	    d + 8, d + 10, d + 12);
	snprintf(k->no, sizeof(k->no), "%s", db_str(r, r->nrows - 1, I_NO));
}

/*
 * The whole list as CSV, streamed: INBOX_CSV_CHUNK rows at a time by their keys, in one
 * read-only transaction (one snapshot: a case that changes meanwhile is neither lost nor
 * listed twice), each chunk sent as it is read, so no export is ever cut at a row count
 * and none is held in memory whole. The first chunk is read before anything is sent, so
 * that a county that is down gets its error page; a failure later can only end the file,
 * with a last line that says so.
 */
void
inbox_csv(struct staff_req *s)
{
	struct inbox_filter f;
	struct inbox_key key;
	struct dbrows rows;
	struct buf b;
	int failed = 0;

	if (inbox_filter(s, &f) == -1)
		return;
	memset(&key, 0, sizeof(key));
	if (db_begin() == -1 || inbox_rows(&f, &key, 0, INBOX_CSV_CHUNK, &rows) == -1) {
		db_rollback();
		filter_free(&f);
		spage_unavailable(s);
		return;
	}
	buf_init(&b, 1024 * 1024);
	/* a BOM, so that spreadsheet programs read the Chinese text as UTF-8 */
	buf_adds(&b, "\xef\xbb\xbf办件编号,大厅编码,大厅,类型,标题,状态,提交时间,答复期限,"
		     "期限暂定,已超期,预警,承办县（市、区）,承办大厅,受理渠道\r\n");
	csv_begin(s, "inbox");
	for (;;) {
		size_t n = rows.nrows;

		csv_rows(&b, &rows);
		if (n > 0)
			key_of_last(&key, &rows);
		dbrows_free(&rows);
		if (csv_chunk(s, &b) == -1) {
			failed = 1;	/* the client went away */
			break;
		}
		if (n < INBOX_CSV_CHUNK)
			break;
		if (inbox_rows(&f, &key, 0, INBOX_CSV_CHUNK, &rows) == -1) {
			buf_adds(&b, "\"导出未完成：数据库连接中断，请重新导出。\"\r\n");
			csv_chunk(s, &b);
			failed = 1;
			break;
		}
	}
	if (failed)
		db_rollback();
	else
		db_commit();
	buf_free(&b);
	filter_free(&f);
}
