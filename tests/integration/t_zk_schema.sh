#!/usr/bin/env bash
# `strata zk check` on a tree written by hand (no broker needed): a correct
# tree passes; each kind of corruption is reported with its path and makes
# the check exit 1; zkCli.sh reads the payloads as JSON.
. "$(dirname "$0")/lib.sh"
st_zk_setup

for p in /cluster /brokers /brokers/ids /brokers/topics /config /config/topics /config/brokers /admin /admin/delete_topics; do
    st_zkc create "$p" || st_fail "create $p"
done
st_zkc create /cluster/id '{"version":"1","id":"OHHi6iZWTbmnQHH5FkcbQg"}' || st_fail "create /cluster/id"
st_zkc create /controller_epoch 1 || st_fail "create /controller_epoch"
st_zkc create /brokers/topics/orders '{"version":2,"topic_id":"7cX8W1u6Rr-4oKpSjAVsIg","partitions":{"0":[1,2],"1":[2,1]}}' || st_fail "create topic"
st_zkc create /brokers/topics/orders/partitions || st_fail "create partitions"
for p in 0 1; do
    st_zkc create /brokers/topics/orders/partitions/$p || st_fail "create partition $p"
    st_zkc create /brokers/topics/orders/partitions/$p/state \
        '{"version":1,"leader":2,"leader_epoch":0,"isr":[2,1],"controller_epoch":1}' || st_fail "create state $p"
done
st_zkc create /config/topics/orders '{"version":1,"config":{"retention.ms":"86400000"}}' || st_fail "create config"

out=$(st_zkc check) || st_fail "check of a correct tree failed: $out"
echo "$out" | grep -q "0 deviations" || st_fail "unexpected check output: $out"
json=$(st_zkc check --json) || st_fail "check --json failed"
echo "$json" | grep -q '"ok": true' || st_fail "check --json not ok: $json"

# zkCli.sh (the operator's tool) reads the payload as plain JSON
st_zkcli get "$ST_CHROOT/brokers/topics/orders" | grep -q '"partitions":{"0":\[1,2\]' ||
    st_fail "zkCli.sh get does not show the topic payload"

expect_deviation() { # PATTERN DESCRIPTION
    local out rc
    out=$(st_zkc check)
    rc=$?
    [ $rc -eq 1 ] || st_fail "$2: check exit status $rc, expected 1 (output: $out)"
    echo "$out" | grep -q -- "$1" || st_fail "$2: deviation not reported (wanted /$1/, got: $out)"
}

# a wrong type in a state
st_zkc set /brokers/topics/orders/partitions/0/state '{"version":1,"leader":"2","leader_epoch":0,"isr":[2,1],"controller_epoch":1}'
expect_deviation '/brokers/topics/orders/partitions/0/state: \$.leader: is string, expected integer' "wrong type"
# leader outside the replica list (only the cross-check can see it)
st_zkc set /brokers/topics/orders/partitions/0/state '{"version":1,"leader":7,"leader_epoch":0,"isr":[7],"controller_epoch":1}'
expect_deviation 'leader 7 is not a replica of partition 0' "leader not a replica"
st_zkc set /brokers/topics/orders/partitions/0/state '{"version":1,"leader":2,"leader_epoch":0,"isr":[2,1],"controller_epoch":1}'
# a missing field and a field too many
st_zkc set /config/topics/orders '{"config":{"retention.ms":"1"},"extra":1}'
expect_deviation 'missing required property "version"' "missing field"
expect_deviation 'unexpected property "extra"' "extra field"
st_zkc set /config/topics/orders '{"version":1,"config":{"retention.ms":"86400000"}}'
# partitions not numbered 0..n-1: valid JSON Schema, but brokers cannot decode it
st_zkc set /brokers/topics/orders '{"version":2,"partitions":{"0":[1,2],"2":[2,1]}}'
expect_deviation 'brokers cannot decode it' "partition gap"
st_zkc set /brokers/topics/orders '{"version":2,"topic_id":"7cX8W1u6Rr-4oKpSjAVsIg","partitions":{"0":[1,2],"1":[2,1]}}'
# not JSON at all
st_zkc set /controller_epoch 'one'
expect_deviation '/controller_epoch: payload is not JSON' "not JSON"
st_zkc set /controller_epoch 1
# an unknown znode
st_zkc create /brokers/junk 'x'
expect_deviation '/brokers/junk: unknown znode' "unknown znode"
st_zkc delete /brokers/junk
# a persistent znode where an ephemeral one belongs
st_zkc create /controller '{"version":1,"brokerid":1,"timestamp":"1"}'
expect_deviation 'must be ephemeral' "persistent controller"
st_zkc delete /controller
# a required znode missing
st_zkc delete /cluster/id
expect_deviation '/cluster/id: missing' "missing required znode"
st_zkc create /cluster/id '{"version":"1","id":"OHHi6iZWTbmnQHH5FkcbQg"}'

out=$(st_zkc check) || st_fail "check after repairs failed: $out"

# usage errors exit 2, connection errors exit 1 (bounded)
st_zkc bogus >/dev/null 2>&1
[ $? -eq 2 ] || st_fail "unknown command did not exit 2"
out=$("$ST_ZKTOOL" -z "127.0.0.1:$ST_ZK_PORT/no-such-chroot-$$" check 2>&1)
[ $? -eq 1 ] && echo "$out" | grep -q 'chroot does not exist' || st_fail "missing chroot: $out"
"$ST_ZKTOOL" -z "127.0.0.1:1/x" --timeout-ms 500 check >/dev/null 2>&1
[ $? -eq 1 ] || st_fail "unreachable ZooKeeper did not exit 1"
st_ok
