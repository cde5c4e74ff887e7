/*
 * The province uplink (SPEC 5.3): outbox batches as gzip NDJSON over HTTPS with libcurl.
 *
 * Success is only a 200 whose JSON body answers every id of the batch. Anything else (a
 * captive portal's page, a redirect, a 200 without that envelope, a stall, a reset) is a
 * failure and the batch is sent again later; the receiver deduplicates by id, so a resend
 * is harmless. When a request may have arrived (the connection broke after sending), the
 * agent first asks /v1/reconcile what the platform holds instead of guessing.
 *
 * What the platform (or a portal in its place) says is its text: the Content-Type and the
 * records' reasons go through text_clean before they reach an error, a log line or the
 * quarantine.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>
#include <zlib.h>

#include "agent.h"

#define RESPONSE_MAX (4u << 20)	/* a byte cap on every answer we read */

struct province_sink {
	const struct hall_config *cfg;
	CURL *curl;		/* one handle: its connection is reused between batches */
	char *token;		/* owned, wiped on close */
	char auth[320];		/* the Authorization header */
	size_t records, bytes;
	size_t records_max;	/* batch_records, or less once the platform said 413 */
	int64_t uncertain_seq;	/* a batch that may have arrived: reconcile before resending */
	unsigned set_aside;	/* records quarantined in a row, with nothing delivered between */
	const volatile sig_atomic_t *stop;	/* set: the transfer in progress is abandoned */
	/* kept from batch to batch, so that the sink's memory is set by its first full batch,
	 * not by the backlog nor by when the county's batches happen to come (SPEC 9) */
	struct outbox_batch batch;
	z_stream z;		/* gzip, level 9, reset for each batch */
	int z_ready;
	struct buf gz;		/* the compressed batch */
	struct buf body;	/* the platform's answer */
};

static int
sink_province_open(struct province_sink *k, const struct hall_config *cfg)
{
	memset(k, 0, sizeof(*k));
	k->cfg = cfg;
	if (cfg->province_url == NULL)
		return -1;
	if ((k->token = secret_read(cfg->province_token_file)) == NULL)
		return -1;
	snprintf(k->auth, sizeof(k->auth), "Authorization: Bearer %s", k->token);
	/* as for the county: start small, double while batches go through, halve when lost */
	k->records = (size_t)cfg->agent_batch_records < 250 ? (size_t)cfg->agent_batch_records : 250;
	k->bytes = (size_t)cfg->agent_batch_bytes;
	k->records_max = (size_t)cfg->agent_batch_records;
	buf_init(&k->gz, 64u << 20);
	buf_init(&k->body, RESPONSE_MAX);
	if ((k->curl = curl_easy_init()) == NULL)
		return -1;
	return 0;
}

static void
sink_province_close(struct province_sink *k)
{
	if (k->curl != NULL)
		curl_easy_cleanup(k->curl);
	if (k->token != NULL)
		sodium_memzero(k->token, strlen(k->token));
	sodium_memzero(k->auth, sizeof(k->auth));
	free(k->token);
	k->curl = NULL;
	k->token = NULL;
	outbox_batch_free(&k->batch);
	if (k->z_ready)
		deflateEnd(&k->z);
	k->z_ready = 0;
	buf_free(&k->gz);
	buf_free(&k->body);
}

/* ---- HTTP ------------------------------------------------------------------------ */

struct answer {
	struct buf *body;	/* the sink's, emptied for each request */
	char ctype[128];
	long retry_after;	/* seconds; -1: none */
};

static size_t
on_body(char *p, size_t size, size_t n, void *arg)
{
	struct answer *a = arg;

	/* past the cap the transfer is aborted: an answer that big is not the platform's */
	if (buf_add(a->body, p, size * n) == -1)
		return 0;
	return size * n;
}

/* Abandons a transfer when the agent is told to stop. */
static int
on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	const struct province_sink *k = arg;

	(void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
	return k->stop != NULL && *k->stop;
}

static size_t
on_header(char *p, size_t size, size_t n, void *arg)
{
	struct answer *a = arg;
	size_t len = size * n;
	char line[256];

	if (len >= sizeof(line))
		return len;
	memcpy(line, p, len);
	line[len] = '\0';
	line[strcspn(line, "\r\n")] = '\0';
	if (strncasecmp(line, "Content-Type:", 13) == 0)
		text_cleans(a->ctype, sizeof(a->ctype), line + 13 + strspn(line + 13, " \t"));
	else if (strncasecmp(line, "Retry-After:", 12) == 0) {
		const char *v = line + 12 + strspn(line + 12, " \t");
		time_t when;

		/* delta-seconds or an HTTP-date (RFC 9110 10.2.3) */
		if (*v >= '0' && *v <= '9')
			a->retry_after = strtol(v, NULL, 10);
		else if ((when = curl_getdate(v, NULL)) > 0)
			a->retry_after = when > time(NULL) ? (long)(when - time(NULL)) : 0;
	}
	return len;
}

