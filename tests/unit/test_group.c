/*
 * Unit tests of the group coordinator (br_groups, br_group_log,
 * br_pm_local): a real partition manager over an sl_logdir in a temp
 * dir hosts __consumer_offsets (this broker leads it, alone in the ISR,
 * so every append is acknowledged at once), a private libev loop driven
 * with EVRUN_NOWAIT for the coordinator's timers, and the br_call test
 * double of tu_call.c that captures the encoded reply. No network.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "group/br_groups.h"
#include "group/br_group_log.h"
#include "partition/br_pm.h"
#include "partition/br_pm_local.h"
#include "strata.pb-c.h"
#include "tu.h"
#include "tu_call.h"

/* ----------------------------------------------------------------- calls */

static uint64_t g_corr = 1;

static br_call_t *call_new(void)
{
    br_call_t *c = calloc(1, sizeof *c);
    tu_call_init(c, g_corr++, -1);
    return c;
}

static void call_free(br_call_t *c)
{
    if (!c)
        return;
    tu_call_fini(c);
    free(c);
}

/* --------------------------------------------------------------- fixture */

#define NPARTS 4
#define GROUP "g1" /* partition 3242 % 4 = 2 */

static char *g_dir;
static sl_logdir_t *g_ld;
static struct ev_loop *g_loop;
static br_pm_t *g_pm;
static br_groups_t *g_gc;
static sl_log_config_t g_cfg;
static br_pm_limits_t g_limits;
static br_group_config_t g_gcfg;
static int32_t g_epoch;

/* metadata double: the offsets topic exists when g_topic_exists */
static bool g_topic_exists;
static int32_t g_rebalance_ms; /* rebalance_timeout_ms of joins */
static int g_ensure_calls;

static int32_t meta_leader(void *arg, const char *topic, int32_t partition, bool *exists)
{
    (void)arg;
    (void)partition;
    *exists = g_topic_exists && strcmp(topic, BR_OFFSETS_TOPIC) == 0;
    return *exists ? 1 : -1;
}

static const char *meta_url(void *arg, int32_t id)
{
    (void)arg;
    return id == 1 ? "tcp://127.0.0.1:40001" : NULL;
}

static void meta_ensure(void *arg, int32_t n, int16_t rf)
{
    (void)arg;
    CU_ASSERT_EQUAL(n, NPARTS);
    CU_ASSERT_EQUAL(rf, 3);
    g_ensure_calls++;
}

static const br_group_meta_t g_meta = {meta_leader, meta_url, meta_ensure, NULL};

static void pump(void)
{
    for (int i = 0; i < 3; i++)
        ev_run(g_loop, EVRUN_NOWAIT);
}

static void host_offsets(void)
{
    int32_t replicas[] = {1};
    br_part_state_t st = {
        .leader = 1,
        .leader_epoch = g_epoch,
        .controller_epoch = 1,
        .replicas = replicas,
        .n_replicas = 1,
        .isr = replicas,
        .n_isr = 1,
    };
    for (int32_t p = 0; p < NPARTS; p++)
        CU_ASSERT_FATAL(br_pm_apply_state(g_pm, BR_OFFSETS_TOPIC, p, &st, &g_cfg) == ST_OK);
}

static void coordinator_open(void)
{
    CU_ASSERT_FATAL(sl_logdir_open(g_dir, &g_ld) == ST_OK);
    g_pm = br_pm_new(g_loop, 1, &g_ld, 1, &g_limits);
    CU_ASSERT_FATAL(g_pm != NULL);
    g_gc = br_groups_new(g_loop, g_pm, 1, &g_gcfg, &g_meta);
    CU_ASSERT_FATAL(g_gc != NULL);
    g_epoch++;
    host_offsets();
}

static void coordinator_close(void)
{
    br_groups_free(g_gc);
    g_gc = NULL;
    br_pm_free(g_pm, true);
    g_pm = NULL;
    sl_logdir_close(g_ld, true);
    g_ld = NULL;
}

static void setup(void)
{
    g_dir = tu_tmpdir("test_group");
    g_loop = ev_loop_new(EVFLAG_AUTO);
    sl_log_config_default(&g_cfg);
    g_cfg.cleanup_policy = SL_CLEANUP_COMPACT;
    memset(&g_limits, 0, sizeof g_limits);
    g_limits.message_max_bytes = 1048588;
    g_limits.fetch_max_bytes = 57671680;
    g_limits.max_wait_ms_cap = 30000;
    g_limits.log_message_timestamp_difference_max_ms = INT64_MAX;
    br_group_config_default(&g_gcfg);
    g_gcfg.offsets_topic_num_partitions = NPARTS;
    g_gcfg.group_initial_rebalance_delay_ms = 0;
    g_gcfg.group_min_session_timeout_ms = 1;
    g_gcfg.offsets_retention_check_interval_ms = 0;
    g_epoch = 0;
    g_topic_exists = true;
    g_ensure_calls = 0;
    g_rebalance_ms = 10000;
    coordinator_open();
    pump(); /* the deferred loads */
}

static void teardown(void)
{
    if (g_gc)
        coordinator_close();
    ev_loop_destroy(g_loop);
    tu_rmrf(g_dir);
    free(g_dir);
}

/* ------------------------------------------------------------- requests */

/* The group rows of the broker's request table (br_api.c), which the
 * unit does not link: body case -> handler. */
