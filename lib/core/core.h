/*
 * The cores every program shares: logging, bounded buffers, the input parsers, case numbers,
 * times, the working-day calendar, the node's INI, the record JSON, CSRF tokens, rate limits
 * and backoff. Nothing here opens a store or a connection.
 * Prototypes are grouped under the file that defines them.
 */
#ifndef HALL_CORE_H
#define HALL_CORE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define HALL_TZ_OFFSET (8 * 3600) /* Asia/Shanghai, no daylight saving */
/* ---- lib/core/log.c ----------------------------------------------------------------- */
/*
 * log_init also looks whether stderr is the journal's stream (JOURNAL_STREAM, systemd.exec(5)):
 * then every line starts with its sd-daemon(3) priority, <6> info, <4> warning, <2> fatal.
 */
void log_init(const char *progname);
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2))); /* appends errno */
void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* A message into the caller's error buffer, for it to log or show (err may be NULL). */
void errf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---- lib/core/umask.c --------------------------------------------------------------- */
/* Keeps the caller's umask for the owner and the group and takes everything from others. */
void umask_group(void);

/* Type=notify's READY=1 / STOPPING=1 on $NOTIFY_SOCKET, without libsystemd (notify.c) */
int notify_systemd(const char *state);

/* ---- lib/core/buf.c ----------------------------------------------------------------- */
/*
 * A growable byte buffer with a hard cap, in the shape of curl's dynbuf: an append that
 * would pass the cap or cannot allocate frees the buffer and fails, so a caller can append
 * many times and check once. The text is always NUL-terminated.
 */
struct buf {
	char *data;
	size_t len;
	size_t cap;	/* allocated */
	size_t max;	/* hard cap on len */
	int failed;
};
void buf_init(struct buf *, size_t max);
void buf_free(struct buf *);
void buf_reset(struct buf *);
int buf_add(struct buf *, const void *, size_t);
int buf_adds(struct buf *, const char *);
int buf_addc(struct buf *, char);
int buf_printf(struct buf *, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *, const char *fmt, va_list);
/* Hands the text to the caller (who frees it); the buffer is left empty. */
char *buf_take(struct buf *, size_t *len);
/* JSON string literal, quotes included; text must be valid UTF-8. */
int buf_json_str(struct buf *, const char *);
/* ,"name":"value" (or null when value is NULL): one member of an object being written. */
int buf_json_member(struct buf *, const char *name, const char *value);
/* ,"name":"<RFC 3339 +08:00>" (or null when t is 0). */
int buf_json_time(struct buf *, const char *name, time_t t);
/* The next non-empty line of *cursor, copied (the caller frees it); NULL at the end. */
char *text_next_line(const char **cursor);
/* HTML text or attribute value, escaped: the one way user text reaches a page. */
int buf_html(struct buf *, const char *);

/* ---- lib/core/utf8.c ---------------------------------------------------------------- */
/* 1 when s[0..len) is valid UTF-8 (no overlongs, surrogates or > U+10FFFF) and has no NUL. */
int utf8_valid(const char *s, size_t len);
/* Code points in a valid UTF-8 string. */
size_t utf8_len(const char *s);

/* ---- lib/core/text.c ---------------------------------------------------------------- */
/*
 * Text a server wrote (an error message, a content type, a refusal's reason), made fit for
 * a log line, the store and a terminal: valid UTF-8 on one line with no control characters.
 * Runs of line breaks and tabs become one space; other C0 and C1 controls, DEL and the
 * bidirectional overrides are dropped; a byte that is not UTF-8 becomes '?'; the text is
 * cut at a character boundary to fit out[outsize], which always ends with a NUL (outsize
 * > 0). out may be in itself (the text only shrinks); no other overlap. Returns the length
 * written.
 */
