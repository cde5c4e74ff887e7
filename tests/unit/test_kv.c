/*
 * lib/core/kv.c: kv_parse_form (bodies and query strings) and kv_parse_json, as tables of valid
 * and invalid inputs in the manner of kcgi's tests. Every input is parsed from an exact-size
 * heap copy so that ASan sees any read past its end; every list is freed with kv_free, so the
 * ASan build's leak check covers the failure paths.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core.h"

typedef enum parse_err (*parse_fn)(const char *, size_t, struct kvlist *);

static enum parse_err
parse_exact(parse_fn fn, const char *s, size_t len, struct kvlist *out)
{
	char *p = malloc(len > 0 ? len : 1);
	enum parse_err e;

	assert_non_null(p);
	memcpy(p, s, len);
	e = fn(p, len, out);
	free(p);
	return e;
}

struct pair {
	const char *name, *value;
	int is_int;
};

struct ok_case {
	const char *in;
	size_t len; /* 0: strlen */
	size_t n;
	struct pair want[4];
};

struct bad_case {
	const char *in;
	size_t len; /* 0: strlen */
	enum parse_err err;
	const char *bad_name; /* NULL: none set */
};

static void
check_ok(parse_fn fn, const struct ok_case *c, size_t ncases)
{
	struct kvlist l;
	enum parse_err e;
	size_t i, j;

	for (i = 0; i < ncases; i++) {
		e = parse_exact(fn, c[i].in, c[i].len ? c[i].len : strlen(c[i].in), &l);
		if (e != PARSE_OK)
			fail_msg("case %zu \"%s\": %s", i, c[i].in, parse_strerror(e));
		if (l.n != c[i].n)
			fail_msg("case %zu \"%s\": %zu pairs, want %zu", i, c[i].in, l.n, c[i].n);
		assert_null(l.bad_name);
		for (j = 0; j < c[i].n; j++) {
			if (strcmp(l.v[j].name, c[i].want[j].name) != 0 ||
			    strcmp(l.v[j].value, c[i].want[j].value) != 0 ||
			    l.v[j].is_int != c[i].want[j].is_int)
				fail_msg(
				    "case %zu pair %zu: \"%s\"=\"%s\" (%d), want \"%s\"=\"%s\"", i,
				    j, l.v[j].name, l.v[j].value, l.v[j].is_int, c[i].want[j].name,
				    c[i].want[j].value);
			assert_ptr_equal(kv_get(&l, c[i].want[j].name), &l.v[j]);
		}
		kv_free(&l);
		assert_int_equal(l.n, 0);
		assert_null(l.bad_name);
	}
}

static void
check_bad(parse_fn fn, const struct bad_case *c, size_t ncases)
{
	struct kvlist l;
	enum parse_err e;
	size_t i;

	for (i = 0; i < ncases; i++) {
		e = parse_exact(fn, c[i].in, c[i].len ? c[i].len : strlen(c[i].in), &l);
		if (e != c[i].err)
			fail_msg("case %zu \"%.60s\": %s, want %s", i, c[i].in, parse_strerror(e),
			         parse_strerror(c[i].err));
		/* a failed parse hands back no pairs */
		if (l.n != 0)
			fail_msg("case %zu: %zu pairs left after a failure", i, l.n);
		if (c[i].bad_name == NULL && l.bad_name != NULL)
			fail_msg("case %zu: bad_name \"%s\", want none", i, l.bad_name);
		if (c[i].bad_name != NULL &&
		    (l.bad_name == NULL || strcmp(l.bad_name, c[i].bad_name) != 0))
			fail_msg("case %zu: bad_name \"%s\", want \"%s\"", i,
			         l.bad_name ? l.bad_name : "(null)", c[i].bad_name);
		kv_free(&l);
		assert_null(l.bad_name);
	}
}

#define CHECK_OK(fn, c) check_ok((fn), (c), sizeof(c) / sizeof((c)[0]))
#define CHECK_BAD(fn, c) check_bad((fn), (c), sizeof(c) / sizeof((c)[0]))

/* ---- forms ---------------------------------------------------------------------- */

