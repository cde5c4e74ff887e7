/*
 * agent/county-notifier/text.c: what a notice says. Every SMS fits SPEC 5.6's 70
 * characters with the signature (the case number whole when it fits, shortened when
 * not), a code notice carries the code and nothing else secret, and an e-mail is a
 * well-formed message whose Message-ID is the notice's id and whose header no address can
 * break.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <sodium.h>

#include "notifier.h"

static const char *const events[] = {"delivered", "accepted", "transferred", "answered",
    "resolved", "rejected", "code"};

static void
notice_fill(struct notice *n, const char *event, const char *kind)
{
	memset(n, 0, sizeof(*n));
	snprintf(n->id, sizeof(n->id), "0f1e2d3c-4b5a-11ef-8899-aabbccddeeff");
	snprintf(n->case_no, sizeof(n->case_no), "43012100100126093000017Q");
	snprintf(n->event, sizeof(n->event), "%s", event);
	snprintf(n->kind, sizeof(n->kind), "%s", kind);
	snprintf(n->to, sizeof(n->to), "zhang.san@example.cn");
	snprintf(n->hall, sizeof(n->hall), "星沙街道政务服务中心");
	snprintf(n->secret, sizeof(n->secret), "%s", strcmp(event, "code") == 0 ? "042917" : "");
}

static void
sms_fits_with_the_whole_number(void **state)
{
	struct notice n;
	struct buf b;
	size_t i;

	(void)state;
	buf_init(&b, 4096);
	for (i = 0; i < sizeof(events) / sizeof(events[0]); i++) {
		notice_fill(&n, events[i], "unresolved");
		assert_int_equal(notice_sms_text(&b, &n, "长沙县政务服务"), 0);
		assert_true(utf8_len(b.data) <= SMS_MAX_CHARS);
		assert_non_null(strstr(b.data, "【长沙县政务服务】"));
		assert_int_equal(strncmp(b.data, "【长沙县政务服务】", strlen("【长沙县政务服务】")), 0);
		assert_non_null(strstr(b.data, n.case_no));
	}
	notice_fill(&n, "answered", "consultation");
	assert_int_equal(notice_sms_text(&b, &n, "长沙县政务服务"), 0);
	assert_string_equal(b.data, "【长沙县政务服务】您的咨询43012100100126093000017Q已答复，请凭查询码查看。");
	notice_fill(&n, "code", "complaint");
	assert_int_equal(notice_sms_text(&b, &n, "长沙县政务服务"), 0);
	assert_non_null(strstr(b.data, "042917"));
	buf_free(&b);
}

static void
sms_shortens_the_number_for_a_long_signature(void **state)
{
	const char *sig = "长沙县星沙街道政务服务中心便民服务窗口办件进度通知短信平台";	/* 28 */
	struct notice n;
	struct buf b;

	(void)state;
	buf_init(&b, 4096);
	notice_fill(&n, "resolved", "complaint");
	assert_int_equal(notice_sms_text(&b, &n, sig), 0);
	assert_true(utf8_len(b.data) <= SMS_MAX_CHARS);
	assert_null(strstr(b.data, n.case_no));
	assert_non_null(strstr(b.data, "4301…17Q"));
	/* a signature nothing fits beside */
	assert_int_equal(notice_sms_text(&b, &n,
	    "一二三四五六七八九十一二三四五六七八九十一二三四五六七八九十一二三四五六七八九十"
	    "一二三四五六七八九十"), -1);
	buf_free(&b);
}

static void
sms_refuses_what_it_cannot_say(void **state)
{
	struct notice n;
	struct buf b;

	(void)state;
	buf_init(&b, 4096);
	notice_fill(&n, "escalated", "complaint");
	assert_int_equal(notice_sms_text(&b, &n, "县政务服务"), -1);
	notice_fill(&n, "code", "complaint");
	snprintf(n.secret, sizeof(n.secret), "12a456");
	assert_int_equal(notice_sms_text(&b, &n, "县政务服务"), -1);
	n.secret[0] = '\0';
	assert_int_equal(notice_sms_text(&b, &n, "县政务服务"), -1);
	buf_free(&b);
}

