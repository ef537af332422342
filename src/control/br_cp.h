/*
 * br_cp: the control-plane context. What the metadata cache (br_md), the
 * controller (br_ctl) and the admin handlers (br_admin) need of the broker
 * around them, instead of the whole broker core: the loop, this broker's
 * id and configuration, the ZooKeeper handle, the partition manager, the
 * metadata cache and the controller, the cluster id, the broker's session
 * state and the two
 * notifications br_md sends back.
 *
 * The broker core owns one br_cp_t and keeps it current in place:
 *   - the object pointers are set as the core creates the objects (md and
 *     ctl right after br_md_new / br_ctl_new, before br_admin_new) and
 *     cleared (NULL) as it frees them, so a NULL check here means what a
 *     NULL check on the core's own pointer meant;
 *   - the session state (registered, stopping, fenced, in controlled
 *     shutdown) is asked through callbacks into the core each time, never
 *     copied, so it cannot go stale;
 *   - br_md's notifications (metadata changed, dynamic broker config
 *     changed) are callbacks too.
 * Every callback gets `arg` (the core). A NULL callback answers false or
 * does nothing. The objects keep a pointer to the context, which must
 * outlive them. Core loop only.
 */
#ifndef BR_CP_H
#define BR_CP_H

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/br_config.h"
#include "coord/zkc.h"
#include "coord/zknode.h"
#include "partition/br_pm.h"

typedef struct br_md br_md_t;
typedef struct br_ctl br_ctl_t;
typedef struct br_admin br_admin_t;

typedef struct br_cp {
    struct ev_loop *loop; /* NULL: no loop (work runs at once) */
    int32_t broker_id;
    br_config_t *conf;      /* the live configuration (dynamic keys change it) */
    zkc_t *zk;              /* NULL once closed */
    br_pm_t *pm;            /* NULL once freed */
    br_md_t *md;            /* NULL until created / once freed */
    br_ctl_t *ctl;          /* NULL until created / once freed */
    const char *cluster_id; /* the core's buffer: "" until /cluster/id was read */

    void *arg;
    /* /brokers/ids/<id> is ours in the current session (broker epoch valid) */
    bool (*registered)(void *arg);
    /* the broker is stopping: no new ZooKeeper work */
    bool (*stopping)(void *arg);
    /* the core's fencing flag as it stands (no clock check): ZooKeeper has
     * not confirmed the session recently, states are not applied */
    bool (*fenced)(void *arg);
    /* this broker's controlled shutdown has started: stop following */
    bool (*shutting_down)(void *arg);
    /* the metadata cache changed (topic may be NULL: many) */
    void (*md_changed)(void *arg, const char *topic);
    /* /config/brokers/<this id> changed: apply its dynamic keys */
    void (*dynamic_config)(void *arg, const zknode_config_t *overrides);
} br_cp_t;

static inline bool br_cp_registered(const br_cp_t *cp)
{
    return cp->registered && cp->registered(cp->arg);
}

static inline bool br_cp_stopping(const br_cp_t *cp)
{
    return cp->stopping && cp->stopping(cp->arg);
}

static inline bool br_cp_fenced(const br_cp_t *cp)
{
    return cp->fenced && cp->fenced(cp->arg);
}

static inline bool br_cp_shutting_down(const br_cp_t *cp)
{
    return cp->shutting_down && cp->shutting_down(cp->arg);
}

static inline void br_cp_md_changed(const br_cp_t *cp, const char *topic)
{
    if (cp->md_changed)
        cp->md_changed(cp->arg, topic);
}

static inline void br_cp_dynamic_config(const br_cp_t *cp, const zknode_config_t *overrides)
{
    if (cp->dynamic_config)
        cp->dynamic_config(cp->arg, overrides);
}

#endif
