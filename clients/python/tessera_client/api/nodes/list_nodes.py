from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error_body import ErrorBody
from ...models.node_page import NodePage
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    accelerator: None | str | Unset = UNSET,
    vendor: None | str | Unset = UNSET,
    arch: None | str | Unset = UNSET,
    testbed: None | str | Unset = UNSET,
    limit: int | Unset = 100,
    cursor: None | str | Unset = UNSET,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    json_accelerator: None | str | Unset
    if isinstance(accelerator, Unset):
        json_accelerator = UNSET
    else:
        json_accelerator = accelerator
    params["accelerator"] = json_accelerator

    json_vendor: None | str | Unset
    if isinstance(vendor, Unset):
        json_vendor = UNSET
    else:
        json_vendor = vendor
    params["vendor"] = json_vendor

    json_arch: None | str | Unset
    if isinstance(arch, Unset):
        json_arch = UNSET
    else:
        json_arch = arch
    params["arch"] = json_arch

    json_testbed: None | str | Unset
    if isinstance(testbed, Unset):
        json_testbed = UNSET
    else:
        json_testbed = testbed
    params["testbed"] = json_testbed

    params["limit"] = limit

    json_cursor: None | str | Unset
    if isinstance(cursor, Unset):
        json_cursor = UNSET
    else:
        json_cursor = cursor
    params["cursor"] = json_cursor

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/api/v1/nodes",
        "params": params,
    }

    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> ErrorBody | NodePage | None:
    if response.status_code == 200:
        response_200 = NodePage.from_dict(response.json())

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


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[ErrorBody | NodePage]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient | Client,
    accelerator: None | str | Unset = UNSET,
    vendor: None | str | Unset = UNSET,
    arch: None | str | Unset = UNSET,
    testbed: None | str | Unset = UNSET,
    limit: int | Unset = 100,
    cursor: None | str | Unset = UNSET,
) -> Response[ErrorBody | NodePage]:
    """List nodes and their hardware

     Nodes and their hardware, filtered; sorted by testbed and name.

    Args:
        accelerator (None | str | Unset): e.g. H100, H100:2, nvidia:40GB..
        vendor (None | str | Unset): Accelerator vendor, e.g. nvidia
        arch (None | str | Unset): x86_64, aarch64, ...
        testbed (None | str | Unset):
        limit (int | Unset):  Default: 100.
        cursor (None | str | Unset): next_cursor of the previous page

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | NodePage]
    """

    kwargs = _get_kwargs(
        accelerator=accelerator,
        vendor=vendor,
        arch=arch,
        testbed=testbed,
        limit=limit,
        cursor=cursor,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient | Client,
    accelerator: None | str | Unset = UNSET,
    vendor: None | str | Unset = UNSET,
    arch: None | str | Unset = UNSET,
    testbed: None | str | Unset = UNSET,
    limit: int | Unset = 100,
    cursor: None | str | Unset = UNSET,
) -> ErrorBody | NodePage | None:
    """List nodes and their hardware

     Nodes and their hardware, filtered; sorted by testbed and name.

    Args:
        accelerator (None | str | Unset): e.g. H100, H100:2, nvidia:40GB..
        vendor (None | str | Unset): Accelerator vendor, e.g. nvidia
        arch (None | str | Unset): x86_64, aarch64, ...
        testbed (None | str | Unset):
        limit (int | Unset):  Default: 100.
        cursor (None | str | Unset): next_cursor of the previous page

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | NodePage
    """

    return sync_detailed(
        client=client,
        accelerator=accelerator,
        vendor=vendor,
        arch=arch,
        testbed=testbed,
        limit=limit,
        cursor=cursor,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient | Client,
    accelerator: None | str | Unset = UNSET,
    vendor: None | str | Unset = UNSET,
    arch: None | str | Unset = UNSET,
    testbed: None | str | Unset = UNSET,
    limit: int | Unset = 100,
    cursor: None | str | Unset = UNSET,
) -> Response[ErrorBody | NodePage]:
    """List nodes and their hardware

     Nodes and their hardware, filtered; sorted by testbed and name.

    Args:
        accelerator (None | str | Unset): e.g. H100, H100:2, nvidia:40GB..
        vendor (None | str | Unset): Accelerator vendor, e.g. nvidia
        arch (None | str | Unset): x86_64, aarch64, ...
        testbed (None | str | Unset):
        limit (int | Unset):  Default: 100.
        cursor (None | str | Unset): next_cursor of the previous page

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | NodePage]
    """

    kwargs = _get_kwargs(
        accelerator=accelerator,
        vendor=vendor,
        arch=arch,
        testbed=testbed,
        limit=limit,
        cursor=cursor,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient | Client,
    accelerator: None | str | Unset = UNSET,
    vendor: None | str | Unset = UNSET,
    arch: None | str | Unset = UNSET,
    testbed: None | str | Unset = UNSET,
    limit: int | Unset = 100,
    cursor: None | str | Unset = UNSET,
) -> ErrorBody | NodePage | None:
    """List nodes and their hardware

     Nodes and their hardware, filtered; sorted by testbed and name.

    Args:
        accelerator (None | str | Unset): e.g. H100, H100:2, nvidia:40GB..
        vendor (None | str | Unset): Accelerator vendor, e.g. nvidia
        arch (None | str | Unset): x86_64, aarch64, ...
        testbed (None | str | Unset):
        limit (int | Unset):  Default: 100.
        cursor (None | str | Unset): next_cursor of the previous page

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | NodePage
    """

    return (
        await asyncio_detailed(
            client=client,
            accelerator=accelerator,
            vendor=vendor,
            arch=arch,
            testbed=testbed,
            limit=limit,
            cursor=cursor,
        )
    ).parsed
