"""bench/sessions.py: how it finds the source form, what it sends, its percentiles, its
arguments; and (slow) one real session on one `marimo run` server reaching gate 1."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from samples import SAMPLES, sample_path

BENCH = Path(__file__).resolve().parent.parent / "bench"

# The source picker's form as marimo 0.25 renders it (attributes trimmed to those read).
FORM_HTML = (
    "<marimo-ui-element object-id='lEQa-2' random-id='1c577cda'><marimo-form "
    "data-initial-value='null' data-element-id='&quot;lEQa-1&quot;' "
    "data-submit-button-label='&quot;Load sample&quot;' data-clear-on-submit='false'>"
    "<marimo-ui-element object-id='lEQa-1' random-id='a3b0e2fb'><marimo-dropdown>"
)


@pytest.fixture(scope="module")
def sessions() -> Iterator[ModuleType]:
    """bench/ is a folder of scripts, not a package; sessions.py imports its sibling
    upload.py as the scripts do when run, so bench/ is on the path while it loads (and the
    module is registered under its name: its dataclasses look it up)."""
    spec = importlib.util.spec_from_file_location("bench_sessions", BENCH / "sessions.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(BENCH))
        patch.setitem(sys.modules, spec.name, module)
        spec.loader.exec_module(module)
        yield module
    sys.modules.pop("upload", None)


def test_the_form_is_the_element_wrapping_the_marimo_form(sessions: ModuleType) -> None:
    assert sessions.form_id(FORM_HTML, "Load sample") == "lEQa-2"
    assert sessions.form_id(FORM_HTML, "Load file") is None
    assert (
        sessions.form_id("Pick a sample and press <strong>Load sample</strong>", "Load sample")
        is None
    )


def test_a_bundled_sample_goes_through_its_button_any_other_file_by_path(
    sessions: ModuleType, tmp_path: Path
) -> None:
    sample = SAMPLES[1]
    assert sessions.source_answer(sample_path(sample.name)) == ("Load sample", [sample.title])
    other = tmp_path / "x.csv"
    assert sessions.source_answer(other) == ("Load file", str(other.resolve()))


def test_percentiles_are_nearest_rank(sessions: ModuleType) -> None:
    values = [float(v) for v in range(1, 17)]
    assert sessions.percentile(values, 0.5) == 8.0
    assert sessions.percentile(values, 0.95) == 16.0
    assert sessions.percentile(values[:8], 0.95) == 8.0
    assert sessions.percentile([3.0], 0.95) == 3.0


def test_arguments(sessions: ModuleType) -> None:
    args = sessions.parse_args(["a.csv", "--sessions", "1", "4", "--servers", "2"])
    assert args.sessions == [1, 4] and args.servers == [2] and args.repeat == 2
    assert args.opening == "staggered"
    for wrong in (["--sessions", "0"], ["--timeout", "0"], ["--opening", "sideways"]):
        with pytest.raises(SystemExit):
            sessions.parse_args(["a.csv", *wrong])


@pytest.mark.slow
def test_two_sessions_on_one_server_reach_gate_1(sessions: ModuleType) -> None:
    run = sessions.measure(sample_path(SAMPLES[1].name), 1, 2, opening="staggered", timeout=120)
    assert len(run.timings) == 2 and not run.failures
    assert all(0 < t.to_gate1 <= t.open_to_gate1 for t in run.timings)
    assert run.held_rss > 0 and run.peak_rss >= run.held_rss
