/*
 * cli_topic: `strata topic create|list|describe|alter|delete` through the
 * admin client (CreateTopics, Metadata, DescribeConfigs, CreatePartitions,
 * AlterConfigs, DeleteTopics).
 */
#ifndef CLI_TOPIC_H
#define CLI_TOPIC_H

/* argv[0] is "topic". Returns the exit status. */
int cli_topic_main(int argc, char **argv);

#endif
