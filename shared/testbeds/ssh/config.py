"""The config of an `ssh` testbed: plain hosts, no scheduler, as the API validates it."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.remote.ssh import host_key_line
from shared.testbeds.slurm.config import HOST, NAME, USER


class SshHost(BaseModel):
    """One host: where it is, as whom Tessera logs in, and its pinned host key."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = Field(pattern=HOST, description="The host's address or name.")
    port: int = Field(22, ge=1, le=65535)
    user: str = Field(pattern=USER, description="The account runs run as.")
    host_key: str | None = Field(
        None,
        description="The host's public key (`ssh-ed25519 AAAA...`, as in known_hosts). "
        "Required unless TESSERA_SSH_TRUST_ON_FIRST_USE is on.",
    )
    name: str | None = Field(None, pattern=NAME, description="The node's name (default: host).")

    @field_validator("host_key")
    @classmethod
    def _host_key(cls, value: str | None) -> str | None:
        return None if value is None else host_key_line(value)

    @property
    def node(self) -> str:
        return self.name or self.host


class SshConfig(BaseModel):
    """The hosts of the testbed; one private key (the credentials) logs in to all of them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    hosts: list[SshHost] = Field(min_length=1, max_length=200)
    work_dir: str = Field(
        ".tessera",
        pattern=r"^[A-Za-z0-9_./\-]{1,200}$",
        description="Tessera's folder on each host (relative to the user's home); each host "
        "keeps its runs under WORK_DIR/NODE, so hosts that share a home do not collide.",
    )
    max_sessions: int = Field(10, ge=3, le=100, description="The hosts' sshd MaxSessions.")

    @model_validator(mode="after")
    def _distinct(self) -> SshConfig:
        names = [host.node for host in self.hosts]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"two hosts are named {name!r}: give each a distinct name")
        return self

    def host(self, node: str) -> SshHost:
        for host in self.hosts:
            if host.node == node:
                return host
        raise KeyError(node)
