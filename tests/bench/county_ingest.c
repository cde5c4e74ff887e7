/*
 * county-ingest-bench: many halls delivering their backlogs to one county at once (SPEC 5.5,
 * 9: "the county takes a reconnect of 300 halls with backlogs at no less than half the rate
 * of plain multi-row INSERTs into the same tables").
 *
 *   county-ingest-bench [options] ingest   each hall, on a thread and a connection of its
 *                                          own, with its own account, delivers as hall-agent
 *                                          does: hall_hello, then CALL hall_upload_z with
 *                                          the agent's batches (its record JSON from
 *                                          lib/core/record.c, one zlib stream, sent in
 *                                          pieces), the agent's batch growth, and on any
 *                                          failure the agent's backoff (lib/core/backoff.c,
 *                                          full jitter) before the next pass
 *   county-ingest-bench [options] insert   the yardstick: the same rows, as plain multi-row
 *                                          INSERTs (bound parameters) into records, cases,
 *                                          ratings and appointments (and so, by the same
 *                                          trigger cases_search as the ingest's, into
 *                                          case_search), one transaction per batch at
 *                                          hall_upload_z's READ COMMITTED, same threads,
 *                                          same batches; a batch the county refuses for a
 *                                          moment (a deadlock, a lock wait, a lost
 *                                          connection) is rolled back
 *                                          and sent again, smaller, after the agent's
 *                                          backoff, as the agent would; anything else
 *                                          ends the run (refused=)
 *
 * Options: -H host -P port -A ca.pem (TLS, verified) -D database
 *          -f HALLS   lines "CODE PASSWORD_FILE" (the halls' accounts, county-admin add-hall)
 *          -u USER -p PASSWORD_FILE   the insert mode's account (INSERT on those tables)
 *          -n records per hall (100)  -b the agent's batch_records (4000)
 *          -o first record seq - 1 (0): the insert run writes other rows than the ingest
 *          -m the agent's backoff_max_s (300)  -t TIMELINE file: one line per connection
 *          attempt, "<ms since start> ok|fail"  -T give up after seconds (600)
 *
 * Prints one line of key=value figures (failures=: connections lost or refused and batches
 * sent again, in both modes); exit 0 when every hall delivered every record.
 * Not a test by itself: tests/e2e/test_county_ingest.py checks the county's ledger.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <zlib.h>

#include "county.h"

#define BATCH_START 250	/* as agent/hall-agent/sink_county.c */
#define BATCH_MIN 10
#define BATCH_BYTES (2u << 20)
#define PIECE (64 * 1024)
#define ROWS_PER_INSERT 500	/* 18 columns x 500 stays under 65,535 placeholders */

struct opts {
	const char *host, *ca, *database, *user, *pwfile, *halls, *timeline, *mode;
	unsigned port;
	long n, batch_max, offset, backoff_max_s, deadline_s;
};

struct hall {
	char code[13], store_id[33];
	char *password;
	pthread_t th;
	long delivered, acked, duplicates, refused, connects, failures;
	int done;
};

/* a record as the hall makes it, and its columns for the insert mode */
struct rec {
	char type;	/* C case, R rating, A appointment */
	char id[48], case_no[CASENO_LEN + 1], sha[65], mac[65];
	char subject[200], body[600], phone[24], name[32], date[16], start[8], end[8];
	char at[20], due[20];	/* DATETIME text, +08:00 wall time */
	int level;
	struct buf json;
};

static struct opts O;
static int all_done(void);
static struct timespec t0;
static volatile int give_up;
static pthread_mutex_t tl_lock = PTHREAD_MUTEX_INITIALIZER;
static FILE *tl;

static long
ms_since_start(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
}

static void
note_attempt(int ok)
{
	if (tl == NULL)
		return;
	pthread_mutex_lock(&tl_lock);
	fprintf(tl, "%ld %s\n", ms_since_start(), ok ? "ok" : "fail");
	pthread_mutex_unlock(&tl_lock);
}

/* ---- the records ------------------------------------------------------------------ */

static void
dt(char out[20], time_t t)
{
	char r[TIMEFMT_LEN];

	timefmt_rfc3339(r, t);	/* +08:00 wall time, as the hall writes it */
	memcpy(out, r, 19);
	out[10] = ' ';
	out[19] = '\0';
}

