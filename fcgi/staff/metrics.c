/*
 * GET /metrics: the county's fleet health as Prometheus text (format 0.0.4), for a
 * scraper on the county's own machine (SPEC 12, issue 15). No session: the route is for
 * loopback only, twice over: nginx's site allows /metrics from 127.0.0.1 and ::1 alone
 * (conf/nginx/staff.site), and the handler refuses any other REMOTE_ADDR, so a staff
 * browser from the county's network gets 403 either way. Every county of the database.
 *
 * Per hall (labels county, hall): last contact age, county and province backlogs, records
 * set aside per destination, downlink pending and lag, clock offset, silent (by the
 * county's silent_after_minutes), the agent version as an info metric; county-wide:
 * notifications pending and failed per channel, open cases by status.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "staff.h"

#define HALLS_SQL "SELECT h.hall_code, h.county_code, " \
	"TIMESTAMPDIFF(SECOND, h.last_contact_at, NOW()), h.backlog, h.quarantined, " \
	"h.province_backlog, h.province_quarantined, h.downlink_pending, h.downlink_lag_s, " \
	"h.clock_offset_ms, h.agent_version, COALESCE((SELECT CAST(s.value AS SIGNED) " \
	"FROM county_settings s WHERE s.name IN ('silent_after_minutes', " \
	"CONCAT('silent_after_minutes:', h.county_code)) ORDER BY s.name DESC LIMIT 1), 60) " \
	"FROM halls h ORDER BY h.hall_code"
enum { MH_HALL, MH_COUNTY, MH_AGE, MH_BACKLOG, MH_QUAR, MH_PBACKLOG, MH_PQUAR, MH_DLPEND,
	MH_DLLAG, MH_CLOCK, MH_VERSION, MH_SILENT_MIN, MH__N };

static const struct metric {
	const char *name, *help;
	int col;
	double scale;
} hall_metrics[] = {
	{"hall_last_contact_age_seconds", "Seconds since the hall's agent last reached the county.",
	    MH_AGE, 1},
	{"hall_county_backlog_records", "Records the hall has not yet delivered to the county.",
	    MH_BACKLOG, 1},
	{"hall_county_quarantined_records", "Records the hall set aside for the county.", MH_QUAR,
	    1},
	{"hall_province_backlog_records", "Records the hall has not yet delivered to the province.",
	    MH_PBACKLOG, 1},
	{"hall_province_quarantined_records", "Records the hall set aside for the province.",
	    MH_PQUAR, 1},
	{"hall_downlink_pending_items", "Downlink items for the hall not acknowledged at its last "
	    "heartbeat.", MH_DLPEND, 1},
	{"hall_downlink_lag_seconds", "Age of the oldest downlink item the hall had not "
	    "acknowledged at its last heartbeat.", MH_DLLAG, 1},
	{"hall_clock_offset_seconds", "The hall's clock minus the county's, at its last heartbeat.",
	    MH_CLOCK, 0.001},
};

/* A label value: backslash, quote and newline escaped, as the format has it. */
static void
label(struct buf *b, const char *v)
{
	for (; *v != '\0'; v++) {
		if (*v == '\\' || *v == '"')
			buf_addc(b, '\\');
		if (*v == '\n')
			buf_adds(b, "\\n");
		else
			buf_addc(b, *v);
	}
}

static void
hall_labels(struct buf *b, const struct dbrows *r, size_t i)
{
	buf_adds(b, "{county=\"");
	label(b, db_str(r, i, MH_COUNTY));
	buf_adds(b, "\",hall=\"");
	label(b, db_str(r, i, MH_HALL));
	buf_adds(b, "\"");
}

static void
halls_metrics(struct buf *b, const struct dbrows *r)
{
	size_t m, i;

	for (m = 0; m < NCOLS(hall_metrics); m++) {
		const struct metric *x = &hall_metrics[m];

		buf_printf(b, "# HELP %s %s\n# TYPE %s gauge\n", x->name, x->help, x->name);
		for (i = 0; i < r->nrows; i++) {
			if (db_val(r, i, x->col) == NULL)
				continue;	/* never reported: no sample rather than a false 0 */
			buf_adds(b, x->name);
			hall_labels(b, r, i);
			if (x->scale == 1)
				buf_printf(b, "} %lld\n", db_int(r, i, x->col));
			else
				buf_printf(b, "} %.3f\n", (double)db_int(r, i, x->col) * x->scale);
		}
	}
	buf_adds(b, "# HELP hall_silent 1 when the hall has not reached the county for longer than "
		    "silent_after_minutes (or never).\n# TYPE hall_silent gauge\n");
	for (i = 0; i < r->nrows; i++) {
		const char *age = db_val(r, i, MH_AGE);

		buf_adds(b, "hall_silent");
		hall_labels(b, r, i);
		buf_printf(b, "} %d\n", age == NULL ||
		    strtoll(age, NULL, 10) > db_int(r, i, MH_SILENT_MIN) * 60);
	}
	buf_adds(b, "# HELP hall_agent_info The hall's agent version.\n# TYPE hall_agent_info gauge\n");
	for (i = 0; i < r->nrows; i++) {
		if (db_val(r, i, MH_VERSION) == NULL)
			continue;
		buf_adds(b, "hall_agent_info");
		hall_labels(b, r, i);
		buf_adds(b, ",version=\"");
		label(b, db_str(r, i, MH_VERSION));
		buf_adds(b, "\"} 1\n");
	}
}

