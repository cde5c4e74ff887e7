/*
 * The record model's JSON, as sent upstream. Field order is fixed and every optional field
 * is either present or null, so the bytes for one record never vary.
 */
#include "core.h"

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

int
record_case_json(struct buf *b, const char *id, const char *hall_code, const char *case_no,
    const struct case_new *c, time_t submitted_at, time_t due_at, int due_provisional,
    const char *query_mac)
{
	record_head(b, id, "case", hall_code, case_no, submitted_at);
	buf_json_member(b, "kind", c->kind);
	buf_json_member(b, "category", c->category);
	buf_json_member(b, "channel", c->channel != NULL ? c->channel : "online");
	if (c->registrar != NULL)
		buf_json_member(b, "registrar", c->registrar);
	buf_json_member(b, "subject", c->subject);
	buf_json_member(b, "body", c->body);
	buf_json_member(b, "name", c->name);
	buf_json_member(b, "phone", c->phone);
	buf_json_member(b, "email", c->email);
	buf_json_member(b, "item", c->item);
	buf_json_member(b, "target", c->target);
	buf_json_time(b, "submitted_at", submitted_at);
	buf_json_time(b, "due_at", due_at);
	buf_printf(b, ",\"due_provisional\":%s", due_provisional ? "true" : "false");
	if (c->notify_off)	/* only then: the other records keep their bytes */
		buf_adds(b, ",\"notify\":false");
	if (query_mac != NULL)
		buf_json_member(b, "query_mac", query_mac);
	buf_addc(b, '}');
	return b->failed ? -1 : 0;
}

int
record_rating_json(struct buf *b, const char *id, const char *hall_code, const char *case_no,
    int level, const char *comment, time_t at)
{
	record_head(b, id, "rating", hall_code, case_no, at);
	buf_printf(b, ",\"level\":%d", level);
	buf_json_member(b, "comment", comment);
	buf_addc(b, '}');
	return b->failed ? -1 : 0;
}

int
record_code_json(struct buf *b, const char *id, const char *hall_code, const char *case_no,
    const char *code, const char *query_mac, time_t at)
{
	record_head(b, id, "code", hall_code, case_no, at);
	buf_json_member(b, "code", code);
	buf_json_member(b, "query_mac", query_mac);
	buf_addc(b, '}');
	return b->failed ? -1 : 0;
}

int
record_appt_json(struct buf *b, const char *id, const char *hall_code, const struct appt_rec *a,
    time_t at)
{
	record_head(b, id, "appointment", hall_code, a->appointment_no, at);
	buf_json_member(b, "item", a->item);
	buf_json_member(b, "item_name", a->item_name);
	buf_json_member(b, "date", a->date);
	buf_json_member(b, "start", a->start);
	buf_json_member(b, "end", a->end);
	buf_json_member(b, "place", a->place);
	buf_json_member(b, "name", a->name);
	buf_json_member(b, "phone", a->phone);
	if (a->email != NULL)	/* only then: the records without one keep their bytes */
		buf_json_member(b, "email", a->email);
	buf_json_member(b, "note", a->note);
	buf_json_member(b, "channel", a->channel != NULL ? a->channel : "online");
	if (a->registrar != NULL)
		buf_json_member(b, "registrar", a->registrar);
	if (a->notify_off)
		buf_adds(b, ",\"notify\":false");
	buf_json_member(b, "query_mac", a->query_mac);
	buf_addc(b, '}');
	return b->failed ? -1 : 0;
}

int
record_appt_event_json(struct buf *b, const char *id, const char *hall_code,
    const char *appointment_no, const char *status, time_t at)
{
	record_head(b, id, "appt_event", hall_code, appointment_no, at);
	buf_json_member(b, "status", status);
	buf_addc(b, '}');
	return b->failed ? -1 : 0;
}

int
hall_contact_json(struct buf *b, const struct hall_config *c)
{
	buf_adds(b, "{\"hall_code\":");
	buf_json_str(b, c->code);
	buf_json_member(b, "name", c->name);
	buf_json_member(b, "county", c->county);
	buf_json_member(b, "address", c->address);
	buf_json_member(b, "hours", c->hours);
	buf_json_member(b, "phone", c->phone);
	buf_json_member(b, "email", c->email);
	buf_json_member(b, "letter_address", c->letter_address);
	buf_adds(b, "}\n");
	return b->failed ? -1 : 0;
}
