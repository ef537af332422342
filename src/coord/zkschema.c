/*
 * zkschema: JSON Schema subset validator and the zk-schema set (see zkschema.h).
 * Validation walks schema and instance together; every keyword is checked
 * independently and reports its own deviation, so one run lists all that
 * is wrong with a znode rather than the first problem only.
 */
#include "coord/zkschema.h"

#include <dirent.h>
#include <errno.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct zkschema_set {
    zkschema_entry_t *entries;
    size_t n;
    regex_t *regs; /* compiled x-strata-path-regex, one per entry */
};

/* ------------------------------------------------------------------ */
/* Validation                                                           */
/* ------------------------------------------------------------------ */

typedef struct zkschema_ctx {
    zkschema_report_fn fn;
    void *opaque;
    size_t count;
} zkschema_ctx_t;

static void zkschema_report(zkschema_ctx_t *c, const char *loc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void zkschema_report(zkschema_ctx_t *c, const char *loc, const char *fmt, ...)
{
    char msg[512], full[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(full, sizeof(full), "%s: %s", loc, msg);
    c->count++;
    if (c->fn != NULL)
        c->fn(c->opaque, "", full);
}

static const char *zkschema_type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "object";
    case JSON_ARRAY:
        return "array";
    case JSON_STRING:
        return "string";
    case JSON_INTEGER:
        return "integer";
    case JSON_REAL:
        return "number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "boolean";
    case JSON_NULL:
        return "null";
    }
    return "?";
}

static bool zkschema_type_is(const json_t *v, const char *t)
{
    if (strcmp(t, "number") == 0)
        return json_is_number(v);
    if (strcmp(t, "boolean") == 0)
        return json_is_boolean(v);
    return strcmp(t, zkschema_type_name(v)) == 0;
}

static bool zkschema_type_known(const char *t)
{
    static const char *const names[] = {"object", "array",   "string", "integer",
                                        "number", "boolean", "null",   NULL};
    for (size_t i = 0; names[i] != NULL; i++)
        if (strcmp(names[i], t) == 0)
            return true;
    return false;
}

/* Number of UTF-8 code points in s[0..n). */
static size_t zkschema_utf8_len(const char *s, size_t n)
{
    size_t cp = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            cp++;
    return cp;
}

/* 1 match, 0 no match, -1 bad regex. */
static int zkschema_regex_match(const char *re, const char *s)
{
    regex_t rx;
    if (regcomp(&rx, re, REG_EXTENDED | REG_NOSUB) != 0)
        return -1;
    int r = regexec(&rx, s, 0, NULL, 0) == 0;
    regfree(&rx);
    return r;
}

static void zkschema_walk(zkschema_ctx_t *c, const json_t *schema, const json_t *v, const char *loc);

static void zkschema_check_type(zkschema_ctx_t *c, const json_t *t, const json_t *v, const char *loc)
{
    if (json_is_string(t)) {
        if (!zkschema_type_is(v, json_string_value(t)))
            zkschema_report(c, loc, "is %s, expected %s", zkschema_type_name(v), json_string_value(t));
        return;
    }
    if (json_is_array(t)) {
        size_t i;
        json_t *e;
        char names[128] = "";
        json_array_foreach(t, i, e)
        {
            if (json_is_string(e) && zkschema_type_is(v, json_string_value(e)))
                return;
            if (json_is_string(e)) {
                size_t l = strlen(names);
                snprintf(names + l, sizeof(names) - l, "%s%s", l ? " or " : "", json_string_value(e));
            }
        }
        zkschema_report(c, loc, "is %s, expected %s", zkschema_type_name(v), names);
        return;
    }
    zkschema_report(c, loc, "schema error: \"type\" must be a string or an array");
}

