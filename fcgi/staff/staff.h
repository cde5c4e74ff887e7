/*
 * staff-console: the county staff's FastCGI program (SPEC 7), on the shared accept loop of
 * fcgi/web/server.c, against the county MariaDB. Each worker holds one Connector/C connection;
 * every statement is prepared with bound parameters. Prototypes are grouped by defining
 * file.
 */
#ifndef HALL_STAFF_H
#define HALL_STAFF_H

#include "county.h"
#include "web.h"

#define STAFF_SESSION_COOKIE "staff_session"
#define STAFF_TOKEN_LEN 43		/* 32 random bytes in base64url */
#define STAFF_PAGE_SIZE 30		/* inbox rows per page */
#define STAFF_NOTE_MAX 2000		/* characters of an answer, reason or note */

/* Case states in SQL, over `cases c` (SPEC 3): closed cases are never late. */
#define CLOSED "('answered','resolved','rejected')"
#define OVERDUE_SQL "(c.status NOT IN " CLOSED " AND c.due_at < NOW())"
/* less than one working day left, as calendar_warning has it: the due day is today */
#define WARNING_SQL \
	"(c.status NOT IN " CLOSED " AND c.due_at >= NOW() AND DATE(c.due_at) = CURDATE())"
/*
 * Which counties see a case of `cases c` (issue 6, 省内通办): the one handling it now
 * (cases.handler_county, moved by the transfer triggers of sql/county/006), which acts on
 * it, and, read only, any that handled it before and transferred it on. Two parameters:
 * the county, twice.
 */
#define SEEN_SQL \
	"(c.handler_county = ? OR EXISTS (SELECT 1 FROM case_transfers t " \
	"WHERE t.case_no = c.case_no AND t.from_county = ?))"

/* The console's INI (fcgi/staff/main.c and README.md describe every line). */
struct staff_conf {
	/* [console] */
	char *socket, *secret_file;
	char *socket_group;	/* the socket's group (nginx's); NULL: the process's */
	int workers;
	int session_hours;	/* a session ends this long after login */
	int idle_minutes;	/* ... or after this long without a request */
	int lockout_failures;	/* wrong passwords in a row that lock an account */
	int lockout_minutes;
	int address_failures;	/* refused sign-ins from one address that stop it (0: no limit) */
	int address_minutes;	/* ... within this many minutes */
	/* [county] */
	char *host, *db_socket, *user, *password_file, *database, *tls_ca;
	int port, connect_timeout, read_timeout, write_timeout;
	/* the province's calendar account (role province_calendar); unset: no publishing */
	char *province_user, *province_password_file;
	int tls;		/* 1 (the default): TLS required, the server verified against tls_ca */
	int allow_insecure;	/* 1: tls = 0 towards another machine is accepted (and logged) */
};
extern struct staff_conf staff_conf;

/* The signed-in account. */
struct staff_user {
	long long id;
	char username[33];
	char display[101];
	char county[7];
	char role[17];
	char bind[CSRF_COOKIE_LEN + 1];	/* what this session's form tokens are bound to */
};

/* One request as the staff handlers see it. */
struct staff_req {
	struct req r;
	struct staff_user u;
	int signed_in;
	char csrf[CSRF_TOKEN_LEN];	/* a fresh form token for this session (or visitor) */
	char new_session[STAFF_TOKEN_LEN + 1];	/* set: send this session cookie */
	int clear_session;		/* 1: send a cookie that removes the session */
	time_t now;
};

/* ---- fcgi/staff/db.c ---------------------------------------------------------------- */
/* Connects when not connected (the worker's one connection); -1 when the county is down. */
/* The county connection's options from [county], for this account. */
void db_conn_opts(struct county_conn_opts *, const char *user, const char *password);
int db_ready(void);
void db_close(void);
/* Runs a SELECT; at most max_rows rows are kept. 0, or -1 (logged once). */
int db_select(const char *sql, const struct dbparam *, size_t nparams, struct dbrows *,
    size_t max_rows);
/* The server's error number of the last db_select that failed (0: none). */
unsigned int db_select_error(void);
/* Runs a write; the number of rows it changed, or -1. *insert_id may be NULL. */
long long db_exec(const char *sql, const struct dbparam *, size_t nparams,
    unsigned long long *insert_id);
/* Explicit transactions (the connection autocommits otherwise). */
int db_begin(void);
int db_commit(void);
void db_rollback(void);
/*
 * After a transaction failed and was rolled back (db_rollback): 1 when it failed because it
 * lost a conflict (1213: a deadlock, or a Galera certification conflict found at commit,
 * which rolled it back whole) and may run again from its db_begin, at most a few times
 * (*tries counts them, 0 at first); 0 otherwise. A transaction that may have committed (a lost answer) is
 * never run again.
 */
