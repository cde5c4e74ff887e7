/*
 * The hall's heartbeat to the county (issue 15, SPEC 12): CALL hall_health(...) at the end
 * of a county pass, after the downlink pull, so that the county sees each hall's county
 * and province backlogs, the records set aside for each, its clock against the county's
 * and its version; the county adds the downlink lag (what it holds for the hall that the
 * hall has not acknowledged, and how old the oldest is: sql/county/020).
 *
 * Sent on the first pass of a connection and then at most every HEARTBEAT_SECONDS, since
 * counting a large backlog is not free and 300 halls share the county. A county without
 * hall_health (before migration 020: no such procedure, 1305, or no grant for it, 1370)
 * has hall_hello from the connection instead: the agent stops asking until it reconnects.
 * Best effort: a heartbeat that fails is logged and tried on the next pass.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent.h"

#define HEARTBEAT_SECONDS 30

/* The hall's Unix time in ms; HALL_AGENT_FAULT_CLOCK_SKEW_MS (a test hook) moves it. */
static long long
hall_ms(void)
{
	const char *skew = getenv("HALL_AGENT_FAULT_CLOCK_SKEW_MS");
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 +
	    (skew != NULL ? strtoll(skew, NULL, 10) : 0);
}

/*
 * CALL hall_health(...) and its COMMIT in one round trip (a multi-statement, as the
 * connection's greeting: on a weak link each round trip is another chance of a loss; the
 * prepared form took four).
 */
void
heartbeat_county(struct county_sink *k, struct store *s)
{
	struct outbox_status cs, ps;
	long long now = mono_s();
	int have_province = k->cfg->province_url != NULL;
	char q[512], pb[24] = "NULL", pq[24] = "NULL";
	int failed;

	if (k->db == NULL || *k->stop || k->health_none)
		return;
	if (k->health_sent != 0 && now - k->health_sent < HEARTBEAT_SECONDS)
		return;
	if (outbox_status(s, "county", &cs) == -1)
		return;
	if (have_province && outbox_status(s, "province", &ps) == -1)
		return;
	if (have_province) {
		snprintf(pb, sizeof(pb), "%lld", (long long)ps.backlog);
		snprintf(pq, sizeof(pq), "%lld", (long long)ps.quarantined);
	}
	/* AGENT_VERSION is ours: digits, dots and letters, nothing to escape */
	snprintf(q, sizeof(q), "CALL hall_health(%lld, %lld, %s, %s, %lld, '%s');COMMIT",
	    (long long)cs.backlog, (long long)cs.quarantined, pb, pq, hall_ms(), AGENT_VERSION);
	failed = county_multi(k->db, q, strlen(q), -1, NULL);
	if (failed == -1)
		k->health_sent = now;
	else if (mysql_errno(k->db) == 1305 || mysql_errno(k->db) == 1370) {
		log_info("county: no hall_health there (migration 020): hall_hello reports "
			 "the hall's health");
		k->health_none = 1;
	} else {
		char why[MYSQL_ERRMSG_SIZE];

		log_warnx("county: cannot send the heartbeat: %s",
		    text_cleans(why, sizeof(why), mysql_error(k->db)));
		mysql_rollback(k->db);
	}
}
