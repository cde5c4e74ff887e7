/*
 * The hall store (SQLite): the connection and its statements, the schema, cases and ratings,
 * the group write, guides, the calendar held at the hall, and the sync side's outbox and
 * downlink. Prototypes are grouped under the file that defines them.
 */
#ifndef HALL_STORE_H
#define HALL_STORE_H

#include "core.h"

/* ---- lib/store/store.c -------------------------------------------------------------- */
enum store_rc {
	STORE_ERR = -1,		/* the store failed: 503 */
	STORE_OK = 0,
	STORE_NOT_FOUND,
	STORE_CONFLICT,		/* already done (a second rating) */
	STORE_NOT_YET,		/* not allowed in the case's status (rating before an answer) */
	STORE_CLOCK,		/* the clock is before the store's last record or implausible */
};
struct store;
/* readonly: the progress-lookup side, which never writes. */
struct store *store_open(const char *path, int readonly);
void store_close(struct store *);
const char *store_errmsg(struct store *);
/* Caps the connection's page cache (KiB): the agent walks the outbox once per batch and
 * needs little cache, and its memory is bounded whatever the backlog. */
int store_cache_limit(struct store *, int kib);
/* The SQLite handle under a store, for tests that look beneath it (tests/unit). */
struct sqlite3 *store_sqlite(struct store *);
/* meta[key] into out; 1 when present, 0 when absent, -1 on error. */
int store_meta(struct store *, const char *key, char *out, size_t outlen);

/* ---- lib/store/schema.c ------------------------------------------------------------- */
/* Applies every schema_dir/NNN_*.sql above PRAGMA user_version, each in one transaction. */
int store_migrate(struct store *, const char *schema_dir);
/* Binds the store to a hall; refuses a store made for another hall. */
int store_bind_hall(struct store *, const char *hall_code);
int store_exec_file(struct store *, const char *path);
long store_count(struct store *, const char *table);

/* ---- lib/store/case.c --------------------------------------------------------------- */
struct receipt {
	char id[48];
	char case_no[CASENO_LEN + 1];
	char query_code[7];
	time_t submitted_at, due_at;
	int due_provisional;
	int replayed;		/* the case existed: this is its first receipt again */
};
/* One transaction: the case, its first event and its outbox record; durable on return. */
enum store_rc store_case_create(struct store *, const struct hall_config *,
    const struct case_new *, struct receipt *);

struct case_event {
	char *status, *note;
	time_t at;
};
struct case_view {
	char case_no[CASENO_LEN + 1];
	char query_code[7];
	char *kind, *category, *subject, *body, *phone, *status, *reply_text;
	time_t submitted_at, due_at, reply_at;
	int due_provisional;
	struct case_event *events;
	size_t nevents;
	char query_mac[65];	/* a case the county sent back after a restore: its code's MAC */
	int rating_level;	/* 0: not rated */
	time_t rating_at;
	time_t synced_at;	/* when the hall last heard from the county; 0: never */
};
enum store_rc store_case_get(struct store *, const char *case_no, struct case_view *);
void case_view_free(struct case_view *);
/* 1 when code is the case's query code: the code itself, or for a case the county sent
 * back after a restore, its MAC (store_query_mac); compared in constant time. */
int store_case_code_ok(struct store *, const struct case_view *, const char *code);
/* HMAC-SHA-256 of "number\ncode" under the store's key (meta query_key, made on first
 * use), its first 128 bits in hex (QUERY_MAC_HEX characters): what the record of a case or
 * an appointment carries to the county, which keeps no code. 128 bits are plenty for a
 * 6-digit code, and the other 32 hex characters, which nothing compresses, were a quarter
 * of every case's compressed bytes on a weak link (sql/county/030). */
#define QUERY_MAC_HEX 32
int store_query_mac(struct store *, const char *number, const char *code, char out[65]);
/* The key made now, if a writable store has none yet (store_bind_hall): 0, or -1. */
int store_query_key_make(struct store *);
/* 1 when code is the one mac (a store_query_mac, or the whole 64-character HMAC a hall
 * wrote before the MAC was cut to 128 bits, which a restore may bring back) was made of;
 * compared in constant time. */
int store_query_mac_ok(struct store *, const char *number, const char *mac, const char *code);

