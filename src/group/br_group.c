/*
 * br_group: one group of the coordinator (see br_group_int.h): its
 * members, pending member ids and committed offsets, the replies to its
 * parked calls, and its state machine with the rebalance it drives; also
 * the coordinator's settings defaults and the group -> offsets partition
 * mapping of br_group.h.
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
#include "group/br_group_int.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/st_log.h"

/* ------------------------------------------------------------ utils */

char *br_group_strdup(const char *s)
{
    return strdup(s ? s : "");
}

bool br_group_streq(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

const char *br_group_nz(const char *s)
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

const char *br_group_state_name(br_group_state_t s)
{
    switch (s) {
    case BR_GS_EMPTY:
        return "Empty";
    case BR_GS_PREPARING_REBALANCE:
        return "PreparingRebalance";
    case BR_GS_COMPLETING_REBALANCE:
        return "CompletingRebalance";
    case BR_GS_STABLE:
        return "Stable";
    case BR_GS_DEAD:
        return "Dead";
    }
    return "Unknown";
}

/* Next code point of UTF-8 text (malformed input: U+FFFD, one byte). */
static uint32_t br_group_utf8_next(const unsigned char **pp)
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
        uint32_t c = br_group_utf8_next(&p);
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

/* ------------------------------------------------------ replies */

void br_group_reply(br_call_t *call, Strata__Response *resp)
{
    if (call)
        br_call_reply(call, resp);
}

void br_group_reply_join(br_call_t *call, st_err_t err, const char *member_id)
{
    Strata__JoinGroupResponse b = STRATA__JOIN_GROUP_RESPONSE__INIT;
    b.version = 1;
    b.error = (Strata__ErrorCode)err;
    b.generation_id = -1;
    b.member_id = (char *)(member_id ? member_id : "");
    Strata__Response resp = STRATA__RESPONSE__INIT;
    resp.body_case = STRATA__RESPONSE__BODY_JOIN_GROUP;
    resp.join_group = &b;
    br_group_reply(call, &resp);
}

void br_group_reply_sync(br_call_t *call, st_err_t err, const br_group_t *g, const uint8_t *assignment,
                         size_t len)
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
    br_group_reply(call, &resp);
}

void br_group_reply_heartbeat(br_call_t *call, st_err_t err)
{
    Strata__HeartbeatResponse b = STRATA__HEARTBEAT_RESPONSE__INIT;
    b.version = 1;
    b.error = (Strata__ErrorCode)err;
    Strata__Response resp = STRATA__RESPONSE__INIT;
    resp.body_case = STRATA__RESPONSE__BODY_HEARTBEAT;
    resp.heartbeat = &b;
    br_group_reply(call, &resp);
}

/* ------------------------------------------------------ members */

void br_group_proto_free(br_group_proto_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(p[i].name);
        free(p[i].data);
    }
    free(p);
}

st_err_t br_group_proto_copy(Strata__JoinGroupProtocol *const *src, size_t n, br_group_proto_t **out,
                             size_t *n_out)
{
    br_group_proto_t *p = calloc(n ? n : 1, sizeof *p);
    if (!p)
        return ST_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        const Strata__JoinGroupProtocol *s = src[i];
        p[i].name = br_group_strdup(s ? s->name : "");
        p[i].len = s ? s->metadata.len : 0;
        p[i].data = malloc(p[i].len ? p[i].len : 1);
        if (!p[i].name || !p[i].data) {
            br_group_proto_free(p, i + 1);
            return ST_ERR_NOMEM;
        }
        if (p[i].len)
            memcpy(p[i].data, s->metadata.data, p[i].len);
    }
    *out = p;
    *n_out = n;
    return ST_OK;
}

bool br_group_proto_same(const br_group_member_t *m, Strata__JoinGroupProtocol *const *src, size_t n)
{
    if (m->n_protos != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        const Strata__JoinGroupProtocol *s = src[i];
        if (!s || !br_group_streq(m->protos[i].name, s->name) || m->protos[i].len != s->metadata.len ||
            (s->metadata.len && memcmp(m->protos[i].data, s->metadata.data, s->metadata.len)))
            return false;
    }
    return true;
}

const br_group_proto_t *br_group_member_proto(const br_group_member_t *m, const char *name)
{
    for (size_t i = 0; i < m->n_protos; i++)
        if (br_group_streq(m->protos[i].name, name))
            return &m->protos[i];
    return NULL;
}

