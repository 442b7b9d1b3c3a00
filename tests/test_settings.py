"""Settings are read once, from the environment, with one sentence for a bad value."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from steps.errors import SettingsError
from steps.load import LoadLimits
from steps.settings import IdentitySettings, Settings, UploadSettings

PEOPLE = IdentitySettings(users_file=Path("users.toml"), maker_checker=True)
PROXY = IdentitySettings(user_header="X-Forwarded-User", maker_checker=True)


@pytest.mark.parametrize("raw", ["1", "true", "YES", " on "])
def test_hosted_is_on_for_yes_words(raw: str) -> None:
    assert Settings.from_env({"SIGNOFF_HOSTED": raw}).hosted


@pytest.mark.parametrize("raw", ["", "0", "false", "off", "nope"])
def test_hosted_is_off_otherwise(raw: str) -> None:
    assert not Settings.from_env({"SIGNOFF_HOSTED": raw}).hosted
    assert not Settings.from_env({}).hosted


def test_every_setting_is_read_once_with_its_default() -> None:
    settings = Settings.from_env({})
    assert settings.max_bytes == 200 * 1024 * 1024 and settings.duckdb_memory is None
    assert settings.db == "signoff.db" and settings.workspace == Path("workspace")
    assert settings.ai.gemini_key is None and settings.ai.timeout_s == 30.0


def test_the_ai_settings_pick_the_key_and_never_show_it() -> None:
    settings = Settings.from_env(
        {"GOOGLE_API_KEY": "secret-key", "SIGNOFF_AI_TIMEOUT": "2.5", "SIGNOFF_DB": "/x/a.db"}
    )
    assert settings.ai.gemini_key == "secret-key"
    assert settings.ai.gemini_key_variable == "GOOGLE_API_KEY"
    assert settings.ai.timeout_s == 2.5 and settings.db == "/x/a.db"
    assert "secret-key" not in repr(settings)


@pytest.mark.parametrize(
    ("variable", "raw"),
    [
        ("SIGNOFF_MAX_MB", "lots"),
        ("SIGNOFF_MAX_MB", "-1"),
        ("SIGNOFF_AI_TIMEOUT", "0"),
        ("SIGNOFF_DUCKDB_THREADS", "0"),
        ("SIGNOFF_DUCKDB_THREADS", "two"),
    ],
)
def test_a_bad_value_is_one_sentence_at_start_up(variable: str, raw: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({variable: raw})
    sentence = str(caught.value)
    assert sentence.startswith(variable) and sentence.endswith(".") and "\n" not in sentence


def test_no_module_reads_the_environment_for_its_own_settings() -> None:
    root = Path(__file__).resolve().parent.parent
    readers = [
        str(path.relative_to(root))
        for folder in ("steps", "review", "ai", "flow")
        for path in (root / folder).rglob("*.py")
        if "os.environ" in path.read_text("utf-8") or "getenv(" in path.read_text("utf-8")
    ]
    assert readers == ["steps/settings.py"]


def test_ai_privacy_is_strict_on_a_hosted_server_and_aggregates_otherwise() -> None:
    assert Settings.from_env({}).ai.privacy == "aggregates"
    assert Settings.from_env({"SIGNOFF_HOSTED": "1"}).ai.privacy == "strict"
    hosted_relaxed = {"SIGNOFF_HOSTED": "1", "SIGNOFF_AI_PRIVACY": "aggregates"}
    assert Settings.from_env(hosted_relaxed).ai.privacy == "aggregates"
    assert Settings.from_env({"SIGNOFF_AI_PRIVACY": " Strict "}).ai.privacy == "strict"


def test_an_unknown_ai_privacy_is_one_sentence() -> None:
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({"SIGNOFF_AI_PRIVACY": "paranoid"})
    assert str(refused.value) == "SIGNOFF_AI_PRIVACY must be strict or aggregates, not 'paranoid'."


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, IdentitySettings(None, None, False)),
        ({"SIGNOFF_USER_HEADER": "X-Forwarded-User"}, PROXY),
        ({"SIGNOFF_USERS_FILE": "users.toml"}, PEOPLE),
        (
            {"SIGNOFF_USERS_FILE": "users.toml", "SIGNOFF_MAKER_CHECKER": "off"},
            dataclasses.replace(PEOPLE, maker_checker=False),
        ),
    ],
)
def test_identity_settings_and_their_defaults(env: dict, expected: IdentitySettings) -> None:
    assert Settings.from_env(env).identity == expected


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"SIGNOFF_USER_HEADER": "X User"}, "SIGNOFF_USER_HEADER"),
        ({"SIGNOFF_USER_HEADER": "X-U", "SIGNOFF_USERS_FILE": "u.toml"}, "SIGNOFF_USER_HEADER"),
        ({"SIGNOFF_MAKER_CHECKER": "on"}, "SIGNOFF_MAKER_CHECKER"),
        (
            {"SIGNOFF_USERS_FILE": "u.toml", "SIGNOFF_MAKER_CHECKER": "maybe"},
            "SIGNOFF_MAKER_CHECKER",
        ),
    ],
)
def test_identity_settings_that_cannot_work_are_one_sentence(env: dict, variable: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(env)
    assert str(caught.value).startswith(variable) and "\n" not in str(caught.value)


def test_upload_settings_come_from_the_environment() -> None:
    upload = Settings.from_env(
        {
            "SIGNOFF_UPLOAD_TIMEOUT": "4",
            "SIGNOFF_UPLOAD_MIN_KBPS": "2",
            "SIGNOFF_UPLOAD_QUOTA_MB": "10",
            "SIGNOFF_UPLOAD_QUOTA_FILES": "7",
            "SIGNOFF_RETENTION_DAYS": "30",
        }
    ).upload
    assert upload == UploadSettings(4.0, 2048.0, 10 * 1024 * 1024, 7, 30.0)
    assert Settings.from_env({}).upload.retention_days is None
    for variable, raw in (("SIGNOFF_UPLOAD_QUOTA_FILES", "2.5"), ("SIGNOFF_RETENTION_DAYS", "0")):
        with pytest.raises(SettingsError, match=f"^{variable} must be a positive"):
            Settings.from_env({variable: raw})


def test_load_limits_come_from_the_environment() -> None:
    limits = Settings.from_env(
        {"SIGNOFF_MAX_COLUMNS": "300", "SIGNOFF_MAX_LINE_MB": "2", "SIGNOFF_MAX_WORKBOOK_MB": "64"}
    ).load_limits
    assert (limits.max_columns, limits.max_line_bytes, limits.max_workbook_bytes) == (
        300,
        2 * 1024 * 1024,
        64 * 1024 * 1024,
    )
    assert (
        Settings.from_env({}).load_limits == LoadLimits(max_seconds=120) == Settings().load_limits
    )
    assert Settings.from_env({"SIGNOFF_STEP_TIMEOUT": "9"}).load_limits.max_seconds == 9
    with pytest.raises(SettingsError, match=r"^SIGNOFF_MAX_COLUMNS must be a positive whole"):
        Settings.from_env({"SIGNOFF_MAX_COLUMNS": "1.5"})


def test_duckdb_threads_are_half_the_cpus_in_the_app_and_every_cpu_in_a_headless_run(
    tmp_path: Path,
) -> None:
    from flow.source import load_with
    from steps.__main__ import one_run
    from steps.engine import available_cpus, session_threads
    from steps.load import CHOSEN_NOTHING

    path = tmp_path / "t.csv"
    path.write_text("a,b\n1,2\n3,4\n")

    def threads(settings: Settings) -> int:
        loaded = load_with(path, settings, CHOSEN_NOTHING, path.name)
        return loaded.con.execute("SELECT current_setting('threads')").fetchone()[0]

    assert Settings.from_env({}).duckdb_threads is None
    assert threads(Settings.from_env({})) == session_threads()
    assert threads(one_run(Settings.from_env({}))) == available_cpus()
    chosen = Settings.from_env({"SIGNOFF_DUCKDB_THREADS": "3"})
    assert threads(chosen) == threads(one_run(chosen)) == 3
