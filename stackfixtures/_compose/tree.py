"""A YAML document as plain values plus where each key was written (PyYAML's nodes keep marks;
its constructed values do not)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from .._problem import Problem

Path = tuple[str | int, ...]
"""A path into the document: `("services", "web", "ports", 0)`."""

_MERGE = "tag:yaml.org,2002:merge"


@dataclass
class Tree:
    """Plain values (dicts, lists, scalars) and the character offset of each path's key (of a
    list item: the item) in the text."""

    file: str
    text: str
    data: Any = None
    at: dict[Path, int] = field(default_factory=dict)

    def line_of(self, path: Path) -> tuple[int, int]:
        """1-based (line, column) of `path`, else of its nearest written ancestor."""
        for n in range(len(path), -1, -1):
            offset = self.at.get(path[:n])
            if offset is not None:
                line = self.text.count("\n", 0, offset) + 1
                return line, offset - (self.text.rfind("\n", 0, offset) + 1) + 1
        return 0, 0

    def problem(self, path: Path, message: str) -> Problem:
        line, column = self.line_of(path)
        key = ".".join(str(p) if isinstance(p, str) else f"[{p}]" for p in path)
        return Problem(self.file, key.replace(".[", "["), message, line, column)


def parse(file: str, text: str) -> tuple[Tree, list[Problem]]:
    """The document of `text`; a YAML syntax error is one Problem at its line."""
    tree = Tree(file, text)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        return tree, [Problem(file, "", f"invalid YAML: {e.problem or e}", line, column)]
    except yaml.YAMLError as e:
        return tree, [Problem(file, "", f"invalid YAML: {e}")]
    except RecursionError:
        return tree, [Problem(file, "", "invalid YAML: nested too deeply")]
    if node is not None:
        tree.at[()] = node.start_mark.index
        try:
            tree.data = _Reader(tree.at).value(node, ())
        except _Unreadable as e:
            return tree, [e.problem(tree)]
    return tree, []


MAX_VALUES = 100_000
"""Values a document may expand to: far more than any compose file holds, far fewer than an
alias bomb (aliases of aliases: 10 levels of 10 are 10^10 values in a few hundred bytes)."""


class _Unreadable(Exception):
    """An alias that refers to itself (at `node`: its anchor), or more values than MAX_VALUES
    once aliases expand (at `path`: the top-level key that grew so)."""

    def __init__(self, path: Path, message: str, node: yaml.Node | None = None) -> None:
        super().__init__(message)
        self.path, self.message, self.node = path, message, node

    def problem(self, tree: Tree) -> Problem:
        found = tree.problem(self.path, self.message)
        if self.node is None:
            return found
        mark = self.node.start_mark
        return Problem(tree.file, found.key, self.message, mark.line + 1, mark.column + 1)


class _Reader:
    """Nodes as plain values, noting where each path's key is written; every alias expanded,
    but at most MAX_VALUES values in all, and never a node inside itself."""

    def __init__(self, at: dict[Path, int]) -> None:
        self.at = at
        self.count = 0
        self.open: set[int] = set()  # the nodes being read (an alias of one: a cycle)
        self.loader = yaml.SafeLoader("")

    def value(self, node: yaml.Node, path: Path) -> Any:
        self.count += 1
        if self.count > MAX_VALUES:
            raise _Unreadable(
                path[:1], f"expands to more than {MAX_VALUES} values (aliases of aliases)"
            )
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node)
        if id(node) in self.open:
            raise _Unreadable(path, "an alias that refers to itself (it never ends)", node)
        self.open.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, path)
            items = []
            for i, item in enumerate(node.value):
                self.at[(*path, i)] = item.start_mark.index
                items.append(self.value(item, (*path, i)))
            return items
        finally:
            self.open.discard(id(node))

    def _mapping(self, node: yaml.MappingNode, path: Path) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        own = [(k, v) for k, v in node.value if k.tag != _MERGE]
        for k, v in node.value:  # `<<: *anchor` first: the keys written here then win
            if k.tag == _MERGE:
                for base in v.value if isinstance(v, yaml.SequenceNode) else [v]:
                    if isinstance(base, yaml.MappingNode):
                        out.update(self.value(base, path))
        for k, v in own:
            key = self.value(k, path)  # (a table or list as a key: counted, read as text)
            key = key if isinstance(key, str) else str(key)
            self.at[(*path, key)] = k.start_mark.index
            out[key] = self.value(v, (*path, key))
        return out

    def _scalar(self, node: yaml.ScalarNode) -> Any:
        value = self.loader.construct_object(node, deep=True)
        if isinstance(value, bool | int | float) and not _yaml12(node, value):
            return node.value  # as Compose (YAML 1.2) reads it: `yes`, `8080:80` are strings
        return value


def _yaml12(node: yaml.Node, value: object) -> bool:
    """Whether a plain scalar PyYAML (YAML 1.1) read as a bool or number is one in YAML 1.2,
    which Compose follows: `true`/`false` only, no `yes`/`on`; no `8080:80` (base 60), `0b1`,
    or `1_000`."""
    text = str(node.value)
    if isinstance(value, bool):
        return text.lower() in ("true", "false")
    return ":" not in text and "_" not in text and not text.lower().startswith(("0b", "+0b"))
