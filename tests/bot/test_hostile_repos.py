"""Hostile repositories end to end: nothing leaves the clone, runs, or outstays a limit.

Each repository is served by the fake's git remote, and the real flow clones,
reads, rewrites and pushes it, as in test_flows.
"""

from __future__ import annotations

from pathlib import Path

import hostile
import pytest
from deliveries import Sender, run_jobs
from fakehub import bare
from fakehub.fixtures import Hub
from fakehub.state import Repo
from gitrepos import EXAMPLE
from hostile import EXECUTABLE, LINK, SUBMODULE, Clones, Entry, commit_entries
from test_flows import MAINTAINER, NAME, OWNER, bot_pulls, open_issue, status

import bot.workspace
from bot.queue import JobQueue

# The flows' fixtures and the clones' watch, found by pytest under these names.
clones = hostile.clones

SCRIPT = EXAMPLE.read_bytes()
HOOK_NAMES = (
    "post-checkout",
    "post-commit",
    "post-index-change",
    "pre-commit",
    "pre-push",
    "reference-transaction",
)


def hostile_repo(
    github: Hub, entries: list[Entry], default_branch: str = "main"
) -> Repo:
    """A repository whose default branch holds train.py plus `entries`."""
    repo = github.world.add_repo(
        OWNER, NAME, {"train.py": SCRIPT}, default_branch=default_branch
    )
    github.world.grant(OWNER, NAME, MAINTAINER, "write")
    commit_entries(repo, default_branch, entries)
    return repo


def ask(github: Hub, sender: Sender, queue: JobQueue, repo: Repo) -> str:
    """A maintainer asks on a new issue; the jobs run; the status comment."""
    issue = open_issue(github)
    sender.comment(repo, issue.number, "/wandb-inject", MAINTAINER)
    run_jobs(queue)
    return status(github, repo, issue.number)


def changed_files(repo: Repo, base: str, head: str) -> set[str]:
    """The paths the head changes, whatever bytes they hold."""
    diff = bare.git(repo.git_dir, "diff", "-z", "--name-only", f"{base}...{head}")
    return {name.decode(errors="surrogateescape") for name in diff.split(b"\0") if name}


def everything_the_bot_wrote(github: Hub, repo: Repo) -> str:
    texts = [
        comment.body
        for issue in repo.issues.values()
        for comment in issue.comments
        if comment.user is github.world.bot
    ]
    texts += [pull.body or "" for pull in bot_pulls(github)]
    return "\n".join(texts)


def test_links_out_of_the_clone_are_neither_read_nor_written(
    github: Hub, sender: Sender, queue: JobQueue, clones: Clones, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "train.py").write_bytes(SCRIPT)
    passwd = Path("/etc/passwd").read_text().splitlines()[0]
    repo = hostile_repo(
        github,
        [
            Entry("passwd.py", "/etc/passwd", LINK),
            Entry("climb.py", "../" * 12 + "etc/passwd", LINK),
            Entry("elsewhere.py", str(outside / "train.py"), LINK),
            Entry("src/train.py", str(outside / "train.py"), LINK),
            Entry("lib", str(outside), LINK),
            Entry(".github/wandb-inject.yml", "project: digits\n"),
        ],
    )

    text = ask(github, sender, queue, repo)

    [pull] = bot_pulls(github)
    assert f"**PR opened:** #{pull.number}" in text
    assert changed_files(repo, "main", "wandb-inject/main") == {"train.py"}
    assert (outside / "train.py").read_bytes() == SCRIPT
    assert sorted(path.name for path in outside.iterdir()) == ["train.py"]
    assert passwd not in everything_the_bot_wrote(github, repo)
    listing = bare.git(repo.git_dir, "ls-tree", "-r", "wandb-inject/main").decode()
    entries = [line.split("\t") for line in listing.splitlines()]
    assert {path for info, path in entries if info.startswith(LINK)} == {
        "passwd.py",
        "climb.py",
        "elsewhere.py",
        "src/train.py",
        "lib",
    }


def test_names_with_shell_and_option_characters_are_only_names(
    github: Hub, sender: Sender, queue: JobQueue, clones: Clones, tmp_path: Path
) -> None:
    marker = tmp_path / "ran"
    # Branch names may hold slashes, so these would touch the marker itself.
    base = f"x$(touch${{IFS}}{marker});`touch${{IFS}}{marker}`|&"
    names = [
        "-rf.py",
        "--upload-pack=touch marked.py",
        "$(touch marked).py",
        "`touch marked`.py",
        "a;touch marked;.py",
        "with space.py",
        "new\nline.py",
    ]
    repo = hostile_repo(
        github, [Entry(name, SCRIPT) for name in names], default_branch=base
    )

    text = ask(github, sender, queue, repo)

    [pull] = bot_pulls(github)
    assert pull.pull is not None
    assert (pull.pull.base, pull.pull.head) == (base, f"wandb-inject/{base}")
    assert f"**PR opened:** #{pull.number}" in text
    assert changed_files(repo, base, f"wandb-inject/{base}") == {"train.py", *names}
    assert not marker.exists()
    assert not any(Path(name).name == "marked" for name in clones.only().files)


