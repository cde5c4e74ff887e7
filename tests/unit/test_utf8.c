/*
 * lib/utf8.c: utf8_valid (RFC 3629 section 4, plus no NUL) and utf8_len.
 *
 * Inputs are copied into buffers of exactly their length, so that under ASan a read past
 * the end of a truncated sequence is caught rather than landing on a terminator.
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

/* utf8_valid on an exact-size heap copy of s[0..len). */
static int
valid_exact(const char *s, size_t len)
{
	char *p = malloc(len > 0 ? len : 1);
	int rc;

	assert_non_null(p);
	memcpy(p, s, len);
	rc = utf8_valid(p, len);
	free(p);
	return rc;
}

struct vcase {
	const char *s;
	size_t len; /* 0: strlen */
	int want;
	const char *what;
};

static void
check_table(const struct vcase *c, size_t n)
{
	size_t i, len;

	for (i = 0; i < n; i++) {
		len = c[i].len != 0 ? c[i].len : strlen(c[i].s);
		if (valid_exact(c[i].s, len) != c[i].want)
			fail_msg("%s: want %d", c[i].what, c[i].want);
	}
}

#define CHECK_TABLE(c) check_table((c), sizeof(c) / sizeof((c)[0]))

static void
test_boundaries_valid(void **state)
{
	static const struct vcase c[] = {
	    {"a", 0, 1, "ASCII"},
	    {"\x01", 0, 1, "U+0001"},
	    {"\x7f", 0, 1, "U+007F"},
	    {"\xc2\x80", 0, 1, "U+0080"},
	    {"\xdf\xbf", 0, 1, "U+07FF"},
	    {"\xe0\xa0\x80", 0, 1, "U+0800"},
	    {"\xed\x9f\xbf", 0, 1, "U+D7FF, below the surrogates"},
	    {"\xee\x80\x80", 0, 1, "U+E000, above the surrogates"},
	    {"\xef\xbf\xbf", 0, 1, "U+FFFF"},
	    {"\xf0\x90\x80\x80", 0, 1, "U+10000"},
	    {"\xf3\xbf\xbf\xbf", 0, 1, "U+FFFFF"},
	    {"\xf4\x80\x80\x80", 0, 1, "U+100000"},
	    {"\xf4\x8f\xbf\xbf", 0, 1, "U+10FFFF"},
	    {"\xe4\xb8\xad\xe6\x96\x87", 0, 1, "中文"},
	    {"\xe3\x80\x80", 0, 1, "U+3000 ideographic space"},
	    {"a\xc2\x80\xe0\xa0\x80\xf0\x90\x80\x80z", 0, 1, "mixed lengths"},
	};

	(void)state;
	CHECK_TABLE(c);
	assert_int_equal(utf8_valid("", 0), 1);
	assert_int_equal(utf8_valid("abc", 0), 1);
}

static void
test_overlongs(void **state)
{
	static const struct vcase c[] = {
	    {"\xc0\x80", 0, 0, "overlong NUL, 2 bytes"},
	    {"\xc0\xaf", 0, 0, "overlong '/', 2 bytes"},
	    {"\xc1\xbf", 0, 0, "overlong U+007F"},
	    {"\xe0\x80\x80", 0, 0, "overlong NUL, 3 bytes"},
	    {"\xe0\x80\xaf", 0, 0, "overlong '/', 3 bytes"},
	    {"\xe0\x9f\xbf", 0, 0, "overlong U+07FF"},
	    {"\xf0\x80\x80\x80", 0, 0, "overlong NUL, 4 bytes"},
	    {"\xf0\x80\x80\xaf", 0, 0, "overlong '/', 4 bytes"},
	    {"\xf0\x8f\xbf\xbf", 0, 0, "overlong U+FFFF"},
	    {"\xf8\x80\x80\x80\xaf", 0, 0, "overlong '/', 5 bytes"},
	    {"\xfc\x80\x80\x80\x80\xaf", 0, 0, "overlong '/', 6 bytes"},
	};

	(void)state;
	CHECK_TABLE(c);
}

static void
test_surrogates_and_range(void **state)
{
	static const struct vcase c[] = {
	    {"\xed\xa0\x80", 0, 0, "U+D800"},
	    {"\xed\xad\xbf", 0, 0, "U+DB7F"},
	    {"\xed\xb0\x80", 0, 0, "U+DC00"},
	    {"\xed\xbf\xbf", 0, 0, "U+DFFF"},
	    {"\xed\xa0\xbd\xed\xb8\x80", 0, 0, "CESU-8 surrogate pair"},
	    {"\xf4\x90\x80\x80", 0, 0, "U+110000"},
	    {"\xf4\xbf\xbf\xbf", 0, 0, "U+13FFFF"},
	    {"\xf5\x80\x80\x80", 0, 0, "lead F5"},
	    {"\xf7\xbf\xbf\xbf", 0, 0, "U+1FFFFF"},
	    {"\xf8\x88\x80\x80\x80", 0, 0, "5-byte form"},
	    {"\xfc\x84\x80\x80\x80\x80", 0, 0, "6-byte form"},
	    {"\xfe", 0, 0, "FE"},
	    {"\xff", 0, 0, "FF"},
	    {"a\xff"
	     "b",
	     0, 0, "FF inside ASCII"},
	};

	(void)state;
	CHECK_TABLE(c);
}

