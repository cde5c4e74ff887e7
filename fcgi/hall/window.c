/*
 * The hall's window (SPEC 4.4, seed 4 "办不成事" registration): hall staff sign in at the
 * hall node itself and register cases for citizens who came in (现场), phoned, wrote or
 * e-mailed, then print the receipt. hall-write serves it: sessions are writes, and every
 * account, session and case is in the hall store, so it works with the county link down.
 *
 * Sign-in, with the county console's care (fcgi/staff/auth.c; the shared pieces are
 * fcgi/web/signin.c): Argon2id passwords; an unknown name costs the same verification as
 * a known one; after WINDOW_LOCKOUT_FAILURES wrong passwords in a row the account is
 * refused for WINDOW_LOCKOUT_MINUTES, counted in its row (every worker sees it); one answer
 * for every refusal. Per client address, WINDOW_ADDRESS_FAILURES refused sign-ins within
 * WINDOW_ADDRESS_MINUTES stop the address for as long, before any password is checked, in
 * the limits file the submissions use (lib/core/limits.c, its lockout table under a key of
 * its own). Sessions: a random token in an HttpOnly, SameSite=Strict cookie for /window
 * (Secure over https), kept in the store as its SHA-256 with an absolute and an idle expiry;
 * a new one at every sign-in. Every POST carries a form token (lib/core/csrf.c): bound to
 * the session (a keyed hash of its token) once signed in, to the visitor's CSRF cookie on
 * the sign-in form.
 *
 * A registered case goes through the citizens' path (site_commit: store_case_create in the
 * group commit) with its channel and the account as registrar, so it then lives exactly
 * like an online case: due date, outbox record, sync.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "site.h"

#define WINDOW_COOKIE "hall_window"
#define WINDOW_CSRF_PURPOSE "hall-window-csrf-binding"
/* One answer for an unknown name, a wrong password, a locked or a disabled account. */
#define LOGIN_REFUSED "用户名或密码错误，或账户已被锁定。"

static const char *const kinds[] = {"consultation", "complaint", "unresolved", NULL};
static const char *const categories[] = {"policy", "procedure", "public_info", NULL};
static const char *const channels[] = {"window", "phone", "letter", "email", NULL};
static const char *const checked[] = {"1", NULL};

/* The registration form (window_pages.c), with the online forms' caps (hall_write.c). */
static const struct field_spec case_fields[] = {
	{"channel", 1, check_choice, 0, channels, "受理渠道"},
	{"kind", 1, check_choice, 0, kinds, "类型"},
	{"category", 0, check_choice, 0, categories, "咨询类别"},
	{"name", 0, check_text, 50, NULL, "服务对象"},
	{"phone", 1, check_phone, 0, NULL, "联系电话"},
	{"email", 0, check_email, 0, NULL, "电子邮箱"},
	{"subject", 1, check_text, 100, NULL, "反映事项"},
	{"body", 1, check_multiline, 2000, NULL, "具体情况"},
	{"target", 0, check_text, 100, NULL, "涉及窗口或部门"},
	{"item", 0, check_text, 100, NULL, "涉及事项"},
	{"notify", 0, check_choice, 0, checked, "告知"},
};
#define NFIELDS (sizeof(case_fields) / sizeof(case_fields[0]))
static const char *const form_extra[] = {"csrf", "key", NULL};

int
window_start(void)
{
	return signin_init();
}

/* ---- sessions ------------------------------------------------------------------------- */

/* Finds the session of the request's cookie. -1: the store failed (answered 503). */
static int
wreq_init(struct wreq *w, struct req *r)
{
	char token[SIGNIN_TOKEN_LEN + 1];

	memset(w, 0, sizeof(*w));
	w->r = r;
	w->now = time(NULL);
	if (!req_cookie(r, WINDOW_COOKIE, SIGNIN_TOKEN_LEN, token))
		return 0;
	signin_token_hash(w->token_hash, token);
	switch (store_window_session(site_store, w->token_hash, w->now, WINDOW_IDLE_MINUTES * 60,
	    w->name)) {
	case STORE_OK:
		w->signed_in = 1;
		signin_token_bind(w->bind, token, WINDOW_CSRF_PURPOSE);
		if (csrf_token(w->csrf, w->bind, w->now) == -1)
			w->csrf[0] = '\0';
		break;
	case STORE_NOT_FOUND:
		w->clear = 1;	/* a stale cookie: the browser is told to forget it */
		w->token_hash[0] = '\0';
		break;
	default:
		send_unavailable(r);
		return -1;
	}
	sodium_memzero(token, sizeof(token));
	return 0;
}

