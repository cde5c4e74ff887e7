/*
 * fcgi/sms/sms_body.c: the reference SMS gateway's body, {"id","to","text"}, read by
 * kv_parse_json and checked as a message, with tables of good and bad inputs.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "sms.h"

/* kv_parse_json then sms_body_check: 0 with m filled, or -1 with why (status, field). */
static int
check(const char *body, struct sms_msg *m, struct sms_refusal *why)
{
	struct kvlist in;
	int rc;

	assert_int_equal(kv_parse_json(body, strlen(body), &in), PARSE_OK);
	memset(why, 0, sizeof(*why));
	rc = sms_body_check(&in, m, why);
	kv_free(&in);
	return rc;
}

/* A text of n code points: the signature, then 中 up to n. */
static char *
text_of(size_t n)
{
	static const char sig[] = "【长沙县政务服务】";	/* 9 code points */
	char *s = malloc(n * 3 + 1), *p = s;
	size_t i;

	assert_non_null(s);
	assert_true(n >= 9);
	p += sprintf(p, "%s", sig);
	for (i = 9; i < n; i++)
		p += sprintf(p, "中");
	return s;
}

static void
test_good(void **state)
{
	static const char *const good[] = {
		"{\"id\":\"9b2f4c1e-0d7a-4a51-9a0e-2d1c4b7f8e10\",\"to\":\"13812345678\","
		"\"text\":\"【长沙县政务服务】您的咨询已答复。\"}",
		"{\"text\":\"x\",\"to\":\"19900000000\",\"id\":\"a\"}",
		/* null members are absent, a line break is allowed, escapes are read */
		"{\"id\":\"~!#$%&'()*+,-./:;<=>?@[]^_`{|}\",\"to\":\"13000000000\",\"text\":"
		"\"a\\nb \\u4e2d\",\"extra\":null}",
	};
	struct sms_refusal why;
	struct sms_msg m;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (check(good[i], &m, &why) != 0)
			fail_msg("refused %s: %s (%s)", good[i], why.code, why.field);
	}
	assert_string_equal(m.to, "13000000000");
	assert_string_equal(m.text, "a\nb 中");
}

static void
test_bad(void **state)
{
	static const struct {
		const char *body, *field, *code;
	} bad[] = {
		{"{\"to\":\"13812345678\",\"text\":\"x\"}", "id", "required"},
		{"{\"id\":\"\",\"to\":\"13812345678\",\"text\":\"x\"}", "id", "required"},
		{"{\"id\":1,\"to\":\"13812345678\",\"text\":\"x\"}", "id", "invalid_type"},
		{"{\"id\":\"a b\",\"to\":\"13812345678\",\"text\":\"x\"}", "id", "invalid"},
		{"{\"id\":\"\\u4e2d\",\"to\":\"13812345678\",\"text\":\"x\"}", "id", "invalid"},
		{"{\"id\":\"a\\u007f\",\"to\":\"13812345678\",\"text\":\"x\"}", "id", "invalid"},
		{"{\"id\":\"a\",\"text\":\"x\"}", "to", "required"},
		{"{\"id\":\"a\",\"to\":13812345678,\"text\":\"x\"}", "to", "invalid_type"},
		/* a landline, a 12th digit, +86, a second digit of 2, spaces */
		{"{\"id\":\"a\",\"to\":\"073184123456\",\"text\":\"x\"}", "to", "invalid"},
		{"{\"id\":\"a\",\"to\":\"0731-84123456\",\"text\":\"x\"}", "to", "invalid"},
		{"{\"id\":\"a\",\"to\":\"138123456789\",\"text\":\"x\"}", "to", "invalid"},
		{"{\"id\":\"a\",\"to\":\"+8613812345678\",\"text\":\"x\"}", "to", "invalid"},
		{"{\"id\":\"a\",\"to\":\"12812345678\",\"text\":\"x\"}", "to", "invalid"},
		{"{\"id\":\"a\",\"to\":\"138 1234 5678\",\"text\":\"x\"}", "to", "invalid"},
		{"{\"id\":\"a\",\"to\":\"13812345678\"}", "text", "required"},
		{"{\"id\":\"a\",\"to\":\"13812345678\",\"text\":\"\"}", "text", "required"},
		{"{\"id\":\"a\",\"to\":\"13812345678\",\"text\":\"a\\tb\"}", "text", "invalid"},
		{"{\"id\":\"a\",\"to\":\"13812345678\",\"text\":\"a\\u0085\"}", "text", "invalid"},
		{"{\"id\":\"a\",\"to\":\"13812345678\",\"text\":\"x\",\"cc\":\"1\"}", "cc",
		    "unknown_field"},
	};
	struct sms_refusal why;
	struct sms_msg m;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (check(bad[i].body, &m, &why) != -1)
			fail_msg("took %s", bad[i].body);
		if (why.status != 422 || why.field == NULL || strcmp(why.field, bad[i].field) != 0 ||
		    strcmp(why.code, bad[i].code) != 0)
			fail_msg("%s: %d %s %s, expected 422 %s %s", bad[i].body, why.status, why.code,
			    why.field ? why.field : "(none)", bad[i].code, bad[i].field);
		assert_non_null(why.message);
	}
}

