/*
 * The inbox: the cases the account's county handles (cases.handler_county: where the case
 * was taken, or where a transfer moved it), filtered by kind, status, channel, hall,
 * warning and overdue, searched in the case number, subject and body, most urgent first (overdue, then
 * open by deadline, then the closed ones), a page at a time; and the same list as CSV.
 * With out=1 it lists instead the cases the county transferred on to another county, which
 * it may still open, read only.
 *
 * Fixed statements serve every combination of filters (one per driver index and
 * direction): an unused filter is bound as '' or 0 and its condition is then true, so no
 * SQL is ever put together from input. The transferred-out list has its own statements
 * (its rows in case_transfers).
 *
 * At a real county's size (SPEC 9: 1,000,000 cases; sql/county/019) the order is that of
 * (closed, due_at, case_no), an index's order for the list and for each filter; a page
 * is found by the last row's key on the page before (keyset: "after", or "before" going
 * back), never by an OFFSET that reads every row before it. No request reads an unbounded
 * number of rows: a list is read by the index of its most selective filter (the driver),
 * at most INBOX_SCAN_CAP rows when the other filters or the search must look at the rows
 * (a sparse combination shows what it found and links on from where it stopped); the
 * counts come from the same bounded read; a search that the walk in the inbox's order
 * finds too rarely asks case_search's FULLTEXT index for the cases holding every
 * two-character token of the query (at most INBOX_CAND_CAP of them), then checks those
 * with the same LIKE, so that it shows what LIKE alone found, and only that. The CSV reads
 * without those bounds: it has every row.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "staff.h"

/* the counts read at most this many rows plus one: beyond, the page says "1000+" */
#define INBOX_COUNT_CAP 1000
/* the CSV reads its rows this many at a time */
#define INBOX_CSV_CHUNK 1000
/* A page, or a count, reads at most this many rows of its index when a filter (or the
 * search) has to look at the rows themselves: a sparse filter then shows what it found and
 * a link on from where it stopped, rather than reading the whole county (SPEC 9). */
#define INBOX_SCAN_CAP 2000
/* A search that the walk in the inbox's order finds too rarely asks the FULLTEXT index:
 * at most this many candidates (beyond: a note asks for a more specific word). */
#define INBOX_CAND_CAP 4000
/* the counts read at most this many rows when they must be checked ("n+" beyond) */
#define INBOX_COUNT_SCAN 1500
/* no cap: the CSV */
#define INBOX_NO_CAP 4000000000LL
/* As OVERDUE_SQL and WARNING_SQL, in terms of the stored `closed` and ranges of due_at. */
#define INBOX_OVERDUE "(c.closed = 0 AND c.due_at < NOW())"
#define INBOX_WARNING \
	"(c.closed = 0 AND c.due_at >= NOW() AND c.due_at < CURDATE() + INTERVAL 1 DAY)"
#define INBOX_OVERDUE_D "(d.closed = 0 AND d.due_at < NOW())"
#define INBOX_WARNING_D \
	"(d.closed = 0 AND d.due_at >= NOW() AND d.due_at < CURDATE() + INTERVAL 1 DAY)"

#define INBOX_JOINS \
	" LEFT JOIN halls h ON h.hall_code = c.hall_code" \
	" LEFT JOIN halls hh ON hh.hall_code = c.handler_hall" \
	" LEFT JOIN counties k ON k.county_code = c.handler_county"
/* the page after a row's key (closed, due_at, case_no), or before it, spelt out so that
 * the index's range applies; '' as the case number: from the start */
#define INBOX_AFTER \
	" AND (? = '' OR c.closed > ? OR (c.closed = ? AND (c.due_at > ?" \
	" OR (c.due_at = ? AND c.case_no > ?))))"
#define INBOX_BEFORE \
	" AND (? = '' OR c.closed < ? OR (c.closed = ? AND (c.due_at < ?" \
	" OR (c.due_at = ? AND c.case_no < ?))))"
#define INBOX_ASC " ORDER BY c.closed ASC, c.due_at ASC, c.case_no ASC"
#define INBOX_DESC " ORDER BY c.closed DESC, c.due_at DESC, c.case_no DESC"
#define INBOX_D_ASC " ORDER BY d.closed ASC, d.due_at ASC, d.case_no ASC"
#define INBOX_D_DESC " ORDER BY d.closed DESC, d.due_at DESC, d.case_no DESC"

/*
 * The county's own list is read in two steps. The scan: the keys of the rows in the
 * inbox's order from one index (the "driver", chosen by the filters, FORCE INDEX so that
 * no estimate can pick a worse one), with the conditions that index answers by itself
 * (the county, its own column, `closed`, warning, overdue), at most a bound number of
 * rows. Then the rows themselves are checked against the other filters and the search
 * (the residue; every filter, bound '' when unused, so that one statement serves all).
 * Scan parameters: the county, the driver's value (none for the plain list), the closed
 * flag and value, warning, overdue, the key (6), the scan's bound.
 */
#define INBOX_SCAN_CONDS \
	" AND (? = 0 OR c.closed = ?)" \
	" AND (? = 0 OR " INBOX_WARNING ")" \
	" AND (? = 0 OR " INBOX_OVERDUE ")"
#define INBOX_SCAN(idx, col, key, order) \
	"SELECT c.case_no, c.closed, c.due_at FROM cases c FORCE INDEX (" idx ")" \
	" WHERE c.handler_county = ?" col INBOX_SCAN_CONDS key order " LIMIT ?"
/* a hall's cases: those it took and those it handles now (a transfer), two indexes */
#define INBOX_SCAN_HALL(key, order) \
	"(" INBOX_SCAN("cases_inbox_hall", " AND c.hall_code = ?", key, order) ") UNION (" \
	INBOX_SCAN("cases_inbox_handler", " AND c.handler_hall = ?", key, order) ")"
