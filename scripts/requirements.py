"""Print the runtime dependencies from pyproject.toml, one per line (for `pip install -r`).

The image installs these before copying the code, so the dependency layer is rebuilt only when
pyproject.toml changes; the app itself runs from /app, whatever apps it holds.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

pyproject = Path(sys.argv[1] if len(sys.argv) > 1 else "pyproject.toml")
print("\n".join(tomllib.loads(pyproject.read_text())["project"]["dependencies"]))
