/*
 * staff-console: the county staff console (SPEC 7) as a FastCGI program behind nginx.
 *
 *   staff-console -c STAFF_INI [run]         serve on [console] socket
 *   staff-console -c STAFF_INI add-user USER COUNTY_CODE ROLE PASSWORD_FILE
 *                                            create an account (or reset its password,
 *                                            county and role, and end its sessions)
 *
 * The INI (README.md, "Staff console", documents every line):
 *   [console] socket, socket_group (nginx's group, given the socket), workers,
 *             secret_file (the form-token key, made when missing),
 *             session_hours, idle_minutes, lockout_failures, lockout_minutes,
 *             address_failures, address_minutes (refused sign-ins from one client address
 *             that stop it for a while, and that while; address_failures 0: no limit)
 *   [county]  host and port, or socket; user, password_file, database;
 *             tls (default 1), tls_ca, allow_insecure (tls = 0 towards a host that is not
 *             this machine is refused without it);
 *             connect_timeout, read_timeout, write_timeout (seconds);
 *             province_user, province_password_file (the province's calendar account,
 *             county-admin add-provincial: the province's staff publish calendars with it)
 *
 * The route table below is the whole URL space. Its columns say what a request needs before
 * its handler runs, checked in one place (handle): a session whose role is at least the
 * route's (NULL: no session), and for a POST its form, read here, with this session's form
 * token when the route says so. A handler with a finer rule keeps it (anyone reads a
 * guide, a supervisor edits one; the sign-in checks the visitor's token).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <ini.h>
#include <sodium.h>

#include "staff.h"

struct staff_conf staff_conf;

static const struct staff_route {
	struct route rt;
	void (*fn)(struct staff_req *);
	/* the least role (staff < supervisor < admin), or "province" (that role alone, beside
	 * the ladder: auth_role_at_least); NULL: no session */
	const char *role;
	int csrf;		/* 1: the form must carry a token of this session */
	const char *refusal;	/* what a lesser role is told */
} routes[] = {
	{{"GET", "/staff.css"}, spage_css, NULL, 0, NULL},
	{{"GET", "/login"}, auth_login_page, NULL, 0, NULL},
	/* the sign-in form's token is the visitor's, and a bad one gets the form again */
	{{"POST", "/login"}, auth_login, NULL, 0, NULL},
	{{"POST", "/logout"}, auth_logout, "staff", 1, NULL},
	{{"GET", "/"}, inbox_page, "staff", 0, NULL},
	{{"GET", "/inbox.csv"}, inbox_csv, "staff", 0, NULL},
	{{"GET", "/cases/*"}, case_page, "staff", 0, NULL},
	{{"POST", "/cases/*"}, case_action, "staff", 1, NULL},
	{{"GET", "/followups"}, followups_page, "staff", 0, NULL},
	{{"POST", "/followups/*"}, followup_close, "supervisor", 1,
	    "整改情况由督查员或管理员登记。"},
	{{"POST", "/settings/followup"}, followup_settings, "admin", 1, "整改期限由管理员设置。"},
	{{"GET", "/dashboard"}, dash_page, "staff", 0, NULL},
	{{"GET", "/dashboard.csv"}, dash_csv, "staff", 0, NULL},
	/* Prometheus, loopback only (nginx's allow list and metrics.c) */
	{{"GET", "/metrics"}, metrics_page, NULL, 0, NULL},
	{{"GET", "/guides"}, guides_page, "staff", 0, NULL},
	{{"GET", "/guides/*"}, guide_page, "staff", 0, NULL},
	{{"POST", "/guides/*"}, guide_save, "supervisor", 1, "办事指南由本县督查员或管理员维护。"},
	{{"GET", "/accounts"}, accounts_page, "admin", 0, "账户由本县管理员管理。"},
	{{"POST", "/accounts"}, account_create, "admin", 1, "账户由本县管理员管理。"},
	{{"POST", "/accounts/*"}, account_change, "admin", 1, "账户由本县管理员管理。"},
	{{"GET", "/calendars"}, calendars_page, "staff", 0, NULL},
	{{"GET", "/calendars/*"}, calendar_page, "staff", 0, NULL},
	{{"POST", "/calendars/*"}, calendar_save, STAFF_ROLE_PROVINCE, 1,
	    "工作日历由省级统一发布，县级账户只能查看。"},
	{{"GET", "/audit"}, audit_page, "admin", 0, "审计日志由本县管理员查看。"},
	{{"GET", "/appointments"}, appointments_page, "staff", 0, NULL},
	{{"POST", "/appointments/*"}, appointment_action, "staff", 1, NULL},
	{{"GET", "/appointment-conflicts"}, conflicts_page, "staff", 0, NULL},
	{{"GET", "/schedules/*"}, schedule_page, "staff", 0, NULL},
	{{"POST", "/schedules/*"}, schedule_save, "supervisor", 1,
	    "预约事项与时段由本县督查员或管理员发布。"},
};
#define NROUTES (sizeof(routes) / sizeof(routes[0]))

