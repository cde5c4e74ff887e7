/*
 * The appointment pages (SPEC 4.5): choose the item, then the day, then the slot, each a
 * page of plain links (GET), then the booking form (POST with its CSRF token), the receipt
 * with what seed 4 lists (预约号, 预约人姓名, 预约时间, 办理地点, 预约内容) and what to bring,
 * and the lookup with its cancel form. No script; each page a few KB.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "site.h"

#define H(b, s) buf_html((b), (s) == NULL ? "" : (s))

static const char *const weekday_text[] = {"", "周一", "周二", "周三", "周四", "周五", "周六",
    "周日"};

/* "2026年12月8日（周二）" */
static void
day_text(struct buf *b, const struct ymd *d)
{
	buf_printf(b, "%d年%d月%d日（%s）", d->y, d->m, d->d, weekday_text[slots_weekday(d)]);
}

/* A link's query value: ours are ids, dates and times, but escape them all the same. */
static void
url_value(struct buf *b, const char *v)
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

static void
appt_begin(struct buf *b, const char *title)
{
	page_begin(b, title);
	buf_adds(b, "<h1>");
	H(b, title);
	buf_adds(b, "</h1>");
}

static void
appt_end(struct buf *b)
{
	buf_adds(b, "<p><a href=\"/appointments/lookup\">查询或取消预约</a></p>");
	page_end(b);
}

static int
item_row(const struct appt_item *it, void *arg)
{
	struct buf *b = arg;

	buf_adds(b, "<li><a href=\"/appointments?item=");
	url_value(b, it->id);
	buf_adds(b, "\"><b>");
	H(b, it->name);
	buf_adds(b, "</b>");
	H(b, it->place);
	buf_adds(b, "</a></li>");
	return 0;
}

void
apage_items(struct buf *b, struct store *s, const char *message)
{
	size_t before;

	appt_begin(b, "预约办事");
	if (message != NULL) {
		buf_adds(b, "<p class=\"error\" role=\"alert\">");
		H(b, message);
		buf_adds(b, "</p>");
	}
	buf_printf(b, "<p class=\"lead\">请选择要办理的事项，再选日期和时段。可预约明天起 %d 天内的"
		      "工作日。</p><ul class=\"tiles\">", site.cfg.appt_days_ahead);
	before = b->len;
	if (store_appt_items(s, item_row, b) == -1)
		buf_adds(b, "<li>暂时无法读取可预约事项，请稍后再试。</li>");
	else if (b->len == before)
		buf_adds(b, "<li>本大厅暂未开放网上预约，请电话咨询或到窗口办理。</li>");
	buf_adds(b, "</ul>");
	appt_end(b);
}

/* What a day of the walk holds: its places left over all its slots. */
struct day_sum {
	struct store *s;
	const char *item;
	struct ymd day[92];
	long left[92];
	int n;
};

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

static int
day_add(const struct ymd *d, const struct slot_def *def, void *arg)
{
	struct day_sum *x = arg;

	if (x->n == 0 || slots_days_between(&x->day[x->n - 1], d) != 0) {
		if (x->n == (int)(sizeof(x->day) / sizeof(x->day[0])))
			return 1;
		x->day[x->n] = *d;
		x->left[x->n++] = 0;
	}
	x->left[x->n - 1] += appt_left(x->s, x->item, d, def);
	return 0;
}

static void
item_head(struct buf *b, const struct appt_sched *a)
{
	buf_adds(b, "<p>预约事项：<b>");
	H(b, a->item.name);
	buf_adds(b, "</b><br>办理地点：");
	H(b, a->item.place);
	buf_adds(b, "</p>");
}

void
apage_days(struct buf *b, const struct appt_sched *a, const struct slots_in *in,
    struct store *s)
{
	struct day_sum *x = calloc(1, sizeof(*x));
	char date[11];
	int i;

