/*
 * cli_util: shared option handling and helpers of the strata CLI.
 */
#include "cli/cli_util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

cli_globals_t cli_g;

bool cli_has_prop(const char *key)
{
    size_t n = strlen(key);
    for (size_t i = 0; i < cli_g.n_props; i++)
        if (strncmp(cli_g.props[i], key, n) == 0 && cli_g.props[i][n] == '=')
            return true;
    return false;
}

static const char *cli_bootstrap(void)
{
    const char *bs = cli_g.bootstrap;
    if (bs == NULL)
        bs = getenv("STRATA_BOOTSTRAP");
    if (bs == NULL || bs[0] == '\0')
        bs = "tcp://127.0.0.1:9092";
    return bs;
}

void cli_err_call(const char *what, strata_err_t e)
{
    if (e == STRATA_ERR_TIMEOUT || e == STRATA_ERR_CONNECTION || e == STRATA_ERR_NETWORK_EXCEPTION)
        cli_err("%s: %s (no answer from %s)", what, strata_err_name(e), cli_bootstrap());
    else
        cli_err("%s: %s", what, strata_err_name(e));
}

bool cli_strv_push(const char ***v, size_t *n, const char *s)
{
    const char **nv = realloc(*v, (*n + 1) * sizeof *nv);
    if (nv == NULL)
        return false;
    nv[*n] = s;
    *v = nv;
    (*n)++;
    return true;
}

bool cli_global_opt(int c, const char *arg)
{
    switch (c) {
    case 'b':
        cli_g.bootstrap = arg;
        return true;
    case 'X':
        cli_strv_push(&cli_g.props, &cli_g.n_props, arg);
        return true;
    case CLI_OPT_JSON:
        cli_g.json = true;
        return true;
    default:
        return false;
    }
}

void cli_err(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("strata: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int cli_usage_err(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("strata: ", stderr);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see 'strata %s --help')\n", cmd);
    va_end(ap);
    return CLI_EXIT_USAGE;
}

bool cli_conf_set(strata_conf_t *conf, const char *key, const char *value)
{
    char err[256];
    if (strata_conf_set(conf, key, value, err, sizeof err) != STRATA_OK) {
        cli_err("%s", err);
        return false;
    }
    return true;
}

strata_conf_t *cli_conf(void)
{
    strata_conf_t *conf = strata_conf_new();
    if (conf == NULL) {
        cli_err("out of memory");
        return NULL;
    }
    const char *bs = cli_bootstrap();
    if (!cli_conf_set(conf, "bootstrap.servers", bs) || !cli_conf_set(conf, "client.id", "strata-cli"))
        goto fail;
    for (size_t i = 0; i < cli_g.n_props; i++) {
        char *kv = strdup(cli_g.props[i]);
        char *eq = kv ? strchr(kv, '=') : NULL;
        if (eq == NULL) {
            cli_err("-X %s: expected KEY=VALUE", cli_g.props[i]);
            free(kv);
            goto fail;
        }
        *eq = '\0';
        bool ok = cli_conf_set(conf, kv, eq + 1);
        free(kv);
        if (!ok)
            goto fail;
    }
    return conf;
fail:
    strata_conf_free(conf);
    return NULL;
}

bool cli_parse_i64(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (s[0] == '\0' || *end != '\0' || errno != 0)
        return false;
    *out = v;
    return true;
}

bool cli_parse_i32(const char *s, int32_t *out)
{
    int64_t v;
    if (!cli_parse_i64(s, &v) || v < INT32_MIN || v > INT32_MAX)
        return false;
    *out = (int32_t)v;
    return true;
}
