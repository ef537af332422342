/*
 * cli_log: `strata log dump` (see cli_log.h). One pass per segment: the
 * walker hands out frames with their positions and status; each frame is
 * printed (text) or emitted as one JSON object (streamed, so a large
 * segment never sits in memory as a JSON tree), and the frame boundaries
 * are kept for the index checks. Problems are printed as they are found
 * (text) or gathered in the "problems" array (JSON); any problem makes
 * the exit status 1.
 */
#include "cli/cli_log.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli_fmt.h"
#include "cli/cli_util.h"
#include "storage/sl_epoch.h"
#include "storage/sl_file.h"
#include "storage/sl_index.h"
#include "storage/sl_logdir.h"
#include "storage/sl_walk.h"

static const char cli_log_help[] =
    "usage: strata log dump PATH [--records] [--index] [--json]\n"
    "  PATH         a segment (<base offset>.log), an index (.index, .timeindex)\n"
    "               or a partition directory (<topic>-<partition>: every segment in order)\n"
    "  --records    also print each record (offset, timestamp, key, value, headers)\n"
    "  --index      also print the offset and time index entries and check them\n"
    "               against the batches\n"
    "  --json       one JSON document (docs/cli.md describes it)\n"
    "Reads only; exit status 0 when everything is intact, 1 when anything is\n"
    "invalid or unreadable, 2 on a usage error.\n";

#define CL_INDEX_OFFSET 0x1
#define CL_INDEX_TIME 0x2

typedef struct cl_ctx {
    bool json;
    bool records;
    int index; /* CL_INDEX_* to show and check */
    bool batches;
    int problems;
    json_t *plist;
    bool seg_comma;    /* a segment object was emitted already */
    int64_t prev_next; /* offset after the previous segment's last batch, -1 none */
} cl_ctx_t;

/* The intact frame boundaries of one segment, for the index checks. */
typedef struct cl_frames {
    int64_t *pos, *base, *last, *maxts;
    size_t n, cap;
} cl_frames_t;

static void cl_frames_free(cl_frames_t *f)
{
    free(f->pos);
    free(f->base);
    free(f->last);
    free(f->maxts);
    memset(f, 0, sizeof *f);
}

static bool cl_frames_push(cl_frames_t *f, int64_t pos, const st_batch_hdr_t *h)
{
    if (f->n == f->cap) {
        size_t nc = f->cap ? f->cap * 2 : 256;
        int64_t *a = realloc(f->pos, nc * sizeof *a);
        if (a)
            f->pos = a;
        int64_t *b = realloc(f->base, nc * sizeof *b);
        if (b)
            f->base = b;
        int64_t *c = realloc(f->last, nc * sizeof *c);
        if (c)
            f->last = c;
        int64_t *d = realloc(f->maxts, nc * sizeof *d);
        if (d)
            f->maxts = d;
        if (!a || !b || !c || !d)
            return false;
        f->cap = nc;
    }
    f->pos[f->n] = pos;
    f->base[f->n] = h->base_offset;
    f->last[f->n] = h->base_offset + h->last_offset_delta;
    f->maxts[f->n] = h->max_timestamp;
    f->n++;
    return true;
}

/* Index of the frame at byte position pos, or -1. */
static long cl_frames_at_pos(const cl_frames_t *f, int64_t pos)
{
    size_t lo = 0, hi = f->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (f->pos[mid] < pos)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < f->n && f->pos[lo] == pos ? (long)lo : -1;
}

/* Index of the frame whose offset range holds offset, or -1. */
static long cl_frames_holding(const cl_frames_t *f, int64_t offset)
{
    size_t lo = 0, hi = f->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (f->base[mid] <= offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return -1;
    return offset <= f->last[lo - 1] ? (long)(lo - 1) : -1;
}

/* ---- output helpers ------------------------------------------------ */

/* Print v as compact JSON and release it. */
static void cl_emit(json_t *v)
{
    char *s = v ? json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY) : NULL;
    fputs(s ? s : "null", stdout);
    free(s);
    json_decref(v);
}

