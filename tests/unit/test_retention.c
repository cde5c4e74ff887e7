/*
 * lib/store/retention.c: personal data at the hall (SPEC 11). A closed case every
 * configured destination holds loses its name, full phone and e-mail, its records keep
 * only id and hash; an open, undelivered, set-aside or put-back case keeps everything; the
 * purge deletes only what is minimized, closed and old enough, and the bytes are gone from
 * the file and its WAL. Runs from the repository root on a temporary store.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <limits.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <cmocka.h>

#include <sodium.h>
#include <jansson.h>
#include <sqlite3.h>

#include "store.h"
#include "web.h"
#include "unit.h"
#include "store_fixture.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Distinctive enough that finding them in the file's bytes means they are there. */
static const char *const names[] = {"欧阳青蓝甲", "欧阳青蓝乙", "欧阳青蓝丙", "欧阳青蓝丁"};
static const char *const phones[] = {"13912340001", "13912340002", "13912340003", "13912340004"};
static const char *const emails[] = {"qinglan-a@example.cn", "qinglan-b@example.cn",
    "qinglan-c@example.cn", "qinglan-d@example.cn"};

struct cases {
	char no[4][CASENO_LEN + 1];
};

static void
create(struct fixture *f, struct cases *k, size_t n)
{
	struct case_new c = consultation();
	struct receipt r;
	size_t i;

	for (i = 0; i < n; i++) {
		c.name = names[i];
		c.phone = phones[i];
		c.email = emails[i];
		assert_int_equal(store_case_create(f->s, &f->cfg, &c, &r), STORE_OK);
		memcpy(k->no[i], r.case_no, sizeof(r.case_no));
	}
}

/* The destination takes everything due; the record of refuse_case (if any) it refuses. */
static void
deliver(struct fixture *f, const char *dest, const char *refuse_case)
{
	struct outbox_batch b;
	size_t i;

	assert_int_equal(outbox_dest_ensure(f->s, dest), 0);
	assert_int_equal(outbox_next(f->s, dest, 100, 1 << 20, &b), 0);
	for (i = 0; i < b.n; i++)
		if (refuse_case != NULL && strcmp(b.v[i].case_no, refuse_case) == 0)
			outbox_rec_refuse(&b.v[i], REC_CONFLICT, "held with other content");
		else
			b.v[i].result = REC_ACCEPTED;
	assert_int_equal(outbox_ack(f->s, dest, &b, 100), 0);
	outbox_batch_free(&b);
}

static char *
field(struct fixture *f, const char *sql, const char *case_no)
{
	sqlite3 *db = raw_open(f->path);
	char *v = raw(db, sql, case_no);

	sqlite3_close(db);
	return v;
}

static int
is_minimized(struct fixture *f, const char *case_no)
{
	char *name = field(f, "SELECT name FROM cases WHERE case_no = ?1", case_no);
	char *email = field(f, "SELECT email FROM cases WHERE case_no = ?1", case_no);
	char *phone = field(f, "SELECT phone FROM cases WHERE case_no = ?1", case_no);
	char *at = field(f, "SELECT minimized_at FROM cases WHERE case_no = ?1", case_no);
	long long whole = raw_int(f->path, "SELECT count(*) FROM outbox WHERE case_no = ?1 "
					   "AND payload IS NOT NULL", case_no);
	int yes;

	assert_non_null(phone);
	yes = name == NULL && email == NULL && strstr(phone, "****") != NULL && at != NULL &&
	    whole == 0;
	/* all or nothing: never a half-minimized case */
	if (!yes)
		assert_true(name != NULL && email != NULL && strstr(phone, "****") == NULL &&
		    at == NULL && whole > 0);
	free(name);
	free(email);
	free(phone);
	free(at);
	return yes;
}

static void
county_only(struct fixture *f)
{
	f->cfg.county_user = (char *)"hall_" HALL;
	f->cfg.province_url = NULL;
	f->cfg.retention_days = 180;
}

static void
both(struct fixture *f)
{
	county_only(f);
	f->cfg.province_url = (char *)"https://province.example/hall";
}

/* ---- the mask ---------------------------------------------------------------------- */

