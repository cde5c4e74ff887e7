/*
 * hall-agent: delivers the hall's outbox exactly once to the county database and to the
 * province platform, and brings the county's answers, guides and calendars back down.
 *
 *   hall-agent -c CONFIG run      the daemon: sync every [agent] poll_ms, and at once when
 *                                 the hall writes a record; SIGTERM stops it cleanly
 *   hall-agent -c CONFIG once     one full pass (everything due, every way); exit 0 or 1
 *   hall-agent -c CONFIG status   per destination: backlog, oldest unsent, last success,
 *                                 last error, bytes sent; a progress bar while draining;
 *                                 --json for monitors; exit 0 healthy, 1 not, 2 no store
 *                                 (status.c)
 *
 * Each destination runs in a thread of its own, with its own store connection, mark,
 * backoff and status: a dead province never holds up the county, nor the reverse.
 *
 * Nothing undelivered is ever dropped: no quota, retry count or age deletes a record. A
 * record a destination refuses is quarantined (kept, logged, shown) and the others go on.
 */
#include <errno.h>
#include <libgen.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sodium.h>

#include "agent.h"

/*
 * GnuTLS is loaded only because libcurl's RTMP support (librtmp) links it: nothing here
 * uses it, since libcurl and MariaDB Connector/C speak TLS through OpenSSL. Its library
 * constructor still initialized it on load, which cost about 1 MB of the agent's RSS
 * (p11-kit, nettle and its own tables). This is GnuTLS's documented way out, the
 * GNUTLS_SKIP_GLOBAL_INIT of its manual ("Initialization") written out, without its
 * header; the Makefile exports the symbol so that the library binds to it.
 * (test_agent_memory checks that it does.)
 */
int _gnutls_global_init_skip(void);
int
_gnutls_global_init_skip(void)
{
	return 1;
}

static volatile sig_atomic_t stopping;

static void
on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

static const char help[] =
    "usage: hall-agent -c CONFIG run | once | status [--json] [--watch]\n"
    "\n"
    "The hall's sync agent: sends the records in the hall store's outbox to the county\n"
    "database ([county]) and the province platform ([province]), and brings the county's\n"
    "answers, guides and calendars down.\n"
    "\n"
    "  run              keep syncing (every [agent] poll_ms, at once after a hall write)\n"
    "  once             one full pass to every destination, then exit (0: all went)\n"
    "  status           per destination: backlog, oldest unsent record, last success and\n"
    "                   error, set-aside records; --watch (or a terminal) keeps a progress\n"
    "                   bar while a backlog drains; --json: one JSON object for a monitor.\n"
    "                   Exit 0 healthy; 1 a record has waited, or the destination has\n"
    "                   failed with no success, for more than [agent] status_max_age_s;\n"
    "                   2 the store or the INI cannot be read\n"
    "  -c CONFIG        the hall INI (conf/hall.ini.example documents every key)\n"
    "  --help, --version\n";

static void
usage(void)
{
	cli_usage(help, 2);
}

/* One destination's worker: its sink, its own store connection, its own pace. */
struct dest {
	const struct sink_ops *ops;
	const char *name;	/* ops->name */
	const struct hall_config *cfg;
	struct store *s;
	void *sink;		/* what ops->open returned */
	struct push_stats ps;
	long retry_after;	/* the destination asked for this wait (seconds), or -1 */
};

static int
dest_pass(struct dest *d)
{
	char err[512] = "";
	int rc;

	d->retry_after = -1;
	rc = d->ops->pass(d->sink, d->s, &d->ps, &d->retry_after, err, sizeof(err));
	if (rc == 0) {
		outbox_success(d->s, d->name);
		return 0;
	}
	/* a failure is never shown as "last error: none" (a path that gave no reason) */
	if (err[0] == '\0')
		snprintf(err, sizeof(err), "the pass failed and gave no reason (see the log)");
	log_warnx("%s: %s", d->name, err);
	outbox_error(d->s, d->name, err);
	return -1;
}

/* Watches the store's folder, so a record the hall writes is sent at once. */
static int
watch_store(const char *store_path)
{
	char *copy = strdup(store_path);
	int fd;

	if (copy == NULL || (fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) == -1) {
		free(copy);
		return -1;
	}
	if (inotify_add_watch(fd, dirname(copy), IN_MODIFY | IN_CLOSE_WRITE) == -1) {
		log_warn("inotify %s", copy);
		close(fd);
		fd = -1;
	}
	free(copy);
	return fd;
}

/* Sleeps ms in slices, so a stop is honoured promptly; returns early on a store change
 * when ifd is given. */
