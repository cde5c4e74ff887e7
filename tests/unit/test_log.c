/*
 * lib/core/log.c: under systemd (stderr is the stream JOURNAL_STREAM names) each line starts
 * with its sd-daemon(3) priority, which journald takes as the line's level; anywhere else
 * (the demo's log files, a terminal, a stream that is not stderr's) lines are as before.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "core.h"

static char path[64];
static int saved_stderr = -1;

/* stderr goes to a fresh temporary file; JOURNAL_STREAM is set as `how` says. */
enum stream { NONE, SAME, OTHER_INODE, GARBAGE };

static void
capture(enum stream how)
{
	char env[64];
	struct stat sb;
	int fd;

	snprintf(path, sizeof(path), "/tmp/test_log.XXXXXX");
	assert_true((fd = mkstemp(path)) != -1);
	fflush(stderr);
	if (saved_stderr == -1)
		assert_true((saved_stderr = dup(STDERR_FILENO)) != -1);
	assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	close(fd);
	assert_int_equal(fstat(STDERR_FILENO, &sb), 0);
	switch (how) {
	case NONE:
		unsetenv("JOURNAL_STREAM");
		break;
	case SAME:
		snprintf(env, sizeof(env), "%llu:%llu", (unsigned long long)sb.st_dev,
		    (unsigned long long)sb.st_ino);
		setenv("JOURNAL_STREAM", env, 1);
		break;
	case OTHER_INODE:	/* the journal's stream, but stderr was redirected since */
		snprintf(env, sizeof(env), "%llu:%llu", (unsigned long long)sb.st_dev,
		    (unsigned long long)sb.st_ino + 1);
		setenv("JOURNAL_STREAM", env, 1);
		break;
	case GARBAGE:
		snprintf(env, sizeof(env), "%llu:%llux", (unsigned long long)sb.st_dev,
		    (unsigned long long)sb.st_ino);
		setenv("JOURNAL_STREAM", env, 1);
		break;
	}
	log_init("test-log");
}

/* Restores stderr and returns what was written to it (static buffer). */
static const char *
captured(void)
{
	static char text[4096];
	size_t n;
	FILE *fp;

	fflush(stderr);
	assert_int_equal(dup2(saved_stderr, STDERR_FILENO), STDERR_FILENO);
	assert_non_null(fp = fopen(path, "r"));
	n = fread(text, 1, sizeof(text) - 1, fp);
	text[n] = '\0';
	fclose(fp);
	unlink(path);
	unsetenv("JOURNAL_STREAM");
	return text;
}

static void
expect_lines(const char *text, const char *const want[], size_t n)
{
	char pid[32];
	const char *p = text;
	size_t i;

	snprintf(pid, sizeof(pid), "[%ld] ", (long)getpid());
	for (i = 0; i < n; i++) {
		size_t len = strcspn(p, "\n");
		char line[512];

		assert_true(len < sizeof(line));
		memcpy(line, p, len);
		line[len] = '\0';
		if (strncmp(line, want[i], strlen(want[i])) != 0)
			fail_msg("line %zu: \"%s\", not starting \"%s\"", i + 1, line, want[i]);
		assert_non_null(strstr(line, pid));
		p += len + (p[len] == '\n');
	}
	assert_string_equal(p, "");
}

static void
emit_three(void)
{
	log_info("listening on %s", "/run/hall/hall-read.sock");
	log_warnx("a warning");
	errno = ENOENT;
	log_warn("%s", "/etc/hall/hall.ini");
}

/* stderr is the journal's stream: <6> info, <4> warning, before the usual text. */
static void
test_journal_prefix(void **state)
{
	static const char *const want[] = {"<6>test-log[", "<4>test-log[", "<4>test-log["};
	const char *text;

	(void)state;
	capture(SAME);
	emit_three();
	text = captured();
	expect_lines(text, want, 3);
	assert_non_null(strstr(text, "info: listening on /run/hall/hall-read.sock\n"));
	assert_non_null(strstr(text, "warning: /etc/hall/hall.ini: No such file or directory\n"));
}

/* Not under systemd, or stderr no longer the stream it names: no prefix at all. */
static void
test_no_prefix(void **state)
{
	static const char *const want[] = {"test-log[", "test-log[", "test-log["};
	static const enum stream cases[] = {NONE, OTHER_INODE, GARBAGE};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		capture(cases[i]);
		emit_three();
		expect_lines(captured(), want, 3);
	}
}

/* fatalx ends the program with 1; its line carries <2> (critical: the program stops). */
static void
test_fatal_prefix(void **state)
{
	const char *text;
	int status;
	pid_t pid;

	(void)state;
	capture(SAME);
	if ((pid = fork()) == 0)
		fatalx("cannot start: %s", "no store");
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 1);
	text = captured();
	/* the child's pid, not ours: the prefix and the text only */
	assert_int_equal(strncmp(text, "<2>test-log[", 12), 0);
	assert_non_null(strstr(text, "] fatal: cannot start: no store\n"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_journal_prefix),
	    cmocka_unit_test(test_no_prefix),
	    cmocka_unit_test(test_fatal_prefix),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
