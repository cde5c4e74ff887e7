/*
 * libFuzzer driver: kv_parse_form on the input as a query string (a progress lookup's
 * ?case_no=…&code=…, a guide search's ?q=…), then caseno_normalize of every value, as the
 * lookup handlers do with what a citizen typed. Checks kv.c's promises (see fuzz_form.c) and
 * that a normalized case number is CASENO_LEN symbols of CASENO_ALPHABET and normalizes to
 * itself. The output buffer is a heap block of exactly CASENO_LEN + 1 bytes, so ASan catches
 * any write past it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "fuzz_kv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_caseno(const char *value)
{
	char *out = malloc(CASENO_LEN + 1), *again = malloc(CASENO_LEN + 1);

	if (out == NULL || again == NULL)
		abort();
	if (caseno_normalize(out, value) == 0) {
		if (strlen(out) != CASENO_LEN || strspn(out, CASENO_ALPHABET) != CASENO_LEN)
			abort();
		if (caseno_normalize(again, out) != 0 || strcmp(again, out) != 0)
			abort();
		(void)caseno_valid(out);
	}
	free(out);
	free(again);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kvlist l;
	enum parse_err e;
	size_t i;

	e = kv_parse_form((const char *)data, size, &l);
	if (e == PARSE_OK) {
		fuzz_check_kvlist(&l, 0);
		for (i = 0; i < l.n; i++)
			check_caseno(l.v[i].value);
	} else if (l.n != 0 || e == PARSE_BAD_TYPE || (int)e < 0 || e > PARSE_BAD_TYPE)
		abort();
	kv_free(&l);
	return 0;
}
