/*
 * lib/store/backup.c and restore.c, and the query code's MAC (case.c): a backup is the
 * store, whole, 0600, and nothing is left behind when it cannot be made; a case record
 * carries the MAC of its code; a case sent back by the county after a restore answers to
 * its receipt's code and to no other; store_restore_done raises the numbering past the
 * county's and releases a hold. Runs from the repository root.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <jansson.h>
#include <sodium.h>
#include <sqlite3.h>

#include "store.h"
#include "unit.h"
#include "store_fixture.h"

static struct receipt
one_case(struct fixture *f)
{
	struct case_new c = consultation();
	struct receipt r;

	assert_int_equal(store_case_create(f->s, &f->cfg, &c, &r), STORE_OK);
	return r;
}

static void
test_record_carries_mac(void **state)
{
	struct fixture *f = *state;
	struct receipt r = one_case(f);
	char *payload = raw(raw_open(f->path), "SELECT payload FROM outbox WHERE id = ?1", r.id);
	char mac[65], other[65];
	json_t *j;

	assert_non_null(payload);
	assert_non_null(j = json_loads(payload, 0, NULL));
	assert_int_equal(store_query_mac(f->s, r.case_no, r.query_code, mac), 0);
	assert_string_equal(json_string_value(json_object_get(j, "query_mac")), mac);
	/* the code itself never travels */
	assert_null(strstr(payload, r.query_code));
	/* another code, another case: another MAC */
	assert_int_equal(store_query_mac(f->s, r.case_no, "000000", other), 0);
	assert_string_not_equal(mac, other);
	json_decref(j);
	free(payload);
}

static void
test_restored_case_answers_its_code(void **state)
{
	struct fixture *f = *state;
	struct receipt r = one_case(f);	/* makes the store's key */
	char no[CASENO_LEN + 1], mac[65];
	struct restored_case c = {
		.id = NULL, .kind = "consultation", .subject = "备份后的咨询", .body = "内容",
		.phone = "13812345678", .status = "delivered", .submitted_at = 1767300000,
		.due_at = 1767600000, .delivered_at = 1767300001,
	};
	struct case_view v;
	char id[48];

	(void)r;
	assert_int_equal(caseno_make(no, HALL, 4000000000000ULL), 0);
	snprintf(id, sizeof(id), "%s-C4000000000000", HALL);
	c.id = id;
	c.case_no = no;
	assert_int_equal(store_query_mac(f->s, no, "246810", mac), 0);
	c.query_mac = mac;
	assert_int_equal(downlink_begin(f->s), 0);
	assert_int_equal(store_restore_case(f->s, &c), 1);
	assert_int_equal(store_restore_case(f->s, &c), 0);	/* once */
	assert_int_equal(downlink_commit(f->s), 0);
	assert_int_equal(store_case_get(f->s, no, &v), STORE_OK);
	assert_string_equal(v.query_code, "");
	assert_true(store_case_code_ok(f->s, &v, "246810"));
	assert_false(store_case_code_ok(f->s, &v, "246811"));
	assert_false(store_case_code_ok(f->s, &v, ""));
	assert_false(store_case_code_ok(f->s, &v, "2468101"));
	assert_string_equal(v.phone, "138****5678");
	assert_int_equal(v.nevents, 2);
	case_view_free(&v);
}

/*
 * The MAC is the HMAC's first 128 bits; a hall's cases from before that carry all 256, and
 * a restore may bring either back: both answer their code, nothing else does.
 */
