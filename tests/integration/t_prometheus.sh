#!/usr/bin/env bash
# Every broker is a Prometheus target: three brokers serve metrics.listener,
# Debian's prometheus (its own config, data dir and loopback port) scrapes
# them every second, and the assertions go through Prometheus's HTTP query
# API. An RF=3 topic is healthy (no under-replicated partition, exactly one
# active controller); killing a broker makes sum(under-replicated) > 0,
# restarting it brings it back to 0; a group whose committed offsets trail
# the high watermark has, per partition, the lag `strata group describe`
# reports. /healthz answers 200 on a registered broker and 503 with a
# reason on a broker that cannot reach ZooKeeper; other paths are 404;
# `promtool check metrics` accepts the page.
. "$(dirname "$0")/lib.sh"
PROM=/usr/bin/prometheus
[ -x "$PROM" ] || st_fail "prometheus not installed (apt-get install prometheus)"
PY=/usr/bin/python3

st_zk_setup
declare -A MPORT
for i in 1 2 3; do
    MPORT[$i]=$(st_free_port) || st_fail "no free port"
    st_broker_config "$i" "metrics.listener=http://127.0.0.1:${MPORT[$i]}" replica.lag.time.max.ms=3000
done
for i in 1 2 3; do st_broker_start "$i"; done
st_wait 20 st_zkc get /controller || st_fail "no controller elected within 20 s"

http_code() { curl -s -m 5 -o "$ST_TMP/http.body" -w '%{http_code}' "$1"; }

