/*
 * Appointments at the hall (SPEC 4.5). The county publishes one schedule document per hall
 * (the items, their weekly slots with a capacity each, the closed days); the downlink hands
 * it to store_schedule_apply, which keeps it when it is newer than the one held and parses
 * it into appt_items, appt_slots and appt_closed (sql/hall/008).
 *
 * A booking (appt_apply) runs inside hall-write's group commit (write_group.c), in one
 * write transaction: it checks the slot against the schedule and the calendar
 * (lib/core/slots.c), counts the slot's live bookings, and writes the appointment and its
 * `appointment` record. SQLite has one writer at a time, so the count and the insert are
 * one step no other booking can come between: a slot is never booked beyond its capacity.
 * A cancellation frees the place at once and writes an `appt_event` record; so does the
 * window's mark of attended or no_show (appt_mark_apply), once. These records are for the
 * county alone (outbox.only_for).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>
#include <sqlite3.h>

#include "store_int.h"

#define APPT_MAX_ITEMS 200
#define APPT_MAX_SLOTS 2000	/* in the whole document */
#define APPT_MAX_CLOSED 400

/* ---- the schedule document ---------------------------------------------------------- */

static int
sched_text(json_t *o, const char *key, size_t max, int required, const char **out)
{
	json_t *v = json_object_get(o, key);

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return required ? -1 : 0;
	if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > max ||
	    !utf8_valid(json_string_value(v), json_string_length(v)))
		return -1;
	*out = json_string_value(v);
	return 0;
}

static int
sched_slot(struct store *s, const char *item, json_t *slot, char *why, size_t whylen)
{
	json_t *wd = json_object_get(slot, "weekday"), *cap = json_object_get(slot, "capacity");
	const char *start, *end;
	sqlite3_stmt *st;
	int step;

	if (!json_is_object(slot) || !json_is_integer(wd) || json_integer_value(wd) < 1 ||
	    json_integer_value(wd) > 7 || !json_is_integer(cap) || json_integer_value(cap) < 0 ||
	    json_integer_value(cap) > 10000 || sched_text(slot, "start", 5, 1, &start) == -1 ||
	    sched_text(slot, "end", 5, 1, &end) == -1 || slots_parse_time(start) == -1 ||
	    slots_parse_time(end) <= slots_parse_time(start)) {
		snprintf(why, whylen, "item %s: a slot without weekday 1-7, HH:MM start before "
				      "end, capacity 0-10000", item);
		return -2;
	}
	if ((st = store_stmt(s, "INSERT INTO appt_slots (item, weekday, start, end, capacity) "
				"VALUES (?1, ?2, ?3, ?4, ?5)")) == NULL)
		return -1;
	store_bind_text(st, 1, item);
	sqlite3_bind_int64(st, 2, json_integer_value(wd));
	store_bind_text(st, 3, start);
	store_bind_text(st, 4, end);
	sqlite3_bind_int64(st, 5, json_integer_value(cap));
	step = sqlite3_step(st);
	sqlite3_reset(st);
	if ((step & 0xff) == SQLITE_CONSTRAINT) {
		snprintf(why, whylen, "item %s: two slots start at %s on weekday %d", item, start,
		    (int)json_integer_value(wd));
		return -2;
	}
	return step == SQLITE_DONE ? 0 : -1;
}

static int
sched_item(struct store *s, json_t *it, int pos, size_t *nslots, char *why, size_t whylen)
{
	const char *id, *name, *guide, *place;
	json_t *slots = json_object_get(it, "slots"), *slot;
	sqlite3_stmt *st;
	size_t i;
	int rc;

	if (!json_is_object(it) || sched_text(it, "id", 64, 1, &id) == -1 ||
	    sched_text(it, "name", 200, 1, &name) == -1 ||
	    sched_text(it, "guide_id", 128, 0, &guide) == -1 ||
	    sched_text(it, "place", 200, 1, &place) == -1 || !json_is_array(slots)) {
		snprintf(why, whylen, "item %d: id, name, place and slots are required", pos + 1);
		return -2;
	}
	if ((st = store_stmt(s, "INSERT INTO appt_items (id, name, guide_id, place, position) "
				"VALUES (?1, ?2, ?3, ?4, ?5)")) == NULL)
		return -1;
	store_bind_text(st, 1, id);
	store_bind_text(st, 2, name);
	store_bind_text(st, 3, guide);
	store_bind_text(st, 4, place);
	sqlite3_bind_int(st, 5, pos);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if ((rc & 0xff) == SQLITE_CONSTRAINT) {
		snprintf(why, whylen, "item %s twice", id);
		return -2;
	}
	if (rc != SQLITE_DONE)
		return -1;
	json_array_foreach(slots, i, slot) {
		if (++*nslots > APPT_MAX_SLOTS) {
			snprintf(why, whylen, "more than %d slots", APPT_MAX_SLOTS);
			return -2;
		}
		if ((rc = sched_slot(s, id, slot, why, whylen)) != 0)
			return rc;
	}
	return 0;
}

