/*
 * cli_group: consumer group commands (see cli_group.h). Lag is the end
 * offset (high watermark) minus the committed offset, "-" when nothing is
 * committed, as Kafka's kafka-consumer-groups prints it.
 */
#include "cli/cli_group.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_util.h"
#include "client/strata.h"

static const char cli_group_help[] =
    "usage: strata group list\n"
    "       strata group describe GROUP\n"
    "       strata group reset-offsets GROUP -t TOPIC[,TOPIC] --to-earliest|--to-latest|\n"
    "                 --to-offset N|--to-datetime TS_MS|--shift-by N [--dry-run|--execute]\n"
    "       strata group delete GROUP\n"
    "reset-offsets prints the plan (--dry-run, the default); --execute commits it. Only a\n"
    "group without members (state Empty) can be reset or deleted.\n"
    "options:\n"
    "      --timeout-ms MS   request timeout (default 30000)\n" CLI_GLOBAL_HELP;

enum {
    OPT_TIMEOUT = 2000,
    OPT_EARLIEST,
    OPT_LATEST,
    OPT_OFFSET,
    OPT_DATETIME,
    OPT_SHIFT,
    OPT_DRY,
    OPT_EXEC,
};

typedef enum {
    RS_NONE,
    RS_EARLIEST,
    RS_LATEST,
    RS_OFFSET,
    RS_DATETIME,
    RS_SHIFT
} cli_rs_t;

static void cli_json_print(json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT);
    if (s)
        puts(s);
    free(s);
    json_decref(j);
}

static int cli_group_list(strata_admin_t *adm, int tmo)
{
    strata_group_listing_t *l = NULL;
    size_t n = 0;
    strata_err_t e = strata_admin_list_groups(adm, tmo, &l, &n);
    if (e != STRATA_OK) {
        cli_err_call("cannot list groups", e);
        return CLI_EXIT_ERROR;
    }
    if (cli_g.json) {
        json_t *a = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(a, json_pack("{s:s,s:s,s:s,s:i}", "group", l[i].group_id, "state",
                                               l[i].state, "protocol_type", l[i].protocol_type, "coordinator",
                                               (int)l[i].coordinator));
        cli_json_print(a);
    } else {
        printf("%-30s %-20s %s\n", "GROUP", "STATE", "COORDINATOR");
        for (size_t i = 0; i < n; i++)
            printf("%-30s %-20s %d\n", l[i].group_id, l[i].state, l[i].coordinator);
    }
    strata_group_listing_free(l, n);
    return CLI_EXIT_OK;
}

/* Owner (member id) of a partition in the description, or NULL. */
static const strata_group_member_t *cli_owner(const strata_group_desc_t *d, const char *t, int32_t p)
{
    for (size_t i = 0; i < d->n_members; i++)
        for (size_t k = 0; k < d->members[i].n_assignment; k++)
            if (d->members[i].assignment[k].partition == p &&
                strcmp(d->members[i].assignment[k].topic, t) == 0)
                return &d->members[i];
    return NULL;
}

