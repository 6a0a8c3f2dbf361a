"""The sandbox mailbox store behind :mod:`servicebench.sandbox.imap_server`.

Simulated companies drop replies into a :class:`MailStore` with :meth:`MailStore.deliver`,
choosing the INTERNALDATE (a virtual time on the sandbox's accelerated clock); the IMAP server
reads and changes the mailboxes through the methods below. A lock makes it thread-safe.
Messages are kept byte for byte as delivered; INTERNALDATE has one-second resolution (IMAP's),
so sub-second parts of a delivered time are dropped.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from servicebench.sandbox.imap_protocol import is_valid_flag, normalize_flag, sort_flags

log = logging.getLogger(__name__)

DELIMITER = "/"
INDEX_FILE = "index.json"


@dataclass(frozen=True)
class StoredMail:
    uid: int
    raw: bytes
    internaldate: datetime  # aware, UTC, whole seconds
    flags: frozenset[str] = frozenset()


@dataclass
class _Mailbox:
    name: str
    uidvalidity: int
    uidnext: int = 1
    mails: dict[int, StoredMail] = field(default_factory=dict)  # in UID order
    recent: set[int] = field(default_factory=set)  # \Recent not yet claimed by a SELECT


@dataclass
class _User:
    password: str
    mailboxes: dict[str, _Mailbox] = field(default_factory=dict)


@dataclass(frozen=True)
class MailboxStatus:
    name: str
    uidvalidity: int
    uidnext: int
    uids: tuple[int, ...]
    unseen: int
    recent: frozenset[int]


class MailboxError(Exception):
    """A mailbox operation refused; answered with ``NO [code] message``."""

    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(message)
        self.code = code


#: RFC 6154 special-use attributes reported in LIST by default, by mailbox name
SPECIAL_USE = {"Sent": "\\Sent", "Junk": "\\Junk", "Spam": "\\Junk", "Drafts": "\\Drafts",
               "Trash": "\\Trash"}


def mailbox_key(name: str) -> str:
    """Canonical mailbox name: INBOX is case-insensitive, a trailing delimiter is dropped."""
    name = name.rstrip(DELIMITER) if name != DELIMITER else name
    return "INBOX" if name.upper() == "INBOX" else name


def _utc_seconds(dt: datetime) -> datetime:
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError("internaldate must be timezone-aware")
    return dt.astimezone(UTC).replace(microsecond=0)


class MailStore:
    """Users and their mailboxes, in memory; saved to ``folder`` when one is given.

    Thread-safe. On disk: ``index.json`` (users, mailboxes, UIDVALIDITY, UIDNEXT and per
    message uid, flags, internaldate, file) and ``messages/<sha256>.eml`` (the raw bytes).
    Passwords are kept in clear text: this is a sandbox with made-up accounts.
    """

    def __init__(self, folder: Path | None = None) -> None:
        self._lock = threading.RLock()
        #: special-use attribute by mailbox name, reported in LIST (tests may change it)
        self.special_use = dict(SPECIAL_USE)
        self._users: dict[str, _User] = {}
        self._last_uidvalidity = 0
        self._folder = Path(folder) if folder is not None else None
        if self._folder is not None:
            (self._folder / "messages").mkdir(parents=True, exist_ok=True)
            self._load()

    # ----------------------------------------------------------------- public API

    def add_user(self, user: str, password: str) -> None:
        """Create ``user`` with INBOX and Sent, or change the password of an existing one."""
        with self._lock:
            u = self._users.get(user)
            if u is None:
                u = self._users[user] = _User(password)
            u.password = password
            for name in ("INBOX", "Sent"):
                if name not in u.mailboxes:
                    u.mailboxes[name] = _Mailbox(name, self._new_uidvalidity())
            self._save()

    def users(self) -> list[str]:
        with self._lock:
            return list(self._users)

    def deliver(self, user: str, raw: bytes, internaldate: datetime, mailbox: str = "INBOX",
                flags: Iterable[str] = ()) -> int:
        """Put a message into ``mailbox`` (created if missing) with exactly this INTERNALDATE."""
        when = _utc_seconds(internaldate)
        clean = frozenset(normalize_flag(f) for f in flags) - {"\\Recent"}
        bad = [f for f in clean if not is_valid_flag(f)]
        if bad:
            raise ValueError(f"invalid IMAP flags: {bad}")
        with self._lock:
            mbox = self._mailbox(user, mailbox, create=True)
            uid = mbox.uidnext
            mbox.uidnext += 1
            mbox.mails[uid] = StoredMail(uid, bytes(raw), when, clean)
            mbox.recent.add(uid)
            self._write_message(raw)
            self._save()
            return uid

    def messages(self, user: str, mailbox: str = "INBOX") -> list[StoredMail]:
        with self._lock:
            return list(self._mailbox(user, mailbox).mails.values())

    def uidvalidity(self, user: str, mailbox: str = "INBOX") -> int:
        with self._lock:
            return self._mailbox(user, mailbox).uidvalidity

    def reset_uidvalidity(self, user: str, mailbox: str = "INBOX") -> int:
        """Renumber the messages from UID 1 under a new, higher UIDVALIDITY; return it."""
        with self._lock:
            mbox = self._mailbox(user, mailbox)
            mbox.uidvalidity = self._new_uidvalidity()
            renumbered = {}
            for new_uid, mail in enumerate(mbox.mails.values(), start=1):
                renumbered[new_uid] = replace(mail, uid=new_uid)
            mbox.recent = set()
            mbox.mails = renumbered
            mbox.uidnext = len(renumbered) + 1
            self._save()
            return mbox.uidvalidity

    def create_mailbox(self, user: str, name: str) -> None:
        key = mailbox_key(name)
        if not key or any(ch in key for ch in "*%\r\n") or f"{DELIMITER}{DELIMITER}" in key:
            raise MailboxError(f"invalid mailbox name {name!r}", "CANNOT")
        with self._lock:
            u = self._user(user)
            if key in u.mailboxes:
                raise MailboxError("mailbox already exists", "ALREADYEXISTS")
            u.mailboxes[key] = _Mailbox(key, self._new_uidvalidity())
            self._save()

    def mailboxes(self, user: str) -> list[str]:
        with self._lock:
            return list(self._user(user).mailboxes)

    # ----------------------------------------------------------------- used by the server

    def authenticate(self, user: str, password: str) -> bool:
        with self._lock:
            u = self._users.get(user)
            expected = u.password if u is not None else "\0no such user"
        ok = hmac.compare_digest(password.encode("utf-8"), expected.encode("utf-8"))
        return ok and u is not None

    def has_user(self, user: str) -> bool:
        with self._lock:
            return user in self._users

    def has_mailbox(self, user: str, name: str) -> bool:
        with self._lock:
            return mailbox_key(name) in self._user(user).mailboxes

    def status(self, user: str, name: str) -> MailboxStatus:
        with self._lock:
            m = self._mailbox(user, name)
            unseen = sum(1 for x in m.mails.values() if "\\Seen" not in x.flags)
            return MailboxStatus(m.name, m.uidvalidity, m.uidnext, tuple(m.mails), unseen,
                                 frozenset(m.recent))

    def claim_recent(self, user: str, name: str) -> set[int]:
        """The \\Recent UIDs, which from now on are recent for the caller's session only."""
        with self._lock:
            m = self._mailbox(user, name)
            claimed, m.recent = m.recent, set()
            return claimed

    def get(self, user: str, name: str, uids: Iterable[int]) -> dict[int, StoredMail]:
        with self._lock:
            mails = self._mailbox(user, name).mails
            return {u: mails[u] for u in uids if u in mails}

    def set_flags(self, user: str, name: str, uids: Iterable[int], mode: str,
                  flags: Iterable[str]) -> dict[int, frozenset[str]]:
        """``mode`` ``+`` adds, ``-`` removes, ``=`` replaces; returns the new flags by UID."""
        change = frozenset(normalize_flag(f) for f in flags) - {"\\Recent"}
        out: dict[int, frozenset[str]] = {}
        with self._lock:
            mails = self._mailbox(user, name).mails
            dirty = False
            for uid in uids:
                mail = mails.get(uid)
                if mail is None:
                    continue
                new = (mail.flags | change if mode == "+" else
                       mail.flags - change if mode == "-" else change)
                if new != mail.flags:
                    mails[uid] = replace(mail, flags=new)
                    dirty = True
                out[uid] = new
            if dirty:
                self._save()
        return out

    def expunge(self, user: str, name: str, uids: Iterable[int] | None = None) -> list[int]:
        """Remove the messages flagged \\Deleted (only among ``uids`` if given)."""
        with self._lock:
            m = self._mailbox(user, name)
            among = set(m.mails) if uids is None else set(uids)
            gone = [u for u, x in m.mails.items() if u in among and "\\Deleted" in x.flags]
            for u in gone:
                del m.mails[u]
                m.recent.discard(u)
            if gone:
                self._save(collect=True)
            return gone

    # ----------------------------------------------------------------- internals

    def _user(self, user: str) -> _User:
        u = self._users.get(user)
        if u is None:
            raise KeyError(f"no such sandbox IMAP user: {user!r}")
        return u

    def _mailbox(self, user: str, name: str, create: bool = False) -> _Mailbox:
        u = self._user(user)
        key = mailbox_key(name)
        m = u.mailboxes.get(key)
        if m is None:
            if not create:
                raise MailboxError(f"no mailbox {name!r}", "NONEXISTENT")
            self.create_mailbox(user, key)
            m = u.mailboxes[key]
        return m

    def _new_uidvalidity(self) -> int:
        value = max(int(time.time()), self._last_uidvalidity + 1) & 0xFFFFFFFF or 1
        self._last_uidvalidity = value
        return value

    @staticmethod
    def _digest(raw: bytes) -> str:
        return hashlib.sha256(raw).hexdigest()

    def _write_message(self, raw: bytes) -> None:
        if self._folder is None:
            return
        path = self._folder / "messages" / f"{self._digest(raw)}.eml"
        if not path.exists():
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(raw)
            os.replace(tmp, path)

    def _save(self, collect: bool = False) -> None:
        if self._folder is None:
            return
        users = {}
        for name, u in self._users.items():
            boxes = {}
            for key, m in u.mailboxes.items():
                boxes[key] = {"uidvalidity": m.uidvalidity, "uidnext": m.uidnext,
                              "messages": [{"uid": x.uid, "flags": sort_flags(x.flags),
                                            "internaldate": x.internaldate.isoformat(),
                                            "file": f"{self._digest(x.raw)}.eml"}
                                           for x in m.mails.values()]}
            users[name] = {"password": u.password, "mailboxes": boxes}
        index = {"version": 1, "last_uidvalidity": self._last_uidvalidity, "users": users}
        tmp = self._folder / (INDEX_FILE + ".tmp")
        tmp.write_text(json.dumps(index, indent=1), encoding="utf-8")
        os.replace(tmp, self._folder / INDEX_FILE)
        if collect:
            used = {msg["file"] for u in users.values() for b in u["mailboxes"].values()
                    for msg in b["messages"]}
            for path in (self._folder / "messages").glob("*.eml"):
                if path.name not in used:
                    path.unlink(missing_ok=True)

    def _load(self) -> None:
        assert self._folder is not None
        path = self._folder / INDEX_FILE
        if not path.exists():
            return
        try:
            index = json.loads(path.read_text(encoding="utf-8"))
            self._last_uidvalidity = int(index.get("last_uidvalidity", 0))
            for name, u in index["users"].items():
                user = self._users[name] = _User(u["password"])
                for key, b in u["mailboxes"].items():
                    m = user.mailboxes[key] = _Mailbox(key, int(b["uidvalidity"]),
                                                       int(b["uidnext"]))
                    for msg in b["messages"]:
                        file = self._folder / "messages" / msg["file"]
                        if not file.exists():
                            log.warning("sandbox IMAP store: %s is missing; message skipped",
                                        file)
                            continue
                        when = _utc_seconds(datetime.fromisoformat(msg["internaldate"]))
                        m.mails[int(msg["uid"])] = StoredMail(
                            int(msg["uid"]), file.read_bytes(), when, frozenset(msg["flags"]))
                    self._last_uidvalidity = max(self._last_uidvalidity, m.uidvalidity)
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"sandbox IMAP store index {path} is damaged: {exc}") from exc
