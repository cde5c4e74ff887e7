/*
 * The staff console's page shell and the pieces every page shares: server-rendered HTML
 * that works with JavaScript off, from a phone to a laptop. All user text goes through
 * buf_html (SH); the only raw strings are our own markup.
 */
#include <stdio.h>
#include <string.h>

#include "staff.h"

static const char staff_css[] =
    "*{box-sizing:border-box}"
    "body{margin:0;font:15px/1.55 system-ui,\"PingFang SC\",\"Noto Sans CJK SC\","
    "\"Microsoft YaHei\",sans-serif;color:#1d2129;background:#f2f3f5}"
    "header{background:#0d47a1;color:#fff;padding:.5rem 1rem;display:flex;flex-wrap:wrap;"
    "align-items:center;gap:.3rem 1.2rem}"
    "header a{color:#fff;text-decoration:none}"
    ".brand{font-weight:bold;font-size:1.05rem}"
    "nav{display:flex;flex-wrap:wrap;gap:.2rem .9rem;flex:1}"
    "nav a.on{border-bottom:2px solid #fff}"
    ".who{display:flex;align-items:center;gap:.5rem;font-size:.9rem}"
    ".who form{margin:0}.who button{margin:0;padding:.2rem .6rem;min-width:0;background:#1565c0;"
    "border:1px solid #90caf9}"
    "main{max-width:72rem;margin:0 auto;padding:1rem;background:#fff;min-height:70vh}"
    "footer{max-width:72rem;margin:0 auto;padding:.8rem 1rem;color:#777;font-size:.85rem}"
    "h1{font-size:1.3rem;margin:.2rem 0 .8rem}h2{font-size:1.1rem;margin:1.3rem 0 .5rem}"
    "table{border-collapse:collapse;width:100%;font-size:.92rem}"
    "th,td{border-bottom:1px solid #e5e6eb;padding:.4rem .45rem;text-align:left;"
    "vertical-align:top}"
    "th{background:#f7f8fa;white-space:nowrap}"
    ".scroll{overflow-x:auto}"
    "td.num,th.num{text-align:right}"
    "label{display:block;margin-top:.7rem;font-weight:bold}"
    "input,select,textarea,button{font:inherit;padding:.45rem;border:1px solid #bbb;"
    "border-radius:.3rem;background:#fff;max-width:100%}"
    "form.wide input,form.wide textarea,form.wide select{width:100%}"
    "button,.button{display:inline-block;margin-top:.8rem;background:#0d47a1;color:#fff;"
    "border:0;padding:.5rem 1rem;border-radius:.3rem;text-decoration:none;cursor:pointer}"
    "button.danger{background:#b71c1c}"
    ".filters{display:flex;flex-wrap:wrap;gap:.5rem;align-items:flex-end;margin-bottom:.8rem}"
    ".filters label{margin:0;font-weight:normal;font-size:.85rem}"
    ".filters label input,.filters label select{display:block}"
    ".filters .check{display:flex;align-items:center;gap:.3rem}"
    ".filters .check input{width:auto}"
    ".filters button{margin:0}"
    "form.inline{display:inline-flex;flex-wrap:wrap;gap:.3rem;margin:.1rem 0}"
    "form.inline input{width:auto}form.inline button{margin:0}"
    ".tag{font-size:.78rem;padding:.05rem .4rem;border-radius:.2rem;color:#fff;"
    "white-space:nowrap}"
    ".warning{background:#e69500}.overdue{background:#b71c1c}.closed{background:#607d8b}"
    ".notice{background:#e8f4fd;padding:.6rem .8rem;border-radius:.3rem}"
    ".error{color:#b71c1c;background:#fdecea;padding:.5rem .7rem;border-radius:.3rem}"
    ".text{white-space:pre-wrap;word-break:break-word;background:#fafafa;padding:.5rem;"
    "border-radius:.3rem;margin:.3rem 0}"
    "dl.rec{display:grid;grid-template-columns:max-content 1fr;gap:.25rem .8rem;margin:0}"
    "dl.rec dt{color:#666}dl.rec dd{margin:0;word-break:break-word}"
    ".timeline{list-style:none;padding:0;margin:0}"
    ".timeline li{border-left:3px solid #90caf9;padding:.2rem .7rem;margin:.4rem 0}"
    ".muted{color:#777;font-size:.85rem}"
    ".actions{display:grid;grid-template-columns:repeat(auto-fit,minmax(16rem,1fr));gap:.8rem}"
    ".actions form{border:1px solid #e5e6eb;border-radius:.4rem;padding:.6rem .8rem;margin:0}"
    ".actions h3{margin:0 0 .3rem;font-size:1rem}"
    ".pager{display:flex;gap:1rem;margin-top:.8rem;align-items:center}"
    ".cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(14rem,1fr));gap:.8rem}"
    ".card{border:1px solid #e5e6eb;border-radius:.4rem;padding:.6rem .8rem}"
    ".card b{display:block;font-size:1.6rem}"
    ".login{max-width:22rem;margin:2rem auto}"
    ".login input{width:100%}"
    "svg{max-width:100%;height:auto}"
    "@media (max-width:40rem){main{padding:.6rem}th,td{padding:.3rem}"
    ".hide-s{display:none}}";

