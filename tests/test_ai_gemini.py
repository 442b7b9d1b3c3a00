"""The real google-genai client (and the Ollama client) against a fake server on 127.0.0.1.

Every fault the design names — timeout, 429, 500s, malformed JSON, blocked or empty
answers — must end in the offline advisor's findings with a notice, and every request
the fake server received is inspected for cell values.
"""

from __future__ import annotations

import dataclasses
import email.utils
import json
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from pytest_httpserver import HTTPServer
from test_ai_fixtures import cell_strings, customer_frame, step_facts, step_results, with_model
from werkzeug import Request, Response

from ai.factory import choose_advisor
from ai.gemini import GeminiAdvisor
from ai.offline import OfflineAdvisor
from ai.ollama import OllamaAdvisor
from ai.prompts import recommend_prompt, step_prompt
from ai.remote import RemoteAdvisor
from ai.types import CallRecord, Rows
from review.ai_cache import AICache
from steps.errors import TooManyRowsError
from steps.insights import Facts, Step, StepInsights
from steps.recommend import ItemReviews, Recommendations, RecommendContext
from steps.settings import DEFAULT_GEMINI_MODEL as DEFAULT_MODEL
from steps.settings import Settings

GENERATE = re.compile(r"/v1(beta)?/models/[^/]+:generateContent")
KEY = "test-key-not-a-secret-7f3a"
MARGIN_S = 1.0
"""How far past its deadline a call may end: a thread and an event loop to start, a client to
build, a socket to close. Measured overshoot: 50-130 ms on a quiet machine (bench/README.md),
510 ms once with the 2-core machine at load 6; without a total deadline a dripping server
holds the call for 33 minutes, so the margin still tells the two apart."""


@pytest.fixture(scope="module")
def server() -> Iterator[HTTPServer]:
    srv = HTTPServer(host="127.0.0.1", port=0)
    srv.start()
    yield srv
    srv.clear()
    srv.stop()


@pytest.fixture
def fake(server: HTTPServer) -> Iterator[HTTPServer]:
    server.clear()
    yield server
    server.clear()


def gemini_body(payload: object, *, finish: str = "STOP") -> dict:
    text = payload if isinstance(payload, str) else json.dumps(payload)
    return {
        "candidates": [
            {"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": finish}
        ],
        "usageMetadata": {
            "promptTokenCount": 321,
            "candidatesTokenCount": 54,
            "totalTokenCount": 375,
        },
        "modelVersion": DEFAULT_MODEL,
    }


def quality_answer(duplicates: int, income_missing: int) -> dict:
    return {
        "findings": [
            {
                "title": f"{duplicates} duplicate rows",
                "detail": f"Remove the {duplicates} duplicates; income is missing in "
                f"{income_missing} rows.",
                "severity": "warning",
                "evidence": [f"quality.duplicate_rows={duplicates}"],
            }
        ]
    }


def gemini(server: HTTPServer, calls: list[CallRecord], **options: object) -> GeminiAdvisor:
    settings: dict = {"timeout_s": 2.0, "on_call": calls.append, "backoff": lambda n: 0.0}
    settings.update(options)
    return GeminiAdvisor(KEY, base_url=server.url_for("/"), **settings)


def advise(
    advisor: RemoteAdvisor, step: Step, facts: Facts | None = None, rows: Rows | None = None
) -> StepInsights:
    """As the flow calls an advisor: the prompt built (and shown) once, then passed in."""
    facts = step_facts(step) if facts is None else facts
    return advisor.advise(step, facts, prompt=step_prompt(step, facts, rows=rows), rows=rows)


def recommend(advisor: RemoteAdvisor, context: RecommendContext) -> Recommendations:
    return advisor.recommend(context, prompt=recommend_prompt(context))


def timed(call: Callable[[], object]) -> tuple[object, float]:
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


def request_bodies(server: HTTPServer) -> list[str]:
    return [req.get_data(as_text=True) for req, _ in server.log]


def _appears(cell: str, text: str) -> bool:
    """Digit-only cells (zip codes) count only as whole tokens: as substrings they would
    match inside unrelated figures."""
    if cell.isdigit():
        return re.search(rf"(?<![\d.]){cell}(?![\d.])", text) is not None
    return cell in text


def assert_no_cell_values(bodies: list[str]) -> None:
    cells = cell_strings()
    assert any(c.isdigit() for c in cells) and any(not c.isdigit() for c in cells)
    for body in bodies:
        text = json.dumps(json.loads(body), ensure_ascii=False)
        leaked = sorted(c for c in cells if _appears(c, text))
        assert not leaked, f"cell values reached the request: {leaked}"


