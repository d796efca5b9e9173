"""Sound outputs through the real audio path (private PulseAudio, null sinks)."""

from __future__ import annotations

import pytest

from broadcaster.errors import PlaybackError
from broadcaster.audio.player import find_output, list_outputs


def test_devices_lists_each_zone_sink_by_name(pulse, project):
    r = project.run("devices")
    assert r.code == 0, r.err
    names = [line.split()[1] for line in r.out.splitlines()[1:-1]]
    assert "zone_a" in names and "zone_b" in names
    assert "* = the default output" in r.out


def test_find_output_by_exact_or_partial_name(pulse):
    outs = list_outputs()
    assert find_output("zone_a", outs).name == "zone_a"
    assert find_output("default", outs).is_default
    with pytest.raises(PlaybackError, match='"zone" matches several sound outputs'):
        find_output("zone", outs)
    with pytest.raises(PlaybackError, match='no sound output is called "USB Audio"'):
        find_output("USB Audio", outs)
