/*
 * hall-admin staff: the hall's window accounts (SPEC 4.4), kept in the hall store
 * (sql/hall/006_window.sql) so that the window signs in with the county link down.
 *
 *   staff add NAME [--password-file FILE]      a new account
 *   staff passwd NAME [--password-file FILE]   a new password (lifts a lockout, ends the
 *                                              account's sessions)
 *   staff disable NAME | enable NAME           no more sign-ins (sessions end) / again
 *   staff list                                 every account and its state
 *
 * A password comes from the first line of FILE, or from standard input: asked twice
 * without echo on a terminal, else its first line. It is hashed here (Argon2id,
 * fcgi/web/signin.c, the county console's rule: 8 to 128 bytes) and never stored or shown.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <sodium.h>

#include "admin.h"
#include "web.h"

#define PW_LINE 512

/* One line of standard input into line (without its newline); -1 at end of input. */
static int
read_line(char line[PW_LINE])
{
	if (fgets(line, PW_LINE, stdin) == NULL)
		return -1;
	line[strcspn(line, "\r\n")] = '\0';
	return 0;
}

/* A line typed at the terminal without echo. */
static int
prompt_hidden(const char *prompt, char line[PW_LINE])
{
	struct termios old, quiet;
	int rc;

	fputs(prompt, stderr);
	fflush(stderr);
	if (tcgetattr(STDIN_FILENO, &old) == -1)
		return read_line(line);
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	rc = read_line(line);
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
	fputc('\n', stderr);
	return rc;
}

/* The password: FILE's first line, or standard input's. Owned by the caller (zero it). */
static char *
password_get(const char *file)
{
	char line[PW_LINE], again[PW_LINE];
	char *pw = NULL;

	if (file != NULL)
		return secret_read(file);
	if (isatty(STDIN_FILENO)) {
		if (prompt_hidden("password: ", line) == 0 &&
		    prompt_hidden("again: ", again) == 0) {
			if (strcmp(line, again) == 0)
				pw = strdup(line);
			else
				fprintf(stderr, "hall-admin: the two passwords differ\n");
		}
		sodium_memzero(again, sizeof(again));
	} else if (read_line(line) == 0)
		pw = strdup(line);
	else
		fprintf(stderr, "hall-admin: no password on standard input\n");
	sodium_memzero(line, sizeof(line));
	return pw;
}

/* The password's hash, after the password rule; -1 said why. */
static int
password_hash(const char *file, char hash[SIGNIN_HASH_LEN])
{
	const char *problem;
	char *pw;
	int rc = -1;

	if ((pw = password_get(file)) == NULL)
		return -1;
	if ((problem = signin_password_problem(pw)) != NULL)
		fprintf(stderr, "hall-admin: %s\n", problem);
	else if (signin_hash(hash, pw) == 0)
		rc = 0;
	sodium_memzero(pw, strlen(pw));
	free(pw);
	return rc;
}

/* What went wrong with a change to name's account, said to the operator. */
static int
staff_failed(enum store_rc rc, const char *name)
{
	if (rc == STORE_NOT_FOUND)
		fprintf(stderr, "hall-admin: there is no window account %s (staff list shows them)\n",
		    name);
	else if (rc == STORE_CONFLICT)
		fprintf(stderr, "hall-admin: the window account %s exists already; staff passwd "
				"%s gives it a new password\n", name, name);
	else
		fprintf(stderr, "hall-admin: nothing was changed (is the store migrated? hall-admin "
				"migrate)\n");
	return -1;
}

static void
time_or_dash(char out[TIMEFMT_LEN], time_t t)
{
	if (t == 0)
		snprintf(out, TIMEFMT_LEN, "-");
	else
		timefmt_rfc3339(out, t);
}

static int
list_row(const struct window_account *a, void *arg)
{
	char last[TIMEFMT_LEN], made[TIMEFMT_LEN], until[TIMEFMT_LEN], state[64];
	time_t now = *(const time_t *)arg;

	time_or_dash(last, a->last_login_at);
	time_or_dash(made, a->created_at);
	if (a->disabled)
		snprintf(state, sizeof(state), "disabled");
	else if (a->locked_until > now) {
		timefmt_rfc3339(until, a->locked_until);
		snprintf(state, sizeof(state), "locked until %s", until);
	} else
		snprintf(state, sizeof(state), "active");
	printf("%-32s %-25s %-25s %s\n", a->name, made, last, state);
	return 0;
}

static int
staff_list(struct store *s)
{
	time_t now = time(NULL);

	printf("%-32s %-25s %-25s %s\n", "NAME", "CREATED", "LAST SIGN-IN", "STATE");
	if (store_window_list(s, list_row, &now) == -1)
		return staff_failed(STORE_ERR, "");
	return 0;
}

int
cmd_staff(struct store *s, int argc, char *argv[])
{
	char hash[SIGNIN_HASH_LEN];
	const char *verb, *name, *file = NULL;
	enum store_rc rc;

	if (argc == 2 && strcmp(argv[1], "list") == 0)
		return staff_list(s);
	if (argc != 3 && !(argc == 5 && strcmp(argv[3], "--password-file") == 0))
		return -2;
	verb = argv[1];
	name = argv[2];
	if (argc == 5)
		file = argv[4];
	if (!signin_name_ok(name)) {
		fprintf(stderr, "hall-admin: an account name is 1 to %d of A-Z a-z 0-9 _ . -\n",
		    SIGNIN_NAME_MAX);
		return -1;
	}
	if (strcmp(verb, "add") == 0 || strcmp(verb, "passwd") == 0) {
		if (password_hash(file, hash) == -1)
			return -1;
		rc = verb[0] == 'a' ? store_window_add(s, name, hash, time(NULL)) :
		    store_window_passwd(s, name, hash);
		sodium_memzero(hash, sizeof(hash));
		if (rc != STORE_OK)
			return staff_failed(rc, name);
		printf(verb[0] == 'a' ? "window account %s made: it signs in at /window/login\n" :
		    "window account %s has a new password; its sessions have ended\n", name);
		return 0;
	}
	if (file != NULL)
		return -2;
	if (strcmp(verb, "disable") == 0 || strcmp(verb, "enable") == 0) {
		if ((rc = store_window_disable(s, name, verb[0] == 'd')) != STORE_OK)
			return staff_failed(rc, name);
		printf(verb[0] == 'd' ? "window account %s disabled; its sessions have ended\n" :
		    "window account %s enabled\n", name);
		return 0;
	}
	return -2;
}
