/*
 * lib/core/config.c and config_check.c: the node's INI read with the line of every
 * mistake, going on past each one, and hall-admin check's verdicts and exit codes
 * (0 valid, 1 errors, 2 unreadable) for every class of mistake it promises to find.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "core.h"

/* ---- a folder of files, and the findings of one run ------------------------------------ */

static char dir[64];
static char ini[128];

#define FINDINGS_MAX 64
static struct finding {
	int line;
	enum config_level level;
	char msg[1024];
} found[FINDINGS_MAX];
static int nfound;

static void
collect(void *arg, const char *path, int line, enum config_level level, const char *msg)
{
	(void)arg;
	assert_string_equal(path, ini);
	assert_true(nfound < FINDINGS_MAX);
	found[nfound].line = line;
	found[nfound].level = level;
	snprintf(found[nfound].msg, sizeof(found[nfound].msg), "%s", msg);
	nfound++;
}

static void
put(const char *name, const char *text, mode_t mode)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_non_null(f = fopen(path, "w"));
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

/* The text with every @ replaced by the test's folder. */
static void
put_ini(const char *text)
{
	char out[16384];
	size_t n = 0;

	for (; *text != '\0' && n + sizeof(dir) < sizeof(out); text++)
		if (*text == '@')
			n += (size_t)snprintf(out + n, sizeof(out) - n, "%s", dir);
		else
			out[n++] = *text;
	out[n] = '\0';
	put("t.ini", out, 0600);
}

static struct config_report report;

static int
check(const char *text)
{
	memset(&report, 0, sizeof(report));
	report.fn = collect;
	nfound = 0;
	put_ini(text);
	return config_check(ini, &report);
}

/* The finding at line (0: none) of level whose message holds part; fails when none. */
static const struct finding *
has(int line, enum config_level level, const char *part)
{
	int i;

	for (i = 0; i < nfound; i++)
		if (found[i].line == line && found[i].level == level &&
		    strstr(found[i].msg, part) != NULL)
			return &found[i];
	for (i = 0; i < nfound; i++)
		print_message("  found %d %s %s\n", found[i].line, config_level_name(found[i].level),
		    found[i].msg);
	fail_msg("no %s at line %d with \"%s\"", config_level_name(level), line, part);
	return NULL;
}

static int
count(enum config_level level)
{
	int i, n = 0;

	for (i = 0; i < nfound; i++)
		n += found[i].level == level;
	return n;
}

