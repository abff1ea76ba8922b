"""Registration mode against the fake GitHub: the page, the manifest flow, the file."""

from __future__ import annotations

import json
import logging
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest
import webhook_payloads as payloads
from fakehub.fixtures import Hub
from githubkit import AppAuthStrategy, GitHub
from loopback import free_port
from starlette.testclient import TestClient

from bot.app import create_app
from bot.credentials import Credentials, credentials_path, load_credentials
from bot.registration import (
    REGISTRATION_PATHS,
    STATE_COOKIE,
    States,
    create_registration_app,
)
from bot.settings import RegistrationSettings, Settings
from bot.switchboard import Switchboard


@dataclass
class Form:
    action: str
    fields: dict[str, str]


class _Forms(HTMLParser):
    """The page's POST forms: their actions and hidden fields, as a browser sees."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = {key: value or "" for key, value in attrs}
        if tag == "form" and named.get("method") == "post":
            self.forms.append(Form(named["action"], {}))
        elif tag == "input" and self.forms and named.get("type") == "hidden":
            self.forms[-1].fields[named["name"]] = named["value"]


def post_form(page: httpx.Response) -> Form:
    parser = _Forms()
    parser.feed(page.text)
    [form] = parser.forms
    form.action = urljoin(str(page.url), form.action)
    return form


@dataclass
class Setup:
    """A registration app on a TestClient, the way the serve command wires it."""

    client: TestClient
    environment: dict[str, str]
    data_dir: Path
    registered: list[Credentials] = field(default_factory=list)


@pytest.fixture
def setup(github: Hub, tmp_path: Path) -> Iterator[Setup]:
    data_dir = tmp_path / "data"
    environment = {
        "WANDB_INJECT_DATA_DIR": str(data_dir),
        "WANDB_INJECT_GITHUB_API_URL": github.url,
        "WANDB_INJECT_QUEUE": f"sqlite://{tmp_path / 'queue.db'}",
    }
    settings = RegistrationSettings(data_dir, github.url, github.web_url, "h", 1)
    board: Switchboard
    found: list[Credentials] = []

    async def registered(credentials: Credentials) -> bool:
        found.append(credentials)
        app = create_app(Settings.from_environment(environment), workers=0)
        await board.switch_to(app)
        return True

    board = Switchboard(
        create_registration_app(settings, registered), REGISTRATION_PATHS
    )
    with TestClient(board) as client:
        yield Setup(client, environment, data_dir, found)


def through_github(client: TestClient, page: httpx.Response) -> httpx.Response:
    """Do what the person does: press the button, confirm on GitHub, come back."""
    start = post_form(page)
    review = httpx.post(start.action, data=start.fields)
    assert review.status_code == 200, review.text
    created = httpx.post(post_form(review).action, data=post_form(review).fields)
    assert created.status_code == 302, created.text
    return client.get(created.headers["location"])


def test_registering_stores_what_github_made_readable_by_its_owner_only(
    setup: Setup, github: Hub
) -> None:
    page = setup.client.get("/register")
    done = through_github(setup.client, page)

    [app] = [each for each in github.world.apps.values() if each.hook_url]
    path = credentials_path(setup.data_dir)
    assert done.status_code == 200
    assert "is serving webhooks now" in done.text
    assert f"{app.slug}" in done.text and str(app.id) in done.text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    stored = json.loads(path.read_text())
    assert stored["app_id"] == app.id and stored["slug"] == app.slug
    assert stored["private_key"] == app.private_key
    assert stored["webhook_secret"] == app.webhook_secret
    assert setup.registered == [load_credentials(setup.data_dir)]
    # Nothing secret on either page.
    for shown in (page.text, done.text):
        assert app.webhook_secret not in shown and "PRIVATE KEY" not in shown


def test_the_manifest_github_got_points_back_at_this_server(
    setup: Setup, github: Hub
) -> None:
    page = setup.client.get("/")
    form = post_form(page)
    manifest = json.loads(form.fields["manifest"])

    assert urlsplit(form.action).path == "/web/settings/apps/new"
    state = parse_qs(urlsplit(form.action).query)["state"]
    assert state == [page.cookies[STATE_COOKIE]]
    assert manifest["hook_attributes"]["url"] == "http://testserver/webhook"
    assert manifest["redirect_url"] == "http://testserver/register/callback"
    # With its trailing slash, the source covers every page under it.
    policy = page.headers["content-security-policy"]
    assert f"form-action 'self' {github.web_url}/;" in policy + ";"
    assert page.headers["cache-control"] == "no-store"


def test_after_registering_the_app_answers_webhooks_signed_with_the_new_secret(
    setup: Setup, github: Hub
) -> None:
    before = setup.client.post("/webhook", content=b"{}")
    through_github(setup.client, setup.client.get("/register"))
    stored = load_credentials(setup.data_dir)
    assert stored is not None
    body = payloads.encode(payloads.installation_created())

    signed = payloads.signed_headers(body, "installation", "d-1", stored.webhook_secret)
    accepted = setup.client.post("/webhook", content=body, headers=signed)
    old = payloads.signed_headers(body, "installation", "d-2")
    refused = setup.client.post("/webhook", content=body, headers=old)

    assert before.status_code == 503
    assert "not registered" in before.json()["reason"]
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["outcome"] == "installation updated"
    assert refused.status_code == 401
    assert setup.client.get("/readyz").status_code == 200


def test_the_stored_key_signs_app_tokens_github_accepts(
    setup: Setup, github: Hub
) -> None:
    through_github(setup.client, setup.client.get("/register"))
    settings = Settings.from_environment(setup.environment)

    auth = AppAuthStrategy(settings.app_id, settings.private_key)
    client = GitHub(auth, base_url=github.url)
    app = client.rest.apps.get_authenticated().parsed_data

    assert app is not None and app.id == settings.app_id
    assert settings.bot_login == f"{app.slug}[bot]"


def test_an_organization_gets_its_own_registration_page(
    setup: Setup, github: Hub
) -> None:
    page = setup.client.get("/register", params={"org": "acme"})
    done = through_github(setup.client, page)
    refused = setup.client.get("/register", params={"org": "../evil"})

    assert "/organizations/acme/settings/apps/new?" in post_form(page).action
    assert done.status_code == 200
    [app] = [each for each in github.world.apps.values() if each.hook_url]
    assert (app.owner, app.owner_type) == ("acme", "Organization")
    assert refused.status_code == 400


def _code_for(setup: Setup) -> tuple[str, str]:
    """A code GitHub handed back, and the state it came with; not yet exchanged."""
    start = post_form(setup.client.get("/register"))
    review = httpx.post(start.action, data=start.fields)
    created = httpx.post(post_form(review).action, data=post_form(review).fields)
    query = parse_qs(urlsplit(created.headers["location"]).query)
    return query["code"][0], query["state"][0]


@pytest.mark.parametrize(
    ("tamper", "says"),
    [
        pytest.param("no-state", "does not match", id="no-state"),
        pytest.param("other-state", "does not match", id="state-not-this-browsers"),
        pytest.param("no-cookie", "does not match", id="no-cookie"),
        pytest.param("no-code", "sent back no code", id="no-code"),
        pytest.param("bad-code", "sent back no code", id="code-with-a-slash"),
    ],
)
def test_a_callback_that_was_not_started_here_is_refused(
    setup: Setup, tamper: str, says: str
) -> None:
    code, state = _code_for(setup)
    query = {"code": code, "state": state}
    if tamper == "no-state":
        del query["state"]
    elif tamper == "other-state":
        query["state"] = "x" + state
    elif tamper == "no-cookie":
        setup.client.cookies.clear()
    elif tamper == "no-code":
        del query["code"]
    elif tamper == "bad-code":
        query["code"] = "../../app"

    refused = setup.client.get("/register/callback", params=query)

    assert refused.status_code == 400
    assert says in refused.text
    assert not credentials_path(setup.data_dir).exists()


def test_a_state_works_once(setup: Setup) -> None:
    code, state = _code_for(setup)
    first = setup.client.get(
        "/register/callback", params={"code": code, "state": state}
    )
    # Past the first: the flow is done, and a replay is refused either way.
    again = setup.client.get(
        "/register/callback", params={"code": code, "state": state}
    )

    assert first.status_code == 200
    assert again.status_code == 400
    assert "used or expired" in again.text


def test_a_state_expires_with_githubs_code(setup: Setup, github: Hub) -> None:
    clock = [0.0]
    states = States(clock=lambda: clock[0])
    state = states.issue()
    clock[0] += 3601

    assert not states.take(state)
    assert not states.take(state)


@pytest.mark.parametrize("why", ["used", "expired", "unknown"])
def test_a_code_github_refuses_gives_a_page_saying_so(
    setup: Setup, github: Hub, why: str
) -> None:
    code, state = _code_for(setup)
    if why == "used":
        assert github.world.convert_manifest(code) is not None
    elif why == "expired":
        github.world.age_manifest_codes()
    else:
        code = "0" * 40

    refused = setup.client.get(
        "/register/callback", params={"code": code, "state": state}
    )

    assert refused.status_code == 400
    assert "GitHub answered 404" in refused.text
    assert not credentials_path(setup.data_dir).exists()
    assert not setup.registered


def test_no_log_line_holds_a_secret(
    setup: Setup, github: Hub, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    through_github(setup.client, setup.client.get("/register"))

    stored = load_credentials(setup.data_dir)
    assert stored is not None
    logged = "\n".join(
        f"{record.getMessage()} {record.__dict__}" for record in caplog.records
    )
    assert "app registered" in logged
    assert stored.webhook_secret not in logged and "PRIVATE KEY" not in logged
    assert os.fspath(credentials_path(setup.data_dir)) in logged


def lone_client(
    github: Hub, data_dir: Path, api_url: str | None = None, starts: bool = True
) -> tuple[TestClient, list[Credentials]]:
    """A registration app alone, whose registered app starts or fails to."""
    found: list[Credentials] = []

    async def registered(credentials: Credentials) -> bool:
        found.append(credentials)
        return starts

    settings = RegistrationSettings(
        data_dir, api_url or github.url, github.web_url, "h", 1
    )
    return TestClient(create_registration_app(settings, registered)), found


def test_an_app_that_cannot_start_yet_asks_for_a_restart(
    github: Hub, tmp_path: Path
) -> None:
    client, found = lone_client(github, tmp_path / "data", starts=False)

    done = through_github(client, client.get("/"))
    again = client.get("/register")

    assert done.status_code == 200 and len(found) == 1
    assert "Restart <code>wandb-inject serve</code>" in done.text
    assert "Restart <code>wandb-inject serve</code>" in again.text
    assert load_credentials(tmp_path / "data") == found[0]


def test_credentials_that_cannot_be_stored_say_what_to_do(
    github: Hub, tmp_path: Path
) -> None:
    (tmp_path / "file").write_text("")
    client, found = lone_client(github, tmp_path / "file" / "data")

    refused = through_github(client, client.get("/"))

    assert refused.status_code == 500
    assert "Delete the app wandb-inject in GitHub" in refused.text
    assert not found


def test_github_out_of_reach_gives_a_page_saying_so(
    github: Hub, tmp_path: Path
) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    client, found = lone_client(github, tmp_path / "data", api_url=closed)

    refused = through_github(client, client.get("/"))

    assert refused.status_code == 502
    assert "could not reach GitHub" in refused.text
    assert not found and not credentials_path(tmp_path / "data").exists()
