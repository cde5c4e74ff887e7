/*
 * The notifications table (sql/county/015) as the notifier reads and marks it. Each notice
 * is claimed on its own (attempt counted, next_at past a lease) and committed right before
 * it is sent, and marked sent after: whatever stops the notifier in between, the notice is
 * sent again with the same id once the lease has passed, never lost. A claim is a
 * conditional update, so two notifiers (or two nodes of a cluster, where the loser's
 * commit fails certification) never both hold one attempt; and since the lease covers a
 * single send, a slow batch never lets another notifier take what is still in hand.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "notifier.h"

static int
fail(MYSQL *db, const char *what, unsigned int code, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s: %s (%u)", what, mysql_error(db), code);
	mysql_rollback(db);
	return -1;
}

/* a notice tells of a case or of an appointment (sql/county/016): numbers of the two never
 * meet, and the kind says which ("appointment"); a notice of neither (purged) waits */
#define DUE_SQL "SELECT n.id, n.case_no, n.event, n.channel, n.to_addr, n.note, n.secret, " \
	"n.attempts, COALESCE(c.kind, IF(a.appointment_no IS NULL, NULL, 'appointment')), " \
	"h.name, TIMESTAMPDIFF(SECOND, n.created_at, NOW(6)), a.item_name, " \
	"DATE_FORMAT(a.date, '%Y-%m-%d'), a.start, a.`end`, a.place, a.name " \
	"FROM notifications n LEFT JOIN cases c ON c.case_no = n.case_no " \
	"LEFT JOIN appointments a ON a.appointment_no = n.case_no " \
	"LEFT JOIN halls h ON h.hall_code = n.hall_code " \
	"WHERE n.state = 'pending' AND n.next_at <= NOW(6) " \
	"AND (c.case_no IS NOT NULL OR a.appointment_no IS NOT NULL) " \
	"AND ((n.channel = 'sms' AND ?) OR (n.channel = 'email' AND ?)) " \
	/* a case's notices in order: only the oldest pending of its channel */ \
	"AND NOT EXISTS (SELECT 1 FROM notifications e WHERE e.case_no = n.case_no " \
	"AND e.channel = n.channel AND e.state = 'pending' AND (e.created_at < n.created_at " \
	"OR (e.created_at = n.created_at AND e.id < n.id))) " \
	"ORDER BY n.created_at LIMIT ?"
enum { DUE_ID, DUE_CASE, DUE_EVENT, DUE_CHANNEL, DUE_TO, DUE_NOTE, DUE_SECRET, DUE_ATTEMPTS,
	DUE_KIND, DUE_HALL, DUE_AGE, DUE_ITEM, DUE_DATE, DUE_START, DUE_END, DUE_PLACE, DUE_NAME };

static void
copy(char *dst, size_t n, const char *src)
{
	snprintf(dst, n, "%s", src != NULL ? src : "");
}

