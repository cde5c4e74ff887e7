/*
 * lib/core/csrf.c: the node secret, cookies and stateless form tokens.
 *
 * csrf.c keeps the secret in a static: the first test runs before any secret is loaded, so
 * the order of the tests in main matters.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <sodium.h>

#include "core.h"

#define NOW ((time_t)1795000000) /* 2026-11-18 */
#define URLSAFE "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

static char dir[64];

static void
path_in_dir(char *out, size_t size, const char *name)
{
	snprintf(out, size, "%s/%s", dir, name);
}

static int
group_setup(void **state)
{
	(void)state;
	if (sodium_init() < 0)
		return -1;
	umask(022);
	snprintf(dir, sizeof(dir), "/tmp/test_csrf.XXXXXX");
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int
group_teardown(void **state)
{
	static const char *const names[] = {"secret", "secret2", "bad", "short", "absent",
	    "demo.key", "unit.key"};
	char p[128];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		path_in_dir(p, sizeof(p), names[i]);
		unlink(p);
	}
	return rmdir(dir);
}

/* Without a secret nothing is minted and nothing passes. */
static void
test_no_secret_yet(void **state)
{
	char tok[CSRF_TOKEN_LEN], cookie[CSRF_COOKIE_LEN + 1];

	(void)state;
	csrf_new_cookie(cookie);
	assert_int_equal(csrf_token(tok, cookie, NOW), -1);
	assert_int_equal(csrf_check("18f4c3a0.AAAAAAAAAAAAAAAAAAAAAA", cookie, NOW), 0);
}

static void
test_secret_file(void **state)
{
	char p[128], text[128], tok[CSRF_TOKEN_LEN], cookie[CSRF_COOKIE_LEN + 1];
	struct stat sb;
	FILE *fp;
	size_t n;

	(void)state;
	path_in_dir(p, sizeof(p), "absent");
	assert_int_equal(csrf_load_secret(p, 0), -1); /* not created unless asked */
	assert_int_equal(access(p, F_OK), -1);

	path_in_dir(p, sizeof(p), "secret");
	assert_int_equal(csrf_load_secret(p, 1), 0);
	assert_int_equal(stat(p, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0640);	/* umask 022: never the group's to write */
	assert_non_null(fp = fopen(p, "r"));
	n = fread(text, 1, sizeof(text) - 1, fp);
	fclose(fp);
	text[n] = '\0';
	assert_int_equal(n, 65);
	assert_int_equal(strspn(text, "0123456789abcdef"), 64);
	assert_int_equal(text[64], '\n');

	/* a token made now still checks after the secret is read back from the file */
	csrf_new_cookie(cookie);
	assert_int_equal(csrf_token(tok, cookie, NOW), 0);
	assert_int_equal(csrf_load_secret(p, 0), 0);
	assert_int_equal(csrf_check(tok, cookie, NOW), 1);
	/* loading with create set does not replace an existing secret */
	assert_int_equal(csrf_load_secret(p, 1), 0);
	assert_int_equal(csrf_check(tok, cookie, NOW), 1);
	assert_non_null(fp = fopen(p, "r"));
	assert_int_equal(fread(tok, 1, 65, fp), 65);
	fclose(fp);
	assert_memory_equal(tok, text, 65);
}

/*
 * The key's mode follows the umask: the demo's 077 keeps it the owner's alone; the units'
 * 0007 lets hall-read, in group hall, read the key hall-write made, but never write it.
 */
static void
test_secret_mode_from_umask(void **state)
{
	static const struct {
		const char *name;
		mode_t umask, mode;
	} c[] = {{"demo.key", 077, 0600}, {"unit.key", 0007, 0640}};
	struct stat sb;
	char p[128];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		path_in_dir(p, sizeof(p), c[i].name);
		umask(c[i].umask);
		assert_int_equal(csrf_load_secret(p, 1), 0);
		umask(022);
		assert_int_equal(stat(p, &sb), 0);
		assert_int_equal(sb.st_mode & 0777, c[i].mode);
	}
}

