/*
 * Appointments at the hall store (lib/store/appointment.c, SPEC 4.5): the schedule document
 * applied only when newer (and a refused one leaves the held one whole); a booking checks
 * the item, the date (tomorrow .. days_ahead, a working day) and the start, never passes a
 * slot's capacity, and writes its `appointment` record for the county alone, with exact
 * bytes; a cancellation frees the place and writes an `appt_event` record; the code opens
 * the appointment; the county's confirmed and refused apply once. An e-mail address is
 * stored and carried in the record only when given (the others keep their bytes). A new
 * query code (lib/store/code.c with its appointment flag, SPEC 5.6) replaces the old code
 * and its MAC, writes the case's `code` record for the county alone, and keeps the case's
 * limits and refusals; a case's number is not an appointment's, nor the other way round.
 * Runs from the repository root on a temporary store.
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

/* Every day of the week has a slot at 09:00 (capacity 2); weekends count only when the
 * calendar makes them working days. */
static const char schedule[] =
    "{\"hall_code\":\"" HALL "\",\"version\":5,\"items\":[{\"id\":\"sfz-sl\","
    "\"name\":\"居民身份证申领\",\"guide_id\":null,\"place\":\"一楼 2 号窗口\",\"slots\":["
    "{\"weekday\":1,\"start\":\"09:00\",\"end\":\"09:30\",\"capacity\":2},"
    "{\"weekday\":2,\"start\":\"09:00\",\"end\":\"09:30\",\"capacity\":2},"
    "{\"weekday\":3,\"start\":\"09:00\",\"end\":\"09:30\",\"capacity\":2},"
    "{\"weekday\":4,\"start\":\"09:00\",\"end\":\"09:30\",\"capacity\":2},"
    "{\"weekday\":5,\"start\":\"09:00\",\"end\":\"09:30\",\"capacity\":2}]}],"
    "\"closed\":[]}";

static int
first_slot(const struct ymd *d, const struct slot_def *s, void *arg)
{
	(void)s;
	slots_format_date(arg, d);
	return 1;
}

/* The first bookable day from now, as the store will judge it. */
static void
bookable_day(struct fixture *f, char date[11])
{
	struct appt_sched a;
	struct slots_in in;

	assert_int_equal(store_appt_sched(f->s, "sfz-sl", &a), STORE_OK);
	appt_sched_slots_in(&a, store_calendar(f->s), time(NULL), 14, &in);
	assert_int_equal(slots_generate(&in, NULL, first_slot, date), 1);
	appt_sched_free(&a);
}

static int
setup_sched(void **state)
{
	struct fixture *f;

	if (setup(state) != 0)
		return -1;
	f = *state;
	f->cfg.appt_days_ahead = 14;
	assert_int_equal(store_schedule_apply(f->s, 5, schedule), 1);
	return 0;
}

static enum store_rc
book(struct fixture *f, const char *date, const char *start, struct appt_booking *b)
{
	memset(b, 0, sizeof(*b));
	b->cfg = &f->cfg;
	b->item = "sfz-sl";
	b->date = date;
	b->start = start;
	b->name = "张三";
	b->phone = "13800138000";
	return store_appt_book(f->s, b);
}

