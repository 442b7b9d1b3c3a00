"""Hosted mode is on only when SIGNOFF_HOSTED says so."""

from __future__ import annotations

import pytest

from steps.settings import Settings


@pytest.mark.parametrize("raw", ["1", "true", "YES", " on "])
def test_hosted_is_on_for_yes_words(raw: str) -> None:
    assert Settings.from_env({"SIGNOFF_HOSTED": raw}).hosted


@pytest.mark.parametrize("raw", ["", "0", "false", "off", "nope"])
def test_hosted_is_off_otherwise(raw: str) -> None:
    assert not Settings.from_env({"SIGNOFF_HOSTED": raw}).hosted
    assert not Settings.from_env({}).hosted