/* The document into the tables, which it replaces whole: 0, -2 refused (why), -1. */
static int
sched_load(struct store *s, json_t *doc, char *why, size_t whylen)
{
	static const char *const clear[] = {"DELETE FROM appt_items", "DELETE FROM appt_slots",
	    "DELETE FROM appt_closed"};
	json_t *items = json_object_get(doc, "items"), *closed = json_object_get(doc, "closed");
	json_t *v;
	const char *hall;
	size_t i, nslots = 0;
	struct ymd d;
	int rc;

	if (sched_text(doc, "hall_code", 12, 0, &hall) == -1 ||
	    (hall != NULL && strcmp(hall, s->hall_code) != 0)) {
		snprintf(why, whylen, "the document is for another hall");
		return -2;
	}
	if (!json_is_array(items) || json_array_size(items) > APPT_MAX_ITEMS ||
	    (closed != NULL && !json_is_null(closed) &&
		(!json_is_array(closed) || json_array_size(closed) > APPT_MAX_CLOSED))) {
		snprintf(why, whylen, "items must be an array of at most %d, closed of at most %d",
		    APPT_MAX_ITEMS, APPT_MAX_CLOSED);
		return -2;
	}
	for (i = 0; i < 3; i++)
		if (store_run(s, clear[i]) == -1)
			return -1;
	json_array_foreach(items, i, v)
		if ((rc = sched_item(s, v, (int)i, &nslots, why, whylen)) != 0)
			return rc;
	if (!json_is_array(closed))
		return 0;
	json_array_foreach(closed, i, v) {
		sqlite3_stmt *st;

		if (!json_is_string(v) || slots_parse_date(json_string_value(v), &d) == -1) {
			snprintf(why, whylen, "closed: a day that is not YYYY-MM-DD");
			return -2;
		}
		if ((st = store_stmt(s, "INSERT OR IGNORE INTO appt_closed (day) VALUES (?1)")) ==
		    NULL)
			return -1;
		store_bind_text(st, 1, json_string_value(v));
		if (store_done(s, st) == -1)
			return -1;
	}
	return 0;
}

long long
store_schedule_version(struct store *s)
{
	sqlite3_stmt *st = store_stmt(s, "SELECT coalesce(max(version), 0) FROM appt_schedule");
	long long v;

	if (st == NULL || store_scalar(st, &v) == -1)
		return -1;
	return v;
}

/* Inside a write transaction: 1, 0, -2, -1 as store_schedule_apply. */
static int
schedule_apply_locked(struct store *s, long long version, const char *body)
{
	char why[160] = "";
	json_error_t jerr;
	sqlite3_stmt *st;
	long long held;
	json_t *doc;
	int rc;

	if ((held = store_schedule_version(s)) == -1)
		return -1;
	if (version <= held)
		return 0;	/* the same again, or one older that came late */
	if ((doc = json_loads(body, JSON_REJECT_DUPLICATES, &jerr)) == NULL ||
	    !json_is_object(doc)) {
		log_warnx("appointments: schedule version %lld refused: not a JSON object", version);
		json_decref(doc);
		return -2;
	}
	if (store_run(s, "SAVEPOINT schedule") == -1) {
		json_decref(doc);
		return -1;
	}
	rc = sched_load(s, doc, why, sizeof(why));
	json_decref(doc);
	if (rc == 0) {
		if ((st = store_stmt(s, "INSERT INTO appt_schedule (one, version, body, applied_at) "
					"VALUES (1, ?1, ?2, ?3) ON CONFLICT (one) DO UPDATE SET "
					"version = excluded.version, body = excluded.body, "
					"applied_at = excluded.applied_at")) == NULL)
			rc = -1;
		else {
			sqlite3_bind_int64(st, 1, version);
			store_bind_text(st, 2, body);
			sqlite3_bind_int64(st, 3, time(NULL));
			rc = store_done(s, st);
		}
	}
	if (rc != 0) {
		/* the document that was held stays, whole */
		store_run(s, "ROLLBACK TO schedule");
		store_run(s, "RELEASE schedule");
		if (rc == -2)
			log_warnx("appointments: schedule version %lld refused: %s", version, why);
		return rc;
	}
	if (store_run(s, "RELEASE schedule") == -1)
		return -1;
	log_info("appointments: schedule version %lld applied", version);
	return 1;
}

