/*
 * hall-agent and county-admin: the county database side of a hall node.
 * Prototypes are grouped under the file that defines them.
 */
#ifndef HALL_AGENT_H
#define HALL_AGENT_H

#include <mysql.h>

#include "hall.h"

#define AGENT_VERSION "0.3.0"

/* ---- agent/county_db.c --------------------------------------------------------------- */
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
/* Reads a secret from a file: the first line, without its newline. Caller frees. */
char *secret_read(const char *path);

#endif
