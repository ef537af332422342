/*
 * br_group: the group coordinator (see br_group.h).
 *
 * Design notes.
 *
 * Groups live in one hash map (group id -> br_group), each tagged with
 * its offsets partition; a partition is NONE (not led here), LOADING
 * (led, a deferred load is queued: requests get
 * COORDINATOR_LOAD_IN_PROGRESS) or LOADED. Unloading frees the groups of
 * that partition and bumps its incarnation, so an append that completes
 * later recognises it is stale and answers NOT_COORDINATOR.
 *
 * The group state machine (Kafka's), one transition function,
 * br_group_transition(), asserting the allowed predecessor states:
 *
 *   Empty --join--> PreparingRebalance --all joined / rebalance timeout-->
 *   CompletingRebalance --leader's SyncGroup persisted--> Stable
 *   Stable / CompletingRebalance --join of a new member, leader rejoin,
 *       changed protocols, leave, session expiry--> PreparingRebalance
 *   PreparingRebalance --no member left when the join completes--> Empty
 *   any --DeleteGroups / offsets expiry of an empty group--> Dead
 *
 * A load sets the initial state directly: Stable when the stored group
 * has members, Empty otherwise (as Kafka does).
 *
 * Invariants:
 *   1. A member has at most one parked JoinGroup and one parked
 *      SyncGroup call; join calls are parked only in PreparingRebalance,
 *      sync calls only in CompletingRebalance.
 *   2. Every parked call is answered exactly once: on completion of its
 *      phase, on removal of its member, on unload, or at br_groups_free.
 *   3. Only groups of LOADED partitions are in the map.
 *   4. An in-flight append (br_gop) never points at a group: it names it
 *      by id, partition incarnation and generation.
 *
 * Member timers: each member has a session timer (session.timeout.ms)
 * restarted by heartbeats, commits and the end of each rebalance phase;
 * it does not expire a member whose JoinGroup or SyncGroup is parked
 * (Kafka keeps those alive). A group in PreparingRebalance has a join
 * timer: group.initial.rebalance.delay.ms after an Empty group's first
 * join (extended by each new member, bounded by the rebalance timeout),
 * then the rebalance timeout, after which members that did not rejoin are
 * removed and the join completes. max.poll.interval.ms is the client's
 * rebalance_timeout_ms. Core loop only.
 */
#include "group/br_group.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>
#include <time.h>
#include <uuid/uuid.h>

#include "group/br_group_log.h"
#include "partition/br_pm_local.h"
#include "common/st_log.h"

#define BR_GTAG "group"
#define BR_GROUPS_INITIAL_BUCKETS 64

/* ------------------------------------------------------------ types */

typedef struct br_group br_group_t;

/* One supported protocol (assignor) of a member and its metadata. */
typedef struct br_gproto {
    char *name;
    uint8_t *data;
    size_t len;
} br_gproto_t;

typedef struct br_gmember {
    br_group_t *group;
    char *id;
    char *instance_id;  /* NULL: dynamic member */
    char *client_id;
    char *client_host;
    int32_t session_timeout_ms;
    int32_t rebalance_timeout_ms;
    br_gproto_t *protos;
    size_t n_protos;
    uint8_t *assignment;
    size_t assignment_len;
    br_call_t *join_call; /* parked JoinGroup (PreparingRebalance) */
    br_call_t *sync_call; /* parked SyncGroup (CompletingRebalance) */
    ev_timer session;
} br_gmember_t;

/* A member id handed out with MEMBER_ID_REQUIRED, not joined yet. */
typedef struct br_gpending {
    br_group_t *group;
    char *id;
    ev_timer timer;
} br_gpending_t;

typedef struct br_goffset {
    char *topic;
    int32_t partition;
    int64_t offset;
    int32_t leader_epoch;
    char *metadata;
    int64_t commit_ts;
    int64_t expire_ts; /* -1: by offsets.retention once the group is empty */
} br_goffset_t;

struct br_group {
    br_groups_t *gc;
    char *id;
    int32_t opart;
    br_group_t *hnext;
    br_gstate_t state;
    int64_t state_ts;        /* wall ms of the last transition */
    int32_t generation;
    char *protocol_type;     /* NULL: never had members (simple commits) */
    char *protocol;
    char *leader;
    br_gmember_t **members;
    size_t n_members;
    br_gpending_t **pending;
    size_t n_pending;
    br_goffset_t *offsets;
    size_t n_offsets;
    ev_timer join_timer;
    bool join_timer_on;
    int64_t initial_until;   /* initial delay ends (0: none) */
    int64_t initial_limit;   /* the delay may not be extended past this */
    int64_t rebalance_deadline;
    int32_t sync_writing_gen;/* generation whose assignment is being written, -1 */
    bool has_meta;           /* a group record exists (load) */
};

typedef enum br_opstate {
    BR_OP_NONE = 0, /* not led here */
    BR_OP_LOADING,
    BR_OP_LOADED,
} br_opstate_t;

typedef struct br_opart {
    br_groups_t *gc;
    int32_t partition;
    br_opstate_t state;
    uint32_t incarnation;
    ev_timer load;
    bool load_on;
} br_opart_t;

typedef struct br_gop br_gop_t;

struct br_groups {
    struct ev_loop *loop;
    br_pm_t *pm;
    int32_t broker_id;
    br_group_config_t cfg;
    br_group_meta_t meta;
    br_opart_t *parts;
    br_group_t **buckets;
    size_t n_buckets;
    size_t n_groups;
    br_gop_t *ops;           /* in-flight appends */
    int64_t last_retention_ms;
};

/* ------------------------------------------------------------ utils */

static int64_t br_groups_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *br_gstrdup(const char *s)
{
    return strdup(s ? s : "");
}

static bool br_gstreq(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

static const char *br_gnz(const char *s)
{
    return s && *s ? s : NULL;
}

void br_group_config_default(br_group_config_t *c)
{
    c->offsets_topic_num_partitions = 50;
    c->offsets_topic_replication_factor = 3;
    c->group_initial_rebalance_delay_ms = 3000;
    c->group_min_session_timeout_ms = 6000;
    c->group_max_session_timeout_ms = 1800000;
    c->offsets_retention_ms = 10080LL * 60 * 1000;
    c->offsets_retention_check_interval_ms = 600000;
    c->offsets_commit_timeout_ms = 5000;
    c->offset_metadata_max_bytes = 4096;
}

const char *br_gstate_name(br_gstate_t s)
{
    switch (s) {
    case BR_GS_EMPTY: return "Empty";
    case BR_GS_PREPARING_REBALANCE: return "PreparingRebalance";
    case BR_GS_COMPLETING_REBALANCE: return "CompletingRebalance";
    case BR_GS_STABLE: return "Stable";
    case BR_GS_DEAD: return "Dead";
    }
    return "Unknown";
}

/* Next code point of UTF-8 text (malformed input: U+FFFD, one byte). */
static uint32_t br_utf8_next(const unsigned char **pp)
{
    const unsigned char *p = *pp;
    uint32_t c = p[0];
    int n = 0;
    uint32_t min = 0;
    if (c < 0x80) {
        *pp = p + 1;
        return c;
    } else if ((c & 0xe0) == 0xc0) {
        n = 1, c &= 0x1f, min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
        n = 2, c &= 0x0f, min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
        n = 3, c &= 0x07, min = 0x10000;
    } else {
        *pp = p + 1;
        return 0xfffd;
    }
    for (int i = 1; i <= n; i++) {
        if ((p[i] & 0xc0) != 0x80) {
            *pp = p + 1;
            return 0xfffd;
        }
        c = (c << 6) | (p[i] & 0x3f);
    }
    *pp = p + 1 + n;
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 0xfffd;
    return c;
}

int32_t br_group_partition_for(const char *group_id, int32_t n)
{
    if (n <= 0)
        return 0;
    uint32_t h = 0; /* Java int arithmetic: wraps mod 2^32 */
    const unsigned char *p = (const unsigned char *)(group_id ? group_id : "");
    while (*p) {
        uint32_t c = br_utf8_next(&p);
        if (c >= 0x10000) { /* surrogate pair, as String holds it */
            c -= 0x10000;
            h = 31 * h + (0xd800 + (c >> 10));
            h = 31 * h + (0xdc00 + (c & 0x3ff));
        } else {
            h = 31 * h + c;
        }
    }
    int32_t s = (int32_t)h;
    int32_t a = s == INT32_MIN ? 0 : (s < 0 ? -s : s); /* Kafka's Utils.abs */
    return a % n;
}

/* ------------------------------------------------------ group map */

static uint64_t br_groups_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static br_group_t *br_groups_find(const br_groups_t *gc, const char *id)
{
    if (!id)
        return NULL;
    for (br_group_t *g = gc->buckets[br_groups_hash(id) % gc->n_buckets]; g; g = g->hnext)
        if (strcmp(g->id, id) == 0)
            return g;
    return NULL;
}

static void br_groups_grow(br_groups_t *gc)
{
    size_t nb = gc->n_buckets * 2;
    br_group_t **b = calloc(nb, sizeof *b);
    if (!b)
        return; /* longer chains, still correct */
    for (size_t i = 0; i < gc->n_buckets; i++) {
        while (gc->buckets[i]) {
            br_group_t *g = gc->buckets[i];
            gc->buckets[i] = g->hnext;
            size_t k = br_groups_hash(g->id) % nb;
            g->hnext = b[k];
            b[k] = g;
        }
    }
    free(gc->buckets);
    gc->buckets = b;
    gc->n_buckets = nb;
}

static void br_group_join_timer_cb(struct ev_loop *loop, ev_timer *t, int revents);

static br_group_t *br_group_new(br_groups_t *gc, const char *id, int32_t opart)
{
    br_group_t *g = calloc(1, sizeof *g);
    if (!g || !(g->id = strdup(id))) {
        free(g);
        return NULL;
    }
    g->gc = gc;
    g->opart = opart;
    g->state = BR_GS_EMPTY;
    g->state_ts = br_groups_now();
    g->sync_writing_gen = -1;
    ev_timer_init(&g->join_timer, br_group_join_timer_cb, 1.0, 0.0);
    g->join_timer.data = g;
    if (gc->n_groups >= gc->n_buckets)
        br_groups_grow(gc);
    size_t k = br_groups_hash(id) % gc->n_buckets;
    g->hnext = gc->buckets[k];
    gc->buckets[k] = g;
    gc->n_groups++;
    return g;
}

/* ------------------------------------------------------ replies */

static void br_groups_reply(br_call_t *call, Strata__Response *resp)
{
    if (call)
        br_call_reply(call, resp);
}

static void br_groups_reply_join(br_call_t *call, st_err_t err, const char *member_id)
{
    Strata__JoinGroupResponse b = STRATA__JOIN_GROUP_RESPONSE__INIT;
    b.version = 1;
    b.error = (Strata__ErrorCode)err;
    b.generation_id = -1;
    b.member_id = (char *)(member_id ? member_id : "");
    Strata__Response resp = STRATA__RESPONSE__INIT;
    resp.body_case = STRATA__RESPONSE__BODY_JOIN_GROUP;
    resp.join_group = &b;
    br_groups_reply(call, &resp);
}

static void br_groups_reply_sync(br_call_t *call, st_err_t err, const br_group_t *g,
                             const uint8_t *assignment, size_t len)
{
    Strata__SyncGroupResponse b = STRATA__SYNC_GROUP_RESPONSE__INIT;
    b.version = 1;
    b.error = (Strata__ErrorCode)err;
    if (err == ST_OK && g) {
        b.protocol_type = (char *)(g->protocol_type ? g->protocol_type : "");
        b.protocol_name = (char *)(g->protocol ? g->protocol : "");
        b.assignment.data = (uint8_t *)assignment;
        b.assignment.len = assignment ? len : 0;
    }
    Strata__Response resp = STRATA__RESPONSE__INIT;
    resp.body_case = STRATA__RESPONSE__BODY_SYNC_GROUP;
    resp.sync_group = &b;
    br_groups_reply(call, &resp);
}

static void br_groups_reply_heartbeat(br_call_t *call, st_err_t err)
{
    Strata__HeartbeatResponse b = STRATA__HEARTBEAT_RESPONSE__INIT;
    b.version = 1;
    b.error = (Strata__ErrorCode)err;
    Strata__Response resp = STRATA__RESPONSE__INIT;
    resp.body_case = STRATA__RESPONSE__BODY_HEARTBEAT;
    resp.heartbeat = &b;
    br_groups_reply(call, &resp);
}

/* ------------------------------------------------------ members */

static void br_gproto_free(br_gproto_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(p[i].name);
        free(p[i].data);
    }
    free(p);
}

static st_err_t br_gproto_copy(Strata__JoinGroupProtocol *const *src, size_t n,
                               br_gproto_t **out, size_t *n_out)
{
    br_gproto_t *p = calloc(n ? n : 1, sizeof *p);
    if (!p)
        return ST_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        const Strata__JoinGroupProtocol *s = src[i];
        p[i].name = br_gstrdup(s ? s->name : "");
        p[i].len = s ? s->metadata.len : 0;
        p[i].data = malloc(p[i].len ? p[i].len : 1);
        if (!p[i].name || !p[i].data) {
            br_gproto_free(p, i + 1);
            return ST_ERR_NOMEM;
        }
        if (p[i].len)
            memcpy(p[i].data, s->metadata.data, p[i].len);
    }
    *out = p;
    *n_out = n;
    return ST_OK;
}

