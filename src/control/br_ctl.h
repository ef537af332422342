/*
 * br_ctl (br_ctl): the cluster controller, active on the one broker
 * that holds the ephemeral /controller znode. On winning it bumps
 * /controller_epoch with a conditional set (creating it as 1 if absent);
 * every later write is a zoo_multi that starts with a check of that
 * znode's version, so a deposed controller's writes fail. It reconciles
 * ZooKeeper with the metadata cache (br_md, which watches brokers, topics
 * and states for it): creates the state of new partitions (leader = first
 * live replica, ISR = live replicas), elects a new leader from the live
 * ISR when a leader dies (unclean election only when the topic allows
 * it), drops dead brokers from the ISR, brings offline partitions back
 * when an ISR member returns, adds a topic_id to topics written by hand,
 * and carries out /admin/delete_topics requests. Losers watch /controller
 * and run for election when it goes. It also moves leadership on request
 * (controlled shutdown, ElectLeaders, automatic rebalance), writes the
 * ISR changes leaders propose and carries out partition reassignments.
 * It sees the broker through the control-plane context (br_cp.h). Owns:
 * the controller role and its in-flight writes. Core loop only.
 *
 * Pieces: br_ctl.c (election, epoch, work items and jobs, life cycle),
 * br_ctl_reconcile.c, br_ctl_shutdown.c, br_ctl_isr.c, br_ctl_reassign.c,
 * sharing br_ctl_int.h.
 */
#ifndef BR_CTL_H
#define BR_CTL_H

#include <stdbool.h>
#include <stdint.h>

#include "broker/br_call.h"
#include "control/br_cp.h"
#include "coord/zknode.h"
#include "strata.pb-c.h"

#define BR_REASSIGN_PATH "/admin/reassign_partitions"

/* A controller working through cp (kept, not copied: it must outlive the
 * controller; cp->md must be set). Idle until br_ctl_start. NULL on out
 * of memory. */
br_ctl_t *br_ctl_new(const br_cp_t *cp);
void br_ctl_free(br_ctl_t *ctl);
/* New registered session: run for controller. */
void br_ctl_start(br_ctl_t *ctl);
/* Session lost: stop acting as controller at once. */
void br_ctl_resign(br_ctl_t *ctl);
/* The metadata cache changed: reconcile when active. */
void br_ctl_md_changed(br_ctl_t *ctl);
/* Retry failed work about once a second. */
void br_ctl_tick(br_ctl_t *ctl);
bool br_ctl_active(const br_ctl_t *ctl);
int32_t br_ctl_epoch(const br_ctl_t *ctl);
/* Leader elections this broker's controller made after a leader failed
 * (reconciliation), since the process started: *clean from the ISR,
 * *unclean from outside it (unclean.leader.election.enable). */
void br_ctl_elections(const br_ctl_t *ctl, uint64_t *clean, uint64_t *unclean);

/* ---- controlled shutdown, elections, reassignment -------------------- */

typedef struct br_ctl_tp {
    const char *topic;
    int32_t partition;
} br_ctl_tp_t;

/* Outcome of a controlled shutdown: err NOT_CONTROLLER (not, or no
 * longer, the controller), BROKER_NOT_AVAILABLE (no registration of
 * broker_id is known), STALE_BROKER_EPOCH (broker_epoch is not exactly
 * the czxid of its current registration: older, newer or forged; logged
 * once a minute), or ST_OK with the
 * partitions broker_id still leads (valid during the call only). */
typedef void (*br_ctl_cs_fn)(void *arg, st_err_t err, const br_ctl_tp_t *remaining, size_t n);
/* Broker broker_id (epoch broker_epoch) is stopping: move every partition
 * it leads to another live ISR member (leader epoch + 1, the broker
 * dropped from the ISR when others remain), drop it from the ISR of the
 * partitions it follows, and no longer elect it. fn runs once, when the
 * writes completed (possibly before this returns). */
void br_ctl_controlled_shutdown(br_ctl_t *ctl, int32_t broker_id, int64_t broker_epoch, br_ctl_cs_fn fn,
                                void *arg);
