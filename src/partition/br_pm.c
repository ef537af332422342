/*
 * br_pm: the partition manager. It keeps the hash map of hosted
 * replicas (topic/partition -> br_part), opens their logs in the log
 * directories, applies the role and leader epoch the control plane
 * gives, keeps the high watermark (HW = smallest log end offset over the
 * ISR, so replication plugs in by reporting follower positions through
 * br_part_replica_fetched), runs the pending-call machinery used by
 * long-poll fetches and acks=all produces, answers ListOffsets and does
 * the periodic work (retention, flush.ms, checkpoints). Produce and Fetch
 * live in br_pm_produce.c and br_pm_fetch.c, replication (OffsetForLeaderEpoch,
 * the follower side, ISR proposals) in br_pm_replica.c. Core loop only.
 */
#include "partition/br_pm.h"

#include <assert.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "partition/br_pm_int.h"
#include "partition/br_pm_local.h"
#include "common/st_log.h"

#define BR_TAG "partition"
#define BR_CHECKPOINT_INTERVAL_MS 5000
#define SL_PSTATE_SNAPSHOT_INTERVAL_MS 60000 /* producer-state snapshots (and on clean close) */
#define BR_INITIAL_BUCKETS 64

/* ------------------------------------------------------------------ utils */

static uint64_t br_hash(const char *topic, int32_t partition)
{
    uint32_t u = (uint32_t)partition;
    const unsigned char le[4] = {(unsigned char)u, (unsigned char)(u >> 8), (unsigned char)(u >> 16),
                                 (unsigned char)(u >> 24)};
    return st_hash_bytes(st_hash_str(ST_HASH_INIT, topic), le, sizeof le);
}

void br_pm_logf(br_pm_t *pm, br_part_t *part, br_logk_t kind, const char *fmt, ...)
{
    int64_t now = st_wall_ms();
    int64_t *slot = part ? &part->last_log_ms[kind] : &pm->last_log_ms[kind];
    if (*slot != 0 && now - *slot < BR_LOG_INTERVAL_MS)
        return;
    *slot = now;
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    st_log_level_t level = ST_LOG_INFO;
    if (kind == BR_LOGK_STORAGE)
        level = ST_LOG_ERROR;
    else if (kind == BR_LOGK_CORRUPT || kind == BR_LOGK_TOO_LARGE || kind == BR_LOGK_TIMESTAMP)
        level = ST_LOG_WARN;
    st_log(level, BR_TAG, "%s", buf);
}

/* --------------------------------------------------------------- the map */

br_part_t *br_pm_find(br_pm_t *pm, const char *topic, int32_t partition)
{
    if (!topic)
        return NULL;
    uint64_t h = br_hash(topic, partition);
    for (st_hnode_t *n = st_hmap_first(&pm->map, h); n; n = st_hmap_next(n, h)) {
        br_part_t *p = ST_CONTAINER_OF(n, br_part_t, hnode);
        if (p->partition == partition && strcmp(p->topic, topic) == 0)
            return p;
    }
    return NULL;
}

static void br_pm_insert(br_pm_t *pm, br_part_t *part)
{
    st_hmap_insert(&pm->map, &part->hnode, br_hash(part->topic, part->partition));
    part->prev = NULL;
    part->next = pm->parts;
    if (pm->parts)
        pm->parts->prev = part;
    pm->parts = part;
    pm->n_parts++;
}

static void br_pm_unlink(br_pm_t *pm, br_part_t *part)
{
    st_hmap_remove(&pm->map, &part->hnode);
    if (part->prev)
        part->prev->next = part->next;
    else
        pm->parts = part->next;
    if (part->next)
        part->next->prev = part->prev;
    part->prev = part->next = NULL;
    pm->n_parts--;
}

/* ------------------------------------------------------- pending calls */

static void br_pending_timer_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)loop;
    (void)revents;
    br_pending_t *p = t->data;
    p->ops->expire(p);
}

static void br_waiter_unlink(br_waiter_t *w)
{
    br_part_t *part = w->part;
    if (!part)
        return;
    if (w->prev)
        w->prev->next = w->next;
    else
        part->waiters = w->next;
    if (w->next)
        w->next->prev = w->prev;
    w->prev = w->next = NULL;
    w->part = NULL;
}

st_err_t br_pending_start(br_pm_t *pm, br_pending_t *p, const br_pending_ops_t *ops, br_call_t *call,
                          size_t n_waiters, int64_t timeout_ms)
{
    p->ops = ops;
    p->pm = pm;
    p->call = call;
    p->waiters = calloc(n_waiters ? n_waiters : 1, sizeof *p->waiters);
    if (!p->waiters)
        return ST_ERR_NOMEM;
    p->n_waiters = n_waiters;
    if (timeout_ms < 1)
        timeout_ms = 1;
    ev_timer_init(&p->timer, br_pending_timer_cb, (double)timeout_ms / 1000.0, 0.0);
    p->timer.data = p;
    ev_timer_start(pm->loop, &p->timer);
    p->timer_on = true;
    p->prev = NULL;
    p->next = pm->pending;
    if (pm->pending)
        pm->pending->prev = p;
    pm->pending = p;
    return ST_OK;
}

void br_pending_watch(br_pending_t *p, size_t i, br_part_t *part, size_t slot)
{
    assert(i < p->n_waiters);
    br_waiter_t *w = &p->waiters[i];
    w->pending = p;
    w->part = part;
    w->slot = slot;
    w->prev = NULL;
    w->next = part->waiters;
    if (part->waiters)
        part->waiters->prev = w;
    part->waiters = w;
}

bool br_pending_attached(const br_pending_t *p)
{
    for (size_t i = 0; i < p->n_waiters; i++)
        if (p->waiters[i].part)
            return true;
    return false;
}

