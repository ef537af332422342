/*
 * br_replica: replication inside the partition manager, without any
 * networking (br_fetcher moves the bytes). Leader side: the
 * OffsetForLeaderEpoch handler (KIP-101) and ISR proposals to the control
 * plane (expand when a follower reaches the high watermark, shrink when
 * one has not caught up for replica.lag.time.max.ms). Follower side: the
 * per-partition state machine (epoch check, then fetch), the requests it
 * sends and how it applies the answers. Owns the broker URL table and the
 * fetchers. Core loop only.
 *
 * Follower rules (Kafka's ReplicaFetcherThread, documented here):
 *   - On becoming follower (new leader or epoch) ask the leader for the
 *     end of our latest epoch E. The answer (E', end): E' == E: truncate
 *     to min(end, LEO). E' < E: we look up where E' ends in our log; if we
 *     have E', truncate to min(end, our end of E'), else ask again about
 *     the largest epoch we have <= E' (KIP-279; epochs strictly decrease,
 *     so this ends). E' unknown (-1): truncate to our HW. An empty log
 *     skips the check; a non-empty log without epochs truncates to HW.
 *   - Fetch at LEO. Batches are appended as they are (offsets and
 *     epochs from the leader); the follower HW becomes
 *     min(leader HW, LEO) and never goes back except by truncation.
 *   - OFFSET_OUT_OF_RANGE: LEO below the leader's log start: restart the
 *     log empty at the leader's log start. Otherwise (ahead of the
 *     leader) redo the epoch check once; out of range again right after
 *     it: truncate to the leader's HW.
 *   - UNKNOWN_LEADER_EPOCH (the leader has not applied its new epoch
 *     yet): retry after 30 ms. FENCED_LEADER_EPOCH, NOT_LEADER_OR_FOLLOWER,
 *     UNKNOWN_TOPIC_OR_PARTITION, storage or transport errors: back off
 *     replica.fetch.backoff.ms and retry; new state from the control plane
 *     restarts the partition at once.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "partition/br_fetcher.h"
#include "partition/br_pm.h"
#include "partition/br_pm_int.h"
#include "common/st_log.h"

#define BR_TAG "replica"
#define BR_DEFAULT_LAG_MAX_MS 30000
#define BR_DEFAULT_WAIT_MS 500
#define BR_DEFAULT_PART_MAX (1024 * 1024)
#define BR_DEFAULT_RESP_MAX (10 * 1024 * 1024)
#define BR_DEFAULT_BACKOFF_MS 1000
#define BR_UNKNOWN_EPOCH_RETRY_MS 30 /* leader not yet at its new epoch */
#define BR_ISR_REPROPOSE_MS 5000

typedef enum br_follow_kind {
    BR_FOLLOW_EPOCH = 1,
    BR_FOLLOW_FETCH,
} br_follow_kind_t;

typedef struct br_follow_item {
    char *topic;
    int32_t partition;
    int32_t epoch;     /* the leader epoch known when sent */
    int64_t offset;    /* FETCH: the fetch offset (our LEO then) */
    int32_t ask_epoch; /* EPOCH: the epoch asked about */
} br_follow_item_t;

struct br_follow_req {
    br_follow_kind_t kind;
    int32_t source;
    uint64_t corr;
    br_follow_item_t *items;
    size_t n;
};

static int64_t br_lim(int64_t v, int64_t dflt)
{
    return v > 0 ? v : dflt;
}

/* ------------------------------------------------------------- sources */

static br_source_t *br_pm_source(br_pm_t *pm, int32_t id, bool create)
{
    for (size_t i = 0; i < pm->n_sources; i++)
        if (pm->sources[i].id == id)
            return &pm->sources[i];
    if (!create)
        return NULL;
    br_source_t *n = realloc(pm->sources, (pm->n_sources + 1) * sizeof *n);
    if (!n)
        return NULL;
    pm->sources = n;
    br_source_t *s = &n[pm->n_sources++];
    memset(s, 0, sizeof *s);
    s->id = id;
    return s;
}

static bool br_pm_follows(br_pm_t *pm, int32_t source)
{
    for (br_part_t *p = pm->parts; p; p = p->next)
        if (p->role == BR_ROLE_FOLLOWER && p->leader == source && p->fstate != BR_F_NONE)
            return true;
    return false;
}

/* There may be work for the fetcher of source: create it if needed (the
 * URL must be known) and wake it. */
