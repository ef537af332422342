/*
 * cli_reassign: leader elections and partition reassignment from the
 * command line (see cli_reassign.h).
 */
#include "cli/cli_reassign.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_util.h"

static cli_tpr_t *cli_tpr_push(cli_reassign_opts_t *o, const char *topic)
{
    cli_tpr_t *v = realloc(o->v, (o->n + 1) * sizeof *v);
    if (v == NULL)
        return NULL;
    o->v = v;
    cli_tpr_t *e = &v[o->n];
    memset(e, 0, sizeof *e);
    if ((e->topic = strdup(topic)) == NULL)
        return NULL;
    e->partition = -1;
    o->n++;
    return e;
}

void cli_reassign_opts_free(cli_reassign_opts_t *o)
{
    for (size_t i = 0; i < o->n; i++) {
        free(o->v[i].topic);
        free(o->v[i].replicas);
    }
    free(o->v);
    o->v = NULL;
    o->n = 0;
}

bool cli_parse_replicas(const char *s, int32_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    size_t cap = 1;
    for (const char *p = s; *p; p++)
        cap += *p == ',';
    int32_t *v = calloc(cap, sizeof *v);
    char *copy = strdup(s);
    size_t k = 0;
    bool ok = v != NULL && copy != NULL;
    char *save = NULL;
    for (char *tok = ok ? strtok_r(copy, ",", &save) : NULL; ok && tok != NULL;
         tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ')
            tok++;
        int32_t id;
        if (!cli_parse_i32(tok, &id) || id < 0) {
            ok = false;
            break;
        }
        for (size_t j = 0; j < k; j++)
            if (v[j] == id)
                ok = false;
        if (ok && k < cap)
            v[k++] = id;
    }
    free(copy);
    if (!ok || k == 0) {
        free(v);
        return false;
    }
    *out = v;
    *n = k;
    return true;
}

bool cli_reassign_opt(cli_reassign_opts_t *o, int c, const char *arg, char *err, size_t errlen)
{
    cli_tpr_t *last = o->n ? &o->v[o->n - 1] : NULL;
    switch (c) {
    case CLI_RA_TOPIC:
        if (arg[0] == '\0') {
            snprintf(err, errlen, "--topic: empty name");
            return false;
        }
        if (cli_tpr_push(o, arg) == NULL) {
            snprintf(err, errlen, "out of memory");
            return false;
        }
        return true;
    case CLI_RA_PARTITION: {
        int32_t p;
        if (last == NULL) {
            snprintf(err, errlen, "--partition needs a --topic before it");
            return false;
        }
        if (!cli_parse_i32(arg, &p) || p < 0) {
            snprintf(err, errlen, "--partition: '%s' is not a partition number", arg);
            return false;
        }
        if (last->partition_given) { /* --topic T --partition 0 --partition 1 */
            char *t = last->topic;
            if ((last = cli_tpr_push(o, t)) == NULL) {
                snprintf(err, errlen, "out of memory");
                return false;
            }
        }
        last->partition = p;
        last->partition_given = true;
        return true;
    }
    case CLI_RA_REPLICAS:
        if (last == NULL || !last->partition_given) {
            snprintf(err, errlen, "--replicas needs --topic and --partition before it");
            return false;
        }
        if (last->replicas_given) {
            snprintf(err, errlen, "--replicas given twice for %s-%d", last->topic, last->partition);
            return false;
        }
        if (!cli_parse_replicas(arg, &last->replicas, &last->n_replicas)) {
            snprintf(err, errlen, "--replicas: expected distinct broker ids like 1,2,3, got '%s'", arg);
            return false;
        }
        last->replicas_given = true;
        return true;
    case CLI_RA_TYPE:
        if (strcmp(arg, "preferred") != 0 && strcmp(arg, "unclean") != 0) {
            snprintf(err, errlen, "--type: expected preferred or unclean, got '%s'", arg);
            return false;
        }
        o->type = arg;
        return true;
    case CLI_RA_JSON:
        o->json_file = arg;
        return true;
    case CLI_RA_LIST:
        o->list = true;
        return true;
    case CLI_RA_CANCEL:
        o->cancel = true;
        return true;
    default:
        snprintf(err, errlen, "bad option");
        return false;
    }
}

