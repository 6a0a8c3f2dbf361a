"""Loading YAML from a study file safely and fast.

libyaml's C parser (``yaml.CSafeLoader``) where available, with a composer of our own that
works without recursion and enforces limits before anything is constructed:

* nesting deeper than MAX_DEPTH is refused (no RecursionError, no C stack overflow);
* aliases may not form cycles nor expand to more than MAX_EXPANDED nodes (an alias bomb is
  refused in microseconds instead of filling memory);
* duplicate keys in a mapping are reported with their line (YAML would silently keep the
  last one: a second ``companies:`` would drop the first list);
* the line map (for error messages) records each node once and never follows an alias.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.events import (
    AliasEvent,
    DocumentEndEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

Loader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
MAX_BYTES = 8_000_000
MAX_DEPTH = 64
MAX_EXPANDED = 200_000
MAX_ALIASES = 10_000

Path_ = tuple[str | int, ...]


class YamlLimit(yaml.YAMLError):
    """The YAML is well-formed but exceeds a limit (or is not one document)."""

    def __init__(self, problem: str, mark: Any = None) -> None:
        self.problem = problem
        self.problem_mark = mark
        super().__init__(problem)


class Loaded:
    """The data, the line of every path, and the duplicate keys found."""

    def __init__(self, data: Any, lines: dict[Path_, int],
                 duplicates: list[tuple[Path_, int, int]]) -> None:
        self.data = data
        self.lines = lines
        self.duplicates = duplicates  # (path, line, first line)


def load_yaml(text: str) -> Loaded:
    """Parse one YAML document. Raises yaml.YAMLError (YamlLimit for the limits above)."""
    if len(text) > MAX_BYTES:
        raise YamlLimit(f"the file is larger than {MAX_BYTES // 1_000_000} MB")
    loader = Loader(text)
    try:
        root, lines, dups = _compose(loader)
        if root is None:
            return Loaded(None, {}, [])
        _check_expansion(root)
        data = loader.construct_document(root)
    finally:
        loader.dispose()
    return Loaded(data, lines, dups)


def _compose(loader: Any) -> tuple[Node | None, dict[Path_, int], list[tuple[Path_, int, int]]]:
    lines: dict[Path_, int] = {}
    dups: list[tuple[Path_, int, int]] = []
    anchors: dict[str, Node] = {}
    # stack entries: [node, path, pending key node or None, {key: line}]
    stack: list[list[Any]] = []
    root: Node | None = None
    aliases = 0
    loader.get_event()  # StreamStart
    if loader.check_event(StreamEndEvent):
        loader.get_event()
        return None, lines, dups
    loader.get_event()  # DocumentStart

    def attach(node: Node) -> Path_ | None:
        """Put ``node`` into its parent; return its path (None for a mapping key)."""
        nonlocal root
        if not stack:
            root = node
            return ()
        parent, path, key, seen = stack[-1]
        if isinstance(parent, SequenceNode):
            parent.value.append(node)
            return path + (len(parent.value) - 1,)
        if key is None:  # node is a key
            stack[-1][2] = node
            if isinstance(node, ScalarNode):
                line = node.start_mark.line + 1
                if node.value in seen and node.value != "<<":
                    dups.append((path + (node.value,), line, seen[node.value]))
                seen.setdefault(node.value, line)
            return None
        parent.value.append((key, node))
        stack[-1][2] = None
        return path + (key.value if isinstance(key, ScalarNode) else str(len(parent.value)),)

    while True:
        event = loader.get_event()
        if isinstance(event, DocumentEndEvent):
            break
        if isinstance(event, AliasEvent):
            aliases += 1
            if aliases > MAX_ALIASES:
                raise YamlLimit(f"more than {MAX_ALIASES} aliases", event.start_mark)
            node = anchors.get(event.anchor)
            if node is None:
                raise YamlLimit(f"found undefined alias {event.anchor!r}", event.start_mark)
            attach(node)  # the line map does not follow aliases
            continue
        if isinstance(event, MappingEndEvent | SequenceEndEvent):
            node = stack.pop()[0]
            node.end_mark = event.end_mark
            continue
        if isinstance(event, ScalarEvent):
            tag = event.tag
            if tag is None or tag == "!":
                tag = loader.resolve(ScalarNode, event.value, event.implicit)
            node = ScalarNode(tag, event.value, event.start_mark, event.end_mark,
                              style=event.style)
        elif isinstance(event, SequenceStartEvent | MappingStartEvent):
            kind = SequenceNode if isinstance(event, SequenceStartEvent) else MappingNode
            tag = event.tag
            if tag is None or tag == "!":
                tag = loader.resolve(kind, None, event.implicit)
            node = kind(tag, [], event.start_mark, None, flow_style=event.flow_style)
        else:
            raise YamlLimit(f"unexpected {type(event).__name__}", event.start_mark)
        if getattr(event, "anchor", None) is not None:
            anchors[event.anchor] = node
        path = attach(node)
        if path is not None:
            lines.setdefault(path, node.start_mark.line + 1)
        elif stack:  # a key: its line is the line of the path it opens
            parent_path = stack[-1][1]
            if isinstance(node, ScalarNode):
                lines[parent_path + (node.value,)] = node.start_mark.line + 1
        if isinstance(node, SequenceNode | MappingNode):
            if len(stack) >= MAX_DEPTH:
                raise YamlLimit(f"nested deeper than {MAX_DEPTH} levels", event.start_mark)
            stack.append([node, path if path is not None else (), None, {}])
    if not loader.check_event(StreamEndEvent):
        event = loader.get_event()
        raise YamlLimit("expected a single document, found another one", event.start_mark)
    return root, lines, dups


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [n for kv in node.value for n in kv]
    return []


def _check_expansion(root: Node) -> None:
    """Refuse alias cycles and documents whose aliases expand beyond MAX_EXPANDED nodes.
    Iterative, each distinct node visited once."""
    size: dict[int, int] = {}
    on_path: set[int] = set()
    todo: list[tuple[Node, bool]] = [(root, False)]
    while todo:
        node, done = todo.pop()
        nid = id(node)
        if done:
            on_path.discard(nid)
            total = 1 + sum(size[id(c)] for c in _children(node))
            if total > MAX_EXPANDED:
                raise YamlLimit(f"aliases expand to more than {MAX_EXPANDED} values "
                                "(an alias bomb?)", node.start_mark)
            size[nid] = total
            continue
        if nid in size:
            continue
        if nid in on_path:
            raise YamlLimit("an alias refers to a node that contains it (a cycle)",
                            node.start_mark)
        on_path.add(nid)
        todo.append((node, True))
        todo.extend((c, False) for c in _children(node) if id(c) not in size)
