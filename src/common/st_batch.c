/*
 * st_batch: frame header codec, CRC, frame<->wire conversion, the builder
 * and the record iterator. Everything that reads outside bytes goes
 * through the bounds-checked protobuf walker at the top of this file (a
 * cursor over [p, end) that never reads past end); no generated protobuf
 * code is used here, so libstcommon depends on nothing but zstd, lz4 and
 * ISA-L, and the hot path never allocates per record.
 *
 * Protobuf subset handled: wire types 0 (varint), 1 (fixed64),
 * 2 (length-delimited) and 5 (fixed32); groups (3, 4) are refused.
 * Unknown fields are skipped, as protobuf requires.
 */
#include "common/st_batch.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "common/st_compress.h"
#include "common/st_crc.h"

/* ==== st_buf ========================================================= */

void st_buf_init(st_buf_t *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void st_buf_free(st_buf_t *b)
{
    free(b->data);
    st_buf_init(b);
}

st_err_t st_buf_reserve(st_buf_t *b, size_t extra)
{
    if (extra > SIZE_MAX - b->len)
        return ST_ERR_NOMEM;
    size_t need = b->len + extra;
    if (need <= b->cap)
        return ST_OK;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    uint8_t *p = realloc(b->data, cap);
    if (!p)
        return ST_ERR_NOMEM;
    b->data = p;
    b->cap = cap;
    return ST_OK;
}

st_err_t st_buf_append(st_buf_t *b, const void *p, size_t n)
{
    if (n == 0)
        return ST_OK;
    st_err_t err = st_buf_reserve(b, n);
    if (err != ST_OK)
        return err;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return ST_OK;
}

/* ==== little-endian helpers ========================================== */

static void st_le16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static void st_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static void st_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static uint16_t st_rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}
static uint32_t st_rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static uint64_t st_rd64(const uint8_t *p)
{
    return (uint64_t)st_rd32(p) | ((uint64_t)st_rd32(p + 4) << 32);
}

/* ==== protobuf walker ================================================ */

/* A cursor over untrusted bytes. Every read checks against end. */
typedef struct st_pb {
    const uint8_t *p, *end;
} st_pb_t;

/* A cursor over len bytes at p. p may be NULL only when len is 0 (an empty
 * protobuf bytes field arrives that way); NULL + 0 is undefined in C, so an
 * empty span points at a static byte instead. */
static inline st_pb_t st_pb_span(const uint8_t *p, size_t len)
{
    static const uint8_t empty[1];
    if (!len)
        return (st_pb_t){empty, empty};
    return (st_pb_t){p, p + len};
}

/* One field: number, wire type, and its value (varint/fixed in v,
 * length-delimited payload in [data, data+len)). raw is where the field's
 * tag started. */
typedef struct st_pb_field {
    uint32_t num;
    int wt;
    uint64_t v;
    const uint8_t *data;
    size_t len;
    const uint8_t *raw;
} st_pb_field_t;

static inline __attribute__((always_inline)) bool st_pb_varint(st_pb_t *c, uint64_t *out)
{
    /* one byte: every tag, small lengths and offset deltas (the common case
     * when a broker walks each record of a produce or replica batch) */
    if (c->p < c->end && *c->p < 0x80) {
        *out = *c->p++;
        return true;
    }
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (c->p >= c->end)
            return false;
        uint8_t b = *c->p++;
        if (shift == 63 && (b & 0x7e))
            return false; /* more than 64 bits */
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return true;
        }
    }
    return false;
}

/* Read the next field. Returns false on malformed input. Forced inline
 * (with st_pb_varint): the per-record walk of st_batch_from_wire, which a
 * broker runs on every produce and replica batch, costs about half the
 * instructions (callgrind, 100-byte records). */
static inline __attribute__((always_inline)) bool st_pb_next(st_pb_t *c, st_pb_field_t *f)
{
    uint64_t tag;
    f->raw = c->p;
    if (!st_pb_varint(c, &tag))
        return false;
    if (tag >> 3 == 0 || tag >> 3 > 536870911u)
        return false;
    f->num = (uint32_t)(tag >> 3);
    f->wt = (int)(tag & 7);
    f->data = NULL;
    f->len = 0;
    f->v = 0;
    switch (f->wt) {
    case 0:
        return st_pb_varint(c, &f->v);
    case 1:
        if (c->end - c->p < 8)
            return false;
        f->v = st_rd64(c->p);
        c->p += 8;
        return true;
    case 5:
        if (c->end - c->p < 4)
            return false;
        f->v = st_rd32(c->p);
        c->p += 4;
        return true;
    case 2: {
        uint64_t len;
        if (!st_pb_varint(c, &len))
            return false;
        if (len > (uint64_t)(c->end - c->p))
            return false;
        f->data = c->p;
        f->len = (size_t)len;
        c->p += len;
        return true;
    }
    default:
        return false; /* groups and reserved wire types */
    }
}