int
queue_due(MYSQL *db, int sms, int email, struct notice *v, int max, char *err, size_t errlen)
{
	struct dbparam p[3] = {DBI(sms), DBI(email), DBI(max)};
	struct dbrows r;
	unsigned int code;
	size_t i;

	/* a fresh snapshot: what committed since the last pass */
	if (mysql_commit(db) != 0)
		return fail(db, "commit", mysql_errno(db), err, errlen);
	if (county_select(db, DUE_SQL, p, 3, &r, (size_t)max, &code) == -1)
		return fail(db, "reading the notices due", code, err, errlen);
	for (i = 0; i < r.nrows; i++) {
		struct notice *x = &v[i];

		memset(x, 0, sizeof(*x));
		copy(x->id, sizeof(x->id), db_val(&r, i, DUE_ID));
		copy(x->case_no, sizeof(x->case_no), db_val(&r, i, DUE_CASE));
		copy(x->event, sizeof(x->event), db_val(&r, i, DUE_EVENT));
		copy(x->channel, sizeof(x->channel), db_val(&r, i, DUE_CHANNEL));
		copy(x->to, sizeof(x->to), db_val(&r, i, DUE_TO));
		x->note = db_val(&r, i, DUE_NOTE) != NULL ? strdup(db_val(&r, i, DUE_NOTE)) : NULL;
		copy(x->secret, sizeof(x->secret), db_val(&r, i, DUE_SECRET));
		x->attempts = (int)db_int(&r, i, DUE_ATTEMPTS);
		copy(x->kind, sizeof(x->kind), db_val(&r, i, DUE_KIND));
		copy(x->hall, sizeof(x->hall), db_val(&r, i, DUE_HALL));
		x->age_s = (long)db_int(&r, i, DUE_AGE);
		copy(x->item_name, sizeof(x->item_name), db_val(&r, i, DUE_ITEM));
		copy(x->date, sizeof(x->date), db_val(&r, i, DUE_DATE));
		copy(x->start, sizeof(x->start), db_val(&r, i, DUE_START));
		copy(x->end, sizeof(x->end), db_val(&r, i, DUE_END));
		copy(x->place, sizeof(x->place), db_val(&r, i, DUE_PLACE));
		copy(x->name, sizeof(x->name), db_val(&r, i, DUE_NAME));
	}
	dbrows_free(&r);
	return (int)i;
}

/*
 * The pending reminders of appointments that no longer stand: no longer booked or confirmed
 * (cancelled, refused, attended, missed), or begun. A reminder held back (a gateway down, a
 * backoff) would otherwise tell the citizen to come to what is not there. Such a status
 * never turns back to booked, nor does time, so what this read finds stays true.
 */
#define STALE_SQL "SELECT n.id, a.status " \
	"FROM notifications n JOIN appointments a ON a.appointment_no = n.case_no " \
	"WHERE n.state = 'pending' AND n.event = 'reminder' " \
	"AND (a.status NOT IN ('booked', 'confirmed') OR TIMESTAMP(a.date, a.start) <= NOW()) " \
	"LIMIT 256"
enum { STALE_ID, STALE_STATUS };

/*
 * Gives them up as the database gives up a superseded code (sql/county/015): failed, with
 * the reason the dashboard shows. Read first, then given up one by one by id: a single
 * UPDATE driven from notifications would lock every pending notice of the county, every
 * pass, as 016's superseded-code UPDATE did until halls deadlocked on it (sql/county/021).
 * A reminder another notifier is sending meanwhile is marked sent after, which is true.
 */
static int
withdraw_reminders(MYSQL *db, char *err, size_t errlen)
{
	struct dbrows r;
	unsigned int code;
	size_t i;

	if (county_select(db, STALE_SQL, NULL, 0, &r, 256, &code) == -1)
		return fail(db, "reading the reminders to withdraw", code, err, errlen);
	for (i = 0; i < r.nrows; i++) {
		const char *status = db_str(&r, i, STALE_STATUS);
		char why[96];
		struct dbparam p[2] = {DBS(why), DBS(db_val(&r, i, STALE_ID))};

		if (strcmp(status, "booked") == 0 || strcmp(status, "confirmed") == 0)
			snprintf(why, sizeof(why), "withdrawn: the appointment's time has passed");
		else
			snprintf(why, sizeof(why), "withdrawn: the appointment is %s, no longer "
			    "booked", status);
		/* last_error_at stays: the dashboard's newest error is the channel's own */
		if (county_exec(db, "UPDATE notifications SET state = 'failed', secret = NULL, "
				    "last_error = ? WHERE id = ? AND state = 'pending'", p, 2, NULL,
			&code) == -1) {
			dbrows_free(&r);
			return fail(db, "withdrawing a reminder", code, err, errlen);
		}
	}
	dbrows_free(&r);
	if (mysql_commit(db) != 0)
		return fail(db, "committing the withdrawn reminders", mysql_errno(db), err, errlen);
	return 0;
}

