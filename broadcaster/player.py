"""Sound outputs: the one module that knows sounddevice (and so PortAudio)."""

from __future__ import annotations

from dataclasses import dataclass

from broadcaster.errors import PlaybackError

PORTAUDIO_HINT = "install PortAudio: apt-get install libportaudio2 (on Windows it comes with the sounddevice package)"


@dataclass(frozen=True)
class Output:
    index: int
    name: str
    hostapi: str
    channels: int
    default_rate: float
    is_default: bool


def _sd():
    try:
        import sounddevice
    except OSError as e:  # the Python package is there, the PortAudio library is not
        raise PlaybackError(f"the sound system cannot be used: {e}", hint=PORTAUDIO_HINT) from None
    return sounddevice


def list_outputs() -> list[Output]:
    """Every device that can play sound, as sounddevice sees it."""
    sd = _sd()
    try:
        devices = sd.query_devices()
        apis = sd.query_hostapis()
        default_out = sd.default.device[1]
    except sd.PortAudioError as e:
        raise PlaybackError(f"the sound system did not answer: {e}", hint=PORTAUDIO_HINT) from None
    return [Output(d["index"], d["name"], apis[d["hostapi"]]["name"], d["max_output_channels"],
                   d["default_samplerate"], d["index"] == default_out)
            for d in devices if d["max_output_channels"] > 0]


def find_output(name: str, outputs: list[Output] | None = None) -> Output:
    """The output whose name is ``name``, or contains it ("default" is the system default)."""
    outputs = list_outputs() if outputs is None else outputs
    if name == "default":
        for o in outputs:
            if o.is_default:
                return o
    exact = [o for o in outputs if o.name == name]
    partial = exact or [o for o in outputs if name.lower() in o.name.lower()]
    if len(partial) == 1:
        return partial[0]
    names = ", ".join(f'"{o.name}"' for o in outputs) or "none"
    if not partial:
        raise PlaybackError(f'no sound output is called "{name}"',
                            hint=f"run `broadcaster devices`; outputs here: {names}")
    raise PlaybackError(f'"{name}" matches several sound outputs: '
                        + ", ".join(f'"{o.name}"' for o in partial),
                        hint="use more of the name")
