/*
 * cli_group: `strata group list|describe|reset-offsets|delete`, consumer
 * group administration through the group calls of libstrata (ListGroups
 * on every broker, DescribeGroups / OffsetFetch / OffsetCommit /
 * DeleteGroups on the group's coordinator). reset-offsets prints its plan
 * unless --execute is given, and only touches an empty group.
 */
#ifndef CLI_GROUP_H
#define CLI_GROUP_H

/* `strata group ...`; argv[0] is "group". Returns a CLI_EXIT_* code. */
int cli_group_main(int argc, char **argv);

#endif
