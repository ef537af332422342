/*
 * Unit tests of the idempotent producer's pure parts (no network): base
 * sequence assignment per partition and its wrap at INT32_MAX, a retried
 * batch keeping its exact bytes, the epoch bump renumbering refused
 * batches from 0 and waiting until no batch of the old epoch is
 * unresolved, retried batches going back in creation order whatever
 * order their requests completed in, each batch's delivery offset taken
 * from the Produce answer, and the enable.idempotence rules.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "client/sc_accum.h"
#include "client/sc_conf.h"
#include "client/sc_producer.h"
#include "client/strata.h"
#include "common/st_batch.h"
#include "tu.h"

/* A 3-partition topic; batches close only when add() closes them. */
static sc_atopic_t *mk_topic(sc_accum_t *a)
{
    sc_accum_init(a, ST_CODEC_NONE, 1 << 20, 0, 120000);
    sc_atopic_t *t = sc_accum_topic(a, "t", true);
    CU_ASSERT_EQUAL(sc_accum_set_partitions(t, 3, (int32_t[]){1, 1, 1}), ST_OK);
    return t;
}

/* Append n records to partition p and close the open batch. */
static void add(sc_accum_t *a, sc_atopic_t *t, int32_t p, int n)
{
    bool closed;
    for (int i = 0; i < n; i++)
        CU_ASSERT_EQUAL(
            sc_accum_append(a, t, p, 0, 1000 + i, NULL, 0, "0123456789", 10, NULL, 0, NULL, NULL, &closed),
            ST_OK);
    sc_accum_close(a, t, p);
}

/* Finish b and decode its header. */
static st_batch_hdr_t hdr_of(sc_batch_t *b)
{
    st_batch_hdr_t h;
    memset(&h, 0, sizeof h);
    CU_ASSERT_EQUAL_FATAL(sc_batch_finish(b), ST_OK);
    CU_ASSERT_EQUAL(st_batch_validate(b->frame.data, b->frame.len), ST_OK);
    CU_ASSERT_EQUAL(st_batch_hdr_decode(b->frame.data, b->frame.len, &h), ST_OK);
    return h;
}

static void test_seq_add(void)
{
    CU_ASSERT_EQUAL(sc_seq_add(0, 5), 5);
    CU_ASSERT_EQUAL(sc_seq_add(10, 1), 11);
    CU_ASSERT_EQUAL(sc_seq_add(INT32_MAX, 1), 0);
    CU_ASSERT_EQUAL(sc_seq_add(INT32_MAX - 2, 5), 2);
    CU_ASSERT_EQUAL(sc_seq_add(INT32_MAX - 5, 5), INT32_MAX);
}

static void test_assign(void)
{
    sc_accum_t a;
    sc_atopic_t *t = mk_topic(&a);
    add(&a, t, 0, 3);
    add(&a, t, 0, 4);
    add(&a, t, 1, 2);
    add(&a, t, 0, 1);
    sc_apart_t *p0 = &t->parts[0], *p1 = &t->parts[1];
    sc_batch_t *b[3];
    int32_t want[3] = {0, 3, 7};
    for (int i = 0; i < 3; i++) {
        b[i] = sc_accum_pop(&a, p0);
        CU_ASSERT_PTR_NOT_NULL_FATAL(b[i]);
        CU_ASSERT_FALSE(b[i]->seq_set);
        sc_accum_assign_seq(p0, b[i], 42, 3);
        st_batch_hdr_t h = hdr_of(b[i]);
        CU_ASSERT_EQUAL(h.producer_id, 42);
        CU_ASSERT_EQUAL(h.producer_epoch, 3);
        CU_ASSERT_EQUAL(h.base_sequence, want[i]);
    }
    CU_ASSERT_EQUAL(p0->next_seq, 8);
    /* assigning again is a no-op: the sequence is fixed at first send */
    sc_accum_assign_seq(p0, b[1], 42, 3);
    CU_ASSERT_EQUAL(b[1]->bld.base_sequence, 3);
    CU_ASSERT_EQUAL(p0->next_seq, 8);
    /* partitions count separately */
    sc_batch_t *c = sc_accum_pop(&a, p1);
    sc_accum_assign_seq(p1, c, 42, 3);
    CU_ASSERT_EQUAL(hdr_of(c).base_sequence, 0);
    CU_ASSERT_EQUAL(p1->next_seq, 2);
    /* a batch never assigned stays without producer state */
    add(&a, t, 2, 1);
    sc_batch_t *d = sc_accum_pop(&a, &t->parts[2]);
    st_batch_hdr_t hd = hdr_of(d);
    CU_ASSERT_EQUAL(hd.producer_id, -1);
    CU_ASSERT_EQUAL(hd.base_sequence, -1);
    for (int i = 0; i < 3; i++)
        sc_accum_release(&a, b[i]);
    sc_accum_release(&a, c);
    sc_accum_release(&a, d);
    sc_accum_fini(&a);
}