static void br_pm_source_kick(br_pm_t *pm, int32_t source)
{
    if (pm->closing || source < 0 || source == pm->broker_id)
        return;
    br_source_t *s = br_pm_source(pm, source, true);
    if (!s || !s->url)
        return;
    if (!s->fetcher) {
        br_fetcher_config_t fc = {
            .self_id = pm->broker_id,
            .source_id = source,
            .url = s->url,
            .recv_max = (size_t)br_lim(pm->limits.replica_fetch_response_max_bytes, BR_DEFAULT_RESP_MAX) +
                        (size_t)br_lim(pm->limits.message_max_bytes, 1048588) + 1024 * 1024,
            .timeout_ms = br_lim(pm->limits.replica_fetch_wait_max_ms, BR_DEFAULT_WAIT_MS) + 30000,
        };
        st_err_t err = br_fetcher_new(pm->loop, pm, &fc, &s->fetcher);
        if (err != ST_OK) {
            br_pm_logf(pm, NULL, BR_LOGK_STORAGE, "cannot start fetching from broker %d at %s: %s", source,
                       s->url, st_err_name(err));
            return;
        }
    }
    br_fetcher_kick(s->fetcher);
}

void br_pm_set_broker_epoch(br_pm_t *pm, int64_t broker_epoch)
{
    if (pm)
        pm->broker_epoch = broker_epoch > 0 ? broker_epoch : 0;
}

void br_pm_set_broker_url(br_pm_t *pm, int32_t broker_id, const char *url)
{
    if (!pm || broker_id < 0)
        return;
    br_source_t *s = br_pm_source(pm, broker_id, url != NULL);
    if (!s)
        return;
    if ((s->url && url && strcmp(s->url, url) == 0) || (!s->url && !url))
        return;
    char *copy = NULL;
    if (url && !(copy = strdup(url)))
        return;
    if (s->fetcher) {
        br_fetcher_free(s->fetcher);
        s->fetcher = NULL;
    }
    free(s->url);
    s->url = copy;
    if (copy && br_pm_follows(pm, broker_id))
        br_pm_source_kick(pm, broker_id);
}

void br_pm_free_sources(br_pm_t *pm)
{
    for (size_t i = 0; i < pm->n_sources; i++) {
        if (pm->sources[i].fetcher)
            br_fetcher_free(pm->sources[i].fetcher);
        free(pm->sources[i].url);
    }
    free(pm->sources);
    pm->sources = NULL;
    pm->n_sources = 0;
}

void br_pm_set_isr_change_fn(br_pm_t *pm, br_pm_isr_change_fn fn, void *arg)
{
    if (!pm)
        return;
    pm->isr_fn = fn;
    pm->isr_arg = arg;
}

/* ------------------------------------------------------- ISR (leader) */

void br_part_clear_isr_proposal(br_part_t *part)
{
    free(part->isr_proposed);
    part->isr_proposed = NULL;
    part->n_isr_proposed = 0;
    part->isr_proposed_ms = 0;
}

static bool br_isr_has(const int32_t *isr, size_t n, int32_t id)
{
    for (size_t i = 0; i < n; i++)
        if (isr[i] == id)
            return true;
    return false;
}

static bool br_isr_same(const int32_t *a, size_t na, const int32_t *b, size_t nb)
{
    if (na != nb)
        return false;
    for (size_t i = 0; i < na; i++)
        if (!br_isr_has(b, nb, a[i]))
            return false;
    return true;
}

/* Hand a proposal to the control plane unless the same one is
 * outstanding and recent. Takes ownership of isr. The callback may apply
 * new state to this partition: nothing of part is used after it. */
static void br_part_propose_isr(br_pm_t *pm, br_part_t *part, int32_t *isr, size_t n)
{
    int64_t now = st_wall_ms();
    if (part->isr_proposed && br_isr_same(isr, n, part->isr_proposed, part->n_isr_proposed) &&
        now - part->isr_proposed_ms < BR_ISR_REPROPOSE_MS && now >= part->isr_proposed_ms) {
        free(isr);
        return;
    }
    int32_t *copy = malloc((n ? n : 1) * sizeof *copy);
    if (!copy) {
        free(isr);
        return;
    }
    memcpy(copy, isr, n * sizeof *copy);
    br_part_clear_isr_proposal(part);
    part->isr_proposed = isr;
    part->n_isr_proposed = n;
    part->isr_proposed_ms = now;
    st_log(ST_LOG_INFO, BR_TAG, "%s-%d: proposing ISR of %zu (was %zu) at epoch %d", part->topic,
           part->partition, n, part->n_isr, part->leader_epoch);
    pm->isr_fn(pm->isr_arg, part->topic, part->partition, part->leader_epoch, copy, n);
    free(copy);
}

void br_part_maybe_expand_isr(br_pm_t *pm, br_part_t *part, br_replica_t *r)
{
    if (!pm->isr_fn || part->role != BR_ROLE_LEADER || br_isr_has(part->isr, part->n_isr, r->id))
        return;
    if (r->leo < 0 || r->leo < part->hw)
        return;
    /* it must also have reached this leader's first offset of its epoch */
    int32_t e;
    int64_t epoch_start = -1;
    if (part->leader_epoch > 0)
        sl_log_end_offset_for_epoch(part->log, part->leader_epoch - 1, &e, &epoch_start);
    if (epoch_start > 0 && r->leo < epoch_start)
        return;
    int32_t *isr = malloc((part->n_isr + 1) * sizeof *isr);
    if (!isr)
        return;
    memcpy(isr, part->isr, part->n_isr * sizeof *isr);
    isr[part->n_isr] = r->id;
    br_part_propose_isr(pm, part, isr, part->n_isr + 1);
}

