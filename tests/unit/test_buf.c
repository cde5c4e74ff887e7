/*
 * lib/core/buf.c: the bounded buffer (its hard cap, failure that sticks, buf_take), the two
 * escaping writers (buf_html for pages, buf_json_str for JSON) and the small helpers built on
 * them, as tables of inputs and expected outputs in the manner of kcgi's tests; then every
 * allocation of a sequence of appends failed in turn (fail_alloc.h), checking that the buffer
 * reports the failure and holds nothing. The SANITIZE=1 build checks that nothing leaks.
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

/* A failed buffer holds nothing, and stays failed. */
static void
assert_failed(struct buf *b)
{
	assert_int_equal(b->failed, 1);
	assert_null(b->data);
	assert_int_equal(b->len, 0);
	assert_int_equal(b->cap, 0);
	assert_int_equal(buf_addc(b, 'x'), -1);
	assert_int_equal(buf_adds(b, ""), -1);
	assert_int_equal(buf_printf(b, "%d", 1), -1);
	assert_null(buf_take(b, NULL));
	assert_null(b->data);
}

/* A good buffer holds exactly want, NUL-terminated, within its cap. */
static void
assert_holds(const struct buf *b, const char *want)
{
	assert_int_equal(b->failed, 0);
	assert_non_null(b->data);
	assert_int_equal(b->len, strlen(want));
	assert_memory_equal(b->data, want, b->len);
	assert_int_equal(b->data[b->len], '\0');
	assert_true(b->len < b->cap);
	assert_true(b->cap <= b->max + 1);
}

enum op { OP_END, OP_ADD, OP_ADDS, OP_ADDC, OP_PRINTF };

struct step {
	enum op op;
	const char *s;	/* OP_ADDC: its first byte; OP_PRINTF: "<%s>" of it */
	int want;	/* the append's return */
};

struct cap_case {
	size_t max;
	struct step steps[6];
	const char *want;	/* NULL: the buffer failed */
};

static const struct cap_case cap_cases[] = {
	{10, {{OP_ADDS, "0123456789", 0}}, "0123456789"},
	{10, {{OP_ADDS, "01234", 0}, {OP_ADD, "56789", 0}}, "0123456789"},
	/* one byte past the cap frees what was there; later appends fail, even empty ones */
	{10, {{OP_ADDS, "01234", 0}, {OP_ADD, "56789", 0}, {OP_ADDC, "x", -1}, {OP_ADDS, "", -1},
	    {OP_ADD, "y", -1}}, NULL},
	{4, {{OP_ADDS, "abcde", -1}, {OP_ADDS, "a", -1}}, NULL},
	{3, {{OP_ADDC, "a", 0}, {OP_ADDC, "b", 0}, {OP_ADDC, "c", 0}}, "abc"},
	{3, {{OP_ADDC, "a", 0}, {OP_ADDC, "b", 0}, {OP_ADDC, "c", 0}, {OP_ADDC, "d", -1}}, NULL},
	{0, {{OP_ADDS, "", 0}, {OP_ADD, "", 0}}, ""},
	{0, {{OP_ADDC, "a", -1}}, NULL},
	/* buf_printf counts first: a result over the cap fails without writing any of it */
	{8, {{OP_PRINTF, "abcdef", 0}}, "<abcdef>"},
	{8, {{OP_PRINTF, "abcdefg", -1}}, NULL},
	{8, {{OP_ADDS, "ab", 0}, {OP_PRINTF, "", 0}, {OP_PRINTF, "ab", 0}}, "ab<><ab>"},
	{8, {{OP_ADDS, "ab", 0}, {OP_PRINTF, "", 0}, {OP_PRINTF, "abc", -1}}, NULL},
	{100, {{OP_ADDS, "政务", 0}, {OP_PRINTF, "服务", 0}}, "政务<服务>"},
	{6, {{OP_ADDS, "政务", 0}, {OP_ADDC, "x", -1}}, NULL},
};

static int
step_run(struct buf *b, const struct step *s)
{
	switch (s->op) {
	case OP_ADD: return buf_add(b, s->s, strlen(s->s));
	case OP_ADDS: return buf_adds(b, s->s);
	case OP_ADDC: return buf_addc(b, s->s[0]);
	case OP_PRINTF: return buf_printf(b, "<%s>", s->s);
	case OP_END: break;
	}
	return 0;
}

