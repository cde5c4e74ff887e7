/*
 * notifier.ini (conf/notifier.ini.example, county.ini(5)): one table of keys, read with
 * inih. Unknown keys are errors; secrets are files of their own, read once at start.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ini.h>
#include <sodium.h>

#include "notifier.h"

#define S(sec, key, field) {sec, key, offsetof(struct notifier_conf, field), 1, 0, 0}
#define I(sec, key, field, lo, hi) {sec, key, offsetof(struct notifier_conf, field), 0, lo, hi}

static const struct key {
	const char *section, *key;
	size_t off;
	int is_str, lo, hi;
} keys[] = {
	S("county", "host", host), S("county", "socket", db_socket), S("county", "user", user),
	S("county", "password_file", password_file), S("county", "database", database),
	S("county", "tls_ca", tls_ca), I("county", "port", port, 1, 65535),
	I("county", "tls", tls, 0, 1), I("county", "allow_insecure", allow_insecure, 0, 1),
	I("county", "connect_timeout", connect_timeout, 1, 600),
	I("county", "read_timeout", read_timeout, 1, 600),
	I("county", "write_timeout", write_timeout, 1, 600),
	I("notifier", "poll_ms", poll_ms, 50, 3600000), I("notifier", "batch", batch, 1, 1000),
	I("notifier", "backoff_base_s", backoff_base_s, 1, 3600),
	I("notifier", "backoff_max_s", backoff_max_s, 1, 86400),
	I("notifier", "give_up_hours", give_up_hours, 1, 24 * 365),
	S("notifier", "signature", signature),
	S("sms", "url", sms_url), S("sms", "token_file", sms_token_file),
	S("sms", "ca_file", sms_ca_file), I("sms", "timeout_s", sms_timeout_s, 1, 600),
	I("sms", "allow_insecure", sms_allow_insecure, 0, 1),
	S("email", "url", mail_url), S("email", "from", mail_from), S("email", "user", mail_user),
	S("email", "password_file", mail_password_file), S("email", "ca_file", mail_ca_file),
	I("email", "starttls", mail_starttls, 0, 1), I("email", "timeout_s", mail_timeout_s, 1, 600),
	I("email", "allow_insecure", mail_allow_insecure, 0, 1),
};
#undef S
#undef I

struct ctx {
	struct notifier_conf *c;
	const char *path;
	int errors;
};

static int
on_key(void *user, const char *section, const char *key, const char *value)
{
	struct ctx *x = user;
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const struct key *k = &keys[i];
		char *end;
		long v;

		if (strcmp(section, k->section) != 0 || strcmp(key, k->key) != 0)
			continue;
		if (k->is_str) {
			char **slot = (char **)((char *)x->c + k->off);

			free(*slot);
			*slot = *value != '\0' ? strdup(value) : NULL;	/* empty unsets */
			return 1;
		}
		v = strtol(value, &end, 10);
		if (*value == '\0' || *end != '\0' || v < k->lo || v > k->hi) {
			fprintf(stderr, "%s: [%s] %s = %s: a number from %d to %d\n", x->path,
			    section, key, value, k->lo, k->hi);
			x->errors++;
			return 1;
		}
		*(int *)((char *)x->c + k->off) = (int)v;
		return 1;
	}
	fprintf(stderr, "%s: unknown key [%s] %s\n", x->path, section, key);
	x->errors++;
	return 1;
}

/* No clear text off the machine, the same rule as the hall's (lib/core/insecure.c). */
static int
link_ok(const char *path, const char *section, const char *url, int tls, int allow)
{
	char host[256];

	if (insecure_url_host(url, host, sizeof(host)) == -1) {
		fprintf(stderr, "%s: [%s] url %s is not a URL\n", path, section, url);
		return 0;
	}
	if (tls || insecure_is_local(host))
		return 1;
	if (allow) {
		log_warnx("WARNING: [%s] %s is NOT encrypted (allow_insecure = 1)", section, url);
		return 1;
	}
	fprintf(stderr, "%s: [%s] url %s would carry citizens' numbers and addresses to %s "
			"unencrypted: use %s, or set allow_insecure = 1 in [%s] to accept it\n",
	    path, section, url, host, strcmp(section, "sms") == 0 ? "https://" :
	    "smtps:// or starttls = 1", section);
	return 0;
}

