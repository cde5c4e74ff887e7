/*
 * lib/store/clock.c: the clock guard. A clock far ahead of the time the hall can vouch for
 * (the county's clock at its last contact, plus the boot time since when the machine has
 * not restarted) gets no numbers; an operator can vouch for the clock; a sequence wedged by
 * numbers from the future goes on after `hall-admin clock --continue` without ever
 * repeating a number. The reference is written into meta as hall-agent and hall-admin
 * would, with a raw connection where a test needs a past boot or a past county contact.
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
#include <unistd.h>
#include <cmocka.h>

#include <jansson.h>
#include <sqlite3.h>

#include "store.h"
#include "unit.h"
#include "store_fixture.h"

#define DAY (24 * 3600LL)

static void
this_boot(char out[40])
{
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");

	assert_non_null(f);
	assert_non_null(fgets(out, 40, f));
	out[strcspn(out, "\n")] = '\0';
	fclose(f);
}

static long long
boottime(void)
{
	struct timespec ts;

	assert_int_equal(clock_gettime(CLOCK_BOOTTIME, &ts), 0);
	return (long long)ts.tv_sec;
}

/* meta clock_ref as hall-agent writes it: the county's time, a boot id, that boot's clock. */
static void
set_ref(struct fixture *f, long long county_s, const char *boot, long long boot_s)
{
	char v[128];
	sqlite3 *db = raw_open(f->path);
	sqlite3_stmt *st;

	snprintf(v, sizeof(v), "%lld %s %lld", county_s, boot, boot_s);
	assert_int_equal(sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO meta (key, value) "
						"VALUES ('clock_ref', ?1)", -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_text(st, 1, v, -1, SQLITE_TRANSIENT);
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
	sqlite3_close(db);
}

static enum store_rc
submit(struct fixture *f, struct receipt *r)
{
	struct case_new c = consultation();

	return store_case_create(f->s, &f->cfg, &c, r);
}

/* No county contact yet: nothing to measure the clock against, numbers are issued. */
static void
test_no_reference_issues(void **state)
{
	struct fixture *f = *state;
	struct receipt r;
	struct clock_state st;

	assert_int_equal(submit(f, &r), STORE_OK);
	assert_int_equal(store_clock_state(f->s, &st), 0);
	assert_true(st.vouched == 0);
	assert_true(st.last_issued >= r.submitted_at - 1);
}

/* The county's clock noted just now: the hall's own clock agrees, numbers are issued. */
static void
test_noted_now_issues(void **state)
{
	struct fixture *f = *state;
	struct receipt r;
	struct clock_state st;

	assert_int_equal(store_clock_note(f->s, time(NULL)), 0);
	assert_int_equal(store_clock_state(f->s, &st), 0);
	assert_int_equal(st.same_boot, 1);
	assert_true(st.vouched >= time(NULL) - 2 && st.vouched <= time(NULL) + 2);
	assert_int_equal(submit(f, &r), STORE_OK);
}

/*
 * Offline for three days on the same boot, with a true clock: the boot time elapsed since
 * the contact vouches for the clock, and intake goes on.
 */
static void
test_offline_days_same_boot_issues(void **state)
{
	struct fixture *f = *state;
	struct receipt r;
	char boot[40];

	this_boot(boot);
	/* on a machine up for less than three days the boot time noted is below zero: the
	 * arithmetic is the same */
	set_ref(f, (long long)time(NULL) - 3 * DAY, boot, boottime() - 3 * DAY);
	assert_int_equal(submit(f, &r), STORE_OK);
}

/*
 * The clock jumped two days ahead of the county's clock, with no boot time to account for
 * it: refused, and nothing was written.
 */
static void
test_clock_ahead_same_boot_refused(void **state)
{
	struct fixture *f = *state;
	struct receipt r;
	char boot[40];
	long long before = store_count(f->s, "cases");

	this_boot(boot);
	set_ref(f, (long long)time(NULL) - 2 * DAY, boot, boottime());
	assert_int_equal(submit(f, &r), STORE_CLOCK);
	assert_int_equal(store_count(f->s, "cases"), before);
	/* a day and a little less is still within the guard */
	set_ref(f, (long long)time(NULL) - DAY + 60, boot, boottime());
	assert_int_equal(submit(f, &r), STORE_OK);
}

/*
 * After a restart the elapsed time is unknown: more than a day past the last county
 * contact is refused until an operator vouches for the clock (hall-admin clock
 * --trust-now), or the county is reached again.
 */
static void
test_restart_day_past_contact_refused_until_trusted(void **state)
{
	struct fixture *f = *state;
	struct receipt r;
	struct clock_state st;

	set_ref(f, (long long)time(NULL) - 2 * DAY, "00000000-0000-0000-0000-000000000000", 5);
	assert_int_equal(store_clock_state(f->s, &st), 0);
	assert_int_equal(st.same_boot, 0);
	assert_int_equal(submit(f, &r), STORE_CLOCK);
	assert_int_equal(store_clock_trust(f->s), 0);
	assert_int_equal(submit(f, &r), STORE_OK);

	set_ref(f, (long long)time(NULL) - 2 * DAY, "00000000-0000-0000-0000-000000000000", 5);
	assert_int_equal(submit(f, &r), STORE_CLOCK);
	assert_int_equal(store_clock_note(f->s, time(NULL)), 0);	/* the county again */
	assert_int_equal(submit(f, &r), STORE_OK);
}

/*
 * A wedged sequence: numbers were issued ten days in the future (before the guard, or a
 * clock vouched for wrongly), and the clock was put right. Refused, then after --continue
 * the numbers go on above the last one, never repeating, dated by the clock; the mark
 * --continue noted stays where it was.
 */
static void
test_wedged_sequence_continues_without_repeating(void **state)
{
	struct fixture *f = *state;
	struct receipt r1, r2, r3;
	uint64_t future = time_now_us() - CASENO_EPOCH_US + (uint64_t)(10 * DAY) * 1000000;
	char v[32];
	struct clock_state st;

	snprintf(v, sizeof(v), "%" PRIu64, future);
	raw_exec(f->path, "UPDATE meta SET value = ?1 WHERE key = 'last_seq'", v);
	raw_exec(f->path, "INSERT OR IGNORE INTO meta (key, value) VALUES ('last_seq', ?1)", v);
	assert_int_equal(submit(f, &r1), STORE_CLOCK);

	assert_int_equal(store_clock_continue(f->s), 0);
	assert_int_equal(submit(f, &r1), STORE_OK);
	assert_int_equal(submit(f, &r2), STORE_OK);
	/* each case takes two numbers (the case, its first event): a few microseconds up */
	assert_true(caseno_seq(r1.case_no) > future && caseno_seq(r1.case_no) <= future + 2);
	assert_true(caseno_seq(r2.case_no) > caseno_seq(r1.case_no));
	assert_true(caseno_seq(r2.case_no) <= future + 4);
	assert_true(r1.submitted_at <= time(NULL) && r1.submitted_at >= time(NULL) - 5);
	assert_int_equal(store_clock_state(f->s, &st), 0);
	assert_true(st.continue_until > time(NULL) + 9 * DAY);

	/* a group of writes (what hall-write does) goes on from the same mark */
	{
		struct case_new c = consultation();
		struct store_write w[2];
		struct receipt rr[2];
		int i;

		memset(w, 0, sizeof(w));
		for (i = 0; i < 2; i++) {
			w[i].kind = STORE_WRITE_CASE;
			w[i].cfg = &f->cfg;
			w[i].c = &c;
			w[i].receipt = &rr[i];
		}
		store_write_group(f->s, w, 2);
		assert_int_equal(w[0].rc, STORE_OK);
		assert_int_equal(w[1].rc, STORE_OK);
		assert_true(caseno_seq(rr[0].case_no) > caseno_seq(r2.case_no));
		assert_true(caseno_seq(rr[1].case_no) > caseno_seq(rr[0].case_no));
		assert_true(caseno_seq(rr[1].case_no) <= future + 8);
		r2 = rr[1];
	}
	assert_int_equal(submit(f, &r3), STORE_OK);
	assert_true(caseno_seq(r3.case_no) > caseno_seq(r2.case_no));
	assert_true(caseno_seq(r3.case_no) <= future + 10);
	assert_int_equal(raw_int(f->path, "SELECT count(DISTINCT case_no) = count(*) FROM cases",
			     NULL), 1);
}

/* A clock put back without --continue is refused, as before the guard. */
static void
test_clock_behind_refused_without_continue(void **state)
{
	struct fixture *f = *state;
	struct receipt r;
	uint64_t future = time_now_us() - CASENO_EPOCH_US + (uint64_t)DAY * 1000000;
	char v[32];

	snprintf(v, sizeof(v), "%" PRIu64, future);
	raw_exec(f->path, "INSERT OR REPLACE INTO meta (key, value) VALUES ('last_seq', ?1)", v);
	assert_int_equal(submit(f, &r), STORE_CLOCK);
	assert_int_equal(submit(f, &r), STORE_CLOCK);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_no_reference_issues, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_noted_now_issues, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_offline_days_same_boot_issues, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_clock_ahead_same_boot_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_restart_day_past_contact_refused_until_trusted,
		setup, teardown),
	    cmocka_unit_test_setup_teardown(test_wedged_sequence_continues_without_repeating,
		setup, teardown),
	    cmocka_unit_test_setup_teardown(test_clock_behind_refused_without_continue, setup,
		teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
