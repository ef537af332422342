/*
 * br_server_int: what the request server (br_server.c: sockets, decode,
 * dispatch) and its calls (br_call.c: who sent a request, answering it)
 * share: the two structs. Private to src/broker/br_server.c and br_call.c.
 * Core loop only.
 */
#ifndef BR_SERVER_INT_H
#define BR_SERVER_INT_H

#include <nng/nng.h>
#include <time.h>

#include "broker/br_server.h"

#define BR_SRV_TAG "server"
#define BR_SRV_PEER_SLOTS 64

struct br_call {
    br_server_t *srv;
    uint8_t *hdr; /* copy of the request's nng header (backtrace) */
    size_t hdr_len;
    uint64_t correlation_id;
    int32_t replica_id;
    int64_t broker_epoch;
    char peer[160];
    char host[160];      /* peer's host alone (br_call_host) */
    char principal[256]; /* br_call_principal */
    int tag;             /* br_call_set_tag, -1 none */
    int64_t recv_ns;     /* st_mono_ns when received */
    struct br_call *prev, *next;
};

typedef struct br_srv_peer_log {
    char peer[160];
    time_t last;
} br_srv_peer_log_t;

struct br_server {
    struct ev_loop *loop;
    nng_socket sock;
    bool open;
    bool accepting;
    bool closing;
    ev_io rio;
    br_server_handlers_t h;
    br_call_t *calls; /* in flight */
    size_t n_calls;
    br_srv_peer_log_t peers[BR_SRV_PEER_SLOTS];
};

#endif
