/*
 * lib/store/retention.c for appointments (SPEC 11, sql/hall/009): an ended appointment
 * (cancelled, refused, attended, no_show, or its day past) whose records the county holds
 * keeps what the lookup shows with the phone masked, its records only id and hash; one the
 * county does not yet hold, or one booked for a day to come, is kept whole; with no county
 * configured (a province alone) nothing is removed; the purge deletes a minimized one
 * [retention] days past its day, with its events, records and resends, and its bytes leave
 * the file. Runs from the repository root on a temporary store.
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

static const char schedule[] =
    "{\"hall_code\":\"" HALL "\",\"version\":5,\"items\":[{\"id\":\"sfz-sl\","
    "\"name\":\"居民身份证申领\",\"guide_id\":null,\"place\":\"一楼 2 号窗口\",\"slots\":["
    "{\"weekday\":1,\"start\":\"09:00\",\"end\":\"09:30\",\"capacity\":9},"
    "{\"weekday\":2,\"start\":\"09:00\",\"end\":\"09:30\",\"capacity\":9},"
    "{\"weekday\":3,\"start\":\"09:00\",\"end\":\"09:30\",\"capacity\":9},"
    "{\"weekday\":4,\"start\":\"09:00\",\"end\":\"09:30\",\"capacity\":9},"
    "{\"weekday\":5,\"start\":\"09:00\",\"end\":\"09:30\",\"capacity\":9}]}],"
    "\"closed\":[]}";

/* Distinctive enough that finding them in the file's bytes means they are there. */
static const char *const names[] = {"司马预约甲", "司马预约乙", "司马预约丙", "司马预约丁"};
static const char *const phones[] = {"13712340001", "13712340002", "13712340003",
    "13712340004"};
static const char *const emails[] = {"yuyue-a@example.cn", "yuyue-b@example.cn",
    "yuyue-c@example.cn", "yuyue-d@example.cn"};

static int
first_slot(const struct ymd *d, const struct slot_def *s, void *arg)
{
	(void)s;
	slots_format_date(arg, d);
	return 1;
}

static int
setup_sched(void **state)
{
	struct fixture *f;

	if (setup(state) != 0)
		return -1;
	f = *state;
	f->cfg.appt_days_ahead = 14;
	f->cfg.county_user = (char *)"hall_" HALL;
	f->cfg.province_url = NULL;
	f->cfg.retention_days = 180;
	assert_int_equal(store_schedule_apply(f->s, 5, schedule), 1);
	return 0;
}

/* n appointments on the first bookable day, each with its own name, phone and e-mail. */
static void
book_n(struct fixture *f, size_t n, char no[][CASENO_LEN + 1])
{
	struct appt_booking b;
	struct appt_sched a;
	struct slots_in in;
	char date[11];
	size_t i;

	assert_int_equal(store_appt_sched(f->s, "sfz-sl", &a), STORE_OK);
	appt_sched_slots_in(&a, store_calendar(f->s), time(NULL), 14, &in);
	assert_int_equal(slots_generate(&in, NULL, first_slot, date), 1);
	appt_sched_free(&a);
	for (i = 0; i < n; i++) {
		memset(&b, 0, sizeof(b));
		b.cfg = &f->cfg;
		b.item = "sfz-sl";
		b.date = date;
		b.start = "09:00";
		b.name = names[i];
		b.phone = phones[i];
		b.email = emails[i];
		b.note = "带上户口本";
		assert_int_equal(store_appt_book(f->s, &b), STORE_OK);
		memcpy(no[i], b.appointment_no, CASENO_LEN + 1);
	}
}

/* The county takes every record due. */
static void
deliver(struct fixture *f)
{
	struct outbox_batch b;
	size_t i;

	assert_int_equal(outbox_dest_ensure(f->s, "county"), 0);
	assert_int_equal(outbox_next(f->s, "county", 100, 1 << 20, &b), 0);
	for (i = 0; i < b.n; i++)
		b.v[i].result = REC_ACCEPTED;
	assert_int_equal(outbox_ack(f->s, "county", &b, 100), 0);
	outbox_batch_free(&b);
}

