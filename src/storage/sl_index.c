/*
 * sl_index: fixed-width index files, pwrite to append, mmap to search.
 */
#include "storage/sl_index.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static uint32_t sl_index_rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static void sl_index_wr32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

void sl_index_offset_at(const sl_index_t *ix, size_t i, uint32_t *rel, uint32_t *pos)
{
    const uint8_t *e = ix->ix_map + i * SL_INDEX_OFFSET_ENTRY;
    *rel = sl_index_rd32(e);
    *pos = sl_index_rd32(e + 4);
}

void sl_index_time_at(const sl_index_t *ix, size_t i, int64_t *ts, uint32_t *rel)
{
    const uint8_t *e = ix->ix_map + i * SL_INDEX_TIME_ENTRY;
    *ts = (int64_t)((uint64_t)sl_index_rd32(e) | ((uint64_t)sl_index_rd32(e + 4) << 32));
    *rel = sl_index_rd32(e + 8);
}

/* (Re)map the first len bytes of the file read-only. */
static st_err_t sl_index_map(sl_index_t *ix, size_t len)
{
    if (ix->ix_map)
        munmap(ix->ix_map, ix->ix_map_len);
    ix->ix_map = NULL;
    ix->ix_map_len = 0;
    if (len == 0)
        return ST_OK;
    void *m = mmap(NULL, len, PROT_READ, MAP_SHARED, ix->ix_fd, 0);
    if (m == MAP_FAILED)
        return st_err_from_errno(errno);
    ix->ix_map = m;
    ix->ix_map_len = len;
    return ST_OK;
}

/* Longest strictly increasing prefix of the entries in the first
 * `entries` slots. */
static size_t sl_index_valid_prefix(const sl_index_t *ix, size_t entries)
{
    size_t i;
    for (i = 0; i < entries; i++) {
        if (ix->ix_kind == SL_INDEX_OFFSET) {
            uint32_t rel, pos, prel, ppos;
            sl_index_offset_at(ix, i, &rel, &pos);
            if (pos == 0)
                break; /* position 0 is never indexed: unwritten slot */
            if (i > 0) {
                sl_index_offset_at(ix, i - 1, &prel, &ppos);
                if (rel <= prel || pos <= ppos)
                    break;
            }
        } else {
            int64_t ts, pts;
            uint32_t rel, prel;
            sl_index_time_at(ix, i, &ts, &rel);
            if (i > 0) {
                sl_index_time_at(ix, i - 1, &pts, &prel);
                if (ts <= pts || rel < prel)
                    break;
            } else if (ts == 0 && rel == 0) {
                break; /* unwritten slot */
            }
        }
    }
    return i;
}

/* The open file's size and whole entries, mapped, with the valid prefix
 * counted; closes ix on failure. */
static st_err_t sl_index_load(sl_index_t *ix, size_t *size, size_t *entries)
{
    struct stat st;
    if (fstat(ix->ix_fd, &st) != 0) {
        st_err_t err = st_err_from_errno(errno);
        sl_index_close(ix);
        return err;
    }
    *size = (size_t)st.st_size;
    *entries = *size / ix->ix_esz;
    st_err_t err = sl_index_map(ix, *entries * ix->ix_esz);
    if (err != ST_OK) {
        sl_index_close(ix);
        return err;
    }
    ix->ix_n = sl_index_valid_prefix(ix, *entries);
    ix->ix_file_exact = *size == ix->ix_n * ix->ix_esz;
    return ST_OK;
}

