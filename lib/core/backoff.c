/*
 * Exponential backoff with full jitter (the wait is uniform in [0, min(cap, base * 2^n)]):
 * when hundreds of halls lose the county at once, their retries spread over the window
 * instead of arriving together when it comes back.
 */
#include <sodium.h>

#include "core.h"

unsigned
backoff_next_ms(struct backoff *b)
{
	unsigned long long ceiling = b->base_ms;
	unsigned i;

	for (i = 0; i < b->attempt && ceiling < b->cap_ms; i++)
		ceiling *= 2;
	if (ceiling > b->cap_ms)
		ceiling = b->cap_ms;
	if (b->attempt < 64)
		b->attempt++;
	return randombytes_uniform((uint32_t)ceiling + 1);
}

void
backoff_reset(struct backoff *b)
{
	b->attempt = 0;
}
