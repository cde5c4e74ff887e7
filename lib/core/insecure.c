/*
 * Links that would carry records, passwords or tokens in clear text to another machine.
 * A hall's links are encrypted by default: a plain http:// province URL, or tls = 0 towards
 * a county host that is not this machine, is refused at start unless the link's section
 * says allow_insecure = 1, and is then warned about in hall-agent status. Only loopback
 * is trusted without TLS: a name other than "localhost" is not resolved to decide, since
 * what it resolves to can change after the check.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core.h"

int
insecure_is_local(const char *host)
{
	struct in6_addr a6;
	struct in_addr a4;
	char h[64];
	size_t n;

	/* no host: Connector/C's unix socket */
	if (host == NULL || *host == '\0' || strcasecmp(host, "localhost") == 0)
		return 1;
	n = strlen(host);
	if (host[0] == '[' && n > 2 && host[n - 1] == ']' && n - 2 < sizeof(h)) {
		memcpy(h, host + 1, n - 2);	/* a URL's [::1] */
		h[n - 2] = '\0';
		host = h;
	}
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, host, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6) ||
		    (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
	return 0;
}

/* 1 when every node of a list (lib/core/nodes.c) is on this machine; a list that does not
 * parse is not trusted. */
static int
insecure_nodes_local(const char *list)
{
	struct county_node n[COUNTY_NODES_MAX];
	int i, count = county_nodes_parse(list, 3306, n, COUNTY_NODES_MAX);

	if (count < 1)
		return 0;
	for (i = 0; i < count; i++)
		if (!insecure_is_local(n[i].host))
			return 0;
	return 1;
}

int
insecure_url_host(const char *url, char *out, size_t outlen)
{
	const char *p = strstr(url, "://"), *end, *at;
	size_t n;

	if (p == NULL)
		return -1;
	p += 3;
	end = p + strcspn(p, "/?#");
	/* user:password@ is not the host */
	for (at = p; at < end; at++)
		if (*at == '@')
			p = at + 1;
	if (*p == '[') {
		const char *close = memchr(p, ']', (size_t)(end - p));

		if (close == NULL)
			return -1;
		end = close + 1;
	} else {
		const char *colon = memchr(p, ':', (size_t)(end - p));

		if (colon != NULL)
			end = colon;
	}
	n = (size_t)(end - p);
	if (n == 0 || n >= outlen)
		return -1;
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

int
insecure_county(const struct hall_config *c)
{
	if (c->county_user == NULL || c->county_tls)
		return 0;
	/* Connector/C takes the socket only when there is no host or it is localhost */
	if (c->county_host == NULL || *c->county_host == '\0')
		return 0;
	return !insecure_nodes_local(c->county_host);
}

int
insecure_province(const struct hall_config *c)
{
	char host[256];

	if (c->province_url == NULL || strncasecmp(c->province_url, "https://", 8) == 0)
		return 0;
	/* not https: only a plain http:// to this machine is not a clear-text link out */
	if (strncasecmp(c->province_url, "http://", 7) != 0 ||
	    insecure_url_host(c->province_url, host, sizeof(host)) == -1)
		return 1;
	return !insecure_is_local(host);
}

int
insecure_check(const struct hall_config *c, const char *path)
{
	int rc = 0;

	if (insecure_county(c) && !c->county_allow_insecure) {
		fprintf(stderr, "%s: [county] tls = 0 would send this hall's records and password "
				"to %s unencrypted: set tls = 1 (and tls_ca), or allow_insecure = 1 "
				"in [county] to accept it\n", path, c->county_host);
		rc = -1;
	}
	if (insecure_province(c) && !c->province_allow_insecure) {
		fprintf(stderr, "%s: [province] url %s is not https: the records and the token "
				"would cross the network unencrypted; use https://, or set "
				"allow_insecure = 1 in [province] to accept it\n", path,
		    c->province_url);
		rc = -1;
	}
	return rc;
}

int
insecure_warning(const struct hall_config *c, const char *dest, char *out, size_t outlen)
{
	static const char refused[] = "; hall-agent will not start without allow_insecure = 1";

	if (strcmp(dest, "county") == 0 && insecure_county(c))
		snprintf(out, outlen, "the link to %s is NOT encrypted ([county] tls = 0%s)",
		    c->county_host, c->county_allow_insecure ? ", allow_insecure = 1" : refused);
	else if (strcmp(dest, "province") == 0 && insecure_province(c))
		snprintf(out, outlen, "the link is NOT encrypted ([province] url is not https%s)",
		    c->province_allow_insecure ? ", allow_insecure = 1" : refused);
	else
		return 0;
	return 1;
}
