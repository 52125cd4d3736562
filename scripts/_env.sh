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
