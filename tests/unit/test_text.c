/*
 * lib/core/text.c: text_clean, which makes a server's text fit for a log line, the store
 * and a terminal; and lib/core/log.c, which puts every message through it.
 *
 * Inputs are copied into buffers of exactly their length, so that under ASan a read past
 * the end of the input is caught rather than landing on a terminator.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "core.h"

/* 1 when s is valid UTF-8 with no C0, DEL or C1 control: what text_clean promises. */
static int
clean_enough(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	if (!utf8_valid(s, strlen(s)))
		return 0;
	for (; *p != '\0'; p++) {
		if (*p < 0x20 || *p == 0x7f)
			return 0;
		if (p[0] == 0xC2 && p[1] >= 0x80 && p[1] <= 0x9F)
			return 0;
	}
	return 1;
}

/* text_clean of in[0..len) from an exact-size copy, into out[outsize]. */
static size_t
clean_exact(char *out, size_t outsize, const char *in, size_t len)
{
	char *p = malloc(len > 0 ? len : 1);
	size_t n;

	assert_non_null(p);
	memcpy(p, in, len);
	n = text_clean(out, outsize, p, len);
	free(p);
	return n;
}

struct ccase {
	const char *in;
	size_t len; /* 0: strlen */
	const char *want;
	const char *what;
};

static const struct ccase cases[] = {
    {"", 0, "", "empty"},
    {"plain text", 0, "plain text", "ASCII unchanged"},
    {"列宽不足：Data too long", 0, "列宽不足：Data too long", "Chinese unchanged"},
    {"\x1b[31mred\x1b[0m", 0, "[31mred[0m", "ESC dropped, the rest kept"},
    {"bell\x07!", 0, "bell!", "BEL dropped"},
    {"a\x7f"
     "b",
     0, "ab", "DEL dropped"},
    {"nul\0inside", 11, "nulinside", "NUL dropped"},
    {"a\rb", 0, "a b", "CR: a space"},
    {"line one\r\nline two", 0, "line one line two", "CRLF: one space"},
    {"a\n\n\t\r\nb", 0, "a b", "a run of breaks: one space"},
    {"a \r\nb", 0, "a b", "no second space beside a space"},
    {"a\r\n b", 0, "a b", "no second space before a space"},
    {"\r\n  x", 0, "  x", "no space for breaks at the start"},
    {"x\r\n", 0, "x", "no space for breaks at the end"},
    {"a\tb", 0, "a b", "tab: a space"},
    {"a\x0b"
     "b\x0c"
     "c",
     0, "a b c", "VT and FF: spaces"},
    {"c1\xc2\x9b"
     "31m",
     0, "c131m", "C1 CSI (U+009B) dropped"},
    {"\xc2\x80\xc2\x9f", 0, "", "U+0080 and U+009F dropped"},
    {"a\xc2\x85"
     "b",
     0, "a b", "NEL: a space"},
    {"\xc2\xa0", 0, "\xc2\xa0", "U+00A0 kept (not a control)"},
    {"a\xe2\x80\xa8"
     "b\xe2\x80\xa9"
     "c",
     0, "a b c", "U+2028, U+2029: spaces"},
    {"x\xe2\x80\xae"
     "cba\xe2\x80\xac",
     0, "xcba", "RLO and PDF dropped"},
    {"\xe2\x81\xa6"
     "a\xe2\x81\xa9\xe2\x80\x8e\xe2\x80\x8f\xd8\x9c",
     0, "a", "isolates, LRM, RLM, ALM dropped"},
    {"\xe2\x80\x8b", 0, "\xe2\x80\x8b", "U+200B kept"},
    {"bad\xff"
     "byte",
     0, "bad?byte", "0xFF: ?"},
    {"\xc0\xaf", 0, "??", "overlong '/': two ?"},
    {"\xe0\x80\xaf", 0, "???", "overlong 3-byte"},
    {"\xed\xa0\x80", 0, "???", "surrogate"},
    {"\xf4\x90\x80\x80", 0, "????", "above U+10FFFF"},
    {"\xf0\x9f\x98\x80", 0, "\xf0\x9f\x98\x80", "U+1F600 kept"},
    {"\x80"
     "x",
     0, "?x", "a lone continuation byte"},
    {"\xe4\xb8"
     "x",
     0, "??x", "a sequence broken in the middle"},
    {"ok\xe4\xb8", 0, "ok", "a sequence cut short at the end: dropped"},
    {"ok\xf0\x9f\x98", 0, "ok", "a 4-byte sequence cut short at the end: dropped"},
    {"ok\xc2", 0, "ok", "a lead byte alone at the end: dropped"},
    {"\x1b]0;title\x07", 0, "]0;title", "OSC window title"},
};

static void
test_table(void **state)
{
	char out[256];
	size_t i, len, n;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		len = cases[i].len != 0 ? cases[i].len : strlen(cases[i].in);
		n = clean_exact(out, sizeof(out), cases[i].in, len);
		if (strcmp(out, cases[i].want) != 0)
			fail_msg("%s: got \"%s\"", cases[i].what, out);
		assert_int_equal(n, strlen(out));
		assert_true(clean_enough(out));
	}
}

static void
test_null_and_tiny(void **state)
{
	char out[4] = "xyz";

	(void)state;
	assert_int_equal(text_clean(out, sizeof(out), NULL, 5), 0);
	assert_string_equal(out, "");
	assert_string_equal(text_cleans(out, sizeof(out), NULL), "");
	assert_int_equal(text_clean(NULL, 10, "abc", 3), 0);
	memcpy(out, "xyz", 4);
	assert_int_equal(text_clean(out, 0, "abc", 3), 0);
	assert_string_equal(out, "xyz"); /* outsize 0: nothing written */
	assert_int_equal(text_clean(out, 1, "abc", 3), 0);
	assert_string_equal(out, "");
}

