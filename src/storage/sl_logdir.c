/*
 * sl_logdir: a log directory and its directory-wide files.
 *
 *   <dir>/<topic>-<partition>/          one sl_log each
 *   <dir>/recovery-point-offset-checkpoint
 *   <dir>/replication-offset-checkpoint  high watermarks
 *   <dir>/.strata_cleanshutdown          present only after a clean close
 *
 * Both checkpoints use Kafka's text format: "0\n<n>\n" then n lines of
 * "<topic> <partition> <offset>". The clean-shutdown marker is read and
 * removed when the directory is opened, so a crash at any later point
 * makes the next open run recovery. Partition logs are opened on demand
 * (sl_logdir_open_log), each with the recovery point recorded for it.
 */
#include "storage/sl_logdir.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/st_log.h"
#include "storage/sl_file.h"

#define SL_LD_TAG "logdir"
#define SL_LD_RP_FILE "recovery-point-offset-checkpoint"
#define SL_LD_HW_FILE "replication-offset-checkpoint"
#define SL_LD_CLEAN_FILE ".strata_cleanshutdown"
#define SL_LD_META_FILE "partition.meta"
#define SL_LD_MAX_CKPT (64 << 20)

/* One partition known to this directory: open or only checkpointed. */
typedef struct sl_ld_part {
    char *lp_topic;
    int32_t lp_partition;
    sl_log_t *lp_log; /* NULL when not open */
    int64_t lp_rp;    /* recovery point from the checkpoint, -1 unknown */
    int64_t lp_hw;    /* -1 unknown */
} sl_ld_part_t;

struct sl_logdir {
    char *ld_path;
    bool ld_clean; /* the clean-shutdown marker was present at open */
    sl_ld_part_t *ld_parts;
    size_t ld_n, ld_cap;
};

/* Kafka's legal topic names: [a-zA-Z0-9._-], 1..249 chars, not . or .. */
static bool sl_ld_topic_ok(const char *t)
{
    size_t n = strlen(t);
    if (n == 0 || n > 249 || !strcmp(t, ".") || !strcmp(t, ".."))
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = t[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '_' || c == '-'))
            return false;
    }
    return true;
}

static sl_ld_part_t *sl_ld_find(sl_logdir_t *ld, const char *topic, int32_t partition)
{
    for (size_t i = 0; i < ld->ld_n; i++)
        if (ld->ld_parts[i].lp_partition == partition && !strcmp(ld->ld_parts[i].lp_topic, topic))
            return &ld->ld_parts[i];
    return NULL;
}

static sl_ld_part_t *sl_ld_get_or_add(sl_logdir_t *ld, const char *topic, int32_t partition)
{
    sl_ld_part_t *p = sl_ld_find(ld, topic, partition);
    if (p)
        return p;
    if (ld->ld_n == ld->ld_cap) {
        size_t ncap = ld->ld_cap ? ld->ld_cap * 2 : 16;
        sl_ld_part_t *np = realloc(ld->ld_parts, ncap * sizeof *np);
        if (!np)
            return NULL;
        ld->ld_parts = np;
        ld->ld_cap = ncap;
    }
    p = &ld->ld_parts[ld->ld_n];
    memset(p, 0, sizeof *p);
    p->lp_topic = strdup(topic);
    if (!p->lp_topic)
        return NULL;
    p->lp_partition = partition;
    p->lp_rp = -1;
    p->lp_hw = -1;
    ld->ld_n++;
    return p;
}

static void sl_ld_remove(sl_logdir_t *ld, sl_ld_part_t *p)
{
    free(p->lp_topic);
    size_t i = (size_t)(p - ld->ld_parts);
    memmove(p, p + 1, (ld->ld_n - i - 1) * sizeof *p);
    ld->ld_n--;
}

