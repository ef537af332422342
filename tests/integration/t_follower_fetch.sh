#!/usr/bin/env bash
# Fetch from followers (KIP-392): brokers in racks r1/r2/r3, an RF=3
# topic; a consumer with client.rack naming a follower's rack is pointed
# at that follower by the leader (preferred_read_replica) and reads every
# record, the follower logging that it served a client fetch.
. "$(dirname "$0")/lib.sh"
st_need "$STRATA"
st_need "$STRATAD"
st_zk_setup
for i in 1 2 3; do st_broker_config "$i" "broker.rack=r$i"; done
for i in 1 2 3; do st_broker_start "$i"; done
st_wait 20 st_zkc get /controller || st_fail "no controller elected within 20 s"
T=ff
st_cli topic create $T --partitions 1 --replication-factor 3 >"$ST_TMP/create.out" 2>&1 ||
    st_fail "topic create: $(cat "$ST_TMP/create.out")"
st_wait 20 st_topic_ready $T 1 || st_fail "$T: no leader"

N=2000
seq -f 'v%06g' 1 $N >"$ST_TMP/in.txt"
# small batches and small fetches: the first answer (from the leader, which
# names the preferred replica) cannot hold every record, so the rest must
# come from the follower
st_cli -X batch.size=1024 produce -t $T --acks all <"$ST_TMP/in.txt" >"$ST_TMP/p.out" 2>&1 ||
    st_fail "produce: $(tail -3 "$ST_TMP/p.out")"
isr_all() {
    [ "$(st_zkc get "/brokers/topics/$T/partitions/0/state" | sed -n 's/.*"isr":\[\([0-9,]*\)\].*/\1/p' |
        tr ',' '\n' | sort -n | paste -sd, -)" = 1,2,3 ]
}
st_wait 30 isr_all || st_fail "the ISR never held all 3 replicas"
L=$(st_state_field $T 0 leader)
F=1
[ "$F" = "$L" ] && F=2
st_log "leader $L, consuming in rack r$F (follower $F)"
# the follower learns the leader's high watermark with its next fetch
sleep 1

st_cli consume -t $T -X client.rack=r$F -X max.partition.fetch.bytes=1024 -o beginning -e -f '%s\n' >"$ST_TMP/out.txt" 2>"$ST_TMP/c.err" ||
    st_fail "consume: $(tail -3 "$ST_TMP/c.err")"
got=$(wc -l <"$ST_TMP/out.txt")
[ "$got" -eq $N ] || st_fail "consumed $got records, expected $N"
cmp -s "$ST_TMP/in.txt" "$ST_TMP/out.txt" || st_fail "consumed records differ from the produced ones"
grep -q "serving client fetch as follower: $T-0" "$ST_TMP/b$F/stratad.log" ||
    st_fail "follower $F did not serve the fetch: $(grep -c . "$ST_TMP/b$F/stratad.log") log lines"
grep -q "serving client fetch as follower: $T-0" "$ST_TMP/b$L/stratad.log" &&
    st_fail "the leader claims to have served as a follower"

# an old client (no rack) still reads from the leader
st_cli consume -t $T -o beginning -e -f '%s\n' >"$ST_TMP/out2.txt" 2>"$ST_TMP/c2.err" ||
    st_fail "consume without a rack: $(tail -3 "$ST_TMP/c2.err")"
[ "$(wc -l <"$ST_TMP/out2.txt")" -eq $N ] || st_fail "consumed $(wc -l <"$ST_TMP/out2.txt") records without a rack"
st_ok
