/*
 * br_fetcher: the network side of a follower. One fetcher per source
 * (leader) broker carries every request for the partitions this broker
 * follows from it: a cooked nng REQ socket dialled to the leader's URL,
 * one request in flight, the next one sent as soon as the previous answer
 * is applied. What to ask and what to do with the answer is br_pm's
 * (br_pm_follow_next / br_pm_follow_answer / br_pm_follow_failed): the
 * fetcher only moves bytes. nng completes its aio on its own threads; the
 * callback only queues the result under a mutex and signals an ev_async,
 * so everything else runs on the core loop. Owns: the socket, the aio,
 * the result queue and the request in flight.
 */
#ifndef BR_FETCHER_H
#define BR_FETCHER_H

#include <ev.h>
#include <stddef.h>
#include <stdint.h>

#include "partition/br_pm.h"
#include "common/st_err.h"

typedef struct br_fetcher br_fetcher_t;

typedef struct br_fetcher_config {
    int32_t self_id;
    int32_t source_id;  /* the leader broker */
    const char *url;    /* its nng URL (copied) */
    size_t recv_max;    /* largest answer accepted */
    int64_t timeout_ms; /* an answer later than this fails the request */
} br_fetcher_config_t;

/* Open the socket and start dialling (in the background: an unreachable
 * leader only delays answers). Sends nothing until kicked. Core loop. */
st_err_t br_fetcher_new(struct ev_loop *loop, br_pm_t *pm, const br_fetcher_config_t *cfg,
                        br_fetcher_t **out);
/* There may be new work: when idle, ask br_pm for a request on the next
 * loop iteration. Cheap; call as often as needed. */
void br_fetcher_kick(br_fetcher_t *f);
/* Cancel the request in flight (its answer is dropped), close, free.
 * Waits for nng's callback to finish. */
void br_fetcher_free(br_fetcher_t *f);

#endif
