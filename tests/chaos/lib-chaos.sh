# tests/chaos/lib-chaos.sh: one seed of the randomized fault suite
# (tests/chaos/run --one), on top of tests/integration/lib.sh and
# tests/faults/lib-faults.sh (sourced first, never copied): the cluster in
# network namespaces with a tmpfs log directory per broker, the load (four
# producers, one committing consumer), the nemesis executing the seed's
# plan (ch_plan in run), the heal, the stop, the dumps and the checker.
# Each fault is printed as "fault +T s: KIND ..." and appended to
# faults.log; violations found by check.py make the seed fail. Cleanup is
# lib-faults.sh's EXIT trap (processes, mounts, namespaces).

CH_TMPFS_SIZE=${CH_TMPFS_SIZE:-192m}
CH_PIDS=()
CH_T0=0
CH_VIOL=()

ch_say() { echo "$*"; st_log "$*"; }
ch_t() { echo $((SECONDS - CH_T0)); }
ch_fault_log() {
    ch_say "fault +$(ch_t) s: $*"
    echo "$(ch_t) $*" >>"$CH_DIR/faults.log"
}
# a liveness problem seen during the run: reported by the checker too
ch_liveness() {
    ch_say "LIVENESS: $*"
    echo "$*" >>"$CH_DIR/liveness.txt"
}

ch_bpid() { cat "$ST_TMP/pids/b$1.pid" 2>/dev/null; }
ch_running() { local p; p=$(ch_bpid "$1"); [ -n "$p" ] && kill -0 "$p" 2>/dev/null; }
ch_zk_pid() { cat "$ST_TMP/pids/zk.pid" 2>/dev/null; }

# ch_zk_start: ZooKeeper again in the hub namespace, same config and data
# (fa_netns_zk made them).
ch_zk_start() {
    local dir=$ST_TMP/zk
    ip netns exec "$FA_NS-hub" java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
        -Dzookeeper.admin.enableServer=false -Dzookeeper.log.dir="$dir" -Dzookeeper.root.logger=WARN,CONSOLE \
        -cp "/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar" \
        org.apache.zookeeper.server.ZooKeeperServerMain "$dir/zoo.cfg" >>"$dir/zk.log" 2>&1 &
    st_track_pid zk $!
    disown $!
    # each probe bounded: a ZooKeeper still starting may accept and never answer
    ch_zk_up() { timeout 3 ip netns exec "$FA_NS-hub" bash -c "exec 3<>/dev/tcp/$FA_SUBNET.200/$ST_ZK_PORT && printf srvr >&3 && grep -q '^Mode: ' <&3"; }
    st_wait 40 ch_zk_up || ch_liveness "ZooKeeper did not come back within 40 s"
}

# ch_restart ID: start broker ID again (after a kill); a broker that does
# not register within 20 s is a liveness problem (the heal retries).
ch_restart() {
    ch_running "$1" && return 0
    fa_restart "$1"
    if [ ${#FA_FAILS[@]} -gt 0 ]; then
        ch_liveness "+$(ch_t) s: ${FA_FAILS[*]}"
        FA_FAILS=()
    fi
}

# ch_kill ID...: SIGKILL (a stopped process too), wait until gone
ch_kill() {
    local id p
    for id in "$@"; do
        p=$(ch_bpid "$id")
        [ -n "$p" ] && st_is_ours "$p" && { kill -9 "$p"; kill -CONT "$p"; } 2>/dev/null
    done
    for id in "$@"; do
        p=$(ch_bpid "$id")
        [ -n "$p" ] && st_wait 5 st_not_running "$p"
    done
}

# ch_leader P FALLBACK: the leader of partition P now, else FALLBACK
ch_leader() {
    local l
    l=$(fa_leader "$1" 2>/dev/null)
    case "$l" in 1 | 2 | 3) echo "$l" ;; *) echo "$2" ;; esac
}
ch_controller() {
    local c
    c=$(st_controller_id 2>/dev/null)
    case "$c" in 1 | 2 | 3) echo "$c" ;; *) echo "$1" ;; esac
}

