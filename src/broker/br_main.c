/*
 * stratad: the broker daemon. Parses the command line, loads the
 * configuration (file, then --override key=value), opens the log, builds
 * the core (br_core) on libev's default loop and runs it until SIGTERM /
 * SIGINT (exit 0) or a fatal start-up error (exit 1).
 *
 *   stratad -c server.properties [--override key=value]... [--print-config-docs]
 */
#include <ev.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "broker/br_config.h"
#include "broker/br_core.h"
#include "common/st_log.h"

static void usage(FILE *out)
{
    fputs("usage: stratad -c server.properties [--override key=value]...\n"
          "       stratad --print-config-docs\n"
          "\n"
          "  -c, --config FILE        broker properties (key=value lines)\n"
          "  -o, --override K=V       set a property, overriding the file (repeatable)\n"
          "      --print-config-docs  print docs/configuration.md and exit\n"
          "  -h, --help               this help\n"
          "\n"
          "Signals: SIGTERM/SIGINT stop gracefully, SIGHUP reopens log.file.\n",
          out);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"override", required_argument, NULL, 'o'},
        {"print-config-docs", no_argument, NULL, 'D'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config_path = NULL;
    char **overrides = calloc((size_t)argc + 1, sizeof *overrides);
    size_t n_overrides = 0;
    int c, rc = 1;
    br_config_t conf;
    br_config_init(&conf);
    if (!overrides)
        goto out;
    while ((c = getopt_long(argc, argv, "c:o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config_path = optarg;
            break;
        case 'o':
            overrides[n_overrides++] = optarg;
            break;
        case 'D':
            br_config_write_docs(stdout);
            rc = fflush(stdout) == 0 ? 0 : 1;
            goto out;
        case 'h':
            usage(stdout);
            rc = 0;
            goto out;
        default:
            usage(stderr);
            rc = 2;
            goto out;
        }
    }
    if (optind < argc || (!config_path && n_overrides == 0)) {
        usage(stderr);
        rc = 2;
        goto out;
    }
    char err[512];
    if (br_config_load(&conf, config_path, overrides, n_overrides, err, sizeof err) != ST_OK) {
        fprintf(stderr, "stratad: configuration error: %s\n", err);
        goto out;
    }
    int level = st_log_level_parse(conf.log_level ? conf.log_level : "info");
    if (st_log_open(conf.log_file, level < 0 ? ST_LOG_INFO : (st_log_level_t)level) != 0) {
        fprintf(stderr, "stratad: log.file=%s: cannot open\n", conf.log_file);
        goto out;
    }
    signal(SIGPIPE, SIG_IGN);
    srandom((unsigned)time(NULL) ^ (unsigned)getpid());
    struct ev_loop *loop = ev_default_loop(EVFLAG_AUTO);
    if (!loop) {
        fprintf(stderr, "stratad: cannot initialise libev\n");
        goto out;
    }
    br_core_t core;
    if (br_core_open(&core, loop, &conf, err, sizeof err) != ST_OK) {
        ST_ERROR("broker", "start-up failed: %s", err);
        fprintf(stderr, "stratad: %s\n", err);
        goto out_log;
    }
    ev_run(loop, 0);
    rc = core.exit_code;
    br_core_close(&core);
out_log:
    st_log_close();
    ev_loop_destroy(loop);
out:
    br_config_free(&conf);
    free(overrides);
    return rc;
}
