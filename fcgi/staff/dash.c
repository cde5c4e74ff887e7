/*
 * The dashboard: the quality figures of seed 7 for the account's county, as numbers and
 * as server-rendered SVG (no script, no external resource), and the same figures as CSV.
 *
 *   on-time completion rate (按时办结率, target 100%): cases closed (answered, resolved or
 *     rejected) by their deadline, over the cases closed plus those open past it. A case's
 *     closing time is its first closing event from the county.
 *   satisfaction rate (满意率, target >= 95%): ratings of level 3 to 5 over all ratings.
 *   per hall: open, warning and overdue cases; 差评 follow-ups open and late; the hall's
 *     sync health as its agent last reported it (last contact, backlog, agent version).
 *
 * At a county's size (issue 15: 300 halls, a million cases) nothing here reads the cases
 * one by one: the period's figures come from hall_month_stats (sql/county/020, kept by
 * triggers), the open cases (few at any time) and the follow-ups from indexes read alone
 * (sql/county/025, no counter row); and the page draws the problem halls only: the silent
 * ones first (dash_fleet.c), then the worst DASH_WORST, with the table of all halls worst
 * first, DASH_PAGE a page.
 *
 * The period (?period=month|quarter|year|12m and ?at=YYYY-MM; default: the 12 months up to
 * this one) selects cases by the month they were submitted in and ratings by the month
 * they were given; open, warning and overdue counts and follow-ups are as of now. The
 * trend charts show the 12 months ending with the period's last.
 *
 * The cases counted are those the county handles (cases.handler_county), each under the
 * hall that handles it; a case transferred to the county as a whole (no hall) is counted
 * in a row of its own, under the county's code. A case the county transferred on counts
 * where it went, not here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "staff.h"

#define DASH_PAGE 50	/* halls a page of the table */
#define DASH_WORST 20	/* problem halls drawn */
/* the row a case of `cases c` counts in: the hall handling it, else the county's code */
#define DASH_HALL "COALESCE(c.handler_hall, c.handler_county)"

struct hall_fig {
	char code[13];
	char name[201];
	long long total, open, closed, on_time, overdue, warning;
	long long overdue_period;	/* open past their deadline, submitted in the period */
	long long ratings, satisfied;
	long long fu_open, fu_late, fu_closed;
	long long last_contact, backlog;	/* last_contact 0: never */
	long long quarantined;	/* records its agent set aside for the county */
	long long prov_backlog, prov_quarantined, dl_pending, dl_lag, clock_ms;
	int have_prov, have_dl, have_clock;	/* reported by hall_health (county 020) */
	char version[33];
	int have_health, silent;
};

/* The period: months [from, to) as 'YYYY-MM-01', and the trend's 12 months from trend_*. */
struct period {
	char name[8];		/* month, quarter, year, 12m */
	int y, m;		/* the month asked for */
	int trend_y, trend_m;
	char from[24], to[24], trend_from[24];
	char label[64];
};

struct dash {
	struct hall_fig *h;
	size_t n, cap;
	struct hall_fig sum;
	time_t db_now;
	long silent_minutes;
	size_t nsilent;
	struct period per;
	struct {
		long long submitted, closed, on_time, ratings, satisfied;
	} trend[12];
};

/* A hall's row, found or added by code. */
static struct hall_fig *
dash_hall(struct dash *d, const char *code)
{
	struct hall_fig *p;
	size_t i;

	for (i = 0; i < d->n; i++)
		if (strcmp(d->h[i].code, code) == 0)
			return &d->h[i];
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 64;

		if ((p = realloc(d->h, cap * sizeof(*p))) == NULL)
			return NULL;
		d->h = p;
		d->cap = cap;
	}
	p = &d->h[d->n++];
	memset(p, 0, sizeof(*p));
	snprintf(p->code, sizeof(p->code), "%s", code);
	/* a county's code stands for its cases handled with no hall named */
	snprintf(p->name, sizeof(p->name), "%s", strlen(code) == 6 ? "县级（转入，未指定大厅）" : code);
	return p;
}

#define FIG_HALL 0	/* every statement's first column: the hall */

#define HALLS_SQL "SELECT hall_code, name, UNIX_TIMESTAMP(last_contact_at), backlog, " \
	"agent_version, quarantined, province_backlog, province_quarantined, " \
	"downlink_pending, downlink_lag_s, clock_offset_ms FROM halls WHERE county_code = ? " \
	"ORDER BY hall_code"
enum { HL_HALL, HL_NAME, HL_CONTACT, HL_BACKLOG, HL_VERSION, HL_QUARANTINED, HL_PBACKLOG,
	HL_PQUARANTINED, HL_DLPENDING, HL_DLLAG, HL_CLOCK, HL__N };

static void
fill_halls(struct hall_fig *h, const struct dbrows *r, size_t i)
{
	snprintf(h->name, sizeof(h->name), "%s", db_str(r, i, HL_NAME));
	h->last_contact = db_int(r, i, HL_CONTACT);
	h->backlog = db_int(r, i, HL_BACKLOG);
	h->quarantined = db_int(r, i, HL_QUARANTINED);
	h->have_prov = db_val(r, i, HL_PBACKLOG) != NULL;
	h->prov_backlog = db_int(r, i, HL_PBACKLOG);
	h->prov_quarantined = db_int(r, i, HL_PQUARANTINED);
	h->have_dl = db_val(r, i, HL_DLPENDING) != NULL;
	h->dl_pending = db_int(r, i, HL_DLPENDING);
	h->dl_lag = db_int(r, i, HL_DLLAG);
	h->have_clock = db_val(r, i, HL_CLOCK) != NULL;
	h->clock_ms = db_int(r, i, HL_CLOCK);
	snprintf(h->version, sizeof(h->version), "%s", db_str(r, i, HL_VERSION));
	h->have_health = 1;
}

