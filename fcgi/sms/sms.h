/*
 * sms-gateway, the reference SMS gateway (SPEC 5.6): its internal interfaces. Prototypes
 * are grouped under the file that defines them. Nothing here knows FastCGI, so the body's
 * checks can be driven by tests and fuzzers (tests/fuzz/fuzz_sms.c) directly.
 */
#ifndef SMS_H
#define SMS_H

#include <stddef.h>
#include <time.h>

#include <sqlite3.h>

#include "core.h"

/* ---- fcgi/sms/sms_body.c ------------------------------------------------------------ */
#define SMS_ID_MAX 64		/* bytes of an id: visible ASCII, the sender's idempotency key */
#define SMS_TO_LEN 11		/* a mainland mobile number: 1[3-9] and 9 digits */
#define SMS_TEXT_MAX 70		/* code points, the 【signature】 included (SPEC 5.6) */
#define SMS_TEXT_MAX_BYTES (SMS_TEXT_MAX * 4)

/* One message as POST /v1/sms takes it, checked. */
struct sms_msg {
	char id[SMS_ID_MAX + 1];
	char to[SMS_TO_LEN + 1];
	char text[SMS_TEXT_MAX_BYTES + 1];
};
/* Why a body is refused: the HTTP status, the error's code, a sentence, the field (or NULL). */
struct sms_refusal {
	int status;
	const char *code, *message;
	const char *field;	/* static, or field_buf: valid after the kvlist is freed */
	char field_buf[KV_MAX_NAME + 1];
};
/*
 * Checks the members of a parsed JSON body (kv_parse_json) as a message: exactly "id",
 * "to" and "text", each a string. 0 with m filled, or -1 with why set (422, naming the
 * field).
 */
int sms_body_check(const struct kvlist *in, struct sms_msg *m, struct sms_refusal *why);
/* 1 when s is a mainland mobile number: 11 digits, 1[3-9] first. */
int sms_mobile_valid(const char *s);

/* ---- fcgi/sms/sms_store.c ----------------------------------------------------------- */
#define SMS_LIST_MAX 10000	/* messages in one answer of GET /v1/sms: page with since */
/* The store's tables; run once before the workers start. 0 or -1 (said on stderr). */
int sms_store_schema(sqlite3 *);
enum sms_put {
	SMS_ACCEPTED,	/* new: stored, durable */
	SMS_DUPLICATE,	/* the id is held with the same to and text */
	SMS_CONFLICT,	/* the id is held with another to or text: nothing changed */
	SMS_STORE_FAILED,
};
/* Stores m (received at `at`) unless its id is held; returns only once the answer is
 * durable (the connection runs synchronous = FULL). */
enum sms_put sms_store_put(sqlite3 *, const struct sms_msg *m, time_t at);
/*
 * Appends to out the JSON answer of GET /v1/sms: the messages to `to` (NULL: to anyone)
 * after seq `since`, in the order received, at most `limit` (1..SMS_LIST_MAX):
 * {"messages":[{"seq","id","to","text","at"}...],"more":true|false}. 0 or -1.
 */
int sms_store_list(sqlite3 *, const char *to, long long since, int limit, struct buf *out);
/* Messages held, or -1. */
long long sms_store_count(sqlite3 *);

#endif
