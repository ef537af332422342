/*
 * Unit tests of br_pool: jobs run on workers, done callbacks on the loop
 * thread through a real libev loop, cancellation and shutdown.
 */
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "partition/br_pool.h"
#include "tu.h"

static pthread_t tp_main;

typedef struct tp_job {
    atomic_int *ran;       /* work_fn count */
    int *done, *cancelled; /* loop-side counts */
    bool work_on_main;     /* work_fn ran on the loop thread (must not) */
    bool done_off_main;    /* done_fn ran elsewhere (must not) */
    sem_t *started, *go;   /* blocker job: post started, wait go */
    br_pool_t *pool;       /* resubmit from done when resubmit > 0 */
    int resubmit;
} tp_job_t;

static void tp_work(void *arg)
{
    tp_job_t *j = arg;
    if (pthread_equal(pthread_self(), tp_main))
        j->work_on_main = true;
    if (j->started)
        sem_post(j->started);
    if (j->go)
        sem_wait(j->go);
    atomic_fetch_add(j->ran, 1);
}

static void tp_done(void *arg, bool cancelled)
{
    tp_job_t *j = arg;
    if (!pthread_equal(pthread_self(), tp_main))
        j->done_off_main = true;
    if (cancelled)
        (*j->cancelled)++;
    else
        (*j->done)++;
    if (j->resubmit > 0) {
        j->resubmit--;
        CU_ASSERT_EQUAL(br_pool_submit(j->pool, tp_work, tp_done, j), ST_OK);
    }
}

/* Many jobs: every work_fn runs on a worker, every done_fn on the loop,
 * and ev_run() returns by itself once all are done. */
static void test_pool_run_all(void)
{
    enum {
        N = 200
    };
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    br_pool_t *pool;
    CU_ASSERT_EQUAL_FATAL(br_pool_new(loop, 3, &pool), ST_OK);
    atomic_int ran = 0;
    int done = 0, cancelled = 0;
    tp_job_t *jobs = calloc(N, sizeof *jobs);
    for (int i = 0; i < N; i++) {
        jobs[i] = (tp_job_t){.ran = &ran, .done = &done, .cancelled = &cancelled, .pool = pool};
        if (i == 0)
            jobs[i].resubmit = 3; /* done callbacks may submit more */
        CU_ASSERT_EQUAL(br_pool_submit(pool, tp_work, tp_done, &jobs[i]), ST_OK);
    }
    CU_ASSERT_EQUAL(br_pool_outstanding(pool), N);
    ev_run(loop, 0); /* returns when nothing is outstanding */
    CU_ASSERT_EQUAL(atomic_load(&ran), N + 3);
    CU_ASSERT_EQUAL(done, N + 3);
    CU_ASSERT_EQUAL(cancelled, 0);
    CU_ASSERT_EQUAL(br_pool_outstanding(pool), 0);
    for (int i = 0; i < N; i++) {
        CU_ASSERT_FALSE(jobs[i].work_on_main);
        CU_ASSERT_FALSE(jobs[i].done_off_main);
    }
    /* an idle pool does not keep the loop running */
    ev_run(loop, 0);
    br_pool_free(pool);
    free(jobs);
    ev_loop_destroy(loop);
}

/* A blocked worker, queued jobs cancelled: their work never runs, their
 * done_fn runs once with cancelled = true; the running job completes. */
