/*
 * The citizens' pages: server-rendered HTML that works with JavaScript off on a 360 px
 * screen. All user text goes through buf_html; the only raw strings are our own markup.
 */
#include <stdlib.h>
#include <string.h>

#include "site.h"

#define H(b, s) buf_html((b), (s) == NULL ? "" : (s))

void
page_begin(struct buf *b, const char *title)
{
	buf_adds(b, "<!doctype html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
		    "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
		    "<title>");
	H(b, title);
	buf_adds(b, " - ");
	H(b, site.cfg.name);
	buf_adds(b, "</title><link rel=\"stylesheet\" href=\"/static/style.css\"></head>\n"
		    "<body><header><a class=\"brand\" href=\"/\">");
	H(b, site.cfg.name);
	buf_adds(b, "</a><nav><a href=\"/consult\">在线咨询</a><a href=\"/complaint\">投诉反映</a>"
		    "<a href=\"/appointments\">预约办理</a><a href=\"/progress\">进度查询</a>"
		    "<a href=\"/guides\">办事指南</a></nav>"
		    "</header>\n<main>");
}

void
page_end(struct buf *b)
{
	buf_adds(b, "</main>\n<footer>");
	H(b, site.cfg.name);
	if (site.cfg.phone != NULL) {
		buf_adds(b, " · 咨询电话 ");
		H(b, site.cfg.phone);
	}
	buf_adds(b, "</footer></body></html>\n");
}

static void
dl_item(struct buf *b, const char *term, const char *value)
{
	if (value == NULL || *value == '\0')
		return;
	buf_adds(b, "<dt>");
	H(b, term);
	buf_adds(b, "</dt><dd>");
	H(b, value);
	buf_adds(b, "</dd>");
}

void
page_home(struct buf *b, const struct hall_config *c)
{
	page_begin(b, "首页");
	buf_adds(b, "<h1>");
	H(b, c->name);
	buf_adds(b, "</h1><p class=\"lead\">在这里可以在线咨询、投诉和反映“办不成事”问题，"
		    "查询办件进度，对答复作出评价。网络中断时大厅照常受理，"
		    "恢复后自动报送县级。</p>\n<ul class=\"tiles\">"
		    "<li><a href=\"/consult\"><b>在线咨询</b>法规政策、事项办理、公共信息</a></li>"
		    "<li><a href=\"/complaint\"><b>投诉与“办不成事”反映</b>"
		    "对窗口服务不满意，或事情没办成</a></li>"
		    "<li><a href=\"/progress\"><b>办件进度查询</b>凭办件编号和查询码</a></li>"
		    "<li><a href=\"/guides\"><b>办事指南</b>申请材料、时限、收费、地点</a></li></ul>\n"
		    "<h2>联系我们</h2><dl>");
	dl_item(b, "地址", c->address);
	dl_item(b, "办公时间", c->hours);
	dl_item(b, "咨询电话", c->phone);
	dl_item(b, "电子邮箱", c->email);
	dl_item(b, "信函地址", c->letter_address);
	buf_adds(b, "</dl>");
	page_end(b);
}

void
page_message(struct buf *b, const char *title, const char *message)
{
	page_begin(b, title);
	buf_adds(b, "<h1>");
	H(b, title);
	buf_adds(b, "</h1><p class=\"notice\">");
	H(b, message);
	buf_adds(b, "</p><p><a href=\"/\">返回首页</a></p>");
	page_end(b);
}

/*
 * The notices checkbox (SPEC 5.6), ticked on a new form and as the citizen left it on a form
 * shown again; notify_shown tells hall-write the form had it (unticked boxes send nothing).
 */
static void
form_notify(struct buf *b, const struct form_state *st)
{
	int on = st->in == NULL || kv_get(st->in, "notify") != NULL ||
	    kv_get(st->in, "notify_shown") == NULL;

	buf_adds(b, "<input type=\"hidden\" name=\"notify_shown\" value=\"1\">"
		    "<div class=\"levels\"><label><input type=\"checkbox\" name=\"notify\" "
		    "value=\"1\"");
	buf_adds(b, on ? " checked>" : ">");
	buf_adds(b, " 通过短信、电子邮件告知办理进度</label></div>");
}

