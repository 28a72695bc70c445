"""Sending work: login, inspect, deploy; and the helpers every user command shares."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, ParamSpec, TypeVar

import typer
from rich.markup import escape
from tessera_client import AuthenticatedClient
from tessera_client.api.deployments import create_deployment
from tessera_client.api.inspections import (
    create_inspection,
    list_inspections,
)
from tessera_client.api.runs import get_run
from tessera_client.models import (
    DeploymentCreated,
    DeploymentSpec,
    InspectionCreated,
    InspectionPage,
    InspectionSpec,
    RunOut,
)

from services.cli.user import exits, specs
from services.cli.user.api import ApiError, call, connect
from services.cli.user.config import Config, ConfigError, load, save
from services.cli.user.output import (
    Output,
    OutputOption,
    emit_json,
    err,
    fail,
    out,
)
from services.cli.user.watch import DEPLOYMENT, INSPECTION, Kind, watch

P = ParamSpec("P")
R = TypeVar("R")


def handled(command: Callable[P, R]) -> Callable[P, R]:
    """Turn the errors a command can meet into a message and a meaningful exit code."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        output = kwargs.get("output", Output.text)
        output = output if isinstance(output, Output) else Output.text
        try:
            return command(*args, **kwargs)
        except (ApiError, specs.SpecError) as error:
            fail(error, output)
        except ConfigError as error:
            fail(specs.SpecError(str(error)), output)
        except KeyboardInterrupt:
            err.print("\nstopped watching; the work goes on (`tessera status ID`)")
            raise typer.Exit(exits.INTERRUPTED) from None

    return wrapper


def client(timeout: float = 30.0) -> AuthenticatedClient:
    return connect(load(), timeout)


