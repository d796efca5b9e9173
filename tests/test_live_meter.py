"""The live meter says what is true now (issue 37, item 4): a station below counts as playing the voice only
from a heartbeat of the last few seconds; one cut off 31 s ago (or a day) is not on the air, whatever its last
heartbeat said."""

from __future__ import annotations

from broadcaster.fleet.status import LIVE_FRESH, playing_below


def row(station: str, seen: float | None, *playing: str) -> dict:
    return {"station": station, "last_seen": seen, "playing": [{"zone": z, "bulletin": "live:an"} for z in playing]}


def test_a_station_cut_off_is_not_on_the_air_whatever_its_last_heartbeat_said():
    now = 1_800_000_000.0
    rows = [row("s1", now - 2, "z1"), row("s2", now - 31, "z2"), row("s3", now - 86400, "z3"), row("s4", None, "z4"),
            {"station": "s5", "last_seen": now - 1, "playing": [{"zone": "z5", "bulletin": "d"}]}]
    assert playing_below(rows, "live:an", now) == {"z1"}
    assert LIVE_FRESH <= 10   # the speaker hears within 10 s that a station dropped out
    assert playing_below([row("s1", now - LIVE_FRESH - 0.1, "z1")], "live:an", now) == set()
