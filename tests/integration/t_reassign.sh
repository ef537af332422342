#!/usr/bin/env bash
# Partition reassignment and preferred leader election, end to end:
# `strata topic reassign` moves a replica to another broker (the new one
# catches up and enters the ISR, the old one's files go, no record is
# lost); `strata topic elect-leaders` hands leadership back to the
# preferred replica; a broker that was down while one of its replicas was
# reassigned away deletes that stray replica when it comes back, and sets
# aside (renames, keeps) the replica of a topic deleted meanwhile.
. "$(dirname "$0")/lib.sh"
st_need "$STRATA"
st_cluster_start 3

# replicas TOPIC: the assignment of partition 0 as "1,2" (in order)
replicas() {
    st_zkc get "/brokers/topics/$1" | sed -n 's/.*"0":\[\([0-9,]*\)\].*/\1/p'
}
replicas_are() { [ "$(replicas "$1")" = "$2" ]; }
isr_sorted() {
    st_zkc get "/brokers/topics/$1/partitions/0/state" | sed -n 's/.*"isr":\[\([0-9,]*\)\].*/\1/p' |
        tr ',' '\n' | sort -n | paste -sd, -
}
isr_is() { [ "$(isr_sorted "$1")" = "$2" ]; }
no_reassignment() { ! st_zkc get /admin/reassign_partitions >/dev/null 2>&1; }
dir_gone() { [ ! -d "$ST_TMP/b$1/logs/$2" ]; }
other_than() { # other_than A B: the broker of 1..3 that is neither
    local i
    for i in 1 2 3; do [ "$i" != "$1" ] && [ "$i" != "$2" ] && echo "$i"; done
}
produce() { # produce TOPIC N PREFIX
    seq -f "$3%06g" 1 "$2" | st_cli produce -t "$1" --acks all >"$ST_TMP/p-$1.out" 2>&1 ||
        st_fail "produce to $1: $(tail -3 "$ST_TMP/p-$1.out")"
}
count() { # count TOPIC: records read from the beginning (timeout-bounded)
    st_cli consume -t "$1" -o beginning -e 2>/dev/null | wc -l
}

# 1. move one replica of a live topic
T=moved
st_cli topic create $T --partitions 1 --replication-factor 2 >"$ST_TMP/c1.out" 2>&1 ||
    st_fail "topic create: $(cat "$ST_TMP/c1.out")"
st_wait 20 st_topic_ready $T 1 || st_fail "$T: no leader"
produce $T 5000 m
IFS=, read -r A B <<<"$(replicas $T)"
C=$(other_than "$A" "$B")
[ -n "$A" ] && [ -n "$B" ] && [ -n "$C" ] || st_fail "unexpected assignment '$(replicas $T)'"
st_cli topic reassign --topic $T --partition 0 --replicas "$B,$C" >"$ST_TMP/r1.out" 2>&1 ||
    st_fail "reassign: $(cat "$ST_TMP/r1.out")"
st_wait 30 replicas_are $T "$B,$C" || st_fail "assignment is [$(replicas $T)], expected [$B,$C] after reassign"
st_wait 10 no_reassignment || st_fail "/admin/reassign_partitions still present"
st_wait 10 isr_is $T "$(printf '%s\n' "$B" "$C" | sort -n | paste -sd, -)" ||
    st_fail "ISR is [$(isr_sorted $T)] after the reassignment, expected $B and $C"
st_wait 20 dir_gone "$A" $T-0 || st_fail "broker $A still has $T-0 after it was reassigned away"
[ -d "$ST_TMP/b$C/logs/$T-0" ] || st_fail "broker $C has no $T-0 directory"
n=$(count $T)
[ "$n" = 5000 ] || st_fail "read $n records of $T after the reassignment, expected 5000"
st_log "reassigned $T-0 from [$A,$B] to [$B,$C]"