/* The period's figures per hall. Parameters: the county, the months [from, to). */
#define STATS_SQL "SELECT hall_key, SUM(submitted), SUM(closed), SUM(on_time), " \
	"SUM(ratings), SUM(satisfied) FROM hall_month_stats WHERE county_code = ? " \
	"AND month >= ? AND month < ? GROUP BY hall_key"
enum { ST_HALL, ST_SUBMITTED, ST_CLOSED, ST_ON_TIME, ST_RATINGS, ST_SATISFIED, ST__N };

static void
fill_stats(struct hall_fig *h, const struct dbrows *r, size_t i)
{
	h->total = db_int(r, i, ST_SUBMITTED);
	h->closed = db_int(r, i, ST_CLOSED);
	h->on_time = db_int(r, i, ST_ON_TIME);
	h->ratings = db_int(r, i, ST_RATINGS);
	h->satisfied = db_int(r, i, ST_SATISFIED);
}

/*
 * The open cases as of now, from the index cases_dash_open (sql/county/025) alone: only
 * the open cases' entries are read, never a closed case; those past their deadline that
 * were submitted in the period count against its on-time rate. Every row is open, so
 * overdue and warning are the deadline's alone (OVERDUE_SQL, WARNING_SQL less the status).
 * Parameters: the period's [from, to), the county.
 */
#define OPEN_SQL "SELECT " DASH_HALL ", count(*), SUM(c.due_at < NOW()), " \
	"SUM(c.due_at >= NOW() AND DATE(c.due_at) = CURDATE()), " \
	"SUM(c.due_at < NOW() AND c.submitted_at >= ? AND c.submitted_at < ?) " \
	"FROM cases c FORCE INDEX (cases_dash_open) WHERE c.handler_county = ? AND c.closed = 0 " \
	"GROUP BY c.handler_hall"
enum { OP_HALL, OP_OPEN, OP_OVERDUE, OP_WARNING, OP_OVERDUE_PERIOD, OP__N };

static void
fill_open(struct hall_fig *h, const struct dbrows *r, size_t i)
{
	h->open = db_int(r, i, OP_OPEN);
	h->overdue = db_int(r, i, OP_OVERDUE);
	h->warning = db_int(r, i, OP_WARNING);
	h->overdue_period = db_int(r, i, OP_OVERDUE_PERIOD);
}

/*
 * 差评 follow-ups as of now, per the hall each counts under (its case's, moved on a
 * transfer: sql/county/025), from ranges of the index rating_followups_dash alone: the
 * open ones (few), and the closed ones (a few per cent of the ratings, deleted with their
 * cases by the retention job, so a few thousand entries). No counter row: two staff
 * closing follow-ups of one hall never wait for each other. Parameter: the county.
 */
#define FU_OPEN_SQL "SELECT f.stat_hall, count(*), SUM(f.due_at < NOW()) " \
	"FROM rating_followups f FORCE INDEX (rating_followups_dash) " \
	"WHERE f.stat_county = ? AND f.closed_at IS NULL GROUP BY f.stat_hall"
enum { FO_HALL, FO_OPEN, FO_LATE, FO__N };
/* closed in the period: a range of the index however many were closed before it */
#define FU_CLOSED_SQL "SELECT f.stat_hall, count(*) FROM rating_followups f " \
	"FORCE INDEX (rating_followups_dash) WHERE f.stat_county = ? " \
	"AND f.closed_at >= ? AND f.closed_at < ? GROUP BY f.stat_hall"
enum { FC_HALL, FC_CLOSED, FC__N };

static void
fill_fu_open(struct hall_fig *h, const struct dbrows *r, size_t i)
{
	h->fu_open = db_int(r, i, FO_OPEN);
	h->fu_late = db_int(r, i, FO_LATE);
}

static void
fill_fu_closed(struct hall_fig *h, const struct dbrows *r, size_t i)
{
	h->fu_closed = db_int(r, i, FC_CLOSED);
}

/* The county's trend: per month, from the trend's first month to the period's end. */
#define TREND_SQL "SELECT DATE_FORMAT(month, '%Y-%m'), SUM(submitted), SUM(closed), " \
	"SUM(on_time), SUM(ratings), SUM(satisfied) FROM hall_month_stats " \
	"WHERE county_code = ? AND month >= ? AND month < ? GROUP BY month"
enum { TR_MONTH, TR_SUBMITTED, TR_CLOSED, TR_ON_TIME, TR_RATINGS, TR_SATISFIED, TR__N };

/* Runs one figure statement and fills each hall's row from it. */
static int
dash_fill(struct dash *d, const char *sql, const struct dbparam *p, size_t np,
    void (*fill)(struct hall_fig *, const struct dbrows *, size_t))
{
	struct dbrows r;
	size_t i;

	if (db_select(sql, p, np, &r, 100000) == -1)
		return -1;
	for (i = 0; i < r.nrows; i++) {
		struct hall_fig *h = dash_hall(d, db_str(&r, i, FIG_HALL));

		if (h == NULL)
			break;
		fill(h, &r, i);
	}
	dbrows_free(&r);
	return 0;
}

