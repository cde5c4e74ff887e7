/*
 * Staff accounts, sign-in and sessions.
 *
 * Passwords: libsodium's crypto_pwhash_str (Argon2id, interactive limits), verified in
 * constant time; an unknown user costs the same hash as a known one. Lockout: after
 * lockout_failures wrong passwords in a row the account is refused for lockout_minutes,
 * counted in the account's row so that it holds across every worker. A refusal never says
 * which of unknown name, wrong password or locked account it was. Per client address:
 * after address_failures refused sign-ins within address_minutes the address is answered
 * 429 before any password is checked, so one machine cannot try many names; the count is
 * a table (staff_login_failures), shared by every worker and every console host.
 *
 * Sessions: a 256-bit random token in an HttpOnly, SameSite=Strict cookie (Secure over
 * HTTPS); the database keeps only its SHA-256, with an absolute expiry and an idle
 * timeout. A new token is issued at every sign-in, so a token planted before sign-in is
 * worth nothing. Form tokens (lib/core/csrf.c) are bound to a value derived from the session
 * token, so a token from one session is refused in another; the sign-in form's are bound
 * to the visitor's CSRF cookie. The hashes, tokens and their binding are fcgi/web/signin.c,
 * which the hall's window shares.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "county.h"
#include "staff.h"

/* A county's ladder. */
static const char *const roles[] = {"staff", "supervisor", "admin", NULL};

static int
role_rank(const char *role)
{
	int i;

	for (i = 0; roles[i] != NULL; i++)
		if (strcmp(roles[i], role) == 0)
			return i + 1;
	return 0;
}

/*
 * "province" stands beside the ladder (sql/county/011): the province's own staff, who alone
 * publish the working-day calendar and otherwise read like a county's staff (their county
 * code is the province's, so they see no county's cases). No county role reaches it, and it
 * reaches no county role above staff.
 */
int
auth_role_at_least(const struct staff_user *u, const char *role)
{
	if (strcmp(role, STAFF_ROLE_PROVINCE) == 0 || strcmp(u->role, STAFF_ROLE_PROVINCE) == 0)
		return strcmp(u->role, STAFF_ROLE_PROVINCE) == 0 &&
		    (strcmp(role, STAFF_ROLE_PROVINCE) == 0 || strcmp(role, "staff") == 0);
	return role_rank(u->role) >= role_rank(role) && role_rank(role) > 0;
}

int
auth_session(struct staff_req *s)
{
	enum { SES_ID, SES_USERNAME, SES_DISPLAY, SES_COUNTY, SES_ROLE, SES_STALE, SES__N };
	char token[STAFF_TOKEN_LEN + 1], hash[65];
	struct dbparam p[2];
	struct dbrows rows;

	s->signed_in = 0;
	if (!req_cookie(&s->r, STAFF_SESSION_COOKIE, STAFF_TOKEN_LEN, token))
		return 0;
	signin_token_hash(hash, token);
	p[0] = DBS(hash);
	p[1] = DBI(staff_conf.idle_minutes);
	if (db_select("SELECT a.id, a.username, a.display_name, a.county_code, a.role, "
		      "s.last_seen_at < NOW() - INTERVAL 1 MINUTE "
		      "FROM staff_sessions s JOIN staff_accounts a ON a.id = s.account_id "
		      "WHERE s.token_hash = ? AND s.expires_at > NOW() "
		      "AND s.last_seen_at > NOW() - INTERVAL ? MINUTE AND NOT a.disabled",
		p, 2, &rows, 1) == -1)
		return -1;
	if (rows.nrows == 1) {
		s->signed_in = 1;
		s->u.id = db_int(&rows, 0, SES_ID);
		snprintf(s->u.username, sizeof(s->u.username), "%s",
		    db_str(&rows, 0, SES_USERNAME));
		snprintf(s->u.display, sizeof(s->u.display), "%s", db_str(&rows, 0, SES_DISPLAY));
		snprintf(s->u.county, sizeof(s->u.county), "%s", db_str(&rows, 0, SES_COUNTY));
		snprintf(s->u.role, sizeof(s->u.role), "%s", db_str(&rows, 0, SES_ROLE));
		signin_token_bind(s->u.bind, token, "staff-console-csrf-binding");
		/* the idle clock moves at most once a minute: one write per minute, not per page */
		if (db_int(&rows, 0, SES_STALE) == 1)
			db_exec("UPDATE staff_sessions SET last_seen_at = NOW() WHERE token_hash = ?",
			    p, 1, NULL);
	} else {
		/* a stale cookie: the browser is told to forget it */
		s->clear_session = 1;
	}
	dbrows_free(&rows);
	return 0;
}

