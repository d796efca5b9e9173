"""Statistics upward: what every station beneath a hub aired, per commune and per cluster.

The figures provincial systems are known to ask for — bulletins, airings due and done, on time,
emergencies, seconds aired against seconds required and their ratio, clusters online — from the
play-log rows collected at this hub (each row's station is its path beneath it: "xa_a/cum_a1").
No official field list is public, so the columns are this module's alone (its ``COLUMNS``) and claim
compliance with no ministry specification: a system above that wants other names maps them here.
"""

from __future__ import annotations

import csv
import html
import io
import json
from dataclasses import asdict, dataclass, field
from datetime import date, datetime

from broadcaster.i18n import N_, _
from broadcaster.records.playlog import Row

DONE = ("played", "late")
COLUMNS = (("level", N_("level")), ("station", N_("station")), ("hub", N_("hub")), ("clusters", N_("clusters")),
           ("online", N_("clusters online")), ("bulletins", N_("bulletins")), ("due", N_("airings due")),
           ("done", N_("airings done")), ("on_time", N_("on time")), ("emergencies", N_("emergencies")),
           ("seconds_aired", N_("seconds aired")), ("seconds_required", N_("seconds required")),
           ("ratio", N_("aired / required")))


@dataclass
class Line:
    """One station (a commune: its whole subtree; a cluster: itself)."""
    station: str           # its path beneath this hub
    hub: str
    level: int
    clusters: int = 0
    online: int | None = None
    bulletins: set = field(default_factory=set)
    due: int = 0
    done: int = 0
    on_time: int = 0
    emergencies: int = 0
    seconds_aired: float = 0.0
    seconds_required: float = 0.0

    @property
    def ratio(self) -> float | None:
        return round(self.seconds_aired / self.seconds_required, 3) if self.seconds_required else None

    def add(self, r: Row, length: float | None) -> None:
        if r.bulletin:
            self.bulletins.add(r.bulletin)
        if r.priority == "urgent":
            self.emergencies += 1
        aired = _seconds(r)
        required = length if length is not None else aired
        if r.slot is None:   # a command or a request: an emergency is counted as one, never as an airing due
            return
        self.due += 1         # an airing the schedule asked for
        self.seconds_required += required
        if r.status in DONE:  # of those due: done, on time (played, not late), seconds aired (a few ms over
            self.done += 1    # is not more than was asked)
            self.on_time += r.status == "played"
            self.seconds_aired += min(aired, required)

    def record(self) -> dict:
        d = {k: v for k, v in asdict(self).items() if k != "bulletins"}
        d.update(bulletins=len(self.bulletins), ratio=self.ratio, seconds_aired=round(self.seconds_aired, 1),
                 seconds_required=round(self.seconds_required, 1))
        return d


def _seconds(r: Row) -> float:
    if r.started and r.ended:
        try:
            return max(0.0, (datetime.fromisoformat(r.ended) - datetime.fromisoformat(r.started)).total_seconds())
        except ValueError:
            return 0.0
    return 0.0


def subtree(rows: list[Row], me: str, first: date, last: date, tz, online: dict[str, bool] | None = None) -> list[dict]:
    """Per station beneath ``me`` (every level), from the collected rows whose day falls in first..last.
    A station's line sums its own rows and all those below it; ``online`` maps a path to online or not."""
    mine = [r for r in rows if r.station and first <= datetime.fromisoformat(r.scheduled).astimezone(tz).date() <= last]
    lengths: dict[str, list[float]] = {}
    for r in mine:   # what a bulletin lasts, from its airings: the length a missed one would have had
        if r.bulletin and r.status in DONE and _seconds(r) > 0:
            lengths.setdefault(r.bulletin, []).append(_seconds(r))
    typical = {b: sorted(v)[len(v) // 2] for b, v in lengths.items()}
    lines: dict[str, Line] = {}
    for r in mine:
        parts = r.station.split("/")
        for depth in range(1, len(parts) + 1):
            path = "/".join(parts[:depth])
            line = lines.setdefault(path, Line(path, "/".join(parts[:depth - 1]) or me, depth))
            line.add(r, typical.get(r.bulletin or ""))
    parents = {p.rsplit("/", 1)[0] for p in lines if "/" in p}
    if online is not None:
        for line in lines.values():
            line.online = 0
    for leaf in set(lines) - parents:   # clusters: the stations with none below them, counted at every level
        parts = leaf.split("/")
        for depth in range(1, len(parts) + 1):
            line = lines["/".join(parts[:depth])]
            line.clusters += 1
            if online is not None:
                line.online += bool(online.get(leaf))
    return [lines[p].record() for p in sorted(lines, key=lambda p: (p.split("/")[0], p.count("/"), p))]


def render_statistics(lines: list[dict], fmt: str, *, title: str) -> bytes:
    """The lines as CSV (for Excel), HTML (to print or attach) or JSON."""
    from broadcaster.records.report_formats import safe_cells
    if fmt == "json":
        return json.dumps({"title": title, "columns": [k for k, _t in COLUMNS], "stations": lines},
                          ensure_ascii=False, indent=1).encode("utf-8")
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\r\n")
        w.writerow([_(t) for _k, t in COLUMNS])
        for line in lines:
            w.writerow(safe_cells(["" if line[k] is None else line[k] for k, _t in COLUMNS]))
        return ("\ufeff" + buf.getvalue()).encode("utf-8")
    head = "".join(f"<th>{html.escape(_(t))}</th>" for _k, t in COLUMNS)
    body = "".join("<tr>" + "".join(f"<td>{html.escape('' if line[k] is None else str(line[k]))}</td>"
                                    for k, _t in COLUMNS) + "</tr>" for line in lines)
    return (f'<!doctype html><html lang="vi"><meta charset="utf-8"><title>{html.escape(title)}</title>'
            "<style>body{font-family:sans-serif}table{border-collapse:collapse}td,th{border:1px solid #999;"
            "padding:2px 6px;text-align:right}td:nth-child(2),td:nth-child(3){text-align:left}</style>"
            f"<h1>{html.escape(title)}</h1><table><tr>{head}</tr>{body}</table></html>").encode("utf-8")