/* A JSON string for a path (base64-free: a non-UTF-8 name is null). */
static json_t *cl_jstr(const char *s)
{
    json_t *v = json_string(s);
    return v ? v : json_null();
}

static void cl_problem(cl_ctx_t *c, const char *file, int64_t pos, int64_t offset, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void cl_problem(cl_ctx_t *c, const char *file, int64_t pos, int64_t offset, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    c->problems++;
    if (!c->json) {
        printf("INVALID: %s", file);
        if (pos >= 0)
            printf(" position %" PRId64, pos);
        if (offset >= 0)
            printf(" offset %" PRId64, offset);
        printf(": %s\n", msg);
        return;
    }
    json_t *o = json_object();
    json_object_set_new(o, "file", cl_jstr(file));
    json_object_set_new(o, "position", pos >= 0 ? json_integer(pos) : json_null());
    json_object_set_new(o, "offset", offset >= 0 ? json_integer(offset) : json_null());
    json_object_set_new(o, "error", json_string(msg));
    json_array_append_new(c->plist, o);
}

/* Bytes for a text line: printable ASCII as is, the rest as \xNN. */
static void cl_print_bytes(const uint8_t *p, size_t n)
{
    if (!p) {
        fputs("null", stdout);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\')
            putchar(p[i]);
        else
            printf("\\x%02x", p[i]);
    }
}

static const char *cl_codec_name(int attrs)
{
    switch (attrs & ST_BATCH_ATTR_CODEC_MASK) {
    case ST_CODEC_NONE:
        return "none";
    case ST_CODEC_ZSTD:
        return "zstd";
    case ST_CODEC_LZ4:
        return "lz4";
    default:
        return "unknown";
    }
}

static const char *cl_status_name(sl_walk_status_t s)
{
    switch (s) {
    case SL_WALK_OK:
        return "ok";
    case SL_WALK_CRC_INVALID:
        return "crc_invalid";
    case SL_WALK_INVALID:
        return "invalid";
    case SL_WALK_BAD_HEADER:
        return "bad_header";
    case SL_WALK_TRUNCATED:
        return "truncated";
    }
    return "unknown";
}

/* ---- records ------------------------------------------------------- */

/* Records of an intact frame: into arr (JSON) or printed. */
static void cl_records(cl_ctx_t *c, const char *file, const sl_walk_frame_t *f, json_t *arr)
{
    st_batch_iter_t it;
    st_record_t r;
    st_err_t err = st_batch_iter_init(&it, f->frame, f->len);
    while (err == ST_OK && (err = st_batch_iter_next(&it, &r)) == ST_OK) {
        if (arr) {
            bool kb, vb;
            json_t *o = json_object();
            json_object_set_new(o, "offset", json_integer(r.offset));
            json_object_set_new(o, "timestamp", json_integer(r.timestamp));
            json_object_set_new(o, "key", cli_fmt_json_bytes(r.key, r.key_len, &kb));
            json_object_set_new(o, "value", cli_fmt_json_bytes(r.value, r.value_len, &vb));
            if (kb)
                json_object_set_new(o, "key_encoding", json_string("base64"));
            if (vb)
                json_object_set_new(o, "value_encoding", json_string("base64"));
            json_t *hs = json_array();
            for (size_t i = 0; i < r.n_headers; i++) {
                bool hk, hv;
                json_t *h = json_object();
                json_object_set_new(h, "key",
                                    cli_fmt_json_bytes(r.headers[i].key, r.headers[i].key_len, &hk));
                json_object_set_new(h, "value",
                                    cli_fmt_json_bytes(r.headers[i].value, r.headers[i].value_len, &hv));
                if (hk)
                    json_object_set_new(h, "key_encoding", json_string("base64"));
                if (hv)
                    json_object_set_new(h, "value_encoding", json_string("base64"));
                json_array_append_new(hs, h);
            }
            json_object_set_new(o, "headers", hs);
            json_array_append_new(arr, o);
            continue;
        }
        printf("| offset: %" PRId64 " timestamp: %" PRId64 " keySize: %ld valueSize: %ld key: ", r.offset,
               r.timestamp, r.key ? (long)r.key_len : -1L, r.value ? (long)r.value_len : -1L);
        cl_print_bytes(r.key, r.key_len);
        fputs(" value: ", stdout);
        cl_print_bytes(r.value, r.value_len);
        fputs(" headers: [", stdout);
        for (size_t i = 0; i < r.n_headers; i++) {
            if (i)
                putchar(',');
            cl_print_bytes((const uint8_t *)r.headers[i].key, r.headers[i].key_len);
            putchar('=');
            cl_print_bytes(r.headers[i].value, r.headers[i].value_len);
        }
        puts("]");
    }
    if (err != ST_ERR_NOT_FOUND)
        cl_problem(c, file, f->position, f->hdr.base_offset, "malformed record in the batch (%s)",
                   st_err_name(err));
    st_batch_iter_fini(&it);
}

/* ---- one frame ----------------------------------------------------- */

static void cl_frame(cl_ctx_t *c, const char *file, const sl_walk_frame_t *f, bool *comma)
{
    const st_batch_hdr_t *h = &f->hdr;
    bool whole = f->frame != NULL;
    if (f->status != SL_WALK_OK)
        cl_problem(c, file, f->position, f->have_hdr ? h->base_offset : -1, "%s (%s)",
                   f->status == SL_WALK_CRC_INVALID ? "CRC invalid"
                   : f->status == SL_WALK_TRUNCATED ? "truncated"
                                                    : "invalid batch",
                   f->why);
    if (!c->batches)
        return;
    if (!c->json) {
        if (!f->have_hdr) {
            printf("position: %" PRId64 " size: %zu status: %s (%s)\n", f->position, f->size,
                   cl_status_name(f->status), f->why);
            return;
        }
        printf("baseOffset: %" PRId64 " lastOffset: %" PRId64 " count: %" PRId32 " leaderEpoch: %" PRId32
               " producerId: %" PRId64 " producerEpoch: %d baseSequence: %" PRId32 " firstTimestamp: %" PRId64
               " maxTimestamp: %" PRId64
               " attributes: 0x%04x compression: %s timestampType: %s position: %" PRId64
               " size: %zu crc: 0x%08" PRIx32 " crcValid: %s",
               h->base_offset, h->base_offset + h->last_offset_delta, h->record_count, h->leader_epoch,
               h->producer_id, h->producer_epoch, h->base_sequence, h->first_timestamp, h->max_timestamp,
               (unsigned)(uint16_t)h->attributes, cl_codec_name(h->attributes),
               h->attributes & ST_BATCH_ATTR_LOG_APPEND_TIME ? "log_append" : "create", f->position, f->size,
               h->crc,
               !whole                             ? "unknown"
               : f->status == SL_WALK_CRC_INVALID ? "false"
                                                  : "true");
        if (f->status != SL_WALK_OK)
            printf(" status: %s (%s)", cl_status_name(f->status), f->why);
        putchar('\n');
        if (c->records && f->status == SL_WALK_OK)
            cl_records(c, file, f, NULL);
        return;
    }
    json_t *o = json_object();
    json_object_set_new(o, "position", json_integer(f->position));
    json_object_set_new(o, "size", json_integer((json_int_t)f->size));
    json_object_set_new(o, "status", json_string(cl_status_name(f->status)));
    if (f->why)
        json_object_set_new(o, "error", json_string(f->why));
    if (f->have_hdr) {
        char crc[16];
        snprintf(crc, sizeof crc, "%08" PRIx32, h->crc);
        json_object_set_new(o, "base_offset", json_integer(h->base_offset));
        json_object_set_new(o, "last_offset", json_integer(h->base_offset + h->last_offset_delta));
        json_object_set_new(o, "record_count", json_integer(h->record_count));
        json_object_set_new(o, "leader_epoch", json_integer(h->leader_epoch));
        json_object_set_new(o, "producer_id", json_integer(h->producer_id));
        json_object_set_new(o, "producer_epoch", json_integer(h->producer_epoch));
        json_object_set_new(o, "base_sequence", json_integer(h->base_sequence));
        json_object_set_new(o, "first_timestamp", json_integer(h->first_timestamp));
        json_object_set_new(o, "max_timestamp", json_integer(h->max_timestamp));
        json_object_set_new(o, "attributes", json_integer((uint16_t)h->attributes));
        json_object_set_new(o, "compression", json_string(cl_codec_name(h->attributes)));
        json_object_set_new(
            o, "timestamp_type",
            json_string(h->attributes & ST_BATCH_ATTR_LOG_APPEND_TIME ? "log_append" : "create"));
        json_object_set_new(o, "crc", json_string(crc));
        json_object_set_new(o, "crc_valid",
                            !whole ? json_null() : json_boolean(f->status != SL_WALK_CRC_INVALID));
    }
    if (c->records && f->status == SL_WALK_OK) {
        json_t *arr = json_array();
        cl_records(c, file, f, arr);
        json_object_set_new(o, "records", arr);
    }
    if (*comma)
        putchar(',');
    *comma = true;
    cl_emit(o);
}

/* ---- indexes ------------------------------------------------------- */

static bool cl_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

/* Check (and show) one index file of the segment at base; fr holds the
 * segment's frames, valid_bytes its intact prefix (have_log false: no
 * .log to check against). In JSON mode the index object is printed as
 * the value of key. */
static void cl_index(cl_ctx_t *c, const char *path, sl_index_kind_t kind, int64_t base, const cl_frames_t *fr,
                     int64_t valid_bytes, int64_t next, bool have_log, const char *key)
{
    sl_index_t ix;
    size_t slots, trailing;
    bool time = kind == SL_INDEX_TIME;
    st_err_t err = sl_index_open_readonly(&ix, path, kind, &slots, &trailing);
    if (err == ST_ERR_NOT_FOUND) {
        if (c->json)
            printf(",\"%s\":null", key);
        else
            printf("%s index %s: missing (rebuilt by the broker on open)\n", time ? "Time" : "Offset", path);
        return;
    }
    if (err != ST_OK) {
        cl_problem(c, path, -1, -1, "cannot read: %s", st_err_name(err));
        if (c->json)
            printf(",\"%s\":null", key);
        return;
    }
    int before = c->problems;
    size_t unused = 0, broken = 0;
    json_t *ents = c->json ? json_array() : NULL;
    if (!c->json)
        printf("%s index %s: %zu entries\n", time ? "Time" : "Offset", path, ix.ix_n);
    int64_t runmax = INT64_MIN; /* largest max_timestamp of the frames before the one checked */
    size_t fi = 0;
    for (size_t i = 0; i < slots; i++) {
        if (i >= ix.ix_n) {
            if (cl_zero(ix.ix_map + i * ix.ix_esz, ix.ix_esz))
                unused++;
            else
                broken++;
            continue;
        }
        const char *bad = NULL;
        int64_t off, pos = -1, ts = 0;
        uint32_t rel, upos;
        if (!time) {
            sl_index_offset_at(&ix, i, &rel, &upos);
            off = base + rel;
            pos = upos;
            if (have_log) {
                long k = cl_frames_at_pos(fr, pos);
                if (pos >= valid_bytes)
                    bad = "position past the last intact batch";
                else if (k < 0)
                    bad = "position is not a batch boundary";
                else if (fr->base[k] != off)
                    bad = "the batch at that position has another base offset";
            }
        } else {
            sl_index_time_at(&ix, i, &ts, &rel);
            off = base + rel;
            if (have_log) {
                long k = cl_frames_holding(fr, off);
                if (off >= next || k < 0)
                    bad = "offset not in a batch of the segment";
                else {
                    for (; fi < (size_t)k; fi++)
                        if (fr->maxts[fi] > runmax)
                            runmax = fr->maxts[fi];
                    if (ts < runmax)
                        bad = "timestamp below an earlier batch's (time lookups would skip records)";
                }
            }
        }
        if (bad)
            cl_problem(c, path, pos, off, "%s entry %zu: %s", time ? "time index" : "offset index", i, bad);
        if (!(c->index & (time ? CL_INDEX_TIME : CL_INDEX_OFFSET)))
            continue;
        if (c->json) {
            json_t *e = json_object();
            if (time)
                json_object_set_new(e, "timestamp", json_integer(ts));
            json_object_set_new(e, "offset", json_integer(off));
            if (!time)
                json_object_set_new(e, "position", json_integer(pos));
            json_object_set_new(e, "status", json_string(bad ? bad : have_log ? "ok" : "unchecked"));
            json_array_append_new(ents, e);
        } else if (time) {
            printf("timestamp: %" PRId64 " offset: %" PRId64 " %s\n", ts, off, bad ? bad : "");
        } else {
            printf("offset: %" PRId64 " position: %" PRId64 " %s\n", off, pos, bad ? bad : "");
        }
    }
    if (broken)
        cl_problem(c, path, -1, -1, "%zu entries after the first %zu are not increasing", broken, ix.ix_n);
    if (trailing)
        cl_problem(c, path, -1, -1, "%zu bytes after the last whole entry", trailing);
    if (c->json) {
        json_t *o = json_object();
        json_object_set_new(o, "file", cl_jstr(path));
        json_object_set_new(o, "valid_entries", json_integer((json_int_t)ix.ix_n));
        json_object_set_new(o, "slots", json_integer((json_int_t)slots));
        json_object_set_new(o, "unused_slots", json_integer((json_int_t)unused));
        json_object_set_new(o, "checked", json_boolean(have_log));
        json_object_set_new(o, "ok", json_boolean(c->problems == before));
        json_object_set_new(o, "entries", ents);
        printf(",\"%s\":", key);
        cl_emit(o);
    } else {
        printf("%s index %s: %s\n", time ? "Time" : "Offset", path,
               c->problems == before ? "consistent" : "INCONSISTENT");
    }
    sl_index_close(&ix);
}

/* ---- one segment --------------------------------------------------- */

static void cl_seg_path(const char *dir, int64_t base, const char *ext, char *out, size_t n)
{
    snprintf(out, n, "%s/%020" PRId64 "%s", dir, base, ext);
}

/* Dump the segment at base in dir: its batches (when c->batches), then
 * the indexes selected by c->index. */
static void cl_segment(cl_ctx_t *c, const char *dir, int64_t base)
{
    char lpath[PATH_MAX + 32], ipath[PATH_MAX + 32];
    cl_seg_path(dir, base, ".log", lpath, sizeof lpath);
    sl_walk_t w;
    cl_frames_t fr = {0};
    st_err_t err = sl_walk_open(&w, lpath);
    bool have_log = err == ST_OK;
    if (err != ST_OK && (err != ST_ERR_NOT_FOUND || !c->index))
        cl_problem(c, lpath, -1, -1, "cannot read: %s", st_err_name(err));
    if (c->json) {
        if (c->seg_comma)
            putchar(',');
        c->seg_comma = true;
        printf("{\"file\":");
        cl_emit(cl_jstr(lpath));
        printf(",\"base_offset\":%" PRId64, base);
        if (c->batches)
            printf(",\"batches\":[");
    } else {
        printf("Segment %s: base offset %" PRId64 ", %" PRId64 " bytes\n", lpath, base,
               have_log ? sl_walk_file_size(&w) : 0);
    }
    int64_t valid = 0, next = base, prev_next = c->prev_next > base ? c->prev_next : base;
    bool comma = false, first = true;
    sl_walk_frame_t f;
    while (have_log && (err = sl_walk_next(&w, &f)) == ST_OK) {
        if (f.have_hdr && f.frame && f.hdr.base_offset < prev_next)
            cl_problem(c, lpath, f.position, f.hdr.base_offset,
                       "batch offsets not increasing (%s ends at offset %" PRId64 ")",
                       first ? "the segment's base or the previous segment" : "the previous batch",
                       prev_next - 1);
        first = false;
        cl_frame(c, lpath, &f, &comma);
        if (f.frame) {
            if (!cl_frames_push(&fr, f.position, &f.hdr)) {
                cl_problem(c, lpath, f.position, -1, "out of memory");
                break;
            }
            if (f.status == SL_WALK_OK && valid == f.position)
                valid = f.position + (int64_t)f.len;
            next = f.hdr.base_offset + f.hdr.last_offset_delta + 1;
            if (next > prev_next)
                prev_next = next;
        }
    }
    if (have_log && err != ST_OK && err != ST_ERR_NOT_FOUND)
        cl_problem(c, lpath, w.pos, -1, "read error: %s", st_err_name(err));
    if (have_log)
        c->prev_next = prev_next;
    if (c->json) {
        if (c->batches)
            putchar(']');
        printf(",\"size\":%" PRId64 ",\"valid_bytes\":%" PRId64 ",\"next_offset\":%" PRId64,
               have_log ? sl_walk_file_size(&w) : 0, valid, next);
    } else if (have_log) {
        printf("Segment %s: %zu batches, offsets up to %" PRId64 ", %" PRId64 " intact bytes\n", lpath, fr.n,
               next - 1, valid);
    }
    if (c->index & CL_INDEX_OFFSET) {
        cl_seg_path(dir, base, ".index", ipath, sizeof ipath);
        cl_index(c, ipath, SL_INDEX_OFFSET, base, &fr, valid, next, have_log, "offset_index");
    }
    if (c->index & CL_INDEX_TIME) {
        cl_seg_path(dir, base, ".timeindex", ipath, sizeof ipath);
        cl_index(c, ipath, SL_INDEX_TIME, base, &fr, valid, next, have_log, "time_index");
    }
    if (c->json)
        putchar('}');
    cl_frames_free(&fr);
    if (have_log)
        sl_walk_close(&w);
}

/* ---- the partition directory's own files ---------------------------- */

/* partition.meta as an object of its "key: value" lines. */
static json_t *cl_meta(cl_ctx_t *c, const char *dir)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/%s", dir, SL_WALK_META_FILE);
    st_buf_t b;
    st_buf_init(&b);
    st_err_t err = sl_file_read_all(path, 1 << 16, &b);
    if (err == ST_ERR_NOT_FOUND) {
        st_buf_free(&b);
        return json_null();
    }
    json_t *o = json_object();
    if (err != ST_OK || st_buf_append(&b, "", 1) != ST_OK) {
        cl_problem(c, path, -1, -1, "cannot read: %s", st_err_name(err));
        st_buf_free(&b);
        return o;
    }
    char *save = NULL;
    for (char *line = strtok_r((char *)b.data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *colon = strchr(line, ':');
        if (!colon) {
            cl_problem(c, path, -1, -1, "line without 'key: value'");
            continue;
        }
        *colon = '\0';
        const char *v = colon + 1;
        while (*v == ' ')
            v++;
        json_object_set_new(o, line, cl_jstr(v));
    }
    st_buf_free(&b);
    return o;
}

static json_t *cl_epochs(cl_ctx_t *c, const char *dir)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/%s", dir, SL_WALK_EPOCH_FILE);
    struct stat st;
    if (stat(path, &st) != 0)
        return json_null();
    sl_epoch_cache_t ec;
    st_err_t err = sl_epoch_load(&ec, path);
    json_t *arr = json_array();
    if (err != ST_OK)
        cl_problem(c, path, -1, -1, "malformed leader-epoch checkpoint (%s)", st_err_name(err));
    for (size_t i = 0; err == ST_OK && i < ec.n; i++) {
        json_t *e = json_object();
        json_object_set_new(e, "epoch", json_integer(ec.ents[i].epoch));
        json_object_set_new(e, "start_offset", json_integer(ec.ents[i].start));
        json_array_append_new(arr, e);
    }
    sl_epoch_free(&ec);
    return arr;
}

