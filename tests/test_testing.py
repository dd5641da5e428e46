"""faultmap.testing itself: the fake LLM's scripts, failures and call records, the fake clock
and embedders, and planted data that is deterministic and fails at the rates asked for."""

from __future__ import annotations

import asyncio
import doctest
import json
import subprocess
import sys
from collections import Counter
from typing import Any

import numpy as np
import pytest

import faultmap.testing
from faultmap import ConfigurationError, EmbeddingError, LLMError, SliceAnalyzer
from faultmap.clustering import FixedLabels
from faultmap.embedding import LiteLLMEmbedder
from faultmap.testing import (
    HANG,
    PROMPT_TOPICS,
    FakeAPIError,
    FakeEmbedder,
    FakeEmbedding,
    FakeLLM,
    FakeSleep,
    completion_response,
    fake_llm_client,
    planted_failures,
    planted_prompts,
    planted_vectors,
)

USER = [{"role": "user", "content": "hello there"}]


def ask(fake: FakeLLM, messages: Any = USER, **kwargs: Any) -> Any:
    return asyncio.run(fake(model="m", messages=messages, **kwargs))


def text(response: Any) -> str:
    return response.choices[0].message.content


def test_docstring_examples_run() -> None:
    result = doctest.testmod(faultmap.testing, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 20 and result.failed == 0


def test_import_is_light_and_not_done_by_import_faultmap() -> None:
    code = (
        "import json, sys\n"
        "import faultmap\n"
        "before = 'faultmap.testing' in sys.modules\n"
        "import faultmap.testing\n"
        "heavy = ('torch', 'sentence_transformers', 'litellm', 'sklearn', 'scipy', 'pandas')\n"
        "print(json.dumps([before, sorted({m.split('.')[0] for m in sys.modules} & set(heavy))]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [False, []]


def test_all_names_exist() -> None:
    assert sorted(faultmap.testing.__all__) == sorted(set(faultmap.testing.__all__))
    for name in faultmap.testing.__all__:
        assert hasattr(faultmap.testing, name), name


# -- FakeLLM ------------------------------------------------------------------------------


def test_fixed_reply_is_wrapped_like_litellm_and_counts_words() -> None:
    response = ask(FakeLLM("two words"))
    assert text(response) == "two words"
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (2, 2)


def test_script_plays_in_order_then_the_reply() -> None:
    custom = {"choices": [{"message": {"content": "as a dict"}}]}
    fake = FakeLLM("after", script=["first", custom, FakeAPIError("busy", 503), ValueError])
    assert text(ask(fake)) == "first"
    assert ask(fake) is custom  # anything that is not text or an error is returned as is
    with pytest.raises(FakeAPIError, match="busy") as info:
        ask(fake)
    assert info.value.status_code == 503 and info.value.response.status_code == 503
    with pytest.raises(ValueError):
        ask(fake)  # an exception class is raised too
    assert [text(ask(fake)) for _ in range(3)] == ["after"] * 3
    assert fake.script == []


def test_callable_reply_sees_the_messages_and_may_return_an_error() -> None:
    def reply(messages: list[dict[str, str]]) -> Any:
        content = messages[-1]["content"]
        return RuntimeError(f"no {content}") if "bad" in content else content.upper()

    fake = FakeLLM(reply)
    assert text(ask(fake, [{"role": "user", "content": "good"}])) == "GOOD"
    with pytest.raises(RuntimeError, match="no bad"):
        ask(fake, [{"role": "user", "content": "bad"}])


def test_calls_are_recorded_with_model_messages_and_options() -> None:
    fake = FakeLLM()
    messages = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]
    asyncio.run(fake(model="gpt-x", messages=messages, temperature=0.3, max_tokens=5))
    messages[1]["content"] = "changed later"  # the record is a copy
    (call,) = fake.calls
    assert call.model == "gpt-x"
    assert call.messages[1] == {"role": "user", "content": "hi"}
    assert call.kwargs == {"temperature": 0.3, "max_tokens": 5}
    assert call.prompt == "hi" and fake.prompts == ["hi"]
    assert faultmap.testing.FakeCall("m", [{"role": "system", "content": "s"}], {}).prompt == ""


def test_hang_never_answers() -> None:
    async def main() -> None:
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(FakeLLM(HANG)(model="m", messages=USER), timeout=0.02)

    asyncio.run(main())


def test_max_in_flight_counts_concurrent_calls() -> None:
    fake = FakeLLM()

    async def main() -> None:
        await asyncio.gather(*(fake(model="m", messages=USER) for _ in range(5)))

    asyncio.run(main())
    assert fake.max_in_flight == 5 and fake.in_flight == 0


def test_completion_response_defaults() -> None:
    response = completion_response("a b c")
    assert text(response) == "a b c"
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (0, 3)


# -- fake_llm_client and FakeSleep ------------------------------------------------------


def test_fake_client_runs_the_real_retry_path_on_the_fake_clock() -> None:
    fake = FakeLLM(
        "recovered", script=[FakeAPIError("slow down", 429, headers={"retry-after": "4"})]
    )
    sleep = FakeSleep()
    client = fake_llm_client(fake, sleep=sleep, max_retries=2)
    assert client.complete_many([USER]) == ["recovered"]
    assert sleep.delays == [4.0] and sleep.now == 4.0
    assert len(fake.calls) == 2 and fake.calls[0].model == "fake-model"
    assert fake.calls[0].kwargs["temperature"] == 0.0
    assert client.stats.retries == 1 and client.stats.succeeded == 1


def test_fake_client_failures_become_llm_errors_in_place() -> None:
    client = fake_llm_client(
        lambda messages: FakeAPIError("nope", 400) if messages[0]["content"] == "x" else "fine",
        model="my-model",
    )
    out = client.complete_many([[{"role": "user", "content": c}] for c in ("a", "x", "b")])
    assert out[0] == out[2] == "fine"
    assert isinstance(out[1], LLMError) and "my-model" in str(out[1])


def test_fake_client_with_a_fake_and_a_script_is_a_clear_error() -> None:
    with pytest.raises(ConfigurationError, match="'script' parameter of fake_llm_client"):
        fake_llm_client(FakeLLM(), script=["x"])


def test_slice_analyzer_names_slices_through_the_fake_client() -> None:
    def name_it(messages: list[dict[str, str]]) -> str:
        words = json.loads(messages[1]["content"].split("\n", 1)[1])["distinctive_words"]
        return json.dumps(
            {
                "name": f"About {words[0]}",
                "description": "d",
                "root_cause": "r",
                "remediation": "f",
            }
        )

    data = planted_prompts(120, ("taxes", "baking", "travel"), failing={"baking": 0.7}, seed=3)
    fake = FakeLLM(name_it)
    analyzer = SliceAnalyzer(
        model="any-model",
        llm_client=fake_llm_client(fake),
        clustering_method=FixedLabels(data.groups.tolist()),
        embedding_cache=False,
    )
    report = analyzer.analyze(
        data.prompts, [""] * len(data), scores=data.scores, embeddings=data.vectors
    )
    (top,) = report.slices
    assert set(data.groups[top.sample_indices].tolist()) == {"baking"}
    assert top.name.startswith("About ") and len(fake.calls) == 1


# -- fake embeddings ------------------------------------------------------------------------


def test_fake_embedder_is_deterministic_unit_and_follows_words() -> None:
    emb = FakeEmbedder(dim=24)
    texts = [
        "tax refund deadline",
        "late tax refund",
        "chocolate cake recipe",
        "tax refund deadline",
    ]
    v = emb.embed(texts)
    assert v.dtype == np.float32 and v.shape == (4, 24)
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(v[0], v[3])
    np.testing.assert_array_equal(v, FakeEmbedder(dim=24).embed(texts))  # a fresh instance
    assert v[0] @ v[1] > 0.5 > v[0] @ v[2]
    assert emb.embed([]).shape == (0, 24)
    assert emb.calls == [texts, []] and emb.n_embedded == 4
    assert emb.identity == "fake-bag-of-words:dim=24" != FakeEmbedder(dim=8).identity


def test_fake_embedder_tells_apart_texts_with_the_same_words() -> None:
    a, b = FakeEmbedder().embed(["dog bites man", "man bites dog"])
    assert not np.allclose(a, b)


def test_fake_embedding_through_the_litellm_embedder() -> None:
    fake = FakeEmbedding(dim=5, script=[None, FakeAPIError("Invalid input", 400)], shape="object")
    embedder = LiteLLMEmbedder("emb-model", batch_size=2, embedding_fn=fake)
    out = embedder.embed(["one", "two"])
    raw = np.stack([fake.vector("one"), fake.vector("two")])
    np.testing.assert_allclose(out, raw / np.linalg.norm(raw, axis=1, keepdims=True), rtol=1e-6)
    with pytest.raises(EmbeddingError, match="Invalid input"):
        embedder.embed(["three"])
    assert [(c.model, c.input) for c in fake.calls] == [
        ("emb-model", ["one", "two"]),
        ("emb-model", ["three"]),
    ]


def test_fake_embedding_answers_out_of_order_and_can_drop_a_row() -> None:
    response = asyncio.run(FakeEmbedding(dim=2)(model="m", input=["a", "b", "c"], user="u"))
    assert [d["index"] for d in response["data"]] == [2, 1, 0]
    short = asyncio.run(FakeEmbedding(drop_last=True)(model="m", input=["a", "b"]))
    assert [d["index"] for d in short["data"]] == [0]


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: FakeEmbedding(dim=0), "'dim' parameter of FakeEmbedding"),
        (lambda: FakeEmbedding(shape="list"), "'shape' parameter of FakeEmbedding"),
        (lambda: FakeEmbedder(dim=-1), "'dim' parameter of FakeEmbedder"),
    ],
)
def test_fake_embedder_settings_are_checked(make: Any, match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        make()


# -- planted data ---------------------------------------------------------------------------


def test_planted_vectors_are_deterministic_by_seed() -> None:
    a = planted_vectors(200, 4, 12, failing={1: 0.5}, seed=7)
    b = planted_vectors(200, 4, 12, failing={1: 0.5}, seed=7)
    c = planted_vectors(200, 4, 12, failing={1: 0.5}, seed=8)
    np.testing.assert_array_equal(a.vectors, b.vectors)
    np.testing.assert_array_equal(a.failed, b.failed)
    assert a.prompts == b.prompts
    assert not np.array_equal(a.vectors, c.vectors)
    assert not np.array_equal(a.failed, c.failed)


def test_planted_vectors_shape_groups_and_exact_rates() -> None:
    data = planted_vectors(303, 3, 8, failing={0: 0.6, 2: 0.25}, baseline=0.1, seed=0)
    assert data.vectors.shape == (303, 8) and data.vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(data.vectors, axis=1), 1.0, rtol=1e-6)
    assert data.groups.tolist() == [0] * 101 + [1] * 101 + [2] * 101
    assert data.group_names == [0, 1, 2]
    assert [int(data.failed[data.groups == g].sum()) for g in range(3)] == [61, 10, 25]
    assert data.rate(0) == 0.6 and data.rate(1) == 0.1
    np.testing.assert_array_equal(data.scores, np.where(data.failed, 0.0, 1.0))
    assert len(set(data.prompts)) == len(data) == 303


