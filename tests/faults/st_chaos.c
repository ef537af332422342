/*
 * st_chaos: the load and the checks of the fault-test suite
 * (tests/faults/run). Three modes. `produce` runs one libstrata producer
 * (acks=all, idempotence when the client offers it, else one request in
 * flight so retries cannot reorder) writing keyed, numbered, unique
 * records as fast as it can (or at -r records/s) until SIGTERM/SIGINT
 * or a duration, and logs every acknowledged record as "partition offset
 * seq ack_ms" to a file;
 * it prints the longest stretch without a successful acknowledgement.
 * `verify` drains every partition from the beginning to its high
 * watermark and checks the acknowledged file against it (each acked
 * record at its offset exactly once, per-partition order, no offset
 * holding two records across rounds). `compare` reads copies of the
 * replicas' log directories offline with sl_log and checks that all
 * replicas hold byte-identical frames below the high watermark. `consume`
 * (tests/chaos) is one member of a consumer group that reads the topic
 * and commits its positions synchronously every -c ms, logging each
 * commit the coordinator acknowledged as "commit partition offset ms"
 * and, when stopped, the offsets the coordinator then reports
 * ("final partition offset"). Owns: only this test tool.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client/strata.h"
#include "common/st_batch.h"
#include "storage/sl_log.h"

#define CH_MAX_PARTS 256

static int64_t ch_now_ms(clockid_t clk)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void ch_usage(void)
{
    fprintf(
        stderr,
        "usage: st_chaos produce -b BOOT -t TOPIC -o ACKFILE [-i ID] [-k KEYS] [-d SECS] [-T DELIVERY_MS]\n  "
        "                      [-r RECORDS_PER_SEC (0: no limit)] [-a ACKS (all; 1 only to test the tool)]\n"
        "       st_chaos verify  -b BOOT -t TOPIC -n PARTS -a ACKFILE [-s SEEN_IN] [-S SEEN_OUT]\n"
        "                        [-H HW_OUT] [-w WAIT_SECS] [-M (mid-run: acks past the HW are fine)]\n"
        "       st_chaos compare -t TOPIC -n PARTS -H HW_FILE DIR...\n"
        "       st_chaos consume -b BOOT -t TOPIC -n PARTS -g GROUP -o COMMITFILE [-c COMMIT_MS]\n");
}

/* ------------------------------------------------------------ produce */

static volatile sig_atomic_t ch_stop;

static void ch_on_signal(int sig)
{
    (void)sig;
    ch_stop = 1;
}

typedef struct ch_prod {
    FILE *acks;
    int64_t acked;
    int64_t failed;
    int64_t last_ack_ms; /* monotonic */
    int64_t longest_gap_ms;
    int64_t longest_gap_end; /* wall clock ms at the end of that gap */
    int64_t errs[256];
    int err_codes[256];
    int n_err_codes;
    atomic_int_fast64_t reported;
} ch_prod_t;

static void ch_count_err(ch_prod_t *p, strata_err_t e)
{
    for (int i = 0; i < p->n_err_codes; i++) {
        if (p->err_codes[i] == (int)e) {
            p->errs[i]++;
            return;
        }
    }
    if (p->n_err_codes < 256) {
        p->err_codes[p->n_err_codes] = (int)e;
        p->errs[p->n_err_codes++] = 1;
    }
}

static ch_prod_t *ch_the_prod;

/* Delivery callback, on the producer's I/O thread (the only writer of the
 * counters; main reads them after close). opaque is the record's seq. */
static void ch_on_delivery_seq(const strata_delivery_t *dr, void *opaque)
{
    ch_prod_t *p = ch_the_prod;
    uint64_t seq = (uint64_t)(uintptr_t)opaque;
    if (dr->err == STRATA_OK) {
        int64_t now = ch_now_ms(CLOCK_MONOTONIC);
        int64_t gap = now - p->last_ack_ms;
        if (gap > p->longest_gap_ms) {
            p->longest_gap_ms = gap;
            p->longest_gap_end = ch_now_ms(CLOCK_REALTIME);
        }
        p->last_ack_ms = now;
        p->acked++;
        fprintf(p->acks, "%" PRId32 " %" PRId64 " %" PRIu64 " %" PRId64 "\n", dr->partition, dr->offset, seq,
                ch_now_ms(CLOCK_REALTIME));
    } else {
        p->failed++;
        ch_count_err(p, dr->err);
    }
    atomic_fetch_add(&p->reported, 1);
}

