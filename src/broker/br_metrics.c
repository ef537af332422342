/*
 * br_metrics: the broker's metric families and their HTTP endpoint (see
 * br_metrics.h; every family is listed in docs/metrics.md).
 */
#include "broker/br_metrics.h"

#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <nng/nng.h>
#include <nng/supplemental/http/http.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>

#include "broker/br_core.h"
#include "common/st_clock.h"
#include "common/st_log.h"
#include "control/br_ctl.h"
#include "control/br_md.h"
#include "group/br_groups.h"
#include "partition/br_cleaner.h"

#define BM_TAG "metrics"
#define BM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct br_metrics {
    br_core_t *core;
    struct ev_loop *loop;
    st_mhist_t api_hist[BR_API_COUNT]; /* core loop only */
    double last_render_s;              /* core time of the previous rendering */
    uint64_t renders;
    /* the HTTP side */
    bool async_on;
    ev_async wake;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool sync_init;
    uint64_t asked;    /* renderings asked for (mu) */
    uint64_t answered; /* the last asked value a rendering covers (mu) */
    st_mw_t out;       /* the published rendering (mu) */
    bool healthy;      /* with it (mu) */
    char reason[160];
    bool closing;    /* (mu) */
    int active;      /* handlers running (mu) */
    st_mw_t scratch; /* the core's next rendering */
    nng_http_server *srv;
    nng_url *url;
};

/* ------------------------------------------------------------ render */

typedef struct bm_part {
    const char *topic;
    int32_t partition;
    br_role_t role;
    int32_t leader;
    size_t n_replicas, n_isr;
    int32_t min_insync;
    int64_t hw, start, end, size;
    int segments;
    uint64_t bytes_in, records_in, bytes_out, records_out;
} bm_part_t;

typedef struct bm_parts {
    bm_part_t *v;
    size_t n, cap;
    bool nomem;
} bm_parts_t;

static void bm_collect(void *arg, const br_pm_log_ref_t *ref)
{
    bm_parts_t *ps = arg;
    if (ps->n == ps->cap) {
        size_t cap = ps->cap ? ps->cap * 2 : 64;
        bm_part_t *v = realloc(ps->v, cap * sizeof *v);
        if (!v) {
            ps->nomem = true;
            return;
        }
        ps->v = v;
        ps->cap = cap;
    }
    bm_part_t *p = &ps->v[ps->n++];
    p->topic = ref->topic;
    p->partition = ref->partition;
    p->role = ref->role;
    p->leader = ref->leader;
    p->n_replicas = ref->n_replicas;
    p->n_isr = ref->n_isr;
    p->min_insync = ref->min_insync;
    p->hw = ref->hw;
    p->start = ref->log ? sl_log_start_offset(ref->log) : 0;
    p->end = ref->log ? sl_log_end_offset(ref->log) : 0;
    p->size = ref->log ? sl_log_size_bytes(ref->log) : 0;
    p->segments = ref->log ? sl_log_segment_count(ref->log) : 0;
    p->bytes_in = ref->bytes_in;
    p->records_in = ref->records_in;
    p->bytes_out = ref->bytes_out;
    p->records_out = ref->records_out;
}

static int bm_part_cmp(const void *a, const void *b)
{
    const bm_part_t *x = a, *y = b;
    int c = strcmp(x->topic, y->topic);
    if (c)
        return c;
    return (x->partition > y->partition) - (x->partition < y->partition);
}

static const bm_part_t *bm_find(const bm_parts_t *ps, const char *topic, int32_t partition)
{
    bm_part_t key = {.topic = topic, .partition = partition};
    return ps->n ? bsearch(&key, ps->v, ps->n, sizeof *ps->v, bm_part_cmp) : NULL;
}

/* One family with one unlabelled sample. */
static void bm_one(st_mw_t *w, const char *name, const char *type, const char *help, double v)
{
    st_mw_family(w, name, type, help);
    st_mw_sample(w, name, NULL, 0, v);
}

