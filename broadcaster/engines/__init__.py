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
from typing import Callable, TypeVar

import numpy as np

from broadcaster.errors import EngineUnavailable, SynthesisError
from broadcaster.i18n import N_, _

__all__ = ["Engine", "OnlineEngine", "Speech", "Voice", "engine_names", "create_engine", "call_with_retries", "mono",
           "EngineUnavailable", "SynthesisError"]

T = TypeVar("T")
OFFLINE_HINT = N_("check the internet connection, or use an offline engine: --engine espeak")
VOICE_WORDS = (N_("Northern"), N_("Central"), N_("Southern"), N_("male"), N_("female"))  # as engines describe voices

_BUILTIN = {
    "edge": "broadcaster.engines.edge:EdgeEngine",
    "espeak": "broadcaster.engines.espeak:EspeakEngine",
    "gtts": "broadcaster.engines.gtts:GttsEngine",
    "piper": "broadcaster.engines.piper:PiperEngine",
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
    parallel: bool = False   # synthesize may run in several threads at once (a process per call)

    @abstractmethod
    def version(self) -> str:
        """Identifies what produces the sound (part of the cache key)."""

    @abstractmethod
    def voices(self) -> list[Voice]:
        """Vietnamese voices this engine offers."""

    def voice_for(self, wanted: str) -> str:
        """The engine's voice id for the configured ``voice`` (or SynthesisError).

        A voice meant for another engine in the preference list (an accent of
        espeak-ng, a neural voice, a Piper model) gives this engine's default
        Vietnamese voice, so that a fallback still speaks.
        """
        ids = [v.id for v in self.voices()]
        if wanted in ids:
            return wanted
        if ids and (wanted.lower().startswith("vi") or wanted.endswith(".onnx")):
            return ids[0]
        raise SynthesisError(_('engine {engine} has no voice "{voice}"', engine=self.name, voice=wanted),
                             hint=_("use one of: {voices}", voices=", ".join(ids)))

    def cache_tag(self, voice: str) -> str:
        """What identifies ``voice`` in the sentence cache (a model file adds its hash)."""
        return voice

    def unavailable_reason(self) -> str | None:
        """None when the engine can be used now, else why not (in words)."""
        return None

    @abstractmethod
    def synthesize(self, text: str, voice: str, rate: float, pitch: float = 0.0) -> Speech:
        """Speak ``text`` (one sentence, already normalised); ``pitch`` is an offset in Hz."""


class OnlineEngine(Engine):
    """An engine behind a network service: retries with back-off, remembers reachability."""

    online = True

    def __init__(self, timeout=20.0, retries: int = 3, backoff: float = 1.0, max_wait: float = 30.0,
                 sleep: Callable[[float], None] | None = None):
        import time
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_wait = max_wait
        self.sleep = sleep or time.sleep
        self._reachable: bool | None = None

    def delay(self, attempt: int) -> float:
        """Seconds to wait before retry number ``attempt + 1``: doubling, capped."""
        return min(self.max_wait, self.backoff * 2 ** attempt)

    def with_retries(self, fn: Callable[[], T]) -> T:
        return call_with_retries(fn, self._classify, retries=self.retries, sleep=self.sleep)

    @abstractmethod
    def _classify(self, e: Exception, attempt: int) -> tuple[SynthesisError, float | None]:
        """The error to raise for ``e``, and the wait before retrying (None: do not retry)."""


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
        raise SynthesisError(_('unknown engine "{name}"', name=name),
                             hint=_("choose from {names}", names=", ".join(sorted(engine_names()))))
    module, _sep, attr = target.partition(":")
    try:
        cls = getattr(importlib.import_module(module), attr)
    except ImportError as e:
        raise EngineUnavailable(_("engine {name} cannot be loaded: {reason}", name=name, reason=e),
                                hint=_("reinstall broadcaster with `make run`")) from None
    return cls(**options)


def call_with_retries(fn: Callable[[], T], classify: Callable[[Exception, int], tuple[SynthesisError, float | None]],
                      *, retries: int, sleep: Callable[[float], None]) -> T:
    """Call ``fn``; on failure ask ``classify`` for the error and the wait before the next try.

    A wait of None means the failure is not worth retrying; after ``retries``
    retries the last error is raised.
    """
    attempt = 0
    while True:
        try:
            return fn()
        except Exception as e:  # each engine's library raises its own kinds
            err, wait = classify(e, attempt)
            if wait is None or attempt >= retries:
                raise err from None
            attempt += 1
            sleep(wait)


def mono(samples: np.ndarray) -> np.ndarray:
    return (samples.mean(axis=1) if samples.ndim == 2 else samples).astype(np.float32)