/* Another node's secret: tokens made with the first one fail. */
static void
test_other_secret(void **state)
{
	char p[128], p2[128], tok[CSRF_TOKEN_LEN], cookie[CSRF_COOKIE_LEN + 1];

	(void)state;
	path_in_dir(p, sizeof(p), "secret");
	path_in_dir(p2, sizeof(p2), "secret2");
	assert_int_equal(csrf_load_secret(p, 0), 0);
	csrf_new_cookie(cookie);
	assert_int_equal(csrf_token(tok, cookie, NOW), 0);
	assert_int_equal(csrf_load_secret(p2, 1), 0);
	assert_int_equal(csrf_check(tok, cookie, NOW), 0);
	assert_int_equal(csrf_load_secret(p, 0), 0);
	assert_int_equal(csrf_check(tok, cookie, NOW), 1);
}

static void
test_bad_secret_files(void **state)
{
	static const struct {
		const char *name, *text;
	} c[] = {
	    {"bad", "zz0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd\n"},
	    {"short", "0123456789abcdef\n"},
	    {"bad", ""},
	};
	char p[128];
	size_t i;
	FILE *fp;

	(void)state;
	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		path_in_dir(p, sizeof(p), c[i].name);
		assert_non_null(fp = fopen(p, "w"));
		fputs(c[i].text, fp);
		fclose(fp);
		if (csrf_load_secret(p, 1) != -1)
			fail_msg("secret file \"%s\" accepted", c[i].text);
	}
	path_in_dir(p, sizeof(p), "secret");
	assert_int_equal(csrf_load_secret(p, 0), 0);
}

static void
test_cookie(void **state)
{
	char a[CSRF_COOKIE_LEN + 1], b[CSRF_COOKIE_LEN + 1];
	int i;

	(void)state;
	for (i = 0; i < 100; i++) {
		memset(a, 0x55, sizeof(a));
		csrf_new_cookie(a);
		assert_int_equal(strlen(a), CSRF_COOKIE_LEN);
		assert_int_equal(strspn(a, URLSAFE), CSRF_COOKIE_LEN);
		csrf_new_cookie(b);
		assert_string_not_equal(a, b);
	}
}

static void
test_token_checks(void **state)
{
	char tok[CSRF_TOKEN_LEN], cookie[CSRF_COOKIE_LEN + 1], other[CSRF_COOKIE_LEN + 1];

	(void)state;
	csrf_new_cookie(cookie);
	csrf_new_cookie(other);
	assert_int_equal(csrf_token(tok, cookie, NOW), 0);
	assert_true(strlen(tok) > 0 && strlen(tok) < CSRF_TOKEN_LEN);
	/* its own cookie, for CSRF_MAX_AGE */
	assert_int_equal(csrf_check(tok, cookie, NOW), 1);
	assert_int_equal(csrf_check(tok, cookie, NOW + 1), 1);
	assert_int_equal(csrf_check(tok, cookie, NOW + CSRF_MAX_AGE), 1);
	assert_int_equal(csrf_check(tok, cookie, NOW + CSRF_MAX_AGE + 1), 0);
	assert_int_equal(csrf_check(tok, cookie, NOW + 30 * 86400), 0);
	/* never for another cookie */
	assert_int_equal(csrf_check(tok, other, NOW), 0);
	/* from the future: made an hour or a day ahead of the clock */
	assert_int_equal(csrf_check(tok, cookie, NOW - 3600), 0);
	assert_int_equal(csrf_check(tok, cookie, NOW - 86400), 0);
	/* tokens for one cookie at different times differ, and each checks */
	{
		char tok2[CSRF_TOKEN_LEN];

		assert_int_equal(csrf_token(tok2, cookie, NOW + 60), 0);
		assert_string_not_equal(tok, tok2);
		assert_int_equal(csrf_check(tok2, cookie, NOW + 60), 1);
	}
}

