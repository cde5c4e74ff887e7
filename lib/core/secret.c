/* Secrets (passwords, tokens) live in files of their own, readable by their owner only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

char *
secret_read(const char *path)
{
	char line[512];
	FILE *f;

	if (path == NULL || (f = fopen(path, "r")) == NULL) {
		log_warn("%s", path ? path : "(no secret file configured)");
		return NULL;
	}
	if (fgets(line, sizeof(line), f) == NULL)
		line[0] = '\0';
	fclose(f);
	line[strcspn(line, "\r\n")] = '\0';
	return strdup(line);
}