#define INBOX_SCANS(key, order) { \
	INBOX_SCAN("cases_inbox", "", key, order), \
	INBOX_SCAN("cases_inbox_status", " AND c.status = ?", key, order), \
	INBOX_SCAN("cases_inbox_kind", " AND c.kind = ?", key, order), \
	INBOX_SCAN("cases_inbox_channel", " AND c.channel = ?", key, order), \
	INBOX_SCAN_HALL(key, order) }
/* the residue: kind, channel, status, hall (twice), search (three LIKE) */
#define INBOX_RESIDUE \
	" AND (? = '' OR c.kind = ?)" \
	" AND (? = '' OR c.channel = ?)" \
	" AND (? = '' OR c.status = ?)" \
	" AND (? = '' OR c.hall_code = ? OR c.handler_hall = ?)" \
	" AND (? = '' OR c.case_no LIKE ? OR c.subject LIKE ? OR c.body LIKE ?)"
/* DRV_NO: a whole case number searched (its row by the primary key) */
enum { DRV_BASE, DRV_STATUS, DRV_KIND, DRV_CHANNEL, DRV_HALL, DRV_NO, DRV__N };
/* Each driver's scan, in DRV_ order, wrapped by S: one statement of a table per driver */
#define INBOX_DRIVERS(S, key, order) { \
	S(INBOX_SCAN("cases_inbox", "", key, order)), \
	S(INBOX_SCAN("cases_inbox_status", " AND c.status = ?", key, order)), \
	S(INBOX_SCAN("cases_inbox_kind", " AND c.kind = ?", key, order)), \
	S(INBOX_SCAN("cases_inbox_channel", " AND c.channel = ?", key, order)), \
	S(INBOX_SCAN_HALL(key, order)), \
	S(INBOX_SCAN("PRIMARY", " AND c.case_no = ?", key, order)) }

#define INBOX_COLS \
	"SELECT c.case_no, c.hall_code, COALESCE(h.name, ''), c.kind, c.subject, c.status, " \
	"UNIX_TIMESTAMP(c.submitted_at), UNIX_TIMESTAMP(c.due_at), c.due_provisional, " \
	INBOX_OVERDUE ", " INBOX_WARNING ", c.handler_county, COALESCE(c.handler_hall, ''), " \
	"COALESCE(hh.name, ''), COALESCE(k.name, ''), c.handler_county <> LEFT(c.hall_code, 6), " \
	"c.channel, c.closed, DATE_FORMAT(c.due_at, '%Y%m%d%H%i%s')"
enum {
	I_NO, I_HALL, I_HALL_NAME, I_KIND, I_SUBJECT, I_STATUS, I_SUBMITTED, I_DUE,
	I_PROVISIONAL, I_OVERDUE, I_WARNING, I_HANDLER_COUNTY, I_HANDLER_HALL,
	I_HANDLER_HALL_NAME, I_HANDLER_COUNTY_NAME, I_TRANSFERRED_IN, I_CHANNEL, I_CLOSED,
	I_DUEKEY, I_CAND, I_FT_N, I_FT_O, I_FT_W, I__N
};
/* a page: the scan's rows, sorted (a few thousand at most), checked in that order until
 * the page is full */
#define INBOX_PAGE(scan, dorder) \
	INBOX_COLS ", 0, 0, 0, 0 FROM (" scan ") d STRAIGHT_JOIN cases c ON c.case_no = d.case_no" \
	INBOX_JOINS " WHERE TRUE" INBOX_RESIDUE dorder " LIMIT ?"
#define PAGE_AFTER_SQL_OF(x) INBOX_PAGE(x, INBOX_D_ASC)
static const char *const page_after_sql[DRV__N] =
	INBOX_DRIVERS(PAGE_AFTER_SQL_OF, INBOX_AFTER, INBOX_ASC);
#undef PAGE_AFTER_SQL_OF
#define PAGE_BEFORE_SQL_OF(x) INBOX_PAGE(x, INBOX_D_DESC)
static const char *const page_before_sql[DRV__N] =
	INBOX_DRIVERS(PAGE_BEFORE_SQL_OF, INBOX_BEFORE, INBOX_DESC);
#undef PAGE_BEFORE_SQL_OF

/*
 * The counts, from the first rows of the scan (no key): how many were read, how many of
 * them match, and of those how many are overdue and warned; and how many read rows were
 * overdue (or warned), which says whether the read rows took in all of those (they come
 * first in the order). With no residue the rows are not read at all (the index alone).
 */
#define INBOX_COUNT_OF(scan) \
	"SELECT COUNT(*), COALESCE(SUM(m), 0), COALESCE(SUM(m AND o), 0)," \
	" COALESCE(SUM(m AND w), 0), COALESCE(SUM(o), 0), COALESCE(SUM(o OR w), 0)" \
	" FROM (SELECT (TRUE" INBOX_RESIDUE ") AS m, " INBOX_OVERDUE_D " AS o, " \
	INBOX_WARNING_D " AS w FROM (" scan ") d STRAIGHT_JOIN cases c ON c.case_no = d.case_no) t"
/* a search's: and in how many of the rows read each of its first eight tokens is */
#define INBOX_G(i) ", COALESCE(SUM(t.x LIKE ?), 0)"
#define INBOX_COUNT_Q(scan) \
	"SELECT COUNT(*), COALESCE(SUM(m), 0), COALESCE(SUM(m AND o), 0)," \
	" COALESCE(SUM(m AND w), 0), COALESCE(SUM(o), 0), COALESCE(SUM(o OR w), 0)" \
	INBOX_G(0) INBOX_G(1) INBOX_G(2) INBOX_G(3) INBOX_G(4) INBOX_G(5) INBOX_G(6) \
	INBOX_G(7) " FROM (SELECT (TRUE" INBOX_RESIDUE ") AS m, " INBOX_OVERDUE_D " AS o, " \
	INBOX_WARNING_D " AS w, CONCAT_WS(' ', c.subject, c.body) AS x" \
	" FROM (" scan ") d STRAIGHT_JOIN cases c ON c.case_no = d.case_no) t"