/* ---- lib/store/rating.c ------------------------------------------------------------- */
/* One transaction: the rating (of an answered case, once) and its outbox record. */
enum store_rc store_rating_create(struct store *, const char *case_no, int level,
    const char *comment, time_t *at);

/* ---- lib/store/code.c --------------------------------------------------------------- */
/* A closed case gets no new query code this many days after its last change. */
#define CODE_CLOSED_DAYS 30
enum code_refusal {
	CODE_ISSUED = 0,
	CODE_NO_MOBILE,		/* the phone on file is a landline: no SMS can carry it */
	CODE_CLOSED,		/* resolved or rejected, more than CODE_CLOSED_DAYS ago */
	CODE_TOO_SOON,		/* one in the last 10 minutes */
	CODE_DAY_LIMIT,		/* 3 in the last 24 hours */
};
/* The refusal's name, as the API's error code says it. */
const char *code_refusal_text(enum code_refusal);
/* A citizen's request for a new query code (SPEC 5.6). */
struct code_resend {
	char case_no[CASENO_LEN + 1];	/* in: a valid case (or appointment) number */
	int appointment;		/* in: 1: case_no is an appointment's (appointments) */
	/* out */
	enum code_refusal refused;	/* with STORE_CONFLICT */
	int retry_after;		/* seconds, for CODE_TOO_SOON and CODE_DAY_LIMIT */
	char sent_to[32];		/* the phone on file's last four digits, "*******5678" */
	char code[7];			/* the new code: for the store's tests, never shown */
	char id[48];			/* its record's id */
};
/*
 * One transaction: a new code replaces the case's code and MAC and goes to the outbox in a
 * `code` record for the county alone; durable on return. STORE_OK, STORE_NOT_FOUND,
 * STORE_CONFLICT (r->refused says why: nothing written), STORE_CLOCK, STORE_ERR.
 */
enum store_rc store_code_resend(struct store *, struct code_resend *r);

/* ---- lib/store/appointment.c -------------------------------------------------------- */
/* Appointments (SPEC 4.5): the county's schedule held at the hall, bookings; see the file. */
/*
 * The schedule document (the contract in docs/ARCHITECTURE.md), applied only when version
 * is greater than the one held: 1 applied, 0 not newer (nothing done), -2 a document the
 * hall refuses (logged; nothing done), -1 the store failed. Inside the caller's write
 * transaction when one is open (the downlink's), else in one of its own.
 */
int store_schedule_apply(struct store *, long long version, const char *body);
/* The version held; 0 when none. -1 on error. */
long long store_schedule_version(struct store *);
/* An item that can be booked. */
struct appt_item {
	char *id, *name, *guide_id, *place;	/* guide_id NULL: none */
};
/* fn for every item, in the document's order; fn's non-zero stops and is returned. */
int store_appt_items(struct store *, int (*fn)(const struct appt_item *, void *), void *arg);
/* One item's schedule: its weekly slots (by weekday, then start) and the closed days. */
struct appt_sched {
	struct appt_item item;
	struct slot_def *defs;
	size_t ndefs;
	char **closed;
	size_t nclosed;
};
/* STORE_OK, STORE_NOT_FOUND (no such item), STORE_ERR. */
enum store_rc store_appt_sched(struct store *, const char *item, struct appt_sched *);
void appt_sched_free(struct appt_sched *);
/* The slots_in (lib/core/slots.c) of a schedule, for today at now. */
void appt_sched_slots_in(const struct appt_sched *, const struct calendar *, time_t now,
    int days_ahead, struct slots_in *);
/* The live bookings (booked, confirmed) of a slot. -1 on error. */
long store_appt_taken(struct store *, const char *item, const char *date, const char *start);

