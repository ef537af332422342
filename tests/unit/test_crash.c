/*
 * Crash test of sl_log: a child process appends batches in a loop and
 * reports each acknowledged append (sequence number, base offset, record
 * count) over a pipe; the parent SIGKILLs it at a random moment, reopens
 * the log as after a crash and checks that every acknowledged batch is
 * present and intact, offsets are contiguous, and the rebuilt indexes
 * agree with the data (a clean reopen afterwards finds nothing to fix).
 * Many rounds on the same log, bounded in time.
 */
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tsl.h"

#define TC_ROUNDS 30
#define TC_BUDGET_MS 15000
#define TC_MAX_ACKS 400000

typedef struct tc_ack {
    int64_t seq;
    int64_t base;
    int64_t n;
} tc_ack_t;

static int64_t tc_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void tc_cfg(sl_log_config_t *c, int round)
{
    tsl_cfg(c);
    c->segment_bytes = 64 * 1024;
    c->index_interval_bytes = 1024;
    c->flush_messages = round % 3 == 0 ? 20 : -1;
}

static void tc_child(const char *dir, int round, int wfd, unsigned seed)
{
    sl_log_config_t c;
    tc_cfg(&c, round);
    sl_log_t *log;
    if (sl_log_open(dir, &c, -1, false, &log, NULL) != ST_OK)
        _exit(3);
    srand(seed);
    st_buf_t f;
    st_buf_init(&f);
    for (int64_t k = 0;; k++) {
        int64_t seq = (int64_t)round * 1000000 + k;
        int n = 1 + rand() % 5;
        f.len = 0;
        tsl_frame(&f, n, seq, (int)seq, (size_t)(rand() % 1500));
        int64_t base;
        if (sl_log_append(log, f.data, f.len, 0, 0, &base) != ST_OK)
            _exit(4);
        tc_ack_t a = {seq, base, n};
        if (write(wfd, &a, sizeof a) != (ssize_t)sizeof a)
            _exit(5);
    }
}

static void test_crash_rounds(void)
{
    char *dir = tu_tmpdir("strata-crash");
    CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
    unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
    fprintf(stderr, "crash test seed %u\n", seed);
    srand(seed);
    tc_ack_t *acks = malloc(TC_MAX_ACKS * sizeof *acks);
    size_t nacks = 0;
    int64_t t0 = tc_now_ms();
    int rounds = 0;
    st_buf_t out;
    st_buf_init(&out);
    /* valgrind (scripts/test --valgrind) makes every round much slower */
    int max_rounds = getenv("ST_TEST_UNDER_VALGRIND") ? TC_ROUNDS / 3 : TC_ROUNDS;
    for (int round = 0; round < max_rounds && tc_now_ms() - t0 < TC_BUDGET_MS; round++) {
        int fds[2];
        CU_ASSERT_EQUAL_FATAL(pipe(fds), 0);
        unsigned cseed = (unsigned)rand();
        pid_t pid = fork();
        CU_ASSERT_TRUE_FATAL(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            tc_child(dir, round, fds[1], cseed);
        }
        close(fds[1]);
        /* let it get going (slow under valgrind), then kill at random */
        tc_ack_t a;
        if (read(fds[0], &a, sizeof a) == (ssize_t)sizeof a && nacks < TC_MAX_ACKS)
            acks[nacks++] = a;
        usleep((useconds_t)(rand() % 25000));
        kill(pid, SIGKILL);
        int status;
        waitpid(pid, &status, 0);
        CU_ASSERT_TRUE(WIFSIGNALED(status)); /* it was still appending */
        while (read(fds[0], &a, sizeof a) == (ssize_t)sizeof a && nacks < TC_MAX_ACKS)
            acks[nacks++] = a;
        close(fds[0]);

        /* reopen as after a crash */
        sl_log_config_t c;
        tc_cfg(&c, round);
        sl_log_t *log;
        sl_recovery_info_t info;
        CU_ASSERT_EQUAL_FATAL(sl_log_open(dir, &c, -1, false, &log, &info), ST_OK);
        int64_t end = sl_log_end_offset(log);
        int bad = 0;
        for (size_t i = 0; i < nacks; i++) {
            out.len = 0;
            st_batch_hdr_t h;
            if (acks[i].base + acks[i].n > end || sl_log_read(log, acks[i].base, 1, -1, &out) != ST_OK ||
                st_batch_hdr_decode(out.data, out.len, &h) != ST_OK || h.base_offset != acks[i].base ||
                h.record_count != acks[i].n || tsl_frame_tag(out.data, out.len) != (int)acks[i].seq) {
                if (bad++ < 5)
                    fprintf(stderr,
                            "round %d: acknowledged batch seq %" PRId64 " at %" PRId64
                            " lost or damaged (end %" PRId64 ")\n",
                            round, acks[i].seq, acks[i].base, end);
            }
        }
        CU_ASSERT_EQUAL(bad, 0);
        /* contiguous offsets, every frame valid */
        int frames = tsl_walk(log);
        CU_ASSERT_TRUE(frames >= 0);
        sl_log_close(log);
        /* indexes agree with the data: a clean reopen has nothing to fix */
        CU_ASSERT_EQUAL_FATAL(sl_log_open(dir, &c, end, true, &log, &info), ST_OK);
        CU_ASSERT_FALSE(info.ran);
        CU_ASSERT_EQUAL(info.indexes_rebuilt, 0);
        CU_ASSERT_EQUAL(sl_log_end_offset(log), end);
        CU_ASSERT_EQUAL(tsl_walk(log), frames);
        sl_log_close(log);
        rounds++;
    }
    fprintf(stderr, "crash test: %d rounds, %zu acknowledged batches\n", rounds, nacks);
    CU_ASSERT_TRUE(rounds >= 3);
    CU_ASSERT_TRUE(nacks > 0);
    st_buf_free(&out);
    free(acks);
    tu_rmrf(dir);
    free(dir);
}

static CU_TestInfo crash_tests[] = {
    {"SIGKILL while appending, many rounds", test_crash_rounds},
    CU_TEST_INFO_NULL,
};
static CU_SuiteInfo suites[] = {
    {"sl_log crash", NULL, NULL, NULL, NULL, crash_tests},
    CU_SUITE_INFO_NULL,
};

int main(void)
{
    return tu_main(suites);
}
