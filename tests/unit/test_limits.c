/*
 * lib/core/limits.c: per-key token buckets and the wrong-code lockout in a shared mapped file.
 * Every test has its own file in a fresh temporary directory.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "core.h"

struct fixture {
	char dir[64];
	char path[128];
	struct limits *l;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_limits.XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/limits", f->dir);
	umask(022);
	if ((f->l = limits_open(f->path)) == NULL)
		return -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char p[160];

	limits_close(f->l);
	unlink(f->path);
	snprintf(p, sizeof(p), "%s/old", f->dir);
	unlink(p);
	if (rmdir(f->dir) == -1)
		fail_msg("%s left behind", f->dir);
	free(f);
	return 0;
}

/* Takes until refused (at most `max` times); returns how many were allowed. */
static int
drain(struct limits *l, enum limit_table t, const char *key, int per_min, int max, int *ra)
{
	int n = 0;

	while (n < max && limits_take(l, t, key, per_min, ra))
		n++;
	return n;
}

static void
test_per_min_then_refused(void **state)
{
	static const int rates[] = {1, 5, 10, 30};
	struct fixture *f = *state;
	char key[32];
	size_t i;
	int ra, j;

	for (i = 0; i < sizeof(rates) / sizeof(rates[0]); i++) {
		snprintf(key, sizeof(key), "10.0.0.%zu", i);
		for (j = 0; j < rates[i]; j++) {
			ra = -1;
			if (!limits_take(f->l, LIMIT_SUBMIT, key, rates[i], &ra))
				fail_msg("%d/min: request %d refused", rates[i], j + 1);
			assert_int_equal(ra, 0);
		}
		ra = 0;
		assert_int_equal(limits_take(f->l, LIMIT_SUBMIT, key, rates[i], &ra), 0);
		/* one token comes back every 60/per_min seconds */
		if (ra < 1 || ra > 60 / rates[i] + 1)
			fail_msg("%d/min: retry_after %d", rates[i], ra);
		assert_int_equal(limits_take(f->l, LIMIT_SUBMIT, key, rates[i], &ra), 0);
		assert_true(ra >= 1);
	}
}

static void
test_zero_is_unlimited(void **state)
{
	struct fixture *f = *state;
	int i, ra;

	for (i = 0; i < 10000; i++) {
		ra = -1;
		assert_int_equal(limits_take(f->l, LIMIT_LOOKUP, "10.0.0.1", 0, &ra), 1);
		assert_int_equal(ra, 0);
	}
	/* and a NULL handle (no limits file) limits nothing */
	assert_int_equal(limits_take(NULL, LIMIT_LOOKUP, "10.0.0.1", 1, &ra), 1);
	assert_int_equal(limits_take(NULL, LIMIT_LOOKUP, "10.0.0.1", 1, &ra), 1);
	assert_int_equal(limits_locked(NULL, "x", &ra), 0);
	limits_wrong_code(NULL, "x", 1, 15);
}

static void
test_keys_and_tables_independent(void **state)
{
	struct fixture *f = *state;
	int ra;

	assert_int_equal(drain(f->l, LIMIT_SUBMIT, "10.0.0.1", 3, 100, &ra), 3);
	assert_int_equal(limits_take(f->l, LIMIT_SUBMIT, "10.0.0.1", 3, &ra), 0);
	/* another address */
	assert_int_equal(drain(f->l, LIMIT_SUBMIT, "10.0.0.2", 3, 100, &ra), 3);
	assert_int_equal(drain(f->l, LIMIT_SUBMIT, "10.0.0.10", 3, 100, &ra), 3);
	assert_int_equal(drain(f->l, LIMIT_SUBMIT, "2001:db8::1", 3, 100, &ra), 3);
	/* the same address in another table */
	assert_int_equal(drain(f->l, LIMIT_LOOKUP, "10.0.0.1", 3, 100, &ra), 3);
	/* still refused where it was */
	assert_int_equal(limits_take(f->l, LIMIT_SUBMIT, "10.0.0.1", 3, &ra), 0);
}

/*
 * Many keys (far more than one probe window) each get their own full budget. 600 keys in
 * 4096 slots: a full 16-slot window, which would evict the stalest key, practically never
 * happens at this load (by simulation, none in 10^4 runs; at 2000 keys, one run in three).
 */
