/*
 * lib/store/: the hall store's writes that share a commit (the group write and the commit
 * group's threads), its read-only side, case numbers that never repeat across reinstalls,
 * and calendar imports; on a temporary SQLite file (tests/unit/store_fixture.h).
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
#include <signal.h>
#include <unistd.h>
#include <sys/resource.h>
#include <cmocka.h>

#include <jansson.h>
#include <sqlite3.h>

#include "store.h"
#include "unit.h"
#include "store_fixture.h"

/* ---- read-only -------------------------------------------------------------------- */

/* ---- group commit ----------------------------------------------------------------- */

/* One transaction for several writes: the ones that fail are undone alone. */
static void
test_write_group_isolates_failures(void **state)
{
	struct fixture *f = *state;
	struct case_new c1 = consultation(), c2 = consultation(), keyed = consultation();
	struct receipt first, r1, r2, r3;
	char unknown[CASENO_LEN + 1];
	time_t at1 = 0, at2 = 0;
	struct store_write w[5] = {0};

	keyed.dedup_key = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
	assert_int_equal(store_case_create(f->s, &f->cfg, &keyed, &first), STORE_OK);
	assert_int_equal(caseno_make(unknown, HALL, 777), 0);
	c2.subject = "第二个咨询";

	w[0] = (struct store_write){.kind = STORE_WRITE_CASE, .cfg = &f->cfg, .c = &c1,
	    .receipt = &r1};
	w[1] = (struct store_write){.kind = STORE_WRITE_RATING, .case_no = first.case_no,
	    .level = 5, .at = &at1};	/* not answered yet */
	w[2] = (struct store_write){.kind = STORE_WRITE_CASE, .cfg = &f->cfg, .c = &c2,
	    .receipt = &r2};
	w[3] = (struct store_write){.kind = STORE_WRITE_RATING, .case_no = unknown, .level = 4,
	    .at = &at2};
	w[4] = (struct store_write){.kind = STORE_WRITE_CASE, .cfg = &f->cfg, .c = &keyed,
	    .receipt = &r3};	/* the same key again: the first receipt */
	store_write_group(f->s, w, 5);

	assert_int_equal(w[0].rc, STORE_OK);
	assert_int_equal(w[1].rc, STORE_NOT_YET);
	assert_int_equal(w[2].rc, STORE_OK);
	assert_int_equal(w[3].rc, STORE_NOT_FOUND);
	assert_int_equal(w[4].rc, STORE_OK);
	assert_int_equal(r3.replayed, 1);
	assert_string_equal(r3.case_no, first.case_no);
	assert_string_not_equal(r1.case_no, r2.case_no);
	assert_true(caseno_seq(r1.case_no) < caseno_seq(r2.case_no));
	assert_int_equal(store_count(f->s, "cases"), 3);
	assert_int_equal(store_count(f->s, "ratings"), 0);
	assert_int_equal(store_count(f->s, "outbox"), 3);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM outbox WHERE case_no = ?1",
			     r2.case_no), 1);
}

struct writer {
	struct commit_group *g;
	struct fixture *f;
	struct receipt r[100];
	int failed;
};

static void *
writer_run(void *arg)
{
	struct writer *wr = arg;
	struct case_new c = consultation();
	size_t i;

	for (i = 0; i < 100; i++) {
		struct store_write w = {.kind = STORE_WRITE_CASE, .cfg = &wr->f->cfg, .c = &c,
		    .receipt = &wr->r[i]};

		commit_group_write(wr->g, &w);
		if (w.rc != STORE_OK)
			wr->failed++;
	}
	return NULL;
}

static int
cmp_caseno(const void *a, const void *b)
{
	return strcmp(((const struct receipt *)a)->case_no, ((const struct receipt *)b)->case_no);
}

