# Sourced by scripts/test and scripts/quickstart: installs the Debian 12
# packages strata needs when any is missing (idempotent; a no-op when all
# are present). Needs root for apt-get.
ST_DEPS_BUILD="build-essential autoconf automake libtool pkg-config \
 libzookeeper-st-dev libprotobuf-c-dev protobuf-c-compiler libev-dev libnng-dev \
 libcunit1-dev libjansson-dev libzstd-dev liblz4-dev libisal-dev uuid-dev libssl-dev"
ST_DEPS_RUN="zookeeper default-jre-headless procps iproute2"
ST_DEPS_TEST="python3 python3-protobuf protobuf-compiler clang clang-format valgrind prometheus"

st_install_deps() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "installing Debian packages: ${missing[*]}"
    if [ "$(id -u)" -ne 0 ]; then
        echo "error: need root to apt-get install: ${missing[*]}" >&2
        return 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || true
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
}
