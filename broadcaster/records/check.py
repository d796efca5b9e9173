"""`broadcaster check`: the whole project validated, as findings with file and line.

Reads scripts and jingles and the rendered sidecars (so it does I/O), but takes
``now`` as an argument like the schedule model.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from broadcaster.audio.files import MAX_JINGLE_SECONDS, decode_file
from broadcaster.text.reading import read_aloud, speakability_warnings
from broadcaster.config import Config, display_path
from broadcaster.errors import BroadcasterError
from broadcaster.fsutil import sha256_file
from broadcaster.config.schedule import airings, length_of
from broadcaster.text.scripts import read_script
from broadcaster.render.sidecar import durations, read_sidecar
from broadcaster.i18n import N_, _, day, when

OVERLAP_WINDOW = timedelta(days=14)  # how far ahead overlaps and quiet hours are looked for
LEVELS = {"error": N_("error"), "warning": N_("warning")}


@dataclass(frozen=True)
class Finding:
    level: str   # error | warning
    where: str
    message: str

    def render(self, lang: str | None = None, level: str | None = None) -> str:
        """One line, in the form every command writes a problem in: "error: schedule.toml:14: …"."""
        return f"{_(LEVELS[level or self.level], lang)}: {self.where}: {self.message}"


def check_project(cfg: Config, now: datetime, lang: str | None = None, each=iter) -> list[Finding]:
    """Every finding; ``each`` wraps the loop over bulletins (a progress bar, say)."""
    findings: list[Finding] = []
    findings += _check_fleet(cfg, lang)
    findings += check_approvals(cfg, lang)
    findings += _check_bulletins(cfg, lang, each)
    findings += _check_slots(cfg, now, lang)
    findings += check_sources(cfg, lang)
    findings += check_monitors(cfg, lang)
    return findings


def project_errors(cfg: Config, now: datetime, lang: str | None = None) -> None:
    """ConfigError listing the errors ``check`` finds (what keeps a daemon from starting on ``cfg``), if any."""
    from broadcaster.errors import ConfigError
    # the checks that can find errors (sources, monitors and approvals only warn, and ask the network or the
    # sound system: not for a running daemon's watcher)
    findings = [*_check_fleet(cfg, lang), *_check_bulletins(cfg, lang), *_check_slots(cfg, now, lang)]
    problems = [f"{f.where}: {f.message}" for f in findings if f.level == "error"]
    if problems:
        raise ConfigError(problems[0], problems=problems)


def check_monitors(cfg: Config, lang: str | None = None) -> list[Finding]:
    """Each zone's monitor input looked up now (a warning: airings go on without it)."""
    out: list[Finding] = []
    for z in cfg.zones.values():
        if not z.monitor or z.id not in cfg.local_zones():
            continue
        e = _missing_input(z.monitor)
        if e is not None:
            out.append(Finding("warning", cfg.where("zones", z.id, "monitor"),
                               _("{zone}: its monitor cannot be used: {reason}; its airings will not be confirmed",
                                 lang, zone=z.id, reason=e.message) + (f" ({e.hint})" if e.hint else "")))
    return out


def _missing_input(name: str) -> BroadcasterError | None:
    """Why the sound input ``name`` cannot be found now; None when it can."""
    from broadcaster.audio.player import find_output
    try:
        find_output(name, inputs=True)
    except BroadcasterError as e:
        return e
    return None


STREAM_TYPES = ("audio/", "application/ogg", "application/vnd.apple.mpegurl", "application/x-mpegurl",
                "application/octet-stream")


def check_sources(cfg: Config, lang: str | None = None, timeout: float = 5.0) -> list[Finding]:
    """Each relayed source tried now: does its address answer with a stream? Warnings only: a PC
    that is offline now may be online at the relay's hour."""
    import urllib.error
    import urllib.request
    out: list[Finding] = []
    for s in cfg.sources.values():
        where = cfg.where("sources", s.id, "url" if s.url else "device")
        if s.device:
            e = _missing_input(s.device)
            if e is not None:
                out.append(Finding("warning", where, f"{s.id}: {e.message}" + (f" ({e.hint})" if e.hint else "")))
            continue
        problem = None
        try:
            with urllib.request.urlopen(urllib.request.Request(s.url, headers={"Icy-MetaData": "0"}),
                                        timeout=timeout) as r:
                kind = r.headers.get("Content-Type", "").split(";")[0].strip().lower()
                head = r.read(512)
            if head.startswith(b"#EXTM3U"):
                pass
            elif kind.startswith("text/html") or head.lstrip().lower().startswith((b"<!doctype", b"<html")):
                problem = _("the address answers with a web page, not an audio stream (find the stream's own "
                            "address, often ending in .mp3, .aac or .m3u8)", lang)
            elif not kind.startswith(STREAM_TYPES):
                problem = _("the address answers with {kind}, not audio", lang, kind=kind or "?")
        except urllib.error.HTTPError as e:
            problem = _("the server answered {code} {reason}: check the address", lang, code=e.code, reason=e.reason)
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            problem = _("cannot be reached now ({reason}); relays of it will play the fallback until it answers "
                        "(no internet here?)", lang, reason=reason)
        if problem:
            out.append(Finding("warning", where, f"{s.id}: {problem}"))
    return out


