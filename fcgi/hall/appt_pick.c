/*
 * Choosing a slot (SPEC 4.5): the lists of items, days and slots, each a list of plain
 * links (GET), and the head of the booking form. The citizen's pages (appt_pages.c, under
 * /appointments) and the window's (window_appt_pages.c, under /window/appointments/new)
 * render them from here; each passes the address its links go to, and wraps them in its
 * own page (title, navigation). Free places are counted per slot (appt_left).
 */
#include <stdio.h>
#include <string.h>

#include "site.h"

#define H(b, s) buf_html((b), (s) == NULL ? "" : (s))

static const char *const weekday_text[] = {"", "周一", "周二", "周三", "周四", "周五", "周六",
    "周日"};

void
appt_day_text(struct buf *b, const struct ymd *d)
{
	buf_printf(b, "%d年%d月%d日（%s）", d->y, d->m, d->d, weekday_text[slots_weekday(d)]);
}

void
appt_url_value(struct buf *b, const char *v)
{
	for (; *v != '\0'; v++) {
		unsigned char c = (unsigned char)*v;

		if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    c == '-' || c == '_' || c == '.')
			buf_addc(b, (char)c);
		else
			buf_printf(b, "%%%02X", c);
	}
}

void
appt_hidden(struct buf *b, const char *name, const char *value)
{
	buf_adds(b, "<input type=\"hidden\" name=\"");
	H(b, name);
	buf_adds(b, "\" value=\"");
	H(b, value);
	buf_adds(b, "\">");
}

long
appt_left(struct store *s, const char *item, const struct ymd *d, const struct slot_def *def)
{
	char date[11];
	long taken;

	slots_format_date(date, d);
	/* a count that fails shows the slot as full: never more than there is */
	if ((taken = store_appt_taken(s, item, date, def->start)) < 0 || taken >= def->capacity)
		return 0;
	return def->capacity - taken;
}

/* "<base>?item=<id>": the link every list starts its rows with */
static void
item_link(struct buf *b, const char *base, const char *item)
{
	buf_adds(b, "<li><a href=\"");
	buf_adds(b, base);
	buf_adds(b, "?item=");
	appt_url_value(b, item);
}

/* ---- items ------------------------------------------------------------------------- */

struct item_list {
	struct buf *b;
	const char *base;
};

static int
item_row(const struct appt_item *it, void *arg)
{
	struct item_list *x = arg;

	item_link(x->b, x->base, it->id);
	buf_adds(x->b, "\"><b>");
	H(x->b, it->name);
	buf_adds(x->b, "</b> ");
	H(x->b, it->place);
	buf_adds(x->b, "</a></li>");
	return 0;
}

void
appt_pick_items(struct buf *b, struct store *s, const char *base, const char *none)
{
	struct item_list x = {.b = b, .base = base};
	size_t before;

	buf_adds(b, "<ul class=\"tiles\">");
	before = b->len;
	if (store_appt_items(s, item_row, &x) == -1)
		buf_adds(b, "<li>暂时无法读取可预约事项，请稍后再试。</li>");
	else if (b->len == before) {
		buf_adds(b, "<li>");
		buf_adds(b, none);
		buf_adds(b, "</li>");
	}
	buf_adds(b, "</ul>");
}

/* ---- days -------------------------------------------------------------------------- */

static void
item_head(struct buf *b, const struct appt_sched *a)
{
	buf_adds(b, "<p>预约事项：<b>");
	H(b, a->item.name);
	buf_adds(b, "</b><br>办理地点：");
	H(b, a->item.place);
	buf_adds(b, "</p>");
}

/* The walk's slots come day by day: a day's row is written when the next day begins. */
struct day_walk {
	struct buf *b;
	struct store *s;
	const struct appt_sched *a;
	const char *base;
	struct ymd last;
	long left;
	int have, n;
};

static void
day_flush(struct day_walk *x)
{
	char date[11];

	if (!x->have)
		return;
	x->n++;
	slots_format_date(date, &x->last);
	if (x->left == 0) {
		buf_adds(x->b, "<li><span>");
		appt_day_text(x->b, &x->last);
		buf_adds(x->b, " 已约满</span></li>");
		return;
	}
	item_link(x->b, x->base, x->a->item.id);
	buf_printf(x->b, "&amp;date=%s\">", date);
	appt_day_text(x->b, &x->last);
	buf_printf(x->b, " 可约 %ld 人</a></li>", x->left);
}

