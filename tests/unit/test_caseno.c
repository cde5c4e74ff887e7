/*
 * lib/core/caseno.c: case numbers (format, check character, citizen input) and record ids.
 * The check character is tested exhaustively: every single substitution and every adjacent
 * transposition of distinct symbols, at every position.
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

#define HALL "430102001001"
#define NSYM 31
#define SEQ_LIMIT 819628286980801ULL /* 31^10 */

static const uint64_t seqs[] = {
    0,
    1,
    30,
    31,
    123456789,
    60ULL * 1000000 * 60 * 24 * 365, /* about a year after the epoch */
    58000000000000ULL,               /* late 2026 */
    SEQ_LIMIT - 1,
};

/* The 10-character sequence part read back as a number. */
static uint64_t
seq_of(const char *caseno)
{
	uint64_t v = 0;
	int i;

	for (i = 12; i < 22; i++) {
		const char *p = strchr(CASENO_ALPHABET, caseno[i]);

		assert_non_null(p);
		v = v * NSYM + (uint64_t)(p - CASENO_ALPHABET);
	}
	return v;
}

static void
test_alphabet(void **state)
{
	const char *a = CASENO_ALPHABET;
	size_t i;

	(void)state;
	assert_int_equal(strlen(a), NSYM);
	/* no letters that read like digits or each other */
	assert_null(strpbrk(a, "IOSUZ"));
	assert_null(strpbrk(a, "abcdefghijklmnopqrstuvwxyz"));
	for (i = 0; i < NSYM; i++)
		assert_ptr_equal(strchr(a, a[i]), a + i);
}

static void
test_format(void **state)
{
	char out[CASENO_LEN + 1];
	size_t i;

	(void)state;
	assert_int_equal(CASENO_LEN, 23);
	for (i = 0; i < sizeof(seqs) / sizeof(seqs[0]); i++) {
		memset(out, 'Z', sizeof(out));
		assert_int_equal(caseno_make(out, HALL, seqs[i]), 0);
		assert_int_equal(strlen(out), CASENO_LEN);
		assert_memory_equal(out, HALL, 12);
		assert_int_equal(strspn(out, CASENO_ALPHABET), CASENO_LEN);
		assert_true(seq_of(out) == seqs[i]);
		assert_int_equal(caseno_valid(out), 1);
	}
	assert_int_equal(caseno_make(out, HALL, 0), 0);
	assert_memory_equal(out + 12, "0000000000", 10);
	assert_int_equal(caseno_make(out, HALL, SEQ_LIMIT - 1), 0);
	assert_memory_equal(out + 12, "YYYYYYYYYY", 10);
	assert_int_equal(caseno_make(out, "999999999999", 31), 0);
	assert_memory_equal(out, "9999999999990000000010", 22);
}

static void
test_range(void **state)
{
	char out[CASENO_LEN + 1];

	(void)state;
	assert_int_equal(caseno_make(out, HALL, SEQ_LIMIT - 1), 0);
	assert_int_equal(caseno_make(out, HALL, SEQ_LIMIT), -1);
	assert_int_equal(caseno_make(out, HALL, SEQ_LIMIT * 2), -1);
	assert_int_equal(caseno_make(out, HALL, UINT64_MAX), -1);
}

static void
test_bad_hall(void **state)
{
	static const char *const bad[] = {
	    "",
	    "43010200100",   /* 11 digits */
	    "4301020010011", /* 13 */
	    "43010200100A",
	    "4301020010O1",
	    "430102 01001",
	    "-43010200100",
	    "43010200100\xef",
	    "４３０１０２００１００１",
	};
	char out[CASENO_LEN + 1];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (caseno_make(out, bad[i], 12345) != -1)
			fail_msg("hall code \"%s\" accepted", bad[i]);
}

