/*
 * The hall's window below its pages: fcgi/web/signin.c (names, the password rule, Argon2id
 * and the stand-in hash, tokens, their binding, the cookie line) as tables of inputs, and
 * lib/store/window.c (accounts, the lockout, sessions and their ends) and a window case's
 * record on a temporary store (tests/unit/store_fixture.h).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <jansson.h>
#include <sodium.h>
#include <sqlite3.h>

#include "store.h"
#include "web.h"
#include "unit.h"
#include "store_fixture.h"

/* ---- fcgi/web/signin.c ---------------------------------------------------------------- */

static void
test_names(void **state)
{
	static const char *const good[] = {"a", "window_demo", "Li.Si-2", "abcdefghijklmnopqrstuvwxyz012345"};
	static const char *const bad[] = {"", "bad name", "名字", "a;b", "a/b",
	    "abcdefghijklmnopqrstuvwxyz0123456", "x\n"};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_true(signin_name_ok(good[i]));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (signin_name_ok(bad[i]))
			fail_msg("%s taken as a name", bad[i]);
}

static void
test_password_rule(void **state)
{
	char long_pw[200];

	(void)state;
	assert_non_null(signin_password_problem(""));
	assert_non_null(signin_password_problem("1234567"));
	assert_null(signin_password_problem("12345678"));
	assert_null(signin_password_problem("中文密码两个"));	/* 18 bytes */
	assert_non_null(signin_password_problem("\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8"));
	memset(long_pw, 'x', sizeof(long_pw));
	long_pw[128] = '\0';
	assert_null(signin_password_problem(long_pw));
	long_pw[128] = 'x';
	long_pw[129] = '\0';
	assert_non_null(signin_password_problem(long_pw));
}

static void
test_hash_and_verify(void **state)
{
	char h[SIGNIN_HASH_LEN], h2[SIGNIN_HASH_LEN], long_pw[200];

	(void)state;
	/* before signin_init every check refuses */
	assert_int_equal(signin_hash(h, "correct horse"), 0);
	assert_int_equal(signin_verify(h, "correct horse"), 0);
	assert_int_equal(signin_init(), 0);
	assert_true(strncmp(h, "$argon2id$", 10) == 0);
	assert_int_equal(signin_verify(h, "correct horse"), 1);
	assert_int_equal(signin_verify(h, "correct horsE"), 0);
	assert_int_equal(signin_verify(h, ""), 0);
	/* no account: the stand-in is verified, and nothing matches it */
	assert_int_equal(signin_verify(NULL, "correct horse"), 0);
	assert_int_equal(signin_verify(NULL, ""), 0);
	/* an over-long password is not even hashed against the account */
	memset(long_pw, 'y', sizeof(long_pw));
	long_pw[150] = '\0';
	assert_int_equal(signin_hash(h2, long_pw), 0);
	assert_int_equal(signin_verify(h2, long_pw), 0);
	/* salted: two hashes of one password differ, both verify */
	assert_int_equal(signin_hash(h2, "correct horse"), 0);
	assert_string_not_equal(h, h2);
	assert_int_equal(signin_verify(h2, "correct horse"), 1);
	assert_int_equal(signin_needs_rehash(h), 0);
	assert_int_equal(signin_needs_rehash("$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaA"), 1);
}

static void
test_tokens(void **state)
{
	char a[SIGNIN_TOKEN_LEN + 1], b[SIGNIN_TOKEN_LEN + 1], h[65], want[65];
	char ba[CSRF_COOKIE_LEN + 1], bb[CSRF_COOKIE_LEN + 1], bc[CSRF_COOKIE_LEN + 1];
	unsigned char raw_h[32];

	(void)state;
	signin_token_new(a);
	signin_token_new(b);
	assert_int_equal(strlen(a), SIGNIN_TOKEN_LEN);
	assert_string_not_equal(a, b);
	assert_int_equal(strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
	    SIGNIN_TOKEN_LEN);
	signin_token_hash(h, a);
	crypto_hash_sha256(raw_h, (const unsigned char *)a, strlen(a));
	sodium_bin2hex(want, sizeof(want), raw_h, sizeof(raw_h));
	assert_string_equal(h, want);
	/* bound per program: the console's binding of a token is not the window's */
	signin_token_bind(ba, a, "hall-window-csrf-binding");
	signin_token_bind(bb, a, "staff-console-csrf-binding");
	signin_token_bind(bc, b, "hall-window-csrf-binding");
	assert_int_equal(strlen(ba), CSRF_COOKIE_LEN);
	assert_string_not_equal(ba, bb);
	assert_string_not_equal(ba, bc);
	assert_null(strstr(a, ba));
}

