/*
 * hall-admin: the commands kept in files of their own beside hall_admin.c (main, the
 * store's set-up). Prototypes are grouped under the file that defines them.
 */
#ifndef HALL_ADMIN_H
#define HALL_ADMIN_H

#include "store.h"

/* ---- agent/hall-admin/check.c ------------------------------------------------------- */
/* hall-admin -c FILE check: every mistake of FILE on stderr, a summary on stdout; returns
 * the exit code (CONFIG_CHECK_OK, _ERRORS, _UNREADABLE). */
int check_main(const char *path);

/* ---- agent/hall-admin/backup.c ------------------------------------------------------ */
/* hall-admin backup DEST: a consistent copy of the live store. 0, or -1 (said why). */
int cmd_backup(const struct hall_config *, int argc, char *argv[]);
/* hall-admin restore BACKUP: the backup in the store's place, programs stopped. */
int cmd_restore(const struct hall_config *, int argc, char *argv[]);

/* ---- agent/hall-admin/staff.c ------------------------------------------------------- */
/* hall-admin staff add|passwd|disable|enable NAME, staff list: the window's accounts.
 * argv[0] is "staff". 0, -1 (said why), -2 (a bad command line: usage). */
int cmd_staff(struct store *, int argc, char *argv[]);

#endif
