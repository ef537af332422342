#!/usr/bin/env bash
# Cooperative rebalance (cooperative-sticky): 2 members read a 6-partition
# topic while records arrive; a third joins. Only the partitions the new
# member gets are revoked from the others (no revoke of a kept partition
# in their callback logs, nothing assigned to them again), the kept ones
# are read on after the move, ownership never overlaps, every record is
# read exactly once.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-group.sh"
sg_cluster_start
T=coop
sg_topic_create $T 6 2

P() { sg_produce $T "$@"; }
P -N 1000 -k 97 || st_fail "produce 1: $(tail -2 "$ST_TMP/produce.err")"
G=(-g grp -t $T -s 6000 -a cooperative-sticky -X heartbeat.interval.ms=500)
sg_start c1 "${G[@]}"
sg_start c2 "${G[@]}"
both3() { [ "$(cat "$ST_TMP/c1.log" "$ST_TMP/c2.log" | awk '$3 == "A"' | wc -l)" -ge 6 ] && consumed_is 1000; }
st_wait 30 both3 || st_fail "c1 and c2 did not take the 6 partitions and read 1000 records within 30 s"
sleep 1
P -N 3000 -S 1000 -k 97 -r 600 &
ppid=$!
sleep 1.5
sg_start c3 "${G[@]}"
st_wait 30 grep -q ' A ' "$ST_TMP/c3.log" || st_fail "c3 was not assigned a partition within 30 s"
wait $ppid || st_fail "produce 2: $(tail -2 "$ST_TMP/produce.err")"
st_wait 40 consumed_is 4000 || st_fail "members read $(consumed_count) of 4000 records in 40 s"
end_us=$(date +%s%6N)
for n in c1 c2 c3; do sg_term $n; done

/usr/bin/python3 - "$ST_TMP" "$end_us" <<'PY' >"$ST_TMP/check.out" 2>&1 || st_fail "$(tail -1 "$ST_TMP/check.out")"
import glob, sys
d, end_us = sys.argv[1], int(sys.argv[2])
ev = []
for f in sorted(glob.glob(d + "/c*.log")):
    for line in open(f):
        w = line.split()
        if len(w) >= 3:
            ev.append((int(w[0]), w[1], w[2], w[3:]))
ev.sort(key=lambda e: e[0])
join_us = min(ts for ts, m, k, a in ev if m == "c3" and k == "S")
owner, read, dups = {}, set(), 0
revoked, given, kept_read, regiven = set(), set(), {}, []
first_c3_a = None
for ts, m, k, a in ev:
    if k in ("A", "R", "L", "M"):
        tp = (a[0], int(a[1]))
    window = join_us <= ts <= end_us
    if k == "A":
        if tp in owner and owner[tp] != m:
            sys.exit("FAIL: %s-%d assigned to %s while %s still owns it" % (tp[0], tp[1], m, owner[tp]))
        owner[tp] = m
        if window and m == "c3":
            given.add(tp)
            first_c3_a = first_c3_a or ts
        elif window:
            regiven.append((m, tp))
    elif k in ("R", "L"):
        if owner.get(tp) == m:
            del owner[tp]
        if window and m != "c3":
            revoked.add(tp)
    elif k == "M":
        if owner.get(tp) != m:
            sys.exit("FAIL: %s returned a record of %s-%d while %s owns it" % (m, tp[0], tp[1], owner.get(tp)))
        key = (tp[1], int(a[2]))
        dups += key in read
        read.add(key)
        if first_c3_a and ts > first_c3_a and m != "c3":
            kept_read[tp] = kept_read.get(tp, 0) + 1
if not given:
    sys.exit("FAIL: c3 got nothing")
if revoked != given:
    sys.exit("FAIL: c1/c2 revoked %s while c3 was given %s: a kept partition was revoked" % (sorted(revoked), sorted(given)))
if regiven:
    sys.exit("FAIL: partitions assigned again to old members during the rebalance: %s" % regiven)
kept = {(t, p) for t, p in [("coop", i) for i in range(6)]} - given
unread = [tp for tp in kept if not kept_read.get(tp)]
if unread:
    sys.exit("FAIL: kept partitions %s not read after the new member joined" % sorted(unread))
prod = set()
for line in open(d + "/produced.txt"):
    w = line.split()
    if w and w[0] == "D":
        prod.add((int(w[1]), int(w[2])))
if prod - read:
    sys.exit("FAIL: %d produced records never read" % len(prod - read))
if dups:
    sys.exit("FAIL: %d records read twice" % dups)
print("cooperative ok: c3 took %s, kept %d partitions untouched, %d records" % (sorted(p for t, p in given), len(kept), len(read)))
PY
st_log "$(cat "$ST_TMP/check.out")"
echo "$(cat "$ST_TMP/check.out")" >&2
st_ok
