/*
 * Accounts, for a county's admins: the county's accounts, a new one (with the password the
 * admin gives it, to be handed over in person), unlocking one that the lockout stopped,
 * and disabling or enabling one. Every change is limited to the admin's own county; an
 * admin cannot disable or demote the account it is signed in with. The roles it gives are
 * the county's (account_fields): a province account, which publishes the calendars every
 * county counts on, is made only by the operator (staff-console add-user), with the
 * province's code, so no county's admin has one or can make one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "staff.h"

#define NEW_PASSWORD_MIN 10

/* A one-button form that changes user: unlock, enable or disable. */
static void
account_button(struct buf *b, const struct staff_req *s, const char *user, const char *action,
    const char *label)
{
	buf_adds(b, "<form method=\"post\" action=\"/accounts/");
	SH(b, user);
	buf_adds(b, "\">");
	spage_csrf_field(b, s);
	buf_adds(b, "<input type=\"hidden\" name=\"action\" value=\"");
	SH(b, action);
	buf_adds(b, strcmp(action, "disable") == 0 ?
	    "\"><button type=\"submit\" class=\"danger\">" : "\"><button type=\"submit\">");
	SH(b, label);
	buf_adds(b, "</button></form>");
}

static void
accounts_render(struct staff_req *s, int status, const char *err, const char *done)
{
	enum {
		A_USERNAME, A_DISPLAY, A_ROLE, A_LAST_LOGIN, A_LOCKED, A_DISABLED, A_FAILED, A__N
	};
	static const char *const roles[] = {"staff", "supervisor", "admin", NULL};
	static const struct scol cols[] = {
		{"用户名", NULL}, {"姓名", NULL}, {"角色", NULL}, {"最近登录", NULL},
		{"状态", NULL}, {"", NULL},
	};
	struct dbparam p[1] = {DBS(s->u.county)};
	struct dbrows a;
	struct buf b;
	size_t i;
	const char *const *r;

	if (db_select("SELECT username, display_name, role, UNIX_TIMESTAMP(last_login_at), "
		      "COALESCE(locked_until > NOW(), 0), disabled, failed_logins "
		      "FROM staff_accounts WHERE county_code = ? ORDER BY username",
		p, 1, &a, 1000) == -1) {
		spage_unavailable(s);
		return;
	}
	spage_begin(&b, s, "账户");
	buf_adds(&b, "<h1>账户</h1>");
	spage_notices(&b, done, err);
	spage_table(&b, "id=\"accounts\"", cols, NCOLS(cols));
	for (i = 0; i < a.nrows; i++) {
		char when[32];
		const char *user = db_str(&a, i, A_USERNAME);
		int locked = db_int(&a, i, A_LOCKED) == 1;
		int disabled = db_int(&a, i, A_DISABLED) == 1;
		int self = strcmp(user, s->u.username) == 0;

		spage_time(when, (time_t)db_int(&a, i, A_LAST_LOGIN));
		buf_adds(&b, "<tr data-user=\"");
		SH(&b, user);
		buf_adds(&b, "\">");
		spage_td(&b, NULL, user);
		spage_td(&b, NULL, db_str(&a, i, A_DISPLAY));
		spage_td(&b, NULL, spage_role_text(db_str(&a, i, A_ROLE)));
		spage_td(&b, NULL, when);
		buf_adds(&b, "<td>");
		buf_adds(&b, disabled ? "<span class=\"tag closed\">已停用</span>" :
		    locked ? "<span class=\"tag overdue\">已锁定</span>" : "正常");
		buf_adds(&b, "</td><td>");
		if (!self) {
			if (locked || db_int(&a, i, A_FAILED) > 0)
				account_button(&b, s, user, "unlock", "解锁");
			if (disabled)
				account_button(&b, s, user, "enable", "启用");
			else
				account_button(&b, s, user, "disable", "停用");
		}
		buf_adds(&b, "</td></tr>");
	}
	spage_table_end(&b, NCOLS(cols), a.nrows, NULL);
	dbrows_free(&a);
	buf_adds(&b, "<h2>新增账户</h2><form class=\"wide\" method=\"post\" action=\"/accounts\" "
		     "accept-charset=\"utf-8\">");
	spage_csrf_field(&b, s);
	buf_adds(&b, "<label for=\"f-username\">用户名（字母、数字、_ . -）</label>"
		     "<input id=\"f-username\" name=\"username\" maxlength=\"32\" required "
		     "autocomplete=\"off\" value=\"");
	SH(&b, spage_in(s, "username"));
	buf_adds(&b, "\"><label for=\"f-display\">姓名</label><input id=\"f-display\" "
		     "name=\"display_name\" maxlength=\"50\" value=\"");
	SH(&b, spage_in(s, "display_name"));
	buf_adds(&b, "\"><label for=\"f-role\">角色</label><select id=\"f-role\" name=\"role\">");
	for (r = roles; *r != NULL; r++) {
		buf_adds(&b, "<option value=\"");
		SH(&b, *r);
		buf_adds(&b, strcmp(spage_in(s, "role"), *r) == 0 ? "\" selected>" : "\">");
		SH(&b, spage_role_text(*r));
		buf_adds(&b, "</option>");
	}
	buf_printf(&b, "</select><label for=\"f-password\">初始密码（至少 %d 位，当面交给本人）"
		       "</label><input id=\"f-password\" type=\"password\" name=\"password\" "
		       "minlength=\"%d\" maxlength=\"128\" autocomplete=\"new-password\" required>"
		       "<button type=\"submit\">新增账户</button></form>",
	    NEW_PASSWORD_MIN, NEW_PASSWORD_MIN);
	spage_finish(s, status, &b, NULL);
}