void
spage_css(struct staff_req *s)
{
	struct buf b;

	buf_init(&b, sizeof(staff_css) + 16);
	buf_adds(&b, staff_css);
	req_send(&s->r, 200, "text/css; charset=utf-8", &b, NULL);
	buf_free(&b);
}

const char *
spage_role_text(const char *role)
{
	if (strcmp(role, "admin") == 0)
		return "管理员";
	if (strcmp(role, "supervisor") == 0)
		return "督查员";
	if (strcmp(role, STAFF_ROLE_PROVINCE) == 0)
		return "省级工作人员";
	return "工作人员";
}

void
spage_csrf_field(struct buf *b, const struct staff_req *s)
{
	buf_adds(b, "<input type=\"hidden\" name=\"csrf\" value=\"");
	SH(b, s->csrf);
	buf_adds(b, "\">");
}

static void
nav_link(struct buf *b, const struct staff_req *s, const char *href, const char *text)
{
	int on = strcmp(href, "/") == 0 ?
	    strcmp(s->r.path, "/") == 0 || strncmp(s->r.path, "/cases/", 7) == 0 :
	    strncmp(s->r.path, href, strlen(href)) == 0;

	buf_adds(b, "<a href=\"");
	SH(b, href);
	buf_adds(b, on ? "\" class=\"on\">" : "\">");
	SH(b, text);
	buf_adds(b, "</a>");
}

void
spage_begin(struct buf *b, const struct staff_req *s, const char *title)
{
	buf_init(b, PAGE_MAX);
	buf_adds(b, "<!doctype html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
		    "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>");
	SH(b, title);
	buf_adds(b, " - 县级政务服务工作台</title><link rel=\"stylesheet\" href=\"/staff.css\">"
		    "</head>\n<body><header><a class=\"brand\" href=\"/\">县级政务服务工作台</a>");
	if (s->signed_in) {
		buf_adds(b, "<nav>");
		nav_link(b, s, "/", "办件");
		nav_link(b, s, "/followups", "差评回访");
		nav_link(b, s, "/appointments", "预约");
		nav_link(b, s, "/dashboard", "质量统计");
		nav_link(b, s, "/guides", "办事指南");
		nav_link(b, s, "/calendars", "节假日");
		if (auth_role_at_least(&s->u, "admin"))
			nav_link(b, s, "/accounts", "账户");
		if (auth_role_at_least(&s->u, "admin"))
			nav_link(b, s, "/audit", "审计日志");
		buf_adds(b, "</nav><div class=\"who\"><span>");
		SH(b, s->u.display[0] != '\0' ? s->u.display : s->u.username);
		buf_adds(b, " · ");
		SH(b, spage_role_text(s->u.role));
		buf_adds(b, " · ");
		SH(b, s->u.county);
		buf_adds(b, "</span><form method=\"post\" action=\"/logout\">");
		spage_csrf_field(b, s);
		buf_adds(b, "<button type=\"submit\">退出</button></form></div>");
	}
	buf_adds(b, "</header>\n<main>");
}

void
spage_finish(struct staff_req *s, int status, struct buf *b, const char *extra)
{
	buf_adds(b, "</main>\n<footer>县级政务服务工作台 · 办件答复经同步送达各大厅"
		    "</footer></body></html>\n");
	spage_send(s, status, b, extra);
	buf_free(b);
}

