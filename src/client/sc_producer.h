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

#include "client/strata.h"

#endif