static void
test_mask_is_the_pages(void **state)
{
	static const char *const in[] = {"13812345678", "010-12345678", "01012345678",
	    "02087654321", "0731-84567890", "073184567890", "0731-8456789", "123", "", "12345"};
	char a[32], again[32];
	size_t i;

	(void)state;
	for (i = 0; i < N(in); i++) {
		phone_mask(a, in[i]);
		/* what the store keeps masks to itself on the page */
		phone_mask(again, a);
		assert_string_equal(again, a);
	}
}

/* ---- minimization ------------------------------------------------------------------ */

static void
test_only_closed_and_held(void **state)
{
	struct fixture *f = *state;
	struct retention_report rep = {0};
	unsigned char h[crypto_hash_sha256_BYTES];
	char hex[65], *payload, *hash, *page;
	struct case_view v;
	struct cases k;

	county_only(f);
	create(f, &k, 4);
	/* 0 resolved, 1 open, 2 rejected but the county refused it, 3 resolved, undelivered */
	payload = field(f, "SELECT payload FROM outbox WHERE case_no = ?1", k.no[0]);
	assert_non_null(payload);
	assert_non_null(strstr(payload, names[0]));
	raw_exec(f->path, "UPDATE sync_dest SET acked_seq = 0", NULL);
	{
		/* the county takes 0..2 only */
		struct outbox_batch b;
		size_t i;

		assert_int_equal(outbox_next(f->s, "county", 3, 1 << 20, &b), 0);
		assert_int_equal(b.n, 3);
		for (i = 0; i < b.n; i++)
			if (strcmp(b.v[i].case_no, k.no[2]) == 0)
				outbox_rec_refuse(&b.v[i], REC_CONFLICT, "other content");
			else
				b.v[i].result = REC_ACCEPTED;
		assert_int_equal(outbox_ack(f->s, "county", &b, 10), 0);
		outbox_batch_free(&b);
	}
	set_status(f, k.no[0], "resolved");
	set_status(f, k.no[1], "accepted");
	set_status(f, k.no[2], "rejected");
	set_status(f, k.no[3], "resolved");

	assert_int_equal(store_minimize(f->s, &f->cfg, time(NULL), &rep), 0);
	assert_int_equal(rep.minimized, 1);
	assert_int_equal(rep.stripped, 1);
	assert_true(is_minimized(f, k.no[0]));
	assert_false(is_minimized(f, k.no[1]));	/* open */
	assert_false(is_minimized(f, k.no[2]));	/* set aside by the county */
	assert_false(is_minimized(f, k.no[3]));	/* not delivered */

	/* the masked phone, and the hash of the bytes that were sent */
	page = field(f, "SELECT phone FROM cases WHERE case_no = ?1", k.no[0]);
	assert_string_equal(page, "139****0001");
	free(page);
	crypto_hash_sha256(h, (const unsigned char *)payload, strlen(payload));
	sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
	hash = field(f, "SELECT hash FROM outbox WHERE case_no = ?1", k.no[0]);
	assert_string_equal(hash, hex);
	free(hash);
	free(payload);

	/* the progress page still has what it shows */
	assert_int_equal(store_case_get(f->s, k.no[0], &v), STORE_OK);
	assert_string_equal(v.phone, "139****0001");
	assert_string_equal(v.status, "resolved");
	assert_non_null(strstr(v.body, "公积金"));
	assert_true(v.nevents >= 1);
	case_view_free(&v);

	/* a second pass finds nothing more */
	memset(&rep, 0, sizeof(rep));
	assert_int_equal(store_minimize(f->s, &f->cfg, time(NULL), &rep), 0);
	assert_int_equal(rep.minimized, 0);
	assert_int_equal(rep.stripped, 0);
}

