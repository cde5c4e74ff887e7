/*
 * fcgi/web/validate.c: the field validators and fields_check, as tables of good and bad values.
 * Submissions are built with the real parsers (kv_parse_form, kv_parse_json) so the checks
 * see what a handler would.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "web.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const char *const categories[] = {"policy", "procedure", "public_info", NULL};

/* A consultation, as SPEC 4.2 describes it. */
static const struct field_spec consult[] = {
    {"category", 1, check_choice, 0, categories, "咨询类别"},
    {"subject", 1, check_text, 100, NULL, "标题"},
    {"body", 1, check_multiline, 2000, NULL, "内容"},
    {"name", 1, check_text, 50, NULL, "姓名"},
    {"phone", 1, check_phone, 0, NULL, "联系电话"},
    {"email", 0, check_email, 0, NULL, "电子邮箱"},
    {"item", 0, check_text, 100, NULL, "办理事项"},
};

/* A rating: level may come as a JSON number. */
static const struct field_spec rating[] = {
    {"code", 1, check_code, 0, NULL, "查询码"},
    {"level", 1, check_level, 0, NULL, "评价"},
    {"comment", 0, check_multiline, 500, NULL, "意见"},
};

static const char *const extra[] = {"csrf", "form_key", NULL};

struct vcase {
	const char *v;
	int ok;
};

/* v with bytes outside printable ASCII as \xNN, for failure messages. */
static const char *
esc(const char *v)
{
	static char out[256];
	size_t n = 0;

	for (; *v != '\0' && n + 5 < sizeof(out); v++) {
		unsigned char c = (unsigned char)*v;

		if (c >= 0x20 && c < 0x7f)
			out[n++] = (char)c;
		else
			n += (size_t)snprintf(out + n, sizeof(out) - n, "\\x%02x", c);
	}
	out[n] = '\0';
	return out;
}

static void
check_values(const char *(*fn)(const char *, const struct field_spec *),
             const struct field_spec *spec, const struct vcase *c, size_t n)
{
	const char *msg;
	size_t i;

	for (i = 0; i < n; i++) {
		msg = fn(c[i].v, spec);
		if (c[i].ok && msg != NULL)
			fail_msg("\"%s\" refused: %s", esc(c[i].v), msg);
		if (!c[i].ok && msg == NULL)
			fail_msg("\"%s\" accepted", esc(c[i].v));
		if (msg != NULL && (msg[0] == '\0' || !utf8_valid(msg, strlen(msg))))
			fail_msg("\"%s\": empty or invalid message", esc(c[i].v));
	}
}

#define CHECK_VALUES(fn, spec, c) check_values((fn), (spec), (c), N(c))

static void
test_phone(void **state)
{
	static const struct vcase c[] = {
	    /* mobiles 13x..19x */
	    {"13800138000", 1},
	    {"13912345678", 1},
	    {"14712345678", 1},
	    {"15012345678", 1},
	    {"16612345678", 1},
	    {"17012345678", 1},
	    {"18673100000", 1},
	    {"19912345678", 1},
	    {"+8613800138000", 1},
	    {"+86 138 0013 8000", 1},
	    {"8613800138000", 1},
	    {"138 0013 8000", 1},
	    {" 13800138000 ", 1},
	    /* landlines with area code */
	    {"010-12345678", 1},
	    {"01012345678", 1},
	    {"020-87654321", 1},
	    {"0731-84567890", 1},
	    {"073184567890", 1},
	    {"0731-8456789", 1},
	    {"0743-8221234", 1},
	    {"0731 8456 7890", 1},
	    /* wrong */
	    {"", 0},
	    {"12345678901", 0},
	    {"11012345678", 0},
	    {"10086", 0},
	    {"1380013800", 0},
	    {"138001380001", 0},
	    {"1380013800a", 0},
	    {"abcdefghijk", 0},
	    {"13800138000\n", 0},
	    {"+8612345678901", 0},
	    {"+85213800138000", 0},
	    {"0731-0456789", 0},
	    {"010-0123456", 0},
	    {"0731-845678", 0},
	    {"0731-845678901", 0},
	    {"010-123456789", 0},
	    {"0731--84567890", 0},
	    {"0731-8456789x", 0},
	    {"00731-84567890", 0},
	    {"0", 0},
	    {"07", 0},
	    {"0731", 0},
	    {"0731-", 0},
	    {"-", 0},
	    {"\xef\xbc\x91\xef\xbc\x93\xef\xbc\x98"
	     "00138000",
	     0},
	    {"13800138000138001380001380013800138000138001380001380013800138000", 0},
	};

	(void)state;
	CHECK_VALUES(check_phone, &consult[4], c);
}

