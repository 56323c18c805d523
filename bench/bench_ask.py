"""Benchmark `Assistant` build time and `ask()` latency, and compare them with a naive BM25 baseline.

Every figure is taken twice: with the semantic signal (the default; the embedding cache warm) and on BM25
alone (`embedder=None`), and the cold-cache embedding time of the seed knowledge base is printed too.
Prints a table and then one JSON line with every figure:

1. index build time over the seed knowledge base (`knowledge/`): median of 5 builds of `Assistant(kb)`;
2. `ask()` latency over the seed knowledge base for the questions of ../shared/eval/dev.yaml and
   tests/eval/chat.yaml, after one warm-up pass: median and p99; searched each time (the answer memory emptied
   before each call, outside the timing), for a question new to the process (its vector forgotten too), and
   with the answer remembered (what a question asked again costs);
3. the same over a synthetic knowledge base of 500 schools x 100 clauses built in memory from copies of the
   seed clauses;
4. a naive baseline on the same questions: rank_bm25.BM25Okapi over the blank-line paragraphs of each seed
   policy text, timed per question (get_scores + argmax), and the ratios ours / baseline.

Run from anywhere: `.venv/bin/python bench/bench_ask.py` (add `--quick` for fewer repetitions).
This is a benchmark, not a test: it never fails on a missed target. It reports it, and prints a cProfile top 10
(by cumulative time) for any `ask()` p99 above its target.
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import io
import json
import math
import platform
import pstats
import random
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import MappingProxyType

import numpy as np
import yaml
from rank_bm25 import BM25Okapi

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bot.assistant import Assistant  # noqa: E402
from bot.compose import ANSWERED  # noqa: E402
from bot.knowledge import KnowledgeBase, Policy, School, load_knowledge  # noqa: E402
from bot.semantic import shared_embedder  # noqa: E402

KNOWLEDGE_DIR = REPO / "knowledge"
QUESTION_FILES = (
    REPO.parent / "shared" / "eval" / "dev.yaml",
    REPO.parent / "shared" / "eval" / "situations.yaml",
    REPO / "tests" / "eval" / "chat.yaml",
)
SEEDS_DIR = REPO.parent / "shared" / "seeds"
SEED_TEXTS = {
    "howitt": "howitt-primary-derbyshire-2018.txt",
    "wolverhampton": "wolverhampton-connected-2022.txt",
    "crynallt": "neath-port-talbot-crynallt.txt",
    "rutland": "rutland-county-council-2017.txt",
    "reading": "reading-borough-school.txt",
}

SYNTH_SCHOOLS = 500
SYNTH_CLAUSES = 100
SYNTH_SEED = 7  # random.Random(7) samples the clauses of each synthetic school
SCHEDULE_SEED = 8  # a separate stream picks the synthetic school each timed question is asked at

TARGET_SEED_P99_MS = 10.0  # with the semantic signal (issue: p99 <= 10 ms per question on 2 cores)
TARGET_SYNTH_P99_MS = 10.0
# The per-question cost the issue means: a question asked for the first time is embedded before it is searched
# (the figures above ask each question 13 times, so all but the first find their vector remembered).
TARGET_NEW_QUESTION_P99_MS = 10.0
NEW_QUESTION_PASSES = 3

Case = tuple[str, str]  # (school id, question)


# -- inputs ----------------------------------------------------------------------------------------------------
def load_questions() -> list[Case]:
    cases: list[Case] = []
    for path in QUESTION_FILES:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        cases += [(str(c["school"]), str(c["question"])) for c in data["cases"]]
    return cases


def synthetic_kb(
    seed: KnowledgeBase, n_schools: int = SYNTH_SCHOOLS, n_clauses: int = SYNTH_CLAUSES
) -> KnowledgeBase:
    """`n_schools` schools, each with its own policy of `n_clauses` seed clauses copied under new ids.

    School n copies the contacts (and the policy metadata and topic notes) of seed school n mod 5, so every
    contact role a copied clause or topic needs is there. Roles, topics, synonyms and scope words are the seed's.
    """
    rng = random.Random(SYNTH_SEED)
    pool = [c for p in seed.policies.values() for c in p.clauses]
    if n_clauses > len(pool):
        raise ValueError(f"the seed has only {len(pool)} clauses; cannot sample {n_clauses} distinct ones")
    templates = list(seed.schools.values())
    policies: dict[str, Policy] = {}
    schools: dict[str, School] = {}
    for n in range(n_schools):
        template = templates[n % len(templates)]
        # The school's own policy: its guidance note where it has one.
        base = seed.policies[template.policies[-1]]
        sid, pid = f"s{n}", f"s{n}-policy"
        # Without replacement, so that f"s{n}.{id}" stays unique; text, heading, topics, examples etc. are kept.
        sample = rng.sample(pool, n_clauses)
        clauses = tuple(dataclasses.replace(c, id=f"s{n}.{c.id}", policy_id=pid) for c in sample)
        policies[pid] = dataclasses.replace(
            base, id=pid, title=f"Synthetic policy {n} (after {base.title})", clauses=clauses, file=""
        )
        schools[sid] = dataclasses.replace(
            template, id=sid, name=f"Synthetic school {n} (after {template.name})", policies=(pid,)
        )
    return dataclasses.replace(
        seed,
        policies=MappingProxyType(policies),
        schools=MappingProxyType(schools),
        version=f"synthetic-{n_schools}x{n_clauses}",
        source_dir="<memory>",
        warnings=(),
    )


# -- timing ----------------------------------------------------------------------------------------------------
def ms(ns: float) -> float:
    return ns / 1e6


def summary(samples_ns: Sequence[int]) -> dict[str, float]:
    arr = np.asarray(samples_ns, dtype=np.float64)
    return {
        "median_ms": round(ms(float(np.median(arr))), 4),
        "p99_ms": round(ms(float(np.percentile(arr, 99))), 4),
        "max_ms": round(ms(float(arr.max())), 4),
        "calls": int(arr.size),
    }


def time_builds(kb: KnowledgeBase, repeats: int, **options) -> list[float]:
    """Wall time in ms of each of `repeats` builds of `Assistant(kb, **options)`."""
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter_ns()
        Assistant(kb, **options)
        out.append(ms(time.perf_counter_ns() - t0))
    return out


def cold_cache_seconds(kb: KnowledgeBase) -> tuple[float, int]:
    """Seconds to build an Assistant whose embedding cache is empty, and how many texts it embedded."""
    with tempfile.TemporaryDirectory() as tmp:
        status = shared_embedder(Path(tmp) / "cold.sqlite3")
        t0 = time.perf_counter()
        Assistant(kb, embedder=status.embedder)
        seconds = time.perf_counter() - t0
        return seconds, status.embedder.embedded if status.embedder else 0


def time_calls(
    fn: Callable[[str, str], object],
    warmup: Sequence[Case],
    timed: Sequence[Case],
    before: Callable[[], object] | None = None,
) -> list[int]:
    """Each timed call of `fn`; `before` runs ahead of each one, outside the timing."""
    for school, question in warmup:
        fn(question, school)
    out = []
    clock = time.perf_counter_ns
    for school, question in timed:
        if before is not None:
            before()
        t0 = clock()
        fn(question, school)
        out.append(clock() - t0)
    return out


def time_searches(assistant: Assistant, warmup: Sequence[Case], timed: Sequence[Case]) -> list[int]:
    """ask() with the question's vector remembered but not its answer: the search and composing, every time."""
    return time_calls(assistant.ask, warmup, timed, before=assistant.forget_answers)


