/*
 * The accept loop every FastCGI program shares: one unix socket, pre-forked workers (libfcgi's
 * FCGX_* API), a master that restarts the ones that die and stops them all on SIGTERM.
 * nginx connects with fastcgi_keep_conn off, so a worker is never tied to one nginx
 * connection and a slow client never holds up the others.
 *
 * A worker serves from one thread, except in hall-write: its threads share each commit's
 * fsync (lib/store/commit_group.c), which only threads of one process can do. The worker's
 * main thread only waits for SIGTERM, and the master only for its signals (sigwaitinfo), so
 * no stop can slip in between a check and a blocking call.
 */
#include <errno.h>
#include <grp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "web.h"

static volatile sig_atomic_t server_stopping;
static const char *server_group;	/* the socket's group; NULL: as created */

void
server_socket_group(const char *group)
{
	server_group = group;
}

static int
server_listen(const char *path)
{
	int fd;
	mode_t old;

	if (strlen(path) >= 100) {
		log_warnx("%s: socket path too long", path);
		return -1;
	}
	unlink(path);	/* a socket left by a killed master */
	old = umask(0117);
	fd = FCGX_OpenSocket(path, 128);
	umask(old);
	if (fd < 0) {
		log_warnx("%s: cannot listen", path);
		return -1;
	}
	/*
	 * The socket alone is shared: the program runs with umask 077 (its store and secrets
	 * are its own), and the socket is opened to its group explicitly.
	 */
	if (chmod(path, 0660) == -1) {
		log_warn("chmod %s", path);
		return -1;
	}
	if (server_group != NULL) {
		struct group *g = getgrnam(server_group);

		if (g == NULL) {
			log_warnx("%s: no group %s (the socket's group, for nginx)", path, server_group);
			return -1;
		}
		if (chown(path, (uid_t)-1, g->gr_gid) == -1) {
			log_warn("%s: cannot give the socket to group %s (is this program a member?)",
			    path, server_group);
			return -1;
		}
	}
	return fd;
}

/* What every thread of a worker runs. */
struct worker {
	int fd;
	const struct server_ops *ops;
};

static pthread_mutex_t accept_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_t accepting;	/* the thread in FCGX_Accept_r, under accept_mu */
static int have_accepting;
static pthread_mutex_t accepting_mu = PTHREAD_MUTEX_INITIALIZER;

static void
worker_loop(const struct worker *w)
{
	FCGX_Request fr;
	int rc;

	if (w->ops->init != NULL && w->ops->init() == -1)
		fatalx("worker cannot start");
	if (FCGX_InitRequest(&fr, w->fd, FCGI_FAIL_ACCEPT_ON_INTR) != 0)
		fatalx("FCGX_InitRequest failed");
	for (;;) {
		pthread_mutex_lock(&accept_mu);
		pthread_mutex_lock(&accepting_mu);
		accepting = pthread_self();
		have_accepting = 1;
		pthread_mutex_unlock(&accepting_mu);
		rc = server_stopping ? -1 : FCGX_Accept_r(&fr);
		pthread_mutex_lock(&accepting_mu);
		have_accepting = 0;
		pthread_mutex_unlock(&accepting_mu);
		pthread_mutex_unlock(&accept_mu);
		if (rc != 0)
			break;
		w->ops->handle(&fr);
		FCGX_Finish_r(&fr);
	}
	FCGX_Free(&fr, 1);
	if (w->ops->fini != NULL)
		w->ops->fini();
}

static void *
worker_thread(void *arg)
{
	worker_loop(arg);
	return NULL;
}

static void
worker_on_wake(int sig)
{
	(void)sig;	/* only interrupts accept() */
}

/*
 * Threads of one worker. SIGTERM is taken by this thread alone; it then wakes the one
 * thread blocked in accept() (again until it has left: the signal can land just before
 * the call) and waits for every thread to finish the request it is in.
 */