bool cli_reassign_parse_json(cli_reassign_opts_t *o, const char *text, char *err, size_t errlen)
{
    json_error_t je;
    json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &je);
    bool ok = false;
    if (root == NULL) {
        snprintf(err, errlen, "line %d: %s", je.line, je.text);
        return false;
    }
    json_t *ver = json_object_get(root, "version");
    json_t *parts = json_object_get(root, "partitions");
    if (!json_is_object(root) || (ver != NULL && (!json_is_integer(ver) || json_integer_value(ver) != 1))) {
        snprintf(err, errlen, "expected an object with \"version\": 1");
        goto out;
    }
    if (!json_is_array(parts) || json_array_size(parts) == 0) {
        snprintf(err, errlen, "expected a non-empty \"partitions\" array");
        goto out;
    }
    size_t i;
    json_t *e;
    json_array_foreach(parts, i, e)
    {
        json_t *t = json_object_get(e, "topic"), *p = json_object_get(e, "partition");
        json_t *r = json_object_get(e, "replicas");
        if (!json_is_string(t) || json_string_length(t) == 0 || !json_is_integer(p) ||
            json_integer_value(p) < 0 || json_integer_value(p) > INT32_MAX) {
            snprintf(err, errlen, "partitions[%zu]: needs \"topic\" and \"partition\" >= 0", i);
            goto out;
        }
        cli_tpr_t *x = cli_tpr_push(o, json_string_value(t));
        if (x == NULL) {
            snprintf(err, errlen, "out of memory");
            goto out;
        }
        x->partition = (int32_t)json_integer_value(p);
        x->partition_given = true;
        if (r == NULL)
            continue; /* --cancel needs no replicas */
        if (!json_is_array(r) || json_array_size(r) == 0) {
            snprintf(err, errlen, "partitions[%zu]: \"replicas\" must be a non-empty array", i);
            goto out;
        }
        x->replicas = calloc(json_array_size(r), sizeof *x->replicas);
        if (x->replicas == NULL) {
            snprintf(err, errlen, "out of memory");
            goto out;
        }
        size_t j;
        json_t *id;
        json_array_foreach(r, j, id)
        {
            json_int_t v = json_is_integer(id) ? json_integer_value(id) : -1;
            for (size_t k = 0; k < j && v >= 0; k++)
                if (x->replicas[k] == v)
                    v = -1;
            if (v < 0 || v > INT32_MAX) {
                snprintf(err, errlen, "partitions[%zu]: replicas must be distinct broker ids", i);
                goto out;
            }
            x->replicas[j] = (int32_t)v;
        }
        x->n_replicas = json_array_size(r);
        x->replicas_given = true;
    }
    ok = true;
out:
    json_decref(root);
    return ok;
}

static char *cli_read_file(const char *path)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (f == NULL)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf != NULL) {
        if (n + 1 >= cap) {
            char *b = cap > (64u << 20) ? NULL : realloc(buf, cap * 2);
            if (b == NULL) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = b;
            cap *= 2;
        }
        size_t r = fread(buf + n, 1, cap - n - 1, f);
        n += r;
        if (r == 0) {
            if (ferror(f)) {
                free(buf);
                buf = NULL;
            }
            break;
        }
    }
    if (buf)
        buf[n] = '\0';
    if (f != stdin)
        fclose(f);
    return buf;
}

/* Print per-partition results; exit status (error when any failed,
 * except ELECTION_NOT_NEEDED, which only informs). */
