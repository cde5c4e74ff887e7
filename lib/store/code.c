/*
 * A new query code for a citizen who lost the receipt (SPEC 5.6). code_apply, inside the
 * group's transaction (write_group.c), replaces the case's code and its MAC, so the old
 * code stops working at the commit, and writes a `code` record to the outbox for the
 * county alone (outbox.only_for), which sends the code by SMS to the phone it holds and
 * keeps no copy once sent. The hall never shows the new code to anyone: it travels only
 * in that record, whose payload retention.c strips as soon as the county holds it.
 *
 * Limits, per case, kept in code_resends (sql/hall/007): one code in 10 minutes and 3 in
 * any 24 hours, rolling. A refusal (STORE_CONFLICT with a reason) writes nothing.
 *
 * An appointment (SPEC 4.5, "the same for appointments") takes the same path with
 * code_resend.appointment set: its row in `appointments` instead of `cases`, the same
 * limits (code_resends is keyed by the number, and appointment and case numbers never
 * collide), the same `code` record, which the county's hall_upload sends to the
 * appointment's phone. Its "closed" is an appointment no longer live (cancelled, refused,
 * attended, no show).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>
#include <sqlite3.h>

#include "store_int.h"

#define CODE_GAP (10 * 60)	/* seconds between two codes of one case */
#define CODE_DAY 86400		/* the rolling window of CODE_PER_DAY */
#define CODE_PER_DAY 3

const char *
code_refusal_text(enum code_refusal why)
{
	switch (why) {
	case CODE_ISSUED: return "issued";
	case CODE_NO_MOBILE: return "no_mobile";
	case CODE_CLOSED: return "closed";
	case CODE_TOO_SOON: return "too_soon";
	case CODE_DAY_LIMIT: return "day_limit";
	}
	return "?";
}

/*
 * A mainland mobile number (SPEC 4.3), whole or as phone_mask masked it ("138****5678": a
 * minimized case, or one a restore brought back): the county holds the whole number and
 * sends to it; a landline gets no SMS, so no code can reach it.
 */
static int
code_mobile(const char *p)
{
	size_t i;

	if (strlen(p) != 11 || p[0] != '1' || p[1] < '3' || p[1] > '9')
		return 0;
	for (i = 2; i < 11; i++)
		if (!(p[i] >= '0' && p[i] <= '9') && !(p[i] == '*' && i >= 3 && i <= 6))
			return 0;
	return 1;
}

/*
 * The case's (or the appointment's) phone, whether it is closed, and when it last changed;
 * STORE_NOT_FOUND. Each statement names its table: no SQL is built from pieces.
 */
static enum store_rc
code_case(struct store *s, const char *case_no, int appointment, char phone[32], int *closed,
    time_t *updated, char old_code[7])
{
	sqlite3_stmt *st;
	int step;

	st = appointment ?
	    store_stmt(s, "SELECT phone, status IN ('cancelled', 'refused', 'attended', "
			  "'no_show'), updated_at, query_code FROM appointments "
			  "WHERE appointment_no = ?1") :
	    store_stmt(s, "SELECT phone, status IN ('resolved', 'rejected'), updated_at, "
			  "query_code FROM cases WHERE case_no = ?1");
	if (st == NULL)
		return STORE_ERR;
	store_bind_text(st, 1, case_no);
	if ((step = sqlite3_step(st)) == SQLITE_ROW) {
		store_col_copy(phone, 32, st, 0);
		*closed = sqlite3_column_int(st, 1);
		*updated = sqlite3_column_int64(st, 2);
		store_col_copy(old_code, 7, st, 3);
	}
	sqlite3_reset(st);
	if (step == SQLITE_ROW)
		return STORE_OK;
	return step == SQLITE_DONE ? STORE_NOT_FOUND : STORE_ERR;
}

/* The limits: CODE_ISSUED when a code may be issued now, else why not and for how long. */
static int
code_limits(struct store *s, const char *case_no, time_t now, struct code_resend *r)
{
	enum { CL_COUNT, CL_LAST, CL_FIRST };
	sqlite3_stmt *st;
	long long n, last, first;

	if ((st = store_stmt(s, "SELECT count(*), max(at), min(at) FROM code_resends "
				"WHERE case_no = ?1 AND at > ?2")) == NULL)
		return -1;
	store_bind_text(st, 1, case_no);
	sqlite3_bind_int64(st, 2, now - CODE_DAY);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_reset(st);
		return -1;
	}
	n = sqlite3_column_int64(st, CL_COUNT);
	last = sqlite3_column_int64(st, CL_LAST);
	first = sqlite3_column_int64(st, CL_FIRST);
	sqlite3_reset(st);
	r->refused = CODE_ISSUED;
	/* a clock stepped back leaves rows "in the future": never more than the window */
	if (n > 0 && last > now - CODE_GAP) {
		r->refused = CODE_TOO_SOON;
		r->retry_after = (int)(last + CODE_GAP - now);
		if (r->retry_after > CODE_GAP)
			r->retry_after = CODE_GAP;
	} else if (n >= CODE_PER_DAY) {
		r->refused = CODE_DAY_LIMIT;
		r->retry_after = (int)(first + CODE_DAY - now);
		if (r->retry_after > CODE_DAY)
			r->retry_after = CODE_DAY;
	}
	if (r->retry_after < 1)
		r->retry_after = 1;
	return 0;
}