static int ch_produce(int argc, char **argv)
{
    const char *boot = NULL, *topic = NULL, *out = NULL, *id = "P1";
    int keys = 1000, secs = 0;
    int64_t rate = 0; /* records per second, 0: as fast as it can */
    const char *delivery_ms = "15000", *acks = "all";
    int c, rc = 1;
    while ((c = getopt(argc, argv, "b:t:o:i:k:d:T:a:r:")) != -1) {
        switch (c) {
        case 'b':
            boot = optarg;
            break;
        case 't':
            topic = optarg;
            break;
        case 'o':
            out = optarg;
            break;
        case 'i':
            id = optarg;
            break;
        case 'k':
            keys = atoi(optarg);
            break;
        case 'd':
            secs = atoi(optarg);
            break;
        case 'T':
            delivery_ms = optarg;
            break;
        case 'a':
            acks = optarg;
            break;
        case 'r':
            rate = atoll(optarg);
            break;
        default:
            ch_usage();
            return 2;
        }
    }
    if (!boot || !topic || !out || keys <= 0 || rate < 0) {
        ch_usage();
        return 2;
    }

    static ch_prod_t prod;
    ch_the_prod = &prod;
    strata_conf_t *conf = NULL;
    strata_producer_t *pr = NULL;
    char err[256];
    bool idem = false;

    prod.acks = fopen(out, "w");
    if (!prod.acks) {
        fprintf(stderr, "st_chaos: %s: %s\n", out, strerror(errno));
        goto cleanup;
    }
    setvbuf(prod.acks, NULL, _IOLBF, 0);

    conf = strata_conf_new();
    if (!conf)
        goto cleanup;
    struct {
        const char *k, *v;
    } props[] = {
        {"bootstrap.servers", boot},
        {"acks", acks},
        {"linger.ms", "2"},
        {"delivery.timeout.ms", delivery_ms},
        {"request.timeout.ms", "5000"},
        {"retry.backoff.ms", "100"},
        {"metadata.max.age.ms", "2000"},
        {"max.block.ms", "2000"},
        {"client.id", id},
    };
    for (size_t i = 0; i < sizeof props / sizeof props[0]; i++) {
        if (strata_conf_set(conf, props[i].k, props[i].v, err, sizeof err) != STRATA_OK) {
            fprintf(stderr, "st_chaos: %s=%s: %s\n", props[i].k, props[i].v, err);
            goto cleanup;
        }
    }
    /* idempotence when the client supports it; else keep order by one
     * request in flight (duplicates from retries stay possible) */
    if (strata_conf_set(conf, "enable.idempotence", "true", err, sizeof err) == STRATA_OK)
        idem = true;
    else if (strata_conf_set(conf, "max.in.flight.requests.per.connection", "1", err, sizeof err) !=
             STRATA_OK) {
        fprintf(stderr, "st_chaos: max.in.flight: %s\n", err);
        goto cleanup;
    }
    fprintf(prod.acks, "# producer %s idempotence %d\n", id, idem ? 1 : 0);

    pr = strata_producer_new(conf, err, sizeof err);
    if (!pr) {
        fprintf(stderr, "st_chaos: producer: %s\n", err);
        goto cleanup;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = ch_on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    int64_t t0 = ch_now_ms(CLOCK_MONOTONIC);
    prod.last_ack_ms = t0;
    uint64_t seq = 0;
    int64_t queue_full = 0;
    while (!ch_stop && (secs <= 0 || ch_now_ms(CLOCK_MONOTONIC) - t0 < (int64_t)secs * 1000)) {
        /* bound the records outstanding: the point is a steady stream of
         * acknowledgements, not a huge buffer */
        if ((int64_t)seq - atomic_load(&prod.reported) > 20000) {
            usleep(1000);
            continue;
        }
        /* the suite's time goes into reading everything back: a cap on
         * the rate keeps the checks short, the faults are the point */
        if (rate > 0 && (int64_t)seq >= rate * (ch_now_ms(CLOCK_MONOTONIC) - t0) / 1000) {
            usleep(1000);
            continue;
        }
        char key[32], val[96];
        int kl = snprintf(key, sizeof key, "k%" PRIu64, seq % (uint64_t)keys);
        int vl = snprintf(val, sizeof val, "%s:%" PRIu64, id, seq);
        strata_err_t e = strata_producer_send(pr, topic, -1, key, (size_t)kl, val, (size_t)vl, NULL, 0, 0,
                                              ch_on_delivery_seq, (void *)(uintptr_t)seq);
        if (e == STRATA_OK) {
            seq++;
        } else if (e == STRATA_ERR_QUEUE_FULL) {
            queue_full++;
        } else {
            fprintf(stderr, "st_chaos: send: %s\n", strata_err_name(e));
            usleep(10000);
        }
    }
    strata_err_t ce = strata_producer_close(pr, 30000);
    pr = NULL;
    int64_t end = ch_now_ms(CLOCK_MONOTONIC);
    if (end - prod.last_ack_ms > prod.longest_gap_ms) {
        prod.longest_gap_ms = end - prod.last_ack_ms;
        prod.longest_gap_end = ch_now_ms(CLOCK_REALTIME);
    }
    printf("sent=%" PRIu64 " acked=%" PRId64 " failed=%" PRId64 " queue_full=%" PRId64
           " longest_gap_ms=%" PRId64 " gap_end_ms=%" PRId64 " idempotence=%d close=%s",
           seq, prod.acked, prod.failed, queue_full, prod.longest_gap_ms, prod.longest_gap_end, idem ? 1 : 0,
           strata_err_name(ce));
    for (int i = 0; i < prod.n_err_codes; i++)
        printf(" %s=%" PRId64, strata_err_name((strata_err_t)prod.err_codes[i]), prod.errs[i]);
    printf("\n");
    rc = 0;
cleanup:
    if (pr)
        strata_producer_close(pr, 1000);
    strata_conf_free(conf);
    if (prod.acks)
        fclose(prod.acks);
    return rc;
}

/* ------------------------------------------------------------- verify */

/* What an offset holds, compactly: the seq of one of our records, or: */
#define CH_UNREAD UINT64_MAX        /* not read */
#define CH_FOREIGN (UINT64_MAX - 1) /* a record not written by this producer */
typedef uint64_t ch_rec_t;

typedef struct ch_part {
    int64_t low, high;
    ch_rec_t *recs; /* high - low entries, CH_UNREAD when not read */
    int64_t next;   /* next offset expected from the consumer */
} ch_part_t;

static int ch_fails;

static void ch_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void ch_fail(const char *fmt, ...)
{
    va_list ap;
    if (ch_fails < 20) {
        va_start(ap, fmt);
        printf("  ");
        vprintf(fmt, ap);
        printf("\n");
        va_end(ap);
    }
    ch_fails++;
}

/* Parse "<id>:<seq>" with id == want; true on success. */
static bool ch_parse_val(const char *v, const char *want, uint64_t *seq)
{
    size_t wl = strlen(want);
    if (strncmp(v, want, wl) != 0 || v[wl] != ':')
        return false;
    char *end;
    errno = 0;
    unsigned long long s = strtoull(v + wl + 1, &end, 10);
    if (errno || *end)
        return false;
    *seq = s;
    return true;
}

static int ch_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int ch_verify(int argc, char **argv)
{
    const char *boot = NULL, *topic = NULL, *ackf = NULL, *seen_in = NULL, *seen_out = NULL, *hw_out = NULL;
    int nparts = 0, wait_s = 60, c, rc = 2;
    bool mid = false;
    while ((c = getopt(argc, argv, "b:t:n:a:s:S:H:w:M")) != -1) {
        switch (c) {
        case 'b':
            boot = optarg;
            break;
        case 't':
            topic = optarg;
            break;
        case 'n':
            nparts = atoi(optarg);
            break;
        case 'a':
            ackf = optarg;
            break;
        case 's':
            seen_in = optarg;
            break;
        case 'S':
            seen_out = optarg;
            break;
        case 'H':
            hw_out = optarg;
            break;
        case 'w':
            wait_s = atoi(optarg);
            break;
        case 'M':
            mid = true;
            break;
        default:
            ch_usage();
            return 2;
        }
    }
    if (!boot || !topic || !ackf || nparts <= 0 || nparts > CH_MAX_PARTS) {
        ch_usage();
        return 2;
    }
    ch_part_t parts[CH_MAX_PARTS];
    memset(parts, 0, sizeof parts);
    strata_conf_t *conf = NULL;
    strata_consumer_t *cons = NULL;
    strata_tp_t *tps = NULL;
    FILE *f = NULL;
    uint64_t *seqs = NULL;
    char err[256], line[512], pid[64] = "P1";
    int idem = 0;
    int64_t deadline = ch_now_ms(CLOCK_MONOTONIC) + (int64_t)wait_s * 1000;

    /* the producer's id (first line of the acked file) names our records */
    f = fopen(ackf, "r");
    if (!f) {
        fprintf(stderr, "st_chaos: %s: %s\n", ackf, strerror(errno));
        goto cleanup;
    }
    if (fgets(line, sizeof line, f))
        sscanf(line, "# producer %63s idempotence %d", pid, &idem);
    rewind(f);

    conf = strata_conf_new();
    if (!conf || strata_conf_set(conf, "bootstrap.servers", boot, err, sizeof err) != STRATA_OK ||
        strata_conf_set(conf, "auto.offset.reset", "none", err, sizeof err) != STRATA_OK ||
        strata_conf_set(conf, "request.timeout.ms", "5000", err, sizeof err) != STRATA_OK ||
        strata_conf_set(conf, "metadata.max.age.ms", "2000", err, sizeof err) != STRATA_OK) {
        fprintf(stderr, "st_chaos: consumer config: %s\n", err);
        goto cleanup;
    }
    cons = strata_consumer_new(conf, err, sizeof err);
    if (!cons) {
        fprintf(stderr, "st_chaos: consumer: %s\n", err);
        goto cleanup;
    }
    /* watermarks (retried: a leader may still be moving) */
    for (int p = 0; p < nparts; p++) {
        strata_err_t e;
        for (;;) {
            e = strata_consumer_query_watermarks(cons, topic, p, &parts[p].low, &parts[p].high, 5000);
            if (e == STRATA_OK || ch_now_ms(CLOCK_MONOTONIC) > deadline)
                break;
            usleep(200000);
        }
        if (e != STRATA_OK) {
            printf("FAIL: watermarks of partition %d: %s\n", p, strata_err_name(e));
            rc = 1;
            goto cleanup;
        }
        if (parts[p].high < parts[p].low) {
            printf("FAIL: partition %d: high %" PRId64 " < low %" PRId64 "\n", p, parts[p].high,
                   parts[p].low);
            rc = 1;
            goto cleanup;
        }
        size_t nr = (size_t)(parts[p].high - parts[p].low) + 1;
        parts[p].recs = malloc(nr * sizeof(ch_rec_t));
        if (!parts[p].recs)
            goto cleanup;
        for (size_t i = 0; i < nr; i++)
            parts[p].recs[i] = CH_UNREAD;
        parts[p].next = parts[p].low;
    }
    tps = calloc((size_t)nparts, sizeof *tps);
    if (!tps)
        goto cleanup;
    for (int p = 0; p < nparts; p++) {
        tps[p].topic = topic;
        tps[p].partition = p;
        tps[p].offset = parts[p].low;
    }
    if (strata_consumer_assign(cons, tps, (size_t)nparts) != STRATA_OK) {
        fprintf(stderr, "st_chaos: assign failed\n");
        goto cleanup;
    }
    int remaining = 0;
    for (int p = 0; p < nparts; p++)
        remaining += parts[p].next < parts[p].high;
    while (remaining > 0) {
        if (ch_now_ms(CLOCK_MONOTONIC) > deadline) {
            for (int p = 0; p < nparts; p++)
                if (parts[p].next < parts[p].high)
                    ch_fail("partition %d: read up to %" PRId64 " of high watermark %" PRId64 " within %d s",
                            p, parts[p].next, parts[p].high, wait_s);
            break;
        }
        const strata_message_t *m;
        if (strata_consumer_poll(cons, 500, &m) != STRATA_OK)
            continue;
        if (m->err != STRATA_OK) {
            fprintf(stderr, "st_chaos: partition %d: %s\n", m->partition, strata_err_name(m->err));
            if (m->err == STRATA_ERR_OFFSET_OUT_OF_RANGE && m->partition >= 0 && m->partition < nparts) {
                ch_fail("partition %d: OFFSET_OUT_OF_RANGE at %" PRId64 " (high %" PRId64 ")", m->partition,
                        parts[m->partition].next, parts[m->partition].high);
                if (parts[m->partition].next < parts[m->partition].high)
                    remaining--;
                parts[m->partition].next = parts[m->partition].high;
            }
            continue;
        }
        if (m->partition < 0 || m->partition >= nparts)
            continue;
        ch_part_t *pt = &parts[m->partition];
        if (m->offset < pt->low || m->offset >= pt->high)
            continue; /* past the high watermark taken at the start */
        ch_rec_t *r = &pt->recs[m->offset - pt->low];
        char vb[128];
        size_t vl = m->value_len < sizeof vb - 1 ? m->value_len : sizeof vb - 1;
        memcpy(vb, m->value ? (const char *)m->value : "", m->value ? vl : 0);
        vb[m->value ? vl : 0] = 0;
        uint64_t sq;
        if (!ch_parse_val(vb, pid, &sq) || sq >= CH_FOREIGN)
            sq = CH_FOREIGN;
        if (*r != CH_UNREAD && *r != sq)
            ch_fail("partition %d offset %" PRId64 ": read twice with different records", m->partition,
                    m->offset);
        *r = sq;
        if (m->offset >= pt->next) {
            bool was = pt->next < pt->high;
            pt->next = m->offset + 1;
            if (was && pt->next >= pt->high)
                remaining--;
        }
    }
    strata_consumer_close(cons);
    cons = NULL;

    /* the acknowledged records */
    int64_t n_acked = 0, last_off[CH_MAX_PARTS];
    uint64_t last_seq[CH_MAX_PARTS];
    bool have_last[CH_MAX_PARTS] = {false};
    size_t seqs_cap = 0, n_seqs = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#') {
            sscanf(line, "# producer %63s idempotence %d", pid, &idem);
            continue;
        }
        int p;
        int64_t off, ms;
        uint64_t seq;
        if (sscanf(line, "%d %" SCNd64 " %" SCNu64 " %" SCNd64, &p, &off, &seq, &ms) != 4)
            continue; /* a torn last line of a killed producer */
        if (p < 0 || p >= nparts) {
            ch_fail("acked partition %d out of range", p);
            continue;
        }
        n_acked++;
        if (n_seqs == seqs_cap) {
            size_t nc = seqs_cap ? seqs_cap * 2 : 4096;
            uint64_t *ns = realloc(seqs, nc * sizeof *ns);
            if (!ns)
                goto cleanup;
            seqs = ns;
            seqs_cap = nc;
        }
        seqs[n_seqs++] = seq;
        ch_part_t *pt = &parts[p];
        /* acked records arrive in offset order per partition: their seqs
         * must increase with the offsets */
        if (have_last[p] && (off <= last_off[p] || seq <= last_seq[p]))
            ch_fail("partition %d: ack of seq %" PRIu64 " at offset %" PRId64 " after seq %" PRIu64
                    " at offset %" PRId64 " (order)",
                    p, seq, off, last_seq[p], last_off[p]);
        have_last[p] = true;
        last_off[p] = off;
        last_seq[p] = seq;
        if (mid && off >= pt->high)
            continue; /* acknowledged after the watermarks were taken */
        if (off < pt->low || off >= pt->high) {
            ch_fail("partition %d: acked seq %" PRIu64 " at offset %" PRId64 " lies outside [%" PRId64
                    ", %" PRId64 ") (lost acknowledged record)",
                    p, seq, off, pt->low, pt->high);
            continue;
        }
        uint64_t got = pt->recs[off - pt->low];
        if (got == CH_UNREAD)
            ch_fail("partition %d: acked seq %" PRIu64 " at offset %" PRId64 ": offset not read", p, seq,
                    off);
        else if (got == CH_FOREIGN)
            ch_fail("partition %d: acked seq %" PRIu64 " at offset %" PRId64
                    " holds another producer's record",
                    p, seq, off);
        else if (got != seq)
            ch_fail("partition %d: acked seq %" PRIu64 " at offset %" PRId64 " holds seq %" PRIu64, p, seq,
                    off, got);
    }
    qsort(seqs, n_seqs, sizeof *seqs, ch_cmp_u64);
    for (size_t i = 1; i < n_seqs; i++)
        if (seqs[i] == seqs[i - 1])
            ch_fail("seq %" PRIu64 " acknowledged twice", seqs[i]);

    /* every record in the log: duplicates of acked records, order of
     * first occurrences per partition */
    int64_t n_read = 0, n_dups = 0, n_dup_acked = 0;
    size_t all_cap = 0, n_all = 0;
    uint64_t *all = NULL;
    for (int p = 0; p < nparts; p++) {
        ch_part_t *pt = &parts[p];
        uint64_t maxseq = 0;
        bool any = false;
        for (int64_t o = pt->low; o < pt->high; o++) {
            uint64_t s = pt->recs[o - pt->low];
            if (s >= CH_FOREIGN)
                continue;
            n_read++;
            if (any && s <= maxseq) {
                /* a retry written twice shows as a repeat of an earlier seq;
                 * anything else is reordering */
                bool seen_before = false;
                for (int64_t q = o - 1; q >= pt->low && q >= o - 100000; q--) {
                    if (pt->recs[q - pt->low] == s) {
                        seen_before = true;
                        break;
                    }
                }
                if (!seen_before)
                    ch_fail("partition %d offset %" PRId64 ": seq %" PRIu64 " after seq %" PRIu64 " (order)",
                            p, o, s, maxseq);
            }
            if (!any || s > maxseq)
                maxseq = s;
            any = true;
            if (n_all == all_cap) {
                size_t nc = all_cap ? all_cap * 2 : 4096;
                uint64_t *na = realloc(all, nc * sizeof *na);
                if (!na) {
                    free(all);
                    goto cleanup;
                }
                all = na;
                all_cap = nc;
            }
            all[n_all++] = s;
        }
    }
    qsort(all, n_all, sizeof *all, ch_cmp_u64);
    for (size_t i = 1; i < n_all; i++) {
        if (all[i] != all[i - 1])
            continue;
        n_dups++;
        if (bsearch(&all[i], seqs, n_seqs, sizeof *seqs, ch_cmp_u64)) {
            n_dup_acked++;
            if (idem)
                ch_fail("acked seq %" PRIu64 " stored more than once", all[i]);
        }
    }
    free(all);

    /* what an earlier round read below the high watermark must still be there */
    int64_t n_prev = 0;
    if (seen_in) {
        FILE *s = fopen(seen_in, "r");
        if (s) {
            while (fgets(line, sizeof line, s)) {
                int p;
                int64_t off;
                uint64_t was;
                if (sscanf(line, "%d %" SCNd64 " %" SCNu64, &p, &off, &was) != 3 || p < 0 || p >= nparts)
                    continue;
                n_prev++;
                ch_part_t *pt = &parts[p];
                if (off < pt->low || off >= pt->high)
                    ch_fail("partition %d offset %" PRId64 " read earlier (seq %" PRIu64 ") is gone", p, off,
                            was);
                else if (pt->recs[off - pt->low] != was)
                    ch_fail("partition %d offset %" PRId64 ": seq %" PRIu64 " earlier, %" PRIu64
                            " now (%" PRIu64 " = unread, %" PRIu64 " = foreign)",
                            p, off, was, pt->recs[off - pt->low], CH_UNREAD, CH_FOREIGN);
            }
            fclose(s);
        }
    }
    if (seen_out) {
        FILE *s = fopen(seen_out, "w");
        if (!s) {
            fprintf(stderr, "st_chaos: %s: %s\n", seen_out, strerror(errno));
            goto cleanup;
        }
        for (int p = 0; p < nparts; p++)
            for (int64_t o = parts[p].low; o < parts[p].high; o++)
                if (parts[p].recs[o - parts[p].low] != CH_UNREAD)
                    fprintf(s, "%d %" PRId64 " %" PRIu64 "\n", p, o, parts[p].recs[o - parts[p].low]);
        fclose(s);
    }
    if (hw_out) {
        FILE *s = fopen(hw_out, "w");
        if (!s) {
            fprintf(stderr, "st_chaos: %s: %s\n", hw_out, strerror(errno));
            goto cleanup;
        }
        for (int p = 0; p < nparts; p++)
            fprintf(s, "%d %" PRId64 "\n", p, parts[p].high);
        fclose(s);
    }
    printf("acked=%" PRId64 " read=%" PRId64 " duplicates=%" PRId64 " (of acked %" PRId64 ") earlier=%" PRId64
           " idempotence=%d failures=%d\n",
           n_acked, n_read, n_dups, n_dup_acked, n_prev, idem, ch_fails);
    rc = ch_fails ? 1 : 0;
