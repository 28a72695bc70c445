"""Testbed credentials encrypted at rest (Fernet), with the key from TESSERA_SECRET_KEY.

Without a configured key (the embedded default and development), one is made once and kept
in `<home>/secret.key`, so every process sharing the home folder reads the same key.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from shared.config import Settings, get_settings

PREFIX = "fernet:"


class SecretError(ValueError):
    """A stored secret cannot be read with the configured key."""


def _key(settings: Settings) -> bytes:
    if settings.secret_key:
        return settings.secret_key.encode()
    if settings.environment == "production":
        raise SecretError("TESSERA_SECRET_KEY must be set in production")
    path = Path(settings.home) / "secret.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            # O_EXCL: two processes starting at once keep the first key, not two
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "wb") as handle:
                handle.write(Fernet.generate_key())
    return path.read_bytes().strip()


def encrypt(plain: str, settings: Settings | None = None) -> str:
    """The secret as stored: `fernet:` and a Fernet token."""
    token = Fernet(_key(settings or get_settings())).encrypt(plain.encode())
    return PREFIX + token.decode()


def decrypt(stored: str, settings: Settings | None = None) -> str:
    """The secret back; SecretError when it was encrypted with another key or is not ours."""
    if not stored.startswith(PREFIX):
        raise SecretError("the stored credentials are not encrypted; register them again")
    try:
        plain = Fernet(_key(settings or get_settings())).decrypt(stored[len(PREFIX) :].encode())
    except InvalidToken:
        raise SecretError("the stored credentials do not decrypt with TESSERA_SECRET_KEY") from None
    return plain.decode()


def derived_key(purpose: str, settings: Settings | None = None) -> bytes:
    """A key of its own for `purpose` (the dashboard's session cookies), derived from the
    credentials key, so every API process sharing that key signs alike."""
    return hmac.new(_key(settings or get_settings()), purpose.encode(), hashlib.sha256).digest()
