/*
 * br_server: nng raw REP on the core loop (see br_server.h). A raw REP
 * socket hands each request over with its backtrace in the message header
 * (pipe id + request id); the reply carries a copy of that header, which
 * is what lets calls be answered later and in any order. nng's own
 * threads do the socket I/O; the core only touches the socket through
 * non-blocking calls, plus an nng_aio send when the pipe's queue is full
 * (its callback only frees the aio).
 */
#include "broker/br_server_int.h"

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/st_clock.h"
#include "common/st_log.h"

#define BR_SRV_LOG_INTERVAL_S 10
#define BR_SRV_FIRST_BODY 10 /* Request's first body field number (oneof body) */

/* ------------------------------------------------------------ decode */

/* Log a malformed request at most once per BR_SRV_LOG_INTERVAL_S per peer. */
static void br_srv_log_malformed(br_server_t *s, const char *peer, const char *what)
{
    if (!s) {
        return;
    }
    unsigned h = 5381;
    for (const char *p = peer; *p; p++)
        h = h * 33 + (unsigned char)*p;
    br_srv_peer_log_t *pl = &s->peers[h % BR_SRV_PEER_SLOTS];
    time_t now = time(NULL);
    if (strcmp(pl->peer, peer) == 0 && now - pl->last < BR_SRV_LOG_INTERVAL_S)
        return;
    snprintf(pl->peer, sizeof pl->peer, "%s", peer);
    pl->last = now;
    ST_WARN(BR_SRV_TAG, "malformed request from %s: %s", peer, what);
}

/* One varint at *p (at most 10 bytes, within end); false when cut. */
static bool br_srv_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    uint64_t x = 0;
    for (unsigned shift = 0; shift < 70 && *p < end; shift += 7) {
        uint8_t b = *(*p)++;
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return true;
        }
    }
    return false;
}

/* Walk the envelope's top-level fields without decoding them, to learn
 * which body it carries (the last member of the oneof present wins, as
 * protobuf decoders do) and its correlation id, so that every request is
 * unpacked exactly once: Produce into its raw view, everything else into
 * Request. False when the bytes are not a protobuf message or a header
 * field has the wrong wire type. */
static bool br_srv_peek(const uint8_t *buf, size_t len, uint32_t *body, uint32_t *unknown, uint64_t *corr)
{
    const uint8_t *p = buf, *end = buf + len;
    *body = 0;
    *unknown = 0;
    *corr = 0;
    while (p < end) {
        uint64_t key, v;
        if (!br_srv_varint(&p, end, &key))
            return false;
        uint64_t field = key >> 3;
        unsigned wt = (unsigned)(key & 7);
        if (field == 0 || field > 0x1fffffff)
            return false;
        if (field <= 4 && wt != (field == 2 ? 2u : 0u))
            return false; /* correlation_id, client_id, replica_id, broker_epoch */
        switch (wt) {
        case 0:
            if (!br_srv_varint(&p, end, &v))
                return false;
            if (field == 1)
                *corr = v;
            break;
        case 1:
            if ((size_t)(end - p) < 8)
                return false;
            p += 8;
            break;
        case 2:
            if (!br_srv_varint(&p, end, &v) || v > (uint64_t)(end - p))
                return false;
            p += v;
            break;
        case 5:
            if ((size_t)(end - p) < 4)
                return false;
            p += 4;
            break;
        default:
            return false; /* groups are not used by proto3 */
        }
        const ProtobufCFieldDescriptor *f =
            protobuf_c_message_descriptor_get_field(&strata__request__descriptor, (unsigned)field);
        if (f && (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF))
            *body = (uint32_t)field;
        else if (!f && field >= BR_SRV_FIRST_BODY && *unknown == 0)
            *unknown = (uint32_t)field; /* a body this broker does not know */
    }
    return true;
}

/* The sender as the envelope names it: a broker only with an epoch
 * (proto: Request.replica_id). */
static void br_srv_sender(br_call_t *call, uint64_t correlation_id, int32_t replica_id, int64_t broker_epoch)
{
    call->correlation_id = correlation_id;
    call->replica_id = broker_epoch > 0 ? replica_id : -1;
    call->broker_epoch = broker_epoch > 0 ? broker_epoch : 0;
}

