/*
 * sl_file: the small file-system helpers of the storage layer. Owns the
 * one way strata replaces a file that must survive a crash (write a temp
 * file, fsync it, rename it over the target, fsync the directory), whole
 * file reads for checkpoints, directory fsync and recursive removal.
 * errno is translated to st_err_t here. No state; any thread.
 */
#ifndef SL_FILE_H
#define SL_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "common/st_batch.h"
#include "common/st_err.h"

/* Replace path with len bytes atomically: <path>.tmp is written, fsync'd,
 * renamed to path, and the directory fsync'd. On error the old file is
 * intact and the temp file removed. */
st_err_t sl_file_write_atomic(const char *path, const void *data, size_t len);
/* Read a whole (small) file, appending to out; at most max bytes
 * (ST_ERR_CORRUPT when larger). ST_ERR_NOT_FOUND when it does not exist. */
st_err_t sl_file_read_all(const char *path, size_t max, st_buf_t *out);
/* fsync the directory itself (after creating, renaming or removing
 * entries in it). */
st_err_t sl_file_fsync_dir(const char *dir);
/* A checkpoint file holding one non-negative int64 as decimal text and a
 * newline: dir/name written atomically (sl_file_write_atomic), and read
 * back (-1 when the file is missing, unreadable or not such a number). */
st_err_t sl_file_write_i64(const char *dir, const char *name, int64_t v);
int64_t sl_file_read_i64(const char *dir, const char *name);
/* Directory part of path into out (size n). */
void sl_file_dirname(const char *path, char *out, size_t n);
/* Remove a tree (files and directories), like rm -rf. */
st_err_t sl_file_rmrf(const char *path);
/* mkdir -p; ST_OK when it already exists. */
st_err_t sl_file_mkdirs(const char *path);

#endif