/* POSTs body to url+path; 0 with *status on an answer, -1 on a transport error, with
 * *maybe_sent set when the request may have reached the platform. */
static int
post(struct province_sink *k, const char *path, const char *ctype, int gzipped,
    const void *body, size_t len, struct answer *a, long *status, int *maybe_sent, char *err,
    size_t errlen)
{
	struct curl_slist *h = NULL;
	char url[1024], ct[160];
	CURLcode rc;
	CURL *c = k->curl;

	a->retry_after = -1;
	a->ctype[0] = '\0';
	a->body = &k->body;
	if (a->body->failed)	/* a failed buf is freed and stays failed: a fresh one */
		buf_init(a->body, RESPONSE_MAX);
	buf_reset(a->body);
	*maybe_sent = 0;
	snprintf(url, sizeof(url), "%s%s", k->cfg->province_url, path);
	snprintf(ct, sizeof(ct), "Content-Type: %s", ctype);
	h = curl_slist_append(h, ct);
	h = curl_slist_append(h, k->auth);
	h = curl_slist_append(h, "Accept: application/json");
	h = curl_slist_append(h, "Expect:");
	if (gzipped)
		h = curl_slist_append(h, "Content-Encoding: gzip");
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POST, 1L);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);	/* portals redirect: a failure */
	/* the chain and the name are always checked; http:// only got past hall-agent's start
	 * (lib/core/insecure.c) for loopback or with allow_insecure = 1 */
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	if (k->cfg->province_ca_file != NULL)
		curl_easy_setopt(c, CURLOPT_CAINFO, k->cfg->province_ca_file);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)k->cfg->province_connect_timeout);
	/* a stalled link is noticed by its speed, not by the kernel's timers */
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, (long)k->cfg->province_low_speed_bps);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, (long)k->cfg->province_low_speed_s);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)k->cfg->province_timeout_s);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, a);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, a);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "hall-agent/" AGENT_VERSION);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, k);
	rc = curl_easy_perform(c);
	curl_slist_free_all(h);
	if (rc != CURLE_OK) {
		curl_off_t up = 0;

		curl_easy_getinfo(c, CURLINFO_SIZE_UPLOAD_T, &up);
		/* once bytes of the request left, the platform may hold the batch */
		*maybe_sent = up > 0 || rc == CURLE_GOT_NOTHING || rc == CURLE_RECV_ERROR ||
		    rc == CURLE_PARTIAL_FILE;
		snprintf(err, errlen, "%s%s: %s", url,
		    a->body->failed ? " (answer over 4 MiB)" : "", curl_easy_strerror(rc));
		return -1;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	if (a->body->data == NULL)
		buf_add(a->body, "", 0);
	return 0;
}

/* ---- batches --------------------------------------------------------------------- */

/*
 * The batch as gzip NDJSON, made as the records are read from the store (outbox_next_each):
 * only the compressed batch is ever whole in memory, never the records' text, and each
 * record's hash is kept for /v1/reconcile.
 */
struct gz_batch {
	z_stream *z;		/* the sink's */
	struct buf *out;	/* the sink's */
};

/* Deflates len bytes (flush: and ends the stream) into the batch's buffer. */
static int
gz_add(struct gz_batch *g, const void *p, size_t len, int flush)
{
	unsigned char chunk[16384];
	int zr;

	g->z->next_in = (unsigned char *)(uintptr_t)p;
	g->z->avail_in = (uInt)len;
	do {
		g->z->next_out = chunk;
		g->z->avail_out = sizeof(chunk);
		zr = deflate(g->z, flush ? Z_FINISH : Z_NO_FLUSH);
		if (zr == Z_STREAM_ERROR ||
		    buf_add(g->out, chunk, sizeof(chunk) - g->z->avail_out) == -1)
			return -1;
	} while (g->z->avail_out == 0 || (flush && zr != Z_STREAM_END));
	return 0;
}

/* outbox_next_each's callback: one record's line. */
static int
gz_record(void *arg, struct outbox_rec *r, const char *payload, size_t len)
{
	struct gz_batch *g = arg;

	crypto_hash_sha256(r->sha256, (const unsigned char *)payload, len);
	return gz_add(g, payload, len, 0) == -1 || gz_add(g, "\n", 1, 0) == -1 ? -1 : 0;
}

