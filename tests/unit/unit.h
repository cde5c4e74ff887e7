/*
 * Helpers the unit tests share, static inline so that each test stays one program built
 * from one file. Include after <cmocka.h> and the header of the code under test.
 */
#ifndef UNIT_H
#define UNIT_H

#include <stdio.h>

/* Parses a shipped calendar table (conf/calendar) into cal; the tests run from the root. */
static inline void
unit_calendar_load(struct calendar *cal, const char *path)
{
	static char text[64 * 1024];
	char err[256];
	size_t len;
	FILE *fp;

	if ((fp = fopen(path, "rb")) == NULL)
		fail_msg("cannot open %s (run from the repository root)", path);
	len = fread(text, 1, sizeof(text), fp);
	assert_int_equal(ferror(fp), 0);
	assert_true(len < sizeof(text));
	fclose(fp);
	if (calendar_parse(cal, text, len, err, sizeof(err)) != 0)
		fail_msg("%s: %s", path, err);
}

#endif
