/* lib/core/notify.c: Type=notify's datagram without libsystemd. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "core.h"

/* A datagram socket bound at name (a path, or '@' and an abstract name), as systemd's. */
static int
listener(const char *name)
{
	struct sockaddr_un sun;
	size_t len = strlen(name);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, name, len);
	if (name[0] == '@')
		sun.sun_path[0] = '\0';
	assert_int_equal(bind(fd, (struct sockaddr *)&sun,
	    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)), 0);
	return fd;
}

static void
expect_message(int fd, const char *want)
{
	char got[256];
	ssize_t n = recv(fd, got, sizeof(got) - 1, MSG_DONTWAIT);

	assert_true(n >= 0);
	got[n] = '\0';
	assert_string_equal(got, want);
}

/* The state arrives whole, on a socket named by a path. */
static void
test_path(void **state)
{
	char path[64];
	int fd;

	(void)state;
	snprintf(path, sizeof(path), "/tmp/hall-notify-%d", (int)getpid());
	unlink(path);
	fd = listener(path);
	setenv("NOTIFY_SOCKET", path, 1);
	assert_int_equal(notify_systemd("READY=1"), 0);
	expect_message(fd, "READY=1");
	assert_int_equal(notify_systemd("STOPPING=1"), 0);
	expect_message(fd, "STOPPING=1");
	close(fd);
	unlink(path);
	unsetenv("NOTIFY_SOCKET");
}

/* '@' names the abstract namespace, as systemd passes it for user managers. */
static void
test_abstract(void **state)
{
	char name[64];
	int fd;

	(void)state;
	snprintf(name, sizeof(name), "@hall-notify-%d", (int)getpid());
	fd = listener(name);
	setenv("NOTIFY_SOCKET", name, 1);
	assert_int_equal(notify_systemd("READY=1"), 0);
	expect_message(fd, "READY=1");
	close(fd);
	unsetenv("NOTIFY_SOCKET");
}

/* Without a manager nothing is sent and nothing fails; a socket that is not there, or
 * an address of another family, is an error the caller can log. */
static void
test_no_manager_and_errors(void **state)
{
	(void)state;
	unsetenv("NOTIFY_SOCKET");
	assert_int_equal(notify_systemd("READY=1"), 0);
	setenv("NOTIFY_SOCKET", "/nonexistent/hall-notify", 1);
	assert_int_equal(notify_systemd("READY=1"), -1);
	setenv("NOTIFY_SOCKET", "vsock:2:1234", 1);
	assert_int_equal(notify_systemd("READY=1"), -1);
	assert_int_equal(errno, EAFNOSUPPORT);
	unsetenv("NOTIFY_SOCKET");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path),
		cmocka_unit_test(test_abstract),
		cmocka_unit_test(test_no_manager_and_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