static void
test_schedule_newer_only(void **state)
{
	struct fixture *f = *state;
	char *old = strdup(schedule), *p;

	assert_int_equal(store_schedule_version(f->s), 5);
	/* the same again, and an older one arriving late: nothing */
	assert_int_equal(store_schedule_apply(f->s, 5, schedule), 0);
	assert_int_equal(store_schedule_apply(f->s, 4, "{\"items\":[]}"), 0);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM appt_slots", NULL), 5);
	/* refused documents leave the held one whole */
	assert_int_equal(store_schedule_apply(f->s, 6, "not json"), -2);
	assert_int_equal(store_schedule_apply(f->s, 6,
	    "{\"hall_code\":\"" OTHER_HALL "\",\"items\":[]}"), -2);
	assert_int_equal(store_schedule_apply(f->s, 6, "{\"items\":[{\"id\":\"x\",\"name\":\"x\","
	    "\"place\":\"x\",\"slots\":[{\"weekday\":8,\"start\":\"09:00\",\"end\":\"09:30\","
	    "\"capacity\":1}]}]}"), -2);
	assert_int_equal(store_schedule_apply(f->s, 6, "{\"items\":[{\"id\":\"x\",\"name\":\"x\","
	    "\"place\":\"x\",\"slots\":[{\"weekday\":1,\"start\":\"10:00\",\"end\":\"09:30\","
	    "\"capacity\":1}]}]}"), -2);
	assert_int_equal(store_schedule_version(f->s), 5);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM appt_slots", NULL), 5);
	/* a newer one replaces the items whole */
	p = strstr(old, "sfz-sl");
	memcpy(p, "hz-bl1", 6);
	assert_int_equal(store_schedule_apply(f->s, 7, old), 1);
	assert_int_equal(store_schedule_version(f->s), 7);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM appt_items WHERE id = 'sfz-sl'",
	    NULL), 0);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM appt_slots WHERE item = 'hz-bl1'",
	    NULL), 5);
	free(old);
}

static void
test_capacity_and_cancel(void **state)
{
	struct fixture *f = *state;
	struct appt_booking b1, b2, b3;
	struct appt_cancel c;
	char date[11];

	bookable_day(f, date);
	assert_int_equal(book(f, date, "09:00", &b1), STORE_OK);
	assert_int_equal(book(f, date, "09:00", &b2), STORE_OK);
	assert_string_not_equal(b1.appointment_no, b2.appointment_no);
	assert_true(caseno_valid(b1.appointment_no));
	assert_string_equal(b1.place, "一楼 2 号窗口");
	assert_string_equal(b1.end, "09:30");
	assert_int_equal(store_appt_taken(f->s, "sfz-sl", date, "09:00"), 2);
	assert_int_equal(book(f, date, "09:00", &b3), STORE_CONFLICT);
	assert_int_equal(b3.refused, APPT_FULL);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM appointments", NULL), 2);
	/* a cancellation frees the place */
	memset(&c, 0, sizeof(c));
	snprintf(c.appointment_no, sizeof(c.appointment_no), "%s", b1.appointment_no);
	assert_int_equal(store_appt_cancel(f->s, &c), STORE_OK);
	assert_int_equal(store_appt_cancel(f->s, &c), STORE_NOT_YET);
	assert_int_equal(book(f, date, "09:00", &b3), STORE_OK);
	assert_int_equal(book(f, date, "09:00", &b3), STORE_CONFLICT);
	snprintf(c.appointment_no, sizeof(c.appointment_no), "%s", "43010200100100000000000");
	assert_int_equal(store_appt_cancel(f->s, &c), STORE_NOT_FOUND);
}

static void
test_refusals(void **state)
{
	struct fixture *f = *state;
	struct appt_booking b;
	char date[11], today[11], far[11];
	struct ymd t = slots_today(time(NULL)), x;

	bookable_day(f, date);
	slots_format_date(today, &t);
	x = slots_add_days(&t, 15);
	slots_format_date(far, &x);
	assert_int_equal(book(f, today, "09:00", &b), STORE_NOT_FOUND);
	assert_int_equal(b.refused, APPT_PAST);
	assert_string_equal(appt_refusal_field(b.refused), "date");
	assert_int_equal(book(f, far, "09:00", &b), STORE_NOT_FOUND);
	assert_int_equal(b.refused, APPT_FAR);
	assert_int_equal(book(f, "2026-02-30", "09:00", &b), STORE_NOT_FOUND);
	assert_int_equal(b.refused, APPT_BAD_DATE);
	assert_int_equal(book(f, date, "10:00", &b), STORE_NOT_FOUND);
	assert_int_equal(b.refused, APPT_BAD_START);
	assert_string_equal(appt_refusal_field(b.refused), "start");
	/* a day off within the window: a weekend day that is not a make-up workday */
	for (int i = 1; i <= 14; i++) {
		x = slots_add_days(&t, i);
		if (slots_weekday(&x) >= 6 &&
		    !calendar_is_workday(store_calendar(f->s), x.y, x.m, x.d)) {
			char off[11];

			slots_format_date(off, &x);
			assert_int_equal(book(f, off, "09:00", &b), STORE_NOT_FOUND);
			assert_int_equal(b.refused, APPT_NOT_WORKDAY);
			break;
		}
	}
	memset(&b, 0, sizeof(b));
	b.cfg = &f->cfg;
	b.item = "nope";
	b.date = date;
	b.start = "09:00";
	b.name = "张三";
	b.phone = "13800138000";
	assert_int_equal(store_appt_book(f->s, &b), STORE_NOT_FOUND);
	assert_int_equal(b.refused, APPT_BAD_ITEM);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM appointments", NULL), 0);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM outbox", NULL), 0);
}

