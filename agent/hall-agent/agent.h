/*
 * hall-agent: the hall's sync agent, the outbox to the county and the province and the
 * county's downlink back.
 * Prototypes are grouped under the file that defines them.
 */
#ifndef HALL_AGENT_H
#define HALL_AGENT_H

#include <pthread.h>
#include <signal.h>

#include "county.h"
#include "store.h"

#define AGENT_VERSION HALL_VERSION

/* ---- agent/hall-agent/sink.c -------------------------------------------------------- */
struct push_stats {
	long long records, bytes;	/* bytes: what went on the wire (compressed for HTTP) */
	long long raw_bytes;		/* the records' JSON */
};
/*
 * A destination as the engine (hall_agent.c) drives it: a table of operations, in the manner
 * of fluent-bit's output plugins, so that the engine loops over sink_table and never asks a
 * destination its name to decide what to call. Each sink_*.c defines one.
 */
struct sink_ops {
	const char *name;	/* its outbox destination, and its name in logs and status */
	/* 1 when the node's INI configures it */
	int (*configured)(const struct hall_config *);
	/* What status shows beside the name, e.g. "(hall@db.county:3306/county)" */
	void (*where)(const struct hall_config *, char *out, size_t outlen);
	/*
	 * The sink's state, allocated (the caller owns it, and frees it with close), or NULL
	 * having logged why. s is the store connection of the destination's thread; stop is
	 * set when the agent stops, and a pass in progress then returns soon.
	 */
	void *(*open)(const struct hall_config *, struct store *s,
	    const volatile sig_atomic_t *stop);
	const char *open_hint;	/* logged when open fails; NULL: open says why itself */
	/*
	 * Delivers everything due (and brings back what the destination holds for the hall):
	 * 0, or -1 with err set and, when the destination asked for a wait, *retry_after
	 * (seconds; the engine sets it to -1 before the pass).
	 */
	int (*pass)(void *, struct store *, struct push_stats *, long *retry_after, char *err,
	    size_t errlen);
	/* From another thread: wakes a pass blocked on its link, for a stop. NULL: the pass
	 * watches stop by itself. */
	void (*cancel)(void *);
	void (*close)(void *);	/* accepts NULL */
};
#define SINKS 2
/* Every destination, in the order they start and status shows them. */
extern const struct sink_ops *const sink_table[SINKS];
/*
 * Records set aside one after another, with nothing delivered between, say more about the
 * destination (a bad migration, a changed hall code, a wrong token) than about the records:
 * past this many a sink sets no more aside and reports a link error until a person looks.
 * A sink keeps the run it is in (outbox_set_aside_run at open, then these two).
 */
#define SET_ASIDE_RUN_MAX 3
/* 1 (with err set) when setting n more aside after a run of `run` would pass the limit. */
int sink_set_aside_stop(unsigned run, unsigned n, const char *why, char *err, size_t errlen);
/*
 * The run after a batch whose results set records aside (a record delivered ends a run),
 * in *next; the caller keeps it once outbox_ack has recorded the batch (a batch whose ack
 * fails goes again, and must not count its refusals twice). -1 (err set) when it would
 * pass the limit: the caller does not acknowledge the batch, which goes again later until
 * the destination takes a record.
 */
int sink_results_set_aside(unsigned run, const struct outbox_batch *, unsigned *next,
    char *err, size_t errlen);

/* ---- agent/hall-agent/sink_county.c ------------------------------------------------- */
struct county_sink {
	const struct hall_config *cfg;
	MYSQL *db;		/* NULL while disconnected */
	MYSQL_STMT *upload;
	int zipped;		/* upload is hall_upload_z: the batch goes compressed (county 007) */
	char *password;		/* owned, wiped on close */
	char store_id[40];
	char where[160];	/* host:port/db, for status and logs */
	size_t records, bytes;	/* the batch limits: records narrows after a refusal */
	unsigned refusals;	/* times running a one-record batch was refused */
	unsigned conflicts;	/* Galera certification conflicts (1213) in a row */
	unsigned set_aside;	/* records quarantined in a row, with nothing delivered between */
	long quarantine_told;	/* what the county last heard of (halls.quarantined); -1: nothing */
	long long uncertain_seq;	/* last seq of a batch whose COMMIT had no answer */
	long long clock_noted;	/* monotonic s when the county's clock was last noted; 0: not yet */
	long long health_sent;	/* monotonic s of the last heartbeat (heartbeat.c); 0: not yet */
	int health_none;	/* the county has no hall_health (before 020): hall_hello only */
	long schema;		/* county_schema() at the last greeting */
	pthread_mutex_t lock;	/* guards db against the cancel from another thread */
	/* kept from batch to batch, so that the sink's memory is set by its first full batch,
	 * not by the backlog nor by when the other sink's batches happen to come (SPEC 9) */
	struct outbox_batch batch;
	struct batch_out *out;	/* the compressor and the piece being filled */
	/* the next batch, sent on a second connection to the same server while the county
	 * works on this one (sink_county.c, "two batches on the way"): its records are on
	 * their way, its CALL is not; the two lanes trade places when this batch is done */
	MYSQL *ahead_db;
	MYSQL_STMT *ahead_upload;
	struct outbox_batch ahead_batch;
	struct batch_out *ahead_out;
	int ahead_streamed;	/* ahead_batch sent, waiting for its CALL */
	int ahead_refused;	/* no second connection this pass: batches go one by one */
	int exec_wait;		/* the CALL's mysql_stmt_execute_start/_cont status; 0: done */
	int exec_ret;		/* its result once done */
	unsigned fault_every, batches;
	unsigned fault_cuts;	/* test hook: connections still to lose before the prepare */
	const volatile sig_atomic_t *stop;	/* set: the pass ends after the current call */
};
/* The county: a pass sends the outbox until drained, then pulls the downlink until empty. */
extern const struct sink_ops sink_county_ops;
void sink_county_disconnect(struct county_sink *);

