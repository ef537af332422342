/*
 * br_ctl_shutdown: moving leadership on request (see br_ctl.h and
 * br_ctl_int.h). Controlled shutdown: every partition the stopping broker
 * leads gets another live ISR member as leader (leader epoch + 1) and it
 * leaves the ISR of the partitions it follows; the broker stays
 * ineligible as leader for two minutes or until it registers anew, or
 * while its registration says "controlled_shutdown". Elections: preferred
 * (the first replica, when eligible and in the ISR) or unclean (any
 * eligible replica, the ISR first), for an ElectLeaders call (a job that
 * answers once every write completed) or for the automatic rebalance
 * (auto.leader.rebalance.enable, skipping partitions being reassigned).
 * Core loop only.
 */
#include <stdlib.h>
#include <string.h>

#include "common/st_clock.h"
#include "common/st_log.h"
#include "control/br_ctl_int.h"

/* --------------------------------------------------- controlled shutdown */

/* One "refused" line per this many ms: refusals can come at any rate. */
#define CTL_CS_LOG_INTERVAL_MS 60000

bool br_ctl_shutting_down(br_ctl_t *ctl, int32_t id)
{
    int64_t now = st_wall_ms();
    /* a broker that registered again (new epoch) is back */
    for (size_t i = 0; ctl && i < ctl->n_shutting; i++)
        if (ctl->shutting[i] == id && ctl->shutting_until[i] > now &&
            br_md_broker_epoch(ctl->cp->md, id) <= ctl->shutting_epoch[i])
            return true;
    /* its registration says so (a controller elected since it began) */
    return ctl && br_md_broker_stopping(ctl->cp->md, id);
}

static void ctl_mark_shutting(br_ctl_t *ctl, int32_t id, int64_t epoch)
{
    int64_t until = st_wall_ms() + 120000;
    for (size_t i = 0; i < ctl->n_shutting; i++) {
        if (ctl->shutting[i] == id) {
            ctl->shutting_until[i] = until;
            ctl->shutting_epoch[i] = epoch;
            return;
        }
    }
    int32_t *a = realloc(ctl->shutting, (ctl->n_shutting + 1) * sizeof *a);
    if (!a)
        return;
    ctl->shutting = a;
    int64_t *b = realloc(ctl->shutting_until, (ctl->n_shutting + 1) * sizeof *b);
    if (!b)
        return;
    ctl->shutting_until = b;
    int64_t *c = realloc(ctl->shutting_epoch, (ctl->n_shutting + 1) * sizeof *c);
    if (!c)
        return;
    ctl->shutting_epoch = c;
    c[ctl->n_shutting] = epoch;
    a[ctl->n_shutting] = id;
    b[ctl->n_shutting++] = until;
}

/* Live and eligible as a new leader. */
static bool ctl_eligible(br_ctl_t *ctl, int32_t id)
{
    return br_md_broker_live(ctl->cp->md, id) && !br_ctl_shutting_down(ctl, id);
}

/* Eligible as the new leader of topic/partition: also not offline there. */
static bool ctl_eligible_tp(br_ctl_t *ctl, int32_t id, const char *topic, int32_t p)
{
    return ctl_eligible(ctl, id) && !br_md_replica_offline(ctl->cp->md, id, topic, p);
}

static void ctl_cs_finish(ctl_job_t *job)
{
    size_t n = 0;
    st_err_t why = ST_OK;
    br_ctl_tp_t *rem = calloc(job->n + 1, sizeof *rem);
    for (size_t i = 0; rem && i < job->n; i++) {
        if (job->errs[i] != ST_OK) {
            why = job->errs[i];
            rem[n].topic = job->topics[i];
            rem[n++].partition = job->parts[i];
        }
    }
    ST_INFO(CTL_TAG,
            "controlled shutdown of broker %d: leaderships moved in %lld ms, %zu partition(s) remain%s%s",
            job->broker_id, (long long)(st_wall_ms() - job->start_ms), n, n ? ": " : "",
            n ? st_err_name(why) : "");
    if (job->cs_fn)
        job->cs_fn(job->cs_arg, rem ? ST_OK : ST_ERR_NOMEM, rem, n);
    free(rem);
}