static int
setup(void **state)
{
	char path[128];

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_config.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(ini, sizeof(ini), "%s/t.ini", dir);
	snprintf(path, sizeof(path), "%s/sql", dir);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/run", dir);
	mkdir(path, 0700);
	put("county.pw", "s3cret\n", 0600);
	put("province.token", "tok\n", 0600);
	put("csrf.key", "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n", 0640);
	put("ca.pem", "-----BEGIN CERTIFICATE-----\n", 0644);
	return 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* A complete, valid node: both destinations, every path there. Line numbers matter. */
static const char good[] =
    "; a hall\n"					/* 1 */
    "[hall]\n"						/* 2 */
    "code = 430121001000\n"				/* 3 */
    "name = 星沙街道政务服务中心\n"			/* 4 */
    "[store]\n"						/* 5 */
    "path = @/hall.db\n"				/* 6 */
    "schema_dir = @/sql\n"				/* 7 */
    "[server]\n"					/* 8 */
    "read_socket = @/run/r.sock\n"			/* 9 */
    "secret_file = @/csrf.key\n"			/* 10 */
    "[county]\n"					/* 11 */
    "host = 10.43.1.20\n"				/* 12 */
    "port = 3306\n"					/* 13 */
    "user = hall_430121001000\n"			/* 14 */
    "password_file = @/county.pw\n"			/* 15 */
    "database = county\n"				/* 16 */
    "tls_ca = @/ca.pem\n"				/* 17 */
    "[province]\n"					/* 18 */
    "url = https://platform.example.gov.cn/hall\n"	/* 19 */
    "token_file = @/province.token\n"			/* 20 */
    "[agent]\n"						/* 21 */
    "status_max_age_s = 60\n";				/* 22 */

/* ---- the tests ------------------------------------------------------------------------- */

static void
test_good_file_passes(void **state)
{
	struct hall_config c;

	(void)state;
	assert_int_equal(check(good), CONFIG_CHECK_OK);
	assert_int_equal(report.errors, 0);
	assert_int_equal(report.warnings, 0);
	assert_int_equal(report.notes, 0);
	assert_int_equal(config_load(&c, ini), 0);
	assert_string_equal(c.code, "430121001000");
	assert_int_equal(c.agent_status_max_age_s, 60);
	assert_int_equal(config_line(&c, "hall", "code"), 3);
	assert_int_equal(config_line(&c, "county", "port"), 13);
	assert_int_equal(config_line(&c, "agent", "status_max_age_s"), 22);
	assert_int_equal(config_line(&c, "agent", "poll_ms"), 0);	/* its default */
	assert_int_equal(c.agent_poll_ms, 2000);
	config_free(&c);
}

static void
test_default_max_age(void **state)
{
	struct hall_config c;

	(void)state;
	put_ini("[hall]\ncode = 430121001000\nname = x\n[store]\npath = @/hall.db\n");
	assert_int_equal(config_load(&c, ini), 0);
	assert_int_equal(c.agent_status_max_age_s, 900);
	config_free(&c);
}

/* Bad values, each named at its line, and all of them reported, not only the first. */
static void
test_bad_values_with_lines(void **state)
{
	struct hall_config c;

	(void)state;
	assert_int_equal(check("[hall]\n"				/* 1 */
			       "code = 43012100100\n"			/* 2 */
			       "name = x\n"				/* 3 */
			       "[store]\n"				/* 4 */
			       "path = @/hall.db\n"			/* 5 */
			       "[county]\n"				/* 6 */
			       "port = 65536\n"				/* 7 */
			       "tls = yes\n"				/* 8 */
			       "connect_timeout_s = 10s\n"		/* 9 */
			       "[server]\n"				/* 10 */
			       "read_workers = 0\n"			/* 11 */
			       "[province]\n"				/* 12 */
			       "url = ftp://platform.example\n"		/* 13 */
			       "[agent]\n"				/* 14 */
			       "status_max_age_s = \n"),		/* 15 */
	    CONFIG_CHECK_ERRORS);
	has(2, CONFIG_ERROR, "[hall] code must be the 12-digit division code");
	has(7, CONFIG_ERROR, "[county] port must be a whole number from 1 to 65535");
	has(8, CONFIG_ERROR, "[county] tls must be a whole number from 0 to 1");
	has(9, CONFIG_ERROR, "[county] connect_timeout_s must be a whole number");
	has(11, CONFIG_ERROR, "[server] read_workers must be a whole number from 1 to 64");
	has(13, CONFIG_ERROR, "[province] url must be https://");
	has(15, CONFIG_ERROR, "[agent] status_max_age_s must be a whole number");
	/* a code given but wrong is not also "required" */
	assert_int_equal(report.errors, 7);
	/* config_load refuses the same file */
	assert_int_equal(config_load(&c, ini), -1);
}

static void
test_unknown_sections_keys_and_syntax(void **state)
{
	(void)state;
	assert_int_equal(check("stray = 1\n"				/* 1 */
			       "[hall]\n"				/* 2 */
			       "code = 430121001000\n"			/* 3 */
			       "name = x\n"				/* 4 */
			       "colour = blue\n"			/* 5 */
			       "[store]\n"				/* 6 */
			       "path = @/hall.db\n"			/* 7 */
			       "this line is not INI\n"			/* 8 */
			       "[countie]\n"				/* 9 */
			       "host = 10.0.0.1\n"			/* 10 */
			       "port = 1\n"				/* 11 */
			       "[hall\n"				/* 12 */
			       "   ; an indented comment\n"		/* 13 */
			       "\tphone = 0731-1\n"),			/* 14 */
	    CONFIG_CHECK_ERRORS);
	has(1, CONFIG_ERROR, "stray is outside any [section]");
	has(5, CONFIG_ERROR, "unknown key [hall] colour");
	has(8, CONFIG_ERROR, "not INI syntax");
	has(9, CONFIG_ERROR, "unknown section [countie]");
	has(12, CONFIG_ERROR, "not INI syntax");
	/* one report for the unknown section, none for each of its keys */
	assert_int_equal(report.errors, 5);
}

/* An indented line is a key of its own, not the continuation of the value above it. */
static void
test_indented_key(void **state)
{
	struct hall_config c;

	(void)state;
	put_ini("[hall]\ncode = 430121001000\nname = x\n[store]\n  path = @/hall.db\n"
		"[county]\nhost = 10.0.0.1\n    port = 3307\n");
	assert_int_equal(config_load(&c, ini), 0);
	assert_string_equal(c.county_host, "10.0.0.1");
	assert_int_equal(c.county_port, 3307);
	assert_int_equal(config_line(&c, "county", "port"), 8);
	config_free(&c);
}

/* A line longer than inih's buffer would be cut in two; it is refused at its line. */
static void
test_long_line(void **state)
{
	char text[1024];
	char name[400];

	(void)state;
	memset(name, 'x', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	snprintf(text, sizeof(text), "[hall]\ncode = 430121001000\naddress = %s\nname = x\n"
		 "[store]\npath = @/hall.db\n", name);
	assert_int_equal(check(text), CONFIG_CHECK_ERRORS);
	has(3, CONFIG_ERROR, "line too long");
	assert_int_equal(report.errors, 1);
}

static void
test_missing_required(void **state)
{
	(void)state;
	/* the node's own: at the section's header, or with no line when there is none */
	assert_int_equal(check("[hall]\nphone = 1\n[county]\nuser =\n"), CONFIG_CHECK_ERRORS);
	has(1, CONFIG_ERROR, "[hall] code is required");
	has(1, CONFIG_ERROR, "[hall] name is required");
	has(0, CONFIG_ERROR, "[store] path is required");
	/* "name =" with nothing is not set */
	assert_int_equal(check("[hall]\ncode = 430121001000\nname =\n[store]\npath = @/h.db\n"),
	    CONFIG_CHECK_ERRORS);
	has(1, CONFIG_ERROR, "[hall] name is required");
	/* a destination's, only once it is configured: at the key that configures it */
	assert_int_equal(check("[hall]\ncode = 430121001000\nname = x\n[store]\npath = @/h.db\n"
			       "[county]\nuser = hall_x\n[province]\nurl = https://p.example\n"),
	    CONFIG_CHECK_ERRORS);
	has(7, CONFIG_ERROR, "[county] database is required when [county] user is set");
	has(7, CONFIG_ERROR, "[county] password_file is required");
	has(9, CONFIG_ERROR, "[province] token_file is required when [province] url is set");
	assert_int_equal(report.errors, 3);
	/* neither configured: notes only */
	assert_int_equal(check("[hall]\ncode = 430121001000\nname = x\n[store]\npath = @/h.db\n"
			       "[province]\ntoken_file = @/nothing\n"), CONFIG_CHECK_OK);
	has(0, CONFIG_NOTE, "[county] user is not set");
	has(0, CONFIG_NOTE, "[province] url is not set");
}

static void
test_secrets(void **state)
{
	char path[256];

	(void)state;
	/* missing */
	snprintf(path, sizeof(path), "%s/county.pw", dir);
	unlink(path);
	assert_int_equal(check(good), CONFIG_CHECK_ERRORS);
	has(15, CONFIG_ERROR, "[county] password_file");
	has(15, CONFIG_ERROR, "No such file");
	/* empty */
	put("county.pw", "", 0600);
	assert_int_equal(check(good), CONFIG_CHECK_ERRORS);
	has(15, CONFIG_ERROR, "is empty");
	put("county.pw", "\nsecret on the second line\n", 0600);
	assert_int_equal(check(good), CONFIG_CHECK_ERRORS);
	has(15, CONFIG_ERROR, "is empty");
	/* open to the group: hall-agent's secrets are its alone */
	put("county.pw", "s3cret\n", 0640);
	assert_int_equal(check(good), CONFIG_CHECK_ERRORS);
	has(15, CONFIG_ERROR, "open to its group (mode 0640): chmod 600");
	put("province.token", "tok\n", 0604);
	put("county.pw", "s3cret\n", 0600);
	assert_int_equal(check(good), CONFIG_CHECK_ERRORS);
	has(20, CONFIG_ERROR, "[province] token_file");
	has(20, CONFIG_ERROR, "open to others");
	assert_int_equal(report.errors, 1);
	put("province.token", "tok\n", 0600);
	/* csrf.key: the group may read it (hall-read), others not */
	put("csrf.key", "00\n", 0644);
	assert_int_equal(check(good), CONFIG_CHECK_ERRORS);
	has(10, CONFIG_ERROR, "[server] secret_file");
	has(10, CONFIG_ERROR, "open to others (mode 0644): chmod 640");
	/* before hall-admin init makes it: a note, and the file is valid */
	snprintf(path, sizeof(path), "%s/csrf.key", dir);
	unlink(path);
	assert_int_equal(check(good), CONFIG_CHECK_OK);
	has(10, CONFIG_NOTE, "does not exist yet: hall-admin init makes it");
	put("csrf.key", "00\n", 0640);
	/* a folder where the file should be */
	snprintf(path, sizeof(path), "%s/county.pw", dir);
	unlink(path);
	mkdir(path, 0700);
	assert_int_equal(check(good), CONFIG_CHECK_ERRORS);
	has(15, CONFIG_ERROR, "is not a file");
	rmdir(path);
	put("county.pw", "s3cret\n", 0600);
	/* unreadable: only as a user other than root can tell */
	if (geteuid() != 0) {
		put("county.pw", "s3cret\n", 0200);
		assert_int_equal(check(good), CONFIG_CHECK_ERRORS);
		has(15, CONFIG_ERROR, "cannot be read by this user");
		put("county.pw", "s3cret\n", 0600);
	}
	assert_int_equal(check(good), CONFIG_CHECK_OK);
}

static void
test_paths(void **state)
{
	static const char text[] =
	    "[hall]\ncode = 430121001000\nname = x\n"			/* 1-3 */
	    "[store]\n"							/* 4 */
	    "path = @/no/hall.db\n"					/* 5 */
	    "schema_dir = @/nosql\n"					/* 6 */
	    "calendar_dir = @/ca.pem\n"					/* 7 */
	    "[server]\n"						/* 8 */
	    "write_socket = @/norun/w.sock\n"				/* 9 */
	    "[county]\n"						/* 10 */
	    "user = u\ndatabase = d\npassword_file = @/county.pw\n"	/* 11-13 */
	    "tls_ca = @/missing.pem\n";					/* 14 */

	(void)state;
	assert_int_equal(check(text), CONFIG_CHECK_ERRORS);
	has(5, CONFIG_ERROR, "[store] path: the folder");
	has(6, CONFIG_ERROR, "[store] schema_dir");
	has(7, CONFIG_ERROR, "not a folder");
	/* /run/hall appears when the units start */
	has(9, CONFIG_NOTE, "RuntimeDirectory=");
	has(14, CONFIG_ERROR, "[county] tls_ca");
	assert_int_equal(report.errors, 4);
}

static void
test_insecure_links(void **state)
{
	static const char base[] = "[hall]\ncode = 430121001000\nname = x\n[store]\n"
				   "path = @/h.db\n[county]\nuser = u\ndatabase = d\n"
				   "password_file = @/county.pw\n";	/* 1-9 */
	char text[1024];

	(void)state;
	snprintf(text, sizeof(text), "%shost = 10.0.0.1\ntls = 0\n", base);	/* 10-11 */
	assert_int_equal(check(text), CONFIG_CHECK_ERRORS);
	has(11, CONFIG_ERROR, "[county] tls = 0 would send");
	snprintf(text, sizeof(text), "%shost = 10.0.0.1\ntls = 0\nallow_insecure = 1\n", base);
	assert_int_equal(check(text), CONFIG_CHECK_OK);
	has(11, CONFIG_WARNING, "unencrypted");
	assert_int_equal(count(CONFIG_WARNING), 1);
	/* loopback in clear text is not a link off the machine */
	snprintf(text, sizeof(text), "%shost = 127.0.0.1\ntls = 0\n", base);
	assert_int_equal(check(text), CONFIG_CHECK_OK);
	assert_int_equal(count(CONFIG_WARNING), 0);
	snprintf(text, sizeof(text), "%s[province]\nurl = http://10.0.0.2:8082\n"	/* 10-11 */
		 "token_file = @/province.token\n", base);
	assert_int_equal(check(text), CONFIG_CHECK_ERRORS);
	has(11, CONFIG_ERROR, "[province] url http://10.0.0.2:8082 is not https");
	snprintf(text, sizeof(text), "%s[province]\nurl = http://10.0.0.2:8082\n"
		 "token_file = @/province.token\nallow_insecure = 1\n", base);
	assert_int_equal(check(text), CONFIG_CHECK_OK);
	has(11, CONFIG_WARNING, "is not https");
}

static void
test_unreadable_file(void **state)
{
	struct hall_config c;

	(void)state;
	memset(&report, 0, sizeof(report));
	report.fn = collect;
	nfound = 0;
	snprintf(ini, sizeof(ini), "%s/absent.ini", dir);
	assert_int_equal(config_check(ini, &report), CONFIG_CHECK_UNREADABLE);
	has(0, CONFIG_ERROR, "cannot be read");
	assert_int_equal(config_load(&c, ini), -1);
	/* a folder opens, then fails to read */
	nfound = 0;
	snprintf(ini, sizeof(ini), "%s/sql", dir);
	assert_int_equal(config_check(ini, &report), CONFIG_CHECK_UNREADABLE);
	snprintf(ini, sizeof(ini), "%s/t.ini", dir);
}

/* The table is the one list: every key's slot lies inside hall_config, and no key twice. */
static void
test_key_table(void **state)
{
	size_t i, j;

	(void)state;
	assert_true(config_nkeys <= CONFIG_KEYS);
	for (i = 0; i < config_nkeys; i++) {
		assert_true(config_keys[i].off < offsetof(struct hall_config, line));
		assert_int_equal(config_key_index(config_keys[i].section, config_keys[i].key),
		    (int)i);
		if (config_keys[i].type == CONFIG_INT)
			assert_true(config_keys[i].lo <= config_keys[i].hi);
		for (j = i + 1; j < config_nkeys; j++)
			assert_true(config_keys[i].off != config_keys[j].off);
	}
	assert_int_equal(config_key_index("agent", "status_max_age_s") >= 0, 1);
	assert_int_equal(config_key_index("hall", "nope"), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_table),
		cmocka_unit_test(test_good_file_passes),
		cmocka_unit_test(test_default_max_age),
		cmocka_unit_test(test_bad_values_with_lines),
		cmocka_unit_test(test_unknown_sections_keys_and_syntax),
		cmocka_unit_test(test_indented_key),
		cmocka_unit_test(test_long_line),
		cmocka_unit_test(test_missing_required),
		cmocka_unit_test(test_secrets),
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_insecure_links),
		cmocka_unit_test(test_unreadable_file),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
