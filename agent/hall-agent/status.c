/*
 * hall-agent status: per destination, what is waiting and how the last attempts went;
 * on a terminal, while a backlog drains, a live progress bar; with --json, one JSON object
 * for a monitor. Both end with the same verdict as the exit code (status_health):
 *   0  healthy
 *   1  a configured destination is unhealthy, that is:
 *      - its oldest unsent record has waited more than [agent] status_max_age_s, or
 *      - its last attempt failed and it has had no success for more than
 *        status_max_age_s (or never had one): a link down, whether records wait or not
 *   2  the store (or the INI) cannot be read
 * A single failed attempt between successes is not unhealthy: the next pass, seconds
 * later, retries it. Set-aside (quarantined) records are shown and counted but do not
 * change the code: they wait for a person (hall-admin requeue), not for the link.
 *
 * The last error and the set-aside reasons quote servers. The agent cleans them before it
 * stores them, and they are cleaned again here (text_clean), for a store written by an
 * older agent or by hand: nothing a server wrote can move this terminal's cursor.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "agent.h"

#define STATUS_SET_ASIDE_MAX 20	/* set-aside records listed under a destination */

static void
when(char out[128], time_t t, time_t now)
{
	char h[64];
	long ago = (long)(now - t);

	if (t == 0) {
		snprintf(out, 128, "never");
		return;
	}
	timefmt_human(h, t);
	if (ago < 120)
		snprintf(out, 128, "%s (%ld s ago)", h, ago);
	else if (ago < 7200)
		snprintf(out, 128, "%s (%ld min ago)", h, ago / 60);
	else
		snprintf(out, 128, "%s (%ld h ago)", h, ago / 3600);
}

static void
print_dest(const struct outbox_status *o, const char *where)
{
	char t[128];
	time_t now = time(NULL);

	printf("%s  %s\n", o->dest, where);
	printf("  backlog        %ld record(s)\n", o->backlog);
	when(t, o->oldest_unsent, now);
	printf("  oldest unsent  %s\n", o->backlog ? t : "-");
	when(t, o->last_success_at, now);
	printf("  last success   %s\n", t);
	if (o->last_error[0] != '\0') {
		char e[sizeof(o->last_error)];

		when(t, o->last_error_at, now);
		printf("  last error     %s: %s\n", t, text_cleans(e, sizeof(e), o->last_error));
	} else
		printf("  last error     none\n");
	printf("  sent           %lld record(s), %lld bytes\n", o->records_sent, o->bytes_sent);
	if (o->quarantined > 0)
		printf("  QUARANTINED    %ld record(s) refused or in conflict; they stay in the "
		       "outbox (hall-admin requeue %s puts them back):\n",
		    o->quarantined, o->dest);
}

/* One set-aside record under its destination: id, what the destination said, and why. */
static int
print_set_aside(const char *id, const char *result, const char *reason, void *arg)
{
	char i[128], r[32], why[512];

	(void)arg;
	printf("    %s  %s: %s\n", text_cleans(i, sizeof(i), id),
	    text_cleans(r, sizeof(r), result), text_cleans(why, sizeof(why), reason));
	return 0;
}

