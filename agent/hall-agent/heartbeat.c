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

static long long
mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec;
}

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

void
heartbeat_county(struct county_sink *k, struct store *s)
{
	struct outbox_status cs, ps;
	long long v[5], now = mono_now();
	my_bool isnull[4] = {0, 0, 0, 0};
	MYSQL_STMT *st;
	MYSQL_BIND p[6];
	int i, have_province = k->cfg->province_url != NULL;

	if (k->db == NULL || *k->stop || k->health_none)
		return;
	if (k->health_sent != 0 && now - k->health_sent < HEARTBEAT_SECONDS)
		return;
	if (outbox_status(s, "county", &cs) == -1)
		return;
	if (have_province && outbox_status(s, "province", &ps) == -1)
		return;
	v[0] = cs.backlog;
	v[1] = cs.quarantined;
	v[2] = have_province ? ps.backlog : 0;
	v[3] = have_province ? ps.quarantined : 0;
	isnull[2] = isnull[3] = !have_province;
	v[4] = hall_ms();
	memset(p, 0, sizeof(p));
	for (i = 0; i < 5; i++) {
		p[i].buffer_type = MYSQL_TYPE_LONGLONG;
		p[i].buffer = &v[i];
		if (i < 4)
			p[i].is_null = &isnull[i];
	}
	p[5].buffer_type = MYSQL_TYPE_STRING;
	p[5].buffer = (void *)AGENT_VERSION;
	p[5].buffer_length = strlen(AGENT_VERSION);
	if ((st = mysql_stmt_init(k->db)) == NULL)
		return;
	if (mysql_stmt_prepare(st, "CALL hall_health(?, ?, ?, ?, ?, ?)", (unsigned long)-1) == 0 &&
	    mysql_stmt_bind_param(st, p) == 0 && mysql_stmt_execute(st) == 0 &&
	    mysql_commit(k->db) == 0)
		k->health_sent = now;
	else if (mysql_stmt_errno(st) == 1305 || mysql_stmt_errno(st) == 1370) {
		log_info("county: no hall_health there (migration 020): hall_hello reports "
			 "the hall's health");
		k->health_none = 1;
	} else {
		char why[MYSQL_ERRMSG_SIZE];

		log_warnx("county: cannot send the heartbeat: %s",
		    text_cleans(why, sizeof(why), mysql_stmt_error(st)));
	}
	mysql_stmt_close(st);
	mysql_rollback(k->db);
}
