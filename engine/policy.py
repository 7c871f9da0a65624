"""Sensitive-data policies: what a message contains, and what may happen to it.

A policy names detectors (built-in ones, admin RE2 patterns, keyword lists) and one action:

- ``mask``: the matched text is replaced (``[card number]``) before anything leaves;
- ``restrict``: the message may go only to the policy's approved models — the router picks
  among them, its classifier included;
- ``refuse``: the message goes nowhere.

`check_policies` runs every policy over every text that would leave (the new message and the
conversation sent with it). Masking runs first, so a masked card no longer restricts or
refuses anything: it never leaves. What a check reports names the policy, the detector and
how many matches it found — never the matched text.

Built-in detectors validate what a pattern finds, so near-misses are not flagged: card
numbers pass the Luhn check, IBANs the ISO 13616 mod-97 check, phone numbers need 9–15
digits and a phone-like shape, secrets a known prefix or a long high-entropy token mixing
upper case, lower case and digits. All patterns are RE2 (linear time).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import re2

from .errors import RuleError
from .limits import MAX_ITEM_CHARS, MAX_KEYWORDS_PER_ROUTER
from .regexes import _ASCII_SPACE, _OPTIONS, Keyword, Scanner, compile_keyword, compile_user_regex

PolicyAction = Literal["mask", "restrict", "refuse"]
ACTIONS: tuple[PolicyAction, ...] = ("restrict", "refuse", "mask")

# detector key → label shown in badges, logs and masks
DETECTORS: dict[str, str] = {
    "email": "e-mail address",
    "phone": "phone number",
    "card": "card number",
    "iban": "IBAN",
    "secret": "API key or secret",
}

MAX_PATTERNS = 50
# A policy's keywords are one scan, like a router's: the same numbers as rule keywords.
MAX_KEYWORDS = MAX_KEYWORDS_PER_ROUTER  # 500
MAX_KEYWORD_CHARS = MAX_ITEM_CHARS  # 200, characters in one keyword


def luhn_ok(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if index % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


# Lengths by country for the IBANs people most often paste; others need 15–34 characters.
_IBAN_LENGTHS = {
    "AT": 20, "BE": 16, "CH": 21, "CZ": 24, "DE": 22, "DK": 18, "ES": 24, "FI": 18, "FR": 27,
    "GB": 22, "GR": 27, "HU": 28, "IE": 22, "IT": 27, "LU": 20, "NL": 18, "NO": 15, "PL": 28,
    "PT": 25, "SE": 24, "SK": 24,
}  # fmt: skip


def iban_ok(raw: str) -> bool:
    iban = raw.replace(" ", "").upper()
    if not 15 <= len(iban) <= 34 or not iban[:2].isalpha() or not iban[2:4].isdigit():
        return False
    expected = _IBAN_LENGTHS.get(iban[:2])
    if expected is not None and len(iban) != expected:
        return False
    rearranged = iban[4:] + iban[:4]
    number = "".join(str(int(char, 36)) for char in rearranged)
    return int(number) % 97 == 1


def shannon_entropy(text: str) -> float:
    counts = Counter(text)
    size = len(text)
    return -sum(n / size * math.log2(n / size) for n in counts.values())


def _re(pattern: str) -> Any:
    return re2.compile(pattern, _OPTIONS)


_EMAIL = _re(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}")
# Digit groups joined by single spaces or dashes; validated by `_card`.
_CARD = _re(r"\b\d(?:[ -]?\d){12,18}\b")
_IBAN = _re(r"\b[A-Za-z]{2}\d{2}(?: ?[A-Za-z0-9]){11,30}\b")
_PHONE = _re(
    r"(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\b\d{2,4}(?:[ .-]\d{2,4}){1,5}\b|\+\d{9,15}\b"
)
_ISO_DATE = _re(r"^\d{4}-\d{2}-\d{2}")
_SECRET_PREFIXED = _re(
    r"\b(?:sk-(?:ant-|proj-)?[A-Za-z0-9_-]{20,}"
    r"|(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}"
    r"|AKIA[0-9A-Z]{16}"
    r"|gh[pousr]_[A-Za-z0-9]{30,}"
    r"|github_pat_[A-Za-z0-9_]{30,}"
    r"|glpat-[A-Za-z0-9_-]{20,}"
    r"|xox[abposr]-[A-Za-z0-9-]{10,}"
    r"|AIza[0-9A-Za-z_-]{35}"
    r"|rw_[A-Za-z0-9_-]{20,})"
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----"
)
_TOKEN = _re(r"[A-Za-z0-9+/_=-]{24,}")
_UPPER = _re(r"[A-Z]")
_LOWER = _re(r"[a-z]")
_DIGIT = _re(r"[0-9]")


def _digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


def _card(match: str) -> bool:
    digits = _digits(match)
    separators = {c for c in match if not c.isdigit()}
    return 13 <= len(digits) <= 19 and len(separators) <= 1 and luhn_ok(digits)


def _phone(match: str) -> bool:
    digits = _digits(match)
    if not 9 <= len(digits) <= 15 or _ISO_DATE.search(match):
        return False
    if match.startswith(("+", "(")):
        return True
    groups = re2.split(r"[ .-]", match)
    if all(c in "0123456789." for c in match) and all(len(g) <= 3 for g in groups):
        return False  # an IP address or a version number
    return len(groups) >= 3


def _secret_token(match: str) -> bool:
    if len(match) < 24 or match.isdigit():
        return False
    mixed = _UPPER.search(match) and _LOWER.search(match) and _DIGIT.search(match)
    return bool(mixed) and shannon_entropy(match) >= 4.0


Span = tuple[int, int]
Finder = Callable[[str], list[Span]]


def _finder(pattern: Any, valid: Callable[[str], bool] | None = None) -> Finder:
    def find(text: str) -> list[Span]:
        spans = []
        for match in pattern.finditer(text):
            if valid is None or valid(match.group(0)):
                spans.append(match.span())
        return spans

    return find


def _secrets(text: str) -> list[Span]:
    spans = _finder(_SECRET_PREFIXED)(text)
    for start, end in _finder(_TOKEN, _secret_token)(text):
        if not any(s <= start < e or start <= s < end for s, e in spans):
            spans.append((start, end))
    return spans


def _ibans(text: str) -> list[Span]:
    """IBANs: a greedy match may run into the next word ("… 00 and"), so the longest
    prefix that is a valid IBAN (of the country's length when known) is taken."""
    spans = []
    for match in _IBAN.finditer(text):
        start = match.start()
        # offsets (in text) of the match's non-space characters
        offsets = [start + i for i, c in enumerate(match.group(0)) if c != " "]
        compact = match.group(0).replace(" ", "")
        expected = _IBAN_LENGTHS.get(compact[:2].upper())
        lengths = [expected] if expected else range(min(34, len(compact)), 14, -1)
        for length in lengths:
            if length <= len(compact) and iban_ok(compact[:length]):
                end = offsets[length - 1] + 1
                if end == len(text) or not text[end].isalnum():
                    spans.append((start, end))
                    break
    return spans


_BUILTIN: dict[str, Finder] = {
    "email": _finder(_EMAIL),
    "phone": _finder(_PHONE, _phone),
    "card": _finder(_CARD, _card),
    "iban": _ibans,
    "secret": _secrets,
}


def detect(detector: str, text: str) -> list[Span]:
    """Spans of `text` a built-in detector flags (for tests and the admin's try-it box)."""
    return _BUILTIN[detector](text)


@dataclass(frozen=True, slots=True)
class PolicySpec:
    """One policy as stored. `scope` is a label for messages ("instance", "workspace"...)."""

    id: int
    name: str
    action: PolicyAction
    detectors: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    approved: tuple[str, ...] = ()
    scope: str = "instance"


@dataclass(frozen=True, slots=True)
class _Compiled:
    spec: PolicySpec
    finders: tuple[tuple[str, Finder], ...]


def _ascii_locator(keyword: Keyword) -> Any:
    """Where a keyword occurs in ASCII text, as RE2 finds it: linear in the text."""
    words = keyword.text.casefold().split()
    core = _ASCII_SPACE.join(re2.escape(word) for word in words)
    left = r"\b" if keyword.left_boundary else ""
    right = r"\b" if words[-1][-1:].isalnum() or words[-1].endswith("_") else ""
    return re2.compile(f"(?i){left}{core}{right}", _OPTIONS)


def _keyword_finder(keywords: Sequence[str]) -> Finder:
    compiled = [compile_keyword(k) for k in keywords]
    # Which keywords occur: one linear-time pass, as for a router's rules. Locating them
    # phrase by phrase at each hit of their first word costs hits × phrase length × keywords
    # (a minute for 500 long phrases in a 100,000-character message of their first word).
    scanner = Scanner(compiled, ())
    locators = {k.key: _ascii_locator(k) for k in compiled if k.ascii_pattern}

    def find(text: str) -> list[Span]:
        folded = text.casefold()
        present = scanner.scan(text, lambda: folded)
        if not present:
            return []
        if len(folded) != len(text):  # case folding changed offsets: flag, mask whole text
            return [(0, len(text))]
        found = [k for k in compiled if k.key in present]
        spans: list[Span] = []
        if text.isascii():
            for keyword in found:
                spans += [m.span() for m in locators[keyword.key].finditer(text)]
            return spans
        for keyword in found:
            start = folded.find(keyword.head)
            while start != -1:
                match = keyword.rest.match(folded, start)
                left_ok = not keyword.left_boundary or start == 0 or not folded[start - 1].isalnum()
                if match and left_ok:
                    spans.append((start, match.end()))
                start = folded.find(keyword.head, start + 1)
        return spans

    return find


def check_policy_keywords(keywords: Sequence[str]) -> None:
    """Raise RuleError (field "keywords") when a policy holds more keywords, or a longer one,
    than it may. Checked when a policy is saved, before anything is compiled; `compile_policy`
    (which runs for every message) does not refuse a stored policy older than the cap."""
    keywords = [k.strip() for k in keywords if k.strip()]
    if len(keywords) > MAX_KEYWORDS:
        raise RuleError(
            f"At most {MAX_KEYWORDS} keywords per policy (this one has {len(keywords):,})",
            "keywords",
        )
    for number, keyword in enumerate(keywords, start=1):
        if len(keyword) > MAX_KEYWORD_CHARS:
            raise RuleError(
                f"Keyword {number} (“{keyword[:40]}…”) has {len(keyword):,} characters: "
                f"at most {MAX_KEYWORD_CHARS} per keyword",
                "keywords",
            )


def compile_policy(spec: PolicySpec) -> _Compiled:
    """Validate and compile one policy; raises RuleError saying what is wrong."""
    if spec.action not in ACTIONS:
        raise RuleError(f"Policy action must be one of {', '.join(ACTIONS)}", "action")
    finders: list[tuple[str, Finder]] = []
    for key in spec.detectors:
        if key not in _BUILTIN:
            raise RuleError(f"Unknown detector “{key}”", "detectors")
        finders.append((DETECTORS[key], _BUILTIN[key]))
    if len(spec.patterns) > MAX_PATTERNS:
        raise RuleError(f"At most {MAX_PATTERNS} patterns per policy", "patterns")
    for pattern in spec.patterns:
        try:
            finders.append(("pattern", _finder(compile_user_regex(pattern))))
        except RuleError as exc:
            raise RuleError(f"Pattern “{pattern}”: {exc.message}", "patterns") from None
    keywords = [k for k in spec.keywords if k.strip()]
    if len(keywords) > MAX_KEYWORDS:
        raise RuleError(f"At most {MAX_KEYWORDS} keywords per policy", "keywords")
    if keywords:
        finders.append(("keyword", _keyword_finder(keywords)))
    if not finders:
        raise RuleError("Choose at least one detector, pattern or keyword", "detectors")
    if spec.action == "restrict" and not spec.approved:
        raise RuleError("List at least one approved model", "approved")
    return _Compiled(spec, tuple(finders))


@dataclass(frozen=True, slots=True)
class PolicyHit:
    """A policy that applied: what it found (label → count), never the text itself."""

    policy_id: int
    policy: str
    action: PolicyAction
    scope: str
    found: tuple[tuple[str, int], ...]
    approved: tuple[str, ...] = ()

    @property
    def found_text(self) -> str:
        return ", ".join(f"{label} ×{n}" if n > 1 else label for label, n in self.found)

    def to_dict(self) -> dict[str, Any]:
        return {
            "policy_id": self.policy_id,
            "policy": self.policy,
            "action": self.action,
            "scope": self.scope,
            "found": self.found_text,
            "approved": list(self.approved),
        }


@dataclass(frozen=True, slots=True)
class PolicyOutcome:
    """The policies that applied to a request, and the texts as they may leave."""

    texts: tuple[str, ...]
    hits: tuple[PolicyHit, ...] = ()
    approved: tuple[str, ...] | None = None  # None: no restriction; order = first policy's
    refused_by: PolicyHit | None = None
    masked: bool = False
    restricting: tuple[str, ...] = field(default=())  # names of restricting policies

    def allows(self, ref: str) -> bool:
        return self.approved is None or ref in self.approved

    @property
    def refusal(self) -> str:
        hit = self.refused_by
        if hit is None:
            return ""
        return (
            f'Refused by policy "{hit.policy}" ({hit.scope}): the message contains '
            f"{hit.found_text}. Remove it and send again."
        )

    @property
    def restriction_label(self) -> str:
        names = " and ".join(f'"{name}"' for name in self.restricting)
        return f"{'policies' if len(self.restricting) > 1 else 'policy'} {names}"

    def summary(self) -> str:
        """One line for the badge and the log, naming policies and what they found."""
        parts = []
        for hit in self.hits:
            verb = {
                "mask": "masked",
                "restrict": "approved models only",
                "refuse": "refused",
            }[hit.action]
            parts.append(f'policy "{hit.policy}" ({hit.found_text}): {verb}')
        return "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "hits": [h.to_dict() for h in self.hits],
            "approved": list(self.approved) if self.approved is not None else None,
            "refused": self.refusal,
            "masked": self.masked,
            "summary": self.summary(),
        }


