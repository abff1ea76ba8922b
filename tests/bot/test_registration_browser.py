"""One visit in a real browser: `wandb-inject serve` with no app, to one that runs."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import httpx
import webhook_payloads as payloads
from fakehub.fixtures import Hub
from loopback import free_port
from processes import answering, log_entries, start, stop, stopped_cleanly
from support import require_module, require_tool

from bot.credentials import credentials_path, load_credentials

# Without the background-networking flags, Chromium dials out at start, and a
# closed network refuses it noisily.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WAIT_MS = 30_000


def test_one_browser_visit_registers_the_app_and_the_server_starts(
    tmp_path: Path, github: Hub
) -> None:
    chromium = require_tool("chromium", "apt-get install chromium (Debian)")
    require_module("playwright", "pip install playwright (in the test extras)")
    from playwright.sync_api import sync_playwright

    data_dir = tmp_path / "data"
    listen = f"127.0.0.1:{free_port()}"
    clean = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_INJECT")}
    process = start(
        "serve",
        clean
        | {
            "WANDB_INJECT_DATA_DIR": str(data_dir),
            "WANDB_INJECT_GITHUB_API_URL": github.url,
            "WANDB_INJECT_GITHUB_URL": github.web_url,
            "WANDB_INJECT_LISTEN": listen,
        },
    )
    url = f"http://{listen}"
    try:
        answering(f"{url}/healthz", process)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=chromium, args=CHROMIUM_FLAGS, headless=True
            )
            page = browser.new_page()
            page.goto(f"{url}/", timeout=WAIT_MS)
            page.click("#register", timeout=WAIT_MS)
            page.wait_for_url(f"{github.web_url}/settings/apps/new?*", timeout=WAIT_MS)
            page.click("#create", timeout=WAIT_MS)
            page.wait_for_url(f"{url}/register/callback?*", timeout=WAIT_MS)
            shown = page.inner_text("body")
            browser.close()
        stored = load_credentials(data_dir)
        assert stored is not None
        body = payloads.encode(payloads.installation_created())
        headers = payloads.signed_headers(
            body, "installation", "delivery-1", stored.webhook_secret
        )
        delivered = httpx.post(f"{url}/webhook", content=body, headers=headers)
        ready = httpx.get(f"{url}/readyz")
    finally:
        code, output = stop(process)

    [app] = [each for each in github.world.apps.values() if each.hook_url]
    assert "It is serving webhooks now" in shown, shown
    assert stored.app_id == app.id and stored.private_key == app.private_key
    assert app.hook_url == f"{url}/webhook"
    assert stat.S_IMODE(credentials_path(data_dir).stat().st_mode) == 0o600
    assert delivered.status_code == 200, delivered.text
    assert delivered.json()["outcome"] == "installation updated"
    assert ready.status_code == 200
    assert stopped_cleanly(code, output), output
    entries = log_entries(output)
    opened = [e for e in entries if e["message"].startswith("no app credentials")]
    assert [e.get("url") for e in opened] == [f"{url}/register"]
    messages = {entry["message"] for entry in entries}
    assert {"app registered", "serving webhooks"} <= messages
    assert stored.webhook_secret not in output and "PRIVATE KEY" not in output
