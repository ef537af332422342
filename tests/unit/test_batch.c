/*
 * Unit tests of st_compress and st_batch: builder/iterator round trips for
 * every codec, frame validation, frame<->wire conversion checked against
 * protobuf-c in both directions, and hostile input (bad CRC, truncation,
 * garbage, decompression bombs) rejected without crashing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/st_batch.h"
#include "common/st_compress.h"
#include "common/st_crc.h"
#include "record.pb-c.h"
#include "tu.h"

#define NREC 50

/* Build a frame of NREC records: record i has key "k<i>" except every 7th
 * (null), value of i+1 bytes except every 5th (null), 2 headers on odd
 * ones (the second with a null value). */
static void tb_build(st_codec_t codec, st_buf_t *out)
{
    st_batch_builder_t b;
    st_batch_builder_init(&b, codec);
    for (int i = 0; i < NREC; i++) {
        char key[16];
        uint8_t val[64];
        int kl = snprintf(key, sizeof key, "k%d", i);
        memset(val, 'a' + i % 26, sizeof val);
        st_record_header_t h[2] = {{"h1", 2, (const uint8_t *)"v1", 2}, {"h2", 2, NULL, 0}};
        CU_ASSERT_EQUAL_FATAL(st_batch_builder_add(&b, 1000 + i * 3, i % 7 ? key : NULL, (size_t)kl,
                                                   i % 5 ? val : NULL, (size_t)(i + 1) % 64, i % 2 ? h : NULL,
                                                   i % 2 ? 2 : 0),
                              ST_OK);
    }
    CU_ASSERT_TRUE(st_batch_builder_size(&b) > 0);
    CU_ASSERT_EQUAL_FATAL(st_batch_builder_finish(&b, out), ST_OK);
    st_batch_builder_fini(&b);
}

