/*
 * tu_call: see tu_call.h. br_call_* below replace the versions in
 * br_server.c for the unit tests that drive the data plane directly.
 */
#include "tu_call.h"

#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>

uint64_t br_call_correlation_id(const br_call_t *call)
{
    return call->corr;
}

int32_t br_call_replica_id(const br_call_t *call)
{
    return call->replica_id;
}

const char *br_call_peer(const br_call_t *call)
{
    (void)call;
    return "test";
}

const char *br_call_host(const br_call_t *call)
{
    (void)call;
    return "127.0.0.1";
}

const char *br_call_principal(const br_call_t *call)
{
    return call->principal ? call->principal : "User:ANONYMOUS";
}

void br_call_reply_bytes(br_call_t *call, const uint8_t *buf, size_t len)
{
    free(call->buf);
    call->buf = malloc(len ? len : 1);
    memcpy(call->buf, buf, len);
    call->len = len;
    call->replies++;
}

void br_call_reply(br_call_t *call, Strata__Response *resp)
{
    resp->correlation_id = call->corr;
    size_t n = strata__response__get_packed_size(resp);
    uint8_t *b = malloc(n ? n : 1);
    strata__response__pack(resp, b);
    br_call_reply_bytes(call, b, n);
    free(b);
}

void br_call_reply_error(br_call_t *call, st_err_t err, const char *message)
{
    Strata__Response resp = STRATA__RESPONSE__INIT;
    resp.error = (Strata__ErrorCode)err;
    resp.error_message = (char *)message;
    br_call_reply(call, &resp);
}

void br_call_drop(br_call_t *call)
{
    call->drops++;
}

void tu_call_init(br_call_t *c, uint64_t corr, int32_t replica_id)
{
    memset(c, 0, sizeof *c);
    c->corr = corr;
    c->replica_id = replica_id;
}

void tu_call_fini(br_call_t *c)
{
    free(c->buf);
    c->buf = NULL;
}

Strata__Response *tu_call_response(const br_call_t *c)
{
    CU_ASSERT_FATAL(c->replies == 1);
    Strata__Response *r = strata__response__unpack(NULL, c->len, c->buf);
    CU_ASSERT_FATAL(r != NULL);
    CU_ASSERT_EQUAL(r->correlation_id, c->corr);
    return r;
}