static int cli_print_results(const strata_partition_results_t *r, const char *ok_text)
{
    int rc = CLI_EXIT_OK;
    size_t n = strata_partition_results_count(r);
    json_t *arr = cli_g.json ? json_array() : NULL;
    for (size_t i = 0; i < n; i++) {
        const strata_partition_result_t *x = strata_partition_results_get(r, i);
        bool not_needed = (int)x->err == 84; /* ELECTION_NOT_NEEDED */
        if (x->err != STRATA_OK && !not_needed)
            rc = CLI_EXIT_ERROR;
        if (arr) {
            json_t *o = json_object();
            json_object_set_new(o, "topic", json_string(x->topic));
            json_object_set_new(o, "partition", json_integer(x->partition));
            json_object_set_new(o, "error",
                                json_string(x->err == STRATA_OK ? "NONE" : strata_err_name(x->err)));
            json_object_set_new(o, "message", json_string(x->message));
            json_array_append_new(arr, o);
        } else if (x->err == STRATA_OK) {
            printf("%s-%d: %s\n", x->topic, x->partition, ok_text);
        } else {
            printf("%s-%d: %s%s%s\n", x->topic, x->partition, strata_err_name(x->err),
                   x->message[0] ? ": " : "", x->message);
        }
    }
    if (arr) {
        json_dumpf(arr, stdout, JSON_COMPACT);
        putchar('\n');
        json_decref(arr);
    } else if (n == 0) {
        printf("No partitions were concerned.\n");
    }
    return rc;
}

int cli_topic_elect_leaders(strata_admin_t *a, const cli_reassign_opts_t *o, int timeout_ms)
{
    if (o->json_file || o->list || o->cancel) {
        return cli_usage_err("topic", "elect-leaders takes --type, --topic and --partition only");
    }
    strata_topic_partition_t *tp = calloc(o->n ? o->n : 1, sizeof *tp);
    if (tp == NULL)
        return CLI_EXIT_ERROR;
    for (size_t i = 0; i < o->n; i++) {
        if (o->v[i].replicas_given) {
            free(tp);
            return cli_usage_err("topic", "elect-leaders takes no --replicas");
        }
        tp[i] = (strata_topic_partition_t){o->v[i].topic, o->v[i].partition};
    }
    strata_election_type_t type =
        o->type && strcmp(o->type, "unclean") == 0 ? STRATA_ELECTION_UNCLEAN : STRATA_ELECTION_PREFERRED;
    strata_partition_results_t *r = NULL;
    char err[512] = "";
    strata_err_t e = strata_admin_elect_leaders(a, type, tp, o->n, timeout_ms, &r, err, sizeof err);
    free(tp);
    if (e != STRATA_OK) {
        if (err[0])
            cli_err("elect-leaders: %s", err);
        else
            cli_err_call("elect-leaders", e);
        return CLI_EXIT_ERROR;
    }
    int rc = cli_print_results(r, type == STRATA_ELECTION_UNCLEAN ? "leader elected (unclean)"
                                                                  : "preferred leader elected");
    strata_partition_results_free(r);
    return rc;
}

static void cli_print_ids(const int32_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        printf("%s%d", i ? "," : "", v[i]);
}

static json_t *cli_json_ids(const int32_t *v, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, json_integer(v[i]));
    return arr;
}

