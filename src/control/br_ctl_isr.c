/*
 * br_ctl_isr: leader-driven ISR changes (br_ctl_isr_change, see
 * br_ctl.h). Any broker, not only the controller, writes the ISR its
 * partition manager proposes for a partition it leads: it reads the
 * topic's assignment, then the state, and writes the state in a multi
 * that also checks the assignment's znode version, so that a broker
 * removed from the replicas meanwhile (reassignment) is never added back;
 * a broker that is gone, in controlled shutdown or whose replica is
 * offline is not added either. BADVERSION or NONODE: start over, at most
 * a few times. Core loop only.
 */
#include <stdlib.h>
#include <string.h>

#include "common/st_log.h"
#include "control/br_ctl_int.h"

/* ------------------------------------------------- leader-driven ISR */

typedef struct ctl_isr {
    br_ctl_t *ctl;
    char topic[256];
    int32_t partition;
    int32_t leader_epoch;
    int32_t *isr;
    size_t n_isr;
    int tries;
    int32_t assign_version; /* of /brokers/topics/<t> as read for this try */
    int32_t *assign;        /* the partition's replicas in it */
    size_t n_assign;
    zknode_part_state_t written;
} ctl_isr_t;

static void ctl_isr_free(ctl_isr_t *x)
{
    free(x->isr);
    free(x->assign);
    free(x->written.isr);
    free(x);
}

static void ctl_isr_assign_read(void *arg, int rc, const char *data, int len, const struct Stat *stat);
static void ctl_isr_read(void *arg, int rc, const char *data, int len, const struct Stat *stat);

/* An ISR change reads the assignment, then the state, then writes the
 * state in a multi that also checks the assignment's version: a broker
 * removed from the replicas meanwhile (reassignment) is never added back. */
static void ctl_isr_start(ctl_isr_t *x)
{
    char path[512];
    if (br_cp_stopping(x->ctl->cp) || zknode_path_topic(path, sizeof path, x->topic) < 0 ||
        zkc_get(x->ctl->cp->zk, path, NULL, ctl_isr_assign_read, x) != ZOK)
        ctl_isr_free(x);
}

static void ctl_isr_assign_read(void *arg, int rc, const char *data, int len, const struct Stat *stat)
{
    ctl_isr_t *x = arg;
    zknode_topic_t t;
    char err[128], path[512];
    if (rc != ZOK || !stat || br_cp_stopping(x->ctl->cp) ||
        zknode_topic_decode(data, (size_t)len, &t, err, sizeof err) != ST_OK) {
        ctl_isr_free(x);
        return;
    }
    free(x->assign);
    x->assign = NULL;
    x->n_assign = 0;
    if (x->partition >= 0 && x->partition < t.n_partitions) {
        size_t n = (size_t)t.n_replicas[x->partition];
        x->assign = malloc((n + 1) * sizeof *x->assign);
        if (x->assign) {
            memcpy(x->assign, t.replicas[x->partition], n * sizeof *x->assign);
            x->n_assign = n;
        }
    }
    zknode_topic_free(&t);
    x->assign_version = stat->version;
    if (!x->assign || zknode_path_partition_state(path, sizeof path, x->topic, x->partition) < 0 ||
        zkc_get(x->ctl->cp->zk, path, NULL, ctl_isr_read, x) != ZOK)
        ctl_isr_free(x);
}

static void ctl_isr_set(void *arg, int rc, const zoo_op_result_t *results, int n)
{
    ctl_isr_t *x = arg;
    if ((rc == ZBADVERSION || rc == ZNONODE) && ++x->tries < 4 && !br_cp_stopping(x->ctl->cp)) {
        free(x->written.isr);
        x->written.isr = NULL;
        ctl_isr_start(x);
        return;
    }
    const struct Stat *stat = rc == ZOK && results && n == 2 ? results[1].stat : NULL;
    if (rc == ZOK && !br_cp_stopping(x->ctl->cp) && x->ctl->cp->md) {
        ST_INFO(CTL_TAG, "%s-%d: ISR now %zu replica(s) (leader epoch %d)", x->topic, x->partition,
                x->written.n_isr, x->written.leader_epoch);
        br_md_state_written(x->ctl->cp->md, x->topic, x->partition, &x->written, stat ? stat->version : -1);
    } else if (rc != ZOK && rc != ZCLOSING) {
        ST_DEBUG(CTL_TAG, "%s-%d: ISR change not written: %s", x->topic, x->partition, zkc_rc_name(rc));
    }
    ctl_isr_free(x);
}

