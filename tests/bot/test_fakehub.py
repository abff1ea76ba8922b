"""The bot's GitHub client and git workspace against the fake GitHub, end to end."""

from __future__ import annotations

import base64
import time

import httpx
import jwt
import pytest
from fakehub import bare
from fakehub.fixtures import BOT_LOGIN, Hub
from fakehub.keys import make_keys
from fakehub.state import Issue, Label, World
from githubkit.cache import DEFAULT_CACHE_STRATEGY

from bot.github import (
    GitHubError,
    NotFound,
    RepositoryApi,
    Transient,
)
from bot.github_errors import DEFAULT_RETRY_AFTER
from bot.pr_body import MARKER
from bot.settings import Settings
from bot.workspace import Remote, cloned
from bot.worktree import GitError, Identity

OWNER, NAME = "octo-org", "digits"
FULL_NAME = f"{OWNER}/{NAME}"
BRANCH = "wandb-inject/main"
SCRIPT = "import torch\n\nprint('training')\n"
BOT = Identity(BOT_LOGIN, f"{BOT_LOGIN}@users.noreply.github.com")


@pytest.fixture
def world(github: Hub) -> World:
    github.world.add_repo(OWNER, NAME, {"train.py": SCRIPT, "README.md": "# Digits\n"})
    return github.world


@pytest.fixture
def api(world: World, bot_settings: Settings) -> RepositoryApi:
    return api_for(world, bot_settings, NAME)


def api_for(world: World, settings: Settings, name: str) -> RepositoryApi:
    installation = world.installation_for(f"{OWNER}/{name}")
    return RepositoryApi(
        app_id=settings.app_id,
        private_key=settings.private_key,
        api_url=settings.github_api_url,
        installation_id=installation.id,
        owner=OWNER,
        repo=name,
    )


def rest(github: Hub) -> httpx.Client:
    """A plain client with an installation token, for calls the bot never makes."""
    installation = github.world.installation_for(FULL_NAME)
    token = github.world.issue_token(installation).value
    headers = {"authorization": f"token {token}"}
    return httpx.Client(base_url=github.url, headers=headers)


def bot_branch(world: World, files: dict[str, str] | None = None) -> str:
    return world.push(OWNER, NAME, BRANCH, files or {"train.py": SCRIPT + "# run\n"})


def test_repository_is_read_as_github_describes_it(github: Hub, api, bot_settings):
    github.world.add_repo(
        OWNER, "old", default_branch="trunk", archived=True, fork=True
    )

    current, old = (
        api.repository(),
        api_for(github.world, bot_settings, "old").repository(),
    )

    assert current.default_branch == "main" and not current.archived
    assert current.clone_url == f"{github.url}/git/{FULL_NAME}.git"
    assert current.html_url == f"https://github.com/{FULL_NAME}"
    assert (old.default_branch, old.archived, old.fork) == ("trunk", True, True)


@pytest.mark.parametrize(
    ("role", "writes"),
    [("admin", True), ("maintain", True), ("write", True), ("triage", False)],
)
def test_can_write_follows_the_collaborator_role(world, api, role, writes):
    world.grant(OWNER, NAME, "alice", role)

    assert api.can_write("alice") is writes


@pytest.mark.parametrize(
    ("role", "classic"),
    [("admin", "admin"), ("maintain", "write"), ("triage", "read"), ("none", "none")],
)
def test_permission_names_the_role_and_its_classic_level(github, world, role, classic):
    world.grant(OWNER, NAME, "alice", role)
    with rest(github) as client:
        answer = client.get(f"/repos/{FULL_NAME}/collaborators/ALICE/permission")

    assert answer.status_code == 200
    assert (answer.json()["role_name"], answer.json()["permission"]) == (role, classic)


def test_readers_and_strangers_cannot_write(github: Hub, world, api):
    world.user("bystander")
    world.grant(OWNER, NAME, "reader", "read")

    assert api.can_write("reader") is False
    assert api.can_write("bystander") is False
    assert api.can_write("nobody-github-knows") is False
    statuses = [each.status for each in github.api.called("GET", "*/permission")]
    assert statuses == [200, 200, 404]