static int
read_secret(const char *path, const char *file, const char *what, char **out)
{
	if (file == NULL)
		return 0;
	if ((*out = secret_read(file)) == NULL) {
		fprintf(stderr, "%s: cannot read %s from %s\n", path, what, file);
		return -1;
	}
	return 0;
}

int
notifier_conf_load(struct notifier_conf *c, const char *path)
{
	struct ctx x = {c, path, 0};
	int line;

	memset(c, 0, sizeof(*c));
	c->port = 3306;
	c->tls = 1;
	c->connect_timeout = 5;
	c->read_timeout = 30;
	c->write_timeout = 30;
	c->poll_ms = 1000;
	c->batch = 50;
	c->backoff_base_s = 5;
	c->backoff_max_s = 600;
	c->give_up_hours = 72;
	c->sms_timeout_s = 10;
	c->mail_timeout_s = 20;
	if ((line = ini_parse(path, on_key, &x)) != 0) {
		fprintf(stderr, "%s: %s%d\n", path, line > 0 ? "cannot parse line " :
		    "cannot read it ", line);
		return -1;
	}
	if (x.errors)
		return -1;
	if (c->user == NULL || c->password_file == NULL || c->database == NULL ||
	    (c->host == NULL && c->db_socket == NULL)) {
		fprintf(stderr, "%s: [county] needs user, password_file, database, and host or "
				"socket\n", path);
		return -1;
	}
	if (c->signature == NULL) {
		fprintf(stderr, "%s: [notifier] signature is needed (the sender's name the SMS "
				"gateway registered, without 【】)\n", path);
		return -1;
	}
	/* every text the notifier writes, checked now: not an event's every notice given up */
	if (!notice_sms_fits(c->signature)) {
		fprintf(stderr, "%s: [notifier] signature %s (%zu characters) is too long: not "
				"every SMS fits in %d characters with it; use a shorter name\n",
		    path, c->signature, utf8_len(c->signature), SMS_MAX_CHARS);
		return -1;
	}
	if (c->sms_url == NULL && c->mail_url == NULL) {
		fprintf(stderr, "%s: neither [sms] url nor [email] url: nothing to send with\n", path);
		return -1;
	}
	if (c->sms_url != NULL && c->sms_token_file == NULL) {
		fprintf(stderr, "%s: [sms] url needs token_file\n", path);
		return -1;
	}
	if (c->mail_url != NULL && (c->mail_from == NULL || !notice_addr_ok(c->mail_from))) {
		fprintf(stderr, "%s: [email] url needs from, a plain address (name@domain)\n", path);
		return -1;
	}
	if (c->sms_url != NULL && !link_ok(path, "sms", c->sms_url,
		strncasecmp(c->sms_url, "https://", 8) == 0, c->sms_allow_insecure))
		return -1;
	if (c->mail_url != NULL && !link_ok(path, "email", c->mail_url,
		strncasecmp(c->mail_url, "smtps://", 8) == 0 || c->mail_starttls,
		c->mail_allow_insecure))
		return -1;
	if (!c->tls && !insecure_is_local(c->host) && !c->allow_insecure) {
		fprintf(stderr, "%s: [county] tls = 0 towards %s: set tls = 1 (and tls_ca), or "
				"allow_insecure = 1\n", path, c->host);
		return -1;
	}
	if (read_secret(path, c->password_file, "[county] password_file", &c->password) == -1 ||
	    read_secret(path, c->sms_token_file, "[sms] token_file", &c->sms_token) == -1 ||
	    read_secret(path, c->mail_password_file, "[email] password_file",
		&c->mail_password) == -1)
		return -1;
	return 0;
}

static void
secret_free(char *s)
{
	if (s != NULL) {
		sodium_memzero(s, strlen(s));
		free(s);
	}
}

void
notifier_conf_free(struct notifier_conf *c)
{
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (keys[i].is_str)
			free(*(char **)((char *)c + keys[i].off));
	secret_free(c->password);
	secret_free(c->sms_token);
	secret_free(c->mail_password);
	memset(c, 0, sizeof(*c));
}
