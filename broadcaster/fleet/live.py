"""A live voice over the network: from a hub's daemon to the stations below it, at any depth, on the
link they already hold (no port to open at a commune).

The voice goes as Opus (``audio.opus``), three 20-ms frames a message, on core NATS (now or never: not
kept by the server) to ``bc.live.<station>`` of each station concerned, and straight into the account
of each station that is a hub itself, for its stations below that serve the zones (so a province
reaches a commune's clusters with the commune's PC off). The session names, for each account, the
stations reached straight; a hub that receives it passes it on to its other stations only (those it
knows and its hub did not yet, or deeper down). Every station thus gets it once.

Every message is signed by the hub it comes from (Ed25519, like programmes and commands), and its
shape checked before anything is done with it: a station plays only what a hub it trusts signed, and
one bad message is dropped, never the session. A message is::

    b"BCL1" | kind (H, A or E) | session id (16 bytes) | body | signature (64 bytes)

H, the session (sent first, then every second, so that a station whose link comes back mid-way
joins again, even after it gave the voice up): JSON with the zones, the priority, who speaks, from
where, by which hub, when, and the stations of the receiving account reached straight. A: when its
frames were spoken (8 bytes, seconds since the epoch), the first frame's number (4 bytes), how many
(1 byte), then each frame's length (2 bytes) and bytes. E: the end.

Freshness is inside the signature: a station refuses a session or frames older (or newer) than
FRESH seconds by its own clock, whatever it remembers, so a voice captured off the wire cannot be
played again, after a restart or not; a station whose clock is that far off raises an alert.
"""

from __future__ import annotations

import json
import logging
import secrets
import struct
import threading
import time

from broadcaster.audio.live import FRAME, FRAME_S, GIVE_UP
from broadcaster.errors import RefusedError
from broadcaster.fleet import names
from broadcaster.fleet.signing import Signer, Verifier
from broadcaster.i18n import _

log = logging.getLogger("broadcaster.fleet")

MAGIC = b"BCL1"
HEADER, AUDIO, END = b"H", b"A", b"E"
PACK = 3                  # frames a message: 60 ms
CHIME_WAIT = 3.0          # seconds of silence sent after the chime at most, until the speaker's voice comes
HEADER_EVERY = 1.0        # seconds between two sendings of the session
MAX_MESSAGE = 65536
MAX_ZONES = 5000
FRESH = 10.0              # seconds a session's or a frame's time may differ from this PC's clock
PRIORITIES = ("urgent", "priority")


def pack(kind: bytes, sid: bytes, body: bytes, signer: Signer) -> bytes:
    return signer.sign(MAGIC + kind + sid + body)


def unpack(data: bytes, verifier: Verifier) -> tuple[str, bytes, bytes, bytes]:
    """(signer, kind, session id, body) of a message; RefusedError if it is not one a trusted hub signed."""
    if not isinstance(data, bytes) or not 4 + 1 + 16 + 64 <= len(data) <= MAX_MESSAGE or data[:4] != MAGIC:
        raise RefusedError(_("a message on the live subject that is not a live voice"))
    signer, body = verifier.open(data, _("a live voice"))
    kind, sid, rest = body[4:5], body[5:21], body[21:]
    if kind not in (HEADER, AUDIO, END):
        raise RefusedError(_("a message on the live subject that is not a live voice"))
    return signer, kind, sid, rest


def read_header(body: bytes) -> dict:
    """The session's description, its shape checked."""
    try:
        doc = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise RefusedError(_("a live voice whose description is not valid JSON")) from None
    zones = doc.get("zones") if isinstance(doc, dict) else None
    if (not isinstance(zones, list) or not 0 < len(zones) <= MAX_ZONES or not all(isinstance(z, str) for z in zones)
            or doc.get("priority") not in PRIORITIES or not isinstance(doc.get("issued"), (int, float))
            or not all(isinstance(doc.get(k), str) for k in ("who", "from", "by"))
            or not isinstance(doc.get("direct", []), list) or len(doc.get("direct", [])) > MAX_ZONES):
        raise RefusedError(_("a live voice without its zones, priority, speaker or time"))
    return doc


def read_frames(body: bytes) -> list[tuple[int, bytes]]:
    """(number, Opus packet) of each frame in an audio message."""
    return read_audio(body)[1]


def read_audio(body: bytes) -> tuple[float, list[tuple[int, bytes]]]:
    """When an audio message's frames were spoken, and (number, Opus packet) of each."""
    try:
        spoken, seq, n = struct.unpack_from(">dIB", body)
        at, out = 13, []
        for i in range(n):
            (size,) = struct.unpack_from(">H", body, at)
            if size == 0 or at + 2 + size > len(body):
                raise ValueError
            out.append((seq + i, body[at + 2:at + 2 + size]))
            at += 2 + size
    except (struct.error, ValueError):
        raise RefusedError(_("a live voice message cut short or malformed")) from None
    if at != len(body) or not out:
        raise RefusedError(_("a live voice message cut short or malformed"))
    return spoken, out


