"""Sentences → speech, through the engine preference list and the sentence cache.

The cache is keyed by engine, engine version, voice, rate and the exact text, so
editing one sentence of a script synthesises that sentence only, and a new voice
or engine version never replays old audio. ``Speaker`` picks, per bulletin, the
first engine in the preference list that can speak every sentence (from the
cache or live) and falls back down the list with a warning when one cannot.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import soundfile as sf

from broadcaster.config import TTSSettings
from broadcaster.engines import OFFLINE_HINT, Engine, Speech, create_engine
from broadcaster.errors import EngineUnavailable, SynthesisError
from broadcaster.fsutil import atomic_write_bytes
from broadcaster.i18n import N_, _
from broadcaster.workers import Ahead

ENGINE_LABELS = {"espeak": N_("espeak-ng, offline voice"), "gtts": N_("Google Translate, online voice"),
                 "edge": N_("Microsoft neural, online voice"), "piper": N_("Piper neural, offline voice")}


class SentenceCache:
    """Synthesised sentences as FLAC files under ``state/cache/``."""

    def __init__(self, folder: Path):
        self.folder = folder

    @staticmethod
    def key(engine: str, version: str, voice: str, rate: float, text: str, pitch: float = 0.0) -> str:
        blob = json.dumps([engine, version, voice, round(rate, 4), text] + ([round(pitch, 2)] if pitch else []),
                          ensure_ascii=False)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def _path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.flac"

    def has(self, key: str) -> bool:
        return self._path(key).is_file()

    def get(self, key: str) -> Speech | None:
        path = self._path(key)
        try:
            samples, rate = sf.read(str(path), dtype="float32")
        except (OSError, sf.LibsndfileError, RuntimeError):
            return None  # missing or damaged: synthesise again
        return Speech(samples, rate)

    def put(self, key: str, speech: Speech) -> None:
        buf = io.BytesIO()
        sf.write(buf, np.clip(speech.samples, -1, 1), speech.sample_rate, format="FLAC", subtype="PCM_16")
        atomic_write_bytes(self._path(key), buf.getvalue())


class Sentences:
    """The speech of each sentence, read from the cache when asked for: a long programme's
    speech is never all in memory. A cache file gone since is synthesised again."""

    def __init__(self, cache: SentenceCache, eng: Engine, voice: str, tts: TTSSettings,
                 texts: list[str], keys: list[str]):
        self._cache, self._eng, self._voice, self._tts = cache, eng, voice, tts
        self._texts, self._keys = texts, keys

    def __len__(self) -> int:
        return len(self._keys)

    def __getitem__(self, i: int) -> Speech:
        speech = self._cache.get(self._keys[i])
        if speech is None:
            speech = self._eng.synthesize(self._texts[i], self._voice, self._tts.rate, self._tts.pitch)
            self._cache.put(self._keys[i], speech)
        return speech


@dataclass
class Spoken:
    engine: str
    engine_version: str
    voice: str
    speeches: Sentences
    voice_tag: str      # version and voice identity: what a render is keyed by


class Speaker:
    """Speaks the sentences of one build; remembers which engines are down."""

    def __init__(self, cache: SentenceCache, warn: Callable[[str], None] = lambda _m: None,
                 engine_options: dict[str, dict] | None = None, root: Path | None = None):
        self.cache = cache
        self.warn = warn
        self.engine_options = engine_options or {}
        if root is not None:  # Piper's models live in the project's voices/ folder
            self.engine_options.setdefault("piper", {"voices_dir": root / "voices"})
        self.synthesized = 0
        self.from_cache = 0
        self.on_sentence: Callable[[int, int], None] | None = None  # (done, of): for a progress line
        self._engines: dict[str, Engine] = {}
        self._down: dict[str, str] = {}
        self._said: set[str] = set()   # engines whose being down was said already

    def engine(self, name: str) -> Engine:
        if name not in self._engines:
            self._engines[name] = create_engine(name, **self.engine_options.get(name, {}))
        return self._engines[name]

    def _keys(self, eng: Engine, tts: TTSSettings, texts: list[str]) -> tuple[str, str, str, list[str]]:
        """The engine's voice, its version, what identifies both (for render keys), and cache keys."""
        voice = eng.voice_for(tts.voice)
        version = eng.version()
        tag = eng.cache_tag(voice)
        keys = [self.cache.key(eng.name, version, tag, tts.rate, t, tts.pitch) for t in texts]
        return voice, version, f"{version} {tag}", keys

    def plan(self, tts: TTSSettings, texts: list[str]) -> tuple[str, str]:
        """(engine, what identifies its voice: version and voice tag) that would speak ``texts`` now."""
        last: Exception | None = None
        for name in tts.engines:
            try:
                eng = self.engine(name)
                _voice, _version, identity, keys = self._keys(eng, tts, texts)
                if all(self.cache.has(k) for k in keys) or self._usable(eng, tts):
                    return self._speaking(name), identity
            except SynthesisError as e:
                last = e
                self._mark_down(name, e.message, tts)
        raise self._none_left(tts, last)

    def _usable(self, eng: Engine, tts: TTSSettings) -> bool:
        if eng.name in self._down:
            return False
        reason = eng.unavailable_reason()
        if reason:
            self._mark_down(eng.name, reason, tts)
            return False
        return True

    def _mark_down(self, name: str, reason: str, tts: TTSSettings) -> None:
        self._down.setdefault(name, reason)   # said once, with the engine that speaks instead (_speaking)

    def _speaking(self, name: str) -> str:
        """``name`` speaks: one line, once, saying so and why those before it in the list did not."""
        skipped = [n for n in self._down if n not in self._said]
        if skipped:
            self._said.update(skipped)
            self.warn(_("speaking with {engine} ({label}): {reasons}", engine=name,
                        label=_(ENGINE_LABELS.get(name, name)),
                        reasons="; ".join(f"{n}: {self._down[n]}" for n in skipped)))
        return name

    def _none_left(self, tts: TTSSettings, last: Exception | None) -> SynthesisError:
        if isinstance(last, SynthesisError) and len(tts.engines) == 1:
            return last
        if len(tts.engines) == 1 and tts.engines[0] in self._down:
            name = tts.engines[0]
            hint = (_(OFFLINE_HINT) if self.engine(name).online else _("see broadcaster voices"))
            return EngineUnavailable(f"{name}: {self._down[name]}", hint=hint)
        reasons = "; ".join(f"{n}: {self._down.get(n) or _('failed')}" for n in tts.engines)
        return SynthesisError(_("no text-to-speech engine could speak ({reasons})", reasons=reasons),
                              hint=_("install espeak-ng for offline speech: apt-get install espeak-ng"))

    def _synthesize(self, eng: Engine, voice: str, tts: TTSSettings, texts: list[str], keys: list[str],
                    cached: list[bool]) -> None:
        """Put what is missing into the cache, in order; an engine that runs a process per sentence
        runs one on every core."""
        def make(i: int) -> None:
            self.cache.put(keys[i], eng.synthesize(texts[i], voice, tts.rate, tts.pitch))

        missing = [i for i, hit in enumerate(cached) if not hit]
        made = 0
        with Ahead(lambda j: make(missing[j]), len(missing), depth=Ahead.DEPTH if eng.parallel else 0) as ahead:
            for done, hit in enumerate(cached, 1):
                if not hit:
                    ahead.get(made)
                    made += 1
                    self.synthesized += 1
                else:
                    self.from_cache += 1
                if self.on_sentence:
                    self.on_sentence(done, len(texts))

    def speak(self, tts: TTSSettings, texts: list[str]) -> Spoken:
        """Speech for each text, from the first engine in the preference list that manages all."""
        last: Exception | None = None
        for name in tts.engines:
            try:
                eng = self.engine(name)
                voice, version, identity, keys = self._keys(eng, tts, texts)
                cached = [self.cache.has(k) for k in keys]
                if not all(cached) and not self._usable(eng, tts):
                    continue
                self._synthesize(eng, voice, tts, texts, keys, cached)
                return Spoken(self._speaking(name), version, voice,
                              Sentences(self.cache, eng, voice, tts, texts, keys), voice_tag=identity)
            except SynthesisError as e:
                last = e
                if name != tts.engines[-1]:
                    self._mark_down(name, e.message, tts)
        raise self._none_left(tts, last)