static void
test_caps(void **state)
{
	size_t i, j, len;
	struct buf b;
	char *p;

	(void)state;
	for (i = 0; i < sizeof(cap_cases) / sizeof(cap_cases[0]); i++) {
		const struct cap_case *c = &cap_cases[i];

		buf_init(&b, c->max);
		for (j = 0; c->steps[j].op != OP_END; j++)
			if (step_run(&b, &c->steps[j]) != c->steps[j].want)
				fail_msg("case %zu step %zu: want %d", i, j, c->steps[j].want);
		if (c->want == NULL) {
			assert_failed(&b);
			buf_free(&b);
			continue;
		}
		assert_holds(&b, c->want);
		/* take hands the text out and leaves an empty buffer that can be used again */
		p = buf_take(&b, &len);
		assert_non_null(p);
		assert_int_equal(len, strlen(c->want));
		assert_string_equal(p, c->want);
		free(p);
		assert_null(b.data);
		assert_int_equal(b.len, 0);
		assert_int_equal(b.cap, 0);
		assert_int_equal(b.failed, 0);
		if (c->max > 0) {
			assert_int_equal(buf_addc(&b, 'z'), 0);
			assert_holds(&b, "z");
		}
		buf_free(&b);
	}
}

/* Growth by doubling from 256 never allocates past max + 1, and the cap is exact. */
static void
test_growth(void **state)
{
	static const size_t maxes[] = {1, 255, 256, 257, 1000, 4096, 5000};
	size_t i, j;
	struct buf b;

	(void)state;
	for (i = 0; i < sizeof(maxes) / sizeof(maxes[0]); i++) {
		buf_init(&b, maxes[i]);
		for (j = 0; j < maxes[i]; j++) {
			assert_int_equal(buf_addc(&b, (char)('a' + j % 26)), 0);
			assert_int_equal(b.len, j + 1);
			assert_int_equal(b.data[b.len], '\0');
			assert_true(b.cap <= maxes[i] + 1);
		}
		for (j = 0; j < b.len; j++)
			assert_int_equal(b.data[j], 'a' + j % 26);
		assert_int_equal(buf_addc(&b, 'x'), -1);
		assert_failed(&b);
		buf_free(&b);
	}
}

static void
test_take(void **state)
{
	struct buf b;
	size_t len = 99;
	char *p;

	(void)state;
	/* an empty buffer's text is "", never NULL */
	buf_init(&b, 10);
	p = buf_take(&b, &len);
	assert_non_null(p);
	assert_string_equal(p, "");
	assert_int_equal(len, 0);
	free(p);
	buf_init(&b, 0);
	p = buf_take(&b, NULL);
	assert_string_equal(p, "");
	free(p);
	/* a buffer emptied by reset gives "" too, not its old text */
	buf_init(&b, 10);
	assert_int_equal(buf_adds(&b, "abc"), 0);
	buf_reset(&b);
	p = buf_take(&b, &len);
	assert_string_equal(p, "");
	assert_int_equal(len, 0);
	free(p);
	/* reset clears a failure: the buffer can be written again */
	buf_init(&b, 2);
	assert_int_equal(buf_adds(&b, "abc"), -1);
	assert_failed(&b);
	buf_reset(&b);
	assert_int_equal(buf_adds(&b, "ab"), 0);
	assert_holds(&b, "ab");
	buf_free(&b);
	buf_free(&b);
	buf_free(NULL);
}

struct esc_case {
	const char *in, *want;
};

static const struct esc_case html_cases[] = {
	{"", ""},
	{"plain text 123", "plain text 123"},
	{"a & b", "a &amp; b"},
	{"<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"},
	{"\"quoted\" 'single'", "&quot;quoted&quot; &#39;single&#39;"},
	{"&<>\"'", "&amp;&lt;&gt;&quot;&#39;"},
	{"&amp;", "&amp;amp;"},	/* text, never markup: no entity passes through */
	{"<", "&lt;"},
	{"x>", "x&gt;"},
	{"长沙县星沙街道政务服务中心", "长沙县星沙街道政务服务中心"},
	{"“引号”与<标签>", "“引号”与&lt;标签&gt;"},
	{"a\nb\tc/=`", "a\nb\tc/=`"},
};

static void
test_html(void **state)
{
	size_t i;
	struct buf b;

	(void)state;
	for (i = 0; i < sizeof(html_cases) / sizeof(html_cases[0]); i++) {
		buf_init(&b, 1024);
		assert_int_equal(buf_adds(&b, "["), 0);
		assert_int_equal(buf_html(&b, html_cases[i].in), 0);
		assert_int_equal(buf_adds(&b, "]"), 0);
		if (strncmp(b.data + 1, html_cases[i].want, b.len - 2) != 0 ||
		    b.len - 2 != strlen(html_cases[i].want))
			fail_msg("case %zu \"%s\": \"%s\"", i, html_cases[i].in, b.data);
		buf_free(&b);
	}
	/* an escape that does not fit fails the buffer rather than truncating the entity */
	buf_init(&b, 6);
	assert_int_equal(buf_html(&b, "ab&"), -1);
	assert_failed(&b);
	buf_init(&b, 6);
	assert_int_equal(buf_html(&b, "a&"), 0);
	assert_holds(&b, "a&amp;");
	buf_free(&b);
}