static void zkschema_check_object(zkschema_ctx_t *c, const json_t *schema, const json_t *v, const char *loc)
{
    const json_t *props = json_object_get(schema, "properties");
    const json_t *pprops = json_object_get(schema, "patternProperties");
    const json_t *addl = json_object_get(schema, "additionalProperties");
    const json_t *req = json_object_get(schema, "required");
    const json_t *mnp = json_object_get(schema, "minProperties");
    const json_t *mxp = json_object_get(schema, "maxProperties");
    size_t np = json_object_size(v);
    char sub[512];

    if (json_is_integer(mnp) && (json_int_t)np < json_integer_value(mnp))
        zkschema_report(c, loc, "has %zu properties, at least %lld required", np,
                        (long long)json_integer_value(mnp));
    if (json_is_integer(mxp) && (json_int_t)np > json_integer_value(mxp))
        zkschema_report(c, loc, "has %zu properties, at most %lld allowed", np,
                        (long long)json_integer_value(mxp));

    if (req != NULL) {
        size_t i;
        json_t *e;
        if (!json_is_array(req))
            zkschema_report(c, loc, "schema error: \"required\" must be an array");
        else
            json_array_foreach(req, i, e)
            {
                if (json_is_string(e) && json_object_get(v, json_string_value(e)) == NULL)
                    zkschema_report(c, loc, "missing required property \"%s\"", json_string_value(e));
            }
    }
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)v, key, val)
    {
        bool matched = false;
        snprintf(sub, sizeof(sub), "%s.%s", loc, key);
        if (json_is_object(props)) {
            const json_t *ps = json_object_get(props, key);
            if (ps != NULL) {
                matched = true;
                zkschema_walk(c, ps, val, sub);
            }
        }
        if (json_is_object(pprops)) {
            const char *re;
            json_t *ps;
            json_object_foreach((json_t *)pprops, re, ps)
            {
                int m = zkschema_regex_match(re, key);
                if (m < 0) {
                    zkschema_report(c, loc, "schema error: bad regex \"%s\" in patternProperties", re);
                } else if (m) {
                    matched = true;
                    zkschema_walk(c, ps, val, sub);
                }
            }
        }
        if (!matched && addl != NULL) {
            if (json_is_false(addl))
                zkschema_report(c, loc, "unexpected property \"%s\"", key);
            else if (json_is_object(addl))
                zkschema_walk(c, addl, val, sub);
        }
    }
}

static void zkschema_check_array(zkschema_ctx_t *c, const json_t *schema, const json_t *v, const char *loc)
{
    const json_t *items = json_object_get(schema, "items");
    const json_t *mn = json_object_get(schema, "minItems");
    const json_t *mx = json_object_get(schema, "maxItems");
    const json_t *uniq = json_object_get(schema, "uniqueItems");
    size_t n = json_array_size(v);
    char sub[512];

    if (json_is_integer(mn) && (json_int_t)n < json_integer_value(mn))
        zkschema_report(c, loc, "has %zu items, at least %lld required", n,
                        (long long)json_integer_value(mn));
    if (json_is_integer(mx) && (json_int_t)n > json_integer_value(mx))
        zkschema_report(c, loc, "has %zu items, at most %lld allowed", n, (long long)json_integer_value(mx));
    if (json_is_true(uniq)) {
        for (size_t i = 0; i < n; i++)
            for (size_t j = i + 1; j < n; j++)
                if (json_equal(json_array_get(v, i), json_array_get(v, j))) {
                    zkschema_report(c, loc, "items %zu and %zu are equal (uniqueItems)", i, j);
                    i = n; /* one report per array */
                    break;
                }
    }
    if (json_is_object(items)) {
        for (size_t i = 0; i < n; i++) {
            snprintf(sub, sizeof(sub), "%s[%zu]", loc, i);
            zkschema_walk(c, items, json_array_get(v, i), sub);
        }
    }
}

