"""Building bulletins: script → normalised sentences → speech → mastered audio file + sidecar.

A bulletin is rebuilt only when something that shapes its sound changed: the
spoken text, the voice, the engine that would speak it, the audio settings or a
jingle. The sidecar JSON beside each file records what it was made from, so the
daemon can tell whether the audio on disk matches the script.
"""

from __future__ import annotations

import json
import math
import threading
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from broadcaster import __version__
from broadcaster.audio import loudness
from broadcaster.audio import mix as render
from broadcaster.audio.files import MAX_JINGLE_SECONDS, Encoder, decode_file, frames_of, join_mp3
from broadcaster.config import AudioSettings, Bulletin, Config, TTSSettings, display_path
from broadcaster.errors import AudioError, BroadcasterError, StorageError
from broadcaster.fsutil import atomic_write_bytes, sha256_file, sha256_text
from broadcaster.text.scripts import read_script
from broadcaster.render.sidecar import read_sidecar
from broadcaster.render.speech import Speaker
from broadcaster.text.reading import read_aloud, speakability_warnings
from broadcaster.i18n import _
from broadcaster.workers import Ahead, cancel, cores, in_worker, pool as workers

if TYPE_CHECKING:   # master (and scipy under it) is imported where audio is made: a no-op build skips it
    from broadcaster.audio import master

PIPELINE_VERSION = 2  # bump when the same inputs would now sound different (2: the limiter works per block)
NORMALISER_VERSION = 2
MP3_PEAK_MARGIN = 0.5  # dB kept free before encoding: MP3 encoding adds inter-sample peaks
SPLIT_SECONDS = 120.0  # MP3 bulletins at least this long are encoded in two halves on two cores


@dataclass
class BuildResult:
    bulletin: str
    status: str                      # built | up-to-date | failed
    output: Path | None = None
    sidecar: dict | None = None
    error: BroadcasterError | None = None
    synthesized: int = 0
    from_cache: int = 0
    notices: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Rendered:
    engine: str
    engine_version: str
    voice: str
    voice_tag: str
    duration_s: float
    loudness_lufs: float
    true_peak_dbtp: float
    segments: tuple[render.Segment, ...]


class Jingles:
    """Decodes each jingle once per build, loudness-matched and at the output rate."""

    def __init__(self):
        self._done: dict[tuple, np.ndarray] = {}

    def get(self, path: Path | None, audio: AudioSettings, where: str) -> np.ndarray | None:
        if path is None:
            return None
        key = (path, audio.sample_rate, audio.loudness, audio.true_peak)
        if key not in self._done:
            try:
                samples, rate = decode_file(path, what=_('jingle "{path}"', path=display_path(path)),
                                            longest=MAX_JINGLE_SECONDS)
            except AudioError as e:
                raise AudioError(e.message, where=where, hint=e.hint or _("use a WAV or MP3 file")) from None
            mono = render.resample(render.to_mono(samples), rate, audio.sample_rate)
            self._done[key] = loudness.normalize(mono, audio.sample_rate, audio.loudness, audio.true_peak)
        return self._done[key]