/*
 * What buf_json_str promises: a JSON string (RFC 8259) of valid UTF-8 text, with < > &
 * escaped as well so that JSON set inside a page never closes a script element. Other text,
 * U+2028 and U+2029 included (valid in JSON, and in JavaScript since ES2019), is kept as is.
 */
static const struct esc_case json_cases[] = {
	{"", "\"\""},
	{"plain", "\"plain\""},
	{"say \"hi\"", "\"say \\\"hi\\\"\""},
	{"a\\b", "\"a\\\\b\""},
	{"\\\"", "\"\\\\\\\"\""},
	{"1\n2\r3\t4", "\"1\\n2\\r3\\t4\""},
	{"\b\f", "\"\\u0008\\u000c\""},
	{"\x01\x1f x", "\"\\u0001\\u001f x\""},
	{"\x7f", "\"\x7f\""},
	{"</script>", "\"\\u003c/script\\u003e\""},
	{"a&b", "\"a\\u0026b\""},
	{"/", "\"/\""},
	{"窗口服务态度", "\"窗口服务态度\""},
	{"他说：“明天再来”\n", "\"他说：“明天再来”\\n\""},
	{"\xe2\x80\xa8|\xe2\x80\xa9", "\"\xe2\x80\xa8|\xe2\x80\xa9\""},
	{"\xf0\x9f\x98\x80", "\"\xf0\x9f\x98\x80\""},
};

static void
test_json_str(void **state)
{
	json_error_t jerr;
	json_t *j;
	size_t i;
	struct buf b;

	(void)state;
	for (i = 0; i < sizeof(json_cases) / sizeof(json_cases[0]); i++) {
		buf_init(&b, 1024);
		assert_int_equal(buf_json_str(&b, json_cases[i].in), 0);
		if (strcmp(b.data, json_cases[i].want) != 0)
			fail_msg("case %zu: \"%s\", want \"%s\"", i, b.data, json_cases[i].want);
		/* and a JSON parser reads back exactly the text */
		if ((j = json_loads(b.data, JSON_DECODE_ANY, &jerr)) == NULL)
			fail_msg("case %zu: %s is not JSON: %s", i, b.data, jerr.text);
		assert_true(json_is_string(j));
		assert_int_equal(json_string_length(j), strlen(json_cases[i].in));
		assert_string_equal(json_string_value(j), json_cases[i].in);
		json_decref(j);
		buf_free(&b);
	}
	/* an escape that does not fit fails the buffer */
	buf_init(&b, 7);
	assert_int_equal(buf_json_str(&b, "<"), -1);
	assert_failed(&b);
	buf_init(&b, 8);
	assert_int_equal(buf_json_str(&b, "<"), 0);
	assert_holds(&b, "\"\\u003c\"");
	buf_free(&b);
}

struct member_case {
	const char *name;
	const char *value;	/* buf_json_member */
	time_t t;		/* buf_json_time, when value is "" and t != -1 */
	const char *want;
};

static const struct member_case member_cases[] = {
	{"email", NULL, -1, ",\"email\":null"},
	{"subject", "窗口", -1, ",\"subject\":\"窗口\""},
	{"empty", "", -1, ",\"empty\":\"\""},
	{"q", "\"<x>\"", -1, ",\"q\":\"\\\"\\u003cx\\u003e\\\"\""},
	{"due_at", "", 0, ",\"due_at\":null"},
	{"due_at", "", 1790092799, ",\"due_at\":\"2026-09-22T23:59:59+08:00\""},
	{"at", "", 1790092800, ",\"at\":\"2026-09-23T00:00:00+08:00\""},
	{"at", "", 1, ",\"at\":\"1970-01-01T08:00:01+08:00\""},
	{"at", "", 1735660800, ",\"at\":\"2025-01-01T00:00:00+08:00\""},
};

static void
test_member(void **state)
{
	json_error_t jerr;
	json_t *j;
	size_t i;
	struct buf b, all;

	(void)state;
	buf_init(&all, 4096);
	buf_adds(&all, "{\"first\":1");
	for (i = 0; i < sizeof(member_cases) / sizeof(member_cases[0]); i++) {
		const struct member_case *c = &member_cases[i];

		buf_init(&b, 1024);
		if (c->t != -1)
			assert_int_equal(buf_json_time(&b, c->name, c->t), 0);
		else
			assert_int_equal(buf_json_member(&b, c->name, c->value), 0);
		if (strcmp(b.data, c->want) != 0)
			fail_msg("case %zu: %s, want %s", i, b.data, c->want);
		if (i < 4)	/* the members of one object must have distinct names */
			buf_adds(&all, b.data);
		buf_free(&b);
	}
	buf_adds(&all, "}");
	assert_non_null(j = json_loads(all.data, 0, &jerr));
	assert_true(json_is_null(json_object_get(j, "email")));
	assert_string_equal(json_string_value(json_object_get(j, "q")), "\"<x>\"");
	json_decref(j);
	buf_free(&all);
	/* a member that does not fit fails the buffer, whichever part overflows */
	for (i = 0; i < strlen(",\"a\":null"); i++) {
		buf_init(&b, i);
		assert_int_equal(buf_json_member(&b, "a", NULL), -1);
		assert_failed(&b);
	}
}

