#!/usr/bin/env bash
# A request to a broker that is not the partition's leader gets
# NOT_LEADER_OR_FOLLOWER; clients recover: a CLI bootstrapped on a follower
# only produces through the leader, and a long-running producer keeps
# delivering across a leader change (stale leader in its metadata).
. "$(dirname "$0")/lib.sh"
st_need "$STRATA" "$ST_RAWSEND"
command -v protoc >/dev/null || st_fail "protoc missing (apt-get install protobuf-compiler)"
st_cluster_start 3
# Two replicas on brokers 1 and 2: the follower hosts the partition (so it
# answers NOT_LEADER_OR_FOLLOWER, not UNKNOWN_TOPIC_OR_PARTITION), and when
# the leader dies the survivor is alone in the ISR, so its high watermark
# follows its log end even before followers replicate.
st_zkc create /brokers/topics/nl '{"version":2,"partitions":{"0":[1,2]}}' >/dev/null || st_fail "topic create"
st_wait 20 st_topic_ready nl 1 || st_fail "nl: no leader"
L=$(st_state_field nl 0 leader)
F=1
[ "$F" = "$L" ] && F=2
st_log "leader $L, asking follower $F"

cat <<EOT | st_encode strata.Request >"$ST_TMP/fetch.bin" || st_fail "protoc --encode"
correlation_id: 11
client_id: "it"
replica_id: -1
fetch { version: 1 max_wait_ms: 0 min_bytes: 1 max_bytes: 1048576
        topics { name: "nl" partitions { partition: 0 fetch_offset: 0 max_bytes: 1048576 current_leader_epoch: -1 } } }
EOT
st_raw "$(st_broker_url "$F")" "$ST_TMP/fetch.bin" "$ST_TMP/reply.bin" >/dev/null || st_fail "no reply from follower $F"
st_decode strata.Response <"$ST_TMP/reply.bin" >"$ST_TMP/reply.txt" || st_fail "reply does not decode"
grep -q 'error: NOT_LEADER_OR_FOLLOWER' "$ST_TMP/reply.txt" || st_fail "follower answered: $(tr '\n' ' ' <"$ST_TMP/reply.txt")"
grep -q 'correlation_id: 11' "$ST_TMP/reply.txt" || st_fail "correlation id not echoed"

# bootstrapped on the follower only: metadata leads the client to the leader
seq 1 100 | sed 's/^/a/' | "$STRATA" -b "$(st_broker_url "$F")" produce -t nl --acks 1 >"$ST_TMP/p.out" 2>&1 ||
    st_fail "produce via follower bootstrap: $(tail -2 "$ST_TMP/p.out")"

# a producer that outlives the leader
mkfifo "$ST_TMP/in"
ST_CMD_TIMEOUT=90 st_cli produce -t nl --acks 1 -X request.timeout.ms=5000 <"$ST_TMP/in" >"$ST_TMP/p2.out" 2>&1 &
ppid=$!
exec 7>"$ST_TMP/in"
seq 1 100 | sed 's/^/b/' >&7
sleep 1
st_broker_kill9 "$L"
t_kill=$SECONDS
new_leader() { local l; l=$(st_state_field nl 0 leader); [ -n "$l" ] && [ "$l" != "$L" ] && [ "$l" != -1 ]; }
st_wait 30 new_leader || st_fail "no new leader 30 s after killing $L"
seq 1 100 | sed 's/^/c/' >&7
exec 7>&-
st_wait 80 st_not_running "$ppid" || { kill "$ppid"; st_fail "producer did not finish 80 s after the leader change"; }
wait "$ppid"
prc=$?
if [ $prc -ne 0 ]; then
    # tell a stale client from a broker that cannot serve: a fresh CLI
    live=()
    for id in 1 2 3; do [ "$id" != "$L" ] && live+=("$id"); done
    if ! echo probe | timeout 20 "$STRATA" -b "$(st_bootstrap "${live[@]}")" produce -t nl --acks 1 >/dev/null 2>&1; then
        st_log "a fresh producer bootstrapped on live brokers fails too: the new leader does not accept produce"
    elif ! echo probe | ST_CMD_TIMEOUT=20 st_cli produce -t nl --acks 1 >/dev/null 2>&1; then
        st_log "a fresh producer works with live brokers only, not with the dead one in its bootstrap list"
    else
        st_log "a fresh producer reaches the new leader: the long-running one kept stale metadata"
    fi
fi
[ $prc -eq 0 ] || st_fail "producer failed across the leader change (exit $prc$([ $prc = 124 ] && echo ': hung'), $((SECONDS - t_kill)) s after the kill): $(tail -3 "$ST_TMP/p2.out"); $(tail -1 "$ST_TMP/test.log" | cut -d' ' -f2-)"
live=()
for id in 1 2 3; do [ "$id" != "$L" ] && live+=("$id"); done
st_zkc get /brokers/topics/nl/partitions/0/state | grep -q "\"isr\":\[$F\]" || st_fail "ISR did not shrink to [$F]"
got=$("$STRATA" -b "$(st_bootstrap "${live[@]}")" consume -t nl -o beginning -e 2>/dev/null | grep -c '^c')
[ "$got" -eq 100 ] || st_fail "after the leader change: $got of 100 records produced to the new leader readable"
st_ok
