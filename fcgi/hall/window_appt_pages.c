/*
 * The window's appointment pages (SPEC 4.4, 4.5): the hall's appointments of a day with the
 * marks 已办理 and 未到, the booking for a citizen who phoned or walked in (item, then day,
 * then slot, each a page of plain links, then the form), and the receipt to print on an A5
 * sheet or an 80 mm roll (public/window.css). No script. All text a person typed goes
 * through buf_html; phones are shown masked on the list.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "site.h"

#define H(b, s) buf_html((b), (s) == NULL ? "" : (s))

static const char *const appt_channels[] = {"window", "phone", NULL};

static void
error_line(struct buf *b, const char *message)
{
	if (message == NULL)
		return;
	buf_adds(b, "<p class=\"error\" role=\"alert\">");
	H(b, message);
	buf_adds(b, "</p>");
}

/* ---- the appointments of a day ------------------------------------------------------- */

struct day_list {
	struct buf *b;
	const struct window_view *v;
	int markable;	/* the day is today or earlier */
	int n;
};

static void
mark_button(struct buf *b, const struct window_view *v, const char *no, const char *status,
    const char *label)
{
	buf_adds(b, "<form class=\"inline\" method=\"post\" action=\"/window/appointments/mark\">");
	appt_hidden(b, "csrf", v->csrf);
	appt_hidden(b, "appointment_no", no);
	appt_hidden(b, "status", status);
	buf_adds(b, "<button type=\"submit\">");
	H(b, label);
	buf_adds(b, "</button></form> ");
}

static int
day_row(const struct appt_row *a, void *arg)
{
	struct day_list *x = arg;
	struct buf *b = x->b;
	char phone[32];

	x->n++;
	phone_mask(phone, a->phone);
	buf_adds(b, "<tr><td>");
	H(b, a->start);
	buf_addc(b, '-');
	H(b, a->end);
	buf_adds(b, "</td><td class=\"no\">");
	caseno_grouped(b, a->appointment_no);
	buf_adds(b, "</td><td>");
	H(b, a->item_name);
	buf_adds(b, "</td><td>");
	/* an ended appointment the county holds keeps no name at the hall (retention.c) */
	if (*a->name != '\0')
		H(b, a->name);
	else
		buf_adds(b, "<span class=\"muted\">（已按规定删除）</span>");
	buf_adds(b, "</td><td>");
	H(b, phone);
	buf_adds(b, "</td><td>");
	H(b, channel_text(a->channel));
	buf_adds(b, "</td><td class=\"status\">");
	H(b, appt_status_text(a->status));
	buf_adds(b, "</td><td>");
	if (x->markable && (strcmp(a->status, "booked") == 0 || strcmp(a->status, "confirmed") == 0)) {
		mark_button(b, x->v, a->appointment_no, "attended", "已办理");
		mark_button(b, x->v, a->appointment_no, "no_show", "未到");
	}
	buf_adds(b, "</td></tr>");
	return b->failed ? -1 : 0;
}

/* The working day before (step -1) or after (1) d, within a year; d itself when none. */
static struct ymd
next_workday(const struct calendar *cal, const struct ymd *d, int step)
{
	struct ymd n;
	int i;

	for (i = 1; cal != NULL && i <= 366; i++) {
		n = slots_add_days(d, step * i);
		if (calendar_is_workday(cal, n.y, n.m, n.d))
			return n;
	}
	return *d;
}