st_err_t sl_index_open(sl_index_t *ix, const char *path, sl_index_kind_t kind, size_t max_bytes, bool active)
{
    memset(ix, 0, sizeof *ix);
    ix->ix_kind = kind;
    ix->ix_esz = kind == SL_INDEX_OFFSET ? SL_INDEX_OFFSET_ENTRY : SL_INDEX_TIME_ENTRY;
    ix->ix_fd = open(path, O_RDWR | O_CLOEXEC);
    if (ix->ix_fd < 0 && errno == ENOENT) {
        ix->ix_was_missing = true;
        ix->ix_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    }
    if (ix->ix_fd < 0)
        return st_err_from_errno(errno);
    size_t size, entries;
    st_err_t err = sl_index_load(ix, &size, &entries);
    if (err != ST_OK)
        return err;
    ix->ix_max_n = max_bytes / ix->ix_esz;
    if (ix->ix_max_n < 1)
        ix->ix_max_n = 1;
    if (ix->ix_n > ix->ix_max_n)
        ix->ix_max_n = ix->ix_n;
    ix->ix_active = !active; /* force the resize below */
    err = sl_index_set_active(ix, active, max_bytes);
    if (err != ST_OK) {
        sl_index_close(ix);
        return err;
    }
    return ST_OK;
}

st_err_t sl_index_open_readonly(sl_index_t *ix, const char *path, sl_index_kind_t kind, size_t *slots,
                                size_t *trailing)
{
    memset(ix, 0, sizeof *ix);
    ix->ix_kind = kind;
    ix->ix_esz = kind == SL_INDEX_OFFSET ? SL_INDEX_OFFSET_ENTRY : SL_INDEX_TIME_ENTRY;
    *slots = 0;
    *trailing = 0;
    ix->ix_fd = open(path, O_RDONLY | O_CLOEXEC);
    if (ix->ix_fd < 0)
        return errno == ENOENT ? ST_ERR_NOT_FOUND : st_err_from_errno(errno);
    size_t size, entries;
    st_err_t err = sl_index_load(ix, &size, &entries);
    if (err != ST_OK)
        return err;
    ix->ix_max_n = ix->ix_n;
    *slots = entries;
    *trailing = size - entries * ix->ix_esz;
    return ST_OK;
}

void sl_index_close(sl_index_t *ix)
{
    if (ix->ix_map)
        munmap(ix->ix_map, ix->ix_map_len);
    if (ix->ix_fd >= 0)
        close(ix->ix_fd);
    ix->ix_map = NULL;
    ix->ix_map_len = 0;
    ix->ix_fd = -1;
}

st_err_t sl_index_set_active(sl_index_t *ix, bool active, size_t max_bytes)
{
    if (active) {
        size_t max_n = max_bytes / ix->ix_esz;
        if (max_n < 1)
            max_n = 1;
        if (max_n < ix->ix_n)
            max_n = ix->ix_n;
        size_t len = max_n * ix->ix_esz;
        if (ix->ix_active && ix->ix_map_len == len)
            return ST_OK;
        if (ftruncate(ix->ix_fd, (off_t)len) != 0)
            return st_err_from_errno(errno);
        st_err_t err = sl_index_map(ix, len);
        if (err != ST_OK)
            return err;
        ix->ix_max_n = max_n;
        ix->ix_active = true;
        return ST_OK;
    }
    size_t len = ix->ix_n * ix->ix_esz;
    if (ftruncate(ix->ix_fd, (off_t)len) != 0)
        return st_err_from_errno(errno);
    st_err_t err = sl_index_map(ix, len);
    if (err != ST_OK)
        return err;
    ix->ix_max_n = ix->ix_n;
    ix->ix_active = false;
    return ST_OK;
}

bool sl_index_full(const sl_index_t *ix)
{
    return ix->ix_n >= ix->ix_max_n;
}

st_err_t sl_index_truncate(sl_index_t *ix, size_t n)
{
    if (n >= ix->ix_n)
        return ST_OK;
    /* zero the dropped slots so a later open does not resurrect them */
    size_t bytes = (ix->ix_n - n) * ix->ix_esz;
    uint8_t zero[256];
    memset(zero, 0, sizeof zero);
    off_t at = (off_t)(n * ix->ix_esz);
    while (bytes > 0) {
        size_t chunk = bytes < sizeof zero ? bytes : sizeof zero;
        ssize_t w = pwrite(ix->ix_fd, zero, chunk, at);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return w < 0 ? st_err_from_errno(errno) : ST_ERR_NO_SPACE;
        bytes -= (size_t)w;
        at += w;
    }
    ix->ix_n = n;
    if (!ix->ix_active)
        return sl_index_set_active(ix, false, 0);
    return ST_OK;
}

