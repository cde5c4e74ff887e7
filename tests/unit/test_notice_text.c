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
	const char *sig = "长沙县星沙街道政务服务中心便民服务窗口办件进度通知短信平台";	/* 29 */
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

/* ---- appointments (SPEC 4.5, 5.6; seed 4: 预约号、预约人姓名、预约时间、办理地点、预约内容) */

static void
appt_fill(struct notice *n, const char *event)
{
	notice_fill(n, event, "appointment");
	snprintf(n->case_no, sizeof(n->case_no), "43012100100126120500042K");
	snprintf(n->item_name, sizeof(n->item_name), "居民身份证申领");
	snprintf(n->date, sizeof(n->date), "2026-12-08");
	snprintf(n->start, sizeof(n->start), "09:00");
	snprintf(n->end, sizeof(n->end), "09:30");
	snprintf(n->place, sizeof(n->place), "一楼 2 号窗口");
	snprintf(n->name, sizeof(n->name), "张三");
	if (strcmp(event, "code") == 0)
		snprintf(n->secret, sizeof(n->secret), "042917");
}

static void
appt_sms_says_number_day_time_and_place(void **state)
{
	static const char *const appt_events[] = {"booked", "refused", "reminder", "code"};
	struct notice n;
	struct buf b;
	size_t i;

	(void)state;
	buf_init(&b, 4096);
	for (i = 0; i < sizeof(appt_events) / sizeof(appt_events[0]); i++) {
		appt_fill(&n, appt_events[i]);
		assert_int_equal(notice_sms_text(&b, &n, "长沙县政务服务"), 0);
		assert_true(utf8_len(b.data) <= SMS_MAX_CHARS);
		assert_int_equal(strncmp(b.data, "【长沙县政务服务】", strlen("【长沙县政务服务】")), 0);
		assert_non_null(strstr(b.data, n.case_no));
	}
	appt_fill(&n, "booked");
	assert_int_equal(notice_sms_text(&b, &n, "长沙县政务服务"), 0);
	assert_string_equal(b.data, "【长沙县政务服务】您已预约居民身份证申领，预约号"
				    "43012100100126120500042K，12月8日09:00，一楼 2 号窗口。");
	appt_fill(&n, "refused");
	n.note = "当日窗口设备检修";
	assert_int_equal(notice_sms_text(&b, &n, "长沙县政务服务"), 0);
	assert_non_null(strstr(b.data, "未获同意"));
	assert_non_null(strstr(b.data, "原因请查看"));
	assert_null(strstr(b.data, "检修"));	/* the reason is the e-mail's and the lookup's */
	appt_fill(&n, "reminder");
	assert_int_equal(notice_sms_text(&b, &n, "长沙县政务服务"), 0);
	assert_non_null(strstr(b.data, "12月8日09:00"));
	assert_non_null(strstr(b.data, "一楼 2 号窗口"));
	appt_fill(&n, "code");
	assert_int_equal(notice_sms_text(&b, &n, "长沙县政务服务"), 0);
	assert_non_null(strstr(b.data, "您的预约"));
	assert_non_null(strstr(b.data, "042917"));
	buf_free(&b);
}

static void
appt_sms_gives_way_for_a_long_place_and_signature(void **state)
{
	const char *sig = "长沙县星沙街道政务服务中心便民服务窗口";	/* 19 */
	struct notice n;
	struct buf b;

	(void)state;
	buf_init(&b, 4096);
	appt_fill(&n, "booked");
	snprintf(n.place, sizeof(n.place), "星沙街道政务服务中心二楼东侧不动产登记与户籍综合受理区 7 号窗口");
	snprintf(n.item_name, sizeof(n.item_name), "不动产登记（二手房转移登记及抵押登记合并办理）");
	/* the number and the time stay whole; the item goes, then the place is cut */
	assert_int_equal(notice_sms_text(&b, &n, "长沙县政务服务"), 0);
	assert_true(utf8_len(b.data) <= SMS_MAX_CHARS);
	assert_non_null(strstr(b.data, n.case_no));
	assert_non_null(strstr(b.data, "12月8日09:00"));
	/* a long signature besides: the number shortened last */
	assert_int_equal(notice_sms_text(&b, &n, sig), 0);
	assert_true(utf8_len(b.data) <= SMS_MAX_CHARS);
	assert_non_null(strstr(b.data, "12月8日09:00"));
	appt_fill(&n, "reminder");
	snprintf(n.place, sizeof(n.place), "星沙街道政务服务中心二楼东侧不动产登记与户籍综合受理区 7 号窗口");
	assert_int_equal(notice_sms_text(&b, &n, sig), 0);
	assert_true(utf8_len(b.data) <= SMS_MAX_CHARS);
	buf_free(&b);
}

