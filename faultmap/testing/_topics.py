"""The built-in prompt topics of :func:`~faultmap.testing.planted_prompts` (dates,
translation, baking, taxes, travel, programming; 256 distinct prompts each), and how its
``topics`` argument is read."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from faultmap._validation import Interval, check_param
from faultmap.exceptions import ConfigurationError

__all__ = ["PROMPT_TOPICS", "topic_pool", "topic_pools"]

# Templates x two lists of fillers, 4 x 8 x 8 = 256 distinct prompts per topic.
_TEMPLATES: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "dates": (
        (
            "What was the date {a} days before {b}?",
            "If today is {b}, what day will it be in {a} days?",
            "Which weekday falls {a} days after {b}?",
            "How many days is it from {b} to a date {a} days later on the calendar?",
        ),
        ("three", "five", "seven", "ten", "twelve", "twenty", "thirty", "forty"),
        (
            "New Year's Day",
            "Christmas",
            "March 3rd",
            "the first of June",
            "Halloween",
            "Independence Day",
            "May 9th",
            "the last day of February",
        ),
    ),
    "translation": (
        (
            "Translate '{a}' into {b}.",
            "How do you say '{a}' in {b}?",
            "What is the {b} translation of '{a}'?",
            "Please render the sentence '{a}' in {b}.",
        ),
        (
            "good morning",
            "where is the train station",
            "I would like a coffee",
            "the weather is nice today",
            "thank you very much",
            "my name is Anna",
            "how much does this cost",
            "see you tomorrow",
        ),
        ("French", "German", "Spanish", "Italian", "Portuguese", "Dutch", "Japanese", "Polish"),
    ),
    "baking": (
        (
            "How long should I bake a {a} at {b} degrees?",
            "What can I use instead of eggs in a {a} baked at {b} degrees?",
            "Why did my {a} sink in the middle after baking at {b} degrees?",
            "Give me a recipe for a {a} that bakes at {b} degrees.",
        ),
        (
            "chocolate cake",
            "banana bread",
            "sourdough loaf",
            "lemon tart",
            "batch of cookies",
            "carrot cake",
            "apple pie",
            "cheesecake",
        ),
        ("160", "170", "175", "180", "190", "200", "210", "220"),
    ),
    "taxes": (
        (
            "Can I deduct {a} on my {b} tax return?",
            "When is the deadline to file my {b} taxes if I claim {a}?",
            "How do I report {a} on my {b} income tax return?",
            "Is {a} taxable income on my {b} tax return?",
        ),
        (
            "home office costs",
            "student loan interest",
            "charitable donations",
            "medical expenses",
            "rental property income",
            "freelance income",
            "capital gains",
            "childcare costs",
        ),
        ("2019", "2020", "2021", "2022", "2023", "2024", "state", "federal"),
    ),
    "travel": (
        (
            "Can I bring {a} in my carry-on on a flight to {b}?",
            "How early should I arrive at the airport for a flight to {b} with {a}?",
            "My flight to {b} was cancelled; can I get a refund for {a}?",
            "What is the airline baggage allowance for {a} on flights to {b}?",
        ),
        (
            "a laptop",
            "two suitcases",
            "a guitar",
            "liquids",
            "a stroller",
            "ski equipment",
            "a pet cat",
            "duty-free alcohol",
        ),
        ("London", "Tokyo", "New York", "Sydney", "Paris", "Toronto", "Dubai", "Berlin"),
    ),
    "programming": (
        (
            "How do I {a} in {b}?",
            "Why does my {b} code crash when I try to {a}?",
            "Write a {b} function to {a}.",
            "What is the fastest way to {a} in {b}?",
        ),
        (
            "reverse a linked list",
            "read a CSV file",
            "sort a dictionary by value",
            "parse JSON",
            "remove duplicates from a list",
            "open a network socket",
            "handle exceptions",
            "merge two arrays",
        ),
        ("Python", "JavaScript", "Rust", "Java", "Go", "C++", "Ruby", "TypeScript"),
    ),
}

#: Names of the built-in topics of :func:`planted_prompts`, in their default order.
PROMPT_TOPICS: Final[tuple[str, ...]] = tuple(_TEMPLATES)


def topic_pool(topic: str) -> list[str]:
    templates, first, second = _TEMPLATES[topic]
    return [t.format(a=a, b=b) for t in templates for a in first for b in second]


def topic_pools(owner: str, topics: Any) -> tuple[list[str], list[list[str]]]:
    """The topic names and the prompts of each, read from the ``topics`` argument of
    ``owner``: a number of built-in topics, their names, or a mapping of name to prompts."""
    if isinstance(topics, Mapping):
        names = [str(name) for name in topics]
        pools = [list(prompts) for prompts in topics.values()]
        for name, pool in zip(names, pools, strict=True):
            if not pool or not all(isinstance(p, str) and p.strip() for p in pool):
                raise ConfigurationError(
                    f"The 'topics' parameter of {owner} must map each topic to a non-empty "
                    f"list of non-empty prompts. Got {pool!r:.80} for {name!r}."
                )
        if names:
            return names, pools
    elif isinstance(topics, int) and not isinstance(topics, bool):
        check_param(owner, "topics", topics, Interval(int, 1, len(PROMPT_TOPICS)))
        names = list(PROMPT_TOPICS[:topics])
        return names, [topic_pool(t) for t in names]
    elif isinstance(topics, Sequence) and not isinstance(topics, str):
        names = list(topics)
        unknown = [t for t in names if t not in _TEMPLATES]
        if names and not unknown and len(set(names)) == len(names):
            return names, [topic_pool(t) for t in names]
    raise ConfigurationError(
        f"The 'topics' parameter of {owner} must be an int in [1, {len(PROMPT_TOPICS)}], "
        f"distinct names from {PROMPT_TOPICS!r}, or a mapping of topic to prompts. "
        f"Got {topics!r:.120}."
    )