def time_new_questions(assistant: Assistant, warmup: Sequence[Case], timed: Sequence[Case]) -> list[int]:
    """ask() with the question's vector never remembered: what a question no one has asked yet costs."""
    embedder = assistant.retriever.embedder
    assert embedder is not None

    def ask_new(question: str, school: str) -> object:
        embedder.forget_questions()
        assistant.forget_answers()
        return assistant.ask(question, school)

    out = []
    clock = time.perf_counter_ns
    for school, question in warmup:
        ask_new(question, school)
    for school, question in timed:
        embedder.forget_questions()  # outside the timing, as a new question finds nothing to drop
        assistant.forget_answers()
        t0 = clock()
        assistant.ask(question, school)
        out.append(clock() - t0)
    return out


def answered_share(assistant: Assistant, cases: Sequence[Case]) -> float:
    return sum(assistant.ask(q, s).status == ANSWERED for s, q in cases) / len(cases)


# -- the naive baseline ----------------------------------------------------------------------------------------
def words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def baseline_indexes() -> tuple[dict[str, BM25Okapi], int]:
    """One BM25Okapi per seed school over the blank-line paragraphs of its policy text."""
    indexes, paragraphs = {}, 0
    for school, name in SEED_TEXTS.items():
        text = (SEEDS_DIR / name).read_text(encoding="utf-8")
        docs = [t for t in (words(p) for p in re.split(r"\n\s*\n", text)) if t]
        indexes[school] = BM25Okapi(docs)
        paragraphs += len(docs)
    return indexes, paragraphs