void
auth_form_token(struct staff_req *s)
{
	const char *bind;

	if (s->signed_in)
		bind = s->u.bind;
	else {
		req_csrf_cookie(&s->r);
		bind = s->r.cookie;
	}
	if (csrf_token(s->csrf, bind, s->now) == -1)
		s->csrf[0] = '\0';
}

int
auth_csrf_ok(struct staff_req *s)
{
	const struct kv *kv = kv_get(&s->r.in, "csrf");

	if (kv == NULL)
		return 0;
	if (s->signed_in)
		return csrf_check(kv->value, s->u.bind, s->now);
	return s->r.cookie[0] != '\0' && csrf_check(kv->value, s->r.cookie, s->now);
}

/* ---- sign-in ----------------------------------------------------------------------- */

static void
login_form(struct staff_req *s, int status, const char *error, const char *extra_headers)
{
	struct buf b;

	auth_form_token(s);
	spage_begin(&b, s, "登录");
	buf_adds(&b, "<div class=\"login\"><h1>工作人员登录</h1>");
	spage_notices(&b, NULL, error);
	buf_adds(&b, "<form method=\"post\" action=\"/login\" accept-charset=\"utf-8\">");
	spage_csrf_field(&b, s);
	buf_adds(&b, "<label for=\"f-username\">用户名</label><input id=\"f-username\" "
		     "name=\"username\" autocomplete=\"username\" maxlength=\"32\" required value=\"");
	SH(&b, spage_in(s, "username"));
	buf_adds(&b, "\"><label for=\"f-password\">密码</label><input id=\"f-password\" "
		     "type=\"password\" name=\"password\" autocomplete=\"current-password\" "
		     "maxlength=\"128\" required><button type=\"submit\">登录</button></form>"
		     "<p class=\"muted\">连续输错密码 ");
	buf_printf(&b, "%d 次，账户将锁定 %d 分钟。", staff_conf.lockout_failures,
	    staff_conf.lockout_minutes);
	if (staff_conf.address_failures > 0)
		buf_printf(&b, "同一网络地址 %d 分钟内登录失败 %d 次，将暂停从该地址登录。",
		    staff_conf.address_minutes, staff_conf.address_failures);
	buf_adds(&b, "账户由县级管理员开设。</p></div>");
	spage_finish(s, status, &b, extra_headers);
}

void
auth_login_page(struct staff_req *s)
{
	if (s->signed_in) {
		spage_redirect(s, "/");
		return;
	}
	login_form(s, 200, NULL, NULL);
}

/* Before the workers fork: the stand-in hash every refusal is verified against. */
int
auth_init(void)
{
	return signin_init();
}

/* ---- attempts per client address -------------------------------------------------- */
/* Addresses are counted under limits_address_key's key: IPv6 by its /64, as at the hall. */

/*
 * Seconds until the address may try again: 0 when it may now, -1 when the database did
 * not answer. It is stopped while its address_failures-th latest refusal is inside the
 * window, that is until that one ages out. Workers check and record apart, so a burst
 * spread over every worker can pass the limit by at most one attempt a worker.
 */