static void
test_form_valid(void **state)
{
	static const struct ok_case c[] = {
	    {"", 0, 0, {{0}}},
	    {"a=1", 0, 1, {{"a", "1", 0}}},
	    {"a=1&b=2", 0, 2, {{"a", "1", 0}, {"b", "2", 0}}},
	    {"subject=hello+world", 0, 1, {{"subject", "hello world", 0}}},
	    {"a+b=c+d", 0, 1, {{"a b", "c d", 0}}},
	    {"a=%2B%20+", 0, 1, {{"a", "+  ", 0}}},
	    {"a=%E4%B8%AD%E6%96%87", 0, 1, {{"a", "中文", 0}}},
	    {"a=%e4%b8%ad", 0, 1, {{"a", "中", 0}}},
	    {"a=%F0%9F%98%80", 0, 1, {{"a", "😀", 0}}},
	    {"a=中文", 0, 1, {{"a", "中文", 0}}},
	    {"%E5%90%8D=x", 0, 1, {{"名", "x", 0}}},
	    {"%61=1", 0, 1, {{"a", "1", 0}}},
	    {"a=%3D%26%25", 0, 1, {{"a", "=&%", 0}}},
	    {"a=1=2", 0, 1, {{"a", "1=2", 0}}},
	    {"a=1&&b=2", 0, 2, {{"a", "1", 0}, {"b", "2", 0}}},
	    {"&a=1&", 0, 1, {{"a", "1", 0}}},
	    {"&&&", 0, 0, {{0}}},
	    {"a", 0, 1, {{"a", "", 0}}},
	    {"a=", 0, 1, {{"a", "", 0}}},
	    {"a&b=2", 0, 2, {{"a", "", 0}, {"b", "2", 0}}},
	    {"q=%E6%88%B7%E7%B1%8D&page=2", 0, 2, {{"q", "户籍", 0}, {"page", "2", 0}}},
	    {"body=line1%0D%0Aline2", 0, 1, {{"body", "line1\r\nline2", 0}}},
	    {"category=policy&subject=%E4%BD%8F%E6%88%BF&phone=13800138000&csrf=a.b",
	     0,
	     4,
	     {{"category", "policy", 0},
	      {"subject", "住房", 0},
	      {"phone", "13800138000", 0},
	      {"csrf", "a.b", 0}}},
	};

	(void)state;
	CHECK_OK(kv_parse_form, c);
}

static void
test_form_bad_encoding(void **state)
{
	static const struct bad_case c[] = {
	    {"%", 0, PARSE_BAD_ENCODING, NULL},        {"%4", 0, PARSE_BAD_ENCODING, NULL},
	    {"%zz", 0, PARSE_BAD_ENCODING, NULL},      {"%%", 0, PARSE_BAD_ENCODING, NULL},
	    {"%zz=1", 0, PARSE_BAD_ENCODING, NULL},    {"a=%", 0, PARSE_BAD_ENCODING, "a"},
	    {"a=%4", 0, PARSE_BAD_ENCODING, "a"},      {"a=%zz", 0, PARSE_BAD_ENCODING, "a"},
	    {"a=%%", 0, PARSE_BAD_ENCODING, "a"},      {"a=%%41", 0, PARSE_BAD_ENCODING, "a"},
	    {"a=%4g", 0, PARSE_BAD_ENCODING, "a"},     {"a=%g4", 0, PARSE_BAD_ENCODING, "a"},
	    {"a=%+4", 0, PARSE_BAD_ENCODING, "a"},     {"a=x%", 0, PARSE_BAD_ENCODING, "a"},
	    {"a=x%4&b=1", 0, PARSE_BAD_ENCODING, "a"}, {"a=1&b=2&c=%2", 0, PARSE_BAD_ENCODING, "c"},
	};

	(void)state;
	CHECK_BAD(kv_parse_form, c);
}

static void
test_form_nul(void **state)
{
	static const struct bad_case c[] = {
	    {"a=%00", 0, PARSE_NUL, "a"},      {"a=x%00y", 0, PARSE_NUL, "a"},
	    {"%00=1", 0, PARSE_NUL, NULL},     {"a%00b=1", 0, PARSE_NUL, NULL},
	    {"a=b\0c", 5, PARSE_NUL, NULL},    {"\0", 1, PARSE_NUL, NULL},
	    {"a=1&b=2\0", 8, PARSE_NUL, NULL},
	};

	(void)state;
	CHECK_BAD(kv_parse_form, c);
}

