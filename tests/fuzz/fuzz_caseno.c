/*
 * libFuzzer driver: case numbers (lib/core/caseno.c) as citizens type them.
 *
 * caseno_normalize on the input as a NUL-terminated string: after a success the number is
 * exactly CASENO_LEN symbols of CASENO_ALPHABET, and normalizing it again changes nothing.
 * Then the check character's promise (core.h): a number caseno_make builds from the input's
 * bytes is valid, and every single substitution and every swap of two different neighbours
 * makes it invalid. Any broken promise aborts, so libFuzzer records the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

#define SEQ_END 819628286980801ULL /* 31^10: the sequences ten symbols hold */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_normalize(const uint8_t *data, size_t size)
{
	char *in, out[CASENO_LEN + 1], again[CASENO_LEN + 1];

	if ((in = malloc(size + 1)) == NULL)
		abort();
	memcpy(in, data, size);
	in[size] = '\0';
	if (caseno_normalize(out, in) == 0) {
		if (strlen(out) != CASENO_LEN || strspn(out, CASENO_ALPHABET) != CASENO_LEN)
			abort();
		if (caseno_normalize(again, out) != 0 || strcmp(again, out) != 0)
			abort();
	}
	free(in);
}

/* A number from the input's bytes: a 12-digit hall code and a sequence. */
static void
check_make(const uint8_t *data, size_t size)
{
	char hall[13], no[CASENO_LEN + 1], bad[CASENO_LEN + 1];
	uint64_t seq = 0;
	size_t i, j;

	if (size < 20)
		return;
	for (i = 0; i < 12; i++)
		hall[i] = (char)('0' + data[i] % 10);
	hall[12] = '\0';
	for (i = 12; i < 20; i++)
		seq = seq << 8 | data[i];
	/* past the format's range (31^10): refused, never wrapped */
	if (seq >= SEQ_END) {
		if (caseno_make(no, hall, seq) != -1)
			abort();
		seq %= SEQ_END;
	}
	if (caseno_make(no, hall, seq) != 0)
		abort();
	if (!caseno_valid(no) || memcmp(no, hall, 12) != 0)
		abort();
	for (i = 0; i < CASENO_LEN; i++) {
		for (j = 0; CASENO_ALPHABET[j] != '\0'; j++) {
			if (CASENO_ALPHABET[j] == no[i])
				continue;
			memcpy(bad, no, sizeof(bad));
			bad[i] = CASENO_ALPHABET[j];
			if (caseno_valid(bad))
				abort();
		}
		if (i + 1 < CASENO_LEN && no[i] != no[i + 1]) {
			memcpy(bad, no, sizeof(bad));
			bad[i] = no[i + 1];
			bad[i + 1] = no[i];
			if (caseno_valid(bad))
				abort();
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_normalize(data, size);
	check_make(data, size);
	return 0;
}
