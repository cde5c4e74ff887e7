/*
 * lib/core/record.c: the JSON of records as they go upstream (SPEC 5.3) and of the hall's
 * contact data, as tables of inputs and the exact bytes expected: the outbox keeps these
 * bytes and every retry sends them again, so they must not vary. Each output is also read
 * back with jansson. Then every allocation of each writer is failed in turn (fail_alloc.h).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>

#include "core.h"
#include "fail_alloc.h"

#define HALL "430102001001"
#define CASENO "4301020010011XY19FADYNT"
#define T_SUBMIT ((time_t)1790064000)	/* 2026-09-22T16:00:00+08:00 */
#define T_DUE ((time_t)1790524799)	/* 2026-09-27T23:59:59+08:00 */

struct case_case {
	struct case_new c;
	time_t submitted, due;
	int provisional;
	const char *want;
};

static const struct case_case case_cases[] = {
	{{"complaint", NULL, "窗口服务态度", "他说：\"明天再来\"\n<b>", "张三", "13800138000", NULL,
	     "户籍迁移", "星沙街道户籍窗口", NULL, NULL, NULL, 0},
	    T_SUBMIT, T_DUE, 0,
	    "{\"id\":\"" HALL "-C1234\",\"type\":\"case\",\"hall_code\":\"" HALL "\","
	    "\"case_no\":\"" CASENO "\",\"at\":\"2026-09-22T16:00:00+08:00\","
	    "\"kind\":\"complaint\",\"category\":null,\"channel\":\"online\","
	    "\"subject\":\"窗口服务态度\",\"body\":\"他说：\\\"明天再来\\\"\\n\\u003cb\\u003e\","
	    "\"name\":\"张三\",\"phone\":\"13800138000\",\"email\":null,\"item\":\"户籍迁移\","
	    "\"target\":\"星沙街道户籍窗口\",\"submitted_at\":\"2026-09-22T16:00:00+08:00\","
	    "\"due_at\":\"2026-09-27T23:59:59+08:00\",\"due_provisional\":false}"},
	/* optional fields absent are null, never left out; no due date yet is null too */
	{{"consultation", "policy", "社保", "如何办理？", NULL, NULL, NULL, NULL, NULL, "k1", NULL, NULL, 0},
	    T_SUBMIT, 0, 1,
	    "{\"id\":\"" HALL "-C1234\",\"type\":\"case\",\"hall_code\":\"" HALL "\","
	    "\"case_no\":\"" CASENO "\",\"at\":\"2026-09-22T16:00:00+08:00\","
	    "\"kind\":\"consultation\",\"category\":\"policy\",\"channel\":\"online\","
	    "\"subject\":\"社保\",\"body\":\"如何办理？\",\"name\":null,\"phone\":null,"
	    "\"email\":null,\"item\":null,\"target\":null,"
	    "\"submitted_at\":\"2026-09-22T16:00:00+08:00\",\"due_at\":null,"
	    "\"due_provisional\":true}"},
	{{"unresolved", NULL, "a\\b\t", "\x01", "", "", "x@example.cn", "", "", NULL, NULL, NULL, 0},
	    T_SUBMIT, T_DUE, 1,
	    "{\"id\":\"" HALL "-C1234\",\"type\":\"case\",\"hall_code\":\"" HALL "\","
	    "\"case_no\":\"" CASENO "\",\"at\":\"2026-09-22T16:00:00+08:00\","
	    "\"kind\":\"unresolved\",\"category\":null,\"channel\":\"online\","
	    "\"subject\":\"a\\\\b\\t\",\"body\":\"\\u0001\",\"name\":\"\",\"phone\":\"\","
	    "\"email\":\"x@example.cn\",\"item\":\"\",\"target\":\"\","
	    "\"submitted_at\":\"2026-09-22T16:00:00+08:00\","
	    "\"due_at\":\"2026-09-27T23:59:59+08:00\",\"due_provisional\":true}"},
	/* registered at the hall's window (SPEC 4.4): its channel, and its registrar after it */
	{{"unresolved", NULL, "没办成", "跑了三次", "李四", "13712345678", NULL, NULL, "不动产窗口",
	     NULL, "phone", "window_demo", 0},
	    T_SUBMIT, T_DUE, 0,
	    "{\"id\":\"" HALL "-C1234\",\"type\":\"case\",\"hall_code\":\"" HALL "\","
	    "\"case_no\":\"" CASENO "\",\"at\":\"2026-09-22T16:00:00+08:00\","
	    "\"kind\":\"unresolved\",\"category\":null,\"channel\":\"phone\","
	    "\"registrar\":\"window_demo\",\"subject\":\"没办成\",\"body\":\"跑了三次\","
	    "\"name\":\"李四\",\"phone\":\"13712345678\",\"email\":null,\"item\":null,"
	    "\"target\":\"不动产窗口\",\"submitted_at\":\"2026-09-22T16:00:00+08:00\","
	    "\"due_at\":\"2026-09-27T23:59:59+08:00\",\"due_provisional\":false}"},
};

