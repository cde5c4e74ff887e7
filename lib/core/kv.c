/*
 * Untrusted request input to name/value pairs. One parser per format, each with a cap on
 * every length; what comes out is valid UTF-8 without NULs, and no name appears twice.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core.h"

void
kv_free(struct kvlist *l)
{
	size_t i;

	if (l == NULL)
		return;
	for (i = 0; i < l->n; i++) {
		free(l->v[i].name);
		free(l->v[i].value);
	}
	free(l->bad_name);
	memset(l, 0, sizeof(*l));
}

const struct kv *
kv_get(const struct kvlist *l, const char *name)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (strcmp(l->v[i].name, name) == 0)
			return &l->v[i];
	return NULL;
}

const char *
parse_strerror(enum parse_err e)
{
	switch (e) {
	case PARSE_OK: return "ok";
	case PARSE_NOMEM: return "out of memory";
	case PARSE_MALFORMED: return "malformed";
	case PARSE_BAD_ENCODING: return "bad percent-encoding";
	case PARSE_INVALID_UTF8: return "invalid UTF-8";
	case PARSE_NUL: return "NUL byte";
	case PARSE_DUPLICATE: return "duplicated field";
	case PARSE_TOO_MANY: return "too many fields";
	case PARSE_TOO_LONG: return "field too long";
	case PARSE_BAD_TYPE: return "wrong type";
	}
	return "unknown";
}

/* Names the field that failed, when its name is itself printable and short. */
static void
kv_blame(struct kvlist *l, const char *name, size_t len)
{
	free(l->bad_name);
	l->bad_name = NULL;
	if (len > 0 && len <= KV_MAX_NAME && utf8_valid(name, len))
		l->bad_name = strndup(name, len);
}

