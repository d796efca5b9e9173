"""A broadcast report written out: CSV for Excel, JSON for programs, one HTML page for people.

The HTML page is self-contained (inline CSS and SVG, no script, nothing fetched), so it
opens from an e-mail attachment on a PC without internet and prints as it shows.
"""

from __future__ import annotations

import csv
import io
import json
from html import escape

from broadcaster import __version__
from broadcaster.config import Config
from broadcaster.i18n import N_, _, day, language, when
from broadcaster.records.playlog import STATUS_WORDS
from broadcaster.records.report import OUTCOMES, Cell, Report

FORMATS = ("csv", "html", "json")
COLOURS = {"played": "#2e7d32", "late": "#f9a825", "interrupted": "#ef6c00", "missed": "#8e24aa",
           "failed": "#c62828", "playing": "#1565c0"}
COLUMNS = [("scheduled", N_("scheduled")), ("aired", N_("aired")), ("played", N_("on time")), ("late", N_("late")),
           ("interrupted", N_("interrupted")), ("missed", N_("missed")), ("failed", N_("failed")),
           ("on_request", N_("on request")), ("confirmed", N_("heard on the monitor")),
           ("unconfirmed", N_("not fully heard"))]


def figures(c: Cell) -> dict[str, int]:
    out = {"scheduled": c.scheduled, "aired": c.aired, **{k: c.counts[k] for k in OUTCOMES},
           "on_request": c.on_request, "confirmed": c.confirmed, "unconfirmed": c.unconfirmed}
    return out


def render(report: Report, cfg: Config, fmt: str) -> bytes:
    """The report as the bytes of a ``fmt`` file."""
    if fmt == "csv":
        return to_csv(report, cfg).encode("utf-8-sig")  # the BOM makes Excel read UTF-8
    if fmt == "json":
        return (json.dumps(to_json(report, cfg), ensure_ascii=False, indent=1) + "\n").encode("utf-8")
    return to_html(report, cfg).encode("utf-8")


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cells(cells: list) -> list:
    """Cells as a spreadsheet should show them, never run them: a text that begins like a formula
    (=, +, -, @, tab, CR) gets a leading apostrophe, as OWASP advises against CSV injection.
    Numbers are left as numbers."""
    return [f"'{c}" if isinstance(c, str) and c.startswith(FORMULA_STARTS) else c for c in cells]


def to_csv(report: Report, cfg: Config) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow([_("date"), _("zone"), _("zone name"), _("bulletin"), _("title")] + [_(t) for _k, t in COLUMNS]
               + [_("short"), _("largest start error (ms)")])
    for c in report.cells:
        f = figures(c)
        w.writerow(safe_cells([day(c.day), c.zone, cfg.zone_name(c.zone), c.bulletin, _title(cfg, c.bulletin)]
                              + [f[k] for k, _t in COLUMNS]
                              + [_("yes") if c.short else "",
                                 "" if c.start_error_ms is None else round(c.start_error_ms)]))
    return buf.getvalue()


def to_json(report: Report, cfg: Config) -> dict:
    def cell(c: Cell, with_day: bool) -> dict:
        return {**({"date": c.day.isoformat()} if with_day else {}), "zone": c.zone, "bulletin": c.bulletin,
                **figures(c), "upcoming": c.upcoming, "playing": c.counts["playing"], "short": c.short,
                "start_error_ms": c.start_error_ms}
    return {"from": report.first.isoformat(), "to": report.last.isoformat(), "timezone": report.timezone,
            "generated": report.now.isoformat(timespec="seconds"),
            "days": [cell(c, True) for c in report.cells],
            "totals": [cell(c, False) for c in report.totals()],
            "short_days": [{"date": c.day.isoformat(), "zone": c.zone, "bulletin": c.bulletin,
                            "scheduled": c.scheduled, "aired": c.aired} for c in report.short_days()]}


# --- HTML ---------------------------------------------------------------------

