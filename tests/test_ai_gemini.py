"""The real google-genai client (and the Ollama client) against a fake server on 127.0.0.1.

Every fault the design names — timeout, 429, 500s, malformed JSON, blocked or empty
answers — must end in the offline advisor's findings with a notice, and every request
the fake server received is inspected for cell values.
"""

from __future__ import annotations

import email.utils
import json
import re
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from pytest_httpserver import HTTPServer
from test_ai_fixtures import cell_strings, customer_frame, step_results
from werkzeug import Request, Response

from ai.advisor import CallRecord, choose_advisor
from ai.cache import AICache
from ai.gemini import DEFAULT_MODEL, GeminiAdvisor
from ai.offline import OfflineAdvisor
from ai.ollama import OllamaAdvisor
from ai.prompts import TooManyRowsError, prompt_for
from steps.recommend import RecommendContext

GENERATE = re.compile(r"/v1(beta)?/models/[^/]+:generateContent")
KEY = "test-key-not-a-secret-7f3a"
MARGIN_S = 0.5
"""How far past its deadline a call may end: a thread and an event loop to start, a client to
build, a socket to close. Measured overshoot: 50-130 ms (bench/README.md)."""


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


def expected_fallback(step: str) -> dict:
    return OfflineAdvisor().advise(step, step_results()[step]).to_dict()["findings"]


def test_success_parses_structured_output_and_records_the_call(fake: HTTPServer) -> None:
    results = step_results()
    q = results["quality"]
    wrong = q["missing_by_column"]["income"] + 3
    fake.expect_request(GENERATE, method="POST").respond_with_json(
        gemini_body(quality_answer(q["duplicate_rows"], wrong))
    )
    calls: list[CallRecord] = []
    insights = gemini(fake, calls).advise("quality", q)

    assert insights.advisor == "gemini" and insights.model == DEFAULT_MODEL
    assert insights.notice is None
    assert [f.title for f in insights.findings] == [f"{q['duplicate_rows']} duplicate rows"]
    assert [u.value for u in insights.unverified_numbers] == [wrong]
    ((req, _),) = fake.log
    assert req.headers["x-goog-api-key"] == KEY
    sent = json.loads(req.get_data())
    shown = prompt_for("quality", q)  # what the "what will be sent" panel shows
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
    fake.expect_request(GENERATE).respond_with_json(gemini_body({"findings": []}))
    results = step_results()
    advisor = gemini(fake, [])
    for step in ("overview", "quality", "statistics"):
        advisor.advise(step, results)
    advisor.recommend(RecommendContext(**results))
    assert len(fake.log) == 4
    assert_no_cell_values(request_bodies(fake))


def test_opted_in_rows_are_sent_and_no_more_than_twenty(fake: HTTPServer) -> None:
    fake.expect_request(GENERATE).respond_with_json(gemini_body({"findings": []}))
    frame = customer_frame()
    rows = frame.head(5).to_dict("records")
    gemini(fake, []).advise("overview", step_results()["overview"], rows=rows)
    body = request_bodies(fake)[0]
    assert all(r["customer_id"] in body for r in rows)
    assert frame["customer_id"].iloc[5] not in body
    with pytest.raises(TooManyRowsError, match="At most 20 rows"):
        gemini(fake, []).advise("overview", {}, rows=frame.head(21).to_dict("records"))
    assert len(fake.log) == 1


def _sleep_then_answer(seconds: float, done: threading.Event):
    def handler(request: Request) -> Response:
        time.sleep(seconds)
        done.set()
        return Response(json.dumps(gemini_body({"findings": []})), content_type="application/json")

    return handler


def test_timeout_falls_back_with_a_notice(fake: HTTPServer) -> None:
    answered = threading.Event()
    fake.expect_request(GENERATE).respond_with_handler(_sleep_then_answer(0.6, answered))
    calls: list[CallRecord] = []
    insights = gemini(fake, calls, timeout_s=0.2).advise("statistics", step_results()["statistics"])
    assert not answered.is_set(), "the fallback came before the server's late answer"
    answered.wait(5)  # let the late answer land in this test's server log, not the next
    deadline = time.monotonic() + 5
    while not fake.log and time.monotonic() < deadline:
        time.sleep(0.01)
    assert insights.advisor == "offline"
    assert insights.notice == (
        "Gemini did not answer within 0.2 s; showing the offline advisor's findings instead."
    )
    assert insights.to_dict()["findings"] == expected_fallback("statistics")
    assert [c.outcome for c in calls] == ["timeout"]
    assert insights.prompt_sha256 == calls[0].prompt_sha256


