/*
 * county-admin: sets up and maintains the county database.
 *
 *   county-admin -c COUNTY_INI migrate                  create the database, apply
 *                                                       sql/county/NNN_*.sql not yet applied,
 *                                                       write the days of calendars that have
 *                                                       none (published before 008)
 *   county-admin -c COUNTY_INI add-hall CODE NAME PWFILE  a hall and its least-privilege
 *                                                       account hall_CODE (role hall_agent,
 *                                                       REQUIRE SSL)
 *   county-admin -c COUNTY_INI add-reader USER PWFILE    an account for county systems
 *                                                       (role county_reader)
 *   county-admin -c COUNTY_INI add-console USER PWFILE   the staff console's account
 *                                                       (role staff_console)
 *   county-admin -c COUNTY_INI add-provincial USER PWFILE  the province's account for the
 *                                                       working-day calendars (role
 *                                                       province_calendar), which the
 *                                                       console publishes with for the
 *                                                       province's staff
 *   county-admin -c COUNTY_INI import-calendars YYYY.txt...  the shipped calendars, for
 *                                                       years not yet published
 *   county-admin -c COUNTY_INI purge [DAYS]              delete the closed cases past
 *                                                       [retention] days (or DAYS); daily from
 *                                                       conf/systemd/county-purge.timer
 *   county-admin -c COUNTY_INI rebuild-stats             the dashboard's summaries made again
 *                                                       from the rows (sql/county/028)
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <ini.h>

#include "county.h"

struct county_ini {
	char *host, *socket, *database, *admin_user, *admin_password_file, *schema_dir;
	int port;
	int retention_days;	/* [retention] days: closed cases kept (SPEC 11) */
};

/* 30 years: the archive rules for case files (SPEC 11). */
#define COUNTY_RETENTION_DAYS 10950

static int
county_ini_key(void *user, const char *section, const char *key, const char *value)
{
	struct county_ini *c = user;
	char **slot = NULL;

	if (strcmp(section, "retention") == 0 && strcmp(key, "days") == 0) {
		char *end;
		long days = strtol(value, &end, 10);

		if (*value == '\0' || *end != '\0' || days < 0 || days > 36500) {
			fprintf(stderr, "[retention] days: a number of days, 0 to 36500\n");
			return 0;
		}
		c->retention_days = (int)days;
		return 1;
	}
	if (strcmp(section, "county") != 0)
		goto unknown;
	if (strcmp(key, "port") == 0) {
		c->port = atoi(value);
		return 1;
	}
	if (strcmp(key, "host") == 0)
		slot = &c->host;
	else if (strcmp(key, "socket") == 0)
		slot = &c->socket;
	else if (strcmp(key, "database") == 0)
		slot = &c->database;
	else if (strcmp(key, "admin_user") == 0)
		slot = &c->admin_user;
	else if (strcmp(key, "admin_password_file") == 0)
		slot = &c->admin_password_file;
	else if (strcmp(key, "schema_dir") == 0)
		slot = &c->schema_dir;
	else
		goto unknown;
	free(*slot);
	*slot = *value ? strdup(value) : NULL;
	return 1;
unknown:
	fprintf(stderr, "unknown key [%s] %s\n", section, key);
	return 0;
}

/* Identifiers and passwords that go into DDL, which takes no bound parameters. */
static int
plain_word(const char *s, size_t min, size_t max)
{
	size_t n = strlen(s);

	return n >= min && n <= max &&
	    strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.~-") == n;
}

static int
run(MYSQL *db, const char *sql)
{
	if (mysql_query(db, sql) != 0) {
		fprintf(stderr, "county-admin: %s\n", mysql_error(db));
		return -1;
	}
	/* drain every result of a multi-statement text */
	do {
		MYSQL_RES *res = mysql_store_result(db);

		mysql_free_result(res);
	} while (mysql_next_result(db) == 0);
	if (mysql_errno(db) != 0) {
		fprintf(stderr, "county-admin: %s\n", mysql_error(db));
		return -1;
	}
	return 0;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *
slurp(const char *path)
{
	struct buf b;
	char chunk[8192];
	size_t n;
	FILE *f;

	if ((f = fopen(path, "r")) == NULL) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return NULL;
	}
	buf_init(&b, 4 << 20);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_add(&b, chunk, n);
	fclose(f);
	return buf_take(&b, NULL);
}