CSS = """
body { font-family: "DejaVu Sans", Arial, sans-serif; margin: 24px; color: #212121; font-size: 14px; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 28px 0 8px; }
p.meta { color: #555; margin: 0 0 16px; }
table { border-collapse: collapse; margin: 8px 0; }
th, td { border: 1px solid #bbb; padding: 3px 8px; text-align: right; }
th { background: #eee; } td.t { text-align: left; }
tr.short td { background: #fdecea; }
.ok { color: #2e7d32; font-weight: bold; } .bad { color: #c62828; font-weight: bold; }
.legend span { display: inline-block; margin-right: 16px; }
.legend i { display: inline-block; width: 12px; height: 12px; margin-right: 5px; vertical-align: -1px; }
svg { display: block; margin: 4px 0 16px; } svg text { font-size: 11px; fill: #333; }
@media print { body { margin: 0; } h2 { break-after: avoid; } svg { break-inside: avoid; } }
"""

LEFT, WIDTH, ROW, TOP = 96, 1000, 16, 22


def to_html(report: Report, cfg: Config) -> str:
    lang = language()
    period = _("from {first} to {last}", first=day(report.first), last=day(report.last))
    parts = [f'<!DOCTYPE html>\n<html lang="{lang}"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>{escape(_('Broadcast report'))} {escape(period)}</title><style>{CSS}</style></head><body>",
             f"<h1>{escape(_('Broadcast report'))}</h1>",
             f'<p class="meta">{escape(period)} · {escape(_("time zone"))} {escape(report.timezone)} · '
             f'{escape(_("made at {time}", time=when(report.now)))} · broadcaster {__version__}</p>']
    parts += _summary(report, cfg)
    parts += _timelines(report, cfg)
    parts += _short_days(report, cfg)
    parts += _daily(report, cfg)
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _summary(report: Report, cfg: Config) -> list[str]:
    totals = report.totals()
    short = report.short_days()
    out = [f"<h2>{escape(_('Summary'))}</h2>"]
    if not totals:
        return out + [f"<p>{escape(_('Nothing was scheduled or aired in this period.'))}</p>"]
    verdict = (_("Every scheduled airing was aired.") if not short else
               _("{count} day(s) fell short of the schedule: see the list below.", count=len(short)))
    out.append(f'<p class="{"bad" if short else "ok"}">{escape(verdict)}</p>')
    head = "".join(f"<th>{escape(_(t))}</th>" for _k, t in COLUMNS)
    out.append(f'<table class="summary"><tr><th>{escape(_("bulletin"))}</th><th>{escape(_("zone"))}</th>{head}'
               f'<th>{escape(_("days short"))}</th></tr>')
    for t in totals:
        f = figures(t)
        n_short = sum(1 for c in short if c.zone == t.zone and c.bulletin == t.bulletin)
        cls = ' class="short"' if n_short else ""
        cells = "".join(f"<td>{f[k]}</td>" for k, _t in COLUMNS)
        out.append(f'<tr{cls}><td class="t">{escape(_title(cfg, t.bulletin))}</td>'
                   f'<td class="t">{escape(cfg.zone_name(t.zone))}</td>{cells}<td>{n_short}</td></tr>')
    out.append("</table>")
    upcoming = sum(t.upcoming for t in totals)
    if upcoming:
        note = _("{count} airing(s) later than {time} are still to come and not counted.", count=upcoming,
                 time=when(report.now))
        out.append(f"<p>{escape(note)}</p>")
    return out


def _timelines(report: Report, cfg: Config) -> list[str]:
    out = [f"<h2>{escape(_('Airings by zone and day'))}</h2>", '<p class="legend">']
    for status in ("played", "late", "interrupted", "missed", "failed"):
        out.append(f'<span><i style="background:{COLOURS[status]}"></i>{escape(_(STATUS_WORDS[status]))}</span>')
    out.append("</p>")
    days = [report.first.fromordinal(o) for o in range(report.first.toordinal(), report.last.toordinal() + 1)]
    zones = list(dict.fromkeys([z for z in cfg.zones if any(m.zone == z for m in report.marks)]
                               + [m.zone for m in report.marks]))
    for zone in zones:
        marks = [m for m in report.marks if m.zone == zone]
        out.append(f"<h3>{escape(cfg.zone_name(zone))}</h3>")
        out.append(_timeline_svg(zone, days, marks))
    if not zones:
        out.append(f"<p>{escape(_('Nothing was scheduled or aired in this period.'))}</p>")
    return out


