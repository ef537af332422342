/*
 * st_metrics: Prometheus text exposition 0.0.4 and latency histograms
 * (see st_metrics.h).
 */
#include "common/st_metrics.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const double st_mhist_bounds[ST_MHIST_BUCKETS] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                  0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};

void st_mhist_observe(st_mhist_t *h, double seconds)
{
    if (!(seconds > 0))
        seconds = 0; /* negative and NaN alike */
    size_t i = 0;
    while (i < ST_MHIST_BUCKETS && seconds > st_mhist_bounds[i])
        i++;
    h->counts[i]++;
    h->count++;
    h->sum += seconds;
}

void st_mw_init(st_mw_t *w)
{
    memset(w, 0, sizeof *w);
}

void st_mw_free(st_mw_t *w)
{
    free(w->text);
    memset(w, 0, sizeof *w);
}

void st_mw_reset(st_mw_t *w)
{
    w->len = 0;
    w->failed = 0;
    if (w->text)
        w->text[0] = '\0';
}

st_err_t st_mw_status(const st_mw_t *w)
{
    return w->failed ? ST_ERR_NOMEM : ST_OK;
}

static int st_mw_reserve(st_mw_t *w, size_t extra)
{
    if (w->failed)
        return -1;
    if (w->len + extra + 1 <= w->cap)
        return 0;
    size_t cap = w->cap ? w->cap : 4096;
    while (cap < w->len + extra + 1)
        cap *= 2;
    char *t = realloc(w->text, cap);
    if (!t) {
        w->failed = 1;
        return -1;
    }
    w->text = t;
    w->cap = cap;
    return 0;
}

static void st_mw_put(st_mw_t *w, const char *s, size_t n)
{
    if (st_mw_reserve(w, n) != 0)
        return;
    memcpy(w->text + w->len, s, n);
    w->len += n;
    w->text[w->len] = '\0';
}

static void st_mw_puts(st_mw_t *w, const char *s)
{
    st_mw_put(w, s, strlen(s));
}

/* The shortest of %.15g..%.17g that reads back as v. */
static void st_mw_number(char *buf, size_t len, double v)
{
    if (isnan(v)) {
        snprintf(buf, len, "NaN");
        return;
    }
    if (isinf(v)) {
        snprintf(buf, len, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, len, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            return;
    }
}

void st_mw_escape_label(st_mw_t *w, const char *value)
{
    for (const char *c = value ? value : ""; *c; c++) {
        if (*c == '\\')
            st_mw_put(w, "\\\\", 2);
        else if (*c == '"')
            st_mw_put(w, "\\\"", 2);
        else if (*c == '\n')
            st_mw_put(w, "\\n", 2);
        else
            st_mw_put(w, c, 1);
    }
}

void st_mw_family(st_mw_t *w, const char *name, const char *type, const char *help)
{
    st_mw_puts(w, "# HELP ");
    st_mw_puts(w, name);
    st_mw_put(w, " ", 1);
    for (const char *c = help ? help : ""; *c; c++) {
        if (*c == '\\')
            st_mw_put(w, "\\\\", 2);
        else if (*c == '\n')
            st_mw_put(w, "\\n", 2);
        else
            st_mw_put(w, c, 1);
    }
    st_mw_puts(w, "\n# TYPE ");
    st_mw_puts(w, name);
    st_mw_put(w, " ", 1);
    st_mw_puts(w, type);
    st_mw_put(w, "\n", 1);
}

/* name{labels[,extra="extra_value"]} value */
static void st_mw_line(st_mw_t *w, const char *name, const char *suffix, const st_mlabel_t *labels,
                       size_t n_labels, const char *extra, const char *extra_value, double value)
{
    st_mw_puts(w, name);
    if (suffix)
        st_mw_puts(w, suffix);
    if (n_labels || extra) {
        st_mw_put(w, "{", 1);
        for (size_t i = 0; i < n_labels; i++) {
            if (i)
                st_mw_put(w, ",", 1);
            st_mw_puts(w, labels[i].name);
            st_mw_put(w, "=\"", 2);
            st_mw_escape_label(w, labels[i].value);
            st_mw_put(w, "\"", 1);
        }
        if (extra) {
            if (n_labels)
                st_mw_put(w, ",", 1);
            st_mw_puts(w, extra);
            st_mw_put(w, "=\"", 2);
            st_mw_escape_label(w, extra_value);
            st_mw_put(w, "\"", 1);
        }
        st_mw_put(w, "}", 1);
    }
    char num[40];
    st_mw_number(num, sizeof num, value);
    st_mw_put(w, " ", 1);
    st_mw_puts(w, num);
    st_mw_put(w, "\n", 1);
}

void st_mw_sample(st_mw_t *w, const char *name, const st_mlabel_t *labels, size_t n_labels, double value)
{
    st_mw_line(w, name, NULL, labels, n_labels, NULL, NULL, value);
}

void st_mw_hist(st_mw_t *w, const char *name, const st_mlabel_t *labels, size_t n_labels, const st_mhist_t *h)
{
    uint64_t cum = 0;
    char le[40];
    for (size_t i = 0; i < ST_MHIST_BUCKETS; i++) {
        cum += h->counts[i];
        st_mw_number(le, sizeof le, st_mhist_bounds[i]);
        st_mw_line(w, name, "_bucket", labels, n_labels, "le", le, (double)cum);
    }
    st_mw_line(w, name, "_bucket", labels, n_labels, "le", "+Inf", (double)h->count);
    st_mw_line(w, name, "_sum", labels, n_labels, NULL, NULL, h->sum);
    st_mw_line(w, name, "_count", labels, n_labels, NULL, NULL, (double)h->count);
}
