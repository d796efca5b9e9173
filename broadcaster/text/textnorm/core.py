"""The rule engine: each rule is a regex and a function from a match to the words to say.

Rules run in order over a line; each can look at the words around its match
(``before``/``after``) to decide, e.g., whether "1/5" is a date or a fraction.
Every rewrite is recorded, so ``--explain`` can show which rule said what.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from broadcaster.text.textnorm.lexicon import Lexicon

_WORDS = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class Rewrite:
    original: str
    spoken: str
    rule: str
    doubt: str | None = None   # "spelled" or "toneless": a guess a listener may not understand (a ⚠)


class Match:
    """A regex match with the lexicon and helpers to read its surroundings."""

    def __init__(self, m: re.Match, lexicon: Lexicon):
        self.m = m
        self.lexicon = lexicon
        self.rule_note: str | None = None  # set by a handler to name a lexicon entry
        self.doubt: str | None = None      # set by a handler that guessed (see Rewrite.doubt)

    def group(self, *a):
        return self.m.group(*a)

    def groups(self):
        return self.m.groups()

    def before(self, n: int = 1) -> list[str]:
        """The last ``n`` words before the match, lower-cased."""
        return [w.lower() for w in _WORDS.findall(self.m.string[:self.m.start()])[-n:]]

    def after(self, n: int = 1) -> list[str]:
        return [w.lower() for w in _WORDS.findall(self.m.string[self.m.end():])[:n]]

    @property
    def text_before(self) -> str:
        return self.m.string[:self.m.start()]

    @property
    def text_after(self) -> str:
        return self.m.string[self.m.end():]


Handler = Callable[[Match], "str | None"]


@dataclass(frozen=True)
class Rule:
    name: str
    pattern: re.Pattern
    handler: Handler


def rule(name: str, pattern: str, flags: int = 0):
    """Decorator: turn ``handler(match) -> spoken | None`` into a Rule (None: leave as written)."""
    def wrap(fn: Handler) -> Rule:
        return Rule(name, re.compile(pattern, flags), fn)
    return wrap


def lexicon_rule(name: str, make_pattern: Callable[[Lexicon], "re.Pattern | None"]):
    """Like ``rule``, for a pattern built from the lexicon (units, phrases); built once per lexicon."""
    def wrap(fn: Handler) -> Rule:
        return Rule(name, make_pattern, fn)  # type: ignore[arg-type]
    return wrap


def apply(rules: list[Rule], text: str, lexicon: Lexicon, log: list[Rewrite] | None) -> str:
    """Run ``rules`` in order over ``text``; append each rewrite to ``log``."""
    for r in rules:
        pattern = r.pattern if isinstance(r.pattern, re.Pattern) else lexicon.made(r.name, r.pattern)
        if pattern is None:
            continue

        def sub(m: re.Match, r: Rule = r) -> str:
            ctx = Match(m, lexicon)
            spoken = r.handler(ctx)
            if spoken is None:
                return m.group(0)
            if log is not None and spoken.strip() != m.group(0).strip():
                log.append(Rewrite(m.group(0).strip(), spoken.strip(), ctx.rule_note or r.name, ctx.doubt))
            return f" {spoken} "  # never glue words to their neighbours; spaces are tidied after
        text = pattern.sub(sub, text)
    return text
