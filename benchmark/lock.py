"""One study, one process: an OS file lock on the study folder.

Every command that writes (run, collect, assign, resolve, log) holds an exclusive
``flock`` on the study folder itself for its whole life. The kernel releases it when the
process ends, however it ends (even ``kill -9``), so a stale lock is impossible. While the lock
is held, the holder's pid and start time are kept in ``.servicebench.lock`` beside
``study.yaml`` so that a second process can say who is busy; the file is removed again on
release. It only informs; the lock is the folder's ``flock``.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

from .errors import ServicebenchError

INFO_FILE = ".servicebench.lock"
DEFAULT_WAIT = 10.0  # seconds a second process waits before it gives up


class StudyBusy(ServicebenchError):
    """Another process holds the study's lock."""

    exit_code = 1


class StudyLock:
    """Exclusive lock on a study folder; a context manager.

    ``wait``: seconds to wait for another holder to finish (0: fail at once).
    """

    def __init__(self, folder: Path, command: str = "", wait: float = DEFAULT_WAIT) -> None:
        self.folder = Path(folder)
        self.command = command
        self.wait = max(0.0, float(wait)) if wait == wait else 0.0  # NaN -> 0
        self._fd: int | None = None

    @property
    def info_path(self) -> Path:
        return self.folder / INFO_FILE

    def acquire(self) -> StudyLock:
        try:
            fd = os.open(self.folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        except OSError as exc:
            raise ServicebenchError(f"{self.folder}: cannot open the study folder: "
                                    f"{exc.strerror}") from exc
        deadline = time.monotonic() + min(self.wait, 10**6)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise StudyBusy(self._busy_message()) from None
                time.sleep(0.05)
            except OSError as exc:  # e.g. a file system without locks
                os.close(fd)
                raise ServicebenchError(f"{self.folder}: cannot lock the study: "
                                        f"{exc.strerror}") from exc
        self._fd = fd
        self._write_info()
        return self

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            self.info_path.unlink(missing_ok=True)
        except OSError:
            pass
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> StudyLock:
        return self.acquire()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()

    def _write_info(self) -> None:
        info = {"pid": os.getpid(), "started_at": datetime.now(UTC).isoformat(
            timespec="seconds"), "command": self.command}
        tmp = self.info_path.with_name(INFO_FILE + f".{os.getpid()}")
        try:
            tmp.write_text(json.dumps(info), encoding="utf-8")
            os.replace(tmp, self.info_path)
        except OSError:  # a read-only folder: the lock still holds, only the info is missing
            tmp.unlink(missing_ok=True)

    def _busy_message(self) -> str:
        holder = holder_info(self.folder)
        who = "another servicebench process"
        if holder:
            who = f"process {holder.get('pid')}"
            if holder.get("command"):
                who += f" ({holder['command']})"
            if holder.get("started_at"):
                who += f", running since {holder['started_at']}"
        waited = f" (waited {self.wait:g} s)" if self.wait else ""
        return (f"{self.folder}: the study is busy: {who} is working on it{waited}. Wait until "
                "it has finished, or give --wait SECONDS to wait longer.")


def holder_info(folder: Path) -> dict[str, object] | None:
    """What the current holder wrote about itself, if anything."""
    try:
        data = json.loads((Path(folder) / INFO_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
