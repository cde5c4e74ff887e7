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
 * The cases counted are those the county handles (cases.handler_county), each under the
 * hall that handles it; a case transferred to the county as a whole (no hall) is counted
 * in a row of its own, under the county's code. A case the county transferred on counts
 * where it went, not here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "staff.h"

#define STALE_MINUTES 10	/* a hall not heard from for longer is shown as out of touch */
/* the row a case of `cases c` counts in: the hall handling it, else the county's code */
#define DASH_HALL "COALESCE(c.handler_hall, c.handler_county)"

struct hall_fig {
	char code[13];
	char name[201];
	long long total, open, closed, on_time, overdue, warning;
	long long ratings, satisfied;
	long long fu_open, fu_late, fu_closed;
	long long last_contact, backlog;	/* last_contact 0: never */
	long long quarantined;	/* records its agent set aside for the county */
	char version[33];
	int have_health;
};

struct dash {
	struct hall_fig *h;
	size_t n;
	struct hall_fig sum;
	time_t db_now;
};

static struct hall_fig *
dash_hall(struct dash *d, const char *code)
{
	struct hall_fig *p;
	size_t i;

	for (i = 0; i < d->n; i++)
		if (strcmp(d->h[i].code, code) == 0)
			return &d->h[i];
	if ((p = realloc(d->h, (d->n + 1) * sizeof(*p))) == NULL)
		return NULL;
	d->h = p;
	p = &d->h[d->n++];
	memset(p, 0, sizeof(*p));
	snprintf(p->code, sizeof(p->code), "%s", code);
	/* a county's code stands for its cases handled with no hall named */
	snprintf(p->name, sizeof(p->name), "%s", strlen(code) == 6 ? "县级（转入，未指定大厅）" : code);
	return p;
}

/*
 * The figures, a statement a table: each row is one hall's (DASH_HALL: the hall handling
 * the case, else the county's code), whose code comes first, and the statement's fill
 * reads the rest into the hall's figures. One parameter: the county.
 */
#define FIG_HALL 0	/* every statement's first column */

#define HALLS_SQL "SELECT hall_code, name, UNIX_TIMESTAMP(last_contact_at), backlog, " \
	"agent_version, UNIX_TIMESTAMP(NOW()), quarantined FROM halls WHERE county_code = ? " \
	"ORDER BY hall_code"
enum { HL_HALL, HL_NAME, HL_CONTACT, HL_BACKLOG, HL_VERSION, HL_NOW, HL_QUARANTINED, HL__N };

static void
fill_halls(struct hall_fig *h, const struct dbrows *r, size_t i)
{
	snprintf(h->name, sizeof(h->name), "%s", db_str(r, i, HL_NAME));
	h->last_contact = db_int(r, i, HL_CONTACT);
	h->backlog = db_int(r, i, HL_BACKLOG);
	h->quarantined = db_int(r, i, HL_QUARANTINED);
	snprintf(h->version, sizeof(h->version), "%s", db_str(r, i, HL_VERSION));
	h->have_health = 1;
}

#define CASES_SQL "SELECT " DASH_HALL ", count(*), SUM(c.status NOT IN " CLOSED "), " \
	"SUM(c.status IN " CLOSED "), " \
	"SUM(c.status IN " CLOSED " AND (SELECT MIN(e.at) FROM case_events e " \
	"  WHERE e.case_no = c.case_no AND e.origin = 'county' " \
	"  AND e.status IN " CLOSED ") <= c.due_at), " \
	"SUM(" OVERDUE_SQL "), SUM(" WARNING_SQL ") " \
	"FROM cases c WHERE c.handler_county = ? GROUP BY 1"
enum { CS_HALL, CS_TOTAL, CS_OPEN, CS_CLOSED, CS_ON_TIME, CS_OVERDUE, CS_WARNING, CS__N };

static void
fill_cases(struct hall_fig *h, const struct dbrows *r, size_t i)
{
	h->total = db_int(r, i, CS_TOTAL);
	h->open = db_int(r, i, CS_OPEN);
	h->closed = db_int(r, i, CS_CLOSED);
	h->on_time = db_int(r, i, CS_ON_TIME);
	h->overdue = db_int(r, i, CS_OVERDUE);
	h->warning = db_int(r, i, CS_WARNING);
}

#define RATINGS_SQL "SELECT " DASH_HALL ", count(*), SUM(r.level >= 3) FROM ratings r " \
	"JOIN cases c ON c.case_no = r.case_no WHERE c.handler_county = ? GROUP BY 1"
