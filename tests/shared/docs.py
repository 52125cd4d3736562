"""Read docs/protocol.md: its marked example blocks and its generated catalogue tables.

An example is the fenced block right after a ``<!-- example: NAME -->`` line. The catalogue
tables sit between ``<!-- catalogue: begin ... -->`` and ``<!-- catalogue: end -->`` and are
generated from ``shared.catalogue``; rewrite them with ``python -m tests.shared.docs``.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from shared.catalogue import DEVICE_METRICS, KINDS, Metric

ROOT = Path(__file__).resolve().parents[2]
PROTOCOL = ROOT / "docs" / "protocol.md"

_EXAMPLE = re.compile(
    r"^<!-- example: (?P<name>[a-z0-9-]+) -->\n(?P<fence>`{3,})[^\n]*\n(?P<body>.*?)\n(?P=fence)$",
    re.DOTALL | re.MULTILINE,
)
_CATALOGUE = re.compile(
    r"(?P<begin><!-- catalogue: begin[^\n]*-->\n)(?P<table>.*?)(?P<end><!-- catalogue: end -->)",
    re.DOTALL,
)


def protocol_text() -> str:
    """The text of docs/protocol.md."""
    return PROTOCOL.read_text(encoding="utf-8")


@cache
def doc_examples() -> dict[str, str]:
    """Every marked example of docs/protocol.md, by name, without its fences."""
    examples: dict[str, str] = {}
    for match in _EXAMPLE.finditer(protocol_text()):
        name = match["name"]
        if name in examples:
            raise ValueError(f"docs/protocol.md marks two examples as {name!r}")
        examples[name] = match["body"]
    return examples


def doc_example(name: str) -> str:
    """The text of the example marked ``<!-- example: NAME -->`` in docs/protocol.md."""
    try:
        return doc_examples()[name]
    except KeyError:
        raise KeyError(f"docs/protocol.md has no example called {name!r}") from None


def doc_catalogue_table() -> str:
    """The catalogue tables as they stand in docs/protocol.md."""
    match = _CATALOGUE.search(protocol_text())
    if match is None:
        raise ValueError("docs/protocol.md has no <!-- catalogue: begin/end --> section")
    return match["table"]


def catalogue_table() -> str:
    """The catalogue tables generated from shared.catalogue, as Markdown."""
    lines = [
        "| Kind | Smart Data Model | Metric | Unit | unitCode | Possible range | Meaning |",
        "|---|---|---|---|---|---|---|",
    ]
    for kind in KINDS.values():
        lines += [
            f"| `{kind.name}` | {kind.sdm_type} | {_metric_cells(metric)} |"
            for metric in kind.metrics.values()
        ]
    lines += [
        "",
        "Device metrics, which any kind may send as well:",
        "",
        "| Metric | Unit | unitCode | Possible range | Meaning |",
        "|---|---|---|---|---|",
    ]
    lines += [f"| {_metric_cells(metric)} |" for metric in DEVICE_METRICS.values()]
    return "\n".join(lines) + "\n"


def _metric_cells(metric: Metric) -> str:
    code = metric.unit_code or "-"
    span = f"{_number(metric.low)} .. {_number(metric.high)}"
    return f"`{metric.name}` | {metric.unit} | {code} | {span} | {metric.description}"


def _number(value: float) -> str:
    if abs(value) < 1e6:
        return repr(value).removesuffix(".0")
    mantissa, exponent = f"{value:.15e}".split("e")
    return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"


def write_catalogue_table() -> None:
    """Replace the catalogue tables in docs/protocol.md with freshly generated ones."""
    text = protocol_text()
    if _CATALOGUE.search(text) is None:
        raise ValueError("docs/protocol.md has no <!-- catalogue: begin/end --> section")
    fresh = _CATALOGUE.sub(lambda m: m["begin"] + catalogue_table() + m["end"], text, count=1)
    PROTOCOL.write_text(fresh, encoding="utf-8")


if __name__ == "__main__":
    write_catalogue_table()