void br_ctl_controlled_shutdown(br_ctl_t *ctl, int32_t broker_id, int64_t broker_epoch, br_ctl_cs_fn fn,
                                void *arg)
{
    br_md_t *md = ctl->cp->md;
    if (!ctl->active || !md || !br_md_ready(md)) {
        fn(arg, ST_ERR_NOT_CONTROLLER, NULL, 0);
        return;
    }
    int64_t known = br_md_broker_epoch(md, broker_id);
    if (known < 0 || broker_epoch != known) {
        /* only the registration's own epoch (its czxid) may stop a broker:
         * an older one is a zombie's, any other is forged */
        int64_t now = st_wall_ms();
        if (ctl->cs_refused_log_ms == 0 || now - ctl->cs_refused_log_ms >= CTL_CS_LOG_INTERVAL_MS) {
            ctl->cs_refused_log_ms = now;
            ST_WARN(CTL_TAG,
                    "controlled shutdown of broker %d refused: broker epoch %lld, registration %lld "
                    "(logged once a minute)",
                    broker_id, (long long)broker_epoch, (long long)known);
        }
        fn(arg, known < 0 ? ST_ERR_BROKER_NOT_AVAILABLE : ST_ERR_STALE_BROKER_EPOCH, NULL, 0);
        return;
    }
    ctl_mark_shutting(ctl, broker_id, known);
    size_t n = 0;
    for (br_md_topic_t *t = br_md_topics(md); t; t = t->next)
        n += t->loaded ? (size_t)t->n_parts : 0;
    ctl_job_t *job = br_ctl_job_new(ctl, n, ctl_cs_finish);
    if (!job) {
        fn(arg, ST_ERR_NOMEM, NULL, 0);
        return;
    }
    job->broker_id = broker_id;
    job->cs_fn = fn;
    job->cs_arg = arg;
    ST_INFO(CTL_TAG, "controlled shutdown of broker %d requested", broker_id);
    for (br_md_topic_t *t = br_md_topics(md); t; t = t->next) {
        if (!t->loaded)
            continue;
        for (int32_t p = 0; p < t->n_parts; p++) {
            br_md_part_t *part = &t->parts[p];
            if (part->kind != BR_MD_STATE_OK || !ctl_has(part->isr, part->n_isr, broker_id))
                continue;
            bool leads = part->leader == broker_id;
            int32_t cand = -1;
            for (size_t i = 0; leads && i < part->n_replicas && cand < 0; i++)
                if (part->replicas[i] != broker_id && ctl_has(part->isr, part->n_isr, part->replicas[i]) &&
                    ctl_eligible_tp(ctl, part->replicas[i], t->name, p))
                    cand = part->replicas[i];
            if (leads && cand < 0) {
                br_ctl_job_add(job, t->name, p, ST_ERR_ELIGIBLE_LEADERS_NOT_AVAILABLE);
                continue;
            }
            if (!leads && part->n_isr <= 1)
                continue;
            zknode_part_state_t next = {.leader = leads ? cand : part->leader,
                                        .leader_epoch = part->leader_epoch + (leads ? 1 : 0)};
            next.isr = malloc(part->n_isr * sizeof *next.isr);
            if (!next.isr) {
                if (leads)
                    br_ctl_job_add(job, t->name, p, ST_ERR_NOMEM);
                continue;
            }
            for (size_t i = 0; i < part->n_isr; i++)
                if (part->isr[i] != broker_id)
                    next.isr[next.n_isr++] = part->isr[i];
            /* only leader moves count towards the answer */
            size_t idx = leads ? br_ctl_job_add(job, t->name, p, ST_ERR_REQUEST_TIMED_OUT) : (size_t)-1;
            if (!br_ctl_write_state(ctl, t, p, &next, leads ? job : NULL, idx, "controlled shutdown") &&
                leads)
                job->errs[idx] = ST_ERR_REQUEST_TIMED_OUT;
            free(next.isr);
        }
    }
    br_ctl_job_release(job);
}

