/*
 * Multi-statements: several statements in one round trip. On a hall's weak link every
 * round trip is another chance of a lost packet and a retransmission timeout, so the
 * agent's greeting, acknowledgement and heartbeat go this way (the connection opened with
 * multi_statements), their values escaped by the connector for the connection's character
 * set and SQL mode. Everything else runs prepared (county_stmt.c).
 */
#include <stdlib.h>

#include "county.h"

void
county_sql_string(struct buf *q, MYSQL *db, const char *text, size_t len)
{
	char *e = malloc(2 * len + 1);

	if (e == NULL) {
		q->failed = 1;
		return;
	}
	buf_addc(q, '\'');
	buf_add(q, e, mysql_real_escape_string(db, e, text, (unsigned long)len));
	buf_addc(q, '\'');
	free(e);
}

int
county_multi(MYSQL *db, const char *sql, size_t len, int keep, MYSQL_RES **res)
{
	int i, rc = mysql_real_query(db, sql, (unsigned long)len);

	if (res != NULL)
		*res = NULL;
	for (i = 0; rc == 0; i++) {
		MYSQL_RES *r = mysql_store_result(db);

		if (i == keep && res != NULL)
			*res = r;
		else
			mysql_free_result(r);
		if ((rc = mysql_next_result(db)) == -1)
			return -1;	/* every statement answered */
	}
	return i;	/* the server stopped at this one */
}
