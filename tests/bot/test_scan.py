"""Organisation scans end to end: the fake's installations, git remotes, the queue."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from datetime import UTC, datetime

import pytest
import webhook_payloads as payloads
from deliveries import Sender, run_jobs
from fakehub import bare
from fakehub.fixtures import BOT_LOGIN, Hub
from fakehub.state import Issue
from gitrepos import EXAMPLE
from loopback import serve

from bot.app import create_app
from bot.candidates import Entry, find_candidates
from bot.cli import main
from bot.dashboard import MARKER as DASHBOARD_MARKER
from bot.pr_body import MARKER
from bot.queue import JobQueue, flow_handlers, open_queue
from bot.repo_config import RepoConfig
from bot.request import Request, Trigger
from bot.scan import SKIP_TOPIC, Outcome, Status
from bot.scan_run import print_summary
from bot.settings import Settings
from bot.webhooks import Delivery, Ignored, route
from bot.workspace import Remote, cloned

OWNER = "acme"
TRAIN = EXAMPLE.read_bytes()
DASHBOARD = DASHBOARD_MARKER + "\nTick a script.\n\n"


def seed(github: Hub) -> None:
    """One repository per rule, in one organisation the app is installed on."""
    world = github.world
    world.install(OWNER)
    world.add_repo(OWNER, "digits", {"train.py": TRAIN, "tests/test_train.py": TRAIN})
    world.add_repo(OWNER, "old", {"train.py": TRAIN}, archived=True)
    world.add_repo(OWNER, "copy", {"train.py": TRAIN}, fork=True)
    world.add_repo(OWNER, "quiet", {"train.py": TRAIN}, topics=[SKIP_TOPIC])
    off = {"train.py": TRAIN, ".github/wandb-inject.yml": "enabled: false\n"}
    world.add_repo(OWNER, "off", off)
    world.add_repo(OWNER, "blank", empty=True)
    world.add_repo(OWNER, "notes", {"docs/conf.py": TRAIN, "README.md": "# N\n"})
    world.add_repo(OWNER, "declined", {"train.py": TRAIN})
    world.push(OWNER, "declined", "wandb-inject/main", {"train.py": b"# W&B\n"})
    earlier = world.open_pull(
        OWNER,
        "declined",
        "wandb-inject/main",
        body=MARKER + "\nAdd W&B",
        user=BOT_LOGIN,
    )
    world.close(OWNER, "declined", earlier.number)


def bot_pulls(github: Hub) -> dict[str, list[Issue]]:
    return {
        name: [
            pull
            for pull in github.world.pulls(OWNER, name, "all")
            if pull.user.login == BOT_LOGIN
        ]
        for name in (
            "digits",
            "old",
            "copy",
            "quiet",
            "off",
            "blank",
            "notes",
            "declined",
        )
    }


@pytest.fixture
def queue(bot_settings: Settings) -> JobQueue:
    return open_queue(bot_settings, flow_handlers(bot_settings))


def test_a_queued_scan_opens_a_pull_request_only_where_one_is_wanted(
    github: Hub, queue: JobQueue
) -> None:
    seed(github)
    assert queue.scans is not None

    queue.scans.start()
    run_jobs(queue)

    pulls = bot_pulls(github)
    [opened] = pulls.pop("digits")
    assert opened.pull is not None and opened.state == "open"
    assert opened.body is not None and "Found by a scan of acme's" in opened.body
    assert {name: len(found) for name, found in pulls.items()} == {
        "old": 0,
        "copy": 0,
        "quiet": 0,
        "off": 0,
        "blank": 0,
        "notes": 0,
        "declined": 1,
    }
    # The tree came through the API; git fetched no repository it skips.
    fetched = {r.target.split("/")[3] for r in github.git.requests}
    assert fetched == {"digits.git"}


def test_scan_org_dry_run_reports_every_repository_and_writes_nothing(
    github: Hub,
    bot_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    seed(github)
    use_settings(monkeypatch, bot_settings)

    code = main(["scan-org", OWNER, "--dry-run", "--json"])

    report = json.loads(capsys.readouterr().out)
    reasons = {
        each["full_name"]: (each["status"], each["reason"])
        for each in report["repositories"]
    }
    assert code == 0
    assert reasons == {
        "acme/blank": ("skipped", "empty"),
        "acme/copy": ("skipped", "a fork"),
        "acme/declined": ("skipped", "#1 was closed without merging"),
        "acme/digits": (
            "would open",
            "Track training with Weights & Biases in train.py",
        ),
        "acme/notes": (
            "skipped",
            "no Python scripts outside tests, docs and vendored code",
        ),
        "acme/off": ("skipped", "enabled: false in .github/wandb-inject.yml"),
        "acme/old": ("skipped", "archived"),
        "acme/quiet": ("skipped", "opted out by the wandb-inject-skip topic"),
    }
    assert report["summary"]["scripts_found"] == 1
    assert report["summary"]["skipped"] == 7
    assert [p for p in bot_pulls(github).values() if p] == [
        bot_pulls(github)["declined"]
    ]
    assert not github.api.called("POST", "/repos/*")
    assert not any("receive-pack" in r.target for r in github.git.requests)
    assert not (bot_settings.data_dir / "state.db").exists()


def use_settings(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    variables = {
        "APP_ID": str(settings.app_id),
        "PRIVATE_KEY": settings.private_key,
        "WEBHOOK_SECRET": settings.webhook_secret,
        "GITHUB_API_URL": settings.github_api_url,
        "DATA_DIR": str(settings.data_dir),
        "QUEUE": settings.queue_url,
    }
    for name, value in variables.items():
        monkeypatch.setenv(f"WANDB_INJECT_{name}", value)


def test_the_listing_keeps_the_scripts_and_project_files_the_path_rules_allow() -> None:
    paths = [
        *("train.py", "src/model.py", "tests/test_x.py", "docs/conf.py"),
        *(".venv/lib/x.py", "env/pyvenv.cfg", "env/lib/y.py", "legacy/old.py"),
        *("pyproject.toml", "notebooks/a.ipynb", "setup.py", "data.csv"),
    ]
    listing = [Entry(path, "100644", "blob") for path in paths]
    listing += [Entry("link.py", "120000", "blob"), Entry("src", "040000", "tree")]

    found = find_candidates(listing, RepoConfig(exclude=("legacy/",)))

    assert found.scripts == ("train.py", "src/model.py", "notebooks/a.ipynb")
    assert found.configs == ("pyproject.toml",)


def test_the_clone_checks_out_only_the_files_named(github: Hub) -> None:
    odd = "odd [1]*.py"
    files = {odd: "x = 1\n", "train.py": TRAIN, "other.py": "y = 2\n"}
    repo = github.world.add_repo(OWNER, "names", files)
    found = find_candidates([Entry(odd, "100644", "blob")], RepoConfig())

    with cloned(Remote(repo.git_dir.as_uri(), "unused"), "main", found.patterns()) as w:
        checked_out = sorted(
            str(path.relative_to(w.tree))
            for path in w.tree.rglob("*")
            if ".git" not in path.parts
        )

    assert checked_out == [odd]


def run_ready(queue: JobQueue) -> None:
    """Run the tasks due now, leaving the ones scheduled for later."""
    while (task := queue.huey.dequeue()) is not None:
        queue.huey.execute(task)


def test_past_the_hourly_cap_a_repository_waits_for_a_later_slot(
    github: Hub, bot_settings: Settings
) -> None:
    settings = replace(bot_settings, scan_pulls_per_hour=1)
    queue = open_queue(settings, flow_handlers(settings))
    github.world.install(OWNER)
    for name in ("one", "two"):
        github.world.add_repo(OWNER, name, {"train.py": TRAIN})
    assert queue.scans is not None

    queue.scans.start()
    run_ready(queue)

    opened = [name for name in ("one", "two") if github.world.pulls(OWNER, name, "all")]
    [waiting] = queue.huey.scheduled()
    delay = (waiting.eta - datetime.now(UTC).replace(tzinfo=None)).total_seconds()
    assert len(opened) == 1 and waiting.name == "scan_repository_task"
    assert 3500 < delay <= 3600
    assert json.loads(waiting.args[0])["name"] != opened[0]


def test_a_schedule_runs_the_scan_at_its_minute_only(bot_settings: Settings) -> None:
    settings = replace(bot_settings, scan_schedule="0 3 * * *")

    queue = open_queue(settings, flow_handlers(settings))
    due = queue.huey.read_periodic(datetime(2026, 12, 4, 3, 0))
    not_due = queue.huey.read_periodic(datetime(2026, 12, 4, 4, 0))

    assert queue.periodic
    assert [task.name for task in due] == ["scheduled_scan_task"]
    assert not_due == []


def test_a_dashboard_lists_the_scripts_and_a_ticked_box_asks_for_its_pull_request(
    github: Hub, bot_settings: Settings
) -> None:
    settings = replace(bot_settings, scan_mode="dashboard")
    queue = open_queue(settings, flow_handlers(settings))
    world = github.world
    world.install(OWNER)
    files = {"train.py": TRAIN, "finetune.py": TRAIN}
    repo = world.add_repo(OWNER, "digits", files)
    world.grant(OWNER, "digits", "alice", "write")
    assert queue.scans is not None

    queue.scans.start()
    run_jobs(queue)
    [dashboard] = repo.issues.values()
    listed = dashboard.body or ""
    with serve(create_app(settings)) as url:
        ticked = listed.replace("- [ ] `train.py`", "- [x] `train.py`")
        answer = Sender(github, url).edit_issue(repo, dashboard.number, ticked, "alice")
    run_jobs(queue)
    queue.scans.start()
    run_jobs(queue)

    assert dashboard.user is world.bot and dashboard.pull is None
    assert "- [ ] `train.py`" in listed and "- [ ] `finetune.py`" in listed
    assert answer.json()["outcome"] == "queued"
    [pull] = world.pulls(OWNER, "digits")
    assert pull.pull is not None
    changed = bare.git(repo.git_dir, "diff", "--name-only", "main...wandb-inject/main")
    assert changed.decode().split() == ["train.py"]
    # The next scan keeps the box ticked.
    assert "- [x] `train.py`" in (dashboard.body or "")
    assert "- [ ] `finetune.py`" in (dashboard.body or "")


@pytest.mark.parametrize(
    ("sender", "before", "after", "reason"),
    [
        (
            "alice",
            "[ ] `a.py`\n- [x] `b.py`",
            "[ ] `a.py`\n- [x] `b.py`",
            "no box newly ticked",
        ),
        (
            "alice",
            "[x] `a.py`\n- [ ] `b.py`",
            "[ ] `a.py`\n- [ ] `b.py`",
            "no box newly ticked",
        ),
        (
            BOT_LOGIN,
            "[ ] `a.py`\n- [ ] `b.py`",
            "[x] `a.py`\n- [ ] `b.py`",
            f"edited by a bot ({BOT_LOGIN})",
        ),
    ],
    ids=["unchanged", "unticked", "by-the-app"],
)
def test_a_dashboard_edit_without_a_new_tick_asks_for_nothing(
    sender: str, before: str, after: str, reason: str
) -> None:
    payload = payloads.issue_edited(f"{DASHBOARD}- {after}", f"{DASHBOARD}- {before}")
    payload["issue"]["user"].update(login=BOT_LOGIN, type="Bot")
    payload["sender"].update(login=sender, type="Bot" if "[bot]" in sender else "User")

    outcome = route(Delivery("d1", "issues", payload), BOT_LOGIN)

    assert outcome == Ignored(reason)


def test_a_newly_ticked_box_asks_for_every_ticked_script() -> None:
    before = f"{DASHBOARD}- [x] `a.py`\n- [ ] `b.py`\n- [ ] `c.py`\n"
    payload = payloads.issue_edited(before.replace("[ ] `c", "[x] `c"), before)
    payload["issue"]["user"].update(login=BOT_LOGIN, type="Bot")

    outcome = route(Delivery("d1", "issues", payload), BOT_LOGIN)

    assert isinstance(outcome, Request) and outcome.trigger is Trigger.DASHBOARD
    assert outcome.arguments.paths == ("a.py", "c.py")


def test_the_summary_counts_repositories_scripts_pulls_and_skips() -> None:
    outcomes = [
        Outcome("acme/a", Status.OPENED, "https://x/pull/1", 2, 1, pull=1),
        Outcome("acme/b", Status.SKIPPED, "archived"),
        Outcome("acme/c", Status.SKIPPED, "archived"),
        Outcome("acme/d", Status.NOTHING, "no training scripts found", 1, 1),
    ]
    written = io.StringIO()

    print_summary(outcomes, written)

    lines = written.getvalue().splitlines()
    assert lines[0].split() == ["acme/a", "opened", "https://x/pull/1"]
    totals = {line[:28].strip(): line[28:].strip() for line in lines[5:]}
    assert totals["repositories scanned"] == "4"
    assert totals["scripts found"] == "3"
    assert totals["already tracked"] == "2"
    assert totals["pull requests opened"] == "1"
    assert totals["skipped"] == "2"
    assert lines[-1].split() == ["2", "archived"]