def expected_fallback(step: Step) -> dict:
    return OfflineAdvisor().advise(step, step_facts(step)).to_dict()["findings"]


def customers() -> tuple[int, int]:
    """The customers' duplicate rows and missing incomes, counted by pandas."""
    frame = customer_frame()
    return int(frame.duplicated().sum()), int(frame["income"].isna().sum())


def test_success_parses_structured_output_and_records_the_call(fake: HTTPServer) -> None:
    dupes, income_missing = customers()
    wrong = income_missing + 3
    fake.expect_request(GENERATE, method="POST").respond_with_json(
        gemini_body(quality_answer(dupes, wrong))
    )
    calls: list[CallRecord] = []
    facts = step_facts("quality")
    shown = step_prompt("quality", facts)  # what the "what will be sent" panel shows
    insights = gemini(fake, calls).advise("quality", facts, prompt=shown)

    assert insights.advisor == "gemini" and insights.model == DEFAULT_MODEL
    assert insights.notice is None
    assert [f.title for f in insights.findings] == [f"{dupes} duplicate rows"]
    assert [u.value for u in insights.unverified_numbers] == [wrong]
    ((req, _),) = fake.log
    assert req.headers["x-goog-api-key"] == KEY
    sent = json.loads(req.get_data())
    assert sent["contents"][0]["parts"][0]["text"] == shown.text
    assert insights.prompt_sha256 == shown.sha256
    assert sent["generationConfig"]["responseMimeType"] == "application/json"
    assert "findings" in json.dumps(sent["generationConfig"]["responseSchema"])
    assert_no_cell_values(request_bodies(fake))
    (call,) = calls
    assert (call.outcome, call.attempt, call.http_status) == ("ok", 1, 200)
    assert (call.input_tokens, call.output_tokens, call.total_tokens) == (321, 54, 375)
    assert call.prompt_sha256 == insights.prompt_sha256
    assert KEY not in json.dumps(call.to_dict())


def test_no_step_sends_a_cell_value(fake: HTTPServer) -> None:
    """Every step, and Step 4 with a classification model whose labels are cell values."""
    fake.expect_request(GENERATE).respond_with_json(gemini_body({"findings": []}))
    facts = with_model("tier")
    assert facts.model is not None and facts.model.classes
    advisor = gemini(fake, [])
    for step in ("overview", "quality", "statistics"):
        advise(advisor, step, facts)
    recommend(advisor, RecommendContext(facts))
    assert len(fake.log) == 4
    assert_no_cell_values(request_bodies(fake))


def test_opted_in_rows_are_sent_and_no_more_than_twenty(fake: HTTPServer) -> None:
    fake.expect_request(GENERATE).respond_with_json(gemini_body({"findings": []}))
    frame = customer_frame()
    rows = frame.head(5).to_dict("records")
    advise(gemini(fake, []), "overview", rows=rows)
    body = request_bodies(fake)[0]
    assert all(r["customer_id"] in body for r in rows)
    assert frame["customer_id"].iloc[5] not in body
    # The caller builds the prompt, so a 21st row is refused before anything is sent.
    with pytest.raises(TooManyRowsError, match="At most 20 rows"):
        advise(gemini(fake, []), "overview", rows=frame.head(21).to_dict("records"))
    assert len(fake.log) == 1


def test_opted_in_rows_count_as_figures_for_the_fact_check(fake: HTTPServer) -> None:
    """A number read off a shared row is verified; the same number without rows is not."""
    frame = customer_frame()
    rows = frame.head(3).to_dict("records")
    income = f"{rows[0]['income']:.2f}"
    answer = {
        "findings": [
            {
                "title": "First customer",
                "detail": f"The first customer earns {income}.",
                "severity": "info",
                "evidence": [],
            }
        ]
    }
    fake.expect_request(GENERATE).respond_with_json(gemini_body(answer))
    assert advise(gemini(fake, []), "overview", rows=rows).unverified_numbers == ()
    (unverified,) = advise(gemini(fake, []), "overview").unverified_numbers
    assert unverified.text == income


def _sleep_then_answer(seconds: float, done: threading.Event):
    def handler(request: Request) -> Response:
        time.sleep(seconds)
        done.set()
        return Response(json.dumps(gemini_body({"findings": []})), content_type="application/json")

    return handler