static void ctl_isr_read(void *arg, int rc, const char *data, int len, const struct Stat *stat)
{
    ctl_isr_t *x = arg;
    const br_cp_t *cp = x->ctl->cp;
    zknode_part_state_t cur;
    char err[128], path[512];
    if (rc != ZOK || !stat || br_cp_stopping(cp) ||
        zknode_part_state_decode(data, (size_t)len, &cur, err, sizeof err) != ST_OK) {
        ctl_isr_free(x);
        return;
    }
    bool ours = cur.leader == cp->broker_id && cur.leader_epoch == x->leader_epoch;
    /* refuse to add back a broker that is gone, in controlled shutdown
     * (this registration; a restart registers anew), or whose replica of
     * this partition is in a failed log directory */
    size_t kept = 0;
    for (size_t i = 0; i < x->n_isr; i++) {
        int32_t id = x->isr[i];
        bool added = !ctl_has(cur.isr, cur.n_isr, id) && id != cp->broker_id;
        if (added &&
            (!ctl_has(x->assign, x->n_assign, id) ||
             !br_md_replica_live(cp->md, id, x->topic, x->partition) || br_ctl_shutting_down(x->ctl, id))) {
            ST_INFO(CTL_TAG, "%s-%d: not adding broker %d to the ISR (%s)", x->topic, x->partition, id,
                    !ctl_has(x->assign, x->n_assign, id)                        ? "no longer a replica"
                    : !br_md_broker_live(cp->md, id)                            ? "not registered"
                    : br_md_replica_offline(cp->md, id, x->topic, x->partition) ? "replica offline"
                                                                                : "controlled shutdown");
            continue;
        }
        x->isr[kept++] = id;
    }
    x->n_isr = kept;
    bool same = cur.n_isr == x->n_isr;
    for (size_t i = 0; same && i < x->n_isr; i++)
        same = ctl_has(cur.isr, cur.n_isr, x->isr[i]);
    if (!ours || same || x->n_isr == 0) {
        zknode_part_state_free(&cur);
        ctl_isr_free(x);
        return;
    }
    x->written.leader = cur.leader;
    x->written.leader_epoch = cur.leader_epoch;
    x->written.controller_epoch = cur.controller_epoch;
    zknode_part_state_free(&cur);
    x->written.isr = malloc((x->n_isr + 1) * sizeof *x->written.isr);
    if (!x->written.isr) {
        ctl_isr_free(x);
        return;
    }
    memcpy(x->written.isr, x->isr, x->n_isr * sizeof *x->isr);
    x->written.n_isr = x->n_isr;
    char *json = zknode_part_state_encode(&x->written);
    char tpath[512];
    zkc_multi_t *m = json ? zkc_multi_new(cp->zk) : NULL;
    if (!m || zknode_path_partition_state(path, sizeof path, x->topic, x->partition) < 0 ||
        zknode_path_topic(tpath, sizeof tpath, x->topic) < 0) {
        zkc_multi_free(m);
        ctl_isr_free(x);
    } else {
        zkc_multi_check(m, tpath, x->assign_version);
        zkc_multi_set(m, path, json, (int)strlen(json), stat->version);
        if (zkc_multi_commit(cp->zk, m, ctl_isr_set, x) != ZOK)
            ctl_isr_free(x);
    }
    free(json);
}

void br_ctl_isr_change(void *arg, const char *topic, int32_t partition, int32_t leader_epoch,
                       const int32_t *isr, size_t n_isr)
{
    br_ctl_t *ctl = arg;
    if (!ctl || !topic || n_isr == 0 || !br_cp_registered(ctl->cp))
        return;
    ctl_isr_t *x = calloc(1, sizeof *x);
    if (!x)
        return;
    x->ctl = ctl;
    snprintf(x->topic, sizeof x->topic, "%s", topic);
    x->partition = partition;
    x->leader_epoch = leader_epoch;
    x->isr = malloc(n_isr * sizeof *isr);
    if (!x->isr) {
        free(x);
        return;
    }
    memcpy(x->isr, isr, n_isr * sizeof *isr);
    x->n_isr = n_isr;
    ctl_isr_start(x);
}
