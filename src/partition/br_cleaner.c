/*
 * br_cleaner: schedules log compaction of the hosted replicas (see
 * br_cleaner.h). A job is one plan of one log: prepared on the loop, run
 * on a pool worker, committed by the pool's done callback on the loop.
 * The only state shared with the workers is a job's `state` and
 * `abandoned` (under c->mu): the loop abandons a job whose log is about to
 * close, and waits on c->cv while the worker still runs it.
 */
#include "partition/br_cleaner.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/st_clock.h"
#include "common/st_log.h"
#include "partition/br_pool.h"
#include "storage/sl_cleaner.h"

#define BR_TAG "cleaner"

typedef enum br_job_state {
    BR_JOB_QUEUED = 0,
    BR_JOB_RUNNING,
    BR_JOB_DONE
} br_job_state_t;

typedef struct br_clean_job {
    br_cleaner_t *c;
    sl_log_t *log;
    char *topic;
    int32_t partition;
    sl_cleaner_plan_t *plan; /* NULL once abandoned and freed */
    st_err_t run_err;        /* written by the worker before DONE */
    br_job_state_t state;    /* c->mu */
    bool abandoned;          /* c->mu: the worker must not start it */
    int64_t start_ns;        /* prepare (monotonic) */
    int64_t run_ns;          /* time inside sl_cleaner_run */
    struct br_clean_job *prev, *next;
} br_clean_job_t;

typedef struct br_skip {
    sl_log_t *log;
    int64_t until_ms;
} br_skip_t;

struct br_cleaner {
    struct ev_loop *loop;
    br_pm_t *pm;
    br_cleaner_config_t cfg;
    br_pool_t *pool;
    ev_timer timer;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    br_clean_job_t *jobs; /* prepared, done_fn not run yet */
    int n_jobs;
    br_skip_t *skip; /* logs that failed: left alone for a while */
    size_t n_skip;
    bool closing;
    int64_t last_now_ms;
    br_cleaner_totals_t totals;
};

void br_cleaner_config_default(br_cleaner_config_t *c)
{
    memset(c, 0, sizeof *c);
    c->enable = true;
    c->threads = 1;
    c->backoff_ms = BR_CLEANER_DEFAULT_BACKOFF_MS;
    c->dedupe_buffer_size = 0;
}

/* ------------------------------------------------------------ the skip list */

static bool br_skipped(br_cleaner_t *c, sl_log_t *log, int64_t now_ms)
{
    for (size_t i = 0; i < c->n_skip; i++)
        if (c->skip[i].log == log)
            return now_ms < c->skip[i].until_ms;
    return false;
}

static void br_skip_forget(br_cleaner_t *c, sl_log_t *log)
{
    for (size_t i = 0; i < c->n_skip; i++) {
        if (c->skip[i].log == log) {
            c->skip[i] = c->skip[--c->n_skip];
            return;
        }
    }
}

static void br_skip_add(br_cleaner_t *c, sl_log_t *log, int64_t until_ms)
{
    for (size_t i = 0; i < c->n_skip; i++) {
        if (c->skip[i].log == log) {
            c->skip[i].until_ms = until_ms;
            return;
        }
    }
    br_skip_t *n = realloc(c->skip, (c->n_skip + 1) * sizeof *n);
    if (!n)
        return; /* only means it is retried sooner */
    c->skip = n;
    c->skip[c->n_skip++] = (br_skip_t){.log = log, .until_ms = until_ms};
}

/* ------------------------------------------------------------------- jobs */

static void br_job_unlink(br_cleaner_t *c, br_clean_job_t *j)
{
    if (j->prev)
        j->prev->next = j->next;
    else
        c->jobs = j->next;
    if (j->next)
        j->next->prev = j->prev;
    j->prev = j->next = NULL;
    c->n_jobs--;
}

static void br_job_free(br_clean_job_t *j)
{
    sl_cleaner_plan_free(j->plan);
    free(j->topic);
    free(j);
}

