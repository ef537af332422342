/*
 * cli_reassign: `strata topic elect-leaders` and `strata topic reassign`
 * (ElectLeaders, AlterPartitionReassignments, ListPartitionReassignments).
 * Owns the option state those subcommands share with cli_topic's option
 * loop (--topic/--partition/--replicas triples, --type, --list, --cancel,
 * --reassignment-json-file) and the parser of Kafka's reassignment JSON
 * ({"version":1,"partitions":[{"topic":..,"partition":..,"replicas":[..]}]}).
 */
#ifndef CLI_REASSIGN_H
#define CLI_REASSIGN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client/strata.h"

/* One --topic [--partition [--replicas]] group, or one JSON entry.
 * partition -1 = every partition of the topic. */
typedef struct cli_tpr {
    char *topic;
    int32_t partition;
    bool partition_given;
    int32_t *replicas;
    size_t n_replicas;
    bool replicas_given;
} cli_tpr_t;

typedef struct cli_reassign_opts {
    cli_tpr_t *v;
    size_t n;
    const char *type; /* "preferred" (default) or "unclean" */
    const char *json_file;
    bool list;
    bool cancel;
} cli_reassign_opts_t;

/* Long option values handled by cli_reassign_opt. */
enum {
    CLI_RA_TOPIC = 2100,
    CLI_RA_PARTITION,
    CLI_RA_REPLICAS,
    CLI_RA_TYPE,
    CLI_RA_JSON,
    CLI_RA_LIST,
    CLI_RA_CANCEL,
};
#define CLI_REASSIGN_LONGOPTS                                                                                \
    {"topic", required_argument, NULL, CLI_RA_TOPIC},                                                        \
        {"partition", required_argument, NULL, CLI_RA_PARTITION},                                            \
        {"replicas", required_argument, NULL, CLI_RA_REPLICAS},                                              \
        {"type", required_argument, NULL, CLI_RA_TYPE},                                                      \
        {"reassignment-json-file", required_argument, NULL, CLI_RA_JSON},                                    \
        {"list", no_argument, NULL, CLI_RA_LIST},                                                            \
    {                                                                                                        \
        "cancel", no_argument, NULL, CLI_RA_CANCEL                                                           \
    }

/* Take one option c (a CLI_RA_* value) with argument arg. false with a
 * message in err on a bad value (--partition before --topic, a bad
 * replica list, --replicas twice for one partition, ...). */
bool cli_reassign_opt(cli_reassign_opts_t *o, int c, const char *arg, char *err, size_t errlen);
void cli_reassign_opts_free(cli_reassign_opts_t *o);

/* Parse "1,2,3" into a malloc'd array of broker ids (>= 0, no repeats,
 * at least one). */
bool cli_parse_replicas(const char *s, int32_t **out, size_t *n);
/* Append the entries of a Kafka reassignment JSON document to o->v.
 * false with a message in err on anything malformed. */
bool cli_reassign_parse_json(cli_reassign_opts_t *o, const char *text, char *err, size_t errlen);

/* The subcommands; exit status. */
int cli_topic_elect_leaders(strata_admin_t *a, const cli_reassign_opts_t *o, int timeout_ms);
int cli_topic_reassign(strata_admin_t *a, cli_reassign_opts_t *o, int timeout_ms);

#endif