/* The body of the message, base64 decoded. */
static char *
mail_body(const char *msg)
{
	const char *p = strstr(msg, "\r\n\r\n");
	static unsigned char out[16384];
	size_t len = 0;

	assert_non_null(p);
	assert_int_equal(sodium_base642bin(out, sizeof(out) - 1, p + 4, strlen(p + 4), "\r\n",
	    &len, NULL, sodium_base64_VARIANT_ORIGINAL), 0);
	out[len] = '\0';
	return (char *)out;
}

/* The Subject: header's encoded words, decoded and joined. */
static void
mail_subject(const char *msg, char *out, size_t outlen)
{
	const char *p = strstr(msg, "Subject:"), *end = strstr(p, "\r\nMIME-Version");
	size_t n = 0;

	out[0] = '\0';
	while ((p = strstr(p, "=?UTF-8?B?")) != NULL && p < end) {
		const char *q = strstr(p + 10, "?=");
		size_t len = 0;

		assert_true((size_t)(q + 2 - p) <= 75);	/* RFC 2047's limit per word */
		assert_int_equal(sodium_base642bin((unsigned char *)out + n, outlen - n - 1, p + 10,
		    (size_t)(q - p - 10), NULL, &len, NULL, sodium_base64_VARIANT_ORIGINAL), 0);
		n += len;
		p = q + 2;
	}
	out[n] = '\0';
}

static void
mail_is_a_message_with_the_notice_id(void **state)
{
	char subject[512];
	struct notice n;
	struct buf b;
	char *body;

	(void)state;
	buf_init(&b, 256 * 1024);
	notice_fill(&n, "rejected", "complaint");
	n.note = "不属于本县受理范围，请向市市场监督管理局反映。";
	assert_int_equal(notice_mail(&b, &n, "notice@county.example.cn", "长沙县政务服务",
	    1790000000), 0);
	assert_non_null(strstr(b.data, "\r\nMessage-ID: <0f1e2d3c-4b5a-11ef-8899-aabbccddeeff@"
				       "county.example.cn>\r\n"));
	assert_non_null(strstr(b.data, "\r\nTo: zhang.san@example.cn\r\n"));
	assert_non_null(strstr(b.data, "Content-Type: text/plain; charset=UTF-8\r\n"));
	assert_non_null(strstr(b.data, " +0800\r\n"));
	mail_subject(b.data, subject, sizeof(subject));
	assert_string_equal(subject, "【长沙县政务服务】您的投诉 43012100100126093000017Q 不予受理");
	body = mail_body(b.data);
	assert_true(utf8_valid(body, strlen(body)));
	assert_non_null(strstr(body, "星沙街道政务服务中心"));
	assert_non_null(strstr(body, "原因：\r\n不属于本县受理范围"));
	/* the same notice, the same words: a retry is the same message */
	{
		struct buf again;

		buf_init(&again, 256 * 1024);
		assert_int_equal(notice_mail(&again, &n, "notice@county.example.cn",
		    "长沙县政务服务", 1790000000), 0);
		assert_string_equal(again.data, b.data);
		buf_free(&again);
	}
	buf_free(&b);
}

static void
mail_refuses_an_address_that_breaks_the_header(void **state)
{
	struct notice n;
	struct buf b;

	(void)state;
	buf_init(&b, 256 * 1024);
	notice_fill(&n, "answered", "consultation");
	snprintf(n.to, sizeof(n.to), "a@b.cn\r\nBcc: all@example.cn");
	assert_int_equal(notice_mail(&b, &n, "notice@county.example.cn", "县", 0), -1);
	snprintf(n.to, sizeof(n.to), "a b@example.cn");
	assert_int_equal(notice_mail(&b, &n, "notice@county.example.cn", "县", 0), -1);
	snprintf(n.to, sizeof(n.to), "<a@example.cn>");
	assert_int_equal(notice_mail(&b, &n, "notice@county.example.cn", "县", 0), -1);
	assert_false(notice_addr_ok("a@b@c.cn"));
	assert_false(notice_addr_ok("@example.cn"));
	assert_true(notice_addr_ok("li.si+hall@example.cn"));
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sms_fits_with_the_whole_number),
		cmocka_unit_test(sms_shortens_the_number_for_a_long_signature),
		cmocka_unit_test(sms_refuses_what_it_cannot_say),
		cmocka_unit_test(mail_is_a_message_with_the_notice_id),
		cmocka_unit_test(mail_refuses_an_address_that_breaks_the_header),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
