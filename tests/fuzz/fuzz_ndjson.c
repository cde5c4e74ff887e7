/*
 * libFuzzer driver: the reference province receiver's body (fcgi/province/ingest.c), from
 * the wire to checked records, as POST /v1/records reads it.
 *
 * The first byte chooses how the rest arrives (identity; gzip made here from the input, so
 * the fuzzer reaches the NDJSON behind a valid gzip; or the rest taken as gzip bytes as
 * sent) and the second the max_line. Every record must keep what ingest.c promises: a line
 * lies inside the body and holds no newline; a record to store is a JSON object with an id
 * of 1 to 64 bytes, a known type, a 12-digit hall_code, a case_no and an at; a line over
 * max_line is never parsed and is answered by a printable id, and so is a line that is not
 * JSON when its id can be read; the id read without parsing
 * (ingest_line_id) agrees with jansson's wherever both read one. Any broken promise aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "province.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
printable_id(const char *id)
{
	size_t i, n = strlen(id);

	if (n == 0 || n > INGEST_ID_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (id[i] < 0x20 || id[i] > 0x7e || id[i] == '"' || id[i] == '\\')
			return 0;
	return 1;
}

/* gzip of in (RFC 1952), or NULL */
static unsigned char *
gzip(const uint8_t *in, size_t n, size_t *outlen)
{
	z_stream z;
	unsigned char *out;
	size_t cap = compressBound((uLong)n) + 64;

	if ((out = malloc(cap)) == NULL)
		return NULL;
	memset(&z, 0, sizeof(z));
	if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
		free(out);
		return NULL;
	}
	z.next_in = (unsigned char *)(uintptr_t)in;
	z.avail_in = (unsigned)n;
	z.next_out = out;
	z.avail_out = (unsigned)cap;
	if (deflate(&z, Z_FINISH) != Z_STREAM_END)
		abort();
	*outlen = z.total_out;
	deflateEnd(&z);
	return out;
}

static void
check_record(const struct buf *body, const struct ingest_rec *r, size_t max_line)
{
	char id[INGEST_ID_MAX + 1];
	json_t *v;

	if (r->line < body->data || r->line + r->len > body->data + body->len || r->len == 0 ||
	    memchr(r->line, '\n', r->len) != NULL || r->lineno == 0)
		abort();
	if (r->len > max_line) {
		/* never parsed; answered by its id, refused on its merits */
		if (r->o != NULL || r->why == NULL || !printable_id(r->id))
			abort();
		return;
	}
	/* a line jansson cannot read is refused, by the id read without parsing if any */
	if (r->o == NULL && (r->why == NULL || (r->id[0] != '\0' && !printable_id(r->id))))
		abort();
	if (r->why == NULL) {
		if (!json_is_object(r->o) || r->id[0] == '\0' || strlen(r->id) > INGEST_ID_MAX ||
		    r->type == NULL || r->case_no == NULL || r->at == NULL ||
		    !halls_code_valid(r->hall_code))
			abort();
		if (strcmp(r->type, "case") != 0 && strcmp(r->type, "event") != 0 &&
		    strcmp(r->type, "rating") != 0)
			abort();
	}
	/* the id read without parsing is the one jansson reads, when both read one */
	if (json_is_object(r->o) && ingest_line_id(r->line, r->len, id) == 0) {
		if (!printable_id(id) || !json_is_string(v = json_object_get(r->o, "id")) ||
		    strcmp(json_string_value(v), id) != 0)
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const enc[] = {"", "gzip", "gzip", "identity"};
	unsigned char *wire = NULL;
	struct ingest_lines l;
	struct ingest_rec r;
	enum ingest_err e;
	struct buf body;
	size_t max_line, len, n = 0;
	int mode, more;

	if (size < 2)
		return 0;
	mode = data[0] & 3;
	max_line = INGEST_MAX_LINE_MIN + (size_t)data[1] * 4;
	data += 2;
	size -= 2;
	len = size;
	if (mode == 1 && (wire = gzip(data, size, &len)) == NULL)
		return 0;
	e = ingest_inflate(enc[mode], wire != NULL ? wire : data, len, &body);
	/* identity and our own gzip always arrive whole, and as sent */
	if (mode != 2 && (e != INGEST_OK || body.len != size || memcmp(body.data, data, size) != 0))
		abort();
	free(wire);
	if (e != INGEST_OK) {
		if (ingest_http_status(e) < 400)
			abort();
		buf_free(&body);
		return 0;
	}
	ingest_lines_init(&l, body.data, body.len, max_line);
	while ((more = ingest_next(&l, &r, &e)) == 1) {
		check_record(&body, &r, max_line);
		ingest_rec_free(&r);
		if (++n > INGEST_MAX_LINES)
			abort();
	}
	if (more == -1 && (e == INGEST_OK || ingest_http_status(e) != 413))
		abort();
	if (more == -1 && e == INGEST_LONG_LINE && r.len <= max_line)
		abort();
	buf_free(&body);
	return 0;
}