static void
appt_and_case_texts_do_not_mix(void **state)
{
	struct notice n;
	struct buf b;

	(void)state;
	buf_init(&b, 4096);
	appt_fill(&n, "answered");	/* a case's event on an appointment */
	assert_int_equal(notice_sms_text(&b, &n, "县政务服务"), -1);
	notice_fill(&n, "booked", "consultation");	/* an appointment's on a case */
	assert_int_equal(notice_sms_text(&b, &n, "县政务服务"), -1);
	buf_free(&b);
}

/*
 * The signature's check at start (notice_sms_fits, conf.c) takes a signature exactly when
 * every SMS can be written under it: each case event of each kind, each appointment event,
 * with the longest values (a long number, item and place; a day of two digits each). It
 * once checked only the case texts, and took signatures that made every appointment-refused
 * SMS fail.
 */
static void
sms_signature_check_covers_every_text(void **state)
{
	static const char *const kinds[] = {"consultation", "complaint", "unresolved", "other"};
	static const char *const appt_events[] = {"booked", "refused", "reminder", "code"};
	char sig[3 * 40 + 1] = "";
	struct notice n;
	struct buf b;
	size_t i, k;
	int len, all, fits;

	(void)state;
	buf_init(&b, 4096);
	for (len = 1; len <= 40; len++) {
		strcat(sig, "县");
		all = 1;
		for (i = 0; i < sizeof(events) / sizeof(events[0]); i++)
			for (k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
				notice_fill(&n, events[i], kinds[k]);
				all = all && notice_sms_text(&b, &n, sig) == 0;
			}
		for (i = 0; i < sizeof(appt_events) / sizeof(appt_events[0]); i++) {
			appt_fill(&n, appt_events[i]);
			snprintf(n.item_name, sizeof(n.item_name), "不动产登记（二手房转移登记及抵押登记合并办理）");
			snprintf(n.place, sizeof(n.place), "星沙街道政务服务中心二楼东侧不动产登记与户籍综合受理区 7 号窗口");
			snprintf(n.date, sizeof(n.date), "2026-12-28");
			snprintf(n.start, sizeof(n.start), "10:30");
			all = all && notice_sms_text(&b, &n, sig) == 0;
		}
		fits = notice_sms_fits(sig);
		if (fits != all)
			fail_msg("a signature of %d characters: the check says it %s, but %s", len,
			    fits ? "fits" : "does not fit", all ? "every SMS can be written" :
			    "some SMS cannot be written under it");
	}
	/* the example's passes; 29 characters fit no appointment refused */
	assert_true(notice_sms_fits("长沙县政务服务"));
	assert_false(notice_sms_fits("长沙县星沙街道政务服务中心便民服务窗口办件进度通知短信平台"));
	buf_free(&b);
}

static void
appt_mail_lists_what_seed_4_asks(void **state)
{
	char subject[512];
	struct notice n;
	struct buf b;
	char *body;

	(void)state;
	buf_init(&b, 256 * 1024);
	appt_fill(&n, "booked");
	assert_int_equal(notice_mail(&b, &n, "notice@county.example.cn", "长沙县政务服务",
	    1790000000), 0);
	mail_subject(b.data, subject, sizeof(subject));
	assert_string_equal(subject, "【长沙县政务服务】您的预约 43012100100126120500042K 已预约");
	body = mail_body(b.data);
	assert_true(utf8_valid(body, strlen(body)));
	assert_non_null(strstr(body, "预约号：43012100100126120500042K\r\n"));
	assert_non_null(strstr(body, "预约人：张三\r\n"));
	assert_non_null(strstr(body, "预约时间：2026-12-08 09:00-09:30\r\n"));
	assert_non_null(strstr(body, "办理地点：一楼 2 号窗口\r\n"));
	assert_non_null(strstr(body, "预约内容：居民身份证申领\r\n"));

	appt_fill(&n, "refused");
	n.note = "当日窗口设备检修，请改约其他时间。";
	assert_int_equal(notice_mail(&b, &n, "notice@county.example.cn", "长沙县政务服务",
	    1790000000), 0);
	mail_subject(b.data, subject, sizeof(subject));
	assert_non_null(strstr(subject, "未同意"));
	body = mail_body(b.data);
	assert_non_null(strstr(body, "未获同意"));
	assert_non_null(strstr(body, "原因：\r\n当日窗口设备检修"));

	appt_fill(&n, "reminder");
	assert_int_equal(notice_mail(&b, &n, "notice@county.example.cn", "长沙县政务服务",
	    1790000000), 0);
	body = mail_body(b.data);
	assert_non_null(strstr(body, "将于 2026-12-08 09:00 办理"));
	assert_non_null(strstr(body, "办理地点：一楼 2 号窗口"));
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
		cmocka_unit_test(appt_sms_says_number_day_time_and_place),
		cmocka_unit_test(appt_sms_gives_way_for_a_long_place_and_signature),
		cmocka_unit_test(appt_and_case_texts_do_not_mix),
		cmocka_unit_test(sms_signature_check_covers_every_text),
		cmocka_unit_test(appt_mail_lists_what_seed_4_asks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
