"""The wandb-inject command line, run through main() and as the installed script."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

import pytest
from support import REPORT_KEYS

from bot.cli import main
from bot.diffs import GREEN, NO_NEWLINE_MARKER, RESET, should_color, unified_diff
from bot.files import find_git_root, project_name_for, write_atomically

EXAMPLE = Path(__file__).parents[1] / "examples" / "train_mnist.py"
PLAIN_SOURCE = b"GREETING = 'hello'\nprint(GREETING)\n"
STATUSES = {"changed", "unchanged", "skipped", "failed"}


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["inject", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> list[dict[str, Any]]:
    code, out, _ = run(capsys, "--json", *argv)
    assert code in (0, 1), out
    reports: list[dict[str, Any]] = json.loads(out)
    return reports


@pytest.fixture
def plain_script(tmp_path: Path) -> Path:
    """A script with no training in it: the injector leaves it alone."""
    script = tmp_path / "greet.py"
    script.write_bytes(PLAIN_SOURCE)
    return script


@pytest.fixture
def training_script(tmp_path: Path) -> Path:
    """A copy of the shipped MNIST example."""
    script = tmp_path / "project" / "train.py"
    script.parent.mkdir()
    shutil.copyfile(EXAMPLE, script)
    return script


# Usage errors and unreadable paths


def test_missing_path_exits_2_with_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    missing = tmp_path / "nowhere.py"

    code, out, err = run(capsys, str(missing))

    assert code == 2
    assert out == ""
    assert err.splitlines() == [
        f"wandb-inject: error: cannot read {missing}: no such file or folder"
    ]


def test_missing_path_does_not_stop_the_others(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, plain_script: Path
) -> None:
    missing = tmp_path / "nowhere.py"

    code, out, err = run(capsys, "--json", str(missing), str(plain_script))

    assert code == 2
    reports = {report["path"]: report for report in json.loads(out)}
    assert reports[str(missing)]["status"] == "failed"
    assert reports[str(plain_script)]["status"] == "unchanged"
    assert len(err.splitlines()) == 1


def test_unreadable_file_in_folder_is_reported_and_others_processed(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, plain_script: Path
) -> None:
    broken = tmp_path / "broken.py"
    broken.symlink_to(tmp_path / "deleted_target.py")

    code, _, err = run(capsys, "--check", str(tmp_path))

    assert code == 2
    assert err.splitlines() == [
        f"wandb-inject: error: cannot read {broken}: no such file or folder"
    ]
    assert plain_script.read_bytes() == PLAIN_SOURCE


@pytest.mark.parametrize("value", ["0", "-3", "ten", "2.5", ""])
def test_log_every_must_be_a_positive_whole_number(
    capsys: pytest.CaptureFixture[str], plain_script: Path, value: str
) -> None:
    code, out, err = run(capsys, "--log-every", value, str(plain_script))

    assert code == 2
    assert out == ""
    [line] = err.splitlines()
    assert line.startswith("wandb-inject: error: argument --log-every:")
    assert repr(value) in line


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param([], id="no-command"),
        pytest.param(["inject"], id="no-path"),
        pytest.param(["inject", "--write", "--check", "x.py"], id="write-and-check"),
        pytest.param(["inject", "--project", "a/b", "x.py"], id="slash-in-project"),
        pytest.param(["inject", "--project", " ", "x.py"], id="blank-project"),
        pytest.param(["inject", "--color", "sometimes", "x.py"], id="bad-color"),
        pytest.param(["frobnicate", "x.py"], id="unknown-command"),
    ],
)
def test_bad_usage_exits_2_with_one_line(
    capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    code = main(argv)

    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    [line] = captured.err.splitlines()
    assert line.startswith("wandb-inject: error: ")


def test_help_returns_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inject", "--help"]) == 0

    out = capsys.readouterr().out
    assert "--log-every N" in out
    assert "--check" in out


# --check and --write


def test_check_passes_when_nothing_would_change(
    capsys: pytest.CaptureFixture[str], plain_script: Path
) -> None:
    assert run(capsys, "--check", str(plain_script)) == (0, "", "")


def test_check_fails_and_names_the_file_that_would_change(
    capsys: pytest.CaptureFixture[str], training_script: Path, plain_script: Path
) -> None:
    original = training_script.read_bytes()

    code, out, _ = run(capsys, "--check", str(training_script), str(plain_script))

    assert code == 1
    assert out == f"would change: {training_script}\n"
    assert training_script.read_bytes() == original


def test_write_leaves_unchanged_files_untouched(
    capsys: pytest.CaptureFixture[str], plain_script: Path
) -> None:
    before = plain_script.stat()

    code, out, _ = run(capsys, "--write", str(plain_script))

    after = plain_script.stat()
    assert (code, out) == (0, "")
    assert plain_script.read_bytes() == PLAIN_SOURCE
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_write_rewrites_in_place_keeping_mode_and_every_original_line(
    capsys: pytest.CaptureFixture[str], training_script: Path
) -> None:
    original = training_script.read_bytes()
    training_script.chmod(0o751)

    code, out, _ = run(capsys, "--write", str(training_script))

    rewritten = training_script.read_bytes()
    assert (code, out) == (0, f"wrote {training_script}\n")
    assert b"import wandb" in rewritten
    assert _is_subsequence(original.splitlines(True), rewritten.splitlines(True))
    assert stat.S_IMODE(training_script.stat().st_mode) == 0o751
    assert os.listdir(training_script.parent) == [training_script.name]
    assert run(capsys, "--check", str(training_script))[0] == 0


def test_write_keeps_crlf_and_latin1_bytes(
    capsys: pytest.CaptureFixture[str], training_script: Path
) -> None:
    text = "# -*- coding: latin-1 -*-\n# Entraîné sur MNIST\n" + EXAMPLE.read_text()
    original = text.replace("\n", "\r\n").encode("latin-1")
    training_script.write_bytes(original)

    assert run(capsys, "--write", str(training_script))[0] == 0

    rewritten = training_script.read_bytes()
    assert rewritten != original
    assert _is_subsequence(original.splitlines(True), rewritten.splitlines(True))
    assert b"\n" not in rewritten.replace(b"\r\n", b"")
    assert "Entraîné".encode("latin-1") in rewritten


def _is_subsequence(needles: list[bytes], haystack: list[bytes]) -> bool:
    remaining = iter(haystack)
    return all(needle in remaining for needle in needles)


def test_write_atomically_replaces_the_file_and_keeps_its_mode(
    tmp_path: Path,
) -> None:
    target = tmp_path / "train.py"
    target.write_bytes(b"old\n")
    target.chmod(0o640)
    old_inode = target.stat().st_ino

    write_atomically(target, b"new\r\n")

    assert target.read_bytes() == b"new\r\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    # A new inode shows the content came from a renamed temporary file.
    assert target.stat().st_ino != old_inode
    assert os.listdir(tmp_path) == ["train.py"]


def test_write_atomically_rewrites_a_link_target_and_keeps_the_link(
    tmp_path: Path,
) -> None:
    target = tmp_path / "real.py"
    target.write_bytes(b"old\n")
    link = tmp_path / "link.py"
    link.symlink_to(target)

    write_atomically(link, b"new\n")

    assert link.is_symlink()
    assert target.read_bytes() == b"new\n"


def test_write_atomically_keeps_the_old_file_when_writing_fails(
    tmp_path: Path,
) -> None:
    target = tmp_path / "train.py"
    target.write_bytes(b"old\n")

    with pytest.raises(TypeError):
        write_atomically(target, "not bytes")  # type: ignore[arg-type]

    assert target.read_bytes() == b"old\n"
    assert os.listdir(tmp_path) == ["train.py"]


# Diff output and color


def test_default_output_is_a_diff_adding_wandb(
    capsys: pytest.CaptureFixture[str], training_script: Path, plain_script: Path
) -> None:
    original = training_script.read_bytes()

    code, out, _ = run(capsys, str(training_script), str(plain_script))

    assert code == 0
    assert out.startswith(f"--- a/{training_script}\n+++ b/{training_script}\n")
    assert "\n+import wandb\n" in out
    assert str(plain_script) not in out
    assert "\x1b[" not in out
    assert training_script.read_bytes() == original


def test_color_always_colors_added_lines(
    capsys: pytest.CaptureFixture[str], training_script: Path
) -> None:
    code, out, _ = run(capsys, "--color", "always", str(training_script))

    assert code == 0
    assert f"{GREEN}+import wandb{RESET}\n" in out


def test_unified_diff_colors_only_when_asked() -> None:
    old = b"a = 1\nb = 2\n"
    new = b"a = 1\nb = 3\n"

    plain = unified_diff("x.py", old, new)
    colored = unified_diff("x.py", old, new, color=True)

    assert "\x1b[" not in plain
    assert "-b = 2\n" in plain
    assert "+b = 3\n" in plain
    assert "\x1b[31m-b = 2\x1b[0m\n" in colored
    assert "\x1b[32m+b = 3\x1b[0m\n" in colored
    assert "\x1b[36m@@ -1,2 +1,2 @@\x1b[0m\n" in colored


def test_unified_diff_marks_a_missing_final_newline() -> None:
    diff = unified_diff("x.py", b"a = 1", b"a = 1\nb = 2")

    assert diff.splitlines(True)[2:] == [
        "@@ -1 +1,2 @@\n",
        "-a = 1\n",
        NO_NEWLINE_MARKER,
        "+a = 1\n",
        "+b = 2\n",
        NO_NEWLINE_MARKER,
    ]


def test_unified_diff_decodes_with_the_coding_cookie() -> None:
    old = "# -*- coding: latin-1 -*-\nname = 'é'\n".encode("latin-1")

    diff = unified_diff("x.py", old, old + b"x = 1\n")

    assert " name = 'é'\n" in diff
    assert "+x = 1\n" in diff


def test_unified_diff_keeps_form_feeds_inside_lines() -> None:
    diff = unified_diff("x.py", b"a = 1  \x0c# page\n", b"a = 1  \x0c# page\nb = 2\n")

    assert " a = 1  \x0c# page\n" in diff


@pytest.fixture
def terminal() -> Iterator[TextIO]:
    """The writing end of a real pseudo-terminal, as a text stream."""
    leader, follower = os.openpty()
    stream = os.fdopen(follower, "w")
    yield stream
    stream.close()
    os.close(leader)


@pytest.mark.parametrize(
    ("choice", "on_terminal", "no_color", "expected"),
    [
        pytest.param("auto", True, None, True, id="auto-terminal"),
        pytest.param("auto", True, "1", False, id="auto-terminal-NO_COLOR"),
        pytest.param("auto", True, "", True, id="auto-terminal-empty-NO_COLOR"),
        pytest.param("auto", False, None, False, id="auto-file"),
        pytest.param("always", False, "1", True, id="always"),
        pytest.param("never", True, None, False, id="never"),
    ],
)
def test_should_color(
    terminal: TextIO,
    tmp_path: Path,
    choice: str,
    on_terminal: bool,
    no_color: str | None,
    expected: bool,
) -> None:
    environ = {} if no_color is None else {"NO_COLOR": no_color}
    with (tmp_path / "out.txt").open("w") as regular_file:
        stream = terminal if on_terminal else regular_file
        assert should_color(choice, stream, environ) is expected


# --json, folders and projects


def test_json_reports_every_file_with_its_fields(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, plain_script: Path
) -> None:
    (tmp_path / "broken_syntax.py").write_bytes(b"def (:\n")

    code, out, err = run(capsys, "--json", str(tmp_path), str(plain_script))

    reports = json.loads(out)
    assert (code, err) == (0, "")
    assert [report["path"] for report in reports] == [
        str(tmp_path / "broken_syntax.py"),
        str(plain_script),
    ]
    for report in reports:
        assert set(report) == REPORT_KEYS
        assert report["status"] in STATUSES
        assert isinstance(report["reason"], str)


def test_json_describes_the_insertions(
    capsys: pytest.CaptureFixture[str], training_script: Path
) -> None:
    [report] = run_json(capsys, str(training_script))

    assert report["status"] == "changed"
    insertions = report["insertions"]
    assert isinstance(insertions, list) and insertions
    for insertion in insertions:
        assert set(insertion) == {"point", "line", "code", "reason"}
    assert any("import wandb" in item["code"] for item in insertions)


def test_folders_are_walked_skipping_hidden_and_third_party_code(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    wanted = ["a.py", "pkg/b.py", "pkg/deeper/c.py"]
    unwanted = [
        ".hidden/d.py",
        "venv/e.py",
        ".venv/f.py",
        "lib/site-packages/g.py",
        "web/node_modules/h.py",
        "pkg/__pycache__/i.py",
        "my-env/j.py",
        "notes.txt",
        "pkg/setup.cfg",
    ]
    for name in wanted + unwanted:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(PLAIN_SOURCE)
    (tmp_path / "my-env" / "pyvenv.cfg").write_text("home = /usr/bin\n")

    reports = run_json(capsys, str(tmp_path))

    assert [report["path"] for report in reports] == [
        str(tmp_path / name) for name in wanted
    ]


def test_a_file_named_twice_is_reported_once(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, plain_script: Path
) -> None:
    reports = run_json(capsys, str(plain_script), str(tmp_path))

    assert [report["path"] for report in reports] == [str(plain_script)]


def test_project_defaults_to_the_git_root_name(tmp_path: Path) -> None:
    script = tmp_path / "my-repo" / "src" / "train.py"
    script.parent.mkdir(parents=True)
    (tmp_path / "my-repo" / ".git").mkdir()

    assert find_git_root(script.parent) == tmp_path / "my-repo"
    assert project_name_for(script) == "my-repo"


def test_project_defaults_to_a_worktree_root_with_a_git_file(tmp_path: Path) -> None:
    script = tmp_path / "worktree" / "train.py"
    script.parent.mkdir()
    (tmp_path / "worktree" / ".git").write_text("gitdir: /elsewhere\n")

    assert project_name_for(script) == "worktree"


def test_project_outside_git_is_the_folder_name(tmp_path: Path) -> None:
    script = tmp_path / "experiments" / "train.py"
    script.parent.mkdir()

    assert find_git_root(script.parent) is None
    assert project_name_for(script) == "experiments"


def test_git_root_project_reaches_the_injected_code(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    script = tmp_path / "mnist-lab" / "scripts" / "train.py"
    script.parent.mkdir(parents=True)
    (tmp_path / "mnist-lab" / ".git").mkdir()
    shutil.copyfile(EXAMPLE, script)

    [report] = run_json(capsys, str(script))

    codes = [item["code"] for item in report["insertions"]]
    assert any("mnist-lab" in code for code in codes)
    assert not any("scripts" in code for code in codes)


def test_project_flag_overrides_the_default(
    capsys: pytest.CaptureFixture[str], training_script: Path
) -> None:
    [report] = run_json(capsys, "--project", "digits-2024", str(training_script))

    codes = [item["code"] for item in report["insertions"]]
    assert any("digits-2024" in code for code in codes)


def test_skipped_files_get_one_note_on_stderr(
    capsys: pytest.CaptureFixture[str], training_script: Path
) -> None:
    source = training_script.read_text()
    training_script.write_text(source + "\nloss.backward(  # never closed\n")

    code, out, err = run(capsys, str(training_script))

    assert (code, out) == (0, "")
    [note] = err.splitlines()
    assert note.startswith(f"{training_script}: skipped: ")
    assert run(capsys, "--json", str(training_script))[2] == ""


# The installed console script and `python -m`


def test_installed_console_script(tmp_path: Path, plain_script: Path) -> None:
    script = Path(sysconfig.get_path("scripts")) / "wandb-inject"
    missing = tmp_path / "nowhere.py"

    ok = subprocess.run(
        [script, "inject", "--check", plain_script], capture_output=True, text=True
    )
    failed = subprocess.run(
        [script, "inject", missing, plain_script], capture_output=True, text=True
    )

    assert (ok.returncode, ok.stdout, ok.stderr) == (0, "", "")
    assert failed.returncode == 2
    assert failed.stderr.splitlines() == [
        f"wandb-inject: error: cannot read {missing}: no such file or folder"
    ]


def test_python_dash_m(plain_script: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "inject", "--json", plain_script],
        capture_output=True,
        text=True,
    )

    assert result.returncode == 0, result.stderr
    [report] = json.loads(result.stdout)
    assert report["path"] == str(plain_script)