size_t text_clean(char *out, size_t outsize, const char *in, size_t inlen);
/* text_clean of a NUL-terminated string (NULL: ""); returns out, for a printf argument. */
const char *text_cleans(char *out, size_t outsize, const char *s);

/* ---- lib/core/kv.c ------------------------------------------------------------------ */
/* Untrusted input parsed into name/value pairs of valid UTF-8 text with no NULs. */
enum parse_err {
	PARSE_OK = 0,
	PARSE_NOMEM,
	PARSE_MALFORMED,	/* syntax: not JSON, not an object, a stray '=' */
	PARSE_BAD_ENCODING,	/* bad percent-encoding */
	PARSE_INVALID_UTF8,
	PARSE_NUL,		/* an embedded NUL byte */
	PARSE_DUPLICATE,	/* the same field twice */
	PARSE_TOO_MANY,		/* more than KV_MAX_PAIRS fields */
	PARSE_TOO_LONG,		/* a name or value over its cap */
	PARSE_BAD_TYPE,		/* a JSON value that is not a string, integer or null */
};
#define KV_MAX_PAIRS 32
#define KV_MAX_NAME 64
#define KV_MAX_VALUE 16384
struct kv {
	char *name;
	char *value;	/* for a JSON integer, its decimal text */
	int is_int;	/* value came as a JSON integer */
	int is_bool;	/* value came as a JSON true or false: "true" or "false" */
};
struct kvlist {
	struct kv v[KV_MAX_PAIRS];
	size_t n;
	char *bad_name;	/* the field that failed, when known (owned) */
};
void kv_free(struct kvlist *);
const struct kv *kv_get(const struct kvlist *, const char *name);
const char *parse_strerror(enum parse_err);
/* application/x-www-form-urlencoded (WHATWG URL, "urlencoded parser"); also query strings. */
enum parse_err kv_parse_form(const char *s, size_t len, struct kvlist *out);
/* A JSON object (RFC 8259) of string, integer or null members; nulls are skipped. */
enum parse_err kv_parse_json(const char *s, size_t len, struct kvlist *out);
/* The same, where the members named in bools (NULL-terminated) may also be true or false. */
enum parse_err kv_parse_json_bools(const char *s, size_t len, const char *const *bools,
    struct kvlist *out);

/* ---- lib/core/caseno.c -------------------------------------------------------------- */
/*
 * Case numbers: the 12-digit hall code, a 10-character sequence in the alphabet below
 * (microseconds since 2025-01-01 00:00 UTC, base 31) and one check character.
 * The alphabet has a prime number of symbols so that a weighted check sum modulo 31
 * catches every single substitution and every adjacent transposition.
 */
#define CASENO_ALPHABET "0123456789ABCDEFGHJKLMNPQRTVWXY"
#define CASENO_LEN 23
#define CASENO_EPOCH_US 1735689600000000ULL /* 2025-01-01T00:00:00Z */
int caseno_make(char out[CASENO_LEN + 1], const char *hall_code, uint64_t seq);
/* Uppercases and strips spaces and hyphens from citizen input; -1 when it cannot be one. */
int caseno_normalize(char out[CASENO_LEN + 1], const char *in);
/* 1 when the normalized number's check character is right. */
int caseno_valid(const char *caseno);
/* A record id: "<hall_code>-<type letter><seq in decimal>", e.g. 430102001001-C1234. */
int record_id_make(char *out, size_t outlen, const char *hall_code, char type, uint64_t seq);

/* ---- lib/core/timefmt.c ------------------------------------------------------------- */
/* RFC 3339 with the +08:00 offset: 2026-09-22T23:59:59+08:00 */
#define TIMEFMT_LEN 26
void timefmt_rfc3339(char out[TIMEFMT_LEN], time_t);
/* 2026年9月22日 23:59 for pages */
void timefmt_human(char out[64], time_t);
/* Microseconds since the Unix epoch from the real-time clock. */
uint64_t time_now_us(void);