/* ---- configuration ------------------------------------------------------------------ */

static int
conf_int(const char *v, int lo, int hi, int *out)
{
	char *end;
	long n = strtol(v, &end, 10);

	if (*v == '\0' || *end != '\0' || n < lo || n > hi)
		return 0;
	*out = (int)n;
	return 1;
}

static int
conf_key(void *user, const char *section, const char *key, const char *value)
{
	struct staff_conf *c = user;
	char **slot = NULL;
	int *num = NULL, lo = 1, hi = 100000;

	if (strcmp(section, "console") == 0) {
		if (strcmp(key, "socket") == 0)
			slot = &c->socket;
		else if (strcmp(key, "secret_file") == 0)
			slot = &c->secret_file;
		else if (strcmp(key, "socket_group") == 0)
			slot = &c->socket_group;
		else if (strcmp(key, "workers") == 0)
			num = &c->workers, hi = 64;
		else if (strcmp(key, "session_hours") == 0)
			num = &c->session_hours, hi = 24 * 14;
		else if (strcmp(key, "idle_minutes") == 0)
			num = &c->idle_minutes;
		else if (strcmp(key, "lockout_failures") == 0)
			num = &c->lockout_failures, hi = 100;
		else if (strcmp(key, "lockout_minutes") == 0)
			num = &c->lockout_minutes;
		else if (strcmp(key, "address_failures") == 0)
			num = &c->address_failures, lo = 0, hi = 10000;
		else if (strcmp(key, "address_minutes") == 0)
			num = &c->address_minutes, hi = 1440;	/* the log keeps a day */
	} else if (strcmp(section, "county") == 0) {
		if (strcmp(key, "host") == 0)
			slot = &c->host;
		else if (strcmp(key, "socket") == 0)
			slot = &c->db_socket;
		else if (strcmp(key, "user") == 0)
			slot = &c->user;
		else if (strcmp(key, "password_file") == 0)
			slot = &c->password_file;
		else if (strcmp(key, "province_user") == 0)
			slot = &c->province_user;
		else if (strcmp(key, "province_password_file") == 0)
			slot = &c->province_password_file;
		else if (strcmp(key, "database") == 0)
			slot = &c->database;
		else if (strcmp(key, "tls_ca") == 0)
			slot = &c->tls_ca;
		else if (strcmp(key, "tls") == 0)
			num = &c->tls, lo = 0, hi = 1;
		else if (strcmp(key, "allow_insecure") == 0)
			num = &c->allow_insecure, lo = 0, hi = 1;
		else if (strcmp(key, "port") == 0)
			num = &c->port, hi = 65535;
		else if (strcmp(key, "connect_timeout") == 0)
			num = &c->connect_timeout, hi = 600;
		else if (strcmp(key, "read_timeout") == 0)
			num = &c->read_timeout, hi = 600;
		else if (strcmp(key, "write_timeout") == 0)
			num = &c->write_timeout, hi = 600;
	}
	if (slot != NULL) {
		free(*slot);
		*slot = *value != '\0' ? strdup(value) : NULL;	/* an empty value unsets */
		return 1;
	}
	if (num != NULL) {
		if (conf_int(value, lo, hi, num))
			return 1;
		fprintf(stderr, "[%s] %s: a number from %d to %d\n", section, key, lo, hi);
		return 0;
	}
	fprintf(stderr, "unknown key [%s] %s\n", section, key);
	return 0;
}

static int
conf_load(const char *path)
{
	struct staff_conf *c = &staff_conf;
	int line;

	c->workers = 2;
	c->session_hours = 12;
	c->idle_minutes = 60;
	c->lockout_failures = 5;
	c->lockout_minutes = 15;
	c->address_failures = 20;
	c->address_minutes = 10;
	c->port = 3306;
	c->tls = 1;
	c->connect_timeout = 5;
	c->read_timeout = 30;
	c->write_timeout = 30;
	if ((line = ini_parse(path, conf_key, c)) != 0) {
		fprintf(stderr, "%s: %s%d\n", path, line > 0 ? "refused at line " : "cannot read it ",
		    line);
		return -1;
	}
	if (c->user == NULL || c->password_file == NULL || c->database == NULL ||
	    (c->host == NULL && c->db_socket == NULL)) {
		fprintf(stderr, "%s: [county] needs user, password_file, database, and host or "
				"socket\n", path);
		return -1;
	}
	if ((c->province_user == NULL) != (c->province_password_file == NULL)) {
		fprintf(stderr, "%s: [county] province_user and province_password_file go "
				"together\n", path);
		return -1;
	}
	/* the same rule as hall-agent's (lib/core/insecure.c): no clear text off the machine */
	if (!c->tls && !insecure_is_local(c->host)) {
		if (!c->allow_insecure) {
			fprintf(stderr, "%s: [county] tls = 0 would send the console's database "
					"password and citizens' data to %s unencrypted: set tls = 1 "
					"(and tls_ca), or allow_insecure = 1 in [county] to accept it\n",
			    path, c->host);
			return -1;
		}
		log_warnx("WARNING: the link to the county database at %s is NOT encrypted "
			  "([county] tls = 0, allow_insecure = 1)", c->host);
	}
	return 0;
}