static void
test_form_invalid_utf8(void **state)
{
	static const struct bad_case c[] = {
	    {"a=%C0%80", 0, PARSE_INVALID_UTF8, "a"},       /* overlong NUL */
	    {"a=%C0%AF", 0, PARSE_INVALID_UTF8, "a"},       /* overlong '/' */
	    {"a=%E0%80%AF", 0, PARSE_INVALID_UTF8, "a"},    /* overlong '/' */
	    {"a=%ED%A0%80", 0, PARSE_INVALID_UTF8, "a"},    /* U+D800 */
	    {"a=%ED%BF%BF", 0, PARSE_INVALID_UTF8, "a"},    /* U+DFFF */
	    {"a=%F4%90%80%80", 0, PARSE_INVALID_UTF8, "a"}, /* U+110000 */
	    {"a=%FF", 0, PARSE_INVALID_UTF8, "a"},
	    {"a=%FE", 0, PARSE_INVALID_UTF8, "a"},
	    {"a=%80", 0, PARSE_INVALID_UTF8, "a"},
	    {"a=%E4%B8", 0, PARSE_INVALID_UTF8, "a"},     /* truncated */
	    {"a=%E4%B8&b=1", 0, PARSE_INVALID_UTF8, "a"}, /* truncated before '&' */
	    {"a=%E4x%AD", 0, PARSE_INVALID_UTF8, "a"},
	    {"a=\xff", 0, PARSE_INVALID_UTF8, "a"},     /* raw */
	    {"a=\xe4\xb8", 0, PARSE_INVALID_UTF8, "a"}, /* raw, truncated */
	    {"%FF=1", 0, PARSE_INVALID_UTF8, NULL},
	    {"\xc0\x80=1", 0, PARSE_INVALID_UTF8, NULL},
	    {"x=1&%ED%A0%80=1", 0, PARSE_INVALID_UTF8, NULL},
	};

	(void)state;
	CHECK_BAD(kv_parse_form, c);
}

static void
test_form_duplicates_and_names(void **state)
{
	static const struct bad_case c[] = {
	    {"a=1&a=2", 0, PARSE_DUPLICATE, "a"},
	    {"a=1&a=1", 0, PARSE_DUPLICATE, "a"},
	    {"a=1&%61=2", 0, PARSE_DUPLICATE, "a"},
	    {"a&a", 0, PARSE_DUPLICATE, "a"},
	    {"a+b=1&a%20b=2", 0, PARSE_DUPLICATE, "a b"},
	    {"x=0&%E4%B8%AD=1&%e4%b8%ad=2", 0, PARSE_DUPLICATE, "中"},
	    {"=x", 0, PARSE_MALFORMED, NULL},
	    {"=", 0, PARSE_MALFORMED, NULL},
	    {"a=1&=2", 0, PARSE_MALFORMED, NULL},
	    {"a=1&=", 0, PARSE_MALFORMED, NULL},
	};

	(void)state;
	CHECK_BAD(kv_parse_form, c);
}

/* Builds name=value pairs "f0=v&f1=v&..." */
static char *
many_pairs(size_t n, const char *sep, const char *fmt)
{
	size_t i, size = n * 32 + 16, len = 0;
	char *s = malloc(size);

	assert_non_null(s);
	s[0] = '\0';
	for (i = 0; i < n; i++)
		len += (size_t)snprintf(s + len, size - len, fmt, i > 0 ? sep : "", i);
	assert_true(len < size);
	return s;
}

static void
test_form_too_many(void **state)
{
	struct kvlist l;
	char *s;

	(void)state;
	s = many_pairs(KV_MAX_PAIRS, "&", "%sf%zu=v");
	assert_int_equal(parse_exact(kv_parse_form, s, strlen(s), &l), PARSE_OK);
	assert_int_equal(l.n, KV_MAX_PAIRS);
	assert_string_equal(l.v[KV_MAX_PAIRS - 1].name, "f31");
	kv_free(&l);
	free(s);

	s = many_pairs(KV_MAX_PAIRS + 1, "&", "%sf%zu=v");
	assert_int_equal(parse_exact(kv_parse_form, s, strlen(s), &l), PARSE_TOO_MANY);
	assert_int_equal(l.n, 0);
	kv_free(&l);
	free(s);

	/* empty sequences do not count as fields */
	s = many_pairs(KV_MAX_PAIRS, "&&&", "%sf%zu=v");
	assert_int_equal(parse_exact(kv_parse_form, s, strlen(s), &l), PARSE_OK);
	assert_int_equal(l.n, KV_MAX_PAIRS);
	kv_free(&l);
	free(s);
}