/* Why a booking was refused (STORE_NOT_FOUND: the field it names; STORE_CONFLICT: full). */
enum appt_refusal {
	APPT_OK = 0, APPT_BAD_ITEM, APPT_BAD_DATE, APPT_PAST, APPT_FAR, APPT_NOT_WORKDAY,
	APPT_BAD_START, APPT_FULL,
};
/* The field a refusal names ("item", "date", "start"; NULL for APPT_FULL). */
const char *appt_refusal_field(enum appt_refusal);
struct appt_booking {
	/* in: the validated fields; cfg gives days_ahead */
	const struct hall_config *cfg;
	const char *item, *date, *start, *name, *phone, *note, *channel, *registrar;
	const char *email;	/* NULL: none given */
	int notify_off;
	const char *dedup_key;	/* the retry key's hash (fcgi/hall/retry.c), or NULL */
	/* out */
	int replayed;		/* 1: the same booking was made before; this is its receipt */
	enum appt_refusal refused;
	char id[48];
	char appointment_no[CASENO_LEN + 1];
	char query_code[7];
	char item_name[256], end[6], place[256];
	char guide_id[129];	/* the item's guide, for what to bring; "" when none */
	time_t created_at;
};
/* One transaction: checks the slot, counts it, writes the appointment and its record. */
enum store_rc store_appt_book(struct store *, struct appt_booking *);
struct appt_cancel {
	char appointment_no[CASENO_LEN + 1];	/* in */
	char id[48];				/* out: the appt_event record's */
	time_t at;
};
/* STORE_OK, STORE_NOT_FOUND, STORE_NOT_YET (not booked or confirmed, or its day is past). */
enum store_rc store_appt_cancel(struct store *, struct appt_cancel *);
/* The window's mark of an appointment of today or earlier (SPEC 4.4). */
struct appt_mark {
	char appointment_no[CASENO_LEN + 1];	/* in */
	const char *status;			/* in: "attended" or "no_show" */
	char id[48];				/* out: the appt_event record's */
	time_t at;
};
/* STORE_OK, STORE_NOT_FOUND, STORE_NOT_YET (not booked or confirmed, or its day is to come). */
enum store_rc store_appt_mark(struct store *, struct appt_mark *);
/* One appointment of the window's list of a day; the strings live for the call only. */
struct appt_row {
	const char *appointment_no, *item_name, *date, *start, *end, *name, *phone, *status;
	const char *channel, *registrar;	/* registrar NULL: booked by the citizen */
};
/* The window's account that booked it ("" when the citizen did; WINDOW_NAME_SIZE bytes)
 * and when. */
enum store_rc store_appt_origin(struct store *, const char *appointment_no, char *registrar,
    time_t *created_at);
/* fn for every appointment of date (YYYY-MM-DD), by start; fn's non-zero stops and is
 * returned. -1 on error. */
int store_appt_day(struct store *, const char *date, int (*fn)(const struct appt_row *, void *),
    void *arg);
struct appt_view {
	char appointment_no[CASENO_LEN + 1];
	char query_code[7], query_mac[65];
	char date[11], start[6], end[6];
	char *item, *item_name, *place, *name, *phone, *note, *status, *reason, *guide_id;
	time_t created_at, updated_at;
};
enum store_rc store_appt_get(struct store *, const char *appointment_no, struct appt_view *);
void appt_view_free(struct appt_view *);
/* 1 when code is the appointment's query code (its MAC when the code is gone); constant time. */
int store_appt_code_ok(struct store *, const struct appt_view *, const char *code);
/* In a downlink transaction: the county's confirmed or refused (idempotent by county_seq). */
int store_appt_county_event(struct store *, int64_t county_seq, const char *appointment_no,
    const char *status, const char *reason, time_t at);

/* ---- lib/store/write_group.c -------------------------------------------------------- */
/*
 * A citizen's write that can share a transaction, and its fsync, with others (group
 * commit). The caller fills kind and its fields; store_write_group sets rc.
 */
struct store_write {
	enum { STORE_WRITE_CASE, STORE_WRITE_RATING, STORE_WRITE_CODE, STORE_WRITE_APPT,
		STORE_WRITE_APPT_CANCEL, STORE_WRITE_APPT_MARK } kind;
	/* STORE_WRITE_CASE */
	const struct hall_config *cfg;
	const struct case_new *c;
	struct receipt *receipt;
	/* STORE_WRITE_RATING */
	const char *case_no, *comment;
	int level;
	time_t *at;
	/* STORE_WRITE_CODE */
	struct code_resend *resend;
	/* STORE_WRITE_APPT, STORE_WRITE_APPT_CANCEL, STORE_WRITE_APPT_MARK */
	struct appt_booking *booking;
	struct appt_cancel *cancel;
	struct appt_mark *mark;

