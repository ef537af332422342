/*
 * cli_consume: records to stdout (see cli_consume.h). Start positions:
 * beginning, end, an absolute offset, -N (N before the end of each
 * partition, never before its start) or s@TIMESTAMP_MS (first record at or
 * after that time). SIGINT/SIGTERM stop it cleanly.
 */
#include "cli/cli_consume.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_fmt.h"
#include "cli/cli_util.h"
#include "client/strata.h"

static const char cli_consume_help[] =
    "usage: strata consume -t TOPIC [-p PARTITION] [-o beginning|end|OFFSET|-N|s@TIMESTAMP_MS]\n"
    "                      [-e] [-c COUNT] [-f FORMAT]\n"
    "       strata consume -g GROUP -t TOPIC[,TOPIC|,^REGEX...] [-o beginning|end] [-e] [-c COUNT]\n"
    "options:\n"
    "  -t, --topic TOPIC     topic to read (required); with -g a comma-separated list,\n"
    "                        names starting with ^ are regular expressions\n"
    "  -g, --group GROUP     join consumer group GROUP: partitions come from the group,\n"
    "                        reading starts at its committed offsets (-o beginning|end\n"
    "                        where none) and offsets are committed as records are printed\n"
    "  -p, --partition N     read only partition N (default: every partition)\n"
    "  -o, --offset POS      where to start (default beginning): beginning, end, an offset,\n"
    "                        -N (the last N records of each partition), s@TIMESTAMP_MS\n"
    "  -e, --exit            exit once every assigned partition has been read to its end\n"
    "  -c, --count COUNT     exit after COUNT records\n"
    "  -f, --format FORMAT   output format (default \"%s\\n\"): %t topic, %p partition,\n"
    "                        %o offset, %k key, %s value, %T timestamp, %h headers,\n"
    "                        %K key length, %S value length, %% percent, \\n \\t escapes\n"
    "      --timeout-ms MS   metadata and offset lookups timeout (default 30000)\n" CLI_GLOBAL_HELP;

enum {
    OPT_TIMEOUT = 2000
};

static volatile sig_atomic_t cli_stop;

static void cli_on_signal(int sig)
{
    (void)sig;
    cli_stop = 1;
}

typedef enum {
    POS_ABS,
    POS_BEGIN,
    POS_END,
    POS_TAIL,
    POS_TIME
} cli_pos_kind_t;

static bool cli_parse_pos(const char *s, cli_pos_kind_t *kind, int64_t *v)
{
    if (strcmp(s, "beginning") == 0) {
        *kind = POS_BEGIN;
        return true;
    }
    if (strcmp(s, "end") == 0) {
        *kind = POS_END;
        return true;
    }
    if (strncmp(s, "s@", 2) == 0) {
        *kind = POS_TIME;
        return cli_parse_i64(s + 2, v) && *v >= 0;
    }
    if (!cli_parse_i64(s, v))
        return false;
    *kind = *v < 0 ? POS_TAIL : POS_ABS;
    if (*v < 0)
        *v = -*v;
    return true;
}

/* Output of one record; false on a write error (printed). */
static bool cli_consume_print(const strata_message_t *m, const char *fmt, cli_out_t *out)
{
    out->len = 0;
    bool ok = cli_g.json ? cli_fmt_json(m, out) : cli_fmt_render(fmt, m, out);
    if (!ok || (out->len > 0 && fwrite(out->buf, 1, out->len, stdout) != out->len)) {
        cli_err("cannot write output");
        return false;
    }
    return true;
}

/* consume -g: subscribe as a member of group; auto commit does the rest
 * (and close commits what was printed last). */