def _wait_for_late_answer(fake: HTTPServer, answered: threading.Event) -> None:
    """Let the late answer land in this test's server log, not the next test's."""
    answered.wait(5)
    deadline = time.monotonic() + 5
    while not fake.log and time.monotonic() < deadline:
        time.sleep(0.01)


def test_timeout_falls_back_with_a_notice(fake: HTTPServer) -> None:
    answered = threading.Event()
    fake.expect_request(GENERATE).respond_with_handler(_sleep_then_answer(0.6, answered))
    calls: list[CallRecord] = []
    insights = advise(gemini(fake, calls, timeout_s=0.2), "statistics")
    assert not answered.is_set(), "the fallback came before the server's late answer"
    _wait_for_late_answer(fake, answered)
    assert insights.advisor == "offline"
    assert insights.notice == (
        "Gemini did not answer within 0.2 s; showing the offline advisor's findings instead."
    )
    assert insights.to_dict()["findings"] == expected_fallback("statistics")
    assert [c.outcome for c in calls] == ["timeout"]
    assert insights.prompt_sha256 == calls[0].prompt_sha256


def test_a_sub_millisecond_timeout_still_times_out(fake: HTTPServer) -> None:
    """google-genai reads a timeout of 0 ms as none at all: a tiny SIGNOFF_AI_TIMEOUT must
    not turn into waiting for ever."""
    answered = threading.Event()
    fake.expect_request(GENERATE).respond_with_handler(_sleep_then_answer(0.6, answered))
    insights = advise(gemini(fake, [], timeout_s=0.0004), "overview")
    assert not answered.is_set(), "the call waited for the server's late answer"
    _wait_for_late_answer(fake, answered)
    assert insights.advisor == "offline"
    assert insights.notice is not None and "did not answer within 0.0004 s" in insights.notice


def test_429_then_success_retries_after_the_backoff(fake: HTTPServer) -> None:
    quota = {"error": {"code": 429, "message": "quota", "status": "RESOURCE_EXHAUSTED"}}
    dupes, income_missing = customers()
    fake.expect_oneshot_request(GENERATE).respond_with_json(quota, status=429)
    fake.expect_oneshot_request(GENERATE).respond_with_json(
        gemini_body(quality_answer(dupes, income_missing))
    )
    waits: list[float] = []
    calls: list[CallRecord] = []
    advisor = gemini(fake, calls, backoff=lambda n: 0.25 * n, sleep=waits.append)
    insights = advise(advisor, "quality")
    assert insights.advisor == "gemini" and insights.notice is None
    assert insights.unverified_numbers == ()
    assert [(c.attempt, c.outcome, c.http_status) for c in calls] == [
        (1, "rate_limited", 429),
        (2, "ok", 200),
    ]
    assert waits == [0.25]
    assert len(fake.log) == 2


def test_three_500s_fall_back_after_three_attempts(fake: HTTPServer) -> None:
    fake.expect_request(GENERATE).respond_with_json(
        {"error": {"code": 500, "message": "boom", "status": "INTERNAL"}}, status=500
    )
    calls: list[CallRecord] = []
    waits: list[float] = []
    insights = advise(gemini(fake, calls, sleep=waits.append), "overview")
    assert len(fake.log) == 3
    assert [c.outcome for c in calls] == ["server_error"] * 3
    assert len(waits) == 2
    assert insights.advisor == "offline"
    assert insights.notice == (
        "Gemini failed with HTTP 500 on all 3 attempts; showing the offline advisor's "
        "findings instead."
    )
    assert insights.to_dict()["findings"] == expected_fallback("overview")


def test_a_client_error_is_not_retried(fake: HTTPServer) -> None:
    fake.expect_request(GENERATE).respond_with_json(
        {"error": {"code": 400, "message": "bad key", "status": "INVALID_ARGUMENT"}}, status=400
    )
    calls: list[CallRecord] = []
    insights = advise(gemini(fake, calls), "overview")
    assert len(fake.log) == 1
    assert [(c.outcome, c.http_status) for c in calls] == [("client_error", 400)]
    assert insights.notice == (
        "Gemini refused the request (HTTP 400); showing the offline advisor's findings instead."
    )


@pytest.mark.parametrize(
    "text",
    ["{not json", json.dumps({"findings": [{"title": "no detail, no severity"}]})],
    ids=["not-json", "wrong-shape"],
)
def test_malformed_json_falls_back(fake: HTTPServer, text: str) -> None:
    fake.expect_request(GENERATE).respond_with_json(gemini_body(text))
    calls: list[CallRecord] = []
    insights = advise(gemini(fake, calls), "quality")
    assert insights.advisor == "offline"
    assert "something other than the expected JSON" in (insights.notice or "")
    assert [c.outcome for c in calls] == ["malformed"]
    assert insights.to_dict()["findings"] == expected_fallback("quality")


