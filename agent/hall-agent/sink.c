/*
 * The agent's destinations: a new one is a sink_*.c that defines its struct sink_ops, and a
 * row here.
 */
#include <stdio.h>

#include "agent.h"

const struct sink_ops *const sink_table[] = {
	&sink_county_ops,
	&sink_province_ops,
};
_Static_assert(sizeof(sink_table) / sizeof(sink_table[0]) == SINKS, "SINKS counts sink_table");

int
sink_set_aside_stop(unsigned run, unsigned n, const char *why, char *err, size_t errlen)
{
	char now[256];

	if (run + n <= SET_ASIDE_RUN_MAX)
		return 0;
	snprintf(now, sizeof(now), "%s", why);	/* why may be err itself */
	snprintf(err, errlen, "the destination refuses record after record (%u set aside in a "
	    "row; now: %s): setting no more aside until it takes one; look at it", run, now);
	return 1;
}

int
sink_results_set_aside(unsigned run, const struct outbox_batch *b, unsigned *next, char *err,
    size_t errlen)
{
	unsigned r = run, most = 0;
	size_t i;

	for (i = 0; i < b->n; i++) {
		if (b->v[i].result == REC_CONFLICT || b->v[i].result == REC_REJECTED)
			r++;
		else
			r = 0;
		most = r > most ? r : most;
	}
	if (most > SET_ASIDE_RUN_MAX) {
		sink_set_aside_stop(most, 0, "refusals in one batch", err, errlen);
		return -1;
	}
	*next = r;
	return 0;
}
