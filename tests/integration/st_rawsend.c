/*
 * st_rawsend: integration-test tool. Sends the bytes of a file (or stdin)
 * as ONE nng req0 message to a broker URL and waits for the reply; writes
 * the reply's raw bytes to -o FILE when asked and prints one summary line:
 * the reply size and, when it parses as strata.Response with protobuf-c,
 * its correlation id, envelope error and body case. Exit status: 0 a reply
 * arrived, 3 no reply within the timeout, 1 other errors, 2 usage.
 *
 *   st_rawsend [-t TIMEOUT_MS] [-o REPLY_FILE] URL FILE|-
 */
#include <errno.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/st_err.h"
#include "strata.pb-c.h"

static int read_all(FILE *f, unsigned char **out, size_t *n)
{
    size_t cap = 1 << 16, len = 0;
    unsigned char *buf = malloc(cap);
    if (buf == NULL)
        return -1;
    for (;;) {
        if (len == cap) {
            unsigned char *nb = realloc(buf, cap * 2);
            if (nb == NULL) {
                free(buf);
                return -1;
            }
            buf = nb;
            cap *= 2;
        }
        size_t r = fread(buf + len, 1, cap - len, f);
        len += r;
        if (r == 0)
            break;
    }
    *out = buf;
    *n = len;
    return ferror(f) ? -1 : 0;
}

int main(int argc, char **argv)
{
    int timeout_ms = 5000, c, ret = 1;
    const char *out_path = NULL;
    unsigned char *req = NULL;
    size_t req_len = 0;
    nng_socket sock = NNG_SOCKET_INITIALIZER;
    nng_msg *msg = NULL;

    while ((c = getopt(argc, argv, "t:o:")) != -1) {
        switch (c) {
        case 't':
            timeout_ms = atoi(optarg);
            break;
        case 'o':
            out_path = optarg;
            break;
        default:
            goto usage;
        }
    }
    if (argc - optind != 2)
        goto usage;
    const char *url = argv[optind], *file = argv[optind + 1];
    FILE *f = strcmp(file, "-") == 0 ? stdin : fopen(file, "rb");
    if (f == NULL) {
        fprintf(stderr, "st_rawsend: %s: %s\n", file, strerror(errno));
        return 1;
    }
    int rr = read_all(f, &req, &req_len);
    if (f != stdin)
        fclose(f);
    if (rr != 0) {
        fprintf(stderr, "st_rawsend: cannot read %s\n", file);
        goto out;
    }
    int rv;
    if ((rv = nng_req0_open(&sock)) != 0 ||
        (rv = nng_socket_set_ms(sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE)) != 0 ||
        (rv = nng_socket_set_ms(sock, NNG_OPT_RECVTIMEO, timeout_ms)) != 0 ||
        (rv = nng_socket_set_ms(sock, NNG_OPT_SENDTIMEO, timeout_ms)) != 0 ||
        (rv = nng_socket_set_size(sock, NNG_OPT_RECVMAXSZ, 256u << 20)) != 0 ||
        (rv = nng_dial(sock, url, NULL, 0)) != 0) {
        fprintf(stderr, "st_rawsend: %s: %s\n", url, nng_strerror(rv));
        goto out;
    }
    if ((rv = nng_send(sock, req, req_len, 0)) != 0) {
        fprintf(stderr, "st_rawsend: send: %s\n", nng_strerror(rv));
        goto out;
    }
    if ((rv = nng_recvmsg(sock, &msg, 0)) != 0) {
        printf("no reply: %s\n", nng_strerror(rv));
        ret = rv == NNG_ETIMEDOUT ? 3 : 1;
        goto out;
    }
    size_t len = nng_msg_len(msg);
    const uint8_t *body = nng_msg_body(msg);
    if (out_path != NULL) {
        FILE *o = fopen(out_path, "wb");
        if (o == NULL || fwrite(body, 1, len, o) != len || fclose(o) != 0) {
            fprintf(stderr, "st_rawsend: cannot write %s\n", out_path);
            goto out;
        }
    }
    Strata__Response *resp = strata__response__unpack(NULL, len, body);
    if (resp == NULL) {
        printf("reply %zu bytes: not a strata.Response\n", len);
    } else {
        printf("reply %zu bytes: correlation_id=%llu error=%s(%d) body=%d%s%s\n", len,
               (unsigned long long)resp->correlation_id, st_err_name((st_err_t)resp->error), (int)resp->error,
               (int)resp->body_case, resp->error_message && resp->error_message[0] ? " message=" : "",
               resp->error_message ? resp->error_message : "");
        strata__response__free_unpacked(resp, NULL);
    }
    ret = 0;
    goto out;
usage:
    fprintf(stderr, "usage: st_rawsend [-t TIMEOUT_MS] [-o REPLY_FILE] URL FILE|-\n");
    ret = 2;
out:
    nng_msg_free(msg);
    nng_close(sock);
    free(req);
    return ret;
}
