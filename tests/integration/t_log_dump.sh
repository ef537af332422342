#!/usr/bin/env bash
# strata log dump on a stopped broker's partition directory: the --json
# output holds every produced record (offsets, keys, values, headers,
# counts) and the checkpoints; the text output too; the indexes are
# consistent; a copy with one flipped byte is reported CRC INVALID at
# the right batch (exit 1), a truncated copy as truncated (exit 1); the
# files dumped are not changed; usage errors exit 2.
. "$(dirname "$0")/lib.sh"
st_need "$STRATA"
st_cluster_start 1
st_cli topic create dump --partitions 1 --replication-factor 1 --config segment.bytes=20000 >/dev/null 2>&1 ||
    st_fail "topic create"
st_wait 20 st_topic_ready dump 1 || st_fail "dump: no leader"
# 3000 keyed records in several produce calls (several batches, several segments)
for r in 0 1 2; do
    seq $((r * 1000)) $((r * 1000 + 999)) | sed 's/^\(.*\)$/k\1:v\1/' |
        st_cli produce -t dump -p 0 -K : -H src=t_log_dump --acks all -X batch.size=4096 >/dev/null 2>&1 || st_fail "produce round $r"
done
# a null-key record and a binary value
printf 'plain\n' | st_cli produce -t dump -p 0 --acks all >/dev/null 2>&1 || st_fail "produce plain"
st_broker_stop 1
dir=$ST_TMP/b1/logs/dump-0
[ -d "$dir" ] || st_fail "no partition directory $dir"
sum_before=$(cd "$dir" && ls -l --time-style=+%s . | md5sum; cat ./* | md5sum)

check_py() { python3 -c "$1" "$2" || st_fail "$3"; }

st_cli log dump --json --records --index "$dir" >"$ST_TMP/dump.json" 2>"$ST_TMP/dump.err"
rc=$?
[ $rc -eq 0 ] || st_fail "dump of the intact directory: exit $rc: $(head -c 600 "$ST_TMP/dump.json" | tail -c 300) $(head -n 3 "$ST_TMP/dump.err")"
check_py '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["ok"] is True and d["problems"] == [], d["problems"]
assert d["type"] == "partition"
assert d["partition_meta"]["topic"] == "dump" and d["partition_meta"]["partition"] == "0", d["partition_meta"]
assert d["log_start_offset"] in (0, None), d["log_start_offset"]
assert d["high_watermark"] == 3001, d["high_watermark"]
assert d["recovery_point"] == 3001, d["recovery_point"]
assert d["leader_epoch_checkpoint"] and d["leader_epoch_checkpoint"][0]["start_offset"] == 0
segs = d["segments"]
assert len(segs) >= 3, len(segs)
recs, batches, nexto = [], 0, 0
for s in segs:
    assert s["valid_bytes"] == s["size"], s["file"]
    for b in s["batches"]:
        assert b["status"] == "ok" and b["crc_valid"] is True, b
        assert b["base_offset"] == nexto, (b["base_offset"], nexto)
        assert b["record_count"] == len(b["records"]) == b["last_offset"] - b["base_offset"] + 1
        assert b["compression"] == "none" and b["timestamp_type"] == "create"
        assert b["producer_id"] >= 0 and b["base_sequence"] >= 0
        nexto = b["last_offset"] + 1
        batches += 1
        recs += b["records"]
    for k in ("offset_index", "time_index"):
        assert s[k] is None or s[k]["ok"] is True, s[k]
assert any(s["offset_index"] and s["offset_index"]["entries"] for s in segs), "no offset index entry at all"
assert len(recs) == 3001, len(recs)
assert batches >= 3
for i, r in enumerate(recs[:3000]):
    assert r["offset"] == i, (i, r)
    assert r["key"] == "k%d" % i and r["value"] == "v%d" % i, r
    assert r["headers"] == [{"key": "src", "value": "t_log_dump"}], r["headers"]
last = recs[3000]
assert last["offset"] == 3000 and last["key"] is None and last["value"] == "plain", last
' "$ST_TMP/dump.json" "the --json dump of the intact partition"

# text output: every batch line, records with --records, a final ok
st_cli log dump --records "$dir" >"$ST_TMP/dump.txt" 2>&1 || st_fail "text dump: exit $?"
grep -q '^| offset: 2999 .* key: k2999 value: v2999 headers: \[src=t_log_dump\]' "$ST_TMP/dump.txt" ||
    st_fail "text dump: record 2999 not shown: $(grep -m1 '^| ' "$ST_TMP/dump.txt")"
grep -q '^baseOffset: 0 .*crcValid: true' "$ST_TMP/dump.txt" || st_fail "text dump: no first batch line"
tail -n 1 "$ST_TMP/dump.txt" | grep -q '^Result: ok' || st_fail "text dump: $(tail -n 1 "$ST_TMP/dump.txt")"

# the dump wrote nothing
sum_after=$(cd "$dir" && ls -l --time-style=+%s . | md5sum; cat ./* | md5sum)
[ "$sum_before" = "$sum_after" ] || st_fail "the dump changed the partition directory"

# one flipped byte in the body of the second batch of the first segment (a copy)
cp -a "$dir" "$ST_TMP/bad-0"
seg=$(ls "$ST_TMP/bad-0"/*.log | head -n 1)
read -r pos2 off2 < <(python3 -c '
import json, sys
b = json.load(open(sys.argv[1]))["segments"][0]["batches"][1]
print(b["position"], b["base_offset"])' "$ST_TMP/dump.json")
printf '\xff' | dd of="$seg" bs=1 seek=$((pos2 + 80)) conv=notrunc 2>/dev/null
st_cli log dump --json "$ST_TMP/bad-0" >"$ST_TMP/bad.json" 2>&1
rc=$?
[ $rc -eq 1 ] || st_fail "corrupt copy: exit $rc, expected 1"
check_py "
import json, sys
d = json.load(open(sys.argv[1]))
assert d['ok'] is False
p = d['problems']
assert len(p) == 1, p
assert p[0]['position'] == $pos2 and p[0]['offset'] == $off2 and 'CRC invalid' in p[0]['error'], p
b = d['segments'][0]['batches'][1]
assert b['status'] == 'crc_invalid' and b['crc_valid'] is False, b
assert d['segments'][0]['batches'][2]['status'] == 'ok'
" "$ST_TMP/bad.json" "corrupt copy: CRC INVALID not reported at position $pos2 offset $off2"
st_cli log dump "$seg" >"$ST_TMP/bad.txt" 2>&1
[ $? -eq 1 ] || st_fail "corrupt segment (text): exit status not 1"
grep -q "^INVALID: .* position $pos2 offset $off2: CRC invalid" "$ST_TMP/bad.txt" ||
    st_fail "corrupt segment (text): $(grep -m1 INVALID "$ST_TMP/bad.txt")"

# a truncated copy: cut the last segment in the middle of its last batch
rm -rf "$ST_TMP/cut-0"
cp -a "$dir" "$ST_TMP/cut-0"
seg=$(ls "$ST_TMP/cut-0"/*.log | tail -n 1)
size=$(stat -c %s "$seg")
truncate -s $((size - 5)) "$seg"
st_cli log dump --json "$ST_TMP/cut-0" >"$ST_TMP/cut.json" 2>&1
rc=$?
[ $rc -eq 1 ] || st_fail "truncated copy: exit $rc, expected 1"
check_py '
import json, sys
d = json.load(open(sys.argv[1]))
p = d["problems"]
assert len(p) == 1 and "truncated" in p[0]["error"], p
assert d["segments"][-1]["batches"][-1]["status"] == "truncated"
' "$ST_TMP/cut.json" "truncated copy not reported as truncated"

# an index entry that points into the middle of a batch
rm -rf "$ST_TMP/ix-0"
cp -a "$dir" "$ST_TMP/ix-0"
ix=$(ls "$ST_TMP/ix-0"/*.index | head -n 1)
[ "$(stat -c %s "$ix")" -ge 8 ] || st_fail "first offset index is empty"
printf '\x01' | dd of="$ix" bs=1 seek=4 conv=notrunc 2>/dev/null
st_cli log dump --index "$ix" >"$ST_TMP/ix.txt" 2>&1
[ $? -eq 1 ] || st_fail "broken index: exit status not 1: $(tail -n 3 "$ST_TMP/ix.txt")"
grep -q "offset index entry 0: position is not a batch boundary" "$ST_TMP/ix.txt" ||
    st_fail "broken index not reported: $(grep -m2 -i 'invalid\|index' "$ST_TMP/ix.txt")"

# usage errors
st_cli log dump >/dev/null 2>&1
[ $? -eq 2 ] || st_fail "dump without PATH: exit status not 2"
st_cli log dump "$dir/partition.meta" >/dev/null 2>&1
[ $? -eq 2 ] || st_fail "dump of a file that is no segment: exit status not 2"
st_cli log dump "$ST_TMP/nonexistent" >/dev/null 2>&1
[ $? -eq 1 ] || st_fail "dump of a missing path: exit status not 1"
st_ok
