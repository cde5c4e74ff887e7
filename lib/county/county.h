/*
 * The county database (MariaDB) as every county-side program reaches it: the agent, the
 * staff console and county-admin. Prototypes are grouped under the file that defines them.
 */
#ifndef HALL_COUNTY_H
#define HALL_COUNTY_H

#include <mysql.h>

#include "core.h"

/* ---- lib/county/county_conn.c ------------------------------------------------------- */
struct county_conn_opts {
	const char *host, *socket, *user, *password, *database, *tls_ca;
	unsigned int port;
	unsigned int connect_timeout, read_timeout, write_timeout;	/* seconds */
	int tls;		/* 1: TLS required and the server's certificate verified */
	int multi_statements;	/* county-admin's migrations only */
};
/*
 * Connects with every timeout set (Connector/C's defaults wait forever), protocol
 * compression on, MYSQL_OPT_RECONNECT off (a silent reconnect drops a transaction),
 * autocommit off, utf8mb4 and the +08:00 session time zone. NULL on failure, with the
 * reason in err.
 */
MYSQL *county_connect(const struct county_conn_opts *, char *err, size_t errlen);

#endif
