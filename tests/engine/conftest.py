"""Engine tests are plain pytest: no database, no Django (run with `-p no:django`).

The project-wide tests/conftest.py has autouse fixtures that need Django's `settings`;
the engine is a library that never touches Django, so they are replaced here by no-ops
(a fixture in a nearer conftest overrides one of the same name).
"""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _fast_and_isolated() -> None:
    return None


@pytest.fixture(autouse=True)
def _clear_cache() -> None:
    return None
