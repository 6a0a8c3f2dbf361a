"""Real protocol peers on loopback, started by the tests themselves.

- Dovecot (Debian's dovecot-imapd), configured in a temporary folder: IMAP with STARTTLS
  on one port and implicit TLS on another, a passwd-file user, Maildir storage, Sent and
  Junk folders flagged by SPECIAL-USE (RFC 6154), IDLE.
- aiosmtpd SMTP servers come from the sandbox (``servicebench.sandbox.smtp_server``).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


@dataclass
class Dovecot:
    folder: Path
    starttls_port: int
    tls_port: int
    user: str
    password: str
    cert: Path
    proc: subprocess.Popen[bytes]

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.folder, ignore_errors=True)

    def log(self) -> str:
        p = self.folder / "dovecot.log"
        return p.read_text(errors="replace") if p.exists() else ""


def dovecot_available() -> bool:
    return os.path.exists(DOVECOT)


def start_dovecot(cert: Path, key: Path, user: str = "shopper",
                  password: str = "dovecot-test-pw") -> Dovecot:
    # Dovecot's unprivileged processes must reach these files: pytest's tmp is 0700.
    folder = Path(tempfile.mkdtemp(prefix="servicebench-dovecot-"))
    for sub in ("run", "state", "home"):
        (folder / sub).mkdir(exist_ok=True)
    os.chmod(folder / "home", 0o777)
    os.chmod(folder, 0o755)
    (folder / "users").write_text(f"{user}:{{PLAIN}}{password}::::::\n")
    p1, p2 = free_port(), free_port()
    uid = os.getuid() or 65534  # Dovecot refuses mail access as root
    gid = os.getgid() or 65534
    conf = f"""
base_dir = {folder}/run
state_dir = {folder}/state
log_path = {folder}/dovecot.log
info_log_path = {folder}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = 0
mail_location = maildir:{folder}/home/%u/Maildir
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {folder}/users
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={folder}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {p1}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {p2}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
}}
namespace inbox {{
  inbox = yes
  mailbox Sent {{
    special_use = \\Sent
    auto = create
  }}
  mailbox Junk {{
    special_use = \\Junk
    auto = create
  }}
}}
mailbox_idle_check_interval = 1 secs
"""
    (folder / "dovecot.conf").write_text(conf)
    proc = subprocess.Popen([DOVECOT, "-F", "-c", str(folder / "dovecot.conf")],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_port(p1)
        wait_port(p2)
    except RuntimeError:
        proc.kill()
        out = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
        log = (folder / "dovecot.log").read_text() if (folder / "dovecot.log").exists() else ""
        raise RuntimeError(f"dovecot did not start: {out}\n{log}") from None
    return Dovecot(folder, p1, p2, user, password, cert, proc)
