/*
 * hall-admin check: what a node's INI needs beyond values of the right type, for the
 * programs to start and to keep their promises. It walks the one table of keys
 * (config_keys in config.c) and checks each key by its flags; it lists no key of its own,
 * but for the two links it judges with insecure.c, as hall-agent does at start.
 *
 * Secret files are checked as the check's user sees them: run it as root (or as the
 * program's user) to read hall-agent's 0600 secrets.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core.h"

struct check {
	const struct hall_config *c;
	const char *path;
	struct config_report *r;
};

static int
part_configured(const struct hall_config *c, enum config_part part)
{
	switch (part) {
	case CONFIG_COUNTY:
		return c->county_user != NULL;
	case CONFIG_PROVINCE:
		return c->province_url != NULL;
	case CONFIG_NODE:
		break;
	}
	return 1;
}

/* The line to name for a key: where it was set, else its section's first key set. */
static int
key_line(const struct check *k, const struct config_key *key)
{
	size_t i;

	if (k->c->line[key - config_keys] > 0)
		return k->c->line[key - config_keys];
	for (i = 0; i < config_nkeys; i++)
		if (strcmp(config_keys[i].section, key->section) == 0 && k->c->line[i] > 0)
			return k->c->line[i];
	return 0;
}

/*
 * A secret file: there, a regular file, no access for others (nor, for a private one, for
 * the group: county.pw and province.token are hall-agent's alone), readable, not empty.
 */
static void
check_secret(const struct check *k, const struct config_key *key, const char *file, int line)
{
	unsigned forbidden = key->flags & CONFIG_PRIVATE ? 077 : 027;
	char first[8];
	struct stat st;
	ssize_t n;
	int fd;

	if (stat(file, &st) == -1) {
		if (errno == ENOENT && (key->flags & CONFIG_BY_INIT))
			config_report(k->r, k->path, line, CONFIG_NOTE,
			    "[%s] %s %s does not exist yet: hall-admin init makes it", key->section,
			    key->key, file);
		else
			config_report(k->r, k->path, line, CONFIG_ERROR, "[%s] %s %s: %s",
			    key->section, key->key, file, strerror(errno));
		return;
	}
	if (!S_ISREG(st.st_mode)) {
		config_report(k->r, k->path, line, CONFIG_ERROR, "[%s] %s %s is not a file",
		    key->section, key->key, file);
		return;
	}
	if (st.st_mode & forbidden)
		config_report(k->r, k->path, line, CONFIG_ERROR,
		    "[%s] %s %s is open to %s (mode %04o): chmod %s %s", key->section, key->key,
		    file, !(st.st_mode & forbidden & 070) ? "others" :
		    st.st_mode & 007 ? "its group and others" : "its group",
		    (unsigned)(st.st_mode & 07777), key->flags & CONFIG_PRIVATE ? "600" : "640", file);
	if ((fd = open(file, O_RDONLY | O_CLOEXEC)) == -1) {
		config_report(k->r, k->path, line, CONFIG_ERROR,
		    "[%s] %s %s cannot be read by this user (%s): run the check as root or as "
		    "the program's user", key->section, key->key, file, strerror(errno));
		return;
	}
	n = read(fd, first, sizeof(first));
	close(fd);
	if (n == -1)
		config_report(k->r, k->path, line, CONFIG_ERROR, "[%s] %s %s: %s", key->section,
		    key->key, file, strerror(errno));
	else if (n == 0 || first[0] == '\n' || first[0] == '\r')
		config_report(k->r, k->path, line, CONFIG_ERROR,
		    "[%s] %s %s is empty: the secret goes on its first line", key->section,
		    key->key, file);
}

