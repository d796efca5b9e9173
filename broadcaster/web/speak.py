"""Nói trực tiếp: speak live from the browser (a phone or a PC) on chosen zones. The browser's
microphone needs HTTPS (`broadcaster web --cert --key`). Its voice comes as 20-ms Opus packets (a
browser with WebCodecs: ~30 kb/s up, what a phone on 3G can send) or, from one without, as 20-ms frames
of 16-bit samples at 16 kHz (256 kb/s), in small POSTs (each through the same guard as every page:
session, the `speak` right, the CSRF token, a size cap), and goes to this PC's daemon by its live desk,
as `broadcaster live` does; it is kept here as a WAV (``<state>/live/``)."""

from __future__ import annotations

import asyncio
import json
import secrets
import socket
import struct
import threading
import time
from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from broadcaster.audio.live import FRAME, WIRE_RATE, Keeper
from broadcaster.config.places import villages_of
from broadcaster.i18n import _
from broadcaster.records.accounts import allowed_zones
from broadcaster.daemon.live import desk_address
from broadcaster.records.playlog import Journal
from broadcaster.web.common import Page, address, chosen_zones, render, targets_within

CHUNK = 4 + FRAME * 2        # one frame in a POST: its sequence number, then its samples
MAX_POST = 64 * CHUNK        # at most 1.28 s of voice in one POST
MAX_PACKET = 1275            # the largest Opus packet there is (RFC 6716)
MAX_OPUS_POST = 64 * (6 + MAX_PACKET)   # 64 packets: [sequence number, length, packet] each
IDLE = 10.0                  # seconds without voice: the session ends (a phone that went away)


@dataclass
class Talk:
    sid: str
    user: str
    uid: str                    # the account's own id: a removed account added again is another one
    zones: list[str]
    conn: socket.socket
    keeper: Keeper
    frames: int = 0
    received: int = 0           # bytes of voice that came from the browser
    codec: str = "pcm"
    decoder: object = None      # Opus, made on the first packet
    last: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def close(self) -> None:
        with self.lock:
            try:
                self.conn.sendall(struct.pack(">II", 0, self.frames))
            except OSError:
                pass
            self.conn.close()
            self.keeper.close()


def _talks(request: Request) -> dict[str, Talk]:
    state = request.app.state
    if not hasattr(state, "talks"):
        state.talks = {}
    now = time.monotonic()
    for sid, t in list(state.talks.items()):   # a browser that went away: its voice ends
        if now - t.last > IDLE:
            state.talks.pop(sid).close()
    return state.talks


def _speakable(cfg) -> set[str]:
    """The zones a voice spoken here reaches: those this PC's running daemon plays and, at a hub whose
    daemon runs, those of its stations below (the daemon passes the voice on to them)."""
    journal = Journal(cfg.paths.state)
    try:
        daemons = journal.live_daemons()
    finally:
        journal.close()
    served = {z for _pid, zs in daemons for z in zs}
    if daemons and cfg.fleet is not None:
        served |= {z for z, zone in cfg.zones.items() if zone.station}
    return served


def _stations_for(cfg, user, zones) -> list[str]:
    """The stations below a hub offered whole: to an account of every place, those whose zones are offered."""
    return [] if user.places else [s for s in cfg.stations() if set(cfg.zones_of(s)) <= set(zones)]


async def speak(request: Request) -> Response:
    cfg = request.app.state.console.cfg()
    user = request.state.user
    allowed = allowed_zones(user, cfg.zones, cfg.groups)
    targets = targets_within(cfg, allowed & _speakable(cfg))
    # a village with some clusters played elsewhere is offered with those played here
    return render(request, "speak.html", **{**targets, "villages": villages_of(targets["zones"]),
                                            "stations": _stations_for(cfg, user, targets["zones"])})