/* o's member name is the string value, or null when value is NULL. */
static void
assert_member(const json_t *o, const char *name, const char *value)
{
	const json_t *m = json_object_get(o, name);

	if (m == NULL)
		fail_msg("member %s missing", name);
	if (value == NULL) {
		if (!json_is_null(m))
			fail_msg("member %s is not null", name);
		return;
	}
	if (!json_is_string(m) || strcmp(json_string_value(m), value) != 0)
		fail_msg("member %s is not \"%s\"", name, value);
}

static json_t *
parse(const char *s)
{
	json_error_t jerr;
	json_t *j;

	if ((j = json_loads(s, JSON_REJECT_DUPLICATES, &jerr)) == NULL)
		fail_msg("not JSON (%s): %s", jerr.text, s);
	assert_true(json_is_object(j));
	return j;
}

static int
write_case(struct buf *b, const struct case_case *c)
{
	return record_case_json(b, HALL "-C1234", HALL, CASENO, &c->c, c->submitted, c->due,
	    c->provisional, NULL);
}

static void
test_case_json(void **state)
{
	size_t i;
	struct buf b;
	json_t *j;

	(void)state;
	for (i = 0; i < sizeof(case_cases) / sizeof(case_cases[0]); i++) {
		const struct case_case *c = &case_cases[i];

		buf_init(&b, 64 * 1024);
		assert_int_equal(write_case(&b, c), 0);
		if (strcmp(b.data, c->want) != 0)
			fail_msg("case %zu:\n%s\nwant\n%s", i, b.data, c->want);
		j = parse(b.data);
		assert_member(j, "kind", c->c.kind);
		assert_member(j, "category", c->c.category);
		assert_member(j, "subject", c->c.subject);
		assert_member(j, "body", c->c.body);
		assert_member(j, "name", c->c.name);
		assert_member(j, "phone", c->c.phone);
		assert_member(j, "email", c->c.email);
		assert_member(j, "item", c->c.item);
		assert_member(j, "target", c->c.target);
		assert_null(json_object_get(j, "dedup_key"));	/* the hall's own, not sent */
		assert_int_equal(json_is_true(json_object_get(j, "due_provisional")),
		    c->provisional);
		json_decref(j);
		buf_free(&b);
	}
	/* over the buffer's cap: -1 and nothing half written */
	buf_init(&b, strlen(case_cases[0].want) - 1);
	assert_int_equal(write_case(&b, &case_cases[0]), -1);
	assert_true(b.failed);
	assert_null(b.data);
	buf_init(&b, strlen(case_cases[0].want));
	assert_int_equal(write_case(&b, &case_cases[0]), 0);
	buf_free(&b);
}

struct rating_case {
	int level;
	const char *comment;
	const char *want;
};

static const struct rating_case rating_cases[] = {
	{5, NULL,
	    "{\"id\":\"" HALL "-R7\",\"type\":\"rating\",\"hall_code\":\"" HALL "\","
	    "\"case_no\":\"" CASENO "\",\"at\":\"2026-09-22T16:00:00+08:00\",\"level\":5,"
	    "\"comment\":null}"},
	{1, "很不满意：“推来推去”</script>",
	    "{\"id\":\"" HALL "-R7\",\"type\":\"rating\",\"hall_code\":\"" HALL "\","
	    "\"case_no\":\"" CASENO "\",\"at\":\"2026-09-22T16:00:00+08:00\",\"level\":1,"
	    "\"comment\":\"很不满意：“推来推去”\\u003c/script\\u003e\"}"},
	{3, "",
	    "{\"id\":\"" HALL "-R7\",\"type\":\"rating\",\"hall_code\":\"" HALL "\","
	    "\"case_no\":\"" CASENO "\",\"at\":\"2026-09-22T16:00:00+08:00\",\"level\":3,"
	    "\"comment\":\"\"}"},
};

static void
test_rating_json(void **state)
{
	size_t i;
	struct buf b;
	json_t *j;

	(void)state;
	for (i = 0; i < sizeof(rating_cases) / sizeof(rating_cases[0]); i++) {
		const struct rating_case *c = &rating_cases[i];

		buf_init(&b, 64 * 1024);
		assert_int_equal(record_rating_json(&b, HALL "-R7", HALL, CASENO, c->level,
				     c->comment, T_SUBMIT), 0);
		if (strcmp(b.data, c->want) != 0)
			fail_msg("case %zu:\n%s\nwant\n%s", i, b.data, c->want);
		j = parse(b.data);
		assert_member(j, "comment", c->comment);
		assert_int_equal(json_integer_value(json_object_get(j, "level")), c->level);
		json_decref(j);
		buf_free(&b);
	}
}

struct contact_case {
	const char *name, *county, *address, *hours, *phone, *email, *letter_address;
	const char *want;
};

