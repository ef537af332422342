/*
 * st_clock: the tree's one clock. Wall time (CLOCK_REALTIME) is for
 * timestamps that leave the process or must survive a restart: record
 * timestamps, retention, znode payloads, logs. Monotonic time
 * (CLOCK_MONOTONIC, which keeps counting while the process is stopped) is
 * for everything that measures an interval: timeouts, back-offs, fencing,
 * latencies. Any thread.
 */
#ifndef ST_CLOCK_H
#define ST_CLOCK_H

#include <stdint.h>

/* Milliseconds since the epoch. */
int64_t st_wall_ms(void);
/* Monotonic milliseconds, microseconds and nanoseconds (arbitrary origin). */
int64_t st_mono_ms(void);
int64_t st_mono_us(void);
int64_t st_mono_ns(void);

#endif
