#!/usr/bin/env bash
# Hostile or broken requests: the broker answers an error or drops the
# request, and keeps serving (checked with a normal produce/consume).
. "$(dirname "$0")/lib.sh"
st_need "$STRATA" "$ST_RAWSEND"
command -v protoc >/dev/null || st_fail "protoc missing (apt-get install protobuf-compiler)"
st_zk_setup
st_broker_config 1 message.max.bytes=20000
st_broker_start 1
st_wait 20 st_zkc get /controller || st_fail "no controller"
st_cli topic create bi --partitions 1 --replication-factor 1 >/dev/null 2>&1 || st_fail "topic create"
st_wait 20 st_topic_ready bi 1 || st_fail "bi: no leader"
echo first | st_cli produce -t bi --acks 1 >/dev/null 2>&1 || st_fail "first produce"
URL=$(st_broker_url 1)
pid=$(st_broker_pid 1)

alive() { # after NAME
    kill -0 "$pid" 2>/dev/null || st_fail "broker died after: $1"
    printf 'correlation_id: 1\napi_versions { version: 1 }\n' | st_encode strata.Request >"$ST_TMP/av.bin"
    st_raw "$URL" "$ST_TMP/av.bin" "$ST_TMP/av.reply" >/dev/null || st_fail "broker stopped answering after: $1"
}

# send NAME FILE: reply or drop both fine; the broker must live on
send() {
    local out rc
    out=$(st_raw "$URL" "$2" "$ST_TMP/r.bin")
    rc=$?
    [ $rc -eq 0 ] || [ $rc -eq 3 ] || st_fail "$1: st_rawsend failed ($rc): $out"
    st_log "$1: $out"
    alive "$1"
}

# expect NAME PATTERN < text: encode a Request, expect PATTERN in the decoded reply
expect() {
    st_encode strata.Request >"$ST_TMP/q.bin" || st_fail "$1: protoc --encode"
    st_raw "$URL" "$ST_TMP/q.bin" "$ST_TMP/r.bin" >/dev/null || st_fail "$1: no reply"
    st_decode strata.Response <"$ST_TMP/r.bin" >"$ST_TMP/r.txt" || st_fail "$1: reply does not decode"
    grep -q -- "$2" "$ST_TMP/r.txt" || st_fail "$1: expected '$2', got: $(tr '\n' ' ' <"$ST_TMP/r.txt")"
    alive "$1"
}

head -c 4096 /dev/urandom >"$ST_TMP/garbage.bin"
send "4 KiB of random bytes" "$ST_TMP/garbage.bin"
: >"$ST_TMP/empty.bin"
send "an empty message" "$ST_TMP/empty.bin"
printf 'correlation_id: 5\nfetch { max_bytes: 1000 topics { name: "bi" partitions { partition: 0 fetch_offset: 0 max_bytes: 1000 } } }\n' |
    st_encode strata.Request >"$ST_TMP/full.bin"
head -c $(($(stat -c %s "$ST_TMP/full.bin") / 2)) "$ST_TMP/full.bin" >"$ST_TMP/trunc.bin"
send "a truncated protobuf" "$ST_TMP/trunc.bin"
# correlation_id 1, then field 99 (an unknown oneof case) holding "hi"
printf '\x08\x01\x9a\x06\x02hi' >"$ST_TMP/unknown.bin"
send "an unknown oneof case" "$ST_TMP/unknown.bin"
# field 18 (fetch) claiming 4 GiB of payload
printf '\x08\x01\x92\x01\xff\xff\xff\xff\x0f\x01\x02\x03' >"$ST_TMP/huge.bin"
send "an absurd length" "$ST_TMP/huge.bin"
# a produce whose raw batch bytes are garbage
printf '\x08\x01\x8a\x01\x15\x10\x01\x22\x11\x0a\x02bi\x12\x0b\x08\x00\x12\x07garbage' >"$ST_TMP/rawprod.bin"
send "a produce with garbage batch bytes" "$ST_TMP/rawprod.bin"

