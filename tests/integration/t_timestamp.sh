#!/usr/bin/env bash
# ListOffsets by timestamp: consuming from s@T returns exactly the records
# produced at or after T; earliest/latest behave.
. "$(dirname "$0")/lib.sh"
st_need "$STRATA"
st_cluster_start 1
st_cli topic create ts --partitions 1 --replication-factor 1 >/dev/null 2>&1 || st_fail "topic create"
st_wait 20 st_topic_ready ts 1 || st_fail "ts: no leader"

seq 1 50 | sed 's/^/early-/' | st_cli produce -t ts >/dev/null 2>&1 || st_fail "produce early"
sleep 1.2
T=$(date +%s%3N)
sleep 0.2
seq 1 30 | sed 's/^/late-/' | st_cli produce -t ts >/dev/null 2>&1 || st_fail "produce late"

all=$(st_cli consume -t ts -o beginning -e 2>/dev/null | wc -l)
[ "$all" -eq 80 ] || st_fail "from the beginning: $all records, expected 80"
late=$(st_cli consume -t ts -o "s@$T" -e 2>"$ST_TMP/c.err")
n=$(printf '%s\n' "$late" | grep -c '^late-')
[ "$n" -eq 30 ] || st_fail "from s@$T: $n late records, expected 30 ($(head -2 "$ST_TMP/c.err"))"
printf '%s\n' "$late" | grep -q '^early-' && st_fail "from s@$T: early records returned"
first=$(printf '%s\n' "$late" | head -1)
[ "$first" = late-1 ] || st_fail "from s@$T: first record $first, expected late-1"
# a timestamp after everything: nothing
none=$(st_cli consume -t ts -o "s@$(($(date +%s%3N) + 60000))" -e 2>/dev/null | wc -l)
[ "$none" -eq 0 ] || st_fail "from a future timestamp: $none records"
# -o -N: the last N
last=$(st_cli consume -t ts -o -5 -e 2>/dev/null | tr '\n' ' ')
[ "$last" = "late-26 late-27 late-28 late-29 late-30 " ] || st_fail "-o -5 gave '$last'"
st_ok