static void bm_broker(br_core_t *core, st_mw_t *w)
{
    char id[16];
    snprintf(id, sizeof id, "%d", (int)core->broker_id);
    const char *rack = core->conf && core->conf->broker_rack ? core->conf->broker_rack : "";
    st_mlabel_t l[] = {
        {"broker_id", id}, {"version", PACKAGE_VERSION}, {"rack", rack}, {"cluster_id", core->cluster_id}};
    st_mw_family(w, "strata_broker_info", "gauge", "Broker identity (labels); always 1.");
    st_mw_sample(w, "strata_broker_info", l, 4, 1);
    bm_one(w, "strata_broker_registered", "gauge", "1 while the broker is registered in ZooKeeper.",
           core->member == BR_MEMBER_REGISTERED);
    bm_one(w, "strata_broker_fenced", "gauge",
           "1 while ZooKeeper has not confirmed the session recently (the broker acts as leader of nothing).",
           core->fenced);
    bool zk_up = core->zk && zkc_state(core->zk) == ZKC_CONNECTED;
    bm_one(w, "strata_zookeeper_connected", "gauge", "1 while the ZooKeeper session is connected.", zk_up);
    bm_one(w, "strata_zookeeper_connects_total", "counter",
           "ZooKeeper connections established (the first, reconnects and new sessions).",
           (double)core->zk_connects);
    bm_one(w, "strata_zookeeper_session_expirations_total", "counter", "ZooKeeper sessions that expired.",
           (double)core->zk_expirations);
    st_mw_family(w, "strata_zookeeper_request_duration_seconds", "histogram",
                 "ZooKeeper operations, request to completion.");
    st_mhist_t none;
    memset(&none, 0, sizeof none);
    st_mw_hist(w, "strata_zookeeper_request_duration_seconds", NULL, 0,
               core->zk ? zkc_latency(core->zk) : &none);
}

static void bm_controller(br_core_t *core, st_mw_t *w)
{
    bool active = br_ctl_active(core->ctl);
    bm_one(w, "strata_controller_active", "gauge", "1 on the broker that is the active controller.", active);
    bm_one(w, "strata_controller_epoch", "gauge", "Controller epoch this broker knows (-1 none).",
           core->ctl ? br_ctl_epoch(core->ctl) : -1);
    uint64_t clean = 0, unclean = 0;
    br_ctl_elections(core->ctl, &clean, &unclean);
    st_mw_family(w, "strata_controller_leader_elections_total", "counter",
                 "Leader elections by this broker's controller after a leader failed, by kind.");
    st_mlabel_t lc = {"kind", "clean"}, lu = {"kind", "unclean"};
    st_mw_sample(w, "strata_controller_leader_elections_total", &lc, 1, (double)clean);
    st_mw_sample(w, "strata_controller_leader_elections_total", &lu, 1, (double)unclean);
    size_t offline = 0, total = 0;
    for (br_md_topic_t *t = active && core->md ? br_md_topics(core->md) : NULL; t; t = t->next) {
        for (int32_t p = 0; t->loaded && p < t->n_parts; p++) {
            total++;
            if (t->parts[p].kind == BR_MD_STATE_OK && t->parts[p].leader < 0)
                offline++;
        }
    }
    bm_one(w, "strata_controller_offline_partitions", "gauge",
           "Partitions without a leader (reported by the active controller, 0 elsewhere).", (double)offline);
    bm_one(w, "strata_controller_partitions", "gauge",
           "Partitions in the cluster (reported by the active controller, 0 elsewhere).", (double)total);
}

/* Per-topic counter family: the sum of field over the topic's hosted
 * partitions (ps sorted by topic). */
