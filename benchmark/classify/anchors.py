"""A cheap keyword gate in front of the phrase rules (issue 13: the regexes were most of the
collect time).

For each rule the words one of which every match must contain are read from the parsed
regular expression; a rule is searched only when one of them occurs in the lower-cased text.
Only ASCII letters, digits and a few punctuation marks make up the words, and the text is
lower-cased the way ``re.IGNORECASE`` folds ASCII letters (including ``ſ`` and ``ı``), so the
gate never skips a rule that would have matched: results are the same, only faster.
"""

from __future__ import annotations

import re

try:  # Python 3.11+
    from re import _constants as C  # type: ignore[attr-defined]
    from re import _parser as P  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - older layouts
    import sre_constants as C  # type: ignore[no-redef]
    import sre_parse as P  # type: ignore[no-redef]

_SAFE = frozenset("abcdefghijklmnopqrstuvwxyz0123456789 -'.,:;/#@&!?%$()")
_MIN_LEN = 3
_FOLD = str.maketrans({"ſ": "s", "ı": "i", "\u212a": "k"})


def gate_text(text: str) -> str:
    """The text as the gate compares it: lower-cased like IGNORECASE folds ASCII letters."""
    return text.translate(_FOLD).lower()


def _required(items: list) -> set[str] | None:  # noqa: C901 - one walk over the parse tree
    """Strings one of which every match of the sequence contains (None: unknown)."""
    candidates: list[set[str]] = []
    run: list[str] = []

    def flush() -> None:
        if run:
            candidates.append({"".join(run)})
            run.clear()

    for op, av in items:
        if op is C.LITERAL:
            ch = chr(av).lower()
            if ch in _SAFE:
                run.append(ch)
                continue
            flush()
            continue
        flush()
        sub: set[str] | None = None
        if op is C.SUBPATTERN:
            sub = _required(list(av[-1]))
        elif op is C.BRANCH:
            alts = [_required(list(b)) for b in av[1]]
            if alts and all(alts):
                sub = set().union(*alts)  # type: ignore[arg-type]
        elif op in (C.MAX_REPEAT, C.MIN_REPEAT, getattr(C, "POSSESSIVE_REPEAT", None)) and \
                av[0] >= 1:
            sub = _required(list(av[2]))
        elif op is getattr(C, "ATOMIC_GROUP", None):
            sub = _required(list(av))
        if sub:
            candidates.append(sub)
    flush()
    good = [c for c in candidates if min(len(s) for s in c) >= _MIN_LEN]
    if not good:
        return None
    return max(good, key=lambda c: (min(len(s) for s in c), -len(c)))


def anchors(pattern: re.Pattern[str]) -> tuple[str, ...] | None:
    """Anchor words for a compiled pattern, or None when the gate cannot be used."""
    if not pattern.flags & re.IGNORECASE:
        return None  # the gate lower-cases; a case-sensitive pattern is always searched
    try:
        found = _required(list(P.parse(pattern.pattern, pattern.flags)))
    except Exception:  # noqa: BLE001 - no gate rather than a wrong one
        return None
    return tuple(sorted(found)) if found else None
