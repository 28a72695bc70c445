"""The registry the builder pushes to, asked over the HTTP API v2 whether a tag exists.

Basic credentials are sent to the registry itself or, when it answers 401 with a Bearer
challenge, to its token service (the flow of Docker Hub, Harbor, GitLab and distribution).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import httpx

MANIFEST_TYPES = ", ".join(
    (
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    )
)
_CHALLENGE = re.compile(r'(\w+)="([^"]*)"')


class RegistryError(Exception):
    """The registry could not be asked (down, refused credentials, unexpected answer)."""


@dataclass(frozen=True)
class RegistryConfig:
    address: str  # host[:port], as image references name it
    insecure: bool = False  # plain HTTP (a loopback test registry)
    tls_verify: bool = True
    ca_file: str | None = None
    username: str | None = None
    password: str | None = None
    timeout_s: float = 10.0

    @property
    def base_url(self) -> str:
        return f"{'http' if self.insecure else 'https'}://{self.address}"


def _verify(config: RegistryConfig) -> bool | str:
    # Plain HTTP needs no TLS context (loading the CA store costs ~50 ms per client).
    if config.insecure or not config.tls_verify:
        return False
    return config.ca_file or True


class RegistryClient:
    """One registry; `has_tag` is the cache lookup of the builder."""

    def __init__(
        self, config: RegistryConfig, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.config = config
        # One connection pool per registry, kept: the lookup is the whole cost of a cache hit.
        self._client = httpx.Client(
            verify=_verify(config), timeout=config.timeout_s, transport=transport
        )

    def _auth(self) -> httpx.BasicAuth | None:
        if self.config.username is None:
            return None
        return httpx.BasicAuth(self.config.username, self.config.password or "")

    def _token(self, client: httpx.Client, challenge: str) -> str:
        fields = dict(_CHALLENGE.findall(challenge))
        realm = fields.pop("realm", None)
        if realm is None:
            raise RegistryError(f"registry {self.config.address}: Bearer challenge without realm")
        answer = client.get(realm, params=fields, auth=self._auth() or httpx.USE_CLIENT_DEFAULT)
        if answer.status_code != 200:
            raise RegistryError(
                f"registry {self.config.address}: token service answered {answer.status_code}"
            )
        body = answer.json()
        token = body.get("token") or body.get("access_token")
        if not isinstance(token, str):
            raise RegistryError(f"registry {self.config.address}: token service gave no token")
        return token

    def has_tag(self, repository: str, tag: str) -> bool:
        """Whether repository:tag is in the registry (HEAD of its manifest)."""
        url = f"{self.config.base_url}/v2/{repository}/manifests/{tag}"
        headers = {"Accept": MANIFEST_TYPES}
        client = self._client
        try:
            answer = client.head(
                url, headers=headers, auth=self._auth() or httpx.USE_CLIENT_DEFAULT
            )
            challenge = answer.headers.get("www-authenticate", "")
            if answer.status_code == 401 and challenge.lower().startswith("bearer "):
                token = self._token(client, challenge[len("bearer ") :])
                headers["Authorization"] = f"Bearer {token}"
                answer = client.head(url, headers=headers)
        except httpx.HTTPError as error:
            raise RegistryError(f"registry {self.config.address}: {error}") from None
        if answer.status_code == 200:
            return True
        if answer.status_code == 404:
            return False
        raise RegistryError(
            f"registry {self.config.address} answered {answer.status_code} for {repository}:{tag}"
        )
