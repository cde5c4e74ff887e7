/*
 * The Chinese words citizens and staff read for the codes of SPEC 2 (statuses, kinds,
 * categories, channels) and the rating levels of SPEC 4.2: one table for every page and JSON body;
 * and the masked phone, the only one a page shows.
 */
#include <stdio.h>
#include <string.h>

#include "core.h"

static const struct {
	const char *code, *text;
} words[] = {
	{"received", "已提交"},
	{"delivered", "已送达县级"},
	{"accepted", "已受理"},
	{"transferred", "已转办"},
	{"answered", "已答复"},
	{"resolved", "已办结"},
	{"rejected", "不予受理"},
	{"consultation", "咨询"},
	{"complaint", "投诉"},
	{"unresolved", "“办不成事”反映"},
	{"policy", "法规政策"},
	{"procedure", "事项办理"},
	{"public_info", "公共信息"},
	/* SPEC 2's channels (seed 4, 咨询服务渠道) */
	{"online", "网上"},
	{"window", "现场"},
	{"phone", "电话"},
	{"letter", "信函"},
	{"email", "电子邮件"},
};

const char *
code_text(const char *code)
{
	size_t i;

	for (i = 0; code != NULL && i < sizeof(words) / sizeof(words[0]); i++)
		if (strcmp(words[i].code, code) == 0)
			return words[i].text;
	return code == NULL ? "" : code;
}

const char *
status_text(const char *status)
{
	return code_text(status);
}

const char *
kind_text(const char *kind)
{
	return code_text(kind);
}

const char *
category_text(const char *category)
{
	return code_text(category);
}

const char *
channel_text(const char *channel)
{
	return code_text(channel != NULL ? channel : "online");
}

const char *
level_text(int level)
{
	static const char *const text[] = {"", "非常不满意", "不满意", "基本满意", "满意",
	    "非常满意"};

	return level >= 1 && level <= 5 ? text[level] : "";
}

void
phone_mask(char out[32], const char *phone)
{
	size_t n = strlen(phone);

	if (n == 11 && phone[0] == '1')
		snprintf(out, 32, "%.3s****%s", phone, phone + 7);
	else if (n > 4 && n < 20) {
		const char *dash = strchr(phone, '-');
		/* 010 and 02x are the three-digit area codes; the rest have four */
		size_t area = dash != NULL ? (size_t)(dash - phone) :
		    (phone[1] == '1' || phone[1] == '2' ? 3 : 4);

		snprintf(out, 32, "%.*s-****%s", (int)area, phone, phone + n - 4);
	} else
		snprintf(out, 32, "****");
}
