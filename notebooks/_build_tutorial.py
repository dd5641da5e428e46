"""Write notebooks/tutorial.ipynb from the cells below (outputs cleared, stable cell ids).

Run from the repository root: ``.venv/bin/python notebooks/_build_tutorial.py``. Edit the
cells here, not in the .ipynb, so the notebook stays reviewable as plain text.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

CELLS: list[tuple[str, str]] = [
    (
        "md",
        """\
# faultmap tutorial: every mode, coverage and comparison

This notebook walks through what faultmap can do, on 400 real prompts from the bundled
BIG-bench sample (12 tasks, simulated responses and scores). Everything runs on this machine:
the prompts are embedded by the local all-MiniLM-L6-v2 model and every language-model call
goes to a fake, so no API key and no network are needed. It takes about a minute on two CPU
cores, most of it embedding; embeddings are cached on disk, so a second run is faster.

1. Mode 1: your own scores
2. Mode 2: scores from reference answers
3. Mode 3: no scores, sampled answers from a (fake) model
4. Names, root causes and fixes from a (fake) LLM, and the keyword fallback
5. Coverage audit: what is the test set missing?
6. Comparing two models, overall and slice by slice""",
    ),
    (
        "code",
        """\
import json
import random
from collections import Counter
from pathlib import Path

import numpy as np

import faultmap
from faultmap import SliceAnalyzer

root = Path.cwd() if (Path.cwd() / 'examples').exists() else Path.cwd().parent
lines = (root / 'examples/data/bigbench_sample.jsonl').read_text(encoding='utf-8').splitlines()
rows = [json.loads(line) for line in lines]
sample = rows[:400]
prompts = [r['prompt'] for r in sample]
responses = [r['response'] for r in sample]
scores = [r['score'] for r in sample]
tasks = [r['task'] for r in sample]  # faultmap never sees these; we use them to check its answers
print(f'faultmap {faultmap.__version__}: {len(prompts)} prompts from {len(set(tasks))} tasks')
print(prompts[4], '->', responses[4], f'(score {scores[4]})')""",
    ),
    (
        "md",
        """\
## 1. Mode 1: precomputed scores

The usual case: you already have a quality score in [0, 1] for every (prompt, response) row,
higher is better (an LLM judge, a metric, human labels). A row *fails* when its score is below
`failure_threshold` (0.5). faultmap embeds the prompts, clusters them, and tests each cluster
of at least `min_slice_size` prompts: does it fail more often than the rest of the data?
Clusters that pass the test after the Benjamini–Hochberg correction are the *slices*.""",
    ),
    (
        "code",
        """\
analyzer = SliceAnalyzer(min_slice_size=15)
report = analyzer.analyze(prompts, responses, scores=scores)
print(report)""",
    ),
    (
        "md",
        """\
Each slice carries its counts, its interval and its p-values, and `sample_indices` points back
to the rows of your input. Since this data has task labels, we can check what the most
significant slice is made of.""",
    ),
    (
        "code",
        """\
top = report.slices[0]
low, high = top.confidence_interval
print(f'{top.name!r}  keywords: {top.keywords}')
print(f'{top.size} prompts, {top.num_failures} failures: {top.failure_rate:.0%} '
      f'(95% CI {low:.0%}-{high:.0%}) against {top.rest_failure_rate:.0%} in the rest')
print(f'{top.effect_size:.1f}x the baseline rate, p = {top.p_value:.1e}, '
      f'BH-adjusted p = {top.adjusted_p_value:.1e} ({top.test_used})')
print('tasks in this slice:', Counter(tasks[i] for i in top.sample_indices).most_common(3))
print('an example:', top.examples[0])""",
    ),
    (
        "md",
        """\
A report is plain data. `to_dict()` gives JSON types only, `to_json()` writes a file, and
`AnalysisReport.from_json()` reads it back (no pickle). `clusters` keeps every tested cluster,
significant or not, so the multiple-testing correction can be redone from the file.""",
    ),
    (
        "code",
        """\
data = report.to_dict()
print(sorted(data))
report.to_json('tutorial_report.json')
again = faultmap.AnalysisReport.from_json('tutorial_report.json')
assert again.to_dict() == data
print(len(data['clusters']), 'tested clusters, for example', data['clusters'][0])""",
    ),
    (
        "md",
        """\
In a notebook, a report on its own at the end of a cell shows as an HTML table (prompt text is
escaped, so a prompt cannot inject markup).""",
    ),
    ("code", "report"),
    (
        "md",
        """\
## 2. Mode 2: reference answers

No scores, but a reference answer for each prompt: the score of a row is the cosine similarity
of the response and the reference, embedded by the same model (negative values count as 0,
an empty response scores 0). Cosine similarity suits free-text answers; with one-word
answers it is lenient, since "yes" and "no" are close in embedding space. This sample has
short answers, so we raise `failure_threshold` to 0.95 (close to an exact match) and check
how often mode 2 agrees with the scores of mode 1.""",
    ),
    (
        "code",
        """\
