/*
 * Group commit for a threaded writer. On a fast disk the fsync of each commit, not the
 * CPU, bounds how many citizens' submissions a hall takes per second. Threads that arrive
 * while a commit is in flight queue up; the next of them to find nobody committing takes
 * the whole queue and commits it as one transaction (store_write_group) on the group's
 * connection, then wakes the others with their results. One connection for every commit
 * keeps its page cache warm: SQLite empties a connection's cache whenever another
 * connection has written since its last transaction. No write waits for a timer: a
 * lone submission commits at once, and a busy hall shares each fsync among many.
 */
#include <pthread.h>
#include <stdlib.h>

#include "store.h"

#define GROUP_MAX 64	/* writes per transaction: bounds the time a waiter can wait */

struct pending {
	struct store_write *w;
	int done;
	struct pending *next;
};

struct commit_group {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct pending *head, **tail;
	struct store *store;	/* used by the leader only */
	int leading;		/* a thread is committing a group */
	unsigned long groups, writes;
};

struct commit_group *
commit_group_new(struct store *s)
{
	struct commit_group *g;

	if ((g = calloc(1, sizeof(*g))) == NULL)
		return NULL;
	g->store = s;
	pthread_mutex_init(&g->mu, NULL);
	pthread_cond_init(&g->cv, NULL);
	g->tail = &g->head;
	return g;
}

void
commit_group_free(struct commit_group *g)
{
	if (g == NULL)
		return;
	pthread_mutex_destroy(&g->mu);
	pthread_cond_destroy(&g->cv);
	free(g);
}

/* Commits up to GROUP_MAX queued writes; called with the mutex held, returns with it held. */
static void
commit_group_lead(struct commit_group *g)
{
	struct pending *taken[GROUP_MAX];
	struct store_write batch[GROUP_MAX];
	size_t i, n = 0;

	g->leading = 1;
	while (g->head != NULL && n < GROUP_MAX) {
		taken[n++] = g->head;
		g->head = g->head->next;
	}
	if (g->head == NULL)
		g->tail = &g->head;
	pthread_mutex_unlock(&g->mu);

	for (i = 0; i < n; i++)
		batch[i] = *taken[i]->w;
	store_write_group(g->store, batch, n);

	pthread_mutex_lock(&g->mu);
	for (i = 0; i < n; i++) {
		taken[i]->w->rc = batch[i].rc;
		taken[i]->done = 1;
	}
	g->groups++;
	g->writes += n;
	g->leading = 0;
	pthread_cond_broadcast(&g->cv);
}

void
commit_group_write(struct commit_group *g, struct store_write *w)
{
	struct pending me = {.w = w};

	pthread_mutex_lock(&g->mu);
	*g->tail = &me;
	g->tail = &me.next;
	while (!me.done) {
		if (g->leading)
			pthread_cond_wait(&g->cv, &g->mu);
		else
			commit_group_lead(g);
	}
	pthread_mutex_unlock(&g->mu);
}

void
commit_group_stats(struct commit_group *g, unsigned long *groups, unsigned long *writes)
{
	pthread_mutex_lock(&g->mu);
	*groups = g->groups;
	*writes = g->writes;
	pthread_mutex_unlock(&g->mu);
}