void
spage_send(struct staff_req *s, int status, struct buf *page, const char *extra)
{
	struct buf h;

	buf_init(&h, 1024);
	if (s->new_session[0] != '\0')
		buf_printf(&h, "Set-Cookie: %s=%s; Path=/; Max-Age=%d; HttpOnly; SameSite=Strict%s\r\n",
		    STAFF_SESSION_COOKIE, s->new_session, staff_conf.session_hours * 3600,
		    s->r.https ? "; Secure" : "");
	else if (s->clear_session)
		buf_printf(&h, "Set-Cookie: %s=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict%s\r\n",
		    STAFF_SESSION_COOKIE, s->r.https ? "; Secure" : "");
	if (extra != NULL)
		buf_adds(&h, extra);
	req_page(&s->r, status, page, h.failed || h.len == 0 ? NULL : h.data);
	buf_free(&h);
}

static void
message_page(struct staff_req *s, int status, const char *title, const char *message,
    const char *extra)
{
	struct buf b;

	spage_begin(&b, s, title);
	buf_adds(&b, "<h1>");
	SH(&b, title);
	buf_adds(&b, "</h1><p class=\"notice\">");
	SH(&b, message);
	buf_adds(&b, s->signed_in ? "</p><p><a href=\"/\">返回办件列表</a></p>" :
				    "</p><p><a href=\"/login\">登录</a></p>");
	spage_finish(s, status, &b, extra);
}

void
spage_message(struct staff_req *s, int status, const char *title, const char *message)
{
	message_page(s, status, title, message, NULL);
}

void
spage_unavailable(struct staff_req *s)
{
	spage_message(s, 503, "暂时无法服务", "县级数据库暂时无法访问，请稍后再试。");
}

/* The heading of an error the web layer reports (fcgi/web: body, route), by its status. */
static const char *
error_title(int status)
{
	switch (status) {
	case 403:
		return "无权操作";
	case 404:
		return "没有找到";
	case 413:
		return "内容过长";
	case 429:
		return "请稍后再试";
	case 503:
		return "暂时无法服务";
	default:
		return "无法处理";
	}
}

void
spage_error(struct req *r, int status, const char *message, const char *extra)
{
	/* every request of ours is a staff_req, whose first member is its struct req */
	struct staff_req *s = (struct staff_req *)(void *)r;

	message_page(s, status, error_title(status), message, extra);
}

void
spage_redirect(struct staff_req *s, const char *location)
{
	struct buf b, h;

	buf_init(&h, 2048);
	buf_adds(&h, "Location: ");
	buf_adds(&h, location);	/* always a path we built from checked parts */
	buf_adds(&h, "\r\n");
	buf_init(&b, 1024);
	buf_adds(&b, "<!doctype html><meta charset=\"utf-8\"><p><a href=\"");
	SH(&b, location);
	buf_adds(&b, "\">继续</a></p>");
	spage_send(s, 303, &b, h.failed ? NULL : h.data);
	buf_free(&b);
	buf_free(&h);
}

void
spage_time(char out[32], time_t t)
{
	struct tm tm;
	time_t local = t + HALL_TZ_OFFSET;

	if (t == 0) {
		out[0] = '\0';
		return;
	}
	gmtime_r(&local, &tm);
	snprintf(out, 32, "%04d-%02d-%02d %02d:%02d", (tm.tm_year + 1900) % 10000,
	    (tm.tm_mon + 1) % 100, tm.tm_mday % 100, tm.tm_hour % 100, tm.tm_min % 100);
}

void
spage_caseno(struct buf *b, const char *case_no)
{
	size_t i;

	for (i = 0; case_no[i] != '\0'; i++) {
		if (i > 0 && i % 4 == 0)
			buf_addc(b, ' ');
		if (strchr("&<>\"'", case_no[i]) != NULL)
			continue;	/* never in a case number; keep the page safe anyway */
		buf_addc(b, case_no[i]);
	}
}

void
spage_due_tag(struct buf *b, int overdue, int warning)
{
	if (overdue)
		buf_adds(b, " <span class=\"tag overdue\">已超期</span>");
	else if (warning)
		buf_adds(b, " <span class=\"tag warning\">预警</span>");
}

void
spage_notices(struct buf *b, const char *done, const char *err)
{
	if (done != NULL) {
		buf_adds(b, "<p class=\"notice\" role=\"status\">");
		SH(b, done);
		buf_adds(b, "</p>");
	}
	if (err != NULL) {
		buf_adds(b, "<p class=\"error\" role=\"alert\">");
		SH(b, err);
		buf_adds(b, "</p>");
	}
}