void
accounts_page(struct staff_req *s)
{
	accounts_render(s, 200, NULL,
	    strcmp(s->r.query, "done=1") == 0 ? "已保存。" : NULL);
}

static const struct field_spec account_fields[] = {
	{"username", 1, check_text, 32, NULL, "用户名"},
	{"display_name", 0, check_text, 50, NULL, "姓名"},
	{"role", 1, check_choice, 0, (const char *const[]){"staff", "supervisor", "admin", NULL},
	    "角色"},
	{"password", 1, check_text, 128, NULL, "初始密码"},
};

void
account_create(struct staff_req *s)
{
	static const char *const extra[] = {"csrf", NULL};
	char h[crypto_pwhash_STRBYTES];
	const char *field, *msg, *user, *pw, *display;
	struct dbparam p[5];
	long long n;

	if (fields_check(&s->r.in, account_fields, 4, extra, &field, &msg) == -1) {
		accounts_render(s, 422, msg, NULL);
		return;
	}
	user = field_value(&s->r.in, "username");
	pw = spage_in(s, "password");
	display = field_value(&s->r.in, "display_name");
	if (strlen(user) > 32 || strspn(user, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
					     "0123456789_.-") != strlen(user)) {
		accounts_render(s, 422, "用户名只能由字母、数字和 _ . - 组成（至多 32 个）。", NULL);
		return;
	}
	if (utf8_len(pw) < NEW_PASSWORD_MIN) {
		accounts_render(s, 422, "初始密码至少 10 位。", NULL);
		return;
	}
	if (crypto_pwhash_str_alg(h, pw, strlen(pw), crypto_pwhash_OPSLIMIT_INTERACTIVE,
		crypto_pwhash_MEMLIMIT_INTERACTIVE, crypto_pwhash_ALG_ARGON2ID13) != 0) {
		spage_unavailable(s);
		return;
	}
	p[0] = DBS(user);
	p[1] = DBS(display != NULL ? display : "");
	p[2] = DBS(s->u.county);
	p[3] = DBS(field_value(&s->r.in, "role"));
	p[4] = DBS(h);
	/* a taken name is refused, whichever county holds it: names are unique */
	n = audit_exec(s, "account-create", NULL, user,
	    "INSERT IGNORE INTO staff_accounts (username, display_name, county_code, role, "
	    "pw_hash) VALUES (?, ?, ?, ?, ?)",
	    p, 5);
	sodium_memzero(h, sizeof(h));
	if (n == -1) {
		spage_unavailable(s);
		return;
	}
	if (n == 0) {
		accounts_render(s, 409, "这个用户名已被使用。", NULL);
		return;
	}
	log_info("staff account %s (%s) created by %s", user, field_value(&s->r.in, "role"),
	    s->u.username);
	spage_redirect(s, "/accounts?done=1");
}

void
account_change(struct staff_req *s)
{
	const char *user = s->r.arg, *action, *sql;
	struct dbparam p[2];
	long long n;

	action = spage_in(s, "action");
	if (strcmp(action, "unlock") == 0)
		sql = "UPDATE staff_accounts SET failed_logins = 0, locked_until = NULL "
		      "WHERE username = ? AND county_code = ?";
	else if (strcmp(action, "disable") == 0)
		sql = "UPDATE staff_accounts SET disabled = TRUE WHERE username = ? AND county_code = ?";
	else if (strcmp(action, "enable") == 0)
		sql = "UPDATE staff_accounts SET disabled = FALSE WHERE username = ? AND county_code = ?";
	else {
		accounts_render(s, 422, "不认识的操作。", NULL);
		return;
	}
	if (strcmp(user, s->u.username) == 0) {
		accounts_render(s, 409, "不能更改自己正在使用的账户。", NULL);
		return;
	}
	p[0] = DBS(user);
	p[1] = DBS(s->u.county);
	/* MariaDB counts a row set to what it held as unchanged: look the account up first */
	{
		struct dbrows r;

		if (db_select("SELECT 1 FROM staff_accounts WHERE username = ? AND county_code = ?", p,
			2, &r, 1) == -1) {
			spage_unavailable(s);
			return;
		}
		n = (long long)r.nrows;
		dbrows_free(&r);
	}
	if (n == 0) {
		spage_message(s, 404, "没有找到", "本县没有这个账户。");
		return;
	}
	if (audit_exec(s, action, NULL, user, sql, p, 2) == -1) {
		spage_unavailable(s);
		return;
	}
	/* a disabled account's sessions end now, not when they expire */
	if (strcmp(action, "disable") == 0 &&
	    db_exec("DELETE s FROM staff_sessions s JOIN staff_accounts a ON a.id = s.account_id "
		    "WHERE a.username = ? AND a.county_code = ?",
		p, 2, NULL) == -1) {
		spage_unavailable(s);
		return;
	}
	log_info("staff account %s: %s by %s", user, action, s->u.username);
	spage_redirect(s, "/accounts?done=1");
}