int
store_schedule_apply(struct store *s, long long version, const char *body)
{
	int rc;

	if (!sqlite3_get_autocommit(s->db))
		return schedule_apply_locked(s, version, body);
	if (store_begin_write(s) == -1)
		return -1;
	rc = schedule_apply_locked(s, version, body);
	if (rc >= 0 && store_commit(s) == -1)
		rc = -1;
	store_rollback(s);
	return rc;
}

/* ---- reading the schedule ----------------------------------------------------------- */

enum { AI_ID, AI_NAME, AI_GUIDE_ID, AI_PLACE };
#define APPT_ITEM_COLUMNS "id, name, guide_id, place"

static int
item_fill(sqlite3_stmt *st, struct appt_item *it)
{
	it->id = store_col_dup(st, AI_ID);
	it->name = store_col_dup(st, AI_NAME);
	it->guide_id = store_col_dup(st, AI_GUIDE_ID);
	it->place = store_col_dup(st, AI_PLACE);
	return it->id == NULL || it->name == NULL || it->place == NULL ? -1 : 0;
}

static void
item_free(struct appt_item *it)
{
	free(it->id);
	free(it->name);
	free(it->guide_id);
	free(it->place);
	memset(it, 0, sizeof(*it));
}

int
store_appt_items(struct store *s, int (*fn)(const struct appt_item *, void *), void *arg)
{
	sqlite3_stmt *st = store_stmt(s, "SELECT " APPT_ITEM_COLUMNS " FROM appt_items "
					 "ORDER BY position");
	struct appt_item it;
	int step, rc = 0;

	if (st == NULL)
		return -1;
	while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
		memset(&it, 0, sizeof(it));
		rc = item_fill(st, &it) == -1 ? -1 : fn(&it, arg);
		item_free(&it);
	}
	if (rc == 0 && step != SQLITE_DONE)
		rc = -1;
	sqlite3_reset(st);
	return rc;
}

void
appt_sched_free(struct appt_sched *a)
{
	size_t i;

	if (a == NULL)
		return;
	item_free(&a->item);
	free(a->defs);
	for (i = 0; i < a->nclosed; i++)
		free(a->closed[i]);
	free(a->closed);
	memset(a, 0, sizeof(*a));
}

static int
sched_slots_read(struct store *s, struct appt_sched *a)
{
	enum { SL_WEEKDAY, SL_START, SL_END, SL_CAPACITY };
	sqlite3_stmt *st = store_stmt(s, "SELECT weekday, start, end, capacity FROM appt_slots "
					 "WHERE item = ?1 ORDER BY weekday, start");
	struct slot_def *d;
	int step;

	if (st == NULL)
		return -1;
	store_bind_text(st, 1, a->item.id);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		if ((d = reallocarray(a->defs, a->ndefs + 1, sizeof(*d))) == NULL)
			break;
		a->defs = d;
		d = &a->defs[a->ndefs++];
		d->weekday = sqlite3_column_int(st, SL_WEEKDAY);
		store_col_copy(d->start, sizeof(d->start), st, SL_START);
		store_col_copy(d->end, sizeof(d->end), st, SL_END);
		d->capacity = sqlite3_column_int(st, SL_CAPACITY);
	}
	sqlite3_reset(st);
	if (step != SQLITE_DONE)
		return -1;
	if ((st = store_stmt(s, "SELECT day FROM appt_closed ORDER BY day")) == NULL)
		return -1;
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		char **c;

		if ((c = reallocarray(a->closed, a->nclosed + 1, sizeof(*c))) == NULL)
			break;
		a->closed = c;
		if ((c[a->nclosed] = store_col_dup(st, 0)) == NULL)
			break;
		a->nclosed++;
	}
	sqlite3_reset(st);
	return step == SQLITE_DONE ? 0 : -1;
}

enum store_rc
store_appt_sched(struct store *s, const char *item, struct appt_sched *a)
{
	sqlite3_stmt *st;
	int step;

	memset(a, 0, sizeof(*a));
	if ((st = store_stmt(s, "SELECT " APPT_ITEM_COLUMNS " FROM appt_items WHERE id = ?1")) ==
	    NULL)
		return STORE_ERR;
	store_bind_text(st, 1, item);
	if ((step = sqlite3_step(st)) == SQLITE_ROW && item_fill(st, &a->item) == -1)
		step = SQLITE_NOMEM;
	sqlite3_reset(st);
	if (step == SQLITE_DONE)
		return STORE_NOT_FOUND;
	if (step != SQLITE_ROW || sched_slots_read(s, a) == -1) {
		log_warnx("%s: %s", __func__, store_errmsg(s));
		appt_sched_free(a);
		return STORE_ERR;
	}
	return STORE_OK;
}