static void bm_topic_counter(st_mw_t *w, const bm_parts_t *ps, const char *name, const char *help,
                             size_t field)
{
    st_mw_family(w, name, "counter", help);
    for (size_t i = 0; i < ps->n;) {
        double sum = 0;
        size_t k = i;
        for (; k < ps->n && strcmp(ps->v[k].topic, ps->v[i].topic) == 0; k++)
            sum += (double)*(const uint64_t *)((const char *)&ps->v[k] + field);
        st_mlabel_t l = {"topic", ps->v[i].topic};
        st_mw_sample(w, name, &l, 1, sum);
        i = k;
    }
}

static void bm_partitions(br_core_t *core, const bm_parts_t *ps, st_mw_t *w)
{
    size_t led = 0, under = 0, under_min = 0, offline = 0;
    int64_t segments = 0;
    for (size_t i = 0; i < ps->n; i++) {
        const bm_part_t *p = &ps->v[i];
        segments += p->segments;
        if (p->role == BR_ROLE_OFFLINE)
            offline++;
        if (p->role != BR_ROLE_LEADER)
            continue;
        led++;
        if (p->n_isr < p->n_replicas)
            under++;
        if (p->min_insync > 1 && p->n_isr < (size_t)p->min_insync)
            under_min++;
    }
    bm_one(w, "strata_partitions_hosted", "gauge", "Replicas hosted on this broker (leaders and followers).",
           (double)ps->n);
    bm_one(w, "strata_partitions_led", "gauge", "Partitions this broker leads.", (double)led);
    bm_one(w, "strata_partitions_under_replicated", "gauge",
           "Partitions led here whose ISR is smaller than their replica set.", (double)under);
    bm_one(w, "strata_partitions_under_min_isr", "gauge",
           "Partitions led here whose ISR is smaller than min.insync.replicas (acks=all produce fails).",
           (double)under_min);
    bm_one(w, "strata_partitions_offline_replicas", "gauge",
           "Replicas hosted here that are offline (their log directory failed).", (double)offline);
    bm_one(w, "strata_log_segments", "gauge", "Log segments of the replicas hosted here.", (double)segments);

    br_pm_stats_t st;
    br_pm_get_stats(core->pm, &st);
    bm_one(w, "strata_isr_shrinks_total", "counter", "ISR shrinks applied on partitions led here.",
           (double)st.isr_shrinks);
    bm_one(w, "strata_isr_expands_total", "counter", "ISR expansions applied on partitions led here.",
           (double)st.isr_expands);
    bm_one(w, "strata_produce_parked", "gauge",
           "acks=all Produce requests waiting for the high watermark (purgatory).",
           (double)st.parked_produce);
    bm_one(w, "strata_fetch_parked", "gauge", "Fetch requests waiting for data (long poll, purgatory).",
           (double)st.parked_fetch);
    bm_one(w, "strata_log_dirs_offline", "gauge", "log.dirs entries taken offline by an I/O error.",
           (double)st.offline_dirs);

    bm_topic_counter(w, ps, "strata_topic_bytes_in_total",
                     "Record batch bytes appended by Produce, per topic.", offsetof(bm_part_t, bytes_in));
    bm_topic_counter(w, ps, "strata_topic_records_in_total", "Records appended by Produce, per topic.",
                     offsetof(bm_part_t, records_in));
    bm_topic_counter(w, ps, "strata_topic_bytes_out_total",
                     "Record batch bytes sent by Fetch (clients and followers), per topic.",
                     offsetof(bm_part_t, bytes_out));
    bm_topic_counter(w, ps, "strata_topic_records_out_total",
                     "Records sent by Fetch (clients and followers), per topic.",
                     offsetof(bm_part_t, records_out));

    if (!core->conf || !core->conf->metrics_partition_level)
        return;
    static const struct {
        const char *name, *help;
        size_t off;
    } pf[] = {
        {"strata_partition_log_size_bytes", "Bytes of the replica's log segments.",
         offsetof(bm_part_t, size)},
        {"strata_partition_log_start_offset", "First offset of the replica's log.",
         offsetof(bm_part_t, start)},
        {"strata_partition_log_end_offset", "Next offset the replica's log assigns.",
         offsetof(bm_part_t, end)},
        {"strata_partition_high_watermark", "High watermark (a follower's as last learnt from its leader).",
         offsetof(bm_part_t, hw)},
    };
    for (size_t f = 0; f < sizeof pf / sizeof pf[0]; f++) {
        st_mw_family(w, pf[f].name, "gauge", pf[f].help);
        for (size_t i = 0; i < ps->n; i++) {
            char pn[16];
            snprintf(pn, sizeof pn, "%d", (int)ps->v[i].partition);
            st_mlabel_t l[] = {{"topic", ps->v[i].topic}, {"partition", pn}};
            st_mw_sample(w, pf[f].name, l, 2,
                         (double)*(const int64_t *)((const char *)&ps->v[i] + pf[f].off));
        }
    }
}