def test_comments_are_made_found_and_updated(world, api):
    issue = world.open_issue(OWNER, NAME, "Track my runs")
    world.comment(OWNER, NAME, 1, f"{MARKER} quoted by a person")
    # Another app's comment carrying the marker is not ours to edit.
    world.user("copycat[bot]", type="Bot")
    world.comment(OWNER, NAME, 1, f"{MARKER} copied", user="copycat[bot]")
    # More than a page of comments, so finding the bot's needs the next link.
    for count in range(100):
        world.comment(OWNER, NAME, 1, f"comment {count}")

    made = api.create_comment(issue.number, f"{MARKER}\nWorking on it")
    api.update_comment(made, f"{MARKER}\nDone")

    assert api.find_bot_comment(issue.number, MARKER) == made
    assert api.find_bot_comment(issue.number, "<!-- other -->") is None
    last = world.comments(OWNER, NAME, 1)[-1]
    assert (last.id, last.body, last.user) == (made, f"{MARKER}\nDone", world.bot)


def test_reactions_are_added_once(world, api):
    world.open_issue(OWNER, NAME, "Track my runs")
    comment = world.comment(OWNER, NAME, 1, "@wandb-inject run")

    api.react_to_comment(comment.id)
    api.react_to_comment(comment.id)
    api.react_to_issue(1)

    issue = world.repo(OWNER, NAME).issues[1]
    for reactions in (comment.reactions, issue.reactions):
        assert [(each.content, each.user) for each in reactions] == [
            ("eyes", world.bot)
        ]


def test_remove_label_takes_it_off_and_an_absent_one_is_fine(github, world, api):
    issue = world.open_issue(OWNER, NAME, "Track my runs")
    label_issue(world, issue, "wandb-inject")
    label_issue(world, issue, "bug")

    api.remove_label(issue.number, "wandb-inject")
    api.remove_label(issue.number, "wandb-inject")

    assert [each.name for each in issue.labels] == ["bug"]
    removals = github.api.called("DELETE", "*/labels/*")
    assert [each.status for each in removals] == [200, 404]


def label_issue(world: World, issue: Issue, name: str) -> None:
    repo = world.repo(OWNER, NAME)
    found = repo.labels.setdefault(name, Label(world.new_id(), name))
    issue.labels.append(found)


def test_a_pull_request_is_opened_read_and_updated(world, api):
    world.open_issue(OWNER, NAME, "Track my runs")
    bot_branch(world)

    made = api.create_pull_request(
        title="Track training", body=f"{MARKER}\nv1", head=BRANCH, base="main"
    )
    api.update_pull_request(
        made.number, title="Track training runs", body=f"{MARKER}\nv2"
    )
    read = api.pull_request(made.number)

    # Issues and pull requests share one sequence of numbers.
    assert made.number == 2 and made.open and not made.merged
    assert made.html_url == f"https://github.com/{FULL_NAME}/pull/2"
    assert (read.head_ref, read.base_ref) == (BRANCH, "main")
    assert not read.head_elsewhere and read.body == f"{MARKER}\nv2"
    assert world.repo(OWNER, NAME).issues[2].title == "Track training runs"
    with pytest.raises(NotFound):
        api.pull_request(1)


@pytest.mark.parametrize(
    ("head", "base", "reason"),
    [
        pytest.param("no-such-branch", "main", "invalid", id="head-missing"),
        pytest.param(BRANCH, "no-such-base", "invalid", id="base-missing"),
        pytest.param("main", "main", "No commits between main and main", id="same"),
        pytest.param("even", "main", "No commits between main and even", id="even"),
        pytest.param(
            BRANCH, "main", f"already exists for {OWNER}:{BRANCH}", id="twice"
        ),
    ],
)
def test_github_refuses_pull_requests_it_cannot_open(world, api, head, base, reason):
    bot_branch(world)
    main = world.repo(OWNER, NAME).branch_sha("main")
    world_git(world, "update-ref", "refs/heads/even", main)
    world.open_pull(OWNER, NAME, BRANCH)

    with pytest.raises(GitHubError, match="refused \\(422\\)") as refused:
        api.create_pull_request(title="Track", body=MARKER, head=head, base=base)

    assert reason in str(refused.value)