static void zkschema_walk(zkschema_ctx_t *c, const json_t *schema, const json_t *v, const char *loc)
{
    if (json_is_true(schema))
        return;
    if (json_is_false(schema)) {
        zkschema_report(c, loc, "no value allowed here");
        return;
    }
    if (!json_is_object(schema)) {
        zkschema_report(c, loc, "schema error: a schema must be an object or a boolean");
        return;
    }
    const json_t *t = json_object_get(schema, "type");
    if (t != NULL)
        zkschema_check_type(c, t, v, loc);

    const json_t *cst = json_object_get(schema, "const");
    if (cst != NULL && !json_equal((json_t *)cst, (json_t *)v)) {
        char *want = json_dumps(cst, JSON_COMPACT | JSON_ENCODE_ANY);
        zkschema_report(c, loc, "must be %s", want ? want : "the const value");
        free(want);
    }
    const json_t *en = json_object_get(schema, "enum");
    if (en != NULL) {
        size_t i;
        json_t *e;
        bool found = false;
        json_array_foreach(en, i, e)
        {
            if (json_equal(e, (json_t *)v))
                found = true;
        }
        if (!found) {
            char *want = json_dumps(en, JSON_COMPACT | JSON_ENCODE_ANY);
            zkschema_report(c, loc, "must be one of %s", want ? want : "the enum values");
            free(want);
        }
    }
    if (json_is_number(v)) {
        const json_t *mn = json_object_get(schema, "minimum");
        const json_t *mx = json_object_get(schema, "maximum");
        /* Compare integers exactly; a real on either side compares as double. */
        if (json_is_number(mn)) {
            bool below = json_is_integer(v) && json_is_integer(mn)
                             ? json_integer_value(v) < json_integer_value(mn)
                             : json_number_value(v) < json_number_value(mn);
            if (below)
                zkschema_report(c, loc, "%g is less than minimum %g", json_number_value(v),
                                json_number_value(mn));
        }
        if (json_is_number(mx)) {
            bool above = json_is_integer(v) && json_is_integer(mx)
                             ? json_integer_value(v) > json_integer_value(mx)
                             : json_number_value(v) > json_number_value(mx);
            if (above)
                zkschema_report(c, loc, "%g is greater than maximum %g", json_number_value(v),
                                json_number_value(mx));
        }
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        size_t cp = zkschema_utf8_len(s, json_string_length(v));
        const json_t *mnl = json_object_get(schema, "minLength");
        const json_t *mxl = json_object_get(schema, "maxLength");
        const json_t *pat = json_object_get(schema, "pattern");
        if (json_is_integer(mnl) && (json_int_t)cp < json_integer_value(mnl))
            zkschema_report(c, loc, "string of length %zu, at least %lld required", cp,
                            (long long)json_integer_value(mnl));
        if (json_is_integer(mxl) && (json_int_t)cp > json_integer_value(mxl))
            zkschema_report(c, loc, "string of length %zu, at most %lld allowed", cp,
                            (long long)json_integer_value(mxl));
        if (json_is_string(pat)) {
            int m = zkschema_regex_match(json_string_value(pat), s);
            if (m < 0)
                zkschema_report(c, loc, "schema error: bad regex \"%s\"", json_string_value(pat));
            else if (m == 0)
                zkschema_report(c, loc, "\"%.64s\" does not match pattern %s", s, json_string_value(pat));
        }
    }
    if (json_is_object(v))
        zkschema_check_object(c, schema, v, loc);
    if (json_is_array(v))
        zkschema_check_array(c, schema, v, loc);
}

/* Report adapter: zkschema_report() builds "loc: msg" and passes where = "";
 * the public entry points substitute the caller's where. */
typedef struct zkschema_fwd {
    zkschema_report_fn fn;
    void *opaque;
    const char *where;
} zkschema_fwd_t;

static void zkschema_forward(void *opaque, const char *where, const char *msg)
{
    zkschema_fwd_t *f = opaque;
    (void)where;
    if (f->fn != NULL)
        f->fn(f->opaque, f->where, msg);
}

static size_t zkschema_validate_at(const json_t *schema, const json_t *v, const char *loc, const char *where,
                                   zkschema_report_fn fn, void *opaque)
{
    zkschema_fwd_t fwd = {fn, opaque, where};
    zkschema_ctx_t c = {zkschema_forward, &fwd, 0};
    zkschema_walk(&c, schema, v, loc ? loc : "$");
    return c.count;
}

size_t zkschema_validate(const json_t *schema, const json_t *instance, const char *loc, zkschema_report_fn fn,
                         void *opaque)
{
    return zkschema_validate_at(schema, instance, loc, "", fn, opaque);
}

