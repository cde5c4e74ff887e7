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
#define HEALTH_SQL "SELECT SUM(n.state = 'pending'), " \
	"TIMESTAMPDIFF(SECOND, MIN(IF(n.state = 'pending', n.created_at, NULL)), NOW(6)), " \
	"SUM(n.state = 'sent' AND n.sent_at >= NOW() - INTERVAL 1 DAY), " \
	"SUM(n.state = 'failed') FROM notifications n WHERE n.channel = ? AND " NOTICE_SCOPE
enum { NH_PENDING, NH_OLDEST, NH_SENT, NH_FAILED };
#define ERROR_SQL "SELECT n.last_error, TIMESTAMPDIFF(SECOND, n.last_error_at, NOW(6)) " \
	"FROM notifications n WHERE n.channel = ? AND n.last_error_at IS NOT NULL " \
	"AND n.last_error IS NOT NULL AND " \
	NOTICE_SCOPE "ORDER BY n.last_error_at DESC LIMIT 1"

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
		struct dbparam p[2] = {DBS(notice_channels[i].channel), DBS(county)};
		struct dbrows h, e;
		char age[32], err_age[32];

		if (db_select(HEALTH_SQL, p, 2, &h, 1) == -1)
			return -1;
		if (db_select(ERROR_SQL, p, 2, &e, 1) == -1) {
			dbrows_free(&h);
			return -1;
		}
		age_text(age, db_val(&h, 0, NH_OLDEST));
		buf_printf(b, "<tr data-channel=\"%s\"><td>%s</td>", notice_channels[i].channel,
		    notice_channels[i].text);
		buf_printf(b, "<td class=\"num%s\" data-pending=\"%lld\">%lld</td>",
		    db_int(&h, 0, NH_PENDING) > 0 ? " warn" : "", db_int(&h, 0, NH_PENDING),
		    db_int(&h, 0, NH_PENDING));
		buf_printf(b, "<td class=\"num\" data-oldest=\"%lld\">%s</td>",
		    db_int(&h, 0, NH_OLDEST), age);
		buf_printf(b, "<td class=\"num\" data-sent=\"%lld\">%lld</td>", db_int(&h, 0, NH_SENT),
		    db_int(&h, 0, NH_SENT));
		buf_printf(b, "<td class=\"num%s\" data-failed=\"%lld\">%lld</td><td>",
		    db_int(&h, 0, NH_FAILED) > 0 ? " late" : "", db_int(&h, 0, NH_FAILED),
		    db_int(&h, 0, NH_FAILED));
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
	struct dbparam p[5] = {DBS(county), DBS(county), DBS(county), DBS(county), DBS(county)};
	struct dbrows r;
	size_t i, j;

	/* from the per-month summaries (sql/county/020), not a million cases */
	if (db_select("SELECT 'online', SUM(ch_online) FROM hall_month_stats WHERE county_code = ? "
		      "UNION ALL SELECT 'window', SUM(ch_window) FROM hall_month_stats "
		      "WHERE county_code = ? UNION ALL SELECT 'phone', SUM(ch_phone) "
		      "FROM hall_month_stats WHERE county_code = ? UNION ALL SELECT 'letter', "
		      "SUM(ch_letter) FROM hall_month_stats WHERE county_code = ? UNION ALL "
		      "SELECT 'email', SUM(ch_email) FROM hall_month_stats WHERE county_code = ?",
		p, 5, &r, 32) == -1)
		return -1;
	spage_table(b, "id=\"channels\"", cols, NCOLS(cols));
	for (i = 0; i < NCOLS(case_channels); i++) {
		long long n = 0;

		for (j = 0; j < r.nrows; j++)
			if (strcmp(db_str(&r, j, 0), case_channels[i].channel) == 0)
				n = db_int(&r, j, 1);
		buf_printf(b, "<tr data-channel=\"%s\"><td>%s</td><td class=\"num\">%lld</td></tr>",
		    case_channels[i].channel, case_channels[i].text, n);
	}
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