void
page_consult(struct buf *b, const struct form_state *st)
{
	static const char *const categories[] = {"procedure", "policy", "public_info", NULL};

	page_begin(b, "在线咨询");
	buf_printf(b, "<h1>在线咨询</h1><p class=\"lead\">工作人员将在 %d 个工作日内答复。"
		      "提交后请记下办件编号和查询码，凭它们查询进度。</p>",
	    site.cfg.consultation_days);
	form_open(b, st, "/consult");
	form_select(b, st, "category", "咨询类别", categories, NULL, NULL);
	form_input(b, st, "item", "涉及事项", "text", 0, 100, "如：城乡居民养老保险参保登记（可不填）");
	form_input(b, st, "subject", "标题", "text", 1, 100, NULL);
	form_textarea(b, st, "body", "咨询内容", 2000);
	form_input(b, st, "name", "姓名", "text", 1, 50, NULL);
	form_input(b, st, "phone", "联系电话", "tel", 1, 20, "手机号码或带区号的固定电话");
	form_input(b, st, "email", "电子邮箱", "email", 0, 100, "可不填");
	form_notify(b, st);
	form_close(b, st, "提交咨询");
	page_end(b);
}

void
page_complaint(struct buf *b, const struct form_state *st)
{
	static const char *const types[] = {"complaint", "unresolved", NULL};

	page_begin(b, "投诉与“办不成事”反映");
	buf_printf(b, "<h1>投诉与“办不成事”反映</h1><p class=\"lead\">投诉在 %d 个工作日内办理答复；"
		      "“办不成事”反映在 %d 个工作日内解决，不能办理的说明理由。</p>",
	    site.cfg.complaint_days, site.cfg.unresolved_days);
	form_open(b, st, "/complaint");
	form_select(b, st, "type", "类型", types, NULL, NULL);
	form_input(b, st, "target", "涉及窗口、部门或工作人员", "text", 0, 100, "可不填");
	form_input(b, st, "subject", "标题", "text", 1, 100, NULL);
	form_textarea(b, st, "body", "具体情况", 2000);
	form_input(b, st, "name", "姓名", "text", 0, 50, "可不填");
	form_input(b, st, "phone", "联系电话", "tel", 1, 20, "手机号码或带区号的固定电话");
	form_input(b, st, "email", "电子邮箱", "email", 0, 100, "可不填");
	form_notify(b, st);
	form_close(b, st, "提交");
	page_end(b);
}

void
page_receipt(struct buf *b, const char *kind, const struct receipt *r)
{
	char when[64];

	page_begin(b, "回执");
	buf_adds(b, "<h1>已收到您的");
	H(b, kind_text(kind));
	buf_adds(b, "</h1><div class=\"receipt\"><dl><dt>办件编号</dt><dd class=\"big\">");
	caseno_grouped(b, r->case_no);
	buf_adds(b, "</dd><dt>查询码</dt><dd class=\"big\">");
	H(b, r->query_code);
	buf_adds(b, "</dd><dt>提交时间</dt><dd>");
	timefmt_human(when, r->submitted_at);
	H(b, when);
	buf_adds(b, "</dd><dt>答复期限</dt><dd>");
	timefmt_human(when, r->due_at);
	H(b, when);
	buf_adds(b, " 前");
	if (r->due_provisional)
		buf_adds(b, "（暂按周一至周五计算，节假日安排公布后自动调整）");
	buf_adds(b, "</dd></dl></div><p>请抄下或拍照保存办件编号和查询码。"
		    "接下来：您的诉求已保存在本大厅，将报送县级主管部门；"
		    "受理、答复的每一步都可在“进度查询”中看到。"
		    "答复后，欢迎您对办理结果作出评价。</p><p><a class=\"button\" href=\"/progress\">"
		    "查询进度</a></p>");
	page_end(b);
}