/* protobuf int32 travels as a sign-extended varint: keep the low 32 bits. */
static int32_t st_pb_i32(uint64_t v)
{
    return (int32_t)(uint32_t)v;
}

static size_t st_pb_varint_size(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static uint8_t *st_pb_put_varint(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

/* ==== one Record ===================================================== */

/* Parse one strata.Record payload. hdrs may be NULL (validation only);
 * otherwise headers are stored in *hdrs (grown as needed). */
typedef struct st_rec_parse {
    int32_t offset_delta;
    int64_t timestamp_delta;
    const uint8_t *key, *value;
    size_t key_len, value_len;
    size_t n_headers;
} st_rec_parse_t;

static st_err_t st_batch_parse_record(const uint8_t *p, size_t len, st_rec_parse_t *r,
                                      st_record_header_t **hdrs, size_t *hdrs_cap)
{
    st_pb_t c = st_pb_span(p, len);
    st_pb_field_t f;
    memset(r, 0, sizeof *r);
    while (c.p < c.end) {
        if (!st_pb_next(&c, &f))
            return ST_ERR_CORRUPT_MESSAGE;
        switch (f.num) {
        case 1:
            if (f.wt != 0)
                return ST_ERR_CORRUPT_MESSAGE;
            r->offset_delta = st_pb_i32(f.v);
            break;
        case 2:
            if (f.wt != 0)
                return ST_ERR_CORRUPT_MESSAGE;
            r->timestamp_delta = (int64_t)f.v;
            break;
        case 3:
        case 4:
            if (f.wt != 2)
                return ST_ERR_CORRUPT_MESSAGE;
            if (f.num == 3) {
                r->key = f.data ? f.data : p; /* present, maybe empty */
                r->key_len = f.len;
            } else {
                r->value = f.data ? f.data : p;
                r->value_len = f.len;
            }
            break;
        case 5: {
            if (f.wt != 2)
                return ST_ERR_CORRUPT_MESSAGE;
            st_record_header_t h = {NULL, 0, NULL, 0};
            st_pb_t hc = st_pb_span(f.data, f.len);
            st_pb_field_t hf;
            while (hc.p < hc.end) {
                if (!st_pb_next(&hc, &hf))
                    return ST_ERR_CORRUPT_MESSAGE;
                if ((hf.num == 1 || hf.num == 2) && hf.wt != 2)
                    return ST_ERR_CORRUPT_MESSAGE;
                if (hf.num == 1) {
                    h.key = (const char *)(hf.data ? hf.data : f.data);
                    h.key_len = hf.len;
                } else if (hf.num == 2) {
                    h.value = hf.data ? hf.data : f.data;
                    h.value_len = hf.len;
                }
            }
            if (hdrs) {
                if (r->n_headers == *hdrs_cap) {
                    size_t ncap = *hdrs_cap ? *hdrs_cap * 2 : 4;
                    st_record_header_t *nh = realloc(*hdrs, ncap * sizeof *nh);
                    if (!nh)
                        return ST_ERR_NOMEM;
                    *hdrs = nh;
                    *hdrs_cap = ncap;
                }
                (*hdrs)[r->n_headers] = h;
            }
            r->n_headers++;
            break;
        }
        default:
            break; /* unknown field: skipped */
        }
    }
    return ST_OK;
}

/* Walk a record run (the body of an uncompressed batch): every entry must
 * be field 15, length-delimited, and a well-formed Record; offset_delta
 * values start at >= 0 and strictly increase. A producer's batch is dense
 * (delta == position); a batch rewritten by the log cleaner may have gaps
 * (Kafka's compacted batches). *count gets the number of records,
 * *last_delta the largest offset_delta (-1 when empty). */
static st_err_t st_batch_walk_run(const uint8_t *p, size_t len, int64_t *count, int64_t *last_delta,
                                  int64_t *max_ts_delta)
{
    st_pb_t c = st_pb_span(p, len);
    st_pb_field_t f;
    st_rec_parse_t r;
    int64_t n = 0, last = -1, max_ts = INT64_MIN;
    while (c.p < c.end) {
        if (!st_pb_next(&c, &f) || f.num != 15 || f.wt != 2)
            return ST_ERR_CORRUPT_MESSAGE;
        if (st_batch_parse_record(f.data, f.len, &r, NULL, NULL) != ST_OK)
            return ST_ERR_CORRUPT_MESSAGE;
        if (r.offset_delta <= last)
            return ST_ERR_CORRUPT_MESSAGE;
        last = r.offset_delta;
        if (r.timestamp_delta > max_ts)
            max_ts = r.timestamp_delta;
        n++;
    }
    *count = n;
    *last_delta = last;
    *max_ts_delta = max_ts;
    return ST_OK;
}

/* ==== frame header =================================================== */

void st_batch_hdr_encode(const st_batch_hdr_t *h, uint8_t out[ST_BATCH_HEADER_SIZE])
{
    st_le64(out + 0, (uint64_t)h->base_offset);
    st_le32(out + 8, (uint32_t)h->length);
    st_le32(out + 12, (uint32_t)h->leader_epoch);
    out[16] = h->magic;
    st_le32(out + 17, h->crc);
    st_le16(out + 21, (uint16_t)h->attributes);
    st_le32(out + 23, (uint32_t)h->last_offset_delta);
    st_le64(out + 27, (uint64_t)h->first_timestamp);
    st_le64(out + 35, (uint64_t)h->max_timestamp);
    st_le64(out + 43, (uint64_t)h->producer_id);
    st_le16(out + 51, (uint16_t)h->producer_epoch);
    st_le32(out + 53, (uint32_t)h->base_sequence);
    st_le32(out + 57, (uint32_t)h->record_count);
}

st_err_t st_batch_hdr_decode(const uint8_t *p, size_t len, st_batch_hdr_t *h)
{
    if (len < ST_BATCH_HEADER_SIZE)
        return ST_ERR_CORRUPT;
    h->base_offset = (int64_t)st_rd64(p + 0);
    h->length = (int32_t)st_rd32(p + 8);
    h->leader_epoch = (int32_t)st_rd32(p + 12);
    h->magic = p[16];
    h->crc = st_rd32(p + 17);
    h->attributes = (int16_t)st_rd16(p + 21);
    h->last_offset_delta = (int32_t)st_rd32(p + 23);
    h->first_timestamp = (int64_t)st_rd64(p + 27);
    h->max_timestamp = (int64_t)st_rd64(p + 35);
    h->producer_id = (int64_t)st_rd64(p + 43);
    h->producer_epoch = (int16_t)st_rd16(p + 51);
    h->base_sequence = (int32_t)st_rd32(p + 53);
    h->record_count = (int32_t)st_rd32(p + 57);
    if (h->magic != ST_BATCH_MAGIC)
        return ST_ERR_CORRUPT;
    if (h->length < ST_BATCH_HEADER_SIZE - 12)
        return ST_ERR_CORRUPT;
    return ST_OK;
}

uint32_t st_batch_compute_crc(const uint8_t *frame, size_t len)
{
    if (len < ST_BATCH_CRC_START)
        return 0;
    return st_crc32c(frame + ST_BATCH_CRC_START, len - ST_BATCH_CRC_START);
}

st_err_t st_batch_validate(const uint8_t *frame, size_t len)
{
    st_err_t err = st_batch_validate_header(frame, len);
    if (err != ST_OK)
        return err;
    /* the stored crc sits at a fixed place: no second header decode */
    if (st_batch_compute_crc(frame, len) != st_rd32(frame + ST_BATCH_CRC_OFFSET))
        return ST_ERR_CORRUPT_MESSAGE;
    return ST_OK;
}

st_err_t st_batch_validate_header(const uint8_t *frame, size_t len)
{
    st_batch_hdr_t h;
    if (!frame || st_batch_hdr_decode(frame, len, &h) != ST_OK)
        return ST_ERR_CORRUPT_MESSAGE;
    if (st_batch_frame_size(&h) != len)
        return ST_ERR_CORRUPT_MESSAGE;
    if (h.record_count <= 0 || h.last_offset_delta < h.record_count - 1)
        return ST_ERR_CORRUPT_MESSAGE;
    int codec = h.attributes & ST_BATCH_ATTR_CODEC_MASK;
    if (codec > ST_CODEC_LZ4)
        return ST_ERR_CORRUPT_MESSAGE;
    if (len == ST_BATCH_HEADER_SIZE)
        return ST_ERR_CORRUPT_MESSAGE; /* a batch holds at least one record */
    return ST_OK;
}

void st_batch_set_offset_epoch(uint8_t *frame, int64_t base_offset, int32_t leader_epoch)
{
    st_le64(frame + 0, (uint64_t)base_offset);
    st_le32(frame + 12, (uint32_t)leader_epoch);
}

/* ==== wire conversion ================================================ */

/* Check that body (as stored in a frame of codec) holds exactly count
 * well-formed records whose offset deltas do not pass last_delta.
 * Compressed bodies are decompressed (bounded). */
static st_err_t st_batch_check_body(int codec, const uint8_t *body, size_t len, int32_t count,
                                    int32_t last_delta, int64_t *max_ts_delta, const char **why)
{
    st_buf_t plain;
    st_buf_init(&plain);
    const uint8_t *run = body;
    size_t run_len = len;
    st_err_t err = ST_OK;
    if (codec != ST_CODEC_NONE) {
        if (st_decompress((st_codec_t)codec, body, len, 0, &plain) != ST_OK) {
            *why = "compressed records do not decompress";
            err = ST_ERR_CORRUPT_MESSAGE;
            goto done;
        }
        run = plain.data;
        run_len = plain.len;
    }
    int64_t n = 0, last = -1;
    if (st_batch_walk_run(run, run_len, &n, &last, max_ts_delta) != ST_OK) {
        *why = "malformed record";
        err = ST_ERR_CORRUPT_MESSAGE;
        goto done;
    }
    if (n != count) {
        *why = "record count does not match the records";
        err = ST_ERR_CORRUPT_MESSAGE;
    } else if (last > last_delta) {
        *why = "record offset_delta past last_offset_delta";
        err = ST_ERR_CORRUPT_MESSAGE;
    }
done:
    st_buf_free(&plain);
    return err;
}

st_err_t st_batch_from_wire(const uint8_t *pb, size_t len, st_buf_t *out, const char **why)
{
    return st_batch_from_wire_flags(pb, len, out, why, 0);
}

st_err_t st_batch_from_wire_flags(const uint8_t *pb, size_t len, st_buf_t *out, const char **why,
                                  unsigned flags)
{
    static const char *dummy;
    if (!why)
        why = &dummy;
    *why = NULL;
    if (!pb && len)
        return ST_ERR_CORRUPT_MESSAGE;

    st_batch_hdr_t h;
    memset(&h, 0, sizeof h);
    bool have_crc = false;
    int64_t attributes = 0, producer_epoch = 0;
    const uint8_t *run_start = NULL, *run_end = NULL;
    bool run_closed = false; /* a non-15 field came after the run */
    const uint8_t *comp = NULL;
    size_t comp_len = 0;
    bool have_comp = false;

    st_pb_t c = st_pb_span(pb, len);
    st_pb_field_t f;
    while (c.p < c.end) {
        if (!st_pb_next(&c, &f)) {
            *why = "malformed protobuf";
            return ST_ERR_CORRUPT_MESSAGE;
        }
        if (f.num != 15 && run_start)
            run_closed = true;
        int want_wt = f.num == 3 ? 5 : (f.num == 15 || f.num == 16) ? 2 : 0;
        if (f.num <= 11 || f.num == 15 || f.num == 16) {
            if (f.wt != want_wt) {
                *why = "wrong wire type";
                return ST_ERR_CORRUPT_MESSAGE;
            }
        }
        switch (f.num) {
        case 1:
            h.base_offset = (int64_t)f.v;
            break;
        case 2:
            h.leader_epoch = st_pb_i32(f.v);
            break;
        case 3:
            h.crc = (uint32_t)f.v;
            have_crc = true;
            break;
        case 4:
            attributes = st_pb_i32(f.v);
            break;
        case 5:
            h.last_offset_delta = st_pb_i32(f.v);
            break;
        case 6:
            h.first_timestamp = (int64_t)f.v;
            break;
        case 7:
            h.max_timestamp = (int64_t)f.v;
            break;
        case 8:
            h.producer_id = (int64_t)f.v;
            break;
        case 9:
            producer_epoch = st_pb_i32(f.v);
            break;
        case 10:
            h.base_sequence = st_pb_i32(f.v);
            break;
        case 11:
            h.record_count = st_pb_i32(f.v);
            break;
        case 15:
            if (run_closed) {
                *why = "records are not contiguous";
                return ST_ERR_CORRUPT_MESSAGE;
            }
            if (!run_start)
                run_start = f.raw;
            run_end = c.p;
            break;
        case 16:
            comp = f.data;
            comp_len = f.len;
            have_comp = true;
            break;
        default:
            break; /* unknown field */
        }
    }
    if (attributes < INT16_MIN || attributes > INT16_MAX || producer_epoch < INT16_MIN ||
        producer_epoch > INT16_MAX) {
        *why = "attributes or producer epoch out of range";
        return ST_ERR_CORRUPT_MESSAGE;
    }
    h.attributes = (int16_t)attributes;
    h.producer_epoch = (int16_t)producer_epoch;
    int codec = h.attributes & ST_BATCH_ATTR_CODEC_MASK;
    if (codec > ST_CODEC_LZ4) {
        *why = "unknown compression codec";
        return ST_ERR_CORRUPT_MESSAGE;
    }
    if (!have_crc) {
        *why = "missing crc";
        return ST_ERR_CORRUPT_MESSAGE;
    }
    if (h.record_count <= 0) {
        *why = "record_count <= 0";
        return ST_ERR_CORRUPT_MESSAGE;
    }
    if (h.last_offset_delta < h.record_count - 1) {
        *why = "last_offset_delta smaller than record_count - 1";
        return ST_ERR_CORRUPT_MESSAGE;
    }
    const uint8_t *body;
    size_t body_len;
    if (codec == ST_CODEC_NONE) {
        if (have_comp || !run_start) {
            *why = "uncompressed batch needs records and no compressed_records";
            return ST_ERR_CORRUPT_MESSAGE;
        }
        body = run_start;
        body_len = (size_t)(run_end - run_start);
    } else {
        if (run_start || !have_comp || comp_len == 0) {
            *why = "compressed batch needs compressed_records and no records";
            return ST_ERR_CORRUPT_MESSAGE;
        }
        body = comp;
        body_len = comp_len;
    }
    if (body_len > (size_t)INT32_MAX - (ST_BATCH_HEADER_SIZE - 12)) {
        *why = "batch too large";
        return ST_ERR_CORRUPT_MESSAGE;
    }
    h.magic = ST_BATCH_MAGIC;
    h.length = (int32_t)(ST_BATCH_HEADER_SIZE - 12 + body_len);

    /* CRC first: cheap, and it rejects most damage before any parsing. */
    uint8_t hdr[ST_BATCH_HEADER_SIZE];
    st_batch_hdr_encode(&h, hdr);
    uint32_t crc = st_crc32c(hdr + ST_BATCH_CRC_START, ST_BATCH_HEADER_SIZE - ST_BATCH_CRC_START);
    crc = st_crc32c_update(crc, body, body_len);
    if (crc != h.crc) {
        *why = "crc mismatch";
        return ST_ERR_CORRUPT_MESSAGE;
    }
    st_err_t err;
    int64_t max_delta = INT64_MIN;
    if (!(flags & ST_BATCH_WIRE_SKIP_RECORDS)) {
        err =
            st_batch_check_body(codec, body, body_len, h.record_count, h.last_offset_delta, &max_delta, why);
        if (err != ST_OK)
            return err;
        if (flags & ST_BATCH_WIRE_CREATE_TIME) {
            int64_t ft = h.first_timestamp;
            if ((max_delta > 0 && ft > INT64_MAX - max_delta) ||
                (max_delta < 0 && ft < INT64_MIN - max_delta)) {
                *why = "record timestamp out of range";
                return ST_ERR_CORRUPT_MESSAGE;
            }
            int64_t max_ts = ft + max_delta;
            if (max_ts != h.max_timestamp || (h.attributes & ST_BATCH_ATTR_LOG_APPEND_TIME)) {
                /* the header says what the records say: the CRC covers it */
                h.max_timestamp = max_ts;
                h.attributes = (int16_t)(h.attributes & ~ST_BATCH_ATTR_LOG_APPEND_TIME);
                h.crc = 0;
                st_batch_hdr_encode(&h, hdr);
                crc = st_crc32c(hdr + ST_BATCH_CRC_START, ST_BATCH_HEADER_SIZE - ST_BATCH_CRC_START);
                h.crc = st_crc32c_update(crc, body, body_len);
                st_batch_hdr_encode(&h, hdr);
            }
        }
    }

    err = st_buf_reserve(out, ST_BATCH_HEADER_SIZE + body_len);
    if (err != ST_OK)
        return err;
    memcpy(out->data + out->len, hdr, ST_BATCH_HEADER_SIZE);
    if (body_len)
        memcpy(out->data + out->len + ST_BATCH_HEADER_SIZE, body, body_len);
    out->len += ST_BATCH_HEADER_SIZE + body_len;
    return ST_OK;
}

/* Size of the scalar fields 1..11 of the wire form of h. */
static size_t st_batch_wire_hdr_size(const st_batch_hdr_t *h)
{
    return 11 + 4 + /* 11 one-byte tags; fixed32 crc */
           st_pb_varint_size((uint64_t)h->base_offset) +
           st_pb_varint_size((uint64_t)(int64_t)h->leader_epoch) +
           st_pb_varint_size((uint64_t)(int64_t)h->attributes) +
           st_pb_varint_size((uint64_t)(int64_t)h->last_offset_delta) +
           st_pb_varint_size((uint64_t)h->first_timestamp) + st_pb_varint_size((uint64_t)h->max_timestamp) +
           st_pb_varint_size((uint64_t)h->producer_id) +
           st_pb_varint_size((uint64_t)(int64_t)h->producer_epoch) +
           st_pb_varint_size((uint64_t)(int64_t)h->base_sequence) +
           st_pb_varint_size((uint64_t)(int64_t)h->record_count);
}

size_t st_batch_wire_size(const uint8_t *frame, size_t len)
{
    st_batch_hdr_t h;
    if (st_batch_hdr_decode(frame, len, &h) != ST_OK || st_batch_frame_size(&h) > len)
        return 0;
    size_t body_len = st_batch_frame_size(&h) - ST_BATCH_HEADER_SIZE;
    size_t n = st_batch_wire_hdr_size(&h);
    if ((h.attributes & ST_BATCH_ATTR_CODEC_MASK) == ST_CODEC_NONE)
        n += body_len;
    else
        n += 2 + st_pb_varint_size(body_len) + body_len; /* tag 16 is two bytes */
    return n;
}

st_err_t st_batch_to_wire(const uint8_t *frame, size_t len, st_buf_t *out)
{
    st_batch_hdr_t h;
    if (st_batch_hdr_decode(frame, len, &h) != ST_OK || st_batch_frame_size(&h) != len)
        return ST_ERR_CORRUPT_MESSAGE;
    size_t n = st_batch_wire_size(frame, len);
    st_err_t err = st_buf_reserve(out, n);
    if (err != ST_OK)
        return err;
    uint8_t *p = out->data + out->len;
    *p++ = 1 << 3;
    p = st_pb_put_varint(p, (uint64_t)h.base_offset);
    *p++ = 2 << 3;
    p = st_pb_put_varint(p, (uint64_t)(int64_t)h.leader_epoch);
    *p++ = 3 << 3 | 5;
    st_le32(p, h.crc);
    p += 4;
    *p++ = 4 << 3;
    p = st_pb_put_varint(p, (uint64_t)(int64_t)h.attributes);
    *p++ = 5 << 3;
    p = st_pb_put_varint(p, (uint64_t)(int64_t)h.last_offset_delta);
    *p++ = 6 << 3;
    p = st_pb_put_varint(p, (uint64_t)h.first_timestamp);
    *p++ = 7 << 3;
    p = st_pb_put_varint(p, (uint64_t)h.max_timestamp);
    *p++ = 8 << 3;
    p = st_pb_put_varint(p, (uint64_t)h.producer_id);
    *p++ = 9 << 3;
    p = st_pb_put_varint(p, (uint64_t)(int64_t)h.producer_epoch);
    *p++ = 10 << 3;
    p = st_pb_put_varint(p, (uint64_t)(int64_t)h.base_sequence);
    *p++ = 11 << 3;
    p = st_pb_put_varint(p, (uint64_t)(int64_t)h.record_count);
    size_t body_len = len - ST_BATCH_HEADER_SIZE;
    if ((h.attributes & ST_BATCH_ATTR_CODEC_MASK) != ST_CODEC_NONE) {
        p = st_pb_put_varint(p, 16 << 3 | 2);
        p = st_pb_put_varint(p, body_len);
    }
    memcpy(p, frame + ST_BATCH_HEADER_SIZE, body_len);
    p += body_len;
    out->len = (size_t)(p - out->data);
    return ST_OK;
}

/* ==== builder ======================================================== */

void st_batch_builder_init(st_batch_builder_t *b, st_codec_t codec)
{
    st_buf_init(&b->body);
    b->codec = codec;
    st_batch_builder_reset(b);
}

void st_batch_builder_fini(st_batch_builder_t *b)
{
    st_buf_free(&b->body);
}

void st_batch_builder_reset(st_batch_builder_t *b)
{
    b->body.len = 0;
    b->count = 0;
    b->first_timestamp = 0;
    b->max_timestamp = 0;
    b->producer_id = -1;
    b->producer_epoch = -1;
    b->base_sequence = -1;
}

size_t st_batch_builder_size(const st_batch_builder_t *b)
{
    return b->body.len;
}

static size_t st_pb_bytes_size(size_t n)
{
    return 1 + st_pb_varint_size(n) + n;
}

st_err_t st_batch_builder_add(st_batch_builder_t *b, int64_t timestamp, const void *key, size_t key_len,
                              const void *value, size_t value_len, const st_record_header_t *headers,
                              size_t n_headers)
{
    if (b->count == INT32_MAX)
        return ST_ERR_INVALID_ARG;
    if (b->count == 0) {
        b->first_timestamp = timestamp;
        b->max_timestamp = timestamp;
    }
    int64_t ts_delta = (int64_t)((uint64_t)timestamp - (uint64_t)b->first_timestamp);
    size_t rec =
        1 + st_pb_varint_size((uint64_t)(int64_t)b->count) + 1 + st_pb_varint_size((uint64_t)ts_delta);
    if (key)
        rec += st_pb_bytes_size(key_len);
    if (value)
        rec += st_pb_bytes_size(value_len);
    for (size_t i = 0; i < n_headers; i++) {
        size_t hl = (headers[i].key ? st_pb_bytes_size(headers[i].key_len) : 0) +
                    (headers[i].value ? st_pb_bytes_size(headers[i].value_len) : 0);
        rec += st_pb_bytes_size(hl);
    }
    st_err_t err = st_buf_reserve(&b->body, 1 + st_pb_varint_size(rec) + rec);
    if (err != ST_OK)
        return err;
    uint8_t *p = b->body.data + b->body.len;
    *p++ = 15 << 3 | 2;
    p = st_pb_put_varint(p, rec);
    *p++ = 1 << 3;
    p = st_pb_put_varint(p, (uint64_t)(int64_t)b->count);
    *p++ = 2 << 3;
    p = st_pb_put_varint(p, (uint64_t)ts_delta);
    if (key) {
        *p++ = 3 << 3 | 2;
        p = st_pb_put_varint(p, key_len);
        memcpy(p, key, key_len);
        p += key_len;
    }
    if (value) {
        *p++ = 4 << 3 | 2;
        p = st_pb_put_varint(p, value_len);
        memcpy(p, value, value_len);
        p += value_len;
    }
    for (size_t i = 0; i < n_headers; i++) {
        size_t hl = (headers[i].key ? st_pb_bytes_size(headers[i].key_len) : 0) +
                    (headers[i].value ? st_pb_bytes_size(headers[i].value_len) : 0);
        *p++ = 5 << 3 | 2;
        p = st_pb_put_varint(p, hl);
        if (headers[i].key) {
            *p++ = 1 << 3 | 2;
            p = st_pb_put_varint(p, headers[i].key_len);
            memcpy(p, headers[i].key, headers[i].key_len);
            p += headers[i].key_len;
        }
        if (headers[i].value) {
            *p++ = 2 << 3 | 2;
            p = st_pb_put_varint(p, headers[i].value_len);
            memcpy(p, headers[i].value, headers[i].value_len);
            p += headers[i].value_len;
        }
    }
    b->body.len = (size_t)(p - b->body.data);
    b->count++;
    if (timestamp > b->max_timestamp)
        b->max_timestamp = timestamp;
    return ST_OK;
}

st_err_t st_batch_builder_finish(st_batch_builder_t *b, st_buf_t *out)
{
    if (b->count == 0)
        return ST_ERR_INVALID_ARG;
    size_t start = out->len;
    uint8_t zero[ST_BATCH_HEADER_SIZE] = {0};
    st_err_t err = st_buf_append(out, zero, sizeof zero);
    if (err != ST_OK)
        return err;
    err = st_compress(b->codec, b->body.data, b->body.len, out);
    if (err != ST_OK)
        goto fail;
    size_t frame_len = out->len - start;
    if (frame_len - 12 > (size_t)INT32_MAX) {
        err = ST_ERR_INVALID_ARG;
        goto fail;
    }
    st_batch_hdr_t h = {
        .base_offset = 0,
        .length = (int32_t)(frame_len - 12),
        .leader_epoch = -1,
        .magic = ST_BATCH_MAGIC,
        .crc = 0,
        .attributes = (int16_t)b->codec,
        .last_offset_delta = b->count - 1,
        .first_timestamp = b->first_timestamp,
        .max_timestamp = b->max_timestamp,
        .producer_id = b->producer_id,
        .producer_epoch = b->producer_epoch,
        .base_sequence = b->base_sequence,
        .record_count = b->count,
    };
    uint8_t *frame = out->data + start;
    st_batch_hdr_encode(&h, frame);
    st_le32(frame + ST_BATCH_CRC_OFFSET, st_batch_compute_crc(frame, frame_len));
    return ST_OK;
fail:
    out->len = start;
    return err;
}

/* ==== iterator ======================================================= */

st_err_t st_batch_iter_init(st_batch_iter_t *it, const uint8_t *frame, size_t len)
{
    memset(it, 0, sizeof *it);
    st_buf_init(&it->plain);
    if (st_batch_hdr_decode(frame, len, &it->hdr) != ST_OK || st_batch_frame_size(&it->hdr) > len)
        return ST_ERR_CORRUPT_MESSAGE;
    const uint8_t *body = frame + ST_BATCH_HEADER_SIZE;
    size_t body_len = st_batch_frame_size(&it->hdr) - ST_BATCH_HEADER_SIZE;
    int codec = it->hdr.attributes & ST_BATCH_ATTR_CODEC_MASK;
    if (codec == ST_CODEC_NONE) {
        it->p = body;
        it->end = body + body_len;
        return ST_OK;
    }
    st_err_t err = st_decompress((st_codec_t)codec, body, body_len, 0, &it->plain);
    if (err != ST_OK)
        return err == ST_ERR_NOMEM ? err : ST_ERR_CORRUPT_MESSAGE;
    it->p = it->plain.data;
    it->end = it->plain.data + it->plain.len;
    return ST_OK;
}

st_err_t st_batch_iter_next(st_batch_iter_t *it, st_record_t *rec)
{
    if (it->p == it->end) {
        if (it->seen != it->hdr.record_count)
            return ST_ERR_CORRUPT_MESSAGE;
        return ST_ERR_NOT_FOUND;
    }
    if (it->seen >= it->hdr.record_count)
        return ST_ERR_CORRUPT_MESSAGE;
    st_pb_t c = {it->p, it->end};
    st_pb_field_t f;
    if (!st_pb_next(&c, &f) || f.num != 15 || f.wt != 2)
        return ST_ERR_CORRUPT_MESSAGE;
    st_rec_parse_t r;
    st_err_t err = st_batch_parse_record(f.data, f.len, &r, &it->hdrs, &it->hdrs_cap);
    if (err != ST_OK)
        return err;
    rec->raw = it->p;
    rec->raw_len = (size_t)(c.p - it->p);
    it->p = c.p;
    it->seen++;
    rec->offset = it->hdr.base_offset + r.offset_delta;
    if (it->hdr.attributes & ST_BATCH_ATTR_LOG_APPEND_TIME)
        rec->timestamp = it->hdr.max_timestamp;
    else
        rec->timestamp = (int64_t)((uint64_t)it->hdr.first_timestamp + (uint64_t)r.timestamp_delta);
    rec->key = r.key;
    rec->key_len = r.key_len;
    rec->value = r.value;
    rec->value_len = r.value_len;
    rec->n_headers = r.n_headers;
    rec->headers = r.n_headers ? it->hdrs : NULL;
    return ST_OK;
}

void st_batch_iter_fini(st_batch_iter_t *it)
{
    st_buf_free(&it->plain);
    free(it->hdrs);
    it->hdrs = NULL;
    it->hdrs_cap = 0;
}
