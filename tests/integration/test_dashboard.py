"""The dashboard in a real browser: Playwright driving Debian's Chromium (/usr/bin/chromium,
`make tools` installs it) against the integration stack (API, workers, Postgres, Redis).

Screenshots of each page go to $TESSERA_TEST_ARTIFACTS (default .tessera/artifacts/dashboard).
"""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Dialog, Page, expect, sync_playwright

from shared import hwinfo
from tests.integration.conftest import Stack

pytestmark = pytest.mark.integration

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("TESSERA_TEST_ARTIFACTS", ROOT / ".tessera/artifacts/dashboard"))
XSS = ("<script>alert(1)</script>", '"><img src=x onerror=alert(1)>')
# A line a second for six seconds: the log must grow on the page while the run is running.
TICKING = (
    "#!/usr/bin/env python3\nimport time\n"
    "for i in range(1, 7):\n    print(f'tick {i}', flush=True)\n    time.sleep(1)\n"
)


@dataclass
class Watched:
    """A page with what must never happen on it recorded: dialogs, CSP errors, reloads."""

    page: Page
    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    loads: list[str] = field(default_factory=list)

    def clean(self) -> None:
        assert self.dialogs == [], f"a dialog fired: {self.dialogs}"
        assert self.errors == [], f"the console reported errors: {self.errors}"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert CHROMIUM.exists(), "Chromium is missing: `make tools` installs it (apt chromium)"
    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=args)
        yield launched
        launched.close()


def _watch(page: Page) -> Watched:
    watched = Watched(page)

    def on_dialog(dialog: Dialog) -> None:
        watched.dialogs.append(dialog.message)
        dialog.dismiss()

    def on_console(message: ConsoleMessage) -> None:
        # A 4xx page the test asks for is logged as an error; a CSP refusal is one for real.
        if message.type == "error" and "responded with a status of 4" not in message.text:
            watched.errors.append(message.text)

    page.on("dialog", on_dialog)
    page.on("console", on_console)
    page.on("pageerror", lambda error: watched.errors.append(str(error)))
    page.on(
        "framenavigated",
        lambda frame: watched.loads.append(frame.url) if frame == page.main_frame else None,
    )
    return watched


SignIn = Callable[[str], Watched]


@pytest.fixture
def open_page(browser: Browser, stack: Stack) -> Iterator[SignIn]:
    """Sign in a fresh browser context (its own cookies) with a token; its page, watched."""
    contexts = []

    def signed_in(token: str) -> Watched:
        context = browser.new_context(base_url=stack.url, viewport={"width": 1280, "height": 900})
        contexts.append(context)
        watched = _watch(context.new_page())
        page = watched.page
        page.goto("/signin")
        page.fill("#token", token)
        page.click("button[type=submit]")
        expect(page).to_have_url(f"{stack.url}/")
        return watched

    yield signed_in
    for context in contexts:
        context.close()


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _cpu_model() -> str:
    found: str = hwinfo.collect()["cpu"]["model_name"]
    assert found, "this machine's probe names no CPU model"
    return found


def test_submit_watch_and_read_the_run(open_page: SignIn, stack: Stack) -> None:
    """Sign in, submit from the form, follow the state and the log live, read the hwinfo."""
    watched: Watched = open_page(stack.token)
    page = watched.page
    shot(page, "overview")
    page.click("text=New inspection")
    page.fill("#identifier", "dashboard-ticks")
    page.fill("#script", TICKING)
    page.click("form.submit button[type=submit]")
    expect(page).to_have_url(re.compile(r"/inspections/[0-9a-f-]{36}$"))
    inspection_url = page.url
    # A second tab stays on the inspection: its state must reach succeeded with no reload.
    other = _watch(page.context.new_page())
    other.page.goto(inspection_url)
    run_link = page.locator("#runs a", has_text="run 0")
    expect(run_link).to_be_visible(timeout=30_000)
    expect(page.locator("#runs tr[data-run='0'] [data-state]")).to_have_text(
        re.compile("placed|running"), timeout=30_000
    )
    run_link.click()
    expect(page).to_have_url(re.compile(r"/runs/[0-9a-f-]{36}$"))
    loads = len(watched.loads)
    state = page.locator("#live [data-state]").first
    log = page.locator("#log")
    expect(log).to_contain_text("tick 2", timeout=20_000)
    assert "tick 6" not in log.inner_text(), "the log should still be growing"
    expect(state).to_have_text("running")
    shot(page, "run-live")
    expect(log).to_contain_text("tick 5", timeout=20_000)
    expect(state).to_have_text("succeeded", timeout=30_000)
    assert log.inner_text().count("tick 3") == 1, "no line twice"
    assert len(watched.loads) == loads, "the run page reloaded"
    hw = page.locator("#hwinfo [data-table='CPU']")
    expect(hw).to_contain_text(_cpu_model())
    expect(page.locator("#result")).to_contain_text("exit code")
    expect(page.locator("#stdout")).to_contain_text("tick 6")
    expect(page.locator("#hwinfo a.download")).to_have_attribute("href", re.compile("hwinfo.json$"))
    shot(page, "run")
    with page.expect_download() as download:
        page.click("#hwinfo a.download")
    assert b'"model_name"' in Path(download.value.path()).read_bytes()
    expect(other.page.locator("#live [data-state]").first).to_have_text("succeeded", timeout=30_000)
    assert other.loads == [inspection_url], "the inspection page reloaded"
    shot(other.page, "inspection")
    page.goto("/inspections")
    expect(page.locator("#rows")).to_contain_text("dashboard-ticks")
    shot(page, "inspections")
    watched.clean()
    other.clean()