/* Topic and partition from a directory name "<topic>-<partition>". */
static bool cl_topic_partition(const char *dir, char *topic, size_t tn, int32_t *part)
{
    char buf[PATH_MAX];
    snprintf(buf, sizeof buf, "%s", dir);
    size_t l = strlen(buf);
    while (l > 1 && buf[l - 1] == '/')
        buf[--l] = '\0';
    const char *nm = strrchr(buf, '/');
    nm = nm ? nm + 1 : buf;
    const char *dash = strrchr(nm, '-');
    if (!dash || dash == nm || (size_t)(dash - nm) >= tn)
        return false;
    if (!cli_parse_i32(dash + 1, part) || *part < 0)
        return false;
    memcpy(topic, nm, (size_t)(dash - nm));
    topic[dash - nm] = '\0';
    return true;
}

static json_t *cl_i64_or_null(int64_t v)
{
    return v >= 0 ? json_integer(v) : json_null();
}

/* The directory-level files, as JSON members or text lines. */
static void cl_dir_files(cl_ctx_t *c, const char *dir)
{
    json_t *meta = cl_meta(c, dir);
    int64_t start = sl_file_read_i64(dir, SL_WALK_START_FILE);
    json_t *epochs = cl_epochs(c, dir);
    char topic[256], parent[PATH_MAX];
    int32_t part;
    int64_t rp = -1, hw = -1;
    if (cl_topic_partition(dir, topic, sizeof topic, &part)) {
        char buf[PATH_MAX];
        snprintf(buf, sizeof buf, "%s", dir);
        size_t l = strlen(buf);
        while (l > 1 && buf[l - 1] == '/')
            buf[--l] = '\0';
        sl_file_dirname(buf, parent, sizeof parent);
        (void)sl_logdir_peek_checkpoints(parent, topic, part, &rp, &hw);
    }
    int64_t *snaps = NULL;
    int nsnap = 0;
    (void)sl_walk_list_files(dir, ".snapshot", &snaps, &nsnap);
    json_t *sarr = json_array();
    for (int i = 0; i < nsnap; i++)
        json_array_append_new(sarr, json_integer(snaps[i]));
    free(snaps);
    if (c->json) {
        printf(",\"partition_meta\":");
        cl_emit(meta);
        printf(",\"log_start_offset\":");
        cl_emit(cl_i64_or_null(start));
        printf(",\"leader_epoch_checkpoint\":");
        cl_emit(epochs);
        printf(",\"recovery_point\":");
        cl_emit(cl_i64_or_null(rp));
        printf(",\"high_watermark\":");
        cl_emit(cl_i64_or_null(hw));
        printf(",\"producer_snapshots\":");
        cl_emit(sarr);
        return;
    }
    const char *k;
    json_t *v;
    printf("partition.meta:");
    if (json_is_object(meta))
        json_object_foreach(meta, k, v)
            printf(" %s=%s", k, json_string_value(v) ? json_string_value(v) : "?");
    else
        printf(" missing");
    printf("\nlog-start-offset: ");
    start >= 0 ? printf("%" PRId64 "\n", start) : printf("missing\n");
    printf("leader-epoch-checkpoint:");
    size_t i;
    if (json_is_array(epochs))
        json_array_foreach(epochs, i, v)
            printf(" epoch %" JSON_INTEGER_FORMAT " from offset %" JSON_INTEGER_FORMAT,
                   json_integer_value(json_object_get(v, "epoch")),
                   json_integer_value(json_object_get(v, "start_offset")));
    else
        printf(" missing");
    printf("\nlog directory checkpoints: recovery point ");
    rp >= 0 ? printf("%" PRId64, rp) : printf("none");
    printf(", high watermark ");
    hw >= 0 ? printf("%" PRId64 "\n", hw) : printf("none\n");
    printf("producer snapshots:");
    json_array_foreach(sarr, i, v) printf(" %" JSON_INTEGER_FORMAT, json_integer_value(v));
    printf("%s\n", json_array_size(sarr) ? "" : " none");
    json_decref(meta);
    json_decref(epochs);
    json_decref(sarr);
}

