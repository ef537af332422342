#!/usr/bin/env bash
# A leader SIGKILLed and restarted at once registers again as soon as its
# old session expires, so the controller may see the registration deleted
# and re-created between two reads (KAFKA-7235). It must still see a
# restart: every partition the broker led gets a new leader epoch, so
# nothing addressed to its previous life (retried produces, fetches with
# the old epoch) is served as if it had not restarted.
. "$(dirname "$0")/lib.sh"
st_need "$STRATA"
st_cluster_start 2
st_cli topic create bounce --partitions 4 --replication-factor 1 >/dev/null 2>&1 || st_fail "topic create"
st_wait 20 st_topic_ready bounce 4 || st_fail "bounce: no leaders"
seq 1 400 | sed 's/^/r/' | st_cli produce -t bounce --acks all >/dev/null 2>&1 || st_fail "produce"
c=$(st_controller_id)
[ -n "$c" ] || st_fail "no controller"
b=$((c == 1 ? 2 : 1))
for round in 1 2 3; do
    parts=() epochs=()
    for p in 0 1 2 3; do
        if [ "$(st_state_field bounce "$p" leader)" = "$b" ]; then
            parts+=("$p")
            epochs+=("$(st_state_field bounce "$p" leader_epoch)")
        fi
    done
    [ ${#parts[@]} -gt 0 ] || st_fail "round $round: broker $b leads no partition of bounce"
    log=$ST_TMP/b$b/stratad.log
    n0=$(grep -c "registered broker $b in ZooKeeper" "$log")
    st_broker_kill9 "$b"
    st_broker_start "$b"
    again() { [ "$(grep -c "registered broker $b in ZooKeeper" "$log")" -gt "$n0" ]; }
    st_wait 30 again || st_fail "round $round: broker $b did not register again"
    st_wait 20 st_topic_ready bounce 4 || st_fail "round $round: bounce: no leaders after the restart"
    for i in "${!parts[@]}"; do
        p=${parts[$i]}
        bumped() { e=$(st_state_field bounce "$p" leader_epoch); [ -n "$e" ] && [ "$e" -gt "${epochs[$i]}" ]; }
        st_wait 15 bumped || st_fail "round $round: bounce-$p led by restarted broker $b still at leader epoch ${epochs[$i]}"
    done
done
n=$(st_cli consume -t bounce -o beginning -e 2>/dev/null | sort -u | wc -l)
[ "$n" -eq 400 ] || st_fail "after three restarts: $n distinct records, expected 400"
st_ok
