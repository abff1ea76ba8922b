"""`wandb-inject run` and `wandb-inject scan`, through main()."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from gitrepos import EXAMPLE, MakeRepo, Repo
from support import REPORT_KEYS

from bot.cli import main
from bot.pr_body import MARKER
from bot.repo_config import CONFIG_PATH


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_run_prints_the_title_and_body_and_notes_the_commit(
    capsys: pytest.CaptureFixture[str], mnist_repo: Repo
) -> None:
    code, out, err = cli(capsys, "run", str(mnist_repo.root))

    assert code == 0
    title, body = out.split("\n\n", 1)
    assert title == "Track training with Weights & Biases in train.py"
    assert body.startswith(MARKER + "\n")
    commit = mnist_repo.git("rev-parse", "wandb-inject/main")
    assert err == (
        f"committed 1 file to branch wandb-inject/main ({commit}), based on main\n"
    )


def test_run_json_gives_branch_base_commit_title_body_files_and_scan(
    capsys: pytest.CaptureFixture[str], mnist_repo: Repo
) -> None:
    code, out, _ = cli(capsys, "run", "--json", "--branch", "wb", str(mnist_repo.root))

    assert code == 0
    result = json.loads(out)
    assert result["branch"] == "wb"
    assert result["base"] == "main"
    assert result["commit"] == mnist_repo.git("rev-parse", "wb")
    assert result["title"].endswith("in train.py")
    assert result["body"].startswith(MARKER)
    assert result["nothing_to_do"] is None
    [report] = result["files"]
    assert set(report) == REPORT_KEYS
    assert report["status"] == "changed"
    assert [c["path"] for c in result["scan"]["candidates"]] == ["train.py"]


def test_dry_run_prints_the_diff_then_the_body_and_writes_nothing(
    capsys: pytest.CaptureFixture[str], mnist_repo: Repo
) -> None:
    refs = mnist_repo.refs()

    code, out, err = cli(capsys, "run", "--dry-run", str(mnist_repo.root))

    assert code == 0
    assert err == ""
    assert out.startswith("--- a/train.py\n+++ b/train.py\n")
    assert "+import wandb\n" in out
    assert f"\nTrack training with Weights & Biases in train.py\n\n{MARKER}" in out
    assert mnist_repo.refs() == refs


def test_run_with_nothing_to_do_says_so(
    capsys: pytest.CaptureFixture[str], make_repo: MakeRepo
) -> None:
    repo = make_repo({"notes.py": b"print('hello')\n"})
    refs = repo.refs()

    code, out, err = cli(capsys, "run", str(repo.root))

    assert (code, err) == (0, "")
    assert out.startswith("nothing to do: ")
    assert repo.refs() == refs


@pytest.mark.parametrize("command", ["run", "scan"])
def test_a_bad_settings_file_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], make_repo: MakeRepo, command: str
) -> None:
    bad = b"project: a/b\nlog_every: 0\n"
    repo = make_repo({"train.py": EXAMPLE.read_bytes(), CONFIG_PATH: bad})

    code, out, err = cli(capsys, command, str(repo.root))

    assert (code, out) == (2, "")
    [line] = err.splitlines()
    assert line.startswith(f"wandb-inject: error: {CONFIG_PATH}: project: ")
    assert f"; {CONFIG_PATH}: log_every: " in line


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(["--base", "nope"], "no such base: 'nope'", id="missing-base"),
        pytest.param(["--branch", "main"], "'main' already exists", id="branch"),
    ],
)
def test_run_refusals_exit_2_with_one_line(
    capsys: pytest.CaptureFixture[str], mnist_repo: Repo, argv: list[str], message: str
) -> None:
    code, out, err = cli(capsys, "run", *argv, str(mnist_repo.root))

    assert (code, out) == (2, "")
    [line] = err.splitlines()
    assert line.startswith("wandb-inject: error: ")
    assert message in line


def test_run_outside_git_exits_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = cli(capsys, "run", str(tmp_path))

    assert code == 2
    assert err == f"wandb-inject: error: not a git repository: {tmp_path}\n"


def test_scan_prints_score_role_path_links_and_reasons(
    capsys: pytest.CaptureFixture[str], entry_repo: Repo
) -> None:
    code, out, _ = cli(capsys, "scan", str(entry_repo.root))

    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["score", "role", "path"]
    code, raw, _ = cli(capsys, "scan", "--json", str(entry_repo.root))
    for candidate in json.loads(raw)["candidates"]:
        row = f"{candidate['score']:>5}  {candidate['role']:<6}  {candidate['path']}"
        assert row in lines
        for reason in candidate["reasons"]:
            assert f"- {reason}" in out
        if candidate["links"]:
            assert f"links: {', '.join(candidate['links'])}" in out
    assert lines[-1].startswith(f"{len(json.loads(raw)['candidates'])} candidates, ")


def test_scan_json_honours_the_settings_file(
    capsys: pytest.CaptureFixture[str], make_repo: MakeRepo
) -> None:
    script = EXAMPLE.read_bytes()
    settings = b'exclude: ["legacy/**"]\n'
    repo = make_repo(
        {"train.py": script, "legacy/old.py": script, CONFIG_PATH: settings}
    )

    code, out, _ = cli(capsys, "scan", "--json", str(repo.root))

    assert code == 0
    scan = json.loads(out)
    assert [c["path"] for c in scan["candidates"]] == ["train.py"]
    assert "legacy/" in {item["path"] for item in scan["excluded"]}


def test_scan_of_a_missing_folder_exits_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = cli(capsys, "scan", str(tmp_path / "nowhere"))

    assert code == 2
    assert err == f"wandb-inject: error: not a folder: {tmp_path / 'nowhere'}\n"