typedef struct bm_lag {
    st_mw_t *w;
    const bm_parts_t *ps;
    int pass; /* 0: lag, 1: committed offset */
} bm_lag_t;

static void bm_lag_one(void *arg, const char *group, const char *topic, int32_t partition, int64_t offset)
{
    bm_lag_t *l = arg;
    char pn[16];
    snprintf(pn, sizeof pn, "%d", (int)partition);
    st_mlabel_t lb[] = {{"group", group}, {"topic", topic}, {"partition", pn}};
    if (l->pass == 1) {
        st_mw_sample(l->w, "strata_consumer_group_committed_offset", lb, 3, (double)offset);
        return;
    }
    const bm_part_t *p = bm_find(l->ps, topic, partition);
    if (!p || offset < 0)
        return; /* no replica here: the lag is not known on this broker */
    st_mw_sample(l->w, "strata_consumer_group_lag", lb, 3, (double)(p->hw > offset ? p->hw - offset : 0));
}

static void bm_groups(br_core_t *core, const bm_parts_t *ps, st_mw_t *w)
{
    bm_lag_t l = {.w = w, .ps = ps, .pass = 0};
    st_mw_family(w, "strata_consumer_group_lag", "gauge",
                 "High watermark minus committed offset, per group partition, for the groups this broker "
                 "coordinates and the partitions it hosts a replica of.");
    br_groups_foreach_offset(core->gc, bm_lag_one, &l);
    l.pass = 1;
    st_mw_family(w, "strata_consumer_group_committed_offset", "gauge",
                 "Committed offset, per group partition, for the groups this broker coordinates.");
    br_groups_foreach_offset(core->gc, bm_lag_one, &l);
}

static void bm_requests(br_core_t *core, br_metrics_t *m, st_mw_t *w)
{
    size_t n = 0;
    const br_api_t *t = br_api_table(&n);
    st_mw_family(w, "strata_requests_total", "counter", "Requests handed to their handler, per API.");
    for (size_t i = 0; i < n; i++) {
        st_mlabel_t l = {"api", t[i].name};
        st_mw_sample(w, "strata_requests_total", &l, 1, (double)core->api_stats[i].requests);
    }
    st_mw_family(
        w, "strata_requests_refused_total", "counter",
        "Requests answered with an error by dispatch itself (version, registration, epoch), per API.");
    for (size_t i = 0; i < n; i++) {
        st_mlabel_t l = {"api", t[i].name};
        st_mw_sample(w, "strata_requests_refused_total", &l, 1, (double)core->api_stats[i].refused);
    }
    if (!m)
        return;
    st_mw_family(w, "strata_request_duration_seconds", "histogram",
                 "Time from receiving a request to answering it, per API (parked requests included).");
    for (size_t i = 0; i < n && i < BR_API_COUNT; i++) {
        st_mlabel_t l = {"api", t[i].name};
        st_mw_hist(w, "strata_request_duration_seconds", &l, 1, &m->api_hist[i]);
    }
}

