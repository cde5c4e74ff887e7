/*
 * lib/store/: the hall store on a temporary SQLite file, with the real migrations
 * (sql/hall) and the shipped calendars (conf/calendar). Runs from the repository root.
 *
 * Where a test needs what only the county does (answer a case, acknowledge the outbox,
 * publish guides) it writes the row with a separate raw sqlite3 connection on the same file.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <jansson.h>
#include <sqlite3.h>

#include "store.h"
#include "unit.h"
#include "store_fixture.h"

/* ---- schema and binding ------------------------------------------------------------ */

static void
test_migrate_and_bind(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(raw_int(f->path, "PRAGMA user_version", NULL), 10);
	/* a second run applies nothing and fails nothing */
	assert_int_equal(store_migrate(f->s, SCHEMA), 0);
	assert_int_equal(raw_int(f->path, "PRAGMA user_version", NULL), 10);
	assert_int_equal(store_count(f->s, "cases"), 0);
	assert_int_equal(store_count(f->s, "outbox"), 0);
	assert_int_equal(store_count(f->s, "sync_dest"), 1); /* county; the province comes with its sink */
	assert_int_equal(store_count(f->s, "no_such_table"), -1);
	assert_int_equal(store_migrate(f->s, "/nonexistent/schema"), -1);

	assert_int_equal(store_bind_hall(f->s, HALL), 0);
	assert_int_equal(store_bind_hall(f->s, OTHER_HALL), -1);
	/* and still after a reopen */
	store_close(f->s);
	assert_non_null(f->s = store_open(f->path, 0));
	assert_int_equal(store_bind_hall(f->s, OTHER_HALL), -1);
	assert_int_equal(store_bind_hall(f->s, HALL), 0);
}

static void
test_open_fails(void **state)
{
	struct fixture *f = *state;
	char p[160];

	assert_null(store_open("/nonexistent/dir/hall.db", 0));
	snprintf(p, sizeof(p), "%s/absent.db", f->dir);
	assert_null(store_open(p, 1)); /* read-only never creates */
	assert_int_equal(access(p, F_OK), -1);
}

/*
 * The store's files take their mode from the umask: the demo's 077 keeps them the owner's
 * alone; under the units' UMask=0007 hall-write, hall-agent and hall-read (three users of
 * group hall) all reach the store, its -wal, -shm and writer lock. SQLite itself would
 * make the store 0640 there, which hall-agent could not write.
 */
static void
test_store_modes(void **state)
{
	static const struct {
		mode_t umask, mode;
	} c[] = {{077, 0600}, {0007, 0660}, {022, 0640}};
	static const char *const suffix[] = {"", "-wal", "-shm", "-writer.lock"};
	struct fixture *f = *state;
	struct store *s;
	struct stat sb;
	char db[96], p[192];
	size_t i, j;

	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		snprintf(db, sizeof(db), "%s/modes.db", f->dir);
		umask(c[i].umask);
		assert_non_null(s = store_open(db, 0));
		assert_int_equal(store_migrate(s, SCHEMA), 0);
		umask(022);
		for (j = 0; j < sizeof(suffix) / sizeof(suffix[0]); j++) {
			snprintf(p, sizeof(p), "%s%s", db, suffix[j]);
			assert_int_equal(stat(p, &sb), 0);
			if ((sb.st_mode & 0777) != c[i].mode)
				fail_msg("umask %03o: %s is %03o, not %03o", (unsigned)c[i].umask, p,
				    (unsigned)(sb.st_mode & 0777), (unsigned)c[i].mode);
		}
		store_close(s);
		remove_db(db);
	}
}

/* umask_group keeps the caller's choice for the group and takes everything from others. */
static void
test_umask_group(void **state)
{
	static const mode_t in[] = {077, 0007, 022, 0};
	static const mode_t out[] = {077, 0007, 027, 007};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		umask(in[i]);
		umask_group();
		assert_int_equal(umask(022), out[i]);
	}
}

/* ---- cases ------------------------------------------------------------------------ */

