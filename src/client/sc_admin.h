/*
 * sc_admin: the strata_admin_* calls: topic creation and deletion,
 * partition growth and config changes (sent to the controller, retried
 * once after a metadata refresh on NOT_CONTROLLER), config description,
 * and cluster metadata for tools. Every call is synchronous, bounded by
 * its timeout, and thread-safe (the hub's lock guards the shared state).
 * The consumer-group calls (strata_admin_list_groups ...) are in
 * sc_admin_group.c, which shares struct strata_admin from here.
 */
#ifndef SC_ADMIN_H
#define SC_ADMIN_H

#include "client/sc_client.h"
#include "client/strata.h"

/* An admin handle: a client hub without a tick of its own. */
struct strata_admin {
    sc_client_t cl;
};

#endif
