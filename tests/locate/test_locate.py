"""locate(): ranks, roles, links and rule-outs on small repositories on disk."""

from __future__ import annotations

import json
import os
from pathlib import Path
from textwrap import dedent

import pytest

from injector.locate import Candidate, Scan, locate
from injector.options import Role

TRAINING_LOOP = """
    def train_one_epoch(model, loader, optimizer):
        model.train()
        for batch in loader:
            loss = model(batch).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()


    def evaluate(model, loader):
        model.eval()
        return sum(model(batch).mean() for batch in loader)
"""

ENTRY_USING_ENGINE = """
    import argparse

    from {module} import train_one_epoch


    def main(args):
        for epoch in range(args.epochs):
            train_one_epoch(None, [], None)


    if __name__ == "__main__":
        parser = argparse.ArgumentParser()
        parser.add_argument("--epochs", type=int, default=1)
        main(parser.parse_args())
"""

SELF_CONTAINED_SCRIPT = """
    import argparse

    import torch


    def main():
        parser = argparse.ArgumentParser()
        args = parser.parse_args()
        model = torch.nn.Linear(2, 1)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        for step in range(10):
            loss = model(torch.randn(4, 2)).mean()
            loss.backward()
            optimizer.step()


    if __name__ == "__main__":
        main()
"""

PREDICT_SCRIPT = """
    import argparse

    import torch


    def main():
        parser = argparse.ArgumentParser()
        parser.add_argument("--checkpoint")
        args = parser.parse_args()
        model = torch.load(args.checkpoint)
        model.eval()
        with torch.no_grad():
            print(model(torch.randn(1, 2)))


    if __name__ == "__main__":
        main()
"""


def write_repo(root: Path, files: dict[str, str]) -> Path:
    for name, source in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dedent(source).lstrip("\n"))
    return root


def by_path(scan: Scan) -> dict[str, Candidate]:
    return {c.path: c for c in scan.candidates}


def excluded(scan: Scan) -> dict[str, str]:
    return {e.path: e.reason for e in scan.excluded}


def test_entry_and_engine_are_linked(tmp_path: Path) -> None:
    root = write_repo(
        tmp_path,
        {
            "engine.py": TRAINING_LOOP,
            "main.py": ENTRY_USING_ENGINE.format(module="engine"),
            "utils.py": "def seed(n):\n    return n\n",
        },
    )
    found = by_path(locate(root))
    assert set(found) == {"main.py", "engine.py"}
    main, engine = found["main.py"], found["engine.py"]
    assert (main.role, main.links) == (Role.ENTRY, ("engine.py",))
    assert (engine.role, engine.links) == (Role.LOOP, ("main.py",))
    assert "trains through engine.py: uses train_one_epoch (line 8)" in main.reasons
    assert 'has an if __name__ == "__main__" block (line 11)' in main.reasons
    assert "parses arguments with argparse.ArgumentParser (line 12)" in main.reasons
    assert "calls loss.backward() (line 6)" in engine.reasons
    assert "calls optimizer.step() (line 7)" in engine.reasons
    assert "imported for its loop by main.py" in engine.reasons


def test_module_import_with_attribute_use_is_linked(tmp_path: Path) -> None:
    entry = """
        import engine

        if __name__ == "__main__":
            engine.train_one_epoch(None, [], None)
    """
    root = write_repo(tmp_path, {"engine.py": TRAINING_LOOP, "run.py": entry})
    found = by_path(locate(root))
    assert (found["run.py"].role, found["run.py"].links) == (Role.ENTRY, ("engine.py",))
    assert found["engine.py"].links == ("run.py",)


