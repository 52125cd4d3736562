# Shared by scripts/test and scripts/demo: a Python 3.11+ virtual environment in .venv with
# citytwin installed in development mode, and Mosquitto when it can be installed.
set -euo pipefail
cd "$(dirname "$0")/.."

find_python() {
    for candidate in python3.13 python3.12 python3.11 python3; do
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
            echo "$candidate"
            return 0
        fi
    done
    echo "citytwin needs Python 3.11 or newer; none found on PATH" >&2
    return 1
}

ensure_venv() {
    local extras="$1"
    if [ ! -x .venv/bin/python ]; then
        "$(find_python)" -m venv .venv
    fi
    .venv/bin/python -m pip install --quiet --upgrade pip >/dev/null
    .venv/bin/python -m pip install --quiet -e ".[${extras}]"
}

# Mosquitto is the broker the tests start; the demo falls back to an embedded one without it.
ensure_mosquitto() {
    if command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ]; then
        return 0
    fi
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mosquitto
        # Installed only as a program: the tests start their own instances on free ports.
        return 0
    fi
    return 1
}

# Chromium drives the dashboard's browser tests (through Playwright, pointed at this binary).
ensure_chromium() {
    if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 ||
        command -v google-chrome >/dev/null 2>&1; then
        return 0
    fi
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
        return 0
    fi
    return 1
}

# PostgreSQL, the cloud tests' second backend: CITYTWIN_TEST_POSTGRES if it is already set,
# else a throwaway cluster of our own (trust auth, a free port, a temp dir) that is stopped
# and deleted when the calling script exits. Without one, the PostgreSQL tests skip.
ensure_postgres() {
    if [ -n "${CITYTWIN_TEST_POSTGRES:-}" ]; then
        return 0
    fi
    local bin
    if ! bin="$(_postgres_bin)"; then
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
            apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql
        fi
        bin="$(_postgres_bin)" || return 1
    fi
    local dir port as=()
    dir="$(mktemp -d)"
    port="$(_free_port)"
    # initdb refuses to run as root: the cluster belongs to the postgres user then.
    if [ "$(id -u)" = 0 ]; then
        chown postgres "$dir"
        as=(runuser -u postgres --)
    fi
    "${as[@]}" "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-sync >/dev/null || return 1
    # Durability is not what the tests are about: skip every fsync for speed.
    "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -s \
        -o "-h 127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
        start || return 1
    # shellcheck disable=SC2064  # expand now: the values are local
    trap "${as[*]} '$bin/pg_ctl' -D '$dir/data' -m immediate -s stop; rm -rf '$dir'" EXIT
    export CITYTWIN_TEST_POSTGRES="postgresql://postgres@127.0.0.1:$port/postgres"
}

_postgres_bin() {
    local initdb
    initdb="$(command -v initdb 2>/dev/null || ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null |
        sort -V | tail -n 1)"
    [ -n "$initdb" ] && [ -x "$initdb" ] || return 1
    dirname "$(readlink -f "$initdb")"
}

_free_port() {
    .venv/bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