/* Rows of (county, label value, number) as one metric family. */
static int
family(struct buf *b, const char *name, const char *help, const char *lname, const char *sql)
{
	struct dbrows r;
	size_t i;

	if (db_select(sql, NULL, 0, &r, 100000) == -1)
		return -1;
	buf_printf(b, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
	for (i = 0; i < r.nrows; i++) {
		buf_printf(b, "%s{county=\"", name);
		label(b, db_str(&r, i, 0));
		buf_printf(b, "\",%s=\"", lname);
		label(b, db_str(&r, i, 1));
		buf_printf(b, "\"} %lld\n", db_int(&r, i, 2));
	}
	dbrows_free(&r);
	return 0;
}

/*
 * The notices of one state per county and channel, each counted up to NOTICE_METRIC_CAP
 * from a range of the index notifications_oldest (sql/county/025): a long gateway outage
 * cannot make a scrape read every waiting notice. A count of 0 has no sample.
 */
#define NOTICE_METRIC_CAP_S "10000"
#define NOTICE_METRIC_SQL "SELECT count(*) FROM (SELECT 1 FROM notifications n " \
	"FORCE INDEX (notifications_oldest) WHERE n.state = ? AND n.channel = ? " \
	"AND n.hall_code LIKE CONCAT(?, '%') LIMIT " NOTICE_METRIC_CAP_S ") x"

static int
notice_family(struct buf *b, const char *name, const char *help, const char *state)
{
	static const char *const channels[] = {"sms", "email"};
	struct dbrows k, r;
	size_t i, j;
	long long n;

	if (db_select("SELECT DISTINCT LEFT(hall_code, 6) FROM halls ORDER BY 1", NULL, 0, &k,
		100000) == -1)
		return -1;
	buf_printf(b, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
	for (i = 0; i < k.nrows; i++)
		for (j = 0; j < sizeof(channels) / sizeof(channels[0]); j++) {
			struct dbparam p[3] = {DBS(state), DBS(channels[j]), DBS(db_str(&k, i, 0))};

			if (db_select(NOTICE_METRIC_SQL, p, 3, &r, 1) == -1) {
				dbrows_free(&k);
				return -1;
			}
			n = r.nrows == 1 ? db_int(&r, 0, 0) : 0;
			dbrows_free(&r);
			if (n == 0)
				continue;
			buf_printf(b, "%s{county=\"", name);
			label(b, db_str(&k, i, 0));
			buf_printf(b, "\",channel=\"%s\"} %lld\n", channels[j], n);
		}
	dbrows_free(&k);
	return 0;
}

/* 1 when the request came from this machine's loopback. */
static int
from_loopback(const struct staff_req *s)
{
	const char *a = s->r.remote ? s->r.remote : "";

	return strcmp(a, "127.0.0.1") == 0 || strcmp(a, "::1") == 0;
}

void
metrics_page(struct staff_req *s)
{
	struct dbrows r;
	struct buf b;

	if (!from_loopback(s)) {
		buf_init(&b, 256);
		buf_adds(&b, "metrics are served to loopback only\n");
		req_send(&s->r, 403, "text/plain; charset=utf-8", &b, NULL);
		buf_free(&b);
		return;
	}
	if (db_select(HALLS_SQL, NULL, 0, &r, 100000) == -1) {
		buf_init(&b, 256);
		buf_adds(&b, "the county database is unavailable\n");
		req_send(&s->r, 503, "text/plain; charset=utf-8", &b, NULL);
		buf_free(&b);
		return;
	}
	buf_init(&b, 8u << 20);
	halls_metrics(&b, &r);
	dbrows_free(&r);
	if (notice_family(&b, "county_notifications_pending",
		"Notices waiting to be sent, per channel (counted up to " NOTICE_METRIC_CAP_S ").",
		"pending") == -1 ||
	    notice_family(&b, "county_notifications_failed",
		"Notices given up, per channel (counted up to " NOTICE_METRIC_CAP_S ").",
		"failed") == -1 ||
	    family(&b, "county_cases_open", "Open cases by status (the county handling them).",
		"status", "SELECT handler_county, status, COUNT(*) FROM cases WHERE status IN "
		"('received','delivered','accepted','transferred') GROUP BY 1, 2") == -1 ||
	    family(&b, "county_cases_closed", "Closed cases by status, from the monthly summaries.",
		"status", "SELECT county_code, 'closed', SUM(closed) FROM hall_month_stats "
		"GROUP BY 1") == -1) {
		buf_reset(&b);
		buf_adds(&b, "the county database is unavailable\n");
		req_send(&s->r, 503, "text/plain; charset=utf-8", &b, NULL);
		buf_free(&b);
		return;
	}
	req_send(&s->r, 200, "text/plain; version=0.0.4; charset=utf-8", &b, NULL);
	buf_free(&b);
}
