/*
 * The county uplink: outbox batches written with one CALL hall_upload(...), which commits
 * the batch and the hall's high-water mark together before it answers.
 *
 * Exactly once, by construction: the county's ledger makes every write idempotent by
 * record id, so the agent may send a batch again whenever it does not know the outcome
 * (a timeout, a reset, a connection lost before the answer); the hall's mark only moves
 * after the county answered. A resent batch comes back as duplicates and the mark
 * moves then. Per-record results come back in the same round trip: a conflict or a refusal
 * quarantines that record alone.
 *
 * Whatever the server says (its error messages, a procedure's SIGNAL text, a refusal's
 * reason) is its text, not ours: it goes through text_clean before it reaches an error,
 * a log line or the quarantine.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>

#include <zlib.h>
#include <linux/sockios.h>

#include <sodium.h>

#include "agent.h"

static const char upload_sql[] = "CALL hall_upload(?, ?, ?, ?, ?)";
static const char upload_z_sql[] = "CALL hall_upload_z(?, ?, ?, ?, ?, ?)";

#define BATCH_START 250
#define BATCH_MIN 10

static void batch_out_free(struct batch_out *);

long long
mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec;
}

static int
sink_county_open(struct county_sink *k, const struct hall_config *cfg, struct store *s)
{
	const char *fault = getenv("HALL_AGENT_FAULT_COMMIT_LOST_EVERY");
	const char *cut = getenv("HALL_AGENT_FAULT_CUT_BEFORE_PREPARE");

	memset(k, 0, sizeof(*k));
	pthread_mutex_init(&k->lock, NULL);
	k->cfg = cfg;
	if (cfg->county_user == NULL || cfg->county_database == NULL) {
		log_warnx("the county is not configured ([county] user and database)");
		return -1;
	}
	if ((k->password = secret_read(cfg->county_password_file)) == NULL)
		return -1;
	if (store_meta(s, "store_id", k->store_id, sizeof(k->store_id)) != 1) {
		log_warnx("the hall store has no store_id: run hall-admin init");
		return -1;
	}
	/* a test hook: every Nth COMMIT is sent and the connection dropped before the answer */
	if (fault != NULL)
		k->fault_every = (unsigned)strtoul(fault, NULL, 10);
	/* another: the first N connections lost between the greeting and the CALL's prepare */
	if (cut != NULL)
		k->fault_cuts = (unsigned)strtoul(cut, NULL, 10);
	/* batches start small and double while they go through (up to [agent] batch_records) */
	k->records = (size_t)cfg->agent_batch_records < BATCH_START ?
	    (size_t)cfg->agent_batch_records : BATCH_START;
	k->bytes = (size_t)cfg->agent_batch_bytes;
	k->zipped = 1;	/* until the county shows it has no hall_upload_z */
	k->set_aside = (unsigned)outbox_set_aside_run(s, "county");
	k->quarantine_told = -1;
	snprintf(k->where, sizeof(k->where), "%s:%d/%s",
	    cfg->county_socket ? cfg->county_socket : (cfg->county_host ? cfg->county_host : "localhost"),
	    cfg->county_port, cfg->county_database);
	return 0;
}

static void ahead_drop(struct county_sink *);

/* Both connections closed; a batch sent ahead is forgotten (never executed). */
void
sink_county_disconnect(struct county_sink *k)
{
	ahead_drop(k);
	pthread_mutex_lock(&k->lock);
	if (k->upload != NULL)
		mysql_stmt_close(k->upload);
	if (k->db != NULL)
		mysql_close(k->db);
	k->upload = NULL;
	k->db = NULL;
	pthread_mutex_unlock(&k->lock);
	k->exec_wait = 0;
}

static void
sink_county_cancel(struct county_sink *k)
{
	pthread_mutex_lock(&k->lock);
	/* the blocked read or write fails at once; the thread then sees it must stop */
	if (k->db != NULL)
		shutdown(mysql_get_socket(k->db), SHUT_RDWR);
	if (k->ahead_db != NULL)
		shutdown(mysql_get_socket(k->ahead_db), SHUT_RDWR);
	pthread_mutex_unlock(&k->lock);
}

static void
sink_county_close(struct county_sink *k)
{
	sink_county_disconnect(k);
	if (k->password != NULL)
		sodium_memzero(k->password, strlen(k->password));
	free(k->password);
	k->password = NULL;
	outbox_batch_free(&k->batch);
	outbox_batch_free(&k->ahead_batch);
	batch_out_free(k->out);
	batch_out_free(k->ahead_out);
	k->out = k->ahead_out = NULL;
	pthread_mutex_destroy(&k->lock);
}

/* err = "what: why", why being the server's text (cleaned). */
static void
set_err(struct county_sink *k, char *err, size_t errlen, const char *what, const char *why)
{
	int n = snprintf(err, errlen, "%s: ", what);

	(void)k;
	if (n >= 0 && (size_t)n < errlen)
		text_cleans(err + n, errlen - (size_t)n, why);
}

/*
 * After a batch without an answer: the county's high-water mark for this store says how it
 * ended. Either way the batch is sent again and comes back as duplicates or is written now;
 * the mark only tells the log which it was.
 */
static void
read_back_mark(struct county_sink *k)
{
	MYSQL_STMT *st = mysql_stmt_init(k->db);
	long long mark = -1;
	MYSQL_BIND p, r;

	memset(&p, 0, sizeof(p));
	memset(&r, 0, sizeof(r));
	p.buffer_type = MYSQL_TYPE_STRING;
	p.buffer = k->store_id;
	p.buffer_length = strlen(k->store_id);
	r.buffer_type = MYSQL_TYPE_LONGLONG;
	r.buffer = &mark;
	if (st != NULL &&
	    mysql_stmt_prepare(st, "SELECT last_seq FROM my_streams WHERE store_id = ?",
		(unsigned long)-1) == 0 &&
	    mysql_stmt_bind_param(st, &p) == 0 && mysql_stmt_execute(st) == 0 &&
	    mysql_stmt_bind_result(st, &r) == 0)
		mysql_stmt_fetch(st);
	if (st != NULL)
		mysql_stmt_close(st);
	mysql_rollback(k->db);
	log_info("the unanswered batch up to %lld %s", k->uncertain_seq,
	    mark >= k->uncertain_seq ? "had been written: it comes back as duplicates" :
				       "had not been written: it is sent again");
	k->uncertain_seq = 0;
}

