#!/usr/bin/env bash
# kill -9 the controller: another broker takes over within the session
# timeout, /controller_epoch goes up, and topic creation works again.
. "$(dirname "$0")/lib.sh"
st_need "$STRATA"
st_cluster_start 3
c1=$(st_controller_id)
[ -n "$c1" ] || st_fail "no controller"
e1=$(st_zkc get /controller_epoch) || st_fail "no /controller_epoch"
st_cli topic create before --partitions 3 --replication-factor 3 >/dev/null 2>&1 || st_fail "topic create before failover"
st_wait 20 st_topic_ready before 3 || st_fail "before: no leaders"

st_broker_kill9 "$c1"
t0=$SECONDS
new_controller() { local c; c=$(st_controller_id); [ -n "$c" ] && [ "$c" != "$c1" ]; }
st_wait 30 new_controller || st_fail "no new controller 30 s after killing broker $c1"
c2=$(st_controller_id)
st_log "controller $c1 -> $c2 in $((SECONDS - t0)) s"
e2=$(st_zkc get /controller_epoch)
[ "$e2" -gt "$e1" ] || st_fail "/controller_epoch did not increase ($e1 -> $e2)"
# the dead broker's registration is gone and no partition names it as leader
st_zkc get "/brokers/ids/$c1" >/dev/null 2>&1 && st_fail "broker $c1 still registered"
leaders_moved() {
    local p
    for p in 0 1 2; do
        st_zkc get "/brokers/topics/before/partitions/$p/state" | grep -q "\"leader\":$c1," && return 1
    done
    return 0
}
st_wait 20 leaders_moved || st_fail "partitions still led by the dead broker $c1"
ok=()
for id in 1 2 3; do [ "$id" != "$c1" ] && ok+=("$id"); done
"$STRATA" -b "$(st_bootstrap "${ok[@]}")" topic create after --partitions 2 --replication-factor 2 >"$ST_TMP/c.out" 2>&1 ||
    st_fail "topic create after failover: $(cat "$ST_TMP/c.out")"
st_wait 20 st_topic_ready after 2 || st_fail "after: no leaders"
# acks=1: without follower fetching (replication) a replicated partition's
# high watermark does not move, so acks=all would wait for it
echo hello | "$STRATA" -b "$(st_bootstrap "${ok[@]}")" produce -t after --acks 1 >"$ST_TMP/p.out" 2>&1 ||
    st_fail "produce after failover: $(tail -2 "$ST_TMP/p.out")"

# the old controller comes back as an ordinary broker
st_broker_start "$c1"
[ "$(st_controller_id)" = "$c2" ] || st_fail "controller changed when broker $c1 came back"
out=$("$STRATA" zk -z "$ST_ZK" check 2>&1) || st_fail "zk check after failover: $out"
st_ok
