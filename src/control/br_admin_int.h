/*
 * br_admin_int: the admin handlers' internals, shared by their pieces and
 * by nothing else (everything outside talks to br_admin.h): br_admin.c
 * (topics: CreateTopics, DeleteTopics, CreatePartitions, the pending
 * calls that wait for the cluster, auto-creation, the request switch),
 * br_admin_config.c (DescribeConfigs, AlterConfigs) and
 * br_admin_metadata.c (Metadata). It describes br_admin and
 * the response arena; owns nothing by itself. Core loop only.
 */
#ifndef BR_ADMIN_INT_H
#define BR_ADMIN_INT_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/st_arena.h"
#include "control/br_admin.h"
#include "control/br_ctl.h"
#include "control/br_md.h"
#include "coord/zknode.h"

#define AD_TAG "admin"

/* ----------------------------------------------------------- admin */

typedef struct ad_wait ad_wait_t;

struct br_admin {
    const br_cp_t *cp;
    ad_wait_t *waits;
    int64_t offsets_create_ms; /* last __consumer_offsets creation attempt */
};

/* Create topic name as Metadata's auto-creation does (broker defaults
 * num.partitions and default.replication.factor), fire and forget
 * (br_admin.c). */
void br_admin_auto_create(br_admin_t *ad, const char *name);

#endif
