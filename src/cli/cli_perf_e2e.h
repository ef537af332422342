/*
 * cli_perf_e2e: `strata perf e2e`, produce-to-consume latency measured
 * end to end in one process: a fixed-rate producer stamps each record
 * with a monotonic clock, a consumer on another thread subtracts it on
 * receipt; percentiles in microseconds, records late against the
 * schedule, --json. bench/latency-bench runs it against its targets.
 */
#ifndef CLI_PERF_E2E_H
#define CLI_PERF_E2E_H

/* argv: "perf" "e2e" options... Returns the exit status. */
int cli_perf_e2e_main(int argc, char **argv);

#endif
