/*
 * libFuzzer driver: text_clean (lib/core/text.c) on the input as a server's text. Whatever
 * the bytes and the buffer's size (the input's first byte chooses it), the output must be
 * valid UTF-8 without a NUL, a C0 control, DEL or a C1 control, must fit the buffer with its
 * NUL, must be a prefix of the output a larger buffer gets, and cleaning in place must give
 * the same text. Any broken promise aborts, so libFuzzer records the input.
 *
 *   make build/fuzz/fuzz_text && build/fuzz/fuzz_text corpus-copy/ tests/fuzz/corpus/fuzz_text
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_clean(const char *s, size_t n, size_t outsize)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i;

	if (n >= outsize || s[n] != '\0' || strlen(s) != n || !utf8_valid(s, n))
		abort();
	for (i = 0; i < n; i++) {
		if (p[i] < 0x20 || p[i] == 0x7f)
			abort();
		if (p[i] == 0xC2 && i + 1 < n && p[i + 1] >= 0x80 && p[i + 1] <= 0x9F)
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t outsize, n, whole_n;
	char *in, *out, *whole, *inplace;

	if (size == 0)
		return 0;
	outsize = 1 + data[0] % 64; /* small buffers, where the cuts are */
	data++, size--;
	/* exact-size copies, so that a read past the input is caught */
	if ((in = malloc(size + 1)) == NULL || (out = malloc(outsize)) == NULL ||
	    (whole = malloc(size + 1)) == NULL || (inplace = malloc(size + 1)) == NULL)
		abort();
	memcpy(in, data, size);
	n = text_clean(out, outsize, in, size);
	check_clean(out, n, outsize);
	/* an output never longer than the input: the promise in-place cleaning rests on */
	whole_n = text_clean(whole, size + 1, in, size);
	check_clean(whole, whole_n, size + 1);
	if (whole_n > size || n > whole_n || memcmp(out, whole, n) != 0)
		abort();
	memcpy(inplace, data, size);
	inplace[size] = '\0';
	if (text_clean(inplace, size + 1, inplace, size) != whole_n || strcmp(inplace, whole) != 0)
		abort();
	/* cleaning clean text changes nothing */
	memcpy(in, whole, whole_n);
	if (text_clean(inplace, size + 1, in, whole_n) != whole_n || strcmp(inplace, whole) != 0)
		abort();
	free(in);
	free(out);
	free(whole);
	free(inplace);
	return 0;
}
