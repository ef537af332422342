/*
 * test_metrics: the Prometheus exposition (st_metrics) and the broker's
 * rendering of it (br_metrics), checked by a strict parser of the text
 * format 0.0.4: every line is a HELP, TYPE or sample line with valid
 * names, label escapes and values; a family's HELP and TYPE come once,
 * before its samples, and its samples are contiguous and named after it;
 * no series appears twice; a histogram's buckets rise with le, are
 * cumulative, end with le="+Inf" equal to _count, and come with _sum and
 * _count. The parser is itself checked against broken pages.
 */
#include "config.h"

#include <CUnit/CUnit.h>
#include <ev.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/br_config.h"
#include "broker/br_core.h"
#include "broker/br_metrics.h"
#include "common/st_metrics.h"
#include "partition/br_pm.h"
#include "storage/sl_log.h"
#include "storage/sl_logdir.h"
#include "tu.h"

/* ------------------------------------------------------------ the parser */

#define MP_MAX_SERIES 4096
#define MP_MAX_FAMILIES 256

typedef struct mp_family {
    char name[128];
    char type[16];
    bool help, typed;
} mp_family_t;

typedef struct mp {
    mp_family_t fam[MP_MAX_FAMILIES];
    size_t n_fam;
    char *series[MP_MAX_SERIES]; /* "name{sorted labels}" */
    size_t n_series;
    int cur; /* family of the samples being read, -1 none */
    /* histogram being checked: its label set without le */
    char h_key[512];
    double h_last_le, h_last_count;
    bool h_inf;
    double h_inf_count;
    int h_state; /* 0 none, 1 buckets, 2 sum seen */
    char err[256];
    int line;
} mp_t;

static bool mp_fail(mp_t *p, const char *what)
{
    if (!p->err[0])
        snprintf(p->err, sizeof p->err, "line %d: %s", p->line, what);
    return false;
}

static bool mp_name_char(char c, bool first, bool metric)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (metric && c == ':'))
        return true;
    return !first && c >= '0' && c <= '9';
}

/* A name at *s; advances *s. */
static bool mp_name(const char **s, char *out, size_t len, bool metric)
{
    size_t n = 0;
    while (mp_name_char(**s, n == 0, metric)) {
        if (n + 1 >= len)
            return false;
        out[n++] = *(*s)++;
    }
    out[n] = '\0';
    return n > 0;
}

static bool mp_value(const char *s, double *v)
{
    if (strcmp(s, "+Inf") == 0) {
        *v = INFINITY;
        return true;
    }
    if (strcmp(s, "-Inf") == 0) {
        *v = -INFINITY;
        return true;
    }
    if (strcmp(s, "NaN") == 0) {
        *v = NAN;
        return true;
    }
    char *end = NULL;
    *v = strtod(s, &end);
    return end && end != s && *end == '\0' && !isinf(*v) && !isnan(*v);
}

static int mp_find(mp_t *p, const char *name)
{
    for (size_t i = 0; i < p->n_fam; i++)
        if (strcmp(p->fam[i].name, name) == 0)
            return (int)i;
    return -1;
}

static int mp_str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool mp_hist_close(mp_t *p)
{
    if (p->h_state == 0)
        return true;
    p->h_state = 0;
    return mp_fail(p, "histogram without _count after its buckets");
}

