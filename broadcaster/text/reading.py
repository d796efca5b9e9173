"""What a script will sound like as words: the normalised sentences and the words a voice would guess."""

from __future__ import annotations

from pathlib import Path

from broadcaster.text.scripts import Script
from broadcaster.text.textnorm import Normalizer, Rewrite, load_lexicon, unspeakable
from broadcaster.i18n import _


def spoken_paragraphs(script: Script, lexicon: Path | None = None) -> list[list[str]]:
    """The normalised text of each sentence, paragraph by paragraph."""
    return read_aloud(script, lexicon)[0]


def read_aloud(script: Script, lexicon: Path | None = None) -> tuple[list[list[str]], list[list[Rewrite]]]:
    """The normalised text of each sentence, paragraph by paragraph, and for each sentence (in order) the
    rewrites that were guesses (an abbreviation no lexicon knows, spelt; a web address read without tones)."""
    norm = Normalizer(load_lexicon(lexicon))
    paragraphs, doubts = [], []
    for p in script.paragraphs:
        row = []
        for s in p:
            spoken, log = norm.explain(s.text)
            row.append(spoken)
            doubts.append([r for r in log if r.doubt])
        paragraphs.append(row)
    return paragraphs, doubts


def doubt_words(doubts: list[Rewrite]) -> list[str]:
    """Each guess as a person reads it: what was written, and how it will be said."""
    return [_("{written} is spelt letter by letter ({spoken})", written=f'"{r.original}"', spoken=r.spoken)
            if r.doubt == "spelled" else
            _("{written} is read without tones ({spoken})", written=f'"{r.original}"', spoken=r.spoken)
            for r in doubts]


def speakability_warnings(script: Script, paragraphs: list[list[str]], where: str,
                          doubts: list[list[Rewrite]] | None = None) -> list[str]:
    """One warning per sentence with words a voice would have to guess at, or that were read by a guess
    (``doubts``, from ``read_aloud``), saying what to write instead."""
    out = []
    for i, (sentence, spoken) in enumerate(zip(script.sentences, [t for p in paragraphs for t in p])):
        odd = list(dict.fromkeys(unspeakable(spoken)))
        if odd:
            words = ", ".join(f'"{w}"' for w in odd[:5])
            out.append(f"{where}:{sentence.line}: " + _('{words} may be misread (not Vietnamese words); add a '
                                                        'spoken form to the lexicon ([tts] lexicon = "lexicon.toml")',
                                                        words=words))
        guessed = doubt_words(doubts[i]) if doubts and i < len(doubts) else []
        if guessed:
            out.append(f"{where}:{sentence.line}: " + _("{guesses}: if that is not how it is said, write it in the "
                                                        "lexicon as it is said ([acronyms] or [domains])",
                                                        guesses="; ".join(dict.fromkeys(guessed))))
    return out