/* [#########.........]  45%  2250/5000 records, 310 rec/s, about 9 s left */
static void
draw_bar(long done, long total, double rate)
{
	char bar[41];
	int i, fill = total > 0 ? (int)(40.0 * done / total) : 40;

	for (i = 0; i < 40; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[40] = '\0';
	printf("\r[%s] %3d%%  %ld/%ld records", bar, total > 0 ? (int)(100.0 * done / total) : 100,
	    done, total);
	if (rate > 0)
		printf(", %.0f rec/s, about %.0f s left   ", rate, (total - done) / rate);
	else
		printf("                              ");
	fflush(stdout);
}

/* Follows one destination's backlog down on a terminal; gives up after 30 s without progress. */
static void
watch_drain(struct store *s, const char *dest, long start)
{
	struct outbox_status o;
	long done, stalled = 0, prev = start;
	time_t t0 = time(NULL);

	printf("\ndraining the %s backlog (Ctrl-C leaves; the agent goes on):\n", dest);
	o.backlog = start;
	while (o.backlog > 0 && stalled < 60) {
		double secs;

		usleep(500000);
		if (outbox_status(s, dest, &o) == -1)
			break;
		/* records arriving while it drains only slow the bar; it never runs backwards */
		done = start - o.backlog > 0 ? start - o.backlog : 0;
		secs = difftime(time(NULL), t0);
		draw_bar(done, start, secs > 0 ? done / secs : 0);
		stalled = o.backlog == prev ? stalled + 1 : 0;
		prev = o.backlog;
	}
	printf("\n%s\n", o.backlog == 0 ? "done: the destination has everything." :
					  "no progress for 30 s: see \"last error\" above.");
}

/*
 * The last line: the verdict, read afresh (a drain may have changed it), as the exit code.
 * A destination's reasons are the ones --json gives.
 */
static int
print_verdict(struct store *s, const struct hall_config *cfg, const int configured[SINKS])
{
	struct outbox_status o;
	char why[200];
	int i, rc = STATUS_HEALTHY;

	for (i = 0; i < SINKS; i++) {
		if (!configured[i])
			continue;
		if (outbox_status(s, sink_table[i]->name, &o) == -1) {
			fprintf(stderr, "hall-agent: the hall store cannot be read\n");
			return STATUS_UNREADABLE;
		}
		if (status_health(&o, time(NULL), cfg->agent_status_max_age_s, why,
			sizeof(why)) != STATUS_HEALTHY) {
			printf("UNHEALTHY  %s: %s\n", sink_table[i]->name, why);
			rc = STATUS_UNHEALTHY;
		}
	}
	if (rc == STATUS_HEALTHY)
		printf("healthy\n");
	return rc;
}

int
status_health(const struct outbox_status *o, time_t now, int max_age, char *why, size_t whylen)
{
	if (o->backlog > 0 && o->oldest_unsent > 0 && now - o->oldest_unsent > max_age) {
		snprintf(why, whylen, "the oldest unsent record has waited %ld s (status_max_age_s "
		    "is %d)", (long)(now - o->oldest_unsent), max_age);
		return STATUS_UNHEALTHY;
	}
	if (o->last_error_at > o->last_success_at &&
	    (o->last_success_at == 0 || now - o->last_success_at > max_age)) {
		if (o->last_success_at == 0)
			snprintf(why, whylen, "the last attempt failed and none has succeeded yet");
		else
			snprintf(why, whylen, "the last attempt failed and the last success was %ld s "
			    "ago (status_max_age_s is %d)", (long)(now - o->last_success_at), max_age);
		return STATUS_UNHEALTHY;
	}
	if (whylen > 0)
		why[0] = '\0';
	return STATUS_HEALTHY;
}

int
status_print(struct store *s, const struct hall_config *cfg, int watch)
{
	struct outbox_status o[SINKS];
	char where[300], warning[300];
	int i, configured[SINKS];

	for (i = 0; i < SINKS; i++) {
		const struct sink_ops *k = sink_table[i];

		if (!(configured[i] = k->configured(cfg))) {
			printf("%s  (not configured)\n", k->name);
			o[i].backlog = 0;
			continue;
		}
		if (outbox_dest_ensure(s, k->name) == -1 || outbox_status(s, k->name, &o[i]) == -1) {
			fprintf(stderr, "hall-agent: the hall store cannot be read\n");
			return STATUS_UNREADABLE;
		}
		k->where(cfg, where, sizeof(where));
		print_dest(&o[i], where);
		if (insecure_warning(cfg, k->name, warning, sizeof(warning)))
			printf("  WARNING        %s\n", warning);
		if (o[i].quarantined > 0 &&
		    outbox_quarantined(s, k->name, STATUS_SET_ASIDE_MAX, print_set_aside, NULL) == -1)
			return STATUS_UNREADABLE;
		if (o[i].quarantined > STATUS_SET_ASIDE_MAX)
			printf("    ... and %ld more\n", o[i].quarantined - STATUS_SET_ASIDE_MAX);
	}
	if (watch && isatty(STDOUT_FILENO))
		for (i = 0; i < SINKS; i++)
			if (configured[i] && o[i].backlog > 0)
				watch_drain(s, sink_table[i]->name, o[i].backlog);
	return print_verdict(s, cfg, configured);
}

/* ---- --json ---------------------------------------------------------------------------- */

/* An RFC 3339 time, or null for 0 (never). */
static json_t *
json_time(time_t t)
{
	char text[TIMEFMT_LEN];

	if (t == 0)
		return json_null();
	timefmt_rfc3339(text, t);
	return json_string(text);
}

/* Text a server wrote, cleaned as for the terminal; null when empty. */
static json_t *
json_text(const char *s)
{
	char clean[512];

	if (s == NULL || *s == '\0')
		return json_null();
	return json_string(text_cleans(clean, sizeof(clean), s));
}

static json_t *
json_dest(const struct sink_ops *k, const struct hall_config *cfg, const struct outbox_status *o,
    time_t now, int *rc)
{
	char where[300], warning[300], why[200];
	int health = status_health(o, now, cfg->agent_status_max_age_s, why, sizeof(why));
	json_t *d;

	if (health != STATUS_HEALTHY)
		*rc = health;
	k->where(cfg, where, sizeof(where));
	d = json_pack("{s:b, s:s, s:I, s:o, s:o, s:o, s:o, s:o, s:I, s:I, s:I, s:b, s:o}",
	    "configured", 1,
	    "where", where,
	    "backlog", (json_int_t)o->backlog,
	    "oldest_unsent", json_time(o->backlog > 0 ? o->oldest_unsent : 0),
	    "oldest_unsent_age_s", o->backlog > 0 && o->oldest_unsent > 0 ?
		json_integer((json_int_t)(now - o->oldest_unsent)) : json_null(),
	    "last_success", json_time(o->last_success_at),
	    "last_error", json_text(o->last_error),
	    "last_error_at", json_time(o->last_error[0] != '\0' ? o->last_error_at : 0),
	    "quarantined", (json_int_t)o->quarantined,
	    "records_sent", (json_int_t)o->records_sent,
	    "bytes_sent", (json_int_t)o->bytes_sent,
	    "healthy", health == STATUS_HEALTHY,
	    "problem", health == STATUS_HEALTHY ? json_null() : json_string(why));
	if (d != NULL)
		json_object_set_new(d, "insecure", insecure_warning(cfg, k->name, warning,
		    sizeof(warning)) ? json_string(warning) : json_null());
	return d;
}

/* The clock guard's figures (lib/store/clock.c); null when they cannot be read. */
static json_t *
json_clock(struct store *s)
{
	struct clock_state st;

	if (store_clock_state(s, &st) == -1)
		return json_null();
	return json_pack("{s:o, s:o, s:o, s:o}", "now", json_time(st.now),
	    "vouched", json_time(st.vouched), "last_issued", json_time(st.last_issued),
	    "continue_until", json_time(st.continue_until > st.now ? st.continue_until : 0));
}

/* Prints the object and returns the exit code; an unreadable store prints {"error": ...}. */
static int
status_json(struct store *s, const struct hall_config *cfg)
{
	struct outbox_status o;
	json_t *root, *dests;
	time_t now = time(NULL);
	int i, rc = STATUS_HEALTHY;
	char *text;

	root = json_pack("{s:s, s:s, s:o, s:i}", "hall", cfg->code, "version", HALL_VERSION,
	    "at", json_time(now), "status_max_age_s", cfg->agent_status_max_age_s);
	dests = json_object();
	if (root == NULL || dests == NULL)
		goto fail;
	json_object_set_new(root, "destinations", dests);
	for (i = 0; i < SINKS; i++) {
		const struct sink_ops *k = sink_table[i];
		json_t *d;

		if (!k->configured(cfg))
			d = json_pack("{s:b}", "configured", 0);
		else if (outbox_dest_ensure(s, k->name) == -1 || outbox_status(s, k->name, &o) == -1) {
			json_decref(root);
			return status_json_error("the hall store cannot be read");
		} else
			d = json_dest(k, cfg, &o, now, &rc);
		if (d == NULL || json_object_set_new(dests, k->name, d) == -1)
			goto fail;
	}
	json_object_set_new(root, "clock", json_clock(s));
	json_object_set_new(root, "healthy", json_boolean(rc == STATUS_HEALTHY));
	json_object_set_new(root, "exit", json_integer(rc));
	if ((text = json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS)) == NULL)
		goto fail;
	puts(text);
	free(text);
	json_decref(root);
	return rc;
fail:
	json_decref(root);
	fprintf(stderr, "hall-agent: out of memory\n");
	return STATUS_UNREADABLE;
}