static void bm_storage(br_core_t *core, st_mw_t *w)
{
    br_cleaner_totals_t ct;
    memset(&ct, 0, sizeof ct);
    if (core->cleaner)
        br_cleaner_get_totals(core->cleaner, &ct);
    uint64_t flushes = 0, rolls = 0;
    sl_log_totals(&flushes, &rolls);
    bm_one(w, "strata_log_flushes_total", "counter",
           "Log flushes (fsync up to the log end) of every replica.", (double)flushes);
    bm_one(w, "strata_log_segment_rolls_total", "counter", "New active segments started, every replica.",
           (double)rolls);
    bm_one(w, "strata_log_cleaner_runs_total", "counter", "Log cleaner passes committed.", (double)ct.runs);
    bm_one(w, "strata_log_cleaner_runs_failed_total", "counter", "Log cleaner passes that failed.",
           (double)ct.runs_failed);
    bm_one(w, "strata_log_cleaner_bytes_read_total", "counter", "Bytes the log cleaner read.",
           (double)ct.bytes_read);
    bm_one(w, "strata_log_cleaner_bytes_written_total", "counter",
           "Bytes the log cleaner wrote (cleaned segments).", (double)ct.bytes_out);
    st_mw_family(w, "strata_log_dir_used_bytes", "gauge",
                 "Bytes used on the file system of each log.dirs entry.");
    struct statvfs sv[16];
    bool ok[16];
    size_t nd = core->n_log_dirs < 16 ? core->n_log_dirs : 16;
    for (size_t i = 0; i < nd; i++) {
        ok[i] = statvfs(sl_logdir_path(core->log_dirs[i]), &sv[i]) == 0;
        if (!ok[i])
            continue;
        st_mlabel_t l = {"dir", sl_logdir_path(core->log_dirs[i])};
        st_mw_sample(w, "strata_log_dir_used_bytes", &l, 1,
                     (double)(sv[i].f_blocks - sv[i].f_bfree) * (double)sv[i].f_frsize);
    }
    st_mw_family(w, "strata_log_dir_size_bytes", "gauge", "Size of the file system of each log.dirs entry.");
    for (size_t i = 0; i < nd; i++) {
        if (!ok[i])
            continue;
        st_mlabel_t l = {"dir", sl_logdir_path(core->log_dirs[i])};
        st_mw_sample(w, "strata_log_dir_size_bytes", &l, 1, (double)sv[i].f_blocks * (double)sv[i].f_frsize);
    }
}

void br_metrics_render(br_core_t *core, br_metrics_t *m, st_mw_t *w)
{
    int64_t t0 = st_mono_ns();
    bm_parts_t ps = {0};
    br_pm_foreach_log(core->pm, bm_collect, &ps);
    if (ps.nomem)
        w->failed = 1;
    if (ps.n > 1)
        qsort(ps.v, ps.n, sizeof *ps.v, bm_part_cmp);
    bm_broker(core, w);
    bm_controller(core, w);
    bm_partitions(core, &ps, w);
    bm_groups(core, &ps, w);
    bm_requests(core, m, w);
    bm_storage(core, w);
    free(ps.v);
    if (m) {
        bm_one(w, "strata_metrics_render_seconds", "gauge",
               "Core-loop time the previous rendering of this page took.", m->last_render_s);
        m->last_render_s = (double)(st_mono_ns() - t0) / 1e9;
        m->renders++;
    }
}

bool br_metrics_health(const br_core_t *core, char *reason, size_t len)
{
    const char *why = NULL;
    if (core->stopping || core->shutting_down)
        why = "shutting down";
    else if (!core->zk || zkc_state(core->zk) != ZKC_CONNECTED)
        why = "not connected to ZooKeeper";
    else if (core->member != BR_MEMBER_REGISTERED)
        why = "starting: not registered in ZooKeeper yet";
    else if (core->fenced)
        why = "ZooKeeper has not confirmed the session recently (fenced)";
    snprintf(reason, len, "%s", why ? why : "ok");
    return !why;
}

/* --------------------------------------------------------- the core side */

