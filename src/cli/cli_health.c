/*
 * cli_health: the cluster health screen (see cli_health.h).
 */
#include "cli/cli_health.h"

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli_util.h"
#include "client/strata.h"

#define CLI_HEALTH_TOP_GROUPS 5
#define CLI_HEALTH_MAX_GROUPS 200

typedef struct cli_health_lag {
    char *group;
    int64_t lag;
    size_t partitions;
} cli_health_lag_t;

static volatile sig_atomic_t cli_health_stop;

static void cli_health_sigint(int sig)
{
    (void)sig;
    cli_health_stop = 1;
}

static int cli_health_lag_cmp(const void *a, const void *b)
{
    const cli_health_lag_t *x = a, *y = b;
    return (y->lag > x->lag) - (y->lag < x->lag);
}

/* Total lag of every group (at most CLI_HEALTH_MAX_GROUPS): committed
 * offsets against the high watermark of each committed partition. */
static size_t cli_health_lags(strata_admin_t *a, strata_consumer_t *c, int tmo, cli_health_lag_t **out)
{
    strata_group_listing_t *l = NULL;
    size_t n = 0, k = 0;
    *out = NULL;
    if (strata_admin_list_groups(a, tmo, &l, &n) != STRATA_OK)
        return 0;
    cli_health_lag_t *v = calloc(n ? n : 1, sizeof *v);
    for (size_t i = 0; v && i < n && i < CLI_HEALTH_MAX_GROUPS; i++) {
        strata_commit_t *offs = NULL;
        size_t no = 0;
        if (strata_admin_list_group_offsets(a, l[i].group_id, tmo, &offs, &no) != STRATA_OK)
            continue;
        int64_t lag = 0;
        for (size_t o = 0; o < no; o++) {
            int64_t hw = -1;
            if (offs[o].offset >= 0 &&
                strata_consumer_query_watermarks(c, offs[o].topic, offs[o].partition, NULL, &hw, tmo) ==
                    STRATA_OK &&
                hw > offs[o].offset)
                lag += hw - offs[o].offset;
        }
        v[k].group = strdup(l[i].group_id);
        v[k].lag = lag;
        v[k].partitions = no;
        if (v[k].group)
            k++;
        strata_commit_list_free(offs, no);
    }
    strata_group_listing_free(l, n);
    if (k > 1)
        qsort(v, k, sizeof *v, cli_health_lag_cmp);
    *out = v;
    return k;
}

/* One check, printed; returns the exit status. */
static int cli_health_once(strata_admin_t *a, strata_consumer_t *c, int tmo, bool watch)
{
    strata_metadata_t *md;
    strata_err_t e = strata_admin_metadata(a, NULL, 0, tmo, &md);
    if (e != STRATA_OK) {
        cli_err_call("cannot read cluster metadata", e);
        return CLI_EXIT_ERROR;
    }
    size_t n_off = 0, n_under = 0, n_parts = 0;
    for (size_t i = 0; i < md->n_topics; i++)
        for (size_t k = 0; k < md->topics[i].n_partitions; k++) {
            const strata_partition_info_t *p = &md->topics[i].partitions[k];
            n_parts++;
            if (strata_partition_offline(p))
                n_off++;
            else if (strata_partition_under_replicated(p))
                n_under++;
        }
    bool controller = md->controller_id >= 0;
    bool healthy = controller && n_off == 0 && n_under == 0;
    cli_health_lag_t *lags = NULL;
    size_t n_lags = cli_health_lags(a, c, tmo, &lags);
    if (cli_g.json) {
        json_t *root = json_object(), *jb = json_array(), *jl = json_array();
        json_object_set_new(root, "healthy", json_boolean(healthy));
        json_object_set_new(root, "cluster_id", json_string(md->cluster_id ? md->cluster_id : ""));
        json_object_set_new(root, "controller", json_integer(md->controller_id));
        for (size_t i = 0; i < md->n_brokers; i++)
            json_array_append_new(jb, json_pack("{s:i,s:s}", "id", (int)md->brokers[i].id, "url",
                                                md->brokers[i].url ? md->brokers[i].url : ""));
        json_object_set_new(root, "brokers", jb);
        json_object_set_new(root, "partitions", json_integer((json_int_t)n_parts));
        json_object_set_new(root, "offline", json_integer((json_int_t)n_off));
        json_object_set_new(root, "under_replicated", json_integer((json_int_t)n_under));
        for (size_t i = 0; i < n_lags && i < CLI_HEALTH_TOP_GROUPS; i++)
            json_array_append_new(jl, json_pack("{s:s,s:I,s:I}", "group", lags[i].group, "lag",
                                                (json_int_t)lags[i].lag, "partitions",
                                                (json_int_t)lags[i].partitions));
        json_object_set_new(root, "top_lagging_groups", jl);
        json_dumpf(root, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
        putchar('\n');
        json_decref(root);
    } else {
        if (watch)
            fputs("\033[H\033[2J", stdout);
        printf("Cluster %s: %s\n", md->cluster_id ? md->cluster_id : "", healthy ? "HEALTHY" : "UNHEALTHY");
        if (controller)
            printf("Controller: %d\n", md->controller_id);
        else
            printf("Controller: NONE ACTIVE\n");
        printf("Brokers (%zu):", md->n_brokers);
        for (size_t i = 0; i < md->n_brokers; i++)
            printf(" %d%s", md->brokers[i].id, md->brokers[i].id == md->controller_id ? "*" : "");
        printf("\nPartitions: %zu  offline %zu  under-replicated %zu  healthy %zu\n", n_parts, n_off, n_under,
               n_parts - n_off - n_under);
        printf("Top lagging groups:%s\n", n_lags ? "" : " (none)");
        for (size_t i = 0; i < n_lags && i < CLI_HEALTH_TOP_GROUPS; i++)
            printf("  %-32s lag %-12lld partitions %zu\n", lags[i].group, (long long)lags[i].lag,
                   lags[i].partitions);
    }
    fflush(stdout);
    for (size_t i = 0; i < n_lags; i++)
        free(lags[i].group);
    free(lags);
    strata_metadata_free(md);
    return healthy ? CLI_EXIT_OK : CLI_HEALTH_UNHEALTHY;
}

int cli_health_run(int64_t timeout_ms, bool watch, int interval_s)
{
    strata_conf_t *conf = cli_conf();
    if (conf == NULL)
        return CLI_EXIT_ERROR;
    char err[256];
    strata_admin_t *a = strata_admin_new(conf, err, sizeof err);
    strata_consumer_t *c = a ? strata_consumer_new(conf, err, sizeof err) : NULL;
    strata_conf_free(conf);
    if (a == NULL || c == NULL) {
        cli_err("%s", err);
        if (a)
            strata_admin_free(a);
        return CLI_EXIT_ERROR;
    }
    int rc;
    if (watch) {
        signal(SIGINT, cli_health_sigint);
        signal(SIGTERM, cli_health_sigint);
    }
    do {
        rc = cli_health_once(a, c, (int)timeout_ms, watch);
        for (int s = 0; watch && !cli_health_stop && s < interval_s * 10; s++)
            usleep(100000);
    } while (watch && !cli_health_stop);
    strata_consumer_close(c);
    strata_admin_free(a);
    return rc;
}