static void test_wrap(void)
{
    sc_accum_t a;
    sc_atopic_t *t = mk_topic(&a);
    sc_apart_t *ap = &t->parts[0];
    ap->seq_pid = 9;
    ap->seq_epoch = 0;
    ap->next_seq = INT32_MAX - 1;
    add(&a, t, 0, 3);
    add(&a, t, 0, 2);
    sc_batch_t *b1 = sc_accum_pop(&a, ap), *b2 = sc_accum_pop(&a, ap);
    sc_accum_assign_seq(ap, b1, 9, 0);
    sc_accum_assign_seq(ap, b2, 9, 0);
    CU_ASSERT_EQUAL(hdr_of(b1).base_sequence, INT32_MAX - 1);
    /* INT32_MAX-1, INT32_MAX, 0 -> the next batch starts at 1 */
    CU_ASSERT_EQUAL(hdr_of(b2).base_sequence, 1);
    CU_ASSERT_EQUAL(ap->next_seq, 3);
    sc_accum_release(&a, b1);
    sc_accum_release(&a, b2);
    sc_accum_fini(&a);
}

static void test_retry_same_bytes(void)
{
    sc_accum_t a;
    sc_atopic_t *t = mk_topic(&a);
    sc_apart_t *ap = &t->parts[0];
    add(&a, t, 0, 4);
    sc_batch_t *b = sc_accum_pop(&a, ap);
    sc_accum_assign_seq(ap, b, 5, 1);
    CU_ASSERT_EQUAL_FATAL(sc_batch_finish(b), ST_OK);
    size_t n = b->frame.len;
    uint8_t *first = malloc(n);
    CU_ASSERT_PTR_NOT_NULL_FATAL(first);
    memcpy(first, b->frame.data, n);
    st_buf_t w1, w2;
    st_buf_init(&w1);
    st_buf_init(&w2);
    CU_ASSERT_EQUAL(st_batch_to_wire(b->frame.data, b->frame.len, &w1), ST_OK);
    /* the request failed (NOT_LEADER...): back in the queue, newer
     * batches arrive meanwhile, then it is sent again to the new leader */
    add(&a, t, 0, 2);
    sc_accum_requeue(&a, ap, b);
    sc_batch_t *again = sc_accum_pop(&a, ap);
    CU_ASSERT_PTR_EQUAL_FATAL(again, b);
    sc_accum_assign_seq(ap, again, 5, 1);
    CU_ASSERT_EQUAL_FATAL(sc_batch_finish(again), ST_OK);
    CU_ASSERT_EQUAL_FATAL(again->frame.len, n);
    CU_ASSERT_EQUAL(memcmp(again->frame.data, first, n), 0);
    CU_ASSERT_EQUAL(st_batch_to_wire(again->frame.data, again->frame.len, &w2), ST_OK);
    CU_ASSERT_EQUAL(w1.len, w2.len);
    CU_ASSERT(w1.len == w2.len && memcmp(w1.data, w2.data, w1.len) == 0);
    /* the newer batch follows with the next sequence */
    sc_batch_t *nb = sc_accum_pop(&a, ap);
    sc_accum_assign_seq(ap, nb, 5, 1);
    CU_ASSERT_EQUAL(hdr_of(nb).base_sequence, 4);
    free(first);
    st_buf_free(&w1);
    st_buf_free(&w2);
    sc_accum_release(&a, again);
    sc_accum_release(&a, nb);
    sc_accum_fini(&a);
}

