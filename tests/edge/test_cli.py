"""`citytwin edge` as a technician meets it: help, and one clear line for every mistake."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


def citytwin(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real command line in a fresh interpreter."""
    return subprocess.run(
        [sys.executable, "-m", "citytwin", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        check=False,
    )


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["edge", "--help"],
        ["edge", "run", "--help"],
        ["edge", "dlq", "list", "--help"],
        ["edge", "dlq", "replay", "--help"],
        ["edge", "replay", "--help"],
    ],
)
def test_every_command_has_help(args: list[str]) -> None:
    result = citytwin(*args)
    assert result.returncode == 0, result.stderr
    assert "Usage:" in result.stdout


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ('gateway_id = "gw"\n[windows]\nlength_s = 0\n', "windows.length_s"),
        ('gateway_id = "gw"\ncolour = "blue"\n', "colour: Extra inputs are not permitted"),
        ("gateway_id =\n", "is not valid TOML"),
        ('gateway_id = "no spaces allowed"\n', "gateway_id"),
        ('gateway_id = "gw"\n[mqtt]\nurl = "http://x"\n', "mqtt.url"),
        ('gateway_id = "gw"\n[store]\nquota_bytes = 4096\n', "store.quota_bytes: Value error"),
    ],
)
def test_bad_config_is_one_line_naming_the_field(tmp_path: Path, config: str, message: str) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text(config)
    result = citytwin("edge", "run", "--config", str(path))
    assert result.returncode != 0
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr


def test_missing_config_file(tmp_path: Path) -> None:
    result = citytwin("edge", "run", "--config", str(tmp_path / "nope.toml"))
    assert result.returncode != 0
    assert "cannot read config" in result.stderr
    assert "Traceback" not in result.stderr


def test_dlq_list_without_a_store_says_so(tmp_path: Path) -> None:
    result = citytwin("edge", "dlq", "list", "--data-dir", str(tmp_path))
    assert result.returncode != 0
    assert "no store at" in result.stderr
