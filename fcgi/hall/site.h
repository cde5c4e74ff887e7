/*
 * The citizen site (SPEC 4): hall-read answers pages, lookups and guides from a read-only
 * store; hall-write takes submissions and ratings. Both share the URL table, the pages and
 * the JSON they render. Prototypes are grouped under the file that defines them.
 */
#ifndef HALL_SITE_H
#define HALL_SITE_H

#include "store.h"
#include "web.h"

/* ---- fcgi/hall/routes.c ------------------------------------------------------------- */
enum route_id {
	R_HOME, R_CONSULT, R_COMPLAINT, R_PROGRESS, R_RATE_FORM, R_GUIDES, R_GUIDE,
	R_API_HEALTH, R_API_HALL, R_API_CONSULT, R_API_COMPLAIN, R_API_CASE, R_API_RATE,
	R_API_GUIDES, R_API_GUIDE, R_RESEND_FORM, R_API_RESEND,
	R_WINDOW, R_WINDOW_LOGIN, R_WINDOW_LOGOUT, R_WINDOW_NEW, R_WINDOW_RECEIPT,
	R_APPTS, R_APPT_LOOKUP, R_APPT_CANCEL_FORM, R_API_APPT_SLOTS, R_API_APPTS, R_API_APPT,
	R_API_APPT_CANCEL, R_APPT_RESEND_FORM, R_API_APPT_RESEND, R_WINDOW_APPTS,
	R_WINDOW_APPT_NEW, R_WINDOW_APPT_MARK, R_WINDOW_APPT_RECEIPT,
	R__MAX
};
typedef void (*handler_fn)(struct req *);
/* Finds the route and calls the program's handler; answers 404 and 405 itself. */
void site_dispatch(struct req *, const handler_fn handlers[R__MAX]);

/* What makes a program of the site: hall-read or hall-write. */
struct site_program {
	const char *name;
	int readonly;		/* 1: hall-read, on [server] read_socket with a read-only store */
	int (*worker_init)(void);	/* NULL: site_open_store */
	int (*start)(void);	/* before the workers fork, after the config (may be NULL) */
	handler_fn handlers[R__MAX];	/* NULL for the routes of the other program */
};

/* The process's shared state, set up by each program's main before the workers fork. */
struct site {
	struct hall_config cfg;
	struct limits *limits;
	int readonly;
};
extern struct site site;
/* The store, opened in each worker (each thread of a threaded one) by site_open_store. */
extern _Thread_local struct store *site_store;

/* ---- fcgi/hall/site.c --------------------------------------------------------------- */
/*
 * The program's main: parses -c CONFIG, loads it, opens the limits file, sets the error
 * page (exits on any error), then serves its socket until SIGTERM.
 */
int site_main(int argc, char *argv[], const struct site_program *);
/* Opens and closes the store of this worker (thread): server_ops init and fini. */
int site_open_store(void);
void site_close_store(void);
/* Sends an HTML page; with the CSRF cookie when new. */
void send_page(struct req *, int status, struct buf *page);
/* 429 for the API (JSON) or a page, with Retry-After. */
void send_too_many(struct req *, int retry_after, const char *message);
/* 503: the store failed. */
void send_unavailable(struct req *);
/* A fresh CSRF token for this client's cookie (made and sent when it has none). */
void form_token(struct req *, char token[CSRF_TOKEN_LEN]);
struct form_state;
struct case_view;
/* A form page again (page), with the input of r and message beside field; headers: extra
 * header lines or NULL. */
void form_again(struct req *, int status, void (*page)(struct buf *, const struct form_state *),
    const char *field, const char *message, const char *headers);
/* The progress page: the lookup form, and the case with its rating form when v is set. */
void send_progress(struct req *, int status, struct form_state *, const struct case_view *v);
enum open_rc { OPEN_OK, OPEN_BAD_NUMBER, OPEN_NOT_FOUND, OPEN_ANSWERED };
/*
 * Opens a case for a citizen who gives its number and query code: checks the number's
 * form and check character, the lockout, and the code (in constant time). A wrong code
 * and an unknown case are both OPEN_NOT_FOUND, and both count towards the lockout. A
 * locked case (429) and a store that fails (503) are answered here: OPEN_ANSWERED.
 */
enum open_rc case_open(struct req *, const char *case_no_in, const char *code,
    struct case_view *);