st_err_t br_server_decode(const uint8_t *buf, size_t len, const br_server_handlers_t *h, br_call_t *call)
{
    br_server_t *s = call ? call->srv : NULL;
    uint32_t body, unknown;
    uint64_t corr;
    if (!br_srv_peek(buf, len, &body, &unknown, &corr)) {
        if (call) {
            br_srv_log_malformed(s, call->peer, "not a request envelope");
            br_call_drop(call);
        }
        return ST_ERR_INVALID_REQUEST;
    }
    if (body == STRATA__REQUEST__BODY_PRODUCE) {
        Strata__Raw__RawRequest *raw = strata__raw__raw_request__unpack(NULL, len, buf);
        if (!raw || raw->body_case != STRATA__RAW__RAW_REQUEST__BODY_PRODUCE || !raw->produce) {
            if (call) {
                call->correlation_id = corr;
                br_srv_log_malformed(s, call->peer, "undecodable produce body");
                br_call_reply_error(call, ST_ERR_INVALID_REQUEST, "malformed produce body");
            }
            if (raw)
                strata__raw__raw_request__free_unpacked(raw, NULL);
            return ST_ERR_INVALID_REQUEST;
        }
        if (call) {
            br_srv_sender(call, raw->correlation_id, raw->replica_id, raw->broker_epoch);
            if (h && h->produce)
                h->produce(h->arg, call, raw->produce);
            else
                br_call_reply_error(call, ST_ERR_INVALID_REQUEST, "produce is not served here");
        }
        strata__raw__raw_request__free_unpacked(raw, NULL);
        return ST_OK;
    }
    Strata__Request *req = strata__request__unpack(NULL, len, buf);
    if (!req) {
        /* the envelope's fields are well formed but a body is not: we can say so */
        if (call) {
            call->correlation_id = corr;
            br_srv_log_malformed(s, call->peer, "undecodable body");
            br_call_reply_error(call, ST_ERR_INVALID_REQUEST, "malformed request body");
        }
        return ST_ERR_INVALID_REQUEST;
    }
    st_err_t rc = ST_OK;
    if (call) {
        br_srv_sender(call, req->correlation_id, req->replica_id, req->broker_epoch);
        if (req->body_case == STRATA__REQUEST__BODY__NOT_SET && unknown) {
            /* a newer client's body: as Kafka answers an unknown API key */
            char msg[96];
            snprintf(msg, sizeof msg, "request body %u is not supported here (see ApiVersions)", unknown);
            br_srv_log_malformed(s, call->peer, msg);
            br_call_reply_error(call, ST_ERR_UNSUPPORTED_VERSION, msg);
            rc = ST_ERR_UNSUPPORTED_VERSION;
        } else if (req->body_case == STRATA__REQUEST__BODY__NOT_SET) {
            br_srv_log_malformed(s, call->peer, "no body");
            br_call_reply_error(call, ST_ERR_INVALID_REQUEST, "request has no body");
            rc = ST_ERR_INVALID_REQUEST;
        } else if (h && h->request) {
            h->request(h->arg, call, req);
        } else {
            br_call_reply_error(call, ST_ERR_UNSUPPORTED_VERSION, "no handler");
        }
    }
    strata__request__free_unpacked(req, NULL);
    return rc;
}

/* ------------------------------------------------------------ socket */

static void br_srv_peer_name(nng_msg *msg, char *out, size_t n)
{
    snprintf(out, n, "?");
    nng_pipe p = nng_msg_get_pipe(msg);
    if (nng_pipe_id(p) <= 0)
        return;
    nng_sockaddr sa;
    if (nng_pipe_get_addr(p, NNG_OPT_REMADDR, &sa) != 0)
        return;
    if (sa.s_family == NNG_AF_INET) {
        const uint8_t *a = (const uint8_t *)&sa.s_in.sa_addr;
        unsigned port =
            ((unsigned)((const uint8_t *)&sa.s_in.sa_port)[0] << 8) | ((const uint8_t *)&sa.s_in.sa_port)[1];
        snprintf(out, n, "tcp://%u.%u.%u.%u:%u", a[0], a[1], a[2], a[3], port);
    } else if (sa.s_family == NNG_AF_IPC) {
        snprintf(out, n, "ipc://%.100s", sa.s_ipc.sa_path);
    } else if (sa.s_family == NNG_AF_INPROC) {
        snprintf(out, n, "inproc://%.100s", sa.s_inproc.sa_name);
    } else {
        snprintf(out, n, "pipe-%d", nng_pipe_id(p));
    }
}

/* "tcp://10.0.0.1:5000" -> "10.0.0.1"; anything else is copied whole. */
static void br_srv_host_of(const char *peer, char *out, size_t n)
{
    const char *h = strncmp(peer, "tcp://", 6) == 0 ? peer + 6 : NULL;
    const char *colon = h ? strrchr(h, ':') : NULL;
    if (h && colon)
        snprintf(out, n, "%.*s", (int)(colon - h), h);
    else
        snprintf(out, n, "%s", peer);
}