static void
test_bad_continuations(void **state)
{
	static const struct vcase c[] = {
	    {"\x80", 0, 0, "lone continuation 80"},
	    {"\xbf", 0, 0, "lone continuation BF"},
	    {"a\x80", 0, 0, "continuation after ASCII"},
	    {"\xc2\x41", 0, 0, "2-byte lead, ASCII follows"},
	    {"\xc2\xc2\x80", 0, 0, "2-byte lead, lead follows"},
	    {"\xe4\x41\xad", 0, 0, "3-byte, second byte ASCII"},
	    {"\xe4\xb8\x41", 0, 0, "3-byte, third byte ASCII"},
	    {"\xe4\xb8\xc0", 0, 0, "3-byte, third byte C0"},
	    {"\xf0\x90\x80\x41", 0, 0, "4-byte, fourth byte ASCII"},
	    {"\xf0\x90\x41\x80", 0, 0, "4-byte, third byte ASCII"},
	    {"\xe4\xb8\xad\xad", 0, 0, "one continuation too many"},
	};

	(void)state;
	CHECK_TABLE(c);
}

/* A sequence cut by the end of the buffer: the bytes after it are not the validator's. */
static void
test_truncated_at_end(void **state)
{
	static const struct vcase c[] = {
	    {"\xc2", 0, 0, "2-byte, 1 of 2"},
	    {"\xe4", 0, 0, "3-byte, 1 of 3"},
	    {"\xe4\xb8", 0, 0, "3-byte, 2 of 3"},
	    {"\xf0", 0, 0, "4-byte, 1 of 4"},
	    {"\xf0\x9f", 0, 0, "4-byte, 2 of 4"},
	    {"\xf0\x9f\x98", 0, 0, "4-byte, 3 of 4"},
	    {"abc\xe4\xb8", 0, 0, "after ASCII"},
	    {"\xe4\xb8\xad\xe6\x96", 0, 0, "after a whole character"},
	};
	const char *full = "\xe4\xb8\xad\xf0\x9f\x98\x80"; /* 中😀 */
	size_t len;

	(void)state;
	CHECK_TABLE(c);
	/* every cut inside the characters is refused, the cuts between them are fine */
	for (len = 0; len <= 7; len++)
		assert_int_equal(valid_exact(full, len), len == 0 || len == 3 || len == 7);
}

static void
test_nul_refused(void **state)
{
	static const struct vcase c[] = {
	    {"\0", 1, 0, "a lone NUL"},
	    {"a\0", 2, 0, "trailing NUL"},
	    {"\0a", 2, 0, "leading NUL"},
	    {"a\0b", 3, 0, "embedded NUL"},
	    {"\xe4\xb8\xad\0", 4, 0, "NUL after a character"},
	    {"\xe4\0\xad", 3, 0, "NUL inside a character"},
	};

	(void)state;
	CHECK_TABLE(c);
}

