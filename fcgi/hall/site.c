/*
 * The citizen site's process state, its setup, and the responses and checks that both
 * hall programs use.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "site.h"

struct site site;
static const struct site_program *program;
_Thread_local struct store *site_store;

/* The web layer's errors, as the hall's pages show them. */
static void
site_error_page(struct req *r, int status, const char *message, const char *extra)
{
	const char *title;
	struct buf b;

	switch (status) {
	case 404: title = "没有找到"; break;
	case 405: title = "不支持此请求方法"; break;
	case 429: title = "请稍后再试"; break;
	case 503: title = "暂时无法服务"; break;
	default: title = "无法处理"; break;
	}
	buf_init(&b, PAGE_MAX);
	page_message(&b, title, message);
	req_page(r, status, &b, extra);
	buf_free(&b);
}

/* --help, and the usage on a bad command line: the two programs share one text. */
static void
usage(const char *progname, int code)
{
	char help[1024];

	snprintf(help, sizeof(help),
	    "usage: %s -c CONFIG\n"
	    "\n"
	    "The hall's citizen site, a FastCGI program behind nginx: hall-read answers the\n"
	    "pages, lookups and guides from the hall store read-only ([server] read_socket),\n"
	    "hall-write takes submissions and ratings ([server] write_socket), each durable\n"
	    "before its receipt. nginx sends each request to the right one\n"
	    "(conf/nginx/hall.site).\n"
	    "\n"
	    "  -c CONFIG        the hall INI (conf/hall.ini.example documents every key)\n"
	    "  --help, --version\n", progname);
	cli_usage(help, code);
}

/*
 * nginx sends the POSTs, but the lookup forms' (/progress, /appointments/lookup), and the
 * whole window (/window: its sessions are writes) to hall-write and everything else to
 * hall-read
 * (conf/nginx/hall.site): each program refuses what is the other's.
 */
static int
site_takes(const struct req *r)
{
	int window = strncmp(r->path, "/window", 7) == 0 && (r->path[7] == '\0' || r->path[7] == '/');
	int for_write = window ||
	    (strcmp(r->method, "POST") == 0 && strcmp(r->path, "/progress") != 0 &&
		strcmp(r->path, "/appointments/lookup") != 0);

	return for_write == !program->readonly;
}

/* One request, start to end: 405 unless the program takes it, else its route. */
static void
site_serve(FCGX_Request *fr)
{
	struct req r;

	req_init(&r, fr);
	if (!site_takes(&r))
		req_error(&r, 405, "method_not_allowed", "不支持此请求方法。", NULL);
	else
		site_dispatch(&r, program->handlers);
	req_free(&r);
}

int
site_main(int argc, char *argv[], const struct site_program *p)
{
	struct server_ops ops = {p->worker_init, site_serve, site_close_store};
	const char *progname = p->name;
	const char *config = NULL;
	int ch;

	if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
		usage(progname, 0);
	cli_standard(argc, argv, progname, "");
	log_init(progname);
	umask_group();	/* the store and the limits file: group hall's under the units */
	while ((ch = getopt(argc, argv, "c:")) != -1) {
		switch (ch) {
		case 'c':
			config = optarg;
			break;
		default:
			usage(progname, 2);
		}
	}
	if (config == NULL || optind != argc)
		usage(progname, 2);
	if (sodium_init() < 0)
		fatalx("libsodium cannot start");
	if (config_load(&site.cfg, config) == -1)
		fatalx("%s: configuration refused", config);
	site.readonly = p->readonly;
	program = p;
	if (site.cfg.limits_file != NULL && (site.limits = limits_open(site.cfg.limits_file)) == NULL)
		fatalx("%s: cannot open the limits file", site.cfg.limits_file);
	if (site.cfg.secret_file == NULL || csrf_load_secret(site.cfg.secret_file, 0) == -1)
		fatalx("the CSRF secret ([server] secret_file) is missing: run hall-admin init");
	req_set_error_page(site_error_page);
	if (p->start != NULL && p->start() == -1)
		fatalx("%s cannot start", progname);
	if (FCGX_Init() != 0)
		fatalx("FCGX_Init failed");
	if (ops.init == NULL)
		ops.init = site_open_store;
	server_socket_group(site.cfg.socket_group);
	if (p->readonly)
		return server_run(site.cfg.read_socket, site.cfg.read_workers, 1, &ops) == 0 ? 0 : 1;
	return server_run(site.cfg.write_socket, site.cfg.write_workers, site.cfg.write_threads,
		   &ops) == 0 ? 0 : 1;
}

