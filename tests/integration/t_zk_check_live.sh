#!/usr/bin/env bash
# `strata zk check` on a live 3-broker cluster with topics passes, and fails
# (exit 1, naming the znode) once a znode is corrupted by hand.
. "$(dirname "$0")/lib.sh"
st_need "$STRATA"
st_cluster_start 3
st_cli topic create live --partitions 4 --replication-factor 2 --config retention.ms=3600000 >/dev/null 2>&1 ||
    st_fail "topic create"
st_wait 20 st_topic_ready live 4 || st_fail "live: no leaders"
out=$("$STRATA" zk -z "$ST_ZK" check 2>&1) || st_fail "check of the live cluster: $out"
echo "$out" | grep -q ' 0 deviations' || st_fail "unexpected output: $out"
"$STRATA" zk -z "$ST_ZK" tree >"$ST_TMP/tree.txt" 2>&1 || st_fail "zk tree failed"
grep -q '^/brokers/ids/1 (ephemeral) {' "$ST_TMP/tree.txt" || st_fail "zk tree does not show broker 1 as ephemeral"
grep -q '^/config/topics/live {"version":1,"config":{"retention.ms":"3600000"}}' "$ST_TMP/tree.txt" ||
    st_fail "zk tree does not show the topic config: $(grep config/topics "$ST_TMP/tree.txt")"

# corrupt one state by hand (as a careless operator would with zkCli.sh)
st_zkcli set "$ST_CHROOT/brokers/topics/live/partitions/2/state" '{"version":1,"leader":"one","isr":[1]}' >/dev/null ||
    st_fail "zkCli.sh set failed"
out=$("$STRATA" zk -z "$ST_ZK" check 2>&1)
rc=$?
[ $rc -eq 1 ] || st_fail "check after corruption exited $rc: $out"
echo "$out" | grep -q '/brokers/topics/live/partitions/2/state: \$.leader: is string, expected integer' ||
    st_fail "check did not name the corrupted field: $out"
echo "$out" | grep -q 'missing required property "leader_epoch"' || st_fail "check did not report the missing field: $out"
# the brokers survive a corrupt znode
for id in 1 2 3; do kill -0 "$(st_broker_pid $id)" 2>/dev/null || st_fail "broker $id died on a corrupt znode"; done
st_ok
