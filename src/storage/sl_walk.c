/*
 * sl_walk: read-only frame walks and segment listing (see sl_walk.h).
 * A frame is read whole into the walker's buffer (one pread per frame,
 * bounded by the file size), checked with st_batch, and handed out with
 * its status. After a frame whose header is sane the walk trusts its
 * length and goes on, so one flipped bit in a body is reported and the
 * frames after it are still shown; a header that cannot be decoded, or
 * a file that ends early, ends the walk.
 */
#include "storage/sl_walk.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

st_err_t sl_walk_open(sl_walk_t *w, const char *path)
{
    memset(w, 0, sizeof *w);
    st_buf_init(&w->buf);
    w->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (w->fd < 0)
        return errno == ENOENT ? ST_ERR_NOT_FOUND : st_err_from_errno(errno);
    struct stat st;
    if (fstat(w->fd, &st) != 0) {
        st_err_t err = st_err_from_errno(errno);
        sl_walk_close(w);
        return err;
    }
    w->file_size = st.st_size;
    return ST_OK;
}

int64_t sl_walk_file_size(const sl_walk_t *w)
{
    return w->file_size;
}

void sl_walk_close(sl_walk_t *w)
{
    if (w->fd >= 0)
        close(w->fd);
    w->fd = -1;
    st_buf_free(&w->buf);
}

/* Read [pos, pos + n) into the buffer; *got is what the file had. */
static st_err_t sl_walk_read(sl_walk_t *w, int64_t pos, size_t n, size_t *got)
{
    w->buf.len = 0;
    st_err_t err = st_buf_reserve(&w->buf, n);
    if (err != ST_OK)
        return err;
    size_t done = 0;
    while (done < n) {
        ssize_t r = pread(w->fd, w->buf.data + done, n - done, (off_t)(pos + (int64_t)done));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return st_err_from_errno(errno);
        if (r == 0)
            break;
        done += (size_t)r;
    }
    w->buf.len = done;
    *got = done;
    return ST_OK;
}

st_err_t sl_walk_next(sl_walk_t *w, sl_walk_frame_t *f)
{
    memset(f, 0, sizeof *f);
    if (w->ended || w->pos >= w->file_size) {
        w->ended = true;
        return ST_ERR_NOT_FOUND;
    }
    f->position = w->pos;
    int64_t left = w->file_size - w->pos;
    size_t got;
    st_err_t err;
    if (left < ST_BATCH_HEADER_SIZE) {
        w->ended = true;
        f->status = SL_WALK_TRUNCATED;
        f->why = "incomplete frame header at end of file";
        f->size = (size_t)left;
        return ST_OK;
    }
    if ((err = sl_walk_read(w, w->pos, ST_BATCH_HEADER_SIZE, &got)) != ST_OK)
        return err;
    if (got < ST_BATCH_HEADER_SIZE)
        return ST_ERR_IO; /* the file shrank under us */
    if (st_batch_hdr_decode(w->buf.data, got, &f->hdr) != ST_OK) {
        w->ended = true;
        f->status = SL_WALK_BAD_HEADER;
        f->why = "invalid frame header (magic or length)";
        f->size = (size_t)left;
        return ST_OK;
    }
    f->have_hdr = true;
    size_t fs = st_batch_frame_size(&f->hdr);
    f->size = fs;
    if ((int64_t)fs > left) {
        w->ended = true;
        f->status = SL_WALK_TRUNCATED;
        f->why = "frame extends past end of file";
        f->size = (size_t)left;
        return ST_OK;
    }
    if ((err = sl_walk_read(w, w->pos, fs, &got)) != ST_OK)
        return err;
    if (got < fs)
        return ST_ERR_IO;
    f->frame = w->buf.data;
    f->len = fs;
    f->computed_crc = st_batch_compute_crc(f->frame, fs);
    if (f->computed_crc != f->hdr.crc) {
        f->status = SL_WALK_CRC_INVALID;
        f->why = "crc mismatch";
    } else if (st_batch_validate_header(f->frame, fs) != ST_OK) {
        f->status = SL_WALK_INVALID;
        f->why = "invalid batch header (record count or offset delta)";
    }
    w->pos += (int64_t)fs;
    return ST_OK;
}

bool sl_walk_name_offset(const char *path, const char *ext, int64_t *base)
{
    const char *nm = strrchr(path, '/');
    nm = nm ? nm + 1 : path;
    if (strlen(nm) != 20 + strlen(ext) || strcmp(nm + 20, ext) != 0)
        return false;
    int64_t v = 0;
    for (int i = 0; i < 20; i++) {
        if (nm[i] < '0' || nm[i] > '9')
            return false;
        if (v > (INT64_MAX - (nm[i] - '0')) / 10)
            return false;
        v = v * 10 + (nm[i] - '0');
    }
    *base = v;
    return true;
}

static int sl_walk_cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

st_err_t sl_walk_list_files(const char *dir, const char *ext, int64_t **bases, int *n)
{
    *bases = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? ST_ERR_NOT_FOUND : st_err_from_errno(errno);
    int64_t *v = NULL;
    int cnt = 0, cap = 0;
    struct dirent *de;
    st_err_t err = ST_OK;
    while ((de = readdir(d)) != NULL) {
        int64_t b;
        if (!sl_walk_name_offset(de->d_name, ext, &b))
            continue;
        if (cnt == cap) {
            int ncap = cap ? cap * 2 : 16;
            int64_t *nv = realloc(v, (size_t)ncap * sizeof *nv);
            if (!nv) {
                err = ST_ERR_NOMEM;
                break;
            }
            v = nv;
            cap = ncap;
        }
        v[cnt++] = b;
    }
    closedir(d);
    if (err != ST_OK) {
        free(v);
        return err;
    }
    if (cnt > 1)
        qsort(v, (size_t)cnt, sizeof *v, sl_walk_cmp_i64);
    *bases = v;
    *n = cnt;
    return ST_OK;
}
