/*
 * sc_group_app: the application-thread side of consumer-group membership
 * (part of sc_group, sc_group_int.h): sc_group_poll() applies what the
 * I/O thread prepared (lost / revoke / assign, with the rebalance
 * callbacks and the committed offsets of a new assignment, auto commit),
 * and the public strata_consumer_* subscription, rebalance callback,
 * position, lag, pause / resume and assignment calls.
 */
#include "client/sc_group.h"

#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "client/sc_client.h"
#include "client/sc_group_int.h"

/* ------------------------------------------------- app-thread work */

static void sc_group_callback(sc_group_t *g, strata_rebalance_event_t ev, const sc_assign_tp_t *tps, size_t n)
{
    if (g->cb == NULL)
        return;
    strata_tp_t *v = calloc(n ? n : 1, sizeof *v);
    if (v == NULL)
        return;
    for (size_t i = 0; i < n; i++) {
        v[i].topic = tps[i].topic;
        v[i].partition = tps[i].partition;
        v[i].offset = -1;
    }
    g->cb(g->c, ev, v, n, g->opaque);
    free(v);
}

/* App thread: give up the whole assignment (revoked or lost). */
void sc_group_drop_all(sc_group_t *g, strata_rebalance_event_t ev)
{
    sc_gtps_t old = {0};
    sc_client_lock(g->cl);
    old = g->owned;
    g->owned.tps = NULL;
    g->owned.n = 0;
    sc_client_unlock(g->cl);
    if (ev == STRATA_REBALANCE_REVOKED && g->autocommit && old.n > 0)
        sc_group_commit_sync(g, NULL, 0);
    if (old.n > 0 || ev != STRATA_REBALANCE_LOST)
        sc_group_callback(g, ev, old.tps, old.n);
    sc_consumer_set_parts(g->c, NULL, 0, SC_CP_NEED_COMMITTED, false);
    sc_group_tps_clear(&old);
}

/* App thread: apply g->pending (state ASSIGN). */
static void sc_group_apply(sc_group_t *g)
{
    sc_gtps_t cur = {0}, next = {0};
    sc_assign_tp_t *revoked = NULL, *added = NULL;
    size_t n_rev = 0, n_add = 0;
    sc_client_lock(g->cl);
    if (g->state != SC_G_ASSIGN) {
        sc_client_unlock(g->cl);
        return;
    }
    next = g->pending;
    g->pending.tps = NULL;
    g->pending.n = 0;
    sc_group_tps_set(&cur, g->owned.tps, g->owned.n);
    sc_client_unlock(g->cl);

    if (sc_group_tp_minus(cur.tps, cur.n, next.tps, next.n, &revoked, &n_rev) != ST_OK ||
        sc_group_tp_minus(next.tps, next.n, cur.tps, cur.n, &added, &n_add) != ST_OK)
        goto out;
    if (n_rev > 0) {
        if (g->autocommit)
            sc_group_commit_sync(g, revoked, n_rev);
        sc_group_callback(g, STRATA_REBALANCE_REVOKED, revoked, n_rev);
    }
    sc_consumer_set_parts(g->c, next.tps, next.n, SC_CP_NEED_COMMITTED, false);
    g->need_committed = true;
    g->committed_retry_at = 0;
    sc_client_lock(g->cl);
    if (g->state == SC_G_ASSIGN) {
        sc_group_tps_clear(&g->owned);
        g->owned = next;
        next.tps = NULL;
        next.n = 0;
        g->owned_gen = g->generation;
        bool rejoin = g->rejoin_wanted || (g->cooperative && n_rev > 0);
        g->rejoin_wanted = false;
        sc_group_set_state(g, SC_G_STABLE);
        if (rejoin)
            sc_group_set_state(g, SC_G_NEED_JOIN);
    }
    sc_client_unlock(g->cl);
    sc_group_callback(g, STRATA_REBALANCE_ASSIGNED, added, n_add);
out:
    free(revoked);
    free(added);
    sc_group_tps_clear(&cur);
    sc_group_tps_clear(&next);
}

