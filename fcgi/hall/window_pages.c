/*
 * The window's pages (SPEC 4.4): the sign-in, the hall's latest cases, the registration
 * form and the receipt that is printed for the citizen. Server-rendered, no JavaScript,
 * readable on a phone; /static/window.css lays the receipt out on an A5 sheet or an 80 mm
 * receipt roll when printed. All text a person typed goes through buf_html.
 */
#include <stdio.h>
#include <string.h>

#include "site.h"

#define H(b, s) buf_html((b), (s) == NULL ? "" : (s))

static const char *const kinds[] = {"consultation", "complaint", "unresolved", NULL};
static const char *const categories[] = {"procedure", "policy", "public_info", NULL};
static const char *const channels[] = {"window", "phone", "letter", "email", NULL};

/* The page's head and the window's bar: who is signed in, and the way out. */
void
wpage_begin(struct buf *b, const struct window_view *v, const char *title, const char *body_class)
{
	buf_adds(b, "<!doctype html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
		    "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
		    "<meta name=\"robots\" content=\"noindex\"><title>");
	H(b, title);
	buf_adds(b, " - 窗口登记 - ");
	H(b, site.cfg.name);
	buf_adds(b, "</title><link rel=\"stylesheet\" href=\"/static/style.css\">"
		    "<link rel=\"stylesheet\" href=\"/static/window.css\"></head>\n<body");
	if (body_class != NULL) {
		buf_adds(b, " class=\"");
		H(b, body_class);
		buf_adds(b, "\"");
	}
	buf_adds(b, "><header class=\"window-bar\"><a class=\"brand\" href=\"/window\">");
	H(b, site.cfg.name);
	buf_adds(b, " · 窗口登记</a>");
	if (v->name != NULL) {
		buf_adds(b, "<nav><a href=\"/window/new\">登记办件</a><a href=\"/window\">最近办件</a>"
			    "<a href=\"/window/appointments\">预约</a>"
			    "<span class=\"who\">登记人：");
		H(b, v->name);
		buf_adds(b, "</span><form class=\"inline\" method=\"post\" action=\"/window/logout\">"
			    "<input type=\"hidden\" name=\"csrf\" value=\"");
		H(b, v->csrf);
		buf_adds(b, "\"><button type=\"submit\" class=\"link\">退出</button></form></nav>");
	}
	buf_adds(b, "</header>\n<main>");
}

void
wpage_end(struct buf *b)
{
	buf_adds(b, "</main></body></html>\n");
}

void
wpage_message(struct buf *b, const struct window_view *v, const char *title, const char *message)
{
	wpage_begin(b, v, title, NULL);
	buf_adds(b, "<h1>");
	H(b, title);
	buf_adds(b, "</h1><p class=\"notice\">");
	H(b, message);
	buf_adds(b, "</p><p><a href=\"/window\">返回</a></p>");
	wpage_end(b);
}

void
wpage_login(struct buf *b, const char *csrf, const char *user, const char *error)
{
	struct window_view v = {NULL, csrf};

	wpage_begin(b, &v, "登录", NULL);
	buf_adds(b, "<h1>窗口工作人员登录</h1>");
	if (error != NULL) {
		buf_adds(b, "<p class=\"error\" role=\"alert\">");
		H(b, error);
		buf_adds(b, "</p>");
	}
	buf_adds(b, "<form method=\"post\" action=\"/window/login\" accept-charset=\"utf-8\">"
		    "<input type=\"hidden\" name=\"csrf\" value=\"");
	H(b, csrf);
	buf_adds(b, "\"><label for=\"f-username\">用户名</label><input id=\"f-username\" "
		    "name=\"username\" autocomplete=\"username\" maxlength=\"32\" required value=\"");
	H(b, user);
	buf_adds(b, "\"><label for=\"f-password\">密码</label><input id=\"f-password\" "
		    "type=\"password\" name=\"password\" autocomplete=\"current-password\" "
		    "maxlength=\"128\" required><button type=\"submit\">登录</button></form>");
	buf_printf(b, "<p class=\"muted\">连续输错密码 %d 次，账户将锁定 %d 分钟。账户由本大厅管理员用 "
		      "hall-admin staff add 开设。县级网络中断时照常登录和登记。</p>",
	    WINDOW_LOCKOUT_FAILURES, WINDOW_LOCKOUT_MINUTES);
	wpage_end(b);
}

