#!/usr/bin/env bash
# zookeeper.auth.digest: znodes are world-readable but only the brokers'
# identity may change them; `strata zk check --zk-auth` still passes.
. "$(dirname "$0")/lib.sh"
st_need "$STRATA"
st_zk_setup
st_broker_config 1 zookeeper.auth.digest=strata:s3cret
st_broker_start 1
st_wait 20 st_zkc get /controller || st_fail "no controller"
st_zkc get /brokers/ids/1 >/dev/null || st_fail "anonymous read of /brokers/ids/1 refused"
st_zkc set /cluster/id '{"version":"1","id":"OHHi6iZWTbmnQHH5FkcbQg"}' >"$ST_TMP/set.out" 2>&1 &&
    st_fail "anonymous write to /cluster/id succeeded"
grep -qi 'not authenticated\|auth' "$ST_TMP/set.out" || st_fail "anonymous write failed for another reason: $(cat "$ST_TMP/set.out")"
"$STRATA" zk -z "$ST_ZK" --zk-auth strata:s3cret check >"$ST_TMP/check.out" 2>&1 || st_fail "check with credentials: $(cat "$ST_TMP/check.out")"
st_ok