/* The session cookie's lines for this answer, if it needs any, into hdr. */
static void
session_headers(const struct wreq *w, struct buf *hdr, const char *more)
{
	buf_init(hdr, 1024);
	if (w->new_token[0] != '\0')
		signin_cookie(hdr, WINDOW_COOKIE, "/window", w->new_token, WINDOW_SESSION_HOURS * 3600,
		    w->r->https);
	else if (w->clear)
		signin_cookie(hdr, WINDOW_COOKIE, "/window", NULL, 0, w->r->https);
	if (more != NULL)
		buf_adds(hdr, more);
	buf_adds(hdr, "");	/* an empty buffer still has its text */
}

void
wsend(struct wreq *w, int status, struct buf *page, const char *more)
{
	struct buf hdr;

	session_headers(w, &hdr, more);
	req_page(w->r, status, page, hdr.failed ? NULL : hdr.data);
	buf_free(&hdr);
	buf_free(page);
}

void
wredirect(struct wreq *w, const char *location)
{
	struct buf hdr, more;

	buf_init(&more, 512);
	buf_printf(&more, "Location: %s\r\n", location);
	session_headers(w, &hdr, more.failed ? NULL : more.data);
	req_send(w->r, 303, "text/html; charset=utf-8", NULL, hdr.failed ? NULL : hdr.data);
	buf_free(&hdr);
	buf_free(&more);
}

void
wmessage(struct wreq *w, int status, const char *title, const char *message)
{
	struct window_view v = {w->signed_in ? w->name : NULL, w->csrf};
	struct buf b;

	buf_init(&b, PAGE_MAX);
	wpage_message(&b, &v, title, message);
	wsend(w, status, &b, NULL);
}

/*
 * What every page but the sign-in does first: the session, else the way to the sign-in;
 * for a POST its body and this session's form token. 0: go on; -1: answered.
 */
int
wreq_start(struct wreq *w, struct req *r)
{
	if (wreq_init(w, r) == -1)
		return -1;
	if (!w->signed_in) {
		wredirect(w, "/window/login");
		return -1;
	}
	if (strcmp(r->method, "POST") != 0)
		return 0;
	if (req_parse_body(r) == -1)
		return -1;
	if (!csrf_check(field_value(&r->in, "csrf"), w->bind, w->now)) {
		log_info("window: a form of %s refused: its token is stale or not this session's",
		    w->name);
		return 1;
	}
	return 0;
}

/* ---- sign-in ------------------------------------------------------------------------ */

static void
login_form(struct wreq *w, int status, const char *error, const char *more)
{
	char token[CSRF_TOKEN_LEN];
	const char *user = "";
	struct buf b;

	if (w->r->in.n > 0 && field_value(&w->r->in, "username") != NULL &&
	    strlen(field_value(&w->r->in, "username")) <= SIGNIN_NAME_MAX)
		user = field_value(&w->r->in, "username");
	form_token(w->r, token);
	buf_init(&b, PAGE_MAX);
	wpage_login(&b, token, user, error);
	wsend(w, status, &b, more);
}