br_metrics_t *br_metrics_new(br_core_t *core)
{
    br_metrics_t *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->core = core;
    m->loop = core->loop;
    st_mw_init(&m->out);
    st_mw_init(&m->scratch);
    return m;
}

void br_metrics_observe(br_metrics_t *m, int row, int64_t elapsed_ns)
{
    if (m && row >= 0 && row < BR_API_COUNT)
        st_mhist_observe(&m->api_hist[row], (double)elapsed_ns / 1e9);
}

/* ev_async: one or more handlers wait; render once for all of them. */
static void bm_wake(struct ev_loop *loop, ev_async *w, int revents)
{
    (void)loop;
    (void)revents;
    br_metrics_t *m = w->data;
    pthread_mutex_lock(&m->mu);
    uint64_t gen = m->asked;
    pthread_mutex_unlock(&m->mu);
    if (gen == m->answered)
        return; /* no writer of answered but us: reading it unlocked is fine */
    st_mw_reset(&m->scratch);
    br_metrics_render(m->core, m, &m->scratch);
    char reason[160];
    bool healthy = br_metrics_health(m->core, reason, sizeof reason);
    pthread_mutex_lock(&m->mu);
    st_mw_t t = m->out;
    m->out = m->scratch;
    m->scratch = t;
    m->healthy = healthy;
    snprintf(m->reason, sizeof m->reason, "%s", reason);
    m->answered = gen;
    pthread_cond_broadcast(&m->cv);
    pthread_mutex_unlock(&m->mu);
}

/* ------------------------------------------------------ the HTTP side */

/* Ask the core for a rendering and wait for it (nng thread). On success
 * *text is a malloc'd copy of the page (metrics) or NULL (health only);
 * returns false when the core did not answer in time or we are closing. */
static bool bm_ask(br_metrics_t *m, bool want_text, char **text, size_t *len, bool *healthy, char *reason,
                   size_t rlen)
{
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += BR_METRICS_WAIT_MS / 1000;
    dl.tv_nsec += (long)(BR_METRICS_WAIT_MS % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000L;
    }
    bool ok = false;
    pthread_mutex_lock(&m->mu);
    if (m->closing) {
        pthread_mutex_unlock(&m->mu);
        return false;
    }
    m->active++;
    uint64_t target = ++m->asked;
    ev_async_send(m->loop, &m->wake);
    while (!m->closing && m->answered < target)
        if (pthread_cond_timedwait(&m->cv, &m->mu, &dl) == ETIMEDOUT)
            break;
    if (!m->closing && m->answered >= target) {
        ok = true;
        *healthy = m->healthy;
        snprintf(reason, rlen, "%s", m->reason);
        if (want_text && !m->out.failed) {
            *text = malloc(m->out.len ? m->out.len : 1);
            if (*text)
                memcpy(*text, m->out.text, m->out.len);
            *len = m->out.len;
            ok = *text != NULL;
        }
    }
    m->active--;
    pthread_cond_broadcast(&m->cv);
    pthread_mutex_unlock(&m->mu);
    return ok;
}

static void bm_reply(nng_aio *aio, uint16_t status, const char *ctype, const char *body, size_t len)
{
    nng_http_res *res = NULL;
    int rv = nng_http_res_alloc(&res);
    if (rv == 0)
        rv = nng_http_res_set_status(res, status);
    if (rv == 0)
        rv = nng_http_res_set_header(res, "Content-Type", ctype);
    if (rv == 0)
        rv = nng_http_res_copy_data(res, body, len);
    if (rv != 0) {
        if (res)
            nng_http_res_free(res);
        nng_aio_finish(aio, rv);
        return;
    }
    nng_aio_set_output(aio, 0, res);
    nng_aio_finish(aio, 0);
}

