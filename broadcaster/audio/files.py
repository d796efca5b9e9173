"""Decoding and encoding audio files: the one place that knows soundfile, pydub and ffmpeg.

Samples are float32 numpy arrays, shape (frames,) for mono or (frames, channels).
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import queue
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Iterator

import numpy as np
import soundfile as sf

from broadcaster.audio.relay import Upstream
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
        raise _undecodable(what, e) from None
    if len(samples) == 0:
        raise AudioError(_("{what} contains no sound", what=what))
    return samples, rate


def _undecodable(what: str, reason: Exception, path: Path | None = None) -> AudioError:
    return AudioError(_("{what} is not audio that can be decoded ({reason})", what=what, reason=reason),
                      where=None if path is None else str(path))


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
        if self._proc is not None:
            with contextlib.suppress(OSError, subprocess.TimeoutExpired):
                self._proc.kill()
                self._proc.wait(5)
            self._errors.seek(0)
            return _mp3_failed(self._tmp.parent, self._errors.read())
        if _disk_full(self._tmp.parent):
            return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return AudioError(_("cannot write {what}: {reason}", what=self.target.name, reason=_("the encoder failed")))


def join_mp3(parts: list[Path], target: Path, tags: dict[str, str]) -> None:
    """One MP3 from ``parts`` encoded alike, frames copied (no re-encoding), tagged and written
    atomically. Each part's Xing frame is read as its header, not copied; a part after the first
    keeps its encoder delay, and the one before it its padding: about 30 ms of silence at each join,
    so parts are cut where there is silence. A part's decoded frames end where the next part's
    (or the file's) begin."""
    def quoted(p: Path) -> str:
        return "file '" + str(p.resolve()).replace("'", "'\\''") + "'\n"
    meta = [a for k, v in tags.items() if v for a in ("-metadata", f"{k}={v}")]
    with tempfile.NamedTemporaryFile("w", suffix=".txt", dir=target.parent, prefix=".join-",
                                     encoding="utf-8") as listing, atomic_path(target, suffix=".tmp.mp3") as tmp:
        listing.write("".join(quoted(p) for p in parts))
        listing.flush()
        run = subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-f", "concat",
                              "-safe", "0", "-i", listing.name, "-map", "0:a", "-c", "copy", *meta,
                              "-id3v2_version", "3", "-f", "mp3", str(tmp)], capture_output=True)
        if run.returncode:
            raise _mp3_failed(target.parent, run.stderr)


def _disk_full(folder: Path) -> bool:
    return shutil.disk_usage(folder).free < (1 << 20)


def _mp3_failed(folder: Path, stderr: bytes) -> Exception:
    """A full disk when it is one (ffmpeg then says only that a write failed), else what ffmpeg said."""
    if _disk_full(folder):
        return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    said = stderr.decode("utf-8", "replace").strip().splitlines() or ["?"]
    return AudioError(_("ffmpeg could not write the MP3: {reason}", reason=said[-1]))


def frames_of(path: Path) -> int:
    """How many frames the audio file holds (an MP3's Xing frame says it; libsndfile reads it)."""
    try:
        return sf.info(str(path)).frames
    except (sf.LibsndfileError, RuntimeError) as e:
        raise _undecodable(path.name, e, path) from None


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
    try:
        f = BlockReader(str(path))
    except (sf.LibsndfileError, RuntimeError) as e:
        raise _undecodable(what, e, path) from None

    def blocks() -> Iterator[np.ndarray]:
        with f:
            while True:
                try:
                    block = f.read(frames, dtype="float32", always_2d=True)
                except (sf.LibsndfileError, RuntimeError) as e:
                    raise _undecodable(what, e, path) from None
                if not len(block):
                    return
                yield block
    return f.samplerate, blocks()


def _channels(pcm: np.ndarray) -> int:
    return 1 if pcm.ndim == 1 else pcm.shape[1]


# --- live streams: decoded by an ffmpeg child as they arrive ------------------------------

