"""`python -m review verify`: a review database or an export bundle, intact or broken where
a tamperer would break it; exit 0, 1 (broken, first broken thing named) or 2 (uncheckable)."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from records import computed, loaded_csv

from flow.report import audit_extract, audit_summary
from review.__main__ import main
from review.audit import AuditTrail
from review.audit_key import load_or_create_key
from review.gates import undecided_states
from steps.exports import BUNDLE_AUDIT, BUNDLE_MANIFEST, BUNDLE_REPORT
from steps.exports.bundle import bundle
from steps.record import Record
from steps.report import build_report
from tests.conftest import ROOT
from tests.rawdb import tamper

KEY_TEXT = "a-long-enough-audit-key-for-tests"


def run(capsys: pytest.CaptureFixture, *argv: str, env: dict | None = None) -> tuple[int, str]:
    code = main(list(argv), env=env or {})
    out, err = capsys.readouterr()
    text = (out + err).strip()
    assert "\n" not in text and text.endswith(".")
    return code, text


def record(trail: AuditTrail) -> None:
    """Two analyses interleaved, as on a shared server."""
    for n in range(3):
        for analysis in ("an1", "an2"):
            trail.append("step", {"step": "overview", "n": n}, analysis_id=analysis, actor="ana")


@pytest.fixture(scope="module")
def analysis(tmp_path_factory: pytest.TempPathFactory) -> Record:
    """A real (tiny) analysis to report on."""
    folder = tmp_path_factory.mktemp("verify")
    return computed(loaded_csv(folder, "a,b\n1,2\n3,5\n4,4\n", "f.csv"))


def make_bundle(trail: AuditTrail, record: Record, analysis_id: str = "an1") -> dict[str, bytes]:
    """A bundle as steps.exports builds it, its manifest bound to the trail's sealed head."""
    report = build_report(
        record,
        (s.report_entry() for s in undecided_states(record)),
        audit=audit_summary(trail, analysis_id),
    )
    trail.append("export", {"filename": "f-bundle.zip"}, analysis_id=analysis_id)
    packed = bundle(
        report,
        files={"f-summary.txt": b"summary\n"},
        audit=audit_extract(trail, analysis_id),
    )
    with zipfile.ZipFile(io.BytesIO(packed)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def write_zip(path: Path, members: dict[str, bytes], *, relist: bool = False) -> Path:
    """Zip the members; `relist` rewrites the manifest's sha256s as a careful tamperer would."""
    members = dict(members)
    if relist:
        manifest = json.loads(members[BUNDLE_MANIFEST])
        manifest["files"] = [
            {
                **entry,
                "sha256": hashlib.sha256(members[name]).hexdigest(),
                "bytes": len(members[name]),
            }
            for entry in manifest["files"]
            if (name := entry["filename"]) in members
        ]
        members[BUNDLE_MANIFEST] = json.dumps(manifest).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def edit_event(members: dict[str, bytes], index: int, **changes) -> None:
    lines = members[BUNDLE_AUDIT].decode().splitlines()
    event = json.loads(lines[index])
    event["payload"].update(changes)
    lines[index] = json.dumps(event)
    members[BUNDLE_AUDIT] = ("\n".join(lines) + "\n").encode()


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "audit.key"
    load_or_create_key(path)
    return path


def test_an_intact_database_exits_0(capsys, db_location: str) -> None:
    record(AuditTrail(db_location))
    assert run(capsys, "verify", db_location) == (0, "All 6 events chain correctly.")


def test_a_tampered_database_names_the_first_broken_event(capsys, db_location: str) -> None:
    record(AuditTrail(db_location))
    tamper(db_location, "UPDATE events SET actor = 'mallory' WHERE id = 4")
    code, text = run(capsys, "verify", db_location)
    assert (code, text) == (1, "Event 4 was altered after it was recorded.")


def test_a_keyed_database_needs_its_key(capsys, db_location: str, key_file: Path) -> None:
    record(AuditTrail(db_location, key=key_file.read_text().strip().encode()))
    assert run(capsys, "verify", db_location, "--key-file", str(key_file))[0] == 0
    code, text = run(capsys, "verify", db_location)
    assert code == 1 and "Event 1 is keyed: checking it needs the audit key" in text


def test_the_key_may_come_from_the_environment(capsys, tmp_path: Path) -> None:
    path = str(tmp_path / "signoff.db")
    record(AuditTrail(path, key=KEY_TEXT.encode()))
    assert run(capsys, "verify", path, env={"SIGNOFF_AUDIT_KEY": KEY_TEXT})[0] == 0
    code, text = run(capsys, "verify", path, env={"SIGNOFF_AUDIT_KEY": "x" * 20})
    assert code == 1 and "audit key" in text


@pytest.mark.parametrize("name", ["absent.db", "absent-bundle.zip"])
def test_nothing_to_check_exits_2(capsys, tmp_path: Path, name: str) -> None:
    code, text = run(capsys, "verify", str(tmp_path / name))
    assert code == 2 and text.startswith("There is no review database or bundle at")
    assert not (tmp_path / name).exists()


def test_an_unreachable_database_exits_2_with_the_password_masked(capsys) -> None:
    from tests.pgcluster import free_port

    url = f"postgresql://ana:hunter2hunter2@127.0.0.1:{free_port()}/signoff"
    code, text = run(capsys, "verify", url)
    assert code == 2 and "cannot be reached" in text and "hunter2" not in text


def test_an_intact_keyed_bundle_exits_0(analysis, capsys, tmp_path: Path, key_file: Path) -> None:
    trail = AuditTrail(tmp_path / "signoff.db", key=key_file.read_text().strip().encode())
    record(trail)
    path = write_zip(tmp_path / "b.zip", make_bundle(trail, analysis))
    code, text = run(capsys, "verify", str(path), "--key-file", str(key_file))
    assert (code, text) == (
        0,
        "The bundle is intact: 4 members match manifest.json and its 4 audit events check out.",
    )
    code, text = run(capsys, "verify", str(path))
    assert code == 1 and "keyed: checking it needs the audit key" in text


@pytest.fixture
def members(analysis, tmp_path: Path) -> dict[str, bytes]:
    trail = AuditTrail(tmp_path / "signoff.db")
    record(trail)
    return make_bundle(trail, analysis)


def check(capsys, tmp_path: Path, members: dict[str, bytes], *args: str, relist: bool = False):
    return run(capsys, "verify", str(write_zip(tmp_path / "b.zip", members, relist=relist)), *args)


def test_a_changed_member_is_named(capsys, tmp_path: Path, members) -> None:
    members["f-summary.txt"] = b"a kinder summary\n"
    assert check(capsys, tmp_path, members) == (
        1,
        "Member f-summary.txt does not match its sha256 in manifest.json.",
    )


def test_an_added_or_dropped_member_is_named(capsys, tmp_path: Path, members) -> None:
    code, text = check(capsys, tmp_path, {**members, "extra.csv": b"x"})
    assert (code, text) == (1, "Member extra.csv is not listed in manifest.json.")
    del members["f-summary.txt"]
    code, text = check(capsys, tmp_path, members)
    assert (code, text) == (
        1,
        "Member f-summary.txt is listed in manifest.json but not in the bundle.",
    )
    del members[BUNDLE_REPORT]
    assert check(capsys, tmp_path, members) == (1, "The bundle has no report.json.")


def test_an_edited_event_is_named_even_with_the_manifest_rewritten(
    capsys, tmp_path: Path, members
) -> None:
    edit_event(members, 1, n=99)
    code, text = check(capsys, tmp_path, members, relist=True)
    assert (code, text) == (1, "audit_events.jsonl: Event 3 was altered after it was recorded.")


def test_an_event_dropped_from_the_bundle_is_named(capsys, tmp_path: Path, members) -> None:
    lines = members[BUNDLE_AUDIT].decode().splitlines()
    members[BUNDLE_AUDIT] = ("\n".join(lines[1:]) + "\n").encode()
    code, text = check(capsys, tmp_path, members, relist=True)
    assert (code, text) == (
        1,
        "Event 1 in report.json differs from audit_events.jsonl or is missing there.",
    )


def test_a_report_swapped_under_the_manifest_is_named(capsys, tmp_path: Path, members) -> None:
    report = json.loads(members[BUNDLE_REPORT])
    report["content_sha256"] = "f" * 64
    members[BUNDLE_REPORT] = json.dumps(report).encode()
    code, text = check(capsys, tmp_path, members, relist=True)
    assert (code, text) == (1, "manifest.json names another report than report.json.")


def test_the_signed_head_in_the_manifest_is_checked(
    analysis, capsys, tmp_path: Path, key_file
) -> None:
    """The manifest binding the lead's bundle will carry: `audit_head` = the sealed head."""
    trail = AuditTrail(tmp_path / "signoff.db", key=key_file.read_text().strip().encode())
    record(trail)
    members = make_bundle(trail, analysis)
    manifest = json.loads(members[BUNDLE_MANIFEST])
    manifest["audit_head"] = trail.chain_head().to_dict()
    members[BUNDLE_MANIFEST] = json.dumps(manifest).encode()
    assert check(capsys, tmp_path, members, "--key-file", str(key_file))[0] == 0
    manifest["audit_head"]["last_id"] -= 1
    members[BUNDLE_MANIFEST] = json.dumps(manifest).encode()
    code, text = check(capsys, tmp_path, members, "--key-file", str(key_file))
    assert code == 1 and text.startswith("manifest.json audit_head: The chain head's seal")


def test_a_forgery_consistent_in_itself_is_caught_against_the_trail(
    analysis, capsys, tmp_path: Path
) -> None:
    """Without a key a bundle can be forged whole; the database it came from still says no."""
    db = tmp_path / "signoff.db"
    trail = AuditTrail(db)
    record(trail)
    members = make_bundle(trail, analysis)
    lines = [json.loads(line) for line in members[BUNDLE_AUDIT].decode().splitlines()]
    event = lines[-1]
    event["payload"]["filename"] = "other.zip"
    document = [event[k] for k in ("prev_sha256", "id", "at", "kind", "analysis_id", "actor")]
    document.append(event["payload"])
    text = json.dumps(document, sort_keys=True, separators=(",", ":"))
    event["sha256"] = hashlib.sha256(text.encode()).hexdigest()
    members[BUNDLE_AUDIT] = "".join(json.dumps(e) + "\n" for e in lines).encode()
    manifest = json.loads(members[BUNDLE_MANIFEST])
    assert manifest["audit_head"]["last_id"] == event["id"]  # unkeyed: a forger rewrites it too
    manifest["audit_head"]["sha256"] = event["sha256"]
    members[BUNDLE_MANIFEST] = json.dumps(manifest).encode()
    assert check(capsys, tmp_path, members, relist=True)[0] == 0
    code, text = check(capsys, tmp_path, members, "--db", str(db), relist=True)
    assert (code, text) == (1, "Event 7 of the bundle is not in the trail as it is there.")


def test_a_file_that_is_not_a_zip_is_named(capsys, tmp_path: Path) -> None:
    path = tmp_path / "b.zip"
    path.write_bytes(b"PK but not really")
    assert run(capsys, "verify", str(path)) == (1, "b.zip is not a readable zip file.")


def test_the_command_runs_as_a_module(tmp_path: Path) -> None:
    path = tmp_path / "signoff.db"
    record(AuditTrail(path))
    done = subprocess.run(
        [sys.executable, "-m", "review", "verify", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (done.returncode, done.stdout) == (0, "All 6 events chain correctly.\n")
