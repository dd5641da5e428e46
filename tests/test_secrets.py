"""Credentials are redacted by value everywhere faultmap writes (issue 14, point 2): model
identities, report JSON, HTML and text, log records and exception messages, whatever the
key looks like."""

from __future__ import annotations

import json
import logging
import traceback
from types import SimpleNamespace

import numpy as np
import pytest

from faultmap import EmbeddingError, LLMError, SliceAnalyzer
from faultmap._secrets import is_credential_name, mask_credentials, redact, secret_values
from faultmap.embedding import LiteLLMEmbedder
from faultmap.testing import FakeAPIError, FakeEmbedding, FakeLLM, fake_llm_client

EMBED_KEY = "abc123-not-a-known-prefix-XYZ"  # no sk-/Bearer shape: only its value tells
LLM_KEY = "q7Rt9wUy2eIo-also-no-prefix"
ENV_KEY = "Zq8x3LmN0pQr7StU1vWx4YzA"
KEYS = (EMBED_KEY, LLM_KEY, ENV_KEY)
N = 24
PROMPTS = [f"question {i} about {'tax refunds' if i % 2 else 'cake recipes'}" for i in range(N)]


def _leaked(text: str) -> list[str]:
    return [key for key in KEYS if key in text or json.dumps(key)[1:-1] in text]


@pytest.fixture
def provider(monkeypatch):
    """litellm replaced by fakes: an embedding endpoint (FakeEmbedding) the analyzer reaches
    through ``embedding_model="litellm:..."`` as it would reach the real one."""
    fake = FakeEmbedding(dim=16)
    monkeypatch.setattr(
        "faultmap.llm.client.import_litellm", lambda: SimpleNamespace(aembedding=fake)
    )
    return fake


def _analyzer(**options):
    return SliceAnalyzer(
        embedding_model="litellm:fake-embed",
        embedding_usage_kwargs={
            "query": {"api_key": EMBED_KEY, "api_base": "https://embed.example/v1"}
        },
        embedding_cache=False,
        min_slice_size=4,
        **options,
    )