def test_429_then_success_retries_after_the_backoff(fake: HTTPServer) -> None:
    quota = {"error": {"code": 429, "message": "quota", "status": "RESOURCE_EXHAUSTED"}}
    q = step_results()["quality"]
    fake.expect_oneshot_request(GENERATE).respond_with_json(quota, status=429)
    fake.expect_oneshot_request(GENERATE).respond_with_json(
        gemini_body(quality_answer(q["duplicate_rows"], q["missing_by_column"]["income"]))
    )
    waits: list[float] = []
    calls: list[CallRecord] = []
    advisor = gemini(fake, calls, backoff=lambda n: 0.25 * n, sleep=waits.append)
    insights = advisor.advise("quality", q)
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
    insights = gemini(fake, calls, sleep=waits.append).advise(
        "overview", step_results()["overview"]
    )
    assert len(fake.log) == 3
    assert [c.outcome for c in calls] == ["server_error"] * 3
    assert len(waits) == 2
    assert insights.advisor == "offline"
    assert insights.notice == (
        "Gemini failed with HTTP 500 on all 3 attempts; showing the offline advisor's "
        "findings instead."
    )
    assert insights.to_dict()["findings"] == expected_fallback("overview")


@pytest.mark.parametrize(
    "text",
    ["{not json", json.dumps({"findings": [{"title": "no detail, no severity"}]})],
    ids=["not-json", "wrong-shape"],
)
def test_malformed_json_falls_back(fake: HTTPServer, text: str) -> None:
    fake.expect_request(GENERATE).respond_with_json(gemini_body(text))
    calls: list[CallRecord] = []
    insights = gemini(fake, calls).advise("quality", step_results()["quality"])
    assert insights.advisor == "offline"
    assert "something other than the expected JSON" in (insights.notice or "")
    assert [c.outcome for c in calls] == ["malformed"]
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
    insights = gemini(fake, calls).advise("overview", step_results()["overview"])
    assert insights.advisor == "offline"
    assert insights.notice == f"Gemini {said}; showing the offline advisor's findings instead."
    assert [c.outcome for c in calls] == [outcome]


def test_second_identical_call_is_answered_from_the_cache(fake: HTTPServer, tmp_path) -> None:
    q = step_results()["quality"]
    fake.expect_request(GENERATE).respond_with_json(
        gemini_body(quality_answer(q["duplicate_rows"], 6))
    )
    cache = AICache(tmp_path / "signoff.db")
    calls: list[CallRecord] = []
    first = gemini(fake, calls, cache=cache).advise("quality", q)
    second = gemini(fake, calls, cache=AICache(tmp_path / "signoff.db")).advise("quality", q)
    assert len(fake.log) == 1
    assert second.to_dict() == first.to_dict()
    assert [c.outcome for c in calls] == ["ok", "cached"]
    other_model = gemini(fake, [], cache=cache, model="gemini-2.5-pro").advise("quality", q)
    assert other_model.advisor == "gemini" and len(fake.log) == 2


def test_failures_are_not_cached(fake: HTTPServer, tmp_path) -> None:
    fake.expect_oneshot_request(GENERATE).respond_with_json(gemini_body("{not json"))
    fake.expect_oneshot_request(GENERATE).respond_with_json(gemini_body({"findings": []}))
    cache = AICache(tmp_path / "signoff.db")
    ov = step_results()["overview"]
    assert gemini(fake, [], cache=cache).advise("overview", ov).advisor == "offline"
    assert gemini(fake, [], cache=cache).advise("overview", ov).advisor == "gemini"
    assert len(fake.log) == 2


def test_gemini_base_url_from_the_process_environment(fake: HTTPServer, monkeypatch) -> None:
    """The client itself honours GOOGLE_GEMINI_BASE_URL when no base URL is given."""
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", fake.url_for("/"))
    fake.expect_request(GENERATE).respond_with_json(gemini_body({"findings": []}))
    advisor = GeminiAdvisor(KEY, timeout_s=2.0)
    assert advisor.advise("overview", step_results()["overview"]).advisor == "gemini"
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
    advisor = choose_advisor(env, on_call=calls.append)
    assert advisor.name == "gemini" and advisor.model == "gemini-test-model"
    assert "GOOGLE_API_KEY is set" in advisor.description
    advisor.advise("overview", step_results()["overview"])
    ((req, _),) = fake.log
    assert "/models/gemini-test-model:generateContent" in req.path
    assert req.headers["x-server-timeout"] == "3"
    assert calls[0].model == "gemini-test-model"