/* Worker thread: the expensive part, unless the loop gave up on it. */
static void br_job_work(void *arg)
{
    br_clean_job_t *j = arg;
    br_cleaner_t *c = j->c;
    pthread_mutex_lock(&c->mu);
    if (j->abandoned) {
        j->state = BR_JOB_DONE;
        pthread_cond_broadcast(&c->cv);
        pthread_mutex_unlock(&c->mu);
        return;
    }
    j->state = BR_JOB_RUNNING;
    pthread_mutex_unlock(&c->mu);

    int64_t t0 = st_mono_ns();
    st_err_t err = sl_cleaner_run(j->plan);
    int64_t t1 = st_mono_ns();

    pthread_mutex_lock(&c->mu);
    j->run_err = err;
    j->run_ns = t1 - t0;
    j->state = BR_JOB_DONE;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

static bool br_is_io(st_err_t err)
{
    return err == ST_ERR_IO || err == ST_ERR_NO_SPACE;
}

static void br_job_log_done(const br_clean_job_t *j, const sl_cleaner_stats_t *st, int64_t total_ns)
{
    double secs = (double)total_ns / 1e9, run_secs = (double)j->run_ns / 1e9;
    double mb_read = (double)st->bytes_read / (1024.0 * 1024.0);
    double rate = run_secs > 0 ? mb_read / run_secs : 0.0;
    double smaller = st->bytes_in > 0 ? 100.0 * (1.0 - (double)st->bytes_out / (double)st->bytes_in) : 0.0;
    st_log(ST_LOG_INFO, BR_TAG,
           "%s-%d: cleaned offsets [%" PRId64 ", %" PRId64 ") dirty ratio %.2f: %d segment(s) "
           "read, %d swapped; %.2f MB read in %.3f s (%.1f MB/s, %.3f s total); %" PRId64 " -> %" PRId64
           " bytes (%.1f%% smaller), %" PRId64 " -> %" PRId64 " records, %" PRId64 " keys, %" PRId64
           " tombstone(s) dropped",
           j->topic, j->partition, st->first_dirty, st->dirty_end, st->dirty_ratio, st->segments,
           st->segments_swapped, mb_read, run_secs, rate, secs, st->bytes_in, st->bytes_out, smaller,
           st->records_in, st->records_out, st->keys, st->tombstones_dropped);
}

/* Loop thread: commit (or drop) a finished job. */
static void br_job_done(void *arg, bool cancelled)
{
    br_clean_job_t *j = arg;
    br_cleaner_t *c = j->c;
    br_job_unlink(c, j);
    bool again = false;
    if (j->abandoned || !j->plan || !c->pm) {
        c->totals.runs_abandoned++;
    } else if (cancelled || c->closing) {
        c->totals.runs_abandoned++;
    } else if (j->run_err != ST_OK) {
        c->totals.runs_failed++;
        st_log(br_is_io(j->run_err) ? ST_LOG_ERROR : ST_LOG_WARN, BR_TAG, "%s-%d: cleaning failed: %s",
               j->topic, j->partition, st_err_name(j->run_err));
        br_skip_add(c, j->log, c->last_now_ms + c->cfg.backoff_ms);
        if (br_is_io(j->run_err))
            br_pm_storage_error(c->pm, j->topic, j->partition, j->run_err);
    } else {
        br_pm_log_ref_t ref;
        st_err_t err = br_pm_get_log(c->pm, j->topic, j->partition, &ref);
        if (err != ST_OK || ref.log != j->log) {
            c->totals.runs_abandoned++; /* cannot happen with the hook; be safe */
        } else if (ref.role == BR_ROLE_OFFLINE) {
            c->totals.runs_abandoned++;
        } else if ((err = sl_cleaner_commit(j->log, j->plan)) != ST_OK) {
            c->totals.runs_failed++;
            st_log(br_is_io(err) ? ST_LOG_ERROR : ST_LOG_INFO, BR_TAG, "%s-%d: cleaning not committed: %s",
                   j->topic, j->partition, st_err_name(err));
            if (br_is_io(err))
                br_pm_storage_error(c->pm, j->topic, j->partition, err);
            else
                again = err == ST_ERR_STATE; /* stale plan: prepare afresh */
        } else {
            const sl_cleaner_stats_t *st = sl_cleaner_plan_stats(j->plan);
            c->totals.runs++;
            c->totals.bytes_read += st->bytes_read;
            c->totals.bytes_in += st->bytes_in;
            c->totals.bytes_out += st->bytes_out;
            c->totals.records_in += st->records_in;
            c->totals.records_out += st->records_out;
            br_job_log_done(j, st, st_mono_ns() - j->start_ns);
            again = st->segments > 0;
        }
    }
    br_job_free(j);
    if (again && !c->closing)
        (void)br_cleaner_schedule(c, st_wall_ms());
}

/* ------------------------------------------------------------- scheduling */

typedef struct br_cand {
    char *topic;
    int32_t partition;
    sl_log_t *log;
    int64_t hw;
    double ratio;
} br_cand_t;

typedef struct br_scan {
    br_cleaner_t *c;
    int64_t now_ms;
    br_cand_t *v;
    size_t n, cap;
    bool nomem;
} br_scan_t;

static bool br_has_job(const br_cleaner_t *c, const sl_log_t *log)
{
    for (const br_clean_job_t *j = c->jobs; j; j = j->next)
        if (j->log == log)
            return true;
    return false;
}

static void br_scan_cb(void *arg, const br_pm_log_ref_t *ref)
{
    br_scan_t *s = arg;
    if (s->nomem || ref->role == BR_ROLE_OFFLINE || !ref->log)
        return;
    const sl_log_config_t *lc = sl_log_config(ref->log);
    if (!lc || !(lc->cleanup_policy & SL_CLEANUP_COMPACT))
        return;
    if (br_has_job(s->c, ref->log) || br_skipped(s->c, ref->log, s->now_ms))
        return;
    sl_cleaner_opts_t o = {.now_ms = s->now_ms, .max_offset = ref->hw};
    double ratio = 0;
    st_err_t err = sl_cleaner_dirty_ratio(ref->log, &o, &ratio);
    if (err != ST_OK || ratio <= 0 || ratio < lc->min_cleanable_dirty_ratio)
        return;
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 16;
        br_cand_t *v = realloc(s->v, cap * sizeof *v);
        if (!v) {
            s->nomem = true;
            return;
        }
        s->v = v;
        s->cap = cap;
    }
    char *t = strdup(ref->topic);
    if (!t) {
        s->nomem = true;
        return;
    }
    s->v[s->n++] =
        (br_cand_t){.topic = t, .partition = ref->partition, .log = ref->log, .hw = ref->hw, .ratio = ratio};
}