	enum store_rc rc;	/* what store_case_create or store_rating_create would return */
};
/*
 * Runs the writes in one transaction, each in a savepoint of its own so that one that
 * fails leaves the others alone, and commits them together: durable on return.
 */
void store_write_group(struct store *, struct store_write *, size_t n);

/* ---- lib/store/commit_group.c ------------------------------------------------------- */
/* Threads of one writer process sharing each commit (and its fsync); see the file. */
struct commit_group;
/* The group commits on s, from a thread of its own (the committer); no other code may use
 * s while the group lives. */
struct commit_group *commit_group_new(struct store *s);
/* Stops the committer once every queued write is committed, and frees the group, not its
 * store. */
void commit_group_free(struct commit_group *);
/* Runs w in the next group commit; returns when it is durable, or has failed (w->rc). */
void commit_group_write(struct commit_group *, struct store_write *w);
/* Groups committed and writes in them, since the start: writes / groups is the sharing. */
void commit_group_stats(struct commit_group *, unsigned long *groups, unsigned long *writes);

/* ---- lib/store/health.c ------------------------------------------------------------- */
struct sync_health {
	long backlog;
	time_t last_uplink_at, last_downlink_at;	/* 0: never */
};
/* The backlog counts against the destinations cfg configures (every one when cfg is NULL). */
int store_health(struct store *, const struct hall_config *cfg, struct sync_health *);
/* The last time the hall heard from the county (either way); 0: never. Cheap. */
time_t store_synced_at(struct store *);

/* ---- lib/store/guide.c -------------------------------------------------------------- */
struct guide {
	char *id, *name, *department, *materials, *time_limit, *fees, *fee_basis, *delivery,
	    *consult, *address, *hours;
	time_t updated_at;
};
/* Calls fn for each guide whose name or department contains q (all when q is empty). */
int store_guides_search(struct store *, const char *q, int (*fn)(const struct guide *, void *),
    void *arg);
enum store_rc store_guide_get(struct store *, const char *id, struct guide *);
void guide_free(struct guide *);

/* ---- lib/store/calendar.c ----------------------------------------------------------- */
/* The calendar held in the store, reloaded when a new one has been imported. */
const struct calendar *store_calendar(struct store *);
/*
 * Replaces the years the calendar has tables for, then recomputes the due dates of open
 * cases that were provisional. Returns the number of cases recomputed, or -1.
 */
int store_calendar_import(struct store *, const struct calendar *, const struct hall_config *);
/* The same inside the caller's write transaction. */
int store_calendar_import_locked(struct store *, const struct calendar *,
    const struct hall_config *);

/* ---- lib/store/outbox.c ------------------------------------------------------------- */
/* One outbox record on its way to a destination. */
struct outbox_rec {
	int64_t seq;
	char id[64];
	char type[16];		/* the longest: appointment */
	char case_no[32];
	char *payload;		/* owned; NULL when the batch was streamed (outbox_next_each) */
	size_t len;
	unsigned char sha256[32];	/* a streaming sink's own: the payload's hash */
	/* filled in by the sink: what the destination said */
	enum { REC_PENDING, REC_ACCEPTED, REC_DUPLICATE, REC_CONFLICT, REC_REJECTED } result;
	char *reason;		/* owned; set with outbox_rec_refuse, NULL otherwise */
};
struct outbox_batch {
	struct outbox_rec *v;
	size_t n;
	size_t bytes;
	int64_t last_seq;
	size_t cap;		/* entries v holds (outbox_next_into keeps it between batches) */
};
/* The next records for dest after its acknowledged mark, at most max_records and (but for
 * a single larger record) max_bytes of payload. 0 with n = 0 when nothing is due. */
int outbox_next(struct store *, const char *dest, size_t max_records, size_t max_bytes,
    struct outbox_batch *);
/*
 * The same batch, streamed: each record's payload (NUL-terminated, len bytes) is handed to
 * each as it is read and never kept, so a batch costs its records' ids, not their text
 * (SPEC 9: the agent's memory does not grow with what it sends). each returns 0, or -1 to
 * end the batch: outbox_next_each then returns -1 too.
 */