/* ------------------------------------------------------------------ */
/* Lint                                                                 */
/* ------------------------------------------------------------------ */

static void zkschema_lint_walk(zkschema_ctx_t *c, const json_t *schema, const char *loc);

static void zkschema_lint_map(zkschema_ctx_t *c, const json_t *m, const char *loc, const char *kw,
                              bool regex_keys)
{
    char sub[512];
    const char *key;
    json_t *val;
    if (!json_is_object(m)) {
        zkschema_report(c, loc, "\"%s\" must be an object", kw);
        return;
    }
    json_object_foreach((json_t *)m, key, val)
    {
        if (regex_keys && zkschema_regex_match(key, "") < 0)
            zkschema_report(c, loc, "bad regex \"%s\" in %s", key, kw);
        snprintf(sub, sizeof(sub), "%s.%s.%s", loc, kw, key);
        zkschema_lint_walk(c, val, sub);
    }
}

static void zkschema_lint_walk(zkschema_ctx_t *c, const json_t *schema, const char *loc)
{
    static const char *const annotations[] = {"$schema",     "$id",      "$comment", "title",
                                              "description", "examples", "default",  NULL};
    char sub[512];
    if (json_is_boolean(schema))
        return;
    if (!json_is_object(schema)) {
        zkschema_report(c, loc, "a schema must be an object or a boolean");
        return;
    }
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)schema, key, val)
    {
        bool ok = strncmp(key, "x-", 2) == 0;
        for (size_t i = 0; !ok && annotations[i] != NULL; i++)
            ok = strcmp(key, annotations[i]) == 0;
        if (ok)
            continue;
        if (strcmp(key, "type") == 0) {
            size_t i;
            json_t *e;
            if (json_is_string(val)) {
                if (!zkschema_type_known(json_string_value(val)))
                    zkschema_report(c, loc, "unknown type \"%s\"", json_string_value(val));
            } else if (json_is_array(val) && json_array_size(val) > 0) {
                json_array_foreach(val, i, e)
                {
                    if (!json_is_string(e) || !zkschema_type_known(json_string_value(e)))
                        zkschema_report(c, loc, "bad entry %zu in \"type\"", i);
                }
            } else {
                zkschema_report(c, loc, "\"type\" must be a string or a non-empty array");
            }
        } else if (strcmp(key, "properties") == 0) {
            zkschema_lint_map(c, val, loc, key, false);
        } else if (strcmp(key, "patternProperties") == 0) {
            zkschema_lint_map(c, val, loc, key, true);
        } else if (strcmp(key, "additionalProperties") == 0 || strcmp(key, "items") == 0) {
            snprintf(sub, sizeof(sub), "%s.%s", loc, key);
            if (json_is_array(val))
                zkschema_report(c, loc, "\"%s\" must be a schema (tuple form not supported)", key);
            else
                zkschema_lint_walk(c, val, sub);
        } else if (strcmp(key, "required") == 0) {
            size_t i;
            json_t *e;
            if (!json_is_array(val))
                zkschema_report(c, loc, "\"required\" must be an array of strings");
            else
                json_array_foreach(val, i, e)
                {
                    if (!json_is_string(e))
                        zkschema_report(c, loc, "\"required\" must be an array of strings");
                }
        } else if (strcmp(key, "minItems") == 0 || strcmp(key, "maxItems") == 0 ||
                   strcmp(key, "minLength") == 0 || strcmp(key, "maxLength") == 0 ||
                   strcmp(key, "minProperties") == 0 || strcmp(key, "maxProperties") == 0) {
            if (!json_is_integer(val) || json_integer_value(val) < 0)
                zkschema_report(c, loc, "\"%s\" must be a non-negative integer", key);
        } else if (strcmp(key, "minimum") == 0 || strcmp(key, "maximum") == 0) {
            if (!json_is_number(val))
                zkschema_report(c, loc, "\"%s\" must be a number", key);
        } else if (strcmp(key, "uniqueItems") == 0) {
            if (!json_is_boolean(val))
                zkschema_report(c, loc, "\"uniqueItems\" must be a boolean");
        } else if (strcmp(key, "enum") == 0) {
            if (!json_is_array(val) || json_array_size(val) == 0)
                zkschema_report(c, loc, "\"enum\" must be a non-empty array");
        } else if (strcmp(key, "const") == 0) {
            /* any value */
        } else if (strcmp(key, "pattern") == 0) {
            if (!json_is_string(val) || zkschema_regex_match(json_string_value(val), "") < 0)
                zkschema_report(c, loc, "\"pattern\" must be a valid POSIX extended regex");
        } else {
            zkschema_report(c, loc, "unsupported keyword \"%s\"", key);
        }
    }
}