/* ---- tables ------------------------------------------------------------------------- */

/* <th> or <td>, with its class when it has one */
static void
cell_open(struct buf *b, const char *tag, const char *class)
{
	buf_addc(b, '<');
	buf_adds(b, tag);
	if (class != NULL) {
		buf_adds(b, " class=\"");
		SH(b, class);
		buf_addc(b, '"');
	}
	buf_addc(b, '>');
}

void
spage_table(struct buf *b, const char *attrs, const struct scol *cols, size_t ncols)
{
	size_t i;

	buf_adds(b, "<div class=\"scroll\"><table");
	if (attrs != NULL) {
		buf_addc(b, ' ');
		buf_adds(b, attrs);	/* our own markup */
	}
	buf_adds(b, "><thead><tr>");
	for (i = 0; i < ncols; i++) {
		cell_open(b, "th", cols[i].class);
		SH(b, cols[i].title);
		buf_adds(b, "</th>");
	}
	buf_adds(b, "</tr></thead><tbody>");
}

void
spage_table_end(struct buf *b, size_t ncols, size_t nrows, const char *empty)
{
	if (nrows == 0 && empty != NULL) {
		buf_printf(b, "<tr><td colspan=\"%zu\">", ncols);
		SH(b, empty);
		buf_adds(b, "</td></tr>");
	}
	buf_adds(b, "</tbody></table></div>");
}

void
spage_td(struct buf *b, const char *class, const char *text)
{
	cell_open(b, "td", class);
	SH(b, text);
	buf_adds(b, "</td>");
}

void
spage_link(struct buf *b, const char *path, const char *arg, const char *text)
{
	buf_adds(b, "<a href=\"");
	SH(b, path);
	SH(b, arg);
	buf_adds(b, "\">");
	if (text != NULL)
		SH(b, text);
	else
		spage_caseno(b, arg);
	buf_adds(b, "</a>");
}

const char *
spage_in(const struct staff_req *s, const char *name)
{
	const struct kv *kv = kv_get(&s->r.in, name);

	return kv == NULL ? "" : kv->value;
}

void
csv_cell(struct buf *b, const char *v, int last)
{
	const char *p;

	if (v == NULL)
		v = "";
	buf_addc(b, '"');
	if (v[0] != '\0' && strchr("=+-@\t\r", v[0]) != NULL)
		buf_addc(b, '\'');
	for (p = v; *p != '\0'; p++) {
		if (*p == '"')
			buf_addc(b, '"');
		buf_addc(b, *p);
	}
	buf_adds(b, last ? "\"\r\n" : "\",");
}

void
csv_send(struct staff_req *s, struct buf *b, const char *name, const char *too_big)
{
	char hdr[128];

	if (b->failed) {
		spage_message(s, 503, "无法导出", too_big);
		return;
	}
	snprintf(hdr, sizeof(hdr), "Content-Disposition: attachment; filename=\"%s-%s.csv\"\r\n",
	    name, s->u.county);
	req_send(&s->r, 200, "text/csv; charset=utf-8", b, hdr);
}

void
csv_begin(struct staff_req *s, const char *name)
{
	struct buf h;

	buf_init(&h, 1024);
	buf_printf(&h, "Status: 200 OK\r\nContent-Type: text/csv; charset=utf-8\r\n"
		       "Content-Disposition: attachment; filename=\"%s-%s.csv\"\r\n"
		       "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n"
		       "Referrer-Policy: no-referrer\r\n", name, s->u.county);
	if (s->r.cookie_is_new)
		buf_printf(&h, "Set-Cookie: %s=%s; Path=/; HttpOnly; SameSite=Strict%s\r\n",
		    CSRF_COOKIE, s->r.cookie, s->r.https ? "; Secure" : "");
	buf_adds(&h, "\r\n");
	if (!h.failed)
		FCGX_PutStr(h.data, (int)h.len, s->r.fr->out);
	buf_free(&h);
}

int
csv_chunk(struct staff_req *s, struct buf *b)
{
	int rc = 0;

	if (b->failed)
		rc = -1;
	else if (b->len > 0 && !s->r.is_head &&
	    FCGX_PutStr(b->data, (int)b->len, s->r.fr->out) < 0)
		rc = -1;
	b->len = 0;
	if (b->data != NULL)
		b->data[0] = '\0';
	return rc;
}
