/*
 * The notifications table (sql/county/015) as the notifier reads and marks it. A notice is
 * claimed (attempt counted, next_at past a lease) and committed before it is sent, marked
 * sent after: whatever stops the notifier in between, the notice is sent again with the
 * same id once the lease has passed, never lost. Claims are conditional updates, so two
 * notifiers (or two nodes of a cluster) never both claim one attempt.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "notifier.h"

static int
fail(MYSQL *db, const char *what, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s: %s (%u)", what, mysql_error(db), mysql_errno(db));
	mysql_rollback(db);
	return -1;
}

/* id is a UUID (36 characters of hex and '-'): safe between quotes as it is. */
static int
id_ok(const char *id)
{
	return strlen(id) == 36 && strspn(id, "0123456789abcdef-") == 36;
}

static void
copy(char *dst, size_t n, const char *src)
{
	snprintf(dst, n, "%s", src != NULL ? src : "");
}

int
queue_claim(MYSQL *db, const char *channels, struct notice *v, int max, int lease_s, char *err,
    size_t errlen)
{
	char q[2048];
	MYSQL_RES *res;
	MYSQL_ROW row;
	int n = 0, i, claimed = 0;

	/* a fresh snapshot: what committed since the last pass */
	if (mysql_commit(db) != 0)
		return fail(db, "commit", err, errlen);
	snprintf(q, sizeof(q),
	    "SELECT n.id, n.case_no, n.event, n.channel, n.to_addr, n.note, n.secret, "
	    "n.attempts, c.kind, h.name, TIMESTAMPDIFF(SECOND, n.created_at, NOW(6)) "
	    "FROM notifications n JOIN cases c ON c.case_no = n.case_no "
	    "LEFT JOIN halls h ON h.hall_code = n.hall_code "
	    "WHERE n.state = 'pending' AND n.next_at <= NOW(6) AND n.channel IN (%s) "
	    /* a case's notices in order: only the oldest pending of its channel */
	    "AND NOT EXISTS (SELECT 1 FROM notifications e WHERE e.case_no = n.case_no "
	    "AND e.channel = n.channel AND e.state = 'pending' AND (e.created_at < n.created_at "
	    "OR (e.created_at = n.created_at AND e.id < n.id))) "
	    "ORDER BY n.created_at LIMIT %d", channels, max);
	if (mysql_query(db, q) != 0 || (res = mysql_store_result(db)) == NULL)
		return fail(db, "reading the notices due", err, errlen);
	while ((row = mysql_fetch_row(res)) != NULL && n < max) {
		struct notice *x = &v[n];

		memset(x, 0, sizeof(*x));
		copy(x->id, sizeof(x->id), row[0]);
		if (!id_ok(x->id))
			continue;
		copy(x->case_no, sizeof(x->case_no), row[1]);
		copy(x->event, sizeof(x->event), row[2]);
		copy(x->channel, sizeof(x->channel), row[3]);
		copy(x->to, sizeof(x->to), row[4]);
		x->note = row[5] != NULL ? strdup(row[5]) : NULL;
		copy(x->secret, sizeof(x->secret), row[6]);
		x->attempts = atoi(row[7]);
		copy(x->kind, sizeof(x->kind), row[8]);
		copy(x->hall, sizeof(x->hall), row[9]);
		x->age_s = row[10] != NULL ? atol(row[10]) : 0;
		n++;
	}
	mysql_free_result(res);
	for (i = 0; i < n; i++) {
		snprintf(q, sizeof(q), "UPDATE notifications SET attempts = attempts + 1, "
		    "next_at = NOW(6) + INTERVAL %d SECOND WHERE id = '%s' AND state = 'pending' "
		    "AND next_at <= NOW(6)", lease_s, v[i].id);
		if (mysql_query(db, q) != 0) {
			for (; n > 0; n--)
				notice_free(&v[n - 1]);
			return fail(db, "claiming a notice", err, errlen);
		}
		if (mysql_affected_rows(db) == 1)
			v[claimed++] = v[i];	/* another notifier took the others */
		else
			notice_free(&v[i]);
	}
	if (mysql_commit(db) != 0) {
		for (i = 0; i < claimed; i++)
			notice_free(&v[i]);
		return fail(db, "committing the claims", err, errlen);
	}
	return claimed;
}

int
queue_sent(MYSQL *db, const struct notice *n, char *err, size_t errlen)
{
	char q[256];

	/* last_error stays: the dashboard shows each channel's latest error, even overcome */
	snprintf(q, sizeof(q), "UPDATE notifications SET state = 'sent', sent_at = NOW(6), "
	    "secret = NULL WHERE id = '%s'", n->id);
	if (mysql_query(db, q) != 0 || mysql_commit(db) != 0)
		return fail(db, "marking a notice sent", err, errlen);
	return 0;
}

int
queue_failed(MYSQL *db, const struct notice *n, const char *why, unsigned retry_s, int give_up,
    char *err, size_t errlen)
{
	char q[1024], esc[512];
	char msg[255];

	snprintf(msg, sizeof(msg), "%s", why);
	mysql_real_escape_string(db, esc, msg, strlen(msg));
	snprintf(q, sizeof(q), "UPDATE notifications SET last_error = '%s', last_error_at = NOW(6), "
	    "next_at = NOW(6) + INTERVAL %u SECOND, state = '%s', "
	    "secret = IF(%d, NULL, secret) WHERE id = '%s'", esc, retry_s,
	    give_up ? "failed" : "pending", give_up, n->id);
	if (mysql_query(db, q) != 0 || mysql_commit(db) != 0)
		return fail(db, "marking a failed notice", err, errlen);
	return 0;
}

void
notice_free(struct notice *n)
{
	free(n->note);
	n->note = NULL;
}
