/*
 * A county database given as a list of nodes (a Galera cluster, SPEC 12): the INI's
 * `host = 10.0.0.1:3306, 10.0.0.2, [fd00::3]:3307`. One host without a port is the
 * single server it always was. Parsing only: which node to try is lib/county's business.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

/* One entry, trimmed: "host", "host:port", "[v6]", "[v6]:port" or a bare IPv6 address. */
static int
node_parse(const char *p, size_t n, unsigned default_port, struct county_node *out)
{
	const char *colon, *host = p;
	size_t hn = n;
	char *end;
	long port = default_port;

	if (n == 0)
		return -1;
	if (p[0] == '[') {
		const char *close = memchr(p, ']', n);

		if (close == NULL)
			return -1;
		host = p + 1;
		hn = (size_t)(close - host);
		colon = close + 1 < p + n ? close + 1 : NULL;
		if (colon != NULL && *colon != ':')
			return -1;
	} else {
		colon = memchr(p, ':', n);
		/* two colons or more: an IPv6 address without a port */
		if (colon != NULL && memchr(colon + 1, ':', (size_t)(p + n - colon - 1)) != NULL)
			colon = NULL;
		if (colon != NULL)
			hn = (size_t)(colon - p);
	}
	if (hn == 0 || hn >= sizeof(out->host))
		return -1;
	if (colon != NULL) {
		char num[8];
		size_t pn = (size_t)(p + n - colon - 1);

		if (pn == 0 || pn >= sizeof(num))
			return -1;
		memcpy(num, colon + 1, pn);
		num[pn] = '\0';
		port = strtol(num, &end, 10);
		if (*end != '\0' || port < 1 || port > 65535)
			return -1;
	}
	memcpy(out->host, host, hn);
	out->host[hn] = '\0';
	out->port = (unsigned)port;
	return 0;
}

int
county_nodes_parse(const char *list, unsigned default_port, struct county_node *out,
    size_t max)
{
	const char *p = list;
	size_t n = 0;

	if (list == NULL)
		return -1;
	for (;;) {
		size_t len;

		while (*p == ' ' || *p == '\t')
			p++;
		len = strcspn(p, ",");
		while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (n == max || node_parse(p, len, default_port, &out[n]) == -1)
			return -1;
		n++;
		p += strcspn(p, ",");
		if (*p == '\0')
			break;
		p++;
	}
	return (int)n;
}