/* A proposal that adds a replica holds the HW at that replica's log end
 * (br_part_update_hw). When the replica stops fetching and the proposal
 * was not applied within replica.lag.time.max.ms, forget it, as a
 * committed ISR would shrink that replica out after the same time. */
static void br_part_expire_expansion(br_pm_t *pm, br_part_t *part, int64_t now_ms, int64_t lag_max)
{
    if (!part->isr_proposed || now_ms - part->isr_proposed_ms <= lag_max)
        return;
    for (size_t i = 0; i < part->n_isr_proposed; i++) {
        int32_t id = part->isr_proposed[i];
        br_replica_t *r = br_part_replica(part, id);
        if (id == pm->broker_id || br_isr_has(part->isr, part->n_isr, id) || !r)
            continue;
        if (now_ms - r->caught_up_ms > lag_max) {
            br_pm_logf(pm, part, BR_LOGK_RANGE,
                       "%s-%d: ISR proposal adding replica %d not applied for %" PRId64
                       " ms and the replica stopped fetching: withdrawn",
                       part->topic, part->partition, id, now_ms - part->isr_proposed_ms);
            br_part_clear_isr_proposal(part);
            br_part_update_hw(pm, part);
            return;
        }
    }
}

void br_part_maybe_shrink_isr(br_pm_t *pm, br_part_t *part, int64_t now_ms)
{
    if (!pm->isr_fn || part->role != BR_ROLE_LEADER || part->n_isr == 0)
        return;
    int64_t lag_max = br_lim(pm->limits.replica_lag_time_max_ms, BR_DEFAULT_LAG_MAX_MS);
    br_part_expire_expansion(pm, part, now_ms, lag_max);
    int32_t *isr = malloc(part->n_isr * sizeof *isr);
    if (!isr)
        return;
    size_t n = 0;
    for (size_t i = 0; i < part->n_isr; i++) {
        int32_t id = part->isr[i];
        br_replica_t *r = br_part_replica(part, id);
        bool lagging = id != pm->broker_id && r && now_ms - r->caught_up_ms > lag_max &&
                       (r->leo < 0 || r->leo < br_part_leo(part));
        if (!lagging)
            isr[n++] = id;
        else
            br_pm_logf(pm, part, BR_LOGK_RANGE,
                       "%s-%d: replica %d has not caught up for %" PRId64 " ms (log end %" PRId64
                       ", leader %" PRId64 "): dropping it from the ISR",
                       part->topic, part->partition, id, now_ms - r->caught_up_ms, r->leo, br_part_leo(part));
    }
    if (n == part->n_isr) {
        free(isr);
        return;
    }
    br_part_propose_isr(pm, part, isr, n);
}

/* ------------------------------------------- OffsetForLeaderEpoch (leader) */

void br_pm_handle_offset_for_leader_epoch(br_pm_t *pm, br_call_t *call,
                                          const Strata__OffsetForLeaderEpochRequest *req)
{
    if (!req) {
        br_call_reply_error(call, ST_ERR_INVALID_REQUEST, "OffsetForLeaderEpoch request without a body");
        return;
    }
    size_t nt = req->topics ? req->n_topics : 0, np = 0;
    for (size_t i = 0; i < nt; i++)
        if (req->topics[i] && req->topics[i]->partitions)
            np += req->topics[i]->n_partitions;
    Strata__EpochTopicResult *tr = calloc(nt ? nt : 1, sizeof *tr);
    Strata__EpochTopicResult **trp = calloc(nt ? nt : 1, sizeof *trp);
    Strata__EpochPartitionResult *pr = calloc(np ? np : 1, sizeof *pr);
    Strata__EpochPartitionResult **prp = calloc(np ? np : 1, sizeof *prp);
    if (!tr || !trp || !pr || !prp) {
        br_call_reply_error(call, ST_ERR_UNKNOWN_SERVER_ERROR, "out of memory");
        goto out;
    }
    size_t k = 0;
    for (size_t i = 0; i < nt; i++) {
        const Strata__EpochTopic *t = req->topics[i];
        strata__epoch_topic_result__init(&tr[i]);
        trp[i] = &tr[i];
        if (!t)
            continue;
        tr[i].name = t->name ? t->name : (char *)"";
        tr[i].partitions = &prp[k];
        size_t tn = t->partitions ? t->n_partitions : 0;
        for (size_t j = 0; j < tn; j++) {
            const Strata__EpochPartition *ep = t->partitions[j];
            Strata__EpochPartitionResult *r = &pr[k];
            strata__epoch_partition_result__init(r);
            prp[k++] = r;
            tr[i].n_partitions++;
            r->leader_epoch = -1;
            r->end_offset = -1;
            if (!ep) {
                r->error = (Strata__ErrorCode)ST_ERR_INVALID_REQUEST;
                continue;
            }
            r->partition = ep->partition;
            br_part_t *part = NULL;
            st_err_t err = br_pm_leader_part(pm, t->name, ep->partition, ep->current_leader_epoch, &part);
            if (err != ST_OK) {
                r->error = (Strata__ErrorCode)err;
                continue;
            }
            int32_t e = -1;
            int64_t end = -1;
            sl_log_end_offset_for_epoch(part->log, ep->leader_epoch, &e, &end);
            r->leader_epoch = e;
            r->end_offset = e < 0 ? -1 : end;
        }
    }
    Strata__OffsetForLeaderEpochResponse body = STRATA__OFFSET_FOR_LEADER_EPOCH_RESPONSE__INIT;
    body.version = 1;
    body.n_topics = nt;
    body.topics = trp;
    Strata__Response resp = STRATA__RESPONSE__INIT;
    resp.body_case = STRATA__RESPONSE__BODY_OFFSET_FOR_LEADER_EPOCH;
    resp.offset_for_leader_epoch = &body;
    br_call_reply(call, &resp);
out:
    free(tr);
    free(trp);
    free(pr);
    free(prp);
}

