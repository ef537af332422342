# tests/integration/lib.sh: the harness sourced by every t_*.sh (and by
# `run`). It starts a real ZooKeeper (Debian's package, private config, a
# free loopback port, data in a temp dir) unless the runner already
# started one (ST_ZK_PORT set; each test then gets its own chroot), starts
# stratad processes with generated configs, and cleans everything up on
# exit, also on failure or interruption. Every wait is bounded.
#
# Environment: ST_BUILD (build dir holding stratad, strata and
# tests/integration/st_*), ST_KEEP=1 keeps the temp dir for debugging.

set -u

ST_SRC=${ST_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
ST_BUILD=${ST_BUILD:-$ST_SRC/build}
ST_BUILD=$(cd "$ST_BUILD" 2>/dev/null && pwd || echo "$ST_BUILD")
STRATAD=$ST_BUILD/stratad
STRATA=$ST_BUILD/strata
ST_ZKTOOL=$ST_BUILD/tests/integration/st_zk
ST_RAWSEND=$ST_BUILD/tests/integration/st_rawsend
export STRATA_ZK_SCHEMA_DIR=${STRATA_ZK_SCHEMA_DIR:-$ST_SRC/zk-schema}
ST_TEST=${ST_TEST:-$(basename "$0" .sh)}

ST_TMP=$(mktemp -d "${TMPDIR:-/tmp}/strata-it.XXXXXX")
mkdir -p "$ST_TMP/pids"

st_log() { echo "[$(date +%H:%M:%S)] $*" >>"$ST_TMP/test.log"; }

# st_fail REASON: print the one FAIL line, dump the tail of the logs to
# stderr for the reader of CI output, exit 1 (the EXIT trap cleans up).
st_fail() {
    echo "FAIL: $*"
    {
        echo "---- $ST_TEST: $*"
        for f in "$ST_TMP"/test.log "$ST_TMP"/b*/stratad.log; do
            [ -f "$f" ] || continue
            echo "---- tail $f"
            tail -n 25 "$f"
        done
    } >&2
    exit 1
}

st_ok() {
    echo "ok"
    exit 0
}

# True when pid is still one of ours: stratad or the ZooKeeper JVM (a pid
# file may outlive its process; never signal a recycled pid).
st_is_ours() {
    local cmd
    cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$1/cmdline") || return 1
    case "$cmd" in *stratad*|*zookeeper*) return 0 ;; esac
    return 1
}

