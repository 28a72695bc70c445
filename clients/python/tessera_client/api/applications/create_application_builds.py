from http import HTTPStatus
from typing import Any
from urllib.parse import quote
from uuid import UUID

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.build_request import BuildRequest
from ...models.build_started import BuildStarted
from ...models.error_body import ErrorBody
from ...types import Response


def _get_kwargs(
    application_id: UUID,
    *,
    body: BuildRequest,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/api/v1/applications/{application_id}/builds".format(
            application_id=quote(str(application_id), safe=""),
        ),
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> BuildStarted | ErrorBody | None:
    if response.status_code == 202:
        response_202 = BuildStarted.from_dict(response.json())

        return response_202

    if response.status_code == 401:
        response_401 = ErrorBody.from_dict(response.json())

        return response_401

    if response.status_code == 404:
        response_404 = ErrorBody.from_dict(response.json())

        return response_404

    if response.status_code == 409:
        response_409 = ErrorBody.from_dict(response.json())

        return response_409

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
) -> Response[BuildStarted | ErrorBody]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    application_id: UUID,
    *,
    client: AuthenticatedClient | Client,
    body: BuildRequest,
) -> Response[BuildStarted | ErrorBody]:
    """Compile the application for each configuration

     One build per configuration, each placed on a node its hardware fits (422 naming the
    configuration no node fits); the same source and configuration again answers the
    existing executable (`cached: true`).

    Args:
        application_id (UUID):
        body (BuildRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[BuildStarted | ErrorBody]
    """

    kwargs = _get_kwargs(
        application_id=application_id,
        body=body,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    application_id: UUID,
    *,
    client: AuthenticatedClient | Client,
    body: BuildRequest,
) -> BuildStarted | ErrorBody | None:
    """Compile the application for each configuration

     One build per configuration, each placed on a node its hardware fits (422 naming the
    configuration no node fits); the same source and configuration again answers the
    existing executable (`cached: true`).

    Args:
        application_id (UUID):
        body (BuildRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        BuildStarted | ErrorBody
    """

    return sync_detailed(
        application_id=application_id,
        client=client,
        body=body,
    ).parsed


async def asyncio_detailed(
    application_id: UUID,
    *,
    client: AuthenticatedClient | Client,
    body: BuildRequest,
) -> Response[BuildStarted | ErrorBody]:
    """Compile the application for each configuration

     One build per configuration, each placed on a node its hardware fits (422 naming the
    configuration no node fits); the same source and configuration again answers the
    existing executable (`cached: true`).

    Args:
        application_id (UUID):
        body (BuildRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[BuildStarted | ErrorBody]
    """

    kwargs = _get_kwargs(
        application_id=application_id,
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    application_id: UUID,
    *,
    client: AuthenticatedClient | Client,
    body: BuildRequest,
) -> BuildStarted | ErrorBody | None:
    """Compile the application for each configuration

     One build per configuration, each placed on a node its hardware fits (422 naming the
    configuration no node fits); the same source and configuration again answers the
    existing executable (`cached: true`).

    Args:
        application_id (UUID):
        body (BuildRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        BuildStarted | ErrorBody
    """

    return (
        await asyncio_detailed(
            application_id=application_id,
            client=client,
            body=body,
        )
    ).parsed
