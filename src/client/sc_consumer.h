/*
 * sc_consumer: the strata_consumer_* calls. Explicit assignment only.
 * Per assigned partition a small state machine:
 *
 *   NEED_OFFSET --ListOffsets sent--> LISTING --answer--> ACTIVE
 *   ACTIVE --OFFSET_OUT_OF_RANGE, reset earliest/latest--> NEED_OFFSET
 *   ACTIVE --OFFSET_OUT_OF_RANGE with reset none, CORRUPT_MESSAGE--> STOPPED
 *   any --seek--> ACTIVE (absolute offset) or NEED_OFFSET (logical/time)
 *
 * The I/O thread keeps one Fetch in flight per broker (long poll
 * fetch.max.wait.ms) and sends the next as soon as the previous answer
 * arrives, while the queue holds less than queued.max.messages.kbytes.
 * Answers are decoded through strata.raw.RawResponse (batches stay bytes),
 * turned into frames (CRC checked) off the lock and queued as one chunk
 * per partition; poll() iterates the records of the head chunk on the
 * caller's thread, so a record is decoded exactly once.
 */
#ifndef SC_CONSUMER_H
#define SC_CONSUMER_H

#include "client/strata.h"

#endif
