/*
 * The dashboard's notices and channels (SPEC 5.6, 7): how the county's notices to citizens
 * are going, per channel (SMS, e-mail: waiting, the oldest waiting, sent in the last day,
 * given up, the last error), from the notifications table county-notifier works through;
 * and how the county's cases arrived (SPEC 2's channels: online, at the window, by phone,
 * letter or e-mail).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "staff.h"

static const struct {
	const char *channel, *text;
} notice_channels[] = {{"sms", "短信"}, {"email", "电子邮件"}};

static const struct {
	const char *channel, *text;
} case_channels[] = {
	{"online", "网上"}, {"window", "现场（窗口）"}, {"phone", "电话"}, {"letter", "信函"},
	{"email", "电子邮件"},
};

/* the account's county: a hall code begins with its county's six digits */
#define NOTICE_SCOPE "n.hall_code LIKE CONCAT(?, '%') "
/* each count reads at most this many index entries (shown as "10000+"): a long gateway
 * outage, or a day of catch-up after it, would otherwise make the page read them all */
#define NOTICE_CAP 10000
#define NOTICE_CAP_S "10000"
/* the notices of one state and channel of the county, counted up to NOTICE_CAP, from the
 * index `ix` alone; `extra` narrows the range. Parameters: channel, county. */
#define NOTICE_COUNT(ix, state, extra) "(SELECT count(*) FROM (SELECT 1 FROM notifications n " \
	"FORCE INDEX (" ix ") WHERE n.state = '" state "' AND n.channel = ? " extra "AND " \
	NOTICE_SCOPE "LIMIT " NOTICE_CAP_S ") x)"
/*
 * A channel's figures without reading the county's notices one by one (sql/county/025):
 * index ranges of notifications, no counter (a counter row a hall made every notice of
 * the hall wait on a transaction left open): waiting and given up from
 * notifications_oldest (state, channel, created_at, hall), the oldest waiting from its
 * start, the sent in the last day from a day's range of notifications_sent. The states are
 * county-notifier's (agent/county-notifier/queue.c). Parameters: (channel, county) x 4.
 */
#define HEALTH_SQL "SELECT " NOTICE_COUNT("notifications_oldest", "pending", "") ", " \
	"(SELECT TIMESTAMPDIFF(SECOND, n.created_at, NOW(6)) FROM notifications n " \
	"FORCE INDEX (notifications_oldest) WHERE n.state = 'pending' AND n.channel = ? AND " \
	NOTICE_SCOPE "ORDER BY n.created_at LIMIT 1), " \
	NOTICE_COUNT("notifications_sent", "sent", "AND n.sent_at >= NOW() - INTERVAL 1 DAY ") \
	", " NOTICE_COUNT("notifications_oldest", "failed", "")
enum { NH_PENDING, NH_OLDEST, NH_SENT, NH_FAILED };
#define ERROR_SQL "SELECT n.last_error, TIMESTAMPDIFF(SECOND, n.last_error_at, NOW(6)) " \
	"FROM notifications n WHERE n.channel = ? AND n.last_error_at IS NOT NULL " \
	"AND n.last_error IS NOT NULL AND " \
	NOTICE_SCOPE "ORDER BY n.last_error_at DESC LIMIT 1"

/* a count cell; a count that reached NOTICE_CAP reads "10000+" */
static void
capped_td(struct buf *b, const char *cls, const char *name, long long n)
{
	buf_printf(b, "<td class=\"num%s\" data-%s=\"%lld\">%lld%s</td>", cls, name, n, n,
	    n >= NOTICE_CAP ? "+" : "");
}

/* "3 分钟", "2 小时", "5 天" */
static void
age_text(char out[32], const char *seconds)
{
	long long s = seconds != NULL ? strtoll(seconds, NULL, 10) : -1;

	if (seconds == NULL)
		snprintf(out, 32, "—");
	else if (s < 60)
		snprintf(out, 32, "%lld 秒", s < 0 ? 0 : s);
	else if (s < 3600)
		snprintf(out, 32, "%lld 分钟", s / 60);
	else if (s < 86400)
		snprintf(out, 32, "%lld 小时", s / 3600);
	else
		snprintf(out, 32, "%lld 天", s / 86400);
}

