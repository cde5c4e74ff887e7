/*
 * hall-agent status: per destination, what is waiting and how the last attempts went;
 * on a terminal, while a backlog drains, a live progress bar.
 *
 * The last error and the set-aside reasons quote servers. The agent cleans them before it
 * stores them, and they are cleaned again here (text_clean), for a store written by an
 * older agent or by hand: nothing a server wrote can move this terminal's cursor.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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
			return -1;
		}
		k->where(cfg, where, sizeof(where));
		print_dest(&o[i], where);
		if (insecure_warning(cfg, k->name, warning, sizeof(warning)))
			printf("  WARNING        %s\n", warning);
		if (o[i].quarantined > 0 &&
		    outbox_quarantined(s, k->name, STATUS_SET_ASIDE_MAX, print_set_aside, NULL) == -1)
			return -1;
		if (o[i].quarantined > STATUS_SET_ASIDE_MAX)
			printf("    ... and %ld more\n", o[i].quarantined - STATUS_SET_ASIDE_MAX);
	}
	if (!watch || !isatty(STDOUT_FILENO))
		return 0;
	for (i = 0; i < SINKS; i++)
		if (configured[i] && o[i].backlog > 0)
			watch_drain(s, sink_table[i]->name, o[i].backlog);
	return 0;
}
