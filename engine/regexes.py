"""Pattern compilation: user regexes (RE2), keywords, and one-pass pattern banks.

User-written regexes run on every message of every workspace using the router, so they are
compiled with RE2 (google-re2), whose matching time is linear in the text: no pattern can
hang a worker, whatever it is. (RE2's `\\b`, `\\w` and `\\d` are ASCII-only; `\\pL` and
friends are Unicode.) RE2 rejects what it cannot run in linear time
(backreferences, lookarounds); `compile_user_regex` turns its terse errors into messages a
person editing a rule understands.

Keywords and phrases are RE2 patterns too (escaped words, any whitespace between them,
Unicode word boundaries at the edges), so every keyword of a router is found in the same
linear-time pass as its regexes: no keyword list, however long its phrases, and no message,
however repetitive, can make matching slower than one scan of the text.

A `PatternBank` runs many patterns over a text in one RE2 pass (an `re2.Set`) and reports
which of them occur. A router's `Scanner` puts all its regexes and all its keywords
into such banks, so a message is scanned once (twice if it is not ASCII)
instead of once per condition; per-condition work then only happens for the few patterns
present.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import re2

from .errors import RuleError
from .limits import MAX_PATTERN_CHARS, MAX_REGEX_PROGRAM_SIZE


def _options() -> re2.Options:
    options = re2.Options()
    # RE2 otherwise logs every rejected pattern to stderr; we report errors ourselves.
    options.log_errors = False
    return options


_OPTIONS = _options()

# RE2's error text, by prefix, and what to tell the user instead.
_FRIENDLY_ERRORS: tuple[tuple[str, str], ...] = (
    ("missing )", "unbalanced parenthesis: a '(' is never closed"),
    ("unexpected )", "unbalanced parenthesis: a ')' has no matching '('"),
    ("missing ]", "unbalanced bracket: a '[' is never closed"),
    ("invalid perl operator: (?=", "lookahead (?=…) is not supported"),
    ("invalid perl operator: (?!", "lookahead (?!…) is not supported"),
    ("invalid perl operator: (?<=", "lookbehind (?<=…) is not supported"),
    ("invalid perl operator: (?<!", "lookbehind (?<!…) is not supported"),
    ("invalid perl operator: (?P=", "backreferences like (?P=name) are not supported"),
    ("invalid perl operator: (?P", "backreferences like (?P=name) are not supported"),
    ("invalid repetition size", "a repetition count is invalid or larger than 1000"),
    ("bad repetition operator", "two repetition operators in a row (like ** or +*)"),
    ("no argument for repetition operator", "a *, + or ? has nothing before it to repeat"),
    ("invalid character class range", "a character range is invalid (like z-a)"),
    ("invalid character class", "a character class is invalid"),
    ("missing argument to repetition operator", "a *, + or ? has nothing before it to repeat"),
    ("trailing \\", "the pattern ends with a lone backslash"),
    ("pattern too large", "the pattern is too large"),
)
_BACKREFERENCE = re.compile(r"\\[1-9]|\\k<|\\g<")


def _explain(pattern: str, error: str) -> str:
    if _BACKREFERENCE.search(pattern) and error.startswith("invalid escape sequence"):
        # Linear-time matching cannot support them; say so rather than "invalid escape".
        return "backreferences like \\1 are not supported (patterns must run in linear time)"
    for prefix, friendly in _FRIENDLY_ERRORS:
        if error.startswith(prefix):
            return friendly
    if error.startswith("invalid escape sequence"):
        return f"{error.split(':', 1)[-1].strip()} is not a supported escape sequence"
    return error


def compile_user_regex(pattern: object) -> re2._Regexp:
    """Compile a rule's pattern with RE2 or raise `RuleError` saying what is wrong."""
    if not isinstance(pattern, str) or not pattern:
        raise RuleError("Regex: enter a pattern", "value")
    if len(pattern) > MAX_PATTERN_CHARS:
        raise RuleError(
            f"Regex: the pattern is longer than {MAX_PATTERN_CHARS:,} characters", "value"
        )
    try:
        compiled = re2.compile(pattern, _OPTIONS)
    except re2.error as exc:
        raw = exc.args[0] if exc.args else ""
        error = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        raise RuleError(f"Regex: {_explain(pattern, error)}", "value") from None
    if compiled.programsize > MAX_REGEX_PROGRAM_SIZE:
        raise RuleError(
            f"Regex: the pattern is too complex ({compiled.programsize:,} steps; the limit is "
            f"{MAX_REGEX_PROGRAM_SIZE:,}): use smaller repetition counts or fewer Unicode "
            "classes like \\pL",
            "value",
        )
    return compiled


