#!/usr/bin/env bash
# Restart a broker (SIGTERM, then SIGKILL): its data is intact afterwards.
. "$(dirname "$0")/lib.sh"
st_need "$STRATA"
st_cluster_start 1
st_cli topic create dur --partitions 2 --replication-factor 1 >/dev/null 2>&1 || st_fail "topic create"
st_wait 20 st_topic_ready dur 2 || st_fail "dur: no leaders"
seq 1 5000 | sed 's/^/r/' | st_cli produce -t dur --acks all >/dev/null 2>&1 || st_fail "produce 1"
before=$(st_cli consume -t dur -o beginning -e -f '%p %o %s\n' 2>/dev/null | sort)
[ "$(printf '%s\n' "$before" | wc -l)" -eq 5000 ] || st_fail "before restart: $(printf '%s\n' "$before" | wc -l) records"

st_broker_stop 1
st_wait 15 sh -c "! '$ST_ZKTOOL' -z '$ST_ZK' get /brokers/ids/1" || st_fail "registration stayed after SIGTERM"
st_broker_start 1
st_wait 20 st_topic_ready dur 2 || st_fail "dur: no leader after restart"
after=$(st_cli consume -t dur -o beginning -e -f '%p %o %s\n' 2>/dev/null | sort)
[ "$before" = "$after" ] || st_fail "records differ after a clean restart"

seq 5001 6000 | sed 's/^/r/' | st_cli produce -t dur --acks all >/dev/null 2>&1 || st_fail "produce 2"
st_broker_kill9 1
# the old session's ephemeral znode lingers until the session expires
# (zookeeper.session.timeout.ms=4000): then start again
st_wait 20 sh -c "! '$ST_ZKTOOL' -z '$ST_ZK' get /brokers/ids/1" || st_fail "registration of the killed broker never expired"
st_broker_start 1
st_wait 20 st_topic_ready dur 2 || st_fail "dur: no leader after kill -9"
n=$(st_cli consume -t dur -o beginning -e 2>/dev/null | sort -u | wc -l)
[ "$n" -eq 6000 ] || st_fail "after kill -9 and restart: $n distinct records, expected 6000"
st_ok
