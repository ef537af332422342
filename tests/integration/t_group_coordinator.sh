#!/usr/bin/env bash
# Group coordinator failover: 2 members commit after every record; the
# broker that coordinates the group (leader of its __consumer_offsets
# partition, RF=3) is killed with SIGKILL. The group finds the new
# coordinator, the committed offsets read through it are the ones
# committed before the kill, and consumption carries on: every record
# written before and after the kill is read.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-group.sh"
sg_cluster_start
T=coord
sg_topic_create $T 4 3

P() { sg_produce $T "$@"; }
P -N 1000 -k 97 || st_fail "produce 1: $(tail -2 "$ST_TMP/produce.err")"
G=(-g grp -t $T -s 6000 -c 1 -X heartbeat.interval.ms=500)
sg_start c1 "${G[@]}"
sg_start c2 "${G[@]}"
st_wait 40 consumed_is 1000 || st_fail "members read $(consumed_count) of 1000 records in 40 s"

# describe_json OUT: `strata group describe --json` (bounded, quick timeout)
describe_json() { ST_CMD_TIMEOUT=15 st_cli --json group describe grp --timeout-ms 5000 >"$1" 2>"$1.err"; }
# committed offsets "p off" sorted, from a describe file
offsets_of() {
    /usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))
for o in sorted(d["offsets"], key=lambda o: o["partition"]): print(o["partition"], o["committed"])' "$1"
}
all_committed() { describe_json "$ST_TMP/d1.json" && [ "$(offsets_of "$ST_TMP/d1.json" | awk '{ s += $2 } END { print s + 0 }')" = 1000 ]; }
st_wait 20 all_committed || st_fail "committed offsets do not add up to 1000: $(offsets_of "$ST_TMP/d1.json" | tr '\n' ' ')"
C1=$(sed -n 's/.*"coordinator":\([0-9]*\).*/\1/p' "$ST_TMP/d1.json")
[ -n "$C1" ] && [ "$C1" -ge 1 ] || st_fail "no coordinator in describe: $(cat "$ST_TMP/d1.json")"
offsets_of "$ST_TMP/d1.json" >"$ST_TMP/before.txt"
st_log "coordinator $C1, offsets $(tr '\n' ' ' <"$ST_TMP/before.txt")"

st_broker_kill9 "$C1"
unset "ST_BROKER_PORTS[$C1]"   # later CLI calls bootstrap from the live brokers
new_coord() {
    describe_json "$ST_TMP/d2.json" || return 1
    local c
    c=$(sed -n 's/.*"coordinator":\([0-9]*\).*/\1/p' "$ST_TMP/d2.json")
    [ -n "$c" ] && [ "$c" != "$C1" ] && [ "$(offsets_of "$ST_TMP/d2.json" | wc -l)" -gt 0 ]
}
st_wait 40 new_coord || st_fail "no new coordinator 40 s after killing broker $C1: $(cat "$ST_TMP/d2.json.err" "$ST_TMP/d2.json" 2>/dev/null | tail -2)"
C2=$(sed -n 's/.*"coordinator":\([0-9]*\).*/\1/p' "$ST_TMP/d2.json")
offsets_of "$ST_TMP/d2.json" >"$ST_TMP/after.txt"
cmp -s "$ST_TMP/before.txt" "$ST_TMP/after.txt" ||
    st_fail "committed offsets changed across the failover: before $(tr '\n' ' ' <"$ST_TMP/before.txt"), after $(tr '\n' ' ' <"$ST_TMP/after.txt")"
st_log "new coordinator $C2, offsets intact"

# consumption continues through the new coordinator
P -N 1000 -S 1000 -k 97 || st_fail "produce 2: $(tail -2 "$ST_TMP/produce.err")"
st_wait 40 consumed_is 2000 || st_fail "after the failover members read $(consumed_count) of 2000 records in 40 s"
# and they commit there: committed offsets add up to 2000
all2() { describe_json "$ST_TMP/d3.json" && [ "$(offsets_of "$ST_TMP/d3.json" | awk '{ s += $2 } END { print s + 0 }')" = 2000 ]; }
st_wait 20 all2 || st_fail "committed offsets after the failover: $(offsets_of "$ST_TMP/d3.json" | tr '\n' ' ')"
grep -q '"state":"Stable"' "$ST_TMP/d3.json" || st_fail "group not Stable after the failover: $(cat "$ST_TMP/d3.json")"
for n in c1 c2; do kill -0 "$(sg_pid $n)" 2>/dev/null || st_fail "member $n died"; done
sg_term c1
sg_term c2
n_read=$(cat "$ST_TMP"/c*.log | awk '$3 == "M" { print $5, $6 }' | sort -u | wc -l)
[ "$n_read" = 2000 ] || st_fail "$n_read distinct records read, expected 2000"
st_ok
