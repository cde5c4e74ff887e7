/*
 * Putting a backup in place (hall-admin restore), and what the agent does after it.
 *
 * No number is issued twice. Numbers follow the clock in microseconds (write_group.c), so
 * the numbers the lost store issued after the backup lie between the backup's last_seq and
 * the moment it stopped, all behind the clock of a restore made later; the restored store
 * goes on from the clock, above them. Only a number issued ahead of the clock (a clock that
 * ran fast, within the clock guard's day, or `hall-admin clock --continue`) could be met
 * again, so the restored store's mark is raised past every number anyone has seen: the
 * replaced store's own last_seq when it can still be read, at once; the county's highest
 * record of this hall at the agent's next contact (store_restore_done). When the replaced
 * store cannot be read, the restored one issues no number (seq_hold) until the county has
 * answered: it never guesses.
 *
 * The restored store gets a new store_id (the county keeps a high-water mark per store)
 * and meta restore_pending, restore_since: until the county has sent back the hall's open
 * cases and its appointments from today on that the backup lacks, and queued again the
 * events of the hall's cases since the backup and the decisions on those appointments, the
 * agent asks for them (agent/hall-agent/restore_county.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>
#include <sqlite3.h>

#include "store_int.h"

/* The -shm file's dead-man switch (https://sqlite.org/walformat.html, 2.3.1): every
 * connection to a WAL database holds a shared lock on this byte while it is open. */
#define SHM_DMS_OFFSET 128

int
store_in_use(const char *store_path)
{
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = SHM_DMS_OFFSET,
	    .l_len = 1};
	char shm[4096];
	int fd, rc;

	snprintf(shm, sizeof(shm), "%s-shm", store_path);
	if ((fd = open(shm, O_RDWR | O_CLOEXEC)) == -1) {
		if (errno == ENOENT)
			return 0;	/* no connection has it open in WAL mode */
		log_warn("%s", shm);
		return -1;
	}
	if ((rc = fcntl(fd, F_SETLK, &fl)) == 0) {
		fl.l_type = F_UNLCK;
		fcntl(fd, F_SETLK, &fl);
	} else if (errno != EAGAIN && errno != EACCES) {
		log_warn("%s: lock", shm);
		close(fd);
		return -1;
	}
	close(fd);
	return rc == 0 ? 0 : 1;
}

