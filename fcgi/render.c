/*
 * The JSON API's bodies (SPEC 4.2), and the citizen-facing words for statuses and kinds
 * that pages and JSON share.
 */
#include <stdlib.h>
#include <string.h>

#include "web.h"

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
level_text(int level)
{
	static const char *const text[] = {"", "非常不满意", "不满意", "基本满意", "满意",
	    "非常满意"};

	return level >= 1 && level <= 5 ? text[level] : "";
}

static void
json_time(struct buf *b, const char *name, time_t t)
{
	char ts[TIMEFMT_LEN];

	buf_printf(b, ",\"%s\":", name);
	if (t == 0) {
		buf_adds(b, "null");
		return;
	}
	timefmt_rfc3339(ts, t);
	buf_printf(b, "\"%s\"", ts);
}

static void
json_field(struct buf *b, const char *name, const char *value)
{
	buf_printf(b, ",\"%s\":", name);
	if (value == NULL)
		buf_adds(b, "null");
	else
		buf_json_str(b, value);
}

int
render_receipt_json(struct buf *b, const char *kind, const struct receipt *r)
{
	buf_adds(b, "{\"id\":");
	buf_json_str(b, r->id);
	json_field(b, "case_no", r->case_no);
	json_field(b, "query_code", r->query_code);
	json_field(b, "kind", kind);
	json_field(b, "status", "received");
	json_time(b, "submitted_at", r->submitted_at);
	json_time(b, "due_at", r->due_at);
	buf_printf(b, ",\"due_provisional\":%s}\n", r->due_provisional ? "true" : "false");
	return b->failed ? -1 : 0;
}

static int
case_closed(const char *status)
{
	return strcmp(status, "answered") == 0 || strcmp(status, "resolved") == 0 ||
	    strcmp(status, "rejected") == 0;
}

int
render_case_json(struct buf *b, const struct case_view *v, time_t synced_at, time_t now)
{
	char phone[32];
	size_t i;
	int closed = case_closed(v->status);

	phone_mask(phone, v->phone);
	buf_adds(b, "{\"case_no\":");
	buf_json_str(b, v->case_no);
	json_field(b, "kind", v->kind);
	if (v->category != NULL)
		json_field(b, "category", v->category);
	json_field(b, "subject", v->subject);
	json_field(b, "body", v->body);
	json_field(b, "status", v->status);
	json_field(b, "status_text", status_text(v->status));
	json_time(b, "submitted_at", v->submitted_at);
	json_time(b, "due_at", v->due_at);
	buf_printf(b, ",\"due_provisional\":%s,\"warning\":%s,\"overdue\":%s",
	    v->due_provisional ? "true" : "false",
	    !closed && calendar_warning(v->due_at, now) ? "true" : "false",
	    !closed && now > v->due_at ? "true" : "false");
	json_field(b, "phone_masked", phone);
	buf_adds(b, ",\"events\":[");
	for (i = 0; i < v->nevents; i++) {
		char ts[TIMEFMT_LEN];

		timefmt_rfc3339(ts, v->events[i].at);
		buf_printf(b, "%s{\"at\":\"%s\"", i ? "," : "", ts);
		json_field(b, "status", v->events[i].status);
		json_field(b, "status_text", status_text(v->events[i].status));
		json_field(b, "note", v->events[i].note);
		buf_addc(b, '}');
	}
	buf_adds(b, "],\"reply\":");
	if (v->reply_text != NULL) {
		buf_adds(b, "{\"text\":");
		buf_json_str(b, v->reply_text);
		json_time(b, "at", v->reply_at);
		buf_addc(b, '}');
	} else
		buf_adds(b, "null");
	buf_adds(b, ",\"rating\":");
	if (v->rating_level > 0) {
		buf_printf(b, "{\"level\":%d", v->rating_level);
		json_time(b, "at", v->rating_at);
		buf_addc(b, '}');
	} else
		buf_adds(b, "null");
	json_time(b, "synced_at", synced_at);
	buf_adds(b, "}\n");
	return b->failed ? -1 : 0;
}

int
render_guide_json(struct buf *b, const struct guide *g, int full)
{
	const char *p, *nl;

	buf_adds(b, "{\"id\":");
	buf_json_str(b, g->id);
	json_field(b, "name", g->name);
	json_field(b, "department", g->department);
	json_field(b, "time_limit", g->time_limit);
	if (full) {
		buf_adds(b, ",\"materials\":[");
		for (p = g->materials; *p != '\0'; p = *nl ? nl + 1 : nl) {
			size_t n;
			char *line;

			nl = p + strcspn(p, "\n");
			if (b->failed)
				break;
			n = (size_t)(nl - p);
			if (n > 0 && p[n - 1] == '\r')
				n--;
			if (n == 0)
				continue;
			if ((line = strndup(p, n)) == NULL) {
				b->failed = 1;
				break;
			}
			if (b->data[b->len - 1] != '[')
				buf_addc(b, ',');
			buf_json_str(b, line);
			free(line);
		}
		buf_addc(b, ']');
		json_field(b, "fees", g->fees);
		json_field(b, "fee_basis", g->fee_basis);
		json_field(b, "delivery", g->delivery);
		json_field(b, "consult", g->consult);
		json_field(b, "address", g->address);
		json_field(b, "hours", g->hours);
	}
	json_time(b, "updated_at", g->updated_at);
	buf_addc(b, '}');
	return b->failed ? -1 : 0;
}

int
render_hall_json(struct buf *b, const struct hall_config *c)
{
	buf_adds(b, "{\"hall_code\":");
	buf_json_str(b, c->code);
	json_field(b, "name", c->name);
	json_field(b, "county", c->county);
	json_field(b, "address", c->address);
	json_field(b, "hours", c->hours);
	json_field(b, "phone", c->phone);
	json_field(b, "email", c->email);
	json_field(b, "letter_address", c->letter_address);
	buf_adds(b, "}\n");
	return b->failed ? -1 : 0;
}