br_group_member_t *br_group_find_member(const br_group_t *g, const char *id)
{
    for (size_t i = 0; id && i < g->n_members; i++)
        if (strcmp(g->members[i]->id, id) == 0)
            return g->members[i];
    return NULL;
}

br_group_member_t *br_group_find_instance(const br_group_t *g, const char *instance)
{
    for (size_t i = 0; instance && i < g->n_members; i++)
        if (g->members[i]->instance_id && strcmp(g->members[i]->instance_id, instance) == 0)
            return g->members[i];
    return NULL;
}

static void br_group_member_session_cb(struct ev_loop *loop, ev_timer *t, int revents);

void br_group_member_touch(br_group_member_t *m)
{
    struct ev_loop *loop = m->group->gc->loop;
    ev_timer_stop(loop, &m->session);
    ev_timer_set(&m->session, (double)m->session_timeout_ms / 1000.0, 0.0);
    ev_timer_start(loop, &m->session);
}

void br_group_member_free(br_group_member_t *m)
{
    ev_timer_stop(m->group->gc->loop, &m->session);
    free(m->id);
    free(m->instance_id);
    free(m->client_id);
    free(m->client_host);
    br_group_proto_free(m->protos, m->n_protos);
    free(m->assignment);
    free(m);
}

br_group_member_t *br_group_member_new(br_group_t *g, const char *id, const char *instance,
                                       const char *client_id, const char *client_host, int32_t session_ms,
                                       int32_t rebalance_ms)
{
    br_group_member_t *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->group = g;
    ev_timer_init(&m->session, br_group_member_session_cb, 1.0, 0.0);
    m->session.data = m;
    m->id = br_group_strdup(id);
    m->instance_id = instance ? strdup(instance) : NULL;
    m->client_id = br_group_strdup(client_id);
    m->client_host = br_group_strdup(client_host);
    if (!m->id || (instance && !m->instance_id) || !m->client_id || !m->client_host) {
        br_group_member_free(m);
        return NULL;
    }
    m->session_timeout_ms = session_ms;
    m->rebalance_timeout_ms = rebalance_ms;
    return m;
}

st_err_t br_group_add_member(br_group_t *g, br_group_member_t *m)
{
    br_group_member_t **n = realloc(g->members, (g->n_members + 1) * sizeof *n);
    if (!n)
        return ST_ERR_NOMEM;
    g->members = n;
    g->members[g->n_members++] = m;
    return ST_OK;
}

void br_group_drop_member(br_group_t *g, br_group_member_t *m, st_err_t err)
{
    for (size_t i = 0; i < g->n_members; i++) {
        if (g->members[i] == m) {
            memmove(&g->members[i], &g->members[i + 1], (g->n_members - i - 1) * sizeof *g->members);
            g->n_members--;
            break;
        }
    }
    if (m->join_call)
        br_group_reply_join(m->join_call, err, m->id);
    if (m->sync_call)
        br_group_reply_sync(m->sync_call, err, NULL, NULL, 0);
    if (g->leader && strcmp(g->leader, m->id) == 0) {
        free(g->leader);
        g->leader = NULL;
    }
    br_group_member_free(m);
}

static void br_group_pending_free(br_groups_t *gc, br_group_pending_t *p)
{
    ev_timer_stop(gc->loop, &p->timer);
    free(p->id);
    free(p);
}

ssize_t br_group_pending_idx(const br_group_t *g, const char *id)
{
    for (size_t i = 0; id && i < g->n_pending; i++)
        if (strcmp(g->pending[i]->id, id) == 0)
            return (ssize_t)i;
    return -1;
}

void br_group_drop_pending(br_group_t *g, size_t i)
{
    br_group_pending_t *p = g->pending[i];
    g->pending[i] = g->pending[--g->n_pending];
    br_group_pending_free(g->gc, p);
}

/* ------------------------------------------------------ offsets */

br_group_offset_t *br_group_find_offset(br_group_t *g, const char *topic, int32_t partition)
{
    for (size_t i = 0; i < g->n_offsets; i++)
        if (g->offsets[i].partition == partition && strcmp(g->offsets[i].topic, topic) == 0)
            return &g->offsets[i];
    return NULL;
}

static void br_group_offset_fini(br_group_offset_t *o)
{
    free(o->topic);
    free(o->metadata);
}

void br_group_offset_remove(br_group_t *g, br_group_offset_t *o)
{
    br_group_offset_fini(o);
    *o = g->offsets[--g->n_offsets];
}

