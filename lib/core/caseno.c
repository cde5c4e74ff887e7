/*
 * Case numbers and record ids.
 *
 * A case number is the hall code (12 digits), a sequence (10 characters of base 31) and a
 * check character, 23 characters in all. The sequence is the hall store's record sequence:
 * microseconds since CASENO_EPOCH_US, never behind the clock and never reused (see
 * store_next_seq), so numbers stay unique across the province with no coordination, and a
 * store recreated from scratch starts above everything the old one issued.
 *
 * Check character: with the symbols' values v_i and weights w_i = 3^(22-i) mod 31, the whole
 * number satisfies sum(v_i * w_i) = 0 (mod 31). 31 is prime and 3 a primitive root modulo
 * 31, so the 23 weights are distinct and nonzero: changing one symbol changes the sum by
 * (v' - v) * w_i != 0, and swapping two neighbours by (v_i - v_i+1)(w_i+1 - w_i) != 0.
 * That is why the alphabet has exactly 31 symbols (digits and letters without I, O, S, U, Z).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core.h"

#define CASENO_BASE 31
#define CASENO_SEQ_LEN 10

static int
caseno_value(int c)
{
	const char *p;

	if (c == '\0' || (p = strchr(CASENO_ALPHABET, c)) == NULL)
		return -1;
	return (int)(p - CASENO_ALPHABET);
}

/* Weighted sum of the first n symbols as positions of a CASENO_LEN-long number. */
static int
caseno_sum(const char *s, size_t n)
{
	int sum = 0, w = 1;
	size_t i;

	/* walk from the check position backwards so that w = 3^(22-i) */
	for (i = CASENO_LEN; i-- > 0;) {
		if (i < n) {
			int v = caseno_value((unsigned char)s[i]);

			if (v < 0)
				return -1;
			sum = (sum + v * w) % CASENO_BASE;
		}
		w = w * 3 % CASENO_BASE;
	}
	return sum;
}

int
caseno_make(char out[CASENO_LEN + 1], const char *hall_code, uint64_t seq)
{
	int i, sum;

	if (strlen(hall_code) != 12 || strspn(hall_code, "0123456789") != 12)
		return -1;
	memcpy(out, hall_code, 12);
	for (i = 12 + CASENO_SEQ_LEN - 1; i >= 12; i--) {
		out[i] = CASENO_ALPHABET[seq % CASENO_BASE];
		seq /= CASENO_BASE;
	}
	if (seq != 0)	/* past 2050-12: the format would have to grow */
		return -1;
	out[CASENO_LEN - 1] = '0';
	out[CASENO_LEN] = '\0';
	if ((sum = caseno_sum(out, CASENO_LEN - 1)) < 0)
		return -1;
	out[CASENO_LEN - 1] = CASENO_ALPHABET[(CASENO_BASE - sum) % CASENO_BASE];
	return 0;
}

int
caseno_valid(const char *s)
{
	return strlen(s) == CASENO_LEN && caseno_sum(s, CASENO_LEN) == 0;
}

/*
 * Citizens read numbers off paper and type them on phones: accept lower case, spaces and
 * hyphens, full-width forms from Chinese input methods, and O and I for 0 and 1.
 */
int
caseno_normalize(char out[CASENO_LEN + 1], const char *in)
{
	const unsigned char *p = (const unsigned char *)in;
	size_t n = 0;

	while (*p != '\0') {
		int c = *p++;

		/* U+FF01..U+FF5E (full-width ASCII) is EF BC 81..EF BD 9E */
		if (c == 0xEF && (p[0] == 0xBC || p[0] == 0xBD) && p[1] >= 0x80 && p[1] <= 0xBF) {
			c = (p[0] == 0xBC ? p[1] - 0x80 : p[1] - 0x40) + 0x20;
			p += 2;
		} else if (c == 0xE3 && p[0] == 0x80 && p[1] == 0x80) {
			c = ' ';	/* U+3000 ideographic space */
			p += 2;
		}
		if (c == ' ' || c == '-' || c == '\t')
			continue;
		if (c >= 'a' && c <= 'z')
			c -= 'a' - 'A';
		if (c == 'O')
			c = '0';
		else if (c == 'I')
			c = '1';
		if (caseno_value(c) < 0 || n == CASENO_LEN)
			return -1;
		out[n++] = (char)c;
	}
	out[n] = '\0';
	return n == CASENO_LEN ? 0 : -1;
}

int
record_id_make(char *out, size_t outlen, const char *hall_code, char type, uint64_t seq)
{
	int n = snprintf(out, outlen, "%s-%c%" PRIu64, hall_code, type, seq);

	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}
