/*
 * The agent's destinations: a new one is a sink_*.c that defines its struct sink_ops, and a
 * row here.
 */
#include "agent.h"

const struct sink_ops *const sink_table[] = {
	&sink_county_ops,
	&sink_province_ops,
};
_Static_assert(sizeof(sink_table) / sizeof(sink_table[0]) == SINKS, "SINKS counts sink_table");
