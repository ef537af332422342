#!/usr/bin/env bash
# A stock protobuf decoder reads a real Fetch response: protoc --decode and
# Python's protobuf runtime (classes generated with protoc --python_out)
# both see the records the CLI produced (docs/design/DESIGN.md section 4).
. "$(dirname "$0")/lib.sh"
st_need "$STRATA" "$ST_RAWSEND"
command -v protoc >/dev/null || st_fail "protoc missing (apt-get install protobuf-compiler)"
st_cluster_start 1
st_cli topic create sd --partitions 1 --replication-factor 1 >/dev/null 2>&1 || st_fail "topic create"
st_wait 20 st_topic_ready sd 1 || st_fail "sd: no leader"
printf 'k1\tvalue-one\nk2\tvalue-two\nk3\tvalue-three\n' | st_cli produce -t sd -K $'\t' --acks all >/dev/null 2>&1 ||
    st_fail "produce"

cat <<EOT | st_encode strata.Request >"$ST_TMP/fetch.bin" || st_fail "protoc --encode"
correlation_id: 42
client_id: "stock"
replica_id: -1
fetch { version: 1 max_wait_ms: 100 min_bytes: 1 max_bytes: 1048576
        topics { name: "sd" partitions { partition: 0 fetch_offset: 0 max_bytes: 1048576 current_leader_epoch: -1 } } }
EOT
st_raw "$(st_broker_url 1)" "$ST_TMP/fetch.bin" "$ST_TMP/reply.bin" >/dev/null || st_fail "no fetch reply"

st_decode strata.Response <"$ST_TMP/reply.bin" >"$ST_TMP/reply.txt" || st_fail "protoc --decode=strata.Response failed"
for v in value-one value-two value-three; do
    grep -q "value: \"$v\"" "$ST_TMP/reply.txt" || st_fail "protoc: $v not in the decoded response"
done
grep -q 'key: "k2"' "$ST_TMP/reply.txt" || st_fail "protoc: key k2 not in the decoded response"

PY=/usr/bin/python3
if [ -x "$PY" ] && "$PY" -c 'import google.protobuf' 2>/dev/null; then
    mkdir -p "$ST_TMP/py"
    protoc -I "$ST_SRC/proto" --python_out="$ST_TMP/py" strata.proto record.proto || st_fail "protoc --python_out"
    out=$(PYTHONPATH="$ST_TMP/py" "$PY" - "$ST_TMP/reply.bin" <<'EOP'
import sys
import strata_pb2
r = strata_pb2.Response()
r.ParseFromString(open(sys.argv[1], "rb").read())
assert r.correlation_id == 42, r.correlation_id
assert r.WhichOneof("body") == "fetch"
for t in r.fetch.topics:
    for p in t.partitions:
        assert p.error == 0, p.error
        for b in p.batches:
            for rec in b.records:
                print(t.name, p.partition, b.base_offset + rec.offset_delta, rec.key.decode(), rec.value.decode())
EOP
    ) || st_fail "python protobuf could not read the fetch response: $out"
    [ "$(printf '%s\n' "$out" | awk '{ print $3, $4, $5 }' | tr '\n' ' ')" = "0 k1 value-one 1 k2 value-two 2 k3 value-three " ] ||
        st_fail "python protobuf read: $out"
else
    st_log "python3-protobuf not installed: only protoc checked"
fi
st_ok
