/*
 * libFuzzer driver: kv_parse_form on the input as an application/x-www-form-urlencoded body.
 * After a successful parse every pair must be what kv.c promises (core.h): a non-empty name
 * of at most KV_MAX_NAME bytes, a value of at most KV_MAX_VALUE, both valid UTF-8 without
 * NUL, no name twice, at most KV_MAX_PAIRS pairs, never a JSON integer. After a failure the
 * list is empty. Any broken promise aborts, so libFuzzer records the input.
 *
 *   make build/fuzz/fuzz_form && build/fuzz/fuzz_form corpus-copy/ tests/fuzz/corpus/fuzz_form
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "fuzz_kv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kvlist l;
	enum parse_err e;

	e = kv_parse_form((const char *)data, size, &l);
	if (e == PARSE_OK)
		fuzz_check_kvlist(&l, 0);
	else if (l.n != 0 || e == PARSE_BAD_TYPE || (int)e < 0 || e > PARSE_BAD_TYPE)
		abort();
	/* a NUL byte anywhere in the input is always refused */
	if (e == PARSE_OK && memchr(data, 0, size) != NULL)
		abort();
	kv_free(&l);
	return 0;
}
