/*
 * lib/store/outbox.c and lib/store/downlink.c: the hall store as hall-agent sees it. Batches respect
 * their limits, a mark moves only with an acknowledgement, delivered cases get their event,
 * refused records are quarantined and never deleted, and the downlink is idempotent and
 * orders statuses by time, not by arrival.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <sodium.h>
#include <sqlite3.h>

#include "store.h"

#define HALL "430102001001"

struct fx {
	char dir[64], path[128];
	struct store *s;
	struct hall_config cfg;
	char case_no[5][CASENO_LEN + 1];
};

static long long
scalar(struct fx *f, const char *sql)
{
	sqlite3_stmt *st;
	long long v = -1;

	assert_int_equal(sqlite3_prepare_v2(store_sqlite(f->s), sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct calendar *cal = calendar_new();
	struct case_new c = {"consultation", "policy", "标题", "内容", "张三", "13800138000",
	    NULL, NULL, NULL, NULL, NULL, NULL, 0};
	struct receipt r;
	int i;

	snprintf(f->dir, sizeof(f->dir), "/tmp/test_outbox.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/hall.db", f->dir);
	snprintf(f->cfg.code, sizeof(f->cfg.code), "%s", HALL);
	f->cfg.consultation_days = 3;
	f->cfg.complaint_days = 5;
	f->cfg.unresolved_days = 2;
	assert_non_null(f->s = store_open(f->path, 0));
	assert_int_equal(store_migrate(f->s, "sql/hall"), 0);
	assert_int_equal(store_bind_hall(f->s, HALL), 0);
	assert_int_equal(store_calendar_import(f->s, cal, &f->cfg), 0);
	calendar_free(cal);
	assert_int_equal(outbox_dest_ensure(f->s, "county"), 0);
	for (i = 0; i < 5; i++) {
		assert_int_equal(store_case_create(f->s, &f->cfg, &c, &r), STORE_OK);
		memcpy(f->case_no[i], r.case_no, sizeof(r.case_no));
	}
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	store_close(f->s);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static void
test_batches_respect_limits(void **state)
{
	struct fx *f = *state;
	struct outbox_batch b;

	assert_int_equal(outbox_next(f->s, "county", 3, 1 << 20, &b), 0);
	assert_int_equal(b.n, 3);
	assert_true(b.v[0].seq < b.v[1].seq && b.v[1].seq < b.v[2].seq);
	assert_int_equal(b.last_seq, b.v[2].seq);
	outbox_batch_free(&b);
	/* a byte cap smaller than one record still carries one record */
	assert_int_equal(outbox_next(f->s, "county", 5, 10, &b), 0);
	assert_int_equal(b.n, 1);
	assert_true(b.bytes > 10);
	outbox_batch_free(&b);
	/* an unknown destination has nothing (no mark) rather than everything */
	assert_int_equal(outbox_next(f->s, "nowhere", 5, 1 << 20, &b), 0);
	assert_int_equal(b.n, 0);
	outbox_batch_free(&b);
}

static void
test_ack_moves_mark_and_delivers(void **state)
{
	struct fx *f = *state;
	struct outbox_status st;
	struct outbox_batch b;
	size_t i;

	assert_int_equal(outbox_status(f->s, "county", &st), 0);
	assert_int_equal(st.backlog, 5);
	assert_true(st.oldest_unsent > 0);
	assert_int_equal(outbox_next(f->s, "county", 2, 1 << 20, &b), 0);
	/* nothing moves before the acknowledgement */
	assert_int_equal(outbox_status(f->s, "county", &st), 0);
	assert_int_equal(st.backlog, 5);
	for (i = 0; i < b.n; i++)
		b.v[i].result = i == 0 ? REC_ACCEPTED : REC_DUPLICATE;
	assert_int_equal(outbox_ack(f->s, "county", &b, 1234), 0);
	outbox_batch_free(&b);
	assert_int_equal(outbox_status(f->s, "county", &st), 0);
	assert_int_equal(st.backlog, 3);
	assert_int_equal(st.records_sent, 2);
	assert_int_equal(st.bytes_sent, 1234);
	assert_true(st.last_success_at > 0);
	assert_int_equal(scalar(f, "SELECT count(*) FROM cases WHERE status = 'delivered'"), 2);
	assert_int_equal(scalar(f, "SELECT count(*) FROM case_events WHERE status = 'delivered'"), 2);
	/* acknowledging the same batch again changes nothing (no second delivered event) */
	assert_int_equal(outbox_next(f->s, "county", 5, 1 << 20, &b), 0);
	assert_int_equal(b.n, 3);
	outbox_batch_free(&b);
	assert_int_equal(scalar(f, "SELECT count(*) FROM outbox"), 5);
}

