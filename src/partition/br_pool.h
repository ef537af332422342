/*
 * br_pool: a small pool of worker threads for slow or blocking work
 * (fsync, deleting files, log cleaning: docs/design/DESIGN.md section 2). A job is a
 * pair of callbacks: work_fn runs on one of the workers and must not touch
 * state owned by the core loop; done_fn runs afterwards ON THE LOOP THREAD,
 * handed back through an ev_async the pool owns, and may touch anything
 * the core owns. Owns: the threads, the job queue, the ev_async watcher.
 * Jobs start in submission order; with more than one worker they may
 * finish in any order. While jobs are outstanding the pool holds a
 * reference on the loop (ev_ref) so ev_run() does not return before their
 * done_fn ran; an idle pool does not keep the loop alive.
 */
#ifndef BR_POOL_H
#define BR_POOL_H

#include <stdbool.h>

#include <ev.h>

#include "common/st_err.h"

#define BR_POOL_DEFAULT_THREADS 2

typedef struct br_pool br_pool_t;

/* Runs on a worker thread. */
typedef void (*br_pool_work_fn)(void *arg);
/* Runs on the loop thread, exactly once per submitted job: after work_fn,
 * or instead of it with cancelled = true when the job was cancelled before
 * it started. */
typedef void (*br_pool_done_fn)(void *arg, bool cancelled);

/* Start nthreads workers (<= 0: BR_POOL_DEFAULT_THREADS) handing results
 * back to loop. Loop thread only. ST_ERR_NOMEM or ST_ERR_IO (thread
 * creation failed; nothing is left running). */
st_err_t br_pool_new(struct ev_loop *loop, int nthreads, br_pool_t **out);

/* Queue a job. done_fn may be NULL. Loop thread only (done callbacks may
 * submit further jobs). ST_ERR_CLOSED after br_pool_free started,
 * ST_ERR_NOMEM. */
st_err_t br_pool_submit(br_pool_t *pool, br_pool_work_fn work_fn, br_pool_done_fn done_fn, void *arg);

/* Cancel every queued job that has not started: its work_fn never runs,
 * its done_fn runs later on the loop with cancelled = true. Jobs already
 * running are not interrupted. Returns the number cancelled. Loop thread. */
int br_pool_cancel(br_pool_t *pool);

/* Jobs submitted whose done_fn has not run yet. */
int br_pool_outstanding(const br_pool_t *pool);

/* Shut down: queued jobs are cancelled (as br_pool_cancel), running jobs
 * are waited for, the threads joined, and every done_fn still owed runs
 * here, before it returns (cancelled ones with cancelled = true). Loop
 * thread, never from inside a done_fn. NULL is a no-op. */
void br_pool_free(br_pool_t *pool);

#endif
