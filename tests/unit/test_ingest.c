/*
 * fcgi/province/ingest.c: the reference province receiver's body, from the wire to checked
 * records (inflate, NDJSON lines, the record rules of SPEC 5.3, max_line and the id read
 * without parsing), with tables of good and bad inputs.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <zlib.h>

#include "province.h"

static const char good[] = "{\"id\":\"430121001000-C1\",\"type\":\"case\",\"hall_code\":"
			   "\"430121001000\",\"case_no\":\"430121001000202600001\",\"at\":"
			   "\"2026-01-05T09:00:00+08:00\",\"subject\":\"咨询\"}";

/* gzip of s (RFC 1952) into a malloc'd buffer */
static unsigned char *
gz(const char *s, size_t n, size_t *len)
{
	uLong cap = compressBound((uLong)n) + 64;
	unsigned char *out = malloc(cap);
	z_stream z;

	assert_non_null(out);
	memset(&z, 0, sizeof(z));
	assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
	z.next_in = (unsigned char *)(uintptr_t)s;
	z.avail_in = (unsigned)n;
	z.next_out = out;
	z.avail_out = (unsigned)cap;
	assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
	*len = z.total_out;
	deflateEnd(&z);
	return out;
}

static void
test_inflate(void **state)
{
	struct buf out;
	unsigned char *w;
	size_t n;

	(void)state;
	w = gz(good, strlen(good), &n);
	assert_int_equal(ingest_inflate("gzip", w, n, &out), INGEST_OK);
	assert_int_equal(out.len, strlen(good));
	assert_memory_equal(out.data, good, out.len);
	buf_free(&out);
	assert_int_equal(ingest_inflate("GZIP", w, n, &out), INGEST_OK);
	buf_free(&out);
	/* cut short, one byte changed, a bare zlib stream, another encoding */
	assert_int_equal(ingest_inflate("gzip", w, n - 9, &out), INGEST_BAD_GZIP);
	buf_free(&out);
	w[n / 2] ^= 0x55;
	assert_int_equal(ingest_inflate("gzip", w, n, &out), INGEST_BAD_GZIP);
	buf_free(&out);
	assert_int_equal(ingest_inflate("gzip", "x\x9c\x03\x00\x00\x00\x00\x01", 8, &out),
	    INGEST_BAD_GZIP);
	buf_free(&out);
	assert_int_equal(ingest_inflate("br", w, n, &out), INGEST_ENCODING);
	buf_free(&out);
	assert_int_equal(ingest_http_status(INGEST_ENCODING), 415);
	free(w);
	/* identity, and no encoding at all, as sent; an empty body is "" */
	assert_int_equal(ingest_inflate("", good, strlen(good), &out), INGEST_OK);
	assert_int_equal(out.len, strlen(good));
	buf_free(&out);
	assert_int_equal(ingest_inflate(NULL, "", 0, &out), INGEST_OK);
	assert_non_null(out.data);
	assert_int_equal(out.len, 0);
	buf_free(&out);
}

static void
test_inflate_bomb(void **state)
{
	size_t n = INGEST_MAX_PLAIN + 1, len;
	char *zeros = calloc(n, 1);
	unsigned char *w;
	struct buf out;

	(void)state;
	assert_non_null(zeros);
	w = gz(zeros, n, &len);
	free(zeros);
	assert_true(len < INGEST_MAX_WIRE);
	assert_int_equal(ingest_inflate("gzip", w, len, &out), INGEST_TOO_LARGE);
	assert_int_equal(ingest_http_status(INGEST_TOO_LARGE), 413);
	buf_free(&out);
	free(w);
}

struct lcase {
	const char *line;
	int found;
	const char *id;
};