/* Eight threads through one group: every case stored once, every number distinct. */
static void
test_commit_group_threads(void **state)
{
	struct fixture *f = *state;
	struct commit_group *g = commit_group_new(f->s);
	static struct writer wr[8];
	static struct receipt all[800];
	pthread_t t[8];
	unsigned long groups, writes;
	size_t i;

	assert_non_null(g);
	for (i = 0; i < 8; i++) {
		wr[i] = (struct writer){.g = g, .f = f};
		assert_int_equal(pthread_create(&t[i], NULL, writer_run, &wr[i]), 0);
	}
	for (i = 0; i < 8; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(wr[i].failed, 0);
		memcpy(&all[i * 100], wr[i].r, sizeof(wr[i].r));
	}
	commit_group_stats(g, &groups, &writes);
	assert_int_equal(writes, 800);
	assert_true(groups >= 1 && groups <= 800);
	print_message("800 writes in %lu commits\n", groups);
	qsort(all, 800, sizeof(all[0]), cmp_caseno);
	for (i = 1; i < 800; i++)
		assert_string_not_equal(all[i - 1].case_no, all[i].case_no);
	assert_int_equal(store_count(f->s, "cases"), 800);
	assert_int_equal(store_count(f->s, "outbox"), 800);
	commit_group_free(g);
}

/*
 * A write alone, each time to a committer asleep with nothing to do: it is woken, commits
 * the write alone and answers, every time; the write is in the store when it returns.
 */
static void
test_commit_group_lone_writes(void **state)
{
	struct fixture *f = *state;
	struct commit_group *g = commit_group_new(f->s);
	struct case_new c = consultation();
	struct receipt r[3];
	unsigned long groups, writes;
	int i;

	assert_non_null(g);
	for (i = 0; i < 3; i++) {
		struct store_write w = {.kind = STORE_WRITE_CASE, .cfg = &f->cfg, .c = &c,
		    .receipt = &r[i]};

		usleep(20000);	/* the committer is asleep by then */
		commit_group_write(g, &w);
		assert_int_equal(w.rc, STORE_OK);
		assert_int_equal(raw_int(f->path, "SELECT count(*) FROM cases WHERE case_no = ?1",
		    r[i].case_no), 1);
	}
	commit_group_stats(g, &groups, &writes);
	assert_int_equal(groups, 3);
	assert_int_equal(writes, 3);
	commit_group_free(g);
}

/*
 * A commit the disk refuses (here: no file may grow, RLIMIT_FSIZE 0) fails every write of
 * its group through the committer, none of them is stored, and the committer goes on: the
 * next write, once the disk takes it again, commits.
 */
static void
test_commit_group_refused_commit(void **state)
{
	struct fixture *f = *state;
	struct commit_group *g = commit_group_new(f->s);
	struct case_new c = consultation();
	struct receipt r;
	struct store_write w = {.kind = STORE_WRITE_CASE, .cfg = &f->cfg, .c = &c, .receipt = &r};
	struct rlimit was, none = {0, 0};
	void (*sigxfsz)(int);

	assert_non_null(g);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &was), 0);
	none.rlim_max = was.rlim_max;
	sigxfsz = signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &none), 0);
	commit_group_write(g, &w);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &was), 0);
	signal(SIGXFSZ, sigxfsz);
	assert_int_equal(w.rc, STORE_ERR);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM cases", NULL), 0);
	commit_group_write(g, &w);
	assert_int_equal(w.rc, STORE_OK);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM cases", NULL), 1);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM outbox", NULL), 1);
	commit_group_free(g);
}

