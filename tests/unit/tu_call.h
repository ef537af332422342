/*
 * tu_call: the test double of br_call shared by the broker data-plane unit
 * tests (test_partition, test_idempotence, test_cleaner_sched, test_group).
 * It owns a fake request context that records what the broker answers:
 * the encoded reply bytes, how many replies and drops there were; tu_call_response
 * decodes the one reply with the public protobuf-c code. Linking it
 * provides br_call_* in place of br_server's network-backed versions.
 */
#ifndef TU_CALL_H
#define TU_CALL_H

#include <stddef.h>
#include <stdint.h>

#include "broker/br_call.h"
#include "strata.pb-c.h"

struct br_call {
    uint64_t corr;
    int32_t replica_id; /* -1: a client; >= 0: a follower broker */
    int replies;
    int drops;
    const char *principal; /* br_call_principal; NULL: User:ANONYMOUS */
    uint8_t *buf;          /* the last reply, encoded */
    size_t len;
};

/* A fresh call with correlation id corr from replica_id (-1 for a client). */
void tu_call_init(br_call_t *c, uint64_t corr, int32_t replica_id);
/* Free the captured reply. */
void tu_call_fini(br_call_t *c);
/* The single captured reply, decoded (fatal CUnit assertion otherwise);
 * free with strata__response__free_unpacked. */
Strata__Response *tu_call_response(const br_call_t *c);

#endif