/* A line "# HELP name text" or "# TYPE name type". */
static bool mp_meta(mp_t *p, const char *s)
{
    bool help = strncmp(s, "# HELP ", 7) == 0, type = strncmp(s, "# TYPE ", 7) == 0;
    if (!help && !type)
        return mp_fail(p, "a comment that is neither HELP nor TYPE");
    s += 7;
    char name[128];
    if (!mp_name(&s, name, sizeof name, true) || *s != ' ')
        return mp_fail(p, "bad metric name in HELP/TYPE");
    s++;
    if (!mp_hist_close(p))
        return false;
    int f = mp_find(p, name);
    if (f < 0) {
        if (p->n_fam == MP_MAX_FAMILIES)
            return mp_fail(p, "too many families");
        f = (int)p->n_fam++;
        snprintf(p->fam[f].name, sizeof p->fam[f].name, "%s", name);
    } else if (f != p->cur) {
        return mp_fail(p, "HELP/TYPE of a family seen before");
    }
    if (p->cur != f && p->cur >= 0 && p->fam[p->cur].typed == false)
        return mp_fail(p, "family without TYPE");
    p->cur = f;
    mp_family_t *fm = &p->fam[f];
    if (help) {
        if (fm->help)
            return mp_fail(p, "second HELP");
        for (const char *c = s; *c; c++)
            if (*c == '\\' && c[1] != '\\' && c[1] != 'n')
                return mp_fail(p, "bad escape in HELP");
            else if (*c == '\\')
                c++;
        fm->help = true;
        return true;
    }
    if (fm->typed)
        return mp_fail(p, "second TYPE");
    if (strcmp(s, "counter") && strcmp(s, "gauge") && strcmp(s, "histogram") && strcmp(s, "summary") &&
        strcmp(s, "untyped"))
        return mp_fail(p, "unknown TYPE");
    snprintf(fm->type, sizeof fm->type, "%s", s);
    fm->typed = true;
    return true;
}

