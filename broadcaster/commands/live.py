"""`broadcaster live`: speak now, from this PC's microphone or line-in, on chosen zones."""

from __future__ import annotations

import getpass
import json
import math
import queue
import socket
import struct
import sys
import threading
import time

import click
import numpy as np

from broadcaster.commands.common import Context, require_known
from broadcaster.errors import PlaybackError
from broadcaster.i18n import N_, _


@click.command()
@click.option("--zone", "zones", multiple=True, help=N_("speak on this zone (repeatable)"))
@click.option("--group", "groups", multiple=True, metavar="NAME", help=N_("speak on every zone of this group (repeatable)"))
@click.option("--station", "stations", multiple=True, metavar="ID",
              help=N_("speak on the zones of this station below (repeatable; at a hub)"))
@click.option("--all", "everywhere", is_flag=True, help=N_("speak on every zone this PC plays and, at a hub, on every "
                                                           "station below"))
@click.option("--urgent", "priority", flag_value="urgent", default=True,
              help=N_("fade out what plays and speak now, even in quiet hours (the default)"))
@click.option("--priority", "priority", flag_value="priority", help=N_("wait until what plays has ended"))
@click.option("--device", metavar="INPUT", help=N_("the microphone or line-in, by name as `broadcaster devices` lists it"))
@click.option("--chime/--no-chime", default=True, show_default=True,
              help=N_("the [live] chime before the voice, when schedule.toml has one"))
@click.pass_obj
def live(obj: Context, zones: tuple[str, ...], groups: tuple[str, ...], stations: tuple[str, ...], everywhere: bool,
         priority: str,
         device: str | None, chime: bool) -> None:
    """Speak live on the loudspeakers, now: through this PC's running daemon. Enter or Ctrl+C ends it."""
    from broadcaster.audio.live import FRAME, WIRE_RATE, Keeper
    from broadcaster.daemon.live import desk_address
    cfg = obj.config()
    require_known("zone", zones, cfg)
    require_known("group", groups, cfg, hint=_("groups: {groups}", groups=", ".join(cfg.groups) or "-"),
                  known=cfg.groups)
    require_known("station", stations, cfg, hint=_("stations: {stations}", stations=", ".join(cfg.stations()) or "-"),
                  known=cfg.stations())
    chosen = [*zones, *(z for g in groups for z in cfg.groups[g]), *(z for s in stations for z in cfg.zones_of(s))]
    if everywhere:
        chosen += list(cfg.zones)   # this PC's own and, at a hub, its stations' (the daemon passes them on)
    chosen = list(dict.fromkeys(chosen))
    if not chosen:
        raise click.UsageError(_("say where: --zone ZONE, --group NAME, --station ID or --all"))
    desk = desk_address(cfg.paths.state)
    if desk is None:
        raise PlaybackError(_("no daemon runs on this PC: the daemon plays the voice (it owns the sound devices)"),
                            hint=_("start it first: broadcaster daemon"))
    mic = _open_input(device)
    conn = socket.create_connection(("127.0.0.1", desk[0]), timeout=10)
    conn.sendall((json.dumps({"key": desk[1], "zones": chosen, "priority": priority, "who": getpass.getuser(),
                              "from": socket.gethostname(), "chime": chime}) + "\n").encode())
    answer = json.loads(conn.makefile("rb").readline(4096) or b"{}")
    if "zones" not in answer:
        raise PlaybackError(_("the daemon refused: {reason}", reason=answer.get("error", "?")))
    conn.settimeout(None)
    if answer.get("chime"):   # what is said while the chime plays is not kept: wait for it
        click.echo(_("The chime plays ({seconds} s)…", seconds=answer["chime"]), err=True)
        time.sleep(answer["chime"] + 0.8)
    click.echo(_("On the air on {zones} ({priority}). Speak; press Enter to end.", zones=", ".join(answer["zones"]),
                 priority=priority), err=True)
    done = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.readline(), done.set()), daemon=True).start()
    receiving: list[str] = []
    threading.Thread(target=_follow, args=(cfg, answer["zones"], f"live:{getpass.getuser()}", receiving, done),
                     daemon=True).start()
    seq, rest, shown, began = 0, np.zeros(0, np.float32), 0.0, time.monotonic()
    keeper = Keeper(cfg.paths.state, getpass.getuser())   # the voice kept here, as an upload is
    try:
        with mic.stream:
            while not done.is_set():
                try:
                    block = mic.blocks.get(timeout=0.2)
                except queue.Empty:
                    continue
                x = block[:, 0] if block.ndim > 1 else block
                n = int(len(x) * WIRE_RATE / mic.rate)
                rest = np.concatenate([rest, np.interp(np.arange(n) * mic.rate / WIRE_RATE, np.arange(len(x)), x)
                                       .astype(np.float32)])
                while len(rest) >= FRAME:
                    frame, rest = rest[:FRAME], rest[FRAME:]
                    pcm = (np.clip(frame, -1, 1) * 32767).astype("<i2").tobytes()
                    conn.sendall(struct.pack(">II", len(pcm), seq) + pcm)
                    keeper.write(pcm)
                    seq += 1
                if time.monotonic() - shown > 0.1:
                    shown = time.monotonic()
                    level = 20 * math.log10(max(1e-6, float(np.sqrt(np.mean(x * x)))))
                    bar = "#" * max(0, min(30, int((level + 60) / 2)))
                    click.echo(f"\r{bar:<30} {level:6.1f} dB  {int(shown - began) // 60:02d}:"
                               f"{int(shown - began) % 60:02d}  " + _("on the air: {count}/{all}", count=len(receiving),
                                                                      all=len(answer["zones"])), nl=False, err=True)
    except KeyboardInterrupt:
        pass
    finally:
        try:
            conn.sendall(struct.pack(">II", 0, seq))   # the end: the daemon fades it out
        except OSError:
            pass
        conn.close()
        keeper.close()
    click.echo("", err=True)
    click.echo(_("Ended: {seconds} s of voice sent (kept in {file}).", seconds=f"{seq * FRAME / WIRE_RATE:.1f}",
                 file=keeper.path))
    if mic.lost:
        click.echo(_("Warning: {seconds} s of the microphone were lost: this PC did not keep up (close other programs)",
                     seconds=f"{mic.lost / 50:.1f}"), err=True)