STREAM_BLOCK = 4096          # frames per block handed on
STREAM_BUFFER_SECONDS = 60.0  # at most this much is kept waiting; older audio is dropped (a live source)
# what ffmpeg says when a stream cannot be had, and what to tell the technician instead
_STREAM_REASONS = (
    # the status with its words: a bare "404" or "403" also turns up in an address's port (127.0.0.1:40371)
    ("404 Not Found", N_("the server answered 404 Not Found: check the address")),
    ("403 Forbidden", N_("the server refused access (403 Forbidden)")),
    ("Server returned", N_("the server answered with an error: {said}")),
    ("Connection refused", N_("nothing answers at that address (connection refused)")),
    ("timed out", N_("the server did not answer in time")),
    ("Invalid data found", N_("what the address sent is not audio (a web page?)")),
    ("Failed to resolve", N_("the server's name cannot be found (no internet, or a wrong address)")),
    ("Name or service not known", N_("the server's name cannot be found (no internet, or a wrong address)")),
    ("does not contain any stream", N_("what the address sent is not audio (a web page?)")),
)


class StreamDecoder(Upstream):
    """A web stream (Icecast/Shoutcast MP3, AAC or Ogg; HLS .m3u8) or a file, decoded by ffmpeg at
    ``rate`` and ``channels`` into float32 blocks waiting in a queue. ``ended`` says why it stopped."""

    def __init__(self, location: str, rate: int, channels: int, *, timeout: float = 8.0, loop: bool = False):
        """A ``loop``ed file is read as it is taken (it comes round again); a stream as it comes."""
        if not shutil.which("ffmpeg"):
            raise AudioError(_("ffmpeg is needed to relay a stream"), hint=_(FFMPEG_HINT))
        self.rate, self.channels, self.block = rate, channels, STREAM_BLOCK
        self.ended: str | None = None
        self.live = not loop
        self.blocks: queue.Queue = queue.Queue(maxsize=0 if self.live else 16)
        self._said: list[str] = []
        self._played = False         # audio came: the address was right, whatever is said at the end
        net = ["-rw_timeout", str(int(timeout * 1e6))] if "://" in location else []
        cmd = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", *net,
               *(["-stream_loop", "-1"] if loop else []), "-i", location,
               "-vn", "-f", "f32le", "-ac", str(channels), "-ar", str(rate), "pipe:1"]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self._stderr = threading.Thread(target=self._errors, daemon=True, name="ffmpeg stderr")
        self._stderr.start()
        threading.Thread(target=self._read, daemon=True, name=f"stream {location[:40]}").start()

    def _errors(self) -> None:
        for line in self.proc.stderr:
            self._said = (self._said + [line.decode("utf-8", "replace").strip()])[-5:]

    def _read(self) -> None:
        size = STREAM_BLOCK * self.channels * 4
        keep = int(STREAM_BUFFER_SECONDS * self.rate / STREAM_BLOCK)
        rest = b""
        while True:
            data = self.proc.stdout.read(size - len(rest))
            if not data:
                break
            rest += data
            if len(rest) < size:
                continue
            block = np.frombuffer(rest, dtype=np.float32).reshape(-1, self.channels)
            rest = b""
            self.blocks.put(block)   # a looped file waits here for its turn
            self._played = True
            while self.live and self.blocks.qsize() > keep:   # nobody takes them: drop the oldest
                self.blocks.get_nowait()
        self.proc.stdout.close()
        code = self.proc.wait()
        self._stderr.join(5)   # what ffmpeg said last is the reason: read to its end first (under load it lagged)
        self.ended = self._reason(code)

    def _reason(self, code: int) -> str:
        if self._played:
            # it played, then the source went: what ffmpeg met asking again (e.g. 404 once the station's
            # encoder had left the server) is not the address being wrong
            return _("the stream ended: {said}", said=self._said[-1]) if code and self._said else _("the stream ended")
        said = " ".join(self._said)
        for clue, reason in _STREAM_REASONS:
            if clue in said:
                return _(reason, said=self._said[-1])
        if code and self._said:
            return _("the stream could not be played: {said}", said=self._said[-1])
        return _("the stream ended")

    def close(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(OSError):
                self.proc.kill()
        if not self.live:   # let a reader waiting on a full queue see the end
            with contextlib.suppress(Exception):
                while True:
                    self.blocks.get_nowait()
