/*
 * The hall's FastCGI programs: a shared pre-forked accept loop, request parsing, field
 * validation and rendering. hall-read answers pages and lookups from a read-only store;
 * hall-write takes submissions and ratings. Prototypes are grouped by defining file.
 */
#ifndef HALL_WEB_H
#define HALL_WEB_H

#include <fcgiapp.h>

#include "hall.h"

#define REQ_MAX_BODY 16384	/* SPEC 4.3: larger bodies get 413 */
#define PAGE_MAX (256 * 1024)	/* a hard cap on any response we build */

/* The process's shared state, set up by each program's main before the workers fork. */
struct web {
	struct hall_config cfg;
	struct limits *limits;
	int readonly;
};
extern struct web web;
/* The store, opened in each worker (each thread of a threaded one) by server_open_store. */
extern _Thread_local struct store *web_store;

/* ---- fcgi/server.c ------------------------------------------------------------------ */
/*
 * Binds the unix socket (mode 0660), forks `workers` single-threaded workers that each call
 * worker_init once and then handle() per request, and restarts any that die. Returns when
 * SIGTERM or SIGINT arrives, after the workers have finished their current request.
 */
int server_run(const char *socket_path, int workers, int (*worker_init)(void),
    void (*handle)(FCGX_Request *));
/* The same with `threads` threads per worker, each calling worker_init and handle(). */
int server_run_threaded(const char *socket_path, int workers, int threads,
    int (*worker_init)(void), void (*handle)(FCGX_Request *));
/* Parses -c CONFIG, loads it, opens the limits file; exits on error. */
void server_setup(int argc, char *argv[], const char *progname, int readonly);
/* Opens the store for this worker; for server_run's worker_init. */
int server_open_store(void);

/* ---- fcgi/request.c ----------------------------------------------------------------- */
struct req {
	FCGX_Request *fr;
	const char *method, *path, *query, *ctype, *remote, *cookie_hdr;
	int is_api, is_head, https;
	char *body;		/* owned; NUL-terminated */
	size_t body_len;
	char cookie[CSRF_COOKIE_LEN + 1];	/* the CSRF cookie, from the request or new */
	int cookie_is_new;
	struct kvlist in;	/* parsed body or query */
	const char *arg;	/* the route's '*' segment (points into the copy below) */
	char argbuf[128];
};
/* Fills r from the FastCGI parameters; does not read the body. */
void req_init(struct req *, FCGX_Request *);
void req_free(struct req *);
/* Reads the body (at most REQ_MAX_BODY); on failure it has answered the client. */
int req_read_body(struct req *);
/*
 * Reads and parses the body as JSON (API) or a form (pages) after checking its type;
 * answers the client and returns -1 on any failure (400, 413, 415, 422).
 */
int req_parse_body(struct req *);
/* Parses the query string into r->in; answers 400 on failure. */
int req_parse_query(struct req *);
/* Ensures r->cookie holds a CSRF cookie (a new one is sent with the response). */
void req_csrf_cookie(struct req *);
/* Sends a complete response; the body is the buffer's text. */
void req_send(struct req *, int status, const char *ctype, const struct buf *body,
    const char *extra_headers);
void req_json(struct req *, int status, const struct buf *body);
/* The JSON error of SPEC 4.3. field may be NULL. */
void req_error(struct req *, int status, const char *code, const char *message,
    const char *field);
const char *http_reason(int status);

/* ---- fcgi/route.c ------------------------------------------------------------------- */
enum route_id {
	R_HOME, R_CONSULT, R_COMPLAINT, R_PROGRESS, R_RATE_FORM, R_GUIDES, R_GUIDE,
	R_API_HEALTH, R_API_HALL, R_API_CONSULT, R_API_COMPLAIN, R_API_CASE, R_API_RATE,
	R_API_GUIDES, R_API_GUIDE,
	R__MAX
};
typedef void (*handler_fn)(struct req *);
/* 1 when path matches pattern ('*' is one non-empty segment, copied to r->argbuf). */
int route_match(const char *pattern, const char *path, struct req *r);
/* Finds the route and calls the program's handler; answers 404 and 405 itself. */
void route_dispatch(struct req *, const handler_fn handlers[R__MAX]);
/* One request, start to end: 405 unless takes() accepts it, else route_dispatch. */
void route_serve(FCGX_Request *, const handler_fn handlers[R__MAX],
    int (*takes)(const struct req *));