static void test_epoch_bump(void)
{
    sc_accum_t a;
    sc_atopic_t *t = mk_topic(&a);
    sc_apart_t *p0 = &t->parts[0], *p1 = &t->parts[1];
    add(&a, t, 0, 2);
    add(&a, t, 0, 3);
    add(&a, t, 1, 2);
    /* epoch 0: p0 gets 0..1 and 2..4, p1 gets 0..1 */
    sc_batch_t *b0 = sc_accum_pop(&a, p0), *b1 = sc_accum_pop(&a, p0);
    sc_batch_t *c0 = sc_accum_pop(&a, p1);
    sc_accum_assign_seq(p0, b0, 7, 0);
    sc_accum_assign_seq(p0, b1, 7, 0);
    sc_accum_assign_seq(p1, c0, 7, 0);
    CU_ASSERT_EQUAL(hdr_of(b1).base_sequence, 2);
    /* p0's request came back OUT_OF_ORDER: both go back, the epoch is
     * bumped to 1 and p0's refused batches are renumbered from 0 */
    sc_accum_requeue(&a, p0, b0);
    sc_accum_requeue(&a, p0, b1);
    add(&a, t, 0, 1);
    CU_ASSERT_EQUAL(sc_accum_reset_seq(p0, 7, 1), 2);
    CU_ASSERT_FALSE(b0->seq_set);
    CU_ASSERT_FALSE(b0->finished);
    sc_batch_t *x[3];
    int32_t want[3] = {0, 2, 5};
    for (int i = 0; i < 3; i++) {
        x[i] = sc_accum_pop(&a, p0);
        sc_accum_assign_seq(p0, x[i], 7, 1);
        st_batch_hdr_t h = hdr_of(x[i]);
        CU_ASSERT_EQUAL(h.producer_epoch, 1);
        CU_ASSERT_EQUAL(h.base_sequence, want[i]);
    }
    CU_ASSERT_PTR_EQUAL(x[0], b0);
    CU_ASSERT_PTR_EQUAL(x[1], b1);
    /* already under the current epoch: left alone */
    sc_accum_requeue(&a, p0, x[2]);
    CU_ASSERT_EQUAL(sc_accum_reset_seq(p0, 7, 1), 0);
    CU_ASSERT_EQUAL(x[2]->bld.base_sequence, 5);
    x[2] = sc_accum_pop(&a, p0);
    /* p1: its sent batch keeps epoch 0 (retried first, same bytes); new
     * batches start again at 0 under epoch 1 */
    sc_accum_requeue(&a, p1, c0);
    add(&a, t, 1, 2);
    sc_batch_t *c0b = sc_accum_pop(&a, p1), *c1 = sc_accum_pop(&a, p1);
    CU_ASSERT_PTR_EQUAL(c0b, c0);
    sc_accum_assign_seq(p1, c0b, 7, 1);
    sc_accum_assign_seq(p1, c1, 7, 1);
    st_batch_hdr_t h0 = hdr_of(c0b), h1 = hdr_of(c1);
    CU_ASSERT_EQUAL(h0.producer_epoch, 0);
    CU_ASSERT_EQUAL(h0.base_sequence, 0);
    CU_ASSERT_EQUAL(h1.producer_epoch, 1);
    CU_ASSERT_EQUAL(h1.base_sequence, 0);
    /* a new producer id restarts the count too */
    add(&a, t, 1, 1);
    sc_batch_t *c2 = sc_accum_pop(&a, p1);
    sc_accum_assign_seq(p1, c2, 8, 0);
    CU_ASSERT_EQUAL(hdr_of(c2).base_sequence, 0);
    for (int i = 0; i < 3; i++)
        sc_accum_release(&a, x[i]);
    sc_accum_release(&a, c0b);
    sc_accum_release(&a, c1);
    sc_accum_release(&a, c2);
    sc_accum_fini(&a);
}

