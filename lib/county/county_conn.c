/* Connections to the county database with MariaDB Connector/C, configured defensively. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "county.h"

MYSQL *
county_connect(const struct county_conn_opts *o, char *err, size_t errlen)
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
	mysql_optionsv(db, MYSQL_INIT_COMMAND, "SET time_zone = '+08:00'");
	if (o->tls) {
		mysql_optionsv(db, MYSQL_OPT_SSL_ENFORCE, &on);
		mysql_optionsv(db, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &on);
		if (o->tls_ca != NULL)
			mysql_optionsv(db, MYSQL_OPT_SSL_CA, o->tls_ca);
	}
	if (o->multi_statements)
		flags |= CLIENT_MULTI_STATEMENTS | CLIENT_MULTI_RESULTS;
	if (mysql_real_connect(db, o->host, o->user, o->password, o->database, o->port, o->socket,
		flags) == NULL) {
		snprintf(err, errlen, "%s", mysql_error(db));
		mysql_close(db);
		return NULL;
	}
	if (mysql_autocommit(db, 0) != 0) {
		snprintf(err, errlen, "%s", mysql_error(db));
		mysql_close(db);
		return NULL;
	}
	return db;
}