static int br_cand_cmp(const void *a, const void *b)
{
    const br_cand_t *x = a, *y = b;
    return x->ratio < y->ratio ? 1 : x->ratio > y->ratio ? -1 : 0;
}

static size_t br_map_bytes(const br_cleaner_t *c)
{
    if (c->cfg.dedupe_buffer_size <= 0)
        return 0;
    int64_t per = c->cfg.dedupe_buffer_size / c->cfg.threads;
    return per < (1 << 20) ? (size_t)1 << 20 : (size_t)per;
}

/* Prepare and submit one candidate. */
static bool br_start(br_cleaner_t *c, br_cand_t *cand, int64_t now_ms)
{
    sl_cleaner_opts_t o = {.now_ms = now_ms, .max_offset = cand->hw, .map_bytes = br_map_bytes(c)};
    br_clean_job_t *j = calloc(1, sizeof *j);
    if (!j)
        return false;
    j->c = c;
    j->log = cand->log;
    j->partition = cand->partition;
    j->topic = cand->topic;
    cand->topic = NULL;
    j->start_ns = st_mono_ns();
    st_err_t err = sl_cleaner_prepare(cand->log, &o, &j->plan);
    if (err != ST_OK) {
        if (br_is_io(err)) {
            st_log(ST_LOG_ERROR, BR_TAG, "%s-%d: preparing to clean: %s", j->topic, j->partition,
                   st_err_name(err));
            br_pm_storage_error(c->pm, j->topic, j->partition, err);
        } else if (err != ST_ERR_NOT_FOUND) {
            br_skip_add(c, cand->log, now_ms + c->cfg.backoff_ms);
        }
        br_job_free(j);
        return false;
    }
    j->next = c->jobs;
    if (c->jobs)
        c->jobs->prev = j;
    c->jobs = j;
    c->n_jobs++;
    err = br_pool_submit(c->pool, br_job_work, br_job_done, j);
    if (err != ST_OK) {
        br_job_unlink(c, j);
        br_job_free(j);
        return false;
    }
    return true;
}

