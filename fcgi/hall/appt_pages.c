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

void
apage_items(struct buf *b, struct store *s, const char *message)
{
	appt_begin(b, "预约办事");
	if (message != NULL) {
		buf_adds(b, "<p class=\"error\" role=\"alert\">");
		H(b, message);
		buf_adds(b, "</p>");
	}
	buf_printf(b, "<p class=\"lead\">请选择要办理的事项，再选日期和时段。可预约明天起 %d 天内的"
		      "工作日。</p>", site.cfg.appt_days_ahead);
	appt_pick_items(b, s, "/appointments", "本大厅暂未开放网上预约，请电话咨询或到窗口办理。");
	appt_end(b);
}

void
apage_days(struct buf *b, const struct appt_sched *a, const struct slots_in *in,
    struct store *s)
{
	appt_begin(b, "选择日期");
	appt_pick_days(b, "/appointments", a, in, s);
	appt_end(b);
}

void
apage_slots(struct buf *b, const struct appt_sched *a, const struct slots_in *in,
    const struct ymd *d, struct store *s)
{
	appt_begin(b, "选择时段");
	appt_pick_slots(b, "/appointments", a, in, d, s);
	appt_end(b);
}

void
apage_form(struct buf *b, const struct form_state *st, const struct appt_choice *c)
{
	int on = st->in == NULL || kv_get(st->in, "notify") != NULL ||
	    kv_get(st->in, "notify_shown") == NULL;

	appt_begin(b, "填写预约信息");
	appt_choice_head(b, c);
	form_open(b, st, "/appointments");
	appt_choice_hidden(b, c);
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
	appt_choice_back(b, "/appointments", c);
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
			appt_hidden(b, "appointment_no", v->appointment_no);
			appt_hidden(b, "code", form_value(st, "code"));
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
