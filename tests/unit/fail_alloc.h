/*
 * An allocator that fails the Nth call, for the tests of the writers' failure paths (SQLite's
 * way: run a sequence once to count its allocations, then once for every N up to that count
 * with the Nth allocation failing).
 *
 * The test binaries that include this are linked with -Wl,--wrap=malloc,--wrap=realloc (a
 * target-specific LDFLAGS in the Makefile). The linker then sends every call to malloc or
 * realloc made from the objects it links statically (the test and lib/core's buffers) to
 * __wrap_malloc and __wrap_realloc below, and __real_malloc names the real one (the C
 * library's, or ASan's under SANITIZE=1, so its leak checker still sees every block). Calls
 * made inside shared libraries (libc's own strdup, jansson, cmocka) are not wrapped and never
 * fail. Include this header in one test file per binary.
 */
#ifndef FAIL_ALLOC_H
#define FAIL_ALLOC_H

#include <stddef.h>

void *__real_malloc(size_t);
void *__real_realloc(void *, size_t);
void *__wrap_malloc(size_t);
void *__wrap_realloc(void *, size_t);

static int fail_armed;			/* counting calls */
static unsigned long fail_calls;	/* calls since fail_arm */
static unsigned long fail_at;		/* the call that fails; 0: none */

/* 1 when this call is the one to fail. */
static int
fail_now(void)
{
	return fail_armed && ++fail_calls == fail_at;
}

void *
__wrap_malloc(size_t n)
{
	return fail_now() ? NULL : __real_malloc(n);
}

void *
__wrap_realloc(void *p, size_t n)
{
	return fail_now() ? NULL : __real_realloc(p, n);
}

/* Counts allocations from now on, failing the nth (0: none). */
static void
fail_arm(unsigned long n)
{
	fail_calls = 0;
	fail_at = n;
	fail_armed = 1;
}

/* Stops counting; returns the number of allocations since fail_arm. */
static unsigned long
fail_disarm(void)
{
	fail_armed = 0;
	return fail_calls;
}

#endif