static void
test_every_configured_destination(void **state)
{
	struct fixture *f = *state;
	struct retention_report rep = {0};
	struct cases k;

	both(f);
	create(f, &k, 1);
	deliver(f, "county", NULL);
	set_status(f, k.no[0], "resolved");
	/* the province has a mark but has not taken it */
	assert_int_equal(outbox_dest_ensure(f->s, "province"), 0);
	assert_int_equal(store_minimize(f->s, &f->cfg, time(NULL), &rep), 0);
	assert_false(is_minimized(f, k.no[0]));
	/* a province configured without a mark yet has taken nothing either */
	raw_exec(f->path, "DELETE FROM sync_dest WHERE dest = 'province'", NULL);
	assert_int_equal(store_minimize(f->s, &f->cfg, time(NULL), &rep), 0);
	assert_false(is_minimized(f, k.no[0]));
	deliver(f, "province", NULL);
	assert_int_equal(store_minimize(f->s, &f->cfg, time(NULL), &rep), 0);
	assert_true(is_minimized(f, k.no[0]));
}

static void
test_unconfigured_destination_does_not_block(void **state)
{
	struct fixture *f = *state;
	struct retention_report rep = {0};
	struct outbox_status os;
	struct outbox_batch b;
	struct cases k;

	county_only(f);
	create(f, &k, 2);
	/* a province that was configured once and took nothing */
	assert_int_equal(outbox_dest_ensure(f->s, "province"), 0);
	deliver(f, "county", NULL);
	set_status(f, k.no[0], "resolved");
	assert_int_equal(store_minimize(f->s, &f->cfg, time(NULL), &rep), 0);
	assert_true(is_minimized(f, k.no[0]));
	/* configured again, it is due only what the hall still has whole */
	assert_int_equal(outbox_next(f->s, "province", 100, 1 << 20, &b), 0);
	assert_int_equal(b.n, 1);
	assert_string_equal(b.v[0].case_no, k.no[1]);
	assert_non_null(b.v[0].payload);
	outbox_batch_free(&b);
	assert_int_equal(outbox_status(f->s, "province", &os), 0);
	assert_int_equal(os.backlog, 1);
	/* and with nothing configured, nothing is minimized */
	f->cfg.county_user = NULL;
	set_status(f, k.no[1], "resolved");
	assert_int_equal(store_minimize(f->s, &f->cfg, time(NULL), &rep), 0);
	assert_false(is_minimized(f, k.no[1]));
}

static void
test_requeued_keeps_payload(void **state)
{
	struct fixture *f = *state;
	struct retention_report rep = {0};
	struct outbox_batch b;
	struct cases k;

	county_only(f);
	create(f, &k, 1);
	deliver(f, "county", k.no[0]);	/* set aside */
	set_status(f, k.no[0], "rejected");
	assert_int_equal(store_minimize(f->s, &f->cfg, time(NULL), &rep), 0);
	assert_false(is_minimized(f, k.no[0]));
	assert_int_equal(outbox_requeue(f->s, "county", NULL, 0), 1);
	assert_int_equal(store_minimize(f->s, &f->cfg, time(NULL), &rep), 0);
	assert_false(is_minimized(f, k.no[0]));	/* put back: due again */
	assert_int_equal(outbox_next(f->s, "county", 10, 1 << 20, &b), 0);
	assert_int_equal(b.n, 1);
	assert_non_null(strstr(b.v[0].payload, names[0]));
	b.v[0].result = REC_DUPLICATE;
	assert_int_equal(outbox_ack(f->s, "county", &b, 10), 0);
	outbox_batch_free(&b);
	assert_int_equal(store_minimize(f->s, &f->cfg, time(NULL), &rep), 0);
	assert_true(is_minimized(f, k.no[0]));
}

/* A rating after the case was minimized keeps its payload until it is delivered, and the
 * case is not purged before. */
static void
test_late_rating(void **state)
{
	struct fixture *f = *state;
	struct retention_report rep = {0};
	struct cases k;
	time_t at;

	county_only(f);
	f->cfg.retention_days = 0;
	create(f, &k, 1);
	deliver(f, "county", NULL);
	set_status(f, k.no[0], "resolved");
	assert_int_equal(store_minimize(f->s, &f->cfg, time(NULL), &rep), 0);
	assert_true(is_minimized(f, k.no[0]));
	assert_int_equal(store_rating_create(f->s, k.no[0], 5, "很好", &at), STORE_OK);
	assert_int_equal(store_purge(f->s, &f->cfg, time(NULL), &rep), 0);
	assert_int_equal(rep.purged, 0);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM outbox WHERE case_no = ?1 "
					  "AND type = 'rating' AND payload IS NOT NULL", k.no[0]), 1);
	deliver(f, "county", NULL);
	memset(&rep, 0, sizeof(rep));
	assert_int_equal(store_purge(f->s, &f->cfg, time(NULL), &rep), 0);
	assert_int_equal(rep.stripped, 1);
	assert_int_equal(rep.purged, 1);
	assert_int_equal(store_count(f->s, "ratings"), 0);
}