/*
 * Tells the county how many records this hall has set aside (halls.quarantined, county
 * 010), when that changed since it last heard. Best effort: a county before 010 has no
 * hall_quarantined, and the count is shown, never acted on.
 */
static void
tell_quarantine(struct county_sink *k, struct store *s)
{
	long n = outbox_quarantine_count(s, "county");
	long long v = n;
	MYSQL_STMT *st;
	MYSQL_BIND p;

	if (n < 0 || n == k->quarantine_told || k->db == NULL)
		return;
	memset(&p, 0, sizeof(p));
	p.buffer_type = MYSQL_TYPE_LONGLONG;
	p.buffer = &v;
	if ((st = mysql_stmt_init(k->db)) == NULL)
		return;
	if (mysql_stmt_prepare(st, "CALL hall_quarantined(?)", (unsigned long)-1) == 0 &&
	    mysql_stmt_bind_param(st, &p) == 0 && mysql_stmt_execute(st) == 0 &&
	    mysql_commit(k->db) == 0)
		k->quarantine_told = n;
	else if (mysql_stmt_errno(st) != 1305 && mysql_stmt_errno(st) != 1370) {
		char why[MYSQL_ERRMSG_SIZE];

		log_warnx("county: cannot report %ld set-aside record(s): %s", n,
		    text_cleans(why, sizeof(why), mysql_stmt_error(st)));
	}
	else
		k->quarantine_told = n;	/* a county before 010: nothing to tell it */
	mysql_stmt_close(st);
	mysql_rollback(k->db);
}

/* The connection's options from [county]; nonblocking calls allowed (exec_finish). */
static void
conn_opts(struct county_sink *k, struct county_conn_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->host = k->cfg->county_host;
	o->socket = k->cfg->county_socket;
	o->port = (unsigned)k->cfg->county_port;
	o->user = k->cfg->county_user;
	o->password = k->password;
	o->database = k->cfg->county_database;
	o->tls = k->cfg->county_tls;
	o->tls_ca = k->cfg->county_tls_ca;
	o->connect_timeout = (unsigned)k->cfg->county_connect_timeout;
	o->read_timeout = (unsigned)k->cfg->county_read_timeout;
	o->write_timeout = (unsigned)k->cfg->county_write_timeout;
	o->nonblock = 1;
	o->multi_statements = 1;	/* the downlink's queries in one round trip */
}

/*
 * The county schema this agent needs: 030 files query-code MACs of 128 bits (a county
 * before it refuses this hall's code records and keeps no MAC of its cases), 031 says its
 * schema (county_schema()). Raised with each migration the hall's records come to need.
 */
#define HALL_COUNTY_SCHEMA 31

/*
 * A connection's first words, in one round trip (a multi-statement: on a weak link each
 * round trip is another chance of a loss and a retransmission timeout, and these were
 * nine): the hall's contact data, backlog and agent version into halls (hall_hello),
 * committed; the county's schema and its clock (note_clock); the count of records set
 * aside (halls.quarantined).
 * A county older than HALL_COUNTY_SCHEMA is refused: nothing is sent to it, the records
 * wait in the outbox, and the error says what to do. It has heard from the hall all the
 * same, so its console shows the hall's newer version. 0, or -1 with err.
 */
static int
county_greet(struct county_sink *k, struct store *s, char *err, size_t errlen)
{
	enum { HELLO, HELLO_COMMIT, SCHEMA, QUARANTINED, QUARANTINED_COMMIT };
	struct outbox_status os;
	struct buf contact, q;
	MYSQL_RES *res;
	long long backlog = 0;
	long quarantined = outbox_quarantine_count(s, "county"), schema = -1;
	int failed;

	k->clock_noted = 0;	/* noted below, or by note_clock after the pass */
	if (outbox_status(s, "county", &os) == 0)
		backlog = os.backlog;
	buf_init(&contact, 8192);
	hall_contact_json(&contact, k->cfg);
	buf_init(&q, 3 * 8192);
	buf_adds(&q, "CALL hall_hello(");
	county_sql_string(&q, k->db, contact.data, contact.len);
	buf_printf(&q, ", %lld, ", backlog);
	county_sql_string(&q, k->db, AGENT_VERSION, strlen(AGENT_VERSION));
	buf_adds(&q, ");COMMIT;SELECT county_schema(), UNIX_TIMESTAMP()");
	if (quarantined >= 0)	/* a count the store could not read is not told */
		buf_printf(&q, ";CALL hall_quarantined(%ld);COMMIT", quarantined);
	if (contact.failed || q.failed) {
		buf_free(&contact);
		buf_free(&q);
		snprintf(err, errlen, "hall_hello: out of memory");
		return -1;
	}
	buf_free(&contact);
	failed = county_multi(k->db, q.data, q.len, SCHEMA, &res);
	buf_free(&q);
	if (res != NULL) {
		MYSQL_ROW row = mysql_fetch_row(res);

		if (row != NULL && row[0] != NULL)
			schema = strtol(row[0], NULL, 10);
		if (row != NULL && row[1] != NULL &&
		    store_clock_note(s, (time_t)strtoll(row[1], NULL, 10)) == 0)
			k->clock_noted = mono_s();
		mysql_free_result(res);
	}
	if (failed == HELLO || failed == HELLO_COMMIT) {
		set_err(k, err, errlen, "hall_hello", mysql_error(k->db));
		return -1;
	}
	if (failed == SCHEMA && mysql_errno(k->db) != 1305 /* ER_SP_DOES_NOT_EXIST */ &&
	    mysql_errno(k->db) != 1370 /* ER_PROCACCESS_DENIED_ERROR */) {
		set_err(k, err, errlen, "county_schema", mysql_error(k->db));
		return -1;
	}
	if (failed == SCHEMA || schema < HALL_COUNTY_SCHEMA) {
		char had[32] = "no county_schema()";

		if (failed != SCHEMA)
			snprintf(had, sizeof(had), "schema %ld", schema);
		snprintf(err, errlen, "the county's database is older (%s) than this hall needs "
		    "(schema %d): nothing is sent until the county is upgraded (county-admin "
		    "migrate); the records wait here", had, HALL_COUNTY_SCHEMA);
		return -1;
	}
	if (failed != -1) {
		char why[MYSQL_ERRMSG_SIZE];

		log_warnx("county: cannot report %ld set-aside record(s): %s", quarantined,
		    text_cleans(why, sizeof(why), mysql_error(k->db)));
		mysql_rollback(k->db);
	}
	/* tell_quarantine tries again when this did not reach the county */
	k->quarantine_told = failed == -1 ? quarantined : -1;
	k->schema = schema;
	return 0;
}