def test_a_body_that_is_not_json_falls_back_as_malformed(fake: HTTPServer) -> None:
    """A proxy's error page with HTTP 200 is a malformed answer, as it is from Ollama."""
    fake.expect_request(GENERATE).respond_with_data("<html>proxy</html>", content_type="text/html")
    calls: list[CallRecord] = []
    insights = advise(gemini(fake, calls), "quality")
    assert insights.advisor == "offline"
    assert insights.notice == (
        "Gemini answered with something other than JSON; showing the offline advisor's "
        "findings instead."
    )
    assert [(c.outcome, c.http_status) for c in calls] == [("malformed", 200)]
    assert insights.to_dict()["findings"] == expected_fallback("quality")


@pytest.mark.parametrize(
    ("body", "outcome", "said"),
    [
        ({"promptFeedback": {"blockReason": "SAFETY"}}, "blocked", "blocked the request (SAFETY)"),
        (
            {"candidates": [{"finishReason": "SAFETY"}]},
            "blocked",
            "blocked the answer (SAFETY)",
        ),
        ({"candidates": []}, "empty", "returned no answer"),
        (
            {"candidates": [{"content": {"role": "model", "parts": []}, "finishReason": "STOP"}]},
            "empty",
            "returned an empty answer",
        ),
    ],
    ids=["prompt-blocked", "finish-safety", "no-candidates", "no-text"],
)
def test_blocked_or_empty_response_falls_back(
    fake: HTTPServer, body: dict, outcome: str, said: str
) -> None:
    fake.expect_request(GENERATE).respond_with_json(body)
    calls: list[CallRecord] = []
    insights = advise(gemini(fake, calls), "overview")
    assert insights.advisor == "offline"
    assert insights.notice == f"Gemini {said}; showing the offline advisor's findings instead."
    assert [c.outcome for c in calls] == [outcome]
    assert insights.to_dict()["findings"] == expected_fallback("overview")


def test_second_identical_call_is_answered_from_the_cache(fake: HTTPServer, tmp_path) -> None:
    dupes, income_missing = customers()
    fake.expect_request(GENERATE).respond_with_json(
        gemini_body(quality_answer(dupes, income_missing))
    )
    cache = AICache(tmp_path / "signoff.db")
    calls: list[CallRecord] = []
    first = advise(gemini(fake, calls, cache=cache), "quality")
    second = advise(gemini(fake, calls, cache=AICache(tmp_path / "signoff.db")), "quality")
    assert len(fake.log) == 1
    assert second.to_dict() == first.to_dict()
    assert [c.outcome for c in calls] == ["ok", "cached"]
    assert calls[1].prompt_sha256 == first.prompt_sha256
    other_model = advise(gemini(fake, [], cache=cache, model="gemini-2.5-pro"), "quality")
    assert other_model.advisor == "gemini" and len(fake.log) == 2
    # Other figures make another prompt, which the cache does not answer.
    facts = step_facts("quality")
    assert facts.quality is not None
    fewer = dataclasses.replace(facts.quality, duplicate_rows=facts.quality.duplicate_rows - 1)
    advise(gemini(fake, [], cache=cache), "quality", dataclasses.replace(facts, quality=fewer))
    assert len(fake.log) == 3


def test_failures_are_not_cached(fake: HTTPServer, tmp_path) -> None:
    fake.expect_oneshot_request(GENERATE).respond_with_json(gemini_body("{not json"))
    fake.expect_oneshot_request(GENERATE).respond_with_json(gemini_body({"findings": []}))
    cache = AICache(tmp_path / "signoff.db")
    assert advise(gemini(fake, [], cache=cache), "overview").advisor == "offline"
    assert advise(gemini(fake, [], cache=cache), "overview").advisor == "gemini"
    assert len(fake.log) == 2


def test_gemini_base_url_from_the_process_environment(fake: HTTPServer, monkeypatch) -> None:
    """The client itself honours GOOGLE_GEMINI_BASE_URL when no base URL is given."""
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", fake.url_for("/"))
    fake.expect_request(GENERATE).respond_with_json(gemini_body({"findings": []}))
    advisor = GeminiAdvisor(KEY, timeout_s=2.0)
    assert advise(advisor, "overview").advisor == "gemini"
    assert len(fake.log) == 1