size_t zkschema_lint(const json_t *schema, zkschema_report_fn fn, void *opaque)
{
    zkschema_fwd_t fwd = {fn, opaque, ""};
    zkschema_ctx_t c = {zkschema_forward, &fwd, 0};
    zkschema_lint_walk(&c, schema, "$");
    return c.count;
}

/* ------------------------------------------------------------------ */
/* Schema set                                                           */
/* ------------------------------------------------------------------ */

json_t *zkschema_parse_payload(const char *data, size_t len, char *err, size_t errlen)
{
    if (data == NULL || len == 0)
        return json_null();
    json_error_t jerr;
    json_t *v = json_loadb(data, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
    if (v == NULL && err != NULL && errlen > 0)
        snprintf(err, errlen, "payload is not JSON: %s (line %d column %d)", jerr.text, jerr.line,
                 jerr.column);
    return v;
}

static int zkschema_cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* First lint message of a file, for zkschema_set_load's error. */
static void zkschema_first_msg(void *opaque, const char *where, const char *msg)
{
    char *buf = opaque;
    (void)where;
    if (buf[0] == '\0')
        snprintf(buf, 256, "%s", msg);
}

void zkschema_set_free(zkschema_set_t *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->n; i++) {
        free(s->entries[i].name);
        json_decref(s->entries[i].schema);
        regfree(&s->regs[i]);
    }
    free(s->entries);
    free(s->regs);
    free(s);
}

st_err_t zkschema_set_load(const char *dir, zkschema_set_t **out, char *err, size_t errlen)
{
    static const char suffix[] = ".schema.json";
    st_err_t rc = ST_OK;
    char **names = NULL;
    size_t n = 0, cap = 0;
    zkschema_set_t *s = NULL;
    DIR *d = opendir(dir);
    *out = NULL;
    if (d == NULL) {
        snprintf(err, errlen, "cannot open schema dir %s: %s", dir, strerror(errno));
        return errno == ENOENT ? ST_ERR_NOT_FOUND : ST_ERR_IO;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l <= sizeof(suffix) - 1 || strcmp(de->d_name + l - (sizeof(suffix) - 1), suffix) != 0)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **nn = realloc(names, cap * sizeof(*names));
            if (nn == NULL) {
                rc = ST_ERR_NOMEM;
                goto out;
            }
            names = nn;
        }
        if ((names[n] = strdup(de->d_name)) == NULL) {
            rc = ST_ERR_NOMEM;
            goto out;
        }
        n++;
    }
    if (n == 0) {
        snprintf(err, errlen, "no *.schema.json files in %s", dir);
        rc = ST_ERR_NOT_FOUND;
        goto out;
    }
    qsort(names, n, sizeof(*names), zkschema_cmp_name);
    s = calloc(1, sizeof(*s));
    if (s == NULL || (s->entries = calloc(n, sizeof(*s->entries))) == NULL ||
        (s->regs = calloc(n, sizeof(*s->regs))) == NULL) {
        rc = ST_ERR_NOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        char path[4096], msg[256] = "";
        json_error_t jerr;
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        json_t *sch = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
        if (sch == NULL) {
            snprintf(err, errlen, "%s: %s (line %d)", path, jerr.text, jerr.line);
            rc = ST_ERR_CORRUPT;
            goto out;
        }
        if (zkschema_lint(sch, zkschema_first_msg, msg) > 0) {
            snprintf(err, errlen, "%s: %s", path, msg);
            json_decref(sch);
            rc = ST_ERR_CORRUPT;
            goto out;
        }
        const char *re = json_string_value(json_object_get(sch, "x-strata-path-regex"));
        const char *kind = json_string_value(json_object_get(sch, "x-strata-kind"));
        const char *hp = json_string_value(json_object_get(sch, "x-strata-path"));
        if (re == NULL || kind == NULL || hp == NULL ||
            (strcmp(kind, "ephemeral") != 0 && strcmp(kind, "persistent") != 0)) {
            snprintf(err, errlen,
                     "%s: needs string keywords x-strata-path, x-strata-path-regex and "
                     "x-strata-kind (ephemeral|persistent)",
                     path);
            json_decref(sch);
            rc = ST_ERR_CORRUPT;
            goto out;
        }
        if (regcomp(&s->regs[s->n], re, REG_EXTENDED | REG_NOSUB) != 0) {
            snprintf(err, errlen, "%s: x-strata-path-regex does not compile", path);
            json_decref(sch);
            rc = ST_ERR_CORRUPT;
            goto out;
        }
        zkschema_entry_t *e = &s->entries[s->n];
        names[i][strlen(names[i]) - (sizeof(suffix) - 1)] = '\0';
        e->name = names[i];
        names[i] = NULL;
        e->schema = sch;
        e->path = hp;
        e->ephemeral = strcmp(kind, "ephemeral") == 0;
        s->n++;
    }
    *out = s;
    s = NULL;