static int cli_reassign_list(strata_admin_t *a, const cli_reassign_opts_t *o, int timeout_ms)
{
    strata_topic_partition_t *tp = calloc(o->n ? o->n : 1, sizeof *tp);
    if (tp == NULL)
        return CLI_EXIT_ERROR;
    for (size_t i = 0; i < o->n; i++)
        tp[i] = (strata_topic_partition_t){o->v[i].topic, o->v[i].partition};
    strata_reassignment_list_t *l = NULL;
    char err[512] = "";
    strata_err_t e = strata_admin_list_reassignments(a, tp, o->n, timeout_ms, &l, err, sizeof err);
    free(tp);
    if (e != STRATA_OK) {
        if (err[0])
            cli_err("reassign --list: %s", err);
        else
            cli_err_call("reassign --list", e);
        return CLI_EXIT_ERROR;
    }
    size_t n = strata_reassignment_list_count(l);
    json_t *arr = cli_g.json ? json_array() : NULL;
    if (!arr && n == 0)
        printf("No partition reassignment is in progress.\n");
    for (size_t i = 0; i < n; i++) {
        const strata_ongoing_reassignment_t *x = strata_reassignment_list_get(l, i);
        if (arr) {
            json_t *j = json_object();
            json_object_set_new(j, "topic", json_string(x->topic));
            json_object_set_new(j, "partition", json_integer(x->partition));
            json_object_set_new(j, "replicas", cli_json_ids(x->replicas, x->n_replicas));
            json_object_set_new(j, "adding_replicas", cli_json_ids(x->adding, x->n_adding));
            json_object_set_new(j, "removing_replicas", cli_json_ids(x->removing, x->n_removing));
            json_array_append_new(arr, j);
            continue;
        }
        printf("%s-%d: replicas ", x->topic, x->partition);
        cli_print_ids(x->replicas, x->n_replicas);
        printf(" adding ");
        cli_print_ids(x->adding, x->n_adding);
        if (x->n_adding == 0)
            printf("-");
        printf(" removing ");
        cli_print_ids(x->removing, x->n_removing);
        if (x->n_removing == 0)
            printf("-");
        putchar('\n');
    }
    if (arr) {
        json_dumpf(arr, stdout, JSON_COMPACT);
        putchar('\n');
        json_decref(arr);
    }
    strata_reassignment_list_free(l);
    return CLI_EXIT_OK;
}

int cli_topic_reassign(strata_admin_t *a, cli_reassign_opts_t *o, int timeout_ms)
{
    if (o->type)
        return cli_usage_err("topic", "--type belongs to elect-leaders");
    if (o->list) {
        if (o->cancel || o->json_file)
            return cli_usage_err("topic", "--list takes only --topic and --partition");
        return cli_reassign_list(a, o, timeout_ms);
    }
    if (o->json_file) {
        char *text = cli_read_file(o->json_file);
        char err[512] = "";
        if (text == NULL) {
            cli_err("%s: %s", o->json_file, strerror(errno ? errno : EIO));
            return CLI_EXIT_ERROR;
        }
        bool ok = cli_reassign_parse_json(o, text, err, sizeof err);
        free(text);
        if (!ok) {
            cli_err("%s: %s", o->json_file, err);
            return CLI_EXIT_ERROR;
        }
    }
    if (o->n == 0)
        return cli_usage_err("topic", "reassign needs --topic T --partition P --replicas LIST, "
                                      "--reassignment-json-file FILE or --list");
    strata_reassignment_t *v = calloc(o->n, sizeof *v);
    if (v == NULL)
        return CLI_EXIT_ERROR;
    for (size_t i = 0; i < o->n; i++) {
        const cli_tpr_t *x = &o->v[i];
        if (!x->partition_given) {
            free(v);
            return cli_usage_err("topic", "reassign: --topic %s needs --partition", x->topic);
        }
        if (!o->cancel && !x->replicas_given) {
            free(v);
            return cli_usage_err("topic", "reassign: %s-%d needs --replicas (or use --cancel)", x->topic,
                                 x->partition);
        }
        /* cancel = an empty replica list */
        v[i] = (strata_reassignment_t){x->topic, x->partition, o->cancel ? NULL : x->replicas,
                                       o->cancel ? 0 : x->n_replicas};
    }
    strata_partition_results_t *r = NULL;
    char err[512] = "";
    strata_err_t e = strata_admin_alter_reassignments(a, v, o->n, timeout_ms, &r, err, sizeof err);
    free(v);
    if (e != STRATA_OK) {
        if (err[0])
            cli_err("reassign: %s", err);
        else
            cli_err_call("reassign", e);
        return CLI_EXIT_ERROR;
    }
    int rc = cli_print_results(r, o->cancel ? "reassignment cancelled" : "reassignment started");
    strata_partition_results_free(r);
    return rc;
}