/* Every other symbol at every position, including the check character itself. */
static void
test_every_substitution(void **state)
{
	char out[CASENO_LEN + 1], m[CASENO_LEN + 1];
	size_t i, pos, k;

	(void)state;
	for (i = 0; i < sizeof(seqs) / sizeof(seqs[0]); i++) {
		assert_int_equal(caseno_make(out, HALL, seqs[i]), 0);
		for (pos = 0; pos < CASENO_LEN; pos++)
			for (k = 0; k < NSYM; k++) {
				if (CASENO_ALPHABET[k] == out[pos])
					continue;
				memcpy(m, out, sizeof(m));
				m[pos] = CASENO_ALPHABET[k];
				if (caseno_valid(m))
					fail_msg("%s with %c at %zu passes", out, m[pos], pos);
			}
	}
}

/* The one check character that completes body[0..22): exactly one must. */
static char
complete(char body[CASENO_LEN + 1])
{
	size_t k;
	char found = 0;

	body[CASENO_LEN] = '\0';
	for (k = 0; k < NSYM; k++) {
		body[CASENO_LEN - 1] = CASENO_ALPHABET[k];
		if (caseno_valid(body)) {
			if (found)
				fail_msg("two check characters for %.22s", body);
			found = CASENO_ALPHABET[k];
		}
	}
	if (!found)
		fail_msg("no check character for %.22s", body);
	body[CASENO_LEN - 1] = found;
	return found;
}

/*
 * Every ordered pair of distinct symbols at every pair of neighbours: build a valid number
 * with a,b there, swap them, and the result must fail.
 */
static void
test_every_transposition(void **state)
{
	char n[CASENO_LEN + 1];
	size_t pos, a, b;

	(void)state;
	for (pos = 0; pos + 1 < CASENO_LEN; pos++)
		for (a = 0; a < NSYM; a++)
			for (b = 0; b < NSYM; b++) {
				char t;

				if (a == b)
					continue;
				memcpy(n, HALL "7K3M9PQ2XW", 22);
				n[pos] = CASENO_ALPHABET[a];
				if (pos + 1 < CASENO_LEN - 1) {
					n[pos + 1] = CASENO_ALPHABET[b];
					complete(n);
				} else if (complete(n) != CASENO_ALPHABET[b])
					continue; /* the check character is not ours to choose */
				assert_int_equal(caseno_valid(n), 1);
				t = n[pos];
				n[pos] = n[pos + 1];
				n[pos + 1] = t;
				if (caseno_valid(n))
					fail_msg("swap at %zu of %c%c passes: %s", pos, n[pos + 1],
					         n[pos], n);
			}
}

/* And the transpositions of the numbers caseno_make really issues. */
static void
test_transpositions_made(void **state)
{
	char out[CASENO_LEN + 1], m[CASENO_LEN + 1];
	size_t i, pos;
	uint64_t seq;

	(void)state;
	for (i = 0, seq = 58000000000000ULL; i < 2000; i++, seq += 7919 * i) {
		assert_int_equal(caseno_make(out, HALL, seq), 0);
		for (pos = 0; pos + 1 < CASENO_LEN; pos++) {
			if (out[pos] == out[pos + 1])
				continue;
			memcpy(m, out, sizeof(m));
			m[pos] = out[pos + 1];
			m[pos + 1] = out[pos];
			if (caseno_valid(m))
				fail_msg("%s: swap at %zu passes", out, pos);
		}
	}
}

static void
test_valid_refuses(void **state)
{
	char out[CASENO_LEN + 1], m[CASENO_LEN + 2];

	(void)state;
	assert_int_equal(caseno_make(out, HALL, 58000000000000ULL), 0);
	assert_int_equal(caseno_valid(out), 1);
	assert_int_equal(caseno_valid(""), 0);
	memcpy(m, out, CASENO_LEN - 1);
	m[CASENO_LEN - 1] = '\0';
	assert_int_equal(caseno_valid(m), 0); /* without its check character */
	memcpy(m, out, CASENO_LEN);
	m[CASENO_LEN] = '0';
	m[CASENO_LEN + 1] = '\0';
	assert_int_equal(caseno_valid(m), 0); /* one more character */
	memcpy(m, out, CASENO_LEN + 1);
	m[15] = (char)(m[15] >= 'A' ? m[15] - 'A' + 'a' : 'z');
	assert_int_equal(caseno_valid(m), 0); /* lower case is not normalized */
	memcpy(m, out, CASENO_LEN + 1);
	m[14] = 'O';
	assert_int_equal(caseno_valid(m), 0);
}