def test_gemini_recommend_drops_items_built_on_rejected_findings(fake: HTTPServer) -> None:
    results = step_results()
    rejected_id = "abc123def456"
    answer = {
        "action_plan": [
            {
                "title": "Remove duplicates",
                "rationale": f"{results['quality']['duplicate_rows']} rows repeat.",
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
        **results,
        rejected_finding_ids=frozenset({rejected_id}),
        reviewer_feedback=("Focus on revenue columns, please.",),
    )
    recs = gemini(fake, []).recommend(context)
    assert [i.title for i in recs.action_plan] == ["Remove duplicates"]
    assert recs.advisor == "gemini" and recs.feedback_used == ("Focus on revenue columns, please.",)
    assert "Focus on revenue columns, please." in request_bodies(fake)[0]


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
    v1 = advisor.recommend(RecommendContext(**step_results()))
    ids = {i.title: i.id for i in v1.action_plan}
    v2 = advisor.recommend(
        RecommendContext(
            **step_results(),
            previous=v1,
            item_verdicts={ids["Drop spend_copy"]: "reject", ids["Impute visits"]: "edit"},
            item_edits={ids["Impute visits"]: "Impute visits by segment median"},
        )
    )
    assert [i.title for i in v2.action_plan] == [
        "Remove duplicates",
        "Impute visits by segment median",
    ]
    assert v2.version == 2


def test_gemini_recommend_falls_back_to_offline_plan(fake: HTTPServer) -> None:
    fake.expect_request(GENERATE).respond_with_json({"error": {"code": 503}}, status=503)
    context = RecommendContext(**step_results())
    recs = gemini(fake, []).recommend(context)
    assert recs.advisor == "offline"
    assert recs.notice == (
        "Gemini failed with HTTP 503 on all 3 attempts; showing the offline advisor's "
        "recommendations instead."
    )
    assert recs.action_plan == OfflineAdvisor().recommend(context).action_plan


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
    insights, elapsed = timed(lambda: advisor.advise("quality", step_results()["quality"]))
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
    insights, elapsed = timed(lambda: advisor.advise("overview", step_results()["overview"]))
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
    advisor.advise("overview", step_results()["overview"])
    assert waits == [7.0, 7.0]


def test_a_backoff_that_would_pass_the_deadline_is_not_slept(fake: HTTPServer) -> None:
    fake.expect_request(GENERATE).respond_with_json({"error": {"code": 500}}, status=500)
    calls: list[CallRecord] = []
    advisor = gemini(fake, calls, timeout_s=1.0, backoff=lambda n: 5.0, sleep=time.sleep)
    insights, elapsed = timed(lambda: advisor.advise("overview", step_results()["overview"]))
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
    insights, elapsed = timed(lambda: advisor.advise("statistics", step_results()["statistics"]))
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


def ollama(server: HTTPServer, calls: list[CallRecord]) -> OllamaAdvisor:
    return OllamaAdvisor(
        server.url_for("/"), timeout_s=2.0, on_call=calls.append, backoff=lambda n: 0.0
    )


def test_ollama_sends_the_schema_as_format_and_parses_the_answer(fake: HTTPServer) -> None:
    q = step_results()["quality"]
    fake.expect_request("/api/chat", method="POST").respond_with_json(
        ollama_body(quality_answer(q["duplicate_rows"], q["missing_by_column"]["income"]))
    )
    calls: list[CallRecord] = []
    insights = ollama(fake, calls).advise("quality", q)
    assert insights.advisor == "ollama" and insights.notice is None
    sent = json.loads(fake.log[0][0].get_data())
    assert sent["format"]["properties"]["findings"]["type"] == "array"
    assert sent["stream"] is False
    assert_no_cell_values(request_bodies(fake))
    assert (calls[0].input_tokens, calls[0].output_tokens, calls[0].total_tokens) == (200, 40, 240)


def test_ollama_server_errors_fall_back(fake: HTTPServer) -> None:
    fake.expect_request("/api/chat").respond_with_data("overloaded", status=503)
    calls: list[CallRecord] = []
    insights = ollama(fake, calls).advise("overview", step_results()["overview"])
    assert insights.advisor == "offline"
    assert insights.notice is not None and insights.notice.startswith("Ollama failed with HTTP 503")
    assert len(calls) == 3


def test_choose_advisor_prefers_gemini_then_ollama_then_offline() -> None:
    assert choose_advisor({"SIGNOFF_OLLAMA_URL": "http://127.0.0.1:9"}).name == "ollama"
    both = {"GEMINI_API_KEY": KEY, "SIGNOFF_OLLAMA_URL": "http://127.0.0.1:9"}
    assert choose_advisor(both).name == "gemini"
    offline = choose_advisor({"GEMINI_API_KEY": "  "})
    assert offline.name == "offline" and "nothing leaves this machine" in offline.description