/*
 * The preamble of the JSON lookups (GET /api/v1/cases/{no}?code=, .../appointments/{no}
 * ?code=): parses the query, takes the address's lookup budget, checks the code's form.
 * Returns the code, or NULL when the request is answered already (400, 429, 422).
 */
const char *api_lookup_code(struct req *);

/* ---- fcgi/hall/hall_write.c (hall-write's main) ------------------------------------ */
/* Runs w in the process's next group commit (lib/store/commit_group.c). */
void write_commit(struct store_write *w);

/* ---- fcgi/hall/code_resend.c (hall-write) ----------------------------------------- */
/* What a kind of record (case, appointment) a new query code is for differs in. */
struct resend_kind {
	int appointment;		/* the store's flag (struct code_resend) */
	struct field_spec field;	/* the number's form field, also its JSON key */
	const char *log_noun;		/* "case", "appointment" */
	void (*form_page)(struct buf *, const struct form_state *);	/* the form again */
	void (*done_page)(struct buf *, const char *no, const char *sent_to);
	/* the words: a bad check character, unknown, locked after wrong codes */
	const char *bad_number, *not_found, *locked;
	/* formats: no_mobile and day_limit take the hall's phone clause (%s), closed the
	 * days (%d) and then that clause (%s) */
	const char *no_mobile, *closed, *day_limit;
};
/* The one flow of SPEC 5.6 (form and API) for kind k: see the file. */
void code_resend(struct req *, const struct resend_kind *k);

/* ---- fcgi/hall/resend.c (hall-write) ---------------------------------------------- */
/* POST /progress/resend and /api/v1/cases/{case_no}/resend-code: a new query code by SMS. */
void h_resend(struct req *);

/* ---- fcgi/hall/render.c ------------------------------------------------------------- */
int render_receipt_json(struct buf *, const char *kind, const struct receipt *);
int render_case_json(struct buf *, const struct case_view *, time_t now);
int render_guide_json(struct buf *, const struct guide *, int full);

/* ---- fcgi/hall/pages.c -------------------------------------------------------------- */
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
/* The form that asks for a new query code (SPEC 5.6), and what it answers. */
void page_resend(struct buf *, const struct form_state *);
void page_resent(struct buf *, const char *case_no, const char *sent_to);

/* ---- fcgi/hall/hall_write.c -------------------------------------------------------- */
/* hall-write's group commit (lib/store/commit_group.c): w is durable, or failed, on return. */
void site_commit(struct store_write *w);

/* ---- fcgi/hall/window.c ------------------------------------------------------------ */
/* The hall's window (SPEC 4.4), served by hall-write: see the file. */
#define WINDOW_SESSION_HOURS 12		/* a session ends this long after sign-in */
#define WINDOW_IDLE_MINUTES 60		/* ... or after this long without a request */
#define WINDOW_LOCKOUT_FAILURES 5	/* wrong passwords in a row that lock an account */
#define WINDOW_LOCKOUT_MINUTES 15
#define WINDOW_ADDRESS_FAILURES 20	/* refused sign-ins from one address that stop it */
#define WINDOW_ADDRESS_MINUTES 10	/* ... within (and for) this long */
#define WINDOW_RECENT 50		/* cases on the list */
#define WINDOW_REPRINT_MINUTES 60	/* how long its registrar may print a receipt again */
/* The request as the window's handlers see it (window.c, window_appt.c). */
struct wreq {
	struct req *r;
	time_t now;
	int signed_in;
	char name[WINDOW_NAME_SIZE];
	char token_hash[65];		/* the session's (signed in) */
	char bind[CSRF_COOKIE_LEN + 1];	/* what its form tokens are bound to */
	char csrf[CSRF_TOKEN_LEN];	/* a fresh form token for its pages */
	char new_token[SIGNIN_TOKEN_LEN + 1];	/* set: send this session cookie */
	int clear;			/* 1: send a cookie that removes the session */
};
/*
 * What every window page but the sign-in does first: the session, else the way to the
 * sign-in; for a POST its body and this session's form token. 0: go on; -1: answered;
 * 1: a POST whose form token is stale or not this session's.
 */
