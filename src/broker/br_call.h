/*
 * br_call: one request the broker received, as its handler sees it: who
 * sent it and the one way to answer it. This is the whole interface the
 * data plane, the group coordinator and the control plane have to the
 * request server (br_server), so their unit tests link a test double of
 * it (tests/unit/tu_call.c) instead of sockets. Core loop only.
 */
#ifndef BR_CALL_H
#define BR_CALL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/st_err.h"
#include "strata.pb-c.h"

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
/* The peer's host alone ("127.0.0.1"; the whole peer text when it has no
 * host), as ACL bindings match it. */
const char *br_call_host(const br_call_t *call);
/* The principal the sender's connection authenticated as, Kafka style
 * ("User:alice"); "User:ANONYMOUS" on a listener without authentication. */
const char *br_call_principal(const br_call_t *call);

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

/* Tag the call (tag >= 0; -1, the default, is none): the server's
 * `answered` hook gets the tag and the call's latency when it is answered
 * or dropped (dispatch tags each call with its row of the API table). */
void br_call_set_tag(br_call_t *call, int tag);

/* True once the server is shutting down (the handler must answer or
 * drop the call promptly). */
bool br_call_is_closing(const br_call_t *call);

#endif
