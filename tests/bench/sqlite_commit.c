/*
 * sqlite-commit-bench: the raw rate of durable single-row SQLite commits on this disk, the
 * yardstick for the write path (SPEC 9): WAL, synchronous=FULL, one INSERT per transaction,
 * a row of the size of a consultation.
 *
 *   sqlite-commit-bench DB_PATH SECONDS    prints "commits_per_s N"
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int
main(int argc, char *argv[])
{
	char row[600];
	sqlite3 *db;
	sqlite3_stmt *st;
	double t0, secs;
	long n = 0;

	if (argc != 3) {
		fprintf(stderr, "usage: sqlite-commit-bench DB_PATH SECONDS\n");
		return 2;
	}
	secs = atof(argv[2]);
	memset(row, 'x', sizeof(row) - 1);
	row[sizeof(row) - 1] = '\0';
	if (sqlite3_open(argv[1], &db) != SQLITE_OK ||
	    sqlite3_exec(db,
		"PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;"
		"CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)",
		NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "INSERT INTO t (v) VALUES (?1)", -1, &st, NULL) != SQLITE_OK) {
		fprintf(stderr, "%s: %s\n", argv[1], sqlite3_errmsg(db));
		return 1;
	}
	t0 = now();
	while (now() - t0 < secs) {
		/* an explicit transaction per row, as the hall commits a case */
		sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
		sqlite3_bind_text(st, 1, row, -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE) {
			fprintf(stderr, "%s\n", sqlite3_errmsg(db));
			return 1;
		}
		sqlite3_reset(st);
		if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
			return 1;
		n++;
	}
	printf("commits_per_s %.1f\n", n / (now() - t0));
	sqlite3_finalize(st);
	sqlite3_close(db);
	return 0;
}