#define INBOX_COUNT_IDX(scan) \
	"SELECT COUNT(*), COUNT(*), COALESCE(SUM(o), 0), COALESCE(SUM(w), 0)," \
	" COALESCE(SUM(o), 0), COALESCE(SUM(o OR w), 0) FROM (SELECT " INBOX_OVERDUE_D " AS o, " \
	INBOX_WARNING_D " AS w FROM (" scan ") d) t"
enum { N_READ, N_MATCH, N_OVERDUE, N_WARNING, N_READ_O, N_READ_OW, N_GRAM, N__N = N_GRAM + 8 };
/* a search token found in more of the rows read than this is left out of FULLTEXT's query
 * (sql/county/022 search_query_pick): its list is too long to read in time */
#define INBOX_GRAM_COMMON 8
#define COUNT_SQL_OF(x) INBOX_COUNT_OF(x)
static const char *const count_sql[DRV__N] =
	INBOX_DRIVERS(COUNT_SQL_OF, INBOX_AFTER, INBOX_ASC);
#undef COUNT_SQL_OF
#define COUNT_Q_SQL_OF(x) INBOX_COUNT_Q(x)
static const char *const count_q_sql[DRV__N] =
	INBOX_DRIVERS(COUNT_Q_SQL_OF, INBOX_AFTER, INBOX_ASC);
#undef COUNT_Q_SQL_OF
#define COUNT_IDX_SQL_OF(x) INBOX_COUNT_IDX(x)
static const char *const count_idx_sql[DRV__N] =
	INBOX_DRIVERS(COUNT_IDX_SQL_OF, INBOX_AFTER, INBOX_ASC);
#undef COUNT_IDX_SQL_OF

/* Where a capped scan stopped: its last row (none: the scan read everything). One index;
 * the hall's two are asked one after the other. */
#define INBOX_FRONT(idx, col, key, order) \
	"SELECT c.closed, DATE_FORMAT(c.due_at, '%Y%m%d%H%i%s'), c.case_no" \
	" FROM cases c FORCE INDEX (" idx ") WHERE c.handler_county = ?" col INBOX_SCAN_CONDS \
	key order " LIMIT 1 OFFSET ?"
#define FRONTS(key, order) { \
	INBOX_FRONT("cases_inbox", "", key, order), \
	INBOX_FRONT("cases_inbox_status", " AND c.status = ?", key, order), \
	INBOX_FRONT("cases_inbox_kind", " AND c.kind = ?", key, order), \
	INBOX_FRONT("cases_inbox_channel", " AND c.channel = ?", key, order), \
	INBOX_FRONT("cases_inbox_hall", " AND c.hall_code = ?", key, order), \
	INBOX_FRONT("PRIMARY", " AND c.case_no = ?", key, order), \
	INBOX_FRONT("cases_inbox_handler", " AND c.handler_hall = ?", key, order) }
static const char *const front_after_sql[DRV__N + 1] = FRONTS(INBOX_AFTER, INBOX_ASC);
static const char *const front_before_sql[DRV__N + 1] = FRONTS(INBOX_BEFORE, INBOX_DESC);
enum { F_CLOSED, F_DUEKEY, F_NO, F__N };

/*
 * A search the walk finds too rarely: the cases holding every token of the query, from the
 * FULLTEXT index (at most a bound number of them, and how many there were), checked with
 * the filters and the same LIKE, in the inbox's order. Parameters: the MATCH query, the
 * bound, the county, the scan conditions (5), the key (6), the residue, the limit.
 */
#define INBOX_FT_FROM \
	" FROM (SELECT s.case_no, COUNT(*) OVER () AS n FROM case_search s" \
	" WHERE MATCH (s.grams) AGAINST (? IN BOOLEAN MODE) LIMIT ?) f" \
	" STRAIGHT_JOIN cases c ON c.case_no = f.case_no"
/* with the counts of every row it found (before the limit: the list's counts on a first
 * page), so that FULLTEXT is asked once */
#define INBOX_FT_PAGE(key, order) \
	INBOX_COLS ", f.n, COUNT(*) OVER (), SUM(" INBOX_OVERDUE ") OVER ()," \
	" SUM(" INBOX_WARNING ") OVER ()" INBOX_FT_FROM INBOX_JOINS \
	" WHERE c.handler_county = ?" INBOX_SCAN_CONDS key INBOX_RESIDUE order " LIMIT ?"
/* A page's FULLTEXT read stops at this time, and the page shows what the walk found
 * instead (the CSV waits): a safety net, well above what a rare token costs, so that a
 * busy server does not change what a page shows. InnoDB checks the limit only between its
 * token lists; what keeps the read short is the choice of a rare token (inbox_counts). */
#define INBOX_FT_TIMED "SET STATEMENT max_statement_time = 0.3 FOR "
/* the time ran out: the server's error, or InnoDB's (HA_ERR_ABORTED_BY_USER) inside the
 * FULLTEXT read */
#define FT_TIMED_OUT(e) ((e) == 1969 || (e) == 188 || (e) == 1317)
static const char *const ft_after_sql[2] = {INBOX_FT_PAGE(INBOX_AFTER, INBOX_ASC),
    INBOX_FT_TIMED INBOX_FT_PAGE(INBOX_AFTER, INBOX_ASC)};
static const char *const ft_before_sql[2] = {INBOX_FT_PAGE(INBOX_BEFORE, INBOX_DESC),
    INBOX_FT_TIMED INBOX_FT_PAGE(INBOX_BEFORE, INBOX_DESC)};

/*
 * The cases the county transferred on to another county: a short list, one statement with
 * every filter (parameters: the county twice, the filters, the key, the limit).
 */
