/*
 * Group commit for a threaded writer. On a fast disk the fsync of each commit, not the
 * CPU, bounds how many citizens' submissions a hall takes per second. Threads that arrive
 * while a commit is in flight queue up; when it is done, the first of them leads the next
 * group: it takes the whole queue and commits it as one transaction (store_write_group)
 * on the group's connection, then wakes the others with their results. One connection for
 * every commit keeps its page cache warm: SQLite empties a connection's cache whenever
 * another connection has written since its last transaction. No write waits for a timer:
 * a lone submission commits at once, and a busy hall shares each fsync among many.
 *
 * Each waiter sleeps on a semaphore of its own and is woken once, for its result or to
 * lead. A condition broadcast woke every waiter at the end of each commit, those queued
 * for the next one too, only for them to take the mutex in turn and sleep again: on two
 * cores that cost about a twentieth of the submissions a hall takes per second. The next
 * leader is woken first and the results are posted outside the mutex: when the leader
 * posted them under it, the next group waited for every one of those wake-ups (about
 * 90 us a group of eight on two cores) before it could take the queue.
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
	enum { WAITING, LEAD, DONE } state;	/* set, then posted; read after the post */
	sem_t *wake;		/* the waiting thread's own (thread_wake) */
	struct pending *next;
};

struct commit_group {
	pthread_mutex_t mu;
	struct pending *head, **tail;
	struct store *store;	/* used by the leader only */
	int leading;		/* a thread is committing a group */
	unsigned long groups, writes;
};

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
	g->tail = &g->head;
	return g;
}

void
commit_group_free(struct commit_group *g)
{
	if (g == NULL)
		return;
	pthread_mutex_destroy(&g->mu);
	free(g);
}

/* Called with the mutex held: the next queued writer leads, or nobody is leading. */
static void
hand_over(struct commit_group *g)
{
	if (g->head == NULL) {
		g->leading = 0;
		return;
	}
	g->head->state = LEAD;
	sem_post(g->head->wake);
}

/* Commits up to GROUP_MAX queued writes, the leader's own first; without the mutex held. */
static void
commit_group_lead(struct commit_group *g)
{
	struct pending *taken[GROUP_MAX];
	struct store_write batch[GROUP_MAX];
	size_t i, n = 0;

	pthread_mutex_lock(&g->mu);
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

	for (i = 0; i < n; i++) {
		taken[i]->w->rc = batch[i].rc;
		taken[i]->state = DONE;
	}
	pthread_mutex_lock(&g->mu);
	g->groups++;
	g->writes += n;
	hand_over(g);
	pthread_mutex_unlock(&g->mu);
	for (i = 1; i < n; i++)	/* taken[0] is the leader: its caller returns */
		sem_post(taken[i]->wake);
}

/*
 * A thread's semaphore, made on its first write and kept while it lives: a leader's
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
	struct pending me = {.w = w, .state = WAITING, .wake = thread_wake()};
	int lead;

	pthread_mutex_lock(&g->mu);
	*g->tail = &me;
	g->tail = &me.next;
	if ((lead = !g->leading))
		g->leading = 1;
	pthread_mutex_unlock(&g->mu);
	if (!lead) {
		/* one post: to lead (my write heads that group), or my result */
		while (sem_wait(me.wake) == -1 && errno == EINTR)
			;
		lead = me.state == LEAD;
	}
	if (lead)
		commit_group_lead(g);	/* me first: I am at the head */
}

void
commit_group_stats(struct commit_group *g, unsigned long *groups, unsigned long *writes)
{
	pthread_mutex_lock(&g->mu);
	*groups = g->groups;
	*writes = g->writes;
	pthread_mutex_unlock(&g->mu);
}