static int cli_consume_group(strata_conf_t *conf, const char *group, const char *topics, cli_pos_kind_t pos,
                             bool exit_eof, int64_t count, const char *fmt, cli_out_t *out)
{
    char err[256];
    const char **names = NULL;
    size_t n_names = 0;
    char *list = strdup(topics);
    char **eofs = NULL;
    size_t n_eof = 0;
    int rc = CLI_EXIT_OK;
    strata_consumer_t *cons = NULL;
    if (list == NULL) {
        cli_err("out of memory");
        return CLI_EXIT_ERROR;
    }
    for (char *save = NULL, *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save))
        if (*t && !cli_strv_push(&names, &n_names, t)) {
            rc = CLI_EXIT_ERROR;
            goto out;
        }
    if (!cli_conf_set(conf, "group.id", group) ||
        (!cli_has_prop("auto.offset.reset") &&
         !cli_conf_set(conf, "auto.offset.reset", pos == POS_END ? "latest" : "earliest"))) {
        rc = CLI_EXIT_ERROR;
        goto out;
    }
    if ((cons = strata_consumer_new(conf, err, sizeof err)) == NULL) {
        cli_err("%s", err);
        rc = CLI_EXIT_ERROR;
        goto out;
    }
    strata_err_t e = strata_consumer_subscribe(cons, names, n_names);
    if (e != STRATA_OK) {
        cli_err("subscribe: %s", strata_err_name(e));
        rc = CLI_EXIT_ERROR;
        goto out;
    }
    signal(SIGINT, cli_on_signal);
    signal(SIGTERM, cli_on_signal);
    int64_t seen = 0;
    while (!cli_stop && (count < 0 || seen < count)) {
        const strata_message_t *m;
        e = strata_consumer_poll(cons, 200, &m);
        if (e == STRATA_ERR_TIMEOUT)
            continue;
        if (e != STRATA_OK) {
            cli_err("poll: %s", strata_err_name(e));
            rc = CLI_EXIT_ERROR;
            break;
        }
        if (m->err == STRATA_ERR_PARTITION_EOF) {
            /* -e: stop when every partition assigned now is at its end */
            char key[512];
            snprintf(key, sizeof key, "%s/%d", m->topic, m->partition);
            bool seen_eof = false;
            for (size_t i = 0; i < n_eof && !seen_eof; i++)
                seen_eof = strcmp(eofs[i], key) == 0;
            if (!seen_eof && cli_strv_push((const char ***)&eofs, &n_eof, key))
                eofs[n_eof - 1] = strdup(key);
            strata_tp_t *as = NULL;
            size_t n_as = 0;
            if (exit_eof && strata_consumer_assignment(cons, &as, &n_as) == STRATA_OK) {
                size_t done = 0;
                for (size_t i = 0; i < n_as; i++) {
                    snprintf(key, sizeof key, "%s/%d", as[i].topic, as[i].partition);
                    for (size_t k = 0; k < n_eof; k++)
                        if (eofs[k] && strcmp(eofs[k], key) == 0) {
                            done++;
                            break;
                        }
                }
                strata_tp_list_free(as, n_as);
                if (n_as > 0 && done == n_as)
                    break;
            }
            continue;
        }
        if (m->err != STRATA_OK) {
            cli_err("%s [%d]: %s", m->topic ? m->topic : "?", m->partition, strata_err_name(m->err));
            rc = CLI_EXIT_ERROR;
            break;
        }
        if (!cli_consume_print(m, fmt, out)) {
            rc = CLI_EXIT_ERROR;
            break;
        }
        seen++;
    }
    fflush(stdout);
out:
    strata_consumer_close(cons); /* commits the positions and leaves the group */
    for (size_t i = 0; i < n_eof; i++)
        free(eofs[i]);
    free(eofs);
    free(names);
    free(list);
    return rc;
}

