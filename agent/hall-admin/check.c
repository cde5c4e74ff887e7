/*
 * hall-admin -c FILE check: validates a hall INI before a program is started with it.
 * Each mistake is named the way a compiler names one, on stderr, and the check goes on
 * past it: "FILE:LINE: error: [county] port must be a whole number from 1 to 65535".
 * What is checked is lib/core's (config_parse and config_check, over the one table of
 * keys); this file says it to the operator and gives scripts an exit code:
 *   0  valid (warnings and notes, if any, printed)
 *   1  errors found
 *   2  the file cannot be read (or the command line is wrong)
 */
#include <stdio.h>

#include "admin.h"
#include "core.h"

int
check_main(const char *path)
{
	struct config_report r = {0};
	int rc = config_check(path, &r);

	if (rc == CONFIG_CHECK_UNREADABLE)
		return rc;
	if (rc == CONFIG_CHECK_OK)
		printf("%s: valid (%d warning(s), %d note(s))\n", path, r.warnings, r.notes);
	else
		printf("%s: %d error(s), %d warning(s), %d note(s)\n", path, r.errors, r.warnings,
		    r.notes);
	return rc;
}