async def start(request: Request) -> Response:
    """Open a live session on the chosen zones: {"sid", "zones"}, or {"error"} with why not."""
    console = request.app.state.console
    cfg = console.cfg()
    user = request.state.user
    lang = request.state.lang
    form = await request.form()
    speakable, allowed = _speakable(cfg), allowed_zones(user, cfg.zones, cfg.groups)
    offered = _stations_for(cfg, user, speakable)
    if user.places and form.getlist("station"):   # an account limited to some places never speaks to a whole station
        console.accounts.audit(user.name, address(request), "refused",
                               f"speak to stations {', '.join(form.getlist('station'))[:200]}")
        return JSONResponse({"error": _("{name} may play only on {places}", lang, name=user.name,
                                        places=", ".join(user.places))}, 403)
    asked = chosen_zones(cfg, form, offered)
    if form.get("all") == "1":   # every zone this PC's daemon plays or passes on, within the account's places
        asked += sorted(speakable & allowed)
    zones = list(dict.fromkeys(asked))
    outside = [z for z in zones if z not in allowed]
    if outside:
        console.accounts.audit(user.name, address(request), "refused", f"speak outside its places: {', '.join(outside)}")
        return JSONResponse({"error": _("{name} may play only on {places}", lang, name=user.name,
                                        places=", ".join(user.places))}, 403)
    if not zones:
        return JSONResponse({"error": _("choose at least one zone", lang)}, 400)
    priority = "priority" if form.get("priority") == "priority" else "urgent"
    desk = desk_address(cfg.paths.state)
    if desk is None:
        return JSONResponse({"error": _("no daemon runs on this PC: the daemon plays the voice (it owns the sound "
                                        "devices)", lang)}, 409)
    head = {"key": desk[1], "zones": zones, "priority": priority, "who": user.name, "chime": form.get("chime") == "1",
            "from": f"{_('the console', lang)} ({address(request)})"}

    def connect():
        c = socket.create_connection(("127.0.0.1", desk[0]), timeout=5)
        c.sendall((json.dumps(head) + "\n").encode())
        return c, json.loads(c.makefile("rb").readline(4096) or b"{}")
    try:
        conn, answer = await asyncio.to_thread(connect)
    except (OSError, ValueError) as e:
        return JSONResponse({"error": str(e)}, 502)
    if "zones" not in answer:
        conn.close()
        return JSONResponse({"error": answer.get("error", "?")}, 409)
    talk = Talk(secrets.token_urlsafe(16), user.name, user.uid, answer["zones"], conn,
                Keeper(cfg.paths.state, user.name))
    _talks(request)[talk.sid] = talk
    console.accounts.audit(user.name, address(request), "speak", f"{', '.join(zones)} ({priority})")
    return JSONResponse({"sid": talk.sid, "zones": talk.zones, "chime": answer.get("chime", 0)})


def _mine(request: Request) -> Talk | None:
    """The session's own live talk, while its account may still speak on every zone of it: an account whose
    places no longer cover them (or removed and added again) ends the talk, audited."""
    t = _talks(request).get(request.path_params["sid"])
    user = request.state.user
    if t is None or t.user != user.name:
        return None
    cfg = request.app.state.console.cfg()
    outside = [z for z in t.zones if z not in allowed_zones(user, cfg.zones, cfg.groups)]
    if t.uid != user.uid or outside:
        _talks(request).pop(t.sid, None)
        t.close()
        request.app.state.console.accounts.audit(user.name, address(request), "refused",
                                                 f"speak outside its places now: {', '.join(outside) or 'account'}")
        return None
    return t


def end_talks_of(app, name: str) -> int:
    """End every live talk of the account ``name`` (its role, places or password changed, or it was
    removed): what it says from now on is not on the air. How many were ended."""
    talks = getattr(app.state, "talks", {})
    ended = [sid for sid, t in talks.items() if t.user == name]
    for sid in ended:
        talks.pop(sid).close()
    return len(ended)


async def audio(request: Request) -> Response:
    """Frames of the voice: [4 bytes of sequence number, 640 bytes of samples] × n."""
    talk = _mine(request)
    if talk is None:
        return JSONResponse({"error": _("this live session has ended", request.state.lang)}, 410)
    body = await request.body()
    if len(body) % CHUNK:
        return JSONResponse({"error": "frames of 644 bytes"}, 400)
    frames = [(struct.unpack(">I", body[i:i + 4])[0], body[i + 4:i + CHUNK]) for i in range(0, len(body), CHUNK)]
    return _forward(request, talk, frames, len(body))


