/*
 * hall-admin backup DEST and restore BACKUP: the operator's side of lib/store/backup.c and
 * restore.c. Both work on the store's file, not through a store connection: backup reads
 * it while the programs run, restore replaces it while they are stopped.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "admin.h"

struct bar {
	int tty;
	int shown;	/* percent last drawn; -1: nothing yet */
};

/* A progress line on a terminal, for a store large enough to take a while. */
static void
bar_show(int done, int total, void *arg)
{
	struct bar *b = arg;
	int pct = total > 0 ? (int)((long long)done * 100 / total) : 100;

	if (!b->tty || pct == b->shown || (b->shown == -1 && total < 4096))
		return;
	b->shown = pct;
	fprintf(stderr, "\rbackup: %3d%% of %d pages", pct, total);
	if (done == total)
		fputc('\n', stderr);
}

int
cmd_backup(const struct hall_config *cfg, int argc, char *argv[])
{
	struct bar b = {isatty(STDERR_FILENO), -1};

	if (argc != 2)
		return -2;
	if (store_backup(cfg->store_path, argv[1], bar_show, &b) == -1) {
		if (b.shown != -1)
			fputc('\n', stderr);
		fprintf(stderr, "hall-admin: no backup was made\n");
		return -1;
	}
	printf("backup of %s written to %s (checked, mode 0600)\n", cfg->store_path, argv[1]);
	return 0;
}

int
cmd_restore(const struct hall_config *cfg, int argc, char *argv[])
{
	struct restore_report rep;

	if (argc != 2)
		return -2;
	if (cfg->schema_dir == NULL) {
		fprintf(stderr, "hall-admin: [store] schema_dir is not set\n");
		return -1;
	}
	if (store_restore(argv[1], cfg, &rep) == -1) {
		fprintf(stderr, "hall-admin: nothing was restored; the store is as it was\n");
		return -1;
	}
	printf("%s restored from %s: %ld case(s)\n", cfg->store_path, argv[1], rep.cases);
	if (rep.replaced)
		printf("the replaced store is kept as %s.before-restore\n", cfg->store_path);
	if (rep.held)
		printf("numbers are held until hall-agent has reached the county (the replaced "
		       "store's last number could not be read)\n");
	printf("start hall-agent: it asks the county for the hall's open cases made since the "
	       "backup and the events since, and raises the numbering past the county's\n");
	return 0;
}
