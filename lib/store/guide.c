/*
 * The service guides (办事指南) as the citizen site reads them: a search by name or
 * department, and one guide by id. The county publishes them; the downlink writes them
 * (downlink_guide), and nothing at the hall edits them.
 */
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "store_int.h"

/* Both statements' columns, in struct guide's order (guide_fill). */
#define GUIDE_COLUMNS "id, name, department, materials, time_limit, fees, fee_basis, " \
		      "delivery, consult, address, hours, updated_at"

static int
guide_fill(sqlite3_stmt *st, struct guide *g)
{
	char **f[] = {&g->id, &g->name, &g->department, &g->materials, &g->time_limit, &g->fees,
	    &g->fee_basis, &g->delivery, &g->consult, &g->address, &g->hours};
	size_t i;

	memset(g, 0, sizeof(*g));
	for (i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		if ((*f[i] = store_col_dup(st, (int)i)) == NULL && (*f[i] = strdup("")) == NULL)
			return -1;
	g->updated_at = sqlite3_column_int64(st, (int)i);
	return 0;
}

void
guide_free(struct guide *g)
{
	if (g == NULL)
		return;
	free(g->id);
	free(g->name);
	free(g->department);
	free(g->materials);
	free(g->time_limit);
	free(g->fees);
	free(g->fee_basis);
	free(g->delivery);
	free(g->consult);
	free(g->address);
	free(g->hours);
	memset(g, 0, sizeof(*g));
}

int
store_guides_search(struct store *s, const char *q, int (*fn)(const struct guide *, void *),
    void *arg)
{
	sqlite3_stmt *st = store_stmt(s, "SELECT " GUIDE_COLUMNS " FROM guides "
					 "WHERE ?1 = '' OR instr(name, ?1) > 0 "
					 "OR instr(department, ?1) > 0 ORDER BY name LIMIT 200");
	struct guide g;
	int step, rc = 0;

	if (st == NULL)
		return -1;
	store_bind_text(st, 1, q);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		if (guide_fill(st, &g) == -1 || fn(&g, arg) == -1)
			rc = -1;
		guide_free(&g);
		if (rc == -1)
			break;
	}
	sqlite3_reset(st);
	if (rc == 0 && step != SQLITE_DONE) {
		log_warnx("%s: %s", __func__, store_errmsg(s));
		rc = -1;
	}
	return rc;
}

enum store_rc
store_guide_get(struct store *s, const char *id, struct guide *g)
{
	sqlite3_stmt *st = store_stmt(s, "SELECT " GUIDE_COLUMNS " FROM guides WHERE id = ?1");
	enum store_rc rc;
	int step;

	memset(g, 0, sizeof(*g));
	if (st == NULL)
		return STORE_ERR;
	store_bind_text(st, 1, id);
	step = sqlite3_step(st);
	if (step == SQLITE_ROW)
		rc = guide_fill(st, g) == 0 ? STORE_OK : STORE_ERR;
	else
		rc = step == SQLITE_DONE ? STORE_NOT_FOUND : STORE_ERR;
	sqlite3_reset(st);
	if (rc == STORE_ERR)
		guide_free(g);
	return rc;
}