static void
hex_of(char out[65], const char *what, const char *code, long k)
{
	unsigned char h[32];
	char in[64];
	int i;

	snprintf(in, sizeof(in), "%s/%s/%ld", what, code, k);
	crypto_hash_sha256(h, (const unsigned char *)in, strlen(in));
	for (i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", h[i]);
}

/*
 * The k-th record of a hall's outbox: of every ten, eight cases, a rating of the case
 * before it and an appointment; the texts differ record by record, so compression is
 * honest.
 */
static int
rec_make(struct rec *r, const char *code, long k, time_t now)
{
	static const char *subjects[] = {"城乡居民养老保险缴费档次咨询", "低保申请材料咨询",
	    "宅基地审批进度咨询", "医保异地就医备案咨询", "残疾人两项补贴申请咨询"};
	long c = k % 10;

	buf_reset(&r->json);
	r->type = c == 8 ? 'R' : c == 9 ? 'A' : 'C';
	record_id_make(r->id, sizeof(r->id), code, r->type, (uint64_t)k);
	caseno_make(r->case_no, code, (uint64_t)(c == 8 ? k - 1 : k) * 1000 + 7);
	hex_of(r->mac, "mac", code, k);
	r->mac[32] = '\0';	/* a hall's MAC: 128 bits (sql/county/030) */
	snprintf(r->phone, sizeof(r->phone), "13%09ld", (k * 7919) % 1000000000L);
	snprintf(r->name, sizeof(r->name), "居民%ld", k % 997);
	dt(r->at, now - 86400 + k);
	dt(r->due, now + 15 * 86400 + k);
	if (r->type == 'C') {
		struct case_new cn = {0};

		snprintf(r->subject, sizeof(r->subject), "咨询 %ld：%s", k, subjects[k % 5]);
		snprintf(r->body, sizeof(r->body),
		    "第 %ld 号咨询。请问今年城乡居民基本养老保险的缴费档次有哪些？在哪里缴费？"
		    "我家住在第 %ld 组，编号 %lx。", k, k % 37, (k * 2654435761L) % 4294967296L);
		cn.kind = "consultation";
		cn.category = "policy";
		cn.subject = r->subject;
		cn.body = r->body;
		cn.name = r->name;
		cn.phone = r->phone;
		cn.item = "城乡居民养老保险参保登记";
		return record_case_json(&r->json, r->id, code, r->case_no, &cn, now - 86400 + k,
		    now + 15 * 86400 + k, 0, r->mac);
	}
	if (r->type == 'R') {
		r->level = (int)(k % 5) + 1;
		snprintf(r->body, sizeof(r->body), "评价 %ld：办事很快，态度很好。", k);
		return record_rating_json(&r->json, r->id, code, r->case_no, r->level, r->body,
		    now - 86400 + k);
	}
	{
		struct appt_rec a = {0};

		snprintf(r->date, sizeof(r->date), "2026-12-%02d", (int)(1 + k % 28));
		snprintf(r->start, sizeof(r->start), "%02d:00", (int)(9 + k % 8));
		snprintf(r->end, sizeof(r->end), "%02d:30", (int)(9 + k % 8));
		a.appointment_no = r->case_no;
		a.item = "sfz-sl";
		a.item_name = "居民身份证申领";
		a.date = r->date;
		a.start = r->start;
		a.end = r->end;
		a.place = "一楼 2 号窗口";
		a.name = r->name;
		a.phone = r->phone;
		a.query_mac = r->mac;
		if (record_appt_json(&r->json, r->id, code, &a, now - 86400 + k) == -1)
			return -1;
	}
	return 0;
}

static void
rec_sha(struct rec *r)
{
	unsigned char h[32];
	int i;

	crypto_hash_sha256(h, (const unsigned char *)r->json.data, r->json.len);
	for (i = 0; i < 32; i++)
		snprintf(r->sha + 2 * i, 3, "%02x", h[i]);
}

/* ---- the connection --------------------------------------------------------------- */

static MYSQL *
connect_as(const char *user, const char *password)
{
	struct county_conn_opts o = {0};
	char err[512];
	MYSQL *db;

	o.host = O.host;
	o.port = O.port;
	o.user = user;
	o.password = password;
	o.database = O.database;
	o.tls = O.ca != NULL;
	o.tls_ca = O.ca;
	o.connect_timeout = 10;
	o.read_timeout = 120;
	o.write_timeout = 120;
	o.multi_statements = 1;	/* hello's round trip, as the agent's */
	db = county_connect(&o, err, sizeof(err));
	note_attempt(db != NULL);
	if (db == NULL && !give_up)
		fprintf(stderr, "%s: connect: %s\n", user, err);
	return db;
}

/*
 * What the agent says first on every connection, in its one round trip (county_greet in
 * agent/hall-agent/sink_county.c): hall_hello, committed, the county's schema and the
 * count of records set aside.
 */
static int
hello(MYSQL *db, const char *code, long long backlog)
{
	char contact[128], esc[2 * sizeof(contact) + 1], q[1024];

	snprintf(contact, sizeof(contact), "{\"hall_code\":\"%s\",\"name\":\"模拟大厅 %s\"}\n",
	    code, code + 6);
	mysql_real_escape_string(db, esc, contact, (unsigned long)strlen(contact));
	snprintf(q, sizeof(q), "CALL hall_hello('%s', %lld, 'bench');COMMIT;"
	    "SELECT county_schema();CALL hall_quarantined(0);COMMIT", esc, backlog);
	if (county_multi(db, q, strlen(q), -1, NULL) == -1)
		return 0;
	fprintf(stderr, "hall %s: hall_hello: %s\n", code, mysql_error(db));
	return -1;
}

/* ---- ingest: the agent's way --------------------------------------------------------- */

struct zout {
	MYSQL_STMT *st;
	z_stream z;
	unsigned char out[PIECE];
	size_t used;
};

static int
z_add(struct zout *o, const char *text, size_t len, int finish)
{
	o->z.next_in = (unsigned char *)(uintptr_t)text;
	o->z.avail_in = (uInt)len;
	for (;;) {
		int zr;

		o->z.next_out = o->out + o->used;
		o->z.avail_out = (uInt)(PIECE - o->used);
		zr = deflate(&o->z, finish ? Z_FINISH : Z_NO_FLUSH);
		o->used = PIECE - o->z.avail_out;
		if (zr == Z_STREAM_ERROR)
			return -1;
		if ((o->used == PIECE || (finish && zr == Z_STREAM_END)) && o->used > 0) {
			if (mysql_stmt_send_long_data(o->st, 4, (const char *)o->out, o->used) != 0)
				return -1;
			o->used = 0;
		}
		if (finish ? zr == Z_STREAM_END : o->z.avail_in == 0)
			return 0;
	}
}

/* One batch [first, first + n) through hall_upload_z; 0 when the county answered. */
static int
upload(struct hall *h, MYSQL_STMT *st, struct rec *r, long first, long n, time_t now)
{
	struct zout *o = calloc(1, sizeof(*o));
	long long last_seq = first + n - 1, backlog = O.offset + O.n - last_seq, unpacked = 0;
	MYSQL_BIND p[6], res[4];
	char id[72], result[16], reason[256];
	unsigned long len[4];
	my_bool isnull[4];
	long long rn;
	long i;
	int rc = -1, f;

	if (o == NULL || deflateInit(&o->z, Z_BEST_COMPRESSION) != Z_OK) {
		free(o);
		return -1;
	}
	o->st = st;
	memset(p, 0, sizeof(p));
	p[0].buffer_type = MYSQL_TYPE_STRING;
	p[0].buffer = h->store_id;
	p[0].buffer_length = strlen(h->store_id);
	p[1].buffer_type = MYSQL_TYPE_LONGLONG;
	p[1].buffer = &last_seq;
	p[2].buffer_type = MYSQL_TYPE_STRING;
	p[2].buffer = (void *)"bench";
	p[2].buffer_length = 5;
	p[3].buffer_type = MYSQL_TYPE_LONGLONG;
	p[3].buffer = &backlog;
	p[4].buffer_type = MYSQL_TYPE_LONG_BLOB;
	p[5].buffer_type = MYSQL_TYPE_LONGLONG;
	p[5].buffer = &unpacked;
	if (mysql_stmt_bind_param(st, p) != 0)
		goto out;
	for (i = 0; i < n; i++) {
		struct buf one;

		if (rec_make(r, h->code, first + i, now) == -1)
			goto out;
		buf_init(&one, 16u << 20);
		buf_addc(&one, i == 0 ? '[' : ',');
		buf_json_str(&one, r->json.data);	/* the record's text as a JSON string */
		if (i == n - 1)
			buf_addc(&one, ']');
		f = one.failed || z_add(o, one.data, one.len, i == n - 1);
		unpacked += (long long)one.len;
		buf_free(&one);
		if (f)
			goto out;
	}
	if (mysql_stmt_execute(st) != 0)
		goto out;
	do {
		if (mysql_stmt_field_count(st) != 4)
			continue;
		memset(res, 0, sizeof(res));
		res[0].buffer_type = MYSQL_TYPE_LONGLONG;
		res[0].buffer = &rn;
		res[1].buffer_type = res[2].buffer_type = res[3].buffer_type = MYSQL_TYPE_STRING;
		res[1].buffer = id, res[1].buffer_length = sizeof(id) - 1;
		res[2].buffer = result, res[2].buffer_length = sizeof(result) - 1;
		res[3].buffer = reason, res[3].buffer_length = sizeof(reason) - 1;
		for (i = 0; i < 4; i++)
			res[i].length = &len[i], res[i].is_null = &isnull[i];
		if (mysql_stmt_bind_result(st, res) != 0)
			goto out;
		while ((f = mysql_stmt_fetch(st)) == 0 || f == MYSQL_DATA_TRUNCATED) {
			result[len[2] < sizeof(result) ? len[2] : sizeof(result) - 1] = '\0';
			if (strcmp(result, "duplicate") == 0)
				h->duplicates++;
			else {
				reason[isnull[3] ? 0 : (len[3] < sizeof(reason) ? len[3] :
				    sizeof(reason) - 1)] = '\0';
				fprintf(stderr, "hall %s: record %lld %s: %s\n", h->code, rn, result,
				    reason);
				h->refused++;
			}
		}
		if (f != MYSQL_NO_DATA)
			goto out;
	} while (mysql_stmt_next_result(st) == 0);
	if (mysql_stmt_errno(st) == 0) {
		h->delivered += n;
		rc = 0;
	}
out:
	if (rc == -1 && mysql_stmt_errno(st) != 0)
		fprintf(stderr, "hall %s: hall_upload_z: %s\n", h->code, mysql_stmt_error(st));
	deflateEnd(&o->z);
	free(o);
	return rc;
}

/*
 * One pass, as the agent's: connect, hello, push until the backlog is empty. *next: the
 * first record not yet acknowledged; *records: the batch size, grown and shrunk as the
 * agent's (sink_county.c). 0: all delivered.
 */
static int
ingest_pass(struct hall *h, MYSQL **db, struct rec *r, long *next, long *records, time_t now)
{
	static const char sql[] = "CALL hall_upload_z(?, ?, ?, ?, ?, ?)";
	MYSQL_STMT *st = NULL;
	long end = O.offset + O.n + 1;
	char user[32];
	int rc = -1;

	if (*db == NULL) {
		snprintf(user, sizeof(user), "hall_%s", h->code);
		h->connects++;
		if ((*db = connect_as(user, h->password)) == NULL) {
			h->failures++;
			return -1;
		}
		if (hello(*db, h->code, end - *next) == -1)
			goto lost;
	}
	if ((st = mysql_stmt_init(*db)) == NULL ||
	    mysql_stmt_prepare(st, sql, sizeof(sql) - 1) != 0) {
		fprintf(stderr, "hall %s: prepare: %s\n", h->code, mysql_error(*db));
		goto lost;
	}
	while (*next < end && !give_up) {
		long n = end - *next < *records ? end - *next : *records;

		if (upload(h, st, r, *next, n, now) == -1)
			goto lost;
		*next += n;
		h->acked = *next - O.offset - 1;
		if (*records < O.batch_max)
			*records = *records * 2 < O.batch_max ? *records * 2 : O.batch_max;
	}
	rc = *next < end ? -1 : 0;
	mysql_stmt_close(st);
	return rc;
lost:
	/* as the agent: the connection is not trusted again, and batches get smaller */
	if (st != NULL)
		mysql_stmt_close(st);
	mysql_close(*db);
	*db = NULL;
	h->failures++;
	*records = *records / 2 > BATCH_MIN ? *records / 2 : BATCH_MIN;
	return -1;
}

/* The agent's pause after a failure (hall_agent.c), cut short when the run gives up. */
static void
pause_ms(unsigned ms)
{
	while (ms > 0 && !give_up) {
		unsigned slice = ms < 100 ? ms : 100;

		usleep(slice * 1000);
		ms -= slice;
	}
}

/*
 * A hall's agent: passes until its backlog is delivered, with the agent's backoff between
 * failed passes (hall_agent.c: base 1 s, cap backoff_max_s, full jitter). The batch of
 * about 2 MiB the agent caps by bytes is left to batch_max: these records are all small.
 */
static void *
ingest_thread(void *arg)
{
	struct hall *h = arg;
	struct backoff bo = {0, 1000, (unsigned)O.backoff_max_s * 1000};
	struct rec *r = calloc(1, sizeof(*r));
	long next = O.offset + 1, records = O.batch_max < BATCH_START ? O.batch_max : BATCH_START;
	time_t now = time(NULL);
	MYSQL *db = NULL;

	mysql_thread_init();
	if (r == NULL)
		goto out;
	buf_init(&r->json, 16u << 20);
	while (!give_up) {
		if (ingest_pass(h, &db, r, &next, &records, now) == 0) {
			h->done = 1;
			break;
		}
		pause_ms(backoff_next_ms(&bo));
	}
	buf_free(&r->json);
	free(r);
out:
	/* the agent stays connected: the connection is held until every hall is through */
	while (db != NULL && !give_up && !all_done())
		usleep(50 * 1000);
	if (db != NULL)
		mysql_close(db);
	mysql_thread_end();
	return NULL;
}

/* ---- insert: the yardstick ---------------------------------------------------------- */

/* "(?, ?, ...), (...)": n rows of cols placeholders */
static char *
values_sql(const char *head, int cols, long n)
{
	struct buf b;
	long i;
	int c;

	buf_init(&b, 8u << 20);
	buf_adds(&b, head);
	for (i = 0; i < n; i++) {
		buf_adds(&b, i == 0 ? " (" : ", (");
		for (c = 0; c < cols; c++)
			buf_adds(&b, c == 0 ? "?" : ", ?");
		buf_addc(&b, ')');
	}
	return b.failed ? NULL : buf_take(&b, NULL);
}

static void
bs(MYSQL_BIND *p, int *k, const char *v)
{
	p[*k].buffer_type = v != NULL ? MYSQL_TYPE_STRING : MYSQL_TYPE_NULL;
	p[*k].buffer = (void *)(uintptr_t)v;
	p[*k].buffer_length = v != NULL ? strlen(v) : 0;
	(*k)++;
}

static void
bi(MYSQL_BIND *p, int *k, int *v)
{
	p[*k].buffer_type = MYSQL_TYPE_LONG;
	p[*k].buffer = v;
	(*k)++;
}

#define S(v) bs(p, &k, (v))
#define I(v) bi(p, &k, &(v))

enum { T_RECORDS, T_CASES, T_RATINGS, T_APPTS };
static const struct {
	const char *head;
	int cols;
} tables[] = {
	{"INSERT INTO records (id, hall_code, type, case_no, sha256, payload) VALUES", 6},
	{"INSERT INTO cases (case_no, id, hall_code, kind, category, channel, subject, body, "
	 "name, phone, email, item, target, submitted_at, due_at, due_provisional, notify, "
	 "registrar) VALUES", 18},
	{"INSERT INTO ratings (id, case_no, hall_code, level, comment, at) VALUES", 6},
	{"INSERT INTO appointments (appointment_no, id, hall_code, item, item_name, date, start, "
	 "`end`, place, name, phone, email, note, channel, registrar, notify, query_mac, "
	 "booked_at) VALUES", 18},
};

static const char *
type_name(char t)
{
	return t == 'C' ? "case" : t == 'R' ? "rating" : "appointment";
}

/* Binds one record's row of table t at p[k...]; the new k. */
static int
bind_row(MYSQL_BIND *p, int k, int t, struct rec *r, const char *code, int *zero, int *one)
{
	switch (t) {
	case T_RECORDS:
		S(r->id); S(code); S(type_name(r->type)); S(r->case_no); S(r->sha);
		S(r->json.data);
		break;
	case T_CASES:
		S(r->case_no); S(r->id); S(code); S("consultation"); S("policy"); S("online");
		S(r->subject); S(r->body); S(r->name); S(r->phone); S((const char *)NULL);
		S("城乡居民养老保险参保登记"); S((const char *)NULL); S(r->at); S(r->due);
		I(*zero); I(*one); S((const char *)NULL);
		break;
	case T_RATINGS:
		S(r->id); S(r->case_no); S(code); I(r->level); S(r->body); S(r->at);
		break;
	default:
		S(r->case_no); S(r->id); S(code); S("sfz-sl"); S("居民身份证申领"); S(r->date);
		S(r->start); S(r->end); S("一楼 2 号窗口"); S(r->name); S(r->phone);
		S((const char *)NULL); S((const char *)NULL); S("online"); S((const char *)NULL);
		I(*one); S(r->mac); S(r->at);
		break;
	}
	return k;
}

static int
table_of(char type)
{
	return type == 'C' ? T_CASES : type == 'R' ? T_RATINGS : T_APPTS;
}

/*
 * Rows of table t among recs (all when t is T_RECORDS), ROWS_PER_INSERT per statement.
 * 0, or the server's error number (-1 when the client failed before asking it).
 */
static int
insert_rows(MYSQL *db, int t, struct rec *recs, long n, const char *code)
{
	static int zero = 0, one = 1;
	long i = 0;

	while (i < n) {
		long idx[ROWS_PER_INSERT], m = 0, j;
		MYSQL_BIND *p;
		MYSQL_STMT *st;
		char *sql;
		int k = 0, rc;

		for (; i < n && m < ROWS_PER_INSERT; i++)
			if (t == T_RECORDS || table_of(recs[i].type) == t)
				idx[m++] = i;
		if (m == 0)
			break;
		if ((p = calloc((size_t)(m * tables[t].cols), sizeof(*p))) == NULL ||
		    (sql = values_sql(tables[t].head, tables[t].cols, m)) == NULL) {
			free(p);
			return -1;
		}
		for (j = 0; j < m; j++)
			k = bind_row(p, k, t, &recs[idx[j]], code, &zero, &one);
		rc = (st = mysql_stmt_init(db)) != NULL &&
		    mysql_stmt_prepare(st, sql, strlen(sql)) == 0 &&
		    mysql_stmt_bind_param(st, p) == 0 && mysql_stmt_execute(st) == 0 ? 0 : -1;
		if (rc == -1) {
			rc = st != NULL ? (int)mysql_stmt_errno(st) : (int)mysql_errno(db);
			fprintf(stderr, "%s: insert: %d %s\n", code, rc,
			    st ? mysql_stmt_error(st) : mysql_error(db));
			rc = rc != 0 ? rc : -1;
		}
		if (st != NULL)
			mysql_stmt_close(st);
		free(sql);
		free(p);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/*
 * What the county refuses for a moment and takes when asked again: a deadlock (1213), a
 * lock wait too long (1205), and, on a county before migration 029, InnoDB's "Invalid
 * InnoDB FTS Doc ID" (182: case_search's declared FTS_DOC_ID, taken by the trigger
 * cases_search, overtaken while the row's insert waited). The ingest meets the same
 * refusals inside hall_upload_z, and its agent sends the batch again.
 */
static int
transient(int err)
{
	return err == 182 || err == 1205 || err == 1213;
}

/* The connection lost (a server slow past read_timeout, or gone; 2026: its TLS timed out):
 * the agent's case too. */
static int
lost(int err)
{
	return err == 2006 || err == 2013 || err == 2026 || err == 2055 || err == 4031;
}

/* A statement without parameters, prepared as every other. */
static int
run_sql(MYSQL *db, const char *sql)
{
	MYSQL_STMT *st = mysql_stmt_init(db);
	int rc = st != NULL && mysql_stmt_prepare(st, sql, strlen(sql)) == 0 &&
	    mysql_stmt_execute(st) == 0 ? 0 : -1;

	if (rc == -1)
		fprintf(stderr, "%s: %s\n", sql, st ? mysql_stmt_error(st) : mysql_error(db));
	if (st != NULL)
		mysql_stmt_close(st);
	return rc;
}

/* One batch as one transaction: 0, or the error number of what failed (rolled back). */
static int
insert_batch(MYSQL *db, struct rec *recs, long n, const char *code)
{
	int t, err = 0;

	for (t = T_RECORDS; t <= T_APPTS && err == 0; t++)
		err = insert_rows(db, t, recs, n, code);
	if (err == 0 && mysql_commit(db) != 0) {
		err = mysql_errno(db) != 0 ? (int)mysql_errno(db) : -1;
		fprintf(stderr, "%s: commit: %s\n", code, mysql_error(db));
	}
	if (err != 0)
		mysql_rollback(db);
	return err;
}

/*
 * The yardstick connects as the halls do: a refused connection (a server busy accepting
 * 300 at once) is tried again after the same backoff. hall_upload_z runs its batch READ
 * COMMITTED (migration 021): so do these, as the yardstick is the same rows written the
 * plain way, not a stricter isolation's gap locks (on a county before 029 those queued the
 * threads at the end of case_search's FTS_DOC_ID_INDEX, and the rows that waited were
 * refused their FTS_DOC_ID).
 */
static MYSQL *
insert_connect(struct hall *h, struct backoff *bo)
{
	MYSQL *db = NULL;

	while (db == NULL && !give_up) {
		h->connects++;
		if ((db = connect_as(O.user, h->password)) != NULL &&
		    run_sql(db, "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED") != 0) {
			mysql_close(db);
			db = NULL;
		}
		if (db == NULL)
			pause_ms(backoff_next_ms(bo));
	}
	return db;
}

static void *
insert_thread(void *arg)
{
	struct hall *h = arg;
	long next = O.offset + 1, end = O.offset + O.n + 1;
	long records = O.batch_max < BATCH_START ? O.batch_max : BATCH_START;
	struct rec *recs = calloc((size_t)O.batch_max, sizeof(*recs));
	time_t now = time(NULL);
	MYSQL *db = NULL;
	long i;
	struct backoff bo = {0, 1000, (unsigned)O.backoff_max_s * 1000};

	mysql_thread_init();
	if (recs == NULL)
		goto out;
	for (i = 0; i < O.batch_max; i++)
		buf_init(&recs[i].json, 16u << 20);
	while (next < end && !give_up) {
		long n = end - next < records ? end - next : records;
		int err;

		if (db == NULL && (db = insert_connect(h, &bo)) == NULL)
			break;
		for (i = 0; i < n; i++) {
			rec_make(&recs[i], h->code, next + i, now);
			rec_sha(&recs[i]);
		}
		if ((err = insert_batch(db, recs, n, h->code)) != 0) {
			if (lost(err)) {
				mysql_close(db);
				db = NULL;
			} else if (!transient(err)) {
				h->refused++;	/* anything else: the run failed */
				goto out;
			}
			/* as the agent: the batch again, smaller, after its backoff */
			h->failures++;
			records = records / 2 > BATCH_MIN ? records / 2 : BATCH_MIN;
			pause_ms(backoff_next_ms(&bo));
			continue;
		}
		backoff_reset(&bo);
		h->delivered += n;
		next += n;
		h->acked = next - O.offset - 1;
		if (records < O.batch_max)
			records = records * 2 < O.batch_max ? records * 2 : O.batch_max;
	}
	h->done = next >= end;
out:
	if (recs != NULL)
		for (i = 0; i < O.batch_max; i++)
			buf_free(&recs[i].json);
	free(recs);
	if (db != NULL)
		mysql_close(db);
	mysql_thread_end();
	return NULL;
}

/* ---- the run ------------------------------------------------------------------------ */

static struct hall *halls;
static size_t nhalls;

static int
all_done(void)
{
	size_t i;

	for (i = 0; i < nhalls; i++)
		if (!halls[i].done)
			return 0;
	return 1;
}

static char *
read_pw(const char *path)
{
	char *pw = secret_read(path);

	if (pw == NULL)
		fprintf(stderr, "county-ingest-bench: cannot read %s\n", path);
	return pw;
}

static int
load_halls(void)
{
	FILE *f = fopen(O.halls, "r");
	char line[1024], code[64], pw[900];
	char *insert_pw = NULL;

	if (f == NULL) {
		perror(O.halls);
		return -1;
	}
	if (strcmp(O.mode, "insert") == 0 && (insert_pw = read_pw(O.pwfile)) == NULL) {
		fclose(f);
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		struct hall *h;
		unsigned char id[16];
		int i;

		if (sscanf(line, "%63s %899s", code, pw) != 2 || strlen(code) != 12)
			continue;
		if ((h = realloc(halls, (nhalls + 1) * sizeof(*h))) == NULL)
			break;
		halls = h;
		h = &halls[nhalls];
		memset(h, 0, sizeof(*h));
		memcpy(h->code, code, 13);
		/* a store id of its own, the same on every run (a hall's store does not change) */
		crypto_generichash(id, sizeof(id), (const unsigned char *)code, 12, NULL, 0);
		for (i = 0; i < 16; i++)
			snprintf(h->store_id + 2 * i, 3, "%02x", id[i]);
		h->password = insert_pw != NULL ? insert_pw : read_pw(pw);
		if (h->password == NULL)
			break;
		nhalls++;
	}
	fclose(f);
	return nhalls > 0 ? 0 : -1;
}

static void
usage(void)
{
	fprintf(stderr, "usage: county-ingest-bench -H host -P port [-A ca] [-D db] -f halls "
			"[-u user -p pwfile] [-n per hall] [-b batch] [-o offset] [-m backoff_max_s] "
			"[-t timeline] [-T seconds] ingest|insert\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	pthread_attr_t attr;
	long delivered = 0, acked = 0, dups = 0, refused = 0, connects = 0, failures = 0, done = 0;
	double secs;
	size_t i;
	int c;

	O.host = "127.0.0.1";
	O.database = "county";
	O.n = 100;
	O.batch_max = 4000;
	O.backoff_max_s = 300;
	O.deadline_s = 600;
	while ((c = getopt(argc, argv, "H:P:A:D:f:u:p:n:b:o:m:t:T:")) != -1) {
		switch (c) {
		case 'H': O.host = optarg; break;
		case 'P': O.port = (unsigned)atoi(optarg); break;
		case 'A': O.ca = optarg; break;
		case 'D': O.database = optarg; break;
		case 'f': O.halls = optarg; break;
		case 'u': O.user = optarg; break;
		case 'p': O.pwfile = optarg; break;
		case 'n': O.n = atol(optarg); break;
		case 'b': O.batch_max = atol(optarg); break;
		case 'o': O.offset = atol(optarg); break;
		case 'm': O.backoff_max_s = atol(optarg); break;
		case 't': O.timeline = optarg; break;
		case 'T': O.deadline_s = atol(optarg); break;
		default: usage();
		}
	}
	if (optind != argc - 1 || O.halls == NULL || O.n < 1 || O.batch_max < 1 ||
	    O.backoff_max_s < 1)
		usage();
	O.mode = argv[optind];
	if (strcmp(O.mode, "ingest") != 0 && (strcmp(O.mode, "insert") != 0 || O.user == NULL ||
	    O.pwfile == NULL))
		usage();
	if (sodium_init() < 0 || mysql_library_init(0, NULL, NULL) != 0 || load_halls() == -1)
		return 1;
	if (O.timeline != NULL && (tl = fopen(O.timeline, "w")) == NULL) {
		perror(O.timeline);
		return 1;
	}
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 512 * 1024);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < nhalls; i++)
		if (pthread_create(&halls[i].th, &attr, strcmp(O.mode, "ingest") == 0 ?
		    ingest_thread : insert_thread, &halls[i]) != 0) {
			fprintf(stderr, "county-ingest-bench: cannot start thread %zu\n", i);
			give_up = 1;
			nhalls = i;
			break;
		}
	while (!all_done() && !give_up) {
		usleep(20 * 1000);
		if (ms_since_start() > O.deadline_s * 1000) {
			fprintf(stderr, "county-ingest-bench: not done after %ld s\n", O.deadline_s);
			give_up = 1;
		}
		if (strcmp(O.mode, "insert") == 0) {
			/* a failed insert thread ends without done: nothing will change that */
			int stuck = 0;

			for (i = 0; i < nhalls; i++)
				stuck |= !halls[i].done && halls[i].refused > 0;
			if (stuck)
				give_up = 1;
		}
	}
	secs = ms_since_start() / 1000.0;
	give_up = 1;
	for (i = 0; i < nhalls; i++) {
		pthread_join(halls[i].th, NULL);
		delivered += halls[i].delivered;
		acked += halls[i].acked;
		dups += halls[i].duplicates;
		refused += halls[i].refused;
		connects += halls[i].connects;
		failures += halls[i].failures;
		done += halls[i].done;
	}
	if (tl != NULL)
		fclose(tl);
	/* rps: the records the county acknowledged once each, over the whole run */
	printf("mode=%s halls=%zu done=%ld records=%ld sent=%ld duplicates=%ld refused=%ld "
	       "connects=%ld failures=%ld seconds=%.3f rps=%.1f\n", O.mode, nhalls, done, acked,
	    delivered, dups, refused, connects, failures, secs, acked / secs);
	mysql_library_end();
	return done == (long)nhalls && refused == 0 ? 0 : 1;
}
