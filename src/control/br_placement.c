/*
 * br_placement: replica placement (see br_placement.h). The brokers are
 * ordered by id; with racks, the order alternates racks (the first unused
 * broker of each rack in turn, racks in order of first appearance), so
 * that consecutive replicas land on different racks. Partition p's replica
 * j is the broker at (start_index + first_partition + p + j) mod n of that
 * order. Pure: no I/O, no state.
 */
#include "control/br_placement.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

st_err_t br_placement_assign(const int32_t *brokers, const char *const *racks, size_t n_brokers,
                             int32_t n_parts, int32_t rf, size_t start_index, int32_t first_partition,
                             int32_t *out)
{
    if (rf <= 0 || (size_t)rf > n_brokers || n_brokers == 0)
        return ST_ERR_INVALID_REPLICATION_FACTOR;
    /* sort by id (a copy), then alternate racks: r1 r2 r3 r1 r2 ... */
    size_t *idx = malloc(n_brokers * sizeof *idx);
    int32_t *order = malloc(n_brokers * sizeof *order);
    bool *used = calloc(n_brokers, sizeof *used);
    st_err_t rc = ST_ERR_NOMEM;
    if (!idx || !order || !used)
        goto out;
    for (size_t i = 0; i < n_brokers; i++)
        idx[i] = i;
    for (size_t i = 0; i < n_brokers; i++)
        for (size_t j = i + 1; j < n_brokers; j++)
            if (brokers[idx[j]] < brokers[idx[i]]) {
                size_t t = idx[i];
                idx[i] = idx[j];
                idx[j] = t;
            }
    bool rack_aware = false;
    for (size_t i = 0; racks && i < n_brokers; i++)
        rack_aware |= racks[i] != NULL;
    if (!rack_aware) {
        for (size_t i = 0; i < n_brokers; i++)
            order[i] = brokers[idx[i]];
    } else {
        size_t n = 0;
        while (n < n_brokers) {
            /* one pass: the first unused broker of each rack, racks in order of first appearance */
            const char *seen[n_brokers];
            size_t n_seen = 0;
            for (size_t k = 0; k < n_brokers; k++) {
                size_t i = idx[k];
                if (used[k])
                    continue;
                const char *rk = racks[i] ? racks[i] : "";
                bool dup = false;
                for (size_t s = 0; s < n_seen && !dup; s++)
                    dup = strcmp(seen[s], rk) == 0;
                if (dup)
                    continue;
                seen[n_seen++] = rk;
                used[k] = true;
                order[n++] = brokers[i];
            }
        }
    }
    for (int32_t p = 0; p < n_parts; p++)
        for (int32_t j = 0; j < rf; j++)
            out[(size_t)p * (size_t)rf + (size_t)j] =
                order[(start_index + (size_t)(first_partition + p) + (size_t)j) % n_brokers];
    rc = ST_OK;
out:
    free(idx);
    free(order);
    free(used);
    return rc;
}