/* True while broker id is in controlled shutdown (as seen here). */
bool br_ctl_shutting_down(br_ctl_t *ctl, int32_t id);

/* The request handlers (the broker's request table, br_api, calls them):
 * ElectLeaders answers NOT_CONTROLLER on a broker that is not the
 * controller; the reassignment calls work on any broker (they go through
 * /admin/reassign_partitions). Each reads its own body from req; req and that
 * body are non-NULL (the caller answers an empty body), the broker is
 * registered in ZooKeeper (the caller answers BROKER_NOT_AVAILABLE
 * otherwise), and the call is answered exactly once, now or later. */

/* ControlledShutdown (body controlled_shutdown): only from the stopping
 * broker itself (a broker's request, broker_epoch > 0, replica_id ==
 * broker_id), else INVALID_REQUEST; then br_ctl_controlled_shutdown,
 * answered with its outcome (NOT_CONTROLLER on a broker that is not the
 * controller). */
void br_ctl_handle_controlled_shutdown(br_ctl_t *ctl, br_call_t *call, const Strata__Request *req);
/* ElectLeaders (body elect_leaders): NOT_CONTROLLER unless this broker is
 * the active controller with a ready cache; else a preferred or unclean
 * election of each partition asked (none: every partition, reporting only
 * those acted on), answered when the writes completed. */
void br_ctl_handle_elect_leaders(br_ctl_t *ctl, br_call_t *call, const Strata__Request *req);
/* AlterPartitionReassignments (body alter_partition_reassignments), any
 * broker: validates each entry against the cache (known partition, live
 * distinct target brokers; no replicas: cancel) and merges the valid ones
 * into /admin/reassign_partitions with a version check. */
void br_ctl_handle_alter_partition_reassignments(br_ctl_t *ctl, br_call_t *call, const Strata__Request *req);
/* ListPartitionReassignments (body list_partition_reassignments), any
 * broker: the pending entries of /admin/reassign_partitions (those asked,
 * or all), with adding and removing replicas as the cache shows them. */
void br_ctl_handle_list_partition_reassignments(br_ctl_t *ctl, br_call_t *call, const Strata__Request *req);

/* br_pm_isr_change_fn (arg: the br_ctl): the leader's proposed ISR is
 * written to the state znode with a set conditional on its version, only
 * while the znode still names this broker leader at leader_epoch
 * (BADVERSION: read again and retry, at most a few times); then the
 * metadata cache and the partition manager get the new state. */
void br_ctl_isr_change(void *arg, const char *topic, int32_t partition, int32_t leader_epoch,
                       const int32_t *isr, size_t n_isr);

/* The next step of one reassignment (unit-tested): target T of a partition
 * with replicas R, ISR and leader. Returns
 *   0 done (R == T and ISR within T),
 *   1 write the replica list *out (T then R \ T: adding the new ones),
 *   2 wait (new replicas not in the ISR yet, or no live target to lead),
 *   3 write state: leader *new_leader, ISR = ISR & T (leader epoch + 1):
 *     first when the leader is not in T, last when R == T but the ISR
 *     still holds a removed replica,
 *   4 write the replica list *out = T (removing the old ones).
 * *out (malloc'd, *n_out entries) is set for 1 and 4. */
int br_reassign_step(const int32_t *target, size_t n_target, const int32_t *replicas, size_t n_replicas,
                     const int32_t *isr, size_t n_isr, int32_t leader, bool (*live)(void *arg, int32_t id),
                     void *arg, int32_t **out, size_t *n_out, int32_t *new_leader);

/* Pure election rule (unit-tested): the state that should follow `cur`
 * given which brokers are live. Returns true and fills *out (isr
 * malloc'd) when a write is needed. `live(arg, id)` answers liveness. */
bool br_ctl_next_state(const zknode_part_state_t *cur, const int32_t *replicas, size_t n_replicas,
                       bool unclean, bool (*live)(void *arg, int32_t id), void *arg,
                       zknode_part_state_t *out);

#endif
