/*
 * Connections to the county database with MariaDB Connector/C, configured defensively.
 * The database may be one server or a Galera cluster given as a list of nodes (SPEC 12,
 * lib/core/nodes.c): a connection goes to the first node that answers and is Synced,
 * starting from a node that differs per process and moving past the node last used, so
 * that a program that lost its connection (county_conn_lost) tries the next node first.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "county.h"

/* The node the next connection tries first; -1 until the first connection picks one. */
static _Atomic int next_node = -1;

static MYSQL *
connect_one(const struct county_conn_opts *o, const char *host, unsigned port,
    char *err, size_t errlen)
{
	my_bool off = 0, on = 1;
	unsigned long flags = CLIENT_COMPRESS;
	MYSQL *db;

	if ((db = mysql_init(NULL)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	mysql_optionsv(db, MYSQL_OPT_CONNECT_TIMEOUT, &o->connect_timeout);
	mysql_optionsv(db, MYSQL_OPT_READ_TIMEOUT, &o->read_timeout);
	mysql_optionsv(db, MYSQL_OPT_WRITE_TIMEOUT, &o->write_timeout);
	mysql_optionsv(db, MYSQL_OPT_RECONNECT, &off);
	mysql_optionsv(db, MYSQL_OPT_COMPRESS, NULL);
	mysql_optionsv(db, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	/* one statement, one round trip: on a weak link each is another chance of a loss */
	mysql_optionsv(db, MYSQL_INIT_COMMAND, "SET time_zone = '+08:00', autocommit = 0");
	if (o->tls) {
		mysql_optionsv(db, MYSQL_OPT_SSL_ENFORCE, &on);
		mysql_optionsv(db, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &on);
		if (o->tls_ca != NULL)
			mysql_optionsv(db, MYSQL_OPT_SSL_CA, o->tls_ca);
	}
	if (o->nonblock)
		mysql_options(db, MYSQL_OPT_NONBLOCK, NULL);
	if (o->multi_statements)
		flags |= CLIENT_MULTI_STATEMENTS | CLIENT_MULTI_RESULTS;
	if (mysql_real_connect(db, host, o->user, o->password, o->database, port, o->socket,
		flags) == NULL) {
		snprintf(err, errlen, "%s", mysql_error(db));
		mysql_close(db);
		return NULL;
	}
	return db;
}

/*
 * 0 when the server is no Galera node or a Synced one (wsrep_local_state 4); a joining,
 * donor or non-primary node would refuse or stall the work, so -1 with the state in err.
 */
static int
galera_synced(MYSQL *db, char *err, size_t errlen)
{
	MYSQL_RES *res = NULL;
	MYSQL_ROW row;
	int rc = 0;

	/* a text query: one round trip where a prepared one takes two */
	if (mysql_query(db, "SHOW STATUS LIKE 'wsrep_local_state'") != 0 ||
	    (res = mysql_store_result(db)) == NULL) {
		snprintf(err, errlen, "SHOW STATUS: %s", mysql_error(db));
		return -1;
	}
	if ((row = mysql_fetch_row(res)) != NULL && row[1] != NULL && strcmp(row[1], "4") != 0) {
		snprintf(err, errlen, "Galera node not Synced (wsrep_local_state %.20s)", row[1]);
		rc = -1;
	}
	mysql_free_result(res);
	return rc;
}

static MYSQL *
connect_synced(const struct county_conn_opts *o, const char *host, unsigned port,
    char *err, size_t errlen)
{
	MYSQL *db = connect_one(o, host, port, err, errlen);

	if (db == NULL)
		return NULL;
	if (galera_synced(db, err, errlen) == -1) {
		if (*err == '\0')
			snprintf(err, errlen, "%s", mysql_error(db));
		mysql_close(db);
		return NULL;
	}
	return db;
}

MYSQL *
county_connect(const struct county_conn_opts *o, char *err, size_t errlen)
{
	struct county_node nodes[COUNTY_NODES_MAX];
	char one[512];
	int n, i, first;
	size_t used = 0;
	MYSQL *db;

	*err = '\0';
	/* a socket, or one host without a port: the single server, as ever */
	if (o->host == NULL || *o->host == '\0' || strpbrk(o->host, ",:[") == NULL)
		return connect_synced(o, o->host, o->port, err, errlen);
	n = county_nodes_parse(o->host, o->port, nodes, COUNTY_NODES_MAX);
	if (n < 1) {
		snprintf(err, errlen, "[county] host is not a list of HOST[:PORT]: \"%.200s\"",
		    o->host);
		return NULL;
	}
	first = atomic_load(&next_node);
	if (first < 0)
		first = (int)(getpid() % n);	/* processes spread over the nodes */
	for (i = 0; i < n; i++) {
		int k = (first + i) % n;

		one[0] = '\0';
		if ((db = connect_synced(o, nodes[k].host, nodes[k].port, one, sizeof(one)))
		    != NULL) {
			/* after a loss, the next connection starts past this node */
			atomic_store(&next_node, (k + 1) % n);
			return db;
		}
		if (used < errlen)
			used += (size_t)snprintf(err + used, errlen - used, "%s%s:%u: %s",
			    used ? "; " : "", nodes[k].host, nodes[k].port, one);
	}
	atomic_store(&next_node, (first + 1) % n);
	return NULL;
}
