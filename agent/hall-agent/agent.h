/*
 * hall-agent: the hall's sync agent, the outbox to the county and the province and the
 * county's downlink back.
 * Prototypes are grouped under the file that defines them.
 */
#ifndef HALL_AGENT_H
#define HALL_AGENT_H

#include <pthread.h>
#include <signal.h>

#include <curl/curl.h>
#include "county.h"
#include "store.h"

#define AGENT_VERSION "0.3.0"

/* ---- agent/hall-agent/sink_county.c ------------------------------------------------------------ */
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
	long long uncertain_seq;	/* last seq of a batch whose COMMIT had no answer */
	pthread_mutex_t lock;	/* guards db against sink_county_cancel from another thread */
	unsigned fault_every, batches;
};
struct push_stats {
	long long records, bytes;	/* bytes: what went on the wire (compressed for HTTP) */
	long long raw_bytes;		/* the records' JSON */
};
int sink_county_open(struct county_sink *, const struct hall_config *, struct store *);
int sink_county_connect(struct county_sink *, struct store *, char *err, size_t errlen);
void sink_county_disconnect(struct county_sink *);
void sink_county_close(struct county_sink *);
/* From another thread: makes a call blocked on the county return at once (for a stop). */
void sink_county_cancel(struct county_sink *);
/* Sends the next batch: 1 when one was delivered, 0 when nothing was due, -1 on error. */
int sink_county_push(struct county_sink *, struct store *, struct push_stats *, char *err,
    size_t errlen);

/* ---- agent/hall-agent/sink_province.c ---------------------------------------------------------- */
struct province_sink {
	const struct hall_config *cfg;
	CURL *curl;		/* one handle: its connection is reused between batches */
	char *token;		/* owned, wiped on close */
	char auth[320];		/* the Authorization header */
	size_t records, bytes;
	int64_t uncertain_seq;	/* a batch that may have arrived: reconcile before resending */
	const volatile sig_atomic_t *stop;	/* set: the transfer in progress is abandoned */
};
/* -1 when the province is not configured ([province] url) or its token cannot be read. */
int sink_province_open(struct province_sink *, const struct hall_config *);
void sink_province_close(struct province_sink *);
/* Sends the next batch: 1 delivered, 0 nothing due, -1 failed (with *retry_after >= 0
 * when the platform asked for a wait). */
int sink_province_push(struct province_sink *, struct store *, struct push_stats *,
    long *retry_after, char *err, size_t errlen);

/* ---- agent/hall-agent/downlink_county.c -------------------------------------------------------- */
/* Pulls, applies and acknowledges what the county holds for this hall: the number of rows
 * applied (0: nothing new), or -1 with err set. */
int downlink_county_pull(struct county_sink *, struct store *, char *err, size_t errlen);

/* ---- agent/hall-agent/status.c ----------------------------------------------------------------- */
/* Prints each destination's state; on a terminal with a backlog, a live progress bar. */
int status_print(struct store *, const struct hall_config *, int watch);

#endif
