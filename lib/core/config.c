/*
 * The node's INI file, read with inih. Keys are checked here, once, so the programs only
 * see typed, validated values. Unknown keys are errors: a misspelt key must not be ignored.
 *
 * inih as Debian builds it tells the handler no line number (INI_HANDLER_LINENO is 0), so
 * the file goes to inih through a reader of our own (ini_parse_stream) that hands it one
 * line per call and counts them: the handler then knows the line it is called for. The
 * reader also takes what inih would only count (a line it cannot parse, a line longer than
 * its buffer, which it would split in two) and reports each at its line, so that every
 * mistake of a file is named, not just the first.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ini.h>

#include "core.h"

#define S(section, key, field, part, flags) \
	{section, key, CONFIG_STR, offsetof(struct hall_config, field), 0, 0, part, flags}
#define I(section, key, field, lo, hi) \
	{section, key, CONFIG_INT, offsetof(struct hall_config, field), lo, hi, CONFIG_NODE, 0}
#define IP(section, key, field, lo, hi, part) \
	{section, key, CONFIG_INT, offsetof(struct hall_config, field), lo, hi, part, 0}

const struct config_key config_keys[] = {
	{"hall", "code", CONFIG_CODE, offsetof(struct hall_config, code), 0, 0, CONFIG_NODE,
	    CONFIG_REQUIRED},
	S("hall", "name", name, CONFIG_NODE, CONFIG_REQUIRED),
	S("hall", "address", address, CONFIG_NODE, 0),
	S("hall", "hours", hours, CONFIG_NODE, 0),
	S("hall", "phone", phone, CONFIG_NODE, 0),
	S("hall", "email", email, CONFIG_NODE, 0),
	S("hall", "letter_address", letter_address, CONFIG_NODE, 0),
	S("hall", "county", county, CONFIG_NODE, 0),
	/* the store itself appears at hall-admin init; its folder must be there */
	S("store", "path", store_path, CONFIG_NODE, CONFIG_REQUIRED | CONFIG_PARENT),
	S("store", "schema_dir", schema_dir, CONFIG_NODE, CONFIG_DIR),
	S("store", "seed_dir", seed_dir, CONFIG_NODE, CONFIG_DIR),
	S("store", "calendar_dir", calendar_dir, CONFIG_NODE, CONFIG_DIR),
	/* /run/hall is the units' RuntimeDirectory= */
	S("server", "read_socket", read_socket, CONFIG_NODE, CONFIG_PARENT | CONFIG_RUNTIME),
	S("server", "write_socket", write_socket, CONFIG_NODE, CONFIG_PARENT | CONFIG_RUNTIME),
	/* csrf.key: hall-write's, read by hall-read through the group (0640) */
	S("server", "secret_file", secret_file, CONFIG_NODE, CONFIG_SECRET | CONFIG_BY_INIT),
	S("server", "limits_file", limits_file, CONFIG_NODE, CONFIG_PARENT | CONFIG_RUNTIME),
	S("server", "socket_group", socket_group, CONFIG_NODE, 0),
	I("server", "read_workers", read_workers, 1, 64),
	I("server", "write_workers", write_workers, 1, 64),
	I("server", "write_threads", write_threads, 1, 256),
	I("limits", "submissions_per_min", submissions_per_min, 0, 100000),
	I("limits", "lookups_per_min", lookups_per_min, 0, 1000000),
	I("limits", "wrong_code_max", wrong_code_max, 0, 1000),
	I("limits", "lockout_min", lockout_min, 1, 10080),
	I("deadlines", "consultation_days", consultation_days, 1, 60),
	I("deadlines", "complaint_days", complaint_days, 1, 60),
	I("deadlines", "unresolved_days", unresolved_days, 1, 60),
	S("county", "host", county_host, CONFIG_COUNTY, 0),
	S("county", "socket", county_socket, CONFIG_COUNTY, 0),
	S("county", "user", county_user, CONFIG_COUNTY, 0),
	/* county.pw and province.token: hall-agent's alone (0600) */
	S("county", "password_file", county_password_file, CONFIG_COUNTY,
	    CONFIG_REQUIRED | CONFIG_SECRET | CONFIG_PRIVATE),
	S("county", "database", county_database, CONFIG_COUNTY, CONFIG_REQUIRED),
	S("county", "tls_ca", county_tls_ca, CONFIG_COUNTY, CONFIG_FILE),
	IP("county", "port", county_port, 1, 65535, CONFIG_COUNTY),
	IP("county", "tls", county_tls, 0, 1, CONFIG_COUNTY),
	IP("county", "allow_insecure", county_allow_insecure, 0, 1, CONFIG_COUNTY),
	IP("county", "connect_timeout_s", county_connect_timeout, 1, 600, CONFIG_COUNTY),
	IP("county", "read_timeout_s", county_read_timeout, 1, 3600, CONFIG_COUNTY),
	IP("county", "write_timeout_s", county_write_timeout, 1, 3600, CONFIG_COUNTY),
	{"province", "url", CONFIG_URL, offsetof(struct hall_config, province_url), 0, 0,
	    CONFIG_PROVINCE, 0},
	S("province", "token_file", province_token_file, CONFIG_PROVINCE,
	    CONFIG_REQUIRED | CONFIG_SECRET | CONFIG_PRIVATE),
	S("province", "ca_file", province_ca_file, CONFIG_PROVINCE, CONFIG_FILE),
	IP("province", "allow_insecure", province_allow_insecure, 0, 1, CONFIG_PROVINCE),
	IP("province", "connect_timeout_s", province_connect_timeout, 1, 600, CONFIG_PROVINCE),
	IP("province", "low_speed_bps", province_low_speed_bps, 1, 1 << 30, CONFIG_PROVINCE),
	IP("province", "low_speed_s", province_low_speed_s, 1, 3600, CONFIG_PROVINCE),
	IP("province", "timeout_s", province_timeout_s, 1, 86400, CONFIG_PROVINCE),
	I("agent", "poll_ms", agent_poll_ms, 50, 3600000),
	I("agent", "batch_records", agent_batch_records, 1, 100000),
	I("agent", "batch_bytes", agent_batch_bytes, 1024, 16 << 20),
	I("agent", "backoff_max_s", agent_backoff_max_s, 1, 86400),
	I("agent", "status_max_age_s", agent_status_max_age_s, 1, 30 * 86400),
	/* 0: a closed case leaves at the next daily job (tests, and a hall that must) */
	I("retention", "days", retention_days, 0, 36500),
	/* SPEC 4.5: slots are offered from tomorrow to this many days ahead */
	I("appointments", "days_ahead", appt_days_ahead, 1, 90),
};
const size_t config_nkeys = sizeof(config_keys) / sizeof(config_keys[0]);
_Static_assert(sizeof(config_keys) / sizeof(config_keys[0]) <= CONFIG_KEYS,
    "hall_config.line has a slot for every key");

