"""A run's attempts: their keys, and what a request's retry policy allows."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from pydantic import ValidationError

from services import worker
from shared import attempts
from shared.config import Settings
from shared.db.migrate import upgrade
from shared.db.models import Deployment, Project, Run, Testbed, utcnow
from shared.schemas import Retry
from shared.specs import DeploymentSpec, InspectionSpec


def test_the_first_attempt_is_known_by_the_run_id_and_the_others_apart() -> None:
    run_id = uuid.uuid4()
    assert attempts.key(run_id, 0) == attempts.key(run_id, 1) == run_id
    second = attempts.key(run_id, 2)
    assert second != run_id and second == attempts.key(run_id, 2)  # the same on every worker
    assert len({attempts.key(run_id, n) for n in range(1, 10)}) == 9


def test_a_policy_is_checked_field_by_field() -> None:
    assert Retry().attempts == 1 and Retry().on == []
    for bad in ({"attempts": 0}, {"attempts": 21}, {"on": ["never"]}, {"on": ["lost", "lost"]},
                {"backoff_s": -1}, {"tries": 2}):  # fmt: skip
        with pytest.raises(ValidationError):
            Retry.model_validate(bad)
    spec = InspectionSpec.model_validate(
        {"base": "host", "script": "true",
         "run": {"retry": {"attempts": 3, "on": ["failed"]}, "queue_timeout_s": 60}}
    )  # fmt: skip
    assert spec.retry_policy().attempts == 3 and spec.queue_timeout() == 60


def test_the_default_policy_is_a_setting(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shared.config import get_settings

    assert DeploymentSpec(command=["true"]).retry_policy() == Retry()
    monkeypatch.setenv("TESSERA_DEFAULT_RETRY", '{"attempts": 2, "on": ["lost"]}')
    get_settings.cache_clear()
    assert DeploymentSpec(command=["true"]).retry_policy() == Retry(attempts=2, on=["lost"])


def _run(spec: dict[str, object]) -> uuid.UUID:
    with worker.transaction() as session:
        project = Project(name=f"p-{uuid.uuid4().hex[:6]}")
        testbed = Testbed(name=f"t-{uuid.uuid4().hex[:6]}", kind="local", config={})
        session.add_all([project, testbed])
        session.flush()
        deployment = Deployment(project_id=project.id, specification=spec, batch_size=1)
        session.add(deployment)
        session.flush()
        run = Run(project_id=project.id, deployment_id=deployment.id, index=0, state="running")
        session.add(run)
        session.flush()
        return run.id


def test_withdrawn_attempts_are_free_and_the_others_count(settings: Settings) -> None:
    upgrade(settings.db_url)
    run_id = _run({"command": ["true"], "retry": {"attempts": 2, "on": ["failed"],
                                                  "backoff_s": 30}})  # fmt: skip
    with worker.transaction() as session:
        run = session.get(Run, run_id)
        assert run is not None
        testbed = session.query(Testbed).first()
        assert testbed is not None
        for number, state in ((1, "withdrawn"), (2, "failed")):
            run.attempt = number
            attempts.begin(session, run, testbed.id, "n", "1", {})
            session.flush()
            attempts.mark(session, run.id, number, state)
        assert attempts.counted(session, run.id) == 1
        assert attempts.again(session, run, "failed")  # one of two used
        assert not attempts.again(session, run, "lost")  # not a reason it names
        assert attempts.avoided(session, run.id) == {testbed.id}
        start = attempts.not_before(session, run, 30)
        assert start is not None and start - utcnow() > timedelta(seconds=25)
        run.cancel_requested = True
        assert not attempts.again(session, run, "failed")  # cancelled: never again
