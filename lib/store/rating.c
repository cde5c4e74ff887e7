/*
 * A citizen's rating of an answered case: once per case, only after the county has
 * answered, resolved or rejected it. rating_apply writes the rating and its outbox record
 * inside the group's transaction (write_group.c); a refusal (STORE_CONFLICT, STORE_NOT_YET)
 * is undone with the write's savepoint and leaves the rest of the group alone.
 */
#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

#include "store_int.h"

enum store_rc
rating_apply(struct store *s, const struct store_write *w)
{
	sqlite3_stmt *st;
	struct buf payload;
	char id[48];
	const char *status;
	uint64_t seq;
	enum store_rc rc = STORE_ERR;
	int step, rated;

	if ((st = store_stmt(s, "SELECT status, (SELECT count(*) FROM ratings r "
				"WHERE r.case_no = c.case_no) FROM cases c WHERE case_no = ?1")) ==
	    NULL)
		return STORE_ERR;
	store_bind_text(st, 1, w->case_no);
	if ((step = sqlite3_step(st)) != SQLITE_ROW) {
		sqlite3_reset(st);
		return step == SQLITE_DONE ? STORE_NOT_FOUND : STORE_ERR;
	}
	status = (const char *)sqlite3_column_text(st, 0);
	rated = sqlite3_column_int(st, 1);
	if (rated)
		rc = STORE_CONFLICT;
	else if (status == NULL || (strcmp(status, "answered") != 0 &&
	    strcmp(status, "resolved") != 0 && strcmp(status, "rejected") != 0))
		rc = STORE_NOT_YET;
	sqlite3_reset(st);
	if (rc != STORE_ERR)
		return rc;
	if ((rc = write_next_seq(s, &seq)) != STORE_OK)
		return rc;
	*w->at = write_seq_time(seq);
	buf_init(&payload, 16 * 1024);
	rc = STORE_ERR;
	if (record_id_make(id, sizeof(id), s->hall_code, 'R', seq) == -1 ||
	    record_rating_json(&payload, id, s->hall_code, w->case_no, w->level, w->comment,
		*w->at) == -1 ||
	    (st = store_stmt(s, "INSERT INTO ratings (id, case_no, level, comment, at) "
				"VALUES (?1, ?2, ?3, ?4, ?5)")) == NULL)
		goto done;
	store_bind_text(st, 1, id);
	store_bind_text(st, 2, w->case_no);
	sqlite3_bind_int(st, 3, w->level);
	store_bind_text(st, 4, w->comment);
	sqlite3_bind_int64(st, 5, *w->at);
	if (store_done(s, st) == 0 &&
	    write_outbox_add(s, id, "rating", w->case_no, *w->at, &payload) == 0)
		rc = STORE_OK;
done:
	buf_free(&payload);
	return rc;
}

enum store_rc
store_rating_create(struct store *s, const char *case_no, int level, const char *comment,
    time_t *at)
{
	struct store_write w = {.kind = STORE_WRITE_RATING, .case_no = case_no, .level = level,
	    .comment = comment, .at = at};

	store_write_group(s, &w, 1);
	return w.rc;
}
