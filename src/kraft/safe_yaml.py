"""The one YAML loader kraft reads with: safe, and closed to the resource bombs of YAML.

Anchors and aliases (`&a`, `*a`, `<<: *a`) let a few hundred bytes expand to billions of nodes
(the "billion laughs") or refer to themselves; no framework, catalogue or mapping needs them, so
they are refused where they are written. Nesting is capped too, as the composer recurses per
level and a deep file would end in a RecursionError.
"""

from __future__ import annotations

from typing import Any

import yaml

MAX_DEPTH = 64  # levels of nesting; a framework uses about 8


class YamlRefusedError(yaml.MarkedYAMLError):
    """YAML kraft will not read although it is valid: an anchor, an alias, or deep nesting."""


class SafeLoader(yaml.SafeLoader):
    """PyYAML's SafeLoader (no Python objects) that refuses anchors, aliases and deep nesting."""

    _depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise YamlRefusedError(
                problem="YAML anchors and aliases are not allowed; write the value out",
                problem_mark=event.start_mark,
            )
        if self._depth >= MAX_DEPTH:
            raise YamlRefusedError(
                problem=f"nested more than {MAX_DEPTH} levels deep, which no kraft file needs; "
                "flatten it",
                problem_mark=event.start_mark,
            )
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def refused_sentence(source: str, error: YamlRefusedError) -> str:
    """The one sentence for refused YAML: `FILE line N: <problem>; <fix>.`"""
    mark = error.problem_mark
    where = f" line {mark.line + 1}" if mark else ""
    return f"{source}{where}: {error.problem}."


def compose(text: str) -> yaml.Node | None:
    """The node tree of one YAML document (line marks kept), read with SafeLoader."""
    return yaml.compose(text, Loader=SafeLoader)


def load(text: str, loader: type[SafeLoader] = SafeLoader) -> Any:
    """Plain data from one YAML document, read with SafeLoader or a subclass of it."""
    return yaml.load(text, Loader=loader)