static int
sink_county_connect(struct county_sink *k, struct store *s, char *err, size_t errlen)
{
	struct county_conn_opts o;
	int rc;

	if (k->db != NULL)
		return 0;
	conn_opts(k, &o);
	{
		MYSQL *db = county_connect(&o, err, errlen);

		if (db == NULL) {
			text_clean(err, errlen, err, strlen(err));	/* the server's words */
			return -1;
		}
		pthread_mutex_lock(&k->lock);
		k->db = db;
		pthread_mutex_unlock(&k->lock);
	}
	/* a county without migration 007 takes the batch as plain JSON */
	if ((k->upload = mysql_stmt_init(k->db)) == NULL) {
		set_err(k, err, errlen, "prepare", mysql_error(k->db));
		goto fail;
	}
	if (k->fault_cuts > 0) {
		k->fault_cuts--;
		shutdown(mysql_get_socket(k->db), SHUT_RDWR);
	}
	if (k->zipped &&
	    mysql_stmt_prepare(k->upload, upload_z_sql, sizeof(upload_z_sql) - 1) != 0) {
		/* the server's refusal says the county has none; the link failing says nothing
		 * (CR_* errors are the client's, from 2000): batches would otherwise go
		 * uncompressed, ten times the bytes, until a restart */
		if (mysql_stmt_errno(k->upload) >= 2000) {
			set_err(k, err, errlen, "prepare", mysql_stmt_error(k->upload));
			goto fail;
		}
		k->zipped = 0;
	}
	if (!k->zipped) {
		mysql_stmt_close(k->upload);
		if ((k->upload = mysql_stmt_init(k->db)) == NULL ||
		    mysql_stmt_prepare(k->upload, upload_sql, sizeof(upload_sql) - 1) != 0) {
			set_err(k, err, errlen, "prepare", mysql_error(k->db));
			goto fail;
		}
	}
	rc = county_greet(k, s, err, errlen);
	if (rc == 0 && k->uncertain_seq > 0)
		read_back_mark(k);
	if (rc == 0) {
		k->health_sent = 0;	/* a new connection sends its heartbeat (heartbeat.c) */
		k->health_none = 0;
		return 0;
	}
fail:
	sink_county_disconnect(k);
	return -1;
}

#define PIECE_BYTES (64 * 1024)

/*
 * The batch goes to the county as the CALL's last parameter in pieces
 * (COM_STMT_SEND_LONG_DATA): its JSON, ["<record>", ...] with each record's text exactly as
 * the hall holds it, is never whole in the agent's memory nor in the connector's buffers,
 * and the pieces get no answer, so they follow each other on the link without a round trip.
 *
 * To hall_upload_z the JSON goes as one zlib stream, and its length as the CALL's sixth
 * parameter, which travels with the execute, after the pieces: the length is known only
 * once the stream is written, and the JSON is made once. One stream over the batch
 * compresses far better than the protocol's packet by packet, and on a 2G link bytes are
 * time.
 */
struct batch_out {
	MYSQL_STMT *st;		/* the CALL the pieces go to (one lane's) */
	z_stream z;
	int z_ready;		/* z initialized: reset for each batch, ended with the sink */
	int zipped;
	struct buf one;		/* one record's JSON string */
	unsigned char out[PIECE_BYTES];
	size_t used;		/* bytes in out */
	size_t sent;		/* bytes handed to the link */
	size_t json_len;	/* the batch's JSON, uncompressed */
	/* the CALL's values, bound before the pieces go and read at its execute */
	long long last_seq, backlog, unpacked;
};

static void
batch_out_free(struct batch_out *o)
{
	if (o == NULL)
		return;
	if (o->z_ready)
		deflateEnd(&o->z);
	buf_free(&o->one);
	free(o);
}

/* A lane's batch_out (*slot), made on its first batch and ready for the next one. */
static struct batch_out *
batch_out_ready(struct batch_out **slot, int zipped, MYSQL_STMT *st)
{
	struct batch_out *o = *slot;

	if (o == NULL) {
		if ((o = calloc(1, sizeof(*o))) == NULL)
			return NULL;
		buf_init(&o->one, 16u << 20);	/* a record is at most 16 MiB */
		*slot = o;
	}
	o->st = st;
	o->zipped = zipped;
	o->used = o->sent = o->json_len = 0;
	buf_reset(&o->one);
	if (o->zipped) {
		/*
		 * Z_FILTERED: fewer short matches, more literals. The records' random parts (ids,
		 * the query MAC, the numbers in a text) cost fewer bits as literals than as the
		 * three-byte matches the default strategy finds in them: 4 % fewer bytes on the
		 * bench's backlog (52.3 against 54.5 a record, batches of 500). The zlib stream
		 * is the same to the county's UNCOMPRESS().
		 */
		if (o->z_ready ? deflateReset(&o->z) != Z_OK :
		    deflateInit2(&o->z, Z_BEST_COMPRESSION, Z_DEFLATED, 15, 8, Z_FILTERED) != Z_OK) {
			/* a stream in an unknown state is not used again */
			if (o->z_ready)
				deflateEnd(&o->z);
			o->z_ready = 0;
			return NULL;
		}
		o->z_ready = 1;
	}
	return o;
}

static int
piece_flush(struct batch_out *o)
{
	if (o->used == 0)
		return 0;
	if (mysql_stmt_send_long_data(o->st, 4, (const char *)o->out, o->used) != 0)
		return -1;
	o->sent += o->used;
	o->used = 0;
	return 0;
}

