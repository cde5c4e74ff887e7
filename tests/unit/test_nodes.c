/* lib/core/nodes.c: [county] host as a list of Galera nodes (SPEC 12). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core.h"

static void
test_lists(void **state)
{
	struct county_node n[COUNTY_NODES_MAX];

	(void)state;
	assert_int_equal(county_nodes_parse("10.0.0.1", 3306, n, COUNTY_NODES_MAX), 1);
	assert_string_equal(n[0].host, "10.0.0.1");
	assert_int_equal(n[0].port, 3306);
	assert_int_equal(county_nodes_parse(" 10.0.0.1:3307 ,db2,\t[fd00::3]:3308, ::1 ", 3306,
	    n, COUNTY_NODES_MAX), 4);
	assert_string_equal(n[0].host, "10.0.0.1");
	assert_int_equal(n[0].port, 3307);
	assert_string_equal(n[1].host, "db2");
	assert_int_equal(n[1].port, 3306);
	assert_string_equal(n[2].host, "fd00::3");
	assert_int_equal(n[2].port, 3308);
	assert_string_equal(n[3].host, "::1");
	assert_int_equal(n[3].port, 3306);
}

static void
test_bad_lists(void **state)
{
	static const char *bad[] = {"", ",", "a,,b", "a,", "a:0", "a:65536", "a:x", "a:",
	    "[::1", "[::1]x", ":3306", "[]:3306"};
	struct county_node n[2];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(county_nodes_parse(bad[i], 3306, n, 2), -1);
	assert_int_equal(county_nodes_parse("a,b,c", 3306, n, 2), -1);	/* more than max */
	assert_int_equal(county_nodes_parse(NULL, 3306, n, 2), -1);
}

static void
test_insecure_list(void **state)
{
	struct hall_config c;

	(void)state;
	memset(&c, 0, sizeof(c));
	c.county_user = "hall_430121001000";
	c.county_host = "127.0.0.1:3307, 127.0.0.1:3308, [::1]:3309";
	assert_int_equal(insecure_county(&c), 0);	/* loopback, every node */
	c.county_host = "127.0.0.1:3307, 10.43.1.21:3306";
	assert_int_equal(insecure_county(&c), 1);	/* one node elsewhere is enough */
	c.county_tls = 1;
	assert_int_equal(insecure_county(&c), 0);
	c.county_tls = 0;
	c.county_host = "127.0.0.1:3307,,";
	assert_int_equal(insecure_county(&c), 1);	/* a list that does not parse */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lists),
		cmocka_unit_test(test_bad_lists),
		cmocka_unit_test(test_insecure_list),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
