"""TLS settings shared by the SMTP and IMAP clients."""

from __future__ import annotations

import ssl


def client_context(ca_file: str | None, verify: bool) -> ssl.SSLContext:
    """The system's trust store, plus ``ca_file`` (self-signed servers); ``verify=False``
    only for test servers whose certificate cannot be checked."""
    ctx = ssl.create_default_context(cafile=ca_file) if ca_file else ssl.create_default_context()
    if not verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx
