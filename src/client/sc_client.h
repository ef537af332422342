/*
 * sc_client: the hub every libstrata handle is built on. It owns the
 * configuration copy, the broker connections (one nng req0 socket per
 * broker, one nng_ctx + nng_aio per request in flight, so many requests
 * share a socket), the metadata cache (brokers, topic -> partition
 * leaders, controller) and the I/O thread.
 *
 * Threads and locks: `lock` guards every field below. nng's aio
 * callbacks only move a finished request onto the done list and signal
 * `cond`. The I/O thread (sc_client_run) takes finished requests and runs
 * their callbacks WITHOUT the lock, sends queued requests WITHOUT the lock
 * (nng calls are never made under it), refreshes metadata and calls the
 * owner's tick WITH the lock. User threads wait on `ucond`, which the I/O
 * thread broadcasts after any progress.
 */
#ifndef SC_CLIENT_H
#define SC_CLIENT_H

#include <jansson.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "client/sc_conf.h"
#include "common/st_clock.h"
#include "common/st_err.h"
#include "net/net_req.h"
#include "strata.pb-c.h"

typedef struct sc_client sc_client_t;
typedef struct sc_req sc_req_t;
typedef struct sc_broker sc_broker_t;

/* Completion of a request, on the I/O thread, lock NOT held. reply is
 * NULL when err != ST_OK (or for a no-reply request); the callback owns
 * it and must nng_msg_free it. The request is freed after it returns. */
typedef void (*sc_req_cb)(sc_client_t *cl, sc_req_t *rq, st_err_t err, nng_msg *reply);
/* Build the request message, on the I/O thread, lock NOT held. */
typedef st_err_t (*sc_req_build)(sc_client_t *cl, sc_req_t *rq, nng_msg **out);

typedef enum sc_req_state {
    SC_REQ_QUEUED, /* on the send queue */
    SC_REQ_SEND,   /* nng_ctx_send pending */
    SC_REQ_RECV,   /* waiting for the reply */
    SC_REQ_DONE,   /* on the done list */
} sc_req_state_t;

struct sc_req {
    sc_req_t *next;          /* send queue or done list */
    sc_req_t *lprev, *lnext; /* every live request (for cancelling at close) */
    sc_client_t *cl;
    sc_broker_t *br;
    net_req_t net;    /* the exchange (src/net) */
    int64_t start_us; /* handed to the connection (monotonic µs) */
    sc_req_state_t state;
    bool no_reply;     /* acks=0 produce: done once sent */
    bool disconnected; /* cancelled because the broker connection dropped */
    int timeout_ms;
    bool setup_bound; /* the send phase ends at the connection setup timeout */
    nng_msg *msg;     /* prebuilt request (or NULL with build) */
    sc_req_build build;
    sc_req_cb cb;
    void *arg; /* owner's context */
    st_err_t err;
    nng_msg *reply;
};

struct sc_broker {
    sc_client_t *cl;
    int32_t id; /* < 0: bootstrap entry */
    char *url;
    nng_socket sock;
    bool open;
    bool in_md;     /* listed in the latest metadata */
    int inflight;   /* produce requests in flight */
    int fetching;   /* consumer fetches in flight */
    int fetch_cur;  /* of those, sent for the current assignment */
    bool listing;   /* consumer ListOffsets in flight */
    bool pipe_lost; /* connection dropped: abort its requests */
    /* Connection state (Kafka's reconnect.backoff.ms/.max.ms): nng redials
     * on its own; these decide whether requests should go there now. */
    int pipes;          /* live connections (nng pipe add/remove events) */
    bool was_connected; /* had a connection once: none now means down */
    int64_t down_until; /* monotonic ms: avoid until then (backoff) */
    int64_t backoff_ms; /* current backoff, doubles up to the max */
    /* round trips answered since the last statistics report */
    int64_t rtt_n, rtt_sum_us, rtt_max_us;
};

typedef struct sc_mdpart {
    int32_t leader;
    int32_t epoch;
    st_err_t err;
} sc_mdpart_t;

typedef struct sc_mdtopic {
    char *name;
    st_err_t err;
    int32_t n_parts;
    sc_mdpart_t *parts;
} sc_mdtopic_t;

typedef struct sc_ops {
    /* Owner's work, lock held: create requests (sc_client_submit), expire
     * things; lower *next_ms to be woken earlier. */
    void (*tick)(sc_client_t *cl, int64_t now, int64_t *next_ms);
    /* New metadata arrived (lock held). */
    void (*on_metadata)(sc_client_t *cl);
    /* Optional, lock held: add the owner's fields (queues, per-partition
     * positions) to a statistics report (a jansson object). */
    void (*stats)(sc_client_t *cl, json_t *report);
} sc_ops_t;

struct sc_client {
    strata_conf_t conf;
    pthread_mutex_t lock;
    pthread_cond_t cond;  /* wakes the I/O thread */
    pthread_cond_t ucond; /* wakes user threads */
    pthread_t thread;
    bool started;
    bool stopping;
    int64_t wake_at; /* when the sleeping I/O thread wakes */

    sc_broker_t **brokers; /* bootstrap entries first, then by metadata */
    size_t n_brokers;
    size_t rr;

    sc_mdtopic_t *topics;
    size_t n_topics;
    int32_t controller_id;
    unsigned md_version; /* bumps on each metadata update */
    bool md_inflight;
    bool md_wanted;
    bool md_urgent; /* next refresh skips retry.backoff.ms */
    int64_t md_last_ms;
    int64_t md_retry_ms;
    int64_t md_nopipe_since; /* first deferral of a metadata request for
                              * want of any connected broker, 0 = none */
    char **interest;         /* topics to ask for; none = all */
    size_t n_interest;
    bool allow_auto_create;