def test_choose_advisor_reads_key_model_url_and_timeout(fake: HTTPServer) -> None:
    fake.expect_request(GENERATE).respond_with_json(gemini_body({"findings": []}))
    env = {
        "GOOGLE_API_KEY": KEY,
        "SIGNOFF_GEMINI_MODEL": "gemini-test-model",
        "GOOGLE_GEMINI_BASE_URL": fake.url_for("/"),
        "SIGNOFF_AI_TIMEOUT": "3",
    }
    calls: list[CallRecord] = []
    settings = Settings.from_env(env).ai
    assert KEY not in repr(settings)
    advisor = choose_advisor(settings, on_call=calls.append)
    assert isinstance(advisor, GeminiAdvisor)
    assert advisor.name == "gemini" and advisor.model == "gemini-test-model"
    assert "GOOGLE_API_KEY is set" in advisor.description
    advise(advisor, "overview")
    ((req, _),) = fake.log
    assert "/models/gemini-test-model:generateContent" in req.path
    assert req.headers["x-server-timeout"] == "3"
    assert calls[0].model == "gemini-test-model"


def test_gemini_recommend_drops_items_built_on_rejected_findings(fake: HTTPServer) -> None:
    dupes, _ = customers()
    rejected_id = "abc123def456"
    answer = {
        "action_plan": [
            {
                "title": "Remove duplicates",
                "rationale": f"{dupes} rows repeat.",
                "evidence": ["quality.duplicate_rows"],
                "priority": "high",
                "impact": 4,
                "effort": 1,
                "finding_ids": ["keepme"],
            },
            {
                "title": "Drop spend_copy",
                "rationale": "It leaks.",
                "evidence": [],
                "priority": "high",
                "impact": 5,
                "effort": 1,
                "finding_ids": [rejected_id],
            },
        ],
        "business_insights": ["Tenure drives visits."],
        "next_steps": ["Clean, then re-run."],
    }
    fake.expect_request(GENERATE).respond_with_json(gemini_body(answer))
    context = RecommendContext(
        step_results(),
        rejected_finding_ids=frozenset({rejected_id}),
        feedback=("Focus on revenue columns, please.",),
    )
    shown = recommend_prompt(context)
    recs = gemini(fake, []).recommend(context, prompt=shown)
    assert [i.title for i in recs.action_plan] == ["Remove duplicates"]
    assert recs.advisor == "gemini" and recs.feedback_used == ("Focus on revenue columns, please.",)
    assert recs.unverified_numbers == () and recs.prompt_sha256 == shown.sha256
    sent = json.loads(request_bodies(fake)[0])
    assert sent["contents"][0]["parts"][0]["text"] == shown.text
    assert "Focus on revenue columns, please." in shown.text


def test_gemini_recommendations_are_fact_checked(fake: HTTPServer) -> None:
    dupes, income_missing = customers()
    answer = {
        "action_plan": [
            {
                "title": f"Remove the {dupes} duplicate rows",
                "rationale": f"Then impute the {income_missing + 40} missing incomes.",
                "evidence": [f"quality.duplicate_rows={dupes}"],
                "priority": "high",
                "impact": 4,
                "effort": 1,
                "finding_ids": [],
            }
        ],
        "business_insights": [f"{dupes} customers were counted twice."],
        "next_steps": [],
    }
    fake.expect_request(GENERATE).respond_with_json(gemini_body(answer))
    recs = recommend(gemini(fake, []), RecommendContext(step_results()))
    assert [(u.text, u.where) for u in recs.unverified_numbers] == [
        (str(income_missing + 40), "action_plan[0].rationale")
    ]


def test_gemini_regeneration_keeps_the_reviewers_item_verdicts(fake: HTTPServer) -> None:
    """A model told in its prompt to drop an item may propose it again; the reviewer's
    reject and edit of the last version still hold."""
    item = {"rationale": "r", "evidence": [], "priority": "high", "impact": 3, "effort": 2}
    answer = {
        "action_plan": [
            {**item, "title": "Remove duplicates", "finding_ids": []},
            {**item, "title": "Drop spend_copy", "finding_ids": []},
            {**item, "title": "Impute visits", "finding_ids": []},
        ],
        "business_insights": [],
        "next_steps": [],
    }
    fake.expect_request(GENERATE).respond_with_json(gemini_body(answer))
    advisor = gemini(fake, [])
    v1 = recommend(advisor, RecommendContext(step_results()))
    ids = {i.title: i.id for i in v1.action_plan}
    reviews = ItemReviews(
        items={ids["Drop spend_copy"]: "reject", ids["Impute visits"]: "edit"},
        edits={ids["Impute visits"]: "Impute visits by segment median"},
    )
    v2 = recommend(advisor, RecommendContext(step_results(), previous=v1, reviews=reviews))
    assert [i.title for i in v2.action_plan] == [
        "Remove duplicates",
        "Impute visits by segment median",
    ]
    assert v2.version == 2


