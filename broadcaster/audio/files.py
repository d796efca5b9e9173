"""Decoding and encoding audio files: the one place that knows soundfile, pydub and ffmpeg.

Samples are float32 numpy arrays, shape (frames,) for mono or (frames, channels).
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Iterator

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
    with Encoder(target, rate, _channels(samples), fmt, tags) as enc:
        enc.write(samples)


class Encoder:
    """Writes an audio file block by block, atomically: ``with Encoder(...) as e: e.write(block)``.

    WAV through libsndfile; MP3 through an ffmpeg child reading 16-bit PCM from a pipe (VBR
    quality 2, about 190 kbit/s: CBR 128k measurably lowers speech loudness, ~0.4 dB), so the
    encoder runs on another core while the next blocks are computed.
    """

    def __init__(self, target: Path, rate: int, channels: int, fmt: str, tags: dict[str, str]):
        if fmt not in ("wav", "mp3"):
            raise AudioError(_("unknown output format {format}", format=fmt))
        if fmt == "mp3" and not shutil.which("ffmpeg"):
            raise AudioError(_("ffmpeg is needed to write MP3 files"),
                             hint=_(FFMPEG_HINT) + _(', or set format = "wav"'))
        self.target, self.rate, self.channels, self.fmt, self.tags = target, rate, channels, fmt, tags
        self._atomic = atomic_path(target, suffix=f".tmp.{fmt}")
        self._file: sf.SoundFile | None = None
        self._proc: subprocess.Popen | None = None
        self._errors = None

    def __enter__(self) -> "Encoder":
        tmp = self._atomic.__enter__()
        try:
            if self.fmt == "wav":
                self._file = sf.SoundFile(str(tmp), "w", samplerate=self.rate, channels=self.channels,
                                          subtype="PCM_16", format="WAV")
                for key in ("title", "date", "artist", "comment"):
                    if self.tags.get(key):
                        setattr(self._file, key, self.tags[key])
            else:
                self._errors = tempfile.TemporaryFile()
                meta = [a for k, v in self.tags.items() if v for a in ("-metadata", f"{k}={v}")]
                self._proc = subprocess.Popen(
                    ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
                     "-f", "s16le", "-ar", str(self.rate), "-ac", str(self.channels), "-i", "pipe:0",
                     "-q:a", "2", *meta, "-id3v2_version", "3", "-f", "mp3", str(tmp)],
                    stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=self._errors)
        except (sf.LibsndfileError, RuntimeError, OSError) as e:
            self._atomic.__exit__(type(e), e, None)
            raise AudioError(_("cannot write {what}: {reason}", what=self.target.name, reason=e)) from None
        self._tmp = tmp
        return self

    def write(self, samples: np.ndarray) -> None:
        pcm = np.clip(samples, -1.0, 1.0)
        try:
            if self._file is not None:
                self._file.write(pcm)
            else:
                self._proc.stdin.write(np.round(pcm * 32767).astype("<i2").tobytes())
        except (sf.LibsndfileError, RuntimeError, OSError):
            raise self._failed() from None

    def __exit__(self, kind, value, tb) -> bool:
        error: BaseException | None = value
        try:
            if self._file is not None:
                self._file.close()
            if self._proc is not None:
                with contextlib.suppress(OSError):
                    self._proc.stdin.close()
                if self._proc.wait() != 0 and error is None:
                    error = self._failed()
        except (sf.LibsndfileError, RuntimeError, OSError):
            error = error or self._failed()
        finally:
            if self._errors is not None:
                self._errors.close()
        if error is not None:
            self._atomic.__exit__(type(error), error, None)
            if error is value:
                return False
            raise error
        self._atomic.__exit__(None, None, None)
        return False

    def _failed(self) -> Exception:
        """The error for an encoder that failed: a full disk when it is one (libsndfile says only
        "System error" and ffmpeg exits 1), else what the encoder said."""
        if shutil.disk_usage(self._tmp.parent).free < (1 << 20):
            return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        if self._proc is not None:
            with contextlib.suppress(OSError, subprocess.TimeoutExpired):
                self._proc.kill()
                self._proc.wait(5)
            self._errors.seek(0)
            said = self._errors.read().decode("utf-8", "replace").strip().splitlines() or ["?"]
            return AudioError(_("ffmpeg could not write the MP3: {reason}", reason=said[-1]))
        return AudioError(_("cannot write {what}: {reason}", what=self.target.name, reason=_("the encoder failed")))


class BlockReader(sf.SoundFile):
    """A file read front to back in blocks, never asking where it is.

    soundfile's ``read`` calls ``tell()`` (``sf_seek(0, SEEK_CUR)``) before every block, and
    libsndfile 1.1–1.2 then decodes MP3 wrongly: reading a 7-minute bulletin 4096 frames at a time
    gave samples off by up to 0.85 from the whole-file decode. Not seekable, the reads go straight on.
    """

    def seekable(self) -> bool:
        return False


def read_blocks(path: Path, frames: int, *, what: str) -> tuple[int, Iterator[np.ndarray]]:
    """(sample rate, the file's samples ``frames`` at a time as (frames, channels) float32)."""
    def failed(e: Exception) -> AudioError:
        return AudioError(_("{what} is not audio that can be decoded ({reason})", what=what, reason=e),
                          where=str(path))
    try:
        f = BlockReader(str(path))
    except (sf.LibsndfileError, RuntimeError) as e:
        raise failed(e) from None

    def blocks() -> Iterator[np.ndarray]:
        with f:
            while True:
                try:
                    block = f.read(frames, dtype="float32", always_2d=True)
                except (sf.LibsndfileError, RuntimeError) as e:
                    raise failed(e) from None
                if not len(block):
                    return
                yield block
    return f.samplerate, blocks()


def _channels(pcm: np.ndarray) -> int:
    return 1 if pcm.ndim == 1 else pcm.shape[1]