cleanup:
    if (f)
        fclose(f);
    free(seqs);
    free(tps);
    if (cons)
        strata_consumer_close(cons);
    strata_conf_free(conf);
    for (int p = 0; p < nparts && p < CH_MAX_PARTS; p++) {
        free(parts[p].recs);
    }
    return rc;
}

/* ------------------------------------------------------------ compare */

/* Frames of the log in dir from its start up to hw (exclusive) into out;
 * *end gets the log end offset. */
static st_err_t ch_read_replica(const char *dir, int64_t hw, st_buf_t *out, int64_t *start, int64_t *end)
{
    sl_log_config_t cfg;
    sl_log_t *log = NULL;
    sl_log_config_default(&cfg);
    st_err_t e = sl_log_open(dir, &cfg, -1, false, &log, NULL);
    if (e != ST_OK)
        return e;
    *start = sl_log_start_offset(log);
    *end = sl_log_end_offset(log);
    int64_t off = *start;
    int64_t lim = hw < *end ? hw : *end;
    while (off < lim) {
        size_t before = out->len;
        e = sl_log_read(log, off, 1 << 20, lim, out);
        if (e != ST_OK || out->len == before)
            break;
        /* advance past the last whole frame read */
        size_t pos = before;
        int64_t next = off;
        while (pos < out->len) {
            st_batch_hdr_t h;
            if (st_batch_hdr_decode(out->data + pos, out->len - pos, &h) != ST_OK) {
                e = ST_ERR_CORRUPT;
                goto done;
            }
            next = h.base_offset + h.last_offset_delta + 1;
            pos += st_batch_frame_size(&h);
        }
        if (next <= off)
            break;
        off = next;
    }
done:
    sl_log_close(log);
    return e;
}

