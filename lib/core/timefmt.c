/* Time as citizens and the API see it: always Asia/Shanghai (+08:00), never the host's TZ. */
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#include "core.h"

static char *
two(char *p, int v)
{
	p[0] = (char)('0' + v / 10 % 10);
	p[1] = (char)('0' + v % 10);
	return p + 2;
}

/* Hand-formatted: it runs several times per lookup, and strftime is a large share of one. */
void
timefmt_rfc3339(char out[TIMEFMT_LEN], time_t t)
{
	struct tm tm;
	time_t local = t + HALL_TZ_OFFSET;
	int y;
	char *p = out;

	gmtime_r(&local, &tm);
	y = tm.tm_year + 1900;
	p = two(p, y / 100);
	p = two(p, y % 100);
	*p++ = '-';
	p = two(p, tm.tm_mon + 1);
	*p++ = '-';
	p = two(p, tm.tm_mday);
	*p++ = 'T';
	p = two(p, tm.tm_hour);
	*p++ = ':';
	p = two(p, tm.tm_min);
	*p++ = ':';
	p = two(p, tm.tm_sec);
	memcpy(p, "+08:00", 7);
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