def test_submodules_are_never_fetched_nor_their_commands_run(
    github: Hub, sender: Sender, queue: JobQueue, clones: Clones, tmp_path: Path
) -> None:
    marker = tmp_path / "ran"
    # The same installation covers it: a token sent there would be let in.
    secret = github.world.add_repo(OWNER, "secret", {"model.py": "SECRET = 1\n"})
    pinned = secret.branch_sha("main")
    assert pinned is not None
    local = tmp_path / "local.git"
    bare.create(local, {"x.py": "X = 1\n"}, "main")
    modules = (
        f'[submodule "near"]\n\tpath = vendor/near\n'
        f"\turl = {github.world.git_url}/{OWNER}/secret.git\n"
        f"\tupdate = !touch {marker}\n"
        f'[submodule "local"]\n\tpath = vendor/local\n\turl = {local.as_uri()}\n'
    )
    repo = hostile_repo(
        github,
        [
            Entry(".gitmodules", modules),
            Entry("vendor/near", pinned, SUBMODULE),
            Entry("vendor/local", bare.resolve(local, "main") or "", SUBMODULE),
        ],
    )

    text = ask(github, sender, queue, repo)

    [pull] = bot_pulls(github)
    assert f"**PR opened:** #{pull.number}" in text
    targets = {request.target.split(".git/")[0] for request in github.git.requests}
    assert targets == {f"/git/{OWNER}/{NAME}"}
    assert not marker.exists()
    clone = clones.only()
    assert not any(path.startswith(("vendor/", ".git/modules")) for path in clone.files)
    assert "submodule" not in clone.git_config


def test_no_hook_of_the_git_template_or_the_repository_runs(
    github: Hub,
    sender: Sender,
    queue: JobQueue,
    clones: Clones,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    marker = tmp_path / "ran"
    hook = f"#!/bin/sh\necho \"$0\" >> '{marker}'\n"
    template = tmp_path / "template"
    (template / "hooks").mkdir(parents=True)
    for name in HOOK_NAMES:
        (template / "hooks" / name).write_text(hook)
        (template / "hooks" / name).chmod(0o755)
    # The operator's own git settings, as a careless machine might have them.
    home = tmp_path / "home"
    home.mkdir()
    (home / ".gitconfig").write_text(f"[init]\n\ttemplateDir = {template}\n")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    # A clone never takes a repository's settings, so its own hooks folder stays
    # inert unless git is told to use it; the job never checks it out either.
    repo = hostile_repo(
        github,
        [Entry(f".githooks/{name}", hook, EXECUTABLE) for name in HOOK_NAMES],
    )

    text = ask(github, sender, queue, repo)

    [pull] = bot_pulls(github)
    assert f"**PR opened:** #{pull.number}" in text
    assert not marker.exists(), marker.read_text()
    # The template's hooks were copied in: only the bot's settings kept them idle.
    assert {f".git/hooks/{name}" for name in HOOK_NAMES} <= clones.only().files


@pytest.mark.parametrize(
    ("limit", "value", "says"),
    [
        pytest.param("MAX_CLONE_BYTES", 256 * 1024, "over 0 MB", id="size"),
        pytest.param("NETWORK_TIMEOUT", 0.0, "took longer than 0 s", id="time"),
    ],
)
def test_a_repository_past_a_limit_fails_clearly_and_leaves_no_clone(
    github: Hub,
    sender: Sender,
    queue: JobQueue,
    clones: Clones,
    monkeypatch: pytest.MonkeyPatch,
    limit: str,
    value: float,
    says: str,
) -> None:
    # About 1 MB once checked out.
    big = "".join(f"x{n} = {n**7}\n" for n in range(40_000))
    repo = hostile_repo(github, [Entry("big.py", big)])
    monkeypatch.setattr(bot.workspace, limit, value)

    text = ask(github, sender, queue, repo)

    assert text.startswith("<!--") and "**Failed:** git " in text
    assert says in text
    assert bot_pulls(github) == []
    assert clones.seen == []


def test_thousands_of_files_and_data_never_fetched_stay_within_the_limits(
    github: Hub,
    sender: Sender,
    queue: JobQueue,
    clones: Clones,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    modules = [Entry(f"pkg{n // 100}/m{n}.py", f"N = {n}\n") for n in range(1000)]
    weights = Entry("data/weights.bin", b"\0" * (32 << 20))
    repo = hostile_repo(github, [*modules, weights])
    monkeypatch.setattr(bot.workspace, "MAX_CLONE_BYTES", 8 << 20)

    text = ask(github, sender, queue, repo)

    [pull] = bot_pulls(github)
    assert f"**PR opened:** #{pull.number}" in text
    assert changed_files(repo, "main", "wandb-inject/main") == {"train.py"}
    files = clones.only().files
    assert "data/weights.bin" not in files
    assert len([path for path in files if path.startswith("pkg")]) == 1000


def test_names_and_contents_that_are_not_utf8_get_a_reason_not_a_crash(
    github: Hub, sender: Sender, queue: JobQueue, clones: Clones
) -> None:
    latin = b"# -*- coding: latin-1 -*-\n# caf\xe9\n" + SCRIPT
    broken = SCRIPT.replace(b"import", b"import \xff\xfe", 1)
    repo = hostile_repo(
        github,
        [
            Entry(b"caf\xe9/train.py", SCRIPT),
            Entry("latin/train.py", latin),
            Entry("broken/train.py", broken),
        ],
    )

    text = ask(github, sender, queue, repo)

    [pull] = bot_pulls(github)
    assert f"**PR opened:** #{pull.number}" in text
    changed = changed_files(repo, "main", "wandb-inject/main")
    assert changed == {"train.py", "latin/train.py", "caf\udce9/train.py"}
    latin_now = bare.read_blob(repo.git_dir, "wandb-inject/main", "latin/train.py")
    assert latin_now is not None and b"# caf\xe9\n" in latin_now[1]
    assert pull.body is not None
    assert "`broken/train.py`: not valid Python" in pull.body
    # Shown with a replacement character, linked by the bytes it has on disk.
    assert "### `caf\ufffd/train.py`" in pull.body
    assert "/blob/wandb-inject/main/caf%E9/train.py#L" in pull.body