#undef S
#undef I
#undef IP

/* What config_parse keeps while inih calls back. */
struct config_ctx {
	struct hall_config *c;
	const char *path;
	struct config_report *r;
	FILE *f;
	int line;		/* the line inih was last handed */
	int bad_section;	/* the current section is unknown (reported at its header) */
	char *raw;		/* getline's buffer (owned) */
	size_t rawcap;
	struct {
		char name[16];
		int line;
	} sections[16];		/* where each known section's header is, for a missing key */
	int nsections;
	char invalid[CONFIG_KEYS];	/* the key's last value was reported as bad */
};

int
config_key_index(const char *section, const char *key)
{
	size_t i;

	for (i = 0; i < config_nkeys; i++)
		if (strcmp(section, config_keys[i].section) == 0 &&
		    strcmp(key, config_keys[i].key) == 0)
			return (int)i;
	return -1;
}

int
config_line(const struct hall_config *c, const char *section, const char *key)
{
	int i = config_key_index(section, key);

	return i == -1 ? 0 : c->line[i];
}

static int
section_known(const char *name)
{
	size_t i;

	for (i = 0; i < config_nkeys; i++)
		if (strcmp(name, config_keys[i].section) == 0)
			return 1;
	return 0;
}

const char *
config_level_name(enum config_level level)
{
	switch (level) {
	case CONFIG_NOTE:
		return "note";
	case CONFIG_WARNING:
		return "warning";
	case CONFIG_ERROR:
		break;
	}
	return "error";
}