static void dispatch(br_call_t *c, const Strata__Request *req)
{
    static const struct {
        Strata__Request__BodyCase body;
        void (*fn)(br_groups_t *, br_call_t *, const Strata__Request *);
    } rows[] = {
        {STRATA__REQUEST__BODY_FIND_COORDINATOR, br_groups_handle_find_coordinator},
        {STRATA__REQUEST__BODY_JOIN_GROUP, br_groups_handle_join_group},
        {STRATA__REQUEST__BODY_SYNC_GROUP, br_groups_handle_sync_group},
        {STRATA__REQUEST__BODY_HEARTBEAT, br_groups_handle_heartbeat},
        {STRATA__REQUEST__BODY_LEAVE_GROUP, br_groups_handle_leave_group},
        {STRATA__REQUEST__BODY_OFFSET_COMMIT, br_groups_handle_offset_commit},
        {STRATA__REQUEST__BODY_OFFSET_FETCH, br_groups_handle_offset_fetch},
        {STRATA__REQUEST__BODY_LIST_GROUPS, br_groups_handle_list_groups},
        {STRATA__REQUEST__BODY_DESCRIBE_GROUPS, br_groups_handle_describe_groups},
        {STRATA__REQUEST__BODY_DELETE_GROUPS, br_groups_handle_delete_groups},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        if (rows[i].body == req->body_case) {
            rows[i].fn(g_gc, c, req);
            return;
        }
    CU_FAIL("not a group request");
}

static br_call_t *send(Strata__Request *req)
{
    br_call_t *c = call_new();
    req->correlation_id = c->corr;
    req->client_id = (char *)"cli";
    dispatch(c, req);
    return c;
}

/* JoinGroup with one "range" protocol whose metadata is `meta`. */
static br_call_t *join(const char *group, const char *member, const char *instance, int32_t session_ms,
                       const char *meta)
{
    Strata__JoinGroupProtocol p = STRATA__JOIN_GROUP_PROTOCOL__INIT;
    p.name = (char *)"range";
    p.metadata.data = (uint8_t *)meta;
    p.metadata.len = strlen(meta);
    Strata__JoinGroupProtocol *pp[] = {&p};
    Strata__JoinGroupRequest j = STRATA__JOIN_GROUP_REQUEST__INIT;
    j.group_id = (char *)group;
    j.session_timeout_ms = session_ms;
    j.rebalance_timeout_ms = g_rebalance_ms;
    j.member_id = (char *)member;
    j.group_instance_id = (char *)(instance ? instance : "");
    j.protocol_type = (char *)"consumer";
    j.n_protocols = 1;
    j.protocols = pp;
    Strata__Request req = STRATA__REQUEST__INIT;
    req.body_case = STRATA__REQUEST__BODY_JOIN_GROUP;
    req.join_group = &j;
    return send(&req);
}

typedef struct join_result {
    int error;
    int32_t generation;
    char member_id[256];
    char leader[256];
    size_t n_members;
    bool skip_assignment;
} join_result_t;

static join_result_t join_result(br_call_t *c)
{
    join_result_t jr;
    memset(&jr, 0, sizeof jr);
    Strata__Response *r = tu_call_response(c);
    CU_ASSERT_FATAL(r->body_case == STRATA__RESPONSE__BODY_JOIN_GROUP);
    jr.error = r->join_group->error;
    jr.generation = r->join_group->generation_id;
    snprintf(jr.member_id, sizeof jr.member_id, "%s", r->join_group->member_id);
    snprintf(jr.leader, sizeof jr.leader, "%s", r->join_group->leader);
    jr.n_members = r->join_group->n_members;
    jr.skip_assignment = r->join_group->skip_assignment;
    strata__response__free_unpacked(r, NULL);
    call_free(c);
    return jr;
}

/* First join of a dynamic member: MEMBER_ID_REQUIRED, then the real join
 * (returned, maybe still parked). */
static br_call_t *join_dynamic(const char *group, int32_t session_ms, const char *meta, char *id_out)
{
    join_result_t jr = join_result(join(group, "", NULL, session_ms, meta));
    CU_ASSERT_EQUAL(jr.error, ST_ERR_MEMBER_ID_REQUIRED);
    CU_ASSERT(strlen(jr.member_id) > 0);
    strcpy(id_out, jr.member_id);
    return join(group, id_out, NULL, session_ms, meta);
}

typedef struct asg {
    const char *member;
    const char *bytes;
} asg_t;

static br_call_t *sync_group(const char *group, int32_t gen, const char *member, const char *instance,
                             const asg_t *a, size_t n)
{
    Strata__SyncGroupAssignment sa[8];
    Strata__SyncGroupAssignment *sp[8];
    for (size_t i = 0; i < n; i++) {
        strata__sync_group_assignment__init(&sa[i]);
        sa[i].member_id = (char *)a[i].member;
        sa[i].assignment.data = (uint8_t *)a[i].bytes;
        sa[i].assignment.len = strlen(a[i].bytes);
        sp[i] = &sa[i];
    }
    Strata__SyncGroupRequest s = STRATA__SYNC_GROUP_REQUEST__INIT;
    s.group_id = (char *)group;
    s.generation_id = gen;
    s.member_id = (char *)member;
    s.group_instance_id = (char *)(instance ? instance : "");
    s.n_assignments = n;
    s.assignments = sp;
    Strata__Request req = STRATA__REQUEST__INIT;
    req.body_case = STRATA__REQUEST__BODY_SYNC_GROUP;
    req.sync_group = &s;
    return send(&req);
}

/* The sync reply's error; its assignment copied to out (size 64). */
static int sync_result(br_call_t *c, char *out)
{
    Strata__Response *r = tu_call_response(c);
    CU_ASSERT_FATAL(r->body_case == STRATA__RESPONSE__BODY_SYNC_GROUP);
    int err = r->sync_group->error;
    if (out)
        snprintf(out, 64, "%.*s", (int)r->sync_group->assignment.len,
                 (const char *)r->sync_group->assignment.data);
    strata__response__free_unpacked(r, NULL);
    call_free(c);
    return err;
}

static int heartbeat(const char *group, int32_t gen, const char *member, const char *instance)
{
    Strata__HeartbeatRequest h = STRATA__HEARTBEAT_REQUEST__INIT;
    h.group_id = (char *)group;
    h.generation_id = gen;
    h.member_id = (char *)member;
    h.group_instance_id = (char *)(instance ? instance : "");
    Strata__Request req = STRATA__REQUEST__INIT;
    req.body_case = STRATA__REQUEST__BODY_HEARTBEAT;
    req.heartbeat = &h;
    br_call_t *c = send(&req);
    Strata__Response *r = tu_call_response(c);
    CU_ASSERT_FATAL(r->body_case == STRATA__RESPONSE__BODY_HEARTBEAT);
    int err = r->heartbeat->error;
    strata__response__free_unpacked(r, NULL);
    call_free(c);
    return err;
}

static int leave(const char *group, const char *member)
{
    Strata__LeavingMember lm = STRATA__LEAVING_MEMBER__INIT;
    lm.member_id = (char *)member;
    Strata__LeavingMember *lp[] = {&lm};
    Strata__LeaveGroupRequest l = STRATA__LEAVE_GROUP_REQUEST__INIT;
    l.group_id = (char *)group;
    l.n_members = 1;
    l.members = lp;
    Strata__Request req = STRATA__REQUEST__INIT;
    req.body_case = STRATA__REQUEST__BODY_LEAVE_GROUP;
    req.leave_group = &l;
    br_call_t *c = send(&req);
    Strata__Response *r = tu_call_response(c);
    CU_ASSERT_FATAL(r->body_case == STRATA__RESPONSE__BODY_LEAVE_GROUP);
    int err = r->leave_group->error;
    if (err == 0 && r->leave_group->n_members == 1)
        err = r->leave_group->members[0]->error;
    strata__response__free_unpacked(r, NULL);
    call_free(c);
    return err;
}

/* Send a commit of one offset; the reply may come later. */
static br_call_t *commit_send(const char *group, int32_t gen, const char *member, const char *topic,
                              int32_t partition, int64_t offset)
{
    Strata__OffsetCommitPartition p = STRATA__OFFSET_COMMIT_PARTITION__INIT;
    p.partition = partition;
    p.offset = offset;
    p.leader_epoch = 3;
    p.metadata = (char *)"md";
    Strata__OffsetCommitPartition *pp[] = {&p};
    Strata__OffsetCommitTopic t = STRATA__OFFSET_COMMIT_TOPIC__INIT;
    t.name = (char *)topic;
    t.n_partitions = 1;
    t.partitions = pp;
    Strata__OffsetCommitTopic *tp[] = {&t};
    Strata__OffsetCommitRequest oc = STRATA__OFFSET_COMMIT_REQUEST__INIT;
    oc.group_id = (char *)group;
    oc.generation_id = gen;
    oc.member_id = (char *)member;
    oc.retention_time_ms = -1;
    oc.n_topics = 1;
    oc.topics = tp;
    Strata__Request req = STRATA__REQUEST__INIT;
    req.body_case = STRATA__REQUEST__BODY_OFFSET_COMMIT;
    req.offset_commit = &oc;
    return send(&req);
}

/* The partition's error (or the top-level one) of a commit's reply. */
static int commit_result(br_call_t *c, int32_t partition)
{
    Strata__Response *r = tu_call_response(c);
    CU_ASSERT_FATAL(r->body_case == STRATA__RESPONSE__BODY_OFFSET_COMMIT);
    int err = r->offset_commit->error;
    if (err == 0) {
        CU_ASSERT_FATAL(r->offset_commit->n_topics == 1);
        CU_ASSERT_FATAL(r->offset_commit->topics[0]->n_partitions == 1);
        CU_ASSERT_EQUAL(r->offset_commit->topics[0]->partitions[0]->partition, partition);
        err = r->offset_commit->topics[0]->partitions[0]->error;
    }
    strata__response__free_unpacked(r, NULL);
    call_free(c);
    return err;
}

/* Commit one offset; returns the partition's error (or the top-level one). */
static int commit(const char *group, int32_t gen, const char *member, const char *topic, int32_t partition,
                  int64_t offset)
{
    return commit_result(commit_send(group, gen, member, topic, partition, offset), partition);
}

/* The committed offset of (topic, partition), -1 when none; *err the
 * top-level error. */
static int64_t fetch_offset(const char *group, const char *topic, int32_t partition, int *err)
{
    int32_t parts[] = {partition};
    Strata__OffsetFetchTopic t = STRATA__OFFSET_FETCH_TOPIC__INIT;
    t.name = (char *)topic;
    t.n_partitions = 1;
    t.partitions = parts;
    Strata__OffsetFetchTopic *tp[] = {&t};
    Strata__OffsetFetchRequest f = STRATA__OFFSET_FETCH_REQUEST__INIT;
    f.group_id = (char *)group;
    f.n_topics = 1;
    f.topics = tp;
    Strata__Request req = STRATA__REQUEST__INIT;
    req.body_case = STRATA__REQUEST__BODY_OFFSET_FETCH;
    req.offset_fetch = &f;
    br_call_t *c = send(&req);
    Strata__Response *r = tu_call_response(c);
    CU_ASSERT_FATAL(r->body_case == STRATA__RESPONSE__BODY_OFFSET_FETCH);
    int64_t off = -2;
    *err = r->offset_fetch->error;
    if (*err == 0) {
        CU_ASSERT_FATAL(r->offset_fetch->n_topics == 1);
        CU_ASSERT_FATAL(r->offset_fetch->topics[0]->n_partitions == 1);
        off = r->offset_fetch->topics[0]->partitions[0]->offset;
    }
    strata__response__free_unpacked(r, NULL);
    call_free(c);
    return off;
}

static int delete_group(const char *group)
{
    char *groups[] = {(char *)group};
    Strata__DeleteGroupsRequest d = STRATA__DELETE_GROUPS_REQUEST__INIT;
    d.n_groups = 1;
    d.groups = groups;
    Strata__Request req = STRATA__REQUEST__INIT;
    req.body_case = STRATA__REQUEST__BODY_DELETE_GROUPS;
    req.delete_groups = &d;
    br_call_t *c = send(&req);
    Strata__Response *r = tu_call_response(c);
    CU_ASSERT_FATAL(r->body_case == STRATA__RESPONSE__BODY_DELETE_GROUPS);
    CU_ASSERT_FATAL(r->delete_groups->n_results == 1);
    int err = r->delete_groups->results[0]->error;
    strata__response__free_unpacked(r, NULL);
    call_free(c);
    return err;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Form a stable group of n dynamic members (ids out); returns the
 * generation. The first member is the leader and assigns "a<i>". */
static int32_t form_group(const char *group, size_t n, int32_t session_ms, char ids[][256])
{
    br_call_t *jc[8];
    /* first member: alone, generation 1 at once (initial delay 0) */
    jc[0] = join_dynamic(group, session_ms, "sub0", ids[0]);
    join_result_t jr = join_result(jc[0]);
    CU_ASSERT_EQUAL_FATAL(jr.error, 0);
    int32_t gen = jr.generation;
    if (n > 1) {
        for (size_t i = 1; i < n; i++) {
            char meta[16];
            snprintf(meta, sizeof meta, "sub%zu", i);
            jc[i] = join_dynamic(group, session_ms, meta, ids[i]);
            CU_ASSERT_EQUAL(jc[i]->replies, 0); /* parked: waiting for the others */
        }
        /* the first learns of the rebalance from its heartbeat, rejoins */
        CU_ASSERT_EQUAL(heartbeat(group, gen, ids[0], NULL), ST_ERR_REBALANCE_IN_PROGRESS);
        jc[0] = join(group, ids[0], NULL, session_ms, "sub0");
        for (size_t i = 0; i < n; i++) {
            jr = join_result(jc[i]);
            CU_ASSERT_EQUAL(jr.error, 0);
            CU_ASSERT_EQUAL(jr.generation, gen + 1);
            CU_ASSERT_STRING_EQUAL(jr.leader, ids[0]);
            CU_ASSERT_EQUAL(jr.n_members, i == 0 ? n : 0); /* subscriptions to the leader only */
        }
        gen++;
    }
    /* followers sync first (parked), then the leader's assignment */
    br_call_t *sc[8];
    asg_t a[8];
    char bytes[8][16];
    for (size_t i = 0; i < n; i++) {
        snprintf(bytes[i], sizeof bytes[i], "a%zu", i);
        a[i].member = ids[i];
        a[i].bytes = bytes[i];
    }
    for (size_t i = 1; i < n; i++) {
        sc[i] = sync_group(group, gen, ids[i], NULL, NULL, 0);
        CU_ASSERT_EQUAL(sc[i]->replies, 0);
    }
    sc[0] = sync_group(group, gen, ids[0], NULL, a, n);
    for (size_t i = 0; i < n; i++) {
        char got[64];
        CU_ASSERT_EQUAL(sync_result(sc[i], got), 0);
        CU_ASSERT_STRING_EQUAL(got, bytes[i]);
    }
    br_group_state_t st;
    int nm = 0;
    CU_ASSERT_FATAL(br_groups_group_info(g_gc, group, &st, NULL, &nm));
    CU_ASSERT_EQUAL(st, BR_GS_STABLE);
    CU_ASSERT_EQUAL(nm, (int)n);
    return gen;
}

/* ----------------------------------------------------------------- tests */

static void test_partition_for(void)
{
    /* Java: Math.abs("my-group".hashCode()) % 50 == 12 (Kafka's tooling) */
    CU_ASSERT_EQUAL(br_group_partition_for("my-group", 50), 12);
    CU_ASSERT_EQUAL(br_group_partition_for("g1", 50), 42);
    /* UTF-16 code units, a surrogate pair for U+1F600 */
    CU_ASSERT_EQUAL(br_group_partition_for("grp-\xc3\xa9\xf0\x9f\x98\x80", 50), 4);
    /* hashCode == INT32_MIN: Kafka's Utils.abs gives 0 */
    CU_ASSERT_EQUAL(br_group_partition_for("polygenelubricants", 50), 0);
    CU_ASSERT_EQUAL(br_group_partition_for(GROUP, NPARTS), 2);
}

static void test_join_sync_three(void)
{
    char ids[3][256];
    int32_t gen = form_group(GROUP, 3, 10000, ids);
    CU_ASSERT_EQUAL(gen, 2);
    /* distinct member ids, prefixed with the client id */
    CU_ASSERT(strcmp(ids[0], ids[1]) != 0 && strcmp(ids[1], ids[2]) != 0);
    CU_ASSERT(strncmp(ids[0], "cli-", 4) == 0);
    CU_ASSERT_EQUAL(heartbeat(GROUP, gen, ids[1], NULL), 0);
    CU_ASSERT_EQUAL(heartbeat(GROUP, gen - 1, ids[1], NULL), ST_ERR_ILLEGAL_GENERATION);
    CU_ASSERT_EQUAL(heartbeat(GROUP, gen, "nobody", NULL), ST_ERR_UNKNOWN_MEMBER_ID);
    CU_ASSERT_EQUAL(heartbeat("", gen, ids[1], NULL), ST_ERR_INVALID_GROUP_ID);
    /* a Stable member re-syncing gets its assignment again */
    char got[64];
    CU_ASSERT_EQUAL(sync_result(sync_group(GROUP, gen, ids[2], NULL, NULL, 0), got), 0);
    CU_ASSERT_STRING_EQUAL(got, "a2");
    CU_ASSERT_EQUAL(sync_result(sync_group(GROUP, gen - 1, ids[2], NULL, NULL, 0), NULL),
                    ST_ERR_ILLEGAL_GENERATION);
    /* a leave triggers a rebalance: the others learn it from heartbeats */
    CU_ASSERT_EQUAL(leave(GROUP, ids[2]), 0);
    CU_ASSERT_EQUAL(heartbeat(GROUP, gen, ids[0], NULL), ST_ERR_REBALANCE_IN_PROGRESS);
    CU_ASSERT_EQUAL(leave(GROUP, ids[2]), ST_ERR_UNKNOWN_MEMBER_ID);
}

static void test_session_expiry(void)
{
    char ids[2][256];
    int32_t gen = form_group(GROUP, 2, 100, ids);
    /* only member 0 heartbeats; member 1's 100 ms session runs out */
    int64_t deadline = wall_ms() + 5000;
    int err = 0;
    while (wall_ms() < deadline) {
        err = heartbeat(GROUP, gen, ids[0], NULL);
        if (err != 0)
            break;
        usleep(10000);
        pump();
    }
    CU_ASSERT_EQUAL_FATAL(err, ST_ERR_REBALANCE_IN_PROGRESS);
    CU_ASSERT_EQUAL(heartbeat(GROUP, gen, ids[1], NULL), ST_ERR_UNKNOWN_MEMBER_ID);
    /* member 0 rejoins and is alone in the next generation */
    join_result_t jr = join_result(join(GROUP, ids[0], NULL, 100, "sub0"));
    CU_ASSERT_EQUAL(jr.error, 0);
    CU_ASSERT_EQUAL(jr.generation, gen + 1);
    CU_ASSERT_EQUAL(jr.n_members, 1);
    /* nobody heartbeats now: the group empties and moves to a new generation */
    deadline = wall_ms() + 5000;
    br_group_state_t st = BR_GS_STABLE;
    while (wall_ms() < deadline) {
        usleep(10000);
        pump();
        CU_ASSERT_FATAL(br_groups_group_info(g_gc, GROUP, &st, NULL, NULL));
        if (st == BR_GS_EMPTY)
            break;
    }
    CU_ASSERT_EQUAL(st, BR_GS_EMPTY);
}

static void test_static_rejoin(void)
{
    /* two static members: no MEMBER_ID_REQUIRED */
    join_result_t j0 = join_result(join(GROUP, "", "inst-0", 10000, "s0"));
    CU_ASSERT_EQUAL_FATAL(j0.error, 0);
    CU_ASSERT_EQUAL(j0.generation, 1);
    br_call_t *c1 = join(GROUP, "", "inst-1", 10000, "s1");
    CU_ASSERT_EQUAL(c1->replies, 0);
    CU_ASSERT_EQUAL(heartbeat(GROUP, 1, j0.member_id, "inst-0"), ST_ERR_REBALANCE_IN_PROGRESS);
    br_call_t *c0 = join(GROUP, j0.member_id, "inst-0", 10000, "s0");
    j0 = join_result(c0);
    join_result_t j1 = join_result(c1);
    CU_ASSERT_EQUAL_FATAL(j0.error, 0);
    CU_ASSERT_EQUAL_FATAL(j1.error, 0);
    CU_ASSERT_EQUAL(j0.generation, 2);
    asg_t a[] = {{j0.member_id, "p0"}, {j1.member_id, "p1"}};
    br_call_t *s1 = sync_group(GROUP, 2, j1.member_id, "inst-1", NULL, 0);
    CU_ASSERT_EQUAL(sync_result(sync_group(GROUP, 2, j0.member_id, "inst-0", a, 2), NULL), 0);
    CU_ASSERT_EQUAL(sync_result(s1, NULL), 0);

    /* inst-1 restarts: empty member id, same instance, within its session */
    join_result_t r = join_result(join(GROUP, "", "inst-1", 10000, "s1"));
    CU_ASSERT_EQUAL_FATAL(r.error, 0);
    CU_ASSERT_EQUAL(r.generation, 2); /* no generation bump */
    CU_ASSERT(strcmp(r.member_id, j1.member_id) != 0);
    CU_ASSERT_STRING_EQUAL(r.leader, j0.member_id);
    br_group_state_t st;
    int32_t gen;
    CU_ASSERT_FATAL(br_groups_group_info(g_gc, GROUP, &st, &gen, NULL));
    CU_ASSERT_EQUAL(st, BR_GS_STABLE);
    CU_ASSERT_EQUAL(gen, 2);
    char got[64];
    CU_ASSERT_EQUAL(sync_result(sync_group(GROUP, 2, r.member_id, "inst-1", NULL, 0), got), 0);
    CU_ASSERT_STRING_EQUAL(got, "p1"); /* its old assignment */
    /* the old incarnation is fenced */
    CU_ASSERT_EQUAL(heartbeat(GROUP, 2, j1.member_id, "inst-1"), ST_ERR_FENCED_INSTANCE_ID);
    CU_ASSERT_EQUAL(heartbeat(GROUP, 2, j1.member_id, NULL), ST_ERR_UNKNOWN_MEMBER_ID);
    CU_ASSERT_EQUAL(heartbeat(GROUP, 2, j0.member_id, "inst-0"), 0);
}

static void test_commit_fetch(void)
{
    int err;
    /* simple (non-member) commit to a group without members */
    CU_ASSERT_EQUAL(commit("simple", -1, "", "t", 0, 42), 0);
    CU_ASSERT_EQUAL(fetch_offset("simple", "t", 0, &err), 42);
    CU_ASSERT_EQUAL(err, 0);
    CU_ASSERT_EQUAL(fetch_offset("simple", "t", 1, &err), -1);
    CU_ASSERT_EQUAL(fetch_offset("unknown-group", "t", 0, &err), -1);
    CU_ASSERT_EQUAL(commit("simple", -1, "", "t", 0, 43), 0);
    CU_ASSERT_EQUAL(fetch_offset("simple", "t", 0, &err), 43);

    /* member commits are checked against generation and member */
    char ids[2][256];
    int32_t gen = form_group(GROUP, 2, 10000, ids);
    CU_ASSERT_EQUAL(commit(GROUP, gen, ids[1], "t", 3, 100), 0);
    CU_ASSERT_EQUAL(commit(GROUP, gen - 1, ids[1], "t", 3, 101), ST_ERR_ILLEGAL_GENERATION);
    CU_ASSERT_EQUAL(commit(GROUP, gen, "ghost", "t", 3, 102), ST_ERR_UNKNOWN_MEMBER_ID);
    CU_ASSERT_EQUAL(commit(GROUP, -1, "", "t", 3, 103), ST_ERR_UNKNOWN_MEMBER_ID);
    CU_ASSERT_EQUAL(fetch_offset(GROUP, "t", 3, &err), 100);

    /* every committed offset when no topics are named */
    Strata__OffsetFetchRequest f = STRATA__OFFSET_FETCH_REQUEST__INIT;
    f.group_id = (char *)"simple";
    Strata__Request req = STRATA__REQUEST__INIT;
    req.body_case = STRATA__REQUEST__BODY_OFFSET_FETCH;
    req.offset_fetch = &f;
    CU_ASSERT_EQUAL(commit("simple", -1, "", "u", 5, 7), 0);
    br_call_t *c = send(&req);
    Strata__Response *r = tu_call_response(c);
    CU_ASSERT_EQUAL(r->offset_fetch->n_topics, 2);
    size_t total = 0;
    for (size_t i = 0; i < r->offset_fetch->n_topics; i++)
        total += r->offset_fetch->topics[i]->n_partitions;
    CU_ASSERT_EQUAL(total, 2);
    strata__response__free_unpacked(r, NULL);
    call_free(c);
}

static void test_failover(void)
{
    char ids[2][256];
    int32_t gen = form_group(GROUP, 2, 30000, ids);
    CU_ASSERT_EQUAL(commit(GROUP, gen, ids[0], "t", 0, 500), 0);
    CU_ASSERT_EQUAL(commit(GROUP, gen, ids[1], "t", 1, 600), 0);
    CU_ASSERT_EQUAL(commit("simple", -1, "", "x", 0, 9), 0);

    /* the old coordinator goes away; a new one on the same log dir */
    coordinator_close();
    coordinator_open();
    /* until the deferred load ran: COORDINATOR_LOAD_IN_PROGRESS */
    CU_ASSERT_EQUAL(heartbeat(GROUP, gen, ids[0], NULL), ST_ERR_COORDINATOR_LOAD_IN_PROGRESS);
    pump();
    int err;
    CU_ASSERT_EQUAL(fetch_offset(GROUP, "t", 0, &err), 500);
    CU_ASSERT_EQUAL(fetch_offset(GROUP, "t", 1, &err), 600);
    CU_ASSERT_EQUAL(fetch_offset("simple", "x", 0, &err), 9);
    CU_ASSERT_EQUAL(err, 0);
    br_group_state_t st;
    int32_t g2;
    int nm;
    CU_ASSERT_FATAL(br_groups_group_info(g_gc, GROUP, &st, &g2, &nm));
    CU_ASSERT_EQUAL(st, BR_GS_STABLE);
    CU_ASSERT_EQUAL(g2, gen);
    CU_ASSERT_EQUAL(nm, 2);
    /* the members carry on where they were */
    CU_ASSERT_EQUAL(heartbeat(GROUP, gen, ids[1], NULL), 0);
    char got[64];
    CU_ASSERT_EQUAL(sync_result(sync_group(GROUP, gen, ids[1], NULL, NULL, 0), got), 0);
    CU_ASSERT_STRING_EQUAL(got, "a1");

    /* leadership lost: NOT_COORDINATOR; regained: loaded again */
    br_pm_resign_all(g_pm);
    CU_ASSERT_EQUAL(heartbeat(GROUP, gen, ids[1], NULL), ST_ERR_NOT_COORDINATOR);
    CU_ASSERT_EQUAL(fetch_offset(GROUP, "t", 0, &err), -2);
    CU_ASSERT_EQUAL(err, ST_ERR_NOT_COORDINATOR);
    g_epoch++;
    host_offsets();
    pump();
    CU_ASSERT_EQUAL(fetch_offset(GROUP, "t", 0, &err), 500);
}

static void test_not_coordinator(void)
{
    /* a group whose offsets partition is not hosted here */
    br_pm_stop(g_pm, BR_OFFSETS_TOPIC, 2, false);
    CU_ASSERT_EQUAL(heartbeat(GROUP, 1, "m", NULL), ST_ERR_NOT_COORDINATOR);
    join_result_t jr = join_result(join(GROUP, "", NULL, 10000, "x"));
    CU_ASSERT_EQUAL(jr.error, ST_ERR_NOT_COORDINATOR);

    /* FindCoordinator answers from the metadata double */
    Strata__FindCoordinatorRequest f = STRATA__FIND_COORDINATOR_REQUEST__INIT;
    f.key = (char *)GROUP;
    Strata__Request req = STRATA__REQUEST__INIT;
    req.body_case = STRATA__REQUEST__BODY_FIND_COORDINATOR;
    req.find_coordinator = &f;
    br_call_t *c = send(&req);
    Strata__Response *r = tu_call_response(c);
    CU_ASSERT_EQUAL(r->find_coordinator->error, 0);
    CU_ASSERT_EQUAL(r->find_coordinator->node_id, 1);
    CU_ASSERT_STRING_EQUAL(r->find_coordinator->url, "tcp://127.0.0.1:40001");
    CU_ASSERT_STRING_EQUAL(r->find_coordinator->host, "127.0.0.1");
    CU_ASSERT_EQUAL(r->find_coordinator->port, 40001);
    strata__response__free_unpacked(r, NULL);
    call_free(c);
    g_topic_exists = false;
    c = send(&req);
    r = tu_call_response(c);
    CU_ASSERT_EQUAL(r->find_coordinator->error, ST_ERR_COORDINATOR_NOT_AVAILABLE);
    CU_ASSERT_EQUAL(g_ensure_calls, 1);
    strata__response__free_unpacked(r, NULL);
    call_free(c);
}

static void test_delete_group(void)
{
    char ids[1][256];
    int32_t gen = form_group(GROUP, 1, 10000, ids);
    CU_ASSERT_EQUAL(commit(GROUP, gen, ids[0], "t", 0, 77), 0);
    CU_ASSERT_EQUAL(delete_group(GROUP), ST_ERR_NON_EMPTY_GROUP);
    CU_ASSERT_EQUAL(leave(GROUP, ids[0]), 0);
    br_group_state_t st;
    CU_ASSERT_FATAL(br_groups_group_info(g_gc, GROUP, &st, NULL, NULL));
    CU_ASSERT_EQUAL(st, BR_GS_EMPTY);
    CU_ASSERT_EQUAL(delete_group(GROUP), 0);
    CU_ASSERT_FALSE(br_groups_group_info(g_gc, GROUP, NULL, NULL, NULL));
    int err;
    CU_ASSERT_EQUAL(fetch_offset(GROUP, "t", 0, &err), -1);
    CU_ASSERT_EQUAL(delete_group(GROUP), ST_ERR_GROUP_ID_NOT_FOUND);
    /* the tombstones survive a coordinator change */
    coordinator_close();
    coordinator_open();
    pump();
    CU_ASSERT_FALSE(br_groups_group_info(g_gc, GROUP, NULL, NULL, NULL));
    CU_ASSERT_EQUAL(fetch_offset(GROUP, "t", 0, &err), -1);
    CU_ASSERT_EQUAL(err, 0);
}

static void test_retention(void)
{
    CU_ASSERT_EQUAL(commit("simple", -1, "", "t", 0, 5), 0);
    char ids[1][256];
    int32_t gen = form_group(GROUP, 1, 60000, ids);
    CU_ASSERT_EQUAL(commit(GROUP, gen, ids[0], "t", 0, 6), 0);
    int64_t later = wall_ms() + g_gcfg.offsets_retention_ms + 1000;
    br_groups_tick(g_gc, later);
    int err;
    /* the empty group's offsets are gone, with the group */
    CU_ASSERT_EQUAL(fetch_offset("simple", "t", 0, &err), -1);
    CU_ASSERT_FALSE(br_groups_group_info(g_gc, "simple", NULL, NULL, NULL));
    /* a group with members keeps its offsets */
    CU_ASSERT_EQUAL(fetch_offset(GROUP, "t", 0, &err), 6);
    /* and it survives a reload that way */
    coordinator_close();
    coordinator_open();
    pump();
    CU_ASSERT_EQUAL(fetch_offset("simple", "t", 0, &err), -1);
    CU_ASSERT_EQUAL(fetch_offset(GROUP, "t", 0, &err), 6);
}

static void test_list_describe(void)
{
    char ids[2][256];
    form_group(GROUP, 2, 10000, ids);
    CU_ASSERT_EQUAL(commit("simple", -1, "", "t", 0, 1), 0);
    Strata__ListGroupsRequest l = STRATA__LIST_GROUPS_REQUEST__INIT;
    char *filter[] = {(char *)"stable"};
    l.n_states_filter = 1;
    l.states_filter = filter;
    Strata__Request req = STRATA__REQUEST__INIT;
    req.body_case = STRATA__REQUEST__BODY_LIST_GROUPS;
    req.list_groups = &l;
    br_call_t *c = send(&req);
    Strata__Response *r = tu_call_response(c);
    CU_ASSERT_EQUAL_FATAL(r->list_groups->n_groups, 1);
    CU_ASSERT_STRING_EQUAL(r->list_groups->groups[0]->group_id, GROUP);
    CU_ASSERT_STRING_EQUAL(r->list_groups->groups[0]->protocol_type, "consumer");
    strata__response__free_unpacked(r, NULL);
    call_free(c);

    char *groups[] = {(char *)GROUP, (char *)"nope"};
    Strata__DescribeGroupsRequest d = STRATA__DESCRIBE_GROUPS_REQUEST__INIT;
    d.n_groups = 2;
    d.groups = groups;
    Strata__Request req2 = STRATA__REQUEST__INIT;
    req2.body_case = STRATA__REQUEST__BODY_DESCRIBE_GROUPS;
    req2.describe_groups = &d;
    c = send(&req2);
    r = tu_call_response(c);
    CU_ASSERT_EQUAL_FATAL(r->describe_groups->n_groups, 2);
    Strata__DescribedGroup *g = r->describe_groups->groups[0];
    CU_ASSERT_STRING_EQUAL(g->state, "Stable");
    CU_ASSERT_STRING_EQUAL(g->protocol, "range");
    CU_ASSERT_EQUAL(g->n_members, 2);
    CU_ASSERT_EQUAL(g->generation_id, 2);
    CU_ASSERT_EQUAL(g->members[1]->assignment.len, 2);
    CU_ASSERT_STRING_EQUAL(r->describe_groups->groups[1]->state, "Dead");
    strata__response__free_unpacked(r, NULL);
    call_free(c);
}

/* Pump the loop until c has its reply (bounded). */
static void wait_reply(br_call_t *c)
{
    int64_t deadline = wall_ms() + 5000;
    while (c->replies == 0 && wall_ms() < deadline) {
        usleep(5000);
        pump();
    }
    CU_ASSERT_EQUAL_FATAL(c->replies, 1);
}

static void test_rebalance_timeout(void)
{
    g_rebalance_ms = 50;
    char ids[2][256];
    int32_t gen = form_group(GROUP, 2, 10000, ids);
    /* the leader rejoins (a rebalance); member 1 never does */
    br_call_t *c = join(GROUP, ids[0], NULL, 10000, "sub0");
    CU_ASSERT_EQUAL(c->replies, 0);
    wait_reply(c);
    join_result_t jr = join_result(c);
    CU_ASSERT_EQUAL(jr.error, 0);
    CU_ASSERT_EQUAL(jr.generation, gen + 1);
    CU_ASSERT_EQUAL(jr.n_members, 1); /* member 1 was removed */
    CU_ASSERT_EQUAL(heartbeat(GROUP, gen + 1, ids[1], NULL), ST_ERR_UNKNOWN_MEMBER_ID);
}

static void test_initial_delay(void)
{
    coordinator_close();
    g_gcfg.group_initial_rebalance_delay_ms = 100;
    coordinator_open();
    pump();
    char id0[256], id1[256];
    br_call_t *c0 = join_dynamic(GROUP, 10000, "sub0", id0);
    br_call_t *c1 = join_dynamic(GROUP, 10000, "sub1", id1);
    /* both wait for the delay, then form generation 1 together */
    CU_ASSERT_EQUAL(c0->replies, 0);
    CU_ASSERT_EQUAL(c1->replies, 0);
    wait_reply(c0);
    wait_reply(c1);
    join_result_t j0 = join_result(c0), j1 = join_result(c1);
    CU_ASSERT_EQUAL(j0.error, 0);
    CU_ASSERT_EQUAL(j1.error, 0);
    CU_ASSERT_EQUAL(j0.generation, 1);
    CU_ASSERT_EQUAL(j1.generation, 1);
    CU_ASSERT_EQUAL(j0.n_members + j1.n_members, 2); /* the leader got both */
    g_gcfg.group_initial_rebalance_delay_ms = 0;
}

/* A local acks=all append whose HW passes only because the ISR shrank
 * under min.insync.replicas is not acknowledged (Kafka's
 * NOT_ENOUGH_REPLICAS_AFTER_APPEND), never ST_OK. */
static int g_la_calls;
static st_err_t g_la_err;

static void la_done(void *arg, st_err_t err, int64_t base)
{
    (void)arg;
    (void)base;
    g_la_calls++;
    g_la_err = err;
}

static void test_local_append_isr_shrink(void)
{
    int32_t replicas[] = {1, 2}, alone[] = {1};
    br_part_state_t st = {
        .leader = 1,
        .leader_epoch = 1,
        .controller_epoch = 1,
        .replicas = replicas,
        .n_replicas = 2,
        .isr = replicas,
        .n_isr = 2,
        .min_insync_replicas = 2,
    };
    CU_ASSERT_FATAL(br_pm_apply_state(g_pm, "t2", 0, &st, &g_cfg) == ST_OK);
    st_batch_builder_t b;
    st_buf_t frame;
    st_buf_init(&frame);
    st_batch_builder_init(&b, ST_CODEC_NONE);
    CU_ASSERT_FATAL(st_batch_builder_add(&b, 1000, "k", 1, "v", 1, NULL, 0) == ST_OK);
    CU_ASSERT_FATAL(st_batch_builder_finish(&b, &frame) == ST_OK);
    st_batch_builder_fini(&b);
    g_la_calls = 0;
    CU_ASSERT_EQUAL(br_pm_local_append(g_pm, "t2", 0, frame.data, frame.len, 60000, la_done, NULL), ST_OK);
    CU_ASSERT_EQUAL(g_la_calls, 0); /* replica 2 has not fetched it */
    st.isr = alone;
    st.n_isr = 1; /* replica 2 dropped out: the HW now passes the batch */
    CU_ASSERT_FATAL(br_pm_apply_state(g_pm, "t2", 0, &st, &g_cfg) == ST_OK);
    br_pm_part_info_t info;
    CU_ASSERT_EQUAL(br_pm_local_info(g_pm, "t2", 0, &info), ST_OK);
    CU_ASSERT_EQUAL(info.hw, 1);
    CU_ASSERT_EQUAL(g_la_calls, 1);
    CU_ASSERT_EQUAL(g_la_err, ST_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND);
    st_buf_free(&frame);
}

/* Two commits in flight, covered by one HW move: the later append wins,
 * whatever order their completions run in. */
static void test_commits_in_append_order(void)
{
    int32_t opart = br_group_partition_for("inflight", NPARTS), r12[] = {1, 2}, r1[] = {1};
    br_part_state_t st = {
        .leader = 1,
        .leader_epoch = g_epoch + 100,
        .controller_epoch = 1,
        .replicas = r12,
        .n_replicas = 2,
        .isr = r12,
        .n_isr = 2,
        .min_insync_replicas = 1,
    };
    CU_ASSERT_FATAL(br_pm_apply_state(g_pm, BR_OFFSETS_TOPIC, opart, &st, &g_cfg) == ST_OK);
    pump();
    br_call_t *c1 = commit_send("inflight", -1, "", "t", 0, 100);
    br_call_t *c2 = commit_send("inflight", -1, "", "t", 0, 200);
    pump();
    CU_ASSERT_EQUAL(c1->replies, 0); /* replica 2 has fetched neither */
    CU_ASSERT_EQUAL(c2->replies, 0);
    st.isr = r1;
    st.n_isr = 1; /* the HW passes both at once */
    CU_ASSERT_FATAL(br_pm_apply_state(g_pm, BR_OFFSETS_TOPIC, opart, &st, &g_cfg) == ST_OK);
    pump();
    CU_ASSERT_EQUAL(commit_result(c1, 0), 0);
    CU_ASSERT_EQUAL(commit_result(c2, 0), 0);
    int err;
    CU_ASSERT_EQUAL(fetch_offset("inflight", "t", 0, &err), 200);
    CU_ASSERT_EQUAL(err, 0);
}

static CU_TestInfo tests[] = {
    {"partition_for = Kafka's", test_partition_for},
    {"join/sync of three members", test_join_sync_three},
    {"session expiry rebalances", test_session_expiry},
    {"static member rejoin", test_static_rejoin},
    {"commit and fetch", test_commit_fetch},
    {"commits complete in append order", test_commits_in_append_order},
    {"coordinator failover", test_failover},
    {"not coordinator, FindCoordinator", test_not_coordinator},
    {"delete group", test_delete_group},
    {"offsets retention", test_retention},
    {"list and describe", test_list_describe},
    {"rebalance timeout drops who did not rejoin", test_rebalance_timeout},
    {"initial rebalance delay", test_initial_delay},
    {"local append after ISR shrink is not acked", test_local_append_isr_shrink},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"br_group", NULL, NULL, setup, teardown, tests},
    CU_SUITE_INFO_NULL,
};

int main(void)
{
    return tu_main(suites);
}