/* Adds JSON text to the batch; flush: the end of it. */
static int
piece_add(struct batch_out *o, const char *text, size_t len, int flush)
{
	if (!o->zipped) {
		while (len > 0) {
			size_t n = len < PIECE_BYTES - o->used ? len : PIECE_BYTES - o->used;

			memcpy(o->out + o->used, text, n);
			o->used += n;
			text += n;
			len -= n;
			if (o->used == PIECE_BYTES && piece_flush(o) == -1)
				return -1;
		}
		return flush ? piece_flush(o) : 0;
	}
	o->z.next_in = (unsigned char *)(uintptr_t)text;
	o->z.avail_in = (uInt)len;
	for (;;) {
		int zr;

		o->z.next_out = o->out + o->used;
		o->z.avail_out = (uInt)(PIECE_BYTES - o->used);
		zr = deflate(&o->z, flush ? Z_FINISH : Z_NO_FLUSH);
		o->used = PIECE_BYTES - o->z.avail_out;
		if (zr == Z_STREAM_ERROR)
			return -1;
		if (o->used == PIECE_BYTES && piece_flush(o) == -1)
			return -1;
		if (flush ? zr == Z_STREAM_END : o->z.avail_in == 0)
			break;
	}
	return flush ? piece_flush(o) : 0;
}

/* The JSON's text so far: one record's escaped text at a time (o->one). */
struct batch_json {
	struct batch_out *o;
	size_t len;		/* the JSON's length so far */
	int link_failed;	/* piece_add failed: the link, not the store */
};

/* outbox_next_each's callback: the record's JSON string, to the link as the store gives it. */
static int
json_record(void *arg, struct outbox_rec *r, const char *payload, size_t len)
{
	struct batch_json *j = arg;
	struct buf *one = &j->o->one;

	(void)r, (void)len;
	buf_reset(one);
	buf_addc(one, j->len == 0 ? '[' : ',');
	buf_json_str(one, payload);
	if (one->failed)
		return -1;
	j->len += one->len;
	if (piece_add(j->o, one->data, one->len, 0) == -1) {
		j->link_failed = 1;
		return -1;
	}
	return 0;
}

/* Binds the CALL's parameters to o's values: read at its execute, after the pieces. */
static int
bind_upload(struct county_sink *k, MYSQL_STMT *st, struct batch_out *o)
{
	MYSQL_BIND p[6];

	memset(p, 0, sizeof(p));
	p[0].buffer_type = MYSQL_TYPE_STRING;
	p[0].buffer = k->store_id;
	p[0].buffer_length = strlen(k->store_id);
	p[1].buffer_type = MYSQL_TYPE_LONGLONG;
	p[1].buffer = &o->last_seq;
	p[2].buffer_type = MYSQL_TYPE_STRING;
	p[2].buffer = (void *)AGENT_VERSION;
	p[2].buffer_length = strlen(AGENT_VERSION);
	p[3].buffer_type = MYSQL_TYPE_LONGLONG;
	p[3].buffer = &o->backlog;
	p[4].buffer_type = MYSQL_TYPE_LONG_BLOB;	/* sent in pieces as the batch is read */
	p[5].buffer_type = MYSQL_TYPE_LONGLONG;		/* hall_upload_z only */
	p[5].buffer = &o->unpacked;
	return mysql_stmt_bind_param(st, p) == 0 ? 0 : -1;
}

/*
 * Reads a batch from the store and sends it to st as it is read: a record's text goes from
 * SQLite to the compressor and the link, and only its id stays (SPEC 9: memory flat in the
 * backlog). The next batch after the mark, or (after >= 0) the batch after seq after, for
 * the lane ahead. 0 (b->n 0: nothing due, nothing sent), -1 with err set. *slot's values
 * are the CALL's (bound to st here, before the pieces).
 */
static int
stream_batch(struct county_sink *k, struct store *s, MYSQL_STMT *st, struct batch_out **slot,
    struct outbox_batch *b, int64_t after, char *err, size_t errlen)
{
	struct batch_json j;
	struct batch_out *o;
	int rc = -1, nb;

	if ((o = batch_out_ready(slot, k->zipped, st)) == NULL) {
		outbox_batch_clear(b);
		snprintf(err, errlen, "out of memory building a batch");
		return -1;
	}
	if (bind_upload(k, st, o) == -1) {
		outbox_batch_clear(b);
		set_err(k, err, errlen, "hall_upload", mysql_stmt_error(st));
		return -1;
	}
	memset(&j, 0, sizeof(j));
	j.o = o;
	nb = after < 0 ? outbox_next_into(s, "county", k->records, k->bytes, b, json_record, &j) :
	    outbox_next_after(s, "county", after, k->records, k->bytes, b, json_record, &j);
	if (nb == 0 && b->n > 0) {
		j.len++;
		if (piece_add(o, "]", 1, 1) == -1)
			j.link_failed = 1, nb = -1;
	}
	if (nb == 0)
		rc = 0;
	else if (j.link_failed && mysql_stmt_errno(st) != 0)
		set_err(k, err, errlen, "hall_upload", mysql_stmt_error(st));
	else if (j.link_failed || o->one.failed)
		snprintf(err, errlen, "out of memory building a batch");
	else
		snprintf(err, errlen, "the hall store cannot be read");
	if (o->one.failed) {
		/* a failed buf is freed and stays failed: a fresh one for the next batch */
		buf_init(&o->one, 16u << 20);
	}
	o->json_len = j.len;
	if (rc == 0 && b->n > 0) {
		o->last_seq = b->last_seq;
		o->backlog = outbox_backlog_after(s, b->last_seq);
		o->unpacked = (long long)j.len;
	}
	return rc;
}

/* ---- two batches on the way --------------------------------------------------------- */
/*
 * While the county works on a batch (hall_upload: a few hundred ms for a thousand
 * records), the link would be idle; on a weak link that is a third of a drain. So the
 * CALL is sent without waiting (mysql_stmt_execute_start), the next batch's records go
 * meanwhile on a second connection to the same server (its pieces need no answer), and
 * the second batch's CALL is sent once the first is answered and acknowledged: the county
 * still takes one batch of the hall at a time, in order, and the hall's mark still moves
 * only past what the county answered. Anything wrong with the first batch drops the second
 * unexecuted: its records were sent but never written, so they simply go again. Best
 * effort: when the second connection cannot be had, batches go one by one as before.
 */

/*
 * The socket of a connection made by the blocking mysql_real_connect blocks, and over TLS
 * a _start call would then block in OpenSSL instead of returning MYSQL_WAIT_*; the
 * library's blocking calls, for their part, expect it that way (a TLS read on a
 * non-blocking socket gives up). So non-blocking only from the CALL's start to its answer.
 */