async def opus(request: Request) -> Response:
    """Opus packets of 20 ms: [4 bytes of sequence number, 2 of length, the packet] × n. Checked whole
    before any reaches the air: a bad POST changes nothing and the session goes on."""
    talk = _mine(request)
    if talk is None:
        return JSONResponse({"error": _("this live session has ended", request.state.lang)}, 410)
    body = await request.body()
    packets, at = [], 0
    while at < len(body):
        if at + 6 > len(body):
            return JSONResponse({"error": "a packet's header is cut short"}, 400)
        seq, n = struct.unpack(">IH", body[at:at + 6])
        if not 0 < n <= MAX_PACKET or at + 6 + n > len(body):
            return JSONResponse({"error": f"a packet of {n} bytes at byte {at}"}, 400)
        packets.append((seq, body[at + 6:at + 6 + n]))
        at += 6 + n
    with talk.lock:
        if talk.decoder is None:
            from broadcaster.audio.opus import Decoder
            talk.decoder = Decoder()
        frames = []
        for seq, packet in packets:
            try:
                pcm = talk.decoder.decode(packet)
            except ValueError:
                pcm = b""
            if len(pcm) != FRAME * 2:
                return JSONResponse({"error": f"packet {seq} is not 20 ms of Opus"}, 400)
            frames.append((seq, pcm))
        talk.codec = "opus"
    return _forward(request, talk, frames, len(body))


def _forward(request: Request, talk: Talk, frames: list[tuple[int, bytes]], size: int) -> Response:
    """The voice's frames to the daemon (which plays them and passes them on) and to the kept WAV."""
    out = bytearray()
    for seq, pcm in frames:
        out += struct.pack(">II", len(pcm), seq) + pcm
        talk.keeper.write(pcm)
    with talk.lock:
        try:
            talk.conn.sendall(bytes(out))
        except OSError:
            _talks(request).pop(talk.sid, None)
            return JSONResponse({"error": _("the daemon stopped the live session", request.state.lang)}, 410)
        talk.frames += len(frames)
        talk.received += size
        talk.last = time.monotonic()
    return JSONResponse({"frames": talk.frames})


def _on_air(cfg, talk: Talk) -> list[str]:
    from broadcaster.fleet.status import live_on_air
    journal = Journal(cfg.paths.state)
    try:
        return live_on_air(cfg, journal, talk.zones, f"live:{talk.user}")
    finally:
        journal.close()


async def status(request: Request) -> Response:
    talk = _mine(request)
    if talk is None:
        return JSONResponse({"error": _("this live session has ended", request.state.lang)}, 410)
    cfg = request.app.state.console.cfg()
    on = await asyncio.to_thread(_on_air, cfg, talk)
    return JSONResponse({"zones": talk.zones, "on_air": on})


async def end(request: Request) -> Response:
    talk = _mine(request)
    if talk is not None:
        _talks(request).pop(talk.sid, None)
        talk.close()
        request.app.state.console.accounts.audit(
            request.state.user.name, address(request), "speak end",
            f"{talk.frames * FRAME / WIRE_RATE:.1f} s ({talk.codec}, {talk.received / 1000:.0f} kB), "
            f"kept in {talk.keeper.path.name}")
    return JSONResponse({"ended": True})


ROUTES = [
    Page("/speak", speak, {"GET": "speak"}),
    Page("/speak/start", start, {"POST": "speak"}),
    Page("/speak/{sid}/audio", audio, {"POST": "speak"}, MAX_POST),
    Page("/speak/{sid}/opus", opus, {"POST": "speak"}, MAX_OPUS_POST),
    Page("/speak/{sid}/end", end, {"POST": "speak"}),
    Page("/speak/{sid}/status", status, {"GET": "speak"}),
]
