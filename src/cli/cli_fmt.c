/*
 * cli_fmt: rendering of consumed records (see cli_fmt.h).
 */
#include "cli/cli_fmt.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

void cli_out_init(cli_out_t *o)
{
    o->buf = NULL;
    o->len = o->cap = 0;
}

void cli_out_free(cli_out_t *o)
{
    free(o->buf);
    cli_out_init(o);
}

bool cli_out_put(cli_out_t *o, const void *p, size_t n)
{
    if (o->len + n + 1 > o->cap) {
        size_t cap = o->cap ? o->cap : 256;
        while (cap < o->len + n + 1)
            cap *= 2;
        char *b = realloc(o->buf, cap);
        if (b == NULL)
            return false;
        o->buf = b;
        o->cap = cap;
    }
    if (n)
        memcpy(o->buf + o->len, p, n);
    o->len += n;
    o->buf[o->len] = '\0';
    return true;
}

static bool cli_out_i64(cli_out_t *o, int64_t v)
{
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "%" PRId64, v);
    return cli_out_put(o, tmp, (size_t)n);
}

bool cli_fmt_render(const char *fmt, const strata_message_t *m, cli_out_t *o)
{
    bool ok = true;
    for (const char *p = fmt; *p && ok; p++) {
        if (*p == '%' && p[1] != '\0') {
            p++;
            switch (*p) {
            case 't':
                ok = cli_out_put(o, m->topic, strlen(m->topic));
                break;
            case 'p':
                ok = cli_out_i64(o, m->partition);
                break;
            case 'o':
                ok = cli_out_i64(o, m->offset);
                break;
            case 'k':
                ok = m->key == NULL || cli_out_put(o, m->key, m->key_len);
                break;
            case 's':
                ok = m->value == NULL || cli_out_put(o, m->value, m->value_len);
                break;
            case 'T':
                ok = cli_out_i64(o, m->timestamp);
                break;
            case 'K':
                ok = cli_out_i64(o, m->key ? (int64_t)m->key_len : -1);
                break;
            case 'S':
                ok = cli_out_i64(o, m->value ? (int64_t)m->value_len : -1);
                break;
            case 'h':
                for (size_t i = 0; i < m->n_headers && ok; i++) {
                    const strata_header_t *h = &m->headers[i];
                    ok = (i == 0 || cli_out_put(o, ",", 1)) && cli_out_put(o, h->key, h->key_len) &&
                         cli_out_put(o, "=", 1) &&
                         (h->value == NULL || cli_out_put(o, h->value, h->value_len));
                }
                break;
            case '%':
                ok = cli_out_put(o, "%", 1);
                break;
            default:
                ok = cli_out_put(o, p - 1, 2);
            }
        } else if (*p == '\\' && p[1] != '\0') {
            p++;
            char c;
            switch (*p) {
            case 'n':
                c = '\n';
                break;
            case 't':
                c = '\t';
                break;
            case 'r':
                c = '\r';
                break;
            case '0':
                c = '\0';
                break;
            case '\\':
                c = '\\';
                break;
            default:
                ok = cli_out_put(o, p - 1, 2);
                continue;
            }
            ok = cli_out_put(o, &c, 1);
        } else {
            ok = cli_out_put(o, p, 1);
        }
    }
    return ok;
}

static bool cli_utf8_ok(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        size_t k;
        if (c == 0)
            return false;
        if (c < 0x80)
            k = 0;
        else if ((c & 0xe0) == 0xc0 && c >= 0xc2)
            k = 1;
        else if ((c & 0xf0) == 0xe0)
            k = 2;
        else if ((c & 0xf8) == 0xf0 && c <= 0xf4)
            k = 3;
        else
            return false;
        if (k > 0 && i + k >= n)
            return false;
        for (size_t j = 1; j <= k; j++)
            if ((s[i + j] & 0xc0) != 0x80)
                return false;
        i += k + 1;
    }
    return true;
}

json_t *cli_fmt_json_bytes(const void *p, size_t n, bool *b64)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    *b64 = false;
    if (p == NULL)
        return json_null();
    if (cli_utf8_ok(p, n))
        return json_stringn(p, n);
    *b64 = true;
    const unsigned char *s = p;
    size_t olen = 4 * ((n + 2) / 3);
    char *out = malloc(olen + 1);
    if (out == NULL)
        return json_null();
    size_t j = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v =
            (uint32_t)s[i] << 16 | (i + 1 < n ? (uint32_t)s[i + 1] << 8 : 0) | (i + 2 < n ? s[i + 2] : 0);
        out[j++] = tbl[v >> 18 & 63];
        out[j++] = tbl[v >> 12 & 63];
        out[j++] = i + 1 < n ? tbl[v >> 6 & 63] : '=';
        out[j++] = i + 2 < n ? tbl[v & 63] : '=';
    }
    json_t *r = json_stringn(out, j);
    free(out);
    return r;
}

bool cli_fmt_json(const strata_message_t *m, cli_out_t *o)
{
    bool kb, vb;
    json_t *obj = json_object();
    json_t *hdrs = json_object();
    if (obj == NULL || hdrs == NULL) {
        json_decref(obj);
        json_decref(hdrs);
        return false;
    }
    json_object_set_new(obj, "topic", json_string(m->topic));
    json_object_set_new(obj, "partition", json_integer(m->partition));
    json_object_set_new(obj, "offset", json_integer(m->offset));
    json_object_set_new(obj, "timestamp", json_integer(m->timestamp));
    json_object_set_new(obj, "key", cli_fmt_json_bytes(m->key, m->key_len, &kb));
    json_object_set_new(obj, "value", cli_fmt_json_bytes(m->value, m->value_len, &vb));
    if (kb)
        json_object_set_new(obj, "key_encoding", json_string("base64"));
    if (vb)
        json_object_set_new(obj, "value_encoding", json_string("base64"));
    for (size_t i = 0; i < m->n_headers; i++) {
        bool hb;
        char *k = strndup(m->headers[i].key, m->headers[i].key_len);
        if (k != NULL)
            json_object_set_new(hdrs, k,
                                cli_fmt_json_bytes(m->headers[i].value, m->headers[i].value_len, &hb));
        free(k);
    }
    json_object_set_new(obj, "headers", hdrs);
    char *s = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(obj);
    if (s == NULL)
        return false;
    bool ok = cli_out_put(o, s, strlen(s)) && cli_out_put(o, "\n", 1);
    free(s);
    return ok;
}