static bool br_gproto_same(const br_gmember_t *m, Strata__JoinGroupProtocol *const *src, size_t n)
{
    if (m->n_protos != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        const Strata__JoinGroupProtocol *s = src[i];
        if (!s || !br_gstreq(m->protos[i].name, s->name) || m->protos[i].len != s->metadata.len ||
            (s->metadata.len && memcmp(m->protos[i].data, s->metadata.data, s->metadata.len)))
            return false;
    }
    return true;
}

static const br_gproto_t *br_gmember_proto(const br_gmember_t *m, const char *name)
{
    for (size_t i = 0; i < m->n_protos; i++)
        if (br_gstreq(m->protos[i].name, name))
            return &m->protos[i];
    return NULL;
}

static br_gmember_t *br_group_member(const br_group_t *g, const char *id)
{
    for (size_t i = 0; id && i < g->n_members; i++)
        if (strcmp(g->members[i]->id, id) == 0)
            return g->members[i];
    return NULL;
}

static br_gmember_t *br_group_instance(const br_group_t *g, const char *instance)
{
    for (size_t i = 0; instance && i < g->n_members; i++)
        if (g->members[i]->instance_id && strcmp(g->members[i]->instance_id, instance) == 0)
            return g->members[i];
    return NULL;
}

static void br_gmember_session_cb(struct ev_loop *loop, ev_timer *t, int revents);

/* (Re)start the session timer of m. */
static void br_gmember_touch(br_gmember_t *m)
{
    struct ev_loop *loop = m->group->gc->loop;
    ev_timer_stop(loop, &m->session);
    ev_timer_set(&m->session, (double)m->session_timeout_ms / 1000.0, 0.0);
    ev_timer_start(loop, &m->session);
}

static void br_gmember_free(br_gmember_t *m)
{
    ev_timer_stop(m->group->gc->loop, &m->session);
    free(m->id);
    free(m->instance_id);
    free(m->client_id);
    free(m->client_host);
    br_gproto_free(m->protos, m->n_protos);
    free(m->assignment);
    free(m);
}

static br_gmember_t *br_gmember_new(br_group_t *g, const char *id, const char *instance,
                                    const char *client_id, const char *client_host,
                                    int32_t session_ms, int32_t rebalance_ms)
{
    br_gmember_t *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->group = g;
    ev_timer_init(&m->session, br_gmember_session_cb, 1.0, 0.0);
    m->session.data = m;
    m->id = br_gstrdup(id);
    m->instance_id = instance ? strdup(instance) : NULL;
    m->client_id = br_gstrdup(client_id);
    m->client_host = br_gstrdup(client_host);
    if (!m->id || (instance && !m->instance_id) || !m->client_id || !m->client_host) {
        br_gmember_free(m);
        return NULL;
    }
    m->session_timeout_ms = session_ms;
    m->rebalance_timeout_ms = rebalance_ms;
    return m;
}

static st_err_t br_group_add_member(br_group_t *g, br_gmember_t *m)
{
    br_gmember_t **n = realloc(g->members, (g->n_members + 1) * sizeof *n);
    if (!n)
        return ST_ERR_NOMEM;
    g->members = n;
    g->members[g->n_members++] = m;
    return ST_OK;
}

/* Take m out of g (answering its parked calls with err) and free it. The
 * caller then updates the group (br_group_members_changed). */
static void br_group_drop_member(br_group_t *g, br_gmember_t *m, st_err_t err)
{
    for (size_t i = 0; i < g->n_members; i++) {
        if (g->members[i] == m) {
            memmove(&g->members[i], &g->members[i + 1],
                    (g->n_members - i - 1) * sizeof *g->members);
            g->n_members--;
            break;
        }
    }
    if (m->join_call)
        br_groups_reply_join(m->join_call, err, m->id);
    if (m->sync_call)
        br_groups_reply_sync(m->sync_call, err, NULL, NULL, 0);
    if (g->leader && strcmp(g->leader, m->id) == 0) {
        free(g->leader);
        g->leader = NULL;
    }
    br_gmember_free(m);
}

static void br_gpending_free(br_groups_t *gc, br_gpending_t *p)
{
    ev_timer_stop(gc->loop, &p->timer);
    free(p->id);
    free(p);
}

static ssize_t br_group_pending_idx(const br_group_t *g, const char *id)
{
    for (size_t i = 0; id && i < g->n_pending; i++)
        if (strcmp(g->pending[i]->id, id) == 0)
            return (ssize_t)i;
    return -1;
}

static void br_group_drop_pending(br_group_t *g, size_t i)
{
    br_gpending_t *p = g->pending[i];
    g->pending[i] = g->pending[--g->n_pending];
    br_gpending_free(g->gc, p);
}

/* ------------------------------------------------------ offsets */

static br_goffset_t *br_group_offset(br_group_t *g, const char *topic, int32_t partition)
{
    for (size_t i = 0; i < g->n_offsets; i++)
        if (g->offsets[i].partition == partition && strcmp(g->offsets[i].topic, topic) == 0)
            return &g->offsets[i];
    return NULL;
}

static void br_goffset_fini(br_goffset_t *o)
{
    free(o->topic);
    free(o->metadata);
}

static void br_group_offset_remove(br_group_t *g, br_goffset_t *o)
{
    br_goffset_fini(o);
    *o = g->offsets[--g->n_offsets];
}

/* Insert or replace (topic, partition); takes nothing from v. */
static st_err_t br_group_offset_put(br_group_t *g, const br_goffset_t *v)
{
    br_goffset_t *o = br_group_offset(g, v->topic, v->partition);
    char *md = br_gstrdup(v->metadata);
    if (!md)
        return ST_ERR_NOMEM;
    if (!o) {
        char *t = strdup(v->topic);
        br_goffset_t *n = t ? realloc(g->offsets, (g->n_offsets + 1) * sizeof *n) : NULL;
        if (!n) {
            free(t);
            free(md);
            return ST_ERR_NOMEM;
        }
        g->offsets = n;
        o = &g->offsets[g->n_offsets++];
        o->topic = t;
        o->partition = v->partition;
    } else {
        free(o->metadata);
    }
    o->metadata = md;
    o->offset = v->offset;
    o->leader_epoch = v->leader_epoch;
    o->commit_ts = v->commit_ts;
    o->expire_ts = v->expire_ts;
    return ST_OK;
}

/* Free a group that is out of the map or about to leave it: every parked
 * call is answered with err. */
static void br_group_free(br_group_t *g, st_err_t err)
{
    br_groups_t *gc = g->gc;
    ev_timer_stop(gc->loop, &g->join_timer);
    while (g->n_members)
        br_group_drop_member(g, g->members[g->n_members - 1], err);
    while (g->n_pending)
        br_group_drop_pending(g, g->n_pending - 1);
    for (size_t i = 0; i < g->n_offsets; i++)
        br_goffset_fini(&g->offsets[i]);
    free(g->offsets);
    free(g->members);
    free(g->pending);
    free(g->id);
    free(g->protocol_type);
    free(g->protocol);
    free(g->leader);
    free(g);
}

static void br_groups_remove_group(br_groups_t *gc, br_group_t *g, st_err_t err)
{
    br_group_t **pp = &gc->buckets[br_groups_hash(g->id) % gc->n_buckets];
    while (*pp && *pp != g)
        pp = &(*pp)->hnext;
    if (*pp) {
        *pp = g->hnext;
        gc->n_groups--;
    }
    br_group_free(g, err);
}

/* ------------------------------------------------------ state machine */

/* The one place a group changes state (after load). */
static void br_group_transition(br_group_t *g, br_gstate_t to)
{
    br_gstate_t from = g->state;
    switch (to) {
    case BR_GS_PREPARING_REBALANCE:
        assert(from == BR_GS_EMPTY || from == BR_GS_STABLE || from == BR_GS_COMPLETING_REBALANCE);
        break;
    case BR_GS_COMPLETING_REBALANCE:
        assert(from == BR_GS_PREPARING_REBALANCE);
        break;
    case BR_GS_STABLE:
        assert(from == BR_GS_COMPLETING_REBALANCE);
        break;
    case BR_GS_EMPTY:
        assert(from == BR_GS_PREPARING_REBALANCE);
        break;
    case BR_GS_DEAD:
        break; /* from anywhere */
    }
    (void)from;
    g->state = to;
    g->state_ts = br_groups_now();
    if (to != BR_GS_PREPARING_REBALANCE && g->join_timer_on) {
        ev_timer_stop(g->gc->loop, &g->join_timer);
        g->join_timer_on = false;
    }
    st_log(ST_LOG_DEBUG, BR_GTAG, "group %s: %s -> %s (generation %d)", g->id,
           br_gstate_name(from), br_gstate_name(to), g->generation);
}

/* ------------------------------------------------------ writes */

typedef enum br_gop_kind {
    BR_GOP_FIRE = 0,   /* nobody waits (empty group metadata, expiry) */
    BR_GOP_COMMIT,     /* OffsetCommit */
    BR_GOP_SYNC,       /* the leader's assignment */
    BR_GOP_STATIC,     /* a static member's new member id */
    BR_GOP_DELETE,     /* DeleteGroups tombstones */
} br_gop_kind_t;

typedef struct br_gcommit_item {
    size_t topic;       /* index into topics */
    st_err_t err;
    bool write;         /* valid: part of the batch */
    br_goffset_t v;     /* v.topic points into topics (not owned) */
} br_gcommit_item_t;

typedef struct br_gcommit {
    char **topics;
    size_t n_topics;
    br_gcommit_item_t *items;
    size_t n_items;
} br_gcommit_t;

typedef struct br_gdelete {
    br_call_t *call;
    Strata__DeleteGroupResult *res;
    Strata__DeleteGroupResult **res_ptrs;
    char **ids;
    size_t n;
    size_t outstanding;
} br_gdelete_t;

/* One append in flight. Names its group (invariant 4); gc NULL once the
 * coordinator is gone (the completion then only frees it). */
struct br_gop {
    br_groups_t *gc;
    br_gop_t *prev, *next;
    br_gop_kind_t kind;
    char *group_id;
    int32_t opart;
    uint32_t incarnation;
    int32_t generation;
    br_call_t *call;
    br_gcommit_t *commit;
    char **a_ids;            /* SYNC: assignment per member */
    uint8_t **a_data;
    size_t *a_len;
    size_t n_a;
    char *old_id, *new_id;   /* STATIC */
    br_gdelete_t *del;       /* DELETE */
    size_t del_idx;
};

static void br_gcommit_free(br_gcommit_t *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n_topics; i++)
        free(c->topics[i]);
    for (size_t i = 0; i < c->n_items; i++)
        free(c->items[i].v.metadata);
    free(c->topics);
    free(c->items);
    free(c);
}

static void br_gdelete_reply(br_gdelete_t *d)
{
    Strata__DeleteGroupsResponse b = STRATA__DELETE_GROUPS_RESPONSE__INIT;
    b.version = 1;
    b.n_results = d->n;
    b.results = d->res_ptrs;
    Strata__Response resp = STRATA__RESPONSE__INIT;
    resp.body_case = STRATA__RESPONSE__BODY_DELETE_GROUPS;
    resp.delete_groups = &b;
    br_groups_reply(d->call, &resp);
    for (size_t i = 0; i < d->n; i++)
        free(d->ids[i]);
    free(d->ids);
    free(d->res);
    free(d->res_ptrs);
    free(d);
}

static void br_gop_free(br_gop_t *op)
{
    free(op->group_id);
    br_gcommit_free(op->commit);
    for (size_t i = 0; i < op->n_a; i++) {
        free(op->a_ids[i]);
        free(op->a_data[i]);
    }
    free(op->a_ids);
    free(op->a_data);
    free(op->a_len);
    free(op->old_id);
    free(op->new_id);
    free(op);
}

/* Kafka's mapping of append errors for group writes. */
static st_err_t br_groups_map_append_err(st_err_t e)
{
    switch (e) {
    case ST_OK:
        return ST_OK;
    case ST_ERR_UNKNOWN_TOPIC_OR_PARTITION:
    case ST_ERR_NOT_ENOUGH_REPLICAS:
    case ST_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
    case ST_ERR_REQUEST_TIMED_OUT:
        return ST_ERR_COORDINATOR_NOT_AVAILABLE;
    case ST_ERR_NOT_LEADER_OR_FOLLOWER:
    case ST_ERR_KAFKA_STORAGE_ERROR:
        return ST_ERR_NOT_COORDINATOR;
    default:
        return ST_ERR_UNKNOWN_SERVER_ERROR;
    }
}

/* The group op names, if it is still the same incarnation (else NULL). */
static br_group_t *br_gop_group(const br_gop_t *op)
{
    br_groups_t *gc = op->gc;
    const br_opart_t *p = &gc->parts[op->opart];
    if (p->state != BR_OP_LOADED || p->incarnation != op->incarnation)
        return NULL;
    return br_groups_find(gc, op->group_id);
}

