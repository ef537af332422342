/*
 * cli_produce: stdin lines to records (see cli_produce.h). Exit status 1
 * when any record failed (each failure is counted, the first is printed).
 */
#include "cli/cli_produce.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_util.h"
#include "client/strata.h"

static const char cli_produce_help[] =
    "usage: strata produce -t TOPIC [-p PARTITION] [-K SEP] [-H key=value]... [--acks 0|1|all]\n"
    "                      [-z none|zstd|lz4]\n"
    "Reads stdin; each line (without its newline) becomes one record's value.\n"
    "options:\n"
    "  -t, --topic TOPIC        topic to write to (required)\n"
    "  -p, --partition N        partition (default: the partitioner: murmur2 of the key, sticky\n"
    "                           for keyless records)\n"
    "  -K, --key-delimiter SEP  split each line at the first SEP into key and value\n"
    "  -H, --header KEY=VALUE   add a header to every record (repeatable)\n"
    "      --acks 0|1|all       acknowledgements to wait for (default all)\n"
    "  -z, --compression CODEC  none, zstd or lz4 (default none)\n" CLI_GLOBAL_HELP;

enum {
    OPT_ACKS = 2000
};

typedef struct cli_pstate {
    size_t ok;
    size_t failed;
    strata_err_t first_err;
} cli_pstate_t;

static void cli_produce_dr(const strata_delivery_t *dr, void *opaque)
{
    cli_pstate_t *st = opaque;
    if (dr->err == STRATA_OK) {
        __atomic_add_fetch(&st->ok, 1, __ATOMIC_RELAXED);
    } else {
        if (__atomic_add_fetch(&st->failed, 1, __ATOMIC_RELAXED) == 1)
            st->first_err = dr->err;
    }
}

int cli_produce_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"topic", required_argument, NULL, 't'},
        {"partition", required_argument, NULL, 'p'},
        {"key-delimiter", required_argument, NULL, 'K'},
        {"header", required_argument, NULL, 'H'},
        {"acks", required_argument, NULL, OPT_ACKS},
        {"compression", required_argument, NULL, 'z'},
        CLI_GLOBAL_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    const char *topic = NULL, *sep = NULL, *acks = NULL, *codec = NULL;
    int32_t partition = -1;
    strata_header_t *hdrs = NULL;
    size_t n_hdrs = 0;
    strata_producer_t *p = NULL;
    strata_conf_t *conf = NULL;
    char *line = NULL;
    size_t cap = 0;
    int rc = CLI_EXIT_OK;
    cli_pstate_t st = {0, 0, STRATA_OK};
    int c;

    optind = 0; /* 0: full reset of GNU getopt (main already used it) */
    while ((c = getopt_long(argc, argv, "t:p:K:H:z:" CLI_GLOBAL_SHORTOPTS, longopts, NULL)) != -1) {
        switch (c) {
        case 't':
            topic = optarg;
            break;
        case 'p':
            if (!cli_parse_i32(optarg, &partition) || partition < 0) {
                rc = cli_usage_err("produce", "-p: '%s' is not a partition number", optarg);
                goto out;
            }
            break;
        case 'K':
            if (optarg[0] == '\0') {
                rc = cli_usage_err("produce", "-K: empty delimiter");
                goto out;
            }
            sep = optarg;
            break;
        case 'H': {
            const char *eq = strchr(optarg, '=');
            if (eq == NULL) {
                rc = cli_usage_err("produce", "-H: expected KEY=VALUE, got '%s'", optarg);
                goto out;
            }
            strata_header_t *v = realloc(hdrs, (n_hdrs + 1) * sizeof *v);
            if (v == NULL) {
                rc = CLI_EXIT_ERROR;
                goto out;
            }
            hdrs = v;
            hdrs[n_hdrs].key = optarg;
            hdrs[n_hdrs].key_len = (size_t)(eq - optarg);
            hdrs[n_hdrs].value = eq + 1;
            hdrs[n_hdrs].value_len = strlen(eq + 1);
            n_hdrs++;
            break;
        }
        case OPT_ACKS:
            if (strcmp(optarg, "0") != 0 && strcmp(optarg, "1") != 0 && strcmp(optarg, "all") != 0 &&
                strcmp(optarg, "-1") != 0) {
                rc = cli_usage_err("produce", "--acks: expected 0, 1 or all, got '%s'", optarg);
                goto out;
            }
            acks = optarg;
            break;
        case 'z':
            if (strcmp(optarg, "none") != 0 && strcmp(optarg, "zstd") != 0 && strcmp(optarg, "lz4") != 0) {
                rc = cli_usage_err("produce", "-z: expected none, zstd or lz4, got '%s'", optarg);
                goto out;
            }
            codec = optarg;
            break;
        case 'h':
            fputs(cli_produce_help, stdout);
            goto out;
        default:
            if (!cli_global_opt(c, optarg)) {
                rc = cli_usage_err("produce", "bad option");
                goto out;
            }
        }
    }
    if (topic == NULL) {
        rc = cli_usage_err("produce", "-t TOPIC is required");
        goto out;
    }
    if (optind < argc) {
        rc = cli_usage_err("produce", "unexpected argument '%s'", argv[optind]);
        goto out;
    }
    if ((conf = cli_conf()) == NULL ||
        (!cli_has_prop("max.block.ms") && !cli_conf_set(conf, "max.block.ms", "10000")) ||
        (acks && !cli_conf_set(conf, "acks", acks)) ||
        (codec && !cli_conf_set(conf, "compression.type", codec))) {
        rc = CLI_EXIT_ERROR;
        goto out;
    }
    char err[256];
    if ((p = strata_producer_new(conf, err, sizeof err)) == NULL) {
        cli_err("%s", err);
        rc = CLI_EXIT_ERROR;
        goto out;
    }
    size_t seplen = sep ? strlen(sep) : 0;
    ssize_t n;
    while ((n = getline(&line, &cap, stdin)) >= 0) {
        size_t len = (size_t)n;
        if (len > 0 && line[len - 1] == '\n')
            len--;
        const char *key = NULL, *val = line;
        size_t klen = 0, vlen = len;
        if (sep != NULL) {
            char *s = memmem(line, len, sep, seplen);
            if (s != NULL) {
                key = line;
                klen = (size_t)(s - line);
                val = s + seplen;
                vlen = len - klen - seplen;
            }
        }
        strata_err_t e = strata_producer_send(p, topic, partition, key, klen, val, vlen, hdrs, n_hdrs, 0,
                                              cli_produce_dr, &st);
        if (e != STRATA_OK) {
            cli_err("cannot send a record to %s: %s", topic, strata_err_name(e));
            rc = CLI_EXIT_ERROR;
            break;
        }
    }
    strata_err_t fe = strata_producer_close(p, 60000);
    p = NULL;
    if (fe != STRATA_OK && st.failed == 0) {
        cli_err("timed out delivering records to %s", topic);
        rc = CLI_EXIT_ERROR;
    }
    if (st.failed > 0) {
        cli_err("%zu of %zu records to %s failed: %s", st.failed, st.failed + st.ok, topic,
                strata_err_name(st.first_err));
        rc = CLI_EXIT_ERROR;
    }
    if (cli_g.json)
        printf("{\"topic\":\"%s\",\"delivered\":%zu,\"failed\":%zu}\n", topic, st.ok, st.failed);
out:
    if (p != NULL)
        strata_producer_close(p, 60000);
    strata_conf_free(conf);
    free(line);
    free(hdrs);
    return rc;
}