def test_a_reviewers_rewording_is_not_fact_checked_as_the_models(fake: HTTPServer) -> None:
    """The reviewer's wording replaces the model's title; its numbers are the reviewer's
    (a figure they know), not an unverified number the AI stated."""
    item = {"rationale": "r", "evidence": [], "priority": "high", "impact": 3, "effort": 2}
    answer = {
        "action_plan": [{**item, "title": "Impute visits", "finding_ids": []}],
        "business_insights": [],
        "next_steps": [],
    }
    fake.expect_request(GENERATE).respond_with_json(gemini_body(answer))
    advisor = gemini(fake, [])
    v1 = recommend(advisor, RecommendContext(step_results()))
    (only,) = v1.action_plan
    reviews = ItemReviews(
        items={only.id: "edit"}, edits={only.id: "Impute visits from the 2,417 CRM records"}
    )
    v2 = recommend(advisor, RecommendContext(step_results(), previous=v1, reviews=reviews))
    assert [i.title for i in v2.action_plan] == ["Impute visits from the 2,417 CRM records"]
    assert v2.unverified_numbers == ()


def test_gemini_recommend_falls_back_to_offline_plan(fake: HTTPServer) -> None:
    fake.expect_request(GENERATE).respond_with_json({"error": {"code": 503}}, status=503)
    context = RecommendContext(step_results())
    recs = recommend(gemini(fake, []), context)
    assert recs.advisor == "offline"
    assert recs.notice == (
        "Gemini failed with HTTP 503 on all 3 attempts; showing the offline advisor's "
        "recommendations instead."
    )
    assert recs.action_plan == OfflineAdvisor().recommend(context).action_plan
    assert recs.prompt_sha256 == recommend_prompt(context).sha256


# --- one deadline per call: slow 429s, Retry-After, backoff ------------------------------


def _late_429(delay_s: float, arrivals: list[float], retry_after_value: str):
    def handler(request: Request) -> Response:
        arrivals.append(time.monotonic())
        time.sleep(delay_s)
        body = {"error": {"code": 429, "message": "quota", "status": "RESOURCE_EXHAUSTED"}}
        return Response(
            json.dumps(body),
            status=429,
            content_type="application/json",
            headers={"Retry-After": retry_after_value},
        )

    return handler


def test_slow_429s_honour_retry_after_and_stop_when_the_next_wait_would_pass_the_deadline(
    fake: HTTPServer,
) -> None:
    """0.3 s to each 429, Retry-After 1 s, backoff 1 s then 2 s, deadline 3 s: the first wait
    fits (ends at 1.3 s), the second would end at 3.6 s, so the call ends after the second
    answer (1.6 s) instead of sleeping past its deadline. Each step has ~1 s of slack, so a
    busy machine's overheads do not change the sequence."""
    arrivals: list[float] = []
    fake.expect_request(GENERATE).respond_with_handler(_late_429(0.3, arrivals, "1"))
    calls: list[CallRecord] = []
    advisor = gemini(fake, calls, timeout_s=3.0, backoff=lambda n: float(n), sleep=time.sleep)
    insights, elapsed = timed(lambda: advise(advisor, "quality"))
    assert elapsed < 3.0
    assert len(arrivals) == 2 and arrivals[1] - arrivals[0] >= 0.3 + 1.0
    assert [(c.attempt, c.outcome) for c in calls] == [(1, "rate_limited"), (2, "rate_limited")]
    assert insights.advisor == "offline"
    assert insights.notice == (
        "Gemini was rate-limited (HTTP 429) on 2 attempts and could not retry within the 3 s "
        "limit; showing the offline advisor's findings instead."
    )


def test_a_retry_after_longer_than_the_deadline_gives_up_at_once(fake: HTTPServer) -> None:
    arrivals: list[float] = []
    later = email.utils.formatdate(time.time() + 60, usegmt=True)
    fake.expect_request(GENERATE).respond_with_handler(_late_429(0.2, arrivals, later))
    advisor = gemini(fake, [], timeout_s=3.0, sleep=time.sleep)
    insights, elapsed = timed(lambda: advise(advisor, "overview"))
    assert elapsed < 1.5 and len(arrivals) == 1  # not the 60 s asked, nor the 3 s deadline
    assert "on 1 attempt and could not retry within the 3 s limit" in (insights.notice or "")


