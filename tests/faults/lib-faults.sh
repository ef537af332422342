# tests/faults/lib-faults.sh: what the fault scenarios need on top of
# tests/integration/lib.sh (sourced first, never copied): the chaos load
# (st_chaos produce) and its checks (verify + offline replica compare),
# partition state look-ups, bounded waits for the ISR, the false-ack
# window check, and a network-namespace topology (hub namespace with a
# bridge, ZooKeeper and the clients; one namespace per broker) for the
# partition scenarios. Failures are collected in FA_FAILS so a scenario
# checks everything and reports every problem at the end (fa_finish).
# Cleanup (EXIT trap): chaos processes, then lib.sh's st_cleanup
# (brokers, ZooKeeper, temp dir), then the namespaces and mounts we made.

ST_CHAOS=$ST_BUILD/tests/faults/st_chaos
FA_TOPIC=chaos
FA_PARTS=${FA_PARTS:-4}
FA_RF=3
FA_FAILS=()
FA_NOTES=()
FA_NETNS=()
FA_MOUNTS=()
FA_ROUND=0
FA_SESSION_MS=4000
FA_LAG_MS=4000
# records/s of the chaos producer (0: as fast as it can): reading every
# record back (mid-run and final verify, compare) is most of a scenario's
# time, and the suite must stay under 8 minutes
FA_RATE=${FA_RATE:-60000}

fa_fail() {
    FA_FAILS+=("$*")
    st_log "FAILURE: $*"
}
fa_note() {
    FA_NOTES+=("$*")
    st_log "note: $*"
}

# Processes st_is_ours does not know (the chaos tool) are killed here.
fa_is_chaos() {
    local cmd
    cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$1/cmdline") || return 1
    case "$cmd" in *st_chaos*) return 0 ;; esac
    return 1
}

fa_cleanup() {
    local f pid ns m
    for f in "$ST_TMP"/pids/chaos*.pid; do
        [ -f "$f" ] || continue
        pid=$(cat "$f")
        fa_is_chaos "$pid" && kill -9 "$pid" 2>/dev/null
    done
    # brokers first (a lazy unmount would leave them writing), then mounts
    for f in "$ST_TMP"/pids/b*.pid; do
        [ -f "$f" ] || continue
        pid=$(cat "$f")
        st_is_ours "$pid" && { kill -CONT "$pid"; kill -9 "$pid"; } 2>/dev/null
    done
    for m in "${FA_MOUNTS[@]}"; do umount -l "$m" 2>/dev/null; done
    st_cleanup
    for ns in "${FA_NETNS[@]}"; do ip netns del "$ns" 2>/dev/null; done
    [ -n "${ST_RUN_PIDS:-}" ] && rm -f "$ST_RUN_PIDS/$ST_TEST-mounts.txt"
}

# fa_mount_tmpfs DIR SIZE: a small file system the scenario can fill
# (recorded for the runner too, in case this process is killed).
fa_mount_tmpfs() {
    mount -t tmpfs -o "size=$2" tmpfs "$1" || return 1
    FA_MOUNTS+=("$1")
    [ -n "${ST_RUN_PIDS:-}" ] && [ -d "$ST_RUN_PIDS" ] && echo "$1" >>"$ST_RUN_PIDS/$ST_TEST-mounts.txt"
    return 0
}
trap fa_cleanup EXIT

# ------------------------------------------------------------------
# cluster and topic
# ------------------------------------------------------------------

FA_BROKER_PROPS=(
    "replica.lag.time.max.ms=$FA_LAG_MS"
    "replica.fetch.wait.max.ms=200"
    "replica.fetch.backoff.ms=200"
    "controlled.shutdown.retry.backoff.ms=500"
    "auto.leader.rebalance.enable=false"
    "default.replication.factor=3"
)

# fa_cluster [extra broker props...]: ZooKeeper (shared unless none) and
# brokers 1-3.
fa_cluster() {
    local i
    st_need "$STRATAD" "$STRATA" "$ST_CHAOS"
    st_zk_setup
    for i in 1 2 3; do st_broker_config "$i" "${FA_BROKER_PROPS[@]}" "$@"; done
    for i in 1 2 3; do st_broker_start "$i"; done
    st_wait 20 st_zkc get /controller || st_fail "no controller elected within 20 s"
}