struct line_case {
	const char *in;
	const char *want[4];	/* NULL-terminated */
};

static const struct line_case line_cases[] = {
	{"", {NULL}},
	{"\n\n\r\n", {NULL}},
	{"one", {"one", NULL}},
	{"one\n", {"one", NULL}},
	{"a\nb", {"a", "b", NULL}},
	{"a\r\nb\r\n", {"a", "b", NULL}},
	{"\n\n a \n\n", {" a ", NULL}},
	{"x\r", {"x", NULL}},
	{"a\rb\n", {"a\rb", NULL}},	/* only a CR before the LF is part of the line end */
	{"a\r\r\n", {"a\r", NULL}},
	{"第一行\r\n\r\n第二行", {"第一行", "第二行", NULL}},
};

static void
test_next_line(void **state)
{
	size_t i, j;

	(void)state;
	for (i = 0; i < sizeof(line_cases) / sizeof(line_cases[0]); i++) {
		const char *cur = line_cases[i].in;
		char *line;

		for (j = 0; line_cases[i].want[j] != NULL; j++) {
			if ((line = text_next_line(&cur)) == NULL)
				fail_msg("case %zu: line %zu missing", i, j);
			if (strcmp(line, line_cases[i].want[j]) != 0)
				fail_msg("case %zu line %zu: \"%s\"", i, j, line);
			free(line);
		}
		assert_null(text_next_line(&cur));
		assert_ptr_equal(cur, line_cases[i].in + strlen(line_cases[i].in));
		assert_null(text_next_line(&cur));
	}
}

/*
 * A sequence that uses every writer and grows the buffer from nothing past several doublings;
 * rc[] gets each append's return. Returns the number of appends.
 */
static size_t
appends(struct buf *b, int *rc)
{
	size_t n = 0;
	int i;

	for (i = 0; i < 30; i++) {
		rc[n++] = buf_adds(b, "plain, ");
		rc[n++] = buf_html(b, "<b>&\"'</b> 中文");
		rc[n++] = buf_json_str(b, "引号\"\n\x01<");
		rc[n++] = buf_printf(b, " %d;", i);
		rc[n++] = buf_json_member(b, "m", i % 2 ? NULL : "v");
		rc[n++] = buf_json_time(b, "t", i % 2 ? 0 : 1790092799);
		rc[n++] = buf_addc(b, '\n');
	}
	return n;
}

static void
test_alloc_fails(void **state)
{
	int rc[256];
	unsigned long calls, nth;
	size_t i, n, len;
	struct buf b;
	char *want, *p;

	(void)state;
	/* count the allocations, and keep the text a run without failures makes */
	buf_init(&b, 1 << 20);
	fail_arm(0);
	n = appends(&b, rc);
	calls = fail_disarm();
	for (i = 0; i < n; i++)
		assert_int_equal(rc[i], 0);
	assert_true(calls >= 4);	/* else the --wrap is not in the link: nothing would fail */
	want = buf_take(&b, &len);
	assert_true(len > 2048);

	for (nth = 1; nth <= calls + 1; nth++) {
		buf_init(&b, 1 << 20);
		fail_arm(nth);
		n = appends(&b, rc);
		fail_disarm();
		if (nth > calls) {
			assert_holds(&b, want);
			buf_free(&b);
			break;
		}
		/* every append succeeds up to the one that failed, and none after it */
		for (i = 0; i < n && rc[i] == 0; i++)
			;
		if (i == n)
			fail_msg("allocation %lu of %lu failed, yet every append succeeded", nth,
			    calls);
		for (; i < n; i++)
			if (rc[i] != -1)
				fail_msg("allocation %lu failed: append %zu after it succeeded",
				    nth, i);
		assert_failed(&b);
		buf_free(&b);
	}

	/* buf_take allocates for a buffer never written: its failure is a NULL, not a crash */
	buf_init(&b, 10);
	fail_arm(1);
	p = buf_take(&b, &len);
	fail_disarm();
	assert_null(p);
	assert_failed(&b);
	free(want);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_caps),
	    cmocka_unit_test(test_growth),
	    cmocka_unit_test(test_take),
	    cmocka_unit_test(test_html),
	    cmocka_unit_test(test_json_str),
	    cmocka_unit_test(test_member),
	    cmocka_unit_test(test_next_line),
	    cmocka_unit_test(test_alloc_fails),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
