/*
 * nng-rtt: the latency floor of bench/latency-bench. An nng REP socket
 * on a thread and a REQ socket in main, both in this process, over TCP on
 * loopback; N round trips of a body of B bytes (after W warm-up ones),
 * each timed with the monotonic clock. Prints one JSON line with p50, p90,
 * p99, p99.9 and max in microseconds.
 *
 *   nng-rtt [-n N] [-b BYTES] [-w WARMUP] [-u URL]
 */
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int64_t rtt_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void *rtt_server(void *arg)
{
    nng_socket *rep = arg;
    for (;;) {
        nng_msg *m;
        if (nng_recvmsg(*rep, &m, 0) != 0)
            return NULL;
        if (nng_sendmsg(*rep, m, 0) != 0)
            nng_msg_free(m);
    }
}

static int rtt_cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static double rtt_pct(const int64_t *v, size_t n, double p)
{
    size_t i = (size_t)(p / 100.0 * (double)n);
    return (double)v[i < n ? i : n - 1] / 1000.0;
}

int main(int argc, char **argv)
{
    long n = 20000, bytes = 100, warm = 2000;
    const char *url = "tcp://127.0.0.1:0";
    int c;
    while ((c = getopt(argc, argv, "n:b:w:u:")) != -1) {
        switch (c) {
        case 'n':
            n = atol(optarg);
            break;
        case 'b':
            bytes = atol(optarg);
            break;
        case 'w':
            warm = atol(optarg);
            break;
        case 'u':
            url = optarg;
            break;
        default:
            fprintf(stderr, "usage: nng-rtt [-n N] [-b BYTES] [-w WARMUP] [-u URL]\n");
            return 2;
        }
    }
    if (n < 1 || bytes < 0 || warm < 0) {
        fprintf(stderr, "nng-rtt: bad arguments\n");
        return 2;
    }
    nng_socket rep, req;
    nng_listener l;
    char bound[128];
    int rv;
    if ((rv = nng_rep0_open(&rep)) != 0 || (rv = nng_listen(rep, url, &l, 0)) != 0) {
        fprintf(stderr, "nng-rtt: listen %s: %s\n", url, nng_strerror(rv));
        return 1;
    }
    int port = 0;
    if ((rv = nng_listener_get_int(l, NNG_OPT_TCP_BOUND_PORT, &port)) != 0) {
        fprintf(stderr, "nng-rtt: bound port: %s\n", nng_strerror(rv));
        return 1;
    }
    snprintf(bound, sizeof bound, "tcp://127.0.0.1:%d", port);
    pthread_t th;
    pthread_create(&th, NULL, rtt_server, &rep);
    if ((rv = nng_req0_open(&req)) != 0 || (rv = nng_dial(req, bound, NULL, 0)) != 0) {
        fprintf(stderr, "nng-rtt: dial %s: %s\n", bound, nng_strerror(rv));
        return 1;
    }
    char *body = calloc(1, (size_t)bytes + 1);
    int64_t *lat = malloc((size_t)n * sizeof *lat);
    if (!body || !lat)
        return 1;
    for (long i = 0; i < warm + n; i++) {
        int64_t t0 = rtt_now_ns();
        void *buf;
        size_t len;
        if ((rv = nng_send(req, body, (size_t)bytes, 0)) != 0 ||
            (rv = nng_recv(req, &buf, &len, NNG_FLAG_ALLOC)) != 0) {
            fprintf(stderr, "nng-rtt: round trip %ld: %s\n", i, nng_strerror(rv));
            return 1;
        }
        nng_free(buf, len);
        if (i >= warm)
            lat[i - warm] = rtt_now_ns() - t0;
    }
    qsort(lat, (size_t)n, sizeof *lat, rtt_cmp);
    printf("{\"round_trips\":%ld,\"bytes\":%ld,\"p50_us\":%.1f,\"p90_us\":%.1f,\"p99_us\":%.1f,"
           "\"p999_us\":%.1f,\"max_us\":%.1f}\n",
           n, bytes, rtt_pct(lat, (size_t)n, 50), rtt_pct(lat, (size_t)n, 90), rtt_pct(lat, (size_t)n, 99),
           rtt_pct(lat, (size_t)n, 99.9), (double)lat[n - 1] / 1000.0);
    nng_close(req);
    nng_close(rep);
    pthread_join(th, NULL);
    free(body);
    free(lat);
    return 0;
}