int wreq_start(struct wreq *, struct req *);
/* Sends page (and frees it) with the session's cookie lines and the more headers. */
void wsend(struct wreq *, int status, struct buf *page, const char *more);
/* 303 to location. */
void wredirect(struct wreq *, const char *location);
/* A page with a title and a sentence. */
void wmessage(struct wreq *, int status, const char *title, const char *message);
/* Before the workers fork: the sign-in's stand-in hash. */
int window_start(void);
void window_home(struct req *);
void window_login(struct req *);
void window_logout(struct req *);
void window_new(struct req *);
void window_receipt(struct req *);
/* 1 when account me may print c's receipt again at now: its registrar, soon after. */
int window_may_reprint(const struct window_case *c, const char *me, time_t now);

/* ---- fcgi/hall/retry.c -------------------------------------------------------------- */
/* The key the request gives: the API's Idempotency-Key header or the form's field "key". */
const char *retry_key_given(struct req *);
/*
 * The retry key's hash over parts (the caller puts the key among them): 1 with out (64
 * hex), 0 when key is unset or empty, -1 when it is malformed (8 to 128 characters of
 * UTF-8).
 */
int retry_key_hash(const char *key, const char *const *parts, size_t n, char out[65]);

/* ---- fcgi/hall/form.c --------------------------------------------------------------- */
/* The typed value of a field of the form shown again, "" when none. */
const char *form_value(const struct form_state *, const char *name);
/* A form posting to action, with the CSRF token and the retry key of st. */
void form_open(struct buf *, const struct form_state *, const char *action);
/* A field's label, with * when required, its hint, and the error when it names the field. */
void form_label(struct buf *, const struct form_state *, const char *name, const char *label,
    int required, const char *hint);
/* The submit button; an error no field of the page has shown stands right above it. */
void form_close(struct buf *, const struct form_state *, const char *button);
void form_input(struct buf *, const struct form_state *, const char *name, const char *label,
    const char *type, int required, int maxlen, const char *hint);
void form_textarea(struct buf *, const struct form_state *, const char *name,
    const char *label, int maxlen);
/* A select of codes in their Chinese words; blank: the text of an empty first choice (the
 * field is then optional), NULL for a required one. */
void form_select(struct buf *, const struct form_state *, const char *name, const char *label,
    const char *const *codes, const char *blank, const char *hint);
/* Case numbers in groups of four, to be read out and copied. */
void caseno_grouped(struct buf *, const char *case_no);

/* ---- fcgi/hall/window_pages.c ------------------------------------------------------ */
/* What every window page shows in its bar: the account (NULL: none) and its form token. */
struct window_view {
	const char *name;
	const char *csrf;
};
/* A window page's head and bar (body_class NULL: none), and its end. */
void wpage_begin(struct buf *, const struct window_view *, const char *title,
    const char *body_class);
void wpage_end(struct buf *);
void wpage_login(struct buf *, const char *csrf, const char *user, const char *error);
void wpage_list(struct buf *, const struct window_view *, struct store *, time_t now);
void wpage_form(struct buf *, const struct window_view *, const struct form_state *);
/* roll: laid out for an 80 mm receipt printer, else an A5 sheet */
void wpage_receipt(struct buf *, const struct window_view *, const struct window_case *,
    const char *query_code, int roll);
void wpage_message(struct buf *, const struct window_view *, const char *title,
    const char *message);

/* ---- fcgi/hall/appointments.c (hall-read; the shared part for both) --------------- */
/* 已预约, 已确认, 未同意, 已取消, 已办理, 未到 */
const char *appt_status_text(const char *status);
/* As case_open, for an appointment: the same 404 for an unknown number and a wrong code,
 * both counted towards the number's lockout. */
enum open_rc appt_open(struct req *, const char *no_in, const char *code, struct appt_view *);
/* The materials of a guide (what to bring), the caller frees; NULL when none. */
char *appt_materials(const char *guide_id);
/* The booking form of one slot (def: its start and end), with st's input and error. */
void appt_show_form(struct req *, int status, struct form_state *st,
    const struct appt_sched *a, const char *date, const struct slot_def *def);
void appt_slots_api(struct req *);	/* GET /api/v1/appointments/slots */
void appt_get_api(struct req *);	/* GET /api/v1/appointments/{no}?code= */
void appt_lookup_page(struct req *);	/* GET POST /appointments/lookup */
void appt_page(struct req *);		/* GET /appointments */
void appt_resend_form(struct req *);	/* GET /appointments/resend */

/* ---- fcgi/hall/appt_write.c (hall-write) ------------------------------------------ */
void appt_book(struct req *);		/* POST /appointments, /api/v1/appointments */
void appt_cancel(struct req *);		/* POST /appointments/cancel, .../{no}/cancel */