/* ---- lib/core/calendar.c ------------------------------------------------------------ */
/*
 * The working-day calendar (SPEC section 3). A year has a "table" when the county has
 * published one; days of a year without a table follow Monday to Friday and whatever
 * depends on them is provisional. All dates are civil dates in Asia/Shanghai.
 */
enum cal_kind { CAL_HOLIDAY = 1, CAL_WORKDAY = 2 };
struct calendar;
struct calendar *calendar_new(void);
void calendar_free(struct calendar *);
/* Parses the text format documented in conf/calendar/README.md and merges it. */
int calendar_parse(struct calendar *, const char *text, size_t len, char *err, size_t errlen);
int calendar_add_year(struct calendar *, int year);
int calendar_set_day(struct calendar *, int y, int m, int d, enum cal_kind);
int calendar_has_year(const struct calendar *, int year);
int calendar_is_workday(const struct calendar *, int y, int m, int d);
/*
 * 23:59:59+08:00 of the ndays-th working day after the civil day of `submitted`;
 * *provisional is set to 1 when a day counted lay in a year without a table.
 */
time_t calendar_due(const struct calendar *, time_t submitted, int ndays, int *provisional);
/* 1 when less than one working day is left: `now` is on the due day, not yet past it. */
int calendar_warning(time_t due, time_t now);
/* Iterate over the explicit entries: calls fn for every listed year and every listed day. */
void calendar_foreach(const struct calendar *, void (*year_fn)(int year, void *),
    void (*day_fn)(int y, int m, int d, enum cal_kind, void *), void *arg);

/* ---- lib/core/slots.c -------------------------------------------------------------- */
/*
 * Appointment slots (SPEC 4.5): the dated slots of one item's weekly schedule on the
 * hall's working days, from tomorrow to days_ahead. Pure: nothing here reads a clock.
 */
struct ymd {
	int y, m, d;
};
/* One weekly slot of an item: weekday 1 (Monday) .. 7, "HH:MM" times. */
struct slot_def {
	int weekday;
	char start[6], end[6];
	int capacity;
};
struct slots_in {
	const struct calendar *cal;
	const struct slot_def *defs;	/* one item's, in start order */
	size_t ndefs;
	const char *const *closed;	/* "YYYY-MM-DD": days the hall takes no appointments */
	size_t nclosed;
	struct ymd today;		/* Asia/Shanghai (slots_today) */
	int days_ahead;
};
enum slots_date { SLOTS_DATE_OK, SLOTS_PAST, SLOTS_FAR, SLOTS_NOT_WORKDAY };
/* A strict "YYYY-MM-DD" of a real date in 2000..2099; -1 when not. */
int slots_parse_date(const char *, struct ymd *);
void slots_format_date(char out[11], const struct ymd *);
/* Minutes since midnight of a strict "HH:MM"; -1 when not. */
int slots_parse_time(const char *);
/* The civil date in Asia/Shanghai at now. */
struct ymd slots_today(time_t now);
/* Days from a to b (negative when b is earlier). */
int slots_days_between(const struct ymd *a, const struct ymd *b);
struct ymd slots_add_days(const struct ymd *, int n);
/* 1 (Monday) .. 7 (Sunday). */
int slots_weekday(const struct ymd *);
/* The weekday whose slots day d takes: 0 on a day off (a holiday, a weekend, a closed day);
 * a make-up workday takes its own weekday's when defs name any, else Monday's (1). */
int slots_day_weekday(const struct slots_in *, const struct ymd *d);
/* Whether d may be booked: from tomorrow to days_ahead, a working day, not closed. */
enum slots_date slots_date_check(const struct slots_in *, const struct ymd *d);
/* The slot of day d starting at start, when d may be booked and has one; NULL otherwise. */
const struct slot_def *slots_find(const struct slots_in *, const struct ymd *d,
    const char *start);
