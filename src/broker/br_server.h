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

#include "broker/br_call.h"
#include "common/st_err.h"
#include "raw.pb-c.h"
#include "strata.pb-c.h"

typedef struct br_server br_server_t;

/* What the server calls with each decoded request. The request is valid
 * only during the call (the server frees it afterwards): a handler that
 * answers later copies what it needs. `produce` receives the raw view of
 * a produce request (batches as bytes); `request` every other body. */
typedef struct br_server_handlers {
    void (*produce)(void *arg, br_call_t *call, const Strata__Raw__RawProduceRequest *req);
    void (*request)(void *arg, br_call_t *call, const Strata__Request *req);
    /* Optional: a call given a tag (br_call_set_tag) was answered or
     * dropped, elapsed_ns after it was received (request latency). */
    void (*answered)(void *arg, int tag, int64_t elapsed_ns);
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

/* Decode one request message and hand it to the handlers, or answer
 * INVALID_REQUEST (undecodable body, no body), UNSUPPORTED_VERSION (a
 * body field number Request does not have: a newer client's) / drop it
 * (not a request envelope). Exposed for the fuzzer and unit tests, which
 * pass call == NULL (nothing is answered then, and handlers are not
 * called). Returns ST_OK when the message decoded. */
st_err_t br_server_decode(const uint8_t *buf, size_t len, const br_server_handlers_t *h, br_call_t *call);

#endif
