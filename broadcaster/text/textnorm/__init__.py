"""Vietnamese text → the words an announcer speaks. Pure: no files (but the lexicon, once),
no clock, no network.

The pipeline is a list of small rules (``names``, ``dates``, ``measures``) run in
order over each line, after Unicode repair. Reading conventions: Northern formal,
as on district radio (see ``shared/normalization/README.md``).
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from broadcaster.text.textnorm import dates, measures, names
from broadcaster.text.textnorm.core import Rewrite, Rule, apply
from broadcaster.text.textnorm.lexicon import Lexicon, load_lexicon
from broadcaster.text.textnorm.unicode import is_syllable, repair

__all__ = ["Normalizer", "normalize", "Rewrite", "unspeakable", "load_lexicon"]

PIPELINE: list[Rule] = [
    names.covid, names.f_level, names.patient, names.slogan, names.road, names.km_post,
    names.web, names.document, names.place_unit, names.lexicon,
    measures.hotline, measures.phone, measures.service,
    dates.date_range, dates.full_date, dates.day_month_range, dates.month_year, dates.day_month,
    dates.time_of_day, dates.month,
    names.roman, measures.ordinal, measures.quantity, measures.per_unit, measures.fraction,
    measures.number_range, names.alnum, measures.number, measures.leftover_digits,
    names.capitals, names.symbol,
]

_SPACES = re.compile(r"[ \t]+")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([,.;:!?…)\]])")
_SPACE_AFTER_OPEN = re.compile(r"([(\[])\s+")
_WORD = re.compile(r"[^\W\d_]+")


class Normalizer:
    """Normalises lines of text with one lexicon (built-in plus an optional project one)."""

    def __init__(self, lexicon: Lexicon | None = None):
        self.lexicon = lexicon or load_lexicon()

    def normalize(self, line: str) -> str:
        return self._run(line, None)

    def explain(self, line: str) -> tuple[str, list[Rewrite]]:
        log: list[Rewrite] = []
        return self._run(line, log), log

    def _run(self, line: str, log: list[Rewrite] | None) -> str:
        text = repair(line).replace("\n", " ")
        text = apply(PIPELINE, text, self.lexicon, log)
        text = _SPACES.sub(" ", text)
        text = _SPACE_AFTER_OPEN.sub(r"\1", _SPACE_BEFORE_PUNCT.sub(r"\1", text))
        return text.strip()


@lru_cache(maxsize=1)
def _builtin_normalizer() -> Normalizer:
    return Normalizer(load_lexicon())


def normalize(text: str, lexicon_path: Path | None = None) -> str:
    """The spoken form of one line, with the built-in (or a project) lexicon."""
    if lexicon_path is None:
        return _builtin_normalizer().normalize(text)
    return Normalizer(load_lexicon(lexicon_path)).normalize(text)  # the lexicon reloads when edited


def unspeakable(spoken: str) -> list[str]:
    """Words of a normalised line that are not Vietnamese syllables (a voice would guess)."""
    return [w for w in _WORD.findall(spoken) if not is_syllable(w)]
