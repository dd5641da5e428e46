"""Mode 2: score each response against a reference answer.

Two rules, chosen per row by ``reference_match``:

* **exact** -- ``1.0`` when the response and the reference are the same answer, else ``0.0``.
  Both are normalised (:func:`normalize_answer`: Unicode NFKC, case folded, every run of
  characters other than letters and digits -- spaces, punctuation, ``_``, ``-``, ``/`` --
  made one space, trimmed). They match when the normalised texts are equal, or when both read
  as numbers (:func:`parse_number`: ``"3"``, ``"3.0"``, ``"1,000"``, ``"-2.5"``, or the words
  ``"zero"`` to ``"twenty"`` and ``"thirty"`` to ``"ninety"``) and the numbers are equal.
  So ``"Yes."`` matches ``"yes"``, ``"non-entailment"`` matches ``"Non entailment"``,
  ``"book_restaurant"`` matches ``"book restaurant"``, ``"3"`` matches ``"three"``, and
  ``"08/31/2003"`` matches ``"08-31-2003"`` but not ``"08/31/2074"``.
* **cosine** -- ``max(0, cos(embed(response), embed(reference)))``: 1 for the same meaning,
  0 for unrelated or opposite text.

``"auto"`` (the default) uses the exact rule on a row when both its reference and its
response are *short answers* -- at most :data:`SHORT_ANSWER_WORDS` (4) words after
normalisation (numbers, dates, yes/no, labels, short names) -- and the cosine rule otherwise.
Short answers embed close together whatever they say: with all-MiniLM-L6-v2, "yes" and "no"
have cosine 0.73, "entailment" and "non-entailment" 0.86, two different dates 0.69, so the
cosine rule passes most wrong short answers. ``"exact"`` uses the exact rule on every row,
``"cosine"`` the cosine rule on every row. An empty response scores 0 under both rules.

faultmap 0.5.0 scored every row ``(cos + 1) / 2``, which maps an unrelated answer (cos 0) to
0.5 and so passes it at the default ``failure_threshold`` of 0.5. When the scores here would
judge rows otherwise than that rule, :class:`ReferenceScorer` warns once per run
(:class:`~faultmap.exceptions.CompatibilityWarning`) with the number of such rows.
"""

from __future__ import annotations

import re
import unicodedata
import warnings
from collections.abc import Sequence

import numpy as np

from faultmap._validation import Options, as_text_list, check_param, check_same_length
from faultmap.embedding.base import Embedder
from faultmap.exceptions import CompatibilityWarning
from faultmap.scoring.base import ScoreResult

__all__ = [
    "REFERENCE_MATCHES",
    "SHORT_ANSWER_WORDS",
    "ReferenceScorer",
    "answers_match",
    "is_short_answer",
    "normalize_answer",
    "parse_number",
]

#: The values of ``reference_match``.
REFERENCE_MATCHES = ("auto", "exact", "cosine")

#: A normalised answer of at most this many words is short: ``"auto"`` compares it exactly.
SHORT_ANSWER_WORDS = 4

_NOT_WORD = re.compile(r"[\W_]+")
_NUMBER = re.compile(r"[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d+)?")
_UNITS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty"
)
_TENS = "thirty forty fifty sixty seventy eighty ninety"
_NUMBER_WORDS = {word: value for value, word in enumerate(_UNITS.split(" "))}
_NUMBER_WORDS.update({word: 10 * k for k, word in enumerate(_TENS.split(" "), 3)})


def normalize_answer(text: str) -> str:
    """``text`` as the exact rule compares it: NFKC, case folded, every run of characters
    other than letters and digits made one space, trimmed.

    Example:
        >>> normalize_answer("  Non-Entailment. "), normalize_answer("book_restaurant")
        ('non entailment', 'book restaurant')
    """
    folded = unicodedata.normalize("NFKC", text).casefold()
    return _NOT_WORD.sub(" ", folded).strip()


def parse_number(text: str) -> float | None:
    """The number ``text`` states, or ``None``: digits with an optional sign, thousands
    commas and decimals (surrounding spaces and one trailing period allowed), or one of the
    words zero to twenty and thirty to ninety (any case).

    Example:
        >>> parse_number(" 1,000 "), parse_number("Twelve"), parse_number("3.5.")
        (1000.0, 12.0, 3.5)
        >>> parse_number("3a") is None
        True
    """
    stripped = unicodedata.normalize("NFKC", text).strip()
    if stripped.endswith("."):
        stripped = stripped[:-1].rstrip()
    if any(c.isdigit() for c in stripped) and _NUMBER.fullmatch(stripped):
        return float(stripped.replace(",", ""))
    word = _NUMBER_WORDS.get(stripped.casefold())
    return None if word is None else float(word)


def answers_match(response: str, reference: str) -> bool:
    """The exact rule: the same normalised text, or the same number.

    Example:
        >>> answers_match("Yes.", "yes"), answers_match("3", "three"), answers_match("no", "yes")
        (True, True, False)
    """
    a, b = parse_number(response), parse_number(reference)
    if a is not None and b is not None:
        return a == b
    return normalize_answer(response) == normalize_answer(reference)


