/*
 * The body of POST /v1/sms (SPEC 5.6): {"id","to","text"}. The JSON itself is read by
 * kv_parse_json (lib/core/kv.c: UTF-8, NULs, duplicates, types), and this checks its members
 * as a message. Everything untrusted the gateway takes passes here; tests/fuzz/fuzz_sms.c
 * drives both together.
 *
 * The checks are those of a real gateway that a notifier must not get wrong: the id is the
 * idempotency key (1 to 64 visible ASCII bytes, so that it can be logged and compared as
 * it is), the number a mainland mobile one (a landline cannot take an SMS), and the text
 * at most 70 characters counted as Unicode code points, the length of one SMS in UCS-2
 * with its 【signature】. A control character other than a line break is refused: no
 * handset shows one.
 */
#include <stdio.h>
#include <string.h>

#include "sms.h"

static const char *const known[] = {"id", "to", "text"};

static int
refuse(struct sms_refusal *why, int status, const char *code, const char *message,
    const char *field)
{
	why->status = status;
	why->code = code;
	why->message = message;
	why->field = field;
	return -1;
}

int
sms_mobile_valid(const char *s)
{
	return s != NULL && strlen(s) == SMS_TO_LEN && s[0] == '1' && s[1] >= '3' && s[1] <= '9' &&
	    strspn(s, "0123456789") == SMS_TO_LEN;
}

static int
id_valid(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > SMS_ID_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return 0;
	return 1;
}

/* 1 when valid UTF-8 text s holds a C0 control other than '\n', DEL or a C1 control. */
static int
has_control(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	for (; *p != '\0'; p++) {
		if ((*p < 0x20 && *p != '\n') || *p == 0x7f)
			return 1;
		/* U+0080..U+009F are C2 80..C2 9F */
		if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
			return 1;
	}
	return 0;
}

/* The string member `name`, or NULL having refused (absent, empty or not a string). */
static const char *
member(const struct kvlist *in, const char *name, struct sms_refusal *why)
{
	const struct kv *v = kv_get(in, name);

	if (v == NULL || v->value[0] == '\0') {
		refuse(why, 422, "required", "缺少必填字段。", name);
		return NULL;
	}
	if (v->is_int) {
		refuse(why, 422, "invalid_type", "字段应为字符串。", name);
		return NULL;
	}
	return v->value;
}

int
sms_body_check(const struct kvlist *in, struct sms_msg *m, struct sms_refusal *why)
{
	const char *id, *to, *text;
	size_t i, j;

	memset(m, 0, sizeof(*m));
	for (i = 0; i < in->n; i++) {
		for (j = 0; j < sizeof(known) / sizeof(known[0]); j++)
			if (strcmp(in->v[i].name, known[j]) == 0)
				break;
		if (j == sizeof(known) / sizeof(known[0])) {
			/* the name is the client's (kv.c caps it at KV_MAX_NAME bytes): a copy */
			snprintf(why->field_buf, sizeof(why->field_buf), "%s", in->v[i].name);
			return refuse(why, 422, "unknown_field", "不认识的字段：只接受 id、to、text。",
			    why->field_buf);
		}
	}
	if ((id = member(in, "id", why)) == NULL || (to = member(in, "to", why)) == NULL ||
	    (text = member(in, "text", why)) == NULL)
		return -1;
	if (!id_valid(id))
		return refuse(why, 422, "invalid", "id 应为 1 至 64 个可见 ASCII 字符（不含空格）。",
		    "id");
	if (!sms_mobile_valid(to))
		return refuse(why, 422, "invalid",
		    "to 应为中国大陆手机号码（11 位数字，以 13 至 19 开头）；固定电话不能接收短信。",
		    "to");
	/* kv_parse_json gave valid UTF-8 without NULs */
	if (utf8_len(text) > SMS_TEXT_MAX || strlen(text) > SMS_TEXT_MAX_BYTES)
		return refuse(why, 422, "too_long", "短信内容不得超过 70 个字符（含签名）。", "text");
	if (has_control(text))
		return refuse(why, 422, "invalid", "短信内容含有控制字符。", "text");
	memcpy(m->id, id, strlen(id) + 1);
	memcpy(m->to, to, SMS_TO_LEN + 1);
	memcpy(m->text, text, strlen(text) + 1);
	return 0;
}