static int cli_group_describe(strata_admin_t *adm, strata_consumer_t *c, const char *group, int tmo)
{
    strata_group_desc_t *d = NULL;
    strata_commit_t *offs = NULL;
    size_t n_offs = 0;
    strata_err_t e = strata_admin_describe_group(adm, group, tmo, &d);
    if (e == STRATA_OK)
        e = strata_admin_list_group_offsets(adm, group, tmo, &offs, &n_offs);
    if (e != STRATA_OK) {
        cli_err_call("cannot describe the group", e);
        strata_group_desc_free(d);
        return CLI_EXIT_ERROR;
    }
    /* rows: committed partitions, plus assigned ones without a commit */
    size_t n_rows = n_offs;
    for (size_t i = 0; i < d->n_members; i++)
        n_rows += d->members[i].n_assignment;
    strata_commit_t *rows = calloc(n_rows ? n_rows : 1, sizeof *rows);
    size_t nr = 0;
    for (size_t i = 0; rows && i < n_offs; i++)
        rows[nr++] = offs[i];
    for (size_t i = 0; rows && i < d->n_members; i++)
        for (size_t k = 0; k < d->members[i].n_assignment; k++) {
            const strata_tp_t *tp = &d->members[i].assignment[k];
            bool have = false;
            for (size_t r = 0; r < n_offs && !have; r++)
                have = rows[r].partition == tp->partition && strcmp(rows[r].topic, tp->topic) == 0;
            if (!have)
                rows[nr++] = (strata_commit_t){tp->topic, tp->partition, -1, NULL};
        }
    json_t *jrows = json_array();
    if (!cli_g.json) {
        printf("GROUP %s  STATE %s  PROTOCOL %s  GENERATION %d  COORDINATOR %d  MEMBERS %zu\n", d->group_id,
               d->state, d->protocol, d->generation, d->coordinator, d->n_members);
        for (size_t i = 0; i < d->n_members; i++)
            printf("  member %s%s%s client %s host %s partitions %zu\n", d->members[i].member_id,
                   d->members[i].instance_id[0] ? " instance " : "", d->members[i].instance_id,
                   d->members[i].client_id, d->members[i].client_host, d->members[i].n_assignment);
        printf("%-24s %-9s %-16s %-16s %-8s %s\n", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET",
               "LAG", "MEMBER");
    }
    for (size_t i = 0; i < nr; i++) {
        int64_t end = -1;
        strata_consumer_query_watermarks(c, rows[i].topic, rows[i].partition, NULL, &end, tmo);
        int64_t lag =
            end >= 0 && rows[i].offset >= 0 ? (end > rows[i].offset ? end - rows[i].offset : 0) : -1;
        const strata_group_member_t *m = cli_owner(d, rows[i].topic, rows[i].partition);
        if (cli_g.json) {
            json_t *o = json_pack("{s:s,s:i,s:I,s:I,s:s}", "topic", rows[i].topic, "partition",
                                  (int)rows[i].partition, "committed", (json_int_t)rows[i].offset, "end",
                                  (json_int_t)end, "member", m ? m->member_id : "");
            json_object_set_new(o, "lag", lag >= 0 ? json_integer(lag) : json_null());
            json_array_append_new(jrows, o);
        } else {
            char cur[32], lg[32];
            snprintf(cur, sizeof cur, rows[i].offset >= 0 ? "%lld" : "-", (long long)rows[i].offset);
            snprintf(lg, sizeof lg, lag >= 0 ? "%lld" : "-", (long long)lag);
            printf("%-24s %-9d %-16s %-16lld %-8s %s\n", rows[i].topic, rows[i].partition, cur,
                   (long long)end, lg, m ? m->member_id : "-");
        }
    }
    if (cli_g.json) {
        json_t *mem = json_array();
        for (size_t i = 0; i < d->n_members; i++) {
            json_t *as = json_array();
            for (size_t k = 0; k < d->members[i].n_assignment; k++)
                json_array_append_new(as, json_pack("{s:s,s:i}", "topic", d->members[i].assignment[k].topic,
                                                    "partition", (int)d->members[i].assignment[k].partition));
            json_array_append_new(
                mem, json_pack("{s:s,s:s,s:s,s:s,s:o}", "member_id", d->members[i].member_id, "instance_id",
                               d->members[i].instance_id, "client_id", d->members[i].client_id, "client_host",
                               d->members[i].client_host, "assignment", as));
        }
        cli_json_print(json_pack("{s:s,s:s,s:s,s:i,s:i,s:o,s:o}", "group", d->group_id, "state", d->state,
                                 "protocol", d->protocol, "generation", d->generation, "coordinator",
                                 d->coordinator, "members", mem, "offsets", jrows));
    } else {
        json_decref(jrows);
    }
    free(rows);
    strata_commit_list_free(offs, n_offs);
    strata_group_desc_free(d);
    return CLI_EXIT_OK;
}

