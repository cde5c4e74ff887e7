/*
 * The store's schema and its hall: the numbered migrations of sql/hall applied above
 * PRAGMA user_version, each in a transaction of its own; the hall a store belongs to, so
 * that a store copied to the wrong hall refuses to serve; and the two helpers the admin
 * tool seeds a store with (a SQL file, a table's row count).
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "store_int.h"

static int
migration_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *
slurp(const char *path, size_t max)
{
	FILE *f;
	struct buf b;
	char chunk[8192];
	size_t n;

	if ((f = fopen(path, "r")) == NULL) {
		log_warn("%s", path);
		return NULL;
	}
	buf_init(&b, max);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (buf_add(&b, chunk, n) == -1)
			break;
	if (ferror(f) || b.failed) {
		log_warnx("%s: cannot read (or larger than %zu bytes)", path, max);
		fclose(f);
		buf_free(&b);
		return NULL;
	}
	fclose(f);
	return buf_take(&b, NULL);
}

int
store_exec_file(struct store *s, const char *path)
{
	char *sql, *err = NULL;
	int rc = 0;

	if ((sql = slurp(path, 4 << 20)) == NULL)
		return -1;
	if (sqlite3_exec(s->db, sql, NULL, NULL, &err) != SQLITE_OK) {
		log_warnx("%s: %s", path, err ? err : store_errmsg(s));
		sqlite3_free(err);
		rc = -1;
	}
	free(sql);
	return rc;
}

int
store_migrate(struct store *s, const char *dir)
{
	DIR *d;
	struct dirent *de;
	char *names[256], path[4096], pragma[64];
	size_t n = 0, i;
	long long version;
	int rc = -1;

	if ((d = opendir(dir)) == NULL) {
		log_warn("%s", dir);
		return -1;
	}
	while ((de = readdir(d)) != NULL && n < sizeof(names) / sizeof(names[0])) {
		size_t len = strlen(de->d_name);

		if (len > 8 && strspn(de->d_name, "0123456789") == 3 && de->d_name[3] == '_' &&
		    strcmp(de->d_name + len - 4, ".sql") == 0)
			if ((names[n] = strdup(de->d_name)) != NULL)
				n++;
	}
	closedir(d);
	qsort(names, n, sizeof(names[0]), migration_cmp);
	for (i = 0; i < n; i++) {
		int num = atoi(names[i]);

		/* the version is read inside the write transaction: two programs starting at
		 * once must not both apply the same file */
		if (store_begin_write(s) == -1 ||
		    store_scalar(store_stmt(s, "PRAGMA user_version"), &version) == -1) {
			log_warnx("%s: %s", __func__, store_errmsg(s));
			store_rollback(s);
			goto done;
		}
		if (num <= version) {
			store_commit(s);
			continue;
		}
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		/* a PRAGMA's number cannot be bound: run once, never kept */
		snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", num);
		if (store_exec_file(s, path) == -1 ||
		    sqlite3_exec(s->db, pragma, NULL, NULL, NULL) != SQLITE_OK ||
		    store_commit(s) == -1) {
			store_rollback(s);
			log_warnx("%s: %s not applied", __func__, names[i]);
			goto done;
		}
		log_info("store: applied %s", names[i]);
	}
	rc = 0;
done:
	for (i = 0; i < n; i++)
		free(names[i]);
	return rc;
}

int
store_bind_hall(struct store *s, const char *hall_code)
{
	char have[32];
	int rc;

	if ((rc = store_meta(s, "hall_code", have, sizeof(have))) == -1)
		return -1;
	if (rc == 1 && strcmp(have, hall_code) != 0) {
		log_warnx("store belongs to hall %s, not %s", have, hall_code);
		return -1;
	}
	if (rc == 0 && !s->readonly && store_meta_set(s, "hall_code", hall_code) == -1)
		return -1;
	/* the MACs' key before any backup can be made of the store (case.c) */
	if (store_query_key_make(s) == -1)
		return -1;
	snprintf(s->hall_code, sizeof(s->hall_code), "%s", hall_code);
	return 0;
}

long
store_count(struct store *s, const char *table)
{
	char sql[128];
	sqlite3_stmt *st;
	long long n = -1;

	/*
	 * A table's name cannot be bound, so this statement is built, run once and never
	 * kept (store_stmt keeps only constants). Table names come from our own code, never
	 * from input.
	 */
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM \"%s\"", table);
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	store_scalar(st, &n);	/* no row: -1 */
	sqlite3_finalize(st);
	return (long)n;
}