def test_several_scripts_in_one_repo_rank_before_nothing(tmp_path: Path) -> None:
    root = write_repo(
        tmp_path,
        {"train.py": SELF_CONTAINED_SCRIPT, "finetune.py": SELF_CONTAINED_SCRIPT},
    )
    scan = locate(root)
    # Equal scores: the name train*.py weighs as much as finetune*.py.
    assert [c.path for c in scan.candidates] == ["finetune.py", "train.py"]
    assert all(c.role is Role.SCRIPT and c.links == () for c in scan.candidates)
    assert scan.candidates[0].score == scan.candidates[1].score
    assert "named finetune*.py" in scan.candidates[0].reasons
    assert "calls loss.backward() (line 13)" in scan.candidates[1].reasons


def test_script_with_its_own_loop_still_links_an_imported_loop(
    tmp_path: Path,
) -> None:
    script = SELF_CONTAINED_SCRIPT.replace(
        "import torch\n", "import torch\n\n    from engine import train_one_epoch\n"
    ).replace(
        "optimizer.step()",
        "optimizer.step()\n            train_one_epoch(model, [], optimizer)",
    )
    root = write_repo(tmp_path, {"train.py": script, "engine.py": TRAINING_LOOP})
    found = by_path(locate(root))
    assert (found["train.py"].role, found["train.py"].links) == (Role.SCRIPT, ())
    assert (found["engine.py"].role, found["engine.py"].links) == (
        Role.LOOP,
        ("train.py",),
    )
    assert any(
        r.startswith("also uses the loop in engine.py")
        for r in found["train.py"].reasons
    )


def test_decoys_are_ruled_out_with_reasons(tmp_path: Path) -> None:
    trainer_library = """
        class Trainer:
            def fit(self, model, loader, optimizer):
                for batch in loader:
                    model(batch).backward()
                    optimizer.step()
    """
    test_file = """
        from mylib import Trainer

        def test_fit():
            loss = 1
            loss.backward()
    """
    root = write_repo(
        tmp_path,
        {
            "train.py": SELF_CONTAINED_SCRIPT,
            "predict.py": PREDICT_SCRIPT,
            "mylib.py": trainer_library,
            "tests/test_train.py": test_file,
            "check_test.py": "def check(loss):\n    loss.backward()\n",
        },
    )
    scan = locate(root)
    assert [c.path for c in scan.candidates] == ["train.py"]
    reasons = excluded(scan)
    assert reasons["predict.py"] == (
        "inference only: no backward or optimizer step; calls model.eval() (line 11)"
    )
    assert reasons["tests/test_train.py"] == "a test (tests/ folder)"
    assert reasons["check_test.py"] == "a test (check_test.py)"
    assert reasons["mylib.py"] == (
        "a library: calls model(batch).backward() (line 4),"
        " but no entry point imports it"
    )


def test_eval_script_importing_only_evaluation_is_not_an_entry(
    tmp_path: Path,
) -> None:
    evaluate = """
        from engine import evaluate

        if __name__ == "__main__":
            evaluate(None, [])
    """
    root = write_repo(tmp_path, {"engine.py": TRAINING_LOOP, "evaluate.py": evaluate})
    scan = locate(root)
    assert scan.candidates == []
    reasons = excluded(scan)
    assert reasons["engine.py"] == "only imported, by evaluate.py"
    assert reasons["evaluate.py"] == (
        "inference only: no backward or optimizer step;"
        " imports engine.py, but not its training code"
    )


def test_package_with_relative_imports_runs_as_module(tmp_path: Path) -> None:
    entry = """
        from .engine import train_one_epoch


        def main():
            train_one_epoch(None, [], None)


        if __name__ == "__main__":
            main()
    """
    root = write_repo(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/engine.py": TRAINING_LOOP,
            "pkg/train.py": entry,
        },
    )
    found = by_path(locate(root))
    assert set(found) == {"pkg/train.py", "pkg/engine.py"}
    assert found["pkg/train.py"].links == ("pkg/engine.py",)
    assert found["pkg/train.py"].role is Role.ENTRY
    assert found["pkg/engine.py"].links == ("pkg/train.py",)