NO_POLICY = PolicyOutcome(texts=())


def _mask(text: str, spans: list[tuple[int, int, str]]) -> str:
    out = []
    last = 0
    for start, end, label in sorted(spans):
        if start < last:
            continue  # overlapping: already masked
        out.append(text[last:start])
        out.append(f"[{label}]")
        last = end
    out.append(text[last:])
    return "".join(out)


@dataclass(frozen=True, slots=True)
class PolicySet:
    """Compiled policies in the order they are checked (mask first)."""

    policies: tuple[_Compiled, ...]

    def __bool__(self) -> bool:
        return bool(self.policies)

    def check(self, texts: Iterable[str]) -> PolicyOutcome:
        current = list(texts)
        hits: list[PolicyHit] = []
        masked = False
        ordered = sorted(self.policies, key=lambda p: p.spec.action != "mask")
        for policy in ordered:
            found: Counter[str] = Counter()
            new_texts = []
            for text in current:
                spans: list[tuple[int, int, str]] = []
                for label, find in policy.finders:
                    for start, end in find(text):
                        spans.append((start, end, label))
                        found[label] += 1
                if spans and policy.spec.action == "mask":
                    text = _mask(text, spans)
                    masked = True
                new_texts.append(text)
            current = new_texts
            if found:
                spec = policy.spec
                hits.append(
                    PolicyHit(
                        spec.id,
                        spec.name,
                        spec.action,
                        spec.scope,
                        tuple(found.items()),
                        spec.approved if spec.action == "restrict" else (),
                    )
                )
        approved: tuple[str, ...] | None = None
        restricting = []
        refused_by = None
        for hit in hits:
            if hit.action == "refuse" and refused_by is None:
                refused_by = hit
            elif hit.action == "restrict":
                restricting.append(hit.policy)
                if approved is None:
                    approved = hit.approved
                else:  # every restricting policy must approve the model
                    approved = tuple(ref for ref in approved if ref in hit.approved)
        return PolicyOutcome(
            texts=tuple(current),
            hits=tuple(hits),
            approved=approved,
            refused_by=refused_by,
            masked=masked,
            restricting=tuple(restricting),
        )


def compile_policies(specs: Iterable[PolicySpec]) -> PolicySet:
    return PolicySet(tuple(compile_policy(spec) for spec in specs))