static void br_gop_commit_done(br_gop_t *op, st_err_t err);
static void br_gop_sync_done(br_gop_t *op, st_err_t err);
static void br_gop_static_done(br_gop_t *op, st_err_t err);

static void br_gop_done(void *arg, st_err_t err, int64_t base_offset)
{
    (void)base_offset;
    br_gop_t *op = arg;
    br_groups_t *gc = op->gc;
    if (gc) {
        if (op->prev)
            op->prev->next = op->next;
        else
            gc->ops = op->next;
        if (op->next)
            op->next->prev = op->prev;
        st_err_t e = br_groups_map_append_err(err);
        if (err != ST_OK)
            st_log(ST_LOG_WARN, BR_GTAG, "group %s: writing to %s-%d failed: %s", op->group_id,
                   BR_OFFSETS_TOPIC, op->opart, st_err_name(err));
        switch (op->kind) {
        case BR_GOP_FIRE:
            break;
        case BR_GOP_COMMIT:
            br_gop_commit_done(op, e);
            break;
        case BR_GOP_SYNC:
            br_gop_sync_done(op, e);
            break;
        case BR_GOP_STATIC:
            br_gop_static_done(op, e);
            break;
        case BR_GOP_DELETE:
            op->del->res[op->del_idx].error = (Strata__ErrorCode)e;
            if (--op->del->outstanding == 0)
                br_gdelete_reply(op->del);
            break;
        }
    }
    br_gop_free(op);
}

/* Finish b into a frame and append it to the group's offsets partition;
 * op's completion runs exactly once (maybe before this returns). Takes
 * op. */
static void br_groups_write(br_groups_t *gc, st_batch_builder_t *b, br_gop_t *op)
{
    st_buf_t frame;
    st_buf_init(&frame);
    op->gc = gc;
    op->incarnation = gc->parts[op->opart].incarnation;
    op->prev = NULL;
    op->next = gc->ops;
    if (gc->ops)
        gc->ops->prev = op;
    gc->ops = op;
    st_err_t err = st_batch_builder_finish(b, &frame);
    if (err == ST_OK)
        err = br_pm_local_append(gc->pm, BR_OFFSETS_TOPIC, op->opart, frame.data, frame.len,
                                 gc->cfg.offsets_commit_timeout_ms, br_gop_done, op);
    if (err != ST_OK)
        br_gop_done(op, err, -1);
    st_buf_free(&frame);
}

static br_gop_t *br_gop_new(br_gop_kind_t kind, const br_group_t *g, br_call_t *call)
{
    br_gop_t *op = calloc(1, sizeof *op);
    if (!op || !(op->group_id = strdup(g->id))) {
        free(op);
        return NULL;
    }
    op->kind = kind;
    op->opart = g->opart;
    op->generation = g->generation;
    op->call = call;
    return op;
}

/* Add g's metadata record to b; assignments from sync when given. */
static st_err_t br_group_add_meta(st_batch_builder_t *b, const br_group_t *g, const br_gop_t *sync)
{
    Strata__GroupMemberValue *mv = calloc(g->n_members ? g->n_members : 1, sizeof *mv);
    Strata__GroupMemberValue **mp = calloc(g->n_members ? g->n_members : 1, sizeof *mp);
    st_err_t err = ST_ERR_NOMEM;
    if (!mv || !mp)
        goto out;
    for (size_t i = 0; i < g->n_members; i++) {
        const br_gmember_t *m = g->members[i];
        strata__group_member_value__init(&mv[i]);
        mp[i] = &mv[i];
        mv[i].member_id = m->id;
        mv[i].group_instance_id = (char *)(m->instance_id ? m->instance_id : "");
        mv[i].client_id = m->client_id;
        mv[i].client_host = m->client_host;
        mv[i].rebalance_timeout_ms = m->rebalance_timeout_ms;
        mv[i].session_timeout_ms = m->session_timeout_ms;
        const br_gproto_t *p = br_gmember_proto(m, g->protocol);
        if (p) {
            mv[i].subscription.data = p->data;
            mv[i].subscription.len = p->len;
        }
        mv[i].assignment.data = m->assignment;
        mv[i].assignment.len = m->assignment_len;
        if (sync) {
            mv[i].assignment.data = NULL;
            mv[i].assignment.len = 0;
            for (size_t k = 0; k < sync->n_a; k++) {
                if (strcmp(sync->a_ids[k], m->id) == 0) {
                    mv[i].assignment.data = sync->a_data[k];
                    mv[i].assignment.len = sync->a_len[k];
                }
            }
        }
    }
    Strata__GroupValue gv = STRATA__GROUP_VALUE__INIT;
    gv.protocol_type = (char *)(g->protocol_type ? g->protocol_type : "");
    gv.generation = g->generation;
    gv.protocol = (char *)(g->protocol ? g->protocol : "");
    gv.leader = (char *)(g->leader ? g->leader : "");
    gv.state_timestamp = g->state_ts;
    gv.n_members = g->n_members;
    gv.members = mp;
    err = br_group_log_add_group(b, br_groups_now(), g->id, &gv);
out:
    free(mv);
    free(mp);
    return err;
}

/* Write g's metadata; nobody waits for it (an empty group's new
 * generation, as Kafka does). */
static void br_group_store_fire(br_group_t *g)
{
    st_batch_builder_t b;
    st_batch_builder_init(&b, ST_CODEC_NONE);
    br_gop_t *op = br_gop_new(BR_GOP_FIRE, g, NULL);
    if (op && br_group_add_meta(&b, g, NULL) == ST_OK)
        br_groups_write(g->gc, &b, op);
    else if (op)
        br_gop_free(op);
    st_batch_builder_fini(&b);
}

/* ------------------------------------------------------ rebalance */

static void br_group_reply_join_current(br_group_t *g, br_gmember_t *m, br_call_t *call,
                                        bool skip_assignment)
{
    bool leader = g->leader && strcmp(g->leader, m->id) == 0;
    size_t n = leader ? g->n_members : 0;
    Strata__JoinGroupMember *jm = calloc(n ? n : 1, sizeof *jm);
    Strata__JoinGroupMember **jp = calloc(n ? n : 1, sizeof *jp);
    if (!jm || !jp) {
        free(jm);
        free(jp);
        br_groups_reply_join(call, ST_ERR_UNKNOWN_SERVER_ERROR, m->id);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const br_gmember_t *o = g->members[i];
        strata__join_group_member__init(&jm[i]);
        jp[i] = &jm[i];
        jm[i].member_id = o->id;
        jm[i].group_instance_id = (char *)(o->instance_id ? o->instance_id : "");
        const br_gproto_t *p = br_gmember_proto(o, g->protocol);
        if (p) {
            jm[i].metadata.data = p->data;
            jm[i].metadata.len = p->len;
        }
    }
    Strata__JoinGroupResponse b = STRATA__JOIN_GROUP_RESPONSE__INIT;
    b.version = 1;
    b.error = STRATA__ERROR_CODE__NONE;
    b.generation_id = g->generation;
    b.protocol_type = (char *)(g->protocol_type ? g->protocol_type : "");
    b.protocol_name = (char *)(g->protocol ? g->protocol : "");
    b.leader = (char *)(g->leader ? g->leader : "");
    b.member_id = m->id;
    b.n_members = n;
    b.members = jp;
    b.skip_assignment = skip_assignment && leader;
    Strata__Response resp = STRATA__RESPONSE__INIT;
    resp.body_case = STRATA__RESPONSE__BODY_JOIN_GROUP;
    resp.join_group = &b;
    br_groups_reply(call, &resp);
    free(jm);
    free(jp);
}

static bool br_group_all_support(const br_group_t *g, const char *name)
{
    for (size_t i = 0; i < g->n_members; i++)
        if (!br_gmember_proto(g->members[i], name))
            return false;
    return true;
}

/* Kafka's vote: each member votes for its first protocol that every
 * member supports; most votes wins, ties go to the first member's order. */
static const char *br_group_select_protocol(const br_group_t *g)
{
    const br_gmember_t *first = g->members[0];
    const char *best = first->n_protos ? first->protos[0].name : "";
    size_t best_votes = 0;
    for (size_t c = 0; c < first->n_protos; c++) {
        const char *name = first->protos[c].name;
        if (!br_group_all_support(g, name))
            continue;
        size_t votes = 0;
        for (size_t i = 0; i < g->n_members; i++) {
            const br_gmember_t *m = g->members[i];
            for (size_t k = 0; k < m->n_protos; k++) {
                if (br_group_all_support(g, m->protos[k].name)) {
                    votes += strcmp(m->protos[k].name, name) == 0;
                    break;
                }
            }
        }
        if (votes > best_votes) {
            best = name;
            best_votes = votes;
        }
    }
    return best;
}

/* Can a member with this protocol type and these protocols join g? */
static bool br_group_supports(const br_group_t *g, const char *ptype,
                              Strata__JoinGroupProtocol *const *protos, size_t n,
                              const br_gmember_t *self)
{
    if (!ptype || !*ptype || n == 0)
        return false;
    size_t others = g->n_members - (self ? 1 : 0);
    if (others == 0)
        return true;
    if (!br_gstreq(g->protocol_type, ptype))
        return false;
    for (size_t k = 0; k < n; k++) {
        if (!protos[k])
            continue;
        bool all = true;
        for (size_t i = 0; i < g->n_members && all; i++)
            if (g->members[i] != self)
                all = br_gmember_proto(g->members[i], protos[k]->name) != NULL;
        if (all)
            return true;
    }
    return false;
}

static int64_t br_group_max_rebalance_ms(const br_group_t *g)
{
    int64_t max = 0;
    for (size_t i = 0; i < g->n_members; i++)
        if (g->members[i]->rebalance_timeout_ms > max)
            max = g->members[i]->rebalance_timeout_ms;
    return max;
}

static void br_group_arm_join_timer(br_group_t *g, int64_t now)
{
    int64_t at = g->initial_until > now ? g->initial_until : g->rebalance_deadline;
    double delay = at > now ? (double)(at - now) / 1000.0 : 0.0;
    struct ev_loop *loop = g->gc->loop;
    ev_timer_stop(loop, &g->join_timer);
    ev_timer_set(&g->join_timer, delay, 0.0);
    ev_timer_start(loop, &g->join_timer);
    g->join_timer_on = true;
}

/* Forget the assignments of a generation that will not be used; answer
 * parked syncs with err. */
static void br_group_reset_assignments(br_group_t *g, st_err_t err)
{
    for (size_t i = 0; i < g->n_members; i++) {
        br_gmember_t *m = g->members[i];
        free(m->assignment);
        m->assignment = NULL;
        m->assignment_len = 0;
        if (m->sync_call) {
            br_groups_reply_sync(m->sync_call, err, NULL, NULL, 0);
            m->sync_call = NULL;
        }
    }
    g->sync_writing_gen = -1;
}

static void br_group_prepare_rebalance(br_group_t *g, const char *reason)
{
    if (g->state == BR_GS_PREPARING_REBALANCE || g->state == BR_GS_DEAD)
        return;
    if (g->state == BR_GS_COMPLETING_REBALANCE)
        br_group_reset_assignments(g, ST_ERR_REBALANCE_IN_PROGRESS);
    bool from_empty = g->state == BR_GS_EMPTY;
    br_group_transition(g, BR_GS_PREPARING_REBALANCE);
    int64_t now = br_groups_now(), max_rt = br_group_max_rebalance_ms(g);
    g->rebalance_deadline = now + max_rt;
    if (from_empty) {
        int64_t d = g->gc->cfg.group_initial_rebalance_delay_ms;
        g->initial_until = now + (d < max_rt ? d : max_rt);
        g->initial_limit = now + max_rt;
    } else {
        g->initial_until = 0;
    }
    st_log(ST_LOG_INFO, BR_GTAG, "group %s: preparing to rebalance (generation %d): %s", g->id,
           g->generation, reason);
    br_group_arm_join_timer(g, now);
}

static void br_group_complete_join(br_group_t *g)
{
    g->initial_until = 0;
    g->generation++;
    free(g->protocol);
    g->protocol = NULL;
    if (g->n_members == 0) {
        free(g->leader);
        g->leader = NULL;
        br_group_transition(g, BR_GS_EMPTY);
        br_group_store_fire(g);
        return;
    }
    g->protocol = br_gstrdup(br_group_select_protocol(g));
    if (!g->leader || !br_group_member(g, g->leader)) {
        free(g->leader);
        g->leader = strdup(g->members[0]->id);
    }
    br_group_transition(g, BR_GS_COMPLETING_REBALANCE);
    st_log(ST_LOG_INFO, BR_GTAG, "group %s: generation %d with %zu member(s), protocol %s",
           g->id, g->generation, g->n_members, g->protocol ? g->protocol : "?");
    for (size_t i = 0; i < g->n_members; i++) {
        br_gmember_t *m = g->members[i];
        if (m->join_call) {
            br_call_t *c = m->join_call;
            m->join_call = NULL;
            br_group_reply_join_current(g, m, c, false);
        }
        br_gmember_touch(m);
    }
}