/* Load one checkpoint file; hw selects which field it fills. */
static st_err_t sl_ld_load_ckpt(sl_logdir_t *ld, const char *name, bool hw)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", ld->ld_path, name);
    st_buf_t b;
    st_buf_init(&b);
    st_err_t err = sl_file_read_all(path, SL_LD_MAX_CKPT, &b);
    if (err == ST_ERR_NOT_FOUND) {
        err = ST_OK;
        goto done;
    }
    if (err != ST_OK || (err = st_buf_append(&b, "", 1)) != ST_OK)
        goto done;
    char *save = NULL;
    char *line = strtok_r((char *)b.data, "\n", &save);
    if (!line || strcmp(line, "0") != 0)
        goto corrupt;
    line = strtok_r(NULL, "\n", &save);
    char *end;
    long n = line ? strtol(line, &end, 10) : -1;
    if (n < 0)
        goto corrupt;
    for (long i = 0; i < n; i++) {
        line = strtok_r(NULL, "\n", &save);
        if (!line)
            goto corrupt;
        char topic[256];
        long long part, off;
        if (sscanf(line, "%255s %lld %lld", topic, &part, &off) != 3 || !sl_ld_topic_ok(topic) || part < 0 ||
            part > INT32_MAX)
            goto corrupt;
        sl_ld_part_t *p = sl_ld_get_or_add(ld, topic, (int32_t)part);
        if (!p) {
            err = ST_ERR_NOMEM;
            goto done;
        }
        if (hw)
            p->lp_hw = off;
        else
            p->lp_rp = off;
    }
    goto done;
corrupt:
    ST_WARN(SL_LD_TAG, "%s: malformed, ignored (full recovery for affected logs)", path);
    err = ST_OK;
done:
    st_buf_free(&b);
    return err;
}

static st_err_t sl_ld_write_ckpt(sl_logdir_t *ld, const char *name, bool hw)
{
    st_buf_t b;
    st_buf_init(&b);
    char line[512];
    size_t n = 0;
    for (size_t i = 0; i < ld->ld_n; i++)
        if ((hw ? ld->ld_parts[i].lp_hw : ld->ld_parts[i].lp_rp) >= 0)
            n++;
    int len = snprintf(line, sizeof line, "0\n%zu\n", n);
    st_err_t err = st_buf_append(&b, line, (size_t)len);
    for (size_t i = 0; err == ST_OK && i < ld->ld_n; i++) {
        sl_ld_part_t *p = &ld->ld_parts[i];
        int64_t v = hw ? p->lp_hw : p->lp_rp;
        if (v < 0)
            continue;
        len = snprintf(line, sizeof line, "%s %" PRId32 " %" PRId64 "\n", p->lp_topic, p->lp_partition, v);
        err = st_buf_append(&b, line, (size_t)len);
    }
    if (err == ST_OK) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", ld->ld_path, name);
        err = sl_file_write_atomic(path, b.data, b.len);
    }
    st_buf_free(&b);
    return err;
}

st_err_t sl_logdir_peek_checkpoints(const char *dir, const char *topic, int32_t partition, int64_t *rp,
                                    int64_t *hw)
{
    *rp = -1;
    *hw = -1;
    sl_logdir_t ld;
    memset(&ld, 0, sizeof ld);
    ld.ld_path = (char *)dir;
    st_err_t err = sl_ld_load_ckpt(&ld, SL_LD_RP_FILE, false);
    if (err == ST_OK)
        err = sl_ld_load_ckpt(&ld, SL_LD_HW_FILE, true);
    sl_ld_part_t *p = err == ST_OK ? sl_ld_find(&ld, topic, partition) : NULL;
    if (p) {
        *rp = p->lp_rp;
        *hw = p->lp_hw;
    }
    for (size_t i = 0; i < ld.ld_n; i++)
        free(ld.ld_parts[i].lp_topic);
    free(ld.ld_parts);
    return err;
}

st_err_t sl_logdir_open(const char *dir, sl_logdir_t **out)
{
    st_err_t err;
    sl_logdir_t *ld = calloc(1, sizeof *ld);
    if (!ld)
        return ST_ERR_NOMEM;
    ld->ld_path = strdup(dir);
    if (!ld->ld_path) {
        err = ST_ERR_NOMEM;
        goto fail;
    }
    if ((err = sl_file_mkdirs(dir)) != ST_OK)
        goto fail;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, SL_LD_CLEAN_FILE);
    ld->ld_clean = access(path, F_OK) == 0;
    if (ld->ld_clean) {
        if (unlink(path) != 0 || (err = sl_file_fsync_dir(dir)) != ST_OK) {
            err = err != ST_OK ? err : st_err_from_errno(errno);
            goto fail;
        }
    } else {
        ST_INFO(SL_LD_TAG, "%s: no clean-shutdown marker: logs will be recovered", dir);
    }
    if ((err = sl_ld_load_ckpt(ld, SL_LD_RP_FILE, false)) != ST_OK ||
        (err = sl_ld_load_ckpt(ld, SL_LD_HW_FILE, true)) != ST_OK)
        goto fail;
    *out = ld;
    return ST_OK;