static void
worker_threads(const struct worker *w, int threads)
{
	struct sigaction sa;
	sigset_t set;
	pthread_t *t;
	int i, sig;

	if ((t = calloc((size_t)threads, sizeof(*t))) == NULL)
		fatalx("out of memory");
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = worker_on_wake;	/* no SA_RESTART: accept() returns EINTR */
	sigaction(SIGUSR1, &sa, NULL);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	for (i = 0; i < threads; i++)
		if (pthread_create(&t[i], NULL, worker_thread, (void *)w) != 0)
			fatalx("cannot start worker threads");
	while (sigwait(&set, &sig) != 0)
		;
	server_stopping = 1;
	for (i = 0; i < threads; i++) {
		struct timespec ts;

		for (;;) {
			pthread_mutex_lock(&accepting_mu);
			if (have_accepting)
				pthread_kill(accepting, SIGUSR1);
			pthread_mutex_unlock(&accepting_mu);
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 50 * 1000 * 1000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			if (pthread_timedjoin_np(t[i], NULL, &ts) == 0)
				break;
		}
	}
	free(t);
}

static void
worker_main(int fd, int threads, const struct server_ops *ops)
{
	struct worker w = {fd, ops};
	sigset_t set;

	/* the master's mask (its signals are taken by sigwaitinfo) is not the worker's */
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	signal(SIGINT, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	/*
	 * Even a worker of one thread serves from a thread of its own: SIGTERM is then taken
	 * by sigwait, and the serving thread woken until it has left accept(). A handler
	 * alone cannot do it: a SIGTERM that lands between the check of the flag and the
	 * accept() call would leave the worker in accept() for good.
	 */
	worker_threads(&w, threads > 1 ? threads : 1);
	exit(0);
}

static pid_t
worker_spawn(int fd, int threads, const struct server_ops *ops)
{
	pid_t pid = fork();

	if (pid == -1)
		log_warn("fork");
	else if (pid == 0)
		worker_main(fd, threads, ops);
	return pid;
}

int
server_run(const char *path, int workers, int threads, const struct server_ops *ops)
{
	sigset_t set;
	pid_t *pids;
	int fd, i, status, alive;

	if (path == NULL || (fd = server_listen(path)) == -1)
		return -1;
	if ((pids = calloc((size_t)workers, sizeof(*pids))) == NULL)
		return -1;
	/*
	 * The master takes its signals with sigwaitinfo, never in a handler: a SIGTERM that
	 * came between a check of a flag and a blocking waitpid() would go unseen until a
	 * worker died. The workers inherit the mask; worker_main sets their own.
	 */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	for (i = 0; i < workers; i++)
		pids[i] = worker_spawn(fd, threads, ops);
	if (threads > 1)
		log_info("listening on %s with %d workers of %d threads", path, workers, threads);
	else
		log_info("listening on %s with %d workers", path, workers);
	/*
	 * Type=notify (conf/systemd): the units ordered after this one, and nginx, start once
	 * the socket takes connections. Without NOTIFY_SOCKET (the demo) this does nothing.
	 */
	{
		char state[4200];

		snprintf(state, sizeof(state), "READY=1\nSTATUS=listening on %s", path);
		if (notify_systemd(state) == -1)
			log_warn("NOTIFY_SOCKET");
	}

	for (;;) {
		pid_t pid;
		int sig;

		while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
			for (i = 0; i < workers; i++) {
				if (pids[i] != pid)
					continue;
				log_warnx("worker %ld ended (%s %d); starting another", (long)pid,
				    WIFSIGNALED(status) ? "signal" : "status",
				    WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
				sleep(WIFEXITED(status) && WEXITSTATUS(status) != 0 ? 1 : 0);
				pids[i] = worker_spawn(fd, threads, ops);
			}
		sig = sigwaitinfo(&set, NULL);
		if (sig == SIGTERM || sig == SIGINT)
			break;
	}
	notify_systemd("STOPPING=1");
	for (i = 0; i < workers; i++)
		if (pids[i] > 0)
			kill(pids[i], SIGTERM);
	/* a worker blocked in accept() leaves at once; one mid-request finishes it first */
	do {
		alive = 0;
		for (i = 0; i < workers; i++) {
			if (pids[i] <= 0)
				continue;
			if (waitpid(pids[i], &status, 0) == pids[i] || errno == ECHILD)
				pids[i] = 0;
			else
				alive = 1;
		}
	} while (alive);
	unlink(path);
	free(pids);
	log_info("stopped");
	return 0;
}
