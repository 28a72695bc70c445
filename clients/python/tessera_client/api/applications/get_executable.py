from http import HTTPStatus
from typing import Any
from urllib.parse import quote
from uuid import UUID

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error_body import ErrorBody
from ...models.executable_out import ExecutableOut
from ...types import Response


def _get_kwargs(
    executable_id: UUID,
) -> dict[str, Any]:

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/api/v1/executables/{executable_id}".format(
            executable_id=quote(str(executable_id), safe=""),
        ),
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> ErrorBody | ExecutableOut | None:
    if response.status_code == 200:
        response_200 = ExecutableOut.from_dict(response.json())

        return response_200

    if response.status_code == 401:
        response_401 = ErrorBody.from_dict(response.json())

        return response_401

    if response.status_code == 404:
        response_404 = ErrorBody.from_dict(response.json())

        return response_404

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
) -> Response[ErrorBody | ExecutableOut]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    executable_id: UUID,
    *,
    client: AuthenticatedClient | Client,
) -> Response[ErrorBody | ExecutableOut]:
    """An executable

    Args:
        executable_id (UUID):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | ExecutableOut]
    """

    kwargs = _get_kwargs(
        executable_id=executable_id,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    executable_id: UUID,
    *,
    client: AuthenticatedClient | Client,
) -> ErrorBody | ExecutableOut | None:
    """An executable

    Args:
        executable_id (UUID):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | ExecutableOut
    """

    return sync_detailed(
        executable_id=executable_id,
        client=client,
    ).parsed


async def asyncio_detailed(
    executable_id: UUID,
    *,
    client: AuthenticatedClient | Client,
) -> Response[ErrorBody | ExecutableOut]:
    """An executable

    Args:
        executable_id (UUID):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | ExecutableOut]
    """

    kwargs = _get_kwargs(
        executable_id=executable_id,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    executable_id: UUID,
    *,
    client: AuthenticatedClient | Client,
) -> ErrorBody | ExecutableOut | None:
    """An executable

    Args:
        executable_id (UUID):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | ExecutableOut
    """

    return (
        await asyncio_detailed(
            executable_id=executable_id,
            client=client,
        )
    ).parsed