void sc_group_poll(sc_group_t *g, int64_t deadline)
{
    int64_t now = st_mono_ms();
    sc_client_lock(g->cl);
    g->last_poll = now;
    if (g->state == SC_G_NEED_JOIN && g->retry_at == INT64_MAX)
        g->retry_at = 0; /* back after a max.poll.interval.ms expiry */
    bool lost = g->lost_pending;
    g->lost_pending = false;
    sc_client_unlock(g->cl);
    if (lost)
        sc_group_drop_all(g, STRATA_REBALANCE_LOST);
    sc_client_lock(g->cl);
    sc_gstate_t st = g->state;
    sc_client_unlock(g->cl);
    if (st == SC_G_REVOKE) {
        sc_group_drop_all(g, STRATA_REBALANCE_REVOKED);
        sc_client_lock(g->cl);
        if (g->state == SC_G_REVOKE)
            sc_group_set_state(g, SC_G_NEED_JOIN);
        sc_client_unlock(g->cl);
    } else if (st == SC_G_ASSIGN) {
        sc_group_apply(g);
    }
    if (g->need_committed && st_mono_ms() >= g->committed_retry_at)
        sc_group_fetch_committed(g, deadline);
    if (g->autocommit && now >= g->next_autocommit) {
        g->next_autocommit = now + g->autocommit_ms;
        sc_client_lock(g->cl);
        bool stable = g->state == SC_G_STABLE;
        sc_client_unlock(g->cl);
        if (stable)
            strata_consumer_commit(g->c, NULL, 0, true, NULL, NULL);
    }
}

/* ---------------------------------------------------------- public API */

strata_err_t strata_consumer_subscribe(strata_consumer_t *c, const char *const *topics, size_t n)
{
    if (c == NULL || (n > 0 && topics == NULL))
        return STRATA_ERR_INVALID_ARG;
    sc_group_t *g = c->grp;
    if (g == NULL)
        return STRATA_ERR_INVALID_CONFIG;
    if (n == 0)
        return strata_consumer_unsubscribe(c);
    sc_client_lock(&c->cl);
    bool assigned = !g->subscribed && c->n_parts > 0;
    sc_client_unlock(&c->cl);
    if (assigned)
        return STRATA_ERR_STATE;
    char **lits = calloc(n, sizeof *lits);
    regex_t *res = calloc(n, sizeof *res);
    size_t nl = 0, nr = 0;
    st_err_t e = lits && res ? ST_OK : ST_ERR_NOMEM;
    for (size_t i = 0; e == ST_OK && i < n; i++) {
        if (topics[i] == NULL || topics[i][0] == '\0')
            e = ST_ERR_INVALID_ARG;
        else if (topics[i][0] == '^')
            e = regcomp(&res[nr], topics[i], REG_EXTENDED | REG_NOSUB) == 0 ? (nr++, ST_OK)
                                                                            : ST_ERR_INVALID_ARG;
        else if ((lits[nl++] = strdup(topics[i])) == NULL)
            e = ST_ERR_NOMEM;
    }
    if (e != ST_OK) {
        sc_group_strv_free(lits, nl);
        for (size_t i = 0; i < nr; i++)
            regfree(&res[i]);
        free(res);
        return (strata_err_t)e;
    }
    sc_client_lock(&c->cl);
    sc_group_sub_clear(g);
    g->lits = lits;
    g->n_lits = nl;
    g->res = res;
    g->n_res = nr;
    g->subscribed = true;
    /* literal names only: metadata for just those; patterns need all */
    for (size_t i = 0; nr == 0 && i < nl; i++)
        sc_client_md_interest(&c->cl, lits[i]);
    sc_group_resub(g);
    g->last_poll = st_mono_ms();
    if (g->state == SC_G_IDLE)
        sc_group_set_state(g, SC_G_NEED_JOIN);
    else
        sc_group_want_rejoin(g);
    sc_client_md_want(&c->cl);
    sc_client_wakeup(&c->cl);
    sc_client_unlock(&c->cl);
    return STRATA_OK;
}

strata_err_t strata_consumer_unsubscribe(strata_consumer_t *c)
{
    if (c == NULL)
        return STRATA_ERR_INVALID_ARG;
    sc_group_t *g = c->grp;
    if (g == NULL || !g->subscribed)
        return STRATA_OK;
    sc_group_leave(g, SC_G_IDLE);
    sc_client_lock(&c->cl);
    g->subscribed = false;
    sc_group_sub_clear(g);
    sc_client_unlock(&c->cl);
    return STRATA_OK;
}

void strata_consumer_set_rebalance_cb(strata_consumer_t *c, strata_rebalance_cb cb, void *opaque)
{
    if (c == NULL || c->grp == NULL)
        return;
    c->grp->cb = cb;
    c->grp->opaque = opaque;
}

