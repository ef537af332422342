/*
 * br_call: a received request's sender and its answer (see br_call.h).
 * An answer is the request's nng header (the backtrace raw REP needs)
 * followed by the encoded Response, sent without blocking; when the
 * pipe's queue is full it goes out through an nng_aio of its own.
 */
#include "broker/br_server_int.h"

#include <stdlib.h>
#include <string.h>

#include "common/st_clock.h"
#include "common/st_log.h"

uint64_t br_call_correlation_id(const br_call_t *call)
{
    return call ? call->correlation_id : 0;
}

int32_t br_call_replica_id(const br_call_t *call)
{
    return call ? call->replica_id : -1;
}

int64_t br_call_broker_epoch(const br_call_t *call)
{
    return call ? call->broker_epoch : 0;
}

const char *br_call_peer(const br_call_t *call)
{
    return call ? call->peer : "?";
}

const char *br_call_host(const br_call_t *call)
{
    return call ? call->host : "?";
}

const char *br_call_principal(const br_call_t *call)
{
    return call && call->principal[0] ? call->principal : "User:ANONYMOUS";
}

bool br_call_is_closing(const br_call_t *call)
{
    return !call || !call->srv || call->srv->closing;
}

void br_call_set_tag(br_call_t *call, int tag)
{
    if (call)
        call->tag = tag;
}

static void br_call_unlink_free(br_call_t *call)
{
    br_server_t *s = call->srv;
    if (s && call->tag >= 0 && s->h.answered)
        s->h.answered(s->h.arg, call->tag, st_mono_ns() - call->recv_ns);
    if (s) {
        if (call->prev)
            call->prev->next = call->next;
        else
            s->calls = call->next;
        if (call->next)
            call->next->prev = call->prev;
        s->n_calls--;
    }
    free(call->hdr);
    free(call);
}

typedef struct br_srv_send {
    nng_aio *aio;
} br_srv_send_t;

/* Runs on an nng thread: touches nothing but its own aio and message. */
static void br_srv_send_done(void *arg)
{
    br_srv_send_t *snd = arg;
    if (nng_aio_result(snd->aio) != 0) {
        nng_msg *m = nng_aio_get_msg(snd->aio);
        if (m)
            nng_msg_free(m);
    }
    nng_aio_free(snd->aio);
    free(snd);
}

void br_call_reply_bytes(br_call_t *call, const uint8_t *buf, size_t len)
{
    if (!call)
        return;
    br_server_t *s = call->srv;
    nng_msg *m = NULL;
    if (!s || !s->open)
        goto out;
    if (nng_msg_alloc(&m, len) != 0)
        goto out;
    if (len)
        memcpy(nng_msg_body(m), buf, len);
    if (nng_msg_header_append(m, call->hdr, call->hdr_len) != 0)
        goto out;
    int rv = nng_sendmsg(s->sock, m, NNG_FLAG_NONBLOCK);
    if (rv == 0) {
        m = NULL;
    } else if (rv == NNG_EAGAIN) {
        /* the pipe's queue is full: hand the message to an async send */
        br_srv_send_t *snd = calloc(1, sizeof *snd);
        if (snd && nng_aio_alloc(&snd->aio, br_srv_send_done, snd) == 0) {
            nng_aio_set_msg(snd->aio, m);
            m = NULL;
            nng_send_aio(s->sock, snd->aio);
        } else {
            free(snd);
        }
    } else {
        ST_DEBUG(BR_SRV_TAG, "reply to %s: %s", call->peer, nng_strerror(rv));
    }
out:
    if (m)
        nng_msg_free(m);
    br_call_unlink_free(call);
}

void br_call_reply(br_call_t *call, Strata__Response *resp)
{
    if (!call)
        return;
    resp->correlation_id = call->correlation_id;
    size_t len = strata__response__get_packed_size(resp);
    uint8_t stackbuf[4096];
    uint8_t *buf = len <= sizeof stackbuf ? stackbuf : malloc(len);
    if (!buf) {
        br_call_drop(call);
        return;
    }
    strata__response__pack(resp, buf);
    br_call_reply_bytes(call, buf, len);
    if (buf != stackbuf)
        free(buf);
}

void br_call_reply_error(br_call_t *call, st_err_t err, const char *message)
{
    Strata__Response resp = STRATA__RESPONSE__INIT;
    resp.error = (Strata__ErrorCode)st_err_to_wire(err);
    resp.error_message = (char *)(message ? message : "");
    br_call_reply(call, &resp);
}

void br_call_drop(br_call_t *call)
{
    if (call)
        br_call_unlink_free(call);
}