expect "fetch of an unsupported version" 'error: UNSUPPORTED_VERSION' <<EOT
correlation_id: 5
fetch { version: 5 }
EOT
expect "negative fetch offset" 'error: OFFSET_OUT_OF_RANGE' <<EOT
correlation_id: 6
fetch { max_bytes: 100000 topics { name: "bi" partitions { partition: 0 fetch_offset: -5 max_bytes: 100000 current_leader_epoch: -1 } } }
EOT
expect "unknown topic" 'error: UNKNOWN_TOPIC_OR_PARTITION' <<EOT
correlation_id: 7
fetch { max_bytes: 100000 topics { name: "no-such-topic" partitions { partition: 0 fetch_offset: 0 max_bytes: 100000 } } }
EOT
expect "unknown partition" 'error: UNKNOWN_TOPIC_OR_PARTITION' <<EOT
correlation_id: 8
fetch { max_bytes: 100000 topics { name: "bi" partitions { partition: 99999 fetch_offset: 0 max_bytes: 100000 } } }
EOT
expect "negative sizes" 'correlation_id: 9' <<EOT
correlation_id: 9
fetch { max_bytes: -1 min_bytes: -7 max_wait_ms: -3 topics { name: "bi" partitions { partition: -1 fetch_offset: 0 max_bytes: -1 } } }
EOT
expect "a batch with a wrong CRC" 'error: CORRUPT_MESSAGE' <<EOT
correlation_id: 10
produce { acks: 1 timeout_ms: 1000 topics { name: "bi" partitions { partition: 0
  batches { crc: 12345 record_count: 1 last_offset_delta: 0 first_timestamp: 1 max_timestamp: 1 producer_id: -1 records { offset_delta: 0 value: "x" } } } } }
EOT
expect "an absurd record count" 'error: CORRUPT_MESSAGE' <<EOT
correlation_id: 12
produce { acks: 1 timeout_ms: 1000 topics { name: "bi" partitions { partition: 0
  batches { record_count: 2000000000 last_offset_delta: 0 records { offset_delta: 0 value: "x" } } } } }
EOT
expect "acks 7" 'error: INVALID_REQUIRED_ACKS' <<EOT
correlation_id: 13
produce { acks: 7 timeout_ms: 1000 topics { name: "bi" partitions { partition: 0
  batches { record_count: 1 records { offset_delta: 0 value: "x" } } } } }
EOT
# many partitions in one request, all unknown
{
    printf 'correlation_id: 14\nfetch { max_bytes: 100000 topics { name: "bi" '
    for i in $(seq 1000 6000); do printf 'partitions { partition: %d fetch_offset: 0 max_bytes: 10 } ' "$i"; done
    printf '} }\n'
} >"$ST_TMP/many.txt"
expect "5001 unknown partitions" 'UNKNOWN_TOPIC_OR_PARTITION' <"$ST_TMP/many.txt"

# a record larger than message.max.bytes (20000) through the CLI
head -c 50000 /dev/zero | tr '\0' 'x' >"$ST_TMP/big.txt"
echo >>"$ST_TMP/big.txt"
st_cli produce -t bi --acks 1 <"$ST_TMP/big.txt" >"$ST_TMP/big.out" 2>&1 && st_fail "a 50 KB record was accepted (message.max.bytes=20000)"
grep -q MESSAGE_TOO_LARGE "$ST_TMP/big.out" || st_fail "oversized record: expected MESSAGE_TOO_LARGE, got: $(tail -2 "$ST_TMP/big.out")"
alive "oversized record"

echo last | st_cli produce -t bi --acks 1 >/dev/null 2>&1 || st_fail "normal produce after the bad input"
got=$(st_cli consume -t bi -o beginning -e 2>/dev/null | tr '\n' ' ')
[ "$got" = "first last " ] || st_fail "after the bad input the partition holds '$got', expected 'first last'"
st_ok
