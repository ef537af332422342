/*
 * br_api: the one table of request bodies the broker serves, and the
 * dispatch over it. Each row names a body of Request's oneof (its field
 * number), the versions accepted, what the caller must satisfy before the
 * handler runs (flags), the operation and resource an authorizer will
 * check, and the handler. The request server hands every decoded request
 * to br_api_request (br_api_produce for the raw produce view); dispatch
 * then does, in this order and for every body alike:
 *
 *   1. resign leaderships if the ZooKeeper session is no longer
 *      confirmed (br_core_fenced); Produce is refused while fenced;
 *   2. refuse a broker's request (broker_epoch > 0) whose epoch is not
 *      exactly the czxid of that broker's registration as the metadata
 *      cache knows it: older, newer or unknown (STALE_BROKER_EPOCH,
 *      logged once a minute);
 *   3. look the body up in the table and check its version
 *      (UNSUPPORTED_VERSION);
 *   4. refuse a missing body (INVALID_REQUEST) unless BR_API_NO_BODY;
 *   5. refuse with BROKER_NOT_AVAILABLE until registered in ZooKeeper
 *      when BR_API_REGISTERED, with COORDINATOR_NOT_AVAILABLE when
 *      BR_API_GROUP and the broker runs no group coordinator;
 *   6. count the request in the row's statistics and call the handler.
 *
 * ApiVersions is answered from the same table, so a body added to the
 * table is advertised, version-checked and counted without more code.
 * Core loop only.
 */
#ifndef BR_API_H
#define BR_API_H

#include <stddef.h>
#include <stdint.h>

#include "broker/br_server.h"
#include "common/st_err.h"

typedef struct br_core br_core_t;

/* What a caller must satisfy before the handler runs. */
typedef enum br_api_flags {
    BR_API_REGISTERED = 1u << 0,  /* BROKER_NOT_AVAILABLE until registered in ZooKeeper */
    BR_API_NO_BODY = 1u << 1,     /* the body may be absent (ApiVersions) */
    BR_API_BROKER_ONLY = 1u << 2, /* sent only by brokers (broker_epoch > 0) */
    BR_API_CONTROLLER = 1u << 3,  /* answered by the active controller */
    BR_API_GROUP = 1u << 4, /* answered by the group coordinator (COORDINATOR_NOT_AVAILABLE without one) */
} br_api_flags_t;

/* The operation a request performs on its resource, with Kafka's ACL
 * names, for the authorizer (none is enforced yet). */
typedef enum br_api_op {
    BR_API_OP_NONE = 0, /* allowed to anyone (ApiVersions) */
    BR_API_OP_READ,
    BR_API_OP_WRITE,
    BR_API_OP_CREATE,
    BR_API_OP_DELETE,
    BR_API_OP_ALTER,
    BR_API_OP_DESCRIBE,
    BR_API_OP_CLUSTER_ACTION,
    BR_API_OP_DESCRIBE_CONFIGS,
    BR_API_OP_ALTER_CONFIGS,
    BR_API_OP_IDEMPOTENT_WRITE,
} br_api_op_t;

/* The kind of resource the operation is on. */
typedef enum br_api_resource {
    BR_API_RES_NONE = 0,
    BR_API_RES_TOPIC,
    BR_API_RES_GROUP,
    BR_API_RES_CLUSTER,
} br_api_resource_t;

/* A handler: the body is present (or BR_API_NO_BODY) and every check of
 * the flags passed; it answers call exactly once, now or later. */
typedef void (*br_api_fn)(br_core_t *core, br_call_t *call, const Strata__Request *req);

/* One request body the broker serves: api = its Request.body field
 * number, name = its message name without "Request" (as ApiVersions
 * reports it), versions min_version..max_version accepted (0 is the
 * proto3 default of an unset field and means the same as 1). */
typedef struct br_api {
    int32_t api;
    const char *name;
    int32_t min_version;
    int32_t max_version;
    unsigned flags; /* br_api_flags_t */
    br_api_op_t op;
    br_api_resource_t resource;
    br_api_fn handle; /* NULL for Produce: served from the raw view */
} br_api_t;

/* Per row of the table: what dispatch counted. */
typedef struct br_api_stats {
    uint64_t requests; /* handed to the handler */
    uint64_t refused;  /* answered by dispatch itself (steps 1-5) */
} br_api_stats_t;

/* Rows in the table. */
#define BR_API_COUNT 26

/* The table of every body of Request's oneof, in field-number order
 * (static storage); *n gets its length (BR_API_COUNT). */
const br_api_t *br_api_table(size_t *n);
/* The row of body field number api, or NULL. */
const br_api_t *br_api_find(int32_t api);
/* The row's index in the table, for statistics (-1 when not a row). */
int br_api_index(const br_api_t *a);

/* The generic version check: reads the body's int32 `version` field by
 * protobuf-c reflection. ST_OK when it lies in the table's range for api
 * (or api is not in the table, or body is NULL: dispatch answers those);
 * otherwise ST_ERR_UNSUPPORTED_VERSION with a message naming the body and
 * versions in msg. */
st_err_t br_api_check_version(int32_t api, const ProtobufCMessage *body, char *msg, size_t msglen);
/* Same for the body of a decoded request envelope. */
st_err_t br_api_check_request_version(const Strata__Request *req, char *msg, size_t msglen);

/* The request server's handlers (arg = the core). */
void br_api_produce(void *core, br_call_t *call, const Strata__Raw__RawProduceRequest *req);
void br_api_request(void *core, br_call_t *call, const Strata__Request *req);

#endif
