/*
 * st_compress: the batch body codecs. zstd (one or more zstd frames) and
 * LZ4 in its *frame* format (not raw blocks), both through the system
 * libraries. Compression appends to an st_buf_t; decompression appends
 * too and refuses to produce more than a caller-given number of bytes, so
 * a small hostile input cannot inflate into gigabytes ("zip bomb"). Owns
 * nothing but the codec calls; stateless and callable from any thread.
 */
#ifndef ST_COMPRESS_H
#define ST_COMPRESS_H

#include <stddef.h>

#include "common/st_batch.h"
#include "common/st_err.h"

/* Default cap on decompressed output (64 MiB). */
#define ST_DECOMPRESS_MAX ((size_t)64 << 20)

/* Compress n bytes at in with codec, appending the result to out.
 * ST_CODEC_NONE copies. Returns ST_OK, ST_ERR_NOMEM, or
 * ST_ERR_INVALID_ARG for an unknown codec. On error out->len is unchanged. */
st_err_t st_compress(st_codec_t codec, const void *in, size_t n, st_buf_t *out);

/* Decompress n bytes at in, appending at most max_out bytes to out
 * (0 = ST_DECOMPRESS_MAX). The input must be one or more complete frames
 * with nothing after them. Returns ST_OK; ST_ERR_CORRUPT_MESSAGE for
 * malformed or truncated input, trailing garbage, or output that would
 * exceed max_out; ST_ERR_NOMEM; ST_ERR_INVALID_ARG for an unknown codec.
 * On error out->len is unchanged. */
st_err_t st_decompress(st_codec_t codec, const void *in, size_t n, size_t max_out, st_buf_t *out);

/* Human-readable codec name ("none", "zstd", "lz4", "unknown"). */
const char *st_codec_name(st_codec_t codec);

#endif