void br_pending_finish(br_pending_t *p)
{
    br_pm_t *pm = p->pm;
    for (size_t i = 0; i < p->n_waiters; i++)
        br_waiter_unlink(&p->waiters[i]);
    if (p->timer_on) {
        ev_timer_stop(pm->loop, &p->timer);
        p->timer_on = false;
    }
    if (p->prev)
        p->prev->next = p->next;
    else
        pm->pending = p->next;
    if (p->next)
        p->next->prev = p->prev;
    p->prev = p->next = NULL;
    free(p->waiters);
    p->waiters = NULL;
    p->n_waiters = 0;
}

/* The callbacks may finish pending calls, which unlinks their waiters, so
 * the distinct pending calls are collected first. */
void br_part_wake(br_pm_t *pm, br_part_t *part, br_wake_t what)
{
    (void)pm;
    if (!part->waiters)
        return;
    br_pending_t *stack[16];
    br_pending_t **list = stack;
    size_t n = 0, cap = 16;
    for (br_waiter_t *w = part->waiters; w; w = w->next)
        n++;
    if (n > cap) {
        list = malloc(n * sizeof *list);
        if (!list)
            return; /* the deadline will still answer them */
        cap = n;
    }
    n = 0;
    for (br_waiter_t *w = part->waiters; w; w = w->next) {
        bool seen = false;
        for (size_t i = 0; i < n && !seen; i++)
            seen = list[i] == w->pending;
        if (!seen)
            list[n++] = w->pending;
    }
    /* waiters are pushed at the head: wake the oldest first, so calls
     * complete in the order they were made (two offset commits covered by
     * one HW move apply in append order) */
    for (size_t k = n; k-- > 0;) {
        br_pending_t *p = list[k];
        /* find p's waiter on this partition (still attached: only p
         * itself can detach its waiters) */
        for (size_t j = 0; j < p->n_waiters; j++) {
            if (p->waiters[j].part == part) {
                p->ops->wake(p, &p->waiters[j], what);
                break;
            }
        }
    }
    if (list != stack)
        free(list);
}

/* Detach every waiter of part and tell its pending call why. */
static void br_part_fail_waiters(br_part_t *part, st_err_t err)
{
    while (part->waiters) {
        br_waiter_t *w = part->waiters;
        br_pending_t *p = w->pending;
        br_waiter_unlink(w);
        p->ops->detach(p, w, err);
    }
}

/* ------------------------------------------------- high watermark, roles */

int64_t br_part_leo(const br_part_t *part)
{
    return part->log ? sl_log_end_offset(part->log) : 0;
}

st_err_t br_part_check_epoch(const br_part_t *part, int32_t current_leader_epoch)
{
    if (current_leader_epoch < 0)
        return ST_OK;
    if (current_leader_epoch < part->leader_epoch)
        return ST_ERR_FENCED_LEADER_EPOCH;
    if (current_leader_epoch > part->leader_epoch)
        return ST_ERR_UNKNOWN_LEADER_EPOCH;
    return ST_OK;
}

st_err_t br_pm_leader_part(br_pm_t *pm, const char *topic, int32_t partition, int32_t current_leader_epoch,
                           br_part_t **out)
{
    br_part_t *part = br_pm_find(pm, topic, partition);
    *out = NULL;
    if (!part)
        return ST_ERR_UNKNOWN_TOPIC_OR_PARTITION;
    if (part->role == BR_ROLE_OFFLINE)
        return ST_ERR_KAFKA_STORAGE_ERROR;
    st_err_t err = br_part_check_epoch(part, current_leader_epoch);
    if (err != ST_OK)
        return err;
    if (part->role != BR_ROLE_LEADER)
        return ST_ERR_NOT_LEADER_OR_FOLLOWER;
    *out = part;
    return ST_OK;
}

br_replica_t *br_part_replica(br_part_t *part, int32_t id)
{
    for (size_t i = 0; i < part->n_replicas; i++)
        if (part->replicas[i].id == id)
            return &part->replicas[i];
    return NULL;
}

/* Leader: HW = min LEO over the ISR (this broker's LEO is its log end).
 * An ISR member whose position is unknown holds the HW where it is. */
/* Lower *hw to replica id's log end; false when its position is unknown. */
static bool br_part_hw_member(br_pm_t *pm, br_part_t *part, int32_t id, int64_t *hw)
{
    if (id == pm->broker_id)
        return true;
    br_replica_t *r = br_part_replica(part, id);
    if (!r || r->leo < 0)
        return false;
    if (r->leo < *hw)
        *hw = r->leo;
    return true;
}

void br_part_update_hw(br_pm_t *pm, br_part_t *part)
{
    if (part->role != BR_ROLE_LEADER)
        return;
    /* KIP-497: over the maximal ISR, the current one plus any replica an
     * outstanding proposal adds, so an expansion that commits later never
     * names a member below the HW */
    int64_t hw = br_part_leo(part);
    for (size_t i = 0; i < part->n_isr; i++)
        if (!br_part_hw_member(pm, part, part->isr[i], &hw))
            return;
    for (size_t i = 0; i < part->n_isr_proposed; i++)
        if (br_part_replica(part, part->isr_proposed[i]) && /* a replica still */
            !br_part_hw_member(pm, part, part->isr_proposed[i], &hw))
            return;
    if (hw > part->hw) {
        part->hw = hw;
        br_part_wake(pm, part, BR_WAKE_HW);
    }
}

void br_part_appended(br_pm_t *pm, br_part_t *part, int64_t bytes)
{
    part->bytes_appended += bytes;
    br_part_wake(pm, part, BR_WAKE_LEO);
    br_part_update_hw(pm, part);
}

void br_part_replica_fetched(br_pm_t *pm, br_part_t *part, int32_t replica_id, int64_t fetch_offset)
{
    br_replica_t *r = br_part_replica(part, replica_id);
    if (!r || replica_id == pm->broker_id)
        return;
    int64_t leo = br_part_leo(part), now = st_wall_ms();
    if (fetch_offset < 0 || fetch_offset > leo)
        return;
    /* Kafka's lastCaughtUpTimeMs: now when it has everything; the time of
     * its previous fetch when it has what the leader had back then */
    if (fetch_offset >= leo)
        r->caught_up_ms = now;
    else if (r->last_fetch_ms >= 0 && fetch_offset >= r->fetch_leader_leo &&
             r->last_fetch_ms > r->caught_up_ms)
        r->caught_up_ms = r->last_fetch_ms;
    r->leo = fetch_offset;
    r->last_fetch_ms = now;
    r->fetch_leader_leo = leo;
    br_part_update_hw(pm, part);
    br_part_maybe_expand_isr(pm, part, r);
}