/* ---- fcgi/validate.c ---------------------------------------------------------------- */
/* A field of a submission: its name, whether it is required, and its check. */
struct field_spec {
	const char *name;
	int required;
	/* Returns NULL when the value is good, else the message to show beside the field. */
	const char *(*check)(const char *value, const struct field_spec *);
	size_t max_chars;
	const char *const *choices;	/* for check_choice */
	const char *label;		/* what the page calls it */
};
const char *check_text(const char *, const struct field_spec *);	/* one line */
const char *check_multiline(const char *, const struct field_spec *);
const char *check_choice(const char *, const struct field_spec *);
const char *check_phone(const char *, const struct field_spec *);
const char *check_email(const char *, const struct field_spec *);
const char *check_code(const char *, const struct field_spec *);
const char *check_level(const char *, const struct field_spec *);
/*
 * Checks every field of in against specs (ignoring the names in `extra`, such as "csrf");
 * on the first failure sets *field and *message and returns -1. Unknown fields fail too.
 */
int fields_check(const struct kvlist *in, const struct field_spec *specs, size_t nspecs,
    const char *const *extra, const char **field, const char **message);
/* The value of a field after fields_check: NULL when absent or blank. */
const char *field_value(const struct kvlist *, const char *name);
/* Normalizes a checked phone number in place (spaces and +86 removed). */
void phone_normalize(char *);
/* 138****5678, 0731-****4567 */
void phone_mask(char out[32], const char *phone);

/* ---- fcgi/render.c ------------------------------------------------------------------ */
/* The Chinese words for a status, kind or category code (the code itself if unknown). */
const char *code_text(const char *code);
const char *status_text(const char *status);
const char *kind_text(const char *kind);
const char *category_text(const char *category);
const char *level_text(int level);
int render_receipt_json(struct buf *, const char *kind, const struct receipt *);
int render_case_json(struct buf *, const struct case_view *, time_t now);
int render_guide_json(struct buf *, const struct guide *, int full);

/* ---- fcgi/pages.c ------------------------------------------------------------------- */
/* What a form page shows: the citizen's input and at most one error, beside its field. */
struct form_state {
	const struct kvlist *in;	/* NULL: an empty form */
	const char *err_field, *err_message;
	const char *csrf_token;
	const char *form_key;	/* makes a resubmitted form return the first receipt */
};
void page_begin(struct buf *, const char *title);
void page_end(struct buf *);
void page_home(struct buf *, const struct hall_config *);
void page_consult(struct buf *, const struct form_state *);
void page_complaint(struct buf *, const struct form_state *);
void page_receipt(struct buf *, const char *kind, const struct receipt *);
void page_progress(struct buf *, const struct form_state *, const struct case_view *,
    time_t now);
void page_rated(struct buf *, const char *case_no, int level);
void page_guides(struct buf *, struct store *, const char *q);
void page_guide(struct buf *, const struct guide *);
void page_message(struct buf *, const char *title, const char *message);

/* ---- fcgi/handlers_common.c ---------------------------------------------------------- */
/* Sends an HTML page (or its error version); with the CSRF cookie when new. */
void send_page(struct req *, int status, struct buf *page);
/* 429 for the API (JSON) or a page, with Retry-After. */
void send_too_many(struct req *, int retry_after, const char *message);
/* 503: the store failed. */
void send_unavailable(struct req *);
/* A fresh CSRF token for this client's cookie (made and sent when it has none). */
void form_token(struct req *, char token[CSRF_TOKEN_LEN]);
/* The progress page: the lookup form, and the case with its rating form when v is set. */
void send_progress(struct req *, int status, struct form_state *, const struct case_view *v);
enum open_rc { OPEN_OK, OPEN_BAD_NUMBER, OPEN_NOT_FOUND, OPEN_LOCKED, OPEN_ERROR };
/*
 * Opens a case for a citizen who gives its number and query code: checks the number's
 * form and check character, the lockout, and the code (in constant time). A wrong code
 * and an unknown case are both OPEN_NOT_FOUND, and both count towards the lockout.
 */
enum open_rc case_open(const char *case_no_in, const char *code, struct case_view *,
    int *retry_after);

#endif
