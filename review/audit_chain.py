"""The audit chain's arithmetic: each event's hash, the head's seal, and the walk that
finds the first broken link. Shared by `AuditTrail.verify` and the bundle check
(`review.verify`), which read rows from different places."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from typing import Any

from review.storage_schema import GENESIS_SHA256
from steps.results import json_safe
from steps.text import canonical_json

PLAIN = "sha256"
KEYED = "hmac-sha256"
SCHEMES = (PLAIN, KEYED)


def _digest(text: str, key: bytes | None) -> str:
    data = text.encode("utf-8")
    if key is None:
        return hashlib.sha256(data).hexdigest()
    return hmac.new(key, data, hashlib.sha256).hexdigest()


def event_sha256(
    *,
    prev_sha256: str,
    id: int,
    at: str,
    kind: str,
    analysis_id: str | None,
    actor: str | None,
    payload: Mapping[str, Any],
    key: bytes | None = None,
) -> str:
    """The hash that links an event into the chain: it covers every stored field.

    Plain SHA-256 without a key (scheme "sha256"), HMAC-SHA256 under the key with one
    (scheme "hmac-sha256"); the document hashed is the same.
    """
    document = [prev_sha256, id, at, kind, analysis_id, actor, json_safe(payload)]
    return _digest(canonical_json(document), key)


def head_seal(key: bytes, last_id: int, sha256: str) -> str:
    """The chain head's seal: an HMAC of where the chain ends, so moving the end needs the key."""
    return _digest(canonical_json(["chain_head", last_id, sha256]), key)


def first_break(
    rows: Iterable[Mapping[str, Any]], head: Mapping[str, Any] | None, key: bytes | None
) -> tuple[int, str] | None:
    """(first broken id, one-sentence reason), or None when the chain and head agree."""
    walk = ChainWalk(key)
    for row in rows:
        problem = walk.step(row)
        if problem is not None:
            return problem
    last_id = walk.expected_id - 1
    if head is None:
        return (
            walk.expected_id,
            "The chain head record is missing, so trailing deletions would go unseen.",
        )
    head_id, head_sha = head["last_id"], head["sha256"]
    if head_id > last_id:
        return (
            last_id + 1,
            f"Event {last_id + 1} is missing: the chain head records {head_id} events "
            f"but the table ends at event {last_id}.",
        )
    if head_id < last_id:
        return (head_id + 1, f"Event {head_id + 1} was added without updating the chain head.")
    if head_sha != walk.prev:
        return (last_id, f"Event {last_id} does not match the hash recorded in the chain head.")
    return seal_problem(head, key)


def seal_problem(head: Mapping[str, Any], key: bytes | None) -> tuple[int, str] | None:
    """Whether the head's seal agrees with the key (None when it does, or there is no key
    and no seal)."""
    seal, last_id = head.get("seal"), head["last_id"]
    if key is None:
        if seal is not None:
            return (last_id, "The chain head is sealed with an audit key: checking needs that key.")
        return None
    if seal is None:
        if last_id == 0:
            return None
        return (
            last_id,
            "The chain head is not sealed with the audit key, so the whole chain could have "
            "been rewritten without it.",
        )
    if not hmac.compare_digest(seal, head_seal(key, last_id, head["sha256"])):
        return (
            last_id,
            "The chain head's seal does not match the audit key: the chain was rewritten, or "
            "this is not its key.",
        )
    return None


class ChainWalk:
    """Checks events one by one in id order: each id, link, hash, and the keying rule (no
    plain row after a keyed one). Shared by `verify()` and the bundle check."""

    def __init__(self, key: bytes | None, *, expected_id: int = 1, prev: str = GENESIS_SHA256):
        self.key = key
        self.expected_id = expected_id
        self.prev = prev
        self.keyed_since: int | None = None

    def step(self, row: Mapping[str, Any]) -> tuple[int, str] | None:
        """The problem with the next row, or None (and the walk moves past it)."""
        problem = self._problem(row)
        if problem is None:
            if row.get("scheme") == KEYED and self.keyed_since is None:
                self.keyed_since = row["id"]
            self.expected_id, self.prev = row["id"] + 1, row["sha256"]
        return problem

    def _problem(self, row: Mapping[str, Any]) -> tuple[int, str] | None:
        event_id = row["id"]
        if event_id < self.expected_id:
            return (event_id, f"Event {event_id} has an id the chain never issued.")
        if event_id > self.expected_id:
            return (
                self.expected_id,
                f"Event {self.expected_id} is missing: event {event_id} follows event "
                f"{self.expected_id - 1}.",
            )
        if row["prev_sha256"] != self.prev:
            return (
                event_id,
                f"Event {event_id} does not link to event {event_id - 1}: "
                "a row before it was changed, removed or reordered.",
            )
        return own_hash_problem(row, self.key, keyed_since=self.keyed_since)


def own_hash_problem(
    row: Mapping[str, Any], key: bytes | None, *, keyed_since: int | None = None
) -> tuple[int, str] | None:
    """Whether one event's stored hash is the hash of its own fields under its scheme."""
    event_id = row["id"]
    scheme = row.get("scheme") or PLAIN
    if scheme not in SCHEMES:
        return (event_id, f"Event {event_id} names an unknown hash scheme {scheme!r}.")
    if scheme == PLAIN and keyed_since is not None:
        return (
            event_id,
            f"Event {event_id} is not keyed although event {keyed_since} before it is: the "
            "chain was rewritten from there without the key.",
        )
    if scheme == KEYED and key is None:
        return (event_id, f"Event {event_id} is keyed: checking it needs the audit key.")
    try:
        payload = row["payload"]
        payload = json.loads(payload) if isinstance(payload, str) else payload
    except (TypeError, json.JSONDecodeError):
        return (event_id, f"Event {event_id} has a payload that is not valid JSON.")
    fields = {k: row[k] for k in ("id", "at", "kind", "analysis_id", "actor")}
    expected = event_sha256(
        prev_sha256=row["prev_sha256"],
        payload=payload,
        key=key if scheme == KEYED else None,
        **fields,
    )
    if expected != row["sha256"]:
        unless = " (or this is not the trail's audit key)" if scheme == KEYED else ""
        return (event_id, f"Event {event_id} was altered after it was recorded{unless}.")
    return None