def test_trainer_class_re_exported_by_a_package(tmp_path: Path) -> None:
    trainer = """
        class Trainer:
            def fit(self, model, batches, optimizer):
                for batch in batches:
                    self.step(model, batch, optimizer)

            def step(self, model, batch, optimizer):
                model(batch).backward()
                optimizer.step()
    """
    entry = """
        from pkg import Trainer

        if __name__ == "__main__":
            Trainer().fit(None, [], None)
    """
    root = write_repo(
        tmp_path,
        {
            "pkg/__init__.py": "from .trainer import Trainer\n",
            "pkg/trainer.py": trainer,
            "run_experiment.py": entry,
        },
    )
    found = by_path(locate(root))
    assert found["run_experiment.py"].role is Role.SCRIPT  # it calls .fit itself
    assert found["pkg/trainer.py"].role is Role.LOOP
    assert found["pkg/trainer.py"].links == ("run_experiment.py",)


def test_loop_reached_through_an_intermediate_module(tmp_path: Path) -> None:
    runner = """
        from engine import train_one_epoch


        def run(epochs):
            for _ in range(epochs):
                train_one_epoch(None, [], None)
    """
    entry = """
        from runner import run

        if __name__ == "__main__":
            run(3)
    """
    root = write_repo(
        tmp_path,
        {"engine.py": TRAINING_LOOP, "runner.py": runner, "cli.py": entry},
    )
    found = by_path(locate(root))
    assert set(found) == {"cli.py", "engine.py"}
    assert found["cli.py"].links == ("engine.py",)
    assert "trains through engine.py: uses run (line 4)" in found["cli.py"].reasons


def test_src_layout_with_console_script(tmp_path: Path) -> None:
    pyproject = """
        [project]
        name = "demo"

        [project.scripts]
        demo-train = "demo.cli:main"
    """
    cli = """
        from demo.engine import train_one_epoch


        def main():
            train_one_epoch(None, [], None)
    """
    root = write_repo(
        tmp_path,
        {
            "pyproject.toml": pyproject,
            "src/demo/__init__.py": "",
            "src/demo/engine.py": TRAINING_LOOP,
            "src/demo/cli.py": cli,
        },
    )
    found = by_path(locate(root))
    cli_candidate = found["src/demo/cli.py"]
    assert (cli_candidate.role, cli_candidate.links) == (
        Role.ENTRY,
        ("src/demo/engine.py",),
    )
    assert (
        "console script 'demo-train' runs demo.cli:main (pyproject.toml)"
        in cli_candidate.reasons
    )
    assert found["src/demo/engine.py"].links == ("src/demo/cli.py",)


def test_setup_cfg_console_script(tmp_path: Path) -> None:
    setup_cfg = """
        [options.entry_points]
        console_scripts =
            fit-model = tool.fit:run
    """
    root = write_repo(
        tmp_path,
        {
            "setup.cfg": setup_cfg,
            "setup.py": "from setuptools import setup\nsetup()\n",
            "tool/__init__.py": "",
            "tool/fit.py": "def run(model, x):\n    model.fit(x)\n",
        },
    )
    found = by_path(locate(root))
    assert list(found) == ["tool/fit.py"]
    assert found["tool/fit.py"].role is Role.SCRIPT
    assert "calls model.fit() (line 2)" in found["tool/fit.py"].reasons


def test_monorepo_projects_link_their_own_engines(tmp_path: Path) -> None:
    entry = ENTRY_USING_ENGINE.format(module="engine")
    root = write_repo(
        tmp_path,
        {
            "projA/train.py": entry,
            "projA/engine.py": TRAINING_LOOP,
            "projB/train.py": entry,
            "projB/engine.py": TRAINING_LOOP,
        },
    )
    found = by_path(locate(root))
    for project in ("projA", "projB"):
        assert found[f"{project}/train.py"].links == (f"{project}/engine.py",)
        assert found[f"{project}/engine.py"].links == (f"{project}/train.py",)