/* meta[key] of a database opened with sqlite3 directly: 1 found, 0 not, -1 unreadable. */
static int
db_meta(sqlite3 *db, const char *key, char *out, size_t outlen)
{
	sqlite3_stmt *st;
	int step;

	if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = ?1", -1, &st, NULL) !=
	    SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	if ((step = sqlite3_step(st)) == SQLITE_ROW)
		snprintf(out, outlen, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return step == SQLITE_ROW ? 1 : step == SQLITE_DONE ? 0 : -1;
}

/* The backup, checked whole (integrity_check) and for this hall; its last_seq in *seq. */
static int
restore_check_backup(const char *backup, const char *hall_code, uint64_t *seq)
{
	char text[64];
	sqlite3 *db = NULL;
	int rc = -1, found;

	*seq = 0;
	if (access(backup, R_OK) == -1) {
		log_warn("restore: %s", backup);
		return -1;
	}
	if (sqlite3_open_v2(backup, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		log_warnx("restore: %s: %s", backup, sqlite3_errmsg(db));
		goto done;
	}
	if (backup_check(db, backup, 1) == -1)
		goto done;
	if ((found = db_meta(db, "hall_code", text, sizeof(text))) != 1) {
		log_warnx("restore: %s is not a hall store (%s)", backup,
		    found == 0 ? "no hall code" : sqlite3_errmsg(db));
		goto done;
	}
	if (strcmp(text, hall_code) != 0) {
		log_warnx("restore: %s is the store of hall %s, not of this hall (%s)", backup, text,
		    hall_code);
		goto done;
	}
	if ((found = db_meta(db, "last_seq", text, sizeof(text))) == -1)
		goto done;
	if (found == 1)
		*seq = strtoull(text, NULL, 10);
	rc = 0;
done:
	sqlite3_close(db);
	return rc;
}

/* The replaced store's last number: 1 read, 0 no store there, -1 unreadable (logged). */
static int
restore_old_mark(const char *store_path, uint64_t *seq)
{
	char text[64];
	sqlite3 *db = NULL;
	int found;

	*seq = 0;
	if (access(store_path, F_OK) == -1)
		return 0;
	if (sqlite3_open_v2(store_path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
	    (found = db_meta(db, "last_seq", text, sizeof(text))) == -1) {
		log_warnx("restore: the store being replaced cannot be read (%s): its last number "
			  "is unknown, so the restored store issues none until the county has "
			  "told hall-agent the hall's last one", sqlite3_errmsg(db));
		sqlite3_close(db);
		return -1;
	}
	if (found == 1)
		*seq = strtoull(text, NULL, 10);
	sqlite3_close(db);
	return 1;
}

/*
 * When the county's events are asked back from: a day before the backup's last number,
 * or before the last event the backup holds of a case still open in it (its submission
 * when it has none), whichever is earlier (whatever the two clocks and time zones say;
 * applying is idempotent). A downlink that lagged when the backup was made had not
 * brought down every event up to its last number: a case the county closed in that lag is
 * open in the backup, and hall_restored sends back the events of a closed case only from
 * this moment on. A case's events follow one another at the county, so what the backup
 * lacks of an open case came after the last event it holds; an old case still open, but
 * lately answered, does not take the moment back to its submission. -1 on a store error.
 */
static long long
restore_since(struct store *s, uint64_t backup_seq)
{
	long long since = backup_seq > 0 ? (long long)((backup_seq + CASENO_EPOCH_US) / 1000000) :
	    0;
	sqlite3_stmt *st;
	int step;

	if (sqlite3_prepare_v2(store_sqlite(s), "SELECT min(coalesce((SELECT max(e.at) "
		"FROM case_events e WHERE e.case_no = c.case_no), c.submitted_at)) FROM cases c "
		"WHERE c.status NOT IN ('resolved', 'rejected')", -1, &st, NULL) != SQLITE_OK)
		return -1;
	if ((step = sqlite3_step(st)) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL &&
	    sqlite3_column_int64(st, 0) < since)
		since = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (step != SQLITE_ROW)
		return -1;
	return since > 86400 ? since - 86400 : 0;
}

/* Inside the restored copy's write transaction: its marks (see the file's comment). */
static int
restore_marks(struct store *s, uint64_t backup_seq, uint64_t old_seq, int old_known)
{
	unsigned char raw[16];
	char id[33], text[32];
	uint64_t seq = backup_seq > old_seq ? backup_seq : old_seq;
	long long since;

	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(id, sizeof(id), raw, sizeof(raw));
	if (store_meta_set(s, "store_id", id) == -1)
		return -1;
	if (seq > 0) {
		snprintf(text, sizeof(text), "%" PRIu64, seq);
		if (store_meta_set(s, "last_seq", text) == -1)
			return -1;
	}
	if ((since = restore_since(s, backup_seq)) == -1)
		return -1;
	snprintf(text, sizeof(text), "%lld", since);
	if (store_meta_set(s, "restore_since", text) == -1 ||
	    store_meta_set(s, "restore_pending", "1") == -1)
		return -1;
	if (!old_known && store_meta_set(s, "seq_hold", "1") == -1)
		return -1;
	return 0;
}

/* The backup copied to tmp, migrated, bound to the hall and given its marks. */
static int
restore_prepare(const char *backup, const char *tmp, const struct hall_config *cfg,
    uint64_t backup_seq, uint64_t old_seq, int old_known, struct restore_report *rep)
{
	struct store *s;
	char lock[4096 + 16];
	int rc = -1;

	if (store_backup(backup, tmp, NULL, NULL) == -1)
		return -1;
	if ((s = store_open(tmp, 0)) == NULL)
		goto done;
	if ((cfg->schema_dir != NULL && store_migrate(s, cfg->schema_dir) == -1) ||
	    store_bind_hall(s, cfg->code) == -1)
		goto done;
	if (store_begin_write(s) == -1)
		goto done;
	if (restore_marks(s, backup_seq, old_seq, old_known) == -1 || store_commit(s) == -1) {
		store_rollback(s);
		goto done;
	}
	rep->cases = store_count(s, "cases");
	/* the copy as one file: no WAL beside it when it takes the store's name */
	if (sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL) !=
	    SQLITE_OK) {
		log_warnx("restore: %s: checkpoint: %s", tmp, store_errmsg(s));
		goto done;
	}
	rc = 0;
done:
	store_close(s);
	snprintf(lock, sizeof(lock), "%s-writer.lock", tmp);
	unlink(lock);
	if (rc == 0 && backup_fsync(tmp, 0) == -1)
		rc = -1;
	return rc;
}

/* Renames from's file and its WAL files to to's names (a pair stays a pair). */
static int
restore_move(const char *from, const char *to)
{
	static const char *const tails[] = {"-wal", "-shm", ""};	/* the database last */
	char a[4096 + 8], b[4096 + 8];
	size_t i;

	for (i = 0; i < sizeof(tails) / sizeof(tails[0]); i++) {
		snprintf(a, sizeof(a), "%s%s", from, tails[i]);
		snprintf(b, sizeof(b), "%s%s", to, tails[i]);
		if (rename(a, b) == -1 && errno != ENOENT) {
			log_warn("restore: rename %s to %s", a, b);
			return -1;
		}
	}
	return 0;
}

int
store_restore(const char *backup, const struct hall_config *cfg, struct restore_report *rep)
{
	const char *path = cfg->store_path;
	char tmp[4096], before[4096];
	uint64_t backup_seq, old_seq;
	struct stat old;
	int have_old, old_known;

	memset(rep, 0, sizeof(*rep));
	snprintf(tmp, sizeof(tmp), "%s.restore.tmp", path);
	snprintf(before, sizeof(before), "%s.before-restore", path);
	switch (store_in_use(path)) {
	case 0:
		break;
	case 1:
		log_warnx("restore: %s is open (hall-write, hall-read or hall-agent runs): stop "
			  "them first", path);
		return -1;
	default:
		return -1;
	}
	if (access(before, F_OK) == 0) {
		log_warnx("restore: %s exists (an earlier restore's): move it away first, nothing "
			  "is overwritten", before);
		return -1;
	}
	if (restore_check_backup(backup, cfg->code, &backup_seq) == -1)
		return -1;
	have_old = stat(path, &old) == 0;
	old_known = restore_old_mark(path, &old_seq) != -1;
	if (restore_prepare(backup, tmp, cfg, backup_seq, old_seq, old_known, rep) == -1) {
		backup_unlink(tmp);
		return -1;
	}
	/* the store's owner and mode (group hall, 0660) pass to the restored one */
	if (have_old && (chown(tmp, old.st_uid, old.st_gid) == -1 ||
	    chmod(tmp, old.st_mode & 07777) == -1))
		log_warn("restore: %s: owner and mode of the store not kept", tmp);
	/* again, just before the swap: a program started meanwhile would keep the old file */
	if (store_in_use(path) != 0) {
		log_warnx("restore: %s was opened meanwhile: nothing replaced", path);
		backup_unlink(tmp);
		return -1;
	}
	if (have_old && restore_move(path, before) == -1) {
		backup_unlink(tmp);
		return -1;
	}
	if (rename(tmp, path) == -1) {
		log_warn("restore: rename %s to %s", tmp, path);
		if (have_old)
			restore_move(before, path);
		backup_unlink(tmp);
		return -1;
	}
	backup_fsync(path, 1);
	rep->replaced = have_old;
	rep->held = !old_known;
	rep->last_seq = backup_seq > old_seq ? backup_seq : old_seq;
	return 0;
}

/* ---- after the restore: the agent and the county ------------------------------------- */

int
store_restore_pending(struct store *s, time_t *since)
{
	char text[32];
	int rc;

	*since = 0;
	if ((rc = store_meta(s, "restore_pending", text, sizeof(text))) != 1)
		return rc;
	if (store_meta(s, "restore_since", text, sizeof(text)) == 1)
		*since = (time_t)strtoll(text, NULL, 10);
	return 1;
}

/*
 * A case of this hall the county sent back, inside the caller's write transaction
 * (downlink_begin): inserted when the store lacks it, with what its progress page shows
 * and the phone masked; the citizen's query code is checked against its MAC (case.c).
 * 1 inserted, 0 the store had it, -1 error.
 */
int
store_restore_case(struct store *s, const struct restored_case *c)
{
	sqlite3_stmt *st;
	char masked[32];

	if (c->id == NULL || c->case_no == NULL || c->kind == NULL || c->subject == NULL ||
	    c->body == NULL || c->phone == NULL || c->status == NULL || !caseno_valid(c->case_no) ||
	    strncmp(c->case_no, s->hall_code, 12) != 0)
		return 0;	/* not a case this hall could have made: left alone */
	phone_mask(masked, c->phone);
	if ((st = store_stmt(s, "INSERT OR IGNORE INTO cases (id, case_no, query_code, query_mac, "
				"kind, category, subject, body, phone, item, target, submitted_at, "
				"due_at, due_provisional, status, updated_at, minimized_at) "
				"VALUES (?1, ?2, '', ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, "
				"?14, ?15, ?15)")) == NULL)
		return -1;
	store_bind_text(st, 1, c->id);
	store_bind_text(st, 2, c->case_no);
	store_bind_text(st, 3, c->query_mac);
	store_bind_text(st, 4, c->kind);
	store_bind_text(st, 5, c->category);
	store_bind_text(st, 6, c->subject);
	store_bind_text(st, 7, c->body);
	store_bind_text(st, 8, masked);
	store_bind_text(st, 9, c->item);
	store_bind_text(st, 10, c->target);
	sqlite3_bind_int64(st, 11, c->submitted_at);
	sqlite3_bind_int64(st, 12, c->due_at);
	sqlite3_bind_int(st, 13, c->due_provisional);
	store_bind_text(st, 14, c->status);
	sqlite3_bind_int64(st, 15, time(NULL));
	if (store_done(s, st) == -1)
		return -1;
	if (sqlite3_changes(s->db) == 0)
		return 0;
	/* its timeline as it was: the hall's 'received' (its own id) and 'delivered' */
	if ((st = store_stmt(s, "INSERT OR IGNORE INTO case_events (id, case_no, status, note, "
				"actor, at) VALUES (?1, ?2, 'received', NULL, 'hall', ?3), "
				"(?4 || '-D', ?2, 'delivered', NULL, 'county', ?5)")) == NULL)
		return -1;
	store_bind_text(st, 1, c->received_id != NULL ? c->received_id : c->id);
	store_bind_text(st, 2, c->case_no);
	sqlite3_bind_int64(st, 3, c->submitted_at);
	store_bind_text(st, 4, c->id);
	sqlite3_bind_int64(st, 5, c->delivered_at);
	return store_done(s, st) == -1 ? -1 : 1;
}

/*
 * An appointment of this hall from today on that the county sent back, inside the caller's
 * write transaction: inserted when the store lacks it, so its slot counts it (a booked or
 * confirmed one holds its place), its lookup opens with the receipt's code (checked against
 * the MAC, as a case's), the window lists it on its day, and the county's decisions, queued
 * again by hall_restored, apply to it. It keeps what it would have kept (retention.c): the
 * phone masked (the county, not the hall, writes to the citizen), no e-mail, and the name
 * and note only while it is live; an ended one comes minimized. Its number came from this
 * hall's sequence, which store_restore_done raises past every record the county holds, so
 * it is never issued again. One the store has live and the county has ended takes the
 * county's status. 1 inserted, 0 the store had it (or it is not this hall's), -1.
 */
int
store_restore_appt(struct store *s, const struct restored_appt *a)
{
	sqlite3_stmt *st;
	char masked[32];
	int live;
	time_t now = time(NULL);

	if (a->id == NULL || a->appointment_no == NULL || a->item == NULL || a->date == NULL ||
	    a->start == NULL || a->end == NULL || a->phone == NULL || a->status == NULL ||
	    !caseno_valid(a->appointment_no) || strncmp(a->appointment_no, s->hall_code, 12) != 0)
		return 0;	/* not an appointment this hall could have made: left alone */
	live = strcmp(a->status, "booked") == 0 || strcmp(a->status, "confirmed") == 0;
	phone_mask(masked, a->phone);
	if ((st = store_stmt(s, "INSERT OR IGNORE INTO appointments (id, appointment_no, "
				"query_code, query_mac, item, item_name, date, start, end, place, "
				"name, phone, note, channel, registrar, notify, status, reason, "
				"created_at, updated_at, minimized_at) "
				"VALUES (?1, ?2, '', coalesce(?3, ''), ?4, coalesce(?5, ''), ?6, ?7, "
				"?8, coalesce(?9, ''), coalesce(?10, ''), ?11, ?12, "
				"coalesce(?13, 'online'), ?14, ?15, ?16, ?17, ?18, ?19, ?20)")) == NULL)
		return -1;
	store_bind_text(st, 1, a->id);
	store_bind_text(st, 2, a->appointment_no);
	store_bind_text(st, 3, a->query_mac);
	store_bind_text(st, 4, a->item);
	store_bind_text(st, 5, a->item_name);
	store_bind_text(st, 6, a->date);
	store_bind_text(st, 7, a->start);
	store_bind_text(st, 8, a->end);
	store_bind_text(st, 9, a->place);
	store_bind_text(st, 10, live ? a->name : NULL);
	store_bind_text(st, 11, masked);
	store_bind_text(st, 12, live ? a->note : NULL);
	store_bind_text(st, 13, a->channel);
	store_bind_text(st, 14, a->registrar);
	sqlite3_bind_int(st, 15, a->notify != 0);
	store_bind_text(st, 16, a->status);
	store_bind_text(st, 17, a->reason);
	sqlite3_bind_int64(st, 18, a->booked_at);
	sqlite3_bind_int64(st, 19, now);
	if (live)
		sqlite3_bind_null(st, 20);
	else
		sqlite3_bind_int64(st, 20, now);
	if (store_done(s, st) == -1)
		return -1;
	if (sqlite3_changes(s->db) > 0)
		return 1;
	if (live)
		return 0;
	/*
	 * The backup has it live, the county has it ended: the citizen cancelled it, or the
	 * window marked it, after the backup, at the hall (the county's own decisions come
	 * again by the downlink). Held as booked it would keep its place and stay on the
	 * window's list; the county's word ends it here too (retention minimizes it).
	 */
	if ((st = store_stmt(s, "UPDATE appointments SET status = ?2, reason = coalesce(?3, "
				"reason), updated_at = ?4 WHERE appointment_no = ?1 "
				"AND status IN ('booked', 'confirmed')")) == NULL)
		return -1;
	store_bind_text(st, 1, a->appointment_no);
	store_bind_text(st, 2, a->status);
	store_bind_text(st, 3, a->reason);
	sqlite3_bind_int64(st, 4, now);
	return store_done(s, st) == -1 ? -1 : 0;
}

/*
 * The county has sent back what the backup lacked: the mark goes past the county's highest
 * number of this hall (county_seq, 0: none), numbers are no longer held, and the restore is
 * done. Inside the caller's write transaction.
 */
int
store_restore_done(struct store *s, uint64_t county_seq)
{
	char text[32];
	uint64_t last = 0;
	int rc;

	if ((rc = store_meta(s, "last_seq", text, sizeof(text))) == -1)
		return -1;
	if (rc == 1)
		last = strtoull(text, NULL, 10);
	if (county_seq > last) {
		snprintf(text, sizeof(text), "%" PRIu64, county_seq);
		if (store_meta_set(s, "last_seq", text) == -1)
			return -1;
	}
	return store_run(s, "DELETE FROM meta WHERE key IN ('restore_pending', 'seq_hold')");
}