static void
test_cookie_line(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 1024);
	signin_cookie(&b, "hall_window", "/window", "tok", 3600, 0);
	assert_string_equal(b.data, "Set-Cookie: hall_window=tok; Path=/window; Max-Age=3600; "
				    "HttpOnly; SameSite=Strict\r\n");
	buf_free(&b);
	buf_init(&b, 1024);
	signin_cookie(&b, "hall_window", "/window", "tok", 3600, 1);
	assert_non_null(strstr(b.data, "; SameSite=Strict; Secure\r\n"));
	buf_free(&b);
	/* removal: empty, expired at once */
	buf_init(&b, 1024);
	signin_cookie(&b, "hall_window", "/window", NULL, 3600, 1);
	assert_string_equal(b.data, "Set-Cookie: hall_window=; Path=/window; Max-Age=0; HttpOnly; "
				    "SameSite=Strict; Secure\r\n");
	buf_free(&b);
}

/* ---- lib/store/window.c --------------------------------------------------------------- */

#define T0 ((time_t)1790064000)

static void
test_accounts(void **state)
{
	struct fixture *f = *state;
	struct window_account a;

	assert_int_equal(store_window_add(f->s, "li", "$argon2id$one", T0), STORE_OK);
	assert_int_equal(store_window_add(f->s, "li", "$argon2id$two", T0), STORE_CONFLICT);
	assert_int_equal(store_window_account(f->s, "li", &a), STORE_OK);
	assert_string_equal(a.pw_hash, "$argon2id$one");
	assert_int_equal(a.created_at, T0);
	assert_int_equal(store_window_account(f->s, "wang", &a), STORE_NOT_FOUND);
	assert_int_equal(store_window_passwd(f->s, "wang", "x"), STORE_NOT_FOUND);
	assert_int_equal(store_window_disable(f->s, "wang", 1), STORE_NOT_FOUND);
	assert_int_equal(store_window_passwd(f->s, "li", "$argon2id$two"), STORE_OK);
	assert_int_equal(store_window_account(f->s, "li", &a), STORE_OK);
	assert_string_equal(a.pw_hash, "$argon2id$two");
}

static void
test_lockout(void **state)
{
	struct fixture *f = *state;
	struct window_account a;
	int locked, i;

	assert_int_equal(store_window_add(f->s, "li", "h", T0), STORE_OK);
	for (i = 1; i <= 4; i++) {
		assert_int_equal(store_window_failed(f->s, "li", 5, 15, T0 + i, &locked), STORE_OK);
		assert_int_equal(locked, 0);
		assert_int_equal(store_window_account(f->s, "li", &a), STORE_OK);
		assert_int_equal(a.failed_logins, i);
		assert_int_equal(a.locked_until, 0);
	}
	assert_int_equal(store_window_failed(f->s, "li", 5, 15, T0 + 5, &locked), STORE_OK);
	assert_int_equal(locked, 1);
	assert_int_equal(store_window_account(f->s, "li", &a), STORE_OK);
	assert_int_equal(a.locked_until, T0 + 5 + 15 * 60);
	assert_int_equal(a.failed_logins, 0);
	assert_int_equal(store_window_failed(f->s, "nobody", 5, 15, T0, &locked), STORE_NOT_FOUND);
	/* a good sign-in resets the count; a new password lifts the lock */
	assert_int_equal(store_window_failed(f->s, "li", 5, 15, T0 + 6, &locked), STORE_OK);
	assert_int_equal(store_window_passwd(f->s, "li", "h2"), STORE_OK);
	assert_int_equal(store_window_account(f->s, "li", &a), STORE_OK);
	assert_int_equal(a.locked_until, 0);
	assert_int_equal(a.failed_logins, 0);
}

