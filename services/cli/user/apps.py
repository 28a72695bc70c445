"""`tessera app create|upload|build|executables`: ALDE's applications."""

from __future__ import annotations

import os
import tarfile
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.markup import escape
from rich.table import Table
from tessera_client import AuthenticatedClient
from tessera_client.api.applications import (
    create_application,
    create_application_builds,
    list_application_executables,
)
from tessera_client.models import (
    ApplicationCreate,
    ApplicationOut,
    BuildRequest,
    BuildStarted,
    ExecutableList,
    ExecutableOut,
)

from services.cli.user import exits, specs
from services.cli.user.api import ApiError, call, exit_code_for, follow_log
from services.cli.user.commands import _model, client, handled, parse_id
from services.cli.user.output import Output, OutputOption, emit_json, err, out, state_text

app = typer.Typer(
    help="Applications: upload source, compile per configuration.", no_args_is_help=True
)
AppId = Annotated[str, typer.Argument(metavar="ID", help="The application's id.")]
MEDIA = {".zip": "application/zip", ".tar": "application/x-tar"}
UPLOAD_CHUNK = 1024 * 1024
ENDED = ("compiled", "failed", "stale")


def _media(path: Path) -> str:
    name = path.name.lower()
    if name.endswith((".tar.gz", ".tgz")):
        return "application/gzip"
    found = MEDIA.get(path.suffix.lower())
    if found is None:
        raise specs.SpecError(f"{path}: give a folder, a .zip, a .tar or a .tar.gz")
    return found


def _archive_folder(folder: Path, target: Path) -> None:
    """The folder as a tar.gz, names relative to it; links kept as links."""
    with tarfile.open(target, "w:gz") as archive:
        for root, dirs, files in os.walk(folder):
            dirs[:] = sorted(d for d in dirs if d not in (".git", "__pycache__"))
            for name in sorted(files):
                path = Path(root) / name
                archive.add(path, arcname=str(path.relative_to(folder)), recursive=False)


def _chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while chunk := handle.read(UPLOAD_CHUNK):
            yield chunk


def upload_file(api: AuthenticatedClient, application: str, path: Path, media: str) -> Any:
    """Stream the archive to the API (never read whole); its answer."""
    http = api.get_httpx_client()
    try:
        response = http.put(
            f"/api/v1/applications/{application}/source",
            content=_chunks(path),
            headers={"Content-Type": media, "Content-Length": str(path.stat().st_size)},
            timeout=httpx.Timeout(30.0, write=600.0, read=600.0),
        )
    except httpx.HTTPError as error:
        raise ApiError(f"the upload failed: {error}", exits.UNAVAILABLE) from None
    if response.status_code != 200:
        try:
            detail = response.json().get("detail")
        except ValueError:
            detail = response.text[:500]
        status = response.status_code
        raise ApiError(f"HTTP {status}: {detail}", exit_code_for(status), status)
    return response.json()


@app.command("create")
@handled
def create(
    name: Annotated[str, typer.Argument(help="The application's name.")],
    description: Annotated[str | None, typer.Option(help="What it is.")] = None,
    output: OutputOption = Output.text,
) -> None:
    """Create an application (then `tessera app upload ID DIR`)."""
    body = ApplicationCreate(name=name, description=description)
    made = call(create_application.sync_detailed, ApplicationOut, client=client(), body=body)
    if output is Output.json:
        emit_json(made.to_dict())
    else:
        out.print(f"application {escape(made.name)}: {made.application_id}")