/* Every cut falls on a character boundary, and the longest prefix that fits is kept. */
static void
test_cut_on_a_boundary(void **state)
{
	static const char in[] = "县\x1b[1m级：值\r\n太长 (Data too long) 😀 end";
	char full[128], out[128];
	size_t size, n, fulln, gap;

	(void)state;
	fulln = text_clean(full, sizeof(full), in, strlen(in));
	gap = (size_t)(strstr(full, "值 ") - full) + strlen("值");
	for (size = 1; size <= fulln + 1; size++) {
		memset(out, 'Z', sizeof(out));
		n = text_clean(out, size, in, strlen(in));
		assert_true(n < size);
		assert_int_equal(out[n], '\0');
		assert_true(utf8_valid(out, n));
		assert_memory_equal(out, full, n); /* a prefix of the whole */
		/* and the longest: the next character of the whole would not have fitted */
		if (n < fulln) {
			size_t next = 1;

			/* the space that stands for the line break goes only with what follows it
			 */
			if (n == gap)
				next++;
			while (n + next < fulln && ((unsigned char)full[n + next] & 0xC0) == 0x80)
				next++;
			assert_true(n + next > size - 1);
		}
		assert_int_equal(out[size], 'Z'); /* nothing written past out[size - 1] */
	}
	assert_string_equal(full, "县[1m级：值 太长 (Data too long) 😀 end");
}

/* In place gives what a separate buffer gives, for every case of the table. */
static void
test_in_place(void **state)
{
	char buf[256], want[256];
	size_t i, len;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		len = cases[i].len != 0 ? cases[i].len : strlen(cases[i].in);
		clean_exact(want, sizeof(want), cases[i].in, len);
		memcpy(buf, cases[i].in, len);
		buf[len] = '\0';
		text_clean(buf, len + 1, buf, len);
		if (strcmp(buf, want) != 0)
			fail_msg("%s: in place \"%s\", apart \"%s\"", cases[i].what, buf, want);
	}
}

/* Random bytes: the output is always clean, in place or not, whatever the size. */
static void
test_random_bytes(void **state)
{
	unsigned char in[64];
	char out[80], inplace[80];
	unsigned seed = 11;
	int round, i;

	(void)state;
	for (round = 0; round < 20000; round++) {
		size_t len = (size_t)(round % 64), size = 1 + (size_t)(round % 79);

		for (i = 0; i < (int)len; i++) {
			seed = seed * 1103515245u + 12345u;
			/* mostly the bytes that matter: controls, C1 leads, UTF-8 leads */
			in[i] = (unsigned char)(seed >> 16);
			if ((seed >> 8) % 3 == 0)
				in[i] = (unsigned char)"\x00\x07\x0a\x0d\x1b\x7f\xc2\x85\x9b\xe2"
				                       "\x80\xae\xf0"
				                       "\x9f"[(seed >> 20) % 14];
		}
		text_clean(out, size, (const char *)in, len);
		assert_true(clean_enough(out));
		memcpy(inplace, in, len);
		inplace[len] = '\0';
		text_clean(inplace, len + 1, inplace, len);
		assert_true(clean_enough(inplace));
		/* a smaller out holds a prefix of what the larger one holds */
		assert_memory_equal(out, inplace,
		                    strlen(out) < strlen(inplace) ? strlen(out) : strlen(inplace));
	}
}

/* The logger's last line of defence: a message with a server's text stays one clean line. */
static void
test_log_line_is_clean(void **state)
{
	char path[] = "/tmp/test_text_logXXXXXX", line[2048], big[1500];
	int fd = mkstemp(path), saved = dup(STDERR_FILENO);
	size_t n;
	FILE *fp;

	(void)state;
	assert_true(fd >= 0 && saved >= 0);
	assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	log_init("test_text");
	log_warnx("county: %s", "\x1b[31mrefused\r\ntest_text[1] info: forged\x07\xc2\x9b");
	/* a long line is cut by the logger's buffer: never inside a character */
	memset(big, 0, sizeof(big));
	for (n = 0; n + 3 < sizeof(big); n += 3)
		memcpy(big + n, "县", 3);
	log_info("x%s", big);
	fflush(stderr);
	assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
	close(saved);
	assert_non_null(fp = fdopen(fd, "r"));
	rewind(fp);
	assert_non_null(fgets(line, sizeof(line), fp));
	assert_string_equal(strchr(line, ':'), ": county: [31mrefused test_text[1] info: forged\n");
	line[strlen(line) - 1] = '\0';
	assert_true(clean_enough(line));
	assert_non_null(fgets(line, sizeof(line), fp));
	assert_int_equal(line[strlen(line) - 1], '\n');
	line[strlen(line) - 1] = '\0';
	assert_true(clean_enough(line));
	assert_true(strlen(line) > 900);
	assert_null(fgets(line, sizeof(line), fp)); /* two events, two lines */
	fclose(fp);
	unlink(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_table),
	    cmocka_unit_test(test_null_and_tiny),
	    cmocka_unit_test(test_cut_on_a_boundary),
	    cmocka_unit_test(test_in_place),
	    cmocka_unit_test(test_random_bytes),
	    cmocka_unit_test(test_log_line_is_clean),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