# fa_topic [extra topic configs...]: the chaos topic, RF=3, min ISR 2.
fa_topic() {
    local args=() kv
    for kv in min.insync.replicas=2 unclean.leader.election.enable=false "$@"; do args+=(--config "$kv"); done
    st_cli topic create "$FA_TOPIC" --partitions "$FA_PARTS" --replication-factor "$FA_RF" "${args[@]}" \
        >"$ST_TMP/create.out" 2>&1 || st_fail "topic create: $(tail -n 2 "$ST_TMP/create.out" | tr '\n' ' ')"
    st_wait 30 st_topic_ready "$FA_TOPIC" "$FA_PARTS" || st_fail "topic $FA_TOPIC: no leaders within 30 s"
    fa_wait_isr_full 30 || st_fail "topic $FA_TOPIC: ISR not full within 30 s of creation"
}

fa_state() { st_zkc get "/brokers/topics/$FA_TOPIC/partitions/$1/state" 2>/dev/null; }
fa_leader() { st_state_field "$FA_TOPIC" "$1" leader 2>/dev/null; }
# ISR of partition P as space-separated ids
fa_isr() { fa_state "$1" | sed -n 's/.*"isr":\[\([0-9,]*\)\].*/\1/p' | tr ',' ' '; }
fa_isr_size() { local s; s=$(fa_isr "$1"); set -- $s; echo $#; }

fa_isr_full() {
    local p
    for p in $(seq 0 $((FA_PARTS - 1))); do
        [ "$(fa_isr_size "$p")" = "$FA_RF" ] || return 1
        [ "$(fa_leader "$p")" -ge 0 ] 2>/dev/null || return 1
    done
}
fa_wait_isr_full() { st_wait "$1" fa_isr_full; }

# True when broker B is in no partition's ISR.
fa_not_in_isr() {
    local b=$1 p
    for p in $(seq 0 $((FA_PARTS - 1))); do
        case " $(fa_isr "$p") " in *" $b "*) return 1 ;; esac
    done
}

fa_isr_summary() {
    local p out=""
    for p in $(seq 0 $((FA_PARTS - 1))); do out="$out p$p:L$(fa_leader "$p")[$(fa_isr "$p" | tr ' ' ',')]"; done
    echo "$out"
}

# A broker other than the given ids among 1..3.
fa_other() {
    local i x skip
    for i in 1 2 3; do
        skip=0
        for x in "$@"; do [ "$i" = "$x" ] && skip=1; done
        [ $skip = 0 ] && { echo "$i"; return 0; }
    done
    return 1
}

# st_broker_start waits for /brokers/ids/ID; tolerate a slow re-register
# (the old ephemeral znode may still be there) by recording a failure
# instead of aborting the scenario.
fa_restart() {
    local id=$1
    ( st_broker_start "$id" ) >/dev/null 2>&1 || fa_fail "broker $id did not come back (registered in 20 s)"
    # the subshell wrote the pid file; nothing else to carry over
}

fa_now_ms() { date +%s%3N; }

# ------------------------------------------------------------------
# load and checks
# ------------------------------------------------------------------

FA_PROD_PID=
# fa_produce_start [-T delivery_ms]: start the chaos producer.
fa_produce_start() {
    FA_ROUND=$((FA_ROUND + 1))
    FA_ACKS=$ST_TMP/acks.$FA_ROUND
    "$ST_CHAOS" produce -b "$(st_bootstrap)" -t "$FA_TOPIC" -o "$FA_ACKS" -i "P$FA_ROUND" -r "$FA_RATE" "$@" \
        >"$ST_TMP/produce.$FA_ROUND.out" 2>"$ST_TMP/produce.$FA_ROUND.err" &
    FA_PROD_PID=$!
    st_track_pid "chaos$FA_ROUND" "$FA_PROD_PID"
    disown "$FA_PROD_PID"
    st_log "producer P$FA_ROUND pid $FA_PROD_PID"
}

fa_acks() {
    local n
    n=$(grep -vc '^#' "$FA_ACKS" 2>/dev/null)
    echo "${n:-0}"
}

