/*
 * What every sign-in shares, whoever keeps its accounts (the county console in MariaDB, the
 * hall's window in the hall store): account names, the password rule, Argon2id hashes
 * (libsodium's crypto_pwhash_str at its interactive limits), the stand-in hash that makes an
 * unknown name cost what a known one does, session tokens (32 random bytes in base64url,
 * kept by the server only as their SHA-256), the value a session's form tokens are bound to,
 * and the session cookie's header. No store and no FastCGI: hall-admin links it too.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "web.h"

_Static_assert(SIGNIN_HASH_LEN == crypto_pwhash_STRBYTES, "the hash string's size");
_Static_assert(SIGNIN_TOKEN_LEN + 1 == sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_URLSAFE_NO_PADDING),
    "a token's length");

int
signin_name_ok(const char *s)
{
	size_t n = strlen(s);

	return n >= 1 && n <= SIGNIN_NAME_MAX &&
	    strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") == n;
}

const char *
signin_password_problem(const char *pw)
{
	size_t n = strlen(pw);

	if (n < SIGNIN_PASSWORD_MIN || n > SIGNIN_PASSWORD_MAX || !utf8_valid(pw, n))
		return "the password must be 8 to 128 bytes of UTF-8";
	return NULL;
}

int
signin_hash(char out[SIGNIN_HASH_LEN], const char *pw)
{
	if (crypto_pwhash_str_alg(out, pw, strlen(pw), crypto_pwhash_OPSLIMIT_INTERACTIVE,
		crypto_pwhash_MEMLIMIT_INTERACTIVE, crypto_pwhash_ALG_ARGON2ID13) != 0) {
		log_warnx("%s: out of memory hashing a password", __func__);
		return -1;
	}
	return 0;
}

/*
 * The hash a password is checked against when there is no account to check it against (an
 * unknown name, an over-long password): made once, before the workers fork, with the limits
 * of a real account's hash, so that every refusal costs one Argon2id verification.
 */
static char dummy_hash[SIGNIN_HASH_LEN];

int
signin_init(void)
{
	char pw[32];
	int rc;

	randombytes_buf(pw, sizeof(pw) - 1);
	pw[sizeof(pw) - 1] = '\0';
	rc = signin_hash(dummy_hash, pw);
	sodium_memzero(pw, sizeof(pw));
	return rc;
}

int
signin_verify(const char *hash, const char *pw)
{
	int usable = pw != NULL && strlen(pw) <= SIGNIN_PASSWORD_MAX;

	if (hash == NULL || !usable)
		hash = dummy_hash;
	if (dummy_hash[0] == '\0')
		return 0;	/* signin_init was not called: refuse rather than answer fast */
	/* the stand-in is always verified with the empty password: it never matches */
	return crypto_pwhash_str_verify(hash, usable ? pw : "", usable ? strlen(pw) : 0) == 0 &&
	    hash != dummy_hash;
}

int
signin_needs_rehash(const char *hash)
{
	return crypto_pwhash_str_needs_rehash(hash, crypto_pwhash_OPSLIMIT_INTERACTIVE,
	    crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0;
}

void
signin_token_new(char out[SIGNIN_TOKEN_LEN + 1])
{
	unsigned char raw[32];

	randombytes_buf(raw, sizeof(raw));
	sodium_bin2base64(out, SIGNIN_TOKEN_LEN + 1, raw, sizeof(raw),
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(raw, sizeof(raw));
}

void
signin_token_hash(char out[65], const char *token)
{
	unsigned char h[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(h, (const unsigned char *)token, strlen(token));
	sodium_bin2hex(out, 65, h, sizeof(h));
}

void
signin_token_bind(char out[CSRF_COOKIE_LEN + 1], const char *token, const char *purpose)
{
	unsigned char h[crypto_generichash_BYTES];

	crypto_generichash(h, sizeof(h), (const unsigned char *)token, strlen(token),
	    (const unsigned char *)purpose, strlen(purpose));
	sodium_bin2base64(out, CSRF_COOKIE_LEN + 1, h, 16, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

int
signin_cookie(struct buf *h, const char *name, const char *path, const char *token,
    int max_age, int https)
{
	/* an empty token removes the cookie */
	return buf_printf(h, "Set-Cookie: %s=%s; Path=%s; Max-Age=%d; HttpOnly; SameSite=Strict%s\r\n",
	    name, token != NULL ? token : "", path, token != NULL && *token != '\0' ? max_age : 0,
	    https ? "; Secure" : "");
}
