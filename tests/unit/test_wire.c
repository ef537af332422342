/*
 * The raw views of proto/raw.proto against their public twins in
 * proto/strata.proto, by protobuf-c reflection: every field of a Raw*
 * message exists in its twin with the same number, label and type, except
 * that a `bytes` field stands for an embedded message (a record batch),
 * and embedded Raw* messages are compared with their twins recursively.
 * A field added to one side only, or renumbered, fails here before a
 * broker and a client disagree on the wire.
 */
#include <stdio.h>
#include <string.h>

#include "raw.pb-c.h"
#include "strata.pb-c.h"
#include "tu.h"

static int wire_mismatches;

static void wire_compare(const ProtobufCMessageDescriptor *raw, const ProtobufCMessageDescriptor *twin,
                         int depth)
{
    CU_ASSERT_FATAL(depth < 8);
    for (unsigned i = 0; i < raw->n_fields; i++) {
        const ProtobufCFieldDescriptor *rf = &raw->fields[i];
        const ProtobufCFieldDescriptor *tf = protobuf_c_message_descriptor_get_field(twin, rf->id);
        if (!tf || tf->label != rf->label) {
            printf("\n%s.%s (%u): no twin in %s with the same label\n", raw->short_name, rf->name, rf->id,
                   twin->short_name);
            wire_mismatches++;
            continue;
        }
        if (rf->type == PROTOBUF_C_TYPE_BYTES && tf->type == PROTOBUF_C_TYPE_MESSAGE)
            continue; /* a batch carried as its bytes */
        if (rf->type != tf->type) {
            printf("\n%s.%s (%u): type %d, twin %s.%s type %d\n", raw->short_name, rf->name, rf->id, rf->type,
                   twin->short_name, tf->name, tf->type);
            wire_mismatches++;
            continue;
        }
        if (rf->type == PROTOBUF_C_TYPE_MESSAGE && rf->descriptor != tf->descriptor)
            wire_compare(rf->descriptor, tf->descriptor, depth + 1);
    }
}

static void test_twins(void)
{
    wire_mismatches = 0;
    wire_compare(&strata__raw__raw_request__descriptor, &strata__request__descriptor, 0);
    wire_compare(&strata__raw__raw_response__descriptor, &strata__response__descriptor, 0);
    CU_ASSERT_EQUAL(wire_mismatches, 0);
}

/* The comparison itself finds a difference: a raw produce request is not
 * the twin of a fetch request. */
static void test_compare_detects(void)
{
    wire_mismatches = 0;
    wire_compare(&strata__raw__raw_produce_request__descriptor, &strata__fetch_request__descriptor, 0);
    CU_ASSERT(wire_mismatches > 0);
}

static CU_TestInfo wire_tests[] = {
    {"raw views match their twins", test_twins},
    {"a mismatch is reported", test_compare_detects},
    CU_TEST_INFO_NULL,
};

int main(void)
{
    CU_SuiteInfo suites[] = {
        {"wire", NULL, NULL, NULL, NULL, wire_tests},
        CU_SUITE_INFO_NULL,
    };
    return tu_main(suites);
}