typedef int (*outbox_each_fn)(void *arg, struct outbox_rec *, const char *payload,
    size_t len);
int outbox_next_each(struct store *, const char *dest, size_t max_records, size_t max_bytes,
    struct outbox_batch *, outbox_each_fn each, void *arg);
/*
 * The same, into a batch the caller keeps from one batch to the next (zeroed before its
 * first use, outbox_batch_free after its last): the array is made once and its entries
 * reused, so a sink costs the same from its first full batch on, whatever the backlog
 * (SPEC 9), instead of a fresh array per batch whose pages come and go.
 */
int outbox_next_into(struct store *, const char *dest, size_t max_records, size_t max_bytes,
    struct outbox_batch *, outbox_each_fn each, void *arg);
/*
 * The same, for the batch after one not yet acknowledged (a sink with two batches on the
 * way): the records after seq after (and after the mark). None while records put back
 * (requeue) wait for dest: outbox_next_into takes those first.
 */
int outbox_next_after(struct store *, const char *dest, int64_t after, size_t max_records,
    size_t max_bytes, struct outbox_batch *, outbox_each_fn each, void *arg);
/* Empties a batch (its payloads and reasons freed), keeping its array for the next. */
void outbox_batch_clear(struct outbox_batch *);
void outbox_batch_free(struct outbox_batch *);
/* Marks a record conflict or rejected, with the destination's reason (cut at 255 bytes). */
void outbox_rec_refuse(struct outbox_rec *, int result, const char *reason);
/* The record's reason, or "" */
const char *outbox_rec_reason(const struct outbox_rec *);
/*
 * One transaction: the destination's mark moves to the batch's last seq; accepted and
 * duplicate cases get their 'delivered' event (county only); conflicts and rejections
 * are quarantined with their reason.
 */
int outbox_ack(struct store *, const char *dest, const struct outbox_batch *, size_t wire_bytes);
/* Records after seq: what the destination still has to take after this batch. */
long long outbox_backlog_after(struct store *, int64_t seq);
/*
 * Puts records dest set aside back (hall-admin requeue): all of them (ids NULL) or those
 * named, in one transaction; they go again before the records after the mark, in order.
 * The number put back, or -1 (logged) when one named is not set aside for dest.
 */
long outbox_requeue(struct store *, const char *dest, const char *const *ids, size_t n);
/* Calls fn for the first max records dest set aside, in the outbox's order; fn's non-zero
 * stops the walk. 0, or -1. */
int outbox_quarantined(struct store *, const char *dest, int max,
    int (*fn)(const char *id, const char *result, const char *reason, void *), void *arg);
/* Records dest has set aside; -1 on error. */
long outbox_quarantine_count(struct store *, const char *dest);
/* Records dest set aside in a row at the end of what it acknowledged: after the last record
 * it took (issue 11: a long run is the destination's fault, not the records'). */
long outbox_set_aside_run(struct store *, const char *dest);
/* Creates the destination's mark when it has none (a newly configured destination). */
int outbox_dest_ensure(struct store *, const char *dest);
/* Records the destination's last error (or clears it when msg is NULL). */
int outbox_error(struct store *, const char *dest, const char *msg);
/* A pass that went through: clears the error and stamps last_success_at, even when it had
 * nothing to send, so "last heard from the county" stays true on a quiet hall. */
int outbox_success(struct store *, const char *dest);
struct outbox_status {
	char dest[16];
	long backlog, quarantined;
	time_t oldest_unsent, last_success_at, last_error_at;
	char last_error[256];
	long long bytes_sent, records_sent;
	int64_t acked_seq, max_seq;
};
int outbox_status(struct store *, const char *dest, struct outbox_status *);

/* ---- lib/store/downlink.c ----------------------------------------------------------- */
/* Applying what the county publishes for this hall; every call is idempotent. */
int downlink_begin(struct store *);
int downlink_commit(struct store *);
void downlink_rollback(struct store *);
/* A county case event (county seq makes its id); moves the case's status and reply. */
int downlink_event(struct store *, int64_t county_seq, const char *case_no, const char *status,
    const char *note, const char *actor, time_t at);