static void
test_mac_128_bits_and_the_older_256(void **state)
{
	struct fixture *f = *state;
	struct receipt r = one_case(f);	/* makes the store's key */
	char *key_hex = raw(raw_open(f->path), "SELECT value FROM meta WHERE key = 'query_key'",
	    NULL);
	unsigned char key[crypto_auth_hmacsha256_KEYBYTES], whole[crypto_auth_hmacsha256_BYTES];
	char mac[65], whole_hex[65], cut[65], msg[64];
	crypto_auth_hmacsha256_state st;
	size_t n = 0;

	assert_non_null(key_hex);
	assert_int_equal(sodium_hex2bin(key, sizeof(key), key_hex, strlen(key_hex), NULL, &n,
	    NULL), 0);
	assert_int_equal(n, sizeof(key));
	snprintf(msg, sizeof(msg), "%s\n%s", r.case_no, r.query_code);
	crypto_auth_hmacsha256_init(&st, key, sizeof(key));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)msg, strlen(msg));
	crypto_auth_hmacsha256_final(&st, whole);
	sodium_bin2hex(whole_hex, sizeof(whole_hex), whole, sizeof(whole));

	assert_int_equal(store_query_mac(f->s, r.case_no, r.query_code, mac), 0);
	assert_int_equal(strlen(mac), QUERY_MAC_HEX);
	assert_int_equal(QUERY_MAC_HEX, 32);
	assert_memory_equal(mac, whole_hex, QUERY_MAC_HEX);

	assert_true(store_query_mac_ok(f->s, r.case_no, mac, r.query_code));
	assert_true(store_query_mac_ok(f->s, r.case_no, whole_hex, r.query_code));
	assert_false(store_query_mac_ok(f->s, r.case_no, mac, "000000"));
	assert_false(store_query_mac_ok(f->s, r.case_no, whole_hex, "000000"));
	assert_false(store_query_mac_ok(f->s, "430121001000297K23V6F5X", mac, r.query_code));
	/* any other length is no MAC, a prefix of the right one included */
	memcpy(cut, whole_hex, 40);
	cut[40] = '\0';
	assert_false(store_query_mac_ok(f->s, r.case_no, cut, r.query_code));
	cut[16] = '\0';
	assert_false(store_query_mac_ok(f->s, r.case_no, cut, r.query_code));
	assert_false(store_query_mac_ok(f->s, r.case_no, "", r.query_code));
	/* one character off in the older MAC's second half */
	whole_hex[63] = whole_hex[63] == '0' ? '1' : '0';
	assert_false(store_query_mac_ok(f->s, r.case_no, whole_hex, r.query_code));
	free(key_hex);
}

static void
test_restore_done_raises_and_releases(void **state)
{
	struct fixture *f = *state;
	time_t since;

	raw_exec(f->path, "INSERT INTO meta VALUES ('restore_pending', '1'), "
			  "('restore_since', '1767000000'), ('seq_hold', '1'), ('last_seq', '100')",
	    NULL);
	assert_int_equal(store_restore_pending(f->s, &since), 1);
	assert_int_equal(since, 1767000000);
	/* held: no number */
	{
		struct case_new c = consultation();
		struct receipt r;

		assert_int_equal(store_case_create(f->s, &f->cfg, &c, &r), STORE_CLOCK);
	}
	assert_int_equal(downlink_begin(f->s), 0);
	assert_int_equal(store_restore_done(f->s, 12345), 0);
	assert_int_equal(downlink_commit(f->s), 0);
	assert_int_equal(raw_int(f->path, "SELECT value FROM meta WHERE key = 'last_seq'", NULL),
	    12345);
	assert_int_equal(store_restore_pending(f->s, &since), 0);
	one_case(f);	/* numbers again */
	/* a county mark below the store's own leaves it */
	assert_int_equal(downlink_begin(f->s), 0);
	assert_int_equal(store_restore_done(f->s, 5), 0);
	assert_int_equal(downlink_commit(f->s), 0);
	assert_true(raw_int(f->path, "SELECT value FROM meta WHERE key = 'last_seq'", NULL) >
	    12345);
}

static void
test_backup_copy_and_failures(void **state)
{
	struct fixture *f = *state;
	struct receipt r = one_case(f);
	char dest[128], tmp[136], bad[128];
	struct stat sb;

	snprintf(dest, sizeof(dest), "%s/copy.db", f->dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", dest);
	assert_int_equal(store_backup(f->path, dest, NULL, NULL), 0);
	assert_int_equal(stat(dest, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(access(tmp, F_OK), -1);
	assert_int_equal(raw_int(dest, "SELECT count(*) FROM cases WHERE case_no = ?1", r.case_no),
	    1);
	/* a second backup over the first replaces it whole */
	assert_int_equal(store_backup(f->path, dest, NULL, NULL), 0);
	/* no folder: nothing made */
	snprintf(bad, sizeof(bad), "%s/none/copy.db", f->dir);
	assert_int_equal(store_backup(f->path, bad, NULL, NULL), -1);
	/* a stale temporary file is not taken over */
	assert_int_equal(close(open(tmp, O_CREAT | O_WRONLY, 0600)), 0);
	assert_int_equal(store_backup(f->path, dest, NULL, NULL), -1);
	assert_int_equal(access(tmp, F_OK), 0);
	unlink(tmp);
	/* a store no program has open in WAL mode (the e2e test has one in use: fcntl locks
	 * do not conflict inside one process) */
	assert_int_equal(store_in_use(dest), 0);
	remove_db(dest);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_record_carries_mac, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restored_case_answers_its_code, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_mac_128_bits_and_the_older_256, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore_done_raises_and_releases, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_backup_copy_and_failures, setup, teardown),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