static void
test_unanswered_record_refuses_ack(void **state)
{
	struct fx *f = *state;
	struct outbox_status st;
	struct outbox_batch b;

	assert_int_equal(outbox_next(f->s, "county", 2, 1 << 20, &b), 0);
	b.v[0].result = REC_ACCEPTED; /* b.v[1] left pending: the sink lost its answer */
	assert_int_equal(outbox_ack(f->s, "county", &b, 0), -1);
	outbox_batch_free(&b);
	assert_int_equal(outbox_status(f->s, "county", &st), 0);
	assert_int_equal(st.backlog, 5);
	assert_int_equal(scalar(f, "SELECT count(*) FROM case_events WHERE status = 'delivered'"), 0);
}

static void
test_quarantine_keeps_records(void **state)
{
	struct fx *f = *state;
	struct outbox_status st;
	struct outbox_batch b;
	size_t i;

	assert_int_equal(outbox_next(f->s, "county", 5, 1 << 20, &b), 0);
	for (i = 0; i < b.n; i++)
		b.v[i].result = REC_ACCEPTED;
	outbox_rec_refuse(&b.v[1], REC_CONFLICT, "other content");
	outbox_rec_refuse(&b.v[3], REC_REJECTED, "unknown case");
	assert_int_equal(outbox_ack(f->s, "county", &b, 0), 0);
	outbox_batch_free(&b);
	assert_int_equal(outbox_status(f->s, "county", &st), 0);
	assert_int_equal(st.backlog, 0);
	assert_int_equal(st.quarantined, 2);
	assert_int_equal(scalar(f, "SELECT count(*) FROM outbox"), 5);
	assert_int_equal(scalar(f, "SELECT count(*) FROM quarantine WHERE result = 'conflict'"), 1);
	/* a quarantined case is not shown as delivered */
	assert_int_equal(scalar(f, "SELECT count(*) FROM cases WHERE status = 'delivered'"), 3);
}

/*
 * A record put back (hall-admin requeue) while a batch is on its way, read before the put
 * back: acknowledging that batch must not take the record off the queue, as it was never
 * sent.
 */
static void
test_requeue_during_a_send_is_kept(void **state)
{
	struct fx *f = *state;
	struct outbox_status st;
	struct outbox_batch b;
	struct case_new c = {"consultation", "policy", "后来", "内容", "李四", "13800138001",
	    NULL, NULL, NULL, NULL, NULL, NULL, 0};
	struct receipt r;
	const char *id;
	char held[64];
	size_t i;

	assert_int_equal(outbox_next(f->s, "county", 5, 1 << 20, &b), 0);
	for (i = 0; i < b.n; i++)
		b.v[i].result = REC_ACCEPTED;
	outbox_rec_refuse(&b.v[1], REC_REJECTED, "unknown case");
	snprintf(held, sizeof(held), "%s", b.v[1].id);
	assert_int_equal(outbox_ack(f->s, "county", &b, 0), 0);
	outbox_batch_free(&b);

	/* a new record read for sending; then the one set aside is put back */
	assert_int_equal(store_case_create(f->s, &f->cfg, &c, &r), STORE_OK);
	assert_int_equal(outbox_next(f->s, "county", 5, 1 << 20, &b), 0);
	assert_int_equal(b.n, 1);
	id = held;
	assert_int_equal(outbox_requeue(f->s, "county", &id, 1), 1);
	b.v[0].result = REC_ACCEPTED;
	assert_int_equal(outbox_ack(f->s, "county", &b, 0), 0);
	outbox_batch_free(&b);

	assert_int_equal(outbox_status(f->s, "county", &st), 0);
	assert_int_equal(st.backlog, 1);
	assert_int_equal(outbox_next(f->s, "county", 5, 1 << 20, &b), 0);
	assert_int_equal(b.n, 1);
	assert_string_equal(b.v[0].id, held);
	b.v[0].result = REC_ACCEPTED;
	assert_int_equal(outbox_ack(f->s, "county", &b, 0), 0);
	outbox_batch_free(&b);
	assert_int_equal(outbox_status(f->s, "county", &st), 0);
	assert_int_equal(st.backlog, 0);
	assert_int_equal(scalar(f, "SELECT count(*) FROM requeue"), 0);
}

static void
test_error_recorded_and_cleared(void **state)
{
	struct fx *f = *state;
	struct outbox_status st;

	assert_int_equal(outbox_error(f->s, "county", "connect: refused"), 0);
	assert_int_equal(outbox_status(f->s, "county", &st), 0);
	assert_string_equal(st.last_error, "connect: refused");
	assert_true(st.last_error_at > 0);
	assert_int_equal(outbox_error(f->s, "county", NULL), 0);
	assert_int_equal(outbox_status(f->s, "county", &st), 0);
	assert_string_equal(st.last_error, "");
}