static int
sock_nonblock(MYSQL *db, int on)
{
	int fd = (int)mysql_get_socket(db), fl = fcntl(fd, F_GETFL);

	if (fl == -1)
		return -1;
	return fcntl(fd, F_SETFL, on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK) == -1 ? -1 : 0;
}

/* Milliseconds on the monotonic clock. */
static long long
now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/*
 * The CALL sent by mysql_stmt_execute_start, waited for: mysql_stmt_execute's result.
 * The connection's timeouts are the socket's own (SO_RCVTIMEO, SO_SNDTIMEO), which a poll
 * does not see: so [county] read_timeout_s here too, as "nothing moved for that long",
 * after which the socket is shut down and the library, resumed, fails the CALL as a lost
 * connection (a timeout passed to it unasked for would only make it wait again).
 */
static int
exec_finish(struct county_sink *k)
{
	long long limit = k->cfg->county_read_timeout > 0 ?
	    (long long)k->cfg->county_read_timeout * 1000 : -1;
	long long moved = now_ms();
	int cut = 0;

	while (k->exec_wait != 0) {
		struct pollfd pfd;
		long long left = limit < 0 ? -1 : moved + limit - now_ms();
		int n, ev = 0;

		if (limit >= 0 && left <= 0 && !cut) {
			log_warnx("county: no answer to hall_upload for %d s: the connection is "
				  "given up", k->cfg->county_read_timeout);
			shutdown(mysql_get_socket(k->db), SHUT_RDWR);
			cut = 1;
		}
		pfd.fd = mysql_get_socket(k->db);
		pfd.events = (short)((k->exec_wait & MYSQL_WAIT_READ ? POLLIN : 0) |
		    (k->exec_wait & MYSQL_WAIT_WRITE ? POLLOUT : 0) |
		    (k->exec_wait & MYSQL_WAIT_EXCEPT ? POLLPRI : 0));
		pfd.revents = 0;
		n = poll(&pfd, 1, k->exec_wait & MYSQL_WAIT_TIMEOUT ?
		    (int)mysql_get_timeout_value_ms(k->db) :
		    cut ? 1000 : left < 0 ? -1 : (int)left);
		if (n == -1 && errno == EINTR)
			continue;	/* a stop shuts the socket down (sink_county_cancel) */
		if (n == 0) {
			if (!(k->exec_wait & MYSQL_WAIT_TIMEOUT))
				continue;	/* ours: the check above */
			ev = MYSQL_WAIT_TIMEOUT;
		} else if (n > 0) {
			ev = (pfd.revents & (POLLIN | POLLHUP | POLLERR) ? MYSQL_WAIT_READ : 0) |
			    (pfd.revents & POLLOUT ? MYSQL_WAIT_WRITE : 0) |
			    (pfd.revents & POLLPRI ? MYSQL_WAIT_EXCEPT : 0);
			moved = now_ms();
		}
		k->exec_wait = mysql_stmt_execute_cont(&k->exec_ret, k->upload, ev);
	}
	if (sock_nonblock(k->db, 0) == -1 && k->exec_ret == 0)
		return -1;	/* not answered as far as we can tell: the connection goes */
	return cut && k->exec_ret == 0 ? -1 : k->exec_ret;
}

/* The lane ahead closed and its batch forgotten (never executed: nothing of it written). */
static void
ahead_drop(struct county_sink *k)
{
	pthread_mutex_lock(&k->lock);
	if (k->ahead_upload != NULL)
		mysql_stmt_close(k->ahead_upload);
	if (k->ahead_db != NULL)
		mysql_close(k->ahead_db);
	k->ahead_upload = NULL;
	k->ahead_db = NULL;
	pthread_mutex_unlock(&k->lock);
	outbox_batch_clear(&k->ahead_batch);
	k->ahead_streamed = 0;
}

/* The second connection, to the server the first is on (on a Galera cluster, the same
 * node: two nodes would certify the hall's two batches against each other). */
static int
ahead_connect(struct county_sink *k)
{
	struct county_conn_opts o;
	const char *host = NULL, *sock = NULL;
	unsigned int port = 0;
	char node[300], err[MYSQL_ERRMSG_SIZE];
	MYSQL *db;
	MYSQL_STMT *st;

	conn_opts(k, &o);
	if (mariadb_get_infov(k->db, MARIADB_CONNECTION_UNIX_SOCKET, &sock) != 0)
		sock = NULL;
	if (sock == NULL &&
	    mariadb_get_infov(k->db, MARIADB_CONNECTION_HOST, &host) == 0 && host != NULL &&
	    mariadb_get_infov(k->db, MARIADB_CONNECTION_PORT, &port) == 0) {
		snprintf(node, sizeof(node), strchr(host, ':') != NULL ? "[%s]:%u" : "%s:%u",
		    host, port);
		o.host = node;
		o.port = port;
		o.socket = NULL;
	}
	if ((db = county_connect(&o, err, sizeof(err))) == NULL) {
		log_info("county: no second connection (%s): batches go one by one",
		    text_cleans(node, sizeof(node), err));
		return -1;
	}
	if ((st = mysql_stmt_init(db)) == NULL ||
	    mysql_stmt_prepare(st, k->zipped ? upload_z_sql : upload_sql, (unsigned long)-1) != 0) {
		if (st != NULL)
			mysql_stmt_close(st);
		mysql_close(db);
		return -1;
	}
	pthread_mutex_lock(&k->lock);
	k->ahead_db = db;
	k->ahead_upload = st;
	pthread_mutex_unlock(&k->lock);
	return 0;
}

/*
 * Waits until this batch and its CALL are on their way: the CALL written whole (the
 * library is driven on while the socket takes no more) and every byte of the lane sent
 * once (SIOCOUTQNSD: none left unsent). Streamed at once, the batch ahead shared the link
 * with this one's tail, the two finished together, and the link then stood idle while the
 * county worked on this one: 0.5 to 0.8 s at every batch on the bench's 256 kbit/s link,
 * measured. Now this batch goes first and the next one fills the link while the county
 * works. Not until acknowledged: a lost retransmission waits for a timeout (0.9 s there),
 * and the link carries the next batch meanwhile. On a fast link the wait is a millisecond
 * or two; it gives up after [county] write_timeout_s, and the answer is waited for as ever.
 */