static int
notice_rows(struct buf *b, const char *county)
{
	static const struct scol cols[] = {
		{"渠道", NULL}, {"待发送", "num"}, {"最早待发已等", "num"}, {"24 小时内已发", "num"},
		{"已放弃", "num"}, {"最近错误", NULL},
	};
	size_t i;

	spage_table(b, "id=\"notices\"", cols, NCOLS(cols));
	for (i = 0; i < NCOLS(notice_channels); i++) {
		const char *ch = notice_channels[i].channel;
		struct dbparam p[2] = {DBS(ch), DBS(county)};
		struct dbparam ph[8] = {DBS(ch), DBS(county), DBS(ch), DBS(county), DBS(ch),
		    DBS(county), DBS(ch), DBS(county)};
		struct dbrows h, e;
		char age[32], err_age[32];

		if (db_select(HEALTH_SQL, ph, 8, &h, 1) == -1)
			return -1;
		if (db_select(ERROR_SQL, p, 2, &e, 1) == -1) {
			dbrows_free(&h);
			return -1;
		}
		age_text(age, db_val(&h, 0, NH_OLDEST));
		buf_printf(b, "<tr data-channel=\"%s\"><td>%s</td>", notice_channels[i].channel,
		    notice_channels[i].text);
		capped_td(b, db_int(&h, 0, NH_PENDING) > 0 ? " warn" : "",
		    "pending", db_int(&h, 0, NH_PENDING));
		buf_printf(b, "<td class=\"num\" data-oldest=\"%lld\">%s</td>",
		    db_int(&h, 0, NH_OLDEST), age);
		capped_td(b, "", "sent", db_int(&h, 0, NH_SENT));
		capped_td(b, db_int(&h, 0, NH_FAILED) > 0 ? " late" : "", "failed",
		    db_int(&h, 0, NH_FAILED));
		buf_adds(b, "<td>");
		if (e.nrows > 0) {
			age_text(err_age, db_val(&e, 0, 1));
			buf_printf(b, "<span class=\"muted\">%s前</span> ", err_age);
			SH(b, db_str(&e, 0, 0));
		} else
			buf_adds(b, "—");
		buf_adds(b, "</td></tr>");
		dbrows_free(&h);
		dbrows_free(&e);
	}
	spage_table_end(b, NCOLS(cols), NCOLS(notice_channels), NULL);
	return 0;
}

static int
channel_rows(struct buf *b, const char *county)
{
	static const struct scol cols[] = {{"受理渠道", NULL}, {"办件", "num"}};
	struct dbparam p[1] = {DBS(county)};
	struct dbrows r;
	size_t i;

	/* from the per-month summaries (sql/county/020), not a million cases: one pass over
	 * the county's rows, a column a channel in the order of case_channels */
	if (db_select("SELECT SUM(ch_online), SUM(ch_window), SUM(ch_phone), SUM(ch_letter), "
		      "SUM(ch_email) FROM hall_month_stats WHERE county_code = ?",
		p, 1, &r, 1) == -1)
		return -1;
	spage_table(b, "id=\"channels\"", cols, NCOLS(cols));
	for (i = 0; i < NCOLS(case_channels); i++)
		buf_printf(b, "<tr data-channel=\"%s\"><td>%s</td><td class=\"num\">%lld</td></tr>",
		    case_channels[i].channel, case_channels[i].text,
		    r.nrows == 1 ? db_int(&r, 0, i) : 0);
	spage_table_end(b, NCOLS(cols), NCOLS(case_channels), NULL);
	dbrows_free(&r);
	return 0;
}

int
notices_section(struct buf *b, struct staff_req *s)
{
	buf_adds(b, "<h2>告知短信与邮件</h2><p class=\"muted\">办件送达、受理、转办、答复、办结或"
		    "不予受理时，县级通过短信和电子邮件告知群众（每件事每个渠道一次）。"
		    "发送失败的会自动重试；“已放弃”的超过重试时限，请核对号码或邮箱后联系群众。</p>");
	if (notice_rows(b, s->u.county) == -1)
		return -1;
	buf_adds(b, "<h2>受理渠道</h2>");
	return channel_rows(b, s->u.county);
}