static int
pragma_int(struct store *s, const char *sql)
{
	sqlite3_stmt *st;
	int v;

	assert_int_equal(sqlite3_prepare_v2(store_sqlite(s), sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return v;
}

/*
 * The group's connection keeps its savepoints' journals in memory (temp_store=MEMORY, 2):
 * by default SQLite spills one past 64 KiB to /var/tmp, which put citizens' submissions in
 * files outside the store on nearly every group commit of a busy hall.
 */
static void
test_group_journal_in_memory(void **state)
{
	struct fixture *f = *state;
	struct commit_group *g;

	assert_int_equal(pragma_int(f->s, "PRAGMA temp_store"), 0);
	assert_non_null(g = commit_group_new(f->s));
	assert_int_equal(pragma_int(f->s, "PRAGMA temp_store"), 2);
	commit_group_free(g);
}

static void
test_readonly(void **state)
{
	struct fixture *f = *state;
	struct case_new c = consultation();
	struct case_view v;
	struct receipt r, r2;
	struct store *ro;
	time_t at;

	assert_int_equal(store_case_create(f->s, &f->cfg, &c, &r), STORE_OK);
	assert_non_null(ro = store_open(f->path, 1));
	assert_int_equal(store_bind_hall(ro, HALL), 0);
	assert_int_equal(store_bind_hall(ro, OTHER_HALL), -1);
	/* reads work */
	assert_int_equal(store_case_get(ro, r.case_no, &v), STORE_OK);
	assert_string_equal(v.case_no, r.case_no);
	case_view_free(&v);
	/* writes do not */
	assert_int_equal(store_case_create(ro, &f->cfg, &c, &r2), STORE_ERR);
	set_status(f, r.case_no, "answered");
	assert_int_equal(store_rating_create(ro, r.case_no, 5, NULL, &at), STORE_ERR);
	assert_int_equal(store_count(f->s, "cases"), 1);
	assert_int_equal(store_count(f->s, "outbox"), 1);
	assert_int_equal(store_count(f->s, "ratings"), 0);
	store_close(ro);
}

/* ---- the key property: numbers never repeat --------------------------------------- */

struct issued {
	char case_no[CASENO_LEN + 1];
	char id[48];
	uint64_t seq;
};

static void
issue(struct store *s, struct fixture *f, struct issued *out, size_t n)
{
	struct case_new c = consultation();
	struct receipt r;
	size_t i;

	for (i = 0; i < n; i++) {
		assert_int_equal(store_case_create(s, &f->cfg, &c, &r), STORE_OK);
		assert_int_equal(caseno_valid(r.case_no), 1);
		memcpy(out[i].case_no, r.case_no, sizeof(r.case_no));
		memcpy(out[i].id, r.id, sizeof(r.id));
		out[i].seq = id_seq(r.id, 'C');
		assert_true(caseno_seq(r.case_no) == out[i].seq);
	}
}

/*
 * A reinstalled box: the store is deleted (with its WAL and shared memory) and made again
 * from the migrations. Nothing it issues may collide with what the old store issued, and
 * the sequences carry on above the old ones.
 */
static void
test_numbers_never_repeat(void **state)
{
	enum { N = 40 };
	struct fixture *f = *state;
	struct issued *a = calloc(3 * N, sizeof(*a));
	uint64_t old_max = 0, mid_max = 0;
	size_t i, j;

	assert_non_null(a);
	issue(f->s, f, a, N);
	for (i = 0; i < N; i++)
		if (a[i].seq > old_max)
			old_max = a[i].seq;
	assert_int_equal(store_count(f->s, "cases"), N);

	store_close(f->s);
	remove_db(f->path);
	assert_int_equal(access(f->path, F_OK), -1);
	f->s = open_new(f->path);
	assert_int_equal(store_count(f->s, "cases"), 0);
	issue(f->s, f, a + N, N);
	for (i = N; i < 2 * N; i++) {
		if (a[i].seq <= old_max)
			fail_msg("new store issued seq %" PRIu64 " <= old %" PRIu64, a[i].seq,
			         old_max);
		if (a[i].seq > mid_max)
			mid_max = a[i].seq;
	}

	/* and once more, without the calendar import this time */
	store_close(f->s);
	remove_db(f->path);
	f->s = open_new(f->path);
	issue(f->s, f, a + 2 * N, N);
	for (i = 2 * N; i < 3 * N; i++)
		assert_true(a[i].seq > mid_max);

	for (i = 0; i < 3 * N; i++)
		for (j = i + 1; j < 3 * N; j++) {
			if (strcmp(a[i].case_no, a[j].case_no) == 0)
				fail_msg("case_no %s issued twice (%zu, %zu)", a[i].case_no, i, j);
			if (strcmp(a[i].id, a[j].id) == 0)
				fail_msg("id %s issued twice (%zu, %zu)", a[i].id, i, j);
		}
	/* within one store, in issue order */
	for (i = 1; i < 3 * N; i++)
		assert_true(a[i].seq > a[i - 1].seq);
	free(a);
}

/* ---- calendar import -------------------------------------------------------------- */

/*
 * Set up with only 2025 imported while the clock is in 2026: new deadlines are provisional.
 * Importing 2026 recomputes the open ones, and counts them, but leaves answered cases alone.
 */
static void
test_calendar_recomputes(void **state)
{
	struct fixture *f = *state;
	struct case_new c = consultation();
	struct calendar *full;
	struct case_view v;
	struct receipt open1, open2, answered;
	time_t now = time(NULL) + HALL_TZ_OFFSET;
	struct tm tm;
	int prov, year;

	assert_non_null(gmtime_r(&now, &tm));
	year = tm.tm_year + 1900;
	assert_true(year >= 2026);
	assert_false(calendar_has_year(store_calendar(f->s), 2026));

	assert_int_equal(store_case_create(f->s, &f->cfg, &c, &open1), STORE_OK);
	c.kind = "complaint";
	c.category = NULL;
	assert_int_equal(store_case_create(f->s, &f->cfg, &c, &open2), STORE_OK);
	assert_int_equal(store_case_create(f->s, &f->cfg, &c, &answered), STORE_OK);
	assert_int_equal(open1.due_provisional, 1);
	assert_int_equal(open2.due_provisional, 1);
	assert_int_equal(answered.due_provisional, 1);
	set_status(f, answered.case_no, "answered");

	/* the county publishes 2026 (and the following year, should the clock be there) */
	full = calendar_new();
	assert_non_null(full);
	unit_calendar_load(full, "conf/calendar/2026.txt");
	if (year > 2026)
		assert_int_equal(calendar_add_year(full, year), 0);
	assert_int_equal(calendar_add_year(full, year + 1), 0);
	assert_int_equal(store_calendar_import(f->s, full, &f->cfg), 2);
	assert_true(calendar_has_year(store_calendar(f->s), 2026));
	assert_true(calendar_has_year(store_calendar(f->s), 2025));

	assert_int_equal(store_case_get(f->s, open1.case_no, &v), STORE_OK);
	assert_int_equal(v.due_provisional, 0);
	assert_int_equal(v.due_at, calendar_due(store_calendar(f->s), v.submitted_at, 3, &prov));
	assert_int_equal(prov, 0);
	case_view_free(&v);
	assert_int_equal(store_case_get(f->s, open2.case_no, &v), STORE_OK);
	assert_int_equal(v.due_provisional, 0);
	assert_int_equal(v.due_at, calendar_due(store_calendar(f->s), v.submitted_at, 5, &prov));
	case_view_free(&v);
	assert_int_equal(store_case_get(f->s, answered.case_no, &v), STORE_OK);
	assert_int_equal(v.due_provisional, 1);
	case_view_free(&v);

	/* nothing left to recompute; new cases are not provisional */
	assert_int_equal(store_calendar_import(f->s, full, &f->cfg), 0);
	c = consultation();
	assert_int_equal(store_case_create(f->s, &f->cfg, &c, &open1), STORE_OK);
	assert_int_equal(open1.due_provisional, 0);
	calendar_free(full);
}

/* An imported year's table replaces what the store held for that year. */
static void
test_calendar_replaces_year(void **state)
{
	struct fixture *f = *state;
	struct calendar *rev = calendar_new();
	const char *text = "year 2026\n2026-12-01 holiday 测试\n";
	char err[128];

	assert_non_null(rev);
	assert_int_equal(calendar_is_workday(store_calendar(f->s), 2026, 10, 1), 0);
	assert_int_equal(calendar_parse(rev, text, strlen(text), err, sizeof(err)), 0);
	assert_int_equal(store_calendar_import(f->s, rev, &f->cfg), 0);
	assert_int_equal(calendar_is_workday(store_calendar(f->s), 2026, 12, 1), 0);
	assert_int_equal(calendar_is_workday(store_calendar(f->s), 2026, 10, 1), 1);
	assert_int_equal(calendar_is_workday(store_calendar(f->s), 2025, 10, 1), 0);
	calendar_free(rev);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_write_group_isolates_failures, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_commit_group_threads, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_commit_group_lone_writes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_commit_group_refused_commit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_readonly, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_group_journal_in_memory, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_numbers_never_repeat, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_calendar_recomputes, setup_2025_only, teardown),
	    cmocka_unit_test_setup_teardown(test_calendar_replaces_year, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
