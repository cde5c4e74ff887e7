/*
 * The halls the receiver takes records from, one token each (issue 11): a request's bearer
 * token names one hall_code, and the receiver refuses any record of another hall from it,
 * so that one hall's token (leaked, or a copy-and-paste mistake) cannot write another hall's
 * records.
 *
 * The store keeps sha256(token), never the token: tokens are random (at least
 * HALLS_TOKEN_MIN bytes, the demo's carry 144 bits), so a fast hash is enough, and the
 * lookup by hash compares no secret byte by byte.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "province.h"

int
halls_code_valid(const char *s)
{
	return s != NULL && strlen(s) == 12 && strspn(s, "0123456789") == 12;
}

static void
token_hash(char out[65], const char *token, size_t n)
{
	unsigned char h[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(h, (const unsigned char *)token, n);
	sodium_bin2hex(out, 65, h, sizeof(h));
	sodium_memzero(h, sizeof(h));
}

int
halls_add(sqlite3 *db, const char *hall_code, const char *token_file)
{
	sqlite3_stmt *st = NULL;
	char *token, sha[65];
	size_t n;
	int rc = -1, step;

	if (!halls_code_valid(hall_code)) {
		fprintf(stderr, "%s: a hall code is 12 digits\n", hall_code);
		return -1;
	}
	if ((token = secret_read(token_file)) == NULL)
		return -1;	/* secret_read said why */
	n = strlen(token);
	if (n < HALLS_TOKEN_MIN || n > 256 || strspn(token, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		"abcdefghijklmnopqrstuvwxyz0123456789-._~+/=_") != n) {
		fprintf(stderr, "%s: a token is %d to 256 characters of a bearer token (RFC 6750 "
		    "2.1) on the first line\n", token_file, HALLS_TOKEN_MIN);
		goto done;
	}
	token_hash(sha, token, n);
	/* a new token for a hall replaces its old one; a token is never shared by two halls */
	if (sqlite3_prepare_v2(db, "INSERT INTO halls (hall_code, token_sha256, added_at) "
		"VALUES (?1, ?2, strftime('%s','now')) ON CONFLICT (hall_code) DO UPDATE SET "
		"token_sha256 = excluded.token_sha256, added_at = excluded.added_at", -1, &st,
		NULL) != SQLITE_OK)
		goto store_fail;
	sqlite3_bind_text(st, 1, hall_code, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, sha, -1, SQLITE_STATIC);
	step = sqlite3_step(st);
	if (step == SQLITE_CONSTRAINT) {
		fprintf(stderr, "%s: this token is another hall's already: each hall has its own\n",
		    token_file);
		goto done;
	}
	if (step != SQLITE_DONE)
		goto store_fail;
	rc = 0;
	goto done;
store_fail:
	fprintf(stderr, "store: %s\n", sqlite3_errmsg(db));
done:
	sqlite3_finalize(st);
	sodium_memzero(token, n);
	free(token);
	return rc;
}

int
halls_remove(sqlite3 *db, const char *hall_code)
{
	sqlite3_stmt *st = NULL;
	int rc = -1;

	if (sqlite3_prepare_v2(db, "DELETE FROM halls WHERE hall_code = ?1", -1, &st, NULL) ==
	    SQLITE_OK) {
		sqlite3_bind_text(st, 1, hall_code, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_DONE)
			rc = sqlite3_changes(db) > 0;
	}
	if (rc == -1)
		fprintf(stderr, "store: %s\n", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return rc;
}

int
halls_by_bearer(sqlite3 *db, const char *authorization, char hall_code[13])
{
	sqlite3_stmt *st = NULL;
	const char *token;
	char sha[65];
	int rc = -1, step;

	hall_code[0] = '\0';
	if (authorization == NULL || strncasecmp(authorization, "Bearer ", 7) != 0)
		return 0;
	token = authorization + 7;
	if (strlen(token) < HALLS_TOKEN_MIN || strlen(token) > 256)
		return 0;
	token_hash(sha, token, strlen(token));
	if (sqlite3_prepare_v2(db, "SELECT hall_code FROM halls WHERE token_sha256 = ?1", -1, &st,
		NULL) != SQLITE_OK)
		goto done;
	sqlite3_bind_text(st, 1, sha, -1, SQLITE_STATIC);
	step = sqlite3_step(st);
	if (step == SQLITE_ROW && halls_code_valid((const char *)sqlite3_column_text(st, 0))) {
		memcpy(hall_code, sqlite3_column_text(st, 0), 13);
		rc = 1;
	} else if (step == SQLITE_DONE || step == SQLITE_ROW)
		rc = 0;
done:
	if (rc == -1)
		log_warnx("store: %s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return rc;
}