# fa_wait_acks N SECS: at least N more acknowledgements arrive.
fa_wait_acks() {
    local want=$(($(fa_acks) + $1))
    more() { [ "$(fa_acks)" -ge "$want" ]; }
    st_wait "$2" more
}

FA_GAP_MS=0
# fa_produce_stop: SIGTERM, bounded wait (close flushes for up to 30 s).
fa_produce_stop() {
    local out
    [ -n "$FA_PROD_PID" ] || return 0
    kill -TERM "$FA_PROD_PID" 2>/dev/null
    st_wait 45 st_not_running "$FA_PROD_PID" || {
        fa_fail "producer did not stop within 45 s"
        kill -9 "$FA_PROD_PID" 2>/dev/null
    }
    FA_PROD_PID=
    out=$(cat "$ST_TMP/produce.$FA_ROUND.out")
    st_log "producer: $out"
    FA_PROD_SUMMARY=$out
    local gap acked
    gap=$(echo "$out" | sed -n 's/.*longest_gap_ms=\([0-9]*\).*/\1/p')
    acked=$(echo "$out" | sed -n 's/.* acked=\([0-9]*\).*/\1/p')
    [ -n "$gap" ] || { fa_fail "producer printed no summary: $(tail -n 2 "$ST_TMP/produce.$FA_ROUND.err" | tr '\n' ' ')"; return; }
    [ "$gap" -gt "$FA_GAP_MS" ] && FA_GAP_MS=$gap
    FA_ACKED=$((${FA_ACKED:-0} + acked))
    [ "$acked" -gt 0 ] || fa_fail "producer got no acknowledgement at all ($out)"
}

# fa_no_acks_between T1 T2 WHAT: no acknowledgement stamped in (T1, T2).
fa_no_acks_between() {
    local n
    n=$(awk -v a="$1" -v b="$2" '!/^#/ && $4 > a && $4 < b' "$FA_ACKS" | wc -l)
    [ "$n" = 0 ] || fa_fail "$n acknowledgements while $3 (false acknowledgements under min.insync.replicas)"
    st_log "acks between $1 and $2 ($3): $n"
}

# fa_acks_for_partition_between P T1 T2
fa_acks_pt_between() {
    awk -v p="$1" -v a="$2" -v b="$3" '!/^#/ && $1 == p && $4 > a && $4 < b' "$FA_ACKS" | wc -l
}

# fa_mid_check: while the load runs, read everything below the high
# watermark; what an earlier pass read must still be there, unchanged.
fa_mid_check() {
    local out
    out=$("$ST_CHAOS" verify -M -b "$(st_bootstrap)" -t "$FA_TOPIC" -n "$FA_PARTS" -a "$FA_ACKS" \
        -s "$ST_TMP/seen" -S "$ST_TMP/seen.new" -w 30 2>>"$ST_TMP/verify.err")
    [ $? -eq 0 ] || fa_fail "$1: mid-run verify: $(echo "$out" | head -n 4 | tr '\n' ';')"
    [ -f "$ST_TMP/seen.new" ] && mv "$ST_TMP/seen.new" "$ST_TMP/seen"
    st_log "mid verify ($1): $(echo "$out" | tail -n 1)"
}

# fa_check: the checks after every scenario. All brokers must be running.
fa_check() {
    local out rc d i
    fa_wait_isr_full 45 || fa_fail "ISR not full 45 s after the last fault:$(fa_isr_summary)"
    out=$("$ST_CHAOS" verify -b "$(st_bootstrap)" -t "$FA_TOPIC" -n "$FA_PARTS" -a "$FA_ACKS" \
        -s "$ST_TMP/seen" -S "$ST_TMP/seen.new" -H "$ST_TMP/hw" -w 60 2>"$ST_TMP/verify.err")
    rc=$?
    st_log "verify: $out"
    if [ $rc -ne 0 ]; then
        fa_fail "verify: $(echo "$out" | head -n 6 | tr '\n' ';')"
    fi
    [ -f "$ST_TMP/seen.new" ] && mv "$ST_TMP/seen.new" "$ST_TMP/seen"
    FA_VERIFY=$(echo "$out" | tail -n 1)
    # offline comparison of the replicas on copies of the log dirs
    rm -rf "$ST_TMP/copy"
    for i in 1 2 3; do
        mkdir -p "$ST_TMP/copy/b$i"
        cp -a "$ST_TMP/b$i/logs/." "$ST_TMP/copy/b$i/" 2>/dev/null
    done
    [ -f "$ST_TMP/hw" ] || return 0
    out=$("$ST_CHAOS" compare -t "$FA_TOPIC" -n "$FA_PARTS" -H "$ST_TMP/hw" \
        "$ST_TMP/copy/b1" "$ST_TMP/copy/b2" "$ST_TMP/copy/b3" 2>&1)
    rc=$?
    st_log "compare: $out"
    [ $rc -eq 0 ] || fa_fail "replicas differ: $(echo "$out" | head -n 4 | tr '\n' ';')"
    rm -rf "$ST_TMP/copy"
}