void
config_report(struct config_report *r, const char *path, int line, enum config_level level,
    const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (level == CONFIG_ERROR)
		r->errors++;
	else if (level == CONFIG_WARNING)
		r->warnings++;
	else
		r->notes++;
	if (r->fn != NULL)
		r->fn(r->arg, path, line, level, msg);
	else if (line > 0)
		fprintf(stderr, "%s:%d: %s: %s\n", path, line, config_level_name(level), msg);
	else
		fprintf(stderr, "%s: %s: %s\n", path, config_level_name(level), msg);
}

/* ---- the reader: one line per call, counted -------------------------------------------- */

/* The header line's section name into the list of known sections (for a missing key). */
static void
section_seen(struct config_ctx *x, const char *name, size_t len)
{
	char n[sizeof(x->sections[0].name)];
	int i;

	x->bad_section = 0;
	if (len == 0 || len >= sizeof(n)) {
		config_report(x->r, x->path, x->line, CONFIG_ERROR, "unknown section [%.*s]",
		    (int)(len > 64 ? 64 : len), name);
		x->bad_section = 1;
		return;
	}
	memcpy(n, name, len);
	n[len] = '\0';
	if (!section_known(n)) {
		config_report(x->r, x->path, x->line, CONFIG_ERROR, "unknown section [%s]", n);
		x->bad_section = 1;
		return;
	}
	for (i = 0; i < x->nsections; i++)
		if (strcmp(x->sections[i].name, n) == 0)
			return;		/* a section again: the first header counts */
	if (x->nsections < (int)(sizeof(x->sections) / sizeof(x->sections[0]))) {
		memcpy(x->sections[x->nsections].name, n, len + 1);
		x->sections[x->nsections++].line = x->line;
	}
}

/*
 * 1 when inih can take the line (leading blanks gone): blank, a comment, a [section] or a
 * key = value (key: value). inih's own rules, so that it is never left to find an error.
 */
static int
line_parses(struct config_ctx *x, const char *s)
{
	const char *end;

	if (*s == '\0' || *s == '\n' || *s == '\r' || *s == ';' || *s == '#')
		return 1;
	if (*s == '[') {
		if ((end = strchr(s, ']')) == NULL)
			return 0;
		/* the name as inih takes it: between the brackets, no blanks trimmed */
		section_seen(x, s + 1, (size_t)(end - s - 1));
		return 1;
	}
	return strcspn(s, "=:") < strcspn(s, "\r\n");
}

/*
 * inih's ini_reader. Leading blanks are dropped: inih would take an indented line for the
 * continuation of the value above it, and "  port = 3307" would become part of a host.
 */
static char *
config_reader(char *str, int num, void *stream)
{
	struct config_ctx *x = stream;
	ssize_t n;
	char *s;

	if ((n = getline(&x->raw, &x->rawcap, x->f)) == -1)
		return NULL;
	s = x->raw;
	if (++x->line == 1 && strncmp(s, "\xEF\xBB\xBF", 3) == 0)
		s += 3;		/* a UTF-8 byte order mark */
	s += strspn(s, " \t");
	if (strlen(s) != (size_t)(n - (s - x->raw))) {
		config_report(x->r, x->path, x->line, CONFIG_ERROR, "a NUL byte in the line");
		s = "\n";
	} else if ((int)strcspn(s, "\r\n") > num - 3) {
		/* inih would cut it and read the rest as a line of its own */
		config_report(x->r, x->path, x->line, CONFIG_ERROR,
		    "line too long: at most %d bytes", num - 3);
		s = "\n";
	} else if (!line_parses(x, s)) {
		config_report(x->r, x->path, x->line, CONFIG_ERROR,
		    "not INI syntax: expected [section], key = value or a ; comment");
		s = "\n";
	}
	snprintf(str, (size_t)num, "%s", s);
	return str;
}