/* ------------------------------------------------------------ elections */

/* Start a preferred (or unclean) election of t/p. ST_OK: a write started
 * (job entry idx gets its outcome). */
static st_err_t ctl_elect_one(br_ctl_t *ctl, br_md_topic_t *t, int32_t p, bool unclean, ctl_job_t *job,
                              size_t idx)
{
    br_md_part_t *part = &t->parts[p];
    if (part->kind != BR_MD_STATE_OK || part->n_replicas == 0)
        return ST_ERR_UNKNOWN_TOPIC_OR_PARTITION;
    zknode_part_state_t next = {.leader = -1, .leader_epoch = part->leader_epoch + 1};
    next.isr = malloc((part->n_isr + 1) * sizeof *next.isr);
    if (!next.isr)
        return ST_ERR_NOMEM;
    st_err_t rc = ST_OK;
    if (!unclean) {
        int32_t pref = part->replicas[0];
        if (part->leader == pref) {
            rc = ST_ERR_ELECTION_NOT_NEEDED;
        } else if (!ctl_eligible_tp(ctl, pref, t->name, p) || !ctl_has(part->isr, part->n_isr, pref)) {
            rc = ST_ERR_PREFERRED_LEADER_NOT_AVAILABLE;
        } else {
            next.leader = pref;
            memcpy(next.isr, part->isr, part->n_isr * sizeof *next.isr);
            next.n_isr = part->n_isr;
        }
    } else {
        if (part->leader >= 0 && br_md_replica_live(ctl->cp->md, part->leader, t->name, p)) {
            rc = ST_ERR_ELECTION_NOT_NEEDED;
        } else {
            for (size_t i = 0; i < part->n_replicas && next.leader < 0; i++)
                if (ctl_eligible_tp(ctl, part->replicas[i], t->name, p) &&
                    ctl_has(part->isr, part->n_isr, part->replicas[i]))
                    next.leader = part->replicas[i];
            for (size_t i = 0; i < part->n_replicas && next.leader < 0; i++)
                if (ctl_eligible_tp(ctl, part->replicas[i], t->name, p))
                    next.leader = part->replicas[i];
            if (next.leader < 0) {
                rc = ST_ERR_ELIGIBLE_LEADERS_NOT_AVAILABLE;
            } else if (ctl_has(part->isr, part->n_isr, next.leader)) {
                for (size_t i = 0; i < part->n_isr; i++)
                    if (br_md_replica_live(ctl->cp->md, part->isr[i], t->name, p))
                        next.isr[next.n_isr++] = part->isr[i];
            } else {
                next.isr[next.n_isr++] = next.leader;
            }
        }
    }
    if (rc == ST_OK &&
        !br_ctl_write_state(ctl, t, p, &next, job, idx, unclean ? "unclean election" : "preferred election"))
        rc = ST_ERR_REQUEST_TIMED_OUT; /* busy: retriable */
    free(next.isr);
    return rc;
}

static void ctl_elect_finish(ctl_job_t *job)
{
    br_call_t *call = job->call;
    if (!call)
        return;
    Strata__ElectLeadersResponse er = STRATA__ELECT_LEADERS_RESPONSE__INIT;
    Strata__ElectLeaderResult *res = calloc(job->n + 1, sizeof *res);
    Strata__ElectLeaderResult **pres = calloc(job->n + 1, sizeof *pres);
    if (!res || !pres) {
        free(res);
        free(pres);
        br_call_reply_error(call, ST_ERR_NOMEM, "out of memory");
        return;
    }
    size_t k = 0;
    for (size_t i = 0; i < job->n; i++) {
        if (job->skip_not_needed && job->errs[i] == ST_ERR_ELECTION_NOT_NEEDED)
            continue;
        strata__elect_leader_result__init(&res[k]);
        res[k].topic = job->topics[i] ? job->topics[i] : (char *)"";
        res[k].partition = job->parts[i];
        res[k].error = (Strata__ErrorCode)job->errs[i];
        res[k].error_message = job->errs[i] == ST_OK ? (char *)"" : (char *)st_err_name(job->errs[i]);
        pres[k] = &res[k];
        k++;
    }
    er.version = 1;
    er.n_results = k;
    er.results = pres;
    Strata__Response resp = STRATA__RESPONSE__INIT;
    resp.body_case = STRATA__RESPONSE__BODY_ELECT_LEADERS;
    resp.elect_leaders = &er;
    br_call_reply(call, &resp);
    free(res);
    free(pres);
}