/* ---- the hall's latest cases ---------------------------------------------------------- */

struct list_ctx {
	struct buf *b;
	const char *me;
	time_t now;
	int n;
};

static int
list_row(const struct window_case *c, void *arg)
{
	struct list_ctx *x = arg;
	struct buf *b = x->b;
	char when[64];

	x->n++;
	buf_adds(b, "<tr><td class=\"no\">");
	/* a receipt is printed again only by its registrar, soon after (window.c) */
	if (window_may_reprint(c, x->me, x->now)) {
		buf_adds(b, "<a href=\"/window/receipt/");
		H(b, c->case_no);
		buf_adds(b, "\">");
		caseno_grouped(b, c->case_no);
		buf_adds(b, "</a>");
	} else
		caseno_grouped(b, c->case_no);
	buf_adds(b, "</td><td>");
	H(b, kind_text(c->kind));
	buf_adds(b, "</td><td>");
	H(b, channel_text(c->channel));
	buf_adds(b, "</td><td>");
	H(b, c->subject);
	buf_adds(b, "</td><td>");
	H(b, c->name);
	buf_adds(b, "</td><td>");
	H(b, c->registrar != NULL ? c->registrar : "—");
	buf_adds(b, "</td><td>");
	H(b, status_text(c->status));
	timefmt_human(when, c->submitted_at);
	buf_adds(b, "</td><td>");
	H(b, when);
	buf_adds(b, "</td></tr>");
	return b->failed ? -1 : 0;
}

void
wpage_list(struct buf *b, const struct window_view *v, struct store *s, time_t now)
{
	struct list_ctx x = {b, v->name, now, 0};

	wpage_begin(b, v, "最近办件", NULL);
	buf_printf(b, "<h1>本大厅最近办件</h1><p><a class=\"button\" href=\"/window/new\">登记新办件"
		      "</a></p><p class=\"muted\">最近 %d 件，含群众网上提交的。本大厅只保存本大厅的办件；"
		      "登记后一小时内，登记人可点办件编号重新打印回执。</p>"
		      "<div class=\"scroll\"><table class=\"cases\"><thead><tr><th>办件编号</th>"
		      "<th>类型</th><th>渠道</th><th>反映事项</th><th>服务对象</th><th>登记人</th>"
		      "<th>状态</th><th>提交时间</th></tr></thead><tbody>", WINDOW_RECENT);
	if (store_window_recent(s, WINDOW_RECENT, list_row, &x) == -1)
		buf_adds(b, "<tr><td colspan=\"8\">办件暂时无法读取，请稍后再试。</td></tr>");
	else if (x.n == 0)
		buf_adds(b, "<tr><td colspan=\"8\">还没有办件。</td></tr>");
	buf_adds(b, "</tbody></table></div>");
	wpage_end(b);
}

/* ---- the registration form ------------------------------------------------------------- */

void
wpage_form(struct buf *b, const struct window_view *v, const struct form_state *st)
{
	/* a new form notifies; a form sent back keeps what the person chose */
	int notify = st->in == NULL || field_value(st->in, "notify") != NULL;
	struct form_state form = *st;

	wpage_begin(b, v, "登记办件", NULL);
	buf_adds(b, "<h1>登记办件</h1><p class=\"lead\">为来到窗口、来电、来信或发来电子邮件的群众登记"
		    "咨询、投诉或“办不成事”反映。登记后打印回执交给群众（来电、来信的，告知办件编号和查询码）。"
		    "</p>");
	form.csrf_token = v->csrf;
	form_open(b, &form, "/window/new");
	buf_adds(b, "<fieldset><legend>受理</legend>");
	form_select(b, st, "channel", "受理渠道", channels, NULL, NULL);
	form_select(b, st, "kind", "类型", kinds, NULL, NULL);
	form_select(b, st, "category", "咨询类别", categories, "（投诉、“办不成事”不填）", "咨询必选");
	buf_adds(b, "</fieldset><fieldset><legend>“办不成事”及投诉、咨询登记</legend>");
	form_input(b, st, "name", "服务对象", "text", 0, 50, "群众姓名；咨询必填，投诉和反映可匿名");
	form_input(b, st, "phone", "联系电话", "tel", 1, 20, "手机号码或带区号的固定电话");
	form_input(b, st, "email", "电子邮箱", "email", 0, 100, "可不填");
	form_input(b, st, "subject", "反映事项", "text", 1, 100, "一句话概括");
	form_label(b, st, "body", "具体情况", 1, "群众所说的经过和诉求");
	buf_adds(b, "<textarea id=\"f-body\" name=\"body\" rows=\"6\" maxlength=\"2000\" required>");
	H(b, form_value(st, "body"));
	buf_adds(b, "</textarea>");
	form_input(b, st, "target", "涉及窗口或部门", "text", 0, 100, "可不填");
	form_input(b, st, "item", "涉及事项", "text", 0, 100, "咨询的办事事项，可不填");
	buf_adds(b, "<label>登记人</label><p class=\"fixed\" id=\"registrar\">");
	H(b, v->name);
	buf_adds(b, "</p></fieldset>");
	form_label(b, st, "notify", "告知", 0, NULL);
	buf_printf(b, "<label class=\"check\"><input type=\"checkbox\" id=\"f-notify\" name=\"notify\" "
		      "value=\"1\"%s> 办理进展以短信（及电子邮件）告知群众</label>",
	    notify ? " checked" : "");
	form_close(b, st, "登记并打印回执");
	wpage_end(b);
}

