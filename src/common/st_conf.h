/*
 * st_conf: declarative configuration. A program describes its properties
 * once, in a static table of st_conf_prop (name, type, default, range,
 * whether it may change at runtime, one doc line); that table drives
 * parsing of `key=value` files and strings, defaults, validation (a bad
 * value is an error naming the key) and the generated reference in
 * docs/configuration.md. Owns: the table engine, not any table: the broker
 * (src/broker/br_config.c), topics and the client library keep their own.
 */
#ifndef ST_CONF_H
#define ST_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/st_err.h"

typedef enum st_conf_type {
    ST_CONF_INT,    /* int64; min/max apply */
    ST_CONF_BOOL,   /* true/false */
    ST_CONF_STRING, /* free text; enum_values restricts it when set */
    ST_CONF_LIST,   /* comma-separated strings */
} st_conf_type_t;

typedef struct st_conf_prop {
    const char *name; /* Kafka's key where the concept is the same */
    st_conf_type_t type;
    const char *def;         /* default as text; NULL = no default (required or unset) */
    int64_t min, max;        /* ST_CONF_INT only */
    const char *enum_values; /* "a|b|c" for ST_CONF_STRING, or NULL */
    bool dynamic;            /* may change without restart */
    bool required;
    const char *doc; /* one line */
    size_t offset;   /* offsetof() the field in the target struct */
} st_conf_prop_t;

/* A table ends with an entry whose name is NULL. Target struct fields:
 * INT -> int64_t, BOOL -> bool, STRING and LIST -> char * (malloc'd). */

/* Set every property of `table` in `target` to its default. */
st_err_t st_conf_defaults(const st_conf_prop_t *table, void *target);
/* Set one property from text. Unknown keys give ST_ERR_NOT_FOUND, bad
 * values ST_ERR_INVALID_CONFIG; err (size errlen) receives a message that
 * names the key. */
st_err_t st_conf_set(const st_conf_prop_t *table, void *target, const char *key, const char *value, char *err,
                     size_t errlen);
/* Parse a `key=value` file (# comments, blank lines; later lines win).
 * Unknown keys are errors unless allow_unknown. Checks required keys. */
st_err_t st_conf_load_file(const st_conf_prop_t *table, void *target, const char *path, bool allow_unknown,
                           char *err, size_t errlen);
/* Current value of key as text (malloc'd), or NULL when unknown. */
char *st_conf_get(const st_conf_prop_t *table, const void *target, const char *key);
const st_conf_prop_t *st_conf_find(const st_conf_prop_t *table, const char *key);
/* Free the strings a table's target owns. */
void st_conf_free(const st_conf_prop_t *table, void *target);
/* Write the Markdown reference of a table (a heading, then one row per
 * property: name, type, default, range, dynamic, doc). */
void st_conf_write_markdown(const st_conf_prop_t *table, const char *title, FILE *out);

#endif
