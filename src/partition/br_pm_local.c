/*
 * br_pm_local: local appends, reads and role listeners on the partition
 * manager for in-broker services (see br_pm_local.h). A local append is a
 * br_pending with no br_call: it waits on one partition for the high
 * watermark, exactly like an acks=all produce, and reports through a
 * callback instead of a reply. The role-listener registry is kept here,
 * keyed by manager, so br_pm needs no new field: one core loop has few
 * managers and fewer listeners. Core loop only.
 */
#include "partition/br_pm_local.h"

#include <stdlib.h>
#include <string.h>

#include "partition/br_pm_int.h"

/* ---------------------------------------------------- role listeners */

typedef struct br_role_listener {
    br_pm_t *pm;
    br_pm_role_fn fn;
    void *arg;
} br_role_listener_t;

static br_role_listener_t *br_listeners;
static size_t br_n_listeners;

st_err_t br_pm_add_role_fn(br_pm_t *pm, br_pm_role_fn fn, void *arg)
{
    if (!pm || !fn)
        return ST_ERR_INVALID_ARG;
    for (size_t i = 0; i < br_n_listeners; i++)
        if (br_listeners[i].pm == pm && br_listeners[i].fn == fn && br_listeners[i].arg == arg)
            return ST_ERR_EXISTS;
    br_role_listener_t *n = realloc(br_listeners, (br_n_listeners + 1) * sizeof *n);
    if (!n)
        return ST_ERR_NOMEM;
    br_listeners = n;
    br_listeners[br_n_listeners++] = (br_role_listener_t){pm, fn, arg};
    return ST_OK;
}

void br_pm_remove_role_fn(br_pm_t *pm, br_pm_role_fn fn, void *arg)
{
    for (size_t i = 0; i < br_n_listeners; i++) {
        if (br_listeners[i].pm == pm && br_listeners[i].fn == fn && br_listeners[i].arg == arg) {
            br_listeners[i] = br_listeners[--br_n_listeners];
            break;
        }
    }
    if (br_n_listeners == 0) {
        free(br_listeners);
        br_listeners = NULL;
    }
}

void br_pm_local_role_changed(br_pm_t *pm, const char *topic, int32_t partition, br_role_t old_role,
                              br_role_t new_role, int32_t leader_epoch)
{
    /* a listener may not add or remove listeners (contract), so the
     * array is stable during the walk */
    for (size_t i = 0; i < br_n_listeners; i++)
        if (br_listeners[i].pm == pm)
            br_listeners[i].fn(br_listeners[i].arg, topic, partition, old_role, new_role, leader_epoch);
}

/* ------------------------------------------------------------ queries */

st_err_t br_pm_local_info(br_pm_t *pm, const char *topic, int32_t partition, br_pm_part_info_t *out)
{
    br_part_t *part = pm && topic ? br_pm_find(pm, topic, partition) : NULL;
    if (!part)
        return ST_ERR_UNKNOWN_TOPIC_OR_PARTITION;
    out->role = part->role;
    out->leader_epoch = part->leader_epoch;
    out->log_start = part->log ? sl_log_start_offset(part->log) : 0;
    out->log_end = br_part_leo(part);
    out->hw = part->hw;
    return ST_OK;
}

st_err_t br_pm_local_read(br_pm_t *pm, const char *topic, int32_t partition, int64_t offset, size_t max_bytes,
                          int64_t max_offset, st_buf_t *out)
{
    br_part_t *part = pm && topic ? br_pm_find(pm, topic, partition) : NULL;
    if (!part)
        return ST_ERR_UNKNOWN_TOPIC_OR_PARTITION;
    if (part->role == BR_ROLE_OFFLINE || !part->log)
        return ST_ERR_KAFKA_STORAGE_ERROR;
    st_err_t err = sl_log_read(part->log, offset, max_bytes, max_offset, out);
    if (err == ST_ERR_IO || err == ST_ERR_NO_SPACE)
        br_part_set_offline(pm, part, err);
    return err;
}

