/*
 * fuzz_request: feeds arbitrary bytes to the broker's request decoding
 * path, exactly as br_server would see an nng message body: the raw
 * envelope (produce batches kept as bytes), the full strata.Request
 * decode, br_server_decode itself (with no call: nothing is answered),
 * and st_batch_from_wire on every produce batch. Built as a libFuzzer
 * target with --enable-fuzz (ST_LIBFUZZER defined); the unit test
 * tests/unit/test_fuzz_request.c runs the same entry point over
 * generated and mutated inputs so `make check` exercises it too.
 */
#include <stddef.h>
#include <stdint.h>

#include "broker/br_server.h"
#include "common/st_batch.h"
#include "raw.pb-c.h"
#include "strata.pb-c.h"

int fuzz_request_one(const uint8_t *data, size_t size);

int fuzz_request_one(const uint8_t *data, size_t size)
{
    int decoded = 0;
    Strata__Raw__RawRequest *raw = strata__raw__raw_request__unpack(NULL, size, data);
    if (raw) {
        decoded |= 1;
        const Strata__Raw__RawProduceRequest *pr = raw->produce;
        if (raw->body_case == STRATA__RAW__RAW_REQUEST__BODY_PRODUCE && pr) {
            for (size_t t = 0; t < pr->n_topics; t++) {
                const Strata__Raw__RawProduceTopic *tp = pr->topics[t];
                for (size_t p = 0; tp && p < tp->n_partitions; p++) {
                    const Strata__Raw__RawProducePartition *pp = tp->partitions[p];
                    for (size_t b = 0; pp && b < pp->n_batches; b++) {
                        st_buf_t out;
                        const char *why = NULL;
                        st_buf_init(&out);
                        if (st_batch_from_wire(pp->batches[b].data, pp->batches[b].len, &out, &why) ==
                            ST_OK) {
                            decoded |= 4;
                            if (st_batch_validate(out.data, out.len) != ST_OK)
                                __builtin_trap(); /* from_wire promised a valid frame */
                        }
                        st_buf_free(&out);
                    }
                }
            }
        }
        strata__raw__raw_request__free_unpacked(raw, NULL);
    }
    Strata__Request *req = strata__request__unpack(NULL, size, data);
    if (req) {
        decoded |= 2;
        strata__request__free_unpacked(req, NULL);
    }
    br_server_decode(data, size, NULL, NULL);
    return decoded;
}

#ifdef ST_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_request_one(data, size);
    return 0;
}
#endif