static void
test_case_create(void **state)
{
	struct fixture *f = *state;
	struct case_new c = consultation();
	struct receipt r;
	time_t t0, t1, due;
	int prov = -1;
	size_t i;

	t0 = time(NULL);
	assert_int_equal(store_case_create(f->s, &f->cfg, &c, &r), STORE_OK);
	t1 = time(NULL);

	assert_int_equal(r.replayed, 0);
	assert_int_equal(strlen(r.case_no), CASENO_LEN);
	assert_memory_equal(r.case_no, HALL, 12);
	assert_int_equal(caseno_valid(r.case_no), 1);
	assert_int_equal(strlen(r.query_code), 6);
	assert_int_equal(strspn(r.query_code, "0123456789"), 6);
	/* the case number and the id carry the same sequence */
	assert_true(caseno_seq(r.case_no) == id_seq(r.id, 'C'));
	assert_true(r.submitted_at >= t0 && r.submitted_at <= t1);

	/* exactly one case and one outbox row; its 'received' is the row's submitted_at */
	assert_int_equal(store_count(f->s, "cases"), 1);
	assert_int_equal(store_count(f->s, "outbox"), 1);
	assert_int_equal(store_count(f->s, "case_events"), 0);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM outbox WHERE id = ?1", r.id), 1);

	/* due: 3 working days by the calendar, 23:59:59+08:00 */
	due = calendar_due(f->cal, r.submitted_at, 3, &prov);
	assert_int_equal(r.due_at, due);
	assert_int_equal(r.due_provisional, prov);
	assert_int_equal(r.due_provisional, 0);
	assert_int_equal((r.due_at + HALL_TZ_OFFSET) % 86400, 86399);
	assert_true(r.due_at > r.submitted_at + 86400);

	/* query codes are 6 digits every time */
	for (i = 0; i < 30; i++) {
		struct receipt r2;

		assert_int_equal(store_case_create(f->s, &f->cfg, &c, &r2), STORE_OK);
		assert_int_equal(strlen(r2.query_code), 6);
		assert_int_equal(strspn(r2.query_code, "0123456789"), 6);
		assert_string_not_equal(r2.case_no, r.case_no);
	}
	assert_int_equal(store_count(f->s, "cases"), 31);
	assert_int_equal(store_count(f->s, "outbox"), 31);
}

static void
test_case_kinds_due(void **state)
{
	static const struct {
		const char *kind, *category;
		int days;
	} k[] = {
	    {"consultation", "procedure", 3},
	    {"consultation", "public_info", 3},
	    {"complaint", NULL, 5},
	    {"unresolved", NULL, 2},
	};
	struct fixture *f = *state;
	struct case_new c = consultation();
	struct receipt r;
	size_t i;
	int prov;

	for (i = 0; i < sizeof(k) / sizeof(k[0]); i++) {
		c.kind = k[i].kind;
		c.category = k[i].category;
		c.target = k[i].category == NULL ? "3号窗口" : NULL;
		assert_int_equal(store_case_create(f->s, &f->cfg, &c, &r), STORE_OK);
		assert_int_equal(r.due_at, calendar_due(f->cal, r.submitted_at, k[i].days, &prov));
		assert_int_equal(r.due_provisional, prov);
	}
	/* the limits come from the configuration */
	f->cfg.complaint_days = 10;
	c.kind = "complaint";
	c.category = NULL;
	assert_int_equal(store_case_create(f->s, &f->cfg, &c, &r), STORE_OK);
	assert_int_equal(r.due_at, calendar_due(f->cal, r.submitted_at, 10, &prov));
}

/* A case the schema refuses is not half-written, and nothing else moves. */
static void
test_case_create_refused(void **state)
{
	struct fixture *f = *state;
	struct case_new c = consultation();
	struct receipt r;
	long cases, outbox, events;

	assert_int_equal(store_case_create(f->s, &f->cfg, &c, &r), STORE_OK);
	cases = store_count(f->s, "cases");
	outbox = store_count(f->s, "outbox");
	events = store_count(f->s, "case_events");
	c.kind = "petition";
	assert_int_equal(store_case_create(f->s, &f->cfg, &c, &r), STORE_ERR);
	c = consultation();
	c.category = "gossip";
	assert_int_equal(store_case_create(f->s, &f->cfg, &c, &r), STORE_ERR);
	assert_int_equal(store_count(f->s, "cases"), cases);
	assert_int_equal(store_count(f->s, "outbox"), outbox);
	assert_int_equal(store_count(f->s, "case_events"), events);
	/* and the store still works */
	c = consultation();
	assert_int_equal(store_case_create(f->s, &f->cfg, &c, &r), STORE_OK);
	assert_int_equal(store_count(f->s, "cases"), cases + 1);
}