/* p0's sequences are refused while p1's request (epoch 0) is in flight
 * and then comes back for a retry (its answer lost: it may be stored).
 * The bump must wait until p1's epoch-0 batch is resolved, and meanwhile
 * only that retry may go out; after the bump p1's new batch starts epoch
 * 1 at 0 and no request ever carries epoch 0 after epoch 1. */
static void test_bump_waits(void)
{
    sc_accum_t a;
    sc_atopic_t *t = mk_topic(&a);
    sc_apart_t *p0 = &t->parts[0], *p1 = &t->parts[1];
    add(&a, t, 0, 2);
    add(&a, t, 1, 3);
    sc_batch_t *b0 = sc_accum_pop(&a, p0), *c0 = sc_accum_pop(&a, p1);
    sc_accum_assign_seq(p0, b0, 7, 0);
    sc_accum_assign_seq(p1, c0, 7, 0);
    p0->inflight = p1->inflight = 1;
    /* p0 refused: back in its queue, marked for renumbering */
    p0->inflight = 0;
    p0->reseq = true;
    sc_accum_requeue(&a, p0, b0);
    CU_ASSERT_FALSE(sc_accum_bump_ready(&a, 7, 0)); /* c0 in flight */
    /* c0's answer is lost: it is queued for a retry, a new batch behind */
    p1->inflight = 0;
    sc_accum_requeue(&a, p1, c0);
    add(&a, t, 1, 2);
    CU_ASSERT_FALSE(sc_accum_bump_ready(&a, 7, 0));           /* c0 still unresolved */
    CU_ASSERT_FALSE(sc_accum_sendable_in_bump(p0, p0->head)); /* refused: waits */
    CU_ASSERT_PTR_EQUAL(p1->head, c0);
    CU_ASSERT_TRUE(sc_accum_sendable_in_bump(p1, c0)); /* the retry goes */
    sc_batch_t *r = sc_accum_pop(&a, p1);
    p1->inflight = 1;
    CU_ASSERT_FALSE(sc_accum_sendable_in_bump(p1, p1->head)); /* new: waits */
    CU_ASSERT_FALSE(sc_accum_bump_ready(&a, 7, 0));
    /* the retry is answered (a duplicate, stored): now the bump may go */
    p1->inflight = 0;
    sc_accum_release(&a, r);
    CU_ASSERT_TRUE(sc_accum_bump_ready(&a, 7, 0));
    /* epoch 1: p0 renumbered from 0, p1's new batch starts at 0 */
    CU_ASSERT_EQUAL(sc_accum_reset_seq(p0, 7, 1), 1);
    p0->reseq = false;
    sc_batch_t *x = sc_accum_pop(&a, p0), *c1 = sc_accum_pop(&a, p1);
    sc_accum_assign_seq(p0, x, 7, 1);
    sc_accum_assign_seq(p1, c1, 7, 1);
    st_batch_hdr_t hx = hdr_of(x), hc = hdr_of(c1);
    CU_ASSERT_EQUAL(hx.producer_epoch, 1);
    CU_ASSERT_EQUAL(hx.base_sequence, 0);
    CU_ASSERT_EQUAL(hc.producer_epoch, 1);
    CU_ASSERT_EQUAL(hc.base_sequence, 0);
    sc_accum_release(&a, x);
    sc_accum_release(&a, c1);
    sc_accum_fini(&a);
}

/* Requests R0, R1, R2 of one partition all fail (a dropped connection):
 * whatever order their callbacks run in, the batches must go back in
 * creation order, ahead of batches never sent. */