/* ---- the values ------------------------------------------------------------------------ */

static int
value_int(struct config_ctx *x, const struct config_key *k, const char *v, int *out)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || n < k->lo || n > k->hi) {
		config_report(x->r, x->path, x->line, CONFIG_ERROR,
		    "[%s] %s must be a whole number from %d to %d, not \"%.40s\"", k->section,
		    k->key, k->lo, k->hi, v);
		return -1;
	}
	*out = (int)n;
	return 0;
}

/* "key =" with nothing after it unsets the key (a later file can switch a part off). */
static int
value_str(char **slot, const char *v)
{
	free(*slot);
	*slot = NULL;
	if (*v == '\0')
		return 0;
	*slot = strdup(v);
	return *slot != NULL ? 0 : -1;
}

static int
value_url(struct config_ctx *x, const struct config_key *k, const char *v, char **slot)
{
	char host[256];

	if (*v != '\0' && ((strncasecmp(v, "https://", 8) != 0 && strncasecmp(v, "http://", 7) != 0) ||
	    insecure_url_host(v, host, sizeof(host)) == -1)) {
		config_report(x->r, x->path, x->line, CONFIG_ERROR,
		    "[%s] %s must be https://HOST[:PORT][/PATH], not \"%.80s\"", k->section, k->key, v);
		return -1;
	}
	return value_str(slot, v);
}

static int
config_handler(void *user, const char *section, const char *key, const char *v)
{
	struct config_ctx *x = user;
	struct hall_config *c = x->c;
	const struct config_key *k;
	void *slot;
	int i, rc = 0;

	if (x->bad_section)
		return 1;	/* its header was reported, once for all its keys */
	if (*section == '\0') {
		config_report(x->r, x->path, x->line, CONFIG_ERROR,
		    "%s is outside any [section]", key);
		return 1;
	}
	if ((i = config_key_index(section, key)) == -1) {
		config_report(x->r, x->path, x->line, CONFIG_ERROR, "unknown key [%s] %s", section,
		    key);
		return 1;
	}
	k = &config_keys[i];
	slot = (char *)c + k->off;
	switch (k->type) {
	case CONFIG_CODE:
		if (strlen(v) != 12 || strspn(v, "0123456789") != 12) {
			config_report(x->r, x->path, x->line, CONFIG_ERROR,
			    "[%s] %s must be the 12-digit division code, not \"%.40s\"", k->section,
			    k->key, v);
			rc = -1;
		} else
			memcpy(slot, v, 13);
		break;
	case CONFIG_INT:
		rc = value_int(x, k, v, slot);
		break;
	case CONFIG_URL:
		rc = value_url(x, k, v, slot);
		break;
	case CONFIG_STR:
		if ((rc = value_str(slot, v)) == -1)
			return 0;	/* out of memory: inih reports the line */
		break;
	}
	x->invalid[i] = rc == -1;
	if (rc == 0)
		c->line[i] = x->line;
	return 1;
}

