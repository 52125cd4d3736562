"""``citytwin sim plots``: one PNG per kind, written by the command."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from citytwin.cli import cli
from shared.catalogue import KINDS


def test_plots_writes_one_png_per_kind(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["sim", "plots", "--days", "1", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{k}.png" for k in KINDS)
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in tmp_path.iterdir())