static void
test_dedup_replays(void **state)
{
	struct fixture *f = *state;
	struct case_new c = consultation();
	struct receipt r1, r2, r3;

	c.dedup_key = "8d969eef6ecad3c29a3a629280e686cf0c3f5d5a86aff3ca12020c923adc6c92";
	assert_int_equal(store_case_create(f->s, &f->cfg, &c, &r1), STORE_OK);
	assert_int_equal(r1.replayed, 0);
	assert_int_equal(store_case_create(f->s, &f->cfg, &c, &r2), STORE_OK);
	assert_int_equal(r2.replayed, 1);
	assert_string_equal(r2.id, r1.id);
	assert_string_equal(r2.case_no, r1.case_no);
	assert_string_equal(r2.query_code, r1.query_code);
	assert_int_equal(r2.submitted_at, r1.submitted_at);
	assert_int_equal(r2.due_at, r1.due_at);
	assert_int_equal(r2.due_provisional, r1.due_provisional);
	assert_int_equal(store_count(f->s, "cases"), 1);
	assert_int_equal(store_count(f->s, "outbox"), 1);

	/* another key is another case */
	c.dedup_key = "another";
	assert_int_equal(store_case_create(f->s, &f->cfg, &c, &r3), STORE_OK);
	assert_int_equal(r3.replayed, 0);
	assert_string_not_equal(r3.case_no, r1.case_no);
	assert_int_equal(store_count(f->s, "cases"), 2);
	assert_int_equal(store_count(f->s, "outbox"), 2);
}

static void
test_case_get(void **state)
{
	struct fixture *f = *state;
	struct case_new c = consultation();
	struct case_view v;
	struct receipt r;
	char other[CASENO_LEN + 1];

	assert_int_equal(store_case_create(f->s, &f->cfg, &c, &r), STORE_OK);
	assert_int_equal(store_case_get(f->s, r.case_no, &v), STORE_OK);
	assert_string_equal(v.case_no, r.case_no);
	assert_string_equal(v.query_code, r.query_code);
	assert_string_equal(v.kind, "consultation");
	assert_string_equal(v.category, "policy");
	assert_string_equal(v.subject, c.subject);
	assert_string_equal(v.body, c.body);
	assert_string_equal(v.phone, c.phone);
	assert_string_equal(v.status, "received");
	assert_null(v.reply_text);
	assert_int_equal(v.submitted_at, r.submitted_at);
	assert_int_equal(v.due_at, r.due_at);
	assert_int_equal(v.due_provisional, 0);
	assert_int_equal(v.nevents, 1);
	assert_string_equal(v.events[0].status, "received");
	assert_int_equal(v.events[0].at, r.submitted_at);
	assert_int_equal(v.rating_level, 0);
	case_view_free(&v);
	case_view_free(&v);
	case_view_free(NULL);

	/* a valid number that was never issued */
	assert_int_equal(caseno_make(other, HALL, 12345), 0);
	assert_int_equal(store_case_get(f->s, other, &v), STORE_NOT_FOUND);
	assert_null(v.kind);
	assert_int_equal(store_case_get(f->s, "", &v), STORE_NOT_FOUND);
	assert_int_equal(store_case_get(f->s, "' OR 1=1 --", &v), STORE_NOT_FOUND);
}

/*
 * One 'received' in the timeline, whether the store holds a row for it (a store from
 * before the row was dropped, or one restored from the county) or not, and always first.
 */
static void
test_case_timeline_one_received(void **state)
{
	struct fixture *f = *state;
	struct case_new c = consultation();
	struct receipt old, fresh;
	struct case_view v;
	char sql[320];

	assert_int_equal(store_case_create(f->s, &f->cfg, &c, &old), STORE_OK);
	assert_int_equal(store_case_create(f->s, &f->cfg, &c, &fresh), STORE_OK);
	snprintf(sql, sizeof(sql), "INSERT INTO case_events (id, case_no, status, note, actor, at) "
	    "VALUES ('old-R', ?1, 'received', NULL, 'hall', %lld)", (long long)old.submitted_at);
	raw_exec(f->path, sql, old.case_no);
	/* the county's delivery in the same second as the submission */
	snprintf(sql, sizeof(sql), "INSERT INTO case_events (id, case_no, status, note, actor, at) "
	    "SELECT case_no || '-D', case_no, 'delivered', NULL, 'county', submitted_at "
	    "FROM cases WHERE case_no = ?1");
	raw_exec(f->path, sql, old.case_no);
	raw_exec(f->path, sql, fresh.case_no);

	assert_int_equal(store_case_get(f->s, old.case_no, &v), STORE_OK);
	assert_int_equal(v.nevents, 2);
	assert_string_equal(v.events[0].status, "received");
	assert_int_equal(v.events[0].at, old.submitted_at);
	assert_string_equal(v.events[1].status, "delivered");
	case_view_free(&v);
	assert_int_equal(store_case_get(f->s, fresh.case_no, &v), STORE_OK);
	assert_int_equal(v.nevents, 2);
	assert_string_equal(v.events[0].status, "received");
	assert_int_equal(v.events[0].at, fresh.submitted_at);
	assert_null(v.events[0].note);
	assert_string_equal(v.events[1].status, "delivered");
	case_view_free(&v);
}

