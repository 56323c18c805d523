"""Load and check `knowledge/` into frozen School, Policy, Clause, Topic and Contact objects.

Every problem is reported as `file:line: message`; a load with any error raises KnowledgeError listing them all,
so that HR can fix a file in one pass.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeVar

from bot.errors import KnowledgeError, Problem, UnknownSchool
from bot.yamlsource import LineDict, YamlSyntaxError, load_yaml

if TYPE_CHECKING:
    from bot.parsecache import ParseCache

ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.\-]*$")
EMPLOYER_TYPES = ("council", "governing_body", "trust")
T = TypeVar("T")


@dataclass(frozen=True)
class Role:
    id: str
    label: str
    about: str = ""
    # The hand-off button's words ("Ask your Headteacher"); a role without them (the police) is never offered
    # as a hand-off: the bot cannot pass a question on to them.
    ask: str = ""


@dataclass(frozen=True)
class Topic:
    id: str
    title: str
    roles: tuple[str, ...] = ()
    terms: tuple[str, ...] = ()
    # A personal or safeguarding matter: in a shared channel the answer goes to the asker alone.
    sensitive: bool = False
    # Typed words or phrases ("who", "report*") that ask for what this topic's clauses give: a question showing
    # one ranks them a little higher (bot/retrieval.Ranking.asked_with).
    asked_with: tuple[str, ...] = ()
    # Its roles lead a clause's own contacts when a question asks for the topic by its `asked_with` words: a
    # concern about the head goes to the chair of governors before the head.
    leads_contacts: bool = False


@dataclass(frozen=True)
class WordCombination:
    """From synonyms.yaml `combinations:`: `adds` is searched for when a `when` word precedes a `then` word."""

    adds: str
    when: tuple[str, ...]
    then: tuple[str, ...]


@dataclass(frozen=True)
class Route:
    """From routes.yaml: a kind of question answered at every school, whatever its social media policy says.

    A question close to the route's `examples` is answered with the `lead` contact first, the school's best
    clause on `topic` where its policies have one, and `message` (which must make sense on its own, for a
    school whose policy is silent).
    """

    id: str
    topic: str
    lead: str
    message: str
    examples: tuple[str, ...]
    # A safety net under the examples: a question naming one of `about` (a child) and one of `signs` (a harm)
    # takes the route however near its wording sits to a clause's examples ("posting photos of his bruises").
    about: tuple[str, ...] = ()
    signs: tuple[str, ...] = ()
    # Words as typed that say the question is not of the route's kind, however near its meaning: "calling me",
    # "mocking me" make a pupil's abuse of the asker a matter for the school's rules on online abuse. The signs
    # above still take the route.
    unless: tuple[str, ...] = ()


@dataclass(frozen=True)
class SituationSigns:
    """From sensitive.yaml's `signs:`: a question that names one of `about` and shows one of `any`, as typed, is
    sensitive whatever its meaning ("the head wants to see me about a post" is the asker's own disciplinary
    matter). Words are matched whole; a word ending in `*` matches any word it begins (`investigat*`)."""

    kind: str
    about: tuple[str, ...]
    any: tuple[str, ...]


@dataclass(frozen=True)
class Contact:
    role: str
    title: str
    name: str | None = None
    email: str | None = None
    phone: str | None = None

    @property
    def how(self) -> str | None:
        """How to reach this person, where HR filled it in."""
        parts = [p for p in (self.email, self.phone) if p]
        return ", ".join(parts) if parts else None


@dataclass(frozen=True, slots=True)  # slots: at 500 schools there are 50,000 clauses, each a __dict__ without
class Clause:
    id: str
    policy_id: str
    section: str
    heading: str
    text: str
    lead_in: str | None = None
    topics: tuple[str, ...] = ()
    contacts: tuple[str, ...] = ()
    examples: tuple[str, ...] = ()
    file: str = ""
    line: int = 0

    @property
    def quote(self) -> str:
        """The words an answer quotes: a bullet with its lead-in, so it reads on its own."""
        return f"{self.lead_in} {self.text}" if self.lead_in else self.text


@dataclass(frozen=True)
class Policy:
    id: str
    title: str
    issuer: str
    date: str | None
    version: str | None
    review_date: str | None
    source: str | None
    clauses: tuple[Clause, ...]
    topic_notes: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    file: str = ""

    def overdue_for_review(self, today: dt.date) -> bool:
        due = parse_year_month(self.review_date)
        return due is not None and due < (today.year, today.month)


@dataclass(frozen=True)
class School:
    id: str
    name: str
    employer: str
    employer_type: str
    policies: tuple[str, ...]
    general_contact: str
    contacts: Mapping[str, Contact]

    def contact(self, role: str) -> Contact | None:
        return self.contacts.get(role)


@dataclass(frozen=True)
class LoadedFile:
    """One policy or school file as a load read it: reused by the next load while nothing it depends on changed.

    `context` is what else the file was checked against (the shared files' content and the date), `claimed` the
    clause ids it took with their `file:line`, `depends` the policies a school file was checked against.
    `stat` is the file's (mtime_ns, size, inode) when its bytes were hashed, if it was last written well before
    then: a later load that finds the same stat trusts the bytes unchanged without reading them, as git trusts
    its index (a file written within STAT_TRUST_NS of hashing could change again within the clock's resolution).
    Only files that loaded without an error are kept.
    """

    sha: bytes
    context: tuple
    value: Any
    problems: tuple[Problem, ...]
    claimed: tuple[tuple[str, str], ...] = ()
    depends: tuple[Any, ...] = ()
    stat: tuple[int, int, int] | None = None


@dataclass(frozen=True)
class KnowledgeBase:
    roles: Mapping[str, Role]
    topics: Mapping[str, Topic]
    policies: Mapping[str, Policy]
    schools: Mapping[str, School]
    synonyms: Mapping[str, tuple[str, ...]]
    version: str
    source_dir: str
    warnings: tuple[Problem, ...] = ()
    social_media_words: tuple[str, ...] = ()
    channel_schools: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    combinations: tuple[WordCombination, ...] = ()
    routes: tuple[Route, ...] = ()
    # sensitive.yaml: situations whose answer goes to the asker alone in a shared channel, whatever it quotes
    sensitive_examples: tuple[str, ...] = ()
    # ...and routine questions close to them in wording that must not be taken for one (for tests and tuning)
    routine_examples: tuple[str, ...] = ()
    # ...and the words that mark one however it is worded (the asker's own disciplinary matter)
    sensitive_signs: tuple[SituationSigns, ...] = ()
    # scope.yaml's `off_topic`: what staff ask that no social media policy answers; a question nearer these than
    # any clause's examples is declined
    off_topic_examples: tuple[str, ...] = ()
    # How each policy and school file was read, so that a reload re-reads only the files that changed.
    files: Mapping[str, LoadedFile] = field(
        default_factory=lambda: MappingProxyType({}), compare=False, repr=False
    )

    def school(self, school_id: str) -> School:
        """The school with this id, whatever its case or surrounding spaces ("Reading" is `reading`: ids are
        lower-case, and a person typing one should not have to know that); UnknownSchool otherwise."""
        found = self.find_school_id(school_id)
        if found is None:
            raise UnknownSchool(school_id, list(self.schools))
        return self.schools[found]

    def find_school_id(self, given: object) -> str | None:
        """The id of the school `given` names ignoring case and spaces at either end, or None."""
        if not isinstance(given, str):
            return None
        if given in self.schools:
            return given
        wanted = given.strip().lower()
        return wanted if wanted in self.schools else None

    def policies_for(self, school_id: str) -> tuple[Policy, ...]:
        return tuple(self.policies[p] for p in self.school(school_id).policies)

    def clauses_for(self, school_id: str) -> tuple[Clause, ...]:
        """The school's own clauses and every clause it inherits, in policy order."""
        return tuple(c for p in self.policies_for(school_id) for c in p.clauses)

    @property
    def clause_count(self) -> int:
        return sum(len(p.clauses) for p in self.policies.values())


BARE_SHARE = 0.25  # warn when this share of a policy's clauses has no example questions


def parse_year_month(value: str | None) -> tuple[int, int] | None:
    if not value:
        return None
    m = re.match(r"^(\d{4})(?:-(\d{1,2}))?", str(value))
    if not m:
        return None
    return int(m.group(1)), int(m.group(2) or 12)


def default_knowledge_dir() -> Path:
    """The repository's `knowledge/`, else the copy shipped in the package (POLICYBOT_KNOWLEDGE_DIR, read by
    Settings, overrides both)."""
    here = Path(__file__).resolve().parent
    repo_copy = here.parent / "knowledge"
    if (repo_copy / "roles.yaml").exists():
        return repo_copy
    return here / "_knowledge"


def load_knowledge(
    directory: Path | str | None = None,
    today: dt.date | None = None,
    previous: KnowledgeBase | None = None,
    cache: ParseCache | None = None,
) -> KnowledgeBase:
    """Load the knowledge base or raise KnowledgeError with every error found."""
    kb, problems = check_knowledge(directory, today, previous, cache)
    if kb is None:
        raise KnowledgeError(problems)
    return kb


def check_knowledge(
    directory: Path | str | None = None,
    today: dt.date | None = None,
    previous: KnowledgeBase | None = None,
    cache: ParseCache | None = None,
) -> tuple[KnowledgeBase | None, list[Problem]]:
    """Load and check; return the knowledge base (None when there are errors) and all problems found.

    With `previous` (an earlier load of the same directory), a policy or school file whose bytes, and whatever
    it is checked against, are unchanged is not parsed again: its objects and problems are reused, so the result
    is the same as a full load's. Without it, `cache` supplies the files an earlier process read, and is given
    this load's files when they differ.
    """
    root = Path(directory) if directory else default_knowledge_dir()
    files: Mapping[str, LoadedFile] = {}
    if previous is not None and previous.source_dir == str(root):
        files = previous.files
    elif cache is not None:
        files = cache.read(root)
    loader = _Loader(root, today or dt.date.today(), files)
    result = loader.run()
    if cache is not None and (
        loader.files.keys() != files.keys() or any(files[k] is not v for k, v in loader.files.items())
    ):
        cache.write(root, loader.files)
    return result


STAT_TRUST_NS = 2_000_000_000  # a file last written this long before it was hashed is trusted by its stat


def _stat_of(path: Path) -> tuple[int, int, int]:
    stat = path.stat()
    return stat.st_mtime_ns, stat.st_size, stat.st_ino


def _trusted(stat: tuple[int, int, int]) -> tuple[int, int, int] | None:
    """`stat` if the file was last written long enough ago for a later equal stat to mean equal bytes."""
    return stat if time.time_ns() - stat[0] > STAT_TRUST_NS else None


class _Loader:
    def __init__(self, root: Path, today: dt.date, previous: Mapping[str, LoadedFile] | None = None):
        self.root = root
        self.today = today
        self.problems: list[Problem] = []
        self.digest = hashlib.sha256()
        self.unreadable: set[str] = set()  # file stems that failed to parse: no follow-on errors about them
        self.previous: Mapping[str, LoadedFile] = previous or {}
        self.files: dict[str, LoadedFile] = {}
        self.context: tuple = ()  # what policy and school files are checked against besides themselves
        self.reused = self.parsed = 0
        # One copy of each distinct text: copies of a model policy repeat their clauses' and example questions'
        # words across hundreds of files, and at 500 schools those copies were half the knowledge base's memory.
        self.values: dict[str | tuple[str, ...], str | tuple[str, ...]] = {}

    def shared_sha(self, path: Path) -> bytes | None:
        try:
            return hashlib.sha256(path.read_bytes()).digest()
        except OSError:
            return None

    def unchanged(self, path: Path) -> tuple[bytes | None, LoadedFile | None]:
        """The file's bytes (None if unreadable, or not read because its stat vouches for it) and its earlier
        record when it can be reused as it is."""
        entry = self.previous.get(str(path))
        try:
            stat = _stat_of(path)
            if entry is not None and entry.context == self.context and entry.stat == stat:
                return None, entry  # 82 MB at 500 schools need not be read to know they did not change
            raw = path.read_bytes()
        except OSError:
            return None, None
        if entry is None or entry.context != self.context or entry.sha != hashlib.sha256(raw).digest():
            return raw, None
        trusted = _trusted(stat)
        return raw, entry if entry.stat == trusted else dataclasses.replace(entry, stat=trusted)

    def reuse(self, path: Path, raw: bytes, entry: LoadedFile) -> Any:
        self.digest.update(entry.sha)
        self.problems.extend(entry.problems)
        self.files[str(path)] = entry
        self.reused += 1
        return entry.value

    def remember(self, path: Path, raw: bytes | None, start: int, value: Any, **extra) -> None:
        problems = tuple(self.problems[start:])
        if any(p.severity == "error" for p in problems):
            return
        try:
            stat = _stat_of(path)
            raw = path.read_bytes() if raw is None else raw
        except OSError:
            return
        sha = hashlib.sha256(raw).digest()
        self.files[str(path)] = LoadedFile(sha, self.context, value, problems, stat=_trusted(stat), **extra)

    # -- reporting -------------------------------------------------------------------------------------------
    def rel(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.root.parent))
        except ValueError:
            return str(path)

    def error(self, path: Path, line: int, message: str) -> None:
        self.problems.append(Problem(self.rel(path), line, message))

    def warn(self, path: Path, line: int, message: str) -> None:
        self.problems.append(Problem(self.rel(path), line, message, "warning"))

    def read(self, path: Path) -> Any:
        try:
            # The version is a digest of each file's digest: a reused file adds the one it already has, so the
            # bytes of an unchanged file are hashed once per load, not twice (82 MB at 500 schools).
            self.digest.update(hashlib.sha256(path.read_bytes()).digest())
            return load_yaml(path)
        except YamlSyntaxError as exc:
            self.error(path, exc.line, exc.message)
        except OSError as exc:
            self.error(path, 1, f"cannot read: {exc.strerror}")
        return None

    def mapping(self, path: Path, data: Any, key: str) -> LineDict | None:
        if not isinstance(data, dict):
            self.error(path, getattr(data, "line", 1), "expected a mapping at the top of the file")
            return None
        value = data.get(key)
        if not isinstance(value, dict):
            self.error(
                path, data.line_of(key) if isinstance(data, LineDict) else 1, f"missing mapping `{key}:`"
            )
            return None
        return value

    def text(self, path: Path, m: LineDict, key: str, required: bool = True) -> str | None:
        value = m.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                self.error(path, m.line_of(key), f"`{key}` is missing or empty")
            return None
        if not isinstance(value, str | int | float):
            self.error(path, m.line_of(key), f"`{key}` must be text")
            return None
        return self.shared(" ".join(str(value).split()))

    def shared(self, value: T) -> T:
        """The one copy of `value` (a text or a tuple of texts) this load holds."""
        return self.values.setdefault(value, value)  # type: ignore[arg-type, return-value]

    def id_list(self, path: Path, m: LineDict, key: str) -> tuple[str, ...]:
        value = m.get(key) or []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.error(path, m.line_of(key), f"`{key}` must be a list of ids")
            return ()
        return tuple(value)

    def phrase_list(self, path: Path, m: LineDict, key: str, owner: str) -> tuple[str, ...]:
        """`m[key]`: typed words or short phrases (bot/typed.py), each with its spaces evened; an error naming
        `owner` ("topic `x`") when it is anything but a list of non-empty strings."""
        value = m.get(key) or []
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            self.error(path, m.line_of(key), f"{owner}: `{key}` must be a list of words or short phrases")
            return ()
        return tuple(" ".join(v.split()) for v in value)

    # -- files -----------------------------------------------------------------------------------------------
    def run(self) -> tuple[KnowledgeBase | None, list[Problem]]:
        if not self.root.is_dir():
            self.error(self.root, 1, "knowledge directory not found")
            return None, self.problems
        # Policy and school files are checked against roles and topics, and review dates against this month
        # (`Policy.overdue_for_review` compares years and months): a file read yesterday is still good today.
        self.context = (
            self.shared_sha(self.root / "roles.yaml"),
            self.shared_sha(self.root / "topics.yaml"),
            (self.today.year, self.today.month),
        )
        roles = self.load_roles(self.root / "roles.yaml")
        topics = self.load_topics(self.root / "topics.yaml", roles)
        synonyms, combinations = self.load_synonyms(self.root / "synonyms.yaml")
        scope_words, off_topic = self.load_scope(self.root / "scope.yaml")
        policies = self.load_policies(roles, topics)
        schools = self.load_schools(roles, topics, policies)
        channel_schools = self.load_channels(self.root / "channels.yaml", schools)
        routes = self.load_routes(self.root / "routes.yaml", roles, topics, schools)
        sensitive, routine, sensitive_signs = self.load_sensitive(self.root / "sensitive.yaml")
        if any(p.severity == "error" for p in self.problems):
            return None, self.problems
        kb = KnowledgeBase(
            roles=MappingProxyType(roles),
            topics=MappingProxyType(topics),
            policies=MappingProxyType(policies),
            schools=MappingProxyType(schools),
            synonyms=MappingProxyType(synonyms),
            version=self.digest.hexdigest()[:12],
            social_media_words=scope_words,
            channel_schools=MappingProxyType(channel_schools),
            combinations=combinations,
            routes=routes,
            sensitive_examples=sensitive,
            routine_examples=routine,
            sensitive_signs=sensitive_signs,
            off_topic_examples=off_topic,
            source_dir=str(self.root),
            warnings=tuple(self.problems),
            files=MappingProxyType(self.files),
        )
        return kb, self.problems

    def load_roles(self, path: Path) -> dict[str, Role]:
        data = self.mapping(path, self.read(path), "roles") if path.exists() else None
        if not path.exists():
            self.error(path, 1, "missing file")
        roles: dict[str, Role] = {}
        for rid, value in (data or {}).items():
            if not isinstance(value, dict):
                self.error(path, data.line_of(rid), f"role `{rid}` must be a mapping with a `label`")
                continue
            label = self.text(path, value, "label")
            roles[rid] = Role(
                rid,
                label or rid,
                self.text(path, value, "about", required=False) or "",
                self.text(path, value, "ask", required=False) or "",
            )
        return roles

    def load_topics(self, path: Path, roles: Mapping[str, Role]) -> dict[str, Topic]:
        if not path.exists():
            self.error(path, 1, "missing file")
            return {}
        data = self.mapping(path, self.read(path), "topics")
        topics: dict[str, Topic] = {}
        for tid, value in (data or {}).items():
            line = data.line_of(tid)
            if not isinstance(value, dict):
                self.error(path, line, f"topic `{tid}` must be a mapping with a `title`")
                continue
            topic_roles = self.id_list(path, value, "roles")
            for r in topic_roles:
                if r not in roles:
                    self.error(path, value.line_of("roles"), f"topic `{tid}`: unknown contact role `{r}`")
            terms = tuple(str(t) for t in (value.get("terms") or []))
            flags = {}
            for flag in ("sensitive", "leads_contacts"):
                flags[flag] = value.get(flag, False)
                if not isinstance(flags[flag], bool):
                    self.error(path, value.line_of(flag), f"topic `{tid}`: `{flag}` must be true or false")
                    flags[flag] = False
            asked_with = self.phrase_list(path, value, "asked_with", f"topic `{tid}`")
            if flags["leads_contacts"] and not (asked_with and topic_roles):
                self.error(
                    path,
                    value.line_of("leads_contacts"),
                    f"topic `{tid}`: `leads_contacts` needs `asked_with` phrases and `roles` to lead with",
                )
                flags["leads_contacts"] = False
            title = self.text(path, value, "title") or tid
            topics[tid] = Topic(
                tid, title, topic_roles, terms, flags["sensitive"], asked_with, flags["leads_contacts"]
            )
        return topics

    def load_synonyms(self, path: Path) -> tuple[dict[str, tuple[str, ...]], tuple[WordCombination, ...]]:
        if not path.exists():
            return {}, ()
        data = self.read(path)
        table = self.mapping(path, data, "synonyms") if data is not None else None
        synonyms: dict[str, tuple[str, ...]] = {}
        for canonical, variants in (table or {}).items():
            if not isinstance(variants, list) or not all(isinstance(v, str | int) for v in variants):
                self.error(
                    path, table.line_of(canonical), f"synonyms for `{canonical}` must be a list of words"
                )
                continue
            synonyms[str(canonical)] = tuple(str(v) for v in variants)
        combinations = []
        raw = data.get("combinations") if isinstance(data, dict) else None
        if raw is not None and not isinstance(raw, dict):
            self.error(
                path, data.line_of("combinations"), "`combinations` must map policy words to when/then lists"
            )
            raw = {}
        for adds, rule in (raw or {}).items():
            line = raw.line_of(adds)
            if not isinstance(rule, dict) or not all(
                isinstance(rule.get(k), list) and rule.get(k) and all(isinstance(w, str) for w in rule[k])
                for k in ("when", "then")
            ):
                self.error(path, line, f"combination `{adds}` needs non-empty `when:` and `then:` word lists")
                continue
            combinations.append(WordCombination(str(adds), tuple(rule["when"]), tuple(rule["then"])))
        return synonyms, tuple(combinations)

    def load_scope(self, path: Path) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """`scope.yaml`: the words that show a question is about social media (`social_media_words:`), and
        questions staff ask that the policy does not answer (`off_topic:`, optional)."""
        if not path.exists():
            return (), ()
        data = self.read(path)
        if data is None:
            return (), ()
        words = data.get("social_media_words") if isinstance(data, dict) else None
        if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
            self.error(path, getattr(data, "line", 1), "`social_media_words` must be a list of words")
            return (), ()
        off_topic = data.get("off_topic") or []
        if not isinstance(off_topic, list) or not all(isinstance(q, str) for q in off_topic):
            self.error(path, data.line_of("off_topic"), "`off_topic` must be a list of questions")
            off_topic = []
        return tuple(words), tuple(" ".join(q.split()) for q in off_topic if q.strip())

    def load_sensitive(
        self, path: Path
    ) -> tuple[tuple[str, ...], tuple[str, ...], tuple[SituationSigns, ...]]:
        """`sensitive.yaml`: example situations by kind (`situations:`), routine look-alikes (`not_sensitive:`),
        and the words that mark a kind however it is worded (`signs:`, optional)."""
        if not path.exists():
            return (), (), ()
        data = self.read(path)
        if data is None:
            return (), (), ()
        if not isinstance(data, dict):
            self.error(
                path, 1, "expected `situations:` (kinds of situation, each a list) and `not_sensitive:`"
            )
            return (), (), ()
        situations = data.get("situations") or {}
        if not isinstance(situations, dict):
            self.error(
                path, data.line_of("situations"), "`situations` must map each kind to a list of examples"
            )
            situations = {}
        examples: list[str] = []
        for kind, items in situations.items():
            if not isinstance(items, list) or not all(isinstance(e, str) for e in items):
                self.error(path, situations.line_of(kind), f"`{kind}` must be a list of example questions")
                continue
            examples += [" ".join(e.split()) for e in items if e.strip()]
        routine = data.get("not_sensitive") or []
        if not isinstance(routine, list) or not all(isinstance(e, str) for e in routine):
            self.error(path, data.line_of("not_sensitive"), "`not_sensitive` must be a list of questions")
            routine = []
        signs = self._situation_signs(path, data, situations)
        return tuple(examples), tuple(" ".join(e.split()) for e in routine if e.strip()), signs

    def _situation_signs(self, path: Path, data: LineDict, situations) -> tuple[SituationSigns, ...]:
        """sensitive.yaml's optional `signs:`, mapping a kind of situation to `{about: [...], any: [...]}`."""
        table = data.get("signs")
        if table is None:
            return ()
        if not isinstance(table, dict):
            self.error(path, data.line_of("signs"), "`signs` must map a kind of situation to its signs")
            return ()
        found = []
        for kind, value in table.items():
            if kind not in situations:
                self.error(path, table.line_of(kind), f"signs for `{kind}`: no such kind under `situations`")
                continue
            lists = self._signs(path, table.line_of(kind), f"signs for `{kind}`", value, "who it is about")
            if lists is not None:
                found.append(SituationSigns(str(kind), *lists))
        return tuple(found)

    def load_routes(self, path: Path, roles, topics, schools: Mapping[str, School]) -> tuple[Route, ...]:
        """`routes.yaml`: questions every school answers the same way (a worry about a child goes to the DSL)."""
        if not path.exists():
            return ()
        data = self.read(path)
        table = self.mapping(path, data, "routes") if data is not None else None
        routes = []
        for rid, value in (table or {}).items():
            line = table.line_of(rid)
            if not isinstance(value, dict):
                self.error(
                    path, line, f"route `{rid}` must be a mapping with topic, lead, message and examples"
                )
                continue
            topic = self.text(path, value, "topic")
            lead = self.text(path, value, "lead")
            message = self.text(path, value, "message")
            examples = value.get("examples")
            if topic and topic not in topics:
                self.error(path, value.line_of("topic"), f"route `{rid}`: unknown topic `{topic}`")
            if lead and lead not in roles:
                self.error(path, value.line_of("lead"), f"route `{rid}`: unknown contact role `{lead}`")
            elif lead:
                for sid, school in schools.items():
                    if lead not in school.contacts:
                        self.error(
                            path, value.line_of("lead"), f"route `{rid}`: school `{sid}` has no `{lead}`"
                        )
            if (
                not isinstance(examples, list)
                or not examples
                or not all(isinstance(e, str) for e in examples)
            ):
                self.error(
                    path, value.line_of("examples"), f"route `{rid}`: `examples` must be a list of questions"
                )
                continue
            about, signs = self._route_signs(path, str(rid), value)
            unless = self.phrase_list(path, value, "unless", f"route `{rid}`")
            if topic and lead and message:
                cleaned = tuple(" ".join(e.split()) for e in examples if e.strip())
                routes.append(Route(str(rid), topic, lead, message, cleaned, about, signs, unless))
        return tuple(routes)

    def _route_signs(self, path: Path, rid: str, value: LineDict) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """A route's optional `signs: {about: [...], any: [...]}`: both lists of words or short phrases."""
        table = value.get("signs")
        if table is None:
            return (), ()
        lists = self._signs(
            path, value.line_of("signs"), f"route `{rid}`: `signs`", table, "who the worry is about"
        )
        return lists if lists is not None else ((), ())

    def _signs(
        self, path: Path, line: int, what: str, table: object, about: str
    ) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
        """`{about: [...], any: [...]}`, both lists of words or short phrases, spaces tidied; None if not."""
        lists = [table.get(k) for k in ("about", "any")] if isinstance(table, dict) else [None, None]
        if not all(
            isinstance(x, list) and x and all(isinstance(w, str) and w.strip() for w in x) for x in lists
        ):
            self.error(
                path,
                line,
                f"{what} must have `about` ({about}) and `any` (the signs), each a list of words or short phrases",
            )
            return None
        first, second = (tuple(" ".join(w.split()) for w in x) for x in lists)
        return first, second

    def load_channels(self, path: Path, schools: Mapping[str, School]) -> dict[str, str]:
        """`channels.yaml` as scope keys to school ids: `slack: {channels: {C123: howitt}}` is
        `slack:channels:C123`. The platform and section names are the adapters' (each builds its own keys), so
        adding a channel needs no change here."""
        if not path.exists():
            return {}
        data = self.read(path)
        if data is None:
            return {}
        if not isinstance(data, dict):
            self.error(path, 1, "expected a mapping per platform, such as `slack:` and `teams:`")
            return {}
        mapping: dict[str, str] = {}
        for platform, sections in data.items():
            if sections is None:
                continue
            if not isinstance(sections, dict):
                self.error(path, data.line_of(platform), f"`{platform}` must map sections to id mappings")
                continue
            for kind, section in sections.items():
                if section is None:
                    continue
                if not isinstance(section, dict):
                    self.error(
                        path, sections.line_of(kind), f"`{platform}.{kind}` must map ids to school ids"
                    )
                    continue
                for channel_id, school_id in section.items():
                    if school_id not in schools:
                        self.error(
                            path,
                            section.line_of(channel_id),
                            f"unknown school `{school_id}` for `{channel_id}`",
                        )
                        continue
                    mapping[f"{platform}:{kind}:{channel_id}"] = school_id
        return mapping

    def load_policies(self, roles: Mapping[str, Role], topics: Mapping[str, Topic]) -> dict[str, Policy]:
        policies: dict[str, Policy] = {}
        seen_clause: dict[str, str] = {}
        for path in sorted((self.root / "policies").glob("*.yaml")):
            raw, entry = self.unchanged(path)
            if entry is not None and not any(cid in seen_clause for cid, _ in entry.claimed):
                seen_clause.update(entry.claimed)
                policies[path.stem] = self.reuse(path, raw, entry)
                continue
            start, claimed = len(self.problems), []
            policy = self.load_policy(path, roles, topics, seen_clause, claimed)
            if policy is not None:
                policies[policy.id] = policy
                self.remember(path, raw, start, policy, claimed=tuple(claimed))
        if not policies:
            self.error(self.root / "policies", 1, "no policy files found")
        return policies

    def load_policy(
        self, path: Path, roles, topics, seen_clause: dict[str, str], claimed: list
    ) -> Policy | None:
        self.parsed += 1
        data = self.read(path)
        if data is None:
            self.unreadable.add(path.stem)
            return None
        meta = self.mapping(path, data, "policy")
        if meta is None:
            return None
        pid = self.text(path, meta, "id")
        if pid and pid != path.stem:
            self.error(path, meta.line_of("id"), f"policy id `{pid}` must match the file name `{path.stem}`")
        pid = path.stem
        notes = data.get("topic_notes") or {}
        if not isinstance(notes, dict):
            self.error(path, data.line_of("topic_notes"), "`topic_notes` must map topic ids to sentences")
            notes = {}
        for tid in notes:
            if tid not in topics:
                self.error(path, notes.line_of(tid), f"unknown topic `{tid}` in topic_notes")
        clauses = self.load_clauses(path, pid, data, roles, topics, seen_clause, claimed)
        review = self.text(path, meta, "review_date", required=False)
        policy = Policy(
            id=pid,
            title=self.text(path, meta, "title") or pid,
            issuer=self.text(path, meta, "issuer") or "",
            date=self.text(path, meta, "date", required=False),
            version=self.text(path, meta, "version", required=False),
            review_date=review,
            source=self.text(path, meta, "source", required=False),
            clauses=clauses,
            topic_notes=MappingProxyType({str(k): " ".join(str(v).split()) for k, v in notes.items()}),
            file=self.rel(path),
        )
        if review and parse_year_month(review) is None:
            self.error(path, meta.line_of("review_date"), f"review_date `{review}` is not YYYY or YYYY-MM")
        elif policy.overdue_for_review(self.today):
            self.warn(path, meta.line_of("review_date"), f"policy `{pid}` was due for review in {review}")
        elif not review:
            self.warn(path, meta.line_of("review_date"), f"policy `{pid}` records no review date")
        return policy

    def load_clauses(
        self, path, pid, data, roles, topics, seen: dict[str, str], claimed: list | None = None
    ) -> tuple[Clause, ...]:
        items = data.get("clauses")
        if not isinstance(items, list) or not items:
            self.error(path, data.line_of("clauses"), "`clauses:` must be a non-empty list")
            return ()
        clauses = []
        for item in items:
            if not isinstance(item, dict):
                self.error(path, getattr(data, "line", 1), "each clause must be a mapping")
                continue
            line = item.line
            cid = self.text(path, item, "id")
            if cid is None:
                continue
            if not ID_PATTERN.match(cid):
                self.error(
                    path, item.line_of("id"), f"clause id `{cid}` may use only a-z, 0-9, `.`, `_`, `-`"
                )
            if cid in seen:
                self.error(path, item.line_of("id"), f"duplicate clause id `{cid}` (first at {seen[cid]})")
                continue
            seen[cid] = f"{self.rel(path)}:{line}"
            if claimed is not None:
                claimed.append((cid, seen[cid]))
            text = self.text(path, item, "text")
            if text is None:
                continue
            clause_topics = self.id_list(path, item, "topics")
            for t in clause_topics:
                if t not in topics:
                    self.error(path, item.line_of("topics"), f"clause `{cid}`: unknown topic `{t}`")
            clause_roles = self.id_list(path, item, "contacts")
            for r in clause_roles:
                if r not in roles:
                    self.error(path, item.line_of("contacts"), f"clause `{cid}`: unknown contact role `{r}`")
            examples = item.get("examples") or []
            if not isinstance(examples, list):
                self.error(path, item.line_of("examples"), f"clause `{cid}`: `examples` must be a list")
                examples = []
            clauses.append(
                Clause(
                    id=cid,
                    policy_id=pid,
                    section=self.text(path, item, "section") or "",
                    heading=self.text(path, item, "heading", required=False) or "",
                    text=text,
                    lead_in=self.text(path, item, "lead_in", required=False),
                    topics=self.shared(tuple(map(self.shared, clause_topics))),
                    contacts=self.shared(tuple(map(self.shared, clause_roles))),
                    examples=self.shared(
                        tuple(self.shared(" ".join(str(e).split())) for e in examples if str(e).strip())
                    ),
                    file=self.shared(self.rel(path)),
                    line=line,
                )
            )
        bare = [c for c in clauses if not c.examples]
        if len(bare) >= BARE_SHARE * len(clauses):
            # Not an error: a policy just imported has no examples yet. But the ranking leans on them
            # (bot/retrieval.Ranking), so such a policy's clauses are found less often than they should be. A few
            # list fragments ("This list is not exhaustive.") rightly have none, hence a share, not any.
            self.warn(
                path,
                bare[0].line,
                f"policy `{pid}`: {len(bare)} of {len(clauses)} clauses have no example questions (first "
                f"`{bare[0].id}`), and rank below clauses that have them; add a few as staff would ask",
            )
        return tuple(clauses)

    def load_schools(self, roles, topics, policies: Mapping[str, Policy]) -> dict[str, School]:
        schools: dict[str, School] = {}
        for path in sorted((self.root / "schools").glob("*.yaml")):
            raw, entry = self.unchanged(path)
            if entry is not None and all(policies.get(p.id) is p for p in entry.depends):
                schools[path.stem] = self.reuse(path, raw, entry)
                continue
            start = len(self.problems)
            school = self.load_school(path, roles, topics, policies)
            if school is not None:
                schools[school.id] = school
                depends = tuple(policies[p] for p in school.policies if p in policies)
                if len(depends) == len(school.policies):
                    self.remember(path, raw, start, school, depends=depends)
        if not schools:
            self.error(self.root / "schools", 1, "no school files found")
        return schools

    def load_school(self, path: Path, roles, topics, policies: Mapping[str, Policy]) -> School | None:
        self.parsed += 1
        data = self.read(path)
        if data is None:
            return None
        meta = self.mapping(path, data, "school")
        if meta is None:
            return None
        sid = self.text(path, meta, "id")
        if sid and sid != path.stem:
            self.error(path, meta.line_of("id"), f"school id `{sid}` must match the file name `{path.stem}`")
        sid = path.stem
        employer_type = self.text(path, meta, "employer_type") or "council"
        if employer_type not in EMPLOYER_TYPES:
            self.error(path, meta.line_of("employer_type"), f"employer_type must be one of {EMPLOYER_TYPES}")
        policy_ids = self.id_list(path, meta, "policies")
        if not policy_ids:
            self.error(path, meta.line_of("policies"), "a school needs at least one policy")
        for p in policy_ids:
            if p not in policies and p not in self.unreadable:
                self.error(path, meta.line_of("policies"), f"unknown policy `{p}`")
        general = self.text(path, meta, "general_contact") or "hr_provider"
        contacts = self.load_contacts(path, data, roles)
        needed = {general}
        for p in policy_ids:
            for c in policies[p].clauses if p in policies else ():
                needed.update(c.contacts)
                for t in c.topics:
                    needed.update(topics[t].roles if t in topics else ())
        for role in sorted(needed - set(contacts)):
            if role in roles:
                self.error(path, data.line_of("contacts"), f"school `{sid}` has no contact for role `{role}`")
        return School(
            id=sid,
            name=self.text(path, meta, "name") or sid,
            employer=self.text(path, meta, "employer") or "",
            employer_type=employer_type,
            policies=policy_ids,
            general_contact=general,
            contacts=MappingProxyType(contacts),
        )

    def load_contacts(self, path: Path, data: LineDict, roles: Mapping[str, Role]) -> dict[str, Contact]:
        raw = data.get("contacts")
        if not isinstance(raw, dict):
            self.error(path, data.line_of("contacts"), "missing mapping `contacts:`")
            return {}
        contacts = {}
        for role, value in raw.items():
            if role not in roles:
                self.error(path, raw.line_of(role), f"unknown contact role `{role}`")
                continue
            if not isinstance(value, dict):
                self.error(path, raw.line_of(role), f"contact `{role}` must be a mapping with a `title`")
                continue
            contacts[role] = Contact(
                role=role,
                title=self.text(path, value, "title") or roles[role].label,
                name=self.text(path, value, "name", required=False),
                email=self.text(path, value, "email", required=False),
                phone=self.text(path, value, "phone", required=False),
            )
        return contacts