static void test_requeue_order(void)
{
    static const int orders[3][3] = {{0, 1, 2}, {2, 1, 0}, {1, 2, 0}};
    for (int k = 0; k < 3; k++) {
        sc_accum_t a;
        sc_atopic_t *t = mk_topic(&a);
        sc_apart_t *ap = &t->parts[0];
        for (int i = 0; i < 5; i++)
            add(&a, t, 0, 1);
        sc_batch_t *r[3];
        for (int i = 0; i < 3; i++)
            r[i] = sc_accum_pop(&a, ap);
        for (int i = 0; i < 3; i++)
            sc_accum_requeue(&a, ap, r[orders[k][i]]);
        uint64_t last = 0;
        int n = 0;
        for (sc_batch_t *b = ap->head; b != NULL; b = b->next, n++) {
            if (n > 0)
                CU_ASSERT(b->order > last);
            if (n < 3)
                CU_ASSERT_PTR_EQUAL(b, r[n]);
            last = b->order;
        }
        CU_ASSERT_EQUAL(n, 5);
        CU_ASSERT_PTR_NOT_NULL(ap->tail);
        if (ap->tail != NULL)
            CU_ASSERT_PTR_NULL(ap->tail->next);
        sc_accum_fini(&a);
    }
}

/* A retry of [stored batch, new batch] after another producer appended in
 * between: the broker names each batch's offset and each batch's records
 * are reported at their own; a broker without per-batch offsets still
 * gets consecutive numbering. */
static void test_batch_offsets(void)
{
    sc_accum_t a;
    sc_atopic_t *t = mk_topic(&a);
    add(&a, t, 0, 2);
    add(&a, t, 0, 3);
    add(&a, t, 1, 4);
    sc_batch_t *b0 = sc_accum_pop(&a, &t->parts[0]);
    sc_batch_t *b1 = sc_accum_pop(&a, &t->parts[0]);
    sc_batch_t *b2 = sc_accum_pop(&a, &t->parts[1]);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b2);
    b0->next = b1;
    b1->next = b2;
    b2->next = NULL;

    Strata__ProducePartitionResult r0 = STRATA__PRODUCE_PARTITION_RESULT__INIT, r1 = r0;
    int64_t offs0[] = {10, 40}, offs1[] = {7};
    r0.partition = 0;
    r0.base_offset = 10;
    r0.n_batch_base_offsets = 2;
    r0.batch_base_offsets = offs0;
    r1.partition = 1;
    r1.base_offset = 7;
    r1.n_batch_base_offsets = 1;
    r1.batch_base_offsets = offs1;
    Strata__ProducePartitionResult *rp[] = {&r0, &r1};
    Strata__ProduceTopicResult tr = STRATA__PRODUCE_TOPIC_RESULT__INIT;
    tr.name = (char *)"t";
    tr.n_partitions = 2;
    tr.partitions = rp;
    Strata__ProduceTopicResult *trp = &tr;
    Strata__ProduceResponse resp = STRATA__PRODUCE_RESPONSE__INIT;
    resp.n_topics = 1;
    resp.topics = &trp;

    sc_outcome_t oc[3];
    sc_produce_outcomes(&resp, ST_OK, b0, oc);
    CU_ASSERT_EQUAL(oc[0].err, ST_OK);
    CU_ASSERT_EQUAL(oc[0].base, 10);
    CU_ASSERT_EQUAL(oc[1].err, ST_OK);
    CU_ASSERT_EQUAL(oc[1].base, 40);
    CU_ASSERT_EQUAL(oc[2].base, 7);
    /* an older broker: one offset per partition, batches consecutive */
    r0.n_batch_base_offsets = 0;
    r1.n_batch_base_offsets = 0;
    sc_produce_outcomes(&resp, ST_OK, b0, oc);
    CU_ASSERT_EQUAL(oc[0].base, 10);
    CU_ASSERT_EQUAL(oc[1].base, 12);
    CU_ASSERT_EQUAL(oc[2].base, 7);
    /* a count that does not match the batches sent is not trusted */
    r0.n_batch_base_offsets = 1;
    sc_produce_outcomes(&resp, ST_OK, b0, oc);
    CU_ASSERT_EQUAL(oc[1].base, 12);
    /* stored, offset unknown to the leader */
    offs0[1] = -1;
    r0.n_batch_base_offsets = 2;
    sc_produce_outcomes(&resp, ST_OK, b0, oc);
    CU_ASSERT_EQUAL(oc[1].err, ST_OK);
    CU_ASSERT_EQUAL(oc[1].base, -1);
    sc_accum_release(&a, b0);
    sc_accum_release(&a, b1);
    sc_accum_release(&a, b2);
    sc_accum_fini(&a);
}