/* "name=" + value, with the name and value made of `unit` repeated. */
static char *
long_pair(const char *nunit, size_t nrep, const char *vunit, size_t vrep, size_t *len)
{
	size_t nl = strlen(nunit), vl = strlen(vunit), i, n = 0;
	char *s = malloc(nl * nrep + vl * vrep + 2);

	assert_non_null(s);
	for (i = 0; i < nrep; i++, n += nl)
		memcpy(s + n, nunit, nl);
	s[n++] = '=';
	for (i = 0; i < vrep; i++, n += vl)
		memcpy(s + n, vunit, vl);
	s[n] = '\0';
	*len = n;
	return s;
}

static void
test_form_lengths(void **state)
{
	static const struct {
		const char *nunit;
		size_t nrep;
		const char *vunit;
		size_t vrep;
		enum parse_err want;
		int blamed; /* bad_name is the decoded name */
	} c[] = {
	    {"a", KV_MAX_NAME, "v", 1, PARSE_OK, 0},
	    {"%61", KV_MAX_NAME, "v", 1, PARSE_OK, 0}, /* 192 bytes that decode to 64 */
	    {"a", KV_MAX_NAME + 1, "v", 1, PARSE_TOO_LONG, 0},
	    {"%61", KV_MAX_NAME + 1, "v", 1, PARSE_TOO_LONG, 0},
	    {"a", 1, "v", KV_MAX_VALUE, PARSE_OK, 0},
	    {"a", 1, "%41", KV_MAX_VALUE, PARSE_OK, 0},
	    {"a", 1, "\xe4\xb8\xad", KV_MAX_VALUE / 3, PARSE_OK, 0},
	    {"a", 1, "v", KV_MAX_VALUE + 1, PARSE_TOO_LONG, 1},
	    {"a", 1, "%41", KV_MAX_VALUE + 1, PARSE_TOO_LONG, 0},
	    {"a", 1, "\xe4\xb8\xad", KV_MAX_VALUE / 3 + 1, PARSE_TOO_LONG, 1},
	};
	struct kvlist l;
	enum parse_err e;
	size_t i, len;
	char *s;

	(void)state;
	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		s = long_pair(c[i].nunit, c[i].nrep, c[i].vunit, c[i].vrep, &len);
		e = parse_exact(kv_parse_form, s, len, &l);
		if (e != c[i].want)
			fail_msg("case %zu: %s, want %s", i, parse_strerror(e),
			         parse_strerror(c[i].want));
		if (e == PARSE_OK)
			assert_int_equal(l.n, 1);
		else
			assert_int_equal(l.n, 0);
		if (c[i].blamed)
			assert_string_equal(l.bad_name, "a");
		kv_free(&l);
		free(s);
	}
}

/* The first pairs were accepted before a later one failed: all of it is given back. */
static void
test_form_failure_frees(void **state)
{
	static const struct bad_case c[] = {
	    {"a=1&b=2&c=%zz", 0, PARSE_BAD_ENCODING, "c"},
	    {"a=1&b=2&c=%FF", 0, PARSE_INVALID_UTF8, "c"},
	    {"a=1&b=2&a=3", 0, PARSE_DUPLICATE, "a"},
	    {"a=1&b=2&=3", 0, PARSE_MALFORMED, NULL},
	    {"a=1&b=2&c=%00", 0, PARSE_NUL, "c"},
	};
	struct kvlist l;

	(void)state;
	CHECK_BAD(kv_parse_form, c);
	/* a list is reusable after kv_free, and kv_free twice or on NULL is harmless */
	assert_int_equal(kv_parse_form("a=%zz", 5, &l), PARSE_BAD_ENCODING);
	kv_free(&l);
	kv_free(&l);
	kv_free(NULL);
	assert_int_equal(kv_parse_form("a=1", 3, &l), PARSE_OK);
	assert_int_equal(l.n, 1);
	kv_free(&l);
}

/*
 * kv.h promises text that is valid UTF-8 without NULs, and kv_push's own comment says a bad
 * name is never blamed. bad_name goes back to the client in the error's "field"; whenever it
 * is set it must be a printable field name: non-empty, valid UTF-8, at most KV_MAX_NAME bytes.
 */
