/*
 * hall-agent: delivers the hall's outbox to the county database exactly once and brings
 * the county's answers, guides and calendars back down.
 *
 *   hall-agent -c CONFIG run      the daemon: sync every [agent] poll_ms, and at once when
 *                                 the hall writes a record; SIGTERM stops it cleanly
 *   hall-agent -c CONFIG once     one full pass (everything due, both ways); exit 0 or 1
 *   hall-agent -c CONFIG status   per destination: backlog, oldest unsent, last success,
 *                                 last error, bytes sent; a progress bar while draining
 *
 * Nothing undelivered is ever dropped: no quota, retry count or age deletes a record. A
 * record the county refuses is quarantined (kept, logged, shown) and the others go on.
 */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <sodium.h>

#include "agent.h"

static volatile sig_atomic_t stopping;

static void
on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

static void
usage(void)
{
	fprintf(stderr, "usage: hall-agent -c CONFIG run | once | status [--watch]\n");
	exit(2);
}

/*
 * One pass: connect if needed, push batches until the outbox is drained, then pull the
 * downlink until it is empty. 0 when everything went through, -1 on the first error.
 */
static int
sync_pass(struct county_sink *k, struct store *s, struct push_stats *ps)
{
	char err[512];
	int rc = 0, n = 0;

	if (sink_county_connect(k, s, err, sizeof(err)) == -1)
		goto fail;
	while (!stopping && (rc = sink_county_push(k, s, ps, err, sizeof(err))) == 1)
		;
	if (!stopping && rc == -1)
		goto fail;
	while (!stopping && (n = downlink_county_pull(k, s, err, sizeof(err))) > 0)
		log_info("downlink: %d row(s) applied", n);
	if (!stopping && n == -1)
		goto fail;
	outbox_error(s, "county", NULL);
	return 0;
fail:
	log_warnx("county %s: %s", k->where, err);
	outbox_error(s, "county", err);
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

/* Waits up to ms, or until the hall store changes (then a short pause to gather a batch). */
static void
wait_for_work(int ifd, unsigned ms)
{
	struct pollfd p = {.fd = ifd, .events = POLLIN};
	char drain[4096];

	if (ifd == -1) {
		poll(NULL, 0, (int)ms);
		return;
	}
	if (poll(&p, 1, (int)ms) > 0) {
		while (read(ifd, drain, sizeof(drain)) > 0)
			;
		poll(NULL, 0, 20);
		while (read(ifd, drain, sizeof(drain)) > 0)
			;
	}
}

static int
cmd_run(struct county_sink *k, struct store *s, const struct hall_config *cfg, int once)
{
	struct backoff bo = {0, 1000, (unsigned)cfg->agent_backoff_max_s * 1000};
	struct push_stats ps = {0, 0};
	struct sigaction sa;
	int ifd = -1;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (once)
		return sync_pass(k, s, &ps) == 0 ? 0 : 1;
	ifd = watch_store(cfg->store_path);
	log_info("hall-agent %s for hall %s: county %s, every %d ms", AGENT_VERSION, cfg->code,
	    k->where, cfg->agent_poll_ms);
	while (!stopping) {
		long long before = ps.records;

		if (sync_pass(k, s, &ps) == 0) {
			backoff_reset(&bo);
			if (ps.records > before)
				log_info("county: %lld record(s) delivered", ps.records - before);
			wait_for_work(ifd, (unsigned)cfg->agent_poll_ms);
		} else {
			unsigned ms = backoff_next_ms(&bo);

			log_info("retrying in %u ms", ms);
			/* sleep in slices so SIGTERM is honoured promptly */
			while (!stopping && ms > 0) {
				unsigned slice = ms > 200 ? 200 : ms;

				poll(NULL, 0, (int)slice);
				ms -= slice;
			}
		}
	}
	if (ifd != -1)
		close(ifd);
	log_info("stopped; %lld record(s) delivered this run", ps.records);
	return 0;
}

int
main(int argc, char *argv[])
{
	struct hall_config cfg;
	struct county_sink k;
	struct store *s = NULL;
	const char *config = NULL;
	int rc = 1, watch;

	log_init("hall-agent");
	config = config_cli(&argc, &argv, usage);
	if (sodium_init() < 0 || config_load(&cfg, config) == -1)
		return 1;
	if ((s = store_open(cfg.store_path, 0)) == NULL || store_bind_hall(s, cfg.code) == -1 ||
	    outbox_dest_ensure(s, "county") == -1)
		goto out;
	if (strcmp(argv[0], "status") == 0) {
		watch = argc > 1 && strcmp(argv[1], "--watch") == 0;
		rc = status_print(s, &cfg, watch || isatty(STDOUT_FILENO)) == 0 ? 0 : 1;
		goto out;
	}
	if (argc != 1 || (strcmp(argv[0], "run") != 0 && strcmp(argv[0], "once") != 0))
		usage();
	if (sink_county_open(&k, &cfg, s) == -1)
		goto out;
	rc = cmd_run(&k, s, &cfg, strcmp(argv[0], "once") == 0);
	sink_county_close(&k);
out:
	store_close(s);
	config_free(&cfg);
	return rc;
}
