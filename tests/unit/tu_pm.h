/*
 * tu_pm: the fixture shared by the broker data-plane unit tests
 * (test_partition, test_idempotence). It owns a temp log directory, a
 * private libev loop and the partition manager of broker 1 over them
 * (g_*), opened by tu_pm_setup and removed by tu_pm_teardown, plus the
 * helpers that host a replica in it. Replies are captured by the br_call
 * double of tu_call.c.
 */
#ifndef TU_PM_H
#define TU_PM_H

#include <ev.h>
#include <stddef.h>
#include <stdint.h>

#include "partition/br_pm.h"
#include "storage/sl_log.h"
#include "storage/sl_logdir.h"

extern char *g_dir;
extern sl_logdir_t *g_ld;
extern struct ev_loop *g_loop;
extern br_pm_t *g_pm;
extern sl_log_config_t g_cfg;   /* the log config of hosted replicas */
extern br_pm_limits_t g_limits; /* the manager's limits (set before fixture_open) */

/* Wall-clock milliseconds. */
int64_t now_ms(void);
/* Temp dir named after the test, loop, default config and limits, then
 * fixture_open(). CUnit suite setup. */
void tu_pm_setup(const char *name);
/* fixture_close() if open, then the loop and the temp dir go. */
void tu_pm_teardown(void);
/* Open the log directory and the manager over it (a broker start). */
void fixture_open(void);
/* Free the manager and close the directory cleanly (a broker stop). */
void fixture_close(void);
/* Host topic/partition with replicas {1,2,3}, the given leader, epoch and ISR. */
void host(const char *topic, int32_t partition, int32_t leader, int32_t epoch, const int32_t *isr,
          size_t n_isr);
/* Host it with broker 1 as the only in-sync leader. */
void host_leader(const char *topic, int32_t partition, int32_t epoch);

#endif
