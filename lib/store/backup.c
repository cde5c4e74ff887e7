/*
 * A copy of the live store (hall-admin backup). SQLite's online backup API copies the
 * pages under one read transaction held on the source for the whole copy: in WAL mode a
 * reader never blocks a writer, so hall-write goes on taking cases, and the copy is the
 * store as it stood at one instant (a snapshot), every case acknowledged before it
 * included. The copy goes in steps (for the progress bar), each retried while the store
 * answers BUSY or LOCKED (a checkpoint, a migration), and is written to DEST.tmp (0600:
 * it holds citizens' personal data), checked with PRAGMA quick_check, synced and only
 * then renamed to DEST: DEST is whole or absent, never half a file. On any failure the
 * temporary file is removed.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store_int.h"

#define BACKUP_STEP_PAGES 256
#define BACKUP_BUSY_TRIES 600	/* 50 ms apart: half a minute of a store kept busy */

/* Removes path and the journal files SQLite may have left beside it. */
void
backup_unlink(const char *path)
{
	static const char *const tails[] = {"", "-journal", "-wal", "-shm"};
	char p[4096];
	size_t i;

	for (i = 0; i < sizeof(tails) / sizeof(tails[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", path, tails[i]);
		unlink(p);
	}
}

/* fsync of a file, or of the folder holding it (so that a rename survives power loss). */
int
backup_fsync(const char *path, int folder)
{
	char copy[4096];
	const char *what = path;
	int fd, rc;

	if (folder) {
		snprintf(copy, sizeof(copy), "%s", path);
		what = dirname(copy);
	}
	if ((fd = open(what, O_RDONLY | O_CLOEXEC | (folder ? O_DIRECTORY : 0))) == -1) {
		log_warn("%s", what);
		return -1;
	}
	if ((rc = fsync(fd)) == -1)
		log_warn("fsync %s", what);
	close(fd);
	return rc;
}

/* Why a write to the copy failed, in an operator's words. */
static void
backup_why(sqlite3 *dst, int rc, const char *tmp)
{
	int e = dst != NULL ? sqlite3_system_errno(dst) : 0;

	if ((rc & 0xff) == SQLITE_FULL || e == ENOSPC || e == EDQUOT)
		log_warnx("backup: the disk holding %s is full: nothing was kept", tmp);
	else if (e != 0)
		log_warnx("backup: cannot write %s: %s (%s): nothing was kept", tmp,
		    strerror(e), sqlite3_errstr(rc));
	else
		log_warnx("backup: %s: %s: nothing was kept", tmp,
		    dst != NULL ? sqlite3_errmsg(dst) : sqlite3_errstr(rc));
}

/* "ok" from PRAGMA quick_check (or integrity_check) on db: 0; else -1, logged. */
int
backup_check(sqlite3 *db, const char *path, int full)
{
	sqlite3_stmt *st = NULL;
	const char *what = full ? "integrity_check" : "quick_check";
	int rc = -1, step;

	if (sqlite3_prepare_v2(db, full ? "PRAGMA integrity_check" : "PRAGMA quick_check", -1,
		&st, NULL) != SQLITE_OK) {
		log_warnx("%s: not a readable hall store: %s", path, sqlite3_errmsg(db));
		return -1;
	}
	if ((step = sqlite3_step(st)) == SQLITE_ROW &&
	    strcmp((const char *)sqlite3_column_text(st, 0), "ok") == 0)
		rc = 0;
	else if (step == SQLITE_ROW)
		log_warnx("%s: %s says it is damaged: %s", path, what, sqlite3_column_text(st, 0));
	else
		log_warnx("%s: not a readable hall store: %s", path, sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return rc;
}

static void
backup_pause(void)
{
	struct timespec ts = {0, 50 * 1000 * 1000};

	nanosleep(&ts, NULL);
}

/*
 * The pages of src (an open connection, inside the read transaction that fixes the
 * snapshot) into the database file tmp. 0, or -1 logged.
 */
static int
backup_copy(sqlite3 *src, const char *tmp, store_progress_fn progress, void *arg)
{
	sqlite3_backup *b;
	sqlite3 *dst = NULL;
	int rc, busy = 0;

	if (sqlite3_open_v2(tmp, &dst, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
		backup_why(dst, sqlite3_errcode(dst), tmp);
		sqlite3_close(dst);
		return -1;
	}
	if ((b = sqlite3_backup_init(dst, "main", src, "main")) == NULL) {
		backup_why(dst, sqlite3_errcode(dst), tmp);
		sqlite3_close(dst);
		return -1;
	}
	for (;;) {
		rc = sqlite3_backup_step(b, BACKUP_STEP_PAGES);
		if (progress != NULL && (rc == SQLITE_OK || rc == SQLITE_DONE))
			progress(sqlite3_backup_pagecount(b) - sqlite3_backup_remaining(b),
			    sqlite3_backup_pagecount(b), arg);
		if (rc == SQLITE_DONE)
			break;
		if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
			if (++busy > BACKUP_BUSY_TRIES)
				break;
			backup_pause();
			continue;
		}
		if (rc != SQLITE_OK)
			break;
		busy = 0;
	}
	sqlite3_backup_finish(b);
	if (rc != SQLITE_DONE) {
		if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
			log_warnx("backup: the store stayed busy for %d s: try again",
			    BACKUP_BUSY_TRIES / 20);
		else if (sqlite3_errcode(dst) != SQLITE_OK || sqlite3_system_errno(dst) != 0)
			backup_why(dst, rc, tmp);
		else
			log_warnx("backup: reading the store: %s", sqlite3_errstr(rc));
		sqlite3_close(dst);
		return -1;
	}
	/* one file that any reader opens without making a WAL beside it (a restore puts the
	 * store's WAL mode back), read back before it may take DEST's name */
	if (sqlite3_exec(dst, "PRAGMA journal_mode = DELETE", NULL, NULL, NULL) != SQLITE_OK) {
		backup_why(dst, sqlite3_errcode(dst), tmp);
		sqlite3_close(dst);
		return -1;
	}
	rc = backup_check(dst, tmp, 0);
	if (sqlite3_close(dst) != SQLITE_OK) {
		log_warnx("backup: %s: cannot close it", tmp);
		rc = -1;
	}
	return rc;
}

int
store_backup(const char *store_path, const char *dest, store_progress_fn progress, void *arg)
{
	char tmp[4096], copy[4096];
	const char *folder;
	struct stat sb;
	sqlite3 *src = NULL;
	int fd, rc = -1;

	snprintf(copy, sizeof(copy), "%s", dest);
	folder = dirname(copy);
	if (stat(folder, &sb) == -1 || !S_ISDIR(sb.st_mode)) {
		log_warnx("backup: the folder %s does not exist%s", folder,
		    errno == ENOENT ? "" : " (or cannot be reached)");
		return -1;
	}
	if (stat(dest, &sb) == 0 && S_ISDIR(sb.st_mode)) {
		log_warnx("backup: %s is a folder: name the file to write", dest);
		return -1;
	}
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", dest) >= sizeof(tmp)) {
		log_warnx("backup: %s: name too long", dest);
		return -1;
	}
	/* made here, 0600 and new: SQLite would make it with the umask, and a stale one may
	 * be another backup at work */
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) == -1) {
		if (errno == EEXIST)
			log_warnx("backup: %s exists: another backup is writing it, or one was "
				  "interrupted (then remove it)", tmp);
		else
			log_warn("backup: %s", tmp);
		return -1;
	}
	close(fd);
	if (sqlite3_open_v2(store_path, &src, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		log_warnx("backup: %s: %s", store_path, sqlite3_errmsg(src));
		goto done;
	}
	sqlite3_busy_timeout(src, 5000);
	/* the snapshot: one read transaction for the whole copy, so that steps never see
	 * another writer's commit (which would restart the copy) and never block one */
	if (sqlite3_exec(src, "BEGIN; SELECT count(*) FROM meta", NULL, NULL, NULL) != SQLITE_OK) {
		log_warnx("backup: %s is not a hall store: %s", store_path, sqlite3_errmsg(src));
		goto done;
	}
	if (backup_copy(src, tmp, progress, arg) == -1)
		goto done;
	sqlite3_exec(src, "COMMIT", NULL, NULL, NULL);
	if (chmod(tmp, 0600) == -1 || backup_fsync(tmp, 0) == -1)
		goto done;
	if (rename(tmp, dest) == -1) {
		log_warn("backup: rename %s to %s", tmp, dest);
		goto done;
	}
	/* the copy is whole: a failure here only risks its name in a power cut (logged) */
	backup_fsync(dest, 1);
	rc = 0;
done:
	sqlite3_close(src);
	if (rc == -1)
		backup_unlink(tmp);
	return rc;
}