static void
config_defaults(struct hall_config *c)
{
	memset(c, 0, sizeof(*c));
	c->read_workers = 2;
	c->write_workers = 1;
	c->write_threads = 16;
	c->submissions_per_min = 10;
	c->lookups_per_min = 30;
	c->wrong_code_max = 5;
	c->lockout_min = 15;
	c->consultation_days = 3;
	c->complaint_days = 5;
	c->unresolved_days = 2;
	c->county_port = 3306;
	c->county_tls = 1;	/* TLS by default: tls = 0 must be asked for */
	c->county_connect_timeout = 10;
	c->county_read_timeout = 30;
	c->county_write_timeout = 30;
	c->province_connect_timeout = 10;
	c->province_low_speed_bps = 64;
	c->province_low_speed_s = 30;
	c->province_timeout_s = 600;
	c->agent_poll_ms = 2000;
	c->agent_batch_records = 1000;
	c->agent_batch_bytes = 2 * 1024 * 1024;
	c->agent_backoff_max_s = 300;
	c->agent_status_max_age_s = 900;	/* 15 min: many poll and backoff periods */
	c->retention_days = 180;	/* SPEC 11 */
	c->appt_days_ahead = 14;	/* SPEC 4.5 */
}

/* The line of [section]'s header, or 0 when the file has none. */
static int
section_line(const struct config_ctx *x, const char *section)
{
	int i;

	for (i = 0; i < x->nsections; i++)
		if (strcmp(x->sections[i].name, section) == 0)
			return x->sections[i].line;
	return 0;
}

/* A required key of the node that is not set (a destination's: config_check). */
static void
config_required(struct config_ctx *x)
{
	size_t i;

	for (i = 0; i < config_nkeys; i++) {
		const struct config_key *k = &config_keys[i];
		const char *slot = (const char *)x->c + k->off;
		int set;

		if (k->part != CONFIG_NODE || !(k->flags & CONFIG_REQUIRED))
			continue;	/* only a required key's slot is read: it is a code or a string */
		set = k->type == CONFIG_CODE ? slot[0] != '\0' : *(char *const *)slot != NULL;
		/* a key given with a bad value was reported as such */
		if (!set && !x->invalid[i])
			config_report(x->r, x->path, section_line(x, k->section), CONFIG_ERROR,
			    "[%s] %s is required", k->section, k->key);
	}
}

int
config_parse(struct hall_config *c, const char *path, struct config_report *r)
{
	struct config_ctx x;
	int rc;

	memset(&x, 0, sizeof(x));
	x.c = c;
	x.path = path;
	x.r = r;
	config_defaults(c);
	if ((x.f = fopen(path, "r")) == NULL) {
		config_report(r, path, 0, CONFIG_ERROR, "cannot be read: %s", strerror(errno));
		return -1;
	}
	rc = ini_parse_stream(config_reader, &x, config_handler, &x);
	if (ferror(x.f)) {
		config_report(r, path, x.line + 1, CONFIG_ERROR, "cannot be read: %s",
		    strerror(errno));
		rc = -1;
	}
	fclose(x.f);
	free(x.raw);
	if (rc == -1) {
		config_free(c);
		return -1;
	}
	if (rc == -2)
		config_report(r, path, 0, CONFIG_ERROR, "out of memory");
	else if (rc > 0)
		/* what the reader let through and inih still refused, or a strdup that failed */
		config_report(r, path, rc, CONFIG_ERROR, "not INI syntax, or out of memory");
	config_required(&x);
	return 0;
}

int
config_load(struct hall_config *c, const char *path)
{
	struct config_report r = {0};

	if (config_parse(c, path, &r) == -1)
		return -1;
	if (r.errors > 0) {
		config_free(c);
		return -1;
	}
	return 0;
}

void
config_free(struct hall_config *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < config_nkeys; i++)
		if (config_keys[i].type == CONFIG_STR || config_keys[i].type == CONFIG_URL)
			free(*(char **)((char *)c + config_keys[i].off));
	memset(c, 0, sizeof(*c));
}

const char *
config_cli(int *argc, char ***argv, void (*usage)(void))
{
	const char *config = NULL;
	int ch;

	/* "+": options end at the command, so that its own arguments (requeue's --all) are
	 * not taken for ours, as GNU getopt would by permuting them */
	while ((ch = getopt(*argc, *argv, "+c:")) != -1) {
		if (ch != 'c')
			usage();
		config = optarg;
	}
	*argc -= optind;
	*argv += optind;
	if (config == NULL || *argc < 1)
		usage();
	return config;
}
