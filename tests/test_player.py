"""Sound outputs through the real audio path (private PulseAudio, null sinks)."""

from __future__ import annotations

import pytest

from broadcaster.errors import PlaybackError
from broadcaster.audio.player import find_output, list_outputs


def test_devices_lists_each_zone_sink_by_name(pulse, project):
    r = project.run("devices")
    assert r.code == 0, r.err
    outputs, _sep, inputs = r.out.partition("* = the default output")
    names = [line.split()[1] for line in outputs.splitlines()[1:]]
    assert "zone_a" in names and "zone_b" in names
    # the inputs follow (a line-in to relay): the sinks' monitors are inputs through the pulse plugin
    assert "Inputs (a line-in to relay" in inputs and "zone_a" in inputs


def test_find_output_by_exact_or_partial_name(pulse):
    outs = list_outputs()
    assert find_output("zone_a", outs).name == "zone_a"
    assert find_output("default", outs).is_default
    with pytest.raises(PlaybackError, match='"zone" matches several sound outputs'):
        find_output("zone", outs)
    with pytest.raises(PlaybackError, match='no sound output is called "USB Audio"'):
        find_output("USB Audio", outs)


def test_an_mp3_is_fed_to_the_sound_card_exactly_as_it_decodes_whole(tmp_path):
    """The player reads its file in blocks; with libsndfile 1.1–1.2 a plain block read of an MP3
    decoded wrong samples (off by up to 0.85 in a 7-minute bulletin) wherever soundfile asked the
    decoder where it was. What reaches the output must be the file, sample for sample."""
    import numpy as np
    import soundfile as sf
    from broadcaster.audio.files import encode_file, read_blocks
    from broadcaster.audio.playback import _Feeder
    rate = 44100
    t = np.arange(rate * 20) / rate
    hum = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)   # a steady tone showed it at once
    path = tmp_path / "b.mp3"
    encode_file(path, hum, rate, "mp3", {})
    whole, _r = sf.read(str(path), dtype="float32", always_2d=True)
    feeder = _Feeder(path, 1.0)
    feeder.start()
    fed = []
    while (block := feeder.blocks.get(timeout=10)) is not None:
        fed.append(block)
    fed = np.concatenate(fed)
    assert fed.shape == whole.shape and np.abs(fed - whole).max() < 1e-6
    _rate, blocks = read_blocks(path, 2048, what="b")
    assert np.abs(np.concatenate(list(blocks)) - whole).max() < 1e-6