static int
day_add(const struct ymd *d, const struct slot_def *def, void *arg)
{
	struct day_walk *x = arg;

	if (!x->have || slots_days_between(&x->last, d) != 0) {
		day_flush(x);
		x->last = *d;
		x->left = 0;
		x->have = 1;
	}
	x->left += appt_left(x->s, x->a->item.id, d, def);
	return 0;
}

void
appt_pick_days(struct buf *b, const char *base, const struct appt_sched *a,
    const struct slots_in *in, struct store *s)
{
	struct day_walk x = {.b = b, .s = s, .a = a, .base = base};

	item_head(b, a);
	buf_adds(b, "<ul class=\"tiles\">");
	slots_generate(in, NULL, day_add, &x);
	day_flush(&x);
	if (x.n == 0)
		buf_adds(b, "<li>近期没有可预约的工作日。</li>");
	buf_printf(b, "</ul><p><a href=\"%s\">重新选择事项</a></p>", base);
}

/* ---- slots ------------------------------------------------------------------------- */

struct slot_walk {
	struct buf *b;
	struct store *s;
	const struct appt_sched *a;
	const char *base;
	char date[11];
	int n;
};

static int
slot_row(const struct ymd *d, const struct slot_def *def, void *arg)
{
	struct slot_walk *x = arg;
	char date[11];
	long left;

	slots_format_date(date, d);
	if (strcmp(date, x->date) != 0)
		return 1;	/* the walk went past the day */
	x->n++;
	left = appt_left(x->s, x->a->item.id, d, def);
	if (left == 0) {
		buf_printf(x->b, "<li><span>%s-%s 已约满</span></li>", def->start, def->end);
		return 0;
	}
	item_link(x->b, x->base, x->a->item.id);
	buf_printf(x->b, "&amp;date=%s&amp;start=", date);
	appt_url_value(x->b, def->start);
	buf_printf(x->b, "\">%s-%s 余 %ld 个名额</a></li>", def->start, def->end, left);
	return 0;
}

void
appt_pick_slots(struct buf *b, const char *base, const struct appt_sched *a,
    const struct slots_in *in, const struct ymd *d, struct store *s)
{
	struct slot_walk x = {.b = b, .s = s, .a = a, .base = base};

	item_head(b, a);
	buf_adds(b, "<p>日期：");
	appt_day_text(b, d);
	buf_adds(b, "</p><ul class=\"tiles\">");
	slots_format_date(x.date, d);
	slots_generate(in, d, slot_row, &x);
	if (x.n == 0)
		buf_adds(b, "<li>这一天没有可预约的时段。</li>");
	buf_printf(b, "</ul><p><a href=\"%s?item=", base);
	appt_url_value(b, a->item.id);
	buf_adds(b, "\">重新选择日期</a></p>");
}

/* ---- the form ---------------------------------------------------------------------- */

void
appt_when(struct buf *b, const char *date, const char *start, const char *end)
{
	struct ymd d;

	if (slots_parse_date(date, &d) == 0)
		appt_day_text(b, &d);
	buf_addc(b, ' ');
	H(b, start);
	buf_addc(b, '-');
	H(b, end);
}

void
appt_choice_head(struct buf *b, const struct appt_choice *c)
{
	buf_adds(b, "<div class=\"receipt\"><dl><dt>预约内容</dt><dd>");
	H(b, c->item_name);
	buf_adds(b, "</dd><dt>预约时间</dt><dd>");
	appt_when(b, c->date, c->start, c->end);
	buf_adds(b, "</dd><dt>办理地点</dt><dd>");
	H(b, c->place);
	buf_adds(b, "</dd></dl></div>");
}

void
appt_choice_hidden(struct buf *b, const struct appt_choice *c)
{
	appt_hidden(b, "item", c->item);
	appt_hidden(b, "date", c->date);
	appt_hidden(b, "start", c->start);
}

void
appt_choice_back(struct buf *b, const char *base, const struct appt_choice *c)
{
	buf_printf(b, "<p><a href=\"%s?item=", base);
	appt_url_value(b, c->item);
	buf_adds(b, "\">重新选择时段</a></p>");
}