/* ---- fcgi/hall/appt_resend.c (hall-write) ----------------------------------------- */
/* POST /appointments/resend, /api/v1/appointments/{no}/resend-code: a new code by SMS. */
void appt_resend(struct req *);

/* ---- fcgi/hall/appt_pages.c ------------------------------------------------------- */
/* The slot a booking form is for. */
struct appt_choice {
	const char *item, *item_name, *date, *start, *end, *place;
};
/* message: an error above the list (NULL: none) */
void apage_items(struct buf *, struct store *, const char *message);
void apage_days(struct buf *, const struct appt_sched *, const struct slots_in *,
    struct store *);
void apage_slots(struct buf *, const struct appt_sched *, const struct slots_in *,
    const struct ymd *d, struct store *);
void apage_form(struct buf *, const struct form_state *, const struct appt_choice *);
void apage_receipt(struct buf *, const struct appt_booking *, const char *materials);
/* The lookup form; with v, the appointment and (when it can be) its cancel form. */
void apage_lookup(struct buf *, const struct form_state *, const struct appt_view *v,
    const char *materials);
void apage_cancelled(struct buf *, const char *appointment_no);
/* The form that asks for a new query code (SPEC 5.6), and what it answers. */
void apage_resend(struct buf *, const struct form_state *);
void apage_resent(struct buf *, const char *appointment_no, const char *sent_to);

/* ---- fcgi/hall/appt_pick.c (both: the citizen's pages and the window's) ------------ */
/* "2026年12月8日（周二）" */
void appt_day_text(struct buf *, const struct ymd *);
/* A link's query value: ids, dates and times, %-escaped all the same. */
void appt_url_value(struct buf *, const char *);
void appt_hidden(struct buf *, const char *name, const char *value);
/* The places left in a slot of day d (0 when full or the count fails). */
long appt_left(struct store *, const char *item, const struct ymd *d,
    const struct slot_def *def);
/*
 * The lists of choosing a slot, without their page: base is the address their links go to
 * ("/appointments", "/window/appointments/new"), with ?item=, &date=, &start= added.
 * none: what the item list says when there is no item.
 */
void appt_pick_items(struct buf *, struct store *, const char *base, const char *none);
void appt_pick_days(struct buf *, const char *base, const struct appt_sched *,
    const struct slots_in *, struct store *);
void appt_pick_slots(struct buf *, const char *base, const struct appt_sched *,
    const struct slots_in *, const struct ymd *d, struct store *);
/* "2026年12月8日（周二） 09:00-09:30" */
void appt_when(struct buf *, const char *date, const char *start, const char *end);
/* The booking form's parts: what was chosen, its hidden fields, the link back. */
void appt_choice_head(struct buf *, const struct appt_choice *);
void appt_choice_hidden(struct buf *, const struct appt_choice *);
void appt_choice_back(struct buf *, const char *base, const struct appt_choice *);

/* ---- fcgi/hall/window_appt.c (hall-write) ------------------------------------------- */
/* Appointments at the window (SPEC 4.4, 4.5): see the file. */
void window_appts(struct req *);	/* GET /window/appointments?date= */
void window_appt_new(struct req *);	/* GET POST /window/appointments/new */
void window_appt_mark(struct req *);	/* POST /window/appointments/mark */
void window_appt_receipt(struct req *);	/* GET /window/appointments/receipt/{no} */

/* ---- fcgi/hall/window_appt_pages.c ------------------------------------------------- */
/* The hall's appointments of day, with the marks when day is today (or earlier). */
void wapage_day(struct buf *, const struct window_view *, struct store *, const struct ymd *day,
    const struct ymd *today, const char *message);
void wapage_items(struct buf *, const struct window_view *, struct store *, const char *message);
void wapage_days(struct buf *, const struct window_view *, const struct appt_sched *,
    const struct slots_in *, struct store *);
void wapage_slots(struct buf *, const struct window_view *, const struct appt_sched *,
    const struct slots_in *, const struct ymd *d, struct store *);
void wapage_form(struct buf *, const struct window_view *, const struct form_state *,
    const struct appt_choice *);
/* roll: laid out for an 80 mm receipt printer, else an A5 sheet */
void wapage_receipt(struct buf *, const struct window_view *, const struct appt_view *,
    const char *materials, int roll);

#endif