/* Month arithmetic on (year, month 1-12). */
static void
month_add(int *y, int *m, int n)
{
	int k = *y * 12 + (*m - 1) + n;

	*y = k / 12;
	*m = k % 12 + 1;
}

/* Reads ?period and ?at into d->per; now: the database's time, for the defaults. */
static void
dash_period(struct staff_req *s, struct period *per, time_t now)
{
	static const char *const names[] = {"month", "quarter", "year", "12m"};
	const char *name = spage_in(s, "period"), *at = spage_in(s, "at");
	struct tm tm;
	time_t local = now + 8 * 3600;	/* Asia/Shanghai, the county's day */
	int y, m, fy, fm, len, ty, tm_;
	size_t i;

	gmtime_r(&local, &tm);
	y = tm.tm_year + 1900;
	m = tm.tm_mon + 1;
	if (strlen(at) == 7 && at[4] == '-' && strspn(at, "0123456789-") == 7) {
		int ay = atoi(at), am = atoi(at + 5);

		if (ay >= 2000 && ay <= 2100 && am >= 1 && am <= 12)
			y = ay, m = am;
	}
	snprintf(per->name, sizeof(per->name), "12m");
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(name, names[i]) == 0)
			snprintf(per->name, sizeof(per->name), "%s", names[i]);
	per->y = y, per->m = m;
	fy = y, fm = m;
	if (strcmp(per->name, "month") == 0) {
		len = 1;
		snprintf(per->label, sizeof(per->label), "%d 年 %d 月", y, m);
	} else if (strcmp(per->name, "quarter") == 0) {
		fm = (m - 1) / 3 * 3 + 1;
		len = 3;
		snprintf(per->label, sizeof(per->label), "%d 年第 %d 季度", y, (m - 1) / 3 + 1);
	} else if (strcmp(per->name, "year") == 0) {
		fm = 1;
		len = 12;
		snprintf(per->label, sizeof(per->label), "%d 年", y);
	} else {
		month_add(&fy, &fm, -11);
		len = 12;
		snprintf(per->label, sizeof(per->label), "截至 %d 年 %d 月的 12 个月", y, m);
	}
	snprintf(per->from, sizeof(per->from), "%04d-%02d-01", fy, fm);
	ty = fy, tm_ = fm;
	month_add(&ty, &tm_, len);
	snprintf(per->to, sizeof(per->to), "%04d-%02d-01", ty, tm_);
	month_add(&ty, &tm_, -12);
	snprintf(per->trend_from, sizeof(per->trend_from), "%04d-%02d-01", ty, tm_);
	per->trend_y = ty, per->trend_m = tm_;
}

/* The county's setting silent_after_minutes (its own, else the plain one; default 60). */
static long
dash_silent_minutes(const char *county)
{
	struct dbparam p[1] = {DBS(county)};
	struct dbrows r;
	long v = 60;

	if (db_select("SELECT value FROM county_settings WHERE name = 'silent_after_minutes' "
		      "OR name = CONCAT('silent_after_minutes:', ?) ORDER BY name DESC LIMIT 1",
		p, 1, &r, 1) == -1)
		return -1;
	if (r.nrows == 1 && atol(db_str(&r, 0, 0)) > 0)
		v = atol(db_str(&r, 0, 0));
	dbrows_free(&r);
	return v;
}

/* Permille (so that figures stay integers until they are printed), or -1 with no data. */
static long
on_time_pm(const struct hall_fig *h)
{
	long long den = h->closed + h->overdue_period;

	return den > 0 ? (long)(h->on_time * 1000 / den) : -1;
}

static long
satisfied_pm(const struct hall_fig *h)
{
	return h->ratings > 0 ? (long)(h->satisfied * 1000 / h->ratings) : -1;
}

/*
 * Worst first: silent halls (longest silent first), then the lowest on-time rate, the
 * lowest satisfaction (no figure counts as full marks), the most overdue, by code.
 */
static int
worst_first(const void *pa, const void *pb)
{
	const struct hall_fig *a = pa, *b = pb;
	long ta = on_time_pm(a), tb = on_time_pm(b), sa = satisfied_pm(a), sb = satisfied_pm(b);

	if (a->silent != b->silent)
		return b->silent - a->silent;
	if (a->silent && a->last_contact != b->last_contact)
		return a->last_contact < b->last_contact ? -1 : 1;
	ta = ta < 0 ? 1000 : ta, tb = tb < 0 ? 1000 : tb;
	sa = sa < 0 ? 1000 : sa, sb = sb < 0 ? 1000 : sb;
	if (ta != tb)
		return ta < tb ? -1 : 1;
	if (sa != sb)
		return sa < sb ? -1 : 1;
	if (a->overdue != b->overdue)
		return a->overdue > b->overdue ? -1 : 1;
	return strcmp(a->code, b->code);
}