def time_baseline(indexes: dict[str, BM25Okapi], warmup: Sequence[Case], timed: Sequence[Case]) -> list[int]:
    """get_scores + argmax per question; the question's tokens are computed before the clock starts."""
    tokens = {q: words(q) for _, q in list(warmup) + list(timed)}
    for school, question in warmup:
        int(np.argmax(indexes[school].get_scores(tokens[question])))
    out = []
    clock = time.perf_counter_ns
    for school, question in timed:
        query, index = tokens[question], indexes[school]
        t0 = clock()
        int(np.argmax(index.get_scores(query)))
        out.append(clock() - t0)
    return out


# -- output ----------------------------------------------------------------------------------------------------
def verdict(value: float, target: float) -> str:
    return f"ok (<= {target:g} ms)" if value <= target else f"MISSED (> {target:g} ms)"


def print_table(rows: list[tuple[str, str, str]]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    rule = "-+-".join("-" * w for w in widths)
    for i, row in enumerate(rows):
        print(" | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
        if i == 0:
            print(rule)


def profile_top10(assistant: Assistant, cases: Sequence[Case]) -> str:
    profiler = cProfile.Profile()
    profiler.enable()
    for school, question in cases:
        assistant.ask(question, school)
    profiler.disable()
    stream = io.StringIO()
    pstats.Stats(profiler, stream=stream).strip_dirs().sort_stats("cumulative").print_stats(10)
    return stream.getvalue().strip()


# -- main ------------------------------------------------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="fewer repetitions (a smoke run, noisier figures)"
    )
    args = parser.parse_args(argv)
    min_calls, seed_builds, synth_builds = (500, 3, 1) if args.quick else (3000, 5, 3)

    print(f"Policy Assistant benchmark ({'quick' if args.quick else 'full'} mode)")
    print(f"python {platform.python_version()} on {platform.platform(terse=True)}, numpy {np.__version__}")

    kb = load_knowledge(KNOWLEDGE_DIR)
    cases = load_questions()
    reps = math.ceil(min_calls / len(cases))
    timed_seed = list(cases) * reps
    print(
        f"seed KB: {len(kb.schools)} schools, {len(kb.policies)} policies, {kb.clause_count} clauses; "
        f"{len(cases)} questions x {reps} = {len(timed_seed)} timed calls after a warm-up pass"
    )

    # 1. Build time over the seed KB (embedding cache warm after the first build).
    Assistant(kb)
    builds = time_builds(kb, seed_builds)
    seed_build_ms = statistics.median(builds)
    bm25_build_ms = statistics.median(time_builds(kb, seed_builds, embedder=None))
    cold_s, cold_texts = cold_cache_seconds(kb)

    # 2. ask() latency over the seed KB, with the semantic signal and on BM25 alone.
    assistant = Assistant(kb)
    seed_answered = answered_share(assistant, cases)
    seed = summary(time_searches(assistant, cases, timed_seed))
    seed_remembered = summary(time_calls(assistant.ask, cases, timed_seed))
    seed_new = summary(time_new_questions(assistant, cases[:10], list(cases) * NEW_QUESTION_PASSES))
    bm25_assistant = Assistant(kb, embedder=None)
    seed_bm25 = summary(time_searches(bm25_assistant, cases, timed_seed))

    # 4. The naive baseline on the same questions and repetitions.
    t0 = time.perf_counter_ns()
    indexes, paragraphs = baseline_indexes()
    baseline_build_ms = ms(time.perf_counter_ns() - t0)
    base = summary(time_baseline(indexes, cases, timed_seed))

    # 3. The synthetic KB.
    t0 = time.perf_counter_ns()
    synth = synthetic_kb(kb)
    synth_make_ms = ms(time.perf_counter_ns() - t0)
    synth_build_list = time_builds(synth, synth_builds)
    synth_build_ms = statistics.median(synth_build_list)
    synth_assistant = Assistant(synth)
    pick = random.Random(SCHEDULE_SEED)
    school_ids = list(synth.schools)
    synth_warmup = [(pick.choice(school_ids), q) for _, q in cases]
    synth_timed = [(pick.choice(school_ids), q) for _, q in timed_seed]
    synth_answered = answered_share(synth_assistant, synth_warmup)
    syn = summary(time_searches(synth_assistant, synth_warmup, synth_timed))
    syn_new = summary(
        time_new_questions(synth_assistant, synth_warmup[:10], synth_warmup * NEW_QUESTION_PASSES)
    )
    del synth_assistant
    synth_bm25 = Assistant(synth, embedder=None)
    syn_bm25 = summary(time_searches(synth_bm25, synth_warmup, synth_timed))
    del synth_bm25
    print(
        f"synthetic KB: {len(synth.schools)} schools x {SYNTH_CLAUSES} clauses = {synth.clause_count} clauses "
        f"(made in {synth_make_ms:.1f} ms); questions asked at random synthetic schools"
    )
    print(f"baseline: BM25Okapi over {paragraphs} blank-line paragraphs of {len(indexes)} seed texts")
    print()

    ratio_median = seed["median_ms"] / base["median_ms"]
    ratio_p99 = seed["p99_ms"] / base["p99_ms"]
    rows = [
        ("measure", "value", "target"),
        (
            f"seed build Assistant(kb), warm cache, median of {seed_builds}",
            f"{seed_build_ms:.1f} ms (BM25 alone {bm25_build_ms:.1f} ms)",
            "",
        ),
        ("seed cold-cache build (embeds every text)", f"{cold_s:.1f} s for {cold_texts} texts", ""),
        (
            f"seed ask() of a question asked before, answer remembered, median / p99 ({seed_remembered['calls']})",
            f"{seed_remembered['median_ms']:.3f} / {seed_remembered['p99_ms']:.3f} ms",
            "",
        ),
        (
            f"seed ask() searched, question vector remembered, median / p99 ({seed['calls']} calls)",
            f"{seed['median_ms']:.3f} / {seed['p99_ms']:.3f} ms (max {seed['max_ms']:.3f})",
            verdict(seed["p99_ms"], TARGET_SEED_P99_MS),
        ),
        (
            f"seed ask() of a question new to it, median / p99 ({seed_new['calls']} calls)",
            f"{seed_new['median_ms']:.3f} / {seed_new['p99_ms']:.3f} ms (max {seed_new['max_ms']:.3f})",
            verdict(seed_new["p99_ms"], TARGET_NEW_QUESTION_P99_MS),
        ),
        (
            "seed ask() on BM25 alone, median / p99",
            f"{seed_bm25['median_ms']:.3f} / {seed_bm25['p99_ms']:.3f} ms",
            "",
        ),
        ("seed questions answered (not no_match)", f"{seed_answered:.0%}", ""),
        (
            f"synthetic build Assistant(kb), median of {synth_builds}",
            f"{synth_build_ms:.1f} ms",
            "",
        ),
        (
            f"synthetic ask() searched, question vector remembered, median / p99 ({syn['calls']} calls)",
            f"{syn['median_ms']:.3f} / {syn['p99_ms']:.3f} ms (max {syn['max_ms']:.3f})",
            verdict(syn["p99_ms"], TARGET_SYNTH_P99_MS),
        ),
        (
            f"synthetic ask() of a question new to it, median / p99 ({syn_new['calls']} calls)",
            f"{syn_new['median_ms']:.3f} / {syn_new['p99_ms']:.3f} ms (max {syn_new['max_ms']:.3f})",
            verdict(syn_new["p99_ms"], TARGET_NEW_QUESTION_P99_MS),
        ),
        (
            "synthetic ask() on BM25 alone, median / p99",
            f"{syn_bm25['median_ms']:.3f} / {syn_bm25['p99_ms']:.3f} ms",
            "",
        ),
        ("synthetic questions answered (not no_match)", f"{synth_answered:.0%}", ""),
        (f"baseline build ({len(indexes)} indexes)", f"{baseline_build_ms:.1f} ms", ""),
        (
            f"baseline get_scores+argmax median / p99 ({base['calls']} calls)",
            f"{base['median_ms']:.3f} / {base['p99_ms']:.3f} ms (max {base['max_ms']:.3f})",
            "",
        ),
        ("ratio ours / baseline, median", f"{ratio_median:.2f}x", ""),
        ("ratio ours / baseline, p99", f"{ratio_p99:.2f}x", ""),
    ]
    print_table(rows)

    # Where a p99 misses its target, show where the time goes (the bot code is measured, never changed here).
    profiles = (
        ("seed", seed["p99_ms"], TARGET_SEED_P99_MS, lambda: assistant, cases),
        ("synthetic", syn["p99_ms"], TARGET_SYNTH_P99_MS, lambda: Assistant(synth), synth_warmup),
    )
    profiled = {}
    for name, p99, target, who, sample in profiles:
        profiled[name] = p99 > target
        if profiled[name]:
            print()
            print(
                f"{name} ask() p99 {p99:.3f} ms is above {target:g} ms; where the time goes "
                f"(cProfile over one pass of {len(sample)} calls, top 10 by cumulative time):"
            )
            print(profile_top10(who(), sample))

    result = {
        "mode": "quick" if args.quick else "full",
        "seed": {
            "schools": len(kb.schools),
            "clauses": kb.clause_count,
            "questions": len(cases),
            "build_ms_median": round(seed_build_ms, 3),
            "build_ms_all": [round(b, 3) for b in builds],
            "answered_share": round(seed_answered, 4),
            "ask": seed,
            "ask_answer_remembered": seed_remembered,
            "ask_new_question": seed_new,
            "ask_bm25_alone": seed_bm25,
            "build_ms_bm25_alone": round(bm25_build_ms, 3),
            "cold_cache_build_s": round(cold_s, 3),
            "cold_cache_texts": cold_texts,
            "profiled": profiled["seed"],
        },
        "synthetic": {
            "schools": len(synth.schools),
            "clauses": synth.clause_count,
            "build_ms_median": round(synth_build_ms, 3),
            "build_ms_all": [round(b, 3) for b in synth_build_list],
            "answered_share": round(synth_answered, 4),
            "ask": syn,
            "ask_new_question": syn_new,
            "ask_bm25_alone": syn_bm25,
            "profiled": profiled["synthetic"],
        },
        "baseline": {"paragraphs": paragraphs, "build_ms": round(baseline_build_ms, 3), "query": base},
        "ratio_ours_over_baseline": {"median": round(ratio_median, 3), "p99": round(ratio_p99, 3)},
        "targets": {
            "seed_ask_p99_ms": TARGET_SEED_P99_MS,
            "synthetic_ask_p99_ms": TARGET_SYNTH_P99_MS,
            "seed_ask_p99_ok": seed["p99_ms"] <= TARGET_SEED_P99_MS,
            "synthetic_ask_p99_ok": syn["p99_ms"] <= TARGET_SYNTH_P99_MS,
        },
    }
    print()
    print(json.dumps(result, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
