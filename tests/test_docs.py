"""The docs say what the code does: README commands and settings, report keys, the Dockerfile.

The report keys are taken from real runs (the headless `python -m steps`, and the notebook
run with every gate answered), so a key added to the code without a line in
`docs/report.md` fails here.
"""

from __future__ import annotations

import ast
import json
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from records import answer, walk

from flow.source import Source
from samples import sample_path
from steps.__main__ import main as headless_main
from steps.load import ReadOptions
from steps.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
REPORT_DOC = ROOT / "docs" / "report.md"
DOCKERFILE = ROOT / "Dockerfile"
CODE_PATHS = ("app.py", "server", "flow", "steps", "review", "ai", "samples", "bench")
ENV_PREFIXES = ("SIGNOFF_", "GEMINI_", "GOOGLE_")
ENV_READ = re.compile(
    r"""(?:environ\.get|env\.get|getenv|environ\[|env\[)\(?\s*["']([A-Z][A-Z0-9_]+)["']"""
)
SECTION_HEADING = re.compile(r"^#{2,3} ", re.MULTILINE)


def python_files(include_tests: bool) -> Iterator[Path]:
    for name in (*CODE_PATHS, "tests") if include_tests else CODE_PATHS:
        path = ROOT / name
        yield from [path] if path.is_file() else sorted(path.rglob("*.py"))


def env_vars_read() -> set[str]:
    """Variables read through os.environ / env mappings, plus every literal that names one
    of ours in the code (catches `for variable in ("GEMINI_API_KEY", ...)`)."""
    found: set[str] = set()
    for path in python_files(include_tests=True):
        found.update(ENV_READ.findall(path.read_text("utf-8")))
    for path in python_files(include_tests=False):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and re.fullmatch(r"(?:SIGNOFF|GEMINI|GOOGLE)_[A-Z0-9_]+", node.value)
            ):
                found.add(node.value)
    return found


def dockerfile() -> str:
    """The Dockerfile with `\\` continuations joined, one instruction a line."""
    return DOCKERFILE.read_text("utf-8").replace("\\\n", " ")


def code_blocks(markdown: str) -> list[str]:
    return re.findall(r"```[a-z]*\n(.*?)```", markdown, flags=re.DOTALL)


def command_lines(markdown: str) -> list[str]:
    """Shell lines of the fenced blocks, with `\\` continuations joined and comments cut."""
    lines = []
    for block in code_blocks(markdown):
        joined = block.replace("\\\n", " ")
        lines += [line.split("  #")[0].strip() for line in joined.splitlines() if line.strip()]
    return lines


def doc_section(name: str) -> str:
    """The text of `### \\`name\\`` in docs/report.md, up to the next ## or ### heading."""
    text = REPORT_DOC.read_text("utf-8")
    start = re.search(rf"^### `{re.escape(name)}`", text, flags=re.MULTILINE)
    assert start, f"docs/report.md has no section for `{name}`"
    end = SECTION_HEADING.search(text, start.end())
    return text[start.start() : end.start() if end else len(text)]


