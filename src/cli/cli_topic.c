/*
 * cli_topic: topic administration commands (see cli_topic.h).
 */
#include "cli/cli_topic.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_reassign.h"
#include "cli/cli_util.h"
#include "client/strata.h"

#define CLI_TOPIC_TIMEOUT_MS 30000

static const char cli_topic_help[] =
    "usage: strata topic create NAME [--partitions N] [--replication-factor N] [--config k=v]...\n"
    "       strata topic list\n"
    "       strata topic describe [NAME...]\n"
    "       strata topic alter NAME [--partitions N] [--config k=v]... [--delete-config k]...\n"
    "       strata topic delete NAME\n"
    "       strata topic elect-leaders [--type preferred|unclean] [--topic T [--partition P]]...\n"
    "       strata topic reassign --topic T --partition P --replicas 1,2,3 [...]\n"
    "       strata topic reassign --reassignment-json-file FILE [--cancel]\n"
    "       strata topic reassign --cancel --topic T --partition P\n"
    "       strata topic reassign --list [--topic T [--partition P]]\n"
    "options:\n"
    "  -p, --partitions N           partition count (create: default broker num.partitions;\n"
    "                               alter: the new, larger total)\n"
    "  -r, --replication-factor N   replicas per partition (default broker setting)\n"
    "  -c, --config KEY=VALUE       topic config (repeatable)\n"
    "  -d, --delete-config KEY      alter: drop an override (repeatable)\n"
    "      --timeout-ms MS          how long to wait (default 30000)\n"
    "      --topic T                elect-leaders/reassign: a topic (all its partitions unless\n"
    "                               --partition follows; repeatable)\n"
    "      --partition P            a partition of the last --topic (repeatable)\n"
    "      --replicas LIST          reassign: new replica list of the last --partition\n"
    "      --type TYPE              elect-leaders: preferred (default) or unclean\n"
    "      --reassignment-json-file FILE  Kafka's {\"version\":1,\"partitions\":[{\"topic\":..,\n"
    "                               \"partition\":..,\"replicas\":[..]}]} (- = stdin)\n"
    "      --list                   reassign: show reassignments in progress\n"
    "      --cancel                 reassign: cancel the given partitions' reassignments\n" CLI_GLOBAL_HELP;

enum {
    OPT_TIMEOUT = 2000
};

static strata_admin_t *cli_admin(void)
{
    strata_conf_t *conf = cli_conf();
    if (conf == NULL)
        return NULL;
    char err[256];
    strata_admin_t *a = strata_admin_new(conf, err, sizeof err);
    strata_conf_free(conf);
    if (a == NULL)
        cli_err("%s", err);
    return a;
}

static void cli_print_ids(const int32_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        printf("%s%d", i ? "," : "", v[i]);
}

static json_t *cli_json_ids(const int32_t *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_integer(v[i]));
    return a;
}

static int cli_topic_cmp(const void *a, const void *b)
{
    const strata_topic_info_t *x = *(const strata_topic_info_t *const *)a;
    const strata_topic_info_t *y = *(const strata_topic_info_t *const *)b;
    return strcmp(x->name, y->name);
}

static int cli_topic_list(strata_admin_t *a, int timeout_ms)
{
    strata_metadata_t *md;
    strata_err_t e = strata_admin_metadata(a, NULL, 0, timeout_ms, &md);
    if (e != STRATA_OK) {
        cli_err_call("cannot list topics", e);
        return CLI_EXIT_ERROR;
    }
    const strata_topic_info_t **v = calloc(md->n_topics + 1, sizeof *v);
    for (size_t i = 0; v && i < md->n_topics; i++)
        v[i] = &md->topics[i];
    if (v)
        qsort(v, md->n_topics, sizeof *v, cli_topic_cmp);
    json_t *arr = cli_g.json ? json_array() : NULL;
    for (size_t i = 0; v && i < md->n_topics; i++) {
        if (arr)
            json_array_append_new(arr, json_string(v[i]->name));
        else
            printf("%s\n", v[i]->name);
    }
    if (arr) {
        json_dumpf(arr, stdout, JSON_COMPACT);
        putchar('\n');
        json_decref(arr);
    }
    free(v);
    strata_metadata_free(md);
    return CLI_EXIT_OK;
}