static void
test_form_bad_name_printable(void **state)
{
	static const char *const c[] = {
	    "%FF=%zz",     /* invalid UTF-8 name, bad value encoding */
	    "%C0%80=%4",   /* overlong NUL in the name */
	    "%ED%A0%80=%", /* surrogate in the name */
	    "%00=%zz",     /* NUL in the name: blamed as "" */
	    "a%00b=%zz",   /* blamed as "a" */
	};
	char longname[3 * KV_MAX_NAME + 8];
	struct kvlist l;
	size_t i;
	int failures = 0;

	(void)state;
	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		assert_int_equal(kv_parse_form(c[i], strlen(c[i]), &l), PARSE_BAD_ENCODING);
		if (l.bad_name != NULL &&
		    (l.bad_name[0] == '\0' || !utf8_valid(l.bad_name, strlen(l.bad_name)) ||
		     strlen(l.bad_name) > KV_MAX_NAME || strcmp(l.bad_name, "a") == 0)) {
			print_message(
			    "# \"%s\": bad_name of %zu bytes is not a name the client sent\n", c[i],
			    strlen(l.bad_name));
			failures++;
		}
		kv_free(&l);
	}
	/* a name over KV_MAX_NAME (but under the raw cap) is blamed with a bad value */
	memset(longname, 'n', 100);
	memcpy(longname + 100, "=%zz", 5);
	assert_int_equal(kv_parse_form(longname, strlen(longname), &l), PARSE_BAD_ENCODING);
	if (l.bad_name != NULL && strlen(l.bad_name) > KV_MAX_NAME) {
		print_message("# a %zu-byte name was blamed\n", strlen(l.bad_name));
		failures++;
	}
	kv_free(&l);
	assert_int_equal(failures, 0);
}

/* Query strings use the same parser: what a progress lookup sends. */
static void
test_query_strings(void **state)
{
	static const struct ok_case ok[] = {
	    {"case_no=430102001001-0A1B2C3D4E-X&code=123456",
	     0,
	     2,
	     {{"case_no", "430102001001-0A1B2C3D4E-X", 0}, {"code", "123456", 0}}},
	    {"case_no=4301+0200+1001&code=",
	     0,
	     2,
	     {{"case_no", "4301 0200 1001", 0}, {"code", "", 0}}},
	    {"q=%E5%8A%9E%E4%BA%8B%E6%8C%87%E5%8D%97", 0, 1, {{"q", "办事指南", 0}}},
	    {"q=", 0, 1, {{"q", "", 0}}},
	    {"q", 0, 1, {{"q", "", 0}}},
	};
	static const struct bad_case bad[] = {
	    {"q=%", 0, PARSE_BAD_ENCODING, "q"},
	    {"q=1&q=2", 0, PARSE_DUPLICATE, "q"},
	    {"q=%C0%80", 0, PARSE_INVALID_UTF8, "q"},
	};

	(void)state;
	CHECK_OK(kv_parse_form, ok);
	CHECK_BAD(kv_parse_form, bad);
}

/* ---- JSON ----------------------------------------------------------------------- */

static void
test_json_valid(void **state)
{
	static const struct ok_case c[] = {
	    {"{}", 0, 0, {{0}}},
	    {" \n\t{ } \r\n", 0, 0, {{0}}},
	    {"{\"a\":\"x\"}", 0, 1, {{"a", "x", 0}}},
	    {"{\"a\":\"\"}", 0, 1, {{"a", "", 0}}},
	    {"{\"a\":null}", 0, 0, {{0}}},
	    {"{\"a\":\"x\",\"b\":5,\"c\":null}", 0, 2, {{"a", "x", 0}, {"b", "5", 1}}},
	    {"{\"c\":null,\"a\":\"x\"}", 0, 1, {{"a", "x", 0}}},
	    {"{\"level\":-3}", 0, 1, {{"level", "-3", 1}}},
	    {"{\"level\":0}", 0, 1, {{"level", "0", 1}}},
	    {"{\"n\":9223372036854775807}", 0, 1, {{"n", "9223372036854775807", 1}}},
	    {"{\"n\":-9223372036854775808}", 0, 1, {{"n", "-9223372036854775808", 1}}},
	    {"{\"level\":\"5\"}", 0, 1, {{"level", "5", 0}}},
	    {"{\"a\":\"\\u4e2d\\u6587\"}", 0, 1, {{"a", "中文", 0}}},
	    {"{\"a\":\"中文\"}", 0, 1, {{"a", "中文", 0}}},
	    {"{\"a\":\"\\ud83d\\ude00\"}", 0, 1, {{"a", "😀", 0}}},
	    {"{\"\\u540d\":\"x\"}", 0, 1, {{"名", "x", 0}}},
	    {"{\"a\":\"line\\nbreak \\\"q\\\" \\\\ \\/\"}",
	     0,
	     1,
	     {{"a", "line\nbreak \"q\" \\ /", 0}}},
	    {" { \"a\" : \"x\" , \"b\" : 1 } ", 0, 2, {{"a", "x", 0}, {"b", "1", 1}}},
	    {"{\"category\":\"policy\",\"subject\":\"住房公积金\",\"name\":\"张三\","
	     "\"phone\":\"13800138000\"}",
	     0,
	     4,
	     {{"category", "policy", 0},
	      {"subject", "住房公积金", 0},
	      {"name", "张三", 0},
	      {"phone", "13800138000", 0}}},
	};

	(void)state;
	CHECK_OK(kv_parse_json, c);
}

