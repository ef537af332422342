/*
 * st_batch: the record batch, in its two forms. On disk (and in memory
 * between modules) a batch is a *frame*: a fixed 61-byte little-endian
 * header followed by the body. On the wire it is the protobuf message
 * strata.RecordBatch (proto/record.proto) whose field 15 run is the very
 * same body bytes, so converting between the two copies the body once and
 * never decodes a record. Owns: the frame layout, CRC32C over it,
 * frame<->wire conversion, the batch builder used by producers and tests,
 * and the record iterator used by consumers and the log cleaner.
 *
 * Frame layout (all little-endian):
 *
 *   off size field
 *     0   8  base_offset            assigned by the leader
 *     8   4  length                 bytes after this field (frame size - 12)
 *    12   4  partition_leader_epoch assigned by the leader
 *    16   1  magic                  ST_BATCH_MAGIC
 *    17   4  crc                    CRC32C of bytes [21, end)
 *    21   2  attributes             bits 0-2 codec, bit 3 log-append time
 *    23   4  last_offset_delta
 *    27   8  first_timestamp
 *    35   8  max_timestamp
 *    43   8  producer_id
 *    51   2  producer_epoch
 *    53   4  base_sequence
 *    57   4  record_count
 *    61   -  body: run of (tag 15, length, Record), compressed or not
 *
 * base_offset and partition_leader_epoch sit before the CRC so the leader
 * can assign them without recomputing it, as in Kafka's v2 format.
 */
#ifndef ST_BATCH_H
#define ST_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "common/st_err.h"

#define ST_BATCH_HEADER_SIZE 61
#define ST_BATCH_LENGTH_OFFSET 8 /* where `length` sits */
#define ST_BATCH_CRC_OFFSET 17
#define ST_BATCH_CRC_START 21 /* first byte the CRC covers */
#define ST_BATCH_MAGIC 1

#define ST_BATCH_ATTR_CODEC_MASK 0x07
#define ST_BATCH_ATTR_LOG_APPEND_TIME 0x08

typedef enum st_codec {
    ST_CODEC_NONE = 0,
    ST_CODEC_ZSTD = 1,
    ST_CODEC_LZ4 = 2,
} st_codec_t;

typedef struct st_batch_hdr {
    int64_t base_offset;
    int32_t length;
    int32_t leader_epoch;
    uint8_t magic;
    uint32_t crc;
    int16_t attributes;
    int32_t last_offset_delta;
    int64_t first_timestamp;
    int64_t max_timestamp;
    int64_t producer_id;
    int16_t producer_epoch;
    int32_t base_sequence;
    int32_t record_count;
} st_batch_hdr_t;

/* A growable byte buffer (used by the builder and conversions). */
typedef struct st_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
} st_buf_t;

void st_buf_init(st_buf_t *b);
void st_buf_free(st_buf_t *b);
st_err_t st_buf_reserve(st_buf_t *b, size_t extra);
st_err_t st_buf_append(st_buf_t *b, const void *p, size_t n);

/* One record as seen by readers. key/value are NULL when absent (null);
 * they point into memory owned by the iterator. */
typedef struct st_record_header {
    const char *key;
    size_t key_len;
    const uint8_t *value;
    size_t value_len;
} st_record_header_t;

typedef struct st_record {
    int64_t offset;
    int64_t timestamp;
    const uint8_t *key;
    size_t key_len;
    const uint8_t *value;
    size_t value_len;
    size_t n_headers;
    const st_record_header_t *headers;
    /* the record's whole encoded entry in the record run (tag 15, length,
     * Record): what the log cleaner copies into a rewritten batch */
    const uint8_t *raw;
    size_t raw_len;
} st_record_t;

/* ---- frame header ---------------------------------------------------- */

void st_batch_hdr_encode(const st_batch_hdr_t *h, uint8_t out[ST_BATCH_HEADER_SIZE]);
/* Decode the header of the frame at p (len bytes available). Returns
 * ST_ERR_CORRUPT when len < header size or magic/length are impossible. */
st_err_t st_batch_hdr_decode(const uint8_t *p, size_t len, st_batch_hdr_t *h);
/* Size of the whole frame whose header is h: 12 + h->length. */
static inline size_t st_batch_frame_size(const st_batch_hdr_t *h)
{
    return 12 + (size_t)h->length;
}
/* CRC32C of frame bytes [21, len). */
uint32_t st_batch_compute_crc(const uint8_t *frame, size_t len);
/* Full check of one frame of exactly len bytes: header sane, length
 * matches, CRC matches, record_count > 0, last_offset_delta >=
 * record_count - 1 (equal for a producer's batch; larger for a batch the
 * log cleaner made sparse, which keeps its offset range). Returns ST_OK or
 * ST_ERR_CORRUPT_MESSAGE. */
