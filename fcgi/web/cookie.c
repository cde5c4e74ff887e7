/*
 * The Cookie request header (RFC 6265 section 5.4: "name=value" pairs separated by "; "),
 * parsed without FastCGI so that a fuzz driver can reach it (tests/fuzz/fuzz_cookie.c).
 * All our cookies are base64url tokens of a fixed length; anything else is not ours.
 */
#include <string.h>

#include "web.h"

int
cookie_get(const char *hdr, const char *name, size_t len, char *out)
{
	const char *p = hdr;
	size_t nlen = name != NULL ? strlen(name) : 0;

	if (nlen == 0)
		return 0;
	while (p != NULL && *p != '\0') {
		while (*p == ' ' || *p == ';')
			p++;
		if (strncmp(p, name, nlen) == 0 && p[nlen] == '=') {
			const char *v = p + nlen + 1;
			size_t vlen = strcspn(v, "; ");

			/* the first pair of the name decides (a browser sends the most specific) */
			if (vlen != len ||
			    strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
			              "abcdefghijklmnopqrstuvwxyz0123456789-_") < vlen)
				return 0;
			memcpy(out, v, vlen);
			out[vlen] = '\0';
			return 1;
		}
		p = strchr(p, ';');
	}
	return 0;
}
