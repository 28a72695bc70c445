from http import HTTPStatus
from typing import Any
from urllib.parse import quote
from uuid import UUID

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error_body import ErrorBody
from ...types import UNSET, Response, Unset


def _get_kwargs(
    executable_id: UUID,
    *,
    follow: bool | Unset = False,
    offset: int | None | Unset = UNSET,
    last_event_id: None | str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(last_event_id, Unset):
        headers["last-event-id"] = last_event_id

    params: dict[str, Any] = {}

    params["follow"] = follow

    json_offset: int | None | Unset
    if isinstance(offset, Unset):
        json_offset = UNSET
    else:
        json_offset = offset
    params["offset"] = json_offset

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/api/v1/executables/{executable_id}/log".format(
            executable_id=quote(str(executable_id), safe=""),
        ),
        "params": params,
    }

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> ErrorBody | str | None:
    if response.status_code == 200:
        response_200 = response.text
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


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[ErrorBody | str]:
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
    follow: bool | Unset = False,
    offset: int | None | Unset = UNSET,
    last_event_id: None | str | Unset = UNSET,
) -> Response[ErrorBody | str]:
    """The build's log, so far or live

    Args:
        executable_id (UUID):
        follow (bool | Unset): Stream the log as server-sent events until the work ends. Default:
            False.
        offset (int | None | Unset): With follow: start at this byte of the log.
        last_event_id (None | str | Unset): With follow: resume after this event id (a byte
            offset).

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | str]
    """

    kwargs = _get_kwargs(
        executable_id=executable_id,
        follow=follow,
        offset=offset,
        last_event_id=last_event_id,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    executable_id: UUID,
    *,
    client: AuthenticatedClient | Client,
    follow: bool | Unset = False,
    offset: int | None | Unset = UNSET,
    last_event_id: None | str | Unset = UNSET,
) -> ErrorBody | str | None:
    """The build's log, so far or live

    Args:
        executable_id (UUID):
        follow (bool | Unset): Stream the log as server-sent events until the work ends. Default:
            False.
        offset (int | None | Unset): With follow: start at this byte of the log.
        last_event_id (None | str | Unset): With follow: resume after this event id (a byte
            offset).

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | str
    """

    return sync_detailed(
        executable_id=executable_id,
        client=client,
        follow=follow,
        offset=offset,
        last_event_id=last_event_id,
    ).parsed


async def asyncio_detailed(
    executable_id: UUID,
    *,
    client: AuthenticatedClient | Client,
    follow: bool | Unset = False,
    offset: int | None | Unset = UNSET,
    last_event_id: None | str | Unset = UNSET,
) -> Response[ErrorBody | str]:
    """The build's log, so far or live

    Args:
        executable_id (UUID):
        follow (bool | Unset): Stream the log as server-sent events until the work ends. Default:
            False.
        offset (int | None | Unset): With follow: start at this byte of the log.
        last_event_id (None | str | Unset): With follow: resume after this event id (a byte
            offset).

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | str]
    """

    kwargs = _get_kwargs(
        executable_id=executable_id,
        follow=follow,
        offset=offset,
        last_event_id=last_event_id,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    executable_id: UUID,
    *,
    client: AuthenticatedClient | Client,
    follow: bool | Unset = False,
    offset: int | None | Unset = UNSET,
    last_event_id: None | str | Unset = UNSET,
) -> ErrorBody | str | None:
    """The build's log, so far or live

    Args:
        executable_id (UUID):
        follow (bool | Unset): Stream the log as server-sent events until the work ends. Default:
            False.
        offset (int | None | Unset): With follow: start at this byte of the log.
        last_event_id (None | str | Unset): With follow: resume after this event id (a byte
            offset).

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | str
    """

    return (
        await asyncio_detailed(
            executable_id=executable_id,
            client=client,
            follow=follow,
            offset=offset,
            last_event_id=last_event_id,
        )
    ).parsed