int db_conflict_again(unsigned *tries);
/* The open connection (NULL when there is none), for lib/county inside a transaction. */
MYSQL *db_handle(void);
/* After every request: no transaction outlives the request that opened it. */
void db_idle(void);

/* ---- fcgi/staff/auth.c -------------------------------------------------------------- */
/* Before the workers fork: the hash an unknown user's password is checked against. */
int auth_init(void);
/* Finds the session of the request's cookie; fills s->u and s->signed_in. -1: db failed. */
int auth_session(struct staff_req *);
/* Sets s->csrf: a form token bound to the session, or to the visitor's CSRF cookie. */
void auth_form_token(struct staff_req *);
/* 1 when the form's csrf field is good for this session (or visitor, for the login). */
int auth_csrf_ok(struct staff_req *);
void auth_login_page(struct staff_req *);
void auth_login(struct staff_req *);
void auth_logout(struct staff_req *);
/* Creates or updates an account (staff-console ... add-user); 0 or -1, said on stderr. */
int auth_add_user(const char *username, const char *county, const char *role,
    const char *password_file);
/* The province's staff, who alone publish calendars; beside the county's ladder. */
#define STAFF_ROLE_PROVINCE "province"
/* 1 when the signed-in account's role is at least `role` (staff < supervisor < admin);
 * STAFF_ROLE_PROVINCE is reached by itself alone, and reaches "staff" only. */
int auth_role_at_least(const struct staff_user *, const char *role);

/* ---- fcgi/staff/accounts.c ---------------------------------------------------------- */
void accounts_page(struct staff_req *);
void account_create(struct staff_req *);
void account_change(struct staff_req *);

/* ---- fcgi/staff/inbox.c ------------------------------------------------------------- */
void inbox_page(struct staff_req *);
void inbox_csv(struct staff_req *);

/* ---- fcgi/staff/case_page.c --------------------------------------------------------- */
void case_page(struct staff_req *);
/*
 * The page of case_no (checked to be one the county sees), with a message: a notice after
 * an action (done), or an error beside the form of err_action ("followup": the follow-up's
 * form), or above them all when err_action is NULL.
 */
void case_render(struct staff_req *, int status, const char *case_no, const char *done,
    const char *err_action, const char *err);
/* The case number of the URL, or NULL when it cannot be one (then: case_not_found). */
const char *case_url_no(const struct staff_req *);
/* 404: another county's case and a case that does not exist look the same. */
void case_not_found(struct staff_req *);

/* ---- fcgi/staff/case_action.c ------------------------------------------------------- */
/* An action on a case: what it records, what its form says, when it may be taken. */
struct case_act {
	const char *name, *status, *title, *button;
	int note;		/* 0: optional, 1: required */
	const char *note_label;
	const char *const *from;	/* the statuses it may follow */
	const char *done;	/* what the page says after it */
};
/* Every action, in the order of the case page's forms; a row of NULLs ends them. */
extern const struct case_act case_acts[];
const struct case_act *case_act_find(const char *name);
/* 1 when the action may follow a case in this status. */
int case_act_may(const struct case_act *, const char *status);
void case_action(struct staff_req *);

/* ---- fcgi/staff/followup.c ---------------------------------------------------------- */
void followups_page(struct staff_req *);
void followup_close(struct staff_req *);
void followup_settings(struct staff_req *);

/* ---- fcgi/staff/dash.c -------------------------------------------------------------- */
void dash_page(struct staff_req *);
void dash_csv(struct staff_req *);

/* ---- fcgi/staff/metrics.c ---------------------------------------------------------- */
/* GET /metrics: Prometheus text, to loopback only (no session). */
void metrics_page(struct staff_req *);

/* ---- fcgi/staff/notices.c ----------------------------------------------------------- */
/* The dashboard's notice health per channel and the cases per channel; -1: db failed. */
int notices_section(struct buf *, struct staff_req *);

/* ---- fcgi/staff/appointments.c ----------------------------------------------------- */
void appointments_page(struct staff_req *);
void appointment_action(struct staff_req *);
void conflicts_page(struct staff_req *);
/* The dashboard's appointments per hall (bookings, no-shows, refusals); -1: db failed. */
int appointments_section(struct buf *, struct staff_req *);
/* 1 when s is "YYYY-MM-DD"; 1 when s is a 12-digit hall code. */
int appt_date_ok(const char *s);
int appt_hall_ok(const char *s);

/* ---- fcgi/staff/schedules.c --------------------------------------------------------- */
void schedule_page(struct staff_req *);
void schedule_save(struct staff_req *);

/* ---- fcgi/staff/publish.c ----------------------------------------------------------- */
void guides_page(struct staff_req *);
void guide_page(struct staff_req *);
void guide_save(struct staff_req *);
void calendars_page(struct staff_req *);
void calendar_page(struct staff_req *);
void calendar_save(struct staff_req *);

