"""Piper: offline neural voices from ``.onnx`` model files the user places in ``voices/``.

The only module that knows piper-tts. A voice is a model file and its
``.onnx.json`` config beside it; the model's hash is part of the cache key, so a
new model never replays old sentences.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path

import numpy as np

from broadcaster.engines import Engine, EngineUnavailable, Speech, SynthesisError, Voice
from broadcaster.i18n import N_, _

MODEL_HINT = N_('put a Vietnamese Piper voice (NAME.onnx and NAME.onnx.json) in the voices/ folder '
                'and set voice = "voices/NAME.onnx" (see docs/configuration.md: Piper voices)')


class PiperEngine(Engine):
    name = "piper"
    online = False

    def __init__(self, voices_dir: Path | None = None):
        self.voices_dir = voices_dir

    def version(self) -> str:
        from importlib.metadata import version
        return version("piper-tts")

    def unavailable_reason(self) -> str | None:
        try:
            import piper  # noqa: F401
        except ImportError:
            return _("the piper-tts package is not installed (pip install piper-tts)")
        if not self._models():
            where = self.voices_dir or "voices/"
            return _("no Piper voice model (.onnx) in {folder}", folder=where)
        return None

    def _models(self) -> list[Path]:
        if self.voices_dir is None or not self.voices_dir.is_dir():
            return []
        return sorted(p for p in self.voices_dir.glob("*.onnx") if Path(f"{p}.json").is_file())

    def voices(self) -> list[Voice]:
        out = []
        for p in self._models():
            try:
                cfg = json.loads(Path(f"{p}.json").read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            lang = cfg.get("language", {})
            accent = lang.get("region") or lang.get("code") or cfg.get("espeak", {}).get("voice", "?")
            out.append(Voice(str(p), str(accent), str(cfg.get("gender", "?"))))
        return out

    def voice_for(self, wanted: str) -> str:
        if wanted.endswith(".onnx"):
            model = Path(wanted)
            if not model.is_file():
                raise EngineUnavailable(_("the Piper voice model {model} does not exist", model=model), hint=_(MODEL_HINT))
            if not Path(f"{model}.json").is_file():
                raise EngineUnavailable(_("the Piper voice model {model} has no {model}.json beside it", model=model.name),
                                        hint=_("download both files of the voice"))
            return str(model)
        if not wanted.lower().startswith("vi"):
            raise SynthesisError(_('engine {engine} has no voice "{voice}"', engine="piper", voice=wanted),
                                 hint=_('use voice = "voices/NAME.onnx", or "vi" for the first model in voices/'))
        models = self._models()
        if not models:
            raise EngineUnavailable(_("no Piper voice model (.onnx) in {folder}", folder=self.voices_dir or "voices/"),
                                    hint=_(MODEL_HINT))
        return str(models[0])

    def cache_tag(self, voice: str) -> str:
        config = Path(f"{voice}.json")
        stamp = (Path(voice).stat().st_mtime_ns, config.stat().st_mtime_ns)
        return f"{voice}#{_model_hash(voice, stamp)}"

    def synthesize(self, text: str, voice: str, rate: float, pitch: float = 0.0) -> Speech:
        from piper import SynthesisConfig
        model = self.voice_for(voice)
        try:
            loaded = _load(model, self.cache_tag(model))
            chunks = list(loaded.synthesize(text, SynthesisConfig(length_scale=1.0 / rate)))
        except (OSError, ValueError, KeyError, RuntimeError) as e:
            raise SynthesisError(_("Piper could not speak with {model}: {reason}", model=Path(model).name, reason=e),
                                 hint=_("check that the model and its .json belong together")) from None
        if not chunks:
            raise SynthesisError(_("Piper produced no audio for this sentence"))
        samples = np.concatenate([c.audio_float_array for c in chunks]).astype(np.float32)
        return Speech(samples, chunks[0].sample_rate)


@lru_cache(maxsize=4)
def _load(model: str, _stamp):
    from piper import PiperVoice
    try:
        return PiperVoice.load(model)
    except Exception as e:  # onnxruntime raises its own kinds for a damaged model
        raise EngineUnavailable(_("the Piper voice model {model} cannot be loaded: {reason}",
                                  model=Path(model).name, reason=e), hint=_(MODEL_HINT)) from None


@lru_cache(maxsize=16)
def _model_hash(model: str, _stamp: tuple) -> str:
    """The model and its config, hashed: either changing is a new voice."""
    h = hashlib.sha256()
    for path in (model, f"{model}.json"):
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()[:16]