/* Partitions of topic from metadata; -1 on error (printed). */
static int32_t cli_partition_count(strata_conf_t *conf, const char *topic, int timeout_ms)
{
    char err[256];
    strata_admin_t *a = strata_admin_new(conf, err, sizeof err);
    if (a == NULL) {
        cli_err("%s", err);
        return -1;
    }
    strata_metadata_t *md = NULL;
    const char *names[1] = {topic};
    strata_err_t e = strata_admin_metadata(a, names, 1, timeout_ms, &md);
    int32_t n = -1;
    if (e != STRATA_OK)
        cli_err_call("cannot read metadata", e);
    else if (md->n_topics < 1 || md->topics[0].err != STRATA_OK || md->topics[0].n_partitions == 0)
        cli_err("topic '%s': %s", topic,
                strata_err_name(md->n_topics < 1 || md->topics[0].err == STRATA_OK
                                    ? STRATA_ERR_UNKNOWN_TOPIC_OR_PARTITION
                                    : md->topics[0].err));
    else
        n = (int32_t)md->topics[0].n_partitions;
    strata_metadata_free(md);
    strata_admin_free(a);
    return n;
}

int cli_consume_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"topic", required_argument, NULL, 't'},
        {"group", required_argument, NULL, 'g'},
        {"partition", required_argument, NULL, 'p'},
        {"offset", required_argument, NULL, 'o'},
        {"exit", no_argument, NULL, 'e'},
        {"count", required_argument, NULL, 'c'},
        {"format", required_argument, NULL, 'f'},
        {"timeout-ms", required_argument, NULL, OPT_TIMEOUT},
        CLI_GLOBAL_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    const char *topic = NULL, *fmt = "%s\\n", *group = NULL;
    int32_t partition = -1;
    cli_pos_kind_t pos = POS_BEGIN;
    int64_t posv = 0, count = -1, timeout = 30000;
    bool exit_eof = false;
    strata_conf_t *conf = NULL;
    strata_consumer_t *cons = NULL;
    strata_tp_t *tps = NULL;
    bool *eof = NULL;
    cli_out_t out;
    int rc = CLI_EXIT_OK;
    int c;

    cli_out_init(&out);
    optind = 0; /* 0: full reset of GNU getopt (main already used it) */
    while ((c = getopt_long(argc, argv, "t:g:p:o:ec:f:" CLI_GLOBAL_SHORTOPTS, longopts, NULL)) != -1) {
        switch (c) {
        case 't':
            topic = optarg;
            break;
        case 'g':
            group = optarg;
            break;
        case 'p':
            if (!cli_parse_i32(optarg, &partition) || partition < 0) {
                rc = cli_usage_err("consume", "-p: '%s' is not a partition number", optarg);
                goto out;
            }
            break;
        case 'o':
            if (!cli_parse_pos(optarg, &pos, &posv)) {
                rc = cli_usage_err("consume", "-o: bad position '%s'", optarg);
                goto out;
            }
            break;
        case 'e':
            exit_eof = true;
            break;
        case 'c':
            if (!cli_parse_i64(optarg, &count) || count < 0) {
                rc = cli_usage_err("consume", "-c: '%s' is not a count", optarg);
                goto out;
            }
            break;
        case 'f':
            fmt = optarg;
            break;
        case OPT_TIMEOUT:
            if (!cli_parse_i64(optarg, &timeout) || timeout < 0 || timeout > INT32_MAX) {
                rc = cli_usage_err("consume", "--timeout-ms: bad value '%s'", optarg);
                goto out;
            }
            break;
        case 'h':
            fputs(cli_consume_help, stdout);
            goto out;
        default:
            if (!cli_global_opt(c, optarg)) {
                rc = cli_usage_err("consume", "bad option");
                goto out;
            }
        }
    }
    if (topic == NULL) {
        rc = cli_usage_err("consume", "-t TOPIC is required");
        goto out;
    }
    if (optind < argc) {
        rc = cli_usage_err("consume", "unexpected argument '%s'", argv[optind]);
        goto out;
    }
    if ((conf = cli_conf()) == NULL) {
        rc = CLI_EXIT_ERROR;
        goto out;
    }
    if (group == NULL && !cli_has_prop("auto.offset.reset"))
        cli_conf_set(conf, "auto.offset.reset", "earliest");
    if (exit_eof)
        cli_conf_set(conf, "enable.partition.eof", "true");
    if (group != NULL) {
        if (partition >= 0 || (pos != POS_BEGIN && pos != POS_END)) {
            rc = cli_usage_err("consume", "-g: -p and -o other than beginning|end do not apply");
            goto out;
        }
        rc = cli_consume_group(conf, group, topic, pos, exit_eof, count, fmt, &out);
        goto out;
    }
    int32_t np = cli_partition_count(conf, topic, (int)timeout);
    if (np < 0) {
        rc = CLI_EXIT_ERROR;
        goto out;
    }
    if (partition >= np) {
        cli_err("topic '%s' has no partition %d (it has %d)", topic, partition, np);
        rc = CLI_EXIT_ERROR;
        goto out;
    }
    size_t n = partition >= 0 ? 1 : (size_t)np;
    tps = calloc(n, sizeof *tps);
    eof = calloc(n, sizeof *eof);
    char err[256];
    if (tps == NULL || eof == NULL || (cons = strata_consumer_new(conf, err, sizeof err)) == NULL) {
        cli_err("%s", tps && eof ? err : "out of memory");
        rc = CLI_EXIT_ERROR;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        tps[i].topic = topic;
        tps[i].partition = partition >= 0 ? partition : (int32_t)i;
        switch (pos) {
        case POS_ABS:
            tps[i].offset = posv;
            break;
        case POS_BEGIN:
            tps[i].offset = STRATA_OFFSET_BEGINNING;
            break;
        case POS_END:
        case POS_TIME:
            tps[i].offset = STRATA_OFFSET_END;
            break;
        case POS_TAIL: {
            int64_t lo, hi;
            strata_err_t e =
                strata_consumer_query_watermarks(cons, topic, tps[i].partition, &lo, &hi, (int)timeout);
            if (e != STRATA_OK) {
                cli_err("cannot read the offsets of %s [%d]: %s", topic, tps[i].partition,
                        strata_err_name(e));
                rc = CLI_EXIT_ERROR;
                goto out;
            }
            tps[i].offset = hi - posv > lo ? hi - posv : lo;
            break;
        }
        }
    }
    if (strata_consumer_assign(cons, tps, n) != STRATA_OK) {
        cli_err("cannot assign partitions");
        rc = CLI_EXIT_ERROR;
        goto out;
    }
    if (pos == POS_TIME)
        for (size_t i = 0; i < n; i++)
            strata_consumer_seek_timestamp(cons, topic, tps[i].partition, posv);

    signal(SIGINT, cli_on_signal);
    signal(SIGTERM, cli_on_signal);
    size_t n_eof = 0;
    int64_t seen = 0;
    while (!cli_stop && (count < 0 || seen < count) && !(exit_eof && n_eof == n)) {
        const strata_message_t *m;
        strata_err_t e = strata_consumer_poll(cons, 200, &m);
        if (e == STRATA_ERR_TIMEOUT)
            continue;
        if (e != STRATA_OK) {
            cli_err("poll: %s", strata_err_name(e));
            rc = CLI_EXIT_ERROR;
            break;
        }
        if (m->err == STRATA_ERR_PARTITION_EOF) {
            size_t idx = partition >= 0 ? 0 : (size_t)m->partition;
            if (idx < n && !eof[idx]) {
                eof[idx] = true;
                n_eof++;
            }
            continue;
        }
        if (m->err != STRATA_OK) {
            cli_err("%s [%d]: %s", m->topic, m->partition, strata_err_name(m->err));
            rc = CLI_EXIT_ERROR;
            break;
        }
        out.len = 0;
        bool ok = cli_g.json ? cli_fmt_json(m, &out) : cli_fmt_render(fmt, m, &out);
        if (!ok || (out.len > 0 && fwrite(out.buf, 1, out.len, stdout) != out.len)) {
            cli_err("cannot write output");
            rc = CLI_EXIT_ERROR;
            break;
        }
        seen++;
    }
    fflush(stdout);
out:
    strata_consumer_close(cons);
    strata_conf_free(conf);
    free(tps);
    free(eof);
    cli_out_free(&out);
    return rc;
}
