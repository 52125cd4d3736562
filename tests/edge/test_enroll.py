"""`citytwin edge enroll CODE`: the technician's one step from a code to a gateway that uploads."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import httpx

from edge.settings import load
from tests.support import batches as b
from tests.support.cloud import CloudServer, ingest


def _config(tmp_path: Path, cloud_url: str) -> Path:
    config = tmp_path / "gw-07.toml"
    config.write_text(
        f'gateway_id = "gw-07"\ndata_dir = "{tmp_path / "data"}"\n[cloud]\nurl = "{cloud_url}"\n'
    )
    return config


def _enroll(config: Path, code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "citytwin", "edge", "enroll", "--config", str(config), code],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_enroll_saves_a_token_the_agent_then_uploads_with(tmp_path: Path) -> None:
    with CloudServer(tmp_path / "cloud.db", secure=True) as cloud:
        registered = httpx.post(
            f"{cloud.url}/api/v1/gateways", json={"gateway": "gw-07"}, headers=cloud.auth()
        )
        assert registered.status_code == 201, registered.text
        config = _config(tmp_path, cloud.url)

        done = _enroll(config, registered.json()["code"].lower())  # as a technician types it
        assert done.returncode == 0, done.stderr
        saved = tmp_path / "data" / "cloud-token"
        assert f"token saved to {saved}" in done.stdout
        assert stat.S_IMODE(saved.stat().st_mode) == 0o600

        token = load(config).cloud.token
        assert token is not None
        assert token == saved.read_text().strip()
        with httpx.Client(base_url=cloud.url) as http:
            sent = ingest(http, b.body([b.summary(1)], gateway="gw-07"), token=token)
        assert sent.status_code == 200, sent.text

        again = _enroll(config, registered.json()["code"])  # a code works once
        assert again.returncode == 1
        assert "the cloud refused the enrollment (403)" in again.stderr
        assert load(config).cloud.token == token  # the saved token is kept


def test_a_token_in_the_config_wins_over_the_saved_one(tmp_path: Path) -> None:
    config = _config(tmp_path, "http://127.0.0.1:9")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "cloud-token").write_text("ctg_saved\n")
    assert load(config).cloud.token == "ctg_saved"
    config.write_text(config.read_text() + 'token = "ctg_configured"\n')
    assert load(config).cloud.token == "ctg_configured"


def test_enroll_says_when_the_cloud_cannot_be_reached(tmp_path: Path) -> None:
    done = _enroll(_config(tmp_path, "http://127.0.0.1:9"), "AAAA-BBBB-CCCC-DDDD")
    assert done.returncode == 1
    assert "cannot reach the cloud at http://127.0.0.1:9" in done.stderr
    assert not (tmp_path / "data" / "cloud-token").exists()
