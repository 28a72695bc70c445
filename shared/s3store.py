"""The S3 artifact store (`TESSERA_ARTIFACT_STORE=s3://bucket/prefix`), through boto3.

Keys are the filesystem store's, under the prefix. Writes stream: `put_stream` reads its
source one part at a time and sends an object that fits one part as a single PUT, a larger
one as a multipart upload (aborted when anything fails, so no half object is ever visible,
and no parts are left to pay for). Reads stream the body in chunks. Every call has the
connect and read timeouts of `s3_timeout_s` and boto3's standard retries.
"""

from __future__ import annotations

import io
import threading
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from shared.store import ArtifactStore, check_key

if TYPE_CHECKING:
    from shared.config import Settings

MiB = 1024 * 1024
PARALLEL = 4  # parts of one multipart upload sent at once
_POOL_LOCK = threading.Lock()
MISSING = {"404", "NoSuchKey", "NotFound"}


def parse_url(url: str) -> tuple[str, str]:
    """(bucket, prefix) of `s3://bucket/prefix` (the prefix without its slashes)."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc:
        raise ValueError(f"TESSERA_ARTIFACT_STORE: not an s3://BUCKET/PREFIX URL: {url!r}")
    prefix = parts.path.strip("/")
    if prefix:
        check_key(prefix)
    return parts.netloc, prefix


def client_config(timeout_s: float, pool: int = 16) -> Config:
    return Config(
        connect_timeout=timeout_s,
        read_timeout=timeout_s,
        retries={"max_attempts": 3, "mode": "standard"},
        max_pool_connections=pool,
        s3={"addressing_style": "path"},
        signature_version="s3v4",
    )


def make_client(
    *,
    endpoint_url: str | None,
    region: str | None,
    access_key_id: str | None = None,
    secret_access_key: str | None = None,
    timeout_s: float = 30.0,
    service: str = "s3",
) -> Any:
    """A boto3 client; region and credentials from the AWS chain where not given."""
    session = boto3.session.Session(
        aws_access_key_id=access_key_id or None,
        aws_secret_access_key=secret_access_key or None,
        region_name=region or None,
    )
    made: Any = session.client(  # type: ignore[call-overload]
        service, endpoint_url=endpoint_url, config=client_config(timeout_s)
    )
    return made


class S3Store(ArtifactStore):
    """Objects in one bucket under one prefix."""

    def __init__(self, client: Any, bucket: str, prefix: str = "", part_size: int = 8 * MiB):
        self.client, self.bucket, self.prefix = client, bucket, prefix.strip("/")
        self.part_size = max(5 * MiB, part_size)  # S3's smallest part but the last
        # Sizes of the objects this process wrote: `size` answers them without a HEAD (the
        # monitor asks each running run's log size every cycle). Another process's write
        # makes one answer stale until this one writes or reads it again: a log fetched once
        # more, never one missed for good (the connector compares its own size with it).
        self._sizes: dict[str, int] = {}
        self._uploads: ThreadPoolExecutor | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> S3Store:
        bucket, prefix = parse_url(settings.artifact_store)
        client = make_client(
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            access_key_id=settings.s3_access_key_id,
            secret_access_key=settings.s3_secret_access_key,
            timeout_s=settings.s3_timeout_s,
        )
        return cls(client, bucket, prefix, settings.s3_multipart_mb * MiB)

    def object_key(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    # ---- writes ----------------------------------------------------------------------------

    def put(self, key: str, data: bytes) -> None:
        self.put_stream(key, io.BytesIO(data))

    def put_stream(self, key: str, source: BinaryIO, limit: int | None = None) -> int:
        name = self.object_key(key)
        first = _read(source, self._take(limit, 0))
        if len(first) < self.part_size or (limit is not None and len(first) >= limit):
            self.client.put_object(Bucket=self.bucket, Key=name, Body=first)
            self._remember(key, len(first))
            return len(first)
        upload = self.client.create_multipart_upload(Bucket=self.bucket, Key=name)["UploadId"]
        total = 0
        sending: deque[tuple[int, Future[Any]]] = deque()
        parts: list[dict[str, Any]] = []
        try:
            piece, number = first, 1
            while piece:
                # At most PARALLEL parts in flight: memory stays PARALLEL x part_size.
                while len(sending) >= PARALLEL:
                    done, future = sending.popleft()
                    parts.append({"PartNumber": done, "ETag": future.result()["ETag"]})
                sending.append(
                    (
                        number,
                        self._pool().submit(
                            self.client.upload_part,
                            Bucket=self.bucket,
                            Key=name,
                            UploadId=upload,
                            PartNumber=number,
                            Body=piece,
                        ),
                    )
                )
                total += len(piece)
                number += 1
                piece = _read(source, self._take(limit, total))
            while sending:
                done, future = sending.popleft()
                parts.append({"PartNumber": done, "ETag": future.result()["ETag"]})
            self.client.complete_multipart_upload(
                Bucket=self.bucket, Key=name, UploadId=upload, MultipartUpload={"Parts": parts}
            )
        except BaseException:
            for _, future in sending:
                future.cancel()
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=name, UploadId=upload)
            raise
        self._remember(key, total)
        return total

    def _pool(self) -> ThreadPoolExecutor:
        with _POOL_LOCK:
            if self._uploads is None:
                self._uploads = ThreadPoolExecutor(PARALLEL, thread_name_prefix="s3-parts")
            return self._uploads

    def _remember(self, key: str, size: int | None) -> None:
        if len(self._sizes) >= 50_000:
            self._sizes.clear()
        if size is None:
            self._sizes.pop(key, None)
        else:
            self._sizes[key] = size

    def _take(self, limit: int | None, done: int) -> int:
        return self.part_size if limit is None else max(0, min(self.part_size, limit - done))

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self.object_key(key))
        self._remember(key, None)

    # ---- reads -----------------------------------------------------------------------------

    def _body(self, key: str) -> Any | None:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self.object_key(key))["Body"]
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in MISSING:
                return None
            raise

    def get(self, key: str) -> bytes | None:
        body = self._body(key)
        if body is None:
            return None
        with body:
            data: bytes = body.read()
        self._remember(key, len(data))
        return data

    def size(self, key: str) -> int | None:
        if key in self._sizes:
            return self._sizes[key]
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self.object_key(key))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in MISSING:
                return None
            raise
        self._remember(key, int(head["ContentLength"]))
        return int(head["ContentLength"])

    def chunks(self, key: str, chunk: int = 1024 * 1024) -> Iterator[bytes] | None:
        body = self._body(key)
        if body is None:
            return None

        def read() -> Iterator[bytes]:
            with body:
                yield from body.iter_chunks(chunk)

        return read()

    def list(self, prefix: str) -> dict[str, int]:
        """One listing call per thousand keys (S3's page)."""
        base = self.object_key(prefix.rstrip("/")) + "/" if prefix.strip("/") else ""
        if not prefix.strip("/") and self.prefix:
            base = self.prefix + "/"
        cut = len(self.prefix) + 1 if self.prefix else 0
        found: dict[str, int] = {}
        token: str | None = None
        while True:
            extra = {"ContinuationToken": token} if token else {}
            page = self.client.list_objects_v2(Bucket=self.bucket, Prefix=base, **extra)
            for item in page.get("Contents", ()):
                found[item["Key"][cut:]] = int(item["Size"])
            if not page.get("IsTruncated"):
                return found
            token = page["NextContinuationToken"]

    def url(self, key: str, expires_s: int = 3600, method: str = "get") -> str | None:
        operation = {"get": "get_object", "put": "put_object"}[method]
        link: str = self.client.generate_presigned_url(
            operation,
            Params={"Bucket": self.bucket, "Key": self.object_key(key)},
            ExpiresIn=min(max(1, expires_s), 7 * 24 * 3600),  # SigV4's longest
        )
        return link


def _read(source: BinaryIO, size: int) -> bytes:
    """Up to `size` bytes: several reads when the source gives less at a time (a pipe)."""
    if size <= 0:
        return b""
    out = bytearray()
    while len(out) < size:
        piece = source.read(size - len(out))
        if not piece:
            break
        out += piece
    return bytes(out)
