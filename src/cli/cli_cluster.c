/*
 * cli_cluster: cluster overview (see cli_cluster.h).
 */
#include "cli/cli_cluster.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli_health.h"
#include "cli/cli_util.h"
#include "client/strata.h"

static const char cli_cluster_help[] =
    "usage: strata cluster describe\n"
    "       strata cluster health [--watch [--interval S]]\n"
    "describe prints the cluster id, the brokers, the controller, and the offline and\n"
    "under-replicated partitions. health prints one screen (brokers, controller,\n"
    "partition health counts, the most lagging groups) and exits 3 when a partition\n"
    "is offline or under-replicated or no controller is active; --watch redraws it\n"
    "every S seconds (default 2) until interrupted.\n"
    "options:\n"
    "      --timeout-ms MS   how long to wait (default 30000)\n"
    "      --watch           health: redraw until interrupted\n"
    "      --interval S      health --watch: seconds between screens (default 2)\n" CLI_GLOBAL_HELP;

enum {
    OPT_TIMEOUT = 2000,
    OPT_WATCH,
    OPT_INTERVAL,
};

int cli_cluster_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"timeout-ms", required_argument, NULL, OPT_TIMEOUT},
        {"watch", no_argument, NULL, OPT_WATCH},
        {"interval", required_argument, NULL, OPT_INTERVAL},
        CLI_GLOBAL_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    int64_t timeout = 30000, interval = 2;
    bool watch = false;
    int c;
    optind = 0; /* 0: full reset of GNU getopt (main already used it) */
    while ((c = getopt_long(argc, argv, CLI_GLOBAL_SHORTOPTS, longopts, NULL)) != -1) {
        switch (c) {
        case OPT_TIMEOUT:
            if (!cli_parse_i64(optarg, &timeout) || timeout < 0 || timeout > INT32_MAX)
                return cli_usage_err("cluster", "--timeout-ms: bad value '%s'", optarg);
            break;
        case OPT_WATCH:
            watch = true;
            break;
        case OPT_INTERVAL:
            if (!cli_parse_i64(optarg, &interval) || interval < 1 || interval > 3600)
                return cli_usage_err("cluster", "--interval: bad value '%s'", optarg);
            break;
        case 'h':
            fputs(cli_cluster_help, stdout);
            return CLI_EXIT_OK;
        default:
            if (!cli_global_opt(c, optarg))
                return cli_usage_err("cluster", "bad option");
        }
    }
    bool health = optind < argc && strcmp(argv[optind], "health") == 0;
    if (optind >= argc || (!health && strcmp(argv[optind], "describe") != 0))
        return cli_usage_err("cluster", "expected 'describe' or 'health'");
    if (optind + 1 < argc)
        return cli_usage_err("cluster", "unexpected argument '%s'", argv[optind + 1]);
    if (watch && !health)
        return cli_usage_err("cluster", "--watch is for 'health'");
    if (health)
        return cli_health_run(timeout, watch, (int)interval);

    strata_conf_t *conf = cli_conf();
    if (conf == NULL)
        return CLI_EXIT_ERROR;
    char err[256];
    strata_admin_t *a = strata_admin_new(conf, err, sizeof err);
    strata_conf_free(conf);
    if (a == NULL) {
        cli_err("%s", err);
        return CLI_EXIT_ERROR;
    }
    strata_metadata_t *md;
    strata_err_t e = strata_admin_metadata(a, NULL, 0, (int)timeout, &md);
    if (e != STRATA_OK) {
        cli_err_call("cannot read cluster metadata", e);
        strata_admin_free(a);
        return CLI_EXIT_ERROR;
    }
    json_t *root = cli_g.json ? json_object() : NULL;
    json_t *jb = root ? json_array() : NULL, *jo = root ? json_array() : NULL,
           *ju = root ? json_array() : NULL;
    if (root) {
        json_object_set_new(root, "cluster_id", json_string(md->cluster_id ? md->cluster_id : ""));
        json_object_set_new(root, "controller", json_integer(md->controller_id));
    } else {
        printf("Cluster: %s\nController: %d\nBrokers:\n", md->cluster_id ? md->cluster_id : "",
               md->controller_id);
    }
    for (size_t i = 0; i < md->n_brokers; i++) {
        const strata_broker_info_t *b = &md->brokers[i];
        if (root) {
            json_t *o = json_object();
            json_object_set_new(o, "id", json_integer(b->id));
            json_object_set_new(o, "host", json_string(b->host ? b->host : ""));
            json_object_set_new(o, "port", json_integer(b->port));
            json_object_set_new(o, "url", json_string(b->url ? b->url : ""));
            json_object_set_new(o, "rack", json_string(b->rack ? b->rack : ""));
            json_array_append_new(jb, o);
        } else {
            printf("  %d\t%s%s%s%s\n", b->id, b->url ? b->url : "", b->rack && b->rack[0] ? "\track=" : "",
                   b->rack ? b->rack : "", b->id == md->controller_id ? "\t(controller)" : "");
        }
    }
    size_t n_off = 0, n_under = 0;
    for (int pass = 0; pass < 2; pass++) {
        if (!root)
            printf("%s partitions:\n", pass == 0 ? "Offline" : "Under-replicated");
        for (size_t i = 0; i < md->n_topics; i++) {
            const strata_topic_info_t *t = &md->topics[i];
            for (size_t k = 0; k < t->n_partitions; k++) {
                const strata_partition_info_t *p = &t->partitions[k];
                bool hit = pass == 0 ? strata_partition_offline(p)
                                     : !strata_partition_offline(p) && strata_partition_under_replicated(p);
                if (!hit)
                    continue;
                if (pass == 0)
                    n_off++;
                else
                    n_under++;
                if (root) {
                    json_t *o = json_object();
                    json_object_set_new(o, "topic", json_string(t->name));
                    json_object_set_new(o, "partition", json_integer(p->id));
                    json_object_set_new(o, "leader", json_integer(p->leader));
                    json_object_set_new(o, "replicas", json_integer((json_int_t)p->n_replicas));
                    json_object_set_new(o, "isr", json_integer((json_int_t)p->n_isr));
                    json_array_append_new(pass == 0 ? jo : ju, o);
                } else {
                    printf("  %s [%d]\tleader %d\treplicas %zu\tisr %zu\n", t->name, p->id, p->leader,
                           p->n_replicas, p->n_isr);
                }
            }
        }
        if (!root && (pass == 0 ? n_off : n_under) == 0)
            printf("  (none)\n");
    }
    if (root) {
        json_object_set_new(root, "brokers", jb);
        json_object_set_new(root, "offline_partitions", jo);
        json_object_set_new(root, "under_replicated_partitions", ju);
        json_dumpf(root, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
        putchar('\n');
        json_decref(root);
    }
    strata_metadata_free(md);
    strata_admin_free(a);
    return CLI_EXIT_OK;
}
