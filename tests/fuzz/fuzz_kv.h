/*
 * What every kv parser promises after a successful parse, checked by each fuzz driver:
 * at most KV_MAX_PAIRS pairs, no blame, names and values of valid UTF-8 within their caps,
 * no name twice, kv_get finds each pair; integers only where the format has them (JSON).
 */
#ifndef FUZZ_KV_H
#define FUZZ_KV_H

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

static void
fuzz_check_int(const char *v)
{
	char *end;

	errno = 0;
	(void)strtoll(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0')
		abort();
}

static void
fuzz_check_kvlist(const struct kvlist *l, int ints_allowed)
{
	size_t i, j, nl, vl;

	if (l->n > KV_MAX_PAIRS || l->bad_name != NULL)
		abort();
	for (i = 0; i < l->n; i++) {
		const struct kv *kv = &l->v[i];

		if (kv->name == NULL || kv->value == NULL || (kv->is_int && !ints_allowed))
			abort();
		nl = strlen(kv->name);
		vl = strlen(kv->value);
		if (nl == 0 || nl > KV_MAX_NAME || vl > KV_MAX_VALUE)
			abort();
		if (!utf8_valid(kv->name, nl) || !utf8_valid(kv->value, vl))
			abort();
		if (kv->is_int)
			fuzz_check_int(kv->value);
		for (j = 0; j < i; j++)
			if (strcmp(l->v[j].name, kv->name) == 0)
				abort();
		if (kv_get(l, kv->name) != kv)
			abort();
	}
}

#endif