def test_planted_groups_are_well_separated() -> None:
    data = planted_vectors(150, 3, 16, seed=2)
    sims = data.vectors @ data.vectors.T
    same = data.groups[:, None] == data.groups[None, :]
    assert sims[same].min() > sims[~same].max()


def test_changing_the_rates_does_not_move_the_vectors() -> None:
    a = planted_vectors(90, 3, failing={0: 0.9}, seed=4)
    b = planted_vectors(90, 3, failing={1: 0.2}, seed=4)
    np.testing.assert_array_equal(a.vectors, b.vectors)
    assert a.prompts == b.prompts


def test_group_sizes_and_shuffle_keep_rows_together() -> None:
    blocks = planted_vectors([10, 30, 20], failing={1: 0.5}, seed=5)
    mixed = planted_vectors([10, 30, 20], failing={1: 0.5}, shuffle=True, seed=5)
    assert Counter(blocks.groups.tolist()) == {0: 10, 1: 30, 2: 20}
    assert mixed.groups.tolist() != blocks.groups.tolist()
    # a permutation of the same rows: every (prompt, group, failed, vector) stays together
    rows = {p: (g, f, v.tobytes()) for p, g, f, v in zip(*_columns(blocks), strict=True)}
    assert {p: (g, f, v.tobytes()) for p, g, f, v in zip(*_columns(mixed), strict=True)} == rows


