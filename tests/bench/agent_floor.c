/*
 * agent-floor: what the hall agent's libraries cost before it holds one record, the floor
 * under `agent_rss_mb` in `make bench` (SPEC 9). Linked as hall-agent is, it does only the
 * agent's first steps: the libraries' initialisation, the hall store opened as the agent
 * opens it with one query read through, and one connection to the county as the agent
 * makes it (TLS, compression) with one query. Then it prints its own peak RSS.
 *
 *   agent-floor -c CONFIG      prints "floor_rss_kb N" (and each step's peak on stderr)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <sodium.h>
#include <sqlite3.h>

#include "county.h"
#include "store.h"

/* as in hall_agent.c: GnuTLS (loaded by librtmp, used by nobody) is not initialised */
int _gnutls_global_init_skip(void);
int
_gnutls_global_init_skip(void)
{
	return 1;
}

/* VmHWM of this process in KiB, or -1. */
static long
peak_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmHWM: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

static int
store_step(const struct hall_config *cfg)
{
	struct store *s;
	sqlite3_stmt *st;
	int rc;

	if ((s = store_open(cfg->store_path, 0)) == NULL || store_cache_limit(s, 256) == -1)
		return -1;
	if (sqlite3_prepare_v2(store_sqlite(s), "SELECT seq, payload FROM outbox ORDER BY seq",
		-1, &st, NULL) != SQLITE_OK) {
		fprintf(stderr, "agent-floor: %s\n", sqlite3_errmsg(store_sqlite(s)));
		store_close(s);
		return -1;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		;
	sqlite3_finalize(st);
	store_close(s);
	return rc == SQLITE_DONE ? 0 : -1;
}

static int
county_step(const struct hall_config *cfg)
{
	struct county_conn_opts o;
	char err[512], *pw;
	MYSQL *db;
	MYSQL_RES *res;

	memset(&o, 0, sizeof(o));
	o.host = cfg->county_host;
	o.socket = cfg->county_socket;
	o.port = (unsigned)cfg->county_port;
	o.user = cfg->county_user;
	o.database = cfg->county_database;
	o.tls = cfg->county_tls;
	o.tls_ca = cfg->county_tls_ca;
	o.connect_timeout = o.read_timeout = o.write_timeout = 10;
	o.nonblock = o.multi_statements = 1;
	if ((pw = secret_read(cfg->county_password_file)) == NULL)
		return -1;
	o.password = pw;
	db = county_connect(&o, err, sizeof(err));
	sodium_memzero(pw, strlen(pw));
	free(pw);
	if (db == NULL) {
		fprintf(stderr, "agent-floor: the county: %s\n", err);
		return -1;
	}
	if (mysql_query(db, "SELECT county_schema()") != 0 ||
	    (res = mysql_store_result(db)) == NULL) {
		fprintf(stderr, "agent-floor: the county: %s\n", mysql_error(db));
		mysql_close(db);
		return -1;
	}
	mysql_free_result(res);
	mysql_close(db);
	return 0;
}

int
main(int argc, char *argv[])
{
	struct hall_config cfg;

	if (argc != 3 || strcmp(argv[1], "-c") != 0) {
		fprintf(stderr, "usage: agent-floor -c CONFIG\n");
		return 2;
	}
	fprintf(stderr, "agent-floor: loaded %ld kB\n", peak_kb());
	if (sodium_init() < 0 || config_load(&cfg, argv[2]) == -1 ||
	    mysql_library_init(0, NULL, NULL) != 0 ||
	    curl_global_init(cfg.province_url != NULL ? CURL_GLOBAL_DEFAULT : CURL_GLOBAL_NOTHING) !=
		0)
		return 1;
	fprintf(stderr, "agent-floor: libraries initialised %ld kB\n", peak_kb());
	if (store_step(&cfg) == -1)
		return 1;
	fprintf(stderr, "agent-floor: store read %ld kB\n", peak_kb());
	if (cfg.county_user != NULL && *cfg.county_user != '\0' && county_step(&cfg) == -1)
		return 1;
	fprintf(stderr, "agent-floor: county queried %ld kB\n", peak_kb());
	printf("floor_rss_kb %ld\n", peak_kb());
	return 0;
}