static void
test_phone_normalize(void **state)
{
	static const struct {
		const char *in, *want;
	} c[] = {
	    {"+86 138 0013 8000", "13800138000"}, {"+8613800138000", "13800138000"},
	    {"8613800138000", "13800138000"},     {"138 0013 8000", "13800138000"},
	    {"0731 84567890", "073184567890"},    {"0731-84567890", "0731-84567890"},
	    {"13800138000", "13800138000"},
	};
	char buf[64];
	size_t i;

	(void)state;
	for (i = 0; i < N(c); i++) {
		snprintf(buf, sizeof(buf), "%s", c[i].in);
		phone_normalize(buf);
		assert_string_equal(buf, c[i].want);
		assert_null(check_phone(buf, &consult[4]));
	}
}

static void
test_phone_mask(void **state)
{
	static const struct {
		const char *in, *want, *hidden;
	} c[] = {
	    {"13812345678", "138****5678", "1234"},    {"13800138000", "138****8000", "0013"},
	    {"010-12345678", "010-****5678", "1234"},  {"01012345678", "010-****5678", "1234"},
	    {"02087654321", "020-****4321", "8765"},   {"0731-84567890", "0731-****7890", "8456"},
	    {"073184567890", "0731-****7890", "8456"}, {"0731-8456789", "0731-****6789", "845"},
	};
	char out[32];
	size_t i;

	(void)state;
	for (i = 0; i < N(c); i++) {
		memset(out, 'x', sizeof(out));
		phone_mask(out, c[i].in);
		assert_string_equal(out, c[i].want);
		/* the middle digits never show */
		assert_null(strstr(out, c[i].hidden));
	}
	phone_mask(out, "123");
	assert_null(strstr(out, "123"));
	phone_mask(out, "");
	assert_true(strlen(out) < sizeof(out));
}

static void
test_email(void **state)
{
	static const struct vcase c[] = {
	    {"a@b.cn", 1},
	    {"zhang.san@example.com", 1},
	    {"x+tag@mail.hunan.gov.cn", 1},
	    {"a_b-c@d-e.com", 1},
	    {"A@B.CN", 1},
	    {"", 0},
	    {"a", 0},
	    {"a.cn", 0},
	    {"@b.cn", 0},
	    {"a@", 0},
	    {"a@b", 0},
	    {"a@.cn", 0},
	    {"a@b.", 0},
	    {"a@b..cn", 0},
	    {"a@@b.cn", 0},
	    {"a@b@c.cn", 0},
	    {"a b@c.cn", 0},
	    {"a@b.cn ", 0},
	    {"a@b.cn\n", 0},
	    {"a<b@c.cn", 0},
	    {"a>b@c.cn", 0},
	    {"\"a\"@b.cn", 0},
	    {"a,b@c.cn", 0},
	    {"a\tb@c.cn", 0},
	    {"\xe5\xbc\xa0@b.cn", 0}, /* 张@b.cn */
	    {"a@\xe6\xb9\x96\xe5\x8d\x97.cn", 0},
	};
	char s[128];

	(void)state;
	CHECK_VALUES(check_email, &consult[5], c);
	/* at most 100 characters */
	memset(s, 'a', 94);
	memcpy(s + 94, "@b.cn", 6);
	assert_int_equal(strlen(s), 99);
	assert_null(check_email(s, &consult[5]));
	memmove(s + 1, s, 100);
	assert_int_equal(strlen(s), 100);
	assert_null(check_email(s, &consult[5]));
	memmove(s + 1, s, 101);
	assert_int_equal(strlen(s), 101);
	assert_non_null(check_email(s, &consult[5]));
}

static void
test_code(void **state)
{
	static const struct vcase c[] = {
	    {"123456", 1},
	    {"000000", 1},
	    {"999999", 1},
	    {"", 0},
	    {"12345", 0},
	    {"1234567", 0},
	    {"12345a", 0},
	    {"12 456", 0},
	    {"-12345", 0},
	    {"+12345", 0},
	    {"123456\n", 0},
	    {" 123456", 0},
	    {"\xef\xbc\x91\xef\xbc\x92\xef\xbc\x93\xef\xbc\x94\xef\xbc\x95\xef\xbc\x96", 0},
	};

	(void)state;
	CHECK_VALUES(check_code, &rating[0], c);
}

