/*
 * Group commit for a threaded writer. On a fast disk the fsync of each commit, not the
 * CPU, bounds how many citizens' submissions a hall takes per second. A thread of its own,
 * the committer, does every commit: a writer queues its write and sleeps; the committer
 * takes the whole queue, commits it as one transaction (store_write_group) on the group's
 * connection, wakes each writer with its result, and takes what queued meanwhile. One
 * connection for every commit keeps its page cache warm: SQLite empties a connection's
 * cache whenever another connection has written since its last transaction. No write waits
 * for a timer: a lone submission commits at once, and a busy hall shares each fsync among
 * many.
 *
 * Each writer sleeps on a semaphore of its own and is woken once, with its result. The
 * committer is woken only when it sleeps with nothing to do. Before the committer, the
 * first queued writer led the next group: the leader woke it when done, and that wake-up
 * (some 150 us on two cores, under SCHED_BATCH) stood between every two groups.
 */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdlib.h>

#include <sqlite3.h>

#include "store.h"

#define GROUP_MAX 64	/* writes per transaction: bounds the time a waiter can wait */

struct pending {
	struct store_write *w;
	sem_t *wake;		/* the waiting thread's own (thread_wake) */
	struct pending *next;
};

struct commit_group {
	pthread_mutex_t mu;
	pthread_cond_t work;	/* the committer sleeps on it while the queue is empty */
	struct pending *head, **tail;
	int idle;		/* the committer is waiting on work */
	int stopping;
	pthread_t committer;
	struct store *store;	/* the committer's alone */
	unsigned long groups, writes;
};

static void *committer_run(void *);

struct commit_group *
commit_group_new(struct store *s)
{
	struct commit_group *g;

	/*
	 * Each write's savepoint keeps a journal of the pages it changes. By default SQLite
	 * spills one past 64 KiB to a file in /var/tmp, which a busy hall's groups do: a file
	 * created, written and unlinked by nearly every commit, with citizens' submissions in
	 * it, outside the store. In memory it costs at most a group's pages.
	 */
	if (sqlite3_exec(store_sqlite(s), "PRAGMA temp_store = MEMORY", NULL, NULL, NULL) !=
	    SQLITE_OK) {
		log_warnx("%s: %s", __func__, sqlite3_errmsg(store_sqlite(s)));
		return NULL;
	}
	if ((g = calloc(1, sizeof(*g))) == NULL)
		return NULL;
	g->store = s;
	pthread_mutex_init(&g->mu, NULL);
	pthread_cond_init(&g->work, NULL);
	g->tail = &g->head;
	if (pthread_create(&g->committer, NULL, committer_run, g) != 0) {
		log_warnx("%s: cannot start the committer thread", __func__);
		pthread_cond_destroy(&g->work);
		pthread_mutex_destroy(&g->mu);
		free(g);
		return NULL;
	}
	return g;
}

/* Stops the committer once the queue is empty; every write queued before is committed. */
void
commit_group_free(struct commit_group *g)
{
	if (g == NULL)
		return;
	pthread_mutex_lock(&g->mu);
	g->stopping = 1;
	pthread_cond_signal(&g->work);
	pthread_mutex_unlock(&g->mu);
	pthread_join(g->committer, NULL);
	pthread_cond_destroy(&g->work);
	pthread_mutex_destroy(&g->mu);
	free(g);
}

/* Commits up to GROUP_MAX queued writes, in queue order, and posts each its result. */
static void
commit_some(struct commit_group *g, struct pending *taken[GROUP_MAX], size_t n)
{
	struct store_write batch[GROUP_MAX];
	size_t i;

	for (i = 0; i < n; i++)
		batch[i] = *taken[i]->w;
	store_write_group(g->store, batch, n);
	for (i = 0; i < n; i++) {
		taken[i]->w->rc = batch[i].rc;
		sem_post(taken[i]->wake);	/* after the post, taken[i] may be gone */
	}
}

static void *
committer_run(void *arg)
{
	struct commit_group *g = arg;
	struct pending *taken[GROUP_MAX];
	size_t n;

	for (;;) {
		pthread_mutex_lock(&g->mu);
		while (g->head == NULL && !g->stopping) {
			g->idle = 1;
			pthread_cond_wait(&g->work, &g->mu);
		}
		g->idle = 0;
		if (g->head == NULL) {	/* stopping, and nothing left */
			pthread_mutex_unlock(&g->mu);
			return NULL;
		}
		for (n = 0; g->head != NULL && n < GROUP_MAX; n++) {
			taken[n] = g->head;
			g->head = g->head->next;
		}
		if (g->head == NULL)
			g->tail = &g->head;
		g->groups++;
		g->writes += n;
		pthread_mutex_unlock(&g->mu);
		commit_some(g, taken, n);
	}
}

/*
 * A thread's semaphore, made on its first write and kept while it lives: the committer's
 * sem_post may still be returning when the thread it woke has gone on, so the semaphore
 * must outlive the write it was posted for.
 */
static sem_t *
thread_wake(void)
{
	static __thread sem_t wake;
	static __thread int made;

	if (!made) {
		sem_init(&wake, 0, 0);
		made = 1;
	}
	return &wake;
}

void
commit_group_write(struct commit_group *g, struct store_write *w)
{
	struct pending me = {.w = w, .wake = thread_wake()};

	pthread_mutex_lock(&g->mu);
	*g->tail = &me;
	g->tail = &me.next;
	if (g->idle) {
		g->idle = 0;	/* one signal is enough */
		pthread_cond_signal(&g->work);
	}
	pthread_mutex_unlock(&g->mu);
	while (sem_wait(me.wake) == -1 && errno == EINTR)
		;
}

void
commit_group_stats(struct commit_group *g, unsigned long *groups, unsigned long *writes)
{
	pthread_mutex_lock(&g->mu);
	*groups = g->groups;
	*writes = g->writes;
	pthread_mutex_unlock(&g->mu);
}
