/*
 * st_metrics: the Prometheus text exposition format, version 0.0.4, and a
 * latency histogram. A writer (st_mw) appends families to a growing
 * buffer: one "# HELP" and "# TYPE" pair per family, then its samples,
 * label values escaped (backslash, double quote, newline), help text
 * escaped (backslash, newline), values in the shortest exact decimal form
 * ("+Inf", "-Inf", "NaN" for the special values). A histogram (st_mhist)
 * keeps per-bucket counts over fixed upper bounds in seconds; the writer
 * renders it cumulatively with the "+Inf" bucket equal to _count. The
 * caller keeps a family's samples together and never writes one series
 * twice. Owns: the writer's buffer. Not thread-safe: one writer, one
 * thread; a histogram is updated and rendered on the same thread.
 */
#ifndef ST_METRICS_H
#define ST_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "common/st_err.h"

/* Upper bounds of st_mhist buckets (seconds), ascending; the last one is
 * followed by +Inf. */
#define ST_MHIST_BUCKETS 16
extern const double st_mhist_bounds[ST_MHIST_BUCKETS];

/* A latency histogram: counts[i] = observations <= bounds[i] and above
 * bounds[i-1]; counts[ST_MHIST_BUCKETS] = above the last bound. */
typedef struct st_mhist {
    uint64_t counts[ST_MHIST_BUCKETS + 1];
    uint64_t count;
    double sum; /* seconds */
} st_mhist_t;

/* Record one observation of `seconds` (negative counts as 0). */
void st_mhist_observe(st_mhist_t *h, double seconds);

/* A label: name (a valid Prometheus label name) and its value (any
 * UTF-8 text; escaped by the writer). */
typedef struct st_mlabel {
    const char *name;
    const char *value;
} st_mlabel_t;

/* The exposition being written: text[0..len) (NUL-terminated when len >
 * 0). failed becomes true on out of memory; later writes are no-ops. */
typedef struct st_mw {
    char *text;
    size_t len;
    size_t cap;
    int failed;
} st_mw_t;

void st_mw_init(st_mw_t *w);
void st_mw_free(st_mw_t *w);
/* Forget the text, keep the buffer. */
void st_mw_reset(st_mw_t *w);

/* Start a family: its "# HELP" and "# TYPE" lines. type is "counter",
 * "gauge", "histogram" or "untyped". */
void st_mw_family(st_mw_t *w, const char *name, const char *type, const char *help);
/* One sample line: name{labels} value. n_labels may be 0 (labels NULL). */
void st_mw_sample(st_mw_t *w, const char *name, const st_mlabel_t *labels, size_t n_labels, double value);
/* The samples of histogram h under family `name`: name_bucket{labels,le}
 * cumulative over st_mhist_bounds then le="+Inf", name_sum, name_count. */
void st_mw_hist(st_mw_t *w, const char *name, const st_mlabel_t *labels, size_t n_labels,
                const st_mhist_t *h);

/* ST_OK, or ST_ERR_NOMEM when a write failed. */
st_err_t st_mw_status(const st_mw_t *w);

/* Append the escaped form of a label value (backslash, double quote and
 * newline escaped) to w; exposed for tests. */
void st_mw_escape_label(st_mw_t *w, const char *value);

#endif