    sc_req_t *sendq, *sendq_tail;
    sc_req_t *done, *done_tail;
    sc_req_t *live; /* every submitted, not yet freed request */
    int n_reqs;     /* requests alive */
    uint64_t corr;

    const sc_ops_t *ops;
    void *owner;
    const char *kind;      /* "producer", "consumer", "admin" (statistics) */
    int64_t stats_next_ms; /* next statistics report (monotonic ms) */
};

/* Copy conf, open bootstrap sockets, start the I/O thread. With ops NULL
 * (admin) there is no background metadata: only what callers ask for. */
st_err_t sc_client_init(sc_client_t *cl, const strata_conf_t *conf, const sc_ops_t *ops, void *owner,
                        char *err, size_t errlen);
/* Stop: queued requests fail with ST_ERR_CLOSED, requests in flight are
 * left to finish (reply or their own timeout; their callbacks run), then
 * the thread stops, the sockets close and everything is freed. Nothing is
 * cancelled on a live connection: with nng 1.5.2 that makes a later
 * nng_close hang. */
void sc_client_fini(sc_client_t *cl);

/* Lock helpers. */
void sc_client_lock(sc_client_t *cl);
void sc_client_unlock(sc_client_t *cl);
/* Wake the I/O thread (lock held or not). */
void sc_client_wakeup(sc_client_t *cl);
/* Wake the I/O thread if it sleeps past at_ms (lock held). */
void sc_client_wake_by(sc_client_t *cl, int64_t at_ms);
/* Wait on ucond until deadline (monotonic ms, -1 forever); lock held. */
void sc_client_wait(sc_client_t *cl, int64_t deadline_ms);

/* A new request to broker br (lock held or not: see submit). timeout_ms
 * bounds the wait for the reply (-1: none); the wait for a connection to
 * hand the request to is bounded by socket.connection.setup.timeout.ms
 * (and timeout_ms). A request never handed to a connection fails with
 * NETWORK_EXCEPTION (nothing was sent: safe to retry anywhere), one not
 * answered in time with REQUEST_TIMED_OUT; both mark the broker down. */
sc_req_t *sc_req_new(sc_broker_t *br, sc_req_cb cb, void *arg, int timeout_ms);
/* Queue a request for sending; lock held. */
void sc_client_submit(sc_client_t *cl, sc_req_t *rq);

/* Pack a strata.Request (correlation id and client id are filled in). */
st_err_t sc_client_pack(sc_client_t *cl, Strata__Request *req, nng_msg **out);

/* Ask for a metadata refresh soon (lock held). */
void sc_client_md_want(sc_client_t *cl);

/* Lock held: like sc_client_md_want, but the refresh is sent as soon as
 * no other metadata request is in flight, without waiting out
 * retry.backoff.ms (a leader moved or a broker went away: every request
 * for it fails until the new leader is known). Calls made while a request
 * is in flight coalesce into ONE follow-up request. */
void sc_client_md_urgent(sc_client_t *cl);

/* Lock held: want a metadata refresh no later than at_ms (monotonic),
 * earlier than retry.backoff.ms would allow. Used to poll briefly while a
 * leader change is known to be under way. */
void sc_client_md_by(sc_client_t *cl, int64_t at_ms);
/* Add a topic to the metadata interest list (lock held). */
st_err_t sc_client_md_interest(sc_client_t *cl, const char *topic);
/* Metadata of a topic, NULL when unknown (lock held). */
sc_mdtopic_t *sc_client_md_topic(sc_client_t *cl, const char *topic);
/* Broker by id, NULL when unknown (lock held). */
sc_broker_t *sc_client_broker(sc_client_t *cl, int32_t id);
/* Any broker to ask (metadata, admin), Kafka's least-loaded-node idea:
 * brokers from the latest metadata (or the bootstrap list when none is
 * known or all known ones are down), preferring a connected one, then one
 * not marked down, else the one whose backoff ends first; round-robin
 * within the best class. NULL only with no broker at all (lock held). */
sc_broker_t *sc_client_any_broker(sc_client_t *cl);
/* Whether requests should be sent to br now: not in reconnect backoff, and
 * connected unless it never was (a first dial is still under way). A
 * broker whose connection dropped stays unusable until nng's background
 * redial succeeds (lock held). */
bool sc_broker_usable(const sc_broker_t *br, int64_t now);
/* Whether some broker in the candidate set of sc_client_any_broker has a
 * live connection (lock held). */
bool sc_client_any_connected(sc_client_t *cl);
/* Mark br down: its connection failed or a request to it timed out. The
 * backoff starts at reconnect.backoff.ms and doubles up to
 * reconnect.backoff.max.ms; a new connection resets it. With background
 * metadata (ops) a refresh is wanted, from another broker (lock held). */
void sc_broker_mark_down(sc_client_t *cl, sc_broker_t *br, int64_t now);

/* Synchronous call from a user thread (lock NOT held): send req to br
 * (NULL = any broker, waiting up to a second for a first connection so a
 * dead bootstrap entry is skipped; SC_TO_CONTROLLER = the controller when
 * known and usable, else any) and
 * wait for the reply, unpacked into *resp (free with
 * strata__response__free_unpacked). The envelope error is returned. */
#define SC_TO_CONTROLLER ((sc_broker_t *)1)
st_err_t sc_client_call(sc_client_t *cl, sc_broker_t *br, Strata__Request *req, int timeout_ms,
                        Strata__Response **resp);
/* Refresh metadata now from a user thread; waits up to timeout_ms. */
st_err_t sc_client_md_refresh(sc_client_t *cl, int timeout_ms);

#endif
