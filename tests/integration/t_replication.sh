#!/usr/bin/env bash
# Replication, end to end: an RF=3 topic takes acks=all writes, every
# replica ends up in the ISR with the same log end offset, the leader is
# killed with SIGKILL mid-stream and producing carries on on the new
# leader; every acknowledged record is consumed exactly once, in order.
. "$(dirname "$0")/lib.sh"
st_need "$STRATA"
st_cluster_start 3
T=repl
st_cli topic create $T --partitions 1 --replication-factor 3 --config min.insync.replicas=2 >"$ST_TMP/create.out" 2>&1 ||
    st_fail "topic create: $(cat "$ST_TMP/create.out")"
st_wait 20 st_topic_ready $T 1 || st_fail "$T: no leader"

# st_isr: the ISR of partition 0 as "1,2,3" (sorted), from ZooKeeper
st_isr() {
    st_zkc get "/brokers/topics/$T/partitions/0/state" | sed -n 's/.*"isr":\[\([0-9,]*\)\].*/\1/p' | tr ',' '\n' |
        sort -n | paste -sd, -
}
isr_is() { [ "$(st_isr)" = "$1" ]; }

# 1. acks=all, first half
N=20000
seq -f 'r%06g' 1 $N >"$ST_TMP/in1.txt"
st_cli produce -t $T --acks all <"$ST_TMP/in1.txt" >"$ST_TMP/p1.out" 2>&1 ||
    st_fail "acks=all produce: $(tail -3 "$ST_TMP/p1.out")"
st_wait 30 isr_is 1,2,3 || st_fail "ISR is [$(st_isr)] after produce, expected all 3 replicas"

# topic describe shows the 3 replicas in the ISR
st_cli topic describe $T >"$ST_TMP/describe.txt" 2>&1 || st_fail "topic describe: $(cat "$ST_TMP/describe.txt")"
st_log "describe: $(cat "$ST_TMP/describe.txt")"
grep -Eiq 'isr[:= ]*\[?1,2,3' <(sed 's/[ ]*,[ ]*/,/g' "$ST_TMP/describe.txt") ||
    grep -Eiq 'isr[:= ]*\[?[123],[123],[123]' <(sed 's/[ ]*,[ ]*/,/g' "$ST_TMP/describe.txt") ||
    st_fail "topic describe does not show an ISR of 3: $(cat "$ST_TMP/describe.txt")"

leader_is() { [ "$(st_state_field $T 0 leader)" = "$1" ]; }
# st_last_offset IDS...: the last offset of partition 0, read through brokers IDS
st_last_offset() {
    timeout -k 2 60 "$STRATA" -b "$(st_bootstrap "$@")" consume -t $T -o -1 -e -f '%o\n' 2>/dev/null | tail -1
}
last=$(st_last_offset 1 2 3)
[ "$last" = $((N - 1)) ] || st_fail "last offset after $N acks=all records is '$last', expected $((N - 1))"

# 2. kill -9 the leader while a producer is writing: it fails over to the
# new leader and every record is acknowledged (idempotence: no duplicate)
L1=$(st_state_field $T 0 leader)
[ -n "$L1" ] && [ "$L1" -ge 1 ] || st_fail "no leader in the state znode"
e1=$(st_state_field $T 0 leader_epoch)
M=10000
seq -f 's%06g' 1 $M >"$ST_TMP/in2.txt"
# 100 lines every 0.1 s: about 10 s of writes, the kill after 2 s
(while IFS= read -r l; do
    echo "$l"
    n=$((${n:-0} + 1))
    [ $((n % 100)) = 0 ] && sleep 0.1
done <"$ST_TMP/in2.txt") | ST_CMD_TIMEOUT=120 st_cli produce -t $T --acks all >"$ST_TMP/p2.out" 2>&1 &
ppid=$!
sleep 2
st_broker_kill9 "$L1"
t0=$SECONDS
new_leader() { local l; l=$(st_state_field $T 0 leader); [ -n "$l" ] && [ "$l" != "$L1" ] && [ "$l" != -1 ]; }
st_wait 30 new_leader || st_fail "no new leader 30 s after killing leader $L1"
L2=$(st_state_field $T 0 leader)
st_log "leader $L1 -> $L2 in $((SECONDS - t0)) s"
[ "$(st_state_field $T 0 leader_epoch)" -gt "$e1" ] || st_fail "leader epoch did not increase"
wait $ppid || st_fail "produce across the failover: $(tail -3 "$ST_TMP/p2.out")"
alive=()
for id in 1 2 3; do [ "$id" != "$L1" ] && alive+=("$id"); done
last=$(st_last_offset "${alive[@]}")
[ "$last" = $((N + M - 1)) ] || st_fail "last offset after failover is '$last', expected $((N + M - 1))"

# 3. the old leader comes back, truncates/catches up and rejoins the ISR
st_broker_start "$L1"
st_wait 60 isr_is 1,2,3 || st_fail "ISR is [$(st_isr)] 60 s after broker $L1 came back"

# 4. every replica holds the same log: make each one the only live broker
# (kill -9 the other two: it must become leader, clean election from the
# ISR) and read its last offset
for b in 1 2 3; do
    for id in 1 2 3; do [ "$id" != "$b" ] && st_broker_kill9 "$id"; done
    st_wait 30 leader_is "$b" || st_fail "broker $b, the last ISR member alive, did not become leader (leader $(st_state_field $T 0 leader))"
    # The other two die one after the other: b may lead an ISR that still
    # names the second for a moment, and its high watermark (what a
    # consumer sees) reaches the log end only once the ISR is b alone.
    st_wait 30 isr_is "$b" || st_fail "ISR is [$(st_isr)] 30 s after killing every broker but $b"
    last=$(st_last_offset "$b")
    [ "$last" = $((N + M - 1)) ] || st_fail "replica on broker $b ends at offset '$last', expected $((N + M - 1))"
    for id in 1 2 3; do [ "$id" != "$b" ] && st_broker_start "$id"; done
    st_wait 60 isr_is 1,2,3 || st_fail "ISR is [$(st_isr)] 60 s after restarting the brokers other than $b"
done

# 5. everything exactly once, in the order produced
st_cli consume -t $T -o beginning -e >"$ST_TMP/out.txt" 2>"$ST_TMP/c.err" || st_fail "consume: $(tail -3 "$ST_TMP/c.err")"
cmp -s "$ST_TMP/out.txt" <(cat "$ST_TMP/in1.txt" "$ST_TMP/in2.txt") ||
    st_fail "consumed $(wc -l <"$ST_TMP/out.txt") records, expected $((N + M)) in order ($(sort "$ST_TMP/out.txt" | uniq -d | wc -l) duplicated)"

# the tree the cluster wrote (producer id block included) matches zk-schema
out=$("$STRATA" zk -z "$ST_ZK" check 2>&1) || st_fail "zk check: $out"
st_zkc get /latest_producer_id_block >/dev/null 2>&1 || st_fail "no /latest_producer_id_block after idempotent produce"
st_ok