/* PreparingRebalance: complete the join when everyone is in, or when the
 * rebalance timeout has passed (dropping who did not rejoin). */
static void br_group_try_complete_join(br_group_t *g)
{
    if (g->state != BR_GS_PREPARING_REBALANCE)
        return;
    int64_t now = br_groups_now();
    if (g->initial_until && now < g->initial_until) {
        br_group_arm_join_timer(g, now);
        return;
    }
    bool all = g->n_pending == 0;
    for (size_t i = 0; i < g->n_members && all; i++)
        all = g->members[i]->join_call != NULL;
    if (!all) {
        if (now < g->rebalance_deadline) {
            br_group_arm_join_timer(g, now);
            return;
        }
        for (size_t i = g->n_members; i-- > 0;) {
            br_gmember_t *m = g->members[i];
            if (!m->join_call) {
                st_log(ST_LOG_INFO, BR_GTAG, "group %s: member %s did not rejoin in time",
                       g->id, m->id);
                br_group_drop_member(g, m, ST_ERR_UNKNOWN_MEMBER_ID);
            }
        }
        while (g->n_pending)
            br_group_drop_pending(g, g->n_pending - 1);
    }
    br_group_complete_join(g);
}

static void br_group_join_timer_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)loop;
    (void)revents;
    br_group_t *g = t->data;
    g->join_timer_on = false;
    br_group_try_complete_join(g);
}

/* Membership changed (leave, expiry): rebalance or finish a join. */
static void br_group_members_changed(br_group_t *g, const char *reason)
{
    switch (g->state) {
    case BR_GS_STABLE:
    case BR_GS_COMPLETING_REBALANCE:
        br_group_prepare_rebalance(g, reason);
        br_group_try_complete_join(g);
        break;
    case BR_GS_PREPARING_REBALANCE:
        br_group_try_complete_join(g);
        break;
    case BR_GS_EMPTY:
    case BR_GS_DEAD:
        break;
    }
}

static void br_gmember_session_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)loop;
    (void)revents;
    br_gmember_t *m = t->data;
    br_group_t *g = m->group;
    if (m->join_call || m->sync_call) { /* parked calls keep it alive */
        br_gmember_touch(m);
        return;
    }
    st_log(ST_LOG_INFO, BR_GTAG, "group %s: member %s session expired", g->id, m->id);
    br_group_drop_member(g, m, ST_ERR_UNKNOWN_MEMBER_ID);
    br_group_members_changed(g, "a member's session expired");
}

static void br_gpending_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)loop;
    (void)revents;
    br_gpending_t *p = t->data;
    br_group_t *g = p->group;
    ssize_t i = br_group_pending_idx(g, p->id);
    if (i >= 0)
        br_group_drop_pending(g, (size_t)i);
    br_group_try_complete_join(g);
}

/* ------------------------------------------------------ request checks */

/* Is group_id served here right now? Sets *opart. */
static st_err_t br_groups_check(const br_groups_t *gc, const char *group_id, int32_t *opart)
{
    if (!group_id || !*group_id)
        return ST_ERR_INVALID_GROUP_ID;
    int32_t p = br_group_partition_for(group_id, gc->cfg.offsets_topic_num_partitions);
    if (opart)
        *opart = p;
    switch (gc->parts[p].state) {
    case BR_OP_LOADED:
        return ST_OK;
    case BR_OP_LOADING:
        return ST_ERR_COORDINATOR_LOAD_IN_PROGRESS;
    case BR_OP_NONE:
        break;
    }
    return ST_ERR_NOT_COORDINATOR;
}

/* Drop a group made for a request that then failed, if it holds nothing. */
static void br_groups_maybe_forget(br_groups_t *gc, br_group_t *g)
{
    if (g && g->state == BR_GS_EMPTY && g->n_members == 0 && g->n_pending == 0 &&
        g->n_offsets == 0 && !g->has_meta && g->generation == 0)
        br_groups_remove_group(gc, g, ST_ERR_NOT_COORDINATOR);
}

/* ------------------------------------------------------ JoinGroup */

static st_err_t br_gmember_set_protocols(br_gmember_t *m, const Strata__JoinGroupRequest *r)
{
    br_gproto_t *p;
    size_t n;
    st_err_t err = br_gproto_copy(r->protocols, r->n_protocols, &p, &n);
    if (err != ST_OK)
        return err;
    br_gproto_free(m->protos, m->n_protos);
    m->protos = p;
    m->n_protos = n;
    m->session_timeout_ms = r->session_timeout_ms;
    m->rebalance_timeout_ms = r->rebalance_timeout_ms > 0 ? r->rebalance_timeout_ms
                                                          : r->session_timeout_ms;
    return ST_OK;
}

/* Add a new member (its first real join) and rebalance. */
static void br_group_join_new(br_group_t *g, br_call_t *call, const Strata__Request *env,
                              const Strata__JoinGroupRequest *r, const char *member_id)
{
    const char *instance = br_gnz(r->group_instance_id);
    br_gmember_t *m = br_gmember_new(g, member_id, instance, env->client_id,
                                     call ? br_call_peer(call) : "", r->session_timeout_ms,
                                     r->rebalance_timeout_ms);
    if (!m || br_gmember_set_protocols(m, r) != ST_OK || br_group_add_member(g, m) != ST_OK) {
        if (m)
            br_gmember_free(m);
        br_groups_reply_join(call, ST_ERR_UNKNOWN_SERVER_ERROR, member_id);
        return;
    }
    if (g->n_members == 1 || !g->protocol_type) {
        free(g->protocol_type);
        g->protocol_type = br_gstrdup(r->protocol_type);
    }
    ssize_t pi = br_group_pending_idx(g, member_id);
    if (pi >= 0)
        br_group_drop_pending(g, (size_t)pi);
    m->join_call = call;
    br_gmember_touch(m);
    if (g->state == BR_GS_PREPARING_REBALANCE && g->initial_until) {
        /* a new member during the initial delay extends it */
        int64_t now = br_groups_now(), d = g->gc->cfg.group_initial_rebalance_delay_ms;
        int64_t until = now + d < g->initial_limit ? now + d : g->initial_limit;
        if (until > g->initial_until)
            g->initial_until = until;
    }
    br_group_prepare_rebalance(g, "a new member joined");
    br_group_try_complete_join(g);
}

/* A static member rejoins with an empty member id: it takes over its old
 * member id's place (and assignment) under new_id. */
static void br_group_join_static_replace(br_group_t *g, br_gmember_t *m, br_call_t *call,
                                         const Strata__Request *env,
                                         const Strata__JoinGroupRequest *r, const char *new_id)
{
    char *old_id = m->id, *nid = strdup(new_id);
    if (!nid) {
        br_groups_reply_join(call, ST_ERR_UNKNOWN_SERVER_ERROR, "");
        return;
    }
    if (m->join_call)
        br_groups_reply_join(m->join_call, ST_ERR_FENCED_INSTANCE_ID, old_id);
    if (m->sync_call)
        br_groups_reply_sync(m->sync_call, ST_ERR_FENCED_INSTANCE_ID, NULL, NULL, 0);
    m->join_call = m->sync_call = NULL;
    m->id = nid;
    bool was_leader = g->leader && strcmp(g->leader, old_id) == 0;
    if (was_leader) {
        free(g->leader);
        g->leader = strdup(nid);
    }
    free(m->client_id);
    m->client_id = br_gstrdup(env->client_id);
    bool same = br_gproto_same(m, r->protocols, r->n_protocols);
    m->session_timeout_ms = r->session_timeout_ms;
    br_gmember_touch(m);
    st_log(ST_LOG_INFO, BR_GTAG, "group %s: static member %s replaced %s by %s", g->id,
           m->instance_id, old_id, nid);
    if (g->state == BR_GS_STABLE && same) {
        /* persist the new id; no rebalance, no new generation */
        br_gop_t *op = br_gop_new(BR_GOP_STATIC, g, call);
        st_batch_builder_t b;
        st_batch_builder_init(&b, ST_CODEC_NONE);
        if (op && (op->old_id = strdup(old_id)) && (op->new_id = strdup(nid)) &&
            br_group_add_meta(&b, g, NULL) == ST_OK) {
            br_groups_write(g->gc, &b, op);
        } else {
            if (op)
                br_gop_free(op);
            br_groups_reply_join(call, ST_ERR_UNKNOWN_SERVER_ERROR, nid);
        }
        st_batch_builder_fini(&b);
        free(old_id);
        return;
    }
    free(old_id);
    if (br_gmember_set_protocols(m, r) != ST_OK) {
        br_groups_reply_join(call, ST_ERR_UNKNOWN_SERVER_ERROR, nid);
        return;
    }
    m->join_call = call;
    br_group_prepare_rebalance(g, "a static member rejoined with new protocols");
    br_group_try_complete_join(g);
}

static void br_gop_static_done(br_gop_t *op, st_err_t err)
{
    br_group_t *g = br_gop_group(op);
    br_gmember_t *m = g ? br_group_member(g, op->new_id) : NULL;
    if (!m) {
        br_groups_reply_join(op->call, err != ST_OK ? err : ST_ERR_NOT_COORDINATOR, op->new_id);
        return;
    }
    if (err != ST_OK) { /* revert to the old id, as Kafka does */
        char *old = strdup(op->old_id);
        if (old) {
            if (g->leader && strcmp(g->leader, m->id) == 0) {
                free(g->leader);
                g->leader = strdup(old);
            }
            free(m->id);
            m->id = old;
        }
        br_groups_reply_join(op->call, err, op->new_id);
        return;
    }
    if (g->state == BR_GS_STABLE && g->generation == op->generation)
        br_group_reply_join_current(g, m, op->call, true);
    else
        br_groups_reply_join(op->call, ST_ERR_REBALANCE_IN_PROGRESS, m->id);
}

static void br_groups_join(br_groups_t *gc, br_call_t *call, const Strata__Request *env,
                       const Strata__JoinGroupRequest *r)
{
    int32_t opart;
    const char *member_id = r->member_id ? r->member_id : "";
    st_err_t err = br_groups_check(gc, r->group_id, &opart);
    if (err != ST_OK) {
        br_groups_reply_join(call, err, member_id);
        return;
    }
    if (r->session_timeout_ms < gc->cfg.group_min_session_timeout_ms ||
        r->session_timeout_ms > gc->cfg.group_max_session_timeout_ms) {
        br_groups_reply_join(call, ST_ERR_INVALID_SESSION_TIMEOUT, member_id);
        return;
    }
    br_group_t *g = br_groups_find(gc, r->group_id);
    if (!g) {
        if (*member_id) {
            br_groups_reply_join(call, ST_ERR_UNKNOWN_MEMBER_ID, member_id);
            return;
        }
        if (!(g = br_group_new(gc, r->group_id, opart))) {
            br_groups_reply_join(call, ST_ERR_UNKNOWN_SERVER_ERROR, member_id);
            return;
        }
    }
    if (g->state == BR_GS_DEAD) {
        br_groups_reply_join(call, ST_ERR_COORDINATOR_NOT_AVAILABLE, member_id);
        return;
    }
    const char *instance = br_gnz(r->group_instance_id);
    if (!*member_id) {
        if (!br_group_supports(g, r->protocol_type, r->protocols, r->n_protocols, NULL)) {
            br_groups_reply_join(call, ST_ERR_INCONSISTENT_GROUP_PROTOCOL, member_id);
            br_groups_maybe_forget(gc, g);
            return;
        }
        uuid_t u;
        char us[37], id[512];
        uuid_generate_random(u);
        uuid_unparse_lower(u, us);
        snprintf(id, sizeof id, "%.400s-%s",
                 instance ? instance : (env->client_id ? env->client_id : ""), us);
        br_gmember_t *old = br_group_instance(g, instance);
        if (old) {
            br_group_join_static_replace(g, old, call, env, r, id);
        } else if (instance) {
            br_group_join_new(g, call, env, r, id); /* static: no MEMBER_ID_REQUIRED */
        } else {
            br_gpending_t *p = calloc(1, sizeof *p);
            br_gpending_t **n = p ? realloc(g->pending, (g->n_pending + 1) * sizeof *n) : NULL;
            if (n)
                g->pending = n;
            if (!p || !n || !(p->id = strdup(id))) {
                free(p);
                br_groups_reply_join(call, ST_ERR_UNKNOWN_SERVER_ERROR, member_id);
                br_groups_maybe_forget(gc, g);
                return;
            }
            p->group = g;
            ev_timer_init(&p->timer, br_gpending_cb, (double)r->session_timeout_ms / 1000.0, 0.0);
            p->timer.data = p;
            ev_timer_start(gc->loop, &p->timer);
            g->pending[g->n_pending++] = p;
            br_groups_reply_join(call, ST_ERR_MEMBER_ID_REQUIRED, id);
        }
        return;
    }
    /* a known (or pending) member id */
    if (br_group_pending_idx(g, member_id) >= 0) {
        if (!br_group_supports(g, r->protocol_type, r->protocols, r->n_protocols, NULL)) {
            br_groups_reply_join(call, ST_ERR_INCONSISTENT_GROUP_PROTOCOL, member_id);
            return;
        }
        br_group_join_new(g, call, env, r, member_id);
        return;
    }
    br_gmember_t *m = br_group_member(g, member_id);
    br_gmember_t *mi = br_group_instance(g, instance);
    if (instance && mi && mi != m) {
        br_groups_reply_join(call, ST_ERR_FENCED_INSTANCE_ID, member_id);
        return;
    }
    if (!m || g->state == BR_GS_EMPTY) {
        br_groups_reply_join(call, ST_ERR_UNKNOWN_MEMBER_ID, member_id);
        return;
    }
    if (!br_group_supports(g, r->protocol_type, r->protocols, r->n_protocols, m)) {
        br_groups_reply_join(call, ST_ERR_INCONSISTENT_GROUP_PROTOCOL, member_id);
        return;
    }
    bool same = br_gproto_same(m, r->protocols, r->n_protocols);
    bool leader = g->leader && strcmp(g->leader, m->id) == 0;
    br_gmember_touch(m);
    if ((g->state == BR_GS_COMPLETING_REBALANCE && same) ||
        (g->state == BR_GS_STABLE && same && !leader)) {
        br_group_reply_join_current(g, m, call, false);
        return;
    }
    if (br_gmember_set_protocols(m, r) != ST_OK) {
        br_groups_reply_join(call, ST_ERR_UNKNOWN_SERVER_ERROR, member_id);
        return;
    }
    if (m->join_call) /* a duplicate join: the newer one waits */
        br_groups_reply_join(m->join_call, ST_ERR_REBALANCE_IN_PROGRESS, m->id);
    m->join_call = call;
    br_group_prepare_rebalance(g, leader ? "the leader rejoined" : "a member changed protocols");
    br_group_try_complete_join(g);
}

