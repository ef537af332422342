/*
 * cli_util: what every `strata` command shares: the global options
 * (-b/--bootstrap-server, --json, -X key=value client properties,
 * --help), building a strata_conf_t from them, the exit codes, one-line
 * error reporting, and small parsers. Each command module parses its own
 * options with getopt_long, including the global ones (so they work
 * before or after the command name).
 */
#ifndef CLI_UTIL_H
#define CLI_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client/strata.h"
#include "common/st_clock.h"

#define CLI_EXIT_OK 0
#define CLI_EXIT_ERROR 1
#define CLI_EXIT_USAGE 2

/* Long option values for the global options. */
#define CLI_OPT_JSON 1000
#define CLI_OPT_HELP 'h'

typedef struct cli_globals {
    const char *bootstrap; /* NULL: $STRATA_BOOTSTRAP or tcp://127.0.0.1:9092 */
    bool json;
    const char **props; /* -X key=value */
    size_t n_props;
} cli_globals_t;

extern cli_globals_t cli_g;

/* Handle a global option returned by getopt_long: 'b', 'X', CLI_OPT_JSON.
 * Returns true when it was one. */
bool cli_global_opt(int c, const char *arg);
/* The global options, for splicing into a command's option table. */
#define CLI_GLOBAL_LONGOPTS                                                                                  \
    {"bootstrap-server", required_argument, NULL, 'b'}, {"json", no_argument, NULL, CLI_OPT_JSON},           \
        {"property", required_argument, NULL, 'X'},                                                          \
    {                                                                                                        \
        "help", no_argument, NULL, 'h'                                                                       \
    }
#define CLI_GLOBAL_SHORTOPTS "b:X:h"
#define CLI_GLOBAL_HELP                                                                                      \
    "  -b, --bootstrap-server URLS  brokers (default $STRATA_BOOTSTRAP or tcp://127.0.0.1:9092)\n"           \
    "  -X, --property KEY=VALUE     set a client property (see docs/client.md)\n"                            \
    "      --json                   machine-readable output\n"                                               \
    "  -h, --help                   this help\n"

/* A configuration from the globals (and props); NULL after printing an error. */
strata_conf_t *cli_conf(void);
/* Set one property, printing an error; false on failure. */
bool cli_conf_set(strata_conf_t *conf, const char *key, const char *value);

/* Print "strata: <message>" on stderr. */
void cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print "strata: <message>" and a hint to use --help; returns CLI_EXIT_USAGE. */
int cli_usage_err(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Was -X key=... given? */
bool cli_has_prop(const char *key);
/* Print "strata: <what>: <error>", adding which brokers were tried when
 * the error means no broker answered. */
void cli_err_call(const char *what, strata_err_t e);

/* Parsers: true on success. */
bool cli_parse_i64(const char *s, int64_t *out);
bool cli_parse_i32(const char *s, int32_t *out);

/* Append a value to a growable array of strings. */
bool cli_strv_push(const char ***v, size_t *n, const char *s);

#endif