# 2. preferred leader election: the first replica leads again
L=$(st_state_field $T 0 leader)
if [ "$L" = "$B" ]; then
    # make C lead, then elect the preferred (B) back
    st_cli topic reassign --topic $T --partition 0 --replicas "$C,$B" >"$ST_TMP/r2.out" 2>&1 ||
        st_fail "reorder: $(cat "$ST_TMP/r2.out")"
    st_wait 20 replicas_are $T "$C,$B" || st_fail "assignment is [$(replicas $T)], expected [$C,$B]"
    st_wait 10 no_reassignment || st_fail "/admin/reassign_partitions still present (reorder)"
    PREF=$C
else
    PREF=$B
fi
leader_is() { [ "$(st_state_field $T 0 leader)" = "$1" ]; }
st_cli topic elect-leaders --type preferred --topic $T >"$ST_TMP/e.out" 2>&1 ||
    st_fail "elect-leaders: $(cat "$ST_TMP/e.out")"
st_wait 20 leader_is "$PREF" || st_fail "leader is $(st_state_field $T 0 leader) after a preferred election, expected $PREF"

# 3. strays: broker X is down while its replica of S is moved away and
# topic D (which it also holds) is deleted
S=stray D=gone
st_cli topic create $S --partitions 1 --replication-factor 2 >"$ST_TMP/c2.out" 2>&1 ||
    st_fail "topic create $S: $(cat "$ST_TMP/c2.out")"
st_cli topic create $D --partitions 1 --replication-factor 3 >"$ST_TMP/c3.out" 2>&1 ||
    st_fail "topic create $D: $(cat "$ST_TMP/c3.out")"
st_wait 20 st_topic_ready $S 1 || st_fail "$S: no leader"
st_wait 20 st_topic_ready $D 1 || st_fail "$D: no leader"
produce $S 2000 s
produce $D 100 d
IFS=, read -r X Y <<<"$(replicas $S)"
Z=$(other_than "$X" "$Y")
st_wait 20 isr_is $D 1,2,3 || st_fail "$D: ISR [$(isr_sorted $D)] before the kill"
st_broker_kill9 "$X"
st_cli topic reassign --topic $S --partition 0 --replicas "$Y,$Z" >"$ST_TMP/r3.out" 2>&1 ||
    st_fail "reassign with broker $X down: $(cat "$ST_TMP/r3.out")"
st_wait 30 replicas_are $S "$Y,$Z" || st_fail "$S: assignment [$(replicas $S)], expected [$Y,$Z] with $X down"
st_cli topic delete $D >"$ST_TMP/d.out" 2>&1 || st_fail "topic delete $D: $(cat "$ST_TMP/d.out")"
topic_gone() { ! st_zkc get "/brokers/topics/$D" >/dev/null 2>&1; }
st_wait 30 topic_gone || st_fail "$D still in ZooKeeper after delete"
[ -d "$ST_TMP/b$X/logs/$S-0" ] && [ -d "$ST_TMP/b$X/logs/$D-0" ] ||
    st_fail "broker $X (down) should still hold $S-0 and $D-0"

st_broker_start "$X"
st_wait 20 dir_gone "$X" $S-0 || st_fail "broker $X kept its stray replica $S-0 after restart"
aside() { [ -d "$ST_TMP/b$X/logs/$D-0.stray" ]; }
st_wait 20 aside || st_fail "broker $X did not set aside $D-0 (have: $(ls "$ST_TMP/b$X/logs" | tr '\n' ' '))"
dir_gone "$X" $D-0 || st_fail "broker $X still has $D-0 under its own name"
grep -q "$D-0: topic unknown to this cluster" "$ST_TMP/b$X/stratad.log" ||
    st_fail "broker $X did not log the replica it set aside"
# the set-aside copy stays set aside across another restart, and the
# broker serves on
st_broker_stop "$X"
st_broker_start "$X"
aside || st_fail "$D-0.stray disappeared on the next restart"
dir_gone "$X" $D-0 || st_fail "broker $X reopened $D-0"
n=$(count $S)
[ "$n" = 2000 ] || st_fail "read $n records of $S after the strays were handled, expected 2000"
st_ok