def parse_id(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise specs.SpecError(f"{text!r} is not an id (a UUID)") from None


def resolve(api: AuthenticatedClient, ident: str) -> tuple[str, Any]:
    """What an id names: ("inspection" | "deployment" | "run", the object)."""
    item_id = parse_id(ident)
    for kind in (INSPECTION, DEPLOYMENT):
        try:
            return kind.name, call(kind.get, kind.model, client=api, item_id=item_id)
        except ApiError as error:
            if error.status != 404:
                raise
    try:
        return "run", call(get_run.sync_detailed, RunOut, client=api, run_id=item_id)
    except ApiError as error:
        if error.status != 404:
            raise
    raise ApiError(f"no inspection, deployment or run {item_id}", exits.REFUSED, 404)


def kind_named(name: str) -> Kind:
    return INSPECTION if name == "inspection" else DEPLOYMENT


def _model(model: type[R], data: dict[str, Any], what: str) -> R:
    """The generated model of a request body; fields it would drop are refused here."""
    try:
        body = model.from_dict(data)  # type: ignore[attr-defined]
    except KeyError as error:
        raise specs.SpecError(f"the {what} needs the field {error}") from None
    except (TypeError, ValueError, AttributeError) as error:
        raise specs.SpecError(f"the {what} has a field of the wrong type: {error}") from None
    dropped = _dropped(data, body.to_dict())
    if dropped:
        raise specs.SpecError(f"unknown field{'s' * (len(dropped) > 1)} {', '.join(dropped)}")
    return body  # type: ignore[no-any-return]


def _dropped(sent: Any, kept: Any, path: str = "") -> list[str]:
    """Paths in `sent` that `kept` lost (a typo the generated model silently ignores)."""
    if isinstance(sent, dict) and isinstance(kept, dict):
        lost = []
        for key, item in sent.items():
            where = f"{path}.{key}" if path else str(key)
            lost += [where] if key not in kept else _dropped(item, kept[key], where)
        return lost
    if isinstance(sent, list) and isinstance(kept, list) and len(sent) == len(kept):
        return [
            lost
            for i, (item, back) in enumerate(zip(sent, kept, strict=True))
            for lost in _dropped(item, back, f"{path}[{i}]")
        ]
    return []


# ---- login ---------------------------------------------------------------------------------


@handled
def login(
    url: Annotated[str, typer.Argument(help="The API, e.g. http://tessera.example:8000")],
    token: Annotated[str, typer.Option(help="An API token (tessera admin create-token).")],
    verify: Annotated[bool, typer.Option(help="Check the token against the API first.")] = True,
    output: OutputOption = Output.text,
) -> None:
    """Store the server and token in the config file (mode 0600)."""
    url = url.rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise specs.SpecError(f"{url!r}: the URL starts with http:// or https://")
    if verify:
        api = connect(Config(url=url, token=token, source="login"))
        call(list_inspections.sync_detailed, InspectionPage, client=api, limit=1)
    path = save(url, token)
    if output is Output.json:
        emit_json({"url": url, "config": str(path), "verified": verify})
    else:
        err.print(f"logged in to {escape(url)}; saved in {escape(str(path))} (mode 0600)")


# ---- inspect and deploy --------------------------------------------------------------------

Detach = Annotated[bool, typer.Option("--detach", "-d", help="Print the id and return at once.")]
Gpu = Annotated[str | None, typer.Option(help="GPU spec, e.g. H100:1, nvidia:40GB..:2.")]
CpuFlag = Annotated[list[str] | None, typer.Option("--cpu-flag", help="e.g. avx512f; repeatable.")]
Cpu = Annotated[str | None, typer.Option(help="Cores each run needs: 2, 0.5, 500m.")]
Memory = Annotated[str | None, typer.Option(help="Memory each run needs: 4GiB.")]
BatchSize = Annotated[int | None, typer.Option(help="How many runs.")]
Testbed = Annotated[str | None, typer.Option(help="Pin to this testbed.")]
Identifier = Annotated[str | None, typer.Option(help="A name of yours for it.")]
Env = Annotated[list[str] | None, typer.Option("--env", "-e", help="NAME=VALUE; repeatable.")]
Timeout = Annotated[int | None, typer.Option(help="Wall time of each run, in seconds.")]


@handled
def inspect(
    spec: Annotated[
        Path | None, typer.Argument(help="A spec file (YAML or JSON; see examples/).")
    ] = None,
    base: Annotated[str | None, typer.Option(help="'host' (default) or an image.")] = None,
    script: Annotated[Path | None, typer.Option(help="The script to run (a file).")] = None,
    package: Annotated[
        list[str] | None, typer.Option("--package", help="A native package; repeatable.")
    ] = None,
    python_package: Annotated[
        list[str] | None, typer.Option("--python-package", help="A requirement; repeatable.")
    ] = None,
    pipfile: Annotated[Path | None, typer.Option(help="A Pipfile.")] = None,
    pipfile_lock: Annotated[Path | None, typer.Option(help="Its Pipfile.lock.")] = None,
    gpu: Gpu = None,
    cpu_flag: CpuFlag = None,
    cpu: Cpu = None,
    memory: Memory = None,
    batch_size: BatchSize = None,
    testbed: Testbed = None,
    identifier: Identifier = None,
    env: Env = None,
    timeout: Timeout = None,
    detach: Detach = False,
    build_log: Annotated[bool, typer.Option(help="Show the build's log live.")] = False,
    output: OutputOption = Output.text,
) -> None:
    """Build an environment and run a script in it on the hardware asked for."""
    flags = specs.Flags(
        base=base,
        script=script,
        packages=package or [],
        python_packages=python_package or [],
        pipfile=pipfile,
        pipfile_lock=pipfile_lock,
        gpu=gpu,
        cpu_flags=cpu_flag or [],
        cpu=cpu,
        memory=memory,
        batch_size=batch_size,
        testbed=testbed,
        identifier=identifier,
        env=env or [],
        timeout=timeout,
    )
    body = _model(InspectionSpec, specs.inspection(spec, flags), "inspection")
    api = client()
    created = call(create_inspection.sync_detailed, InspectionCreated, client=api, body=body)
    _accepted("inspection", created.inspection_id, created.to_dict(), detach, output)
    raise typer.Exit(watch(api, INSPECTION, created.inspection_id, output, build_log=build_log))


@handled
def deploy(
    command: Annotated[
        list[str] | None, typer.Argument(help="The command (argv, no shell); after --.")
    ] = None,
    spec: Annotated[Path | None, typer.Option("--spec", "-f", help="A spec file.")] = None,
    image: Annotated[str | None, typer.Option(help="An image to run.")] = None,
    executable: Annotated[
        str | None,
        typer.Option(help="An application's executable (its id), unpacked where COMMAND runs."),
    ] = None,
    gpu: Gpu = None,
    cpu_flag: CpuFlag = None,
    cpu: Cpu = None,
    memory: Memory = None,
    batch_size: BatchSize = None,
    testbed: Testbed = None,
    identifier: Identifier = None,
    env: Env = None,
    timeout: Timeout = None,
    detach: Detach = False,
    output: OutputOption = Output.text,
) -> None:
    """Run an existing command, image or executable, without a build:
    tessera deploy -- python3 app.py; tessera deploy --executable ID -- ./bin/app"""
    flags = specs.Flags(
        gpu=gpu,
        cpu_flags=cpu_flag or [],
        cpu=cpu,
        memory=memory,
        batch_size=batch_size,
        testbed=testbed,
        identifier=identifier,
        env=env or [],
        timeout=timeout,
    )
    data = specs.deployment(spec, flags, image, command or [])
    if executable is not None:
        data["executable"] = str(parse_id(executable))
    body = _model(DeploymentSpec, data, "deployment")
    api = client()
    created = call(create_deployment.sync_detailed, DeploymentCreated, client=api, body=body)
    _accepted("deployment", created.deployment_id, created.to_dict(), detach, output)
    raise typer.Exit(watch(api, DEPLOYMENT, created.deployment_id, output))


def _accepted(
    kind: str, item_id: uuid.UUID, document: dict[str, Any], detach: bool, output: Output
) -> None:
    if detach:
        if output is Output.json:
            emit_json(document)
        else:
            out.print(str(item_id))
        raise typer.Exit(exits.OK)
    if output is Output.text:
        err.print(f"{kind} {item_id} accepted")
