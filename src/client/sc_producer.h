/*
 * sc_producer: the strata_producer_* calls. send() appends into the
 * accumulator under the client lock; the I/O thread's tick closes
 * lingering batches and, per broker and up to
 * max.in.flight.requests.per.connection times, packs every ready batch of
 * the partitions that broker leads into one Produce request (up to
 * max.request.size). Responses turn into delivery reports, retries (back
 * at the head of their partition queue, after retry.backoff.ms) or
 * failures. Records of a topic whose metadata is not known yet wait in a
 * pending list (the only per-record allocation) until it arrives or
 * max.block.ms passes (then they fail with the topic's metadata error,
 * e.g. UNKNOWN_TOPIC_OR_PARTITION, as Kafka's send() would).
 */
#ifndef SC_PRODUCER_H
#define SC_PRODUCER_H

#include "client/sc_accum.h"
#include "client/strata.h"
#include "common/st_err.h"
#include "strata.pb-c.h"

/* The outcome of one batch of a Produce request. */
typedef struct sc_outcome {
    st_err_t err;
    int64_t base; /* offset of its first record, -1 unknown */
} sc_outcome_t;

/* Outcomes of the batches of one Produce request (the list `batches`,
 * grouped by topic then partition, in the order sent) into oc[0..n):
 * err != ST_OK for every batch when the request failed as a whole; with
 * presp NULL (acks=0) every batch succeeded at an unknown offset;
 * otherwise each batch takes its partition result's error and offset. */
void sc_produce_outcomes(const Strata__ProduceResponse *presp, st_err_t err, const sc_batch_t *batches,
                         sc_outcome_t *oc);

#endif