int downlink_guide(struct store *, const struct guide *);
/* A year's calendar text; recomputes provisional deadlines. */
int downlink_calendar(struct store *, const struct hall_config *, const char *text);

/* ---- lib/store/clock.c -------------------------------------------------------------- */
/* hall-agent, after each county contact: county_now is the county server's clock. */
int store_clock_note(struct store *, time_t county_now);
/* hall-admin clock --trust-now: the operator vouches for this machine's clock. */
int store_clock_trust(struct store *);
/* hall-admin clock --continue: numbers may go on from the last one issued until the
 * clock passes it (never reissued). */
int store_clock_continue(struct store *);
struct clock_state {
	time_t now;		/* this machine's clock */
	time_t vouched;		/* the latest time the hall can vouch for; 0: no reference */
	int same_boot;		/* vouched includes the boot time since the county contact */
	time_t last_issued;	/* the time of the last number issued; 0: none */
	time_t continue_until;	/* numbers may go on ahead of the clock until then; 0: no */
};
int store_clock_state(struct store *, struct clock_state *);
/* ---- lib/store/retention.c ---------------------------------------------------------- */
/* Personal data (SPEC 11): what a hall stops keeping, and when; see the file. */
struct retention_report {
	long minimized;		/* cases that lost name, full phone, e-mail */
	long stripped;		/* outbox records that kept only id and hash */
	long purged;		/* closed cases deleted with their events, rating, records */
	long appts_minimized;	/* ended appointments that lost name, full phone, e-mail */
	long appts_purged;	/* appointments deleted with their events and records */
	int daily;		/* the daily purge ran */
	int checkpointed;	/* the WAL was truncated after the changes */
};
/* Minimizes every closed case the destinations cfg configures all hold, and every ended
 * appointment the county holds; counts in rep (added to). None configured: nothing. 0,
 * or -1 logged. */
int store_minimize(struct store *, const struct hall_config *, time_t now,
    struct retention_report *);
/* Minimizes, then deletes the minimized cases closed, held and unchanged for
 * cfg->retention_days (0: all of them), and stamps meta retention_at; then the minimized
 * appointments whose day is more than cfg->retention_days past. 0, or -1 logged. */
int store_purge(struct store *, const struct hall_config *, time_t now, struct retention_report *);
/* Truncates the WAL so old page images go with it; -1 (logged) when a reader holds it. */
int store_checkpoint(struct store *);
/* The agent's job, called every few seconds: store_minimize, or store_purge when a day has
 * passed since retention_at (or it never ran); a checkpoint after any change. rep is
 * cleared first. */
int store_retention_tick(struct store *, const struct hall_config *, time_t now,
    struct retention_report *);


/* ---- lib/store/backup.c ------------------------------------------------------------- */
/* Called after each step of a copy: pages done of total. */
typedef void (*store_progress_fn)(int done, int total, void *arg);
/*
 * A consistent copy of the store at store_path (live: writers go on) written to dest.tmp,
 * checked (quick_check), synced and renamed to dest, 0600; progress may be NULL. 0, or -1
 * logged, with nothing left at dest or dest.tmp.
 */
int store_backup(const char *store_path, const char *dest, store_progress_fn progress,
    void *arg);

/* ---- lib/store/restore.c ------------------------------------------------------------ */
/* 1 when a program has the store open (hall-read, hall-write, hall-agent), 0 when not, -1.
 * Never from a process that has it open itself: its own fcntl locks would not conflict, and
 * the probe's close would drop them. */
int store_in_use(const char *store_path);
struct restore_report {
	long cases;		/* in the backup */
	int replaced;		/* a store was there: kept as STORE.before-restore */
	int held;		/* its last number unknown: none issued until the county answers */
	uint64_t last_seq;	/* the restored store's mark */
};
/*
 * Puts the backup in place of cfg's store, all programs stopped: refuses a damaged backup,
 * one of another hall, or a store in use; keeps the replaced store as STORE.before-restore;
 * migrates the copy and raises its marks so that no number is issued twice (see the file).
 */
int store_restore(const char *backup, const struct hall_config *cfg, struct restore_report *);
/* 1 (and since: the time from which the county's events are asked again) while the agent
 * has not yet had the county's answer after a restore; 0 otherwise; -1. */
