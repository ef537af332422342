#!/usr/bin/env bash
# libstrata's statistics callback (statistics.interval.ms) against a real
# broker, through `strata perf --stats-interval-ms`: the producer's reports
# name broker 1 with answered round trips, the consumer's carry its
# partitions with positions, high watermarks and lag.
. "$(dirname "$0")/lib.sh"
st_need "$STRATA"
st_cluster_start 1
st_cli topic create stats --partitions 2 --replication-factor 1 >/dev/null 2>&1 || st_fail "topic create"
st_wait 20 st_topic_ready stats 2 || st_fail "stats: no leaders"
st_cli perf produce -t stats --num-records 30000 --record-size 100 --throughput 20000 --acks 1 \
    --stats-interval-ms 300 --json >"$ST_TMP/p.out" 2>"$ST_TMP/p.err" || st_fail "perf produce: $(tail -n 2 "$ST_TMP/p.err")"
st_cli perf consume -t stats --num-records 30000 --stats-interval-ms 5 --json \
    >"$ST_TMP/c.out" 2>"$ST_TMP/c.err" || st_fail "perf consume: $(tail -n 2 "$ST_TMP/c.err")"
python3 - "$ST_TMP/p.out" "$ST_TMP/c.out" <<'PY' || st_fail "statistics reports wrong (above)"
import json, sys
def reports(path):
    out = []
    for line in open(path):
        o = json.loads(line)
        if "stats" in o:
            out.append(o["stats"])
    return out
p = reports(sys.argv[1])
assert len(p) >= 3, "producer: %d reports in ~1.5 s at 300 ms" % len(p)
assert all(r["type"] == "producer" for r in p)
b1 = [b for r in p for b in r["brokers"] if b["id"] == 1]
assert b1 and sum(b["rtt_count"] for b in b1) > 0, "producer: no round trip to broker 1 counted"
assert all(b["rtt_avg_us"] <= b["rtt_max_us"] for b in b1 if b["rtt_count"])
c = [r for r in reports(sys.argv[2]) if r["type"] == "consumer"]
assert c, "consumer: no report"
parts = [q for r in c for q in r.get("partitions", [])]
assert {q["partition"] for q in parts} == {0, 1}, parts[:4]
assert all(q["lag"] >= 0 and (q["high_watermark"] < 0 or q["lag"] == max(0, q["high_watermark"] - q["fetch_offset"])) for q in parts)
print("producer reports %d, consumer reports %d" % (len(p), len(c)))
PY
st_ok
