"""The config of an `ec2` testbed, as the API validates it; its credentials (an access key
pair, `ACCESS_KEY_ID:SECRET`, encrypted at rest with shared/secrets.py, never returned), or
none to use the role the workers run under."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

REGION = r"^[a-z]{2}(-gov)?-[a-z]+-[0-9]$"
INSTANCE_TYPE = r"^[a-z][a-z0-9-]*\.[a-z0-9]+$"
TAG = r"^[A-Za-z0-9 _.:/=+@-]{1,128}$"
ARCHES = ("x86_64", "arm64")


class Ec2Config(BaseModel):
    """Where instances go, which types they may be, and how they are bought."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    region: str = Field(pattern=REGION, description="The AWS region, e.g. us-east-1.")
    endpoint_url: str | None = Field(
        None,
        pattern=r"^https?://[A-Za-z0-9.\-\[\]:]+(/[A-Za-z0-9._~/-]*)?$",
        description="The EC2 API endpoint (default: the region's).",
    )
    subnet_id: str | None = Field(None, pattern=r"^subnet-[0-9a-f]{8,17}$")
    security_group_ids: list[str] = Field(
        default_factory=list, max_length=5, description="sg-... ids for the instances."
    )
    key_name: str | None = Field(None, pattern=r"^[A-Za-z0-9 ._-]{1,255}$")
    images: dict[str, str] = Field(
        description="The AMI per architecture: {x86_64: ami-..., arm64: ami-...}, or an SSM "
        "parameter name (resolve:ssm:/aws/service/...) per architecture.",
        min_length=1,
    )
    instance_types: list[str] = Field(
        default_factory=list,
        max_length=200,
        description="The instance types allowed (default: the GPU, accelerator and a few "
        "general families).",
    )
    spot: bool = Field(True, description="Buy spot capacity first.")
    max_price_per_hour: float | None = Field(
        None, gt=0, le=1000, description="The most to pay per instance hour (USD)."
    )
    on_demand_fallback: bool = Field(True, description="On-demand when spot is refused.")
    max_instances: int = Field(20, ge=1, le=1000, description="Tessera's instances at once.")
    idle_timeout_s: int = Field(
        600, ge=0, le=86400, description="An instance whose run never started is ended after."
    )
    tags: dict[str, str] = Field(default_factory=dict, max_length=20)
    request_timeout_s: float = Field(30.0, gt=0, le=300, description="Each API call's timeout.")

    @field_validator("security_group_ids")
    @classmethod
    def _groups(cls, value: list[str]) -> list[str]:
        for group in value:
            if not group.startswith("sg-") or not group[3:].isalnum():
                raise ValueError(f"not a security group id: {group!r}")
        return value

    @field_validator("images")
    @classmethod
    def _images(cls, value: dict[str, str]) -> dict[str, str]:
        for arch, image in value.items():
            if arch not in ARCHES:
                raise ValueError(f"images: unknown architecture {arch!r} (x86_64, arm64)")
            ami = image.startswith("ami-") and image[4:].isalnum()
            ssm = image.startswith("resolve:ssm:/") and all(
                c.isalnum() or c in "/._-:" for c in image
            )
            if not (ami or ssm) or len(image) > 200:
                raise ValueError(f"images.{arch}: not an AMI id or resolve:ssm:/ name: {image!r}")
        return value

    @field_validator("instance_types")
    @classmethod
    def _types(cls, value: list[str]) -> list[str]:
        import re

        for name in value:
            if not re.match(INSTANCE_TYPE, name):
                raise ValueError(f"not an instance type: {name!r}")
        return value

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: dict[str, str]) -> dict[str, str]:
        import re

        for key, text in value.items():
            if not re.match(TAG, key) or key.lower().startswith(("aws:", "tessera:")):
                raise ValueError(f"tags: bad or reserved key {key!r}")
            if len(text) > 256 or not re.match(r"^[A-Za-z0-9 _.:/=+@-]*$", text):
                raise ValueError(f"tags.{key}: bad value")
        return value


def credentials(text: str) -> tuple[str, str]:
    """(access key id, secret) of `ACCESS_KEY_ID:SECRET` (or a JSON object with both)."""
    import json

    stripped = text.strip()
    if stripped.startswith("{"):
        data = json.loads(stripped)
        key, secret = data.get("access_key_id"), data.get("secret_access_key")
    else:
        key, _, secret = stripped.partition(":")
    if not key or not secret or not str(key).isalnum() or len(str(key)) > 128:
        raise ValueError(
            "credentials: ACCESS_KEY_ID:SECRET (or {access_key_id, secret_access_key})"
        )
    return str(key), str(secret)