/* Monotonic seconds: when the county's clock was noted, the heartbeat sent. */
long long mono_s(void);

/* ---- agent/hall-agent/heartbeat.c --------------------------------------------------- */
/* CALL hall_health(...) (county 020) on a connection's first pass, then every 30 s. */
void heartbeat_county(struct county_sink *, struct store *);

/* ---- agent/hall-agent/sink_province.c ----------------------------------------------- */
/* The province platform (HTTP): a pass sends the outbox until drained. */
extern const struct sink_ops sink_province_ops;

/* ---- agent/hall-agent/province_answer.c --------------------------------------------- */
/*
 * The answer to POST /v1/records (a 200 of Content-Type ctype): marks each record of b
 * accepted, duplicate or rejected (with the platform's reason); 0 when it answers every id
 * of b, -1 with err set when not (then it is no answer at all, and nothing is acknowledged).
 */
int province_answer_results(struct outbox_batch *b, const char *ctype, const char *body,
    size_t len, char *err, size_t errlen);
/*
 * The answer to POST /v1/reconcile: marks each record the platform holds duplicate (as we
 * sent it) or conflict (other content). 1 when it holds all of b, 0 when not, -1 (err set)
 * when the body is not the platform's answer.
 */
int province_answer_held(struct outbox_batch *b, const char *body, size_t len, char *err,
    size_t errlen);
/* The platform's reason for refusing a request (a JSON {"error":{"message"}}), cleaned of
 * control bytes into out; "" when the body says none. */
void province_answer_error(const char *ctype, const char *body, size_t len, char *out,
    size_t outlen);

/* ---- agent/hall-agent/downlink_county.c --------------------------------------------- */
/* Pulls, applies and acknowledges what the county holds for this hall: the number of rows
 * applied (0: nothing new), or -1 with err set; *more is 1 when a query reached its LIMIT
 * (rows may be left: pull again). */
int downlink_county_pull(struct county_sink *, struct store *, int *more, char *err,
    size_t errlen);
/* A county DATETIME (Asia/Shanghai) as Unix time; `unknown` for NULL or another form. */
time_t downlink_county_time(const char *s, time_t unknown);

/* ---- agent/hall-agent/restore_county.c --------------------------------------------- */
/* After hall-admin restore: the open cases the backup lacks, the county's events since it
 * queued again, the numbering past the county's. 1 done now, 0 nothing pending, -1 (err). */
int restore_county_pull(struct county_sink *, struct store *, char *err, size_t errlen);

/* ---- agent/hall-agent/status.c ------------------------------------------------------ */
/* status's exit codes (the file's head says what unhealthy means). */
enum status_code { STATUS_HEALTHY = 0, STATUS_UNHEALTHY = 1, STATUS_UNREADABLE = 2 };
/* hall-agent status [--json] [--watch]: the exit code, or -1 for a bad command line. */
int status_main(const struct hall_config *, int argc, char *argv[]);
/* Prints each destination's state, then the verdict; on a terminal with a backlog, a live
 * progress bar. Returns the exit code. */
int status_print(struct store *, const struct hall_config *, int watch);
/* One destination's verdict at now (why: the reason, "" when healthy). */
int status_health(const struct outbox_status *, time_t now, int max_age, char *why,
    size_t whylen);
/* {"error": why, ...} on stdout and why on stderr; returns STATUS_UNREADABLE. */
int status_json_error(const char *why);
/* status with an INI that does not load: STATUS_UNREADABLE, said in JSON with --json. */
int status_no_config(const char *path, int argc, char *argv[]);

#endif
