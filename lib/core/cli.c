/*
 * What every program's command line answers the same way: --help (the program's own text,
 * on stdout, exit 0) and --version, before anything else is read; and the usage text on
 * stderr with exit 2 for a command line it cannot take.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

void
cli_usage(const char *help, int code)
{
	fputs(help, code == 0 ? stdout : stderr);
	exit(code);
}

void
cli_standard(int argc, char *argv[], const char *name, const char *help)
{
	if (argc < 2)
		return;
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
		cli_usage(help, 0);
	if (strcmp(argv[1], "--version") == 0) {
		printf("%s %s\n", name, HALL_VERSION);
		exit(0);
	}
}