void
wapage_day(struct buf *b, const struct window_view *v, struct store *s, const struct ymd *day,
    const struct ymd *today, const char *message)
{
	const struct calendar *cal = store_calendar(s);
	struct day_list x = {.b = b, .v = v};
	struct ymd prev = next_workday(cal, day, -1), next = next_workday(cal, day, 1);
	char date[11], other[11];

	x.markable = slots_days_between(day, today) >= 0;
	slots_format_date(date, day);
	wpage_begin(b, v, "预约", NULL);
	buf_adds(b, "<h1>本大厅预约</h1>");
	error_line(b, message);
	buf_adds(b, "<p><a class=\"button\" href=\"/window/appointments/new\">为来电、来访群众预约</a>"
		    "</p><p class=\"day-nav\">");
	slots_format_date(other, &prev);
	buf_printf(b, "<a rel=\"prev\" href=\"/window/appointments?date=%s\">前一工作日</a> <b>", other);
	appt_day_text(b, day);
	slots_format_date(other, &next);
	buf_printf(b, "</b> <a rel=\"next\" href=\"/window/appointments?date=%s\">后一工作日</a>", other);
	buf_adds(b, " · <a href=\"/window/appointments\">今天</a></p>"
		    "<form method=\"get\" action=\"/window/appointments\"><label for=\"f-date\">日期"
		    "</label><input id=\"f-date\" type=\"date\" name=\"date\" value=\"");
	buf_adds(b, date);
	buf_adds(b, "\"><button type=\"submit\">查看</button></form>"
		    "<div class=\"scroll\"><table class=\"cases\" id=\"appointments\"><thead><tr>"
		    "<th>时段</th><th>预约号</th><th>预约事项</th><th>预约人</th><th>联系电话</th>"
		    "<th>渠道</th><th>状态</th><th>办理</th></tr></thead><tbody>");
	if (store_appt_day(s, date, day_row, &x) == -1)
		buf_adds(b, "<tr><td colspan=\"8\">预约暂时无法读取，请稍后再试。</td></tr>");
	else if (x.n == 0)
		buf_adds(b, "<tr><td colspan=\"8\">这一天没有预约。</td></tr>");
	buf_adds(b, "</tbody></table></div><p class=\"muted\">本大厅只保存本大厅的预约。当天及以前的"
		    "预约，群众来办理后点“已办理”，没有来的点“未到”；每个预约只能标记一次。</p>");
	wpage_end(b);
}

/* ---- booking: item, day, slot ---------------------------------------------------------- */

void
wapage_items(struct buf *b, const struct window_view *v, struct store *s, const char *message)
{
	wpage_begin(b, v, "代群众预约", NULL);
	buf_adds(b, "<h1>代群众预约</h1>");
	error_line(b, message);
	buf_printf(b, "<p class=\"lead\">为来电或来到窗口的群众预约：选事项、日期、时段，再填写预约人。"
		      "可预约明天起 %d 天内的工作日。</p>", site.cfg.appt_days_ahead);
	appt_pick_items(b, s, "/window/appointments/new", "县级尚未发布本大厅的预约安排。");
	buf_adds(b, "<p><a href=\"/window/appointments\">返回预约列表</a></p>");
	wpage_end(b);
}

void
wapage_days(struct buf *b, const struct window_view *v, const struct appt_sched *a,
    const struct slots_in *in, struct store *s)
{
	wpage_begin(b, v, "选择日期", NULL);
	buf_adds(b, "<h1>选择日期</h1>");
	appt_pick_days(b, "/window/appointments/new", a, in, s);
	wpage_end(b);
}

void
wapage_slots(struct buf *b, const struct window_view *v, const struct appt_sched *a,
    const struct slots_in *in, const struct ymd *d, struct store *s)
{
	wpage_begin(b, v, "选择时段", NULL);
	buf_adds(b, "<h1>选择时段</h1>");
	appt_pick_slots(b, "/window/appointments/new", a, in, d, s);
	wpage_end(b);
}

/* ---- booking: the form ---------------------------------------------------------------- */

void
wapage_form(struct buf *b, const struct window_view *v, const struct form_state *st,
    const struct appt_choice *c)
{
	struct form_state form = *st;

	wpage_begin(b, v, "填写预约信息", NULL);
	buf_adds(b, "<h1>填写预约信息</h1>");
	appt_choice_head(b, c);
	form.csrf_token = v->csrf;
	form_open(b, &form, "/window/appointments/new");
	appt_choice_hidden(b, c);
	form_select(b, st, "channel", "预约渠道", appt_channels, NULL, NULL);
	form_input(b, st, "name", "预约人姓名", "text", 1, 50, NULL);
	form_input(b, st, "phone", "联系电话", "tel", 1, 20, "手机号码可收到预约短信");
	form_label(b, st, "note", "备注", 0, "可不填");
	buf_adds(b, "<textarea id=\"f-note\" name=\"note\" rows=\"3\" maxlength=\"200\">");
	H(b, form_value(st, "note"));
	buf_adds(b, "</textarea><label>登记人</label><p class=\"fixed\" id=\"registrar\">");
	H(b, v->name);
	buf_adds(b, "</p>");
	form_close(b, st, "预约并打印回执");
	appt_choice_back(b, "/window/appointments/new", c);
	wpage_end(b);
}

