"""Reading and checking .github/wandb-inject.yml."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.repo_config import (
    CONFIG_PATH,
    MAX_CONFIG_BYTES,
    RepoConfig,
    RepoConfigError,
    load_repo_config,
)


def write_config(root: Path, text: str) -> None:
    path = root / CONFIG_PATH
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def problems_of(root: Path) -> list[str]:
    with pytest.raises(RepoConfigError) as caught:
        load_repo_config(root)
    return caught.value.problems


def test_no_file_gives_the_defaults(tmp_path: Path) -> None:
    assert load_repo_config(tmp_path) == RepoConfig()


@pytest.mark.parametrize(
    "text", ["", "# only a comment\n", "---\n"], ids=["empty", "comment", "marker"]
)
def test_an_empty_file_gives_the_defaults(tmp_path: Path, text: str) -> None:
    write_config(tmp_path, text)

    assert load_repo_config(tmp_path) == RepoConfig()


def test_every_setting_is_read(tmp_path: Path) -> None:
    write_config(
        tmp_path,
        "project: digits\n"
        "entity: vision-team\n"
        "paths: ['src/**/*.py']\n"
        "exclude: [legacy/**, scratch.py]\n"
        "log_every: 25\n"
        "enabled: false\n",
    )

    assert load_repo_config(tmp_path) == RepoConfig(
        project="digits",
        entity="vision-team",
        paths=("src/**/*.py",),
        exclude=("legacy/**", "scratch.py"),
        log_every=25,
        enabled=False,
    )


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        pytest.param("projekt: x", "unknown key 'projekt'", id="unknown-key"),
        pytest.param("project: a/b", "project: 'a/b' holds '/'", id="slash"),
        pytest.param("project: '  '", "project: the project name is empty", id="blank"),
        pytest.param(f"project: {'p' * 129}", "longer than 128", id="long-project"),
        pytest.param("project: 3", "project: expected a W&B project name", id="number"),
        pytest.param("entity: 'my team'", "entity: expected a W&B team", id="space"),
        pytest.param("entity: ''", "not an empty string", id="empty-entity"),
        pytest.param("paths: src/", "paths: expected a list of glob", id="not-list"),
        pytest.param("exclude: [1]", "one entry is a number", id="number-glob"),
        pytest.param("exclude: ['/etc/*']", "relative to the repository", id="abs"),
        pytest.param("log_every: 0", "log_every: expected a whole number", id="zero"),
        pytest.param("log_every: true", "not True", id="bool-interval"),
        pytest.param("log_every: 2.5", "not 2.5", id="float-interval"),
        pytest.param("enabled: maybe", "enabled: expected true or false", id="enabled"),
    ],
)
def test_a_bad_setting_names_the_file_the_key_and_what_was_expected(
    tmp_path: Path, line: str, expected: str
) -> None:
    write_config(tmp_path, line + "\n")

    [problem] = problems_of(tmp_path)

    assert problem.startswith(f"{CONFIG_PATH}: ")
    assert expected in problem


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    write_config(tmp_path, "project: 'a:b'\nlog_every: -1\ncolour: red\n")

    problems = problems_of(tmp_path)

    assert len(problems) == 3
    assert [p.split(": ")[1] for p in problems] == [
        "unknown key 'colour' (known",
        "project",
        "log_every",
    ]


def test_invalid_yaml_gives_its_line(tmp_path: Path) -> None:
    write_config(tmp_path, "project: digits\npaths: [src\n")

    [problem] = problems_of(tmp_path)

    assert problem.startswith(f"{CONFIG_PATH} is not valid YAML on line 3")


def test_a_list_at_the_top_is_refused(tmp_path: Path) -> None:
    write_config(tmp_path, "- project\n")

    assert problems_of(tmp_path) == [
        f"{CONFIG_PATH} must be a mapping of settings, not a list"
    ]


def test_a_link_is_not_followed(tmp_path: Path) -> None:
    secret = tmp_path / "outside.yml"
    secret.write_text("token: hunter2\n")
    (tmp_path / ".github").mkdir()
    (tmp_path / CONFIG_PATH).symlink_to(secret)

    [problem] = problems_of(tmp_path)

    assert "not a link" in problem
    assert "hunter2" not in problem and "token" not in problem


def test_an_oversized_file_is_refused(tmp_path: Path) -> None:
    write_config(tmp_path, "# " + "x" * MAX_CONFIG_BYTES + "\n")

    [problem] = problems_of(tmp_path)

    assert "larger than 64 KiB" in problem


def test_the_message_joins_the_problems_on_one_line(tmp_path: Path) -> None:
    write_config(tmp_path, "log_every: 0\nenabled: 1\n")

    with pytest.raises(RepoConfigError) as caught:
        load_repo_config(tmp_path)

    assert "\n" not in str(caught.value)
    assert str(caught.value) == "; ".join(caught.value.problems)


def test_yaml_nested_past_the_stack_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    write_config(tmp_path, "[" * 1_000 + "]" * 1_000)

    assert problems_of(tmp_path) == [f"{CONFIG_PATH} is nested too deeply to read"]


def test_many_unknown_keys_make_one_short_problem(tmp_path: Path) -> None:
    write_config(tmp_path, "".join(f"k{n}: 1\n" for n in range(5000)))

    [problem] = problems_of(tmp_path)

    assert problem.startswith(
        f"{CONFIG_PATH}: unknown keys 'k0', 'k1', 'k2', 'k3', 'k4' and 4995 more"
    )
    assert len(problem) < 200


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(f"log_every: {'9' * 20_000}x\n", id="value"),
        pytest.param(f"? {'k' * 20_000}\n: 1\n", id="key"),
        pytest.param(f"exclude: ['/{'x' * 20_000}']\n", id="pattern"),
    ],
)
def test_a_long_value_or_key_is_quoted_cut_short(tmp_path: Path, text: str) -> None:
    write_config(tmp_path, text)

    [problem] = problems_of(tmp_path)

    assert "..." in problem
    assert len(problem) < 250


def test_a_file_that_is_not_utf8_is_a_problem(tmp_path: Path) -> None:
    path = tmp_path / CONFIG_PATH
    path.parent.mkdir()
    path.write_bytes(b"project: caf\xe9\n")

    [problem] = problems_of(tmp_path)

    assert problem.startswith(f"{CONFIG_PATH} is not valid YAML: ")
