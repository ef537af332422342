#!/usr/bin/env bash
# The README's quick start: scripts/quickstart (with the binaries of this
# build, its state in this test's temp dir, free ports) starts ZooKeeper
# and 3 brokers, creates the RF=3 topic, round-trips 5 records with
# acks=all, says the tree is consistent, serves and prints each broker's
# /metrics URL, and `stop` leaves nothing running.
. "$(dirname "$0")/lib.sh"
st_need "$STRATA" "$STRATAD"
qs=$ST_TMP/qs
zport=$(st_free_port) || st_fail "no free port"
bport=$(st_free_port) || st_fail "no free port"
mport=$(st_free_port) || st_fail "no free port"
QS_NO_BUILD=1 QS_BUILD=$ST_BUILD QS_DIR=$qs QS_ZK_PORT=$zport QS_BROKER_PORT=$bport QS_METRICS_PORT=$mport \
    timeout -k 5 120 "$ST_SRC/scripts/quickstart" >"$ST_TMP/qs.out" 2>&1
rc=$?
# whatever happened, the harness kills what quickstart started
for f in "$qs"/pids/*.pid; do [ -f "$f" ] && st_track_pid "qs-$(basename "$f" .pid)" "$(cat "$f")"; done
st_log "quickstart: $(cat "$ST_TMP/qs.out")"
[ $rc -eq 0 ] || st_fail "scripts/quickstart exited $rc: $(tail -5 "$ST_TMP/qs.out")"
n=$(grep -c '^  partition [0-9]* offset [0-9]*: key-[1-5] = hello strata [1-5]$' "$ST_TMP/qs.out")
[ "$n" -eq 5 ] || st_fail "quickstart consumed $n of its 5 records: $(cat "$ST_TMP/qs.out")"
grep -q 'the ZooKeeper tree is consistent' "$ST_TMP/qs.out" || st_fail "quickstart's zk check: $(cat "$ST_TMP/qs.out")"
. "$qs/env"
rf=$("$STRATA" -b "$QS_BOOTSTRAP" topic describe quickstart 2>&1) || st_fail "topic describe: $rf"
echo "$rf" | grep -q 'ReplicationFactor: 3' || st_fail "topic quickstart is not RF=3: $rf"
[ "$(echo "$QS_METRICS" | wc -w)" -eq 3 ] || st_fail "quickstart names $(echo "$QS_METRICS" | wc -w) metrics URLs: '$QS_METRICS'"
for u in $QS_METRICS; do
    grep -qF "$u" "$ST_TMP/qs.out" || st_fail "quickstart does not print $u"
    curl -s -m 5 "$u" | grep -q '^strata_broker_info{' || st_fail "$u serves no strata_broker_info"
done
QS_DIR=$qs "$ST_SRC/scripts/quickstart" status >"$ST_TMP/status.out" 2>&1
[ "$(grep -c ': running (pid' "$ST_TMP/status.out")" -eq 4 ] || st_fail "status: $(cat "$ST_TMP/status.out")"
QS_DIR=$qs timeout -k 5 90 "$ST_SRC/scripts/quickstart" stop >"$ST_TMP/stop.out" 2>&1 || st_fail "stop: $(cat "$ST_TMP/stop.out")"
for f in "$ST_TMP"/pids/qs-*.pid; do
    st_wait 10 st_not_running "$(cat "$f")" || st_fail "$(basename "$f" .pid) still running after quickstart stop"
done
st_ok