static void
test_json_invalid(void **state)
{
	static const struct bad_case c[] = {
	    /* duplicates, even of nulls */
	    {"{\"a\":\"x\",\"a\":\"y\"}", 0, PARSE_DUPLICATE, NULL},
	    {"{\"a\":null,\"a\":null}", 0, PARSE_DUPLICATE, NULL},
	    {"{\"a\":\"x\",\"\\u0061\":\"y\"}", 0, PARSE_DUPLICATE, NULL},
	    /* NUL, escaped or raw */
	    {"{\"a\":\"\\u0000\"}", 0, PARSE_NUL, NULL},
	    {"{\"a\":\"x\\u0000y\"}", 0, PARSE_NUL, NULL},
	    {"{\"a\":\"x\0\"}", 10, PARSE_NUL, NULL},
	    {"{\"a\":\"x\"}\0", 10, PARSE_NUL, NULL},
	    /* raw invalid UTF-8 */
	    {"{\"a\":\"\xff\"}", 0, PARSE_INVALID_UTF8, NULL},
	    {"{\"a\":\"\xc0\x80\"}", 0, PARSE_INVALID_UTF8, NULL},
	    {"{\"a\":\"\xed\xa0\x80\"}", 0, PARSE_INVALID_UTF8, NULL},
	    {"{\"a\":\"\xe4\xb8\"}", 0, PARSE_INVALID_UTF8, NULL},
	    {"{\"\xff\":\"x\"}", 0, PARSE_INVALID_UTF8, NULL},
	    {"{\"a\":\"x\"}\xff", 0, PARSE_INVALID_UTF8, NULL},
	    /* not an object */
	    {"[]", 0, PARSE_MALFORMED, NULL},
	    {"[{\"a\":\"x\"}]", 0, PARSE_MALFORMED, NULL},
	    {"\"x\"", 0, PARSE_MALFORMED, NULL},
	    {"1", 0, PARSE_MALFORMED, NULL},
	    {"null", 0, PARSE_MALFORMED, NULL},
	    {"true", 0, PARSE_MALFORMED, NULL},
	    /* syntax */
	    {"", 0, PARSE_MALFORMED, NULL},
	    {" ", 0, PARSE_MALFORMED, NULL},
	    {"{", 0, PARSE_MALFORMED, NULL},
	    {"}", 0, PARSE_MALFORMED, NULL},
	    {"{\"a\"}", 0, PARSE_MALFORMED, NULL},
	    {"{\"a\":}", 0, PARSE_MALFORMED, NULL},
	    {"{a:\"x\"}", 0, PARSE_MALFORMED, NULL},
	    {"{'a':'x'}", 0, PARSE_MALFORMED, NULL},
	    {"{\"a\":\"x\",}", 0, PARSE_MALFORMED, NULL},
	    {"{\"a\":\"x\"", 0, PARSE_MALFORMED, NULL},
	    {"{\"a\":\"x}", 0, PARSE_MALFORMED, NULL},
	    {"{\"a\":01}", 0, PARSE_MALFORMED, NULL},
	    {"{\"a\":\"\\x41\"}", 0, PARSE_MALFORMED, NULL},
	    {"{\"a\":\"tab\there\"}", 0, PARSE_MALFORMED, NULL},
	    {"{\"a\":123456789012345678901234567890}", 0, PARSE_MALFORMED, NULL},
	    {"{\"\":\"x\"}", 0, PARSE_MALFORMED, NULL},
	    /* trailing garbage */
	    {"{\"a\":\"x\"} x", 0, PARSE_MALFORMED, NULL},
	    {"{\"a\":\"x\"}{}", 0, PARSE_MALFORMED, NULL},
	    {"{\"a\":\"x\"},", 0, PARSE_MALFORMED, NULL},
	    {"{}}", 0, PARSE_MALFORMED, NULL},
	};

	(void)state;
	CHECK_BAD(kv_parse_json, c);
}