/* A sample line. */
static bool mp_sample(mp_t *p, const char *s)
{
    char name[128];
    if (!mp_name(&s, name, sizeof name, true))
        return mp_fail(p, "bad sample name");
    char labels[32][2][256];
    size_t nl = 0;
    char le[64] = "";
    if (*s == '{') {
        s++;
        while (*s != '}') {
            if (nl == 32)
                return mp_fail(p, "too many labels");
            if (!mp_name(&s, labels[nl][0], sizeof labels[nl][0], false) || *s != '=' || s[1] != '"')
                return mp_fail(p, "bad label name");
            s += 2;
            size_t n = 0;
            while (*s != '"') {
                if (!*s || *s == '\n')
                    return mp_fail(p, "unterminated label value");
                if (*s == '\\') {
                    if (s[1] != '\\' && s[1] != '"' && s[1] != 'n')
                        return mp_fail(p, "bad escape in a label value");
                    if (n + 2 >= sizeof labels[nl][1])
                        return mp_fail(p, "label value too long");
                    labels[nl][1][n++] = *s++;
                }
                if (n + 1 >= sizeof labels[nl][1])
                    return mp_fail(p, "label value too long");
                labels[nl][1][n++] = *s++;
            }
            labels[nl][1][n] = '\0';
            s++;
            for (size_t k = 0; k < nl; k++)
                if (strcmp(labels[k][0], labels[nl][0]) == 0)
                    return mp_fail(p, "label twice in one sample");
            if (strcmp(labels[nl][0], "le") == 0)
                snprintf(le, sizeof le, "%s", labels[nl][1]);
            nl++;
            if (*s == ',')
                s++;
            else if (*s != '}')
                return mp_fail(p, "expected , or } after a label");
        }
        s++;
    }
    if (*s != ' ')
        return mp_fail(p, "no space before the value");
    s++;
    char vbuf[64];
    const char *sp = strchr(s, ' ');
    size_t vl = sp ? (size_t)(sp - s) : strlen(s);
    if (vl == 0 || vl >= sizeof vbuf)
        return mp_fail(p, "bad value");
    memcpy(vbuf, s, vl);
    vbuf[vl] = '\0';
    double v;
    if (!mp_value(vbuf, &v))
        return mp_fail(p, "value is not a number");
    if (sp) { /* a timestamp: an integer */
        const char *t = sp + 1;
        if (*t == '-')
            t++;
        if (!*t)
            return mp_fail(p, "empty timestamp");
        for (; *t; t++)
            if (*t < '0' || *t > '9')
                return mp_fail(p, "bad timestamp");
    }
    /* which family */
    if (p->cur < 0 || !p->fam[p->cur].typed)
        return mp_fail(p, "sample before its family's TYPE");
    mp_family_t *fm = &p->fam[p->cur];
    size_t fl = strlen(fm->name);
    const char *suffix = strncmp(name, fm->name, fl) == 0 ? name + fl : NULL;
    bool hist = strcmp(fm->type, "histogram") == 0;
    if (!suffix || (!hist && *suffix) ||
        (hist && strcmp(suffix, "_bucket") && strcmp(suffix, "_sum") && strcmp(suffix, "_count")))
        return mp_fail(p, "sample not named after the current family");
    /* the series, labels sorted */
    char key[2048];
    size_t order[32];
    for (size_t i = 0; i < nl; i++)
        order[i] = i;
    for (size_t i = 1; i < nl; i++)
        for (size_t k = i; k > 0 && strcmp(labels[order[k - 1]][0], labels[order[k]][0]) > 0; k--) {
            size_t t = order[k];
            order[k] = order[k - 1];
            order[k - 1] = t;
        }
    int kl = snprintf(key, sizeof key, "%s{", name);
    char nole[1024];
    int nk = 0;
    nole[0] = '\0';
    for (size_t i = 0; i < nl; i++) {
        kl += snprintf(key + kl, sizeof key - (size_t)kl, "%s=\"%s\",", labels[order[i]][0],
                       labels[order[i]][1]);
        if (strcmp(labels[order[i]][0], "le") != 0)
            nk += snprintf(nole + nk, sizeof nole - (size_t)nk, "%s=\"%s\",", labels[order[i]][0],
                           labels[order[i]][1]);
    }
    snprintf(key + kl, sizeof key - (size_t)kl, "}");
    if (p->n_series == MP_MAX_SERIES)
        return mp_fail(p, "too many series");
    p->series[p->n_series++] = strdup(key);
    if (!hist)
        return true;
    /* histogram: buckets, then _sum, then _count, per label set */
    if (strcmp(suffix, "_bucket") == 0) {
        if (!le[0])
            return mp_fail(p, "bucket without le");
        double lev;
        if (!mp_value(le, &lev) && strcmp(le, "+Inf") != 0)
            return mp_fail(p, "le is not a number");
        if (strcmp(le, "+Inf") == 0)
            lev = INFINITY;
        if (p->h_state == 0) {
            snprintf(p->h_key, sizeof p->h_key, "%s", nole);
            p->h_state = 1;
            p->h_last_le = -INFINITY;
            p->h_last_count = 0;
            p->h_inf = false;
        } else if (p->h_state != 1 || strcmp(p->h_key, nole) != 0 || p->h_inf) {
            return mp_fail(p, "bucket out of place (after +Inf, _sum, or of another series)");
        }
        if (!(lev > p->h_last_le))
            return mp_fail(p, "le does not rise");
        if (v < p->h_last_count)
            return mp_fail(p, "buckets not cumulative");
        p->h_last_le = lev;
        p->h_last_count = v;
        if (isinf(lev)) {
            p->h_inf = true;
            p->h_inf_count = v;
        }
        return true;
    }
    if (p->h_state == 0 || strcmp(p->h_key, nole) != 0 || !p->h_inf)
        return mp_fail(p, "_sum/_count without buckets ending in +Inf");
    if (le[0])
        return mp_fail(p, "le on _sum/_count");
    if (strcmp(suffix, "_sum") == 0) {
        if (p->h_state != 1)
            return mp_fail(p, "second _sum");
        p->h_state = 2;
        return true;
    }
    if (p->h_state != 2)
        return mp_fail(p, "_count before _sum");
    if (v != p->h_inf_count)
        return mp_fail(p, "le=\"+Inf\" bucket differs from _count");
    p->h_state = 0;
    return true;
}

