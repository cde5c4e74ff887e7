/*
 * Bounded growable buffers (the shape of curl's dynbuf). An append that fails frees the
 * buffer and marks it failed; later appends fail too, so a writer may check once at the end.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

void
buf_init(struct buf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
}

void
buf_free(struct buf *b)
{
	if (b == NULL)
		return;
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

void
buf_reset(struct buf *b)
{
	b->len = 0;
	b->failed = 0;
	if (b->data != NULL)
		b->data[0] = '\0';
}

static int
buf_fail(struct buf *b)
{
	buf_free(b);
	b->failed = 1;
	return -1;
}

static int
buf_grow(struct buf *b, size_t need)
{
	size_t ncap;
	char *p;

	if (b->failed)
		return -1;
	if (need > b->max || b->len + need > b->max)
		return buf_fail(b);
	if (b->len + need + 1 <= b->cap)
		return 0;
	ncap = b->cap ? b->cap : 256;
	while (ncap < b->len + need + 1)
		ncap *= 2;
	if (ncap > b->max + 1)
		ncap = b->max + 1;
	if ((p = realloc(b->data, ncap)) == NULL)
		return buf_fail(b);
	b->data = p;
	b->cap = ncap;
	return 0;
}

int
buf_add(struct buf *b, const void *p, size_t n)
{
	if (buf_grow(b, n) == -1)
		return -1;
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int
buf_adds(struct buf *b, const char *s)
{
	return buf_add(b, s, strlen(s));
}

int
buf_addc(struct buf *b, char c)
{
	return buf_add(b, &c, 1);
}

int
buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	int n;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0 || buf_grow(b, (size_t)n) == -1)
		return -1;
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = buf_vprintf(b, fmt, ap);
	va_end(ap);
	return rc;
}

char *
buf_take(struct buf *b, size_t *len)
{
	char *p;

	if (b->failed)
		return NULL;
	if (b->data == NULL && buf_grow(b, 0) == -1)
		return NULL;
	if (b->data != NULL && b->len == 0)
		b->data[0] = '\0';
	p = b->data;
	if (len != NULL)
		*len = b->len;
	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}

int
buf_json_str(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p;
	const char *run = s;

	if (buf_addc(b, '"') == -1)
		return -1;
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		char esc[7] = {'\\', 0, 0, 0, 0, 0, 0};
		size_t n = 2;

		switch (*p) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		case '<': /* so that JSON inlined anywhere never closes a script element */
		case '>':
		case '&':
			esc[1] = 'u', esc[2] = '0', esc[3] = '0';
			esc[4] = hex[*p >> 4], esc[5] = hex[*p & 15], n = 6;
			break;
		default:
			if (*p >= 0x20)
				continue;
			esc[1] = 'u', esc[2] = '0', esc[3] = '0';
			esc[4] = hex[*p >> 4], esc[5] = hex[*p & 15], n = 6;
			break;
		}
		if (buf_add(b, run, (const char *)p - run) == -1 || buf_add(b, esc, n) == -1)
			return -1;
		run = (const char *)p + 1;
	}
	if (buf_add(b, run, (const char *)p - run) == -1)
		return -1;
	return buf_addc(b, '"');
}

int
buf_html(struct buf *b, const char *s)
{
	const char *p, *run = s;

	for (p = s; *p != '\0'; p++) {
		const char *rep;

		switch (*p) {
		case '&': rep = "&amp;"; break;
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '"': rep = "&quot;"; break;
		case '\'': rep = "&#39;"; break;
		default: continue;
		}
		if (buf_add(b, run, p - run) == -1 || buf_adds(b, rep) == -1)
			return -1;
		run = p + 1;
	}
	return buf_add(b, run, p - run);
}

int
buf_json_member(struct buf *b, const char *name, const char *value)
{
	/* no printf: a lookup writes a dozen members, and vsnprintf was its biggest cost */
	buf_add(b, ",\"", 2);
	buf_adds(b, name);
	buf_add(b, "\":", 2);
	if (value == NULL)
		return buf_adds(b, "null");
	return buf_json_str(b, value);
}

int
buf_json_time(struct buf *b, const char *name, time_t t)
{
	char ts[TIMEFMT_LEN];

	if (t == 0)
		return buf_json_member(b, name, NULL);
	timefmt_rfc3339(ts, t);
	return buf_json_member(b, name, ts);
}

char *
text_next_line(const char **cursor)
{
	const char *p = *cursor, *nl;
	size_t n;

	for (; *p != '\0'; p = *nl ? nl + 1 : nl) {
		nl = p + strcspn(p, "\n");
		n = (size_t)(nl - p);
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (n == 0)
			continue;
		*cursor = *nl ? nl + 1 : nl;
		return strndup(p, n);
	}
	*cursor = p;
	return NULL;
}