def test_wrong_token_is_refused_clearly(browser: Browser, stack: Stack) -> None:
    context = browser.new_context(base_url=stack.url)
    watched = _watch(context.new_page())
    page = watched.page
    page.goto("/inspections")
    expect(page).to_have_url(re.compile(r"/signin\?next=/inspections$"))
    page.fill("#token", "tsr_not-a-token")
    with page.expect_response(lambda r: r.url.endswith("/signin")) as answer:
        page.click("button[type=submit]")
    assert answer.value.status == 401
    expect(page.locator("#signin-error")).to_contain_text("unknown or revoked")
    shot(page, "signin-refused")
    context.close()
    watched.clean()


def test_user_text_is_rendered_as_text(open_page: SignIn, stack: Stack) -> None:
    watched: Watched = open_page(stack.token)
    page = watched.page
    # The form: the API refuses the identifier; the page shows why, and the value as text.
    page.goto("/inspections/new")
    page.fill("#identifier", XSS[0] + XSS[1])
    page.fill("#script", f"echo '{XSS[0]}'")
    page.click("form.submit button[type=submit]")
    expect(page.locator("#identifier-error")).to_contain_text("identifier:")
    assert page.input_value("#identifier") == XSS[0] + XSS[1]
    shot(page, "submit-refused")
    # An inspection whose script prints both; its identifier made hostile in the database
    # (the API refuses it, a row from elsewhere might not).
    script = "#!/bin/sh\nprintf '%s\\n' '" + XSS[0] + "' '" + XSS[1].replace("'", "") + "'\n"
    with stack.client() as client:
        created = client.post("/inspections", json={"base": "host", "script": script})
        inspection_id = created.raise_for_status().json()["inspection_id"]
        stack.wait(client, f"/inspections/{inspection_id}", timeout=60)
        run_id = client.get(f"/inspections/{inspection_id}/runs").json()["items"][0]["id"]
    with psycopg.connect(stack.env["TESSERA_DATABASE_URL"], autocommit=True) as db:
        db.execute(
            "UPDATE inspections SET identifier = %s WHERE id = %s", (XSS[0] + XSS[1], inspection_id)
        )
    page.goto("/inspections?q=" + httpx.QueryParams({"x": "<script>"})["x"])
    expect(page.locator("#rows")).to_contain_text(XSS[0] + XSS[1])
    page.goto(f"/inspections/{inspection_id}")
    expect(page.locator("h1 .identifier")).to_have_text(XSS[0] + XSS[1])
    expect(page.locator("#spec")).to_contain_text(XSS[0])
    page.goto(f"/runs/{run_id}")
    expect(page.locator("#log")).to_contain_text(XSS[0])
    expect(page.locator("#stdout")).to_contain_text(XSS[1].replace("'", ""))
    expect(page.locator(".crumbs .identifier")).to_have_text(XSS[0] + XSS[1])
    assert page.locator("img").count() == 0, "markup from the user became an element"
    assert page.locator("main script").count() == 0
    shot(page, "run-hostile-text")
    watched.clean()


def test_another_project_sees_only_its_own(open_page: SignIn, stack: Stack) -> None:
    with stack.client() as alpha, stack.client(stack.other_token) as beta:
        deployed = alpha.post("/deployments", json={"command": ["true"]}).raise_for_status()
        deployment_id = deployed.json()["deployment_id"]
        run_id = alpha.get(f"/deployments/{deployment_id}/runs").json()["items"][0]["id"]
        beta.post("/deployments", json={"command": ["true"]}).raise_for_status()
        own = len(beta.get("/inspections").json()["items"])
        own_deployments = len(beta.get("/deployments").json()["items"])
        theirs = len(alpha.get("/deployments").json()["items"])
    watched: Watched = open_page(stack.other_token)
    page = watched.page
    expect(page.locator("[data-total='inspections']")).to_have_text(str(own))
    expect(page.locator("[data-total='deployments']")).to_have_text(str(own_deployments))
    assert theirs > 0 and own_deployments == 1
    for path in (f"/runs/{run_id}", f"/deployments/{deployment_id}", f"/runs/{run_id}/log.txt"):
        answer = page.goto(path)
        assert answer is not None and answer.status == 404, path
    expect(page.locator("main .error")).to_contain_text("no run")
    page.goto("/deployments")
    expect(page.locator("#rows tbody tr")).to_have_count(own_deployments)
    watched.clean()