def _check_bulletins(cfg: Config, lang: str | None, each=iter) -> list[Finding]:
    out: list[Finding] = []
    decoded: dict = {}
    for b in each(list(cfg.bulletins.values())):
        if not b.rendered:
            if b.origin == "local":   # the hub's files were checked by hash when they arrived
                try:
                    decode_file(b.file, what=display_path(b.file))
                except BroadcasterError as e:
                    out.append(Finding("error", cfg.where("bulletins", b.id, "file"), e.message))
            continue
        name = display_path(b.script)
        try:
            script = read_script(b.script, display=name)
        except BroadcasterError as e:
            out.append(Finding("error", e.where or name, e.message + (f" ({e.hint})" if e.hint else "")))
            continue
        for notice in script.notices:
            out.append(Finding("warning", f"{name}:1", notice))
        paragraphs, doubts = read_aloud(script, b.tts.lexicon)
        for w in speakability_warnings(script, paragraphs, name, doubts):
            where, _sep, message = w.partition(": ")
            out.append(Finding("warning", where, message))
        for key in ("jingle_in", "jingle_out"):
            path = getattr(b.audio, key)
            if path is None or path in decoded:
                continue
            decoded[path] = True
            try:
                decode_file(path, what=_('jingle "{path}"', path=display_path(path)), longest=MAX_JINGLE_SECONDS)
            except BroadcasterError as e:
                out.append(Finding("error", cfg.where_setting(b.id, key, "audio"), e.message))
        side = read_sidecar(b.sidecar_path(cfg.paths))
        where = cfg.where("bulletins", b.id)
        if side is None:
            out.append(Finding("warning", where, _('bulletin "{bulletin}" has not been rendered yet (run broadcaster build)', lang, bulletin=b.id)))
        elif side.get("script_sha256") != sha256_file(b.script):
            out.append(Finding("warning", where, _('bulletin "{bulletin}": the rendered audio is older than its script (run broadcaster build)',
                                               lang, bulletin=b.id)))
    return _dedupe(out)


def check_approvals(cfg: Config, lang: str | None = None) -> list[Finding]:
    """With [approval] required: bulletins whose current script is not the approved one."""
    if not cfg.approval_required:
        return []
    from broadcaster.records.accounts import Accounts
    from broadcaster.records.approval import state_of
    out = []
    accounts = Accounts(cfg.paths.state)
    try:
        for b in cfg.bulletins.values():
            st = state_of(cfg, accounts, b)
            where = cfg.where("bulletins", b.id)
            if st.state == "never" or (st.state in ("submitted", "returned") and st.approved is None):
                # never approved (perhaps submitted, or returned, now)
                out.append(Finding("warning", where, _('bulletin "{bulletin}" has no approved version: it does not air '
                                                      "until an approver approves it", lang, bulletin=b.id)))
            elif st.state == "rescheduled" or (st.state in ("submitted", "returned") and st.approved is not None
                                               and st.approved.script_sha256 == st.latest.script_sha256):
                out.append(Finding("warning", where, _(
                    'bulletin "{bulletin}": a slot of it is new or changed since it was approved; that slot does not '
                    "play until the bulletin is submitted and approved again (its other slots play)", lang,
                    bulletin=b.id)))
            elif st.state in ("changed", "submitted", "returned"):
                out.append(Finding("warning", where, _(
                    'bulletin "{bulletin}": its script changed since it was approved; the approved version ({when}) '
                    "airs until the new one is approved", lang, bulletin=b.id,
                    when=when(datetime.fromtimestamp(st.approved.time, ZoneInfo(cfg.timezone)), lang))))
        from broadcaster.records.approval import slot_key, urgent_approver
        for s in cfg.slots:   # urgent is the play right's: an approval by someone without it does not make it air
            approved = accounts.approved(s.bulletin) if s.priority == "urgent" and s.origin == "local" else None
            if approved is not None and slot_key(s) in json.loads(approved.slots or "[]") \
                    and not urgent_approver(accounts, approved):
                out.append(Finding("error", cfg.where("slots", s.index, "priority"), _(
                    'this urgent slot of "{bulletin}" was approved by {name}, who may not play urgent airings: it '
                    "does not air until someone who may (an administrator) approves it", lang, bulletin=s.bulletin,
                    name=approved.approver)))
    finally:
        accounts.close()
    return out


