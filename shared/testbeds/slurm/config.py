"""The config of a `slurm` testbed, as the API validates it and the connector reads it."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.remote.ssh import host_key_line

SAFE_VALUE = re.compile(r"^[A-Za-z0-9_.+\-]{1,128}$")


NAME = r"^[A-Za-z0-9_.+\-]{1,128}$"
HOST = r"^[A-Za-z0-9]([A-Za-z0-9.\-:]{0,252})$"
USER = r"^[a-z_][a-z0-9_.\-]{0,31}$"


class SlurmConfig(BaseModel):
    """Where the login node is, how it is trusted, and what every job of the testbed asks."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = Field(pattern=HOST, description="The login node's address.")
    port: int = Field(22, ge=1, le=65535)
    user: str = Field(pattern=USER, description="The account runs are submitted as.")
    host_key: str | None = Field(
        None,
        description="The login node's public host key (`ssh-ed25519 AAAA...`, as in "
        "known_hosts). Required unless TESSERA_SSH_TRUST_ON_FIRST_USE is on.",
    )
    partition: str | None = Field(None, pattern=NAME, description="Default partition.")
    account: str | None = Field(None, pattern=NAME)
    qos: str | None = Field(None, pattern=NAME)
    gres_types: dict[str, str] = Field(
        default_factory=dict,
        description='Accelerator model -> the cluster\'s gres type, e.g. {"H100": "h100"}.',
    )
    gres_vendor: str = Field("nvidia", pattern=r"^[a-z]{2,20}$", description="Vendor of gpu gres.")
    work_dir: str = Field(
        ".tessera",
        pattern=r"^[A-Za-z0-9_./\-]{1,200}$",
        description="Tessera's folder on the cluster (relative to the user's home).",
    )
    max_sessions: int = Field(10, ge=3, le=100, description="The sshd's MaxSessions.")
    accounting: Literal["slurmdbd", "jobcomp"] = Field(
        "slurmdbd",
        description="Where sacct reads ended jobs: slurmdbd, or the jobcomp file (`sacct -c`).",
    )

    @field_validator("host_key")
    @classmethod
    def _host_key(cls, value: str | None) -> str | None:
        return None if value is None else host_key_line(value)

    @field_validator("gres_types")
    @classmethod
    def _gres_types(cls, value: dict[str, str]) -> dict[str, str]:
        for model, gres in value.items():
            if not SAFE_VALUE.match(model) or not SAFE_VALUE.match(gres):
                raise ValueError(f"{model!r}: {gres!r}: letters, digits, _ . + - only")
        return value
