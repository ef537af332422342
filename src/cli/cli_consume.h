/*
 * cli_consume: `strata consume`, like `kcat -C`: assign one or every
 * partition of a topic at a start position and print records through a
 * format string (cli_fmt) or as JSON lines.
 */
#ifndef CLI_CONSUME_H
#define CLI_CONSUME_H

/* argv[0] is "consume". Returns the exit status. */
int cli_consume_main(int argc, char **argv);

#endif
