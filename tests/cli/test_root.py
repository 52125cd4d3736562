"""The root command: lazy groups, and a clear message when an extra is not installed."""

from __future__ import annotations

import subprocess
import sys

import click
from click.testing import CliRunner

from citytwin.cli import _missing


def test_root_help_lists_every_group_without_importing_them() -> None:
    code = (
        "import sys; from citytwin.cli import cli; "
        "from click.testing import CliRunner; r = CliRunner().invoke(cli, ['--help']); "
        "print(r.output); print('fastapi' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    for group in ("cloud", "demo", "edge", "model", "sim"):
        assert f"  {group} " in result.stdout
    assert result.stdout.strip().endswith("False")  # listing did not import the cloud


def test_missing_extra_explains_what_to_install_whatever_the_arguments() -> None:
    stand_in = _missing("cloud", "Run the cloud.", "cloud", ModuleNotFoundError(name="fastapi"))
    result = CliRunner().invoke(stand_in, ["serve", "--port", "1"])
    assert result.exit_code == 1
    assert "pip install 'citytwin[cloud]'" in result.output
    assert "fastapi is missing" in result.output
    assert isinstance(stand_in, click.Command)
