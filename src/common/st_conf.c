/*
 * st_conf: the declarative configuration engine (see st_conf.h). A table
 * of st_conf_prop_t drives defaults, parsing, validation, reading values
 * back as text and the Markdown reference. An INT property without a
 * default holds ST_CONF_UNSET_INT (INT64_MIN) until set, a STRING or LIST
 * one holds NULL: that is how a required key is recognised as missing, so
 * a required key may come from the file or from a later override.
 */
#include "common/st_conf.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ST_CONF_UNSET_INT INT64_MIN

static void *st_conf_field(void *target, const st_conf_prop_t *p)
{
    return (char *)target + p->offset;
}

static const void *st_conf_cfield(const void *target, const st_conf_prop_t *p)
{
    return (const char *)target + p->offset;
}

const st_conf_prop_t *st_conf_find(const st_conf_prop_t *table, const char *key)
{
    if (!table || !key)
        return NULL;
    for (const st_conf_prop_t *p = table; p->name; p++)
        if (strcmp(p->name, key) == 0)
            return p;
    return NULL;
}

/* Is value one of the '|'-separated names of enum_values? */
static bool st_conf_enum_ok(const char *enum_values, const char *value)
{
    size_t vlen = strlen(value);
    const char *s = enum_values;
    while (*s) {
        const char *bar = strchr(s, '|');
        size_t n = bar ? (size_t)(bar - s) : strlen(s);
        if (n == vlen && strncmp(s, value, n) == 0)
            return true;
        if (!bar)
            break;
        s = bar + 1;
    }
    return false;
}

/* Parse and store value for property p; the error names the key. */
static st_err_t st_conf_set_prop(const st_conf_prop_t *p, void *target, const char *value, char *err,
                                 size_t errlen)
{
    switch (p->type) {
    case ST_CONF_INT: {
        char *end = NULL;
        errno = 0;
        long long v = strtoll(value, &end, 10);
        if (value[0] == '\0' || errno != 0 || !end || *end != '\0' || isspace((unsigned char)value[0])) {
            snprintf(err, errlen, "%s: invalid integer value '%s'", p->name, value);
            return ST_ERR_INVALID_CONFIG;
        }
        if ((int64_t)v < p->min || (int64_t)v > p->max) {
            snprintf(err, errlen, "%s: value %lld out of range [%" PRId64 ", %" PRId64 "]", p->name, v,
                     p->min, p->max);
            return ST_ERR_INVALID_CONFIG;
        }
        *(int64_t *)st_conf_field(target, p) = (int64_t)v;
        return ST_OK;
    }
    case ST_CONF_BOOL:
        if (strcasecmp(value, "true") == 0)
            *(bool *)st_conf_field(target, p) = true;
        else if (strcasecmp(value, "false") == 0)
            *(bool *)st_conf_field(target, p) = false;
        else {
            snprintf(err, errlen, "%s: invalid boolean value '%s' (true or false)", p->name, value);
            return ST_ERR_INVALID_CONFIG;
        }
        return ST_OK;
    case ST_CONF_STRING:
    case ST_CONF_LIST: {
        if (p->type == ST_CONF_STRING && p->enum_values && !st_conf_enum_ok(p->enum_values, value)) {
            snprintf(err, errlen, "%s: invalid value '%s' (one of %s)", p->name, value, p->enum_values);
            return ST_ERR_INVALID_CONFIG;
        }
        char *copy;
        if (p->type == ST_CONF_LIST) {
            /* normalise: drop blanks around the commas */
            copy = malloc(strlen(value) + 1);
            if (!copy)
                return ST_ERR_NOMEM;
            char *o = copy;
            const char *s = value;
            while (*s) {
                while (*s == ' ' || *s == '\t')
                    s++;
                const char *comma = strchr(s, ',');
                const char *e = comma ? comma : s + strlen(s);
                const char *t = e;
                while (t > s && (t[-1] == ' ' || t[-1] == '\t'))
                    t--;
                memcpy(o, s, (size_t)(t - s));
                o += t - s;
                if (!comma)
                    break;
                *o++ = ',';
                s = comma + 1;
            }
            *o = '\0';
        } else {
            copy = strdup(value);
            if (!copy)
                return ST_ERR_NOMEM;
        }
        char **slot = st_conf_field(target, p);
        free(*slot);
        *slot = copy;
        return ST_OK;
    }
    }
    snprintf(err, errlen, "%s: unsupported property type", p->name);
    return ST_ERR_INVALID_ARG;
}