	appt_begin(b, "选择日期");
	item_head(b, a);
	if (x == NULL) {
		buf_adds(b, "<p class=\"error\">暂时无法读取可预约日期，请稍后再试。</p>");
		appt_end(b);
		return;
	}
	x->s = s;
	x->item = a->item.id;
	slots_generate(in, NULL, day_add, x);
	buf_adds(b, "<ul class=\"tiles\">");
	for (i = 0; i < x->n; i++) {
		slots_format_date(date, &x->day[i]);
		if (x->left[i] == 0) {
			buf_adds(b, "<li><span>");
			day_text(b, &x->day[i]);
			buf_adds(b, " 已约满</span></li>");
			continue;
		}
		buf_adds(b, "<li><a href=\"/appointments?item=");
		url_value(b, a->item.id);
		buf_printf(b, "&amp;date=%s\">", date);
		day_text(b, &x->day[i]);
		buf_printf(b, " 可约 %ld 人</a></li>", x->left[i]);
	}
	if (x->n == 0)
		buf_adds(b, "<li>近期没有可预约的工作日。</li>");
	buf_adds(b, "</ul><p><a href=\"/appointments\">重新选择事项</a></p>");
	free(x);
	appt_end(b);
}

struct slot_list {
	struct buf *b;
	struct store *s;
	const struct appt_sched *a;
	char date[11];
	int n;
};

static int
slot_row(const struct ymd *d, const struct slot_def *def, void *arg)
{
	struct slot_list *x = arg;
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
	buf_adds(x->b, "<li><a href=\"/appointments?item=");
	url_value(x->b, x->a->item.id);
	buf_printf(x->b, "&amp;date=%s&amp;start=", date);
	url_value(x->b, def->start);
	buf_printf(x->b, "\">%s-%s 余 %ld 个名额</a></li>", def->start, def->end, left);
	return 0;
}

void
apage_slots(struct buf *b, const struct appt_sched *a, const struct slots_in *in,
    const struct ymd *d, struct store *s)
{
	struct slot_list x = {.b = b, .s = s, .a = a};

	appt_begin(b, "选择时段");
	item_head(b, a);
	buf_adds(b, "<p>日期：");
	day_text(b, d);
	buf_adds(b, "</p><ul class=\"tiles\">");
	slots_format_date(x.date, d);
	slots_generate(in, d, slot_row, &x);
	if (x.n == 0)
		buf_adds(b, "<li>这一天没有可预约的时段。</li>");
	buf_adds(b, "</ul><p><a href=\"/appointments?item=");
	url_value(b, a->item.id);
	buf_adds(b, "\">重新选择日期</a></p>");
	appt_end(b);
}

static void
hidden(struct buf *b, const char *name, const char *value)
{
	buf_adds(b, "<input type=\"hidden\" name=\"");
	H(b, name);
	buf_adds(b, "\" value=\"");
	H(b, value);
	buf_adds(b, "\">");
}

