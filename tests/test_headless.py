"""`python -m steps`: the same steps without the app; bad input exits 2 with one sentence."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from samples import sample_path

ROOT = Path(__file__).resolve().parent.parent


def run_steps(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "steps", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(ROOT)},
        timeout=300,
    )


def test_report_has_the_contract_keys_and_every_gate_pending(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    result = run_steps(str(sample_path("penguins")), "--json", str(out), "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    assert report["schema_version"]
    assert report["status"] == "draft"
    assert {"name", "sha256", "bytes", "encoding", "delimiter"} <= set(report["source"])
    frame = pd.read_csv(sample_path("penguins"))
    assert report["overview"]["n_rows"] == len(frame)
    by_name = {c["name"]: c for c in report["overview"]["columns"]}
    mass = frame["body_mass_g"].dropna().to_numpy(dtype=float)
    assert np.isclose(by_name["body_mass_g"]["mean"], mass.mean(), rtol=1e-12)
    assert np.isclose(by_name["body_mass_g"]["std"], mass.std(ddof=1), rtol=1e-12)
    assert report["quality"]["duplicate_rows"] == int(frame.duplicated().sum())
    assert {g["status"] for g in report["gates"].values()} == {"pending", "not_applicable"}
    assert report["gates"]["model_approval"]["status"] == "not_applicable"
    assert report["ai"]["overview"]["advisor"] == "offline"
    assert "statistics" in report and report["statistics"]["threshold"] == 0.7
    written = sorted(p.name for p in tmp_path.iterdir())
    assert "penguins-bundle.zip" in written
    assert "penguins-cleaned.parquet" in written


def test_a_bad_file_exits_2_with_one_sentence(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    result = run_steps(str(empty), "--json", str(tmp_path / "r.json"))
    assert result.returncode == 2
    assert result.stderr == "error: The file is empty.\n"
    assert not (tmp_path / "r.json").exists()


@pytest.mark.parametrize(
    ("sample", "output", "absent"),
    [
        # Every export: the Parquet one needs pyarrow (and pandas with it), no model sklearn.
        ("penguins", "--out", ("sklearn",)),
        # The JSON report alone needs none of them (pandas with its pyarrow: ~0.4 s, ~70 MB).
        ("messy_orders", "--json", ("pandas", "pyarrow", "sklearn")),
    ],
)
def test_a_run_without_a_target_never_imports_what_it_does_not_use(
    tmp_path: Path, sample: str, output: str, absent: tuple[str, ...]
) -> None:
    """scikit-learn costs about a second of start-up; only models (and Isolation Forest,
    when chosen) need it, and pandas only they and the Parquet export."""
    target = tmp_path / ("r.json" if output == "--json" else "out")
    argv = [str(sample_path(sample)), output, str(target)]
    script = (
        "import sys\n"
        "from steps.__main__ import main\n"
        f"code = main({argv!r})\n"
        f"print(code, *(name in sys.modules for name in {absent!r}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.stdout.split() == ["0"] + ["False"] * len(absent), result.stderr


def test_the_json_report_may_go_into_folders_that_do_not_exist_yet(tmp_path: Path) -> None:
    out = tmp_path / "new" / "exports"
    report = out / "deeper" / "report.json"
    result = run_steps(str(sample_path("penguins")), "--out", str(out), "--json", str(report))
    assert result.returncode == 0, result.stderr
    assert json.loads(report.read_text())["status"] == "draft"
    assert any(p.suffix == ".parquet" for p in out.iterdir())


def test_read_options_mirror_the_app_form(tmp_path: Path) -> None:
    """`--delimiter tab --skip-lines 2 --no-header`: the file read as the person says, and
    the report says so (`source.read_options`)."""
    path = tmp_path / "export.txt"
    rows = "".join(f"{i}\t{i * 0.5}\t{'ab'[i % 2]}\n" for i in range(30))
    path.write_text("Exported 2026-12-01\nby the warehouse\n" + rows, encoding="utf-8")
    out = tmp_path / "report.json"
    args = ("--delimiter", "tab", "--skip-lines", "2", "--no-header", "--json", str(out))
    result = run_steps(str(path), *args)
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    assert report["source"]["read_options"] == {
        "delimiter": "\t",
        "skip_lines": 2,
        "header": False,
        "sheet": None,
    }
    assert report["source"]["lines_skipped"] == 2
    assert report["overview"]["n_rows"] == 30
    assert report["overview"]["n_columns"] == 3


def test_a_bad_read_option_exits_2_with_one_sentence(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("a,b\n1,2\n", encoding="utf-8")
    result = run_steps(str(path), "--delimiter", "ab")
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
