/*
 * One attempt to hand a notice over: to the SMS gateway (SPEC 5.6: POST {url}/v1/sms,
 * Bearer token, {"id","to","text"}) or to the SMTP server, both through libcurl. Only a
 * clear yes counts as sent: a 200 whose JSON names the notice's id with status accepted or
 * duplicate, or the SMTP server's 250 after the message. Anything else (an error status, a
 * timeout, an answer that got lost, a body that is not the gateway's) is "send again", with
 * the same id: the gateway answers duplicate to the repeat of a message it already holds.
 * A gateway's 400/422 (a number it will never take) is a refusal for good; its 409 (the
 * id held with other words: the signature changed between attempts) means it was sent.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>

#include "notifier.h"

#define ANSWER_MAX (64 * 1024)

struct sender {
	const struct notifier_conf *cfg;
	CURL *sms, *mail;
	char auth[600];
};

struct sender *
sender_new(const struct notifier_conf *cfg)
{
	struct sender *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->cfg = cfg;
	if ((cfg->sms_url != NULL && (s->sms = curl_easy_init()) == NULL) ||
	    (cfg->mail_url != NULL && (s->mail = curl_easy_init()) == NULL)) {
		sender_free(s);
		return NULL;
	}
	if (cfg->sms_token != NULL)
		snprintf(s->auth, sizeof(s->auth), "Authorization: Bearer %s", cfg->sms_token);
	return s;
}

void
sender_free(struct sender *s)
{
	if (s == NULL)
		return;
	if (s->sms != NULL)
		curl_easy_cleanup(s->sms);
	if (s->mail != NULL)
		curl_easy_cleanup(s->mail);
	sodium_memzero(s->auth, sizeof(s->auth));
	free(s);
}

static size_t
on_body(char *p, size_t size, size_t n, void *arg)
{
	struct buf *b = arg;

	buf_add(b, p, size * n);	/* past ANSWER_MAX the buffer fails: not the gateway */
	return size * n;
}

static void
tls_opts(CURL *c, const char *ca_file)
{
	curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	if (ca_file != NULL)
		curl_easy_setopt(c, CURLOPT_CAINFO, ca_file);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
}

/* The gateway's yes: {"id": <ours>, "status": "accepted"|"duplicate"}. */
static int
sms_answer_ok(const struct buf *b, const char *id, char *err, size_t errlen)
{
	json_error_t je;
	json_t *a = b->failed ? NULL : json_loadb(b->data, b->len, 0, &je);
	const char *aid, *st;
	int ok;

	aid = json_string_value(json_object_get(a, "id"));
	st = json_string_value(json_object_get(a, "status"));
	ok = aid != NULL && st != NULL && strcmp(aid, id) == 0 &&
	    (strcmp(st, "accepted") == 0 || strcmp(st, "duplicate") == 0);
	if (!ok)
		snprintf(err, errlen, "the gateway answered 200 without accepting %s", id);
	json_decref(a);
	return ok;
}

enum send_result
sms_send(struct sender *s, const struct notice *n, const char *text, char *err, size_t errlen)
{
	struct curl_slist *h = NULL;
	struct buf body, ans;
	char url[1024];
	CURL *c = s->sms;
	CURLcode rc;
	long status = 0;
	enum send_result r;

	if (c == NULL) {
		snprintf(err, errlen, "no SMS gateway configured ([sms] url)");
		return SEND_RETRY;
	}
	buf_init(&body, 4096);
	buf_adds(&body, "{\"id\":");
	buf_json_str(&body, n->id);
	buf_json_member(&body, "to", n->to);
	buf_json_member(&body, "text", text);
	buf_addc(&body, '}');
	buf_init(&ans, ANSWER_MAX);
	buf_add(&ans, "", 0);
	snprintf(url, sizeof(url), "%s/v1/sms", s->cfg->sms_url);
	h = curl_slist_append(h, "Content-Type: application/json; charset=utf-8");
	h = curl_slist_append(h, s->auth);
	h = curl_slist_append(h, "Expect:");
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POST, 1L);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body.len);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)s->cfg->sms_timeout_s);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)s->cfg->sms_timeout_s);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &ans);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "county-notifier/" HALL_VERSION);
	tls_opts(c, s->cfg->sms_ca_file);
	rc = curl_easy_perform(c);
	curl_slist_free_all(h);
	if (rc != CURLE_OK) {
		snprintf(err, errlen, "%s: %s", url, curl_easy_strerror(rc));
		r = SEND_RETRY;
	} else {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
		if (status == 200)
			r = sms_answer_ok(&ans, n->id, err, errlen) ? SEND_OK : SEND_RETRY;
		else if (status == 409) {
			/* the gateway holds this id with other words (the signature changed
			 * between attempts): the citizen has it already */
			log_warnx("notice %s: the gateway holds it with other content (409): sent "
				  "before", n->id);
			r = SEND_OK;
		} else {
			snprintf(err, errlen, "%s answered HTTP %ld", url, status);
			r = status == 400 || status == 422 ? SEND_REFUSED : SEND_RETRY;
		}
	}
	buf_free(&body);
	buf_free(&ans);
	return r;
}

struct upload {
	const struct buf *m;
	size_t off;
	char verb[8];		/* the last SMTP command sent: "MAIL", "RCPT", "DATA", ... */
	char status[8];		/* the enhanced status code of the last refusal ("5.1.1"), or "" */
	int quit;		/* QUIT sent: what follows is the goodbye, not an answer */
};

