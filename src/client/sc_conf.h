/*
 * sc_conf: the client library's property table (one st_conf table for
 * producer, consumer and admin; Kafka's names and defaults where the
 * concept is the same, librdkafka's where Java has none) and the struct
 * it fills, which is what strata_conf_t is. Owns: defaults, validation,
 * derived values (acks as a number, codec, bootstrap list).
 */
#ifndef SC_CONF_H
#define SC_CONF_H

#include <stdbool.h>
#include <stdint.h>

#include "client/strata.h"
#include "common/st_batch.h"
#include "common/st_conf.h"

struct strata_conf {
    char *bootstrap_servers;
    char *client_id;
    int64_t request_timeout_ms;
    int64_t metadata_max_age_ms;
    int64_t retry_backoff_ms;
    int64_t reconnect_backoff_ms;
    int64_t reconnect_backoff_max_ms;
    int64_t connection_setup_timeout_ms;
    /* producer */
    char *acks;
    int64_t batch_size;
    int64_t linger_ms;
    char *compression_type;
    int64_t delivery_timeout_ms;
    int64_t retries;
    int64_t max_in_flight;
    int64_t buffer_memory;
    int64_t max_block_ms;
    int64_t max_request_size;
    bool enable_idempotence;
    /* consumer */
    int64_t fetch_max_wait_ms;
    char *client_rack; /* NULL: none (KIP-392) */
    int64_t fetch_min_bytes;
    int64_t fetch_max_bytes;
    int64_t max_partition_fetch_bytes;
    char *auto_offset_reset;
    bool enable_partition_eof;
    int64_t queued_max_kbytes;
    /* consumer groups (used by sc_group) */
    char *group_id;
    char *group_instance_id;
    int64_t session_timeout_ms;
    int64_t heartbeat_interval_ms;
    int64_t max_poll_interval_ms;
    bool enable_auto_commit;
    int64_t auto_commit_interval_ms;
    char *partition_assignment_strategy;
    unsigned explicit_set;          /* SC_SET_* bits: set by the user, not defaults */
    int64_t statistics_interval_ms; /* 0: off */
    strata_stats_cb stats_cb;
    void *stats_opaque;
};

/* enable.idempotence was set by the user (Kafka: a conflicting acks,
 * retries or max.in.flight is then an error instead of turning it off). */
#define SC_SET_IDEMPOTENCE 1u

extern const st_conf_prop_t sc_conf_table[];

/* Defaults into a zeroed conf. */
st_err_t sc_conf_init(strata_conf_t *conf);
void sc_conf_fini(strata_conf_t *conf);
/* Deep copy of src into a zeroed dst. */
st_err_t sc_conf_copy(strata_conf_t *dst, const strata_conf_t *src);
/* Cross-field checks (bootstrap list present, acks parses). */
st_err_t sc_conf_check(const strata_conf_t *conf, char *err, size_t errlen);
/* Whether a producer with this conf is idempotent: enable.idempotence,
 * unless it was left at its default and acks (not all), retries (0) or
 * max.in.flight.requests.per.connection (> 5) conflict with it (then off). ST_ERR_INVALID_CONFIG with a message when enable.idempotence=true
 * was set explicitly together with such a value. */
st_err_t sc_conf_idempotence(const strata_conf_t *conf, bool *on, char *err, size_t errlen);
/* acks as 0, 1 or -1. */
int sc_conf_acks(const strata_conf_t *conf);
st_codec_t sc_conf_codec(const strata_conf_t *conf);
/* auto.offset.reset: -2 earliest, -1 latest, 0 none. */
int sc_conf_reset(const strata_conf_t *conf);
/* Split bootstrap.servers into a malloc'd array of malloc'd URLs (spaces
 * trimmed, empty items skipped). *n may be 0. */
st_err_t sc_conf_bootstrap(const strata_conf_t *conf, char ***urls, size_t *n);
void sc_conf_bootstrap_free(char **urls, size_t n);

#endif
