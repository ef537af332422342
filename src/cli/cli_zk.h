/*
 * cli_zk: `strata zk ...`, the operator's view of the ZooKeeper tree.
 * Owns the subcommands check (validate every znode under the chroot
 * against zk-schema/ and the brokers' own decoders, list deviations and
 * unknown znodes), tree (print every znode with its payload), and the
 * small editing commands get/create/set/delete used to write znodes by
 * hand (like zkCli.sh, without a JVM). Talks to ZooKeeper with the
 * single-threaded client, driving zookeeper_interest/zookeeper_process in
 * a poll loop so every call is synchronous and bounded by --timeout-ms.
 */
#ifndef CLI_ZK_H
#define CLI_ZK_H

/* Entry point for `strata zk ARGS...`; argv[0] is "zk". Returns the exit
 * status: 0 success (check: no deviation), 1 error or deviations found,
 * 2 usage error. */
int cli_zk_main(int argc, char **argv);

#endif