/* ---- the purge --------------------------------------------------------------------- */

static void
test_purge_after_the_period(void **state)
{
	struct fixture *f = *state;
	struct retention_report rep = {0};
	struct case_view v;
	struct cases k;
	time_t now = time(NULL);
	char stamp[32];

	county_only(f);
	create(f, &k, 3);
	deliver(f, "county", NULL);
	set_status(f, k.no[0], "resolved");
	set_status(f, k.no[1], "answered");	/* not closed: the citizen may still rate */
	assert_int_equal(store_purge(f->s, &f->cfg, now, &rep), 0);
	assert_int_equal(rep.minimized, 1);
	assert_int_equal(rep.purged, 0);	/* 180 days */
	assert_int_equal(store_meta(f->s, "retention_at", stamp, sizeof(stamp)), 1);
	assert_int_equal(strtoll(stamp, NULL, 10), now);
	assert_int_equal(store_purge(f->s, &f->cfg, now + 179 * 86400, &rep), 0);
	assert_int_equal(rep.purged, 0);
	assert_int_equal(store_purge(f->s, &f->cfg, now + 181 * 86400, &rep), 0);
	assert_int_equal(rep.purged, 1);
	assert_int_equal(store_case_get(f->s, k.no[0], &v), STORE_NOT_FOUND);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM outbox WHERE case_no = ?1",
			     k.no[0]), 0);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM case_events WHERE case_no = ?1",
			     k.no[0]), 0);
	/* the others stay whole, however old */
	assert_int_equal(store_purge(f->s, &f->cfg, now + 3650 * 86400, &rep), 0);
	assert_int_equal(rep.purged, 1);
	assert_false(is_minimized(f, k.no[1]));
	assert_false(is_minimized(f, k.no[2]));
	assert_int_equal(store_count(f->s, "cases"), 2);
}

/*
 * A purged case that held the outbox's newest records takes their numbers with it; the
 * next record must still be numbered past every one a destination has acknowledged, or it
 * sits below the destination's mark and is never sent (hall 010: AUTOINCREMENT).
 */
static void
test_purge_of_the_newest_records_keeps_numbers_unique(void **state)
{
	struct fixture *f = *state;
	struct retention_report rep = {0};
	struct outbox_batch b;
	struct outbox_status st;
	struct cases k, later;
	time_t now = time(NULL);

	county_only(f);
	create(f, &k, 1);
	deliver(f, "county", NULL);
	set_status(f, k.no[0], "resolved");
	assert_int_equal(store_purge(f->s, &f->cfg, now + 181 * 86400, &rep), 0);
	assert_int_equal(rep.purged, 1);
	assert_int_equal(store_count(f->s, "outbox"), 0);

	create(f, &later, 1);
	assert_int_equal(outbox_status(f->s, "county", &st), 0);
	assert_int_equal(st.backlog, 1);
	assert_int_equal(outbox_next(f->s, "county", 100, 1 << 20, &b), 0);
	assert_int_equal(b.n, 1);
	assert_string_equal(b.v[0].case_no, later.no[0]);
	outbox_batch_free(&b);
}

/* A store at 009 that had purged its newest records already: 010 numbers the next record
 * past the destination's mark, not only past the rows left. */
static const char *const upto_009[] = {"001_init", "002_sync", "003_requeue", "004_pipl",
    "005_restore", "006_window", "007_notices", "008_appointments", "009_appt_retention"};

