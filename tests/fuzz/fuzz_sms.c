/*
 * libFuzzer driver: the reference SMS gateway's body (fcgi/sms/sms_body.c) as POST /v1/sms
 * reads it: kv_parse_json, then sms_body_check. A message taken must keep what sms_body.c
 * promises: an id of 1 to 64 visible ASCII bytes, a mobile number (11 digits, 1[3-9]), a
 * text of 1 to 70 code points in valid UTF-8 with no control character but a line break,
 * each equal to the member it came from. A refusal is a 422 naming a field with a code and
 * a message. Any broken promise aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sms.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_taken(const struct kvlist *in, const struct sms_msg *m)
{
	const struct kv *id = kv_get(in, "id"), *to = kv_get(in, "to"), *text = kv_get(in, "text");
	size_t i, n = strlen(m->id);
	const unsigned char *p;

	if (id == NULL || to == NULL || text == NULL || in->n != 3 || id->is_int || to->is_int ||
	    text->is_int)
		abort();
	if (strcmp(id->value, m->id) != 0 || strcmp(to->value, m->to) != 0 ||
	    strcmp(text->value, m->text) != 0)
		abort();
	if (n == 0 || n > SMS_ID_MAX)
		abort();
	for (i = 0; i < n; i++)
		if (m->id[i] <= 0x20 || m->id[i] >= 0x7f)
			abort();
	if (!sms_mobile_valid(m->to) || strlen(m->to) != SMS_TO_LEN)
		abort();
	if (m->text[0] == '\0' || !utf8_valid(m->text, strlen(m->text)) ||
	    utf8_len(m->text) > SMS_TEXT_MAX)
		abort();
	for (p = (const unsigned char *)m->text; *p != '\0'; p++)
		if ((*p < 0x20 && *p != '\n') || *p == 0x7f || (p[0] == 0xc2 && p[1] < 0xa0))
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sms_refusal why;
	struct sms_msg m;
	struct kvlist in;

	if (kv_parse_json((const char *)data, size, &in) != PARSE_OK) {
		kv_free(&in);
		return 0;
	}
	memset(&why, 0, sizeof(why));
	if (sms_body_check(&in, &m, &why) == 0)
		check_taken(&in, &m);
	else if (why.status != 422 || why.field == NULL || why.code == NULL ||
	    why.message == NULL || strlen(why.field) > KV_MAX_NAME)
		abort();
	kv_free(&in);
	/* the field named survives the list it came from */
	if (why.field != NULL && strlen(why.field) > KV_MAX_NAME)
		abort();
	return 0;
}
