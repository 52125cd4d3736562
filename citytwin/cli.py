"""The ``citytwin`` command: a thin shell over the packages.

Each group lives in its own package and is imported only when used, so a gateway with only
``citytwin[edge]`` installed can run ``citytwin edge ...`` without the cloud's dependencies.
"""

from __future__ import annotations

import importlib
import sys

import click
from pydantic import ValidationError

from citytwin import __version__

# group name -> (module, attribute, one-line help, extra that provides it)
_GROUPS = {
    "edge": ("edge.cli", "group", "Run and inspect the gateway agent.", "edge"),
    "cloud": ("cloud.cli", "group", "Run the cloud aggregator.", "cloud"),
    "sim": ("firmware_sim.cli", "group", "Simulate sensors and a city.", "sim"),
    "model": ("training.cli", "group", "Train, evaluate and export anomaly models.", "train"),
    "demo": ("citytwin.demo", "command", "Run the whole system on this machine.", "all"),
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_GROUPS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = _GROUPS.get(cmd_name)
        if entry is None:
            return None
        module_name, attr, short_help, extra = entry
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                raise  # our own module is missing: a packaging bug, not a missing extra
            return _missing(cmd_name, short_help, extra, exc)
        command: click.Command = getattr(module, attr)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Listing must not import the groups: `citytwin --help` stays fast and works on any extra.
        rows = [(name, entry[2]) for name, entry in sorted(_GROUPS.items())]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def _missing(name: str, short_help: str, extra: str, exc: ModuleNotFoundError) -> click.Command:
    """A stand-in command that explains which extra to install."""

    @click.command(
        name,
        short_help=f"{short_help} (needs citytwin[{extra}])",
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
        add_help_option=False,
    )
    @click.argument("args", nargs=-1, type=click.UNPROCESSED)
    def stand_in(args: tuple[str, ...]) -> None:  # noqa: ARG001 (whatever was typed)
        raise click.ClickException(
            f"'citytwin {name}' needs the {extra} extra ({exc.name} is missing): "
            f"pip install 'citytwin[{extra}]'"
        )

    return stand_in


@click.group(cls=LazyGroup)
@click.version_option(__version__, prog_name="citytwin")
def cli() -> None:
    """citytwin: a live digital twin of a city, from sensor to dashboard."""


def main() -> None:
    """Entry point: user mistakes become one line on stderr and a non-zero exit code."""
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except ValidationError as exc:
        click.echo(f"Error: invalid settings: {_first_error(exc)}", err=True)
        sys.exit(2)
    except OSError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)


def _first_error(exc: ValidationError) -> str:
    errors = exc.errors()
    parts = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errors[:3]]
    more = f" (+{len(errors) - 3} more)" if len(errors) > 3 else ""
    return "; ".join(parts) + more