/* storage: one replica stops being served (its directory failed). */
static void br_part_go_offline(br_part_t *part)
{
    part->role = BR_ROLE_OFFLINE;
    part->fstate = BR_F_NONE; /* the fetcher skips it from now on */
    br_part_clear_isr_proposal(part);
    br_part_fail_waiters(part, ST_ERR_KAFKA_STORAGE_ERROR);
}

/* storage: an I/O error on part's log takes its whole log directory
 * offline (br_pm.h, "Kafka's KAFKA_STORAGE_ERROR semantics"). */
void br_part_set_offline(br_pm_t *pm, br_part_t *part, st_err_t err)
{
    if (part->role == BR_ROLE_OFFLINE)
        return;
    br_dir_t *d = &pm->dirs[part->dir_idx];
    bool first = !d->offline;
    d->offline = true;
    size_t n = 0;
    for (br_part_t *p = pm->parts; p; p = p->next)
        if (p->dir_idx == part->dir_idx && p->role != BR_ROLE_OFFLINE)
            n++;
    br_pm_tp_t *tps = calloc(n ? n : 1, sizeof *tps);
    size_t k = 0;
    if (first)
        st_log(ST_LOG_ERROR, BR_TAG,
               "log directory %s is offline: %s on %s-%d (%s); its %zu hosted partition(s) "
               "answer KAFKA_STORAGE_ERROR until the broker restarts",
               sl_logdir_path(d->ld), st_err_name(err), part->topic, part->partition,
               part->log ? sl_log_dir(part->log) : "?", n);
    else
        st_log(ST_LOG_ERROR, BR_TAG, "%s-%d: offline (log directory %s failed)", part->topic, part->partition,
               sl_logdir_path(d->ld));
    for (br_part_t *p = pm->parts; p; p = p->next) {
        if (p->dir_idx != part->dir_idx || p->role == BR_ROLE_OFFLINE)
            continue;
        if (tps && k < n)
            tps[k++] = (br_pm_tp_t){.topic = p->topic, .partition = p->partition};
        br_part_go_offline(p);
    }
    if (pm->dirfail_fn)
        pm->dirfail_fn(pm->dirfail_arg, sl_logdir_path(d->ld), err, tps, k);
    free(tps);
}

/* ---------------------------------------------------------- lifecycle */

/* Remember a replica directory found on disk (best effort: out of
 * memory forgets it, which only delays its clean-up). */
static void br_pm_on_disk_add(br_pm_t *pm, const char *topic, int32_t partition, size_t dir_idx)
{
    br_on_disk_t *n = realloc(pm->on_disk, (pm->n_on_disk + 1) * sizeof *n);
    if (!n)
        return;
    pm->on_disk = n;
    char *t = strdup(topic);
    if (!t)
        return;
    n[pm->n_on_disk].topic = t;
    n[pm->n_on_disk].partition = partition;
    n[pm->n_on_disk].dir_idx = dir_idx;
    pm->n_on_disk++;
}

static void br_pm_scan_cb(void *arg, const char *topic, int32_t partition)
{
    /* pm->n_on_disk doubles as the cursor; dir index set by the caller */
    br_pm_on_disk_add(arg, topic, partition, SIZE_MAX);
}

br_pm_t *br_pm_new(struct ev_loop *loop, int32_t broker_id, sl_logdir_t **log_dirs, size_t n_log_dirs,
                   const br_pm_limits_t *limits)
{
    if (!loop || !log_dirs || n_log_dirs == 0 || !limits)
        return NULL;
    br_pm_t *pm = calloc(1, sizeof *pm);
    if (!pm)
        return NULL;
    pm->loop = loop;
    pm->broker_id = broker_id;
    pm->limits = *limits;
    pm->dirs = calloc(n_log_dirs, sizeof *pm->dirs);
    if (!pm->dirs || st_hmap_init(&pm->map, BR_INITIAL_BUCKETS) != ST_OK)
        goto fail;
    pm->n_dirs = n_log_dirs;
    for (size_t i = 0; i < n_log_dirs; i++) {
        pm->dirs[i].ld = log_dirs[i];
        size_t before = pm->n_on_disk;
        st_err_t err = sl_logdir_scan(log_dirs[i], br_pm_scan_cb, pm);
        if (err != ST_OK)
            st_log(ST_LOG_WARN, BR_TAG, "scanning %s: %s", sl_logdir_path(log_dirs[i]), st_err_name(err));
        for (size_t j = before; j < pm->n_on_disk; j++)
            pm->on_disk[j].dir_idx = i;
        pm->dirs[i].n_parts = pm->n_on_disk - before;
    }
    st_buf_init(&pm->scratch);
    st_buf_init(&pm->scratch_wire);
    st_buf_init(&pm->scratch_frames);
    pm->last_checkpoint_ms = st_wall_ms();
    pm->last_pstate_ms = pm->last_checkpoint_ms;
    return pm;
fail:
    free(pm->dirs);
    st_hmap_fini(&pm->map);
    free(pm);
    return NULL;
}

static void br_part_free(br_part_t *part)
{
    sl_pstate_free(part->pstate);
    free(part->topic);
    free(part->replicas);
    free(part->isr);
    free(part->isr_proposed);
    free(part);
}

/* Which directory holds (or will hold) topic/partition; *existing says
 * whether it is already there. */
