"""The one module that knows the NATS client: a connection to the message server, as a hub in its own
account or as a station of the hub above, and the few things each side does there. Every failure
becomes a FleetError a technician can act on."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Awaitable, Callable


def _load_nats():
    """nats-py imports aiohttp (with yarl, multidict, …: ~10 MB) for a WebSocket transport we never use
    (nats:// and tls:// only): it is kept out while nats loads, so a cluster's small board does not carry
    it. A process that already has aiohttp (the console rendering with edge) keeps it as it is."""
    import sys
    if "aiohttp" in sys.modules:
        return
    sys.modules["aiohttp"] = None   # `import aiohttp` fails inside nats: its transport notes "no WebSocket"
    try:
        import nats.aio.transport  # noqa: F401
    finally:
        del sys.modules["aiohttp"]


_load_nats()
import nats  # noqa: E402
from nats.errors import Error as NatsError  # noqa: E402
from nats.js.errors import NoKeysError, NotFoundError, ObjectNotFoundError  # noqa: E402

from broadcaster.errors import FleetError  # noqa: E402
from broadcaster.fleet import names  # noqa: E402
from broadcaster.fleet.credentials import Credentials  # noqa: E402
from broadcaster.i18n import _  # noqa: E402

CONNECT_TIMEOUT = 6.0
REQUEST_TIMEOUT = 5.0
QUICK = 1.0            # seconds a small direct get (a heartbeat, an object's description) waits before it is asked again
PING_EVERY = 10        # seconds between the client's pings to its server
RETRY_FOR = 20.0       # seconds a request is asked again while a cluster recovers from losing a server


class States(dict):
    """Stations' heartbeats by name, and the names whose heartbeat could not be read (``failed``)."""
    def __init__(self):
        super().__init__()
        self.failed: set[str] = set()


def _transient(e: BaseException) -> bool:
    """A failure that another try may not meet: a time-out, a lost connection, no leader for a moment."""
    from nats.errors import ConnectionClosedError, NoRespondersError, TimeoutError as NatsTimeout
    from nats.js.errors import NoStreamResponseError, ServiceUnavailableError
    return isinstance(e, (asyncio.TimeoutError, NatsTimeout, NoRespondersError, ConnectionClosedError, OSError,
                          ServiceUnavailableError, NoStreamResponseError))


def _reason(errors: list[BaseException], default: BaseException | None) -> tuple[str, str]:
    """(what happened, what to do) from the client's errors."""
    text = " ".join(repr(e) for e in errors) + (repr(default) if default else "")
    if "Authorization Violation" in text or "authorization" in text.lower():
        return (_("the server refused our credentials"),
                _("check the credentials file, or ask the hub to run broadcaster fleet init again"))
    if "gaierror" in text or "Name or service not known" in text:
        return (_("the server's name is not known"), _("check the address in [fleet] server"))
    if "ConnectionRefused" in text:
        return (_("connection refused"), _("check that nats-server runs there and the port in [fleet] server"))
    return (_("no answer"), _("check the network (the SIM's data, the cable) and the address in [fleet] server"))


class Link:
    """A connection to the message server, as a hub (its own account) or as one station of a hub."""

    def __init__(self, creds: Credentials):
        self.creds = creds
        self.nc = None
        self.js = None
        self.errors: list[BaseException] = []
        self.forever = False

    # --- connecting ------------------------------------------------------------

    async def connect(self, *, name: str, forever: bool = False, on_change: Callable[[bool], None] | None = None):
        """Connect; with ``forever`` the client reconnects by itself after a drop."""
        async def error_cb(e):
            self.errors.append(e)
            del self.errors[:-20]

        async def disconnected_cb():
            if on_change:
                on_change(False)

        async def reconnected_cb():
            if on_change:
                on_change(True)

        self.forever = forever
        opts = dict(servers=[s.strip() for s in self.creds.server.split(",")], user=self.creds.user,
                    password=self.creds.password, name=name, connect_timeout=3, error_cb=error_cb,
                    disconnected_cb=disconnected_cb, reconnected_cb=reconnected_cb,
                    allow_reconnect=forever, max_reconnect_attempts=-1 if forever else 0, reconnect_time_wait=2,
                    # a link that has gone quiet (no answer to pings) is found within half a minute, not the
                    # client's default four: it then connects again by itself
                    ping_interval=PING_EVERY, max_outstanding_pings=2)
        if self.creds.station:
            opts["inbox_prefix"] = names.inbox_prefix(self.creds.station).encode()
        try:
            self.nc = await asyncio.wait_for(nats.connect(**opts), CONNECT_TIMEOUT)
        except (asyncio.TimeoutError, OSError, NatsError) as e:
            what, hint = _reason(self.errors, e)
            raise FleetError(_("cannot connect to the message server {server}: {reason}",
                               server=self.creds.server, reason=what), hint=hint) from None
        self.js = self.nc.jetstream(timeout=REQUEST_TIMEOUT)
        self.up = self.nc.jetstream(timeout=REQUEST_TIMEOUT, prefix=names.UP_API)   # the account above's, imported
        self.js_quick, self.up_quick = (self.nc.jetstream(timeout=QUICK), self.nc.jetstream(timeout=QUICK, prefix=names.UP_API))
        if on_change:
            on_change(True)
        return self

    async def close(self) -> None:
        if self.nc is not None:
            try:
                await asyncio.wait_for(self.nc.close(), 5)
            except Exception:
                pass
            self.nc = None

    @property
    def connected(self) -> bool:
        return self.nc is not None and self.nc.is_connected

    async def _call(self, what: str, request: Callable[[], Awaitable]):
        """One request to the server; a refusal or a time-out becomes a FleetError naming ``what``.

        Every request we make may be made twice (writes carry an id the server deduplicates by, or
        write the same value again), so while the client finds another server of a cluster after one
        died under the request, or the cluster elects a new leader, it is asked again for up to
        ``RETRY_FOR`` seconds before it counts as failed."""
        before = len(self.errors)
        once = asyncio.iscoroutine(request)
        if once:
            coro = request
            request = lambda: coro   # noqa: E731  (a coroutine can be awaited only once: no second try)
        deadline = time.monotonic() + RETRY_FOR
        wait = 0.5
        while True:
            try:
                return await request()
            except (NotFoundError, NoKeysError):
                raise
            except (asyncio.TimeoutError, NatsError, OSError) as e:
                error = e
            if (once or self._permissions(before) or not self.forever or time.monotonic() + wait > deadline
                    or not _transient(error)):
                break
            await asyncio.sleep(wait)
            wait = min(wait * 2, 4.0)
        if self._permissions(before):
            raise FleetError(_("the server refused to let this account {what} (permissions violation)", what=what),
                             hint=_("a station may touch only its own programme, commands and log")) from None
        raise FleetError(_("the message server did not answer ({what}): {reason}", what=what,
                           reason=type(error).__name__), hint=_("check the network; it is tried again")) from None

    def _permissions(self, before: int) -> bool:
        return any("ermissions Violation" in repr(x) or "permissions violation" in repr(x) for x in self.errors[before:])

    # --- a hub ------------------------------------------------------------------

    async def ensure_layout(self, stations: list[str]) -> None:
        """The buckets, streams and per-station consumers, made if missing (idempotent). On a cluster of
        three servers (three addresses in the link's server) everything is kept on all three, so losing
        one loses nothing."""
        from nats.js.api import AckPolicy, ConsumerConfig, KeyValueConfig, ObjectStoreConfig, StreamConfig
        js = self.js
        r = max(1, min(3, len([s for s in self.creds.server.split(",") if s.strip()])))
        await self._call("create the programme bucket",
                         lambda: js.create_key_value(KeyValueConfig(bucket=names.PROGRAMMES, history=5, direct=True, replicas=r)))
        await self._call("create the release bucket", lambda: js.create_key_value(KeyValueConfig(
            bucket=names.RELEASES, history=1, direct=True, replicas=r)))
        await self._call("create the state bucket",
                         lambda: js.create_key_value(KeyValueConfig(bucket=names.STATES, history=1, ttl=names.STATE_TTL,
                                                            direct=True, replicas=r)))
        await self._call("create the audio store",
                         lambda: js.create_object_store(names.AUDIO, config=ObjectStoreConfig(replicas=r)))
        await self._call("create the log stream", lambda: js.add_stream(StreamConfig(
            name=names.LOG_STREAM, subjects=["bc.log.*"], duplicate_window=names.DUPLICATE_WINDOW, num_replicas=r)))
        await self._call("create the command stream", lambda: js.add_stream(StreamConfig(
            name=names.CMD_STREAM, subjects=["bc.cmd.*"], max_age=7 * 24 * 3600, num_replicas=r,
            duplicate_window=names.DUPLICATE_WINDOW)))
        await self._call("create the log consumer", lambda: js.add_consumer(names.LOG_STREAM, ConsumerConfig(
            durable_name=names.LOG_CONSUMER, ack_policy=AckPolicy.EXPLICIT, max_ack_pending=20_000, num_replicas=r)))
        await self._call("create the stream of audio from above", lambda: js.add_stream(StreamConfig(
            name=names.AUDIO_IN, subjects=["bc.audio.*"], max_msgs_per_subject=1, max_age=7 * 24 * 3600,
            allow_direct=True, num_replicas=r, max_msg_size=names.MAX_AUDIO_MESSAGE + 4096)))
        have = set()
        try:
            have = {c.name for c in await self._call("list the command consumers", lambda: js.consumers_info(names.CMD_STREAM))}
        except Exception:
            pass
        from broadcaster.fleet.publish import bounded
        await bounded([self._call("create a command consumer", lambda s=s: js.add_consumer(names.CMD_STREAM, ConsumerConfig(
            durable_name=names.cmd_consumer(s), filter_subject=names.cmd_subject(s),
            ack_policy=AckPolicy.EXPLICIT, ack_wait=30, max_deliver=-1, num_replicas=r)))
            for s in stations if names.cmd_consumer(s) not in have], 16)

    async def _objects(self):
        return await self._call("open the audio store", lambda: self.js.object_store(names.AUDIO))

    async def has_object(self, sha: str) -> bool:
        """Whether the audio store has ``sha``: a direct get of its description, which any server of a
        cluster answers (no stream leader, no meta leader: it does not wait for an election)."""
        try:
            await self._call("look up audio", lambda: self._object_info(self.js, sha))
        except (NotFoundError, ValueError):   # (ObjectNotFoundError is a NotFoundError)
            return False
        return True

    async def _object_info(self, js, sha: str) -> dict:
        """An audio object's description; ObjectNotFoundError when the store lacks it (or it was deleted)."""
        import base64
        msg = await self._get(js, f"OBJ_{names.AUDIO}", quick=True,
                              subject=f"$O.{names.AUDIO}.M.{base64.urlsafe_b64encode(sha.encode()).decode()}")
        info = json.loads(msg.data)
        if not isinstance(info, dict) or info.get("deleted") or not info.get("nuid"):
            raise ObjectNotFoundError
        return info

    async def put_object(self, sha: str, path: Path) -> None:
        obs = await self._objects()

        async def put():
            with open(path, "rb") as f:
                return await obs.put(sha, f)
        await self._call("upload audio", put)

    async def put_manifest(self, station: str, data: bytes) -> None:
        await self.kv_put(names.PROGRAMMES, station, data)

    async def manifest_of(self, station: str) -> bytes | None:
        """A station's current programme as the server has it (its hub reads any)."""
        return await self.kv_get(names.PROGRAMMES, station)

    async def kv_put(self, bucket: str, key: str, data: bytes | None) -> None:
        """Write (None: delete) one key of a bucket."""
        kv = await self._call(f"open {bucket}", lambda: self.js.key_value(bucket))
        await self._call(f"write {bucket}", lambda: kv.put(key, data) if data is not None else kv.delete(key))

    async def kv_get(self, bucket: str, key: str) -> bytes | None:
        """One key's value by a direct get (any server of a cluster answers); None: none, or deleted."""
        try:
            msg = await self._call(f"read {bucket}", lambda: self._get(self.js, f"KV_{bucket}", subject=f"$KV.{bucket}.{key}"))
        except NotFoundError:
            return None
        return msg.data if msg.data and (msg.headers or {}).get("KV-Operation") not in ("DEL", "PURGE") else None

    async def states(self, stations: list[str], *, within: float = RETRY_FOR, quick: bool = False) -> "States":
        """The latest heartbeat of each of ``stations`` that has one, by direct gets (answered by any server
        of a cluster: no consumer made, no leader waited for). Those not read within ``within`` seconds
        are in ``.failed`` (never taken as "no heartbeat"); a FleetError if none could be read."""
        out = States()

        async def one(station: str) -> None:
            try:
                msg = await self._call("read a state", lambda: self._get(self.js, f"KV_{names.STATES}", quick=quick,
                                                                         subject=f"$KV.{names.STATES}.{station}"))
            except NotFoundError:
                return
            if (msg.headers or {}).get("KV-Operation") in ("DEL", "PURGE") or not msg.data:
                return
            try:
                out[station] = json.loads(msg.data)
            except ValueError:
                pass
        tasks = {s: asyncio.ensure_future(one(s)) for s in dict.fromkeys(stations)}
        if tasks:
            await asyncio.wait(tasks.values(), timeout=within)
        for s, t in tasks.items():
            if not t.done():
                t.cancel()
            if t.cancelled() or not t.done() or t.exception() is not None:
                out.failed.add(s)
        if tasks and len(out.failed) == len(tasks):
            raise FleetError(_("the message server did not answer ({what}): {reason}",
                               what="read the stations' states", reason="TimeoutError"),
                             hint=_("check the network; it is tried again"))
        return out

    async def send_command(self, station: str, data: bytes, msg_id: str) -> int:
        """The command's sequence in the stream (its consumer's acknowledgements say when the station took it)."""
        ack = await self._call("send a command", lambda: self.js.publish(names.cmd_subject(station), data,
                                                                 headers={"Nats-Msg-Id": f"{msg_id}:{station}"}))
        return ack.seq

    async def commands_taken(self, station: str) -> int:
        """The last command sequence ``station`` acknowledged (took and kept), or -1."""
        info = await self._call("read a command consumer", lambda: self.js.consumer_info(names.CMD_STREAM,
                                                                                     names.cmd_consumer(station)))
        return info.ack_floor.stream_seq if info.ack_floor else -1

    async def send_audio_below(self, child: str | None, sha: str, path: Path) -> bool:
        """A command's audio straight into the account of the hub ``child`` below, or (None) into this
        account's stream of audio for commands, which its stations also read (False: too large to go so)."""
        if path.stat().st_size > names.MAX_AUDIO_MESSAGE:
            return False
        data, subject = path.read_bytes(), names.down_audio_subject(child, sha) if child else names.audio_subject(sha)
        await self._call("send audio below", lambda: self.js.publish(subject, data, headers={"Nats-Msg-Id": f"audio:{sha}"}))
        return True

    async def send_command_below(self, child: str, station: str, data: bytes, msg_id: str) -> None:
        """A command straight into the account of the hub ``child`` below, for its station ``station``."""
        await self._call("send a command below", lambda: self.js.publish(names.down_subject(child, station), data,
                                                                 headers={"Nats-Msg-Id": f"{msg_id}:{station}"}))

    async def send_now(self, subjects: list[str], data: bytes) -> None:
        """A command on core NATS to each subject (``names.now_subject``), flushed: it needs no JetStream
        leader. Lost if the link is down (its stream copy is the one that is kept)."""
        try:
            for subject in subjects:
                await self.nc.publish(subject, data)
            await self.nc.flush(timeout=2)
        except (asyncio.TimeoutError, NatsError, OSError):
            pass

    async def log_consumer(self):
        return await self._call("open the log consumer",
                                lambda: self.js.pull_subscribe_bind(names.LOG_CONSUMER, stream=names.LOG_STREAM))

    # --- a station -----------------------------------------------------------------

    async def my_manifest(self) -> bytes | None:
        return await self.manifest_of(self.creds.station)

    async def on_manifest(self, callback: Callable[[bytes | None], Awaitable[None]]) -> None:
        """Call ``callback`` with the new programme whenever the hub writes this station's: the watch
        carries the value itself, so it is never read back from a replica that has not applied the write
        yet (a direct get may answer from any server of a cluster). None: ask the server."""
        await self.on(names.programme_key_subject(self.creds.station), lambda data: callback(data or None))

    async def on(self, subject: str, callback: Callable[[bytes], object]) -> None:
        """Call ``callback`` (awaited if it is a coroutine function) with the data of every message on
        ``subject`` (core NATS: the client subscribes again by itself after a reconnect)."""
        async def handler(msg):
            r = callback(msg.data)
            if asyncio.iscoroutine(r):
                await r
        await self._call(f"listen on {subject}", lambda: self.nc.subscribe(subject, cb=handler))

    async def publish_live(self, subject: str, data: bytes) -> None:
        """A live voice's message (not kept by the server: whoever listens now hears it)."""
        try:
            await self.nc.publish(subject, data)
        except (NatsError, OSError):
            pass   # the link dropped under it: that part of the voice is lost, the stations say so

    async def fetch_object(self, sha: str, into: Path) -> None:
        """An audio object by direct gets (any server of a cluster answers; no consumer made for each of
        thousands of stations), its digest checked: from this account's audio store or its stream of
        command audio, else the same two of the account above (a warning's audio from the hub above the
        station's hub, there before that hub has it, and with that hub's PC off)."""
        for js in (self.js, self.up):
            for name, get in (("fetch audio", self._object), ("fetch audio", self._audio_in)):
                try:
                    await self._call(name, lambda get=get, js=js: get(js, sha, into))
                    return
                except (NotFoundError, ObjectNotFoundError):
                    continue
                except FleetError:
                    if js is self.js:
                        raise
        raise FleetError(_("the audio {sha} named by the programme is not on the server", sha=sha[:12]))

    async def _get(self, js, stream: str, *, quick: bool = False, **kw):
        """A direct get; ``quick``: a small one, asked again soon (each goes to one server of those holding
        the stream, and one that is not current while a leader is elected does not answer)."""
        from nats.errors import NoRespondersError
        if quick:
            js = self.js_quick if js is self.js else self.up_quick
        try:
            return await js.get_msg(stream, direct=True, **kw)
        except NoRespondersError:   # no such stream here (or no account above): nothing stored
            raise NotFoundError from None

    async def _object(self, js, sha: str, into: Path) -> None:
        import base64
        import hashlib
        stream = f"OBJ_{names.AUDIO}"
        info = await self._object_info(js, sha)
        chunks, size, digest = info.get("chunks", 0), info.get("size", 0), hashlib.sha256()
        subject, seq = f"$O.{names.AUDIO}.C.{info['nuid']}", 1
        with open(into, "wb") as f:
            for _chunk in range(chunks):
                part = await self._get(js, stream, seq=seq, subject=subject, next=True)
                f.write(part.data)
                digest.update(part.data)
                seq = part.seq + 1
        want = (info.get("digest") or "").split("=", 1)[-1]
        if into.stat().st_size != size or base64.urlsafe_b64encode(digest.digest()).decode() != want:
            raise FleetError(_("the audio {sha} arrived damaged", sha=sha[:12]))

    async def _audio_in(self, js, sha: str, into: Path) -> None:
        """A command's audio that a hub sent as one message (its hash checked by the installer)."""
        into.write_bytes((await self._get(js, names.AUDIO_IN, subject=names.audio_subject(sha))).data)

    async def heartbeat(self, data: bytes) -> None:
        await self._call("send the heartbeat", lambda: self.js.publish(f"$KV.{names.STATES}.{self.creds.station}", data))

    async def publish_row(self, data: bytes, msg_id: str) -> bool:
        """Send one play-log row; True when the server has it (a duplicate counts as had)."""
        await self._call("send the play log", lambda: self.js.publish(names.log_subject(self.creds.station), data,
                                                              headers={"Nats-Msg-Id": msg_id}))
        return True

    async def command_consumer(self):
        s = self.creds.station
        return await self._call("open the command consumer", lambda: self.js.pull_subscribe_bind(
            names.cmd_consumer(s), stream=names.CMD_STREAM, inbox_prefix=(names.inbox_prefix(s) + ".").encode()))
