/*
 * calendar-due: the working-day calendar's answers as lib/core/calendar.c decides them, for
 * the tests' expected deadlines (tests/e2e/harness.py), so that no test keeps a copy of the
 * rules of its own.
 *
 *   calendar-due [-n MAX] DIR YYYY|YYYY-MM-DD...
 *
 * loads every .txt file of DIR in name order, merged as `hall-admin init` loads a hall's
 * calendar folder, and prints one line per day asked (every day of a YYYY):
 *
 *   YYYY-MM-DD W DUE/P DUE/P ...
 *
 * W is 1 when the day is a working day; then, for n = 1..MAX (default 30), the civil day of
 * calendar_due(noon of that day, n) and P = 1 when that deadline is provisional.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core.h"

#define MAX_FILES 64
#define MAX_TEXT (256 * 1024)

static void
usage(void)
{
	fprintf(stderr, "usage: calendar-due [-n MAX] DIR YYYY|YYYY-MM-DD...\n");
	exit(2);
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
load_file(struct calendar *cal, const char *path)
{
	static char text[MAX_TEXT + 1];
	char err[256];
	size_t len;
	FILE *f;

	if ((f = fopen(path, "rb")) == NULL) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	len = fread(text, 1, sizeof(text), f);
	fclose(f);
	if (len > MAX_TEXT) {
		fprintf(stderr, "%s: too large\n", path);
		return -1;
	}
	if (calendar_parse(cal, text, len, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s: %s\n", path, err);
		return -1;
	}
	return 0;
}

static int
load_dir(struct calendar *cal, const char *dir)
{
	char *names[MAX_FILES], path[4096];
	struct dirent *de;
	size_t n = 0, i;
	DIR *d;
	int rc = 0;

	if ((d = opendir(dir)) == NULL) {
		fprintf(stderr, "%s: %s\n", dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL && n < MAX_FILES) {
		size_t len = strlen(de->d_name);

		if (len > 4 && strcmp(de->d_name + len - 4, ".txt") == 0 &&
		    (names[n] = strdup(de->d_name)) != NULL)
			n++;
	}
	closedir(d);
	qsort(names, n, sizeof(names[0]), name_cmp);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (rc == 0 && load_file(cal, path) == -1)
			rc = -1;
		free(names[i]);
	}
	return rc;
}

/* One line for the civil day y-m-d; -1 for a day that does not exist. */
static int
print_day(const struct calendar *cal, int y, int m, int d, int max)
{
	struct tm tm, due;
	time_t noon, t;
	int n, w, prov;

	if ((w = calendar_is_workday(cal, y, m, d)) == -1)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = m - 1;
	tm.tm_mday = d;
	tm.tm_hour = 12;
	noon = timegm(&tm) - HALL_TZ_OFFSET;
	printf("%04d-%02d-%02d %d", y, m, d, w);
	for (n = 1; n <= max; n++) {
		if ((t = calendar_due(cal, noon, n, &prov)) == (time_t)-1)
			return -1;
		t += HALL_TZ_OFFSET;
		gmtime_r(&t, &due);
		printf(" %04d-%02d-%02d/%d", due.tm_year + 1900, due.tm_mon + 1, due.tm_mday, prov);
	}
	putchar('\n');
	return 0;
}

int
main(int argc, char *argv[])
{
	struct calendar *cal;
	int ch, max = 30, i, y, m, d, rc = 0;
	char tail;

	while ((ch = getopt(argc, argv, "n:")) != -1) {
		switch (ch) {
		case 'n':
			if ((max = atoi(optarg)) < 1 || max > 366)
				usage();
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 2)
		usage();
	if ((cal = calendar_new()) == NULL || load_dir(cal, argv[0]) == -1)
		return 1;
	for (i = 1; i < argc && rc == 0; i++) {
		if (sscanf(argv[i], "%4d-%2d-%2d%c", &y, &m, &d, &tail) == 3) {
			rc = print_day(cal, y, m, d, max);
		} else if (strlen(argv[i]) == 4 && sscanf(argv[i], "%4d%c", &y, &tail) == 1) {
			for (m = 1; m <= 12 && rc == 0; m++)
				for (d = 1; d <= 31 && rc == 0; d++)
					if (calendar_is_workday(cal, y, m, d) != -1)
						rc = print_day(cal, y, m, d, max);
		} else
			rc = -1;
		if (rc == -1)
			fprintf(stderr, "calendar-due: %s: not a day or year it can answer\n",
			    argv[i]);
	}
	calendar_free(cal);
	return rc == 0 && fflush(stdout) == 0 ? 0 : 1;
}
