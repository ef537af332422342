#!/usr/bin/env bash
# Consumer group, 3 members on a 6-partition topic (3 brokers): members
# join one by one while records are being written, one leaves, the rest
# stop. From the members' own rebalance-callback logs (st_group), merged
# by timestamp: no partition is ever owned by two members at once, no
# member returns a record of a partition it does not own, and together
# they read every record produced, and (every move being a clean revoke
# with a commit) none twice.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-group.sh"
sg_cluster_start
T=own
sg_topic_create $T 6 2

P() { sg_produce $T "$@"; }
P -N 3000 -k 97 || st_fail "produce 1: $(tail -2 "$ST_TMP/produce.err")"
P -N 3000 -S 3000 -k 97 -r 1500 &
ppid=$!
G=(-g grp -t $T -s 6000 -X heartbeat.interval.ms=500)
sg_start c1 "${G[@]}"
sleep 1
sg_start c2 "${G[@]}"
sleep 1
sg_start c3 "${G[@]}"
wait $ppid || st_fail "produce 2: $(tail -2 "$ST_TMP/produce.err")"
N=$(grep -c '^D ' "$ST_TMP/produced.txt")
[ "$N" = 6000 ] || st_fail "$N records acknowledged, expected 6000"
st_wait 60 consumed_is "$N" || st_fail "members read $(consumed_count) of $N records in 60 s"
# every member gets partitions (range: 2 each)
for n in c1 c2 c3; do
    st_wait 30 grep -q ' A ' "$ST_TMP/$n.log" || st_fail "member $n was not assigned a partition within 30 s"
done
# one leaves (LeaveGroup: the other two take over), more records, then all stop
sg_term c2
P -N 600 -S 6000 -k 97 || st_fail "produce 3"
st_wait 30 consumed_is $((N + 600)) || st_fail "after c2 left: $(consumed_count) of $((N + 600)) records"
sg_term c1
sg_term c3

/usr/bin/python3 - "$ST_TMP" <<'EOF' >"$ST_TMP/check.out" 2>&1 || st_fail "$(tail -1 "$ST_TMP/check.out")"
import glob, sys
d = sys.argv[1]
ev = []
for f in sorted(glob.glob(d + "/c*.log")):
    for line in open(f):
        w = line.split()
        if len(w) >= 3:
            ev.append((int(w[0]), w[1], w[2], w[3:]))
ev.sort(key=lambda e: e[0])
owner = {}          # (topic, p) -> member
read = set()
dups = 0
moves = 0
for ts, m, k, a in ev:
    if k == "A":
        tp = (a[0], int(a[1]))
        if tp in owner and owner[tp] != m:
            sys.exit("FAIL: %s-%d assigned to %s at %d while %s still owns it" % (tp[0], tp[1], m, ts, owner[tp]))
        owner[tp] = m
        moves += 1
    elif k in ("R", "L"):
        tp = (a[0], int(a[1]))
        if owner.get(tp) == m:
            del owner[tp]
    elif k == "M":
        tp = (a[0], int(a[1]))
        if owner.get(tp) != m:
            sys.exit("FAIL: %s returned a record of %s-%d at %d while %s owns it" % (m, tp[0], tp[1], ts, owner.get(tp)))
        key = (tp[1], int(a[2]))
        dups += key in read
        read.add(key)
    elif k == "X":
        left = [tp for tp, o in owner.items() if o == m]
        if left:
            sys.exit("FAIL: %s exited still owning %s (no revoke on close)" % (m, left))
prod = set()
for line in open(d + "/produced.txt"):
    w = line.split()
    if w and w[0] == "D":
        prod.add((int(w[1]), int(w[2])))
missing = prod - read
if missing:
    sys.exit("FAIL: %d produced records never read, e.g. %s" % (len(missing), sorted(missing)[:5]))
# members commit what they read before giving a partition back: a
# partition that moves is read on from where its last owner stopped
if dups:
    sys.exit("FAIL: %d records read twice although every move was a clean revoke with commit" % dups)
print("ownership ok: %d assignments, %d records" % (moves, len(read)))
EOF
st_log "$(cat "$ST_TMP/check.out")"
st_ok
