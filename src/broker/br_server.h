/*
 * br_server: the broker's request endpoint. It listens on every nng URL
 * of `listeners` with raw REP sockets, watches their receive fds with
 * libev on the core loop, decodes each request envelope and dispatches it
 * by body case; a handler answers at once or keeps the br_call and
 * answers later (long-poll fetch, acks=all), in any order. Owns: the
 * sockets and every in-flight br_call. Core loop only.
 */
#ifndef BR_SERVER_H
#define BR_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include <ev.h>
#include <stdbool.h>

#include "common/st_err.h"
#include "raw.pb-c.h"
#include "strata.pb-c.h"

typedef struct br_server br_server_t;

/* One request waiting for its answer. Valid until answered (exactly once)
 * or until the server closes (then br_call_is_closing() holds and the
 * handler must answer or drop it promptly). */
typedef struct br_call br_call_t;

uint64_t br_call_correlation_id(const br_call_t *call);
/* The sending broker's id: Request.replica_id when broker_epoch > 0, else
 * -1 (a client; clients leave replica_id 0 = unset). */
int32_t br_call_replica_id(const br_call_t *call);
/* The sender's broker epoch (Request.broker_epoch; 0 when absent): compare
 * with br_md_broker_epoch() to refuse a stale broker (STALE_BROKER_EPOCH). */
int64_t br_call_broker_epoch(const br_call_t *call);
/* Peer address as text ("tcp://127.0.0.1:53412"), for logs. */
const char *br_call_peer(const br_call_t *call);

/* Answer with a protobuf-c Response (correlation id filled in here). */
void br_call_reply(br_call_t *call, Strata__Response *resp);
/* Answer with an already-encoded Response (the fetch path encodes through
 * the raw views of proto/raw.proto). Takes ownership of nothing. */
void br_call_reply_bytes(br_call_t *call, const uint8_t *buf, size_t len);
/* Answer with an envelope-level error only. */
void br_call_reply_error(br_call_t *call, st_err_t err, const char *message);
/* Drop without answering (a malformed request the peer cannot be told
 * about, or shutdown); the peer's request times out. */
void br_call_drop(br_call_t *call);

/* What the server calls with each decoded request. The request is valid
 * only during the call (the server frees it afterwards): a handler that
 * answers later copies what it needs. `produce` receives the raw view of
 * a produce request (batches as bytes); `request` every other body. */
typedef struct br_server_handlers {
    void (*produce)(void *arg, br_call_t *call, const Strata__Raw__RawProduceRequest *req);
    void (*request)(void *arg, br_call_t *call, const Strata__Request *req);
    void *arg;
} br_server_handlers_t;

/* Open one raw REP socket listening on every URL; requests larger than
 * recv_max bytes are refused by nng. err names the failing URL. */
st_err_t br_server_open(struct ev_loop *loop, char *const *urls, size_t n_urls, size_t recv_max,
                        const br_server_handlers_t *h, br_server_t **out, char *err, size_t errlen);
/* Stop reading new requests (graceful shutdown); in-flight calls may
 * still be answered. */
void br_server_stop_accepting(br_server_t *s);
/* Drop every call still in flight, close the socket, free. */
void br_server_close(br_server_t *s);
/* Calls received and not yet answered or dropped. */
size_t br_server_in_flight(const br_server_t *s);
/* True once the server is shutting down. */
bool br_call_is_closing(const br_call_t *call);

/* Decode one request message and hand it to the handlers, or answer
 * INVALID_REQUEST / drop it. Exposed for the fuzzer and unit tests, which
 * pass call == NULL (nothing is answered then, and handlers are not
 * called). Returns ST_OK when the message decoded. */
st_err_t br_server_decode(const uint8_t *buf, size_t len, const br_server_handlers_t *h, br_call_t *call);

#endif
