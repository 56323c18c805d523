"""HR's to-do list from the log: unanswered and down-voted questions, grouped by similarity, with the clauses
they came closest to; and `add_example`, which writes a question into a clause's `examples:` in its YAML file.

Grouping: per school, questions that read the same once lower-cased and stripped of punctuation are one
wording; wordings whose search terms (the retriever's analyzer: stems, synonyms expanded, stop words dropped)
overlap with a Jaccard similarity of at least `SIMILARITY` are linked, and each connected set of wordings
(single-link) is a group. A group's representative is its most-asked wording; its id is the first 8 hex digits
of the sha1 of the school and that wording, so the same log gives the same ids on every run.

`add_example` edits the policy file in ruamel.yaml's round-trip mode, so comments, key order, quoting and
folded text stay as HR wrote them, and checks that nothing but the new example changed; `bot.kbedit` writes
it atomically, validates the whole knowledge directory and puts the original file back if the result does
not load.
"""

from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import json
import re
import unicodedata
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import DoubleQuotedScalarString
from ruamel.yaml.tokens import CommentToken

from bot import kbedit
from bot.assistant import clean_question
from bot.compose import cite
from bot.errors import PolicyBotError, Problem
from bot.knowledge import Clause, KnowledgeBase, check_knowledge
from bot.records import Feedback, Interaction
from bot.retrieval import Retriever

SIMILARITY = 0.5  # Jaccard similarity of two wordings' term sets at which they count as one question
NEAREST = 3  # clauses shown per group
NO_MATCH = "no_match"
DOWNVOTED = "downvoted"
MAX_JSONL_LINE = 64 * 1024

_PUNCTUATION = re.compile(r"[^\w\s]")
_APOSTROPHES = str.maketrans({"'": "", "\u2019": "", "\u2018": "", "`": "", "\u02bc": ""})


class SuggestError(PolicyBotError):
    """A request `kb suggest` refuses: unknown group or clause, a clause the school does not use, and so on."""


class EditRejected(SuggestError):
    """The edited knowledge base did not validate; the original file was put back. `problems` says why."""

    def __init__(self, message: str, problems: Sequence[Problem] = ()):
        super().__init__(message)
        self.problems = tuple(problems)


# -- records ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Asked:
    """One question HR should look at: it got no answer (`no_match`) or its answer was voted 👎 (`downvoted`)."""

    school: str
    question: str
    kind: str = NO_MATCH
    clause_id: str | None = None  # for a down-voted answer: the clause it quoted
    asked_at: dt.datetime | None = None


@dataclass(frozen=True)
class LineProblem:
    """A line of a JSONL file that was skipped, and why."""

    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass(frozen=True)
class Nearest:
    clause_id: str
    citation: str
    score: float


@dataclass(frozen=True)
class Wording:
    """One way a question was typed, and how many times exactly so."""

    text: str
    times: int


@dataclass(frozen=True)
class Group:
    """Similar questions from one school, with the clauses nearest to the representative question."""

    id: str
    school: str
    question: str  # the representative: the group's most-asked wording
    times: int
    no_match: int
    downvoted: int
    questions: tuple[Wording, ...]  # every wording, most asked first
    quoted: tuple[str, ...]  # clauses the down-voted answers quoted
    nearest: tuple[Nearest, ...]
    last_asked: str | None = None


def normalise_question(text: str) -> str:
    """Lower case, apostrophes dropped, punctuation as spaces: "Can I…?" and "can i" are the same question."""
    text = unicodedata.normalize("NFKC", text).lower().translate(_APOSTROPHES)
    return " ".join(_PUNCTUATION.sub(" ", text).replace("_", " ").split())


def group_id(school: str, normalised: str) -> str:
    return hashlib.sha1(f"{school}\n{normalised}".encode()).hexdigest()[:8]


def from_log(
    interactions: Iterable[Interaction], feedback: Iterable[Feedback], school: str | None = None
) -> tuple[tuple[Asked, ...], int]:
    """The log's no_match questions and 👎-voted answers (👍 and unvoted answers are left out).

    Returns them with the number of such questions whose text was not stored (POLICYBOT_STORE_QUESTIONS=0).
    """
    down = {f.interaction_id for f in feedback if not f.helpful and f.interaction_id}
    asked: list[Asked] = []
    without_text = 0
    for i in interactions:
        if school is not None and i.school != school:
            continue
        if i.status == NO_MATCH:
            kind, clause_id = NO_MATCH, None
        elif i.id in down:
            kind, clause_id = DOWNVOTED, i.clause_id
        else:
            continue
        if not (i.question or "").strip():
            without_text += 1
            continue
        asked.append(Asked(i.school, " ".join(i.question.split()), kind, clause_id, i.created_at))
    return tuple(asked), without_text