static void test_pool_cancel(void)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    br_pool_t *pool;
    CU_ASSERT_EQUAL_FATAL(br_pool_new(loop, 1, &pool), ST_OK);
    sem_t started, go;
    sem_init(&started, 0, 0);
    sem_init(&go, 0, 0);
    atomic_int ran = 0;
    int done = 0, cancelled = 0;
    tp_job_t blocker = {.ran = &ran, .done = &done, .cancelled = &cancelled, .started = &started, .go = &go};
    tp_job_t rest[5];
    CU_ASSERT_EQUAL(br_pool_submit(pool, tp_work, tp_done, &blocker), ST_OK);
    sem_wait(&started); /* the only worker is busy now */
    for (int i = 0; i < 5; i++) {
        rest[i] = (tp_job_t){.ran = &ran, .done = &done, .cancelled = &cancelled};
        CU_ASSERT_EQUAL(br_pool_submit(pool, tp_work, tp_done, &rest[i]), ST_OK);
    }
    CU_ASSERT_EQUAL(br_pool_cancel(pool), 5);
    sem_post(&go);
    ev_run(loop, 0);
    CU_ASSERT_EQUAL(atomic_load(&ran), 1);
    CU_ASSERT_EQUAL(done, 1);
    CU_ASSERT_EQUAL(cancelled, 5);
    br_pool_free(pool);
    sem_destroy(&started);
    sem_destroy(&go);
    ev_loop_destroy(loop);
}

/* Shutdown with one job running and more queued: br_pool_free waits for
 * the running job, and every done_fn ran exactly once when it returns
 * (the queued ones cancelled, unless the worker got to them first). */
static void *tp_release(void *arg)
{
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
    sem_post(arg);
    return NULL;
}

static void test_pool_shutdown(void)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    br_pool_t *pool;
    CU_ASSERT_EQUAL_FATAL(br_pool_new(loop, 1, &pool), ST_OK);
    sem_t started, go;
    sem_init(&started, 0, 0);
    sem_init(&go, 0, 0);
    atomic_int ran = 0;
    int done = 0, cancelled = 0;
    tp_job_t blocker = {.ran = &ran, .done = &done, .cancelled = &cancelled, .started = &started, .go = &go};
    tp_job_t rest[4];
    CU_ASSERT_EQUAL(br_pool_submit(pool, tp_work, tp_done, &blocker), ST_OK);
    sem_wait(&started);
    for (int i = 0; i < 4; i++) {
        rest[i] = (tp_job_t){.ran = &ran, .done = &done, .cancelled = &cancelled};
        CU_ASSERT_EQUAL(br_pool_submit(pool, tp_work, tp_done, &rest[i]), ST_OK);
    }
    pthread_t th;
    CU_ASSERT_EQUAL_FATAL(pthread_create(&th, NULL, tp_release, &go), 0);
    br_pool_free(pool); /* blocks until the blocker is released and done */
    pthread_join(th, NULL);
    CU_ASSERT_EQUAL(done + cancelled, 5);
    CU_ASSERT_EQUAL(atomic_load(&ran), done);
    CU_ASSERT_TRUE(done >= 1);
    sem_destroy(&started);
    sem_destroy(&go);
    ev_loop_destroy(loop);
}

/* Shutdown while idle jobs are still queued on several workers: every
 * done_fn runs exactly once within br_pool_free. */
static void test_pool_free_owes_done(void)
{
    enum {
        N = 50
    };
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    br_pool_t *pool;
    CU_ASSERT_EQUAL_FATAL(br_pool_new(loop, 2, &pool), ST_OK);
    atomic_int ran = 0;
    int done = 0, cancelled = 0;
    tp_job_t jobs[N];
    for (int i = 0; i < N; i++) {
        jobs[i] = (tp_job_t){.ran = &ran, .done = &done, .cancelled = &cancelled};
        CU_ASSERT_EQUAL(br_pool_submit(pool, tp_work, tp_done, &jobs[i]), ST_OK);
    }
    br_pool_free(pool); /* no ev_run at all */
    CU_ASSERT_EQUAL(done + cancelled, N);
    CU_ASSERT_EQUAL(atomic_load(&ran), done);
    ev_loop_destroy(loop);
}

static CU_TestInfo pool_tests[] = {
    {"run all, done on loop", test_pool_run_all},
    {"cancel queued", test_pool_cancel},
    {"shutdown", test_pool_shutdown},
    {"free runs owed done callbacks", test_pool_free_owes_done},
    CU_TEST_INFO_NULL,
};
static CU_SuiteInfo suites[] = {
    {"pool", NULL, NULL, NULL, NULL, pool_tests},
    CU_SUITE_INFO_NULL,
};

int main(void)
{
    tp_main = pthread_self();
    return tu_main(suites);
}