/* The county's figures into d (d->h is the caller's to free); -1, with nothing to free. */
static int
dash_load(struct staff_req *s, struct dash *d)
{
	enum { NOW_TIME, NOW__N };
	struct period *per = &d->per;
	struct dbparam pc[1] = {DBS(s->u.county)};
	struct dbparam pp[3] = {DBS(s->u.county), DBS(per->from), DBS(per->to)};
	struct dbparam po[3] = {DBS(per->from), DBS(per->to), DBS(s->u.county)};
	struct dbparam pt[3] = {DBS(s->u.county), DBS(per->trend_from), DBS(per->to)};
	struct dbrows r;
	size_t i;

	memset(d, 0, sizeof(*d));
	if (db_select("SELECT UNIX_TIMESTAMP(NOW())", NULL, 0, &r, 1) == -1)
		return -1;
	d->db_now = (time_t)db_int(&r, 0, NOW_TIME);
	dbrows_free(&r);
	if (strlen(s->r.query) > 1024 ||
	    kv_parse_form(s->r.query, strlen(s->r.query), &s->r.in) != PARSE_OK)
		s->r.in.n = 0;	/* a bad query string: the defaults */
	dash_period(s, per, d->db_now);
	if ((d->silent_minutes = dash_silent_minutes(s->u.county)) == -1)
		return -1;
	/* the halls first, so that a hall with no case yet still has its row */
	if (dash_fill(d, HALLS_SQL, pc, 1, fill_halls) == -1 ||
	    dash_fill(d, STATS_SQL, pp, 3, fill_stats) == -1 ||
	    dash_fill(d, OPEN_SQL, po, 3, fill_open) == -1 ||
	    dash_fill(d, FU_OPEN_SQL, pc, 1, fill_fu_open) == -1 ||
	    dash_fill(d, FU_CLOSED_SQL, pp, 3, fill_fu_closed) == -1)
		goto fail;
	if (db_select(TREND_SQL, pt, 3, &r, 12) == -1)
		goto fail;
	for (i = 0; i < r.nrows; i++) {
		const char *mon = db_str(&r, i, TR_MONTH);
		int k = (atoi(mon) * 12 + atoi(mon + 5) - 1) - (per->trend_y * 12 + per->trend_m - 1);

		if (strlen(mon) != 7 || k < 0 || k >= 12)
			continue;
		d->trend[k].submitted = db_int(&r, i, TR_SUBMITTED);
		d->trend[k].closed = db_int(&r, i, TR_CLOSED);
		d->trend[k].on_time = db_int(&r, i, TR_ON_TIME);
		d->trend[k].ratings = db_int(&r, i, TR_RATINGS);
		d->trend[k].satisfied = db_int(&r, i, TR_SATISFIED);
	}
	dbrows_free(&r);
	for (i = 0; i < d->n; i++) {
		struct hall_fig *h = &d->h[i];

		h->silent = h->have_health && (h->last_contact == 0 ||
		    d->db_now - h->last_contact > d->silent_minutes * 60);
		d->nsilent += h->silent;
		d->sum.total += h->total;
		d->sum.open += h->open;
		d->sum.closed += h->closed;
		d->sum.on_time += h->on_time;
		d->sum.overdue += h->overdue;
		d->sum.overdue_period += h->overdue_period;
		d->sum.warning += h->warning;
		d->sum.ratings += h->ratings;
		d->sum.satisfied += h->satisfied;
		d->sum.fu_open += h->fu_open;
		d->sum.fu_late += h->fu_late;
		d->sum.fu_closed += h->fu_closed;
		d->sum.backlog += h->backlog;
		d->sum.quarantined += h->quarantined;
	}
	qsort(d->h, d->n, sizeof(*d->h), worst_first);
	return 0;
fail:
	free(d->h);
	return -1;
}

/* Permille (so that figures stay integers until they are printed), or -1 with no data. */
static void
pm_text(char out[16], long pm)
{
	if (pm < 0 || pm > 1000)
		snprintf(out, 16, "—");
	else
		snprintf(out, 16, "%d.%d%%", (int)(pm / 10), (int)(pm % 10));
}

/* ---- SVG ------------------------------------------------------------------------- */

/* A rate as a bar from 0 to 100% with its target marked. */
static void
svg_rate(struct buf *b, const char *id, const char *label, long pm, int target_pct)
{
	char text[16];
	int w = pm < 0 ? 0 : (int)(pm * 400 / 1000);
	int tx = 150 + target_pct * 4;
	int good = pm >= target_pct * 10;

	pm_text(text, pm);
	buf_printf(b, "<svg id=\"%s\" role=\"img\" viewBox=\"0 0 620 56\" width=\"620\" "
		      "height=\"56\" xmlns=\"http://www.w3.org/2000/svg\"><title>",
	    id);
	SH(b, label);
	buf_adds(b, " ");
	SH(b, text);
	buf_printf(b, "</title><text x=\"0\" y=\"30\" font-size=\"15\">");
	SH(b, label);
	buf_printf(b, "</text><rect x=\"150\" y=\"14\" width=\"400\" height=\"24\" fill=\"#eceff1\"/>"
		      "<rect x=\"150\" y=\"14\" width=\"%d\" height=\"24\" fill=\"%s\"/>"
		      "<line x1=\"%d\" y1=\"6\" x2=\"%d\" y2=\"46\" stroke=\"#1d2129\" "
		      "stroke-width=\"2\" stroke-dasharray=\"4 3\"/>"
		      "<text x=\"%d\" y=\"54\" font-size=\"11\" text-anchor=\"middle\">目标 %d%%</text>"
		      "<text x=\"558\" y=\"31\" font-size=\"15\" font-weight=\"bold\">",
	    w, pm < 0 ? "#eceff1" : good ? "#2e7d32" : "#c62828", tx, tx, tx > 560 ? 560 : tx,
	    target_pct);
	SH(b, text);
	buf_adds(b, "</text></svg>");
}

