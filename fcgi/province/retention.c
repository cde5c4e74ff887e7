/*
 * Retention (SPEC 11): the receiver keeps a closed case's records for [receiver]
 * retention_days (30 years unless configured) and a daily job deletes them after that.
 *
 * The interface does not tell the receiver that a case is closed, so it counts from what it
 * does know: a case's records go together once the last of them arrived more than the
 * period ago. A case quiet that long is closed by any reckoning, and a case that still
 * moves keeps all its records. The clock is the receiver's own (received_at), not the
 * sender's `at`, so a hall's wrong clock cannot have records deleted early.
 */
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "province.h"

int
retention_purge(sqlite3 *db, int days, long long *records, long long *cases)
{
	sqlite3_stmt *st = NULL;
	long long before = (long long)time(NULL) - (long long)days * 86400;
	int rc = -1;

	*records = *cases = 0;
	if (sqlite3_prepare_v2(db, "SELECT count(*) FROM (SELECT 1 FROM records GROUP BY "
		"hall_code, case_no HAVING max(received_at) < ?1)", -1, &st, NULL) != SQLITE_OK)
		goto done;
	sqlite3_bind_int64(st, 1, before);
	if (sqlite3_step(st) != SQLITE_ROW)
		goto done;
	*cases = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (sqlite3_prepare_v2(db, "DELETE FROM records WHERE (hall_code, case_no) IN (SELECT "
		"hall_code, case_no FROM records GROUP BY hall_code, case_no HAVING "
		"max(received_at) < ?1)", -1, &st, NULL) != SQLITE_OK)
		goto done;
	sqlite3_bind_int64(st, 1, before);
	if (sqlite3_step(st) != SQLITE_DONE)
		goto done;
	*records = sqlite3_changes(db);
	sqlite3_finalize(st);
	if (sqlite3_prepare_v2(db, "DELETE FROM conflicts WHERE at < ?1", -1, &st, NULL) !=
	    SQLITE_OK)
		goto done;
	sqlite3_bind_int64(st, 1, before);
	if (sqlite3_step(st) != SQLITE_DONE)
		goto done;
	rc = 0;
done:
	if (rc == -1)
		log_warnx("retention: %s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return rc;
}

int
retention_due(sqlite3 *db, int days)
{
	sqlite3_stmt *st = NULL;
	long long last = 0, records, cases, now = (long long)time(NULL);

	/* one writer at a time: a second worker waits, then finds it done */
	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		goto fail;
	if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'retention_last'", -1, &st,
		NULL) != SQLITE_OK)
		goto fail;
	if (sqlite3_step(st) == SQLITE_ROW)
		last = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	st = NULL;
	if (last <= now && now - last < RETENTION_EVERY_S) {
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return 0;
	}
	if (retention_purge(db, days, &records, &cases) == -1)
		goto fail;
	if (sqlite3_prepare_v2(db, "INSERT INTO meta (key, value) VALUES ('retention_last', ?1) "
		"ON CONFLICT (key) DO UPDATE SET value = excluded.value", -1, &st, NULL) != SQLITE_OK)
		goto fail;
	sqlite3_bind_int64(st, 1, now);
	if (sqlite3_step(st) != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(st);
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		goto fail;
	log_info("retention: %lld record(s) of %lld case(s) quiet for over %d days deleted",
	    records, cases, days);
	return 1;
fail:
	log_warnx("retention: %s; trying again within the hour", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

struct retention_job {
	char path[4096];
	int days;
};

static void *
retention_thread(void *arg)
{
	const struct retention_job *job = arg;

	for (;;) {
		sqlite3 *db = NULL;

		if (sqlite3_open_v2(job->path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK) {
			sqlite3_busy_timeout(db, 30000);
			sqlite3_exec(db, "PRAGMA synchronous = FULL", NULL, NULL, NULL);
			retention_due(db, job->days);
		} else
			log_warnx("retention: %s: %s", job->path, sqlite3_errmsg(db));
		sqlite3_close(db);
		/* hourly: a day's period is then kept to within the hour, across restarts too */
		sleep(3600);
	}
	return NULL;
}

int
retention_start(const char *store_path, int days)
{
	static struct retention_job job;	/* lives as long as the worker */
	pthread_attr_t attr;
	pthread_t t;
	sigset_t all, old;
	int rc;

	if (strlen(store_path) >= sizeof(job.path))
		return -1;
	memcpy(job.path, store_path, strlen(store_path) + 1);
	job.days = days;
	/*
	 * The worker stops on SIGTERM, which must reach the thread in accept(), not this one:
	 * the job's thread starts with every signal blocked (a new thread inherits the mask).
	 */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	rc = pthread_create(&t, &attr, retention_thread, &job);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		log_warnx("retention: cannot start its thread");
		return -1;
	}
	return 0;
}