/* 70 code points (each 3 bytes here) are taken; 71 are not. */
static void
test_text_length_in_code_points(void **state)
{
	struct sms_refusal why;
	struct sms_msg m;
	char body[1024], *t;

	(void)state;
	t = text_of(70);
	snprintf(body, sizeof(body), "{\"id\":\"a\",\"to\":\"13812345678\",\"text\":\"%s\"}", t);
	assert_int_equal(check(body, &m, &why), 0);
	assert_string_equal(m.text, t);
	free(t);
	t = text_of(71);
	snprintf(body, sizeof(body), "{\"id\":\"a\",\"to\":\"13812345678\",\"text\":\"%s\"}", t);
	assert_int_equal(check(body, &m, &why), -1);
	assert_string_equal(why.code, "too_long");
	assert_string_equal(why.field, "text");
	free(t);
	/* 70 four-byte characters: 280 bytes, the most a text takes */
	{
		char text[4 * 70 + 1] = "";

		for (int i = 0; i < 70; i++)
			strcat(text, "\xf0\x9f\x98\x80");
		snprintf(body, sizeof(body), "{\"id\":\"a\",\"to\":\"13812345678\",\"text\":\"%s\"}",
		    text);
		assert_int_equal(check(body, &m, &why), 0);
		assert_int_equal(strlen(m.text), 280);
	}
}

static void
test_id_length(void **state)
{
	struct sms_refusal why;
	struct sms_msg m;
	char body[256], id[66];

	(void)state;
	memset(id, 'x', 64);
	id[64] = '\0';
	snprintf(body, sizeof(body), "{\"id\":\"%s\",\"to\":\"13812345678\",\"text\":\"x\"}", id);
	assert_int_equal(check(body, &m, &why), 0);
	assert_string_equal(m.id, id);
	id[64] = 'x';
	id[65] = '\0';
	snprintf(body, sizeof(body), "{\"id\":\"%s\",\"to\":\"13812345678\",\"text\":\"x\"}", id);
	assert_int_equal(check(body, &m, &why), -1);
	assert_string_equal(why.field, "id");
}

static void
test_mobile(void **state)
{
	static const char *const yes[] = {"13000000000", "15912345678", "19999999999"};
	static const char *const no[] = {"", "1381234567", "138123456789", "10812345678",
		"23812345678", "1381234567a", "073184123456", "1381234567\n"};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		assert_true(sms_mobile_valid(yes[i]));
	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		assert_false(sms_mobile_valid(no[i]));
	assert_false(sms_mobile_valid(NULL));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_text_length_in_code_points),
		cmocka_unit_test(test_id_length),
		cmocka_unit_test(test_mobile),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
