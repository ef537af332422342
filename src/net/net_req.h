/*
 * net_req: the one nng request client of the tree, used by the
 * follower's fetcher, the broker's controlled-shutdown client and
 * libstrata. It owns two things and nothing about threads or loops:
 *
 *   - a req0 socket set up the way every strata sender needs it
 *     (net_sock_open): never resending (a resent produce would be
 *     appended twice), a bound on the size of an answer, reconnect
 *     back-off, an optional pipe-event hook, a non-blocking dial;
 *   - one exchange on its own context (net_req_t): send, then receive
 *     the answer, each with its own timeout, completed by one callback
 *     on nng's thread.
 *
 * The callback runs on one of nng's threads: it must only hand the
 * outcome to its owner (a queue and an ev_async on the broker's core
 * loop, a done list and a condition variable in libstrata), never call
 * back into nng for the same exchange. Exchange states:
 *
 *   IDLE -> net_req_start -> SEND -> (a connection took it) -> RECV
 *   SEND -> failure/timeout -> done(err, reply NULL, sent false) -> IDLE
 *   RECV -> answer -> done(ST_OK, reply, sent true) -> IDLE
 *   RECV -> failure/timeout -> done(err, NULL, sent true) -> IDLE
 */
#ifndef NET_REQ_H
#define NET_REQ_H

#include <nng/nng.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/st_err.h"

/* nng's error as strata's: ETIMEDOUT -> REQUEST_TIMED_OUT, ECLOSED and
 * ECANCELED -> CLOSED, ENOMEM -> NOMEM, address/argument errors ->
 * INVALID_CONFIG, anything else -> NETWORK_EXCEPTION. */
st_err_t net_err(int rv);

typedef struct net_sock_opts {
    size_t recv_max;          /* largest answer accepted; 0 = nng's default */
    int64_t reconnect_min_ms; /* first reconnect delay; 0 = nng's default */
    int64_t reconnect_max_ms; /* back-off cap; below min means min */
    nng_pipe_cb pipe_cb;      /* optional: called on connect and on loss */
    void *pipe_arg;
} net_sock_opts_t;

/* Open a req0 socket with those options and start dialling url in the
 * background (an unreachable peer only delays answers). On error the
 * socket is closed again and *rv (when not NULL) gets nng's code. */
st_err_t net_sock_open(nng_socket *sock, const char *url, const net_sock_opts_t *o, int *rv);

typedef enum net_phase {
    NET_IDLE = 0,
    NET_SEND,
    NET_RECV,
} net_phase_t;

/* The end of an exchange, on nng's thread. reply (the callback owns it)
 * is non-NULL only with ST_OK after a receive; sent says whether a
 * connection took the request (a send timeout means none came up). */
typedef void (*net_done_fn)(void *arg, st_err_t err, nng_msg *reply, bool sent);
/* Optional, on nng's thread, when the request was sent and before the
 * receive starts: return false to end the exchange with ST_ERR_CLOSED
 * (the owner is closing). */
typedef bool (*net_sent_fn)(void *arg);

typedef struct net_req {
    nng_ctx ctx;
    nng_aio *aio;
    bool ctx_open;
    net_phase_t phase;       /* touched by nng's thread while not IDLE */
    int64_t recv_timeout_ms; /* < 0: none */
    bool no_reply;           /* done as soon as it is sent */
    net_done_fn done;
    net_sent_fn sent;
    void *arg;
} net_req_t;

/* Prepare an exchange on sock: its own context and aio. */
st_err_t net_req_init(net_req_t *r, nng_socket sock, net_done_fn done, void *arg);
/* Send msg (taken, also on failure) with send_timeout_ms for a
 * connection to take it, then wait recv_timeout_ms for the answer
 * (negative: no timeout). The exchange must be IDLE. */
void net_req_start(net_req_t *r, nng_msg *msg, int64_t send_timeout_ms, int64_t recv_timeout_ms);
/* Cancel the exchange in flight: done runs with ST_ERR_CLOSED. */
void net_req_cancel(net_req_t *r);
/* Stop (waits for a callback in progress; done does not run after),
 * close the context, free the aio. Safe on a zeroed or failed one. */
void net_req_fini(net_req_t *r);

#endif