/* Parse a whole page; false with p->err set at the first violation. */
static bool mp_parse(mp_t *p, const char *text)
{
    memset(p, 0, sizeof *p);
    p->cur = -1;
    bool ok = true;
    size_t len = strlen(text);
    if (len && text[len - 1] != '\n')
        ok = mp_fail(p, "page does not end with a newline");
    const char *s = text;
    while (ok && *s) {
        p->line++;
        const char *e = strchr(s, '\n');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        char *line = strndup(s, n);
        if (!line)
            return mp_fail(p, "out of memory");
        if (n == 0)
            ok = mp_fail(p, "empty line");
        else if (line[0] == '#')
            ok = mp_meta(p, line);
        else
            ok = mp_sample(p, line);
        free(line);
        s = e ? e + 1 : s + n;
    }
    if (ok)
        ok = mp_hist_close(p);
    for (size_t i = 0; ok && i < p->n_fam; i++)
        if (!p->fam[i].help || !p->fam[i].typed)
            ok = mp_fail(p, "a family without HELP or TYPE");
    if (ok && p->n_series > 1) {
        qsort(p->series, p->n_series, sizeof *p->series, mp_str_cmp);
        for (size_t i = 1; ok && i < p->n_series; i++)
            if (strcmp(p->series[i - 1], p->series[i]) == 0) {
                snprintf(p->err, sizeof p->err, "duplicate series %s", p->series[i]);
                ok = false;
            }
    }
    for (size_t i = 0; i < p->n_series; i++)
        free(p->series[i]);
    p->n_series = 0;
    return ok;
}

static bool mp_ok(const char *text)
{
    static mp_t p;
    bool ok = mp_parse(&p, text);
    if (!ok)
        fprintf(stderr, "\nexposition rejected: %s\n", p.err);
    return ok;
}

static bool mp_bad(const char *text)
{
    static mp_t p;
    return !mp_parse(&p, text);
}

/* ------------------------------------------------------ the parser itself */

static void test_parser_rejects(void)
{
    CU_ASSERT_TRUE(mp_ok("# HELP a x\n# TYPE a gauge\na 1\na{b=\"c\"} 2\n"));
    CU_ASSERT_TRUE(mp_bad("# HELP a x\n# TYPE a gauge\na 1\na 2\n")); /* duplicate */
    CU_ASSERT_TRUE(mp_bad("# HELP a x\n# TYPE a gauge\na{b=\"c\",d=\"e\"} 1\na{d=\"e\",b=\"c\"} 1\n"));
    CU_ASSERT_TRUE(mp_bad("# HELP a x\n# TYPE a gauge\na{b=\"c\\q\"} 1\n")); /* escape */
    CU_ASSERT_TRUE(mp_bad("# HELP a x\n# TYPE a gauge\na{b=\"c\"\"} 1\n"));  /* quote */
    CU_ASSERT_TRUE(mp_bad("# HELP a x\n# TYPE a gauge\nb 1\n"));             /* other name */
    CU_ASSERT_TRUE(mp_bad("b 1\n"));                                         /* no TYPE */
    CU_ASSERT_TRUE(mp_bad("# HELP a x\n# TYPE a gauge\na one\n"));           /* value */
    CU_ASSERT_TRUE(mp_bad("# HELP a x\n# TYPE a gauge\na 1"));               /* newline */
    CU_ASSERT_TRUE(mp_bad("# HELP a x\n# TYPE a gauge\n# HELP b y\n# TYPE b gauge\n# HELP a z\n"));
    CU_ASSERT_TRUE(mp_bad("# HELP a x\n# TYPE a counter\n# TYPE a gauge\na 1\n"));
    const char *h = "# HELP h x\n# TYPE h histogram\n";
    char buf[512];
    snprintf(buf, sizeof buf, "%sh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 3\nh_count 2\n", h);
    CU_ASSERT_TRUE(mp_ok(buf));
    snprintf(buf, sizeof buf, "%sh_bucket{le=\"1\"} 3\nh_bucket{le=\"+Inf\"} 2\nh_sum 3\nh_count 2\n", h);
    CU_ASSERT_TRUE(mp_bad(buf)); /* not cumulative */
    snprintf(buf, sizeof buf, "%sh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 3\nh_count 5\n", h);
    CU_ASSERT_TRUE(mp_bad(buf)); /* +Inf != count */
    snprintf(buf, sizeof buf,
             "%sh_bucket{le=\"2\"} 1\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
             h);
    CU_ASSERT_TRUE(mp_bad(buf)); /* le falls */
    snprintf(buf, sizeof buf, "%sh_bucket{le=\"1\"} 1\nh_sum 3\nh_count 1\n", h);
    CU_ASSERT_TRUE(mp_bad(buf)); /* no +Inf */
    snprintf(buf, sizeof buf, "%sh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 1\n", h);
    CU_ASSERT_TRUE(mp_bad(buf)); /* no _sum/_count */
}