int store_restore_pending(struct store *, time_t *since);
struct restored_case {
	const char *id, *case_no, *received_id, *kind, *category, *subject, *body, *phone,
	    *item, *target, *status, *query_mac;
	time_t submitted_at, due_at, delivered_at;
	int due_provisional;
};
/* In a downlink transaction: the case when the store lacks it. 1 added, 0 not, -1. */
int store_restore_case(struct store *, const struct restored_case *);
struct restored_appt {
	const char *id, *appointment_no, *item, *item_name, *date, *start, *end, *place,
	    *name, *phone, *note, *channel, *registrar, *status, *reason, *query_mac;
	int notify;
	time_t booked_at;
};
/* In a downlink transaction: the appointment when the store lacks it (restore.c says
 * what it keeps). 1 added, 0 not, -1. */
int store_restore_appt(struct store *, const struct restored_appt *);
/* In a downlink transaction: the mark past county_seq, the restore done. */
int store_restore_done(struct store *, uint64_t county_seq);

/* ---- lib/store/window.c ------------------------------------------------------------- */
/* The hall's window (SPEC 4.4): hall staff accounts and their sessions; see the file. */
#define WINDOW_NAME_SIZE 33	/* an account name (fcgi/web/signin.c: 1 to 32 bytes) and NUL */
struct window_account {
	char name[WINDOW_NAME_SIZE];
	char pw_hash[160];
	int disabled, failed_logins;
	time_t locked_until, created_at, last_login_at;	/* 0: none */
};
/* STORE_OK with *a filled, STORE_NOT_FOUND, STORE_ERR. */
enum store_rc store_window_account(struct store *, const char *name, struct window_account *);
/* fn for every account by name; fn's non-zero stops the walk and is returned. -1: error. */
int store_window_list(struct store *, int (*fn)(const struct window_account *, void *),
    void *arg);
/* hall-admin staff add: STORE_CONFLICT when the name is taken. */
enum store_rc store_window_add(struct store *, const char *name, const char *pw_hash,
    time_t now);
/* A new password: lifts a lockout and ends the account's sessions. STORE_NOT_FOUND. */
enum store_rc store_window_passwd(struct store *, const char *name, const char *pw_hash);
/* Disables (ending its sessions) or enables an account. STORE_NOT_FOUND. */
enum store_rc store_window_disable(struct store *, const char *name, int disabled);
/*
 * A wrong password for an account that is not locked: counts it; the max-th in a row locks
 * the account for minutes (*locked_now 1) and starts the count again.
 */
enum store_rc store_window_failed(struct store *, const char *name, int max, int minutes,
    time_t now, int *locked_now);
struct window_signin {
	const char *name;
	const char *rehash;		/* NULL, or the password's hash at today's limits */
	const char *token_hash;		/* the new session's */
	const char *old_token_hash;	/* NULL, or the session the browser came with */
	const char *remote;
	time_t now, expires_at;
	int idle_seconds;		/* sessions idle this long are cleared on the way */
};
/* One transaction: the account's count reset, the old session gone, the new one in.
 * STORE_NOT_FOUND: the account is gone or disabled. */
enum store_rc store_window_signin(struct store *, const struct window_signin *);
/* The account of a session alive at now (before expires_at, used within idle_seconds, its
 * account not disabled), into name; keeps its idle clock. STORE_NOT_FOUND. */
enum store_rc store_window_session(struct store *, const char *token_hash, time_t now,
    int idle_seconds, char name[WINDOW_NAME_SIZE]);
enum store_rc store_window_signout(struct store *, const char *token_hash);
/* A case as the window lists it; the strings live until fn returns. */
struct window_case {
	const char *case_no, *kind, *category, *channel, *registrar, *subject, *name, *status;
	time_t submitted_at, due_at;
	int due_provisional;
};
/* fn for the hall's latest limit cases, newest first; fn's non-zero stops and is returned. */
int store_window_recent(struct store *, int limit,
    int (*fn)(const struct window_case *, void *), void *arg);
/* fn with the case and its query code (the receipt printed again); STORE_NOT_FOUND. */
enum store_rc store_window_receipt(struct store *, const char *case_no,
    int (*fn)(const struct window_case *, const char *query_code, void *), void *arg);

#endif