# --- at the hub the voice starts from -------------------------------------------------------------------

class LiveBelow:
    """Set by a hub's link part on the daemon's live desk: opens a voice to the stations below."""

    def __init__(self, hub):
        self.hub = hub
        self.signer = Signer(hub.creds.signing_key)

    def open(self, zones: list[str], priority: str, who: str, where: str, chime=None) -> "LiveOut":
        routes = self.hub.live_routes(zones, origin=True)
        log.info(_("live: the voice goes to {stations}", stations=", ".join(
            [r[0][0].rsplit(".", 1)[1] + "".join(f" {x}" for x in r[1]) for r in routes]) or "-"))
        return LiveOut(self, routes, {"zones": zones, "priority": priority, "who": who, "from": where,
                                      "by": self.hub.creds.hub}, chime)


class LiveOut:
    """One speaker's voice on its way down: frames in as the speaker's session brings them (``put``),
    Opus messages out. ``chime`` (mono at 16 kHz) goes first, at its own pace; what the speaker says
    meanwhile is not sent (the speaker is told to wait for it)."""

    def __init__(self, below: LiveBelow, routes: list[tuple[list[str], list[str]]], head: dict, chime=None):
        from broadcaster.audio.opus import Encoder
        self.below, self.routes, self.head = below, routes, head
        self.subjects = [x for subjects, _direct in routes for x in subjects]
        self.sid = secrets.token_bytes(16)
        self.encoder = Encoder()
        self.lock = threading.Lock()
        self.frames: list[bytes] = []
        self.first = 0            # the number of the first frame in ``frames``
        self.count = 0            # frames sent so far
        self.header_at = 0.0
        self.ended = False
        self.chiming = threading.Event()
        self.voiced = False       # the speaker's frames have begun (after the chime)
        with self.lock:
            self._header()
        if chime is not None and len(chime):
            self.chiming.set()
            threading.Thread(target=self._chime, args=(chime,), name="live chime", daemon=True).start()

    def _send(self, kind: bytes, body: bytes) -> None:
        self.below.hub.send_live(self.subjects, pack(kind, self.sid, body, self.below.signer))

    def _header(self) -> None:
        """The session, to each station's account with the stations below it that it reaches straight
        (so that a station there that is a hub passes it on to the others only)."""
        self.header_at = time.monotonic()
        now = time.time()
        for subjects, direct in self.routes:
            doc = {**self.head, "issued": now, "direct": direct}
            self.below.hub.send_live(subjects, pack(HEADER, self.sid, json.dumps(
                doc, ensure_ascii=False, separators=(",", ":")).encode(), self.below.signer))

    def _chime(self, chime) -> None:
        """The chime, then silence until the speaker's voice comes (the speaker waits for the chime to
        have played): the stations' voice goes on without a gap."""
        import numpy as np
        began = time.monotonic()
        silence = bytes(FRAME * 2)
        n = 0
        while not self.ended and n < len(chime) // FRAME + int(CHIME_WAIT / FRAME_S):
            chiming = n < len(chime) // FRAME
            if not chiming:
                self.chiming.clear()
            pcm = (np.clip(chime[n * FRAME:(n + 1) * FRAME], -1, 1) * 32767).astype("<i2").tobytes() if chiming \
                else silence
            with self.lock:
                if not chiming and self.voiced:
                    return
                self._frame(pcm)
            n += 1
            time.sleep(max(0.0, began + n * FRAME_S - time.monotonic()))
        self.chiming.clear()

    def put(self, seq: int, pcm: bytes) -> None:
        if self.chiming.is_set() or self.ended:
            return
        with self.lock:
            self.voiced = True
            self._frame(pcm)

    def _frame(self, pcm: bytes) -> None:
        for packet in self.encoder.encode(pcm):
            if not self.frames:
                self.first = self.count
            self.frames.append(packet)
            self.count += 1
        if len(self.frames) >= PACK:
            self._flush()
        if time.monotonic() - self.header_at >= HEADER_EVERY:
            self._header()

    def _flush(self) -> None:
        if self.frames:
            body = struct.pack(">dIB", time.time(), self.first, len(self.frames)) + b"".join(
                struct.pack(">H", len(p)) + p for p in self.frames)
            self.frames = []
            self._send(AUDIO, body)

    def end(self) -> None:
        with self.lock:
            if self.ended:
                return
            self.ended = True
            self._flush()
            self._send(END, struct.pack(">I", self.count))


# --- at a station ---------------------------------------------------------------------------------------

class _Session:
    def __init__(self, stream, relay: list[str]):
        self.stream, self.relay = stream, relay
        self.last = time.monotonic()


