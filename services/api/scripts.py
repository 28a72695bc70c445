"""Scripts given by URL (Amun's form: `script: https://...`), fetched once at submit.

Only under a prefix the admin allows (TESSERA_SCRIPT_URL_PREFIXES), with a timeout and the
script size limit; the fetched text is what the inspection stores and runs, so a later change
at the URL never changes an accepted inspection.
"""

from __future__ import annotations

import httpx

from services.api.errors import Unprocessable
from shared.config import get_settings
from shared.specs import InspectionSpec

FIELD = "script"
TIMEOUT_S = 10.0


def is_url(script: str | None) -> bool:
    return (
        script is not None
        and script.startswith(("https://", "http://"))
        and ("\n" not in script.strip())
    )


async def resolve(spec: InspectionSpec) -> InspectionSpec:
    """The spec with a script URL replaced by the script it names; 422 when it is not allowed
    or cannot be fetched."""
    if not is_url(spec.script):
        return spec
    url = (spec.script or "").strip()
    settings = get_settings()
    if not any(url.startswith(prefix) for prefix in settings.script_url_prefixes):
        allowed = ", ".join(settings.script_url_prefixes) or "none"
        raise Unprocessable.on(
            FIELD, f"{url!r} is not under a prefix this server fetches scripts from ({allowed})"
        )
    limit = settings.max_script_bytes
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT_S, follow_redirects=False) as client:
            async with client.stream("GET", url) as response:
                if response.status_code != 200:
                    raise Unprocessable.on(FIELD, f"{url!r} answered {response.status_code}")
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > limit:
                        raise Unprocessable.on(FIELD, f"{url!r} is over {limit} bytes")
    except httpx.HTTPError as error:
        raise Unprocessable.on(FIELD, f"{url!r} could not be fetched: {error}") from None
    try:
        text = body.decode()
    except UnicodeDecodeError:
        raise Unprocessable.on(FIELD, f"{url!r} is not UTF-8 text") from None
    data = spec.model_dump(mode="json", exclude_unset=True)
    data[FIELD] = text
    try:
        return InspectionSpec.model_validate(data)
    except ValueError as error:
        raise Unprocessable.on(FIELD, f"the script fetched from {url!r}: {error}") from None