void
appt_sched_slots_in(const struct appt_sched *a, const struct calendar *cal, time_t now,
    int days_ahead, struct slots_in *in)
{
	memset(in, 0, sizeof(*in));
	in->cal = cal;
	in->defs = a->defs;
	in->ndefs = a->ndefs;
	in->closed = (const char *const *)a->closed;
	in->nclosed = a->nclosed;
	in->today = slots_today(now);
	in->days_ahead = days_ahead;
}

long
store_appt_taken(struct store *s, const char *item, const char *date, const char *start)
{
	sqlite3_stmt *st = store_stmt(s, "SELECT count(*) FROM appointments WHERE item = ?1 "
					 "AND date = ?2 AND start = ?3 "
					 "AND status IN ('booked', 'confirmed')");
	long long n;

	if (st == NULL)
		return -1;
	store_bind_text(st, 1, item);
	store_bind_text(st, 2, date);
	store_bind_text(st, 3, start);
	return store_scalar(st, &n) == -1 ? -1 : (long)n;
}

/* ---- booking and cancelling --------------------------------------------------------- */

const char *
appt_refusal_field(enum appt_refusal why)
{
	switch (why) {
	case APPT_BAD_ITEM: return "item";
	case APPT_BAD_DATE:
	case APPT_PAST:
	case APPT_FAR:
	case APPT_NOT_WORKDAY: return "date";
	case APPT_BAD_START: return "start";
	case APPT_OK:
	case APPT_FULL: break;
	}
	return NULL;
}

/* The slot the booking asks for, or why not; *cap and *end from the schedule. */
static enum store_rc
appt_slot(struct store *s, struct appt_booking *b, const struct appt_sched *a, int *cap)
{
	const struct calendar *cal;
	const struct slot_def *def;
	struct slots_in in;
	struct ymd d;

	if ((cal = store_calendar(s)) == NULL)
		return STORE_ERR;
	appt_sched_slots_in(a, cal, time(NULL), b->cfg->appt_days_ahead, &in);
	if (slots_parse_date(b->date, &d) == -1)
		b->refused = APPT_BAD_DATE;
	else
		switch (slots_date_check(&in, &d)) {
		case SLOTS_PAST: b->refused = APPT_PAST; break;
		case SLOTS_FAR: b->refused = APPT_FAR; break;
		case SLOTS_NOT_WORKDAY: b->refused = APPT_NOT_WORKDAY; break;
		case SLOTS_DATE_OK:
			if ((def = slots_find(&in, &d, b->start)) == NULL)
				b->refused = APPT_BAD_START;
			else {
				*cap = def->capacity;
				snprintf(b->end, sizeof(b->end), "%s", def->end);
			}
			break;
		}
	return b->refused == APPT_OK ? STORE_OK : STORE_NOT_FOUND;
}

static int
appt_insert(struct store *s, const struct appt_booking *b, const char *mac)
{
	sqlite3_stmt *st;

	if ((st = store_stmt(s, "INSERT INTO appointments (id, appointment_no, query_code, "
				"query_mac, item, item_name, date, start, end, place, name, phone, "
				"note, channel, registrar, notify, created_at, updated_at, dedup_key, "
				"email) "
				"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, "
				"coalesce(?14, 'online'), ?15, ?16, ?17, ?17, ?18, ?19)")) == NULL)
		return -1;
	store_bind_text(st, 1, b->id);
	store_bind_text(st, 2, b->appointment_no);
	store_bind_text(st, 3, b->query_code);
	store_bind_text(st, 4, mac);
	store_bind_text(st, 5, b->item);
	store_bind_text(st, 6, b->item_name);
	store_bind_text(st, 7, b->date);
	store_bind_text(st, 8, b->start);
	store_bind_text(st, 9, b->end);
	store_bind_text(st, 10, b->place);
	store_bind_text(st, 11, b->name);
	store_bind_text(st, 12, b->phone);
	store_bind_text(st, 13, b->note);
	store_bind_text(st, 14, b->channel);
	store_bind_text(st, 15, b->registrar);
	sqlite3_bind_int(st, 16, !b->notify_off);
	sqlite3_bind_int64(st, 17, b->created_at);
	store_bind_text(st, 18, b->dedup_key);
	store_bind_text(st, 19, b->email);
	return store_done(s, st);
}

/*
 * The booking made before with the same retry key: its receipt into b (replayed), and
 * STORE_OK; STORE_NOT_FOUND when there is none.
 */
