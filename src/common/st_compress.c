/*
 * st_compress: zstd and LZ4-frame compression of batch bodies. Output
 * goes straight into the caller's st_buf_t; decompression grows the
 * buffer step by step and stops at the cap, so the decompressed size
 * declared inside a frame is never trusted.
 */
#include "common/st_compress.h"

#include <lz4frame.h>
#include <string.h>
#include <zstd.h>

/* zstd level 3 is zstd's own default: a good speed/ratio balance. */
#define ST_ZSTD_LEVEL 3

const char *st_codec_name(st_codec_t codec)
{
    switch (codec) {
    case ST_CODEC_NONE:
        return "none";
    case ST_CODEC_ZSTD:
        return "zstd";
    case ST_CODEC_LZ4:
        return "lz4";
    }
    return "unknown";
}

static st_err_t st_compress_zstd(const void *in, size_t n, st_buf_t *out)
{
    size_t bound = ZSTD_compressBound(n);
    st_err_t err = st_buf_reserve(out, bound);
    if (err != ST_OK)
        return err;
    size_t r = ZSTD_compress(out->data + out->len, bound, in, n, ST_ZSTD_LEVEL);
    if (ZSTD_isError(r))
        return ST_ERR_NOMEM; /* only allocation can fail with a bound-sized buffer */
    out->len += r;
    return ST_OK;
}

static st_err_t st_compress_lz4(const void *in, size_t n, st_buf_t *out)
{
    LZ4F_preferences_t prefs;
    memset(&prefs, 0, sizeof prefs);
    prefs.frameInfo.contentChecksumFlag = LZ4F_noContentChecksum; /* the batch CRC covers it */
    prefs.frameInfo.blockSizeID = LZ4F_max256KB;
    size_t bound = LZ4F_compressFrameBound(n, &prefs);
    st_err_t err = st_buf_reserve(out, bound);
    if (err != ST_OK)
        return err;
    size_t r = LZ4F_compressFrame(out->data + out->len, bound, in, n, &prefs);
    if (LZ4F_isError(r))
        return ST_ERR_NOMEM;
    out->len += r;
    return ST_OK;
}

st_err_t st_compress(st_codec_t codec, const void *in, size_t n, st_buf_t *out)
{
    switch (codec) {
    case ST_CODEC_NONE:
        return st_buf_append(out, in, n);
    case ST_CODEC_ZSTD:
        return st_compress_zstd(in, n, out);
    case ST_CODEC_LZ4:
        return st_compress_lz4(in, n, out);
    }
    return ST_ERR_INVALID_ARG;
}

/* Make room for the next output chunk: at least 64 KiB or double what was
 * produced so far, never more than the cap allows (+1 so that exceeding
 * the cap is observable). */
static st_err_t st_decompress_grow(st_buf_t *out, size_t start, size_t max_out, size_t *room)
{
    size_t produced = out->len - start;
    size_t want = produced < 65536 ? 65536 : produced;
    size_t left = max_out + 1 - produced;
    if (want > left)
        want = left;
    if (out->cap - out->len < want) {
        st_err_t err = st_buf_reserve(out, want);
        if (err != ST_OK)
            return err;
    }
    *room = out->cap - out->len;
    if (*room > left)
        *room = left;
    return ST_OK;
}

static st_err_t st_decompress_zstd(const uint8_t *in, size_t n, size_t max_out, st_buf_t *out)
{
    size_t start = out->len;
    st_err_t err = ST_OK;
    ZSTD_DStream *ds = ZSTD_createDStream();
    if (!ds)
        return ST_ERR_NOMEM;
    ZSTD_inBuffer ib = {in, n, 0};
    size_t last = 1;
    while (ib.pos < ib.size || last != 0) {
        size_t room;
        err = st_decompress_grow(out, start, max_out, &room);
        if (err != ST_OK)
            goto done;
        ZSTD_outBuffer ob = {out->data + out->len, room, 0};
        size_t in_before = ib.pos;
        last = ZSTD_decompressStream(ds, &ob, &ib);
        if (ZSTD_isError(last)) {
            err = ST_ERR_CORRUPT_MESSAGE;
            goto done;
        }
        out->len += ob.pos;
        if (out->len - start > max_out) {
            err = ST_ERR_CORRUPT_MESSAGE;
            goto done;
        }
        /* no progress with input left or a frame unfinished: truncated */
        if (ob.pos == 0 && ib.pos == in_before && (ib.pos == ib.size || ob.pos < room)) {
            err = ST_ERR_CORRUPT_MESSAGE;
            goto done;
        }
    }
done:
    ZSTD_freeDStream(ds);
    if (err != ST_OK)
        out->len = start;
    return err;
}

static st_err_t st_decompress_lz4(const uint8_t *in, size_t n, size_t max_out, st_buf_t *out)
{
    size_t start = out->len;
    st_err_t err = ST_OK;
    LZ4F_dctx *dctx = NULL;
    if (LZ4F_isError(LZ4F_createDecompressionContext(&dctx, LZ4F_VERSION)))
        return ST_ERR_NOMEM;
    size_t pos = 0;
    size_t hint = 1;
    while (pos < n || hint != 0) {
        size_t room;
        err = st_decompress_grow(out, start, max_out, &room);
        if (err != ST_OK)
            goto done;
        size_t src_size = n - pos;
        size_t dst_size = room;
        hint = LZ4F_decompress(dctx, out->data + out->len, &dst_size, in + pos, &src_size, NULL);
        if (LZ4F_isError(hint)) {
            err = ST_ERR_CORRUPT_MESSAGE;
            goto done;
        }
        pos += src_size;
        out->len += dst_size;
        if (out->len - start > max_out) {
            err = ST_ERR_CORRUPT_MESSAGE;
            goto done;
        }
        if (dst_size == 0 && src_size == 0) {
            /* nothing moved: the input ended inside a frame */
            err = ST_ERR_CORRUPT_MESSAGE;
            goto done;
        }
    }
done:
    LZ4F_freeDecompressionContext(dctx);
    if (err != ST_OK)
        out->len = start;
    return err;
}

st_err_t st_decompress(st_codec_t codec, const void *in, size_t n, size_t max_out, st_buf_t *out)
{
    if (max_out == 0)
        max_out = ST_DECOMPRESS_MAX;
    switch (codec) {
    case ST_CODEC_NONE:
        if (n > max_out)
            return ST_ERR_CORRUPT_MESSAGE;
        return st_buf_append(out, in, n);
    case ST_CODEC_ZSTD:
        if (n == 0)
            return ST_ERR_CORRUPT_MESSAGE;
        return st_decompress_zstd(in, n, max_out, out);
    case ST_CODEC_LZ4:
        if (n == 0)
            return ST_ERR_CORRUPT_MESSAGE;
        return st_decompress_lz4(in, n, max_out, out);
    }
    return ST_ERR_INVALID_ARG;
}