class PatternBank:
    """Which of several RE2 patterns occur in a text, in one pass.

    Built from `key -> pattern`; `present(text)` returns the keys whose pattern matches.

    An RE2 set runs only on RE2's DFA, which can give up on a pathological pattern/text
    pair (too many states for its memory budget) and then reports *no* match at all. A
    silent false negative would route wrongly, so the set also holds an empty "canary"
    pattern that matches every text: if the canary is missing from the result, the scan
    failed and we search pattern by pattern instead (slower, always correct).
    """

    __slots__ = ("_keys", "_set", "_singles", "_canary")

    def __init__(self, patterns: Mapping[str, str]) -> None:
        self._keys: tuple[str, ...] = tuple(patterns)
        self._singles = tuple(re2.compile(patterns[k], _OPTIONS) for k in self._keys)
        self._set: re2.Set | None = None
        self._canary = len(self._keys)
        if not self._keys:
            return
        bank = re2.Set.SearchSet(_OPTIONS)
        try:
            for key in self._keys:
                bank.Add(patterns[key])
            bank.Add("")
            bank.Compile()
        except re2.error:
            return  # too big for one automaton: `present` searches one by one
        self._set = bank

    def present(self, text: str) -> frozenset[str]:
        if self._set is not None:
            hits = self._set.Match(text)
            if hits is not None and self._canary in hits:
                if len(hits) == 1:
                    return frozenset()
                keys, canary = self._keys, self._canary
                return frozenset(keys[i] for i in hits if i != canary)
        if not self._singles:
            return frozenset()
        return frozenset(
            k for k, rx in zip(self._keys, self._singles, strict=True) if rx.search(text)
        )


KEYWORD_KEY = "k:"
REGEX_KEY = "r:"


class Scanner:
    """Everything a router's keyword and regex conditions need from one message.

    `scan` returns keys: a keyword's `key` when the keyword (whole phrase, word boundaries
    included) occurs in the case-folded message, and `"r:" + pattern` for each regex that
    matches the message as written. Keyword conditions then only look keys up in a set, so
    the cost of a message is one linear-time pass, however many keywords, phrases or
    repetitions the message and the router hold.

    Most messages are ASCII, and for ASCII text RE2's `(?i)` matches exactly what a
    search of the case-folded text would (the only case-fold orbits with non-ASCII
    members, k/K/K and s/S/ſ, fold to ASCII). So for them one pass over the text answers
    both the keywords and the regexes, with ASCII word boundaries. Other texts need
    Unicode case folding (ß → ss) and Unicode word boundaries: their keywords are searched
    in a second pass over `mark_words(folded text)`, where boundaries are explicit marks —
    RE2's Unicode classes would make a router's automaton seconds to build.
    """

    __slots__ = ("_ascii", "_regexes", "_keywords")

    def __init__(self, keywords: Iterable[Keyword], patterns: Iterable[str]) -> None:
        keywords = tuple(keywords)
        regexes = {REGEX_KEY + pattern: pattern for pattern in patterns}
        ascii_keywords = {k.key: k.ascii_pattern for k in keywords if k.ascii_pattern}
        self._ascii = PatternBank({**regexes, **ascii_keywords})
        self._regexes = PatternBank(regexes)
        self._keywords = PatternBank({k.key: k.marked_pattern for k in keywords})

    def scan(self, text: str, folded: Callable[[], str]) -> frozenset[str]:
        if text.isascii():
            return self._ascii.present(text)
        return self._regexes.present(text) | self._keywords.present(mark_words(folded()))


