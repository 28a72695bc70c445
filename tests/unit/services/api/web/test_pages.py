"""The dashboard's pages in-process (SQLite): sign-in, isolation, forms, headers, the run
page with its attempts, result and hwinfo."""

from __future__ import annotations

import json
import re
import uuid

import pytest
from sqlalchemy import select

from services.api import openapi
from services.api.web.render import CSP
from services.api.web.session import SESSION_COOKIE
from shared.db.models import Run
from shared.store import ArtifactStore, run_log_key, run_result_key
from tests.unit.services.api.conftest import Api
from tests.unit.services.api.web.conftest import csrf_of, sign_in
from tests.unit.services.api.web.test_views import full_hwinfo

PAGES = ("/", "/inspections", "/deployments", "/nodes", "/inspections/new")


def _submit(web: Api, who: str = "alpha", **body: object) -> str:
    spec = {"base": "host", "script": "echo hi", **body}
    created = web.client.post("/api/v1/inspections", headers=web.auth(who), json=spec)
    assert created.status_code == 202, created.text
    return str(created.json()["inspection_id"])


def _run_id(web: Api, inspection_id: str, who: str = "alpha") -> str:
    runs = web.client.get(f"/api/v1/inspections/{inspection_id}/runs", headers=web.auth(who))
    return str(runs.json()["items"][0]["id"])