static sc_cpart_t *sc_gapp_find_part(strata_consumer_t *c, const char *topic, int32_t partition)
{
    for (size_t i = 0; topic && i < c->n_parts; i++)
        if (c->parts[i].partition == partition && strcmp(c->parts[i].topic, topic) == 0)
            return &c->parts[i];
    return NULL;
}

strata_err_t strata_consumer_position(strata_consumer_t *c, const char *topic, int32_t partition,
                                      int64_t *offset)
{
    if (c == NULL || offset == NULL)
        return STRATA_ERR_INVALID_ARG;
    sc_client_lock(&c->cl);
    sc_cpart_t *cp = sc_gapp_find_part(c, topic, partition);
    *offset = cp ? sc_group_part_position(cp) : -1;
    sc_client_unlock(&c->cl);
    if (cp == NULL)
        return STRATA_ERR_NOT_FOUND;
    return *offset >= 0 ? STRATA_OK : STRATA_ERR_STATE;
}

strata_err_t strata_consumer_lag(strata_consumer_t *c, const char *topic, int32_t partition, int64_t *lag)
{
    if (c == NULL || lag == NULL)
        return STRATA_ERR_INVALID_ARG;
    sc_client_lock(&c->cl);
    sc_cpart_t *cp = sc_gapp_find_part(c, topic, partition);
    *lag = cp ? sc_group_lag(cp->hwm, sc_group_part_position(cp)) : -1;
    sc_client_unlock(&c->cl);
    if (cp == NULL)
        return STRATA_ERR_NOT_FOUND;
    return *lag >= 0 ? STRATA_OK : STRATA_ERR_STATE;
}

static strata_err_t sc_gapp_pause(strata_consumer_t *c, const strata_tp_t *tps, size_t n, bool pause)
{
    if (c == NULL || (n > 0 && tps == NULL))
        return STRATA_ERR_INVALID_ARG;
    strata_err_t e = STRATA_OK;
    /* the current chunk may belong to a partition being paused */
    for (size_t i = 0; pause && c->cur != NULL && i < n; i++) {
        if (c->cur->idx < c->n_parts && tps[i].topic != NULL &&
            c->parts[c->cur->idx].partition == tps[i].partition &&
            strcmp(c->parts[c->cur->idx].topic, tps[i].topic) == 0) {
            sc_consumer_drop_cur(c);
        }
    }
    sc_client_lock(&c->cl);
    for (size_t i = 0; i < n; i++) {
        sc_cpart_t *cp = sc_gapp_find_part(c, tps[i].topic, tps[i].partition);
        if (cp == NULL) {
            e = STRATA_ERR_NOT_FOUND;
            continue;
        }
        if (cp->paused == pause)
            continue;
        cp->paused = pause;
        if (pause) {
            /* drop what was fetched beyond the position: refetched on resume */
            int64_t p = sc_group_part_position(cp);
            cp->version++;
            cp->fetching = false;
            if (p >= 0 && cp->state == SC_CP_ACTIVE)
                cp->fetch_pos = p;
        }
    }
    sc_client_wakeup(&c->cl);
    sc_client_unlock(&c->cl);
    return e;
}

strata_err_t strata_consumer_pause(strata_consumer_t *c, const strata_tp_t *tps, size_t n)
{
    return sc_gapp_pause(c, tps, n, true);
}

strata_err_t strata_consumer_resume(strata_consumer_t *c, const strata_tp_t *tps, size_t n)
{
    return sc_gapp_pause(c, tps, n, false);
}

strata_err_t strata_consumer_assignment(strata_consumer_t *c, strata_tp_t **tps, size_t *n)
{
    if (c == NULL || tps == NULL || n == NULL)
        return STRATA_ERR_INVALID_ARG;
    *tps = calloc(c->n_parts ? c->n_parts : 1, sizeof **tps);
    *n = 0;
    if (*tps == NULL)
        return STRATA_ERR_NOMEM;
    for (size_t i = 0; i < c->n_parts; i++) {
        char *t = strdup(c->parts[i].topic);
        if (t == NULL) {
            strata_tp_list_free(*tps, *n);
            *tps = NULL;
            *n = 0;
            return STRATA_ERR_NOMEM;
        }
        (*tps)[*n].topic = t;
        (*tps)[*n].partition = c->parts[i].partition;
        (*tps)[*n].offset = sc_group_part_position(&c->parts[i]);
        (*n)++;
    }
    return STRATA_OK;
}

void strata_tp_list_free(strata_tp_t *tps, size_t n)
{
    for (size_t i = 0; tps && i < n; i++)
        free((char *)tps[i].topic);
    free(tps);
}