static void
test_record_bytes(void **state)
{
	struct fixture *f = *state;
	struct appt_booking b;
	struct appt_cancel c;
	struct appt_view v;
	char date[11], at[TIMEFMT_LEN], want[2048], *payload, *only;
	sqlite3 *db;

	bookable_day(f, date);
	assert_int_equal(book(f, date, "09:00", &b), STORE_OK);
	assert_int_equal(store_appt_get(f->s, b.appointment_no, &v), STORE_OK);
	assert_string_equal(v.status, "booked");
	assert_int_equal(strlen(v.query_mac), QUERY_MAC_HEX);
	assert_true(store_appt_code_ok(f->s, &v, b.query_code));
	assert_false(store_appt_code_ok(f->s, &v, "12345"));
	/* a code gone (as after a restore): the MAC still opens it, a wrong code does not */
	v.query_code[0] = '\0';
	assert_true(store_appt_code_ok(f->s, &v, b.query_code));
	assert_false(store_appt_code_ok(f->s, &v, strcmp(b.query_code, "000000") ? "000000" :
	    "000001"));
	timefmt_rfc3339(at, b.created_at);
	snprintf(want, sizeof(want),
	    "{\"id\":\"%s\",\"type\":\"appointment\",\"hall_code\":\"" HALL "\",\"case_no\":\"%s\","
	    "\"at\":\"%s\",\"item\":\"sfz-sl\",\"item_name\":\"居民身份证申领\",\"date\":\"%s\","
	    "\"start\":\"09:00\",\"end\":\"09:30\",\"place\":\"一楼 2 号窗口\",\"name\":\"张三\","
	    "\"phone\":\"13800138000\",\"note\":null,\"channel\":\"online\",\"query_mac\":\"%s\"}",
	    b.id, b.appointment_no, at, date, v.query_mac);
	appt_view_free(&v);
	db = raw_open(f->path);
	payload = raw(db, "SELECT payload FROM outbox WHERE id = ?1", b.id);
	only = raw(db, "SELECT only_for FROM outbox WHERE id = ?1", b.id);
	assert_string_equal(payload, want);
	assert_string_equal(only, "county");
	free(payload);
	free(only);
	assert_int_equal(id_seq(b.id, 'A'), caseno_seq(b.appointment_no));
	memset(&c, 0, sizeof(c));
	snprintf(c.appointment_no, sizeof(c.appointment_no), "%s", b.appointment_no);
	assert_int_equal(store_appt_cancel(f->s, &c), STORE_OK);
	timefmt_rfc3339(at, c.at);
	snprintf(want, sizeof(want),
	    "{\"id\":\"%s\",\"type\":\"appt_event\",\"hall_code\":\"" HALL "\",\"case_no\":\"%s\","
	    "\"at\":\"%s\",\"status\":\"cancelled\"}", c.id, b.appointment_no, at);
	payload = raw(db, "SELECT payload FROM outbox WHERE id = ?1", c.id);
	only = raw(db, "SELECT only_for FROM outbox WHERE id = ?1", c.id);
	assert_string_equal(payload, want);
	assert_string_equal(only, "county");
	free(payload);
	free(only);
	/* the outbox CHECK: these types are for the county alone */
	assert_int_not_equal(sqlite3_exec(db, "INSERT INTO outbox (id, type, case_no, at, payload) "
	    "VALUES ('x', 'appointment', 'n', 1, '{}')", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	/* and the province never reads them */
	{
		struct outbox_batch ob;

		assert_int_equal(outbox_next(f->s, "province", 100, 1 << 20, &ob), 0);
		assert_int_equal(ob.n, 0);
		outbox_batch_free(&ob);
		assert_int_equal(outbox_next(f->s, "county", 100, 1 << 20, &ob), 0);
		assert_int_equal(ob.n, 2);
		assert_string_equal(ob.v[0].type, "appointment");
		assert_string_equal(ob.v[1].type, "appt_event");
		outbox_batch_free(&ob);
	}
}

static void
test_county_events(void **state)
{
	struct fixture *f = *state;
	struct appt_booking b1, b2;
	struct appt_cancel c;
	struct appt_view v;
	char date[11];

	bookable_day(f, date);
	assert_int_equal(book(f, date, "09:00", &b1), STORE_OK);
	assert_int_equal(book(f, date, "09:00", &b2), STORE_OK);
	assert_int_equal(downlink_begin(f->s), 0);
	assert_int_equal(store_appt_county_event(f->s, 10, b1.appointment_no, "confirmed", NULL,
	    time(NULL)), 0);
	assert_int_equal(store_appt_county_event(f->s, 11, b2.appointment_no, "refused",
	    "该时段窗口检修", time(NULL)), 0);
	/* again (a lost acknowledgement): nothing more */
	assert_int_equal(store_appt_county_event(f->s, 11, b2.appointment_no, "refused",
	    "该时段窗口检修", time(NULL)), 0);
	assert_int_equal(store_appt_county_event(f->s, 12, "430102001001NOPE", "refused", "x",
	    time(NULL)), 0);
	assert_int_equal(downlink_commit(f->s), 0);
	assert_int_equal(store_appt_get(f->s, b1.appointment_no, &v), STORE_OK);
	assert_string_equal(v.status, "confirmed");
	appt_view_free(&v);
	assert_int_equal(store_appt_get(f->s, b2.appointment_no, &v), STORE_OK);
	assert_string_equal(v.status, "refused");
	assert_string_equal(v.reason, "该时段窗口检修");
	appt_view_free(&v);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM appt_events", NULL), 2);
	/* a refused one frees its place */
	assert_int_equal(store_appt_taken(f->s, "sfz-sl", date, "09:00"), 1);
	/* the citizen cancelled: a late confirmation does not undo it */
	memset(&c, 0, sizeof(c));
	snprintf(c.appointment_no, sizeof(c.appointment_no), "%s", b1.appointment_no);
	assert_int_equal(store_appt_cancel(f->s, &c), STORE_OK);
	assert_int_equal(downlink_begin(f->s), 0);
	assert_int_equal(store_appt_county_event(f->s, 13, b1.appointment_no, "confirmed", NULL,
	    time(NULL)), 0);
	assert_int_equal(downlink_commit(f->s), 0);
	assert_int_equal(store_appt_get(f->s, b1.appointment_no, &v), STORE_OK);
	assert_string_equal(v.status, "cancelled");
	appt_view_free(&v);
}

/* An e-mail address: stored, and in the record right after the phone; none: no member. */
static void
test_email(void **state)
{
	struct fixture *f = *state;
	struct appt_booking b;
	char date[11], *payload, *email;
	sqlite3 *db;
	const char *at;

	bookable_day(f, date);
	memset(&b, 0, sizeof(b));
	b.cfg = &f->cfg;
	b.item = "sfz-sl";
	b.date = date;
	b.start = "09:00";
	b.name = "张三";
	b.phone = "13800138000";
	b.email = "zhang@example.cn";
	assert_int_equal(store_appt_book(f->s, &b), STORE_OK);
	db = raw_open(f->path);
	payload = raw(db, "SELECT payload FROM outbox WHERE id = ?1", b.id);
	email = raw(db, "SELECT email FROM appointments WHERE id = ?1", b.id);
	assert_string_equal(email, "zhang@example.cn");
	at = strstr(payload, "\"phone\":\"13800138000\",\"email\":\"zhang@example.cn\","
			     "\"note\":null,");
	assert_non_null(at);
	free(payload);
	free(email);
	/* without one: NULL, and no "email" in the record */
	assert_int_equal(book(f, date, "09:00", &b), STORE_OK);
	payload = raw(db, "SELECT payload FROM outbox WHERE id = ?1", b.id);
	email = raw(db, "SELECT email FROM appointments WHERE id = ?1", b.id);
	assert_null(email);
	assert_null(strstr(payload, "email"));
	free(payload);
	sqlite3_close(db);
}

static enum store_rc
appt_resend(struct fixture *f, const char *no, int appointment, struct code_resend *cr)
{
	memset(cr, 0, sizeof(*cr));
	snprintf(cr->case_no, sizeof(cr->case_no), "%s", no);
	cr->appointment = appointment;
	return store_code_resend(f->s, cr);
}

static int
appt_opens(struct fixture *f, const char *no, const char *code)
{
	struct appt_view v;
	int ok;

	assert_int_equal(store_appt_get(f->s, no, &v), STORE_OK);
	ok = store_appt_code_ok(f->s, &v, code);
	appt_view_free(&v);
	return ok;
}

static void
test_resend_code(void **state)
{
	struct fixture *f = *state;
	struct appt_booking b;
	struct code_resend cr;
	struct receipt r;
	struct case_new c = consultation();
	char date[11], mac[65], *have;
	sqlite3 *db;
	json_t *j;

	bookable_day(f, date);
	assert_int_equal(book(f, date, "09:00", &b), STORE_OK);
	assert_int_equal(appt_resend(f, b.appointment_no, 1, &cr), STORE_OK);
	assert_int_equal(cr.refused, CODE_ISSUED);
	assert_string_equal(cr.sent_to, "*******8000");
	assert_int_equal(strlen(cr.code), 6);
	assert_string_not_equal(cr.code, b.query_code);
	/* the old code stops working at once; the new one opens it; the MAC is the new code's */
	assert_false(appt_opens(f, b.appointment_no, b.query_code));
	assert_true(appt_opens(f, b.appointment_no, cr.code));
	assert_int_equal(store_query_mac(f->s, b.appointment_no, cr.code, mac), 0);
	db = raw_open(f->path);
	have = raw(db, "SELECT query_mac FROM appointments WHERE appointment_no = ?1",
	    b.appointment_no);
	sqlite3_close(db);
	assert_string_equal(have, mac);
	free(have);
	/* the case's record, for the county alone, case_no the appointment's number */
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM outbox WHERE type = 'code' AND "
					  "only_for = 'county' AND case_no = ?1", b.appointment_no), 1);
	j = outbox_json(f, cr.id);
	assert_string_equal(jstr(j, "type"), "code");
	assert_string_equal(jstr(j, "case_no"), b.appointment_no);
	assert_string_equal(jstr(j, "code"), cr.code);
	assert_string_equal(jstr(j, "query_mac"), mac);
	assert_int_equal(json_object_size(j), 7);
	json_decref(j);
	/* the same limits: a second within 10 minutes is refused and writes nothing */
	assert_int_equal(appt_resend(f, b.appointment_no, 1, &cr), STORE_CONFLICT);
	assert_int_equal(cr.refused, CODE_TOO_SOON);
	assert_true(cr.retry_after > 0 && cr.retry_after <= 600);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM code_resends WHERE case_no = ?1",
			     b.appointment_no), 1);
	/* an appointment's number is no case, and a case's no appointment */
	assert_int_equal(appt_resend(f, b.appointment_no, 0, &cr), STORE_NOT_FOUND);
	assert_int_equal(store_case_create(f->s, &f->cfg, &c, &r), STORE_OK);
	assert_int_equal(appt_resend(f, r.case_no, 1, &cr), STORE_NOT_FOUND);
	{
		struct case_view v;

		assert_int_equal(store_case_get(f->s, r.case_no, &v), STORE_OK);
		assert_true(store_case_code_ok(f->s, &v, r.query_code));
		case_view_free(&v);
	}
}

