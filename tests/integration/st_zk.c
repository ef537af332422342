/*
 * st_zk: `strata zk` as a stand-alone program for the integration tests
 * and scripts that must work before (or without) the full CLI: st_zk
 * check|tree|get|create|set|delete ... behaves exactly as `strata zk ...`.
 */
#include "cli/cli_zk.h"

int main(int argc, char **argv)
{
    return cli_zk_main(argc, argv);
}
