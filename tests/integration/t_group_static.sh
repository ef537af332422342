#!/usr/bin/env bash
# Static membership: 3 members with group.instance.id; one is killed with
# SIGKILL and started again with the same instance id well within
# session.timeout.ms. No rebalance: the generation is unchanged, the
# others see no revoke or assignment, the restarted member gets its old
# partitions back and reads on from its committed offsets.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-group.sh"
sg_cluster_start
T=static
SESSION_MS=15000
sg_topic_create $T 6 2

P() { sg_produce $T "$@"; }
P -N 1200 -k 97 || st_fail "produce 1: $(tail -2 "$ST_TMP/produce.err")"
G=(-g grp -t $T -s $SESSION_MS -c 10 -X heartbeat.interval.ms=500)
for i in 1 2 3; do sg_start c$i "${G[@]}" -i inst-$i; done
describe_json() { ST_CMD_TIMEOUT=15 st_cli --json group describe grp --timeout-ms 5000 >"$1" 2>"$1.err"; }
jget() { /usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$@"; }
stable3() {
    describe_json "$ST_TMP/d1.json" && [ "$(jget "$ST_TMP/d1.json" 'd["state"]')" = Stable ] &&
        [ "$(jget "$ST_TMP/d1.json" 'sum(len(m["assignment"]) for m in d["members"])')" = 6 ] &&
        [ "$(jget "$ST_TMP/d1.json" 'len(d["members"])')" = 3 ]
}
st_wait 30 stable3 || st_fail "group not Stable with 3 members owning 6 partitions: $(cat "$ST_TMP/d1.json")"
st_wait 30 consumed_is 1200 || st_fail "members read $(consumed_count) of 1200 records"
GEN1=$(jget "$ST_TMP/d1.json" 'd["generation"]')
mine() { awk '$3 == "A" { o[$4 " " $5] = 1 } $3 == "R" || $3 == "L" { delete o[$4 " " $5] } END { for (k in o) print k }' "$1" | sort; }
mine "$ST_TMP/c2.log" >"$ST_TMP/c2.before"
[ -s "$ST_TMP/c2.before" ] || st_fail "c2 owns nothing"
sleep 1   # past the last commit of c2

kill -9 "$(sg_pid c2)"
kill_us=$(date +%s%6N)
mv "$ST_TMP/c2.log" "$ST_TMP/c2-old.log"
sleep 1
sg_start c2 "${G[@]}" -i inst-2
st_wait 20 grep -q ' A ' "$ST_TMP/c2.log" || st_fail "restarted c2 got no assignment within 20 s"
mine "$ST_TMP/c2.log" >"$ST_TMP/c2.after"
cmp -s "$ST_TMP/c2.before" "$ST_TMP/c2.after" ||
    st_fail "restarted c2 got [$(tr '\n' ' ' <"$ST_TMP/c2.after")], before the kill it had [$(tr '\n' ' ' <"$ST_TMP/c2.before")]"
P -N 600 -S 1200 -k 97 || st_fail "produce 2"
st_wait 30 consumed_is 1800 || st_fail "after the restart members read $(consumed_count) of 1800 records"
describe_json "$ST_TMP/d2.json" || st_fail "describe after restart: $(cat "$ST_TMP/d2.json.err")"
GEN2=$(jget "$ST_TMP/d2.json" 'd["generation"]')
[ "$GEN2" = "$GEN1" ] || st_fail "generation went from $GEN1 to $GEN2: the static restart caused a rebalance"
[ "$(jget "$ST_TMP/d2.json" 'd["state"]')" = Stable ] || st_fail "group not Stable after the restart"
for n in c1 c3; do
    awk -v k="$kill_us" '$1 > k && ($3 == "A" || $3 == "R" || $3 == "L")' "$ST_TMP/$n.log" | grep -q . &&
        st_fail "$n saw a rebalance after the static restart: $(awk -v k="$kill_us" '$1 > k && $3 ~ /^[ARL]$/' "$ST_TMP/$n.log" | head -3 | tr '\n' ' ')"
done
# the restarted member reads on from its committed offsets: the first
# record it reads per partition is no earlier than its old last commit
while read -r t p; do
    lc=$(awk -v p="$p" '$3 == "C" && $5 == p { c = $6 } END { print c + 0 }' "$ST_TMP/c2-old.log")
    f=$(awk -v p="$p" '$3 == "F" && $5 == p { print $6; exit }' "$ST_TMP/c2.log")
    [ -n "$f" ] && [ "$f" -lt "$lc" ] && st_fail "restarted c2 re-read $T-$p from $f although it had committed $lc"
done <"$ST_TMP/c2.after"
st_log "static restart: generation $GEN1 unchanged, c2 kept [$(tr '\n' ' ' <"$ST_TMP/c2.after")]"
for n in c1 c2 c3; do sg_term $n; done
st_ok