def render_audio(paragraphs: list[list[str]], tts: TTSSettings, audio: AudioSettings, *,
                 speaker: Speaker, jingle_in: np.ndarray | None, jingle_out: np.ndarray | None,
                 target: Path, tags: dict[str, str]) -> Rendered:
    """Speak, assemble, master and write one bulletin; measure what was written.

    Any length in constant memory: the assembled speech goes to a temporary file beside the
    target (``master.Timeline``), the gain is found from what was measured on the way
    (``master.Master``), and the mastered blocks are streamed into the encoder.
    """
    from broadcaster.audio import master
    flat = [t for p in paragraphs for t in p]
    spoken = speaker.speak(tts, flat)
    rate = audio.sample_rate
    # sentences decoded and resampled by the worker threads a few ahead of the one laid out (the
    # decoder and the resampler let go of the interpreter), so assembly uses every core
    ahead = Ahead(lambda n: _at_rate(spoken.speeches[n], rate), len(flat))
    loaders, i = [], 0
    for p in paragraphs:
        loaders.append([(lambda n=n: ahead.get(n)) for n in range(i, i + len(p))])
        i += len(p)
    timeline = master.Timeline(target.parent, rate, weight=audio.channels)
    try:
        segments = render.lay_out(timeline, rate, lambda: render.read_aloud(timeline, loaders, rate),
                                  repeat=audio.repeat, gap=audio.gap, jingle_in=jingle_in, jingle_out=jingle_out)
        timeline.close()
        ceiling = audio.true_peak - (MP3_PEAK_MARGIN if audio.format == "mp3" else 0.0)
        mastering = master.Master(timeline, ceiling)
        gain_db, trim_db = mastering.solve(audio.loudness)
        split = master.quiet_split(timeline, SPLIT_SECONDS) if audio.format == "mp3" and cores() > 1 else None
        for _try in range(3):  # measure what was written; correct the encoder's drift
            lufs, tp, seconds = _encode(mastering, split, target, audio, tags, gain_db, trim_db)
            if not math.isfinite(lufs) or (tp <= audio.true_peak and abs(audio.loudness - lufs) <= 0.2):
                break
            trim_db += min(audio.loudness - lufs, audio.true_peak - 0.1 - tp)
    finally:
        ahead.close()
        timeline.dispose()
    return Rendered(spoken.engine, spoken.engine_version, spoken.voice, spoken.voice_tag, seconds,
                    round(lufs, 2) if math.isfinite(lufs) else lufs, round(tp, 2), segments)


def _encode(mastering: master.Master, split: int | None, target: Path, audio: AudioSettings,
            tags: dict[str, str], gain_db: float, trim_db: float) -> tuple[float, float, float]:
    """Write the mastered timeline to ``target`` and measure it: (LUFS, dBTP, seconds). With a
    ``split``, two threads encode a half each at once (an MP3 encoder is one core's work: a 60-minute
    bulletin takes 20 s); the first then measures its half, the second joins the halves (frames
    copied) and measures its half where it lies in the joined file."""
    from broadcaster.audio import master
    what = _("the rendered bulletin")

    def encode(path: Path, start: int, stop: int | None, part_tags: dict[str, str]) -> None:
        with Encoder(path, audio.sample_rate, audio.channels, audio.format, part_tags) as enc:
            mastering.write(lambda block: enc.write(render.with_channels(block, audio.channels)),
                            gain_db, trim_db, start, stop)

    if split is None:
        encode(target, 0, None, tags)
        return master.summed([master.measure(target, what=what)])
    mastering.curve(loudness.db_to_gain(gain_db))       # computed once, before the threads share it
    paths = [target.with_name(f".{target.name}.part{i}.mp3") for i in (1, 2)]
    first_done = threading.Event()

    def first():
        try:
            encode(paths[0], 0, split, {})
        finally:
            first_done.set()
        return master.measure(paths[0], what=what)

    def second():
        encode(paths[1], split, None, {})
        first_done.wait()
        if not paths[0].is_file():
            return None                                  # the first half failed: its thread says why
        join_mp3(paths, target, tags)
        # in the joined file the second half's decoded frames end where the file ends
        return master.measure(paths[1], what=what, at=frames_of(target) - frames_of(paths[1]))

    try:
        if in_worker():                 # the pool's threads cannot wait for each other from inside it
            measured = [first(), second()]
        else:
            jobs = [workers().submit(first), workers().submit(second)]
            try:
                measured = [j.result() for j in jobs]
            finally:
                cancel(jobs)
    finally:
        for p in paths:
            p.unlink(missing_ok=True)
    return master.summed(measured)


def _at_rate(speech, rate: int) -> np.ndarray:
    return render.resample(render.to_mono(speech.samples), speech.sample_rate, rate)


def render_key(paragraphs: list[list[str]], bulletin: Bulletin, engine: str, engine_version: str,
               jingle_hashes: dict[str, str | None]) -> str:
    """Everything that shapes the sound of a bulletin, hashed."""
    a = bulletin.audio
    blob = {
        "pipeline": PIPELINE_VERSION, "text": paragraphs, "title": bulletin.title,
        "engine": engine, "engine_version": engine_version, "normaliser": NORMALISER_VERSION,
        "voice": bulletin.tts.voice, "rate": bulletin.tts.rate, "pitch": bulletin.tts.pitch,
        "audio": [a.format, a.sample_rate, a.channels, a.loudness, a.true_peak, a.gap, a.repeat],
        "jingles": jingle_hashes,
    }
    return sha256_text(json.dumps(blob, ensure_ascii=False, sort_keys=True))