static void
test_010_upgrades_a_store_that_purged_its_newest(void **state)
{
	struct fixture *f = *state;
	struct retention_report rep = {0};
	struct outbox_status st;
	struct cases k, later;
	char dir[96], link[160], target[PATH_MAX + 64], cwd[PATH_MAX];
	size_t i;

	/* the store again, made by the migrations up to 009 alone */
	store_close(f->s);
	remove_db(f->path);
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	snprintf(dir, sizeof(dir), "%s/schema-009", f->dir);
	assert_int_equal(mkdir(dir, 0700), 0);
	for (i = 0; i < N(upto_009); i++) {
		snprintf(target, sizeof(target), "%s/" SCHEMA "/%s.sql", cwd, upto_009[i]);
		snprintf(link, sizeof(link), "%s/%s.sql", dir, upto_009[i]);
		assert_int_equal(symlink(target, link), 0);
	}
	assert_non_null(f->s = store_open(f->path, 0));
	assert_int_equal(store_migrate(f->s, dir), 0);
	assert_int_equal(raw_int(f->path, "PRAGMA user_version", NULL), 9);
	assert_int_equal(store_bind_hall(f->s, HALL), 0);
	assert_int_equal(store_calendar_import(f->s, f->cal, &f->cfg), 0);

	county_only(f);
	create(f, &k, 1);
	deliver(f, "county", NULL);
	set_status(f, k.no[0], "resolved");
	assert_int_equal(store_purge(f->s, &f->cfg, time(NULL) + 181 * 86400, &rep), 0);
	assert_int_equal(rep.purged, 1);

	assert_int_equal(store_migrate(f->s, SCHEMA), 0);
	assert_int_equal(raw_int(f->path, "PRAGMA user_version", NULL), 10);
	create(f, &later, 1);
	assert_int_equal(outbox_status(f->s, "county", &st), 0);
	assert_int_equal(st.backlog, 1);

	for (i = 0; i < N(upto_009); i++) {
		snprintf(link, sizeof(link), "%s/%s.sql", dir, upto_009[i]);
		unlink(link);
	}
	assert_int_equal(rmdir(dir), 0);
}

/* The daily job runs once a day, at the first tick after a restart if a day has passed. */
static void
test_daily_tick(void **state)
{
	struct fixture *f = *state;
	struct retention_report rep;
	time_t now = time(NULL);

	county_only(f);
	assert_int_equal(store_retention_tick(f->s, &f->cfg, now, &rep), 0);
	assert_true(rep.daily);
	assert_int_equal(store_retention_tick(f->s, &f->cfg, now + 3600, &rep), 0);
	assert_false(rep.daily);
	store_close(f->s);
	assert_non_null(f->s = store_open(f->path, 0));
	assert_int_equal(store_retention_tick(f->s, &f->cfg, now + 7200, &rep), 0);
	assert_false(rep.daily);
	assert_int_equal(store_retention_tick(f->s, &f->cfg, now + 86400, &rep), 0);
	assert_true(rep.daily);
}

/* ---- the bytes --------------------------------------------------------------------- */

static int
file_has(const char *path, const char *needle)
{
	FILE *fp = fopen(path, "rb");
	size_t len = 0, n = strlen(needle), cap = 1 << 20, got;
	char *data = NULL;
	int found = 0;

	if (fp == NULL)
		return 0;	/* no file: nothing in it */
	while ((data = realloc(data, cap)) != NULL && (got = fread(data + len, 1, cap - len, fp)) > 0) {
		len += got;
		if (len == cap)
			cap *= 2;
	}
	fclose(fp);
	assert_non_null(data);
	found = len >= n && memmem(data, len, needle, n) != NULL;
	free(data);
	return found;
}

static int
store_has(struct fixture *f, const char *needle)
{
	char wal[160];

	snprintf(wal, sizeof(wal), "%s-wal", f->path);
	return file_has(f->path, needle) || file_has(wal, needle);
}

