"""Decoding and encoding audio files: the one place that knows soundfile, pydub and ffmpeg.

Samples are float32 numpy arrays, shape (frames,) for mono or (frames, channels).
"""

from __future__ import annotations

import errno
import io
import os
import shutil
from pathlib import Path

import numpy as np
import soundfile as sf

from broadcaster.errors import AudioError
from broadcaster.fsutil import atomic_path
from broadcaster.i18n import N_, _

MAX_JINGLE_SECONDS = 120.0  # a jingle is seconds long; a 10-hour file would fill the memory
FFMPEG_HINT = N_("install ffmpeg: apt-get install ffmpeg (Windows: add ffmpeg.exe to PATH)")


def decode_bytes(data: bytes, *, what: str) -> tuple[np.ndarray, int]:
    """Decode WAV/MP3/FLAC/OGG bytes to (samples, rate)."""
    try:
        samples, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=False)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as e:
        raise AudioError(_("{what} is not audio that can be decoded ({reason})", what=what, reason=e)) from None
    if len(samples) == 0:
        raise AudioError(_("{what} contains no sound", what=what))
    return samples, rate


def decode_file(path: Path, *, what: str | None = None, longest: float | None = None) -> tuple[np.ndarray, int]:
    """Decode an audio file; formats libsndfile lacks (m4a, aac, wma…) go through ffmpeg.

    ``longest`` (seconds) refuses a file that is longer, before decoding it where the header tells.
    """
    what = what or _("the audio file")
    if longest is not None:
        try:
            info = sf.info(str(path))
        except (sf.LibsndfileError, RuntimeError, TypeError, ValueError, OSError):
            info = None  # not a format libsndfile knows, or unreadable: said below
        if info is not None and info.frames > longest * info.samplerate:
            _too_long(path, what, info.frames / info.samplerate, longest)
    try:
        samples, rate = sf.read(str(path), dtype="float32", always_2d=False)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError):
        samples, rate = _decode_with_ffmpeg(path, what)
    except OSError as e:
        raise AudioError(_("cannot read {what}: {reason}", what=what, reason=e.strerror), where=str(path)) from None
    if len(samples) == 0:
        raise AudioError(_("{what} contains no sound", what=what), where=str(path),
                         hint=_("replace it with a real recording"))
    if longest is not None and len(samples) > longest * rate:
        _too_long(path, what, len(samples) / rate, longest)
    return samples, rate


def _too_long(path: Path, what: str, seconds: float, longest: float) -> None:
    raise AudioError(_("{what} lasts {minutes} min; at most {most} s is allowed here", what=what,
                       minutes=f"{seconds / 60:.0f}", most=f"{longest:g}"), where=str(path),
                     hint=_("use a short jingle (a few seconds)"))


def _decode_with_ffmpeg(path: Path, what: str) -> tuple[np.ndarray, int]:
    if not shutil.which("ffmpeg"):
        raise AudioError(_("{what} is not in a format that can be read without ffmpeg", what=what),
                         where=str(path), hint=_(FFMPEG_HINT))
    from pydub import AudioSegment
    from pydub.exceptions import CouldntDecodeError
    try:
        seg = AudioSegment.from_file(str(path))
    except (CouldntDecodeError, IndexError, OSError, ValueError):
        raise AudioError(_("{what} is not audio that can be decoded", what=what), where=str(path),
                         hint=_("use a WAV or MP3 file")) from None
    raw = np.array(seg.get_array_of_samples(), dtype=np.float32) / float(1 << (8 * seg.sample_width - 1))
    if seg.channels > 1:
        raw = raw.reshape(-1, seg.channels)
    return raw, seg.frame_rate


def audio_duration(path: Path) -> float:
    """Duration in seconds, read from the header where possible."""
    try:
        info = sf.info(str(path))
        return info.frames / info.samplerate
    except (sf.LibsndfileError, RuntimeError):
        samples, rate = decode_file(path)
        return len(samples) / rate


def encode_file(target: Path, samples: np.ndarray, rate: int, fmt: str, tags: dict[str, str]) -> None:
    """Write ``samples`` to ``target`` as ``fmt`` (wav or mp3) with tags, atomically."""
    pcm = np.clip(samples, -1.0, 1.0)
    with atomic_path(target, suffix=f".tmp.{fmt}") as tmp:
        if fmt == "wav":
            try:
                with sf.SoundFile(str(tmp), "w", samplerate=rate, channels=_channels(pcm),
                                  subtype="PCM_16", format="WAV") as f:
                    for key in ("title", "date", "artist", "comment"):
                        if tags.get(key):
                            setattr(f, key, tags[key])
                    f.write(pcm)
            except (sf.LibsndfileError, RuntimeError) as e:
                raise _write_failed(tmp, pcm, _("cannot write {what}: {reason}", what=target.name, reason=e)) from None
        elif fmt == "mp3":
            _encode_mp3(tmp, pcm, rate, tags)
        else:
            raise AudioError(_("unknown output format {format}", format=fmt))


def _encode_mp3(tmp: Path, pcm: np.ndarray, rate: int, tags: dict[str, str]) -> None:
    if not shutil.which("ffmpeg"):
        raise AudioError(_("ffmpeg is needed to write MP3 files"), hint=_(FFMPEG_HINT) + _(', or set format = "wav"'))
    from pydub import AudioSegment
    ints = np.round(pcm * 32767).astype("<i2")
    seg = AudioSegment(data=ints.tobytes(), sample_width=2, frame_rate=rate, channels=_channels(pcm))
    try:
        # VBR quality 2 (about 190 kbit/s): CBR 128k measurably lowers speech loudness (~0.4 dB)
        seg.export(str(tmp), format="mp3", parameters=["-q:a", "2"], tags=tags, id3v2_version="3")
    except Exception as e:  # pydub raises CouldntEncodeError or OSError (disk full)
        raise _write_failed(tmp, pcm, _("ffmpeg could not write the MP3: {reason}",
                                        reason=(str(e).splitlines() or ["?"])[0])) from None


def _write_failed(tmp: Path, pcm: np.ndarray, message: str) -> Exception:
    """The error for an encoder that failed: a full disk when it is one (libsndfile says only
    "System error" and ffmpeg exits 1), else what the encoder said."""
    if shutil.disk_usage(tmp.parent).free < pcm.size * 2 + (1 << 16):
        return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    return AudioError(message)


def _channels(pcm: np.ndarray) -> int:
    return 1 if pcm.ndim == 1 else pcm.shape[1]
