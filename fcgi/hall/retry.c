/*
 * The retry key of a submission: the form's hidden key, or the API's Idempotency-Key,
 * hashed with everything submitted. A form sent twice (a double click, a reload after a
 * lost answer) or an API call repeated with the same key finds the first record by this
 * hash and gets its receipt back instead of a second record; the same key with other
 * content is another submission, and a key guessed or reused by someone else opens
 * nothing.
 */
#include <string.h>

#include <sodium.h>

#include "site.h"

const char *
retry_key_given(struct req *r)
{
	return r->is_api ? FCGX_GetParam("HTTP_IDEMPOTENCY_KEY", r->fr->envp) :
	    field_value(&r->in, "key");
}

int
retry_key_hash(const char *key, const char *const *parts, size_t n, char out[65])
{
	unsigned char h[crypto_hash_sha256_BYTES];
	crypto_hash_sha256_state st;
	size_t i;

	if (key == NULL || *key == '\0')
		return 0;
	if (strlen(key) < 8 || strlen(key) > 128 || !utf8_valid(key, strlen(key)))
		return -1;
	/* each part marked present (+) or absent (-), and ended by its NUL */
	crypto_hash_sha256_init(&st);
	for (i = 0; i < n; i++) {
		const char *v = parts[i] != NULL ? parts[i] : "";

		crypto_hash_sha256_update(&st, (const unsigned char *)(parts[i] != NULL ? "+" : "-"), 1);
		crypto_hash_sha256_update(&st, (const unsigned char *)v, strlen(v) + 1);
	}
	crypto_hash_sha256_final(&st, h);
	sodium_bin2hex(out, 65, h, sizeof(h));
	return 1;
}
