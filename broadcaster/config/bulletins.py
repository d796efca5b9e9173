"""[bulletins.ID] tables: a script to render, or a ready-made audio file."""

from __future__ import annotations

from broadcaster.config.model import AudioSettings, Bulletin, TTSSettings
from broadcaster.config.schema import AUDIO_KEYS, AUDIO_SUFFIXES, BULLETIN_KEYS, TTS_KEYS, _Invalid, _Loader, _str
from broadcaster.i18n import _


def parse_bulletins(ld: _Loader, data: dict, tts: TTSSettings, audio: AudioSettings, *,
                    origin: str = "local") -> dict[str, Bulletin]:
    """[bulletins.ID]: a script to render, or a ready-made audio file (``file``)."""
    bulletins = {}
    for bid, b, key, section in ld.named_tables(data, "bulletins", "bulletin", BULLETIN_KEYS):
        if "script" in b and "file" in b:
            ld.problem(key + ("file",), section, _("has both script and file: use one of them"))
            continue
        if "script" not in b and "file" not in b:
            ld.problem(key, section, _('has no script (add script = "scripts/NAME.txt")'))
            continue
        script = ld.file_path(b["script"], key + ("script",), section, "script") if "script" in b else None
        ready = ld.file_path(b["file"], key + ("file",), section, "file") if "file" in b else None
        title = b.get("title", bid)
        try:
            _str(title)
        except _Invalid as e:
            ld.problem(key + ("title",), section, f"title {e}")
        btts = ld.settings(b, TTS_KEYS, tts, key, section)
        baudio = ld.settings(b, AUDIO_KEYS, audio, key, section)
        if ready is not None and ready.suffix.lower() not in AUDIO_SUFFIXES:
            ld.problem(key + ("file",), section, _("file must be audio ({suffixes}), not {value}",
                                                    suffixes=", ".join(AUDIO_SUFFIXES), value=ready.name))
        elif script is not None or ready is not None:
            bulletins[bid] = Bulletin(bid, str(title), script, btts, baudio, ld.index.line(*key), file=ready,
                                      origin=origin)
    return bulletins
