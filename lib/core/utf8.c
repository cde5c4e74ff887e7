/*
 * UTF-8 validation after RFC 3629 section 4: no overlong forms, no surrogates, nothing
 * above U+10FFFF. We also refuse NUL, which no field of ours may carry.
 */
#include "core.h"

int
utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;

	while (p < end) {
		unsigned char c = *p;
		size_t n, i;
		unsigned char lo = 0x80, hi = 0xBF;

		if (c == 0)
			return 0;
		if (c < 0x80) {
			p++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF)
			n = 1;
		else if (c >= 0xE0 && c <= 0xEF) {
			n = 2;
			if (c == 0xE0)
				lo = 0xA0;
			else if (c == 0xED)
				hi = 0x9F;
		} else if (c >= 0xF0 && c <= 0xF4) {
			n = 3;
			if (c == 0xF0)
				lo = 0x90;
			else if (c == 0xF4)
				hi = 0x8F;
		} else
			return 0;
		if ((size_t)(end - p) <= n)
			return 0;
		if (p[1] < lo || p[1] > hi)
			return 0;
		for (i = 2; i <= n; i++)
			if (p[i] < 0x80 || p[i] > 0xBF)
				return 0;
		p += n + 1;
	}
	return 1;
}

size_t
utf8_len(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			n++;
	return n;
}
