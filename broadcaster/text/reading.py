"""What a script will sound like as words: the normalised sentences and the words a voice would guess."""

from __future__ import annotations

from pathlib import Path

from broadcaster.text.scripts import Script
from broadcaster.text.textnorm import Normalizer, load_lexicon, unspeakable
from broadcaster.i18n import _


def spoken_paragraphs(script: Script, lexicon: Path | None = None) -> list[list[str]]:
    """The normalised text of each sentence, paragraph by paragraph."""
    norm = Normalizer(load_lexicon(lexicon))
    return [[norm.normalize(s.text) for s in p] for p in script.paragraphs]


def speakability_warnings(script: Script, paragraphs: list[list[str]], where: str) -> list[str]:
    """One warning per sentence with words a voice would have to guess at."""
    out = []
    for sentence, spoken in zip(script.sentences, [t for p in paragraphs for t in p]):
        odd = list(dict.fromkeys(unspeakable(spoken)))
        if odd:
            words = ", ".join(f'"{w}"' for w in odd[:5])
            out.append(f"{where}:{sentence.line}: " + _('{words} may be misread (not Vietnamese words); add a '
                                                        'spoken form to the lexicon ([tts] lexicon = "lexicon.toml")',
                                                        words=words))
    return out
