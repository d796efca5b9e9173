"""The names on the message server, and what each station may do there (least privilege).

Each hub has an account of its own; inside it, a station can read only its own programme and
commands and hear only its own live voice, and write only its own heartbeat and play-log rows; the hub's audio store is shared by its
stations (content-addressed public broadcasts). Every subject is spelt out, so the server itself
refuses anything else.
"""

from __future__ import annotations

PROGRAMMES = "bc_programme"     # key-value: station → its signed programme (manifest)
STATES = "bc_state"             # key-value: station → its latest heartbeat
RELEASES = "bc_release"         # key-value: station → the signed release of broadcaster it is to run
AUDIO = "bc_audio"              # object store: SHA-256 → audio
LOG_STREAM = "BC_LOG"           # play-log rows coming back: bc.log.<station>
CMD_STREAM = "BC_CMD"           # commands going down: bc.cmd.<station>
AUDIO_IN = "BC_AUDIO_IN"        # a command's audio sent from a hub above into this hub's account: bc.audio.<sha256>
UP_API = "up"                   # the account above's direct gets of its two audio streams, imported under up.DIRECT.GET
MAX_AUDIO_MESSAGE = 3_900_000   # bytes of audio that go as one message (max_payload is 4 MB)
LOG_CONSUMER = "district_log"   # the hub's durable consumer of LOG_STREAM (its name kept from the first version)
STATE_TTL = 24 * 3600           # a heartbeat older than a day is gone from the server
DUPLICATE_WINDOW = 3600         # seconds in which a log row sent twice is stored once
HEARTBEAT_FORMAT = 1            # what a heartbeat says, and how: a hub reads those of the formats it knows


UP_STREAMS = (f"OBJ_{AUDIO}", AUDIO_IN)   # what an account lets the accounts below read (public broadcasts)


def hub_user(hub: str) -> str:
    """The hub's own user in its account (user names are unique across the whole server)."""
    return f"hub.{hub}"


def down_subject(child: str, station: str) -> str:
    """In a hub's account: the command subject of ``station`` in the account of the hub ``child`` below
    (imported from that account), so that a command reaches a commune's cluster with the commune's PC off."""
    return f"down.{child}.cmd.{station}"


def down_audio_subject(child: str, sha: str) -> str:
    """In a hub's account: where the audio of a command goes into the account of the hub ``child`` below."""
    return f"down.{child}.audio.{sha}"


def live_subject(station: str) -> str:
    """A live voice for ``station`` (core NATS, not kept: it is now or never)."""
    return f"bc.live.{station}"


def down_live_subject(child: str, station: str) -> str:
    """In a hub's account: a live voice for ``station`` in the account of the hub ``child`` below."""
    return f"down.{child}.live.{station}"


def now_subject(station: str) -> str:
    """A command for ``station`` sent at once on core NATS besides its stream (``cmd_subject``): it needs
    no JetStream leader, so a warning is not held up while a cluster elects one after losing a node. The
    station takes a command once, by its id, whichever way comes first."""
    return f"bc.now.{station}"


def down_now_subject(child: str, station: str) -> str:
    """In a hub's account: ``now_subject`` of ``station`` in the account of the hub ``child`` below."""
    return f"down.{child}.now.{station}"


def audio_subject(sha: str) -> str:
    return f"bc.audio.{sha}"


def log_subject(station: str) -> str:
    return f"bc.log.{station}"


def cmd_subject(station: str) -> str:
    return f"bc.cmd.{station}"


def cmd_consumer(station: str) -> str:
    return f"cmd_{station}"


def inbox_prefix(station: str) -> str:
    """Each station's replies arrive under its own prefix, so it may subscribe to nothing else."""
    return f"_INBOX_{station}"


def programme_key_subject(station: str) -> str:
    return f"$KV.{PROGRAMMES}.{station}"


def station_permissions(station: str) -> dict[str, list[str]]:
    """The subjects a station's user may publish and subscribe to."""
    obj = f"OBJ_{AUDIO}"
    return {
        "publish": [
            f"$JS.API.DIRECT.GET.KV_{PROGRAMMES}.{programme_key_subject(station)}",   # read its programme
            f"$JS.API.DIRECT.GET.KV_{RELEASES}.$KV.{RELEASES}.{station}",             # and its release
            f"$KV.{STATES}.{station}",                                               # its heartbeat
            log_subject(station),                                                    # its play-log rows
            f"$JS.API.CONSUMER.MSG.NEXT.{CMD_STREAM}.{cmd_consumer(station)}",        # its commands
            f"$JS.API.CONSUMER.INFO.{CMD_STREAM}.{cmd_consumer(station)}",
            f"$JS.ACK.{CMD_STREAM}.{cmd_consumer(station)}.>",
            # the hub's audio store: read only, by direct gets (no consumer on the server per station)
            f"$JS.API.DIRECT.GET.{obj}", f"$JS.API.DIRECT.GET.{obj}.>",
            f"$JS.API.DIRECT.GET.{AUDIO_IN}.>",   # a command's audio a hub above put in this account
            *(f"{UP_API}.DIRECT.GET.{x}{t}" for x in UP_STREAMS for t in ("", ".>")),   # those of the account above
        ],
        "subscribe": [f"{inbox_prefix(station)}.>", programme_key_subject(station), live_subject(station),
                      now_subject(station), f"$KV.{RELEASES}.{station}"],
    }