# ch_fault I: execute plan entry I
ch_fault() {
    local i=$1 k=${PL_KIND[$1]} b=${PL_B[$1]} p=${PL_P[$1]} d=${PL_DUR[$1]} x y p2
    case $k in
    kill_broker | kill_controller | kill_leader)
        x=$b
        [ "$k" = kill_controller ] && x=$(ch_controller "$b")
        [ "$k" = kill_leader ] && x=$(ch_leader "$p" "$b")
        ch_fault_log "$k broker $x (partition $p) down $d s"
        ch_kill "$x"
        sleep "$d"
        ch_restart "$x"
        ;;
    kill_two)
        x=$b y=$((b % 3 + 1))
        ch_fault_log "$k brokers $x $y down $d s"
        ch_kill "$x" "$y"
        sleep "$d"
        ch_restart "$y"
        ch_restart "$x"
        ;;
    stop_short | stop_long)
        x=$(ch_leader "$p" "$b")
        [ $((i % 2)) = 0 ] && x=$b
        ch_fault_log "$k broker $x SIGSTOP $d s"
        p2=$(ch_bpid "$x")
        kill -STOP "$p2" 2>/dev/null
        sleep "$d"
        kill -CONT "$p2" 2>/dev/null
        ;;
    zk_restart)
        ch_fault_log "$k ZooKeeper down $d s"
        p2=$(ch_zk_pid)
        [ -n "$p2" ] && kill -9 "$p2" 2>/dev/null && st_wait 5 st_not_running "$p2"
        sleep "$d"
        ch_zk_start
        ;;
    isolate)
        x=$(ch_leader "$p" "$b")
        ch_fault_log "$k broker $x (leader of $p) cut off the other brokers $d s"
        fa_isolate "$x" on
        sleep "$d"
        fa_isolate "$x" off
        ;;
    leader_zk_cut)
        x=$(ch_leader "$p" "$b")
        ch_fault_log "$k broker $x (leader of $p) cut off ZooKeeper, not its clients, $d s"
        fa_zk_cut "$x" on
        sleep "$d"
        fa_zk_cut "$x" off
        ;;
    disk_full)
        x=$b
        ch_fault_log "$k broker $x log directory full $d s, then restarted"
        dd if=/dev/zero of="$ST_TMP/b$x/logs/filler" bs=1M count=1024 >/dev/null 2>&1
        sleep "$d"
        rm -f "$ST_TMP/b$x/logs/filler"
        ch_kill "$x"
        ch_restart "$x"
        ;;
    esac
}

# ch_heal: undo everything that may still be in effect
ch_heal() {
    local i p
    for i in 1 2 3; do
        fa_isolate "$i" off
        fa_zk_cut "$i" off
        rm -f "$ST_TMP/b$i/logs/filler"
        p=$(ch_bpid "$i")
        [ -n "$p" ] && kill -CONT "$p" 2>/dev/null
    done
    p=$(ch_zk_pid)
    { [ -n "$p" ] && kill -0 "$p" 2>/dev/null; } || ch_zk_start
    for i in 1 2 3; do ch_running "$i" || ch_restart "$i"; done
}

ch_start_load() {
    local i
    for i in $(seq 1 "$CH_PRODUCERS"); do
        "$ST_CHAOS" produce -b "$(st_bootstrap)" -t "$FA_TOPIC" -o "$CH_DIR/acks.P$i" -i "P$i" -r "$CH_RATE" \
            -T 60000 >"$CH_DIR/produce.P$i.out" 2>"$CH_DIR/produce.P$i.err" &
        CH_PIDS+=($!)
        st_track_pid "chaosP$i" $!
        disown $!
    done
    "$ST_CHAOS" consume -b "$(st_bootstrap)" -t "$FA_TOPIC" -n "$CH_PARTS" -g chaos-group -o "$CH_DIR/commits" \
        >"$CH_DIR/consume.out" 2>"$CH_DIR/consume.err" &
    CH_CONSUMER=$!
    st_track_pid chaosC $!
    disown $!
}

ch_acks() { cat "$CH_DIR"/acks.P* 2>/dev/null | grep -vc '^#'; }

