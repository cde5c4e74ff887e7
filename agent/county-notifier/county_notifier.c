/*
 * county-notifier: tells citizens of their cases' progress (SPEC 5.6). It sends, by SMS
 * through the county's HTTP gateway and by e-mail over SMTP, the notices the county
 * database queues in its notifications table (sql/county/015), each exactly once per event
 * and channel:
 *
 *   - a notice exists once, made by the database in the transaction of its cause;
 *   - it is claimed and committed before it is sent, marked sent after (queue.c): a
 *     notifier that dies in between sends it again, with the same id, after a lease;
 *   - the gateway takes the id as its idempotency key, so a repeat is a "duplicate", not a
 *     second SMS; an e-mail's Message-ID is made from the id, so a repeat (only when the
 *     notifier died after the server took it and before the mark) is one message to the
 *     citizen's mail program;
 *   - failures back off (exponential, with jitter, capped), keep their error for the staff
 *     console's dashboard, and give up only after [notifier] give_up_hours (state failed,
 *     shown there too);
 *   - a case's notices go out in the order they were made, per channel;
 *   - each pass first asks the database for the appointments' reminders due (the working
 *     day before, sql/county/016), which it makes once each, and withdraws those still
 *     pending of an appointment cancelled, refused or begun (queue.c; sql/county/034).
 *
 *   county-notifier -c NOTIFIER_INI run    the daemon; SIGTERM stops it between notices
 *   county-notifier -c NOTIFIER_INI once   everything due now, then exit (0: none failed)
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <time.h>
#include <sys/stat.h>

#include <curl/curl.h>
#include <sodium.h>

#include "notifier.h"

static volatile sig_atomic_t stopping;

static void
on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

static const char help[] =
    "usage: county-notifier -c NOTIFIER_INI run | once\n"
    "\n"
    "Sends the county's notices to citizens (SPEC 5.6): by SMS through the HTTP gateway\n"
    "([sms]) and by e-mail over SMTP ([email]), each exactly once per event and channel.\n"
    "\n"
    "  run              keep sending (every [notifier] poll_ms); SIGTERM stops it cleanly\n"
    "  once             send everything due now, then exit (0 all sent, 1 some failed)\n"
    "  -c NOTIFIER_INI  the INI file (conf/notifier.ini.example, county.ini(5))\n"
    "  --help, --version\n";

static void
usage(void)
{
	cli_usage(help, 2);
}

static void
pause_ms(unsigned ms)
{
	while (!stopping && ms > 0) {
		unsigned slice = ms > 200 ? 200 : ms;

		poll(NULL, 0, (int)slice);
		ms -= slice;
	}
}

static MYSQL *
connect_county(const struct notifier_conf *c, char *err, size_t errlen)
{
	struct county_conn_opts o = {0};

	o.host = c->host;
	o.socket = c->db_socket;
	o.user = c->user;
	o.password = c->password;
	o.database = c->database;
	o.tls_ca = c->tls_ca;
	o.port = (unsigned)c->port;
	o.tls = c->tls;
	o.connect_timeout = (unsigned)c->connect_timeout;
	o.read_timeout = (unsigned)c->read_timeout;
	o.write_timeout = (unsigned)c->write_timeout;
	return county_connect(&o, err, errlen);
}

/* The wait before attempt n+1: base * 2^n capped, the upper half of it at random. */
static unsigned
retry_s(const struct notifier_conf *c, int attempts)
{
	unsigned long d = (unsigned long)c->backoff_base_s << (attempts < 20 ? attempts : 20);

	if (d > (unsigned long)c->backoff_max_s)
		d = (unsigned long)c->backoff_max_s;
	return (unsigned)(d / 2 + randombytes_uniform((uint32_t)(d / 2 + 1)));
}

struct run {
	const struct notifier_conf *c;
	struct sender *snd;
	MYSQL *db;
	int lease_s;
	/* sent, but the mark did not reach the database yet: marked before anything new */
	struct notice unmarked[64];
	int nunmarked;
	long sent, failed;
	int reminders_failing;	/* the last CALL appointment_reminders() failed */
	int down;		/* a channel failed in the last pass: the next one waits poll_ms */
};

static void
unmarked_flush(struct run *r)
{
	char err[512];

	while (r->nunmarked > 0 && r->db != NULL) {
		struct notice *n = &r->unmarked[r->nunmarked - 1];

		if (queue_sent(r->db, n, err, sizeof(err)) == -1) {
			log_warnx("%s", err);
			return;
		}
		notice_free(n);
		r->nunmarked--;
	}
}

/*
 * One attempt for one notice, and its mark: 0 when it went or was refused for good, 1 when
 * it is to be tried again (the channel failed: a gateway or mail server down, slow or
 * answering wrong), -1 when the database is gone.
 */
