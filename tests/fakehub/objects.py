"""Git database endpoints: a commit's tree, recursive or not, and a blob."""

from __future__ import annotations

import base64

from fakehub import bare, render
from fakehub.calls import Context, Refusal, Reply, not_found
from fakehub.state import Repo

EMPTY = "Git Repository is empty."


def get_tree(context: Context) -> Reply:
    repo = context.the_repo
    if repo.branch_sha(repo.default_branch) is None:
        raise Refusal(409, EMPTY)
    wanted = context.arguments["tree_sha"]
    recursive = context.query.get("recursive") not in (None, "", "0", "false")
    tree_sha = _tree_sha(repo, wanted)
    entries = bare.tree(repo.git_dir, tree_sha, recursive=recursive)
    base = f"{render.API}/repos/{repo.full_name}/git"
    body = {
        "sha": tree_sha,
        "url": f"{base}/trees/{tree_sha}",
        "truncated": False,
        "tree": [_entry(base, each) for each in entries],
    }
    return Reply(200, body)


def get_blob(context: Context) -> Reply:
    repo = context.the_repo
    sha = context.arguments["file_sha"]
    if bare.object_kind(repo.git_dir, sha) != "blob":
        raise not_found()
    data = bare.git(repo.git_dir, "cat-file", "blob", sha)
    body = {
        "sha": sha,
        "node_id": f"B_{sha}",
        "size": len(data),
        "url": f"{render.API}/repos/{repo.full_name}/git/blobs/{sha}",
        "content": base64.b64encode(data).decode(),
        "encoding": "base64",
    }
    return Reply(200, body)


def _tree_sha(repo: Repo, wanted: str) -> str:
    """The tree a branch, commit or tree sha names, as GitHub resolves them."""
    for revision in (f"refs/heads/{wanted}", wanted):
        if bare.object_kind(repo.git_dir, f"{revision}^{{tree}}") == "tree":
            output = bare.git(repo.git_dir, "rev-parse", f"{revision}^{{tree}}")
            return output.decode().strip()
    raise not_found()


def _entry(base: str, entry: bare.Entry) -> dict[str, object]:
    kind = "trees" if entry.kind == "tree" else "blobs"
    shown: dict[str, object] = {
        "path": entry.path,
        "mode": entry.mode,
        "type": entry.kind,
        "sha": entry.sha,
        "url": f"{base}/{kind}/{entry.sha}",
    }
    if entry.size is not None:
        shown["size"] = entry.size
    return shown


ROUTES = [
    ("GET", "/repos/{owner}/{repo}/git/trees/{tree_sha}", get_tree),
    ("GET", "/repos/{owner}/{repo}/git/blobs/{file_sha}", get_blob),
]
