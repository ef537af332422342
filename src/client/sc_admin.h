/*
 * sc_admin: the strata_admin_* calls: topic creation and deletion,
 * partition growth and config changes (sent to the controller, retried
 * once after a metadata refresh on NOT_CONTROLLER), config description,
 * and cluster metadata for tools. Every call is synchronous, bounded by
 * its timeout, and thread-safe (the hub's lock guards the shared state).
 */
#ifndef SC_ADMIN_H
#define SC_ADMIN_H

#include "client/strata.h"

#endif