int
site_open_store(void)
{
	if ((site_store = store_open(site.cfg.store_path, site.readonly)) == NULL)
		return -1;
	/* a read-only worker must not create the hall binding; it only checks it */
	if (store_bind_hall(site_store, site.cfg.code) == -1)
		return -1;
	return 0;
}

void
site_close_store(void)
{
	store_close(site_store);
	site_store = NULL;
}

void
send_page(struct req *r, int status, struct buf *page)
{
	req_page(r, status, page, NULL);
}

void
send_too_many(struct req *r, int retry_after, const char *message)
{
	char hdr[64];

	snprintf(hdr, sizeof(hdr), "Retry-After: %d\r\n", retry_after);
	req_error_h(r, 429, "too_many_requests", message, NULL, hdr);
}

void
send_unavailable(struct req *r)
{
	req_error(r, 503, "store_unavailable", "大厅系统暂时无法保存或读取数据，请稍后再试。",
	    NULL);
}

const char *
api_lookup_code(struct req *r)
{
	static const struct field_spec spec[] = {{"code", 1, check_code, 6, NULL, "查询码"}};
	const char *field, *message;
	int retry;

	if (req_parse_query(r) == -1)
		return NULL;
	if (!limits_take(site.limits, LIMIT_LOOKUP, r->remote, site.cfg.lookups_per_min, &retry)) {
		send_too_many(r, retry, "查询过于频繁，请稍后再试。");
		return NULL;
	}
	if (fields_check(&r->in, spec, 1, NULL, &field, &message) == -1) {
		req_error(r, 422, "invalid_field", message, field);
		return NULL;
	}
	return field_value(&r->in, "code");
}

enum open_rc
case_open(struct req *r, const char *case_no_in, const char *code, struct case_view *v)
{
	char case_no[CASENO_LEN + 1];
	enum store_rc rc;
	int good, retry_after;

	if (caseno_normalize(case_no, case_no_in) == -1 || !caseno_valid(case_no))
		return OPEN_BAD_NUMBER;
	if (limits_locked(site.limits, case_no, &retry_after)) {
		send_too_many(r, retry_after, "这个办件的查询码错误次数过多，已暂停查询，请稍后再试。");
		return OPEN_ANSWERED;
	}
	rc = store_case_get(site_store, case_no, v);
	if (rc == STORE_ERR) {
		send_unavailable(r);
		return OPEN_ANSWERED;
	}
	good = rc == STORE_OK && store_case_code_ok(site_store, v, code);
	if (!good) {
		if (rc == STORE_OK)
			case_view_free(v);
		limits_wrong_code(site.limits, case_no, site.cfg.wrong_code_max, site.cfg.lockout_min);
		return OPEN_NOT_FOUND;
	}
	return OPEN_OK;
}

void
form_token(struct req *r, char token[CSRF_TOKEN_LEN])
{
	req_csrf_cookie(r);
	if (csrf_token(token, r->cookie, time(NULL)) == -1)
		token[0] = '\0';
}

void
form_again(struct req *r, int status, void (*page)(struct buf *, const struct form_state *),
    const char *field, const char *message, const char *headers)
{
	char token[CSRF_TOKEN_LEN];
	struct form_state st = {0};
	struct buf b;

	form_token(r, token);
	st.in = &r->in;
	st.err_field = field;
	st.err_message = message;
	st.csrf_token = token;
	buf_init(&b, PAGE_MAX);
	page(&b, &st);
	req_page(r, status, &b, headers);
	buf_free(&b);
}

void
send_progress(struct req *r, int status, struct form_state *st, const struct case_view *v)
{
	char token[CSRF_TOKEN_LEN];
	struct buf b;

	form_token(r, token);
	st->csrf_token = token;
	buf_init(&b, PAGE_MAX);
	page_progress(&b, st, v, time(NULL));
	send_page(r, status, &b);
	buf_free(&b);
}