st_err_t st_batch_validate(const uint8_t *frame, size_t len);
/* st_batch_validate without the CRC: for a frame whose CRC the caller has
 * just checked (e.g. st_batch_from_wire made it). Same return values. */
st_err_t st_batch_validate_header(const uint8_t *frame, size_t len);
/* Overwrite base_offset and leader_epoch of a frame in place. */
void st_batch_set_offset_epoch(uint8_t *frame, int64_t base_offset, int32_t leader_epoch);

/* ---- wire conversion ------------------------------------------------- */

/* Parse an encoded strata.RecordBatch (as carried in a produce request),
 * append its frame to out. Checks the protobuf structure, that the record
 * run is well formed and holds record_count records with strictly
 * increasing offset deltas not past last_offset_delta (a fetched batch of
 * a compacted topic may be sparse), and the CRC. Returns ST_ERR_CORRUPT_MESSAGE (with *why set to a static reason) on any
 * failure; out is unchanged then. */
st_err_t st_batch_from_wire(const uint8_t *pb, size_t len, st_buf_t *out, const char **why);
/* st_batch_from_wire flags.
 * SKIP_RECORDS: check protobuf structure, header and CRC only: never
 *   decompress or walk the records (a follower copying its leader, as
 *   Kafka's followers do).
 * CREATE_TIME: a leader appending a producer's batch, as Kafka's leader
 *   does for CreateTime: max_timestamp becomes the largest record
 *   timestamp (first_timestamp + the largest timestamp_delta) and the
 *   log-append-time attribute is cleared, the CRC recomputed when either
 *   changed; first_timestamp stays (record timestamps are relative to it).
 *   Ignored with SKIP_RECORDS. */
#define ST_BATCH_WIRE_SKIP_RECORDS 0x1
#define ST_BATCH_WIRE_CREATE_TIME 0x2
/* st_batch_from_wire with flags (ST_BATCH_WIRE_*); flags 0 is
 * st_batch_from_wire. */
st_err_t st_batch_from_wire_flags(const uint8_t *pb, size_t len, st_buf_t *out, const char **why,
                                  unsigned flags);
/* Append the strata.RecordBatch encoding of one frame to out. */
st_err_t st_batch_to_wire(const uint8_t *frame, size_t len, st_buf_t *out);
/* Encoded size st_batch_to_wire would produce for this frame. */
size_t st_batch_wire_size(const uint8_t *frame, size_t len);

/* ---- builder --------------------------------------------------------- */

typedef struct st_batch_builder {
    st_buf_t body; /* uncompressed record run */
    st_codec_t codec;
    int32_t count;
    int64_t first_timestamp;
    int64_t max_timestamp;
    int64_t producer_id;
    int16_t producer_epoch;
    int32_t base_sequence;
} st_batch_builder_t;

void st_batch_builder_init(st_batch_builder_t *b, st_codec_t codec);
void st_batch_builder_fini(st_batch_builder_t *b);
/* Drop records, keep the allocation. */
void st_batch_builder_reset(st_batch_builder_t *b);
/* Add a record; key/value NULL = null. timestamp in ms. */
st_err_t st_batch_builder_add(st_batch_builder_t *b, int64_t timestamp, const void *key, size_t key_len,
                              const void *value, size_t value_len, const st_record_header_t *headers,
                              size_t n_headers);
/* Bytes the body holds so far (uncompressed). */
size_t st_batch_builder_size(const st_batch_builder_t *b);
/* Compress if asked, write header + body as a frame (base_offset 0,
 * CRC computed) appended to out. */
st_err_t st_batch_builder_finish(st_batch_builder_t *b, st_buf_t *out);

/* ---- reading records ------------------------------------------------- */

typedef struct st_batch_iter {
    st_batch_hdr_t hdr;
    st_buf_t plain;         /* decompressed body when compressed */
    const uint8_t *p, *end; /* remaining record run */
    st_record_header_t *hdrs;
    size_t hdrs_cap;
    int32_t seen;
} st_batch_iter_t;

/* Start iterating the records of one validated frame. The frame must stay
 * valid while iterating (records point into it, or into it->plain). */
st_err_t st_batch_iter_init(st_batch_iter_t *it, const uint8_t *frame, size_t len);
/* Next record: ST_OK and *rec filled, ST_ERR_NOT_FOUND at the end,
 * ST_ERR_CORRUPT_MESSAGE on a malformed record. */
st_err_t st_batch_iter_next(st_batch_iter_t *it, st_record_t *rec);
void st_batch_iter_fini(st_batch_iter_t *it);

#endif