static void
exec_delivered(struct county_sink *k)
{
	long long start = now_ms(), limit = k->cfg->county_write_timeout > 0 ?
	    (long long)k->cfg->county_write_timeout * 1000 : 60000;
	int fd = (int)mysql_get_socket(k->db), queued;

	while (k->exec_wait != 0 && !*k->stop) {
		long long waited = now_ms() - start;
		int ms = waited < 20 ? 1 : 10;

		if (waited >= limit)
			return;
		if (k->exec_wait & MYSQL_WAIT_WRITE) {
			struct pollfd pfd = { .fd = fd, .events = POLLOUT };

			if (poll(&pfd, 1, ms) > 0)
				k->exec_wait = mysql_stmt_execute_cont(&k->exec_ret, k->upload,
				    MYSQL_WAIT_WRITE);
			continue;
		}
		if (ioctl(fd, SIOCOUTQNSD, &queued) == -1 || queued == 0)
			return;
		/* an answer, or a reset (which leaves the unsent count as it was): read now */
		{
			struct pollfd pfd = { .fd = fd, .events = POLLIN };

			if (poll(&pfd, 1, ms) > 0) {
				k->exec_wait = mysql_stmt_execute_cont(&k->exec_ret, k->upload,
				    MYSQL_WAIT_READ);
				return;
			}
		}
	}
}

/* The batch after seq after, sent on the lane ahead while the county works on this one. */
static void
stream_ahead(struct county_sink *k, struct store *s, int64_t after)
{
	char err[256];

	if (*k->stop || k->ahead_refused)
		return;
	exec_delivered(k);
	if (k->exec_wait == 0 || *k->stop)
		return;	/* answered already (a refusal, a reset link): nothing to overlap */
	/* refused once (an account limited to one connection, a county at max_connections):
	 * not asked again until the next pass, which each refusal would slow */
	if (k->ahead_db == NULL && ahead_connect(k) == -1) {
		k->ahead_refused = 1;
		return;
	}
	if (stream_batch(k, s, k->ahead_upload, &k->ahead_out, &k->ahead_batch, after, err,
		sizeof(err)) == -1) {
		log_info("county: the next batch ahead: %s; it goes after this one", err);
		ahead_drop(k);	/* pieces may have gone: the statement is not trusted again */
		return;
	}
	k->ahead_streamed = k->ahead_batch.n > 0;
}

/* This batch is done: the one sent ahead is the next, on its connection. */
static void
lanes_trade(struct county_sink *k)
{
	MYSQL *db;
	MYSQL_STMT *st;
	struct batch_out *o;
	struct outbox_batch b;

	pthread_mutex_lock(&k->lock);
	db = k->db, k->db = k->ahead_db, k->ahead_db = db;
	st = k->upload, k->upload = k->ahead_upload, k->ahead_upload = st;
	pthread_mutex_unlock(&k->lock);
	o = k->out, k->out = k->ahead_out, k->ahead_out = o;
	b = k->batch, k->batch = k->ahead_batch, k->ahead_batch = b;
	outbox_batch_clear(&k->ahead_batch);
	k->ahead_streamed = 0;
}

/* Reads hall_upload's result rows (n, id, result, reason) into the batch, by place. */
static int
read_results(struct county_sink *k, struct outbox_batch *b, char *err, size_t errlen)
{
	char id[72], result[16], reason[256];
	unsigned long len[4];
	my_bool isnull[4];
	MYSQL_BIND r[4];
	long long n;
	size_t i;
	int st;

	for (i = 0; i < b->n; i++)
		b->v[i].result = REC_ACCEPTED;
	do {
		if (mysql_stmt_field_count(k->upload) != 4)
			continue;
		memset(r, 0, sizeof(r));
		r[0].buffer_type = MYSQL_TYPE_LONGLONG;
		r[0].buffer = &n;
		r[1].buffer_type = r[2].buffer_type = r[3].buffer_type = MYSQL_TYPE_STRING;
		r[1].buffer = id, r[1].buffer_length = sizeof(id) - 1;
		r[2].buffer = result, r[2].buffer_length = sizeof(result) - 1;
		r[3].buffer = reason, r[3].buffer_length = sizeof(reason) - 1;
		for (i = 0; i < 4; i++)
			r[i].length = &len[i], r[i].is_null = &isnull[i];
		if (mysql_stmt_bind_result(k->upload, r) != 0)
			goto fail;
		while ((st = mysql_stmt_fetch(k->upload)) == 0 || st == MYSQL_DATA_TRUNCATED) {
			struct outbox_rec *rec;

			if (isnull[0] || n < 1 || (size_t)n > b->n)
				continue;
			rec = &b->v[n - 1];
			result[len[2] < sizeof(result) ? len[2] : sizeof(result) - 1] = '\0';
			/* the county's words, on their way to the quarantine and the log */
			text_clean(reason, sizeof(reason), reason,
			    isnull[3] ? 0 : (len[3] < sizeof(reason) ? len[3] : sizeof(reason) - 1));
			if (strcmp(result, "duplicate") == 0)
				rec->result = REC_DUPLICATE;
			else
				outbox_rec_refuse(rec, strcmp(result, "conflict") == 0 ?
				    REC_CONFLICT : REC_REJECTED, reason);
		}
		if (st != MYSQL_NO_DATA)
			goto fail;
	} while (mysql_stmt_next_result(k->upload) == 0);
	if (mysql_stmt_errno(k->upload) != 0)
		goto fail;
	return 0;
fail:
	set_err(k, err, errlen, "hall_upload results", mysql_stmt_error(k->upload));
	return -1;
}

/* Refused records are shown at the county too (its refusals table); best effort. */
static void
report_refusals(struct county_sink *k, const struct outbox_batch *b)
{
	MYSQL_STMT *st = NULL;
	MYSQL_BIND p[2];
	size_t i;

	for (i = 0; i < b->n; i++) {
		const struct outbox_rec *r = &b->v[i];

		if (r->result != REC_REJECTED)
			continue;
		if (st == NULL && ((st = mysql_stmt_init(k->db)) == NULL ||
				      mysql_stmt_prepare(st, "CALL hall_refusal(?, ?)",
					  (unsigned long)-1) != 0))
			break;
		memset(p, 0, sizeof(p));
		p[0].buffer_type = p[1].buffer_type = MYSQL_TYPE_STRING;
		p[0].buffer = (void *)r->id;
		p[0].buffer_length = strlen(r->id);
		p[1].buffer = (void *)outbox_rec_reason(r);
		p[1].buffer_length = strlen(outbox_rec_reason(r));
		if (mysql_stmt_bind_param(st, p) != 0 || mysql_stmt_execute(st) != 0)
			break;
	}
	if (st != NULL && mysql_stmt_errno(st) != 0) {
		char why[MYSQL_ERRMSG_SIZE];

		log_warnx("county: cannot record a refusal there: %s",
		    text_cleans(why, sizeof(why), mysql_stmt_error(st)));
	}
	if (st != NULL)
		mysql_stmt_close(st);
	mysql_commit(k->db);
}

