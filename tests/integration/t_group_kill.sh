#!/usr/bin/env bash
# Consumer group member crash: 3 members on a 6-partition topic (3
# brokers), records arriving, one member is killed with SIGKILL (no
# revoke, no LeaveGroup, no last commit). Its partitions move to the other
# two within the session timeout (checked from their own assigned
# callbacks); no record is lost; no partition has two live owners; the
# only records read twice are records of the dead member's partitions at
# or after its last committed offset.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-group.sh"
sg_cluster_start
T=crash
SESSION_MS=4000
sg_topic_create $T 6 2

P() { sg_produce $T "$@"; }
P -N 2000 -k 97 || st_fail "produce 1: $(tail -2 "$ST_TMP/produce.err")"
G=(-g grp -t $T -s $SESSION_MS -c 20 -X heartbeat.interval.ms=500)
for n in c1 c2 c3; do sg_start $n "${G[@]}"; done
for n in c1 c2 c3; do
    st_wait 30 grep -q ' A ' "$ST_TMP/$n.log" || st_fail "member $n was not assigned a partition within 30 s"
done
P -N 4000 -S 2000 -k 97 -r 1000 &
ppid=$!
sleep 1.5
kill -9 "$(sg_pid c2)"
kill_us=$(date +%s%6N)
st_log "killed c2 at $kill_us"
wait $ppid || st_fail "produce 2: $(tail -2 "$ST_TMP/produce.err")"
N=$(grep -c '^D ' "$ST_TMP/produced.txt")
[ "$N" = 6000 ] || st_fail "$N records acknowledged, expected 6000"
st_wait 40 consumed_is "$N" || st_fail "survivors read $(consumed_count) of $N records in 40 s"
sg_term c1
sg_term c3

/usr/bin/python3 - "$ST_TMP" "$kill_us" "$SESSION_MS" <<'PY' >"$ST_TMP/check.out" 2>&1 || st_fail "$(tail -1 "$ST_TMP/check.out")"
import glob, sys
d, kill_us, session_ms = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
ev = []
for f in sorted(glob.glob(d + "/c*.log")):
    for line in open(f):
        w = line.split()
        if len(w) >= 3:
            ev.append((int(w[0]), w[1], w[2], w[3:]))
ev.sort(key=lambda e: e[0])
ev.append((kill_us, "c2", "KILLED", []))
ev.sort(key=lambda e: e[0])
owner, dead_owned, last_commit = {}, set(), {}
read = {}          # (p, off) -> set of members
took = {}          # tp of the dead member -> (time, member) of its first new owner
for ts, m, k, a in ev:
    if m == "c2" and ts > kill_us and k != "KILLED":
        sys.exit("FAIL: c2 logged after its SIGKILL")
    if k == "KILLED":
        dead_owned = {tp for tp, o in owner.items() if o == "c2"}
        for tp in dead_owned:
            del owner[tp]
        continue
    if k in ("A", "R", "L", "M", "C"):
        tp = (a[0], int(a[1]))
    if k == "A":
        if tp in owner and owner[tp] != m:
            sys.exit("FAIL: %s-%d assigned to %s while %s still owns it" % (tp[0], tp[1], m, owner[tp]))
        owner[tp] = m
        if tp in dead_owned and tp not in took:
            took[tp] = (ts, m)
    elif k in ("R", "L"):
        if owner.get(tp) == m:
            del owner[tp]
    elif k == "M":
        if owner.get(tp) != m:
            sys.exit("FAIL: %s returned a record of %s-%d while %s owns it" % (m, tp[0], tp[1], owner.get(tp)))
        read.setdefault((tp[1], int(a[2])), set()).add(m)
    elif k == "C" and m == "c2":
        last_commit[tp[1]] = int(a[2])
if not dead_owned:
    sys.exit("FAIL: c2 owned no partition when it was killed")
worst = 0
for tp in sorted(dead_owned):
    if tp not in took:
        sys.exit("FAIL: %s-%d of the killed member was never assigned to a survivor" % tp)
    delay_ms = (took[tp][0] - kill_us) / 1000
    worst = max(worst, delay_ms)
    if delay_ms > session_ms + 2000:
        sys.exit("FAIL: %s-%d moved %.0f ms after the kill (session timeout %d ms)" % (tp[0], tp[1], delay_ms, session_ms))
prod = set()
for line in open(d + "/produced.txt"):
    w = line.split()
    if w and w[0] == "D":
        prod.add((int(w[1]), int(w[2])))
missing = prod - set(read)
if missing:
    sys.exit("FAIL: %d produced records never read, e.g. %s" % (len(missing), sorted(missing)[:5]))
dead_parts = {tp[1] for tp in dead_owned}
redelivered = 0
for (p, off), ms in read.items():
    if len(ms) < 2:
        continue
    if "c2" not in ms or p not in dead_parts:
        sys.exit("FAIL: record %d/%d read by %s: only the dead member's uncommitted records may come twice" % (p, off, sorted(ms)))
    if off < last_commit.get(p, 0):
        sys.exit("FAIL: record %d/%d re-delivered although c2 committed %d" % (p, off, last_commit[p]))
    redelivered += 1
print("crash ok: %d partitions moved, slowest %.0f ms after the kill; %d records, %d re-delivered" %
      (len(dead_owned), worst, len(read), redelivered))
PY
st_log "$(cat "$ST_TMP/check.out")"
echo "$(cat "$ST_TMP/check.out")" >&2
st_ok