def read_jsonl(
    lines: Iterable[str], schools: Collection[str] | None = None, school: str | None = None
) -> tuple[tuple[Asked, ...], tuple[LineProblem, ...]]:
    """Questions from JSON lines `{"school", "question", "status"?, "helpful"?}`.

    A line without `status`, or with `"status": "no_match"`, is unanswered; an `"answered"` line counts only
    with `"helpful": false`. Bad lines are returned as problems with their 1-based line number; blank lines
    are skipped. `schools`, when given, are the known school ids; `school` keeps only that school's lines.
    """
    asked: list[Asked] = []
    problems: list[LineProblem] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        result = _jsonl_record(line, schools)
        if isinstance(result, str):
            problems.append(LineProblem(number, result))
        elif result is not None and (school is None or result.school == school):
            asked.append(result)
    return tuple(asked), tuple(problems)


def _jsonl_record(line: str, schools: Collection[str] | None) -> Asked | str | None:
    """One line to an Asked, None for an answered question nobody voted down, or the problem as text."""
    if len(line) > MAX_JSONL_LINE:
        return f"line too long ({len(line)} characters)"
    try:
        data: Any = json.loads(line)
    except json.JSONDecodeError as exc:
        return f"invalid JSON: {exc.msg} at column {exc.colno}"
    if not isinstance(data, dict):
        return 'expected a JSON object {"school": ..., "question": ...}'
    school, question = data.get("school"), data.get("question")
    if not isinstance(school, str) or not school.strip():
        return "missing `school`"
    if schools is not None and school not in schools:
        return f"unknown school `{school}` (known: {', '.join(sorted(schools))})"
    if not isinstance(question, str) or not question.strip():
        return "missing `question`"
    status = data.get("status")
    if status is not None and status not in (NO_MATCH, "answered"):
        return f'`status` must be "no_match" or "answered", not {status!r}'
    helpful = data.get("helpful")
    if helpful is not None and not isinstance(helpful, bool):
        return "`helpful` must be true or false"
    text = " ".join(question.split())
    if status == "answered":
        if helpful is False:
            clause_id = data.get("clause_id") if isinstance(data.get("clause_id"), str) else None
            return Asked(school, text, DOWNVOTED, clause_id)
        return None
    return Asked(school, text, NO_MATCH)


# -- grouping ---------------------------------------------------------------------------------------------------


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def build_groups(
    asked: Iterable[Asked], retriever: Retriever, similarity: float = SIMILARITY
) -> tuple[Group, ...]:
    """Group the questions per school by similarity; most-asked groups first."""
    by_school: dict[str, list[Asked]] = {}
    for a in asked:
        by_school.setdefault(a.school, []).append(a)
    groups: list[Group] = []
    for school in sorted(by_school):
        groups.extend(_school_groups(school, by_school[school], retriever, similarity))
    return tuple(sorted(groups, key=lambda g: (-g.times, g.school, normalise_question(g.question), g.id)))