def test_bot_pull_requests_are_its_own_from_the_branch_newest_first(world, api):
    bot_branch(world)
    world.push(OWNER, NAME, "release", {"NOTES.md": "1.0\n"})
    world.push(OWNER, NAME, "other", {"other.py": "x = 1\n"})
    merged = world.open_pull(OWNER, NAME, BRANCH, body=f"{MARKER}\nfirst")
    world.merge(OWNER, NAME, merged.number)
    bot_branch(world, {"train.py": SCRIPT + "# again\n"})
    world.open_pull(OWNER, NAME, BRANCH, "release", body="a person's, into release")
    world.open_pull(OWNER, NAME, "other", body=f"{MARKER}\nanother branch")
    current = world.open_pull(OWNER, NAME, BRANCH, body=f"{MARKER}\nsecond")

    found = api.bot_pull_requests(BRANCH)

    assert [(each.number, each.open, each.merged) for each in found] == [
        (current.number, True, False),
        (merged.number, False, True),
    ]


def test_the_next_page_of_pull_requests_keeps_the_filters(github: Hub, world):
    for name in ("one", "two", "three"):
        world.push(OWNER, NAME, name, {f"{name}.py": "x = 1\n"})
        world.open_pull(OWNER, NAME, name)
    world.close(OWNER, NAME, 1)
    world.close(OWNER, NAME, 3)

    with rest(github) as client:
        first = client.get(
            f"/repos/{FULL_NAME}/pulls", params={"state": "closed", "per_page": 1}
        )
        second = client.get(first.links["next"]["url"])

    assert [each["number"] for each in first.json() + second.json()] == [3, 1]
    assert "next" not in second.links


def test_a_pull_request_closes_and_reopens(github: Hub, world):
    bot_branch(world)
    made = world.open_pull(OWNER, NAME, BRANCH)
    path = f"/repos/{FULL_NAME}/pulls/{made.number}"

    with rest(github) as client:
        closed = client.patch(path, json={"state": "closed"}).json()
        world.open_pull(OWNER, NAME, BRANCH)
        refused = client.patch(path, json={"state": "open"})

    assert closed["state"] == "closed" and closed["closed_at"] is not None
    assert refused.status_code == 422 and made.state == "closed"


def test_git_clones_and_pushes_with_the_bots_token(github: Hub, world, api):
    repository = api.repository()
    token = api.git_token()

    first = change_and_push(Remote(repository.clone_url, token), "# tracked\n")
    second = change_and_push(Remote(repository.clone_url, token), "# tracked again\n")

    assert world.repo(OWNER, NAME).branch_sha(BRANCH) == second
    parents = world_git(world, "rev-list", "--parents", "-n", "1", second).split()
    assert first in parents
    assert world.tokens[token].repositories == {FULL_NAME}
    encoded = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    assert github.git.requests and all(each.authorised for each in github.git.requests)
    for each in github.git.requests:
        assert token not in each.target and encoded not in each.target
    assert {each.method for each in github.git.requests} == {"GET", "POST"}


def change_and_push(remote: Remote, line: str) -> str | None:
    with cloned(remote, "main") as workspace:
        assert (workspace.tree / "train.py").read_text() == SCRIPT
        config = (workspace.tree / ".git" / "config").read_text()
        assert remote.token not in config
        (workspace.tree / "train.py").write_text(SCRIPT + line)
        return workspace.push(BRANCH, ["train.py"], "Track training", BOT)


def world_git(world: World, *arguments: str) -> str:
    return bare.git(world.repo(OWNER, NAME).git_dir, *arguments).decode()


