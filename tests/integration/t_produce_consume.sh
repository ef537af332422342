#!/usr/bin/env bash
# 100,000 keyed records through the CLI and back: nothing missing, nothing
# twice, one partition per key, and within a partition the order in which
# each key's records were produced is kept.
. "$(dirname "$0")/lib.sh"
st_need "$STRATA"
st_cluster_start 3
N=100000
st_cli topic create keyed --partitions 6 --replication-factor 1 >/dev/null 2>&1 || st_fail "topic create"
st_wait 20 st_topic_ready keyed 6 || st_fail "keyed: no leaders"

# key k<i mod 997>, value <i> (zero-padded so sorting is numeric)
awk -v n=$N 'BEGIN { for (i = 0; i < n; i++) printf "k%d\t%07d\n", i % 997, i }' >"$ST_TMP/in.txt"
t0=$SECONDS
st_cli produce -t keyed -K $'\t' --acks all <"$ST_TMP/in.txt" >"$ST_TMP/p.out" 2>&1 || st_fail "produce: $(tail -3 "$ST_TMP/p.out")"
st_log "produced $N in $((SECONDS - t0)) s"
t0=$SECONDS
st_cli consume -t keyed -o beginning -e -f '%p %o %k %s\n' >"$ST_TMP/out.txt" 2>"$ST_TMP/c.err" ||
    st_fail "consume: $(tail -3 "$ST_TMP/c.err")"
st_log "consumed in $((SECONDS - t0)) s"

got=$(wc -l <"$ST_TMP/out.txt")
[ "$got" -eq $N ] || st_fail "consumed $got records, expected $N"
# nothing missing or twice: the values are exactly 0..N-1
awk '{ print $4 }' "$ST_TMP/out.txt" | sort | uniq -d | head -1 | grep -q . && st_fail "a value was consumed twice"
cmp -s <(awk '{ print $4 }' "$ST_TMP/out.txt" | sort) <(cut -f2 "$ST_TMP/in.txt" | sort) ||
    st_fail "the consumed values differ from the produced ones"
# same key -> same partition
bad=$(awk '{ if (($3 in p) && p[$3] != $1) { print $3; exit } p[$3] = $1 }' "$ST_TMP/out.txt")
[ -z "$bad" ] || st_fail "key $bad appears in two partitions"
# keys spread over more than one partition (the partitioner is not trivial)
np=$(awk '{ print $1 }' "$ST_TMP/out.txt" | sort -u | wc -l)
[ "$np" -ge 4 ] || st_fail "997 keys landed in only $np of 6 partitions"
# per partition: offsets strictly increase and values (production order) increase
bad=$(awk '{ if (($1 in o) && ($2 <= o[$1] || $4 <= v[$1])) { print $1 " at offset " $2 ": record " $4 " (key " $3 ") after record " v[$1]; exit } o[$1] = $2; v[$1] = $4 }' "$ST_TMP/out.txt")
[ -z "$bad" ] || st_fail "order broken in partition $bad"
st_ok