enum { RS_HALL, RS_COUNT, RS_SATISFIED, RS__N };

static void
fill_ratings(struct hall_fig *h, const struct dbrows *r, size_t i)
{
	h->ratings = db_int(r, i, RS_COUNT);
	h->satisfied = db_int(r, i, RS_SATISFIED);
}

#define FOLLOWUPS_SQL "SELECT " DASH_HALL ", SUM(f.closed_at IS NULL), " \
	"SUM(f.closed_at IS NULL AND f.due_at < NOW()), SUM(f.closed_at IS NOT NULL) " \
	"FROM rating_followups f JOIN cases c ON c.case_no = f.case_no " \
	"WHERE c.handler_county = ? GROUP BY 1"
enum { FS_HALL, FS_OPEN, FS_LATE, FS_CLOSED, FS__N };

static void
fill_followups(struct hall_fig *h, const struct dbrows *r, size_t i)
{
	h->fu_open = db_int(r, i, FS_OPEN);
	h->fu_late = db_int(r, i, FS_LATE);
	h->fu_closed = db_int(r, i, FS_CLOSED);
}

/* The halls first, so that a hall with no case yet still has its row. */
static const struct dash_query {
	const char *sql;
	void (*fill)(struct hall_fig *, const struct dbrows *, size_t row);
} dash_queries[] = {
	{HALLS_SQL, fill_halls},
	{CASES_SQL, fill_cases},
	{RATINGS_SQL, fill_ratings},
	{FOLLOWUPS_SQL, fill_followups},
};

/* The county's figures into d (d->h is the caller's to free); -1, with nothing to free. */
static int
dash_load(struct staff_req *s, struct dash *d)
{
	enum { NOW_TIME, NOW__N };
	struct dbparam p[1] = {DBS(s->u.county)};
	struct dbrows r;
	size_t q, i;

	memset(d, 0, sizeof(*d));
	for (q = 0; q < sizeof(dash_queries) / sizeof(dash_queries[0]); q++) {
		if (db_select(dash_queries[q].sql, p, 1, &r, 1000) == -1)
			goto fail;
		for (i = 0; i < r.nrows; i++) {
			struct hall_fig *h = dash_hall(d, db_str(&r, i, FIG_HALL));

			if (h == NULL)
				break;
			dash_queries[q].fill(h, &r, i);
		}
		dbrows_free(&r);
	}
	if (db_select("SELECT UNIX_TIMESTAMP(NOW())", NULL, 0, &r, 1) == -1)
		goto fail;
	d->db_now = (time_t)db_int(&r, 0, NOW_TIME);
	dbrows_free(&r);
	for (i = 0; i < d->n; i++) {
		struct hall_fig *h = &d->h[i];

		d->sum.total += h->total;
		d->sum.open += h->open;
		d->sum.closed += h->closed;
		d->sum.on_time += h->on_time;
		d->sum.overdue += h->overdue;
		d->sum.warning += h->warning;
		d->sum.ratings += h->ratings;
		d->sum.satisfied += h->satisfied;
		d->sum.fu_open += h->fu_open;
		d->sum.fu_late += h->fu_late;
		d->sum.fu_closed += h->fu_closed;
		d->sum.backlog += h->backlog;
		d->sum.quarantined += h->quarantined;
	}
	return 0;
fail:
	free(d->h);
	return -1;
}

/* Permille (so that figures stay integers until they are printed), or -1 with no data. */
static long
on_time_pm(const struct hall_fig *h)
{
	long long den = h->closed + h->overdue;

	return den > 0 ? (long)(h->on_time * 1000 / den) : -1;
}

static long
satisfied_pm(const struct hall_fig *h)
{
	return h->ratings > 0 ? (long)(h->satisfied * 1000 / h->ratings) : -1;
}

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