st_err_t br_group_offset_put(br_group_t *g, const br_group_offset_t *v)
{
    br_group_offset_t *o = br_group_find_offset(g, v->topic, v->partition);
    /* only a record appended later replaces one: completions of commits
     * in flight together may run in any order */
    if (o && v->log_offset >= 0 && o->log_offset > v->log_offset)
        return ST_OK;
    char *md = br_group_strdup(v->metadata);
    if (!md)
        return ST_ERR_NOMEM;
    if (!o) {
        char *t = strdup(v->topic);
        br_group_offset_t *n = t ? realloc(g->offsets, (g->n_offsets + 1) * sizeof *n) : NULL;
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
    o->log_offset = v->log_offset;
    return ST_OK;
}

void br_group_free(br_group_t *g, st_err_t err)
{
    br_groups_t *gc = g->gc;
    ev_timer_stop(gc->loop, &g->join_timer);
    while (g->n_members)
        br_group_drop_member(g, g->members[g->n_members - 1], err);
    while (g->n_pending)
        br_group_drop_pending(g, g->n_pending - 1);
    for (size_t i = 0; i < g->n_offsets; i++)
        br_group_offset_fini(&g->offsets[i]);
    free(g->offsets);
    free(g->members);
    free(g->pending);
    free(g->id);
    free(g->protocol_type);
    free(g->protocol);
    free(g->leader);
    free(g);
}

/* ------------------------------------------------------ state machine */

void br_group_transition(br_group_t *g, br_group_state_t to)
{
    br_group_state_t from = g->state;
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
    g->state_ts = st_wall_ms();
    if (to != BR_GS_PREPARING_REBALANCE && g->join_timer_on) {
        ev_timer_stop(g->gc->loop, &g->join_timer);
        g->join_timer_on = false;
    }
    st_log(ST_LOG_DEBUG, BR_GTAG, "group %s: %s -> %s (generation %d)", g->id, br_group_state_name(from),
           br_group_state_name(to), g->generation);
}

/* ------------------------------------------------------ rebalance */

void br_group_reply_join_current(br_group_t *g, br_group_member_t *m, br_call_t *call, bool skip_assignment)
{
    bool leader = g->leader && strcmp(g->leader, m->id) == 0;
    size_t n = leader ? g->n_members : 0;
    Strata__JoinGroupMember *jm = calloc(n ? n : 1, sizeof *jm);
    Strata__JoinGroupMember **jp = calloc(n ? n : 1, sizeof *jp);
    if (!jm || !jp) {
        free(jm);
        free(jp);
        br_group_reply_join(call, ST_ERR_UNKNOWN_SERVER_ERROR, m->id);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const br_group_member_t *o = g->members[i];
        strata__join_group_member__init(&jm[i]);
        jp[i] = &jm[i];
        jm[i].member_id = o->id;
        jm[i].group_instance_id = (char *)(o->instance_id ? o->instance_id : "");
        const br_group_proto_t *p = br_group_member_proto(o, g->protocol);
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
    br_group_reply(call, &resp);
    free(jm);
    free(jp);
}

static bool br_group_all_support(const br_group_t *g, const char *name)
{
    for (size_t i = 0; i < g->n_members; i++)
        if (!br_group_member_proto(g->members[i], name))
            return false;
    return true;
}

/* Kafka's vote: each member votes for its first protocol that every
 * member supports; most votes wins, ties go to the first member's order. */
static const char *br_group_select_protocol(const br_group_t *g)
{
    const br_group_member_t *first = g->members[0];
    const char *best = first->n_protos ? first->protos[0].name : "";
    size_t best_votes = 0;
    for (size_t c = 0; c < first->n_protos; c++) {
        const char *name = first->protos[c].name;
        if (!br_group_all_support(g, name))
            continue;
        size_t votes = 0;
        for (size_t i = 0; i < g->n_members; i++) {
            const br_group_member_t *m = g->members[i];
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

bool br_group_supports(const br_group_t *g, const char *ptype, Strata__JoinGroupProtocol *const *protos,
                       size_t n, const br_group_member_t *self)
{
    if (!ptype || !*ptype || n == 0)
        return false;
    size_t others = g->n_members - (self ? 1 : 0);
    if (others == 0)
        return true;
    if (!br_group_streq(g->protocol_type, ptype))
        return false;
    for (size_t k = 0; k < n; k++) {
        if (!protos[k])
            continue;
        bool all = true;
        for (size_t i = 0; i < g->n_members && all; i++)
            if (g->members[i] != self)
                all = br_group_member_proto(g->members[i], protos[k]->name) != NULL;
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

void br_group_reset_assignments(br_group_t *g, st_err_t err)
{
    for (size_t i = 0; i < g->n_members; i++) {
        br_group_member_t *m = g->members[i];
        free(m->assignment);
        m->assignment = NULL;
        m->assignment_len = 0;
        if (m->sync_call) {
            br_group_reply_sync(m->sync_call, err, NULL, NULL, 0);
            m->sync_call = NULL;
        }
    }
    g->sync_writing_gen = -1;
}

void br_group_prepare_rebalance(br_group_t *g, const char *reason)
{
    if (g->state == BR_GS_PREPARING_REBALANCE || g->state == BR_GS_DEAD)
        return;
    if (g->state == BR_GS_COMPLETING_REBALANCE)
        br_group_reset_assignments(g, ST_ERR_REBALANCE_IN_PROGRESS);
    bool from_empty = g->state == BR_GS_EMPTY;
    br_group_transition(g, BR_GS_PREPARING_REBALANCE);
    int64_t now = st_wall_ms(), max_rt = br_group_max_rebalance_ms(g);
    g->rebalance_deadline = now + max_rt;
    if (from_empty) {
        int64_t d = g->gc->cfg.group_initial_rebalance_delay_ms;
        g->initial_until = now + (d < max_rt ? d : max_rt);
        g->initial_limit = now + max_rt;
    } else {
        g->initial_until = 0;
    }
    st_log(ST_LOG_INFO, BR_GTAG, "group %s: preparing to rebalance (generation %d): %s", g->id, g->generation,
           reason);
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
    g->protocol = br_group_strdup(br_group_select_protocol(g));
    if (!g->leader || !br_group_find_member(g, g->leader)) {
        free(g->leader);
        g->leader = strdup(g->members[0]->id);
    }
    br_group_transition(g, BR_GS_COMPLETING_REBALANCE);
    st_log(ST_LOG_INFO, BR_GTAG, "group %s: generation %d with %zu member(s), protocol %s", g->id,
           g->generation, g->n_members, g->protocol ? g->protocol : "?");
    for (size_t i = 0; i < g->n_members; i++) {
        br_group_member_t *m = g->members[i];
        if (m->join_call) {
            br_call_t *c = m->join_call;
            m->join_call = NULL;
            br_group_reply_join_current(g, m, c, false);
        }
        br_group_member_touch(m);
    }
}

void br_group_try_complete_join(br_group_t *g)
{
    if (g->state != BR_GS_PREPARING_REBALANCE)
        return;
    int64_t now = st_wall_ms();
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
            br_group_member_t *m = g->members[i];
            if (!m->join_call) {
                st_log(ST_LOG_INFO, BR_GTAG, "group %s: member %s did not rejoin in time", g->id, m->id);
                br_group_drop_member(g, m, ST_ERR_UNKNOWN_MEMBER_ID);
            }
        }
        while (g->n_pending)
            br_group_drop_pending(g, g->n_pending - 1);
    }
    br_group_complete_join(g);
}

void br_group_join_timer_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)loop;
    (void)revents;
    br_group_t *g = t->data;
    g->join_timer_on = false;
    br_group_try_complete_join(g);
}

void br_group_members_changed(br_group_t *g, const char *reason)
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

static void br_group_member_session_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)loop;
    (void)revents;
    br_group_member_t *m = t->data;
    br_group_t *g = m->group;
    if (m->join_call || m->sync_call) { /* parked calls keep it alive */
        br_group_member_touch(m);
        return;
    }
    st_log(ST_LOG_INFO, BR_GTAG, "group %s: member %s session expired", g->id, m->id);
    br_group_drop_member(g, m, ST_ERR_UNKNOWN_MEMBER_ID);
    br_group_members_changed(g, "a member's session expired");
}

void br_group_pending_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)loop;
    (void)revents;
    br_group_pending_t *p = t->data;
    br_group_t *g = p->group;
    ssize_t i = br_group_pending_idx(g, p->id);
    if (i >= 0)
        br_group_drop_pending(g, (size_t)i);
    br_group_try_complete_join(g);
}

/* ------------------------------------------------------ load */

void br_group_clear_meta(br_group_t *g)
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
