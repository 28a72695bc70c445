"""Credentials are encrypted at rest with the configured key, and only that key reads them."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from shared import secrets
from shared.config import Settings


def test_round_trip_and_never_plain(settings: Settings) -> None:
    stored = secrets.encrypt("-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n")
    assert stored.startswith("fernet:") and "PRIVATE KEY" not in stored
    assert secrets.decrypt(stored) == "-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n"


def test_embedded_default_keeps_one_key_in_home(settings: Settings) -> None:
    stored = secrets.encrypt("x")
    key_file = settings.home / "secret.key"
    assert key_file.exists() and oct(key_file.stat().st_mode & 0o777) == "0o600"
    assert secrets.decrypt(stored) == "x"  # a second call reads the same key


def test_another_key_cannot_read(settings: Settings) -> None:
    stored = secrets.encrypt("x", settings.model_copy(update={"secret_key": _key()}))
    with pytest.raises(secrets.SecretError, match="do not decrypt"):
        secrets.decrypt(stored, settings.model_copy(update={"secret_key": _key()}))


def test_plain_text_is_refused(settings: Settings) -> None:
    with pytest.raises(secrets.SecretError, match="not encrypted"):
        secrets.decrypt("-----BEGIN OPENSSH PRIVATE KEY-----")


def test_production_needs_a_key(settings: Settings) -> None:
    production = settings.model_copy(update={"environment": "production"})
    with pytest.raises(secrets.SecretError, match="TESSERA_SECRET_KEY"):
        secrets.encrypt("x", production)


def _key() -> str:
    return Fernet.generate_key().decode()