static void
test_outbox_payload(void **state)
{
	struct fixture *f = *state;
	struct case_new c = consultation();
	struct receipt r;
	char ts[TIMEFMT_LEN];
	json_t *j;

	c.email = "zhangsan@example.com";
	c.item = "住房公积金提取";
	c.subject = "引号\"反斜杠\\和换行";
	assert_int_equal(store_case_create(f->s, &f->cfg, &c, &r), STORE_OK);
	j = outbox_json(f, r.id);
	assert_string_equal(jstr(j, "id"), r.id);
	assert_string_equal(jstr(j, "type"), "case");
	assert_string_equal(jstr(j, "hall_code"), HALL);
	assert_string_equal(jstr(j, "case_no"), r.case_no);
	timefmt_rfc3339(ts, r.submitted_at);
	assert_string_equal(jstr(j, "at"), ts);
	assert_string_equal(jstr(j, "kind"), "consultation");
	assert_string_equal(jstr(j, "category"), "policy");
	assert_string_equal(jstr(j, "subject"), c.subject);
	assert_string_equal(jstr(j, "body"), c.body);
	assert_string_equal(jstr(j, "phone"), c.phone);
	assert_string_equal(jstr(j, "email"), c.email);
	assert_true(json_is_null(json_object_get(j, "target")));
	timefmt_rfc3339(ts, r.due_at);
	assert_string_equal(jstr(j, "due_at"), ts);
	assert_true(json_is_false(json_object_get(j, "due_provisional")));
	json_decref(j);
	/* the row's own columns agree with the payload */
	assert_int_equal(raw_int(f->path,
	                         "SELECT count(*) FROM outbox WHERE id = ?1 AND "
	                         "type = 'case'",
	                         r.id),
	                 1);
	{
		sqlite3 *db = raw_open(f->path);
		char *cn = raw(db, "SELECT case_no FROM outbox WHERE id = ?1", r.id);

		assert_string_equal(cn, r.case_no);
		free(cn);
		sqlite3_close(db);
	}
}

/* ---- ratings ---------------------------------------------------------------------- */

static void
test_rating(void **state)
{
	struct fixture *f = *state;
	struct case_new c = consultation();
	struct case_view v;
	struct receipt r;
	char unknown[CASENO_LEN + 1], ts[TIMEFMT_LEN];
	time_t at = 0, t0;
	json_t *j;
	char *rid;
	sqlite3 *db;

	assert_int_equal(store_case_create(f->s, &f->cfg, &c, &r), STORE_OK);
	/* before the county answers */
	assert_int_equal(store_rating_create(f->s, r.case_no, 5, NULL, &at), STORE_NOT_YET);
	assert_int_equal(store_count(f->s, "ratings"), 0);
	assert_int_equal(store_count(f->s, "outbox"), 1);

	set_status(f, r.case_no, "answered");
	t0 = time(NULL);
	assert_int_equal(store_rating_create(f->s, r.case_no, 2, "没有解决问题", &at),
	                 STORE_OK);
	assert_true(at >= t0 && at <= time(NULL));
	assert_int_equal(store_count(f->s, "ratings"), 1);
	assert_int_equal(store_count(f->s, "outbox"), 2);

	/* once only */
	assert_int_equal(store_rating_create(f->s, r.case_no, 5, NULL, &at), STORE_CONFLICT);
	assert_int_equal(store_count(f->s, "ratings"), 1);
	assert_int_equal(store_count(f->s, "outbox"), 2);

	assert_int_equal(caseno_make(unknown, HALL, 777), 0);
	assert_int_equal(store_rating_create(f->s, unknown, 5, NULL, &at), STORE_NOT_FOUND);
	assert_int_equal(store_count(f->s, "outbox"), 2);

	/* the rating in the outbox */
	db = raw_open(f->path);
	rid = raw(db, "SELECT id FROM outbox WHERE type = 'rating' AND case_no = ?1", r.case_no);
	sqlite3_close(db);
	assert_non_null(rid);
	(void)id_seq(rid, 'R');
	j = outbox_json(f, rid);
	assert_string_equal(jstr(j, "id"), rid);
	assert_string_equal(jstr(j, "type"), "rating");
	assert_string_equal(jstr(j, "hall_code"), HALL);
	assert_string_equal(jstr(j, "case_no"), r.case_no);
	timefmt_rfc3339(ts, at);
	assert_string_equal(jstr(j, "at"), ts);
	assert_int_equal(json_integer_value(json_object_get(j, "level")), 2);
	assert_string_equal(jstr(j, "comment"), "没有解决问题");
	json_decref(j);
	free(rid);

	assert_int_equal(store_case_get(f->s, r.case_no, &v), STORE_OK);
	assert_int_equal(v.rating_level, 2);
	assert_int_equal(v.rating_at, at);
	case_view_free(&v);
}

