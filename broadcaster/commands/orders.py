"""`play --station` (or a group played below): a hub sends a signed command to its stations."""

from __future__ import annotations

import click

from broadcaster.commands.common import Context, local_now, project_path, require_known
from broadcaster.config import AUDIO_SUFFIXES, Config
from broadcaster.errors import ConfigError
from broadcaster.i18n import _


def send_to_stations(obj: Context, cfg: Config, target: str, stations: list[str], all_stations: bool,
                     zone: str | None, priority: str, deadline_minutes: int, zones: list[str] | None = None) -> None:
    import asyncio
    from datetime import timedelta
    from broadcaster.fleet.orders import send_play
    if not cfg.is_hub:
        raise ConfigError(_("--station is for a hub's project (its [fleet] table, and zones that name a station)"))
    chosen = cfg.stations() if all_stations else stations
    require_known("station", chosen, cfg, known=cfg.stations())
    if not chosen:
        raise ConfigError(_("no zone names a station"), hint=_('add station = "ID" to the zones of the communes'))
    if zone is not None:
        require_known("zone", (zone,), cfg)
    if target in cfg.bulletins:
        if cfg.bulletins[target].rendered:   # its audio made or brought up to date first, as publish does
            from broadcaster.commands.render import build
            click.get_current_context().invoke(build, bulletins=(target,), engine=None, force=False)
    else:
        path = project_path(obj, target, "TARGET", cfg.root)
        if not path.is_file() or path.suffix.lower() not in AUDIO_SUFFIXES:
            raise ConfigError(_('"{target}" is neither a bulletin id nor an audio file', target=target),
                              hint=_("bulletins: {bulletins}", bulletins=", ".join(cfg.bulletins)))
        target = str(path)
    now = local_now(cfg)
    sent = asyncio.run(send_play(cfg, target, stations=chosen, zone=zone, priority=priority, now=now,
                                 deadline=now + timedelta(minutes=deadline_minutes), zones=zones))
    for one in sent:
        click.echo(_("Sent to station {station} (command {id}, {priority}); it plays when the station has it, "
                     "or logs it missed after {minutes} min.", station=one.station, id=one.id[:8], priority=priority,
                     minutes=deadline_minutes))
