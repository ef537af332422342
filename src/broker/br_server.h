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

#include "common/st_err.h"
#include "strata.pb-c.h"

typedef struct br_server br_server_t;

/* One request waiting for its answer. Valid until answered (exactly once)
 * or until the server closes (then br_call_is_closing() holds and the
 * handler must answer or drop it promptly). */
typedef struct br_call br_call_t;

uint64_t br_call_correlation_id(const br_call_t *call);
int32_t br_call_replica_id(const br_call_t *call);   /* -1 for clients */
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

#endif