def _timeline_svg(zone: str, days: list, marks: list) -> str:
    height = TOP + ROW * len(days) + 4
    span = WIDTH - LEFT - 8
    svg = [f'<svg class="timeline" data-zone="{escape(zone)}" xmlns="http://www.w3.org/2000/svg" '
           f'width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" role="img" '
           f'aria-label="{escape(_("Airings by zone and day"))}: {escape(zone)}">']
    for h in range(0, 25, 3):
        x = LEFT + span * h / 24
        anchor = "end" if h == 24 else "middle"
        svg.append(f'<line x1="{x:.1f}" y1="{TOP - 4}" x2="{x:.1f}" y2="{height - 4}" stroke="#ddd"/>'
                   f'<text x="{x:.1f}" y="{TOP - 8}" text-anchor="{anchor}">{h:02d}:00</text>')
    row_of = {d: i for i, d in enumerate(days)}
    for d, i in row_of.items():
        y = TOP + i * ROW
        if i % 2:
            svg.append(f'<rect x="{LEFT}" y="{y}" width="{span}" height="{ROW}" fill="#f6f6f6"/>')
        svg.append(f'<text x="{LEFT - 8}" y="{y + ROW - 4}" text-anchor="end">{escape(day(d))}</text>')
    for m in marks:
        if m.day not in row_of:
            continue
        x = LEFT + span * m.start / 86400
        w = max(4.0, span * m.seconds / 86400)
        y = TOP + row_of[m.day] * ROW + 2
        clock = f"{int(m.start // 3600):02d}:{int(m.start % 3600 // 60):02d}"
        label = f"{clock} {m.bulletin}: {_(STATUS_WORDS.get(m.status, m.status))}"
        dash = "" if m.scheduled else ' stroke="#000" stroke-dasharray="2,1"'
        svg.append(f'<rect class="airing {m.status}" x="{x:.1f}" y="{y}" width="{w:.1f}" height="{ROW - 4}" '
                   f'fill="{COLOURS.get(m.status, "#000")}"{dash}><title>{escape(label)}</title></rect>')
    svg.append("</svg>")
    return "".join(svg)


def _short_days(report: Report, cfg: Config) -> list[str]:
    short = report.short_days()
    if not short:
        return []
    out = [f"<h2>{escape(_('Days that fell short'))}</h2>",
           f'<table class="short-days"><tr><th>{escape(_("date"))}</th><th>{escape(_("zone"))}</th>'
           f'<th>{escape(_("bulletin"))}</th><th>{escape(_("scheduled"))}</th><th>{escape(_("aired"))}</th>'
           f'<th>{escape(_("what happened"))}</th></tr>']
    for c in short:
        what = ", ".join(f"{c.counts[s]} {_(STATUS_WORDS[s])}" for s in ("interrupted", "missed", "failed")
                         if c.counts[s])
        out.append(f'<tr class="short"><td class="t">{escape(day(c.day))}</td><td class="t">{escape(cfg.zone_name(c.zone))}</td>'
                   f'<td class="t">{escape(_title(cfg, c.bulletin))}</td><td>{c.scheduled}</td><td>{c.aired}</td>'
                   f'<td class="t">{escape(what)}</td></tr>')
    out.append("</table>")
    return out


def _daily(report: Report, cfg: Config) -> list[str]:
    if not report.cells:
        return []
    head = "".join(f"<th>{escape(_(t))}</th>" for _k, t in COLUMNS)
    out = [f"<h2>{escape(_('Day by day'))}</h2>",
           f'<table class="daily"><tr><th>{escape(_("date"))}</th><th>{escape(_("zone"))}</th>'
           f'<th>{escape(_("bulletin"))}</th>{head}</tr>']
    for c in report.cells:
        f = figures(c)
        cells = "".join(f"<td>{f[k]}</td>" for k, _t in COLUMNS)
        cls = ' class="short"' if c.short else ""
        out.append(f'<tr{cls}><td class="t">{escape(day(c.day))}</td>'
                   f'<td class="t">{escape(c.zone)}</td><td class="t">{escape(c.bulletin)}</td>{cells}</tr>')
    out.append("</table>")
    return out


def _title(cfg: Config, bulletin: str) -> str:
    return cfg.title_of(bulletin)