#define INBOX_OUT_FILTERS \
	" AND (? = '' OR c.kind = ?)" \
	" AND (? = '' OR c.channel = ?)" \
	" AND (? = '' OR (? = 'open' AND c.closed = 0) OR (c.status = ? AND c.closed = ?))" \
	" AND (? = '' OR c.hall_code = ? OR c.handler_hall = ?)" \
	" AND (? = 0 OR " INBOX_WARNING ")" \
	" AND (? = 0 OR " INBOX_OVERDUE ")" \
	" AND (? = '' OR c.case_no LIKE ? OR c.subject LIKE ? OR c.body LIKE ?)"
#define INBOX_OUT " FROM cases c" INBOX_JOINS \
	" WHERE c.case_no IN (SELECT t.case_no FROM case_transfers t WHERE t.from_county = ?)" \
	" AND c.handler_county <> ?" INBOX_OUT_FILTERS
static const char *const out_after_sql = INBOX_COLS ", 0, 0, 0, 0" INBOX_OUT INBOX_AFTER INBOX_ASC
    " LIMIT ?";
static const char *const out_before_sql = INBOX_COLS ", 0, 0, 0, 0" INBOX_OUT INBOX_BEFORE INBOX_DESC
    " LIMIT ?";
static const char *const out_count_sql =
	"SELECT COUNT(*), COUNT(*), COALESCE(SUM(o), 0), COALESCE(SUM(w), 0), 0, 0 FROM (SELECT "
	INBOX_OVERDUE " AS o, " INBOX_WARNING " AS w" INBOX_OUT
	" ORDER BY c.closed, c.due_at, c.case_no LIMIT 1001) t";

static const char *const kinds[] = {"consultation", "complaint", "unresolved", NULL};
static const char *const channels[] = {"online", "window", "phone", "letter", "email", NULL};
static const char *const statuses[] = {"open", "received", "delivered", "accepted",
    "transferred", "answered", "resolved", "rejected", NULL};

/* A row's place in the order, as a page link carries it: "0.20261205235959.<case_no>". */
struct inbox_key {
	int set;
	long long closed;
	char dk[15];		/* "YYYYMMDDHHMMSS" */
	char due[20];		/* "YYYY-MM-DD HH:MM:SS" */
	char no[33];
};

