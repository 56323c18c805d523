#!/usr/bin/env python3
"""Check tests/eval/chat.yaml: every quote_any string, normalised as in /work/shared/eval/README.md,
occurs in the normalised text of that school's seed policy (and within a single source line,
so no quote spans a list break). Also checks ids, schools, roles and quote length (5-15 words)."""

import re
import sys
import unicodedata
from collections import Counter
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
SEEDS = Path("/work/shared/seeds")
SEED_FILES = {
    "howitt": ["howitt-primary-derbyshire-2018.txt"],
    "wolverhampton": ["wolverhampton-connected-2022.txt"],
    "crynallt": ["neath-port-talbot-crynallt.txt"],
    "rutland": ["rutland-county-council-2017.txt"],
    "reading": ["reading-borough-school.txt"],
}
ROLES = {
    "headteacher",
    "line_manager",
    "hr_provider",
    "comms_adviser",
    "chair_of_governors",
    "safeguarding_lead",
}
TRANS = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u2015": "-",
        "\u2212": "-",
    }
)


def norm(s):
    s = unicodedata.normalize("NFKC", s).translate(TRANS).lower()
    s = re.sub(r"[*_'\"]", "", s)
    return re.sub(r"\s+", " ", s).strip()


def main(path=HERE / "chat.yaml"):
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    cases = data["cases"]
    texts, lines = {}, {}
    for school, files in SEED_FILES.items():
        raw = "\n".join((SEEDS / f).read_text(encoding="utf-8") for f in files)
        texts[school] = norm(raw)
        lines[school] = [norm(line) for line in raw.splitlines() if line.strip()]
    errors = []
    ids = Counter(c["id"] for c in cases)
    errors += [f"duplicate id {i}" for i, n in ids.items() if n > 1]
    for c in cases:
        cid, school = c["id"], c.get("school")
        if school not in SEED_FILES:
            errors.append(f"{cid}: unknown school {school}")
            continue
        if not c.get("question", "").strip():
            errors.append(f"{cid}: empty question")
        if c.get("expect") == "no_match":
            if "quote_any" in c or not cid.startswith("CN"):
                errors.append(f"{cid}: no_match case must have a CN id and no quote_any")
            continue
        quotes = c.get("quote_any") or []
        if not 1 <= len(quotes) <= 3:
            errors.append(f"{cid}: needs 1-3 quote_any strings")
        for q in quotes:
            nq = norm(q)
            if not 5 <= len(nq.split()) <= 15:
                errors.append(f"{cid}: quote not 5-15 words: {q!r}")
            if nq not in texts[school]:
                errors.append(f"{cid}: quote not in {school} seed: {q!r}")
            elif not any(nq in line for line in lines[school]):
                errors.append(f"{cid}: quote spans a line break in {school} seed: {q!r}")
        for r in c.get("contact_any", []):
            if r not in ROLES:
                errors.append(f"{cid}: unknown contact role {r}")
    kinds = Counter((c["school"], "no_match" if c.get("expect") == "no_match" else "answer") for c in cases)
    for school in SEED_FILES:
        print(f"{school:14s} answer={kinds[(school, 'answer')]:3d} no_match={kinds[(school, 'no_match')]:3d}")
    print(
        f"total {len(cases)}: answer={sum(v for (s, k), v in kinds.items() if k == 'answer')}, "
        f"no_match={sum(v for (s, k), v in kinds.items() if k == 'no_match')}, "
        f"with contact_any={sum(1 for c in cases if c.get('contact_any'))}"
    )
    for e in errors:
        print("ERROR", e)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
