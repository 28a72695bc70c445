"""The generated client (clients/python), its answers unwrapped, and live logs over SSE."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
from tessera_client import AuthenticatedClient
from tessera_client.errors import UnexpectedStatus
from tessera_client.models import ErrorBody
from tessera_client.types import Response

from services.cli.user import exits
from services.cli.user.config import Config

T = TypeVar("T")
USER_AGENT = "tessera-cli/0.1.0"


class ApiError(Exception):
    """The API refused, failed or could not be reached; `code` is the CLI's exit code."""

    def __init__(
        self, message: str, code: int, status: int | None = None, body: ErrorBody | None = None
    ) -> None:
        super().__init__(message)
        self.message, self.code, self.status, self.body = message, code, status, body

    def fields(self) -> list[tuple[str, str]]:
        if self.body is None or not isinstance(self.body.fields, list):
            return []
        return [(item.field, item.reason) for item in self.body.fields]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"error": self.message, "status": self.status}
        if self.body is not None:
            out.update(self.body.to_dict())
        return out


def exit_code_for(status: int) -> int:
    if status == 422:
        return exits.USAGE
    if status in (401, 403, 404, 409):
        return exits.REFUSED
    return exits.UNAVAILABLE


def connect(config: Config, timeout: float = 30.0) -> AuthenticatedClient:
    return AuthenticatedClient(
        base_url=config.url,
        token=config.token,
        timeout=httpx.Timeout(timeout, connect=10.0),
        raise_on_unexpected_status=True,
        headers={"User-Agent": USER_AGENT},
    )


def call(function: Callable[..., Response[Any]], expected: type[T], **kwargs: Any) -> T:
    """Call a generated `sync_detailed` function; its parsed answer, or ApiError."""
    try:
        response = function(**kwargs)
    except UnexpectedStatus as error:
        text = error.content.decode(errors="replace")[:500]
        raise ApiError(
            f"HTTP {error.status_code}: {text}", exit_code_for(error.status_code), error.status_code
        ) from None
    except httpx.TimeoutException:
        raise ApiError("the API did not answer in time", exits.UNAVAILABLE) from None
    except httpx.TransportError as error:
        client = kwargs.get("client")
        where = client._base_url if isinstance(client, AuthenticatedClient) else "the API"
        raise ApiError(f"cannot reach {where}: {error}", exits.UNAVAILABLE) from None
    except ValueError as error:  # a documented status whose body is not what it should be
        message = f"the API answered something unreadable: {error}"
        raise ApiError(message, exits.UNAVAILABLE) from None
    parsed = response.parsed
    if isinstance(parsed, expected) and not isinstance(parsed, ErrorBody):
        return parsed
    status = int(response.status_code)
    if isinstance(parsed, ErrorBody):
        raise ApiError(parsed.detail, exit_code_for(status), status, parsed)
    raise ApiError(f"HTTP {status}: unexpected answer", exit_code_for(status), status)


@dataclass
class Event:
    """One server-sent event."""

    name: str = "message"
    data: str = ""
    id: str | None = None


@dataclass
class _Building:
    name: str = "message"
    data: list[str] = field(default_factory=list)
    id: str | None = None


def parse_events(lines: Iterator[str]) -> Iterator[Event]:
    """Events from the lines of a `text/event-stream` (the WHATWG parsing rules)."""
    current = _Building()
    for line in lines:
        if line == "":
            if current.data or current.name != "message":
                yield Event(current.name, "\n".join(current.data), current.id)
            current = _Building(id=current.id)
            continue
        if line.startswith(":"):
            continue  # a comment: the server's keep-alive
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            current.data.append(value)
        elif name == "event":
            current.name = value
        elif name == "id" and "\x00" not in value:
            current.id = value


def follow_log(
    client: AuthenticatedClient,
    path: str,
    *,
    on_text: Callable[[str], None],
    retries: int = 5,
) -> dict[str, Any]:
    """Stream a log until its `end` event; returns the end's payload (state, reason, code).

    A dropped connection is resumed where it stopped (`Last-Event-ID`), a few times.
    """
    http = client.get_httpx_client()
    last_id: str | None = None
    failures = 0
    # The server sends a keep-alive every 10 s: a minute of silence means the link is dead.
    timeout = httpx.Timeout(10.0, read=60.0)
    while True:
        headers = {"Accept": "text/event-stream"}
        if last_id is not None:
            headers["Last-Event-ID"] = last_id
        try:
            with http.stream(
                "GET", path, params={"follow": "true"}, headers=headers, timeout=timeout
            ) as response:
                if response.status_code != 200:
                    response.read()
                    raise _error_from(response)
                for event in parse_events(response.iter_lines()):
                    if event.name == "end":
                        end: dict[str, Any] = json.loads(event.data)
                        return end
                    on_text(event.data)
                    last_id = event.id or last_id
                    failures = 0
        except (httpx.TransportError, httpx.TimeoutException) as error:
            failures += 1
            if failures > retries:
                raise ApiError(f"the log stream broke: {error}", exits.UNAVAILABLE) from None
            time.sleep(min(2.0 * failures, 10.0))
            continue
        # The stream closed without its end event (a proxy cut it): resume.
        failures += 1
        if failures > retries:
            raise ApiError("the log stream keeps closing early", exits.UNAVAILABLE)


def _error_from(response: httpx.Response) -> ApiError:
    status = response.status_code
    try:
        body = ErrorBody.from_dict(response.json())
    except (ValueError, KeyError, TypeError):
        return ApiError(f"HTTP {status}: {response.text[:300]}", exit_code_for(status), status)
    return ApiError(body.detail, exit_code_for(status), status, body)