/* ------------------------------------------------------------ follower */

/* Start the follower state machine from the epoch check. */
static void br_part_follow_restart(br_part_t *part)
{
    part->fstate = BR_F_EPOCH;
    part->f_ask_epoch = sl_log_latest_epoch(part->log);
    part->f_retry_ms = 0;
}

void br_part_become_follower(br_pm_t *pm, br_part_t *part, bool new_epoch)
{
    br_part_clear_isr_proposal(part);
    if (new_epoch || part->fstate == BR_F_NONE) {
        br_part_follow_restart(part);
        part->f_oor = false;
    } else {
        part->f_retry_ms = 0; /* fresh state: retry now */
    }
    br_pm_source_kick(pm, part->leader);
}

static void br_part_backoff(br_pm_t *pm, br_part_t *part)
{
    part->f_retry_ms = st_wall_ms() + br_lim(pm->limits.replica_fetch_backoff_ms, BR_DEFAULT_BACKOFF_MS);
}

/* The follower's HW after its log changed: min(leader HW, LEO), only
 * forward, clamped into the log. When it moved forward, long-poll fetches
 * of rack-aware clients parked here (KIP-392) may now have data. */
static void br_part_follower_hw(br_pm_t *pm, br_part_t *part, int64_t leader_hw)
{
    int64_t start = sl_log_start_offset(part->log), leo = sl_log_end_offset(part->log);
    int64_t hw = leader_hw < leo ? leader_hw : leo, before = part->hw;
    if (hw > part->hw)
        part->hw = hw;
    if (part->hw > leo)
        part->hw = leo;
    if (part->hw < start)
        part->hw = start;
    if (part->hw > before)
        br_part_wake(pm, part, BR_WAKE_HW);
}

/* Cut the log back to `target` (if below its end); false when the
 * partition went offline. */
static bool br_part_truncate(br_pm_t *pm, br_part_t *part, int64_t target, const char *why)
{
    int64_t leo = sl_log_end_offset(part->log);
    if (target < 0)
        target = 0;
    if (target >= leo)
        return true;
    st_err_t err = sl_logdir_truncate_to(pm->dirs[part->dir_idx].ld, part->topic, part->partition, target);
    if (err != ST_OK) {
        br_part_set_offline(pm, part, err);
        return false;
    }
    /* producer state of the cut batches goes with them */
    (void)sl_pstate_truncated(part->pstate, part->log);
    st_log(ST_LOG_INFO, BR_TAG, "%s-%d: truncated from %" PRId64 " to %" PRId64 " (%s)", part->topic,
           part->partition, leo, sl_log_end_offset(part->log), why);
    br_part_follower_hw(pm, part, -1);
    return true;
}

/* Before the first epoch request: an empty log needs no check, one
 * without any epoch falls back to its HW. */
static void br_part_epoch_precheck(br_pm_t *pm, br_part_t *part)
{
    if (part->fstate != BR_F_EPOCH || part->f_ask_epoch >= 0)
        return;
    if (sl_log_end_offset(part->log) > sl_log_start_offset(part->log) &&
        !br_part_truncate(pm, part, part->hw, "no leader epoch known: back to the HW"))
        return;
    part->fstate = BR_F_FETCH;
}

/* Apply the leader's answer to an epoch question (KIP-101/279), as
 * Kafka's fetcher does: the leader names the largest epoch <= the one
 * asked about and where it ends on the leader. When this log has that
 * epoch too, cut to the smaller of the two ends of it: done. When it
 * does not, cut to this log's end of the largest epoch below it and ask
 * again about that one (each round asks about an older epoch). */