def _columns(data: Any) -> tuple:
    return data.prompts, data.groups.tolist(), data.failed.tolist(), data.vectors


def test_bernoulli_failures_are_near_their_rates() -> None:
    groups = np.repeat(["a", "b"], 5000)
    flags = planted_failures(groups, {"b": 0.3}, baseline=0.05, exact=False, seed=1)
    assert abs(flags[:5000].mean() - 0.05) < 0.015
    assert abs(flags[5000:].mean() - 0.3) < 0.03
    again = planted_failures(groups, {"b": 0.3}, baseline=0.05, exact=False, seed=1)
    np.testing.assert_array_equal(flags, again)


def test_exact_failures_in_interleaved_groups() -> None:
    groups = ["x", "y"] * 50
    flags = planted_failures(groups, {"y": 0.2, "x": 1.0})
    assert flags[0::2].all() and int(flags[1::2].sum()) == 10


def test_planted_prompts_topics_are_distinct_and_deterministic() -> None:
    data = planted_prompts(300, 3, failing={"translation": 0.5}, seed=11)
    assert data.group_names == list(PROMPT_TOPICS[:3])
    assert len(set(data.prompts)) == 300
    assert data.observed_rates() == {"dates": 0.05, "translation": 0.5, "baking": 0.05}
    assert planted_prompts(300, 3, failing={"translation": 0.5}, seed=11).prompts == data.prompts
    assert planted_prompts(300, 3, seed=12).prompts != data.prompts
    pools = {topic: set(faultmap.testing._topic_pool(topic)) for topic in PROMPT_TOPICS[:3]}
    for prompt, topic in zip(data.prompts, data.groups.tolist(), strict=True):
        assert prompt in pools[topic], (topic, prompt)


