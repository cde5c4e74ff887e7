/*
 * libFuzzer driver: calendar_parse (lib/core/calendar.c) on the input as a holiday calendar
 * file (conf/calendar/README.md), the text the county sends down to every hall.
 *
 * The promises checked: a file is taken whole or not at all (after a failure the calendar
 * it was merged into is unchanged); the error says which line, in one line of printable
 * UTF-8 (it goes to the log); an accepted file lists only dates of years it declares;
 * and what was accepted, written back in the file's format, parses again to the same
 * calendar. Any broken promise aborts, so libFuzzer records the input.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

#define ENTRIES_MAX 1000 /* CAL_MAX_ENTRIES: the entries of one file */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t
lines(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		n += *s == '\n';
	return n;
}

/* The calendar's entries in the file's format, to compare calendars and to reparse. */
static void
put_year(int year, void *arg)
{
	buf_printf(arg, "year %04d\n", year);
}

static void
put_day(int y, int m, int d, enum cal_kind kind, void *arg)
{
	buf_printf(arg, "%04d-%02d-%02d %s\n", y, m, d,
	           kind == CAL_HOLIDAY ? "holiday" : "workday");
}

static void
dump(const struct calendar *cal, struct buf *out)
{
	buf_reset(out);
	buf_adds(out, "");
	calendar_foreach(cal, put_year, put_day, out);
	if (out->failed)
		abort();
}

/* A calendar that already holds something, as a hall's does when a new file comes. */
static struct calendar *
prior(void)
{
	struct calendar *cal = calendar_new();

	if (cal == NULL || calendar_add_year(cal, 2031) == -1 ||
	    calendar_set_day(cal, 2031, 10, 1, CAL_HOLIDAY) == -1 ||
	    calendar_set_day(cal, 2031, 9, 27, CAL_WORKDAY) == -1)
		abort();
	return cal;
}

static void
check_error(const char *err)
{
	size_t i, n = strlen(err);

	if (n == 0 || !utf8_valid(err, n))
		abort();
	for (i = 0; i < n; i++)
		if ((unsigned char)err[i] < 0x20 || err[i] == 0x7f)
			abort();
}

/* Every listed day lies in a year the text declares (the prior calendar's are 2031's). */
static void
check_day_years(int y, int m, int d, enum cal_kind kind, void *arg)
{
	(void)m, (void)d, (void)kind;
	if (!calendar_has_year(arg, y))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct buf before;
	struct calendar *cal = prior(), *again;
	struct buf after, second;
	char *text, err[256];

	buf_init(&after, 1u << 20);
	buf_init(&second, 1u << 20);
	if (before.data == NULL) { /* the prior calendar's text, made once */
		buf_init(&before, 1u << 20);
		dump(cal, &before);
	}
	/* an exact-size copy, so that a read past the text is caught */
	if ((text = malloc(size > 0 ? size : 1)) == NULL)
		abort();
	memcpy(text, data, size);
	if (calendar_parse(cal, text, size, err, sizeof(err)) != 0) {
		check_error(err);
		dump(cal, &after);
		if (strcmp(before.data, after.data) != 0)
			abort(); /* a bad file changed the calendar */
	} else {
		if (err[0] != '\0')
			abort();
		calendar_foreach(cal, NULL, check_day_years, cal);
		/* written back and read again: the same calendar (unless the merge with the
		 * prior entries passed a file's cap on entries) */
		dump(cal, &after);
		if (lines(after.data) > ENTRIES_MAX)
			goto done;
		if ((again = calendar_new()) == NULL)
			abort();
		if (calendar_parse(again, after.data, after.len, err, sizeof(err)) != 0)
			abort();
		dump(again, &second);
		if (strcmp(after.data, second.data) != 0)
			abort();
		calendar_free(again);
	}
done:
	free(text);
	buf_free(&after);
	buf_free(&second);
	calendar_free(cal);
	return 0;
}
