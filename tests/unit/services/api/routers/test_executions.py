from __future__ import annotations

import uuid
from pathlib import Path

from services.api.routers.executions import keep_attempt
from shared.store import ArtifactStore, run_log_key, run_result_key


def test_a_restart_keeps_the_attempts_log_and_result(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    run_id = uuid.uuid4()
    store.put(run_log_key(run_id), b"log 1")
    store.put(run_result_key(run_id), b'{"exit_code": 0}')
    keep_attempt(store, run_id, 1)
    assert store.get(f"runs/{run_id}/attempts/1/log") == b"log 1"
    assert store.get(f"runs/{run_id}/attempts/1/result") == b'{"exit_code": 0}'
    assert store.get(run_log_key(run_id)) == b""