static enum store_rc
appt_replay(struct store *s, struct appt_booking *b)
{
	enum { RP_ID, RP_NO, RP_CODE, RP_ITEM_NAME, RP_END, RP_PLACE, RP_CREATED, RP_GUIDE };
	sqlite3_stmt *st;
	enum store_rc rc = STORE_ERR;
	int step;

	if ((st = store_stmt(s, "SELECT a.id, a.appointment_no, a.query_code, a.item_name, a.end, "
				"a.place, a.created_at, i.guide_id FROM appointments a "
				"LEFT JOIN appt_items i ON i.id = a.item WHERE a.dedup_key = ?1")) == NULL)
		return STORE_ERR;
	store_bind_text(st, 1, b->dedup_key);
	if ((step = sqlite3_step(st)) == SQLITE_ROW) {
		store_col_copy(b->id, sizeof(b->id), st, RP_ID);
		store_col_copy(b->appointment_no, sizeof(b->appointment_no), st, RP_NO);
		store_col_copy(b->query_code, sizeof(b->query_code), st, RP_CODE);
		store_col_copy(b->item_name, sizeof(b->item_name), st, RP_ITEM_NAME);
		store_col_copy(b->end, sizeof(b->end), st, RP_END);
		store_col_copy(b->place, sizeof(b->place), st, RP_PLACE);
		b->created_at = (time_t)sqlite3_column_int64(st, RP_CREATED);
		store_col_copy(b->guide_id, sizeof(b->guide_id), st, RP_GUIDE);
		b->replayed = 1;
		rc = STORE_OK;
	} else if (step == SQLITE_DONE)
		rc = STORE_NOT_FOUND;
	sqlite3_reset(st);
	return rc;
}

enum store_rc
appt_apply(struct store *s, const struct store_write *w)
{
	struct appt_booking *b = w->booking;
	struct appt_sched a;
	struct appt_rec rec;
	struct buf payload;
	enum store_rc rc;
	char mac[65];
	uint64_t seq;
	long taken;
	int cap = 0;

	b->refused = APPT_OK;
	b->replayed = 0;
	b->id[0] = b->appointment_no[0] = b->query_code[0] = '\0';
	/* a booking sent again (the same key and content) gets its first receipt */
	if (b->dedup_key != NULL && (rc = appt_replay(s, b)) != STORE_NOT_FOUND)
		return rc;
	if ((rc = store_appt_sched(s, b->item, &a)) != STORE_OK) {
		if (rc == STORE_NOT_FOUND)
			b->refused = APPT_BAD_ITEM;
		return rc;
	}
	snprintf(b->item_name, sizeof(b->item_name), "%s", a.item.name);
	snprintf(b->place, sizeof(b->place), "%s", a.item.place);
	snprintf(b->guide_id, sizeof(b->guide_id), "%s", a.item.guide_id != NULL ?
	    a.item.guide_id : "");
	rc = appt_slot(s, b, &a, &cap);
	appt_sched_free(&a);
	if (rc != STORE_OK)
		return rc;
	/* the count and the insert below are one write transaction: nobody books between */
	if ((taken = store_appt_taken(s, b->item, b->date, b->start)) == -1)
		return STORE_ERR;
	if (taken >= cap) {
		b->refused = APPT_FULL;
		return STORE_CONFLICT;
	}
	if ((rc = write_next_seq(s, &seq)) != STORE_OK)
		return rc;
	if (caseno_make(b->appointment_no, s->hall_code, seq) == -1 ||
	    record_id_make(b->id, sizeof(b->id), s->hall_code, 'A', seq) == -1)
		return STORE_ERR;
	snprintf(b->query_code, sizeof(b->query_code), "%06" PRIu32,
	    randombytes_uniform(1000000));
	b->created_at = write_seq_time(seq);
	if (store_query_mac(s, b->appointment_no, b->query_code, mac) == -1)
		return STORE_ERR;
	rec = (struct appt_rec){.appointment_no = b->appointment_no, .item = b->item,
	    .item_name = b->item_name, .date = b->date, .start = b->start, .end = b->end,
	    .place = b->place, .name = b->name, .phone = b->phone, .note = b->note,
	    .channel = b->channel, .registrar = b->registrar, .query_mac = mac,
	    .email = b->email, .notify_off = b->notify_off};
	buf_init(&payload, 64 * 1024);
	rc = STORE_ERR;
	if (record_appt_json(&payload, b->id, s->hall_code, &rec, b->created_at) == 0 &&
	    appt_insert(s, b, mac) == 0 &&
	    write_outbox_add_for(s, b->id, "appointment", b->appointment_no, b->created_at,
		&payload, "county") == 0)
		rc = STORE_OK;
	buf_free(&payload);
	return rc;
}

