/*
 * st_log: timestamped log lines to stderr or a reopenable file.
 */
#include "common/st_log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int st_log_fd = 2;
static char *st_log_path;
static st_log_level_t st_log_min = ST_LOG_INFO;

int st_log_open(const char *path, st_log_level_t level)
{
    st_log_min = level;
    if (!path)
        return 0;
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    free(st_log_path);
    st_log_path = strdup(path);
    if (st_log_fd > 2)
        close(st_log_fd);
    st_log_fd = fd;
    return 0;
}

int st_log_reopen(void)
{
    if (!st_log_path)
        return 0;
    int fd = open(st_log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    int old = st_log_fd;
    st_log_fd = fd;
    if (old > 2)
        close(old);
    return 0;
}

void st_log_close(void)
{
    if (st_log_fd > 2)
        close(st_log_fd);
    st_log_fd = 2;
    free(st_log_path);
    st_log_path = NULL;
}

void st_log_set_level(st_log_level_t level)
{
    st_log_min = level;
}

int st_log_level_parse(const char *s)
{
    static const char *names[] = {"debug", "info", "warn", "error"};
    for (int i = 0; i < 4; i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    return -1;
}

void st_log(st_log_level_t level, const char *tag, const char *fmt, ...)
{
    static const char *lv[] = {"DEBUG", "INFO", "WARN", "ERROR"};
    if (level < st_log_min)
        return;
    int saved = errno;
    char line[2048];
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s [%s] ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long)(tv.tv_usec / 1000),
                     lv[level & 3], tag ? tag : "-");
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof line - 2)
        len = sizeof line - 2;
    line[len++] = '\n';
    ssize_t w = write(st_log_fd, line, len);
    (void)w;
    errno = saved;
}
