"""Who is deciding: the reviewer as the server knows them, and the maker-checker rule.

Why from the server: a typed name is a claim anyone can make, so on a team server an
approval "by Ada" proves nothing, and the person who prepared an export could authorise it
under any name. `python -m server` decides who a request comes from (a trusted proxy's
header, or a person's own token from the users file — `steps.settings.IdentitySettings`)
and puts it in the ASGI scope: `scope["user"]` (a user whose `username` is the person) and,
in `scope["meta"]`, `IDENTITY_META` naming how it knows. marimo hands both to the notebook
as `mo.app_meta().request.user` and `.meta`; `identity_from` reads them back. Nothing here
imports marimo or `flow`.

Why the meta marker as well as the user: `marimo run` itself sets a user on every request
(named "user", for anyone holding the shared token). Only a request that passed through
our middleware carries the marker, so that generic user is never mistaken for a person.

The maker-checker rule: the person who opened an analysis (its owner in the registry) may
not authorise its export; someone else must. It is on whenever the server knows who people
are, and can be turned off (`SIGNOFF_MAKER_CHECKER=off`) for a one-person server. Without a
server-side identity the typed name stays and the rule cannot apply.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from review.analyses import get_analysis
from review.audit import AuditTrail
from review.gates import gate_by_id
from review.users import checked_person
from steps.errors import GateError, IdentityError
from steps.results import ToDict
from steps.settings import IdentitySettings, IdentitySource

IDENTITY_META = "signoff_identity"
MAKER_CHECKER_GATES = ("export_authorization",)
# Verdicts that let the export through; the maker may still reject their own export.
_OPENING = ("approve", "modify")


@dataclass(frozen=True)
class Identity(ToDict):
    """A person as the server knows them, and how (`header` from the proxy, `token` from the
    users file)."""

    name: str
    source: IdentitySource


@dataclass(frozen=True)
class Signing:
    """Who signs one session's decisions: the person the server names (when it knows people,
    `settings.source`), else whoever types a name into the gate form."""

    identity: Identity | None = None
    settings: IdentitySettings = field(default_factory=IdentitySettings)

    @property
    def signed_in(self) -> str | None:
        """The name the gate forms show fixed, or None where the reviewer types it."""
        return self.identity.name if self.identity is not None else None


TYPED_NAMES = Signing()


def identity_from(
    request_user: object, request_meta: object, settings: IdentitySettings
) -> Identity | None:
    """The person a notebook request comes from, or None when the server does not say.

    Pass `mo.app_meta().request.user` and `.meta` (either may be None outside a server).
    None also when the server is not configured to know people, or when the request did not
    come through `python -m server` (no marker, or a marker for another source than the one
    configured).
    """
    expected = settings.source
    if expected is None or not isinstance(request_user, Mapping):
        return None
    if not isinstance(request_meta, Mapping):
        return None
    if request_meta.get(IDENTITY_META) != expected or not request_user.get("is_authenticated"):
        return None
    try:
        return Identity(checked_person(request_user.get("username")), expected)
    except IdentityError:
        return None


def reviewer_for(typed: str | None, identity: Identity | None, settings: IdentitySettings) -> str:
    """The reviewer a decision is recorded under: the signed-in person when the server knows
    people (whatever was typed), else the typed name.

    Raises `GateError` when the server is meant to know the person and this request does
    not say (served without `python -m server`, or signed out meanwhile).
    """
    if settings.source is None:
        return (typed or "").strip()
    if identity is None:
        raise GateError(
            "This server takes the reviewer from the signed-in person and this request names "
            "nobody: sign in again."
        )
    return identity.name


def check_maker_checker(
    trail: AuditTrail,
    analysis_id: str,
    gate: str,
    reviewer: str,
    settings: IdentitySettings,
    *,
    verdict: str = "approve",
) -> None:
    """Refuse (a `GateError` sentence) an export authorisation by the person who opened the
    analysis; anything else passes.

    An analysis with no recorded owner (opened before the server knew people) is refused
    too: the rule cannot tell that the reviewer is not its maker.
    """
    if not settings.maker_checker or gate not in MAKER_CHECKER_GATES or verdict not in _OPENING:
        return
    title = gate_by_id(gate).title
    analysis = get_analysis(trail, analysis_id)
    owner = analysis.owner if analysis is not None else None
    if owner is None:
        raise GateError(
            f"{title} needs someone other than the person who opened analysis {analysis_id}, "
            "and nobody is recorded as having opened it: open the file again, signed in."
        )
    if owner == reviewer:
        raise GateError(
            f"{reviewer} opened this analysis, so {title.lower()} must come from someone "
            "else (maker-checker)."
        )