static void
case_section(struct buf *b, const struct case_view *v, time_t now)
{
	char when[64], phone[32];
	size_t i;
	int closed = strcmp(v->status, "answered") == 0 || strcmp(v->status, "resolved") == 0 ||
	    strcmp(v->status, "rejected") == 0;

	buf_adds(b, "<section class=\"case\"><h2>");
	H(b, v->subject);
	buf_adds(b, "</h2><dl><dt>办件编号</dt><dd>");
	caseno_grouped(b, v->case_no);
	buf_adds(b, "</dd><dt>类型</dt><dd>");
	H(b, kind_text(v->kind));
	if (v->category != NULL) {
		buf_adds(b, " · ");
		H(b, category_text(v->category));
	}
	buf_adds(b, "</dd><dt>当前状态</dt><dd><b>");
	H(b, status_text(v->status));
	buf_adds(b, "</b>");
	if (!closed && now > v->due_at)
		buf_adds(b, " <span class=\"tag overdue\">已超期</span>");
	else if (!closed && calendar_warning(v->due_at, now))
		buf_adds(b, " <span class=\"tag warning\">今日到期</span>");
	buf_adds(b, "</dd><dt>答复期限</dt><dd>");
	timefmt_human(when, v->due_at);
	H(b, when);
	if (v->due_provisional)
		buf_adds(b, "（暂定）");
	phone_mask(phone, v->phone);
	buf_adds(b, "</dd><dt>联系电话</dt><dd>");
	H(b, phone);
	buf_adds(b, "</dd></dl><h3>您提交的内容</h3><p class=\"text\">");
	H(b, v->body);
	buf_adds(b, "</p>");
	if (v->reply_text != NULL) {
		buf_adds(b, "<h3>答复</h3><p class=\"text reply\">");
		H(b, v->reply_text);
		buf_adds(b, "</p>");
	}
	buf_adds(b, "<h3>办理过程</h3><ol class=\"timeline\">");
	for (i = 0; i < v->nevents; i++) {
		timefmt_human(when, v->events[i].at);
		buf_adds(b, "<li><time>");
		H(b, when);
		buf_adds(b, "</time> ");
		H(b, status_text(v->events[i].status));
		if (v->events[i].note != NULL) {
			buf_adds(b, "：");
			H(b, v->events[i].note);
		}
		buf_adds(b, "</li>");
	}
	buf_adds(b, "</ol><p class=\"muted\">");
	if (v->synced_at > 0) {
		timefmt_human(when, v->synced_at);
		buf_adds(b, "本大厅最近一次与县级同步：");
		H(b, when);
	} else
		buf_adds(b, "本大厅尚未与县级同步，办理进展将在联网后更新。");
	buf_adds(b, "</p></section>");
}

static void
rating_form(struct buf *b, const struct form_state *st, const struct case_view *v,
    const char *code)
{
	int level;

	buf_adds(b, "<section><h2>评价本次办理</h2>");
	form_open(b, st, "/progress/rating");
	buf_adds(b, "<input type=\"hidden\" name=\"case_no\" value=\"");
	H(b, v->case_no);
	buf_adds(b, "\"><input type=\"hidden\" name=\"code\" value=\"");
	H(b, code);
	buf_adds(b, "\">");
	form_label(b, st, "level", "满意程度", 1, NULL);
	buf_adds(b, "<div class=\"levels\">");
	for (level = 5; level >= 1; level--) {
		buf_printf(b, "<label><input type=\"radio\" name=\"level\" value=\"%d\"%s> %s</label>",
		    level, level == 5 ? " required" : "", level_text(level));
	}
	buf_adds(b, "</div>");
	form_label(b, st, "comment", "意见", 0, "选择“不满意”或“非常不满意”时请写明原因");
	buf_adds(b, "<textarea id=\"f-comment\" name=\"comment\" rows=\"3\" maxlength=\"500\">");
	H(b, form_value(st, "comment"));
	buf_adds(b, "</textarea>");
	form_close(b, st, "提交评价");
	buf_adds(b, "</section>");
}

void
page_progress(struct buf *b, const struct form_state *st, const struct case_view *v,
    time_t now)
{
	struct form_state blank = {0};

	page_begin(b, "办件进度查询");
	buf_adds(b, "<h1>办件进度查询</h1>");
	if (v != NULL) {
		case_section(b, v, now);
		if (v->rating_level > 0) {
			buf_adds(b, "<p class=\"notice\">您已评价：");
			H(b, level_text(v->rating_level));
			buf_adds(b, "。感谢您的反馈。</p>");
		} else if (strcmp(v->status, "answered") == 0 ||
		    strcmp(v->status, "resolved") == 0 || strcmp(v->status, "rejected") == 0)
			rating_form(b, st, v, form_value(st, "code"));
		buf_adds(b, "<h2>查询其他办件</h2>");
		/* an empty form below the case: the code just used is not offered again */
		blank.csrf_token = st->csrf_token;
		st = &blank;
	}
	form_open(b, st, "/progress");
	form_input(b, st, "case_no", "办件编号", "text", 1, 40, "回执上的 23 位编号，可带空格");
	form_input(b, st, "code", "查询码", "text", 1, 6, "回执上的 6 位数字");
	form_close(b, st, "查询");
	buf_adds(b, "<p><a href=\"/progress/resend\">忘记查询码？</a></p>");
	page_end(b);
}

void
page_resend(struct buf *b, const struct form_state *st)
{
	page_begin(b, "补发查询码");
	buf_adds(b, "<h1>补发查询码</h1><p class=\"lead\">填写办件编号，大厅将生成新的查询码，"
		    "由县级平台以短信发送到您登记的手机号码；原查询码随即失效。"
		    "每个办件 10 分钟内可补发一次，24 小时内最多 3 次。"
		    "登记的是固定电话的，请到大厅窗口办理。</p>");
	form_open(b, st, "/progress/resend");
	form_input(b, st, "case_no", "办件编号", "text", 1, 40, "回执上的 23 位编号，可带空格");
	form_close(b, st, "发送新的查询码");
	buf_adds(b, "<p><a href=\"/progress\">返回进度查询</a></p>");
	page_end(b);
}

