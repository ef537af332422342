#!/usr/bin/env bash
# Topics created two ways: with the CLI (CreateTopics), and by hand with
# zkCli.sh as an operator would (a topic znode without topic_id: the
# controller adds one and writes the partition states). Both serve
# produce/consume, and the resulting tree passes `strata zk check`.
. "$(dirname "$0")/lib.sh"
st_need "$STRATA"
st_cluster_start 3

# replication factor 3: every partition lists 3 distinct brokers
st_cli topic create wide --partitions 3 --replication-factor 3 >"$ST_TMP/create.out" 2>&1 ||
    st_fail "strata topic create: $(cat "$ST_TMP/create.out")"
st_wait 20 st_topic_ready wide 3 || st_fail "wide: partitions have no leader after 20 s"
for p in 0 1 2; do
    st_zkc get /brokers/topics/wide | grep -qE "\"$p\":\[[1-3],[1-3],[1-3]\]" || st_fail "wide: partition $p is not 3-way replicated"
    st_zkc get "/brokers/topics/wide/partitions/$p/state" | grep -qE '"isr":\[[1-3],[1-3],[1-3]\]' || st_fail "wide: partition $p ISR is not 3 brokers"
done
st_cli topic create wide --partitions 3 --replication-factor 3 >"$ST_TMP/dup.out" 2>&1 &&
    st_fail "creating wide twice succeeded (expected TOPIC_ALREADY_EXISTS)"
grep -q TOPIC_ALREADY_EXISTS "$ST_TMP/dup.out" || st_fail "duplicate create: $(cat "$ST_TMP/dup.out")"
st_cli topic create toomany --partitions 1 --replication-factor 4 >/dev/null 2>&1 &&
    st_fail "replication factor 4 on 3 brokers was accepted"

# Data round trips use replication factor 1: this test is about creating
# topics, t_replication covers replicated ones.
st_cli topic create viacli --partitions 3 --replication-factor 1 >"$ST_TMP/create.out" 2>&1 ||
    st_fail "strata topic create: $(cat "$ST_TMP/create.out")"
st_wait 20 st_topic_ready viacli 3 || st_fail "viacli: partitions have no leader after 20 s"
st_zkc get /brokers/topics/viacli | grep -q '"topic_id":"' || st_fail "viacli: no topic_id in the topic znode"
st_cli topic list 2>&1 | grep -q 'viacli' || st_fail "topic list does not show viacli"

# by hand, with zkCli.sh: one replica each (brokers 1 and 2), no topic_id
st_zkcli create "$ST_CHROOT/brokers/topics/byhand" '{"version":2,"partitions":{"0":[1],"1":[2]}}' >"$ST_TMP/zkcli.out" ||
    st_fail "zkCli.sh create failed: $(tail -3 "$ST_TMP/zkcli.out")"
st_wait 20 st_topic_ready byhand 2 || st_fail "byhand: the controller wrote no partition states within 20 s"
st_wait 10 sh -c "'$ST_ZKTOOL' -z '$ST_ZK' get /brokers/topics/byhand | grep -q topic_id" ||
    st_fail "byhand: the controller did not add a topic_id"

for t in viacli byhand; do
    printf 'a-%s\nb-%s\nc-%s\n' $t $t $t | st_cli produce -t $t >"$ST_TMP/p.out" 2>&1 || st_fail "produce to $t: $(cat "$ST_TMP/p.out")"
    got=$(st_cli consume -t $t -o beginning -e 2>"$ST_TMP/c.err" | sort | tr '\n' ' ')
    [ "$got" = "a-$t b-$t c-$t " ] || st_fail "consume $t: got '$got' ($(head -3 "$ST_TMP/c.err"))"
done

out=$("$STRATA" zk -z "$ST_ZK" check 2>&1) || st_fail "strata zk check on the live cluster: $out"
st_ok
