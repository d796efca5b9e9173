"""The [monitor], [alerts] and [web] parts of schedule.toml: proof of air, where its alarms go, the console."""

from __future__ import annotations

from urllib.parse import urlsplit

from broadcaster.config.model import AlertSettings, MonitorSettings, WebSettings
from broadcaster.config.schema import _Loader, _number, _show
from broadcaster.config.slots import parse_duration
from broadcaster.i18n import _

MONITOR_KEYS = ("silence", "dead_air", "unexpected", "unexpected_level", "unexpected_after", "margin")
DURATIONS = {"dead_air": (2.0, 600.0), "unexpected_after": (1.0, 600.0), "margin": (0.0, 600.0)}


def parse_monitor(ld: _Loader, data: dict) -> tuple[MonitorSettings, AlertSettings]:
    table = ld.table(data, "monitor")
    ld.unknown_keys(table, MONITOR_KEYS, ("monitor",), "monitor")
    values: dict = ld.checked(table, (("silence", _number(-90.0, 0.0)), ("unexpected_level", _number(-90.0, 0.0))),
                              ("monitor",), "monitor")
    for k, (lo, hi) in DURATIONS.items():
        if k in table:
            seconds = parse_duration(table[k])
            if seconds is None or not lo <= seconds <= hi:
                ld.problem(("monitor", k), "monitor", _('{key} must be a duration from {lo} s to {hi} s like "10s", '
                                                        'not {value}', key=k, lo=f"{lo:g}", hi=f"{hi:g}",
                                                        value=_show(table[k])))
            else:
                values[k] = seconds
    if "unexpected" in table:
        if isinstance(table["unexpected"], bool):
            values["unexpected"] = table["unexpected"]
        else:
            ld.problem(("monitor", "unexpected"), "monitor",
                       _("unexpected must be true or false, not {value}", value=_show(table["unexpected"])))
    alerts = ld.table(data, "alerts")
    ld.unknown_keys(alerts, ("webhook",), ("alerts",), "alerts")
    webhook = alerts.get("webhook")
    if webhook is not None:
        parts = urlsplit(webhook) if isinstance(webhook, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
            ld.problem(("alerts", "webhook"), "alerts",
                       _("webhook must be an http:// or https:// address, not {value}", value=_show(webhook)))
            webhook = None
    return MonitorSettings(**values), AlertSettings(webhook=webhook)


def parse_web(ld: _Loader, data: dict) -> WebSettings:
    table = ld.table(data, "web")
    ld.unknown_keys(table, ("keep_uploads",), ("web",), "web")
    if "keep_uploads" not in table:
        return WebSettings()
    seconds = parse_duration(table["keep_uploads"])
    if seconds is None or not 3600 <= seconds <= 3650 * 86400:
        ld.problem(("web", "keep_uploads"), "web", _('keep_uploads must be a duration from 1 hour to 10 years like '
                                                    '"30d", not {value}', value=_show(table["keep_uploads"])))
        return WebSettings()
    return WebSettings(keep_uploads=seconds)