void
apage_form(struct buf *b, const struct form_state *st, const struct appt_choice *c)
{
	struct ymd d;
	int on = st->in == NULL || kv_get(st->in, "notify") != NULL ||
	    kv_get(st->in, "notify_shown") == NULL;

	appt_begin(b, "填写预约信息");
	buf_adds(b, "<div class=\"receipt\"><dl><dt>预约内容</dt><dd>");
	H(b, c->item_name);
	buf_adds(b, "</dd><dt>预约时间</dt><dd>");
	if (slots_parse_date(c->date, &d) == 0)
		day_text(b, &d);
	buf_addc(b, ' ');
	H(b, c->start);
	buf_addc(b, '-');
	H(b, c->end);
	buf_adds(b, "</dd><dt>办理地点</dt><dd>");
	H(b, c->place);
	buf_adds(b, "</dd></dl></div>");
	form_open(b, st, "/appointments");
	hidden(b, "item", c->item);
	hidden(b, "date", c->date);
	hidden(b, "start", c->start);
	form_input(b, st, "name", "预约人姓名", "text", 1, 50, NULL);
	form_input(b, st, "phone", "联系电话", "tel", 1, 20, "手机号码可收到预约短信");
	form_input(b, st, "email", "电子邮箱", "email", 0, 100, "可不填；填写后也以电子邮件告知");
	form_label(b, st, "note", "备注", 0, "可不填");
	buf_adds(b, "<textarea id=\"f-note\" name=\"note\" rows=\"3\" maxlength=\"200\">");
	H(b, form_value(st, "note"));
	buf_adds(b, "</textarea><input type=\"hidden\" name=\"notify_shown\" value=\"1\">"
		    "<div class=\"levels\"><label><input type=\"checkbox\" name=\"notify\" "
		    "value=\"1\"");
	buf_adds(b, on ? " checked>" : ">");
	buf_adds(b, " 通过短信、电子邮件告知预约结果和提醒</label></div>");
	form_close(b, st, "提交预约");
	buf_adds(b, "<p><a href=\"/appointments?item=");
	url_value(b, c->item);
	buf_adds(b, "\">重新选择时段</a></p>");
	appt_end(b);
}

/* What to bring: the guide's materials, one line each. */
static void
materials_list(struct buf *b, const char *materials)
{
	const char *cur = materials;
	char *line;

	buf_adds(b, "<h2>请携带以下材料</h2>");
	if (materials == NULL || *materials == '\0') {
		buf_adds(b, "<p>请携带本人有效身份证件；其他材料请咨询大厅。</p>");
		return;
	}
	buf_adds(b, "<ul>");
	while ((line = text_next_line(&cur)) != NULL) {
		buf_adds(b, "<li>");
		H(b, line);
		buf_adds(b, "</li>");
		free(line);
	}
	buf_adds(b, "</ul>");
}

static void
appt_when(struct buf *b, const char *date, const char *start, const char *end)
{
	struct ymd d;

	if (slots_parse_date(date, &d) == 0)
		day_text(b, &d);
	buf_addc(b, ' ');
	H(b, start);
	buf_addc(b, '-');
	H(b, end);
}

void
apage_receipt(struct buf *b, const struct appt_booking *k, const char *materials)
{
	appt_begin(b, "预约成功");
	buf_adds(b, "<div class=\"receipt\"><dl><dt>预约号</dt><dd class=\"big\">");
	caseno_grouped(b, k->appointment_no);
	buf_adds(b, "</dd><dt>查询码</dt><dd class=\"big\">");
	H(b, k->query_code);
	buf_adds(b, "</dd><dt>预约人姓名</dt><dd>");
	H(b, k->name);
	buf_adds(b, "</dd><dt>预约时间</dt><dd>");
	appt_when(b, k->date, k->start, k->end);
	buf_adds(b, "</dd><dt>办理地点</dt><dd>");
	H(b, k->place);
	buf_adds(b, "</dd><dt>预约内容</dt><dd>");
	H(b, k->item_name);
	buf_adds(b, "</dd><dt>状态</dt><dd>已预约</dd></dl></div>");
	materials_list(b, materials);
	buf_adds(b, "<p>请抄下或拍照保存预约号和查询码，凭它们查询或取消预约。"
		    "请按时到达办理地点；不能前来时请提前取消，把名额留给他人。</p>");
	appt_end(b);
}