def _up_to_date(side: dict | None, key: str, output: Path) -> bool:
    if not side or side.get("render_key") != key or not output.is_file():
        return False
    try:
        return sha256_file(output) == side.get("audio_sha256")
    except OSError:
        return False


def build_bulletin(cfg: Config, bulletin: Bulletin, speaker: Speaker, jingles: Jingles, *,
                   now: datetime, force: bool = False) -> BuildResult:
    """Build one bulletin if its inputs changed. Errors are returned, not raised."""
    output = bulletin.output_path(cfg.paths)
    syn0, hit0 = speaker.synthesized, speaker.from_cache
    script_name = display_path(bulletin.script)
    try:
        script = read_script(bulletin.script, display=script_name)
        paragraphs, doubts = read_aloud(script, bulletin.tts.lexicon)
        notices = list(script.notices) + speakability_warnings(script, paragraphs, script_name, doubts)
        flat = [t for p in paragraphs for t in p]
        a = bulletin.audio
        hashes = {n: sha256_file(p) if p else None
                  for n, p in (("in", a.jingle_in), ("out", a.jingle_out))}
        engine, version = speaker.plan(bulletin.tts, flat)
        key = render_key(paragraphs, bulletin, engine, version, hashes)
        side = read_sidecar(bulletin.sidecar_path(cfg.paths))
        if not force and _up_to_date(side, key, output):
            return BuildResult(bulletin.id, "up-to-date", output, side, notices=notices)
        j_in = jingles.get(a.jingle_in, a, cfg.where_setting(bulletin.id, "jingle_in", "audio"))
        j_out = jingles.get(a.jingle_out, a, cfg.where_setting(bulletin.id, "jingle_out", "audio"))
        tags = {"title": bulletin.title, "date": now.strftime("%Y-%m-%d"),
                "artist": "broadcaster", "comment": bulletin.id}
        r = render_audio(paragraphs, bulletin.tts, a, speaker=speaker, jingle_in=j_in,
                         jingle_out=j_out, target=output, tags=tags)
        if r.engine != engine:  # fell back while speaking: key the engine that spoke
            key = render_key(paragraphs, bulletin, r.engine, r.voice_tag, hashes)
        side = {
            "bulletin": bulletin.id, "title": bulletin.title,
            "script": _rel(cfg, bulletin.script), "script_sha256": sha256_file(bulletin.script),
            "text_sha256": script.text_sha256, "engine": r.engine, "engine_version": r.engine_version,
            "voice": r.voice, "rate": bulletin.tts.rate, "format": a.format,
            "sample_rate": a.sample_rate, "channels": a.channels,
            "duration_s": round(r.duration_s, 3), "loudness_lufs": r.loudness_lufs,
            "true_peak_dbtp": r.true_peak_dbtp, "sentences": len(flat), "repeat": a.repeat,
            "segments": [{"kind": s.kind, "start_s": round(s.start, 3), "duration_s": round(s.duration, 3)}
                         for s in r.segments],
            "audio": output.name, "audio_sha256": sha256_file(output),
            "render_key": key, "rendered_at": now.isoformat(timespec="seconds"), "version": __version__,
        }
        atomic_write_bytes(bulletin.sidecar_path(cfg.paths),
                           (json.dumps(side, ensure_ascii=False, indent=2) + "\n").encode("utf-8"))
        return BuildResult(bulletin.id, "built", output, side, synthesized=speaker.synthesized - syn0,
                           from_cache=speaker.from_cache - hit0, notices=notices)
    except BroadcasterError as e:
        return BuildResult(bulletin.id, "failed", error=e, synthesized=speaker.synthesized - syn0)
    except OSError as e:
        return BuildResult(bulletin.id, "failed", error=StorageError(
            _("cannot write {path}: {reason}", path=display_path(output), reason=e.strerror),
            hint=_("free some disk space or check the folder's permissions")))


def _rel(cfg: Config, path: Path) -> str:
    try:
        return path.relative_to(cfg.root).as_posix()
    except ValueError:
        return str(path)