/* ------------------------------------------------------ SyncGroup */

static void br_gop_sync_done(br_gop_t *op, st_err_t err)
{
    br_group_t *g = br_gop_group(op);
    if (!g || g->state != BR_GS_COMPLETING_REBALANCE || g->generation != op->generation)
        return; /* parked syncs were answered when the group moved on */
    g->sync_writing_gen = -1;
    if (err != ST_OK) {
        br_group_reset_assignments(g, err);
        br_group_prepare_rebalance(g, "storing the assignment failed");
        br_group_try_complete_join(g);
        return;
    }
    for (size_t i = 0; i < g->n_members; i++) {
        br_gmember_t *m = g->members[i];
        free(m->assignment);
        m->assignment = NULL;
        m->assignment_len = 0;
        for (size_t k = 0; k < op->n_a; k++) {
            if (strcmp(op->a_ids[k], m->id) == 0) {
                m->assignment = op->a_data[k];
                m->assignment_len = op->a_len[k];
                op->a_data[k] = NULL;
                op->a_len[k] = 0;
            }
        }
    }
    br_group_transition(g, BR_GS_STABLE);
    for (size_t i = 0; i < g->n_members; i++) {
        br_gmember_t *m = g->members[i];
        if (m->sync_call) {
            br_call_t *c = m->sync_call;
            m->sync_call = NULL;
            br_groups_reply_sync(c, ST_OK, g, m->assignment, m->assignment_len);
        }
        br_gmember_touch(m);
    }
}

/* The leader's assignment: keep the entries naming current members. */
static st_err_t br_gop_take_assignment(br_gop_t *op, const br_group_t *g,
                                       const Strata__SyncGroupRequest *r)
{
    size_t n = r->n_assignments;
    op->a_ids = calloc(n ? n : 1, sizeof *op->a_ids);
    op->a_data = calloc(n ? n : 1, sizeof *op->a_data);
    op->a_len = calloc(n ? n : 1, sizeof *op->a_len);
    if (!op->a_ids || !op->a_data || !op->a_len)
        return ST_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        const Strata__SyncGroupAssignment *a = r->assignments[i];
        if (!a || !a->member_id || !br_group_member(g, a->member_id))
            continue;
        size_t k = op->n_a;
        op->a_ids[k] = strdup(a->member_id);
        op->a_data[k] = malloc(a->assignment.len ? a->assignment.len : 1);
        if (!op->a_ids[k] || !op->a_data[k]) {
            free(op->a_ids[k]);
            free(op->a_data[k]);
            return ST_ERR_NOMEM;
        }
        if (a->assignment.len)
            memcpy(op->a_data[k], a->assignment.data, a->assignment.len);
        op->a_len[k] = a->assignment.len;
        op->n_a++;
    }
    return ST_OK;
}

/* Validate a member's request against its group: fencing, membership,
 * generation. */
static st_err_t br_group_check_member(const br_group_t *g, const char *member_id,
                                      const char *instance, int32_t generation,
                                      br_gmember_t **out)
{
    br_gmember_t *mi = br_group_instance(g, br_gnz(instance));
    if (mi && !br_gstreq(mi->id, member_id))
        return ST_ERR_FENCED_INSTANCE_ID;
    br_gmember_t *m = br_group_member(g, member_id);
    if (!m)
        return ST_ERR_UNKNOWN_MEMBER_ID;
    if (generation != g->generation)
        return ST_ERR_ILLEGAL_GENERATION;
    *out = m;
    return ST_OK;
}

static void br_groups_sync(br_groups_t *gc, br_call_t *call, const Strata__SyncGroupRequest *r)
{
    st_err_t err = br_groups_check(gc, r->group_id, NULL);
    br_group_t *g = err == ST_OK ? br_groups_find(gc, r->group_id) : NULL;
    br_gmember_t *m = NULL;
    if (err == ST_OK && !g)
        err = ST_ERR_UNKNOWN_MEMBER_ID;
    else if (err == ST_OK && g->state == BR_GS_DEAD)
        err = ST_ERR_COORDINATOR_NOT_AVAILABLE;
    if (err == ST_OK)
        err = br_group_check_member(g, r->member_id, r->group_instance_id, r->generation_id, &m);
    if (err == ST_OK && ((br_gnz(r->protocol_type) && !br_gstreq(r->protocol_type, g->protocol_type)) ||
                         (br_gnz(r->protocol_name) && !br_gstreq(r->protocol_name, g->protocol))))
        err = ST_ERR_INCONSISTENT_GROUP_PROTOCOL;
    if (err == ST_OK && g->state == BR_GS_EMPTY)
        err = ST_ERR_UNKNOWN_MEMBER_ID;
    if (err == ST_OK && g->state == BR_GS_PREPARING_REBALANCE)
        err = ST_ERR_REBALANCE_IN_PROGRESS;
    if (err != ST_OK) {
        br_groups_reply_sync(call, err, NULL, NULL, 0);
        return;
    }
    br_gmember_touch(m);
    if (g->state == BR_GS_STABLE) {
        br_groups_reply_sync(call, ST_OK, g, m->assignment, m->assignment_len);
        return;
    }
    /* CompletingRebalance: wait for the leader's assignment to be stored */
    if (m->sync_call)
        br_groups_reply_sync(m->sync_call, ST_ERR_REBALANCE_IN_PROGRESS, NULL, NULL, 0);
    m->sync_call = call;
    if (!g->leader || strcmp(g->leader, m->id) != 0 || g->sync_writing_gen == g->generation)
        return;
    br_gop_t *op = br_gop_new(BR_GOP_SYNC, g, NULL);
    st_batch_builder_t b;
    st_batch_builder_init(&b, ST_CODEC_NONE);
    if (!op || br_gop_take_assignment(op, g, r) != ST_OK || br_group_add_meta(&b, g, op) != ST_OK) {
        if (op)
            br_gop_free(op);
        st_batch_builder_fini(&b);
        br_group_reset_assignments(g, ST_ERR_UNKNOWN_SERVER_ERROR);
        br_group_prepare_rebalance(g, "out of memory storing the assignment");
        return;
    }
    g->sync_writing_gen = g->generation;
    br_groups_write(gc, &b, op);
    st_batch_builder_fini(&b);
}

/* ------------------------------------------------------ Heartbeat, Leave */

static void br_groups_heartbeat(br_groups_t *gc, br_call_t *call, const Strata__HeartbeatRequest *r)
{
    st_err_t err = br_groups_check(gc, r->group_id, NULL);
    br_group_t *g = err == ST_OK ? br_groups_find(gc, r->group_id) : NULL;
    br_gmember_t *m = NULL;
    if (err == ST_OK && !g)
        err = ST_ERR_UNKNOWN_MEMBER_ID;
    else if (err == ST_OK && g->state == BR_GS_DEAD)
        err = ST_ERR_COORDINATOR_NOT_AVAILABLE;
    if (err == ST_OK)
        err = br_group_check_member(g, r->member_id, r->group_instance_id, r->generation_id, &m);
    if (err == ST_OK && g->state == BR_GS_EMPTY)
        err = ST_ERR_UNKNOWN_MEMBER_ID;
    if (err == ST_OK) {
        br_gmember_touch(m);
        if (g->state == BR_GS_PREPARING_REBALANCE)
            err = ST_ERR_REBALANCE_IN_PROGRESS;
    }
    br_groups_reply_heartbeat(call, err);
}

static void br_groups_leave(br_groups_t *gc, br_call_t *call, const Strata__LeaveGroupRequest *r)
{
    size_t n = r->n_members;
    Strata__LeaveGroupMemberResult *res = calloc(n ? n : 1, sizeof *res);
    Strata__LeaveGroupMemberResult **rp = calloc(n ? n : 1, sizeof *rp);
    Strata__LeaveGroupResponse b = STRATA__LEAVE_GROUP_RESPONSE__INIT;
    b.version = 1;
    if (!res || !rp) {
        b.error = STRATA__ERROR_CODE__UNKNOWN_SERVER_ERROR;
        n = 0;
    }
    st_err_t err = br_groups_check(gc, r->group_id, NULL);
    br_group_t *g = err == ST_OK ? br_groups_find(gc, r->group_id) : NULL;
    if (err == ST_OK && g && g->state == BR_GS_DEAD)
        err = ST_ERR_COORDINATOR_NOT_AVAILABLE;
    if (err != ST_OK)
        b.error = (Strata__ErrorCode)err;
    bool changed = false;
    for (size_t i = 0; i < n; i++) {
        const Strata__LeavingMember *lm = r->members[i];
        strata__leave_group_member_result__init(&res[i]);
        rp[i] = &res[i];
        res[i].member_id = (char *)(lm && lm->member_id ? lm->member_id : "");
        res[i].group_instance_id = (char *)(lm && lm->group_instance_id ? lm->group_instance_id : "");
        if (err != ST_OK) {
            res[i].error = (Strata__ErrorCode)err;
            continue;
        }
        const char *mid = br_gnz(res[i].member_id), *inst = br_gnz(res[i].group_instance_id);
        st_err_t e = ST_OK;
        br_gmember_t *m = NULL;
        ssize_t pi = g && mid ? br_group_pending_idx(g, mid) : -1;
        if (!g) {
            e = ST_ERR_UNKNOWN_MEMBER_ID;
        } else if (pi >= 0 && !inst) {
            br_group_drop_pending(g, (size_t)pi);
            changed = true;
        } else if (inst) {
            m = br_group_instance(g, inst);
            if (!m)
                e = ST_ERR_UNKNOWN_MEMBER_ID;
            else if (mid && strcmp(mid, m->id) != 0)
                e = ST_ERR_FENCED_INSTANCE_ID;
        } else if (!(m = br_group_member(g, mid))) {
            e = ST_ERR_UNKNOWN_MEMBER_ID;
        }
        if (e == ST_OK && m) {
            st_log(ST_LOG_INFO, BR_GTAG, "group %s: member %s left%s%s", g->id, m->id,
                   lm->reason && *lm->reason ? ": " : "", lm->reason ? lm->reason : "");
            br_group_drop_member(g, m, ST_ERR_UNKNOWN_MEMBER_ID);
            changed = true;
        }
        res[i].error = (Strata__ErrorCode)e;
    }
    if (changed)
        br_group_members_changed(g, "a member left");
    b.n_members = n;
    b.members = rp;
    Strata__Response resp = STRATA__RESPONSE__INIT;
    resp.body_case = STRATA__RESPONSE__BODY_LEAVE_GROUP;
    resp.leave_group = &b;
    br_groups_reply(call, &resp);
    free(res);
    free(rp);
}

/* ------------------------------------------------------ OffsetCommit */