fail:
    free(ld->ld_path);
    free(ld);
    return err;
}

void sl_logdir_close(sl_logdir_t *ld, bool clean)
{
    if (!ld)
        return;
    bool ok = true;
    for (size_t i = 0; i < ld->ld_n; i++) {
        sl_ld_part_t *p = &ld->ld_parts[i];
        if (!p->lp_log)
            continue;
        if (sl_log_flush(p->lp_log) != ST_OK)
            ok = false;
        p->lp_rp = sl_log_recovery_point(p->lp_log);
        sl_log_close(p->lp_log);
        p->lp_log = NULL;
    }
    if (sl_ld_write_ckpt(ld, SL_LD_RP_FILE, false) != ST_OK ||
        sl_ld_write_ckpt(ld, SL_LD_HW_FILE, true) != ST_OK)
        ok = false;
    if (clean && ok) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", ld->ld_path, SL_LD_CLEAN_FILE);
        if (sl_file_write_atomic(path, "", 0) != ST_OK)
            ST_ERROR(SL_LD_TAG, "%s: cannot write the clean-shutdown marker", ld->ld_path);
    } else if (clean) {
        ST_ERROR(SL_LD_TAG, "%s: flush or checkpoint failed: not marking a clean shutdown", ld->ld_path);
    }
    for (size_t i = 0; i < ld->ld_n; i++)
        free(ld->ld_parts[i].lp_topic);
    free(ld->ld_parts);
    free(ld->ld_path);
    free(ld);
}

const char *sl_logdir_path(const sl_logdir_t *ld)
{
    return ld->ld_path;
}

static void sl_ld_part_dir(const sl_logdir_t *ld, const char *topic, int32_t partition, char *out, size_t n)
{
    snprintf(out, n, "%s/%s-%" PRId32, ld->ld_path, topic, partition);
}

st_err_t sl_logdir_open_log(sl_logdir_t *ld, const char *topic, int32_t partition, const sl_log_config_t *cfg,
                            sl_log_t **out)
{
    if (!sl_ld_topic_ok(topic) || partition < 0)
        return ST_ERR_INVALID_ARG;
    sl_ld_part_t *p = sl_ld_get_or_add(ld, topic, partition);
    if (!p)
        return ST_ERR_NOMEM;
    if (p->lp_log) {
        *out = p->lp_log;
        return ST_OK;
    }
    char dir[PATH_MAX], meta[PATH_MAX + 32];
    sl_ld_part_dir(ld, topic, partition, dir, sizeof dir);
    sl_recovery_info_t info;
    st_err_t err = sl_log_open(dir, cfg, p->lp_rp, ld->ld_clean, &p->lp_log, &info);
    if (err != ST_OK) {
        ST_ERROR(SL_LD_TAG, "%s: cannot open log: %s", dir, st_err_name(err));
        p->lp_log = NULL;
        return err;
    }
    if (info.ran)
        ST_INFO(SL_LD_TAG,
                "%s: recovered: %" PRId64 " batches checked, %" PRId64 " bytes truncated, "
                "%d segment index(es) rebuilt",
                dir, info.batches_checked, info.bytes_truncated, info.indexes_rebuilt);
    snprintf(meta, sizeof meta, "%s/%s", dir, SL_LD_META_FILE);
    if (access(meta, F_OK) != 0) {
        char body[512];
        int n =
            snprintf(body, sizeof body, "version: 0\ntopic: %s\npartition: %" PRId32 "\n", topic, partition);
        if ((err = sl_file_write_atomic(meta, body, (size_t)n)) != ST_OK)
            ST_WARN(SL_LD_TAG, "%s: cannot write %s: %s", dir, SL_LD_META_FILE, st_err_name(err));
    }
    p->lp_rp = sl_log_recovery_point(p->lp_log);
    *out = p->lp_log;
    return ST_OK;
}

