/*
 * st_log: the process-wide log of strata programs. Lines go to stderr or
 * to a file (reopened on SIGHUP by the caller via st_log_reopen), each
 * with an ISO-8601 UTC timestamp, a level and a subsystem tag. Owns: the
 * log destination and level; callable from any thread (one write(2) per
 * line).
 */
#ifndef ST_LOG_H
#define ST_LOG_H

typedef enum st_log_level {
    ST_LOG_DEBUG = 0,
    ST_LOG_INFO = 1,
    ST_LOG_WARN = 2,
    ST_LOG_ERROR = 3,
} st_log_level_t;

/* Log to path (appending), or to stderr when path is NULL. Returns 0 or -1
 * with errno set. */
int st_log_open(const char *path, st_log_level_t level);
/* Reopen the same path (log rotation); no-op for stderr. */
int st_log_reopen(void);
void st_log_close(void);
void st_log_set_level(st_log_level_t level);
/* Parse "debug", "info", "warn", "error"; returns -1 on anything else. */
int st_log_level_parse(const char *s);

void st_log(st_log_level_t level, const char *tag, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define ST_DEBUG(tag, ...) st_log(ST_LOG_DEBUG, tag, __VA_ARGS__)
#define ST_INFO(tag, ...) st_log(ST_LOG_INFO, tag, __VA_ARGS__)
#define ST_WARN(tag, ...) st_log(ST_LOG_WARN, tag, __VA_ARGS__)
#define ST_ERROR(tag, ...) st_log(ST_LOG_ERROR, tag, __VA_ARGS__)

#endif