static void test_conf_rules(void)
{
    char err[256];
    bool on = false;
    strata_conf_t *c = strata_conf_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_EQUAL(sc_conf_idempotence(c, &on, err, sizeof err), ST_OK);
    CU_ASSERT_TRUE(on); /* Kafka 3.x default */
    /* acks=1 with idempotence left at its default: quietly off */
    CU_ASSERT_EQUAL(strata_conf_set(c, "acks", "1", err, sizeof err), STRATA_OK);
    CU_ASSERT_EQUAL(sc_conf_idempotence(c, &on, err, sizeof err), ST_OK);
    CU_ASSERT_FALSE(on);
    /* ... but an error when enable.idempotence=true was asked for */
    CU_ASSERT_EQUAL(strata_conf_set(c, "enable.idempotence", "true", err, sizeof err), STRATA_OK);
    err[0] = '\0';
    CU_ASSERT_EQUAL(sc_conf_idempotence(c, &on, err, sizeof err), ST_ERR_INVALID_CONFIG);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "acks=all"));
    strata_producer_t *p = strata_producer_new(c, err, sizeof err);
    CU_ASSERT_PTR_NULL(p);
    if (p != NULL)
        strata_producer_close(p, 0);
    /* the explicit setting survives a copy */
    strata_conf_t *d = strata_conf_dup(c);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    CU_ASSERT_EQUAL(sc_conf_idempotence(d, &on, err, sizeof err), ST_ERR_INVALID_CONFIG);
    strata_conf_free(d);
    CU_ASSERT_EQUAL(strata_conf_set(c, "acks", "all", err, sizeof err), STRATA_OK);
    CU_ASSERT_EQUAL(sc_conf_idempotence(c, &on, err, sizeof err), ST_OK);
    CU_ASSERT_TRUE(on);
    CU_ASSERT_EQUAL(strata_conf_set(c, "max.in.flight.requests.per.connection", "6", err, sizeof err),
                    STRATA_OK);
    CU_ASSERT_EQUAL(sc_conf_idempotence(c, &on, err, sizeof err), ST_ERR_INVALID_CONFIG);
    CU_ASSERT_EQUAL(strata_conf_set(c, "enable.idempotence", "false", err, sizeof err), STRATA_OK);
    CU_ASSERT_EQUAL(sc_conf_idempotence(c, &on, err, sizeof err), ST_OK);
    CU_ASSERT_FALSE(on);
    strata_conf_free(c);
    /* retries=0 with the default: off */
    c = strata_conf_new();
    CU_ASSERT_EQUAL(strata_conf_set(c, "retries", "0", err, sizeof err), STRATA_OK);
    CU_ASSERT_EQUAL(sc_conf_idempotence(c, &on, err, sizeof err), ST_OK);
    CU_ASSERT_FALSE(on);
    strata_conf_free(c);
}

static CU_TestInfo idem_tests[] = {
    {"sequence arithmetic wraps at INT32_MAX", test_seq_add},
    {"base sequences per partition", test_assign},
    {"sequence wrap across batches", test_wrap},
    {"a retry resends the same bytes", test_retry_same_bytes},
    {"epoch bump renumbers refused batches", test_epoch_bump},
    {"requeue keeps creation order", test_requeue_order},
    {"the epoch bump waits for unresolved batches", test_bump_waits},
    {"each batch reported at its own offset", test_batch_offsets},
    {"enable.idempotence rules", test_conf_rules},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"idempotent producer", NULL, NULL, NULL, NULL, idem_tests},
    CU_SUITE_INFO_NULL,
};

int main(void)
{
    return tu_main(suites);
}
