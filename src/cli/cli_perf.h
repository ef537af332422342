/*
 * cli_perf: `strata perf produce|consume`, the throughput and latency
 * tools (like kafka-producer-perf-test / kafka-consumer-perf-test): a
 * progress line every 5 s and a final summary, as text or --json.
 */
#ifndef CLI_PERF_H
#define CLI_PERF_H

#include <stddef.h>
#include <stdint.h>

/* argv[0] is "perf". Returns the exit status. */
int cli_perf_main(int argc, char **argv);

/* Percentile p (0..100) of n sorted values (nearest rank); 0 when n == 0. */
int64_t cli_perf_percentile(const int64_t *sorted, size_t n, double p);

#endif