/* ---- fcgi/staff/audit.c ------------------------------------------------------------- */
/*
 * One row of audit_log (sql/county/013) in the caller's transaction, if one is open:
 * county may be NULL (a sign-in under a name that is no account), case_no and detail
 * may be NULL. 0, or -1 (logged): then the caller must not do or show what it records.
 */
int audit_insert(const char *county, const char *account, const char *address,
    const char *action, const char *case_no, const char *detail);
/* A row for the signed-in account of the request, from the request's address. */
int audit_record(const struct staff_req *, const char *action, const char *case_no,
    const char *detail);
/* A sign-in's row: the account it named (NULL or "": none) and that account's county. */
int audit_signin(const struct staff_req *, const char *account, const char *county,
    const char *action, const char *detail);
/*
 * db_exec of one write and, when it changed a row, its audit row, in one transaction of
 * their own: the rows changed, or -1 when either failed (then neither is kept).
 */
long long audit_exec(const struct staff_req *, const char *action, const char *case_no,
    const char *detail, const char *sql, const struct dbparam *, size_t nparams);
/* A request refused before its handler (why: "csrf", "role"): its method, path and case. */
void audit_refused(const struct staff_req *, const char *why);
/* The 503 of a case page or an action whose audit row could not be written. */
void audit_unavailable(struct staff_req *);
/* /audit: the county's rows for its admins, by account and dates, newest first. */
void audit_page(struct staff_req *);

/* ---- fcgi/staff/pages.c ------------------------------------------------------------- */
#define SH(b, s) buf_html((b), (s) == NULL ? "" : (s))
/* Starts a page: initializes the buffer (capped at PAGE_MAX) and writes the page's head. */
void spage_begin(struct buf *, const struct staff_req *, const char *title);
/* Ends the page, sends it (spage_send) and frees the buffer. */
void spage_finish(struct staff_req *, int status, struct buf *, const char *extra_headers);
/* A page of one message (errors, refusals). */
void spage_message(struct staff_req *, int status, const char *title, const char *message);
/* The 503 page of a county database that did not answer. */
void spage_unavailable(struct staff_req *);
/* The error-page hook of the web layer (req_set_error_page): spage_message's page. */
void spage_error(struct req *, int status, const char *message, const char *extra_headers);
/* Sends the page with the session cookie headers the request needs (req_page: a page that
 * failed, over its cap or out of memory, becomes a short 503). */
void spage_send(struct staff_req *, int status, struct buf *, const char *extra_headers);
/* 303 to a path of ours. */
void spage_redirect(struct staff_req *, const char *location);
/* The hidden csrf field of every form. */
void spage_csrf_field(struct buf *, const struct staff_req *);
void spage_css(struct staff_req *);
/* A unix time as "2026-09-22 23:59" (Asia/Shanghai); "" for 0. */
void spage_time(char out[32], time_t);
/* Case numbers in groups of four, as on the citizen's receipt. */
void spage_caseno(struct buf *, const char *case_no);
/* The status tag of an open case: overdue or warning. */
void spage_due_tag(struct buf *, int overdue, int warning);
/* 工作人员, 督查员, 管理员 */
const char *spage_role_text(const char *role);
/* What the page says after a change (done) and what went wrong (err); either may be NULL. */
void spage_notices(struct buf *, const char *done, const char *err);
/* A column of a table: its heading and the class of its cells ("num", "hide-s") or NULL. */
struct scol {
	const char *title;
	const char *class;
};
#define NCOLS(cols) (sizeof(cols) / sizeof((cols)[0]))
/*
 * A table, in a box that scrolls sideways on a phone: its heading row (attrs: our own
 * markup such as id="halls", or NULL), then the rows the caller writes, then the end,
 * which says `empty` across the table when it has no rows (empty may be NULL).
 */
void spage_table(struct buf *, const char *attrs, const struct scol *, size_t ncols);
void spage_table_end(struct buf *, size_t ncols, size_t nrows, const char *empty);
/* A cell of text (class may be NULL). */
void spage_td(struct buf *, const char *class, const char *text);
/* A link to path + arg saying text, or, when text is NULL, arg as a case number. */
void spage_link(struct buf *, const char *path, const char *arg, const char *text);
/* The value of a field, or "" (kept input for redisplayed forms). */
const char *spage_in(const struct staff_req *, const char *name);
/* CSV cell (RFC 4180), with a leading ' before = + - @ so spreadsheets do not run it. */
void csv_cell(struct buf *, const char *, int last);
/* Sends the CSV in b as NAME-COUNTY.csv, or a 503 saying too_big when it outgrew its cap. */
void csv_send(struct staff_req *, struct buf *, const char *name, const char *too_big);
/* A CSV streamed in chunks: the headers (no Content-Length), then each chunk of b as it is
 * made (b emptied); csv_chunk is -1 once the client has gone. */
void csv_begin(struct staff_req *, const char *name);
int csv_chunk(struct staff_req *, struct buf *);

#endif
