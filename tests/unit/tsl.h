/*
 * tsl: helpers shared by the storage unit tests (frames with known
 * content, a small configuration, checks of a whole log).
 */
#ifndef TSL_H
#define TSL_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/st_batch.h"
#include "storage/sl_log.h"
#include "tu.h"

/* A frame of nrec records; record j has timestamp ts + j and value
 * "t<tag>r<j>" padded to pad bytes. */
static inline void tsl_frame(st_buf_t *out, int nrec, int64_t ts, int tag, size_t pad)
{
    st_batch_builder_t b;
    st_batch_builder_init(&b, ST_CODEC_NONE);
    char val[4096];
    if (pad >= sizeof val)
        pad = sizeof val - 1;
    for (int j = 0; j < nrec; j++) {
        memset(val, '.', sizeof val);
        int n = snprintf(val, sizeof val, "t%dr%d", tag, j);
        val[n] = '.';
        size_t len = pad > (size_t)n ? pad : (size_t)n;
        st_batch_builder_add(&b, ts + j, "k", 1, val, len, NULL, 0);
    }
    st_batch_builder_finish(&b, out);
    st_batch_builder_fini(&b);
}

/* Check that frame holds the records tsl_frame(…, tag) made. */
static inline int tsl_frame_tag(const uint8_t *frame, size_t len)
{
    st_batch_iter_t it;
    st_record_t r;
    int tag = -1;
    if (st_batch_validate(frame, len) == ST_OK && st_batch_iter_init(&it, frame, len) == ST_OK &&
        st_batch_iter_next(&it, &r) == ST_OK && r.value_len > 1 && r.value[0] == 't')
        tag = atoi((const char *)r.value + 1);
    st_batch_iter_fini(&it);
    return tag;
}

static inline void tsl_cfg(sl_log_config_t *c)
{
    sl_log_config_default(c);
    c->segment_bytes = 16 * 1024;
    c->index_interval_bytes = 512;
    c->segment_index_bytes = 4096;
    c->retention_ms = -1;
}

/* Append a frame of nrec records; returns the base offset (-1 on error). */
static inline int64_t tsl_append(sl_log_t *log, int nrec, int64_t ts, int tag, size_t pad, int64_t now)
{
    st_buf_t f;
    st_buf_init(&f);
    tsl_frame(&f, nrec, ts, tag, pad);
    int64_t base = -1;
    st_err_t err = sl_log_append(log, f.data, f.len, 0, now, &base);
    st_buf_free(&f);
    return err == ST_OK ? base : -1;
}

/* Walk the whole log frame by frame with sl_log_read: offsets must be
 * contiguous from start to end, every frame valid. Returns the number of
 * frames, or -1 on any inconsistency. */
static inline int tsl_walk(sl_log_t *log)
{
    int64_t off = sl_log_start_offset(log), end = sl_log_end_offset(log);
    int frames = 0;
    st_buf_t out;
    st_buf_init(&out);
    while (off < end) {
        out.len = 0;
        if (sl_log_read(log, off, 1, -1, &out) != ST_OK || out.len == 0)
            goto bad;
        st_batch_hdr_t h;
        if (st_batch_hdr_decode(out.data, out.len, &h) != ST_OK || st_batch_frame_size(&h) != out.len ||
            st_batch_validate(out.data, out.len) != ST_OK || h.base_offset > off ||
            h.base_offset + h.last_offset_delta < off)
            goto bad;
        off = h.base_offset + h.last_offset_delta + 1;
        frames++;
    }
    st_buf_free(&out);
    return frames;
bad:
    fprintf(stderr, "tsl_walk: inconsistency at offset %" PRId64 "\n", off);
    st_buf_free(&out);
    return -1;
}

static inline int64_t tsl_file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (int64_t)st.st_size : -1;
}

#endif