def test_notebooks_vendored_code_and_venvs(tmp_path: Path) -> None:
    notebook = json.dumps({"cells": [{"source": ["loss.backward()"]}]})
    root = write_repo(
        tmp_path,
        {
            "train.py": SELF_CONTAINED_SCRIPT,
            "explore.ipynb": notebook,
            "third_party/lib/train.py": SELF_CONTAINED_SCRIPT,
            "env/pyvenv.cfg": "home = /usr/bin\n",
            "env/lib/train.py": SELF_CONTAINED_SCRIPT,
            ".venv/train.py": SELF_CONTAINED_SCRIPT,
            ".hidden/train.py": SELF_CONTAINED_SCRIPT,
            "docs/example_train.py": SELF_CONTAINED_SCRIPT,
        },
    )
    scan = locate(root)
    assert [c.path for c in scan.candidates] == ["train.py"]
    assert excluded(scan) == {
        "docs/example_train.py": "documentation (docs/ folder)",
        "explore.ipynb": "a notebook: reported, not rewritten",
        "third_party/lib/train.py": "vendored third-party code (third_party/)",
    }


def test_only_real_training_calls_rule_a_file_out_or_report_a_library(
    tmp_path: Path,
) -> None:
    not_training = (
        "# loss.backward() in a comment\n"
        "scheduler.step()\n"
        "features = scaler.fit(data)\n"
    )
    training = not_training + "loss.backward()\n"
    root = write_repo(
        tmp_path,
        {
            "tests/test_quiet.py": not_training,
            "tests/test_loop.py": training,
            "lib/quiet.py": not_training,
            "lib/loop.py": training,
        },
    )
    assert excluded(locate(root)) == {
        "tests/test_loop.py": "a test (tests/ folder)",
        "lib/loop.py": (
            "a library: calls loss.backward() (line 4), but no entry point imports it"
        ),
    }


def test_symlinks_out_of_root_are_not_followed(tmp_path: Path) -> None:
    outside = write_repo(tmp_path / "outside", {"train.py": SELF_CONTAINED_SCRIPT})
    root = write_repo(tmp_path / "repo", {"main.py": SELF_CONTAINED_SCRIPT})
    os.symlink(outside / "train.py", root / "train.py")
    os.symlink(outside, root / "linked_folder")
    os.symlink(root / "main.py", root / "main_link.py")
    scan = locate(root)
    assert sorted(c.path for c in scan.candidates) == ["main.py", "main_link.py"]


def test_folders_nested_past_the_limit_are_left_out_not_a_crash(
    tmp_path: Path,
) -> None:
    # Deep enough to exhaust Python's stack, were the walk to recurse into it all.
    deep = "/".join(["d"] * 900)
    shallow = "/".join(["s"] * 3)
    root = write_repo(
        tmp_path,
        {
            f"{deep}/train.py": SELF_CONTAINED_SCRIPT,
            f"{shallow}/main.py": SELF_CONTAINED_SCRIPT,
        },
    )
    scan = locate(root)
    assert [c.path for c in scan.candidates] == [f"{shallow}/main.py"]
    limit = "/".join(["d"] * 65) + "/"
    assert excluded(scan) == {limit: "nested deeper than 64 folders"}


def test_a_file_is_judged_on_its_bytes_and_parsed_only_when_they_cannot_tell(
    tmp_path: Path,
) -> None:
    # Python 2 reads like Python 3 to the byte outline: the injector parses the
    # candidate and turns it down (tests/bot/test_job.py).
    python2 = 'print "hello"\nloss.backward()\nif __name__ == "__main__":\n    pass\n'
    # A non-ASCII name is beyond the byte outline: ast reads it, and fails.
    broken = "déf = (\nloss.backward()\nif __name__ == '__main__':\n    pass\n"
    root = write_repo(tmp_path, {"train.py": python2, "main.py": broken})
    scan = locate(root)
    assert [c.path for c in scan.candidates] == ["train.py"]
    assert excluded(scan)["main.py"].startswith("not valid Python: line 1:")