/*
 * The new code replaces the old one and its MAC. The retry key goes too: a retried
 * submission would otherwise answer with a receipt that shows the new code, which must
 * reach the citizen only by SMS. updated_at stays: a new code is not a change of the case
 * (retention's clock, and the CODE_CLOSED_DAYS of a closed case, run on).
 */
static int
code_replace(struct store *s, const char *case_no, int appointment, const char *code,
    const char *mac, time_t now)
{
	sqlite3_stmt *st;

	st = appointment ?
	    store_stmt(s, "UPDATE appointments SET query_code = ?2, query_mac = ?3, "
			  "dedup_key = NULL WHERE appointment_no = ?1") :
	    store_stmt(s, "UPDATE cases SET query_code = ?2, query_mac = ?3, "
			  "dedup_key = NULL WHERE case_no = ?1");
	if (st == NULL)
		return -1;
	store_bind_text(st, 1, case_no);
	store_bind_text(st, 2, code);
	store_bind_text(st, 3, mac);
	if (store_done(s, st) == -1)
		return -1;
	if ((st = store_stmt(s, "INSERT INTO code_resends (case_no, at) VALUES (?1, ?2)")) == NULL)
		return -1;
	store_bind_text(st, 1, case_no);
	sqlite3_bind_int64(st, 2, now);
	if (store_done(s, st) == -1)
		return -1;
	/* what no limit looks at any more */
	if ((st = store_stmt(s, "DELETE FROM code_resends WHERE at <= ?1")) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, now - CODE_DAY);
	return store_done(s, st);
}

enum store_rc
code_apply(struct store *s, const struct store_write *w)
{
	struct code_resend *r = w->resend;
	char phone[32], old[7] = "", mac[65];
	time_t now = time(NULL), updated = 0;
	struct buf payload;
	enum store_rc rc;
	uint64_t seq;
	int closed = 0;

	r->refused = CODE_ISSUED;
	r->retry_after = 0;
	r->code[0] = r->id[0] = r->sent_to[0] = '\0';
	rc = code_case(s, r->case_no, r->appointment, phone, &closed, &updated, old);
	if (rc != STORE_OK)
		return rc;
	/* only the last four digits: a case number alone must not tell more of the phone */
	snprintf(r->sent_to, sizeof(r->sent_to), "*******%s",
	    strlen(phone) >= 4 ? phone + strlen(phone) - 4 : "");
	if (closed && updated <= now - (time_t)CODE_CLOSED_DAYS * 86400)
		r->refused = CODE_CLOSED;
	else if (!code_mobile(phone))
		r->refused = CODE_NO_MOBILE;
	else if (code_limits(s, r->case_no, now, r) == -1)
		return STORE_ERR;
	if (r->refused != CODE_ISSUED)
		return STORE_CONFLICT;
	if ((rc = write_next_seq(s, &seq)) != STORE_OK)
		return rc;
	/* a new code is never the old one, or "the old one stops working" would not hold */
	do
		snprintf(r->code, sizeof(r->code), "%06" PRIu32, randombytes_uniform(1000000));
	while (strcmp(r->code, old) == 0);
	if (record_id_make(r->id, sizeof(r->id), s->hall_code, 'Q', seq) == -1 ||
	    store_query_mac(s, r->case_no, r->code, mac) == -1)
		return STORE_ERR;
	buf_init(&payload, 4096);
	rc = STORE_ERR;
	if (record_code_json(&payload, r->id, s->hall_code, r->case_no, r->code, mac,
		write_seq_time(seq)) == 0 &&
	    code_replace(s, r->case_no, r->appointment, r->code, mac, now) == 0 &&
	    write_outbox_add_for(s, r->id, "code", r->case_no, write_seq_time(seq), &payload,
		"county") == 0)
		rc = STORE_OK;
	buf_free(&payload);
	return rc;
}

enum store_rc
store_code_resend(struct store *s, struct code_resend *r)
{
	struct store_write w = {.kind = STORE_WRITE_CODE, .resend = r};

	store_write_group(s, &w, 1);
	return w.rc;
}
