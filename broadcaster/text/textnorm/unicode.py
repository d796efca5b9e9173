"""Unicode repair: NFC, one tone-mark placement, ASCII digits, no stray control characters."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

TONE_MARKS = "\u0300\u0301\u0303\u0309\u0323"  # huyền, sắc, ngã, hỏi, nặng
VOWELS = "aăâeêioôơuưy"
MARKED = "ăâêôơư"
ONSETS = ("ngh", "ng", "nh", "ch", "gh", "gi", "kh", "ph", "th", "tr", "qu",
          "b", "c", "d", "đ", "g", "h", "k", "l", "m", "n", "p", "r", "s", "t", "v", "x")
CODAS = ("ch", "ng", "nh", "c", "m", "n", "p", "t", "i", "o", "u", "y")
_SYLLABLE = re.compile(
    r"^(ngh|ng|nh|ch|gh|gi|kh|ph|th|tr|qu|[bcdđghklmnprstvx])?([aăâeêioôơuưy]{1,3})(ch|ng|nh|[cmnpt])?$")
_BREAKS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u200b-\u200f\ufeff]")


def split_tone(word: str) -> tuple[str, str]:
    """("hoà") → ("hoa", "\u0300"): the word without its tone mark, and the mark ("" if none)."""
    d = unicodedata.normalize("NFD", word)
    tone = "".join(c for c in d if c in TONE_MARKS)
    base = unicodedata.normalize("NFC", "".join(c for c in d if c not in TONE_MARKS))
    return base, tone


def is_syllable(word: str) -> bool:
    """Whether ``word`` is a well-formed Vietnamese syllable (any case, any tone)."""
    base, tone = split_tone(word.lower())
    return len(tone) <= 1 and bool(_SYLLABLE.match(base))


@lru_cache(maxsize=65536)
def place_tone(word: str) -> str:
    """Put the tone mark where the new-style rule puts it: hoà → hòa, thuỷ → thủy.

    The rule: on a vowel with its own diacritic (ơ in ươ); else, with a final
    consonant, on the last vowel; else on the first of two vowels or the middle
    of three. Words that are not a single Vietnamese syllable are returned as-is.
    """
    base, tone = split_tone(word)
    if len(tone) != 1:
        return word
    low = base.lower()
    m = _SYLLABLE.match(low)
    if not m:
        return word
    onset, nucleus, coda = m.group(1) or "", m.group(2), m.group(3) or ""
    if onset == "gi" and not nucleus:
        return word
    start = len(onset)
    marked = [i for i, c in enumerate(nucleus) if c in MARKED]
    if marked:
        pos = marked[-1]
    elif coda:
        pos = len(nucleus) - 1
    elif len(nucleus) == 3:
        pos = 1
    else:
        pos = 0
    i = start + pos
    placed = base[:i + 1] + tone + base[i + 1:]
    return unicodedata.normalize("NFC", placed)


_WORD = re.compile(r"[^\W\d_]+")


def repair(text: str) -> str:
    """NFC, ASCII digits for every script's digits, spaces for control characters, tones placed."""
    text = unicodedata.normalize("NFC", text)
    if not text.isascii():
        text = "".join(str(unicodedata.decimal(c)) if c.isdigit() and unicodedata.decimal(c, None) is not None
                       else c for c in text)
        text = _WORD.sub(lambda m: place_tone(m.group(0)) if not m.group(0).isascii() else m.group(0), text)
    text = _BREAKS.sub(" ", text)
    return text