/* ---- the receipt ------------------------------------------------------------------------ */

static void
slip_item(struct buf *b, const char *term, const char *value, const char *class)
{
	if (value == NULL || *value == '\0')
		return;
	buf_adds(b, "<dt>");
	H(b, term);
	buf_adds(b, class != NULL ? "</dt><dd class=\"" : "</dt><dd");
	if (class != NULL) {
		H(b, class);
		buf_adds(b, "\"");
	}
	buf_adds(b, ">");
	H(b, value);
	buf_adds(b, "</dd>");
}

void
wpage_receipt(struct buf *b, const struct window_view *v, const struct window_case *c,
    const char *code, int roll)
{
	char when[64], due[96], kind[96];

	wpage_begin(b, v, "回执", roll ? "paper-80" : "paper-a5");
	buf_adds(b, "<div class=\"no-print\"><p class=\"notice\">已登记。请用浏览器的打印（Ctrl+P）"
		    "打印下面的回执交给群众。纸张：");
	buf_adds(b, roll ? "<a href=\"?paper=a5\">A5 纸</a> · <b>80 mm 小票</b>" :
			   "<b>A5 纸</b> · <a href=\"?paper=80\">80 mm 小票</a>");
	buf_adds(b, "</p></div><article class=\"slip\" id=\"slip\"><p class=\"slip-hall\">");
	H(b, site.cfg.name);
	buf_adds(b, "</p><h1 class=\"slip-title\">受理回执</h1><dl>"
		    "<dt>办件编号</dt><dd class=\"big\" id=\"slip-case-no\">");
	caseno_grouped(b, c->case_no);
	buf_adds(b, "</dd>");
	slip_item(b, "查询码", code, "big");
	snprintf(kind, sizeof(kind), "%s%s%s", kind_text(c->kind), c->category != NULL ? " · " : "",
	    c->category != NULL ? category_text(c->category) : "");
	slip_item(b, "类型", kind, NULL);
	slip_item(b, "受理渠道", channel_text(c->channel), NULL);
	slip_item(b, "反映事项", c->subject, NULL);
	slip_item(b, "服务对象", c->name, NULL);
	timefmt_human(when, c->submitted_at);
	slip_item(b, "登记时间", when, NULL);
	timefmt_human(when, c->due_at);
	snprintf(due, sizeof(due), "%s 前%s", when, c->due_provisional ? "（暂定）" : "");
	slip_item(b, "答复期限", due, NULL);
	slip_item(b, "登记人", c->registrar, NULL);
	buf_adds(b, "</dl><p class=\"slip-next\">接下来：您的诉求已在本大厅登记，将报送县级主管部门，"
		    "在答复期限前办理答复。请凭办件编号和查询码在本大厅网站“进度查询”或到窗口查询进度；"
		    "留有手机号码的，受理和答复时将以短信告知（登记时选择不告知的除外）。答复后欢迎评价。</p>"
		    "<p class=\"slip-contact\">");
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
		    "<p class=\"no-print\"><a class=\"button\" href=\"/window/new\">登记下一件</a> "
		    "<a href=\"/window\">最近办件</a></p>");
	wpage_end(b);
}
