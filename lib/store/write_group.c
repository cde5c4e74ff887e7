/*
 * The citizens' write transaction. store_write_group runs a group of writes (cases,
 * ratings, new query codes, appointments) in one transaction, each in a savepoint of its own, so that one fsync makes
 * them all durable (commit_group.c feeds it from many threads). Writers queue on a file
 * lock before BEGIN IMMEDIATE. Every record is numbered here (write_next_seq: the clock,
 * in microseconds, never repeating) and leaves through the outbox (write_outbox_add).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>

#include <sqlite3.h>

#include "store_int.h"

/* The earliest plausible clock: a box whose RTC reset to 1970 or 2000 must not issue ids. */
#define STORE_CLOCK_FLOOR_US (1767225600ULL * 1000000) /* 2026-01-01 */

/*
 * Citizens' writes queue on a file lock before BEGIN IMMEDIATE: the kernel wakes the next
 * worker the moment the lock is free, where SQLite's busy handler would sleep 1, 2, 5 ms
 * and more while the other commit needs a fraction of one.
 */
static int
write_begin(struct store *s)
{
	if (s->writer_fd != -1)
		while (flock(s->writer_fd, LOCK_EX) == -1 && errno == EINTR)
			;
	if (store_begin_write(s) == -1) {
		if (s->writer_fd != -1)
			flock(s->writer_fd, LOCK_UN);
		return -1;
	}
	return 0;
}

static void
write_end(struct store *s)
{
	store_rollback(s);	/* nothing to undo after a COMMIT */
	if (s->writer_fd != -1)
		flock(s->writer_fd, LOCK_UN);
}

/* The mark of the last number issued: in memory inside a group, in meta otherwise. */
static enum store_rc
seq_issued(struct store *s, uint64_t seq)
{
	char text[32];

	if (s->in_group) {
		s->group_seq = seq;
		return STORE_OK;
	}
	snprintf(text, sizeof(text), "%" PRIu64, seq);
	return store_meta_set(s, "last_seq", text) == 0 ? STORE_OK : STORE_ERR;
}

/*
 * The clock is more than a minute behind the last number issued. Numbers go on from that
 * one only while an operator's `hall-admin clock --continue` covers it (clock.c); else the
 * store refuses until the clock is right, rather than guess.
 */
static enum store_rc
seq_behind(struct store *s, uint64_t now, uint64_t last, uint64_t *seq)
{
	uint64_t until;

	if (clock_continue_until(s, &until) == -1)
		return STORE_ERR;
	if (now - CASENO_EPOCH_US > until) {
		log_warnx("the clock is %" PRIu64 " s behind the store's last record; refusing to "
			  "issue numbers until it is right (or run `hall-admin clock --continue`)",
		    (uint64_t)((last - (now - CASENO_EPOCH_US)) / 1000000));
		return STORE_CLOCK;
	}
	*seq = last + 1;
	return seq_issued(s, *seq);
}

/*
 * After a restore that could not read the replaced store's last number, none is issued
 * until hall-agent has had the county's (restore.c): refused rather than guessed.
 */
static enum store_rc
seq_held(struct store *s)
{
	char text[8];
	int rc;

	if ((rc = store_meta(s, "seq_hold", text, sizeof(text))) == -1)
		return STORE_ERR;
	if (rc == 0)
		return STORE_OK;
	log_warnx("the store was restored from a backup and the replaced store's last number "
		  "is unknown: no number is issued until hall-agent has reached the county");
	return STORE_CLOCK;
}

/*
 * The next record sequence: microseconds since CASENO_EPOCH_US, above the last one issued
 * and never ahead of the clock (save for clock.c's way out of a clock put back). Because it follows the clock, a store deleted and recreated
 * (or restored from a backup) starts above everything the old one issued, with nothing to
 * coordinate. Called inside a write transaction, which serializes the hall's writers.
 */
