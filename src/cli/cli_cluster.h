/*
 * cli_cluster: `strata cluster describe`: brokers, the controller, and
 * the partitions that are offline (no leader) or under-replicated (ISR
 * smaller than the replica list), from one Metadata request.
 */
#ifndef CLI_CLUSTER_H
#define CLI_CLUSTER_H

/* argv[0] is "cluster". Returns the exit status. */
int cli_cluster_main(int argc, char **argv);

#endif
