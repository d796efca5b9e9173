"""A live voice from above cannot be replayed (issue 37, item 6) and a station rejoins a voice it gave up
(item 3). The messages are the real ones (Opus, signed with a hub's real Ed25519 key, checked by the station's
real LiveIn); only what LiveIn hands them to, the daemon's live desk and alerts, is a recorder here."""

from __future__ import annotations

import json
import time

import pytest

from broadcaster.audio.live import FRAME
from broadcaster.fleet import live
from broadcaster.fleet.signing import Signer, new_private_key, public_key


class Desk:
    def __init__(self):
        self.opened, self.closed, self.frames = [], [], []

    def open(self, zones, priority, who, where):
        self.opened.append(zones)
        return self

    def put(self, seq, pcm=None, *, packet=None):
        self.frames.append(seq)

    def close(self, stream):
        self.closed.append(stream)


class Alerts:
    def __init__(self):
        self.raised = {}

    def raise_(self, zone, kind, detail):
        self.raised[(zone, kind)] = detail

    def clear(self, zone, kind, why):
        self.raised.pop((zone, kind), None)


class Daemon:
    served = ["s1"]

    def __init__(self):
        self.parts = {"LiveDesk": Desk(), "Alerts": Alerts()}

    def get(self, kind):
        return self.parts[kind.__name__]


@pytest.fixture
def hub():
    key = new_private_key()
    return Signer(key), {"tinh": public_key(key)}


def messages(signer, sid: bytes, at: float, first: int = 0) -> list[bytes]:
    from broadcaster.audio.opus import Encoder
    head = {"zones": ["s1"], "priority": "urgent", "who": "an", "from": "the console", "by": "tinh", "issued": at}
    packets = [p for _i in range(3) for p in Encoder().encode(bytes(FRAME * 2))][:3]
    body = json.dumps(head).encode()
    audio = live.struct.pack(">dIB", at, first, len(packets)) + b"".join(
        live.struct.pack(">H", len(p)) + p for p in packets)
    return [live.pack(live.HEADER, sid, body, signer), live.pack(live.AUDIO, sid, audio, signer)]


def test_a_captured_voice_is_not_played_again_and_a_fresh_one_is(hub):
    signer, keys = hub
    d = Daemon()
    station = live.LiveIn(d, keys)
    captured = messages(signer, b"s" * 16, time.time() - 60)   # recorded off the wire a minute ago
    for m in captured:
        station.take(m)
    assert d.parts["LiveDesk"].opened == [] and d.parts["LiveDesk"].frames == []
    assert ("live", "clock") in d.parts["Alerts"].raised   # a replay, or this PC's clock: said
    # a restarted station remembers nothing: the same is refused by its time alone
    again = live.LiveIn(Daemon(), keys)
    for m in captured:
        again.take(m)
    assert again.d.parts["LiveDesk"].opened == []
    for m in messages(signer, b"t" * 16, time.time()):
        station.take(m)
    assert d.parts["LiveDesk"].opened == [["s1"]] and d.parts["LiveDesk"].frames == [0, 1, 2]
    assert ("live", "clock") not in d.parts["Alerts"].raised
    # frames of a session that are old (held back, or replayed into a live session) are not played
    old = messages(signer, b"t" * 16, time.time() - 30, first=3)[1]
    station.take(old)
    assert d.parts["LiveDesk"].frames == [0, 1, 2]


def test_a_voice_given_up_while_the_link_was_held_is_joined_again(hub):
    signer, keys = hub
    d = Daemon()
    station = live.LiveIn(d, keys)
    for m in messages(signer, b"u" * 16, time.time()):
        station.take(m)
    station.sessions[b"u" * 16].last -= live.GIVE_UP + 1   # the link held longer than the give-up
    for m in messages(signer, b"u" * 16, time.time(), first=500):
        station.take(m)
    desk = d.parts["LiveDesk"]
    assert desk.opened == [["s1"], ["s1"]] and len(desk.closed) == 1 and desk.frames[-3:] == [500, 501, 502]