st_err_t sl_logdir_topic_id(sl_logdir_t *ld, const char *topic, int32_t partition, char *out, size_t n)
{
    if (!sl_ld_topic_ok(topic) || partition < 0 || n == 0)
        return ST_ERR_INVALID_ARG;
    out[0] = '\0';
    char dir[PATH_MAX], meta[PATH_MAX + 32];
    sl_ld_part_dir(ld, topic, partition, dir, sizeof dir);
    snprintf(meta, sizeof meta, "%s/%s", dir, SL_LD_META_FILE);
    st_buf_t b;
    st_buf_init(&b);
    st_err_t err = sl_file_read_all(meta, 4096, &b);
    if (err == ST_OK && (err = st_buf_append(&b, "", 1)) == ST_OK) {
        const char *line = strstr((const char *)b.data, "\ntopic_id: ");
        if (line) {
            line += strlen("\ntopic_id: ");
            size_t len = strcspn(line, "\n");
            if (len < n) {
                memcpy(out, line, len);
                out[len] = '\0';
            }
        }
    }
    st_buf_free(&b);
    return err == ST_ERR_NOT_FOUND ? ST_OK : err;
}

st_err_t sl_logdir_set_topic_id(sl_logdir_t *ld, const char *topic, int32_t partition, const char *topic_id)
{
    if (!sl_ld_topic_ok(topic) || partition < 0 || !topic_id || strchr(topic_id, '\n'))
        return ST_ERR_INVALID_ARG;
    char dir[PATH_MAX], meta[PATH_MAX + 32], body[512];
    sl_ld_part_dir(ld, topic, partition, dir, sizeof dir);
    snprintf(meta, sizeof meta, "%s/%s", dir, SL_LD_META_FILE);
    int n = snprintf(body, sizeof body, "version: 0\ntopic: %s\npartition: %" PRId32 "\ntopic_id: %s\n",
                     topic, partition, topic_id);
    if (n < 0 || (size_t)n >= sizeof body)
        return ST_ERR_INVALID_ARG;
    return sl_file_write_atomic(meta, body, (size_t)n);
}

sl_log_t *sl_logdir_get(sl_logdir_t *ld, const char *topic, int32_t partition)
{
    sl_ld_part_t *p = sl_ld_find(ld, topic, partition);
    return p ? p->lp_log : NULL;
}

void sl_logdir_close_log(sl_logdir_t *ld, const char *topic, int32_t partition)
{
    sl_ld_part_t *p = sl_ld_find(ld, topic, partition);
    if (!p || !p->lp_log)
        return;
    if (sl_log_flush(p->lp_log) == ST_OK)
        p->lp_rp = sl_log_recovery_point(p->lp_log);
    sl_log_close(p->lp_log);
    p->lp_log = NULL;
    sl_ld_write_ckpt(ld, SL_LD_RP_FILE, false);
}

st_err_t sl_logdir_delete_log(sl_logdir_t *ld, const char *topic, int32_t partition)
{
    if (!sl_ld_topic_ok(topic) || partition < 0)
        return ST_ERR_INVALID_ARG;
    sl_ld_part_t *p = sl_ld_find(ld, topic, partition);
    st_err_t err = ST_OK;
    if (p && p->lp_log) {
        err = sl_log_delete(p->lp_log);
        p->lp_log = NULL;
    } else {
        char dir[PATH_MAX];
        sl_ld_part_dir(ld, topic, partition, dir, sizeof dir);
        err = sl_file_rmrf(dir);
        sl_file_fsync_dir(ld->ld_path);
    }
    if (p)
        sl_ld_remove(ld, p);
    st_err_t e1 = sl_ld_write_ckpt(ld, SL_LD_RP_FILE, false);
    st_err_t e2 = sl_ld_write_ckpt(ld, SL_LD_HW_FILE, true);
    return err != ST_OK ? err : e1 != ST_OK ? e1 : e2;
}

