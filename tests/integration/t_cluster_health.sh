#!/usr/bin/env bash
# `strata cluster health` exit codes and figures: 0 and "healthy" on a
# healthy RF=3 cluster, with a group's total lag (committed offsets behind
# the high watermark) in its top-lagging list; 3 once a killed broker
# leaves partitions under-replicated; 0 again after the restart; 1 when no
# broker answers.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
st_cluster_start 3
T=healtht
st_cli topic create $T --partitions 3 --replication-factor 3 >"$ST_TMP/create.out" 2>&1 ||
    st_fail "topic create: $(cat "$ST_TMP/create.out")"
st_wait 30 st_topic_ready $T 3 || st_fail "topic $T has no leaders"
seq 1 300 | sed 's/.*/k&:v&/' | st_cli produce -t $T -K : >"$ST_TMP/produce.out" 2>&1 ||
    st_fail "produce: $(cat "$ST_TMP/produce.out")"
st_cli group reset-offsets hg -t $T --to-offset 10 --execute >"$ST_TMP/reset.out" 2>&1 ||
    st_fail "reset-offsets: $(cat "$ST_TMP/reset.out")"
st_cli --json group describe hg >"$ST_TMP/describe.json" 2>&1 || st_fail "describe: $(cat "$ST_TMP/describe.json")"
want=$($PY -c 'import json, sys; print(sum(o["lag"] or 0 for o in json.load(open(sys.argv[1]))["offsets"]))' "$ST_TMP/describe.json")
[ "$want" -gt 0 ] || st_fail "the group has no lag ($want)"

health() { ST_CMD_TIMEOUT=30 st_cli "$@" cluster health --timeout-ms 5000 >"$ST_TMP/health.out" 2>&1; }
healthy() { health; }
st_wait 30 healthy || st_fail "health exits $? on a healthy cluster: $(cat "$ST_TMP/health.out")"
grep -q "HEALTHY" "$ST_TMP/health.out" || st_fail "no HEALTHY line: $(cat "$ST_TMP/health.out")"
health --json || st_fail "health --json exits $?: $(cat "$ST_TMP/health.out")"
$PY - "$ST_TMP/health.out" "$want" <<'PYEOF' || st_fail "health --json: $(cat "$ST_TMP/health.out") (group lag expected $want)"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["healthy"] is True and d["offline"] == 0 and d["under_replicated"] == 0, d
assert d["controller"] >= 1 and len(d["brokers"]) == 3, d
assert d["partitions"] >= 3, d
g = [x for x in d["top_lagging_groups"] if x["group"] == "hg"]
assert g and g[0]["lag"] == int(sys.argv[2]), g
PYEOF

st_broker_kill9 3
unhealthy() { health; [ $? = 3 ]; }
st_wait 60 unhealthy || st_fail "health did not exit 3 within 60 s of killing broker 3: $(cat "$ST_TMP/health.out")"
grep -q "UNHEALTHY" "$ST_TMP/health.out" || st_fail "no UNHEALTHY line: $(cat "$ST_TMP/health.out")"
st_broker_start 3
st_wait 90 healthy || st_fail "health did not exit 0 within 90 s of restarting broker 3: $(cat "$ST_TMP/health.out")"

dead=$(st_free_port) || st_fail "no free port"
timeout -k 2 30 "$STRATA" -b "tcp://127.0.0.1:$dead" cluster health --timeout-ms 2000 >"$ST_TMP/dead.out" 2>&1
rc=$?
[ $rc = 1 ] || st_fail "health against no broker exits $rc, expected 1: $(cat "$ST_TMP/dead.out")"
st_ok