static void
test_level(void **state)
{
	static const struct vcase c[] = {
	    {"1", 1},  {"2", 1},  {"3", 1},   {"4", 1},  {"5", 1},  {"0", 0}, {"6", 0},  {"", 0},
	    {"10", 0}, {"-1", 0}, {"1.0", 0}, {" 1", 0}, {"1 ", 0}, {"a", 0}, {"５", 0}, {"05", 0},
	};

	(void)state;
	CHECK_VALUES(check_level, &rating[1], c);
}

/* n copies of unit */
static char *
repeat(const char *unit, size_t n)
{
	size_t ul = strlen(unit), i;
	char *s = malloc(ul * n + 1);

	assert_non_null(s);
	for (i = 0; i < n; i++)
		memcpy(s + i * ul, unit, ul);
	s[ul * n] = '\0';
	return s;
}

static void
test_text(void **state)
{
	static const struct vcase c[] = {
	    {"hello", 1}, {"住房公积金提取", 1}, {"a b", 1},   {"", 1},
	    {"😀", 1},     {"a\nb", 0},           {"a\rb", 0},  {"a\tb", 0},
	    {"\x01", 0},  {"a\x1b[0m", 0},       {"a\x7f", 0}, {"\x1f", 0},
	};
	const struct field_spec *subject = &consult[1];
	const char *msg;
	char *s;

	(void)state;
	CHECK_VALUES(check_text, subject, c);
	/* max_chars counts code points, not bytes */
	s = repeat("中", 100);
	assert_int_equal(strlen(s), 300);
	assert_null(check_text(s, subject));
	free(s);
	s = repeat("中", 101);
	assert_non_null(msg = check_text(s, subject));
	assert_non_null(strstr(msg, subject->label));
	assert_non_null(strstr(msg, "100"));
	free(s);
	s = repeat("a", 100);
	assert_null(check_text(s, subject));
	free(s);
	s = repeat("a", 101);
	assert_non_null(check_text(s, subject));
	free(s);
	s = repeat("😀", 100);
	assert_null(check_text(s, subject));
	free(s);
	/* max_chars 0: no limit */
	{
		const struct field_spec open = {"x", 0, check_text, 0, NULL, "x"};

		s = repeat("中", 5000);
		assert_null(check_text(s, &open));
		free(s);
	}
}

static void
test_multiline(void **state)
{
	static const struct vcase c[] = {
	    {"第一行\n第二行", 1}, {"a\r\nb", 1}, {"a\tb", 1},  {"\n\n", 1},  {"a\x01", 0},
	    {"a\x0b", 0},          {"a\x0c", 0},  {"a\x1b", 0}, {"a\x7f", 0}, {"\x08", 0},
	};
	const struct field_spec *body = &consult[2];
	char *s;

	(void)state;
	CHECK_VALUES(check_multiline, body, c);
	s = repeat("中", 2000);
	assert_null(check_multiline(s, body));
	free(s);
	s = repeat("中", 2001);
	assert_non_null(check_multiline(s, body));
	free(s);
	s = repeat("中\n", 1000);
	assert_null(check_multiline(s, body));
	free(s);
	s = repeat("中\n", 1001);
	assert_non_null(check_multiline(s, body));
	free(s);
}

/*
 * The C1 control characters U+0080..U+009F are control characters too (Unicode category Cc):
 * U+0085 is a line break (NEL) in a one-line field and U+009B is a terminal's CSI. Nobody
 * types them, and validate.c says control characters are what it refuses.
 */
static void
test_c1_controls(void **state)
{
	static const struct vcase c[] = {
	    {"a\xc2\x85"
	     "b",
	     0}, /* U+0085 NEL */
	    {"a\xc2\x9b"
	     "0m",
	     0},             /* U+009B CSI */
	    {"\xc2\x80", 0}, /* U+0080 */
	    {"\xc2\x9f", 0}, /* U+009F */
	    {"\xc2\xa0", 1}, /* U+00A0 no-break space is text */
	    {"\xc2\xa9", 1}, /* © */
	};

	(void)state;
	CHECK_VALUES(check_text, &consult[1], c);
	CHECK_VALUES(check_multiline, &consult[2], c);
}

static void
test_choice(void **state)
{
	static const struct vcase c[] = {
	    {"policy", 1},  {"procedure", 1}, {"public_info", 1}, {"", 0},       {"Policy", 0},
	    {"policy ", 0}, {"poli", 0},      {"policyx", 0},     {"public", 0}, {"other", 0},
	};

	(void)state;
	CHECK_VALUES(check_choice, &consult[0], c);
}

