"""``citytwin cloud`` as a user runs it: a real process, its exit codes and its messages."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.support import batches as b
from tests.support.city import write_city
from tests.support.cloud import ingest, table_counts, wait_healthy

CITYTWIN = str(Path(sys.executable).parent / "citytwin")
TOKEN = "gw-01-token-0123456789"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CITYTWIN, *args], check=False, capture_output=True, text=True, timeout=30
    )


@pytest.mark.parametrize("command", [["cloud"], ["cloud", "serve"], ["cloud", "seed"]])
def test_every_command_has_help(command: list[str]) -> None:
    result = run(*command, "--help")

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"Usage: citytwin {' '.join(command)} ")


def test_serve_help_documents_its_options() -> None:
    out = run("cloud", "serve", "--help").stdout

    for option in ("--host", "--port", "--database", "--gateway-token GATEWAY=TOKEN"):
        assert option in out


def test_a_taken_port_is_one_clear_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        result = run("cloud", "serve", "--port", str(port), "--database", str(tmp_path / "c.db"))

    assert result.returncode == 1
    assert result.stderr == (
        f"Error: cannot listen on 127.0.0.1:{port}: the port is already in use\n"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--gateway-token", "gw-01"], "Invalid value for --gateway-token: 'gw-01' is not"),
        (["--gateway-token", "gw-01=short"], "gateway_tokens: Value error, token of 'gw-01'"),
        (["--port", "-1"], "invalid settings: port: Input should be greater than or equal to 0"),
    ],
)
def test_bad_options_are_refused_with_one_error_line(
    tmp_path: Path, args: list[str], message: str
) -> None:
    result = run("cloud", "serve", "--database", str(tmp_path / "c.db"), *args)

    assert result.returncode == 2
    [error] = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert message in error
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("sig", "returncode"), [(signal.SIGTERM, -signal.SIGTERM), (signal.SIGINT, 130)]
)
def test_serve_runs_until_a_signal_then_stops_cleanly(
    tmp_path: Path, sig: signal.Signals, returncode: int
) -> None:
    args = [
        "--port",
        "0",
        "--database",
        str(tmp_path / "c.db"),
        "--gateway-token",
        f"gw-01={TOKEN}",
    ]
    proc = subprocess.Popen([CITYTWIN, "cloud", "serve", *args], stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        found = re.search(r"http://[\d.]+:\d+", proc.stderr.readline())
        assert found, "serve did not say where it listens"
        wait_healthy(found.group())
        with httpx.Client(base_url=found.group()) as http:
            assert ingest(http, b.body([b.summary(1)])).status_code == 401
            assert ingest(http, b.body([b.summary(1)]), token=TOKEN).status_code == 200
    finally:
        proc.send_signal(sig)
        _, log = proc.communicate(timeout=20)

    # Ctrl-C may also end with 0 when it lands while uvicorn is shutting down by itself.
    assert proc.returncode in (returncode, 0 if sig == signal.SIGINT else returncode)
    assert "cloud aggregator stopped" in log
    assert "Traceback" not in log


def test_seed_loads_a_city_file_and_can_be_repeated(tmp_path: Path) -> None:
    data = write_city(tmp_path / "city.geojson", sensors=10)
    args = ("cloud", "seed", "--database", str(tmp_path / "c.db"), str(tmp_path / "city.geojson"))

    first, again = run(*args), run(*args)

    for result in (first, again):
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith(f"seeded {len(data['features'])} entities from ")
    assert table_counts(tmp_path / "c.db")["entities"] == len(data["features"])


def test_seed_refuses_a_file_that_is_not_a_city(tmp_path: Path) -> None:
    (tmp_path / "city.geojson").write_text('{"type": "FeatureCollection", "features": [{}]}')

    result = run(
        "cloud", "seed", "--database", str(tmp_path / "c.db"), str(tmp_path / "city.geojson")
    )

    assert result.returncode == 1
    assert result.stderr.startswith("Error: not a city file: features.0.type: Field required")


def test_the_first_admin_key_comes_from_the_cli(tmp_path: Path) -> None:
    database = tmp_path / "c.db"

    created = run("cloud", "keys", "create", "--role", "admin", "--database", str(database))
    refused = run("cloud", "keys", "create", "--role", "operator", "--database", str(database))
    code = run("cloud", "gateways", "register", "gw-01", "--database", str(database))
    listed = run("cloud", "keys", "list", "--database", str(database))

    key = created.stdout.strip()
    assert created.returncode == 0, created.stderr
    assert re.fullmatch(r"ctk_[0-9a-f]{12}_[A-Za-z0-9_-]{43}", key)
    assert "it is shown only now" in created.stderr
    assert refused.returncode == 1
    assert "an operator key needs at least one department" in refused.stderr
    assert re.fullmatch(r"[0-9A-Z]{4}(-[0-9A-Z]{4}){3}", code.stdout.strip())
    assert key.split("_")[1] in listed.stdout
    assert key not in listed.stdout
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [CITYTWIN, "cloud", "serve", "--port", str(port), "--database", str(database)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url)
        enrolled = httpx.post(
            f"{url}/api/v1/enroll", json={"gateway": "gw-01", "code": code.stdout.strip()}
        )
        assert httpx.get(f"{url}/api/v1/entities").status_code == 401
        assert httpx.get(
            f"{url}/api/v1/keys", headers={"Authorization": f"Bearer {key}"}
        ).is_success
        assert enrolled.status_code == 200
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=20)


@pytest.mark.parametrize(
    "command",
    [
        ["cloud", "keys"], ["cloud", "keys", "create"], ["cloud", "keys", "list"],
        ["cloud", "keys", "revoke"], ["cloud", "gateways"], ["cloud", "gateways", "register"],
        ["cloud", "gateways", "revoke"],
    ],
)  # fmt: skip
def test_every_credentials_command_has_help(command: list[str]) -> None:
    result = run(*command, "--help")

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"Usage: citytwin {' '.join(command)} ")