static size_t br_pm_pick_dir(br_pm_t *pm, const char *topic, int32_t partition, bool *existing)
{
    *existing = true;
    for (size_t i = 0; i < pm->n_dirs; i++)
        if (sl_logdir_get(pm->dirs[i].ld, topic, partition))
            return i;
    for (size_t i = 0; i < pm->n_on_disk; i++)
        if (pm->on_disk[i].partition == partition && strcmp(pm->on_disk[i].topic, topic) == 0)
            return pm->on_disk[i].dir_idx;
    *existing = false;
    size_t best = SIZE_MAX; /* storage: never place a new replica in an offline dir */
    for (size_t i = 0; i < pm->n_dirs; i++)
        if (!pm->dirs[i].offline && (best == SIZE_MAX || pm->dirs[i].n_parts < pm->dirs[best].n_parts))
            best = i;
    return best;
}

static void br_pm_forget_on_disk(br_pm_t *pm, const char *topic, int32_t partition)
{
    for (size_t i = 0; i < pm->n_on_disk; i++) {
        if (pm->on_disk[i].partition == partition && strcmp(pm->on_disk[i].topic, topic) == 0) {
            free(pm->on_disk[i].topic);
            pm->on_disk[i] = pm->on_disk[pm->n_on_disk - 1];
            pm->n_on_disk--;
            return;
        }
    }
}

static void br_pm_remember_on_disk(br_pm_t *pm, const char *topic, int32_t partition, size_t dir_idx)
{
    br_pm_forget_on_disk(pm, topic, partition);
    br_pm_on_disk_add(pm, topic, partition, dir_idx);
}

static st_err_t br_part_open(br_pm_t *pm, const char *topic, int32_t partition, const sl_log_config_t *cfg,
                             br_part_t **out)
{
    st_err_t err = ST_OK;
    br_part_t *part = calloc(1, sizeof *part);
    if (!part || !(part->topic = strdup(topic)) || !(part->pstate = sl_pstate_new())) {
        err = ST_ERR_NOMEM;
        goto fail;
    }
    bool existing;
    size_t di = br_pm_pick_dir(pm, topic, partition, &existing);
    if (di == SIZE_MAX || pm->dirs[di].offline) { /* storage: failed log dir */
        err = ST_ERR_KAFKA_STORAGE_ERROR;
        st_log(ST_LOG_ERROR, BR_TAG, "%s-%d: cannot host: %s", topic, partition,
               di == SIZE_MAX ? "every log directory is offline" : "its log directory is offline");
        goto fail;
    }
    sl_logdir_t *ld = pm->dirs[di].ld;
    err = sl_logdir_open_log(ld, topic, partition, cfg, &part->log);
    if (err != ST_OK) {
        st_log(ST_LOG_ERROR, BR_TAG, "%s-%d: cannot open log in %s: %s", topic, partition, sl_logdir_path(ld),
               st_err_name(err));
        goto fail;
    }
    if (!existing)
        pm->dirs[di].n_parts++;
    /* producer state: latest snapshot, then the batches after it (a
     * failure is logged; producers then see sequence errors, not silence) */
    (void)sl_pstate_load(part->pstate, part->log);
    (void)sl_logdir_topic_id(ld, topic, partition, part->topic_id, sizeof part->topic_id);
    part->partition = partition;
    part->dir_idx = di;
    part->cfg = *cfg;
    part->role = BR_ROLE_NONE;
    part->leader = -1;
    part->leader_epoch = -1;
    int64_t start = sl_log_start_offset(part->log), leo = sl_log_end_offset(part->log);
    int64_t hw = sl_logdir_get_hw(ld, topic, partition);
    if (hw < start)
        hw = start;
    if (hw > leo)
        hw = leo;
    part->hw = hw;
    br_pm_insert(pm, part);
    *out = part;
    return ST_OK;
fail:
    if (part)
        br_part_free(part);
    return err;
}

static st_err_t br_part_set_members(br_pm_t *pm, br_part_t *part, const br_part_state_t *st)
{
    size_t nr = st->replicas ? st->n_replicas : 0, ni = st->isr ? st->n_isr : 0;
    br_replica_t *reps = calloc(nr ? nr : 1, sizeof *reps);
    int32_t *isr = calloc(ni ? ni : 1, sizeof *isr);
    if (!reps || !isr) {
        free(reps);
        free(isr);
        return ST_ERR_NOMEM;
    }
    int64_t now = st_wall_ms();
    for (size_t i = 0; i < nr; i++) {
        br_replica_t *old = br_part_replica(part, st->replicas[i]);
        reps[i].id = st->replicas[i];
        reps[i].leo = old ? old->leo : -1;
        reps[i].last_fetch_ms = old ? old->last_fetch_ms : -1;
        reps[i].fetch_leader_leo = old ? old->fetch_leader_leo : -1;
        reps[i].caught_up_ms = old ? old->caught_up_ms : now;
    }
    bool isr_changed = ni != part->n_isr || st->leader_epoch != part->leader_epoch;
    for (size_t i = 0; i < ni; i++) {
        isr[i] = st->isr[i];
        if (!isr_changed && part->isr[i] != isr[i])
            isr_changed = true;
    }
    /* a proposal naming a broker that is no longer a replica (moved away
     * by a reassignment) will never be applied: drop it, it would hold
     * the HW (KIP-497) */
    for (size_t i = 0; !isr_changed && i < part->n_isr_proposed; i++) {
        bool still = false;
        for (size_t j = 0; j < nr && !still; j++)
            still = st->replicas[j] == part->isr_proposed[i];
        isr_changed = !still;
    }
    if (isr_changed)
        br_part_clear_isr_proposal(part);
    if (st->leader == pm->broker_id && part->leader == pm->broker_id &&
        st->leader_epoch == part->leader_epoch) {
        if (ni < part->n_isr)
            pm->m_isr_shrinks++;
        else if (ni > part->n_isr)
            pm->m_isr_expands++;
    }
    part->min_insync = st->min_insync_replicas > 0 ? st->min_insync_replicas : pm->limits.min_insync_replicas;
    part->ts_diff_max_ms = st->timestamp_difference_max_ms > 0
                               ? st->timestamp_difference_max_ms
                               : pm->limits.log_message_timestamp_difference_max_ms;
    free(part->replicas);
    free(part->isr);
    part->replicas = reps;
    part->n_replicas = nr;
    part->isr = isr;
    part->n_isr = ni;
    return ST_OK;
}

