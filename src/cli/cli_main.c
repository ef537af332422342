/*
 * cli_main: the `strata` command-line tool's entry point. Global options
 * may come before the command group (`strata -b URL topic list`) or among
 * the command's own options; this module only picks the group and hands
 * the remaining arguments to its module (cli_topic, cli_produce,
 * cli_consume, cli_cluster, cli_perf, cli_zk, cli_log).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_cluster.h"
#include "cli/cli_consume.h"
#include "cli/cli_group.h"
#include "cli/cli_log.h"
#include "cli/cli_perf.h"
#include "cli/cli_produce.h"
#include "cli/cli_topic.h"
#include "cli/cli_util.h"
#include "cli/cli_zk.h"
#include "client/strata.h"

static const char cli_main_help[] =
    "usage: strata [GLOBAL OPTIONS] COMMAND [ARGS]\n"
    "commands:\n"
    "  topic create|list|describe|alter|delete   manage topics\n"
    "  produce -t TOPIC ...                      write stdin lines as records\n"
    "  consume -t TOPIC ...                      print records\n"
    "  group list|describe|reset-offsets|delete  consumer groups\n"
    "  cluster describe                          brokers, controller, partition health\n"
    "  perf produce|consume ...                  throughput and latency tests\n"
    "  zk check|tree|...                         inspect the ZooKeeper tree\n"
    "  log dump PATH [--records] [--index]        print a segment or partition directory (offline)\n"
    "  version                                   print the version\n"
    "global options:\n" CLI_GLOBAL_HELP "Run 'strata COMMAND --help' for a command's options.\n";

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_GLOBAL_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    int c;
    /* '+': stop at the command name; the command parses the rest */
    while ((c = getopt_long(argc, argv, "+" CLI_GLOBAL_SHORTOPTS, longopts, NULL)) != -1) {
        if (c == 'h') {
            fputs(cli_main_help, stdout);
            return CLI_EXIT_OK;
        }
        if (!cli_global_opt(c, optarg)) {
            fprintf(stderr, "strata: bad option (see 'strata --help')\n");
            return CLI_EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "strata: missing command (see 'strata --help')\n");
        return CLI_EXIT_USAGE;
    }
    const char *cmd = argv[optind];
    int sub_argc = argc - optind;
    char **sub_argv = argv + optind;
    int rc;
    if (strcmp(cmd, "topic") == 0)
        rc = cli_topic_main(sub_argc, sub_argv);
    else if (strcmp(cmd, "produce") == 0)
        rc = cli_produce_main(sub_argc, sub_argv);
    else if (strcmp(cmd, "consume") == 0)
        rc = cli_consume_main(sub_argc, sub_argv);
    else if (strcmp(cmd, "group") == 0)
        rc = cli_group_main(sub_argc, sub_argv);
    else if (strcmp(cmd, "cluster") == 0)
        rc = cli_cluster_main(sub_argc, sub_argv);
    else if (strcmp(cmd, "log") == 0)
        rc = cli_log_main(sub_argc, sub_argv);
    else if (strcmp(cmd, "perf") == 0)
        rc = cli_perf_main(sub_argc, sub_argv);
    else if (strcmp(cmd, "zk") == 0) {
        optind = 0; /* fresh getopt state for the zk module */
        rc = cli_zk_main(sub_argc, sub_argv);
    } else if (strcmp(cmd, "version") == 0) {
        printf("strata %s\n", strata_version());
        rc = CLI_EXIT_OK;
    } else {
        fprintf(stderr, "strata: unknown command '%s' (see 'strata --help')\n", cmd);
        rc = CLI_EXIT_USAGE;
    }
    free((void *)cli_g.props);
    return rc;
}