static void br_part_epoch_answer(br_pm_t *pm, br_part_t *part, int32_t l_epoch, int64_t l_end)
{
    int64_t leo = sl_log_end_offset(part->log), target;
    char why[128];
    int32_t e2 = -1;
    int64_t our_end = -1;
    if (l_epoch >= 0 && l_end >= 0 && l_epoch <= part->f_ask_epoch)
        sl_log_end_offset_for_epoch(part->log, l_epoch, &e2, &our_end);
    if (l_epoch < 0 || l_end < 0 || l_epoch > part->f_ask_epoch) {
        target = part->hw;
        snprintf(why, sizeof why, "leader knows no epoch <= %d: back to the HW", part->f_ask_epoch);
    } else if (e2 == l_epoch) {
        target = l_end < our_end ? l_end : our_end;
        if (target > leo)
            target = leo;
        snprintf(why, sizeof why, "leader ends epoch %d at %" PRId64 ", here at %" PRId64, l_epoch, l_end,
                 our_end);
    } else if (e2 >= 0) {
        /* epoch l_epoch is not here: this log's epochs after e2 diverge */
        target = our_end < leo ? our_end : leo;
        snprintf(why, sizeof why, "leader has epoch %d, not here; epoch %d ends here at %" PRId64, l_epoch,
                 e2, our_end);
        if (!br_part_truncate(pm, part, target, why))
            return;
        part->f_ask_epoch = e2; /* ask again, about the older epoch */
        part->f_retry_ms = 0;
        return;
    } else {
        target = part->hw;
        snprintf(why, sizeof why, "no common epoch with the leader: back to the HW");
    }
    if (!br_part_truncate(pm, part, target, why))
        return;
    part->fstate = BR_F_FETCH;
    part->f_retry_ms = 0;
}

/* Is this still the partition the item was sent for, in the same state? */
static br_part_t *br_follow_match(br_pm_t *pm, const br_follow_req_t *req, const br_follow_item_t *it)
{
    br_part_t *part = br_pm_find(pm, it->topic, it->partition);
    if (!part || part->role != BR_ROLE_FOLLOWER || part->leader != req->source ||
        part->leader_epoch != it->epoch || !part->log)
        return NULL;
    if (req->kind == BR_FOLLOW_EPOCH)
        return part->fstate == BR_F_EPOCH && part->f_ask_epoch == it->ask_epoch ? part : NULL;
    return part->fstate == BR_F_FETCH && sl_log_end_offset(part->log) == it->offset ? part : NULL;
}

void br_follow_req_free(br_follow_req_t *req)
{
    if (!req)
        return;
    for (size_t i = 0; i < req->n; i++)
        free(req->items[i].topic);
    free(req->items);
    free(req);
}

static st_err_t br_follow_encode(br_pm_t *pm, br_follow_req_t *r, uint8_t **buf, size_t *len)
{
    st_err_t err = ST_ERR_NOMEM;
    size_t n = r->n;
    Strata__Request req = STRATA__REQUEST__INIT;
    req.correlation_id = r->corr;
    req.client_id = (char *)"strata-replica-fetcher";
    req.replica_id = pm->broker_id;
    req.broker_epoch = pm->broker_epoch;
    Strata__FetchRequest fr = STRATA__FETCH_REQUEST__INIT;
    Strata__OffsetForLeaderEpochRequest er = STRATA__OFFSET_FOR_LEADER_EPOCH_REQUEST__INIT;
    /* one topic entry per partition: simple, and the leader accepts it */
    Strata__FetchTopicRequest *ft = NULL, **ftp = NULL;
    Strata__FetchPartitionRequest *fp = NULL, **fpp = NULL;
    Strata__EpochTopic *et = NULL, **etp = NULL;
    Strata__EpochPartition *ep = NULL, **epp = NULL;
    uint8_t *out = NULL;
    if (r->kind == BR_FOLLOW_FETCH) {
        ft = calloc(n, sizeof *ft);
        ftp = calloc(n, sizeof *ftp);
        fp = calloc(n, sizeof *fp);
        fpp = calloc(n, sizeof *fpp);
        if (!ft || !ftp || !fp || !fpp)
            goto out;
        int32_t part_max = (int32_t)br_lim(pm->limits.replica_fetch_max_bytes, BR_DEFAULT_PART_MAX);
        for (size_t i = 0; i < n; i++) {
            const br_follow_item_t *it = &r->items[i];
            br_part_t *part = br_pm_find(pm, it->topic, it->partition);
            strata__fetch_partition_request__init(&fp[i]);
            fp[i].partition = it->partition;
            fp[i].fetch_offset = it->offset;
            fp[i].max_bytes = part_max;
            fp[i].current_leader_epoch = it->epoch;
            fp[i].log_start_offset = part ? sl_log_start_offset(part->log) : -1;
            fpp[i] = &fp[i];
            strata__fetch_topic_request__init(&ft[i]);
            ft[i].name = it->topic;
            ft[i].n_partitions = 1;
            ft[i].partitions = &fpp[i];
            ftp[i] = &ft[i];
        }
        fr.version = 1;
        fr.max_wait_ms = (int32_t)br_lim(pm->limits.replica_fetch_wait_max_ms, BR_DEFAULT_WAIT_MS);
        fr.min_bytes = 1;
        fr.max_bytes = (int32_t)br_lim(pm->limits.replica_fetch_response_max_bytes, BR_DEFAULT_RESP_MAX);
        fr.n_topics = n;
        fr.topics = ftp;
        req.body_case = STRATA__REQUEST__BODY_FETCH;
        req.fetch = &fr;
    } else {
        et = calloc(n, sizeof *et);
        etp = calloc(n, sizeof *etp);
        ep = calloc(n, sizeof *ep);
        epp = calloc(n, sizeof *epp);
        if (!et || !etp || !ep || !epp)
            goto out;
        for (size_t i = 0; i < n; i++) {
            const br_follow_item_t *it = &r->items[i];
            strata__epoch_partition__init(&ep[i]);
            ep[i].partition = it->partition;
            ep[i].current_leader_epoch = it->epoch;
            ep[i].leader_epoch = it->ask_epoch;
            epp[i] = &ep[i];
            strata__epoch_topic__init(&et[i]);
            et[i].name = it->topic;
            et[i].n_partitions = 1;
            et[i].partitions = &epp[i];
            etp[i] = &et[i];
        }
        er.version = 1;
        er.replica_id = pm->broker_id;
        er.n_topics = n;
        er.topics = etp;
        req.body_case = STRATA__REQUEST__BODY_OFFSET_FOR_LEADER_EPOCH;
        req.offset_for_leader_epoch = &er;
    }
    size_t size = strata__request__get_packed_size(&req);
    out = malloc(size ? size : 1);
    if (!out)
        goto out;
    *len = strata__request__pack(&req, out);
    *buf = out;
    out = NULL;
    err = ST_OK;
out:
    free(out);
    free(ft);
    free(ftp);
    free(fp);
    free(fpp);
    free(et);
    free(etp);
    free(ep);
    free(epp);
    return err;
}