/* The platform's reasons for the records it refused, cleaned for the quarantine and the log. */
static void
clean_reasons(struct outbox_batch *b)
{
	char why[256];
	size_t i;

	for (i = 0; i < b->n; i++)
		if (b->v[i].result == REC_REJECTED || b->v[i].result == REC_CONFLICT) {
			/* a copy first: outbox_rec_refuse frees the reason it replaces */
			text_cleans(why, sizeof(why), outbox_rec_reason(&b->v[i]));
			outbox_rec_refuse(&b->v[i], (int)b->v[i].result, why);
		}
}

/*
 * After a request that may have arrived: /v1/reconcile says which ids the platform holds
 * and with which hash. 1 when it holds the whole batch as we sent it (delivered), 0 when
 * not (send again), -1 when the platform cannot be asked.
 */
static int
reconcile(struct province_sink *k, struct outbox_batch *b, char *err, size_t errlen)
{
	struct answer a;
	struct buf q;
	long status = 0;
	size_t i;
	int maybe, held;

	buf_init(&q, 8u << 20);
	buf_adds(&q, "{\"ids\":[");
	for (i = 0; i < b->n; i++) {
		if (i)
			buf_addc(&q, ',');
		buf_json_str(&q, b->v[i].id);
	}
	buf_adds(&q, "]}");
	if (q.failed || post(k, "/v1/reconcile", "application/json", 0, q.data, q.len, &a, &status,
			    &maybe, err, errlen) == -1) {
		buf_free(&q);
		return -1;
	}
	buf_free(&q);
	if (status != 200 || strncasecmp(a.ctype, "application/json", 16) != 0) {
		snprintf(err, errlen, "/v1/reconcile answered HTTP %ld (%s)", status, a.ctype);
		return -1;
	}
	held = province_answer_held(b, a.body->data, a.body->len, err, errlen);
	return held;
}