class LiveIn:
    """A station's side: the voices a hub above sends to it, played on the zones it serves among theirs
    (through the daemon's live desk) and passed on below when it is a hub too. ``take`` is called with
    every message on the station's live subject and never raises."""

    def __init__(self, daemon, keys: dict[str, str], hub=None):
        self.d = daemon
        self.verifier = Verifier(keys)
        self.hub = hub
        self.sessions: dict[bytes, _Session] = {}
        self.ended: dict[bytes, float] = {}
        self.refused: dict[str, float] = {}

    def take(self, data: bytes) -> None:
        try:
            self._take(data)
        except RefusedError as e:
            self._say(str(e))
        except Exception as e:   # one bad message never stops the voices that follow
            self._say(_("a live voice message could not be used: {reason}", reason=f"{type(e).__name__}: {e}"))

    def _say(self, text: str) -> None:
        now = time.monotonic()
        if now - self.refused.get(text, -1e9) > 60:   # once a minute, not for every message
            log.error(_("live voice from the hub refused: {reason}", reason=text))
            self.refused[text] = now

    def _take(self, data: bytes) -> None:
        signer, kind, sid, body = unpack(data, self.verifier)
        if sid in self.ended:
            return
        s = self.sessions.get(sid)
        if kind == HEADER:
            if s is not None and time.monotonic() - s.last > GIVE_UP:   # given up while the link was held:
                self._end(sid, remember=False)                         # the voice still going is joined again
                s = None
            if s is None:
                s = self._open(signer, sid, read_header(body))
            s.last = time.monotonic()
        elif s is None:
            return   # its session comes within a second
        elif kind == AUDIO:
            spoken, frames = read_audio(body)
            self._fresh(spoken)
            s.last = time.monotonic()
            if s.stream is not None:   # decoded by each zone in turn: a packet that is not there is concealed
                for seq, packet in frames:
                    s.stream.put(seq, packet=packet)
        else:
            self._end(sid)
        if s.relay:   # (only a hub has any)
            self.hub.send_live(s.relay, data)   # as it came, still signed by the hub that spoke

    def _open(self, signer: str, sid: bytes, head: dict) -> _Session:
        from broadcaster.daemon.live import LiveDesk
        self._tidy()
        self._fresh(head["issued"])
        zones = [z for z in dict.fromkeys(head["zones"]) if z in self.d.served]
        stream = None
        who, where = head["who"][:64], f"{head['from'][:48]} ({signer})"
        if zones:
            stream = self.d.get(LiveDesk).open(zones, head["priority"], who, where)
            log.warning(_("live: {who} from {where} speaks on {zones} ({priority})", who=who, where=where,
                          zones=", ".join(zones), priority=head["priority"]))
        relay = [x for subjects, _direct in self.hub.live_routes(head["zones"], origin=False, covered=set(
            str(c) for c in head.get("direct", []))) for x in subjects] if self.hub is not None else []
        if relay:
            log.info(_("live: the voice from {hub} passed on to {stations}", hub=signer,
                       stations=", ".join(x.rsplit(".", 1)[1] for x in relay)))
        s = self.sessions[sid] = _Session(stream, relay)
        return s

    def _fresh(self, at: float) -> None:
        """RefusedError for a message made more than FRESH seconds from now by this PC's clock (a replay, or
        a clock that is off: an alert says so, cleared by the next fresh one)."""
        from broadcaster.daemon.alerts import Alerts
        alerts = self.d.get(Alerts)
        if abs(at - time.time()) > FRESH:
            text = _("a live voice from {time} (this PC's clock or a replay): check the clock",
                     time=time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(at)))
            alerts.raise_("live", "clock", text)
            raise RefusedError(text)
        alerts.clear("live", "clock", _("a live voice of this moment came"))

    def _end(self, sid: bytes, remember: bool = True) -> None:
        s = self.sessions.pop(sid, None)
        if remember:   # ended by its hub: its late messages are not a new session
            self.ended[sid] = time.monotonic()
        if s is not None and s.stream is not None:
            from broadcaster.daemon.live import LiveDesk
            self.d.get(LiveDesk).close(s.stream)

    def _tidy(self) -> None:
        """Sessions whose hub went quiet for good (its end lost with the link) are ended here."""
        now = time.monotonic()
        for sid, s in list(self.sessions.items()):
            if now - s.last > GIVE_UP + 5:
                self._end(sid, remember=False)   # given up, not ended: its next header (a link back) rejoins it
        for sid, at in list(self.ended.items()):
            if now - at > 600:
                del self.ended[sid]

    def close(self) -> None:
        for sid in list(self.sessions):
            self._end(sid)


def live_routes(cfg, below: dict, zones: list[str], *, origin: bool, covered=()) -> list[tuple[list[str], list[str]]]:
    """Where a voice for ``zones`` goes from this hub, by station of its own that serves some of them
    (but those ``covered``, reached straight from above): [(subjects, the stations below it reached
    straight)]. Where the voice starts (``origin``), also straight into the account of each such station
    that is a hub, for its stations that serve them (known from its heartbeat)."""
    from broadcaster.fleet.orders import direct_targets
    wanted, out = set(zones), []
    for s in cfg.stations():
        mine = [z for z in cfg.zones_of(s) if z in wanted]
        if not mine or s in covered:
            continue
        subs = direct_targets((below.get(s) or {}).get("stations"), mine) if origin else []
        out.append(([names.live_subject(s), *(names.down_live_subject(s, sub) for sub in subs)], subs))
    return out