/* ---- requests ----------------------------------------------------------------------- */

static void
handle(FCGX_Request *fr)
{
	struct staff_req s;
	const struct staff_route *rt;
	int i;

	memset(&s, 0, sizeof(s));
	req_init(&s.r, fr);
	/* forms carry answers and guides: Chinese text is 9 bytes a character percent-encoded */
	s.r.max_body = 96 * 1024;
	s.now = time(NULL);
	i = route_find(routes, NROUTES, sizeof(routes[0]), &s.r);
	rt = i >= 0 ? &routes[i] : NULL;
	if (rt != NULL && rt->fn == spage_css) {
		spage_css(&s);
		goto done;
	}
	if (db_ready() == -1 || auth_session(&s) == -1) {
		spage_unavailable(&s);
		goto done;
	}
	/* a signed-in page has a form at least (sign-out): its token */
	if (s.signed_in)
		auth_form_token(&s);
	if (rt == NULL) {
		route_refuse(&s.r, i);
		goto done;
	}
	if (rt->role != NULL && !s.signed_in) {
		spage_redirect(&s, "/login");
		goto done;
	}
	if (strcmp(s.r.method, "POST") == 0 && req_parse_body(&s.r) == -1)
		goto done;
	if (rt->csrf && !auth_csrf_ok(&s)) {
		audit_refused(&s, "csrf");
		spage_message(&s, 403, "操作未执行", "页面已过期或来源不明，请刷新后重试。");
		goto done;
	}
	if (rt->role != NULL && !auth_role_at_least(&s.u, rt->role)) {
		audit_refused(&s, "role");
		spage_message(&s, 403, "无权操作",
		    rt->refusal != NULL ? rt->refusal : "您的账户无权进行此操作。");
		goto done;
	}
	rt->fn(&s);
done:
	db_idle();
	req_free(&s.r);
}

static int
worker_init(void)
{
	/* the county may be down now: the worker starts anyway and answers 503 until it is up */
	db_ready();
	return 0;
}

static const char help[] =
    "usage: staff-console -c STAFF_INI [run]\n"
    "       staff-console -c STAFF_INI add-user USER COUNTY_CODE ROLE PASSWORD_FILE\n"
    "\n"
    "The county staff console, a FastCGI program behind nginx ([console] socket).\n"
    "\n"
    "  run              serve (the default)\n"
    "  add-user         create an account or reset its password (and end its sessions);\n"
    "                   ROLE: staff, supervisor or admin of a county; province, with the\n"
    "                   province's code as COUNTY_CODE, for the province's calendar staff\n"
    "  --help, --version\n";

static void
usage(void)
{
	cli_usage(help, 2);
}

int
main(int argc, char *argv[])
{
	static const struct server_ops ops = {worker_init, handle, db_close};
	const char *config = NULL;
	int ch, rc;

	cli_standard(argc, argv, "staff-console", help);
	log_init("staff-console");
	umask(077);	/* stores, secrets and their folders: the owner's alone */
	while ((ch = getopt(argc, argv, "c:")) != -1) {
		if (ch != 'c')
			usage();
		config = optarg;
	}
	argc -= optind;
	argv += optind;
	if (config == NULL)
		usage();
	if (sodium_init() < 0)
		fatalx("libsodium cannot start");
	if (conf_load(config) == -1)
		return 1;
	if (argc == 5 && strcmp(argv[0], "add-user") == 0) {
		rc = auth_add_user(argv[1], argv[2], argv[3], argv[4]) == 0 ? 0 : 1;
		db_close();
		return rc;
	}
	if (argc > 1 || (argc == 1 && strcmp(argv[0], "run") != 0))
		usage();
	if (staff_conf.socket == NULL || staff_conf.secret_file == NULL)
		fatalx("%s: [console] socket and secret_file are required", config);
	if (csrf_load_secret(staff_conf.secret_file, 1) == -1)
		fatalx("%s: cannot read or create the form-token key", staff_conf.secret_file);
	if (auth_init() == -1)
		fatalx("cannot make the sign-in's stand-in password hash");
	req_set_error_page(spage_error);
	if (FCGX_Init() != 0)
		fatalx("FCGX_Init failed");
	server_socket_group(staff_conf.socket_group);
	rc = server_run(staff_conf.socket, staff_conf.workers, 1, &ops);
	return rc == 0 ? 0 : 1;
}