/*
 * Server errors that mean "this record's data cannot go in" (a value too long, out of
 * range, not UTF-8, not JSON), as opposed to everything else: a busy, full or stopping
 * server, a lost registration (SQLSTATE 28000, sql/county/009), a permission, a signal of
 * a procedure's own checks (1644), a key or reference the county's state breaks. After any
 * of those the batch is simply sent again later: only the data of one record, narrowed down
 * to it, ever sets that record aside.
 */
/* ER_LOCK_DEADLOCK: InnoDB's deadlock, and how Galera reports a certification conflict */
#define ER_LOCK_DEADLOCK_NO 1213u
/* conflicts in a row retried at once before the batch waits a backoff like a link error */
#define CONFLICT_RETRIES 5u

static int
data_refusal(unsigned int no)
{
	static const unsigned int refusals[] = {
		1048, 1264, 1265, 1292, 1366, 1406, 3140,
		4036, 4037, 4038, 4039, 4040, 4041, 4042, 4043, 4044, 4045, 4046, 4047, 4048,
	};
	size_t i;

	for (i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++)
		if (no == refusals[i])
			return 1;
	return 0;
}

/*
 * The county refused a whole batch for a record's data. Halve the batch until the refusal
 * is narrowed to one record; when a batch of that one record is refused three times
 * running, quarantine it with the county's reason, so it can never hold up the records
 * behind it. 1: try again at once; -1 (err set): a link error, for the county refuses
 * record after record.
 */
static int
refused_alone(struct county_sink *k, struct store *s, struct outbox_batch *b, const char *why,
    char *err, size_t errlen)
{
	if (b->n > 1) {
		k->records = b->n / 2;
		k->refusals = 0;
		log_warnx("county refused a batch of %zu (%s): trying %zu at a time", b->n, why,
		    k->records);
		return 1;
	}
	if (++k->refusals < 3)
		return 1;
	if (sink_set_aside_stop(k->set_aside, 1, why, err, errlen))
		return -1;
	outbox_rec_refuse(&b->v[0], REC_REJECTED, why);
	if (outbox_ack(s, "county", b, 0) == -1)
		return 1;
	log_warnx("county refuses record %s (%s) every time: %s; quarantined, the others go on",
	    b->v[0].id, b->v[0].type, why);
	report_refusals(k, b);
	k->refusals = 0;
	k->set_aside++;
	return 1;
}

static int
sink_county_push(struct county_sink *k, struct store *s, struct push_stats *ps, char *err,
    size_t errlen)
{
	struct outbox_batch *b = &k->batch;
	long long last_seq;
	size_t i, sent;
	int rc = -1, refused = 0, done = 0;
	unsigned run;

	if (k->db == NULL && sink_county_connect(k, s, err, errlen) == -1)
		return -1;
	if (k->ahead_streamed)
		lanes_trade(k);	/* sent while the last batch ran: its records are there */
	else if (stream_batch(k, s, k->upload, &k->out, b, -1, err, errlen) == -1) {
		/* pieces may have gone: the statement is not trusted again, nor the connection */
		goto lost;
	}
	if (b->n == 0)
		return 0;
	last_seq = k->out->last_seq;
	sent = k->out->sent;
	/* the CALL goes; while the county works on it, the next batch's records go too */
	if (sock_nonblock(k->db, 1) == -1) {
		snprintf(err, errlen, "hall_upload: fcntl: %s", strerror(errno));
		goto lost;
	}
	k->exec_wait = mysql_stmt_execute_start(&k->exec_ret, k->upload);
	if (k->exec_wait != 0 && k->out->backlog > 0)
		stream_ahead(k, s, last_seq);
	if (exec_finish(k) != 0) {
		set_err(k, err, errlen, "hall_upload", mysql_stmt_error(k->upload));
		if (k->zipped && (mysql_stmt_errno(k->upload) == 1305 ||
		    mysql_stmt_errno(k->upload) == 1370)) {
			/* no such procedure, or (as its grant went with it) not ours to call:
			 * a county before migration 007 */
			log_info("county: no hall_upload_z there (migration 007): batches go "
				 "uncompressed");
			k->zipped = 0;
			sink_county_disconnect(k);
			rc = 1;	/* again at once, the plain way */
			goto out;
		}
		/* the county refused the batch for what it holds, not the link: find the record */
		if (data_refusal(mysql_stmt_errno(k->upload)) && mysql_rollback(k->db) == 0) {
			/* again at once, narrower, and no backoff; or stop: see refused_alone */
			rc = refused_alone(k, s, b, err, err, errlen);
			goto out;
		}
		k->uncertain_seq = last_seq;
		if (mysql_stmt_errno(k->upload) == ER_LOCK_DEADLOCK_NO &&
		    ++k->conflicts <= CONFLICT_RETRIES) {
			/* a Galera certification conflict (or a deadlock): the server rolled the
			 * whole batch back, and the ledger makes a resend exactly-once, so again
			 * at once on a new connection (the statement's pieces are not trusted
			 * again), with no backoff and nothing set aside */
			log_info("county: hall_upload: %s; the batch again (%u)",
			    mysql_stmt_error(k->upload), k->conflicts);
			sink_county_disconnect(k);
			rc = 1;
			goto out;
		}
		goto lost;
	}
	k->conflicts = 0;
	if (read_results(k, b, err, errlen) == -1) {
		k->uncertain_seq = last_seq;
		goto lost;
	}
	/* hall_upload committed before it answered (sql/county/004): the county has it */
	if (k->fault_every > 0 && ++k->batches % k->fault_every == 0) {
		/* a test hook: the answer "is lost"; the outcome is unknown here */
		snprintf(err, errlen, "hall_upload: connection lost (injected), outcome unknown");
		k->uncertain_seq = last_seq;
		goto lost;
	}
	if (sink_results_set_aside(k->set_aside, b, &run, err, errlen) == -1)
		goto out;	/* not acknowledged: the records stay in the backlog */
	/* the county has it: now, and only now, the hall's mark moves */
	if (outbox_ack(s, "county", b, sent) == -1) {
		snprintf(err, errlen, "the hall store cannot record the delivery");
		goto out;
	}
	k->set_aside = run;
	for (i = 0; i < b->n; i++) {
		if (b->v[i].result == REC_CONFLICT || b->v[i].result == REC_REJECTED)
			log_warnx("county %s record %s (%s): %s; quarantined, the others go on",
			    b->v[i].result == REC_CONFLICT ? "holds another version of" : "refused",
			    b->v[i].id, b->v[i].type, outbox_rec_reason(&b->v[i]));
		refused |= b->v[i].result == REC_REJECTED;
	}
	if (refused)
		report_refusals(k, b);
	ps->records += b->n;
	ps->bytes += sent;
	k->refusals = 0;
	/* batches grow while they go through */
	if (k->records < (size_t)k->cfg->agent_batch_records)
		k->records = k->records * 2 < (size_t)k->cfg->agent_batch_records ?
		    k->records * 2 : (size_t)k->cfg->agent_batch_records;
	rc = 1;
	done = 1;	/* the batch sent ahead, if any, is the next */
	goto out;
lost:
	/* whatever state the connection is in, it is not trusted again; and a link that
	 * lost a batch gets smaller ones until they go through again */
	sink_county_disconnect(k);
	{
		size_t floor = (size_t)k->cfg->agent_batch_records < BATCH_MIN ?
		    (size_t)k->cfg->agent_batch_records : BATCH_MIN;

		k->records = k->records / 2 > floor ? k->records / 2 : floor;
	}
out:
	/* a batch sent ahead of one that did not go through is not executed: it goes again */
	if (!done && k->ahead_streamed)
		ahead_drop(k);
	outbox_batch_clear(b);
	return rc;
}

