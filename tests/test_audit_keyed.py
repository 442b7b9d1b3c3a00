"""The keyed chain, on both backends: what someone with write access but without the audit
key can no longer do unseen, and how trails written before keys carry on.

The attacks are written out here with hashlib/hmac directly, as a person holding the
database would, not with the module's helpers.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import stat
from pathlib import Path

import pytest

from review.audit import AuditTrail
from review.audit_key import key_from_text, load_or_create_key, read_key_file
from steps.errors import AuditError, AuditKeyError
from tests.rawdb import RawDb, tamper

KEY = b"k" * 32
OTHER_KEY = b"o" * 32


def canonical(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def plain(document: list) -> str:
    return hashlib.sha256(canonical(document).encode()).hexdigest()


def keyed(key: bytes, document: list) -> str:
    return hmac.new(key, canonical(document).encode(), hashlib.sha256).hexdigest()


def fill(trail: AuditTrail, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        trail.append("decision", {"gate": "data_quality", "i": i}, analysis_id="a1", actor="ana")


def rewrite_chain(location: str, digest, *, scheme: str, seal=None) -> None:
    """Rewrite every row (event 2's payload forged) and the head with `digest`, as a person
    holding the database but not the key would; `seal(last_id, sha)` reseals the head."""
    with RawDb(location) as db:
        rows = db.rows("SELECT id, at, kind, analysis_id, actor, payload FROM events ORDER BY id")
        db.drop_guards()
        prev = "0" * 64
        for id_, at, kind, analysis_id, actor, payload in rows:
            body = json.loads(payload)
            if id_ == 2:
                body["verdict"] = "approve"
            sha = digest([prev, id_, at, kind, analysis_id, actor, body])
            db.execute(
                "UPDATE events SET payload = ?, prev_sha256 = ?, sha256 = ?, scheme = ? "
                "WHERE id = ?",
                params=[canonical(body), prev, sha, scheme, id_],
            )
            prev = sha
        new_seal = seal(rows[-1][0], prev) if seal else None
        db.execute(
            "UPDATE chain_head SET sha256 = ?, seal = ? WHERE id = 1", params=[prev, new_seal]
        )


@pytest.fixture
def trail(db_location: str) -> AuditTrail:
    return AuditTrail(db_location, key=KEY)


def test_keyed_events_are_hmacs_an_outsider_can_recompute_with_the_key(trail) -> None:
    fill(trail, 5)
    result = trail.verify()
    assert (result.ok, result.n_events) == (True, 5)
    with RawDb(trail.location) as db:
        rows = db.rows(
            "SELECT id, at, kind, analysis_id, actor, payload, prev_sha256, sha256, scheme "
            "FROM events ORDER BY id"
        )
        [(last_id, head_sha, seal)] = db.rows("SELECT last_id, sha256, seal FROM chain_head")
    prev = "0" * 64
    for id_, at, kind, analysis_id, actor, payload, stored_prev, sha, scheme in rows:
        assert scheme == "hmac-sha256" and stored_prev == prev
        assert sha == keyed(KEY, [prev, id_, at, kind, analysis_id, actor, json.loads(payload)])
        prev = sha
    assert (last_id, head_sha) == (5, prev)
    assert seal == keyed(KEY, ["chain_head", 5, prev])


def test_rewriting_the_whole_chain_without_the_key_is_detected(trail) -> None:
    fill(trail, 6)
    rewrite_chain(trail.location, plain, scheme="sha256")
    # Without a key this forgery is a perfectly consistent chain...
    assert AuditTrail(trail.location, read_only=True).verify().ok
    # ...but the key's verify sees that nobody sealed it.
    result = AuditTrail(trail.location, key=KEY, read_only=True).verify()
    assert (result.ok, result.first_broken_id) == (False, 6)
    assert "not sealed with the audit key" in result.reason


def test_rewriting_with_a_guessed_key_is_detected_at_the_first_event(trail) -> None:
    fill(trail, 6)
    rewrite_chain(
        trail.location,
        lambda doc: keyed(OTHER_KEY, doc),
        scheme="hmac-sha256",
        seal=lambda last_id, sha: keyed(OTHER_KEY, ["chain_head", last_id, sha]),
    )
    result = AuditTrail(trail.location, key=KEY, read_only=True).verify()
    assert (result.ok, result.first_broken_id) == (False, 1)
    assert "altered" in result.reason and "audit key" in result.reason


def cut_end(location: str, keep: int) -> None:
    """Delete the events after `keep` and move the head back onto event `keep`."""
    with RawDb(location) as db:
        [(sha,)] = db.rows("SELECT sha256 FROM events WHERE id = ?", [keep])
    tamper(
        location,
        f"DELETE FROM events WHERE id > {keep}",
        f"UPDATE chain_head SET last_id = {keep}, sha256 = '{sha}'",
    )


def test_without_a_key_cutting_the_end_and_moving_the_head_back_goes_unseen(
    db_location: str,
) -> None:
    """The weakness the key closes."""
    trail = AuditTrail(db_location)
    fill(trail, 8)
    cut_end(db_location, 6)
    assert trail.verify().ok


def test_with_a_key_cutting_the_end_and_moving_the_head_back_is_detected(trail) -> None:
    fill(trail, 8)
    cut_end(trail.location, 6)  # the seal stays as it was: the key is not at hand
    result = trail.verify()
    assert (result.ok, result.first_broken_id) == (False, 6)
    assert "seal does not match" in result.reason
    with pytest.raises(AuditKeyError, match="seal does not match"):
        trail.append("export", {"format": "csv"})


def test_a_plain_event_after_keyed_ones_is_named(trail) -> None:
    fill(trail, 3)
    last = trail.events()[-1]
    forged = plain([last.sha256, 4, last.at, "decision", "a1", "mallory", {}])
    with RawDb(trail.location) as db:
        db.execute(
            "INSERT INTO events (id, at, kind, analysis_id, actor, payload, prev_sha256, "
            "sha256, scheme) VALUES (4, ?, 'decision', 'a1', 'mallory', '{}', ?, ?, 'sha256')",
            params=[last.at, last.sha256, forged],
        )
        db.execute("UPDATE chain_head SET last_id = 4, sha256 = ?", params=[forged])
    result = trail.verify()
    assert (result.ok, result.first_broken_id) == (False, 4)
    assert "not keyed although event 1 before it is" in result.reason


def test_a_stripped_seal_is_reported_and_stops_appends(trail) -> None:
    fill(trail, 3)
    tamper(trail.location, "UPDATE chain_head SET seal = NULL")
    assert "not sealed" in trail.verify().reason
    with pytest.raises(AuditError, match="lost its seal"):
        trail.append("export", {})


def test_the_wrong_key_is_refused_at_start_and_no_key_cannot_append(trail) -> None:
    fill(trail, 2)
    with pytest.raises(AuditKeyError, match="does not match the seal") as refused:
        AuditTrail(trail.location, key=OTHER_KEY)
    assert str(refused.value).count(". ") == 0
    unkeyed = AuditTrail(trail.location)
    with pytest.raises(AuditKeyError, match="needs its audit key"):
        unkeyed.append("export", {})
    result = unkeyed.verify()
    assert (result.ok, result.first_broken_id) == (False, 1)
    assert "needs the audit key" in result.reason
    assert [e.id for e in unkeyed.events()] == [1, 2]  # reading needs no key


def test_a_trail_from_before_keys_is_sealed_on_the_first_keyed_start(db_location) -> None:
    old = AuditTrail(db_location)
    fill(old, 4)
    assert old.verify().ok
    assert not AuditTrail(db_location, key=KEY, read_only=True).verify().ok  # not sealed yet
    trail = AuditTrail(db_location, key=KEY)
    fill(trail, 3, start=4)
    assert [e.scheme for e in trail.events()] == ["sha256"] * 4 + ["hmac-sha256"] * 3
    assert trail.verify().ok
    # The plain rows are now pinned by the keyed ones after them and by the seal.
    tamper(db_location, """UPDATE events SET payload = '{"gate":"x","i":0}' WHERE id = 2""")
    assert trail.verify().first_broken_id == 2


def test_an_empty_keyed_trail_is_sealed_from_the_start(trail) -> None:
    head = trail.chain_head()
    assert (head.last_id, head.seal is not None) == (0, True)
    assert trail.verify().ok and trail.head() is None


def test_short_keys_are_refused(tmp_path: Path) -> None:
    with pytest.raises(AuditKeyError, match="at least 16 bytes"):
        AuditTrail(tmp_path / "x.db", key=b"short")
    with pytest.raises(AuditKeyError, match="shorter than 16 bytes"):
        key_from_text("  tiny \n", source="SIGNOFF_AUDIT_KEY")
    assert key_from_text(" " + "x" * 20 + "\n", source="x") == b"x" * 20


def test_the_key_file_is_created_private_once_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "audit.key"
    key = load_or_create_key(path)
    assert len(key) == 64 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_key(path) == key == read_key_file(path)
    assert [p.name for p in path.parent.iterdir()] == ["audit.key"]  # no draft left behind


def test_a_key_file_others_can_read_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "audit.key"
    load_or_create_key(path)
    os.chmod(path, 0o644)
    with pytest.raises(AuditKeyError, match="can be read by others \\(mode 0644\\)"):
        load_or_create_key(path)
