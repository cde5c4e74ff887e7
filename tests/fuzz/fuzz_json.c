/*
 * libFuzzer driver: kv_parse_json on the input as an API request body. After a successful
 * parse every pair must be what kv.c promises (core.h): a non-empty name of at most
 * KV_MAX_NAME bytes, a value of at most KV_MAX_VALUE, both valid UTF-8 without NUL, no name
 * twice, at most KV_MAX_PAIRS pairs, and a value marked is_int is the decimal text of an
 * integer. After a failure the list is empty. Any broken promise aborts.
 */
#include <errno.h>
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

	e = kv_parse_json((const char *)data, size, &l);
	if (e == PARSE_OK)
		fuzz_check_kvlist(&l, 1);
	else if (l.n != 0 || e == PARSE_BAD_ENCODING || (int)e < 0 || e > PARSE_BAD_TYPE)
		abort();
	/* JSON text with an invalid UTF-8 byte sequence or a raw NUL is never accepted */
	if (e == PARSE_OK && !utf8_valid((const char *)data, size))
		abort();
	kv_free(&l);
	return 0;
}
