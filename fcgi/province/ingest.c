/*
 * The body of POST /v1/records, from the wire to checked records: inflate (gzip), split into
 * NDJSON lines, and check each line as a record of SPEC 5.3. Everything untrusted the
 * receiver reads passes here; tests/fuzz/fuzz_ndjson.c drives it.
 *
 * Two kinds of refusal, and the difference matters to the sender (SPEC 5.1): a record
 * refused on its own merits (not a record of the interface, a line over max_line) is
 * answered per id, and the sender sets it aside; a request that cannot be read at all
 * (bad gzip, too big, too many lines, a long line without a readable id) is refused whole
 * with an HTTP error, which a sender treats as a link error and keeps everything.
 */
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include <zlib.h>

#include "province.h"

int
ingest_http_status(enum ingest_err e)
{
	switch (e) {
	case INGEST_OK:
		return 200;
	case INGEST_ENCODING:
		return 415;
	case INGEST_BAD_GZIP:
		return 400;
	case INGEST_TOO_LARGE:
	case INGEST_TOO_MANY:
	case INGEST_LONG_LINE:
		return 413;
	case INGEST_NOMEM:
		break;
	}
	return 503;
}

const char *
ingest_code(enum ingest_err e)
{
	static const char *const codes[] = {"ok", "out_of_memory", "unsupported_encoding",
		"bad_gzip", "too_large", "too_many_records", "line_too_long"};

	return (size_t)e < sizeof(codes) / sizeof(codes[0]) ? codes[e] : "error";
}

const char *
ingest_strerror(enum ingest_err e)
{
	switch (e) {
	case INGEST_OK:
		return "ok";
	case INGEST_NOMEM:
		return "the receiver is out of memory";
	case INGEST_ENCODING:
		return "Content-Encoding must be gzip";
	case INGEST_BAD_GZIP:
		return "the body is not valid gzip";
	case INGEST_TOO_LARGE:
		return "the body is over 16 MiB, or over 64 MiB once inflated";
	case INGEST_TOO_MANY:
		return "at most 20000 records per request";
	case INGEST_LONG_LINE:
		return "a line is over max_line and its id cannot be read: put \"id\" first";
	}
	return "error";
}

/* ---- gzip ---------------------------------------------------------------------------- */

enum ingest_err
ingest_inflate(const char *enc, const void *wire, size_t len, struct buf *out)
{
	unsigned char chunk[65536];
	z_stream z;
	int zr = Z_OK;

	buf_init(out, INGEST_MAX_PLAIN);
	if (len > INGEST_MAX_WIRE)
		return INGEST_TOO_LARGE;
	if (enc == NULL || *enc == '\0' || strcasecmp(enc, "identity") == 0) {
		if (buf_add(out, len ? wire : "", len) == -1)
			return INGEST_TOO_LARGE;
		return INGEST_OK;
	}
	if (strcasecmp(enc, "gzip") != 0)
		return INGEST_ENCODING;
	memset(&z, 0, sizeof(z));
	/* 15 + 16: a gzip wrapper only (RFC 1952), not a bare zlib stream */
	if (inflateInit2(&z, 15 + 16) != Z_OK)
		return INGEST_NOMEM;
	z.next_in = (unsigned char *)(uintptr_t)wire;
	z.avail_in = (unsigned)len;
	do {
		z.next_out = chunk;
		z.avail_out = sizeof(chunk);
		zr = inflate(&z, Z_NO_FLUSH);
		if (zr != Z_OK && zr != Z_STREAM_END)
			break;
		if (buf_add(out, chunk, sizeof(chunk) - z.avail_out) == -1)
			break;
	} while (zr != Z_STREAM_END);
	inflateEnd(&z);
	if (out->failed)
		return INGEST_TOO_LARGE;
	if (zr != Z_STREAM_END)
		return INGEST_BAD_GZIP;
	if (out->data == NULL && buf_add(out, "", 0) == -1)
		return INGEST_NOMEM;
	return INGEST_OK;
}

/* ---- the id of a line too long to parse ----------------------------------------------- */

static const char *
skip_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
		p++;
	return p;
}

/* p at a '"': just past the closing quote, or NULL (RFC 8259 7: escapes are skipped whole). */
static const char *
skip_string(const char *p, const char *end)
{
	for (p++; p < end; p++) {
		if (*p == '\\') {
			if (++p == end)
				return NULL;
		} else if (*p == '"')
			return p + 1;
	}
	return NULL;
}

/* Past one value: a string, an object or array (by depth, strings skipped whole), or a
 * scalar (up to the next delimiter). NULL when the line ends first. */
static const char *
skip_value(const char *p, const char *end)
{
	size_t depth = 0;

	if (p >= end)
		return NULL;
	if (*p == '"')
		return skip_string(p, end);
	if (*p != '{' && *p != '[') {
		while (p < end && strchr(",}] \t\r\n", *p) == NULL)
			p++;
		return p;
	}
	while (p < end) {
		if (*p == '"') {
			if ((p = skip_string(p, end)) == NULL)
				return NULL;
			continue;
		}
		if (*p == '{' || *p == '[')
			depth++;
		else if (*p == '}' || *p == ']') {
			if (--depth == 0)
				return p + 1;
		}
		p++;
	}
	return NULL;
}