void
page_resent(struct buf *b, const char *case_no, const char *sent_to)
{
	page_begin(b, "查询码已补发");
	buf_adds(b, "<h1>新的查询码已生成</h1><p class=\"notice\">办件 ");
	caseno_grouped(b, case_no);
	buf_adds(b, " 的新查询码将以短信发送到尾号为 ");
	H(b, strlen(sent_to) >= 4 ? sent_to + strlen(sent_to) - 4 : sent_to);
	buf_adds(b, " 的手机。原查询码已失效，请凭短信中的新查询码查询。短信由县级平台发出，"
		    "大厅与县级联网时一般几分钟内送达；网络中断时，联网后发出。</p>"
		    "<p><a class=\"button\" href=\"/progress\">查询进度</a></p>");
	page_end(b);
}

void
page_rated(struct buf *b, const char *case_no, int level)
{
	page_begin(b, "评价已提交");
	buf_adds(b, "<h1>感谢您的评价</h1><p class=\"notice\">办件 ");
	caseno_grouped(b, case_no);
	buf_adds(b, " 的评价“");
	H(b, level_text(level));
	buf_adds(b, "”已记录。");
	if (level <= 2)
		buf_adds(b, "县级主管部门将对您反映的问题进行整改并回访。");
	buf_adds(b, "</p><p><a href=\"/\">返回首页</a></p>");
	page_end(b);
}

/* ---- guides ---------------------------------------------------------------------- */

static int
guide_row(const struct guide *g, void *arg)
{
	struct buf *b = arg;

	buf_adds(b, "<li><a href=\"/guides/");
	H(b, g->id);
	buf_adds(b, "\">");
	H(b, g->name);
	buf_adds(b, "</a><small>");
	H(b, g->department);
	buf_adds(b, " · 办结时限：");
	H(b, g->time_limit);
	buf_adds(b, "</small></li>");
	return b->failed ? -1 : 0;
}

void
page_guides(struct buf *b, struct store *s, const char *q)
{
	size_t before;

	page_begin(b, "办事指南");
	buf_adds(b, "<h1>办事指南</h1><form method=\"get\" action=\"/guides\" class=\"search\">"
		    "<label for=\"q\">搜索事项</label><input id=\"q\" name=\"q\" maxlength=\"50\" "
		    "value=\"");
	H(b, q);
	buf_adds(b, "\"><button type=\"submit\">搜索</button></form><ul class=\"guides\">");
	before = b->len;
	if (store_guides_search(s, q, guide_row, b) == -1)
		buf_adds(b, "<li>指南暂时无法读取，请稍后再试。</li>");
	else if (b->len == before)
		buf_adds(b, "<li>没有找到相关事项，可以<a href=\"/consult\">在线咨询</a>。</li>");
	buf_adds(b, "</ul>");
	page_end(b);
}

/* Multi-line text (materials) as a list, one item a line. */
static void
lines_list(struct buf *b, const char *text)
{
	const char *p = text;
	char *line;

	buf_adds(b, "<ol>");
	while ((line = text_next_line(&p)) != NULL) {
		buf_adds(b, "<li>");
		H(b, line);
		buf_adds(b, "</li>");
		free(line);
	}
	buf_adds(b, "</ol>");
}

void
page_guide(struct buf *b, const struct guide *g)
{
	char when[64];

	page_begin(b, g->name);
	buf_adds(b, "<h1>");
	H(b, g->name);
	buf_adds(b, "</h1><dl class=\"guide\">");
	dl_item(b, "实施部门", g->department);
	buf_adds(b, "<dt>申请材料</dt><dd>");
	lines_list(b, g->materials);
	buf_adds(b, "</dd>");
	dl_item(b, "办结时限", g->time_limit);
	dl_item(b, "收费标准", g->fees);
	dl_item(b, "收费依据", g->fee_basis);
	dl_item(b, "结果送达", g->delivery);
	dl_item(b, "咨询途径", g->consult);
	dl_item(b, "办理地点", g->address);
	dl_item(b, "办理时间", g->hours);
	buf_adds(b, "</dl><p class=\"muted\">更新于 ");
	timefmt_human(when, g->updated_at);
	H(b, when);
	buf_adds(b, "。还有疑问？<a href=\"/consult\">在线咨询</a></p>");
	page_end(b);
}
