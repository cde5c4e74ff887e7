/*
 * Applying the county's downlink to the hall store. Every function is idempotent (the
 * county may send a row again after a lost acknowledgement), and a batch is applied in one
 * transaction, committed durably before the county is told.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "store_int.h"

int
downlink_begin(struct store *s)
{
	return store_begin_write(s);
}

int
downlink_commit(struct store *s)
{
	char now[32];

	snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
	if (store_meta_set(s, "last_downlink_at", now) == -1 || store_commit(s) == -1) {
		downlink_rollback(s);
		return -1;
	}
	return 0;
}

void
downlink_rollback(struct store *s)
{
	store_rollback(s);
}

/*
 * The case's status is its latest county event's (by time, then county order); the hall's
 * own 'delivered' only ever replaces 'received'. A reply is the note of the latest event
 * that closes the case (answered, resolved, rejected: a rejection's note is its reason).
 */
int
downlink_event(struct store *s, int64_t county_seq, const char *case_no, const char *status,
    const char *note, const char *actor, time_t at)
{
	sqlite3_stmt *st;
	char id[48];

	snprintf(id, sizeof(id), "county-%lld", (long long)county_seq);
	if ((st = store_stmt(s, "INSERT OR IGNORE INTO case_events "
				"(id, case_no, status, note, actor, at) "
				"SELECT ?1, ?2, ?3, ?4, ?5, ?6 WHERE EXISTS "
				"(SELECT 1 FROM cases WHERE case_no = ?2)")) == NULL)
		return -1;
	store_bind_text(st, 1, id);
	store_bind_text(st, 2, case_no);
	store_bind_text(st, 3, status);
	store_bind_text(st, 4, note);
	store_bind_text(st, 5, actor);
	sqlite3_bind_int64(st, 6, at);
	if (store_done(s, st) == -1)
		return -1;
	if ((st = store_stmt(s, "UPDATE cases SET "
		"status = coalesce((SELECT status FROM case_events e WHERE e.case_no = ?1 "
		"  AND e.id LIKE 'county-%' ORDER BY e.at DESC, "
		"  CAST(substr(e.id, 8) AS INTEGER) DESC LIMIT 1), status), "
		"reply_text = coalesce((SELECT note FROM case_events e WHERE e.case_no = ?1 "
		"  AND e.id LIKE 'county-%' AND e.note IS NOT NULL "
		"  AND e.status IN ('answered','resolved','rejected') "
		"  ORDER BY e.at DESC, CAST(substr(e.id, 8) AS INTEGER) DESC LIMIT 1), reply_text), "
		"reply_at = coalesce((SELECT at FROM case_events e WHERE e.case_no = ?1 "
		"  AND e.id LIKE 'county-%' AND e.note IS NOT NULL "
		"  AND e.status IN ('answered','resolved','rejected') "
		"  ORDER BY e.at DESC, CAST(substr(e.id, 8) AS INTEGER) DESC LIMIT 1), reply_at), "
		"updated_at = ?2 WHERE case_no = ?1")) == NULL)
		return -1;
	store_bind_text(st, 1, case_no);
	sqlite3_bind_int64(st, 2, time(NULL));
	return store_done(s, st);
}

int
downlink_guide(struct store *s, const struct guide *g)
{
	const char *f[] = {g->id, g->name, g->department, g->materials, g->time_limit, g->fees,
	    g->fee_basis, g->delivery, g->consult, g->address, g->hours};
	sqlite3_stmt *st;
	int i;

	if ((st = store_stmt(s, "INSERT INTO guides (id, name, department, materials, "
		"time_limit, fees, fee_basis, delivery, consult, address, hours, updated_at) "
		"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) "
		"ON CONFLICT (id) DO UPDATE SET name = excluded.name, "
		"department = excluded.department, materials = excluded.materials, "
		"time_limit = excluded.time_limit, fees = excluded.fees, "
		"fee_basis = excluded.fee_basis, delivery = excluded.delivery, "
		"consult = excluded.consult, address = excluded.address, hours = excluded.hours, "
		"updated_at = excluded.updated_at")) == NULL)
		return -1;
	for (i = 0; i < 11; i++)
		store_bind_text(st, i + 1, f[i] != NULL ? f[i] : "");
	sqlite3_bind_int64(st, 12, g->updated_at);
	return store_done(s, st);
}

int
downlink_calendar(struct store *s, const struct hall_config *cfg, const char *text)
{
	struct calendar *cal = calendar_new();
	char err[256];
	int rc = -1;

	if (cal == NULL)
		return -1;
	/* a table the county got wrong is said loudly, and must not stop the rest */
	if (calendar_parse(cal, text, strlen(text), err, sizeof(err)) == -1) {
		log_warnx("downlink: the county's calendar is refused: %s", err);
		rc = 0;
	} else
		rc = store_calendar_import_locked(s, cal, cfg) < 0 ? -1 : 0;
	calendar_free(cal);
	return rc;
}
