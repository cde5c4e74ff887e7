/*
 * The province platform's answers, read (SPEC 5.3). They come from the network, through
 * whatever stands between the hall and the platform (a captive portal, a proxy), so nothing
 * is taken on trust: success is only the platform's JSON naming every id of the batch, and
 * an answer that names an id twice, an id the batch does not hold, or a result it does not
 * know counts for nothing. tests/fuzz/fuzz_province_answer.c drives both readers.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <sodium.h>

#include "agent.h"

static struct outbox_rec *
find(struct outbox_batch *b, const char *id)
{
	size_t i;

	for (i = 0; i < b->n; i++)
		if (strcmp(b->v[i].id, id) == 0)
			return &b->v[i];
	return NULL;
}

int
province_answer_results(struct outbox_batch *b, const char *ctype, const char *body, size_t len,
    char *err, size_t errlen)
{
	json_t *root, *results, *r;
	json_error_t jerr;
	size_t i, answered = 0;

	for (i = 0; i < b->n; i++)
		b->v[i].result = REC_PENDING;
	if (strncasecmp(ctype, "application/json", 16) != 0) {
		snprintf(err, errlen, "a 200 that is not the platform's JSON (%s): a captive "
				      "portal or a proxy page?", ctype[0] ? ctype : "no type");
		return -1;
	}
	root = json_loadb(body, len, 0, &jerr);
	results = json_object_get(root, "results");
	if (!json_is_array(results)) {
		snprintf(err, errlen, "a 200 without a results list: not the platform's answer");
		json_decref(root);
		return -1;
	}
	json_array_foreach(results, i, r) {
		const char *id = json_string_value(json_object_get(r, "id"));
		const char *res = json_string_value(json_object_get(r, "result"));
		const char *why = json_string_value(json_object_get(r, "reason"));
		struct outbox_rec *rec = id ? find(b, id) : NULL;

		if (rec == NULL || res == NULL || rec->result != REC_PENDING)
			continue;
		if (strcmp(res, "accepted") == 0)
			rec->result = REC_ACCEPTED;
		else if (strcmp(res, "duplicate") == 0)
			rec->result = REC_DUPLICATE;
		else if (strcmp(res, "rejected") == 0) {
			outbox_rec_refuse(rec, REC_REJECTED, why ? why : "rejected");
		} else
			continue;
		answered++;
	}
	json_decref(root);
	if (answered != b->n) {
		snprintf(err, errlen, "the platform answered %zu of %zu records", answered, b->n);
		return -1;
	}
	return 0;
}

int
province_answer_held(struct outbox_batch *b, const char *body, size_t len, char *err,
    size_t errlen)
{
	unsigned char h[crypto_hash_sha256_BYTES];
	char hex[2 * crypto_hash_sha256_BYTES + 1];
	json_t *root, *held;
	json_error_t jerr;
	size_t i, have = 0;

	root = json_loadb(body, len, 0, &jerr);
	if (!json_is_object(held = json_object_get(root, "held"))) {
		snprintf(err, errlen, "/v1/reconcile: no held object");
		json_decref(root);
		return -1;
	}
	for (i = 0; i < b->n; i++) {
		const char *sha = json_string_value(json_object_get(held, b->v[i].id));

		if (sha == NULL)
			continue;
		if (b->v[i].payload != NULL)
			crypto_hash_sha256(h, (const unsigned char *)b->v[i].payload, b->v[i].len);
		else	/* a streamed batch: the sink hashed each payload as it went */
			memcpy(h, b->v[i].sha256, sizeof(h));
		sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
		if (strcmp(sha, hex) == 0)
			b->v[i].result = REC_DUPLICATE;
		else
			outbox_rec_refuse(&b->v[i], REC_CONFLICT,
			    "the platform holds this id with other content");
		have++;
	}
	json_decref(root);
	return have == b->n ? 1 : 0;
}

void
province_answer_error(const char *ctype, const char *body, size_t len, char *out,
    size_t outlen)
{
	json_t *root, *msg;

	out[0] = '\0';
	if (strncasecmp(ctype, "application/json", 16) != 0 ||
	    (root = json_loadb(body, len, 0, NULL)) == NULL)
		return;
	msg = json_object_get(json_object_get(root, "error"), "message");
	if (json_is_string(msg))
		text_clean(out, outlen, json_string_value(msg), json_string_length(msg));
	json_decref(root);
}