static int
attempt(struct run *r, struct notice *n)
{
	char why[512] = "", err[512];
	enum send_result res;
	struct buf b;

	buf_init(&b, 256 * 1024);
	if (strcmp(n->channel, "sms") == 0)
		res = notice_sms_text(&b, n, r->c->signature) == -1 ? SEND_REFUSED :
		    sms_send(r->snd, n, b.data, why, sizeof(why));
	else
		res = notice_mail(&b, n, r->c->mail_from, r->c->signature, time(NULL)) == -1 ?
		    SEND_REFUSED : mail_send(r->snd, n, &b, why, sizeof(why));
	buf_free(&b);
	if (res == SEND_REFUSED && why[0] == '\0')
		snprintf(why, sizeof(why), "the notice cannot be written (%s to %s)", n->event,
		    n->channel);
	if (res == SEND_OK) {
		r->sent++;
		if (queue_sent(r->db, n, err, sizeof(err)) == 0)
			return 0;
		log_warnx("%s: sent, mark pending: %s", n->id, err);
		if (r->nunmarked < (int)(sizeof(r->unmarked) / sizeof(r->unmarked[0]))) {
			r->unmarked[r->nunmarked++] = *n;
			n->note = NULL;
		}
		return -1;
	}
	r->failed++;
	{
		int give_up = res == SEND_REFUSED ||
		    n->age_s > (long)r->c->give_up_hours * 3600;

		log_warnx("notice %s (%s %s, case %s, attempt %d)%s: %s", n->id, n->channel,
		    n->event, n->case_no, n->attempts + 1, give_up ? ", given up" : "", why);
		if (queue_failed(r->db, n, why, retry_s(r->c, n->attempts), give_up, err,
			sizeof(err)) == -1) {
			log_warnx("%s", err);
			return -1;	/* the claim's lease brings it back */
		}
	}
	return res == SEND_RETRY ? 1 : 0;
}

/*
 * The notices due on one channel, each claimed right before its send. Once the channel
 * fails, the rest of it waits for the next pass, which waits poll_ms (r->down): a gateway
 * that hangs, or refuses at once, costs one attempt a pass, not one a notice. 0, or -1
 * when the database failed.
 */
static int
pass_channel(struct run *r, struct notice *v, int n)
{
	char err[512];
	int i, rc = 0, took, down = 0;

	for (i = 0; i < n; i++) {
		/* past a stop or a failure, the rest stays unclaimed for the next pass */
		if (rc == 0 && !down && !stopping) {
			if ((took = queue_take(r->db, &v[i], r->lease_s, err, sizeof(err))) == -1) {
				log_warnx("county: %s", err);
				rc = -1;
			} else if (took == 1 && (took = attempt(r, &v[i])) == -1)
				rc = -1;
			else if (took == 1)
				down = r->down = 1;
		}
		notice_free(&v[i]);
	}
	return rc;
}

/*
 * Sends what is due, SMS first, then e-mail: each channel's notices read on their own, so
 * that one down (or hanging) never holds the other's back. The number read, or -1 when the
 * database failed.
 */
static int
pass(struct run *r)
{
	struct notice v[256];
	char err[512];
	int n, ch, total = 0, max = r->c->batch < 256 ? r->c->batch : 256;

	if (r->db == NULL && (r->db = connect_county(r->c, err, sizeof(err))) == NULL) {
		log_warnx("county: %s", err);
		return -1;
	}
	unmarked_flush(r);
	/* a failure here holds no notice back: said once, until it works again */
	if (queue_reminders(r->db, err, sizeof(err)) == -1) {
		if (!r->reminders_failing)
			log_warnx("county: %s", err);
		r->reminders_failing = 1;	/* a lost connection: queue_due says so next */
	} else
		r->reminders_failing = 0;
	for (ch = 0; ch < 2; ch++) {
		if ((ch == 0 ? r->c->sms_url : r->c->mail_url) == NULL)
			continue;	/* a channel not configured here is left to wait */
		if (r->nunmarked > 0 || (n = queue_due(r->db, ch == 0, ch == 1, v, max, err,
			sizeof(err))) == -1) {
			if (r->nunmarked == 0)
				log_warnx("county: %s", err);
			break;
		}
		total += n;
		if (pass_channel(r, v, n) == -1)
			break;
	}
	if (ch < 2) {
		mysql_close(r->db);
		r->db = NULL;
		return -1;
	}
	return total;
}

int
main(int argc, char *argv[])
{
	struct notifier_conf c;
	struct run r = {0};
	struct sigaction sa = {0};
	struct backoff bo = {0, 1000, 60000};
	const char *config, *cmd;
	int once, n = 0;

	cli_standard(argc, argv, "county-notifier", help);
	log_init("county-notifier");
	umask(077);
	config = config_cli(&argc, &argv, usage);
	cmd = argv[0];
	if (argc != 1 || (strcmp(cmd, "run") != 0 && strcmp(cmd, "once") != 0))
		usage();
	once = strcmp(cmd, "once") == 0;
	if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
		log_warnx("cannot initialise libsodium or libcurl");
		return 1;
	}
	if (notifier_conf_load(&c, config) == -1)
		return 2;
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	r.c = &c;
	/* a notice in flight keeps its claim longer than the slowest send can take */
	r.lease_s = (c.sms_timeout_s > c.mail_timeout_s ? c.sms_timeout_s : c.mail_timeout_s) + 5;
	if ((r.snd = sender_new(&c)) == NULL) {
		log_warnx("out of memory");
		return 1;
	}
	log_info("sending SMS through %s, e-mail through %s",
	    c.sms_url != NULL ? c.sms_url : "(none: [sms] url unset)",
	    c.mail_url != NULL ? c.mail_url : "(none: [email] url unset)");
	if (!once && notify_systemd("READY=1") == -1)
		log_warn("NOTIFY_SOCKET");
	while (!stopping) {
		r.down = 0;
		n = pass(&r);
		if (once && n <= 0)
			break;
		if (n == -1) {
			pause_ms(backoff_next_ms(&bo));
			continue;
		}
		backoff_reset(&bo);
		if (n == 0 || (r.down && !once))
			pause_ms((unsigned)c.poll_ms);
	}
	if (!once)
		notify_systemd("STOPPING=1");
	log_info("stopped: %ld sent, %ld attempts failed", r.sent, r.failed);
	if (r.db != NULL)
		mysql_close(r.db);
	sender_free(r.snd);
	notifier_conf_free(&c);
	curl_global_cleanup();
	return once && (n == -1 || r.failed > 0) ? 1 : 0;
}