st_err_t br_pm_follow_next(br_pm_t *pm, int32_t source, int64_t now_ms, br_follow_req_t **out, uint8_t **buf,
                           size_t *len, int64_t *retry_ms)
{
    *out = NULL;
    *buf = NULL;
    *len = 0;
    *retry_ms = -1;
    if (!pm || pm->closing)
        return ST_ERR_NOT_FOUND;
    size_t n_epoch = 0, n_fetch = 0;
    for (br_part_t *p = pm->parts; p; p = p->next) {
        if (p->role != BR_ROLE_FOLLOWER || p->leader != source || p->fstate == BR_F_NONE || !p->log)
            continue;
        br_part_epoch_precheck(pm, p);
        if (p->role != BR_ROLE_FOLLOWER)
            continue; /* went offline */
        if (p->f_retry_ms > now_ms) {
            if (*retry_ms < 0 || p->f_retry_ms < *retry_ms)
                *retry_ms = p->f_retry_ms;
            continue;
        }
        if (p->fstate == BR_F_EPOCH)
            n_epoch++;
        else
            n_fetch++;
    }
    if (n_epoch + n_fetch == 0)
        return ST_ERR_NOT_FOUND;
    br_follow_kind_t kind = n_epoch > 0 ? BR_FOLLOW_EPOCH : BR_FOLLOW_FETCH;
    size_t n = n_epoch > 0 ? n_epoch : n_fetch;
    br_follow_req_t *r = calloc(1, sizeof *r);
    if (!r || !(r->items = calloc(n, sizeof *r->items))) {
        free(r);
        return ST_ERR_NOMEM;
    }
    r->kind = kind;
    r->source = source;
    r->corr = ++pm->follow_corr;
    br_fstate_t want = kind == BR_FOLLOW_EPOCH ? BR_F_EPOCH : BR_F_FETCH;
    for (br_part_t *p = pm->parts; p && r->n < n; p = p->next) {
        if (p->role != BR_ROLE_FOLLOWER || p->leader != source || p->fstate != want || !p->log ||
            p->f_retry_ms > now_ms)
            continue;
        br_follow_item_t *it = &r->items[r->n];
        if (!(it->topic = strdup(p->topic))) {
            br_follow_req_free(r);
            return ST_ERR_NOMEM;
        }
        it->partition = p->partition;
        it->epoch = p->leader_epoch;
        it->offset = sl_log_end_offset(p->log);
        it->ask_epoch = p->f_ask_epoch;
        r->n++;
    }
    st_err_t err = br_follow_encode(pm, r, buf, len);
    if (err != ST_OK) {
        br_follow_req_free(r);
        return err;
    }
    *out = r;
    return ST_OK;
}