/* The halls drawn: the worst DASH_WORST that are not silent and have a problem. */
static size_t
dash_worst(const struct dash *d, const struct hall_fig **out)
{
	size_t i, n = 0;

	for (i = 0; i < d->n && n < DASH_WORST; i++) {
		const struct hall_fig *h = &d->h[i];
		long t = on_time_pm(h), sat = satisfied_pm(h);

		if (h->silent)
			continue;
		if ((t >= 0 && t < 1000) || (sat >= 0 && sat < 950) || h->overdue > 0 ||
		    h->warning > 0 || h->quarantined > 0)
			out[n++] = h;
	}
	return n;
}

/* A hall's name cut for a chart (the table has it whole). */
static void
short_name(struct buf *b, const char *full)
{
	char name[64];
	size_t n = 0, k = 0;

	while (full[n] != '\0' && k < 14) {
		n++;
		while ((full[n] & 0xc0) == 0x80)
			n++;
		k++;
	}
	snprintf(name, sizeof(name), "%.*s%s", (int)n, full, full[n] != '\0' ? "…" : "");
	SH(b, name);
}

/* Overdue and warning cases of the problem halls: two bars a hall. */
static void
svg_due(struct buf *b, const struct hall_fig *const *w, size_t n)
{
	long long max = 1;
	size_t i;
	int y, height = 30 + (int)n * 30;

	for (i = 0; i < n; i++) {
		if (w[i]->overdue > max)
			max = w[i]->overdue;
		if (w[i]->warning > max)
			max = w[i]->warning;
	}
	buf_printf(b, "<svg id=\"chart-due\" role=\"img\" viewBox=\"0 0 620 %d\" width=\"620\" "
		      "height=\"%d\" xmlns=\"http://www.w3.org/2000/svg\"><title>问题大厅超期与预警办件数"
		      "</title><rect x=\"200\" y=\"4\" width=\"12\" height=\"12\" fill=\"#c62828\"/>"
		      "<text x=\"216\" y=\"15\" font-size=\"12\">已超期</text>"
		      "<rect x=\"280\" y=\"4\" width=\"12\" height=\"12\" fill=\"#ef8f00\"/>"
		      "<text x=\"296\" y=\"15\" font-size=\"12\">预警</text>",
	    height, height);
	for (i = 0, y = 30; i < n; i++, y += 30) {
		const struct hall_fig *h = w[i];
		int wo = (int)(h->overdue * 340 / max), ww = (int)(h->warning * 340 / max);
		char t[16], sat[16];

		pm_text(t, on_time_pm(h));
		pm_text(sat, satisfied_pm(h));
		buf_printf(b, "<text x=\"0\" y=\"%d\" font-size=\"12\">", y + 12);
		short_name(b, h->name);
		buf_printf(b, "<tspan x=\"0\" dy=\"13\" font-size=\"10\">按时 %s 满意 %s</tspan></text>"
			      "<rect x=\"200\" y=\"%d\" width=\"%d\" height=\"11\" fill=\"#c62828\"/>"
			      "<text x=\"%d\" y=\"%d\" font-size=\"10\">%lld</text>"
			      "<rect x=\"200\" y=\"%d\" width=\"%d\" height=\"11\" fill=\"#ef8f00\"/>"
			      "<text x=\"%d\" y=\"%d\" font-size=\"10\">%lld</text>",
		    t, sat, y + 2, wo, 204 + wo, y + 11, h->overdue, y + 14, ww, 204 + ww, y + 24,
		    h->warning);
	}
	buf_adds(b, "</svg>");
}

/* Backlogs (county and province) of the silent and problem halls. */
static void
svg_sync(struct buf *b, const struct hall_fig *const *w, size_t n, time_t now, long silent_s)
{
	long long max = 1;
	size_t i;
	int y, height = 10 + (int)n * 22;

	for (i = 0; i < n; i++) {
		if (w[i]->backlog > max)
			max = w[i]->backlog;
		if (w[i]->prov_backlog > max)
			max = w[i]->prov_backlog;
	}
	buf_printf(b, "<svg id=\"chart-sync\" role=\"img\" viewBox=\"0 0 620 %d\" width=\"620\" "
		      "height=\"%d\" xmlns=\"http://www.w3.org/2000/svg\"><title>问题大厅同步积压"
		      "</title>",
	    height, height);
	for (i = 0, y = 4; i < n; i++, y += 22) {
		const struct hall_fig *h = w[i];
		int stale = h->last_contact == 0 || now - h->last_contact > silent_s;
		int wc = (int)(h->backlog * 300 / max), wp = (int)(h->prov_backlog * 300 / max);

		buf_printf(b, "<circle cx=\"8\" cy=\"%d\" r=\"6\" fill=\"%s\"/>"
			      "<text x=\"20\" y=\"%d\" font-size=\"12\">",
		    y + 9, stale ? "#c62828" : "#2e7d32", y + 13);
		SH(b, h->code);
		buf_printf(b, "</text><rect x=\"200\" y=\"%d\" width=\"%d\" height=\"8\" "
			      "fill=\"#1565c0\"/><rect x=\"200\" y=\"%d\" width=\"%d\" height=\"8\" "
			      "fill=\"#6a1b9a\"/><text x=\"%d\" y=\"%d\" font-size=\"11\">积压 %lld / "
			      "省 %lld</text>",
		    y + 2, wc < 1 && h->backlog > 0 ? 1 : wc, y + 10,
		    wp < 1 && h->prov_backlog > 0 ? 1 : wp, 206 + (wc > wp ? wc : wp), y + 14,
		    h->backlog, h->prov_backlog);
	}
	buf_adds(b, "</svg>");
}