st_err_t br_pm_apply_state(br_pm_t *pm, const char *topic, int32_t partition, const br_part_state_t *state,
                           const sl_log_config_t *topic_config)
{
    if (!pm || !topic || !*topic || partition < 0 || !state || !topic_config)
        return ST_ERR_INVALID_ARG;
    st_err_t err;
    br_part_t *part = br_pm_find(pm, topic, partition);
    const char *tid = state->topic_id && *state->topic_id ? state->topic_id : NULL;
    if (tid && !part) {
        /* open it now (a replica left on disk included) to see whose it is */
        if ((err = br_part_open(pm, topic, partition, topic_config, &part)) != ST_OK)
            return err;
    }
    if (tid && part && part->topic_id[0] && strcmp(part->topic_id, tid) != 0) {
        st_log(ST_LOG_WARN, BR_TAG,
               "%s-%d: the replica here is of an earlier topic of that name (topic id %s, now %s): "
               "deleting it, starting empty",
               topic, partition, part->topic_id, tid);
        br_pm_stop(pm, topic, partition, true);
        part = NULL;
    }
    if (part && state->leader_epoch < part->leader_epoch) {
        st_log(ST_LOG_INFO, BR_TAG, "%s-%d: ignoring stale state (leader epoch %d < %d)", topic, partition,
               state->leader_epoch, part->leader_epoch);
        return ST_OK;
    }
    if (!part) {
        err = br_part_open(pm, topic, partition, topic_config, &part);
        if (err != ST_OK)
            return err;
    } else if (memcmp(&part->cfg, topic_config, sizeof part->cfg) != 0) {
        part->cfg = *topic_config;
        sl_log_set_config(part->log, topic_config);
    }
    if (tid && !part->topic_id[0]) {
        err = sl_logdir_set_topic_id(pm->dirs[part->dir_idx].ld, topic, partition, tid);
        if (err == ST_OK)
            snprintf(part->topic_id, sizeof part->topic_id, "%s", tid);
        else
            st_log(ST_LOG_WARN, BR_TAG, "%s-%d: cannot record topic id %s: %s", topic, partition, tid,
                   st_err_name(err));
    }
    err = br_part_set_members(pm, part, state);
    if (err != ST_OK)
        return err;
    if (part->role == BR_ROLE_OFFLINE)
        return ST_OK; /* stays offline until the broker restarts */

    br_role_t old_role = part->role;
    bool new_epoch = state->leader_epoch != part->leader_epoch || state->leader != part->leader;
    part->leader = state->leader;
    part->leader_epoch = state->leader_epoch;
    if (state->leader == pm->broker_id) {
        if (old_role != BR_ROLE_LEADER || new_epoch) {
            int64_t now = st_wall_ms();
            for (size_t i = 0; i < part->n_replicas; i++) {
                part->replicas[i].leo = -1;
                part->replicas[i].last_fetch_ms = -1;
                part->replicas[i].fetch_leader_leo = -1;
                part->replicas[i].caught_up_ms = now; /* a fair start, as in Kafka */
            }
            int64_t leo = sl_log_end_offset(part->log);
            if (state->leader_epoch > sl_log_latest_epoch(part->log)) {
                err = sl_log_assign_epoch(part->log, state->leader_epoch, leo);
                if (err != ST_OK) {
                    br_part_set_offline(pm, part, err);
                    return err;
                }
            }
            st_log(ST_LOG_INFO, BR_TAG, "%s-%d: leader at epoch %d, log end %lld, hw %lld", topic, partition,
                   state->leader_epoch, (long long)leo, (long long)part->hw);
        }
        part->role = BR_ROLE_LEADER;
        part->fstate = BR_F_NONE;
        int64_t start = sl_log_start_offset(part->log), leo = sl_log_end_offset(part->log);
        if (part->hw < start)
            part->hw = start;
        if (part->hw > leo)
            part->hw = leo;
        br_part_update_hw(pm, part);
    } else {
        part->role = BR_ROLE_FOLLOWER;
        if (old_role == BR_ROLE_LEADER)
            br_part_fail_waiters(part, ST_ERR_NOT_LEADER_OR_FOLLOWER);
        if (old_role != BR_ROLE_FOLLOWER || new_epoch)
            st_log(ST_LOG_INFO, BR_TAG, "%s-%d: follower at epoch %d (leader %d)", topic, partition,
                   state->leader_epoch, state->leader);
        br_part_become_follower(pm, part, old_role != BR_ROLE_FOLLOWER || new_epoch);
    }
    if (old_role != part->role || new_epoch) /* role listeners (br_pm_local.h) */
        br_pm_local_role_changed(pm, topic, partition, old_role, part->role, part->leader_epoch);
    return ST_OK;
}

void br_pm_stop(br_pm_t *pm, const char *topic, int32_t partition, bool delete_log)
{
    br_part_t *part = pm ? br_pm_find(pm, topic, partition) : NULL;
    if (!part)
        return;
    br_pm_local_role_changed(pm, topic, partition, part->role, BR_ROLE_NONE, part->leader_epoch);
    br_pm_unlink(pm, part);
    br_part_fail_waiters(part,
                         delete_log ? ST_ERR_UNKNOWN_TOPIC_OR_PARTITION : ST_ERR_NOT_LEADER_OR_FOLLOWER);
    br_dir_t *d = &pm->dirs[part->dir_idx];
    if (pm->closing_fn && part->log) /* storage: the cleaner lets go of the log */
        pm->closing_fn(pm->closing_arg, part->log);
    if (delete_log) {
        st_err_t err = sl_logdir_delete_log(d->ld, topic, partition);
        if (err != ST_OK)
            st_log(ST_LOG_ERROR, BR_TAG, "%s-%d: deleting log: %s", topic, partition, st_err_name(err));
        if (d->n_parts > 0)
            d->n_parts--;
        br_pm_forget_on_disk(pm, topic, partition);
    } else {
        (void)sl_logdir_set_hw(d->ld, topic, partition, part->hw);
        if (part->role != BR_ROLE_OFFLINE)
            br_part_snapshot_pstate(part);
        sl_logdir_close_log(d->ld, topic, partition);
        br_pm_remember_on_disk(pm, topic, partition, part->dir_idx);
    }
    st_log(ST_LOG_INFO, BR_TAG, "%s-%d: no longer hosted%s", topic, partition,
           delete_log ? " (log deleted)" : "");
    br_part_free(part);
}