out:
    if (d != NULL)
        closedir(d);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    zkschema_set_free(s);
    return rc;
}

size_t zkschema_set_count(const zkschema_set_t *s)
{
    return s->n;
}

const zkschema_entry_t *zkschema_set_entry(const zkschema_set_t *s, size_t i)
{
    return i < s->n ? &s->entries[i] : NULL;
}

const zkschema_entry_t *zkschema_set_match(const zkschema_set_t *s, const char *path)
{
    for (size_t i = 0; i < s->n; i++)
        if (regexec(&s->regs[i], path, 0, NULL, 0) == 0)
            return &s->entries[i];
    return NULL;
}

size_t zkschema_check_node(const zkschema_set_t *s, const char *path, const char *data, size_t len,
                           bool ephemeral, zkschema_report_fn fn, void *opaque)
{
    char err[256];
    const zkschema_entry_t *e = zkschema_set_match(s, path);
    if (e == NULL) {
        if (fn != NULL)
            fn(opaque, path, "unknown znode: no schema in zk-schema/ describes this path");
        return 1;
    }
    size_t count = 0;
    if (e->ephemeral != ephemeral) {
        snprintf(err, sizeof(err), "is %s, but %s (%s) must be %s", ephemeral ? "ephemeral" : "persistent",
                 e->path, e->name, e->ephemeral ? "ephemeral" : "persistent");
        if (fn != NULL)
            fn(opaque, path, err);
        count++;
    }
    err[0] = '\0';
    json_t *v = zkschema_parse_payload(data, len, err, sizeof(err));
    if (v == NULL) {
        if (fn != NULL)
            fn(opaque, path, err);
        return count + 1;
    }
    count += zkschema_validate_at(e->schema, v, "$", path, fn, opaque);
    json_decref(v);
    return count;
}

size_t zkschema_check_required(const zkschema_set_t *s, bool (*exists)(void *, const char *),
                               void *opaque_exists, zkschema_report_fn fn, void *opaque)
{
    size_t count = 0;
    for (size_t i = 0; i < s->n; i++) {
        const json_t *req = json_object_get(s->entries[i].schema, "x-strata-required-paths");
        size_t j;
        json_t *p;
        if (!json_is_array(req))
            continue;
        json_array_foreach(req, j, p)
        {
            if (json_is_string(p) && !exists(opaque_exists, json_string_value(p))) {
                count++;
                if (fn != NULL)
                    fn(opaque, json_string_value(p), "missing: every broker creates this znode at start");
            }
        }
    }
    return count;
}