static const struct contact_case contact_cases[] = {
	{"星沙街道便民服务中心", "长沙县", "星沙大道1号（\"老邮局\"旁）",
	    "周一至周五 8:30–12:00, 14:30–17:30", "0731-84012345", NULL, NULL,
	    "{\"hall_code\":\"" HALL "\",\"name\":\"星沙街道便民服务中心\",\"county\":\"长沙县\","
	    "\"address\":\"星沙大道1号（\\\"老邮局\\\"旁）\","
	    "\"hours\":\"周一至周五 8:30–12:00, 14:30–17:30\",\"phone\":\"0731-84012345\","
	    "\"email\":null,\"letter_address\":null}\n"},
	{NULL, NULL, NULL, NULL, NULL, NULL, NULL,
	    "{\"hall_code\":\"" HALL "\",\"name\":null,\"county\":null,\"address\":null,"
	    "\"hours\":null,\"phone\":null,\"email\":null,\"letter_address\":null}\n"},
	{"A&B", "c", "a\nb", "", "1", "hall@example.cn", "邮编 410100\r\n信箱 1 号",
	    "{\"hall_code\":\"" HALL "\",\"name\":\"A\\u0026B\",\"county\":\"c\","
	    "\"address\":\"a\\nb\",\"hours\":\"\",\"phone\":\"1\",\"email\":\"hall@example.cn\","
	    "\"letter_address\":\"邮编 410100\\r\\n信箱 1 号\"}\n"},
};

static void
contact_config(struct hall_config *h, const struct contact_case *c)
{
	memset(h, 0, sizeof(*h));
	memcpy(h->code, HALL, sizeof(h->code));
	/* the config owns its strings; the writer only reads them */
	h->name = (char *)c->name;
	h->county = (char *)c->county;
	h->address = (char *)c->address;
	h->hours = (char *)c->hours;
	h->phone = (char *)c->phone;
	h->email = (char *)c->email;
	h->letter_address = (char *)c->letter_address;
}

static void
test_contact_json(void **state)
{
	struct hall_config h;
	size_t i;
	struct buf b;
	json_t *j;

	(void)state;
	for (i = 0; i < sizeof(contact_cases) / sizeof(contact_cases[0]); i++) {
		const struct contact_case *c = &contact_cases[i];

		contact_config(&h, c);
		buf_init(&b, 64 * 1024);
		assert_int_equal(hall_contact_json(&b, &h), 0);
		if (strcmp(b.data, c->want) != 0)
			fail_msg("case %zu:\n%s\nwant\n%s", i, b.data, c->want);
		j = parse(b.data);
		assert_member(j, "hall_code", HALL);
		assert_member(j, "name", c->name);
		assert_member(j, "address", c->address);
		assert_member(j, "letter_address", c->letter_address);
		json_decref(j);
		buf_free(&b);
	}
}

/* Each writer with a text long enough to grow its buffer several times. */
static char long_text[270 * 11 + 1];

static int
write_long_case(struct buf *b)
{
	struct case_case c = case_cases[0];

	c.c.body = long_text;
	return write_case(b, &c);
}

static int
write_long_rating(struct buf *b)
{
	return record_rating_json(b, HALL "-R7", HALL, CASENO, 1, long_text, T_SUBMIT);
}

static int
write_long_contact(struct buf *b)
{
	struct hall_config h;

	contact_config(&h, &contact_cases[0]);
	h.address = long_text;
	return hall_contact_json(b, &h);
}

static void
test_alloc_fails(void **state)
{
	static int (*const writers[])(struct buf *) = {
	    write_long_case, write_long_rating, write_long_contact};
	unsigned long calls, nth;
	size_t i, len;
	struct buf b;
	char *want;

	(void)state;
	for (i = 0; i < sizeof(long_text) - 1; i++)
		long_text[i] = "政务<>\"&\n"[i % 11];	/* 11 bytes, whole characters */
	for (i = 0; i < sizeof(writers) / sizeof(writers[0]); i++) {
		buf_init(&b, 1 << 20);
		fail_arm(0);
		assert_int_equal(writers[i](&b), 0);
		calls = fail_disarm();
		assert_true(calls >= 3);	/* else the --wrap is not in the link */
		want = buf_take(&b, &len);
		json_decref(parse(want));
		for (nth = 1; nth <= calls; nth++) {
			buf_init(&b, 1 << 20);
			fail_arm(nth);
			if (writers[i](&b) != -1)
				fail_msg("writer %zu: allocation %lu of %lu failed unseen", i, nth,
				    calls);
			fail_disarm();
			assert_true(b.failed);
			assert_null(b.data);
			assert_int_equal(b.len, 0);
			buf_free(&b);
		}
		free(want);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_case_json),
	    cmocka_unit_test(test_rating_json),
	    cmocka_unit_test(test_contact_json),
	    cmocka_unit_test(test_alloc_fails),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