/* A small chart of one figure over the trend's 12 months: bars, permille or counts. */
static void
svg_trend(struct buf *b, const struct dash *d, const char *id, const char *label, int which)
{
	long long v[12], max = 1;
	int i, y = d->per.trend_y, m = d->per.trend_m;

	for (i = 0; i < 12; i++) {
		long long den = which == 0 ? 1 : which == 1 ?
		    d->trend[i].closed : d->trend[i].ratings;
		long long num = which == 0 ? d->trend[i].submitted : which == 1 ?
		    d->trend[i].on_time : d->trend[i].satisfied;

		v[i] = den > 0 ? (which == 0 ? num : num * 1000 / den) : -1;
		if (which == 0 && v[i] > max)
			max = v[i];
	}
	if (which != 0)
		max = 1000;
	buf_printf(b, "<svg id=\"%s\" class=\"trend\" role=\"img\" viewBox=\"0 0 300 70\" "
		      "width=\"300\" height=\"70\" xmlns=\"http://www.w3.org/2000/svg\"><title>",
	    id);
	SH(b, label);
	buf_adds(b, "</title><text x=\"0\" y=\"10\" font-size=\"11\">");
	SH(b, label);
	buf_adds(b, "</text>");
	for (i = 0; i < 12; i++) {
		int h = v[i] < 0 ? 0 : (int)(v[i] * 44 / max);

		buf_printf(b, "<rect x=\"%d\" y=\"%d\" width=\"20\" height=\"%d\" fill=\"#1565c0\" "
			      "data-month=\"%04d-%02d\" data-value=\"%lld\"/>"
			      "<text x=\"%d\" y=\"68\" font-size=\"8\">%d</text>",
		    i * 24, 58 - h, h, y, m, v[i], i * 24 + 4, m);
		month_add(&y, &m, 1);
	}
	buf_adds(b, "</svg>");
}

static void
ago_text(char out[64], time_t now, long long then)
{
	long long s = now - then;

	if (then == 0)
		snprintf(out, 64, "从未联系");
	else if (s < 120)
		snprintf(out, 64, "%lld 秒前", s < 0 ? 0 : s);
	else if (s < 7200)
		snprintf(out, 64, "%lld 分钟前", s / 60);
	else if (s < 172800)
		snprintf(out, 64, "%lld 小时前", s / 3600);
	else
		snprintf(out, 64, "%lld 天前", s / 86400);
}

/* A cell of a number. */
static void
num_td(struct buf *b, const char *class, long long v)
{
	char n[24];

	snprintf(n, sizeof(n), "%lld", v);
	spage_td(b, class, n);
}

/* A CSV cell of a number (never the last of its row). */
static void
num_cell(struct buf *b, long long v)
{
	char n[24];

	snprintf(n, sizeof(n), "%lld", v);
	csv_cell(b, n, 0);
}

/* The period's form and the links that keep it. */
static void
period_form(struct buf *b, const struct period *per)
{
	static const struct {
		const char *name, *text;
	} opts[] = {{"12m", "近 12 个月"}, {"month", "月"}, {"quarter", "季度"}, {"year", "年"}};
	size_t i;

	buf_adds(b, "<form method=\"get\" action=\"/dashboard\" class=\"filters\">"
		    "<label>统计周期 <select name=\"period\">");
	for (i = 0; i < sizeof(opts) / sizeof(opts[0]); i++)
		buf_printf(b, "<option value=\"%s\"%s>%s</option>", opts[i].name,
		    strcmp(per->name, opts[i].name) == 0 ? " selected" : "", opts[i].text);
	buf_printf(b, "</select></label> <label>所在月份 <input type=\"month\" name=\"at\" "
		      "value=\"%04d-%02d\"></label> <button>查看</button></form>"
		      "<p>统计周期：<b id=\"period\" data-from=\"%s\" data-to=\"%s\">",
	    per->y, per->m, per->from, per->to);
	SH(b, per->label);
	buf_printf(b, "</b> · <a href=\"/dashboard.csv?period=%s&amp;at=%04d-%02d\">导出 CSV</a></p>",
	    per->name, per->y, per->m);
}