/* Every single-character change to a good token fails. */
static void
test_token_altered(void **state)
{
	static const char repl[] = "0123456789abcdefABCDEF-_.xZ";
	char tok[CSRF_TOKEN_LEN], m[CSRF_TOKEN_LEN + 2], cookie[CSRF_COOKIE_LEN + 1];
	size_t i, k, len;

	(void)state;
	csrf_new_cookie(cookie);
	assert_int_equal(csrf_token(tok, cookie, NOW), 0);
	len = strlen(tok);
	for (i = 0; i < len; i++)
		for (k = 0; k < sizeof(repl) - 1; k++) {
			if (repl[k] == tok[i])
				continue;
			memcpy(m, tok, len + 1);
			m[i] = repl[k];
			if (csrf_check(m, cookie, NOW))
				fail_msg("%s passes (position %zu)", m, i);
		}
	/* one character more or less */
	memcpy(m, tok, len + 1);
	m[len] = 'A';
	m[len + 1] = '\0';
	assert_int_equal(csrf_check(m, cookie, NOW), 0);
	memcpy(m, tok, len + 1);
	m[len - 1] = '\0';
	assert_int_equal(csrf_check(m, cookie, NOW), 0);
	/* the same time written another way is not the token that was signed */
	snprintf(m, sizeof(m), "0%s", tok);
	assert_int_equal(csrf_check(m, cookie, NOW), 0);
	snprintf(m, sizeof(m), "0x%s", tok);
	assert_int_equal(csrf_check(m, cookie, NOW), 0);
	snprintf(m, sizeof(m), " %s", tok);
	assert_int_equal(csrf_check(m, cookie, NOW), 0);
	/* a cookie altered in one character */
	memcpy(m, cookie, sizeof(cookie));
	m[0] = m[0] == 'A' ? 'B' : 'A';
	assert_int_equal(csrf_check(tok, m, NOW), 0);
}

static void
test_token_malformed(void **state)
{
	static const char *const bad[] = {
	    "",
	    ".",
	    "abc",
	    "x.y",
	    "18f4c3a0",
	    "18f4c3a0.",
	    ".AAAAAAAAAAAAAAAAAAAAAA",
	    "zzzzzzzz.AAAAAAAAAAAAAAAAAAAAAA",
	    "18f4c3a0.AAAAAAAAAAAAAAAAAAAAAA",
	    "18f4c3a0..AAAAAAAAAAAAAAAAAAAAA",
	    "-1.AAAAAAAAAAAAAAAAAAAAAA",
	    "ffffffffffffffff.AAAAAAAAAAAAAAAAAAAAAA",
	    "0000000000000000000000000000000000000000000000000000.AAAAAAAAAAAAAAAAAAAAAA",
	    "18f4c3a0."
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
	};
	char cookie[CSRF_COOKIE_LEN + 1], tok[CSRF_TOKEN_LEN];
	size_t i;

	(void)state;
	csrf_new_cookie(cookie);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (csrf_check(bad[i], cookie, NOW))
			fail_msg("\"%s\" passes", bad[i]);
	assert_int_equal(csrf_check(NULL, cookie, NOW), 0);
	/* a good token with a missing or malformed cookie */
	assert_int_equal(csrf_token(tok, cookie, NOW), 0);
	assert_int_equal(csrf_check(tok, NULL, NOW), 0);
	assert_int_equal(csrf_check(tok, "", NOW), 0);
	assert_int_equal(csrf_check(tok, "short", NOW), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_no_secret_yet), /* must stay first */
	    cmocka_unit_test(test_secret_file),      cmocka_unit_test(test_secret_mode_from_umask),
	    cmocka_unit_test(test_other_secret),
	    cmocka_unit_test(test_bad_secret_files), cmocka_unit_test(test_cookie),
	    cmocka_unit_test(test_token_checks),     cmocka_unit_test(test_token_altered),
	    cmocka_unit_test(test_token_malformed),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
