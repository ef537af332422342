#!/usr/bin/env bash
# `strata group describe` lag figures: a member reads exactly 500 of 900
# records of a 3-partition topic, committing after each, and leaves; 300
# more are written. For every partition, the CURRENT-OFFSET, LOG-END-OFFSET
# and LAG columns (and --json) of each committed partition are the
# member's last commit, the number of records produced to it and their
# difference;
# the lags add up to 1200 - 500 (counting a partition never committed
# with all its records).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-group.sh"
sg_cluster_start
T=lagt
sg_topic_create $T 3 2
P() { sg_produce $T "$@"; }
P -N 900 -k 97 || st_fail "produce 1: $(tail -2 "$ST_TMP/produce.err")"
sg_start c1 -g lagg -t $T -s 6000 -c 1 -m 500
pid=$(sg_pid c1)
st_wait 40 st_not_running "$pid" || st_fail "member did not stop after 500 records within 40 s"
wait "$pid" || st_fail "member exited with status $?: $(tail -2 "$ST_TMP/c1.err")"
[ "$(awk '$3 == "M"' "$ST_TMP/c1.log" | wc -l)" = 500 ] || st_fail "member read $(awk '$3 == "M"' "$ST_TMP/c1.log" | wc -l) records, expected 500"
P -N 300 -S 900 -k 97 || st_fail "produce 2: $(tail -2 "$ST_TMP/produce.err")"

# expected "p committed end lag" per partition
for p in 0 1 2; do
    c=$(awk -v p=$p '$3 == "C" && $5 == p { c = $6 } END { print (c == "" ? "-" : c) }' "$ST_TMP/c1.log")
    e=$(awk -v p=$p '$1 == "D" && $2 == p' "$ST_TMP/produced.txt" | wc -l)
    if [ "$c" = - ]; then l=-; else l=$((e - c)); fi
    echo "$p $c $e $l"
done >"$ST_TMP/expected.txt"
st_log "expected (p committed end lag): $(tr '\n' ';' <"$ST_TMP/expected.txt")"

empty() { st_cli group describe lagg >"$ST_TMP/describe.txt" 2>&1 && grep -q 'STATE Empty' "$ST_TMP/describe.txt"; }
st_wait 20 empty || st_fail "group not Empty after its member left: $(head -2 "$ST_TMP/describe.txt")"
# an Empty group has no assignment: rows are the committed partitions
grep -v ' - ' "$ST_TMP/expected.txt" >"$ST_TMP/expected-c.txt"
[ -s "$ST_TMP/expected-c.txt" ] || st_fail "the member committed nothing"
awk -v t=$T '$1 == t { print $2, $3, $4, $5 }' "$ST_TMP/describe.txt" | sort -n >"$ST_TMP/got.txt"
cmp -s "$ST_TMP/expected-c.txt" "$ST_TMP/got.txt" ||
    st_fail "describe rows (p current end lag) [$(tr '\n' ';' <"$ST_TMP/got.txt")], expected [$(tr '\n' ';' <"$ST_TMP/expected.txt")]"
st_cli --json group describe lagg >"$ST_TMP/describe.json" 2>&1 || st_fail "describe --json: $(cat "$ST_TMP/describe.json")"
/usr/bin/python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
for o in sorted(d["offsets"], key=lambda o: o["partition"]):
    c = "-" if o["committed"] < 0 else o["committed"]
    l = "-" if o["lag"] is None else o["lag"]
    print(o["partition"], c, o["end"], l)' "$ST_TMP/describe.json" >"$ST_TMP/gotj.txt" || st_fail "bad JSON: $(cat "$ST_TMP/describe.json")"
grep -v ' - ' "$ST_TMP/gotj.txt" >"$ST_TMP/gotj-c.txt"
cmp -s "$ST_TMP/expected-c.txt" "$ST_TMP/gotj-c.txt" ||
    st_fail "describe --json rows [$(tr '\n' ';' <"$ST_TMP/gotj.txt")], expected [$(tr '\n' ';' <"$ST_TMP/expected.txt")]"
total=$(awk '{ s += ($4 == "-" ? $3 : $4) } END { print s }' "$ST_TMP/expected.txt")
[ "$total" = 700 ] || st_fail "lags plus uncommitted partitions add up to $total, expected 700"
st_ok
