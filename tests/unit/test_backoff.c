/* lib/core/backoff.c: exponential backoff with full jitter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <sodium.h>

#include "core.h"

/* Every wait lies in [0, min(cap, base * 2^n)]. */
static void
test_bounds(void **state)
{
	struct backoff b = {0, 1000, 300000};
	unsigned n, i, ceiling;

	(void)state;
	for (n = 0; n < 30; n++) {
		ceiling = 1000u << (n < 9 ? n : 9);
		if (ceiling > 300000)
			ceiling = 300000;
		i = backoff_next_ms(&b);
		assert_true(i <= ceiling);
	}
}

/* Jitter spreads the waits: many halls at the same attempt do not retry together. */
static void
test_spread(void **state)
{
	unsigned buckets[10] = {0}, i, w;

	(void)state;
	for (i = 0; i < 5000; i++) {
		struct backoff b = {6, 1000, 300000};	/* window 64 s */

		w = backoff_next_ms(&b);
		assert_true(w <= 64000);
		buckets[w / 6401]++;
	}
	/* uniform: each tenth of the window gets about 500; none is empty or crowded */
	for (i = 0; i < 10; i++) {
		assert_true(buckets[i] > 350);
		assert_true(buckets[i] < 650);
	}
}

/* The window doubles per attempt up to the cap, and a reset starts it again. */
static void
test_growth_and_reset(void **state)
{
	struct backoff b = {0, 100, 1600};
	unsigned i, max_seen = 0, w;

	(void)state;
	for (i = 0; i < 200; i++) {
		b.attempt = 10;
		w = backoff_next_ms(&b);
		if (w > max_seen)
			max_seen = w;
	}
	assert_true(max_seen <= 1600);
	assert_true(max_seen > 1000);	/* the cap is reached, not the base */
	backoff_reset(&b);
	assert_int_equal(b.attempt, 0);
	for (i = 0; i < 100; i++) {
		backoff_reset(&b);
		assert_true(backoff_next_ms(&b) <= 100);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_spread),
		cmocka_unit_test(test_growth_and_reset),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
