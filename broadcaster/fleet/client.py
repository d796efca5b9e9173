"""The one module that knows the NATS client: a connection to the message server, as a hub in its own
account or as a station of the hub above, and the few things each side does there. Every failure
becomes a FleetError a technician can act on."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Awaitable, Callable

import nats
from nats.errors import Error as NatsError
from nats.js.errors import NoKeysError, NotFoundError

from broadcaster.errors import FleetError
from broadcaster.fleet import names
from broadcaster.fleet.credentials import Credentials
from broadcaster.i18n import _

CONNECT_TIMEOUT = 6.0
REQUEST_TIMEOUT = 5.0


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

        opts = dict(servers=[s.strip() for s in self.creds.server.split(",")], user=self.creds.user,
                    password=self.creds.password, name=name, connect_timeout=3, error_cb=error_cb,
                    disconnected_cb=disconnected_cb, reconnected_cb=reconnected_cb,
                    allow_reconnect=forever, max_reconnect_attempts=-1 if forever else 0, reconnect_time_wait=2)
        if self.creds.station:
            opts["inbox_prefix"] = names.inbox_prefix(self.creds.station).encode()
        try:
            self.nc = await asyncio.wait_for(nats.connect(**opts), CONNECT_TIMEOUT)
        except (asyncio.TimeoutError, OSError, NatsError) as e:
            what, hint = _reason(self.errors, e)
            raise FleetError(_("cannot connect to the message server {server}: {reason}",
                               server=self.creds.server, reason=what), hint=hint) from None
        self.js = self.nc.jetstream(timeout=REQUEST_TIMEOUT)
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

    async def _call(self, what: str, coro: Awaitable):
        """One request to the server; a refusal or a time-out becomes a FleetError naming ``what``."""
        before = len(self.errors)
        try:
            return await coro
        except (NotFoundError, NoKeysError):
            raise
        except (asyncio.TimeoutError, NatsError, OSError) as e:
            new = [repr(x) for x in self.errors[before:]]
            if any("ermissions Violation" in x or "permissions violation" in x for x in new):
                raise FleetError(_("the server refused to let this account {what} (permissions violation)",
                                   what=what),
                                 hint=_("a station may touch only its own programme, commands and log")) from None
            raise FleetError(_("the message server did not answer ({what}): {reason}", what=what,
                               reason=type(e).__name__), hint=_("check the network; it is tried again")) from None

    # --- a hub ------------------------------------------------------------------

    async def ensure_layout(self, stations: list[str], *, replicas: int = 1) -> None:
        """The buckets, streams and per-station consumers, made if missing (idempotent). On a cluster of
        three servers everything is kept on all three (``replicas``), so losing one loses nothing."""
        from nats.js.api import AckPolicy, ConsumerConfig, KeyValueConfig, ObjectStoreConfig, StreamConfig
        js = self.js
        r = max(1, min(3, replicas))
        await self._call("create the programme bucket",
                         js.create_key_value(KeyValueConfig(bucket=names.PROGRAMMES, history=5, direct=True, replicas=r)))
        await self._call("create the state bucket",
                         js.create_key_value(KeyValueConfig(bucket=names.STATES, history=1, ttl=names.STATE_TTL,
                                                            direct=True, replicas=r)))
        await self._call("create the audio store",
                         js.create_object_store(names.AUDIO, config=ObjectStoreConfig(replicas=r)))
        await self._call("create the log stream", js.add_stream(StreamConfig(
            name=names.LOG_STREAM, subjects=["bc.log.*"], duplicate_window=names.DUPLICATE_WINDOW, num_replicas=r)))
        await self._call("create the command stream", js.add_stream(StreamConfig(
            name=names.CMD_STREAM, subjects=["bc.cmd.*"], max_age=7 * 24 * 3600, num_replicas=r,
            duplicate_window=names.DUPLICATE_WINDOW)))
        await self._call("create the log consumer", js.add_consumer(names.LOG_STREAM, ConsumerConfig(
            durable_name=names.LOG_CONSUMER, ack_policy=AckPolicy.EXPLICIT, max_ack_pending=20_000, num_replicas=r)))
        have = set()
        try:
            have = {c.name for c in await self._call("list the command consumers", js.consumers_info(names.CMD_STREAM))}
        except Exception:
            pass
        from broadcaster.fleet.publish import bounded
        await bounded([self._call("create a command consumer", js.add_consumer(names.CMD_STREAM, ConsumerConfig(
            durable_name=names.cmd_consumer(s), filter_subject=names.cmd_subject(s),
            ack_policy=AckPolicy.EXPLICIT, ack_wait=30, max_deliver=-1, num_replicas=r)))
            for s in stations if names.cmd_consumer(s) not in have], 16)

    async def _objects(self):
        return await self._call("open the audio store", self.js.object_store(names.AUDIO))

    async def has_object(self, sha: str) -> bool:
        obs = await self._objects()
        try:
            await self._call("look up audio", obs.get_info(sha))
            return True
        except Exception as e:
            if type(e).__name__ in ("ObjectNotFoundError", "NotFoundError"):
                return False
            raise

    async def put_object(self, sha: str, path: Path) -> None:
        obs = await self._objects()
        with open(path, "rb") as f:
            await self._call("upload audio", obs.put(sha, f))

    async def put_manifest(self, station: str, data: bytes) -> None:
        kv = await self._call("open the programme bucket", self.js.key_value(names.PROGRAMMES))
        await self._call("write a programme", kv.put(station, data))

    async def manifest_of(self, station: str) -> bytes | None:
        """A station's current programme as the server has it (its hub reads any)."""
        try:
            msg = await self._call("read a programme", self.js.get_msg(
                f"KV_{names.PROGRAMMES}", subject=names.programme_key_subject(station), direct=True))
        except NotFoundError:
            return None
        return msg.data if msg.data else None

    async def states(self) -> dict[str, dict]:
        """Every station's latest heartbeat."""
        kv = await self._call("open the state bucket", self.js.key_value(names.STATES))
        try:
            keys = await self._call("list the stations' states", kv.keys())
        except NoKeysError:
            return {}
        out = {}
        for k in keys:
            try:
                entry = await self._call("read a state", kv.get(k))
                out[k] = json.loads(entry.value)
            except (NotFoundError, ValueError):
                continue
        return out

    async def send_command(self, station: str, data: bytes, msg_id: str) -> None:
        await self._call("send a command", self.js.publish(names.cmd_subject(station), data,
                                                           headers={"Nats-Msg-Id": f"{msg_id}:{station}"}))

    async def send_command_below(self, child: str, station: str, data: bytes, msg_id: str) -> None:
        """A command straight into the account of the hub ``child`` below, for its station ``station``."""
        await self._call("send a command below", self.js.publish(names.down_subject(child, station), data,
                                                                 headers={"Nats-Msg-Id": f"{msg_id}:{station}"}))

    async def log_consumer(self):
        return await self._call("open the log consumer",
                                self.js.pull_subscribe_bind(names.LOG_CONSUMER, stream=names.LOG_STREAM))

    # --- a station -----------------------------------------------------------------

    async def my_manifest(self) -> bytes | None:
        return await self.manifest_of(self.creds.station)

    async def on_manifest(self, callback: Callable[[], Awaitable[None]]) -> None:
        """Call ``callback`` whenever the hub writes this station's programme."""
        async def handler(_msg):
            await callback()
        await self._call("watch the programme", self.nc.subscribe(names.programme_key_subject(self.creds.station),
                                                                  cb=handler))

    async def fetch_object(self, sha: str, into: Path) -> None:
        obs = await self._objects()
        with open(into, "wb") as f:
            try:
                await self._call("fetch audio", obs.get(sha, writeinto=f))
            except Exception as e:
                if type(e).__name__ in ("ObjectNotFoundError", "NotFoundError"):
                    raise FleetError(_("the audio {sha} named by the programme is not on the server",
                                       sha=sha[:12])) from None
                if type(e).__name__ == "DigestMismatchError":
                    raise FleetError(_("the audio {sha} arrived damaged", sha=sha[:12])) from None
                raise

    async def heartbeat(self, data: bytes) -> None:
        await self._call("send the heartbeat", self.js.publish(f"$KV.{names.STATES}.{self.creds.station}", data))

    async def publish_row(self, data: bytes, msg_id: str) -> bool:
        """Send one play-log row; True when the server has it (a duplicate counts as had)."""
        await self._call("send the play log", self.js.publish(names.log_subject(self.creds.station), data,
                                                              headers={"Nats-Msg-Id": msg_id}))
        return True

    async def command_consumer(self):
        s = self.creds.station
        return await self._call("open the command consumer", self.js.pull_subscribe_bind(
            names.cmd_consumer(s), stream=names.CMD_STREAM, inbox_prefix=(names.inbox_prefix(s) + ".").encode()))
