"""Fit the weights of `bot.retrieval.Ranking` on our own question sets, and report how well they carry over.

For each answerable question of tests/eval (chat*, situations*, and the first turn of each dialogue), the
features of every clause of the asker's school are taken as `SchoolIndex.features` computes them, and a linear
score is fitted by a listwise softmax: the probability the score gives the clauses that hold an expected quote
is raised, with an L2 penalty (--l2) on standardised features. The weights are printed scaled so that BM25
weighs 1, ready to paste into `Ranking`.

Figures printed (clause level, before the composer: top1/top3 of the ranked clauses):
- leave one set out: each of our sets ranked by weights fitted on the others, against `Ranking` as shipped
  (the honest figure for question sets like ours that the weights never saw);
- ../shared/eval's dev.yaml and situations.yaml, never fitted on, with the fitted and the shipped weights.

Run from the repository root: `.venv/bin/python bench/fit_ranking.py` (about a minute, most of it embedding the
questions). It changes nothing. Hand-written gradient descent: a listwise loss over candidate lists of varying
length is not in numpy, and a 6-weight fit does not justify a new dependency.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bot.assistant import Assistant  # noqa: E402
from bot.evaluation import normalise_for_scoring  # noqa: E402
from bot.retrieval import RANKING_WEIGHTS, Ranking  # noqa: E402

OWN = sorted([*REPO.glob("tests/eval/chat*.yaml"), *REPO.glob("tests/eval/situations*.yaml")]) + sorted(
    REPO.glob("tests/eval/dialogues*.yaml")
)
SHARED = [REPO.parent / "shared" / "eval" / "dev.yaml", REPO.parent / "shared" / "eval" / "situations.yaml"]


@dataclass(frozen=True)
class Question:
    features: np.ndarray  # clauses x features
    right: np.ndarray  # which clauses hold an expected quote


def questions_of(path: Path) -> list[tuple[str, str, list[str]]]:
    """(school, question, quote_any) of each answerable case, or of each dialogue's first turn."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if "dialogues" in data:
        cases = [{"school": d["school"], **d["turns"][0]} for d in data["dialogues"]]
    else:
        cases = data["cases"]
    return [(c["school"], c["question"], c["quote_any"]) for c in cases if c.get("quote_any")]


def featurise(assistant: Assistant, path: Path) -> list[Question]:
    retriever = assistant.retriever
    out = []
    for school, question, quotes in questions_of(path):
        index = retriever.indexes[school]
        signals = index.signals(question, retriever.embedder.question(question))
        wanted = [normalise_for_scoring(q) for q in quotes]
        right = np.array(
            [
                any(w in normalise_for_scoring(f"{c.lead_in or ''} {c.text}") for w in wanted)
                for c in index.clauses
            ]
        )
        out.append(Question(index.features(signals), right))
    return out


def fit(questions: list[Question], l2: float, steps: int = 1500, rate: float = 0.05) -> np.ndarray:
    """Weights in the features' own units, by Adam on the listwise softmax loss."""
    usable = [q for q in questions if q.right.any()]
    width = max(len(q.features) for q in usable)
    z = np.zeros((len(usable), width, usable[0].features.shape[1]))
    present = np.zeros((len(usable), width), dtype=bool)
    right = np.zeros((len(usable), width))
    for i, q in enumerate(usable):
        n = len(q.features)
        z[i, :n], present[i, :n], right[i, :n] = q.features, True, q.right
    mean, spread = z[present].mean(axis=0), z[present].std(axis=0) + 1e-9
    z = (z - mean) / spread
    w = np.zeros(z.shape[2])
    m = np.zeros_like(w)
    v = np.zeros_like(w)
    for t in range(1, steps + 1):
        s = np.where(present, z @ w, -np.inf)
        p = np.exp(s - s.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        target = p * right
        target /= target.sum(axis=1, keepdims=True)
        gradient = np.einsum("qk,qkf->f", p - target, z) / len(z) + l2 * w
        m = 0.9 * m + 0.1 * gradient
        v = 0.999 * v + 0.001 * gradient**2
        w -= rate * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
    return w / spread


def top(questions: list[Question], weights: np.ndarray) -> tuple[float, float]:
    one = three = 0
    for q in questions:
        order = np.argsort(-(q.features @ weights), kind="stable")
        one += bool(q.right[order[0]])
        three += bool(q.right[order[:3]].any())
    return one / len(questions), three / len(questions)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--l2", type=float, default=0.01)
    args = parser.parse_args()
    assistant = Assistant.from_directory(REPO / "knowledge")
    own = {p.name: featurise(assistant, p) for p in OWN}
    shared = {p.name: featurise(assistant, p) for p in SHARED if p.exists()}
    print(f"{'held out':20} {'shipped (fit on all)':>20} {'refit without it':>17}")
    totals = np.zeros(4)
    for name, held in own.items():
        weights = fit([q for other, qs in own.items() if other != name for q in qs], args.l2, steps=600)
        row = np.array([*top(held, RANKING_WEIGHTS), *top(held, weights)])
        totals += row * len(held)
        print(f"{name:20} {row[0]:9.3f}/{row[1]:.3f} {row[2]:10.3f}/{row[3]:.3f}")
    count = sum(len(qs) for qs in own.values())
    print(
        f"{'all, each held out':20} {totals[0] / count:9.3f}/{totals[1] / count:.3f} "
        f"{totals[2] / count:10.3f}/{totals[3] / count:.3f}"
    )
    weights = fit([q for qs in own.values() for q in qs], args.l2)
    scaled = weights / weights[0]
    names = [f.name for f in Ranking.__dataclass_fields__.values()]
    print("fitted on all our sets:", ", ".join(f"{n}={w:.3f}" for n, w in zip(names, scaled, strict=True)))
    for name, qs in shared.items():
        shipped, fitted = top(qs, RANKING_WEIGHTS), top(qs, weights)
        print(f"{name:20} shipped {shipped[0]:.3f}/{shipped[1]:.3f}  fitted {fitted[0]:.3f}/{fitted[1]:.3f}")


if __name__ == "__main__":
    main()
