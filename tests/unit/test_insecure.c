/* lib/core/insecure.c: which links leave the machine unencrypted, and the start refusal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core.h"

static void
test_local(void **state)
{
	static const char *local[] = {NULL, "", "localhost", "LOCALHOST", "127.0.0.1",
	    "127.1.2.3", "::1", "[::1]", "::ffff:127.0.0.1"};
	static const char *remote[] = {"10.43.1.20", "128.0.0.1", "126.255.255.255",
	    "db.county.example", "localhost.example.com", "::2", "[::2]", "0.0.0.0",
	    "::ffff:10.0.0.1", "[::1", "127.0.0.1.example"};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(local) / sizeof(local[0]); i++)
		assert_int_equal(insecure_is_local(local[i]), 1);
	for (i = 0; i < sizeof(remote) / sizeof(remote[0]); i++)
		assert_int_equal(insecure_is_local(remote[i]), 0);
}

static void
test_url_host(void **state)
{
	static const struct {
		const char *url, *host;
	} ok[] = {
		{"http://127.0.0.1:8082", "127.0.0.1"},
		{"http://127.0.0.1", "127.0.0.1"},
		{"https://platform.example.gov.cn/hall", "platform.example.gov.cn"},
		{"http://user:pw@10.0.0.1:80/x", "10.0.0.1"},
		{"http://[::1]:8082/v1", "[::1]"},
		{"http://h?x=1", "h"},
		/* an @ in the path is not userinfo */
		{"http://10.0.0.1/a@127.0.0.1", "10.0.0.1"},
	};
	static const char *bad[] = {"127.0.0.1:8082", "http://", "http://:80", "http://[::1"};
	char h[64];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(insecure_url_host(ok[i].url, h, sizeof(h)), 0);
		assert_string_equal(h, ok[i].host);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(insecure_url_host(bad[i], h, sizeof(h)), -1);
	assert_int_equal(insecure_url_host("http://a-rather-long-name.example", h, 8), -1);
}

static void
test_county(void **state)
{
	struct hall_config c;
	char w[256];

	(void)state;
	memset(&c, 0, sizeof(c));
	assert_int_equal(insecure_county(&c), 0);	/* no [county] user: not configured */
	c.county_user = "hall_430121001000";
	c.county_host = "10.43.1.20";
	c.county_tls = 1;
	assert_int_equal(insecure_county(&c), 0);
	assert_int_equal(insecure_check(&c, "t.ini"), 0);
	c.county_tls = 0;
	assert_int_equal(insecure_county(&c), 1);
	assert_int_equal(insecure_check(&c, "t.ini"), -1);
	assert_int_equal(insecure_warning(&c, "province", w, sizeof(w)), 0);
	assert_int_equal(insecure_warning(&c, "county", w, sizeof(w)), 1);
	assert_non_null(strstr(w, "will not start"));
	c.county_allow_insecure = 1;
	assert_int_equal(insecure_check(&c, "t.ini"), 0);
	assert_int_equal(insecure_warning(&c, "county", w, sizeof(w)), 1);
	assert_non_null(strstr(w, "10.43.1.20"));
	assert_non_null(strstr(w, "allow_insecure = 1"));
	assert_null(strstr(w, "will not start"));
	c.county_allow_insecure = 0;
	c.county_host = "127.0.0.1";
	assert_int_equal(insecure_check(&c, "t.ini"), 0);
	c.county_host = NULL;
	c.county_socket = "/run/mysqld/mysqld.sock";
	assert_int_equal(insecure_check(&c, "t.ini"), 0);
}

static void
test_province(void **state)
{
	struct hall_config c;
	char w[256];

	(void)state;
	memset(&c, 0, sizeof(c));
	assert_int_equal(insecure_province(&c), 0);	/* no url: not configured */
	c.province_url = "https://platform.example.gov.cn/hall";
	assert_int_equal(insecure_province(&c), 0);
	c.province_url = "HTTPS://10.0.0.1";
	assert_int_equal(insecure_province(&c), 0);
	c.province_url = "http://127.0.0.1:8082";
	assert_int_equal(insecure_province(&c), 0);
	c.province_url = "http://localhost/x";
	assert_int_equal(insecure_province(&c), 0);
	c.province_url = "http://platform.example.gov.cn/hall";
	assert_int_equal(insecure_province(&c), 1);
	assert_int_equal(insecure_check(&c, "t.ini"), -1);
	c.province_url = "ftp://127.0.0.1/";	/* neither http nor https: not trusted */
	assert_int_equal(insecure_province(&c), 1);
	c.province_url = "http://10.0.0.2:8082";
	c.province_allow_insecure = 1;
	assert_int_equal(insecure_check(&c, "t.ini"), 0);
	assert_int_equal(insecure_warning(&c, "province", w, sizeof(w)), 1);
	assert_int_equal(insecure_warning(&c, "county", w, sizeof(w)), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_local),
		cmocka_unit_test(test_url_host),
		cmocka_unit_test(test_county),
		cmocka_unit_test(test_province),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