enum store_rc
store_appt_book(struct store *s, struct appt_booking *b)
{
	struct store_write w = {.kind = STORE_WRITE_APPT, .booking = b};

	store_write_group(s, &w, 1);
	return w.rc;
}

/*
 * What happens to an appointment after its booking, by the hall (the citizen's cancel,
 * the window's attended or no_show): its status, an appt_events row and the appt_event
 * record for the county, in the caller's write transaction. The caller has checked that
 * the move is allowed.
 */
static enum store_rc
appt_event_write(struct store *s, const char *appointment_no, const char *status,
    char id[48], time_t *at)
{
	sqlite3_stmt *st;
	struct buf payload;
	enum store_rc rc;
	uint64_t seq;

	if ((rc = write_next_seq(s, &seq)) != STORE_OK)
		return rc;
	if (record_id_make(id, 48, s->hall_code, 'E', seq) == -1)
		return STORE_ERR;
	*at = write_seq_time(seq);
	buf_init(&payload, 4096);
	rc = STORE_ERR;
	if (record_appt_event_json(&payload, id, s->hall_code, appointment_no, status, *at) == -1)
		goto done;
	if ((st = store_stmt(s, "UPDATE appointments SET status = ?2, updated_at = ?3 "
				"WHERE appointment_no = ?1")) == NULL)
		goto done;
	store_bind_text(st, 1, appointment_no);
	store_bind_text(st, 2, status);
	sqlite3_bind_int64(st, 3, *at);
	if (store_done(s, st) == -1)
		goto done;
	if ((st = store_stmt(s, "INSERT INTO appt_events (id, appointment_no, status, at) "
				"VALUES (?1, ?2, ?3, ?4)")) == NULL)
		goto done;
	store_bind_text(st, 1, id);
	store_bind_text(st, 2, appointment_no);
	store_bind_text(st, 3, status);
	sqlite3_bind_int64(st, 4, *at);
	if (store_done(s, st) == 0 &&
	    write_outbox_add_for(s, id, "appt_event", appointment_no, *at, &payload,
		"county") == 0)
		rc = STORE_OK;
done:
	buf_free(&payload);
	return rc;
}

/*
 * Whether the appointment may move: 1 when it is booked or confirmed and its day is today
 * or later (on_or_after_today: a cancellation) or today or earlier (else: the window's
 * marks), 0 when not, -1 when there is no such appointment (or the read failed).
 */
static int
appt_may_move(struct store *s, const char *appointment_no, int on_or_after_today)
{
	char today[11];
	struct ymd t = slots_today(time(NULL));
	sqlite3_stmt *st;
	long long ok;

	slots_format_date(today, &t);
	st = store_stmt(s, on_or_after_today ?
	    "SELECT status IN ('booked', 'confirmed') AND date >= ?2 "
	    "FROM appointments WHERE appointment_no = ?1" :
	    "SELECT status IN ('booked', 'confirmed') AND date <= ?2 "
	    "FROM appointments WHERE appointment_no = ?1");
	if (st == NULL)
		return -1;
	store_bind_text(st, 1, appointment_no);
	store_bind_text(st, 2, today);
	if (store_scalar(st, &ok) == -1)
		return -1;
	return ok != 0;
}

enum store_rc
appt_cancel_apply(struct store *s, const struct store_write *w)
{
	struct appt_cancel *c = w->cancel;

	c->id[0] = '\0';
	switch (appt_may_move(s, c->appointment_no, 1)) {
	case -1: return STORE_NOT_FOUND;
	case 0: return STORE_NOT_YET;
	}
	return appt_event_write(s, c->appointment_no, "cancelled", c->id, &c->at);
}

enum store_rc
store_appt_cancel(struct store *s, struct appt_cancel *c)
{
	struct store_write w = {.kind = STORE_WRITE_APPT_CANCEL, .cancel = c};

	store_write_group(s, &w, 1);
	return w.rc;
}

/*
 * The window marks an appointment of today or earlier attended or no_show (SPEC 4.4), once:
 * only a booked or confirmed one moves, so a second mark, or a cancelled, refused or
 * future one, is refused.
 */
enum store_rc
appt_mark_apply(struct store *s, const struct store_write *w)
{
	struct appt_mark *m = w->mark;

	m->id[0] = '\0';
	if (m->status == NULL ||
	    (strcmp(m->status, "attended") != 0 && strcmp(m->status, "no_show") != 0))
		return STORE_ERR;
	switch (appt_may_move(s, m->appointment_no, 0)) {
	case -1: return STORE_NOT_FOUND;
	case 0: return STORE_NOT_YET;
	}
	return appt_event_write(s, m->appointment_no, m->status, m->id, &m->at);
}

