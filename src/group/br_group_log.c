/*
 * br_group_log: encoding of __consumer_offsets records and the loader
 * (see br_group_log.h). Keys and values are protobuf (proto/strata.proto:
 * CoordinatorKey, OffsetValue, GroupValue); a load reads whole frames
 * through br_pm_local_read in chunks and iterates their records with
 * st_batch_iter. Core loop only.
 */
#include "group/br_group_log.h"

#include <stdlib.h>

#include "partition/br_pm_local.h"
#include "common/st_log.h"

#define BR_GROUP_LOG_TAG "group"
#define BR_GROUP_LOG_CHUNK (1u << 20)

static st_err_t br_group_log_add(st_batch_builder_t *b, int64_t ts, const Strata__CoordinatorKey *key,
                                 const ProtobufCMessage *value)
{
    st_err_t err = ST_ERR_NOMEM;
    size_t klen = strata__coordinator_key__get_packed_size(key);
    size_t vlen = value ? protobuf_c_message_get_packed_size(value) : 0;
    uint8_t *k = malloc(klen ? klen : 1);
    uint8_t *v = value ? malloc(vlen ? vlen : 1) : NULL;
    if (!k || (value && !v))
        goto out;
    strata__coordinator_key__pack(key, k);
    if (value)
        protobuf_c_message_pack(value, v);
    err = st_batch_builder_add(b, ts, k, klen, value ? v : NULL, vlen, NULL, 0);
out:
    free(k);
    free(v);
    return err;
}

st_err_t br_group_log_add_offset(st_batch_builder_t *b, int64_t ts, const char *group, const char *topic,
                                 int32_t partition, const Strata__OffsetValue *v)
{
    Strata__OffsetKey ok = STRATA__OFFSET_KEY__INIT;
    ok.group = (char *)group;
    ok.topic = (char *)topic;
    ok.partition = partition;
    Strata__CoordinatorKey key = STRATA__COORDINATOR_KEY__INIT;
    key.key_case = STRATA__COORDINATOR_KEY__KEY_OFFSET;
    key.offset = &ok;
    return br_group_log_add(b, ts, &key, v ? &v->base : NULL);
}

st_err_t br_group_log_add_group(st_batch_builder_t *b, int64_t ts, const char *group,
                                const Strata__GroupValue *v)
{
    Strata__GroupKey gk = STRATA__GROUP_KEY__INIT;
    gk.group = (char *)group;
    Strata__CoordinatorKey key = STRATA__COORDINATOR_KEY__INIT;
    key.key_case = STRATA__COORDINATOR_KEY__KEY_GROUP;
    key.group = &gk;
    return br_group_log_add(b, ts, &key, v ? &v->base : NULL);
}

/* Visit one record; false when it did not decode. */
static bool br_group_log_visit(const st_record_t *rec, const br_group_log_visitor_t *v)
{
    if (!rec->key)
        return false;
    Strata__CoordinatorKey *key = strata__coordinator_key__unpack(NULL, rec->key_len, rec->key);
    if (!key)
        return false;
    bool ok = false;
    if (key->key_case == STRATA__COORDINATOR_KEY__KEY_OFFSET && key->offset && key->offset->group &&
        *key->offset->group && key->offset->topic) {
        Strata__OffsetValue *ov = NULL;
        if (rec->value && !(ov = strata__offset_value__unpack(NULL, rec->value_len, rec->value)))
            goto out;
        if (v->offset)
            v->offset(v->arg, key->offset->group, key->offset->topic, key->offset->partition, ov);
        if (ov)
            strata__offset_value__free_unpacked(ov, NULL);
        ok = true;
    } else if (key->key_case == STRATA__COORDINATOR_KEY__KEY_GROUP && key->group && key->group->group &&
               *key->group->group) {
        Strata__GroupValue *gv = NULL;
        if (rec->value && !(gv = strata__group_value__unpack(NULL, rec->value_len, rec->value)))
            goto out;
        if (v->group)
            v->group(v->arg, key->group->group, gv);
        if (gv)
            strata__group_value__free_unpacked(gv, NULL);
        ok = true;
    }
out:
    strata__coordinator_key__free_unpacked(key, NULL);
    return ok;
}

st_err_t br_group_log_load(br_pm_t *pm, int32_t partition, int64_t end, const br_group_log_visitor_t *v,
                           br_group_log_stats_t *stats)
{
    br_group_log_stats_t st = {0, 0, 0};
    br_pm_part_info_t info;
    st_err_t err = br_pm_local_info(pm, BR_OFFSETS_TOPIC, partition, &info);
    if (err != ST_OK)
        goto out;
    if (end < 0 || end > info.log_end)
        end = info.log_end;
    int64_t pos = info.log_start;
    st_buf_t buf;
    st_buf_init(&buf);
    while (pos < end) {
        buf.len = 0;
        err = br_pm_local_read(pm, BR_OFFSETS_TOPIC, partition, pos, BR_GROUP_LOG_CHUNK, end, &buf);
        if (err != ST_OK || buf.len == 0)
            break;
        size_t off = 0;
        int64_t next = pos;
        while (off < buf.len && err == ST_OK) {
            st_batch_hdr_t h;
            if (st_batch_hdr_decode(buf.data + off, buf.len - off, &h) != ST_OK ||
                st_batch_frame_size(&h) > buf.len - off) {
                err = ST_ERR_CORRUPT_MESSAGE;
                break;
            }
            size_t fsz = st_batch_frame_size(&h);
            st_batch_iter_t it;
            err = st_batch_iter_init(&it, buf.data + off, fsz);
            if (err != ST_OK)
                break;
            st_record_t rec;
            st_err_t ie;
            while ((ie = st_batch_iter_next(&it, &rec)) == ST_OK) {
                if (rec.offset < pos || rec.offset >= end)
                    continue; /* the first frame may start before pos */
                if (br_group_log_visit(&rec, v))
                    st.records++;
                else
                    st.skipped++;
            }
            st_batch_iter_fini(&it);
            if (ie != ST_ERR_NOT_FOUND)
                err = ST_ERR_CORRUPT_MESSAGE;
            next = h.base_offset + h.last_offset_delta + 1;
            off += fsz;
        }
        if (err != ST_OK)
            break;
        if (next <= pos)
            break; /* no progress: never loop forever */
        pos = next;
    }
    st_buf_free(&buf);
    st.end = pos < end ? pos : end;
    if (st.skipped > 0)
        st_log(ST_LOG_WARN, BR_GROUP_LOG_TAG, "%s-%d: skipped %lld undecodable record(s) while loading",
               BR_OFFSETS_TOPIC, partition, (long long)st.skipped);
out:
    if (stats)
        *stats = st;
    return err;
}
