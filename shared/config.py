"""Settings, read from the environment (prefix TESSERA_) and an optional .env file."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MiB = 1024 * 1024


class Settings(BaseSettings):
    """Every knob Tessera reads; the README's configuration table lists them."""

    model_config = SettingsConfigDict(env_prefix="TESSERA_", env_file=".env", extra="ignore")

    home: Path = Field(Path(".tessera"), description="State folder of the embedded default.")
    database_url: str = Field("", description="SQLAlchemy URL; default: SQLite in home.")
    broker_url: str = Field("", description="Celery broker URL; default: SQLite in home.")
    artifact_store: str = Field(
        "", description="Where logs, results and artifacts go: file://PATH or s3://BUCKET/PREFIX."
    )
    # The S3 artifact store (s3://): region and credentials default to boto3's chain
    # (AWS_* variables, ~/.aws, the instance role).
    s3_endpoint_url: str | None = Field(None, description="S3 API endpoint (MinIO, moto...).")
    s3_region: str | None = Field(None, description="S3 region; default: the AWS chain's.")
    s3_access_key_id: str | None = Field(None, description="S3 key; default: the AWS chain.")
    s3_secret_access_key: str | None = Field(None, description="S3 secret of that key.")
    s3_multipart_mb: int = Field(
        8, ge=5, le=5120, description="Objects above this go up in parts of this size (MiB)."
    )
    s3_timeout_s: float = Field(30.0, description="Connect and read timeout of S3 calls.")
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    api_workers: int = 1
    environment: str = Field("development", description="development | production")

    local_testbed: bool = Field(True, description="Register this machine as testbed 'local'.")
    runs_dir: Path | None = Field(None, description="Working folders of local runs.")
    venv_dir: Path | None = Field(None, description="Cache of venvs by content hash.")
    pip_index_url: str | None = Field(None, description="Index pip uses for builds.")
    script_url_prefixes: list[str] = Field(
        default_factory=lambda: ["https://raw.githubusercontent.com/"],
        description="Where an inspection's script may be fetched from when given as a URL.",
    )
    pip_allowed_index_urls: list[str] = Field(
        default_factory=list, description="Indexes a requirements_txt may name (--index-url)."
    )

    build_backend: Literal["buildah", "docker"] = Field("buildah", description="buildah | docker")
    buildah_storage_driver: str = Field("vfs", description="buildah --storage-driver")
    buildah_isolation: str = Field("chroot", description="buildah --isolation")
    build_ca_bundle: Path | None = Field(
        None, description="CA bundle pip trusts inside image builds (a TLS-inspecting proxy)."
    )
    registry: str = Field("127.0.0.1:5000", description="Registry images are pushed to.")
    registry_repository: str = Field("tessera/env", description="Repository of built images.")
    registry_insecure: bool | None = Field(
        None, description="Plain HTTP; default: only for loopback addresses (as Docker does)."
    )
    registry_tls_verify: bool = True
    registry_ca_file: Path | None = None
    registry_username: str | None = None
    registry_password: str | None = None
    registry_timeout_s: float = 10.0

    max_body_bytes: int = 16 * MiB
    max_script_bytes: int = 1 * MiB
    max_files_bytes: int = 8 * MiB
    max_batch_size: int = 100
    max_python_packages: int = 500
    # An application's source archive (PUT /applications/{id}/source).
    max_source_upload_bytes: int = Field(1024 * MiB, description="Body limit of a source upload.")
    max_source_entries: int = Field(50_000, description="Entries a source archive may hold.")
    max_source_bytes: int = Field(4096 * MiB, description="Bytes a source may expand to.")
    max_source_ratio: float = Field(200.0, description="Expanded over compressed, at most.")
    app_build_timeout_s: float = Field(3600.0, description="Default time limit of a build.")
    app_image_base: str = Field(
        "debian:bookworm-slim",
        description="Base of `package: image` executables built on a node's own toolchain "
        "(`base: host`); its libc must run what the nodes compiled.",
    )
    log_cap_bytes: int = Field(8 * MiB, description="stdout and stderr are each cut here.")
    page_size_max: int = 500

    build_timeout_s: float = 1800.0
    run_timeout_s: float = Field(3600.0, description="Default wall time of a run.")
    poll_interval_s: float = 2.0
    worker_nice: int = Field(
        10,
        ge=0,
        le=19,
        description="Niceness the workers take at start: their cycles yield the CPU to the "
        "API's requests on a shared machine.",
    )
    reconcile_interval_s: float = 30.0
    reconcile_after_s: float = Field(120.0, description="A row idle this long is re-sent.")
    refresh_interval_s: float = 300.0
    recheck_interval_s: float = Field(
        30.0,
        description="How often the testbeds and hosts that do not answer are refreshed "
        "again (one that comes back is online within this).",
    )
    # The monitor's loops, each on or off (its beat entry is left out when off).
    poll_enabled: bool = Field(True, description="Poll placed and running runs.")
    reconcile_enabled: bool = Field(True, description="Re-send work stuck in a state.")
    refresh_enabled: bool = Field(True, description="Re-discover every testbed's nodes.")
    lost_after_s: float = Field(
        30.0,
        description="A run whose process vanished, or whose host stopped answering, is "
        "lost after this.",
    )
    default_retry: dict[str, Any] = Field(
        default_factory=dict,
        description="The retry policy of requests that give none, as JSON "
        '(e.g. {"attempts": 3, "on": ["lost"], "backoff_s": 10}); none: one attempt.',
    )
    fence_interval_s: float = Field(
        5.0, description="How often hosts that were lost are asked again, to fence superseded runs."
    )
    broker_send_timeout_s: float = 5.0
    cors_origins: list[str] = Field(
        default_factory=list, description="Origins allowed by CORS; none: CORS is off."
    )
    rate_limit_per_s: float = Field(
        100.0, description="Requests per second per token (bursts of twice that); 0: off."
    )
    auth_cache_s: float = Field(10.0, description="How long a token lookup is cached.")
    inventory_cache_s: float = Field(2.0, description="How long the API caches nodes.")

    secret_key: str = Field("", description="Fernet key that encrypts testbed credentials.")
    ssh_trust_on_first_use: bool = Field(
        False, description="Accept and pin a testbed's unknown SSH host key on first connect."
    )
    ssh_timeout_s: float = Field(30.0, description="Remote commands on testbeds give up after.")
    ssh_keepalive_s: float = Field(
        15.0,
        gt=0,
        description="SSH connections to testbeds send a keepalive this often; three unanswered "
        "and the connection is lost (a host cut off is noticed in about three times this).",
    )
    log_watch_s: float = Field(
        60.0,
        gt=0,
        description="A run's log read through the API or the dashboard is copied live for "
        "this long (renewed while a stream is open); unread logs are collected at the end.",
    )
    place_retry_s: float = Field(
        5.0, description="A run whose node cannot start it now is placed again after this."
    )

    metrics_port: int | None = Field(
        None, description="Port of a worker's or beat's metrics exporter; none when unset."
    )
    metrics_host: str = Field("127.0.0.1", description="Address the metrics exporter binds.")
    metrics_dir: Path | None = Field(
        None, description="prometheus_client multiprocess folder, one per process group."
    )

    @field_validator("home", mode="after")
    @classmethod
    def _absolute_home(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'tessera.sqlite'}"

    @property
    def celery_broker_url(self) -> str:
        return self.broker_url or f"sqla+sqlite:///{self.home / 'broker.sqlite'}"

    @property
    def artifact_root(self) -> Path:
        store = self.artifact_store or f"file://{self.home / 'artifacts'}"
        if not store.startswith("file://"):
            raise ValueError(f"TESSERA_ARTIFACT_STORE: unsupported store {store!r}")
        return Path(store.removeprefix("file://"))

    @property
    def local_runs_dir(self) -> Path:
        return self.runs_dir or self.home / "runs"

    @property
    def local_venv_dir(self) -> Path:
        return self.venv_dir or self.home / "venvs"

    @property
    def registry_plain_http(self) -> bool:
        if self.registry_insecure is not None:
            return self.registry_insecure
        host = self.registry.rsplit(":", 1)[0] if ":" in self.registry else self.registry
        return host in ("localhost", "::1", "[::1]") or host.startswith("127.")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (cached; tests clear the cache)."""
    return Settings()