/* 1 when the migration numbered version is recorded, 0 when not, -1 on error. */
static int
applied(MYSQL *db, int version)
{
	MYSQL_STMT *st = mysql_stmt_init(db);
	MYSQL_BIND p, r;
	long long count = 0;
	int rc = -1;

	memset(&p, 0, sizeof(p));
	memset(&r, 0, sizeof(r));
	p.buffer_type = MYSQL_TYPE_LONG;
	p.buffer = &version;
	r.buffer_type = MYSQL_TYPE_LONGLONG;
	r.buffer = &count;
	if (st != NULL &&
	    mysql_stmt_prepare(st, "SELECT count(*) FROM schema_migrations WHERE version = ?",
		(unsigned long)-1) == 0 &&
	    mysql_stmt_bind_param(st, &p) == 0 && mysql_stmt_execute(st) == 0 &&
	    mysql_stmt_bind_result(st, &r) == 0 && mysql_stmt_fetch(st) == 0)
		rc = count > 0;
	else
		fprintf(stderr, "county-admin: %s\n", st ? mysql_stmt_error(st) : "no memory");
	mysql_stmt_close(st);
	return rc;
}

static int
record_migration(MYSQL *db, int version, const char *name)
{
	MYSQL_STMT *st = mysql_stmt_init(db);
	MYSQL_BIND p[2];
	int rc = -1;

	memset(p, 0, sizeof(p));
	p[0].buffer_type = MYSQL_TYPE_LONG;
	p[0].buffer = &version;
	p[1].buffer_type = MYSQL_TYPE_STRING;
	p[1].buffer = (void *)name;
	p[1].buffer_length = strlen(name);
	if (st != NULL &&
	    mysql_stmt_prepare(st, "INSERT INTO schema_migrations (version, name) VALUES (?, ?)",
		(unsigned long)-1) == 0 &&
	    mysql_stmt_bind_param(st, p) == 0 && mysql_stmt_execute(st) == 0 &&
	    mysql_commit(db) == 0)
		rc = 0;
	else
		fprintf(stderr, "county-admin: %s\n", st ? mysql_stmt_error(st) : "no memory");
	mysql_stmt_close(st);
	return rc;
}

/*
 * calendar_days for every year of calendars that has none: the years a county published
 * before migration 008, so that it counts right as soon as it is upgraded. A text the
 * parser refuses is said and left without days (Monday to Friday), as the halls refuse it
 * too; it does not stop the migration.
 */
static int
fill_calendar_days(MYSQL *db)
{
	MYSQL_RES *res;
	MYSQL_ROW row;
	char err[256];
	int rc = 0, year, done;

	if (mysql_query(db, "SELECT year, body FROM calendars c WHERE NOT EXISTS ("
			    "SELECT 1 FROM calendar_days WHERE day >= MAKEDATE(c.year, 1) "
			    "AND day < MAKEDATE(c.year + 1, 1)) ORDER BY year") != 0 ||
	    (res = mysql_store_result(db)) == NULL) {
		fprintf(stderr, "county-admin: %s\n", mysql_error(db));
		return -1;
	}
	while (rc == 0 && (row = mysql_fetch_row(res)) != NULL) {
		year = atoi(row[0]);
		done = county_calendar_days(db, year, row[1], err, sizeof(err));
		if (done == COUNTY_CAL_REFUSED)
			fprintf(stderr, "county-admin: the calendar of %d is refused, its days "
					"are Monday to Friday until it is published again: %s\n", year,
			    err);
		else if (done == COUNTY_CAL_FAILED || mysql_commit(db) != 0) {
			fprintf(stderr, "county-admin: calendar %d: %s\n", year,
			    done == COUNTY_CAL_FAILED ? err : mysql_error(db));
			mysql_rollback(db);
			rc = -1;
		} else
			printf("county: calendar %d: days written\n", year);
	}
	mysql_free_result(res);
	return rc;
}

