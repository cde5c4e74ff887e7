/*
 * hall-admin's commands beside its main file.
 * Prototypes are grouped under the file that defines them.
 */
#ifndef HALL_ADMIN_H
#define HALL_ADMIN_H

/* ---- agent/hall-admin/check.c ------------------------------------------------------- */
/* hall-admin -c FILE check: every mistake of FILE on stderr, a summary on stdout; returns
 * the exit code (CONFIG_CHECK_OK, _ERRORS, _UNREADABLE). */
int check_main(const char *path);

#endif
