"""Kept source files: content-addressed, stored once, safe names, atomic under races."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import pytest

from review.workspace import WorkspaceError, keep_source, kept_name, source_path
from steps.settings import Settings

DATA = "name,city\nZoë,Zürich\n".encode()


def test_kept_by_sha256_of_the_bytes(tmp_path: Path) -> None:
    kept = keep_source(DATA, "people.csv", root=tmp_path)
    digest = hashlib.sha256(DATA).hexdigest()
    assert kept.parent.name == digest
    assert kept.name == "people.csv"
    assert kept.read_bytes() == DATA
    assert source_path(digest, root=tmp_path) == kept
    assert source_path(digest.upper(), root=tmp_path) == kept


def test_same_bytes_are_stored_once(tmp_path: Path) -> None:
    first = keep_source(DATA, "people.csv", root=tmp_path)
    second = keep_source(DATA, "renamed.txt", root=tmp_path)
    assert first == second
    stored = [p for p in (tmp_path / "sources").rglob("*") if p.is_file()]
    assert stored == [first]
    other = keep_source(DATA + b"x", "people.csv", root=tmp_path)
    assert other != first and other.read_bytes() == DATA + b"x"


def test_a_path_is_copied_in_chunks(tmp_path: Path) -> None:
    big = tmp_path / "big.csv"
    payload = bytes(range(256)) * 10_000  # several read chunks
    big.write_bytes(payload)
    kept = keep_source(big, big.name, root=tmp_path / "ws")
    assert kept.parent.name == hashlib.sha256(payload).hexdigest()
    assert kept.read_bytes() == payload
    assert kept != big


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\ana\\data.csv", "data.csv"),
        ("rapport été 2024.xlsx", "rapport_été_2024.xlsx"),
        ("<script>x</script>.csv", "script.csv"),
        ("<img src=x onerror=alert(1)>.csv", "img_src_x_onerror_alert_1.csv"),
        (".hidden", "hidden"),
        ("..", "source"),
        ("", "source"),
        ("CON", "file-CON"),
        ("nul.csv", "file-nul.csv"),
        ("tab\there\nnewline.csv", "tab_here_newline.csv"),
    ],
)
def test_file_names_are_sanitised(name: str, expected: str) -> None:
    assert kept_name(name) == expected
    assert kept_name(expected) == expected


def test_long_names_keep_their_extension() -> None:
    name = kept_name("x" * 500 + ".csv")
    assert len(name) <= 128 and name.endswith(".csv")


def test_stored_name_cannot_escape_the_workspace(tmp_path: Path) -> None:
    kept = keep_source(DATA, "../../../../escape.csv", root=tmp_path / "ws")
    assert kept.resolve().is_relative_to((tmp_path / "ws" / "sources").resolve())
    assert not (tmp_path / "escape.csv").exists()


def test_unknown_and_malformed_hashes(tmp_path: Path) -> None:
    assert source_path("0" * 64, root=tmp_path) is None
    for bad in ("../../etc", "abc", "g" * 64):
        with pytest.raises(WorkspaceError, match="SHA-256"):
            source_path(bad, root=tmp_path)


def test_bad_inputs_are_refused(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError, match="no file to keep"):
        keep_source(tmp_path / "missing.csv", "missing.csv", root=tmp_path)
    with pytest.raises(WorkspaceError, match="bytes or a path"):
        keep_source("a,b\n", "text.csv", root=tmp_path)  # type: ignore[arg-type]


def test_concurrent_keeps_store_one_copy(tmp_path: Path) -> None:
    results: list[Path] = []
    lock = threading.Lock()
    barrier = threading.Barrier(6)

    def worker(n: int) -> None:
        barrier.wait()
        path = keep_source(DATA, f"copy{n}.csv", root=tmp_path)
        with lock:
            results.append(path)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(results)) == 1
    assert [p for p in (tmp_path / "sources").rglob("*") if p.is_file()] == results[:1]
    assert not [p for p in (tmp_path / "sources").iterdir() if p.name.startswith(".")]


def test_the_workspace_comes_from_the_settings(tmp_path: Path) -> None:
    """Read once at start-up (`SIGNOFF_WORKSPACE`) and passed down as `root`."""
    assert Settings.from_env({}).workspace == Path("workspace")
    settings = Settings.from_env({"SIGNOFF_WORKSPACE": str(tmp_path)})
    assert settings.workspace == tmp_path
    kept = keep_source(DATA, "people.csv", root=settings.workspace)
    assert kept.is_relative_to(tmp_path)
    with pytest.raises(TypeError, match="root"):
        keep_source(DATA, "people.csv")  # type: ignore[call-arg]
