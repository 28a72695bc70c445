from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error_body import ErrorBody
from ...models.offers import Offers
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    hardware: None | str | Unset = UNSET,
    cpu: None | str | Unset = UNSET,
    memory: None | str | Unset = UNSET,
    image: None | str | Unset = UNSET,
    testbed: None | str | Unset = UNSET,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    json_hardware: None | str | Unset
    if isinstance(hardware, Unset):
        json_hardware = UNSET
    else:
        json_hardware = hardware
    params["hardware"] = json_hardware

    json_cpu: None | str | Unset
    if isinstance(cpu, Unset):
        json_cpu = UNSET
    else:
        json_cpu = cpu
    params["cpu"] = json_cpu

    json_memory: None | str | Unset
    if isinstance(memory, Unset):
        json_memory = UNSET
    else:
        json_memory = memory
    params["memory"] = json_memory

    json_image: None | str | Unset
    if isinstance(image, Unset):
        json_image = UNSET
    else:
        json_image = image
    params["image"] = json_image

    json_testbed: None | str | Unset
    if isinstance(testbed, Unset):
        json_testbed = UNSET
    else:
        json_testbed = testbed
    params["testbed"] = json_testbed

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/api/v1/offers",
        "params": params,
    }

    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> ErrorBody | Offers | None:
    if response.status_code == 200:
        response_200 = Offers.from_dict(response.json())

        return response_200

    if response.status_code == 401:
        response_401 = ErrorBody.from_dict(response.json())

        return response_401

    if response.status_code == 422:
        response_422 = ErrorBody.from_dict(response.json())

        return response_422

    if response.status_code == 503:
        response_503 = ErrorBody.from_dict(response.json())

        return response_503

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[ErrorBody | Offers]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient | Client,
    hardware: None | str | Unset = UNSET,
    cpu: None | str | Unset = UNSET,
    memory: None | str | Unset = UNSET,
    image: None | str | Unset = UNSET,
    testbed: None | str | Unset = UNSET,
) -> Response[ErrorBody | Offers]:
    """What a request would get, and why the rest is ruled out

     Every node of every allowed testbed that fits, ranked as placement would rank it (the
    free devices asked for, then the testbed's queue, then the node's active runs), and for
    every node that does not, the first constraint it fails.

    Args:
        hardware (None | str | Unset): The shorthand: H100:2, nvidia:40GB..
        cpu (None | str | Unset): Cores: 2, 0.5 or 500m
        memory (None | str | Unset): Memory with a unit: 16GiB
        image (None | str | Unset): Run in this image (else on the host)
        testbed (None | str | Unset): Only this testbed (pinned)

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | Offers]
    """

    kwargs = _get_kwargs(
        hardware=hardware,
        cpu=cpu,
        memory=memory,
        image=image,
        testbed=testbed,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient | Client,
    hardware: None | str | Unset = UNSET,
    cpu: None | str | Unset = UNSET,
    memory: None | str | Unset = UNSET,
    image: None | str | Unset = UNSET,
    testbed: None | str | Unset = UNSET,
) -> ErrorBody | Offers | None:
    """What a request would get, and why the rest is ruled out

     Every node of every allowed testbed that fits, ranked as placement would rank it (the
    free devices asked for, then the testbed's queue, then the node's active runs), and for
    every node that does not, the first constraint it fails.

    Args:
        hardware (None | str | Unset): The shorthand: H100:2, nvidia:40GB..
        cpu (None | str | Unset): Cores: 2, 0.5 or 500m
        memory (None | str | Unset): Memory with a unit: 16GiB
        image (None | str | Unset): Run in this image (else on the host)
        testbed (None | str | Unset): Only this testbed (pinned)

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | Offers
    """

    return sync_detailed(
        client=client,
        hardware=hardware,
        cpu=cpu,
        memory=memory,
        image=image,
        testbed=testbed,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient | Client,
    hardware: None | str | Unset = UNSET,
    cpu: None | str | Unset = UNSET,
    memory: None | str | Unset = UNSET,
    image: None | str | Unset = UNSET,
    testbed: None | str | Unset = UNSET,
) -> Response[ErrorBody | Offers]:
    """What a request would get, and why the rest is ruled out

     Every node of every allowed testbed that fits, ranked as placement would rank it (the
    free devices asked for, then the testbed's queue, then the node's active runs), and for
    every node that does not, the first constraint it fails.

    Args:
        hardware (None | str | Unset): The shorthand: H100:2, nvidia:40GB..
        cpu (None | str | Unset): Cores: 2, 0.5 or 500m
        memory (None | str | Unset): Memory with a unit: 16GiB
        image (None | str | Unset): Run in this image (else on the host)
        testbed (None | str | Unset): Only this testbed (pinned)

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | Offers]
    """

    kwargs = _get_kwargs(
        hardware=hardware,
        cpu=cpu,
        memory=memory,
        image=image,
        testbed=testbed,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient | Client,
    hardware: None | str | Unset = UNSET,
    cpu: None | str | Unset = UNSET,
    memory: None | str | Unset = UNSET,
    image: None | str | Unset = UNSET,
    testbed: None | str | Unset = UNSET,
) -> ErrorBody | Offers | None:
    """What a request would get, and why the rest is ruled out

     Every node of every allowed testbed that fits, ranked as placement would rank it (the
    free devices asked for, then the testbed's queue, then the node's active runs), and for
    every node that does not, the first constraint it fails.

    Args:
        hardware (None | str | Unset): The shorthand: H100:2, nvidia:40GB..
        cpu (None | str | Unset): Cores: 2, 0.5 or 500m
        memory (None | str | Unset): Memory with a unit: 16GiB
        image (None | str | Unset): Run in this image (else on the host)
        testbed (None | str | Unset): Only this testbed (pinned)

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | Offers
    """

    return (
        await asyncio_detailed(
            client=client,
            hardware=hardware,
            cpu=cpu,
            memory=memory,
            image=image,
            testbed=testbed,
        )
    ).parsed
