"""TTS engines behind one small interface.

An engine turns a sentence into mono samples. Engines are found through the
``broadcaster.engines`` entry point group (see setup.cfg), so a new voice is one
new module and one line of metadata. The built-in ones are also known without
installed metadata, so the package works when run from a source tree.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from dataclasses import dataclass
from importlib.metadata import entry_points

import numpy as np

from broadcaster.errors import EngineUnavailable, SynthesisError

__all__ = ["Engine", "Speech", "Voice", "engine_names", "create_engine",
           "EngineUnavailable", "SynthesisError"]

_BUILTIN = {
    "espeak": "broadcaster.engines.espeak:EspeakEngine",
    "gtts": "broadcaster.engines.gtts:GttsEngine",
}


@dataclass(frozen=True)
class Speech:
    """What an engine returns: mono float32 samples in [-1, 1] and their rate."""
    samples: np.ndarray
    sample_rate: int

    @property
    def duration(self) -> float:
        return len(self.samples) / self.sample_rate


@dataclass(frozen=True)
class Voice:
    id: str
    accent: str
    gender: str


class Engine(ABC):
    """A text-to-speech engine. Subclasses do one request per ``synthesize`` call."""

    name: str = ""
    online: bool = False

    @abstractmethod
    def version(self) -> str:
        """Identifies what produces the sound (part of the cache key)."""

    @abstractmethod
    def voices(self) -> list[Voice]:
        """Vietnamese voices this engine offers."""

    def voice_for(self, wanted: str) -> str:
        """The engine's voice id for the configured ``voice`` (or SynthesisError)."""
        ids = [v.id for v in self.voices()]
        if wanted in ids:
            return wanted
        raise SynthesisError(f'engine {self.name} has no voice "{wanted}"',
                             hint=f"use one of: {', '.join(ids)}")

    def unavailable_reason(self) -> str | None:
        """None when the engine can be used now, else why not (in words)."""
        return None

    @abstractmethod
    def synthesize(self, text: str, voice: str, rate: float) -> Speech:
        """Speak ``text`` (one sentence, already normalised)."""


def _registry() -> dict[str, str]:
    found = dict(_BUILTIN)
    for ep in entry_points(group="broadcaster.engines"):
        found[ep.name] = ep.value
    return found


def engine_names() -> set[str]:
    return set(_registry())


def create_engine(name: str, **options) -> Engine:
    """Instantiate the engine registered under ``name``."""
    target = _registry().get(name)
    if target is None:
        raise SynthesisError(f'unknown engine "{name}"',
                             hint=f"choose from {', '.join(sorted(engine_names()))}")
    module, _, attr = target.partition(":")
    try:
        cls = getattr(importlib.import_module(module), attr)
    except ImportError as e:
        raise EngineUnavailable(f"engine {name} cannot be loaded: {e}",
                                hint="reinstall broadcaster with `make run`") from None
    return cls(**options)
