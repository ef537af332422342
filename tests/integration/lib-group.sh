# tests/integration/lib-group.sh: the consumer-group harness sourced by
# every t_group_*.sh right after lib.sh. It runs st_group members (started
# in the background, logging to $ST_TMP/NAME.log, killed on exit together
# with what lib.sh cleans up), counts what they consumed, starts the
# three-broker cluster the group tests share (ZooKeeper chroot, brokers
# 1-3 with a small __consumer_offsets and short group timers) and creates
# a topic and waits for its leaders.

ST_GROUP=$ST_BUILD/tests/integration/st_group
st_need "$STRATA" "$ST_GROUP"

# --- members: st_group processes (lib.sh only cleans up brokers) -------
sg_start() { # NAME ARGS...: start a member logging to $ST_TMP/NAME.log
    local n=$1
    shift
    "$ST_GROUP" consume -b "$(st_bootstrap)" -n "$n" -l "$ST_TMP/$n.log" "$@" 2>>"$ST_TMP/$n.err" &
    echo $! >"$ST_TMP/sg-$n.pid"
    st_log "member $n pid $! $*"
}
sg_pid() { cat "$ST_TMP/sg-$1.pid"; }
sg_term() { # NAME: SIGTERM, wait up to 20 s
    local pid
    pid=$(sg_pid "$1")
    kill -TERM "$pid" 2>/dev/null
    st_wait 20 st_not_running "$pid" || st_fail "member $1 did not exit within 20 s of SIGTERM"
    wait "$pid" 2>/dev/null
}
sg_cleanup() {
    local f
    for f in "$ST_TMP"/sg-*.pid; do [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null; done
    st_cleanup
}
trap sg_cleanup EXIT
# consumed_count: distinct (partition, offset) pairs read by all members
consumed_count() { cat "$ST_TMP"/c*.log 2>/dev/null | awk '$3 == "M" { print $5, $6 }' | sort -u | wc -l; }
consumed_is() { [ "$(consumed_count)" -ge "$1" ]; }

# --- the cluster -------------------------------------------------------
# sg_cluster_start [KEY=VALUE...]: ZooKeeper chroot, then brokers 1-3
# with 3 offsets partitions (replication factor 3), a 300 ms initial
# rebalance delay and a 1 s minimum session timeout, plus the given keys.
sg_cluster_start() {
    local i
    local conf=(offsets.topic.num.partitions=3 offsets.topic.replication.factor=3
        group.initial.rebalance.delay.ms=300 group.min.session.timeout.ms=1000 "$@")
    st_zk_setup
    for i in 1 2 3; do st_broker_config "$i" "${conf[@]}"; done
    for i in 1 2 3; do st_broker_start "$i"; done
}

# sg_topic_create TOPIC PARTITIONS RF [CLI OPTION...]: create the topic
# and wait up to 20 s for a leader of each partition.
sg_topic_create() {
    local t=$1 n=$2 rf=$3
    shift 3
    st_cli topic create "$t" --partitions "$n" --replication-factor "$rf" "$@" >"$ST_TMP/create.out" 2>&1 ||
        st_fail "topic create: $(cat "$ST_TMP/create.out")"
    st_wait 20 st_topic_ready "$t" "$n" || st_fail "$t: no leader$([ "$n" = 1 ] || echo s)"
}

# sg_produce TOPIC [ARGS...]: st_group produce to TOPIC with per-record
# acknowledgements (-v) appended to $ST_TMP/produced.txt.
sg_produce() {
    local t=$1
    shift
    "$ST_GROUP" produce -b "$(st_bootstrap)" -t "$t" -v "$@" >>"$ST_TMP/produced.txt" 2>>"$ST_TMP/produce.err"
}