st_err_t st_conf_defaults(const st_conf_prop_t *table, void *target)
{
    char err[256];
    for (const st_conf_prop_t *p = table; p->name; p++) {
        switch (p->type) {
        case ST_CONF_INT:
            *(int64_t *)st_conf_field(target, p) = ST_CONF_UNSET_INT;
            break;
        case ST_CONF_BOOL:
            *(bool *)st_conf_field(target, p) = false;
            break;
        case ST_CONF_STRING:
        case ST_CONF_LIST: {
            char **slot = st_conf_field(target, p);
            free(*slot);
            *slot = NULL;
            break;
        }
        }
        if (p->def) {
            st_err_t rc = st_conf_set_prop(p, target, p->def, err, sizeof err);
            if (rc != ST_OK)
                return rc; /* a broken table: the default itself is invalid */
        }
    }
    return ST_OK;
}

st_err_t st_conf_set(const st_conf_prop_t *table, void *target, const char *key, const char *value, char *err,
                     size_t errlen)
{
    char dummy[8];
    if (!err || errlen == 0) {
        err = dummy;
        errlen = sizeof dummy;
    }
    err[0] = '\0';
    if (!key || !value) {
        snprintf(err, errlen, "missing key or value");
        return ST_ERR_INVALID_ARG;
    }
    const st_conf_prop_t *p = st_conf_find(table, key);
    if (!p) {
        snprintf(err, errlen, "%s: unknown configuration key", key);
        return ST_ERR_NOT_FOUND;
    }
    return st_conf_set_prop(p, target, value, err, errlen);
}

static bool st_conf_is_set(const st_conf_prop_t *p, const void *target)
{
    switch (p->type) {
    case ST_CONF_INT:
        return *(const int64_t *)st_conf_cfield(target, p) != ST_CONF_UNSET_INT;
    case ST_CONF_BOOL:
        return true;
    case ST_CONF_STRING:
    case ST_CONF_LIST: {
        const char *const *s = st_conf_cfield(target, p);
        return *s && **s;
    }
    }
    return false;
}

static char *st_conf_trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

st_err_t st_conf_load_file(const st_conf_prop_t *table, void *target, const char *path, bool allow_unknown,
                           char *err, size_t errlen)
{
    char dummy[8];
    if (!err || errlen == 0) {
        err = dummy;
        errlen = sizeof dummy;
    }
    err[0] = '\0';
    st_err_t rc = ST_OK;
    char *line = NULL;
    size_t cap = 0;
    int lineno = 0;
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return ST_ERR_IO;
    }
    while (getline(&line, &cap, f) >= 0) {
        lineno++;
        char *s = st_conf_trim(line);
        if (*s == '\0' || *s == '#' || *s == '!')
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            snprintf(err, errlen, "%s:%d: expected key=value", path, lineno);
            rc = ST_ERR_INVALID_CONFIG;
            goto out;
        }
        *eq = '\0';
        char *key = st_conf_trim(s);
        char *value = st_conf_trim(eq + 1);
        const st_conf_prop_t *p = st_conf_find(table, key);
        if (!p) {
            if (allow_unknown)
                continue;
            snprintf(err, errlen, "%s:%d: %s: unknown configuration key", path, lineno, key);
            rc = ST_ERR_NOT_FOUND;
            goto out;
        }
        char msg[384];
        rc = st_conf_set_prop(p, target, value, msg, sizeof msg);
        if (rc != ST_OK) {
            snprintf(err, errlen, "%s:%d: %s", path, lineno, msg);
            goto out;
        }
    }
    if (ferror(f)) {
        snprintf(err, errlen, "%s: read error", path);
        rc = ST_ERR_IO;
        goto out;
    }
    for (const st_conf_prop_t *p = table; p->name; p++) {
        if (p->required && !st_conf_is_set(p, target)) {
            snprintf(err, errlen, "%s: required configuration key is missing", p->name);
            rc = ST_ERR_INVALID_CONFIG;
            goto out;
        }
    }