def _check_fleet(cfg: Config, lang: str | None) -> list[Finding]:
    fleet = cfg.fleet
    if fleet is None or not fleet.is_station:
        return []
    where = cfg.where("fleet")
    if cfg.programme is None:
        return [Finding("warning", where, _("no programme from the hub yet: only this station's own airings "
                                            "play (the daemon fetches it when the link is up)", lang))]
    if "error" in cfg.programme:
        return [Finding("warning", where, _("the hub's programme cannot be used ({reason}): only this "
                                            "station's own airings play", lang, reason=cfg.programme["error"]))]
    return []


def _check_slots(cfg: Config, now: datetime, lang: str | None) -> list[Finding]:
    out: list[Finding] = []
    if not cfg.slots:
        return [Finding("warning", display_path(cfg.path), _("no [[slots]] are defined: nothing will be aired", lang))]
    tz = ZoneInfo(cfg.timezone)
    today = now.astimezone(tz).date()
    for slot in cfg.slots:
        if slot.end and slot.end < today:
            out.append(Finding("warning", cfg.where("slots", slot.index, "end"),
                               _('the slot for "{bulletin}" ended on {end}: it will not play again (change end or remove the slot)',
                                 lang, bulletin=slot.bulletin, end=day(slot.end, lang))))
    lengths = durations(cfg)
    window = airings(cfg, now, now + OVERLAP_WINDOW, include_suppressed=True, lengths=lengths)
    seen: set[tuple] = set()
    for c in cfg.changes:   # a change must name an airing the schedule has (a typo would change nothing)
        at = c.at.replace(tzinfo=tz)
        found = airings(cfg, at, at + timedelta(seconds=1), include_suppressed=True, lengths=lengths, moves=False)
        if not any(a.bulletin == c.bulletin for a in found):
            out.append(Finding("warning", cfg.where("changes", c.index), _(
                'no airing of "{bulletin}" is planned at {time}: this change changes nothing (check its at)', lang,
                bulletin=c.bulletin, time=when(at, lang))))
    for a in window:
        if a.suppressed and a.held is None and (a.slot, a.zone) not in seen:
            seen.add((a.slot, a.zone))
            q = cfg.zones[a.zone].quiet
            out.append(Finding("warning", cfg.where("slots", a.slot), _(
                'zone {zone}: "{bulletin}" at {time} falls in the quiet hours {quiet} and will not play '
                '(move it, or make it urgent)', lang, zone=a.zone, bulletin=a.bulletin, time=a.time.strftime("%H:%M"),
                quiet=f"{q[0]:%H:%M}-{q[1]:%H:%M}" if q else "")))
    playing: dict[str, tuple] = {}
    for a in (x for x in window if not x.suppressed):
        prev = playing.get(a.zone)
        if prev:
            p, p_end = prev
            if a.time < p_end and (p.slot, a.slot, a.zone) not in seen:
                seen.add((p.slot, a.slot, a.zone))
                length = length_of(p, lengths) or 0.0
                out.append(Finding("warning", cfg.where("slots", p.slot), _(
                    'zone {zone}: "{first}" and "{second}" (line {other}) overlap on {when}: '
                    '"{first}" lasts {duration}; move one of them', lang, zone=a.zone, first=p.bulletin, second=a.bulletin,
                    other=cfg.where("slots", a.slot).rsplit(":", 1)[-1],
                    when=when(a.time, lang),
                    duration=f"{int(length // 60)}:{int(length % 60):02d}" if length else "?")))
        end = a.time + timedelta(seconds=length_of(a, lengths) or 0.0)
        if not prev or end >= prev[1]:
            playing[a.zone] = (a, max(end, a.time + timedelta(microseconds=1)))
    return out


def _dedupe(findings: list[Finding]) -> list[Finding]:
    return list(dict.fromkeys(findings))