static struct window_signin
signin_of(const char *name, const char *token_hash, const char *old, time_t now)
{
	struct window_signin in = {0};

	in.name = name;
	in.token_hash = token_hash;
	in.old_token_hash = old;
	in.remote = "127.0.0.1";
	in.now = now;
	in.expires_at = now + 12 * 3600;
	in.idle_seconds = 3600;
	return in;
}

static void
test_sessions(void **state)
{
	struct fixture *f = *state;
	struct window_signin in;
	struct window_account a;
	char name[WINDOW_NAME_SIZE];

	assert_int_equal(store_window_add(f->s, "li", "h", T0), STORE_OK);
	assert_int_equal(store_window_failed(f->s, "li", 5, 15, T0, &(int){0}), STORE_OK);
	in = signin_of("li", "aaaa", NULL, T0);
	in.rehash = "h-new";
	assert_int_equal(store_window_signin(f->s, &in), STORE_OK);
	assert_int_equal(store_window_account(f->s, "li", &a), STORE_OK);
	assert_int_equal(a.failed_logins, 0);
	assert_int_equal(a.last_login_at, T0);
	assert_string_equal(a.pw_hash, "h-new");
	assert_int_equal(store_window_session(f->s, "aaaa", T0 + 10, 3600, name), STORE_OK);
	assert_string_equal(name, "li");
	assert_int_equal(store_window_session(f->s, "bbbb", T0 + 10, 3600, name), STORE_NOT_FOUND);
	/* idle: used within the hour it lives on; the clock moves once a minute */
	assert_int_equal(store_window_session(f->s, "aaaa", T0 + 3000, 3600, name), STORE_OK);
	assert_int_equal(raw_int(f->path, "SELECT last_seen_at FROM window_sessions", NULL), T0 + 3000);
	assert_int_equal(store_window_session(f->s, "aaaa", T0 + 3030, 3600, name), STORE_OK);
	assert_int_equal(raw_int(f->path, "SELECT last_seen_at FROM window_sessions", NULL), T0 + 3000);
	assert_int_equal(store_window_session(f->s, "aaaa", T0 + 3000 + 3601, 3600, name),
	    STORE_NOT_FOUND);
	/* a new sign-in replaces the browser's old session */
	in = signin_of("li", "cccc", "aaaa", T0 + 10);
	assert_int_equal(store_window_signin(f->s, &in), STORE_OK);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM window_sessions", NULL), 1);
	/* the absolute end */
	assert_int_equal(store_window_session(f->s, "cccc", T0 + 10 + 12 * 3600, 1 << 30, name),
	    STORE_NOT_FOUND);
	/* sign-out */
	assert_int_equal(store_window_session(f->s, "cccc", T0 + 20, 3600, name), STORE_OK);
	assert_int_equal(store_window_signout(f->s, "cccc"), STORE_OK);
	assert_int_equal(store_window_session(f->s, "cccc", T0 + 20, 3600, name), STORE_NOT_FOUND);
	/* disabled: its sessions end, and it signs in no more */
	in = signin_of("li", "dddd", NULL, T0 + 30);
	assert_int_equal(store_window_signin(f->s, &in), STORE_OK);
	assert_int_equal(store_window_disable(f->s, "li", 1), STORE_OK);
	assert_int_equal(store_window_session(f->s, "dddd", T0 + 31, 3600, name), STORE_NOT_FOUND);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM window_sessions", NULL), 0);
	in = signin_of("li", "eeee", NULL, T0 + 40);
	assert_int_equal(store_window_signin(f->s, &in), STORE_NOT_FOUND);
	assert_int_equal(store_window_disable(f->s, "li", 0), STORE_OK);
	assert_int_equal(store_window_signin(f->s, &in), STORE_OK);
	/* a lock set by guesses beside this sign-in, after it read the account, holds */
	for (int i = 0; i < 5; i++)
		assert_int_equal(store_window_failed(f->s, "li", 5, 15, T0 + 50, &(int){0}), STORE_OK);
	in = signin_of("li", "ffff", NULL, T0 + 51);
	assert_int_equal(store_window_signin(f->s, &in), STORE_NOT_FOUND);
	in = signin_of("li", "ffff", NULL, T0 + 50 + 15 * 60);
	assert_int_equal(store_window_signin(f->s, &in), STORE_OK);
	/* a new password ends them too */
	assert_int_equal(store_window_passwd(f->s, "li", "h3"), STORE_OK);
	assert_int_equal(store_window_session(f->s, "eeee", T0 + 41, 3600, name), STORE_NOT_FOUND);
}

