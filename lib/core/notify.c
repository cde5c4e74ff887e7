/*
 * Type=notify without libsystemd: READY=1 and STOPPING=1 as a datagram on $NOTIFY_SOCKET
 * (a path, or an abstract name when it starts with '@'), the protocol sd_notify(3)
 * documents and gives a standalone implementation of. hall-agent used sd_notify alone
 * from libsystemd, and linking it brought libsystemd, libgcrypt, libgpg-error, liblzma,
 * liblz4 and libcap into the agent: about 0.9 MB of resident pages, relocated and
 * initialized at every start, for two short messages (SPEC 9, the agent's memory).
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "core.h"

/* 0 sent, or nothing to do (not under systemd); -1 with errno. */
int
notify_systemd(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sun;
	size_t plen, len = strlen(state);
	ssize_t n;
	int fd;

	if (path == NULL)
		return 0;
	plen = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || plen < 2 || plen >= sizeof(sun.sun_path)) {
		errno = EAFNOSUPPORT;
		return -1;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, plen);
	if (sun.sun_path[0] == '@')
		sun.sun_path[0] = '\0';	/* the abstract namespace */
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	n = sendto(fd, state, len, MSG_NOSIGNAL, (struct sockaddr *)&sun,
	    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen));
	close(fd);
	if (n != (ssize_t)len) {
		if (n >= 0)
			errno = EMSGSIZE;
		return -1;
	}
	return 0;
}