static int cli_topic_describe(strata_admin_t *a, char **names, size_t n, int timeout_ms)
{
    strata_metadata_t *md;
    strata_err_t e = strata_admin_metadata(a, (const char *const *)names, n, timeout_ms, &md);
    if (e != STRATA_OK) {
        cli_err_call("cannot describe topics", e);
        return CLI_EXIT_ERROR;
    }
    int rc = CLI_EXIT_OK;
    const strata_topic_info_t **v = calloc(md->n_topics + 1, sizeof *v);
    for (size_t i = 0; v && i < md->n_topics; i++)
        v[i] = &md->topics[i];
    if (v)
        qsort(v, md->n_topics, sizeof *v, cli_topic_cmp);
    json_t *arr = cli_g.json ? json_array() : NULL;
    for (size_t i = 0; v && i < md->n_topics; i++) {
        const strata_topic_info_t *t = v[i];
        if (t->err != STRATA_OK) {
            cli_err("topic '%s': %s", t->name, strata_err_name(t->err));
            rc = CLI_EXIT_ERROR;
            continue;
        }
        strata_config_list_t *cfg = NULL;
        char err[256] = "";
        strata_admin_describe_configs(a, STRATA_RESOURCE_TOPIC, t->name, timeout_ms, &cfg, err, sizeof err);
        size_t rf = t->n_partitions ? t->partitions[0].n_replicas : 0;
        if (arr) {
            json_t *o = json_object();
            json_object_set_new(o, "name", json_string(t->name));
            json_object_set_new(o, "topic_id", json_string(t->topic_id ? t->topic_id : ""));
            json_object_set_new(o, "partition_count", json_integer((json_int_t)t->n_partitions));
            json_object_set_new(o, "replication_factor", json_integer((json_int_t)rf));
            json_t *cj = json_object();
            for (size_t k = 0; k < strata_config_list_count(cfg); k++) {
                const strata_config_entry_t *ce = strata_config_list_get(cfg, k);
                if (!ce->is_default)
                    json_object_set_new(cj, ce->name, json_string(ce->value ? ce->value : ""));
            }
            json_object_set_new(o, "configs", cj);
            json_t *pa = json_array();
            for (size_t k = 0; k < t->n_partitions; k++) {
                const strata_partition_info_t *p = &t->partitions[k];
                json_t *po = json_object();
                json_object_set_new(po, "partition", json_integer(p->id));
                json_object_set_new(po, "leader", json_integer(p->leader));
                json_object_set_new(po, "leader_epoch", json_integer(p->leader_epoch));
                json_object_set_new(po, "replicas", cli_json_ids(p->replicas, p->n_replicas));
                json_object_set_new(po, "isr", cli_json_ids(p->isr, p->n_isr));
                json_object_set_new(po, "offline_replicas",
                                    cli_json_ids(p->offline_replicas, p->n_offline_replicas));
                json_array_append_new(pa, po);
            }
            json_object_set_new(o, "partitions", pa);
            json_array_append_new(arr, o);
        } else {
            printf("Topic: %s\tTopicId: %s\tPartitionCount: %zu\tReplicationFactor: %zu\tConfigs: ", t->name,
                   t->topic_id ? t->topic_id : "", t->n_partitions, rf);
            int first = 1;
            for (size_t k = 0; k < strata_config_list_count(cfg); k++) {
                const strata_config_entry_t *ce = strata_config_list_get(cfg, k);
                if (ce->is_default)
                    continue;
                printf("%s%s=%s", first ? "" : ",", ce->name, ce->value ? ce->value : "");
                first = 0;
            }
            putchar('\n');
            for (size_t k = 0; k < t->n_partitions; k++) {
                const strata_partition_info_t *p = &t->partitions[k];
                printf("\tTopic: %s\tPartition: %d\tLeader: %d\tReplicas: ", t->name, p->id, p->leader);
                cli_print_ids(p->replicas, p->n_replicas);
                printf("\tIsr: ");
                cli_print_ids(p->isr, p->n_isr);
                if (p->n_offline_replicas) {
                    printf("\tOffline: ");
                    cli_print_ids(p->offline_replicas, p->n_offline_replicas);
                }
                putchar('\n');
            }
        }
        strata_config_list_free(cfg);
    }
    if (arr) {
        json_dumpf(arr, stdout, JSON_COMPACT);
        putchar('\n');
        json_decref(arr);
    }
    free(v);
    strata_metadata_free(md);
    return rc;
}