# fa_finish: the scenario's result line (last line of stdout).
fa_finish() {
    local n
    echo "longest_ack_gap_ms=$FA_GAP_MS acked=${FA_ACKED:-0} ${FA_VERIFY:-} ${FA_PROD_SUMMARY:+producer: $FA_PROD_SUMMARY}"
    for n in "${FA_NOTES[@]}"; do echo "note: $n"; done
    if [ ${#FA_FAILS[@]} -eq 0 ]; then
        st_ok
    fi
    local f
    for f in "${FA_FAILS[@]}"; do echo "  $f" >&2; done
    st_fail "$(printf '%s; ' "${FA_FAILS[@]}")"
}

# ------------------------------------------------------------------
# network namespaces: hub (bridge, ZooKeeper, clients) + one per broker
# ------------------------------------------------------------------

FA_NS=
FA_SUBNET=

fa_ns_exec_hub() { ip netns exec "$FA_NS-hub" "$@"; }

# fa_netns_setup: make the namespaces and veths; addresses
# 10.<x>.0.100 (hub), 10.<x>.0.<id> (broker id); all private to them.
fa_netns_setup() {
    local i
    FA_NS=stf${FA_RUN_ID:-$$}
    FA_SUBNET=10.$((100 + RANDOM % 100)).0
    FA_NETNS+=("$FA_NS-hub")
    ip netns add "$FA_NS-hub" || return 1
    ip -n "$FA_NS-hub" link set lo up || return 1
    ip -n "$FA_NS-hub" link add br0 type bridge || return 1
    ip -n "$FA_NS-hub" addr add "$FA_SUBNET.100/24" dev br0 || return 1
    # ZooKeeper's own address, so a broker can lose ZooKeeper but keep its clients
    ip -n "$FA_NS-hub" addr add "$FA_SUBNET.200/24" dev br0 || return 1
    ip -n "$FA_NS-hub" link set br0 up || return 1
    for i in 1 2 3; do
        FA_NETNS+=("$FA_NS-b$i")
        ip netns add "$FA_NS-b$i" || return 1
        ip -n "$FA_NS-b$i" link set lo up || return 1
        ip link add "v$FA_NS$i" netns "$FA_NS-b$i" type veth peer name "h$i" netns "$FA_NS-hub" || return 1
        ip -n "$FA_NS-b$i" link set "v$FA_NS$i" name eth0 || return 1
        ip -n "$FA_NS-b$i" addr add "$FA_SUBNET.$i/24" dev eth0 || return 1
        ip -n "$FA_NS-b$i" link set eth0 up || return 1
        ip -n "$FA_NS-hub" link set "h$i" master br0 || return 1
        ip -n "$FA_NS-hub" link set "h$i" up || return 1
    done
    # wrappers: the harness's tools run inside the namespaces
    mkdir -p "$ST_TMP/wrap"
    local real_zk=$ST_ZKTOOL real_strata=$STRATA real_stratad=$STRATAD real_chaos=$ST_CHAOS
    printf '#!/bin/sh\nexec ip netns exec %s %s "$@"\n' "$FA_NS-hub" "$real_zk" >"$ST_TMP/wrap/st_zk"
    printf '#!/bin/sh\nexec ip netns exec %s %s "$@"\n' "$FA_NS-hub" "$real_strata" >"$ST_TMP/wrap/strata"
    printf '#!/bin/sh\nexec ip netns exec %s %s "$@"\n' "$FA_NS-hub" "$real_chaos" >"$ST_TMP/wrap/st_chaos"
    # stratad: the namespace of broker ID (from the config path .../b<ID>/server.properties)
    cat >"$ST_TMP/wrap/stratad" <<EOF
#!/bin/sh
cfg=\$2
id=\$(sed -n 's/^broker.id=//p' "\$cfg")
exec ip netns exec $FA_NS-b\$id $real_stratad "\$@"
EOF
    chmod +x "$ST_TMP/wrap/"*
    ST_ZKTOOL=$ST_TMP/wrap/st_zk
    STRATA=$ST_TMP/wrap/strata
    STRATAD=$ST_TMP/wrap/stratad
    ST_CHAOS=$ST_TMP/wrap/st_chaos
    st_broker_url() { echo "tcp://$FA_SUBNET.$1:${ST_BROKER_PORTS[$1]}"; }
    return 0
}

# ZooKeeper inside the hub namespace, on its own address (.200).
fa_netns_zk() {
    local dir=$ST_TMP/zk port
    port=$((20000 + RANDOM % 30000))
    mkdir -p "$dir/data"
    cat >"$dir/zoo.cfg" <<EOF
tickTime=500
dataDir=$dir/data
clientPort=$port
clientPortAddress=$FA_SUBNET.200
maxClientCnxns=0
admin.enableServer=false
4lw.commands.whitelist=*
minSessionTimeout=1000
maxSessionTimeout=30000
EOF
    ip netns exec "$FA_NS-hub" java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
        -Dzookeeper.admin.enableServer=false -Dzookeeper.log.dir="$dir" -Dzookeeper.root.logger=WARN,CONSOLE \
        -cp "/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar" \
        org.apache.zookeeper.server.ZooKeeperServerMain "$dir/zoo.cfg" >"$dir/zk.log" 2>&1 &
    st_track_pid zk $!
    disown $!
    # bounded: a starting ZooKeeper may accept the connection and never answer
    zk_up() { timeout -k 1 3 ip netns exec "$FA_NS-hub" bash -c "exec 3<>/dev/tcp/$FA_SUBNET.200/$port && printf srvr >&3 && grep -q '^Mode: ' <&3"; }
    st_wait 40 zk_up || return 1
    ST_ZK_PORT=$port
    ST_CHROOT=/strata-faults
    ST_ZK=$FA_SUBNET.200:$port$ST_CHROOT
    "$ST_ZKTOOL" -z "$FA_SUBNET.200:$port" create "$ST_CHROOT" >/dev/null 2>&1
    st_zkc get / >/dev/null 2>&1
}

# fa_netns_cluster: brokers 1-3 in their namespaces.
fa_netns_cluster() {
    local i port
    for i in 1 2 3; do
        port=$((20000 + RANDOM % 30000))
        ST_BROKER_PORTS[$i]=$port
        st_broker_config "$i" "${FA_BROKER_PROPS[@]}"
        sed -i "s|^listeners=.*|listeners=tcp://$FA_SUBNET.$i:$port|" "$ST_TMP/b$i/server.properties"
    done
    for i in 1 2 3; do st_broker_start "$i"; done
    st_wait 20 st_zkc get /controller || st_fail "no controller elected within 20 s"
}

# fa_cut FROM_ID TO_ADDR...: blackhole routes in broker FROM's namespace.
fa_route() {
    local op=$1 ns=$2
    shift 2
    local a
    for a in "$@"; do ip -n "$ns" route "$op" blackhole "$a/32" 2>/dev/null; done
}
# fa_isolate ID on|off: broker ID cannot reach / be reached by the other brokers
fa_isolate() {
    local id=$1 op=add o
    [ "$2" = off ] && op=del
    for o in 1 2 3; do
        [ "$o" = "$id" ] && continue
        fa_route "$op" "$FA_NS-b$id" "$FA_SUBNET.$o"
        fa_route "$op" "$FA_NS-b$o" "$FA_SUBNET.$id"
    done
}
# fa_zk_cut ID on|off: broker ID cannot reach ZooKeeper (the hub address)
fa_zk_cut() {
    local op=add
    [ "$2" = off ] && op=del
    fa_route "$op" "$FA_NS-b$1" "$FA_SUBNET.200"
}
