/*
 * Logging to stderr, one line per event, with the program name and pid, so that the lines
 * of pre-forked workers can be told apart in one log file.
 *
 * One line per event holds whatever a message carries: every message goes through
 * text_clean (lib/core/text.c), so a server's text that a caller forgot to clean cannot
 * forge a line of its own, colour the operator's terminal or break the log's UTF-8. Our
 * own messages are single lines of printable text, which it leaves as they are.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core.h"

static const char *log_prog = "hall";

void
log_init(const char *progname)
{
	log_prog = progname;
}

static void
log_emit(const char *level, const char *fmt, va_list ap, const char *suffix)
{
	char line[1024];
	int n;

	n = snprintf(line, sizeof(line), "%s[%ld] %s: ", log_prog, (long)getpid(), level);
	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	/* in place; a character the buffer's end cut in two is dropped */
	text_clean(line + n, sizeof(line) - n, line + n, strlen(line + n));
	fprintf(stderr, "%s%s%s\n", line, suffix ? ": " : "", suffix ? suffix : "");
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit("info", fmt, ap, NULL);
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit("warning", fmt, ap, NULL);
	va_end(ap);
}

void
log_warn(const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	log_emit("warning", fmt, ap, strerror(saved));
	va_end(ap);
	errno = saved;
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit("fatal", fmt, ap, NULL);
	va_end(ap);
	exit(1);
}

void
errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}