void
window_login(struct req *r)
{
	struct window_account a;
	struct window_signin in = {0};
	struct wreq w;
	char addr[LIMITS_ADDR_KEY], key[LIMITS_ADDR_KEY + 16], hdr[48], rehash[SIGNIN_HASH_LEN];
	char fresh[65];
	const char *user, *pw, *why;
	enum store_rc rc = STORE_NOT_FOUND;
	int retry, known, locked, good, now_locked = 0;

	if (wreq_init(&w, r) == -1)
		return;
	if (strcmp(r->method, "POST") != 0) {
		if (w.signed_in)
			wredirect(&w, "/window");
		else
			login_form(&w, 200, NULL, NULL);
		return;
	}
	if (req_parse_body(r) == -1)
		return;
	/* the sign-in form's token is the visitor's, whatever session the browser holds */
	if (r->cookie[0] == '\0' || !csrf_check(field_value(&r->in, "csrf"), r->cookie, w.now)) {
		login_form(&w, 403, "页面已过期或来源不明，请重新登录。", NULL);
		return;
	}
	user = field_value(&r->in, "username");
	pw = field_value(&r->in, "password");
	if (user == NULL || pw == NULL) {
		login_form(&w, 422, "请填写用户名和密码。", NULL);
		return;
	}
	/* an address that has guessed too much is stopped before any password is checked */
	limits_address_key(addr, r->remote);
	snprintf(key, sizeof(key), "window-signin %s", addr);
	if (limits_locked(site.limits, key, &retry)) {
		log_info("window sign-in refused: %s has too many failures", addr);
		snprintf(hdr, sizeof(hdr), "Retry-After: %d\r\n", retry);
		login_form(&w, 429, "此网络地址登录失败次数过多，请稍后再试。如忘记密码，请联系本大厅管理员。",
		    hdr);
		return;
	}
	if (signin_name_ok(user) && (rc = store_window_account(site_store, user, &a)) == STORE_ERR) {
		send_unavailable(r);
		return;
	}
	known = rc == STORE_OK;
	good = signin_verify(known ? a.pw_hash : NULL, pw);
	locked = known && a.locked_until > w.now;
	if (!good || !known || locked || a.disabled) {
		if (known && !locked &&
		    store_window_failed(site_store, user, WINDOW_LOCKOUT_FAILURES,
			WINDOW_LOCKOUT_MINUTES, w.now, &now_locked) == STORE_ERR) {
			send_unavailable(r);
			return;
		}
		limits_wrong_code(site.limits, key, WINDOW_ADDRESS_FAILURES, WINDOW_ADDRESS_MINUTES);
		/* the log says why, which the page does not; a name that is no account is not
		 * logged (it may be a password typed in the wrong field) */
		why = !known ? "unknown name" : locked ? "locked" : a.disabled ? "disabled" :
		    now_locked ? "wrong password, now locked" : "wrong password";
		if (known)
			log_info("window sign-in of %s refused from %s: %s", user, addr, why);
		else
			log_info("window sign-in refused from %s: %s", addr, why);
		login_form(&w, 403, LOGIN_REFUSED, NULL);
		return;
	}
	/* the stored hash is brought up to today's limits while we hold the password */
	if (signin_needs_rehash(a.pw_hash) && signin_hash(rehash, pw) == 0)
		in.rehash = rehash;
	/* a new token at every sign-in: one planted before it is worth nothing */
	signin_token_new(w.new_token);
	signin_token_hash(fresh, w.new_token);
	in.name = a.name;
	in.token_hash = fresh;
	in.old_token_hash = w.token_hash[0] != '\0' ? w.token_hash : NULL;
	in.remote = r->remote;
	in.now = w.now;
	in.expires_at = w.now + WINDOW_SESSION_HOURS * 3600;
	in.idle_seconds = WINDOW_IDLE_MINUTES * 60;
	rc = store_window_signin(site_store, &in);
	if (rc != STORE_OK) {
		w.new_token[0] = '\0';
		if (rc == STORE_NOT_FOUND)
			login_form(&w, 403, LOGIN_REFUSED, NULL);
		else
			send_unavailable(r);
		return;
	}
	log_info("window: %s signed in from %s", a.name, addr);
	wredirect(&w, "/window");
}

void
window_logout(struct req *r)
{
	struct wreq w;
	int rc;

	if ((rc = wreq_start(&w, r)) == -1)
		return;
	if (rc == 1) {
		wmessage(&w, 403, "未退出", "页面已过期或来源不明，请刷新后重试。");
		return;
	}
	if (store_window_signout(site_store, w.token_hash) != STORE_OK) {
		send_unavailable(r);
		return;
	}
	log_info("window: %s signed out", w.name);
	w.signed_in = 0;
	w.clear = 1;
	wredirect(&w, "/window/login");
}

/* ---- the pages ---------------------------------------------------------------------- */

void
window_home(struct req *r)
{
	struct window_view v;
	struct wreq w;
	struct buf b;

	if (wreq_start(&w, r) == -1)
		return;
	v.name = w.name;
	v.csrf = w.csrf;
	buf_init(&b, PAGE_MAX);
	wpage_list(&b, &v, site_store, w.now);
	wsend(&w, 200, &b, NULL);
}

static void
form_page(struct wreq *w, int status, const char *field, const char *message)
{
	struct window_view v = {w->name, w->csrf};
	struct form_state st = {0};
	char key[CSRF_COOKIE_LEN + 1];
	struct buf b;

	if (strcmp(w->r->method, "POST") == 0)
		st.in = &w->r->in;
	else {
		csrf_new_cookie(key);	/* a fresh value: one registration of this form */
		st.form_key = key;
	}
	st.err_field = field;
	st.err_message = message;
	buf_init(&b, PAGE_MAX);
	wpage_form(&b, &v, &st);
	wsend(w, status, &b, NULL);
}

/*
 * The retry key: the same form sent twice (a double click, a reload) gets the first
 * receipt. Hashed with the content and the account, so the same key with other content,
 * or from another account, is another case.
 */
static int
dedup_key(const struct req *r, const struct case_new *c, char out[65])
{
	const char *key = field_value(&r->in, "key");
	const char *parts[] = {"window", c->registrar, c->channel, c->kind, c->category,
	    c->subject, c->body, c->name, c->phone, c->email, c->item, c->target,
	    c->notify_off ? "no-notify" : "notify", key};

	/* the form's own key: a malformed one (a tampered form) is simply no key */
	return retry_key_hash(key, parts, sizeof(parts) / sizeof(parts[0]), out) == 1;
}

