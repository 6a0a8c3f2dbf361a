"""Remembering that a study document passed validation, so the next start skips it.

Validating ``study.yaml`` against the JSON Schema needs every channel's schema fragment
(importing every channel module) and jsonschema itself: most of a quick command's start-up.
The result depends only on the resolved document and on the code that checks it, so a
document that passed once is not checked again. The key is a SHA-256 over the resolved
document (secret values replaced, so nothing secret is written or hashed), the schema
version, the package version, the channels available and the checking code's files; it is
kept in ``.servicebench-validated`` in the study folder (or nowhere, if that is read-only).
Only passes are remembered: a document with problems is always checked, so every problem is
reported.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from . import __version__
from .channels import registry
from .schema import SCHEMA_VERSION

CACHE_FILE = ".servicebench-validated"
KEEP = 8  # keys remembered (a study file switched back and forth stays fast)


def _redact(value: Any, secrets: set[str]) -> Any:
    if isinstance(value, dict):
        return {str(k): _redact(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v, secrets) for v in value]
    if isinstance(value, str):
        for s in secrets:
            if s:
                value = value.replace(s, "***")
        return value
    return value if isinstance(value, int | float | bool | None) else repr(value)


def _code_stamp() -> list[str]:
    """Size and mtime of the files whose code decides validity (an edited checkout)."""
    here = Path(__file__).parent
    out = []
    for name in ("schema.py", "study.py", "channels.py", "yamlload.py", "rating/rubric.py"):
        try:
            st = (here / name).stat()
            out.append(f"{name}:{st.st_size}:{st.st_mtime_ns}")
        except OSError:
            out.append(name)
    return out


class ValidationCache:
    def __init__(self, folder: Path, resolved: dict[str, Any], secrets: set[str]) -> None:
        self.file = folder / CACHE_FILE
        doc = json.dumps(_redact(resolved, secrets), sort_keys=True, ensure_ascii=False)
        meta = json.dumps([SCHEMA_VERSION, __version__, registry().specs(), _code_stamp()])
        self.key = hashlib.sha256(f"{meta}\n{doc}".encode()).hexdigest()

    def _keys(self) -> list[str]:
        if os.environ.get("SERVICEBENCH_NO_VALIDATION_CACHE"):
            return []
        try:
            data = json.loads(self.file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return []
        if not isinstance(data, dict) or data.get("schema_version") != SCHEMA_VERSION:
            return []
        keys = data.get("passed")
        return [k for k in keys if isinstance(k, str)] if isinstance(keys, list) else []

    def passed(self) -> bool:
        return self.key in self._keys()

    def remember(self) -> None:
        keys = [self.key] + [k for k in self._keys() if k != self.key][:KEEP - 1]
        tmp = self.file.with_name(f"{CACHE_FILE}.{os.getpid()}.part")
        try:
            tmp.write_text(json.dumps({"schema_version": SCHEMA_VERSION, "passed": keys}),
                           encoding="utf-8")
            os.replace(tmp, self.file)
        except OSError:
            try:
                tmp.unlink()
            except OSError:
                pass