def _is_word_char(char: str) -> bool:
    # Same definition as `\w` in a str pattern: Unicode letters and digits, and "_".
    return char.isalnum() or char == "_"


# Han, kana and Thai are written without spaces between words, so a keyword edge in those
# scripts cannot ask for a word boundary: "東京" must match inside "我在東京工作".
_UNSPACED = re.compile(r"[\u0e00-\u0e7f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def _needs_boundary(edge: str) -> bool:
    return _is_word_char(edge) and not _UNSPACED.match(edge)


_MARK = "\x01"
_WORD_EDGE = re.compile(r"\b")


def mark_words(folded: str) -> str:
    """Text with whitespace runs made one space and every word boundary (Unicode `\\b`)
    made a mark, so that a keyword's boundaries are literal characters to look for.
    A mark already in the text becomes another non-word character, so it cannot fake one."""
    return _WORD_EDGE.sub(_MARK, " ".join(folded.replace(_MARK, "\x02").split()))


# For ASCII text: RE2's ASCII `\W` is Python's `\w` complement there, and ASCII whitespace.
_ASCII_SPACE = r"[\t-\r\x1c-\x20]+"


@dataclass(frozen=True, slots=True)
class Keyword:
    """One keyword or phrase, as RE2 patterns: one for ASCII text, one for marked text."""

    text: str  # as the user wrote it (for display)
    ascii_pattern: str | None  # None when the folded keyword is not ASCII: never in ASCII text
    marked_pattern: str  # a literal in `mark_words(folded text)`
    key: str  # its key in `Scanner.scan` results
    # Where it occurs, for callers that need positions (policies mask what they find):
    # locate the first word with str.find, confirm the phrase and boundaries at each hit.
    head: str  # case-folded first word
    rest: re.Pattern[str]  # the whole phrase plus the right boundary, anchored at a hit
    left_boundary: bool

    def occurs_in(self, folded: str) -> bool:
        find, head, match = folded.find, self.head, self.rest.match
        start = find(head)
        while start != -1:
            if (
                not self.left_boundary or start == 0 or not _is_word_char(folded[start - 1])
            ) and match(folded, start):
                return True
            start = find(head, start + 1)
        return False


def compile_keyword(text: str) -> Keyword:
    words = text.casefold().split()
    if not words:
        raise RuleError("Keywords: remove the empty keyword", "value")
    left, right = _needs_boundary(words[0][0]), _needs_boundary(words[-1][-1])
    marked = mark_words(" ".join(words))
    # Inner marks depend only on the keyword's own characters, so they are in the text too;
    # an edge mark is wanted only where a word boundary is (not at an unspaced-script edge).
    if not left:
        marked = marked.removeprefix(_MARK)
    if not right:
        marked = marked.removesuffix(_MARK)
    phrase = " ".join(words)
    ascii_pattern = None
    if phrase.isascii():
        ascii_pattern = "(?i)" + _ASCII_SPACE.join(re2.escape(word) for word in words)
        if left:
            ascii_pattern = "(?i)(?:^|\\W)" + ascii_pattern[4:]
        if right:
            ascii_pattern += "(?:\\W|$)"
    rest = r"\s+".join(re.escape(word) for word in words)
    if right:
        rest += r"(?!\w)"
    return Keyword(
        text=text.strip(),
        ascii_pattern=ascii_pattern,
        marked_pattern=re2.escape(marked),
        key=KEYWORD_KEY + marked,
        head=words[0],
        rest=re.compile(rest),
        left_boundary=left,
    )