static void
cancel(struct fixture *f, const char *no)
{
	struct appt_cancel c;

	memset(&c, 0, sizeof(c));
	snprintf(c.appointment_no, sizeof(c.appointment_no), "%s", no);
	assert_int_equal(store_appt_cancel(f->s, &c), STORE_OK);
}

/* Its day moved to days from today (negative: past), as if time had passed. */
static void
set_day(struct fixture *f, const char *no, int days)
{
	struct ymd t = slots_today(time(NULL)), d = slots_add_days(&t, days);
	char day[11], sql[160];

	slots_format_date(day, &d);
	snprintf(sql, sizeof(sql), "UPDATE appointments SET date = '%s' WHERE appointment_no = ?1",
	    day);
	raw_exec(f->path, sql, no);
}

static int
is_minimized(struct fixture *f, const char *no)
{
	sqlite3 *db = raw_open(f->path);
	char *name = raw(db, "SELECT name FROM appointments WHERE appointment_no = ?1", no);
	char *email = raw(db, "SELECT email FROM appointments WHERE appointment_no = ?1", no);
	char *note = raw(db, "SELECT note FROM appointments WHERE appointment_no = ?1", no);
	char *phone = raw(db, "SELECT phone FROM appointments WHERE appointment_no = ?1", no);
	char *at = raw(db, "SELECT minimized_at FROM appointments WHERE appointment_no = ?1", no);
	long long whole = raw_int(f->path, "SELECT count(*) FROM outbox WHERE case_no = ?1 "
					   "AND payload IS NOT NULL", no);
	int yes;

	sqlite3_close(db);
	assert_non_null(phone);
	assert_non_null(name);
	yes = *name == '\0' && email == NULL && note == NULL && strstr(phone, "****") != NULL &&
	    at != NULL && whole == 0;
	/* all or nothing: never a half-minimized appointment */
	if (!yes)
		assert_true(*name != '\0' && email != NULL && note != NULL &&
		    strstr(phone, "****") == NULL && at == NULL && whole > 0);
	free(name);
	free(email);
	free(note);
	free(phone);
	free(at);
	return yes;
}

static void
test_ended_and_held_only(void **state)
{
	struct fixture *f = *state;
	struct retention_report rep = {0};
	char no[4][CASENO_LEN + 1];
	struct appt_view v;

	/* 0 cancelled, 1 booked and to come, 2 booked, its day past; all delivered */
	book_n(f, 3, no);
	cancel(f, no[0]);
	set_day(f, no[2], -1);
	/* nothing before the county holds them */
	assert_int_equal(store_minimize(f->s, &f->cfg, time(NULL), &rep), 0);
	assert_int_equal(rep.appts_minimized, 0);
	assert_false(is_minimized(f, no[0]));
	assert_false(is_minimized(f, no[2]));

	deliver(f);
	assert_int_equal(store_minimize(f->s, &f->cfg, time(NULL), &rep), 0);
	assert_int_equal(rep.appts_minimized, 2);
	assert_true(is_minimized(f, no[0]));
	assert_false(is_minimized(f, no[1]));	/* a booking to come stays whole */
	assert_true(is_minimized(f, no[2]));

	/* the lookup still has what it shows, the phone masked */
	assert_int_equal(store_appt_get(f->s, no[0], &v), STORE_OK);
	assert_string_equal(v.phone, "137****0001");
	assert_string_equal(v.status, "cancelled");
	assert_string_equal(v.item_name, "居民身份证申领");
	assert_string_equal(v.name, "");
	assert_true(store_appt_code_ok(f->s, &v, v.query_code));
	appt_view_free(&v);

	/* a second pass finds nothing more */
	memset(&rep, 0, sizeof(rep));
	assert_int_equal(store_minimize(f->s, &f->cfg, time(NULL), &rep), 0);
	assert_int_equal(rep.appts_minimized, 0);
	assert_int_equal(rep.stripped, 0);
}