int
status_json_error(const char *why)
{
	json_t *root = json_pack("{s:s, s:b, s:i}", "error", why, "healthy", 0, "exit",
	    STATUS_UNREADABLE);
	char *text = root != NULL ? json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;

	if (text != NULL)
		puts(text);
	free(text);
	json_decref(root);
	fprintf(stderr, "hall-agent: %s\n", why);
	return STATUS_UNREADABLE;
}

int
status_main(const struct hall_config *cfg, int argc, char *argv[])
{
	int json = 0, watch = 0, i, rc;
	struct store *s = NULL;
	struct stat st;
	char why[4200];

	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], "--json") == 0)
			json = 1;
		else if (strcmp(argv[i], "--watch") == 0)
			watch = 1;
		else
			return -1;
	/* never create an empty store where the real one is missing */
	if (stat(cfg->store_path, &st) == -1 || !S_ISREG(st.st_mode)) {
		snprintf(why, sizeof(why), "the hall store %s cannot be read: %s", cfg->store_path,
		    access(cfg->store_path, F_OK) == -1 ? strerror(errno) : "not a file");
		return json ? status_json_error(why) : (fprintf(stderr, "hall-agent: %s\n", why),
		    STATUS_UNREADABLE);
	}
	if ((s = store_open(cfg->store_path, 0)) == NULL || store_bind_hall(s, cfg->code) == -1) {
		store_close(s);
		snprintf(why, sizeof(why), "the hall store %s cannot be read", cfg->store_path);
		return json ? status_json_error(why) : (fprintf(stderr, "hall-agent: %s\n", why),
		    STATUS_UNREADABLE);
	}
	rc = json ? status_json(s, cfg) : status_print(s, cfg, watch || isatty(STDOUT_FILENO));
	store_close(s);
	return rc;
}

int
status_no_config(const char *path, int argc, char *argv[])
{
	char why[4200];
	int i;

	snprintf(why, sizeof(why), "the INI %s cannot be loaded (see above)", path);
	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], "--json") == 0)
			return status_json_error(why);
	return STATUS_UNREADABLE;
}
