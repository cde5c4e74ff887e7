/* The JSON API's bodies (SPEC 4.2). */
#include <stdlib.h>
#include <string.h>

#include "site.h"

int
render_receipt_json(struct buf *b, const char *kind, const struct receipt *r)
{
	buf_adds(b, "{\"id\":");
	buf_json_str(b, r->id);
	buf_json_member(b, "case_no", r->case_no);
	buf_json_member(b, "query_code", r->query_code);
	buf_json_member(b, "kind", kind);
	buf_json_member(b, "status", "received");
	buf_json_time(b, "submitted_at", r->submitted_at);
	buf_json_time(b, "due_at", r->due_at);
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
render_case_json(struct buf *b, const struct case_view *v, time_t now)
{
	char phone[32];
	size_t i;
	int closed = case_closed(v->status);

	phone_mask(phone, v->phone);
	buf_adds(b, "{\"case_no\":");
	buf_json_str(b, v->case_no);
	buf_json_member(b, "kind", v->kind);
	if (v->category != NULL)
		buf_json_member(b, "category", v->category);
	buf_json_member(b, "subject", v->subject);
	buf_json_member(b, "body", v->body);
	buf_json_member(b, "status", v->status);
	buf_json_member(b, "status_text", status_text(v->status));
	buf_json_time(b, "submitted_at", v->submitted_at);
	buf_json_time(b, "due_at", v->due_at);
	buf_adds(b, v->due_provisional ? ",\"due_provisional\":true" : ",\"due_provisional\":false");
	buf_adds(b, !closed && calendar_warning(v->due_at, now) ? ",\"warning\":true" :
								  ",\"warning\":false");
	buf_adds(b, !closed && now > v->due_at ? ",\"overdue\":true" : ",\"overdue\":false");
	buf_json_member(b, "phone_masked", phone);
	buf_adds(b, ",\"events\":[");
	for (i = 0; i < v->nevents; i++) {
		char ts[TIMEFMT_LEN];

		timefmt_rfc3339(ts, v->events[i].at);
		buf_adds(b, i ? ",{\"at\":\"" : "{\"at\":\"");
		buf_adds(b, ts);
		buf_addc(b, '"');
		buf_json_member(b, "status", v->events[i].status);
		buf_json_member(b, "status_text", status_text(v->events[i].status));
		buf_json_member(b, "note", v->events[i].note);
		buf_addc(b, '}');
	}
	buf_adds(b, "],\"reply\":");
	if (v->reply_text != NULL) {
		buf_adds(b, "{\"text\":");
		buf_json_str(b, v->reply_text);
		buf_json_time(b, "at", v->reply_at);
		buf_addc(b, '}');
	} else
		buf_adds(b, "null");
	buf_adds(b, ",\"rating\":");
	if (v->rating_level > 0) {
		buf_printf(b, "{\"level\":%d", v->rating_level);
		buf_json_time(b, "at", v->rating_at);
		buf_addc(b, '}');
	} else
		buf_adds(b, "null");
	buf_json_time(b, "synced_at", v->synced_at);
	buf_adds(b, "}\n");
	return b->failed ? -1 : 0;
}

int
render_guide_json(struct buf *b, const struct guide *g, int full)
{
	const char *p;
	char *line;

	buf_adds(b, "{\"id\":");
	buf_json_str(b, g->id);
	buf_json_member(b, "name", g->name);
	buf_json_member(b, "department", g->department);
	buf_json_member(b, "time_limit", g->time_limit);
	if (full) {
		buf_adds(b, ",\"materials\":[");
		p = g->materials;
		while ((line = text_next_line(&p)) != NULL) {
			if (b->data != NULL && b->data[b->len - 1] != '[')
				buf_addc(b, ',');
			buf_json_str(b, line);
			free(line);
		}
		buf_addc(b, ']');
		buf_json_member(b, "fees", g->fees);
		buf_json_member(b, "fee_basis", g->fee_basis);
		buf_json_member(b, "delivery", g->delivery);
		buf_json_member(b, "consult", g->consult);
		buf_json_member(b, "address", g->address);
		buf_json_member(b, "hours", g->hours);
	}
	buf_json_time(b, "updated_at", g->updated_at);
	buf_addc(b, '}');
	return b->failed ? -1 : 0;
}
