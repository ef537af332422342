/*
 * br_pool: worker threads + one ev_async (see br_pool.h).
 *
 * Jobs move queue -> (worker) -> done list -> (loop) done_fn. The queue
 * and the done list are guarded by pl_mu; the loop-side counters
 * (pl_outstanding, the loop reference) are touched only on the loop
 * thread. A worker appends a finished job to the done list and signals the
 * ev_async; the async callback takes the whole list and runs the done
 * callbacks without holding the lock, so they may submit more jobs.
 */
#include "partition/br_pool.h"

#include <pthread.h>
#include <stdlib.h>

typedef struct st_job {
    br_pool_work_fn jb_work;
    br_pool_done_fn jb_done;
    void *jb_arg;
    bool jb_cancelled;
    struct st_job *jb_next;
} st_job_t;

/* A FIFO of jobs. */
typedef struct st_jobq {
    st_job_t *jq_head, *jq_tail;
} st_jobq_t;

struct br_pool {
    struct ev_loop *pl_loop;
    ev_async pl_async;
    pthread_mutex_t pl_mu;
    pthread_cond_t pl_cv; /* workers wait here for jobs or stop */
    st_jobq_t pl_queue;   /* submitted, not started (pl_mu) */
    st_jobq_t pl_done;    /* finished or cancelled, done_fn owed (pl_mu) */
    bool pl_stop;         /* (pl_mu) */
    pthread_t *pl_threads;
    int pl_nthreads;
    int pl_outstanding; /* loop thread only */
    bool pl_closing;    /* loop thread only */
};

static void st_jobq_push(st_jobq_t *q, st_job_t *j)
{
    j->jb_next = NULL;
    if (q->jq_tail)
        q->jq_tail->jb_next = j;
    else
        q->jq_head = j;
    q->jq_tail = j;
}

static st_job_t *st_jobq_pop(st_jobq_t *q)
{
    st_job_t *j = q->jq_head;
    if (j) {
        q->jq_head = j->jb_next;
        if (!q->jq_head)
            q->jq_tail = NULL;
    }
    return j;
}

/* Append all of src to dst, leaving src empty. */
static void st_jobq_splice(st_jobq_t *dst, st_jobq_t *src)
{
    if (!src->jq_head)
        return;
    if (dst->jq_tail)
        dst->jq_tail->jb_next = src->jq_head;
    else
        dst->jq_head = src->jq_head;
    dst->jq_tail = src->jq_tail;
    src->jq_head = src->jq_tail = NULL;
}

static void *br_pool_worker(void *p)
{
    br_pool_t *pool = p;
    pthread_mutex_lock(&pool->pl_mu);
    for (;;) {
        while (!pool->pl_stop && !pool->pl_queue.jq_head)
            pthread_cond_wait(&pool->pl_cv, &pool->pl_mu);
        st_job_t *j = st_jobq_pop(&pool->pl_queue);
        if (!j)
            break; /* stopping and nothing queued */
        pthread_mutex_unlock(&pool->pl_mu);
        j->jb_work(j->jb_arg);
        pthread_mutex_lock(&pool->pl_mu);
        st_jobq_push(&pool->pl_done, j);
        ev_async_send(pool->pl_loop, &pool->pl_async);
    }
    pthread_mutex_unlock(&pool->pl_mu);
    return NULL;
}

/* Loop thread: run the done callbacks of everything finished so far. */
static void br_pool_run_done(br_pool_t *pool)
{
    pthread_mutex_lock(&pool->pl_mu);
    st_jobq_t done = pool->pl_done;
    pool->pl_done.jq_head = pool->pl_done.jq_tail = NULL;
    pthread_mutex_unlock(&pool->pl_mu);
    st_job_t *j;
    while ((j = st_jobq_pop(&done)) != NULL) {
        if (j->jb_done)
            j->jb_done(j->jb_arg, j->jb_cancelled);
        free(j);
        if (--pool->pl_outstanding == 0 && !pool->pl_closing)
            ev_unref(pool->pl_loop); /* idle: stop keeping the loop alive */
    }
}