int
queue_reminders(MYSQL *db, char *err, size_t errlen)
{
	char also[256];
	unsigned int code;
	int rc = 0;

	if (county_exec(db, "CALL appointment_reminders()", NULL, 0, NULL, &code) == -1)
		rc = fail(db, "queueing the appointments' reminders", code, err, errlen);
	else if (mysql_commit(db) != 0)
		rc = fail(db, "committing the reminders", mysql_errno(db), err, errlen);
	/* the withdrawal all the same (a reminder made before must not go out of turn); err
	 * keeps the first failure */
	if (withdraw_reminders(db, rc == -1 ? also : err, rc == -1 ? sizeof(also) : errlen) == -1)
		rc = -1;
	return rc;
}

int
queue_take(MYSQL *db, const struct notice *n, int lease_s, char *err, size_t errlen)
{
	struct dbparam p[2] = {DBI(lease_s), DBS(n->id)};
	unsigned int code;
	long long changed;

	changed = county_exec(db, "UPDATE notifications SET attempts = attempts + 1, "
				  "next_at = NOW(6) + INTERVAL ? SECOND WHERE id = ? "
				  "AND state = 'pending' AND next_at <= NOW(6)", p, 2, NULL, &code);
	if (changed == -1)
		return fail(db, "claiming a notice", code, err, errlen);
	if (mysql_commit(db) != 0)
		return fail(db, "committing a claim", mysql_errno(db), err, errlen);
	return changed == 1;	/* 0: another notifier took it */
}

int
queue_sent(MYSQL *db, const struct notice *n, char *err, size_t errlen)
{
	struct dbparam p[1] = {DBS(n->id)};
	unsigned int code;

	/* last_error stays: the dashboard shows each channel's latest error, even overcome */
	if (county_exec(db, "UPDATE notifications SET state = 'sent', sent_at = NOW(6), "
			    "secret = NULL WHERE id = ?", p, 1, NULL, &code) == -1)
		return fail(db, "marking a notice sent", code, err, errlen);
	if (mysql_commit(db) != 0)
		return fail(db, "committing a mark", mysql_errno(db), err, errlen);
	return 0;
}

int
queue_failed(MYSQL *db, const struct notice *n, const char *why, unsigned retry_s, int give_up,
    char *err, size_t errlen)
{
	char msg[256];
	size_t len;
	struct dbparam p[6];
	unsigned int code;

	/* the column holds 255 characters: a longer text is cut between UTF-8 characters */
	len = strlen(why) < sizeof(msg) ? strlen(why) : sizeof(msg) - 1;
	while (len > 0 && len < strlen(why) && ((unsigned char)why[len] & 0xC0) == 0x80)
		len--;
	memcpy(msg, why, len);
	msg[len] = '\0';
	p[0] = DBS(msg);
	p[1] = DBI(retry_s);
	p[2] = DBS(give_up ? "failed" : "pending");
	p[3] = DBI(give_up);
	p[4] = DBS(n->id);
	p[5] = DBI(n->attempts + 1);
	/*
	 * Only this notifier's own claim (queue_take counted its attempt) of a notice still
	 * pending: not one the database gave up meanwhile (a code superseded by a newer one
	 * while its send was in flight), nor one another notifier claimed after this claim's
	 * lease ran out, whose own result stands.
	 */
	if (county_exec(db, "UPDATE notifications SET last_error = ?, last_error_at = NOW(6), "
			    "next_at = NOW(6) + INTERVAL ? SECOND, state = ?, "
			    "secret = IF(?, NULL, secret) WHERE id = ? AND state = 'pending' "
			    "AND attempts = ?", p, 6, NULL, &code) == -1)
		return fail(db, "marking a failed notice", code, err, errlen);
	if (mysql_commit(db) != 0)
		return fail(db, "committing a mark", mysql_errno(db), err, errlen);
	return 0;
}

void
notice_free(struct notice *n)
{
	free(n->note);
	n->note = NULL;
}