def undocumented(keys: set[str], section: str) -> list[str]:
    """Keys named nowhere in the section's code spans (`key`, or `{a, b, key}`)."""
    spans = " ".join(re.findall(r"`([^`]+)`", section))
    return sorted(set(keys) - set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", spans)))


def keys_of(items: list[dict]) -> set[str]:
    return {key for item in items for key in item}


@pytest.fixture(scope="module")
def headless_report(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("docs") / "report.json"
    code = headless_main([str(sample_path("penguins")), "--target", "species", "--json", str(out)])
    assert code == 0
    return json.loads(out.read_text("utf-8"))


def flags_of(*module_args: str) -> set[str]:
    """The long options a command's own --help lists."""
    help_text = subprocess.run(
        [sys.executable, "-m", *module_args, "--help"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout
    return set(re.findall(r"--[a-z][a-z-]+", help_text))


@pytest.fixture(scope="module")
def server_flags() -> dict[str, set[str]]:
    """Options of each way to serve the app: plain `marimo run`, and `server`."""
    return {"marimo": flags_of("marimo", "run"), "server": flags_of("server")}


def test_readme_shows_the_setup_commands() -> None:
    lines = command_lines(README.read_text("utf-8"))
    for command in ("pip install uv", "uv run marimo run app.py", "uv run pytest"):
        assert command in lines, f"README lacks the command {command!r}"


def test_every_environment_variable_the_code_reads_is_in_the_readme() -> None:
    found = env_vars_read()
    # The scan itself must work: these are read in review/audit.py, steps/settings.py, ai/.
    assert {"SIGNOFF_DB", "SIGNOFF_HOSTED", "GEMINI_API_KEY", "GOOGLE_GEMINI_BASE_URL"} <= found
    readme = README.read_text("utf-8")
    missing = sorted(v for v in found if f"`{v}`" not in readme)
    assert not missing, f"README does not document {missing}"


def test_readme_links_resolve() -> None:
    readme = README.read_text("utf-8")
    targets = re.findall(r"\]\(([^)#:]+)\)", readme)
    assert "docs/report.md" in targets and "docs/screenshot.png" in targets
    assert [t for t in targets if not (ROOT / t).exists()] == []


def test_hosted_commands_use_real_flags_a_token_and_never_show_tracebacks(
    server_flags: dict[str, set[str]],
) -> None:
    hosted = [c for c in command_lines(README.read_text("utf-8")) if "SIGNOFF_HOSTED=1" in c]
    assert hosted, "README has no hosted-mode command"
    cmd = json.loads(re.search(r"^CMD (\[.*\])$", dockerfile(), flags=re.MULTILINE)[1])
    for argv in [shlex.split(c) for c in hosted] + [cmd]:
        server = "server" if "server" in argv else "marimo"
        flags = {a.split("=")[0] for a in argv if a.startswith("--")}
        assert {"--host", "--port"} <= flags
        # Locked by the shared token, by a token each, or by the proxy in front (reachable
        # only from this machine then).
        own_tokens = any(a.startswith("SIGNOFF_USERS_FILE=") for a in argv)
        behind_proxy = any(a.startswith("SIGNOFF_USER_HEADER=") for a in argv)
        host = argv[argv.index("--host") + 1]
        assert (
            "--token-password-file" in flags
            or (server == "server" and own_tokens and "--no-token" not in flags)
            or (server == "server" and behind_proxy and host == "127.0.0.1")
        ), argv
        known = server_flags[server]
        assert flags <= known, f"unknown {server} flags {flags - known}"
        assert "--show-tracebacks" not in flags


def test_every_top_level_report_key_is_in_the_top_level_table(headless_report: dict) -> None:
    text = REPORT_DOC.read_text("utf-8")
    missing = [k for k in headless_report if f"| `{k}` |" not in text]
    assert not missing, f"docs/report.md's top-level table lacks {missing}"


def test_every_section_key_of_a_headless_report_is_documented(headless_report: dict) -> None:
    r = headless_report
    expected = {
        "parameters": set(r["parameters"]),
        "source": set(r["source"]) | keys_of(r["source"]["skipped"]),
        "overview": set(r["overview"]) | keys_of(r["overview"]["columns"]),
        "quality": set(r["quality"])
        | keys_of(list(r["quality"]["outliers"].values()))
        | keys_of(r["quality"]["outlier_reports"])
        | set(r["statistics"]["outliers"])  # the outlier report shape is documented there
        | keys_of(r["quality"]["type_issues"]),
        "statistics": set(r["statistics"])
        | set(r["statistics"]["correlation"])
        | keys_of(r["statistics"]["strong_correlations"])
        | set(r["statistics"]["distributions"])
        | keys_of(list(r["statistics"]["distributions"]["numeric"].values()))
        | keys_of(list(r["statistics"]["distributions"]["categorical"].values())),
        "model": set(r["model"])
        | keys_of(r["model"]["candidates"])
        | keys_of(r["model"]["importances"]),
        "recommendations": set(r["recommendations"]) | keys_of(r["recommendations"]["action_plan"]),
        "ai": keys_of(list(r["ai"].values()))
        | keys_of([f for step in r["ai"].values() for f in step["findings"]]),
        "gates": keys_of(list(r["gates"].values())),
    }
    assert r["model"] is not None and r["ai"], "the run must cover the model and the advisors"
    gaps = {name: undocumented(keys, doc_section(name)) for name, keys in expected.items()}
    assert {name: gap for name, gap in gaps.items() if gap} == {}


def test_a_headless_report_is_a_draft_as_documented(headless_report: dict) -> None:
    statuses = {gate: state["status"] for gate, state in headless_report["gates"].items()}
    assert headless_report["status"] == "draft"
    assert set(statuses.values()) == {"pending"}
    assert headless_report["audit"] is None
    assert headless_report["cleaning"] == {
        "drop_duplicates": False,
        "drop_columns": [],
        "drop_rows_missing": [],
    }
    assert headless_report["cleaning_effect"] is None
    assert all(i["review"] == "pending" for i in headless_report["recommendations"]["action_plan"])


@pytest.mark.slow
def test_every_key_of_the_apps_final_report_is_documented(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIGNOFF_DB", str(tmp_path / "signoff.db"))
    monkeypatch.setenv("SIGNOFF_WORKSPACE", str(tmp_path / "workspace"))
    for key in ("GEMINI_API_KEY", "GOOGLE_API_KEY", "SIGNOFF_OLLAMA_URL"):
        monkeypatch.delenv(key, raising=False)
    from app import app
    from flow.source import Source

    approve = SimpleNamespace(value={"verdict": "approve", "reviewer": "Ada", "notes": "checked"})
    defs = {
        "source": Source("messy_orders.csv", sample_path("messy_orders")),
        "gate1_form": approve,
        "gate2_form": approve,
        "gate4_form": approve,
        "gate5_form": approve,
    }
    _, out = app.run(defs=defs)
    r = out["exported"].to_dict()
    assert r["status"] == "final"
    expected = {
        "parameters": set(r["parameters"]),
        "cleaning": set(r["cleaning"]),
        "statistics": set(r["statistics"]),
        "recommendations": keys_of(r["recommendations"]["action_plan"]),
        "gates": keys_of(list(r["gates"].values())),
        "audit": set(r["audit"]) | keys_of(r["audit"]["events"]),
    }
    gaps = {name: undocumented(keys, doc_section(name)) for name, keys in expected.items()}
    assert {name: gap for name, gap in gaps.items() if gap} == {}
    kinds = {e["kind"] for e in r["audit"]["events"]}
    assert undocumented(kinds, doc_section("audit")) == []


def test_dockerfile_builds_from_the_lock_and_runs_as_a_non_root_user() -> None:
    instructions = re.findall(r"^([A-Z]+)\s+(.*)$", dockerfile(), flags=re.MULTILINE)
    runs = " ".join(args for op, args in instructions if op == "RUN")
    assert re.search(r"uv sync\b[^&]*--frozen", runs) and "--no-dev" in runs
    users = [args.strip() for op, args in instructions if op == "USER"]
    assert users and users[-1] not in {"root", "0", "0:0"}
    assert re.search(rf"useradd\b.*\b{re.escape(users[-1])}\b", runs)
    env = " ".join(args for op, args in instructions if op == "ENV")
    for setting in ("SIGNOFF_HOSTED=1", "SIGNOFF_DB=/data/", "SIGNOFF_WORKSPACE=/data/"):
        assert setting in env


def test_everything_the_dockerfile_copies_exists_and_is_not_ignored() -> None:
    sources = [
        src
        for line in re.findall(r"^COPY (?!--from)(.*)$", dockerfile(), flags=re.MULTILINE)
        for src in line.split()[:-1]
    ]
    assert {"uv.lock", "app.py", "server", "flow", "steps", "review", "ai", "samples"} <= set(
        sources
    )
    assert [s for s in sources if not (ROOT / s).exists()] == []
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text("utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert not ignored & set(sources)
    assert {".venv", ".git"} <= ignored


@pytest.mark.parametrize("delimiter", [None, ";"], ids=["detected", "chosen"])
def test_the_documented_check_binds_a_final_report_to_its_gates(
    tmp_path: Path, delimiter: str | None
) -> None:
    """The shell snippet in docs/report.md, run as written on a final report: gate 1's
    subject from the bytes, the plan and (once chosen) the read options; gate 5's from the
    content digest."""
    path = tmp_path / "orders.csv"
    path.write_text(
        "id;city;amount\n" + "".join(f"{i};{'ab'[i % 2]};{i * 1.5}\n" for i in range(40)),
        encoding="utf-8",
    )
    settings = Settings(db=str(tmp_path / "signoff.db"), workspace=tmp_path / "workspace")
    approve = answer("approve")
    walked = walk(
        settings,
        Source(path.name, path),
        {
            "data_quality": answer("modify", drop_duplicates=True),
            "analysis_validation": approve,
            "result_verification": approve,
            "export_authorization": approve,
        },
        read_options=ReadOptions(delimiter=delimiter) if delimiter else None,
    )
    report = walked.report.to_dict()
    assert report["status"] == "final"
    assert report["source"]["read_options"]["delimiter"] == delimiter
    target = tmp_path / "final-report.json"
    target.write_text(json.dumps(report), encoding="utf-8")
    script = re.search(
        r"uv run python - final-report\.json <<'EOF'\n(.*?)\nEOF",
        REPORT_DOC.read_text("utf-8"),
        re.S,
    )
    assert script, "docs/report.md lost its check of a final report"
    done = subprocess.run(
        [sys.executable, "-", str(target)],
        input=script[1],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    assert done.stdout.split() == ["True", "True"]
