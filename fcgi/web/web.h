/*
 * The FastCGI layer every program shares (the citizen site, the staff console, the reference
 * receiver): the pre-forked accept loop, the request reader, the route matcher, field
 * validation and the responses. It knows nothing of any one site: a program that shows
 * errors as pages of its own hands the layer a hook (req_set_error_page).
 * Prototypes are grouped under the file that defines them.
 */
#ifndef HALL_WEB_H
#define HALL_WEB_H

#include <fcgiapp.h>

#include "core.h"

#define REQ_MAX_BODY 16384	/* SPEC 4.3: larger bodies get 413 (a program may allow more) */
#define PAGE_MAX (256 * 1024)	/* a hard cap on any response we build */

/* ---- fcgi/web/server.c -------------------------------------------------------------- */
/* What a program runs in each worker (in each thread of a threaded one). */
struct server_ops {
	int (*init)(void);	/* before the first request; -1 stops the worker (may be NULL) */
	void (*handle)(FCGX_Request *);
	void (*fini)(void);	/* after the last request (may be NULL) */
};
/*
 * Binds the unix socket (mode 0660, whatever the umask: it is shared with nginx), forks `workers` workers of `threads` threads each
 * (threads share each commit's fsync in hall-write; every other program has 1), restarts
 * any that die. Returns when SIGTERM or SIGINT arrives, after the workers have finished
 * their current request.
 */
int server_run(const char *socket_path, int workers, int threads, const struct server_ops *);
/*
 * The group the socket is given (nginx's, e.g. www-data), so that the program itself can
 * run in a group of its own and keep its store from nginx; the process must be a member.
 * NULL (the default): the group it is created with. Call before server_run.
 */
void server_socket_group(const char *group);

/* ---- fcgi/web/cookie.c -------------------------------------------------------------- */
/*
 * The value of cookie `name` in a Cookie header (NULL: none) into out[len + 1] when it is
 * exactly len characters of base64url; 1 when found, 0 when absent or malformed. The first
 * pair of the name decides.
 */
int cookie_get(const char *hdr, const char *name, size_t len, char *out);

/* ---- fcgi/web/request.c ------------------------------------------------------------- */
struct req {
	FCGX_Request *fr;
	const char *method, *path, *query, *ctype, *remote, *cookie_hdr;
	int is_api, is_head, https;
	size_t max_body;	/* REQ_MAX_BODY unless the program says otherwise */
	const char *const *json_bools;	/* API members that may be true or false (NULL: none) */
	char *body;		/* owned; NUL-terminated */
	size_t body_len;
	char cookie[CSRF_COOKIE_LEN + 1];	/* the CSRF cookie, from the request or new */
	int cookie_is_new;
	struct kvlist in;	/* parsed body or query */
	const char *arg;	/* the route's '*' segment (points into the copy below) */
	char argbuf[128];
	char pathbuf[128];	/* the path without its trailing slash */
	char allow[64];		/* after route_find: the methods the path takes */
};
/*
 * How a program shows an error to a person (a request that is not for the API): the status,
 * a Chinese sentence and extra header lines (Retry-After, Allow) to send with it. Set once,
 * before serving; without one, errors are a plain page of the message.
 */
typedef void (*req_page_fn)(struct req *, int status, const char *message,
    const char *extra_headers);
void req_set_error_page(req_page_fn);
/* Fills r from the FastCGI parameters; does not read the body. */
void req_init(struct req *, FCGX_Request *);
void req_free(struct req *);
/*
 * The value of cookie `name` into out when it is exactly len characters of base64url
 * (what all our cookies are); 1 when found, 0 when absent or malformed.
 */