enum store_rc
store_appt_mark(struct store *s, struct appt_mark *m)
{
	struct store_write w = {.kind = STORE_WRITE_APPT_MARK, .mark = m};

	store_write_group(s, &w, 1);
	return w.rc;
}

/* ---- the window's list of a day ------------------------------------------------------- */

int
store_appt_day(struct store *s, const char *date, int (*fn)(const struct appt_row *, void *),
    void *arg)
{
	enum { AD_NO, AD_ITEM_NAME, AD_DATE, AD_START, AD_END, AD_NAME, AD_PHONE, AD_STATUS,
		AD_CHANNEL, AD_REGISTRAR };
	sqlite3_stmt *st = store_stmt(s, "SELECT appointment_no, item_name, date, start, end, "
					 "name, phone, status, channel, registrar FROM appointments "
					 "WHERE date = ?1 ORDER BY start, item_name, appointment_no");
	struct appt_row row;
	int step, rc = 0;

	if (st == NULL)
		return -1;
	store_bind_text(st, 1, date);
	while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
		row = (struct appt_row){
			.appointment_no = (const char *)sqlite3_column_text(st, AD_NO),
			.item_name = (const char *)sqlite3_column_text(st, AD_ITEM_NAME),
			.date = (const char *)sqlite3_column_text(st, AD_DATE),
			.start = (const char *)sqlite3_column_text(st, AD_START),
			.end = (const char *)sqlite3_column_text(st, AD_END),
			.name = (const char *)sqlite3_column_text(st, AD_NAME),
			.phone = (const char *)sqlite3_column_text(st, AD_PHONE),
			.status = (const char *)sqlite3_column_text(st, AD_STATUS),
			.channel = (const char *)sqlite3_column_text(st, AD_CHANNEL),
			.registrar = (const char *)sqlite3_column_text(st, AD_REGISTRAR),
		};
		if (row.appointment_no == NULL || row.item_name == NULL || row.start == NULL ||
		    row.end == NULL || row.name == NULL || row.phone == NULL || row.status == NULL)
			rc = -1;
		else
			rc = fn(&row, arg);
	}
	if (rc == 0 && step != SQLITE_DONE)
		rc = -1;
	if (rc == -1)
		log_warnx("%s: %s", __func__, store_errmsg(s));
	sqlite3_reset(st);
	return rc;
}

/* Who booked it: the window's account (registrar "" when the citizen booked) and when. */
enum store_rc
store_appt_origin(struct store *s, const char *appointment_no, char *registrar,
    time_t *created_at)
{
	enum { AO_REGISTRAR, AO_CREATED };
	sqlite3_stmt *st = store_stmt(s, "SELECT registrar, created_at FROM appointments "
					 "WHERE appointment_no = ?1");
	int step;

	registrar[0] = '\0';
	if (st == NULL)
		return STORE_ERR;
	store_bind_text(st, 1, appointment_no);
	if ((step = sqlite3_step(st)) == SQLITE_ROW) {
		store_col_copy(registrar, WINDOW_NAME_SIZE, st, AO_REGISTRAR);
		*created_at = (time_t)sqlite3_column_int64(st, AO_CREATED);
	}
	sqlite3_reset(st);
	return step == SQLITE_ROW ? STORE_OK : step == SQLITE_DONE ? STORE_NOT_FOUND : STORE_ERR;
}

/* ---- the citizen's lookup ------------------------------------------------------------ */

void
appt_view_free(struct appt_view *v)
{
	if (v == NULL)
		return;
	free(v->item);
	free(v->item_name);
	free(v->place);
	free(v->name);
	free(v->phone);
	free(v->note);
	free(v->status);
	free(v->reason);
	free(v->guide_id);
	memset(v, 0, sizeof(*v));
}

enum {
	AV_NO, AV_CODE, AV_MAC, AV_DATE, AV_START, AV_END, AV_ITEM, AV_ITEM_NAME, AV_PLACE,
	AV_NAME, AV_PHONE, AV_NOTE, AV_STATUS, AV_REASON, AV_GUIDE_ID, AV_CREATED, AV_UPDATED
};
static const char appt_get_sql[] =
    "SELECT a.appointment_no, a.query_code, a.query_mac, a.date, a.start, a.end, a.item, "
    "a.item_name, a.place, a.name, a.phone, a.note, a.status, a.reason, i.guide_id, "
    "a.created_at, a.updated_at FROM appointments a LEFT JOIN appt_items i ON i.id = a.item "
    "WHERE a.appointment_no = ?1";

