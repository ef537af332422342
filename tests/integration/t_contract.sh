#!/usr/bin/env bash
# Contract points an independent client checks, on raw requests:
#   - Metadata from a broker that is not the controller answers the real
#     controller epoch (/controller_epoch), not 0;
#   - CreateTopics with a name listed twice refuses every entry of that
#     name (INVALID_REQUEST "Duplicate topic name.") and creates the others;
#   - DeleteTopics answers INVALID_TOPIC_EXCEPTION per invalid name;
#   - a request body the broker does not know gets UNSUPPORTED_VERSION;
#   - a request above socket.request.max.bytes gets no reply (nng closes
#     the connection: the sender sees it reset) and the broker keeps
#     serving.
. "$(dirname "$0")/lib.sh"
st_need "$STRATA" "$ST_RAWSEND"
command -v protoc >/dev/null || st_fail "protoc missing (apt-get install protobuf-compiler)"
st_zk_setup
for i in 1 2; do st_broker_config "$i" socket.request.max.bytes=65536; done
for i in 1 2; do st_broker_start "$i"; done
st_wait 20 st_zkc get /controller || st_fail "no controller elected within 20 s"
C=$(st_controller_id)
O=1
[ "$C" = 1 ] && O=2
URL=$(st_broker_url "$O")

# ask TEXT: encode a Request from TEXT, send it to the non-controller, the
# decoded reply flattened on one line
ask() {
    echo "$1" | st_encode strata.Request >"$ST_TMP/q.bin" || st_fail "protoc --encode: $1"
    st_raw "$URL" "$ST_TMP/q.bin" "$ST_TMP/r.bin" >/dev/null || st_fail "no reply to: $1"
    st_decode strata.Response <"$ST_TMP/r.bin" | tr '\n' ' ' | tr -s ' '
}

# ---- Metadata: the controller epoch
want=$(st_zkc get /controller_epoch | tr -dc '0-9')
[ -n "$want" ] && [ "$want" -gt 0 ] || st_fail "/controller_epoch is '$want'"
ce() { ask 'correlation_id: 1 metadata { version: 1 all_topics: true }' | sed -n 's/.*controller_epoch: \([0-9]*\).*/\1/p'; }
got=$(ce)
[ "$got" = "$want" ] || st_fail "broker $O (not the controller) answers controller_epoch '$got', /controller_epoch is $want"
# a new controller (the old one killed): the epoch grows, and the old
# controller, restarted as an ordinary broker, answers the new epoch
st_broker_kill9 "$C"
is_controller() { [ "$(st_controller_id)" = "$1" ]; }
st_wait 20 is_controller "$O" || st_fail "broker $O did not take over as controller"
want2=$(st_zkc get /controller_epoch | tr -dc '0-9')
[ "$want2" -gt "$want" ] || st_fail "/controller_epoch $want2 did not grow from $want"
st_broker_start "$C"
URL=$(st_broker_url "$C")
ce_is() { [ "$(ce)" = "$1" ]; }
st_wait 20 ce_is "$want2" || st_fail "restarted broker $C answers controller_epoch '$(ce)', /controller_epoch is $want2"
is_controller "$O" || st_fail "the controller moved again"

# ---- CreateTopics: a duplicated name
out=$(ask 'correlation_id: 2 create_topics { version: 1 timeout_ms: 10000
  topics { name: "dup" num_partitions: 1 replication_factor: 1 }
  topics { name: "solo" num_partitions: 1 replication_factor: 1 }
  topics { name: "dup" num_partitions: 1 replication_factor: 1 } }')
n=$(echo "$out" | grep -o 'name: "dup" error: INVALID_REQUEST error_message: "Duplicate topic name."' | wc -l)
[ "$n" -eq 2 ] || st_fail "CreateTopics with 'dup' twice: $n entries refused as duplicates, expected 2: $out"
echo "$out" | grep -q 'name: "solo" error' && st_fail "CreateTopics: 'solo' not created: $out"
st_zkc get /brokers/topics/dup >/dev/null 2>&1 && st_fail "CreateTopics created the duplicated topic 'dup'"
st_zkc get /brokers/topics/solo >/dev/null 2>&1 || st_fail "CreateTopics did not create 'solo'"

# ---- DeleteTopics: invalid names
long=$(head -c 250 /dev/zero | tr '\0' 'x')
out=$(ask "correlation_id: 3 delete_topics { version: 1 timeout_ms: 1000 topics: \"\" topics: \".\" topics: \"..\" topics: \"a/b\" topics: \"sp ace\" topics: \"$long\" topics: \"no-such-topic\" }")
n=$(echo "$out" | grep -o 'error: INVALID_TOPIC_EXCEPTION' | wc -l)
[ "$n" -eq 6 ] || st_fail "DeleteTopics: $n INVALID_TOPIC_EXCEPTION for 6 invalid names: $out"
echo "$out" | grep -q 'name: "no-such-topic" error: UNKNOWN_TOPIC_OR_PARTITION' ||
    st_fail "DeleteTopics of a valid unknown name: $out"

# ---- an unknown body (field 99, as a newer client might send)
printf '\x08\x05\x9a\x06\x02\x08\x01' >"$ST_TMP/unknown.bin"
st_raw "$URL" "$ST_TMP/unknown.bin" "$ST_TMP/r.bin" >/dev/null || st_fail "no reply to an unknown body"
out=$(st_decode strata.Response <"$ST_TMP/r.bin" | tr '\n' ' ')
echo "$out" | grep -q 'error: UNSUPPORTED_VERSION' || st_fail "unknown body answered: $out"
echo "$out" | grep -q 'correlation_id: 5' || st_fail "unknown body: correlation id not echoed: $out"
# no body at all stays INVALID_REQUEST
printf '\x08\x06' >"$ST_TMP/nobody.bin"
st_raw "$URL" "$ST_TMP/nobody.bin" "$ST_TMP/r.bin" >/dev/null || st_fail "no reply to a request without body"
st_decode strata.Response <"$ST_TMP/r.bin" | grep -q 'error: INVALID_REQUEST' || st_fail "no body: not INVALID_REQUEST"

# ---- an oversized request: no reply, the connection is closed, the broker serves on
{
    printf 'correlation_id: 7 metadata { version: 1 '
    for i in $(seq 1 10000); do printf 'topics: "t%05d" ' "$i"; done
    printf '}\n'
} | st_encode strata.Request >"$ST_TMP/big.bin"
[ "$(stat -c %s "$ST_TMP/big.bin")" -gt 65536 ] || st_fail "test request not above the limit"
"$ST_RAWSEND" -t 2000 -o "$ST_TMP/r.bin" "$URL" "$ST_TMP/big.bin" >"$ST_TMP/big.out" 2>&1
rc=$?
# nng drops the connection on a message above the limit: the request fails
# with "Connection reset" (or times out), never gets an answer
[ $rc -ne 0 ] || st_fail "oversized request was answered: $(cat "$ST_TMP/big.out")"
grep -Eq 'no reply: (Connection reset|Timed out)' "$ST_TMP/big.out" || st_fail "oversized request: $(cat "$ST_TMP/big.out")"
ask 'correlation_id: 8 api_versions { version: 1 }' | grep -q 'api_versions' || st_fail "broker stopped serving after an oversized request"
st_ok