st_err_t sl_logdir_set_aside(sl_logdir_t *ld, const char *topic, int32_t partition, char *out, size_t out_len)
{
    if (!sl_ld_topic_ok(topic) || partition < 0)
        return ST_ERR_INVALID_ARG;
    sl_ld_part_t *p = sl_ld_find(ld, topic, partition);
    if (p && p->lp_log)
        return ST_ERR_INVALID_ARG;
    char dir[PATH_MAX], to[PATH_MAX + 32];
    sl_ld_part_dir(ld, topic, partition, dir, sizeof dir);
    struct stat st;
    snprintf(to, sizeof to, "%s.stray", dir);
    for (int n = 1; n < 1000 && lstat(to, &st) == 0; n++)
        snprintf(to, sizeof to, "%s.stray.%d", dir, n);
    if (rename(dir, to) != 0)
        return st_err_from_errno(errno);
    (void)sl_file_fsync_dir(ld->ld_path);
    if (out && out_len)
        snprintf(out, out_len, "%s", to);
    if (p)
        sl_ld_remove(ld, p);
    st_err_t e1 = sl_ld_write_ckpt(ld, SL_LD_RP_FILE, false);
    st_err_t e2 = sl_ld_write_ckpt(ld, SL_LD_HW_FILE, true);
    return e1 != ST_OK ? e1 : e2;
}

st_err_t sl_logdir_scan(sl_logdir_t *ld, void (*cb)(void *arg, const char *topic, int32_t partition),
                        void *arg)
{
    DIR *d = opendir(ld->ld_path);
    if (!d)
        return st_err_from_errno(errno);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        const char *dash = strrchr(de->d_name, '-');
        if (!dash || dash == de->d_name || !dash[1])
            continue;
        char *end;
        long part = strtol(dash + 1, &end, 10);
        if (*end || part < 0 || part > INT32_MAX || dash[1] == '+' || dash[1] == '-')
            continue;
        char topic[256];
        size_t tl = (size_t)(dash - de->d_name);
        if (tl >= sizeof topic)
            continue;
        memcpy(topic, de->d_name, tl);
        topic[tl] = '\0';
        if (!sl_ld_topic_ok(topic))
            continue;
        char path[PATH_MAX];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", ld->ld_path, de->d_name);
        if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
            continue;
        cb(arg, topic, (int32_t)part);
    }
    closedir(d);
    return ST_OK;
}

st_err_t sl_logdir_checkpoint_recovery(sl_logdir_t *ld)
{
    for (size_t i = 0; i < ld->ld_n; i++)
        if (ld->ld_parts[i].lp_log)
            ld->ld_parts[i].lp_rp = sl_log_recovery_point(ld->ld_parts[i].lp_log);
    return sl_ld_write_ckpt(ld, SL_LD_RP_FILE, false);
}

static st_err_t sl_ld_truncate(sl_logdir_t *ld, const char *topic, int32_t partition, int64_t offset,
                               bool fully)
{
    sl_ld_part_t *p = sl_ld_find(ld, topic, partition);
    if (!p || !p->lp_log)
        return ST_ERR_INVALID_ARG;
    st_err_t err =
        fully ? sl_log_truncate_fully_and_start_at(p->lp_log, offset) : sl_log_truncate_to(p->lp_log, offset);
    if (err != ST_OK)
        return err;
    int64_t rp = sl_log_recovery_point(p->lp_log);
    if (p->lp_rp >= 0 && p->lp_rp <= rp)
        return ST_OK; /* the checkpoint is not past the cut */
    p->lp_rp = rp;
    return sl_ld_write_ckpt(ld, SL_LD_RP_FILE, false);
}

st_err_t sl_logdir_truncate_to(sl_logdir_t *ld, const char *topic, int32_t partition, int64_t offset)
{
    return sl_ld_truncate(ld, topic, partition, offset, false);
}

st_err_t sl_logdir_truncate_fully(sl_logdir_t *ld, const char *topic, int32_t partition, int64_t offset)
{
    return sl_ld_truncate(ld, topic, partition, offset, true);
}

st_err_t sl_logdir_set_hw(sl_logdir_t *ld, const char *topic, int32_t partition, int64_t hw)
{
    if (!sl_ld_topic_ok(topic) || partition < 0)
        return ST_ERR_INVALID_ARG;
    sl_ld_part_t *p = sl_ld_get_or_add(ld, topic, partition);
    if (!p)
        return ST_ERR_NOMEM;
    p->lp_hw = hw;
    return ST_OK;
}

int64_t sl_logdir_get_hw(sl_logdir_t *ld, const char *topic, int32_t partition)
{
    sl_ld_part_t *p = sl_ld_find(ld, topic, partition);
    return p ? p->lp_hw : -1;
}

st_err_t sl_logdir_checkpoint_hw(sl_logdir_t *ld)
{
    return sl_ld_write_ckpt(ld, SL_LD_HW_FILE, true);
}
