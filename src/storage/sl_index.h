/*
 * sl_index: the two sparse, fixed-width indexes of a log segment, searched
 * by bisection over an mmap'd file.
 *
 *   offset index (.index, 8 bytes/entry, little-endian):
 *     u32 relative offset (batch base offset - segment base), u32 position
 *   time index (.timeindex, 12 bytes/entry, little-endian):
 *     i64 timestamp, u32 relative offset
 *
 * Entries are strictly increasing in both fields (time index: timestamp
 * strictly, offset non-decreasing). Writes go through pwrite(), so a full
 * disk is an error return and never a SIGBUS; reads go through a shared
 * read-only mapping that sees those writes (one page cache). An *active*
 * index (the active segment's) is sized to its maximum so that the
 * mapping never moves; a *closed* one is trimmed to its entries. On open
 * the valid entries are the longest strictly increasing prefix; the caller
 * decides whether the result can be trusted (sl_index_consistent) and
 * rebuilds otherwise. Owned by one sl_log, single-threaded.
 */
#ifndef SL_INDEX_H
#define SL_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/st_err.h"

typedef enum sl_index_kind {
    SL_INDEX_OFFSET = 0,
    SL_INDEX_TIME = 1,
} sl_index_kind_t;

#define SL_INDEX_OFFSET_ENTRY 8
#define SL_INDEX_TIME_ENTRY 12

typedef struct sl_index {
    int ix_fd;
    sl_index_kind_t ix_kind;
    size_t ix_esz;   /* entry size */
    uint8_t *ix_map; /* read-only shared mapping, NULL when empty */
    size_t ix_map_len;
    size_t ix_n;     /* valid entries */
    size_t ix_max_n; /* capacity while active */
    bool ix_active;
    bool ix_file_exact;  /* on open: file size was exactly n entries */
    bool ix_was_missing; /* on open: the file did not exist */
} sl_index_t;

/* Open (creating when missing) the index at path. max_bytes is the size
 * cap (segment.index.bytes) used while active. Returns ST_OK or an I/O
 * error. */
st_err_t sl_index_open(sl_index_t *ix, const char *path, sl_index_kind_t kind, size_t max_bytes, bool active);
/* Open an existing index file read-only, for offline inspection: no file
 * is created, grown or trimmed. ix->ix_n is the valid prefix as
 * sl_index_open counts it (the longest strictly increasing run, ending at
 * an unwritten slot); *slots is the number of whole entries in the file
 * (entries i < *slots may be read with sl_index_offset_at /
 * sl_index_time_at, past ix_n too) and *trailing the bytes after the last
 * whole entry. Close with sl_index_close; never append to it.
 * ST_ERR_NOT_FOUND when the file does not exist. */
st_err_t sl_index_open_readonly(sl_index_t *ix, const char *path, sl_index_kind_t kind, size_t *slots,
                                size_t *trailing);
/* Unmap and close (does not trim; use sl_index_set_active(false) first). */
void sl_index_close(sl_index_t *ix);
/* Grow the file to its maximum and map it all (active), or trim it to the
 * entries (closed). */
st_err_t sl_index_set_active(sl_index_t *ix, bool active, size_t max_bytes);
/* True when no more entry fits (the segment must roll). */
bool sl_index_full(const sl_index_t *ix);
/* Keep only the first n entries (n <= current count). */
st_err_t sl_index_truncate(sl_index_t *ix, size_t n);
/* fdatasync the file. */
st_err_t sl_index_sync(sl_index_t *ix);

/* Append entries; ST_ERR_STATE when full or not increasing. */
st_err_t sl_index_append_offset(sl_index_t *ix, uint32_t rel, uint32_t pos);
st_err_t sl_index_append_time(sl_index_t *ix, int64_t ts, uint32_t rel);

/* Entry i (i < ix_n). */
void sl_index_offset_at(const sl_index_t *ix, size_t i, uint32_t *rel, uint32_t *pos);
void sl_index_time_at(const sl_index_t *ix, size_t i, int64_t *ts, uint32_t *rel);

/* Offset index: the last entry with rel <= target; false when none. */
bool sl_index_lookup_offset(const sl_index_t *ix, uint32_t target, uint32_t *rel, uint32_t *pos);
/* Time index: the last entry with ts < target; false when none. */
bool sl_index_lookup_time(const sl_index_t *ix, int64_t target, int64_t *ts, uint32_t *rel);
/* Count of offset entries with rel < limit_rel and pos < limit_pos (for
 * truncation). */
size_t sl_index_count_below_offset(const sl_index_t *ix, uint32_t limit_rel, uint32_t limit_pos);
/* Count of time entries with rel < limit_rel. */
size_t sl_index_count_below_time(const sl_index_t *ix, uint32_t limit_rel);

#endif
