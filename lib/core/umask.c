/*
 * The hall node's programs share one store among three users of group `hall` (hall-read,
 * hall-write, hall-agent): the units set UMask=0007, so that what one creates (the store,
 * its -wal and -shm, the limits file) the others of the group can use. The demo and a
 * shell run with umask 077 and keep everything the owner's alone. Whatever the caller
 * chose for the group, others never get anything.
 */
#include <sys/stat.h>

#include "core.h"

void
umask_group(void)
{
	mode_t old = umask(077);

	umask(old | 007);
}