static void
test_bytes_are_gone(void **state)
{
	struct fixture *f = *state;
	struct retention_report rep = {0};
	struct cases k;
	size_t i;

	county_only(f);
	f->cfg.retention_days = 0;
	create(f, &k, 3);
	deliver(f, "county", NULL);
	set_status(f, k.no[0], "resolved");	/* minimized, then purged */
	set_status(f, k.no[1], "rejected");	/* minimized, then purged */
	/* 2 stays open */
	for (i = 0; i < 3; i++) {
		assert_true(store_has(f, names[i]));
		assert_true(store_has(f, emails[i]));
		assert_true(store_has(f, phones[i]));
	}
	assert_int_equal(store_retention_tick(f->s, &f->cfg, time(NULL), &rep), 0);
	assert_true(rep.daily);
	assert_int_equal(rep.minimized, 2);
	assert_int_equal(rep.purged, 2);
	assert_true(rep.checkpointed);
	for (i = 0; i < 2; i++) {
		assert_false(store_has(f, names[i]));
		assert_false(store_has(f, emails[i]));
		assert_false(store_has(f, phones[i]));
	}
	assert_true(store_has(f, names[2]));
	assert_true(store_has(f, phones[2]));
}

/* Minimized only (not yet purged): the old bytes are gone too. */
static void
test_minimized_bytes_are_gone(void **state)
{
	struct fixture *f = *state;
	struct retention_report rep = {0};
	struct cases k;

	county_only(f);
	create(f, &k, 1);
	deliver(f, "county", NULL);
	set_status(f, k.no[0], "resolved");
	assert_true(store_has(f, names[0]));
	assert_int_equal(store_retention_tick(f->s, &f->cfg, time(NULL), &rep), 0);
	assert_int_equal(rep.minimized, 1);
	assert_int_equal(rep.purged, 0);
	assert_int_equal(store_count(f->s, "cases"), 1);
	assert_false(store_has(f, names[0]));
	assert_false(store_has(f, emails[0]));
	assert_false(store_has(f, phones[0]));
	assert_true(store_has(f, "139****0001"));
}

/* A reader on an old snapshot keeps the WAL from being truncated: the next tick does it. */
static void
test_checkpoint_retried(void **state)
{
	struct fixture *f = *state;
	struct retention_report rep = {0};
	struct cases k;
	sqlite3 *reader;
	char *v;

	county_only(f);
	create(f, &k, 1);
	deliver(f, "county", NULL);
	set_status(f, k.no[0], "resolved");
	assert_int_equal(store_retention_tick(f->s, &f->cfg, time(NULL), &rep), 0);
	assert_true(rep.daily);
	/* a second case, and a reader that holds the snapshot where it is whole */
	create(f, &k, 2);
	deliver(f, "county", NULL);
	set_status(f, k.no[1], "rejected");
	reader = raw_open(f->path);
	sqlite3_busy_timeout(reader, 0);
	free(raw(reader, "BEGIN", NULL));
	v = raw(reader, "SELECT name FROM cases WHERE case_no = ?1", k.no[1]);
	assert_string_equal(v, names[1]);
	free(v);
	sqlite3_busy_timeout(store_sqlite(f->s), 100);
	assert_int_equal(store_retention_tick(f->s, &f->cfg, time(NULL), &rep), 0);
	assert_false(rep.daily);
	assert_int_equal(rep.minimized, 1);
	assert_false(rep.checkpointed);
	assert_true(store_has(f, names[1]));	/* the WAL still holds the old page */
	free(raw(reader, "COMMIT", NULL));
	sqlite3_close(reader);
	/* nothing new to remove, but the WAL is truncated now */
	assert_int_equal(store_retention_tick(f->s, &f->cfg, time(NULL), &rep), 0);
	assert_int_equal(rep.minimized, 0);
	assert_true(rep.checkpointed);
	assert_false(store_has(f, names[1]));
	/* and then no more checkpoints when nothing changes */
	assert_int_equal(store_retention_tick(f->s, &f->cfg, time(NULL), &rep), 0);
	assert_false(rep.checkpointed);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_mask_is_the_pages),
	    cmocka_unit_test_setup_teardown(test_only_closed_and_held, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_every_configured_destination, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unconfigured_destination_does_not_block, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(test_requeued_keeps_payload, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_late_rating, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_purge_after_the_period, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_purge_of_the_newest_records_keeps_numbers_unique,
		setup, teardown),
	    cmocka_unit_test_setup_teardown(test_010_upgrades_a_store_that_purged_its_newest,
		setup, teardown),
	    cmocka_unit_test_setup_teardown(test_daily_tick, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bytes_are_gone, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_minimized_bytes_are_gone, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_checkpoint_retried, setup, teardown),
	};

	log_init("test_retention");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
