"""Jinja's sandbox for scenario texts, bounded: imported only when a text is rendered or
checked, so commands that do neither (``collect``, ``status``) start without Jinja."""

from __future__ import annotations

from typing import Any

from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

MAX_OPERAND = 100_000  # the largest string/list a template may build with * or **


class _BoundedSandbox(SandboxedEnvironment):
    """Jinja's sandbox (no attribute escapes, range() capped) plus caps on ``*`` and ``**``,
    which could otherwise build gigabyte strings or astronomically large numbers."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**":
            if isinstance(right, int | float) and abs(right) > 64:
                raise OverflowError("exponent too large in template")
            return left ** right
        for seq, n in ((left, right), (right, left)):
            if isinstance(seq, str | list | tuple) and isinstance(n, int) and \
                    len(seq) * n > MAX_OPERAND:
                raise OverflowError("the template builds a text or list that is too large")
        return left * right


_ENV: SandboxedEnvironment | None = None


def template_env() -> SandboxedEnvironment:
    global _ENV
    if _ENV is None:
        _ENV = _BoundedSandbox(undefined=StrictUndefined, autoescape=False,
                               keep_trailing_newline=True)
    return _ENV