static void br_gcommit_reply(br_call_t *call, const br_gcommit_t *c, st_err_t top)
{
    size_t nt = c ? c->n_topics : 0, np = c ? c->n_items : 0;
    Strata__OffsetCommitTopicResult *tr = calloc(nt ? nt : 1, sizeof *tr);
    Strata__OffsetCommitTopicResult **tp = calloc(nt ? nt : 1, sizeof *tp);
    Strata__OffsetCommitPartitionResult *pr = calloc(np ? np : 1, sizeof *pr);
    Strata__OffsetCommitPartitionResult **pp = calloc(np ? np : 1, sizeof *pp);
    Strata__OffsetCommitResponse b = STRATA__OFFSET_COMMIT_RESPONSE__INIT;
    b.version = 1;
    b.error = (Strata__ErrorCode)top;
    if (tr && tp && pr && pp) {
        /* items are grouped by topic in request order */
        size_t k = 0;
        for (size_t t = 0; t < nt; t++) {
            strata__offset_commit_topic_result__init(&tr[t]);
            tp[t] = &tr[t];
            tr[t].name = c->topics[t];
            tr[t].partitions = &pp[k];
            for (size_t i = 0; i < np; i++) {
                if (c->items[i].topic != t)
                    continue;
                strata__offset_commit_partition_result__init(&pr[k]);
                pp[k] = &pr[k];
                pr[k].partition = c->items[i].v.partition;
                pr[k].error = (Strata__ErrorCode)c->items[i].err;
                tr[t].n_partitions++;
                k++;
            }
        }
        b.n_topics = nt;
        b.topics = tp;
    } else {
        b.error = STRATA__ERROR_CODE__UNKNOWN_SERVER_ERROR;
    }
    Strata__Response resp = STRATA__RESPONSE__INIT;
    resp.body_case = STRATA__RESPONSE__BODY_OFFSET_COMMIT;
    resp.offset_commit = &b;
    br_groups_reply(call, &resp);
    free(tr);
    free(tp);
    free(pr);
    free(pp);
}

static void br_gop_commit_done(br_gop_t *op, st_err_t err)
{
    br_gcommit_t *c = op->commit;
    br_group_t *g = br_gop_group(op);
    if (err == ST_OK && !g)
        err = ST_ERR_NOT_COORDINATOR;
    for (size_t i = 0; i < c->n_items; i++) {
        br_gcommit_item_t *it = &c->items[i];
        if (!it->write)
            continue;
        if (err == ST_OK && br_group_offset_put(g, &it->v) != ST_OK)
            it->err = ST_ERR_UNKNOWN_SERVER_ERROR;
        else if (err != ST_OK)
            it->err = err;
    }
    br_gcommit_reply(op->call, c, ST_OK);
}

/* Copy the request's partitions into a br_gcommit (all errors NONE). */
static br_gcommit_t *br_gcommit_from(const Strata__OffsetCommitRequest *r)
{
    br_gcommit_t *c = calloc(1, sizeof *c);
    size_t np = 0;
    for (size_t t = 0; t < r->n_topics; t++)
        if (r->topics[t])
            np += r->topics[t]->n_partitions;
    if (!c || !(c->topics = calloc(r->n_topics ? r->n_topics : 1, sizeof *c->topics)) ||
        !(c->items = calloc(np ? np : 1, sizeof *c->items)))
        goto fail;
    for (size_t t = 0; t < r->n_topics; t++) {
        const Strata__OffsetCommitTopic *ct = r->topics[t];
        if (!(c->topics[t] = br_gstrdup(ct ? ct->name : "")))
            goto fail;
        c->n_topics++;
        for (size_t i = 0; ct && i < ct->n_partitions; i++) {
            const Strata__OffsetCommitPartition *cp = ct->partitions[i];
            br_gcommit_item_t *it = &c->items[c->n_items++];
            it->topic = t;
            it->v.topic = c->topics[t];
            it->v.partition = cp ? cp->partition : -1;
            it->v.offset = cp ? cp->offset : -1;
            it->v.leader_epoch = cp ? cp->leader_epoch : -1;
            if (!(it->v.metadata = br_gstrdup(cp ? cp->metadata : "")))
                goto fail;
            if (!cp || !*c->topics[t] || cp->partition < 0)
                it->err = ST_ERR_INVALID_REQUEST;
        }
    }
    return c;
fail:
    br_gcommit_free(c);
    return NULL;
}

static void br_groups_commit(br_groups_t *gc, br_call_t *call, const Strata__OffsetCommitRequest *r)
{
    int32_t opart;
    br_gcommit_t *c = br_gcommit_from(r);
    if (!c) {
        br_gcommit_reply(call, NULL, ST_ERR_UNKNOWN_SERVER_ERROR);
        return;
    }
    st_err_t err = br_groups_check(gc, r->group_id, &opart);
    br_group_t *g = err == ST_OK ? br_groups_find(gc, r->group_id) : NULL;
    bool member_commit = r->generation_id >= 0 || br_gnz(r->member_id) || br_gnz(r->group_instance_id);
    if (err == ST_OK && !g) {
        if (member_commit)
            err = ST_ERR_ILLEGAL_GENERATION;
        else if (!(g = br_group_new(gc, r->group_id, opart)))
            err = ST_ERR_UNKNOWN_SERVER_ERROR;
    }
    if (err == ST_OK && g->state == BR_GS_DEAD)
        err = ST_ERR_COORDINATOR_NOT_AVAILABLE;
    if (err == ST_OK && member_commit) {
        br_gmember_t *m = NULL;
        err = br_group_check_member(g, r->member_id, r->group_instance_id, r->generation_id, &m);
        if (err == ST_OK && g->state == BR_GS_COMPLETING_REBALANCE)
            err = ST_ERR_REBALANCE_IN_PROGRESS;
        if (err == ST_OK)
            br_gmember_touch(m); /* a commit is as good as a heartbeat */
    } else if (err == ST_OK && g->state != BR_GS_EMPTY) {
        err = ST_ERR_UNKNOWN_MEMBER_ID; /* simple commits only to groups without members */
    }
    int64_t now = br_groups_now();
    st_batch_builder_t b;
    st_batch_builder_init(&b, ST_CODEC_NONE);
    size_t n_write = 0;
    for (size_t i = 0; i < c->n_items; i++) {
        br_gcommit_item_t *it = &c->items[i];
        if (err != ST_OK) {
            it->err = err;
            continue;
        }
        if (it->err != ST_OK)
            continue;
        if (strlen(it->v.metadata) > (size_t)gc->cfg.offset_metadata_max_bytes) {
            it->err = ST_ERR_OFFSET_METADATA_TOO_LARGE;
            continue;
        }
        it->v.commit_ts = now;
        it->v.expire_ts = r->retention_time_ms > 0 ? now + r->retention_time_ms : -1;
        Strata__OffsetValue ov = STRATA__OFFSET_VALUE__INIT;
        ov.offset = it->v.offset;
        ov.leader_epoch = it->v.leader_epoch;
        ov.metadata = it->v.metadata;
        ov.commit_timestamp = it->v.commit_ts;
        ov.expire_timestamp = it->v.expire_ts;
        if (br_group_log_add_offset(&b, now, g->id, it->v.topic, it->v.partition, &ov) != ST_OK) {
            it->err = ST_ERR_UNKNOWN_SERVER_ERROR;
            continue;
        }
        it->write = true;
        n_write++;
    }
    if (n_write == 0) {
        br_gcommit_reply(call, c, ST_OK);
        br_gcommit_free(c);
        br_groups_maybe_forget(gc, g);
    } else {
        br_gop_t *op = br_gop_new(BR_GOP_COMMIT, g, call);
        if (!op) {
            for (size_t i = 0; i < c->n_items; i++)
                if (c->items[i].write)
                    c->items[i].err = ST_ERR_UNKNOWN_SERVER_ERROR;
            br_gcommit_reply(call, c, ST_OK);
            br_gcommit_free(c);
        } else {
            op->commit = c;
            br_groups_write(gc, &b, op);
        }
    }
    st_batch_builder_fini(&b);
}

/* ------------------------------------------------------ OffsetFetch */

static void br_groups_fetch(br_groups_t *gc, br_call_t *call, const Strata__OffsetFetchRequest *r)
{
    st_err_t err = br_groups_check(gc, r->group_id, NULL);
    br_group_t *g = err == ST_OK ? br_groups_find(gc, r->group_id) : NULL;
    Strata__OffsetFetchResponse b = STRATA__OFFSET_FETCH_RESPONSE__INIT;
    b.version = 1;
    b.error = (Strata__ErrorCode)err;
    /* the (topic, partition) list to answer: asked, or every committed one */
    size_t nt = 0, np = 0;
    bool all = r->n_topics == 0;
    if (err == ST_OK) {
        if (all) {
            np = g ? g->n_offsets : 0;
            nt = np; /* at most one topic per offset */
        } else {
            nt = r->n_topics;
            for (size_t t = 0; t < nt; t++)
                np += r->topics[t] ? r->topics[t]->n_partitions : 0;
        }
    }
    Strata__OffsetFetchTopicResult *tr = calloc(nt ? nt : 1, sizeof *tr);
    Strata__OffsetFetchTopicResult **tp = calloc(nt ? nt : 1, sizeof *tp);
    Strata__OffsetFetchPartitionResult *pr = calloc(np ? np : 1, sizeof *pr);
    Strata__OffsetFetchPartitionResult **pp = calloc(np ? np : 1, sizeof *pp);
    if (!tr || !tp || !pr || !pp) {
        b.error = STRATA__ERROR_CODE__UNKNOWN_SERVER_ERROR;
        goto reply;
    }
    size_t k = 0, ntop = 0;
    if (err == ST_OK && all) {
        /* first pass: the distinct topics; second: their partitions,
         * contiguous per topic */
        for (size_t i = 0; i < np; i++) {
            const br_goffset_t *o = &g->offsets[i];
            bool seen = false;
            for (size_t j = 0; j < ntop && !seen; j++)
                seen = strcmp(tr[j].name, o->topic) == 0;
            if (!seen) {
                strata__offset_fetch_topic_result__init(&tr[ntop]);
                tp[ntop] = &tr[ntop];
                tr[ntop++].name = o->topic;
            }
        }
        for (size_t j = 0; j < ntop; j++) {
            tr[j].partitions = &pp[k];
            for (size_t i = 0; i < np; i++) {
                const br_goffset_t *o = &g->offsets[i];
                if (strcmp(o->topic, tr[j].name) != 0)
                    continue;
                strata__offset_fetch_partition_result__init(&pr[k]);
                pp[k] = &pr[k];
                pr[k].partition = o->partition;
                pr[k].offset = o->offset;
                pr[k].leader_epoch = o->leader_epoch;
                pr[k].metadata = o->metadata;
                tr[j].n_partitions++;
                k++;
            }
        }
    } else if (err == ST_OK) {
        for (size_t t = 0; t < nt; t++) {
            const Strata__OffsetFetchTopic *ft = r->topics[t];
            strata__offset_fetch_topic_result__init(&tr[t]);
            tp[t] = &tr[t];
            tr[t].name = (char *)(ft && ft->name ? ft->name : "");
            tr[t].partitions = &pp[k];
            for (size_t i = 0; ft && i < ft->n_partitions; i++) {
                strata__offset_fetch_partition_result__init(&pr[k]);
                pp[k] = &pr[k];
                pr[k].partition = ft->partitions[i];
                pr[k].offset = -1;
                pr[k].leader_epoch = -1;
                const br_goffset_t *o = g ? br_group_offset(g, tr[t].name, ft->partitions[i]) : NULL;
                if (o) {
                    pr[k].offset = o->offset;
                    pr[k].leader_epoch = o->leader_epoch;
                    pr[k].metadata = o->metadata;
                }
                tr[t].n_partitions++;
                k++;
            }
        }
        ntop = nt;
    }
    b.n_topics = ntop;
    b.topics = tp;
reply:;
    Strata__Response resp = STRATA__RESPONSE__INIT;
    resp.body_case = STRATA__RESPONSE__BODY_OFFSET_FETCH;
    resp.offset_fetch = &b;
    br_groups_reply(call, &resp);
    free(tr);
    free(tp);
    free(pr);
    free(pp);
}

/* ------------------------------------------------------ List, Describe */

static void br_groups_list(br_groups_t *gc, br_call_t *call, const Strata__ListGroupsRequest *r)
{
    Strata__ListGroupsResponse b = STRATA__LIST_GROUPS_RESPONSE__INIT;
    b.version = 1;
    for (int32_t p = 0; p < gc->cfg.offsets_topic_num_partitions; p++)
        if (gc->parts[p].state == BR_OP_LOADING)
            b.error = STRATA__ERROR_CODE__COORDINATOR_LOAD_IN_PROGRESS;
    size_t n = gc->n_groups;
    Strata__ListedGroup *lg = calloc(n ? n : 1, sizeof *lg);
    Strata__ListedGroup **lp = calloc(n ? n : 1, sizeof *lp);
    if (!lg || !lp) {
        b.error = STRATA__ERROR_CODE__UNKNOWN_SERVER_ERROR;
        n = 0;
    }
    size_t k = 0;
    for (size_t i = 0; lg && lp && i < gc->n_buckets; i++) {
        for (br_group_t *g = gc->buckets[i]; g; g = g->hnext) {
            const char *st = br_gstate_name(g->state);
            bool match = r->n_states_filter == 0;
            for (size_t f = 0; f < r->n_states_filter && !match; f++)
                match = r->states_filter[f] && strcasecmp(r->states_filter[f], st) == 0;
            if (!match || g->state == BR_GS_DEAD)
                continue;
            strata__listed_group__init(&lg[k]);
            lp[k] = &lg[k];
            lg[k].group_id = g->id;
            lg[k].protocol_type = (char *)(g->protocol_type ? g->protocol_type : "");
            lg[k].state = (char *)st;
            k++;
        }
    }
    b.n_groups = k;
    b.groups = lp;
    Strata__Response resp = STRATA__RESPONSE__INIT;
    resp.body_case = STRATA__RESPONSE__BODY_LIST_GROUPS;
    resp.list_groups = &b;
    br_groups_reply(call, &resp);
    free(lg);
    free(lp);
}

