/*
 * A FastCGI request over memory, for the tests of fcgi/web: the parameters are an envp the
 * test fills, and the two streams are libfcgi's own FCGX_Stream (fcgiapp.h defines it in
 * public) with buffer procedures of ours, so the real FCGX_GetParam, FCGX_GetStr and
 * FCGX_PutStr run. libfcgi reads from [rdNext, stop) and calls fillBuffProc when that is
 * empty; ours hands out the next `chunk` bytes of the body, and at the end sets isClosed,
 * which FCGX_GetStr takes as end of input. It writes into [wrNext, stop) and calls
 * emptyBuffProc when that is full; ours moves the window's bytes to a growing buffer. Both
 * windows are small so that every request crosses them several times.
 *
 * Include after cmocka.h and web.h.
 */
#ifndef FAKE_FCGI_H
#define FAKE_FCGI_H

#define FAKE_MAX_ENV 16

struct fake_req {
	FCGX_Request fr;
	FCGX_Stream in, out;
	char *env[FAKE_MAX_ENV + 1];	/* "NAME=value" copies, NULL-terminated; owned */
	unsigned char *body;		/* an exact-size copy, so ASan sees any overread */
	size_t body_len, body_off, chunk;
	unsigned char win[16];		/* the output window */
	struct buf sent;		/* everything written */
};

static void
fake_fill(FCGX_Stream *s)
{
	struct fake_req *f = s->data;
	size_t n = f->body_len - f->body_off;

	if (n == 0) {
		s->isClosed = 1;
		return;
	}
	if (n > f->chunk)
		n = f->chunk;
	s->rdNext = s->stopUnget = f->body + f->body_off;
	s->stop = s->rdNext + n;
	f->body_off += n;
}

static void
fake_empty(FCGX_Stream *s, int doClose)
{
	struct fake_req *f = s->data;

	(void)doClose;
	buf_add(&f->sent, f->win, (size_t)(s->wrNext - f->win));
	s->wrNext = f->win;
}

/*
 * A request with the parameters env ("NAME=value", NULL-terminated) and the body's len bytes,
 * read `chunk` bytes at a time.
 */
static void
fake_init(struct fake_req *f, const char *const *env, const char *body, size_t len,
    size_t chunk)
{
	size_t i;

	memset(f, 0, sizeof(*f));
	for (i = 0; env != NULL && env[i] != NULL; i++) {
		assert_true(i < FAKE_MAX_ENV);
		assert_non_null(f->env[i] = strdup(env[i]));
	}
	assert_non_null(f->body = malloc(len > 0 ? len : 1));
	if (len > 0)
		memcpy(f->body, body, len);
	f->body_len = len;
	f->chunk = chunk > 0 ? chunk : 1;
	f->in.isReader = 1;
	f->in.rdNext = f->in.stop = f->in.stopUnget = f->body;
	f->in.wrNext = f->in.stop;
	f->in.fillBuffProc = fake_fill;
	f->in.data = f;
	f->out.wrNext = f->win;
	f->out.stop = f->out.rdNext = f->win + sizeof(f->win);
	f->out.emptyBuffProc = fake_empty;
	f->out.data = f;
	buf_init(&f->sent, 1 << 20);
	f->fr.in = &f->in;
	f->fr.out = &f->out;
	f->fr.envp = f->env;
}

/* Everything the request wrote (what is still in the window included). */
static const char *
fake_sent(struct fake_req *f)
{
	fake_empty(&f->out, 0);
	buf_add(&f->sent, "", 0);
	assert_false(f->sent.failed);
	return f->sent.data;
}

static void
fake_free(struct fake_req *f)
{
	size_t i;

	for (i = 0; f->env[i] != NULL; i++)
		free(f->env[i]);
	free(f->body);
	buf_free(&f->sent);
}

/*
 * Checks the response: its first line is status, header (a whole "Name: value" line, without
 * its CRLF; NULL: none to look for) is among its headers, and its body is exactly body, whose
 * length the Content-Length header gives (a HEAD response gives it but sends no body).
 */
static void
assert_response(struct fake_req *f, const char *status, const char *header, const char *body,
    int head)
{
	const char *s = fake_sent(f), *end, *p;
	char line[512], want_len[64];
	size_t n;

	if ((end = strstr(s, "\r\n\r\n")) == NULL)
		fail_msg("no end of headers in \"%s\"", s);
	n = strcspn(s, "\r");
	if (strlen(status) != n || strncmp(s, status, n) != 0)
		fail_msg("status line \"%.*s\", want \"%s\"", (int)n, s, status);
	if (header != NULL) {
		snprintf(line, sizeof(line), "\r\n%s\r\n", header);
		if ((p = strstr(s, line)) == NULL || p >= end)
			fail_msg("no header \"%s\" in \"%.*s\"", header, (int)(end - s), s);
	}
	snprintf(want_len, sizeof(want_len), "\r\nContent-Length: %zu\r\n", strlen(body));
	if ((p = strstr(s, want_len)) == NULL || p >= end)
		fail_msg("Content-Length is not %zu in \"%.*s\"", strlen(body), (int)(end - s), s);
	if (strcmp(end + 4, head ? "" : body) != 0)
		fail_msg("body \"%s\", want \"%s\"", end + 4, head ? "" : body);
}

/* An error-page hook that records what the web layer handed it and answers a small page. */
static struct {
	int calls, status;
	char message[256], extra[256];
} hooked;

static void
page_hook(struct req *r, int status, const char *message, const char *extra)
{
	struct buf b;

	hooked.calls++;
	hooked.status = status;
	snprintf(hooked.message, sizeof(hooked.message), "%s", message);
	snprintf(hooked.extra, sizeof(hooked.extra), "%s", extra != NULL ? extra : "(null)");
	buf_init(&b, 1024);
	buf_adds(&b, "<p>hook: ");
	buf_html(&b, message);
	buf_adds(&b, "</p>");
	req_page(r, status, &b, extra);
	buf_free(&b);
}

#endif