def test_geminis_retry_info_in_the_body_counts_as_retry_after(fake: HTTPServer) -> None:
    body = {
        "error": {
            "code": 429,
            "status": "RESOURCE_EXHAUSTED",
            "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "7s"}],
        }
    }
    fake.expect_request(GENERATE).respond_with_json(body, status=429)
    waits: list[float] = []
    advisor = gemini(fake, [], timeout_s=30.0, sleep=waits.append)
    advise(advisor, "overview")
    assert waits == [7.0, 7.0]


def test_a_backoff_that_would_pass_the_deadline_is_not_slept(fake: HTTPServer) -> None:
    fake.expect_request(GENERATE).respond_with_json({"error": {"code": 500}}, status=500)
    calls: list[CallRecord] = []
    advisor = gemini(fake, calls, timeout_s=1.0, backoff=lambda n: 5.0, sleep=time.sleep)
    insights, elapsed = timed(lambda: advise(advisor, "overview"))
    assert elapsed < 1.0 and len(calls) == 1  # the 5 s backoff was not slept
    assert insights.notice == (
        "Gemini failed with HTTP 500 on 1 attempt and could not retry within the 1 s limit; "
        "showing the offline advisor's findings instead."
    )


def test_the_deadline_runs_through_the_backoff_into_the_retry(fake: HTTPServer) -> None:
    """A fast 503, a 0.5 s backoff, then a retry the server answers after 3 s: the retry is
    cancelled when the call's 2 s are up, not after a timeout of its own."""
    answered = threading.Event()

    def slow_success(request: Request) -> Response:
        time.sleep(3.0)
        answered.set()
        return Response(json.dumps(gemini_body({"findings": []})), content_type="application/json")

    fake.expect_oneshot_request(GENERATE).respond_with_json({"error": {"code": 503}}, status=503)
    fake.expect_oneshot_request(GENERATE).respond_with_handler(slow_success)
    calls: list[CallRecord] = []
    advisor = gemini(fake, calls, timeout_s=2.0, backoff=lambda n: 0.5, sleep=time.sleep)
    insights, elapsed = timed(lambda: advise(advisor, "statistics"))
    assert 2.0 <= elapsed < 2.0 + MARGIN_S
    assert [c.outcome for c in calls] == ["server_error", "timeout"]
    assert insights.notice == (
        "Gemini did not answer within 2 s on attempt 2; showing the offline advisor's "
        "findings instead."
    )
    answered.wait(5)  # the server's late answer lands before the fixture stops it


# --- Ollama ---------------------------------------------------------------------------


def ollama_body(payload: object) -> dict:
    return {
        "model": "llama3.2",
        "message": {"role": "assistant", "content": json.dumps(payload)},
        "done": True,
        "prompt_eval_count": 200,
        "eval_count": 40,
    }


def ollama(server: HTTPServer, calls: list[CallRecord], **options: object) -> OllamaAdvisor:
    settings: dict = {"timeout_s": 2.0, "on_call": calls.append, "backoff": lambda n: 0.0}
    settings.update(options)
    return OllamaAdvisor(server.url_for("/"), **settings)


def test_ollama_sends_the_schema_as_format_and_parses_the_answer(fake: HTTPServer) -> None:
    dupes, income_missing = customers()
    fake.expect_request("/api/chat", method="POST").respond_with_json(
        ollama_body(quality_answer(dupes, income_missing))
    )
    calls: list[CallRecord] = []
    facts = step_facts("quality")
    shown = step_prompt("quality", facts)
    insights = ollama(fake, calls).advise("quality", facts, prompt=shown)
    assert insights.advisor == "ollama" and insights.notice is None
    assert insights.unverified_numbers == ()
    sent = json.loads(fake.log[0][0].get_data())
    assert sent["messages"] == [{"role": "user", "content": shown.text}]
    assert sent["format"]["properties"]["findings"]["type"] == "array"
    assert sent["stream"] is False
    assert_no_cell_values(request_bodies(fake))
    assert (calls[0].input_tokens, calls[0].output_tokens, calls[0].total_tokens) == (200, 40, 240)


