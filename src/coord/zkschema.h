/*
 * zkschema: the JSON Schema validator behind zk-schema/ and `strata zk check`.
 * Owns two things: (1) validation of a jansson value against the subset of
 * JSON Schema (draft 7) the zk-schema files use — type (name or list),
 * properties, required, additionalProperties (bool or schema),
 * minProperties, maxProperties, items, minItems, maxItems, uniqueItems,
 * minimum, maximum, minLength, maxLength, enum, const, pattern and
 * patternProperties (POSIX extended regexes); annotations (title,
 * description, examples, $schema, $id, x-*) are ignored; (2) the schema
 * set: every <name>.schema.json of a directory, each carrying
 * "x-strata-path-regex" (which znode paths it describes), "x-strata-kind"
 * (ephemeral|persistent) and optionally "x-strata-required-paths", and the
 * check of one znode (path, payload, ephemeral or not) against it. Pure
 * code, no ZooKeeper calls; one thread at a time per set.
 */
#ifndef ZKSCHEMA_H
#define ZKSCHEMA_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/st_err.h"

/* Called once per deviation: where is the znode path (or "" when
 * validating a bare value) plus a JSON location like "$.isr[1]", msg says
 * what is wrong. */
typedef void (*zkschema_report_fn)(void *opaque, const char *where, const char *msg);

/* Validate instance against schema. Reports every deviation found through
 * fn (may be NULL) prefixed with location loc (e.g. "$"); returns their
 * number (0: valid). A keyword with a malformed argument (e.g. a bad
 * regex) is reported as a deviation too, never ignored. */
size_t zkschema_validate(const json_t *schema, const json_t *instance, const char *loc, zkschema_report_fn fn,
                         void *opaque);

/* Lint a schema: reports keywords outside the supported subset (so a typo
 * such as "requried" cannot silently disable a check) and malformed
 * arguments; returns their number. */
size_t zkschema_lint(const json_t *schema, zkschema_report_fn fn, void *opaque);

/* Parse a znode payload the way the checker sees it: empty data is JSON
 * null, anything else must be one JSON value (duplicate keys rejected).
 * NULL with err filled when it does not parse. */
json_t *zkschema_parse_payload(const char *data, size_t len, char *err, size_t errlen);

typedef struct zkschema_set zkschema_set_t;

/* One schema file of a set. */
typedef struct zkschema_entry {
    char *name;       /* file name without .schema.json, e.g. "broker" */
    json_t *schema;   /* the whole file */
    const char *path; /* x-strata-path, for messages ("/brokers/ids/<id>") */
    bool ephemeral;   /* x-strata-kind == "ephemeral" */
} zkschema_entry_t;

/* Load every *.schema.json in dir (sorted by name). Each must parse, lint
 * clean and carry a compilable x-strata-path-regex and a valid
 * x-strata-kind. ST_ERR_NOT_FOUND when dir has none, ST_ERR_CORRUPT (err
 * names the file and problem), ST_ERR_IO, ST_ERR_NOMEM. */
st_err_t zkschema_set_load(const char *dir, zkschema_set_t **out, char *err, size_t errlen);
void zkschema_set_free(zkschema_set_t *s);
size_t zkschema_set_count(const zkschema_set_t *s);
const zkschema_entry_t *zkschema_set_entry(const zkschema_set_t *s, size_t i);

/* The entry whose path regex matches path (first in name order), or NULL:
 * an unknown znode. */
const zkschema_entry_t *zkschema_set_match(const zkschema_set_t *s, const char *path);

/* Check one znode: unknown path, ephemeral/persistent mismatch, payload
 * not parsing, payload deviating from the schema. Each deviation goes to
 * fn with where = path. Returns the number of deviations. */
size_t zkschema_check_node(const zkschema_set_t *s, const char *path, const char *data, size_t len,
                           bool ephemeral, zkschema_report_fn fn, void *opaque);

/* Report each path named in some entry's x-strata-required-paths for
 * which exists(opaque_exists, path) is false; returns their number. */
size_t zkschema_check_required(const zkschema_set_t *s, bool (*exists)(void *, const char *),
                               void *opaque_exists, zkschema_report_fn fn, void *opaque);

#endif