/* ---- fields_check ----------------------------------------------------------------- */

struct fcase {
	int json;
	const char *in;
	const char *field; /* NULL: passes */
};

static void
check_fields(const struct field_spec *specs, size_t nspecs, const struct fcase *c, size_t n)
{
	struct kvlist l;
	const char *field, *msg;
	enum parse_err e;
	size_t i;
	int rc;

	for (i = 0; i < n; i++) {
		e = c[i].json ? kv_parse_json(c[i].in, strlen(c[i].in), &l)
		              : kv_parse_form(c[i].in, strlen(c[i].in), &l);
		if (e != PARSE_OK)
			fail_msg("case %zu: does not parse: %s", i, parse_strerror(e));
		field = msg = "untouched";
		rc = fields_check(&l, specs, nspecs, extra, &field, &msg);
		if (c[i].field == NULL) {
			if (rc != 0)
				fail_msg("case %zu refused: %s: %s", i, field, msg);
			assert_null(field);
			assert_null(msg);
		} else {
			if (rc != -1)
				fail_msg("case %zu passed, want %s refused", i, c[i].field);
			if (field == NULL || strcmp(field, c[i].field) != 0)
				fail_msg("case %zu: field %s, want %s", i, field ? field : "(null)",
				         c[i].field);
			if (msg == NULL || msg[0] == '\0')
				fail_msg("case %zu: no message", i);
		}
		kv_free(&l);
	}
}

#define GOOD                                                                                       \
	"category=policy&subject=%E4%BD%8F%E6%88%BF&body=%E8%AF%B7%E9%97%AE&"                      \
	"name=%E5%BC%A0%E4%B8%89&phone=13800138000"

static void
test_fields_consult(void **state)
{
	static const struct fcase c[] = {
	    {0, GOOD, NULL},
	    {0, GOOD "&csrf=abc.def&form_key=k", NULL},
	    {0, GOOD "&email=a%40b.cn&item=%E5%8A%9E%E8%AF%81", NULL},
	    {0, GOOD "&email=", NULL},    /* optional and blank */
	    {0, GOOD "&email=+++", NULL}, /* optional, whitespace only */
	    {0, "phone=13800138000&name=x&body=y&subject=z&category=procedure", NULL},
	    /* unknown fields are refused and named, wherever they come */
	    {0, GOOD "&subjct=x", "subjct"},
	    {0, "subjct=x&" GOOD, "subjct"},
	    {0, GOOD "&Phone=1", "Phone"},
	    /* missing, blank and whitespace-only required fields */
	    {0, "category=policy&subject=x&body=y&name=z", "phone"},
	    {0, "subject=x&body=y&name=z&phone=13800138000", "category"},
	    {0, "category=policy&subject=&body=y&name=z&phone=13800138000", "subject"},
	    {0, "category=policy&subject=+++&body=y&name=z&phone=13800138000", "subject"},
	    {0, "category=policy&subject=%09%0D%0A&body=y&name=z&phone=13800138000", "subject"},
	    {0, "category=policy&subject=%E3%80%80%E3%80%80&body=y&name=z&phone=13800138000",
	     "subject"},
	    {0, "category=policy&subject=x&body=%E3%80%80+%0A&name=z&phone=13800138000", "body"},
	    {0, "category=policy&subject=x&body=y&name&phone=13800138000", "name"},
	    /* a value that fails its check */
	    {0, "category=other&subject=x&body=y&name=z&phone=13800138000", "category"},
	    {0, "category=policy&subject=a%0Ab&body=y&name=z&phone=13800138000", "subject"},
	    {0, "category=policy&subject=x&body=y&name=z&phone=12345678901", "phone"},
	    {0, GOOD "&email=not-an-address", "email"},
	    /* JSON: the same rules, and a number where text is expected is refused */
	    {1,
	     "{\"category\":\"policy\",\"subject\":\"x\",\"body\":\"y\",\"name\":\"z\","
	     "\"phone\":\"13800138000\",\"email\":null}",
	     NULL},
	    {1,
	     "{\"category\":\"policy\",\"subject\":\"x\",\"body\":\"y\",\"name\":\"z\","
	     "\"phone\":13800138000}",
	     "phone"},
	    {1,
	     "{\"category\":\"policy\",\"subject\":5,\"body\":\"y\",\"name\":\"z\","
	     "\"phone\":\"13800138000\"}",
	     "subject"},
	    {1,
	     "{\"category\":\"policy\",\"subject\":\"x\",\"body\":\"y\",\"name\":\"z\","
	     "\"phone\":\"13800138000\",\"extra\":null}",
	     NULL}, /* a null member is absent */
	    {1,
	     "{\"category\":\"policy\",\"subject\":\"\\u3000\",\"body\":\"y\",\"name\":\"z\","
	     "\"phone\":\"13800138000\"}",
	     "subject"},
	};

	(void)state;
	check_fields(consult, N(consult), c, N(c));
}

