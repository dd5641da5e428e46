"""Mode 3: reference-free scores from sampled responses (semantic entropy + self-consistency)."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

import numpy as np

from faultmap._numeric import within
from faultmap.embedding.base import Embedder
from faultmap.exceptions import LLMError
from faultmap.llm.client import LLMClient
from faultmap.scoring.base import ScoreResult

__all__ = ["EntropyScorer", "sample_entropy_nats", "semantic_entropy_score"]

logger = logging.getLogger("faultmap")


def _class_sizes(sims: np.ndarray, threshold: float) -> list[int]:
    """Sizes of the greedy meaning classes over a cosine matrix: each response joins the
    first class whose first member has cosine >= ``threshold`` with it, else starts one."""
    heads: list[int] = []
    sizes: list[int] = []
    for i in range(len(sims)):
        for c, head in enumerate(heads):
            if sims[i, head] >= threshold:
                sizes[c] += 1
                break
        else:
            heads.append(i)
            sizes.append(1)
    return sizes


def semantic_entropy_score(vectors: np.ndarray, threshold: float) -> tuple[float, float, float]:
    """Score one prompt from unit vectors of its original response (row 0) and samples.

    Responses are grouped into meaning classes greedily: each joins the first class whose
    first member has cosine >= ``threshold`` with it, else starts a class. With class shares
    ``p_c`` over all ``m`` responses, ``H = -sum p_c log p_c / log m`` (0 = all agree,
    1 = all differ). Self-consistency ``C`` is the share of samples with cosine >= ``threshold``
    to the original response. ``score = 0.5 * (1 - H) + 0.5 * C``.

    Returns ``(score, H, C)``.

    Example:
        >>> v = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
        >>> tuple(round(x, 3) for x in semantic_entropy_score(v, 0.8))
        (0.46, 0.579, 0.5)
    """
    m = len(vectors)
    if m < 2:
        raise ValueError("need the original response and at least one sample")
    sims = vectors @ vectors.T
    sizes = _class_sizes(sims, threshold)
    if len(sizes) in (1, m):  # all agree or all differ: exactly 0 or 1
        entropy = 0.0 if len(sizes) == 1 else 1.0
    else:
        # In [0, 1] by arithmetic, but floating point can land an ulp outside (five
        # singletons gave 1.0000000000000002): round-off is clipped, anything more raises.
        p = np.asarray(sizes, dtype=np.float64) / m
        h = float(-(p * np.log(p)).sum() / math.log(m))
        entropy = within(h, 0.0, 1.0, "semantic entropy")
    consistency = float((sims[0, 1:] >= threshold).mean())
    score = within(0.5 * (1.0 - entropy) + 0.5 * consistency, 0.0, 1.0, "entropy score")
    return score, entropy, consistency


def sample_entropy_nats(vectors: np.ndarray, threshold: float) -> float:
    """Entropy in nats of the meaning classes of the sampled responses alone (unit vectors,
    one row per sample), by the greedy rule of :func:`semantic_entropy_score`: faultmap
    0.5.0's ``semantic_entropy``. 0 for one sample.

    Example:
        >>> v = np.array([[1.0, 0.0], [0.0, 1.0]])
        >>> round(sample_entropy_nats(v, 0.8), 4)  # two classes of one: log 2
        0.6931
    """
    sizes = _class_sizes(vectors @ vectors.T, threshold)
    if len(sizes) <= 1:
        return 0.0
    p = np.asarray(sizes, dtype=np.float64) / len(vectors)
    return max(0.0, float(-(p * np.log(p)).sum()))


class EntropyScorer:
    """Sample ``n_samples`` more responses per prompt and score their agreement.

    Sampling goes through :class:`~faultmap.llm.LLMClient` (concurrency limit, timeouts,
    retries). A prompt whose samples all fail is reported in ``unscored_indices`` with a NaN
    score; prompts with at least one sample are scored on what arrived.

    ``metadata["scoring_metadata"]`` has faultmap 0.5.0's keys with 0.5.0's meaning:
    ``n_samples``, ``temperature`` and per prompt ``semantic_entropy`` (in nats, over the
    meaning classes of the sampled responses only), ``normalized_entropy`` (that divided by
    ``log(n_samples)``, clipped to [0, 1]), ``self_consistency`` and ``scores`` (None where a
    prompt was not scored). The entropy the score is computed from counts the original
    response too: it is ``entropy_with_response`` (normalised by the log of the number of
    responses).
    """

    mode = "entropy"

    def __init__(
        self,
        client: LLMClient,
        embedder: Embedder,
        *,
        n_samples: int = 8,
        temperature: float = 1.0,
        consistency_threshold: float = 0.8,
    ) -> None:
        self.client = client
        self.embedder = embedder
        self.n_samples = n_samples
        self.temperature = temperature
        self.consistency_threshold = consistency_threshold

    def score(self, prompts: Sequence[str], responses: Sequence[str]) -> ScoreResult:
        requests = [
            [{"role": "user", "content": p}] for p in prompts for _ in range(self.n_samples)
        ]
        logger.info(
            "Sampling %d responses (%d per prompt) from %s",
            len(requests),
            self.n_samples,
            self.client.config.model,
        )
        replies = self.client.complete_many(requests, temperature=self.temperature)
        samples: list[list[str]] = [[] for _ in prompts]
        errors: dict[int, str] = {}
        for k, reply in enumerate(replies):
            i = k // self.n_samples
            if isinstance(reply, LLMError):
                errors.setdefault(i, str(reply))
            else:
                samples[i].append(reply)
        scored = [i for i, s in enumerate(samples) if s]
        texts = [t for i in scored for t in [responses[i], *samples[i]]]
        vectors = self.embedder.embed(texts, role="document") if texts else np.zeros((0, 1))
        scores = np.full(len(prompts), np.nan)
        entropy = np.full(len(prompts), np.nan)
        consistency = np.full(len(prompts), np.nan)
        offset = 0
        for i in scored:
            m = 1 + len(samples[i])
            scores[i], entropy[i], consistency[i] = semantic_entropy_score(
                vectors[offset : offset + m].astype(np.float64), self.consistency_threshold
            )
            offset += m
        unscored = [i for i in range(len(prompts)) if not samples[i]]
        partial = sum(1 for i in scored if len(samples[i]) < self.n_samples)
        # faultmap 0.5.0's shape and meaning (report.metadata["scoring_metadata"]): entropy in
        # nats over the samples only, normalised by log(n_samples).
        nats = np.full(len(prompts), np.nan)
        offset = 0
        for i in scored:
            m = 1 + len(samples[i])
            nats[i] = sample_entropy_nats(
                vectors[offset + 1 : offset + m].astype(np.float64), self.consistency_threshold
            )
            offset += m
        scale = math.log(self.n_samples) if self.n_samples > 1 else 1.0
        legacy = {
            "n_samples": self.n_samples,
            "temperature": self.temperature,
            "semantic_entropy": _plain_list(nats),
            "self_consistency": _plain_list(consistency),
            "normalized_entropy": _plain_list(np.clip(nats / scale, 0.0, 1.0)),
            "scores": _plain_list(scores),
            "entropy_with_response": _plain_list(entropy),
        }
        meta = {
            "n_samples": self.n_samples,
            "num_unscored": len(unscored),
            "num_partially_sampled": partial,
            "sampling_errors": {str(i): errors[i] for i in sorted(errors)[:20]},
            "semantic_entropy": [None if math.isnan(x) else round(float(x), 6) for x in entropy],
            "self_consistency": [
                None if math.isnan(x) else round(float(x), 6) for x in consistency
            ],
            "scoring_metadata": legacy,
        }
        return ScoreResult(scores, self.mode, unscored_indices=unscored, metadata=meta)


def _plain_list(values: Sequence[float] | np.ndarray) -> list[float | None]:
    """Per-prompt values rounded to 6 places, None where a prompt was not scored."""
    return [None if math.isnan(x) else round(float(x), 6) for x in values]
