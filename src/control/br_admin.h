/*
 * br_admin: the control-plane requests every broker answers: Metadata (from the br_md cache; optional auto-creation), CreateTopics
 * (validation, round-robin / rack-aware replica assignment, writes
 * /config/topics/<t> then /brokers/topics/<t>, waits for leaders),
 * DeleteTopics (marks /admin/delete_topics/<t>, waits until the controller
 * removed it), CreatePartitions (rewrites the topic znode with a version
 * check), DescribeConfigs and AlterConfigs (topics; brokers read-only).
 * Calls that wait keep their br_call in a pending list, re-checked on
 * every metadata change and answered at the latest when their timeout
 * fires. It sees the broker through the control-plane context (br_cp.h);
 * replicas are placed by br_placement. Owns: the pending admin calls.
 * Core loop only.
 *
 * Pieces: br_admin.c (topics, the pending calls, the switch),
 * br_admin_config.c, br_admin_metadata.c, sharing br_admin_int.h.
 */
#ifndef BR_ADMIN_H
#define BR_ADMIN_H

#include <stddef.h>
#include <stdint.h>

#include "broker/br_call.h"
#include "control/br_cp.h"
#include "strata.pb-c.h"

/* Admin handlers working through cp (kept, not copied: it must outlive
 * them; cp->md and cp->ctl must be set). NULL on out of memory. */
br_admin_t *br_admin_new(const br_cp_t *cp);
/* Answers every pending call with REQUEST_TIMED_OUT (or drops it when
 * the server is closing) and frees. */
void br_admin_free(br_admin_t *ad);
/* The request handlers (the broker's request table, br_api, calls them).
 * Each reads its own body from req; req and that
 * body are non-NULL (the caller answers an empty body), the broker is
 * registered in ZooKeeper (the caller answers BROKER_NOT_AVAILABLE
 * otherwise), and the
 * call is answered exactly once, now or later. */

/* Metadata (body metadata): brokers, cluster id, controller and the topics
 * asked (none: all) from the cache; an unknown topic is auto-created when
 * the request allows it and auto.create.topics.enable is set. */
void br_admin_handle_metadata(br_admin_t *ad, br_call_t *call, const Strata__Request *req);
/* CreateTopics (body create_topics): validates each topic, writes its
 * config and topic znodes, and answers once every topic has leaders (or
 * at timeout_ms; timeout_ms <= 0 or validate_only: once written/checked).
 * Every entry of a name listed more than once is refused (INVALID_REQUEST,
 * "Duplicate topic name."), the others are created. */
void br_admin_handle_create_topics(br_admin_t *ad, br_call_t *call, const Strata__Request *req);
/* DeleteTopics (body delete_topics): marks /admin/delete_topics/<t> and
 * answers once the controller removed the topic (or at timeout_ms);
 * INVALID_TOPIC_EXCEPTION per entry for an invalid name, else
 * UNKNOWN_TOPIC_OR_PARTITION for an unknown one; POLICY_VIOLATION when
 * delete.topic.enable is false. */
void br_admin_handle_delete_topics(br_admin_t *ad, br_call_t *call, const Strata__Request *req);
/* CreatePartitions (body create_partitions): rewrites the topic znode with
 * the new partitions (given or placed) under a version check, and answers
 * once they have leaders (or at timeout_ms). */
void br_admin_handle_create_partitions(br_admin_t *ad, br_call_t *call, const Strata__Request *req);
/* DescribeConfigs (body describe_configs): a topic's effective
 * configuration, or this broker's (another broker's: INVALID_REQUEST). */
void br_admin_handle_describe_configs(br_admin_t *ad, br_call_t *call, const Strata__Request *req);
/* AlterConfigs (body alter_configs): topic overrides (all keys) or a
 * broker's dynamic keys, validated, written to /config/topics/<t> or
 * /config/brokers/<id>; answered once every write completed. */
void br_admin_handle_alter_configs(br_admin_t *ad, br_call_t *call, const Strata__Request *req);
/* Metadata changed: complete the pending calls that can be. */
void br_admin_md_changed(br_admin_t *ad);

#define BR_OFFSETS_TOPIC "__consumer_offsets"

/* Create __consumer_offsets when missing (at most one attempt a second):
 * n_parts partitions, replication factor min(rf, live brokers),
 * cleanup.policy=compact. Idempotent; asynchronous, fire and forget. */
void br_admin_ensure_offsets_topic(br_admin_t *ad, int32_t n_parts, int16_t rf);

#endif