static void br_groups_describe(br_groups_t *gc, br_call_t *call, const Strata__DescribeGroupsRequest *r)
{
    size_t n = r->n_groups, nm = 0;
    for (size_t i = 0; i < n; i++) {
        br_group_t *g = br_groups_check(gc, r->groups[i], NULL) == ST_OK ? br_groups_find(gc, r->groups[i]) : NULL;
        nm += g ? g->n_members : 0;
    }
    Strata__DescribedGroup *dg = calloc(n ? n : 1, sizeof *dg);
    Strata__DescribedGroup **dp = calloc(n ? n : 1, sizeof *dp);
    Strata__DescribedMember *dm = calloc(nm ? nm : 1, sizeof *dm);
    Strata__DescribedMember **dmp = calloc(nm ? nm : 1, sizeof *dmp);
    Strata__DescribeGroupsResponse b = STRATA__DESCRIBE_GROUPS_RESPONSE__INIT;
    b.version = 1;
    if (dg && dp && dm && dmp) {
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            strata__described_group__init(&dg[i]);
            dp[i] = &dg[i];
            dg[i].group_id = (char *)(r->groups[i] ? r->groups[i] : "");
            st_err_t err = br_groups_check(gc, r->groups[i], NULL);
            br_group_t *g = err == ST_OK ? br_groups_find(gc, r->groups[i]) : NULL;
            dg[i].error = (Strata__ErrorCode)err;
            dg[i].state = (char *)br_gstate_name(g ? g->state : BR_GS_DEAD);
            if (!g)
                continue;
            dg[i].protocol_type = (char *)(g->protocol_type ? g->protocol_type : "");
            dg[i].generation_id = g->generation;
            bool stable = g->state == BR_GS_STABLE;
            dg[i].protocol = (char *)(stable && g->protocol ? g->protocol : "");
            dg[i].members = &dmp[k];
            for (size_t j = 0; j < g->n_members; j++) {
                const br_gmember_t *m = g->members[j];
                strata__described_member__init(&dm[k]);
                dmp[k] = &dm[k];
                dm[k].member_id = m->id;
                dm[k].group_instance_id = (char *)(m->instance_id ? m->instance_id : "");
                dm[k].client_id = m->client_id;
                dm[k].client_host = m->client_host;
                const br_gproto_t *p = stable ? br_gmember_proto(m, g->protocol) : NULL;
                if (p) {
                    dm[k].metadata.data = p->data;
                    dm[k].metadata.len = p->len;
                }
                if (stable) {
                    dm[k].assignment.data = m->assignment;
                    dm[k].assignment.len = m->assignment_len;
                }
                dg[i].n_members++;
                k++;
            }
        }
        b.n_groups = n;
        b.groups = dp;
    }
    Strata__Response resp = STRATA__RESPONSE__INIT;
    resp.body_case = STRATA__RESPONSE__BODY_DESCRIBE_GROUPS;
    resp.describe_groups = &b;
    if (!(dg && dp && dm && dmp)) {
        resp.error = STRATA__ERROR_CODE__UNKNOWN_SERVER_ERROR;
        resp.body_case = STRATA__RESPONSE__BODY__NOT_SET;
    }
    br_groups_reply(call, &resp);
    free(dg);
    free(dp);
    free(dm);
    free(dmp);
}

/* ------------------------------------------------------ DeleteGroups */

/* Tombstones for g's metadata and every offset of it into b. */
static st_err_t br_group_add_tombstones(st_batch_builder_t *b, const br_group_t *g, bool meta)
{
    int64_t now = br_groups_now();
    for (size_t i = 0; i < g->n_offsets; i++) {
        st_err_t err = br_group_log_add_offset(b, now, g->id, g->offsets[i].topic,
                                          g->offsets[i].partition, NULL);
        if (err != ST_OK)
            return err;
    }
    return meta ? br_group_log_add_group(b, now, g->id, NULL) : ST_OK;
}

static void br_groups_delete(br_groups_t *gc, br_call_t *call, const Strata__DeleteGroupsRequest *r)
{
    br_gdelete_t *d = calloc(1, sizeof *d);
    size_t n = r->n_groups;
    if (!d || !(d->res = calloc(n ? n : 1, sizeof *d->res)) ||
        !(d->res_ptrs = calloc(n ? n : 1, sizeof *d->res_ptrs)) ||
        !(d->ids = calloc(n ? n : 1, sizeof *d->ids))) {
        if (d) {
            free(d->res);
            free(d->res_ptrs);
            free(d);
        }
        br_call_reply_error(call, ST_ERR_UNKNOWN_SERVER_ERROR, "out of memory");
        return;
    }
    d->call = call;
    d->n = n;
    d->outstanding = 1; /* held by this function until the loop ends */
    for (size_t i = 0; i < n; i++) {
        strata__delete_group_result__init(&d->res[i]);
        d->res_ptrs[i] = &d->res[i];
        d->ids[i] = br_gstrdup(r->groups[i]);
        d->res[i].group_id = d->ids[i] ? d->ids[i] : (char *)"";
        st_err_t err = br_groups_check(gc, r->groups[i], NULL);
        br_group_t *g = err == ST_OK ? br_groups_find(gc, r->groups[i]) : NULL;
        if (err == ST_OK && (!g || g->state == BR_GS_DEAD))
            err = ST_ERR_GROUP_ID_NOT_FOUND;
        else if (err == ST_OK && g->state != BR_GS_EMPTY)
            err = ST_ERR_NON_EMPTY_GROUP;
        br_gop_t *op = err == ST_OK ? br_gop_new(BR_GOP_DELETE, g, NULL) : NULL;
        st_batch_builder_t b;
        st_batch_builder_init(&b, ST_CODEC_NONE);
        if (err == ST_OK && (!op || br_group_add_tombstones(&b, g, true) != ST_OK))
            err = ST_ERR_UNKNOWN_SERVER_ERROR;
        d->res[i].error = (Strata__ErrorCode)err;
        if (err == ST_OK) {
            st_log(ST_LOG_INFO, BR_GTAG, "group %s: deleted", g->id);
            br_group_transition(g, BR_GS_DEAD);
            br_groups_remove_group(gc, g, ST_ERR_COORDINATOR_NOT_AVAILABLE);
            op->del = d;
            op->del_idx = i;
            d->outstanding++;
            br_groups_write(gc, &b, op);
        } else if (op) {
            br_gop_free(op);
        }
        st_batch_builder_fini(&b);
    }
    if (--d->outstanding == 0)
        br_gdelete_reply(d);
}

/* ------------------------------------------------------ FindCoordinator */

static void br_groups_find_coordinator(br_groups_t *gc, br_call_t *call,
                                   const Strata__FindCoordinatorRequest *r)
{
    Strata__FindCoordinatorResponse b = STRATA__FIND_COORDINATOR_RESPONSE__INIT;
    b.version = 1;
    b.node_id = -1;
    char host[256] = "";
    st_err_t err = ST_OK;
    if (r->key_type != STRATA__COORDINATOR_TYPE__COORDINATOR_GROUP) {
        err = ST_ERR_COORDINATOR_NOT_AVAILABLE;
        b.error_message = (char *)"transaction coordinators are not supported";
    } else if (!r->key || !*r->key) {
        err = ST_ERR_INVALID_GROUP_ID;
    } else if (!gc->meta.partition_leader || !gc->meta.broker_url) {
        err = ST_ERR_COORDINATOR_NOT_AVAILABLE;
    } else {
        int32_t p = br_group_partition_for(r->key, gc->cfg.offsets_topic_num_partitions);
        bool exists = false;
        int32_t leader = gc->meta.partition_leader(gc->meta.arg, BR_OFFSETS_TOPIC, p, &exists);
        const char *url = leader >= 0 ? gc->meta.broker_url(gc->meta.arg, leader) : NULL;
        if (!exists) {
            if (gc->meta.ensure_offsets_topic)
                gc->meta.ensure_offsets_topic(gc->meta.arg, gc->cfg.offsets_topic_num_partitions,
                                              gc->cfg.offsets_topic_replication_factor);
            err = ST_ERR_COORDINATOR_NOT_AVAILABLE;
            b.error_message = (char *)"the offsets topic is being created";
        } else if (!url) {
            err = ST_ERR_COORDINATOR_NOT_AVAILABLE;
        } else {
            b.node_id = leader;
            b.url = (char *)url;
            /* host and port from "scheme://host:port" when it has that shape */
            const char *h = strstr(url, "://");
            h = h ? h + 3 : url;
            const char *colon = strrchr(h, ':');
            if (colon && (size_t)(colon - h) < sizeof host) {
                memcpy(host, h, (size_t)(colon - h));
                host[colon - h] = '\0';
                b.host = host;
                b.port = atoi(colon + 1);
            }
        }
    }
    b.error = (Strata__ErrorCode)err;
    Strata__Response resp = STRATA__RESPONSE__INIT;
    resp.body_case = STRATA__RESPONSE__BODY_FIND_COORDINATOR;
    resp.find_coordinator = &b;
    br_groups_reply(call, &resp);
}

/* ------------------------------------------------------ load, unload */

typedef struct br_gload {
    br_groups_t *gc;
    int32_t opart;
    bool nomem;
} br_gload_t;

static br_group_t *br_gload_group(br_gload_t *l, const char *id)
{
    br_group_t *g = br_groups_find(l->gc, id);
    if (!g && !(g = br_group_new(l->gc, id, l->opart)))
        l->nomem = true;
    return g;
}

static void br_gload_offset(void *arg, const char *group, const char *topic, int32_t partition,
                            const Strata__OffsetValue *v)
{
    br_gload_t *l = arg;
    if (br_group_partition_for(group, l->gc->cfg.offsets_topic_num_partitions) != l->opart)
        return; /* not this partition's group: ignore (never written by us) */
    br_group_t *g = br_gload_group(l, group);
    if (!g)
        return;
    if (!v) {
        br_goffset_t *o = br_group_offset(g, topic, partition);
        if (o)
            br_group_offset_remove(g, o);
        return;
    }
    br_goffset_t o = {(char *)topic, partition, v->offset, v->leader_epoch, v->metadata,
                      v->commit_timestamp, v->expire_timestamp};
    if (br_group_offset_put(g, &o) != ST_OK)
        l->nomem = true;
}

static void br_group_clear_meta(br_group_t *g)
{
    while (g->n_members)
        br_group_drop_member(g, g->members[g->n_members - 1], ST_ERR_NOT_COORDINATOR);
    free(g->protocol_type);
    free(g->protocol);
    free(g->leader);
    g->protocol_type = g->protocol = g->leader = NULL;
    g->generation = 0;
    g->has_meta = false;
}

static void br_gload_group_rec(void *arg, const char *group, const Strata__GroupValue *v)
{
    br_gload_t *l = arg;
    if (br_group_partition_for(group, l->gc->cfg.offsets_topic_num_partitions) != l->opart)
        return;
    br_group_t *g = br_gload_group(l, group);
    if (!g)
        return;
    br_group_clear_meta(g);
    if (!v)
        return;
    g->has_meta = true;
    g->generation = v->generation;
    g->protocol_type = br_gnz(v->protocol_type) ? strdup(v->protocol_type) : NULL;
    g->protocol = br_gnz(v->protocol) ? strdup(v->protocol) : NULL;
    g->leader = br_gnz(v->leader) ? strdup(v->leader) : NULL;
    g->state_ts = v->state_timestamp > 0 ? v->state_timestamp : br_groups_now();
    for (size_t i = 0; i < v->n_members; i++) {
        const Strata__GroupMemberValue *mv = v->members[i];
        if (!mv || !br_gnz(mv->member_id) || mv->session_timeout_ms <= 0)
            continue;
        br_gmember_t *m = br_gmember_new(g, mv->member_id, br_gnz(mv->group_instance_id),
                                         mv->client_id, mv->client_host, mv->session_timeout_ms,
                                         mv->rebalance_timeout_ms);
        if (m && (m->protos = calloc(1, sizeof *m->protos)) &&
            (m->protos[0].name = br_gstrdup(g->protocol)) &&
            (m->protos[0].data = malloc(mv->subscription.len ? mv->subscription.len : 1)) &&
            (m->assignment = malloc(mv->assignment.len ? mv->assignment.len : 1)) &&
            br_group_add_member(g, m) == ST_OK) {
            m->n_protos = 1;
            m->protos[0].len = mv->subscription.len;
            if (mv->subscription.len)
                memcpy(m->protos[0].data, mv->subscription.data, mv->subscription.len);
            m->assignment_len = mv->assignment.len;
            if (mv->assignment.len)
                memcpy(m->assignment, mv->assignment.data, mv->assignment.len);
        } else {
            if (m) {
                m->n_protos = m->protos ? 1 : 0;
                br_gmember_free(m);
            }
            l->nomem = true;
        }
    }
}

