/*
 * hall-admin: sets up and maintains a hall node's store.
 *
 *   hall-admin -c CONFIG check                validate the INI file: every mistake with its
 *                                             line; exit 0 valid, 1 errors, 2 unreadable
 *   hall-admin -c CONFIG init                 create or upgrade the store, seed guides and
 *                                             calendars on first use, create the CSRF secret
 *   hall-admin -c CONFIG migrate              apply pending schema migrations only
 *   hall-admin -c CONFIG calendar FILE...     import calendar tables (conf/calendar format)
 *                                             and recompute provisional deadlines
 *   hall-admin -c CONFIG requeue DEST --all | ID...
 *                                             put records the destination (county or
 *                                             province) set aside back in its queue
 *   hall-admin -c CONFIG clock [--trust-now | --continue]
 *                                             the clock guard (lib/store/clock.c): show
 *                                             it, vouch for this clock, or let numbers go
 *                                             on past a clock put back
 *   hall-admin -c CONFIG purge [DAYS]         what hall-agent does daily (SPEC 11): minimize
 *                                             closed cases every destination holds, delete
 *                                             those closed for [retention] days (or DAYS)
 *   hall-admin -c CONFIG backup DEST          a consistent copy of the live store (backup.c)
 *   hall-admin -c CONFIG restore BACKUP       the backup in the store's place, programs
 *                                             stopped
 *   hall-admin -c CONFIG staff ...            the window's hall staff accounts (staff.c)
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "admin.h"
#include "store.h"

static const char help[] =
    "usage: hall-admin -c CONFIG check\n"
    "       hall-admin -c CONFIG init | migrate | calendar FILE...\n"
    "       hall-admin -c CONFIG requeue county|province --all | ID...\n"
    "       hall-admin -c CONFIG clock [--trust-now | --continue]\n"
    "       hall-admin -c CONFIG purge [DAYS]\n"
    "       hall-admin -c CONFIG backup DEST | restore BACKUP\n"
    "       hall-admin -c CONFIG staff add|passwd NAME [--password-file FILE]\n"
    "       hall-admin -c CONFIG staff disable|enable NAME | staff list\n"
    "\n"
    "Sets up and maintains a hall node's store (SQLite, [store] path of the hall INI).\n"
    "\n"
    "  check            validate the INI file without starting anything: unknown sections\n"
    "                   and keys, bad values, missing required keys, secret files missing,\n"
    "                   empty or open to others, missing folders, unencrypted links; each\n"
    "                   as FILE:LINE: error|warning|note: ... on stderr, a summary on\n"
    "                   stdout. Exit 0 valid (warnings allowed), 1 errors, 2 the file\n"
    "                   cannot be read. Run it as root to read hall-agent's secrets.\n"
    "  init             create or upgrade the store, seed guides and calendars on first use,\n"
    "                   make the CSRF secret; safe to run again\n"
    "  migrate          apply pending schema migrations only\n"
    "  calendar FILE... import working-day calendars (conf/calendar format)\n"
    "  requeue DEST     put records the county or the province set aside back in the queue\n"
    "                   (--all, or the ids hall-agent status lists)\n"
    "  clock            the clock guard: where it stands; --trust-now vouches for this\n"
    "                   machine's clock, --continue lets numbers go on past a clock put back\n"
    "  purge [DAYS]     the daily personal-data job at once: minimize closed cases every\n"
    "                   destination holds, delete those closed for [retention] days (or DAYS)\n"
    "  backup DEST      a consistent copy of the live store, written to DEST (0600)\n"
    "  restore BACKUP   put a backup in the store's place (hall-read, hall-write and\n"
    "                   hall-agent stopped); the old store is kept as STORE.before-restore\n"
    "  staff add NAME   a hall staff account for the window (/window): the password from\n"
    "                   --password-file FILE's first line, or standard input (asked twice\n"
    "                   on a terminal); 8 to 128 bytes\n"
    "  staff passwd NAME  a new password (lifts a lockout, ends the account's sessions)\n"
    "  staff disable NAME, staff enable NAME  no more sign-ins (sessions end), or again\n"
    "  staff list       every window account: made, last sign-in, active/locked/disabled\n"
    "  -c CONFIG        the hall INI\n"
    "  --help, --version\n";

static void
usage(void)
{
	cli_usage(help, 2);
}

static int
read_file(const char *path, struct buf *b)
{
	char chunk[8192];
	size_t n;
	FILE *f;

	if ((f = fopen(path, "r")) == NULL) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	buf_init(b, 1 << 20);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_add(b, chunk, n);
	fclose(f);
	if (b->failed) {
		fprintf(stderr, "%s: too large\n", path);
		return -1;
	}
	if (b->data == NULL)
		buf_add(b, "", 0);
	return 0;
}

static int
calendar_import_files(struct store *s, const struct hall_config *cfg, char **files, int n)
{
	struct calendar *cal = calendar_new();
	char err[256];
	struct buf b;
	int i, changed;

	if (cal == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		if (read_file(files[i], &b) == -1)
			goto fail;
		if (calendar_parse(cal, b.data, b.len, err, sizeof(err)) == -1) {
			fprintf(stderr, "%s: %s\n", files[i], err);
			buf_free(&b);
			goto fail;
		}
		buf_free(&b);
	}
	if ((changed = store_calendar_import(s, cal, cfg)) == -1)
		goto fail;
	printf("calendar: %d file(s) imported, %d open deadline(s) recomputed\n", n, changed);
	calendar_free(cal);
	return 0;
fail:
	calendar_free(cal);
	return -1;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every *.txt in the configured calendar folder, in name order. */