/* An independent decoder: returns the code point and its length, or -1. */
static long
ref_decode(const unsigned char *p, size_t len, size_t *n)
{
	static const long min[] = {0, 0x80, 0x800, 0x10000};
	long cp;
	size_t i, k;

	if (len == 0)
		return -1;
	if (p[0] < 0x80) {
		*n = 1;
		return p[0] == 0 ? -1 : p[0];
	}
	if ((p[0] & 0xE0) == 0xC0)
		k = 1, cp = p[0] & 0x1F;
	else if ((p[0] & 0xF0) == 0xE0)
		k = 2, cp = p[0] & 0x0F;
	else if ((p[0] & 0xF8) == 0xF0)
		k = 3, cp = p[0] & 0x07;
	else
		return -1;
	if (len < k + 1)
		return -1;
	for (i = 1; i <= k; i++) {
		if ((p[i] & 0xC0) != 0x80)
			return -1;
		cp = cp << 6 | (p[i] & 0x3F);
	}
	if (cp < min[k] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return -1;
	*n = k + 1;
	return cp;
}

static int
ref_valid(const unsigned char *p, size_t len)
{
	size_t n;

	while (len > 0) {
		if (ref_decode(p, len, &n) < 0)
			return 0;
		p += n;
		len -= n;
	}
	return 1;
}

/* Every 1-, 2- and 3-byte string agrees with the reference decoder. */
static void
test_exhaustive_short(void **state)
{
	unsigned char b[3];
	unsigned long v;
	size_t len;

	(void)state;
	for (len = 1; len <= 3; len++)
		for (v = 0; v < (1UL << (8 * len)); v++) {
			b[0] = (unsigned char)(v >> (8 * (len - 1)));
			if (len > 1)
				b[1] = (unsigned char)(v >> (8 * (len - 2)));
			if (len > 2)
				b[2] = (unsigned char)v;
			if (utf8_valid((const char *)b, len) != ref_valid(b, len))
				fail_msg("len %zu value %06lx: want %d", len, v, ref_valid(b, len));
		}
}

/* 4-byte strings: every lead byte from F0 with interesting following bytes. */
static void
test_exhaustive_four(void **state)
{
	static const unsigned char follow[] = {0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f,
	                                       0xa0, 0xbf, 0xc0, 0xc2, 0xe0, 0xf4, 0xff};
	const size_t nf = sizeof(follow);
	unsigned char b[4];
	unsigned lead;
	size_t i, j, k;

	(void)state;
	for (lead = 0xE0; lead <= 0xFF; lead++)
		for (i = 0; i < nf; i++)
			for (j = 0; j < nf; j++)
				for (k = 0; k < nf; k++) {
					b[0] = (unsigned char)lead;
					b[1] = follow[i];
					b[2] = follow[j];
					b[3] = follow[k];
					if (utf8_valid((const char *)b, 4) != ref_valid(b, 4))
						fail_msg("%02x %02x %02x %02x", b[0], b[1], b[2],
						         b[3]);
				}
}

static size_t
encode(unsigned char *out, long cp)
{
	if (cp < 0x80) {
		out[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (unsigned char)(0xC0 | cp >> 6);
		out[1] = (unsigned char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (unsigned char)(0xE0 | cp >> 12);
		out[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
		out[2] = (unsigned char)(0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (unsigned char)(0xF0 | cp >> 18);
	out[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3F));
	out[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
	out[3] = (unsigned char)(0x80 | (cp & 0x3F));
	return 4;
}

/* Every code point's shortest form: valid unless NUL or a surrogate; one code point long. */
static void
test_every_code_point(void **state)
{
	unsigned char b[5];
	long cp;
	size_t n;
	int want;

	(void)state;
	for (cp = 0; cp <= 0x10FFFF; cp++) {
		n = encode(b, cp);
		b[n] = '\0';
		want = cp != 0 && !(cp >= 0xD800 && cp <= 0xDFFF);
		if (utf8_valid((const char *)b, n) != want)
			fail_msg("U+%04lX: want %d", cp, want);
		if (want && utf8_len((const char *)b) != 1)
			fail_msg("U+%04lX: utf8_len %zu", cp, utf8_len((const char *)b));
	}
}

static void
test_len(void **state)
{
	static const struct {
		const char *s;
		size_t want;
	} c[] = {
	    {"", 0},
	    {"a", 1},
	    {"hello", 5},
	    {"\x7f", 1},
	    {"\xc2\x80", 1},
	    {"\xdf\xbf", 1},
	    {"\xe0\xa0\x80", 1},
	    {"\xef\xbf\xbf", 1},
	    {"\xf0\x90\x80\x80", 1},
	    {"\xf4\x8f\xbf\xbf", 1},
	    {"\xe4\xb8\xad\xe6\x96\x87", 2}, /* 中文 */
	    {"a\xe4\xb8\xad"
	     "b\xf0\x9f\x98\x80"
	     "c",
	     5},                                         /* a中b😀c */
	    {"\xe3\x80\x80\xe3\x80\x80", 2},             /* two U+3000 */
	    {"\xe6\xb9\x96\xe5\x8d\x97\xe7\x9c\x81", 3}, /* 湖南省 */
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		assert_true(utf8_valid(c[i].s, strlen(c[i].s)));
		if (utf8_len(c[i].s) != c[i].want)
			fail_msg("case %zu: utf8_len %zu, want %zu", i, utf8_len(c[i].s),
			         c[i].want);
	}
}

/* 100 Chinese characters are 300 bytes but 100 code points. */
static void
test_len_long(void **state)
{
	char s[3 * 1000 + 1];
	size_t i;

	(void)state;
	for (i = 0; i < 1000; i++)
		memcpy(s + 3 * i, "\xe4\xb8\xad", 3);
	s[3000] = '\0';
	assert_true(utf8_valid(s, 3000));
	assert_int_equal(utf8_len(s), 1000);
	s[300] = '\0';
	assert_int_equal(utf8_len(s), 100);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_boundaries_valid),
	    cmocka_unit_test(test_overlongs),
	    cmocka_unit_test(test_surrogates_and_range),
	    cmocka_unit_test(test_bad_continuations),
	    cmocka_unit_test(test_truncated_at_end),
	    cmocka_unit_test(test_nul_refused),
	    cmocka_unit_test(test_exhaustive_short),
	    cmocka_unit_test(test_exhaustive_four),
	    cmocka_unit_test(test_every_code_point),
	    cmocka_unit_test(test_len),
	    cmocka_unit_test(test_len_long),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
