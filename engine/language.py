"""A small, cheap language detector: script ranges first, then stopword counts.

Routing only needs a coarse answer ("is this German?"), and it must cost microseconds, so
this is no statistical model:

1. Only the first `SAMPLE_CHARS` characters are read (a long message does not cost more).
2. Non-Latin scripts decide by themselves when their letters are at least
   `SCRIPT_SHARE` of all letters: kana → ja (Japanese mixes kana into kanji; Chinese has
   none), Hangul → ko, Han without kana → zh, Cyrillic → ru, Arabic → ar. Other
   languages written in those scripts (Ukrainian, Persian, …) are reported under the
   dominant one; that is a known approximation.
3. Latin text: each word that is a common function word of en, de, fr, es, it, pt or nl
   scores for that language. The best language wins if it scored at least `MIN_HITS`, at
   least `MIN_SHARE` of the words, and clearly more than the runner-up (`MARGIN`);
   otherwise the answer is "und" (undetermined) — short or mixed messages say "und"
   rather than guess.
"""

from __future__ import annotations

import re
from types import MappingProxyType

SAMPLE_CHARS = 1000
SCRIPT_SHARE = 0.3
MIN_HITS = 2
MIN_SHARE = 0.12
MARGIN = 1.5
UNDETERMINED = "und"

_STOPWORDS: dict[str, str] = {
    "en": "the and is are was were of to in that it this with for not you what how why "
    "have has be been which would could should can will there their they my your an "
    "from about please does do i me we our its than then when",
    "de": "der die das und ist nicht ein eine einen ich du sie wir ihr mit von zu auf "
    "für sich auch wie was warum wenn oder aber noch nach bei dem den des kann ist "
    "sind bitte mir mich dass habe hat werden wird",
    "fr": "le la les et est une un des du pas je tu il elle nous vous ils avec pour "
    "dans sur que qui ce cette mais ou où comment pourquoi sont suis être avoir "
    "très bonjour merci au aux ne ça",
    "es": "el la los las y es una un unos del que qué no yo tú él ella nosotros con "
    "para por en pero como cómo cuando muy está están son hola gracias también "
    "por favor lo le se su al",
    "it": "il lo la gli le e è una un uno del della che non io tu lui lei noi con "
    "per in ma come quando molto sono questo questa ciao grazie anche perché di "
    "degli delle al alla",
    "pt": "o a os as e é uma um do da dos das que não eu tu ele ela nós com para em "
    "mas como quando muito está são isso este esta olá obrigado também por no na "
    "você ao",
    "nl": "de het een en is niet ik jij je hij zij wij met voor op dat die dit wat "
    "waarom hoe maar ook van zijn heeft hebben kan wordt naar bij er graag alstublieft "
    "dank",
}

# word -> languages it is a function word of; built once at import.
_WORD_LANGUAGES: MappingProxyType[str, tuple[str, ...]] = MappingProxyType(
    {
        word: tuple(lang for lang, words in _STOPWORDS.items() if word in words.split())
        for word in {w for words in _STOPWORDS.values() for w in words.split()}
    }
)

_WORDS = re.compile(r"[^\W\d_]+")
_SCRIPTS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("kana", re.compile(r"[\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f]")),
    ("hangul", re.compile(r"[\u1100-\u11ff\u3130-\u318f\uac00-\ud7af]")),
    ("han", re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")),
    ("cyrillic", re.compile(r"[\u0400-\u04ff]")),
    ("arabic", re.compile(r"[\u0600-\u06ff\u0750-\u077f\ufb50-\ufdff\ufe70-\ufeff]")),
)
_LETTERS = re.compile(r"[^\W\d_]")


def _detect_script(sample: str) -> str | None:
    counts = {name: len(rx.findall(sample)) for name, rx in _SCRIPTS}
    foreign = sum(counts.values())
    if not foreign:
        return None
    letters = len(_LETTERS.findall(sample))
    if foreign < SCRIPT_SHARE * letters:
        return None
    if counts["kana"]:
        return "ja"
    best = max(("hangul", "han", "cyrillic", "arabic"), key=counts.__getitem__)
    return {"hangul": "ko", "han": "zh", "cyrillic": "ru", "arabic": "ar"}[best]


def detect_language(text: str) -> str:
    """ISO 639-1 code of the message's language, or "und" when unsure."""
    sample = text[:SAMPLE_CHARS]
    # Pure-ASCII text cannot be in one of the non-Latin scripts; skip five scans.
    if not sample.isascii():
        script = _detect_script(sample)
        if script:
            return script
    words = _WORDS.findall(sample.casefold())
    if not words:
        return UNDETERMINED
    scores: dict[str, int] = {}
    for word in words:
        for lang in _WORD_LANGUAGES.get(word, ()):
            scores[lang] = scores.get(lang, 0) + 1
    if not scores:
        return UNDETERMINED
    ranked = sorted(scores.items(), key=lambda item: item[1], reverse=True)
    best, hits = ranked[0]
    runner_up = ranked[1][1] if len(ranked) > 1 else 0
    if hits < MIN_HITS or hits < MIN_SHARE * len(words) or hits < MARGIN * runner_up:
        return UNDETERMINED
    return best