static void tb_check_records(const uint8_t *frame, size_t len, int64_t base)
{
    st_batch_iter_t it;
    st_record_t r;
    CU_ASSERT_EQUAL_FATAL(st_batch_iter_init(&it, frame, len), ST_OK);
    int i = 0;
    st_err_t err;
    while ((err = st_batch_iter_next(&it, &r)) == ST_OK) {
        char key[16];
        int kl = snprintf(key, sizeof key, "k%d", i);
        CU_ASSERT_EQUAL(r.offset, base + i);
        CU_ASSERT_EQUAL(r.timestamp, 1000 + i * 3);
        if (i % 7) {
            CU_ASSERT_PTR_NOT_NULL_FATAL(r.key);
            CU_ASSERT_EQUAL(r.key_len, (size_t)kl);
            CU_ASSERT_EQUAL(memcmp(r.key, key, (size_t)kl), 0);
        } else {
            CU_ASSERT_PTR_NULL(r.key);
        }
        if (i % 5) {
            CU_ASSERT_PTR_NOT_NULL_FATAL(r.value);
            CU_ASSERT_EQUAL(r.value_len, (size_t)(i + 1) % 64);
            if (r.value_len)
                CU_ASSERT_EQUAL(r.value[0], 'a' + i % 26);
        } else {
            CU_ASSERT_PTR_NULL(r.value);
        }
        if (i % 2) {
            CU_ASSERT_EQUAL_FATAL(r.n_headers, 2);
            CU_ASSERT_EQUAL(memcmp(r.headers[0].key, "h1", 2), 0);
            CU_ASSERT_EQUAL(r.headers[0].value_len, 2);
            CU_ASSERT_EQUAL(memcmp(r.headers[0].value, "v1", 2), 0);
            CU_ASSERT_EQUAL(memcmp(r.headers[1].key, "h2", 2), 0);
            CU_ASSERT_PTR_NULL(r.headers[1].value);
        } else {
            CU_ASSERT_EQUAL(r.n_headers, 0);
        }
        i++;
    }
    CU_ASSERT_EQUAL(err, ST_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(i, NREC);
    st_batch_iter_fini(&it);
}

static void test_roundtrip(void)
{
    st_codec_t codecs[] = {ST_CODEC_NONE, ST_CODEC_ZSTD, ST_CODEC_LZ4};
    for (size_t c = 0; c < 3; c++) {
        st_buf_t f;
        st_buf_init(&f);
        tb_build(codecs[c], &f);
        CU_ASSERT_EQUAL(st_batch_validate(f.data, f.len), ST_OK);
        st_batch_hdr_t h;
        CU_ASSERT_EQUAL_FATAL(st_batch_hdr_decode(f.data, f.len, &h), ST_OK);
        CU_ASSERT_EQUAL(st_batch_frame_size(&h), f.len);
        CU_ASSERT_EQUAL(h.record_count, NREC);
        CU_ASSERT_EQUAL(h.last_offset_delta, NREC - 1);
        CU_ASSERT_EQUAL(h.attributes & ST_BATCH_ATTR_CODEC_MASK, (int)codecs[c]);
        CU_ASSERT_EQUAL(h.first_timestamp, 1000);
        CU_ASSERT_EQUAL(h.max_timestamp, 1000 + (NREC - 1) * 3);
        /* stamping offset/epoch keeps the CRC valid (they sit before it) */
        st_batch_set_offset_epoch(f.data, 4242, 7);
        CU_ASSERT_EQUAL(st_batch_validate(f.data, f.len), ST_OK);
        CU_ASSERT_EQUAL_FATAL(st_batch_hdr_decode(f.data, f.len, &h), ST_OK);
        CU_ASSERT_EQUAL(h.base_offset, 4242);
        CU_ASSERT_EQUAL(h.leader_epoch, 7);
        tb_check_records(f.data, f.len, 4242);
        st_buf_free(&f);
    }
}

static void test_validate(void)
{
    st_buf_t f;
    st_buf_init(&f);
    tb_build(ST_CODEC_NONE, &f);
    CU_ASSERT_EQUAL(st_batch_validate(f.data, f.len), ST_OK);
    /* any flipped bit after the CRC start is caught */
    for (size_t pos = ST_BATCH_CRC_START; pos < f.len; pos += 13) {
        f.data[pos] ^= 0x10;
        CU_ASSERT_EQUAL(st_batch_validate(f.data, f.len), ST_ERR_CORRUPT_MESSAGE);
        f.data[pos] ^= 0x10;
    }
    CU_ASSERT_EQUAL(st_batch_validate(f.data, f.len - 1), ST_ERR_CORRUPT_MESSAGE);
    CU_ASSERT_EQUAL(st_batch_validate(f.data, 10), ST_ERR_CORRUPT_MESSAGE);
    f.data[16] = 9; /* magic */
    CU_ASSERT_EQUAL(st_batch_validate(f.data, f.len), ST_ERR_CORRUPT_MESSAGE);
    f.data[16] = ST_BATCH_MAGIC;
    /* record_count 0 with a correct CRC is still refused */
    st_batch_hdr_t h;
    CU_ASSERT_EQUAL_FATAL(st_batch_hdr_decode(f.data, f.len, &h), ST_OK);
    h.record_count = 0;
    h.last_offset_delta = -1;
    st_batch_hdr_encode(&h, f.data);
    h.crc = st_batch_compute_crc(f.data, f.len);
    st_batch_hdr_encode(&h, f.data);
    CU_ASSERT_EQUAL(st_batch_validate(f.data, f.len), ST_ERR_CORRUPT_MESSAGE);
    st_buf_free(&f);

    st_batch_builder_t b;
    st_batch_builder_init(&b, ST_CODEC_NONE);
    st_buf_init(&f);
    CU_ASSERT_EQUAL(st_batch_builder_finish(&b, &f), ST_ERR_INVALID_ARG); /* empty */
    CU_ASSERT_EQUAL(f.len, 0);
    st_batch_builder_fini(&b);
}

/* frame -> wire -> protobuf-c unpack: every field and record as built. */
/* st_batch_validate_header checks everything st_batch_validate does but
 * the CRC. */
static void test_validate_header(void)
{
    st_buf_t f;
    st_buf_init(&f);
    tb_build(ST_CODEC_NONE, &f);
    CU_ASSERT_EQUAL(st_batch_validate(f.data, f.len), ST_OK);
    CU_ASSERT_EQUAL(st_batch_validate_header(f.data, f.len), ST_OK);
    f.data[f.len - 1] ^= 0x40; /* body byte: only the CRC sees it */
    CU_ASSERT_EQUAL(st_batch_validate(f.data, f.len), ST_ERR_CORRUPT_MESSAGE);
    CU_ASSERT_EQUAL(st_batch_validate_header(f.data, f.len), ST_OK);
    f.data[f.len - 1] ^= 0x40;
    CU_ASSERT_EQUAL(st_batch_validate_header(f.data, f.len - 1), ST_ERR_CORRUPT_MESSAGE);
    CU_ASSERT_EQUAL(st_batch_validate_header(f.data, 10), ST_ERR_CORRUPT_MESSAGE);
    CU_ASSERT_EQUAL(st_batch_validate_header(NULL, 0), ST_ERR_CORRUPT_MESSAGE);
    f.data[16] ^= 0x7f; /* magic */
    CU_ASSERT_EQUAL(st_batch_validate_header(f.data, f.len), ST_ERR_CORRUPT_MESSAGE);
    f.data[16] ^= 0x7f;
    f.data[57] = 0; /* record_count 0 */
    f.data[58] = f.data[59] = f.data[60] = 0;
    CU_ASSERT_EQUAL(st_batch_validate_header(f.data, f.len), ST_ERR_CORRUPT_MESSAGE);
    st_buf_free(&f);
}

static void test_to_wire_protobufc(void)
{
    st_codec_t codecs[] = {ST_CODEC_NONE, ST_CODEC_ZSTD, ST_CODEC_LZ4};
    for (size_t c = 0; c < 3; c++) {
        st_buf_t f, w;
        st_buf_init(&f);
        st_buf_init(&w);
        tb_build(codecs[c], &f);
        st_batch_set_offset_epoch(f.data, 99, 3);
        CU_ASSERT_EQUAL_FATAL(st_batch_to_wire(f.data, f.len, &w), ST_OK);
        CU_ASSERT_EQUAL(w.len, st_batch_wire_size(f.data, f.len));
        Strata__RecordBatch *rb = strata__record_batch__unpack(NULL, w.len, w.data);
        CU_ASSERT_PTR_NOT_NULL_FATAL(rb);
        st_batch_hdr_t h;
        st_batch_hdr_decode(f.data, f.len, &h);
        CU_ASSERT_EQUAL(rb->base_offset, 99);
        CU_ASSERT_EQUAL(rb->partition_leader_epoch, 3);
        CU_ASSERT_EQUAL(rb->crc, h.crc);
        CU_ASSERT_EQUAL(rb->record_count, NREC);
        CU_ASSERT_EQUAL(rb->last_offset_delta, NREC - 1);
        CU_ASSERT_EQUAL(rb->producer_id, -1);
        CU_ASSERT_EQUAL(rb->producer_epoch, -1);
        CU_ASSERT_EQUAL(rb->first_timestamp, 1000);
        Strata__RecordBatch *inner = rb;
        if (codecs[c] != ST_CODEC_NONE) {
            CU_ASSERT_EQUAL(rb->n_records, 0);
            CU_ASSERT_TRUE_FATAL(rb->has_compressed_records);
            st_buf_t plain;
            st_buf_init(&plain);
            CU_ASSERT_EQUAL_FATAL(
                st_decompress(codecs[c], rb->compressed_records.data, rb->compressed_records.len, 0, &plain),
                ST_OK);
            inner = strata__record_batch__unpack(NULL, plain.len, plain.data);
            st_buf_free(&plain);
            CU_ASSERT_PTR_NOT_NULL_FATAL(inner);
        }
        CU_ASSERT_EQUAL_FATAL(inner->n_records, NREC);
        for (int i = 0; i < NREC; i++) {
            Strata__Record *r = inner->records[i];
            CU_ASSERT_EQUAL(r->offset_delta, i);
            CU_ASSERT_EQUAL(r->timestamp_delta, i * 3);
            CU_ASSERT_EQUAL(r->has_key, i % 7 != 0);
            CU_ASSERT_EQUAL(r->has_value, i % 5 != 0);
            CU_ASSERT_EQUAL(r->n_headers, i % 2 ? 2u : 0u);
            if (i % 2) {
                CU_ASSERT_STRING_EQUAL(r->headers[0]->key, "h1");
                CU_ASSERT_FALSE(r->headers[1]->has_value);
            }
        }
        if (inner != rb)
            strata__record_batch__free_unpacked(inner, NULL);
        strata__record_batch__free_unpacked(rb, NULL);

        /* and back: wire -> frame gives the identical bytes */
        st_buf_t f2;
        st_buf_init(&f2);
        const char *why = NULL;
        CU_ASSERT_EQUAL(st_batch_from_wire(w.data, w.len, &f2, &why), ST_OK);
        CU_ASSERT_EQUAL_FATAL(f2.len, f.len);
        CU_ASSERT_EQUAL(memcmp(f2.data, f.data, f.len), 0);
        st_buf_free(&f2);
        st_buf_free(&f);
        st_buf_free(&w);
    }
}

/* Build a RecordBatch with protobuf-c the way a foreign producer would:
 * pack the records alone to get the body, compute the CRC over the frame
 * header + body, pack the whole message. */
static void tb_pc_batch(Strata__RecordBatch *rb, Strata__Record **recs, Strata__Record *rs, int n,
                        uint8_t **body, size_t *body_len)
{
    static uint8_t keybuf[] = "key";
    for (int i = 0; i < n; i++) {
        strata__record__init(&rs[i]);
        rs[i].has_offset_delta = 1;
        rs[i].offset_delta = i;
        rs[i].has_timestamp_delta = 1;
        rs[i].timestamp_delta = i;
        rs[i].has_key = i != 1;
        rs[i].key.data = keybuf;
        rs[i].key.len = 3;
        rs[i].has_value = 1;
        rs[i].value.data = keybuf;
        rs[i].value.len = (size_t)i % 4;
        recs[i] = &rs[i];
    }
    strata__record_batch__init(rb);
    rb->n_records = (size_t)n;
    rb->records = recs;
    *body_len = strata__record_batch__get_packed_size(rb);
    *body = malloc(*body_len);
    strata__record_batch__pack(rb, *body);
    st_batch_hdr_t h = {.base_offset = 0,
                        .length = (int32_t)(ST_BATCH_HEADER_SIZE - 12 + *body_len),
                        .leader_epoch = 0,
                        .magic = ST_BATCH_MAGIC,
                        .attributes = 0,
                        .last_offset_delta = n - 1,
                        .first_timestamp = 5000,
                        .max_timestamp = 5000 + n - 1,
                        .producer_id = 17,
                        .producer_epoch = 2,
                        .base_sequence = 40,
                        .record_count = n};
    uint8_t hdr[ST_BATCH_HEADER_SIZE];
    st_batch_hdr_encode(&h, hdr);
    rb->has_crc = 1;
    rb->crc = st_crc32c_update(st_crc32c(hdr + ST_BATCH_CRC_START, ST_BATCH_HEADER_SIZE - ST_BATCH_CRC_START),
                               *body, *body_len);
    rb->has_base_offset = rb->has_partition_leader_epoch = rb->has_attributes = 1;
    rb->has_last_offset_delta = rb->has_first_timestamp = rb->has_max_timestamp = 1;
    rb->has_producer_id = rb->has_producer_epoch = rb->has_base_sequence = rb->has_record_count = 1;
    rb->last_offset_delta = n - 1;
    rb->first_timestamp = 5000;
    rb->max_timestamp = 5000 + n - 1;
    rb->producer_id = 17;
    rb->producer_epoch = 2;
    rb->base_sequence = 40;
    rb->record_count = n;
}

static void test_from_wire_protobufc(void)
{
    Strata__RecordBatch rb;
    Strata__Record rs[4], *recs[4];
    uint8_t *body;
    size_t body_len;
    tb_pc_batch(&rb, recs, rs, 4, &body, &body_len);
    size_t wl = strata__record_batch__get_packed_size(&rb);
    uint8_t *w = malloc(wl);
    strata__record_batch__pack(&rb, w);

    st_buf_t f;
    st_buf_init(&f);
    const char *why = NULL;
    CU_ASSERT_EQUAL_FATAL(st_batch_from_wire(w, wl, &f, &why), ST_OK);
    CU_ASSERT_EQUAL(st_batch_validate(f.data, f.len), ST_OK);
    CU_ASSERT_EQUAL_FATAL(f.len, ST_BATCH_HEADER_SIZE + body_len);
    CU_ASSERT_EQUAL(memcmp(f.data + ST_BATCH_HEADER_SIZE, body, body_len), 0);
    st_batch_hdr_t h;
    st_batch_hdr_decode(f.data, f.len, &h);
    CU_ASSERT_EQUAL(h.producer_id, 17);
    CU_ASSERT_EQUAL(h.producer_epoch, 2);
    CU_ASSERT_EQUAL(h.base_sequence, 40);
    st_batch_iter_t it;
    st_record_t r;
    CU_ASSERT_EQUAL_FATAL(st_batch_iter_init(&it, f.data, f.len), ST_OK);
    int n = 0;
    while (st_batch_iter_next(&it, &r) == ST_OK) {
        CU_ASSERT_EQUAL(r.timestamp, 5000 + n);
        CU_ASSERT_EQUAL(r.key == NULL, n == 1);
        CU_ASSERT_EQUAL(r.value_len, (size_t)n % 4);
        n++;
    }
    CU_ASSERT_EQUAL(n, 4);
    st_batch_iter_fini(&it);

    /* fields in another order: the record run first, scalars after */
    size_t fields_len = wl - body_len;
    uint8_t *w2 = malloc(wl);
    memcpy(w2, body, body_len);
    memcpy(w2 + body_len, w, fields_len); /* protobuf-c puts 1..11 first */
    st_buf_t f2;
    st_buf_init(&f2);
    CU_ASSERT_EQUAL(st_batch_from_wire(w2, wl, &f2, &why), ST_OK);
    CU_ASSERT_EQUAL_FATAL(f2.len, f.len);
    CU_ASSERT_EQUAL(memcmp(f2.data, f.data, f.len), 0);

    /* records interleaved with another field: refused */
    uint8_t *w3 = malloc(wl);
    /* first record entry: tag, 1-byte length, payload */
    size_t first_rec = 2 + body[1];
    memcpy(w3, body, first_rec);
    memcpy(w3 + first_rec, w, fields_len);
    memcpy(w3 + first_rec + fields_len, body + first_rec, body_len - first_rec);
    f2.len = 0;
    CU_ASSERT_EQUAL(st_batch_from_wire(w3, wl, &f2, &why), ST_ERR_CORRUPT_MESSAGE);
    CU_ASSERT_EQUAL(f2.len, 0);
    CU_ASSERT_PTR_NOT_NULL(why);

    /* wrong CRC */
    rb.crc ^= 1;
    strata__record_batch__pack(&rb, w);
    CU_ASSERT_EQUAL(st_batch_from_wire(w, wl, &f2, &why), ST_ERR_CORRUPT_MESSAGE);
    CU_ASSERT_STRING_EQUAL(why, "crc mismatch");
    rb.crc ^= 1;

    /* record_count that does not match the records (CRC made to match) */
    free(body);
    free(w);
    tb_pc_batch(&rb, recs, rs, 4, &body, &body_len);
    rb.n_records = 3; /* 3 records, header says 4: rebuild the CRC over 3 */
    size_t bl3 = strata__record_batch__get_packed_size(
        &(Strata__RecordBatch){.base = rb.base, .n_records = 3, .records = recs});
    st_batch_hdr_t h3 = {.length = (int32_t)(ST_BATCH_HEADER_SIZE - 12 + bl3),
                         .magic = ST_BATCH_MAGIC,
                         .last_offset_delta = 3,
                         .first_timestamp = 5000,
                         .max_timestamp = 5003,
                         .producer_id = 17,
                         .producer_epoch = 2,
                         .base_sequence = 40,
                         .record_count = 4};
    uint8_t hdr[ST_BATCH_HEADER_SIZE];
    st_batch_hdr_encode(&h3, hdr);
    rb.crc = st_crc32c_update(st_crc32c(hdr + ST_BATCH_CRC_START, ST_BATCH_HEADER_SIZE - ST_BATCH_CRC_START),
                              body, bl3); /* packed 3 records == first bl3 bytes of the 4 */
    wl = strata__record_batch__get_packed_size(&rb);
    w = malloc(wl);
    strata__record_batch__pack(&rb, w);
    CU_ASSERT_EQUAL(st_batch_from_wire(w, wl, &f2, &why), ST_ERR_CORRUPT_MESSAGE);
    CU_ASSERT_STRING_EQUAL(why, "record count does not match the records");
    /* a follower's check (structure, header, CRC; no records) lets it by */
    f2.len = 0;
    CU_ASSERT_EQUAL(st_batch_from_wire_flags(w, wl, &f2, &why, ST_BATCH_WIRE_SKIP_RECORDS), ST_OK);
    CU_ASSERT_EQUAL(f2.len, ST_BATCH_HEADER_SIZE + bl3);
    CU_ASSERT_EQUAL(st_batch_validate(f2.data, f2.len), ST_OK);
    /* ... but still refuses a wrong CRC */
    rb.crc ^= 1;
    strata__record_batch__pack(&rb, w);
    f2.len = 0;
    CU_ASSERT_EQUAL(st_batch_from_wire_flags(w, wl, &f2, &why, ST_BATCH_WIRE_SKIP_RECORDS),
                    ST_ERR_CORRUPT_MESSAGE);
    CU_ASSERT_STRING_EQUAL(why, "crc mismatch");
    CU_ASSERT_EQUAL(f2.len, 0);
    rb.crc ^= 1;

    /* record_count <= 0 */
    rb.record_count = 0;
    rb.last_offset_delta = -1;
    free(w);
    wl = strata__record_batch__get_packed_size(&rb);
    w = malloc(wl);
    strata__record_batch__pack(&rb, w);
    CU_ASSERT_EQUAL(st_batch_from_wire(w, wl, &f2, &why), ST_ERR_CORRUPT_MESSAGE);
    rb.record_count = -5;
    rb.last_offset_delta = -6;
    free(w);
    wl = strata__record_batch__get_packed_size(&rb);
    w = malloc(wl);
    strata__record_batch__pack(&rb, w);
    CU_ASSERT_EQUAL(st_batch_from_wire(w, wl, &f2, &why), ST_ERR_CORRUPT_MESSAGE);
    CU_ASSERT_EQUAL(f2.len, 0);

    free(w);
    free(w2);
    free(w3);
    free(body);
    st_buf_free(&f);
    st_buf_free(&f2);
}

/* Every truncation and many single-byte changes of a valid wire message
 * are refused (or, for bytes the CRC does not cover, handled) without a
 * crash; random garbage too. */
static void test_hostile_wire(void)
{
    st_codec_t codecs[] = {ST_CODEC_NONE, ST_CODEC_ZSTD, ST_CODEC_LZ4};
    srand(42);
    for (size_t c = 0; c < 3; c++) {
        st_buf_t f, w, o;
        st_buf_init(&f);
        st_buf_init(&w);
        st_buf_init(&o);
        tb_build(codecs[c], &f);
        CU_ASSERT_EQUAL_FATAL(st_batch_to_wire(f.data, f.len, &w), ST_OK);
        for (size_t n = 0; n < w.len; n++)
            CU_ASSERT_EQUAL(st_batch_from_wire(w.data, n, &o, NULL), ST_ERR_CORRUPT_MESSAGE);
        CU_ASSERT_EQUAL(o.len, 0);
        /* fields 1-2 (base offset, leader epoch) come before the crc tag */
        size_t uncovered = (size_t)((uint8_t *)memchr(w.data, 3 << 3 | 5, w.len) - w.data);
        for (size_t i = 0; i < w.len; i++) {
            uint8_t save = w.data[i];
            w.data[i] ^= (uint8_t)(1 + rand() % 255);
            st_err_t err = st_batch_from_wire(w.data, w.len, &o, NULL);
            /* base_offset / leader epoch values are not under the CRC, */
            if (err == ST_OK) {
                /* or high bits of an int32 varint, which protobuf drops */
                CU_ASSERT_TRUE(i < uncovered || (o.len == f.len && !memcmp(o.data, f.data, f.len)));
                CU_ASSERT_EQUAL(st_batch_validate(o.data, o.len), ST_OK);
            }
            o.len = 0;
            w.data[i] = save;
        }
        st_buf_free(&f);
        st_buf_free(&w);
        st_buf_free(&o);
    }
    uint8_t junk[512];
    st_buf_t o;
    st_buf_init(&o);
    for (int round = 0; round < 2000; round++) {
        size_t n = (size_t)(rand() % (int)sizeof junk);
        for (size_t i = 0; i < n; i++)
            junk[i] = (uint8_t)rand();
        CU_ASSERT_EQUAL(st_batch_from_wire(junk, n, &o, NULL), ST_ERR_CORRUPT_MESSAGE);
    }
    /* a varint length that claims more than is there, and a negative one */
    const uint8_t bad1[] = {0x7a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01};
    const uint8_t bad2[] = {0x7a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    CU_ASSERT_EQUAL(st_batch_from_wire(bad1, sizeof bad1, &o, NULL), ST_ERR_CORRUPT_MESSAGE);
    CU_ASSERT_EQUAL(st_batch_from_wire(bad2, sizeof bad2, &o, NULL), ST_ERR_CORRUPT_MESSAGE);
    /* an empty bytes field reaches the decoder as (NULL, 0) (found by
     * libFuzzer: NULL + 0 was undefined behaviour) */
    const char *why = NULL;
    CU_ASSERT_EQUAL(st_batch_from_wire(NULL, 0, &o, &why), ST_ERR_CORRUPT_MESSAGE);
    CU_ASSERT_PTR_NOT_NULL(why);
    CU_ASSERT_EQUAL(o.len, 0);
    st_buf_free(&o);
}

/* A frame whose body is garbage but whose CRC was recomputed: the iterator
 * reports corruption instead of crashing. */
static void test_iter_garbage(void)
{
    st_buf_t f;
    st_buf_init(&f);
    tb_build(ST_CODEC_NONE, &f);
    srand(7);
    for (int round = 0; round < 500; round++) {
        size_t pos = ST_BATCH_HEADER_SIZE + (size_t)rand() % (f.len - ST_BATCH_HEADER_SIZE);
        uint8_t save = f.data[pos];
        f.data[pos] = (uint8_t)rand();
        st_batch_iter_t it;
        st_record_t r;
        if (st_batch_iter_init(&it, f.data, f.len) == ST_OK) {
            int guard = 0;
            while (st_batch_iter_next(&it, &r) == ST_OK && guard++ < 1000)
                ;
            CU_ASSERT_TRUE(guard <= NREC);
        }
        st_batch_iter_fini(&it);
        f.data[pos] = save;
    }
    st_buf_free(&f);
}

static void test_compress(void)
{
    size_t n = 1 << 20;
    uint8_t *zeros = calloc(1, n);
    st_codec_t codecs[] = {ST_CODEC_ZSTD, ST_CODEC_LZ4};
    for (size_t c = 0; c < 2; c++) {
        st_buf_t z, p;
        st_buf_init(&z);
        st_buf_init(&p);
        CU_ASSERT_EQUAL_FATAL(st_compress(codecs[c], zeros, n, &z), ST_OK);
        CU_ASSERT_TRUE(z.len < n / 10);
        /* bomb: refuse to inflate past the cap */
        CU_ASSERT_EQUAL(st_decompress(codecs[c], z.data, z.len, 1000, &p), ST_ERR_CORRUPT_MESSAGE);
        CU_ASSERT_EQUAL(p.len, 0);
        CU_ASSERT_EQUAL(st_decompress(codecs[c], z.data, z.len, n - 1, &p), ST_ERR_CORRUPT_MESSAGE);
        CU_ASSERT_EQUAL(st_decompress(codecs[c], z.data, z.len, n, &p), ST_OK);
        CU_ASSERT_EQUAL(p.len, n);
        p.len = 0;
        /* truncated input and trailing garbage */
        CU_ASSERT_EQUAL(st_decompress(codecs[c], z.data, z.len - 1, 0, &p), ST_ERR_CORRUPT_MESSAGE);
        CU_ASSERT_EQUAL(st_decompress(codecs[c], z.data, z.len / 2, 0, &p), ST_ERR_CORRUPT_MESSAGE);
        st_buf_append(&z, "xyz", 3);
        CU_ASSERT_EQUAL(st_decompress(codecs[c], z.data, z.len, 0, &p), ST_ERR_CORRUPT_MESSAGE);
        CU_ASSERT_EQUAL(p.len, 0);
        CU_ASSERT_EQUAL(st_decompress(codecs[c], "garbage!", 8, 0, &p), ST_ERR_CORRUPT_MESSAGE);
        CU_ASSERT_EQUAL(st_decompress(codecs[c], "", 0, 0, &p), ST_ERR_CORRUPT_MESSAGE);
        /* non-trivial data round trip */
        z.len = 0;
        for (size_t i = 0; i < n; i++)
            zeros[i] = (uint8_t)(i * 7 + (i >> 9));
        CU_ASSERT_EQUAL(st_compress(codecs[c], zeros, n, &z), ST_OK);
        CU_ASSERT_EQUAL(st_decompress(codecs[c], z.data, z.len, 0, &p), ST_OK);
        CU_ASSERT_EQUAL_FATAL(p.len, n);
        CU_ASSERT_EQUAL(memcmp(p.data, zeros, n), 0);
        memset(zeros, 0, n);
        st_buf_free(&z);
        st_buf_free(&p);
    }
    CU_ASSERT_STRING_EQUAL(st_codec_name(ST_CODEC_LZ4), "lz4");
    free(zeros);
}

static CU_TestInfo batch_tests[] = {
    {"builder/iterator round trip, all codecs", test_roundtrip},
    {"validate catches damage", test_validate},
    {"validate_header: all but the CRC", test_validate_header},
    {"frame -> wire decodes with protobuf-c", test_to_wire_protobufc},
    {"protobuf-c wire -> frame", test_from_wire_protobufc},
    {"hostile wire input", test_hostile_wire},
    {"iterator on garbage body", test_iter_garbage},
    CU_TEST_INFO_NULL,
};
static CU_TestInfo compress_tests[] = {
    {"zstd/lz4 bounds, truncation, garbage", test_compress},
    CU_TEST_INFO_NULL,
};
static CU_SuiteInfo suites[] = {
    {"st_batch", NULL, NULL, NULL, NULL, batch_tests},
    {"st_compress", NULL, NULL, NULL, NULL, compress_tests},
    CU_SUITE_INFO_NULL,
};

int main(void)
{
    return tu_main(suites);
}