/* Escaped NULs and lone surrogates in JSON are refused whichever code they get. */
static void
test_json_escapes_refused(void **state)
{
	static const char *const c[] = {
	    "{\"a\\u0000\":\"x\"}", "{\"\\u0000\":\"x\"}",  "{\"a\":\"\\ud800\"}",
	    "{\"a\":\"\\udc00\"}",  "{\"a\":\"\\ud800x\"}", "{\"a\":\"\\ude00\\ud83d\"}",
	};
	struct kvlist l;
	enum parse_err e;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		e = parse_exact(kv_parse_json, c[i], strlen(c[i]), &l);
		if (e == PARSE_OK)
			fail_msg("%s accepted", c[i]);
		assert_int_equal(l.n, 0);
		kv_free(&l);
	}
}

static void
test_json_bad_type(void **state)
{
	static const struct bad_case c[] = {
	    {"{\"a\":{}}", 0, PARSE_BAD_TYPE, "a"},
	    {"{\"a\":{\"b\":\"c\"}}", 0, PARSE_BAD_TYPE, "a"},
	    {"{\"a\":[]}", 0, PARSE_BAD_TYPE, "a"},
	    {"{\"a\":[\"x\"]}", 0, PARSE_BAD_TYPE, "a"},
	    {"{\"a\":true}", 0, PARSE_BAD_TYPE, "a"},
	    {"{\"a\":false}", 0, PARSE_BAD_TYPE, "a"},
	    {"{\"level\":4.5}", 0, PARSE_BAD_TYPE, "level"},
	    {"{\"level\":1e3}", 0, PARSE_BAD_TYPE, "level"},
	    {"{\"level\":5.0}", 0, PARSE_BAD_TYPE, "level"},
	    {"{\"x\":\"1\",\"y\":2,\"\\u59d3\\u540d\":{\"b\":\"c\"}}", 0, PARSE_BAD_TYPE, "姓名"},
	    {"{\"x\":null,\"z\":[1]}", 0, PARSE_BAD_TYPE, "z"},
	};

	(void)state;
	CHECK_BAD(kv_parse_json, c);
}

static void
test_json_limits(void **state)
{
	struct kvlist l;
	char *s, *v;
	size_t n;

	(void)state;
	/* KV_MAX_PAIRS members, and as many again that are null, are fine */
	s = many_pairs(KV_MAX_PAIRS, ",", "%s\"f%zu\":\"v\"");
	n = strlen(s);
	v = malloc(n + 3 + 32 * KV_MAX_PAIRS);
	assert_non_null(v);
	snprintf(v, n + 3, "{%s}", s);
	assert_int_equal(parse_exact(kv_parse_json, v, strlen(v), &l), PARSE_OK);
	assert_int_equal(l.n, KV_MAX_PAIRS);
	kv_free(&l);
	free(s);
	free(v);

	s = many_pairs(KV_MAX_PAIRS, ",", "%s\"n%zu\":null");
	v = many_pairs(KV_MAX_PAIRS, ",", "%s\"f%zu\":\"v\"");
	{
		size_t size = strlen(s) + strlen(v) + 4;
		char *w = malloc(size);

		assert_non_null(w);
		snprintf(w, size, "{%s,%s}", s, v);
		assert_int_equal(parse_exact(kv_parse_json, w, strlen(w), &l), PARSE_OK);
		assert_int_equal(l.n, KV_MAX_PAIRS);
		kv_free(&l);
		free(w);
	}
	free(s);
	free(v);

	s = many_pairs(KV_MAX_PAIRS + 1, ",", "%s\"f%zu\":1");
	n = strlen(s);
	v = malloc(n + 3);
	assert_non_null(v);
	snprintf(v, n + 3, "{%s}", s);
	assert_int_equal(parse_exact(kv_parse_json, v, strlen(v), &l), PARSE_TOO_MANY);
	assert_int_equal(l.n, 0);
	kv_free(&l);
	free(s);
	free(v);
}

