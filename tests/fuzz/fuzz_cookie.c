/*
 * libFuzzer driver: cookie_get (fcgi/web/cookie.c) on the input as a Cookie request header,
 * looking for the CSRF cookie as every hall program does.
 *
 * After a success the value is exactly the length asked for, all base64url, and the header
 * holds "name=value" at the start of a pair (the header's start, or after a ';' or a
 * space); after a failure out is untouched. No name (NULL header, empty name) finds
 * nothing. Any broken promise aborts, so libFuzzer records the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "web.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* 1 when hdr has name=value where a pair may start. */
static int
pair_at_start(const char *hdr, const char *name, const char *value)
{
	size_t nlen = strlen(name), vlen = strlen(value);
	const char *p;

	for (p = hdr; (p = strstr(p, name)) != NULL; p++)
		if ((p == hdr || p[-1] == ';' || p[-1] == ' ') && p[nlen] == '=' &&
		    strncmp(p + nlen + 1, value, vlen) == 0)
			return 1;
	return 0;
}

static void
check(const char *hdr, const char *name, size_t len)
{
	char out[CSRF_COOKIE_LEN + 8];

	memset(out, '#', sizeof(out));
	if (cookie_get(hdr, name, len, out) == 1) {
		if (out[len] != '\0' || strlen(out) != len || strspn(out, b64url) != len)
			abort();
		if (!pair_at_start(hdr, name, out))
			abort();
		if (out[len + 1] != '#')
			abort(); /* nothing written past the value's NUL */
	} else {
		for (size_t i = 0; i < sizeof(out); i++)
			if (out[i] != '#')
				abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *hdr;

	/* a NUL-terminated copy of exactly the input: a read past it is caught */
	if ((hdr = malloc(size + 1)) == NULL)
		abort();
	memcpy(hdr, data, size);
	hdr[size] = '\0';
	check(hdr, CSRF_COOKIE, CSRF_COOKIE_LEN);
	check(hdr, "a", 1); /* a short name, found inside others' */
	check(hdr, "x", 0); /* an empty value, when that is what is asked */
	if (cookie_get(NULL, CSRF_COOKIE, CSRF_COOKIE_LEN, hdr) != 0 ||
	    cookie_get(hdr, "", 0, hdr) != 0)
		abort();
	free(hdr);
	return 0;
}