/* Index in pm->on_disk of an unhosted replica's directory, or SIZE_MAX. */
static size_t br_pm_unhosted_on_disk(br_pm_t *pm, const char *topic, int32_t partition)
{
    if (br_pm_find(pm, topic, partition))
        return SIZE_MAX;
    for (size_t i = 0; i < pm->n_on_disk; i++)
        if (pm->on_disk[i].partition == partition && strcmp(pm->on_disk[i].topic, topic) == 0)
            return pm->on_disk[i].dir_idx < pm->n_dirs ? i : SIZE_MAX;
    return SIZE_MAX;
}

bool br_pm_delete_stray(br_pm_t *pm, const char *topic, int32_t partition)
{
    size_t i = br_pm_unhosted_on_disk(pm, topic, partition);
    if (i == SIZE_MAX)
        return false;
    br_dir_t *d = &pm->dirs[pm->on_disk[i].dir_idx];
    st_err_t err = sl_logdir_delete_log(d->ld, topic, partition);
    if (err != ST_OK)
        st_log(ST_LOG_ERROR, BR_TAG, "%s-%d: deleting stray replica in %s: %s", topic, partition,
               sl_logdir_path(d->ld), st_err_name(err));
    else
        st_log(ST_LOG_INFO, BR_TAG,
               "%s-%d: deleted the stray replica in %s (reassigned away while "
               "this broker was down)",
               topic, partition, sl_logdir_path(d->ld));
    if (d->n_parts > 0)
        d->n_parts--;
    br_pm_forget_on_disk(pm, topic, partition);
    return true;
}

size_t br_pm_set_aside_strays(br_pm_t *pm, bool (*listed)(void *arg, const char *topic), void *arg)
{
    size_t n = 0;
    for (size_t i = 0; i < pm->n_on_disk;) {
        const char *topic = pm->on_disk[i].topic;
        int32_t partition = pm->on_disk[i].partition;
        if (listed(arg, topic) || br_pm_unhosted_on_disk(pm, topic, partition) != i) {
            i++;
            continue;
        }
        br_dir_t *d = &pm->dirs[pm->on_disk[i].dir_idx];
        char to[PATH_MAX + 32];
        st_err_t err = sl_logdir_set_aside(d->ld, topic, partition, to, sizeof to);
        if (err != ST_OK) {
            st_log(ST_LOG_ERROR, BR_TAG, "%s-%d: setting aside the stray replica in %s: %s", topic, partition,
                   sl_logdir_path(d->ld), st_err_name(err));
            i++;
            continue;
        }
        st_log(ST_LOG_WARN, BR_TAG,
               "%s-%d: topic unknown to this cluster: replica set aside as %s "
               "(delete it once sure it is not needed)",
               topic, partition, to);
        if (d->n_parts > 0)
            d->n_parts--;
        br_pm_forget_on_disk(pm, topic, partition); /* moves the last entry to i */
        n++;
    }
    return n;
}

void br_pm_resign_all(br_pm_t *pm)
{
    for (br_part_t *part = pm->parts; part; part = part->next) {
        if (part->role != BR_ROLE_LEADER)
            continue;
        part->role = BR_ROLE_NONE;
        br_part_clear_isr_proposal(part);
        br_part_fail_waiters(part, ST_ERR_NOT_LEADER_OR_FOLLOWER);
        br_pm_local_role_changed(pm, part->topic, part->partition, BR_ROLE_LEADER, BR_ROLE_NONE,
                                 part->leader_epoch);
    }
}

void br_pm_set_config(br_pm_t *pm, const char *topic, const sl_log_config_t *cfg)
{
    if (!pm || !topic || !cfg)
        return;
    for (br_part_t *part = pm->parts; part; part = part->next) {
        if (strcmp(part->topic, topic) != 0)
            continue;
        part->cfg = *cfg;
        sl_log_set_config(part->log, cfg);
    }
}

static void br_pm_checkpoint(br_pm_t *pm)
{
    for (br_part_t *part = pm->parts; part; part = part->next)
        if (!pm->dirs[part->dir_idx].offline)
            (void)sl_logdir_set_hw(pm->dirs[part->dir_idx].ld, part->topic, part->partition, part->hw);
    for (size_t i = 0; i < pm->n_dirs; i++) {
        if (pm->dirs[i].offline) /* storage: nothing more is written there */
            continue;
        st_err_t err = sl_logdir_checkpoint_hw(pm->dirs[i].ld);
        if (err == ST_OK)
            err = sl_logdir_checkpoint_recovery(pm->dirs[i].ld);
        if (err != ST_OK)
            st_log(ST_LOG_ERROR, BR_TAG, "checkpoint in %s: %s", sl_logdir_path(pm->dirs[i].ld),
                   st_err_name(err));
    }
}

/* ------------------------------------------------------------ racks (KIP-392) */

void br_pm_set_broker_rack(br_pm_t *pm, int32_t broker_id, const char *rack)
{
    if (!pm || broker_id < 0)
        return;
    size_t i = 0;
    while (i < pm->n_racks && pm->racks[i].id != broker_id)
        i++;
    if (!rack || !rack[0]) { /* forget it */
        if (i < pm->n_racks) {
            free(pm->racks[i].rack);
            pm->racks[i] = pm->racks[--pm->n_racks];
        }
        return;
    }
    if (i < pm->n_racks && strcmp(pm->racks[i].rack, rack) == 0)
        return;
    char *copy = strdup(rack);
    if (!copy)
        return;
    if (i == pm->n_racks) {
        struct br_rack *r = realloc(pm->racks, (pm->n_racks + 1) * sizeof *r);
        if (!r) {
            free(copy);
            return;
        }
        pm->racks = r;
        pm->racks[pm->n_racks++] = (struct br_rack){.id = broker_id, .rack = NULL};
    }
    free(pm->racks[i].rack);
    pm->racks[i].rack = copy;
}