static void ctl_elect_leaders(br_ctl_t *ctl, br_call_t *call, const Strata__ElectLeadersRequest *req)
{
    br_md_t *md = ctl->cp->md;
    bool unclean = req->election_type == STRATA__ELECTION_TYPE__ELECTION_UNCLEAN;
    size_t n = 0;
    if (req->n_topic_partitions == 0) {
        for (br_md_topic_t *t = br_md_topics(md); t; t = t->next)
            n += t->loaded ? (size_t)t->n_parts : 0;
    } else {
        for (size_t i = 0; i < req->n_topic_partitions; i++)
            n += req->topic_partitions[i] ? req->topic_partitions[i]->n_partitions : 0;
    }
    ctl_job_t *job = br_ctl_job_new(ctl, n, ctl_elect_finish);
    if (!job) {
        br_call_reply_error(call, ST_ERR_NOMEM, "out of memory");
        return;
    }
    job->call = call;
    if (req->n_topic_partitions == 0) {
        for (br_md_topic_t *t = br_md_topics(md); t; t = t->next) {
            for (int32_t p = 0; t->loaded && p < t->n_parts; p++) {
                size_t idx = br_ctl_job_add(job, t->name, p, ST_OK);
                job->errs[idx] = ctl_elect_one(ctl, t, p, unclean, job, idx);
            }
        }
        job->skip_not_needed = true; /* "every partition": report the ones acted on */
    } else {
        for (size_t i = 0; i < req->n_topic_partitions; i++) {
            const Strata__TopicPartitions *tp = req->topic_partitions[i];
            for (size_t j = 0; tp && j < tp->n_partitions; j++) {
                const char *name = tp->topic ? tp->topic : "";
                size_t idx = br_ctl_job_add(job, name, tp->partitions[j], ST_OK);
                br_md_topic_t *t = br_md_topic(md, name);
                if (!t || !t->loaded || tp->partitions[j] < 0 || tp->partitions[j] >= t->n_parts)
                    job->errs[idx] = ST_ERR_UNKNOWN_TOPIC_OR_PARTITION;
                else
                    job->errs[idx] = ctl_elect_one(ctl, t, tp->partitions[j], unclean, job, idx);
            }
        }
    }
    br_ctl_job_release(job);
}

/* A reassignment of t/p is pending (leadership is the reassignment's). */
static bool ctl_reassigning(br_ctl_t *ctl, const char *topic, int32_t p)
{
    for (size_t i = 0; i < ctl->n_reassigns; i++)
        if (!ctl->reassigns[i].done && ctl->reassigns[i].r.partition == p &&
            strcmp(ctl->reassigns[i].r.topic, topic) == 0)
            return true;
    return false;
}

/* auto.leader.rebalance.enable: per broker, the share of the partitions
 * it is preferred leader of that someone else leads; above the threshold,
 * preferred elections for those. */
