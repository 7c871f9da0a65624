"""The apps' layering: imports of the project's own modules stay at the top of each module,
where import-linter sees them.

An import inside a function is how a module reaches a layer above it without the cycle showing;
`lint-imports` (CI) checks the direction of the imports at the top. Third-party imports may wait
(an optional SDK, a costly import on a rare path): they cannot hide a cycle between our apps.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APPS = (
    "engine",
    "providers",
    "governance",
    "routers",
    "decisions",
    "planning",
    "preferences",
    "experiments",
    "chat",
    "gateway",
    "controls",
    "evaluation",
)
APPS += ("accounts", "audit")
APPS += ("routerweb",)
# Imports that must wait, each for a reason other than a cycle.
ALLOWED = {
    # Signal receivers connect in AppConfig.ready(), once the app registry is ready.
    ("routers/apps.py", "routers"),
    ("accounts/apps.py", "accounts"),  # the verified-token cache follows token and user saves
    ("decisions/apps.py", "decisions"),  # queued decisions are written at process exit
}


def _type_checking_lines(tree: ast.Module) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def _nested_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    top = {id(node) for node in tree.body}
    guarded = _type_checking_lines(tree)
    rel = path.relative_to(ROOT).as_posix()
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Import | ast.ImportFrom) or id(node) in top:
            continue
        if node.lineno in guarded:
            continue
        if isinstance(node, ast.ImportFrom) and node.level:
            found.append(f"{rel}:{node.lineno}: {ast.unparse(node)}")
            continue
        module = node.module if isinstance(node, ast.ImportFrom) else node.names[0].name
        top_level = (module or "").split(".")[0]
        if top_level not in APPS or (rel, top_level) in ALLOWED:
            continue
        found.append(f"{rel}:{node.lineno}: {ast.unparse(node)}")
    return found


def test_no_app_module_hides_an_import_inside_a_function():
    found = [
        hit
        for app in APPS
        for path in sorted((ROOT / app).rglob("*.py"))
        if "migrations" not in path.parts
        for hit in _nested_imports(path)
    ]
    assert found == [], "move these imports to the top of their module:\n" + "\n".join(found)