void
apage_lookup(struct buf *b, const struct form_state *st, const struct appt_view *v,
    const char *materials)
{
	char phone[32];

	appt_begin(b, "查询预约");
	if (v != NULL) {
		phone_mask(phone, v->phone);
		buf_adds(b, "<div class=\"receipt\"><dl><dt>预约号</dt><dd>");
		caseno_grouped(b, v->appointment_no);
		buf_adds(b, "</dd><dt>状态</dt><dd class=\"big\">");
		H(b, appt_status_text(v->status));
		buf_adds(b, "</dd>");
		if (v->reason != NULL && strcmp(v->status, "refused") == 0) {
			buf_adds(b, "<dt>未同意的理由</dt><dd>");
			H(b, v->reason);
			buf_adds(b, "</dd>");
		}
		/* '' once the hall no longer keeps it (SPEC 11, lib/store/retention.c) */
		if (*v->name != '\0') {
			buf_adds(b, "<dt>预约人姓名</dt><dd>");
			H(b, v->name);
			buf_adds(b, "</dd>");
		}
		buf_adds(b, "<dt>联系电话</dt><dd>");
		H(b, phone);
		buf_adds(b, "</dd><dt>预约时间</dt><dd>");
		appt_when(b, v->date, v->start, v->end);
		buf_adds(b, "</dd><dt>办理地点</dt><dd>");
		H(b, v->place);
		buf_adds(b, "</dd><dt>预约内容</dt><dd>");
		H(b, v->item_name);
		buf_adds(b, "</dd></dl></div>");
		if (strcmp(v->status, "booked") == 0 || strcmp(v->status, "confirmed") == 0) {
			materials_list(b, materials);
			form_open(b, st, "/appointments/cancel");
			hidden(b, "appointment_no", v->appointment_no);
			hidden(b, "code", form_value(st, "code"));
			buf_adds(b, "<p>不能前来时请取消预约。</p>");
			form_close(b, &(struct form_state){.csrf_token = st->csrf_token}, "取消预约");
		}
	}
	form_open(b, st, "/appointments/lookup");
	form_input(b, st, "appointment_no", "预约号", "text", 1, 40, "见预约回执，共 23 位");
	form_input(b, st, "code", "查询码", "text", 1, 6, "6 位数字");
	form_close(b, st, "查询");
	buf_adds(b, "<p><a href=\"/appointments/resend\">忘记查询码？</a></p>"
		    "<p><a href=\"/appointments\">预约办事</a></p>");
	page_end(b);
}

void
apage_cancelled(struct buf *b, const char *appointment_no)
{
	appt_begin(b, "预约已取消");
	buf_adds(b, "<p class=\"notice\">预约 ");
	caseno_grouped(b, appointment_no);
	buf_adds(b, " 已取消，名额已释放。欢迎再次预约。</p><p><a href=\"/appointments\">"
		    "重新预约</a></p>");
	page_end(b);
}

void
apage_resend(struct buf *b, const struct form_state *st)
{
	appt_begin(b, "补发预约查询码");
	buf_adds(b, "<p class=\"lead\">填写预约号，大厅将生成新的查询码，由县级平台以短信发送到"
		    "预约时登记的手机号码；原查询码随即失效。每个预约 10 分钟内可补发一次，"
		    "24 小时内最多 3 次。登记的是固定电话的，请到大厅窗口办理。</p>");
	form_open(b, st, "/appointments/resend");
	form_input(b, st, "appointment_no", "预约号", "text", 1, 40, "回执上的 23 位预约号，可带空格");
	form_close(b, st, "发送新的查询码");
	buf_adds(b, "<p><a href=\"/appointments/lookup\">返回查询预约</a></p>");
	page_end(b);
}

void
apage_resent(struct buf *b, const char *appointment_no, const char *sent_to)
{
	size_t n = strlen(sent_to);

	appt_begin(b, "新的查询码已生成");
	buf_adds(b, "<p class=\"notice\">预约 ");
	caseno_grouped(b, appointment_no);
	buf_adds(b, " 的新查询码将以短信发送到尾号为 ");
	H(b, n >= 4 ? sent_to + n - 4 : sent_to);
	buf_adds(b, " 的手机。原查询码已失效，请凭短信中的新查询码查询或取消预约。短信由县级平台"
		    "发出，大厅与县级联网时一般几分钟内送达；网络中断时，联网后发出。</p>"
		    "<p><a class=\"button\" href=\"/appointments/lookup\">查询预约</a></p>");
	page_end(b);
}