/* Overdue and warning cases per hall: two bars a hall. */
static void
svg_due(struct buf *b, const struct dash *d)
{
	long long max = 1;
	size_t i;
	int y, height = 30 + (int)d->n * 44;

	for (i = 0; i < d->n; i++) {
		if (d->h[i].overdue > max)
			max = d->h[i].overdue;
		if (d->h[i].warning > max)
			max = d->h[i].warning;
	}
	buf_printf(b, "<svg id=\"chart-due\" role=\"img\" viewBox=\"0 0 620 %d\" width=\"620\" "
		      "height=\"%d\" xmlns=\"http://www.w3.org/2000/svg\"><title>各大厅超期与预警办件数"
		      "</title><rect x=\"200\" y=\"4\" width=\"12\" height=\"12\" fill=\"#c62828\"/>"
		      "<text x=\"216\" y=\"15\" font-size=\"12\">已超期</text>"
		      "<rect x=\"280\" y=\"4\" width=\"12\" height=\"12\" fill=\"#ef8f00\"/>"
		      "<text x=\"296\" y=\"15\" font-size=\"12\">预警</text>",
	    height, height);
	for (i = 0, y = 30; i < d->n; i++, y += 44) {
		const struct hall_fig *h = &d->h[i];
		int wo = (int)(h->overdue * 340 / max), ww = (int)(h->warning * 340 / max);

		buf_printf(b, "<text x=\"0\" y=\"%d\" font-size=\"12\">", y + 22);
		/* a long name is cut for the chart; the table below has it whole */
		{
			char name[64];
			size_t n = 0, k = 0;

			while (h->name[n] != '\0' && k < 14) {
				n++;
				while ((h->name[n] & 0xc0) == 0x80)
					n++;
				k++;
			}
			snprintf(name, sizeof(name), "%.*s%s", (int)n, h->name,
			    h->name[n] != '\0' ? "…" : "");
			SH(b, name);
		}
		buf_printf(b, "</text><rect x=\"200\" y=\"%d\" width=\"%d\" height=\"16\" "
			      "fill=\"#c62828\"/><text x=\"%d\" y=\"%d\" font-size=\"12\">%lld</text>"
			      "<rect x=\"200\" y=\"%d\" width=\"%d\" height=\"16\" fill=\"#ef8f00\"/>"
			      "<text x=\"%d\" y=\"%d\" font-size=\"12\">%lld</text>",
		    y + 4, wo, 204 + wo, y + 17, h->overdue, y + 22, ww, 204 + ww, y + 35,
		    h->warning);
	}
	buf_adds(b, "</svg>");
}