int
ingest_line_id(const char *line, size_t n, char out[INGEST_ID_MAX + 1])
{
	const char *p = line, *end = line + n, *k, *v;

	out[0] = '\0';
	p = skip_ws(p, end);
	if (p == end || *p++ != '{')
		return -1;
	for (;;) {
		p = skip_ws(p, end);
		if (p == end || *p != '"')
			return -1;	/* the end of the object, or not JSON */
		k = p + 1;
		if ((p = skip_string(p, end)) == NULL)
			return -1;
		/* the key is what lies between the quotes: "id" only when exactly that */
		int is_id = p - k == 3 && memcmp(k, "id\"", 3) == 0;

		p = skip_ws(p, end);
		if (p == end || *p++ != ':')
			return -1;
		p = skip_ws(p, end);
		if (is_id) {
			if (p == end || *p != '"')
				return -1;
			for (v = ++p; p < end && *p != '"'; p++)
				if (*p == '\\' || (unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
					return -1;
			if (p == end || p == v || (size_t)(p - v) > INGEST_ID_MAX)
				return -1;
			memcpy(out, v, (size_t)(p - v));
			out[p - v] = '\0';
			return 0;
		}
		if ((p = skip_value(p, end)) == NULL)
			return -1;
		p = skip_ws(p, end);
		if (p == end || *p++ != ',')
			return -1;
	}
}

/* ---- lines and records ------------------------------------------------------------- */

void
ingest_lines_init(struct ingest_lines *l, const char *body, size_t len, size_t max_line)
{
	memset(l, 0, sizeof(*l));
	l->p = body;
	l->end = body + len;
	l->max_line = max_line;
}

void
ingest_rec_free(struct ingest_rec *r)
{
	if (r == NULL)
		return;
	json_decref(r->o);
	r->o = NULL;
}

static const char *
str_field(json_t *o, const char *name, size_t max)
{
	json_t *v = json_object_get(o, name);

	if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > max)
		return NULL;
	return json_string_value(v);
}

/* A parsed line as a record of SPEC 5.3; sets why when it is not one. */
static void
check_record(struct ingest_rec *r)
{
	static const char *const types[] = {"case", "event", "rating"};
	const char *id;
	size_t i;
	int known = 0;

	if (!json_is_object(r->o) || (id = str_field(r->o, "id", INGEST_ID_MAX)) == NULL) {
		r->why = "not a JSON record with an id";
		return;
	}
	/* jansson has checked it is UTF-8 without NUL (no JSON_ALLOW_NUL) */
	memcpy(r->id, id, strlen(id) + 1);
	r->type = str_field(r->o, "type", 16);
	r->hall_code = str_field(r->o, "hall_code", 12);
	r->case_no = str_field(r->o, "case_no", 32);
	r->at = str_field(r->o, "at", 40);
	for (i = 0; r->type != NULL && i < sizeof(types) / sizeof(types[0]); i++)
		known |= strcmp(r->type, types[i]) == 0;
	if (!known)
		r->why = "type must be case, event or rating";
	else if (r->hall_code == NULL || !halls_code_valid(r->hall_code))
		r->why = "hall_code must be 12 digits";
	else if (r->case_no == NULL || r->at == NULL)
		r->why = "case_no and at are required";
}

int
ingest_next(struct ingest_lines *l, struct ingest_rec *r, enum ingest_err *err)
{
	const char *nl;
	json_error_t jerr;

	memset(r, 0, sizeof(*r));
	*err = INGEST_OK;
	for (; l->p < l->end; l->p = nl < l->end ? nl + 1 : l->end) {
		size_t n;

		if ((nl = memchr(l->p, '\n', (size_t)(l->end - l->p))) == NULL)
			nl = l->end;
		n = (size_t)(nl - l->p);
		l->lineno++;
		if (n > 0 && l->p[n - 1] == '\r')
			n--;
		if (n == 0)
			continue;
		if (++l->records > INGEST_MAX_LINES) {
			*err = INGEST_TOO_MANY;
			return -1;
		}
		r->line = l->p;
		r->len = n;
		r->lineno = l->lineno;
		l->p = nl < l->end ? nl + 1 : l->end;
		if (n > l->max_line) {
			/* answered by its id without building it; without one, nobody can be told */
			if (ingest_line_id(r->line, n, r->id) == -1) {
				*err = INGEST_LONG_LINE;
				return -1;
			}
			snprintf(r->why_buf, sizeof(r->why_buf),
			    "the line is %zu bytes, over this receiver's max_line of %zu", n,
			    l->max_line);
			r->why = r->why_buf;
			return 1;
		}
		r->o = json_loadb(r->line, n, JSON_REJECT_DUPLICATES, &jerr);
		if (r->o == NULL && ingest_line_id(r->line, n, r->id) == 0) {
			/* not JSON, but its id can be read: refused by it, so that the sender
			 * sets that one record aside rather than resend the batch for ever */
			snprintf(r->why_buf, sizeof(r->why_buf), "not valid JSON: %.80s (column %d)",
			    jerr.text, jerr.column);
			r->why = r->why_buf;
			return 1;
		}
		check_record(r);
		return 1;
	}
	return 0;
}