static void
test_many_keys(void **state)
{
	struct fixture *f = *state;
	char key[32];
	int i, ra;

	for (i = 0; i < 600; i++) {
		snprintf(key, sizeof(key), "192.168.%d.%d", i / 256, i % 256);
		assert_int_equal(drain(f->l, LIMIT_LOOKUP, key, 2, 10, &ra), 2);
	}
	/* the first ones are still limited: nothing busy was forgotten */
	for (i = 0; i < 600; i += 7) {
		snprintf(key, sizeof(key), "192.168.%d.%d", i / 256, i % 256);
		if (limits_take(f->l, LIMIT_LOOKUP, key, 2, &ra))
			fail_msg("%s got a new budget", key);
	}
}

/* Tokens come back with time. */
static void
test_refill(void **state)
{
	struct fixture *f = *state;
	struct timespec ts = {0, 200 * 1000 * 1000};
	int n, ra;

	/* 6000 a minute: one token every 10 ms */
	n = drain(f->l, LIMIT_SUBMIT, "10.9.9.9", 6000, 20000, &ra);
	assert_true(n >= 6000 && n < 20000);
	assert_int_equal(ra, 1);
	nanosleep(&ts, NULL);
	n = drain(f->l, LIMIT_SUBMIT, "10.9.9.9", 6000, 20000, &ra);
	/* about 20 tokens in 200 ms; the bucket never holds more than per_min */
	assert_true(n >= 15 && n <= 200);
}

/* Two handles on the same file, and a forked child, see one set of buckets. */
static void
test_shared_between_handles(void **state)
{
	struct fixture *f = *state;
	struct limits *l2 = limits_open(f->path);
	int ra;

	assert_non_null(l2);
	assert_int_equal(drain(f->l, LIMIT_SUBMIT, "10.1.1.1", 10, 100, &ra), 10);
	assert_int_equal(limits_take(l2, LIMIT_SUBMIT, "10.1.1.1", 10, &ra), 0);
	assert_true(ra >= 1);
	/* and the other way round */
	assert_int_equal(drain(l2, LIMIT_LOOKUP, "10.1.1.2", 4, 100, &ra), 4);
	assert_int_equal(limits_take(f->l, LIMIT_LOOKUP, "10.1.1.2", 4, &ra), 0);
	/* a third handle opened later keeps the state, it does not lay the file out again */
	limits_close(l2);
	assert_non_null(l2 = limits_open(f->path));
	assert_int_equal(limits_take(l2, LIMIT_SUBMIT, "10.1.1.1", 10, &ra), 0);
	limits_close(l2);
}