static long long
address_wait(const char *key)
{
	enum { WAIT_SECONDS, WAIT__N };
	struct dbparam p[5];
	struct dbrows r;
	long long wait;

	if (staff_conf.address_failures == 0)
		return 0;
	p[0] = DBI(staff_conf.address_minutes);
	p[1] = DBS(key);
	p[2] = DBI(staff_conf.address_minutes);
	p[3] = DBI(1);
	p[4] = DBI(staff_conf.address_failures - 1);
	if (db_select("SELECT TIMESTAMPDIFF(SECOND, NOW(), at + INTERVAL ? MINUTE) + 1 "
		      "FROM staff_login_failures WHERE remote = ? "
		      "AND at > NOW() - INTERVAL ? MINUTE ORDER BY at DESC LIMIT ? OFFSET ?",
		p, 5, &r, 1) == -1)
		return -1;
	wait = r.nrows == 1 ? db_int(&r, 0, WAIT_SECONDS) : 0;
	if (r.nrows == 1 && wait < 1)
		wait = 1;
	dbrows_free(&r);
	return wait;
}

/* A refused sign-in from the address; the log forgets rows a day old as it goes. */
static void
address_failed(const char *key)
{
	struct dbparam p[1] = {DBS(key)};

	if (staff_conf.address_failures == 0)
		return;
	if (db_exec("INSERT INTO staff_login_failures (remote) VALUES (?)", p, 1, NULL) == 1)
		db_exec("DELETE FROM staff_login_failures WHERE at < NOW() - INTERVAL 1 DAY LIMIT 100",
		    NULL, 0, NULL);
}

static void
address_stopped(struct staff_req *s, long long seconds)
{
	char msg[200], hdr[48];
	long long minutes = (seconds + 59) / 60;

	snprintf(msg, sizeof(msg), "此网络地址登录失败次数过多，请在 %lld 分钟后再试。"
				   "如忘记密码，请联系本县管理员。", minutes > 0 ? minutes : 1);
	snprintf(hdr, sizeof(hdr), "Retry-After: %lld\r\n", seconds > 0 ? seconds : 1);
	login_form(s, 429, msg, hdr);
}

/* A new session for the account: the cookie is sent with the redirect. */
static int
session_create(struct staff_req *s, long long account_id)
{
	char hash[65];
	struct dbparam p[4];

	signin_token_new(s->new_session);
	signin_token_hash(hash, s->new_session);
	p[0] = DBS(hash);
	p[1] = DBI(account_id);
	p[2] = DBI(staff_conf.session_hours);
	p[3] = DBS(s->r.remote);
	if (db_exec("INSERT INTO staff_sessions (token_hash, account_id, expires_at, remote) "
		    "VALUES (?, ?, NOW() + INTERVAL ? HOUR, LEFT(?, 64))",
		p, 4, NULL) != 1) {
		s->new_session[0] = '\0';
		return -1;
	}
	/* sessions long over are cleared now and then, by the sign-ins themselves */
	db_exec("DELETE FROM staff_sessions WHERE expires_at < NOW() - INTERVAL 1 DAY LIMIT 100",
	    NULL, 0, NULL);
	return 0;
}

/* The session the request came with, if any, is ended (sign-in replaces it). */
static void
session_drop(struct staff_req *s)
{
	char token[STAFF_TOKEN_LEN + 1], hash[65];
	struct dbparam p[1];

	if (!req_cookie(&s->r, STAFF_SESSION_COOKIE, STAFF_TOKEN_LEN, token))
		return;
	signin_token_hash(hash, token);
	p[0] = DBS(hash);
	db_exec("DELETE FROM staff_sessions WHERE token_hash = ?", p, 1, NULL);
}

/*
 * Every refusal of a name and password is the same page, status and work: an unknown name,
 * a wrong password, a locked or a disabled account each cost one Argon2id verification and
 * say only that the name or the password is wrong, so that the answers tell nobody which
 * names exist or which of them are locked. The lockout still counts and holds (a locked
 * account is refused with its right password too); an admin sees it on the accounts page.
 */
#define LOGIN_REFUSED "用户名或密码错误，或账户已被锁定。"

