"""Who may open, and decide on, an analysis: its owner, or someone the review queue invites.

Why the queue is the invitation: the queue is how a team asks for a review. An open request
for an analysis with no assignee is addressed to the whole team; one routed to a person is
addressed to that person alone. Opening the owner's analysis from such a request is what a
reviewer is asked to do; anything else (a stranger who guessed an id, a request routed to
someone else) is refused. An analysis with no owner (no server-side identity when it was
opened) is everyone's, as before owners existed.
"""

from __future__ import annotations

from review.analyses import Analysis, get_analysis
from review.audit import AuditTrail
from review.requests import open_requests
from steps.errors import AccessError, AnalysisError


def invited(trail: AuditTrail, analysis: Analysis, person: str | None) -> bool:
    """True when `person` may open `analysis`: nobody owns it, they do, or an open review
    request for it is addressed to the team (no assignee) or to them."""
    if analysis.owner is None or analysis.owner == person:
        return True
    if person is None:
        return False
    return any(
        request.assignee in (None, person)
        for request in open_requests(trail, analysis_id=analysis.id)
    )


def check_access(trail: AuditTrail, analysis_id: str, person: str | None) -> Analysis:
    """The analysis, if `person` may open or decide on it; else an `AccessError` sentence."""
    analysis = get_analysis(trail, analysis_id)
    if analysis is None:
        raise AnalysisError(f"Analysis {analysis_id} is not registered in this review file.")
    if not invited(trail, analysis, person):
        raise AccessError(
            f"Analysis {analysis_id} belongs to {analysis.owner}, and no open review request "
            "invites you to it: ask them to route one to you from the queue."
        )
    return analysis