struct inbox_filter {
	const char *kind, *status, *channel, *hall, *q;
	int warning, overdue, out;
	int drv;		/* DRV_*: the index the list is read by */
	int residue;		/* a filter the driver does not answer, or a search */
	int use_ft;		/* a search found too rarely in the inbox's order: FULLTEXT */
	int many;		/* FULLTEXT gave more candidates than INBOX_CAND_CAP */
	int slow;		/* FULLTEXT took too long: the walk's page instead */
	const char *drv_value;	/* the driver's column's value */
	const char *rstatus;	/* the status the rows are checked for ('' for "open") */
	const char *rq;		/* the search the rows are checked for ('' for DRV_NO) */
	long long closed_set, closed;	/* a `closed` the status implies */
	long page;		/* for display only: the links carry the keys */
	struct inbox_key after, before;
	char caseno[CASENO_LEN + 1];
	char like[2 * 400 + 3];	/* %q% with q's own % _ \ escaped */
	char *match;		/* search_query(q), for MATCH ... AGAINST; owned */
	char gram[8][4 * 2 * 2 + 3];	/* %xy% of q's first tokens (two characters) */
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

/* Sets k from its parts: closed, "YYYYMMDDHHMMSS", the case number. */
static void
key_set(struct inbox_key *k, long long closed, const char *d, const char *no)
{
	memset(k, 0, sizeof(*k));
	k->closed = closed;
	snprintf(k->dk, sizeof(k->dk), "%.14s", d);
	snprintf(k->due, sizeof(k->due), "%.4s-%.2s-%.2s %.2s:%.2s:%.2s", d, d + 4, d + 6,
	    d + 8, d + 10, d + 12);
	snprintf(k->no, sizeof(k->no), "%s", no);
	k->set = 1;
}

/* Reads a key of a page link; a malformed one is no key (the list from its start). */
static void
key_parse(struct inbox_key *k, const char *v)
{
	const char *d = v + 2, *no = v + 17;
	size_t n = strlen(v) >= 18 ? strlen(no) : 0;

	memset(k, 0, sizeof(*k));
	if (strlen(v) < 18 || (v[0] != '0' && v[0] != '1') || v[1] != '.' ||
	    strspn(d, "0123456789") != 14 || d[14] != '.' || n > 32 ||
	    strspn(no, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ") != n)
		return;
	key_set(k, v[0] - '0', d, no);
}

/* The key of row i of a page. */
static void
key_of_row(struct inbox_key *k, const struct dbrows *r, size_t i)
{
	key_set(k, db_int(r, i, I_CLOSED), db_str(r, i, I_DUEKEY), db_str(r, i, I_NO));
}

/* A key as key_parse reads it. */
static void
key_text(struct buf *b, const struct inbox_key *k)
{
	buf_printf(b, "%lld.%s.%s", k->closed, k->dk, k->no);
}

/* <0, 0, >0 as a comes before b in the inbox's order */
static int
key_cmp(const struct inbox_key *a, const struct inbox_key *b)
{
	int c;

	if (a->closed != b->closed)
		return a->closed < b->closed ? -1 : 1;
	if ((c = strcmp(a->dk, b->dk)) != 0)
		return c;
	return strcmp(a->no, b->no);
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

/* f->match with only the tokens pick marks (sql/county/022 search_query_pick); -1: db
 * failed. */
static int
search_pick(struct inbox_filter *f, const char *pick)
{
	struct dbparam p[2] = {DBS(f->q), DBS(pick)};
	struct dbrows r;
	char *m;

	if (db_select("SELECT search_query_pick(?, ?)", p, 2, &r, 1) == -1)
		return -1;
	m = strdup(r.nrows == 1 ? db_str(&r, 0, 0) : "");
	dbrows_free(&r);
	if (m == NULL)
		return -1;
	free(f->match);
	f->match = m;
	return 0;
}

/* The LIKE patterns of q's first eight tokens (search_grams': two characters each, or the
 * one character of a one-character query), to count them in the rows read. */
static void
search_tokens(struct inbox_filter *f)
{
	const char *c[10];
	size_t n = 0, i;
	const char *p;

	for (p = f->q; *p != '\0' && n < 10; p++)
		if (((unsigned char)*p & 0xC0) != 0x80)
			c[n++] = p;
	for (i = 0; i < 8 && (n == 1 ? i < 1 : i + 1 < n); i++) {
		const char *e = n == 1 ? f->q + strlen(f->q) :
		    i + 2 < n ? c[i + 2] : f->q + strlen(f->q);
		char *w = f->gram[i];

		*w++ = '%';
		for (p = c[i]; p < e; p++) {
			if (*p == '%' || *p == '_' || *p == '\\')
				*w++ = '\\';
			*w++ = *p;
		}
		*w++ = '%';
		*w = '\0';
	}
}

/*
 * The driver: the index that narrows the list most by itself. A hall holds about a
 * two-hundredth of the county; a status, a kind, a channel each a good share of it; so
 * the hall first, then the status (its `closed` too), the kind, the channel. Whatever the
 * driver does not answer is the residue, checked on the rows.
 */
static void
filter_driver(struct inbox_filter *f)
{
	int open = strcmp(f->status, "open") == 0;

	f->rstatus = open ? "" : f->status;
	f->closed_set = *f->status != '\0';
	f->closed = !open && (strcmp(f->status, "answered") == 0 ||
	    strcmp(f->status, "resolved") == 0 || strcmp(f->status, "rejected") == 0);
	f->rq = f->q;
	if (f->q == f->caseno) {
		/* a whole case number: that case (LIKE would read the county for it) */
		f->drv = DRV_NO;
		f->drv_value = f->caseno;
		f->rq = "";
	} else if (*f->hall != '\0') {
		f->drv = DRV_HALL;
		f->drv_value = f->hall;
	} else if (*f->rstatus != '\0') {
		f->drv = DRV_STATUS;
		f->drv_value = f->rstatus;
	} else if (*f->kind != '\0') {
		f->drv = DRV_KIND;
		f->drv_value = f->kind;
	} else if (*f->channel != '\0') {
		f->drv = DRV_CHANNEL;
		f->drv_value = f->channel;
	} else {
		f->drv = DRV_BASE;
		f->drv_value = "";
	}
	f->residue = *f->rq != '\0' ||
	    (*f->kind != '\0' && f->drv != DRV_KIND) ||
	    (*f->channel != '\0' && f->drv != DRV_CHANNEL) ||
	    (*f->rstatus != '\0' && f->drv != DRV_STATUS) ||
	    (*f->hall != '\0' && f->drv != DRV_HALL);
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
	search_tokens(f);
	filter_driver(f);
	return 0;
}

/* The key's six parameters (INBOX_AFTER, INBOX_BEFORE). */
static size_t
key_params(struct dbparam *p, const struct inbox_key *k)
{
	p[0] = DBS(k->set ? k->no : "");
	p[1] = DBI(k->closed);
	p[2] = DBI(k->closed);
	p[3] = DBS(k->due);
	p[4] = DBS(k->due);
	p[5] = DBS(k->no);
	return 6;
}

/* The scan conditions' five parameters after the county (INBOX_SCAN_CONDS). */
static size_t
cond_params(struct dbparam *p, const struct inbox_filter *f)
{
	p[0] = DBI(f->closed_set);
	p[1] = DBI(f->closed);
	p[2] = DBI(f->warning);
	p[3] = DBI(f->overdue);
	return 4;
}

/* One scan's parameters (INBOX_SCAN; with_value: the driver's column's). */
static size_t
scan_params(struct dbparam *p, const struct staff_req *s, const struct inbox_filter *f,
    int with_value, const struct inbox_key *k, long long bound)
{
	size_t n = 0;

	p[n++] = DBS(s->u.county);
	if (with_value)
		p[n++] = DBS(f->drv_value);
	n += cond_params(p + n, f);
	n += key_params(p + n, k);
	p[n++] = DBI(bound);
	return n;
}

/* The driver's scans' parameters (the hall's two). */
static size_t
scans_params(struct dbparam *p, const struct staff_req *s, const struct inbox_filter *f,
    const struct inbox_key *k, long long bound)
{
	size_t n = scan_params(p, s, f, f->drv != DRV_BASE, k, bound);

	if (f->drv == DRV_HALL)
		n += scan_params(p + n, s, f, 1, k, bound);
	return n;
}

/* The residue's thirteen parameters (INBOX_RESIDUE). */
static size_t
residue_params(struct dbparam *p, const struct inbox_filter *f)
{
	size_t n = 0;

	p[n++] = DBS(f->kind);
	p[n++] = DBS(f->kind);
	p[n++] = DBS(f->channel);
	p[n++] = DBS(f->channel);
	p[n++] = DBS(f->rstatus);
	p[n++] = DBS(f->rstatus);
	p[n++] = DBS(f->hall);
	p[n++] = DBS(f->hall);
	p[n++] = DBS(f->hall);
	p[n++] = DBS(f->rq);
	p[n++] = DBS(f->like);
	p[n++] = DBS(f->like);
	p[n++] = DBS(f->like);
	return n;
}

/* The transferred-out list's rows (INBOX_OUT). */
static int
out_rows(const struct staff_req *s, const struct inbox_filter *f, const struct inbox_key *key,
    int back, long long limit, struct dbrows *rows)
{
	struct dbparam p[40];
	size_t n = 0;

	p[n++] = DBS(s->u.county);
	p[n++] = DBS(s->u.county);
	p[n++] = DBS(f->kind);
	p[n++] = DBS(f->kind);
	p[n++] = DBS(f->channel);
	p[n++] = DBS(f->channel);
	p[n++] = DBS(f->status);
	p[n++] = DBS(f->status);
	p[n++] = DBS(f->status);
	p[n++] = DBI(f->closed);
	p[n++] = DBS(f->hall);
	p[n++] = DBS(f->hall);
	p[n++] = DBS(f->hall);
	p[n++] = DBI(f->warning);
	p[n++] = DBI(f->overdue);
	p[n++] = DBS(f->q);
	p[n++] = DBS(f->like);
	p[n++] = DBS(f->like);
	p[n++] = DBS(f->like);
	if (key != NULL) {
		n += key_params(p + n, key);
		p[n++] = DBI(limit);
	}
	return key == NULL ? db_select(out_count_sql, p, n, rows, 1) :
	    db_select(back ? out_before_sql : out_after_sql, p, n, rows, (size_t)limit);
}

/* At most limit rows of the search's FULLTEXT candidates (at most cands of them) after key
 * (before it, back), in the inbox's order; timed: within INBOX_FT_TIMED. */
static int
ft_rows(const struct staff_req *s, const struct inbox_filter *f, const struct inbox_key *key,
    int back, long long limit, long long cands, int timed, struct dbrows *rows)
{
	struct dbparam p[40];
	size_t n = 0;

	p[n++] = DBS(f->match);
	p[n++] = DBI(cands);
	p[n++] = DBS(s->u.county);
	n += cond_params(p + n, f);
	n += key_params(p + n, key);
	n += residue_params(p + n, f);
	p[n++] = DBI(limit);
	return db_select(back ? ft_before_sql[timed] : ft_after_sql[timed], p, n, rows,
	    (size_t)limit);
}

/* At most limit rows of the filter's list after key (or before it, when back is 1, in the
 * reverse order), of the first `bound` rows its driver reads; an unset key: from the start
 * (or the end). */
static int
inbox_rows(const struct staff_req *s, const struct inbox_filter *f,
    const struct inbox_key *key, int back, long long limit, long long bound,
    struct dbrows *rows)
{
	struct dbparam p[48];
	size_t n;

	if (f->out)
		return out_rows(s, f, key, back, limit, rows);
	n = scans_params(p, s, f, key, bound);
	n += residue_params(p + n, f);
	p[n++] = DBI(limit);
	return db_select(back ? page_before_sql[f->drv] : page_after_sql[f->drv], p, n, rows,
	    (size_t)limit);
}

/* Where a scan of `bound` rows after key (before it, back) stopped: *front set, or unset
 * when the scan read every row there was. The hall's two scans: the nearer of the two. */
static int
inbox_front(const struct staff_req *s, const struct inbox_filter *f,
    const struct inbox_key *key, int back, long long bound, struct inbox_key *front)
{
	const char *const *sql = back ? front_before_sql : front_after_sql;
	int idx[2] = {f->drv, DRV__N}, i;

	memset(front, 0, sizeof(*front));
	for (i = 0; i < (f->drv == DRV_HALL ? 2 : 1); i++) {
		struct dbparam p[16];
		struct dbrows r;
		struct inbox_key k;
		size_t n = scan_params(p, s, f, f->drv != DRV_BASE, key, bound - 1);

		if (db_select(sql[idx[i]], p, n, &r, 1) == -1)
			return -1;
		if (r.nrows == 1) {
			key_set(&k, db_int(&r, 0, F_CLOSED), db_str(&r, 0, F_DUEKEY),
			    db_str(&r, 0, F_NO));
			if (!front->set || (back ? key_cmp(&k, front) > 0 : key_cmp(&k, front) < 0))
				*front = k;
		}
		dbrows_free(&r);
	}
	return 0;
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
 * "before"): that key, and the page number to show there.
 */
static void
filter_href(struct buf *b, const char *path, const struct inbox_filter *f, const char *name,
    const struct inbox_key *key, long page)
{
	struct buf q;

	buf_init(&q, 4096);
	buf_adds(&q, path);
	buf_addc(&q, '?');
	filter_query(&q, f);
	if (name != NULL) {
		buf_printf(&q, "&%s=", name);
		key_text(&q, key);
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

/* A count as the page shows it: the number; "1000+" past the cap; "n+" when the rows read
 * stopped before the list's end (at least n). */
static void
count_text(struct buf *b, long long n, int exact)
{
	if (n > INBOX_COUNT_CAP)
		buf_printf(b, "%d+", INBOX_COUNT_CAP);
	else
		buf_printf(b, exact ? "%lld" : "%lld+", n);
}

/* The counts the page shows. */
struct inbox_counts {
	long long total, overdue, warning;
	int total_exact, overdue_exact, warning_exact;
};

/*
 * The counts: of the first rows the driver reads (INBOX_COUNT_CAP + 1 when the index alone
 * answers, INBOX_SCAN_CAP when the rows must be checked). A search that finds fewer than a
 * page in those asks FULLTEXT instead, and its pages too (f->use_ft).
 */
static int
inbox_counts(const struct staff_req *s, struct inbox_filter *f, struct inbox_counts *n)
{
	static const struct inbox_key none;
	long long bound = f->residue ? INBOX_COUNT_SCAN : INBOX_COUNT_CAP + 1, read, ro, row;
	struct dbparam p[64];
	struct dbrows r;
	size_t k, i, rarest = 8;
	long long least = INBOX_GRAM_COMMON;
	int capped;
	char pick[9] = "";

	memset(n, 0, sizeof(*n));
	if (f->out) {
		if (out_rows(s, f, NULL, 0, 0, &r) == -1)
			return -1;
	} else {
		/* the tokens and the residue are in the select lists, before the scans */
		k = 0;
		for (i = 0; *f->rq != '\0' && i < 8; i++)
			p[k++] = DBS(f->gram[i]);
		if (f->residue)
			k += residue_params(p + k, f);
		k += scans_params(p + k, s, f, &none, bound);
		if (db_select(*f->rq != '\0' ? count_q_sql[f->drv] : f->residue ?
			count_sql[f->drv] : count_idx_sql[f->drv], p, k, &r, 1) == -1)
			return -1;
	}
	read = db_int(&r, 0, N_READ);
	n->total = db_int(&r, 0, N_MATCH);
	n->overdue = db_int(&r, 0, N_OVERDUE);
	n->warning = db_int(&r, 0, N_WARNING);
	ro = db_int(&r, 0, N_READ_O);
	row = db_int(&r, 0, N_READ_OW);
	capped = !f->out && read >= bound;
	/* the rarest token, when it is rare enough (one list read; the LIKE checks the rest) */
	for (i = 0; *f->rq != '\0' && !f->out && i < 8 && *f->gram[i] != '\0'; i++) {
		pick[i] = '0';
		if (db_int(&r, 0, N_GRAM + i) < least) {
			least = db_int(&r, 0, N_GRAM + i);
			rarest = i;
		}
	}
	pick[i] = '\0';
	if (rarest < i)
		pick[rarest] = '1';
	dbrows_free(&r);
	/* overdue rows come first in the order, then the warned: a read row past them says
	 * that all of them were read */
	n->total_exact = !capped;
	n->overdue_exact = !capped || ro < read;
	n->warning_exact = !capped || row < read;
	if (f->out || *f->rq == '\0' || !capped)
		return 0;
	/* FULLTEXT, when it is asked, only for the tokens rare in the rows read; none: the
	 * walk alone */
	if (strchr(pick, '1') == NULL) {
		f->slow = 1;
		return 0;
	}
	if (search_pick(f, pick) == -1)
		return -1;
	/* a search found too rarely in those: FULLTEXT, whose page gives the counts */
	f->use_ft = n->total <= STAFF_PAGE_SIZE;
	return 0;
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

/* What a page found, and where the links lead. */
struct inbox_pager {
	size_t shown;
	int more_next, more_prev;
	struct inbox_key next, prev;	/* the links' keys (prev unset: the list's start) */
	int stopped;		/* the scan stopped before a page was full: a link on */
};

/* A page of FULLTEXT's candidates, within its time; 1: it took too long (nothing read). */
static int
ft_page(const struct staff_req *s, struct inbox_filter *f, const struct inbox_key *key,
    int back, struct dbrows *rows)
{
	if (ft_rows(s, f, key, back, STAFF_PAGE_SIZE + 1, INBOX_CAND_CAP, 1, rows) == -1)
		return FT_TIMED_OUT(db_select_error()) ? 1 : -1;
	f->many = rows->nrows > 0 && db_int(rows, 0, I_CAND) > INBOX_CAND_CAP;
	return 0;
}

/*
 * limit rows after key (before it, back): a scan of the driver, INBOX_SCAN_CAP rows at most
 * when rows must be checked; a search it finds too rarely: FULLTEXT, unless that takes
 * too long. *stop: set to where a scan stopped short of limit rows.
 */
static int
page_read(const struct staff_req *s, struct inbox_filter *f, const struct inbox_key *key,
    int back, struct dbrows *rows, struct inbox_key *stop)
{
	long long limit = STAFF_PAGE_SIZE + 1;
	struct dbrows ft;
	int rc;

	memset(stop, 0, sizeof(*stop));
	if (f->use_ft) {
		if ((rc = ft_page(s, f, key, back, rows)) != 1)
			return rc;
		f->use_ft = 0;
		f->slow = 1;
	}
	if (inbox_rows(s, f, key, back, limit, f->residue ? INBOX_SCAN_CAP : limit, rows) == -1)
		return -1;
	if (f->out || !f->residue || rows->nrows >= (size_t)limit)
		return 0;
	if (inbox_front(s, f, key, back, INBOX_SCAN_CAP, stop) == -1) {
		dbrows_free(rows);
		return -1;
	}
	if (!stop->set || *f->rq == '\0' || f->slow || *f->match == '\0')
		return 0;
	/* a search: the rest from FULLTEXT, or what the walk found when that is too slow */
	if ((rc = ft_page(s, f, key, back, &ft)) == 1) {
		f->slow = 1;
		return 0;
	}
	dbrows_free(rows);
	if (rc == -1)
		return -1;
	*rows = ft;
	memset(stop, 0, sizeof(*stop));
	f->use_ft = 1;
	return 0;
}

/*
 * The page's rows: after f->after (the first page without one), or the page before
 * f->before, read backwards and turned round.
 */
static int
inbox_page_rows(const struct staff_req *s, struct inbox_filter *f, struct dbrows *rows,
    struct inbox_pager *pg)
{
	struct inbox_key stop;
	size_t i, n;
	int back = f->before.set;

	memset(pg, 0, sizeof(*pg));
	if (page_read(s, f, back ? &f->before : &f->after, back, rows, &stop) == -1)
		return -1;
	n = rows->nrows > STAFF_PAGE_SIZE ? STAFF_PAGE_SIZE : rows->nrows;
	if (back) {
		for (i = 0; i < n / 2; i++)
			rows_swap(rows, i, n - 1 - i);
		pg->more_next = 1;
		if (n > 0)
			key_of_row(&pg->next, rows, n - 1);
		else
			pg->next = f->before;
		pg->more_prev = rows->nrows > STAFF_PAGE_SIZE || stop.set;
		if (stop.set)
			pg->prev = stop;
		else if (n > 0)
			key_of_row(&pg->prev, rows, 0);
		if (!pg->more_prev)
			f->page = 1;	/* the list's start, whatever the link said */
	} else {
		pg->more_prev = f->after.set;
		if (n > 0)
			key_of_row(&pg->prev, rows, 0);
		else
			pg->prev = f->after;
		pg->more_next = rows->nrows > STAFF_PAGE_SIZE || stop.set;
		if (stop.set)
			pg->next = stop;
		else if (n > 0)
			key_of_row(&pg->next, rows, n - 1);
	}
	pg->stopped = stop.set;
	pg->shown = n;
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
	struct inbox_counts cnt;
	struct inbox_pager pg;
	struct dbrows rows;
	struct buf b;
	size_t i;

	if (inbox_filter(s, &f) == -1)
		return;
	if (inbox_counts(s, &f, &cnt) == -1 || inbox_page_rows(s, &f, &rows, &pg) == -1) {
		filter_free(&f);
		spage_unavailable(s);
		return;
	}
	if (f.use_ft && !f.after.set && !f.before.set) {
		/* the first page of FULLTEXT's: the counts of all it found */
		cnt.total = pg.shown > 0 ? db_int(&rows, 0, I_FT_N) : 0;
		cnt.overdue = pg.shown > 0 ? db_int(&rows, 0, I_FT_O) : 0;
		cnt.warning = pg.shown > 0 ? db_int(&rows, 0, I_FT_W) : 0;
		cnt.total_exact = cnt.overdue_exact = cnt.warning_exact = !f.many;
	}
	spage_begin(&b, s, "办件");
	buf_adds(&b, f.out ? "<h1>已转出外县的办件</h1><p class=\"notice\">这些办件已转办至其他县"
			     "（市、区），由对方办理；本县只能查看。</p>" : "<h1>办件</h1>");
	buf_adds(&b, "<p>共 <b id=\"total\">");
	count_text(&b, cnt.total, cnt.total_exact);
	buf_adds(&b, "</b> 件，其中已超期 <b id=\"overdue\">");
	count_text(&b, cnt.overdue, cnt.overdue_exact);
	buf_adds(&b, "</b> 件、预警 <b id=\"warning\">");
	count_text(&b, cnt.warning, cnt.warning_exact);
	buf_adds(&b, "</b> 件。 ");
	filter_href(&b, "/inbox.csv", &f, NULL, NULL, 0);
	buf_adds(&b, ">导出 CSV</a></p>");
	if (f.many)
		buf_printf(&b, "<p class=\"notice\" id=\"many\">含有该词的办件较多，这里只查看了其中 %d "
			       "件，请输入更具体的词；导出 CSV 含全部结果。</p>", INBOX_CAND_CAP);
	if (pg.stopped && f.slow)
		buf_printf(&b, "<p class=\"notice\" id=\"stopped\">该词在全县的办件中很常见，"
			       "本页只查看了 %d 件办件：请输入更具体的词，或点击“下一页”继续查找。</p>",
		    INBOX_SCAN_CAP);
	else if (pg.stopped)
		buf_printf(&b, "<p class=\"notice\" id=\"stopped\">符合条件的办件较少：本页只查看了 "
			       "%d 件办件，请点击“下一页”继续查找。</p>", INBOX_SCAN_CAP);
	filters_form(&b, s, &f);
	spage_table(&b, "class=\"inbox\"", cols, NCOLS(cols));
	for (i = 0; i < pg.shown; i++) {
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
	spage_table_end(&b, NCOLS(cols), pg.shown, pg.stopped ? "本页查看的办件中没有符合条件的。" :
	    "没有符合条件的办件。");
	if ((pg.shown > 0 || pg.stopped) && (pg.more_prev || pg.more_next)) {
		buf_adds(&b, "<p class=\"pager\">");
		if (pg.more_prev) {
			/* back to the first page: its plain link, as new cases may have come */
			if (f.page <= 2 && !pg.stopped)
				filter_href(&b, "/", &f, NULL, NULL, 0);
			else
				filter_href(&b, "/", &f, "before", &pg.prev,
				    f.page > 1 ? f.page - 1 : 1);
			buf_adds(&b, " rel=\"prev\">上一页</a>");
		}
		if (cnt.total_exact && cnt.total <= INBOX_COUNT_CAP)
			buf_printf(&b, "<span>第 %ld / %lld 页</span>", f.page,
			    (cnt.total + STAFF_PAGE_SIZE - 1) / STAFF_PAGE_SIZE);
		else
			buf_printf(&b, "<span>第 %ld 页</span>", f.page);
		if (pg.more_next) {
			filter_href(&b, "/", &f, "after", &pg.next, f.page + 1);
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

/* A chunk of the CSV: the rows after key, every one (no scan bound); a search as its
 * counts chose (the walk, or FULLTEXT). */
static int
csv_read(const struct staff_req *s, const struct inbox_filter *f, const struct inbox_key *key,
    struct dbrows *rows)
{
	if (f->use_ft)
		return ft_rows(s, f, key, 0, INBOX_CSV_CHUNK, INBOX_NO_CAP, 0, rows);
	return inbox_rows(s, f, key, 0, INBOX_CSV_CHUNK, INBOX_NO_CAP, rows);
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
	struct inbox_counts cnt;
	struct inbox_key key;
	struct dbrows rows;
	struct buf b;
	int failed = 0;

	if (inbox_filter(s, &f) == -1)
		return;
	memset(&key, 0, sizeof(key));
	if (db_begin() == -1 || inbox_counts(s, &f, &cnt) == -1) {
		db_rollback();
		filter_free(&f);
		spage_unavailable(s);
		return;
	}
	/* a rare word of common tokens: FULLTEXT, whole, rather than a walk of the county */
	if (f.slow)
		f.use_ft = 1;
	if (csv_read(s, &f, &key, &rows) == -1) {
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
			key_of_row(&key, &rows, n - 1);
		dbrows_free(&rows);
		if (csv_chunk(s, &b) == -1) {
			failed = 1;	/* the client went away */
			break;
		}
		if (n < INBOX_CSV_CHUNK)
			break;
		if (csv_read(s, &f, &key, &rows) == -1) {
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
