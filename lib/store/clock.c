/*
 * The clock guard. Record numbers follow the clock (write_group.c), so a clock that jumps
 * far ahead would hand out numbers from the future, and once it is put right the store
 * would refuse every number until the real time caught up with them: intake wedged for as
 * long as the jump. The hall therefore keeps a reference time and refuses to number
 * anything while its clock is more than a day past it.
 *
 * The reference (meta clock_ref: "UNIX_S BOOT_ID BOOTTIME_S") is the county's own clock,
 * noted by hall-agent at each county contact together with this boot's id and the
 * CLOCK_BOOTTIME reading at that moment. While the machine has not restarted, the real
 * time is the county's time plus the boot time elapsed since, so a hall offline for weeks
 * keeps its full intake as long as its clock runs true. After a restart the elapsed time
 * is unknown, and the rule is the plain one: at most a day past the last county contact.
 * An operator who has checked the clock says so with `hall-admin clock --trust-now`.
 *
 * The way out of a sequence already wedged (numbers issued from the future, the clock put
 * right since): `hall-admin clock --continue` notes the last number issued (meta
 * seq_continue_until); until the clock passes it, numbers go on from it one microsecond at
 * a time instead of being refused. No number is ever issued twice either way.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store_int.h"

#define CLOCK_AHEAD_MAX_S (24 * 3600)

static char boot[40];
static pthread_once_t boot_once = PTHREAD_ONCE_INIT;

/* Read once per process: the write path checks the clock at every commit group. */
static void
boot_read(void)
{
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");

	if (f == NULL)
		return;
	if (fgets(boot, sizeof(boot), f) == NULL)
		boot[0] = '\0';
	boot[strcspn(boot, "\n")] = '\0';
	fclose(f);
}

/* This boot's id (36 characters) into out; "" when the kernel does not say. */
static void
boot_id(char out[40])
{
	pthread_once(&boot_once, boot_read);
	memcpy(out, boot, sizeof(boot));
}

static int64_t
boottime_s(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_BOOTTIME, &ts) == -1)
		return -1;
	return (int64_t)ts.tv_sec;
}

/* meta clock_ref = ref_s with this boot's id and boot time; inside a write transaction. */
static int
clock_ref_set(struct store *s, int64_t ref_s)
{
	char id[40], text[96];

	boot_id(id);
	snprintf(text, sizeof(text), "%" PRId64 " %s %" PRId64, ref_s, id[0] ? id : "-",
	    boottime_s());
	return store_meta_set(s, "clock_ref", text);
}

/*
 * The latest time the hall can vouch for, in Unix seconds: 0 when it has no reference.
 * *same_boot says whether the elapsed boot time was added.
 */
static int64_t
clock_vouched(struct store *s, int *same_boot)
{
	char text[96], ref_boot[40], id[40];
	long long ref_s, ref_boottime;
	int64_t now_boot;

	*same_boot = 0;
	if (store_meta(s, "clock_ref", text, sizeof(text)) != 1 ||
	    sscanf(text, "%lld %39s %lld", &ref_s, ref_boot, &ref_boottime) != 3)
		return 0;
	boot_id(id);
	now_boot = boottime_s();
	if (id[0] != '\0' && strcmp(id, ref_boot) == 0 && now_boot >= ref_boottime) {
		*same_boot = 1;
		return ref_s + (now_boot - ref_boottime);
	}
	return ref_s;
}

enum store_rc
clock_check(struct store *s, uint64_t now_us)
{
	int64_t now_s = (int64_t)(now_us / 1000000), vouched;
	int same_boot;

	if ((vouched = clock_vouched(s, &same_boot)) == 0 || now_s <= vouched + CLOCK_AHEAD_MAX_S)
		return STORE_OK;
	log_warnx("the clock is %" PRId64 " hours ahead of the time the hall can vouch for (the "
		  "county's clock at its last contact%s): refusing to issue case numbers. Set the "
		  "clock right; if it is right, run `hall-admin clock --trust-now`",
	    (now_s - vouched) / 3600, same_boot ? ", plus the time since" : ", before a restart");
	return STORE_CLOCK;
}

int
clock_continue_until(struct store *s, uint64_t *until)
{
	char text[32];
	int rc;

	*until = 0;
	if ((rc = store_meta(s, "seq_continue_until", text, sizeof(text))) == 1)
		*until = strtoull(text, NULL, 10);
	return rc == -1 ? -1 : 0;
}

/* One short write transaction around f. */
static int
clock_write(struct store *s, int (*f)(struct store *, int64_t), int64_t arg)
{
	if (store_begin_write(s) == -1)
		return -1;
	if (f(s, arg) == -1 || store_commit(s) == -1) {
		store_rollback(s);
		return -1;
	}
	return 0;
}

int
store_clock_note(struct store *s, time_t county_now)
{
	return clock_write(s, clock_ref_set, (int64_t)county_now);
}

int
store_clock_trust(struct store *s)
{
	return clock_write(s, clock_ref_set, (int64_t)time(NULL));
}

static int
continue_set(struct store *s, int64_t unused)
{
	char text[32];
	int rc;

	(void)unused;
	if ((rc = store_meta(s, "last_seq", text, sizeof(text))) == -1)
		return -1;
	return store_meta_set(s, "seq_continue_until", rc == 1 ? text : "0");
}

int
store_clock_continue(struct store *s)
{
	return clock_write(s, continue_set, 0);
}

int
store_clock_state(struct store *s, struct clock_state *st)
{
	char text[32];
	uint64_t until;
	int rc;

	memset(st, 0, sizeof(*st));
	if (store_begin_read(s) == -1)
		return -1;
	st->now = time(NULL);
	st->vouched = (time_t)clock_vouched(s, &st->same_boot);
	if ((rc = store_meta(s, "last_seq", text, sizeof(text))) == 1)
		st->last_issued = (time_t)((strtoull(text, NULL, 10) + CASENO_EPOCH_US) / 1000000);
	if (rc != -1 && (rc = clock_continue_until(s, &until)) == 0 && until > 0)
		st->continue_until = (time_t)((until + CASENO_EPOCH_US) / 1000000);
	store_rollback(s);
	return rc == -1 ? -1 : 0;
}