/* ------------------------------------------------------ local appends */

typedef struct br_local_append {
    br_pending_t base; /* first: it is the br_pending */
    int64_t need_hw;
    int64_t base_offset;
    br_pm_append_fn fn;
    void *arg;
} br_local_append_t;

static void br_local_done(br_local_append_t *la, st_err_t err)
{
    br_pending_finish(&la->base);
    br_pm_append_fn fn = la->fn;
    void *arg = la->arg;
    int64_t base = la->base_offset;
    free(la);
    fn(arg, err, base);
}

static void br_local_wake(br_pending_t *p, br_waiter_t *w, br_wake_t what)
{
    br_local_append_t *la = (br_local_append_t *)p;
    br_part_t *part = w->part;
    if (what != BR_WAKE_HW || !part || part->role != BR_ROLE_LEADER || part->hw < la->need_hw)
        return;
    /* as br_produce_settle (Kafka): the HW may have passed the batch only
     * because the ISR shrank under min.insync.replicas; not an ack */
    if (part->min_insync > 1 && part->n_isr < (size_t)part->min_insync)
        br_local_done(la, ST_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND);
    else
        br_local_done(la, ST_OK);
}

static void br_local_detach(br_pending_t *p, br_waiter_t *w, st_err_t err)
{
    (void)w;
    br_local_done((br_local_append_t *)p, err);
}

static void br_local_expire(br_pending_t *p)
{
    br_local_done((br_local_append_t *)p,
                  p->pm->closing ? ST_ERR_NOT_LEADER_OR_FOLLOWER : ST_ERR_REQUEST_TIMED_OUT);
}

static const br_pending_ops_t br_local_ops = {
    .wake = br_local_wake,
    .detach = br_local_detach,
    .expire = br_local_expire,
};

st_err_t br_pm_local_append(br_pm_t *pm, const char *topic, int32_t partition, uint8_t *frame, size_t len,
                            int64_t timeout_ms, br_pm_append_fn fn, void *arg)
{
    if (!pm || !topic || !frame || !fn)
        return ST_ERR_INVALID_ARG;
    br_part_t *part = br_pm_find(pm, topic, partition);
    if (!part)
        return ST_ERR_UNKNOWN_TOPIC_OR_PARTITION;
    if (part->role == BR_ROLE_OFFLINE)
        return ST_ERR_KAFKA_STORAGE_ERROR;
    if (part->role != BR_ROLE_LEADER || pm->closing)
        return ST_ERR_NOT_LEADER_OR_FOLLOWER;
    if (part->min_insync > 1 && part->n_isr < (size_t)part->min_insync)
        return ST_ERR_NOT_ENOUGH_REPLICAS;
    br_local_append_t *la = calloc(1, sizeof *la);
    if (!la)
        return ST_ERR_NOMEM;
    int64_t base = -1;
    st_err_t err = sl_log_append(part->log, frame, len, part->leader_epoch, st_wall_ms(), &base);
    if (err != ST_OK) {
        if (err == ST_ERR_IO || err == ST_ERR_NO_SPACE) {
            br_part_set_offline(pm, part, err);
            err = ST_ERR_KAFKA_STORAGE_ERROR;
        }
        free(la);
        return err;
    }
    la->need_hw = sl_log_end_offset(part->log);
    la->base_offset = base;
    la->fn = fn;
    la->arg = arg;
    err = br_pending_start(pm, &la->base, &br_local_ops, NULL, 1, timeout_ms);
    if (err != ST_OK) {
        /* appended but cannot wait: report it as a timeout */
        free(la);
        br_part_appended(pm, part, (int64_t)len);
        fn(arg, ST_ERR_REQUEST_TIMED_OUT, base);
        return ST_OK;
    }
    br_pending_watch(&la->base, 0, part, 0);
    /* may complete at once (the ISR is this broker alone) */
    br_part_appended(pm, part, (int64_t)len);
    return ST_OK;
}
