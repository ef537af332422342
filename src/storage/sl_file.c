/*
 * sl_file: temp -> fsync -> rename -> fsync(dir), and friends.
 */
#include "storage/sl_file.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void sl_file_dirname(const char *path, char *out, size_t n)
{
    const char *slash = strrchr(path, '/');
    if (!slash) {
        snprintf(out, n, ".");
        return;
    }
    size_t len = (size_t)(slash - path);
    if (len == 0)
        len = 1; /* "/x" -> "/" */
    if (len >= n)
        len = n - 1;
    memcpy(out, path, len);
    out[len] = '\0';
}

st_err_t sl_file_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return st_err_from_errno(errno);
    st_err_t err = ST_OK;
    if (fsync(fd) != 0)
        err = st_err_from_errno(errno);
    close(fd);
    return err;
}

st_err_t sl_file_write_atomic(const char *path, const void *data, size_t len)
{
    char tmp[PATH_MAX];
    char dir[PATH_MAX];
    st_err_t err = ST_OK;
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp)
        return ST_ERR_INVALID_ARG;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return st_err_from_errno(errno);
    const uint8_t *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            err = w < 0 ? st_err_from_errno(errno) : ST_ERR_NO_SPACE;
            goto fail;
        }
        p += w;
        left -= (size_t)w;
    }
    if (fsync(fd) != 0) {
        err = st_err_from_errno(errno);
        goto fail;
    }
    if (close(fd) != 0) {
        fd = -1;
        err = st_err_from_errno(errno);
        goto fail;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        err = st_err_from_errno(errno);
        goto fail;
    }
    sl_file_dirname(path, dir, sizeof dir);
    return sl_file_fsync_dir(dir);
fail:
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    return err;
}

st_err_t sl_file_read_all(const char *path, size_t max, st_buf_t *out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? ST_ERR_NOT_FOUND : st_err_from_errno(errno);
    st_err_t err = ST_OK;
    size_t start = out->len;
    for (;;) {
        if ((err = st_buf_reserve(out, 4096)) != ST_OK)
            break;
        ssize_t r = read(fd, out->data + out->len, out->cap - out->len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            err = st_err_from_errno(errno);
            break;
        }
        if (r == 0)
            break;
        out->len += (size_t)r;
        if (out->len - start > max) {
            err = ST_ERR_CORRUPT;
            break;
        }
    }
    close(fd);
    if (err != ST_OK)
        out->len = start;
    return err;
}

static int sl_file_rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    if (remove(path) != 0 && errno != ENOENT)
        return -1;
    return 0;
}

st_err_t sl_file_rmrf(const char *path)
{
    if (nftw(path, sl_file_rm_one, 16, FTW_DEPTH | FTW_PHYS) != 0 && errno != ENOENT)
        return st_err_from_errno(errno);
    return ST_OK;
}

st_err_t sl_file_mkdirs(const char *path)
{
    char buf[PATH_MAX];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf)
        return ST_ERR_INVALID_ARG;
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] == '/' || buf[i] == '\0') {
            char c = buf[i];
            buf[i] = '\0';
            if (mkdir(buf, 0755) != 0 && errno != EEXIST)
                return st_err_from_errno(errno);
            buf[i] = c;
        }
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return ST_ERR_IO;
    return ST_OK;
}

st_err_t sl_file_write_i64(const char *dir, const char *name, int64_t v)
{
    char path[PATH_MAX], line[32];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int n = snprintf(line, sizeof line, "%" PRId64 "\n", v);
    return sl_file_write_atomic(path, line, (size_t)n);
}

int64_t sl_file_read_i64(const char *dir, const char *name)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    st_buf_t b;
    st_buf_init(&b);
    int64_t v = -1;
    if (sl_file_read_all(path, 64, &b) == ST_OK && st_buf_append(&b, "", 1) == ST_OK) {
        char *end;
        long long x = strtoll((char *)b.data, &end, 10);
        if (end != (char *)b.data && x >= 0)
            v = x;
    }
    st_buf_free(&b);
    return v;
}
