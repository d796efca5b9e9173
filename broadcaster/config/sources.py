"""The [sources.*] part of schedule.toml: programmes relayed live (VOV, the provincial station)."""

from __future__ import annotations

from urllib.parse import urlsplit

from broadcaster.config.model import Bulletin, Source
from broadcaster.config.schema import AUDIO_SUFFIXES, _Loader, _show, _str
from broadcaster.config.slots import parse_duration
from broadcaster.i18n import _

SOURCE_KEYS = ("title", "url", "device", "timeout", "fallback")
DEFAULT_TIMEOUT = 8.0


def parse_sources(ld: _Loader, data: dict, bulletins: dict[str, Bulletin]) -> dict[str, Source]:
    sources: dict[str, Source] = {}
    for sid, t, key, section in ld.named_tables(data, "sources", "source", SOURCE_KEYS):
        values: dict = {}
        if sid in bulletins:
            ld.problem(key, section, _('a source and a bulletin are both called "{id}": rename one of them', id=sid))
        if ("url" in t) == ("device" in t):
            ld.problem(key, section, _('needs either url = "https://…" (a web stream) or device = "NAME" '
                                       "(a sound card input), not {what}",
                                       what=_("both") if "url" in t else _("neither")))
        if "url" in t:
            url = t["url"]
            parts = urlsplit(url) if isinstance(url, str) else None
            if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
                ld.problem(key + ("url",), section, _('url must be an http:// or https:// address, not {value}',
                                                      value=_show(url)))
            else:
                values["url"] = url
        values.update(ld.checked(t, (("title", _str), ("device", _str)), key, section))
        if "timeout" in t:
            seconds = parse_duration(t["timeout"])
            if seconds is None or not 1 <= seconds <= 300:
                ld.problem(key + ("timeout",), section, _('timeout must be a duration from 1 s to 5 min like "8s", '
                                                          'not {value}', value=_show(t["timeout"])))
            else:
                values["timeout"] = seconds
        if "fallback" in t:
            fb = t["fallback"]
            if isinstance(fb, str) and fb in bulletins:
                values["fallback"] = fb
            elif isinstance(fb, str) and fb.lower().endswith(AUDIO_SUFFIXES):
                path = ld.file_path(fb, key + ("fallback",), section, "fallback")
                if path is not None:
                    values["fallback_file"] = path
            else:
                ld.problem(key + ("fallback",), section,
                           _('fallback must be a bulletin id or an audio file ({suffixes}), not {value}',
                             suffixes=", ".join(AUDIO_SUFFIXES), value=_show(fb)))
        sources[sid] = Source(sid, values.pop("title", sid), line=ld.index.line(*key), **values)
    return sources
