/*
 * How the hall's link to the county stands, as the citizen site shows it: the records
 * still to send, and when the hall last heard from the county either way. The outbox's
 * own view, per destination, is outbox_status (outbox.c).
 */
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "store_int.h"

static const char last_uplink_sql[] = "SELECT coalesce(max(last_success_at), 0) FROM sync_dest";

int
store_health(struct store *s, const struct hall_config *cfg, struct sync_health *h)
{
	long long backlog = 0, up;
	sqlite3_stmt *st;
	char text[32];
	int rc = -1;

	memset(h, 0, sizeof(*h));
	if (store_begin_read(s) == -1)
		return -1;
	/*
	 * ?1 and ?2 name the configured destinations; both NULL: every one the store has. A
	 * stripped record (retention.c) is due nowhere; a record for one destination alone
	 * (a new query code, the county's) only to that one. The range after the lowest mark
	 * keeps the count to the records some destination may still lack; no mark at all:
	 * every record.
	 */
	if ((st = store_stmt(s, "SELECT count(*) FROM outbox o WHERE o.seq > "
				"(SELECT coalesce(min(acked_seq), 0) FROM sync_dest "
				" WHERE (?1 IS NULL AND ?2 IS NULL) OR dest IN (?1, ?2)) "
				"AND o.payload IS NOT NULL AND (NOT EXISTS (SELECT 1 FROM sync_dest "
				" WHERE (?1 IS NULL AND ?2 IS NULL) OR dest IN (?1, ?2)) "
				"OR EXISTS (SELECT 1 FROM sync_dest d "
				" WHERE ((?1 IS NULL AND ?2 IS NULL) OR d.dest IN (?1, ?2)) "
				" AND o.seq > d.acked_seq AND " OUTBOX_FOR("o", "d.dest") "))")) == NULL)
		goto done;
	if (cfg != NULL && cfg->county_user != NULL)
		store_bind_text(st, 1, "county");
	if (cfg != NULL && cfg->province_url != NULL)
		store_bind_text(st, 2, "province");
	if (cfg != NULL && cfg->county_user == NULL && cfg->province_url == NULL)
		store_bind_text(st, 1, "");	/* nowhere to go: all of it */
	store_scalar(st, &backlog);		/* no row: a backlog of 0 */
	if (store_scalar(store_stmt(s, last_uplink_sql), &up) == -1)
		goto done;
	h->backlog = (long)backlog;
	h->last_uplink_at = (time_t)up;
	switch (store_meta(s, "last_downlink_at", text, sizeof(text))) {
	case 1:
		h->last_downlink_at = (time_t)strtoll(text, NULL, 10);
		rc = 0;
		break;
	case 0:
		rc = 0;
		break;
	default:
		break;
	}
done:
	store_commit(s);
	return rc;
}

time_t
store_synced_at(struct store *s)
{
	long long up = 0;
	char text[32];
	time_t down = 0;

	if (store_scalar(store_stmt(s, last_uplink_sql), &up) == -1)
		return 0;
	if (store_meta(s, "last_downlink_at", text, sizeof(text)) == 1)
		down = (time_t)strtoll(text, NULL, 10);
	return (time_t)up > down ? (time_t)up : down;
}