def _follow(cfg, zones: list[str], label: str, receiving: list[str], done: threading.Event) -> None:
    """Every few seconds, which of the zones play the voice now (a station's from its heartbeat)."""
    from broadcaster.fleet.status import live_on_air
    from broadcaster.records.playlog import Journal
    while not done.wait(2.0):
        journal = Journal(cfg.paths.state)
        try:
            receiving[:] = live_on_air(cfg, journal, zones, label)
        except Exception:   # the meter goes on; the count is only shown
            pass
        finally:
            journal.close()


class _Input:
    def __init__(self, stream, rate: int, blocks: queue.Queue):
        self.stream, self.rate, self.blocks = stream, rate, blocks
        self.lost = 0   # blocks the sound input delivered that found no room (this program fell behind)


def _open_input(name: str | None) -> _Input:
    """The microphone (or line-in) as a stream of blocks at its own rate."""
    import sounddevice as sd
    from broadcaster.audio.player import find_output
    index = find_output(name, inputs=True).index if name else None
    info = sd.query_devices(index, "input")
    rate = int(info["default_samplerate"]) or 48000
    blocks: queue.Queue = queue.Queue(maxsize=200)
    made = _Input(None, rate, blocks)

    def callback(data, frames, when, status):
        try:
            blocks.put_nowait(data.copy())
        except queue.Full:
            made.lost += 1
    try:
        stream = sd.InputStream(device=index, channels=1, samplerate=rate, dtype="float32", blocksize=rate // 50,
                                callback=callback)
    except Exception as e:   # PortAudioError: the device is busy or gone
        raise PlaybackError(_("cannot open the sound input: {reason}", reason=e),
                            hint=_("run `broadcaster devices` and give its name with --device")) from None
    made.stream = stream
    return made