@pytest.mark.parametrize(
    ("include", "exclude", "expected", "reasons"),
    [
        pytest.param((), (), ["legacy/train.py", "src/train.py"], {}, id="all"),
        pytest.param(("src/**",), (), ["src/train.py"], {}, id="include-src"),
        pytest.param(
            (),
            ("legacy/**",),
            ["src/train.py"],
            {"legacy/": "excluded by pattern 'legacy/**'"},
            id="exclude-folder",
        ),
        pytest.param(
            (),
            ("**/legacy/*.py",),
            ["src/train.py"],
            {"legacy/train.py": "excluded by pattern '**/legacy/*.py'"},
            id="exclude-files",
        ),
        pytest.param(
            ("*.py",),
            ("src",),
            ["legacy/train.py"],
            {"src/": "excluded by pattern 'src'"},
            id="basename",
        ),
    ],
)
def test_include_and_exclude_globs(
    tmp_path: Path,
    include: tuple[str, ...],
    exclude: tuple[str, ...],
    expected: list[str],
    reasons: dict[str, str],
) -> None:
    root = write_repo(
        tmp_path,
        {
            "src/train.py": SELF_CONTAINED_SCRIPT,
            "legacy/train.py": SELF_CONTAINED_SCRIPT,
        },
    )
    scan = locate(root, include=include, exclude=exclude)
    assert sorted(c.path for c in scan.candidates) == expected
    assert excluded(scan) == reasons


@pytest.mark.parametrize(
    ("pattern", "left"),
    [
        pytest.param("/train.py", ["src/train.py"], id="leading-slash-anchors"),
        pytest.param("src/train.py", ["train.py"], id="inner-slash-anchors"),
        pytest.param("train.py", [], id="no-slash-matches-at-any-depth"),
    ],
)
def test_a_slash_anchors_a_pattern_to_the_root(
    tmp_path: Path, pattern: str, left: list[str]
) -> None:
    files = {"train.py": SELF_CONTAINED_SCRIPT, "src/train.py": SELF_CONTAINED_SCRIPT}
    scan = locate(write_repo(tmp_path, files), exclude=(pattern,))
    assert sorted(c.path for c in scan.candidates) == left


def test_nothing_to_do(tmp_path: Path) -> None:
    root = write_repo(
        tmp_path,
        {
            "app.py": 'if __name__ == "__main__":\n    print("hi")\n',
            "lib/util.py": "def add(a, b):\n    return a + b\n",
        },
    )
    scan = locate(root)
    assert (scan.candidates, scan.excluded) == ([], [])
    # app.py imports nothing of the repository: not even parsed.
    assert (scan.files_seen, scan.files_parsed) == (2, 0)


def test_only_needed_files_are_parsed(tmp_path: Path) -> None:
    files = {f"lib/mod{i}.py": "x = 1\n" for i in range(20)}
    files["lib/losses.py"] = "def step(optimizer):\n    optimizer.step()\n"
    root = write_repo(tmp_path, {**files, "train.py": SELF_CONTAINED_SCRIPT})
    scan = locate(root)
    # train.py alone: the library with a step is judged on its bytes.
    assert (scan.files_seen, scan.files_parsed) == (22, 1)
    assert excluded(scan)["lib/losses.py"].startswith(
        "a library: calls optimizer.step()"
    )


def test_scan_serialises_to_json(tmp_path: Path) -> None:
    root = write_repo(tmp_path, {"train.py": SELF_CONTAINED_SCRIPT, "nb.ipynb": "{}"})
    data = json.loads(json.dumps(locate(root).to_json()))
    assert data["candidates"][0]["role"] == "script"
    assert data["candidates"][0]["path"] == "train.py"
    assert data["excluded"] == [
        {"path": "nb.ipynb", "reason": "a notebook: reported, not rewritten"}
    ]
    assert data["files_seen"] == 2