references = [r['reference'] for r in sample]
ref_analyzer = SliceAnalyzer(min_slice_size=15, failure_threshold=0.95)
ref_report = ref_analyzer.analyze(prompts, responses, references=references)
print(ref_report.scoring_mode, f'baseline failure rate {ref_report.baseline_failure_rate:.1%}')

for s in ref_report.slices:
    print(f'  {s.name:40s} n={s.size:3d}  fails {s.failure_rate:.0%}  '
          f'adj. p = {s.adjusted_p_value:.1e}')
in_slices_1 = {i for s in report.slices for i in s.sample_indices}
in_slices_2 = {i for s in ref_report.slices for i in s.sample_indices}
print(f'{len(in_slices_1 & in_slices_2)} prompts are in a slice in both modes, '
      f'{len(in_slices_1 ^ in_slices_2)} in only one')""",
    ),
    (
        "md",
        """\
## 3. Mode 3: no scores at all

With neither scores nor references, faultmap asks the model again: it samples `n_samples`
more answers per prompt and scores how much they agree. A model that gives the same answer
every time scores near 1; one that says something different each time scores near 0 (the
score mixes the normalised semantic entropy of the answers and the share of samples that agree
with the original response).

A real run sends the prompts to `SliceAnalyzer(model='gpt-4o-mini')` through litellm. Here a
fake model stands in: an async function with litellm's `acompletion` signature, given to an
`LLMClient`. It repeats the original answer on most tasks, but answers date and navigation
questions at random, the way an unsure model would. (litellm's own test hook works too:
`SliceAnalyzer(model='gpt-4o-mini', llm_completion_kwargs={'mock_response': 'yes'})` returns
the same text for every call.)""",
    ),
    (
        "code",
        """\
from faultmap import LLMConfig
from faultmap.llm import LLMClient
from faultmap.naming import KeywordNamer

answer_of = dict(zip(prompts, responses))
unsure = {r['prompt'] for r in sample if r['task'] in ('date_understanding', 'navigate')}
pool = sorted({r['response'] for r in rows})
rng = random.Random(0)


async def fake_completion(model, messages, **kwargs):
    prompt = messages[-1]['content']
    text = rng.choice(pool) if prompt in unsure else answer_of[prompt]
    return {'choices': [{'message': {'content': text}}],
            'usage': {'prompt_tokens': len(prompt.split()), 'completion_tokens': len(text.split())}}


client = LLMClient(LLMConfig(model='fake-sampler'), completion_fn=fake_completion)
# Keyword names (this fake only samples), and smaller slices for half as many prompts.
sampling_analyzer = SliceAnalyzer(min_slice_size=10, n_samples=5, llm_client=client,
                                  namer=KeywordNamer())
rows_3 = list(range(0, len(prompts), 2))  # every other prompt: 200 prompts x 5 samples
sampled = sampling_analyzer.analyze([prompts[i] for i in rows_3], [responses[i] for i in rows_3])
print(sampled.scoring_mode, sampled.metadata['llm'])
for s in sampled.slices:
    members = Counter(tasks[rows_3[i]] for i in s.sample_indices).most_common(2)
    print(f'  {s.name:40s} n={s.size:3d}  fails {s.failure_rate:.0%}  {members}')""",
    ),
    (
        "md",
        """\
The entropy and self-consistency of every prompt are kept in the metadata, so the score of any
row can be traced back.""",
    ),
    (
        "code",
        """\
entropy = np.array(sampled.metadata['semantic_entropy'])
is_unsure = np.array([prompts[i] in unsure for i in rows_3])
print(f'mean semantic entropy: {entropy[is_unsure].mean():.2f} on the questions the fake model '
      f'guesses, {entropy[~is_unsure].mean():.2f} on the others')""",
    ),
    (
        "md",
        """\
## 4. Names from an LLM, and the keyword fallback

Offline, a slice is named after its most distinctive words (class-based TF-IDF against the
rest of the data). With `model=` set, an LLM reads each slice's statistics and sample prompts
and replies with a JSON object: name, description, root cause and a suggested fix. Here
litellm's `mock_response` plays the LLM, so every slice gets the same canned reply; faultmap
keeps names unique by numbering repeats. The embeddings come from the cache this time.""",
    ),
    (
        "code",
        """\
canned = json.dumps({
    'name': 'Multi-step reasoning questions',
    'description': 'Questions whose answer needs several steps of reasoning.',
    'root_cause': 'The model answers in one step and loses track of intermediate results.',
    'remediation': 'Add worked examples that spell out each step to the prompt.',
})
llm_analyzer = SliceAnalyzer(model='gpt-4o-mini', min_slice_size=15,
                             llm_completion_kwargs={'mock_response': canned})
