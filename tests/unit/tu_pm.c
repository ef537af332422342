/*
 * tu_pm: see tu_pm.h.
 */
#include "tu_pm.h"

#include <stdlib.h>
#include <time.h>

#include "tu.h"

char *g_dir;
sl_logdir_t *g_ld;
struct ev_loop *g_loop;
br_pm_t *g_pm;
sl_log_config_t g_cfg;
br_pm_limits_t g_limits;

int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void fixture_open(void)
{
    CU_ASSERT_FATAL(sl_logdir_open(g_dir, &g_ld) == ST_OK);
    g_pm = br_pm_new(g_loop, 1, &g_ld, 1, &g_limits);
    CU_ASSERT_FATAL(g_pm != NULL);
}

void fixture_close(void)
{
    br_pm_free(g_pm, true);
    g_pm = NULL;
    sl_logdir_close(g_ld, true);
    g_ld = NULL;
}

void tu_pm_setup(const char *name)
{
    g_dir = tu_tmpdir(name);
    g_loop = ev_loop_new(EVFLAG_AUTO);
    sl_log_config_default(&g_cfg);
    g_limits.message_max_bytes = 1048588;
    g_limits.fetch_max_bytes = 57671680;
    g_limits.max_wait_ms_cap = 30000;
    g_limits.log_message_timestamp_difference_max_ms = INT64_MAX;
    fixture_open();
}

void tu_pm_teardown(void)
{
    if (g_pm)
        fixture_close();
    ev_loop_destroy(g_loop);
    tu_rmrf(g_dir);
    free(g_dir);
}

void host(const char *topic, int32_t partition, int32_t leader, int32_t epoch, const int32_t *isr,
          size_t n_isr)
{
    int32_t replicas[] = {1, 2, 3};
    br_part_state_t st = {
        .leader = leader,
        .leader_epoch = epoch,
        .controller_epoch = 1,
        .replicas = replicas,
        .n_replicas = 3,
        .isr = isr,
        .n_isr = n_isr,
    };
    CU_ASSERT_FATAL(br_pm_apply_state(g_pm, topic, partition, &st, &g_cfg) == ST_OK);
}

void host_leader(const char *topic, int32_t partition, int32_t epoch)
{
    int32_t isr[] = {1};
    host(topic, partition, 1, epoch, isr, 1);
}