static void
test_line_id(void **state)
{
	static const struct lcase c[] = {
	    {"{\"id\":\"a-1\"}", 1, "a-1"},
	    {"  {  \"id\" : \"a-1\" , \"x\":1}", 1, "a-1"},
	    {"{\"x\":{\"id\":\"nested\"},\"id\":\"top\"}", 1, "top"},
	    {"{\"x\":[\"]\",{\"id\":\"in\"}],\"s\":\"\\\"}\",\"id\":\"after\"}", 1, "after"},
	    {"{\"x\":-1.5e3,\"y\":true,\"z\":null,\"id\":\"k\"}", 1, "k"},
	    {"{\"idx\":\"no\",\"xid\":\"no\"}", 0, NULL},
	    {"{\"i\\u0064\":\"escaped key\"}", 0, NULL},
	    {"{\"id\":\"with\\\"escape\"}", 0, NULL},
	    {"{\"id\":\"\"}", 0, NULL},
	    {"{\"id\":7}", 0, NULL},
	    {"{\"id\":\"tab\there\"}", 0, NULL},
	    {"{\"id\":\"不是ASCII\"}", 0, NULL},
	    {"{\"id\":\"unterminated", 0, NULL},
	    {"[\"id\",\"x\"]", 0, NULL},
	    {"{\"x\":{\"a\":1}", 0, NULL},
	    {"{\"x\":1 \"id\":\"missing comma\"}", 0, NULL},
	    {"", 0, NULL},
	    {"{\"id\":\"0123456789012345678901234567890123456789012345678901234567890123\"}", 1,
		"0123456789012345678901234567890123456789012345678901234567890123"},
	    {"{\"id\":\"01234567890123456789012345678901234567890123456789012345678901234\"}", 0,
		NULL},
	};
	char id[INGEST_ID_MAX + 1];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		size_t n = strlen(c[i].line);
		char *p = malloc(n + 1);	/* exact size: ASan sees a read past the line */

		assert_non_null(p);
		memcpy(p, c[i].line, n);
		if ((ingest_line_id(p, n, id) == 0) != c[i].found)
			fail_msg("%s: want found=%d", c[i].line, c[i].found);
		if (c[i].found && strcmp(id, c[i].id) != 0)
			fail_msg("%s: read %s", c[i].line, id);
		free(p);
	}
}

struct rcase {
	const char *line;
	const char *why;	/* NULL: a record to store; else a word of the reason */
	const char *hall;
};

static void
test_records(void **state)
{
	static const struct rcase c[] = {
	    {good, NULL, "430121001000"},
	    {"{\"id\":\"r\",\"type\":\"rating\",\"hall_code\":\"430121002000\",\"case_no\":\"c\","
	     "\"at\":\"t\",\"level\":5}", NULL, "430121002000"},
	    {"{\"id\":\"e\",\"type\":\"event\",\"hall_code\":\"430121001000\",\"case_no\":\"c\","
	     "\"at\":\"t\"}", NULL, "430121001000"},
	    {"{\"id\":\"x\",\"type\":\"note\",\"hall_code\":\"430121001000\",\"case_no\":\"c\","
	     "\"at\":\"t\"}", "type", "430121001000"},
	    {"{\"id\":\"x\",\"type\":\"case\",\"hall_code\":\"43012100100\",\"case_no\":\"c\","
	     "\"at\":\"t\"}", "hall_code", NULL},
	    {"{\"id\":\"x\",\"type\":\"case\",\"hall_code\":\"4301210010a0\",\"case_no\":\"c\","
	     "\"at\":\"t\"}", "hall_code", NULL},
	    {"{\"id\":\"x\",\"type\":\"case\",\"hall_code\":\"430121001000\",\"at\":\"t\"}",
	     "case_no", "430121001000"},
	    {"{\"id\":\"x\",\"id\":\"y\",\"type\":\"case\"}", "id", NULL},
	    {"{\"id\":\"a\\u0000b\",\"type\":\"case\"}", "id", NULL},
	    {"{\"id\":\"\",\"type\":\"case\"}", "id", NULL},
	    {"[1,2]", "id", NULL},
	    {"not json", "id", NULL},
	    {"{\"id\":\"\xff\"}", "id", NULL},
	    /* not JSON, but the id can be read: refused by it */
	    {"{\"id\":\"bad-1\",\"body\":\"\xff\"}", "not valid JSON", NULL},
	    {"{\"id\":\"dup-1\",\"id\":\"dup-2\"}", "duplicate", NULL},
	};
	struct ingest_lines l;
	struct ingest_rec r;
	enum ingest_err e;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		ingest_lines_init(&l, c[i].line, strlen(c[i].line), INGEST_MAX_LINE_DEFAULT);
		assert_int_equal(ingest_next(&l, &r, &e), 1);
		if ((r.why == NULL) != (c[i].why == NULL) ||
		    (c[i].why != NULL && strstr(r.why, c[i].why) == NULL))
			fail_msg("%s: why %s, want %s", c[i].line, r.why ? r.why : "(none)",
			    c[i].why ? c[i].why : "(none)");
		if (strncmp(c[i].line, "{\"id\":\"bad-1\"", 14) == 0)
			assert_string_equal(r.id, "bad-1");
		/* the hall is read when valid, even from a record refused for another reason */
		if (c[i].hall != NULL)
			assert_string_equal(r.hall_code, c[i].hall);
		ingest_rec_free(&r);
		assert_int_equal(ingest_next(&l, &r, &e), 0);
	}
}