void
auth_login(struct staff_req *s)
{
	enum { ACC_ID, ACC_HASH, ACC_LOCKED, ACC_DISABLED, ACC_FAILED, ACC_COUNTY, ACC__N };
	const char *user, *pw, *hash;
	char addr[LIMITS_ADDR_KEY], county[7];
	struct dbparam p[3];
	struct dbrows rows;
	long long id, wait;
	int known, usable, locked, good;
	unsigned tries = 0;

	/* the sign-in form's token is the visitor's, whatever session the browser holds */
	s->signed_in = 0;
	if (!auth_csrf_ok(s)) {
		login_form(s, 403, "页面已过期或来源不明，请重新登录。", NULL);
		return;
	}
	user = spage_in(s, "username");
	pw = spage_in(s, "password");
	if (*user == '\0' || *pw == '\0') {
		login_form(s, 422, "请填写用户名和密码。", NULL);
		return;
	}
	/* an address that has guessed too much is stopped before any password is checked */
	limits_address_key(addr, s->r.remote);
	if ((wait = address_wait(addr)) == -1) {
		spage_unavailable(s);
		return;
	}
	if (wait > 0) {
		log_info("sign-in refused: %s has too many failures", addr);
		audit_signin(s, NULL, NULL, "signin-refused", "address stopped");
		address_stopped(s, wait);
		return;
	}
	memset(&rows, 0, sizeof(rows));
	usable = signin_name_ok(user) && strlen(pw) <= SIGNIN_PASSWORD_MAX;
	if (usable) {
		p[0] = DBS(user);
		if (db_select("SELECT id, pw_hash, locked_until > NOW(), disabled, failed_logins, "
			      "county_code FROM staff_accounts WHERE username = ?",
			p, 1, &rows, 1) == -1) {
			spage_unavailable(s);
			return;
		}
	}
	known = rows.nrows == 1;
	hash = known ? db_str(&rows, 0, ACC_HASH) : NULL;
	good = signin_verify(hash, pw);
	locked = known && db_int(&rows, 0, ACC_LOCKED) == 1;
	good = good && known && !locked && db_int(&rows, 0, ACC_DISABLED) == 0;
	id = known ? db_int(&rows, 0, ACC_ID) : 0;
	if (!good) {
		if (known && !locked) {
			/* left to right: locked_until reads the count before this failure is added */
			p[0] = DBI(staff_conf.lockout_failures);
			p[1] = DBI(staff_conf.lockout_minutes);
			p[2] = DBI(id);
			if (db_exec("UPDATE staff_accounts SET "
				    "locked_until = IF(failed_logins + 1 >= ?, NOW() + INTERVAL ? MINUTE, "
				    "locked_until), "
				    "failed_logins = IF(locked_until > NOW(), 0, failed_logins + 1) "
				    "WHERE id = ?",
				p, 3, NULL) == -1) {
				dbrows_free(&rows);
				spage_unavailable(s);
				return;
			}
			if (db_int(&rows, 0, ACC_FAILED) + 1 >= staff_conf.lockout_failures)
				log_info("staff account %s locked after %d wrong passwords", user,
				    staff_conf.lockout_failures);
		}
		/* the audit row says why, which the page does not; a name that is no account is
		 * not kept (it may be a password typed in the wrong field) */
		audit_signin(s, known ? user : NULL, known ? db_str(&rows, 0, ACC_COUNTY) : NULL,
		    "signin-refused", !known ? "unknown name" : locked ? "locked" :
		    db_int(&rows, 0, ACC_DISABLED) == 1 ? "disabled" :
		    db_int(&rows, 0, ACC_FAILED) + 1 >= staff_conf.lockout_failures ?
		    "wrong password, now locked" : "wrong password");
		dbrows_free(&rows);
		address_failed(addr);
		log_info("sign-in refused from %s", addr);
		login_form(s, 403, LOGIN_REFUSED, NULL);
		return;
	}
	/* the stored hash is brought up to today's limits while we hold the password */
	if (signin_needs_rehash(hash)) {
		char h[SIGNIN_HASH_LEN];

		if (signin_hash(h, pw) == 0) {
			p[0] = DBS(h);
			p[1] = DBI(id);
			db_exec("UPDATE staff_accounts SET pw_hash = ? WHERE id = ?", p, 2, NULL);
		}
	}
	snprintf(county, sizeof(county), "%s", db_str(&rows, 0, ACC_COUNTY));
	dbrows_free(&rows);
	session_drop(s);
again:
	p[0] = DBI(id);
	/* the session and its audit row together: no sign-in that the log does not hold */
	if (db_begin() == -1 ||
	    db_exec("UPDATE staff_accounts SET failed_logins = 0, locked_until = NULL, "
		    "last_login_at = NOW() WHERE id = ?",
		p, 1, NULL) == -1 ||
	    session_create(s, id) == -1 || audit_signin(s, user, county, "signin", NULL) == -1 ||
	    db_commit() == -1) {
		db_rollback();
		s->new_session[0] = '\0';
		if (db_conflict_again(&tries))
			goto again;
		spage_unavailable(s);
		return;
	}
	log_info("staff %s signed in from %s", user, s->r.remote);
	spage_redirect(s, "/");
}