# ch_stop_load: SIGTERM the producers (their close flushes up to 30 s)
# and the consumer (it asks for its committed offsets last), bounded.
ch_stop_load() {
    local p
    for p in "${CH_PIDS[@]}" "$CH_CONSUMER"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${CH_PIDS[@]}" "$CH_CONSUMER"; do
        st_wait 50 st_not_running "$p" || { ch_liveness "client pid $p did not stop within 50 s of SIGTERM"; kill -9 "$p" 2>/dev/null; }
    done
}

ch_one() {
    local seed=$1 secs=$2 i n
    CH_DIR=$3
    mkdir -p "$CH_DIR/dumps"
    : >"$CH_DIR/faults.log"
    echo "seed=$seed"
    ch_plan "$seed" "$secs"
    ch_print_plan
    unset ST_ZK_PORT
    fa_netns_setup || st_fail "cannot create network namespaces (ip netns needs root/CAP_NET_ADMIN)"
    for i in 1 2 3; do
        mkdir -p "$ST_TMP/b$i/logs"
        fa_mount_tmpfs "$ST_TMP/b$i/logs" "$CH_TMPFS_SIZE" || st_fail "cannot mount a tmpfs log dir (needs root)"
    done
    fa_netns_zk || st_fail "ZooKeeper did not start inside the hub namespace"
    fa_netns_cluster
    fa_topic
    ch_start_load
    st_wait 30 sh -c "[ \$(cat '$CH_DIR'/acks.P* 2>/dev/null | grep -vc '^#') -ge 500 ]" ||
        st_fail "no acknowledgements within 30 s of starting the producers: $(tail -n 3 "$CH_DIR/produce.P1.err" | tr '\n' ' ')"

    # the nemesis: the plan, bounded by secs (+ the repair of the last fault)
    CH_T0=$SECONDS
    for i in "${!PL_KIND[@]}"; do
        [ $((SECONDS - CH_T0)) -ge "$secs" ] && { ch_say "time up after $i fault(s)"; break; }
        ch_fault "$i"
        sleep "${PL_GAP[$i]}"
    done
    ch_say "faults done at +$(ch_t) s, healing"
    ch_heal
    fa_wait_isr_full 60 || ch_liveness "ISR not full 60 s after healing:$(fa_isr_summary)"
    # acks flow again after the heal
    n=$(ch_acks)
    more() { [ "$(ch_acks)" -ge $((n + 200)) ]; }
    st_wait 30 more || ch_liveness "no new acknowledgements within 30 s of healing"
    ch_stop_load
    # the followers catch up, the leaders' high watermarks reach their log
    # ends and are checkpointed (every 5 s)
    fa_wait_isr_full 30 || ch_liveness "ISR not full after the load stopped:$(fa_isr_summary)"
    sleep 7
    st_cli topic describe "$FA_TOPIC" >"$CH_DIR/describe.txt" 2>&1
    # freeze the brokers, dump every replica, then kill them
    for i in 1 2 3; do kill -STOP "$(ch_bpid "$i")" 2>/dev/null; done
    for i in 1 2 3; do
        for d in "$ST_TMP/b$i/logs/$FA_TOPIC"-*; do
            [ -d "$d" ] || continue
            "$ST_BUILD/strata" log dump --json --records "$d" >"$CH_DIR/dumps/b$i.$(basename "$d").json" \
                2>"$CH_DIR/dumps/b$i.$(basename "$d").err"
        done
    done
    for i in 1 2 3; do
        cp "$ST_TMP/b$i/stratad.log" "$CH_DIR/stratad.b$i.log" 2>/dev/null
        ch_kill "$i"
    done
    python3 "$CH_CHECK" --acks "$CH_DIR"/acks.P* --commits "$CH_DIR/commits" --dumps "$CH_DIR/dumps" \
        --faults "$CH_DIR/faults.log" --liveness "$CH_DIR/liveness.txt" --partitions "$CH_PARTS" \
        --topic "$FA_TOPIC" | tee "$CH_DIR/check.txt"
    return "${PIPESTATUS[0]}"
}
