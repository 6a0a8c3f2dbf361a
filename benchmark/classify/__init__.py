"""Classify received messages as ``automated``, ``human``, ``bounce`` or ``unrelated``.

The package's parts, each with one job: :mod:`.extract` (readable text of a message),
:mod:`.headers` and :mod:`.content` (evidence from headers and text), :mod:`.rules` and
:mod:`.phrases` (the clues), :mod:`.evidence` (the ledger of clues and the result),
:mod:`.model` (weights fitted on labelled mail, applied to the clues), :mod:`.decide` (kind
and subkind from the weighed clues), :mod:`.anchors` (a keyword gate that keeps the phrase rules
fast), :mod:`.core` (the pipeline) and :mod:`.calibrate` (fits the weights; needs
scikit-learn, only for developers).
"""

from .core import (
    MAX_HTML_CHARS,
    MAX_PART_BYTES,
    MAX_PARTS,
    MAX_RAW_BYTES,
    MAX_REASONS,
    MAX_TEXT_CHARS,
    PLATFORM_DISCOUNT,
    Classification,
    Kind,
    classify_file,
    classify_message,
    classify_text,
    html_text,
)
from .evidence import KINDS

__all__ = [
    "KINDS", "MAX_HTML_CHARS", "MAX_PARTS", "MAX_PART_BYTES", "MAX_RAW_BYTES", "MAX_REASONS",
    "MAX_TEXT_CHARS", "PLATFORM_DISCOUNT", "Classification", "Kind", "classify_file",
    "classify_message", "classify_text", "html_text",
]