static void
test_rating_statuses(void **state)
{
	static const struct {
		const char *status;
		enum store_rc want;
	} c[] = {
	    {"received", STORE_NOT_YET}, {"delivered", STORE_NOT_YET},
	    {"accepted", STORE_NOT_YET}, {"transferred", STORE_NOT_YET},
	    {"answered", STORE_OK},      {"resolved", STORE_OK},
	    {"rejected", STORE_OK},
	};
	struct fixture *f = *state;
	struct case_new cn = consultation();
	struct receipt r;
	time_t at;
	size_t i;
	long ok = 0;

	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		assert_int_equal(store_case_create(f->s, &f->cfg, &cn, &r), STORE_OK);
		set_status(f, r.case_no, c[i].status);
		if (store_rating_create(f->s, r.case_no, 4, NULL, &at) != c[i].want)
			fail_msg("status %s: want %d", c[i].status, c[i].want);
		ok += c[i].want == STORE_OK;
		assert_int_equal(store_count(f->s, "ratings"), ok);
	}
}

/* ---- health ----------------------------------------------------------------------- */

static void
test_health(void **state)
{
	struct fixture *f = *state;
	struct case_new c = consultation();
	struct sync_health h;
	struct receipt r;
	char seq[32];
	int i;

	assert_int_equal(store_health(f->s, NULL, &h), 0);
	assert_int_equal(h.backlog, 0);
	assert_int_equal(h.last_uplink_at, 0);
	assert_int_equal(h.last_downlink_at, 0);
	assert_int_equal(store_synced_at(f->s), 0);
	for (i = 0; i < 3; i++)
		assert_int_equal(store_case_create(f->s, &f->cfg, &c, &r), STORE_OK);
	assert_int_equal(store_health(f->s, NULL, &h), 0);
	assert_int_equal(h.backlog, 3);
	assert_int_equal(h.backlog, store_count(f->s, "outbox"));

	/* the county acknowledged all three, the province only the first */
	snprintf(seq, sizeof(seq), "%lld", raw_int(f->path, "SELECT max(seq) FROM outbox", NULL));
	raw_exec(f->path,
	         "UPDATE sync_dest SET acked_seq = ?1, last_success_at = 1795000000 "
	         "WHERE dest = 'county'",
	         seq);
	/* the province destination exists once its sink is configured */
	raw_exec(f->path, "INSERT INTO sync_dest (dest) VALUES ('province')", NULL);
	raw_exec(f->path,
	         "UPDATE sync_dest SET acked_seq = (SELECT min(seq) FROM outbox) "
	         "WHERE dest = 'province'",
	         NULL);
	assert_int_equal(store_health(f->s, NULL, &h), 0);
	assert_int_equal(h.backlog, 2);
	assert_int_equal(h.last_uplink_at, 1795000000);
	assert_int_equal(store_synced_at(f->s), 1795000000);
	raw_exec(f->path, "UPDATE sync_dest SET acked_seq = ?1", seq);
	assert_int_equal(store_health(f->s, NULL, &h), 0);
	assert_int_equal(h.backlog, 0);
}

/* ---- guides ----------------------------------------------------------------------- */

