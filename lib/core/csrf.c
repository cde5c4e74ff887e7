/*
 * CSRF tokens for the citizens' forms. Stateless: a token is "<unix time in hex>.<mac>" with
 * mac = HMAC-SHA256(secret, cookie "|" time) in base64url, truncated to 128 bits. It is good
 * only with the cookie it was made for, so another site cannot mint one for a citizen.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "core.h"

#define MAC_BYTES 16

static unsigned char csrf_secret[crypto_auth_hmacsha256_KEYBYTES];
static int csrf_have_secret;

int
csrf_load_secret(const char *path, int create)
{
	char hex[2 * sizeof(csrf_secret) + 2];
	ssize_t n;
	size_t bin_len;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 && errno == ENOENT && create &&
	    (fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640)) != -1) {
		randombytes_buf(csrf_secret, sizeof(csrf_secret));
		sodium_bin2hex(hex, sizeof(hex), csrf_secret, sizeof(csrf_secret));
		hex[2 * sizeof(csrf_secret)] = '\n';
		if (write(fd, hex, 2 * sizeof(csrf_secret) + 1) != 2 * sizeof(csrf_secret) + 1 ||
		    fsync(fd) == -1) {
			log_warn("%s: %s", __func__, path);
			close(fd);
			unlink(path);
			return -1;
		}
		close(fd);
		csrf_have_secret = 1;
		return 0;
	}
	if (fd == -1 && errno == EEXIST)	/* another program made it just now */
		fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1) {
		log_warn("%s: %s", __func__, path);
		return -1;
	}
	n = read(fd, hex, sizeof(hex) - 1);
	close(fd);
	if (n < (ssize_t)(2 * sizeof(csrf_secret)) ||
	    sodium_hex2bin(csrf_secret, sizeof(csrf_secret), hex, 2 * sizeof(csrf_secret), NULL,
		&bin_len, NULL) != 0 ||
	    bin_len != sizeof(csrf_secret)) {
		log_warnx("%s: %s: not 64 hex digits", __func__, path);
		return -1;
	}
	csrf_have_secret = 1;
	return 0;
}

void
csrf_new_cookie(char out[CSRF_COOKIE_LEN + 1])
{
	unsigned char r[16];

	randombytes_buf(r, sizeof(r));
	sodium_bin2base64(out, CSRF_COOKIE_LEN + 1, r, sizeof(r),
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

static int
csrf_mac(char out[32], const char *cookie, const char *ts)
{
	crypto_auth_hmacsha256_state st;
	unsigned char mac[crypto_auth_hmacsha256_BYTES];

	if (!csrf_have_secret)
		return -1;
	crypto_auth_hmacsha256_init(&st, csrf_secret, sizeof(csrf_secret));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)cookie, strlen(cookie));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)"|", 1);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)ts, strlen(ts));
	crypto_auth_hmacsha256_final(&st, mac);
	sodium_bin2base64(out, 32, mac, MAC_BYTES, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	return 0;
}

int
csrf_token(char out[CSRF_TOKEN_LEN], const char *cookie, time_t now)
{
	char ts[24], mac[32];

	snprintf(ts, sizeof(ts), "%llx", (unsigned long long)now);
	if (csrf_mac(mac, cookie, ts) == -1)
		return -1;
	snprintf(out, CSRF_TOKEN_LEN, "%s.%s", ts, mac);
	return 0;
}

int
csrf_check(const char *token, const char *cookie, time_t now)
{
	char ts[24], mac[32];
	const char *dot;
	unsigned long long t;
	char *end;
	size_t tlen;

	if (token == NULL || cookie == NULL || strlen(cookie) != CSRF_COOKIE_LEN ||
	    (dot = strchr(token, '.')) == NULL || (tlen = (size_t)(dot - token)) == 0 ||
	    tlen >= sizeof(ts))
		return 0;
	memcpy(ts, token, tlen);
	ts[tlen] = '\0';
	t = strtoull(ts, &end, 16);
	if (*end != '\0' || (time_t)t > now + 300 || now - (time_t)t > CSRF_MAX_AGE)
		return 0;
	if (csrf_mac(mac, cookie, ts) == -1 || strlen(dot + 1) != strlen(mac))
		return 0;
	return sodium_memcmp(mac, dot + 1, strlen(mac)) == 0;
}
