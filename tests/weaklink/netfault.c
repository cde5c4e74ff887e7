/*
 * netfault: a fault-injecting TCP proxy, for the weak-link tests and by hand.
 *
 *   netfault -l LISTEN_ADDR:PORT -t TARGET_ADDR:PORT [-c CONTROL_ADDR:PORT]
 *            [-d DELAY_MS] [-b BYTES_PER_S] [-s STALL_AFTER] [-r RESET_AFTER]
 *
 * Every connection to LISTEN is relayed to TARGET, each direction through its own queue:
 *   -d  one-way delay added to every chunk (half of the round trip you want)
 *   -b  bandwidth per direction per connection, bytes a second (0: unlimited)
 *   -s  a connection stops carrying anything after this many bytes (a silent stall)
 *   -r  a connection is reset (RST) after this many bytes
 * A control port (-c) takes one text command per line and answers "ok" or an error:
 *   delay MS | rate BYTES_PER_S | stall BYTES | reset BYTES | blackhole SECONDS |
 *   pass (clears stall, reset and blackhole) | stats
 * "blackhole T" drops everything for T seconds without closing anything: packets vanish,
 * as on a link that silently stops. Settings apply to new bytes at once.
 *
 * One thread, poll(2), non-blocking sockets; bounded queues (a full queue stops reading
 * from that side, so memory stays bounded whatever the sender does).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 128
#define CHUNK 4096
#define QUEUE_CHUNKS 256	/* per direction: at most 1 MiB in flight */

struct chunk {
	long long due_ms;
	size_t len, off;
	char data[CHUNK];
};

struct dir {
	int from, to;
	struct chunk *q;	/* ring of QUEUE_CHUNKS */
	size_t head, n;
	long long carried;	/* bytes relayed so far */
	double tokens;
	long long refill_ms;
	int eof;
};

struct conn {
	int used;
	int a, b;		/* a: client side, b: target side */
	struct dir up, down;	/* up: a -> b, down: b -> a */
};

static struct {
	long long delay_ms, rate, stall_after, reset_after, blackhole_until;
	long long conns, bytes, resets;
} cfg;

static struct conn conns[MAX_CONNS];

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
parse_addr(const char *s, struct sockaddr_in *sa)
{
	char host[64];
	const char *colon = strrchr(s, ':');

	if (colon == NULL || (size_t)(colon - s) >= sizeof(host))
		return -1;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((unsigned short)atoi(colon + 1));
	return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? 0 : -1;
}