enum store_rc
write_next_seq(struct store *s, uint64_t *seq)
{
	char text[32];
	uint64_t last = 0, now;
	int rc;

	if (s->in_group && s->group_seq > 0)
		last = s->group_seq;
	else {
		if ((rc = store_meta(s, "last_seq", text, sizeof(text))) == -1)
			return STORE_ERR;
		if (rc == 1)
			last = strtoull(text, NULL, 10);
	}
	now = time_now_us();
	if (now < STORE_CLOCK_FLOOR_US) {
		log_warnx("%s: the clock says %" PRIu64 " s: set the time before taking cases",
		    __func__, now / 1000000);
		return STORE_CLOCK;
	}
	/* once per group (or write): a clock far ahead of what the hall can vouch for, or a
	 * restore whose replaced store's last number is unknown (restore.c) */
	if (!(s->in_group && s->group_seq > 0)) {
		if ((rc = clock_check(s, now)) != STORE_OK)
			return rc;
		if ((rc = seq_held(s)) != STORE_OK)
			return rc;
	}
	if (now - CASENO_EPOCH_US <= last) {
		/* several records in one microsecond, or the clock stepped back */
		if (last - (now - CASENO_EPOCH_US) > 60 * 1000000ULL)
			return seq_behind(s, now, last, seq);
		do
			now = time_now_us();
		while (now - CASENO_EPOCH_US <= last);
	}
	*seq = now - CASENO_EPOCH_US;
	return seq_issued(s, *seq);
}

time_t
write_seq_time(uint64_t seq)
{
	time_t t = (time_t)((seq + CASENO_EPOCH_US) / 1000000), now = time(NULL);

	/* a number continued past a clock behind it (clock.c) is not a time */
	return t > now ? now : t;
}

int
write_outbox_add_for(struct store *s, const char *id, const char *type, const char *case_no,
    time_t at, const struct buf *payload, const char *only_for)
{
	sqlite3_stmt *st = store_stmt(s, "INSERT INTO outbox (id, type, case_no, at, payload, "
					 "only_for) VALUES (?1, ?2, ?3, ?4, ?5, ?6)");

	if (st == NULL)
		return -1;
	store_bind_text(st, 1, id);
	store_bind_text(st, 2, type);
	store_bind_text(st, 3, case_no);
	sqlite3_bind_int64(st, 4, at);
	sqlite3_bind_text(st, 5, payload->data, (int)payload->len, SQLITE_STATIC);
	store_bind_text(st, 6, only_for);
	return store_done(s, st);
}

int
write_outbox_add(struct store *s, const char *id, const char *type, const char *case_no,
    time_t at, const struct buf *payload)
{
	return write_outbox_add_for(s, id, type, case_no, at, payload, NULL);
}

/*
 * Group commit: the writes share one transaction, so one fsync of the WAL makes them all
 * durable. Each runs inside its own savepoint: a write that fails (a rating of a case not
 * yet answered, a constraint) is undone alone and the others still commit. When the commit
 * itself fails, or SQLite has rolled the whole transaction back, every write reports it.
 */
void
store_write_group(struct store *s, struct store_write *w, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		w[i].rc = STORE_ERR;
	if (write_begin(s) == -1)
		return;
	/*
	 * The group's seqs come from memory and the mark is written once below. A seq taken by
	 * a write that is then undone is simply never used: numbers only skip, never repeat.
	 */
	s->in_group = 1;
	s->group_seq = 0;
	for (i = 0; i < n; i++) {
		if (store_run(s, "SAVEPOINT one_write") == -1)
			goto fail;
		switch (w[i].kind) {
		case STORE_WRITE_CASE: w[i].rc = case_apply(s, &w[i]); break;
		case STORE_WRITE_RATING: w[i].rc = rating_apply(s, &w[i]); break;
		case STORE_WRITE_CODE: w[i].rc = code_apply(s, &w[i]); break;
		case STORE_WRITE_APPT: w[i].rc = appt_apply(s, &w[i]); break;
		case STORE_WRITE_APPT_CANCEL: w[i].rc = appt_cancel_apply(s, &w[i]); break;
		case STORE_WRITE_APPT_MARK: w[i].rc = appt_mark_apply(s, &w[i]); break;
		}
		if (sqlite3_get_autocommit(s->db))
			goto fail;	/* SQLite gave the transaction up (I/O error, full disk) */
		if (w[i].rc != STORE_OK && store_run(s, "ROLLBACK TO one_write") == -1)
			goto fail;
		if (store_run(s, "RELEASE one_write") == -1)
			goto fail;
	}
	s->in_group = 0;
	if (s->group_seq > 0) {
		char text[32];

		snprintf(text, sizeof(text), "%" PRIu64, s->group_seq);
		if (store_meta_set(s, "last_seq", text) == -1)
			goto fail;
	}
	if (store_commit(s) == -1)
		goto fail;
	write_end(s);
	return;
fail:
	s->in_group = 0;
	for (i = 0; i < n; i++)
		w[i].rc = STORE_ERR;
	write_end(s);
}
