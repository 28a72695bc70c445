"""/api/v1/nodes: the inventory of every testbed, with its accelerators."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.deps import PrincipalDep, SessionDep
from services.api.errors import Unauthorized, Unavailable, Unprocessable, responses
from services.api.schemas import Accelerator, NodeOut, NodePage
from shared import hardware, inventory, placement
from shared.db.models import Node, Testbed

router = APIRouter(
    prefix="/nodes",
    tags=["nodes"],
    responses=responses(Unauthorized, Unprocessable, Unavailable),
)


def _offset(cursor: str | None) -> int:
    if cursor is None:
        return 0
    if not cursor.isdigit():
        raise Unprocessable.on("cursor", "not a cursor this API gave out")
    return int(cursor)


async def _held(session: AsyncSession) -> dict[tuple[str, str], list[hardware.AcceleratorSpec]]:
    """Accelerators the placed and running runs asked for, by (testbed, node)."""
    return placement.held_by_node(await session.execute(placement.active_requests()))


def free_counts(
    node_inventory: dict[str, Any], wanted: list[hardware.AcceleratorSpec], usable: bool
) -> list[int]:
    """Per accelerator entry of the node: how many neither an active run holds nor, as the
    testbed's scheduler reports, other work (the metrics' meaning, `placement.free_devices`);
    none on a node that cannot take runs."""
    node = inventory.node_from_json("", "", node_inventory, True)
    free = placement.free_devices(node, wanted, inventory.held_by_others(node_inventory))
    return free if usable else [0] * len(free)


@router.get("", summary="List nodes and their hardware", operation_id="list_nodes")
async def list_(
    session: SessionDep,
    _who: PrincipalDep,
    accelerator: Annotated[
        str | None, Query(description="e.g. H100, H100:2, nvidia:40GB..")
    ] = None,
    vendor: Annotated[str | None, Query(description="Accelerator vendor, e.g. nvidia")] = None,
    arch: Annotated[str | None, Query(description="x86_64, aarch64, ...")] = None,
    testbed: Annotated[str | None, Query(examples=["local"])] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
) -> NodePage:
    """Nodes and their hardware, filtered; sorted by testbed and name."""
    wanted: dict[str, object] = {}
    if accelerator is not None:
        wanted["gpu"] = accelerator
    if arch is not None:
        wanted["cpu"] = {"arch": arch}
    try:
        spec = hardware.parse_spec(wanted)
    except hardware.SpecError as error:
        field = "accelerator" if error.path.startswith("gpu") else "arch"
        raise Unprocessable.on(field, error.reason) from None
    query = (
        select(Node, Testbed.name, Testbed.state)
        .join(Testbed, Node.testbed_id == Testbed.id)
        .where(Testbed.live())
    )
    if testbed is not None:
        query = query.where(Testbed.name == testbed)
    rows = await session.execute(query.order_by(Testbed.name, Node.name))
    held = await _held(session)
    items = []
    for node, testbed_name, testbed_state in rows:
        info = inventory.node_from_json(node.name, testbed_name, node.inventory, True)
        if hardware.match(spec, info):
            continue
        if vendor is not None and not any(
            a.vendor.lower() == vendor.lower() for a in info.accelerators
        ):
            continue
        usable = node.state == "online" and testbed_state == "online"
        free = free_counts(node.inventory, held.get((testbed_name, node.name), []), usable)
        items.append(_out(node, testbed_name, info, free))
    start = _offset(cursor)
    window = items[start : start + limit]
    next_cursor = str(start + limit) if start + limit < len(items) else None
    return NodePage(items=window, next_cursor=next_cursor)


def _out(node: Node, testbed: str, info: hardware.NodeInfo, free: list[int]) -> NodeOut:
    data = node.inventory
    return NodeOut(
        id=node.id,
        name=node.name,
        testbed=testbed,
        state=node.state,
        state_reason=node.state_reason,
        arch=info.arch,
        cpu_vendor=info.cpu_vendor,
        cpu_model=info.cpu_model,
        cpu_flags=sorted(info.cpu_flags),
        cores=info.cores,
        memory_bytes=info.memory_bytes,
        accelerators=[
            Accelerator.model_validate({**a, "free": left})
            for a, left in zip(data.get("accelerators", []), free, strict=True)
        ],
        labels=dict(info.labels),
        features=sorted(info.features),
        runtimes=list(data.get("runtimes", [])),
        updated_at=node.updated_at,
    )