/* ---- entry point ----------------------------------------------------- */

static int cl_dump(cl_ctx_t *c, const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        cli_err("%s: %s", path, strerror(errno));
        return CLI_EXIT_ERROR;
    }
    char dir[PATH_MAX];
    const char *type;
    int64_t base = -1;
    if (S_ISDIR(st.st_mode)) {
        type = "partition";
        snprintf(dir, sizeof dir, "%s", path);
    } else {
        if (sl_walk_name_offset(path, ".log", &base)) {
            type = "segment";
        } else if (sl_walk_name_offset(path, ".index", &base)) {
            type = "offset_index";
            c->index = CL_INDEX_OFFSET;
            c->batches = false;
        } else if (sl_walk_name_offset(path, ".timeindex", &base)) {
            type = "time_index";
            c->index = CL_INDEX_TIME;
            c->batches = false;
        } else {
            return cli_usage_err("log dump", "%s: not a segment (<20 digits>.log), an index or a directory",
                                 path);
        }
        sl_file_dirname(path, dir, sizeof dir);
    }
    if (c->json) {
        c->plist = json_array();
        printf("{\"path\":");
        cl_emit(cl_jstr(path));
        printf(",\"type\":\"%s\"", type);
    } else {
        printf("Dumping %s\n", path);
    }
    if (base < 0) {
        cl_dir_files(c, dir);
        int64_t *bases = NULL;
        int n = 0;
        st_err_t err = sl_walk_list_files(dir, ".log", &bases, &n);
        if (err != ST_OK)
            cl_problem(c, dir, -1, -1, "cannot list: %s", st_err_name(err));
        if (c->json)
            printf(",\"segments\":[");
        for (int i = 0; i < n; i++)
            cl_segment(c, dir, bases[i]);
        free(bases);
    } else {
        if (c->json)
            printf(",\"segments\":[");
        cl_segment(c, dir, base);
    }
    if (c->json) {
        printf("],\"problems\":");
        cl_emit(c->plist); /* releases it */
        c->plist = NULL;
        printf(",\"ok\":%s}\n", c->problems ? "false" : "true");
    } else {
        printf("Result: %s (%d problem%s)\n", c->problems ? "INVALID" : "ok", c->problems,
               c->problems == 1 ? "" : "s");
    }
    if (fflush(stdout) != 0)
        return CLI_EXIT_ERROR;
    return c->problems ? CLI_EXIT_ERROR : CLI_EXIT_OK;
}

