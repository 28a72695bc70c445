"""Where the CLI finds its server and token: the environment, the config file, or this host."""

from __future__ import annotations

import json
import os
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

URL_ENV = "TESSERA_URL"
TOKEN_ENV = "TESSERA_TOKEN"
CONFIG_ENV = "TESSERA_CONFIG"


class ConfigError(Exception):
    """The configuration cannot be read, or says nothing usable."""


@dataclass(frozen=True)
class Config:
    url: str
    token: str
    source: str


def config_path() -> Path:
    """$TESSERA_CONFIG, else $XDG_CONFIG_HOME/tessera/config.toml (~/.config by default)."""
    if os.environ.get(CONFIG_ENV):
        return Path(os.environ[CONFIG_ENV]).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base).expanduser() / "tessera" / "config.toml"


def _toml_string(value: str) -> str:
    # A JSON string is a valid TOML basic string: the same escapes, quotes and backslashes.
    return json.dumps(value, ensure_ascii=False)


def save(url: str, token: str, path: Path | None = None) -> Path:
    """Write the server and token; the file is created 0600 and replaced atomically."""
    path = path or config_path()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    text = (
        "# Written by `tessera login`; holds a secret: keep it mode 0600.\n"
        f"url = {_toml_string(url)}\ntoken = {_toml_string(token)}\n"
    )
    # mkstemp creates the file 0600, so the token is never readable by others, even briefly.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".config-")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _from_file(path: Path) -> tuple[str | None, str | None]:
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        return None, None
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"cannot read {path}: {error}") from None
    url, token = data.get("url"), data.get("token")
    return (url if isinstance(url, str) else None), (token if isinstance(token, str) else None)


def _embedded() -> tuple[str, str | None]:
    """The server `tessera up` / `make run` starts on this host, and its admin token."""
    from shared.config import get_settings

    settings = get_settings()
    host = "127.0.0.1" if settings.api_host in ("0.0.0.0", "::") else settings.api_host
    token_file = settings.home / "admin.token"
    try:
        token = token_file.read_text().strip() or None
    except OSError:
        token = None
    return f"http://{host}:{settings.api_port}", token


def load() -> Config:
    """TESSERA_URL / TESSERA_TOKEN win, then the config file, then this host's `tessera up`."""
    path = config_path()
    file_url, file_token = _from_file(path)
    url = os.environ.get(URL_ENV) or file_url
    token = os.environ.get(TOKEN_ENV) or file_token
    source = str(path) if file_url or file_token else "the environment"
    if url is None or token is None:
        local_url, local_token = _embedded()
        if url is None:
            url, source = local_url, "this host's `tessera up`"
        if token is None:
            token = local_token
    if not token:
        raise ConfigError(
            f"no token for {url}: run `tessera login URL --token TOKEN` or set {TOKEN_ENV}"
        )
    return Config(url=url.rstrip("/"), token=token, source=source)