@pytest.fixture
def gpu_testbed(stack: Stack) -> Iterator[None]:
    """A testbed with GPU nodes as a refresh would store them: 8 H100 of which the
    scheduler reports 3 held by other work, and a drained node with 4 A100.

    Of a kind no connector refreshes here; runs that ask for no GPU rank the local node
    (no accelerators) first, so nothing is placed on it while it exists.
    """
    url = stack.env["TESSERA_DATABASE_URL"]
    testbed_id = uuid.uuid4()
    nodes = [
        ("gpu-node-01", "online", None, "H100", 85899345920, 8, 3),
        ("gpu-node-02", "drained", "drained for maintenance", "A100", 42949672960, 4, 0),
    ]
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(
            "INSERT INTO testbeds (id, name, kind, config, state, created_at, refreshed_at)"
            " VALUES (%s, 'gpu-lab', 'ec2', '{}', 'online', now(), now())",
            (testbed_id,),
        )
        for name, state, reason, model, memory, count, held in nodes:
            accelerator = {
                "kind": "gpu", "vendor": "nvidia", "model": model, "memory_bytes": memory,
                "count": count, "held_by_others": held,
            }  # fmt: skip
            inventory = {"arch": "x86_64", "accelerators": [accelerator], "runtimes": ["native"]}
            connection.execute(
                "INSERT INTO nodes (id, testbed_id, name, state, state_reason, arch, cpu_model,"
                " cores, memory_bytes, inventory, hwinfo, updated_at) VALUES (%s, %s, %s, %s,"
                " %s, 'x86_64', 'Intel Xeon Platinum 8480+', 112, 2164663517184, %s, '{}', now())",
                (uuid.uuid4(), testbed_id, name, state, reason, json.dumps(inventory)),
            )
    try:
        yield
    finally:
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute("DELETE FROM testbeds WHERE id = %s", (testbed_id,))


def test_nodes_page_lists_the_local_node(
    open_page: SignIn, stack: Stack, gpu_testbed: None
) -> None:
    with stack.client() as client:
        local = [n for n in client.get("/nodes").json()["items"] if n["testbed"] == "local"]
    assert local, "the stack has no local node"
    watched: Watched = open_page(stack.token)
    page = watched.page
    page.goto("/nodes")
    row = page.locator(f"#nodes tr[data-testbed='local'][data-node='{local[0]['name']}']")
    expect(row).to_be_visible()
    expect(row).to_contain_text(local[0]["cpu_model"] or "")
    expect(row.locator("[data-state]").first).to_have_text(local[0]["state"])
    h100 = page.locator(".bar[data-model='H100']")
    expect(h100).to_contain_text("3 busy")
    expect(h100).to_contain_text("5 free")
    expect(page.locator(".bar[data-model='A100']")).to_contain_text("4 offline")
    expect(page.locator("#nodes tr[data-node='gpu-node-02']")).to_contain_text(
        "drained for maintenance"
    )
    shot(page, "nodes")
    page.select_option("#gpu", "H100")
    page.click("form.filters button")
    expect(page.locator("#nodes tbody tr")).to_have_count(1)
    expect(page.locator("#nodes tbody tr")).to_contain_text("gpu-node-01")
    page.goto("/")
    expect(page.locator(".bar[data-model='H100']")).to_contain_text("3 busy")
    shot(page, "overview-gpus")
    watched.clean()


def test_testbeds_page_is_for_admins(open_page: SignIn, stack: Stack) -> None:
    user: Watched = open_page(stack.token)
    answer = user.page.goto("/testbeds")
    assert answer is not None and answer.status == 403
    expect(user.page.locator("nav")).not_to_contain_text("Testbeds")
    admin: Watched = open_page(stack.admin_token)
    page = admin.page
    page.click("nav >> text=Testbeds")
    row = page.locator("#testbeds tr[data-testbed='local']")
    expect(row).to_contain_text("local")
    before = row.locator("td").nth(3).inner_text()
    shot(page, "testbeds")
    row.locator("button", has_text="Refresh").click()
    expect(page.locator(".notice")).to_contain_text("refresh of local was requested")
    deadline = time.monotonic() + 20
    while row.locator("td").nth(3).inner_text() == before and time.monotonic() < deadline:
        time.sleep(0.5)
        page.reload()
    assert row.locator("td").nth(3).inner_text() != before, "the refresh never happened"
    admin.clean()
