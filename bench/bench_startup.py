"""Benchmark `policybot ask` start-up: one question answered by a fresh process, against a naive script.

The naive baseline is a whole Python run that reads the five seed policy texts, splits them into blank-line
paragraphs, builds rank_bm25's BM25Okapi per school and prints the best paragraph for the same question. Ours is
`policybot ask --school reading "<question>"` with a warm embedding cache (one unmeasured run first fills it).
Each is run `--runs` times alternately; medians and the ratio are printed, then one JSON line.

Both sides start from compiled bytecode, as installed packages do: pip compiled rank_bm25 and numpy when it
installed them, and the project's own modules are compiled here first (`compileall`, into the usual __pycache__
folders), as Python itself does at a first run. A machine with PYTHONDONTWRITEBYTECODE=1 never writes them, so
the project's ~90 modules would be compiled from source at every start of an editable install; that figure is
printed too, measured on a copy of the sources without __pycache__.

Run from the repository root: `.venv/bin/python bench/bench_startup.py` (needs ../shared/seeds).
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SEEDS = REPO.parent / "shared" / "seeds"
QUESTION = "can i go on insta at lunch?"
TARGET_RATIO = 4.0

NAIVE = f"""
import re, sys
from pathlib import Path
from rank_bm25 import BM25Okapi
words = lambda t: re.findall(r"\\w+", t.lower())
text = (Path({str(SEEDS)!r}) / "reading-borough-school.txt").read_text(encoding="utf-8")
paragraphs = [p for p in re.split(r"\\n\\s*\\n", text) if words(p)]
index = BM25Okapi([words(p) for p in paragraphs])
scores = index.get_scores(words({QUESTION!r}))
print(paragraphs[max(range(len(paragraphs)), key=scores.__getitem__)][:200])
"""


def timed(cmd: list[str], env: dict[str, str], cwd: Path | None = None) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, env=env, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    python = sys.executable
    policybot = [python, "-m", "bot.cli", "ask", "--school", "reading", QUESTION]
    for package in ("bot", "adapters"):
        compileall.compile_dir(REPO / package, quiet=1)
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "POLICYBOT_DATA_DIR": tmp, "POLICYBOT_STORAGE": "off"}
        env.pop("POLICYBOT_EMBEDDING_CACHE", None)
        # The same sources without bytecode, first on the path: `-m` puts the working directory ahead of
        # PYTHONPATH, and the editable install's entry after it.
        sources = Path(tmp) / "sources"
        for folder in ("bot", "adapters", "knowledge"):
            shutil.copytree(REPO / folder, sources / folder, ignore=shutil.ignore_patterns("__pycache__"))
        uncompiled = {**env, "PYTHONPATH": str(sources), "PYTHONDONTWRITEBYTECODE": "1"}
        cold = timed(policybot, env)  # fills the embedding cache
        ours, naive, bm25, from_source = [], [], [], []
        for _ in range(args.runs):
            naive.append(timed([python, "-c", NAIVE], env))
            ours.append(timed(policybot, env))
            bm25.append(timed(policybot, {**env, "POLICYBOT_SEMANTIC": "off"}))
            from_source.append(timed(policybot, uncompiled, cwd=sources))
    result = {
        "runs": args.runs,
        "naive_script_s_median": round(statistics.median(naive), 3),
        "policybot_ask_s_median": round(statistics.median(ours), 3),
        "policybot_ask_bm25_alone_s_median": round(statistics.median(bm25), 3),
        "policybot_ask_from_source_s_median": round(statistics.median(from_source), 3),
        "policybot_ask_cold_cache_s": round(cold, 3),
    }
    result["ratio"] = round(result["policybot_ask_s_median"] / result["naive_script_s_median"], 2)
    result["ratio_bm25_alone"] = round(
        result["policybot_ask_bm25_alone_s_median"] / result["naive_script_s_median"], 2
    )
    result["ratio_from_source"] = round(
        result["policybot_ask_from_source_s_median"] / result["naive_script_s_median"], 2
    )
    result["target_ratio"] = TARGET_RATIO
    print(
        f"naive rank-bm25 script, whole run, median of {args.runs}: {result['naive_script_s_median']:.3f} s"
    )
    print(f"policybot ask, warm cache, median:        {result['policybot_ask_s_median']:.3f} s")
    print(f"policybot ask, POLICYBOT_SEMANTIC=off:    {result['policybot_ask_bm25_alone_s_median']:.3f} s")
    print(f"policybot ask, sources not compiled:      {result['policybot_ask_from_source_s_median']:.3f} s")
    print(f"policybot ask, first run (cold cache):    {result['policybot_ask_cold_cache_s']:.3f} s")
    verdict = "ok" if result["ratio"] <= TARGET_RATIO else "MISSED"
    print(f"ratio ours / naive: {result['ratio']:.2f}x ({verdict}, target <= {TARGET_RATIO:g}x)")
    print(json.dumps(result, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