st_err_t sl_index_sync(sl_index_t *ix)
{
    if (fdatasync(ix->ix_fd) != 0)
        return st_err_from_errno(errno);
    return ST_OK;
}

static st_err_t sl_index_put(sl_index_t *ix, const uint8_t *e)
{
    if (!ix->ix_active || ix->ix_n >= ix->ix_max_n)
        return ST_ERR_STATE;
    ssize_t w = pwrite(ix->ix_fd, e, ix->ix_esz, (off_t)(ix->ix_n * ix->ix_esz));
    if (w < 0)
        return st_err_from_errno(errno);
    if ((size_t)w != ix->ix_esz)
        return ST_ERR_NO_SPACE;
    ix->ix_n++;
    return ST_OK;
}

st_err_t sl_index_append_offset(sl_index_t *ix, uint32_t rel, uint32_t pos)
{
    if (ix->ix_n > 0) {
        uint32_t prel, ppos;
        sl_index_offset_at(ix, ix->ix_n - 1, &prel, &ppos);
        if (rel <= prel || pos <= ppos)
            return ST_ERR_STATE;
    }
    uint8_t e[SL_INDEX_OFFSET_ENTRY];
    sl_index_wr32(e, rel);
    sl_index_wr32(e + 4, pos);
    return sl_index_put(ix, e);
}

st_err_t sl_index_append_time(sl_index_t *ix, int64_t ts, uint32_t rel)
{
    if (ix->ix_n > 0) {
        int64_t pts;
        uint32_t prel;
        sl_index_time_at(ix, ix->ix_n - 1, &pts, &prel);
        if (ts <= pts || rel < prel)
            return ST_ERR_STATE;
    }
    uint8_t e[SL_INDEX_TIME_ENTRY];
    sl_index_wr32(e, (uint32_t)(uint64_t)ts);
    sl_index_wr32(e + 4, (uint32_t)((uint64_t)ts >> 32));
    sl_index_wr32(e + 8, rel);
    return sl_index_put(ix, e);
}

bool sl_index_lookup_offset(const sl_index_t *ix, uint32_t target, uint32_t *rel, uint32_t *pos)
{
    size_t lo = 0, hi = ix->ix_n; /* answer: last i in [0, hi) with rel_i <= target */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        uint32_t r, p;
        sl_index_offset_at(ix, mid, &r, &p);
        if (r <= target)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return false;
    sl_index_offset_at(ix, lo - 1, rel, pos);
    return true;
}

bool sl_index_lookup_time(const sl_index_t *ix, int64_t target, int64_t *ts, uint32_t *rel)
{
    size_t lo = 0, hi = ix->ix_n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int64_t t;
        uint32_t r;
        sl_index_time_at(ix, mid, &t, &r);
        if (t < target)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return false;
    sl_index_time_at(ix, lo - 1, ts, rel);
    return true;
}

size_t sl_index_count_below_offset(const sl_index_t *ix, uint32_t limit_rel, uint32_t limit_pos)
{
    size_t i = 0;
    while (i < ix->ix_n) {
        uint32_t r, p;
        sl_index_offset_at(ix, i, &r, &p);
        if (r >= limit_rel || p >= limit_pos)
            break;
        i++;
    }
    return i;
}

size_t sl_index_count_below_time(const sl_index_t *ix, uint32_t limit_rel)
{
    size_t i = 0;
    while (i < ix->ix_n) {
        int64_t t;
        uint32_t r;
        sl_index_time_at(ix, i, &t, &r);
        if (r >= limit_rel)
            break;
        i++;
    }
    return i;
}
