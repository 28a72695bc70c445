"""A Kubernetes API server test double: see tests/kubeapi/server.py."""

from tests.kubeapi.server import KubeApi, build_exec, node, stock_image_path

__all__ = ["KubeApi", "build_exec", "node", "stock_image_path"]
