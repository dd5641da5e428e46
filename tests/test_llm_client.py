"""The real LLMClient over a fake async transport and a fake clock: nothing sleeps, no network.

Only the timeout tests spend real time (a few 50 ms waits), since they test ``asyncio.wait_for``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
import traceback
from types import SimpleNamespace
from typing import Any

import pytest

from faultmap.config import LLMConfig
from faultmap.exceptions import LLMError
from faultmap.llm.client import LLMClient, LLMStats, parse_json_object, redact
from faultmap.testing import (
    HANG,
    FakeAPIError,
    FakeLLM,
    FakeSleep,
    completion_response,
    fake_llm_client,
)

MODEL = "fake-model"
MESSAGES = [{"role": "user", "content": "hello"}]
API_KEY = "sk-live-abcdefghijklmnop1234"


def make_client(fake: FakeLLM, **config: Any) -> tuple[LLMClient, FakeSleep]:
    sleep = FakeSleep()
    return fake_llm_client(fake, model=MODEL, sleep=sleep, **config), sleep


def complete_one(client: LLMClient) -> str:
    return asyncio.run(client.acomplete(MESSAGES))


def stats(client: LLMClient) -> dict[str, int]:
    return client.stats.to_dict()


# -- success ----------------------------------------------------------------------------------


def test_success_returns_text_and_counts_tokens() -> None:
    fake = FakeLLM(
        script=[
            completion_response("first", prompt_tokens=11, completion_tokens=5),
            completion_response("second", prompt_tokens=2, completion_tokens=1),
        ]
    )
    client, sleep = make_client(fake, completion_kwargs={"max_tokens": 50})
    assert client.complete_many([MESSAGES, MESSAGES]) == ["first", "second"]
    assert stats(client) == {
        "calls": 2,
        "succeeded": 2,
        "failed": 0,
        "retries": 0,
        "timeouts": 0,
        "prompt_tokens": 13,
        "completion_tokens": 6,
    }
    assert sleep.delays == []
    request = fake.calls[0]
    assert request.model == MODEL
    assert request.messages == MESSAGES
    assert request.kwargs["temperature"] == 0.0
    assert request.kwargs["max_tokens"] == 50


def test_overrides_win_over_config() -> None:
    fake = FakeLLM(script=["x"])
    client, _ = make_client(fake, temperature=0.7, completion_kwargs={"max_tokens": 9})
    asyncio.run(client.acomplete(MESSAGES, temperature=0.0, max_tokens=1))
    assert fake.calls[0].kwargs["temperature"] == 0.0
    assert fake.calls[0].kwargs["max_tokens"] == 1


def test_dict_shaped_response_is_read_and_its_tokens_counted() -> None:
    # _message_text accepts the plain-dict (OpenAI JSON) shape; usage should be read the same way.
    response = {
        "choices": [{"message": {"content": "from a dict"}}],
        "usage": {"prompt_tokens": 4, "completion_tokens": 2},
    }
    client, _ = make_client(FakeLLM(script=[response]))
    assert complete_one(client) == "from a dict"
    assert (client.stats.prompt_tokens, client.stats.completion_tokens) == (4, 2)


@pytest.mark.parametrize(
    "response",
    [SimpleNamespace(choices=[]), {"choices": [{"message": {"content": None}}]}, object()],
    ids=["no choices", "null content", "opaque object"],
)
def test_unusable_reply_shape_is_an_llm_error(response: Any) -> None:
    client, _ = make_client(FakeLLM(script=[response]))
    with pytest.raises(LLMError, match="unusable"):
        complete_one(client)


# -- timeouts and retries ---------------------------------------------------------------------


def test_timeout_is_retried_then_raises_llm_error_naming_it() -> None:
    fake = FakeLLM(HANG)
    client, sleep = make_client(fake, timeout=0.05, max_retries=2)
    started = time.perf_counter()
    with pytest.raises(LLMError) as info:
        complete_one(client)
    elapsed = time.perf_counter() - started
    message = str(info.value)
    assert "TimeoutError" in message and "no answer within 0.05s" in message
    assert MODEL in message
    assert len(fake.calls) == 3
    assert len(sleep.delays) == 2  # back-off went through the injected clock
    assert stats(client) | {"prompt_tokens": 0} == {
        "calls": 3,
        "succeeded": 0,
        "failed": 1,
        "retries": 2,
        "timeouts": 3,
        "prompt_tokens": 0,
        "completion_tokens": 0,
    }
    assert elapsed < 2.0


def test_timeout_then_success() -> None:
    fake = FakeLLM(script=[HANG, "late but fine"])
    client, _ = make_client(fake, timeout=0.05, max_retries=1)
    assert complete_one(client) == "late but fine"
    assert stats(client)["timeouts"] == 1 and stats(client)["retries"] == 1
    assert stats(client)["succeeded"] == 1 and stats(client)["failed"] == 0


def test_429_with_retry_after_header_waits_that_long_then_succeeds() -> None:
    rate_limited = FakeAPIError("Rate limit reached", 429, headers={"retry-after": "3"})
    fake = FakeLLM(script=[rate_limited, "after the wait"])
    client, sleep = make_client(fake, max_retries=3)
    assert complete_one(client) == "after the wait"
    assert sleep.delays == [3.0]
    assert stats(client)["retries"] == 1 and stats(client)["calls"] == 2


@pytest.mark.parametrize(
    "error, expected",
    [
        (FakeAPIError("slow down", 429, headers={"Retry-After": "2"}), 2.0),
        (FakeAPIError("slow down", 429, headers={"retry-after": "500"}), 20.0),  # backoff_max
        (FakeAPIError("slow down", 503, headers={"retry-after": "0"}), 0.0),
    ],
    ids=["capitalised header", "capped at backoff_max", "zero"],
)
def test_retry_after_variants(error: Exception, expected: float) -> None:
    client, sleep = make_client(FakeLLM(script=[error, "ok"]), max_retries=1)
    assert complete_one(client) == "ok"
    assert sleep.delays == [expected]


def test_retry_after_attribute_is_honoured() -> None:
    error = FakeAPIError("slow down", 429)
    error.retry_after = 1.5  # type: ignore[attr-defined]
    client, sleep = make_client(FakeLLM(script=[error, "ok"]), max_retries=1)
    assert complete_one(client) == "ok"
    assert sleep.delays == [1.5]


@pytest.mark.parametrize(
    "error",
    [
        FakeAPIError("Internal server error", 500),
        FakeAPIError("Bad gateway", 502),
        FakeAPIError("Overloaded", 529),
        FakeAPIError("Conflict", 409),
        ConnectionError("connection reset"),
        TimeoutError("read timeout"),
    ],
    ids=["500", "502", "529", "409", "ConnectionError", "TimeoutError"],
)
def test_transient_errors_are_retried_then_succeed(error: Exception) -> None:
    fake = FakeLLM(script=[error, "recovered"])
    client, sleep = make_client(fake, max_retries=2, backoff_base=0.5)
    assert complete_one(client) == "recovered"
    assert len(sleep.delays) == 1 and 0.0 <= sleep.delays[0] <= 0.5
    assert stats(client)["retries"] == 1
    assert stats(client)["succeeded"] == 1 and stats(client)["failed"] == 0


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_client_errors_are_not_retried(status: int) -> None:
    fake = FakeLLM(
        script=[FakeAPIError(f"Bad request: context length exceeded ({status})", status)]
    )
    client, sleep = make_client(fake, max_retries=3)
    with pytest.raises(LLMError, match=r"context length exceeded") as info:
        complete_one(client)
    assert "FakeAPIError" in str(info.value)
    assert len(fake.calls) == 1
    assert sleep.delays == []
    assert stats(client)["calls"] == 1 and stats(client)["retries"] == 0
    assert stats(client)["failed"] == 1


def test_exhausting_retries_raises_llm_error_with_exponential_jittered_backoff() -> None:
    fake = FakeLLM(FakeAPIError("Service unavailable", 503))
    client, sleep = make_client(fake, max_retries=4, backoff_base=0.5, backoff_max=3.0)
    with pytest.raises(LLMError, match=r"Service unavailable"):
        complete_one(client)
    assert len(fake.calls) == 5
    assert stats(client)["calls"] == 5
    assert stats(client)["retries"] == 4
    assert stats(client)["failed"] == 1 and stats(client)["succeeded"] == 0
    assert len(sleep.delays) == 4
    for attempt, delay in enumerate(sleep.delays):
        assert 0.0 <= delay <= min(3.0, 0.5 * 2**attempt)


def test_backoff_jitter_is_reproducible_with_the_same_rng() -> None:
    def delays(seed: int) -> list[float]:
        sleep = FakeSleep()
        client = LLMClient(
            LLMConfig(model=MODEL, max_retries=3),
            completion_fn=FakeLLM(FakeAPIError("down", 500)),
            sleep=sleep,
            rng=random.Random(seed),
        )
        with pytest.raises(LLMError):
            complete_one(client)
        return sleep.delays

    assert delays(1) == delays(1)
    assert delays(1) != delays(2)


def test_max_retries_zero_means_one_attempt() -> None:
    fake = FakeLLM(FakeAPIError("down", 500))
    client, sleep = make_client(fake, max_retries=0)
    with pytest.raises(LLMError):
        complete_one(client)
    assert len(fake.calls) == 1 and sleep.delays == []


# -- secrets never leak ----------------------------------------------------------------------


def _leaks(text: str, secret: str) -> bool:
    return secret in text or secret[-12:] in text


@pytest.mark.parametrize("status", [401, 500])
def test_api_key_in_provider_message_never_reaches_error_or_logs(
    status: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    error = FakeAPIError(
        f"Incorrect API key provided: {API_KEY}. You can find your key at ...", status
    )
    fake = FakeLLM(error)
    client, _ = make_client(fake, max_retries=2)
    with pytest.raises(LLMError) as info:
        complete_one(client)
    err = info.value
    assert "Incorrect API key provided" in str(err)
    assert "[REDACTED]" in str(err)
    assert not _leaks(str(err), API_KEY)
    assert not _leaks(repr(err), API_KEY)
    assert err.__cause__ is None
    assert not _leaks("".join(traceback.format_exception(err)), API_KEY)
    assert not _leaks(caplog.text, API_KEY)
    for record in caplog.records:
        assert not _leaks(record.getMessage(), API_KEY)


def test_api_key_from_the_environment_is_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "Zq8x3LmN0pQr7StU1vWx4YzA"  # no recognisable prefix
    monkeypatch.setenv("MISTRAL_API_KEY", secret)
    client, _ = make_client(FakeLLM(script=[FakeAPIError(f"Unauthorized key {secret}", 401)]))
    with pytest.raises(LLMError) as info:
        complete_one(client)
    assert not _leaks(str(info.value), secret)


def test_api_key_passed_in_completion_kwargs_is_redacted() -> None:
    # A key the client itself sends (completion_kwargs={"api_key": ...}) is known to it, so it
    # must never come back in an error, whatever its format.
    secret = "Zq8x3LmN0pQr7StU1vWx4YzA"
    error = FakeAPIError(f"Incorrect API key provided: {secret}", 401)
    client, _ = make_client(FakeLLM(script=[error]), completion_kwargs={"api_key": secret})
    with pytest.raises(LLMError) as info:
        complete_one(client)
    assert not _leaks(str(info.value), secret)


@pytest.mark.parametrize(
    "text, secret",
    [
        ("Incorrect API key provided: sk-abcdefghijklmnop", "sk-abcdefghijklmnop"),
        ("auth failed for sk-proj-AbC123_def-456ghijk", "sk-proj-AbC123_def-456ghijk"),
        ("header Authorization: Bearer eyJhbGciOi.J9xyz12345", "eyJhbGciOi.J9xyz12345"),
        ('{"api_key": "abcd1234efgh5678"}', "abcd1234efgh5678"),
        ("token=ghp_0123456789abcdef", "ghp_0123456789abcdef"),
    ],
)
def test_redact_patterns(text: str, secret: str) -> None:
    out = redact(text)
    assert secret not in out
    assert "[REDACTED]" in out


def test_redact_leaves_ordinary_text_alone() -> None:
    text = "Rate limit reached for gpt-4o-mini in organization org on tokens per min."
    assert redact(text) == text


# -- batches, event loops, concurrency --------------------------------------------------------


def test_one_failure_in_a_batch_loses_nothing_else() -> None:
    fake = FakeLLM(script=["a", FakeAPIError("bad", 400), "c"])
    client, _ = make_client(fake, max_concurrent_requests=1)
    out = client.complete_many([MESSAGES] * 3)
    assert out[0] == "a" and out[2] == "c"
    assert isinstance(out[1], LLMError)
    assert stats(client)["succeeded"] == 2 and stats(client)["failed"] == 1


def test_complete_many_from_plain_sync_code() -> None:
    client, _ = make_client(FakeLLM("sync"))
    assert client.complete_many([MESSAGES] * 4) == ["sync"] * 4


def test_complete_many_inside_a_running_event_loop() -> None:
    # As in Jupyter: a loop is already running in this thread when the sync API is called.
    client, _ = make_client(FakeLLM("from inside"))

    async def notebook_cell() -> list:
        asyncio.get_running_loop()  # a loop is running here
        return client.complete_many([MESSAGES] * 3)

    assert asyncio.run(notebook_cell()) == ["from inside"] * 3
    assert stats(client)["succeeded"] == 3


def test_complete_many_empty_batch() -> None:
    client, _ = make_client(FakeLLM())
    assert client.complete_many([]) == []


@pytest.mark.parametrize("limit", [1, 3, 8])
def test_concurrency_never_exceeds_max_concurrent_requests(limit: int) -> None:
    fake = FakeLLM("x")
    client, _ = make_client(fake, max_concurrent_requests=limit)
    assert client.complete_many([MESSAGES] * 25) == ["x"] * 25
    assert fake.max_in_flight == limit  # bounded, and the bound is actually used


def test_concurrency_bound_holds_across_retries() -> None:
    errors = [FakeAPIError("busy", 503) for _ in range(10)]
    fake = FakeLLM("x", script=errors)
    client, _ = make_client(fake, max_concurrent_requests=2, max_retries=5)
    assert client.complete_many([MESSAGES] * 10) == ["x"] * 10
    assert fake.max_in_flight <= 2


def test_circuit_breaker_stops_calling_a_dead_provider() -> None:
    fake = FakeLLM(FakeAPIError("Bad request", 400))
    sleep = FakeSleep()
    client = LLMClient(
        LLMConfig(model=MODEL, max_concurrent_requests=1),
        completion_fn=fake,
        sleep=sleep,
        circuit_breaker=4,
    )
    out = client.complete_many([MESSAGES] * 10)
    assert all(isinstance(o, LLMError) for o in out)
    assert len(fake.calls) == 4
    assert "treated as down" in str(out[-1])
    assert stats(client)["failed"] == 10


def test_stats_to_dict_is_plain() -> None:
    assert LLMStats().to_dict() == {
        "calls": 0,
        "succeeded": 0,
        "failed": 0,
        "retries": 0,
        "timeouts": 0,
        "prompt_tokens": 0,
        "completion_tokens": 0,
    }


# -- parse_json_object -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ('{"name": "Dates"}', {"name": "Dates"}),
        ('```json\n{"name": "Dates"}\n```', {"name": "Dates"}),
        ('```\n{"name": "Dates"}\n```', {"name": "Dates"}),
        ('Sure! Here it is:\n```json\n{"name": "Dates"}\n```\nHope it helps.', {"name": "Dates"}),
        ('Here is the answer: {"name": "Dates", "n": 2} as requested.', {"name": "Dates", "n": 2}),
        (
            '{"outer": {"inner": [1, {"deep": true}]}, "s": "a } brace"}',
            {"outer": {"inner": [1, {"deep": True}]}, "s": "a } brace"},
        ),
        ('[1, 2] then {"name": "obj"}', {"name": "obj"}),
        ('bad {not json} then {"name": "good"}', {"name": "good"}),
        ('```python\nx = {1: 2}\n```\n{"name": "after fence"}', {"name": "after fence"}),
        ('{"name": "naïve — ünïcode ✓"}', {"name": "naïve — ünïcode ✓"}),
    ],
    ids=[
        "bare",
        "fenced json",
        "fenced plain",
        "fenced in prose",
        "prose",
        "nested",
        "array first",
        "bad brace first",
        "non-json fence",
        "unicode",
    ],
)
def test_parse_json_object(text: str, expected: dict) -> None:
    assert parse_json_object(text) == expected


@pytest.mark.parametrize(
    "text", ["", "no json here", "[1, 2, 3]", '"just a string"', "{broken: json", "```json\n```"]
)
def test_parse_json_object_without_an_object_raises_value_error(text: str) -> None:
    with pytest.raises(ValueError, match="no JSON object"):
        parse_json_object(text)


@pytest.mark.parametrize(
    "text",
    ["x" * 1_000_000, "{" * 1_000_000, "```" * 333_334, '{"a": 1' * 150_000],
    ids=["letters", "open braces", "fences", "unterminated objects"],
)
def test_parse_json_object_on_a_megabyte_is_fast(text: str) -> None:
    started = time.perf_counter()
    with pytest.raises(ValueError):
        parse_json_object(text)
    assert time.perf_counter() - started < 1.0


def test_parse_json_object_finds_an_object_after_a_megabyte_quickly_or_gives_up() -> None:
    text = "x" * 1_000_000 + '{"name": "late"}'
    started = time.perf_counter()
    with contextlib.suppress(ValueError):  # giving up on a huge reply is fine; hanging is not
        assert parse_json_object(text) == {"name": "late"}
    assert time.perf_counter() - started < 1.0


@pytest.mark.parametrize(
    "text",
    ['{"a": ' * 100_000, '{"a": [' * 100_000, '{"a": ' * 100_000 + '{"name": 1}'],
    ids=["nested objects", "nested arrays", "nested then valid"],
)
def test_parse_json_object_deep_nesting_raises_value_error_not_recursion_error(text: str) -> None:
    # The documented contract is ValueError; json's C scanner raises RecursionError on depth.
    try:
        result = parse_json_object(text)
    except ValueError:
        return
    assert isinstance(result, dict)


# -- litellm's own code path (mock_response: no network) -------------------------------------


def test_through_litellm_with_mock_response(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    reply = json.dumps({"name": "Date arithmetic", "description": "Questions about dates."})
    client = LLMClient(
        LLMConfig(model="gpt-4o-mini", max_retries=0, completion_kwargs={"mock_response": reply})
    )
    out = client.complete_many([MESSAGES, MESSAGES])
    assert out == [reply, reply]
    assert parse_json_object(out[0])["name"] == "Date arithmetic"
    assert client.stats.succeeded == 2 and client.stats.failed == 0
    assert client.stats.prompt_tokens > 0 and client.stats.completion_tokens > 0