@app.command("upload")
@handled
def upload(
    application: AppId,
    source: Annotated[Path, typer.Argument(help="A folder (archived on the fly) or an archive.")],
    output: OutputOption = Output.text,
) -> None:
    """Upload the application's source; the executables of the old one become stale."""
    app_id = str(parse_id(application))
    api = client()
    if source.is_dir():
        with tempfile.TemporaryDirectory(prefix="tessera-upload-") as folder:
            archive = Path(folder) / "source.tar.gz"
            _archive_folder(source, archive)
            answer = upload_file(api, app_id, archive, "application/gzip")
    elif source.is_file():
        answer = upload_file(api, app_id, source, _media(source))
    else:
        raise specs.SpecError(f"{source}: no such folder or file")
    if output is Output.json:
        emit_json(answer)
    else:
        out.print(
            f"source {answer['digest'][:12]}: {answer['file_count']} files, "
            f"{answer['expanded_bytes']} bytes; {answer['stale_executables']} executables stale"
        )


@app.command("build")
@handled
def build(
    application: AppId,
    configurations: Annotated[Path, typer.Argument(help="YAML: configurations: [...]")],
    detach: Annotated[bool, typer.Option(help="Do not follow the build logs.")] = False,
    output: OutputOption = Output.text,
) -> None:
    """Compile for each configuration, following the build logs live."""
    data = specs.load_file(configurations)
    body = _model(BuildRequest, data, "build request")
    api = client()
    started = call(
        create_application_builds.sync_detailed,
        BuildStarted,
        client=api,
        application_id=parse_id(application),
        body=body,
    )
    if output is Output.json and detach:
        emit_json(started.to_dict())
        return
    for item in started.items:
        note = " (cached)" if item.cached else ""
        err.print(f"{item.configuration}: {state_text(item.state)}{note} {item.executable_id}")
    if detach:
        return
    for item in started.items:
        if item.state in ("not_compiled", "compiling"):
            err.print(f"--- {item.configuration} ---")
            follow_log(
                api,
                f"/api/v1/executables/{item.executable_id}/log",
                on_text=lambda text: out.print(escape(text), end=""),
            )
    final = _wait(api, parse_id(application), {str(i.executable_id) for i in started.items})
    if output is Output.json:
        emit_json(final.to_dict())
    else:
        out.print(_table(final.items))
    failed = any(
        i.state != "compiled"
        for i in final.items
        if i.executable_id in {s.executable_id for s in started.items}
    )
    raise typer.Exit(exits.FAILED if failed else 0)


def _wait(api: AuthenticatedClient, application: Any, ids: set[str]) -> ExecutableList:
    """The executables once each of `ids` has left `compiling`."""
    while True:
        found = call(
            list_application_executables.sync_detailed,
            ExecutableList,
            client=api,
            application_id=application,
        )
        mine = [i for i in found.items if str(i.executable_id) in ids]
        if all(i.state in ENDED for i in mine):
            return found
        time.sleep(1.0)


def _hardware(item: ExecutableOut) -> tuple[str, str]:
    hwinfo = item.hwinfo.to_dict() if item.hwinfo else {}
    cpu = hwinfo.get("cpu") or {}
    gpus = hwinfo.get("gpus") or hwinfo.get("accelerators") or []
    gpu = ", ".join(str(g.get("model") or g.get("name")) for g in gpus if isinstance(g, dict))
    return str(cpu.get("model_name") or ""), gpu


def _table(items: list[ExecutableOut]) -> Table:
    table = Table(box=None, pad_edge=False)
    for column in ("CONFIGURATION", "STATE", "NODE", "CPU", "GPU", "EXECUTABLE"):
        table.add_column(column)
    for item in items:
        cpu, gpu = _hardware(item)
        node = f"{item.testbed}/{item.node}" if item.node else ""
        table.add_row(
            escape(item.configuration),
            state_text(item.state),
            escape(node),
            escape(cpu),
            escape(gpu),
            str(item.executable_id),
        )
    return table


@app.command("executables")
@handled
def executables(application: AppId, output: OutputOption = Output.text) -> None:
    """The executables per configuration: state, and the node and hardware built on."""
    found = call(
        list_application_executables.sync_detailed,
        ExecutableList,
        client=client(),
        application_id=parse_id(application),
    )
    if output is Output.json:
        emit_json(found.to_dict())
    else:
        out.print(_table(found.items))