static int
cmd_migrate(MYSQL *db, const struct county_ini *c)
{
	char *names[256], path[4096], sql[512];
	struct dirent *de;
	size_t n = 0, i;
	DIR *d;
	int rc = -1;

	snprintf(sql, sizeof(sql),
	    "CREATE DATABASE IF NOT EXISTS `%s` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci; "
	    "USE `%s`; CREATE TABLE IF NOT EXISTS schema_migrations (version INT PRIMARY KEY, "
	    "name VARCHAR(255) NOT NULL, applied_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP) "
	    "ENGINE = InnoDB",
	    c->database, c->database);
	if (run(db, sql) == -1)
		return -1;
	if ((d = opendir(c->schema_dir)) == NULL) {
		fprintf(stderr, "%s: %s\n", c->schema_dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL && n < 256) {
		size_t len = strlen(de->d_name);

		if (len > 8 && strspn(de->d_name, "0123456789") == 3 && de->d_name[3] == '_' &&
		    strcmp(de->d_name + len - 4, ".sql") == 0 &&
		    (names[n] = strdup(de->d_name)) != NULL)
			n++;
	}
	closedir(d);
	qsort(names, n, sizeof(names[0]), name_cmp);
	for (i = 0; i < n; i++) {
		int version = atoi(names[i]), done;
		char *text;

		if ((done = applied(db, version)) == -1)
			goto out;
		if (done)
			continue;
		snprintf(path, sizeof(path), "%s/%s", c->schema_dir, names[i]);
		if ((text = slurp(path)) == NULL)
			goto out;
		if (run(db, text) == -1 || record_migration(db, version, names[i]) == -1) {
			fprintf(stderr, "county-admin: %s not applied\n", names[i]);
			free(text);
			goto out;
		}
		free(text);
		printf("county: applied %s\n", names[i]);
	}
	rc = fill_calendar_days(db);
out:
	for (i = 0; i < n; i++)
		free(names[i]);
	return rc;
}

static int
create_account(MYSQL *db, const char *user, const char *password, const char *role)
{
	char sql[1024];

	/* DDL takes no parameters: user, password and role were checked by plain_word */
	snprintf(sql, sizeof(sql),
	    "CREATE USER IF NOT EXISTS '%s'@'%%' IDENTIFIED BY '%s'; "
	    "ALTER USER '%s'@'%%' IDENTIFIED BY '%s'; "
	    "GRANT %s TO '%s'@'%%'; SET DEFAULT ROLE %s FOR '%s'@'%%'",
	    user, password, user, password, role, user, role, user);
	return run(db, sql);
}

static int
cmd_add_hall(MYSQL *db, const char *code, const char *name, const char *password)
{
	MYSQL_STMT *st;
	MYSQL_BIND p[4];
	char user[32], county[7], sql[128];
	int rc = -1;

	if (strlen(code) != 12 || strspn(code, "0123456789") != 12) {
		fprintf(stderr, "county-admin: a hall code is 12 digits\n");
		return -1;
	}
	snprintf(user, sizeof(user), "hall_%s", code);
	memcpy(county, code, 6);
	county[6] = '\0';
	if ((st = mysql_stmt_init(db)) == NULL)
		return -1;
	memset(p, 0, sizeof(p));
	p[0].buffer_type = p[1].buffer_type = p[2].buffer_type = p[3].buffer_type =
	    MYSQL_TYPE_STRING;
	p[0].buffer = (void *)code;
	p[0].buffer_length = strlen(code);
	p[1].buffer = (void *)name;
	p[1].buffer_length = strlen(name);
	p[2].buffer = county;
	p[2].buffer_length = strlen(county);
	p[3].buffer = user;
	p[3].buffer_length = strlen(user);
	if (mysql_stmt_prepare(st,
		"INSERT INTO halls (hall_code, name, county_code, db_user) VALUES (?, ?, ?, ?) "
		"ON DUPLICATE KEY UPDATE name = VALUES(name)",
		(unsigned long)-1) != 0 ||
	    mysql_stmt_bind_param(st, p) != 0 || mysql_stmt_execute(st) != 0 ||
	    mysql_commit(db) != 0) {
		fprintf(stderr, "county-admin: %s\n", mysql_stmt_error(st));
		goto out;
	}
	/*
	 * A hall's account crosses the network (SPEC 6): the server refuses it any connection
	 * without TLS, whatever the hall's INI says. A hall on the county's own machine uses
	 * TLS to 127.0.0.1 too.
	 */
	snprintf(sql, sizeof(sql), "ALTER USER '%s'@'%%' REQUIRE SSL", user);
	if (create_account(db, user, password, "hall_agent") == -1 || run(db, sql) == -1)
		goto out;
	printf("county: hall %s (%s) with account %s\n", code, name, user);
	rc = 0;
out:
	mysql_stmt_close(st);
	return rc;
}

/*
 * The province's account: it writes the working-day calendars and nothing else (sql/county/
 * 011). A county's own accounts only read them, so a county admin in the staff console
 * cannot change the days every hall counts deadlines on; the county's admin account keeps
 * import-calendars for the shipped official tables.
 */
static int
cmd_add_provincial(MYSQL *db, const char *user, const char *password_file)
{
	char *pw = NULL;
	int rc = -1;

	if (!plain_word(user, 1, 32) || (pw = secret_read(password_file)) == NULL ||
	    !plain_word(pw, 8, 64))
		fprintf(stderr, "county-admin: a user of A-Z a-z 0-9 _.~- and a password of 8 to 64 "
				"such characters\n");
	else if (create_account(db, user, pw, "province_calendar") == 0) {
		printf("county: provincial calendar account %s\n", user);
		rc = 0;
	}
	free(pw);
	return rc;
}

/*
 * The shipped calendars (conf/calendar/YYYY.txt) for years the county has not published:
 * a county that never edited a year still counts its working days (差评 follow-ups) by the
 * official table, and its halls get it by the downlink. A year the county has published is
 * left as it is. Each file is published as the console publishes (county_calendar_publish:
 * the text and its days, in one transaction).
 */
static int
cmd_import_calendars(MYSQL *db, int n, char *files[])
{
	int i, rc = 0;

	for (i = 0; i < n; i++) {
		const char *base = strrchr(files[i], '/') ? strrchr(files[i], '/') + 1 : files[i];
		char err[256] = "", *text;
		int year = atoi(base), done;

		if (strlen(base) != 8 || strcmp(base + 4, ".txt") != 0 || year < 2000) {
			fprintf(stderr, "county-admin: %s: not a calendar YYYY.txt\n", files[i]);
			rc = -1;
			continue;
		}
		if ((text = slurp(files[i])) == NULL) {
			rc = -1;
			continue;
		}
		done = county_calendar_publish(db, year, text, COUNTY_CAL_KEEP, err, sizeof(err));
		free(text);
		if (done == COUNTY_CAL_REFUSED || done == COUNTY_CAL_FAILED ||
		    mysql_commit(db) != 0) {
			fprintf(stderr, "county-admin: %s: %s%s\n", files[i],
			    done == COUNTY_CAL_REFUSED ? "not a calendar of its year alone: " : "",
			    done < 0 ? err : mysql_error(db));
			mysql_rollback(db);
			rc = -1;
			continue;
		}
		printf("county: calendar %d %s\n", year,
		    done == COUNTY_CAL_STORED ? "imported" : "already published, kept");
	}
	return rc;
}

/* Cases per transaction: the console and the agents wait for no more than one batch. */
#define PURGE_BATCH 1000

/*
 * One CALL county_purge (sql/county/027) and its commit; the cases deleted, or -1. The
 * appointments deleted in *appts (their last count, for the caller's loop).
 */
static long long
purge_batch(MYSQL *db, int days, long long *events, long long *appts)
{
	MYSQL_STMT *st = mysql_stmt_init(db);
	MYSQL_BIND p[2], r[3];
	long long counts[3] = {0, 0, 0};
	int limit = PURGE_BATCH, rc = -1;

	memset(p, 0, sizeof(p));
	memset(r, 0, sizeof(r));
	p[0].buffer_type = p[1].buffer_type = MYSQL_TYPE_LONG;
	p[0].buffer = &days;
	p[1].buffer = &limit;
	r[0].buffer_type = r[1].buffer_type = r[2].buffer_type = MYSQL_TYPE_LONGLONG;
	r[0].buffer = &counts[0];
	r[1].buffer = &counts[1];
	r[2].buffer = &counts[2];
	if (st == NULL || mysql_stmt_prepare(st, "CALL county_purge(?, ?)", (unsigned long)-1) != 0 ||
	    mysql_stmt_bind_param(st, p) != 0 || mysql_stmt_execute(st) != 0 ||
	    mysql_stmt_bind_result(st, r) != 0 || mysql_stmt_fetch(st) != 0)
		goto out;
	/* the procedure's row, then its status: both read before the connection is free */
	mysql_stmt_free_result(st);
	while (mysql_stmt_next_result(st) == 0)
		mysql_stmt_free_result(st);
	if (mysql_commit(db) != 0)
		goto out;
	*events += counts[1];
	*appts = counts[2];
	rc = 0;
out:
	if (rc == -1) {
		fprintf(stderr, "county-admin: purge: %s\n",
		    st != NULL ? mysql_stmt_error(st) : "no memory");
		mysql_rollback(db);
	}
	mysql_stmt_close(st);
	return rc == 0 ? counts[0] : -1;
}

/* Summary changes per transaction (hall_stats_fold, sql/county/024; appt_day_fold, 025). */
#define FOLD_BATCH 10000

/*
 * One CALL and its commit. With limit, that is its one parameter; with out, the first column
 * of its one row is read into it. 0, or -1 rolled back and said as "county-admin: WHAT: ...".
 */
static int
call_commit(MYSQL *db, const char *call, int *limit, long long *out, const char *what)
{
	MYSQL_STMT *st = mysql_stmt_init(db);
	MYSQL_BIND p, r;
	int rc = -1;

	memset(&p, 0, sizeof(p));
	memset(&r, 0, sizeof(r));
	p.buffer_type = MYSQL_TYPE_LONG;
	p.buffer = limit;
	r.buffer_type = MYSQL_TYPE_LONGLONG;
	r.buffer = out;
	if (st == NULL || mysql_stmt_prepare(st, call, (unsigned long)-1) != 0 ||
	    (limit != NULL && mysql_stmt_bind_param(st, &p) != 0) || mysql_stmt_execute(st) != 0 ||
	    (out != NULL && (mysql_stmt_bind_result(st, &r) != 0 || mysql_stmt_fetch(st) != 0)))
		goto out;
	mysql_stmt_free_result(st);
	while (mysql_stmt_next_result(st) == 0)
		mysql_stmt_free_result(st);
	if (mysql_commit(db) != 0)
		goto out;
	rc = 0;
out:
	if (rc == -1) {
		fprintf(stderr, "county-admin: %s: %s\n", what, st == NULL ? "no memory" :
		    *mysql_stmt_error(st) != '\0' ? mysql_stmt_error(st) : mysql_error(db));
		mysql_rollback(db);
	}
	mysql_stmt_close(st);
	return rc;
}

/* One CALL of a fold (`call`: "CALL x_fold(?)") and its commit: the changes folded, or -1. */
static long long
fold_batch(MYSQL *db, const char *call, const char *what)
{
	char label[80];
	int limit = FOLD_BATCH;
	long long folded = 0;

	snprintf(label, sizeof(label), "purge: folding the %s", what);
	return call_commit(db, call, &limit, &folded, label) == 0 ? folded : -1;
}

/* All the changes of one fold, batch by batch: how many, or -1. */
static long long
fold_all(MYSQL *db, const char *call, const char *what)
{
	long long n, total = 0;

	do {
		if ((n = fold_batch(db, call, what)) == -1)
			return -1;
		total += n;
	} while (n == FOLD_BATCH);
	return total;
}

/*
 * The dashboard's summaries: the month summaries (sql/county/024) and the appointments per
 * day (025). The changes the triggers inserted since the last run are added into the
 * totals, so that the dashboard sums few rows. Nothing is lost when it does not run: the
 * dashboard reads the changes too.
 */
static int
fold_summaries(MYSQL *db)
{
	long long months, days;

	if ((months = fold_all(db, "CALL hall_stats_fold(?)", "month summaries")) == -1 ||
	    (days = fold_all(db, "CALL appt_day_fold(?)", "appointments per day")) == -1)
		return -1;
	printf("county: %lld summary change(s) folded into the month totals\n", months);
	printf("county: %lld appointment change(s) folded into the day totals\n", days);
	return 0;
}

/*
 * The county's retention job (SPEC 11): the closed cases whose last event is older than
 * days, with their events, ratings, transfers, conflicts and refusals, and the appointments
 * whose day and last change are older, with their decisions and notices, in batches that
 * each commit. Says what it removed; never a case or an appointment whose hall has not
 * taken its last event or decision.
 */
static int
cmd_purge(MYSQL *db, int days)
{
	long long n, a, cases = 0, events = 0, appts = 0;

	do {
		if ((n = purge_batch(db, days, &events, &a)) == -1) {
			fprintf(stderr, "county-admin: purge stopped after %lld case(s) and %lld "
					"appointment(s)\n", cases, appts);
			return -1;
		}
		cases += n;
		appts += a;
	} while (n == PURGE_BATCH || a == PURGE_BATCH);
	printf("county: %lld closed case(s) past %d day(s) deleted, with %lld event(s) and "
	       "their ratings, transfers, conflicts and refusals\n", cases, days, events);
	printf("county: %lld appointment(s) past %d day(s) deleted, with their decisions and "
	       "notices\n", appts, days);
	return fold_summaries(db);
}

/*
 * The dashboard's summaries made again from the rows they count (dashboard_rebuild,
 * sql/county/028): after a bulk load with the triggers set aside, or when the summaries are
 * in doubt. One transaction; the summaries stay as they were when it fails.
 */
static int
cmd_rebuild_stats(MYSQL *db)
{
	if (call_commit(db, "CALL dashboard_rebuild()", NULL, NULL, "rebuild-stats") == -1)
		return -1;
	printf("county: the dashboard's summaries made again from the cases, ratings, "
	       "follow-ups and appointments\n");
	return 0;
}

static const char help[] =
    "usage: county-admin -c COUNTY_INI COMMAND\n"
    "\n"
    "The county database's schema, accounts and calendars (MariaDB, [county] of the INI).\n"
    "\n"
    "  migrate                          apply the sql/county migrations not yet applied\n"
    "  add-hall CODE NAME PASSWORD_FILE a hall and its account hall_CODE (REQUIRE SSL)\n"
    "  add-reader USER PASSWORD_FILE    a county system's account (role county_reader)\n"
    "  add-console USER PASSWORD_FILE   the staff console's account (role staff_console)\n"
    "  add-provincial USER PASSWORD_FILE the province's calendar account (province_calendar)\n"
    "  add-notifier USER PASSWORD_FILE  county-notifier's account (county_notifier)\n"
    "  import-calendars YYYY.txt...     the shipped calendars, for years not yet published\n"
    "  purge [DAYS]                     delete closed cases past [retention] days (or DAYS)\n"
    "  rebuild-stats                    make the dashboard's summaries again from the rows\n"
    "  --help, --version\n"
    "Passwords are read from files (mode 0600), never from the command line.\n";

static void
usage(void)
{
	cli_usage(help, 2);
}

int
main(int argc, char *argv[])
{
	struct county_ini c = {0};
	struct county_conn_opts o = {0};
	const char *config = NULL;
	char err[512], *admin_pw = NULL, *pw = NULL;
	MYSQL *db;
	int rc = 1;

	cli_standard(argc, argv, "county-admin", help);
	log_init("county-admin");
	umask(077);	/* stores, secrets and their folders: the owner's alone */
	config = config_cli(&argc, &argv, usage);
	c.port = 3306;
	c.retention_days = COUNTY_RETENTION_DAYS;
	if (ini_parse(config, county_ini_key, &c) != 0) {
		fprintf(stderr, "%s: cannot read it\n", config);
		return 1;
	}
	if (c.database == NULL || !plain_word(c.database, 1, 64) || c.schema_dir == NULL) {
		fprintf(stderr, "%s: [county] database (letters, digits, _) and schema_dir are "
				"required\n", config);
		return 1;
	}
	if (c.admin_password_file != NULL && (admin_pw = secret_read(c.admin_password_file)) == NULL)
		return 1;
	o.host = c.host;
	o.socket = c.socket;
	o.port = (unsigned)c.port;
	o.user = c.admin_user;
	o.password = admin_pw;
	o.connect_timeout = 10;
	o.read_timeout = o.write_timeout = 120;
	o.multi_statements = 1;
	if (strcmp(argv[0], "migrate") != 0)
		o.database = c.database;
	if ((db = county_connect(&o, err, sizeof(err))) == NULL) {
		fprintf(stderr, "county-admin: cannot connect: %s\n", err);
		return 1;
	}
	if (strcmp(argv[0], "migrate") == 0 && argc == 1)
		rc = cmd_migrate(db, &c) == 0 ? 0 : 1;
	else if (strcmp(argv[0], "add-hall") == 0 && argc == 4) {
		if ((pw = secret_read(argv[3])) == NULL || !plain_word(pw, 8, 64))
			fprintf(stderr, "county-admin: the password must be 8 to 64 of A-Z a-z 0-9 _.~-\n");
		else
			rc = cmd_add_hall(db, argv[1], argv[2], pw) == 0 ? 0 : 1;
	} else if (strcmp(argv[0], "purge") == 0 && argc <= 2) {
		char *end = NULL;
		long days = argc == 2 ? strtol(argv[1], &end, 10) : c.retention_days;

		if (argc == 2 && (*argv[1] == '\0' || *end != '\0' || days < 0 || days > 36500))
			usage();
		rc = cmd_purge(db, (int)days) == 0 ? 0 : 1;
	} else if (strcmp(argv[0], "rebuild-stats") == 0 && argc == 1)
		rc = cmd_rebuild_stats(db) == 0 ? 0 : 1;
	else if (strcmp(argv[0], "import-calendars") == 0 && argc >= 2)
		rc = cmd_import_calendars(db, argc - 1, argv + 1) == 0 ? 0 : 1;
	else if (strcmp(argv[0], "add-provincial") == 0 && argc == 3)
		rc = cmd_add_provincial(db, argv[1], argv[2]) == 0 ? 0 : 1;
	else if ((strcmp(argv[0], "add-reader") == 0 || strcmp(argv[0], "add-console") == 0 ||
		     strcmp(argv[0], "add-notifier") == 0) && argc == 3) {
		static const struct {
			const char *cmd, *role, *what;
		} kinds[] = {
			{"add-reader", "county_reader", "reader"},
			{"add-console", "staff_console", "staff console"},
			{"add-notifier", "county_notifier", "notifier"},
		};
		size_t k = 0;

		while (strcmp(argv[0], kinds[k].cmd) != 0)
			k++;

		if (!plain_word(argv[1], 1, 32) || (pw = secret_read(argv[2])) == NULL ||
		    !plain_word(pw, 8, 64))
			fprintf(stderr, "county-admin: a user of A-Z a-z 0-9 _.~- and a password of 8 to 64 "
					"such characters\n");
		else if (create_account(db, argv[1], pw, kinds[k].role) == 0) {
			printf("county: %s account %s\n", kinds[k].what, argv[1]);
			rc = 0;
		}
	} else
		usage();
	mysql_close(db);
	free(admin_pw);
	free(pw);
	free(c.host);
	free(c.socket);
	free(c.database);
	free(c.admin_user);
	free(c.admin_password_file);
	free(c.schema_dir);
	return rc;
}
