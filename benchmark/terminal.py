"""Untrusted text on the terminal: without control characters.

A Subject or From header can carry escape sequences that would recolour the terminal, move
the cursor, rewrite the window title or hide text. They are replaced before printing.
"""

from __future__ import annotations

import re

# C0 and C1 controls (tab kept), DEL, and the bidirectional overrides/isolates that reorder
# what is shown
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def clean(text: object, limit: int = 500) -> str:
    """``text`` safe to print on one terminal line: controls shown as '?', cut at ``limit``."""
    s = _CONTROL.sub("?", "" if text is None else str(text))
    return s if len(s) <= limit else s[:limit] + "…"
