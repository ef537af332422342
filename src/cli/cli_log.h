/*
 * cli_log: `strata log dump PATH [--records] [--index] [--json]`, the
 * offline look at a partition's files (like kafka-dump-log.sh). PATH is a
 * segment (.log), an index (.index, .timeindex) or a whole partition
 * directory (every segment in order, plus partition.meta,
 * log-start-offset, leader-epoch-checkpoint, the producer-state
 * snapshots and the log directory's recovery point and high watermark
 * for the partition). Each batch is shown with its offsets, epochs,
 * producer fields, timestamps, attributes, position, size and CRC
 * status; --records adds its records, --index the index entries and
 * their consistency with the batches. Everything is read through the
 * storage library's read-only walkers (sl_walk, sl_index_open_readonly):
 * nothing is written, so it works on a stopped broker's directory and
 * on a copy of a live one. Exit status: 0 when everything is intact, 1
 * when anything is invalid (CRC, truncation, offsets, index) or cannot
 * be read, 2 on a usage error.
 */
#ifndef CLI_LOG_H
#define CLI_LOG_H

/* argv[0] is "log". Returns the exit status. */
int cli_log_main(int argc, char **argv);

#endif