static void br_srv_on_msg(br_server_t *s, nng_msg *msg)
{
    br_call_t *call = calloc(1, sizeof *call);
    if (!call)
        return;
    call->srv = s;
    call->replica_id = -1;
    call->tag = -1;
    call->recv_ns = st_mono_ns();
    call->hdr_len = nng_msg_header_len(msg);
    call->hdr = malloc(call->hdr_len ? call->hdr_len : 1);
    if (!call->hdr) {
        free(call);
        return;
    }
    memcpy(call->hdr, nng_msg_header(msg), call->hdr_len);
    br_srv_peer_name(msg, call->peer, sizeof call->peer);
    br_srv_host_of(call->peer, call->host, sizeof call->host);
    call->next = s->calls;
    if (s->calls)
        s->calls->prev = call;
    s->calls = call;
    s->n_calls++;
    br_server_decode(nng_msg_body(msg), nng_msg_len(msg), &s->h, call);
}

static void br_srv_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    (void)revents;
    br_server_t *s = w->data;
    /* bounded batch per wakeup so ZooKeeper and timers keep running */
    for (int i = 0; i < 1024 && s->accepting; i++) {
        nng_msg *msg = NULL;
        int rv = nng_recvmsg(s->sock, &msg, NNG_FLAG_NONBLOCK);
        if (rv == NNG_EAGAIN)
            break;
        if (rv != 0) {
            if (rv != NNG_ECLOSED)
                ST_WARN(BR_SRV_TAG, "nng_recvmsg: %s", nng_strerror(rv));
            break;
        }
        br_srv_on_msg(s, msg);
        nng_msg_free(msg);
    }
}

st_err_t br_server_open(struct ev_loop *loop, char *const *urls, size_t n_urls, size_t recv_max,
                        const br_server_handlers_t *h, br_server_t **out, char *err, size_t errlen)
{
    *out = NULL;
    st_err_t rc = ST_OK;
    br_server_t *s = calloc(1, sizeof *s);
    if (!s)
        return ST_ERR_NOMEM;
    s->loop = loop;
    if (h)
        s->h = *h;
    int rv = nng_rep0_open_raw(&s->sock);
    if (rv != 0) {
        snprintf(err, errlen, "nng_rep0_open_raw: %s", nng_strerror(rv));
        rc = ST_ERR_CONNECTION;
        goto fail;
    }
    s->open = true;
    nng_socket_set_size(s->sock, NNG_OPT_RECVMAXSZ, recv_max);
    nng_socket_set_int(s->sock, NNG_OPT_RECVBUF, 1024);
    nng_socket_set_int(s->sock, NNG_OPT_SENDBUF, 1024);
    for (size_t i = 0; i < n_urls; i++) {
        rv = nng_listen(s->sock, urls[i], NULL, 0);
        if (rv != 0) {
            snprintf(err, errlen, "listen on %s: %s", urls[i], nng_strerror(rv));
            rc = rv == NNG_EADDRINUSE ? ST_ERR_EXISTS : ST_ERR_CONNECTION;
            goto fail;
        }
        ST_INFO(BR_SRV_TAG, "listening on %s", urls[i]);
    }
    int fd = -1;
    rv = nng_socket_get_int(s->sock, NNG_OPT_RECVFD, &fd);
    if (rv != 0) {
        snprintf(err, errlen, "NNG_OPT_RECVFD: %s", nng_strerror(rv));
        rc = ST_ERR_CONNECTION;
        goto fail;
    }
    ev_io_init(&s->rio, br_srv_read_cb, fd, EV_READ);
    s->rio.data = s;
    ev_io_start(loop, &s->rio);
    s->accepting = true;
    *out = s;
    return ST_OK;
fail:
    if (s->open)
        nng_close(s->sock);
    free(s);
    return rc;
}

void br_server_stop_accepting(br_server_t *s)
{
    if (!s || !s->accepting)
        return;
    s->accepting = false;
    ev_io_stop(s->loop, &s->rio);
}

size_t br_server_in_flight(const br_server_t *s)
{
    return s ? s->n_calls : 0;
}

void br_server_close(br_server_t *s)
{
    if (!s)
        return;
    br_server_stop_accepting(s);
    s->closing = true;
    while (s->calls)
        br_call_drop(s->calls);
    if (s->open)
        nng_close(s->sock);
    s->open = false;
    free(s);
}
