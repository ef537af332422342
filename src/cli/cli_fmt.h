/*
 * cli_fmt: kcat-style output format strings for `strata consume -f`.
 * Escapes: %t topic, %p partition, %o offset, %k key, %s value,
 * %T timestamp (ms), %h headers (k=v,k=v), %K key length, %S value length
 * (-1 for null), %% a percent sign; \n, \t, \r, \\ and \0 are
 * interpreted. Unknown escapes are copied as they are. Pure code, unit
 * tested.
 */
#ifndef CLI_FMT_H
#define CLI_FMT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "client/strata.h"

/* A growable output buffer. */
typedef struct cli_out {
    char *buf;
    size_t len, cap;
} cli_out_t;

void cli_out_init(cli_out_t *o);
void cli_out_free(cli_out_t *o);
/* Append n bytes; false on ENOMEM. */
bool cli_out_put(cli_out_t *o, const void *p, size_t n);

/* Append the rendering of m through fmt to o. false on ENOMEM. */
bool cli_fmt_render(const char *fmt, const strata_message_t *m, cli_out_t *o);

/* The JSON value of n bytes at p, the one encoding of byte strings in
 * the CLI's JSON: null when p is NULL, a string when the bytes are valid
 * UTF-8 text (no NUL), else their base64 text with *b64 set (the caller
 * adds "<name>_encoding":"base64"). NULL only on ENOMEM. */
json_t *cli_fmt_json_bytes(const void *p, size_t n, bool *b64);

/* Append one JSON object line for m (key/value as strings when valid
 * UTF-8 text, else base64 with "key_encoding":"base64"). */
bool cli_fmt_json(const strata_message_t *m, cli_out_t *o);

#endif