static int cli_group_reset(strata_admin_t *adm, strata_consumer_t *c, strata_conf_t *conf, const char *group,
                           const char *topics, cli_rs_t rs, int64_t arg, bool execute, int tmo)
{
    (void)conf;
    strata_group_desc_t *d = NULL;
    strata_commit_t *offs = NULL, *plan = NULL;
    size_t n_offs = 0, np = 0, cap = 0;
    int rc = CLI_EXIT_ERROR;
    char *list = strdup(topics);
    strata_err_t e = list ? strata_admin_describe_group(adm, group, tmo, &d) : STRATA_ERR_NOMEM;
    if (e != STRATA_OK) {
        cli_err_call("cannot describe the group", e);
        goto out;
    }
    if (d->n_members > 0 || (strcmp(d->state, "Empty") != 0 && strcmp(d->state, "Dead") != 0)) {
        cli_err("group '%s' is not empty (state %s, %zu members): stop its consumers first", group, d->state,
                d->n_members);
        goto out;
    }
    if ((e = strata_admin_list_group_offsets(adm, group, tmo, &offs, &n_offs)) != STRATA_OK) {
        cli_err_call("cannot read the committed offsets", e);
        goto out;
    }
    for (char *save = NULL, *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        /* partition count from the watermarks of partitions 0.. until unknown */
        for (int32_t p = 0;; p++) {
            int64_t lo = -1, hi = -1, cur = -1, bt = -1;
            e = strata_consumer_query_watermarks(c, t, p, &lo, &hi, tmo);
            if (e == STRATA_ERR_UNKNOWN_TOPIC_OR_PARTITION && p > 0)
                break;
            if (e != STRATA_OK) {
                cli_err("topic '%s' partition %d: %s", t, p, strata_err_name(e));
                goto out;
            }
            for (size_t i = 0; i < n_offs; i++)
                if (offs[i].partition == p && strcmp(offs[i].topic, t) == 0)
                    cur = offs[i].offset;
            if (rs == RS_DATETIME &&
                (e = strata_consumer_offset_for_time(c, t, p, arg, &bt, tmo)) != STRATA_OK) {
                cli_err("topic '%s' partition %d: %s", t, p, strata_err_name(e));
                goto out;
            }
            int64_t target;
            switch (rs) {
            case RS_EARLIEST:
                target = lo;
                break;
            case RS_LATEST:
                target = hi;
                break;
            case RS_OFFSET:
                target = arg;
                break;
            case RS_DATETIME:
                target = bt < 0 ? hi : bt;
                break;
            default:
                target = (cur < 0 ? (arg < 0 ? hi : lo) : cur) + arg;
                break;
            }
            if (target < lo)
                target = lo;
            if (target > hi)
                target = hi;
            if (np == cap) {
                cap = cap ? cap * 2 : 16;
                strata_commit_t *nv = realloc(plan, cap * sizeof *nv);
                if (nv == NULL)
                    goto out;
                plan = nv;
            }
            plan[np++] = (strata_commit_t){strdup(t), p, target, NULL};
            if (!cli_g.json) {
                char cs[32];
                snprintf(cs, sizeof cs, cur >= 0 ? "%lld" : "-", (long long)cur);
                printf("%-24s partition %-5d committed %-12s -> %lld\n", t, p, cs, (long long)target);
            }
        }
    }
    if (execute && (e = strata_admin_alter_group_offsets(adm, group, plan, np, tmo)) != STRATA_OK) {
        cli_err_call("cannot commit the new offsets (did a consumer join the group?)", e);
        goto out;
    }
    if (cli_g.json) {
        json_t *a = json_array();
        for (size_t i = 0; i < np; i++)
            json_array_append_new(a, json_pack("{s:s,s:i,s:I}", "topic", plan[i].topic, "partition",
                                               (int)plan[i].partition, "offset", (json_int_t)plan[i].offset));
        cli_json_print(json_pack("{s:s,s:b,s:o}", "group", group, "executed", execute, "plan", a));
    } else {
        printf(execute ? "offsets of group '%s' reset\n"
                       : "dry run: nothing changed (use --execute to apply to group '%s')\n",
               group);
    }
    rc = CLI_EXIT_OK;
out:
    strata_commit_list_free(plan, np);
    strata_commit_list_free(offs, n_offs);
    strata_group_desc_free(d);
    free(list);
    return rc;
}