static int ch_compare(int argc, char **argv)
{
    const char *topic = NULL, *hwf = NULL;
    int nparts = 0, c;
    while ((c = getopt(argc, argv, "t:n:H:")) != -1) {
        switch (c) {
        case 't':
            topic = optarg;
            break;
        case 'n':
            nparts = atoi(optarg);
            break;
        case 'H':
            hwf = optarg;
            break;
        default:
            ch_usage();
            return 2;
        }
    }
    int ndirs = argc - optind;
    if (!topic || !hwf || nparts <= 0 || nparts > CH_MAX_PARTS || ndirs < 2) {
        ch_usage();
        return 2;
    }
    int64_t hw[CH_MAX_PARTS];
    for (int p = 0; p < nparts; p++)
        hw[p] = -1;
    FILE *f = fopen(hwf, "r");
    if (!f) {
        fprintf(stderr, "st_chaos: %s: %s\n", hwf, strerror(errno));
        return 2;
    }
    int p;
    int64_t h;
    while (fscanf(f, "%d %" SCNd64, &p, &h) == 2)
        if (p >= 0 && p < nparts)
            hw[p] = h;
    fclose(f);

    int64_t bytes = 0;
    for (p = 0; p < nparts; p++) {
        if (hw[p] < 0) {
            ch_fail("partition %d: no high watermark in %s", p, hwf);
            continue;
        }
        st_buf_t ref;
        st_buf_init(&ref);
        int ref_i = -1;
        for (int d = 0; d < ndirs; d++) {
            char path[PATH_MAX];
            snprintf(path, sizeof path, "%s/%s-%d", argv[optind + d], topic, p);
            if (access(path, F_OK) != 0)
                continue; /* not a replica of this partition */
            st_buf_t b;
            st_buf_init(&b);
            int64_t start = 0, end = 0;
            st_err_t e = ch_read_replica(path, hw[p], &b, &start, &end);
            if (e != ST_OK) {
                ch_fail("%s: cannot read: %s", path, st_err_name(e));
            } else if (end < hw[p]) {
                ch_fail("%s: log ends at %" PRId64 " below the high watermark %" PRId64, path, end, hw[p]);
            } else if (ref_i < 0) {
                st_buf_free(&ref);
                ref = b;
                st_buf_init(&b);
                ref_i = d;
                bytes += (int64_t)ref.len;
            } else if (b.len != ref.len || memcmp(b.data, ref.data, b.len) != 0) {
                size_t i = 0;
                while (i < b.len && i < ref.len && b.data[i] == ref.data[i])
                    i++;
                ch_fail("partition %d: %s and %s differ below the high watermark %" PRId64
                        " (at byte %zu; %zu vs %zu bytes)",
                        p, argv[optind + ref_i], argv[optind + d], hw[p], i, ref.len, b.len);
            }
            st_buf_free(&b);
        }
        if (ref_i < 0 && hw[p] > 0)
            ch_fail("partition %d: no readable replica", p);
        st_buf_free(&ref);
    }
    printf("compared %d partitions, %" PRId64 " bytes per replica, failures=%d\n", nparts, bytes, ch_fails);
    return ch_fails ? 1 : 0;
}

