/*
 * cli_health: `strata cluster health [--watch]`: one screen read at a
 * glance: the brokers, the controller, partition health counts (offline,
 * under-replicated, healthy) and the groups lagging most, from a Metadata
 * request, the group listing and each group's committed offsets against
 * the partitions' high watermarks. Its exit status says whether the
 * cluster is healthy (CLI_HEALTH_UNHEALTHY when any partition is offline
 * or under-replicated or no controller is active).
 */
#ifndef CLI_HEALTH_H
#define CLI_HEALTH_H

#include <stdbool.h>
#include <stdint.h>

/* Exit status of an unhealthy cluster (1 is an error, 2 a usage error). */
#define CLI_HEALTH_UNHEALTHY 3

/* One check (watch false), or a redrawn screen every interval_s seconds
 * until interrupted (watch true). Returns the exit status of the last
 * check: 0 healthy, CLI_HEALTH_UNHEALTHY, or CLI_EXIT_ERROR. */
int cli_health_run(int64_t timeout_ms, bool watch, int interval_s);

#endif
