/*
 * sc_part: Kafka's default partitioner. Keyed records go to
 * toPositive(murmur2(key)) % partitions with Kafka's murmur2 (Utils.murmur2,
 * seed 0x9747b28c), so a key lands on the same partition as with a Java
 * or librdkafka "murmur2_random" producer. Keyless records use sticky
 * partitioning: they stay on one partition until its batch is closed,
 * then move to another one. Owns: the hash and the sticky choice; pure
 * code, no locks (the caller holds the producer lock).
 */
#ifndef SC_PART_H
#define SC_PART_H

#include <stddef.h>
#include <stdint.h>

/* Kafka's murmur2 of len bytes (signed, as Java returns it). */
int32_t sc_murmur2(const void *data, size_t len);

/* Partition of a keyed record: (murmur2 & 0x7fffffff) % n_partitions. */
int32_t sc_part_for_key(const void *key, size_t len, int32_t n_partitions);

/* Sticky state of one topic for keyless records. */
typedef struct sc_sticky {
    int32_t current; /* -1: none chosen yet */
    uint64_t rng;    /* xorshift state */
} sc_sticky_t;

void sc_sticky_init(sc_sticky_t *s, uint64_t seed);
/* The partition for the next keyless record; chooses one at random among
 * n_partitions when none is current. */
int32_t sc_sticky_get(sc_sticky_t *s, int32_t n_partitions);
/* The batch of partition `closed` was closed: when it is the sticky one,
 * move to a different partition next time (Kafka's onNewBatch). */
void sc_sticky_batch_closed(sc_sticky_t *s, int32_t closed, int32_t n_partitions);

#endif
