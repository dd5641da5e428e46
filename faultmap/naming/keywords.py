"""Offline naming from each slice's distinctive words (class-based TF-IDF)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from faultmap.naming.base import SliceContext, SliceLabel

__all__ = ["KeywordNamer", "distinctive_terms", "keyword_rows"]


def _stratified_sample(labels: np.ndarray, max_docs: int, seed: int = 0) -> np.ndarray:
    """Row indices keeping every class's share (and a few rows of each), deterministically."""
    n = len(labels)
    if n <= max_docs:
        return np.arange(n)
    rng = np.random.default_rng(seed)
    classes = np.unique(labels)
    floor = min(50, max(5, max_docs // (2 * len(classes))))
    keep = []
    for cls in classes:
        rows = np.flatnonzero(labels == cls)
        k = min(len(rows), max(floor, round(len(rows) * max_docs / n)))
        keep.append(rng.choice(rows, size=k, replace=False))
    return np.sort(np.concatenate(keep))


def keyword_rows(labels: np.ndarray, max_docs: int = 5000) -> np.ndarray:
    """The rows whose texts :func:`distinctive_terms` reads for these ``labels`` (all of
    them up to ``max_docs``, else its fixed stratified sample), ascending: a caller that
    streams its texts from files fetches only these.

    Example:
        >>> keyword_rows(np.array([0, 0, 1, 1])).tolist()
        [0, 1, 2, 3]
    """
    return _stratified_sample(np.asarray(labels), max_docs)


def distinctive_terms(
    texts: Sequence[str] | Mapping[int, str],
    labels: np.ndarray,
    *,
    top_k: int = 8,
    max_chars: int = 500,
    max_docs: int = 5000,
) -> dict[int, list[str]]:
    """Top terms of each label against all other labels, by class-based TF-IDF.

    Each label's texts are one document; a term scores ``tf(term, label) * log(1 + A / f(term))``
    with ``tf`` the term's share of the label's words, ``A`` the mean number of words per label
    and ``f`` the term's count over all labels. Noise (-1) takes part as one more class, so
    words common to everything rank low. Unigrams and bigrams, English stop words removed.
    To bound the cost on large inputs, at most ``max_docs`` texts (a fixed stratified sample
    that keeps each label's share, :func:`keyword_rows`) and their first ``max_chars``
    characters are read, so ``texts`` may be a mapping that holds only those rows.

    Example:
        >>> texts = ["tax refund form", "tax filing deadline", "cat food brand", "cat litter"]
        >>> distinctive_terms(texts, np.array([0, 0, 1, 1]), top_k=1)
        {0: ['tax'], 1: ['cat']}
    """
    from sklearn.feature_extraction.text import CountVectorizer

    labels = np.asarray(labels)
    classes = np.unique(labels)
    picked = _stratified_sample(labels, max_docs)
    labels = labels[picked]
    docs = [texts[i][:max_chars] for i in picked]
    vectorizer = CountVectorizer(
        stop_words="english",
        ngram_range=(1, 2),
        token_pattern=r"(?u)\b[^\W\d_][\w'-]*[^\W_]\b",
        lowercase=True,
        min_df=1,
    )
    try:
        counts = vectorizer.fit_transform(docs)
    except ValueError:  # only stop words / no tokens at all
        return {int(c): [] for c in classes}
    vocab = np.asarray(vectorizer.get_feature_names_out())
    rows = np.searchsorted(classes, labels)
    import scipy.sparse as sp

    membership = sp.csr_matrix(
        (np.ones(len(labels)), (rows, np.arange(len(labels)))), shape=(len(classes), len(labels))
    )
    # Kept sparse: a dense (classes x vocabulary) matrix of bigrams took ~0.5 GB at 20k prompts.
    per_class = sp.csr_matrix(membership @ counts, dtype=np.float64)
    totals = np.asarray(per_class.sum(axis=1)).ravel()
    term_totals = np.asarray(per_class.sum(axis=0)).ravel()
    mean_words = totals.mean()
    idf = np.log1p(mean_words / np.maximum(term_totals, 1.0))
    out: dict[int, list[str]] = {}
    for row, cls in enumerate(classes):
        start, end = per_class.indptr[row], per_class.indptr[row + 1]
        if end == start:
            out[int(cls)] = []
            continue
        cols = per_class.indices[start:end]  # only the label's own terms can score above zero
        scores = per_class.data[start:end] / totals[row] * idf[cols]
        order = np.lexsort((vocab[cols], -scores))  # score desc, then alphabetical: deterministic
        chosen: list[str] = []
        for k in order:
            if scores[k] <= 0 or len(chosen) >= top_k:
                break
            term = str(vocab[cols[k]])
            # skip a unigram already inside a chosen bigram and vice versa
            if any(term in c.split() or c in term.split() for c in chosen):
                continue
            chosen.append(term)
        out[int(cls)] = chosen
    return out


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def _describe(ctx: SliceContext, words: str) -> str:
    """The first sentences of a keyword description, worded for the slice's kind."""
    stats = dict(ctx.statistics)
    if ctx.kind == "coverage_gap":
        text = (
            f"{ctx.size} production prompts where the test suite is under-represented, "
            f"characterised by: {words}."
        )
        if "test_prompts_in_region" in stats and "expected_test_prompts_in_region" in stats:
            text += (
                f" {stats['test_prompts_in_region']:.0f} test prompts where "
                f"{stats['expected_test_prompts_in_region']:.1f} were expected."
            )
        if "cosine_mean_distance" in stats:
            mean = stats["cosine_mean_distance"]
            text += f" Mean cosine distance to the nearest test prompt {mean:.2f}."
        return text
    if ctx.kind == "comparison":
        text = f"{ctx.size} prompts characterised by: {words}."
        if "failure_rate_a" in stats and "failure_rate_b" in stats:
            a, b = ctx.model_names if len(ctx.model_names) == 2 else ("model A", "model B")
            text += (
                f" Failure rate {_pct(stats['failure_rate_a'])} for {a} and "
                f"{_pct(stats['failure_rate_b'])} for {b}."
            )
        return text
    return (
        f"{ctx.size} prompts characterised by: {words}. Failure rate "
        f"{_pct(ctx.failure_rate)} against a baseline of {_pct(ctx.baseline_rate)}."
    )


class KeywordNamer:
    """Deterministic names from distinctive words; no network, no model.

    The name joins the top three keywords; names are made unique across the batch by adding
    the next keyword (or a number). The description quotes the slice's words, its numbers
    (worded for its ``kind``) and a member.

    Example:
        >>> ctx = SliceContext(0, 12, 0.75, 0.2, ("date", "yesterday", "format"),
        ...                    ("What was the date yesterday?",), ())
        >>> KeywordNamer().name([ctx])[0].name
        'date / yesterday / format'
    """

    def __init__(self, terms_in_name: int = 3) -> None:
        self.terms_in_name = terms_in_name

    def name(self, slices: Sequence[SliceContext]) -> list[SliceLabel]:
        used: set[str] = set()
        labels = []
        for ctx in slices:
            words = list(ctx.keywords)
            k = self.terms_in_name
            name = " / ".join(words[:k]) or f"slice {ctx.slice_id}"
            while name in used and k < len(words):
                k += 1
                name = " / ".join(words[:k])
            base, n = name, 2
            while name in used:
                name, n = f"{base} ({n})", n + 1
            used.add(name)
            example = ctx.representative_prompts[0] if ctx.representative_prompts else ""
            if len(example) > 120:
                example = example[:117] + "..."
            description = _describe(ctx, ", ".join(words[:6]) or "no distinctive words")
            if example:
                description += f' Typical prompt: "{example}"'
            labels.append(SliceLabel(name=name, description=description, source="keywords"))
        return labels
