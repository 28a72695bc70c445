"""The ssh testbed's config (shared/testbeds/ssh/config.py)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from shared.testbeds.ssh.config import SshConfig

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBfXC7J7ookE+RYbJdQMiNwQ51ojfFcDBLcWfw/MijQw"


def test_hosts_and_their_names() -> None:
    config = SshConfig.model_validate(
        {"hosts": [{"host": "10.0.0.1", "user": "ci", "host_key": f"10.0.0.1 {KEY} comment"},
                   {"host": "gpu-2.lab", "port": 2222, "user": "ci", "name": "gpu2"}]}
    )  # fmt: skip
    assert config.hosts[0].host_key == KEY and config.hosts[0].node == "10.0.0.1"
    assert config.host("gpu2").port == 2222
    with pytest.raises(KeyError):
        config.host("nope")


@pytest.mark.parametrize(
    "hosts",
    [
        [],
        [{"host": "a", "user": "ci"}, {"host": "a", "user": "ci"}],
        [{"host": "a;b", "user": "ci"}],
        [{"host": "a", "user": "$(id)"}],
        [{"host": "a", "user": "ci", "host_key": "not a key"}],
        [{"host": "a", "user": "ci", "extra": 1}],
    ],
)
def test_bad_hosts_are_refused(hosts: list[dict[str, object]]) -> None:
    with pytest.raises(ValidationError):
        SshConfig.model_validate({"hosts": hosts})