void br_pm_follow_failed(br_pm_t *pm, const br_follow_req_t *req, st_err_t err)
{
    if (!pm || !req)
        return;
    br_pm_logf(pm, NULL, BR_LOGK_NOT_LEADER, "request to broker %d failed: %s; backing off", req->source,
               st_err_name(err));
    for (size_t i = 0; i < req->n; i++) {
        br_part_t *part = br_follow_match(pm, req, &req->items[i]);
        if (part)
            br_part_backoff(pm, part);
    }
}

static void br_follow_part_error(br_pm_t *pm, br_part_t *part, int32_t source, st_err_t err, const char *msg)
{
    br_pm_logf(pm, part, BR_LOGK_EPOCH, "%s-%d: leader %d answered %s%s%s; backing off", part->topic,
               part->partition, source, st_err_name(err), msg && *msg ? ": " : "", msg ? msg : "");
    if (err == ST_ERR_UNKNOWN_LEADER_EPOCH) {
        /* the new leader has not applied its LeaderAndIsr yet: it will in
         * a moment, so retry soon rather than after replica.fetch.backoff.ms */
        part->f_retry_ms = st_wall_ms() + BR_UNKNOWN_EPOCH_RETRY_MS;
        return;
    }
    br_part_backoff(pm, part);
}

static void br_follow_epoch_answer(br_pm_t *pm, const br_follow_req_t *req, const uint8_t *buf, size_t len)
{
    Strata__Response *resp = strata__response__unpack(NULL, len, buf);
    if (!resp || resp->error != 0 || resp->body_case != STRATA__RESPONSE__BODY_OFFSET_FOR_LEADER_EPOCH ||
        !resp->offset_for_leader_epoch) {
        br_pm_follow_failed(pm, req, resp && resp->error ? (st_err_t)resp->error : ST_ERR_CORRUPT);
        goto out;
    }
    const Strata__OffsetForLeaderEpochResponse *b = resp->offset_for_leader_epoch;
    for (size_t i = 0; i < req->n; i++) {
        const br_follow_item_t *it = &req->items[i];
        br_part_t *part = br_follow_match(pm, req, it);
        if (!part)
            continue;
        const Strata__EpochPartitionResult *res = NULL;
        for (size_t t = 0; t < b->n_topics && !res; t++) {
            const Strata__EpochTopicResult *tr = b->topics[t];
            if (!tr || !tr->name || strcmp(tr->name, it->topic) != 0)
                continue;
            for (size_t k = 0; k < tr->n_partitions && !res; k++)
                if (tr->partitions[k] && tr->partitions[k]->partition == it->partition)
                    res = tr->partitions[k];
        }
        if (!res)
            br_follow_part_error(pm, part, req->source, ST_ERR_INVALID_REQUEST, "no answer");
        else if (res->error != 0)
            br_follow_part_error(pm, part, req->source, (st_err_t)res->error, NULL);
        else
            br_part_epoch_answer(pm, part, res->leader_epoch, res->end_offset);
    }
out:
    if (resp)
        strata__response__free_unpacked(resp, NULL);
}