static size_t
on_read(char *p, size_t size, size_t n, void *arg)
{
	struct upload *u = arg;
	size_t left = u->m->len - u->off, k = size * n < left ? size * n : left;

	memcpy(p, u->m->data + u->off, k);
	u->off += k;
	return k;
}

/*
 * libcurl shows each SMTP command it sends as CURLINFO_HEADER_OUT (the message itself is
 * data), and each reply line it reads as CURLINFO_HEADER_IN: the last command but the QUIT
 * it sends as it hangs up is the one a refusal answered, and the refusal's enhanced status
 * code (RFC 3463: "550 5.1.1 ...") says what it was about.
 */
static int
on_debug(CURL *c, curl_infotype type, char *p, size_t n, void *arg)
{
	struct upload *u = arg;
	char word[8];
	size_t i;

	(void)c;
	if (type == CURLINFO_HEADER_IN && !u->quit && n > 3 && p[3] == ' ') {
		/* a reply's last line: a refusal's code kept, any other answer's forgotten */
		u->status[0] = '\0';
		if ((p[0] == '4' || p[0] == '5') && n > 6 && p[4] == p[0] && p[5] == '.') {
			for (i = 0; i < sizeof(word) - 1 && 4 + i < n && p[4 + i] != ' ' &&
			    p[4 + i] != '\r' && p[4 + i] != '\n'; i++)
				word[i] = p[4 + i];
			word[i] = '\0';
			memcpy(u->status, word, i + 1);
		}
	}
	if (type != CURLINFO_HEADER_OUT)
		return 0;
	for (i = 0; i < n && i < sizeof(word) - 1 && p[i] >= 'A' && p[i] <= 'Z'; i++)
		word[i] = p[i];
	word[i] = '\0';
	if (strcmp(word, "QUIT") == 0)
		u->quit = 1;
	else if (i > 0)
		memcpy(u->verb, word, i + 1);
	return 0;
}

/*
 * A refusal for good is one of this citizen's address (to RCPT) or of this message (after
 * DATA took it): sent again it would be refused again. The same codes to MAIL FROM, to the
 * greeting or to AUTH (a sender the server does not take, a password that expired) are the
 * county's own set-up: every e-mail would meet them, and once it is put right, each must
 * still go. So is a refusal for policy or security (5.7.x: relaying denied, a sender the
 * domain's SPF or DMARC does not allow) or of the system or protocol (5.3.x to 5.5.x),
 * whenever it comes: only the address (5.1.x), the mailbox (5.2.x) or the content (5.6.x),
 * or a server that gives no such code, is the citizen's e-mail's own.
 */
static int
mail_refused(const struct upload *u, long code)
{
	if (code != 550 && code != 553 && code != 501)
		return 0;
	if (strcmp(u->verb, "RCPT") != 0 && u->off == 0)
		return 0;
	return u->status[0] == '\0' || strncmp(u->status, "5.1.", 4) == 0 ||
	    strncmp(u->status, "5.2.", 4) == 0 || strncmp(u->status, "5.6.", 4) == 0;
}

enum send_result
mail_send(struct sender *s, const struct notice *n, const struct buf *message, char *err,
    size_t errlen)
{
	struct curl_slist *rcpt = NULL;
	struct upload u = {message, 0, "", "", 0};
	char from[256];
	CURL *c = s->mail;
	CURLcode rc;
	long code = 0;

	if (c == NULL) {
		snprintf(err, errlen, "no SMTP server configured ([email] url)");
		return SEND_RETRY;
	}
	snprintf(from, sizeof(from), "<%s>", s->cfg->mail_from);
	rcpt = curl_slist_append(rcpt, n->to);
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, s->cfg->mail_url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	curl_easy_setopt(c, CURLOPT_MAIL_FROM, from);
	curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
	curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
	curl_easy_setopt(c, CURLOPT_READDATA, &u);
	curl_easy_setopt(c, CURLOPT_DEBUGFUNCTION, on_debug);
	curl_easy_setopt(c, CURLOPT_DEBUGDATA, &u);
	curl_easy_setopt(c, CURLOPT_VERBOSE, 1L);	/* only for on_debug: it prints nothing */
	curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)message->len);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)s->cfg->mail_timeout_s);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)s->cfg->mail_timeout_s);
	if (s->cfg->mail_starttls)
		curl_easy_setopt(c, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
	if (s->cfg->mail_user != NULL) {
		curl_easy_setopt(c, CURLOPT_USERNAME, s->cfg->mail_user);
		curl_easy_setopt(c, CURLOPT_PASSWORD, s->cfg->mail_password);
	}
	tls_opts(c, s->cfg->mail_ca_file);
	rc = curl_easy_perform(c);
	curl_slist_free_all(rcpt);
	/* u is this call's: the connection's QUIT, sent later, is shown to nobody */
	curl_easy_setopt(c, CURLOPT_VERBOSE, 0L);
	curl_easy_setopt(c, CURLOPT_DEBUGFUNCTION, NULL);
	curl_easy_setopt(c, CURLOPT_DEBUGDATA, NULL);
	if (rc == CURLE_OK)
		return SEND_OK;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	snprintf(err, errlen, "%s: %s (SMTP %ld%s%s%s%s)", s->cfg->mail_url,
	    curl_easy_strerror(rc), code, u.status[0] != '\0' ? " " : "", u.status,
	    u.verb[0] != '\0' ? " to " : "", u.off > 0 ? "the message" : u.verb);
	return mail_refused(&u, code) ? SEND_REFUSED : SEND_RETRY;
}
