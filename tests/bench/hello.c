/*
 * hall-hello: the "hello world" libfcgi program behind the same nginx and the same accept
 * loop, the yardstick for the read path in `make bench` (SPEC section 9).
 */
#include <stdio.h>

#include "web.h"

static void
handle(FCGX_Request *fr)
{
	FCGX_PutS("Status: 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 12\r\n\r\n"
		  "hello world\n",
	    fr->out);
}

int
main(int argc, char *argv[])
{
	static const struct server_ops ops = {NULL, handle, NULL};
	const char *path;

	if (argc != 2) {
		fprintf(stderr, "usage: hall-hello SOCKET\n");
		return 2;
	}
	path = argv[1];
	log_init("hall-hello");
	if (FCGX_Init() != 0)
		fatalx("FCGX_Init failed");
	return server_run(path, 2, 1, &ops) == 0 ? 0 : 1;
}