def test_git_refuses_a_wrong_an_expired_or_a_foreign_token(github: Hub, world, api):
    url = api.repository().clone_url
    good = api.git_token()
    world.expire_tokens()
    world.add_repo("someone-else", "theirs")
    foreign = world.issue_token(world.installation_for("someone-else/theirs")).value

    for token in ("ghs_wrong", good, foreign):
        with pytest.raises(GitError), cloned(Remote(url, token), "main"):
            pass

    assert [(each.authorised, each.status) for each in github.git.requests] == [
        (False, 401),
        (False, 401),
        (False, 404),
    ]


def test_git_without_credentials_is_challenged(github: Hub, world):
    answer = httpx.get(
        f"{github.url}/git/{FULL_NAME}.git/info/refs?service=git-upload-pack"
    )

    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith("Basic")


@pytest.mark.parametrize(
    ("status", "headers", "retry_after"),
    [
        pytest.param(502, {}, None, id="502"),
        pytest.param(403, {"retry-after": "30"}, 30.0, id="403-retry-after"),
        pytest.param(429, {}, DEFAULT_RETRY_AFTER, id="429-no-hint"),
    ],
)
def test_failures_worth_retrying_are_transient(
    github: Hub, api, status, headers, retry_after
):
    github.api.fail_next("GET", f"/repos/{FULL_NAME}", status, headers=headers)

    with pytest.raises(Transient) as failed:
        api.repository()

    assert failed.value.retry_after == retry_after
    assert api.repository().default_branch == "main"


def test_a_spent_rate_limit_waits_until_its_reset(github: Hub, api):
    reset = str(int(time.time()) + 120)
    limited = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": reset}
    github.api.fail_next("GET", f"/repos/{FULL_NAME}", 403, headers=limited)

    with pytest.raises(Transient) as failed:
        api.repository()

    assert failed.value.retry_after == pytest.approx(120, abs=3)


def test_a_plain_403_is_refused_for_good(github: Hub, api):
    github.api.fail_next("GET", f"/repos/{FULL_NAME}", 403, headers={})

    with pytest.raises(GitHubError, match="refused \\(403\\)"):
        api.repository()


def test_a_call_github_would_reject_is_a_violation(github: Hub, world):
    bot_branch(world)
    with rest(github) as client:
        answer = client.post(
            f"/repos/{FULL_NAME}/pulls", json={"title": "x", "base": "main"}
        )

    assert answer.status_code == 422
    assert len(github.api.violations) == 1
    assert github.api.violations[0].startswith(f"POST /repos/{FULL_NAME}/pulls")
    assert world.pulls(OWNER, NAME, "all") == []
    github.api.violations.clear()


def test_app_routes_take_a_jwt_only_from_a_known_app_signed_with_its_key(
    github: Hub,
):
    app = github.world.app
    now = int(time.time())

    def get_app(issuer: int, key: str) -> httpx.Response:
        claims = {"iat": now - 60, "exp": now + 540, "iss": str(issuer)}
        token = jwt.encode(claims, key, algorithm="RS256")
        return httpx.get(
            f"{github.url}/app", headers={"authorization": f"Bearer {token}"}
        )

    own = get_app(app.id, app.private_key)
    stranger = get_app(app.id + 1, app.private_key)
    forged = get_app(app.id, make_keys().private)

    assert own.status_code == 200 and own.json()["id"] == app.id
    assert stranger.status_code == 401
    assert forged.status_code == 401
    assert "could not be decoded" in forged.json()["message"]


def test_no_answer_is_kept_in_memory_from_one_job_to_the_next(world, bot_settings):
    # githubkit's default HTTP cache is one in-memory SQLite database for the
    # whole process, which keeps every GET's answer for good: a worker grew by
    # each of its jobs' answers.
    storage = DEFAULT_CACHE_STRATEGY.get_hishel_storage()

    def kept() -> int:
        connection = storage._ensure_connection()
        return connection.execute("select count(*) from entries").fetchone()[0]

    before = kept()
    for _ in range(3):
        api = api_for(world, bot_settings, NAME)
        api.repository()
        api.can_write(OWNER)

    assert kept() == before
