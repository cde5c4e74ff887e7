/*
 * Field validators, in the manner of kcgi: each submission is a table of field specs, and
 * handlers only ever see fields that passed. Text is stored as the citizen typed it; we only
 * refuse what no person types (control characters) and what is too long or blank.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "web.h"

/* 1 when s is only white space (ASCII or U+3000, the ideographic space). */
static int
blank(const char *s)
{
	while (*s != '\0') {
		if (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
			s++;
		else if (strncmp(s, "\xe3\x80\x80", 3) == 0)
			s += 3;
		else
			return 0;
	}
	return 1;
}

static const char *
check_length(const char *v, const struct field_spec *f)
{
	static _Thread_local char msg[128];

	if (f->max_chars > 0 && utf8_len(v) > f->max_chars) {
		snprintf(msg, sizeof(msg), "%s不能超过 %zu 个字。", f->label, f->max_chars);
		return msg;
	}
	return NULL;
}

/*
 * 1 when v holds a control character: C0 (but those in `allowed`), DEL, C1 (U+0080..U+009F,
 * C2 80..C2 9F in UTF-8) and, when lines are not allowed, U+2028/U+2029 separators.
 */
static int
has_control(const char *v, const char *allowed, int lines)
{
	const unsigned char *p;

	for (p = (const unsigned char *)v; *p != '\0'; p++) {
		if ((*p < 0x20 && strchr(allowed, *p) == NULL) || *p == 0x7f)
			return 1;
		if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
			return 1;
		if (!lines && *p == 0xe2 && p[1] == 0x80 && (p[2] == 0xa8 || p[2] == 0xa9))
			return 1;
	}
	return 0;
}

const char *
check_text(const char *v, const struct field_spec *f)
{
	if (has_control(v, "", 0))
		return "请不要输入换行或控制字符。";
	return check_length(v, f);
}

const char *
check_multiline(const char *v, const struct field_spec *f)
{
	if (has_control(v, "\n\r\t", 1))
		return "内容中含有控制字符。";
	return check_length(v, f);
}

const char *
check_choice(const char *v, const struct field_spec *f)
{
	const char *const *c;

	for (c = f->choices; *c != NULL; c++)
		if (strcmp(v, *c) == 0)
			return NULL;
	return "请从给出的选项中选择。";
}

/* Strips spaces, hyphens aside, and a +86 or 86 country prefix before a mobile number. */
void
phone_normalize(char *s)
{
	char *w = s, *r = s;

	for (; *r != '\0'; r++)
		if (*r != ' ')
			*w++ = *r;
	*w = '\0';
	if (strncmp(s, "+86", 3) == 0 && strlen(s) == 14)
		memmove(s, s + 3, strlen(s + 3) + 1);
	else if (strncmp(s, "86", 2) == 0 && strlen(s) == 13 && s[2] == '1')
		memmove(s, s + 2, strlen(s + 2) + 1);
}

static int
all_digits(const char *s, size_t n)
{
	return n > 0 && strspn(s, "0123456789") >= n;
}

/*
 * Mainland mobile: 11 digits, 1[3-9]. Landline with area code: 0 and 2 or 3 more digits
 * (010, 020..029, 0731 ...), an optional hyphen, then 7 or 8 digits not starting with 0.
 */
static int
phone_ok(const char *s)
{
	size_t n = strlen(s), area;

	if (n == 11 && s[0] == '1' && s[1] >= '3' && s[1] <= '9' && all_digits(s, 11))
		return 1;
	if (s[0] != '0' || s[1] == '0')
		return 0;
	for (area = 3; area <= 4; area++) {
		const char *local = s + area;
		size_t ln;

		if (n <= area || !all_digits(s, area))
			continue;
		if (*local == '-')
			local++;
		ln = strlen(local);
		if ((ln == 7 || ln == 8) && local[0] != '0' && all_digits(local, ln))
			return 1;
	}
	return 0;
}

const char *
check_phone(const char *v, const struct field_spec *f)
{
	char tmp[64];

	(void)f;
	if (strlen(v) >= sizeof(tmp))
		return "请填写正确的手机号码或带区号的固定电话。";
	memcpy(tmp, v, strlen(v) + 1);
	phone_normalize(tmp);
	return phone_ok(tmp) ? NULL : "请填写正确的手机号码（11 位）或带区号的固定电话。";
}

/* A plain address: local@domain.tld in printable ASCII, no spaces, at most 100 characters. */
const char *
check_email(const char *v, const struct field_spec *f)
{
	const char *at = strchr(v, '@'), *p, *dot;

	(void)f;
	if (strlen(v) > 100 || at == NULL || at == v || strchr(at + 1, '@') != NULL)
		return "请填写正确的电子邮箱地址。";
	for (p = v; *p != '\0'; p++)
		if (*p <= ' ' || *p >= 0x7f || *p == '<' || *p == '>' || *p == '"' || *p == ',')
			return "请填写正确的电子邮箱地址。";
	dot = strrchr(at, '.');
	if (dot == NULL || dot == at + 1 || dot[1] == '\0' || strstr(at, "..") != NULL)
		return "请填写正确的电子邮箱地址。";
	return NULL;
}

const char *
check_code(const char *v, const struct field_spec *f)
{
	(void)f;
	return strlen(v) == 6 && all_digits(v, 6) ? NULL : "查询码是 6 位数字。";
}

const char *
check_level(const char *v, const struct field_spec *f)
{
	(void)f;
	return strlen(v) == 1 && v[0] >= '1' && v[0] <= '5' ? NULL : "请选择 1 到 5 的评价等级。";
}

const char *
field_value(const struct kvlist *in, const char *name)
{
	const struct kv *kv = kv_get(in, name);

	return kv == NULL || blank(kv->value) ? NULL : kv->value;
}

int
fields_check(const struct kvlist *in, const struct field_spec *specs, size_t nspecs,
    const char *const *extra, const char **field, const char **message)
{
	size_t i, j;

	/* first every field we do not know: a misspelt name must not pass as "absent" */
	for (i = 0; i < in->n; i++) {
		const char *const *e;
		int known = 0;

		for (j = 0; j < nspecs && !known; j++)
			known = strcmp(in->v[i].name, specs[j].name) == 0;
		for (e = extra; e != NULL && *e != NULL && !known; e++)
			known = strcmp(in->v[i].name, *e) == 0;
		if (!known) {
			*field = in->v[i].name;
			*message = "不认识的字段。";
			return -1;
		}
	}
	for (j = 0; j < nspecs; j++) {
		const struct kv *kv = kv_get(in, specs[j].name);
		const char *msg;

		*field = specs[j].name;
		if (kv == NULL || blank(kv->value)) {
			if (specs[j].required) {
				static _Thread_local char need[128];

				snprintf(need, sizeof(need), "请填写%s。", specs[j].label);
				*message = need;
				return -1;
			}
			continue;
		}
		/* only level may come as a JSON number; a number elsewhere is a wrong type, and so
		 * is a boolean (a program takes those by name, kv_parse_json_bools) */
		if ((kv->is_int && specs[j].check != check_level) || kv->is_bool) {
			*message = "这个字段应是文本。";
			return -1;
		}
		if ((msg = specs[j].check(kv->value, &specs[j])) != NULL) {
			*message = msg;
			return -1;
		}
	}
	*field = NULL;
	*message = NULL;
	return 0;
}