def test_key_in_embedding_usage_kwargs_is_in_no_report_view(provider, caplog, tmp_path):
    caplog.set_level(logging.DEBUG, logger="faultmap")
    report = _analyzer().analyze(PROMPTS, ["r"] * N, scores=[0.9, 0.1] * (N // 2))
    assert provider.calls and provider.calls[0].kwargs["api_key"] == EMBED_KEY  # it was sent
    assert "[REDACTED]" in report.embedding_model
    assert "https://embed.example/v1" in report.embedding_model  # the rest of the identity
    for text in (
        report.embedding_model,
        report.to_json(),
        report.to_html(),
        report._repr_html_(),
        str(report),
        repr(report),
        caplog.text,
    ):
        assert not _leaked(text)
    report.to_json(tmp_path / "r.json")
    report.to_html(tmp_path / "r.html")
    for path in (tmp_path / "r.json", tmp_path / "r.html"):
        assert not _leaked(path.read_text(encoding="utf-8"))


def test_key_in_embedding_request_kwargs_is_sent_but_never_shown(provider, caplog):
    caplog.set_level(logging.DEBUG, logger="faultmap")
    analyzer = SliceAnalyzer(
        embedding_model="litellm:fake-embed",
        embedding_request_kwargs={"api_key": EMBED_KEY, "dimensions": 16},
        embedding_cache=False,
        min_slice_size=4,
    )
    report = analyzer.analyze(PROMPTS, ["r"] * N, scores=[0.9, 0.1] * (N // 2))
    assert provider.calls[0].kwargs["api_key"] == EMBED_KEY  # it was sent
    assert "[REDACTED]" in report.embedding_model and "dimensions" in report.embedding_model
    for text in (report.embedding_model, report.to_json(), report.to_html(), caplog.text):
        assert not _leaked(text)


def test_key_echoed_by_a_failing_embedding_server_is_redacted(provider, caplog):
    caplog.set_level(logging.DEBUG, logger="faultmap")
    provider.script = [FakeAPIError(f"401 Unauthorized: invalid api key '{EMBED_KEY}'", 401)]
    with pytest.raises(EmbeddingError) as info:
        _analyzer(llm_max_retries=0).analyze(PROMPTS, ["r"] * N, scores=[0.5] * N)
    assert "401 Unauthorized" in str(info.value)
    assert not _leaked(str(info.value))
    assert not _leaked("".join(traceback.format_exception(info.value)))
    assert not _leaked(caplog.text)


def test_key_echoed_to_a_custom_embedder_error_is_redacted():
    """An embedder of the user's raises with the key; faultmap wraps it, key gone, cause
    dropped (its message holds the key)."""

    class Leaky:
        identity = "leaky"

        def embed(self, texts, *, role="query"):
            raise RuntimeError(f"auth failed for token {EMBED_KEY}")

    analyzer = SliceAnalyzer(
        embedding_model=Leaky(),
        embedding_usage_kwargs={"query": {"token": EMBED_KEY}},
        embedding_cache=False,
        min_slice_size=4,
    )
    with pytest.raises(EmbeddingError) as info:
        analyzer.analyze(PROMPTS, ["r"] * N, scores=[0.5] * N)
    assert "auth failed" in str(info.value)
    assert not _leaked("".join(traceback.format_exception(info.value)))


def test_nested_llm_credentials_are_redacted_from_errors_logs_and_report(caplog):
    """A bearer token in extra_headers: the namer's provider echoes it in its 401."""
    caplog.set_level(logging.DEBUG, logger="faultmap")
    fake = FakeLLM(FakeAPIError(f"401: bad credentials Bearer {LLM_KEY}", 401))
    client = fake_llm_client(fake, max_retries=0)
    analyzer = SliceAnalyzer(
        model="fake-model",
        llm_client=client,
        llm_completion_kwargs={"extra_headers": {"Authorization": f"Bearer {LLM_KEY}"}},
        embedding_cache=False,
        min_slice_size=4,
        clustering_method="agglomerative",
    )
    rng = np.random.default_rng(0)
    vectors = np.repeat(np.eye(4), N // 4, axis=0) + 0.01 * rng.normal(size=(N, 4))
    scores = np.where(np.arange(N) < N // 4, 0.0, 1.0)  # the first cluster fails
    report = analyzer.analyze(PROMPTS, ["r"] * N, scores=scores, embeddings=vectors)
    assert fake.calls, "the namer asked the provider"
    for text in (report.to_json(), report.to_html(), str(report), caplog.text):
        assert not _leaked(text)
    (error,) = client.complete_many([[{"role": "user", "content": "hi"}]])
    assert isinstance(error, LLMError)
    assert "401" in str(error) and not _leaked(str(error))


def test_environment_credential_is_redacted_from_logs_and_errors(monkeypatch, caplog):
    monkeypatch.setenv("ACME_EMBEDDINGS_API_KEY", ENV_KEY)
    caplog.set_level(logging.DEBUG, logger="faultmap")
    logging.getLogger("faultmap").warning("provider said: key %s rejected", ENV_KEY)
    assert "[REDACTED]" in caplog.text and not _leaked(caplog.text)
    embedder = LiteLLMEmbedder(
        "fake-embed",
        embedding_fn=FakeEmbedding(script=[FakeAPIError(f"denied: {ENV_KEY}", 403)]),
        max_retries=0,
    )
    with pytest.raises(EmbeddingError) as info:
        embedder.embed(["hello"])
    assert not _leaked(str(info.value))


def test_ordinary_environment_settings_are_not_taken_for_credentials(monkeypatch):
    """Only secret-looking values are taken from the environment, so a setting that happens
    to have a credential-like name never blanks ordinary words out of a report."""
    monkeypatch.setenv("AUTH_MODE", "disabled")
    monkeypatch.setenv("SSH_AUTH_SOCK", "/tmp/agent socket")
    monkeypatch.setenv("ACME_TOKEN", ENV_KEY)
    text = "auth disabled on /tmp/agent socket; token " + ENV_KEY
    assert redact(text) == "auth disabled on /tmp/agent socket; token [REDACTED]"


def test_cli_error_line_never_shows_a_credential(monkeypatch, capsys):
    from faultmap.cli import _one_line

    monkeypatch.setenv("ACME_TOKEN", ENV_KEY)
    assert not _leaked(_one_line(RuntimeError(f"boom {ENV_KEY}")))


@pytest.mark.parametrize(
    "name, credential",
    [
        ("api_key", True),
        ("x-api-key", True),
        ("Authorization", True),
        ("aws_secret_access_key", True),
        ("HF_TOKEN", True),
        ("apiKey", True),
        ("max_tokens", False),
        ("api_base", False),
        ("input_type", False),
        ("TOKENIZERS_PARALLELISM", False),
        ("keywords", False),
    ],
)
def test_credential_names(name, credential):
    assert is_credential_name(name) is credential


def test_secret_values_walk_nested_settings_and_urls():
    found = secret_values(
        {
            "query": {"api_key": "key-value-1", "input_type": "query"},
            "extra_headers": {"Authorization": "Bearer tok-abcdef"},
            "api_base": "https://user:pa55word-x@host/v1?key=query-secret-1&model=m",
            "max_tokens": 1_000_000,
            "short": {"token": "abc"},
        }
    )
    assert found == {
        "key-value-1",
        "Bearer tok-abcdef",
        "tok-abcdef",
        "pa55word-x",
        "query-secret-1",
    }
    masked = mask_credentials({"query": {"api_key": "key-value-1", "input_type": "query"}})
    assert masked == {"query": {"api_key": "[REDACTED]", "input_type": "query"}}


def test_redact_catches_escaped_forms():
    key = 'odd"key&<value>-123'
    text = json.dumps({"k": key}) + " " + "odd&quot;key&amp;&lt;value&gt;-123"
    assert key not in redact(text, [key])
    assert "&quot;key&amp;" not in redact(text, [key])
    assert redact("nothing secret here") == "nothing secret here"
