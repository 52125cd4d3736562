"""``sim export`` and ``sim city``: files as documented, identical bytes, valid readings."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from citytwin.cli import cli
from firmware_sim.dataset import DatasetPlan, make_dataset
from firmware_sim.export import LABEL_COLUMNS, write_dataset
from shared.catalogue import KINDS
from shared.errors import SchemaError
from shared.reading import check_metrics

PLAN = DatasetPlan(seed=7, sensors=48, days=3)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A three-day export of 48 sensors."""
    out = tmp_path_factory.mktemp("export")
    write_dataset(make_dataset(PLAN), out)
    return out


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


def tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*.*"))}


def test_the_same_seed_gives_byte_identical_files(exported: Path, tmp_path: Path) -> None:
    write_dataset(make_dataset(PLAN), tmp_path)
    assert tree(tmp_path) == tree(exported)


def test_another_seed_gives_other_readings(exported: Path, tmp_path: Path) -> None:
    write_dataset(make_dataset(DatasetPlan(seed=8, sensors=48, days=3)), tmp_path)
    assert tree(tmp_path)["readings/noise.csv"] != tree(exported)["readings/noise.csv"]


def test_the_files_are_as_documented(exported: Path) -> None:
    manifest = json.loads((exported / "manifest.json").read_text())
    assert sorted(manifest["files"]) == sorted(set(tree(exported)) - {"manifest.json"})
    assert list(rows(exported / "labels.csv")[0]) == list(LABEL_COLUMNS)
    for kind in KINDS:
        data = rows(exported / "readings" / f"{kind}.csv")
        assert list(data[0]) == ["ts", "sensor", "seq", *KINDS[kind].metrics]
        assert len(data) == manifest["readings"][kind]
    docs = (Path(__file__).parents[2] / "docs" / "simulator.md").read_text(encoding="utf-8")
    for name in manifest["files"]:
        documented = "readings/<kind>.csv" if name.startswith("readings/") else name
        assert f"`{documented}`" in docs
    assert all(f"`{column}`" in docs for column in LABEL_COLUMNS)


def _out_of_range(exported: Path) -> set[tuple[str, str, int]]:
    """(sensor, metric, ts) of every sample labelled out of range."""
    step = int(PLAN.interval_s)
    return {
        (lab["sensor"], lab["metric"], ts)
        for lab in rows(exported / "labels.csv")
        if lab["type"] == "out_of_range"
        for ts in range(int(lab["start"]), int(lab["end"]) + 1, step)
    }


def test_readings_are_valid_unless_labelled_out_of_range(exported: Path) -> None:
    labelled = _out_of_range(exported)
    assert labelled, "three days of 48 sensors have out-of-range faults"
    invalid, sent = set(), set()
    for kind, spec in KINDS.items():
        for row in rows(exported / "readings" / f"{kind}.csv"):
            sent.add((row["sensor"], int(row["ts"])))
            metrics = {name: float(row[name]) for name in spec.metrics}
            bad = {n for n, v in metrics.items() if not spec.metrics[n].accepts(v)}
            if bad:
                with pytest.raises(SchemaError, match="outside the possible range"):
                    check_metrics(kind, metrics)
            else:
                assert check_metrics(kind, metrics) == metrics  # the gateway's own check
            invalid |= {(row["sensor"], name, int(row["ts"])) for name in bad}
    # An out-of-range sample that a later dropout removed was never sent.
    assert invalid == {(s, m, t) for s, m, t in labelled if (s, t) in sent}


def test_dropped_readings_leave_gaps_in_seq(exported: Path) -> None:
    dropouts = [lab for lab in rows(exported / "labels.csv") if lab["type"] == "dropout"]
    assert dropouts
    for label in dropouts:
        mine = [r for r in rows(exported / "readings" / f"{label['kind']}.csv")
                if r["sensor"] == label["sensor"]]  # fmt: skip
        stamps = {int(r["ts"]) for r in mine}
        assert not any(int(label["start"]) <= t <= int(label["end"]) for t in stamps)
        seqs = [int(r["seq"]) for r in mine]
        assert seqs == sorted(seqs)
        assert len(seqs) < seqs[-1] + 1


def test_export_command_writes_the_folder(tmp_path: Path) -> None:
    args = ["sim", "export", "--days", "1", "--sensors", "16", "--seed", "7", "--out",
            str(tmp_path / "data")]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "readings" in result.stderr
    assert "labels" in result.stderr
    assert (tmp_path / "data" / "readings" / "traffic_flow.csv").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--days", "0"], "days: 0 is not positive"),
        (["--interval", "0.5"], "interval: 0.5 is under 1 s"),
        (["--sensors", "-1"], "sensors: -1 is negative"),
        (["--fault-rate", "-1"], "faults_per_sensor_day: is negative"),
        (["--days", "1000", "--interval", "1"], "days: 1000 days at 1 s is over"),
    ],
)
def test_bad_export_options_give_one_clear_line(
    args: list[str], message: str, tmp_path: Path
) -> None:
    result = CliRunner().invoke(cli, ["sim", "export", "--out", str(tmp_path), *args])
    assert result.exit_code == 1
    [line] = result.stderr.splitlines()
    assert line.startswith(f"Error: {message}")


def test_city_command_writes_geojson(tmp_path: Path) -> None:
    out = tmp_path / "city.geojson"
    result = CliRunner().invoke(cli, ["sim", "city", "--seed", "7", "--out", str(out)])
    assert result.exit_code == 0, result.output
    collection = json.loads(out.read_text())
    assert collection["type"] == "FeatureCollection"
    again = CliRunner().invoke(cli, ["sim", "city", "--seed", "7"])
    assert again.stdout == out.read_text()


@pytest.mark.parametrize("command", ["city", "export"])
def test_new_commands_have_help(command: str) -> None:
    result = CliRunner().invoke(cli, ["sim", command, "--help"])
    assert result.exit_code == 0
    assert "Usage:" in result.output
