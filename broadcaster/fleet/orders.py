"""District commands: play this now on these stations (normal, priority or urgent "phát ngay").

A command is signed by the district, carries its own id, the audio by SHA-256 and a deadline:
a station that was offline past the deadline logs it missed instead of playing it late.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from pathlib import Path

from broadcaster.errors import RefusedError
from broadcaster.fleet.signing import sign, verify
from broadcaster.i18n import _

KIND = "broadcaster-command"
DEFAULT_DEADLINE = timedelta(minutes=10)


def make_command(station: str, *, bulletin: str | None, title: str, audio: dict, zones: list[str], priority: str,
                 now: datetime, deadline: datetime, signing_key: str, by: str = "district") -> tuple[dict, bytes]:
    doc = {"kind": KIND, "id": uuid.uuid4().hex, "station": station, "bulletin": bulletin, "title": title,
           "audio": audio, "zones": zones, "priority": priority, "issued": now.isoformat(timespec="seconds"),
           "deadline": deadline.isoformat(timespec="seconds"), "by": by}
    doc = sign(doc, signing_key)
    return doc, json.dumps(doc, ensure_ascii=False).encode()


def read_command(data: bytes, public: str, station: str) -> dict:
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise RefusedError(_("a command that is not valid JSON")) from None
    if not isinstance(doc, dict) or doc.get("kind") != KIND:
        raise RefusedError(_("a message that is not a broadcaster command"))
    verify(doc, public, _("the command"))
    if doc.get("station") != station:
        raise RefusedError(_('a command for station "{theirs}", not this one', theirs=doc.get("station")))
    if doc.get("priority") not in ("normal", "priority", "urgent"):
        raise RefusedError(_("a command with an unknown priority"))
    audio = doc.get("audio")
    if not isinstance(audio, dict) or not isinstance(audio.get("sha256"), str) or not isinstance(audio.get("size"), int):
        raise RefusedError(_("a command without its audio"))
    try:
        datetime.fromisoformat(doc["deadline"])
    except (KeyError, TypeError, ValueError):
        raise RefusedError(_("a command without a deadline")) from None
    return doc


def command_audio(cfg, target: str) -> tuple[dict, Path, str | None, str]:
    """What a command carries for ``target`` (a bulletin id, or an audio file the caller has checked):
    the audio's description, its file, the bulletin id if it is one, and a title."""
    from broadcaster.fleet.publish import audio_info
    from broadcaster.fsutil import sha256_file
    if target in cfg.bulletins:
        audio, path = audio_info(cfg, target)
        return audio, path, target, cfg.bulletins[target].title
    path = Path(target)
    return ({"sha256": sha256_file(path), "size": path.stat().st_size, "format": path.suffix[1:].lower()}, path,
            None, path.name)


async def send_play(cfg, target: str, *, stations: list[str], zone: str | None, priority: str, now: datetime,
                    deadline: datetime) -> list[tuple[str, str]]:
    """Upload the audio if the server lacks it, then one signed command per station: [(station, id)]."""
    from broadcaster.fleet.client import Link
    from broadcaster.fleet.credentials import load_credentials
    target_audio, path, bulletin, title = command_audio(cfg, target)
    creds = load_credentials(cfg)
    link = Link(creds)
    await link.connect(name="broadcaster play")
    sent = []
    try:
        await link.ensure_layout(cfg.stations())
        if not await link.has_object(target_audio["sha256"]):
            await link.put_object(target_audio["sha256"], path)
        for s in stations:
            doc, data = make_command(s, bulletin=bulletin, title=title, audio=target_audio,
                                     zones=[zone] if zone else [], priority=priority, now=now, deadline=deadline,
                                     signing_key=creds.signing_key)
            await link.send_command(s, data, doc["id"])
            sent.append((s, doc["id"]))
    finally:
        await link.close()
    return sent