named = llm_analyzer.analyze(prompts, responses, scores=scores)
for s in named.slices:
    print(f'{s.naming_source:8s} {s.name!r}: {s.root_cause}')
print(named.metadata['llm'])""",
    ),
    (
        "md",
        """\
When the LLM fails (timeout, provider error after the retries, or a reply that is not the
expected JSON) that slice keeps its keyword name, and `naming_error` says what went wrong.
Nothing else in the report changes.""",
    ),
    (
        "code",
        """\
broken = SliceAnalyzer(model='gpt-4o-mini', min_slice_size=15,
                       llm_completion_kwargs={'mock_response': 'Sorry, I cannot help with that.'})
fallback = broken.analyze(prompts, responses, scores=scores)
s = fallback.slices[0]
print(s.naming_source, repr(s.name))
print('why:', s.naming_error)
assert [x.sample_indices for x in fallback.slices] == [x.sample_indices for x in report.slices]""",
    ),
    (
        "md",
        """\
## 5. Coverage audit: what is the test set missing?

`audit_coverage(test_prompts, production_prompts)` asks the opposite question: which kinds of
production prompts does the test set lack? We build a test set from 300 other rows of the
sample and leave out every date question, then audit our 400 prompts as if they were
production traffic. Test and production prompts are clustered together into regions, and a
gap is a region where the test set is significantly under-represented (a one-sided Fisher
test, corrected across regions), with its counts, the test count expected there and their
ratio. The coverage score is the share of production prompts in no gap; each prompt's
distance to its nearest test prompt is evidence (`distance_coverage_score`, faultmap
0.5.0's score). faultmap warns once (`CoverageMeaningWarning`) that gaps and the score mean
something else than in faultmap 0.5.0.""",
    ),
    (
        "code",
        """\
left_out = 'date_understanding'
test_prompts = [r['prompt'] for r in rows[400:700] if r['task'] != left_out]
coverage = analyzer.audit_coverage(test_prompts, prompts)
print(coverage)
for gap in coverage.gaps:
    print(gap.name, Counter(tasks[i] for i in gap.prompt_indices).most_common(2))""",
    ),
    (
        "md",
        """\
## 6. Comparing two models

`compare_models` scores two models on the same prompts and runs McNemar's test on the prompts
that exactly one of them fails: once on all prompts, then on each cluster of prompts, with
Benjamini–Hochberg across clusters. We simulate a new version of the model from the scores we
have: it fixes most date questions but breaks many sports questions, and a few other rows
flip either way. Overall the two versions look alike; the per-slice view shows where each one
is better. (Only the scores are simulated; both models get the same response texts.)""",
    ),
    (
        "code",
        """\
sim = np.random.default_rng(7)
scores_a = np.array(scores)
scores_b = scores_a.copy()
for i, task in enumerate(tasks):
    passed = scores_a[i] >= 0.5
    if task == 'date_understanding' and not passed and sim.random() < 0.8:
        scores_b[i] = 0.9
    elif task == 'sports_understanding' and passed and sim.random() < 0.6:
        scores_b[i] = 0.1
    elif sim.random() < 0.03:
        scores_b[i] = 1.0 - scores_a[i]

comparison = analyzer.compare_models(
    prompts, responses, responses, scores_a=scores_a, scores_b=scores_b,
    model_a_name='model-v1', model_b_name='model-v2',
)
print(comparison)""",
    ),
    (
        "code",
        """\
print(f'overall: {comparison.winner_name()} (p = {comparison.global_p_value:.2f})')
for s in comparison.slices:
    if s.significant:
        main_task = Counter(tasks[i] for i in s.sample_indices).most_common(1)[0][0]
        print(f'  {comparison.winner_name(s.winner):9s} wins on {s.name!r} ({main_task}): '
              f'{s.failure_rate_a:.0%} vs {s.failure_rate_b:.0%} failures, '
              f'adj. p = {s.adjusted_p_value:.1e}')""",
    ),
    (
        "md",
        """\
## Where next

* `notebooks/visualization.ipynb`: the map of slices and the standalone HTML report.
* `README.md`: every option and how each number is computed.""",
    ),
]


def build() -> nbformat.NotebookNode:
    """The tutorial notebook, outputs empty, cell ids stable across rebuilds."""
    nb = new_notebook()
    for i, (kind, source) in enumerate(CELLS):
        make = new_markdown_cell if kind == "md" else new_code_cell
        nb.cells.append(make(source, id=f"t{i:02d}"))
    nb.metadata["kernelspec"] = {
        "display_name": "Python 3",
        "language": "python",
        "name": "python3",
    }
    nb.metadata["language_info"] = {"name": "python"}
    return nb


if __name__ == "__main__":
    target = Path(__file__).with_name("tutorial.ipynb")
    nbformat.write(build(), target)
    print(f"wrote {target}")
