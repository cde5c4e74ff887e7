/* Time as citizens and the API see it: always Asia/Shanghai (+08:00), never the host's TZ. */
#include <stdio.h>
#include <sys/time.h>

#include "hall.h"

void
timefmt_rfc3339(char out[TIMEFMT_LEN], time_t t)
{
	struct tm tm;
	time_t local = t + HALL_TZ_OFFSET;

	gmtime_r(&local, &tm);
	strftime(out, TIMEFMT_LEN, "%Y-%m-%dT%H:%M:%S+08:00", &tm);
}

void
timefmt_human(char out[64], time_t t)
{
	struct tm tm;
	time_t local = t + HALL_TZ_OFFSET;

	gmtime_r(&local, &tm);
	snprintf(out, 64, "%d年%d月%d日 %02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
	    tm.tm_hour, tm.tm_min);
}

uint64_t
time_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}