/* ---- the receipt ------------------------------------------------------------------------ */

static void
slip_item(struct buf *b, const char *term, const char *value, const char *id)
{
	buf_adds(b, "<dt>");
	H(b, term);
	buf_adds(b, "</dt><dd");
	if (id != NULL)
		buf_printf(b, " id=\"%s\"", id);
	buf_adds(b, ">");
	H(b, value);
	buf_adds(b, "</dd>");
}

static void
slip_materials(struct buf *b, const char *materials)
{
	const char *cur = materials;
	char *line;

	buf_adds(b, "<p class=\"slip-next\">请携带：</p>");
	if (materials == NULL || *materials == '\0') {
		buf_adds(b, "<p class=\"slip-next\">本人有效身份证件；其他材料请咨询大厅。</p>");
		return;
	}
	buf_adds(b, "<ul class=\"slip-next\" id=\"slip-materials\">");
	while ((line = text_next_line(&cur)) != NULL) {
		buf_adds(b, "<li>");
		H(b, line);
		buf_adds(b, "</li>");
		free(line);
	}
	buf_adds(b, "</ul>");
}

void
wapage_receipt(struct buf *b, const struct window_view *v, const struct appt_view *a,
    const char *materials, int roll)
{
	wpage_begin(b, v, "预约回执", roll ? "paper-80" : "paper-a5");
	buf_adds(b, "<div class=\"no-print\"><p class=\"notice\">已预约。请用浏览器的打印（Ctrl+P）"
		    "打印下面的回执交给群众（来电的，告知预约号和查询码）。纸张：");
	buf_adds(b, roll ? "<a href=\"?paper=a5\">A5 纸</a> · <b>80 mm 小票</b>" :
			   "<b>A5 纸</b> · <a href=\"?paper=80\">80 mm 小票</a>");
	buf_adds(b, "</p></div><article class=\"slip\" id=\"slip\"><p class=\"slip-hall\">");
	H(b, site.cfg.name);
	buf_adds(b, "</p><h1 class=\"slip-title\">预约回执</h1><dl>"
		    "<dt>预约号</dt><dd class=\"big\" id=\"slip-appointment-no\">");
	caseno_grouped(b, a->appointment_no);
	buf_adds(b, "</dd>");
	if (a->query_code[0] != '\0') {
		buf_adds(b, "<dt>查询码</dt><dd class=\"big\" id=\"slip-code\">");
		H(b, a->query_code);
		buf_adds(b, "</dd>");
	}
	if (*a->name != '\0')
		slip_item(b, "预约人姓名", a->name, "slip-name");
	buf_adds(b, "<dt>预约时间</dt><dd id=\"slip-time\">");
	appt_when(b, a->date, a->start, a->end);
	buf_adds(b, "</dd>");
	slip_item(b, "办理地点", a->place, "slip-place");
	slip_item(b, "预约内容", a->item_name, "slip-item");
	buf_adds(b, "</dl>");
	slip_materials(b, materials);
	buf_adds(b, "<p class=\"slip-next\">请按时到达办理地点；不能前来时，请凭预约号和查询码在本大厅"
		    "网站“预约办事”中取消，或来电告知。</p><p class=\"slip-contact\">");
	H(b, site.cfg.name);
	if (site.cfg.phone != NULL) {
		buf_adds(b, " · 电话 ");
		H(b, site.cfg.phone);
	}
	if (site.cfg.address != NULL) {
		buf_adds(b, "<br>");
		H(b, site.cfg.address);
	}
	buf_adds(b, "</p><p class=\"slip-keep\">请妥善保管本回执，查询码请勿告诉他人。</p></article>"
		    "<p class=\"no-print\"><a class=\"button\" href=\"/window/appointments/new\">"
		    "预约下一位</a> <a href=\"/window/appointments\">预约列表</a></p>");
	wpage_end(b);
}
