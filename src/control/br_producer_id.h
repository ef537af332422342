/*
 * br_producer_id: producer ids for idempotent producers (InitProducerId, request
 * body 21). Any broker hands them out, from blocks of BR_PRODUCER_ID_BLOCK_SIZE
 * ids it reserves in ZooKeeper, as Kafka's ZkProducerIdManager does: the
 * znode /latest_producer_id_block holds the last block reserved,
 *   {"version":1,"broker":<id>,"block_start":"<n>","block_end":"<n>"}
 * (numbers as strings, Kafka's layout); a broker reads it, writes the
 * next block with a set conditional on the znode version (BADVERSION:
 * another broker won, read again) or creates it with block 0..999 when
 * absent. Ids are never reused, so a producer id is unique in the
 * cluster. Calls wanting a new id wait while a block is being reserved.
 * A request with an existing producer id and epoch gets the same id with
 * the epoch bumped (a new id once the int16 epoch is exhausted). There
 * are no transactions: a transactional_id is refused.
 * Owns: the current block and the calls waiting for one. Core loop only.
 */
#ifndef BR_PRODUCER_ID_H
#define BR_PRODUCER_ID_H

#include <stddef.h>
#include <stdint.h>

#include "broker/br_call.h"
#include "common/st_err.h"
#include "coord/zkc.h"
#include "strata.pb-c.h"

#define BR_PRODUCER_ID_BLOCK_SIZE 1000
#define BR_PRODUCER_ID_BLOCK_PATH "/latest_producer_id_block"

/* One reserved block of ids, [start, end]. */
typedef struct br_producer_id_block {
    int32_t broker;
    int64_t start;
    int64_t end;
} br_producer_id_block_t;

typedef struct br_producer_id br_producer_id_t;

/* zk: the broker's ZooKeeper client (not owned; paths are relative to
 * its chroot). NULL: no reservation (tests): new ids come only from
 * blocks given with br_producer_id_set_block. NULL on out of memory. */
br_producer_id_t *br_producer_id_new(zkc_t *zk, int32_t broker_id);
/* Answer waiting calls COORDINATOR_NOT_AVAILABLE and free. A ZooKeeper
 * operation still in flight completes harmlessly later. */
void br_producer_id_free(br_producer_id_t *pid);

/* Answer an InitProducerId request, now or once a block is reserved.
 * Errors in the body: INVALID_REQUEST (transactional_id set, or only one
 * of producer_id/producer_epoch given), COORDINATOR_NOT_AVAILABLE
 * (ZooKeeper unreachable or contended: retriable). */
void br_producer_id_handle_init(br_producer_id_t *pid, br_call_t *call,
                                const Strata__InitProducerIdRequest *req);

/* Use ids from b (tests and tools; replaces the current block). */
void br_producer_id_set_block(br_producer_id_t *pid, const br_producer_id_block_t *b);

/* The znode's JSON: encode into a malloc'd NUL-terminated string
 * (ST_ERR_NOMEM), decode (ST_ERR_CORRUPT unless version 1 with sane
 * broker, block_start <= block_end, both >= 0; numbers given as strings
 * or integers). */
st_err_t br_producer_id_block_encode(const br_producer_id_block_t *b, char **out);
st_err_t br_producer_id_block_decode(const char *data, size_t len, br_producer_id_block_t *out);
/* The block to reserve after prev (NULL: none yet, the first block).
 * ST_ERR_STATE when the id space is exhausted. */
st_err_t br_producer_id_block_next(const br_producer_id_block_t *prev, int32_t broker,
                                   br_producer_id_block_t *out);

#endif
