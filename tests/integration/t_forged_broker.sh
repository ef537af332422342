#!/usr/bin/env bash
# Requests that pose as a broker: a broker's request is accepted only with
# exactly the epoch (czxid) of that broker's current registration, and a
# follower fetch only from a replica of the partition.
#   1. ControlledShutdown for the leader with broker_epoch INT64_MAX, sent
#      100 times to the controller: each answered STALE_BROKER_EPOCH, the
#      leader keeps its leadership and ISR slot, and the controller's log
#      grows by a bounded number of lines.
#   2. With the partition's follower stopped (so the high watermark stays
#      below the log end), follower fetches at the log end posing as the
#      follower with a wrong epoch, and as a broker that is not a replica
#      with its real epoch: both refused, the HW does not move.
. "$(dirname "$0")/lib.sh"
st_need "$STRATA" "$ST_RAWSEND"
command -v protoc >/dev/null || st_fail "protoc missing (apt-get install protobuf-compiler)"
st_zk_setup
# long session and lag limits: a stopped follower stays registered and in
# the ISR for the whole test, so only a fetch can move the HW
for i in 1 2 3; do
    st_broker_config "$i" zookeeper.session.timeout.ms=60000 replica.lag.time.max.ms=120000
done
for i in 1 2 3; do st_broker_start "$i"; done
st_wait 20 st_zkc get /controller || st_fail "no controller elected within 20 s"
T=fb
st_cli topic create $T --partitions 1 --replication-factor 2 >"$ST_TMP/create.out" 2>&1 ||
    st_fail "topic create: $(cat "$ST_TMP/create.out")"
st_wait 20 st_topic_ready $T 1 || st_fail "$T: no leader"
isr() { st_zkc get "/brokers/topics/$T/partitions/0/state" | sed -n 's/.*"isr":\[\([0-9,]*\)\].*/\1/p'; }
isr_full() { [ "$(isr | tr ',' '\n' | grep -c .)" -eq 2 ]; }
st_wait 30 isr_full || st_fail "the ISR never held both replicas: $(isr)"
seq -f 'a%04g' 1 100 | st_cli produce -t $T --acks all >"$ST_TMP/p1.out" 2>&1 ||
    st_fail "first produce: $(tail -3 "$ST_TMP/p1.out")"

L=$(st_state_field $T 0 leader)
F=$(isr | tr ',' '\n' | grep -vx "$L" | head -1)
N=$(printf '1\n2\n3\n' | grep -vx "$L" | grep -vx "$F")
C=$(st_controller_id)
[ -n "$L" ] && [ -n "$F" ] && [ -n "$N" ] && [ -n "$C" ] || st_fail "leader '$L' follower '$F' other '$N' controller '$C'"
EPOCH0=$(st_state_field $T 0 leader_epoch)
st_log "leader $L (epoch $EPOCH0), follower $F, not a replica $N, controller $C"
# broker epoch of broker N as it logged it at registration (= czxid)
bepoch() { sed -n "s/.*registered broker $1 in ZooKeeper (broker epoch \([0-9]*\),.*/\1/p" "$ST_TMP/b$1/stratad.log" | tail -1; }
EN=$(bepoch "$N")
[ -n "$EN" ] || st_fail "no broker epoch logged by broker $N"

MAX=9223372036854775807 # INT64_MAX

# reply REQFILE URL: decoded reply text on stdout
reply() {
    st_raw "$2" "$1" "$ST_TMP/r.bin" >/dev/null || st_fail "no reply from $2"
    st_decode strata.Response <"$ST_TMP/r.bin"
}

# ---- 1. forged ControlledShutdown
printf 'correlation_id: 7\nreplica_id: %d\nbroker_epoch: %s\ncontrolled_shutdown { version: 1 broker_id: %d broker_epoch: %s }\n' \
    "$L" $MAX "$L" $MAX | st_encode strata.Request >"$ST_TMP/cs.bin" || st_fail "encode ControlledShutdown"
CURL=$(st_broker_url "$C")
reply "$ST_TMP/cs.bin" "$CURL" >"$ST_TMP/cs.txt"
grep -q 'STALE_BROKER_EPOCH' "$ST_TMP/cs.txt" ||
    st_fail "forged ControlledShutdown not refused with STALE_BROKER_EPOCH: $(tr '\n' ' ' <"$ST_TMP/cs.txt")"