/* Monotonic sequences: distinct numbers, each valid, each reading back as its seq. */
static int
cmp_str(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void
test_distinct(void **state)
{
	enum { N = 20000 };
	char(*n)[CASENO_LEN + 1] = malloc(N * sizeof(*n));
	uint64_t base = 58000000000000ULL;
	size_t i;

	(void)state;
	assert_non_null(n);
	for (i = 0; i < N; i++) {
		/* consecutive microseconds, then spread over larger steps */
		uint64_t seq = base + (i < N / 2 ? i : (uint64_t)i * 1000003);

		assert_int_equal(caseno_make(n[i], HALL, seq), 0);
		assert_true(seq_of(n[i]) == seq);
	}
	qsort(n, N, sizeof(n[0]), cmp_str);
	for (i = 1; i < N; i++)
		if (strcmp(n[i - 1], n[i]) == 0)
			fail_msg("%s issued twice", n[i]);
	free(n);
}

/* Full-width form of an ASCII string (U+FF01..U+FF5E), as Chinese input methods type. */
static void
fullwidth(char *out, size_t size, const char *in)
{
	size_t n = 0;

	for (; *in != '\0'; in++) {
		unsigned cp = 0xFF00 + (unsigned char)*in - 0x20;

		assert_true(n + 4 <= size);
		out[n++] = (char)(0xE0 | cp >> 12);
		out[n++] = (char)(0x80 | (cp >> 6 & 0x3F));
		out[n++] = (char)(0x80 | (cp & 0x3F));
	}
	out[n] = '\0';
}

static void
test_normalize_accepts(void **state)
{
	char good[CASENO_LEN + 1], out[CASENO_LEN + 1], in[256], tmp[128];
	size_t i;

	(void)state;
	/* a number with letters, zeros and ones in it */
	assert_int_equal(caseno_make(good, "430102001001", 58000000000000ULL + 17), 0);
	assert_true(strpbrk(good + 12, "ABCDEFGHJKLMNPQRTVWXY") != NULL);

	assert_int_equal(caseno_normalize(out, good), 0);
	assert_string_equal(out, good);

	for (i = 0; good[i] != '\0'; i++)
		in[i] = (char)(good[i] >= 'A' && good[i] <= 'Z' ? good[i] - 'A' + 'a' : good[i]);
	in[i] = '\0';
	assert_int_equal(caseno_normalize(out, in), 0);
	assert_string_equal(out, good);

	snprintf(in, sizeof(in), " %.4s %.4s %.4s-%.5s-%.5s-%c ", good, good + 4, good + 8,
	         good + 12, good + 17, good[22]);
	assert_int_equal(caseno_normalize(out, in), 0);
	assert_string_equal(out, good);

	snprintf(in, sizeof(in), "%.12s\t-\t%.11s", good, good + 12);
	assert_int_equal(caseno_normalize(out, in), 0);
	assert_string_equal(out, good);

	/* full-width digits and letters, and the ideographic space U+3000 */
	fullwidth(in, sizeof(in), good);
	assert_int_equal(caseno_normalize(out, in), 0);
	assert_string_equal(out, good);
	fullwidth(tmp, sizeof(tmp), good + 12);
	snprintf(in, sizeof(in), "%.12s\xe3\x80\x80%s", good, tmp);
	assert_int_equal(caseno_normalize(out, in), 0);
	assert_string_equal(out, good);
	/* full-width lower case and full-width hyphen-minus U+FF0D */
	for (i = 0; good[i] != '\0'; i++)
		tmp[i] = (char)(good[i] >= 'A' && good[i] <= 'Z' ? good[i] - 'A' + 'a' : good[i]);
	tmp[i] = '\0';
	fullwidth(in, sizeof(in), tmp);
	assert_int_equal(caseno_normalize(out, in), 0);
	assert_string_equal(out, good);
	assert_int_equal(caseno_normalize(out, "\xef\xbc\x94\xef\xbc\x93\xef\xbc\x90"
	                                       "102001001\xef\xbc\x8d"
	                                       "0000000000-0"),
	                 0);
	assert_string_equal(out, "43010200100100000000000");

	/* O for 0 and I for 1, either case */
	assert_int_equal(caseno_normalize(out, "43O1O2OO1OO1-ooooo00000-i"), 0);
	assert_string_equal(out, "43010200100100000000001");
	assert_int_equal(caseno_normalize(out, "ＯＩｏｉ0000000000000000000"), 0);
	assert_string_equal(out, "01010000000000000000000");
}

static void
test_normalize_refuses(void **state)
{
	static const char *const bad[] = {
	    "",
	    "   ",
	    "4301020010010000000000",   /* 22 */
	    "430102001001000000000000", /* 24 */
	    "430102001001000000000S0",  /* S, U, Z are not in the alphabet */
	    "430102001001000000000U0",
	    "430102001001000000000Z0",
	    "43010200100100000000!00",
	    "4301020010010000000000_",
	    "4301020010010000000000.",
	    "43010200100100000000\xe4\xb8\xad", /* 中 */
	    "430102001001000000000\xef\xbc\xba"
	    "0",                               /* full-width Z */
	    "43010200100100000000000\xe3\x80", /* a cut U+3000 */
	    "4301020010010000000000\xef\xbc",  /* a cut full-width form */
	    "4301020010010000000000\xef",
	    "43010200100100000000000\n",
	    "43010200100100000000000000000000000000000000000000000000000000000000000000000",
	};
	char out[CASENO_LEN + 1];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (caseno_normalize(out, bad[i]) != -1)
			fail_msg("\"%s\" normalized to %s", bad[i], out);
}

/* Long input never writes past the 24-byte output (ASan checks the heap copy). */
static void
test_normalize_bounds(void **state)
{
	char *out = malloc(CASENO_LEN + 1);
	char in[4096];

	(void)state;
	assert_non_null(out);
	memset(in, '7', sizeof(in) - 1);
	in[sizeof(in) - 1] = '\0';
	assert_int_equal(caseno_normalize(out, in), -1);
	memset(in, ' ', sizeof(in) - 1);
	memcpy(in + 2000, "43010200100100000000000", 23);
	assert_int_equal(caseno_normalize(out, in), 0);
	assert_string_equal(out, "43010200100100000000000");
	free(out);
}

static void
test_record_id(void **state)
{
	char out[64];
	const char *want = "430102001001-C1234";
	size_t n = strlen(want);

	(void)state;
	assert_int_equal(record_id_make(out, sizeof(out), HALL, 'C', 1234), 0);
	assert_string_equal(out, want);
	assert_int_equal(record_id_make(out, sizeof(out), HALL, 'R', 0), 0);
	assert_string_equal(out, "430102001001-R0");
	assert_int_equal(record_id_make(out, sizeof(out), HALL, 'E', UINT64_MAX), 0);
	assert_string_equal(out, "430102001001-E18446744073709551615");
	/* exactly enough room, then one byte short */
	assert_int_equal(record_id_make(out, n + 1, HALL, 'C', 1234), 0);
	assert_string_equal(out, want);
	assert_int_equal(record_id_make(out, n, HALL, 'C', 1234), -1);
	assert_int_equal(record_id_make(out, 1, HALL, 'C', 1234), -1);
	/* ids of different types or sequences differ */
	assert_int_equal(record_id_make(out, sizeof(out), HALL, 'C', 12), 0);
	assert_string_not_equal(out, "430102001001-C1");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_alphabet),
	    cmocka_unit_test(test_format),
	    cmocka_unit_test(test_range),
	    cmocka_unit_test(test_bad_hall),
	    cmocka_unit_test(test_every_substitution),
	    cmocka_unit_test(test_every_transposition),
	    cmocka_unit_test(test_transpositions_made),
	    cmocka_unit_test(test_valid_refuses),
	    cmocka_unit_test(test_distinct),
	    cmocka_unit_test(test_normalize_accepts),
	    cmocka_unit_test(test_normalize_refuses),
	    cmocka_unit_test(test_normalize_bounds),
	    cmocka_unit_test(test_record_id),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
