"""/api/v1/offers: what a request would get, ranked as placement ranks it, and why the rest
was ruled out; /api/v1/runs/{id}/placement lives with the runs."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import load_only

from services.api.deps import PrincipalDep, SessionDep
from services.api.errors import Unauthorized, Unavailable, Unprocessable, responses
from services.api.examples import OFFER_EXAMPLES
from services.api.schemas import (
    Accelerator,
    Offer,
    OfferRequest,
    Offers,
    RuledOut,
)
from shared import hardware, placement, ranking
from shared.db.models import Node, Testbed

router = APIRouter(
    prefix="/offers",
    tags=["nodes"],
    responses=responses(Unauthorized, Unprocessable, Unavailable),
)


@router.get("", summary="What a request would get, and why the rest is ruled out",
            operation_id="list_offers")  # fmt: skip
async def list_(
    session: SessionDep,
    who: PrincipalDep,
    hardware_: Annotated[
        str | None, Query(alias="hardware", description="The shorthand: H100:2, nvidia:40GB..")
    ] = None,
    cpu: Annotated[str | None, Query(description="Cores: 2, 0.5 or 500m")] = None,
    memory: Annotated[str | None, Query(description="Memory with a unit: 16GiB")] = None,
    image: Annotated[str | None, Query(description="Run in this image (else on the host)")] = None,
    testbed: Annotated[str | None, Query(description="Only this testbed (pinned)")] = None,
) -> Offers:
    """Every node of every allowed testbed that fits, ranked as placement would rank it (the
    free devices asked for, then the testbed's queue, then the node's active runs), and for
    every node that does not, the first constraint it fails."""
    given = {"hardware": hardware_, "cpu": cpu, "memory": memory, "image": image,
             "testbed": testbed}  # fmt: skip
    try:
        request = OfferRequest.model_validate({k: v for k, v in given.items() if v is not None})
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "hardware"
        raise Unprocessable.on(field, str(first["msg"]).removeprefix("Value error, ")) from None
    return await offers(session, request)


@router.post("", summary="What a full request would get", operation_id="post_offers")
async def post(
    request: Annotated[OfferRequest, Body(openapi_examples=OFFER_EXAMPLES)],
    session: SessionDep,
    who: PrincipalDep,
) -> Offers:
    """The same as GET, with a full hardware spec (any form a run request takes)."""
    return await offers(session, request)


async def offers(session: SessionDep, request: OfferRequest) -> Offers:
    spec = request.spec()
    wanted = spec.accelerators
    query = (
        select(Node, Testbed.name, Testbed.kind, Testbed.state, Testbed.state_reason)
        .join(Testbed, Node.testbed_id == Testbed.id)
        .where(Testbed.live())
        .options(load_only(Node.testbed_id, Node.name, Node.state, Node.state_reason,
                           Node.inventory))
        .order_by(Testbed.name, Node.name)
    )  # fmt: skip
    if request.testbed is not None:
        query = query.where(Testbed.name == request.testbed)
    fits: list[placement.Candidate] = []
    ruled_out: list[RuledOut] = []
    stored: dict[tuple[str, str], Node] = {}
    for node, name, kind, state, reason in await session.execute(query):
        found = placement.candidate(node, name, kind)
        stored[(name, node.name)] = node
        if state != "online":
            why: str | None = f"testbed {name} is {state}" + (f": {reason}" if reason else "")
        elif node.state != "online":
            why = f"node is {node.state}" + (f": {node.state_reason}" if node.state_reason else "")
        else:
            why = placement.why_not(found, spec, request.image, request.slurm_options())
        if why is None:
            fits.append(found)
        else:
            ruled_out.append(RuledOut(testbed=name, node=node.name, reason=why))
    nodes = [(c.testbed, c.node.name) for c in fits]
    held = placement.held_by_node(await session.execute(placement.active_requests(nodes)))
    load = ranking.load_of(await session.execute(ranking.load_query({t for t, _ in nodes})))
    ranked = ranking.rank(fits, wanted, held, load)
    items = []
    for rank, candidate in enumerate(ranked, start=1):
        where = (candidate.testbed, candidate.node.name)
        row = stored[where]
        free = placement.free_devices(candidate.node, held.get(where, ()), candidate.others)
        offered = ranking.explain([candidate], wanted, held, load)["chosen"]
        items.append(
            Offer(
                rank=rank,
                testbed=candidate.testbed,
                kind=candidate.kind,
                node=candidate.node.name,
                can_start_now=offered["short"] == 0,
                short=offered["short"],
                queued=offered["queued"],
                active=offered["active"],
                cores=candidate.node.cores,
                memory_bytes=candidate.node.memory_bytes,
                accelerators=[
                    Accelerator.model_validate({**a, "free": left})
                    for a, left in zip(row.inventory.get("accelerators", []), free, strict=True)
                ],
                **_prices(row.inventory),
            )
        )
    waiting = ranking.busy(ranked, wanted, held)
    return Offers(
        hardware=hardware.to_dict(spec),
        offers=items,
        ruled_out=ruled_out,
        waiting=waiting,
        unmet=None if ranked else _unmet(ruled_out),
    )


def _prices(inventory: dict[str, Any]) -> dict[str, Any]:
    """A cloud offer's price per hour, what it is for, and the on-demand price."""
    cloud = inventory.get("ec2") or {}
    return {
        "price_per_hour": cloud.get("price_per_hour"),
        "lifecycle": cloud.get("lifecycle"),
        "on_demand_price_per_hour": cloud.get("on_demand_price"),
    }


def _unmet(ruled_out: list[RuledOut]) -> str:
    if not ruled_out:
        return "no node is known"
    first = ruled_out[0]
    return f"no node fits; the first ruled out, {first.testbed}/{first.node}: {first.reason}"