/* ------------------------------------------------------------ primitives */

static void test_primitives(void)
{
    st_mw_t w;
    st_mw_init(&w);
    st_mw_family(&w, "t_gauge", "gauge", "back\\slash and\nnewline");
    st_mlabel_t l[] = {{"a", "q\"uote b\\ack\nnl"}, {"b", ""}};
    st_mw_sample(&w, "t_gauge", l, 2, 0.1);
    st_mw_sample(&w, "t_gauge", l, 1, 3);
    st_mw_sample(&w, "t_gauge", NULL, 0, NAN);
    st_mlabel_t l2 = {"a", "inf"};
    st_mw_sample(&w, "t_gauge", &l2, 1, INFINITY);
    st_mw_family(&w, "t_seconds", "histogram", "a histogram");
    st_mhist_t h;
    memset(&h, 0, sizeof h);
    st_mhist_observe(&h, 0.00005);
    st_mhist_observe(&h, 0.003);
    st_mhist_observe(&h, 0.003);
    st_mhist_observe(&h, 20);
    st_mhist_observe(&h, -1);
    st_mlabel_t la = {"api", "Produce"};
    st_mw_hist(&w, "t_seconds", &la, 1, &h);
    CU_ASSERT_EQUAL(st_mw_status(&w), ST_OK);
    CU_ASSERT_TRUE(mp_ok(w.text));
    CU_ASSERT_PTR_NOT_NULL(strstr(w.text, "# HELP t_gauge back\\\\slash and\\nnewline\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(w.text, "t_gauge{a=\"q\\\"uote b\\\\ack\\nnl\",b=\"\"} 0.1\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(w.text, "t_gauge{a=\"q\\\"uote b\\\\ack\\nnl\"} 3\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(w.text, "\nt_gauge NaN\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(w.text, "t_gauge{a=\"inf\"} +Inf\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(w.text, "t_seconds_bucket{api=\"Produce\",le=\"0.0001\"} 2\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(w.text, "t_seconds_bucket{api=\"Produce\",le=\"0.0025\"} 2\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(w.text, "t_seconds_bucket{api=\"Produce\",le=\"0.005\"} 4\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(w.text, "t_seconds_bucket{api=\"Produce\",le=\"10\"} 4\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(w.text, "t_seconds_bucket{api=\"Produce\",le=\"+Inf\"} 5\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(w.text, "t_seconds_count{api=\"Produce\"} 5\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(w.text, "t_seconds_sum{api=\"Produce\"} 20.00605\n"));
    st_mw_free(&w);
}

/* ------------------------------------------------ the broker's rendering */

static char *g_dir;

/* One sample's value in text ("name{labels} value"), NAN when absent. */
static double sample_value(const char *text, const char *series)
{
    size_t n = strlen(series);
    for (const char *s = text; (s = strstr(s, series)); s += n)
        if ((s == text || s[-1] == '\n') && s[n] == ' ')
            return strtod(s + n + 1, NULL);
    return NAN;
}

static void test_broker_render(void)
{
    g_dir = tu_tmpdir("metrics");
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    sl_logdir_t *ld = NULL;
    CU_ASSERT_FATAL(sl_logdir_open(g_dir, &ld) == ST_OK);
    br_config_t conf;
    br_config_init(&conf);
    conf.metrics_partition_level = true;
    char rack[] = "rack \"A\"";
    conf.broker_rack = rack;
    br_pm_limits_t limits = {
        .message_max_bytes = 1048588, .fetch_max_bytes = 57671680, .max_wait_ms_cap = 30000};
    br_core_t core;
    memset(&core, 0, sizeof core);
    core.loop = loop;
    core.conf = &conf;
    core.broker_id = 1;
    core.log_dirs = &ld;
    core.n_log_dirs = 1;
    snprintf(core.cluster_id, sizeof core.cluster_id, "c1");
    core.pm = br_pm_new(loop, 1, &ld, 1, &limits);
    CU_ASSERT_FATAL(core.pm != NULL);
    sl_log_config_t cfg;
    sl_log_config_default(&cfg);
    int32_t replicas[] = {1, 2, 3}, isr_all[] = {1, 2, 3}, isr_one[] = {1};
    br_part_state_t led_ok = {.leader = 1,
                              .leader_epoch = 1,
                              .replicas = replicas,
                              .n_replicas = 3,
                              .isr = isr_all,
                              .n_isr = 3,
                              .min_insync_replicas = 2};
    br_part_state_t led_under = {.leader = 1,
                                 .leader_epoch = 1,
                                 .replicas = replicas,
                                 .n_replicas = 3,
                                 .isr = isr_one,
                                 .n_isr = 1,
                                 .min_insync_replicas = 2};
    br_part_state_t follow = {
        .leader = 2, .leader_epoch = 1, .replicas = replicas, .n_replicas = 3, .isr = isr_all, .n_isr = 3};
    CU_ASSERT_FATAL(br_pm_apply_state(core.pm, "orders", 0, &led_ok, &cfg) == ST_OK);
    CU_ASSERT_FATAL(br_pm_apply_state(core.pm, "orders", 1, &led_under, &cfg) == ST_OK);
    CU_ASSERT_FATAL(br_pm_apply_state(core.pm, "audit", 0, &follow, &cfg) == ST_OK);
    core.api_stats[0].requests = 7;
    core.api_stats[1].refused = 2;
    br_metrics_t *m = br_metrics_new(&core);
    CU_ASSERT_FATAL(m != NULL);
    size_t n_api = 0;
    const br_api_t *api = br_api_table(&n_api);
    for (size_t i = 0; i < n_api; i++)
        br_metrics_observe(m, (int)i, (int64_t)(i + 1) * 1000000);
    br_metrics_observe(m, -1, 5);           /* untagged: ignored */
    br_metrics_observe(m, BR_API_COUNT, 5); /* out of the table: ignored */

    st_mw_t w;
    st_mw_init(&w);
    br_metrics_render(&core, m, &w);
    CU_ASSERT_EQUAL(st_mw_status(&w), ST_OK);
    CU_ASSERT_FATAL(w.text != NULL);
    CU_ASSERT_TRUE(mp_ok(w.text));
    CU_ASSERT_PTR_NOT_NULL(strstr(w.text, "strata_broker_info{broker_id=\"1\",version=\"" PACKAGE_VERSION
                                          "\",rack=\"rack \\\"A\\\"\","
                                          "cluster_id=\"c1\"} 1\n"));
    CU_ASSERT_EQUAL(sample_value(w.text, "strata_zookeeper_request_duration_seconds_count"), 0);
    CU_ASSERT_EQUAL(sample_value(w.text, "strata_partitions_hosted"), 3);
    CU_ASSERT_EQUAL(sample_value(w.text, "strata_partitions_led"), 2);
    CU_ASSERT_EQUAL(sample_value(w.text, "strata_partitions_under_replicated"), 1);
    CU_ASSERT_EQUAL(sample_value(w.text, "strata_partitions_under_min_isr"), 1);
    CU_ASSERT_EQUAL(sample_value(w.text, "strata_partitions_offline_replicas"), 0);
    CU_ASSERT_EQUAL(sample_value(w.text, "strata_controller_active"), 0);
    CU_ASSERT_EQUAL(sample_value(w.text, "strata_broker_registered"), 0);
    CU_ASSERT_EQUAL(sample_value(w.text, "strata_partition_high_watermark{topic=\"orders\",partition=\"1\"}"),
                    0);
    CU_ASSERT_EQUAL(sample_value(w.text, "strata_partition_log_end_offset{topic=\"audit\",partition=\"0\"}"),
                    0);
    CU_ASSERT_EQUAL(sample_value(w.text, "strata_topic_records_in_total{topic=\"orders\"}"), 0);
    char series[256];
    snprintf(series, sizeof series, "strata_requests_total{api=\"%s\"}", api[0].name);
    CU_ASSERT_EQUAL(sample_value(w.text, series), 7);
    snprintf(series, sizeof series, "strata_requests_refused_total{api=\"%s\"}", api[1].name);
    CU_ASSERT_EQUAL(sample_value(w.text, series), 2);
    /* every row of the API table has its histogram, one observation each */
    for (size_t i = 0; i < n_api; i++) {
        snprintf(series, sizeof series, "strata_request_duration_seconds_count{api=\"%s\"}", api[i].name);
        CU_ASSERT_EQUAL(sample_value(w.text, series), 1);
    }
    /* flushes are counted */
    double flushes = sample_value(w.text, "strata_log_flushes_total");
    br_pm_log_ref_t ref;
    CU_ASSERT_FATAL(br_pm_get_log(core.pm, "orders", 0, &ref) == ST_OK);
    CU_ASSERT_EQUAL(sl_log_flush(ref.log), ST_OK);
    st_mw_reset(&w);
    br_metrics_render(&core, m, &w);
    CU_ASSERT_EQUAL(sample_value(w.text, "strata_log_flushes_total"), flushes + 1);
    CU_ASSERT_EQUAL(sample_value(w.text, "strata_log_segment_rolls_total"), 0);
    CU_ASSERT_EQUAL(sample_value(w.text, "strata_log_segments"), 3);
    /* metrics.partition.level=false: no per-partition families */
    conf.metrics_partition_level = false;
    st_mw_reset(&w);
    br_metrics_render(&core, m, &w);
    CU_ASSERT_TRUE(mp_ok(w.text));
    CU_ASSERT_PTR_NULL(strstr(w.text, "strata_partition_"));
    CU_ASSERT_EQUAL(sample_value(w.text, "strata_partitions_under_replicated"), 1);
    st_mw_free(&w);

    char reason[160];
    CU_ASSERT_FALSE(br_metrics_health(&core, reason, sizeof reason));
    CU_ASSERT_PTR_NOT_NULL(strstr(reason, "ZooKeeper"));
    core.stopping = true;
    CU_ASSERT_FALSE(br_metrics_health(&core, reason, sizeof reason));
    CU_ASSERT_STRING_EQUAL(reason, "shutting down");

    br_metrics_free(m);
    br_pm_free(core.pm, true);
    sl_logdir_close(ld, true);
    conf.broker_rack = NULL;
    br_config_free(&conf);
    ev_loop_destroy(loop);
    tu_rmrf(g_dir);
    free(g_dir);
}

static CU_TestInfo exposition_tests[] = {
    {"the strict parser rejects broken pages", test_parser_rejects},
    {"st_metrics: escaping, numbers, cumulative histogram", test_primitives},
    {"br_metrics: the broker's page over a partition manager", test_broker_render},
    CU_TEST_INFO_NULL,
};
static CU_SuiteInfo suites[] = {
    {"exposition", NULL, NULL, NULL, NULL, exposition_tests},
    CU_SUITE_INFO_NULL,
};

int main(void)
{
    return tu_main(suites);
}