/* The form's values as a case; 0, or -1 with the field and message to show. */
static int
case_from_form(struct wreq *w, struct case_new *c, char phone[64], const char **field,
    const char **message)
{
	const struct kvlist *in = &w->r->in;

	if (fields_check(in, case_fields, NFIELDS, form_extra, field, message) == -1)
		return -1;
	c->channel = field_value(in, "channel");
	c->kind = field_value(in, "kind");
	c->registrar = w->name;
	if (strcmp(c->kind, "consultation") == 0) {
		if ((c->category = field_value(in, "category")) == NULL) {
			*field = "category";
			*message = "请选择咨询类别。";
			return -1;
		}
		if (field_value(in, "name") == NULL) {
			*field = "name";
			*message = "咨询请填写服务对象的姓名。";
			return -1;
		}
	}
	c->subject = field_value(in, "subject");
	c->body = field_value(in, "body");
	c->name = field_value(in, "name");
	snprintf(phone, 64, "%s", field_value(in, "phone"));
	phone_normalize(phone);
	c->phone = phone;
	c->email = field_value(in, "email");
	c->target = field_value(in, "target");
	c->item = field_value(in, "item");
	/* the checkbox (SPEC 5.6): sent only when ticked, and the form shows it ticked */
	c->notify_off = field_value(in, "notify") == NULL;
	return 0;
}

void
window_new(struct req *r)
{
	const char *field = NULL, *message = NULL;
	struct case_new c = {0};
	struct store_write sw = {0};
	struct receipt rc;
	struct wreq w;
	char phone[64], key[65], loc[96];
	int start;

	if ((start = wreq_start(&w, r)) == -1)
		return;
	if (strcmp(r->method, "POST") != 0) {
		form_page(&w, 200, NULL, NULL);
		return;
	}
	if (start == 1) {
		form_page(&w, 403, NULL, "页面已过期，请再提交一次。");
		return;
	}
	if (case_from_form(&w, &c, phone, &field, &message) == -1) {
		form_page(&w, 422, field, message);
		return;
	}
	if (dedup_key(r, &c, key) == 1)
		c.dedup_key = key;
	sw.kind = STORE_WRITE_CASE;
	sw.cfg = &site.cfg;
	sw.c = &c;
	sw.receipt = &rc;
	site_commit(&sw);
	switch (sw.rc) {
	case STORE_OK:
		break;
	case STORE_CLOCK:
		wmessage(&w, 503, "暂时无法登记",
		    "大厅设备时间不正确，暂时无法登记，请联系管理员校准时间（hall-admin clock）。");
		return;
	default:
		send_unavailable(r);
		return;
	}
	if (!rc.replayed)
		log_info("case %s (%s, %s) registered by %s", rc.case_no, c.kind, c.channel, w.name);
	snprintf(loc, sizeof(loc), "/window/receipt/%s", rc.case_no);
	wredirect(&w, loc);
}

int
window_may_reprint(const struct window_case *c, const char *me, time_t now)
{
	return me != NULL && c->registrar != NULL && strcmp(c->registrar, me) == 0 &&
	    now - c->submitted_at < WINDOW_REPRINT_MINUTES * 60;
}

struct receipt_ctx {
	struct wreq *w;
	int roll, shown;
};

static int
receipt_show(const struct window_case *c, const char *code, void *arg)
{
	struct receipt_ctx *x = arg;
	struct window_view v = {x->w->name, x->w->csrf};
	struct buf b;

	if (!window_may_reprint(c, x->w->name, x->w->now))
		return 0;
	buf_init(&b, PAGE_MAX);
	wpage_receipt(&b, &v, c, code, x->roll);
	wsend(x->w, 200, &b, NULL);
	x->shown = 1;
	return 0;
}

/*
 * The receipt, to print (again): only for the account that registered the case, within
 * WINDOW_REPRINT_MINUTES; any other case is not found, so the list does not become a way
 * to read query codes. ?paper=80 lays it out for an 80 mm roll.
 */
void
window_receipt(struct req *r)
{
	struct receipt_ctx x = {0};
	char case_no[CASENO_LEN + 1];
	const char *paper;
	struct wreq w;

	if (wreq_start(&w, r) == -1)
		return;
	if (req_parse_query(r) == -1)
		return;
	paper = field_value(&r->in, "paper");
	x.w = &w;
	x.roll = paper != NULL && strcmp(paper, "80") == 0;
	if (caseno_normalize(case_no, r->arg) == -1 || !caseno_valid(case_no)) {
		wmessage(&w, 404, "没有找到", "没有这个回执。");
		return;
	}
	switch (store_window_receipt(site_store, case_no, receipt_show, &x)) {
	case STORE_OK:
	case STORE_NOT_FOUND:
		if (!x.shown)
			wmessage(&w, 404, "没有找到", "没有这个回执：回执只能由登记人在登记后一小时内"
			    "重新打印。群众遗失查询码的，请在进度查询页申请重新发送。");
		break;
	default:
		send_unavailable(r);
		break;
	}
}