st_cleanup() {
    local f pid
    for f in "$ST_TMP"/pids/*.pid; do
        [ -f "$f" ] || continue
        pid=$(cat "$f")
        st_is_ours "$pid" || continue
        kill -CONT "$pid" 2>/dev/null
        kill -9 "$pid" 2>/dev/null
    done
    for f in "$ST_TMP"/pids/*.pid; do
        [ -f "$f" ] || continue
        pid=$(cat "$f")
        for _ in 1 2 3 4 5 6 7 8 9 10; do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
    done
    if [ -n "${ST_RUN_PIDS:-}" ] && [ "$ST_RUN_PIDS" != "$ST_TMP/pids" ]; then
        rm -f "$ST_RUN_PIDS/$ST_TEST"-*.pid
    fi
    if [ "${ST_KEEP:-0}" = 1 ]; then
        echo "kept $ST_TMP" >&2
    else
        rm -rf "$ST_TMP"
    fi
}
trap st_cleanup EXIT
trap 'st_fail "interrupted"' INT TERM

# st_wait SECONDS CMD...: run CMD every 0.2 s until it succeeds; 1 on timeout.
st_wait() {
    local secs=$1
    shift
    local end=$((SECONDS + secs))
    while :; do
        "$@" >/dev/null 2>&1 && return 0
        [ $SECONDS -ge $end ] && return 1
        sleep 0.2
    done
}

# A free loopback TCP port from 20000-60000, below the kernel's ephemeral
# range (so no outgoing connection can take it between the check and the
# bind) and not used by any socket right now.
st_free_port() {
    local lo=20000 hi=60000 p i eph
    eph=$(awk '{ print $1 }' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null)
    [ -n "$eph" ] && [ "$eph" -gt $((lo + 1000)) ] && [ "$eph" -le $hi ] && hi=$((eph - 1))
    for i in $(seq 1 500); do
        p=$((lo + RANDOM % (hi - lo)))
        grep -qx "$p" "$ST_TMP/ports" 2>/dev/null && continue
        if command -v ss >/dev/null; then
            [ -n "$(ss -Htan "( sport = :$p or dport = :$p )" 2>/dev/null)" ] && continue
        else
            (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && continue
        fi
        echo "$p" >>"$ST_TMP/ports"
        echo "$p"
        return 0
    done
    return 1
}

st_need() {
    local b
    for b in "$@"; do
        [ -x "$b" ] || st_fail "$(basename "$b") not built ($b missing; build with make in $ST_BUILD)"
    done
}

# ------------------------------------------------------------------
# ZooKeeper
# ------------------------------------------------------------------

# ZooKeeper serving requests ("ruok" answers imok before it does; "srvr"
# reports the mode only once the server runs).
st_zk_ready() (
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf 'srvr' >&3
    while IFS= read -r -t 2 line <&3; do
        case "$line" in Mode:*) exit 0 ;; esac
    done
    exit 1
)

# st_zk_server_start DIR PORT: start a standalone ZooKeeper; waits up to 40 s.
st_zk_server_start() {
    local dir=$1 port=$2
    mkdir -p "$dir/data"
    cat >"$dir/zoo.cfg" <<EOF
tickTime=500
dataDir=$dir/data
clientPort=$port
clientPortAddress=127.0.0.1
maxClientCnxns=0
admin.enableServer=false
4lw.commands.whitelist=*
minSessionTimeout=1000
maxSessionTimeout=30000
EOF
    [ -f /usr/share/java/zookeeper.jar ] || { echo "ZooKeeper not installed (apt-get install zookeeper)" >&2; return 1; }
    java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Dzookeeper.admin.enableServer=false \
        -Dzookeeper.log.dir="$dir" -Dzookeeper.root.logger=WARN,CONSOLE \
        -Dorg.slf4j.simpleLogger.defaultLogLevel=warn \
        -cp "/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar" org.apache.zookeeper.server.ZooKeeperServerMain "$dir/zoo.cfg" \
        >"$dir/zk.log" 2>&1 &
    echo $! >"$dir/zk.pid"
    disown $!
    st_wait 40 st_zk_ready "$port"
}

# Set up ST_ZK (connect string with this test's chroot), starting a private
# server when the runner did not.
st_zk_setup() {
    st_need "$ST_ZKTOOL"
    if [ -z "${ST_ZK_PORT:-}" ]; then
        ST_ZK_PORT=$(st_free_port) || st_fail "no free port"
        local started=0
        st_zk_server_start "$ST_TMP/zk" "$ST_ZK_PORT" && started=1
        [ -f "$ST_TMP/zk/zk.pid" ] && st_track_pid zk "$(cat "$ST_TMP/zk/zk.pid")"
        [ $started = 1 ] || st_fail "ZooKeeper did not start on port $ST_ZK_PORT: $(tail -n 3 "$ST_TMP/zk/zk.log" 2>/dev/null)"
    fi
    ST_CHROOT=${ST_CHROOT:-/strata-$ST_TEST-$$}
    ST_ZK=127.0.0.1:$ST_ZK_PORT$ST_CHROOT
    "$ST_ZKTOOL" -z "127.0.0.1:$ST_ZK_PORT" create "$ST_CHROOT" >/dev/null 2>&1
    st_zkc get / >/dev/null 2>&1 || st_fail "cannot create chroot $ST_CHROOT"
    st_log "zookeeper 127.0.0.1:$ST_ZK_PORT chroot $ST_CHROOT"
}

# st_zkc ARGS...: `strata zk ARGS` against this test's chroot (the
# stand-alone st_zk, same code as the CLI's).
st_zkc() {
    "$ST_ZKTOOL" -z "$ST_ZK" --timeout-ms 5000 "$@"
}

# zkCli.sh against the server (payloads by hand, as an operator would).
st_zkcli() {
    local cp="/etc/zookeeper/conf:/usr/share/java/zookeeper.jar"
    java -Xmx128m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -cp "$cp" org.apache.zookeeper.ZooKeeperMain \
        -server "127.0.0.1:$ST_ZK_PORT" "$@" 2>&1
}

# ------------------------------------------------------------------
# Brokers
# ------------------------------------------------------------------

ST_BROKER_PORTS=()

# st_broker_config ID [key=value...]: write $ST_TMP/b<ID>/server.properties.
st_broker_config() {
    local id=$1
    shift
    local d=$ST_TMP/b$id
    mkdir -p "$d/logs"
    local port=${ST_BROKER_PORTS[$id]:-}
    if [ -z "$port" ]; then
        port=$(st_free_port) || st_fail "no free port"
        ST_BROKER_PORTS[$id]=$port
    fi
    {
        echo "broker.id=$id"
        echo "listeners=tcp://127.0.0.1:$port"
        echo "log.dirs=$d/logs"
        echo "zookeeper.connect=$ST_ZK"
        echo "zookeeper.session.timeout.ms=4000"
        echo "zookeeper.connection.timeout.ms=10000"
        echo "log.level=info"
        local kv
        for kv in "$@"; do echo "$kv"; done
    } >"$d/server.properties"
}

st_broker_url() { echo "tcp://127.0.0.1:${ST_BROKER_PORTS[$1]}"; }

# Comma-separated bootstrap list of the given broker ids (default: all).
st_bootstrap() {
    local ids=("$@") out="" id
    [ ${#ids[@]} -eq 0 ] && ids=("${!ST_BROKER_PORTS[@]}")
    for id in "${ids[@]}"; do out="${out:+$out,}$(st_broker_url "$id")"; done
    echo "$out"
}

# st_broker_start ID: start stratad (config written if absent), wait until
# /brokers/ids/ID is registered (20 s).
st_broker_start() {
    local id=$1 d=$ST_TMP/b$1
    st_need "$STRATAD"
    [ -f "$d/server.properties" ] || st_broker_config "$id"
    "$STRATAD" -c "$d/server.properties" >>"$d/stratad.log" 2>&1 &
    st_track_pid "b$id" $!
    disown $!
    local pid=$!
    st_log "started broker $id pid $pid on $(st_broker_url "$id")"
    registered() { kill -0 "$pid" 2>/dev/null || return 2; st_zkc get "/brokers/ids/$id"; }
    st_wait 20 registered || {
        kill -0 "$pid" 2>/dev/null || st_fail "broker $id exited at start: $(tail -n 2 "$d/stratad.log" | tr '\n' ' ')"
        st_fail "broker $id did not register within 20 s"
    }
}

st_broker_pid() { cat "$ST_TMP/pids/b$1.pid"; }

# st_broker_kill9 ID: SIGKILL, wait for the process to be gone (5 s).
st_broker_kill9() {
    local pid
    pid=$(st_broker_pid "$1")
    kill -9 "$pid" 2>/dev/null
    st_wait 5 st_not_running "$pid" || st_fail "broker $1 (pid $pid) survived SIGKILL"
    st_log "killed -9 broker $1"
}

# st_broker_stop ID: SIGTERM (controlled shutdown), 30 s bound.
st_broker_stop() {
    local pid
    pid=$(st_broker_pid "$1")
    kill -TERM "$pid" 2>/dev/null
    st_wait 30 st_not_running "$pid" || st_fail "broker $1 (pid $pid) did not stop on SIGTERM within 30 s"
    st_log "stopped broker $1"
}

# st_track_pid NAME PID: remember a process for cleanup (also in the
# runner's list, so a test killed by its time limit leaves nothing behind).
st_track_pid() {
    echo "$2" >"$ST_TMP/pids/$1.pid"
    if [ -n "${ST_RUN_PIDS:-}" ] && [ -d "$ST_RUN_PIDS" ] && [ "$ST_RUN_PIDS" != "$ST_TMP/pids" ]; then
        echo "$2" >"$ST_RUN_PIDS/$ST_TEST-$1.pid"
    fi
}

st_not_running() { ! kill -0 "$1" 2>/dev/null; }

# st_cluster_start N: ZooKeeper (if needed) + brokers 1..N, all registered.
st_cluster_start() {
    local n=$1 i
    st_need "$STRATAD"
    st_zk_setup
    for i in $(seq 1 "$n"); do st_broker_config "$i"; done
    for i in $(seq 1 "$n"); do st_broker_start "$i"; done
    st_wait 20 st_zkc get /controller || st_fail "no controller elected within 20 s"
}

# st_controller_id: the broker id in /controller ("" when none).
st_controller_id() {
    st_zkc get /controller 2>/dev/null | sed -n 's/.*"brokerid":\([0-9]*\).*/\1/p'
}

