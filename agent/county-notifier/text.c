/*
 * What a notice says. The SMS is one sentence under the sender's 【signature】, at most 70
 * characters (SPEC 5.6: one message on every Chinese handset, billed once); the e-mail is a
 * plain-text letter in UTF-8. Both are made again on every attempt from the notice's row,
 * so a retry carries the same words under the same id.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "notifier.h"

static const struct {
	const char *event, *text, *sms_tail;
} events[] = {
	/* SPEC 2's words; the SMS says what the citizen can do next */
	{"delivered", "已送达县级", "已送达县级，请凭查询码查看进度。"},
	{"accepted", "已受理", "已受理，请凭查询码查看进度。"},
	{"transferred", "已转办", "已转办，请凭查询码查看进度。"},
	{"answered", "已答复", "已答复，请凭查询码查看。"},
	{"resolved", "已办结", "已办结，请凭查询码查看并评价。"},
	{"rejected", "不予受理", "不予受理，原因请凭查询码查看。"},
	{"code", "查询码已重置", NULL},
	/* an appointment's (SPEC 5.6): appt_sms writes these */
	{"booked", "已预约", NULL},
	{"refused", "未同意", NULL},
	{"reminder", "办理提醒", NULL},
};

static const struct {
	const char *kind, *text;
} kinds[] = {
	{"consultation", "咨询"},
	{"complaint", "投诉"},
	{"unresolved", "“办不成事”反映"},
};

const char *
notice_status_text(const char *event)
{
	size_t i;

	for (i = 0; i < sizeof(events) / sizeof(events[0]); i++)
		if (strcmp(event, events[i].event) == 0)
			return events[i].text;
	return NULL;
}

const char *
notice_kind_text(const char *kind)
{
	size_t i;

	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(kind, kinds[i].kind) == 0)
			return kinds[i].text;
	return "办件";
}

static const char *
sms_tail(const char *event)
{
	size_t i;

	for (i = 0; i < sizeof(events) / sizeof(events[0]); i++)
		if (strcmp(event, events[i].event) == 0)
			return events[i].sms_tail;
	return NULL;
}

static int
is_appt(const struct notice *n)
{
	return strcmp(n->kind, "appointment") == 0;
}

/* The number whole (shorten 0) or as "4301…Q7Q" (shorten 1). */
static void
sms_number(char no[48], const char *case_no, int shorten)
{
	size_t len = strlen(case_no);

	if (shorten && len > 7)
		snprintf(no, 48, "%.4s…%s", case_no, case_no + len - 3);
	else
		snprintf(no, 48, "%s", case_no);
}

/* "12月8日" of "2026-12-08" ("" when it is not a day). */
static void
day_text(char out[32], const char *date)
{
	int y, m, d;

	if (sscanf(date, "%4d-%2d-%2d", &y, &m, &d) == 3 && m >= 1 && m <= 12 && d >= 1 && d <= 31)
		snprintf(out, 32, "%d月%d日", m, d);
	else
		out[0] = '\0';
}

/* At most max characters of s (UTF-8), with "…" when cut; max < 0: all of it. */
static void
cut_text(char *out, size_t outlen, const char *s, int max)
{
	size_t i = 0;
	int chars = 0;

	if (max < 0 || (long)utf8_len(s) <= max) {
		snprintf(out, outlen, "%s", s);
		return;
	}
	while (s[i] != '\0' && chars < max) {
		i++;
		while (((unsigned char)s[i] & 0xC0) == 0x80)
			i++;
		chars++;
	}
	snprintf(out, outlen, "%.*s%s", (int)i, s, i > 0 ? "…" : "");
}

/*
 * An appointment's sentence (seed 4: 预约号, 预约时间, 办理地点, 预约内容), from the fullest
 * to the shortest as the 70 characters ask: the item named (item 1) or not, the place whole
 * (place -1), cut to that many characters, or left out (0).
 */
static void
appt_compose(struct buf *b, const struct notice *n, const char *no, int item, int place)
{
	char day[32], where[224], what[224];

	day_text(day, n->date);
	cut_text(where, sizeof(where), n->place, place);
	snprintf(what, sizeof(what), "%s", item ? n->item_name : "");
	if (strcmp(n->event, "booked") == 0)
		buf_printf(b, "您已预约%s，预约号%s，%s%s%s%s。", what, no, day, n->start,
		    where[0] != '\0' ? "，" : "", where);
	else if (strcmp(n->event, "refused") == 0)
		buf_printf(b, "您%s%s的%s预约%s未获同意，原因请查看邮件或凭预约号查询。", day,
		    n->start, what, no);
	else
		buf_printf(b, "提醒：%s%s请到%s办理%s，预约号%s。", day, n->start,
		    where[0] != '\0' ? where : "大厅", item ? n->item_name : "预约事项", no);
}