def is_short_answer(text: str) -> bool:
    """At most :data:`SHORT_ANSWER_WORDS` words after :func:`normalize_answer` (and not
    empty): the answers ``reference_match="auto"`` compares exactly.

    Example:
        >>> is_short_answer("08/31/2003"), is_short_answer("Got an A on her test")
        (True, False)
    """
    words = normalize_answer(text).split()
    return 0 < len(words) <= SHORT_ANSWER_WORDS


class ReferenceScorer:
    """Score each response against its reference answer (rules in the module docstring).

    ``match`` is ``"auto"`` (exact for short answers, cosine otherwise), ``"exact"`` or
    ``"cosine"``. Only the rows scored by cosine are embedded. ``failure_threshold`` is used
    only to count the rows that faultmap 0.5.0's ``(cos + 1) / 2`` judged otherwise (warned
    about, and in the metadata as ``num_rows_differing_from_050``): the cosine rows whose
    verdict differs, plus the failed exact matches (0.5.0 passed every pair with cosine >= 0
    at ``failure_threshold`` <= 0.5; these pairs are not embedded to check).

    Example:
        >>> from faultmap.embedding import PrecomputedEmbedder
        >>> emb = PrecomputedEmbedder({"yes": [1, 0], "no": [0, 1], "y": [1, 0.1]}, name="toy")
        >>> scorer = ReferenceScorer(["yes", "yes"], emb, match="cosine")
        >>> scorer.score(["q1", "q2"], ["y", "no"]).scores.round(3)
        array([0.995, 0.   ])
        >>> ReferenceScorer(["yes", "yes"], emb).score(["q1", "q2"], ["Yes!", "no"]).scores
        array([1., 0.])
    """

    mode = "reference"

    def __init__(
        self,
        references: Sequence[str],
        embedder: Embedder,
        *,
        match: str = "auto",
        failure_threshold: float = 0.5,
    ) -> None:
        check_param("ReferenceScorer", "match", match, Options(REFERENCE_MATCHES))
        self.references = as_text_list("references", references)
        self.embedder = embedder
        self.match = match
        self.failure_threshold = failure_threshold

    def _exact_rows(self, responses: Sequence[str], answered: list[int]) -> list[int]:
        if self.match == "cosine":
            return []
        if self.match == "exact":
            return answered
        refs = self.references
        return [i for i in answered if is_short_answer(refs[i]) and is_short_answer(responses[i])]

    def score(self, prompts: Sequence[str], responses: Sequence[str]) -> ScoreResult:
        check_same_length(("prompts", prompts), ("references", self.references))
        answered = [i for i, r in enumerate(responses) if r.strip()]
        exact = self._exact_rows(responses, answered)
        scores = np.zeros(len(responses), dtype=np.float64)
        for i in exact:
            scores[i] = float(answers_match(responses[i], self.references[i]))
        meta: dict[str, object] = {
            "num_empty_responses": len(responses) - len(answered),
            "reference_match": self.match,
            "num_exact_match_rows": len(exact),
            "num_cosine_rows": len(answered) - len(exact),
        }
        t = self.failure_threshold
        exact_set = set(exact)
        cosine = [i for i in answered if i not in exact_set]
        differing = 0
        if cosine:
            a = self.embedder.embed([responses[i] for i in cosine], role="document")
            b = self.embedder.embed([self.references[i] for i in cosine], role="document")
            cos = np.einsum("ij,ij->i", a.astype(np.float64), b.astype(np.float64))
            scores[cosine] = np.clip(cos, 0.0, 1.0)
            # faultmap 0.5.0 scored (cos + 1) / 2: count the rows it judged otherwise.
            differing += int(((scores[cosine] < t) != ((np.clip(cos, -1, 1) + 1) / 2 < t)).sum())
        # A failed exact match: (cos + 1) / 2 >= 0.5 for any pair with cos >= 0, so 0.5.0
        # passed it at failure_threshold <= 0.5 (the pair is not embedded to check).
        exact_failed = int((scores[exact] < t).sum()) if exact and t <= 0.5 else 0
        meta["num_rows_differing_from_050"] = differing + exact_failed
        if differing + exact_failed:
            warnings.warn(
                f"Mode 2 (references=) fails {exact_failed} of {len(responses)} rows by "
                "exact match of short answers and judges "
                f"{differing} rows by max(0, cos) otherwise than faultmap 0.5.0, which "
                "scored every row (cos + 1) / 2 and so passed unrelated answers at "
                f"failure_threshold=0.5 (here reference_match={self.match!r}; short: at "
                f"most {SHORT_ANSWER_WORDS} words). See 'Differences from faultmap 0.5.0' in "
                "the README; silence with warnings.filterwarnings('ignore', "
                "category=faultmap.CompatibilityWarning).",
                CompatibilityWarning,
                stacklevel=2,
            )
        return ScoreResult(scores, self.mode, metadata=meta)
