"""What every build backend shares: the interface, the log callback, the registry auth file.

backends.py (buildah, docker, and the choice among them) builds on this.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar, Protocol

Log = Callable[[str], None]


class Backend(Protocol):
    name: ClassVar[str]

    def build(self, context: Path, reference: str, log: Log, deadline: float) -> None:
        """Build the context's Containerfile into `reference` (failing with the reason)."""

    def push(self, reference: str, log: Log, deadline: float) -> None:
        """Push `reference` to its registry."""


def authfile_json(registry: str, username: str, password: str) -> str:
    """A containers-auth.json / docker config.json holding one registry's credentials."""
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return json.dumps({"auths": {registry: {"auth": token}}})