/* The halls gone silent, longest first (they sort first): what they last reported. */
static void
silent_table(struct buf *b, const struct dash *d)
{
	static const struct scol cols[] = {
		{"大厅", NULL}, {"最近联系", NULL}, {"积压", "num"}, {"省级积压", "num"},
		{"隔离", "num"}, {"下行滞后", "num"}, {"时钟偏差", "num"}, {"版本", NULL},
	};
	size_t i, shown = 0;
	char ago[64], n[32];

	buf_printf(b, "<h2>失联大厅</h2><p class=\"muted\">超过 <span id=\"silent-minutes\">%ld"
		      "</span> 分钟未与县级联系（设置 silent_after_minutes）：<b id=\"silent-count\">"
		      "%zu</b> 个。</p>",
	    d->silent_minutes, d->nsilent);
	spage_table(b, "id=\"silent\"", cols, NCOLS(cols));
	for (i = 0; i < d->n && d->h[i].silent && shown < DASH_WORST * 2; i++, shown++) {
		const struct hall_fig *h = &d->h[i];

		ago_text(ago, d->db_now, h->last_contact);
		buf_adds(b, "<tr data-silent=\"");
		SH(b, h->code);
		buf_adds(b, "\"><td>");
		SH(b, h->name);
		buf_adds(b, "<div class=\"muted\">");
		SH(b, h->code);
		buf_adds(b, "</div></td>");
		spage_td(b, NULL, ago);
		num_td(b, "num", h->backlog);
		if (h->have_prov)
			num_td(b, "num", h->prov_backlog);
		else
			spage_td(b, "num", "—");
		num_td(b, h->quarantined + h->prov_quarantined > 0 ? "num late" : "num",
		    h->quarantined + h->prov_quarantined);
		if (h->have_dl)
			snprintf(n, sizeof(n), "%lld 条 / %lld 秒", h->dl_pending, h->dl_lag);
		else
			snprintf(n, sizeof(n), "—");
		spage_td(b, "num", n);
		if (h->have_clock)
			snprintf(n, sizeof(n), "%+.1f 秒", (double)h->clock_ms / 1000.0);
		else
			snprintf(n, sizeof(n), "—");
		spage_td(b, "num", n);
		spage_td(b, NULL, h->version);
		buf_adds(b, "</tr>");
	}
	spage_table_end(b, NCOLS(cols), shown, "没有失联的大厅。");
	if (d->nsilent > shown)
		buf_printf(b, "<p class=\"muted\">另有 %zu 个失联大厅见下表与 CSV。</p>",
		    d->nsilent - shown);
}

void
dash_page(struct staff_req *s)
{
	static const struct scol cols[] = {
		{"大厅", NULL}, {"未办结", "num"}, {"预警", "num"}, {"已超期", "num"},
		{"按时办结率", "num"}, {"满意率", "num"}, {"差评待整改", "num"}, {"最近联系", NULL},
		{"积压", "num"}, {"版本", NULL}, {"隔离", "num"},
	};
	const struct hall_fig *w[DASH_WORST * 2];
	struct dash d;
	struct buf b;
	char t1[16], t2[16], ago[64];
	size_t i, nw, ns, first, last, pages;
	long page;

	if (dash_load(s, &d) == -1) {
		spage_unavailable(s);
		return;
	}
	page = strtol(spage_in(s, "page"), NULL, 10);
	pages = d.n == 0 ? 1 : (d.n + DASH_PAGE - 1) / DASH_PAGE;
	if (page < 1 || (size_t)page > pages)
		page = 1;
	spage_begin(&b, s, "质量统计");
	buf_adds(&b, "<h1>质量统计</h1>");
	period_form(&b, &d.per);
	pm_text(t1, on_time_pm(&d.sum));
	pm_text(t2, satisfied_pm(&d.sum));
	buf_printf(&b, "<div class=\"cards\"><div class=\"card\">按时办结率<b id=\"on-time-rate\">%s"
		       "</b><span class=\"muted\">目标 100%%。本周期受理的办件中按期限办结（答复、办结或"
		       "不予受理）的 %lld 件，除以已办结 %lld 件与未办结但已超期 %lld 件之和。</span></div>"
		       "<div class=\"card\">满意率<b id=\"satisfaction-rate\">%s</b>"
		       "<span class=\"muted\">目标 ≥95%%。本周期评价为 3 至 5 级（基本满意、满意、非常满意）"
		       "的 %lld 件，除以全部评价 %lld 件。</span></div>"
		       "<div class=\"card\">已超期 / 预警<b><span id=\"overdue-total\">%lld</span> / "
		       "<span id=\"warning-total\">%lld</span></b><span class=\"muted\">当前未办结办件 "
		       "%lld 件；本周期受理 <span id=\"period-total\">%lld</span> 件</span></div>"
		       "<div class=\"card\">差评待整改<b id=\"followups-open\">%lld</b>"
		       "<span class=\"muted\">其中已超期 <span id=\"followups-late\">%lld</span> 件；"
		       "本周期已整改 <span id=\"followups-closed\">%lld</span> 件（<a href=\"/followups\">"
		       "差评回访</a>）</span></div></div>",
	    t1, d.sum.on_time, d.sum.closed, d.sum.overdue_period, t2, d.sum.satisfied,
	    d.sum.ratings, d.sum.overdue, d.sum.warning, d.sum.open, d.sum.total, d.sum.fu_open,
	    d.sum.fu_late, d.sum.fu_closed);
	buf_adds(&b, "<h2>服务质量</h2>");
	svg_rate(&b, "chart-on-time", "按时办结率", on_time_pm(&d.sum), 100);
	svg_rate(&b, "chart-satisfaction", "满意率", satisfied_pm(&d.sum), 95);
	buf_adds(&b, "<h2>趋势（12 个月）</h2><div class=\"cards\">");
	svg_trend(&b, &d, "trend-cases", "受理办件数", 0);
	svg_trend(&b, &d, "trend-on-time", "按时办结率（‰）", 1);
	svg_trend(&b, &d, "trend-satisfaction", "满意率（‰）", 2);
	buf_adds(&b, "</div>");
	silent_table(&b, &d);
	nw = dash_worst(&d, w);
	buf_printf(&b, "<h2>问题最多的大厅</h2><p class=\"muted\">按时办结率、满意率最低及超期最多的"
		       "前 %d 个大厅（共 %zu 个大厅）。</p>", DASH_WORST, d.n);
	svg_due(&b, w, nw);
	/* the sync chart: the silent halls drawn first, then the problem halls */
	for (i = 0, ns = 0; i < d.n && d.h[i].silent && ns < DASH_WORST; i++)
		ns++;
	{
		const struct hall_fig *sync[DASH_WORST * 2];
		size_t k = 0;

		for (i = 0; i < ns; i++)
			sync[k++] = &d.h[i];
		for (i = 0; i < nw && k < DASH_WORST * 2; i++)
			sync[k++] = w[i];
		buf_printf(&b, "<h2>同步状况</h2><p class=\"muted\">失联与问题大厅的县级积压（蓝）与省级"
			       "积压（紫）；红点：超过 %ld 分钟未联系。</p>", d.silent_minutes);
		svg_sync(&b, sync, k, d.db_now, d.silent_minutes * 60);
	}
	buf_printf(&b, "<h2>全部大厅（问题多的在前）</h2>");
	spage_table(&b, "id=\"halls\"", cols, NCOLS(cols));
	first = (size_t)(page - 1) * DASH_PAGE;
	last = first + DASH_PAGE < d.n ? first + DASH_PAGE : d.n;
	for (i = first; i < last; i++) {
		const struct hall_fig *h = &d.h[i];

		pm_text(t1, on_time_pm(h));
		pm_text(t2, satisfied_pm(h));
		ago_text(ago, d.db_now, h->last_contact);
		buf_adds(&b, "<tr data-hall=\"");
		SH(&b, h->code);
		buf_adds(&b, "\"><td>");
		SH(&b, h->name);
		buf_adds(&b, " <span class=\"muted\">");
		SH(&b, h->code);
		buf_adds(&b, "</span></td>");
		num_td(&b, "num", h->open);
		num_td(&b, "num warn", h->warning);
		num_td(&b, "num late", h->overdue);
		spage_td(&b, "num", t1);
		spage_td(&b, "num", t2);
		num_td(&b, "num", h->fu_open);
		spage_td(&b, h->silent ? "late" : NULL, h->have_health ? ago :
		    strlen(h->code) == 6 ? "—" : "（未登记）");
		num_td(&b, "num", h->backlog);
		spage_td(&b, NULL, h->version);
		num_td(&b, h->quarantined > 0 ? "num late" : "num", h->quarantined);
		buf_adds(&b, "</tr>");
	}
	spage_table_end(&b, NCOLS(cols), last - first, NULL);
	if (pages > 1) {
		buf_printf(&b, "<p class=\"pager\" id=\"halls-pages\">第 %ld / %zu 页", page, pages);
		for (i = 1; i <= pages; i++)
			if ((long)i != page)
				buf_printf(&b, " <a href=\"/dashboard?period=%s&amp;at=%04d-%02d&amp;"
					       "page=%zu\">%zu</a>",
				    d.per.name, d.per.y, d.per.m, i, i);
		buf_adds(&b, "</p>");
	}
	free(d.h);
	if (appointments_section(&b, s) == -1 || notices_section(&b, s) == -1) {
		buf_free(&b);
		spage_unavailable(s);
		return;
	}
	spage_finish(s, 200, &b, NULL);
}