const char *br_pm_broker_rack(const br_pm_t *pm, int32_t id)
{
    for (size_t i = 0; i < pm->n_racks; i++)
        if (pm->racks[i].id == id)
            return pm->racks[i].rack;
    return NULL;
}

int32_t br_part_preferred_read_replica(const br_pm_t *pm, const br_part_t *part, const char *rack_id)
{
    if (!rack_id || !rack_id[0])
        return -1;
    const char *own = br_pm_broker_rack(pm, pm->broker_id);
    if (own && strcmp(own, rack_id) == 0)
        return -1;
    for (size_t i = 0; i < part->n_isr; i++) {
        int32_t id = part->isr[i];
        const char *r = id == pm->broker_id ? NULL : br_pm_broker_rack(pm, id);
        if (r && strcmp(r, rack_id) == 0)
            return id;
    }
    return -1;
}

void br_pm_free(br_pm_t *pm, bool clean)
{
    if (!pm)
        return;
    pm->closing = true;
    br_pm_free_sources(pm); /* stop fetching before the logs close */
    while (pm->pending)
        pm->pending->ops->expire(pm->pending);
    br_pm_checkpoint(pm);
    while (pm->parts) {
        br_part_t *part = pm->parts;
        br_pm_unlink(pm, part);
        if (clean && part->role != BR_ROLE_OFFLINE)
            br_part_snapshot_pstate(part);
        if (pm->closing_fn && part->log) /* storage: the cleaner lets go of the log */
            pm->closing_fn(pm->closing_arg, part->log);
        sl_logdir_close_log(pm->dirs[part->dir_idx].ld, part->topic, part->partition);
        br_part_free(part);
    }
    if (pm->closing_fn) /* storage: the manager itself goes away */
        pm->closing_fn(pm->closing_arg, NULL);
    if (!clean)
        st_log(ST_LOG_INFO, BR_TAG, "partition manager closed (unclean)");
    for (size_t i = 0; i < pm->n_racks; i++)
        free(pm->racks[i].rack);
    free(pm->racks);
    for (size_t i = 0; i < pm->n_on_disk; i++)
        free(pm->on_disk[i].topic);
    free(pm->on_disk);
    st_buf_free(&pm->scratch);
    st_buf_free(&pm->scratch_wire);
    st_buf_free(&pm->scratch_frames);
    st_hmap_fini(&pm->map);
    free(pm->dirs);
    free(pm);
}

void br_part_snapshot_pstate(br_part_t *part)
{
    if (!part->log || !part->pstate)
        return;
    if (sl_pstate_snapshot_offset(part->pstate) == sl_log_end_offset(part->log))
        return; /* nothing appended since */
    st_err_t err = sl_pstate_snapshot(part->pstate, part->log);
    if (err != ST_OK)
        st_log(ST_LOG_WARN, BR_TAG, "%s-%d: producer-state snapshot failed: %s", part->topic, part->partition,
               st_err_name(err));
}

void br_pm_tick(br_pm_t *pm, int64_t now_ms)
{
    bool snap = now_ms - pm->last_pstate_ms >= SL_PSTATE_SNAPSHOT_INTERVAL_MS || now_ms < pm->last_pstate_ms;
    if (snap)
        pm->last_pstate_ms = now_ms;
    for (br_part_t *part = pm->parts; part; part = part->next) {
        if (part->role == BR_ROLE_OFFLINE || !part->log)
            continue;
        int deleted = 0;
        st_err_t err = sl_log_enforce_retention(part->log, now_ms, part->hw, &deleted);
        if (err == ST_ERR_IO || err == ST_ERR_NO_SPACE) {
            br_part_set_offline(pm, part, err);
            continue;
        }
        if (deleted > 0) {
            int64_t start = sl_log_start_offset(part->log);
            size_t gone = sl_pstate_truncate_head(part->pstate, start);
            st_log(ST_LOG_INFO, BR_TAG,
                   "%s-%d: retention deleted %d segment(s), log start %lld, %zu producer(s) forgotten",
                   part->topic, part->partition, deleted, (long long)start, gone);
        }
        err = sl_log_maybe_flush(part->log, now_ms);
        if (err == ST_ERR_IO || err == ST_ERR_NO_SPACE) {
            br_part_set_offline(pm, part, err);
            continue;
        }
        br_part_maybe_shrink_isr(pm, part, now_ms);
        if (snap)
            br_part_snapshot_pstate(part);
    }
    if (now_ms - pm->last_checkpoint_ms >= BR_CHECKPOINT_INTERVAL_MS || now_ms < pm->last_checkpoint_ms) {
        pm->last_checkpoint_ms = now_ms;
        br_pm_checkpoint(pm);
    }
}

/* ------------------------------------------------------ storage services */

static void br_part_ref(br_pm_t *pm, br_part_t *part, br_pm_log_ref_t *out)
{
    out->topic = part->topic;
    out->partition = part->partition;
    out->log = part->log;
    out->log_dir = sl_logdir_path(pm->dirs[part->dir_idx].ld);
    out->role = part->role;
    out->hw = part->hw;
    out->leader = part->leader;
    out->n_replicas = part->n_replicas;
    out->n_isr = part->n_isr;
    out->min_insync = part->min_insync;
    out->bytes_in = part->m_bytes_in;
    out->records_in = part->m_records_in;
    out->bytes_out = part->m_bytes_out;
    out->records_out = part->m_records_out;
}

