/*
 * sl_walk: read-only walks over a partition directory's files, for the
 * offline inspection tools (`strata log dump`, the chaos checker) that
 * must never change what they look at. It owns: the list of a
 * directory's segments, the walk over the raw frames of one segment
 * file with each frame's position and its status (intact, CRC invalid,
 * invalid header, truncated), and the read-only opening of a segment's
 * index files. Nothing here writes, creates or truncates a file; it
 * works on the directory of a stopped broker and on a copy of a live
 * one. Frames are checked with st_batch (header, CRC, batch rules) and
 * indexes read with sl_index, so the format has one parser. No state
 * beyond the walker; any thread.
 */
#ifndef SL_WALK_H
#define SL_WALK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/st_batch.h"
#include "common/st_err.h"

/* The names of a partition directory's own files (written by sl_log and
 * sl_logdir), for the tools that show them. */
#define SL_WALK_META_FILE "partition.meta"
#define SL_WALK_START_FILE "log-start-offset"
#define SL_WALK_EPOCH_FILE "leader-epoch-checkpoint"

/* What one step of the walk found at a position of the file. */
typedef enum sl_walk_status {
    SL_WALK_OK = 0,          /* an intact frame */
    SL_WALK_CRC_INVALID = 1, /* header sane, CRC does not match: the walk goes on after it */
    SL_WALK_INVALID = 2,     /* CRC matches but the batch breaks a rule (count, deltas): goes on */
    SL_WALK_BAD_HEADER = 3,  /* magic or length impossible: the walk ends here */
    SL_WALK_TRUNCATED = 4,   /* the file ends inside the header or the frame: the walk ends */
} sl_walk_status_t;

/* One frame (or the bytes where a frame was expected). */
typedef struct sl_walk_frame {
    int64_t position;        /* byte position in the .log */
    sl_walk_status_t status; /* see above */
    const char *why;         /* static reason when status != SL_WALK_OK, else NULL */
    bool have_hdr;           /* hdr decoded (all statuses but BAD_HEADER and a short header) */
    st_batch_hdr_t hdr;
    uint32_t computed_crc; /* CRC32C of the frame's bytes (when the whole frame was read) */
    size_t size;           /* frame size from the header, or the bytes left in the file */
    const uint8_t *frame;  /* the whole frame (OK, CRC_INVALID, INVALID), valid until the next step */
    size_t len;            /* bytes at frame */
} sl_walk_frame_t;

/* A walker over one segment file, opened read-only. */
typedef struct sl_walk {
    int fd;
    int64_t file_size;
    int64_t pos;
    bool ended; /* a BAD_HEADER/TRUNCATED step was returned, or the end reached */
    st_buf_t buf;
} sl_walk_t;

/* Open the segment file at path read-only. ST_ERR_NOT_FOUND when it does
 * not exist, another error when it cannot be opened or stat'ed. */
st_err_t sl_walk_open(sl_walk_t *w, const char *path);
/* The next frame: ST_OK and *f filled; ST_ERR_NOT_FOUND at the end of the
 * file or after a step that ended the walk; an I/O error otherwise. */
st_err_t sl_walk_next(sl_walk_t *w, sl_walk_frame_t *f);
/* Size of the file when it was opened. */
int64_t sl_walk_file_size(const sl_walk_t *w);
/* Close the file and free the buffer (safe on a walker that failed to
 * open). */
void sl_walk_close(sl_walk_t *w);

/* The offset in a file name made of 20 digits and ext (".log",
 * ".index", ".timeindex", ".snapshot"), with or without a directory
 * part: false when the name is not one. */
bool sl_walk_name_offset(const char *path, const char *ext, int64_t *offset);
/* The offsets of the files "<20 digits><ext>" in dir (ext ".log": the
 * segments' base offsets), ascending, in a malloc'd array (*offsets NULL
 * when *n is 0). ST_ERR_NOT_FOUND when dir does not exist. */
st_err_t sl_walk_list_files(const char *dir, const char *ext, int64_t **offsets, int *n);

/* The read-only opening of a segment's index files is sl_index_open_readonly
 * (sl_index.h). */

#endif
