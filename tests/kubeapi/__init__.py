"""A Kubernetes API server test double: see tests/kubeapi/server.py."""

from tests.kubeapi.server import KubeApi, node

__all__ = ["KubeApi", "node"]