static void
pause_ms(int ifd, unsigned ms)
{
	struct pollfd p = {.fd = ifd, .events = POLLIN};
	char drain[4096];

	while (!stopping && ms > 0) {
		unsigned slice = ms > 200 ? 200 : ms;

		if (ifd != -1 && poll(&p, 1, (int)slice) > 0) {
			/* a short pause gathers the records written together into one batch */
			poll(NULL, 0, 20);
			while (read(ifd, drain, sizeof(drain)) > 0)
				;
			return;
		}
		if (ifd == -1)
			poll(NULL, 0, (int)slice);
		ms -= slice;
	}
}

static void *
dest_thread(void *arg)
{
	struct dest *d = arg;
	struct backoff bo = {0, 1000, (unsigned)d->cfg->agent_backoff_max_s * 1000};
	int ifd = watch_store(d->cfg->store_path);

	mysql_thread_init();
	while (!stopping) {
		long long before = d->ps.records;

		if (dest_pass(d) == 0) {
			backoff_reset(&bo);
			if (d->ps.records > before)
				log_info("%s: %lld record(s) delivered", d->name, d->ps.records - before);
			pause_ms(ifd, (unsigned)d->cfg->agent_poll_ms);
			continue;
		}
		{
			unsigned ms = backoff_next_ms(&bo);

			/* 429 and 503 say how long: never sooner than that */
			if (d->retry_after >= 0 && (unsigned long)d->retry_after * 1000 > ms)
				ms = (unsigned)(d->retry_after > 86400 ? 86400000 : d->retry_after * 1000);
			log_info("%s: retrying in %u ms", d->name, ms);
			pause_ms(-1, ms);
		}
	}
	if (ifd != -1)
		close(ifd);
	log_info("%s: stopped; %lld record(s) delivered this run", d->name, d->ps.records);
	mysql_thread_end();
	return NULL;
}

static int
dest_open(struct dest *d, const struct sink_ops *ops, const struct hall_config *cfg)
{
	memset(d, 0, sizeof(*d));
	d->ops = ops;
	d->name = ops->name;
	d->cfg = cfg;
	if ((d->s = store_open(cfg->store_path, 0)) == NULL || store_bind_hall(d->s, cfg->code) == -1 ||
	    outbox_dest_ensure(d->s, d->name) == -1 || store_cache_limit(d->s, 256) == -1 ||
	    (d->sink = ops->open(cfg, d->s, &stopping)) == NULL) {
		if (ops->open_hint != NULL)
			log_warnx("%s: cannot start (%s)", d->name, ops->open_hint);
		store_close(d->s);
		return -1;
	}
	return 0;
}

static void
dest_close(struct dest *d)
{
	d->ops->close(d->sink);
	store_close(d->s);
}

/* How often the main thread minimizes closed cases (retention.c); the purge is daily. */
#define RETENTION_EVERY_S 10

/*
 * Personal data (SPEC 11), on the main thread's own connection: closed cases every
 * destination holds are minimized within RETENTION_EVERY_S, and once a day (when meta
 * retention_at is a day old, so at start too when the box was off) the expired ones are
 * purged. A failure is logged and tried again at the next tick.
 */
static void
retention_tick(struct store *s, const struct hall_config *cfg)
{
	struct retention_report rep;

	if (s == NULL || store_retention_tick(s, cfg, time(NULL), &rep) == -1)
		return;
	if (rep.minimized > 0 || rep.stripped > 0 || rep.purged > 0 ||
	    rep.appts_minimized > 0 || rep.appts_purged > 0)
		log_info("retention: %ld case(s) and %ld appointment(s) minimized, %ld record(s) "
			 "reduced to id and hash, %ld case(s) and %ld appointment(s) past %d "
			 "day(s) deleted%s", rep.minimized, rep.appts_minimized, rep.stripped,
		    rep.purged, rep.appts_purged, cfg->retention_days,
		    rep.checkpointed ? "; WAL truncated" : "");
	else if (rep.daily)
		log_info("retention: daily job done, nothing to remove");
}

