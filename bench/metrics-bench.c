/*
 * metrics-bench: core-loop cost of one /metrics rendering (br_metrics)
 * over a partition manager hosting N partitions (default 10000, RF 3,
 * 100 topics, every third led here with a shrunken ISR), with and without
 * per-partition families. Prints the median and worst of R renderings
 * (default 20) and the page size.
 *
 *   build/bench/metrics-bench [N [R]]
 */
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "broker/br_config.h"
#include "broker/br_core.h"
#include "broker/br_metrics.h"
#include "common/st_clock.h"
#include "common/st_log.h"
#include "partition/br_pm.h"
#include "storage/sl_logdir.h"

static int bench_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void bench_run(br_core_t *core, br_metrics_t *m, int rounds, const char *what)
{
    double *t = calloc((size_t)rounds, sizeof *t);
    st_mw_t w;
    st_mw_init(&w);
    for (int r = 0; r < rounds; r++) {
        st_mw_reset(&w);
        int64_t t0 = st_mono_ns();
        br_metrics_render(core, m, &w);
        t[r] = (double)(st_mono_ns() - t0) / 1e6;
    }
    qsort(t, (size_t)rounds, sizeof *t, bench_cmp);
    printf("%-28s median %8.2f ms  max %8.2f ms  page %zu bytes\n", what, t[rounds / 2], t[rounds - 1],
           w.len);
    st_mw_free(&w);
    free(t);
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 10000, rounds = argc > 2 ? atoi(argv[2]) : 20;
    if (n <= 0 || rounds <= 0) {
        fprintf(stderr, "usage: metrics-bench [PARTITIONS [ROUNDS]]\n");
        return 2;
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        /* three open files per partition: ask for enough, else take the hard limit */
        struct rlimit want = {.rlim_cur = (rlim_t)n * 3 + 256, .rlim_max = (rlim_t)n * 3 + 256};
        if (want.rlim_max < rl.rlim_max)
            want.rlim_max = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &want) != 0) {
            rl.rlim_cur = rl.rlim_max;
            setrlimit(RLIMIT_NOFILE, &rl);
        }
    }
    st_log_set_level(ST_LOG_WARN);
    char dir[] = "/tmp/metrics-bench.XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    sl_logdir_t *ld = NULL;
    if (sl_logdir_open(dir, &ld) != ST_OK) {
        fprintf(stderr, "cannot open %s\n", dir);
        return 1;
    }
    br_config_t conf;
    br_config_init(&conf);
    conf.metrics_partition_level = true;
    br_pm_limits_t limits = {
        .message_max_bytes = 1048588, .fetch_max_bytes = 57671680, .max_wait_ms_cap = 30000};
    br_core_t core;
    memset(&core, 0, sizeof core);
    core.loop = loop;
    core.conf = &conf;
    core.broker_id = 1;
    core.log_dirs = &ld;
    core.n_log_dirs = 1;
    core.pm = br_pm_new(loop, 1, &ld, 1, &limits);
    sl_log_config_t cfg;
    sl_log_config_default(&cfg);
    int32_t replicas[] = {1, 2, 3}, isr[] = {1, 2};
    int64_t t0 = st_mono_ms();
    for (int i = 0; i < n; i++) {
        char topic[32];
        snprintf(topic, sizeof topic, "topic-%03d", i % 100);
        br_part_state_t st = {.leader = i % 3 == 0 ? 1 : 2,
                              .leader_epoch = 1,
                              .replicas = replicas,
                              .n_replicas = 3,
                              .isr = isr,
                              .n_isr = 2};
        if (br_pm_apply_state(core.pm, topic, i / 100, &st, &cfg) != ST_OK) {
            fprintf(stderr, "cannot host partition %d (3 open files each: raise ulimit -n)\n", i);
            n = -1;
            break;
        }
    }
    if (n < 0)
        goto out;
    printf("hosted %d partitions in %lld ms\n", n, (long long)(st_mono_ms() - t0));
    br_metrics_t *m = br_metrics_new(&core);
    bench_run(&core, m, rounds, "metrics.partition.level=true");
    conf.metrics_partition_level = false;
    bench_run(&core, m, rounds, "metrics.partition.level=false");
    br_metrics_free(m);
out:
    br_pm_free(core.pm, true);
    sl_logdir_close(ld, true);
    br_config_free(&conf);
    ev_loop_destroy(loop);
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 && n > 0 ? 0 : 1;
}
