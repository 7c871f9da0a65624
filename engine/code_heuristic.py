"""Does a message contain code? A deliberately simple heuristic.

True when the message has a fenced block (```), or when at least `MIN_CODE_LINES` lines
look like code. A line looks like code when, after its indentation, it starts with a
common declaration or statement keyword (`def `, `class `, `import `, `from x import`,
`function`, `const `, `let `, `var `, `return `, `#include`, `public `, `package `,
`SELECT `, …), or when it ends with `;`, `{` or `}`, or is a lone `)` or `]`.
Keywords are matched case-sensitively, because code keywords are lower case and prose
starting "Class begins at nine" should not count.

One line is not enough: prose can end a line with ";" once. It misses code written as
plain expressions (`x = f(y)` alone) — rules that need precision should use a regex.

The scan is one RE2 pass (linear, no backtracking), and it stops at the second hit.
"""

from __future__ import annotations

import re2

MIN_CODE_LINES = 2
FENCE = "```"

_options = re2.Options()
_options.log_errors = False
_CODE_LINE = re2.compile(
    r"(?m)^[ \t]*(?:(?:async[ \t]+)?def[ \t]|class[ \t]|import[ \t]|from[ \t]+\S+[ \t]+import[ \t]"
    r"|function\b|func[ \t]|fn[ \t]|const[ \t]|let[ \t]|var[ \t]|return\b|#include\b"
    r"|#!/|public[ \t]|private[ \t]|package[ \t]|using[ \t]|SELECT[ \t]|INSERT[ \t]+INTO\b"
    r"|[)\]];?[ \t]*$)[^\n]*"
    # A keyword line is consumed whole, so "def f() {" counts once, not twice.
    r"|[;{}][ \t]*$",
    _options,
)


def looks_like_code(text: str) -> bool:
    if FENCE in text:
        return True
    # `any` stops the scan as soon as the second code-like line is found.
    lines = enumerate(_CODE_LINE.finditer(text), start=1)
    return any(count >= MIN_CODE_LINES for count, _ in lines)