/* fn for every dated slot from max(from, tomorrow) to days_ahead, in order; from may be
 * NULL. fn's non-zero stops the walk and is returned; 0 otherwise. */
int slots_generate(const struct slots_in *, const struct ymd *from,
    int (*fn)(const struct ymd *, const struct slot_def *, void *), void *arg);

/* ---- lib/core/config.c -------------------------------------------------------------- */
/* The node's INI file (conf/hall.ini.example documents every line). */
/* The most keys config_keys may hold (hall_config keeps a line number for each). */
#define CONFIG_KEYS 72
struct hall_config {
	/* [hall]: the public contact data of SPEC 4.1 */
	char code[13];
	char *name, *address, *hours, *phone, *email, *letter_address, *county;
	/* [store] */
	char *store_path, *schema_dir, *seed_dir, *calendar_dir;
	/* [server] */
	char *read_socket, *write_socket, *secret_file, *limits_file;
	char *socket_group;	/* the FastCGI sockets' group (nginx's); NULL: the process's */
	int read_workers, write_workers, write_threads;
	/* [limits]: per client address and minute; 0 turns a limit off */
	int submissions_per_min, lookups_per_min, wrong_code_max, lockout_min;
	/* [deadlines]: working days */
	int consultation_days, complaint_days, unresolved_days;
	/* [county]: the county database, for hall-agent */
	char *county_host, *county_socket, *county_user, *county_password_file, *county_database,
	    *county_tls_ca;
	int county_port, county_connect_timeout, county_read_timeout, county_write_timeout;
	int county_tls;		/* 1: require TLS (verified against county_tls_ca) */
	int county_allow_insecure;	/* 1: tls = 0 towards another machine is accepted */
	/* [province]: the province platform, for hall-agent; no url: not configured */
	char *province_url, *province_token_file, *province_ca_file;
	int province_connect_timeout, province_low_speed_bps, province_low_speed_s,
	    province_timeout_s;
	int province_allow_insecure;	/* 1: a plain http:// url to another machine is accepted */
	/* [agent] */
	int agent_poll_ms, agent_batch_records, agent_batch_bytes, agent_backoff_max_s;
	int agent_status_max_age_s;	/* hall-agent status: older than this is unhealthy */
	/* [retention]: days a closed case stays at the hall once minimized (SPEC 11) */
	int retention_days;
	/* [appointments]: the last day slots are offered, counted from today (SPEC 4.5) */
	int appt_days_ahead;
	/* the line of the file each key of config_keys was last set on; 0: its default */
	int line[CONFIG_KEYS];
};

/*
 * Every key of the file, once: its section, name, type and place in hall_config, and what
 * hall-admin check verifies of its value (config_check.c). config_load and config_check
 * both walk this table; nothing else lists the keys.
 */
enum config_type {
	CONFIG_STR,	/* text; "key =" with nothing after it unsets it */
	CONFIG_INT,	/* a whole number in [lo, hi] */
	CONFIG_CODE,	/* the 12-digit division code */
	CONFIG_URL,	/* http:// or https:// and a host */
};
/* Whose key it is: a destination's keys are checked only when it is configured. */
enum config_part {
	CONFIG_NODE,
	CONFIG_COUNTY,		/* configured: [county] user is set */
	CONFIG_PROVINCE,	/* configured: [province] url is set */
};
#define CONFIG_REQUIRED	0x01	/* must be set (a destination's: when it is configured) */
#define CONFIG_SECRET	0x02	/* a secret file: there, readable, not empty, nothing for others */
#define CONFIG_PRIVATE	0x04	/* a secret its owner alone may read (0600), not its group */
#define CONFIG_BY_INIT	0x08	/* a secret hall-admin init makes: its absence is a note */
#define CONFIG_DIR	0x10	/* a folder that must exist */
#define CONFIG_FILE	0x20	/* a file that must exist and be readable (a CA certificate) */
#define CONFIG_PARENT	0x40	/* a file the programs make: its folder must exist */
#define CONFIG_RUNTIME	0x80	/* its folder is made when the unit starts: absent is a note */
struct config_key {
	const char *section, *key;
	enum config_type type;
	size_t off;		/* in struct hall_config */
	int lo, hi;		/* CONFIG_INT */
	enum config_part part;
	unsigned flags;
};
extern const struct config_key config_keys[];
extern const size_t config_nkeys;
/* The index of [section] key in config_keys, or -1. */
int config_key_index(const char *section, const char *key);
/* The line [section] key was set on in the file c was loaded from; 0: not set there. */
int config_line(const struct hall_config *c, const char *section, const char *key);

