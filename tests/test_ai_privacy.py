"""Strict privacy: a file with a unique value planted in every column goes through the real
loader and the stages, and no prompt (Steps 1–3 and Step 4) carries any of those values,
nor any 6 characters in a row of any cell. The same file in aggregates mode does leak them,
so the test can see a leak. The fact-check accepts the rounded figures strict prompts show.
"""

from __future__ import annotations

import csv
import functools
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pytest_httpserver import HTTPServer

from ai.factcheck import unverified_numbers
from ai.factory import choose_advisor
from ai.gemini import GeminiAdvisor
from ai.offline import OfflineAdvisor
from ai.prompts import Prompt, privacy_notice, step_prompt
from flow import stages
from samples import sample_path
from steps.cleaning import CleaningPlan
from steps.errors import PrivacyError
from steps.insights import Facts
from steps.load import load
from steps.overview import overview
from steps.record import Parameters
from steps.settings import PRIVACY_MODES, AISettings, Privacy, Settings

N_ROWS = 41
SALARY = 9876543
SSN = 999887777
CONSTANT = 4242424242
PLANTED = (str(SALARY), str(SSN), str(CONSTANT), "Quixotic-Harbour-0007", "EMP-Vorpal-0013")
TARGET = "tier"
WINDOW = 6
GENERATE = re.compile(r"/v1(beta)?/models/[^/]+:generateContent")


def planted_frame() -> pd.DataFrame:
    """Employees with a unique value planted in every column: an outlying salary, an
    SSN-like tax number, unique codes and mottos, dates, a constant code, class labels."""
    rng = np.random.default_rng(2024)
    salary = np.round(rng.uniform(41_000, 88_000, N_ROWS), 2)
    salary[7] = SALARY
    tax = pd.array(rng.integers(100_000_000, 900_000_000, N_ROWS), dtype="Int64")
    tax[3], tax[5] = SSN, pd.NA  # one missing: a numeric column, not an identifier
    return pd.DataFrame(
        {
            "employee_code": [f"EMP-Vorpal-{i:04d}" for i in range(N_ROWS)],
            "city": [("Zlatograd", "Vexholm", "Quillmoor")[i % 3] for i in range(N_ROWS)],
            "motto": [f"Quixotic-Harbour-{i:04d} snicker" for i in range(N_ROWS)],
            "hired": [
                f"20{10 + i % 12:02d}-{1 + i % 12:02d}-{1 + i % 27:02d}" for i in range(N_ROWS)
            ],
            "active": [i % 3 != 0 for i in range(N_ROWS)],
            "salary": salary,
            "tax_number": tax,
            "bonus": np.round(rng.uniform(100, 5000, N_ROWS), 2),
            "rating": [1 + i % 5 for i in range(N_ROWS)],
            "badge_code": [CONSTANT] * N_ROWS,
            TARGET: np.where(salary > 65_000, "Platinum-Member", "Basic-Member"),
        }
    )


@pytest.fixture(scope="module")
def employees(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, tuple[str, ...]]:
    """The file, and every one of its cells as written (the header is names: they stay)."""
    path = tmp_path_factory.mktemp("planted") / "employees.csv"
    planted_frame().to_csv(path, index=False)
    with path.open(newline="") as f:
        rows = list(csv.reader(f))[1:]
    return path, tuple(cell for row in rows for cell in row if cell)


@pytest.fixture(scope="module")
def strict_prompts(employees: tuple[Path, tuple[str, ...]]) -> dict[str, Prompt]:
    """Steps 1–4 through the stages, as the app runs them, with a strict advisor and a
    baseline model (its class labels are cell values too): the prompts each stage built."""
    advisor = OfflineAdvisor(privacy="strict")
    loaded = load(employees[0])
    record, shown = stages.start(loaded, advisor, None)
    record, _ = stages.clean(record, loaded, CleaningPlan(), advisor, None)
    record, step3 = stages.analyse(record, loaded.con, Parameters(), advisor, None)
    # Two features keep the training short; the card has every part a prompt could carry.
    unused = ("employee_code", "city", "motto", "hired", "active", "tax_number", "bonus")
    record = stages.train(record, loaded.con, TARGET, exclude=unused)
    assert record.model is not None
    assert set(record.model.classes) == {"Platinum-Member", "Basic-Member"}
    record, step4 = stages.recommend(record, advisor, None)
    return {**shown, **step3, **step4}


def windows(cells: tuple[str, ...]) -> set[str]:
    """Every run of `WINDOW` characters of every cell (a longer run contains one)."""
    return {cell[i : i + WINDOW] for cell in cells for i in range(len(cell) - WINDOW + 1)}


def leaked(text: str, cells: tuple[str, ...]) -> list[str]:
    return sorted(w for w in windows(cells) if w in text)


def test_no_prompt_carries_a_value_or_six_characters_of_any_cell_in_strict_mode(
    employees: tuple[Path, tuple[str, ...]], strict_prompts: dict[str, Prompt]
) -> None:
    _, cells = employees
    assert all(any(p in c for c in cells) for p in PLANTED)
    assert set(strict_prompts) == {"overview", "quality", "statistics", "recommendations"}
    for step, prompt in strict_prompts.items():
        assert prompt.privacy == "strict"
        assert not [p for p in PLANTED if p in prompt.text], step
        assert leaked(prompt.text, cells) == [], step


def test_the_same_file_leaks_in_aggregates_mode(employees: tuple[Path, tuple[str, ...]]) -> None:
    """The control: minima and maxima are cell values, so the planted numbers get out."""
    path, cells = employees
    _, prompts = stages.start(load(path), OfflineAdvisor(privacy="aggregates"), None)
    overview_text = prompts["overview"].text
    assert str(SALARY) in overview_text and str(SSN) in overview_text
    assert leaked(overview_text, cells)