static void
test_lines_and_max_line(void **state)
{
	char body[4096], longline[600];
	struct ingest_lines l;
	struct ingest_rec r;
	enum ingest_err e;

	(void)state;
	/* a long line with its id: refused alone, by its id, between two good ones */
	snprintf(longline, sizeof(longline), "{\"id\":\"long-1\",\"body\":\"%0500d\"}", 0);
	snprintf(body, sizeof(body), "%s\r\n\n%s\n%s", good, longline, good);
	ingest_lines_init(&l, body, strlen(body), 400);
	assert_int_equal(ingest_next(&l, &r, &e), 1);
	assert_null(r.why);
	assert_int_equal(r.lineno, 1);
	assert_int_equal(r.len, strlen(good));	/* no CR */
	ingest_rec_free(&r);
	assert_int_equal(ingest_next(&l, &r, &e), 1);
	assert_int_equal(r.lineno, 3);	/* the blank line counts */
	assert_string_equal(r.id, "long-1");
	assert_null(r.o);
	assert_non_null(strstr(r.why, "over this receiver's max_line of 400"));
	ingest_rec_free(&r);
	assert_int_equal(ingest_next(&l, &r, &e), 1);
	assert_null(r.why);
	ingest_rec_free(&r);
	assert_int_equal(ingest_next(&l, &r, &e), 0);

	/* a long line without a readable id: the request is refused */
	snprintf(longline, sizeof(longline), "{\"body\":\"%0500d\",\"id\":1}", 0);
	snprintf(body, sizeof(body), "%s\n%s\n", good, longline);
	ingest_lines_init(&l, body, strlen(body), 400);
	assert_int_equal(ingest_next(&l, &r, &e), 1);
	ingest_rec_free(&r);
	assert_int_equal(ingest_next(&l, &r, &e), -1);
	assert_int_equal(e, INGEST_LONG_LINE);
	assert_int_equal(r.lineno, 2);
	assert_int_equal(ingest_http_status(e), 413);

	/* only blank lines: no record */
	ingest_lines_init(&l, "\n\r\n\n", 4, 400);
	assert_int_equal(ingest_next(&l, &r, &e), 0);
}

static void
test_too_many_lines(void **state)
{
	size_t n = INGEST_MAX_LINES + 1, i, got = 0;
	char *body = malloc(n * 2);
	struct ingest_lines l;
	struct ingest_rec r;
	enum ingest_err e;
	int rc;

	(void)state;
	assert_non_null(body);
	for (i = 0; i < n; i++)
		memcpy(body + 2 * i, "x\n", 2);
	ingest_lines_init(&l, body, n * 2, 400);
	while ((rc = ingest_next(&l, &r, &e)) == 1) {
		ingest_rec_free(&r);
		got++;
	}
	assert_int_equal(rc, -1);
	assert_int_equal(e, INGEST_TOO_MANY);
	assert_int_equal(got, INGEST_MAX_LINES);
	free(body);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_inflate),
	    cmocka_unit_test(test_inflate_bomb),
	    cmocka_unit_test(test_line_id),
	    cmocka_unit_test(test_records),
	    cmocka_unit_test(test_lines_and_max_line),
	    cmocka_unit_test(test_too_many_lines),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