static void br_pool_async_cb(struct ev_loop *loop, ev_async *w, int revents)
{
    (void)loop;
    (void)revents;
    br_pool_run_done(w->data);
}

st_err_t br_pool_new(struct ev_loop *loop, int nthreads, br_pool_t **out)
{
    if (!loop || !out)
        return ST_ERR_INVALID_ARG;
    if (nthreads <= 0)
        nthreads = BR_POOL_DEFAULT_THREADS;
    br_pool_t *pool = calloc(1, sizeof *pool);
    if (!pool)
        return ST_ERR_NOMEM;
    pool->pl_threads = calloc((size_t)nthreads, sizeof *pool->pl_threads);
    if (!pool->pl_threads) {
        free(pool);
        return ST_ERR_NOMEM;
    }
    pool->pl_loop = loop;
    pthread_mutex_init(&pool->pl_mu, NULL);
    pthread_cond_init(&pool->pl_cv, NULL);
    ev_async_init(&pool->pl_async, br_pool_async_cb);
    pool->pl_async.data = pool;
    ev_async_start(loop, &pool->pl_async);
    ev_unref(loop); /* an idle pool does not keep the loop running */
    for (int i = 0; i < nthreads; i++) {
        if (pthread_create(&pool->pl_threads[i], NULL, br_pool_worker, pool) != 0) {
            pool->pl_nthreads = i;
            br_pool_free(pool);
            return ST_ERR_IO;
        }
    }
    pool->pl_nthreads = nthreads;
    *out = pool;
    return ST_OK;
}

st_err_t br_pool_submit(br_pool_t *pool, br_pool_work_fn work_fn, br_pool_done_fn done_fn, void *arg)
{
    if (!pool || !work_fn)
        return ST_ERR_INVALID_ARG;
    if (pool->pl_closing)
        return ST_ERR_CLOSED;
    st_job_t *j = calloc(1, sizeof *j);
    if (!j)
        return ST_ERR_NOMEM;
    j->jb_work = work_fn;
    j->jb_done = done_fn;
    j->jb_arg = arg;
    if (pool->pl_outstanding++ == 0)
        ev_ref(pool->pl_loop); /* work pending: keep the loop alive */
    pthread_mutex_lock(&pool->pl_mu);
    st_jobq_push(&pool->pl_queue, j);
    pthread_cond_signal(&pool->pl_cv);
    pthread_mutex_unlock(&pool->pl_mu);
    return ST_OK;
}

int br_pool_cancel(br_pool_t *pool)
{
    int n = 0;
    pthread_mutex_lock(&pool->pl_mu);
    for (st_job_t *j = pool->pl_queue.jq_head; j; j = j->jb_next) {
        j->jb_cancelled = true;
        n++;
    }
    st_jobq_splice(&pool->pl_done, &pool->pl_queue);
    if (n > 0)
        ev_async_send(pool->pl_loop, &pool->pl_async);
    pthread_mutex_unlock(&pool->pl_mu);
    return n;
}

int br_pool_outstanding(const br_pool_t *pool)
{
    return pool->pl_outstanding;
}

void br_pool_free(br_pool_t *pool)
{
    if (!pool)
        return;
    bool had_ref = pool->pl_outstanding > 0;
    pool->pl_closing = true;
    br_pool_cancel(pool);
    pthread_mutex_lock(&pool->pl_mu);
    pool->pl_stop = true;
    pthread_cond_broadcast(&pool->pl_cv);
    pthread_mutex_unlock(&pool->pl_mu);
    for (int i = 0; i < pool->pl_nthreads; i++)
        pthread_join(pool->pl_threads[i], NULL);
    br_pool_run_done(pool); /* everything owed, here and now */
    if (had_ref)
        ev_unref(pool->pl_loop);
    ev_ref(pool->pl_loop); /* undo the unref of br_pool_new before stopping */
    ev_async_stop(pool->pl_loop, &pool->pl_async);
    pthread_cond_destroy(&pool->pl_cv);
    pthread_mutex_destroy(&pool->pl_mu);
    free(pool->pl_threads);
    free(pool);
}
