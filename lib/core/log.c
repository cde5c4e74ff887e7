/*
 * Logging to stderr, one line per event, with the program name and pid, so that the lines
 * of pre-forked workers can be told apart in one log file.
 *
 * One line per event holds whatever a message carries: every message goes through
 * text_clean (lib/core/text.c), so a server's text that a caller forgot to clean cannot
 * forge a line of its own, colour the operator's terminal or break the log's UTF-8. Our
 * own messages are single lines of printable text, which it leaves as they are.
 *
 * Under systemd, stderr is a stream to journald, which reads a leading "<N>" as the line's
 * priority (sd-daemon(3)): `journalctl -p warning -u hall-write` then shows what went
 * wrong alone. The prefix is written only when stderr is that stream: systemd names it in
 * JOURNAL_STREAM as "device:inode" (systemd.exec(5)), and a program whose stderr was
 * redirected since (a log file of the demo, a pipe) no longer matches it. The prefixes
 * are sd-daemon(3)'s SD_INFO, SD_WARNING and SD_CRIT, spelled out: no program links
 * libsystemd (notify.c).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core.h"

static const char *log_prog = "hall";
static int log_journal;	/* stderr is journald's stream: lines carry their priority */

/* Whether stderr is the stream JOURNAL_STREAM names ("device:inode", both decimal). */
static int
log_is_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat sb;
	int end = 0;

	if (e == NULL || sscanf(e, "%llu:%llu%n", &dev, &ino, &end) != 2 || e[end] != '\0')
		return 0;
	if (fstat(STDERR_FILENO, &sb) == -1)
		return 0;
	return (unsigned long long)sb.st_dev == dev && (unsigned long long)sb.st_ino == ino;
}

void
log_init(const char *progname)
{
	log_prog = progname;
	log_journal = log_is_journal();
}

static void
log_emit(const char *prio, const char *level, const char *fmt, va_list ap, const char *suffix)
{
	char line[1024];
	int n;

	n = snprintf(line, sizeof(line), "%s%s[%ld] %s: ", log_journal ? prio : "", log_prog,
	    (long)getpid(), level);
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
	log_emit("<6>", "info", fmt, ap, NULL);
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit("<4>", "warning", fmt, ap, NULL);
	va_end(ap);
}

void
log_warn(const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	log_emit("<4>", "warning", fmt, ap, strerror(saved));
	va_end(ap);
	errno = saved;
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit("<2>", "fatal", fmt, ap, NULL);
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
