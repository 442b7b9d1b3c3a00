"""Who decides: the person the server names, analyses owned per person, maker-checker.

No server here: the request's user and metadata are built as marimo hands them to the
notebook (`mo.app_meta().request.user` / `.meta`); `tests/test_people.py` drives the same
over real HTTP against `python -m server`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import pytest
from review_walk import walk

from flow.source import Source, open_source
from review.access import check_access
from review.analyses import analysis_id_for, get_analysis, register_analysis
from review.audit import AuditTrail
from review.decisions import decide_answer
from review.gates import GateState, undecided_states
from review.identity import (
    IDENTITY_META,
    Identity,
    check_maker_checker,
    identity_from,
    reviewer_for,
)
from review.requests import request_review, route_request
from review.users import UsersFile, new_token, parse_users, token_sha256, users_file_line
from samples import sample_path
from steps.errors import AccessError, GateError, IdentityError, RequestError
from steps.settings import IdentitySettings, Settings

PEOPLE = IdentitySettings(users_file=Path("users.toml"), maker_checker=True)
PROXY = IdentitySettings(user_header="X-Forwarded-User", maker_checker=True)
TYPED = IdentitySettings()
ADA = Identity("ada", "token")
GRACE = Identity("grace", "token")


def user(name: str, authenticated: bool = True) -> dict:
    """`request.user` as marimo hands it to the notebook (`_user_to_dict`)."""
    return {"username": name, "is_authenticated": authenticated, "display_name": name}


# ------------------------------------------------------------------ identity_from


def test_the_person_comes_from_the_request_the_server_marked() -> None:
    assert identity_from(user("ada"), {IDENTITY_META: "token"}, PEOPLE) == ADA
    assert identity_from(user("ada"), {IDENTITY_META: "header"}, PROXY) == Identity("ada", "header")


@pytest.mark.parametrize(
    ("request_user", "meta", "settings"),
    [
        (user("ada"), {IDENTITY_META: "token"}, TYPED),  # the server does not know people
        (user("user"), {}, PEOPLE),  # plain `marimo run`: its generic user, no marker
        (user("ada"), {IDENTITY_META: "header"}, PEOPLE),  # marked by another source
        (user("ada", authenticated=False), {IDENTITY_META: "token"}, PEOPLE),
        (user("   "), {IDENTITY_META: "token"}, PEOPLE),
        (user("a\nb"), {IDENTITY_META: "token"}, PEOPLE),
        (None, None, PEOPLE),  # outside any request
    ],
)
def test_nobody_unless_the_server_says_and_is_meant_to(request_user, meta, settings) -> None:
    assert identity_from(request_user, meta, settings) is None


def test_the_reviewer_is_the_signed_in_person_whatever_was_typed() -> None:
    assert reviewer_for("Grace Hopper", ADA, PEOPLE) == "ada"
    assert reviewer_for("  Ada Lovelace ", None, TYPED) == "Ada Lovelace"
    with pytest.raises(GateError, match="sign in again"):
        reviewer_for("ada", None, PEOPLE)


# ------------------------------------------------------------------ the users file


def test_a_users_file_holds_hashes_and_finds_the_person_by_token(tmp_path: Path) -> None:
    ada, grace = new_token(), new_token()
    assert len(ada) >= 43 and ada != grace  # 32 random bytes, URL-safe
    path = tmp_path / "users.toml"
    path.write_text(
        f"[users]\n{users_file_line('ada', ada)}\n{users_file_line('Grace H', grace)}\n"
    )
    assert ada not in path.read_text() and grace not in path.read_text()
    users = UsersFile(path).current()
    assert users.who(ada) == "ada" and users.who(grace) == "Grace H"
    assert users.who(ada + "x") is None and users.who("") is None
    assert users.token_sha256_by_name["ada"] == hashlib.sha256(ada.encode()).hexdigest()


def test_the_users_file_is_read_again_when_it_changes(tmp_path: Path) -> None:
    token = new_token()
    path = tmp_path / "users.json"
    path.write_text(json.dumps({"users": {"ada": f"sha256:{token_sha256(token)}"}}))
    users_file = UsersFile(path)
    assert users_file.current().who(token) == "ada"
    path.write_text(json.dumps({"users": {"bob": f"sha256:{token_sha256(new_token())}"}}))
    assert users_file.current().who(token) is None  # revoked without a restart
    path.write_text("{ not json")
    with pytest.raises(IdentityError, match="not valid JSON"):
        users_file.current()  # fails closed while broken


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[users]\nada = 'hunter2'\n", 'no "sha256:<64 hex>" token hash'),
        ("[users]\n", "names nobody"),
        ("users = 3\n", "names nobody"),
        ("[users\n", "not valid TOML"),
        (f"[users]\nada = 'sha256:{'a' * 64}'\nbob = 'sha256:{'A' * 64}'\n", "the same token"),
        (f"[users]\n\"\" = 'sha256:{'a' * 64}'\n", "needs a name"),
    ],
)
def test_a_users_file_that_cannot_be_used_is_one_sentence(text: str, expected: str) -> None:
    with pytest.raises(IdentityError, match=expected) as caught:
        parse_users(text, json_format=False, where="users.toml")
    assert str(caught.value).endswith(".") and "\n" not in str(caught.value)


# ------------------------------------------------------------------ ownership


def test_analyses_are_per_person_only_when_the_server_knows_people() -> None:
    sha = "ab" * 32
    assert analysis_id_for(sha) == sha[:16]  # everyone's, as before owners existed
    mine, theirs = analysis_id_for(sha, "ada"), analysis_id_for(sha, "grace")
    assert len({mine, theirs, sha[:16]}) == 3 and len(mine) == 16


def settings_in(tmp_path: Path) -> Settings:
    return Settings(db=str(tmp_path / "signoff.db"), workspace=tmp_path / "workspace")


def test_the_same_bytes_opened_by_two_people_are_two_analyses(tmp_path: Path) -> None:
    settings = settings_in(tmp_path)
    trail = AuditTrail(settings.db)
    path = sample_path("penguins")
    ada = open_source(Source(path.name, path), settings, trail, person="ada")
    grace = open_source(Source(path.name, path), settings, trail, person="grace")
    assert ada.analysis_id != grace.analysis_id
    assert get_analysis(trail, ada.analysis_id).owner == "ada"
    assert get_analysis(trail, grace.analysis_id).owner == "grace"
    loads = trail.events(kind="load")
    assert [(e.analysis_id, e.actor) for e in loads] == [
        (ada.analysis_id, "ada"),
        (grace.analysis_id, "grace"),
    ]
    again = open_source(Source(path.name, path), settings, trail, person="ada")
    assert again.analysis_id == ada.analysis_id and len(trail.events(kind="load")) == 2


def test_someone_elses_analysis_opens_only_through_a_queue_invitation(tmp_path: Path) -> None:
    settings = settings_in(tmp_path)
    trail = AuditTrail(settings.db)
    path = sample_path("penguins")
    mine = open_source(Source(path.name, path), settings, trail, person="ada")
    reopen = Source(path.name, path, awaiting="data_quality", analysis_id=mine.analysis_id)
    events = trail.events()
    with pytest.raises(AccessError, match="belongs to ada") as caught:
        open_source(reopen, settings, trail, person="grace")
    assert "\n" not in str(caught.value) and trail.events() == events

    request = request_review(
        trail, analysis_id=mine.analysis_id, gate="data_quality", subject_sha256="c" * 64
    )
    assert open_source(reopen, settings, trail, person="grace").analysis_id == mine.analysis_id
    route_request(trail, request.id, assignee="bob", deadline=None, priority=2, actor="grace")
    with pytest.raises(AccessError):
        check_access(trail, mine.analysis_id, "grace")  # routed to someone else
    check_access(trail, mine.analysis_id, "bob")
    check_access(trail, mine.analysis_id, "ada")
    routed = trail.events(kind="request")
    for stranger in ("grace", None):  # no inviting oneself back
        with pytest.raises(RequestError, match="only they or ada") as caught:
            route_request(
                trail, request.id, assignee=stranger, deadline=None, priority=2, actor=stranger
            )
        assert "\n" not in str(caught.value)
    assert trail.events(kind="request") == routed
    route_request(trail, request.id, assignee="grace", deadline=None, priority=2, actor="bob")
    check_access(trail, mine.analysis_id, "grace")


def test_an_analysis_from_before_owners_is_everyones(tmp_path: Path) -> None:
    trail = AuditTrail(tmp_path / "signoff.db")
    register_analysis(trail, analysis_id="old", source_sha256="d" * 64, source_name="o.csv")
    assert check_access(trail, "old", "anyone").owner is None
    assert check_access(trail, "old", None).id == "old"


# ------------------------------------------------------------------ deciding


def open_upstream(gate: str) -> GateState:
    """The state of `gate` as if approved, for deciding the gate after it."""
    state = next(s for s in undecided_states(walk().complete) if s.gate == gate)
    return dataclasses.replace(state, status="approved", open=True)


def export_answer(verdict: str = "approve", typed: str = "") -> dict:
    return {"verdict": verdict, "reviewer": typed, "notes": ""}


@pytest.fixture
def owned(tmp_path: Path) -> AuditTrail:
    """Ada's analysis, waiting for export authorization (an open request: the team's)."""
    trail = AuditTrail(tmp_path / "signoff.db")
    complete = walk().complete
    register_analysis(
        trail,
        analysis_id="an1",
        source_sha256=complete.source.sha256,
        source_name="p.csv",
        owner="ada",
    )
    request_review(trail, analysis_id="an1", gate="export_authorization", subject_sha256="e" * 64)
    return trail


def decide_export(trail: AuditTrail, identity: Identity | None, **answer) -> None:
    decide_answer(
        trail,
        analysis_id="an1",
        gate="export_authorization",
        record=walk().complete,
        answer=export_answer(**answer),
        upstream=open_upstream("result_verification"),
        identity=identity,
        identities=PEOPLE,
    )


def test_the_maker_cannot_authorise_their_own_export_and_nothing_is_recorded(owned) -> None:
    before = owned.events()
    with pytest.raises(GateError, match="ada opened this analysis") as caught:
        decide_export(owned, ADA, typed="Grace")  # the typed name changes nothing
    sentence = str(caught.value)
    assert sentence.endswith("(maker-checker).") and "\n" not in sentence
    assert owned.events() == before and owned.verify().ok


def test_the_maker_may_still_reject_and_a_checker_may_authorise(owned) -> None:
    decide_export(owned, ADA, verdict="reject")
    decide_export(owned, GRACE, typed="Ada Lovelace")
    decisions = owned.events(kind="decision")
    assert [(e.actor, e.payload["verdict"]) for e in decisions] == [
        ("ada", "reject"),
        ("grace", "approve"),
    ]


def test_a_stranger_cannot_decide_on_someone_elses_analysis(owned) -> None:
    request = owned.events(kind="request")[-1].payload["request_id"]
    route_request(owned, request, assignee="bob", deadline=None, priority=1, actor="ada")
    before = owned.events()
    with pytest.raises(AccessError, match="belongs to ada"):
        decide_export(owned, GRACE)
    with pytest.raises(GateError, match="sign in again"):
        decide_export(owned, None)
    assert owned.events() == before


def test_maker_checker_off_or_typed_names_let_one_person_do_both(owned) -> None:
    solo = dataclasses.replace(PEOPLE, maker_checker=False)
    check_maker_checker(owned, "an1", "export_authorization", "ada", solo)
    check_maker_checker(owned, "an1", "export_authorization", "ada", TYPED)
    check_maker_checker(owned, "an1", "data_quality", "ada", PEOPLE)  # gate 5 only
    with pytest.raises(GateError):
        check_maker_checker(owned, "an1", "export_authorization", "ada", PEOPLE)


def test_an_analysis_nobody_is_recorded_as_opening_cannot_pass_maker_checker(
    tmp_path: Path,
) -> None:
    trail = AuditTrail(tmp_path / "signoff.db")
    register_analysis(trail, analysis_id="old", source_sha256="d" * 64, source_name="o.csv")
    with pytest.raises(GateError, match="nobody is recorded as having opened it"):
        check_maker_checker(trail, "old", "export_authorization", "grace", PEOPLE)


def test_new_token_prints_a_token_and_the_line_that_lets_it_in(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from review.__main__ import main

    assert main(["new-token", "Ada Lovelace"], env={}) == 0
    token_line, file_line = capsys.readouterr().out.splitlines()
    token = token_line.rsplit(": ", 1)[1]
    line = file_line.split(": ", 1)[1]
    assert token not in line
    users = parse_users(f"[users]\n{line}\n", json_format=False, where="users.toml")
    assert users.who(token) == "Ada Lovelace"
