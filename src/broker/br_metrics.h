/*
 * br_metrics: the broker as a Prometheus target (docs/metrics.md). It
 * renders every metric family of the broker from the core's state
 * (membership, ZooKeeper session, controller, partition manager, group
 * coordinator, cleaner, request table) in the text exposition format
 * 0.0.4 (st_metrics), keeps the per-API request latency histograms, and
 * serves `metrics.listener` over HTTP with nng's HTTP server: GET /metrics
 * and GET /healthz (200 "ok" when registered in ZooKeeper and serving,
 * else 503 and a one-line reason); nng answers 404 for any other path.
 *
 * Threads (docs/design/metrics.md): nng runs the HTTP handlers on its own
 * threads; everything they report lives on the core loop. A handler asks
 * the core for a fresh rendering (ev_async) and waits for it on a
 * condition variable, at most BR_METRICS_WAIT_MS, then answers 503 when
 * the core did not answer. The core renders on its loop, between two
 * events, and publishes the text under the mutex; several scrapes in
 * flight share one rendering. Counters are only ever touched by the
 * core. Owns: the HTTP server, the histograms, the published text.
 */
#ifndef BR_METRICS_H
#define BR_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/st_err.h"
#include "common/st_metrics.h"

typedef struct br_core br_core_t;
typedef struct br_metrics br_metrics_t;

/* How long an HTTP handler waits for the core's rendering. */
#define BR_METRICS_WAIT_MS 5000

/* The metrics of core (not serving yet: br_metrics_listen). NULL on out
 * of memory. Core loop only. */
br_metrics_t *br_metrics_new(br_core_t *core);
/* Serve url ("http://host:port") on core->loop. ST_ERR_INVALID_CONFIG
 * with err filled when the URL is not http:// or cannot be bound. */
st_err_t br_metrics_listen(br_metrics_t *m, const char *url, char *err, size_t errlen);
/* Stop serving (answers 503 to handlers still waiting, waits for them to
 * return), free. NULL is a no-op. Core loop. */
void br_metrics_free(br_metrics_t *m);

/* A request of API table row `row` was answered elapsed_ns after it was
 * received (the request server's `answered` hook). Core loop. */
void br_metrics_observe(br_metrics_t *m, int row, int64_t elapsed_ns);

/* Render every family of core into w (appending). m may be NULL (no
 * latency histograms then). Core loop; never blocks. */
void br_metrics_render(br_core_t *core, br_metrics_t *m, st_mw_t *w);

/* Whether core is healthy: registered in ZooKeeper, session confirmed,
 * not stopping. reason gets "ok" or a one-line reason. Core loop. */
bool br_metrics_health(const br_core_t *core, char *reason, size_t len);

#endif