/* Apply one partition's fetch answer. frames is scratch space. */
static void br_follow_fetch_part(br_pm_t *pm, br_part_t *part, int32_t source,
                                 const Strata__Raw__RawFetchPartitionResponse *res, st_buf_t *frames)
{
    st_err_t err = (st_err_t)res->error;
    if (err == ST_ERR_OFFSET_OUT_OF_RANGE) {
        int64_t leo = sl_log_end_offset(part->log);
        if (res->log_start_offset > leo) {
            st_err_t e = sl_logdir_truncate_fully(pm->dirs[part->dir_idx].ld, part->topic, part->partition,
                                                  res->log_start_offset);
            if (e != ST_OK) {
                br_part_set_offline(pm, part, e);
                return;
            }
            sl_pstate_reset(part->pstate, part->log);
            st_log(ST_LOG_INFO, BR_TAG,
                   "%s-%d: behind the leader's log start %" PRId64 ": log restarted there", part->topic,
                   part->partition, res->log_start_offset);
            part->hw = res->log_start_offset;
            part->f_oor = false;
        } else if (!part->f_oor) {
            part->f_oor = true;
            br_part_follow_restart(part);
        } else {
            part->f_oor = false;
            (void)br_part_truncate(pm, part, res->high_watermark,
                                   "out of range after the epoch check: back to the leader's HW");
        }
        return;
    }
    if (err != ST_OK) {
        br_follow_part_error(pm, part, source, err, res->error_message);
        return;
    }
    frames->len = 0;
    for (size_t i = 0; i < res->n_batches; i++) {
        const char *why = NULL;
        /* header, structure and CRC only: a follower copies what its leader
         * accepted and never parses records (as in Kafka) */
        if (st_batch_from_wire_flags(res->batches[i].data, res->batches[i].len, frames, &why,
                                     ST_BATCH_WIRE_SKIP_RECORDS) != ST_OK) {
            br_pm_logf(pm, part, BR_LOGK_CORRUPT, "%s-%d: corrupt batch from leader %d: %s", part->topic,
                       part->partition, source, why ? why : "?");
            br_part_backoff(pm, part);
            return;
        }
    }
    /* skip whole frames we already have; a frame straddling our end
     * (cannot happen after the epoch check, but cheap to handle) makes us
     * cut back to its base */
    size_t pos = 0;
    int64_t leo = sl_log_end_offset(part->log);
    while (pos < frames->len) {
        st_batch_hdr_t h;
        if (st_batch_hdr_decode(frames->data + pos, frames->len - pos, &h) != ST_OK)
            break;
        int64_t last = h.base_offset + h.last_offset_delta;
        if (h.base_offset >= leo)
            break;
        if (last >= leo) {
            if (!br_part_truncate(pm, part, h.base_offset, "batch straddles the log end"))
                return;
            break;
        }
        pos += st_batch_frame_size(&h);
    }
    if (pos < frames->len) {
        /* CRCs were checked by st_batch_from_wire_flags just above */
        err = sl_log_append_replica_checked(part->log, frames->data + pos, frames->len - pos, st_wall_ms());
        if (err == ST_ERR_IO || err == ST_ERR_NO_SPACE) {
            br_part_set_offline(pm, part, err);
            return;
        }
        if (err != ST_OK) {
            br_pm_logf(pm, part, BR_LOGK_CORRUPT, "%s-%d: cannot append batches from leader %d: %s",
                       part->topic, part->partition, source, st_err_name(err));
            br_part_backoff(pm, part);
            return;
        }
        /* the follower keeps the producer state too, for when it leads */
        err = sl_pstate_update_frames(part->pstate, frames->data + pos, frames->len - pos);
        if (err != ST_OK) {
            st_log(ST_LOG_ERROR, BR_TAG, "%s-%d: producer state: %s, rebuilding from the log", part->topic,
                   part->partition, st_err_name(err));
            (void)sl_pstate_load(part->pstate, part->log);
        }
        part->bytes_appended += (int64_t)(frames->len - pos);
    }
    part->f_oor = false;
    /* follow the leader's log start forward (retention, DeleteRecords) */
    if (res->log_start_offset > sl_log_start_offset(part->log) &&
        res->log_start_offset <= sl_log_end_offset(part->log)) {
        err = sl_log_set_start_offset(part->log, res->log_start_offset);
        if (err == ST_ERR_IO || err == ST_ERR_NO_SPACE) {
            br_part_set_offline(pm, part, err);
            return;
        }
        (void)sl_pstate_truncate_head(part->pstate, sl_log_start_offset(part->log));
    }
    br_part_follower_hw(pm, part, res->high_watermark);
}

static void br_follow_fetch_answer(br_pm_t *pm, const br_follow_req_t *req, const uint8_t *buf, size_t len)
{
    Strata__Raw__RawResponse *resp = strata__raw__raw_response__unpack(NULL, len, buf);
    st_buf_t frames;
    st_buf_init(&frames);
    if (!resp || resp->error != 0 || resp->body_case != STRATA__RAW__RAW_RESPONSE__BODY_FETCH ||
        !resp->fetch || resp->fetch->error != 0) {
        st_err_t e = ST_ERR_CORRUPT;
        if (resp && resp->error)
            e = (st_err_t)resp->error;
        else if (resp && resp->fetch && resp->fetch->error)
            e = (st_err_t)resp->fetch->error;
        br_pm_follow_failed(pm, req, e);
        goto out;
    }
    const Strata__Raw__RawFetchResponse *b = resp->fetch;
    for (size_t i = 0; i < req->n; i++) {
        const br_follow_item_t *it = &req->items[i];
        br_part_t *part = br_follow_match(pm, req, it);
        if (!part)
            continue;
        const Strata__Raw__RawFetchPartitionResponse *res = NULL;
        for (size_t t = 0; t < b->n_topics && !res; t++) {
            const Strata__Raw__RawFetchTopicResponse *tr = b->topics[t];
            if (!tr || !tr->name || strcmp(tr->name, it->topic) != 0)
                continue;
            for (size_t k = 0; k < tr->n_partitions && !res; k++)
                if (tr->partitions[k] && tr->partitions[k]->partition == it->partition)
                    res = tr->partitions[k];
        }
        if (!res)
            br_follow_part_error(pm, part, req->source, ST_ERR_INVALID_REQUEST, "no answer");
        else
            br_follow_fetch_part(pm, part, req->source, res, &frames);
    }
out:
    st_buf_free(&frames);
    if (resp)
        strata__raw__raw_response__free_unpacked(resp, NULL);
}

void br_pm_follow_answer(br_pm_t *pm, const br_follow_req_t *req, const uint8_t *buf, size_t len)
{
    if (!pm || !req || pm->closing)
        return;
    if (req->kind == BR_FOLLOW_EPOCH)
        br_follow_epoch_answer(pm, req, buf, len);
    else
        br_follow_fetch_answer(pm, req, buf, len);
}