void br_ctl_auto_rebalance(br_ctl_t *ctl)
{
    br_md_t *md = ctl->cp->md;
    br_config_t *conf = ctl->cp->conf;
    int64_t now = st_wall_ms();
    if (!conf->auto_leader_rebalance_enable)
        return;
    if (ctl->next_rebalance_ms == 0)
        ctl->next_rebalance_ms = now + conf->leader_imbalance_check_interval_seconds * 1000;
    if (now < ctl->next_rebalance_ms)
        return;
    ctl->next_rebalance_ms = now + conf->leader_imbalance_check_interval_seconds * 1000;
    for (size_t b = 0; b < br_md_n_brokers(md); b++) {
        int32_t id = br_md_broker_at(md, b)->id;
        if (!ctl_eligible(ctl, id))
            continue;
        size_t total = 0, off = 0;
        for (br_md_topic_t *t = br_md_topics(md); t; t = t->next) {
            for (int32_t p = 0; t->loaded && p < t->n_parts; p++) {
                br_md_part_t *part = &t->parts[p];
                if (part->n_replicas == 0 || part->replicas[0] != id || part->kind != BR_MD_STATE_OK)
                    continue;
                total++;
                off += part->leader != id;
            }
        }
        if (total == 0 || off * 100 <= total * (size_t)conf->leader_imbalance_per_broker_percentage)
            continue;
        ST_INFO(CTL_TAG, "broker %d leads %zu of its %zu preferred partitions: preferred elections", id,
                total - off, total);
        for (br_md_topic_t *t = br_md_topics(md); t; t = t->next)
            for (int32_t p = 0; t->loaded && p < t->n_parts; p++)
                if (t->parts[p].n_replicas && t->parts[p].replicas[0] == id && t->parts[p].leader != id &&
                    !ctl_reassigning(ctl, t->name, p))
                    (void)ctl_elect_one(ctl, t, p, false, NULL, 0);
    }
}

/* ------------------------------------- ControlledShutdown, ElectLeaders */

static void ctl_cs_reply(void *arg, st_err_t err, const br_ctl_tp_t *rem, size_t n)
{
    br_call_t *call = arg;
    Strata__ControlledShutdownResponse cr = STRATA__CONTROLLED_SHUTDOWN_RESPONSE__INIT;
    Strata__TopicPartitions *tps = calloc(n + 1, sizeof *tps);
    Strata__TopicPartitions **ptps = calloc(n + 1, sizeof *ptps);
    int32_t *parts = calloc(n + 1, sizeof *parts);
    if (!tps || !ptps || !parts) {
        br_call_reply_error(call, ST_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        strata__topic_partitions__init(&tps[i]);
        tps[i].topic = (char *)rem[i].topic;
        parts[i] = rem[i].partition;
        tps[i].partitions = &parts[i];
        tps[i].n_partitions = 1;
        ptps[i] = &tps[i];
    }
    cr.version = 1;
    cr.error = (Strata__ErrorCode)err;
    cr.n_remaining_partitions = n;
    cr.remaining_partitions = ptps;
    Strata__Response resp = STRATA__RESPONSE__INIT;
    resp.body_case = STRATA__RESPONSE__BODY_CONTROLLED_SHUTDOWN;
    resp.controlled_shutdown = &cr;
    br_call_reply(call, &resp);
out:
    free(tps);
    free(ptps);
    free(parts);
}

void br_ctl_handle_controlled_shutdown(br_ctl_t *ctl, br_call_t *call, const Strata__Request *req)
{
    if (br_call_broker_epoch(call) <= 0 || br_call_replica_id(call) != req->controlled_shutdown->broker_id) {
        br_call_reply_error(call, ST_ERR_INVALID_REQUEST,
                            "controlled shutdown must come from the broker itself");
        return;
    }
    br_ctl_controlled_shutdown(ctl, req->controlled_shutdown->broker_id,
                               req->controlled_shutdown->broker_epoch, ctl_cs_reply, call);
}

void br_ctl_handle_elect_leaders(br_ctl_t *ctl, br_call_t *call, const Strata__Request *req)
{
    if (!ctl->active || !br_md_ready(ctl->cp->md)) {
        Strata__ElectLeadersResponse er = STRATA__ELECT_LEADERS_RESPONSE__INIT;
        er.version = 1;
        er.error = STRATA__ERROR_CODE__NOT_CONTROLLER;
        Strata__Response resp = STRATA__RESPONSE__INIT;
        resp.body_case = STRATA__RESPONSE__BODY_ELECT_LEADERS;
        resp.elect_leaders = &er;
        br_call_reply(call, &resp);
        return;
    }
    ctl_elect_leaders(ctl, call, req->elect_leaders);
}