/* The sentence of the notice at degradation level `level` (0: all of it). */
static void
sms_compose(struct buf *b, const struct notice *n, const char *signature, int level)
{
	static const int places[] = {-1, 12, 6, 0};
	char no[48];

	buf_reset(b);
	buf_printf(b, "【%s】", signature);
	if (is_appt(n) && strcmp(n->event, "code") != 0) {
		/* 8 levels with the number whole, then 8 with it shortened */
		sms_number(no, n->case_no, level >= 8);
		appt_compose(b, n, no, (level % 8) < 4, places[level % 4]);
		return;
	}
	sms_number(no, n->case_no, level >= 1);
	if (strcmp(n->event, "code") == 0)
		/* the only text that carries a secret: nothing else in it to forward */
		buf_printf(b, "您的%s%s的新查询码为%s，原查询码已失效。请勿告知他人。",
		    is_appt(n) ? "预约" : "办件", no, n->secret);
	else
		buf_printf(b, "您的%s%s%s", strcmp(n->kind, "unresolved") == 0 ? "反映" :
		    notice_kind_text(n->kind), no, sms_tail(n->event));
}

/* 1 when the event is one this file writes for the notice's kind: an appointment's texts
 * are the appointment's, a case's the case's (a code: both) */
static int
sms_event_ok(const struct notice *n)
{
	if (notice_status_text(n->event) == NULL)
		return 0;
	return strcmp(n->event, "code") == 0 || (sms_tail(n->event) == NULL) == is_appt(n);
}

int
notice_sms_text(struct buf *b, const struct notice *n, const char *signature)
{
	int level, levels;

	if (!sms_event_ok(n))
		return -1;
	levels = is_appt(n) && strcmp(n->event, "code") != 0 ? 16 : 2;
	if (strcmp(n->event, "code") == 0 &&
	    (strlen(n->secret) != 6 || strspn(n->secret, "0123456789") != 6))
		return -1;
	for (level = 0; level < levels; level++) {
		sms_compose(b, n, signature, level);
		if (b->failed)
			return -1;
		if (utf8_len(b->data) <= SMS_MAX_CHARS)
			return 0;
	}
	return -1;
}

/*
 * Every event of the table for every kind it is written for (the kinds', any other case's
 * "办件", an appointment), through notice_sms_text itself: a text added here is checked at
 * start with the others. The values are the longest a notice holds, so each text ends at
 * its shortest form (number shortened, item and place left out); a day of two digits each.
 */
int
notice_sms_fits(const char *signature)
{
	static const char *const others[] = {"appointment", ""};
	const size_t nkinds = sizeof(kinds) / sizeof(kinds[0]);
	struct notice n;
	struct buf b;
	size_t e, k;
	int ok = 1;

	memset(&n, 0, sizeof(n));
	memset(n.case_no, 'Q', sizeof(n.case_no) - 1);
	memset(n.item_name, 'x', sizeof(n.item_name) - 1);
	memset(n.place, 'x', sizeof(n.place) - 1);
	snprintf(n.date, sizeof(n.date), "2026-12-28");
	snprintf(n.start, sizeof(n.start), "10:30");
	snprintf(n.end, sizeof(n.end), "11:00");
	snprintf(n.secret, sizeof(n.secret), "000000");
	buf_init(&b, 4096);
	for (e = 0; e < sizeof(events) / sizeof(events[0]) && ok; e++)
		for (k = 0; k < nkinds + sizeof(others) / sizeof(others[0]) && ok; k++) {
			snprintf(n.event, sizeof(n.event), "%s", events[e].event);
			snprintf(n.kind, sizeof(n.kind), "%s",
			    k < nkinds ? kinds[k].kind : others[k - nkinds]);
			if (sms_event_ok(&n))
				ok = notice_sms_text(&b, &n, signature) == 0;
		}
	buf_free(&b);
	return ok;
}

/*
 * Printable ASCII, one @, no spaces or the characters that end a header or an envelope
 * address: the hall's check_email takes nothing else, and a row put in by hand must not
 * smuggle a header in.
 */
int
notice_addr_ok(const char *s)
{
	const char *at = strchr(s, '@');
	size_t n = strlen(s);

	if (n < 3 || n > 200 || at == NULL || at == s || at[1] == '\0' || strchr(at + 1, '@'))
		return 0;
	for (; *s != '\0'; s++)
		if (*s <= ' ' || *s >= 127 || strchr("<>()[]\\,;:\"", *s) != NULL)
			return 0;
	return 1;
}

/* An RFC 2047 encoded word per at most 45 bytes, cut between UTF-8 characters. */
static void
header_words(struct buf *b, const char *name, const char *text)
{
	char enc[128];
	size_t len = strlen(text), i = 0, n;

	buf_printf(b, "%s:", name);
	while (i < len) {
		n = len - i > 45 ? 45 : len - i;
		while (n > 1 && i + n < len && ((unsigned char)text[i + n] & 0xC0) == 0x80)
			n--;
		sodium_bin2base64(enc, sizeof(enc), (const unsigned char *)text + i, n,
		    sodium_base64_VARIANT_ORIGINAL);
		buf_printf(b, "%s=?UTF-8?B?%s?=", i == 0 ? " " : "\r\n ", enc);
		i += n;
	}
	buf_adds(b, "\r\n");
}