/* ---- the county as a destination ---------------------------------------------------- */

static int
county_configured(const struct hall_config *cfg)
{
	return cfg->county_user != NULL;
}

static void
county_where(const struct hall_config *cfg, char *out, size_t outlen)
{
	snprintf(out, outlen, "(%s@%s:%d/%s)", cfg->county_user ? cfg->county_user : "?",
	    cfg->county_socket ? cfg->county_socket : (cfg->county_host ? cfg->county_host : "?"),
	    cfg->county_port, cfg->county_database ? cfg->county_database : "?");
}

static void
county_close(void *arg)
{
	struct county_sink *k = arg;

	if (k == NULL)
		return;
	sink_county_close(k);
	free(k);
}

static void *
county_open(const struct hall_config *cfg, struct store *s, const volatile sig_atomic_t *stop)
{
	struct county_sink *k;

	if ((k = malloc(sizeof(*k))) == NULL) {
		log_warnx("county: out of memory");
		return NULL;
	}
	if (sink_county_open(k, cfg, s) == -1) {
		county_close(k);
		return NULL;
	}
	k->stop = stop;
	return k;
}

/*
 * The county's clock, noted in the hall store on each connection (county_greet) and every
 * ten minutes after: the
 * time the hall can vouch for when it numbers records (lib/store/clock.c). A failure here
 * is only logged: the guard then goes on from the previous note.
 */
static void
note_clock(struct county_sink *k, struct store *s)
{
	MYSQL_RES *res = NULL;
	MYSQL_ROW row;
	long long now = mono_s();

	if (k->db == NULL || *k->stop)
		return;	/* the pass lost its connection, or is being stopped */
	if (k->clock_noted != 0 && now - k->clock_noted < 600)
		return;
	if (mysql_query(k->db, "SELECT UNIX_TIMESTAMP()") != 0 ||
	    (res = mysql_store_result(k->db)) == NULL || (row = mysql_fetch_row(res)) == NULL ||
	    row[0] == NULL) {
		log_warnx("county clock: %s", mysql_error(k->db));
	} else if (store_clock_note(s, (time_t)strtoll(row[0], NULL, 10)) == 0)
		k->clock_noted = now;
	if (res != NULL)
		mysql_free_result(res);
	mysql_rollback(k->db);	/* autocommit is off: end the read's transaction */
}

/* Pushes until the outbox is drained, then pulls the downlink until it is empty. */
static int
county_pass(void *arg, struct store *s, struct push_stats *ps, long *retry_after, char *err,
    size_t errlen)
{
	struct county_sink *k = arg;
	int rc = 0, n = 0, more = 0;

	(void)retry_after;	/* the county never asks for a wait */
	if (sink_county_connect(k, s, err, errlen) == -1)
		return -1;
	while (!*k->stop && (rc = sink_county_push(k, s, ps, err, errlen)) == 1)
		;
	/* the second connection is for a backlog: not kept open between passes, so that a
	 * county of many halls counts one connection a hall that is idle */
	ahead_drop(k);
	k->ahead_refused = 0;
	if (!*k->stop && rc == -1) {
		text_clean(err, errlen, err, strlen(err));
		return -1;
	}
	tell_quarantine(k, s);	/* records set aside, or put back by hall-admin requeue */
	note_clock(k, s);
	/* after a restore, once: what the backup lacks, before the downlink applies events */
	if (!*k->stop && restore_county_pull(k, s, err, errlen) == -1) {
		text_clean(err, errlen, err, strlen(err));
		return -1;
	}
	while (!*k->stop && (n = downlink_county_pull(k, s, &more, err, errlen)) > 0) {
		log_info("downlink: %d row(s) applied", n);
		if (!more)
			break;	/* every query under its LIMIT: nothing was left */
	}
	if (!*k->stop && n == -1) {
		/* cleaned where it came in; once more for any path that did not */
		text_clean(err, errlen, err, strlen(err));
		return -1;
	}
	heartbeat_county(k, s);	/* after the pull: the downlink lag it reports is what is left */
	return 0;
}

static void
county_cancel(void *arg)
{
	sink_county_cancel(arg);
}

const struct sink_ops sink_county_ops = {
	.name = "county",
	.configured = county_configured,
	.where = county_where,
	.open = county_open,
	.open_hint = NULL,	/* sink_county_open says what is missing */
	.pass = county_pass,
	.cancel = county_cancel,
	.close = county_close,
};
