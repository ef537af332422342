/*
 * br_controller (br_ctl): the cluster controller, active on the one broker
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
 * and run for election when it goes. Owns: the controller role and its
 * in-flight writes. Core loop only.
 */
#ifndef BR_CONTROLLER_H
#define BR_CONTROLLER_H

#include <stdbool.h>
#include <stdint.h>

#include "broker/br_core.h"
#include "coord/zkp.h"

br_ctl_t *br_ctl_new(br_core_t *core);
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

/* Pure election rule (unit-tested): the state that should follow `cur`
 * given which brokers are live. Returns true and fills *out (isr
 * malloc'd) when a write is needed. `live(arg, id)` answers liveness. */
bool br_ctl_next_state(const zkp_part_state_t *cur, const int32_t *replicas, size_t n_replicas, bool unclean,
                       bool (*live)(void *arg, int32_t id), void *arg, zkp_part_state_t *out);

#endif