static void
check_path(const struct check *k, const struct config_key *key, const char *file, int line)
{
	struct stat st;
	char *copy, *dir;

	if (key->flags & (CONFIG_DIR | CONFIG_FILE)) {
		int folder = (key->flags & CONFIG_DIR) != 0;
		const char *why = NULL;

		if (stat(file, &st) == -1 || (!folder && access(file, R_OK) == -1))
			why = strerror(errno);
		else if (folder && !S_ISDIR(st.st_mode))
			why = "not a folder";
		else if (!folder && !S_ISREG(st.st_mode))
			why = "not a file";
		if (why != NULL)
			config_report(k->r, k->path, line, CONFIG_ERROR, "[%s] %s %s: %s",
			    key->section, key->key, file, why);
		return;
	}
	if ((copy = strdup(file)) == NULL)
		return;
	dir = dirname(copy);
	if (stat(dir, &st) == -1 || !S_ISDIR(st.st_mode))
		config_report(k->r, k->path, line, key->flags & CONFIG_RUNTIME ? CONFIG_NOTE :
		    CONFIG_ERROR, "[%s] %s: the folder %s does not exist%s", key->section,
		    key->key, dir, key->flags & CONFIG_RUNTIME ? " (yet: the units' "
		    "RuntimeDirectory= makes it when they start)" : "");
	free(copy);
}

static void
check_key(const struct check *k, const struct config_key *key)
{
	const char *value;
	int line;

	if (key->type != CONFIG_STR || !part_configured(k->c, key->part))
		return;
	value = *(char *const *)((const char *)k->c + key->off);
	line = key_line(k, key);
	if (value == NULL) {
		/* the key that makes the destination's keys needed */
		line = key->part == CONFIG_COUNTY ? config_line(k->c, "county", "user") :
		    config_line(k->c, "province", "url");
		if ((key->flags & CONFIG_REQUIRED) && key->part != CONFIG_NODE)
			config_report(k->r, k->path, line, CONFIG_ERROR,
			    "[%s] %s is required when %s", key->section, key->key,
			    key->part == CONFIG_COUNTY ? "[county] user is set" :
			    "[province] url is set");
		return;	/* the node's required keys: config_parse */
	}
	if (key->flags & CONFIG_SECRET)
		check_secret(k, key, value, line);
	else if (key->flags & (CONFIG_DIR | CONFIG_FILE | CONFIG_PARENT))
		check_path(k, key, value, line);
}

/* A link off the machine in clear text: an error, or a warning where the section allows it. */
static void
check_links(const struct check *k)
{
	const struct hall_config *c = k->c;
	int line;

	if (insecure_county(c)) {
		line = config_line(c, "county", "tls");
		if (c->county_allow_insecure)
			config_report(k->r, k->path, line, CONFIG_WARNING,
			    "[county] tls = 0: this hall's records and password go to %s "
			    "unencrypted (allow_insecure = 1 accepts it)", c->county_host);
		else
			config_report(k->r, k->path, line, CONFIG_ERROR,
			    "[county] tls = 0 would send this hall's records and password to %s "
			    "unencrypted: set tls = 1 (and tls_ca), or allow_insecure = 1 to accept "
			    "it; hall-agent refuses to start so", c->county_host);
	}
	if (insecure_province(c)) {
		line = config_line(c, "province", "url");
		if (c->province_allow_insecure)
			config_report(k->r, k->path, line, CONFIG_WARNING,
			    "[province] url %s is not https: the records and the token cross the "
			    "network unencrypted (allow_insecure = 1 accepts it)", c->province_url);
		else
			config_report(k->r, k->path, line, CONFIG_ERROR,
			    "[province] url %s is not https: the records and the token would cross "
			    "the network unencrypted; use https://, or allow_insecure = 1 to accept "
			    "it; hall-agent refuses to start so", c->province_url);
	}
}

int
config_check(const char *path, struct config_report *r)
{
	struct hall_config c;
	struct check k = {&c, path, r};
	size_t i;

	if (config_parse(&c, path, r) == -1)
		return CONFIG_CHECK_UNREADABLE;
	for (i = 0; i < config_nkeys; i++)
		check_key(&k, &config_keys[i]);
	check_links(&k);
	if (!part_configured(&c, CONFIG_COUNTY))
		config_report(r, path, 0, CONFIG_NOTE,
		    "[county] user is not set: hall-agent sends nothing to the county");
	if (!part_configured(&c, CONFIG_PROVINCE))
		config_report(r, path, 0, CONFIG_NOTE,
		    "[province] url is not set: hall-agent sends nothing to the province");
	config_free(&c);
	return r->errors > 0 ? CONFIG_CHECK_ERRORS : CONFIG_CHECK_OK;
}
