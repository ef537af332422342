#!/usr/bin/env bash
# The Python recipe of docs/protocol.md ("Talking to strata from Python"),
# run as the doc shows it, against a real broker: Debian's python3 with
# python3-protobuf, libnng.so.1 through ctypes, message modules generated
# from proto/ with protoc. The block marked for this test is extracted from
# the doc itself; it must produce two records and fetch them back, and the
# CLI must read the same records.
. "$(dirname "$0")/lib.sh"
st_need "$STRATA"
command -v protoc >/dev/null || st_fail "protoc missing (apt-get install protobuf-compiler)"
PY=/usr/bin/python3
[ -x "$PY" ] || st_fail "Debian's python3 missing (apt-get install python3)"
"$PY" -c 'import google.protobuf' 2>/dev/null || st_fail "python3-protobuf missing (apt-get install python3-protobuf)"
DOC=$ST_SRC/docs/protocol.md
awk '/<!-- t_python_recipe.sh runs the next python block -->/ { armed = 1; next }
     armed && /^```python$/ { inside = 1; next }
     inside && /^```$/ { exit }
     inside { print }' "$DOC" >"$ST_TMP/recipe.py"
[ -s "$ST_TMP/recipe.py" ] || st_fail "no marked python block in docs/protocol.md"
protoc --python_out="$ST_TMP" -I "$ST_SRC/proto" "$ST_SRC/proto/record.proto" "$ST_SRC/proto/strata.proto" ||
    st_fail "protoc --python_out"

st_zk_setup
st_broker_start 1
st_wait 20 st_zkc get /controller || st_fail "no controller"
st_cli topic create orders --partitions 1 --replication-factor 1 >/dev/null 2>&1 || st_fail "topic create"
st_wait 20 st_topic_ready orders 1 || st_fail "orders: no leader"

(cd "$ST_TMP" && STRATA_BOOTSTRAP=$(st_broker_url 1) PYTHONPATH=$ST_TMP timeout -k 2 60 "$PY" recipe.py) \
    >"$ST_TMP/recipe.out" 2>&1 || st_fail "the recipe failed: $(tail -n 5 "$ST_TMP/recipe.out" | tr '\n' ' ')"
st_log "recipe: $(tr '\n' ' ' <"$ST_TMP/recipe.out")"
grep -qx 'controller 1 epoch [1-9][0-9]* leader of orders-0: 1' "$ST_TMP/recipe.out" ||
    st_fail "recipe: metadata line: $(tr '\n' ' ' <"$ST_TMP/recipe.out")"
grep -qx 'produced at offset 0' "$ST_TMP/recipe.out" || st_fail "recipe: produce: $(tr '\n' ' ' <"$ST_TMP/recipe.out")"
[ "$(grep '^record ' "$ST_TMP/recipe.out" | tr '\n' ' ')" = "record 0 a record 1 b " ] ||
    st_fail "recipe: fetched: $(tr '\n' ' ' <"$ST_TMP/recipe.out")"
got=$(st_cli consume -t orders -o beginning -e 2>/dev/null | tr '\n' ' ')
[ "$got" = "a b " ] || st_fail "the CLI reads '$got' from what the recipe produced, expected 'a b'"
st_ok