enum store_rc
store_appt_get(struct store *s, const char *appointment_no, struct appt_view *v)
{
	sqlite3_stmt *st;
	int step;

	memset(v, 0, sizeof(*v));
	if ((st = store_stmt(s, appt_get_sql)) == NULL)
		return STORE_ERR;
	store_bind_text(st, 1, appointment_no);
	if ((step = sqlite3_step(st)) != SQLITE_ROW) {
		sqlite3_reset(st);
		if (step == SQLITE_DONE)
			return STORE_NOT_FOUND;
		log_warnx("%s: %s", __func__, store_errmsg(s));
		return STORE_ERR;
	}
	store_col_copy(v->appointment_no, sizeof(v->appointment_no), st, AV_NO);
	store_col_copy(v->query_code, sizeof(v->query_code), st, AV_CODE);
	store_col_copy(v->query_mac, sizeof(v->query_mac), st, AV_MAC);
	store_col_copy(v->date, sizeof(v->date), st, AV_DATE);
	store_col_copy(v->start, sizeof(v->start), st, AV_START);
	store_col_copy(v->end, sizeof(v->end), st, AV_END);
	v->item = store_col_dup(st, AV_ITEM);
	v->item_name = store_col_dup(st, AV_ITEM_NAME);
	v->place = store_col_dup(st, AV_PLACE);
	v->name = store_col_dup(st, AV_NAME);
	v->phone = store_col_dup(st, AV_PHONE);
	v->note = store_col_dup(st, AV_NOTE);
	v->status = store_col_dup(st, AV_STATUS);
	v->reason = store_col_dup(st, AV_REASON);
	v->guide_id = store_col_dup(st, AV_GUIDE_ID);
	v->created_at = sqlite3_column_int64(st, AV_CREATED);
	v->updated_at = sqlite3_column_int64(st, AV_UPDATED);
	sqlite3_reset(st);
	if (v->item == NULL || v->item_name == NULL || v->place == NULL || v->name == NULL ||
	    v->phone == NULL || v->status == NULL) {
		appt_view_free(v);
		return STORE_ERR;
	}
	return STORE_OK;
}

int
store_appt_code_ok(struct store *s, const struct appt_view *v, const char *code)
{
	if (strlen(code) != 6)
		return 0;
	if (v->query_code[0] != '\0')
		return sodium_memcmp(v->query_code, code, 6) == 0;
	return store_query_mac_ok(s, v->appointment_no, v->query_mac, code);
}

/* ---- the county's answers (downlink) ------------------------------------------------ */

/*
 * confirmed moves a booked appointment; refused a booked or confirmed one. Neither
 * undoes what the citizen did since (a cancellation) nor what happened at the window.
 */
int
store_appt_county_event(struct store *s, int64_t county_seq, const char *appointment_no,
    const char *status, const char *reason, time_t at)
{
	sqlite3_stmt *st;
	char id[48];

	if (strcmp(status, "confirmed") != 0 && strcmp(status, "refused") != 0) {
		log_warnx("appointments: county event %" PRId64 " has status %.20s: ignored",
		    county_seq, status);
		return 0;
	}
	snprintf(id, sizeof(id), "county-appt-%" PRId64, county_seq);
	if ((st = store_stmt(s, "INSERT OR IGNORE INTO appt_events (id, appointment_no, status, "
				"reason, at) SELECT ?1, ?2, ?3, ?4, ?5 WHERE EXISTS "
				"(SELECT 1 FROM appointments WHERE appointment_no = ?2)")) == NULL)
		return -1;
	store_bind_text(st, 1, id);
	store_bind_text(st, 2, appointment_no);
	store_bind_text(st, 3, status);
	store_bind_text(st, 4, reason);
	sqlite3_bind_int64(st, 5, at);
	if (store_done(s, st) == -1)
		return -1;
	if (sqlite3_changes(s->db) == 0)
		return 0;	/* applied before, or an appointment this hall does not hold */
	if ((st = store_stmt(s, "UPDATE appointments SET status = ?2, reason = ?3, "
				"updated_at = ?4 WHERE appointment_no = ?1 AND (status = 'booked' "
				"OR (status = 'confirmed' AND ?2 = 'refused'))")) == NULL)
		return -1;
	store_bind_text(st, 1, appointment_no);
	store_bind_text(st, 2, status);
	store_bind_text(st, 3, reason);
	sqlite3_bind_int64(st, 4, time(NULL));
	return store_done(s, st);
}