void br_pm_get_stats(const br_pm_t *pm, br_pm_stats_t *out)
{
    memset(out, 0, sizeof *out);
    if (!pm)
        return;
    out->isr_shrinks = pm->m_isr_shrinks;
    out->isr_expands = pm->m_isr_expands;
    for (const br_pending_t *p = pm->pending; p; p = p->next) {
        if (br_pending_is_produce(p))
            out->parked_produce++;
        else if (br_pending_is_fetch(p))
            out->parked_fetch++;
    }
    for (size_t i = 0; i < pm->n_dirs; i++)
        out->offline_dirs += pm->dirs[i].offline;
}

void br_pm_foreach_log(br_pm_t *pm, br_pm_log_fn fn, void *arg)
{
    if (!pm || !fn)
        return;
    for (br_part_t *part = pm->parts; part; part = part->next) {
        if (!part->log)
            continue;
        br_pm_log_ref_t ref;
        br_part_ref(pm, part, &ref);
        fn(arg, &ref);
    }
}

st_err_t br_pm_get_log(br_pm_t *pm, const char *topic, int32_t partition, br_pm_log_ref_t *out)
{
    br_part_t *part = pm ? br_pm_find(pm, topic, partition) : NULL;
    if (!part || !part->log || !out)
        return ST_ERR_NOT_FOUND;
    br_part_ref(pm, part, out);
    return ST_OK;
}

void br_pm_set_log_closing_fn(br_pm_t *pm, br_pm_log_closing_fn fn, void *arg)
{
    if (!pm)
        return;
    pm->closing_fn = fn;
    pm->closing_arg = fn ? arg : NULL;
}

void br_pm_set_logdir_failure_fn(br_pm_t *pm, br_pm_logdir_failure_fn fn, void *arg)
{
    if (!pm)
        return;
    pm->dirfail_fn = fn;
    pm->dirfail_arg = fn ? arg : NULL;
}

void br_pm_storage_error(br_pm_t *pm, const char *topic, int32_t partition, st_err_t err)
{
    br_part_t *part = pm ? br_pm_find(pm, topic, partition) : NULL;
    if (part)
        br_part_set_offline(pm, part, err);
}

bool br_pm_logdir_offline(const br_pm_t *pm, size_t i)
{
    return pm && i < pm->n_dirs && pm->dirs[i].offline;
}

/* ------------------------------------------------------------ ListOffsets */

void br_pm_handle_list_offsets(br_pm_t *pm, br_call_t *call, const Strata__ListOffsetsRequest *req)
{
    if (!req) {
        br_call_reply_error(call, ST_ERR_INVALID_REQUEST, "ListOffsets request without a body");
        return;
    }
    size_t nt = req->topics ? req->n_topics : 0, np = 0;
    for (size_t i = 0; i < nt; i++)
        if (req->topics[i] && req->topics[i]->partitions)
            np += req->topics[i]->n_partitions;
    Strata__ListOffsetsTopicResult *tr = calloc(nt ? nt : 1, sizeof *tr);
    Strata__ListOffsetsTopicResult **trp = calloc(nt ? nt : 1, sizeof *trp);
    Strata__ListOffsetsPartitionResult *pr = calloc(np ? np : 1, sizeof *pr);
    Strata__ListOffsetsPartitionResult **prp = calloc(np ? np : 1, sizeof *prp);
    if (!tr || !trp || !pr || !prp) {
        br_call_reply_error(call, ST_ERR_UNKNOWN_SERVER_ERROR, "out of memory");
        goto out;
    }
    size_t k = 0;
    for (size_t i = 0; i < nt; i++) {
        const Strata__ListOffsetsTopic *t = req->topics[i];
        strata__list_offsets_topic_result__init(&tr[i]);
        trp[i] = &tr[i];
        if (!t)
            continue;
        tr[i].name = t->name ? t->name : (char *)"";
        tr[i].partitions = &prp[k];
        size_t tn = t->partitions ? t->n_partitions : 0;
        for (size_t j = 0; j < tn; j++) {
            const Strata__ListOffsetsPartition *lp = t->partitions[j];
            Strata__ListOffsetsPartitionResult *r = &pr[k];
            strata__list_offsets_partition_result__init(r);
            prp[k++] = r;
            tr[i].n_partitions++;
            r->timestamp = -1;
            r->offset = -1;
            r->leader_epoch = -1;
            if (!lp) {
                r->error = (Strata__ErrorCode)ST_ERR_INVALID_REQUEST;
                continue;
            }
            r->partition = lp->partition;
            br_part_t *part = NULL;
            st_err_t err = br_pm_leader_part(pm, t->name, lp->partition, lp->current_leader_epoch, &part);
            if (err != ST_OK)
                ;
            else if (lp->timestamp == -1) {
                r->offset = part->hw;
            } else if (lp->timestamp == -2) {
                r->offset = sl_log_start_offset(part->log);
            } else if (lp->timestamp < 0) {
                err = ST_ERR_INVALID_REQUEST;
            } else {
                int64_t off = -1, ts = -1;
                st_err_t e = sl_log_offset_for_timestamp(part->log, lp->timestamp, &off, &ts);
                if (e == ST_OK && off < part->hw) {
                    r->offset = off;
                    r->timestamp = ts;
                } else if (e != ST_OK && e != ST_ERR_NOT_FOUND) {
                    err = st_err_to_wire(e);
                }
            }
            if (err != ST_OK) {
                r->error = (Strata__ErrorCode)err;
                r->offset = -1;
                r->timestamp = -1;
            } else {
                r->leader_epoch = part->leader_epoch;
            }
        }
    }
    Strata__ListOffsetsResponse lor = STRATA__LIST_OFFSETS_RESPONSE__INIT;
    lor.version = 1;
    lor.n_topics = nt;
    lor.topics = trp;
    Strata__Response resp = STRATA__RESPONSE__INIT;
    resp.body_case = STRATA__RESPONSE__BODY_LIST_OFFSETS;
    resp.list_offsets = &lor;
    br_call_reply(call, &resp);
out:
    free(tr);
    free(trp);
    free(pr);
    free(prp);
}