def test_ollama_server_errors_fall_back(fake: HTTPServer) -> None:
    fake.expect_request("/api/chat").respond_with_data("overloaded", status=503)
    calls: list[CallRecord] = []
    insights = advise(ollama(fake, calls), "overview")
    assert insights.advisor == "offline"
    assert insights.notice is not None and insights.notice.startswith("Ollama failed with HTTP 503")
    assert len(calls) == 3
    assert insights.to_dict()["findings"] == expected_fallback("overview")


def test_ollama_timeout_and_a_non_json_body_fall_back(fake: HTTPServer) -> None:
    answered = threading.Event()
    fake.expect_oneshot_request("/api/chat").respond_with_handler(_sleep_then_answer(0.6, answered))
    calls: list[CallRecord] = []
    insights = advise(ollama(fake, calls, timeout_s=0.2), "quality")
    assert not answered.is_set()
    _wait_for_late_answer(fake, answered)
    assert insights.advisor == "offline"
    assert insights.notice == (
        "Ollama did not answer within 0.2 s; showing the offline advisor's findings instead."
    )
    fake.expect_request("/api/chat").respond_with_data("<html>proxy error</html>")
    insights = advise(ollama(fake, calls), "quality")
    assert insights.advisor == "offline"
    assert [c.outcome for c in calls] == ["timeout", "malformed"]
    assert insights.to_dict()["findings"] == expected_fallback("quality")


@pytest.mark.parametrize(
    ("body", "outcome"),
    [
        ("[1, 2]", "malformed"),
        ("null", "malformed"),
        ('{"message": {"role": "assistant", "content": 5}}', "malformed"),
        ('{"message": "text where an object belongs"}', "empty"),
        ('{"message": {"role": "assistant", "content": "  "}}', "empty"),
    ],
    ids=["list", "null", "content-not-text", "message-not-object", "blank-content"],
)
def test_ollama_answers_of_the_wrong_shape_fall_back(
    fake: HTTPServer, body: str, outcome: str
) -> None:
    """JSON that is not Ollama's answer shape never loses the step (a non-text content
    used to escape as an AttributeError)."""
    fake.expect_request("/api/chat").respond_with_data(body, content_type="application/json")
    calls: list[CallRecord] = []
    insights = advise(ollama(fake, calls), "overview")
    assert insights.advisor == "offline" and insights.notice is not None
    assert [c.outcome for c in calls] == [outcome]
    assert insights.to_dict()["findings"] == expected_fallback("overview")


def test_ollama_unreachable_falls_back() -> None:
    calls: list[CallRecord] = []
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}"
    advisor = OllamaAdvisor(url, timeout_s=2.0, on_call=calls.append)
    insights = advise(advisor, "overview")
    assert insights.advisor == "offline"
    assert insights.notice == (
        "Ollama could not be reached; showing the offline advisor's findings instead."
    )
    assert [c.outcome for c in calls] == ["unreachable"]


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({"GEMINI_API_KEY": KEY}, "gemini"),
        ({"GOOGLE_API_KEY": KEY}, "gemini"),
        ({"GEMINI_API_KEY": KEY, "SIGNOFF_OLLAMA_URL": "http://127.0.0.1:9"}, "gemini"),
        ({"SIGNOFF_OLLAMA_URL": "http://127.0.0.1:9"}, "ollama"),
        ({"GEMINI_API_KEY": "  ", "SIGNOFF_OLLAMA_URL": ""}, "offline"),
        ({}, "offline"),
    ],
    ids=["gemini-key", "google-key", "both", "ollama", "blank", "nothing"],
)
def test_choose_advisor_prefers_gemini_then_ollama_then_offline(env: dict, name: str) -> None:
    advisor = choose_advisor(Settings.from_env(env).ai)
    assert advisor.name == name
    if name == "offline":
        assert "nothing leaves this machine" in advisor.description
    if name == "ollama":
        assert isinstance(advisor, OllamaAdvisor) and advisor.url == "http://127.0.0.1:9"
        assert "SIGNOFF_OLLAMA_URL is set" in advisor.description


def test_choose_advisor_passes_model_and_timeout_to_ollama() -> None:
    env = {
        "SIGNOFF_OLLAMA_URL": "http://127.0.0.1:9/",
        "SIGNOFF_OLLAMA_MODEL": "qwen2.5",
        "SIGNOFF_AI_TIMEOUT": "4.5",
    }
    advisor = choose_advisor(Settings.from_env(env).ai)
    assert isinstance(advisor, OllamaAdvisor)
    assert (advisor.url, advisor.model, advisor.timeout_s) == ("http://127.0.0.1:9", "qwen2.5", 4.5)
    assert "qwen2.5" in advisor.description
