"""Safe YAML loading that remembers where each mapping and list item started, for `file:line` messages.

Knowledge files are plain data: arbitrary Python objects (`!!python/object`), anchors and aliases are refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


class LineDict(dict):
    """A mapping from YAML that knows its own line and the line of each key (1-based)."""

    line: int = 0
    key_lines: dict[str, int]

    def line_of(self, key: str) -> int:
        return self.key_lines.get(key, self.line)


class _Refused(yaml.MarkedYAMLError):
    """Valid YAML that knowledge files may not use."""


# libyaml's C parser (in PyYAML's wheels) composes the same nodes, with the same line marks, some 40x faster than
# the pure-Python one; the pure-Python loader is the fallback where PyYAML was built without it.
_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _LineLoader(_BaseLoader):  # type: ignore[misc, valid-type]
    """SafeLoader (no arbitrary objects) whose mappings are LineDicts."""


def _refuse_anchors(text: str) -> None:
    """Refuse `&anchor` and `*alias` where they stand, before anything is composed.

    HR's files never need them, and aliases nested a few levels deep expand a few hundred bytes into gigabytes (a
    "billion laughs" bomb) before any check could look at the result. They are refused as `!!python/object` tags
    are. Only the parser's events are read, so nothing is expanded.
    """
    for event in yaml.parse(text, Loader=_BaseLoader):
        if isinstance(event, yaml.AliasEvent):
            raise _Refused(
                problem=f"YAML aliases (*{event.anchor}) are not allowed in knowledge files; write the value out",
                problem_mark=event.start_mark,
            )
        if getattr(event, "anchor", None) is not None:
            raise _Refused(
                problem=f"YAML anchors (&{event.anchor}) are not allowed in knowledge files; write the value out",
                problem_mark=event.start_mark,
            )


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    result = LineDict()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in result:
            # PyYAML keeps the last duplicate silently; HR would lose the first entry without knowing.
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"duplicate key {key!r} (first on line {result.key_lines.get(key, '?')})",
                key_node.start_mark,
            )
        result[key] = loader.construct_object(value_node, deep=True)
        if isinstance(key, str):
            result.key_lines[key] = key_node.start_mark.line + 1
    return result


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


class YamlSyntaxError(Exception):
    def __init__(self, path: Path, line: int, message: str):
        super().__init__(f"{path}:{line}: {message}")
        self.path, self.line, self.message = path, line, message


def load_yaml(path: Path) -> Any:
    """Parse one file; raise YamlSyntaxError with the line of the first syntax problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise YamlSyntaxError(path, 1, f"not UTF-8 text ({exc.reason})") from exc
    try:
        if "&" in text or "*" in text:  # no anchor or alias can be written without one of these
            _refuse_anchors(text)
        return yaml.load(text, Loader=_LineLoader)  # noqa: S506 - _LineLoader subclasses SafeLoader
    except _Refused as exc:
        raise YamlSyntaxError(path, exc.problem_mark.line + 1, exc.problem) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        reason = exc.problem or str(exc)
        raise YamlSyntaxError(path, line, f"YAML syntax error: {reason}") from exc
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(path, 1, f"YAML error: {exc}") from exc