def _school_groups(school: str, asked: list[Asked], retriever: Retriever, similarity: float) -> list[Group]:
    by_key: dict[str, list[Asked]] = {}
    for a in asked:
        key = normalise_question(a.question)
        if key:
            by_key.setdefault(key, []).append(a)
    keys = sorted(by_key)
    terms = [frozenset(retriever.analyzer.terms(_wording(by_key[k]))) for k in keys]
    parent = list(range(len(keys)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    # Only wordings that share a term can be similar: compare those, not every pair.
    postings: dict[str, list[int]] = {}
    for i, ts in enumerate(terms):
        candidates = {j for t in ts for j in postings.get(t, ())}
        for j in candidates:
            if jaccard(ts, terms[j]) >= similarity:
                a, b = root(i), root(j)
                if a != b:
                    parent[max(a, b)] = min(a, b)
        for t in ts:
            postings.setdefault(t, []).append(i)
    members: dict[int, list[str]] = {}
    for i, key in enumerate(keys):
        members.setdefault(root(i), []).append(key)
    return [_group(school, [by_key[k] for k in group_keys], retriever) for group_keys in members.values()]


def _wording(rows: Sequence[Asked]) -> str:
    """The most common exact wording among rows that normalise alike; ties go to the latest, then the longest."""
    counts = Counter(r.question for r in rows)
    latest: dict[str, float] = {}
    for r in rows:
        if r.asked_at is not None:
            latest[r.question] = max(latest.get(r.question, 0.0), r.asked_at.timestamp())
    return min(counts, key=lambda q: (-counts[q], -latest.get(q, 0.0), -len(q), q))


def _group(school: str, wordings: list[list[Asked]], retriever: Retriever) -> Group:
    # The representative: the wording asked most often, then the shorter, then the first alphabetically.
    main = min(
        wordings, key=lambda rows: (-len(rows), len(normalise_question(rows[0].question)), rows[0].question)
    )
    key = normalise_question(main[0].question)
    question = _wording(main)
    rows = [r for w in wordings for r in w]
    exact = Counter(r.question for r in rows)
    times = [r.asked_at for r in rows if r.asked_at is not None]
    quoted = sorted({r.clause_id for r in rows if r.kind == DOWNVOTED and r.clause_id})
    return Group(
        id=group_id(school, key),
        school=school,
        question=question,
        times=len(rows),
        no_match=sum(1 for r in rows if r.kind == NO_MATCH),
        downvoted=sum(1 for r in rows if r.kind == DOWNVOTED),
        questions=tuple(
            Wording(q, n) for q, n in sorted(exact.items(), key=lambda item: (-item[1], item[0]))
        ),
        quoted=tuple(quoted),
        nearest=nearest_clauses(retriever, school, question),
        last_asked=max(times).isoformat(timespec="seconds") if times else None,
    )


def nearest_clauses(
    retriever: Retriever, school: str, question: str, limit: int = NEAREST
) -> tuple[Nearest, ...]:
    """The school's clauses that score highest for `question`, confident or not; none for an unknown school."""
    kb = retriever.kb
    if school not in kb.schools:
        return ()
    result = retriever.search(school, question, limit)
    return tuple(Nearest(h.clause.id, cite(kb, h.clause).citation, round(h.score, 2)) for h in result.hits)


def find_group(groups: Iterable[Group], wanted: str) -> Group | None:
    wanted = wanted.strip().lower()
    return next((g for g in groups if g.id == wanted), None)


# -- adding an example ------------------------------------------------------------------------------------------


def find_clause(kb: KnowledgeBase, clause_id: str) -> Clause:
    for policy in kb.policies.values():
        for clause in policy.clauses:
            if clause.id == clause_id:
                return clause
    known = [c.id for p in kb.policies.values() for c in p.clauses]
    close = difflib.get_close_matches(clause_id, known, n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise SuggestError(f"unknown clause `{clause_id}`{hint}")


def check_clause_for_school(kb: KnowledgeBase, clause: Clause, school_id: str) -> None:
    """Refuse a clause from a policy that `school_id` does not use."""
    school = kb.school(school_id)
    if clause.policy_id not in school.policies:
        raise SuggestError(
            f"clause `{clause.id}` belongs to the `{clause.policy_id}` policy, which {school.name} (`{school.id}`) "
            f"does not use; its policies: {', '.join(school.policies)}"
        )


def add_example(
    knowledge_dir: Path | str, clause_id: str, question: str, school: str | None = None
) -> Path | None:
    """Add `question` to the `examples:` of clause `clause_id` in `knowledge_dir/policies/<policy>.yaml`.

    Returns the file changed, or None when the clause already has that question (compared without case and
    punctuation). With `school`, refuses a clause from a policy that school does not use. Raises SuggestError
    for an unknown clause, an invalid question or a knowledge base that has errors before the edit, and
    EditRejected (after restoring the file) when the edited knowledge base does not validate.
    """
    directory = Path(knowledge_dir)
    text = clean_question(question)
    kb, problems = check_knowledge(directory)
    if kb is None:
        raise EditRejected(
            "the knowledge base has errors already; fix them first (`policybot kb validate`)", problems
        )
    clause = find_clause(kb, clause_id)
    if school is not None:
        check_clause_for_school(kb, clause, school)
    if normalise_question(text) in {normalise_question(e) for e in clause.examples}:
        return None
    path = directory / "policies" / f"{clause.policy_id}.yaml"
    edited = _with_example(path, path.read_bytes(), clause_id, text)

    def landed(after: KnowledgeBase) -> bool:
        return any(
            c.id == clause_id and text in c.examples for p in after.policies.values() for c in p.clauses
        )

    try:
        # `check_knowledge` is looked up here, not in kbedit, so a test can stand in for the loader.
        kbedit.write_checked(path, edited, directory, check=check_knowledge, before=problems, landed=landed)
    except kbedit.EditRejected as exc:
        raise EditRejected(exc.user_message, exc.problems) from exc
    except kbedit.KnowledgeEditError as exc:
        raise SuggestError(exc.user_message) from exc
    return path


def _with_example(path: Path, original: bytes, clause_id: str, question: str) -> bytes:
    """The file's bytes with `question` appended to the clause's examples, every other line byte for byte.

    ruamel.yaml's round trip keeps comments, order, quoting and folded text, but a file can still hold
    spellings it writes another way (a blank `key:` comes back as `key: null`, `[ a ]` as `[a]`). So the file
    is dumped twice, as read and as edited, and only the lines where those two dumps differ are spliced into
    the original text; the splice must read back as the edited data.
    """
    bom = original.startswith(b"\xef\xbb\xbf")
    source = original.decode("utf-8-sig")
    crlf = "\r\n" in source
    source = source.replace("\r\n", "\n")
    try:
        data = kbedit.load(source, path)
    except kbedit.Unreadable as exc:
        raise SuggestError(exc.user_message) from exc
    items = data.get("clauses") if isinstance(data, CommentedMap) else None
    target = next(
        (c for c in items or () if isinstance(c, CommentedMap) and str(c.get("id")) == clause_id), None
    )
    if target is None:
        raise SuggestError(f"{path}: clause `{clause_id}` not found in the file")
    before = kbedit.dump(data).splitlines()
    _append_example(target, DoubleQuotedScalarString(question))
    edited = kbedit.dump(data)
    lines = source.splitlines(keepends=True)
    hunks = [
        op
        for op in difflib.SequenceMatcher(a=before, b=edited.splitlines(), autojunk=False).get_opcodes()
        if op[0] != "equal"
    ]
    refused = SuggestError(
        f"{path}: cannot add the example without reformatting other lines; add it to `{clause_id}` by hand"
    )
    if len(before) != len(lines) or len(hunks) != 1 or hunks[0][2] - hunks[0][1] > 1:
        raise refused
    _tag, i1, i2, j1, j2 = hunks[0]
    if i1 > 0 and not lines[i1 - 1].endswith("\n"):
        lines[i1 - 1] += "\n"
    spliced = lines[:i1] + [line + "\n" for line in edited.splitlines()[j1:j2]] + lines[i2:]
    result = "".join(spliced)
    try:
        same = kbedit.plain(result) == kbedit.plain(edited)
    except kbedit.Unreadable:
        same = False
    if not same:
        raise refused
    if crlf:
        result = result.replace("\n", "\r\n")
    return (b"\xef\xbb\xbf" if bom else b"") + result.encode("utf-8")


def _append_example(clause: CommentedMap, question: DoubleQuotedScalarString) -> None:
    """Append to `examples:` (made a block list if it was `[]`, null or missing), keeping comments in place.

    ruamel.yaml hangs the blank lines and comments that follow a list's last item (a `# 2. Scope` heading
    before the next clause) on that item; they move to the new last item so they still follow the list.
    """
    examples = clause.get("examples")
    if isinstance(examples, CommentedSeq):
        last = len(examples) - 1
        examples.fa.set_block_style()
        examples.append(question)
        if last >= 0:
            _move_trailing(examples.ca.items, last, examples.ca.items, last + 1, 0)
        else:
            _move_trailing(clause.ca.items, "examples", examples.ca.items, 0, 2)
        return
    if examples is not None:
        raise SuggestError(f"clause `{clause.get('id')}`: `examples` must be a list")
    seq = CommentedSeq([question])
    if "examples" in clause:
        clause["examples"] = seq
        _move_trailing(clause.ca.items, "examples", seq.ca.items, 0, 2)
        return
    previous = list(clause)[-1] if clause else None
    clause["examples"] = seq
    if previous is not None:
        _move_trailing(clause.ca.items, previous, seq.ca.items, 0, 2)


def _move_trailing(
    source: dict[Any, list[Any]], source_key: Any, target: dict[Any, list[Any]], target_key: Any, slot: int
) -> None:
    """Move the comment lines after an end-of-line comment from `source[source_key][slot]` to `target`."""
    entry = source.get(source_key)
    token = entry[slot] if entry and len(entry) > slot else None
    if not isinstance(token, CommentToken):
        return
    value: str = token.value
    if value.startswith("#"):  # an end-of-line comment stays on its line; what follows it moves
        head, newline, rest = value.partition("\n")
        if not rest:
            return
        token.value = head + newline
        moved = CommentToken("\n" + rest, token.start_mark, None)
    else:
        entry[slot] = None
        moved = token
    target[target_key] = [moved, None, None, None]