static void
test_resend_refusals(void **state)
{
	struct fixture *f = *state;
	struct appt_booking b, land;
	struct appt_cancel c = {0};
	struct code_resend cr;
	char date[11];

	bookable_day(f, date);
	memset(&land, 0, sizeof(land));
	land.cfg = &f->cfg;
	land.item = "sfz-sl";
	land.date = date;
	land.start = "09:00";
	land.name = "李四";
	land.phone = "073184512345";
	assert_int_equal(store_appt_book(f->s, &land), STORE_OK);
	assert_int_equal(appt_resend(f, land.appointment_no, 1, &cr), STORE_CONFLICT);
	assert_int_equal(cr.refused, CODE_NO_MOBILE);
	assert_true(appt_opens(f, land.appointment_no, land.query_code));
	/* cancelled long ago: closed, as a case resolved long ago */
	assert_int_equal(book(f, date, "09:00", &b), STORE_OK);
	snprintf(c.appointment_no, sizeof(c.appointment_no), "%s", b.appointment_no);
	assert_int_equal(store_appt_cancel(f->s, &c), STORE_OK);
	raw_exec(f->path, "UPDATE appointments SET updated_at = updated_at - 31 * 86400 "
			  "WHERE appointment_no = ?1", b.appointment_no);
	assert_int_equal(appt_resend(f, b.appointment_no, 1, &cr), STORE_CONFLICT);
	assert_int_equal(cr.refused, CODE_CLOSED);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM outbox WHERE type = 'code'",
			     NULL), 0);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM code_resends", NULL), 0);
	/* three in a rolling day, then none */
	raw_exec(f->path, "UPDATE appointments SET updated_at = strftime('%s', 'now') "
			  "WHERE appointment_no = ?1", b.appointment_no);
	assert_int_equal(appt_resend(f, b.appointment_no, 1, &cr), STORE_OK);
	raw_exec(f->path, "UPDATE code_resends SET at = at - 601", NULL);
	assert_int_equal(appt_resend(f, b.appointment_no, 1, &cr), STORE_OK);
	raw_exec(f->path, "UPDATE code_resends SET at = at - 601", NULL);
	assert_int_equal(appt_resend(f, b.appointment_no, 1, &cr), STORE_OK);
	raw_exec(f->path, "UPDATE code_resends SET at = at - 601", NULL);
	assert_int_equal(appt_resend(f, b.appointment_no, 1, &cr), STORE_CONFLICT);
	assert_int_equal(cr.refused, CODE_DAY_LIMIT);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_schedule_newer_only, setup_sched, teardown),
	    cmocka_unit_test_setup_teardown(test_capacity_and_cancel, setup_sched, teardown),
	    cmocka_unit_test_setup_teardown(test_refusals, setup_sched, teardown),
	    cmocka_unit_test_setup_teardown(test_record_bytes, setup_sched, teardown),
	    cmocka_unit_test_setup_teardown(test_county_events, setup_sched, teardown),
	    cmocka_unit_test_setup_teardown(test_email, setup_sched, teardown),
	    cmocka_unit_test_setup_teardown(test_resend_code, setup_sched, teardown),
	    cmocka_unit_test_setup_teardown(test_resend_refusals, setup_sched, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
