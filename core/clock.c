/* clock.c — wall clock with a test offset (clock.h). */
#include "core/clock.h"

#include <stdatomic.h>
#include <time.h>

static _Atomic int64_t offset_s;

int64_t km_clock_now(void)
{
	return (int64_t)time(NULL) + atomic_load(&offset_s);
}

int64_t km_clock_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + atomic_load(&offset_s) * 1000;
}

void km_clock_advance(int64_t seconds)
{
	atomic_fetch_add(&offset_s, seconds);
}

int64_t km_clock_offset(void)
{
	return atomic_load(&offset_s);
}