/* Checks and appends one pair; takes ownership of name and value. */
static enum parse_err
kv_push(struct kvlist *l, char *name, size_t nlen, char *value, size_t vlen, int is_int)
{
	enum parse_err e = PARSE_OK;

	if (!utf8_valid(name, nlen))
		e = memchr(name, 0, nlen) ? PARSE_NUL : PARSE_INVALID_UTF8;
	else if (nlen == 0)
		e = PARSE_MALFORMED;
	else if (nlen > KV_MAX_NAME)
		e = PARSE_TOO_LONG;
	if (e != PARSE_OK) {
		/* the name itself is bad: blame nothing we cannot print */
		goto fail;
	}
	if (!utf8_valid(value, vlen))
		e = memchr(value, 0, vlen) ? PARSE_NUL : PARSE_INVALID_UTF8;
	else if (vlen > KV_MAX_VALUE)
		e = PARSE_TOO_LONG;
	else if (kv_get(l, name) != NULL)
		e = PARSE_DUPLICATE;
	else if (l->n == KV_MAX_PAIRS)
		e = PARSE_TOO_MANY;
	if (e != PARSE_OK) {
		kv_blame(l, name, nlen);
		goto fail;
	}
	l->v[l->n].name = name;
	l->v[l->n].value = value;
	l->v[l->n].is_int = is_int;
	l->n++;
	return PARSE_OK;
fail:
	free(name);
	free(value);
	return e;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Percent-decodes s[0..len) with '+' as space (WHATWG URL, application/x-www-form-urlencoded
 * percent-decode). Unlike the WHATWG parser, which keeps a stray '%' as it is, we refuse it:
 * such input comes from a broken or hostile client, never from a browser's form.
 */
static enum parse_err
form_decode(const char *s, size_t len, char **out, size_t *outlen)
{
	char *d;
	size_t i, n = 0;

	if ((d = malloc(len + 1)) == NULL)
		return PARSE_NOMEM;
	for (i = 0; i < len; i++) {
		if (s[i] == '+')
			d[n++] = ' ';
		else if (s[i] == '%') {
			int hi, lo;

			if (i + 2 >= len) {
				free(d);
				return PARSE_BAD_ENCODING;
			}
			if ((hi = hexval((unsigned char)s[i + 1])) < 0 ||
			    (lo = hexval((unsigned char)s[i + 2])) < 0) {
				free(d);
				return PARSE_BAD_ENCODING;
			}
			d[n++] = (char)(hi << 4 | lo);
			i += 2;
		} else
			d[n++] = s[i];
	}
	d[n] = '\0';
	*out = d;
	*outlen = n;
	return PARSE_OK;
}

enum parse_err
kv_parse_form(const char *s, size_t len, struct kvlist *out)
{
	const char *p = s, *end = s + len;
	enum parse_err e;

	memset(out, 0, sizeof(*out));
	if (memchr(s, 0, len) != NULL)
		return PARSE_NUL;
	while (p < end) {
		const char *amp = memchr(p, '&', end - p), *eq;
		char *name, *value;
		size_t nlen, vlen;

		if (amp == NULL)
			amp = end;
		if (amp == p) {	/* "a=1&&b=2": empty sequences are skipped */
			p++;
			continue;
		}
		if ((eq = memchr(p, '=', amp - p)) == NULL)
			eq = amp;
		if ((size_t)(eq - p) > 3 * KV_MAX_NAME || (size_t)(amp - eq) > 3 * KV_MAX_VALUE + 1) {
			e = PARSE_TOO_LONG;
			goto fail;
		}
		if ((e = form_decode(p, eq - p, &name, &nlen)) != PARSE_OK)
			goto fail;
		vlen = 0;
		e = eq < amp ? form_decode(eq + 1, amp - eq - 1, &value, &vlen) :
		    ((value = strdup("")) == NULL ? PARSE_NOMEM : PARSE_OK);
		if (e != PARSE_OK) {
			kv_blame(out, name, nlen);
			free(name);
			goto fail;
		}
		if ((e = kv_push(out, name, nlen, value, vlen, 0)) != PARSE_OK)
			goto fail;
		p = amp + (amp < end);
	}
	return PARSE_OK;
fail:
	{
		char *bad = out->bad_name;

		out->bad_name = NULL;
		kv_free(out);
		out->bad_name = bad;
	}
	return e;
}

/* 1 when name is one of the NULL-terminated list (NULL: none). */
static int
kv_listed(const char *const *list, const char *name)
{
	for (; list != NULL && *list != NULL; list++)
		if (strcmp(*list, name) == 0)
			return 1;
	return 0;
}

enum parse_err
kv_parse_json(const char *s, size_t len, struct kvlist *out)
{
	return kv_parse_json_bools(s, len, NULL, out);
}

enum parse_err
kv_parse_json_bools(const char *s, size_t len, const char *const *bools, struct kvlist *out)
{
	json_error_t jerr;
	json_t *root, *val;
	const char *key;
	enum parse_err e = PARSE_OK;

	memset(out, 0, sizeof(*out));
	if (memchr(s, 0, len) != NULL)
		return PARSE_NUL;
	if (!utf8_valid(s, len))
		return PARSE_INVALID_UTF8;
	root = json_loadb(s, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		switch (json_error_code(&jerr)) {
		case json_error_duplicate_key: return PARSE_DUPLICATE;
		case json_error_null_character:
		case json_error_null_byte_in_key: return PARSE_NUL;
		case json_error_invalid_utf8: return PARSE_INVALID_UTF8;
		case json_error_out_of_memory: return PARSE_NOMEM;
		default: return PARSE_MALFORMED;
		}
	}
	if (!json_is_object(root)) {
		json_decref(root);
		return PARSE_MALFORMED;
	}
	json_object_foreach(root, key, val) {
		char *name, *value;
		size_t vlen;
		int is_int = 0, is_bool = 0;

		if (json_is_null(val))
			continue;
		if (json_is_string(val)) {
			vlen = json_string_length(val);
			value = malloc(vlen + 1);
			if (value != NULL) {
				memcpy(value, json_string_value(val), vlen);
				value[vlen] = '\0';
			}
		} else if (json_is_integer(val)) {
			char num[32];

			vlen = (size_t)snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT,
			    json_integer_value(val));
			value = strdup(num);
			is_int = 1;
		} else if (json_is_boolean(val) && kv_listed(bools, key)) {
			value = strdup(json_is_true(val) ? "true" : "false");
			vlen = strlen(json_is_true(val) ? "true" : "false");
			is_bool = 1;
		} else {
			kv_blame(out, key, strlen(key));
			e = PARSE_BAD_TYPE;
			break;
		}
		if (value == NULL || (name = strdup(key)) == NULL) {
			free(value);
			e = PARSE_NOMEM;
			break;
		}
		if ((e = kv_push(out, name, strlen(name), value, vlen, is_int)) != PARSE_OK)
			break;
		out->v[out->n - 1].is_bool = is_bool;
	}
	json_decref(root);
	if (e != PARSE_OK) {
		char *bad = out->bad_name;

		out->bad_name = NULL;
		kv_free(out);
		out->bad_name = bad;
	}
	return e;
}