static int
sink_province_push(struct province_sink *k, struct store *s, struct push_stats *ps,
    long *retry_after, char *err, size_t errlen)
{
	struct outbox_batch *b = &k->batch;
	struct gz_batch g;
	struct answer a;
	long status = 0;
	int maybe, rc = -1, nb;
	unsigned run = k->set_aside;	/* the reconciled batch: as it was */
	size_t i;

	*retry_after = -1;
	if (k->gz.failed)	/* a failed buf is freed and stays failed: a fresh one */
		buf_init(&k->gz, 64u << 20);
	buf_reset(&k->gz);
	/* level 9, a 32 KiB window, gzip framing; memLevel 8: zlib's 256 KiB, not 512;
	 * Z_FILTERED, as the county's batches (sink_county.c: 4 % fewer bytes) */
	if (k->z_ready ? deflateReset(&k->z) != Z_OK :
	    deflateInit2(&k->z, 9, Z_DEFLATED, 15 + 16, 8, Z_FILTERED) != Z_OK) {
		if (k->z_ready)
			deflateEnd(&k->z);
		k->z_ready = 0;
		snprintf(err, errlen, "cannot compress a batch");
		return -1;
	}
	k->z_ready = 1;
	g.z = &k->z;
	g.out = &k->gz;
	nb = outbox_next_into(s, "province", k->records, k->bytes, b, gz_record, &g);
	if (nb == 0 && b->n > 0 && gz_add(&g, NULL, 0, 1) == -1)
		nb = -2;
	if (nb < 0) {
		snprintf(err, errlen, nb == -2 || k->gz.failed ? "cannot compress a batch" :
		    "the hall store cannot be read");
		outbox_batch_clear(b);
		return -1;
	}
	if (b->n == 0)
		return 0;
	/* outbox_next gives the province no record for the county alone (a new query code);
	 * should one ever come, it is not sent: the code must never leave for the province */
	for (i = 0; i < b->n; i++)
		if (strcmp(b->v[i].type, "code") == 0) {
			snprintf(err, errlen, "record %s is a query code, which never goes to the "
					      "province; nothing sent", b->v[i].id);
			goto done;
		}
	if (k->uncertain_seq == b->last_seq) {
		int held = reconcile(k, b, err, errlen);

		if (held == -1)
			goto done;
		k->uncertain_seq = 0;
		if (held == 1) {
			log_info("province: the batch up to %lld had arrived (reconciled)",
			    (long long)b->last_seq);
			goto delivered;
		}
	}
	if (post(k, "/v1/records", "application/x-ndjson", 1, k->gz.data, k->gz.len, &a, &status,
		&maybe, err, errlen) == -1) {
		if (maybe)
			k->uncertain_seq = b->last_seq;
		k->records = k->records / 2 > 10 ? k->records / 2 : 10;
		if (k->records > k->records_max)
			k->records = k->records_max;
		goto done;
	}
	if (status == 429 || status == 503) {
		*retry_after = a.retry_after;
		snprintf(err, errlen, "HTTP %ld: the platform asks to wait %ld s", status,
		    a.retry_after);
		goto done;
	}
	if (status == 413 && b->n > 1) {
		/*
		 * Larger than the platform, or a proxy in front of it, takes (a body or a line
		 * count): smaller batches at once, and never this large again in this run. One
		 * record refused so is an error below: the platform's to fix.
		 */
		k->records_max = b->n / 2;
		k->records = k->records_max;
		log_info("province: HTTP 413 for a batch of %zu records: %zu at a time from now on",
		    b->n, k->records);
		rc = 1;
		goto done;
	}
	if (status != 200) {
		char why[200];

		/* the receiver's own reason (a token of another hall, a batch too large) */
		province_answer_error(a.ctype, a.body->data, a.body->len, why, sizeof(why));
		snprintf(err, errlen, "HTTP %ld from %s/v1/records%s%s%s", status,
		    k->cfg->province_url,
		    status >= 300 && status < 400 ? " (a redirect: a captive portal?)" : "",
		    why[0] ? ": " : "", why);
		goto done;
	}
	if (province_answer_results(b, a.ctype, a.body->data, a.body->len, err, errlen) == -1)
		goto done;
	if (sink_results_set_aside(k->set_aside, b, &run, err, errlen) == -1)
		goto done;	/* not acknowledged: the records stay in the backlog */
delivered:
	clean_reasons(b);
	if (outbox_ack(s, "province", b, k->gz.len) == -1) {
		snprintf(err, errlen, "the hall store cannot record the delivery");
		goto done;
	}
	k->set_aside = run;
	for (i = 0; i < b->n; i++)
		if (b->v[i].result == REC_REJECTED || b->v[i].result == REC_CONFLICT)
			log_warnx("province refused record %s (%s): %s; quarantined, the others go on",
			    b->v[i].id, b->v[i].type, outbox_rec_reason(&b->v[i]));
	ps->records += b->n;
	ps->bytes += k->gz.len;
	ps->raw_bytes += b->bytes;
	if (k->records < k->records_max)
		k->records = k->records * 2 < k->records_max ? k->records * 2 : k->records_max;
	rc = 1;
done:
	outbox_batch_clear(b);
	return rc;
}

/* ---- the province as a destination -------------------------------------------------- */

static int
province_configured(const struct hall_config *cfg)
{
	return cfg->province_url != NULL;
}

static void
province_where(const struct hall_config *cfg, char *out, size_t outlen)
{
	snprintf(out, outlen, "(%s)", cfg->province_url ? cfg->province_url : "?");
}

static void
province_close(void *arg)
{
	struct province_sink *k = arg;

	if (k == NULL)
		return;
	sink_province_close(k);
	free(k);
}

static void *
province_open(const struct hall_config *cfg, struct store *s, const volatile sig_atomic_t *stop)
{
	struct province_sink *k;

	if ((k = malloc(sizeof(*k))) == NULL)
		return NULL;
	if (sink_province_open(k, cfg) == -1) {
		province_close(k);
		return NULL;
	}
	k->stop = stop;
	k->set_aside = (unsigned)outbox_set_aside_run(s, "province");
	return k;
}

/* Pushes until the outbox is drained; a stop abandons the transfer in progress. */
static int
province_pass(void *arg, struct store *s, struct push_stats *ps, long *retry_after, char *err,
    size_t errlen)
{
	struct province_sink *k = arg;
	int rc = 0;

	while (!*k->stop && (rc = sink_province_push(k, s, ps, retry_after, err, errlen)) == 1)
		;
	if (!*k->stop && rc == -1) {
		/* an error may quote the platform (a Content-Type): cleaned once more here */
		text_clean(err, errlen, err, strlen(err));
		return -1;
	}
	return 0;
}

const struct sink_ops sink_province_ops = {
	.name = "province",
	.configured = province_configured,
	.where = province_where,
	.open = province_open,
	.open_hint = "is [province] token_file readable?",
	.pass = province_pass,
	.cancel = NULL,	/* the transfer's progress callback watches stop */
	.close = province_close,
};
