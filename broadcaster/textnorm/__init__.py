"""Vietnamese text → the words to speak. Pure functions: no files, clock or network.

Simple first version: numbers, decimals and percentages. The full normaliser
(dates, times, acronyms, units, document numbers …) replaces ``normalize``.
"""

from __future__ import annotations

import re
import unicodedata

from broadcaster.textnorm.numbers import decimal_words, number_words

__all__ = ["normalize"]

_NUMBER = re.compile(r"(?<![\w,.])(\d{1,3}(?:\.\d{3})+|\d+)(?:,(\d+))?(%?)(?![\w])")


def _number(m: re.Match) -> str:
    integer = m.group(1).replace(".", "")
    words = decimal_words(integer, m.group(2)) if m.group(2) else number_words(int(integer))
    return words + (" phần trăm" if m.group(3) else "")


def normalize(text: str) -> str:
    """The spoken form of one sentence or line."""
    text = unicodedata.normalize("NFC", text)
    return _NUMBER.sub(_number, text)