/* A cancellation the county has not yet taken keeps the appointment whole. */
static void
test_unheld_event_keeps_it(void **state)
{
	struct fixture *f = *state;
	struct retention_report rep = {0};
	char no[1][CASENO_LEN + 1];

	book_n(f, 1, no);
	deliver(f);
	cancel(f, no[0]);
	assert_int_equal(store_minimize(f->s, &f->cfg, time(NULL), &rep), 0);
	assert_false(is_minimized(f, no[0]));
	deliver(f);
	assert_int_equal(store_minimize(f->s, &f->cfg, time(NULL), &rep), 0);
	assert_true(is_minimized(f, no[0]));
}

/* A hall with a province but no county: no appointment is ever known to be held. */
static void
test_no_county_no_removal(void **state)
{
	struct fixture *f = *state;
	struct retention_report rep = {0};
	char no[1][CASENO_LEN + 1];

	book_n(f, 1, no);
	cancel(f, no[0]);
	f->cfg.county_user = NULL;
	f->cfg.province_url = (char *)"https://province.example/hall";
	f->cfg.retention_days = 0;
	set_day(f, no[0], -400);
	assert_int_equal(store_purge(f->s, &f->cfg, time(NULL), &rep), 0);
	assert_int_equal(rep.appts_minimized + rep.appts_purged, 0);
	assert_false(is_minimized(f, no[0]));
}

static void
test_purge_after_the_period(void **state)
{
	struct fixture *f = *state;
	struct retention_report rep = {0};
	char no[3][CASENO_LEN + 1];
	struct appt_view v;
	FILE *fp;
	char *bytes;
	long size;

	/* 0: 181 days past; 1: 179 days past; 2: cancelled, its day to come */
	book_n(f, 3, no);
	cancel(f, no[2]);
	deliver(f);
	assert_int_equal(store_appt_county_event(f->s, 7, no[0], "confirmed", NULL, time(NULL)),
	    0);
	set_day(f, no[0], -181);
	set_day(f, no[1], -179);
	assert_int_equal(store_purge(f->s, &f->cfg, time(NULL), &rep), 0);
	assert_int_equal(rep.appts_minimized, 3);
	assert_int_equal(rep.appts_purged, 1);
	assert_int_equal(store_appt_get(f->s, no[0], &v), STORE_NOT_FOUND);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM outbox WHERE case_no = ?1", no[0]),
	    0);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM appt_events "
					  "WHERE appointment_no = ?1", no[0]), 0);
	assert_true(is_minimized(f, no[1]));
	assert_true(is_minimized(f, no[2]));

	/* retention 0: whatever's day is past goes; the cancelled one to come waits its day */
	f->cfg.retention_days = 0;
	memset(&rep, 0, sizeof(rep));
	assert_int_equal(store_purge(f->s, &f->cfg, time(NULL), &rep), 0);
	assert_int_equal(rep.appts_purged, 1);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM appointments", NULL), 1);

	/* no name, phone or e-mail left in the file (secure_delete, checkpoint) */
	assert_int_equal(store_checkpoint(f->s), 0);
	assert_non_null(fp = fopen(f->path, "rb"));
	fseek(fp, 0, SEEK_END);
	size = ftell(fp);
	rewind(fp);
	assert_non_null(bytes = malloc((size_t)size));
	assert_int_equal(fread(bytes, 1, (size_t)size, fp), (size_t)size);
	fclose(fp);
	for (size_t i = 0; i < 3; i++) {
		assert_null(memmem(bytes, (size_t)size, names[i], strlen(names[i])));
		assert_null(memmem(bytes, (size_t)size, phones[i], strlen(phones[i])));
		assert_null(memmem(bytes, (size_t)size, emails[i], strlen(emails[i])));
	}
	free(bytes);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_ended_and_held_only, setup_sched, teardown),
	    cmocka_unit_test_setup_teardown(test_unheld_event_keeps_it, setup_sched, teardown),
	    cmocka_unit_test_setup_teardown(test_no_county_no_removal, setup_sched, teardown),
	    cmocka_unit_test_setup_teardown(test_purge_after_the_period, setup_sched, teardown),
	};

	log_init("test_appt_retention");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