static void
test_fields_rating(void **state)
{
	static const struct fcase c[] = {
	    {1, "{\"code\":\"123456\",\"level\":5}", NULL},
	    {1, "{\"code\":\"123456\",\"level\":\"4\"}", NULL},
	    {1, "{\"code\":\"123456\",\"level\":1,\"comment\":\"太慢了\\n没人接电话\"}", NULL},
	    {1, "{\"code\":\"123456\",\"level\":6}", "level"},
	    {1, "{\"code\":\"123456\",\"level\":0}", "level"},
	    {1, "{\"code\":\"123456\",\"level\":-1}", "level"},
	    {1, "{\"code\":123456,\"level\":5}", "code"},
	    {1, "{\"code\":\"12345\",\"level\":5}", "code"},
	    {1, "{\"level\":5}", "code"},
	    {1, "{\"code\":\"123456\"}", "level"},
	    {1, "{\"code\":\"123456\",\"level\":5,\"comment\":7}", "comment"},
	    {0, "code=123456&level=3&csrf=x", NULL},
	    {0, "code=123456&level=3&rating=5", "rating"},
	};

	(void)state;
	check_fields(rating, N(rating), c, N(c));
}

/* Without an extra list, csrf is an unknown field like any other. */
static void
test_fields_no_extra(void **state)
{
	struct kvlist l;
	const char *field, *msg;

	(void)state;
	assert_int_equal(kv_parse_form("code=123456&level=3&csrf=x", 26, &l), PARSE_OK);
	assert_int_equal(fields_check(&l, rating, N(rating), NULL, &field, &msg), -1);
	assert_string_equal(field, "csrf");
	kv_free(&l);
	/* an empty submission against specs with nothing required passes */
	assert_int_equal(kv_parse_form("", 0, &l), PARSE_OK);
	assert_int_equal(fields_check(&l, &consult[5], 2, NULL, &field, &msg), 0);
	kv_free(&l);
}

/* The message for a missing field names it as the page does. */
static void
test_fields_missing_message(void **state)
{
	struct kvlist l;
	const char *field, *msg;

	(void)state;
	assert_int_equal(kv_parse_form("code=123456", 11, &l), PARSE_OK);
	assert_int_equal(fields_check(&l, rating, N(rating), extra, &field, &msg), -1);
	assert_string_equal(field, "level");
	assert_non_null(strstr(msg, "评价"));
	kv_free(&l);
}

static void
test_field_value(void **state)
{
	struct kvlist l;
	const char *in = "a=x&b=&c=+++&d=%E3%80%80&e=+x+&f=%0A%09&g=%E3%80%80y";

	(void)state;
	assert_int_equal(kv_parse_form(in, strlen(in), &l), PARSE_OK);
	assert_string_equal(field_value(&l, "a"), "x");
	assert_null(field_value(&l, "b"));
	assert_null(field_value(&l, "c"));
	assert_null(field_value(&l, "d"));
	assert_string_equal(field_value(&l, "e"), " x ");
	assert_null(field_value(&l, "f"));
	assert_string_equal(field_value(&l, "g"), "\xe3\x80\x80y");
	assert_null(field_value(&l, "missing"));
	kv_free(&l);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_phone),
	    cmocka_unit_test(test_phone_normalize),
	    cmocka_unit_test(test_phone_mask),
	    cmocka_unit_test(test_email),
	    cmocka_unit_test(test_code),
	    cmocka_unit_test(test_level),
	    cmocka_unit_test(test_text),
	    cmocka_unit_test(test_multiline),
	    cmocka_unit_test(test_c1_controls),
	    cmocka_unit_test(test_choice),
	    cmocka_unit_test(test_fields_consult),
	    cmocka_unit_test(test_fields_rating),
	    cmocka_unit_test(test_fields_no_extra),
	    cmocka_unit_test(test_fields_missing_message),
	    cmocka_unit_test(test_field_value),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