def test_planted_prompts_repeat_with_a_variant_suffix_past_the_pool() -> None:
    data = planted_prompts([300], ["travel"], seed=0)
    assert len(set(data.prompts)) == 300
    assert sum("(variant 2)" in p for p in data.prompts) == 300 - 256


def test_planted_prompts_with_your_own_topics() -> None:
    topics = {"greetings": ["hi", "hello"], "farewells": ["bye"]}
    data = planted_prompts([3, 2], topics, failing={"farewells": 1.0}, seed=0)
    assert data.groups.tolist() == ["greetings"] * 3 + ["farewells"] * 2
    assert sorted(data.prompts[:2]) == ["hello", "hi"]
    assert data.prompts[2] in {"hi (variant 2)", "hello (variant 2)"}
    assert data.prompts[3:] == ["bye", "bye (variant 2)"]
    assert data.failed.tolist() == [False] * 3 + [True] * 2


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: planted_vectors(10, 3, failing={5: 0.5}), "must name groups of the data"),
        (lambda: planted_vectors(10, 3, failing={0: 1.5}), r"'failing\[0\]' parameter"),
        (lambda: planted_vectors(10, 3, failing=[0.5]), "'failing' parameter"),
        (lambda: planted_vectors(10, 3, baseline=-0.1), "'baseline' parameter"),
        (lambda: planted_vectors(10, 5, dim=4), "'dim' parameter of planted_vectors"),
        (lambda: planted_vectors(2, 3), "'n' parameter of planted_vectors"),
        (lambda: planted_vectors([2, 3], 3), "one size per group"),
        (lambda: planted_vectors(10, seed=-1), "'seed' parameter"),
        (lambda: planted_vectors(10, noise=-1.0), "'noise' parameter"),
        (lambda: planted_prompts(10, 7), "'topics' parameter of planted_prompts"),
        (lambda: planted_prompts(10, ["cooking"]), "'topics' parameter"),
        (lambda: planted_prompts(10, ["dates", "dates"]), "'topics' parameter"),
        (lambda: planted_prompts(10, {"a": []}), "non-empty list"),
        (lambda: planted_failures([[1, 2]], None), "'groups' parameter"),
    ],
)
def test_bad_arguments_are_configuration_errors(call: Any, match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        call()