# st_cli ARGS...: the strata CLI against the cluster, bounded by
# ST_CMD_TIMEOUT seconds (default 60; status 124 when it hangs).
st_cli() {
    timeout -k 2 "${ST_CMD_TIMEOUT:-60}" "$STRATA" -b "$(st_bootstrap)" "$@"
}

# st_topic_ready TOPIC N: N partition state znodes with a leader >= 0.
st_topic_ready() {
    local t=$1 n=$2 p s
    for p in $(seq 0 $((n - 1))); do
        s=$(st_zkc get "/brokers/topics/$t/partitions/$p/state" 2>/dev/null) || return 1
        echo "$s" | grep -q '"leader":-1' && return 1
        echo "$s" | grep -q '"leader"' || return 1
    done
    return 0
}

# ------------------------------------------------------------------
# Raw protocol (protoc text format <-> wire bytes)
# ------------------------------------------------------------------

# st_encode MESSAGE < text > bytes: e.g. st_encode strata.Request
st_encode() {
    protoc -I "$ST_SRC/proto" --encode="$1" strata.proto raw.proto record.proto
}

# st_decode MESSAGE < bytes > text
st_decode() {
    protoc -I "$ST_SRC/proto" --decode="$1" strata.proto raw.proto record.proto
}

# st_raw URL FILE REPLYFILE: send FILE as one request; the summary line on
# stdout; status 0 reply, 3 no reply (dropped), other errors otherwise.
st_raw() {
    "$ST_RAWSEND" -t 3000 -o "$3" "$1" "$2"
}

# st_state_field TOPIC P FIELD: a number from a partition state znode.
st_state_field() {
    st_zkc get "/brokers/topics/$1/partitions/$2/state" | sed -n "s/.*\"$3\":\(-\{0,1\}[0-9]*\).*/\1/p"
}