lines0=$(wc -l <"$ST_TMP/b$C/stratad.log")
for i in $(seq 1 100); do
    st_raw "$CURL" "$ST_TMP/cs.bin" "$ST_TMP/r.bin" >/dev/null || st_fail "no reply to forged ControlledShutdown $i"
done
sleep 2 # any state write a request started would land by now
lines1=$(wc -l <"$ST_TMP/b$C/stratad.log")
grown=$((lines1 - lines0))
st_log "controller log grew by $grown lines for 100 forged ControlledShutdown requests"
[ "$grown" -le 10 ] || st_fail "controller log grew by $grown lines for 100 forged requests: $(tail -n 3 "$ST_TMP/b$C/stratad.log" | tr '\n' ' ')"
[ "$(st_state_field $T 0 leader)" = "$L" ] || st_fail "leadership moved from $L: $(st_zkc get /brokers/topics/$T/partitions/0/state)"
[ "$(st_state_field $T 0 leader_epoch)" = "$EPOCH0" ] || st_fail "leader epoch changed from $EPOCH0"
isr_full || st_fail "broker lost its ISR slot: isr $(isr)"

# ---- 2. forged follower fetches
# hw: the leader's high watermark (ListOffsets latest, as a client)
LURL=$(st_broker_url "$L")
printf 'correlation_id: 9\nlist_offsets { version: 1 topics { name: "%s" partitions { partition: 0 timestamp: -1 current_leader_epoch: -1 } } }\n' \
    $T | st_encode strata.Request >"$ST_TMP/lo.bin"
hw() { reply "$ST_TMP/lo.bin" "$LURL" | sed -n 's/^ *offset: \([0-9]*\)$/\1/p'; }
[ "$(hw)" = 100 ] || st_fail "HW $(hw) before the test, expected 100"
FPID=$(st_broker_pid "$F")
kill -STOP "$FPID"
seq -f 'b%04g' 1 50 | st_cli produce -t $T --acks 1 >"$ST_TMP/p2.out" 2>&1 || {
    kill -CONT "$FPID"
    st_fail "acks=1 produce: $(tail -3 "$ST_TMP/p2.out")"
}
sleep 1
[ "$(hw)" = 100 ] || { kill -CONT "$FPID"; st_fail "HW $(hw) moved with the follower stopped"; }

# fetch REPLICA EPOCH: a follower fetch at the leader's log end (150)
fetch() {
    printf 'correlation_id: 11\nreplica_id: %d\nbroker_epoch: %s\nfetch { version: 1 max_bytes: 100000 topics { name: "%s" partitions { partition: 0 fetch_offset: 150 max_bytes: 100000 current_leader_epoch: -1 } } }\n' \
        "$1" "$2" $T | st_encode strata.Request >"$ST_TMP/f.bin"
    reply "$ST_TMP/f.bin" "$LURL"
}
fails=""
for e in $MAX 1; do
    fetch "$F" "$e" >"$ST_TMP/f.txt"
    grep -q 'STALE_BROKER_EPOCH' "$ST_TMP/f.txt" || fails="$fails; fetch as $F epoch $e: $(tr '\n' ' ' <"$ST_TMP/f.txt")"
    [ "$(hw)" = 100 ] || fails="$fails; HW moved to $(hw) by a fetch as broker $F with epoch $e"
done
fetch "$N" "$EN" >"$ST_TMP/f.txt"
grep -q 'NOT_LEADER_OR_FOLLOWER' "$ST_TMP/f.txt" && grep -q "not a replica" "$ST_TMP/f.txt" ||
    fails="$fails; fetch as non-replica $N: $(tr '\n' ' ' <"$ST_TMP/f.txt")"
[ "$(hw)" = 100 ] || fails="$fails; HW moved to $(hw) by a fetch as non-replica $N"
kill -CONT "$FPID"
[ -z "$fails" ] || st_fail "${fails#; }"
grep -q "refused (STALE_BROKER_EPOCH)" "$ST_TMP/b$L/stratad.log" || st_fail "the leader did not log the refusal"
# the real follower still catches up and moves the HW
hw_is() { [ "$(hw)" = "$1" ]; }
st_wait 20 hw_is 150 || st_fail "HW $(hw) after the follower resumed, expected 150"
st_ok