static void
test_shared_with_child(void **state)
{
	struct fixture *f = *state;
	pid_t pid;
	int status, ra;

	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		struct limits *own = limits_open(f->path);
		int ok = 1, i, r;

		/* the inherited handle and one the child opens itself */
		for (i = 0; i < 5; i++)
			ok &= limits_take(f->l, LIMIT_SUBMIT, "10.2.2.2", 5, &r);
		ok &= own != NULL;
		for (i = 0; own != NULL && i < 7; i++)
			ok &= limits_take(own, LIMIT_LOOKUP, "10.2.2.3", 7, &r);
		for (i = 0; i < 5; i++)
			limits_wrong_code(f->l, "43010200100100000000000", 5, 15);
		limits_close(own);
		_exit(ok ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(limits_take(f->l, LIMIT_SUBMIT, "10.2.2.2", 5, &ra), 0);
	assert_int_equal(limits_take(f->l, LIMIT_LOOKUP, "10.2.2.3", 7, &ra), 0);
	assert_int_equal(limits_locked(f->l, "43010200100100000000000", &ra), 1);
	/* the parent's untouched keys are untouched */
	assert_int_equal(limits_take(f->l, LIMIT_SUBMIT, "10.2.2.4", 5, &ra), 1);
}

/* Several processes at once: the bucket never gives out more than its budget. */
static void
test_concurrent_children(void **state)
{
	enum { KIDS = 8, EACH = 50, BUDGET = 100 };
	struct fixture *f = *state;
	pid_t pid[KIDS];
	int i, status, total = 0;

	for (i = 0; i < KIDS; i++) {
		pid[i] = fork();
		assert_true(pid[i] != -1);
		if (pid[i] == 0) {
			int n = 0, j, r;

			for (j = 0; j < EACH; j++)
				n += limits_take(f->l, LIMIT_SUBMIT, "10.3.3.3", BUDGET, &r);
			_exit(n);
		}
	}
	for (i = 0; i < KIDS; i++) {
		assert_int_equal(waitpid(pid[i], &status, 0), pid[i]);
		assert_true(WIFEXITED(status));
		total += WEXITSTATUS(status);
	}
	/* 400 asked for, 100 in the bucket, and at most a token or two refilled meanwhile */
	if (total < BUDGET || total > BUDGET + 5)
		fail_msg("%d requests allowed from a budget of %d", total, BUDGET);
}

static void
test_lockout(void **state)
{
	struct fixture *f = *state;
	const char *cn = "430102001001ABCDEFGHJK0";
	int i, ra;

	assert_int_equal(limits_locked(f->l, cn, &ra), 0);
	assert_int_equal(ra, 0);
	for (i = 0; i < 4; i++) {
		limits_wrong_code(f->l, cn, 5, 15);
		assert_int_equal(limits_locked(f->l, cn, &ra), 0);
	}
	limits_wrong_code(f->l, cn, 5, 15);
	assert_int_equal(limits_locked(f->l, cn, &ra), 1);
	if (ra < 15 * 60 - 5 || ra > 15 * 60)
		fail_msg("retry_after %d, want about %d", ra, 15 * 60);
	/* another case is not locked, and the lock is visible through a second handle */
	assert_int_equal(limits_locked(f->l, "430102001001ABCDEFGHJK1", &ra), 0);
	{
		struct limits *l2 = limits_open(f->path);

		assert_non_null(l2);
		assert_int_equal(limits_locked(l2, cn, &ra), 1);
		limits_close(l2);
	}
}

static void
test_lockout_other_settings(void **state)
{
	struct fixture *f = *state;
	int i, ra;

	/* max 1: the first wrong code locks; lockout_min sets the time */
	limits_wrong_code(f->l, "case-a", 1, 2);
	assert_int_equal(limits_locked(f->l, "case-a", &ra), 1);
	assert_true(ra > 2 * 60 - 5 && ra <= 2 * 60);
	/* fewer than max never locks */
	for (i = 0; i < 9; i++)
		limits_wrong_code(f->l, "case-b", 10, 15);
	assert_int_equal(limits_locked(f->l, "case-b", &ra), 0);
	/* max 0 is off */
	for (i = 0; i < 100; i++)
		limits_wrong_code(f->l, "case-c", 0, 15);
	assert_int_equal(limits_locked(f->l, "case-c", &ra), 0);
	/* lookups of a case are not wrong codes */
	for (i = 0; i < 100; i++)
		assert_int_equal(limits_locked(f->l, "case-d", &ra), 0);
}

/* A file of the wrong size (an old layout, a truncated file) is laid out again. */
static void
test_reinitializes_bad_file(void **state)
{
	struct fixture *f = *state;
	char p[160];
	struct limits *l;
	struct stat sb;
	FILE *fp;
	int ra;

	snprintf(p, sizeof(p), "%s/old", f->dir);
	assert_non_null(fp = fopen(p, "w"));
	fputs("HALLLIM2 an older layout", fp);
	fclose(fp);
	assert_non_null(l = limits_open(p));
	assert_int_equal(drain(l, LIMIT_SUBMIT, "10.4.4.4", 2, 10, &ra), 2);
	limits_close(l);
	assert_int_equal(stat(p, &sb), 0);
	assert_true(sb.st_size > 4096);
	unlink(p);
	/*
	 * A file it creates holds the hash key: others never read it. Its mode is 0660 less
	 * the umask: the demo's 077 keeps it the owner's; under the units' 0007 hall-read and
	 * hall-write, two users of group hall, share it.
	 */
	assert_int_equal(stat(f->path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0640);	/* the fixture's umask 022 */
	{
		static const mode_t mask[] = {077, 0007}, mode[] = {0600, 0660};
		size_t i;

		for (i = 0; i < 2; i++) {
			snprintf(p, sizeof(p), "%s/by-umask", f->dir);
			umask(mask[i]);
			assert_non_null(l = limits_open(p));
			umask(022);
			limits_close(l);
			assert_int_equal(stat(p, &sb), 0);
			assert_int_equal(sb.st_mode & 0777, mode[i]);
			unlink(p);
		}
	}
	assert_null(limits_open("/nonexistent/dir/limits"));
	limits_close(NULL);
}

/* The key table: what each address is counted under (lib/core/limits.c, limits_address_key). */
static void
test_address_key(void **state)
{
	static const struct {
		const char *in, *key;
	} t[] = {
	    {"10.0.0.1", "10.0.0.1"},
	    {"127.0.0.2", "127.0.0.2"},
	    /* IPv6: the /64, however the address was written */
	    {"2001:db8:1:2::1", "2001:db8:1:2::/64"},
	    {"2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"},
	    {"2001:0DB8:0001:0002:0:0:0:9", "2001:db8:1:2::/64"},
	    {"2001:db8:1:3::1", "2001:db8:1:3::/64"},
	    {"fe80::1", "fe80::/64"},
	    {"::1", "::/64"},
	    /* an IPv4 client on a dual-stack socket is the IPv4 client */
	    {"::ffff:10.0.0.1", "10.0.0.1"},
	    {"::ffff:a00:1", "10.0.0.1"},
	    /* not an address (no REMOTE_ADDR, a unix socket): kept as it came */
	    {"", ""},
	    {"unix:", "unix:"},
	    {"10.0.0.256", "10.0.0.256"},
	    {"2001:db8::1::2", "2001:db8::1::2"},
	};
	char key[LIMITS_ADDR_KEY], longest[200];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		memset(key, 'x', sizeof(key));
		limits_address_key(key, t[i].in);
		assert_string_equal(key, t[i].key);
	}
	/* the longest possible key fits; anything longer is cut, never overrun */
	limits_address_key(key, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
	assert_string_equal(key, "ffff:ffff:ffff:ffff::/64");
	memset(longest, 'a', sizeof(longest) - 1);
	longest[sizeof(longest) - 1] = '\0';
	limits_address_key(key, longest);
	assert_int_equal(strlen(key), LIMITS_ADDR_KEY - 1);
}

/*
 * The per-address tables count an IPv6 client by its /64: a subscriber who walks through
 * the addresses of its /64 still has one budget. The lockout table is keyed by case number,
 * not grouped.
 */
static void
test_ipv6_grouped_by_64(void **state)
{
	struct fixture *f = *state;
	int ra;

	assert_int_equal(drain(f->l, LIMIT_SUBMIT, "2001:db8:1:2::1", 3, 100, &ra), 3);
	assert_int_equal(limits_take(f->l, LIMIT_SUBMIT, "2001:db8:1:2::2", 3, &ra), 0);
	assert_true(ra >= 1);
	assert_int_equal(limits_take(f->l, LIMIT_SUBMIT, "2001:db8:1:2:abcd::9", 3, &ra), 0);
	/* the next /64 is someone else */
	assert_int_equal(drain(f->l, LIMIT_SUBMIT, "2001:db8:1:3::1", 3, 100, &ra), 3);
	/* lookups have their own budget, grouped the same way */
	assert_int_equal(drain(f->l, LIMIT_LOOKUP, "2001:db8:1:2::7", 2, 100, &ra), 2);
	assert_int_equal(limits_take(f->l, LIMIT_LOOKUP, "2001:db8:1:2::8", 2, &ra), 0);
	/* IPv4 and its mapped form are one client */
	assert_int_equal(drain(f->l, LIMIT_SUBMIT, "192.0.2.7", 2, 100, &ra), 2);
	assert_int_equal(limits_take(f->l, LIMIT_SUBMIT, "::ffff:192.0.2.7", 2, &ra), 0);
	/* while IPv4 addresses are counted one by one */
	assert_int_equal(drain(f->l, LIMIT_SUBMIT, "192.0.2.8", 2, 100, &ra), 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_per_min_then_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_zero_is_unlimited, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_keys_and_tables_independent, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_many_keys, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refill, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_shared_between_handles, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_shared_with_child, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_concurrent_children, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_lockout, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_lockout_other_settings, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reinitializes_bad_file, setup, teardown),
	    cmocka_unit_test(test_address_key),
	    cmocka_unit_test_setup_teardown(test_ipv6_grouped_by_64, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