def figures_sent(prompt: Prompt) -> dict:
    return json.JSONDecoder().raw_decode(prompt.text.split("(JSON):\n", 1)[1])[0]


def test_strict_prompts_keep_names_and_counts_and_round_means(
    strict_prompts: dict[str, Prompt],
) -> None:
    frame = planted_frame()
    prompt = strict_prompts["overview"]
    sent = figures_sent(prompt)["overview"]
    assert sent["n_rows"] == N_ROWS
    columns = {c["name"]: c for c in sent["columns"]}
    assert list(columns) == list(frame.columns)
    salary = columns["salary"]
    assert set(salary) == {"name", "kind", "n_missing", "n_distinct", "mean", "std"}
    assert salary["mean"] == f"~{frame['salary'].mean():.2g}"
    assert salary["std"] == f"~{frame['salary'].std():.2g}"
    assert columns["tax_number"]["n_missing"] == 1
    # A single-valued column's mean is its value: withheld.
    assert set(columns["badge_code"]) == {"name", "kind", "n_missing", "n_distinct"}
    assert "~ are rounded to 2 significant digits" in prompt.text


def test_rows_are_refused_in_strict_mode(employees: tuple[Path, tuple[str, ...]]) -> None:
    path, _ = employees
    loaded = load(path)
    rows = planted_frame().head(2).to_dict("records")
    with pytest.raises(PrivacyError) as refused:
        stages.start(loaded, OfflineAdvisor(privacy="strict"), rows)
    assert str(refused.value) == (
        "Strict AI privacy shares no rows with the AI: untick the sample rows, or set "
        "SIGNOFF_AI_PRIVACY=aggregates."
    )
    facts = Facts(overview(loaded.con, loaded.table))
    assert "EMP-Vorpal-0000" in step_prompt("overview", facts, rows=rows).text


@functools.cache
def penguin_overview() -> Facts:
    loaded = load(sample_path("penguins"))
    return Facts(overview(loaded.con, loaded.table))


def test_the_fact_check_accepts_the_rounded_figures_a_strict_prompt_showed() -> None:
    """Strict mode showed the mean body mass as ~4.2e+03: "about 4,200 g" quotes it."""
    frame = pd.read_csv(sample_path("penguins"))
    shown = f"{frame['body_mass_g'].mean():.2g}"
    assert (
        shown == "4.2e+03"
        and f'"mean": "~{shown}"'
        in step_prompt("overview", penguin_overview(), privacy="strict").text
    )
    reply = [("detail", f"body_mass_g averages about {float(shown):,.0f} g.")]
    assert unverified_numbers(reply, penguin_overview(), privacy="strict") == ()
    (flag,) = unverified_numbers(reply, penguin_overview(), privacy="aggregates")
    assert flag.expected == pytest.approx(frame["body_mass_g"].mean())


def test_a_remote_advisor_sends_strict_prompts_and_checks_against_what_they_showed(
    httpserver: HTTPServer, employees: tuple[Path, tuple[str, ...]]
) -> None:
    """The real google-genai client against a local server: what goes over the wire is the
    strict prompt, and a reply quoting its rounded mean is not flagged."""
    path, cells = employees
    mean = float(f"{planted_frame()['salary'].mean():.2g}")
    answer = {
        "findings": [
            {
                "title": "Salary",
                "detail": f"salary averages about {mean:,.0f}, pulled up by an outlier.",
                "severity": "info",
                "evidence": [f"overview.columns[salary].mean={mean:.0f}"],
            }
        ]
    }
    body = {"candidates": [{"content": {"role": "model", "parts": [{"text": json.dumps(answer)}]}}]}
    httpserver.expect_request(GENERATE).respond_with_json(body)
    settings = AISettings(gemini_key="k", gemini_base_url=httpserver.url_for("/"), privacy="strict")
    advisor = choose_advisor(settings)
    assert isinstance(advisor, GeminiAdvisor) and advisor.privacy == "strict"
    record, _ = stages.start(load(path), advisor, None)
    assert record.original.overview_insights.advisor == "gemini"
    assert record.original.overview_insights.unverified_numbers == ()
    sent = [request.get_data(as_text=True) for request, _ in httpserver.log]
    assert len(sent) == 2
    for request_body in sent:
        text = json.loads(request_body)["contents"][0]["parts"][0]["text"]
        assert leaked(text, cells) == []


@pytest.mark.parametrize("privacy", PRIVACY_MODES)
def test_each_mode_is_one_sentence_for_the_app(privacy: Privacy) -> None:
    notice = privacy_notice(privacy)
    assert f"SIGNOFF_AI_PRIVACY={privacy}" in notice
    assert notice.endswith(".") and "\n" not in notice and notice.count(". ") == 0


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({"SIGNOFF_HOSTED": "1"}, "offline"),
        ({"SIGNOFF_HOSTED": "1", "GEMINI_API_KEY": "k"}, "gemini"),
        ({"SIGNOFF_HOSTED": "1", "SIGNOFF_OLLAMA_URL": "http://127.0.0.1:9"}, "ollama"),
    ],
)
def test_every_advisor_carries_the_privacy_of_the_settings(env: dict, name: str) -> None:
    advisor = choose_advisor(Settings.from_env(env).ai)
    assert (advisor.name, advisor.privacy) == (name, "strict")
    relaxed = choose_advisor(Settings.from_env({**env, "SIGNOFF_AI_PRIVACY": "aggregates"}).ai)
    assert relaxed.privacy == "aggregates"