int cli_log_main(int argc, char **argv)
{
    enum {
        OPT_RECORDS = 2000,
        OPT_INDEX
    };
    static const struct option longopts[] = {
        CLI_GLOBAL_LONGOPTS,
        {"records", no_argument, NULL, OPT_RECORDS},
        {"index", no_argument, NULL, OPT_INDEX},
        {NULL, 0, NULL, 0},
    };
    cl_ctx_t c = {.batches = true, .prev_next = -1};
    int opt;
    optind = 0;
    while ((opt = getopt_long(argc, argv, CLI_GLOBAL_SHORTOPTS, longopts, NULL)) != -1) {
        if (opt == 'h') {
            fputs(cli_log_help, stdout);
            return CLI_EXIT_OK;
        } else if (opt == OPT_RECORDS) {
            c.records = true;
        } else if (opt == OPT_INDEX) {
            c.index = CL_INDEX_OFFSET | CL_INDEX_TIME;
        } else if (!cli_global_opt(opt, optarg)) {
            return cli_usage_err("log", "bad option");
        }
    }
    if (optind >= argc || strcmp(argv[optind], "dump") != 0)
        return cli_usage_err("log", "expected 'dump PATH'");
    if (optind + 1 >= argc)
        return cli_usage_err("log", "missing PATH");
    if (optind + 2 < argc)
        return cli_usage_err("log", "unexpected argument '%s'", argv[optind + 2]);
    c.json = cli_g.json;
    int rc = cl_dump(&c, argv[optind + 1]);
    json_decref(c.plist);
    return rc;
}