static void bm_http_metrics(nng_aio *aio)
{
    nng_http_handler *h = nng_aio_get_input(aio, 1);
    br_metrics_t *m = nng_http_handler_get_data(h);
    char *text = NULL, reason[160];
    size_t len = 0;
    bool healthy = false;
    if (!bm_ask(m, true, &text, &len, &healthy, reason, sizeof reason)) {
        static const char busy[] = "the broker's core loop did not answer in time\n";
        bm_reply(aio, 503, "text/plain", busy, sizeof busy - 1);
        return;
    }
    bm_reply(aio, 200, BM_CONTENT_TYPE, text, len);
    free(text);
}

static void bm_http_health(nng_aio *aio)
{
    nng_http_handler *h = nng_aio_get_input(aio, 1);
    br_metrics_t *m = nng_http_handler_get_data(h);
    char reason[170];
    bool healthy = false;
    if (!bm_ask(m, false, NULL, NULL, &healthy, reason, sizeof reason - 1))
        snprintf(reason, sizeof reason - 1, "the broker's core loop did not answer in time");
    size_t n = strlen(reason);
    reason[n++] = '\n';
    bm_reply(aio, healthy ? 200 : 503, "text/plain", reason, n);
}

static int bm_add(br_metrics_t *m, const char *path, void (*fn)(nng_aio *))
{
    nng_http_handler *h = NULL;
    int rv = nng_http_handler_alloc(&h, path, fn);
    if (rv == 0)
        rv = nng_http_handler_set_method(h, "GET");
    if (rv == 0)
        rv = nng_http_handler_set_data(h, m, NULL);
    if (rv == 0)
        rv = nng_http_server_add_handler(m->srv, h);
    if (rv != 0 && h)
        nng_http_handler_free(h);
    return rv;
}

st_err_t br_metrics_listen(br_metrics_t *m, const char *url, char *err, size_t errlen)
{
    if (strncmp(url, "http://", 7) != 0) {
        snprintf(err, errlen, "metrics.listener=%s: must be http://host:port", url);
        return ST_ERR_INVALID_CONFIG;
    }
    if (!m->sync_init) {
        pthread_mutex_init(&m->mu, NULL);
        pthread_cond_init(&m->cv, NULL);
        m->sync_init = true;
    }
    int rv = nng_url_parse(&m->url, url);
    if (rv == 0)
        rv = nng_http_server_hold(&m->srv, m->url);
    if (rv == 0)
        rv = bm_add(m, "/metrics", bm_http_metrics);
    if (rv == 0)
        rv = bm_add(m, "/healthz", bm_http_health);
    if (rv == 0) {
        ev_async_init(&m->wake, bm_wake);
        m->wake.data = m;
        ev_async_start(m->loop, &m->wake);
        m->async_on = true;
        rv = nng_http_server_start(m->srv);
    }
    if (rv != 0) {
        snprintf(err, errlen, "metrics.listener=%s: %s", url, nng_strerror(rv));
        return ST_ERR_INVALID_CONFIG;
    }
    ST_INFO(BM_TAG, "serving metrics on %s/metrics", url);
    return ST_OK;
}

void br_metrics_free(br_metrics_t *m)
{
    if (!m)
        return;
    if (m->sync_init) {
        pthread_mutex_lock(&m->mu);
        m->closing = true;
        pthread_cond_broadcast(&m->cv);
        pthread_mutex_unlock(&m->mu);
    }
    if (m->srv) {
        nng_http_server_stop(m->srv);
        nng_http_server_release(m->srv);
        m->srv = NULL;
    }
    if (m->sync_init) {
        pthread_mutex_lock(&m->mu);
        while (m->active > 0)
            pthread_cond_wait(&m->cv, &m->mu);
        pthread_mutex_unlock(&m->mu);
    }
    if (m->async_on)
        ev_async_stop(m->loop, &m->wake);
    if (m->url)
        nng_url_free(m->url);
    if (m->sync_init) {
        pthread_mutex_destroy(&m->mu);
        pthread_cond_destroy(&m->cv);
    }
    st_mw_free(&m->out);
    st_mw_free(&m->scratch);
    free(m);
}