/* The body in base64, 76 characters a line: no 8-bit transport needed anywhere. */
static void
body_base64(struct buf *b, const char *text)
{
	char enc[128];
	size_t len = strlen(text), i, n;

	for (i = 0; i < len; i += n) {
		n = len - i > 57 ? 57 : len - i;
		sodium_bin2base64(enc, sizeof(enc), (const unsigned char *)text + i, n,
		    sodium_base64_VARIANT_ORIGINAL);
		buf_printf(b, "%s\r\n", enc);
	}
}

/* What seed 4 lists: 预约号、预约人姓名、预约时间、办理地点、预约内容. */
static void
appt_mail_body(struct buf *body, const struct notice *n)
{
	const char *at = n->hall[0] != '\0' ? "在" : "";

	if (strcmp(n->event, "booked") == 0)
		buf_printf(body, "您%s%s的预约已登记。\r\n", at, n->hall);
	else if (strcmp(n->event, "refused") == 0)
		buf_printf(body, "很抱歉，您%s%s的预约未获同意。\r\n", at, n->hall);
	else
		buf_printf(body, "提醒您：您%s%s的预约将于 %s %s 办理，请按时前往，并带齐所需材料。\r\n",
		    at, n->hall, n->date, n->start);
	buf_printf(body, "\r\n预约号：%s\r\n", n->case_no);
	if (n->name[0] != '\0')
		buf_printf(body, "预约人：%s\r\n", n->name);
	buf_printf(body, "预约时间：%s %s-%s\r\n", n->date, n->start, n->end);
	if (n->place[0] != '\0')
		buf_printf(body, "办理地点：%s\r\n", n->place);
	if (n->item_name[0] != '\0')
		buf_printf(body, "预约内容：%s\r\n", n->item_name);
}

int
notice_mail(struct buf *b, const struct notice *n, const char *from, const char *signature,
    time_t now)
{
	const char *status = notice_status_text(n->event), *domain;
	char subject[256], date[64];
	struct buf body;
	time_t local = now + 8 * 3600;	/* Asia/Shanghai has no summer time */
	struct tm tm;

	if (status == NULL || !notice_addr_ok(n->to) || !notice_addr_ok(from))
		return -1;
	domain = strchr(from, '@') + 1;
	gmtime_r(&local, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0800", &tm);
	if (strcmp(n->event, "code") == 0)
		snprintf(subject, sizeof(subject), "【%s】%s %s 的新查询码", signature,
		    is_appt(n) ? "预约" : "办件", n->case_no);
	else if (is_appt(n))
		snprintf(subject, sizeof(subject), "【%s】您的预约 %s %s", signature, n->case_no,
		    status);
	else
		snprintf(subject, sizeof(subject), "【%s】您的%s %s %s", signature,
		    notice_kind_text(n->kind), n->case_no, status);

	buf_init(&body, 64 * 1024);
	buf_adds(&body, "您好：\r\n\r\n");
	if (strcmp(n->event, "code") == 0)
		buf_printf(&body, "您的%s（编号 %s）的新查询码为 %s，原查询码已失效。请勿告知他人。\r\n",
		    is_appt(n) ? "预约" : "办件", n->case_no, n->secret);
	else if (is_appt(n))
		appt_mail_body(&body, n);
	else
		buf_printf(&body, "您%s%s提交的%s（办件编号 %s）%s。\r\n",
		    n->hall[0] != '\0' ? "在" : "", n->hall, notice_kind_text(n->kind), n->case_no,
		    status);
	if (n->note != NULL && n->note[0] != '\0' && strcmp(n->event, "code") != 0)
		buf_printf(&body, "\r\n%s：\r\n%s\r\n",
		    strcmp(n->event, "rejected") == 0 || strcmp(n->event, "refused") == 0 ?
		    "原因" : "说明", n->note);
	if (is_appt(n))
		buf_adds(&body, "\r\n请凭预约号和查询码，在服务大厅网站的“预约”页面查看或取消预约。\r\n");
	else
		buf_adds(&body, "\r\n请凭回执上的办件编号和查询码，在服务大厅网站的“办理进度”页面查看详情。\r\n");
	buf_printf(&body, "\r\n%s\r\n（此邮件由系统自动发送，请勿直接回复。）\r\n", signature);
	if (body.failed) {
		buf_free(&body);
		return -1;
	}

	buf_reset(b);
	buf_printf(b, "Date: %s\r\n", date);
	buf_printf(b, "From: %s\r\nTo: %s\r\n", from, n->to);
	buf_printf(b, "Message-ID: <%s@%s>\r\n", n->id, domain);
	header_words(b, "Subject", subject);
	buf_adds(b, "MIME-Version: 1.0\r\n"
		    "Content-Type: text/plain; charset=UTF-8\r\n"
		    "Content-Transfer-Encoding: base64\r\n"
		    "Auto-Submitted: auto-generated\r\n\r\n");
	body_base64(b, body.data);
	buf_free(&body);
	return b->failed ? -1 : 0;
}