int cli_group_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"topic", required_argument, NULL, 't'},
        {"to-earliest", no_argument, NULL, OPT_EARLIEST},
        {"to-latest", no_argument, NULL, OPT_LATEST},
        {"to-offset", required_argument, NULL, OPT_OFFSET},
        {"to-datetime", required_argument, NULL, OPT_DATETIME},
        {"shift-by", required_argument, NULL, OPT_SHIFT},
        {"dry-run", no_argument, NULL, OPT_DRY},
        {"execute", no_argument, NULL, OPT_EXEC},
        {"timeout-ms", required_argument, NULL, OPT_TIMEOUT},
        CLI_GLOBAL_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    const char *topics = NULL;
    cli_rs_t rs = RS_NONE;
    int64_t arg = 0, timeout = 30000;
    bool execute = false;
    int c, rc = CLI_EXIT_OK;
    strata_conf_t *conf = NULL;
    strata_admin_t *adm = NULL;
    strata_consumer_t *cons = NULL;

    optind = 0;
    while ((c = getopt_long(argc, argv, "t:" CLI_GLOBAL_SHORTOPTS, longopts, NULL)) != -1) {
        switch (c) {
        case 't':
            topics = optarg;
            break;
        case OPT_EARLIEST:
            rs = RS_EARLIEST;
            break;
        case OPT_LATEST:
            rs = RS_LATEST;
            break;
        case OPT_OFFSET:
        case OPT_DATETIME:
        case OPT_SHIFT:
            rs = c == OPT_OFFSET ? RS_OFFSET : c == OPT_DATETIME ? RS_DATETIME : RS_SHIFT;
            if (!cli_parse_i64(optarg, &arg) || (rs != RS_SHIFT && arg < 0))
                return cli_usage_err("group", "bad value '%s'", optarg);
            break;
        case OPT_DRY:
            execute = false;
            break;
        case OPT_EXEC:
            execute = true;
            break;
        case OPT_TIMEOUT:
            if (!cli_parse_i64(optarg, &timeout) || timeout < 1 || timeout > INT32_MAX)
                return cli_usage_err("group", "--timeout-ms: bad value '%s'", optarg);
            break;
        case 'h':
            fputs(cli_group_help, stdout);
            return CLI_EXIT_OK;
        default:
            if (!cli_global_opt(c, optarg))
                return cli_usage_err("group", "bad option");
        }
    }
    /* argv: group SUB [GROUP] with options anywhere after them */
    const char *pos[3] = {NULL, NULL, NULL};
    size_t npos = 0;
    for (int i = optind; i < argc; i++)
        if (npos < 3)
            pos[npos++] = argv[i];
    size_t k = npos > 0 && strcmp(pos[0], "group") == 0 ? 1 : 0;
    const char *sub = k < npos ? pos[k] : NULL;
    const char *group = k + 1 < npos ? pos[k + 1] : NULL;
    if (sub == NULL)
        return cli_usage_err("group", "a subcommand is required: list, describe, reset-offsets, delete");
    bool need_group = strcmp(sub, "list") != 0;
    if (need_group && group == NULL)
        return cli_usage_err("group", "%s: GROUP is required", sub);
    if (strcmp(sub, "reset-offsets") == 0 && (topics == NULL || rs == RS_NONE))
        return cli_usage_err("group", "reset-offsets needs -t TOPIC and one --to-*/--shift-by");
    if ((conf = cli_conf()) == NULL)
        return CLI_EXIT_ERROR;
    /* the admin handle sends the group requests; describe and
     * reset-offsets also need a consumer for watermarks and ListOffsets */
    bool need_cons = strcmp(sub, "describe") == 0 || strcmp(sub, "reset-offsets") == 0;
    char err[256] = "out of memory";
    if ((adm = strata_admin_new(conf, err, sizeof err)) == NULL ||
        (need_cons && (cons = strata_consumer_new(conf, err, sizeof err)) == NULL)) {
        cli_err("%s", err);
        strata_admin_free(adm);
        strata_conf_free(conf);
        return CLI_EXIT_ERROR;
    }
    if (strcmp(sub, "list") == 0) {
        rc = cli_group_list(adm, (int)timeout);
    } else if (strcmp(sub, "describe") == 0) {
        rc = cli_group_describe(adm, cons, group, (int)timeout);
    } else if (strcmp(sub, "reset-offsets") == 0) {
        rc = cli_group_reset(adm, cons, conf, group, topics, rs, arg, execute, (int)timeout);
    } else if (strcmp(sub, "delete") == 0) {
        strata_err_t e = strata_admin_delete_group(adm, group, (int)timeout);
        if (e != STRATA_OK) {
            cli_err_call(e == (strata_err_t)68 ? "the group is not empty: stop its consumers first"
                                               : "cannot delete the group",
                         e);
            rc = CLI_EXIT_ERROR;
        } else if (cli_g.json) {
            cli_json_print(json_pack("{s:s,s:b}", "group", group, "deleted", 1));
        } else {
            printf("group '%s' deleted\n", group);
        }
    } else {
        rc = cli_usage_err("group", "unknown subcommand '%s'", sub);
    }
    strata_consumer_close(cons);
    strata_admin_free(adm);
    strata_conf_free(conf);
    return rc;
}
