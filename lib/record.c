/*
 * The record model's JSON, as sent upstream. Field order is fixed and every optional field
 * is either present or null, so the bytes for one record never vary.
 */
#include "hall.h"

static int
record_head(struct buf *b, const char *id, const char *type, const char *hall_code,
    const char *case_no, time_t at)
{
	char ts[TIMEFMT_LEN];

	timefmt_rfc3339(ts, at);
	buf_adds(b, "{\"id\":");
	buf_json_str(b, id);
	buf_printf(b, ",\"type\":\"%s\",\"hall_code\":\"%s\",\"case_no\":\"%s\",\"at\":\"%s\"", type,
	    hall_code, case_no, ts);
	return b->failed ? -1 : 0;
}

static void
record_field(struct buf *b, const char *name, const char *value)
{
	buf_printf(b, ",\"%s\":", name);
	if (value == NULL)
		buf_adds(b, "null");
	else
		buf_json_str(b, value);
}

int
record_case_json(struct buf *b, const char *id, const char *hall_code, const char *case_no,
    const struct case_new *c, time_t submitted_at, time_t due_at, int due_provisional)
{
	char ts[TIMEFMT_LEN];

	record_head(b, id, "case", hall_code, case_no, submitted_at);
	record_field(b, "kind", c->kind);
	record_field(b, "category", c->category);
	record_field(b, "channel", "online");
	record_field(b, "subject", c->subject);
	record_field(b, "body", c->body);
	record_field(b, "name", c->name);
	record_field(b, "phone", c->phone);
	record_field(b, "email", c->email);
	record_field(b, "item", c->item);
	record_field(b, "target", c->target);
	timefmt_rfc3339(ts, submitted_at);
	record_field(b, "submitted_at", ts);
	timefmt_rfc3339(ts, due_at);
	record_field(b, "due_at", ts);
	buf_printf(b, ",\"due_provisional\":%s}", due_provisional ? "true" : "false");
	return b->failed ? -1 : 0;
}

int
record_rating_json(struct buf *b, const char *id, const char *hall_code, const char *case_no,
    int level, const char *comment, time_t at)
{
	record_head(b, id, "rating", hall_code, case_no, at);
	buf_printf(b, ",\"level\":%d", level);
	record_field(b, "comment", comment);
	buf_addc(b, '}');
	return b->failed ? -1 : 0;
}
