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

/* The sentence with the case number whole (shorten 0) or as "4301…Q7Q" (shorten 1). */
static void
sms_compose(struct buf *b, const struct notice *n, const char *signature, int shorten)
{
	char no[48];
	size_t len = strlen(n->case_no);

	if (shorten && len > 7)
		snprintf(no, sizeof(no), "%.4s…%s", n->case_no, n->case_no + len - 3);
	else
		snprintf(no, sizeof(no), "%s", n->case_no);
	buf_reset(b);
	buf_printf(b, "【%s】", signature);
	if (strcmp(n->event, "code") == 0)
		/* the only text that carries a secret: nothing else in it to forward */
		buf_printf(b, "您的办件%s的新查询码为%s，原查询码已失效。请勿告知他人。", no,
		    n->secret);
	else
		buf_printf(b, "您的%s%s%s", strcmp(n->kind, "unresolved") == 0 ? "反映" :
		    notice_kind_text(n->kind), no, sms_tail(n->event));
}

int
notice_sms_text(struct buf *b, const struct notice *n, const char *signature)
{
	int shorten;

	if (notice_status_text(n->event) == NULL)
		return -1;
	if (strcmp(n->event, "code") == 0 &&
	    (strlen(n->secret) != 6 || strspn(n->secret, "0123456789") != 6))
		return -1;
	for (shorten = 0; shorten <= 1; shorten++) {
		sms_compose(b, n, signature, shorten);
		if (b->failed)
			return -1;
		if (utf8_len(b->data) <= SMS_MAX_CHARS)
			return 0;
	}
	return -1;
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
		snprintf(subject, sizeof(subject), "【%s】办件 %s 的新查询码", signature,
		    n->case_no);
	else
		snprintf(subject, sizeof(subject), "【%s】您的%s %s %s", signature,
		    notice_kind_text(n->kind), n->case_no, status);

	buf_init(&body, 64 * 1024);
	buf_adds(&body, "您好：\r\n\r\n");
	if (strcmp(n->event, "code") == 0)
		buf_printf(&body, "您的办件（编号 %s）的新查询码为 %s，原查询码已失效。请勿告知他人。\r\n",
		    n->case_no, n->secret);
	else
		buf_printf(&body, "您%s%s提交的%s（办件编号 %s）%s。\r\n",
		    n->hall[0] != '\0' ? "在" : "", n->hall, notice_kind_text(n->kind), n->case_no,
		    status);
	if (n->note != NULL && n->note[0] != '\0' && strcmp(n->event, "code") != 0)
		buf_printf(&body, "\r\n%s：\r\n%s\r\n",
		    strcmp(n->event, "rejected") == 0 ? "原因" : "说明", n->note);
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