void
dash_csv(struct staff_req *s)
{
	struct dash d;
	struct buf b;
	char t1[16], t2[16], when[32];
	size_t i;

	if (dash_load(s, &d) == -1) {
		spage_unavailable(s);
		return;
	}
	buf_init(&b, 4 * 1024 * 1024);
	buf_adds(&b, "\xef\xbb\xbf大厅编码,大厅,办件总数,未办结,预警,已超期,已办结,按期办结,按时办结率,"
		     "评价数,满意数,满意率,差评待整改,差评整改超期,本周期差评已整改,最近联系,积压,版本,隔离,"
		     "省级积压,省级隔离,下行待确认,下行滞后秒,时钟偏差毫秒,失联\r\n");
	for (i = 0; i <= d.n; i++) {
		const struct hall_fig *h = i < d.n ? &d.h[i] : &d.sum;

		csv_cell(&b, i < d.n ? h->code : s->u.county, 0);
		csv_cell(&b, i < d.n ? h->name : "全县合计", 0);
		num_cell(&b, h->total);
		num_cell(&b, h->open);
		num_cell(&b, h->warning);
		num_cell(&b, h->overdue);
		num_cell(&b, h->closed);
		num_cell(&b, h->on_time);
		pm_text(t1, on_time_pm(h));
		csv_cell(&b, t1, 0);
		num_cell(&b, h->ratings);
		num_cell(&b, h->satisfied);
		pm_text(t2, satisfied_pm(h));
		csv_cell(&b, t2, 0);
		num_cell(&b, h->fu_open);
		num_cell(&b, h->fu_late);
		num_cell(&b, h->fu_closed);
		spage_time(when, (time_t)h->last_contact);
		csv_cell(&b, when, 0);
		num_cell(&b, h->backlog);
		csv_cell(&b, h->version, 0);
		num_cell(&b, h->quarantined);
		num_cell(&b, h->prov_backlog);
		num_cell(&b, h->prov_quarantined);
		num_cell(&b, h->dl_pending);
		num_cell(&b, h->dl_lag);
		num_cell(&b, h->clock_ms);
		csv_cell(&b, i < d.n ? (h->silent ? "1" : "0") : "", 1);
	}
	free(d.h);
	csv_send(s, &b, "quality", "导出内容过多。");
	buf_free(&b);
}
