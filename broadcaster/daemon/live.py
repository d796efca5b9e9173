"""The daemon's live desk: a speaker on this PC (`broadcaster live`, or the console's "Nói trực tiếp")
reaches the zones this daemon plays through it, since the daemon owns the sound devices.

It listens on 127.0.0.1 only, on a port it writes with a random key into ``<state>/live.json``
(readable by this PC's account only: whoever can read it may speak here). A session is one line of
JSON — the key, the zones, the priority, who speaks and from where — answered by one line (the zones
that will play it, or why not), then frames: 4 bytes of length, 4 of sequence number, 16-bit samples
at 16 kHz; a length of 0 ends it. Each zone gets an urgent (or priority) item that plays the voice
through a jitter buffer (``audio.live``) and logs who spoke, how long it was on the air and any gap.

At a hub, zones of its stations below are reached too: the voice goes on to them over the hub's link
(``below``, set by the hub's link part), and a station's link brings a voice from above to ``open``.
"""

from __future__ import annotations

import hmac
import json
import logging
import secrets
import socket
import struct
import threading

from broadcaster.audio.live import FRAME, WIRE_RATE, LiveStream
from broadcaster.fsutil import atomic_write_bytes, private_file
from broadcaster.i18n import _
from broadcaster.daemon.items import Item
from broadcaster.daemon.parts import Part
from broadcaster.daemon.zones import Zones

log = logging.getLogger("broadcaster.daemon")

DESK_FILE = "live.json"
MAX_HEADER = 4096
LIVE_PRIORITIES = ("urgent", "priority")


def desk_address(state) -> tuple[int, str] | None:
    """(port, key) of this PC's live desk, or None if no daemon has one open."""
    try:
        doc = json.loads((state / DESK_FILE).read_text(encoding="utf-8"))
        return int(doc["port"]), str(doc["key"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


class LiveDesk(Part):
    name = "live"

    def __init__(self, daemon):
        super().__init__(daemon)
        self.server: socket.socket | None = None
        self.sessions: set[LiveStream] = set()
        self.below = None   # at a hub, its link's live sender (fleet.live.LiveBelow): zones of stations below

    def start(self) -> None:
        self.key = secrets.token_urlsafe(24)
        self.server = socket.create_server(("127.0.0.1", 0))
        path = self.d.cfg.paths.state / DESK_FILE
        atomic_write_bytes(path, json.dumps({"port": self.server.getsockname()[1], "key": self.key}).encode())
        private_file(path)
        threading.Thread(target=self._accept, name="live desk", daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None
        for s in list(self.sessions):
            s.end()
        (self.d.cfg.paths.state / DESK_FILE).unlink(missing_ok=True)

    def _accept(self) -> None:
        while self.server is not None:
            try:
                conn, _addr = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._session, args=(conn,), name="live session", daemon=True).start()

    def _session(self, conn: socket.socket) -> None:
        stream = None
        with conn:
            try:
                f = conn.makefile("rb")
                head = f.readline(MAX_HEADER)
                stream, answer = self._open(head)
                conn.sendall((json.dumps(answer, ensure_ascii=False) + "\n").encode())
                if stream is None:
                    return
                while True:
                    top = f.read(8)
                    if len(top) < 8:
                        break   # the speaker's side went away: what is buffered plays, then it ends
                    size, seq = struct.unpack(">II", top)
                    if size == 0:
                        break
                    if size > FRAME * 2:
                        raise ValueError("frame too large")
                    stream.put(seq, f.read(size))
            except (OSError, ValueError) as e:
                log.warning(_("live: a session ended: {reason}", reason=e))
            finally:
                if stream is not None:
                    self.close(stream)

    def _open(self, head: bytes) -> tuple[LiveStream | None, dict]:
        """The session a header line opens (its items queued on the zones), or None and why not."""
        try:
            doc = json.loads(head.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return None, {"error": _("not a live session")}
        if not isinstance(doc, dict) or not hmac.compare_digest(str(doc.get("key", "")), self.key):
            log.warning(_("live: a session with a wrong key refused"))
            return None, {"error": _("wrong key: read it again from the state folder")}
        zones = doc.get("zones")
        priority = doc.get("priority", "urgent")
        if not isinstance(zones, list) or not zones or priority not in LIVE_PRIORITIES:
            return None, {"error": _("a live session needs its zones and a priority (urgent or priority)")}
        zones = list(dict.fromkeys(str(z) for z in zones))
        cfg = self.d.cfg
        below = [z for z in zones if z not in self.d.served and z in cfg.zones and cfg.zones[z].station]
        unknown = [z for z in zones if z not in self.d.served and (z not in below or self.below is None)]
        if unknown:
            return None, {"error": _("this daemon does not play {zones}", zones=", ".join(unknown))}
        who, where = str(doc.get("who") or "?")[:64], str(doc.get("from") or "?")[:64]
        rates = self._chime(cfg, cfg.audio.sample_rate, WIRE_RATE) if doc.get("chime", True) and cfg.live_chime else None
        chime = rates[0] if rates else None
        here = [z for z in zones if z in self.d.served]
        stream = self.open(here, priority, who, where, chime)
        if below:   # to the stations below, over the hub's link
            stream.forwards.append(self.below.open(below, priority, who, where, rates[1] if rates else None))
        log.warning(_("live: {who} from {where} speaks on {zones} ({priority})", who=who, where=where,
                      zones=", ".join(zones), priority=priority))
        return stream, {"zones": zones,
                        "chime": round(len(chime) / cfg.audio.sample_rate, 2) if chime is not None else 0}

    def open(self, zones: list[str], priority: str, who: str, where: str, chime=None) -> LiveStream:
        """A session playing on these zones of this daemon (an urgent or priority item on each);
        ``chime``: mono samples at the zones' rate, played first. Also for a voice from the hub above."""
        cfg = self.d.cfg
        stream = LiveStream(who, where)
        self.sessions.add(stream)
        workers = self.d.get(Zones).workers
        for z in zones:
            workers[z].submit(Item(self.d.clock.now(), z, priority, bulletin=f"live:{who}",
                                   live=stream.feeder(cfg.audio.sample_rate, cfg.audio.channels,
                                                      cfg.zones[z].volume, chime)))
        return stream

    def close(self, stream: LiveStream) -> None:
        stream.end()
        self.sessions.discard(stream)

    def _chime(self, cfg, *rates: int):
        """[live] chime as mono samples at each of ``rates`` (decoded once; None, logged, if it cannot be read)."""
        from broadcaster.audio.files import decode_file
        from broadcaster.errors import BroadcasterError
        try:
            data, rate = decode_file(cfg.live_chime, what=_("the live chime"), longest=30)
        except BroadcasterError as e:
            log.warning(_("live: the chime cannot be played ({reason}): the voice goes on without it",
                          reason=e.message))
            return None
        mono = data.mean(axis=1) if data.ndim > 1 else data
        import numpy as np
        return [np.interp(np.arange(int(len(mono) * to / rate)) * rate / to, np.arange(len(mono)), mono)
                .astype("float32") for to in rates]
