/*
 * st_clock: clock_gettime behind the four readings of st_clock.h.
 */
#include "common/st_clock.h"

#include <time.h>

static int64_t st_clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t st_wall_ms(void)
{
    return st_clock_ns(CLOCK_REALTIME) / 1000000;
}

int64_t st_mono_ms(void)
{
    return st_clock_ns(CLOCK_MONOTONIC) / 1000000;
}

int64_t st_mono_us(void)
{
    return st_clock_ns(CLOCK_MONOTONIC) / 1000;
}

int64_t st_mono_ns(void)
{
    return st_clock_ns(CLOCK_MONOTONIC);
}