# ---- /healthz and /metrics served by the broker itself
healthy1() { [ "$(http_code "http://127.0.0.1:${MPORT[1]}/healthz")" = 200 ]; }
st_wait 20 healthy1 || st_fail "/healthz of broker 1 is not 200: $(cat "$ST_TMP/http.body")"
grep -qx ok "$ST_TMP/http.body" || st_fail "/healthz body '$(cat "$ST_TMP/http.body")', expected ok"
[ "$(http_code "http://127.0.0.1:${MPORT[1]}/nope")" = 404 ] || st_fail "/nope is not 404"
[ "$(http_code "http://127.0.0.1:${MPORT[1]}/metrics")" = 200 ] || st_fail "/metrics is not 200"
grep -q '^strata_broker_info{broker_id="1",' "$ST_TMP/http.body" || st_fail "/metrics has no strata_broker_info"
promtool check metrics <"$ST_TMP/http.body" >"$ST_TMP/lint.out" 2>&1 || st_fail "promtool check metrics: $(head -5 "$ST_TMP/lint.out")"

# a broker that cannot reach ZooKeeper serves /healthz 503 with its reason
deadzk=$(st_free_port) || st_fail "no free port"
MPORT[4]=$(st_free_port) || st_fail "no free port"
st_broker_config 4 "metrics.listener=http://127.0.0.1:${MPORT[4]}" zookeeper.connect=127.0.0.1:$deadzk/x \
    zookeeper.connection.timeout.ms=60000
"$STRATAD" -c "$ST_TMP/b4/server.properties" >>"$ST_TMP/b4/stratad.log" 2>&1 &
st_track_pid b4 $!
disown $!
unhealthy4() { [ "$(http_code "http://127.0.0.1:${MPORT[4]}/healthz")" = 503 ]; }
st_wait 20 unhealthy4 || st_fail "/healthz of a broker without ZooKeeper is not 503 ($(cat "$ST_TMP/http.body"))"
grep -q "ZooKeeper" "$ST_TMP/http.body" || st_fail "503 without a reason: '$(cat "$ST_TMP/http.body")'"
kill -9 "$(st_broker_pid 4)"

# ---- Prometheus on loopback, scraping the three brokers every second
PPORT=$(st_free_port) || st_fail "no free port"
mkdir -p "$ST_TMP/prom/data"
cat >"$ST_TMP/prom/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: strata
    static_configs:
      - targets: ['127.0.0.1:${MPORT[1]}', '127.0.0.1:${MPORT[2]}', '127.0.0.1:${MPORT[3]}']
YML
"$PROM" --config.file="$ST_TMP/prom/prometheus.yml" --storage.tsdb.path="$ST_TMP/prom/data" \
    --web.listen-address="127.0.0.1:$PPORT" --log.level=warn >"$ST_TMP/prom/prometheus.log" 2>&1 &
PROM_PID=$!
disown $!
trap 'kill -9 $PROM_PID 2>/dev/null; st_cleanup' EXIT
st_log "prometheus pid $PROM_PID on 127.0.0.1:$PPORT"

# q EXPR: the value of a one-sample instant query ("" when empty or many)
q() {
    curl -s -m 5 --get --data-urlencode "query=$1" "http://127.0.0.1:$PPORT/api/v1/query" |
        $PY -c '
import json, sys
d = json.load(sys.stdin)
r = d["data"]["result"] if d.get("status") == "success" else []
print(r[0]["value"][1] if len(r) == 1 else "")' 2>/dev/null
}
# q_is EXPR VALUE / q_gt0 EXPR
q_is() { [ "$(q "$1")" = "$2" ]; }
q_gt0() { local v; v=$(q "$1"); [ -n "$v" ] && $PY -c "import sys; sys.exit(0 if float('$v') > 0 else 1)"; }

st_wait 60 q_is 'sum(up{job="strata"})' 3 || st_fail "Prometheus does not see 3 targets up: $(q 'sum(up{job="strata"})'); $(tail -3 "$ST_TMP/prom/prometheus.log")"
st_wait 30 q_is 'sum(strata_controller_active)' 1 || st_fail "sum(strata_controller_active) is '$(q 'sum(strata_controller_active)')', expected 1"

# ---- an RF=3 topic, healthy
T=promt
st_cli topic create $T --partitions 3 --replication-factor 3 >"$ST_TMP/create.out" 2>&1 ||
    st_fail "topic create: $(cat "$ST_TMP/create.out")"
st_wait 30 st_topic_ready $T 3 || st_fail "topic $T has no leaders"
seq 1 300 | sed 's/.*/k&:v&/' | st_cli produce -t $T -K : >"$ST_TMP/produce.out" 2>&1 || st_fail "produce: $(cat "$ST_TMP/produce.out")"
st_wait 30 q_is "sum(strata_partitions_led{job=\"strata\"})" 3 ||
    st_fail "sum(strata_partitions_led) is '$(q 'sum(strata_partitions_led)')', expected 3"
st_wait 30 q_is 'sum(strata_partitions_under_replicated)' 0 ||
    st_fail "under-replicated is '$(q 'sum(strata_partitions_under_replicated)')' on a healthy cluster"
st_wait 30 q_is "sum(strata_topic_records_in_total{topic=\"$T\"})" 300 ||
    st_fail "records in of $T: '$(q "sum(strata_topic_records_in_total{topic=\"$T\"})")', expected 300"

# ---- kill one broker: under-replicated > 0; restart: back to 0
st_broker_kill9 3
st_wait 60 q_gt0 'sum(strata_partitions_under_replicated)' ||
    st_fail "under-replicated did not become > 0 within 60 s of killing broker 3 ('$(q 'sum(strata_partitions_under_replicated)')')"
st_log "under-replicated with broker 3 down: $(q 'sum(strata_partitions_under_replicated)')"
st_broker_start 3
st_wait 90 q_is 'sum(strata_partitions_under_replicated)' 0 ||
    st_fail "under-replicated did not return to 0 within 90 s of restarting broker 3 ('$(q 'sum(strata_partitions_under_replicated)')')"
st_wait 30 q_is 'sum(up{job="strata"})' 3 || st_fail "broker 3 not scraped again"

# ---- consumer group lag: committed offsets behind the high watermark
G=promg
st_cli group reset-offsets $G -t $T --to-offset 10 --execute >"$ST_TMP/reset.out" 2>&1 ||
    st_fail "reset-offsets: $(cat "$ST_TMP/reset.out")"
st_cli --json group describe $G >"$ST_TMP/describe.json" 2>&1 || st_fail "describe: $(cat "$ST_TMP/describe.json")"
$PY -c '
import json, sys
for o in json.load(open(sys.argv[1]))["offsets"]:
    print(o["partition"], o["lag"])' "$ST_TMP/describe.json" | sort -n >"$ST_TMP/lag.expected" ||
    st_fail "bad describe JSON: $(cat "$ST_TMP/describe.json")"
[ "$(wc -l <"$ST_TMP/lag.expected")" = 3 ] || st_fail "describe lists $(wc -l <"$ST_TMP/lag.expected") partitions, expected 3"
awk '$2 == "None" { exit 1 } $2 > 0 { n++ } END { exit n >= 2 ? 0 : 1 }' "$ST_TMP/lag.expected" ||
    st_fail "expected a lag on at least two partitions: $(tr '\n' ';' <"$ST_TMP/lag.expected")"
lag_matches() {
    local p want got
    while read -r p want; do
        got=$(q "max(strata_consumer_group_lag{group=\"$G\",topic=\"$T\",partition=\"$p\"})")
        [ "$got" = "$want" ] || return 1
    done <"$ST_TMP/lag.expected"
}
st_wait 30 lag_matches || {
    got=""
    while read -r p want; do got="$got p$p=$(q "max(strata_consumer_group_lag{group=\"$G\",partition=\"$p\"})")/$want"; done <"$ST_TMP/lag.expected"
    st_fail "strata_consumer_group_lag (got/expected):$got"
}
st_ok