void
auth_logout(struct staff_req *s)
{
	/* recorded as well as it can be: a sign-out is never refused for the log's sake */
	audit_record(s, "signout", NULL, NULL);
	session_drop(s);
	s->signed_in = 0;
	s->clear_session = 1;
	spage_redirect(s, "/login");
}

/* ---- accounts ---------------------------------------------------------------------- */

int
auth_add_user(const char *username, const char *county, const char *role,
    const char *password_file)
{
	char h[SIGNIN_HASH_LEN], *pw, detail[64];
	struct dbparam p[4];
	int rc = -1;

	if (!signin_name_ok(username)) {
		fprintf(stderr, "staff-console: a user name is 1 to 32 of A-Z a-z 0-9 _ . -\n");
		return -1;
	}
	if (strlen(county) != 6 || strspn(county, "0123456789") != 6) {
		fprintf(stderr, "staff-console: a county code is 6 digits\n");
		return -1;
	}
	if (role_rank(role) == 0 && strcmp(role, STAFF_ROLE_PROVINCE) != 0) {
		fprintf(stderr, "staff-console: the role is staff, supervisor, admin or province\n");
		return -1;
	}
	/* a province's division code: 2 digits and 0000 (430000 for Hunan) */
	if (strcmp(role, STAFF_ROLE_PROVINCE) == 0 && strcmp(county + 2, "0000") != 0) {
		fprintf(stderr, "staff-console: a province account's code is its province's, "
				"like 430000\n");
		return -1;
	}
	if ((pw = secret_read(password_file)) == NULL)
		return -1;
	if (signin_password_problem(pw) != NULL) {
		fprintf(stderr, "staff-console: %s\n", signin_password_problem(pw));
		goto out;
	}
	if (signin_hash(h, pw) == -1)
		goto out;
	snprintf(detail, sizeof(detail), "%s %s", username, role);
	p[0] = DBS(username);
	p[1] = DBS(county);
	p[2] = DBS(role);
	p[3] = DBS(h);
	if (db_begin() == -1 ||
	    db_exec("INSERT INTO staff_accounts (username, county_code, role, pw_hash) "
		    "VALUES (?, ?, ?, ?) ON DUPLICATE KEY UPDATE county_code = VALUES(county_code), "
		    "role = VALUES(role), pw_hash = VALUES(pw_hash), failed_logins = 0, "
		    "locked_until = NULL, disabled = FALSE",
		p, 4, NULL) == -1 ||
	    /* a new password ends the account's sessions */
	    db_exec("DELETE s FROM staff_sessions s JOIN staff_accounts a ON a.id = s.account_id "
		    "WHERE a.username = ?",
		p, 1, NULL) == -1 ||
	    audit_insert(county, "(cli)", "local", "account-cli", NULL, detail) == -1 ||
	    db_commit() == -1) {
		db_rollback();
		fprintf(stderr, "staff-console: the account was not saved (see the log above)\n");
		goto out;
	}
	printf("staff account %s (%s, county %s)\n", username, role, county);
	rc = 0;
out:
	sodium_memzero(pw, strlen(pw));
	free(pw);
	return rc;
}