static void
add_guides(struct fixture *f)
{
	raw_exec(f->path,
	         "INSERT INTO guides (id, name, department, materials, time_limit, fees, "
	         "fee_basis, delivery, consult, address, hours, updated_at) VALUES "
	         "('g1', '户籍迁移', '公安派出所', '身份证\n户口簿', '5个工作日', '不收费', '', "
	         "'窗口领取', '0731-84567890', '便民服务中心1号窗口', '工作日 9:00-17:00', "
	         "1790000000),"
	         "('g2', '城乡居民医保参保登记', '医保站', '身份证', '即办', '不收费', '', "
	         "'当场办结', '0731-84567891', '便民服务中心2号窗口', '工作日 9:00-17:00', "
	         "1790000001),"
	         "('g3', '老年人优待证办理', '民政办', '身份证\n照片', '3个工作日', '不收费', "
	         "'湘民发〔2020〕1号', '邮寄', '0731-84567892', '便民服务中心3号窗口', "
	         "'工作日 9:00-17:00', 1790000002)",
	         NULL);
}

struct seen {
	int n;
	char ids[8][8];
	int stop_after;
};

static int
collect(const struct guide *g, void *arg)
{
	struct seen *s = arg;

	assert_non_null(g->name);
	assert_non_null(g->fee_basis);
	if (s->n < 8)
		snprintf(s->ids[s->n], sizeof(s->ids[0]), "%s", g->id);
	s->n++;
	return s->stop_after > 0 && s->n >= s->stop_after ? -1 : 0;
}

static int
search(struct fixture *f, const char *q, struct seen *s)
{
	memset(s, 0, sizeof(*s));
	return store_guides_search(f->s, q, collect, s);
}

static void
test_guides(void **state)
{
	static const char *const meta[] = {
	    "'",     "%",     "_",
	    "\"",    "%%",    "' OR '1'='1",
	    "%' --", "\\",    "'; DROP TABLE guides; --",
	    "*",     "[a-z]", "\"\"",
	};
	struct fixture *f = *state;
	struct guide g;
	struct seen s;
	size_t i;

	add_guides(f);
	assert_int_equal(search(f, "", &s), 0);
	assert_int_equal(s.n, 3);
	assert_int_equal(search(f, "户籍", &s), 0);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.ids[0], "g1");
	assert_int_equal(search(f, "医保站", &s), 0); /* by department */
	assert_int_equal(s.n, 1);
	assert_string_equal(s.ids[0], "g2");
	assert_int_equal(search(f, "办", &s), 0);
	assert_int_equal(s.n, 1); /* 老年人优待证办理 of 民政办: one guide */
	assert_int_equal(search(f, "民", &s), 0);
	assert_int_equal(s.n, 2); /* g2 by its name, g3 by its department */
	assert_int_equal(search(f, "驾驶证", &s), 0);
	assert_int_equal(s.n, 0);
	for (i = 0; i < sizeof(meta) / sizeof(meta[0]); i++) {
		if (search(f, meta[i], &s) != 0)
			fail_msg("search \"%s\" failed", meta[i]);
		if (s.n != 0)
			fail_msg("search \"%s\" found %d guides", meta[i], s.n);
	}
	assert_int_equal(store_count(f->s, "guides"), 3);
	/* the callback can stop the walk */
	memset(&s, 0, sizeof(s));
	s.stop_after = 1;
	assert_int_equal(store_guides_search(f->s, "", collect, &s), -1);
	assert_int_equal(s.n, 1);

	assert_int_equal(store_guide_get(f->s, "g3", &g), STORE_OK);
	assert_string_equal(g.id, "g3");
	assert_string_equal(g.name, "老年人优待证办理");
	assert_string_equal(g.department, "民政办");
	assert_string_equal(g.materials, "身份证\n照片");
	assert_string_equal(g.time_limit, "3个工作日");
	assert_string_equal(g.fees, "不收费");
	assert_string_equal(g.fee_basis, "湘民发〔2020〕1号");
	assert_string_equal(g.delivery, "邮寄");
	assert_string_equal(g.consult, "0731-84567892");
	assert_string_equal(g.address, "便民服务中心3号窗口");
	assert_string_equal(g.hours, "工作日 9:00-17:00");
	assert_int_equal(g.updated_at, 1790000002);
	guide_free(&g);
	guide_free(&g);
	guide_free(NULL);
	assert_int_equal(store_guide_get(f->s, "g9", &g), STORE_NOT_FOUND);
	assert_int_equal(store_guide_get(f->s, "' OR '1'='1", &g), STORE_NOT_FOUND);
	guide_free(&g);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_migrate_and_bind, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_open_fails, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_store_modes, setup, teardown),
	    cmocka_unit_test(test_umask_group),
	    cmocka_unit_test_setup_teardown(test_case_create, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_case_kinds_due, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_case_create_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dedup_replays, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_case_get, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_case_timeline_one_received, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_outbox_payload, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rating, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rating_statuses, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_health, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_guides, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