/* ------------------------------------------------------------ consume */

static int ch_consume(int argc, char **argv)
{
    const char *boot = NULL, *topic = NULL, *out = NULL, *group = NULL;
    int nparts = 0, commit_ms = 500, c, rc = 1;
    while ((c = getopt(argc, argv, "b:t:o:g:n:c:")) != -1) {
        switch (c) {
        case 'b':
            boot = optarg;
            break;
        case 't':
            topic = optarg;
            break;
        case 'o':
            out = optarg;
            break;
        case 'g':
            group = optarg;
            break;
        case 'n':
            nparts = atoi(optarg);
            break;
        case 'c':
            commit_ms = atoi(optarg);
            break;
        default:
            ch_usage();
            return 2;
        }
    }
    if (!boot || !topic || !out || !group || nparts <= 0 || nparts > CH_MAX_PARTS || commit_ms <= 0) {
        ch_usage();
        return 2;
    }
    FILE *f = fopen(out, "w");
    if (!f) {
        fprintf(stderr, "st_chaos: %s: %s\n", out, strerror(errno));
        return 1;
    }
    setvbuf(f, NULL, _IOLBF, 0);
    fprintf(f, "# consumer group %s\n", group);
    char err[256];
    strata_conf_t *conf = strata_conf_new();
    strata_consumer_t *co = NULL;
    struct {
        const char *k, *v;
    } props[] = {
        {"bootstrap.servers", boot},     {"group.id", group},
        {"enable.auto.commit", "false"}, {"auto.offset.reset", "earliest"},
        {"session.timeout.ms", "10000"}, {"heartbeat.interval.ms", "1000"},
        {"request.timeout.ms", "5000"},  {"metadata.max.age.ms", "2000"},
        {"client.id", "chaos-consumer"},
    };
    for (size_t i = 0; conf && i < sizeof props / sizeof props[0]; i++) {
        if (strata_conf_set(conf, props[i].k, props[i].v, err, sizeof err) != STRATA_OK) {
            fprintf(stderr, "st_chaos: %s=%s: %s\n", props[i].k, props[i].v, err);
            goto done;
        }
    }
    if (!conf || !(co = strata_consumer_new(conf, err, sizeof err))) {
        fprintf(stderr, "st_chaos: consumer: %s\n", conf ? err : "out of memory");
        goto done;
    }
    const char *topics[] = {topic};
    if (strata_consumer_subscribe(co, topics, 1) != STRATA_OK) {
        fprintf(stderr, "st_chaos: subscribe failed\n");
        goto done;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = ch_on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    /* next offset to commit per partition (last record read + 1), -1 none */
    static int64_t next[CH_MAX_PARTS], committed[CH_MAX_PARTS];
    for (int p = 0; p < nparts; p++)
        next[p] = committed[p] = -1;
    int64_t consumed = 0, commits = 0, commit_errs = 0, last_commit = ch_now_ms(CLOCK_MONOTONIC);
    while (!ch_stop) {
        const strata_message_t *m = NULL;
        strata_err_t e = strata_consumer_poll(co, 200, &m);
        if (e == STRATA_OK && m && m->err == STRATA_OK && m->partition >= 0 && m->partition < nparts) {
            next[m->partition] = m->offset + 1;
            consumed++;
        }
        int64_t now = ch_now_ms(CLOCK_MONOTONIC);
        if (now - last_commit < commit_ms)
            continue;
        last_commit = now;
        strata_commit_t cs[CH_MAX_PARTS];
        size_t n = 0;
        for (int p = 0; p < nparts; p++)
            if (next[p] >= 0 && next[p] != committed[p])
                cs[n++] = (strata_commit_t){topic, p, next[p], NULL};
        if (n == 0)
            continue;
        e = strata_consumer_commit(co, cs, n, false, NULL, NULL);
        if (e != STRATA_OK) {
            commit_errs++;
            continue;
        }
        for (size_t i = 0; i < n; i++) {
            committed[cs[i].partition] = cs[i].offset;
            fprintf(f, "commit %" PRId32 " %" PRId64 " %" PRId64 "\n", cs[i].partition, cs[i].offset,
                    ch_now_ms(CLOCK_REALTIME));
        }
        commits++;
    }
    /* what the coordinator says now (a lost commit shows as a lower value) */
    for (int p = 0; p < nparts; p++) {
        int64_t off = -1;
        char *md = NULL;
        if (strata_consumer_committed(co, topic, p, &off, &md, 10000) == STRATA_OK)
            fprintf(f, "final %d %" PRId64 "\n", p, off);
        free(md);
    }
    printf("consumed=%" PRId64 " commits=%" PRId64 " commit_errors=%" PRId64 "\n", consumed, commits,
           commit_errs);
    rc = 0;
done:
    if (co)
        strata_consumer_close(co);
    strata_conf_free(conf);
    fclose(f);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        ch_usage();
        return 2;
    }
    const char *mode = argv[1];
    argv[1] = argv[0];
    argc--;
    argv++;
    if (strcmp(mode, "produce") == 0)
        return ch_produce(argc, argv);
    if (strcmp(mode, "verify") == 0)
        return ch_verify(argc, argv);
    if (strcmp(mode, "compare") == 0)
        return ch_compare(argc, argv);
    if (strcmp(mode, "consume") == 0)
        return ch_consume(argc, argv);
    ch_usage();
    return 2;
}