def test_pages_need_a_session(web: Api) -> None:
    for path in PAGES:
        answer = web.client.get(path, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/signin?next=")
    fragment = web.client.get("/inspections/live", headers={"HX-Request": "true"})
    assert fragment.status_code == 401 and fragment.headers["HX-Redirect"].startswith("/signin")
    assert web.client.get("/api/v1/inspections").status_code == 401, "the API takes no cookie"
    form = web.client.post("/inspections/new", data={"script": "echo"}, follow_redirects=False)
    assert form.status_code == 303 and form.headers["location"] == "/signin?next=/"


def test_without_a_secret_key_in_production_the_dashboard_says_so(
    web: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(web.settings, "environment", "production")
    monkeypatch.setattr(web.settings, "secret_key", "")
    answer = web.client.get("/signin")
    assert answer.status_code == 503 and "TESSERA_SECRET_KEY" in answer.text


def test_sign_in_sets_a_strict_http_only_cookie_and_signs_out(web: Api) -> None:
    form = web.client.get("/signin")
    assert form.headers["content-security-policy"] == CSP
    assert "unsafe-inline" not in CSP and "script-src 'self'" in CSP
    wrong = web.client.post("/signin", data={"csrf": csrf_of(form.text), "token": "tsr_nope"})
    assert wrong.status_code == 401 and "unknown or revoked" in wrong.text
    answer = web.client.post(
        "/signin",
        data={"csrf": csrf_of(form.text), "token": web.tokens["alpha"], "next": "/nodes"},
        follow_redirects=False,
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/nodes"
    cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert web.tokens["alpha"] not in cookie, "the cookie carries no token"
    for path in PAGES:
        page = web.client.get(path)
        assert page.status_code == 200, path
        assert page.headers["x-frame-options"] == "DENY"
        assert "<script>" not in page.text, "no inline script: the CSP would refuse it"
    token = csrf_of(web.client.get("/").text)
    web.client.post("/signout", data={"csrf": token})
    assert web.client.get("/", follow_redirects=False).status_code == 303


def test_every_form_post_needs_its_csrf_token(web: Api) -> None:
    csrf = sign_in(web.client, web.tokens["admin"])
    for path in ("/signout", "/inspections/new"):
        refused = web.client.post(path, data={"csrf": "forged", "script": "echo hi"})
        assert refused.status_code == 403, path
    testbed = web.client.get("/api/v1/testbeds", headers=web.auth("admin")).json()["items"][0]
    refresh = f"/testbeds/{testbed['id']}/refresh"
    assert web.client.post(refresh, data={}).status_code == 403
    done = web.client.post(refresh, data={"csrf": csrf})
    assert done.status_code == 200 and "refresh of local was requested" in done.text
    assert ("monitor.refresh", testbed["id"], True) in web.tasks.sent


def test_the_submit_form_goes_the_api_way(web: Api) -> None:
    csrf = sign_in(web.client, web.tokens["alpha"])
    refused = web.client.post(
        "/inspections/new", data={"csrf": csrf, "script": "nvidia-smi", "hardware": "H100:1"}
    )
    assert refused.status_code == 422
    message = re.search(r'id="hardware-error"[^>]*>([^<]+)<', refused.text)
    assert message and message.group(1).startswith("run.requests.hardware:")
    assert "H100" in message.group(1)
    bad_batch = web.client.post(
        "/inspections/new", data={"csrf": csrf, "script": "echo", "batch_size": "0"}
    )
    assert 'id="batch_size-error"' in bad_batch.text
    made = web.client.post(
        "/inspections/new",
        data={"csrf": csrf, "script": "#!/bin/sh\r\necho hi\r\n", "identifier": "form-1"},
        follow_redirects=False,
    )
    assert made.status_code == 303
    inspection_id = made.headers["location"].rsplit("/", 1)[1]
    spec = web.client.get(
        f"/api/v1/inspections/{inspection_id}/specification", headers=web.auth("alpha")
    ).json()
    assert spec["script"] == "#!/bin/sh\necho hi\n" and spec["identifier"] == "form-1"
    assert any(name == "builder.build" for name, _, _ in web.tasks.sent)


def test_another_projects_ids_are_not_found(web: Api) -> None:
    inspection_id = _submit(web, identifier="alpha-only")
    run_id = _run_id(web, inspection_id)
    sign_in(web.client, web.tokens["beta"])
    for path in (
        f"/inspections/{inspection_id}",
        f"/inspections/{inspection_id}/live",
        f"/runs/{run_id}",
        f"/runs/{run_id}/live",
        f"/runs/{run_id}/log.txt",
        f"/runs/{run_id}/log/stream",
        f"/inspections/{inspection_id}/build/log/stream",
        f"/deployments/{inspection_id}",
        "/runs/not-a-uuid",
    ):
        assert web.client.get(path).status_code == 404, path
    overview = web.client.get("/").text
    assert re.search(r'data-total="inspections">0<', overview)
    assert "alpha-only" not in web.client.get("/inspections").text
    assert web.client.get("/testbeds").status_code == 403
    sign_in(web.client, web.tokens["alpha"])
    assert re.search(r'data-total="inspections">1<', web.client.get("/").text)
    listing = web.client.get("/inspections?q=ALPHA").text
    assert "alpha-only" in listing and 'hx-trigger="every 2s"' in listing
    assert "alpha-only" not in web.client.get("/inspections?state=succeeded").text


def test_list_pages_newest_first(web: Api) -> None:
    for index in range(27):
        _submit(web, identifier=f"many-{index:02d}")
    sign_in(web.client, web.tokens["alpha"])
    first = web.client.get("/inspections").text
    assert first.index("many-26") < first.index("many-25") and "many-01" not in first
    older = re.search(r'href="(/inspections\?cursor=[^"]+)" rel="next"', first)
    assert older
    second = web.client.get(older.group(1).replace("&amp;", "&")).text
    assert "many-01" in second and "many-26" not in second


def _finish(web: Api, run_id: str, *, log: bytes, attempts: bool) -> None:
    """Make the run look ended, as the monitor leaves it: state, log and result stored."""
    store = ArtifactStore(web.settings.artifact_root)
    store.put(run_log_key(run_id), log)
    result = {
        "run_id": run_id,
        "index": 0,
        "hwinfo": full_hwinfo(),
        "stdout": {"answer": 42},
        "stderr": "<b>warning</b>",
        "exit_code": 0,
        "usage": {"ru_utime": 0.25, "ru_maxrss": 4096},
    }
    store.put(run_result_key(run_id), json.dumps(result).encode())

    async def update() -> None:
        from shared.db.models import RunAttempt

        async with web.client.app.state.sessions() as session:  # type: ignore[attr-defined]
            run = (
                await session.execute(select(Run).where(Run.id == uuid.UUID(run_id)))
            ).scalar_one()
            run.state, run.exit_code, run.node_name, run.attempt = "succeeded", 0, "vm", 2
            if attempts:
                for number, state in ((1, "lost"), (2, "succeeded")):
                    session.add(
                        RunAttempt(
                            run_id=run.id,
                            number=number,
                            key=uuid.uuid4(),
                            state=state,
                            node_name=f"node-{number}",
                            placement={"why": f"choice {number}"},
                        )
                    )
            await session.commit()

    web.client.portal.call(update)  # type: ignore[union-attr]


def test_run_page_shows_attempts_result_and_hwinfo(web: Api) -> None:
    run_id = _run_id(web, _submit(web))
    _finish(web, run_id, log=b"<script>alert(1)</script>\n" * 3, attempts=True)
    sign_in(web.client, web.tokens["alpha"])
    page = web.client.get(f"/runs/{run_id}").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert" not in page
    assert "&lt;b&gt;warning&lt;/b&gt;" in page and "&#34;answer&#34;: 42" in page
    attempts = page[
        page.index('id="attempts"') : page.index("</table>", page.index('id="attempts"'))
    ]
    assert attempts.index("node-1") < attempts.index("node-2") and "lost" in attempts
    cpu = full_hwinfo()["cpu"]["model_name"]
    assert cpu in page and "H100" in page and "4242" in page
    assert "hx-trigger" not in page, "an ended run is not polled"
    raw = web.client.get(f"/runs/{run_id}/hwinfo.json")
    assert raw.headers["content-disposition"].startswith("attachment")
    assert raw.json()["cpu"]["model_name"] == cpu
    assert web.client.get(f"/runs/{run_id}/result.json").json()["exit_code"] == 0
    live = web.client.get(f"/runs/{run_id}/live").text
    assert 'hx-swap-oob="true"' in live


def test_run_without_attempt_rows_shows_its_own_placement(web: Api) -> None:
    run_id = _run_id(web, _submit(web))
    sign_in(web.client, web.tokens["alpha"])
    assert "Not placed yet" in web.client.get(f"/runs/{run_id}").text
    _finish(web, run_id, log=b"x" * (2 * 1024 * 1024), attempts=False)
    page = web.client.get(f"/runs/{run_id}").text
    attempts = page[
        page.index('id="attempts"') : page.index("</table>", page.index('id="attempts"'))
    ]
    assert ">vm<" in attempts and ">2<" in attempts
    assert "The last 256 KiB of 2.0 MiB" in page and len(page) < 400_000


def test_dashboard_routes_stay_out_of_the_openapi_document(web: Api) -> None:
    paths = openapi.document()["paths"]
    assert not [p for p in paths if not p.startswith("/api/") and p not in ("/healthz", "/readyz")]
    static = web.client.get("/static/htmx.min.js")
    assert static.status_code == 200 and "htmx" in static.text[:200]
    assert static.headers["x-content-type-options"] == "nosniff"
