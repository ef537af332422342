/*
 * cli_produce: `strata produce`, like `kcat -P`: one record per stdin
 * line, optional key split at a separator, headers, acks and compression.
 */
#ifndef CLI_PRODUCE_H
#define CLI_PRODUCE_H

/* argv[0] is "produce". Returns the exit status. */
int cli_produce_main(int argc, char **argv);

#endif
