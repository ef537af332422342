/*
 * br_admin: the control-plane requests every broker answers: ApiVersions,
 * Metadata (from the br_md cache; optional auto-creation), CreateTopics
 * (validation, round-robin / rack-aware replica assignment, writes
 * /config/topics/<t> then /brokers/topics/<t>, waits for leaders),
 * DeleteTopics (marks /admin/delete_topics/<t>, waits until the controller
 * removed it), CreatePartitions (rewrites the topic znode with a version
 * check), DescribeConfigs and AlterConfigs (topics; brokers read-only).
 * Calls that wait keep their br_call in a pending list, re-checked on
 * every metadata change and answered at the latest when their timeout
 * fires. Owns: the pending admin calls. Core loop only.
 */
#ifndef BR_ADMIN_H
#define BR_ADMIN_H

#include <stddef.h>
#include <stdint.h>

#include "broker/br_server.h"
#include "control/br_cp.h"
#include "strata.pb-c.h"

/* Admin handlers working through cp (kept, not copied: it must outlive
 * them; cp->md and cp->ctl must be set). NULL on out of memory. */
br_admin_t *br_admin_new(const br_cp_t *cp);
/* Answers every pending call with REQUEST_TIMED_OUT (or drops it when
 * the server is closing) and frees. */
void br_admin_free(br_admin_t *ad);
/* Handle a non-data request (any body but produce/fetch/list_offsets). */
void br_admin_handle(br_admin_t *ad, br_call_t *call, const Strata__Request *req);
/* Metadata changed: complete the pending calls that can be. */
void br_admin_md_changed(br_admin_t *ad);

#define BR_OFFSETS_TOPIC "__consumer_offsets"

/* Create __consumer_offsets when missing (at most one attempt a second):
 * n_parts partitions, replication factor min(rf, live brokers),
 * cleanup.policy=compact. Idempotent; asynchronous, fire and forget. */
void br_admin_ensure_offsets_topic(br_admin_t *ad, int32_t n_parts, int16_t rf);

/* Replica assignment (unit-tested): n_parts partitions of rf replicas
 * over brokers[0..n_brokers) (racks[i] may be NULL), starting at
 * start_index; rack-aware when any rack is set. out[p*rf + j] receives
 * replica j of partition p. Returns ST_ERR_INVALID_REPLICATION_FACTOR
 * when rf > n_brokers. */
st_err_t br_admin_assign(const int32_t *brokers, const char *const *racks, size_t n_brokers, int32_t n_parts,
                         int32_t rf, size_t start_index, int32_t first_partition, int32_t *out);

#endif