/*
 * What reading or checking a file finds, each with its line, in a compiler's form:
 * "FILE:LINE: error: [county] port must be a whole number from 1 to 65535". With no fn, a
 * finding is printed so on stderr; a test gives its own.
 */
enum config_level { CONFIG_NOTE, CONFIG_WARNING, CONFIG_ERROR };
struct config_report {
	void (*fn)(void *arg, const char *path, int line, enum config_level, const char *msg);
	void *arg;
	int errors, warnings, notes;	/* counted by config_report */
};
void config_report(struct config_report *, const char *path, int line, enum config_level,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
const char *config_level_name(enum config_level);
/*
 * Reads the file into c (defaults first), reporting every mistake of syntax, key or value,
 * and every missing required key of the node, and going on past each: 0 when the file was
 * read (r->errors says whether it is valid; c is then to be freed either way), -1 when it
 * cannot be read at all (reported; c is empty).
 */
int config_parse(struct hall_config *c, const char *path, struct config_report *r);
/* Loads and checks the file; on error, says why on stderr (with the line) and returns -1. */
int config_load(struct hall_config *, const char *path);
void config_free(struct hall_config *);
/*
 * The command line of the node's tools: "-c CONFIG COMMAND [ARG...]". Returns the config
 * path and leaves argc and argv at COMMAND; calls usage() (which exits) on anything else.
 */
const char *config_cli(int *argc, char ***argv, void (*usage)(void));

/* ---- lib/core/config_check.c -------------------------------------------------------- */
/*
 * hall-admin check: config_parse, then what a node needs beyond valid values: each
 * configured destination's required keys, secret files there, readable, not empty and
 * not open to others, folders that exist, no unencrypted link off the machine. Returns the
 * exit code: CONFIG_CHECK_OK (warnings and notes allowed), _ERRORS, or _UNREADABLE.
 */
#define CONFIG_CHECK_OK 0
#define CONFIG_CHECK_ERRORS 1
#define CONFIG_CHECK_UNREADABLE 2
int config_check(const char *path, struct config_report *r);

/* ---- lib/core/cli.c ----------------------------------------------------------------- */
/* The release every program reports (--version) and the agent tells the county. */
#define HALL_VERSION "0.4.0"
/* help on stdout with exit 0 (code 0), or on stderr with exit code. */
_Noreturn void cli_usage(const char *help, int code);
/* First thing in main: --help or -h prints help, --version "name HALL_VERSION"; both exit 0. */
void cli_standard(int argc, char *argv[], const char *name, const char *help);

/* ---- lib/core/nodes.c --------------------------------------------------------------- */
/* One node of the county database: a host (name, IPv4 or IPv6 without brackets) and port. */
struct county_node {
	char host[256];
	unsigned port;
};
#define COUNTY_NODES_MAX 16
/*
 * [county] host as a comma-separated list of "host", "host:port", "[v6]:port" (a bare
 * IPv6 address takes default_port): the number of nodes, or -1 when an entry is empty or
 * malformed or there are more than max.
 */
int county_nodes_parse(const char *list, unsigned default_port, struct county_node *out,
    size_t max);

/* ---- lib/core/insecure.c ------------------------------------------------------------ */
/* 1 when a connection to host stays on this machine: no host (a unix socket), localhost,
 * 127.0.0.0/8, ::1 (also as [::1]). */
int insecure_is_local(const char *host);
/* The host of a scheme://[user@]host[:port]/... URL into out; -1 when there is none. */
int insecure_url_host(const char *url, char *out, size_t outlen);
/* 1 when the county link (tls = 0) or the province link (not https) leaves this machine
 * unencrypted, whatever allow_insecure says. */
int insecure_county(const struct hall_config *);
int insecure_province(const struct hall_config *);
/* -1, each reason on stderr naming the INI key, when a link is insecure and its section
 * does not say allow_insecure = 1; 0 otherwise. */
int insecure_check(const struct hall_config *, const char *path);
/* 1 with a warning line for status in out when dest ("county", "province") is insecure
 * (allowed or not: status shows why the agent would not start, too). */
int insecure_warning(const struct hall_config *, const char *dest, char *out, size_t outlen);

/* ---- lib/core/record.c -------------------------------------------------------------- */
/* What citizens submit, after validation. NULL for an absent optional field. */
struct case_new {
	const char *kind;	/* consultation, complaint, unresolved */
	const char *category;	/* consultations: policy, procedure, public_info */
	const char *subject, *body, *name, *phone, *email, *item, *target;
	const char *dedup_key;	/* a retried submission with this key gets the first receipt */
	/* SPEC 2: online (NULL), window, phone, letter, email; the hall staff account that
	 * registered a case at the window (NULL online). The record carries registrar only
	 * when set, so an online case's record keeps its bytes. */
	const char *channel, *registrar;
	int notify_off;		/* 1: the citizen wants no progress notices (SPEC 5.6) */
};
/*
 * The JSON of a record exactly as it goes to the county and the province (SPEC 5.3): one
 * object with id, type, hall_code, case_no, at and the record's fields. Built once, when the
 * record is created, and kept in the outbox so every retry sends the same bytes. A case's
 * query_mac (NULL: left out) is what lets the county send it back after a restore.
 */
int record_case_json(struct buf *, const char *id, const char *hall_code, const char *case_no,
    const struct case_new *, time_t submitted_at, time_t due_at, int due_provisional,
    const char *query_mac);
int record_rating_json(struct buf *, const char *id, const char *hall_code, const char *case_no,
    int level, const char *comment, time_t at);
/* A new query code for the county alone, which sends it by SMS (SPEC 5.6). */
int record_code_json(struct buf *, const char *id, const char *hall_code, const char *case_no,
    const char *code, const char *query_mac, time_t at);
/*
 * An appointment as its record carries it (SPEC 4.5; both appointment records are for the
 * county alone). registrar is left out when NULL and notify is written only when off, as
 * for cases.
 */
struct appt_rec {
	const char *appointment_no, *item, *item_name, *date, *start, *end, *place, *name,
	    *phone, *note, *channel, *registrar, *query_mac;
	const char *email;	/* NULL: none, and the record has no "email" */
	int notify_off;
};
int record_appt_json(struct buf *, const char *id, const char *hall_code,
    const struct appt_rec *, time_t at);
/* What became of an appointment at the hall: cancelled, attended, no_show. */
int record_appt_event_json(struct buf *, const char *id, const char *hall_code,
    const char *appointment_no, const char *status, time_t at);
/* The hall's public contact data (GET /api/v1/hall, and the county's halls.contact). */
int hall_contact_json(struct buf *, const struct hall_config *);

/* ---- lib/core/limits.c -------------------------------------------------------------- */
/*
 * Rate limits and the wrong-code lockout, shared by every worker of every hall program
 * through one small memory-mapped file, so a limit holds whichever worker takes a request.
 */
enum limit_table { LIMIT_SUBMIT, LIMIT_LOOKUP, LIMIT_LOCKOUT, LIMIT__MAX };
/*
 * The key a client address (REMOTE_ADDR) is counted under, at the hall and at the staff
 * console alike: an IPv4 address as it is; an IPv6 address by its /64, written
 * "2001:db8:1:2::/64" (one subscriber holds a whole /64, so counting single addresses would
 * give each of them 2^64 budgets); an IPv4-mapped IPv6 address as the IPv4 one. Anything
 * else is kept as it came, cut to fit. The shipped nginx limits group addresses the same way
 * (conf/nginx/limits.conf).
 */
#define LIMITS_ADDR_KEY 64
void limits_address_key(char out[LIMITS_ADDR_KEY], const char *remote);
struct limits;
struct limits *limits_open(const char *path);
void limits_close(struct limits *);
/*
 * Takes one request from key's budget of per_min a minute (a token bucket); 1 when allowed,
 * 0 when not, with *retry_after the seconds until it will be. per_min 0: no limit. In the
 * per-address tables (LIMIT_SUBMIT, LIMIT_LOOKUP) key is the client address, counted under
 * limits_address_key's key.
 */
int limits_take(struct limits *, enum limit_table, const char *key, int per_min,
    int *retry_after);
/* 1 while the case's lookups are locked, with *retry_after the seconds left. */
int limits_locked(struct limits *, const char *case_no, int *retry_after);
/* Counts a wrong query code; the max-th within lockout_min minutes locks the case. max 0: off */
void limits_wrong_code(struct limits *, const char *case_no, int max, int lockout_min);

/* ---- lib/core/csrf.c ---------------------------------------------------------------- */
/*
 * Forms carry a token bound to a random cookie and signed with the node's secret
 * (HMAC-SHA256), valid for CSRF_MAX_AGE; the cookie is HttpOnly and SameSite=Strict.
 */
#define CSRF_COOKIE "hall_csrf"
#define CSRF_COOKIE_LEN 22
#define CSRF_TOKEN_LEN 80
#define CSRF_MAX_AGE (24 * 3600)
/*
 * Reads the 32-byte secret (64 hex digits); creates it when create is set, mode 0640 less
 * the umask: 0600 in the demo (umask 077), 0640 under the units (UMask=0007), where
 * hall-read reads the key hall-write's hall-admin init made, through group hall.
 */
int csrf_load_secret(const char *path, int create);
void csrf_new_cookie(char out[CSRF_COOKIE_LEN + 1]);
int csrf_token(char out[CSRF_TOKEN_LEN], const char *cookie, time_t now);
/* 1 when token was made for this cookie by this node, and is fresh. */
int csrf_check(const char *token, const char *cookie, time_t now);

/* ---- lib/core/words.c --------------------------------------------------------------- */
/* The Chinese words for a status, kind or category code (the code itself if unknown). */
const char *code_text(const char *code);
const char *status_text(const char *status);
const char *kind_text(const char *kind);
const char *category_text(const char *category);
/* 网上, 现场, 电话, 信函, 电子邮件; NULL is online */
const char *channel_text(const char *channel);
/* 5 非常满意 ... 1 非常不满意; "" outside 1..5 */
const char *level_text(int level);
/* 138****5678, 0731-****4567: what the progress page shows, and all a hall keeps of a
 * closed case's phone (lib/store/retention.c); a masked phone masks to itself. */
void phone_mask(char out[32], const char *phone);

/* ---- lib/core/backoff.c ------------------------------------------------------------- */
/* Exponential backoff with full jitter: a random wait in [0, min(cap, base * 2^n)]. */
struct backoff {
	unsigned attempt;
	unsigned base_ms, cap_ms;
};
unsigned backoff_next_ms(struct backoff *);
void backoff_reset(struct backoff *);

/* ---- lib/core/secret.c -------------------------------------------------------------- */
/* Reads a secret from a file: the first line, without its newline. Caller frees. */
char *secret_read(const char *path);

#endif