/* Each hall's backlog, coloured by how long ago it was last heard from. */
static void
svg_sync(struct buf *b, const struct dash *d)
{
	long long max = 1;
	size_t i;
	int y, nhalls = 0, height;

	for (i = 0; i < d->n; i++) {
		if (d->h[i].backlog > max)
			max = d->h[i].backlog;
		/* a county's own row (cases transferred to it as a whole) has no agent */
		nhalls += strlen(d->h[i].code) != 6;
	}
	height = 10 + nhalls * 30;
	buf_printf(b, "<svg id=\"chart-sync\" role=\"img\" viewBox=\"0 0 620 %d\" width=\"620\" "
		      "height=\"%d\" xmlns=\"http://www.w3.org/2000/svg\"><title>各大厅同步积压"
		      "</title>",
	    height, height);
	for (i = 0, y = 6; i < d->n; i++) {
		const struct hall_fig *h = &d->h[i];
		int stale = h->last_contact == 0 ||
		    d->db_now - h->last_contact > STALE_MINUTES * 60;
		int w = (int)(h->backlog * 300 / max);

		if (strlen(h->code) == 6)
			continue;
		buf_printf(b, "<circle cx=\"8\" cy=\"%d\" r=\"6\" fill=\"%s\"/>"
			      "<text x=\"20\" y=\"%d\" font-size=\"12\">",
		    y + 11, stale ? "#c62828" : "#2e7d32", y + 15);
		SH(b, h->code);
		buf_printf(b, "</text><rect x=\"200\" y=\"%d\" width=\"%d\" height=\"16\" "
			      "fill=\"#1565c0\"/><text x=\"%d\" y=\"%d\" font-size=\"12\">积压 %lld</text>",
		    y + 3, w < 1 && h->backlog > 0 ? 1 : w, 206 + w, y + 15, h->backlog);
		y += 30;
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

void
dash_page(struct staff_req *s)
{
	static const struct scol cols[] = {
		{"大厅", NULL}, {"未办结", "num"}, {"预警", "num"}, {"已超期", "num"},
		{"按时办结率", "num"}, {"满意率", "num"}, {"差评待整改", "num"}, {"最近联系", NULL},
		{"积压", "num"}, {"版本", NULL}, {"隔离", "num"},
	};
	struct dash d;
	struct buf b;
	char t1[16], t2[16], ago[64];
	size_t i;

	if (dash_load(s, &d) == -1) {
		spage_unavailable(s);
		return;
	}
	spage_begin(&b, s, "质量统计");
	pm_text(t1, on_time_pm(&d.sum));
	pm_text(t2, satisfied_pm(&d.sum));
	buf_printf(&b, "<h1>质量统计</h1><p><a href=\"/dashboard.csv\">导出 CSV</a></p>"
		       "<div class=\"cards\"><div class=\"card\">按时办结率<b id=\"on-time-rate\">%s"
		       "</b><span class=\"muted\">目标 100%%。按期限办结（答复、办结或不予受理）"
		       "的办件 %lld 件，除以已办结 %lld 件与未办结但已超期 %lld 件之和。</span></div>"
		       "<div class=\"card\">满意率<b id=\"satisfaction-rate\">%s</b>"
		       "<span class=\"muted\">目标 ≥95%%。评价为 3 至 5 级（基本满意、满意、非常满意）"
		       "的 %lld 件，除以全部评价 %lld 件。</span></div>"
		       "<div class=\"card\">已超期 / 预警<b><span id=\"overdue-total\">%lld</span> / "
		       "<span id=\"warning-total\">%lld</span></b><span class=\"muted\">未办结办件 "
		       "%lld 件</span></div>"
		       "<div class=\"card\">差评待整改<b id=\"followups-open\">%lld</b>"
		       "<span class=\"muted\">其中已超期 <span id=\"followups-late\">%lld</span> 件；"
		       "已整改 <span id=\"followups-closed\">%lld</span> 件（<a href=\"/followups\">"
		       "差评回访</a>）</span></div></div>",
	    t1, d.sum.on_time, d.sum.closed, d.sum.overdue, t2, d.sum.satisfied, d.sum.ratings,
	    d.sum.overdue, d.sum.warning, d.sum.open, d.sum.fu_open, d.sum.fu_late,
	    d.sum.fu_closed);
	buf_adds(&b, "<h2>服务质量</h2>");
	svg_rate(&b, "chart-on-time", "按时办结率", on_time_pm(&d.sum), 100);
	svg_rate(&b, "chart-satisfaction", "满意率", satisfied_pm(&d.sum), 95);
	buf_adds(&b, "<h2>各大厅超期与预警</h2>");
	svg_due(&b, &d);
	buf_adds(&b, "<h2>各大厅同步状况</h2><p class=\"muted\">绿点：");
	buf_printf(&b, "%d 分钟内联系过县级；红点：超过 %d 分钟未联系或从未联系。</p>", STALE_MINUTES,
	    STALE_MINUTES);
	svg_sync(&b, &d);
	spage_table(&b, "id=\"halls\"", cols, NCOLS(cols));
	for (i = 0; i < d.n; i++) {
		const struct hall_fig *h = &d.h[i];

		pm_text(t1, on_time_pm(h));
		pm_text(t2, satisfied_pm(h));
		ago_text(ago, d.db_now, h->last_contact);
		buf_adds(&b, "<tr data-hall=\"");
		SH(&b, h->code);
		buf_adds(&b, "\"><td>");
		SH(&b, h->name);
		buf_adds(&b, "<div class=\"muted\">");
		SH(&b, h->code);
		buf_adds(&b, "</div></td>");
		num_td(&b, "num", h->open);
		num_td(&b, "num warn", h->warning);
		num_td(&b, "num late", h->overdue);
		spage_td(&b, "num", t1);
		spage_td(&b, "num", t2);
		num_td(&b, "num", h->fu_open);
		spage_td(&b, NULL, h->have_health ? ago :
		    strlen(h->code) == 6 ? "—" : "（未登记）");
		num_td(&b, "num", h->backlog);
		spage_td(&b, NULL, h->version);
		num_td(&b, h->quarantined > 0 ? "num late" : "num", h->quarantined);
		buf_adds(&b, "</tr>");
	}
	spage_table_end(&b, NCOLS(cols), d.n, NULL);
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
		     "评价数,满意数,满意率,差评待整改,差评整改超期,差评已整改,最近联系,积压,版本,隔离\r\n");
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
		snprintf(t1, sizeof(t1), "%lld", h->quarantined);
		csv_cell(&b, t1, 1);
	}
	free(d.h);
	csv_send(s, &b, "quality", "导出内容过多。");
	buf_free(&b);
}
