from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import engine

ENGINE = Path(engine.__file__).parent


def _imported_modules(source: str) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_the_scanner_sees_a_django_import() -> None:
    # Guards the check below against passing vacuously.
    assert "django.db" in _imported_modules("from django.db import models")
    assert "django" in _imported_modules("import django")


def test_no_engine_module_imports_django() -> None:
    files = sorted(ENGINE.rglob("*.py"))
    assert len(files) >= 10
    offenders = {
        str(path.relative_to(ENGINE)): sorted(
            m for m in _imported_modules(path.read_text()) if m.split(".")[0] == "django"
        )
        for path in files
    }
    assert {path: mods for path, mods in offenders.items() if mods} == {}


def test_importing_the_engine_does_not_load_django() -> None:
    code = "import sys, engine; print('django' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