static void
test_downlink_events_ordered_and_idempotent(void **state)
{
	struct fx *f = *state;
	struct case_view v;
	const char *cn = f->case_no[0];

	assert_int_equal(downlink_begin(f->s), 0);
	/* the answer arrives before the acceptance that happened earlier */
	assert_int_equal(downlink_event(f->s, 11, cn, "answered", "请带身份证到 3 号窗口。", "王科员",
			     1795000100), 0);
	assert_int_equal(downlink_event(f->s, 10, cn, "accepted", NULL, "王科员", 1795000000), 0);
	/* repeated after a lost acknowledgement */
	assert_int_equal(downlink_event(f->s, 11, cn, "answered", "请带身份证到 3 号窗口。", "王科员",
			     1795000100), 0);
	/* an event for a case this hall does not hold is ignored, not an error */
	assert_int_equal(downlink_event(f->s, 12, "43010200100127VN0000000X", "answered", "x", "a",
			     1795000200), 0);
	assert_int_equal(downlink_commit(f->s), 0);
	assert_int_equal(store_case_get(f->s, cn, &v), STORE_OK);
	assert_string_equal(v.status, "answered");
	assert_non_null(v.reply_text);
	assert_string_equal(v.reply_text, "请带身份证到 3 号窗口。");
	assert_int_equal(v.reply_at, 1795000100);
	assert_int_equal(v.nevents, 3); /* received, accepted, answered */
	case_view_free(&v);
	assert_int_equal(scalar(f, "SELECT count(*) FROM case_events WHERE id LIKE 'county-%'"), 2);
	assert_true(scalar(f, "SELECT value FROM meta WHERE key = 'last_downlink_at'") > 0);
}

static void
test_downlink_rejection_reason_is_reply(void **state)
{
	struct fx *f = *state;
	struct case_view v;

	assert_int_equal(downlink_begin(f->s), 0);
	assert_int_equal(downlink_event(f->s, 20, f->case_no[1], "rejected", "不属于本县受理范围。",
			     "李科员", 1795000000), 0);
	assert_int_equal(downlink_commit(f->s), 0);
	assert_int_equal(store_case_get(f->s, f->case_no[1], &v), STORE_OK);
	assert_string_equal(v.status, "rejected");
	assert_string_equal(v.reply_text, "不属于本县受理范围。");
	case_view_free(&v);
}

static void
test_downlink_guide_upsert(void **state)
{
	struct fx *f = *state;
	struct guide g = {"g-test", "测试事项", "县测试局", "材料一\n材料二", "3 个工作日", "不收费",
	    "", "窗口领取", "0731-1", "1 号窗口", "周一至周五", 1795000000};
	struct guide out;

	assert_int_equal(downlink_begin(f->s), 0);
	assert_int_equal(downlink_guide(f->s, &g), 0);
	g.time_limit = "即办件";
	assert_int_equal(downlink_guide(f->s, &g), 0);
	assert_int_equal(downlink_commit(f->s), 0);
	assert_int_equal(store_guide_get(f->s, "g-test", &out), STORE_OK);
	assert_string_equal(out.time_limit, "即办件");
	guide_free(&out);
	assert_int_equal(scalar(f, "SELECT count(*) FROM guides WHERE id = 'g-test'"), 1);
}

static void
test_downlink_calendar(void **state)
{
	struct fx *f = *state;
	const char *bad = "year 2027\n2027-02-30 holiday x\n";
	const char *good = "year 2027\n2027-01-01 holiday 元旦\n";

	assert_int_equal(downlink_begin(f->s), 0);
	/* a table the county got wrong is refused loudly but does not stop the downlink */
	assert_int_equal(downlink_calendar(f->s, &f->cfg, bad), 0);
	assert_int_equal(scalar(f, "SELECT count(*) FROM calendar_years WHERE year = 2027"), 0);
	assert_int_equal(downlink_calendar(f->s, &f->cfg, good), 0);
	assert_int_equal(downlink_commit(f->s), 0);
	assert_int_equal(scalar(f, "SELECT count(*) FROM calendar_years WHERE year = 2027"), 1);
	assert_int_equal(scalar(f, "SELECT count(*) FROM calendar_days WHERE day = '2027-01-01'"), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_batches_respect_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ack_moves_mark_and_delivers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unanswered_record_refuses_ack, setup, teardown),
		cmocka_unit_test_setup_teardown(test_quarantine_keeps_records, setup, teardown),
		cmocka_unit_test_setup_teardown(test_requeue_during_a_send_is_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_error_recorded_and_cleared, setup, teardown),
		cmocka_unit_test_setup_teardown(test_downlink_events_ordered_and_idempotent, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_downlink_rejection_reason_is_reply, setup, teardown),
		cmocka_unit_test_setup_teardown(test_downlink_guide_upsert, setup, teardown),
		cmocka_unit_test_setup_teardown(test_downlink_calendar, setup, teardown),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