static void br_groups_unload(br_groups_t *gc, int32_t p)
{
    br_opart_t *op = &gc->parts[p];
    if (op->load_on) {
        ev_timer_stop(gc->loop, &op->load);
        op->load_on = false;
    }
    size_t n = 0;
    for (size_t i = 0; i < gc->n_buckets; i++) {
        br_group_t **pp = &gc->buckets[i];
        while (*pp) {
            br_group_t *g = *pp;
            if (g->opart != p) {
                pp = &g->hnext;
                continue;
            }
            *pp = g->hnext;
            gc->n_groups--;
            br_group_free(g, ST_ERR_NOT_COORDINATOR);
            n++;
        }
    }
    if (op->state != BR_OP_NONE && n > 0)
        st_log(ST_LOG_INFO, BR_GTAG, "%s-%d: unloaded %zu group(s)", BR_OFFSETS_TOPIC, p, n);
    op->state = BR_OP_NONE;
    op->incarnation++;
}

static void br_groups_load(br_groups_t *gc, int32_t p)
{
    br_opart_t *op = &gc->parts[p];
    br_gload_t l = {gc, p, false};
    br_group_log_visitor_t v = {br_gload_offset, br_gload_group_rec, &l};
    br_group_log_stats_t st;
    br_pm_part_info_t info;
    if (br_pm_local_info(gc->pm, BR_OFFSETS_TOPIC, p, &info) != ST_OK ||
        info.role != BR_ROLE_LEADER) {
        br_groups_unload(gc, p);
        return;
    }
    /* to the log end, not the HW: a new leader's log is the truth, and
     * its HW may still lag records an earlier leader acknowledged */
    st_err_t err = br_group_log_load(gc->pm, p, info.log_end, &v, &st);
    if (err == ST_OK && l.nomem)
        err = ST_ERR_NOMEM;
    size_t n = 0;
    for (size_t i = 0; i < gc->n_buckets; i++) {
        br_group_t *g = gc->buckets[i];
        while (g) {
            br_group_t *next = g->hnext;
            if (g->opart == p) {
                if (g->n_members > 0) {
                    g->state = BR_GS_STABLE; /* initial state set by the load */
                    for (size_t k = 0; k < g->n_members; k++)
                        br_gmember_touch(g->members[k]);
                    n++;
                } else if (!g->has_meta && g->n_offsets == 0) {
                    br_groups_remove_group(gc, g, ST_ERR_NOT_COORDINATOR);
                } else {
                    g->state = BR_GS_EMPTY;
                    n++;
                }
            }
            g = next;
        }
    }
    if (err != ST_OK) {
        st_log(ST_LOG_ERROR, BR_GTAG, "%s-%d: loading groups failed: %s; retrying",
               BR_OFFSETS_TOPIC, p, st_err_name(err));
        br_groups_unload(gc, p);
        op->state = BR_OP_LOADING;
        ev_timer_set(&op->load, 1.0, 0.0);
        ev_timer_start(gc->loop, &op->load);
        op->load_on = true;
        return;
    }
    op->state = BR_OP_LOADED;
    st_log(ST_LOG_INFO, BR_GTAG, "%s-%d: loaded %zu group(s) from %lld record(s)",
           BR_OFFSETS_TOPIC, p, n, (long long)st.records);
}

static void br_groups_load_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)loop;
    (void)revents;
    br_opart_t *op = t->data;
    op->load_on = false;
    if (op->state == BR_OP_LOADING)
        br_groups_load(op->gc, op->partition);
}

static void br_groups_role_fn(void *arg, const char *topic, int32_t partition, br_role_t old_role,
                          br_role_t new_role, int32_t leader_epoch)
{
    (void)old_role;
    (void)leader_epoch;
    br_groups_t *gc = arg;
    if (strcmp(topic, BR_OFFSETS_TOPIC) != 0 || partition < 0 ||
        partition >= gc->cfg.offsets_topic_num_partitions)
        return;
    br_opart_t *op = &gc->parts[partition];
    if (new_role == BR_ROLE_LEADER) {
        if (op->state != BR_OP_NONE)
            return; /* same data, new epoch: stay loaded */
        op->state = BR_OP_LOADING; /* deferred: never read the log inside apply_state */
        ev_timer_set(&op->load, 0.0, 0.0);
        ev_timer_start(gc->loop, &op->load);
        op->load_on = true;
    } else if (op->state != BR_OP_NONE) {
        br_groups_unload(gc, partition);
    }
}

void br_groups_partition_led(br_groups_t *gc)
{
    for (int32_t p = 0; p < gc->cfg.offsets_topic_num_partitions; p++) {
        br_pm_part_info_t info;
        bool led = br_pm_local_info(gc->pm, BR_OFFSETS_TOPIC, p, &info) == ST_OK &&
                   info.role == BR_ROLE_LEADER;
        br_groups_role_fn(gc, BR_OFFSETS_TOPIC, p, BR_ROLE_NONE, led ? BR_ROLE_LEADER : BR_ROLE_NONE,
                      led ? info.leader_epoch : -1);
    }
}

/* ------------------------------------------------------ lifecycle */

br_groups_t *br_groups_new(struct ev_loop *loop, br_pm_t *pm, int32_t broker_id,
                   const br_group_config_t *cfg, const br_group_meta_t *meta)
{
    if (!loop || !pm || !cfg || cfg->offsets_topic_num_partitions <= 0 ||
        cfg->group_min_session_timeout_ms > cfg->group_max_session_timeout_ms)
        return NULL;
    br_groups_t *gc = calloc(1, sizeof *gc);
    if (!gc)
        return NULL;
    gc->loop = loop;
    gc->pm = pm;
    gc->broker_id = broker_id;
    gc->cfg = *cfg;
    if (meta)
        gc->meta = *meta;
    gc->parts = calloc((size_t)cfg->offsets_topic_num_partitions, sizeof *gc->parts);
    gc->buckets = calloc(BR_GROUPS_INITIAL_BUCKETS, sizeof *gc->buckets);
    if (!gc->parts || !gc->buckets)
        goto fail;
    gc->n_buckets = BR_GROUPS_INITIAL_BUCKETS;
    for (int32_t p = 0; p < cfg->offsets_topic_num_partitions; p++) {
        gc->parts[p].gc = gc;
        gc->parts[p].partition = p;
        ev_timer_init(&gc->parts[p].load, br_groups_load_cb, 0.0, 0.0);
        gc->parts[p].load.data = &gc->parts[p];
    }
    if (br_pm_add_role_fn(pm, br_groups_role_fn, gc) != ST_OK)
        goto fail;
    gc->last_retention_ms = br_groups_now();
    br_groups_partition_led(gc);
    return gc;
fail:
    free(gc->parts);
    free(gc->buckets);
    free(gc);
    return NULL;
}

void br_groups_free(br_groups_t *gc)
{
    if (!gc)
        return;
    br_pm_remove_role_fn(gc->pm, br_groups_role_fn, gc);
    /* appends still in flight: answer their calls, orphan them (the
     * partition manager completes and frees them later) */
    for (br_gop_t *op = gc->ops; op; op = op->next) {
        op->gc = NULL;
        switch (op->kind) {
        case BR_GOP_COMMIT:
            for (size_t i = 0; i < op->commit->n_items; i++)
                if (op->commit->items[i].write)
                    op->commit->items[i].err = ST_ERR_NOT_COORDINATOR;
            br_gcommit_reply(op->call, op->commit, ST_OK);
            break;
        case BR_GOP_STATIC:
            br_groups_reply_join(op->call, ST_ERR_NOT_COORDINATOR, op->new_id);
            break;
        case BR_GOP_DELETE:
            op->del->res[op->del_idx].error = STRATA__ERROR_CODE__NOT_COORDINATOR;
            if (--op->del->outstanding == 0)
                br_gdelete_reply(op->del);
            break;
        case BR_GOP_FIRE:
        case BR_GOP_SYNC:
            break; /* no call of its own (parked syncs go with their group) */
        }
    }
    for (int32_t p = 0; p < gc->cfg.offsets_topic_num_partitions; p++)
        br_groups_unload(gc, p);
    free(gc->parts);
    free(gc->buckets);
    free(gc);
}

/* ------------------------------------------------------ retention */

/* Offsets of empty groups past their retention, and empty groups left
 * without offsets: tombstones, then gone (Kafka's cleanupGroupMetadata). */
static void br_groups_expire(br_groups_t *gc, int64_t now)
{
    for (size_t i = 0; i < gc->n_buckets; i++) {
        br_group_t *g = gc->buckets[i];
        while (g) {
            br_group_t *next = g->hnext;
            if (g->state != BR_GS_EMPTY || g->n_members > 0) {
                g = next;
                continue;
            }
            st_batch_builder_t b;
            st_batch_builder_init(&b, ST_CODEC_NONE);
            size_t expired = 0;
            int64_t ts = now;
            for (size_t k = g->n_offsets; k-- > 0;) {
                br_goffset_t *o = &g->offsets[k];
                int64_t base = g->protocol_type ? g->state_ts : o->commit_ts;
                bool gone = o->expire_ts >= 0 ? now >= o->expire_ts
                                              : now - base >= gc->cfg.offsets_retention_ms;
                if (!gone)
                    continue;
                if (br_group_log_add_offset(&b, ts, g->id, o->topic, o->partition, NULL) != ST_OK)
                    break;
                br_group_offset_remove(g, o);
                expired++;
            }
            bool dead = g->n_offsets == 0;
            if (dead && g->has_meta && br_group_log_add_group(&b, ts, g->id, NULL) != ST_OK)
                dead = false;
            if (expired > 0 || dead) {
                br_gop_t *op = br_gop_new(BR_GOP_FIRE, g, NULL);
                st_log(ST_LOG_INFO, BR_GTAG, "group %s: %zu offset(s) expired%s", g->id, expired,
                       dead ? "; group removed" : "");
                if (dead) {
                    br_group_transition(g, BR_GS_DEAD);
                    br_groups_remove_group(gc, g, ST_ERR_COORDINATOR_NOT_AVAILABLE);
                }
                if (op && st_batch_builder_size(&b) > 0)
                    br_groups_write(gc, &b, op);
                else if (op)
                    br_gop_free(op);
            }
            st_batch_builder_fini(&b);
            g = next;
        }
    }
}

void br_groups_tick(br_groups_t *gc, int64_t now_ms)
{
    if (!gc)
        return;
    if (now_ms - gc->last_retention_ms >= gc->cfg.offsets_retention_check_interval_ms ||
        now_ms < gc->last_retention_ms) {
        gc->last_retention_ms = now_ms;
        br_groups_expire(gc, now_ms);
    }
}

/* ------------------------------------------------------ dispatch */

void br_groups_handle(br_groups_t *gc, br_call_t *call, const Strata__Request *req)
{
    switch (req->body_case) {
    case STRATA__REQUEST__BODY_FIND_COORDINATOR:
        if (req->find_coordinator)
            return br_groups_find_coordinator(gc, call, req->find_coordinator);
        break;
    case STRATA__REQUEST__BODY_JOIN_GROUP:
        if (req->join_group)
            return br_groups_join(gc, call, req, req->join_group);
        break;
    case STRATA__REQUEST__BODY_SYNC_GROUP:
        if (req->sync_group)
            return br_groups_sync(gc, call, req->sync_group);
        break;
    case STRATA__REQUEST__BODY_HEARTBEAT:
        if (req->heartbeat)
            return br_groups_heartbeat(gc, call, req->heartbeat);
        break;
    case STRATA__REQUEST__BODY_LEAVE_GROUP:
        if (req->leave_group)
            return br_groups_leave(gc, call, req->leave_group);
        break;
    case STRATA__REQUEST__BODY_OFFSET_COMMIT:
        if (req->offset_commit)
            return br_groups_commit(gc, call, req->offset_commit);
        break;
    case STRATA__REQUEST__BODY_OFFSET_FETCH:
        if (req->offset_fetch)
            return br_groups_fetch(gc, call, req->offset_fetch);
        break;
    case STRATA__REQUEST__BODY_LIST_GROUPS:
        if (req->list_groups)
            return br_groups_list(gc, call, req->list_groups);
        break;
    case STRATA__REQUEST__BODY_DESCRIBE_GROUPS:
        if (req->describe_groups)
            return br_groups_describe(gc, call, req->describe_groups);
        break;
    case STRATA__REQUEST__BODY_DELETE_GROUPS:
        if (req->delete_groups)
            return br_groups_delete(gc, call, req->delete_groups);
        break;
    default:
        break;
    }
    br_call_reply_error(call, ST_ERR_INVALID_REQUEST, "not a group coordinator request");
}

bool br_groups_group_info(const br_groups_t *gc, const char *group_id, br_gstate_t *state,
                      int32_t *generation, int *n_members)
{
    const br_group_t *g = br_groups_find(gc, group_id);
    if (!g)
        return false;
    if (state)
        *state = g->state;
    if (generation)
        *generation = g->generation;
    if (n_members)
        *n_members = (int)g->n_members;
    return true;
}
