"""Where the full trace of an unexpected error goes (the CLI prints one line naming it)."""

from __future__ import annotations

import os
import sys
import tempfile
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from . import __version__


def write_crash_log(folder: Path, command: str, redact: Callable[[str], str] = str) -> str:
    """Write the current exception's trace (secrets masked) to a log file; return its path.
    In the study folder's logs/ if there is a study there, else in the user's cache
    (``$XDG_CACHE_HOME``, default ~/.cache), else the temporary folder."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    name = f"crash-{stamp}-{os.getpid()}.log"
    text = (f"servicebench {__version__} {command} at {stamp} UTC\n"
            f"argv: {redact(' '.join(sys.argv))}\n\n{redact(traceback.format_exc())}")
    places = []
    if (folder / "study.yaml").is_file():
        places.append(folder / "logs")
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    places += [Path(cache) / "servicebench" / "logs",
               Path(tempfile.gettempdir()) / f"servicebench-{os.getuid()}"]
    for place in places:
        try:
            place.mkdir(parents=True, exist_ok=True)
            (place / name).write_text(text, encoding="utf-8")
            return str(place / name)
        except OSError:
            continue
    sys.stderr.write(text)
    return "(standard error above: no folder could be written)"