int cli_topic_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"partitions", required_argument, NULL, 'p'},
        {"replication-factor", required_argument, NULL, 'r'},
        {"config", required_argument, NULL, 'c'},
        {"delete-config", required_argument, NULL, 'd'},
        {"timeout-ms", required_argument, NULL, OPT_TIMEOUT},
        CLI_REASSIGN_LONGOPTS,
        CLI_GLOBAL_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    int32_t partitions = -1, rf = -1;
    int64_t timeout = CLI_TOPIC_TIMEOUT_MS;
    const char **configs = NULL, **dels = NULL;
    size_t n_configs = 0, n_dels = 0;
    int rc = CLI_EXIT_OK;
    strata_admin_t *a = NULL;
    cli_reassign_opts_t ra;
    char raerr[300];
    int c;

    memset(&ra, 0, sizeof ra);
    optind = 0; /* 0: full reset of GNU getopt (main already used it) */
    while ((c = getopt_long(argc, argv, "p:r:c:d:" CLI_GLOBAL_SHORTOPTS, longopts, NULL)) != -1) {
        switch (c) {
        case 'p':
            if (!cli_parse_i32(optarg, &partitions) || partitions < 1) {
                rc = cli_usage_err("topic", "--partitions: '%s' is not a positive number", optarg);
                goto out;
            }
            break;
        case 'r':
            if (!cli_parse_i32(optarg, &rf) || rf < 1) {
                rc = cli_usage_err("topic", "--replication-factor: '%s' is not a positive number", optarg);
                goto out;
            }
            break;
        case 'c':
            if (strchr(optarg, '=') == NULL) {
                rc = cli_usage_err("topic", "--config: expected KEY=VALUE, got '%s'", optarg);
                goto out;
            }
            cli_strv_push(&configs, &n_configs, optarg);
            break;
        case 'd':
            cli_strv_push(&dels, &n_dels, optarg);
            break;
        case OPT_TIMEOUT:
            if (!cli_parse_i64(optarg, &timeout) || timeout < 0 || timeout > INT32_MAX) {
                rc = cli_usage_err("topic", "--timeout-ms: bad value '%s'", optarg);
                goto out;
            }
            break;
        case 'h':
            fputs(cli_topic_help, stdout);
            goto out;
        case CLI_RA_TOPIC:
        case CLI_RA_PARTITION:
        case CLI_RA_REPLICAS:
        case CLI_RA_TYPE:
        case CLI_RA_JSON:
        case CLI_RA_LIST:
        case CLI_RA_CANCEL:
            if (!cli_reassign_opt(&ra, c, optarg, raerr, sizeof raerr)) {
                rc = cli_usage_err("topic", "%s", raerr);
                goto out;
            }
            break;
        default:
            if (!cli_global_opt(c, optarg)) {
                rc = cli_usage_err("topic", "bad option");
                goto out;
            }
        }
    }
    if (optind >= argc) {
        rc = cli_usage_err("topic", "missing subcommand (create, list, describe, alter, delete, "
                                    "elect-leaders, reassign)");
        goto out;
    }
    const char *sub = argv[optind++];
    char **names = argv + optind;
    size_t n_names = (size_t)(argc - optind);
    char err[512] = "";
    int to = (int)timeout;
    bool ra_sub = strcmp(sub, "elect-leaders") == 0 || strcmp(sub, "reassign") == 0;
    if (!ra_sub && (ra.n > 0 || ra.type || ra.json_file || ra.list || ra.cancel)) {
        rc = cli_usage_err("topic", "--topic, --partition, --replicas, --type, --list, --cancel "
                                    "and --reassignment-json-file belong to elect-leaders and "
                                    "reassign");
        goto out;
    }
    if (ra_sub) {
        if (n_names != 0) {
            rc = cli_usage_err("topic", "%s takes --topic options, not names", sub);
            goto out;
        }
        if ((a = cli_admin()) == NULL) {
            rc = CLI_EXIT_ERROR;
            goto out;
        }
        rc = strcmp(sub, "reassign") == 0 ? cli_topic_reassign(a, &ra, to)
                                          : cli_topic_elect_leaders(a, &ra, to);
        goto out;
    }
    if (strcmp(sub, "create") == 0 || strcmp(sub, "alter") == 0 || strcmp(sub, "delete") == 0) {
        if (n_names != 1) {
            rc = cli_usage_err("topic", "%s takes exactly one topic name", sub);
            goto out;
        }
    } else if (strcmp(sub, "list") == 0) {
        if (n_names != 0) {
            rc = cli_usage_err("topic", "list takes no arguments");
            goto out;
        }
    } else if (strcmp(sub, "describe") != 0) {
        rc = cli_usage_err("topic", "unknown subcommand '%s'", sub);
        goto out;
    }
    if ((a = cli_admin()) == NULL) {
        rc = CLI_EXIT_ERROR;
        goto out;
    }
    strata_err_t e = STRATA_OK;
    if (strcmp(sub, "create") == 0) {
        e = strata_admin_create_topic(a, names[0], partitions, rf, configs, n_configs, to, err, sizeof err);
        if (e == STRATA_OK && !cli_g.json)
            printf("Created topic %s.\n", names[0]);
    } else if (strcmp(sub, "delete") == 0) {
        e = strata_admin_delete_topic(a, names[0], to, err, sizeof err);
        if (e == STRATA_OK && !cli_g.json)
            printf("Deleted topic %s.\n", names[0]);
    } else if (strcmp(sub, "alter") == 0) {
        if (partitions < 0 && n_configs == 0 && n_dels == 0) {
            rc = cli_usage_err("topic", "alter needs --partitions, --config or --delete-config");
            goto out;
        }
        if (partitions > 0)
            e = strata_admin_create_partitions(a, names[0], partitions, to, err, sizeof err);
        if (e == STRATA_OK && (n_configs || n_dels))
            e = strata_admin_alter_configs(a, STRATA_RESOURCE_TOPIC, names[0], configs, n_configs, dels,
                                           n_dels, to, err, sizeof err);
        if (e == STRATA_OK && !cli_g.json)
            printf("Altered topic %s.\n", names[0]);
    } else if (strcmp(sub, "list") == 0) {
        rc = cli_topic_list(a, to);
        goto out;
    } else {
        rc = cli_topic_describe(a, names, n_names, to);
        goto out;
    }
    if (e != STRATA_OK) {
        char what[300];
        snprintf(what, sizeof what, "topic %s %s", sub, names[0]);
        if (err[0])
            cli_err("%s: %s", what, err);
        else
            cli_err_call(what, e);
        rc = CLI_EXIT_ERROR;
    } else if (cli_g.json) {
        printf("{\"topic\":\"%s\",\"result\":\"ok\"}\n", names[0]);
    }
out:
    strata_admin_free(a);
    cli_reassign_opts_free(&ra);
    free(configs);
    free(dels);
    return rc;
}
