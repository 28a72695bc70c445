"""A Kubernetes testbed's API client: made from its kubeconfig (or the pod's service account),
one per testbed per process; and the checks a kubeconfig given as credentials must pass."""

from __future__ import annotations

import gc
import json
import tempfile
from dataclasses import dataclass
from typing import Any

import orjson
import yaml

from shared.db.models import Testbed
from shared.secrets import SecretError, decrypt
from shared.testbeds.base import Unreachable
from shared.testbeds.kubernetes.config import KubernetesConfig


class KubeError(Unreachable):
    """The cluster could not be reached or refused a call Tessera cannot do without."""


@dataclass
class Client:
    fingerprint: str
    api: Any  # kubernetes.client.ApiClient
    core: Any  # CoreV1Api
    batch: Any  # BatchV1Api
    config: KubernetesConfig


def status_message(error: Any) -> str:
    """The message of a Kubernetes Status in an ApiException's body."""
    body = getattr(error, "body", None)
    try:
        data = json.loads(body) if body else {}
    except (TypeError, ValueError):
        data = {}
    message = data.get("message") if isinstance(data, dict) else None
    return str(message or getattr(error, "reason", None) or error)[:300]


def make_client(testbed: Testbed, config: KubernetesConfig, fingerprint: str) -> Client:
    from kubernetes import client
    from kubernetes import config as kube_config
    from kubernetes.config.config_exception import ConfigException

    configuration = client.Configuration()
    try:
        if config.in_cluster:
            kube_config.load_incluster_config(client_configuration=configuration)
        else:
            if not testbed.credentials:
                raise KubeError("the testbed has no kubeconfig (credentials)")
            try:
                document = yaml.safe_load(decrypt(testbed.credentials))
            except SecretError as error:
                raise KubeError(str(error)) from None
            except yaml.YAMLError:
                raise KubeError("the kubeconfig is not YAML") from None
            kube_config.load_kube_config_from_dict(
                document,
                context=config.context,
                client_configuration=configuration,
                persist_config=False,
                temp_file_path=tempfile.gettempdir(),
            )
    except ConfigException as error:
        raise KubeError(f"kubeconfig: {error}") from None
    token = configuration.api_key.get("authorization")
    if token and "BearerToken" not in configuration.api_key:
        # Clients 35 and 36 read the token under this name; their loader writes the other.
        configuration.api_key["BearerToken"] = token
    configuration.retries = 1  # fail fast: the monitor retries next cycle
    api = client.ApiClient(configuration)
    return Client(fingerprint, api, client.CoreV1Api(api), client.BatchV1Api(api), config)


def kubeconfig_problem(text: str, context: str | None = None) -> str | None:
    """Why a kubeconfig given as credentials is unusable; None when it loads."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError:
        return "not YAML"
    if not isinstance(document, dict) or not document.get("clusters"):
        return "not a kubeconfig (no clusters)"
    for entry in document.get("clusters") or []:
        cluster = (entry or {}).get("cluster") or {} if isinstance(entry, dict) else {}
        if "certificate-authority" in cluster:
            return (
                "certificate-authority names a file on Tessera's hosts: embed it as "
                "certificate-authority-data"
            )
    for entry in document.get("users") or []:
        user = (entry or {}).get("user") or {} if isinstance(entry, dict) else {}
        if "exec" in user or "auth-provider" in user:
            return (
                "exec and auth-provider plugins are not run by Tessera: use a service "
                "account token or client certificate data"
            )
        for key in ("tokenFile", "client-certificate", "client-key"):
            if key in user:
                return f"{key} names a file on Tessera's hosts: embed the data instead"
    from kubernetes import client
    from kubernetes import config as kube_config
    from kubernetes.config.config_exception import ConfigException

    try:
        kube_config.load_kube_config_from_dict(
            document,
            context=context,
            client_configuration=client.Configuration(),
            persist_config=False,
            temp_file_path=tempfile.gettempdir(),
        )
    except (ConfigException, ValueError, KeyError, TypeError) as error:
        return f"the kubeconfig does not load: {error}"[:300]
    return None


def loads(raw: bytes) -> Any:
    """A list of thousands of pods parsed with orjson (3x faster than json) and the cyclic
    collector paused: parsed JSON has no cycles, and the hundred thousand dicts of one list
    would otherwise set off full collections over the whole process (most of a parse's time
    at 1,000 pods per testbed)."""
    paused = gc.isenabled()
    gc.disable()
    try:
        return orjson.loads(raw)
    finally:
        if paused:
            gc.enable()