/* {"<name>":"<value>"} with the name and value of the given sizes. */
static char *
json_pair(size_t nlen, size_t vlen, const char *vunit)
{
	size_t ul = strlen(vunit), size = nlen + vlen * ul + 16, n = 0, i;
	char *s = malloc(size);

	assert_non_null(s);
	s[n++] = '{';
	s[n++] = '"';
	memset(s + n, 'k', nlen);
	n += nlen;
	memcpy(s + n, "\":\"", 3);
	n += 3;
	for (i = 0; i < vlen; i++, n += ul)
		memcpy(s + n, vunit, ul);
	memcpy(s + n, "\"}", 3);
	return s;
}

static void
test_json_lengths(void **state)
{
	static const struct {
		size_t nlen, vlen;
		const char *vunit;
		enum parse_err want;
		int blamed;
	} c[] = {
	    {KV_MAX_NAME, 1, "v", PARSE_OK, 0},
	    {KV_MAX_NAME + 1, 1, "v", PARSE_TOO_LONG, 0},
	    {1, KV_MAX_VALUE, "v", PARSE_OK, 0},
	    {1, KV_MAX_VALUE + 1, "v", PARSE_TOO_LONG, 1},
	    /* the cap is on the decoded bytes: 5462 x 中 is 16386 bytes */
	    {1, KV_MAX_VALUE / 3, "\\u4e2d", PARSE_OK, 0},
	    {1, KV_MAX_VALUE / 3 + 1, "\\u4e2d", PARSE_TOO_LONG, 1},
	};
	struct kvlist l;
	enum parse_err e;
	size_t i;
	char *s;

	(void)state;
	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		s = json_pair(c[i].nlen, c[i].vlen, c[i].vunit);
		e = parse_exact(kv_parse_json, s, strlen(s), &l);
		if (e != c[i].want)
			fail_msg("case %zu: %s, want %s", i, parse_strerror(e),
			         parse_strerror(c[i].want));
		assert_int_equal(l.n, e == PARSE_OK ? 1 : 0);
		if (c[i].blamed)
			assert_string_equal(l.bad_name, "k");
		kv_free(&l);
		free(s);
	}
}

static void
test_kv_get_and_strerror(void **state)
{
	struct kvlist l;
	enum parse_err e;
	const char *seen[PARSE_BAD_TYPE + 1];
	int i, j;

	(void)state;
	assert_int_equal(kv_parse_form("a=1&b=2", 7, &l), PARSE_OK);
	assert_string_equal(kv_get(&l, "b")->value, "2");
	assert_null(kv_get(&l, "c"));
	assert_null(kv_get(&l, "A"));
	assert_null(kv_get(&l, ""));
	kv_free(&l);
	assert_null(kv_get(&l, "a"));
	for (i = 0; i <= PARSE_BAD_TYPE; i++) {
		e = (enum parse_err)i;
		seen[i] = parse_strerror(e);
		assert_non_null(seen[i]);
		assert_true(seen[i][0] != '\0');
		for (j = 0; j < i; j++)
			assert_string_not_equal(seen[i], seen[j]);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_form_valid),
	    cmocka_unit_test(test_form_bad_encoding),
	    cmocka_unit_test(test_form_nul),
	    cmocka_unit_test(test_form_invalid_utf8),
	    cmocka_unit_test(test_form_duplicates_and_names),
	    cmocka_unit_test(test_form_too_many),
	    cmocka_unit_test(test_form_lengths),
	    cmocka_unit_test(test_form_failure_frees),
	    cmocka_unit_test(test_form_bad_name_printable),
	    cmocka_unit_test(test_query_strings),
	    cmocka_unit_test(test_json_valid),
	    cmocka_unit_test(test_json_invalid),
	    cmocka_unit_test(test_json_escapes_refused),
	    cmocka_unit_test(test_json_bad_type),
	    cmocka_unit_test(test_json_limits),
	    cmocka_unit_test(test_json_lengths),
	    cmocka_unit_test(test_kv_get_and_strerror),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