int br_cleaner_schedule(br_cleaner_t *c, int64_t now_ms)
{
    if (!c || c->closing || !c->cfg.enable || !c->pm)
        return 0;
    c->last_now_ms = now_ms;
    int slots = c->cfg.threads - c->n_jobs;
    if (slots <= 0)
        return 0;
    br_scan_t s = {.c = c, .now_ms = now_ms};
    br_pm_foreach_log(c->pm, br_scan_cb, &s);
    if (s.n > 1)
        qsort(s.v, s.n, sizeof *s.v, br_cand_cmp);
    int started = 0;
    for (size_t i = 0; i < s.n && started < slots; i++)
        if (br_start(c, &s.v[i], now_ms))
            started++;
    for (size_t i = 0; i < s.n; i++)
        free(s.v[i].topic);
    free(s.v);
    return started;
}

static void br_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    br_cleaner_t *c = w->data;
    (void)br_cleaner_schedule(c, st_wall_ms());
}

/* ---------------------------------------------------------------- the hook */

void br_cleaner_forget_log(br_cleaner_t *c, sl_log_t *log)
{
    if (!c)
        return;
    if (!log) { /* br_pm_free: every log was let go already */
        c->pm = NULL;
        return;
    }
    br_skip_forget(c, log);
    for (br_clean_job_t *j = c->jobs; j; j = j->next) {
        if (j->log != log || !j->plan)
            continue;
        pthread_mutex_lock(&c->mu);
        j->abandoned = true;
        while (j->state == BR_JOB_RUNNING)
            pthread_cond_wait(&c->cv, &c->mu);
        pthread_mutex_unlock(&c->mu);
        /* queued: the worker will skip it; done: not committed. Either way
         * the plan (its open segment files, its .cleaned files) goes now,
         * before the log is closed or its directory removed. */
        sl_cleaner_plan_free(j->plan);
        j->plan = NULL;
        st_log(ST_LOG_INFO, BR_TAG, "%s-%d: cleaning abandoned (log closing)", j->topic, j->partition);
    }
}

static void br_closing_hook(void *arg, sl_log_t *log)
{
    br_cleaner_forget_log(arg, log);
}

/* ----------------------------------------------------------------- life */

st_err_t br_cleaner_new(struct ev_loop *loop, br_pm_t *pm, const br_cleaner_config_t *cfg, br_cleaner_t **out)
{
    if (!loop || !pm || !out)
        return ST_ERR_INVALID_ARG;
    *out = NULL;
    br_cleaner_t *c = calloc(1, sizeof *c);
    if (!c)
        return ST_ERR_NOMEM;
    if (cfg)
        c->cfg = *cfg;
    else
        br_cleaner_config_default(&c->cfg);
    if (c->cfg.threads <= 0)
        c->cfg.threads = 1;
    if (c->cfg.backoff_ms <= 0)
        c->cfg.backoff_ms = BR_CLEANER_DEFAULT_BACKOFF_MS;
    c->loop = loop;
    c->pm = pm;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    st_err_t err = ST_OK;
    if (c->cfg.enable) {
        err = br_pool_new(loop, c->cfg.threads, &c->pool);
        if (err != ST_OK)
            goto fail;
        double period = (double)c->cfg.backoff_ms / 1000.0;
        ev_timer_init(&c->timer, br_timer_cb, period, period);
        c->timer.data = c;
        ev_timer_start(loop, &c->timer);
        ev_unref(loop); /* the timer alone must not keep the loop running */
        st_log(ST_LOG_INFO, BR_TAG, "log cleaner started: %d thread(s), backoff %" PRId64 " ms",
               c->cfg.threads, c->cfg.backoff_ms);
    }
    br_pm_set_log_closing_fn(pm, br_closing_hook, c);
    *out = c;
    return ST_OK;
fail:
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    free(c);
    return err;
}