int req_cookie(const struct req *, const char *name, size_t len, char *out);
/* Reads the body (at most r->max_body); on failure it has answered the client. */
int req_read_body(struct req *);
/*
 * Reads and parses the body as JSON (API) or a form (pages) after checking its type;
 * answers the client and returns -1 on any failure (400, 413, 415, 422, 503).
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
/* An HTML page; a page that failed (over its cap, out of memory) becomes a short 503. */
void req_page(struct req *, int status, struct buf *page, const char *extra_headers);
/*
 * An error: the JSON of SPEC 4.3 for the API, the program's error page otherwise. field
 * and extra_headers may be NULL.
 */
void req_error(struct req *, int status, const char *code, const char *message,
    const char *field);
void req_error_h(struct req *, int status, const char *code, const char *message,
    const char *field, const char *extra_headers);
/* {"error":{"code","message"[,"field"]}}: the one writer of the error envelope. */
int json_error(struct buf *, const char *code, const char *message, const char *field);
const char *http_reason(int status);

/* ---- fcgi/web/route.c --------------------------------------------------------------- */
/* The first columns of every program's route table. */
struct route {
	const char *methods;	/* "GET POST": HEAD goes with GET */
	const char *pattern;	/* '*' matches one non-empty path segment */
};
/* 1 when path matches pattern ('*' is one non-empty segment, copied to r->argbuf). */
int route_match(const char *pattern, const char *path, struct req *r);
#define ROUTE_NOT_FOUND (-1)	/* no route has this path */
#define ROUTE_NO_METHOD (-2)	/* routes have the path, not the method: r->allow says which */
/*
 * Finds the request's route in a table of n rows, stride bytes apart, each starting with a
 * struct route; sets r->arg. A trailing slash is the same path. The row's index, or one of
 * the two codes above.
 */
int route_find(const void *table, size_t n, size_t stride, struct req *r);
/* Answers ROUTE_NOT_FOUND with 404 and ROUTE_NO_METHOD with 405 and its Allow header. */
void route_refuse(struct req *, int rc);

/* ---- fcgi/web/validate.c ------------------------------------------------------------ */
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

/* ---- fcgi/web/signin.c -------------------------------------------------------------- */
/* What every sign-in shares (the county console, the hall's window): see the file. */
#define SIGNIN_NAME_MAX 32		/* account names: 1 to 32 of A-Z a-z 0-9 _ . - */
#define SIGNIN_PASSWORD_MIN 8
#define SIGNIN_PASSWORD_MAX 128		/* bytes; longer ones are refused unhashed */
#define SIGNIN_HASH_LEN 128		/* crypto_pwhash_STRBYTES */
#define SIGNIN_TOKEN_LEN 43		/* a session token: 32 random bytes in base64url */
int signin_name_ok(const char *);
/* NULL when pw may be a password (8 to 128 bytes of UTF-8), else why not (English). */
const char *signin_password_problem(const char *pw);
/* pw's Argon2id hash string; -1 (logged) when out of memory. */
int signin_hash(char out[SIGNIN_HASH_LEN], const char *pw);
/* Before the workers fork: the stand-in hash of signin_verify. 0 or -1. */
int signin_init(void);
/*
 * 1 when pw matches hash. hash NULL (no such account) or a pw over the limit is verified
 * against the stand-in hash instead, so a refusal takes as long as any other; always 0 then.
 */
int signin_verify(const char *hash, const char *pw);
/* 1 when hash was made at other limits than today's (rehash it while the password is here). */
int signin_needs_rehash(const char *hash);
void signin_token_new(char out[SIGNIN_TOKEN_LEN + 1]);
/* The token's SHA-256 in hex: all a server keeps of a session token. */
void signin_token_hash(char out[65], const char *token);
/* What a session's form tokens are bound to: 128 bits of a keyed hash of the token (purpose
 * names the program), never the token itself. */
void signin_token_bind(char out[CSRF_COOKIE_LEN + 1], const char *token, const char *purpose);
/* Appends the session cookie's Set-Cookie line (HttpOnly, SameSite=Strict, Secure over
 * https); token NULL or "": a line that removes it. */
int signin_cookie(struct buf *, const char *name, const char *path, const char *token,
    int max_age, int https);

#endif