static int
cmd_run(const struct hall_config *cfg, int once)
{
	struct dest dests[SINKS];
	pthread_t tid[SINKS];
	struct sigaction sa;
	sigset_t set;
	int n = 0, i, rc = 0, sig = 0;	/* sig 0: a signal came before the mask */
	struct store *rs = NULL;	/* the retention job's connection */
	time_t next_retention = 0;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	for (i = 0; i < SINKS; i++) {
		if (!sink_table[i]->configured(cfg))
			continue;
		if (dest_open(&dests[n], sink_table[i], cfg) == -1) {
			rc = 1;
			goto out;
		}
		n++;
	}
	if (n == 0) {
		log_warnx("neither [county] nor [province] is configured: nothing to do");
		return 1;
	}
	/* a small cache, as the destinations' connections: its queries walk indexes */
	if ((rs = store_open(cfg->store_path, 0)) == NULL || store_bind_hall(rs, cfg->code) == -1 ||
	    store_cache_limit(rs, 256) == -1) {
		log_warnx("retention: no store connection: closed cases are not minimized");
		store_close(rs);
		rs = NULL;
	}
	if (once) {
		for (i = 0; i < n; i++)
			if (dest_pass(&dests[i]) == -1)
				rc = 1;
		retention_tick(rs, cfg);
		goto out;
	}
	for (i = 0; i < n; i++)
		log_info("hall-agent %s for hall %s: %s every %d ms", AGENT_VERSION, cfg->code,
		    dests[i].name, cfg->agent_poll_ms);
	/*
	 * The signals go to this thread alone, which then stops the others: a destination
	 * blocked on its link is woken (its socket shut down, its transfer abandoned) instead
	 * of being waited for until its timeout.
	 */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	for (i = 0; i < n; i++)
		if (pthread_create(&tid[i], NULL, dest_thread, &dests[i]) != 0)
			fatalx("cannot start the %s thread", dests[i].name);
	/* Type=notify (conf/systemd/hall-agent.service): the store is open, the loop begins */
	notify_systemd("READY=1");
	while (!stopping) {
		struct timespec tick = {0, 200 * 1000 * 1000};

		if ((sig = sigtimedwait(&set, NULL, &tick)) > 0)
			break;
		if (time(NULL) >= next_retention) {
			retention_tick(rs, cfg);
			next_retention = time(NULL) + RETENTION_EVERY_S;
		}
	}
	stopping = 1;
	notify_systemd("STOPPING=1");
	log_info("signal %d: stopping", sig);
	for (i = 0; i < n; i++)
		if (dests[i].ops->cancel != NULL)
			dests[i].ops->cancel(dests[i].sink);
	for (i = 0; i < n; i++)
		pthread_join(tid[i], NULL);
	log_info("stopped");
out:
	for (i = 0; i < n; i++)
		dest_close(&dests[i]);
	store_close(rs);
	return rc;
}

/*
 * The agent's memory must not grow with its backlog (SPEC 9: the same RSS within 1 MB at
 * 10,000 and at 1,000,000 records). glibc gives each thread that allocates an arena of its
 * own: the destination threads then each kept a batch's worth of freed memory, and over a
 * long drain fragmentation grew them by megabytes. The threads take turns on one arena;
 * they spend their time waiting on the network and the disk, not in malloc.
 */
static void
malloc_bounds(void)
{
	mallopt(M_ARENA_MAX, 1);
	mallopt(M_MMAP_THRESHOLD, 64 * 1024);
	mallopt(M_TRIM_THRESHOLD, 128 * 1024);
}

int
main(int argc, char *argv[])
{
	struct hall_config cfg;
	const char *config;
	int rc = 1;

	cli_standard(argc, argv, "hall-agent", help);
	malloc_bounds();
	log_init("hall-agent");
	umask_group();	/* the store's -wal and -shm: group hall's under the unit (UMask=0007) */
	config = config_cli(&argc, &argv, usage);
	if (sodium_init() < 0 || config_load(&cfg, config) == -1)
		return strcmp(argv[0], "status") == 0 ? status_no_config(config, argc, argv) : 1;
	/* the libraries' global state, before any thread; TLS only when it will be used */
	if (mysql_library_init(0, NULL, NULL) != 0 ||
	    curl_global_init(cfg.province_url != NULL ? CURL_GLOBAL_DEFAULT : CURL_GLOBAL_NOTHING) != 0)
		fatalx("cannot initialize the client libraries");
	if (strcmp(argv[0], "status") == 0) {
		if ((rc = status_main(&cfg, argc, argv)) == -1)
			usage();
	} else if (argc == 1 && (strcmp(argv[0], "run") == 0 || strcmp(argv[0], "once") == 0)) {
		/* no clear-text link leaves the machine unless its section allows it */
		if (insecure_check(&cfg, config) == 0)
			rc = cmd_run(&cfg, strcmp(argv[0], "once") == 0);
		else
			log_warnx("refusing to start: an unencrypted link (see above)");
	} else
		usage();
	curl_global_cleanup();
	mysql_library_end();
	config_free(&cfg);
	return rc;
}