void br_cleaner_free(br_cleaner_t *c)
{
    if (!c)
        return;
    c->closing = true;
    if (c->pool) {
        ev_ref(c->loop);
        ev_timer_stop(c->loop, &c->timer);
        /* queued jobs are cancelled, running ones waited for; every
         * done_fn runs in here and, closing, only frees its plan */
        br_pool_free(c->pool);
    }
    while (c->jobs) { /* not reached: br_pool_free ran every done_fn */
        br_clean_job_t *j = c->jobs;
        br_job_unlink(c, j);
        br_job_free(j);
    }
    if (c->pm)
        br_pm_set_log_closing_fn(c->pm, NULL, NULL);
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    free(c->skip);
    free(c);
}

int br_cleaner_active(const br_cleaner_t *c)
{
    return c ? c->n_jobs : 0;
}

void br_cleaner_get_totals(const br_cleaner_t *c, br_cleaner_totals_t *out)
{
    if (!out)
        return;
    if (c)
        *out = c->totals;
    else
        memset(out, 0, sizeof *out);
}

/* ------------------------------------------------------ topic config keys */

static bool br_parse_i64(const char *s, int64_t min, int64_t *out)
{
    if (!s || !*s)
        return false;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v < min)
        return false;
    *out = v;
    return true;
}

static bool br_parse_policy(const char *s, int *out)
{
    int bits = 0;
    const char *p = s;
    if (!s || !*s)
        return false;
    while (*p) {
        while (*p == ' ')
            p++;
        size_t n = strcspn(p, ",");
        size_t m = n;
        while (m > 0 && p[m - 1] == ' ')
            m--;
        if (m == 6 && strncmp(p, "delete", 6) == 0)
            bits |= SL_CLEANUP_DELETE;
        else if (m == 7 && strncmp(p, "compact", 7) == 0)
            bits |= SL_CLEANUP_COMPACT;
        else
            return false;
        p += n;
        if (*p == ',') {
            p++;
            if (!*p)
                return false;
        }
    }
    *out = bits;
    return true;
}

st_err_t br_cleaner_log_config(sl_log_config_t *cfg, const char *cleanup_policy,
                               const char *delete_retention_ms, const char *min_cleanable_dirty_ratio,
                               const char *min_compaction_lag_ms, char *err, size_t errlen)
{
    if (!cfg)
        return ST_ERR_INVALID_ARG;
    /* parse everything first, then assign field by field (a struct copy
     * would not keep the padding that br_pm_apply_state memcmp()s) */
    int policy = cfg->cleanup_policy;
    int64_t del_ret = cfg->delete_retention_ms, lag = cfg->min_compaction_lag_ms;
    double ratio = cfg->min_cleanable_dirty_ratio;
    const char *bad = NULL, *why = NULL;
    if (cleanup_policy && !br_parse_policy(cleanup_policy, &policy)) {
        bad = "cleanup.policy";
        why = "a comma-separated list of delete and compact";
    } else if (delete_retention_ms && !br_parse_i64(delete_retention_ms, 0, &del_ret)) {
        bad = "delete.retention.ms";
        why = "an integer >= 0";
    } else if (min_compaction_lag_ms && !br_parse_i64(min_compaction_lag_ms, 0, &lag)) {
        bad = "min.compaction.lag.ms";
        why = "an integer >= 0";
    } else if (min_cleanable_dirty_ratio) {
        char *end;
        errno = 0;
        double d = strtod(min_cleanable_dirty_ratio, &end);
        if (!*min_cleanable_dirty_ratio || errno || *end || !isfinite(d) || d < 0 || d > 1) {
            bad = "min.cleanable.dirty.ratio";
            why = "a number in [0, 1]";
        } else {
            ratio = d;
        }
    }
    if (bad) {
        if (err && errlen)
            snprintf(err, errlen, "%s: must be %s", bad, why);
        return ST_ERR_INVALID_CONFIG;
    }
    cfg->cleanup_policy = policy;
    cfg->delete_retention_ms = del_ret;
    cfg->min_compaction_lag_ms = lag;
    cfg->min_cleanable_dirty_ratio = ratio;
    return ST_OK;
}