static int
count_case(const struct window_case *c, void *arg)
{
	const char **want = arg;

	if (strcmp(c->case_no, want[0]) == 0) {
		assert_string_equal(c->channel, want[1]);
		if (want[2] == NULL)
			assert_null(c->registrar);
		else
			assert_string_equal(c->registrar, want[2]);
		want[3] = "seen";
	}
	return 0;
}

static int
receipt_code(const struct window_case *c, const char *code, void *arg)
{
	(void)c;
	snprintf(arg, 7, "%s", code);
	return 0;
}

/* A window case: its channel and registrar in the row, the record and the list. */
static void
test_window_case(void **state)
{
	struct fixture *f = *state;
	struct case_new c = consultation(), o = consultation();
	struct receipt r, ro;
	const char *want[4];
	char *payload, code[7];
	sqlite3 *db = raw_open(f->path);
	json_t *rec;

	c.channel = "phone";
	c.registrar = "window_demo";
	assert_int_equal(store_case_create(f->s, &f->cfg, &c, &r), STORE_OK);
	assert_int_equal(store_case_create(f->s, &f->cfg, &o, &ro), STORE_OK);
	payload = raw(db, "SELECT payload FROM outbox WHERE case_no = ?1", r.case_no);
	rec = json_loads(payload, 0, NULL);
	assert_non_null(rec);
	assert_string_equal(json_string_value(json_object_get(rec, "channel")), "phone");
	assert_string_equal(json_string_value(json_object_get(rec, "registrar")), "window_demo");
	assert_non_null(strstr(payload, "\"channel\":\"phone\",\"registrar\":\"window_demo\","));
	json_decref(rec);
	free(payload);
	payload = raw(db, "SELECT payload FROM outbox WHERE case_no = ?1", ro.case_no);
	assert_non_null(strstr(payload, "\"channel\":\"online\",\"subject\""));
	assert_null(strstr(payload, "registrar"));
	free(payload);
	sqlite3_close(db);
	want[0] = r.case_no, want[1] = "phone", want[2] = "window_demo", want[3] = NULL;
	assert_int_equal(store_window_recent(f->s, 10, count_case, want), 0);
	assert_non_null(want[3]);
	want[0] = ro.case_no, want[1] = "online", want[2] = NULL, want[3] = NULL;
	assert_int_equal(store_window_recent(f->s, 10, count_case, want), 0);
	assert_non_null(want[3]);
	assert_int_equal(store_window_receipt(f->s, r.case_no, receipt_code, code), STORE_OK);
	assert_string_equal(code, r.query_code);
	assert_int_equal(store_window_receipt(f->s, "4301020010011XY19FADYNT", receipt_code, code),
	    STORE_NOT_FOUND);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_password_rule),
		cmocka_unit_test(test_hash_and_verify),
		cmocka_unit_test(test_tokens),
		cmocka_unit_test(test_cookie_line),
		cmocka_unit_test_setup_teardown(test_accounts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lockout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sessions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_window_case, setup, teardown),
	};

	if (sodium_init() < 0)
		return 1;
	log_init("test_window");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