out:
    free(line);
    fclose(f);
    return rc;
}

char *st_conf_get(const st_conf_prop_t *table, const void *target, const char *key)
{
    const st_conf_prop_t *p = st_conf_find(table, key);
    if (!p)
        return NULL;
    switch (p->type) {
    case ST_CONF_INT: {
        int64_t v = *(const int64_t *)st_conf_cfield(target, p);
        if (v == ST_CONF_UNSET_INT)
            return strdup("");
        char buf[32];
        snprintf(buf, sizeof buf, "%" PRId64, v);
        return strdup(buf);
    }
    case ST_CONF_BOOL:
        return strdup(*(const bool *)st_conf_cfield(target, p) ? "true" : "false");
    case ST_CONF_STRING:
    case ST_CONF_LIST: {
        const char *const *s = st_conf_cfield(target, p);
        return strdup(*s ? *s : "");
    }
    }
    return NULL;
}

void st_conf_free(const st_conf_prop_t *table, void *target)
{
    for (const st_conf_prop_t *p = table; p->name; p++) {
        if (p->type == ST_CONF_STRING || p->type == ST_CONF_LIST) {
            char **slot = st_conf_field(target, p);
            free(*slot);
            *slot = NULL;
        }
    }
}

static const char *st_conf_type_name(st_conf_type_t t)
{
    switch (t) {
    case ST_CONF_INT:
        return "int";
    case ST_CONF_BOOL:
        return "bool";
    case ST_CONF_STRING:
        return "string";
    case ST_CONF_LIST:
        return "list";
    }
    return "?";
}

/* Write s escaping the characters that would break a Markdown table. */
static void st_conf_md_escape(FILE *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '|')
            fputs("\\|", out);
        else if (*s == '\n')
            fputc(' ', out);
        else
            fputc(*s, out);
    }
}

void st_conf_write_markdown(const st_conf_prop_t *table, const char *title, FILE *out)
{
    fprintf(out, "## %s\n\n", title);
    fputs("| Property | Type | Default | Range | Dynamic | Description |\n", out);
    fputs("| --- | --- | --- | --- | --- | --- |\n", out);
    for (const st_conf_prop_t *p = table; p->name; p++) {
        fprintf(out, "| `%s` | %s | ", p->name, st_conf_type_name(p->type));
        if (p->required)
            fputs("*required*", out);
        else if (p->def && *p->def) {
            fputc('`', out);
            st_conf_md_escape(out, p->def);
            fputc('`', out);
        } else
            fputs("*none*", out);
        fputs(" | ", out);
        if (p->type == ST_CONF_INT) {
            if (p->min == INT64_MIN && p->max == INT64_MAX)
                fputs("any", out);
            else if (p->max == INT64_MAX)
                fprintf(out, "&ge; %" PRId64, p->min);
            else
                fprintf(out, "%" PRId64 " .. %" PRId64, p->min, p->max);
        } else if (p->type == ST_CONF_STRING && p->enum_values) {
            st_conf_md_escape(out, p->enum_values);
        } else if (p->type == ST_CONF_BOOL) {
            fputs("true, false", out);
        }
        fprintf(out, " | %s | ", p->dynamic ? "yes" : "no");
        st_conf_md_escape(out, p->doc ? p->doc : "");
        fputs(" |\n", out);
    }
    fputc('\n', out);
}
