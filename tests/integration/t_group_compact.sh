#!/usr/bin/env bash
# Log compaction end to end (3 brokers, log.cleaner.backoff.ms=200): a
# cleanup.policy=compact topic with tiny segments (segment.bytes 4096,
# segment.ms 300) takes 20 overwrites of each of 50 keys, then one more
# record after segment.ms so every earlier segment is closed. Within a
# bounded wait the cleaner leaves exactly the latest record of each key
# below the active segment (at most one more); consuming from the beginning gives the latest
# value per key, and every surviving record keeps its original offset.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-group.sh"
sg_cluster_start log.cleaner.backoff.ms=200
T=compacted
KEYS=50
ROUNDS=20
N=$((KEYS * ROUNDS))
sg_topic_create $T 1 2 --config cleanup.policy=compact --config segment.bytes=4096 \
    --config segment.ms=300 --config min.cleanable.dirty.ratio=0.01

P() { sg_produce $T -p 0 -k $KEYS "$@"; }
# paced: small batches, many segments
P -N $N -r 2000 || st_fail "produce: $(tail -2 "$ST_TMP/produce.err")"
sleep 0.5
P -N 1 -S $N || st_fail "produce the last record"
[ "$(grep -c '^D ' "$ST_TMP/produced.txt")" = $((N + 1)) ] || st_fail "not every record acknowledged"
# offsets are 0..N in order (one partition, acks=all, idempotent)
awk '$1 == "D" { if ($3 != n++) bad = 1 } END { exit bad }' "$ST_TMP/produced.txt" ||
    st_fail "produced offsets are not 0..$N in order"
nseg=$(ls "$ST_TMP"/b*/logs/$T-0/*.log 2>/dev/null | wc -l)
st_log "segments before cleaning (all replicas): $nseg"

read_all() { st_cli consume -t $T -o beginning -e -f '%o %k %s\n' >"$ST_TMP/read.txt" 2>"$ST_TMP/read.err"; }
# cleaned: no key twice below the last record (that one, of key k0, may
# or may not have removed k0's previous record yet), at most KEYS + 1 left
cleaned() {
    read_all || return 1
    local below
    below=$(awk -v n=$N '$1 < n' "$ST_TMP/read.txt" | wc -l)
    [ "$(wc -l <"$ST_TMP/read.txt")" -le $((KEYS + 1)) ] &&
        [ "$(awk -v n=$N '$1 < n { print $2 }' "$ST_TMP/read.txt" | sort -u | wc -l)" = "$below" ]
}
st_wait 30 cleaned || st_fail "not compacted 30 s after the last segment closed: $(wc -l <"$ST_TMP/read.txt") records read, $(awk -v n=$N '$1 < n { print $2 }' "$ST_TMP/read.txt" | sort -u | wc -l) distinct keys below offset $N"

/usr/bin/python3 - "$ST_TMP" <<'PY' >"$ST_TMP/check.out" 2>&1 || st_fail "$(tail -1 "$ST_TMP/check.out")"
import sys
d = sys.argv[1]
prod, latest = {}, {}
for line in open(d + "/produced.txt"):
    w = line.split()
    if w and w[0] == "D":
        off = int(w[2])
        prod[off] = (w[3], w[4])
        latest[w[3]] = (off, w[4])
got = {}
for line in open(d + "/read.txt"):
    w = line.split()
    off = int(w[0])
    if prod.get(off) != (w[1], w[2]):
        sys.exit("FAIL: offset %d reads %s=%s, it was written as %s" % (off, w[1], w[2], prod.get(off)))
    got[w[1]] = max(got.get(w[1], (-1, "")), (off, w[2]))
if got != latest:
    bad = [k for k in latest if got.get(k) != latest[k]]
    sys.exit("FAIL: latest value differs for keys %s (e.g. %s: read %s, wrote %s)" % (bad[:5], bad[0], got.get(bad[0]), latest[bad[0]]))
print("compaction ok: %d records written, %d survive, offsets kept" % (len(prod), sum(1 for _ in open(d + "/read.txt"))))
PY
st_log "$(cat "$ST_TMP/check.out")"
echo "$(cat "$ST_TMP/check.out")" >&2
st_ok