static int
listen_on(const char *addr)
{
	struct sockaddr_in sa;
	int fd, on = 1;

	if (parse_addr(addr, &sa) == -1)
		return -1;
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1 || listen(fd, 64) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

static void
set_nb(int fd)
{
	int on = 1;

	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
}

static void
conn_close(struct conn *c, int rst)
{
	if (rst) {
		struct linger l = {1, 0};

		setsockopt(c->a, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
		setsockopt(c->b, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
		cfg.resets++;
	}
	close(c->a);
	close(c->b);
	free(c->up.q);
	free(c->down.q);
	memset(c, 0, sizeof(*c));
}

static void
conn_open(int lfd, const struct sockaddr_in *target)
{
	struct conn *c = NULL;
	int a, b, i;

	if ((a = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) == -1)
		return;
	for (i = 0; i < MAX_CONNS && c == NULL; i++)
		if (!conns[i].used)
			c = &conns[i];
	if (c == NULL || (b = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		close(a);
		return;
	}
	/* a blocking connect to a local target keeps this simple; then non-blocking */
	if (connect(b, (const struct sockaddr *)target, sizeof(*target)) == -1) {
		close(a);
		close(b);
		return;
	}
	set_nb(a);
	set_nb(b);
	memset(c, 0, sizeof(*c));
	c->used = 1;
	c->a = a;
	c->b = b;
	c->up.from = a, c->up.to = b;
	c->down.from = b, c->down.to = a;
	c->up.q = calloc(QUEUE_CHUNKS, sizeof(struct chunk));
	c->down.q = calloc(QUEUE_CHUNKS, sizeof(struct chunk));
	c->up.refill_ms = c->down.refill_ms = now_ms();
	if (c->up.q == NULL || c->down.q == NULL)
		conn_close(c, 0);
	cfg.conns++;
}

/* Reads what the sender has into the queue, stamped with its due time. -1: close. */
static int
dir_read(struct conn *c, struct dir *d)
{
	struct chunk *k;
	ssize_t n;

	if (d->eof || d->n == QUEUE_CHUNKS)
		return 0;
	k = &d->q[(d->head + d->n) % QUEUE_CHUNKS];
	n = read(d->from, k->data, CHUNK);
	if (n == 0) {
		d->eof = 1;
		return 0;
	}
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	if (now_ms() < cfg.blackhole_until)
		return 0;	/* vanished on the way */
	k->len = (size_t)n;
	k->off = 0;
	k->due_ms = now_ms() + cfg.delay_ms;
	d->n++;
	(void)c;
	return 0;
}

/* Writes what is due and allowed by the rate. -1: close, -2: reset. */
static int
dir_write(struct dir *d)
{
	long long t = now_ms();

	if (cfg.rate > 0) {
		d->tokens += (double)(t - d->refill_ms) * cfg.rate / 1000.0;
		if (d->tokens > cfg.rate / 4.0 + CHUNK)
			d->tokens = cfg.rate / 4.0 + CHUNK;	/* a small burst at most */
	}
	d->refill_ms = t;
	while (d->n > 0) {
		struct chunk *k = &d->q[d->head];
		size_t len = k->len - k->off;
		ssize_t n;

		if (k->due_ms > t || t < cfg.blackhole_until)
			return 0;
		if (cfg.stall_after > 0 && d->carried >= cfg.stall_after)
			return 0;	/* silence: nothing more, nothing closed */
		if (cfg.reset_after > 0 && d->carried >= cfg.reset_after)
			return -2;
		if (cfg.rate > 0) {
			if (d->tokens < 1)
				return 0;
			if ((double)len > d->tokens)
				len = (size_t)d->tokens;
		}
		if (cfg.stall_after > 0 && d->carried + (long long)len > cfg.stall_after)
			len = (size_t)(cfg.stall_after - d->carried);
		if (cfg.reset_after > 0 && d->carried + (long long)len > cfg.reset_after)
			len = (size_t)(cfg.reset_after - d->carried);
		n = write(d->to, k->data + k->off, len);
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		k->off += (size_t)n;
		d->carried += n;
		cfg.bytes += n;
		if (cfg.rate > 0)
			d->tokens -= (double)n;
		if (k->off == k->len) {
			d->head = (d->head + 1) % QUEUE_CHUNKS;
			d->n--;
		}
	}
	if (d->eof)
		shutdown(d->to, SHUT_WR);
	return 0;
}

static void
control_line(int fd, char *line)
{
	char out[256];
	long long v = 0;
	char cmd[32];
	int n = sscanf(line, "%31s %lld", cmd, &v);

	if (n >= 1 && strcmp(cmd, "pass") == 0) {
		cfg.stall_after = cfg.reset_after = cfg.blackhole_until = 0;
		snprintf(out, sizeof(out), "ok\n");
	} else if (n >= 1 && strcmp(cmd, "stats") == 0)
		snprintf(out, sizeof(out), "ok conns=%lld bytes=%lld resets=%lld\n", cfg.conns,
		    cfg.bytes, cfg.resets);
	else if (n == 2 && strcmp(cmd, "delay") == 0)
		cfg.delay_ms = v, snprintf(out, sizeof(out), "ok\n");
	else if (n == 2 && strcmp(cmd, "rate") == 0)
		cfg.rate = v, snprintf(out, sizeof(out), "ok\n");
	else if (n == 2 && strcmp(cmd, "stall") == 0)
		cfg.stall_after = v, snprintf(out, sizeof(out), "ok\n");
	else if (n == 2 && strcmp(cmd, "reset") == 0)
		cfg.reset_after = v, snprintf(out, sizeof(out), "ok\n");
	else if (n == 2 && strcmp(cmd, "blackhole") == 0)
		cfg.blackhole_until = now_ms() + v * 1000, snprintf(out, sizeof(out), "ok\n");
	else
		snprintf(out, sizeof(out), "error: delay|rate|stall|reset|blackhole N, pass, stats\n");
	if (write(fd, out, strlen(out)) < 0)
		return;
}

static void
usage(void)
{
	fprintf(stderr, "usage: netfault -l ADDR:PORT -t ADDR:PORT [-c ADDR:PORT] [-d DELAY_MS] "
			"[-b BYTES_PER_S] [-s STALL_AFTER] [-r RESET_AFTER]\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	const char *listen_addr = NULL, *target_addr = NULL, *control_addr = NULL;
	struct sockaddr_in target;
	struct pollfd pfd[2 + 2 * MAX_CONNS + 8];
	int lfd, cfd = -1, ctl[8], nctl = 0, ch, i;

	while ((ch = getopt(argc, argv, "l:t:c:d:b:s:r:")) != -1) {
		switch (ch) {
		case 'l': listen_addr = optarg; break;
		case 't': target_addr = optarg; break;
		case 'c': control_addr = optarg; break;
		case 'd': cfg.delay_ms = atoll(optarg); break;
		case 'b': cfg.rate = atoll(optarg); break;
		case 's': cfg.stall_after = atoll(optarg); break;
		case 'r': cfg.reset_after = atoll(optarg); break;
		default: usage();
		}
	}
	if (listen_addr == NULL || target_addr == NULL || parse_addr(target_addr, &target) == -1)
		usage();
	signal(SIGPIPE, SIG_IGN);
	if ((lfd = listen_on(listen_addr)) == -1) {
		fprintf(stderr, "netfault: cannot listen on %s: %s\n", listen_addr, strerror(errno));
		return 1;
	}
	if (control_addr != NULL && (cfd = listen_on(control_addr)) == -1) {
		fprintf(stderr, "netfault: cannot listen on %s: %s\n", control_addr, strerror(errno));
		return 1;
	}
	fprintf(stderr, "netfault: %s -> %s\n", listen_addr, target_addr);
	for (;;) {
		int n = 0, timeout = 1000;

		pfd[n++] = (struct pollfd){.fd = lfd, .events = POLLIN};
		pfd[n++] = (struct pollfd){.fd = cfd, .events = POLLIN};
		for (i = 0; i < nctl; i++)
			pfd[n++] = (struct pollfd){.fd = ctl[i], .events = POLLIN};
		for (i = 0; i < MAX_CONNS; i++) {
			struct conn *c = &conns[i];

			if (!c->used)
				continue;
			pfd[n++] = (struct pollfd){.fd = c->a,
			    .events = (short)((c->up.n < QUEUE_CHUNKS && !c->up.eof ? POLLIN : 0) |
				(c->down.n ? POLLOUT : 0))};
			pfd[n++] = (struct pollfd){.fd = c->b,
			    .events = (short)((c->down.n < QUEUE_CHUNKS && !c->down.eof ? POLLIN : 0) |
				(c->up.n ? POLLOUT : 0))};
			if (c->up.n || c->down.n)
				timeout = 5;	/* due times and the rate need a clock */
		}
		if (poll(pfd, (nfds_t)n, timeout) < 0 && errno != EINTR)
			return 1;
		if (pfd[0].revents & POLLIN)
			conn_open(lfd, &target);
		if (cfd != -1 && (pfd[1].revents & POLLIN) && nctl < 8) {
			int fd = accept4(cfd, NULL, NULL, SOCK_CLOEXEC);

			if (fd != -1)
				ctl[nctl++] = fd;
		}
		for (i = 0; i < nctl; i++) {
			char line[128];
			ssize_t got;

			if (!(pfd[2 + i].revents & (POLLIN | POLLHUP)))
				continue;
			got = read(ctl[i], line, sizeof(line) - 1);
			if (got <= 0) {
				close(ctl[i]);
				ctl[i--] = ctl[--nctl];
				continue;
			}
			line[got] = '\0';
			control_line(ctl[i], line);
		}
		for (i = 0; i < MAX_CONNS; i++) {
			struct conn *c = &conns[i];
			int r1, r2;

			if (!c->used)
				continue;
			if (dir_read(c, &c->up) == -1 || dir_read(c, &c->down) == -1) {
				conn_close(c, 0);
				continue;
			}
			r1 = dir_write(&c->up);
			r2 = dir_write(&c->down);
			if (r1 == -2 || r2 == -2)
				conn_close(c, 1);
			else if (r1 == -1 || r2 == -1 ||
			    (c->up.eof && c->down.eof && c->up.n == 0 && c->down.n == 0))
				conn_close(c, 0);
		}
	}
}