static int
calendar_import_dir(struct store *s, const struct hall_config *cfg)
{
	char *files[64], path[4096];
	struct dirent *de;
	DIR *d;
	int n = 0, i, rc;

	if ((d = opendir(cfg->calendar_dir)) == NULL) {
		fprintf(stderr, "%s: %s\n", cfg->calendar_dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL && n < 64) {
		size_t len = strlen(de->d_name);

		if (len > 4 && strcmp(de->d_name + len - 4, ".txt") == 0) {
			snprintf(path, sizeof(path), "%s/%s", cfg->calendar_dir, de->d_name);
			if ((files[n] = strdup(path)) != NULL)
				n++;
		}
	}
	closedir(d);
	qsort(files, (size_t)n, sizeof(files[0]), name_cmp);
	rc = calendar_import_files(s, cfg, files, n);
	for (i = 0; i < n; i++)
		free(files[i]);
	return rc;
}

static int
cmd_init(struct store *s, const struct hall_config *cfg)
{
	char path[4096];

	if (cfg->schema_dir == NULL) {
		fprintf(stderr, "[store] schema_dir is not set\n");
		return -1;
	}
	if (store_migrate(s, cfg->schema_dir) == -1 || store_bind_hall(s, cfg->code) == -1)
		return -1;
	if (cfg->secret_file != NULL && csrf_load_secret(cfg->secret_file, 1) == -1)
		return -1;
	if (cfg->seed_dir != NULL && store_count(s, "guides") == 0) {
		snprintf(path, sizeof(path), "%s/guides.sql", cfg->seed_dir);
		if (store_exec_file(s, path) == -1)
			return -1;
		printf("guides: %ld seeded\n", store_count(s, "guides"));
	}
	if (cfg->calendar_dir != NULL && store_count(s, "calendar_years") == 0 &&
	    calendar_import_dir(s, cfg) == -1)
		return -1;
	printf("store %s ready for hall %s: %ld case(s), %ld outbox record(s)\n", cfg->store_path,
	    cfg->code, store_count(s, "cases"), store_count(s, "outbox"));
	return 0;
}

/*
 * Puts set-aside records back: after the destination was fixed (a county column too narrow,
 * a province rule), they are sent again, in order, before the records after the mark.
 */
static int
cmd_requeue(struct store *s, int argc, char *argv[])
{
	const char *dest = argv[1];
	int all = argc == 3 && strcmp(argv[2], "--all") == 0;
	long n;
	int i;

	if (strcmp(dest, "county") != 0 && strcmp(dest, "province") != 0)
		usage();
	for (i = 2; !all && i < argc; i++)
		if (argv[i][0] == '-')
			usage();
	n = outbox_requeue(s, dest, all ? NULL : (const char *const *)argv + 2,
	    all ? 0 : (size_t)(argc - 2));
	if (n == -1) {
		fprintf(stderr, "hall-admin: nothing was put back\n");
		return -1;
	}
	printf("%ld record(s) put back in the queue for %s: hall-agent sends them next\n", n,
	    dest);
	return 0;
}

static void
print_time(const char *label, time_t t)
{
	char text[TIMEFMT_LEN];

	if (t == 0)
		printf("%-16s none\n", label);
	else {
		timefmt_rfc3339(text, t);
		printf("%-16s %s\n", label, text);
	}
}

/*
 * The clock guard. Without an option it shows where the clock stands; --trust-now records
 * that an operator checked this machine's clock (after a restart with the county out of
 * reach for more than a day), --continue lets numbers go on from the last one issued while
 * the clock, put right after a jump ahead, is behind it. Neither can reissue a number.
 */
static int
cmd_clock(struct store *s, const char *opt)
{
	struct clock_state st;

	if (opt != NULL && strcmp(opt, "--trust-now") == 0) {
		if (store_clock_trust(s) == -1)
			return -1;
		printf("this machine's clock is now the hall's reference time\n");
	} else if (opt != NULL && strcmp(opt, "--continue") == 0) {
		if (store_clock_continue(s) == -1)
			return -1;
		printf("numbers go on from the last one issued until the clock passes it\n");
	} else if (opt != NULL)
		usage();
	if (store_clock_state(s, &st) == -1)
		return -1;
	print_time("clock", st.now);
	print_time("vouched", st.vouched);
	if (st.vouched != 0)
		printf("%-16s %s\n", "", st.same_boot ? "(the county's clock at the last contact, "
		    "plus the time since)" : "(the county's clock at the last contact)");
	print_time("last number", st.last_issued);
	if (st.continue_until > st.now)
		print_time("continue until", st.continue_until);
	if (st.vouched != 0 && st.now > st.vouched + 24 * 3600)
		printf("refusing numbers: the clock is more than a day past the vouched time\n");
	else if (st.last_issued > st.now + 60 && st.continue_until < st.last_issued)
		printf("refusing numbers: the clock is behind the last number issued\n");
	else
		printf("issuing numbers\n");
	return 0;
}

/*
 * The daily retention job, at once, for an operator (or a test): says what it removed.
 * DAYS overrides [retention] days for this run only.
 */
static int
cmd_purge(struct store *s, struct hall_config *cfg, int argc, char *argv[])
{
	struct retention_report rep = {0};
	char *end;
	long days;

	if (argc == 2) {
		days = strtol(argv[1], &end, 10);
		if (*argv[1] == '\0' || *end != '\0' || days < 0 || days > 36500)
			usage();
		cfg->retention_days = (int)days;
	} else if (argc != 1)
		usage();
	if (cfg->county_user == NULL && cfg->province_url == NULL) {
		printf("neither [county] nor [province] is configured: no case can be known to be "
		       "held elsewhere, nothing is removed\n");
		return 0;
	}
	if (store_purge(s, cfg, time(NULL), &rep) == -1) {
		fprintf(stderr, "hall-admin: the purge failed (nothing of a failed step is "
				"removed)\n");
		return -1;
	}
	printf("%ld closed case(s) minimized: name, full phone and e-mail removed\n",
	    rep.minimized);
	printf("%ld outbox record(s) reduced to id and hash\n", rep.stripped);
	printf("%ld closed case(s) unchanged for %d day(s) deleted, with their events, ratings "
	       "and outbox records\n", rep.purged, cfg->retention_days);
	printf("%ld ended appointment(s) minimized: name, full phone and e-mail removed\n",
	    rep.appts_minimized);
	printf("%ld appointment(s) more than %d day(s) past deleted, with their events and "
	       "outbox records\n", rep.appts_purged, cfg->retention_days);
	if (store_checkpoint(s) == -1) {
		fprintf(stderr, "hall-admin: the WAL still holds old pages (a reader is busy); hall-agent "
				"truncates it at its next tick\n");
		return -1;
	}
	printf("WAL truncated: removed data is gone from hall.db and hall.db-wal\n");
	return 0;
}

int
main(int argc, char *argv[])
{
	struct hall_config cfg;
	const char *config = NULL;
	struct store *s;
	int rc = 1;

	cli_standard(argc, argv, "hall-admin", help);
	log_init("hall-admin");
	umask_group();	/* the store it creates: group hall's under the units */
	config = config_cli(&argc, &argv, usage);
	if (strcmp(argv[0], "check") == 0) {
		if (argc != 1)
			usage();
		return check_main(config);	/* before anything trusts the file */
	}
	if (sodium_init() < 0 || config_load(&cfg, config) == -1)
		return 1;
	/* these two work on the store's file: no connection of ours may hold it */
	if (strcmp(argv[0], "backup") == 0 || strcmp(argv[0], "restore") == 0) {
		rc = argv[0][0] == 'b' ? cmd_backup(&cfg, argc, argv) : cmd_restore(&cfg, argc, argv);
		if (rc == -2)
			usage();
		config_free(&cfg);
		return rc == 0 ? 0 : 1;
	}
	if ((s = store_open(cfg.store_path, 0)) == NULL) {
		config_free(&cfg);
		return 1;
	}
	if (strcmp(argv[0], "init") == 0 && argc == 1)
		rc = cmd_init(s, &cfg) == 0 ? 0 : 1;
	else if (strcmp(argv[0], "migrate") == 0 && argc == 1)
		rc = store_migrate(s, cfg.schema_dir) == 0 ? 0 : 1;
	else if (strcmp(argv[0], "requeue") == 0 && argc >= 3)
		rc = store_bind_hall(s, cfg.code) == 0 && cmd_requeue(s, argc, argv) == 0 ? 0 : 1;
	else if (strcmp(argv[0], "clock") == 0 && argc <= 2)
		rc = store_bind_hall(s, cfg.code) == 0 &&
			cmd_clock(s, argc == 2 ? argv[1] : NULL) == 0 ? 0 : 1;
	else if (strcmp(argv[0], "purge") == 0)
		rc = store_bind_hall(s, cfg.code) == 0 && cmd_purge(s, &cfg, argc, argv) == 0 ? 0 : 1;
	else if (strcmp(argv[0], "staff") == 0) {
		if (store_bind_hall(s, cfg.code) == -1)
			rc = 1;
		else if ((rc = cmd_staff(s, argc, argv)) == -2) {
			store_close(s);
			usage();
		} else
			rc = rc == 0 ? 0 : 1;
	} else if (strcmp(argv[0], "calendar") == 0 && argc > 1)
		rc = store_bind_hall(s, cfg.code) == 0 &&
			calendar_import_files(s, &cfg, argv + 1, argc - 1) == 0 ? 0 : 1;
	else
		usage();
	store_close(s);
	config_free(&cfg);
	return rc;
}
